//! Synthetic training/evaluation material: grooves rendered through kits, with their MIDI and
//! onset annotations, in memory or written as a folder of files.

use std::path::{Path, PathBuf};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use super::annotation::{beat_lines, write_annotations};
use super::augment::{augment, Augmentation};
use super::generate::{generate_performance, Performance, BEATS_PER_BAR};
use super::mics::mic_placement;
use super::render::{normalize_peak, render_through_mics};
use super::settings::GrooveSettings;
use crate::atomic_file::{check_writable, write_bytes_atomic, Overwrite};
use crate::audio::{write_wav, WavFormat, SAMPLE_RATE};
use crate::error::{Error, Result};
use crate::kit::Kit;
use crate::midi::{quantize_to_ticks, write_midi, MidiWriteOptions, TrackLayout};
use crate::tempo::BeatGrid;

/// Ticks per beat of groove MIDI files: at 200 BPM a tick is 0.625 ms.
const GROOVE_TICKS_PER_BEAT: u16 = 480;

/// One rendered groove.
#[derive(Debug, Clone)]
pub struct GrooveTake {
    /// The performance, its note times snapped to the MIDI tick grid, so that audio, MIDI file
    /// and annotation agree exactly.
    pub performance: Performance,
    /// How its MIDI file is written (tempo = the groove's tempo, so bars line up).
    pub midi_options: MidiWriteOptions,
    pub kit_name: String,
    /// Mono audio at [`SAMPLE_RATE`], `round(seconds * SAMPLE_RATE)` samples, peak <= 0.999.
    pub audio: Vec<f32>,
    /// Gain the peak normalisation applied to the raw render: a note of velocity v contributes
    /// `mix_gain * velocity_gain(v) * waveform` before augmentation.
    pub mix_gain: f32,
    pub augmentation: Augmentation,
}

/// A well-mixed 64-bit hash (splitmix64 finaliser): neighbouring seeds give unrelated streams.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The seed of item `index` of a set made with `seed`.
pub fn item_seed(seed: u64, index: usize) -> u64 {
    mix(seed ^ mix(index as u64 ^ 0x6772_6f6f_7665)) // "groove"
}

/// Generates, renders (through a kit drawn from `kits`), normalises and augments one groove,
/// deterministically from `seed`. Kits must hold waveforms at [`SAMPLE_RATE`].
pub fn make_groove(
    seed: u64,
    seconds: f64,
    kits: &[Kit],
    settings: &GrooveSettings,
) -> Result<GrooveTake> {
    if kits.is_empty() {
        return Err(Error::Invalid("groove: no drum kit to render with".into()));
    }
    if !(seconds.is_finite() && seconds > 0.0) {
        return Err(Error::Invalid(format!(
            "groove: length must be a positive number of seconds, not {seconds}"
        )));
    }
    let mut performance = generate_performance(seed, seconds, settings);
    // A groove that changes tempo writes its tempo map (bars from its first downbeat); a
    // steady one its tempo from 0 s, as every groove set made before tempo changes did.
    let grid = performance
        .changes_tempo()
        .then(|| BeatGrid::new(performance.beat_times(), 0, BEATS_PER_BAR))
        .flatten();
    let midi_options = MidiWriteOptions {
        tempo_bpm: performance.bpm,
        ticks_per_beat: GROOVE_TICKS_PER_BEAT,
        layout: TrackLayout::Single,
        grid,
        ..MidiWriteOptions::default()
    };
    performance.notes = quantize_to_ticks(&performance.notes, &midi_options);
    // Snapping may round a last onset up to the very end; it must still start inside.
    performance.notes.retain(|n| n.time < seconds);
    let mut kit_rng = ChaCha8Rng::seed_from_u64(mix(seed ^ 0x6b_6974)); // "kit"
    let kit = &kits[kit_rng.random_range(0..kits.len())];
    let augment_seed = mix(seed ^ 0x61_7567); // "aug"
    let mics = mic_placement(augment_seed, &settings.augment);
    let mut audio =
        render_through_mics(&performance.notes, kit, SAMPLE_RATE, seconds, mics.as_ref());
    let peak = 10f64.powf(settings.peak_dbfs.min(-0.1) / 20.0) as f32;
    let mix_gain = normalize_peak(&mut audio, peak);
    let augmentation = augment(&mut audio, augment_seed, &settings.augment, SAMPLE_RATE);
    Ok(GrooveTake {
        performance,
        midi_options,
        kit_name: kit.name.clone(),
        audio,
        mix_gain,
        augmentation,
    })
}

/// The four files of item `index`: `groove_<index>.{wav,mid,txt,beats}`, zero-padded to at
/// least four digits (more when `count` needs them) so that they sort.
pub fn groove_paths(out: &Path, index: usize, count: usize) -> [PathBuf; 4] {
    let width = count.saturating_sub(1).to_string().len().max(4);
    let stem = format!("groove_{index:0width$}");
    ["wav", "mid", "txt", "beats"].map(|ext| out.join(format!("{stem}.{ext}")))
}

#[allow(clippy::too_many_arguments)]
fn write_item(
    out: &Path,
    index: usize,
    count: usize,
    seconds: f64,
    kits: &[Kit],
    seed: u64,
    settings: &GrooveSettings,
    overwrite: Overwrite,
) -> Result<PathBuf> {
    let [wav, mid, txt, beats] = groove_paths(out, index, count);
    let take = make_groove(item_seed(seed, index), seconds, kits, settings)?;
    let p = &take.performance;
    let header = vec![
        "drummernet synthetic groove: onset_seconds<TAB>class (KD SD HH TT CY)".to_string(),
        format!(
            "set_seed={seed} index={index} style={} bpm={:.3} seconds={} kit={}",
            p.style, p.bpm, p.seconds, take.kit_name
        ),
        format!(
            "mix_gain_db={:.3} augment: gain_db={:.2} tilt_db={:.2} reverb={} noise_db={:.1} limiter_gain={:.4}",
            20.0 * f64::from(take.mix_gain).log10(),
            take.augmentation.gain_db,
            take.augmentation.tilt_db,
            match take.augmentation.reverb {
                Some((rt60, wet)) => format!("rt60={rt60:.2}s,wet={wet:.2}"),
                None => "none".into(),
            },
            take.augmentation.noise_db,
            take.augmentation.limiter_gain,
        ),
    ];
    write_wav(&wav, &take.audio, SAMPLE_RATE, WavFormat::Pcm16, overwrite)?;
    write_midi(&mid, &p.notes, &take.midi_options, overwrite)?;
    write_annotations(&txt, &p.notes, &header, overwrite)?;
    write_bytes_atomic(&beats, beat_lines(&p.beats()).as_bytes(), overwrite)?;
    Ok(wav)
}

/// Writes `count` grooves of `seconds` into `out` (created if missing): for each,
/// `groove_NNNN.wav` (16-bit, [`SAMPLE_RATE`]), `.mid`, `.txt` (annotation with a `#` header
/// recording style, tempo, kit, mix gain and augmentation) and `.beats` (beat times with their
/// number in the bar, for scoring tempo and bars), every file written atomically.
/// Item `i` is [`make_groove`] with [`item_seed`]`(seed, i)`, so a set is reproducible and any
/// item can be regenerated alone. With [`Overwrite::Refuse`] every target is checked before
/// anything is written. Returns the WAV paths in order.
pub fn write_groove_set(
    out: &Path,
    count: usize,
    seconds: f64,
    kits: &[Kit],
    seed: u64,
    settings: &GrooveSettings,
    overwrite: Overwrite,
) -> Result<Vec<PathBuf>> {
    write_groove_set_reporting(out, count, seconds, kits, seed, settings, overwrite, &|| {})
}

/// [`write_groove_set`], calling `item_done` (from any worker thread) after each item's three
/// files are written, for a progress display.
#[allow(clippy::too_many_arguments)]
pub fn write_groove_set_reporting(
    out: &Path,
    count: usize,
    seconds: f64,
    kits: &[Kit],
    seed: u64,
    settings: &GrooveSettings,
    overwrite: Overwrite,
    item_done: &(dyn Fn() + Sync),
) -> Result<Vec<PathBuf>> {
    if kits.is_empty() {
        return Err(Error::Invalid("groove: no drum kit to render with".into()));
    }
    if !(seconds.is_finite() && seconds > 0.0) {
        return Err(Error::Invalid(format!(
            "groove: length must be a positive number of seconds, not {seconds}"
        )));
    }
    std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
    for index in 0..count {
        for path in groove_paths(out, index, count) {
            check_writable(&path, overwrite)?;
        }
    }
    (0..count)
        .into_par_iter()
        .map(|index| {
            let wav = write_item(out, index, count, seconds, kits, seed, settings, overwrite)?;
            item_done();
            Ok(wav)
        })
        .collect()
}
