//! Transcendental functions built from `+ - * /` only, so that a seed renders bit-identical
//! samples on every machine: the platform's `sin`/`exp` (libm, glibc, musl, macOS) may differ in
//! the last bit, and those differences would otherwise make kits machine-dependent.

use std::f64::consts::{FRAC_PI_2, LN_2, PI, TAU};

/// `e^x`, accurate to about 1e-15 relative over the range the generator uses.
pub fn exp(x: f64) -> f64 {
    if x < -700.0 {
        return 0.0;
    }
    if x > 700.0 {
        return f64::INFINITY;
    }
    // e^x = 2^n * e^r with |r| <= ln2/2; Taylor series of e^r converges fast there.
    let n = (x / LN_2).round();
    let r = x - n * LN_2;
    let mut term = 1.0;
    let mut sum = 1.0;
    for k in 1..=16 {
        term *= r / k as f64;
        sum += term;
    }
    sum * pow2i(n as i32)
}

/// `2^n` for an integer exponent, built directly from the IEEE-754 bits.
fn pow2i(n: i32) -> f64 {
    if n < -1022 {
        // Subnormal results: split the scaling in two normal steps.
        return pow2i(n + 1022) * pow2i(-1022);
    }
    f64::from_bits(((n + 1023) as u64) << 52)
}

/// Sine of `x` radians, accurate to about 1e-15 absolute for |x| below 1e6.
pub fn sin(x: f64) -> f64 {
    // Reduce to [-pi, pi], then fold to [-pi/2, pi/2] using sin(pi - r) = sin(r).
    let mut r = x - (x / TAU).round() * TAU;
    if r > FRAC_PI_2 {
        r = PI - r;
    } else if r < -FRAC_PI_2 {
        r = -PI - r;
    }
    let r2 = r * r;
    let mut term = r;
    let mut sum = r;
    for k in 1..=10 {
        term *= -r2 / ((2 * k) as f64 * (2 * k + 1) as f64);
        sum += term;
    }
    sum
}

/// Cosine of `x` radians.
pub fn cos(x: f64) -> f64 {
    sin(x + FRAC_PI_2)
}

/// Sine of a phase given in cycles (turns), the form the oscillators keep their phase in.
pub fn sin_turns(phase: f64) -> f64 {
    sin((phase - phase.floor()) * TAU)
}

/// Hyperbolic tangent, used as a gentle saturator.
pub fn tanh(x: f64) -> f64 {
    if x > 20.0 {
        return 1.0;
    }
    if x < -20.0 {
        return -1.0;
    }
    let e = exp(2.0 * x);
    (e - 1.0) / (e + 1.0)
}

/// `base^e` for a positive base.
pub fn powf(base: f64, e: f64) -> f64 {
    exp(e * ln(base))
}

/// Natural logarithm of a positive number (Newton iterations on [`exp`]).
pub fn ln(x: f64) -> f64 {
    if x <= 0.0 {
        return f64::NEG_INFINITY;
    }
    // Split off the binary exponent: x = m * 2^e with m in [1, 2).
    let bits = x.to_bits();
    let e = ((bits >> 52) & 0x7ff) as i32 - 1023;
    let m = f64::from_bits((bits & 0x000f_ffff_ffff_ffff) | (1023u64 << 52));
    // atanh series: ln(m) = 2 * atanh((m - 1) / (m + 1)), |s| <= 1/3.
    let s = (m - 1.0) / (m + 1.0);
    let s2 = s * s;
    let mut term = s;
    let mut sum = 0.0;
    for k in 0..30 {
        sum += term / (2 * k + 1) as f64;
        term *= s2;
    }
    2.0 * sum + e as f64 * LN_2
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_platform_functions() {
        for i in -2000..2000 {
            let x = i as f64 * 0.0173;
            assert!((exp(x / 10.0) - (x / 10.0).exp()).abs() <= 1e-13 * (x / 10.0).exp());
            assert!((sin(x) - x.sin()).abs() < 1e-13, "sin({x})");
            assert!((cos(x) - x.cos()).abs() < 1e-13, "cos({x})");
            assert!((tanh(x / 5.0) - (x / 5.0).tanh()).abs() < 1e-13);
            let p = (i + 2001) as f64 * 0.37;
            assert!((ln(p) - p.ln()).abs() < 1e-13, "ln({p})");
            assert!((powf(p, 0.3) - p.powf(0.3)).abs() < 1e-12 * p.powf(0.3));
        }
        assert_eq!(exp(-800.0), 0.0);
        assert!((exp(-710.0) - (-710.0f64).exp()).abs() < 1e-300);
    }
}
