#!/usr/bin/env python3
"""Independent numpy reference for drummernet's HPSS loss front end (spec section 7.3).

Written from the formulas, the straightforward way (explicitly framed, reflect-padded signal;
np.fft.rfft with no window; np.pad of the power spectrogram and np.median over sliding windows;
np.fft.irfft, Hann, overlap-add), deliberately unlike the Rust implementation (running medians
over a sorted window, realfft). Everything is computed in float64.

Writes, next to this script:
  hpss_fixture.json  header: signal length, frames, the loss with the front end on, layout
  hpss_fixture.bin   little-endian float32: the input signals, then their percussive parts

Usage: python3 tests/reference/hpss_reference.py   (numpy only)
"""
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cqt_reference import FMINS, cqt_basis, periodic_hann, pseudo_cqt  # noqa: E402

SR = 16000
N_FFT = 1024
HOP = 256
KERNEL = 31
EPS = 1e-5
N = 5000  # 20 STFT frames (at least 16 are needed); not a multiple of the hop


def percussive(y):
    """The percussive part of one signal y (len N)."""
    n = len(y)
    padded = np.pad(y, N_FFT // 2, mode="reflect")
    n_frames = 1 + n // HOP
    frames = np.stack([padded[t * HOP: t * HOP + N_FFT] for t in range(n_frames)])
    spec = np.fft.rfft(frames, axis=1)  # rectangular window; (frames, 513)
    power = np.abs(spec) ** 2
    half = KERNEL // 2
    power_padded = np.pad(power, half, mode="reflect")  # both axes
    windows = np.lib.stride_tricks.sliding_window_view(power_padded, (KERNEL, KERNEL))
    # windows[t, f] covers padded frames t..t+30 and bins f..f+30; the centre is (t+15, f+15)
    enhanced_p = np.median(windows[:, :, half, :], axis=-1) ** 2  # over bins, centre frame
    enhanced_h = np.median(windows[:, :, :, half], axis=-1) ** 2  # over frames, centre bin
    mask = (enhanced_p + EPS) / (enhanced_h + enhanced_p + EPS)
    frames_out = np.fft.irfft(spec * mask, n=N_FFT, axis=1) * periodic_hann(N_FFT)
    out = np.zeros((n_frames - 1) * HOP + N_FFT)
    for t in range(n_frames):
        out[t * HOP: t * HOP + N_FFT] += frames_out[t]
    return out[N_FFT // 2: N_FFT // 2 + n] / (N_FFT / HOP / 2)


def signals():
    n = np.arange(N, dtype=np.float64)
    t = n / SR
    noise = np.modf(np.sin(n * 12.9898 + 78.233) * 43758.5453)[0]
    # 1. clicks (decaying noise bursts at 600 and 3 100) over a steady 440 Hz sine
    age = (n + 1900) % 2500
    sig1 = 0.8 * noise * np.exp(-age / 40.0) + 0.3 * np.sin(2 * np.pi * 440.0 * t)
    # 2. decaying 180 Hz + 3.1 kHz bursts every 1 111 samples, a little noise
    sig2 = 0.02 * noise
    for start in range(200, N, 1111):
        m = np.arange(N - start)
        sig2[start:] += np.exp(-m / 300.0) * (0.8 * np.sin(2 * np.pi * 180 * m / SR)
                                              + 0.3 * np.sin(2 * np.pi * 3100 * m / SR))
    # 3. exponential chirp 60 Hz -> 6 kHz plus steady tones with slow AM
    k = np.log(6000.0 / 60.0) / t[-1]
    sig3 = (0.4 * np.sin(2 * np.pi * 60.0 * (np.exp(k * t) - 1.0) / k)
            + (0.3 * np.sin(2 * np.pi * 523.25 * t) + 0.2 * np.sin(2 * np.pi * 2500.0 * t + 1.1))
            * (0.75 + 0.25 * np.sin(2 * np.pi * 3 * t)))
    return [s.astype(np.float32) for s in (sig1, sig2, sig3)]


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    sigs = signals()
    percs = [percussive(s.astype(np.float64)) for s in sigs]
    bases = [cqt_basis(f) for f in FMINS]
    cqts = [[pseudo_cqt(p, n_fft, b) for (n_fft, b) in bases] for p in percs]
    # loss (hpss on) of the batch target = (s1, s2, s3) against estimate = (s2, s3, s1)
    per_scale = []
    for si in range(len(FMINS)):
        diffs = [np.abs(cqts[b][si] - cqts[(b + 1) % 3][si]) for b in range(3)]
        per_scale.append(4.0 * float(np.mean(np.stack(diffs))))
    kept = [float(np.sum(p ** 2) / np.sum(s.astype(np.float64) ** 2)) for s, p in zip(sigs, percs)]
    header = {
        "generator": "tests/reference/hpss_reference.py (numpy %s)" % np.__version__,
        "sample_rate": SR, "n_fft": N_FFT, "hop": HOP, "kernel": KERNEL, "eps": EPS,
        "n_signals": len(sigs), "n_samples": N, "n_frames": 1 + N // HOP,
        "layout": "f32 LE: signals [n_signals][n_samples]; percussive [n_signals][n_samples]",
        "energy_kept": kept,
        "loss_pairs": "target (s1,s2,s3) vs estimate (s2,s3,s1), hpss on, default loss settings",
        "loss_per_scale": per_scale,
        "loss_total": float(sum(per_scale)),
    }
    with open(os.path.join(here, "hpss_fixture.bin"), "wb") as f:
        f.write(np.concatenate(sigs + percs).astype("<f4").tobytes())
    with open(os.path.join(here, "hpss_fixture.json"), "w") as f:
        json.dump(header, f, indent=1)
        f.write("\n")
    print("energy kept", kept)
    print("loss", header["loss_total"], per_scale)


if __name__ == "__main__":
    main()
