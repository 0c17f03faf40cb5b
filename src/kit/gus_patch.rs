//! GUS patch (`.pat`) drum kits, such as Debian's freepats: a folder holding one patch per drum
//! note, named after its General MIDI note the TiMidity way (`036_Kick_2.pat`, `042_Hi-Hat_Closed.pat`).
//! The folder is one kit; each component is the patch for its GM note
//! ([`super::components::Component::gm_note`], as for SoundFont kits).
//!
//! A drum patch is played once at its recorded rate: TiMidity strips the loops and envelopes of
//! unlooped percussion patches, and freepats' drum samples sound at their recorded pitch (their
//! root-key fields are not set consistently). Levels are the files' own (full scale = 1).

use std::path::{Path, PathBuf};

use super::components::component_by_name;
use super::{Kit, KitComponent};
use crate::audio::{resample, SAMPLE_RATE};
use crate::error::{Error, Result};

/// Sizes of the file, instrument and layer headers before the first sample header.
const FILE_HEADER: usize = 129;
const INSTRUMENT_HEADER: usize = 63;
const LAYER_HEADER: usize = 47;
const SAMPLE_HEADER: usize = 96;
/// Sample mode bits.
const MODE_16BIT: u8 = 1;
const MODE_UNSIGNED: u8 = 2;

/// The first waveform of a patch, as floats in -1..1 at its own rate.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchWave {
    pub rate: u32,
    pub samples: Vec<f32>,
}

/// Reads the first waveform of a GUS patch file.
pub fn read_patch(path: &Path) -> Result<PatchWave> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    parse_patch(&bytes).map_err(|why| Error::kit(path, format!("not a GUS patch: {why}")))
}

fn parse_patch(bytes: &[u8]) -> std::result::Result<PatchWave, String> {
    if bytes.len() < 22 || !(bytes.starts_with(b"GF1PATCH110") || bytes.starts_with(b"GF1PATCH100"))
    {
        return Err("no `GF1PATCH` header".to_string());
    }
    let header = FILE_HEADER + INSTRUMENT_HEADER + LAYER_HEADER;
    let samples_in_layer = *bytes
        .get(header - LAYER_HEADER + 6)
        .ok_or("truncated header")?;
    if samples_in_layer == 0 {
        return Err("no waveform".to_string());
    }
    let at = header;
    let field = |offset: usize, len: usize| {
        bytes
            .get(at + offset..at + offset + len)
            .ok_or_else(|| "truncated waveform header".to_string())
    };
    let le = |b: &[u8]| b.iter().rev().fold(0u32, |v, &x| (v << 8) | u32::from(x));
    let length = le(field(8, 4)?) as usize;
    let rate = le(field(20, 2)?);
    let modes = field(55, 1)?[0];
    if rate == 0 {
        return Err("waveform rate 0".to_string());
    }
    let data = bytes
        .get(at + SAMPLE_HEADER..(at + SAMPLE_HEADER).saturating_add(length))
        .ok_or_else(|| format!("truncated: waveform of {length} bytes announced"))?;
    let unsigned = modes & MODE_UNSIGNED != 0;
    let samples = if modes & MODE_16BIT != 0 {
        data.chunks_exact(2)
            .map(|b| {
                let raw = u16::from_le_bytes([b[0], b[1]]);
                let signed = if unsigned {
                    i32::from(raw) - 32768
                } else {
                    i32::from(raw as i16)
                };
                signed as f32 / 32768.0
            })
            .collect()
    } else {
        data.iter()
            .map(|&b| {
                let signed = if unsigned {
                    i32::from(b) - 128
                } else {
                    i32::from(b as i8)
                };
                signed as f32 / 128.0
            })
            .collect()
    };
    Ok(PatchWave { rate, samples })
}

/// The patch in `dir` for GM note `note`: a `.pat` file whose name is the note in three digits,
/// alone or followed by `_` and a description.
pub fn patch_for_note(dir: &Path, note: u8) -> Result<Option<PathBuf>> {
    let prefix = format!("{note:03}");
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| Error::io(dir, e))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| {
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            let Some(stem) = name
                .rsplit_once('.')
                .filter(|(_, ext)| ext.eq_ignore_ascii_case("pat"))
                .map(|(stem, _)| stem)
            else {
                return false;
            };
            stem.strip_prefix(&prefix)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('_'))
        })
        .collect();
    found.sort();
    Ok(found.into_iter().next())
}

/// Loads the patch folder `dir` as one kit with these components in this order, `length`
/// samples each at 16 kHz. A missing or silent patch is an error naming it.
pub fn load_patch_kit(dir: &Path, components: &[String], length: usize) -> Result<Kit> {
    if components.is_empty() {
        return Err(Error::kit(dir, "no components requested"));
    }
    let mut loaded = Vec::with_capacity(components.len());
    for name in components {
        let note = component_by_name(name).map(|c| c.gm_note).ok_or_else(|| {
            Error::kit(
                dir,
                format!("component {name} has no General MIDI drum note"),
            )
        })?;
        let path = patch_for_note(dir, note)?.ok_or_else(|| {
            Error::kit(
                dir,
                format!("no patch for {name} (expected a file like {note:03}_NAME.pat)"),
            )
        })?;
        let wave = read_patch(&path)?;
        let mut samples = resample(&wave.samples, wave.rate, SAMPLE_RATE)?;
        samples.resize(length, 0.0);
        if length > 0 && samples.iter().all(|&v| v == 0.0) {
            return Err(Error::kit(&path, "silent patch"));
        }
        loaded.push(KitComponent {
            name: name.clone(),
            samples,
        });
    }
    let folder = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| dir.display().to_string());
    Ok(Kit {
        name: format!("pat:{folder}"),
        components: loaded,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A one-waveform patch with the given mode bits and data.
    fn patch_bytes(rate: u16, modes: u8, data: &[u8]) -> Vec<u8> {
        let mut b = vec![0u8; FILE_HEADER + INSTRUMENT_HEADER + LAYER_HEADER + SAMPLE_HEADER];
        b[..12].copy_from_slice(b"GF1PATCH110\0");
        let layer = FILE_HEADER + INSTRUMENT_HEADER;
        b[layer + 6] = 1;
        let s = layer + LAYER_HEADER;
        b[s + 8..s + 12].copy_from_slice(&(data.len() as u32).to_le_bytes());
        b[s + 20..s + 22].copy_from_slice(&rate.to_le_bytes());
        b[s + 55] = modes;
        b.extend_from_slice(data);
        b
    }

    #[test]
    fn decodes_every_sample_format() {
        let signed16 =
            parse_patch(&patch_bytes(22_050, MODE_16BIT, &[0x00, 0x40, 0x00, 0xC0])).unwrap();
        assert_eq!(signed16.rate, 22_050);
        assert_eq!(signed16.samples, vec![0.5, -0.5]);
        let unsigned16 = parse_patch(&patch_bytes(
            8000,
            MODE_16BIT | MODE_UNSIGNED,
            &[0x00, 0xC0],
        ))
        .unwrap();
        assert_eq!(unsigned16.samples, vec![0.5]);
        let signed8 = parse_patch(&patch_bytes(8000, 0, &[0x40, 0xC0])).unwrap();
        assert_eq!(signed8.samples, vec![0.5, -0.5]);
        let unsigned8 = parse_patch(&patch_bytes(8000, MODE_UNSIGNED, &[0xC0])).unwrap();
        assert_eq!(unsigned8.samples, vec![0.5]);
    }

    #[test]
    fn refuses_damaged_patches_with_a_reason() {
        assert!(parse_patch(b"RIFF....WAVE")
            .unwrap_err()
            .contains("GF1PATCH"));
        let whole = patch_bytes(8000, MODE_16BIT, &[0; 100]);
        let cut = &whole[..whole.len() - 10];
        assert!(parse_patch(cut).unwrap_err().contains("truncated"));
        assert!(parse_patch(&whole[..150])
            .unwrap_err()
            .contains("truncated"));
        assert!(parse_patch(&patch_bytes(0, 0, &[1]))
            .unwrap_err()
            .contains("rate"));
    }
}
