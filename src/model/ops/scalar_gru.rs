//! The recurrent head's third GRU (`midi_hh2y`: input 1, hidden 1, no bias) as one fused op.
//!
//! It scans the K components of every (item, frame) pair: B·T independent sequences of K scalar
//! steps. Done as a generic GRU that means B·T = 24 608 tiny sequences and a (B, K, T) ->
//! (B·T, K, 1) transposed copy each way; here it runs directly on the (B, K, T) tensor, one
//! component after the other, with the frames as the inner (contiguous) loop.
//!
//! PyTorch semantics with scalar weights w_i* = W_ih[gate], w_h* = W_hh[gate] and h0 = 0:
//! r = σ(w_ir x + w_hr h), z = σ(w_iz x + w_hz h), n = tanh(w_in x + r·w_hn h),
//! h' = (1 − z) n + z h.

use candle_core::{Layout, Shape, Tensor};
use rayon::prelude::*;

use super::gru::gru_recurrence_composed;
use super::kernel::{elements, for_float, Float, Grads3, Map3, OpResult};

/// x (B, K, T) -> hidden states (B, K, T) of the scalar GRU scanning the K axis, with `w_ih` and
/// `w_hh` of shape (3, 1) (gates r, z, n).
pub fn component_scan_gru(x: &Tensor, w_ih: &Tensor, w_hh: &Tensor) -> OpResult<Tensor> {
    x.dims3()?;
    for w in [w_ih, w_hh] {
        if w.dims() != [3, 1] {
            candle_core::bail!("scalar gru: weights must be (3, 1), got {:?}", w.dims());
        }
    }
    if x.device().is_cpu() {
        ComponentScanGru.apply(x, w_ih, w_hh)
    } else {
        component_scan_gru_composed(x, w_ih, w_hh)
    }
}

/// The same through the step-by-step composed GRU: non-CPU fallback and test reference.
pub fn component_scan_gru_composed(x: &Tensor, w_ih: &Tensor, w_hh: &Tensor) -> OpResult<Tensor> {
    let (batch, components, frames) = x.dims3()?;
    let sequences = x
        .transpose(1, 2)?
        .reshape((batch * frames, components, 1))?;
    let gx = sequences.broadcast_mul(&w_ih.reshape((1, 1, 3))?)?;
    let no_bias = Tensor::zeros(3, x.dtype(), x.device())?;
    gru_recurrence_composed(&gx, w_hh, &no_bias, false)?
        .reshape((batch, frames, components))?
        .transpose(1, 2)
}

struct ComponentScanGru;

/// The six scalar weights [ir, iz, in] and [hr, hz, hn].
#[derive(Clone, Copy)]
struct Weights<T> {
    i: [T; 3],
    h: [T; 3],
}

impl<T: Float> Weights<T> {
    fn from_slices(w_ih: &[T], w_hh: &[T]) -> Self {
        Weights {
            i: [w_ih[0], w_ih[1], w_ih[2]],
            h: [w_hh[0], w_hh[1], w_hh[2]],
        }
    }

    /// (r, z, n, w_hn·h) for input x and previous state h.
    #[inline]
    fn gates(&self, x: T, h: T) -> (T, T, T, T) {
        let r = (self.i[0] * x + self.h[0] * h).sigmoid();
        let z = (self.i[1] * x + self.h[1] * h).sigmoid();
        let hn = self.h[2] * h;
        let n = (self.i[2] * x + r * hn).tanh();
        (r, z, n, hn)
    }
}

/// One item: x (K, T) -> out (K, T).
fn forward_item<T: Float>(x: &[T], out: &mut [T], frames: usize, w: Weights<T>) {
    let one = T::from_f64(1.0);
    let mut h = vec![T::from_f64(0.0); frames];
    for (x_k, out_k) in x.chunks(frames).zip(out.chunks_mut(frames)) {
        for ((hj, &xj), oj) in h.iter_mut().zip(x_k).zip(out_k.iter_mut()) {
            let (_, z, n, _) = w.gates(xj, *hj);
            *hj = (one - z) * n + z * *hj;
            *oj = *hj;
        }
    }
}

/// One item's BPTT over the components: writes dx (K, T), returns the 6 weight gradients
/// [d w_ir, d w_iz, d w_in, d w_hr, d w_hz, d w_hn].
fn backward_item<T: Float>(
    x: &[T],
    h: &[T],
    dh_out: &[T],
    dx: &mut [T],
    frames: usize,
    w: Weights<T>,
) -> [T; 6] {
    let zero = T::from_f64(0.0);
    let one = T::from_f64(1.0);
    let components = x.len() / frames;
    let mut dw = [zero; 6];
    let mut dh_next = vec![zero; frames];
    for k in (0..components).rev() {
        let row = k * frames..(k + 1) * frames;
        for j in 0..frames {
            let xv = x[row.start + j];
            let hp = if k == 0 {
                zero
            } else {
                h[row.start - frames + j]
            };
            let (r, z, n, hn) = w.gates(xv, hp);
            let dh = dh_out[row.start + j] + dh_next[j];
            let da_n = dh * (one - z) * (one - n * n);
            let da_r = da_n * hn * r * (one - r);
            let da_z = dh * (hp - n) * z * (one - z);
            let da_hn = da_n * r;
            dx[row.start + j] = w.i[0] * da_r + w.i[1] * da_z + w.i[2] * da_n;
            dw[0] += da_r * xv;
            dw[1] += da_z * xv;
            dw[2] += da_n * xv;
            dw[3] += da_r * hp;
            dw[4] += da_z * hp;
            dw[5] += da_hn * hp;
            dh_next[j] = dh * z + w.h[0] * da_r + w.h[1] * da_z + w.h[2] * da_hn;
        }
    }
    dw
}

impl ComponentScanGru {
    fn forward_typed<T: Float>(
        &self,
        x: &[T],
        w: Weights<T>,
        dims: (usize, usize, usize),
    ) -> Vec<T> {
        let (_, components, frames) = dims;
        let mut out = vec![T::from_f64(0.0); x.len()];
        let item = (components * frames).max(1);
        out.par_chunks_mut(item)
            .zip(x.par_chunks(item))
            .for_each(|(o, xi)| forward_item(xi, o, frames, w));
        out
    }
}

/// The op's name in errors.
const OP: &str = "component-scan-gru";

impl Map3 for ComponentScanGru {
    const OP: &'static str = OP;

    fn shape(&self, l1: &Layout, _: &Layout, _: &Layout) -> OpResult<Shape> {
        Ok(l1.shape().clone())
    }

    fn f<T: Float>(&self, [x, wi, wh]: [&[T]; 3], [l, ..]: [&Layout; 3]) -> OpResult<Vec<T>> {
        let w = Weights::from_slices(wi, wh);
        Ok(self.forward_typed::<T>(x, w, l.shape().dims3()?))
    }

    fn bwd(&self, [x, wi, wh]: [&Tensor; 3], h: &Tensor, g: &Tensor) -> OpResult<Grads3> {
        let (_, components, frames) = x.dims3()?;
        let item = (components * frames).max(1);
        let dev = x.device();
        for_float!(x.dtype(), OP, T => {
            let (xs, hs, gs) = (elements::<T>(x)?, elements::<T>(h)?, elements::<T>(g)?);
            let w = Weights::from_slices(&elements::<T>(wi)?, &elements::<T>(wh)?);
            let mut dx = vec![0.0 as T; xs.len()];
            let partials: Vec<[T; 6]> = dx
                .par_chunks_mut(item)
                .enumerate()
                .map(|(b, dxi)| {
                    let span = b * item..(b + 1) * item;
                    backward_item(&xs[span.clone()], &hs[span.clone()], &gs[span], dxi, frames, w)
                })
                .collect();
            let mut dw = [0.0 as T; 6];
            for p in partials {
                for (a, v) in dw.iter_mut().zip(p) {
                    *a += v;
                }
            }
            Ok((
                Some(Tensor::from_vec(dx, x.shape(), dev)?),
                Some(Tensor::from_vec(dw[..3].to_vec(), (3, 1), dev)?),
                Some(Tensor::from_vec(dw[3..].to_vec(), (3, 1), dev)?),
            ))
        })
    }
}
