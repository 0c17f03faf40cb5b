//! An exact, much cheaper evaluation of the bin-restricted STFT when the window length L is a
//! multiple of the hop (scales c1..c7 at hop 64).
//!
//! A periodic Hann of length L = n_fft/4, written around the frame centre (m' = m − L/2), is
//! 0.5 + 0.25·e^{+2πi·4m'/n_fft} + 0.25·e^{−2πi·4m'/n_fft}, so the windowed DFT at bin f is
//! 0.5·R(f) + 0.25·R(f − 4) + 0.25·R(f + 4), with R the *unwindowed* DFT over the L samples.
//! An unwindowed DFT over hop-aligned frames is a sum of per-hop-block partial DFTs: one small
//! gemm (blocks × hop) · (hop × ~60 frequencies) and running sums, instead of a
//! (frames × L) · (L × ~100) gemm. Work drops from O(frames·L·F) to O(N·G): ~50x at c1.
//! The block gemm runs in the signal's dtype (f32 for training: half the cost); prefix sums,
//! phases and everything after them are f64, as f32 running sums would lose digits.

use crate::model::ops::kernel::{gemm, Float, Mat};

/// Precomputed constants of one scale.
#[derive(Debug)]
pub(crate) struct HannBlocks {
    n_fft: usize,
    hop: usize,
    window_len: usize,
    /// L / hop: blocks per frame.
    blocks_per_frame: usize,
    /// Distinct frequencies g (FFT bin units; may be negative) the used bins need.
    freqs: Vec<i64>,
    /// For each used bin: (index into `freqs`, weight) of its three Hann terms.
    taps: Vec<[(usize, f64); 3]>,
    /// hop × 2G row-major: cos(2π g u / n_fft) | −sin(2π g u / n_fft).
    block_kernel: Vec<f64>,
    block_kernel32: Vec<f32>,
    /// e^{−2πi k / n_fft}, k = 0..n_fft.
    twiddle: Vec<(f64, f64)>,
}

impl HannBlocks {
    /// None when the window is not a whole number of hops (c8 at hop 64: L = 32).
    pub(super) fn new(n_fft: usize, hop: usize, window_len: usize, bins: &[usize]) -> Option<Self> {
        if window_len < hop || !window_len.is_multiple_of(hop) || window_len * 4 != n_fft {
            return None;
        }
        let mut freqs: Vec<i64> = bins
            .iter()
            .flat_map(|&b| [b as i64 - 4, b as i64, b as i64 + 4])
            .collect();
        freqs.sort_unstable();
        freqs.dedup();
        let index = |g: i64| freqs.binary_search(&g).unwrap_or_default();
        let taps = bins
            .iter()
            .map(|&b| {
                let b = b as i64;
                [(index(b - 4), 0.25), (index(b), 0.5), (index(b + 4), 0.25)]
            })
            .collect();
        let tau = 2.0 * std::f64::consts::PI / n_fft as f64;
        let g_count = freqs.len();
        let mut block_kernel = vec![0.0; hop * 2 * g_count];
        for u in 0..hop {
            for (i, &g) in freqs.iter().enumerate() {
                let phase = tau * (g * u as i64) as f64;
                block_kernel[u * 2 * g_count + i] = phase.cos();
                block_kernel[u * 2 * g_count + g_count + i] = -phase.sin();
            }
        }
        let twiddle = (0..n_fft)
            .map(|k| {
                let phase = tau * k as f64;
                (phase.cos(), -phase.sin())
            })
            .collect();
        Some(HannBlocks {
            n_fft,
            hop,
            window_len,
            blocks_per_frame: window_len / hop,
            freqs,
            taps,
            block_kernel32: block_kernel.iter().map(|&v| v as f32).collect(),
            block_kernel,
            twiddle,
        })
    }

    /// Twiddle indices of g·(start + i·stride) mod n_fft for every frequency g, stepped without
    /// divisions.
    fn phase_walk(&self, start: usize, stride: usize) -> PhaseWalk {
        let n = self.n_fft as i64;
        PhaseWalk {
            index: self
                .freqs
                .iter()
                .map(|&g| (g * start as i64).rem_euclid(n) as usize)
                .collect(),
            step: self
                .freqs
                .iter()
                .map(|&g| (g * stride as i64).rem_euclid(n) as usize)
                .collect(),
            n_fft: self.n_fft,
        }
    }

    fn n_blocks(&self, frames: usize) -> usize {
        frames + self.blocks_per_frame - 1
    }

    /// `padded` (N + L reflect-padded samples) -> `out` (frames × 2F: Re | Im).
    pub(super) fn forward<E: Float>(&self, padded: &[E], frames: usize, out: &mut [f64]) {
        let g_count = self.freqs.len();
        let n_blocks = self.n_blocks(frames);
        // Per-block DFTs relative to each block's start.
        let mut partial = vec![E::zero(); n_blocks * 2 * g_count];
        // SAFETY: padded holds ≥ n_blocks·hop samples ((frames − 1)·hop + L ≤ N + L), read as
        // n_blocks × hop; block_kernel is hop × 2G; partial is n_blocks × 2G.
        unsafe {
            gemm(
                (n_blocks, 2 * g_count, self.hop),
                Mat::new(partial.as_mut_ptr(), 2 * g_count, 1),
                false,
                Mat::new(padded.as_ptr(), self.hop, 1),
                Mat::new(
                    E::of_precision(&self.block_kernel32, &self.block_kernel).as_ptr(),
                    2 * g_count,
                    1,
                ),
            );
        }
        // Absolute-phase prefix sums over blocks.
        let mut prefix = vec![(0.0, 0.0); (n_blocks + 1) * g_count];
        let mut walk = self.phase_walk(0, self.hop);
        for b in 0..n_blocks {
            for i in 0..g_count {
                let (pr, pi) = (
                    partial[b * 2 * g_count + i].to_f64(),
                    partial[b * 2 * g_count + g_count + i].to_f64(),
                );
                let (c, s) = self.twiddle[walk.index[i]];
                let prev = prefix[b * g_count + i];
                prefix[(b + 1) * g_count + i] =
                    (prev.0 + c * pr - s * pi, prev.1 + c * pi + s * pr);
            }
            walk.advance();
        }
        let f_count = self.taps.len();
        let mut frame_dft = vec![(0.0, 0.0); g_count];
        let mut walk = self.phase_walk(self.window_len / 2, self.hop);
        for t in 0..frames {
            for i in 0..g_count {
                let hi = prefix[(t + self.blocks_per_frame) * g_count + i];
                let lo = prefix[t * g_count + i];
                let (sr, si) = (hi.0 - lo.0, hi.1 - lo.1);
                // Re-reference the phase to the frame centre: multiply by e^{+2πi g centre/n}.
                let (c, s) = self.twiddle[walk.index[i]];
                frame_dft[i] = (c * sr + s * si, c * si - s * sr);
            }
            walk.advance();
            let row = &mut out[t * 2 * f_count..(t + 1) * 2 * f_count];
            for (j, taps) in self.taps.iter().enumerate() {
                let (mut re, mut im) = (0.0, 0.0);
                for &(i, w) in taps {
                    re += w * frame_dft[i].0;
                    im += w * frame_dft[i].1;
                }
                row[j] = re;
                row[f_count + j] = im;
            }
        }
    }

    /// The transpose of [`Self::forward`]: `grad` (frames × 2F) -> `dpadded` (N + L), added.
    pub(super) fn adjoint<E: Float>(&self, grad: &[f64], frames: usize, dpadded: &mut [E]) {
        let g_count = self.freqs.len();
        let f_count = self.taps.len();
        let n_blocks = self.n_blocks(frames);
        // Frame-level gradients per frequency, phase undone, accumulated as prefix sums over t.
        let mut prefix = vec![(0.0, 0.0); (frames + 1) * g_count];
        let mut frame_grad = vec![(0.0, 0.0); g_count];
        let mut walk = self.phase_walk(self.window_len / 2, self.hop);
        for t in 0..frames {
            frame_grad.fill((0.0, 0.0));
            let row = &grad[t * 2 * f_count..(t + 1) * 2 * f_count];
            for (j, taps) in self.taps.iter().enumerate() {
                for &(i, w) in taps {
                    frame_grad[i].0 += w * row[j];
                    frame_grad[i].1 += w * row[f_count + j];
                }
            }
            for i in 0..g_count {
                // conj(e^{+2πi g centre/n}) = e^{−2πi g centre/n}.
                let (c, s) = self.twiddle[walk.index[i]];
                let (dr, di) = frame_grad[i];
                let prev = prefix[t * g_count + i];
                prefix[(t + 1) * g_count + i] =
                    (prev.0 + c * dr - s * di, prev.1 + c * di + s * dr);
            }
            walk.advance();
        }
        let mut partial = vec![E::zero(); n_blocks * 2 * g_count];
        let mut walk = self.phase_walk(0, self.hop);
        for b in 0..n_blocks {
            let lo = (b + 1).saturating_sub(self.blocks_per_frame);
            let hi = b.min(frames - 1) + 1;
            for i in 0..g_count {
                let (hr, hi_) = prefix[hi * g_count + i];
                let (lr, li) = prefix[lo * g_count + i];
                let (pr, pi) = (hr - lr, hi_ - li);
                // conj(e^{−2πi g b·hop/n}).
                let (c, s) = self.twiddle[walk.index[i]];
                partial[b * 2 * g_count + i] = E::from_f64(c * pr + s * pi);
                partial[b * 2 * g_count + g_count + i] = E::from_f64(c * pi - s * pr);
            }
            walk.advance();
        }
        // SAFETY: partial is n_blocks × 2G, block_kernel read transposed is 2G × hop, dpadded holds
        // at least n_blocks·hop samples.
        unsafe {
            gemm(
                (n_blocks, self.hop, 2 * g_count),
                Mat::new(dpadded.as_mut_ptr(), self.hop, 1),
                true,
                Mat::new(partial.as_ptr(), 2 * g_count, 1),
                Mat::new(
                    E::of_precision(&self.block_kernel32, &self.block_kernel).as_ptr(),
                    1,
                    2 * g_count,
                ),
            );
        }
    }
}

struct PhaseWalk {
    index: Vec<usize>,
    step: Vec<usize>,
    n_fft: usize,
}

impl PhaseWalk {
    fn advance(&mut self) {
        for (i, s) in self.index.iter_mut().zip(&self.step) {
            *i += s;
            if *i >= self.n_fft {
                *i -= self.n_fft;
            }
        }
    }
}
