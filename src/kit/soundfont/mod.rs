//! SoundFont (SF2) drum kits: every drum preset (bank 128) of an SF2 file is one kit. Each
//! component is its General MIDI note ([`Component::gm_note`]: KD 36, SD 38, closed/pedal/open
//! hi-hat 42/44/46, toms high/high-mid/high-floor 50/48/43, ride 51, crash 49, tambourine 54,
//! ride bell 53) played through rustysynth at velocity [`VELOCITY`], dry (no reverb or chorus),
//! mixed down to mono and brought to 16 kHz by the project's band-limited resampler.
//!
//! Levels are the SoundFont's own (full channel volume, master volume 1): a kit keeps its balance
//! between components, like a sample folder, and the synthesizer applies `[synth] norm`
//! ([`super::norm`]) to every kit at use, this one included.

use std::io::Cursor;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustysynth::{Preset, SoundFont, Synthesizer, SynthesizerSettings};

use super::components::component_by_name;
use super::folder::index_ranges;
use super::{Kit, KitComponent};
use crate::audio::{resample, SAMPLE_RATE};
use crate::error::{Error, Result};
use validate::check_structure;

mod validate;

/// The SF2 bank that holds drum kits.
pub const DRUM_BANK: i32 = 128;
/// Velocity every component is played at.
pub const VELOCITY: u8 = 100;
/// How long the key is held: an eighth note at 100 BPM, as in a MIDI drum part. A drum program's
/// release stage then lets the hit ring out; holding the key for the whole window would keep
/// looped samples sustaining to its end. Measured on the csound GM SoundFont (1-s window): the
/// crash keeps 99 % of its held-to-the-end energy at 0.3 s, 82 % at 0.1 s; the TR-808 open
/// hi-hat 96 % at 0.3 s, 49 % at 0.1 s; short hits are identical.
pub const HOLD_SECONDS: f64 = 0.3;
/// Rate the synthesizer runs at: SF2 samples are mostly 44.1 kHz, so rustysynth's
/// interpolation stays clean, and the band-limited resampler then takes it to 16 kHz.
const RENDER_RATE: u32 = 44_100;
/// A render whose peak stays below this (-80 dBFS) is silent.
const SILENCE_PEAK: f32 = 1e-4;
/// The General MIDI percussion channel (0-based): rustysynth maps its bank 0 to bank 128.
const PERCUSSION_CHANNEL: i32 = 9;
/// Samples faded out at the end of the window: a hit still ringing there is cut, and a hard edge
/// would click when the synthesizer convolves with it (the procedural kit does the same).
const END_FADE: usize = 320;

/// One drum kit of a SoundFont.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DrumPreset {
    /// Program number in bank 128 (0 is GM's Standard kit).
    pub number: u8,
    pub name: String,
}

/// A loaded SF2 file.
pub struct SoundFontKits {
    path: PathBuf,
    font: Arc<SoundFont>,
}

impl std::fmt::Debug for SoundFontKits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SoundFontKits")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl SoundFontKits {
    /// Reads and parses an SF2 file; anything that is not a readable SoundFont is an error naming
    /// the file.
    pub fn open(path: &Path) -> Result<SoundFontKits> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        check_structure(&bytes)
            .map_err(|why| Error::kit(path, format!("not an SF2 SoundFont: {why}")))?;
        // The checks above rule out what makes rustysynth allocate wildly or index out of its
        // tables; a panic the checks did not foresee still becomes an error.
        let parsed = catch_unwind(AssertUnwindSafe(|| {
            SoundFont::new(&mut Cursor::new(&bytes))
        }));
        let font = match parsed {
            Ok(Ok(font)) => font,
            Ok(Err(e)) => return Err(Error::kit(path, format!("not a readable SoundFont: {e}"))),
            Err(_) => {
                return Err(Error::kit(
                    path,
                    "not a readable SoundFont: inconsistent preset or instrument tables",
                ))
            }
        };
        Ok(SoundFontKits {
            path: path.to_path_buf(),
            font: Arc::new(font),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The drum presets (bank 128), by program number.
    pub fn drum_presets(&self) -> Vec<DrumPreset> {
        let mut presets: Vec<DrumPreset> = self
            .font
            .get_presets()
            .iter()
            // Where a number appears twice the synthesizer plays the last: list that one.
            .rev()
            .filter(|p| p.get_bank_number() == DRUM_BANK)
            .filter_map(|p| {
                Some(DrumPreset {
                    number: u8::try_from(p.get_patch_number())
                        .ok()
                        .filter(|n| *n < 128)?,
                    name: p.get_name().trim().to_string(),
                })
            })
            .collect();
        presets.sort_by_key(|p| p.number);
        presets.dedup_by_key(|p| p.number);
        presets
    }

    fn preset(&self, number: u8) -> Result<&Preset> {
        self.font
            .get_presets()
            .iter()
            .rev()
            .find(|p| p.get_bank_number() == DRUM_BANK && p.get_patch_number() == i32::from(number))
            .ok_or_else(|| {
                let available: Vec<u32> = self
                    .drum_presets()
                    .iter()
                    .map(|p| u32::from(p.number))
                    .collect();
                let message = if available.is_empty() {
                    "has no drum presets (bank 128)".to_string()
                } else {
                    format!(
                        "has no drum preset {number} (drum presets: {})",
                        index_ranges(&available)
                    )
                };
                Error::kit(&self.path, message)
            })
    }

    /// Whether the preset has a sound on `note` at [`VELOCITY`].
    pub fn plays_note(&self, preset: u8, note: u8) -> Result<bool> {
        let preset = self.preset(preset)?;
        let (key, velocity) = (i32::from(note), i32::from(VELOCITY));
        let instruments = self.font.get_instruments();
        Ok(preset.get_regions().iter().any(|region| {
            region.contains(key, velocity)
                && instruments
                    .get(region.get_instrument_id())
                    .is_some_and(|i| i.get_regions().iter().any(|r| r.contains(key, velocity)))
        }))
    }

    /// The requested components the preset has no sound for, as `NAME (note N)`.
    pub fn missing_components(&self, preset: u8, components: &[String]) -> Result<Vec<String>> {
        let mut missing = Vec::new();
        for name in components {
            let note = gm_note(&self.path, name)?;
            if !self.plays_note(preset, note)? {
                missing.push(format!("{name} (note {note})"));
            }
        }
        Ok(missing)
    }

    /// Renders drum preset `preset` as a kit of these components in this order, `length` samples
    /// each at 16 kHz. A missing note or a silent render is an error naming the file and preset.
    pub fn kit(&self, preset: u8, components: &[String], length: usize) -> Result<Kit> {
        let name = self.preset(preset)?.get_name().trim().to_string();
        let what = format!("drum preset {preset} ({name})");
        let missing = self.missing_components(preset, components)?;
        if !missing.is_empty() {
            return Err(Error::kit(
                &self.path,
                format!("{what} has no sound for {}", missing.join(", ")),
            ));
        }
        let mut rendered = Vec::with_capacity(components.len());
        for component in components {
            let note = gm_note(&self.path, component)?;
            let samples = self.render_note(preset, note, length)?;
            if length > 0 && samples.iter().all(|v| v.abs() < SILENCE_PEAK) {
                return Err(Error::kit(
                    &self.path,
                    format!("{what}: {component} (note {note}) renders silent"),
                ));
            }
            rendered.push(KitComponent {
                name: component.clone(),
                samples,
            });
        }
        Ok(Kit {
            name: format!("{}#{preset}", file_label(&self.path)),
            components: rendered,
        })
    }

    /// One hit: key held [`HOLD_SECONDS`], then released and left to ring to the window's end.
    fn render_note(&self, preset: u8, note: u8, length: usize) -> Result<Vec<f32>> {
        let mut settings = SynthesizerSettings::new(RENDER_RATE as i32);
        settings.enable_reverb_and_chorus = false;
        let mut synth = Synthesizer::new(&self.font, &settings)
            .map_err(|e| Error::Invalid(format!("SoundFont synthesizer: {e}")))?;
        synth.set_master_volume(1.0);
        // Bank select 0 on the percussion channel means bank 128; full channel volume (GM's
        // default is 100) so the render is at the SoundFont's own level.
        synth.process_midi_message(PERCUSSION_CHANNEL, 0xB0, 0x00, 0);
        synth.process_midi_message(PERCUSSION_CHANNEL, 0xB0, 0x07, 127);
        synth.process_midi_message(PERCUSSION_CHANNEL, 0xC0, i32::from(preset), 0);
        synth.note_on(PERCUSSION_CHANNEL, i32::from(note), i32::from(VELOCITY));

        let native = (length as u64 * u64::from(RENDER_RATE)).div_ceil(u64::from(SAMPLE_RATE));
        let native = native as usize + 1;
        let hold = ((HOLD_SECONDS * f64::from(RENDER_RATE)) as usize).min(native);
        let mut left = vec![0.0f32; native];
        let mut right = vec![0.0f32; native];
        synth.render(&mut left[..hold], &mut right[..hold]);
        synth.note_off(PERCUSSION_CHANNEL, i32::from(note));
        synth.render(&mut left[hold..], &mut right[hold..]);

        let mono: Vec<f32> = left
            .iter()
            .zip(&right)
            .map(|(l, r)| 0.5 * (l + r))
            .collect();
        let mut samples = resample(&mono, RENDER_RATE, SAMPLE_RATE)?;
        samples.resize(length, 0.0);
        fade_end(&mut samples);
        Ok(samples)
    }
}

/// A raised-cosine fade over the last [`END_FADE`] samples (a tenth of a short window).
fn fade_end(samples: &mut [f32]) {
    let fade = (samples.len() / 10).min(END_FADE);
    let start = samples.len() - fade;
    for (i, v) in samples[start..].iter_mut().enumerate() {
        let pos = (i + 1) as f64 / fade as f64;
        *v *= (0.5 * (1.0 + (std::f64::consts::PI * pos).cos())) as f32;
    }
}

fn gm_note(path: &Path, component: &str) -> Result<u8> {
    component_by_name(component)
        .map(|c| c.gm_note)
        .ok_or_else(|| {
            Error::kit(
                path,
                format!("component {component} has no General MIDI drum note to render"),
            )
        })
}

/// The file name, for kit names like `sf_GMbank.sf2#0`.
fn file_label(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

/// Which drum presets a kit spec names: `None` for all of them, else ranges of program numbers.
/// A preset named alone must be complete; presets picked by a range or by the whole file are
/// skipped, with a warning, when they lack a component's note or render it silent.
pub fn load_soundfont_kits(
    path: &Path,
    ranges: Option<&[(u8, u8)]>,
    components: &[String],
    length: usize,
) -> Result<Vec<Kit>> {
    if components.is_empty() {
        return Err(Error::kit(path, "no components requested"));
    }
    let font = SoundFontKits::open(path)?;
    let available = font.drum_presets();
    if available.is_empty() {
        return Err(Error::kit(path, "has no drum presets (bank 128)"));
    }
    // (preset, must it be complete)
    let mut picks: Vec<(u8, bool)> = Vec::new();
    match ranges {
        None => picks.extend(available.iter().map(|p| (p.number, false))),
        Some(ranges) => {
            for &(a, b) in ranges {
                if a == b {
                    font.preset(a)?;
                    picks.push((a, true));
                    continue;
                }
                let before = picks.len();
                picks.extend(
                    available
                        .iter()
                        .filter(|p| (a..=b).contains(&p.number))
                        .map(|p| (p.number, false)),
                );
                if picks.len() == before {
                    let numbers: Vec<u32> = available.iter().map(|p| u32::from(p.number)).collect();
                    return Err(Error::kit(
                        path,
                        format!(
                            "no drum preset in {a}-{b} (drum presets: {})",
                            index_ranges(&numbers)
                        ),
                    ));
                }
            }
        }
    }
    let mut seen = std::collections::BTreeSet::new();
    picks.retain(|(n, _)| seen.insert(*n));

    let mut kits = Vec::with_capacity(picks.len());
    for (number, strict) in picks {
        match font.kit(number, components, length) {
            Ok(kit) => kits.push(kit),
            Err(e @ Error::Kit { .. }) if !strict => {
                tracing::warn!("skipping SoundFont kit: {e}");
            }
            Err(e) => return Err(e),
        }
    }
    if kits.is_empty() {
        return Err(Error::kit(
            path,
            format!(
                "no drum preset has a sound for every component ({})",
                components.join(" ")
            ),
        ));
    }
    Ok(kits)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fade_reaches_zero_and_spares_the_start() {
        let mut x = vec![1.0f32; 4000];
        fade_end(&mut x);
        assert_eq!(x[0], 1.0);
        assert_eq!(x[4000 - END_FADE - 1], 1.0);
        assert!(x[3999].abs() < 1e-6);
        let mut short: Vec<f32> = vec![1.0; 5];
        fade_end(&mut short);
        assert_eq!(short, vec![1.0; 5]);
    }
}
