//! Writing a transcription as `.mid`, `.json` and `.csv`, atomically and never over an existing
//! file unless asked.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::atomic_file::{check_writable, write_atomic, write_bytes_atomic, Overwrite};
use crate::error::{Error, Result};
use crate::midi::{write_midi, MidiSettings, MidiWriteOptions};

use super::events::DrumEvent;
use super::settings::InferenceSettings;
use super::Transcription;

/// An output file kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum OutputFormat {
    Mid,
    Json,
    Csv,
}

impl OutputFormat {
    pub fn extension(self) -> &'static str {
        match self {
            OutputFormat::Mid => "mid",
            OutputFormat::Json => "json",
            OutputFormat::Csv => "csv",
        }
    }

    /// Parses a comma-separated list such as `mid,json,csv`.
    pub fn parse_list(list: &str) -> Result<Vec<OutputFormat>> {
        let mut out = Vec::new();
        for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let f = match item.to_ascii_lowercase().as_str() {
                "mid" | "midi" => OutputFormat::Mid,
                "json" => OutputFormat::Json,
                "csv" => OutputFormat::Csv,
                other => {
                    return Err(Error::Invalid(format!(
                        "--format: unknown format `{other}` (expected mid, json or csv)"
                    )))
                }
            };
            if !out.contains(&f) {
                out.push(f);
            }
        }
        if out.is_empty() {
            return Err(Error::Invalid("--format: no format given".into()));
        }
        Ok(out)
    }
}

/// Where the model came from, for the JSON record.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ModelInfo {
    pub path: String,
    pub metadata: BTreeMap<String, String>,
}

impl ModelInfo {
    pub fn of(model: &crate::model::drummernet::LoadedModel) -> Self {
        ModelInfo {
            path: model.path.display().to_string(),
            metadata: model
                .metadata
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        }
    }
}

/// The JSON document (documented field by field: this is the file format).
#[derive(Serialize)]
struct JsonDocument<'a> {
    /// Always "drummernet-transcription".
    format: &'static str,
    version: u32,
    input: String,
    duration_seconds: f64,
    /// Activation frames per second (events lie on this grid).
    frame_rate: f64,
    /// The input's peak |x| before normalisation, and whether it was treated as silence.
    peak: f32,
    silent: bool,
    model: &'a ModelInfo,
    components: &'a [String],
    settings: JsonSettings<'a>,
    events: &'a [DrumEvent],
}

#[derive(Serialize)]
struct JsonSettings<'a> {
    inference: &'a InferenceSettings,
    midi: &'a MidiSettings,
}

/// `<out_dir>/<input stem>.<ext>`.
pub fn output_path(input: &Path, out_dir: &Path, format: OutputFormat) -> PathBuf {
    let stem = input
        .file_stem()
        .map(|s| s.to_os_string())
        .unwrap_or_else(|| "transcription".into());
    let mut name = stem;
    name.push(".");
    name.push(format.extension());
    out_dir.join(name)
}

pub fn csv_text(events: &[DrumEvent]) -> String {
    let mut s = String::from("time,component,class,note,velocity,confidence\n");
    for e in events {
        s.push_str(&format!(
            "{:.6},{},{},{},{},{:.4}\n",
            e.time,
            e.component,
            e.class.label(),
            e.note,
            e.velocity,
            e.confidence
        ));
    }
    s
}

pub fn write_csv(path: &Path, events: &[DrumEvent], overwrite: Overwrite) -> Result<()> {
    write_bytes_atomic(path, csv_text(events).as_bytes(), overwrite)
}

pub fn write_mid(
    path: &Path,
    events: &[DrumEvent],
    midi: &MidiSettings,
    overwrite: Overwrite,
) -> Result<()> {
    let notes: Vec<_> = events.iter().map(|e| e.midi_note(midi)).collect();
    write_midi(
        path,
        &notes,
        &MidiWriteOptions::from_settings(midi),
        overwrite,
    )
}

pub fn write_json(
    path: &Path,
    t: &Transcription,
    model: &ModelInfo,
    settings: &InferenceSettings,
    midi: &MidiSettings,
    overwrite: Overwrite,
) -> Result<()> {
    let doc = JsonDocument {
        format: "drummernet-transcription",
        version: 1,
        input: t.input.display().to_string(),
        duration_seconds: t.duration,
        frame_rate: t.frame_rate,
        peak: t.peak,
        silent: t.silent,
        model,
        components: &t.components,
        settings: JsonSettings {
            inference: settings,
            midi,
        },
        events: &t.events,
    };
    write_atomic(path, overwrite, |w| {
        serde_json::to_writer_pretty(&mut *w, &doc)
            .map_err(|e| Error::io(path, std::io::Error::other(e)))?;
        w.write_all(b"\n").map_err(|e| Error::io(path, e))
    })
}

/// Writes every requested format for `t` into `out_dir`; all target paths are checked first,
/// so an existing file (without `Overwrite::Allow`) leaves nothing written. Returns the paths.
pub fn write_outputs(
    t: &Transcription,
    out_dir: &Path,
    formats: &[OutputFormat],
    model: &ModelInfo,
    settings: &InferenceSettings,
    midi: &MidiSettings,
    overwrite: Overwrite,
) -> Result<Vec<PathBuf>> {
    let paths: Vec<(OutputFormat, PathBuf)> = formats
        .iter()
        .map(|&f| (f, output_path(&t.input, out_dir, f)))
        .collect();
    for (_, p) in &paths {
        check_writable(p, overwrite)?;
    }
    for (f, p) in &paths {
        match f {
            OutputFormat::Mid => write_mid(p, &t.events, midi, overwrite)?,
            OutputFormat::Json => write_json(p, t, model, settings, midi, overwrite)?,
            OutputFormat::Csv => write_csv(p, &t.events, overwrite)?,
        }
    }
    Ok(paths.into_iter().map(|(_, p)| p).collect())
}
