//! `drummernet adapt`: learn a recording (fine-tune a copy of the model and its kit on the
//! stem) and keep what was learned as a session: the adapted model, the learned kit as WAV
//! files, the loss log and the config. Also the adaptation step of `transcribe --adapt`.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};

use drummernet::adapt::Adaptation;
use drummernet::atomic_file::{write_bytes_atomic, Overwrite};
use drummernet::config::Config;
use drummernet::model::drummernet::{save_model, LoadedModel};

use super::runtime::{load_model, DeviceArgs};

#[derive(Args)]
pub struct AdaptArgs {
    /// The stem to learn (any audio file of at least one training segment, 2 s).
    #[arg(required = true)]
    pub stem: PathBuf,
    /// Session name: everything is written to sessions/NAME/.
    #[arg(long)]
    pub session: String,
    /// Folder holding the sessions.
    #[arg(long, default_value = "sessions")]
    pub sessions_dir: PathBuf,
    /// The model file to start from (default: the bundled model).
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Adaptation steps (default: [adapt] steps).
    #[arg(long, value_name = "N")]
    pub steps: Option<usize>,
    /// Time budget in seconds (default: [adapt] seconds).
    #[arg(long, value_name = "S")]
    pub seconds: Option<f64>,
    /// Replace an existing session of that name.
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub device: DeviceArgs,
}

/// Adapts a copy of `model` to the audio file `input` with `[adapt]`, showing the step, the
/// loss and the time left on a terminal, and one summary line on stderr.
pub fn adapt_with_progress(
    cfg: &Config,
    model: &LoadedModel,
    device: &candle_core::Device,
    input: &Path,
) -> Result<Adaptation> {
    let fail = |e: &dyn std::fmt::Display| anyhow::anyhow!("{}: {e}", input.display());
    let stem = drummernet::audio::load_mono(input, drummernet::audio::SAMPLE_RATE)?;
    let mut adaptation = Adaptation::new(model, &stem, cfg, device).map_err(|e| fail(&e))?;
    let steps = cfg.adapt.steps;
    let bar = std::io::stderr().is_terminal().then(|| {
        let b = ProgressBar::new(steps as u64);
        b.set_style(
            ProgressStyle::with_template("{spinner} adapting {msg} [{bar:30}] {pos}/{len} {eta}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        b.set_message(input.display().to_string());
        b
    });
    let started = Instant::now();
    let result = adaptation.run(&mut |s, _| {
        if let Some(b) = &bar {
            b.set_position(s.step as u64);
            b.set_message(format!("{} loss {:.4}", input.display(), s.loss));
        }
    });
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    result.map_err(|e| fail(&e))?;
    let losses = adaptation.steps();
    if let (Some(first), Some(last)) = (losses.first(), losses.last()) {
        eprintln!(
            "{}: adapted in {} steps, {:.1} s, loss {:.4} -> {:.4}",
            input.display(),
            last.step,
            started.elapsed().as_secs_f64(),
            first.loss,
            last.loss
        );
    }
    Ok(adaptation)
}

pub fn adapt_cmd(mut cfg: Config, a: AdaptArgs) -> Result<()> {
    a.device.settle(&mut cfg)?;
    if let Some(n) = a.steps {
        cfg.adapt.steps = n;
    }
    if let Some(s) = a.seconds {
        cfg.adapt.seconds = s;
    }
    cfg.adapt.validate("adapt")?;
    if a.session.is_empty() || a.session.contains(['/', '\\']) || a.session.starts_with('.') {
        bail!("--session {:?}: give a plain name (no path)", a.session);
    }
    let dir = a.sessions_dir.join(&a.session);
    if dir.exists() && !a.force {
        bail!(
            "{}: a session of that name exists (use --force to replace it)",
            dir.display()
        );
    }
    let (model, device) = load_model(&cfg, a.model.as_deref())?;
    let adaptation = adapt_with_progress(&cfg, &model, &device, &a.stem)?;
    // Everything is made in a temporary folder beside the session and renamed into place, so
    // that a failure leaves no half-written session.
    std::fs::create_dir_all(&a.sessions_dir)
        .with_context(|| format!("{}: cannot create", a.sessions_dir.display()))?;
    let tmp = a.sessions_dir.join(format!(".{}.partial", a.session));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(tmp.join("kit"))
        .with_context(|| format!("{}: cannot create", tmp.display()))?;
    let write = || -> Result<()> {
        let tensors = adaptation.tensors()?;
        let extra = vec![
            ("adapted_from".to_string(), model.path.display().to_string()),
            ("adapted_on".to_string(), a.stem.display().to_string()),
            (
                "adapted_steps".to_string(),
                adaptation.steps().len().to_string(),
            ),
        ];
        save_model(
            &tmp.join("model.safetensors"),
            &model.config,
            &tensors,
            &extra,
            Overwrite::Allow,
        )?;
        for (name, wave) in model.config.components.iter().zip(adaptation.waveforms()?) {
            let peak = wave.iter().fold(0.0f32, |m, x| m.max(x.abs())).max(1e-9);
            let scaled: Vec<f32> = wave.iter().map(|x| x / peak * 0.9).collect();
            drummernet::audio::write_wav(
                &tmp.join("kit").join(format!("{name}.wav")),
                &scaled,
                drummernet::audio::SAMPLE_RATE,
                drummernet::audio::WavFormat::Float32,
                Overwrite::Allow,
            )?;
        }
        let mut log = String::from("step,loss,seconds\n");
        for s in adaptation.steps() {
            log.push_str(&format!("{},{},{:.3}\n", s.step, s.loss, s.seconds));
        }
        write_bytes_atomic(&tmp.join("loss.csv"), log.as_bytes(), Overwrite::Allow)?;
        write_bytes_atomic(
            &tmp.join("config.toml"),
            cfg.to_toml()?.as_bytes(),
            Overwrite::Allow,
        )?;
        if dir.exists() {
            std::fs::remove_dir_all(&dir)
                .with_context(|| format!("{}: cannot replace", dir.display()))?;
        }
        std::fs::rename(&tmp, &dir).with_context(|| format!("{}: cannot write", dir.display()))?;
        Ok(())
    };
    if let Err(e) = write() {
        let _ = std::fs::remove_dir_all(&tmp);
        return Err(e);
    }
    println!(
        "{}: model.safetensors (use with --model), kit/ ({} waveforms; a kit for `render --kit`), loss.csv, config.toml",
        dir.display(),
        model.config.components.len()
    );
    Ok(())
}
