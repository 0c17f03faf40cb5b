//! `drummernet watch`: transcribe every audio file that appears in (or changes in) a folder,
//! exactly once per version, with one loaded model; SIGINT/SIGTERM finish the current file.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use anyhow::{bail, Result};
use clap::Args;

use drummernet::config::Config;
use drummernet::transcribe::export::OutputFormat;
use drummernet::watch::fingerprint::hash_file;
use drummernet::watch::{watch, Engine, WatchOptions};

use super::runtime::{load_model, DeviceArgs};
use super::{check_output_folder, print_out};

#[derive(Args)]
pub struct WatchArgs {
    /// The folder to watch.
    pub input: PathBuf,
    /// Folder for the outputs and the journal (default: the watched folder, outputs beside
    /// their inputs); sub-folders of the input are mirrored in it.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Output formats, comma-separated: mid, json, csv.
    #[arg(long, default_value = "mid")]
    pub format: String,
    /// Watch sub-folders too.
    #[arg(long)]
    pub recursive: bool,
    /// Process the files present (the backlog), print a summary and exit.
    #[arg(long)]
    pub once: bool,
    /// Leave the files present at start-up alone; only new and changed files are transcribed.
    #[arg(long, conflicts_with = "once")]
    pub new_only: bool,
    /// Replace existing files in the way of an output (the watcher's own outputs, known from
    /// its journal, are always replaced when their input changes).
    #[arg(long)]
    pub force: bool,
    /// The model file (default: the bundled model).
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Adapt a copy of the model to each file before transcribing it ([adapt]).
    #[arg(long)]
    pub adapt: bool,
    #[command(flatten)]
    pub device: DeviceArgs,
}

pub fn watch_cmd(mut cfg: Config, a: WatchArgs) -> Result<()> {
    a.device.settle(&mut cfg)?;
    let formats = OutputFormat::parse_list(&a.format)?;
    if !a.input.is_dir() {
        bail!(
            "{}: {}",
            a.input.display(),
            if a.input.exists() {
                "not a folder (give the folder to watch)"
            } else {
                "no such folder"
            }
        );
    }
    if let Some(out) = &a.out {
        check_output_folder(out)?;
    }
    let (model, device) = load_model(&cfg, a.model.as_deref())?;
    let info = drummernet::transcribe::ModelInfo::of(&model);
    let model_hash = hash_file(&model.path)?;
    let mut engine = Engine::new(
        model,
        device,
        cfg.inference.clone(),
        cfg.midi.clone(),
        info,
        model_hash,
    )?;
    if a.adapt || cfg.adapt.enabled {
        cfg.adapt.enabled = true;
        // Adapted outputs differ from plain ones: a file is redone when the switch changes.
        engine.identity.settings = drummernet::watch::fingerprint::hash_bytes(
            format!(
                "{}+adapt:{}",
                engine.identity.settings,
                cfg.adapt_identity()?
            )
            .as_bytes(),
        );
        engine.adapt = Some(Box::new(cfg.clone()));
    }
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    // SIGINT/SIGTERM: finish the jobs in flight, then exit; a second signal exits at once
    // (outputs and journal are written atomically, so that loses only the unfinished jobs).
    let _ = ctrlc::set_handler(move || {
        if flag.swap(true, Ordering::SeqCst) {
            eprintln!("interrupted again: exiting now");
            std::process::exit(130);
        }
        eprintln!("stopping after the current file (interrupt again to quit now)");
    });
    let opts = WatchOptions {
        root: a.input.clone(),
        out_dir: a.out.clone(),
        recursive: a.recursive,
        once: a.once,
        new_only: a.new_only,
        force: a.force,
        formats,
        settings: cfg.watch.clone(),
    };
    let summary = watch(&opts, &engine, &stop)?;
    print_out(&format!("{}: {summary}\n", a.input.display()))?;
    if a.once && summary.failed > 0 {
        bail!(
            "{} file(s) failed (recorded in the journal, not retried until they change)",
            summary.failed
        );
    }
    Ok(())
}
