//! The library side of `drummernet kit list | show | synth | export`: each returns text or data
//! for the CLI to print; nothing here prints. `list` and `show` take a kit folder or an SF2 file.

use std::fmt::Write as _;
use std::path::Path;

use super::components::{all_component_names, component_by_name, default_component_names};
use super::folder::{index_ranges, list_kits, load_kit, save_kit, KitListing};
use super::procedural::{procedural_kit_of, KitFamily};
use super::soundfont::SoundFontKits;
use super::spec::KitSpec;
use super::summary::{summarise, KitSummary};
use super::Kit;
use crate::atomic_file::Overwrite;
use crate::error::{Error, Result};

/// The SF2 file a `kit list | show` path names: a file (optionally written `sf2:FILE`), where a
/// folder holds sample kits.
pub fn soundfont_path(path: &Path) -> Option<&Path> {
    let stripped = path
        .to_str()
        .and_then(|s| s.strip_prefix("sf2:"))
        .map(Path::new);
    match stripped {
        Some(p) => Some(p),
        None if path.is_file() => Some(path),
        None => None,
    }
}

/// `kit list DIR`: one line per kit, then the components they hold. An SF2 file lists its drum
/// presets and the components each lacks.
pub fn list_text(dir: &Path) -> Result<String> {
    if let Some(file) = soundfont_path(dir) {
        return soundfont_list_text(file);
    }
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

/// `kit list FILE.sf2`: one line per drum preset (bank 128), by program number.
pub fn soundfont_list_text(path: &Path) -> Result<String> {
    let font = SoundFontKits::open(path)?;
    let presets = font.drum_presets();
    let mut out = String::new();
    if presets.is_empty() {
        let _ = writeln!(out, "{}: no drum presets (bank 128)", path.display());
        return Ok(out);
    }
    let plural = if presets.len() == 1 { "" } else { "s" };
    let _ = writeln!(
        out,
        "{}: {} drum preset{plural} (use as sf2:{}#N)",
        path.display(),
        presets.len(),
        path.display()
    );
    let all = all_component_names();
    for preset in &presets {
        let missing = font.missing_components(preset.number, &all)?;
        let _ = write!(out, "  preset {:<3} {:<20}", preset.number, preset.name);
        if missing.is_empty() {
            let _ = write!(out, " all {} components", all.len());
        } else {
            let _ = write!(out, " missing: {}", missing.join(", "));
        }
        out.push('\n');
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
/// For an SF2 file, `--kit` is the drum preset (needed when it has several).
pub fn show(dir: &Path, requested: Option<u32>, length: usize) -> Result<KitSummary> {
    if let Some(file) = soundfont_path(dir) {
        return show_soundfont(file, requested, length);
    }
    let listing = resolve_kit(dir, requested)?;
    let kit = load_kit(dir, listing.index, &listing.components, length)?;
    Ok(summarise(&kit))
}

fn show_soundfont(path: &Path, requested: Option<u32>, length: usize) -> Result<KitSummary> {
    let font = SoundFontKits::open(path)?;
    let presets = font.drum_presets();
    let numbers = || {
        index_ranges(
            &presets
                .iter()
                .map(|p| u32::from(p.number))
                .collect::<Vec<_>>(),
        )
    };
    let preset = match (requested, presets.as_slice()) {
        (_, []) => return Err(Error::kit(path, "has no drum presets (bank 128)")),
        (Some(n), _) => u8::try_from(n)
            .ok()
            .filter(|n| presets.iter().any(|p| p.number == *n))
            .ok_or_else(|| {
                Error::kit(
                    path,
                    format!("no drum preset {n} (drum presets: {})", numbers()),
                )
            })?,
        (None, [only]) => only.number,
        (None, _) => {
            return Err(Error::kit(
                path,
                format!(
                    "holds {} drum presets ({}): choose one with --kit N",
                    presets.len(),
                    numbers()
                ),
            ))
        }
    };
    // Measure what the preset has: a kit lacking a note is still worth inspecting.
    let components: Vec<String> = all_component_names()
        .into_iter()
        .filter(|name| {
            component_by_name(name)
                .is_some_and(|c| font.plays_note(preset, c.gm_note).unwrap_or(false))
        })
        .collect();
    if components.is_empty() {
        return Err(Error::kit(
            path,
            format!("drum preset {preset} has no sound for any kit component"),
        ));
    }
    Ok(summarise(&font.kit(preset, &components, length)?))
}

/// `kit export KIT --out DIR`: writes the one kit a kit spec names (`sf2:FILE#8`,
/// `procedural:3`, `procedural:room:3`, `DIR#2`...) as a plain-named folder and returns it. It holds all twelve
/// components when the kit has them, else the model's eleven.
pub fn export_to_folder(
    spec: &str,
    length: usize,
    out: &Path,
    overwrite: Overwrite,
) -> Result<Kit> {
    let parsed = KitSpec::parse(spec)?;
    let kits = parsed
        .load(&all_component_names(), length)
        .or_else(|_| parsed.load(&default_component_names(), length))?;
    let kit = match <[Kit; 1]>::try_from(kits) {
        Ok([kit]) => kit,
        Err(kits) => {
            return Err(Error::Invalid(format!(
                "kit `{spec}` names {} kits: export one (e.g. `sf2:FILE#N` or `DIR#N`)",
                kits.len()
            )))
        }
    };
    save_kit(&kit, out, None, overwrite)?;
    Ok(kit)
}

/// `kit synth --seed S [--family F] --out DIR`: writes a procedural kit of a family with plain
/// names and returns it.
pub fn synth_to_folder(
    family: KitFamily,
    seed: u64,
    length: usize,
    out: &Path,
    overwrite: Overwrite,
) -> Result<Kit> {
    let kit = procedural_kit_of(family, seed, length);
    save_kit(&kit, out, None, overwrite)?;
    Ok(kit)
}
