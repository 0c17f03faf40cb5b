//! The HPSS front end from candle ops only, for devices other than the CPU (and, on CPU, as a
//! cross-check of the custom op). candle has no FFT, so the 1024-point transforms are matmuls
//! with fixed DFT matrices; framing and both reflections are one `index_select` each; a median
//! is an arg-sort of the 31-element windows and a `gather` of the middle one (candle's gather
//! backward scatters the gradient to the selected element, as the spec asks); the overlap-add is
//! a sum of four shifted quarter-frames. Memory: the median windows are 31 × the spectrogram,
//! (B, T, 513, 31), about 100 MB each in f32 for batch 16 of 24 608 samples.

use candle_core::{DType, Device, Tensor, D};

use super::{check, n_frames, BINS, HALF_KERNEL, HOP, MASK_EPS, N_FFT};
use crate::dsp::cqt_basis::periodic_hann;
use crate::error::Result;
use crate::model::ops::cqt_stft::reflect;

/// The DFT matrices, built once per device.
#[derive(Debug, Clone)]
pub struct ComposedHpss {
    /// (N_FFT, 2·BINS): cos | −sin, so frames · analysis = [Re X | Im X].
    analysis: Tensor,
    /// (2·BINS, N_FFT): the irfft (1/n, interior bins counted twice) times the Hann window and
    /// the release's final 1/2.
    synthesis: Tensor,
}

impl ComposedHpss {
    /// Matrices in `dtype` (f32 halves their 17 MB; inputs of another dtype are converted to).
    pub fn new(device: &Device, dtype: DType) -> Result<Self> {
        let hann = periodic_hann(N_FFT);
        let mut analysis = vec![0f64; N_FFT * 2 * BINS];
        let mut synthesis = vec![0f64; 2 * BINS * N_FFT];
        for m in 0..N_FFT {
            for f in 0..BINS {
                // (f·m) mod n keeps the phase argument small and the table exact to rounding.
                let phase = 2.0 * std::f64::consts::PI * ((f * m) % N_FFT) as f64 / N_FFT as f64;
                let (sin, cos) = phase.sin_cos();
                analysis[m * 2 * BINS + f] = cos;
                analysis[m * 2 * BINS + BINS + f] = -sin;
                let weight = if f == 0 || f == BINS - 1 { 1.0 } else { 2.0 };
                let scale = 0.5 * weight * hann[m] / N_FFT as f64;
                synthesis[f * N_FFT + m] = scale * cos;
                synthesis[(BINS + f) * N_FFT + m] = -scale * sin;
            }
        }
        Ok(ComposedHpss {
            analysis: Tensor::from_vec(analysis, (N_FFT, 2 * BINS), device)?.to_dtype(dtype)?,
            synthesis: Tensor::from_vec(synthesis, (2 * BINS, N_FFT), device)?.to_dtype(dtype)?,
        })
    }

    /// The percussive part of y (B, N), f32 or f64, on the device the matrices were built on.
    pub fn forward(&self, y: &Tensor) -> Result<Tensor> {
        let (batch, n) = check(y)?;
        let device = y.device();
        let frames = n_frames(n);
        let framing: Vec<u32> = (0..frames * N_FFT)
            .map(|i| {
                let (t, m) = (i / N_FFT, i % N_FFT);
                reflect((t * HOP + m) as isize - (N_FFT / 2) as isize, n) as u32
            })
            .collect();
        let framing = Tensor::from_vec(framing, frames * N_FFT, device)?;
        let framed = y
            .contiguous()?
            .index_select(&framing, 1)?
            .reshape((batch, frames, N_FFT))?;
        let spectrum = framed.broadcast_matmul(&self.analysis.to_dtype(y.dtype())?)?;
        let re = spectrum.narrow(2, 0, BINS)?;
        let im = spectrum.narrow(2, BINS, BINS)?;
        let power = (re.sqr()? + im.sqr()?)?;

        let percussive = running_median(&power, BINS, device)?;
        let harmonic = running_median(&power.transpose(1, 2)?.contiguous()?, frames, device)?
            .transpose(1, 2)?;
        let ep = percussive.sqr()?;
        let eh = harmonic.sqr()?;
        let mask = (ep.affine(1.0, MASK_EPS)? / (eh + ep)?.affine(1.0, MASK_EPS)?)?;

        let masked = Tensor::cat(&[(re * &mask)?, (im * &mask)?], 2)?;
        let frames_out = masked.broadcast_matmul(&self.synthesis.to_dtype(y.dtype())?)?;
        // Overlap-add at hop n/4: quarter j of frame t lands in block t + j.
        let quarters = frames_out.reshape((batch, frames, N_FFT / HOP, HOP))?;
        let mut sum: Option<Tensor> = None;
        for j in 0..N_FFT / HOP {
            let shifted =
                quarters
                    .narrow(2, j, 1)?
                    .squeeze(2)?
                    .pad_with_zeros(1, j, N_FFT / HOP - 1 - j)?;
            sum = Some(match sum {
                Some(s) => (s + shifted)?,
                None => shifted,
            });
        }
        let blocks = frames + N_FFT / HOP - 1;
        let overlap_add = sum
            .unwrap_or_else(|| unreachable!("N_FFT / HOP > 0"))
            .reshape((batch, blocks * HOP))?;
        Ok(overlap_add.narrow(1, N_FFT / 2, n)?.contiguous()?)
    }
}

/// Median of the 31 reflect-padded neighbours along the last axis of x (B, R, len).
fn running_median(x: &Tensor, len: usize, device: &Device) -> Result<Tensor> {
    let (batch, rows, _) = x.dims3()?;
    let width = 2 * HALF_KERNEL + 1;
    let windows: Vec<u32> = (0..len * width)
        .map(|i| {
            let (centre, j) = (i / width, i % width);
            reflect(centre as isize + j as isize - HALF_KERNEL as isize, len) as u32
        })
        .collect();
    let windows = Tensor::from_vec(windows, len * width, device)?;
    let windows = x
        .contiguous()?
        .index_select(&windows, 2)?
        .reshape((batch, rows, len, width))?;
    let order = windows.detach().arg_sort_last_dim(true)?;
    let middle = order.narrow(D::Minus1, HALF_KERNEL, 1)?.contiguous()?;
    Ok(windows.gather(&middle, D::Minus1)?.squeeze(D::Minus1)?)
}
