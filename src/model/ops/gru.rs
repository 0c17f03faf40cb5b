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

use super::gru_scan::{
    backward_sequence, forward_sequence, PaddedWeights, Sequence, SequenceGrads, Strides,
    MAX_HIDDEN,
};
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

impl SeqLayout {
    /// The layout of a (steps x gates H) block.
    fn strides(self, steps: usize, hidden: usize, gates: usize) -> Strides {
        match self {
            SeqLayout::TimeMajor => Strides {
                step: gates * hidden,
                channel: 1,
                gates,
            },
            SeqLayout::ChannelsFirst => Strides {
                step: 1,
                channel: steps,
                gates,
            },
        }
    }
}

impl GruRecurrence {
    fn sequence(&self, steps: usize, hidden: usize) -> Sequence {
        Sequence {
            steps,
            hidden,
            reverse: self.reverse,
            gx: self.layout.strides(steps, hidden, 3),
            out: self.layout.strides(steps, hidden, 1),
        }
    }

    /// One task per sequence: the scans are sequential within a sequence and independent
    /// across sequences (and a batch holds at least as many sequences as the machine cores
    /// that are free beside the other direction's scan).
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
        let seq = self.sequence(steps, hidden);
        let weights = PaddedWeights::new(w, b, hidden);
        out.par_chunks_mut(steps * hidden)
            .zip(gx.par_chunks(steps * 3 * hidden))
            .for_each(|(out, gx)| forward_sequence(&seq, &weights, gx, out));
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
        if dgx.is_empty() {
            return (dgx, vec![zero; 3 * hidden * hidden], vec![zero; 3 * hidden]);
        }
        let seq = self.sequence(steps, hidden);
        let weights = PaddedWeights::new(w, b, hidden);
        let (gx_block, out_block) = (steps * 3 * hidden, steps * hidden);
        let (columns_len, bias_len) = weights.gradient_lens();
        // Per-sequence partial sums, added in sequence order: the gradients do not depend on
        // the thread count.
        let partials: Vec<(Vec<T>, Vec<T>)> = dgx
            .par_chunks_mut(gx_block)
            .enumerate()
            .map(|(i, dgx)| {
                let mut dcolumns = vec![zero; columns_len];
                let mut dbias = vec![zero; bias_len];
                let span_in = i * gx_block..(i + 1) * gx_block;
                let span_out = i * out_block..(i + 1) * out_block;
                backward_sequence(
                    &seq,
                    &weights,
                    &gx[span_in],
                    &h[span_out.clone()],
                    &dh[span_out],
                    &mut SequenceGrads {
                        dgx,
                        dcolumns: &mut dcolumns,
                        dbias: &mut dbias,
                    },
                );
                (dcolumns, dbias)
            })
            .collect();
        let mut dcolumns = vec![zero; columns_len];
        let mut dbias = vec![zero; bias_len];
        for (pc, pb) in partials {
            dcolumns.iter_mut().zip(pc).for_each(|(a, p)| *a += p);
            dbias.iter_mut().zip(pb).for_each(|(a, p)| *a += p);
        }
        (
            dgx,
            weights.unpad_columns(&dcolumns),
            weights.unpad_bias(&dbias),
        )
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
                if c / 3 > MAX_HIDDEN {
                    candle_core::bail!(
                        "gru: hidden size {} is above the CPU kernel's {MAX_HIDDEN}",
                        c / 3
                    );
                }
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
