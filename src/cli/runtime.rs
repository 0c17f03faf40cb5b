//! What every subcommand that runs the model shares: `--device` / `--threads` (and `train`'s
//! `--batch-size`) turned into the config, and `--model` resolved to a loaded model, so that
//! every front end finds the bundled model from any working directory in the same way.

use std::path::{Path, PathBuf};

use anyhow::{bail, Result};
use clap::Args;

use drummernet::config::{Config, DeviceKind};
use drummernet::model::drummernet::{DrummerNet, LoadedModel};
use drummernet::model::ops::simd;

/// Where the bundled model lives, relative to the assets folder.
pub const BUNDLED_MODEL: &str = drummernet::assets::BUNDLED_MODEL;

/// `--device` and `--threads`.
#[derive(Args, Debug, Clone, Default)]
pub struct DeviceArgs {
    #[arg(long, value_enum)]
    pub device: Option<DeviceKind>,
    /// CPU threads (0 = all cores).
    #[arg(long)]
    pub threads: Option<usize>,
}

impl DeviceArgs {
    /// The flags over the config's `[device]`, the result validated, and the thread count
    /// set for candle's and rayon's pools.
    pub fn settle(&self, cfg: &mut Config) -> Result<()> {
        if let Some(d) = self.device {
            cfg.device.device = d;
        }
        if let Some(t) = self.threads {
            cfg.device.threads = t;
        }
        cfg.validate()?;
        apply_threads(cfg.device.threads);
        // Which build of the hand-written kernels runs (DRUMMERNET_SIMD caps it), for
        // `DRUMMERNET_LOG=info` and bug reports.
        tracing::info!(
            "vector kernels: {} (this CPU: {})",
            simd::level().name(),
            simd::detected().name()
        );
        Ok(())
    }
}

/// Sets the CPU thread count for the pools that have not started yet (0 = all cores).
pub fn apply_threads(threads: usize) {
    if threads > 0 {
        // candle and rayon read these when their pools start, which has not happened yet.
        std::env::set_var("RAYON_NUM_THREADS", threads.to_string());
        std::env::set_var("CANDLE_NUM_THREADS", threads.to_string());
    }
}

/// `--model FILE`, or the bundled model (looked up with [`drummernet::assets::locate`]: the
/// working directory, beside the executable, the checkout it was built from).
pub fn model_path(given: Option<&Path>) -> Result<PathBuf> {
    if let Some(p) = given {
        return Ok(p.to_path_buf());
    }
    let located = drummernet::assets::locate(BUNDLED_MODEL);
    if !located.exists() {
        bail!(
            "{}: the bundled model is missing; train one with `drummernet train` \
             and pass it with --model FILE",
            located.display()
        );
    }
    Ok(located)
}

/// The model of `--model` (or the bundled one) on the configured device.
pub fn load_model(
    cfg: &Config,
    given: Option<&Path>,
) -> Result<(LoadedModel, candle_core::Device)> {
    let path = model_path(given)?;
    let device = cfg.device.candle_device()?;
    Ok((DrummerNet::load(&path, &device)?, device))
}
