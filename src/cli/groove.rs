//! `drummernet groove`: synthetic performances with exact ground truth.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::Args;

use drummernet::atomic_file::Overwrite;
use drummernet::config::Config;
use drummernet::groove;

use super::{all_components, load_kits};

#[derive(Args)]
pub struct GrooveArgs {
    /// How many performances.
    #[arg(long, default_value_t = 10)]
    pub count: usize,
    /// Length of each, in seconds.
    #[arg(long, default_value_t = 30.0)]
    pub seconds: f64,
    /// Kits to render with (repeatable): `DIR`, `DIR#1-11`, `procedural:SEED` or `procedural:A-B`.
    #[arg(long, default_value = "procedural:0-9")]
    pub kits: Vec<String>,
    /// Output folder.
    #[arg(long)]
    pub out: PathBuf,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Apply light augmentation (gain, EQ tilt, noise, short reverb).
    #[arg(long)]
    pub augment: bool,
    #[arg(long)]
    pub force: bool,
}

pub fn groove_cmd(cfg: &Config, a: GrooveArgs) -> Result<()> {
    if a.count == 0 || !(1.0..=3600.0).contains(&a.seconds) {
        bail!("groove: --count must be >= 1 and --seconds in 1..=3600");
    }
    let kits = load_kits(&a.kits, &all_components(), cfg.kit.length_samples()).or_else(|_| {
        load_kits(
            &a.kits,
            &drummernet::kit::components::default_component_names(),
            cfg.kit.length_samples(),
        )
    })?;
    let mut settings = cfg.groove.clone();
    settings.augment.enabled = a.augment;
    std::fs::create_dir_all(&a.out).with_context(|| format!("{}", a.out.display()))?;
    let written = groove::write_groove_set(
        &a.out,
        a.count,
        a.seconds,
        &kits,
        a.seed,
        &settings,
        Overwrite::from_force(a.force),
    )?;
    println!(
        "{}: {} grooves ({} s each) with {} kit(s)",
        a.out.display(),
        written.len(),
        a.seconds,
        kits.len()
    );
    Ok(())
}
