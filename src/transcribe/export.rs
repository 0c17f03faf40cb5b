//! Writing a transcription as `.mid`, `.json` and `.csv`, atomically and never over an existing
//! file unless asked.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::atomic_file::{check_writable, write_atomic, write_bytes_atomic, Overwrite};
use crate::error::{Error, Result};
use crate::midi::{write_midi, MidiSettings, MidiWriteOptions};
use crate::tempo::{self, Onset, Position, Quantizer, TempoAnalysis};

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
    /// The classes written out (`transcribe --classes`); events of the others were dropped.
    classes: &'a [String],
    settings: JsonSettings<'a>,
    /// Tempo (bpm, where it came from, whether it is one tempo), beat and downbeat times.
    tempo: JsonTempo<'a>,
    /// Each event with its bar (1 = the first full bar) and beat (1.0 = on the bar line).
    events: Vec<JsonEvent<'a>>,
}

#[derive(Serialize)]
struct JsonTempo<'a> {
    bpm: f64,
    source: tempo::TempoSource,
    steady: bool,
    beats_per_bar: u32,
    beats: &'a [f64],
    downbeats: Vec<f64>,
    /// The other tempi weighed, `[bpm, score]`, best first (half and double tempo among them).
    candidates: &'a [(f64, f64)],
}

#[derive(Serialize)]
struct JsonEvent<'a> {
    #[serde(flatten)]
    event: &'a DrumEvent,
    bar: i64,
    beat: f64,
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

/// `<out_dir>/<input stem>.beats.csv`: the beat grid written beside the CSV.
pub fn beats_csv_path(input: &Path, out_dir: &Path) -> PathBuf {
    let csv = output_path(input, out_dir, OutputFormat::Csv);
    csv.with_extension("beats.csv")
}

/// `<out_dir>/<input stem>.quantized-<grid>.mid`: the quantised variant beside the raw MIDI.
pub fn quantized_path(input: &Path, out_dir: &Path, q: &Quantizer) -> PathBuf {
    let mid = output_path(input, out_dir, OutputFormat::Mid);
    mid.with_extension(format!("quantized-{}.mid", q.grid.file_tag()))
}

/// The tempo and bars of a transcription as the outputs write them: estimated from its
/// events, or at `midi.tempo_bpm` when that is set.
pub fn tempo_of(t: &Transcription, midi: &MidiSettings) -> TempoAnalysis {
    let onsets: Vec<Onset> = t.events.iter().map(Onset::of_event).collect();
    tempo::analyse(
        &onsets,
        t.duration,
        &midi.tempo,
        midi.fixed_bpm(),
        midi.fallback_bpm,
    )
}

/// Event rows with their bar, beat and the local tempo.
pub fn csv_text(events: &[DrumEvent], tempo: &TempoAnalysis) -> String {
    let mut s = String::from("time,component,class,note,velocity,confidence,bar,beat,bpm\n");
    for e in events {
        let Position { bar, beat } = tempo.grid.position(e.time);
        s.push_str(&format!(
            "{:.6},{},{},{},{},{:.4},{},{:.3},{:.2}\n",
            e.time,
            e.component,
            e.class.label(),
            e.note,
            e.velocity,
            e.confidence,
            bar,
            beat,
            tempo.grid.bpm_at(e.time)
        ));
    }
    s
}

/// One row per beat of the grid: time, bar, beat in the bar, local tempo.
pub fn beats_csv_text(tempo: &TempoAnalysis) -> String {
    let mut s = String::from("time,bar,beat,bpm\n");
    for &b in &tempo.grid.beats {
        let Position { bar, beat } = tempo.grid.position(b);
        s.push_str(&format!(
            "{b:.6},{bar},{},{:.2}\n",
            beat.round(),
            tempo.grid.bpm_at(b)
        ));
    }
    s
}

pub fn write_csv(
    path: &Path,
    events: &[DrumEvent],
    tempo: &TempoAnalysis,
    overwrite: Overwrite,
) -> Result<()> {
    write_bytes_atomic(path, csv_text(events, tempo).as_bytes(), overwrite)
}

/// The MIDI options of a transcription's file: the `[midi]` settings with the tempo map and
/// bars of `tempo`.
pub fn midi_options(midi: &MidiSettings, tempo: &TempoAnalysis) -> MidiWriteOptions {
    MidiWriteOptions {
        tempo_bpm: tempo.bpm,
        grid: Some(tempo.grid.clone()),
        ..MidiWriteOptions::from_settings(midi)
    }
}

/// The text event that says which classes a file holds (`transcribe --classes`).
pub fn classes_text(classes: &[String]) -> String {
    format!("drummernet: classes transcribed {}", classes.join(","))
}

/// Writes the events as MIDI with the tempo map and bars of `tempo`, each note at its exact
/// time.
pub fn write_mid(
    path: &Path,
    events: &[DrumEvent],
    midi: &MidiSettings,
    tempo: &TempoAnalysis,
    classes: &[String],
    overwrite: Overwrite,
) -> Result<()> {
    let notes: Vec<_> = events.iter().map(|e| e.midi_note(midi)).collect();
    let opts = MidiWriteOptions {
        text: Some(classes_text(classes)),
        ..midi_options(midi, tempo)
    };
    write_midi(path, &notes, &opts, overwrite)
}

/// Writes the events quantised by `q` on the grid of `tempo` (the track named so).
pub fn write_quantized_mid(
    path: &Path,
    events: &[DrumEvent],
    midi: &MidiSettings,
    tempo: &TempoAnalysis,
    q: &Quantizer,
    classes: &[String],
    overwrite: Overwrite,
) -> Result<()> {
    let notes: Vec<_> = events
        .iter()
        .map(|e| {
            let mut n = e.midi_note(midi);
            n.time = q.quantize(&tempo.grid, e.time);
            n
        })
        .collect();
    let opts = MidiWriteOptions {
        track_name: Some(format!(
            "Drums (quantised {}, strength {:.0} %, swing {:.0} %)",
            q.grid,
            q.strength * 100.0,
            q.swing_percent
        )),
        text: Some(classes_text(classes)),
        ..midi_options(midi, tempo)
    };
    write_midi(path, &notes, &opts, overwrite)
}

pub fn write_json(
    path: &Path,
    t: &Transcription,
    model: &ModelInfo,
    settings: &InferenceSettings,
    midi: &MidiSettings,
    tempo: &TempoAnalysis,
    overwrite: Overwrite,
) -> Result<()> {
    let doc = JsonDocument {
        format: "drummernet-transcription",
        version: 2,
        input: t.input.display().to_string(),
        duration_seconds: t.duration,
        frame_rate: t.frame_rate,
        peak: t.peak,
        silent: t.silent,
        model,
        components: &t.components,
        classes: &settings.classes,
        settings: JsonSettings {
            inference: settings,
            midi,
        },
        tempo: JsonTempo {
            bpm: tempo.bpm,
            source: tempo.source,
            steady: tempo.steady,
            beats_per_bar: tempo.grid.beats_per_bar,
            beats: &tempo.grid.beats,
            downbeats: tempo.grid.downbeats(),
            candidates: &tempo.candidates,
        },
        events: t
            .events
            .iter()
            .map(|event| {
                let Position { bar, beat } = tempo.grid.position(event.time);
                JsonEvent { event, bar, beat }
            })
            .collect(),
    };
    write_atomic(path, overwrite, |w| {
        serde_json::to_writer_pretty(&mut *w, &doc)
            .map_err(|e| Error::io(path, std::io::Error::other(e)))?;
        w.write_all(b"\n").map_err(|e| Error::io(path, e))
    })
}

/// Every file [`write_outputs`] writes for `input` into `out_dir`: the requested formats'
/// files in order, then the quantised MIDI (when `midi.quantize` asks and MIDI is written) and
/// the beat grid (with CSV).
pub fn output_paths(
    input: &Path,
    out_dir: &Path,
    formats: &[OutputFormat],
    midi: &MidiSettings,
) -> Vec<PathBuf> {
    let mut all: Vec<PathBuf> = formats
        .iter()
        .map(|&f| output_path(input, out_dir, f))
        .collect();
    if formats.contains(&OutputFormat::Mid) {
        if let Ok(Some(q)) = midi.quantizer() {
            all.push(quantized_path(input, out_dir, &q));
        }
    }
    if formats.contains(&OutputFormat::Csv) {
        all.push(beats_csv_path(input, out_dir));
    }
    all
}

/// Writes every requested format for `t` into `out_dir` (with MIDI, the quantised variant when
/// `midi.quantize` asks; with CSV, the beat grid as `.beats.csv`); all target paths are checked
/// first, so an existing file (without `Overwrite::Allow`) leaves nothing written. Returns the
/// paths, the requested formats' first.
pub fn write_outputs(
    t: &Transcription,
    out_dir: &Path,
    formats: &[OutputFormat],
    model: &ModelInfo,
    settings: &InferenceSettings,
    midi: &MidiSettings,
    overwrite: Overwrite,
) -> Result<Vec<PathBuf>> {
    write_outputs_and_tempo(t, out_dir, formats, model, settings, midi, overwrite).map(|w| w.0)
}

/// [`write_outputs`], also returning the tempo analysis the files were written with (the CLI
/// shows it; estimating it again would repeat the beat tracking).
pub fn write_outputs_and_tempo(
    t: &Transcription,
    out_dir: &Path,
    formats: &[OutputFormat],
    model: &ModelInfo,
    settings: &InferenceSettings,
    midi: &MidiSettings,
    overwrite: Overwrite,
) -> Result<(Vec<PathBuf>, TempoAnalysis)> {
    let quantizer = midi
        .quantizer()
        .map_err(|e| Error::config("midi.quantize", e))?;
    let paths: Vec<(OutputFormat, PathBuf)> = formats
        .iter()
        .map(|&f| (f, output_path(&t.input, out_dir, f)))
        .collect();
    let all = output_paths(&t.input, out_dir, formats, midi);
    for p in &all {
        check_writable(p, overwrite)?;
    }
    let tempo = tempo_of(t, midi);
    for (f, p) in &paths {
        match f {
            OutputFormat::Mid => {
                write_mid(p, &t.events, midi, &tempo, &settings.classes, overwrite)?;
                if let Some(q) = &quantizer {
                    let qp = quantized_path(&t.input, out_dir, q);
                    write_quantized_mid(
                        &qp,
                        &t.events,
                        midi,
                        &tempo,
                        q,
                        &settings.classes,
                        overwrite,
                    )?;
                }
            }
            OutputFormat::Json => write_json(p, t, model, settings, midi, &tempo, overwrite)?,
            OutputFormat::Csv => {
                write_csv(p, &t.events, &tempo, overwrite)?;
                let bp = beats_csv_path(&t.input, out_dir);
                write_bytes_atomic(&bp, beats_csv_text(&tempo).as_bytes(), overwrite)?;
            }
        }
    }
    Ok((all, tempo))
}
