//! The `[groove]` config section: synthetic performances and their audio augmentation.

use serde::{Deserialize, Serialize};

use super::style::Style;
use crate::error::{Error, Result};

/// A probability, or `"style"`: each style's own habit (in TOML, a number or the word).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Habit {
    Style(StyleWord),
    Probability(f64),
}

/// The one word a [`Habit`] accepts besides a number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StyleWord {
    Style,
}

impl Habit {
    pub const STYLE: Habit = Habit::Style(StyleWord::Style);

    /// The probability set, `None` for the style's habit.
    pub fn probability(self) -> Option<f64> {
        match self {
            Habit::Style(_) => None,
            Habit::Probability(p) => Some(p),
        }
    }
}

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
    /// Chance of a crash on the downbeat of a phrase that does not follow a fill.
    pub crash_probability: f64,
    /// Chance of a short pickup fill in the second bar of four, times `fill_probability`.
    pub pickup_fill_probability: f64,
    /// Chance that a fill stays on the toms (no snare strokes). `"style"`: each style's habit
    /// (the classic styles: one fill in six, as they always played).
    pub tom_fill_probability: Habit,
    /// Chance per bar of a crash accent (with the kick, at full velocity) on a beat or an
    /// off-beat inside the bar. `"style"`: each style's habit (none in the classic styles).
    pub accent_crash_probability: Habit,
    /// Share of crashes (downbeat and accent) played on a china or a splash instead.
    pub china_splash_probability: f64,
    /// Chance that a hi-hat stroke on the same beat as a snare stroke is kept. Below 1 the
    /// grooves play hats and snares apart more often, so that training hears each alone (an
    /// ablation of the model's hi-hat channels, which fire at snares; at 0 it did not help
    /// them: assets/model/README.md, "Hats apart from snares").
    pub hat_on_snare_probability: f64,
    /// Accented downbeats: the kick and cymbal of beat 1 at full velocity (110-127), above the
    /// groove's normal level; ghost notes then sit far below (velocity layers).
    pub accents: bool,
    /// Peak level of the rendered mix in dBFS before augmentation (never above -0.1).
    pub peak_dbfs: f64,
    /// Chance that a performance changes tempo once: at a phrase boundary (or mid-way), by
    /// `tempo_change_percent_min..=max` percent, faster or slower.
    pub tempo_change_probability: f64,
    pub tempo_change_percent_min: f64,
    pub tempo_change_percent_max: f64,
    /// Share of tempo changes that ramp over 2-4 bars (accelerando, ritardando) rather than
    /// step.
    pub tempo_ramp_probability: f64,
    pub augment: AugmentSettings,
}

impl Default for GrooveSettings {
    fn default() -> Self {
        GrooveSettings {
            styles: Style::CLASSIC.to_vec(),
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
            crash_probability: 0.25,
            pickup_fill_probability: 0.15,
            tom_fill_probability: Habit::STYLE,
            accent_crash_probability: Habit::STYLE,
            china_splash_probability: 0.0,
            hat_on_snare_probability: 1.0,
            accents: false,
            peak_dbfs: -1.0,
            tempo_change_probability: 0.0,
            tempo_change_percent_min: 6.0,
            tempo_change_percent_max: 15.0,
            tempo_ramp_probability: 0.5,
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
    // Recording conditions below are off by default (probability 0): the default augmentation
    // draws exactly what it always drew. Each is applied with its probability, its parameters
    // drawn uniformly from its range.
    /// Chance of a drum-bus compressor (fast envelope follower, make-up gain to the old peak).
    pub compression_probability: f64,
    /// Its threshold in dB below the signal's peak.
    pub compression_threshold_db_min: f64,
    pub compression_threshold_db_max: f64,
    /// Its largest ratio (drawn from 2..=this).
    pub compression_ratio_max: f64,
    /// Chance of a low cut (24 dB/octave high-pass) with its corner range in Hz.
    pub low_cut_probability: f64,
    pub low_cut_hz_min: f64,
    pub low_cut_hz_max: f64,
    /// Chance of a high cut (24 dB/octave low-pass) with its corner range in Hz.
    pub high_cut_probability: f64,
    pub high_cut_hz_min: f64,
    pub high_cut_hz_max: f64,
    /// Chance of a mid-range bell (300 Hz - 4 kHz) boosting or cutting by up to this many dB.
    pub mid_peak_probability: f64,
    pub mid_peak_db: f64,
    /// Chance of lo-fi: band-limiting, sample-and-hold (a lower sample rate without its
    /// filter, holding up to `lofi_hold_max` samples) and bit-depth reduction.
    pub lofi_probability: f64,
    pub lofi_bits_min: u32,
    pub lofi_bits_max: u32,
    pub lofi_hold_max: u32,
    /// Chance of a microphone placement: overheads (hats and cymbals up, kick down, a little
    /// room) or close mics (kick and snare up, dry), tipping the balance by up to
    /// `mic_tip_db_max` dB; overheads' room up to `mic_room_wet_max`.
    pub mic_probability: f64,
    pub mic_tip_db_max: f64,
    pub mic_room_wet_max: f64,
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
            compression_probability: 0.0,
            compression_threshold_db_min: -24.0,
            compression_threshold_db_max: -8.0,
            compression_ratio_max: 8.0,
            low_cut_probability: 0.0,
            low_cut_hz_min: 40.0,
            low_cut_hz_max: 250.0,
            high_cut_probability: 0.0,
            high_cut_hz_min: 3000.0,
            high_cut_hz_max: 7000.0,
            mid_peak_probability: 0.0,
            mid_peak_db: 9.0,
            lofi_probability: 0.0,
            lofi_bits_min: 4,
            lofi_bits_max: 10,
            lofi_hold_max: 4,
            mic_probability: 0.0,
            mic_tip_db_max: 9.0,
            mic_room_wet_max: 0.25,
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
        probability(self.crash_probability, key("crash_probability"))?;
        probability(self.pickup_fill_probability, key("pickup_fill_probability"))?;
        if let Some(p) = self.tom_fill_probability.probability() {
            probability(p, key("tom_fill_probability"))?;
        }
        if let Some(p) = self.accent_crash_probability.probability() {
            probability(p, key("accent_crash_probability"))?;
        }
        probability(
            self.china_splash_probability,
            key("china_splash_probability"),
        )?;
        probability(
            self.hat_on_snare_probability,
            key("hat_on_snare_probability"),
        )?;
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
        probability(
            self.tempo_change_probability,
            key("tempo_change_probability"),
        )?;
        range(
            self.tempo_change_percent_min,
            self.tempo_change_percent_max,
            0.0,
            50.0,
            key("tempo_change_percent_min"),
            key("tempo_change_percent_max"),
        )?;
        probability(self.tempo_ramp_probability, key("tempo_ramp_probability"))?;
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
        self.validate_recording(&key)
    }

    /// The recording-condition keys (compression, filters, lo-fi, mics).
    fn validate_recording(&self, key: &dyn Fn(&str) -> String) -> Result<()> {
        probability(self.compression_probability, key("compression_probability"))?;
        // The lower threshold stays 6 dB under full scale (a threshold above it barely
        // compresses a drum mix), so a lower bound set alone is refused as out of range,
        // naming itself, before it could cross the upper one.
        let lowest = self.compression_threshold_db_min;
        if !(lowest.is_finite() && (-60.0..=-6.0).contains(&lowest)) {
            return Err(Error::config(
                key("compression_threshold_db_min"),
                "must be in -60..=-6",
            ));
        }
        range(
            self.compression_threshold_db_min,
            self.compression_threshold_db_max,
            -60.0,
            0.0,
            key("compression_threshold_db_min"),
            key("compression_threshold_db_max"),
        )?;
        if !(self.compression_ratio_max.is_finite()
            && (2.0..=50.0).contains(&self.compression_ratio_max))
        {
            return Err(Error::config(
                key("compression_ratio_max"),
                "must be in 2..=50",
            ));
        }
        probability(self.low_cut_probability, key("low_cut_probability"))?;
        range(
            self.low_cut_hz_min,
            self.low_cut_hz_max,
            10.0,
            2000.0,
            key("low_cut_hz_min"),
            key("low_cut_hz_max"),
        )?;
        probability(self.high_cut_probability, key("high_cut_probability"))?;
        // Up to 7 kHz: the corner must stay below Nyquist at the 16 kHz training rate.
        range(
            self.high_cut_hz_min,
            self.high_cut_hz_max,
            500.0,
            7000.0,
            key("high_cut_hz_min"),
            key("high_cut_hz_max"),
        )?;
        probability(self.mid_peak_probability, key("mid_peak_probability"))?;
        if !(self.mid_peak_db.is_finite() && (0.0..=24.0).contains(&self.mid_peak_db)) {
            return Err(Error::config(key("mid_peak_db"), "must be in 0..=24"));
        }
        probability(self.lofi_probability, key("lofi_probability"))?;
        range(
            f64::from(self.lofi_bits_min),
            f64::from(self.lofi_bits_max),
            2.0,
            16.0,
            key("lofi_bits_min"),
            key("lofi_bits_max"),
        )?;
        if !(1..=16).contains(&self.lofi_hold_max) {
            return Err(Error::config(key("lofi_hold_max"), "must be in 1..=16"));
        }
        probability(self.mic_probability, key("mic_probability"))?;
        if !(self.mic_tip_db_max.is_finite() && (0.0..=24.0).contains(&self.mic_tip_db_max)) {
            return Err(Error::config(key("mic_tip_db_max"), "must be in 0..=24"));
        }
        if !(self.mic_room_wet_max.is_finite() && (0.0..=1.0).contains(&self.mic_room_wet_max)) {
            return Err(Error::config(key("mic_room_wet_max"), "must be in 0..=1"));
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
        let habits: GrooveSettings =
            toml::from_str("tom_fill_probability = 0.5\naccent_crash_probability = \"style\"\n")
                .unwrap();
        assert_eq!(habits.tom_fill_probability, Habit::Probability(0.5));
        assert_eq!(habits.accent_crash_probability, Habit::STYLE);
        assert!(toml::from_str::<GrooveSettings>("tom_fill_probability = \"often\"\n").is_err());
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
            (
                GrooveSettings {
                    tom_fill_probability: Habit::Probability(2.0),
                    ..Default::default()
                },
                "groove.tom_fill_probability",
            ),
            (
                GrooveSettings {
                    augment: AugmentSettings {
                        low_cut_hz_min: 300.0,
                        low_cut_hz_max: 100.0,
                        ..Default::default()
                    },
                    ..Default::default()
                },
                "groove.augment.low_cut_hz_max",
            ),
            (
                GrooveSettings {
                    augment: AugmentSettings {
                        lofi_bits_min: 1,
                        ..Default::default()
                    },
                    ..Default::default()
                },
                "groove.augment.lofi_bits_min",
            ),
        ];
        for (s, key) in cases {
            let e = s.validate("groove").unwrap_err().to_string();
            assert!(e.contains(&format!("`{key}`")), "{e}");
        }
    }
}
