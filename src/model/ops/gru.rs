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

use candle_core::{Layout, Shape, Tensor};
use rayon::prelude::*;

use super::kernel::{elements, for_float, Float, Grads3, Map3, OpResult};

/// Runs the GRU recurrence over `gx` (B, T, 3H) with `w_hh` (3H, H) and `b_hh` (3H) and returns
/// every hidden state (B, T, H). With `reverse`, the sequence is scanned from the last step to
/// the first (the backward half of a bidirectional GRU); output t is then the state after
/// consuming steps T−1..=t, as in PyTorch.
pub fn gru_recurrence(
    gx: &Tensor,
    w_hh: &Tensor,
    b_hh: &Tensor,
    reverse: bool,
) -> OpResult<Tensor> {
    check_shapes(gx, w_hh, b_hh)?;
    if gx.device().is_cpu() {
        GruRecurrence::new(reverse, SeqLayout::TimeMajor).apply(gx, w_hh, b_hh)
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
) -> OpResult<Tensor> {
    let time_major = gx.transpose(1, 2)?;
    check_shapes(&time_major, w_hh, b_hh)?;
    if gx.device().is_cpu() {
        GruRecurrence::new(reverse, SeqLayout::ChannelsFirst).apply(gx, w_hh, b_hh)
    } else {
        gru_recurrence_composed(&time_major, w_hh, b_hh, reverse)?.transpose(1, 2)
    }
}

/// The same recurrence step by step with ordinary candle ops: the fallback for non-CPU devices
/// and an independent reference for the tests (its gradients come from candle's autograd).
pub fn gru_recurrence_composed(
    gx: &Tensor,
    w_hh: &Tensor,
    b_hh: &Tensor,
    reverse: bool,
) -> OpResult<Tensor> {
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
fn check_shapes(gx: &Tensor, w_hh: &Tensor, b_hh: &Tensor) -> OpResult<(usize, usize, usize)> {
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

/// Step index in time order for the `step`-th step processed.
fn time_index(step: usize, steps: usize, reverse: bool) -> usize {
    if reverse {
        steps - 1 - step
    } else {
        step
    }
}

/// Sequences advanced in lockstep: the per-step state is stored [channel][lane], so every
/// inner loop (hidden projection, gates, gradients) runs over lanes and vectorises.
const LANES: usize = 8;

/// A group of up to LANES sequences, all `steps` long, stored one block after the other.
#[derive(Clone, Copy)]
struct Group {
    lanes: usize,
    steps: usize,
    hidden: usize,
    reverse: bool,
    /// Strides inside one sequence's gx block (T x 3H) and output block (T x H).
    gx: Strides,
    out: Strides,
}

impl Group {
    fn new(lanes: usize, steps: usize, hidden: usize, reverse: bool, layout: SeqLayout) -> Self {
        Group {
            lanes,
            steps,
            hidden,
            reverse,
            gx: layout.strides(steps, 3 * hidden),
            out: layout.strides(steps, hidden),
        }
    }

    /// Copies step t of every lane's block (`block` elements apart) into dst [channel][lane].
    #[inline]
    fn gather<T: Copy>(&self, src: &[T], block: usize, s: Strides, t: usize, dst: &mut [T]) {
        let g = self.lanes;
        for l in 0..g {
            let base = l * block + t * s.step;
            for (c, d) in dst.iter_mut().skip(l).step_by(g).enumerate() {
                *d = src[base + c * s.channel];
            }
        }
    }

    /// Writes src [channel][lane] into step t of every lane's block.
    #[inline]
    fn scatter<T: Copy>(&self, dst: &mut [T], block: usize, s: Strides, t: usize, src: &[T]) {
        let g = self.lanes;
        for l in 0..g {
            let base = l * block + t * s.step;
            for (c, v) in src.iter().skip(l).step_by(g).enumerate() {
                dst[base + c * s.channel] = *v;
            }
        }
    }

    /// gh [3H][lane] = b_hh + W_hh h.
    #[inline]
    fn hidden_projection<T: Float>(&self, w: &[T], b: &[T], h: &[T], gh: &mut [T]) {
        let (g, hidden) = (self.lanes, self.hidden);
        for (j, row) in gh.chunks_exact_mut(g).enumerate() {
            row.fill(b[j]);
            for (k, &wjk) in w[j * hidden..(j + 1) * hidden].iter().enumerate() {
                for (acc, &hv) in row.iter_mut().zip(&h[k * g..(k + 1) * g]) {
                    *acc += wjk * hv;
                }
            }
        }
    }

    /// Forward pass of the group: gx blocks -> out blocks.
    fn forward<T: Float>(&self, gx: &[T], w: &[T], b: &[T], out: &mut [T]) {
        let (g, hidden, steps) = (self.lanes, self.hidden, self.steps);
        let (gx_block, out_block) = (steps * 3 * hidden, steps * hidden);
        let zero = T::from_f64(0.0);
        let one = T::from_f64(1.0);
        let hg = hidden * g;
        let mut h_prev = vec![zero; hg];
        let mut h = vec![zero; hg];
        let mut gh = vec![zero; 3 * hg];
        let mut gx_t = vec![zero; 3 * hg];
        for step in 0..steps {
            let t = time_index(step, steps, self.reverse);
            self.hidden_projection(w, b, &h_prev, &mut gh);
            self.gather(gx, gx_block, self.gx, t, &mut gx_t);
            for idx in 0..hg {
                let r = (gx_t[idx] + gh[idx]).sigmoid();
                let z = (gx_t[hg + idx] + gh[hg + idx]).sigmoid();
                let n = (gx_t[2 * hg + idx] + r * gh[2 * hg + idx]).tanh();
                h[idx] = (one - z) * n + z * h_prev[idx];
            }
            self.scatter(out, out_block, self.out, t, &h);
            std::mem::swap(&mut h, &mut h_prev);
        }
    }

    /// Backward pass (BPTT) of the group: writes d gx, accumulates d W_hh [3H·H][lane] and
    /// d b_hh [3H][lane] per lane (summed over lanes by the caller).
    #[allow(clippy::too_many_arguments)]
    fn backward<T: Float>(
        &self,
        gx: &[T],
        w: &[T],
        b: &[T],
        h: &[T],
        dh_out: &[T],
        dgx: &mut [T],
        dw_lanes: &mut [T],
        db_lanes: &mut [T],
    ) {
        let (g, hidden, steps) = (self.lanes, self.hidden, self.steps);
        let (gx_block, out_block) = (steps * 3 * hidden, steps * hidden);
        let zero = T::from_f64(0.0);
        let one = T::from_f64(1.0);
        let hg = hidden * g;
        let mut gh = vec![zero; 3 * hg];
        let mut gx_t = vec![zero; 3 * hg];
        let mut dgx_t = vec![zero; 3 * hg];
        let mut dgh = vec![zero; 3 * hg];
        let mut h_prev = vec![zero; hg];
        let mut dh_t = vec![zero; hg];
        // Gradient reaching h_t from the steps processed after it.
        let mut dh_next = vec![zero; hg];
        let mut dh_prev = vec![zero; hg];
        for step in (0..steps).rev() {
            let t = time_index(step, steps, self.reverse);
            if step == 0 {
                h_prev.fill(zero);
            } else {
                let tp = time_index(step - 1, steps, self.reverse);
                self.gather(h, out_block, self.out, tp, &mut h_prev);
            }
            self.hidden_projection(w, b, &h_prev, &mut gh);
            self.gather(gx, gx_block, self.gx, t, &mut gx_t);
            self.gather(dh_out, out_block, self.out, t, &mut dh_t);
            for idx in 0..hg {
                let r = (gx_t[idx] + gh[idx]).sigmoid();
                let z = (gx_t[hg + idx] + gh[hg + idx]).sigmoid();
                let n = (gx_t[2 * hg + idx] + r * gh[2 * hg + idx]).tanh();
                let dh = dh_t[idx] + dh_next[idx];
                let da_n = dh * (one - z) * (one - n * n);
                let da_r = da_n * gh[2 * hg + idx] * r * (one - r);
                let da_z = dh * (h_prev[idx] - n) * z * (one - z);
                dgx_t[idx] = da_r;
                dgx_t[hg + idx] = da_z;
                dgx_t[2 * hg + idx] = da_n;
                dgh[idx] = da_r;
                dgh[hg + idx] = da_z;
                dgh[2 * hg + idx] = da_n * r;
                dh_prev[idx] = dh * z;
            }
            self.scatter(dgx, gx_block, self.gx, t, &dgx_t);
            for (j, dgh_j) in dgh.chunks_exact(g).enumerate() {
                for (acc, &v) in db_lanes[j * g..(j + 1) * g].iter_mut().zip(dgh_j) {
                    *acc += v;
                }
                for k in 0..hidden {
                    let wjk = w[j * hidden + k];
                    let dw = &mut dw_lanes[(j * hidden + k) * g..(j * hidden + k + 1) * g];
                    let hp = &h_prev[k * g..(k + 1) * g];
                    let dhp = &mut dh_prev[k * g..(k + 1) * g];
                    for l in 0..g {
                        dw[l] += dgh_j[l] * hp[l];
                        dhp[l] += wjk * dgh_j[l];
                    }
                }
            }
            std::mem::swap(&mut dh_next, &mut dh_prev);
        }
    }
}

impl GruRecurrence {
    /// Sequences per rayon task, a multiple of LANES: enough work per task that scheduling is
    /// negligible, and a split that does not depend on the thread count (so sums are
    /// reproducible).
    fn items_per_task(steps: usize, hidden: usize) -> usize {
        let work_per_item = (steps * hidden * hidden.max(4) * 3).max(1);
        (65_536 / work_per_item).clamp(1, 4096).div_ceil(LANES) * LANES
    }

    fn forward_typed<T: Float>(
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
        let (gx_block, out_block) = (steps * 3 * hidden, steps * hidden);
        let per_task = Self::items_per_task(steps, hidden);
        out.par_chunks_mut(per_task * out_block)
            .zip(gx.par_chunks(per_task * gx_block))
            .for_each(|(out_chunk, gx_chunk)| {
                for (o, g) in out_chunk
                    .chunks_mut(LANES * out_block)
                    .zip(gx_chunk.chunks(LANES * gx_block))
                {
                    let group = Group::new(
                        o.len() / out_block,
                        steps,
                        hidden,
                        self.reverse,
                        self.layout,
                    );
                    group.forward(g, w, b, o);
                }
            });
        out
    }

    #[allow(clippy::too_many_arguments)]
    fn backward_typed<T: Float>(
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
        let mut dw = vec![zero; 3 * hidden * hidden];
        let mut db = vec![zero; 3 * hidden];
        if dgx.is_empty() {
            return (dgx, dw, db);
        }
        let (gx_block, out_block) = (steps * 3 * hidden, steps * hidden);
        let per_task = Self::items_per_task(steps, hidden);
        let partials: Vec<(Vec<T>, Vec<T>)> = dgx
            .par_chunks_mut(per_task * gx_block)
            .enumerate()
            .map(|(task, dgx_chunk)| {
                let mut dw_lanes = vec![zero; 3 * hidden * hidden * LANES];
                let mut db_lanes = vec![zero; 3 * hidden * LANES];
                let mut dw_task = vec![zero; 3 * hidden * hidden];
                let mut db_task = vec![zero; 3 * hidden];
                for (i, dgx_group) in dgx_chunk.chunks_mut(LANES * gx_block).enumerate() {
                    let lanes = dgx_group.len() / gx_block;
                    let first = task * per_task + i * LANES;
                    let span_in = first * gx_block..(first + lanes) * gx_block;
                    let span_out = first * out_block..(first + lanes) * out_block;
                    let group = Group::new(lanes, steps, hidden, self.reverse, self.layout);
                    group.backward(
                        &gx[span_in],
                        w,
                        b,
                        &h[span_out.clone()],
                        &dh[span_out],
                        dgx_group,
                        &mut dw_lanes[..3 * hidden * hidden * lanes],
                        &mut db_lanes[..3 * hidden * lanes],
                    );
                    // Packed [entry][lane] with this group's lane count (the last may be short).
                    add_lane_sums(&mut dw_task, &mut dw_lanes, lanes);
                    add_lane_sums(&mut db_task, &mut db_lanes, lanes);
                }
                (dw_task, db_task)
            })
            .collect();
        for (pw, pb) in partials {
            dw.iter_mut().zip(pw).for_each(|(a, p)| *a += p);
            db.iter_mut().zip(pb).for_each(|(a, p)| *a += p);
        }
        (dgx, dw, db)
    }
}

/// Adds the per-lane sums of a group (packed [entry][lane], `lanes` wide) to `total` and
/// clears them for the next group.
fn add_lane_sums<T: Float>(total: &mut [T], lanes_acc: &mut [T], lanes: usize) {
    for (e, t) in total.iter_mut().enumerate() {
        for v in &mut lanes_acc[e * lanes..(e + 1) * lanes] {
            *t += *v;
            *v = T::from_f64(0.0);
        }
    }
}

impl GruRecurrence {
    fn new(reverse: bool, layout: SeqLayout) -> Self {
        GruRecurrence { reverse, layout }
    }

    /// (B, T, H) from the dims of gx in this op's layout.
    fn dims(&self, gx: &[usize]) -> OpResult<(usize, usize, usize)> {
        match (self.layout, gx) {
            (SeqLayout::TimeMajor, &[b, t, c]) | (SeqLayout::ChannelsFirst, &[b, c, t]) => {
                Ok((b, t, c / 3))
            }
            _ => candle_core::bail!("gru: gx must have rank 3, got {gx:?}"),
        }
    }
}

/// The op's name in errors.
const OP: &str = "gru-recurrence";

impl Map3 for GruRecurrence {
    const OP: &'static str = OP;

    fn shape(&self, l1: &Layout, _: &Layout, _: &Layout) -> OpResult<Shape> {
        let (batch, steps, hidden) = self.dims(l1.dims())?;
        Ok(match self.layout {
            SeqLayout::TimeMajor => Shape::from((batch, steps, hidden)),
            SeqLayout::ChannelsFirst => Shape::from((batch, hidden, steps)),
        })
    }

    fn f<T: Float>(&self, [gx, w, b]: [&[T]; 3], [l, ..]: [&Layout; 3]) -> OpResult<Vec<T>> {
        let (batch, steps, hidden) = self.dims(l.dims())?;
        Ok(self.forward_typed::<T>(gx, w, b, batch, steps, hidden))
    }

    fn bwd(&self, [gx, w, b]: [&Tensor; 3], h: &Tensor, g: &Tensor) -> OpResult<Grads3> {
        let (batch, steps, hidden) = self.dims(gx.dims())?;
        let dev = gx.device();
        for_float!(gx.dtype(), OP, T => {
            let (dgx, dw, db) = self.backward_typed::<T>(
                &elements(gx)?,
                &elements(w)?,
                &elements(b)?,
                &elements(h)?,
                &elements(g)?,
                batch,
                steps,
                hidden,
            );
            Ok((
                Some(Tensor::from_vec(dgx, gx.shape(), dev)?),
                Some(Tensor::from_vec(dw, (3 * hidden, hidden), dev)?),
                Some(Tensor::from_vec(db, 3 * hidden, dev)?),
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::kernel::{fast_exp_f32 as exp_f32, Float};

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
            worst[2] = worst[2].max((Float::tanh(x) as f64 - (x as f64).tanh()).abs());
        }
        assert!(worst[0] < 5e-7, "exp relative error {}", worst[0]);
        assert!(worst[1] < 2e-7, "sigmoid error {}", worst[1]);
        assert!(worst[2] < 3e-7, "tanh error {}", worst[2]);
        assert!(exp_f32(-1000.0) >= 0.0 && exp_f32(1000.0).is_finite());
        assert_eq!(Float::tanh(50f32), 1.0);
        assert_eq!(Float::tanh(-50f32), -1.0);
    }
}
