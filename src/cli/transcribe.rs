//! `drummernet transcribe`: audio files -> drum events as MIDI / JSON / CSV.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Result};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};

use drummernet::atomic_file::Overwrite;
use drummernet::config::Config;
use drummernet::model::drummernet::LoadedModel;
use drummernet::tempo::TempoSource;
use drummernet::transcribe::export::{write_outputs_and_tempo, ModelInfo, OutputFormat};
use drummernet::transcribe::{transcribe_file, Transcription};

use super::runtime::{load_model, DeviceArgs};

#[derive(Args)]
pub struct TranscribeArgs {
    /// Audio files (WAV, FLAC, MP3, OGG... any length).
    #[arg(required = true)]
    pub inputs: Vec<PathBuf>,
    /// The model file (default: the bundled model).
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Folder for the outputs (default: beside each input).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Output formats, comma-separated: mid, json, csv.
    #[arg(long, default_value = "mid")]
    pub format: String,
    /// Replace existing outputs.
    #[arg(long)]
    pub force: bool,
    /// Tempo to write, beats per minute (default: estimated from the drums; bars and beat
    /// phase are still found).
    #[arg(long, value_name = "BPM")]
    pub tempo: Option<f64>,
    /// Also write a quantised MIDI file (NAME.quantized-1-16.mid) on this grid: 1/4, 1/8,
    /// 1/16, 1/32, triplets 1/8t, 1/16t... The raw file is always written.
    #[arg(long, value_name = "GRID")]
    pub quantize: Option<String>,
    /// How far quantised notes move to the grid, 0..=1 (default 1).
    #[arg(long, value_name = "0..1")]
    pub quantize_strength: Option<f64>,
    /// Swing of the quantised file in percent: 50 straight (default) .. 75.
    #[arg(long, value_name = "PERCENT")]
    pub swing: Option<f64>,
    /// Learn the recording first: fine-tune a copy of the model and its kit on each input
    /// with the unsupervised loss ([adapt] in the config), then transcribe with it.
    #[arg(long)]
    pub adapt: bool,
    /// Adaptation steps (implies --adapt).
    #[arg(long, value_name = "N")]
    pub adapt_steps: Option<usize>,
    /// Adaptation time budget in seconds per file (implies --adapt).
    #[arg(long, value_name = "S")]
    pub adapt_seconds: Option<f64>,
    /// Classes to write out, comma-separated (KD, SD, HH, TT, CY, OT; default all), e.g.
    /// `--classes KD,SD,HH` for a kit part without toms and cymbals.
    #[arg(long, value_name = "LIST")]
    pub classes: Option<String>,
    /// Drum map of the MIDI notes: gm (default), a [midi.maps.NAME] of the config, or a .toml
    /// file with `instrument = "..."` and a [notes] table.
    #[arg(long, value_name = "NAME|FILE")]
    pub drum_map: Option<String>,
    #[command(flatten)]
    pub device: DeviceArgs,
}

impl TranscribeArgs {
    /// Puts the adaptation flags into `[adapt]`.
    pub fn settle_adapt(&self, adapt: &mut drummernet::adapt::AdaptSettings) -> Result<()> {
        if self.adapt || self.adapt_steps.is_some() || self.adapt_seconds.is_some() {
            adapt.enabled = true;
        }
        if let Some(n) = self.adapt_steps {
            adapt.steps = n;
        }
        if let Some(s) = self.adapt_seconds {
            adapt.seconds = s;
        }
        if let Err(e) = adapt.validate("adapt") {
            bail!("--adapt: {e}");
        }
        Ok(())
    }

    /// Puts the MIDI flags into the `[midi]` settings; a bad value is one line naming the flag.
    pub fn settle_midi(&self, midi: &mut drummernet::midi::MidiSettings) -> Result<()> {
        if let Some(bpm) = self.tempo {
            if !(bpm.is_finite() && (4.0..=1000.0).contains(&bpm)) {
                bail!("--tempo {bpm}: must be in 4..=1000 BPM");
            }
            midi.tempo_bpm = bpm;
        }
        if let Some(q) = &self.quantize {
            midi.quantize = q.clone();
        }
        if let Some(s) = self.quantize_strength {
            midi.quantize_strength = s;
        }
        if let Some(s) = self.swing {
            midi.swing_percent = s;
        }
        if let Some(map) = &self.drum_map {
            midi.select_drum_map(map)?;
        }
        if let Err(e) = midi.quantizer() {
            bail!("--quantize: {e}");
        }
        if !(0.0..=1.0).contains(&midi.quantize_strength) {
            bail!("--quantize-strength: must be in 0..=1");
        }
        if !(50.0..=75.0).contains(&midi.swing_percent) {
            bail!("--swing: must be in 50..=75 percent");
        }
        Ok(())
    }
}

/// Transcribes one file with a progress bar on a terminal; with `[adapt] enabled`, adapts a
/// copy of the model to it first (see [`super::adapt::adapt_with_progress`]).
pub fn transcribe_with_progress(
    cfg: &Config,
    model: &LoadedModel,
    device: &candle_core::Device,
    input: &Path,
) -> Result<Transcription> {
    let adapted;
    let model = if cfg.adapt.enabled {
        adapted = super::adapt::adapt_with_progress(cfg, model, device, input)?.adapted_model()?;
        &adapted
    } else {
        model
    };
    let bar = std::io::stderr().is_terminal().then(|| {
        let b = ProgressBar::new(1000);
        b.set_style(
            ProgressStyle::with_template("{spinner} {msg} [{bar:30}] {percent}% {eta}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        b.set_message(input.display().to_string());
        b
    });
    let progress = |f: f64| {
        if let Some(b) = &bar {
            b.set_position((f.clamp(0.0, 1.0) * 1000.0) as u64);
        }
    };
    let t = transcribe_file(model, device, input, &cfg.inference, &cfg.midi, &progress);
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    Ok(t?)
}

fn summary(t: &Transcription, tempo: &str, seconds: f64, written: &[PathBuf]) -> String {
    let mut per_class: BTreeMap<&str, usize> = BTreeMap::new();
    for e in &t.events {
        *per_class.entry(e.class.label()).or_default() += 1;
    }
    let classes: Vec<String> = per_class.iter().map(|(k, n)| format!("{k} {n}")).collect();
    let outs: Vec<String> = written.iter().map(|p| p.display().to_string()).collect();
    // A frame's worth of slack: resampling rounds the length.
    let truncated = t
        .header_seconds
        .filter(|&h| h > t.duration + 0.01)
        .map(|h| format!(" (truncated file: its header promised {h:.1} s)"))
        .unwrap_or_default();
    format!(
        "{}: {} events ({}) in {:.1} s of audio{}{truncated}, {tempo}, {:.1} s -> {}",
        t.input.display(),
        t.events.len(),
        if classes.is_empty() {
            "none".to_string()
        } else {
            classes.join(", ")
        },
        t.duration,
        if t.silent { " (silent)" } else { "" },
        seconds,
        outs.join(", ")
    )
}

pub fn transcribe_cmd(mut cfg: Config, a: TranscribeArgs, verbose: u8) -> Result<()> {
    a.device.settle(&mut cfg)?;
    a.settle_midi(&mut cfg.midi)?;
    a.settle_adapt(&mut cfg.adapt)?;
    if let Some(list) = &a.classes {
        cfg.inference.classes = list
            .split(',')
            .map(|c| c.trim().to_uppercase())
            .filter(|c| !c.is_empty())
            .collect();
        if cfg.inference.classes.is_empty() {
            bail!("--classes: name at least one of KD, SD, HH, TT, CY, OT");
        }
        if let Err(e) = cfg.inference.validate("inference") {
            bail!("--classes {list}: {e}");
        }
    }
    let formats = OutputFormat::parse_list(&a.format)?;
    if let Some(out) = &a.out {
        super::check_output_folder(out)?;
        std::fs::create_dir_all(out).map_err(|e| drummernet::Error::io(out, e))?;
    }
    let (model, device) = load_model(&cfg, a.model.as_deref())?;
    let info = ModelInfo::of(&model);
    let mut failed = 0;
    for input in &a.inputs {
        let start = Instant::now();
        let result = transcribe_with_progress(&cfg, &model, &device, input).and_then(|t| {
            let dir = match &a.out {
                Some(d) => d.clone(),
                None => input.parent().map(Path::to_path_buf).unwrap_or_default(),
            };
            let (written, tempo) = write_outputs_and_tempo(
                &t,
                &dir,
                &formats,
                &info,
                &cfg.inference,
                &cfg.midi,
                Overwrite::from_force(a.force),
            )?;
            let tempo = format!(
                "{:.1} BPM{}",
                tempo.bpm,
                match tempo.source {
                    TempoSource::Estimated if tempo.steady => "",
                    TempoSource::Estimated => " (tempo map)",
                    TempoSource::Fixed => " (--tempo)",
                    TempoSource::Fallback => " (too few hits to estimate)",
                }
            );
            let mut text = summary(&t, &tempo, start.elapsed().as_secs_f64(), &written);
            if verbose > 0 {
                for pass in &t.passes {
                    text.push_str(&format!("\n  {pass}"));
                }
            }
            Ok(text)
        });
        match result {
            Ok(line) => super::print_out(&format!("{line}\n"))?,
            // One input: its error is the command's error (one line). A batch goes on with the
            // other files: one line per bad file here, then a summary line.
            Err(e) if a.inputs.len() == 1 => return Err(e),
            Err(e) => {
                failed += 1;
                eprintln!("error: {}", super::error_line(&e));
            }
        }
    }
    if failed > 0 {
        bail!("{failed} of {} files failed", a.inputs.len());
    }
    Ok(())
}
