//! Kit folders on disk. Naming follows the drum-source library: `N)CLASS_SUB.wav` for kit `N`
//! (e.g. `3)KD_KD.wav`), or plain `CLASS_SUB.wav` for a folder holding a single kit.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use super::components::{COMPONENTS, RIDE_BELL};
use super::{Kit, KitComponent};
use crate::atomic_file::{check_writable, Overwrite};
use crate::audio::{load_mono, write_wav, WavFormat, SAMPLE_RATE};
use crate::error::{Error, Result};

/// File extensions read as kit samples, in order of preference when one component exists in
/// several formats.
pub const AUDIO_EXTENSIONS: [&str; 8] = ["wav", "flac", "aiff", "aif", "ogg", "mp3", "m4a", "wave"];

/// One kit found in a folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KitListing {
    /// `Some(n)` for `n)NAME.wav` files, `None` for plain names.
    pub index: Option<u32>,
    /// Components present, model order first (see [`COMPONENTS`]), then the ride bell, then any
    /// others alphabetically.
    pub components: Vec<String>,
    /// Model components (of the default 11) this kit lacks.
    pub missing: Vec<String>,
}

/// A file name understood as a kit sample.
#[derive(Debug, Clone, PartialEq, Eq)]
struct SampleName {
    index: Option<u32>,
    component: String,
    extension_rank: usize,
}

/// `3)KD_KD.wav` -> kit 3, `KD_KD`. Component names are `XX_YYY`: two capital letters (the class),
/// an underscore, then capitals or digits.
fn parse_sample_name(file_name: &str) -> Option<SampleName> {
    if file_name.starts_with('.') {
        return None;
    }
    let (stem, extension) = file_name.rsplit_once('.')?;
    let extension = extension.to_ascii_lowercase();
    let extension_rank = AUDIO_EXTENSIONS.iter().position(|e| *e == extension)?;
    let (index, component) = match stem.split_once(')') {
        Some((digits, rest)) => {
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            (Some(digits.parse().ok()?), rest)
        }
        None => (None, stem),
    };
    if !is_component_name(component) {
        return None;
    }
    Some(SampleName {
        index,
        component: component.to_string(),
        extension_rank,
    })
}

/// Whether `name` can name a component file (`KD_KD`, `OT_CLAP2`...).
pub fn is_component_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    bytes.len() >= 4
        && bytes[..2].iter().all(u8::is_ascii_uppercase)
        && bytes[2] == b'_'
        && bytes[3..]
            .iter()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

/// The file stem a component gets in kit `index`.
fn file_stem(index: Option<u32>, component: &str) -> String {
    match index {
        Some(i) => format!("{i}){component}"),
        None => component.to_string(),
    }
}

/// Sort key putting model components first, in model order.
fn component_rank(name: &str) -> (usize, String) {
    let position = COMPONENTS
        .iter()
        .chain(std::iter::once(&RIDE_BELL))
        .position(|c| c.name == name)
        .unwrap_or(usize::MAX);
    (position, name.to_string())
}

/// Every kit sample of a folder: (kit index, component) -> (extension rank, file).
type SampleFiles = BTreeMap<(Option<u32>, String), (usize, PathBuf)>;

/// Every kit sample in `dir`, the preferred format where a component exists in several.
fn scan(dir: &Path) -> Result<SampleFiles> {
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
    let mut found = SampleFiles::new();
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let file_name = entry.file_name();
        let Some(parsed) = file_name.to_str().and_then(parse_sample_name) else {
            continue;
        };
        let path = entry.path();
        if path.is_dir() {
            continue;
        }
        let key = (parsed.index, parsed.component);
        let better = found
            .get(&key)
            .is_none_or(|(rank, _)| parsed.extension_rank < *rank);
        if better {
            found.insert(key, (parsed.extension_rank, path));
        }
    }
    Ok(found)
}

/// The kits in `dir`, sorted by index (a plain-named kit first).
pub fn list_kits(dir: &Path) -> Result<Vec<KitListing>> {
    let mut kits: BTreeMap<Option<u32>, BTreeSet<String>> = BTreeMap::new();
    for (index, component) in scan(dir)?.into_keys() {
        kits.entry(index).or_default().insert(component);
    }
    Ok(kits
        .into_iter()
        .map(|(index, names)| {
            let missing = COMPONENTS
                .iter()
                .filter(|c| !names.contains(c.name))
                .map(|c| c.name.to_string())
                .collect();
            let mut components: Vec<String> = names.into_iter().collect();
            components.sort_by_key(|n| component_rank(n));
            KitListing {
                index,
                components,
                missing,
            }
        })
        .collect())
}

/// A readable kit name: the folder name, with `#N` for numbered kits.
fn kit_name(dir: &Path, index: Option<u32>) -> String {
    let folder = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| dir.display().to_string());
    match index {
        Some(i) => format!("{folder}#{i}"),
        None => folder,
    }
}

/// Load kit `index` (None = plain names) with these components in this order, each decoded to
/// mono 16 kHz and trimmed (or zero-padded) to `length` samples. Missing component -> error
/// naming the file expected.
pub fn load_kit(
    dir: &Path,
    index: Option<u32>,
    components: &[String],
    length: usize,
) -> Result<Kit> {
    if components.is_empty() {
        return Err(Error::kit(dir, "no components requested"));
    }
    let mut found = scan(dir)?;
    let mut loaded = Vec::with_capacity(components.len());
    for name in components {
        let Some((_, path)) = found.remove(&(index, name.clone())) else {
            let expected = dir.join(format!("{}.wav", file_stem(index, name)));
            return Err(Error::kit(expected, missing_message(&found, index, name)));
        };
        let mut samples = load_mono(&path, SAMPLE_RATE)?;
        samples.resize(length, 0.0);
        if length > 0 && samples.iter().all(|&v| v == 0.0) {
            return Err(Error::kit(
                &path,
                format!("silent (no sound in the first {length} samples)"),
            ));
        }
        loaded.push(KitComponent {
            name: name.clone(),
            samples,
        });
    }
    Ok(Kit {
        name: kit_name(dir, index),
        components: loaded,
    })
}

/// Why a component file is missing, with a hint when the folder uses the other naming.
fn missing_message(found: &SampleFiles, index: Option<u32>, name: &str) -> String {
    let kits: BTreeSet<Option<u32>> = found.keys().map(|(i, _)| *i).collect();
    let what = match index {
        Some(i) => format!("missing: kit {i} has no {name} sample"),
        None => format!("missing: no {name} sample"),
    };
    if kits.contains(&index) || kits.is_empty() {
        return what;
    }
    let numbered: Vec<u32> = kits.iter().flatten().copied().collect();
    if index.is_none() && !numbered.is_empty() {
        format!(
            "{what} (the folder holds numbered kits {}: choose one)",
            index_ranges(&numbered)
        )
    } else {
        format!(
            "{what} (the folder holds no kit {})",
            index.map_or(String::new(), |i| i.to_string())
        )
    }
}

/// Kit indices compacted for messages: `[1, 2, 3, 5]` -> `1-3, 5`.
pub fn index_ranges(sorted: &[u32]) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut i = 0;
    while i < sorted.len() {
        let mut j = i;
        while j + 1 < sorted.len() && sorted[j + 1] == sorted[j] + 1 {
            j += 1;
        }
        parts.push(if j > i {
            format!("{}-{}", sorted[i], sorted[j])
        } else {
            sorted[i].to_string()
        });
        i = j + 1;
    }
    parts.join(", ")
}

/// Writes every component of `kit` into `dir` as 16 kHz float WAV, named for kit `index` (None =
/// plain names). With [`Overwrite::Refuse`], nothing is written if any target exists.
pub fn save_kit(kit: &Kit, dir: &Path, index: Option<u32>, overwrite: Overwrite) -> Result<()> {
    let targets: Vec<PathBuf> = kit
        .components
        .iter()
        .map(|c| {
            let path = dir.join(format!("{}.wav", file_stem(index, &c.name)));
            if is_component_name(&c.name) {
                Ok(path)
            } else {
                Err(Error::kit(
                    path,
                    format!("`{}` is not a component name like KD_KD", c.name),
                ))
            }
        })
        .collect::<Result<_>>()?;
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    for path in &targets {
        check_writable(path, overwrite)?;
    }
    for (component, path) in kit.components.iter().zip(&targets) {
        write_wav(
            path,
            &component.samples,
            SAMPLE_RATE,
            WavFormat::Float32,
            overwrite,
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_namings() {
        let n = parse_sample_name("3)KD_KD.wav").unwrap();
        assert_eq!((n.index, n.component.as_str()), (Some(3), "KD_KD"));
        let n = parse_sample_name("CY_RDB.WAV").unwrap();
        assert_eq!((n.index, n.component.as_str()), (None, "CY_RDB"));
        let n = parse_sample_name("12)OT_TMB.flac").unwrap();
        assert_eq!(n.index, Some(12));
        for bad in [
            "README.md",
            "KD_KD.txt",
            ")KD_KD.wav",
            "a)KD_KD.wav",
            "kd_kd.wav",
            "KD.wav",
            ".KD_KD.wav.0.1.drummernet-tmp",
            "3)KD_KD",
            "99999999999)KD_KD.wav",
        ] {
            assert_eq!(parse_sample_name(bad), None, "{bad}");
        }
    }

    #[test]
    fn index_ranges_compact_runs() {
        assert_eq!(index_ranges(&[1, 2, 3, 5, 7, 8]), "1-3, 5, 7-8");
        assert_eq!(index_ranges(&[4]), "4");
        assert_eq!(index_ranges(&[]), "");
    }

    #[test]
    fn component_order_is_model_order() {
        let mut names = vec![
            "OT_CLAP".to_string(),
            "CY_RDB".into(),
            "SD_SD".into(),
            "KD_KD".into(),
        ];
        names.sort_by_key(|n| component_rank(n));
        assert_eq!(names, ["KD_KD", "SD_SD", "CY_RDB", "OT_CLAP"]);
    }
}
