//! The U-Net's training pass on the CPU as one autograd node. Composed op by op, every
//! convolution, ELU, pooling and up-sampling wrote a fresh tensor and its backward another,
//! and candle summed each gradient into a fresh zero tensor: at batch 16 that is about 1 GB of
//! new memory per step, and the kernel's page faults on it cost a third of the U-Net's time.
//! Here the forward keeps what the backward needs (each ELU output and pooled level) in a
//! [`TrainingWorkspace`] that the trainer keeps for the next step, and the backward walks the
//! layers in reverse with two gradient buffers, the max-pool and up-sampling backward fused
//! with the ELU's. Lengths, crops and skips come from the [`UnetPlan`]. Same kernels as the
//! composed path (`conv1d`, `maxpool`, `upsample_linear`), tested against it (output and every
//! gradient). f32 only; f64 and other devices keep the composed path.

use std::sync::{Arc, Mutex};

use candle_core::{CpuStorage, CustomOp2, DType, Layout, Shape, Tensor};
use rayon::prelude::*;

use super::{Unet, UnetPlan};
use crate::error::{Error, Result};
use crate::model::ops::conv1d::{forward_into, grad_input_into, grad_weight};
use crate::model::ops::elu::elu_in_place;
use crate::model::ops::kernel::{contiguous, elu_grad, rows_per_item, with_contiguous};
use crate::model::ops::{maxpool, upsample_linear};

/// The fused op's activation and gradient buffers, kept from one training step to the next
/// by whoever runs the steps (the trainer), as the transcriber keeps an
/// [`super::InferenceWorkspace`]. Candle owns the op once it is in the graph and calls its
/// backward later through `&self`, so the op holds a shared handle to this slot and hands the
/// buffers back after its backward (or when the graph is dropped): hence the `Arc<Mutex<..>>`.
/// Clones share the slot; a forward that finds it empty (two graphs alive at once) allocates
/// its own buffers.
#[derive(Clone, Default)]
pub struct TrainingWorkspace(Arc<Mutex<Option<Box<Buffers>>>>);

impl std::fmt::Debug for TrainingWorkspace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TrainingWorkspace")
    }
}

impl TrainingWorkspace {
    fn take(&self) -> Box<Buffers> {
        self.0
            .lock()
            .ok()
            .and_then(|mut slot| slot.take())
            .unwrap_or_default()
    }

    fn give_back(&self, buffers: Box<Buffers>) {
        if let Ok(mut slot) = self.0.lock() {
            *slot = Some(buffers);
        }
    }
}

/// Channel-major (B, C, L) arrays of one step, named after the forward's values.
#[derive(Default)]
struct Buffers {
    /// elu(conv(x, d_conv0)).
    a0: Vec<f32>,
    /// Encoder level i: c[i] = elu(conv(input, enc[i])), p[i] = max_pool2(c[i]).
    c: Vec<Vec<f32>>,
    p: Vec<Vec<f32>>,
    /// elu(conv(p[last], encode_conv)): the decoder's input.
    e: Vec<f32>,
    /// Decoder layer j: d[j] = elu(conv(y_j, dec[j])), y[j] = cat(up(d[j]), crop(skip)) is the
    /// next layer's input (y_0 = e).
    d: Vec<Vec<f32>>,
    y: Vec<Vec<f32>>,
    /// Gradients of y[j] (their second half feeds the skips).
    g_y: Vec<Vec<f32>>,
    /// Two scratch gradients as large as a full-rate level.
    g_a: Vec<f32>,
    g_b: Vec<f32>,
}

/// Resizes without caring for the contents (steady state: no work at all).
fn fit(v: &mut Vec<f32>, len: usize) {
    if v.len() != len {
        v.clear();
        v.resize(len, 0.0);
    }
}

fn fit_all(vs: &mut Vec<Vec<f32>>, lens: &[usize]) {
    vs.resize_with(lens.len(), Vec::new);
    for (v, &len) in vs.iter_mut().zip(lens) {
        fit(v, len);
    }
}

/// Two scratch gradients as large as the largest full-rate level of a batch of `b`.
fn grad_scratch_len(plan: &UnetPlan, b: usize) -> usize {
    let (first, n) = (plan.shape.first, plan.shape.channels);
    let conv0 = plan.conv.first().copied().unwrap_or(0);
    (b * first * plan.a0)
        .max(b * n * conv0)
        .max(b * n * plan.encode)
}

/// Offsets of every kernel in the flat weight vector: d_conv0, enc..., encode_conv, dec...,
/// last_conv weight, last_conv bias.
struct WeightSlices<'a> {
    d_conv0: &'a [f32],
    enc: Vec<&'a [f32]>,
    encode_conv: &'a [f32],
    dec: Vec<&'a [f32]>,
    last: &'a [f32],
    bias: &'a [f32],
}

fn split_weights<'a>(flat: &'a [f32], sizes: &[usize], enc: usize, dec: usize) -> WeightSlices<'a> {
    let mut parts = Vec::with_capacity(sizes.len());
    let mut rest = flat;
    for &s in sizes {
        let (head, tail) = rest.split_at(s);
        parts.push(head);
        rest = tail;
    }
    WeightSlices {
        d_conv0: parts[0],
        enc: parts[1..1 + enc].to_vec(),
        encode_conv: parts[1 + enc],
        dec: parts[2 + enc..2 + enc + dec].to_vec(),
        last: parts[2 + enc + dec],
        bias: parts[3 + enc + dec],
    }
}

/// `Unet::forward_fused`: the U-Net forward on the CPU in f32 as one op over (x, flat
/// weights), its buffers taken from `ws` and handed back after the backward.
pub(crate) fn forward(
    unet: &Unet,
    plan: UnetPlan,
    x: &Tensor,
    ws: &TrainingWorkspace,
) -> Result<Tensor> {
    if !unet.supports_fused() || !x.device().is_cpu() || x.dtype() != DType::F32 {
        return Err(Error::Invalid(
            "fused U-Net: needs f32 weights and input on the CPU (use forward_composed)".into(),
        ));
    }
    let batch = x.dim(0)?;
    let weights = unet.parameters();
    let sizes: Vec<usize> = weights.iter().map(|w| w.elem_count()).collect();
    let flat = Tensor::cat(
        &weights
            .iter()
            .map(|w| w.flatten_all())
            .collect::<candle_core::Result<Vec<_>>>()?,
        0,
    )?;
    let op = UnetTraining {
        call: Call { plan, batch },
        sizes,
        workspace: ws.clone(),
        saved: Mutex::new(None),
    };
    Ok(x.contiguous()?.apply_op2(&flat, op)?)
}

/// One call's geometry: the U-Net's plan for its input length, and its batch size.
struct Call {
    plan: UnetPlan,
    batch: usize,
}

struct UnetTraining {
    call: Call,
    sizes: Vec<usize>,
    workspace: TrainingWorkspace,
    /// This forward's activations until its backward (or the graph) is done with them.
    saved: Mutex<Option<Box<Buffers>>>,
}

impl Drop for UnetTraining {
    fn drop(&mut self) {
        if let Some(b) = self.saved.get_mut().ok().and_then(|s| s.take()) {
            self.workspace.give_back(b);
        }
    }
}

/// g *= elu'(y), element by element.
fn elu_grad_in_place(g: &mut [f32], y: &[f32]) {
    g.par_chunks_mut(1 << 14)
        .zip(y.par_chunks(1 << 14))
        .for_each(|(g, y)| {
            for (g, &y) in g.iter_mut().zip(y) {
                *g = elu_grad(y, *g);
            }
        });
}

/// out = elu(conv(input, w)) for input (b, c_in, len) and w (c_out, c_in, k).
fn conv_elu(
    input: &[f32],
    dims: (usize, usize, usize),
    w: &[f32],
    c_out: usize,
    k: usize,
    out: &mut [f32],
) {
    forward_into(input, dims, w, (c_out, dims.1, k), true, out);
}

/// Sizes of y_1 .. y_J (decoder layers 1.. and the last convolution's inputs) for a batch of b.
fn y_sizes(plan: &UnetPlan, b: usize) -> Vec<usize> {
    (1..=plan.dec.len())
        .map(|j| {
            let (c, l) = plan.y_dims(j);
            b * c * l
        })
        .collect()
}

impl Buffers {
    fn forward(&mut self, call: &Call, x: &[f32], w: &WeightSlices) -> Vec<f32> {
        let (plan, b) = (&call.plan, call.batch);
        let (first, n, k) = (plan.shape.first, plan.shape.channels, plan.shape.k);
        let sizes = |lens: &[usize]| lens.iter().map(|l| b * n * l).collect::<Vec<_>>();
        fit(&mut self.a0, b * first * plan.a0);
        fit_all(&mut self.c, &sizes(&plan.conv));
        fit_all(&mut self.p, &sizes(&plan.pool));
        fit(&mut self.e, b * n * plan.encode);
        fit_all(&mut self.d, &sizes(&plan.dec));
        fit_all(&mut self.y, &y_sizes(plan, b));

        conv_elu(x, (b, 1, plan.input), w.d_conv0, first, k, &mut self.a0);
        for i in 0..plan.conv.len() {
            let (c_in, len) = plan.enc_input(i);
            let input = if i == 0 { &self.a0 } else { &self.p[i - 1] };
            conv_elu(input, (b, c_in, len), w.enc[i], n, k, &mut self.c[i]);
            let (lc, lp) = (plan.conv[i], plan.pool[i]);
            let per = rows_per_item(lc);
            self.p[i]
                .par_chunks_mut(per * lp)
                .zip(self.c[i].par_chunks(per * lc))
                .for_each(|(p, c)| {
                    for (p, c) in p.chunks_mut(lp).zip(c.chunks(lc)) {
                        maxpool::forward_row(c, p);
                    }
                });
        }
        let deepest = plan.pool.len() - 1;
        let deepest_dims = (b, n, plan.pool[deepest]);
        conv_elu(
            &self.p[deepest],
            deepest_dims,
            w.encode_conv,
            n,
            k,
            &mut self.e,
        );
        for j in 0..plan.dec.len() {
            let (c_in, len) = plan.y_dims(j);
            let input = if j == 0 { &self.e } else { &self.y[j - 1] };
            conv_elu(input, (b, c_in, len), w.dec[j], n, k, &mut self.d[j]);
            let (ld, lu, offset) = (plan.dec[j], plan.up_len(j), plan.skip_offset(j));
            let level = plan.skip_level(j);
            let (skip, ls) = (&self.p[level], plan.pool[level]);
            let d = &self.d[j];
            // Item b's rows: n up-sampled d rows, then n cropped skip rows.
            self.y[j]
                .par_chunks_mut(lu)
                .enumerate()
                .for_each(|(row, y)| {
                    let (item, ch) = (row / (2 * n), row % (2 * n));
                    if ch < n {
                        let src = &d[(item * n + ch) * ld..][..ld];
                        upsample_linear::forward_row(src, y);
                    } else {
                        let src = &skip[(item * n + ch - n) * ls + offset..][..lu];
                        y.copy_from_slice(src);
                    }
                });
        }
        let dec_layers = plan.dec.len();
        let (c_in, len) = plan.y_dims(dec_layers);
        let input = if dec_layers == 0 {
            &self.e
        } else {
            &self.y[dec_layers - 1]
        };
        let c_out = 2 * n;
        let mut out = vec![0.0f32; b * c_out * plan.frames];
        forward_into(
            input,
            (b, c_in, len),
            w.last,
            (c_out, c_in, k),
            false,
            &mut out,
        );
        out.par_chunks_mut(plan.frames)
            .enumerate()
            .for_each(|(row, r)| {
                let bias = w.bias[row % c_out];
                for v in r.iter_mut() {
                    *v += bias;
                }
                elu_in_place(r);
            });
        out
    }

    /// Weight gradients (flat, in `split_weights` order) and, when `want_dx`, the input's.
    fn backward(
        &mut self,
        call: &Call,
        x: &[f32],
        w: &WeightSlices,
        out: &[f32],
        g_out: &[f32],
        want_dx: bool,
    ) -> (Vec<f32>, Option<Vec<f32>>) {
        let (plan, b) = (&call.plan, call.batch);
        let (first, n, k) = (plan.shape.first, plan.shape.channels, plan.shape.k);
        let enc_levels = plan.conv.len();
        let dec_layers = plan.dec.len();
        let scratch = grad_scratch_len(plan, b);
        fit(&mut self.g_a, scratch);
        fit(&mut self.g_b, scratch);
        fit_all(&mut self.g_y, &y_sizes(plan, b));
        let mut g_w_dec: Vec<Vec<f32>> = vec![Vec::new(); dec_layers];
        let mut g_w_enc: Vec<Vec<f32>> = vec![Vec::new(); enc_levels];

        // Last convolution (with bias).
        let c_out = 2 * n;
        let mut g_pre = g_out.to_vec();
        elu_grad_in_place(&mut g_pre, out);
        let mut g_bias = vec![0.0f32; c_out];
        for (row, g) in g_pre.chunks(plan.frames).enumerate() {
            g_bias[row % c_out] += g.iter().sum::<f32>();
        }
        let (c_in, len) = plan.y_dims(dec_layers);
        let top_input = if dec_layers == 0 {
            &self.e
        } else {
            &self.y[dec_layers - 1]
        };
        let gd = (b, c_out, plan.frames);
        let g_last = grad_weight(k, top_input, (b, c_in, len), &g_pre, gd);
        // The gradient of the last conv's input: y's (kept for the skips) or, without a
        // decoder, e's (in g_a).
        let top_grad = if dec_layers == 0 {
            &mut self.g_a[..b * c_in * len]
        } else {
            &mut self.g_y[dec_layers - 1][..]
        };
        grad_input_into(&g_pre, gd, w.last, (c_out, c_in, k), top_grad, len);
        drop(g_pre);

        // Decoder, top down: g_d (in g_b) = up-sampling backward of y's first half times
        // elu'(d); the input gradient goes to the layer below's g_y, or to g_a for e.
        for j in (0..dec_layers).rev() {
            let (ld, lu) = (plan.dec[j], plan.up_len(j));
            let g_d = &mut self.g_b[..b * n * ld];
            let (g_y, d) = (&self.g_y[j], &self.d[j]);
            g_d.par_chunks_mut(ld).enumerate().for_each(|(row, gd)| {
                let (item, ch) = (row / n, row % n);
                upsample_linear::backward_row(&g_y[(item * 2 * n + ch) * lu..][..lu], gd);
                for (g, &y) in gd.iter_mut().zip(&d[row * ld..][..ld]) {
                    *g = elu_grad(y, *g);
                }
            });
            let (c_in, len) = plan.y_dims(j);
            let input = if j == 0 { &self.e } else { &self.y[j - 1] };
            g_w_dec[j] = grad_weight(k, input, (b, c_in, len), g_d, (b, n, ld));
            let below = if j == 0 {
                &mut self.g_a[..b * c_in * len]
            } else {
                &mut self.g_y[j - 1][..]
            };
            grad_input_into(g_d, (b, n, ld), w.dec[j], (n, c_in, k), below, len);
        }

        // encode_conv: g_e in g_a; the deepest pooled level's gradient goes to g_b.
        let g_e = &mut self.g_a[..b * n * plan.encode];
        elu_grad_in_place(g_e, &self.e);
        let deepest = enc_levels - 1;
        let lp = plan.pool[deepest];
        let g_encode = grad_weight(k, &self.p[deepest], (b, n, lp), g_e, (b, n, plan.encode));
        grad_input_into(
            g_e,
            (b, n, plan.encode),
            w.encode_conv,
            (n, n, k),
            &mut self.g_b[..b * n * lp],
            lp,
        );

        // Encoder, bottom up: g_p (in g_b) plus its skip's gradient; g_c (in g_a) = pooling
        // backward times elu'(c); the input gradient overwrites g_b.
        for i in (0..enc_levels).rev() {
            let (lc, lp) = (plan.conv[i], plan.pool[i]);
            if let Some(j) = (0..dec_layers).find(|&j| plan.skip_level(j) == i) {
                let (lu, offset) = (plan.up_len(j), plan.skip_offset(j));
                let g_y = &self.g_y[j];
                self.g_b[..b * n * lp]
                    .par_chunks_mut(lp)
                    .enumerate()
                    .for_each(|(row, gp)| {
                        let (item, ch) = (row / n, row % n);
                        let src = &g_y[(item * 2 * n + n + ch) * lu..][..lu];
                        for (g, &s) in gp[offset..offset + lu].iter_mut().zip(src) {
                            *g += s;
                        }
                    });
            }
            let g_c = &mut self.g_a[..b * n * lc];
            let (g_p, c) = (&self.g_b[..b * n * lp], &self.c[i]);
            let per = rows_per_item(lc);
            g_c.par_chunks_mut(per * lc)
                .zip(c.par_chunks(per * lc).zip(g_p.par_chunks(per * lp)))
                .for_each(|(gc, (c, gp))| {
                    for ((gc, c), gp) in gc.chunks_mut(lc).zip(c.chunks(lc)).zip(gp.chunks(lp)) {
                        maxpool::backward_row(c, gp, gc);
                        for (g, &y) in gc.iter_mut().zip(c) {
                            *g = elu_grad(y, *g);
                        }
                    }
                });
            let (c_in, len) = plan.enc_input(i);
            let input = if i == 0 { &self.a0 } else { &self.p[i - 1] };
            g_w_enc[i] = grad_weight(k, input, (b, c_in, len), g_c, (b, n, lc));
            grad_input_into(
                g_c,
                (b, n, lc),
                w.enc[i],
                (n, c_in, k),
                &mut self.g_b[..b * c_in * len],
                len,
            );
        }

        // d_conv0.
        let g_a0 = &mut self.g_b[..b * first * plan.a0];
        elu_grad_in_place(g_a0, &self.a0);
        let gd0 = (b, first, plan.a0);
        let g_d0 = grad_weight(k, x, (b, 1, plan.input), g_a0, gd0);
        let g_x = want_dx.then(|| {
            let mut dx = vec![0.0f32; b * plan.input];
            grad_input_into(g_a0, gd0, w.d_conv0, (first, 1, k), &mut dx, plan.input);
            dx
        });

        let mut flat = g_d0;
        for g in g_w_enc {
            flat.extend(g);
        }
        flat.extend(g_encode);
        for g in g_w_dec {
            flat.extend(g);
        }
        flat.extend(g_last);
        flat.extend(g_bias);
        (flat, g_x)
    }
}

impl CustomOp2 for UnetTraining {
    fn name(&self) -> &'static str {
        "unet-training"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let (plan, batch) = (&self.call.plan, self.call.batch);
        let x = contiguous::<f32>(s1, l1, "unet-training input")?;
        let flat = contiguous::<f32>(s2, l2, "unet-training weights")?;
        if flat.len() != self.sizes.iter().sum::<usize>() || x.len() != batch * plan.input {
            candle_core::bail!("unet-training: operand sizes do not match the plan");
        }
        let w = split_weights(flat, &self.sizes, plan.conv.len(), plan.dec.len());
        let mut buffers = self.workspace.take();
        let out = buffers.forward(&self.call, x, &w);
        let mut saved = self
            .saved
            .lock()
            .map_err(|_| candle_core::Error::Msg("unet-training: poisoned lock".into()))?;
        if let Some(old) = saved.replace(buffers) {
            self.workspace.give_back(old);
        }
        Ok((
            CpuStorage::F32(out),
            Shape::from((batch, 2 * plan.shape.channels, plan.frames)),
        ))
    }

    fn bwd(
        &self,
        x: &Tensor,
        weights: &Tensor,
        out: &Tensor,
        g_out: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>)> {
        let Some(mut buffers) = self.saved.lock().ok().and_then(|mut s| s.take()) else {
            candle_core::bail!("unet-training: backward without a saved forward");
        };
        let plan = &self.call.plan;
        let want_dx = x.track_op();
        let (g_w, g_x) = with_contiguous::<f32, _>(x, "unet-training input", |xs| {
            with_contiguous::<f32, _>(weights, "unet-training weights", |flat| {
                with_contiguous::<f32, _>(out, "unet-training output", |o| {
                    with_contiguous::<f32, _>(g_out, "unet-training output gradient", |g| {
                        let w = split_weights(flat, &self.sizes, plan.conv.len(), plan.dec.len());
                        Ok(buffers.backward(&self.call, xs, &w, o, g, want_dx))
                    })
                })
            })
        })?;
        self.workspace.give_back(buffers);
        let g_w = Tensor::from_vec(g_w, weights.shape(), weights.device())?;
        let g_x = g_x
            .map(|g| Tensor::from_vec(g, x.shape(), x.device()))
            .transpose()?;
        Ok((g_x, weights.track_op().then_some(g_w)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::config::ModelConfig;
    use crate::model::gradcheck::{max_rel_diff, pseudo_random};
    use candle_core::{DType, Device, Var};
    use candle_nn::VarMap;

    fn small_config(k: usize, enc: usize, dec: usize) -> ModelConfig {
        ModelConfig {
            channels: 6,
            first_conv_channels: 5,
            kernel_size: k,
            encoder_layers: enc,
            decoder_layers: dec,
            ..ModelConfig::default()
        }
    }

    fn unet(cfg: &ModelConfig, seed: u64) -> Unet {
        let varmap = VarMap::new();
        let vb = crate::model::seeded_init::SeededVarMap::var_builder(
            &varmap,
            seed,
            DType::F32,
            &Device::Cpu,
        );
        Unet::new(cfg, vb).unwrap()
    }

    /// Output and every weight's (and the input's) gradient of the fused op against the
    /// composed ops, under a fixed random projection of the output.
    fn compare(unet: &Unet, ws: &TrainingWorkspace, batch: usize, len: usize, seed: u64) {
        let x = Var::from_tensor(
            &pseudo_random((batch, 1, len), seed)
                .to_dtype(DType::F32)
                .unwrap(),
        )
        .unwrap();
        let fused = unet.forward_fused(x.as_tensor(), ws).unwrap();
        let composed = unet.forward_composed(x.as_tensor()).unwrap();
        assert_eq!(fused.dims(), composed.dims());
        assert!(max_rel_diff(&composed, &fused) < 1e-5);

        let proj = pseudo_random(fused.dims3().unwrap(), seed + 1)
            .to_dtype(DType::F32)
            .unwrap();
        let grads = |y: &Tensor| (y * &proj).unwrap().sum_all().unwrap().backward().unwrap();
        let (g_fused, g_composed) = (grads(&fused), grads(&composed));
        let mut params: Vec<Tensor> = unet.parameters().into_iter().cloned().collect();
        params.push(x.as_tensor().clone());
        for p in &params {
            let (a, b) = (g_fused.get(p).unwrap(), g_composed.get(p).unwrap());
            let diff = max_rel_diff(b, a);
            assert!(diff < 1e-4, "gradient of {:?} differs by {diff}", p.dims());
        }
    }

    #[test]
    fn matches_the_composed_unet_for_the_release_layout() {
        // 10 encoder and 6 decoder layers at 6 channels; reuses the buffers on the second
        // length (and the first length again: resized down and up).
        let (net, ws) = (
            unet(&small_config(3, 10, 6), 1),
            TrainingWorkspace::default(),
        );
        compare(&net, &ws, 2, 8192, 10);
        compare(&net, &ws, 3, 9216, 20);
        compare(&net, &ws, 2, 8192, 30);
    }

    #[test]
    fn matches_the_composed_unet_for_other_shapes() {
        let ws = TrainingWorkspace::default();
        compare(&unet(&small_config(5, 6, 3), 4), &ws, 2, 2048, 40);
        compare(&unet(&small_config(3, 4, 0), 5), &ws, 1, 600, 50);
        compare(&unet(&small_config(1, 3, 2), 6), &ws, 2, 333, 60);
    }
}
