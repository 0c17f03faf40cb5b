//! What `drummernet kit show` prints: per component, its length, level, decay and brightness.

use std::fmt;

use realfft::RealFftPlanner;

use super::Kit;
use crate::audio::SAMPLE_RATE;

/// Measurements of one component's waveform.
#[derive(Debug, Clone, PartialEq)]
pub struct ComponentSummary {
    pub name: String,
    /// Samples (at 16 kHz).
    pub length: usize,
    /// Largest absolute sample.
    pub peak: f32,
    pub rms: f32,
    /// Seconds from the envelope's peak until it last falls below -40 dB of that peak; `None` when
    /// the sound is still above -40 dB where the sample ends.
    pub decay_40db_s: Option<f32>,
    /// Magnitude-weighted mean frequency of the whole waveform, Hz (0 for silence).
    pub spectral_centroid_hz: f32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct KitSummary {
    pub name: String,
    pub components: Vec<ComponentSummary>,
}

pub fn summarise(kit: &Kit) -> KitSummary {
    KitSummary {
        name: kit.name.clone(),
        components: kit
            .components
            .iter()
            .map(|c| summarise_component(&c.name, &c.samples))
            .collect(),
    }
}

pub fn summarise_component(name: &str, samples: &[f32]) -> ComponentSummary {
    let peak = samples.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    let energy: f64 = samples.iter().map(|&v| f64::from(v) * f64::from(v)).sum();
    let rms = if samples.is_empty() {
        0.0
    } else {
        (energy / samples.len() as f64).sqrt() as f32
    };
    ComponentSummary {
        name: name.to_string(),
        length: samples.len(),
        peak,
        rms,
        decay_40db_s: decay_time(samples, 0.01),
        spectral_centroid_hz: spectral_centroid(samples),
    }
}

/// Envelope frames of 2.5 ms: short enough to resolve a closed hi-hat's decay.
const ENVELOPE_HOP: usize = 40;

/// Seconds from the envelope peak until the envelope last exceeds `ratio` times that peak.
/// `None` if it still exceeds it in the final frame (the sound is cut, not decayed).
pub fn decay_time(samples: &[f32], ratio: f32) -> Option<f32> {
    let envelope: Vec<f32> = samples
        .chunks(ENVELOPE_HOP)
        .map(|frame| frame.iter().fold(0.0f32, |m, v| m.max(v.abs())))
        .collect();
    let (peak_frame, peak) =
        envelope.iter().enumerate().fold(
            (0, 0.0f32),
            |best, (i, &v)| if v > best.1 { (i, v) } else { best },
        );
    if peak == 0.0 {
        return Some(0.0);
    }
    let last_loud = envelope.iter().rposition(|&v| v > ratio * peak)?;
    if last_loud + 1 == envelope.len() {
        return None;
    }
    Some(((last_loud + 1 - peak_frame) * ENVELOPE_HOP) as f32 / SAMPLE_RATE as f32)
}

/// Magnitude-weighted mean frequency in Hz of the whole signal.
pub fn spectral_centroid(samples: &[f32]) -> f32 {
    if samples.len() < 2 {
        return 0.0;
    }
    let mut planner = RealFftPlanner::<f32>::new();
    let fft = planner.plan_fft_forward(samples.len());
    let mut input = samples.to_vec();
    let mut spectrum = fft.make_output_vec();
    if fft.process(&mut input, &mut spectrum).is_err() {
        return 0.0;
    }
    let bin_hz = SAMPLE_RATE as f64 / samples.len() as f64;
    let (weighted, total) = spectrum
        .iter()
        .enumerate()
        .fold((0.0f64, 0.0f64), |(w, t), (k, c)| {
            let m = f64::from(c.norm());
            (w + m * k as f64 * bin_hz, t + m)
        });
    if total > 0.0 {
        (weighted / total) as f32
    } else {
        0.0
    }
}

impl fmt::Display for KitSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "kit {}", self.name)?;
        writeln!(
            f,
            "{:<8} {:>8} {:>7} {:>7} {:>8} {:>9} {:>10}",
            "name", "samples", "peak", "rms", "rms dB", "decay-40", "centroid"
        )?;
        for c in &self.components {
            let rms_db = if c.rms > 0.0 {
                format!("{:.1}", 20.0 * c.rms.log10())
            } else {
                "-inf".to_string()
            };
            let decay = match c.decay_40db_s {
                Some(s) => format!("{s:.3} s"),
                None => format!(">{:.2} s", c.length as f32 / SAMPLE_RATE as f32),
            };
            writeln!(
                f,
                "{:<8} {:>8} {:>7.3} {:>7.4} {:>8} {:>9} {:>7.0} Hz",
                c.name, c.length, c.peak, c.rms, rms_db, decay, c.spectral_centroid_hz
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn centroid_of_a_pure_tone_is_its_frequency() {
        let tone: Vec<f32> = (0..16_000)
            .map(|n| (std::f64::consts::TAU * 1000.0 * n as f64 / 16_000.0).sin() as f32)
            .collect();
        let c = spectral_centroid(&tone);
        assert!((c - 1000.0).abs() < 5.0, "{c}");
    }

    #[test]
    fn decay_time_of_an_exponential_matches_theory() {
        // e^(-t/tau) reaches -40 dB at tau * ln(100).
        let tau = 0.05f32;
        let x: Vec<f32> = (0..16_000)
            .map(|n| (-(n as f32) / 16_000.0 / tau).exp())
            .collect();
        let expected = tau * 100f32.ln();
        let got = decay_time(&x, 0.01).unwrap();
        assert!((got - expected).abs() < 0.003, "{got} vs {expected}");
        let flat = vec![0.5f32; 1000];
        assert_eq!(decay_time(&flat, 0.01), None);
    }

    #[test]
    fn summary_measures_level() {
        let x = vec![0.5f32, -0.5, 0.5, -0.5];
        let s = summarise_component("X", &x);
        assert_eq!(s.peak, 0.5);
        assert!((s.rms - 0.5).abs() < 1e-6);
        assert_eq!(s.length, 4);
    }
}
