//! One whole pseudo-CQT scale as a single CPU op: bin-restricted STFT, floored magnitude,
//! sparse |B| projection and log (spec 7.2 steps 1-4), so a loss evaluation is one op per scale
//! instead of a dozen candle ops on (B, frames, F) tensors. The backward recomputes the spectrum
//! (cheap with block sums) rather than keeping it alive between forward and backward.

use std::sync::Arc;

use candle_core::{Layout, Shape, Tensor};
use rayon::prelude::*;

use super::BinStft;
use crate::dsp::cqt_basis::CqtScale;
use crate::model::ops::kernel::{Float, Map1, Map2, OpResult};

/// y (B, N) -> C_s(y) (B, bins, 1 + N/hop).
#[derive(Debug, Clone)]
pub struct LogCqtOp {
    stft: BinStft,
    /// Per CQT bin: (index among the used bins, |B| / sqrt(n_fft)).
    rows: Arc<Vec<Vec<(usize, f64)>>>,
    eps: f64,
}

/// What the forward pass computes for one signal, kept for the backward.
struct ItemState {
    spec: Vec<f64>,
    magnitude: Vec<f64>,
    cq: Vec<f64>,
}

impl LogCqtOp {
    pub fn new(scale: &CqtScale, stft: BinStft, eps: f64) -> Self {
        let used = scale.used_bins();
        let norm = (scale.n_fft as f64).sqrt();
        let rows = scale
            .rows
            .iter()
            .map(|row| {
                row.iter()
                    .map(|&(bin, w)| {
                        // used_bins is sorted and holds every row's bins: always found.
                        let j = used.binary_search(&bin).unwrap_or_default();
                        (j, f64::from(w) / norm)
                    })
                    .collect()
            })
            .collect();
        LogCqtOp {
            stft,
            rows: Arc::new(rows),
            eps,
        }
    }

    pub fn stft(&self) -> &BinStft {
        &self.stft
    }

    fn bins(&self) -> usize {
        self.rows.len()
    }

    fn item_state<T: Float>(&self, y: &[T]) -> ItemState {
        let frames = self.stft.n_frames(y.len());
        let f = self.stft.n_bins();
        let mut spec = vec![0.0; frames * 2 * f];
        self.stft.spectrum(y, &mut spec);
        let mut magnitude = vec![0.0; frames * f];
        for (t, m) in magnitude.chunks_mut(f).enumerate() {
            let row = &spec[t * 2 * f..(t + 1) * 2 * f];
            for (j, m) in m.iter_mut().enumerate() {
                *m = (row[j] * row[j] + row[f + j] * row[f + j] + self.eps).sqrt();
            }
        }
        // cq is bins × frames, the output layout.
        let mut cq = vec![0.0; self.bins() * frames];
        for (k, row) in self.rows.iter().enumerate() {
            for t in 0..frames {
                let m = &magnitude[t * f..(t + 1) * f];
                cq[k * frames + t] = row.iter().map(|&(j, w)| w * m[j]).sum();
            }
        }
        ItemState {
            spec,
            magnitude,
            cq,
        }
    }

    fn forward_cpu<T: Float>(&self, y: &[T], batch: usize, n: usize) -> Vec<T> {
        let width = self.bins() * self.stft.n_frames(n);
        let offset = -self.eps.log10();
        let mut out = vec![T::zero(); batch * width];
        out.par_chunks_mut(width)
            .zip(y.par_chunks(n))
            .for_each(|(out, y)| {
                let state = self.item_state(y);
                for (o, cq) in out.iter_mut().zip(&state.cq) {
                    *o = T::from_f64((cq + self.eps).log10() + offset);
                }
            });
        out
    }

    fn backward_cpu<T: Float>(&self, y: &[T], grad: &[T], batch: usize, n: usize) -> Vec<T> {
        let frames = self.stft.n_frames(n);
        let f = self.stft.n_bins();
        let width = self.bins() * frames;
        let mut out = vec![T::zero(); batch * n];
        out.par_chunks_mut(n)
            .zip(y.par_chunks(n).zip(grad.par_chunks(width)))
            .for_each(|(dy, (y, grad))| {
                let state = self.item_state(y);
                let mut d_magnitude = vec![0.0; frames * f];
                for (k, row) in self.rows.iter().enumerate() {
                    for t in 0..frames {
                        let i = k * frames + t;
                        let d_cq =
                            grad[i].to_f64() / ((state.cq[i] + self.eps) * std::f64::consts::LN_10);
                        let dm = &mut d_magnitude[t * f..(t + 1) * f];
                        for &(j, w) in row {
                            dm[j] += w * d_cq;
                        }
                    }
                }
                let mut d_spec = vec![0.0; frames * 2 * f];
                for t in 0..frames {
                    let spec = &state.spec[t * 2 * f..(t + 1) * 2 * f];
                    let d = &mut d_spec[t * 2 * f..(t + 1) * 2 * f];
                    for j in 0..f {
                        let scale = d_magnitude[t * f + j] / state.magnitude[t * f + j];
                        d[j] = scale * spec[j];
                        d[f + j] = scale * spec[f + j];
                    }
                }
                self.stft.adjoint(&d_spec, dy);
            });
        out
    }
}

impl Map1 for LogCqtOp {
    const OP: &'static str = "log-pseudo-cqt";

    fn shape(&self, l: &Layout) -> OpResult<Shape> {
        let (batch, n) = l.shape().dims2()?;
        if n < self.stft.min_samples() {
            candle_core::bail!("{}: {n} samples is too short", Self::OP);
        }
        Ok(Shape::from((batch, self.bins(), self.stft.n_frames(n))))
    }

    fn f<T: Float>(&self, y: &[T], l: &Layout) -> OpResult<Vec<T>> {
        let (batch, n) = l.shape().dims2()?;
        Ok(self.forward_cpu(y, batch, n))
    }

    fn bwd(&self, y: &Tensor, _: &Tensor, g: &Tensor) -> OpResult<Option<Tensor>> {
        Ok(Some(LogCqtGrad { op: self.clone() }.apply_no_bwd(y, g)?))
    }
}

/// (y, dC) -> dy for [`LogCqtOp`].
struct LogCqtGrad {
    op: LogCqtOp,
}

impl Map2 for LogCqtGrad {
    const OP: &'static str = "log-pseudo-cqt-grad";

    fn shape(&self, ly: &Layout, lg: &Layout) -> OpResult<Shape> {
        let (batch, n) = ly.shape().dims2()?;
        let expected = (batch, self.op.bins(), self.op.stft.n_frames(n));
        if lg.shape().dims3()? != expected {
            candle_core::bail!(
                "{}: gradient shape {:?}, expected {expected:?}",
                Self::OP,
                lg.shape()
            );
        }
        Ok(ly.shape().clone())
    }

    fn f<T: Float>(&self, y: &[T], ly: &Layout, g: &[T], _: &Layout) -> OpResult<Vec<T>> {
        let (batch, n) = ly.shape().dims2()?;
        Ok(self.op.backward_cpu(y, g, batch, n))
    }
}
