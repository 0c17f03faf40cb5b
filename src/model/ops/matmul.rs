//! The matrix products under the convolutions, on the process's vector level.
//!
//! The gemm crate picks its kernels once, for the widest unit the CPU has, with no way to ask
//! for a narrower one. So that `DRUMMERNET_SIMD=avx2` runs the whole model the way an AVX2-only
//! machine would (the users' and CI's common case, and the only way to measure it on an
//! AVX-512 machine), single-precision products call the crate's generic driver with its
//! AVX2+FMA (or scalar) micro-kernels themselves when [`simd::level`] is below AVX-512; at
//! AVX-512 and for f64 they go through the crate's own dispatch as before. Every level keeps
//! the crate's blocking and packing, so each output element is the same sequence of fused
//! multiply-adds over the depth (for depths within one block), whatever the register width.

use candle_core::WithDType;
use rayon::prelude::*;

use super::simd::{self, SimdLevel};

/// dst (m x n) = (accumulate ? dst : 0) + lhs (m x depth) * rhs (depth x n), single-threaded.
/// Strides are (row, column) in elements.
///
/// # Safety
/// Every addressed element of the three matrices must lie inside live allocations, and `dst`
/// must not overlap the operands nor be written by another thread meanwhile.
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn gemm<T: WithDType>(
    (m, n, depth): (usize, usize, usize),
    (dst, dst_rs, dst_cs): (*mut T, isize, isize),
    accumulate: bool,
    (lhs, lhs_rs, lhs_cs): (*const T, isize, isize),
    (rhs, rhs_rs, rhs_cs): (*const T, isize, isize),
) {
    // SAFETY: the caller's contract.
    unsafe {
        gemm_at(
            simd::level(),
            (m, n, depth),
            (dst, dst_rs, dst_cs),
            accumulate,
            (lhs, lhs_rs, lhs_cs),
            (rhs, rhs_rs, rhs_cs),
        )
    }
}

/// [`gemm`] at a given level (at most [`simd::detected`]).
///
/// # Safety
/// As for [`gemm`], and `level` must not exceed what the CPU supports.
#[allow(clippy::too_many_arguments)]
unsafe fn gemm_at<T: WithDType>(
    level: SimdLevel,
    (m, n, depth): (usize, usize, usize),
    (dst, dst_rs, dst_cs): (*mut T, isize, isize),
    accumulate: bool,
    (lhs, lhs_rs, lhs_cs): (*const T, isize, isize),
    (rhs, rhs_rs, rhs_cs): (*const T, isize, isize),
) {
    #[cfg(target_arch = "x86_64")]
    if T::DTYPE == candle_core::DType::F32 && level < SimdLevel::Avx512 {
        // SAFETY: T is f32 (checked above), so the casts change nothing; the rest is the
        // caller's contract.
        let done = unsafe {
            narrow_f32(
                level,
                (m, n, depth),
                (dst as *mut f32, dst_rs, dst_cs),
                accumulate,
                (lhs as *const f32, lhs_rs, lhs_cs),
                (rhs as *const f32, rhs_rs, rhs_cs),
            )
        };
        if done {
            return;
        }
    }
    // Elsewhere the crate's own choice is the only one.
    #[cfg(not(target_arch = "x86_64"))]
    let _ = level;
    // SAFETY: the caller's contract.
    unsafe {
        gemm::gemm(
            m,
            n,
            depth,
            dst,
            dst_cs,
            dst_rs,
            accumulate,
            lhs,
            lhs_cs,
            lhs_rs,
            rhs,
            rhs_cs,
            rhs_rs,
            T::from_f64(1.0),
            T::from_f64(1.0),
            false,
            false,
            false,
            gemm::Parallelism::None,
        )
    }
}

/// The crate's generic driver with the micro-kernels of `level` (AVX2+FMA, or scalar for
/// `portable`): what `gemm::gemm` runs on a CPU without AVX-512. `false` (nothing computed)
/// where the crate's AVX2 type wants a feature this CPU lacks beyond AVX2 and FMA (F16C, SSE4.2:
/// every AVX2 CPU known has them); the caller then leaves the choice to the crate.
#[cfg(target_arch = "x86_64")]
unsafe fn narrow_f32(
    level: SimdLevel,
    (m, n, depth): (usize, usize, usize),
    (dst, dst_rs, dst_cs): (*mut f32, isize, isize),
    accumulate: bool,
    (lhs, lhs_rs, lhs_cs): (*const f32, isize, isize),
    (rhs, rhs_rs, rhs_cs): (*const f32, isize, isize),
) -> bool {
    use gemm_common::gemm::gemm_basic_generic;
    use gemm_common::simd::MixedSimd;
    // Written once per micro-kernel family: the crate's own `gemm_basic` for that family.
    macro_rules! run {
        ($simd:ty, $ukr:path, $lanes:expr) => {{
            use $ukr as k;
            let Some(simd) = <$simd as MixedSimd<f32, f32, f32, f32>>::try_new() else {
                return false;
            };
            // SAFETY: the caller's contract; the micro-kernels match `simd`.
            unsafe {
                gemm_basic_generic::<
                    _,
                    f32,
                    $lanes,
                    { k::MR_DIV_N * $lanes },
                    { k::NR },
                    { k::MR_DIV_N },
                    { k::H_M },
                    { k::H_N },
                >(
                    simd,
                    m,
                    n,
                    depth,
                    dst,
                    dst_cs,
                    dst_rs,
                    accumulate,
                    lhs,
                    lhs_cs,
                    lhs_rs,
                    rhs,
                    rhs_cs,
                    rhs_rs,
                    1.0,
                    1.0,
                    false,
                    false,
                    false,
                    |a, b, c| a * b + c,
                    &k::UKR,
                    &k::H_UKR,
                    false,
                    gemm::Parallelism::None,
                )
            };
            true
        }};
    }
    match level {
        SimdLevel::Avx2 => run!(gemm_common::simd::V3, gemm_f32::microkernel::fma::f32, 8),
        _ => run!(
            gemm_common::simd::Scalar,
            gemm_f32::microkernel::scalar::f32,
            1
        ),
    }
}

/// Single-precision GEMM rate of this machine, in GFLOP/s, with the code the convolutions call
/// at this process's level: the best of three `size`-square products (after a warm-up), the
/// columns split across every rayon thread. The bound the speed issue holds the U-Net against.
pub fn gemm_gflops(size: usize) -> f64 {
    let n = size.max(1);
    let a: Vec<f32> = (0..n * n).map(|i| (i % 7) as f32 * 0.1).collect();
    let b = a.clone();
    let mut c = vec![0f32; n * n];
    let threads = rayon::current_num_threads().max(1);
    let block = n.div_ceil(threads);
    let mut best = f64::INFINITY;
    for run in 0..4 {
        let t = std::time::Instant::now();
        let c_ptr = super::kernel::SendPtr(c.as_mut_ptr());
        (0..threads).into_par_iter().for_each(|i| {
            let lo = (i * block).min(n);
            let cols = block.min(n - lo);
            if cols == 0 {
                return;
            }
            // SAFETY: row-major n x n matrices; thread i writes columns lo..lo+cols of c only.
            unsafe {
                gemm(
                    (n, cols, n),
                    (c_ptr.get().add(lo), n as isize, 1),
                    false,
                    (a.as_ptr(), n as isize, 1),
                    (b.as_ptr().add(lo), n as isize, 1),
                )
            }
        });
        if run > 0 {
            best = best.min(t.elapsed().as_secs_f64());
        }
    }
    2.0 * (n as f64).powi(3) / best / 1e9
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A strided product against plain loops in f64 on every level this CPU has, and AVX2
    /// bit-identical to AVX-512 (one depth block: the same FMA chain per element).
    #[test]
    fn products_match_loops_with_strides_and_accumulation_on_every_level() {
        let (m, n, depth) = (37, 53, 71);
        let lhs: Vec<f32> = (0..m * depth)
            .map(|i| ((i * 7919) % 101) as f32 / 50.0 - 1.0)
            .collect();
        // rhs stored column-major (depth x n with row stride 1) to exercise the strides.
        let rhs: Vec<f32> = (0..depth * n)
            .map(|i| ((i * 104_729) % 97) as f32 / 48.0 - 1.0)
            .collect();
        let before: Vec<f32> = (0..m * n).map(|i| (i % 5) as f32).collect();
        let mut results = Vec::new();
        for level in [SimdLevel::Portable, SimdLevel::Avx2, SimdLevel::Avx512] {
            if level > simd::detected() {
                continue;
            }
            let mut dst = before.clone();
            // SAFETY: lhs m x depth row-major, rhs depth x n column-major, dst m x n
            // row-major; `level` is one the CPU has.
            unsafe {
                gemm_at(
                    level,
                    (m, n, depth),
                    (dst.as_mut_ptr(), n as isize, 1),
                    true,
                    (lhs.as_ptr(), depth as isize, 1),
                    (rhs.as_ptr(), 1, depth as isize),
                )
            };
            results.push((level, dst));
        }
        let wide: Vec<_> = results
            .iter()
            .filter(|(level, _)| *level >= SimdLevel::Avx2)
            .collect();
        if wide.len() == 2 {
            assert!(wide[0].1 == wide[1].1, "AVX2 and AVX-512 products differ");
        }
        for (level, dst) in &results {
            for i in 0..m {
                for j in 0..n {
                    let want: f64 = f64::from(before[i * n + j])
                        + (0..depth)
                            .map(|d| f64::from(lhs[i * depth + d]) * f64::from(rhs[j * depth + d]))
                            .sum::<f64>();
                    let got = f64::from(dst[i * n + j]);
                    assert!(
                        (got - want).abs() < 1e-4,
                        "{level:?} ({i}, {j}): {got} vs {want}"
                    );
                }
            }
        }
    }

    #[test]
    fn the_rate_is_positive_and_finite() {
        let r = gemm_gflops(64);
        assert!(r.is_finite() && r > 0.0, "{r}");
    }
}
