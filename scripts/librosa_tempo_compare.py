#!/usr/bin/env python3
"""Scores librosa.beat.beat_track on the grooves tempo_eval wrote, beside drummernet's tempo.

    cargo run --release --example tempo_eval -- --from model --seed 0 --count 40 --write DIR
    python3 scripts/librosa_tempo_compare.py DIR

Reads every DIR/item_NNN.wav with its item_NNN.json (true tempo and beats, and drummernet's
estimate), runs librosa's beat tracker with its defaults on the audio, and prints, for both,
the share of tempi within 4 % (half and double apart), and the mean beat F-measure with
mir_eval's 70 ms window and no trimming (the rule tempo_eval uses; mir_eval's greedy matching
is exact for beats more than 140 ms apart). Needs librosa (pip install librosa).
"""

import json
import sys
from pathlib import Path

import librosa
import numpy as np

WINDOW = 0.07
TOLERANCE = 0.04


def f_measure(reference, estimated, window=WINDOW):
    """mir_eval's beat F-measure without trimming (same matching as src/eval/beats.rs)."""
    r, e = sorted(reference), sorted(estimated)
    if not r or not e:
        return 0.0
    i = j = hits = 0
    while i < len(r) and j < len(e):
        d = e[j] - r[i]
        if abs(d) <= window:
            hits, i, j = hits + 1, i + 1, j + 1
        elif d < 0:
            j += 1
        else:
            i += 1
    p, rc = hits / len(e), hits / len(r)
    return 0.0 if p + rc == 0 else 2 * p * rc / (p + rc)


def verdict(estimated, reference):
    def near(ratio):
        return abs(estimated / (reference * ratio) - 1) <= TOLERANCE

    if near(1):
        return "correct"
    if near(2):
        return "double"
    if near(0.5):
        return "half"
    if near(1.5) or near(2 / 3):
        return "triple"
    return "other"


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    folder = Path(sys.argv[1])
    items = sorted(folder.glob("item_*.json"))
    if not items:
        sys.exit(f"no item_*.json in {folder}: run tempo_eval with --write {folder}")
    counts = {
        "librosa": dict.fromkeys(["correct", "double", "half", "triple", "other"], 0),
        "drummernet": dict.fromkeys(["correct", "double", "half", "triple", "other"], 0),
    }
    beat_f = {"librosa": [], "drummernet": []}
    print("item style        true_bpm  librosa  beat_F | ours     beat_F")
    for path in items:
        truth = json.loads(path.read_text())
        y, sr = librosa.load(path.with_suffix(".wav"), sr=None, mono=True)
        tempo, frames = librosa.beat.beat_track(y=y, sr=sr)
        bpm = float(np.atleast_1d(tempo)[0])
        beats = librosa.frames_to_time(frames, sr=sr).tolist()
        ours_bpm = truth["estimated_bpm"]
        for name, est, est_beats in [
            ("librosa", bpm, beats),
            ("drummernet", ours_bpm, truth["estimated_beats"]),
        ]:
            counts[name][verdict(est, truth["bpm"])] += 1
            beat_f[name].append(f_measure(truth["beats"], est_beats))
        print(
            f"{path.stem[5:]:>4} {truth['style']:<12} {truth['bpm']:8.2f} {bpm:8.2f} "
            f"{beat_f['librosa'][-1]:6.3f} | {ours_bpm:8.2f} {beat_f['drummernet'][-1]:6.3f}"
        )
    n = len(items)
    for name in ["librosa", "drummernet"]:
        c = counts[name]
        print(
            f"{name}: tempo within 4 %: {c['correct']}/{n}; double {c['double']}, "
            f"half {c['half']}, triple {c['triple']}, other {c['other']}; "
            f"mean beat F-measure {np.mean(beat_f[name]):.3f}"
        )


if __name__ == "__main__":
    main()
