//! `drummernet kit list | show | synth`.

use std::path::PathBuf;

use anyhow::Result;
use clap::Subcommand;

use drummernet::atomic_file::Overwrite;
use drummernet::config::Config;
use drummernet::kit::{self};

#[derive(Subcommand)]
pub enum KitCommand {
    /// List the kits in a folder.
    List { dir: PathBuf },
    /// Measure the components of one kit.
    Show {
        dir: PathBuf,
        /// Kit index in a drum-source folder.
        #[arg(long = "kit")]
        index: Option<u32>,
    },
    /// Generate a procedural kit into a folder (the bundled kit is `--seed 0`).
    Synth {
        #[arg(long)]
        seed: u64,
        #[arg(long)]
        out: PathBuf,
        #[arg(long)]
        force: bool,
    },
}

pub fn kit_cmd(cfg: &Config, k: KitCommand) -> Result<()> {
    let length = cfg.kit.length_samples();
    match k {
        KitCommand::List { dir } => print!("{}", kit::commands::list_text(&dir)?),
        KitCommand::Show { dir, index } => print!("{}", kit::commands::show(&dir, index, length)?),
        KitCommand::Synth { seed, out, force } => {
            let kit =
                kit::commands::synth_to_folder(seed, length, &out, Overwrite::from_force(force))?;
            println!(
                "{}: procedural kit seed {seed}, {} components",
                out.display(),
                kit.components.len()
            );
        }
    }
    Ok(())
}
