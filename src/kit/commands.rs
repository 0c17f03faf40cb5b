//! The library side of `drummernet kit list | show | synth`: each returns text or data for the
//! CLI to print; nothing here prints.

use std::fmt::Write as _;
use std::path::Path;

use super::folder::{index_ranges, list_kits, load_kit, save_kit, KitListing};
use super::procedural::procedural_kit;
use super::summary::{summarise, KitSummary};
use super::Kit;
use crate::atomic_file::Overwrite;
use crate::error::{Error, Result};

/// `kit list DIR`: one line per kit, then the components they hold.
pub fn list_text(dir: &Path) -> Result<String> {
    let kits = list_kits(dir)?;
    let mut out = String::new();
    if kits.is_empty() {
        let _ = writeln!(
            out,
            "{}: no kit samples found (expected files like KD_KD.wav or 1)KD_KD.wav)",
            dir.display()
        );
        return Ok(out);
    }
    let plural = if kits.len() == 1 { "" } else { "s" };
    let _ = writeln!(out, "{}: {} kit{plural}", dir.display(), kits.len());
    for kit in &kits {
        let label = kit_label(kit.index);
        let _ = write!(out, "  {label:<11} {:>2} components", kit.components.len());
        if !kit.missing.is_empty() {
            let _ = write!(out, "   missing: {}", kit.missing.join(" "));
        }
        out.push('\n');
    }
    let first = &kits[0].components;
    if kits.iter().all(|k| &k.components == first) {
        let _ = writeln!(out, "components: {}", first.join(" "));
    } else {
        for kit in &kits {
            let _ = writeln!(
                out,
                "{} components: {}",
                kit_label(kit.index),
                kit.components.join(" ")
            );
        }
    }
    Ok(out)
}

fn kit_label(index: Option<u32>) -> String {
    match index {
        Some(i) => format!("kit {i}"),
        None => "kit (plain)".to_string(),
    }
}

/// Which kit of `dir` a command means: the requested one if it exists, else the only one.
pub fn resolve_kit(dir: &Path, requested: Option<u32>) -> Result<KitListing> {
    let kits = list_kits(dir)?;
    let indices = || index_ranges(&kits.iter().filter_map(|k| k.index).collect::<Vec<_>>());
    if kits.is_empty() {
        return Err(Error::kit(
            dir,
            "no kit samples found (expected files like KD_KD.wav or 1)KD_KD.wav)",
        ));
    }
    match requested {
        Some(n) => kits
            .iter()
            .find(|k| k.index == Some(n))
            .cloned()
            .ok_or_else(|| match indices() {
                none if none.is_empty() => Error::kit(
                    dir,
                    format!("no kit {n} here, only one unnumbered kit: omit --kit"),
                ),
                some => Error::kit(dir, format!("no kit {n} here (kits: {some})")),
            }),
        None if kits.len() == 1 => Ok(kits[0].clone()),
        None => match kits.iter().find(|k| k.index.is_none()) {
            Some(plain) => Ok(plain.clone()),
            None => Err(Error::kit(
                dir,
                format!(
                    "holds {} kits ({}): choose one with --kit N",
                    kits.len(),
                    indices()
                ),
            )),
        },
    }
}

/// `kit show DIR [--kit N]`: loads every component of the kit at `length` samples and measures it.
pub fn show(dir: &Path, requested: Option<u32>, length: usize) -> Result<KitSummary> {
    let listing = resolve_kit(dir, requested)?;
    let kit = load_kit(dir, listing.index, &listing.components, length)?;
    Ok(summarise(&kit))
}

/// `kit synth --seed S --out DIR`: writes a procedural kit with plain names and returns it.
pub fn synth_to_folder(seed: u64, length: usize, out: &Path, overwrite: Overwrite) -> Result<Kit> {
    let kit = procedural_kit(seed, length);
    save_kit(&kit, out, None, overwrite)?;
    Ok(kit)
}
