//! The STFT of one pseudo-CQT scale, restricted to the FFT bins its basis uses (spec section 7.2).
//!
//! The loss's window is a Hann of n_fft/4 samples centred in an n_fft frame, and its 12 sparse
//! basis rows touch only ~50 of the n_fft/2+1 bins, so each frame needs a direct DFT over n_fft/4
//! samples at those bins: one gemm of the (overlapping, strided) frames against a window-folded
//! cos/sin kernel. With centre-reflect padding the frame at hop t covers the signal samples
//! `t·hop − L/2 .. t·hop + L/2` (L = n_fft/4), so only L/2 samples of reflection are ever read;
//! the result equals torch's `stft(center=True, pad_mode='reflect')` at those bins wherever torch
//! accepts the input (N > n_fft/2), and stays defined down to N > n_fft/8.
//!
//! Phases are taken relative to the frame centre (torch's differ by (−1)^bin); magnitudes agree.
//! On CPU this is a custom op whose backward is the exact adjoint (kernel transposed, overlap-add,
//! reflection folded back). Where the window is a whole number of hops (c1..c7 at hop 64) the op
//! evaluates the same sums as Hann-weighted block DFTs (`hann_blocks`), about 50x less work at c1
//! than the direct gemm, which remains for the other scales and as the tested reference.
//! [`LogCqtOp`] fuses a whole scale (STFT, magnitude, projection, log) into one CPU op; the loss
//! uses it. Other devices compose the same maths from candle ops (gather for the reflection, a
//! strided conv1d with the kernel bank, whose input gradient candle gets right).

use std::sync::Arc;

use candle_core::{DType, Device, Layout, Shape, Tensor};
use rayon::prelude::*;

use crate::dsp::cqt_basis::{periodic_hann, CqtScale};
use crate::error::{Error, Result};

mod hann_blocks;
mod log_cqt;
use hann_blocks::HannBlocks;

use super::kernel::{gemm, Float, Map1, Mat, OpResult};
pub use log_cqt::LogCqtOp;

/// Maps y (B, N) to the spectrum at the used bins, (B, 1 + N/hop, 2F): F real parts, then F
/// imaginary parts, bins ascending as [`CqtScale::used_bins`].
#[derive(Debug, Clone)]
pub struct BinStft {
    /// Non-zero window length L = n_fft/4.
    window_len: usize,
    hop: usize,
    n_bins: usize,
    /// L × 2F, row-major: w[m]·cos(2π f m'/n_fft) | −w[m]·sin(2π f m'/n_fft), m' = m − L/2.
    kernel64: Arc<Vec<f64>>,
    /// The exact block-sum evaluation, where the window is a whole number of hops.
    blocks: Option<Arc<HannBlocks>>,
}

impl BinStft {
    /// The fastest exact CPU evaluation for this scale (block sums where possible).
    pub fn new(scale: &CqtScale) -> Self {
        let mut stft = Self::direct(scale);
        stft.blocks = HannBlocks::new(scale.n_fft, scale.hop, stft.window_len, &scale.used_bins())
            .map(Arc::new);
        stft
    }

    /// The direct windowed DFT on CPU (one gemm over the n_fft/4 window samples per frame).
    pub fn direct(scale: &CqtScale) -> Self {
        let bins = scale.used_bins();
        let window_len = scale.window_len();
        let window = periodic_hann(window_len);
        let width = 2 * bins.len();
        let mut kernel64 = vec![0.0; window_len * width];
        for (m, w) in window.iter().enumerate() {
            let centred = m as f64 - (window_len / 2) as f64;
            for (j, &bin) in bins.iter().enumerate() {
                let phase = 2.0 * std::f64::consts::PI * bin as f64 * centred / scale.n_fft as f64;
                kernel64[m * width + j] = w * phase.cos();
                kernel64[m * width + bins.len() + j] = -w * phase.sin();
            }
        }
        BinStft {
            window_len,
            hop: scale.hop,
            n_bins: bins.len(),
            kernel64: Arc::new(kernel64),
            blocks: None,
        }
    }

    /// Whether the CPU op uses the block-sum path.
    pub fn uses_block_sums(&self) -> bool {
        self.blocks.is_some()
    }

    /// Number of used bins F (the output has 2F columns).
    pub fn n_bins(&self) -> usize {
        self.n_bins
    }

    pub fn n_frames(&self, n_samples: usize) -> usize {
        1 + n_samples / self.hop
    }

    /// Shortest legal signal: the reflection of L/2 samples needs N > L/2.
    pub fn min_samples(&self) -> usize {
        self.window_len / 2 + 1
    }

    /// (B, N) of a legal input, or an error saying what is wrong with it.
    pub fn check(&self, y: &Tensor) -> Result<(usize, usize)> {
        let (batch, n) = y.dims2()?;
        if n < self.min_samples() {
            return Err(Error::Invalid(format!(
                "CQT loss: a signal of {n} samples is too short (needs at least {})",
                self.min_samples()
            )));
        }
        Ok((batch, n))
    }

    /// The fused custom op on CPU, the composed path on other devices.
    pub fn forward(&self, y: &Tensor) -> Result<Tensor> {
        self.check(y)?;
        if y.device().is_cpu() {
            Ok(self.clone().apply(y)?)
        } else {
            self.forward_composed(y)
        }
    }

    /// The same map from candle ops only (any device); on CPU it serves as a cross-check.
    pub fn forward_composed(&self, y: &Tensor) -> Result<Tensor> {
        let kernel = self.kernel_bank(y.device(), y.dtype())?;
        self.forward_composed_with(y, &kernel)
    }

    /// The conv1d weight of the composed path, (2F, 1, L): build it once per device.
    pub fn kernel_bank(&self, device: &Device, dtype: DType) -> Result<Tensor> {
        let width = 2 * self.n_bins;
        let kernel =
            Tensor::from_slice(self.kernel64.as_slice(), (self.window_len, width), device)?;
        Ok(kernel.to_dtype(dtype)?.t()?.contiguous()?.unsqueeze(1)?)
    }

    /// [`Self::forward_composed`] with a prebuilt [`Self::kernel_bank`].
    pub fn forward_composed_with(&self, y: &Tensor, kernel: &Tensor) -> Result<Tensor> {
        let (_, n) = self.check(y)?;
        let half = self.window_len / 2;
        let index: Vec<u32> = (0..n + self.window_len)
            .map(|q| reflect(q as isize - half as isize, n) as u32)
            .collect();
        let index = Tensor::from_vec(index, n + self.window_len, y.device())?;
        // CUDA's index_select takes only contiguous sources; the loss's target is a crop.
        let padded = y.contiguous()?.index_select(&index, 1)?.unsqueeze(1)?;
        let spec = padded.conv1d(&kernel.to_dtype(y.dtype())?, 0, self.hop, 1, 1)?;
        Ok(spec.transpose(1, 2)?.contiguous()?)
    }

    /// One signal: `y` (N) -> `out` (frames × 2F).
    pub(crate) fn spectrum<T: Float>(&self, y: &[T], out: &mut [f64]) {
        let n = y.len();
        let (l, half, width) = (self.window_len, self.window_len / 2, 2 * self.n_bins);
        let frames = self.n_frames(n);
        let padded: Vec<T> = (0..n + l)
            .map(|q| y[reflect(q as isize - half as isize, n)])
            .collect();
        if let Some(blocks) = &self.blocks {
            blocks.forward(&padded, frames, out);
            return;
        }
        let padded: Vec<f64> = padded.iter().map(|v| v.to_f64()).collect();
        // Frames overlap in memory: row t starts at t·hop (row stride hop).
        // SAFETY: rows 0..frames of stride hop and length l fit in `padded` ((frames − 1)·hop + l
        // ≤ n + l); the kernel is l × width; out is frames × width.
        unsafe {
            gemm(
                (frames, width, l),
                Mat::new(out.as_mut_ptr(), width, 1),
                false,
                Mat::new(padded.as_ptr(), self.hop, 1),
                Mat::new(self.kernel64.as_ptr(), width, 1),
            );
        }
    }

    /// The transpose of [`Self::spectrum`]: `grad` (frames × 2F) -> `dy` (N), added.
    pub(crate) fn adjoint<T: Float>(&self, grad: &[f64], dy: &mut [T]) {
        let n = dy.len();
        let (l, half, width) = (self.window_len, self.window_len / 2, 2 * self.n_bins);
        let frames = self.n_frames(n);
        let mut dpadded = vec![0.0; n + l];
        if let Some(blocks) = &self.blocks {
            let mut d = vec![T::zero(); n + l];
            blocks.adjoint(grad, frames, &mut d);
            for (a, b) in dpadded.iter_mut().zip(d) {
                *a = b.to_f64();
            }
        } else {
            let mut dframes = vec![0.0; frames * l];
            // SAFETY: grad is frames × width, the kernel read transposed width × l, dframes
            // frames × l, all in bounds.
            unsafe {
                gemm(
                    (frames, l, width),
                    Mat::new(dframes.as_mut_ptr(), l, 1),
                    false,
                    Mat::new(grad.as_ptr(), width, 1),
                    Mat::new(self.kernel64.as_ptr(), 1, width),
                );
            }
            for (t, row) in dframes.chunks(l).enumerate() {
                let start = t * self.hop;
                for (d, &g) in dpadded[start..start + l].iter_mut().zip(row) {
                    *d += g;
                }
            }
        }
        for (q, &g) in dpadded.iter().enumerate() {
            dy[reflect(q as isize - half as isize, n)] += T::from_f64(g);
        }
    }

    fn forward_cpu<T: Float>(&self, y: &[T], batch: usize, n: usize) -> Vec<T> {
        let width = 2 * self.n_bins * self.n_frames(n);
        let mut out = vec![T::zero(); batch * width];
        out.par_chunks_mut(width)
            .zip(y.par_chunks(n))
            .for_each(|(out, y)| {
                let mut out64 = vec![0.0; width];
                self.spectrum(y, &mut out64);
                for (o, v) in out.iter_mut().zip(out64) {
                    *o = T::from_f64(v);
                }
            });
        out
    }
}

/// torch/numpy 'reflect' index (edge not repeated), valid for −n < i < 2n − 1.
pub(crate) fn reflect(i: isize, n: usize) -> usize {
    let n = n as isize;
    let r = if i < 0 {
        -i
    } else if i >= n {
        2 * (n - 1) - i
    } else {
        i
    };
    r as usize
}

impl Map1 for BinStft {
    const OP: &'static str = "cqt-bin-stft";

    fn shape(&self, l: &Layout) -> OpResult<Shape> {
        let (batch, n) = l.shape().dims2()?;
        Ok(Shape::from((batch, self.n_frames(n), 2 * self.n_bins)))
    }

    fn f<T: Float>(&self, y: &[T], l: &Layout) -> OpResult<Vec<T>> {
        let (batch, n) = l.shape().dims2()?;
        Ok(self.forward_cpu(y, batch, n))
    }

    fn bwd(&self, y: &Tensor, _: &Tensor, g: &Tensor) -> OpResult<Option<Tensor>> {
        let adjoint = BinStftAdjoint {
            stft: self.clone(),
            n_samples: y.dims2()?.1,
        };
        Ok(Some(adjoint.apply_no_bwd(g)?))
    }
}

/// The transpose of [`BinStft`]: (B, frames, 2F) -> (B, N).
struct BinStftAdjoint {
    stft: BinStft,
    n_samples: usize,
}

impl BinStftAdjoint {
    fn run<T: Float>(&self, grad: &[T], batch: usize) -> Vec<T> {
        let n = self.n_samples;
        let width = 2 * self.stft.n_bins * self.stft.n_frames(n);
        let mut out = vec![T::zero(); batch * n];
        out.par_chunks_mut(n)
            .zip(grad.par_chunks(width))
            .for_each(|(dy, grad)| {
                let grad: Vec<f64> = grad.iter().map(|v| v.to_f64()).collect();
                self.stft.adjoint(&grad, dy);
            });
        out
    }
}

impl Map1 for BinStftAdjoint {
    const OP: &'static str = "cqt-bin-stft-adjoint";

    fn shape(&self, l: &Layout) -> OpResult<Shape> {
        let (batch, frames, width) = l.shape().dims3()?;
        if frames != self.stft.n_frames(self.n_samples) || width != 2 * self.stft.n_bins {
            candle_core::bail!(
                "{}: gradient shape {:?} does not match",
                Self::OP,
                l.shape()
            );
        }
        Ok(Shape::from((batch, self.n_samples)))
    }

    fn f<T: Float>(&self, g: &[T], l: &Layout) -> OpResult<Vec<T>> {
        Ok(self.run(g, l.shape().dims3()?.0))
    }
}

/// Dtypes the op computes in.
pub fn is_supported(dtype: DType) -> bool {
    matches!(dtype, DType::F32 | DType::F64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Var};

    use crate::dsp::cqt_basis::cqt_scales;
    use crate::model::gradcheck::{max_abs, max_abs_diff};

    fn signal(batch: usize, n: usize, seed: f64) -> Vec<f64> {
        (0..batch * n)
            .map(|i| ((i as f64 * 0.7123 + seed).sin() * 43758.5453).fract() - 0.5)
            .collect()
    }

    /// Straight definition: full-window direct DFT of the reflect-padded frame, at one bin.
    fn naive_bin(y: &[f64], n_fft: usize, hop: usize, frame: usize, bin: usize) -> (f64, f64) {
        let n = y.len();
        let window: Vec<f64> = {
            let mut w = vec![0.0; n_fft];
            let l = n_fft / 4;
            for (i, v) in periodic_hann(l).into_iter().enumerate() {
                w[n_fft / 2 - n_fft / 8 + i] = v;
            }
            w
        };
        let (mut re, mut im) = (0.0, 0.0);
        for (k, w) in window.iter().enumerate() {
            if *w == 0.0 {
                continue;
            }
            let i = (frame * hop + k) as isize - (n_fft / 2) as isize;
            let x = y[reflect(i, n)];
            let phase = 2.0 * std::f64::consts::PI * (bin * k) as f64 / n_fft as f64;
            re += w * x * phase.cos();
            im -= w * x * phase.sin();
        }
        (re, im)
    }

    #[test]
    fn magnitudes_match_the_definition_at_every_used_bin() {
        let scales = cqt_scales(8, 12, 64, 16_000).unwrap();
        for (scale, stft) in [&scales[3], &scales[6], &scales[7]]
            .into_iter()
            .flat_map(|s| [(s, BinStft::new(s)), (s, BinStft::direct(s))])
        {
            let n = 1500;
            let y = signal(1, n, 0.3);
            let out = stft
                .forward(&Tensor::from_vec(y.clone(), (1, n), &Device::Cpu).unwrap())
                .unwrap();
            let out = out.squeeze(0).unwrap().to_vec2::<f64>().unwrap();
            let bins = scale.used_bins();
            let f = bins.len();
            for frame in [0, 1, 7, n / 64] {
                for (j, &bin) in bins.iter().enumerate().step_by(5) {
                    let (re, im) = naive_bin(&y, scale.n_fft, 64, frame, bin);
                    let got = out[frame][j].hypot(out[frame][f + j]);
                    assert!(
                        (got - re.hypot(im)).abs() < 1e-9 * (1.0 + got),
                        "n_fft {} frame {frame} bin {bin}: {got} vs {}",
                        scale.n_fft,
                        re.hypot(im)
                    );
                }
            }
        }
    }

    #[test]
    fn backward_is_the_adjoint_of_forward() {
        // <A y, g> = <y, Aᵀ g> for random y, g: checks overlap-add and the reflection fold.
        let scales = cqt_scales(8, 12, 64, 16_000).unwrap();
        for stft in [&scales[2], &scales[6], &scales[7]]
            .into_iter()
            .flat_map(|s| [BinStft::new(s), BinStft::direct(s)])
        {
            let (b, n) = (2, 700);
            let y = Var::from_vec(signal(b, n, 1.0), (b, n), &Device::Cpu).unwrap();
            let frames = stft.n_frames(n);
            let g = Tensor::from_vec(
                signal(b, frames * 2 * stft.n_bins(), 2.0),
                (b, frames, 2 * stft.n_bins()),
                &Device::Cpu,
            )
            .unwrap();
            let ay = stft.forward(y.as_tensor()).unwrap();
            let lhs = (&ay * &g)
                .unwrap()
                .sum_all()
                .unwrap()
                .to_scalar::<f64>()
                .unwrap();
            let grads = (&ay * &g).unwrap().sum_all().unwrap().backward().unwrap();
            let aty = grads.get(y.as_tensor()).unwrap();
            let rhs = (aty * y.as_tensor())
                .unwrap()
                .sum_all()
                .unwrap()
                .to_scalar::<f64>()
                .unwrap();
            assert!(
                (lhs - rhs).abs() < 1e-9 * lhs.abs().max(1.0),
                "{lhs} vs {rhs}"
            );
        }
    }

    #[test]
    fn composed_path_equals_the_custom_op() {
        let scales = cqt_scales(8, 12, 64, 16_000).unwrap();
        for scale in [&scales[1], &scales[5]] {
            let stft = BinStft::new(scale);
            let (b, n) = (2, 2000);
            let y = Tensor::from_vec(signal(b, n, 4.0), (b, n), &Device::Cpu).unwrap();
            let fast = stft.forward(&y).unwrap();
            let composed = stft.forward_composed(&y).unwrap();
            let diff = max_abs_diff(&fast, &composed);
            assert!(diff < 1e-9, "max diff {diff}");
        }
    }

    #[test]
    fn block_sums_equal_the_direct_dft() {
        let scales = cqt_scales(8, 12, 64, 16_000).unwrap();
        let used: Vec<bool> = scales
            .iter()
            .map(|s| BinStft::new(s).uses_block_sums())
            .collect();
        assert_eq!(used, [true, true, true, true, true, true, true, false]);
        let (b, n) = (2, 3000);
        let y = Tensor::from_vec(signal(b, n, 7.0), (b, n), &Device::Cpu).unwrap();
        for scale in &scales[..7] {
            let blocks = BinStft::new(scale).forward(&y).unwrap();
            let direct = BinStft::direct(scale).forward(&y).unwrap();
            let (peak, diff) = (max_abs(&direct), max_abs_diff(&blocks, &direct));
            assert!(
                diff < 1e-10 * peak,
                "n_fft {}: max diff {diff} (peak {peak})",
                scale.n_fft
            );
        }
    }

    #[test]
    fn other_hops_take_the_right_path_and_stay_adjoint() {
        // hop 32: every window is whole hops; hop 48 and 100: none is, all take the direct path.
        for (hop, expect_blocks) in [(32, 8), (48, 0), (100, 0)] {
            let scales = cqt_scales(8, 12, hop, 16_000).unwrap();
            let with_blocks = scales
                .iter()
                .filter(|s| BinStft::new(s).uses_block_sums())
                .count();
            assert_eq!(with_blocks, expect_blocks, "hop {hop}");
            let (b, n) = (1, 2500);
            let y = Var::from_vec(signal(b, n, 3.0), (b, n), &Device::Cpu).unwrap();
            for scale in [&scales[1], &scales[4], &scales[7]] {
                let fast = BinStft::new(scale);
                let direct = BinStft::direct(scale);
                let a = fast.forward(y.as_tensor()).unwrap();
                let d = direct.forward(y.as_tensor()).unwrap();
                assert_eq!(a.dims(), &[b, 1 + n / hop, 2 * fast.n_bins()]);
                let (peak, diff) = (max_abs(&d), max_abs_diff(&a, &d));
                assert!(
                    diff < 1e-10 * peak,
                    "hop {hop} n_fft {}: {diff}",
                    scale.n_fft
                );
                let g = Tensor::from_vec(signal(1, a.elem_count(), 5.0), a.dims(), &Device::Cpu)
                    .unwrap();
                let lhs = (&a * &g).unwrap().sum_all().unwrap();
                let grad = lhs.backward().unwrap();
                let rhs = (grad.get(y.as_tensor()).unwrap() * y.as_tensor())
                    .unwrap()
                    .sum_all()
                    .unwrap();
                let (lhs, rhs) = (
                    lhs.to_scalar::<f64>().unwrap(),
                    rhs.to_scalar::<f64>().unwrap(),
                );
                assert!(
                    (lhs - rhs).abs() < 1e-9 * lhs.abs().max(1.0),
                    "hop {hop}: {lhs} vs {rhs}"
                );
            }
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(24))]
        /// For any length, hop and scale: block sums equal the direct DFT, and the backward of
        /// each is its exact transpose.
        #[test]
        fn any_length_and_hop(scale in 0usize..8, hop in proptest::sample::select(vec![16usize, 32, 64, 80, 128]), extra in 0usize..1500, seed in 0.0f64..10.0) {
            let scales = cqt_scales(8, 12, hop, 16_000).unwrap();
            let scale = &scales[scale];
            let fast = BinStft::new(scale);
            let direct = BinStft::direct(scale);
            let n = fast.min_samples() + extra;
            let y = Var::from_vec(signal(1, n, seed), (1, n), &Device::Cpu).unwrap();
            let a = fast.forward(y.as_tensor()).unwrap();
            let d = direct.forward(y.as_tensor()).unwrap();
            let peak = d.abs().unwrap().max_all().unwrap().to_scalar::<f64>().unwrap();
            let diff = (&a - &d).unwrap().abs().unwrap().max_all().unwrap().to_scalar::<f64>().unwrap();
            proptest::prop_assert!(diff <= 1e-10 * peak, "n_fft {} n {n}: {diff}", scale.n_fft);
            let g = Tensor::from_vec(signal(1, a.elem_count(), seed + 1.0), a.dims(), &Device::Cpu).unwrap();
            for out in [&a, &d] {
                let lhs = (out * &g).unwrap().sum_all().unwrap();
                let grads = lhs.backward().unwrap();
                let rhs = (grads.get(y.as_tensor()).unwrap() * y.as_tensor()).unwrap().sum_all().unwrap();
                let (lhs, rhs) = (lhs.to_scalar::<f64>().unwrap(), rhs.to_scalar::<f64>().unwrap());
                proptest::prop_assert!((lhs - rhs).abs() <= 1e-9 * lhs.abs().max(1.0), "{lhs} vs {rhs}");
            }
        }
    }

    #[test]
    fn too_short_signals_are_refused() {
        let scales = cqt_scales(1, 12, 64, 16_000).unwrap();
        let stft = BinStft::new(&scales[0]);
        let y = Tensor::zeros((1, 2048), DType::F32, &Device::Cpu).unwrap();
        assert!(stft.forward(&y).is_err());
        let y = Tensor::zeros((1, 2049), DType::F32, &Device::Cpu).unwrap();
        assert!(stft.forward(&y).is_ok());
    }
}
