//! `drummernet groove`: synthetic performances with exact ground truth.

use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::{bail, Result};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};

use drummernet::atomic_file::Overwrite;
use drummernet::config::Config;
use drummernet::groove;

use super::{check_output_folder, load_kits, print_out};

#[derive(Args)]
pub struct GrooveArgs {
    /// How many performances.
    #[arg(long, default_value_t = 10)]
    pub count: usize,
    /// Length of each, in seconds (1..=3600).
    #[arg(long, default_value_t = 30.0)]
    pub seconds: f64,
    /// Kits to render with (repeatable): `DIR`, `DIR#1-11`, `procedural:SEED`, `procedural:A-B`,
    /// `sf2:FILE` (every drum preset of a SoundFont) or `sf2:FILE#0,8,16`.
    #[arg(long, default_value = "procedural:0-9")]
    pub kits: Vec<String>,
    /// Output folder (created if missing); files are groove_NNNN.{wav,mid,txt}.
    #[arg(long)]
    pub out: PathBuf,
    /// Seed of the set: the same seed, kits and settings give byte-identical files.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Apply light augmentation (gain, EQ tilt, noise, short reverb).
    #[arg(long)]
    pub augment: bool,
    /// Replace existing groove files in the output folder.
    #[arg(long)]
    pub force: bool,
}

pub fn groove_cmd(cfg: &Config, a: GrooveArgs) -> Result<()> {
    if a.count == 0 || !(1.0..=3600.0).contains(&a.seconds) {
        bail!("groove: --count must be >= 1 and --seconds in 1..=3600");
    }
    check_output_folder(&a.out)?;
    let length = cfg.kit.length_samples();
    // Kits lacking the ride bell still render (its notes fall back to the ride).
    let kits = load_kits(
        &a.kits,
        &drummernet::kit::components::all_component_names(),
        length,
    )
    .or_else(|_| {
        load_kits(
            &a.kits,
            &drummernet::kit::components::default_component_names(),
            length,
        )
    })?;
    let mut settings = cfg.groove.clone();
    settings.augment.enabled = a.augment;
    let bar = progress_bar(a.count);
    let written = groove::write_groove_set_reporting(
        &a.out,
        a.count,
        a.seconds,
        &kits,
        a.seed,
        &settings,
        Overwrite::from_force(a.force),
        &|| bar.inc(1),
    );
    bar.finish_and_clear();
    let written = written?;
    print_out(&format!(
        "{}: {} grooves ({} s each) with {} kit(s)\n",
        a.out.display(),
        written.len(),
        a.seconds,
        kits.len()
    ))
}

/// A bar on the terminal; hidden (drawing nothing) when stdout is a pipe or a file.
fn progress_bar(count: usize) -> ProgressBar {
    if !std::io::stdout().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(count as u64);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} grooves [{elapsed_precise}<{eta}]")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar
}
