//! The GRU recurrence over a whole sequence as ONE custom op with a hand-written backward (BPTT).
//!
//! A GRU built from per-step candle ops is quadratic on the backward pass (every step's
//! indexing creates a full-size zero gradient) and, even without that, spends its time in
//! op dispatch for 11-wide products. So the caller does the input projection
//! `gx = x·W_ihᵀ + b_ih` for all steps as one matmul (autograd handles it) and this op runs the
//! recurrence with PyTorch semantics (gates r, z, n; h0 = 0):
//!
//! r = σ(gx_r + W_hr h + b_hr), z = σ(gx_z + W_hz h + b_hz),
//! n = tanh(gx_n + r ⊙ (W_hn h + b_hn)), h' = (1 − z) ⊙ n + z ⊙ h.
//!
//! The backward recomputes the gates from the saved outputs (h_{t−1} is the previous output),
//! which keeps the op stateless at the cost of one extra H×3H product per step.

use candle_core::{CpuStorage, CustomOp3, Layout, Shape, Storage, Tensor, WithDType};
use rayon::prelude::*;

/// Runs the GRU recurrence over `gx` (B, T, 3H) with `w_hh` (3H, H) and `b_hh` (3H) and returns
/// every hidden state (B, T, H). With `reverse`, the sequence is scanned from the last step to
/// the first (the backward half of a bidirectional GRU); output t is then the state after
/// consuming steps T−1..=t, as in PyTorch.
pub fn gru_recurrence(
    gx: &Tensor,
    w_hh: &Tensor,
    b_hh: &Tensor,
    reverse: bool,
) -> candle_core::Result<Tensor> {
    check_shapes(gx, w_hh, b_hh)?;
    if gx.device().is_cpu() {
        gx.contiguous()?.apply_op3(
            &w_hh.contiguous()?,
            &b_hh.contiguous()?,
            GruRecurrence {
                reverse,
                layout: SeqLayout::TimeMajor,
            },
        )
    } else {
        gru_recurrence_composed(gx, w_hh, b_hh, reverse)
    }
}

/// The same recurrence on channels-first tensors: `gx` (B, 3H, T) -> hidden states (B, H, T).
/// This is the layout of the U-Net features, so the input projection is one `W_ih · r` matmul
/// and no transposed copy is ever made (candle's strided copies are slow).
pub fn gru_recurrence_channels_first(
    gx: &Tensor,
    w_hh: &Tensor,
    b_hh: &Tensor,
    reverse: bool,
) -> candle_core::Result<Tensor> {
    check_shapes(&gx.transpose(1, 2)?, w_hh, b_hh)?;
    if gx.device().is_cpu() {
        gx.contiguous()?.apply_op3(
            &w_hh.contiguous()?,
            &b_hh.contiguous()?,
            GruRecurrence {
                reverse,
                layout: SeqLayout::ChannelsFirst,
            },
        )
    } else {
        gru_recurrence_composed(&gx.transpose(1, 2)?, w_hh, b_hh, reverse)?.transpose(1, 2)
    }
}

/// The same recurrence step by step with ordinary candle ops: the fallback for non-CPU devices
/// and an independent reference for the tests (its gradients come from candle's autograd).
pub fn gru_recurrence_composed(
    gx: &Tensor,
    w_hh: &Tensor,
    b_hh: &Tensor,
    reverse: bool,
) -> candle_core::Result<Tensor> {
    let (batch, steps, hidden) = check_shapes(gx, w_hh, b_hh)?;
    let w_t = w_hh.t()?;
    let mut h = Tensor::zeros((batch, hidden), gx.dtype(), gx.device())?;
    let mut outputs = Vec::with_capacity(steps);
    for step in 0..steps {
        let t = if reverse { steps - 1 - step } else { step };
        let gx_t = gx.narrow(1, t, 1)?.squeeze(1)?;
        let gh = h.matmul(&w_t)?.broadcast_add(b_hh)?;
        let gate = |x: &Tensor, i: usize| x.narrow(1, i * hidden, hidden);
        let r = candle_nn::ops::sigmoid(&(gate(&gx_t, 0)? + gate(&gh, 0)?)?)?;
        let z = candle_nn::ops::sigmoid(&(gate(&gx_t, 1)? + gate(&gh, 1)?)?)?;
        let n = (gate(&gx_t, 2)? + (&r * gate(&gh, 2)?)?)?.tanh()?;
        h = (((1.0 - &z)? * n)? + (z * &h)?)?;
        outputs.push(h.clone());
    }
    if reverse {
        outputs.reverse();
    }
    Tensor::stack(&outputs, 1)
}

/// (B, T, H) from the shapes of the three inputs, or a shape error naming the mismatch.
fn check_shapes(
    gx: &Tensor,
    w_hh: &Tensor,
    b_hh: &Tensor,
) -> candle_core::Result<(usize, usize, usize)> {
    let (batch, steps, three_h) = gx.dims3()?;
    let (rows, hidden) = w_hh.dims2()?;
    let bias = b_hh.dims1()?;
    if three_h != 3 * hidden || rows != three_h || bias != three_h {
        candle_core::bail!(
            "gru: gx {:?}, w_hh {:?}, b_hh {:?} do not fit (B,T,3H), (3H,H), (3H)",
            gx.dims(),
            w_hh.dims(),
            b_hh.dims()
        );
    }
    Ok((batch, steps, hidden))
}

struct GruRecurrence {
    reverse: bool,
    layout: SeqLayout,
}

/// How one sequence's (steps x channels) block is stored.
#[derive(Debug, Clone, Copy)]
enum SeqLayout {
    /// (T, C): the channels of a step are adjacent.
    TimeMajor,
    /// (C, T): the steps of a channel are adjacent.
    ChannelsFirst,
}

/// Element strides (per step, per channel) of a (steps x channels) block.
#[derive(Debug, Clone, Copy)]
struct Strides {
    step: usize,
    channel: usize,
}

impl SeqLayout {
    fn strides(self, steps: usize, channels: usize) -> Strides {
        match self {
            SeqLayout::TimeMajor => Strides {
                step: channels,
                channel: 1,
            },
            SeqLayout::ChannelsFirst => Strides {
                step: 1,
                channel: steps,
            },
        }
    }
}

/// Copies step t of a strided block into `dst` (one value per channel).
#[inline]
fn gather_step<T: Copy>(src: &[T], s: Strides, t: usize, dst: &mut [T]) {
    for (c, d) in dst.iter_mut().enumerate() {
        *d = src[t * s.step + c * s.channel];
    }
}

/// Writes `values` into step t of a strided block.
#[inline]
fn scatter_step<T: Copy>(dst: &mut [T], s: Strides, t: usize, values: &[T]) {
    for (c, v) in values.iter().enumerate() {
        dst[t * s.step + c * s.channel] = *v;
    }
}

/// The float arithmetic the kernels need, for f32 (training) and f64 (finite differences).
pub(super) trait Real:
    WithDType
    + std::ops::Add<Output = Self>
    + std::ops::Sub<Output = Self>
    + std::ops::Mul<Output = Self>
    + std::ops::AddAssign
{
    fn sigmoid(self) -> Self;
    fn tanh(self) -> Self;
}

impl Real for f32 {
    #[inline(always)]
    fn sigmoid(self) -> Self {
        1.0 / (1.0 + exp_f32(-self))
    }
    #[inline(always)]
    fn tanh(self) -> Self {
        // Absolute error ~1e-7 (the form loses relative precision near 0, which a GRU gate
        // does not care about).
        1.0 - 2.0 / (exp_f32(2.0 * self) + 1.0)
    }
}

/// e^x for f32 without branches or calls, so that loops over gates vectorise (libm's expf and
/// tanhf are scalar calls and dominated the recurrence). Cephes' expf: x = n·ln2 + r with
/// |r| <= ln2/2, a degree-7 polynomial for e^r, then 2^n through the exponent bits.
/// Relative error ~2e-7; x is clamped to [−87, 88], so the result is finite and normal.
#[inline(always)]
fn exp_f32(x: f32) -> f32 {
    // Round-to-nearest by the 1.5·2^23 trick (no SSE4.1 rounding instruction needed).
    const ROUND: f32 = 12_582_912.0;
    let x = x.clamp(-87.0, 88.0);
    let n = (x * std::f32::consts::LOG2_E + ROUND) - ROUND;
    let r = x - n * 0.693_359_4 + n * 2.121_944_4e-4;
    let p = ((((1.987_569_1e-4 * r + 1.398_199_9e-3) * r + 8.333_452e-3) * r + 4.166_579_6e-2) * r
        + 0.166_666_65)
        * r
        + 0.5;
    let y = p * r * r + r + 1.0;
    y * f32::from_bits(((n as i32 + 127) as u32) << 23)
}

impl Real for f64 {
    fn sigmoid(self) -> Self {
        1.0 / (1.0 + (-self).exp())
    }
    fn tanh(self) -> Self {
        f64::tanh(self)
    }
}

/// Sequences per rayon task: enough work per task that scheduling is negligible even for the
/// 11-step scalar GRU over B·T sequences, and a fixed split so sums do not depend on threads.
fn items_per_task(steps: usize, hidden: usize) -> usize {
    let work_per_item = steps * hidden * hidden.max(4) * 3;
    (65_536 / work_per_item.max(1)).clamp(1, 4096)
}

/// Step index in time order for the `step`-th step processed.
fn time_index(step: usize, steps: usize, reverse: bool) -> usize {
    if reverse {
        steps - 1 - step
    } else {
        step
    }
}

/// gh = W_hh h + b_hh.
fn hidden_projection<T: Real>(w: &[T], b: &[T], h: &[T], gh: &mut [T]) {
    let hidden = h.len();
    for (j, g) in gh.iter_mut().enumerate() {
        let row = &w[j * hidden..(j + 1) * hidden];
        let mut acc = b[j];
        for (wk, hk) in row.iter().zip(h) {
            acc += *wk * *hk;
        }
        *g = acc;
    }
}

/// Gates (r, z, n) of unit i from the input and hidden projections.
#[inline]
fn gates<T: Real>(gx: &[T], gh: &[T], i: usize, hidden: usize) -> (T, T, T) {
    let r = (gx[i] + gh[i]).sigmoid();
    let z = (gx[hidden + i] + gh[hidden + i]).sigmoid();
    let n = (gx[2 * hidden + i] + r * gh[2 * hidden + i]).tanh();
    (r, z, n)
}

/// Forward pass of one sequence: gx (T x 3H block) -> out (T x H block), both in `layout`.
fn forward_sequence<T: Real>(
    gx: &[T],
    w: &[T],
    b: &[T],
    out: &mut [T],
    hidden: usize,
    reverse: bool,
    layout: SeqLayout,
) {
    let steps = out.len() / hidden;
    let (gs, os) = (
        layout.strides(steps, 3 * hidden),
        layout.strides(steps, hidden),
    );
    let zero = T::from_f64(0.0);
    let one = T::from_f64(1.0);
    let mut h_prev = vec![zero; hidden];
    let mut h = vec![zero; hidden];
    let mut gh = vec![zero; 3 * hidden];
    let mut gx_t = vec![zero; 3 * hidden];
    for step in 0..steps {
        let t = time_index(step, steps, reverse);
        hidden_projection(w, b, &h_prev, &mut gh);
        gather_step(gx, gs, t, &mut gx_t);
        for i in 0..hidden {
            let (_, z, n) = gates(&gx_t, &gh, i, hidden);
            h[i] = (one - z) * n + z * h_prev[i];
        }
        scatter_step(out, os, t, &h);
        std::mem::swap(&mut h, &mut h_prev);
    }
}

/// Backward pass (BPTT) of one sequence. Writes d gx and accumulates d W_hh, d b_hh.
#[allow(clippy::too_many_arguments)]
fn backward_sequence<T: Real>(
    gx: &[T],
    w: &[T],
    b: &[T],
    h: &[T],
    dh_out: &[T],
    dgx: &mut [T],
    dw: &mut [T],
    db: &mut [T],
    hidden: usize,
    reverse: bool,
    layout: SeqLayout,
) {
    let steps = h.len() / hidden;
    let (gs, os) = (
        layout.strides(steps, 3 * hidden),
        layout.strides(steps, hidden),
    );
    let zero = T::from_f64(0.0);
    let one = T::from_f64(1.0);
    let mut gh = vec![zero; 3 * hidden];
    let mut gx_t = vec![zero; 3 * hidden];
    let mut dgx_t = vec![zero; 3 * hidden];
    let mut dgh = vec![zero; 3 * hidden];
    let mut h_prev = vec![zero; hidden];
    let mut dh_t = vec![zero; hidden];
    // Gradient reaching h_t from the steps processed after it.
    let mut dh_next = vec![zero; hidden];
    let mut dh_prev = vec![zero; hidden];
    for step in (0..steps).rev() {
        let t = time_index(step, steps, reverse);
        if step == 0 {
            h_prev.fill(zero);
        } else {
            gather_step(h, os, time_index(step - 1, steps, reverse), &mut h_prev);
        }
        hidden_projection(w, b, &h_prev, &mut gh);
        gather_step(gx, gs, t, &mut gx_t);
        gather_step(dh_out, os, t, &mut dh_t);
        for i in 0..hidden {
            let (r, z, n) = gates(&gx_t, &gh, i, hidden);
            let dh = dh_t[i] + dh_next[i];
            let dn = dh * (one - z);
            let dz = dh * (h_prev[i] - n);
            let da_n = dn * (one - n * n);
            let da_r = da_n * gh[2 * hidden + i] * r * (one - r);
            let da_z = dz * z * (one - z);
            dgx_t[i] = da_r;
            dgx_t[hidden + i] = da_z;
            dgx_t[2 * hidden + i] = da_n;
            dgh[i] = da_r;
            dgh[hidden + i] = da_z;
            dgh[2 * hidden + i] = da_n * r;
            dh_prev[i] = dh * z;
        }
        scatter_step(dgx, gs, t, &dgx_t);
        for (j, &g) in dgh.iter().enumerate() {
            db[j] += g;
            let row = &w[j * hidden..(j + 1) * hidden];
            let drow = &mut dw[j * hidden..(j + 1) * hidden];
            for k in 0..hidden {
                drow[k] += g * h_prev[k];
                dh_prev[k] += row[k] * g;
            }
        }
        std::mem::swap(&mut dh_next, &mut dh_prev);
    }
}

pub(super) fn cpu_slice<'a, T: WithDType>(
    storage: &'a CpuStorage,
    layout: &Layout,
) -> candle_core::Result<&'a [T]> {
    match layout.contiguous_offsets() {
        Some((start, end)) => Ok(&storage.as_slice::<T>()?[start..end]),
        None => candle_core::bail!("gru: input is not contiguous"),
    }
}

impl GruRecurrence {
    fn forward_typed<T: Real>(
        &self,
        gx: &[T],
        w: &[T],
        b: &[T],
        batch: usize,
        steps: usize,
        hidden: usize,
    ) -> Vec<T> {
        let mut out = vec![T::from_f64(0.0); batch * steps * hidden];
        if out.is_empty() {
            return out;
        }
        let per_task = items_per_task(steps, hidden);
        out.par_chunks_mut(per_task * steps * hidden)
            .zip(gx.par_chunks(per_task * steps * 3 * hidden))
            .for_each(|(out_chunk, gx_chunk)| {
                for (o, g) in out_chunk
                    .chunks_mut(steps * hidden)
                    .zip(gx_chunk.chunks(steps * 3 * hidden))
                {
                    forward_sequence(g, w, b, o, hidden, self.reverse, self.layout);
                }
            });
        out
    }

    #[allow(clippy::too_many_arguments)]
    fn backward_typed<T: Real>(
        &self,
        gx: &[T],
        w: &[T],
        b: &[T],
        h: &[T],
        dh: &[T],
        batch: usize,
        steps: usize,
        hidden: usize,
    ) -> (Vec<T>, Vec<T>, Vec<T>) {
        let zero = T::from_f64(0.0);
        let mut dgx = vec![zero; batch * steps * 3 * hidden];
        if dgx.is_empty() {
            let dw = vec![zero; 3 * hidden * hidden];
            return (dgx, dw, vec![zero; 3 * hidden]);
        }
        let per_task = items_per_task(steps, hidden);
        let seq_in = steps * 3 * hidden;
        let seq_out = steps * hidden;
        let partials: Vec<(Vec<T>, Vec<T>)> = dgx
            .par_chunks_mut(per_task * seq_in)
            .enumerate()
            .map(|(task, dgx_chunk)| {
                let mut dw = vec![zero; 3 * hidden * hidden];
                let mut db = vec![zero; 3 * hidden];
                let first = task * per_task;
                for (i, dgx_seq) in dgx_chunk.chunks_mut(seq_in).enumerate() {
                    let item = first + i;
                    backward_sequence(
                        &gx[item * seq_in..(item + 1) * seq_in],
                        w,
                        b,
                        &h[item * seq_out..(item + 1) * seq_out],
                        &dh[item * seq_out..(item + 1) * seq_out],
                        dgx_seq,
                        &mut dw,
                        &mut db,
                        hidden,
                        self.reverse,
                        self.layout,
                    );
                }
                (dw, db)
            })
            .collect();
        let mut dw = vec![zero; 3 * hidden * hidden];
        let mut db = vec![zero; 3 * hidden];
        for (pw, pb) in partials {
            dw.iter_mut().zip(pw).for_each(|(a, p)| *a += p);
            db.iter_mut().zip(pb).for_each(|(a, p)| *a += p);
        }
        (dgx, dw, db)
    }
}

/// The CPU data of a tensor as a contiguous slice, for the backward pass.
pub(super) fn with_cpu_slice<T: WithDType, R>(
    t: &Tensor,
    f: impl FnOnce(&[T]) -> candle_core::Result<R>,
) -> candle_core::Result<R> {
    let t = t.contiguous()?;
    let (storage, layout) = t.storage_and_layout();
    match &*storage {
        Storage::Cpu(cpu) => f(cpu_slice(cpu, layout)?),
        _ => candle_core::bail!("gru: fused backward needs CPU tensors"),
    }
}

impl GruRecurrence {
    /// (B, T, H) from the dims of gx in this op's layout.
    fn dims(&self, gx: &[usize]) -> candle_core::Result<(usize, usize, usize)> {
        match (self.layout, gx) {
            (SeqLayout::TimeMajor, &[b, t, c]) | (SeqLayout::ChannelsFirst, &[b, c, t]) => {
                Ok((b, t, c / 3))
            }
            _ => candle_core::bail!("gru: gx must have rank 3, got {gx:?}"),
        }
    }

    fn bwd_typed<T: Real>(
        &self,
        gx: &Tensor,
        w_hh: &Tensor,
        b_hh: &Tensor,
        res: &Tensor,
        grad_res: &Tensor,
    ) -> candle_core::Result<(Tensor, Tensor, Tensor)> {
        let (batch, steps, hidden) = self.dims(gx.dims())?;
        let (dgx, dw, db) =
            with_cpu_slice::<T, _>(gx, |gx_s| {
                with_cpu_slice::<T, _>(w_hh, |w_s| {
                    with_cpu_slice::<T, _>(b_hh, |b_s| {
                        with_cpu_slice::<T, _>(res, |h_s| {
                            with_cpu_slice::<T, _>(grad_res, |dh_s| {
                                Ok(self.backward_typed(
                                    gx_s, w_s, b_s, h_s, dh_s, batch, steps, hidden,
                                ))
                            })
                        })
                    })
                })
            })?;
        let dev = gx.device();
        Ok((
            Tensor::from_vec(dgx, gx.shape(), dev)?,
            Tensor::from_vec(dw, (3 * hidden, hidden), dev)?,
            Tensor::from_vec(db, 3 * hidden, dev)?,
        ))
    }
}

impl CustomOp3 for GruRecurrence {
    fn name(&self) -> &'static str {
        "gru-recurrence"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let (batch, steps, hidden) = self.dims(l1.dims())?;
        let shape = match self.layout {
            SeqLayout::TimeMajor => Shape::from((batch, steps, hidden)),
            SeqLayout::ChannelsFirst => Shape::from((batch, hidden, steps)),
        };
        let storage = match (s1, s2, s3) {
            (CpuStorage::F32(_), CpuStorage::F32(_), CpuStorage::F32(_)) => {
                let out = self.forward_typed::<f32>(
                    cpu_slice(s1, l1)?,
                    cpu_slice(s2, l2)?,
                    cpu_slice(s3, l3)?,
                    batch,
                    steps,
                    hidden,
                );
                CpuStorage::F32(out)
            }
            (CpuStorage::F64(_), CpuStorage::F64(_), CpuStorage::F64(_)) => {
                let out = self.forward_typed::<f64>(
                    cpu_slice(s1, l1)?,
                    cpu_slice(s2, l2)?,
                    cpu_slice(s3, l3)?,
                    batch,
                    steps,
                    hidden,
                );
                CpuStorage::F64(out)
            }
            _ => candle_core::bail!("gru: inputs must all be f32 or all f64"),
        };
        Ok((storage, shape))
    }

    fn bwd(
        &self,
        gx: &Tensor,
        w_hh: &Tensor,
        b_hh: &Tensor,
        res: &Tensor,
        grad_res: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let (dgx, dw, db) = match gx.dtype() {
            candle_core::DType::F32 => self.bwd_typed::<f32>(gx, w_hh, b_hh, res, grad_res)?,
            candle_core::DType::F64 => self.bwd_typed::<f64>(gx, w_hh, b_hh, res, grad_res)?,
            dt => candle_core::bail!("gru: unsupported dtype {dt:?}"),
        };
        Ok((Some(dgx), Some(dw), Some(db)))
    }
}

#[cfg(test)]
mod tests {
    use super::{exp_f32, Real};

    #[test]
    fn fast_f32_exp_sigmoid_and_tanh_match_libm() {
        let mut worst = [0f64; 3];
        for i in -20_000..=20_000 {
            let x = i as f32 * 0.005;
            if x.abs() < 85.0 {
                let e = exp_f32(x) as f64;
                let reference = (x as f64).exp();
                worst[0] = worst[0].max(((e - reference) / reference).abs());
            }
            worst[1] = worst[1].max((x.sigmoid() as f64 - 1.0 / (1.0 + (-x as f64).exp())).abs());
            worst[2] = worst[2].max((Real::tanh(x) as f64 - (x as f64).tanh()).abs());
        }
        assert!(worst[0] < 5e-7, "exp relative error {}", worst[0]);
        assert!(worst[1] < 2e-7, "sigmoid error {}", worst[1]);
        assert!(worst[2] < 3e-7, "tanh error {}", worst[2]);
        assert!(exp_f32(-1000.0) >= 0.0 && exp_f32(1000.0).is_finite());
        assert_eq!(Real::tanh(50f32), 1.0);
        assert_eq!(Real::tanh(-50f32), -1.0);
    }
}
