//! The command line's subcommands: argument definitions and the calls into the library.

pub mod groove;
pub mod kit;
pub mod render;
pub mod train;
pub mod tui;

use anyhow::Result;

use drummernet::kit::spec::KitSpec;
use drummernet::kit::{components, Kit};

/// Loads every kit named by `--kits` arguments.
pub fn load_kits(specs: &[String], components: &[String], length: usize) -> Result<Vec<Kit>> {
    let mut kits = Vec::new();
    for s in specs {
        kits.extend(KitSpec::parse(s)?.load(components, length)?);
    }
    Ok(kits)
}

/// Every component a kit may have, for rendering (the model's 11 plus the ride bell).
pub fn all_components() -> Vec<String> {
    components::COMPONENTS
        .iter()
        .chain(std::iter::once(&components::RIDE_BELL))
        .map(|c| c.name.to_string())
        .collect()
}
