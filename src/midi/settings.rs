//! The `[midi]` config section: how transcriptions become MIDI files.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::kit::components::COMPONENTS;
use crate::tempo::{QuantizeGrid, Quantizer, TempoSettings};

/// The name of the built-in General MIDI map (`[midi.notes]`).
pub const GM_MAP: &str = "gm";

/// A named drum map (`[midi.maps.NAME]`): the keys one drum instrument plays each component on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DrumMap {
    /// Written as the MIDI instrument name, so a DAW shows what the file was mapped for.
    pub instrument: String,
    /// Component name -> MIDI key; components it leaves out keep their General MIDI key.
    pub notes: BTreeMap<String, u8>,
}

/// The drum maps `config.toml` ships (`[midi.maps.*]`; the sources of their note numbers are
/// named there). Kept equal to the file by the config's tests.
fn shipped_maps() -> BTreeMap<String, DrumMap> {
    let map = |instrument: &str, notes: &[(&str, u8)]| DrumMap {
        instrument: instrument.to_string(),
        notes: notes.iter().map(|&(c, n)| (c.to_string(), n)).collect(),
    };
    [
        (
            "dtx502",
            map(
                "Yamaha DTX502",
                &[
                    ("KD_KD", 36),
                    ("SD_SD", 38),
                    ("HH_CHH", 42),
                    ("HH_OHH", 46),
                    ("HH_PHH", 44),
                    ("TT_HIT", 48),
                    ("TT_MHT", 47),
                    ("TT_HFT", 43),
                    ("CY_RDC", 51),
                    ("CY_CRC", 49),
                ],
            ),
        ),
        (
            "dd50",
            map(
                "Yamaha DD50",
                &[
                    ("KD_KD", 35),
                    ("SD_SD", 40),
                    ("HH_CHH", 42),
                    ("HH_OHH", 46),
                    ("HH_PHH", 44),
                    ("TT_HIT", 50),
                    ("TT_MHT", 47),
                    ("TT_HFT", 43),
                    ("CY_RDC", 51),
                    ("CY_CRC", 57),
                ],
            ),
        ),
    ]
    .into_iter()
    .map(|(name, m)| (name.to_string(), m))
    .collect()
}

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
    /// Tempo written to the file: 0 = estimated from the drums (with the bars); a number fixes
    /// it (`--tempo`). Note times in seconds are exact whatever it is.
    pub tempo_bpm: f64,
    /// Tempo written when too few hits leave nothing to estimate from.
    pub fallback_bpm: f64,
    /// Resolution (ticks per quarter note).
    pub ticks_per_beat: u16,
    /// Length of every exported note (drum hits have no natural end).
    pub note_length_seconds: f64,
    /// Format 1 with one named track per component instead of a single track.
    pub one_track_per_component: bool,
    /// The drum map notes are written with: `gm` (`[midi.notes]`) or a `[midi.maps.NAME]`.
    pub drum_map: String,
    /// Named drum maps beside General MIDI.
    pub maps: BTreeMap<String, DrumMap>,
    /// Also write a quantised MIDI file (`<name>.quantized-1-16.mid`) on this grid: `1/8`,
    /// `1/16`, `1/16t`...; empty: none. The raw file is always written.
    pub quantize: String,
    /// How far quantised notes move to the grid, 0..=1.
    pub quantize_strength: f64,
    /// Swing of the quantised file in percent (50 = straight, 66.7 = triplet feel, max 75).
    pub swing_percent: f64,
    /// How the tempo and the bars are estimated.
    pub tempo: TempoSettings,
}

impl Default for MidiSettings {
    fn default() -> Self {
        MidiSettings {
            notes: COMPONENTS
                .iter()
                .map(|c| (c.name.to_string(), c.gm_note))
                .collect(),
            channel: 10,
            tempo_bpm: 0.0,
            fallback_bpm: 120.0,
            ticks_per_beat: 480,
            note_length_seconds: 0.05,
            one_track_per_component: false,
            drum_map: GM_MAP.to_string(),
            maps: shipped_maps(),
            quantize: String::new(),
            quantize_strength: 1.0,
            swing_percent: 50.0,
            tempo: TempoSettings::default(),
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
        if !(self.tempo_bpm == 0.0
            || (self.tempo_bpm.is_finite() && (4.0..=1000.0).contains(&self.tempo_bpm)))
        {
            return Err(Error::config(
                key("tempo_bpm"),
                "must be 0 (estimate) or in 4..=1000",
            ));
        }
        if !(self.fallback_bpm.is_finite() && (4.0..=1000.0).contains(&self.fallback_bpm)) {
            return Err(Error::config(key("fallback_bpm"), "must be in 4..=1000"));
        }
        for (name, map) in &self.maps {
            if name == GM_MAP {
                return Err(Error::config(
                    key("maps.gm"),
                    "`gm` is the built-in map of [midi.notes]; give yours another name",
                ));
            }
            for (component, &note) in &map.notes {
                if note > 127 {
                    return Err(Error::config(
                        key(&format!("maps.{name}.notes.{component}")),
                        "must be in 0..=127",
                    ));
                }
            }
        }
        if self.drum_map != GM_MAP && !self.maps.contains_key(&self.drum_map) {
            return Err(Error::config(
                key("drum_map"),
                format!(
                    "no drum map `{}` (known: {})",
                    self.drum_map,
                    self.map_names().join(", ")
                ),
            ));
        }
        if let Err(e) = self.quantizer() {
            return Err(Error::config(key("quantize"), e));
        }
        if !(self.quantize_strength.is_finite() && (0.0..=1.0).contains(&self.quantize_strength)) {
            return Err(Error::config(key("quantize_strength"), "must be in 0..=1"));
        }
        if !(self.swing_percent.is_finite() && (50.0..=75.0).contains(&self.swing_percent)) {
            return Err(Error::config(key("swing_percent"), "must be in 50..=75"));
        }
        self.tempo.validate(&key("tempo"))?;
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

    /// The key a component is written as: the selected drum map's, else General MIDI's.
    pub fn note_for(&self, component: &str) -> Option<u8> {
        self.maps
            .get(&self.drum_map)
            .and_then(|m| m.notes.get(component))
            .or_else(|| self.notes.get(component))
            .copied()
    }

    /// `gm` and the configured maps, sorted.
    pub fn map_names(&self) -> Vec<String> {
        std::iter::once(GM_MAP.to_string())
            .chain(self.maps.keys().cloned())
            .collect()
    }

    /// The instrument name of the selected map (written into the MIDI file).
    pub fn instrument_name(&self) -> String {
        self.maps
            .get(&self.drum_map)
            .map(|m| m.instrument.clone())
            .unwrap_or_else(|| "General MIDI drums".to_string())
    }

    /// The fixed tempo, if one is set (0 = estimate).
    pub fn fixed_bpm(&self) -> Option<f64> {
        (self.tempo_bpm > 0.0).then_some(self.tempo_bpm)
    }

    /// The quantiser `quantize` asks for (`None`: no quantised file).
    pub fn quantizer(&self) -> std::result::Result<Option<Quantizer>, String> {
        let text = self.quantize.trim();
        if text.is_empty() || text.eq_ignore_ascii_case("off") {
            return Ok(None);
        }
        let grid: QuantizeGrid = text.parse()?;
        Ok(Some(Quantizer {
            grid,
            strength: self.quantize_strength,
            swing_percent: self.swing_percent,
        }))
    }

    /// Selects a drum map by name, or loads one from a TOML file (`instrument = "..."` and a
    /// `[notes]` table) and selects it under the file's stem. Errors name the map or the file.
    pub fn select_drum_map(&mut self, name_or_file: &str) -> Result<()> {
        if name_or_file == GM_MAP || self.maps.contains_key(name_or_file) {
            self.drum_map = name_or_file.to_string();
            return Ok(());
        }
        let path = std::path::Path::new(name_or_file);
        let is_file = path.extension().is_some_and(|e| e == "toml") || path.is_file();
        if !is_file {
            return Err(Error::Invalid(format!(
                "--drum-map: no drum map `{name_or_file}` (known: {}; or give a .toml file)",
                self.map_names().join(", ")
            )));
        }
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let map: DrumMap = toml::from_str(&text).map_err(|e| {
            Error::Invalid(format!(
                "{}: not a drum map ({})",
                path.display(),
                e.message()
            ))
        })?;
        if let Some((component, note)) = map.notes.iter().find(|(_, n)| **n > 127) {
            return Err(Error::Invalid(format!(
                "{}: notes.{component} = {note} must be in 0..=127",
                path.display()
            )));
        }
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .filter(|s| s != GM_MAP)
            .unwrap_or_else(|| "file".to_string());
        self.maps.insert(name.clone(), map);
        self.drum_map = name;
        Ok(())
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
        assert_eq!(s.fixed_bpm(), Some(90.0));
        assert_eq!(s.tempo_bpm, 90.0);
        assert_eq!(s.note_for("KD_KD"), Some(35));
        assert!(toml::from_str::<MidiSettings>("tempo = 90.0\n").is_err());
    }

    #[test]
    fn drum_maps_select_fall_back_and_load_from_files() {
        let mut s = MidiSettings::default();
        s.maps.insert(
            "pads".into(),
            DrumMap {
                instrument: "Pads".into(),
                notes: [("SD_SD".to_string(), 40u8)].into_iter().collect(),
            },
        );
        s.validate("midi").unwrap();
        s.select_drum_map("pads").unwrap();
        assert_eq!(s.note_for("SD_SD"), Some(40));
        assert_eq!(s.note_for("KD_KD"), Some(36), "left out: General MIDI");
        assert_eq!(s.instrument_name(), "Pads");
        let e = s.select_drum_map("nope").unwrap_err().to_string();
        assert!(
            e.contains("nope") && e.contains("gm, dd50, dtx502, pads"),
            "{e}"
        );
        s.drum_map = "nope".into();
        assert!(s
            .validate("midi")
            .unwrap_err()
            .to_string()
            .contains("midi.drum_map"));

        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("mine.toml");
        std::fs::write(&file, "instrument = \"Mine\"\n[notes]\nKD_KD = 24\n").unwrap();
        let mut s = MidiSettings::default();
        s.select_drum_map(file.to_str().unwrap()).unwrap();
        assert_eq!(
            (s.drum_map.as_str(), s.note_for("KD_KD")),
            ("mine", Some(24))
        );
        std::fs::write(&file, "instrument = \"Mine\"\n[notes]\nKD_KD = 240\n").unwrap();
        let e = MidiSettings::default()
            .select_drum_map(file.to_str().unwrap())
            .unwrap_err()
            .to_string();
        assert!(e.contains("mine.toml"), "{e}");
    }
}
