//! `drummernet train`: the background trainer with a progress bar, stopped cleanly by SIGINT.

use std::path::PathBuf;

use anyhow::{bail, Result};
use clap::Args;

use drummernet::config::Config;
use drummernet::train;

use super::load_kits;
use super::runtime::DeviceArgs;
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;

#[derive(Args)]
pub struct TrainArgs {
    /// Folders of drum stems (any format); without any, training uses synthetic grooves only.
    #[arg(long)]
    pub data: Vec<PathBuf>,
    /// Kits for the synthesizer and the groove renderer (repeatable), as for `groove --kits`.
    #[arg(long)]
    pub kits: Vec<String>,
    /// Procedural training kits added to the pool (seeds from train.procedural_seed_first on, in
    /// the families of train.procedural_families).
    #[arg(long, default_value_t = 16)]
    pub procedural_kits: usize,
    /// Session name: checkpoints and the loss log go to sessions/NAME/.
    #[arg(long, default_value = "default")]
    pub session: String,
    /// Folder holding the sessions.
    #[arg(long, default_value = "sessions")]
    pub sessions_dir: PathBuf,
    /// Train until this step (default: train.steps); it is also train.steps, where a cosine
    /// learning-rate schedule ends.
    #[arg(long)]
    pub steps: Option<u64>,
    /// Continue the session from its latest checkpoint.
    #[arg(long)]
    pub resume: bool,
    #[command(flatten)]
    pub device: DeviceArgs,
    #[arg(long)]
    pub batch_size: Option<usize>,
}

pub fn train_cmd(mut cfg: Config, a: TrainArgs) -> Result<()> {
    if let Some(b) = a.batch_size {
        cfg.train.batch_size = b;
    }
    a.device.settle(&mut cfg)?;
    let device = cfg.device.candle_device()?;
    let kits = load_kits(&a.kits, &cfg.model.components, cfg.kit.length_samples())?;
    if let Some(steps) = a.steps {
        cfg.train.steps = steps;
    }
    let target = cfg.train.steps;
    let job = train::background::TrainJob {
        data: train::trainer::DataSpec {
            stems: a.data,
            kit_dirs: Vec::new(),
            kits,
            procedural_kits: a.procedural_kits,
        },
        sessions_root: a.sessions_dir,
        session: a.session,
        resume: a.resume,
        target_steps: target,
        device,
        config: cfg,
    };
    let handle = train::background::spawn(job);
    let stop = handle.control.commands();
    // SIGINT/SIGTERM: write a checkpoint, then exit.
    let _ = ctrlc::set_handler(move || {
        let _ = stop.send(train::background::TrainerCommand::Stop);
    });
    let bar = if std::io::stderr().is_terminal() {
        let b = ProgressBar::new(target);
        b.set_style(
            ProgressStyle::with_template(
                "{spinner} step {pos}/{len} [{elapsed_precise}<{eta_precise}] {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        Some(b)
    } else {
        None
    };
    let mut failure = None;
    for event in handle.events.iter() {
        use train::background::TrainerEvent as E;
        match event {
            E::Started {
                session,
                step,
                target_steps,
            } => {
                if let Some(b) = &bar {
                    b.set_position(step);
                } else {
                    log_line(
                        &bar,
                        format!("session {session}: from step {step} to {target_steps}"),
                    );
                }
            }
            E::Step(r) => match &bar {
                Some(b) => {
                    b.set_position(r.step);
                    b.set_message(format!(
                        "loss {:.4}  {:.1} items/s",
                        r.loss, r.items_per_second
                    ));
                }
                None => log_line(
                    &bar,
                    format!(
                        "step {} loss {:.5} items/s {:.2}",
                        r.step, r.loss, r.items_per_second
                    ),
                ),
            },
            E::Checkpoint { step, path } => log_line(
                &bar,
                format!("checkpoint at step {step}: {}", path.display()),
            ),
            E::Warning(w) => log_line(&bar, format!("warning: {w}")),
            E::Finished { step, stopped } => {
                log_line(
                    &bar,
                    format!(
                        "{} at step {step}",
                        if stopped { "stopped" } else { "finished" }
                    ),
                );
            }
            E::Failed(e) => failure = Some(e),
            E::Waveforms { .. } | E::Paused { .. } | E::Resumed { .. } => {}
        }
    }
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    handle.control.join();
    match failure {
        Some(e) => bail!("training: {e}"),
        None => Ok(()),
    }
}

pub fn log_line(bar: &Option<ProgressBar>, line: String) {
    match bar {
        Some(b) => b.println(line),
        // A closed pipe (`train | head`) must not kill a training run: ignore write errors.
        None => {
            let _ = super::print_out(&format!("{line}\n"));
        }
    }
}
