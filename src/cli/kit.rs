//! `drummernet kit list | show | synth`.

use std::path::PathBuf;

use anyhow::Result;
use clap::Subcommand;

use drummernet::atomic_file::Overwrite;
use drummernet::config::Config;
use drummernet::kit;

use super::{check_output_folder, print_out};

#[derive(Subcommand)]
pub enum KitCommand {
    /// List the kits in a folder (plain `KD_KD.wav` names, or numbered `3)KD_KD.wav` kits).
    List {
        /// The kit folder.
        dir: PathBuf,
    },
    /// Measure the components of one kit: peak, RMS, decay, spectral centroid.
    Show {
        /// The kit folder.
        dir: PathBuf,
        /// Which kit of a folder holding several (`N)NAME.wav` files); needed when there are
        /// several.
        #[arg(long = "kit", value_name = "N")]
        index: Option<u32>,
    },
    /// Generate a procedural kit into a folder (the bundled assets/kits/default is `--seed 0`).
    Synth {
        /// Seed of the kit: the same seed gives bit-identical samples.
        #[arg(long)]
        seed: u64,
        /// Folder to write the samples into (created if missing).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// Replace existing samples in the folder.
        #[arg(long)]
        force: bool,
    },
}

pub fn kit_cmd(cfg: &Config, k: KitCommand) -> Result<()> {
    let length = cfg.kit.length_samples();
    match k {
        KitCommand::List { dir } => print_out(&kit::commands::list_text(&dir)?),
        KitCommand::Show { dir, index } => {
            print_out(&kit::commands::show(&dir, index, length)?.to_string())
        }
        KitCommand::Synth { seed, out, force } => {
            check_output_folder(&out)?;
            let kit =
                kit::commands::synth_to_folder(seed, length, &out, Overwrite::from_force(force))?;
            print_out(&format!(
                "{}: procedural kit seed {seed}, {} components\n",
                out.display(),
                kit.components.len()
            ))
        }
    }
}
