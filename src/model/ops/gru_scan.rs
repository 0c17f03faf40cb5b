//! The GRU recurrence of one sequence, forward and backward: the sequential scans of
//! [`super::gru`], one sequence per task.
//!
//! Each step's work is vectorised across the hidden units (a gate block of `H` units padded to
//! [`PAD`] lanes, so the loops have no remainder on any vector width), not across sequences:
//! the transcriber runs 2 sequences at a time (the two windows of a batch) and a training batch
//! 16, so vectors across sequences were mostly empty in inference and the per-step state had
//! to be gathered lane by lane. The inputs are staged [`TILE`] steps at a time into
//! step-major tiles (one contiguous row per step), so the channels-first tensors the model
//! holds are read in long runs instead of one strided element per channel per step.
//!
//! Arithmetic order matches the textbook loops (bias, then W·h over k ascending; no fused
//! multiply-adds), so the outputs do not depend on the vector width.

use super::kernel::Float;
use super::simd::multiversion;

/// Lanes each gate block is padded to (the widest vector: 16 f32 with AVX-512).
const PAD: usize = 16;

/// Steps staged per tile: 64 steps of 3 gate blocks are 12 KiB of f32, well inside L1.
const TILE: usize = 64;

/// How one sequence's (steps x gates H channels) block is laid out: element strides per step
/// and per channel, and the number of gate blocks (3 for gx, 1 for states).
#[derive(Debug, Clone, Copy)]
pub(super) struct Strides {
    pub step: usize,
    pub channel: usize,
    pub gates: usize,
}

/// One sequence's geometry: `steps` steps of `hidden` units, scanned in reverse time order
/// when `reverse`, with the strides of its gx (3H channels) and output (H channels) blocks.
#[derive(Debug, Clone, Copy)]
pub(super) struct Sequence {
    pub steps: usize,
    pub hidden: usize,
    pub reverse: bool,
    pub gx: Strides,
    pub out: Strides,
}

impl Sequence {
    /// Time index of the `step`-th step processed.
    #[inline(always)]
    fn time(&self, step: usize) -> usize {
        if self.reverse {
            self.steps - 1 - step
        } else {
            step
        }
    }

    /// Copies processing steps `first..first + n` (a step before 0 reads as zeros) of a block
    /// with `s.gates` gate blocks of H channels into `tile` rows of as many blocks of `p` lanes.
    /// Channel by channel: the steps of a channel are one strided run of `src` (contiguous in
    /// the channels-first layout), walked backwards for a reverse scan.
    #[inline(always)]
    fn gather<T: Float>(
        &self,
        src: &[T],
        s: Strides,
        p: usize,
        first: isize,
        n: usize,
        tile: &mut [T],
    ) {
        let (gates, row) = (s.gates, s.gates * p);
        let zeros = (first.min(0).unsigned_abs()).min(n);
        for r in 0..zeros {
            tile[r * row..(r + 1) * row].fill(T::from_f64(0.0));
        }
        let rows = n - zeros;
        if rows == 0 {
            return;
        }
        let (lo, _) = self.time_span(first.max(0) as usize, rows);
        let last = rows - 1;
        for g in 0..gates {
            for i in 0..self.hidden {
                let start = (g * self.hidden + i) * s.channel + lo * s.step;
                let run = &src[start..=start + last * s.step];
                let lanes = &mut tile[zeros * row + g * p + i..];
                // Plain index loops: iterator adaptors (step_by, rev) cost more than the copy.
                if self.reverse {
                    for r in 0..rows {
                        lanes[r * row] = run[(last - r) * s.step];
                    }
                } else {
                    for r in 0..rows {
                        lanes[r * row] = run[r * s.step];
                    }
                }
            }
        }
    }

    /// Writes `tile` rows (as [`Self::gather`] lays them out) to processing steps
    /// `first..first + n` of `dst`.
    #[inline(always)]
    fn scatter<T: Float>(
        &self,
        dst: &mut [T],
        s: Strides,
        p: usize,
        first: usize,
        n: usize,
        tile: &[T],
    ) {
        let (gates, row) = (s.gates, s.gates * p);
        let (lo, _) = self.time_span(first, n);
        let last = n - 1;
        for g in 0..gates {
            for i in 0..self.hidden {
                let start = (g * self.hidden + i) * s.channel + lo * s.step;
                let run = &mut dst[start..=start + last * s.step];
                let lanes = &tile[g * p + i..];
                if self.reverse {
                    for r in 0..n {
                        run[(last - r) * s.step] = lanes[r * row];
                    }
                } else {
                    for r in 0..n {
                        run[r * s.step] = lanes[r * row];
                    }
                }
            }
        }
    }

    /// The first and last time index of processing steps `first..first + n` (n >= 1).
    #[inline(always)]
    fn time_span(&self, first: usize, n: usize) -> (usize, usize) {
        let (a, b) = (self.time(first), self.time(first + n - 1));
        (a.min(b), a.max(b))
    }
}

/// H rounded up to whole vectors.
pub(super) fn padded(hidden: usize) -> usize {
    hidden.div_ceil(PAD) * PAD
}

/// The widest hidden size the kernels take (the model's is its component count, 11).
pub(super) const MAX_HIDDEN: usize = 64;

/// `P` elements of `v` from `at`, as an array (the length check folds away).
#[inline(always)]
fn block<T, const P: usize>(v: &[T], at: usize) -> &[T; P] {
    v[at..at + P].try_into().expect("a block is P long")
}

#[inline(always)]
fn block_mut<T, const P: usize>(v: &mut [T], at: usize) -> &mut [T; P] {
    (&mut v[at..at + P]).try_into().expect("a block is P long")
}

/// W_hh (3H, H) and b_hh (3H) in padded gate blocks of P lanes.
pub(super) struct PaddedWeights<T> {
    hidden: usize,
    p: usize,
    /// Column k of W: `columns[k * 3P + g * P + i] = W[g H + i][k]` (the forward's W·h).
    columns: Vec<T>,
    /// Row j of W padded to P: `rows[j * P + k] = W[j][k]` (the backward's Wᵀ·dgh).
    rows: Vec<T>,
    bias: Vec<T>,
}

impl<T: Float> PaddedWeights<T> {
    /// `hidden` at most [`MAX_HIDDEN`] (checked by the op).
    pub fn new(w: &[T], b: &[T], hidden: usize) -> Self {
        let p = padded(hidden);
        let zero = T::from_f64(0.0);
        let mut columns = vec![zero; hidden * 3 * p];
        let mut rows = vec![zero; 3 * hidden * p];
        let mut bias = vec![zero; 3 * p];
        for g in 0..3 {
            for i in 0..hidden {
                let j = g * hidden + i;
                bias[g * p + i] = b[j];
                for k in 0..hidden {
                    columns[k * 3 * p + g * p + i] = w[j * hidden + k];
                    rows[j * p + k] = w[j * hidden + k];
                }
            }
        }
        PaddedWeights {
            hidden,
            p,
            columns,
            rows,
            bias,
        }
    }

    /// gh = b + W h, each gate block in registers, k ascending.
    #[inline(always)]
    fn hidden_product<const P: usize>(&self, h: &[T; P]) -> [[T; P]; 3] {
        let mut gh = [
            *block::<T, P>(&self.bias, 0),
            *block::<T, P>(&self.bias, P),
            *block::<T, P>(&self.bias, 2 * P),
        ];
        for (k, &hk) in h[..self.hidden].iter().enumerate() {
            for (g, acc) in gh.iter_mut().enumerate() {
                let w = block::<T, P>(&self.columns, k * 3 * P + g * P);
                for i in 0..P {
                    acc[i] += w[i] * hk;
                }
            }
        }
        gh
    }

    /// A weight gradient accumulated in the `columns` layout, as (3H, H) row-major.
    pub fn unpad_columns(&self, dcolumns: &[T]) -> Vec<T> {
        let (h, p) = (self.hidden, self.p);
        let mut dw = vec![T::from_f64(0.0); 3 * h * h];
        for g in 0..3 {
            for i in 0..h {
                for k in 0..h {
                    dw[(g * h + i) * h + k] = dcolumns[k * 3 * p + g * p + i];
                }
            }
        }
        dw
    }

    /// A bias gradient in padded blocks, as (3H).
    pub fn unpad_bias(&self, dbias: &[T]) -> Vec<T> {
        let (h, p) = (self.hidden, self.p);
        (0..3 * h).map(|j| dbias[(j / h) * p + j % h]).collect()
    }

    /// Elements of a weight gradient in the `columns` layout, and of a padded bias.
    pub fn gradient_lens(&self) -> (usize, usize) {
        (self.columns.len(), self.bias.len())
    }
}

multiversion! {
    /// Hidden states of one sequence (`out`, its output block) from its gx block.
    pub(super) fn forward_sequence<T: Float>(
        seq: &Sequence,
        weights: &PaddedWeights<T>,
        gx: &[T],
        out: &mut [T],
    ) => forward_sequence_body
}

#[inline(always)]
fn forward_sequence_body<T: Float>(
    seq: &Sequence,
    weights: &PaddedWeights<T>,
    gx: &[T],
    out: &mut [T],
) {
    // The gate blocks' width as a constant: the state stays in registers.
    match weights.p {
        16 => forward_padded::<T, 16>(seq, weights, gx, out),
        32 => forward_padded::<T, 32>(seq, weights, gx, out),
        48 => forward_padded::<T, 48>(seq, weights, gx, out),
        64 => forward_padded::<T, 64>(seq, weights, gx, out),
        p => unreachable!("hidden size padded to {p} (the op allows {MAX_HIDDEN})"),
    }
}

#[inline(always)]
fn forward_padded<T: Float, const P: usize>(
    seq: &Sequence,
    weights: &PaddedWeights<T>,
    gx: &[T],
    out: &mut [T],
) {
    let (zero, one) = (T::from_f64(0.0), T::from_f64(1.0));
    let mut x_tile = vec![zero; TILE * 3 * P];
    let mut h_tile = vec![zero; TILE * P];
    let mut h_prev = [zero; P];
    let mut first = 0;
    while first < seq.steps {
        let n = TILE.min(seq.steps - first);
        seq.gather(gx, seq.gx, P, first as isize, n, &mut x_tile);
        for r in 0..n {
            let [hr, hz, hn] = weights.hidden_product(&h_prev);
            let xr = block::<T, P>(&x_tile, r * 3 * P);
            let xz = block::<T, P>(&x_tile, r * 3 * P + P);
            let xn = block::<T, P>(&x_tile, r * 3 * P + 2 * P);
            for i in 0..P {
                let rg = (xr[i] + hr[i]).sigmoid();
                let z = (xz[i] + hz[i]).sigmoid();
                let n = (xn[i] + rg * hn[i]).tanh();
                h_prev[i] = (one - z) * n + z * h_prev[i];
            }
            *block_mut::<T, P>(&mut h_tile, r * P) = h_prev;
        }
        seq.scatter(out, seq.out, P, first, n, &h_tile);
        first += n;
    }
}

/// One sequence's part of the weight and bias gradients, in the padded layouts of
/// [`PaddedWeights`] (see [`PaddedWeights::gradient_lens`]).
pub(super) struct SequenceGrads<'a, T> {
    pub dgx: &'a mut [T],
    pub dcolumns: &'a mut [T],
    pub dbias: &'a mut [T],
}

multiversion! {
    /// Backpropagation through time of one sequence: from its gx block, its hidden states
    /// `h` and their gradient `dh`, writes dgx and adds to the weight and bias gradients.
    /// The gates are recomputed from the saved states (h_{t-1} is the previous output).
    pub(super) fn backward_sequence<T: Float>(
        seq: &Sequence,
        weights: &PaddedWeights<T>,
        gx: &[T],
        h: &[T],
        dh: &[T],
        grads: &mut SequenceGrads<'_, T>,
    ) => backward_sequence_body
}

#[inline(always)]
fn backward_sequence_body<T: Float>(
    seq: &Sequence,
    weights: &PaddedWeights<T>,
    gx: &[T],
    h: &[T],
    dh: &[T],
    grads: &mut SequenceGrads<'_, T>,
) {
    match weights.p {
        16 => backward_padded::<T, 16>(seq, weights, gx, h, dh, grads),
        32 => backward_padded::<T, 32>(seq, weights, gx, h, dh, grads),
        48 => backward_padded::<T, 48>(seq, weights, gx, h, dh, grads),
        64 => backward_padded::<T, 64>(seq, weights, gx, h, dh, grads),
        p => unreachable!("hidden size padded to {p} (the op allows {MAX_HIDDEN})"),
    }
}

#[inline(always)]
fn backward_padded<T: Float, const P: usize>(
    seq: &Sequence,
    weights: &PaddedWeights<T>,
    gx: &[T],
    h: &[T],
    dh: &[T],
    grads: &mut SequenceGrads<'_, T>,
) {
    let hidden = seq.hidden;
    let p3 = 3 * P;
    let (zero, one) = (T::from_f64(0.0), T::from_f64(1.0));
    let mut x_tile = vec![zero; TILE * p3];
    let mut dx_tile = vec![zero; TILE * p3];
    let mut hp_tile = vec![zero; TILE * P];
    let mut dh_tile = vec![zero; TILE * P];
    let mut dgh_tile = vec![zero; TILE * p3];
    // Gradient reaching h_t from the steps processed after it.
    let mut dh_next = [zero; P];
    let mut end = seq.steps;
    while end > 0 {
        let n = TILE.min(end);
        let first = end - n;
        seq.gather(gx, seq.gx, P, first as isize, n, &mut x_tile);
        seq.gather(dh, seq.out, P, first as isize, n, &mut dh_tile);
        // Row r holds the state before step first + r.
        seq.gather(h, seq.out, P, first as isize - 1, n, &mut hp_tile);
        for r in (0..n).rev() {
            let h_prev = block::<T, P>(&hp_tile, r * P);
            let [hr, hz, hn] = weights.hidden_product(h_prev);
            let xr = block::<T, P>(&x_tile, r * p3);
            let xz = block::<T, P>(&x_tile, r * p3 + P);
            let xn = block::<T, P>(&x_tile, r * p3 + 2 * P);
            let dh_out = block::<T, P>(&dh_tile, r * P);
            let mut dgh = [[zero; P]; 3];
            let mut dh_prev = [zero; P];
            let mut dx = [[zero; P]; 3];
            for i in 0..P {
                let rg = (xr[i] + hr[i]).sigmoid();
                let z = (xz[i] + hz[i]).sigmoid();
                let n = (xn[i] + rg * hn[i]).tanh();
                let d = dh_out[i] + dh_next[i];
                let da_n = d * (one - z) * (one - n * n);
                let da_r = da_n * hn[i] * rg * (one - rg);
                let da_z = d * (h_prev[i] - n) * z * (one - z);
                dx[0][i] = da_r;
                dx[1][i] = da_z;
                dx[2][i] = da_n;
                dgh[0][i] = da_r;
                dgh[1][i] = da_z;
                dgh[2][i] = da_n * rg;
                dh_prev[i] = d * z;
            }
            for g in 0..3 {
                *block_mut::<T, P>(&mut dx_tile, r * p3 + g * P) = dx[g];
                *block_mut::<T, P>(&mut dgh_tile, r * p3 + g * P) = dgh[g];
            }
            // dh_{t-1} = d z + Wᵀ dgh: one running sum per gate, so that the chain of
            // dependent additions that every step waits for is H long, not 3H.
            let mut wt_dgh = [[zero; P]; 3];
            for (g, (dgh_g, acc)) in dgh.iter().zip(&mut wt_dgh).enumerate() {
                for (i, &d) in dgh_g[..hidden].iter().enumerate() {
                    let row = block::<T, P>(&weights.rows, (g * hidden + i) * P);
                    for k in 0..P {
                        acc[k] += row[k] * d;
                    }
                }
            }
            for k in 0..P {
                dh_next[k] = dh_prev[k] + (wt_dgh[0][k] + wt_dgh[1][k] + wt_dgh[2][k]);
            }
        }
        seq.scatter(grads.dgx, seq.gx, P, first, n, &dx_tile);
        accumulate_weight_grads::<T, P>(hidden, &dgh_tile, &hp_tile, n, grads);
        end = first;
    }
}

/// db += Σ_r dgh_r and dW += Σ_r dgh_r h_prev,rᵀ over the `n` steps of a tile (in the
/// `columns` layout), processing order: the weight gradient is off the steps' dependency
/// chain, so it is summed once per tile with the sums in registers rather than read and
/// written back at every step.
#[inline(always)]
fn accumulate_weight_grads<T: Float, const P: usize>(
    hidden: usize,
    dgh_tile: &[T],
    hp_tile: &[T],
    n: usize,
    grads: &mut SequenceGrads<'_, T>,
) {
    let p3 = 3 * P;
    for g in 0..3 {
        let mut acc = *block::<T, P>(grads.dbias, g * P);
        for r in (0..n).rev() {
            let d = block::<T, P>(dgh_tile, r * p3 + g * P);
            for i in 0..P {
                acc[i] += d[i];
            }
        }
        *block_mut::<T, P>(grads.dbias, g * P) = acc;
    }
    for k in 0..hidden {
        for g in 0..3 {
            let mut acc = *block::<T, P>(grads.dcolumns, k * p3 + g * P);
            for r in (0..n).rev() {
                let hk = hp_tile[r * P + k];
                let d = block::<T, P>(dgh_tile, r * p3 + g * P);
                for i in 0..P {
                    acc[i] += d[i] * hk;
                }
            }
            *block_mut::<T, P>(grads.dcolumns, k * p3 + g * P) = acc;
        }
    }
}
