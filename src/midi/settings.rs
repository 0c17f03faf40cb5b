//! The `[midi]` config section: how transcriptions become MIDI files.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::kit::components::COMPONENTS;

/// MIDI export settings (config section `[midi]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MidiSettings {
    /// Component name -> MIDI key. Defaults to the General MIDI drum map of the 11 components
    /// (spec section 9). Names outside the default set are allowed (custom kits). A
    /// `[midi.notes]` table in a config file replaces the whole map.
    pub notes: BTreeMap<String, u8>,
    /// MIDI channel, 1-based as musicians count (10 = General MIDI drums).
    pub channel: u8,
    /// Tempo written to the file; it only decides the bar grid a sequencer shows, the note
    /// times in seconds are exact whatever it is.
    pub tempo_bpm: f64,
    /// Resolution (ticks per quarter note).
    pub ticks_per_beat: u16,
    /// Length of every exported note (drum hits have no natural end).
    pub note_length_seconds: f64,
    /// Format 1 with one named track per component instead of a single track.
    pub one_track_per_component: bool,
}

impl Default for MidiSettings {
    fn default() -> Self {
        MidiSettings {
            notes: COMPONENTS
                .iter()
                .map(|c| (c.name.to_string(), c.gm_note))
                .collect(),
            channel: 10,
            tempo_bpm: 120.0,
            ticks_per_beat: 480,
            note_length_seconds: 0.05,
            one_track_per_component: false,
        }
    }
}

impl MidiSettings {
    /// Checks every value; errors name the key as `<prefix>.<key>`.
    pub fn validate(&self, prefix: &str) -> Result<()> {
        let key = |k: &str| format!("{prefix}.{k}");
        for (name, &note) in &self.notes {
            if note > 127 {
                return Err(Error::config(
                    key(&format!("notes.{name}")),
                    "must be in 0..=127",
                ));
            }
            if name.trim().is_empty() {
                return Err(Error::config(
                    key("notes"),
                    "component names must not be empty",
                ));
            }
        }
        if !(1..=16).contains(&self.channel) {
            return Err(Error::config(key("channel"), "must be in 1..=16"));
        }
        // Slower than ~3.6 BPM does not fit a Set Tempo event.
        if !(self.tempo_bpm.is_finite() && (4.0..=1000.0).contains(&self.tempo_bpm)) {
            return Err(Error::config(key("tempo_bpm"), "must be in 4..=1000"));
        }
        if !(1..=0x7FFF).contains(&self.ticks_per_beat) {
            return Err(Error::config(key("ticks_per_beat"), "must be in 1..=32767"));
        }
        if !(self.note_length_seconds.is_finite()
            && self.note_length_seconds > 0.0
            && self.note_length_seconds <= 10.0)
        {
            return Err(Error::config(
                key("note_length_seconds"),
                "must be in (0, 10] seconds",
            ));
        }
        Ok(())
    }

    /// The 0-based channel stored in [`crate::midi::MidiNote::channel`].
    pub fn channel_index(&self) -> u8 {
        self.channel.clamp(1, 16) - 1
    }

    /// The key a component is written as.
    pub fn note_for(&self, component: &str) -> Option<u8> {
        self.notes.get(component).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_follow_gm() {
        let s = MidiSettings::default();
        s.validate("midi").unwrap();
        assert_eq!(s.note_for("KD_KD"), Some(36));
        assert_eq!(s.note_for("HH_PHH"), Some(44));
        assert_eq!(s.notes.len(), 11);
        assert_eq!(s.channel_index(), 9);
    }

    #[test]
    fn bad_values_name_the_key() {
        let s = MidiSettings {
            channel: 0,
            ..MidiSettings::default()
        };
        let e = s.validate("midi").unwrap_err().to_string();
        assert!(e.contains("midi.channel"), "{e}");
        let mut s = MidiSettings::default();
        s.notes.insert("KD_KD".into(), 200);
        let e = s.validate("midi").unwrap_err().to_string();
        assert!(e.contains("midi.notes.KD_KD"), "{e}");
        let s = MidiSettings {
            ticks_per_beat: 0,
            ..MidiSettings::default()
        };
        assert!(s.validate("midi").is_err());
    }

    #[test]
    fn toml_round_trip_and_unknown_keys() {
        let s: MidiSettings = toml::from_str("tempo_bpm = 90.0\n[notes]\nKD_KD = 35\n").unwrap();
        assert_eq!(s.tempo_bpm, 90.0);
        assert_eq!(s.note_for("KD_KD"), Some(35));
        assert!(toml::from_str::<MidiSettings>("tempo = 90.0\n").is_err());
    }
}
