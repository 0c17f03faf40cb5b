//! Transcription: audio file -> activations (chunked, streaming inference) -> drum events ->
//! MIDI / JSON / CSV. UI-free; the CLI, the watch folder and the workbench share it.

pub mod chunked;
pub mod events;
pub mod export;
pub mod hihat_onsets;
pub mod onset_level;
pub mod settings;
pub mod velocity;

use std::path::{Path, PathBuf};

use candle_core::Device;

pub use chunked::{activations_for, FrameModel, NetRunner, SampleSource, SliceSource};
pub use events::{events_from_activations, DrumEvent};
pub use export::{write_outputs, ModelInfo, OutputFormat};
pub use hihat_onsets::HighBand;
pub use settings::{
    ComponentOverrides, HihatSettings, HihatSource, InferenceSettings, VelocitySettings,
    VelocitySource,
};

use crate::audio::{MonoReader, SAMPLE_RATE};
use crate::error::{Error, Result};
use crate::midi::MidiSettings;
use crate::model::drummernet::LoadedModel;

/// Everything known about one transcribed file.
#[derive(Debug, Clone)]
pub struct Transcription {
    pub input: PathBuf,
    /// Seconds of audio.
    pub duration: f64,
    /// Component names in channel order.
    pub components: Vec<String>,
    /// `[component][frame]`, frame t at `t / frame_rate` seconds.
    pub activations: Vec<Vec<f32>>,
    pub frame_rate: f64,
    pub events: Vec<DrumEvent>,
    /// The file's peak |x| before normalisation, and whether it counted as silence.
    pub peak: f32,
    pub silent: bool,
    /// Windows run through the model, and the most samples the stream buffer held.
    pub windows: usize,
    pub buffered_high_water: usize,
    /// Seconds of audio the file's header promised, when it says: more than `duration` means
    /// a truncated file (what is there was transcribed).
    pub header_seconds: Option<f64>,
}

/// What the event passes take from the audio besides the activations: the input's normalising
/// gain (`None`: silence, the activations alone decide) and the high band the hi-hat onsets
/// read when a caller already holds it (see [`hihat_band`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct AudioCues<'a> {
    pub gain: Option<f32>,
    pub high_band: Option<&'a HighBand>,
}

/// The high band the hi-hat onsets read, `frames` values: `Some` when
/// `[inference.hihat] source = "audio"` and `gain` says the input is not silent.
pub fn hihat_band<S: SampleSource>(
    settings: &InferenceSettings,
    frames: usize,
    hop: usize,
    gain: Option<f32>,
    open: impl FnOnce() -> Result<S>,
) -> Result<Option<HighBand>> {
    match flux_gain(settings, gain) {
        Some(gain) => Ok(Some(hihat_onsets::read_high_band(
            open()?,
            gain,
            frames,
            hop,
            SAMPLE_RATE,
        )?)),
        None => Ok(None),
    }
}

/// The gain to read the hi-hat flux with, when the events need it: audio hi-hat onsets of an
/// input that is not silent.
fn flux_gain(settings: &InferenceSettings, gain: Option<f32>) -> Option<f32> {
    gain.filter(|_| settings.hihat.source == HihatSource::Audio)
}

/// Events of activation curves (frame t at sample `hop` t), refined with the audio when
/// `cues.gain` says it is not silent: hi-hat onsets from the audio when
/// `[inference.hihat] source = "audio"` (from `cues.high_band`, else read here), then
/// velocities and the level gate from the class bands. `open` opens the input again for each
/// of those passes.
pub fn events_with_audio<S: SampleSource>(
    activations: &[Vec<f32>],
    components: &[String],
    settings: &InferenceSettings,
    midi: &MidiSettings,
    hop: usize,
    cues: AudioCues,
    mut open: impl FnMut() -> Result<S>,
) -> Result<Vec<DrumEvent>> {
    let mut events =
        events_from_activations(activations, components, settings, midi, hop, SAMPLE_RATE);
    let Some(gain) = cues.gain else {
        return Ok(events);
    };
    let frames = activations.first().map_or(0, Vec::len);
    let computed;
    let band = match cues.high_band {
        Some(band) => Some(band),
        None => {
            computed = hihat_band(settings, frames, hop, Some(gain), &mut open)?;
            computed.as_ref()
        }
    };
    if let (Some(band), HihatSource::Audio) = (band, settings.hihat.source) {
        hihat_onsets::replace_hihat_events(
            &mut events,
            band,
            activations,
            components,
            settings,
            midi,
            hop,
            SAMPLE_RATE,
        );
    }
    velocity::levels_from_audio(&mut events, open()?, settings, SAMPLE_RATE)?;
    Ok(events)
}

/// Transcribes a stream: `open` is called for each pass over the input (peak, inference,
/// velocities, and the hi-hat onsets when `[inference.hihat] source = "audio"`).
pub fn transcribe_source<S: SampleSource + Send>(
    model: &dyn FrameModel,
    components: &[String],
    input: &Path,
    mut open: impl FnMut() -> Result<S>,
    settings: &InferenceSettings,
    midi: &MidiSettings,
    progress: &dyn Fn(f64),
) -> Result<Transcription> {
    let (peak, len) = chunked::peak_and_len(open()?)?;
    let hop = model.frame_hop();
    let frames = len.div_ceil(hop);
    let gain = chunked::normalising_gain(peak, settings.silence_dbfs);
    let open_with = |gain: Option<f32>, open: &mut dyn FnMut() -> Result<S>| {
        gain.map(|g| open().map(|source| (source, g))).transpose()
    };
    let flux_input = open_with(flux_gain(settings, gain), &mut open)?;
    let model_input = open_with(gain, &mut open)?;
    // The hi-hat flux reads the input on a thread of its own while the model runs: the model
    // leaves part of the cores idle, and the flux after it added a fifth to a transcription.
    let (run, high_band) = std::thread::scope(|scope| -> Result<_> {
        let flux = flux_input.map(|(source, gain)| {
            scope
                .spawn(move || hihat_onsets::read_high_band(source, gain, frames, hop, SAMPLE_RATE))
        });
        let run = match model_input {
            Some((source, gain)) => Some(chunked::stream_activations(
                model,
                source,
                len,
                gain,
                settings,
                SAMPLE_RATE,
                progress,
            )?),
            None => None,
        };
        let flux = match flux {
            Some(handle) => Some(
                handle
                    .join()
                    .map_err(|_| Error::Invalid("the hi-hat onset thread panicked".into()))??,
            ),
            None => None,
        };
        Ok((run, flux))
    })?;
    let (activations, windows, high_water) = match run {
        Some(run) => (run.curves, run.windows, run.buffered_high_water),
        None => (vec![vec![0.0; frames]; model.n_components()], 0, 0),
    };
    let events = events_with_audio(
        &activations,
        components,
        settings,
        midi,
        hop,
        AudioCues {
            gain,
            high_band: high_band.as_ref(),
        },
        &mut open,
    )?;
    progress(1.0);
    Ok(Transcription {
        input: input.to_path_buf(),
        duration: len as f64 / SAMPLE_RATE as f64,
        components: components.to_vec(),
        activations,
        frame_rate: SAMPLE_RATE as f64 / hop as f64,
        events,
        peak,
        silent: gain.is_none(),
        windows,
        buffered_high_water: high_water,
        header_seconds: None,
    })
}

/// Transcribes an audio file of any length and format with a loaded model on `device`.
/// `progress` receives the fraction done (0..=1) after every batch of windows.
pub fn transcribe_file(
    model: &LoadedModel,
    device: &Device,
    path: &Path,
    settings: &InferenceSettings,
    midi: &MidiSettings,
    progress: &dyn Fn(f64),
) -> Result<Transcription> {
    let runner = NetRunner::new(&model.net, device.clone());
    // The file is read twice (peak, then inference): a file still being written would give
    // events for one version normalised by another's peak.
    let before = file_stamp(path);
    let header = crate::audio::probe(path)?;
    let mut t = transcribe_source(
        &runner,
        &model.config.components,
        path,
        || MonoReader::open(path, SAMPLE_RATE),
        settings,
        midi,
        progress,
    )?;
    t.header_seconds = header
        .frames
        .map(|n| n as f64 / f64::from(header.sample_rate));
    if file_stamp(path) != before {
        return Err(Error::audio(
            path,
            "changed while being read (still being written?); try again once it is complete",
        ));
    }
    Ok(t)
}

/// Size and modification time, to notice a file that changes under the reader.
fn file_stamp(path: &Path) -> Option<(u64, std::time::SystemTime)> {
    let m = std::fs::metadata(path).ok()?;
    Some((m.len(), m.modified().ok()?))
}
