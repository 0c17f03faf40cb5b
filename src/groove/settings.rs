//! The `[groove]` config section: synthetic performances and their audio augmentation.

use serde::{Deserialize, Serialize};

use super::style::Style;
use crate::error::{Error, Result};

/// How synthetic grooves are generated (config section `[groove]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GrooveSettings {
    /// Styles drawn from (uniformly) for each performance.
    pub styles: Vec<Style>,
    /// Tempo range in BPM; each performance draws one tempo uniformly from it.
    pub bpm_min: f64,
    pub bpm_max: f64,
    /// Chance of a tom fill in the last bar of each 4- or 8-bar phrase.
    pub fill_probability: f64,
    /// Standard deviation of the gaussian timing error, in milliseconds.
    pub humanize_std_ms: f64,
    /// The timing error is clipped to +-this many milliseconds.
    pub humanize_max_ms: f64,
    /// Standard deviation of the velocity error, in MIDI velocity steps.
    pub velocity_std: f64,
    /// Quiet snare notes between the backbeats (funk, shuffle, half-time, breaks).
    pub ghost_notes: bool,
    /// Chance that a phrase keeps time on the ride instead of the hi-hat.
    pub ride_probability: f64,
    /// Chance that a phrase has a tambourine part.
    pub tambourine_probability: f64,
    /// Crash cymbals on the downbeat after a fill and at some phrase starts.
    pub crashes: bool,
    /// Peak level of the rendered mix in dBFS before augmentation (never above -0.1).
    pub peak_dbfs: f64,
    pub augment: AugmentSettings,
}

impl Default for GrooveSettings {
    fn default() -> Self {
        GrooveSettings {
            styles: Style::ALL.to_vec(),
            bpm_min: 60.0,
            bpm_max: 200.0,
            fill_probability: 0.6,
            humanize_std_ms: 6.0,
            humanize_max_ms: 20.0,
            velocity_std: 6.0,
            ghost_notes: true,
            ride_probability: 0.25,
            tambourine_probability: 0.15,
            crashes: true,
            peak_dbfs: -1.0,
            augment: AugmentSettings::default(),
        }
    }
}

/// Random changes to a rendered groove's audio, so that a model does not learn one clean
/// studio sound (config section `[groove.augment]`). Annotations are unaffected.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AugmentSettings {
    pub enabled: bool,
    /// Overall gain range in dB.
    pub gain_db_min: f64,
    pub gain_db_max: f64,
    /// Spectral tilt drawn from +-this many dB (high shelf up, low shelf down, or the reverse).
    pub eq_tilt_db: f64,
    /// White noise RMS level range in dB relative to full scale.
    pub noise_db_min: f64,
    pub noise_db_max: f64,
    /// Chance of adding room reverb.
    pub reverb_probability: f64,
    /// Longest reverb time (RT60) in seconds; drawn from [0.2, this].
    pub reverb_seconds_max: f64,
    /// Largest wet/dry ratio of the reverb.
    pub reverb_wet_max: f64,
}

impl Default for AugmentSettings {
    fn default() -> Self {
        AugmentSettings {
            enabled: true,
            gain_db_min: -12.0,
            gain_db_max: 0.0,
            eq_tilt_db: 6.0,
            noise_db_min: -80.0,
            noise_db_max: -45.0,
            reverb_probability: 0.3,
            reverb_seconds_max: 1.2,
            reverb_wet_max: 0.35,
        }
    }
}

fn probability(value: f64, key: String) -> Result<()> {
    if (0.0..=1.0).contains(&value) {
        Ok(())
    } else {
        Err(Error::config(key, "must be a probability in 0..=1"))
    }
}

fn range(min: f64, max: f64, lo: f64, hi: f64, key_min: String, key_max: String) -> Result<()> {
    if !(min.is_finite() && (lo..=hi).contains(&min)) {
        return Err(Error::config(key_min, format!("must be in {lo}..={hi}")));
    }
    if !(max.is_finite() && (lo..=hi).contains(&max)) {
        return Err(Error::config(key_max, format!("must be in {lo}..={hi}")));
    }
    if min > max {
        return Err(Error::config(
            key_max,
            format!("must not be below {key_min}"),
        ));
    }
    Ok(())
}

impl GrooveSettings {
    /// Checks every value; errors name the key as `<prefix>.<key>`.
    pub fn validate(&self, prefix: &str) -> Result<()> {
        let key = |k: &str| format!("{prefix}.{k}");
        if self.styles.is_empty() {
            return Err(Error::config(key("styles"), "must name at least one style"));
        }
        range(
            self.bpm_min,
            self.bpm_max,
            30.0,
            300.0,
            key("bpm_min"),
            key("bpm_max"),
        )?;
        probability(self.fill_probability, key("fill_probability"))?;
        probability(self.ride_probability, key("ride_probability"))?;
        probability(self.tambourine_probability, key("tambourine_probability"))?;
        range(
            self.humanize_std_ms,
            self.humanize_max_ms,
            0.0,
            100.0,
            key("humanize_std_ms"),
            key("humanize_max_ms"),
        )?;
        if !(self.velocity_std.is_finite() && (0.0..=64.0).contains(&self.velocity_std)) {
            return Err(Error::config(key("velocity_std"), "must be in 0..=64"));
        }
        if !(self.peak_dbfs.is_finite() && (-60.0..=-0.1).contains(&self.peak_dbfs)) {
            return Err(Error::config(key("peak_dbfs"), "must be in -60..=-0.1"));
        }
        self.augment.validate(&key("augment"))
    }
}

impl AugmentSettings {
    /// Checks every value; errors name the key as `<prefix>.<key>`.
    pub fn validate(&self, prefix: &str) -> Result<()> {
        let key = |k: &str| format!("{prefix}.{k}");
        range(
            self.gain_db_min,
            self.gain_db_max,
            -60.0,
            0.0,
            key("gain_db_min"),
            key("gain_db_max"),
        )?;
        if !(self.eq_tilt_db.is_finite() && (0.0..=24.0).contains(&self.eq_tilt_db)) {
            return Err(Error::config(key("eq_tilt_db"), "must be in 0..=24"));
        }
        range(
            self.noise_db_min,
            self.noise_db_max,
            -140.0,
            -10.0,
            key("noise_db_min"),
            key("noise_db_max"),
        )?;
        probability(self.reverb_probability, key("reverb_probability"))?;
        if !(self.reverb_seconds_max.is_finite() && (0.2..=5.0).contains(&self.reverb_seconds_max))
        {
            return Err(Error::config(
                key("reverb_seconds_max"),
                "must be in 0.2..=5 seconds",
            ));
        }
        if !(self.reverb_wet_max.is_finite() && (0.0..=1.0).contains(&self.reverb_wet_max)) {
            return Err(Error::config(key("reverb_wet_max"), "must be in 0..=1"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_validate_and_parse_from_toml() {
        GrooveSettings::default().validate("groove").unwrap();
        let s: GrooveSettings = toml::from_str(
            "styles = [\"funk\", \"halftime\"]\nbpm_min = 80.0\n[augment]\nenabled = false\n",
        )
        .unwrap();
        assert_eq!(s.styles, vec![Style::Funk, Style::HalfTime]);
        assert!(!s.augment.enabled);
        assert_eq!(s.bpm_max, 200.0);
        s.validate("groove").unwrap();
        assert!(toml::from_str::<GrooveSettings>("bpm = 3\n").is_err());
    }

    #[test]
    fn bad_values_name_their_key() {
        let cases: Vec<(GrooveSettings, &str)> = vec![
            (
                GrooveSettings {
                    bpm_min: 150.0,
                    bpm_max: 100.0,
                    ..Default::default()
                },
                "groove.bpm_max",
            ),
            (
                GrooveSettings {
                    styles: vec![],
                    ..Default::default()
                },
                "groove.styles",
            ),
            (
                GrooveSettings {
                    fill_probability: 1.5,
                    ..Default::default()
                },
                "groove.fill_probability",
            ),
            (
                GrooveSettings {
                    augment: AugmentSettings {
                        reverb_wet_max: -1.0,
                        ..Default::default()
                    },
                    ..Default::default()
                },
                "groove.augment.reverb_wet_max",
            ),
        ];
        for (s, key) in cases {
            let e = s.validate("groove").unwrap_err().to_string();
            assert!(e.contains(&format!("`{key}`")), "{e}");
        }
    }
}
