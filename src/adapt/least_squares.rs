//! The kit that best re-synthesises a stem from given activations. The synthesizer is linear in
//! its waveforms: the mix is `sum_k a_k * h_k` (each component's impulse track, zero-inserted
//! from the frame rate, convolved with its waveform), so the waveforms `h` (K x L) that make it
//! closest to the stem `x` are a least-squares fit,
//! `min_h ||x - sum_k a_k * h_k||^2 + ridge ||h||^2`. It is solved by conjugate gradients on
//! the normal equations, each product with the synthesis operator and its adjoint done with
//! FFTs over the whole stem (2K + 2 FFTs an iteration), so no K L x K L matrix is ever formed.

use realfft::num_complex::Complex;
use realfft::RealFftPlanner;

/// Least-squares waveforms of `len` samples for the impulse tracks of `activations`
/// (`[component][frame]`, frame t at sample `hop` t of `x`), after `iterations` rounds of
/// conjugate gradients. With a `prior` kit the fit is of the change from it, the ridge pulling
/// toward it: where the activations cannot tell two components apart (a pedal hat that fires
/// with every kick), each keeps what the prior gave it instead of an arbitrary split. `ridge`
/// is relative to the activations' energy.
pub fn fit_waveforms(
    x: &[f32],
    activations: &[Vec<f32>],
    hop: usize,
    len: usize,
    iterations: usize,
    ridge: f64,
    prior: Option<&[Vec<f32>]>,
) -> Vec<Vec<f32>> {
    let k = activations.len();
    let n = x.len();
    let size = (n + len).next_power_of_two();
    let mut planner = RealFftPlanner::<f64>::new();
    let forward = planner.plan_fft_forward(size);
    let inverse = planner.plan_fft_inverse(size);
    let spectrum_of = |signal: &mut Vec<f64>| -> Vec<Complex<f64>> {
        let mut out = forward.make_output_vec();
        // The buffers are sized by the plan: the FFT cannot fail.
        let _ = forward.process(signal, &mut out);
        out
    };
    let signal_of = |spectrum: &mut Vec<Complex<f64>>| -> Vec<f64> {
        let mut out = inverse.make_output_vec();
        let _ = inverse.process(spectrum, &mut out);
        let scale = 1.0 / size as f64;
        out.iter_mut().for_each(|v| *v *= scale);
        out
    };
    let mut energy = 0.0f64;
    let tracks: Vec<Vec<Complex<f64>>> = activations
        .iter()
        .map(|curve| {
            let mut impulses = vec![0.0f64; size];
            for (t, &a) in curve.iter().enumerate() {
                if t * hop < n && a != 0.0 {
                    impulses[t * hop] = f64::from(a);
                    energy += f64::from(a) * f64::from(a);
                }
            }
            spectrum_of(&mut impulses)
        })
        .collect();
    let lambda = ridge * energy.max(1e-12) / k.max(1) as f64;
    // The synthesis operator: waveforms -> mix (first n samples).
    let synthesise = |h: &[Vec<f64>]| -> Vec<f64> {
        let mut sum = vec![Complex::new(0.0, 0.0); size / 2 + 1];
        for (track, wave) in tracks.iter().zip(h) {
            let mut padded = vec![0.0f64; size];
            padded[..len].copy_from_slice(wave);
            for ((s, a), w) in sum.iter_mut().zip(track).zip(spectrum_of(&mut padded)) {
                *s += a * w;
            }
        }
        let mut mix = signal_of(&mut sum);
        mix.truncate(n);
        mix
    };
    // Its adjoint: mix -> each track's correlation with it at lags 0..len.
    let correlate = |r: &[f64]| -> Vec<Vec<f64>> {
        let mut padded = vec![0.0f64; size];
        padded[..n].copy_from_slice(r);
        let spectrum = spectrum_of(&mut padded);
        tracks
            .iter()
            .map(|track| {
                let mut product: Vec<Complex<f64>> = spectrum
                    .iter()
                    .zip(track)
                    .map(|(s, a)| s * a.conj())
                    .collect();
                let mut g = signal_of(&mut product);
                g.truncate(len);
                g
            })
            .collect()
    };
    let normal = |h: &[Vec<f64>]| -> Vec<Vec<f64>> {
        let mut g = correlate(&synthesise(h));
        for (gk, hk) in g.iter_mut().zip(h) {
            for (a, b) in gk.iter_mut().zip(hk) {
                *a += lambda * b;
            }
        }
        g
    };
    let dot = |a: &[Vec<f64>], b: &[Vec<f64>]| -> f64 {
        a.iter()
            .zip(b)
            .map(|(x, y)| x.iter().zip(y).map(|(p, q)| p * q).sum::<f64>())
            .sum()
    };
    let prior: Vec<Vec<f64>> = match prior {
        Some(p) => p
            .iter()
            .map(|w| w.iter().map(|&v| f64::from(v)).collect())
            .collect(),
        None => vec![vec![0.0f64; len]; k],
    };
    let predicted = synthesise(&prior);
    let target: Vec<f64> = x
        .iter()
        .zip(&predicted)
        .map(|(&v, p)| f64::from(v) - p)
        .collect();
    let mut h = vec![vec![0.0f64; len]; k];
    let mut r = correlate(&target);
    let mut p = r.clone();
    let mut rr = dot(&r, &r);
    let start = rr;
    for _ in 0..iterations {
        if rr <= 1e-20 * start.max(1e-300) {
            break;
        }
        let q = normal(&p);
        let alpha = rr / dot(&p, &q).max(1e-300);
        for (((hk, pk), rk), qk) in h.iter_mut().zip(&p).zip(&mut r).zip(&q) {
            for i in 0..len {
                hk[i] += alpha * pk[i];
                rk[i] -= alpha * qk[i];
            }
        }
        let next = dot(&r, &r);
        let beta = next / rr;
        rr = next;
        for (pk, rk) in p.iter_mut().zip(&r) {
            for (a, b) in pk.iter_mut().zip(rk) {
                *a = b + beta * *a;
            }
        }
    }
    h.into_iter()
        .zip(&prior)
        .map(|(w, p)| w.into_iter().zip(p).map(|(v, q)| (v + q) as f32).collect())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic pseudo-random values in -1..1.
    fn noise(n: usize, seed: u32) -> Vec<f32> {
        let mut state = seed.wrapping_mul(2_654_435_761).max(1);
        (0..n)
            .map(|_| {
                state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                (state >> 8) as f32 / (1u32 << 23) as f32 - 1.0
            })
            .collect()
    }

    #[test]
    fn least_squares_waveforms_resynthesise_a_known_activation_pattern_exactly() {
        let (hop, len, frames) = (4, 48, 400);
        // Three components, sparse impulses of varied heights, overlapping in time.
        let activations: Vec<Vec<f32>> = (0..3)
            .map(|k| {
                (0..frames)
                    .map(|t| {
                        if (t * (k + 3) + 7 * k) % 23 == 0 {
                            0.3 + 0.1 * ((t + k) % 7) as f32
                        } else {
                            0.0
                        }
                    })
                    .collect()
            })
            .collect();
        let truth: Vec<Vec<f32>> = (0..3).map(|k| noise(len, k as u32 + 1)).collect();
        let n = frames * hop;
        let mut x = vec![0.0f32; n];
        for (curve, wave) in activations.iter().zip(&truth) {
            for (t, &a) in curve.iter().enumerate() {
                for (i, &w) in wave.iter().enumerate() {
                    if t * hop + i < n {
                        x[t * hop + i] += a * w;
                    }
                }
            }
        }
        let fitted = fit_waveforms(&x, &activations, hop, len, 300, 0.0, None);
        for (f, t) in fitted.iter().zip(&truth) {
            let err: f32 = f.iter().zip(t).map(|(a, b)| (a - b).powi(2)).sum();
            let norm: f32 = t.iter().map(|a| a * a).sum();
            assert!(err < 1e-6 * norm, "relative error {}", err / norm);
        }
    }
}
