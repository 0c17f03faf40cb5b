#!/usr/bin/env python3
"""Independent numpy reference for drummernet's multi-resolution pseudo-CQT (spec section 7.2).

Written from the formulas, the straightforward way (full complex FFT of the padded filters, a full
one-sided STFT with np.fft.rfft on explicitly framed, reflect-padded signals, dense projection),
deliberately unlike the Rust implementation (bin-restricted direct DFT on the n_fft/4 non-zero
window samples). Everything is computed in float64.

Writes, next to this script:
  cqt_fixture.json  header: signal length, frames, scales (fmin, n_fft, nnz), losses, layout
  cqt_fixture.bin   little-endian float32: the input signals, then C_s for every signal and
                    scale, then every basis row as (bin, weight) pairs (bin stored as float32)

Usage: python3 tests/reference/cqt_reference.py   (numpy only)
"""
import json
import os

import numpy as np

SR = 16000
HOP = 64
BINS = 12
BINS_PER_OCTAVE = 12
EPS = 1e-5
SPARSITY = 0.01
C1 = 32.703195662574829
N = 8960  # > 8192 so that the c1 reflect padding (n_fft/2) is legal, as in torch
FMINS = [C1 * 2.0 ** i for i in range(7)] + [4000.0]


def periodic_hann(n):
    return 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(n) / n)


def cqt_basis(fmin):
    """librosa 0.6 __cqt_filter_fft followed by DrummerNet's element-wise magnitude."""
    q = 1.0 / (2.0 ** (1.0 / BINS_PER_OCTAVE) - 1.0)
    freqs = fmin * 2.0 ** (np.arange(BINS) / BINS_PER_OCTAVE)
    lengths = q * SR / freqs
    filters = []
    for length in lengths:
        freq = q * SR / length
        t = np.arange(np.floor(-length / 2.0), np.floor(length / 2.0))
        sig = np.exp(2j * np.pi * freq * t / SR) * periodic_hann(len(t))
        filters.append(sig / np.sum(np.abs(sig)))
    size = int(2.0 ** np.ceil(np.log2(lengths.max())))
    padded = np.zeros((BINS, size), dtype=complex)
    for k, sig in enumerate(filters):
        left = (size - len(sig)) // 2
        padded[k, left:left + len(sig)] = sig
    n_fft = max(size, int(2.0 ** (1 + np.ceil(np.log2(HOP)))))
    padded *= lengths[:, None] / float(n_fft)
    spectrum = np.fft.fft(padded, n=n_fft, axis=1)[:, : n_fft // 2 + 1]
    mags = np.abs(spectrum)
    kept = np.zeros_like(mags)
    for k in range(BINS):
        ordered = np.sort(mags[k])
        cumulative = np.cumsum(ordered / mags[k].sum())
        threshold = ordered[np.argmin(cumulative < SPARSITY)]
        keep = mags[k] >= threshold
        kept[k, keep] = mags[k, keep]
    # DrummerNet stores |basis| as complex64 -> float32
    return n_fft, kept.astype(np.float32).astype(np.float64)


def pseudo_cqt(y, n_fft, basis):
    """C_s(y) for one signal y: (BINS, 1 + len(y) // HOP)."""
    quarter = n_fft // 4
    window = np.zeros(n_fft)
    window[n_fft // 2 - n_fft // 8: n_fft // 2 + n_fft // 8] = periodic_hann(quarter)
    padded = np.pad(y, n_fft // 2, mode="reflect")
    n_frames = 1 + len(y) // HOP
    frames = np.stack([padded[t * HOP: t * HOP + n_fft] for t in range(n_frames)])
    spec = np.fft.rfft(frames * window, axis=1)  # (frames, n_fft/2 + 1)
    mag = np.sqrt(spec.real ** 2 + spec.imag ** 2 + EPS)
    cq = basis @ mag.T / np.sqrt(n_fft)
    return np.log10(cq + EPS) - np.log10(EPS)


def signals():
    n = np.arange(N, dtype=np.float64)
    t = n / SR
    # 1. exponential chirp 40 Hz -> 7 kHz plus deterministic hash noise
    f0, f1 = 40.0, 7000.0
    k = np.log(f1 / f0) / t[-1]
    chirp = 0.5 * np.sin(2 * np.pi * f0 * (np.exp(k * t) - 1.0) / k)
    noise = np.modf(np.sin(n * 12.9898 + 78.233) * 43758.5453)[0]
    sig1 = chirp + 0.05 * noise
    # 2. click train: decaying 180 Hz + 3.1 kHz bursts every 1 111 samples
    sig2 = np.zeros(N)
    for start in range(200, N, 1111):
        m = np.arange(N - start)
        burst = np.exp(-m / 300.0) * (0.8 * np.sin(2 * np.pi * 180 * m / SR)
                                      + 0.3 * np.sin(2 * np.pi * 3100 * m / SR))
        sig2[start:] += burst
    # 3. steady tones at bin centres of several scales plus a slow AM
    sig3 = (0.4 * np.sin(2 * np.pi * C1 * 2 ** (5 / 12) * t)
            + 0.3 * np.sin(2 * np.pi * 440.0 * t + 0.3)
            + 0.2 * np.sin(2 * np.pi * 5000.0 * t + 1.1)) * (0.75 + 0.25 * np.sin(2 * np.pi * 3 * t))
    return [s.astype(np.float32) for s in (sig1, sig2, sig3)]


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    sigs = signals()
    bases = [cqt_basis(f) for f in FMINS]
    cqts = [[pseudo_cqt(s.astype(np.float64), n_fft, b) for (n_fft, b) in bases] for s in sigs]
    # loss of the batch target = (s1, s2, s3) against estimate = (s2, s3, s1)
    per_scale = []
    for si in range(len(FMINS)):
        diffs = [np.abs(cqts[b][si] - cqts[(b + 1) % 3][si]) for b in range(3)]
        per_scale.append(4.0 * float(np.mean(np.stack(diffs))))
    blob = [s for s in sigs]
    blob += [c.astype(np.float32).ravel() for per in cqts for c in per]
    rows = []
    for _, b in bases:
        for k in range(BINS):
            idx = np.nonzero(b[k])[0]
            rows.append({"start": sum(len(r) for r in blob), "nnz": int(len(idx))})
            blob.append(np.stack([idx.astype(np.float32), b[k, idx].astype(np.float32)], 1).ravel())
    header = {
        "generator": "tests/reference/cqt_reference.py (numpy %s)" % np.__version__,
        "sample_rate": SR, "hop": HOP, "bins": BINS, "eps": EPS,
        "n_signals": len(sigs), "n_samples": N, "n_frames": 1 + N // HOP,
        "scales": [{"fmin": f, "n_fft": n_fft, "nnz": int(np.count_nonzero(b))}
                   for f, (n_fft, b) in zip(FMINS, bases)],
        "layout": "f32 LE: signals [n_signals][n_samples]; cqt [n_signals][scale][bins][n_frames]; "
                  "basis rows [scale][bin] as (bin, weight) pairs at basis_rows[i].start floats",
        "basis_rows": rows,
        "loss_pairs": "target (s1,s2,s3) vs estimate (s2,s3,s1)",
        "loss_per_scale": per_scale,
        "loss_total": float(sum(per_scale)),
    }
    with open(os.path.join(here, "cqt_fixture.bin"), "wb") as f:
        f.write(np.concatenate(blob).astype("<f4").tobytes())
    with open(os.path.join(here, "cqt_fixture.json"), "w") as f:
        json.dump(header, f, indent=1)
        f.write("\n")
    print("nnz", [s["nnz"] for s in header["scales"]], "n_fft", [s["n_fft"] for s in header["scales"]])
    print("loss", header["loss_total"], per_scale)


if __name__ == "__main__":
    main()
