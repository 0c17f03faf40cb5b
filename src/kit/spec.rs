//! Naming kits on the command line: `DIR` (a folder holding one kit, or every kit of a
//! drum-source folder), `DIR#3` or `DIR#1-11` (kits by index), `procedural:42` or
//! `procedural:1000-1015` (generated kits by seed), `procedural:electronic:1000-1015` (generated
//! kits of a family, see `assets/kits/README.md`), `sf2:FILE` (every drum preset of a SoundFont)
//! or `sf2:FILE#0,8,16` / `sf2:FILE#0-31` (drum presets by program number), `pat:DIR` (a folder
//! of GUS drum patches such as freepats' `Drum_000`, one kit).

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::kit::folder::{list_kits, load_kit};
use crate::kit::gus_patch::load_patch_kit;
use crate::kit::procedural::{procedural_kit_of, KitFamily};
use crate::kit::soundfont::load_soundfont_kits;
use crate::kit::Kit;

#[derive(Debug, Clone, PartialEq)]
pub enum KitSpec {
    Folder {
        dir: PathBuf,
        indices: Option<Vec<u32>>,
    },
    /// Generated kits: `acoustic` unless the spec names a family.
    Procedural { family: KitFamily, seeds: Vec<u64> },
    /// Drum presets of an SF2 file: `None` for all, else inclusive ranges of program numbers.
    SoundFont {
        path: PathBuf,
        presets: Option<Vec<(u8, u8)>>,
    },
    /// A folder of GUS drum patches named by GM note (`036_Kick_2.pat`).
    Patches { dir: PathBuf },
}

/// `0,8,16` or `0-15,25`: program numbers 0..=127, singly or as ranges.
fn parse_preset_list(text: &str, what: &str) -> Result<Vec<(u8, u8)>> {
    let bad = |item: &str| {
        Error::Invalid(format!(
            "kit `{what}`: `{item}` is not a drum preset number 0-127 or a range N-M"
        ))
    };
    text.split(',')
        .map(|item| {
            let number = |t: &str| t.trim().parse::<u8>().ok().filter(|n| *n < 128);
            let (a, b) = match item.split_once('-') {
                Some((a, b)) => (number(a), number(b)),
                None => (number(item), number(item)),
            };
            match (a, b) {
                (Some(a), Some(b)) if a <= b => Ok((a, b)),
                _ => Err(bad(item)),
            }
        })
        .collect()
}

fn parse_range(text: &str, what: &str) -> Result<(u64, u64)> {
    let bad = || Error::Invalid(format!("kit `{what}`: `{text}` is not N or N-M"));
    let (a, b) = match text.split_once('-') {
        Some((a, b)) => (
            a.trim().parse().map_err(|_| bad())?,
            b.trim().parse().map_err(|_| bad())?,
        ),
        None => {
            let n = text.trim().parse().map_err(|_| bad())?;
            (n, n)
        }
    };
    if b < a || b - a > 100_000 {
        return Err(bad());
    }
    Ok((a, b))
}

impl KitSpec {
    pub fn parse(text: &str) -> Result<KitSpec> {
        if let Some(dir) = text.strip_prefix("pat:") {
            if dir.is_empty() {
                return Err(Error::Invalid(format!(
                    "kit `{text}`: give the patch folder after `pat:`"
                )));
            }
            return Ok(KitSpec::Patches { dir: dir.into() });
        }
        if let Some(rest) = text.strip_prefix("sf2:") {
            if rest.is_empty() {
                return Err(Error::Invalid(format!(
                    "kit `{text}`: give the SoundFont file after `sf2:`"
                )));
            }
            // A file whose own name holds `#` is taken whole.
            return Ok(match rest.rsplit_once('#') {
                Some((path, list)) if !Path::new(rest).is_file() => KitSpec::SoundFont {
                    path: PathBuf::from(path),
                    presets: Some(parse_preset_list(list, text)?),
                },
                _ => KitSpec::SoundFont {
                    path: PathBuf::from(rest),
                    presets: None,
                },
            });
        }
        if let Some(rest) = text.strip_prefix("procedural:") {
            let (family, seeds) = match rest.split_once(':') {
                Some((family, seeds)) => (
                    family
                        .parse()
                        .map_err(|e| Error::Invalid(format!("kit `{text}`: {e}")))?,
                    seeds,
                ),
                None => (KitFamily::Acoustic, rest),
            };
            let (a, b) = parse_range(seeds, text)?;
            return Ok(KitSpec::Procedural {
                family,
                seeds: (a..=b).collect(),
            });
        }
        match text.rsplit_once('#') {
            Some((dir, idx)) => {
                let (a, b) = parse_range(idx, text)?;
                let indices = (a..=b).map(|i| i as u32).collect();
                Ok(KitSpec::Folder {
                    dir: PathBuf::from(dir),
                    indices: Some(indices),
                })
            }
            None => Ok(KitSpec::Folder {
                dir: PathBuf::from(text),
                indices: None,
            }),
        }
    }

    /// Loads the kits with the given components, each `length` samples long. A folder without
    /// an index means every complete kit in it.
    pub fn load(&self, components: &[String], length: usize) -> Result<Vec<Kit>> {
        match self {
            KitSpec::Procedural { family, seeds } => Ok(seeds
                .iter()
                .map(|&s| select(procedural_kit_of(*family, s, length), components))
                .collect::<Result<_>>()?),
            KitSpec::Folder {
                dir,
                indices: Some(indices),
            } => indices
                .iter()
                .map(|&i| load_kit(dir, Some(i), components, length))
                .collect(),
            KitSpec::Folder { dir, indices: None } => load_all(dir, components, length),
            KitSpec::SoundFont { path, presets } => {
                load_soundfont_kits(path, presets.as_deref(), components, length)
            }
            KitSpec::Patches { dir } => Ok(vec![load_patch_kit(dir, components, length)?]),
        }
    }
}

fn select(kit: Kit, components: &[String]) -> Result<Kit> {
    let picked = components
        .iter()
        .map(|name| {
            kit.component(name)
                .cloned()
                .ok_or_else(|| Error::Invalid(format!("kit {} has no component {name}", kit.name)))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Kit {
        name: kit.name,
        components: picked,
    })
}

fn load_all(dir: &Path, components: &[String], length: usize) -> Result<Vec<Kit>> {
    let listings = list_kits(dir)?;
    let usable: Vec<_> = listings
        .iter()
        .filter(|l| components.iter().all(|c| l.components.contains(c)))
        .collect();
    if usable.is_empty() {
        return Err(Error::kit(
            dir,
            format!("no complete kit here (needs {})", components.join(" ")),
        ));
    }
    usable
        .iter()
        .map(|l| load_kit(dir, l.index, components, length))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_form() {
        assert_eq!(
            KitSpec::parse("procedural:3-5").unwrap(),
            KitSpec::Procedural {
                family: KitFamily::Acoustic,
                seeds: vec![3, 4, 5]
            }
        );
        assert_eq!(
            KitSpec::parse("procedural:electronic:1000-1002").unwrap(),
            KitSpec::Procedural {
                family: KitFamily::Electronic,
                seeds: vec![1000, 1001, 1002]
            }
        );
        assert_eq!(
            KitSpec::parse("procedural:brushes:7").unwrap(),
            KitSpec::Procedural {
                family: KitFamily::Brushes,
                seeds: vec![7]
            }
        );
        assert_eq!(
            KitSpec::parse("procedural:acoustic:7").unwrap(),
            KitSpec::parse("procedural:7").unwrap()
        );
        assert_eq!(
            KitSpec::parse("kits#2").unwrap(),
            KitSpec::Folder {
                dir: "kits".into(),
                indices: Some(vec![2])
            }
        );
        assert_eq!(
            KitSpec::parse("a/b#1-3").unwrap(),
            KitSpec::Folder {
                dir: "a/b".into(),
                indices: Some(vec![1, 2, 3])
            }
        );
        assert_eq!(
            KitSpec::parse("a/b").unwrap(),
            KitSpec::Folder {
                dir: "a/b".into(),
                indices: None
            }
        );
        assert_eq!(
            KitSpec::parse("sf2:fonts/gm.sf2").unwrap(),
            KitSpec::SoundFont {
                path: "fonts/gm.sf2".into(),
                presets: None
            }
        );
        assert_eq!(
            KitSpec::parse("sf2:gm.sf2#0,8-16, 25").unwrap(),
            KitSpec::SoundFont {
                path: "gm.sf2".into(),
                presets: Some(vec![(0, 0), (8, 16), (25, 25)])
            }
        );
        assert_eq!(
            KitSpec::parse("pat:/usr/share/midi/freepats/Drum_000").unwrap(),
            KitSpec::Patches {
                dir: "/usr/share/midi/freepats/Drum_000".into()
            }
        );
        for bad in [
            "pat:",
            "sf2:",
            "sf2:gm.sf2#",
            "sf2:gm.sf2#128",
            "sf2:gm.sf2#9-2",
            "sf2:a#x",
        ] {
            let err = KitSpec::parse(bad).unwrap_err().to_string();
            assert!(err.contains(bad), "{err}");
        }
        assert!(KitSpec::parse("procedural:x").is_err());
        assert!(KitSpec::parse("procedural:room:").is_err());
        assert!(KitSpec::parse("procedural:room:x").is_err());
        let err = KitSpec::parse("procedural:jazz:1-3")
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "kit `procedural:jazz:1-3`: unknown kit family `jazz` \
             (known: acoustic, electronic, brushes, processed, room)"
        );
        assert!(!err.contains('\n'));
        assert!(KitSpec::parse("d#5-2").is_err());
    }

    #[test]
    fn procedural_kits_follow_the_requested_component_order() {
        let names = vec!["SD_SD".to_string(), "KD_KD".to_string()];
        let kits = KitSpec::parse("procedural:7")
            .unwrap()
            .load(&names, 800)
            .unwrap();
        assert_eq!(kits[0].component_names(), names);
        assert_eq!(kits[0].components[0].samples.len(), 800);
    }

    #[test]
    fn family_specs_load_that_familys_kits() {
        let names = vec!["KD_KD".to_string()];
        let kits = KitSpec::parse("procedural:room:7-8")
            .unwrap()
            .load(&names, 800)
            .unwrap();
        let kit_names: Vec<&str> = kits.iter().map(|k| k.name.as_str()).collect();
        assert_eq!(kit_names, ["procedural-room#7", "procedural-room#8"]);
        let room = procedural_kit_of(KitFamily::Room, 8, 800);
        assert_eq!(kits[1].components[0], room.components[0]);
        let plain = KitSpec::parse("procedural:7")
            .unwrap()
            .load(&names, 800)
            .unwrap();
        assert_eq!(plain[0].name, "procedural#7");
    }
}
