//! The `[kit]` section of `config.toml`: how much of each drum sample is loaded. (How the
//! synthesizer scales them is `[synth] norm`.)

use serde::{Deserialize, Serialize};

use crate::audio::SAMPLE_RATE;
use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KitSettings {
    /// Seconds of each drum sample kept (trimmed or zero-padded); the paper keeps 1.0 s.
    pub length_seconds: f32,
}

impl Default for KitSettings {
    fn default() -> Self {
        KitSettings {
            length_seconds: 1.0,
        }
    }
}

/// Longest sample kept: the synthesizer's FFT convolution grows with it.
pub const MAX_LENGTH_SECONDS: f32 = 4.0;
const MIN_LENGTH_SECONDS: f32 = 0.05;

impl KitSettings {
    /// `prefix` is the section's path in the config file, e.g. `kit`.
    pub fn validate(&self, prefix: &str) -> Result<()> {
        if !(MIN_LENGTH_SECONDS..=MAX_LENGTH_SECONDS).contains(&self.length_seconds) {
            return Err(Error::config(
                format!("{prefix}.length_seconds"),
                format!("must be in {MIN_LENGTH_SECONDS}..={MAX_LENGTH_SECONDS} (seconds)"),
            ));
        }
        Ok(())
    }

    /// The sample length in samples at the model rate.
    pub fn length_samples(&self) -> usize {
        (f64::from(self.length_seconds) * f64::from(SAMPLE_RATE)).round() as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_papers() {
        let s = KitSettings::default();
        assert_eq!(s.length_samples(), 16_000);
        assert!(s.validate("kit").is_ok());
    }

    #[test]
    fn rejects_bad_lengths_naming_the_key() {
        for bad in [0.0, -1.0, f32::NAN, 100.0] {
            let s = KitSettings {
                length_seconds: bad,
            };
            let err = s.validate("kit").unwrap_err().to_string();
            assert!(err.contains("kit.length_seconds"), "{err}");
        }
    }

    #[test]
    fn parses_partial_toml_and_rejects_unknown_keys() {
        let s: KitSettings = toml::from_str("length_seconds = 0.5").unwrap();
        assert_eq!(s.length_samples(), 8000);
        assert!(toml::from_str::<KitSettings>("lenght_seconds = 1.0").is_err());
    }
}
