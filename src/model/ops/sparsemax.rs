//! Sparsemax over the last dimension (Martins & Astudillo 2016; spec section 4) as a custom op
//! with the analytic backward, instead of differentiating through a sort.
//!
//! Forward per row z: sort descending, cumulative sums c_j, support size k = the largest j with
//! 1 + j·z(j) > c_j, τ = (c_k − 1)/k, out_i = max(0, z_i − τ).
//! Backward: with S = {i : out_i > 0}, dz_i = [i ∈ S]·(g_i − mean_{j∈S} g_j).

use candle_core::{Layout, Shape, Tensor, WithDType, D};
use rayon::prelude::*;

use super::kernel::{Float, Map1, OpResult};

/// Sparsemax of every row along the last dimension; the output has the input's shape, rows sum
/// to 1 and usually hold exact zeros.
pub fn sparsemax_last_dim(x: &Tensor) -> OpResult<Tensor> {
    if x.device().is_cpu() {
        SparsemaxLastDim.apply(x)
    } else {
        sparsemax_last_dim_composed(x)
    }
}

/// The same from ordinary candle ops (sort, cumsum, masks): the fallback for non-CPU devices
/// and a reference for the tests. The support is found on detached values; autograd through
/// τ = (Σ_{i∈S} z_i − 1)/|S| then gives exactly the analytic Jacobian.
pub fn sparsemax_last_dim_composed(x: &Tensor) -> OpResult<Tensor> {
    let n = x.dim(D::Minus1)?;
    let z = x.detach();
    let z = z.broadcast_sub(&z.max_keepdim(D::Minus1)?)?;
    let order = z.arg_sort_last_dim(false)?;
    let sorted = z.contiguous()?.gather(&order, D::Minus1)?;
    let cumulative = sorted.cumsum(D::Minus1)?;
    let ranks = Tensor::arange(1u32, n as u32 + 1, x.device())?.to_dtype(x.dtype())?;
    let in_support = (sorted.broadcast_mul(&ranks)? + 1.0)?
        .gt(&cumulative)?
        .to_dtype(x.dtype())?;
    let support_size = in_support.sum_keepdim(D::Minus1)?;
    // The smallest sorted value inside the support: every z_i at or above it is in S.
    let last_index = (support_size.to_dtype(candle_core::DType::F64)? - 1.0)?
        .to_dtype(candle_core::DType::U32)?;
    let threshold = sorted.gather(&last_index, D::Minus1)?;
    let mask = z.broadcast_ge(&threshold)?.to_dtype(x.dtype())?;
    let tau = ((x * &mask)?.sum_keepdim(D::Minus1)? - 1.0)?.broadcast_div(&support_size)?;
    x.broadcast_sub(&tau)?.relu()
}

struct SparsemaxLastDim;

/// Sparsemax of one row, computed in f64 whatever the storage type.
fn sparsemax_row<T: WithDType>(row: &[T], out: &mut [T], sorted: &mut Vec<f64>) {
    sorted.clear();
    sorted.extend(row.iter().map(|v| v.to_f64()));
    let max = sorted.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    sorted.iter_mut().for_each(|v| *v -= max);
    sorted.sort_unstable_by(|a, b| b.total_cmp(a));
    let mut cumulative = 0.0;
    let mut support_sum = sorted.first().copied().unwrap_or(0.0);
    let mut support_size = 1usize;
    for (j, &v) in sorted.iter().enumerate() {
        cumulative += v;
        if 1.0 + (j + 1) as f64 * v > cumulative {
            support_size = j + 1;
            support_sum = cumulative;
        }
    }
    let tau = (support_sum - 1.0) / support_size as f64;
    for (o, v) in out.iter_mut().zip(row) {
        *o = T::from_f64((v.to_f64() - max - tau).max(0.0));
    }
}

fn sparsemax_rows<T: WithDType>(x: &[T], n: usize) -> Vec<T> {
    let mut out = vec![T::from_f64(0.0); x.len()];
    if n == 0 {
        return out;
    }
    // Rows per rayon task: rows are tiny (11 or 64 values), so batch them.
    let rows_per_task = (4096 / n).max(1);
    out.par_chunks_mut(rows_per_task * n)
        .zip(x.par_chunks(rows_per_task * n))
        .for_each(|(out_chunk, x_chunk)| {
            let mut sorted = Vec::with_capacity(n);
            for (o, row) in out_chunk.chunks_mut(n).zip(x_chunk.chunks(n)) {
                sparsemax_row(row, o, &mut sorted);
            }
        });
    out
}

impl Map1 for SparsemaxLastDim {
    const OP: &'static str = "sparsemax-last-dim";

    fn shape(&self, l: &Layout) -> OpResult<Shape> {
        Ok(l.shape().clone())
    }

    fn f<T: Float>(&self, x: &[T], l: &Layout) -> OpResult<Vec<T>> {
        Ok(sparsemax_rows(
            x,
            l.shape().dims().last().copied().unwrap_or(1),
        ))
    }

    /// On the support S of the output: g - mean_S(g), zero elsewhere.
    fn bwd(&self, _x: &Tensor, y: &Tensor, g: &Tensor) -> OpResult<Option<Tensor>> {
        let mask = y.gt(0.0)?.to_dtype(y.dtype())?;
        let support_size = mask.sum_keepdim(D::Minus1)?;
        let mean = (g * &mask)?
            .sum_keepdim(D::Minus1)?
            .broadcast_div(&support_size)?;
        Ok(Some((g.broadcast_sub(&mean)? * mask)?))
    }
}
