//! `drummernet render PATTERN.mid --kit DIR -o out.wav`: a MIDI file through a kit to a WAV.

use std::path::Path;

use super::render::{kit_index_for_note, natural_length, normalize_peak, render};
use crate::atomic_file::{check_writable, Overwrite};
use crate::audio::{write_wav, WavFormat, SAMPLE_RATE};
use crate::error::{Error, Result};
use crate::kit::Kit;
use crate::midi::read_midi;

/// The longest WAV a MIDI file renders to (an hour: 230 MB of samples while rendering). Huge
/// delta times would otherwise ask for terabytes.
pub const MAX_RENDER_SECONDS: f64 = 3600.0;

/// What [`render_midi_file`] wrote.
#[derive(Debug, Clone, PartialEq)]
pub struct RenderedFile {
    /// Note-ons read from the MIDI file.
    pub notes: usize,
    /// Notes no component of the kit could play (not drums, or no component of their class).
    pub unplayable: usize,
    /// Length of the WAV: until the last waveform has rung out.
    pub seconds: f64,
    /// Gain of the peak normalisation (amplitude = gain * velocity_gain(v) * waveform).
    pub gain: f32,
}

/// Renders every note of `midi` through `kit` (waveforms at [`SAMPLE_RATE`]) into a mono WAV at
/// `wav`, peak-normalised to `peak_dbfs`, written atomically. A file with no playable note is
/// an error naming it.
pub fn render_midi_file(
    midi: &Path,
    kit: &Kit,
    wav: &Path,
    peak_dbfs: f64,
    format: WavFormat,
    overwrite: Overwrite,
) -> Result<RenderedFile> {
    check_writable(wav, overwrite)?;
    let notes = read_midi(midi)?;
    if notes.is_empty() {
        // midly reads a truncated file leniently; "no note" is then the only symptom.
        return Err(Error::midi(
            midi,
            "no notes in this MIDI file (empty or truncated?)",
        ));
    }
    let unplayable = notes
        .iter()
        .filter(|n| kit_index_for_note(kit, n.note).is_none())
        .count();
    if unplayable == notes.len() {
        return Err(Error::midi(
            midi,
            format!("no note the kit `{}` can play", kit.name),
        ));
    }
    let seconds = natural_length(&notes, kit, SAMPLE_RATE);
    if seconds > MAX_RENDER_SECONDS {
        return Err(Error::midi(
            midi,
            format!(
                "notes up to {seconds:.0} s: longer than the {MAX_RENDER_SECONDS:.0} s a render \
                 may last (huge delta times or a corrupt tempo?)"
            ),
        ));
    }
    let mut audio = render(&notes, kit, SAMPLE_RATE, seconds);
    let peak_dbfs = if peak_dbfs.is_finite() {
        peak_dbfs.min(-0.1)
    } else {
        -1.0
    };
    let gain = normalize_peak(&mut audio, 10f64.powf(peak_dbfs / 20.0) as f32);
    write_wav(wav, &audio, SAMPLE_RATE, format, overwrite)?;
    Ok(RenderedFile {
        notes: notes.len(),
        unplayable,
        seconds,
        gain,
    })
}
