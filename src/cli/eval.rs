//! `drummernet eval`: onset P/R/F1 against ground truth, from a folder of predictions or by
//! transcribing the audio with a model.

use std::path::{Path, PathBuf};

use anyhow::Result;
use clap::Args;

use drummernet::atomic_file::{write_bytes_atomic, Overwrite};
use drummernet::config::Config;
use drummernet::eval::onsets::onsets_from_events;
use drummernet::eval::score::{score_dir, score_with, EvalResult};
use drummernet::eval::table::{per_clip_lines, table};
use drummernet::Error;

use super::runtime::{load_model, DeviceArgs};
use super::transcribe::transcribe_with_progress;

#[derive(Args)]
pub struct EvalArgs {
    /// Ground truth: a folder with manifest.json, or of `<clip>.txt` / `<clip>.mid` files.
    #[arg(long)]
    pub gt: PathBuf,
    /// Predictions: `<clip>.txt` (onset<TAB>label) or `<clip>.mid` per clip.
    #[arg(long, conflicts_with_all = ["model", "audio"], required_unless_present = "audio")]
    pub pred: Option<PathBuf>,
    /// The model that transcribes `--audio` (default: the bundled model).
    #[arg(long, requires = "audio")]
    pub model: Option<PathBuf>,
    /// Folder of `<clip>.<ext>` audio files to transcribe instead of reading predictions.
    #[arg(long)]
    pub audio: Option<PathBuf>,
    /// Only MIDI notes on this channel (1-based; 10 = GM drums).
    #[arg(long)]
    pub channel: Option<u8>,
    /// Write the full results (per clip too) as JSON here.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Replace an existing --json file.
    #[arg(long)]
    pub force: bool,
    /// Also print one line per clip.
    #[arg(long)]
    pub per_clip: bool,
    /// Also print where the errors went: for every false positive the class annotated within
    /// the window, for every miss the class predicted there instead (the JSON always has it).
    #[arg(long)]
    pub confusion: bool,
    /// Adapt a copy of the model to each clip before transcribing it ([adapt]).
    #[arg(long, requires = "audio")]
    pub adapt: bool,
    #[command(flatten)]
    pub device: DeviceArgs,
}

/// The audio file of clip `id` in `dir` (any extension; `.wav` first).
pub(super) fn find_audio(dir: &Path, id: &str) -> Result<Option<PathBuf>> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| Error::io(dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && p.file_stem().is_some_and(|s| s == id))
        .collect();
    found.sort_by_key(|p| (p.extension().is_none_or(|e| e != "wav"), p.clone()));
    Ok(found.into_iter().next())
}

pub fn eval_cmd(mut cfg: Config, a: EvalArgs) -> Result<()> {
    if let Some(j) = &a.json {
        drummernet::atomic_file::check_writable(j, Overwrite::from_force(a.force))?;
    }
    let res: EvalResult = match (&a.pred, &a.model, &a.audio) {
        (Some(pred), _, _) => score_dir(pred, &a.gt, a.channel)?,
        (None, model_path, Some(audio)) => {
            a.device.settle(&mut cfg)?;
            cfg.adapt.enabled |= a.adapt;
            let (model, device) = load_model(&cfg, model_path.as_deref())?;
            let name = model
                .path
                .file_name()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            score_with(&a.gt, &name, |clip| {
                let Some(path) =
                    find_audio(audio, &clip.id).map_err(|e| Error::Invalid(e.to_string()))?
                else {
                    return Ok(None);
                };
                let t = transcribe_with_progress(&cfg, &model, &device, &path)
                    .map_err(|e| Error::Invalid(format!("{e:#}")))?;
                Ok(Some(onsets_from_events(&t.events)))
            })?
        }
        _ => anyhow::bail!("give --pred DIR, or --model FILE with --audio DIR"),
    };
    let mut text = table(&res);
    if a.per_clip {
        text.push('\n');
        text.push_str(&per_clip_lines(&res));
    }
    if a.confusion {
        text.push('\n');
        text.push_str(&res.confusion.table());
    }
    super::print_out(&text)?;
    if let Some(j) = &a.json {
        let text = serde_json::to_string_pretty(&res)?;
        write_bytes_atomic(j, text.as_bytes(), Overwrite::from_force(a.force))?;
    }
    Ok(())
}
