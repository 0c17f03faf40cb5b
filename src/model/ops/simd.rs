//! Which vector unit the hand-written kernels run on, chosen at run time.
//!
//! The crate is built for baseline x86-64 (SSE2, 4 lanes), so that one binary runs on every
//! x86-64 machine; a kernel's loops compiled again for AVX2+FMA (8 lanes) or AVX-512 (16 lanes)
//! run 2-4x faster where the CPU has them. [`multiversion!`] writes the three builds of a
//! kernel and [`level`] picks one, once per process: the widest the CPU has, capped by the
//! environment variable `DRUMMERNET_SIMD` (`avx512`, `avx2` or `portable`), so that the tests
//! and benchmarks can run every code path on one machine (and a user can rule out a kernel).

use std::sync::OnceLock;

/// The environment variable that caps the level (`avx512`, `avx2`, `portable`).
pub const SIMD_ENV: &str = "DRUMMERNET_SIMD";

/// A build of the kernels, from narrowest to widest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum SimdLevel {
    /// Whatever the baseline target allows (SSE2 on x86-64).
    Portable,
    /// AVX2 with FMA (x86-64-v3).
    Avx2,
    /// AVX-512 F/VL/BW/DQ (x86-64-v4).
    Avx512,
}

impl SimdLevel {
    pub fn name(self) -> &'static str {
        match self {
            SimdLevel::Portable => "portable",
            SimdLevel::Avx2 => "avx2",
            SimdLevel::Avx512 => "avx512",
        }
    }

    /// `avx512`, `avx2` or `portable` (any case); `None` for anything else.
    pub fn parse(text: &str) -> Option<SimdLevel> {
        match text.trim().to_ascii_lowercase().as_str() {
            "avx512" | "avx-512" => Some(SimdLevel::Avx512),
            "avx2" => Some(SimdLevel::Avx2),
            "portable" | "scalar" | "none" => Some(SimdLevel::Portable),
            _ => None,
        }
    }
}

/// The widest level this CPU supports.
pub fn detected() -> SimdLevel {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::is_x86_feature_detected as has;
        if has!("avx512f") && has!("avx512vl") && has!("avx512bw") && has!("avx512dq") {
            return SimdLevel::Avx512;
        }
        if has!("avx2") && has!("fma") {
            return SimdLevel::Avx2;
        }
    }
    SimdLevel::Portable
}

/// The level the kernels run at: [`detected`], capped by `DRUMMERNET_SIMD` when it names a
/// narrower one (a wider one than the CPU has is ignored: it would crash). Read once.
pub fn level() -> SimdLevel {
    static LEVEL: OnceLock<SimdLevel> = OnceLock::new();
    *LEVEL.get_or_init(|| {
        let cap = std::env::var(SIMD_ENV)
            .ok()
            .and_then(|v| SimdLevel::parse(&v));
        match cap {
            Some(cap) => cap.min(detected()),
            None => detected(),
        }
    })
}

/// Writes `$name`, a function that runs the `#[inline(always)]` function `$body` (same
/// generic parameter and arguments) compiled for the [`level`] of this process: AVX-512,
/// AVX2+FMA or the baseline target.
macro_rules! multiversion {
    ($(#[$attr:meta])* $vis:vis fn $name:ident<$t:ident: $bound:path>($($arg:ident: $ty:ty),* $(,)?) $(-> $ret:ty)? => $body:path) => {
        $(#[$attr])*
        #[allow(clippy::too_many_arguments)]
        $vis fn $name<$t: $bound>($($arg: $ty),*) $(-> $ret)? {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f,avx512vl,avx512bw,avx512dq,avx2,fma")]
                #[allow(clippy::too_many_arguments)]
                unsafe fn avx512<$t: $bound>($($arg: $ty),*) $(-> $ret)? {
                    $body($($arg),*)
                }
                #[target_feature(enable = "avx2,fma")]
                #[allow(clippy::too_many_arguments)]
                unsafe fn avx2<$t: $bound>($($arg: $ty),*) $(-> $ret)? {
                    $body($($arg),*)
                }
                match $crate::model::ops::simd::level() {
                    // SAFETY: `level` never exceeds what the CPU was detected to support.
                    $crate::model::ops::simd::SimdLevel::Avx512 => {
                        return unsafe { avx512::<$t>($($arg),*) }
                    }
                    // SAFETY: as above.
                    $crate::model::ops::simd::SimdLevel::Avx2 => {
                        return unsafe { avx2::<$t>($($arg),*) }
                    }
                    $crate::model::ops::simd::SimdLevel::Portable => {}
                }
            }
            $body($($arg),*)
        }
    };
}
pub(crate) use multiversion;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_levels_are_ordered() {
        for level in [SimdLevel::Portable, SimdLevel::Avx2, SimdLevel::Avx512] {
            assert_eq!(SimdLevel::parse(level.name()), Some(level));
        }
        assert_eq!(SimdLevel::parse("AVX2 "), Some(SimdLevel::Avx2));
        assert_eq!(SimdLevel::parse("sse9"), None);
        assert!(SimdLevel::Portable < SimdLevel::Avx2 && SimdLevel::Avx2 < SimdLevel::Avx512);
        assert!(level() <= detected());
    }
}
