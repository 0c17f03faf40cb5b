//! Reading onsets per class from annotation text or MIDI, with the evaluation set's scorer's
//! (`eval-dev/score.py`) label synonyms and General MIDI map.

use std::collections::BTreeMap;
use std::path::Path;

use crate::error::{Error, Result};
use crate::midi::read_midi;

/// Class label -> onset times in seconds, sorted.
pub type Onsets = BTreeMap<&'static str, Vec<f64>>;

/// The scorer's GM map (note 39 and the non-drum keys are ignored; side stick counts as SD).
pub fn gm_label(note: u8) -> Option<&'static str> {
    Some(match note {
        35 | 36 => "KD",
        37 | 38 | 40 => "SD",
        42 | 44 | 46 => "HH",
        41 | 43 | 45 | 47 | 48 | 50 => "TT",
        49 | 51 | 52 | 53 | 55 | 57 | 59 => "CY",
        _ => return None,
    })
}

/// A label or one of its synonyms (case-insensitive).
pub fn label_class(label: &str) -> Option<&'static str> {
    Some(match label.trim().to_uppercase().as_str() {
        "KD" | "BD" | "KICK" | "K" => "KD",
        "SD" | "SNARE" | "S" => "SD",
        "HH" | "HIHAT" | "HI-HAT" | "CHH" | "OHH" | "PHH" | "H" => "HH",
        "TT" | "TOM" | "HT" | "MT" | "LT" => "TT",
        "CY" | "CYMBAL" | "RD" | "CR" | "RIDE" | "CRASH" => "CY",
        _ => return None,
    })
}

fn sorted(mut o: Onsets) -> Onsets {
    for v in o.values_mut() {
        v.sort_by(|a, b| a.total_cmp(b));
    }
    o
}

/// Lines `onset label` (tab, comma or whitespace separated); `#` comments, blank lines, header
/// lines and unknown labels are skipped; a numeric label is a GM note.
pub fn parse_onset_text(text: &str) -> Onsets {
    let mut out = Onsets::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let replaced = line.replace(',', "\t");
        let parts: Vec<&str> = replaced.split_whitespace().collect();
        if parts.len() < 2 {
            continue;
        }
        let Ok(t) = parts[0].parse::<f64>() else {
            continue;
        };
        let class = label_class(parts[1]).or_else(|| {
            parts[1]
                .parse::<f64>()
                .ok()
                .filter(|n| n.is_finite() && n.trunc() >= 0.0 && n.trunc() <= 127.0)
                .and_then(|n| gm_label(n.trunc() as u8))
        });
        if let Some(c) = class {
            out.entry(c).or_default().push(t);
        }
    }
    sorted(out)
}

pub fn read_onset_text(path: &Path) -> Result<Onsets> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    Ok(parse_onset_text(&String::from_utf8_lossy(&bytes)))
}

/// Every note-on (velocity > 0) of a MIDI file, on any channel or only on `channel`
/// (1-based), folded into classes with [`gm_label`].
pub fn read_onset_midi(path: &Path, channel: Option<u8>) -> Result<Onsets> {
    let mut out = Onsets::new();
    for n in read_midi(path)? {
        if channel.is_some_and(|c| n.channel + 1 != c) {
            continue;
        }
        if let Some(c) = gm_label(n.note) {
            out.entry(c).or_default().push(n.time);
        }
    }
    Ok(sorted(out))
}

/// Onsets of `.txt` (or `.csv`) annotation text, or of a `.mid`/`.midi` file.
pub fn read_onsets(path: &Path, channel: Option<u8>) -> Result<Onsets> {
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "mid" | "midi" => read_onset_midi(path, channel),
        _ => read_onset_text(path),
    }
}

/// Transcribed events folded into classes through their MIDI keys, as scoring the exported
/// `.mid` would.
pub fn onsets_from_events(events: &[crate::transcribe::DrumEvent]) -> Onsets {
    let mut out = Onsets::new();
    for e in events {
        if let Some(c) = gm_label(e.note) {
            out.entry(c).or_default().push(e.time);
        }
    }
    sorted(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_accepts_synonyms_separators_headers_and_gm_numbers() {
        let o = parse_onset_text(
            "time,label\n# c\n0.5\tkick\n0.25, SD\n1.0 ohh\n2 38\n3 39\n4 cowbell\n5\n",
        );
        assert_eq!(o["KD"], vec![0.5]);
        assert_eq!(o["SD"], vec![0.25, 2.0]);
        assert_eq!(o["HH"], vec![1.0]);
        assert_eq!(o.len(), 3);
    }
}
