//! Onset annotation files: one `onset_seconds<TAB>LABEL` line per hit.
//!
//! Labels are the five evaluated classes (KD SD HH TT CY, spec section 10); notes outside them
//! (tambourine, non-drum keys) are not annotated. Lines starting with `#` are comments.

use std::fmt::Write as _;
use std::path::Path;

use crate::atomic_file::{write_bytes_atomic, Overwrite};
use crate::error::{Error, Result};
use crate::kit::components::DrumClass;
use crate::midi::MidiNote;

/// The evaluated class a note counts as, if any.
pub fn annotated_class(note: &MidiNote) -> Option<DrumClass> {
    DrumClass::from_gm_note(note.note).filter(|c| DrumClass::EVALUATED.contains(c))
}

/// `onset<TAB>LABEL\n` lines (6 decimals), sorted by time then label.
pub fn annotation_lines(notes: &[MidiNote]) -> String {
    let mut events: Vec<(f64, DrumClass)> = notes
        .iter()
        .filter_map(|n| annotated_class(n).map(|c| (n.time, c)))
        .collect();
    events.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    let mut out = String::with_capacity(events.len() * 12);
    for (t, c) in events {
        // Writing to a String cannot fail.
        let _ = writeln!(out, "{t:.6}\t{}", c.label());
    }
    out
}

/// Writes the annotation of `notes` atomically, after optional `# ...` header lines.
pub fn write_annotations(
    path: &Path,
    notes: &[MidiNote],
    header: &[String],
    overwrite: Overwrite,
) -> Result<()> {
    let mut text = String::new();
    for line in header {
        for part in line.lines() {
            text.push_str("# ");
            text.push_str(part);
            text.push('\n');
        }
    }
    text.push_str(&annotation_lines(notes));
    write_bytes_atomic(path, text.as_bytes(), overwrite)
}

/// Beat annotation lines `seconds<TAB>beat in bar` (1 = downbeat), the `.beats` format of
/// beat-tracking data sets (madmom, mir_eval's `load_labeled_events`).
pub fn beat_lines(beats: &[(f64, u32)]) -> String {
    let mut out = String::with_capacity(beats.len() * 12);
    for (t, n) in beats {
        let _ = writeln!(out, "{t:.6}\t{n}");
    }
    out
}

/// Parses beat annotation text (see [`beat_lines`]); `#` comments and blank lines are
/// skipped; errors name `path` and the line.
pub fn parse_beats(text: &str, path: &Path) -> Result<Vec<(f64, u32)>> {
    let mut beats = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let bad = || {
            Error::Invalid(format!(
                "{}:{}: expected `seconds beat_number`, found `{line}`",
                path.display(),
                i + 1
            ))
        };
        let mut fields = line.split_whitespace();
        let (Some(t), Some(n), None) = (fields.next(), fields.next(), fields.next()) else {
            return Err(bad());
        };
        let t: f64 = t
            .parse()
            .ok()
            .filter(|t: &f64| t.is_finite() && *t >= 0.0)
            .ok_or_else(bad)?;
        let n: u32 = n.parse().ok().filter(|&n| n >= 1).ok_or_else(bad)?;
        beats.push((t, n));
    }
    beats.sort_by(|a, b| a.0.total_cmp(&b.0));
    Ok(beats)
}

/// Reads a beat annotation file (see [`parse_beats`]).
pub fn read_beats(path: &Path) -> Result<Vec<(f64, u32)>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    parse_beats(&text, path)
}

/// Parses annotation text; `path` only names the source in errors (`file:line: problem`).
/// Accepts tabs or spaces between the fields, blank lines and `#` comments.
pub fn parse_annotations(text: &str, path: &Path) -> Result<Vec<(f64, DrumClass)>> {
    let mut events = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let bad = |what: String| Error::Invalid(format!("{}:{}: {what}", path.display(), i + 1));
        let mut fields = line.split_whitespace();
        let (Some(time), Some(label), None) = (fields.next(), fields.next(), fields.next()) else {
            return Err(bad(format!("expected `seconds LABEL`, found `{line}`")));
        };
        let time: f64 = time
            .parse()
            .ok()
            .filter(|t: &f64| t.is_finite() && *t >= 0.0)
            .ok_or_else(|| bad(format!("`{time}` is not a time in seconds")))?;
        let class = DrumClass::from_label(label).ok_or_else(|| {
            bad(format!(
                "unknown label `{label}` (expected KD, SD, HH, TT, CY or OT)"
            ))
        })?;
        events.push((time, class));
    }
    events.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    Ok(events)
}

/// Reads an annotation file (see [`parse_annotations`]), sorted by time.
pub fn read_annotations(path: &Path) -> Result<Vec<(f64, DrumClass)>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    parse_annotations(&text, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_sorted_labelled_and_skip_other_instruments() {
        let notes = [
            MidiNote::drum(1.5, 38, 100, 0.05),
            MidiNote::drum(0.25, 42, 100, 0.05),
            MidiNote::drum(0.25, 36, 100, 0.05),
            MidiNote::drum(0.75, 54, 100, 0.05), // tambourine: not annotated
            MidiNote::drum(2.0, 43, 100, 0.05),
            MidiNote::drum(2.1234567, 49, 100, 0.05),
        ];
        assert_eq!(
            annotation_lines(&notes),
            "0.250000\tKD\n0.250000\tHH\n1.500000\tSD\n2.000000\tTT\n2.123457\tCY\n"
        );
    }

    #[test]
    fn beat_lines_round_trip() {
        let beats = [(0.25, 1), (0.75, 2), (1.25, 3)];
        let text = beat_lines(&beats);
        assert_eq!(text, "0.250000\t1\n0.750000\t2\n1.250000\t3\n");
        assert_eq!(parse_beats(&text, Path::new("b")).unwrap(), beats);
        let e = parse_beats("0.5 0\n", Path::new("g.beats")).unwrap_err();
        assert!(e.to_string().starts_with("g.beats:1:"), "{e}");
    }

    #[test]
    fn parsing_is_tolerant_and_errors_name_file_and_line() {
        let text = "# header\n\n0.5\tSD\n  0.25 KD  \n";
        let got = parse_annotations(text, Path::new("a.txt")).unwrap();
        assert_eq!(got, vec![(0.25, DrumClass::KD), (0.5, DrumClass::SD)]);
        let err = parse_annotations("0.1\tKD\nabc\tSD\n", Path::new("a.txt")).unwrap_err();
        assert!(err.to_string().starts_with("a.txt:2:"), "{err}");
        let err = parse_annotations("0.1\tXX\n", Path::new("b.txt")).unwrap_err();
        assert!(err.to_string().starts_with("b.txt:1:"), "{err}");
        assert!(parse_annotations("-1\tKD\n", Path::new("c.txt")).is_err());
        assert!(parse_annotations("1 KD extra\n", Path::new("c.txt")).is_err());
    }
}
