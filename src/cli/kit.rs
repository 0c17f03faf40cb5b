//! `drummernet kit list | show | synth | export`.

use std::path::PathBuf;

use anyhow::Result;
use clap::Subcommand;

use drummernet::atomic_file::Overwrite;
use drummernet::config::Config;
use drummernet::kit;

use super::{check_output_folder, print_out};

#[derive(Subcommand)]
pub enum KitCommand {
    /// List the kits in a folder (plain `KD_KD.wav` names, or numbered `3)KD_KD.wav` kits), or
    /// the drum presets of an SF2 SoundFont file.
    List {
        /// The kit folder, or an SF2 file.
        dir: PathBuf,
    },
    /// Measure the components of one kit: peak, RMS, decay, spectral centroid.
    Show {
        /// The kit folder, or an SF2 file.
        dir: PathBuf,
        /// Which kit of a folder holding several (`N)NAME.wav` files), or which drum preset of an
        /// SF2 file; needed when there are several.
        #[arg(long = "kit", value_name = "N")]
        index: Option<u32>,
    },
    /// Write one kit as a folder of 16 kHz WAV samples with plain names (`KD_KD.wav`...): an SF2
    /// drum preset (`sf2:FILE#N`), a procedural kit (`procedural:SEED`,
    /// `procedural:FAMILY:SEED`) or a folder kit (`DIR#N`).
    Export {
        /// The kit, as `--kits` takes it, naming exactly one kit.
        kit: String,
        /// Folder to write the samples into (created if missing).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// Replace existing samples in the folder.
        #[arg(long)]
        force: bool,
    },
    /// Generate a procedural kit into a folder (the bundled assets/kits/default is `--seed 0`).
    Synth {
        /// Seed of the kit: the same seed gives bit-identical samples.
        #[arg(long)]
        seed: u64,
        /// The kit family: acoustic, electronic, brushes, processed or room (assets/kits/README.md).
        #[arg(long, default_value = "acoustic", value_name = "FAMILY")]
        family: kit::KitFamily,
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
        KitCommand::Synth {
            seed,
            family,
            out,
            force,
        } => {
            check_output_folder(&out)?;
            let kit = kit::commands::synth_to_folder(
                family,
                seed,
                length,
                &out,
                Overwrite::from_force(force),
            )?;
            print_out(&format!(
                "{}: {family} procedural kit seed {seed}, {} components\n",
                out.display(),
                kit.components.len()
            ))
        }
        KitCommand::Export { kit, out, force } => {
            check_output_folder(&out)?;
            let exported =
                kit::commands::export_to_folder(&kit, length, &out, Overwrite::from_force(force))?;
            print_out(&format!(
                "{}: {} ({} components)\n",
                out.display(),
                exported.name,
                exported.components.len()
            ))
        }
    }
}
