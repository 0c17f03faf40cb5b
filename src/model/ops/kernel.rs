//! What every CPU kernel of the custom ops shares, written once: the float trait the kernels
//! are generic over (f32 for training and inference, f64 for finite differences), the fast
//! branch-free exponential, the contiguous-slice accessor, the dtype dispatch (candle's own
//! `Map1`/`Map2` shape in `candle-core/src/cpu_backend/utils.rs`), the ELU derivative and the
//! parallel work split. Adding a dtype means one more arm in [`Map1::map`] / [`Map2::map`] and
//! one more `impl Float`.

use candle_core::backend::BackendStorage;
use candle_core::{
    bail, CpuStorage, CustomOp1, CustomOp2, CustomOp3, Layout, Result, Shape, Tensor, WithDType,
};
use rayon::prelude::*;

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
    /// The elements as f32 where they are f32 (see [`f32_only`]).
    fn as_f32s(x: &[Self]) -> Option<&[f32]>;
    /// f32 results in this type.
    fn from_f32s(x: Vec<f32>) -> Vec<Self>;
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

    fn as_f32s(x: &[Self]) -> Option<&[f32]> {
        Some(x)
    }

    fn from_f32s(x: Vec<f32>) -> Vec<Self> {
        x
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

    fn as_f32s(_: &[Self]) -> Option<&[f32]> {
        None
    }

    fn from_f32s(x: Vec<f32>) -> Vec<Self> {
        x.into_iter().map(f64::from).collect()
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
    within(T::cpu_storage_as_slice(s)?, l, op)
}

/// The part of `data` a contiguous layout addresses.
fn within<'a, T>(data: &'a [T], l: &Layout, op: &str) -> Result<&'a [T]> {
    match l.contiguous_offsets() {
        Some((a, b)) => Ok(&data[a..b]),
        None => bail!("{op}: operand must be contiguous"),
    }
}

/// The dtype dispatch, written once for every arity: each operand's elements in one float
/// type, `$body` run on them, its `Vec` stored in that type. Adding a dtype is one arm here.
macro_rules! by_dtype {
    ($op:expr, $(($s:expr, $l:expr) => $x:ident),+ ; $body:expr) => {
        match ($($s,)+) {
            ($(CpuStorage::F32($x),)+) => {
                $(let $x = within($x, $l, $op)?;)+
                CpuStorage::F32($body)
            }
            ($(CpuStorage::F64($x),)+) => {
                $(let $x = within($x, $l, $op)?;)+
                CpuStorage::F64($body)
            }
            _ => bail!(
                "{}: f32 or f64 operands of one type required, got {:?}",
                $op,
                [$($s.dtype()),+]
            ),
        }
    };
}

/// A CPU kernel of one operand, for every float type: everything a candle `CustomOp1` needs
/// but the boilerplate, which [`CpuOp`] writes once.
pub trait Map1: Send + Sync + Sized + 'static {
    /// The op's name, for errors.
    const OP: &'static str;

    /// The output's shape for an operand laid out as `l` (and the checks of that operand).
    fn shape(&self, l: &Layout) -> Result<Shape>;

    fn f<T: Float>(&self, x: &[T], l: &Layout) -> Result<Vec<T>>;

    /// The operand's gradient from (operand, output, output gradient).
    fn bwd(&self, _x: &Tensor, _y: &Tensor, _g: &Tensor) -> Result<Option<Tensor>> {
        bail!("{}: no backward", Self::OP)
    }

    /// The op on `x`, recorded for autograd.
    fn apply(self, x: &Tensor) -> Result<Tensor> {
        x.contiguous()?.apply_op1(CpuOp(self))
    }

    /// The op on `x`, not recorded (for kernels that run inside a backward).
    fn apply_no_bwd(self, x: &Tensor) -> Result<Tensor> {
        x.contiguous()?.apply_op1_no_bwd(&CpuOp(self))
    }
}

/// A CPU kernel of two operands of one float type; see [`Map1`].
pub trait Map2: Send + Sync + Sized + 'static {
    /// The op's name, for errors.
    const OP: &'static str;

    fn shape(&self, la: &Layout, lb: &Layout) -> Result<Shape>;

    fn f<T: Float>(&self, a: &[T], la: &Layout, b: &[T], lb: &Layout) -> Result<Vec<T>>;

    /// The operands' gradients from (operands, output, output gradient).
    fn bwd(&self, _a: &Tensor, _b: &Tensor, _y: &Tensor, _g: &Tensor) -> Result<Grads2> {
        bail!("{}: no backward", Self::OP)
    }

    fn apply(self, a: &Tensor, b: &Tensor) -> Result<Tensor> {
        a.contiguous()?.apply_op2(&b.contiguous()?, CpuOp(self))
    }

    fn apply_no_bwd(self, a: &Tensor, b: &Tensor) -> Result<Tensor> {
        a.contiguous()?
            .apply_op2_no_bwd(&b.contiguous()?, &CpuOp(self))
    }
}

/// A CPU kernel of three operands of one float type; see [`Map1`].
pub trait Map3: Send + Sync + Sized + 'static {
    /// The op's name, for errors.
    const OP: &'static str;

    fn shape(&self, la: &Layout, lb: &Layout, lc: &Layout) -> Result<Shape>;

    fn f<T: Float>(&self, operands: [&[T]; 3], layouts: [&Layout; 3]) -> Result<Vec<T>>;

    /// The operands' gradients from (operands, output, output gradient).
    fn bwd(&self, _args: [&Tensor; 3], _y: &Tensor, _g: &Tensor) -> Result<Grads3> {
        bail!("{}: no backward", Self::OP)
    }

    fn apply(self, a: &Tensor, b: &Tensor, c: &Tensor) -> Result<Tensor> {
        a.contiguous()?
            .apply_op3(&b.contiguous()?, &c.contiguous()?, CpuOp(self))
    }
}

/// What a kernel returns: candle's error, since kernels run inside candle's custom ops (the
/// model layer above them speaks `crate::Error`).
pub type OpResult<T> = Result<T>;

/// Gradients of a two-operand op's operands (None: not needed or not differentiable).
pub type Grads2 = (Option<Tensor>, Option<Tensor>);
/// Gradients of a three-operand op's operands.
pub type Grads3 = (Option<Tensor>, Option<Tensor>, Option<Tensor>);

// Short names for the operands of `cpu_fwd`, whose signatures candle fixes.
type S = CpuStorage;
type L = Layout;

/// A [`Map1`], [`Map2`] or [`Map3`] kernel as a candle custom op: the name, the shape, the
/// dtype dispatch and the backward's hand-over, for every op at once.
pub struct CpuOp<K>(pub K);

impl<K: Map1> CustomOp1 for CpuOp<K> {
    fn name(&self) -> &'static str {
        K::OP
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let shape = self.0.shape(l)?;
        Ok((by_dtype!(K::OP, (s, l) => x; self.0.f(x, l)?), shape))
    }

    fn bwd(&self, x: &Tensor, y: &Tensor, g: &Tensor) -> Result<Option<Tensor>> {
        self.0.bwd(x, y, g)
    }
}

impl<K: Map2> CustomOp2 for CpuOp<K> {
    fn name(&self) -> &'static str {
        K::OP
    }

    fn cpu_fwd(&self, s1: &S, l1: &L, s2: &S, l2: &L) -> Result<(S, Shape)> {
        let shape = self.0.shape(l1, l2)?;
        let out = by_dtype!(K::OP, (s1, l1) => a, (s2, l2) => b; self.0.f(a, l1, b, l2)?);
        Ok((out, shape))
    }

    fn bwd(&self, a: &Tensor, b: &Tensor, y: &Tensor, g: &Tensor) -> Result<Grads2> {
        self.0.bwd(a, b, y, g)
    }
}

impl<K: Map3> CustomOp3 for CpuOp<K> {
    fn name(&self) -> &'static str {
        K::OP
    }

    fn cpu_fwd(&self, s1: &S, l1: &L, s2: &S, l2: &L, s3: &S, l3: &L) -> Result<(S, Shape)> {
        let shape = self.0.shape(l1, l2, l3)?;
        let out = by_dtype!(K::OP, (s1, l1) => a, (s2, l2) => b, (s3, l3) => c;
            self.0.f([a, b, c], [l1, l2, l3])?);
        Ok((out, shape))
    }

    fn bwd(&self, a: &Tensor, b: &Tensor, c: &Tensor, y: &Tensor, g: &Tensor) -> Result<Grads3> {
        self.0.bwd([a, b, c], y, g)
    }
}

/// `$body` with the type `$T` standing for the float type of `$dtype`: the dtype dispatch of
/// the backward passes that work on the tensors they are handed.
macro_rules! for_float {
    ($dtype:expr, $op:expr, $T:ident => $body:expr) => {
        match $dtype {
            candle_core::DType::F32 => {
                type $T = f32;
                $body
            }
            candle_core::DType::F64 => {
                type $T = f64;
                $body
            }
            dt => candle_core::bail!("{}: f32 or f64 required, got {dt:?}", $op),
        }
    };
}
pub(crate) use for_float;

/// A tensor's elements (a contiguous copy), for those backward passes.
pub fn elements<T: Float>(t: &Tensor) -> Result<Vec<T>> {
    t.flatten_all()?.to_vec1::<T>()
}

/// Checks that two operands have one shape (an output and its gradient, say).
pub fn same_shape(op: &str, a: &Layout, b: &Layout) -> Result<Shape> {
    if a.shape() != b.shape() {
        bail!("{op}: shapes {:?} and {:?} differ", a.shape(), b.shape());
    }
    Ok(a.shape().clone())
}

/// For kernels written for f32 alone (FFT plans, the fused U-Net): the operand as f32, or an
/// error naming the op.
pub fn f32_only<'a, T: Float>(x: &'a [T], op: &str) -> Result<&'a [f32]> {
    T::as_f32s(x).ok_or_else(|| candle_core::Error::Msg(format!("{op}: f32 operands required")))
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

/// A gemm operand or destination: base pointer plus (row, column) strides in elements.
#[derive(Clone, Copy)]
pub(crate) struct Mat<T> {
    pub ptr: *const T,
    pub rs: isize,
    pub cs: isize,
}

/// dst (m x n) = (accumulate ? dst : 0) + lhs (m x depth) * rhs (depth x n), single-threaded
/// (parallelism comes from independent tiles).
///
/// # Safety
/// Every addressed element of the three matrices must lie inside live allocations, and `dst`
/// must not overlap the operands nor be written by another thread meanwhile.
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn gemm_into<T: WithDType>(
    m: usize,
    n: usize,
    depth: usize,
    dst: Mat<T>,
    accumulate: bool,
    lhs: Mat<T>,
    rhs: Mat<T>,
) {
    if m == 0 || n == 0 {
        return;
    }
    // gemm's register blocks run down columns (64 rows for AVX-512): with few rows (channels)
    // and many columns (time), solve the transposed problem dst^T = rhs^T lhs^T instead, so
    // time runs down the blocks and 50 channels do not pad to 64.
    if n > m {
        let (dst, lhs, rhs) = (dst.transposed(), rhs.transposed(), lhs.transposed());
        // SAFETY: the same elements are addressed, only the roles are swapped.
        return unsafe { gemm_into(n, m, depth, dst, accumulate, lhs, rhs) };
    }
    // SAFETY: as for this function.
    unsafe { gemm((m, n, depth), dst, accumulate, lhs, rhs) }
}

/// dst (m x n) = (accumulate ? dst : 0) + lhs (m x depth) * rhs (depth x n), single-threaded,
/// exactly as laid out (no transposition: see [`gemm_into`]), on the process's vector level.
///
/// # Safety
/// As for [`gemm_into`].
pub(crate) unsafe fn gemm<T: WithDType>(
    (m, n, depth): (usize, usize, usize),
    dst: Mat<T>,
    accumulate: bool,
    lhs: Mat<T>,
    rhs: Mat<T>,
) {
    // SAFETY: as for this function.
    unsafe {
        super::matmul::gemm(
            (m, n, depth),
            (dst.ptr as *mut T, dst.rs, dst.cs),
            accumulate,
            (lhs.ptr, lhs.rs, lhs.cs),
            (rhs.ptr, rhs.rs, rhs.cs),
        )
    }
}

impl<T> Mat<T> {
    /// Strides in elements; `ptr` is read, or written when the matrix is a destination.
    pub(crate) fn new(ptr: *const T, rs: usize, cs: usize) -> Self {
        Mat {
            ptr,
            rs: rs as isize,
            cs: cs as isize,
        }
    }

    fn transposed(self) -> Self {
        Mat {
            ptr: self.ptr,
            rs: self.cs,
            cs: self.rs,
        }
    }
}

/// A raw pointer that may cross into rayon workers; each worker writes a disjoint region.
#[derive(Clone, Copy)]
pub(crate) struct SendPtr<T>(pub *mut T);
unsafe impl<T> Send for SendPtr<T> {}
unsafe impl<T> Sync for SendPtr<T> {}

impl<T> SendPtr<T> {
    /// A method (not the field) so that closures capture the whole Send wrapper.
    pub(crate) fn get(self) -> *mut T {
        self.0
    }

    /// `len` elements from `offset` on.
    ///
    /// # Safety
    /// They must lie in the allocation and be touched by nobody else while the slice lives.
    pub(crate) unsafe fn slice<'a>(self, offset: usize, len: usize) -> &'a mut [T] {
        unsafe { std::slice::from_raw_parts_mut(self.0.add(offset), len) }
    }
}

/// Every row of `in_len` elements of `x` mapped by `row(x_row, y_row)` to a row of `out_len`
/// elements, rows in parallel work items of about 16 k elements.
pub fn map_rows<T: WithDType>(
    x: &[T],
    in_len: usize,
    out_len: usize,
    row: impl Fn(&[T], &mut [T]) + Sync,
) -> Vec<T> {
    let rows = x.len() / in_len.max(1);
    let mut y = vec![T::from_f64(0.0); rows * out_len];
    let per = rows_per_item(in_len.max(out_len));
    y.par_chunks_mut((per * out_len).max(1))
        .zip(x.par_chunks((per * in_len).max(1)))
        .for_each(|(y, x)| {
            for (y, x) in y.chunks_mut(out_len.max(1)).zip(x.chunks(in_len.max(1))) {
                row(x, y);
            }
        });
    y
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
            // (f32 steps overshoot 88 slightly; beyond it the input is clamped.)
            let x = (-87.0 + i as f32 * 1e-3).min(88.0);
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
