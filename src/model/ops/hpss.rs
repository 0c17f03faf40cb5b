//! The onset-enhancement front end of the loss (spec section 7.3, the release's `hpss.py`): the
//! percussive part of a signal by median-filtering harmonic/percussive source separation.
//!
//! For y (N samples):
//! 1. X = STFT(y): n_fft 1024, hop 256, centre reflect padding of 512, **rectangular** window,
//!    one-sided (513 bins), frames T = 1 + N/256;
//! 2. P = |X|²;
//! 3. with P reflect-padded by 15 on both axes, E_p = (median of 31 neighbouring bins)² per frame
//!    and E_h = (median of 31 neighbouring frames)² per bin;
//! 4. M_p = (E_p + 1e-5) / (E_h + E_p + 1e-5), Y = M_p · X;
//! 5. per frame irfft(Y_t) × periodic Hann(1024), overlap-added at hop 256; the first 512 samples
//!    dropped, divided by 2 (the Hann windows at hop n/4 sum to 2), cut to N.
//!
//! With M_p = 1 step 5 returns y except in the first 256 and the last 256 + N mod 256 samples,
//! where fewer than four frames overlap and the release does not normalise by the window sum;
//! that is kept.
//!
//! Differentiable: a median passes its gradient to the one element it selected, and the mask's
//! gradient flows through E_p and E_h into P. On CPU [`Hpss`] is a custom op in f64 (f32 or f64
//! tensors); its backward takes the forward's analysis (STFT, running medians with the selected
//! indices; kept only for tracked inputs) and applies the transposes: rfft of the output gradient
//! for the synthesis, the mask derivative scattered to the selected elements, an unnormalised
//! irfft for the analysis, the reflection folded back. Other devices compose the same maths from candle ops
//! ([`ComposedHpss`]: framing by index_select, DFT as a matmul, arg-sort medians, overlap-add by shifted
//! sums), whose gradients candle derives.
//!
//! Cost (`cargo bench --bench speed -- loss_hpss`, release, batch 16 of 24 608 samples, shared
//! 2-core machine, CPU seconds): the whole loss forward + backward takes 0.36 s without and
//! 0.63-0.65 s with the front end (two analyses and syntheses, one gradient); per item an analysis
//! is ~7.7 ms, almost all of it the two running medians, a synthesis ~0.2 ms, the gradient given
//! the kept analysis ~1 ms. Peak RSS 88 -> 120 MB.

use std::sync::{Arc, Mutex};

use super::kernel::{from_f64s, same_shape, to_f64s, Float, Map1, Map2, OpResult};
use candle_core::{Layout, Shape, Tensor};
use rayon::prelude::*;
use realfft::num_complex::Complex;
use realfft::{ComplexToReal, RealFftPlanner, RealToComplex};

use crate::dsp::cqt_basis::periodic_hann;
use crate::error::{Error, Result};
use crate::model::ops::cqt_stft::reflect;

mod composed;
mod median;
pub use composed::ComposedHpss;
use median::reflected_running_median;

/// STFT length.
pub const N_FFT: usize = 1024;
/// STFT hop.
pub const HOP: usize = 256;
/// One-sided bins, N_FFT/2 + 1.
pub const BINS: usize = N_FFT / 2 + 1;
/// Median half-width: 31 = 2·15 + 1 bins or frames.
pub const HALF_KERNEL: usize = 15;
/// Floor in the soft mask's numerator and denominator (the release's EPS).
pub const MASK_EPS: f64 = 1e-5;

type C64 = Complex<f64>;

/// Frames of the STFT for N samples.
pub fn n_frames(n_samples: usize) -> usize {
    1 + n_samples / HOP
}

/// Shortest signal: the frame axis must be longer than its reflect padding of 15 (torch refuses
/// otherwise), i.e. at least 16 frames; that also covers the STFT's reflection (N > 512).
pub const MIN_SAMPLES: usize = HALF_KERNEL * HOP;

/// (B, N) of a legal input, or an error saying what is wrong with it.
pub fn check(y: &Tensor) -> Result<(usize, usize)> {
    let (batch, n) = y.dims2()?;
    if n < MIN_SAMPLES {
        return Err(Error::Invalid(format!(
            "HPSS loss front end: a signal of {n} samples is too short (needs at least \
             {MIN_SAMPLES})"
        )));
    }
    Ok((batch, n))
}

/// The percussive part of y (B, N) -> (B, N), as a CPU custom op.
#[derive(Clone)]
pub struct Hpss {
    forward_fft: Arc<dyn RealToComplex<f64>>,
    inverse_fft: Arc<dyn ComplexToReal<f64>>,
    hann: Arc<Vec<f64>>,
}

impl std::fmt::Debug for Hpss {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hpss").finish_non_exhaustive()
    }
}

impl Default for Hpss {
    fn default() -> Self {
        Self::new()
    }
}

/// What the analysis computes for one signal, all frame-major (T × 513).
struct SpectrumMasks {
    frames: usize,
    spectrum: Vec<C64>,
    /// Median over bins (unsquared) and the bin it was read from.
    percussive: Vec<f64>,
    percussive_source: Vec<u32>,
    /// Median over frames (unsquared) and the frame it was read from.
    harmonic: Vec<f64>,
    harmonic_source: Vec<u32>,
    mask: Vec<f64>,
}

impl Hpss {
    pub fn new() -> Self {
        let mut planner = RealFftPlanner::<f64>::new();
        Hpss {
            forward_fft: planner.plan_fft_forward(N_FFT),
            inverse_fft: planner.plan_fft_inverse(N_FFT),
            hann: Arc::new(periodic_hann(N_FFT)),
        }
    }

    /// The op on CPU tensors (f32 or f64).
    pub fn forward(&self, y: &Tensor) -> Result<Tensor> {
        check(y)?;
        if !y.device().is_cpu() {
            return Err(Error::Invalid(
                "the HPSS custom op is CPU-only; use ComposedHpss on other devices".into(),
            ));
        }
        // Only a tracked input will see a backward pass; only then keep the analysis for it.
        let kept = y.track_op().then(|| Arc::new(Mutex::new(None)));
        let op = HpssOp {
            hpss: self.clone(),
            kept,
        };
        Ok(op.apply(y)?)
    }

    fn analyse(&self, y: &[f64]) -> SpectrumMasks {
        let n = y.len();
        let frames = n_frames(n);
        let mut spectrum = vec![C64::default(); frames * BINS];
        let mut buf = vec![0.0; N_FFT];
        let mut scratch = self.forward_fft.make_scratch_vec();
        for (t, row) in spectrum.chunks_mut(BINS).enumerate() {
            for (m, b) in buf.iter_mut().enumerate() {
                *b = y[reflect((t * HOP + m) as isize - (N_FFT / 2) as isize, n)];
            }
            // Lengths match the plan by construction: cannot fail.
            let _ = self
                .forward_fft
                .process_with_scratch(&mut buf, row, &mut scratch);
        }
        let power: Vec<f64> = spectrum.iter().map(|x| x.norm_sqr()).collect();

        let mut percussive = vec![0.0; frames * BINS];
        let mut percussive_source = vec![0u32; frames * BINS];
        for ((p, m), s) in power
            .chunks(BINS)
            .zip(percussive.chunks_mut(BINS))
            .zip(percussive_source.chunks_mut(BINS))
        {
            reflected_running_median(p, HALF_KERNEL, m, s);
        }
        let mut harmonic = vec![0.0; frames * BINS];
        let mut harmonic_source = vec![0u32; frames * BINS];
        let (mut column, mut median, mut source) =
            (vec![0.0; frames], vec![0.0; frames], vec![0u32; frames]);
        for f in 0..BINS {
            for (t, c) in column.iter_mut().enumerate() {
                *c = power[t * BINS + f];
            }
            reflected_running_median(&column, HALF_KERNEL, &mut median, &mut source);
            for t in 0..frames {
                harmonic[t * BINS + f] = median[t];
                harmonic_source[t * BINS + f] = source[t];
            }
        }
        let mask = percussive
            .iter()
            .zip(&harmonic)
            .map(|(&p, &h)| {
                let (ep, eh) = (p * p, h * h);
                (ep + MASK_EPS) / (eh + ep + MASK_EPS)
            })
            .collect();
        SpectrumMasks {
            frames,
            spectrum,
            percussive,
            percussive_source,
            harmonic,
            harmonic_source,
            mask,
        }
    }

    /// One signal: y (N) -> its percussive part (N).
    #[cfg(test)]
    fn percussive_part(&self, y: &[f64]) -> Vec<f64> {
        let a = self.analyse(y);
        self.synthesise(&a.spectrum, &a.mask, y.len())
    }

    /// Step 5: masked spectrum (T × 513) -> N samples.
    fn synthesise(&self, spectrum: &[C64], mask: &[f64], n: usize) -> Vec<f64> {
        let frames = spectrum.len() / BINS;
        let mut overlap_add = vec![0.0; (frames - 1) * HOP + N_FFT];
        let mut row = vec![C64::default(); BINS];
        let mut buf = vec![0.0; N_FFT];
        let mut scratch = self.inverse_fft.make_scratch_vec();
        for (t, (x, m)) in spectrum.chunks(BINS).zip(mask.chunks(BINS)).enumerate() {
            for ((r, x), m) in row.iter_mut().zip(x).zip(m) {
                *r = x * *m;
            }
            // irfft ignores the imaginary parts at DC and Nyquist; realfft wants them zero.
            row[0].im = 0.0;
            row[BINS - 1].im = 0.0;
            let _ = self
                .inverse_fft
                .process_with_scratch(&mut row, &mut buf, &mut scratch);
            let out = &mut overlap_add[t * HOP..t * HOP + N_FFT];
            for ((o, b), w) in out.iter_mut().zip(&buf).zip(self.hann.iter()) {
                *o += b * w / N_FFT as f64;
            }
        }
        overlap_add[N_FFT / 2..N_FFT / 2 + n]
            .iter()
            .map(|v| 0.5 * v)
            .collect()
    }

    /// One signal: (y, dL/d output) -> dL/dy, the transpose of every step of the forward.
    #[cfg(test)]
    fn gradient(&self, y: &[f64], grad: &[f64]) -> Vec<f64> {
        self.gradient_with(&self.analyse(y), y.len(), grad)
    }

    /// [`Self::gradient`] given the forward's analysis of y (N samples).
    fn gradient_with(&self, a: &SpectrumMasks, n: usize, grad: &[f64]) -> Vec<f64> {
        let ola_len = (a.frames - 1) * HOP + N_FFT;
        let mut d_overlap_add = vec![0.0; ola_len];
        for (d, g) in d_overlap_add[N_FFT / 2..N_FFT / 2 + n].iter_mut().zip(grad) {
            *d = 0.5 * g;
        }

        // Synthesis: per frame, dL/dY_f = c_f/n · rfft(Hann · frame gradient)_f, c_f = 2 except
        // at DC and Nyquist (irfft counts those bins once).
        let mut d_spectrum = vec![C64::default(); a.frames * BINS];
        let mut d_mask = vec![0.0; a.frames * BINS];
        let mut buf = vec![0.0; N_FFT];
        let mut row = vec![C64::default(); BINS];
        let mut scratch = self.forward_fft.make_scratch_vec();
        for t in 0..a.frames {
            for ((b, d), w) in buf
                .iter_mut()
                .zip(&d_overlap_add[t * HOP..t * HOP + N_FFT])
                .zip(self.hann.iter())
            {
                *b = d * w / N_FFT as f64;
            }
            let _ = self
                .forward_fft
                .process_with_scratch(&mut buf, &mut row, &mut scratch);
            for (f, g) in row.iter_mut().enumerate() {
                if f == 0 || f == BINS - 1 {
                    g.im = 0.0;
                } else {
                    *g *= 2.0;
                }
                let i = t * BINS + f;
                let x = a.spectrum[i];
                d_spectrum[i] = *g * a.mask[i];
                d_mask[i] = g.re * x.re + g.im * x.im;
            }
        }

        // Mask -> squared medians -> the power elements the medians selected.
        let mut d_power = vec![0.0; a.frames * BINS];
        for t in 0..a.frames {
            for f in 0..BINS {
                let i = t * BINS + f;
                let (p, h) = (a.percussive[i], a.harmonic[i]);
                let (ep, eh) = (p * p, h * h);
                let denominator = eh + ep + MASK_EPS;
                let d2 = d_mask[i] / (denominator * denominator);
                let d_ep = d2 * eh;
                let d_eh = -d2 * (ep + MASK_EPS);
                d_power[t * BINS + a.percussive_source[i] as usize] += d_ep * 2.0 * p;
                d_power[a.harmonic_source[i] as usize * BINS + f] += d_eh * 2.0 * h;
            }
        }
        for ((d, x), dp) in d_spectrum.iter_mut().zip(&a.spectrum).zip(&d_power) {
            *d += x * (2.0 * dp);
        }

        // Analysis: the transpose of the rectangular-window rfft is an unnormalised irfft of
        // the gradient with the interior bins halved; then overlap-add and fold the reflection.
        let mut d_padded = vec![0.0; ola_len];
        let mut scratch = self.inverse_fft.make_scratch_vec();
        for t in 0..a.frames {
            row.copy_from_slice(&d_spectrum[t * BINS..(t + 1) * BINS]);
            for g in &mut row[1..BINS - 1] {
                *g *= 0.5;
            }
            row[0].im = 0.0;
            row[BINS - 1].im = 0.0;
            let _ = self
                .inverse_fft
                .process_with_scratch(&mut row, &mut buf, &mut scratch);
            for (d, b) in d_padded[t * HOP..t * HOP + N_FFT].iter_mut().zip(&buf) {
                *d += b;
            }
        }
        let mut dy = vec![0.0; n];
        for (q, d) in d_padded.iter().enumerate() {
            dy[reflect(q as isize - (N_FFT / 2) as isize, n)] += d;
        }
        dy
    }
}

fn check_length(n: usize, op: &str) -> OpResult<()> {
    if n < MIN_SAMPLES {
        candle_core::bail!("{op}: {n} samples is too short (needs at least {MIN_SAMPLES})");
    }
    Ok(())
}

/// The forward's analyses of a batch, kept for its backward pass.
type Kept = Arc<Mutex<Option<Vec<SpectrumMasks>>>>;

/// One application of [`Hpss`] in a graph. The analysis (STFT and medians) is ~95 % of the
/// forward's cost, so a tracked application keeps it for its backward (about 2.8 MB per
/// 24 608-sample item) instead of recomputing it.
struct HpssOp {
    hpss: Hpss,
    kept: Option<Kept>,
}

impl Map1 for HpssOp {
    const OP: &'static str = "hpss-percussive";

    fn shape(&self, l: &Layout) -> OpResult<Shape> {
        check_length(l.shape().dims2()?.1, Self::OP)?;
        Ok(l.shape().clone())
    }

    fn bwd(&self, y: &Tensor, _: &Tensor, g: &Tensor) -> OpResult<Option<Tensor>> {
        let grad = HpssGrad {
            op: self.hpss.clone(),
            kept: self.kept.clone(),
        };
        Ok(Some(grad.apply_no_bwd(y, g)?))
    }

    fn f<T: Float>(&self, x: &[T], l: &Layout) -> OpResult<Vec<T>> {
        // The masks and the inverse STFT are computed in f64 whatever the input's type.
        let (batch, n) = l.shape().dims2()?;
        let y = to_f64s(x);
        let analyses: Vec<SpectrumMasks> = y.par_chunks(n).map(|y| self.hpss.analyse(y)).collect();
        let mut out = vec![0.0; batch * n];
        out.par_chunks_mut(n)
            .zip(analyses.par_iter())
            .for_each(|(out, a)| {
                out.copy_from_slice(&self.hpss.synthesise(&a.spectrum, &a.mask, n))
            });
        if let Some(kept) = &self.kept {
            // A poisoned lock only means an earlier panic elsewhere; the slot is still valid.
            *kept.lock().unwrap_or_else(|e| e.into_inner()) = Some(analyses);
        }
        Ok(from_f64s(out))
    }
}

/// (y, dL/d percussive) -> dL/dy for [`HpssOp`].
struct HpssGrad {
    op: Hpss,
    kept: Option<Kept>,
}

impl Map2 for HpssGrad {
    const OP: &'static str = "hpss-percussive-grad";

    fn shape(&self, ly: &Layout, lg: &Layout) -> OpResult<Shape> {
        let shape = same_shape(Self::OP, ly, lg)?;
        check_length(shape.dims2()?.1, Self::OP)?;
        Ok(shape)
    }

    fn f<T: Float>(&self, y: &[T], ly: &Layout, g: &[T], _: &Layout) -> OpResult<Vec<T>> {
        let (batch, n) = ly.shape().dims2()?;
        let (y, g) = (to_f64s(y), to_f64s(g));
        // The forward's analyses, taken (a graph is normally differentiated once); recomputed
        // when absent, e.g. on a second backward pass.
        let kept = self
            .kept
            .as_ref()
            .and_then(|k| k.lock().unwrap_or_else(|e| e.into_inner()).take())
            .filter(|a| a.len() == batch && a.iter().all(|a| a.frames == n_frames(n)));
        let analyses = match kept {
            Some(a) => a,
            None => y.par_chunks(n).map(|y| self.op.analyse(y)).collect(),
        };
        let mut out = vec![0.0; batch * n];
        out.par_chunks_mut(n)
            .zip(analyses.par_iter().zip(g.par_chunks(n)))
            .for_each(|(out, (a, g))| out.copy_from_slice(&self.op.gradient_with(a, n, g)));
        Ok(from_f64s(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{DType, Device};

    use crate::model::gradcheck::{max_abs, max_abs_diff, max_rel_diff, pseudo_random};

    fn sine(n: usize, freq: f64, amplitude: f64) -> Vec<f64> {
        (0..n)
            .map(|i| amplitude * (2.0 * std::f64::consts::PI * freq * i as f64 / 16_000.0).sin())
            .collect()
    }

    /// Decaying noise bursts every `period` samples. A burst covers 4 STFT frames; to read as
    /// percussive, fewer than half of the 31 frames around it may hold one (period > ~2 000).
    fn clicks(n: usize, period: usize) -> Vec<f64> {
        let noise = pseudo_random(n, 9).to_vec1::<f64>().unwrap();
        (0..n)
            .map(|i| {
                let age = (i + period / 2) % period;
                noise[i] * (-(age as f64) / 40.0).exp()
            })
            .collect()
    }

    fn energy(v: &[f64]) -> f64 {
        v.iter().map(|x| x * x).sum()
    }

    /// Directional derivative <∇L, d> against central differences of L(y ± h·d), with
    /// L = <w, hpss(y)>: checks every coordinate of the gradient at once.
    fn directional_check(hpss: &Hpss, y: &[f64], seed: u64) -> (f64, f64) {
        let n = y.len();
        let w = pseudo_random(n, seed).to_vec1::<f64>().unwrap();
        let d = pseudo_random(n, seed + 1).to_vec1::<f64>().unwrap();
        let value = |y: &[f64]| -> f64 {
            hpss.percussive_part(y)
                .iter()
                .zip(&w)
                .map(|(a, b)| a * b)
                .sum()
        };
        let grad = hpss.gradient(y, &w);
        let analytic: f64 = grad.iter().zip(&d).map(|(a, b)| a * b).sum();
        let h = 1e-6;
        let shifted = |s: f64| -> Vec<f64> { y.iter().zip(&d).map(|(a, b)| a + s * b).collect() };
        let numeric = (value(&shifted(h)) - value(&shifted(-h))) / (2.0 * h);
        (analytic, numeric)
    }

    #[test]
    fn a_unit_mask_gives_back_the_signal_away_from_the_ends() {
        // In the first 256 and the last 256 + N mod 256 samples fewer than four Hann windows
        // overlap and the release does not normalise by their sum: only the rest is the identity.
        let hpss = Hpss::new();
        let n = 5_000;
        let y = pseudo_random(n, 3).to_vec1::<f64>().unwrap();
        let a = hpss.analyse(&y);
        let out = hpss.synthesise(&a.spectrum, &vec![1.0; a.mask.len()], n);
        let full = (n / HOP) * HOP - HOP;
        for i in HOP..full {
            assert!(
                (out[i] - y[i]).abs() < 1e-12,
                "sample {i}: {} vs {}",
                out[i],
                y[i]
            );
        }
        // Sample 0 sits under Hann(1024) at 512 and 256 of frames 0 and 1: (1 + 0.5)/2.
        assert!(
            (out[0] - 0.75 * y[0]).abs() < 1e-12,
            "{} vs {}",
            out[0],
            y[0]
        );
    }

    #[test]
    fn clicks_pass_and_a_steady_sine_is_removed() {
        let hpss = Hpss::new();
        let n = 8_192;
        let tone = sine(n, 440.0, 0.5);
        let hits = clicks(n, 2_900);
        let interior = 1_024..n - 1_024;
        let tone_out = hpss.percussive_part(&tone);
        let hits_out = hpss.percussive_part(&hits);
        let ratio = |out: &[f64], input: &[f64]| {
            energy(&out[interior.clone()]) / energy(&input[interior.clone()])
        };
        let (tone_kept, hits_kept) = (ratio(&tone_out, &tone), ratio(&hits_out, &hits));
        println!("energy kept: sine {tone_kept:e}, clicks {hits_kept}");
        assert!(tone_kept < 1e-4, "sine keeps {tone_kept} of its energy");
        assert!(
            hits_kept > 0.95,
            "clicks keep only {hits_kept} of their energy"
        );
        // Mixed: the output is close to the clicks alone.
        let mix: Vec<f64> = tone.iter().zip(&hits).map(|(a, b)| a + b).collect();
        let mix_out = hpss.percussive_part(&mix);
        let residual: Vec<f64> = mix_out.iter().zip(&hits).map(|(a, b)| a - b).collect();
        let rel = energy(&residual[interior.clone()]) / energy(&hits[interior.clone()]);
        println!("mix minus clicks: {rel} of the clicks' energy");
        assert!(
            rel < 0.1,
            "mix minus clicks has {rel} of the clicks' energy"
        );
        assert!(ratio(&mix_out, &tone) < 0.6 * ratio(&mix, &tone));
    }

    #[test]
    fn gradient_matches_directional_differences() {
        let hpss = Hpss::new();
        let n = 4_000;
        let noise = pseudo_random(n, 11).to_vec1::<f64>().unwrap();
        let mixed: Vec<f64> = sine(n, 300.0, 1.0)
            .iter()
            .zip(&clicks(n, 900))
            .zip(&noise)
            .map(|((a, b), c)| a + b + 0.01 * c)
            .collect();
        for (y, seed) in [(noise, 20), (mixed, 30)] {
            for s in [seed, seed + 5] {
                let (analytic, numeric) = directional_check(&hpss, &y, s);
                println!("directional derivative {analytic} vs {numeric}");
                assert!(
                    (analytic - numeric).abs() <= 1e-6 * numeric.abs().max(1.0),
                    "analytic {analytic} vs numeric {numeric}"
                );
            }
        }
    }

    #[test]
    fn gradient_matches_finite_differences_per_sample() {
        // Edges (reflection folds), frame boundaries and the interior, through the candle op.
        let n = MIN_SAMPLES;
        let y = (pseudo_random((1, n), 5)
            + Tensor::from_vec(sine(n, 700.0, 1.0), (1, n), &Device::Cpu).unwrap())
        .unwrap();
        let w = pseudo_random((1, n), 6);
        let hpss = Hpss::new();
        let coords = [
            0,
            1,
            255,
            256,
            511,
            512,
            513,
            1_000,
            1_920,
            n - 513,
            n - 2,
            n - 1,
        ];
        let base = y.flatten_all().unwrap().to_vec1::<f64>().unwrap();
        let var = candle_core::Var::from_tensor(&y).unwrap();
        let loss = |t: &Tensor| (hpss.forward(t).unwrap() * &w).unwrap().sum_all().unwrap();
        let grads = loss(var.as_tensor()).backward().unwrap();
        let grad = grads
            .get(var.as_tensor())
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1::<f64>()
            .unwrap();
        let scale = grad.iter().fold(0f64, |m, g| m.max(g.abs()));
        let h = 1e-6;
        for i in coords {
            let mut plus = base.clone();
            plus[i] += h;
            let mut minus = base.clone();
            minus[i] -= h;
            let at = |v: Vec<f64>| {
                loss(&Tensor::from_vec(v, (1, n), &Device::Cpu).unwrap())
                    .to_scalar::<f64>()
                    .unwrap()
            };
            let numeric = (at(plus) - at(minus)) / (2.0 * h);
            assert!(
                (numeric - grad[i]).abs() <= 1e-5 * grad[i].abs() + 1e-7 * scale,
                "sample {i}: analytic {} vs numeric {numeric}",
                grad[i]
            );
        }
    }

    #[test]
    fn f32_and_f64_agree_and_short_or_odd_inputs_are_refused() {
        let hpss = Hpss::new();
        let n = 4_100;
        let y = pseudo_random((2, n), 8);
        let a = hpss.forward(&y).unwrap();
        let b = hpss
            .forward(&y.to_dtype(DType::F32).unwrap())
            .unwrap()
            .to_dtype(DType::F64)
            .unwrap();
        let diff = max_abs_diff(&a, &b);
        assert!(diff < 1e-5, "{diff}");
        let short = Tensor::zeros((1, MIN_SAMPLES - 1), DType::F32, &Device::Cpu).unwrap();
        assert!(hpss
            .forward(&short)
            .unwrap_err()
            .to_string()
            .contains("too short"));
        let ints = Tensor::zeros((1, n), DType::U32, &Device::Cpu).unwrap();
        assert!(hpss.forward(&ints).is_err());
        let silence = Tensor::zeros((1, n), DType::F32, &Device::Cpu).unwrap();
        let out = hpss.forward(&silence).unwrap();
        assert_eq!(max_abs(&out), 0.0);
    }

    #[test]
    fn composed_path_equals_the_op_in_value_and_gradient() {
        let (b, n) = (2, 4_000);
        let y = (pseudo_random((b, n), 12)
            + Tensor::from_vec(
                [sine(n, 250.0, 1.0), clicks(n, 700)].concat(),
                (b, n),
                &Device::Cpu,
            )
            .unwrap())
        .unwrap();
        let w = pseudo_random((b, n), 13);
        let composed = ComposedHpss::new(&Device::Cpu, DType::F64).unwrap();
        let hpss = Hpss::new();
        let mut results = Vec::new();
        for use_op in [true, false] {
            let var = candle_core::Var::from_tensor(&y).unwrap();
            let out = if use_op {
                hpss.forward(var.as_tensor()).unwrap()
            } else {
                composed.forward(var.as_tensor()).unwrap()
            };
            let grads = (&out * &w).unwrap().sum_all().unwrap().backward().unwrap();
            let grad = grads.get(var.as_tensor()).unwrap().clone();
            results.push((out, grad));
        }
        let value = max_rel_diff(&results[0].0, &results[1].0);
        let grad = max_rel_diff(&results[0].1, &results[1].1);
        assert!(value < 1e-10, "values differ by {value} of the peak");
        assert!(grad < 1e-9, "gradients differ by {grad} of the peak");
    }

    #[test]
    fn the_kept_analysis_and_a_recomputed_one_give_the_same_gradient() {
        // The first backward uses the forward's analysis, a second one recomputes it.
        let n = 4_200;
        let y = candle_core::Var::from_tensor(&pseudo_random((2, n), 21)).unwrap();
        let w = pseudo_random((2, n), 22);
        let loss = (Hpss::new().forward(y.as_tensor()).unwrap() * &w)
            .unwrap()
            .sum_all()
            .unwrap();
        let first = loss.backward().unwrap();
        let second = loss.backward().unwrap();
        let (a, b) = (
            first.get(y.as_tensor()).unwrap(),
            second.get(y.as_tensor()).unwrap(),
        );
        // NaN (a zero peak) fails too.
        let rel = max_rel_diff(a, b);
        assert!(rel <= 1e-12, "gradients differ by {rel} of the peak");
    }
}
