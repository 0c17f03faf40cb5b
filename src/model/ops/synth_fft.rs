//! The synthesizer's convolution as a candle custom op: low-rate activations `a` (B, K, T) are
//! zero-inserted by `hop` (16), each component track is the causal linear convolution with its
//! waveform `h_k` (K, L), truncated to N = hop·T samples, and the tracks are summed:
//!
//! x̂[b, n] = Σ_k Σ_t a[b,k,t] · h_k[n − hop·t]   (terms with 0 ≤ n − hop·t < L).
//!
//! Why FFT and why this shape: zero insertion tiles the spectrum of `a_k` `hop` times, so with an
//! FFT length F ≥ N + L − 1 that is a multiple of 2·hop, X̂(f) = Σ_k A_k(f mod F/hop)·H_k(f):
//! one small real FFT (F/hop) per component and a single inverse FFT of size F per item. The
//! waveform spectra H_k are shared by the whole batch (one kit draw per batch), are computed once
//! per forward and kept for the backward pass. Backward w.r.t. `a` is the adjoint: one FFT of the
//! output gradient per item, then per component the 16 spectral copies of conj(H_k)·G are folded
//! (time decimation) and one small inverse FFT gives the gradient. Backward w.r.t. `h` (only
//! computed when the waveforms are tracked) is Σ_b conj(Â_bk)·G_b, one inverse FFT per component.
//!
//! F is chosen 5-smooth rather than a power of two: for the training item (T = 1538, L = 16 000,
//! N + L − 1 = 40 607) that is 40 960 instead of 65 536.
//!
//! Measurements (release build, the shared 2-core dev machine under load from other builds, so
//! fastest of 4 runs; B = 16, K = 11, T = 1538, L = 16 000; times include transforming the 11
//! waveforms, which a kit draw per batch requires;
//! `cargo test --release --test model synth:: -- --ignored --nocapture`):
//!
//! | path | forward | grad a | grad h |
//! |---|---|---|---|
//! | FFT op, F = 40 960 (5-smooth), dense activations | 4.4-5.4 ms | 7.6 ms | 4.5 ms |
//! | FFT op, F = 65 536 (power of two), dense | 7.0 ms | | |
//! | FFT op, 5 % non-zero activations (all-zero rows skipped) | 4.3 ms | 8.0 ms | 4.5 ms |
//! | direct loop skipping zeros, 5 % non-zero | 14-15 ms | ~3 000 ms (dense) | 14-20 ms |
//! | candle graph: op forward + backward to a (fixed kit) | 11 ms | | |
//! | candle graph: forward + backward to a and h (trainable) | 16-20 ms | | |
//!
//! 1 vs 2 rayon threads made no reliable difference on that loaded machine (the work is
//! ~5 ms per batch either way). Decision: the FFT op everywhere on CPU: it is 3x faster than the
//! direct loop's forward even at 5 % density, and the direct activation gradient cannot exploit
//! sparsity at all (the output gradient is dense), which makes it ~400x slower. Against the
//! U-Net (about 1 GFLOP per item forward) the synthesizer is negligible.
//!
//! Non-CPU devices take [`synth_conv_composed`]: a polyphase conv1d (the 16 phases of each
//! waveform as 16 output channels of a stride-1 conv over the low-rate activations, then an
//! interleave), the same work as a stride-16 transposed convolution but with a backward pass.

use std::borrow::Cow;
use std::sync::{Arc, Mutex, OnceLock};

use super::kernel::{f32_only, Float, Grads2, Map2, OpResult};
use candle_core::{DType, Layout, Shape, Tensor, D};
use rayon::prelude::*;
use realfft::num_complex::Complex;
use realfft::{ComplexToReal, RealFftPlanner, RealToComplex};

type C32 = Complex<f32>;

/// Sizes of one synthesis problem.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SynthShape {
    pub batch: usize,
    pub components: usize,
    /// Low-rate frames T.
    pub frames: usize,
    /// Zero-insertion factor (samples per frame).
    pub hop: usize,
    /// Waveform length L.
    pub waveform_len: usize,
}

impl SynthShape {
    /// Output samples N = hop·T.
    pub fn out_len(&self) -> usize {
        self.hop * self.frames
    }

    /// FFT length: the smallest 5-smooth multiple of 2·hop that holds the linear convolution
    /// without wrap-around into the kept samples.
    pub fn fft_len(&self) -> usize {
        fft_len_for(
            self.out_len() + self.waveform_len,
            self.hop,
            FftSizing::Smooth,
        )
    }
}

/// How the FFT length is rounded up (kept selectable for the measurements).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FftSizing {
    PowerOfTwo,
    /// 2^a·3^b·5^c, which rustfft handles nearly as fast per sample.
    Smooth,
}

/// Smallest length ≥ `need` that is a multiple of 2·hop and has the requested form.
pub fn fft_len_for(need: usize, hop: usize, sizing: FftSizing) -> usize {
    let unit = 2 * hop;
    let mut m = need.div_ceil(unit).max(1);
    match sizing {
        FftSizing::PowerOfTwo => {
            let mut f = unit;
            while f < need {
                f *= 2;
            }
            f
        }
        FftSizing::Smooth => loop {
            if is_smooth(m) {
                return m * unit;
            }
            m += 1;
        },
    }
}

fn is_smooth(mut n: usize) -> bool {
    for p in [2, 3, 5] {
        while n.is_multiple_of(p) {
            n /= p;
        }
    }
    n == 1
}

struct Plans {
    fft_len: usize,
    hop: usize,
    fwd_big: Arc<dyn RealToComplex<f32>>,
    inv_big: Arc<dyn ComplexToReal<f32>>,
    fwd_small: Arc<dyn RealToComplex<f32>>,
    inv_small: Arc<dyn ComplexToReal<f32>>,
}

/// Planning a 40 960-point FFT costs about as much as running it, so plans are shared.
fn plans(fft_len: usize, hop: usize) -> Plans {
    static PLANNER: OnceLock<Mutex<RealFftPlanner<f32>>> = OnceLock::new();
    let lock = PLANNER.get_or_init(|| Mutex::new(RealFftPlanner::new()));
    // A poisoned planner is still a valid cache: every plan it holds was fully built.
    let mut planner = lock.lock().unwrap_or_else(|e| e.into_inner());
    let small = fft_len / hop;
    Plans {
        fft_len,
        hop,
        fwd_big: planner.plan_fft_forward(fft_len),
        inv_big: planner.plan_fft_inverse(fft_len),
        fwd_small: planner.plan_fft_forward(small),
        inv_small: planner.plan_fft_inverse(small),
    }
}

fn fft_err(e: realfft::FftError) -> candle_core::Error {
    candle_core::Error::Msg(format!("synthesizer fft: {e}"))
}

/// Spectra of the K waveforms at one FFT length: K rows of F/2 + 1 bins.
#[derive(Clone)]
pub struct KernelSpectra {
    fft_len: usize,
    bins: Vec<C32>,
}

impl KernelSpectra {
    fn row(&self, k: usize) -> &[C32] {
        let n = self.fft_len / 2 + 1;
        &self.bins[k * n..(k + 1) * n]
    }
}

fn kernel_spectra(h: &[f32], components: usize, fft_len: usize, plans: &Plans) -> KernelSpectra {
    let len = h.len() / components.max(1);
    let nb = fft_len / 2 + 1;
    let mut bins = vec![C32::default(); components * nb];
    bins.par_chunks_mut(nb).enumerate().for_each(|(k, out)| {
        let mut buf = vec![0f32; fft_len];
        buf[..len].copy_from_slice(&h[k * len..(k + 1) * len]);
        // Lengths match by construction, so process cannot fail.
        let _ = plans.fwd_big.process(&mut buf, out);
    });
    KernelSpectra { fft_len, bins }
}

/// Full small spectrum (length M) of one activation row, from the half spectrum by symmetry.
fn small_spectrum_full(row: &[f32], plans: &Plans, buf: &mut [f32], half: &mut [C32]) -> Vec<C32> {
    let m = buf.len();
    buf.fill(0.0);
    buf[..row.len()].copy_from_slice(row);
    let _ = plans.fwd_small.process(buf, half);
    let mut full = vec![C32::default(); m];
    for (r, v) in full.iter_mut().enumerate() {
        *v = if r <= m / 2 {
            half[r]
        } else {
            half[m - r].conj()
        };
    }
    full
}

/// Forward on raw slices: `a` (B, K, T), `h` (K, L) -> (B, hop·T).
pub fn synth_fft_forward(
    a: &[f32],
    h: &[f32],
    shape: SynthShape,
    spectra: Option<&KernelSpectra>,
) -> OpResult<Vec<f32>> {
    synth_fft_forward_sized(a, h, shape, spectra, shape.fft_len())
}

/// [`synth_fft_forward`] at a given FFT length (a multiple of 2·hop, at least N + L − 1); for
/// measuring the choice of length.
pub fn synth_fft_forward_sized(
    a: &[f32],
    h: &[f32],
    shape: SynthShape,
    spectra: Option<&KernelSpectra>,
    f: usize,
) -> OpResult<Vec<f32>> {
    let (k_n, t_n, hop, n) = (shape.components, shape.frames, shape.hop, shape.out_len());
    if !f.is_multiple_of(2 * hop) || f < n + shape.waveform_len - 1 {
        candle_core::bail!("synthesizer: fft length {f} does not fit {shape:?}");
    }
    let plans = plans(f, hop);
    let spectra = spectra_at(spectra, h, k_n, &plans);
    let mut out = vec![0f32; shape.batch * n];
    out.par_chunks_mut(n.max(1))
        .enumerate()
        .try_for_each(|(b, out_b)| {
            let rows = (0..k_n).map(|k| (&a[(b * k_n + k) * t_n..][..t_n], spectra.row(k)));
            spectral_sum(rows, false, &plans, out_b)
        })?;
    Ok(out)
}

/// `out` = the first `out.len()` samples of the inverse FFT of sum_i A_i ⊙ S_i, over pairs
/// (activation row, spectrum S_i of F/2 + 1 bins) where A_i is the row's spectrum at F
/// (its conjugate with `conjugate`: the correlation of the waveform gradient).
fn spectral_sum<'a>(
    rows: impl Iterator<Item = (&'a [f32], &'a [C32])>,
    conjugate: bool,
    plans: &Plans,
    out: &mut [f32],
) -> OpResult<()> {
    let f = plans.fft_len;
    let (m, nb) = (f / plans.hop, f / 2 + 1);
    let mut x = vec![C32::default(); nb];
    let mut small_buf = vec![0f32; m];
    let mut small_half = vec![C32::default(); m / 2 + 1];
    for (row, spectrum) in rows {
        // Sparsemax rows are often entirely zero: skip them.
        if row.iter().all(|&v| v == 0.0) {
            continue;
        }
        let a_full = small_spectrum_full(row, plans, &mut small_buf, &mut small_half);
        for (chunk_x, chunk_s) in x.chunks_mut(m).zip(spectrum.chunks(m)) {
            for ((xv, sv), av) in chunk_x.iter_mut().zip(chunk_s).zip(&a_full) {
                *xv += if conjugate { av.conj() } else { *av } * sv;
            }
        }
    }
    x[0].im = 0.0;
    x[nb - 1].im = 0.0;
    let mut time = vec![0f32; f];
    plans.inv_big.process(&mut x, &mut time).map_err(fft_err)?;
    let scale = 1.0 / f as f32;
    for (o, v) in out.iter_mut().zip(&time) {
        *o = v * scale;
    }
    Ok(())
}

/// The waveforms' spectra at the plans' FFT length: `given` where it has that length (the
/// forward's cache), else computed.
fn spectra_at<'a>(
    given: Option<&'a KernelSpectra>,
    h: &[f32],
    components: usize,
    plans: &Plans,
) -> Cow<'a, KernelSpectra> {
    match given {
        Some(s) if s.fft_len == plans.fft_len => Cow::Borrowed(s),
        _ => Cow::Owned(kernel_spectra(h, components, plans.fft_len, plans)),
    }
}

/// Half spectra (F/2 + 1 bins) of every item's output gradient, zero-padded to F.
fn grad_spectra(g: &[f32], n: usize, f: usize, plans: &Plans) -> Vec<C32> {
    let nb = f / 2 + 1;
    let mut spec = vec![C32::default(); (g.len() / n.max(1)) * nb];
    spec.par_chunks_mut(nb).enumerate().for_each(|(b, out)| {
        let mut buf = vec![0f32; f];
        buf[..n].copy_from_slice(&g[b * n..(b + 1) * n]);
        let _ = plans.fwd_big.process(&mut buf, out);
    });
    spec
}

/// Gradient w.r.t. the activations: `g` (B, N), `h` (K, L) -> (B, K, T).
pub fn synth_fft_grad_activations(
    g: &[f32],
    h: &[f32],
    spectra: Option<&KernelSpectra>,
    shape: SynthShape,
) -> OpResult<Vec<f32>> {
    let (k_n, t_n, hop, n) = (shape.components, shape.frames, shape.hop, shape.out_len());
    let f = shape.fft_len();
    let m = f / hop;
    let plans = plans(f, hop);
    let spectra = spectra_at(spectra, h, k_n, &plans);
    let gs = grad_spectra(g, n, f, &plans);
    let nb = f / 2 + 1;
    let mut out = vec![0f32; shape.batch * k_n * t_n];
    out.par_chunks_mut((k_n * t_n).max(1))
        .enumerate()
        .try_for_each(|(b, out_b)| -> OpResult<()> {
            let gb = &gs[b * nb..(b + 1) * nb];
            let mut y = vec![C32::default(); m / 2 + 1];
            let mut time = vec![0f32; m];
            let scale = 1.0 / f as f32;
            for k in 0..k_n {
                let hk = spectra.row(k);
                // Decimating the correlation by `hop` in time folds its spectrum: sum the hop
                // copies, taking bins above F/2 from the conjugate-symmetric half.
                y.fill(C32::default());
                for j in 0..hop {
                    for (r, yv) in y.iter_mut().enumerate() {
                        let idx = j * m + r;
                        *yv += if idx < nb {
                            hk[idx].conj() * gb[idx]
                        } else {
                            (hk[f - idx].conj() * gb[f - idx]).conj()
                        };
                    }
                }
                y[0].im = 0.0;
                y[m / 2].im = 0.0;
                plans
                    .inv_small
                    .process(&mut y, &mut time)
                    .map_err(fft_err)?;
                for (o, v) in out_b[k * t_n..(k + 1) * t_n].iter_mut().zip(&time) {
                    *o = v * scale;
                }
            }
            Ok(())
        })?;
    Ok(out)
}

/// Gradient w.r.t. the waveforms: `g` (B, N), `a` (B, K, T) -> (K, L).
pub fn synth_fft_grad_waveforms(g: &[f32], a: &[f32], shape: SynthShape) -> OpResult<Vec<f32>> {
    let (b_n, k_n, t_n, hop) = (shape.batch, shape.components, shape.frames, shape.hop);
    let (l, n, f) = (shape.waveform_len, shape.out_len(), shape.fft_len());
    let nb = f / 2 + 1;
    let plans = plans(f, hop);
    let gs = grad_spectra(g, n, f, &plans);
    let mut out = vec![0f32; k_n * l];
    out.par_chunks_mut(l.max(1))
        .enumerate()
        .try_for_each(|(k, out_k)| {
            let rows = (0..b_n).map(|b| (&a[(b * k_n + k) * t_n..][..t_n], &gs[b * nb..][..nb]));
            spectral_sum(rows, true, &plans, out_k)
        })?;
    Ok(out)
}

/// Direct time-domain forward that skips zero activations: the tested reference, and faster
/// than the FFT when only a handful of activations are non-zero.
pub fn synth_direct_forward(a: &[f32], h: &[f32], shape: SynthShape) -> Vec<f32> {
    let (k_n, t_n, l, n) = (
        shape.components,
        shape.frames,
        shape.waveform_len,
        shape.out_len(),
    );
    let mut out = vec![0f32; shape.batch * n];
    out.par_chunks_mut(n.max(1))
        .enumerate()
        .for_each(|(b, out_b)| {
            for k in 0..k_n {
                let hk = &h[k * l..(k + 1) * l];
                for (v, start, len) in hits(&a[(b * k_n + k) * t_n..][..t_n], shape) {
                    add_scaled(v, &hk[..len], &mut out_b[start..start + len]);
                }
            }
        });
    out
}

/// Each non-zero activation v of a row with the output span its waveform reaches:
/// (v, first sample, samples).
fn hits(row: &[f32], shape: SynthShape) -> impl Iterator<Item = (f32, usize, usize)> + '_ {
    let n = shape.out_len();
    row.iter()
        .enumerate()
        .filter(|&(_, &v)| v != 0.0)
        .map(move |(t, &v)| (v, shape.hop * t, shape.waveform_len.min(n - shape.hop * t)))
}

/// out += v x.
fn add_scaled(v: f32, x: &[f32], out: &mut [f32]) {
    for (o, x) in out.iter_mut().zip(x) {
        *o += v * x;
    }
}

/// Direct adjoint w.r.t. the activations (reference for the tests).
pub fn synth_direct_grad_activations(g: &[f32], h: &[f32], shape: SynthShape) -> Vec<f32> {
    let (k_n, t_n, hop) = (shape.components, shape.frames, shape.hop);
    let (l, n) = (shape.waveform_len, shape.out_len());
    let mut out = vec![0f32; shape.batch * k_n * t_n];
    out.par_chunks_mut((k_n * t_n).max(1))
        .enumerate()
        .for_each(|(b, out_b)| {
            let gb = &g[b * n..(b + 1) * n];
            for k in 0..k_n {
                let hk = &h[k * l..(k + 1) * l];
                for t in 0..t_n {
                    let start = hop * t;
                    let len = l.min(n - start);
                    out_b[k * t_n + t] = gb[start..start + len]
                        .iter()
                        .zip(&hk[..len])
                        .map(|(x, y)| x * y)
                        .sum();
                }
            }
        });
    out
}

/// Direct adjoint w.r.t. the waveforms, skipping zero activations (reference for the tests).
pub fn synth_direct_grad_waveforms(g: &[f32], a: &[f32], shape: SynthShape) -> Vec<f32> {
    let (k_n, t_n, l, n) = (
        shape.components,
        shape.frames,
        shape.waveform_len,
        shape.out_len(),
    );
    let mut out = vec![0f32; k_n * l];
    out.par_chunks_mut(l.max(1))
        .enumerate()
        .for_each(|(k, out_k)| {
            for b in 0..shape.batch {
                let gb = &g[b * n..(b + 1) * n];
                for (v, start, len) in hits(&a[(b * k_n + k) * t_n..][..t_n], shape) {
                    add_scaled(v, &gb[start..start + len], &mut out_k[..len]);
                }
            }
        });
    out
}

/// Spectra cached by the forward pass for the backward pass (the op object lives in the graph).
type SpectraCache = Arc<OnceLock<Arc<KernelSpectra>>>;

/// The forward custom op: (activations (B, K, T), waveforms (K, L)) -> (B, hop·T).
struct SynthConvOp {
    hop: usize,
    spectra: SpectraCache,
}

impl SynthConvOp {
    fn synth_shape(&self, la: &Layout, lh: &Layout) -> OpResult<SynthShape> {
        let (batch, components, frames) = la.shape().dims3()?;
        let (k2, waveform_len) = lh.shape().dims2()?;
        if components != k2 {
            candle_core::bail!(
                "synthesizer: {components} activation components but {k2} waveforms"
            );
        }
        Ok(SynthShape {
            batch,
            components,
            frames,
            hop: self.hop,
            waveform_len,
        })
    }
}

impl Map2 for SynthConvOp {
    const OP: &'static str = "synth-fft-conv";

    fn shape(&self, la: &Layout, lh: &Layout) -> OpResult<Shape> {
        let shape = self.synth_shape(la, lh)?;
        Ok(Shape::from((shape.batch, shape.out_len())))
    }

    fn f<T: Float>(&self, a: &[T], la: &Layout, h: &[T], lh: &Layout) -> OpResult<Vec<T>> {
        let (a, h) = (f32_only(a, Self::OP)?, f32_only(h, Self::OP)?);
        let shape = self.synth_shape(la, lh)?;
        let f = shape.fft_len();
        let spectra = self
            .spectra
            .get_or_init(|| Arc::new(kernel_spectra(h, shape.components, f, &plans(f, self.hop))))
            .clone();
        Ok(T::from_f32s(synth_fft_forward(
            a,
            h,
            shape,
            Some(&spectra),
        )?))
    }

    fn bwd(&self, a: &Tensor, h: &Tensor, _: &Tensor, g: &Tensor) -> OpResult<Grads2> {
        // Only the operands that need a gradient get one (the waveforms are usually fixed).
        let ga = match a.track_op() {
            true => Some(
                SynthGradActivationsOp {
                    hop: self.hop,
                    frames: a.dim(2)?,
                    spectra: self.spectra.get().cloned(),
                }
                .apply_no_bwd(g, h)?,
            ),
            false => None,
        };
        let gh = if h.track_op() {
            let op = SynthGradWaveformsOp {
                hop: self.hop,
                waveform_len: h.dim(1)?,
            };
            Some(op.apply_no_bwd(g, a)?)
        } else {
            None
        };
        Ok((ga, gh))
    }
}

/// (output gradient (B, N), waveforms (K, L)) -> activation gradient (B, K, T).
struct SynthGradActivationsOp {
    hop: usize,
    frames: usize,
    spectra: Option<Arc<KernelSpectra>>,
}

impl Map2 for SynthGradActivationsOp {
    const OP: &'static str = "synth-fft-grad-activations";

    fn shape(&self, lg: &Layout, lh: &Layout) -> OpResult<Shape> {
        Ok(Shape::from((
            lg.shape().dims2()?.0,
            lh.shape().dims2()?.0,
            self.frames,
        )))
    }

    fn f<T: Float>(&self, g: &[T], lg: &Layout, h: &[T], lh: &Layout) -> OpResult<Vec<T>> {
        let (components, waveform_len) = lh.shape().dims2()?;
        let shape = SynthShape {
            batch: lg.shape().dims2()?.0,
            components,
            frames: self.frames,
            hop: self.hop,
            waveform_len,
        };
        let (g, h) = (f32_only(g, Self::OP)?, f32_only(h, Self::OP)?);
        Ok(T::from_f32s(synth_fft_grad_activations(
            g,
            h,
            self.spectra.as_deref(),
            shape,
        )?))
    }
}

/// (output gradient (B, N), activations (B, K, T)) -> waveform gradient (K, L).
struct SynthGradWaveformsOp {
    hop: usize,
    waveform_len: usize,
}

impl Map2 for SynthGradWaveformsOp {
    const OP: &'static str = "synth-fft-grad-waveforms";

    fn shape(&self, _: &Layout, la: &Layout) -> OpResult<Shape> {
        Ok(Shape::from((la.shape().dims3()?.1, self.waveform_len)))
    }

    fn f<T: Float>(&self, g: &[T], _: &Layout, a: &[T], la: &Layout) -> OpResult<Vec<T>> {
        let (batch, components, frames) = la.shape().dims3()?;
        let shape = SynthShape {
            batch,
            components,
            frames,
            hop: self.hop,
            waveform_len: self.waveform_len,
        };
        let (g, a) = (f32_only(g, Self::OP)?, f32_only(a, Self::OP)?);
        Ok(T::from_f32s(synth_fft_grad_waveforms(g, a, shape)?))
    }
}

/// Synthesizes the mix: activations (B, K, T) and waveforms (K, L) -> (B, hop·T), with gradients
/// for both. CPU: the FFT custom op (computed in f32, other float dtypes are converted there and
/// back); other devices: [`synth_conv_composed`].
pub fn synth_conv(a: &Tensor, h: &Tensor, hop: usize) -> crate::Result<Tensor> {
    check_shapes(a, h, hop)?;
    if !a.device().is_cpu() {
        return synth_conv_composed(a, h, hop);
    }
    let dtype = a.dtype();
    let op = SynthConvOp {
        hop,
        spectra: Arc::new(OnceLock::new()),
    };
    Ok(op
        .apply(&a.to_dtype(DType::F32)?, &h.to_dtype(DType::F32)?)?
        .to_dtype(dtype)?)
}

fn check_shapes(a: &Tensor, h: &Tensor, hop: usize) -> crate::Result<()> {
    let (_, k, _) = a.dims3().map_err(|_| {
        crate::Error::Invalid(format!(
            "synthesizer: activations must be (B, K, T), got {:?}",
            a.dims()
        ))
    })?;
    let (k2, l) = h.dims2().map_err(|_| {
        crate::Error::Invalid(format!(
            "synthesizer: waveforms must be (K, L), got {:?}",
            h.dims()
        ))
    })?;
    if k != k2 {
        return Err(crate::Error::Invalid(format!(
            "synthesizer: {k} activation components but {k2} waveforms"
        )));
    }
    if hop == 0 || l == 0 {
        return Err(crate::Error::Invalid(
            "synthesizer: hop and waveform length must be at least 1".into(),
        ));
    }
    Ok(())
}

/// The same synthesis from stock candle ops (any device): the waveforms are split into their
/// `hop` polyphase components, each a stride-1 conv1d kernel over the low-rate activations, and
/// the hop output channels are interleaved. Exact, 16x cheaper than convolving the zero-inserted
/// signal, and differentiable (unlike candle's conv_transpose1d). Note candle 0.11.1's CPU conv1d
/// weight gradient is wrong for batch > 1, so on CPU only the activation gradient is usable here.
pub fn synth_conv_composed(a: &Tensor, h: &Tensor, hop: usize) -> crate::Result<Tensor> {
    check_shapes(a, h, hop)?;
    let (b, k, t) = a.dims3()?;
    let l = h.dim(1)?;
    let taps = l.div_ceil(hop);
    // w[p, k, j] = h[k, j·hop + p]
    let w = h
        .pad_with_zeros(1, 0, taps * hop - l)?
        .reshape((k, taps, hop))?
        .permute((2, 0, 1))?
        .contiguous()?;
    let rev: Vec<u32> = (0..taps as u32).rev().collect();
    let rev = Tensor::new(rev.as_slice(), h.device())?;
    let w = w.index_select(&rev, 2)?.contiguous()?;
    // Padding inside conv1d (not a separate pad) keeps candle 0.11.1 off its CPU col2im
    // conv_transpose1d path, whose result (this conv's input gradient) is wrong for batch > 1
    // with several output channels. Causal alignment: keep outputs from pad − (taps − 1).
    let pad = (taps - 1).max(1);
    let y = a
        .conv1d(&w, pad, 1, 1, 1)?
        .narrow(D::Minus1, pad + 1 - taps, t)?; // (B, hop, T)
    Ok(y.transpose(1, 2)?.reshape((b, t * hop))?)
}
