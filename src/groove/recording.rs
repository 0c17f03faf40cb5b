//! Recording-chain effects for augmentation: filters (low cut, high cut, a mid peak), a
//! compressor and lo-fi degradation. Each is a plain function of its parameters; the random
//! choices live in `augment`.

use std::f64::consts::TAU;

/// A second-order section (RBJ audio-EQ cookbook), direct form I in f64.
#[derive(Debug, Clone, Copy)]
struct Biquad {
    b: [f64; 3],
    a: [f64; 2],
}

impl Biquad {
    fn normalised(b: [f64; 3], a0: f64, a1: f64, a2: f64) -> Biquad {
        Biquad {
            b: b.map(|x| x / a0),
            a: [a1 / a0, a2 / a0],
        }
    }

    /// Angular frequency's cosine and the cookbook's alpha for a corner `hz` and quality `q`.
    fn omega(hz: f64, q: f64, sample_rate: u32) -> (f64, f64) {
        // Corners stay below Nyquist so the design remains stable.
        let hz = hz.clamp(1.0, 0.45 * f64::from(sample_rate));
        let w = TAU * hz / f64::from(sample_rate);
        (w.cos(), w.sin() / (2.0 * q))
    }

    fn high_pass(hz: f64, sample_rate: u32) -> Biquad {
        let (c, alpha) = Biquad::omega(hz, std::f64::consts::FRAC_1_SQRT_2, sample_rate);
        let b0 = (1.0 + c) / 2.0;
        Biquad::normalised([b0, -(1.0 + c), b0], 1.0 + alpha, -2.0 * c, 1.0 - alpha)
    }

    fn low_pass(hz: f64, sample_rate: u32) -> Biquad {
        let (c, alpha) = Biquad::omega(hz, std::f64::consts::FRAC_1_SQRT_2, sample_rate);
        let b0 = (1.0 - c) / 2.0;
        Biquad::normalised([b0, 1.0 - c, b0], 1.0 + alpha, -2.0 * c, 1.0 - alpha)
    }

    fn peak(hz: f64, q: f64, gain_db: f64, sample_rate: u32) -> Biquad {
        let (c, alpha) = Biquad::omega(hz, q, sample_rate);
        let a = 10f64.powf(gain_db / 40.0);
        Biquad::normalised(
            [1.0 + alpha * a, -2.0 * c, 1.0 - alpha * a],
            1.0 + alpha / a,
            -2.0 * c,
            1.0 - alpha / a,
        )
    }

    fn run(&self, samples: &mut [f32]) {
        let (mut x1, mut x2, mut y1, mut y2) = (0.0f64, 0.0, 0.0, 0.0);
        for s in samples.iter_mut() {
            let x = f64::from(*s);
            let y =
                self.b[0] * x + self.b[1] * x1 + self.b[2] * x2 - self.a[0] * y1 - self.a[1] * y2;
            (x2, x1, y2, y1) = (x1, x, y1, y);
            *s = y as f32;
        }
    }
}

/// Removes what lies below `hz` (12 dB per octave): a mic's or console's low cut.
pub(crate) fn low_cut(samples: &mut [f32], hz: f64, sample_rate: u32) {
    // Two sections: 24 dB per octave, as steep as a console's rumble filter.
    let f = Biquad::high_pass(hz, sample_rate);
    f.run(samples);
    f.run(samples);
}

/// Removes what lies above `hz` (24 dB per octave): a dull mic, tape, or a cheap converter.
pub(crate) fn high_cut(samples: &mut [f32], hz: f64, sample_rate: u32) {
    let f = Biquad::low_pass(hz, sample_rate);
    f.run(samples);
    f.run(samples);
}

/// A bell of `gain_db` around `hz` (an octave wide): a boxy or honky mid range.
pub(crate) fn mid_peak(samples: &mut [f32], hz: f64, gain_db: f64, sample_rate: u32) {
    Biquad::peak(hz, 1.4, gain_db, sample_rate).run(samples);
}

fn peak(samples: &[f32]) -> f32 {
    samples.iter().fold(0.0f32, |m, s| m.max(s.abs()))
}

/// A feed-forward compressor: a fast peak envelope (instant attack, so that a drum's first
/// peak is caught, and a `release_ms` release), `ratio`:1 above a threshold `threshold_db`
/// below the signal's peak, then make-up gain back to the original peak. Lowers the crest
/// factor, as drum buses are squashed.
pub(crate) fn compress(
    samples: &mut [f32],
    threshold_db: f64,
    ratio: f64,
    release_ms: f64,
    sample_rate: u32,
) {
    let original_peak = peak(samples);
    if original_peak == 0.0 || !original_peak.is_finite() || ratio <= 1.0 {
        return;
    }
    let sr = f64::from(sample_rate);
    let release = (-1.0 / (release_ms.max(0.01) / 1000.0 * sr)).exp();
    let threshold = f64::from(original_peak) * 10f64.powf(threshold_db.min(0.0) / 20.0);
    let slope = 1.0 - 1.0 / ratio;
    let mut envelope = 0.0f64;
    for s in samples.iter_mut() {
        let level = f64::from(s.abs());
        envelope = if level > envelope {
            level
        } else {
            release * envelope + (1.0 - release) * level
        };
        if envelope > threshold {
            // Gain reduction in dB: (level - threshold) * (1 - 1/ratio).
            let over_db = 20.0 * (envelope / threshold).log10();
            *s *= 10f64.powf(-over_db * slope / 20.0) as f32;
        }
    }
    let new_peak = peak(samples);
    if new_peak > 0.0 {
        let makeup = original_peak / new_peak;
        samples.iter_mut().for_each(|s| *s *= makeup);
    }
}

/// Lo-fi: band-limits to `band_hz`, holds every sample `hold` samples long (a lower sample
/// rate without its anti-alias filter) and rounds to `bits` bits relative to the peak.
pub(crate) fn lofi(samples: &mut [f32], bits: u32, hold: usize, band_hz: f64, sample_rate: u32) {
    high_cut(samples, band_hz, sample_rate);
    let hold = hold.max(1);
    for chunk in samples.chunks_mut(hold) {
        let first = chunk[0];
        chunk.iter_mut().for_each(|s| *s = first);
    }
    let full = peak(samples);
    if full == 0.0 || !full.is_finite() {
        return;
    }
    // 2^(bits-1) steps on each side of zero, full scale at the peak.
    let steps = f64::from(1u32 << (bits.clamp(1, 24) - 1));
    for s in samples.iter_mut() {
        let q = (f64::from(*s / full) * steps).round() / steps;
        *s = (q * f64::from(full)) as f32;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(hz: f64, n: usize, sr: u32) -> Vec<f32> {
        (0..n)
            .map(|i| (TAU * hz * i as f64 / f64::from(sr)).sin() as f32 * 0.5)
            .collect()
    }

    fn rms(x: &[f32]) -> f64 {
        (x.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>() / x.len() as f64).sqrt()
    }

    #[test]
    fn filters_cut_their_stop_band_and_pass_the_rest() {
        let sr = 16_000;
        let through = |f: fn(&mut [f32]), hz: f64| {
            let mut x = tone(hz, 16_000, sr);
            f(&mut x);
            rms(&x[4000..]) / (0.5 / 2f64.sqrt())
        };
        let lc = |x: &mut [f32]| low_cut(x, 200.0, 16_000);
        let hc = |x: &mut [f32]| high_cut(x, 2000.0, 16_000);
        assert!(through(lc, 50.0) < 0.01, "{}", through(lc, 50.0));
        assert!(through(lc, 2000.0) > 0.95);
        assert!(through(hc, 6000.0) < 0.02, "{}", through(hc, 6000.0));
        assert!(through(hc, 200.0) > 0.95);
        let mut x = tone(1000.0, 16_000, sr);
        mid_peak(&mut x, 1000.0, 12.0, sr);
        let boost = rms(&x[4000..]) / (0.5 / 2f64.sqrt());
        assert!((boost - 10f64.powf(12.0 / 20.0)).abs() < 0.1, "{boost}");
    }

    #[test]
    fn compression_keeps_the_peak_and_lowers_the_crest_factor() {
        let sr = 16_000;
        // Decaying hits: a loud attack over a long quiet tail.
        let mut x: Vec<f32> = (0..16_000)
            .map(|i| {
                let t = (i % 4000) as f64 / f64::from(sr);
                ((TAU * 180.0 * t).sin() * (-t * 12.0).exp()) as f32
            })
            .collect();
        let crest = |x: &[f32]| f64::from(peak(x)) / rms(x);
        let (before, top) = (crest(&x), peak(&x));
        compress(&mut x, -20.0, 6.0, 80.0, sr);
        assert!((peak(&x) - top).abs() < 1e-5, "{} vs {top}", peak(&x));
        assert!(crest(&x) < 0.75 * before, "{before} -> {}", crest(&x));
    }

    #[test]
    fn lofi_leaves_few_distinct_values_and_holds_samples() {
        let mut x = tone(440.0, 8000, 16_000);
        lofi(&mut x, 4, 3, 4000.0, 16_000);
        // `+ 0.0` folds -0.0 into 0.0: one value, two bit patterns.
        let mut values: Vec<u32> = x.iter().map(|v| (v + 0.0).to_bits()).collect();
        values.sort_unstable();
        values.dedup();
        assert!(values.len() <= 17, "{} distinct values", values.len());
        assert!(x.chunks(3).all(|c| c.iter().all(|&v| v == c[0])));
    }
}
