//! Small measurements on rendered components, for the families' tests: each family is tested on
//! the trait it is named for, measured on the audio (not on its parameters).

use realfft::RealFftPlanner;

use super::blocks::{Biquad, SR};

/// Power spectrum of `x` through a Hann window; bin `k` is at `k * SR / x.len()` Hz.
pub fn power_spectrum(x: &[f32]) -> Vec<f64> {
    let n = x.len();
    let fft = RealFftPlanner::<f64>::new().plan_fft_forward(n);
    let mut input: Vec<f64> = x
        .iter()
        .enumerate()
        .map(|(i, &v)| {
            let w = 0.5 - 0.5 * (std::f64::consts::TAU * i as f64 / n as f64).cos();
            f64::from(v) * w
        })
        .collect();
    let mut out = fft.make_output_vec();
    fft.process(&mut input, &mut out).expect("fft sizes");
    out.iter().map(|c| c.norm_sqr()).collect()
}

fn bin_hz(n: usize) -> f64 {
    SR / n as f64
}

/// Power-weighted mean frequency (Hz).
pub fn spectral_centroid(x: &[f32]) -> f64 {
    let p = power_spectrum(x);
    let hz = bin_hz(x.len());
    let total: f64 = p.iter().sum();
    p.iter()
        .enumerate()
        .map(|(k, v)| k as f64 * hz * v)
        .sum::<f64>()
        / total.max(1e-300)
}

/// Share of the power at or above `hz`.
pub fn share_above(x: &[f32], hz: f64) -> f64 {
    let p = power_spectrum(x);
    let first = (hz / bin_hz(x.len())).ceil() as usize;
    let total: f64 = p.iter().sum();
    p[first.min(p.len())..].iter().sum::<f64>() / total.max(1e-300)
}

/// Share of the power in `[lo, hi)` Hz held by its strongest `fraction` of bins: near
/// `fraction` for noise, near 1 for a spectrum of discrete lines.
pub fn peak_concentration(x: &[f32], (lo, hi): (f64, f64), fraction: f64) -> f64 {
    let p = power_spectrum(x);
    let hz = bin_hz(x.len());
    let mut band: Vec<f64> = p[(lo / hz) as usize..((hi / hz) as usize).min(p.len())].to_vec();
    band.sort_by(|a, b| b.total_cmp(a));
    let top = ((band.len() as f64 * fraction).ceil() as usize).max(1);
    band[..top].iter().sum::<f64>() / band.iter().sum::<f64>().max(1e-300)
}

/// Mean frequency (Hz) of the low-passed signal in samples `[from, to)`, from the span between
/// its first and last zero crossing there: the pitch of a sine-like voice, ignoring clicks.
pub fn zero_crossing_hz(x: &[f32], lowpass_hz: f64, (from, to): (usize, usize)) -> f64 {
    let mut lp1 = Biquad::lowpass(lowpass_hz, 0.707);
    let mut lp2 = Biquad::lowpass(lowpass_hz, 0.707);
    let y: Vec<f64> = x
        .iter()
        .map(|&v| lp2.process(lp1.process(f64::from(v))))
        .collect();
    let crossings: Vec<usize> = (from.max(1)..to.min(y.len()))
        .filter(|&i| (y[i - 1] < 0.0) != (y[i] < 0.0))
        .collect();
    match (crossings.first(), crossings.last()) {
        (Some(&a), Some(&b)) if b > a => (crossings.len() - 1) as f64 * SR / (2.0 * (b - a) as f64),
        _ => 0.0,
    }
}

/// Energy of consecutive `frame`-sample frames.
pub fn frame_energy(x: &[f32], frame: usize) -> Vec<f64> {
    x.chunks(frame)
        .map(|c| c.iter().map(|&v| f64::from(v).powi(2)).sum())
        .collect()
}

/// Separated energy peaks among the frames: a local maximum counts when the energy fell below a
/// quarter of it since the previous counted peak and is at least `floor` of the loudest frame.
pub fn energy_peaks(energy: &[f64], floor: f64) -> usize {
    let loudest = energy.iter().cloned().fold(0.0, f64::max);
    let mut count = 0;
    let mut valley = f64::INFINITY;
    let mut last_peak: f64 = 0.0;
    for i in 0..energy.len() {
        let e = energy[i];
        valley = valley.min(e);
        let before = if i > 0 { energy[i - 1] } else { 0.0 };
        let after = energy.get(i + 1).copied().unwrap_or(0.0);
        let is_max = e >= before && e > after;
        let separated = count == 0 || valley < 0.25 * last_peak.min(e);
        if is_max && separated && e >= floor * loudest {
            count += 1;
            last_peak = e;
            valley = f64::INFINITY;
        }
    }
    count
}

/// Seconds from sample 0 to the loudest `frame`-sample frame.
pub fn time_to_peak(x: &[f32], frame: usize) -> f64 {
    let e = frame_energy(x, frame);
    let loudest = (0..e.len()).fold(0, |m, i| if e[i] > e[m] { i } else { m });
    (loudest * frame) as f64 / SR
}

/// Peak over RMS of the whole component.
pub fn crest_factor(x: &[f32]) -> f64 {
    let peak = x.iter().fold(0.0f64, |m, &v| m.max(f64::from(v).abs()));
    let rms = (x.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>() / x.len() as f64).sqrt();
    peak / rms.max(1e-300)
}

/// Mean power `[from_s, to_s)` seconds after the peak sample, relative to the peak's power.
pub fn tail_ratio(x: &[f32], (from_s, to_s): (f64, f64)) -> f64 {
    let at = (0..x.len()).fold(0, |m, i| if x[i].abs() > x[m].abs() { i } else { m });
    let peak = f64::from(x[at]).powi(2);
    let window =
        &x[(at + (from_s * SR) as usize).min(x.len())..(at + (to_s * SR) as usize).min(x.len())];
    let power =
        window.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>() / window.len().max(1) as f64;
    power / peak.max(1e-300)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kit::procedural::blocks::Sine;

    fn sine(hz: f64, n: usize) -> Vec<f32> {
        let mut osc = Sine::new(0.0);
        (0..n).map(|_| osc.next_value(hz) as f32).collect()
    }

    #[test]
    fn measurements_read_known_signals() {
        let s = sine(1000.0, 4096);
        assert!((spectral_centroid(&s) - 1000.0).abs() < 20.0);
        assert!(share_above(&s, 5000.0) < 1e-6);
        assert!(peak_concentration(&s, (500.0, 2000.0), 0.05) > 0.99);
        assert!((zero_crossing_hz(&s, 4000.0, (500, 4000)) - 1000.0).abs() < 5.0);
        let bursts: Vec<f32> = (0..640)
            .map(|i| if (i / 16) % 8 == 0 { 1.0 } else { 0.0 })
            .collect();
        assert_eq!(energy_peaks(&frame_energy(&bursts, 16), 0.1), 5);
        assert!((crest_factor(&s) - std::f64::consts::SQRT_2).abs() < 0.01);
    }
}
