//! The `[midi.tempo]` config section: how the tempo and the bars are found.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Tempo estimation settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TempoSettings {
    /// The tempo range searched, beats per minute.
    pub min_bpm: f64,
    pub max_bpm: f64,
    /// Centre of the tempo prior (log-normal), and its width in octaves: it only breaks near
    /// ties between tempi an octave apart.
    pub prior_bpm: f64,
    pub prior_octaves: f64,
    /// How strongly the beat tracker holds the tempo (Ellis 2007's alpha).
    pub tightness: f64,
    /// Beats per bar (the time signature's numerator; the beat is a quarter note).
    pub beats_per_bar: u32,
    /// Largest relative deviation of a bar's tempo from the song's for one tempo to be written;
    /// beyond it the file gets a tempo map that follows the tracked beats.
    pub steady_tolerance: f64,
    /// Fewer onsets than this: no estimate (the fallback tempo is written).
    pub min_onsets: usize,
}

impl Default for TempoSettings {
    fn default() -> Self {
        TempoSettings {
            min_bpm: 55.0,
            max_bpm: 215.0,
            prior_bpm: 115.0,
            prior_octaves: 1.2,
            tightness: 100.0,
            beats_per_bar: 4,
            steady_tolerance: 0.04,
            min_onsets: 8,
        }
    }
}

impl TempoSettings {
    /// Checks every value; errors name the key as `<prefix>.<key>`.
    pub fn validate(&self, prefix: &str) -> Result<()> {
        let key = |k: &str| format!("{prefix}.{k}");
        let bpm_ok = |v: f64| v.is_finite() && (10.0..=600.0).contains(&v);
        if !bpm_ok(self.min_bpm) {
            return Err(Error::config(key("min_bpm"), "must be in 10..=600"));
        }
        if !bpm_ok(self.max_bpm) || self.max_bpm < self.min_bpm * 1.5 {
            return Err(Error::config(
                key("max_bpm"),
                "must be in 10..=600 and at least 1.5 x min_bpm",
            ));
        }
        if !bpm_ok(self.prior_bpm) {
            return Err(Error::config(key("prior_bpm"), "must be in 10..=600"));
        }
        if !(self.prior_octaves.is_finite() && (0.1..=10.0).contains(&self.prior_octaves)) {
            return Err(Error::config(key("prior_octaves"), "must be in 0.1..=10"));
        }
        if !(self.tightness.is_finite() && (0.0..=10_000.0).contains(&self.tightness)) {
            return Err(Error::config(key("tightness"), "must be in 0..=10000"));
        }
        if !(1..=32).contains(&self.beats_per_bar) {
            return Err(Error::config(key("beats_per_bar"), "must be in 1..=32"));
        }
        if !(self.steady_tolerance.is_finite() && (0.0..=1.0).contains(&self.steady_tolerance)) {
            return Err(Error::config(key("steady_tolerance"), "must be in 0..=1"));
        }
        if !(2..=100_000).contains(&self.min_onsets) {
            return Err(Error::config(key("min_onsets"), "must be in 2..=100000"));
        }
        Ok(())
    }
}
