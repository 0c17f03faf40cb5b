//! `drummernet render`: a MIDI drum part through a kit into a WAV file.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::Args;

use drummernet::atomic_file::Overwrite;
use drummernet::audio::WavFormat;
use drummernet::config::Config;
use drummernet::groove;
use drummernet::kit::spec::KitSpec;
use drummernet::kit::Kit;

use super::print_out;

#[derive(Args)]
pub struct RenderArgs {
    /// The MIDI file (General MIDI drum notes, any channel).
    pub pattern: PathBuf,
    /// The kit: a folder (`DIR`, `DIR#3` for kit 3 of a drum-source folder), `procedural:SEED` or
    /// an SF2 drum preset (`sf2:FILE#N`).
    #[arg(long)]
    pub kit: String,
    /// The WAV file to write (mono, 16-bit, 16 kHz); refused if it exists, unless --force.
    #[arg(short, long)]
    pub output: PathBuf,
    /// Replace an existing output file.
    #[arg(long)]
    pub force: bool,
}

pub fn load_render_kit(spec: &str, length: usize) -> Result<Kit> {
    let parsed = KitSpec::parse(spec)?;
    // A kit for rendering may lack some components (notes fall back to a sibling of the class).
    let kits = parsed
        .load(&drummernet::kit::components::all_component_names(), length)
        .or_else(|_| {
            parsed.load(
                &drummernet::kit::components::default_component_names(),
                length,
            )
        })?;
    kits.into_iter()
        .next()
        .with_context(|| format!("kit `{spec}`: no kit found"))
}

pub fn render(cfg: &Config, a: RenderArgs) -> Result<()> {
    if a.output.is_dir() {
        bail!(
            "{}: is a folder (give the WAV file to write)",
            a.output.display()
        );
    }
    let kit = load_render_kit(&a.kit, cfg.kit.length_samples())?;
    let out = groove::render_midi_file(
        &a.pattern,
        &kit,
        &a.output,
        cfg.groove.peak_dbfs,
        WavFormat::Pcm16,
        Overwrite::from_force(a.force),
    )?;
    print_out(&format!(
        "{}: {} notes, {:.2} s through {}{}\n",
        a.output.display(),
        out.notes,
        out.seconds,
        kit.name,
        if out.unplayable > 0 {
            format!(" ({} notes had no drum sound)", out.unplayable)
        } else {
            String::new()
        }
    ))
}
