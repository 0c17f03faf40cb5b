//! The U-Net forward pass for inference on the CPU, without autograd: the hot path of
//! `transcribe`. The composed path (`Unet::forward_composed`) writes every convolution's full
//! output, then the pooled copy, into fresh tensors; at the input rate that is 50 channels x
//! 200 000 samples per 12-s window, and the page faults of that fresh memory cost as much as
//! the arithmetic. Here each encoder level is one pass over cache-sized time tiles (convolution,
//! ELU and max-pool on the tile while it is in cache), the first two convolutions are fused as
//! well so the full-rate signals never reach memory, and the level buffers live in an
//! [`InferenceWorkspace`] that later windows reuse. Lengths, crops and skips come from the
//! [`UnetPlan`]. Same arithmetic, same layout (channel-major), tested against
//! `Unet::forward_composed`.

use std::cell::RefCell;

use candle_core::{DType, Tensor};
use rayon::prelude::*;

use super::{Unet, UnetPlan, UnetShape};
use crate::error::Result;
use crate::model::ops::elu::elu_in_place;
use crate::model::ops::kernel::{gemm_into, Mat, SendPtr};
use crate::model::ops::upsample_linear;

/// Pooled output columns per work item: the convolution tile (50 x 2 x this) stays in L2.
const TILE: usize = 256;

/// A valid-convolution kernel (c_out, c_in, k), row-major as in the model file.
struct Kernel {
    w: Vec<f32>,
    c_out: usize,
    c_in: usize,
    k: usize,
}

impl Kernel {
    fn from_tensor(w: &Tensor) -> Result<Kernel> {
        let (c_out, c_in, k) = w.dims3()?;
        Ok(Kernel {
            w: w.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>()?,
            c_out,
            c_in,
            k,
        })
    }

    /// dst (c_out rows of stride `dst_stride`, n columns) = conv of x (c_in rows of stride
    /// `x_stride`, at least n + k - 1 columns).
    ///
    /// # Safety
    /// `x` must address c_in rows of n + k - 1 readable columns, `dst` c_out rows of n
    /// writable columns that nobody else touches meanwhile.
    unsafe fn apply(
        &self,
        x: *const f32,
        x_stride: usize,
        n: usize,
        dst: *mut f32,
        dst_stride: usize,
    ) {
        for tap in 0..self.k {
            // gemm: dst[t, o] (time down the columns) = sum_c x[c, t + tap] w[o, c, tap].
            unsafe {
                gemm_into(
                    n,
                    self.c_out,
                    self.c_in,
                    Mat::new(dst, 1, dst_stride),
                    tap > 0,
                    Mat::new(x.add(tap), 1, x_stride),
                    Mat::new(self.w.as_ptr().add(tap), self.k, self.c_in * self.k),
                );
            }
        }
    }
}

/// The U-Net's weights as plain arrays, with its shape: what the inference path runs.
pub struct InferenceUnet {
    shape: UnetShape,
    d_conv0: Kernel,
    enc: Vec<Kernel>,
    encode_conv: Kernel,
    dec: Vec<Kernel>,
    last: Kernel,
    bias: Vec<f32>,
}

/// Encoder level buffers kept between calls (one window after another) by whoever runs the
/// windows (the transcriber's `NetRunner`).
#[derive(Default)]
pub struct InferenceWorkspace {
    levels: Vec<Vec<f32>>,
}

thread_local! {
    /// Per-thread convolution tiles (a few hundred KB, reused by every work item).
    static TILES: RefCell<(Vec<f32>, Vec<f32>)> = const { RefCell::new((Vec::new(), Vec::new())) };
}

/// One level: `out` (c_out, t_out) = [pool](elu(conv(x))) for x (c_in, t_in), t_out from the
/// plan.
fn conv_elu_stage(
    x: &[f32],
    t_in: usize,
    kernel: &Kernel,
    pool: bool,
    t_out: usize,
    out: &mut Vec<f32>,
) {
    let step = if pool { 2 } else { 1 };
    let c_out = kernel.c_out;
    out.resize(c_out * t_out, 0.0);
    let out_ptr = SendPtr(out.as_mut_ptr());
    let starts: Vec<usize> = (0..t_out).step_by(TILE).collect();
    starts.into_par_iter().for_each(|p| {
        let m = TILE.min(t_out - p);
        let n = m * step;
        TILES.with_borrow_mut(|(tile, _)| {
            tile.resize(c_out * n, 0.0);
            // SAFETY: conv columns p*step .. p*step + n need x columns up to
            // p*step + n + k - 1 <= t_in; the tile is this thread's own.
            unsafe { kernel.apply(x.as_ptr().add(p * step), t_in, n, tile.as_mut_ptr(), n) };
            elu_in_place(tile);
            // SAFETY: columns p..p+m of every row of `out` belong to this work item alone.
            unsafe { store_tile(tile, n, pool, out_ptr, t_out, p, m) };
        });
    });
}

/// Copies a convolution tile (rows of `n` columns) into columns `p..p + m` of `out` (rows of
/// `t_out`), max-pooling pairs of columns when `pool`.
///
/// # Safety
/// `out` must address `tile.len() / n` rows of `t_out` columns, and columns `p..p + m` of them
/// must be written by nobody else meanwhile.
unsafe fn store_tile(
    tile: &[f32],
    n: usize,
    pool: bool,
    out: SendPtr<f32>,
    t_out: usize,
    p: usize,
    m: usize,
) {
    for (o, row) in tile.chunks_exact(n).enumerate() {
        let dst = unsafe { std::slice::from_raw_parts_mut(out.get().add(o * t_out + p), m) };
        if pool {
            for (d, pair) in dst.iter_mut().zip(row.chunks_exact(2)) {
                *d = pair[0].max(pair[1]);
            }
        } else {
            dst.copy_from_slice(row);
        }
    }
}

/// The first level with the input convolution fused in: out (c_out, t_out) =
/// pool(elu(enc0(elu(conv0(x))))), t_out from the plan.
fn first_level(x: &[f32], w: &InferenceUnet, t_out: usize, out: &mut Vec<f32>) {
    let k1 = w.enc[0].k;
    let (c_mid, c_out) = (w.d_conv0.c_out, w.enc[0].c_out);
    out.resize(c_out * t_out, 0.0);
    let out_ptr = SendPtr(out.as_mut_ptr());
    let starts: Vec<usize> = (0..t_out).step_by(TILE).collect();
    starts.into_par_iter().for_each(|p| {
        let m = TILE.min(t_out - p);
        let n = 2 * m;
        let n_mid = n + k1 - 1;
        TILES.with_borrow_mut(|(mid, tile)| {
            mid.resize(c_mid * n_mid, 0.0);
            tile.resize(c_out * n, 0.0);
            // SAFETY: input columns 2p .. 2p + n_mid + k0 - 1 <= x.len(); both tiles are this
            // thread's own and sized above.
            unsafe {
                w.d_conv0.apply(
                    x.as_ptr().add(2 * p),
                    x.len(),
                    n_mid,
                    mid.as_mut_ptr(),
                    n_mid,
                );
            }
            elu_in_place(mid);
            unsafe { w.enc[0].apply(mid.as_ptr(), n_mid, n, tile.as_mut_ptr(), n) };
            elu_in_place(tile);
            // SAFETY: columns p..p+m of every row of `out` belong to this work item alone.
            unsafe { store_tile(tile, n, true, out_ptr, t_out, p, m) };
        });
    });
}

/// Rows `[start, start + len)` of every channel of `x` (c, t_x), appended to `out`.
fn append_crop(x: &[f32], t_x: usize, start: usize, len: usize, out: &mut Vec<f32>) {
    for row in x.chunks_exact(t_x) {
        out.extend_from_slice(&row[start..start + len]);
    }
}

impl InferenceUnet {
    /// Copies the current weights (cheap: 0.2 M parameters), so a model that is still being
    /// trained is seen as it is now.
    pub fn of(unet: &Unet) -> Result<InferenceUnet> {
        let kernels = |ws: &[Tensor]| ws.iter().map(Kernel::from_tensor).collect::<Result<_>>();
        Ok(InferenceUnet {
            shape: unet.shape(),
            d_conv0: Kernel::from_tensor(&unet.d_conv0)?,
            enc: kernels(&unet.enc)?,
            encode_conv: Kernel::from_tensor(&unet.encode_conv)?,
            dec: kernels(&unet.dec)?,
            last: Kernel::from_tensor(&unet.last_conv_weight)?,
            bias: unet.last_conv_bias.to_dtype(DType::F32)?.to_vec1::<f32>()?,
        })
    }

    /// x (1, T) -> (r (2n, frames) channel-major, frames), the same numbers as
    /// `Unet::forward_composed` on (1, 1, T).
    pub fn forward(&self, x: &[f32], ws: &mut InferenceWorkspace) -> Result<(Vec<f32>, usize)> {
        let plan = UnetPlan::new(self.shape, x.len())?;
        let levels = plan.pool.len();
        ws.levels.resize_with(levels, Vec::new);
        first_level(x, self, plan.pool[0], &mut ws.levels[0]);
        for i in 1..levels {
            let (done, rest) = ws.levels.split_at_mut(i);
            let (kernel, t_in) = (&self.enc[i], plan.pool[i - 1]);
            conv_elu_stage(&done[i - 1], t_in, kernel, true, plan.pool[i], &mut rest[0]);
        }
        let mut y = Vec::new();
        let deepest = (&ws.levels[levels - 1], plan.pool[levels - 1]);
        conv_elu_stage(
            deepest.0,
            deepest.1,
            &self.encode_conv,
            false,
            plan.encode,
            &mut y,
        );
        let mut conv_out = Vec::new();
        for (j, kernel) in self.dec.iter().enumerate() {
            let (_, len) = plan.y_dims(j);
            conv_elu_stage(&y, len, kernel, false, plan.dec[j], &mut conv_out);
            let up = upsample_linear::forward(&conv_out, plan.dec[j]);
            let level = plan.skip_level(j);
            let skip = (&ws.levels[level], plan.pool[level]);
            y.clear();
            y.extend_from_slice(&up);
            append_crop(skip.0, skip.1, plan.skip_offset(j), plan.up_len(j), &mut y);
        }
        let (_, len) = plan.y_dims(plan.dec.len());
        let frames = plan.frames;
        let mut r = vec![0.0f32; self.last.c_out * frames];
        let r_ptr = SendPtr(r.as_mut_ptr());
        let starts: Vec<usize> = (0..frames).step_by(TILE).collect();
        starts.into_par_iter().for_each(|p| {
            let m = TILE.min(frames - p);
            // SAFETY: columns p..p+m of every row of r belong to this work item; x columns read
            // stay below p + m + k - 1 <= len.
            unsafe {
                self.last
                    .apply(y.as_ptr().add(p), len, m, r_ptr.get().add(p), frames)
            };
        });
        for (row, b) in r.chunks_exact_mut(frames).zip(&self.bias) {
            row.iter_mut().for_each(|v| *v += b);
            elu_in_place(row);
        }
        Ok((r, frames))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::seeded_init::SeededVarMap;
    use crate::model::ModelConfig;
    use candle_core::Device;
    use candle_nn::VarMap;

    fn unet(cfg: &ModelConfig, seed: u64) -> Unet {
        let map = VarMap::new();
        let vb = SeededVarMap::var_builder(&map, seed, DType::F32, &Device::Cpu);
        Unet::new(cfg, vb).unwrap()
    }

    fn signal(len: usize, seed: u64) -> Vec<f32> {
        let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        (0..len)
            .map(|i| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                let noise = (s >> 40) as f32 / (1u64 << 24) as f32 - 0.5;
                // Clicks and noise: both signs through every ELU.
                noise + if i % 977 == 0 { 3.0 } else { 0.0 }
            })
            .collect()
    }

    /// Worst |fast - reference| relative to the reference's largest magnitude.
    fn compare(cfg: &ModelConfig, len: usize, seed: u64, ws: &mut InferenceWorkspace) -> f32 {
        let net = unet(cfg, seed);
        let x = signal(len, seed);
        let reference = net
            .forward_composed(&Tensor::from_slice(&x, (1, 1, len), &Device::Cpu).unwrap())
            .unwrap();
        let (c, frames) = (reference.dim(1).unwrap(), reference.dim(2).unwrap());
        let reference = reference.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        let fast_net = InferenceUnet::of(&net).unwrap();
        let (fast, fast_frames) = fast_net.forward(&x, ws).unwrap();
        assert_eq!(
            (fast.len(), fast_frames),
            (c * frames, frames),
            "shape for {len} samples"
        );
        let scale = reference.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        assert!(scale > 0.0);
        let diff = fast
            .iter()
            .zip(&reference)
            .fold(0.0f32, |m, (a, b)| m.max((a - b).abs()));
        diff / scale
    }

    #[test]
    fn matches_the_composed_unet_across_lengths_and_reused_buffers() {
        let cfg = ModelConfig::default();
        let mut ws = InferenceWorkspace::default();
        // Longest first, so the shorter calls reuse larger buffers; then longer again.
        for (len, seed) in [(3 * 32_768, 1), (32_768, 2), (8 * 1024, 3), (40 * 1024, 4)] {
            let d = compare(&cfg, len, seed, &mut ws);
            assert!(d < 1e-5, "{len} samples: relative difference {d}");
        }
    }

    #[test]
    fn matches_other_shapes_of_the_network() {
        // A wider first convolution, kernel 5, fewer layers: nothing assumes the defaults.
        let cfg = ModelConfig {
            channels: 12,
            first_conv_channels: 7,
            kernel_size: 5,
            encoder_layers: 6,
            decoder_layers: 3,
            ..ModelConfig::default()
        };
        let d = compare(
            &cfg,
            6 * 1024 + 64 * 3,
            9,
            &mut InferenceWorkspace::default(),
        );
        assert!(d < 1e-5, "relative difference {d}");
    }
}
