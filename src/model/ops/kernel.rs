//! What every CPU kernel of the custom ops shares, written once: the float trait the kernels
//! are generic over (f32 for training and inference, f64 for finite differences), the fast
//! branch-free exponential, the contiguous-slice accessor, the dtype dispatch (candle's own
//! `Map1`/`Map2` shape in `candle-core/src/cpu_backend/utils.rs`), the ELU derivative and the
//! parallel work split. Adding a dtype means one more arm in [`Map1::map`] / [`Map2::map`] and
//! one more `impl Float`.

use candle_core::backend::BackendStorage;
use candle_core::{bail, CpuStorage, Layout, Result, WithDType};

/// The float arithmetic the kernels need.
pub trait Float:
    WithDType
    + std::ops::Add<Output = Self>
    + std::ops::Sub<Output = Self>
    + std::ops::Mul<Output = Self>
    + std::ops::AddAssign
{
    /// exp(x) - 1 of min(x, 0): the ELU's negative branch.
    fn exp_m1_neg(self) -> Self;
    fn sigmoid(self) -> Self;
    fn tanh(self) -> Self;
    /// Of a table precomputed in both precisions, the one in this type's.
    fn of_precision<'a>(single: &'a [f32], double: &'a [f64]) -> &'a [Self];
}

impl Float for f32 {
    #[inline(always)]
    fn exp_m1_neg(self) -> Self {
        // Below -87 exp(x) underflows f32's normal range; ELU is -1 there anyway. (clamp, not
        // min: a NaN stays NaN.)
        fast_exp_f32(self.clamp(-87.0, 0.0)) - 1.0
    }

    #[inline(always)]
    fn sigmoid(self) -> Self {
        1.0 / (1.0 + fast_exp_f32(-self))
    }

    #[inline(always)]
    fn tanh(self) -> Self {
        // Absolute error ~1e-7 (the form loses relative precision near 0, which a GRU gate
        // does not care about).
        1.0 - 2.0 / (fast_exp_f32(2.0 * self) + 1.0)
    }

    fn of_precision<'a>(single: &'a [f32], _: &'a [f64]) -> &'a [Self] {
        single
    }
}

impl Float for f64 {
    fn exp_m1_neg(self) -> Self {
        self.min(0.0).exp_m1()
    }

    fn sigmoid(self) -> Self {
        1.0 / (1.0 + (-self).exp())
    }

    fn tanh(self) -> Self {
        f64::tanh(self)
    }

    fn of_precision<'a>(_: &'a [f32], double: &'a [f64]) -> &'a [Self] {
        double
    }
}

/// e^x for f32 without branches or calls, so that loops over it vectorise (libm's expf is a
/// scalar call per element and dominated both the U-Net's ELUs and the GRU's gates). Cephes'
/// expf: x = n ln2 + r with |r| <= ln2 / 2, a degree-7 polynomial for e^r, then 2^n through
/// the exponent bits. Relative error ~2e-7; x is clamped to [-87, 88], so the result is
/// finite and normal.
#[inline(always)]
pub fn fast_exp_f32(x: f32) -> f32 {
    let x = x.clamp(-87.0, 88.0);
    // Round to nearest by the 1.5 * 2^23 trick, which also leaves the integer in the low
    // mantissa bits: f32::round and `as i32` are calls or saturating sequences on baseline
    // x86-64 and would stop the loop from vectorising.
    const MAGIC: f32 = 12_582_912.0;
    let shifted = x * std::f32::consts::LOG2_E + MAGIC;
    let n = shifted - MAGIC;
    let n_int = shifted.to_bits().wrapping_sub(MAGIC.to_bits());
    // Two-part ln 2 keeps the reduction exact enough for f32.
    let r = x - n * 0.693_359_4 + n * 2.121_944_4e-4;
    let p = 1.987_569_1e-4_f32;
    let p = p * r + 1.398_199_9e-3;
    let p = p * r + 8.333_452e-3;
    let p = p * r + 4.166_579_6e-2;
    let p = p * r + 1.666_666_5e-1;
    let p = p * r + 0.5;
    let e = p * r * r + r + 1.0;
    e * f32::from_bits(n_int.wrapping_add(127) << 23)
}

/// The ELU's input gradient from its output `y` and output gradient `g` (alpha = 1:
/// dy/dx = 1 where y > 0, y + 1 elsewhere).
#[inline(always)]
pub fn elu_grad<T: Float>(y: T, g: T) -> T {
    if y > T::from_f64(0.0) {
        g
    } else {
        g * (y + T::from_f64(1.0))
    }
}

/// The elements of a contiguous operand; `op` names the op in the error.
pub fn contiguous<'a, T: WithDType>(s: &'a CpuStorage, l: &Layout, op: &str) -> Result<&'a [T]> {
    let data = T::cpu_storage_as_slice(s)?;
    match l.contiguous_offsets() {
        Some((a, b)) => Ok(&data[a..b]),
        None => bail!("{op}: operand must be contiguous"),
    }
}

/// A kernel of one operand, for every float type.
pub trait Map1 {
    /// The op's name, for errors.
    const OP: &'static str;

    fn f<T: Float>(&self, x: &[T], l: &Layout) -> Result<Vec<T>>;

    fn map(&self, s: &CpuStorage, l: &Layout) -> Result<CpuStorage> {
        Ok(match s {
            CpuStorage::F32(_) => CpuStorage::F32(self.f(contiguous(s, l, Self::OP)?, l)?),
            CpuStorage::F64(_) => CpuStorage::F64(self.f(contiguous(s, l, Self::OP)?, l)?),
            _ => bail!(
                "{}: f32 or f64 input required, got {:?}",
                Self::OP,
                s.dtype()
            ),
        })
    }
}

/// A kernel of two operands of one float type.
pub trait Map2 {
    /// The op's name, for errors.
    const OP: &'static str;

    fn f<T: Float>(&self, a: &[T], la: &Layout, b: &[T], lb: &Layout) -> Result<Vec<T>>;

    fn map(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<CpuStorage> {
        Ok(match (s1, s2) {
            (CpuStorage::F32(_), CpuStorage::F32(_)) => CpuStorage::F32(self.f(
                contiguous(s1, l1, Self::OP)?,
                l1,
                contiguous(s2, l2, Self::OP)?,
                l2,
            )?),
            (CpuStorage::F64(_), CpuStorage::F64(_)) => CpuStorage::F64(self.f(
                contiguous(s1, l1, Self::OP)?,
                l1,
                contiguous(s2, l2, Self::OP)?,
                l2,
            )?),
            _ => bail!(
                "{}: f32 or f64 operands of one type required, got {:?} and {:?}",
                Self::OP,
                s1.dtype(),
                s2.dtype()
            ),
        })
    }
}

/// A kernel of three operands of one float type.
pub trait Map3 {
    /// The op's name, for errors.
    const OP: &'static str;

    fn f<T: Float>(
        &self,
        a: (&[T], &Layout),
        b: (&[T], &Layout),
        c: (&[T], &Layout),
    ) -> Result<Vec<T>>;

    fn map(
        &self,
        (s1, l1): (&CpuStorage, &Layout),
        (s2, l2): (&CpuStorage, &Layout),
        (s3, l3): (&CpuStorage, &Layout),
    ) -> Result<CpuStorage> {
        let op = Self::OP;
        Ok(match (s1, s2, s3) {
            (CpuStorage::F32(_), CpuStorage::F32(_), CpuStorage::F32(_)) => {
                CpuStorage::F32(self.f(
                    (contiguous(s1, l1, op)?, l1),
                    (contiguous(s2, l2, op)?, l2),
                    (contiguous(s3, l3, op)?, l3),
                )?)
            }
            (CpuStorage::F64(_), CpuStorage::F64(_), CpuStorage::F64(_)) => {
                CpuStorage::F64(self.f(
                    (contiguous(s1, l1, op)?, l1),
                    (contiguous(s2, l2, op)?, l2),
                    (contiguous(s3, l3, op)?, l3),
                )?)
            }
            _ => bail!("{op}: f32 or f64 operands of one type required"),
        })
    }
}

/// Runs `f` on the elements of a CPU tensor (made contiguous first): for backward passes that
/// work on the tensors they are handed.
pub fn with_contiguous<T: WithDType, R>(
    t: &candle_core::Tensor,
    op: &str,
    f: impl FnOnce(&[T]) -> Result<R>,
) -> Result<R> {
    let t = t.contiguous()?;
    let (storage, layout) = t.storage_and_layout();
    match &*storage {
        candle_core::Storage::Cpu(cpu) => f(contiguous(cpu, layout, op)?),
        _ => bail!("{op}: the fused backward needs CPU tensors"),
    }
}

/// The elements as f64, for kernels that compute in double precision whatever the input.
pub fn to_f64s<T: Float>(x: &[T]) -> Vec<f64> {
    x.iter().map(|v| v.to_f64()).collect()
}

/// f64 results back in the operand's type.
pub fn from_f64s<T: Float>(x: Vec<f64>) -> Vec<T> {
    x.into_iter().map(T::from_f64).collect()
}

/// Rows of `row_len` elements per parallel work item (at least one): about 16 k elements, so
/// that scheduling is negligible next to the work.
pub fn rows_per_item(row_len: usize) -> usize {
    (1 << 14) / row_len.max(1) + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_exp_is_accurate_over_its_whole_range() {
        let mut worst = 0.0f64;
        for i in 0..=175_000 {
            let x = -87.0 + i as f32 * 1e-3;
            let want = (x as f64).exp();
            worst = worst.max(((fast_exp_f32(x) as f64) - want).abs() / want);
        }
        assert!(worst < 3e-7, "{worst}");
        assert!(fast_exp_f32(-1e9) > 0.0 && fast_exp_f32(1e9).is_finite());
    }

    #[test]
    fn elu_grad_is_one_above_zero_and_y_plus_one_below() {
        assert_eq!(elu_grad(0.5f64, 2.0), 2.0);
        assert_eq!(elu_grad(-0.25f64, 2.0), 1.5);
        assert_eq!(elu_grad(-1.0f32, 3.0), 0.0);
    }
}
