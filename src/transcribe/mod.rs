//! Transcription: an audio file -> drum events -> MIDI / JSON / CSV. UI-free; the CLI, `eval`,
//! the watch folder and the workbench share it.
//!
//! The whole path, in the order it runs ([`transcribe_source`]):
//! 1. **Read** the input in a planned set of passes over it: its peak and length (the
//!    normalising gain), then the model's activations ([`chunked`]) and, on a thread beside
//!    them, the high band the hi-hat passes read ([`high_band`]) and the band spectrogram the
//!    verification reads ([`resynthesis`]). The result is a
//!    [`StemAnalysis`]: everything the events are picked from, computed once.
//! 2. **Pick** events with the [`passes::PIPELINE`] (peak picking, hi-hat onsets, ring test,
//!    velocity, cross-talk gate, kick low-band test, cymbal gate, verification), each switchable in
//!    `[inference.passes.*]`. The audio at the candidates' onsets ([`onset_level`]) is read once,
//!    before the first pass that needs it ([`StemAnalysis::pick`]); a new pick from other
//!    settings (the workbench's threshold) redoes only this step.
//! 3. **Write** the outputs ([`export::write_outputs`]).

pub mod centred_windows;
pub mod chunked;
pub mod events;
pub mod export;
pub mod high_band;
pub mod onset_level;
pub mod passes;
pub mod resynthesis;
pub mod settings;
pub mod velocity;

use std::path::{Path, PathBuf};

use candle_core::Device;

pub use chunked::{activations_for, FrameModel, NetRunner, SampleSource, SliceSource};
pub use events::DrumEvent;
pub use export::{write_outputs, ModelInfo, OutputFormat};
pub use high_band::HighBand;
pub use passes::{PassReport, PassSettings, PIPELINE};
pub use resynthesis::BandSpectrogram;
pub use settings::{ComponentOverrides, InferenceSettings, VelocitySettings, VelocitySource};

use crate::audio::{MonoReader, SAMPLE_RATE};
use crate::error::{Error, Result};
use crate::midi::MidiSettings;
use crate::model::drummernet::LoadedModel;

use passes::{Candidate, ClassCounts, OnsetReading, OnsetSummary, PassContext};

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
    /// What each pass did, in pipeline order.
    pub passes: Vec<PassReport>,
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

/// One stem's activations and the audio features the passes read, computed once: what events
/// are picked from, again and again if the settings change.
#[derive(Debug, Clone, Default)]
pub struct StemAnalysis {
    /// Component names in channel order.
    pub components: Vec<String>,
    /// `[component][frame]`, frame t at sample `hop` t (16 kHz).
    pub activations: Vec<Vec<f32>>,
    pub hop: usize,
    /// The input's normalising gain; `None`: silence (the activations alone decide).
    pub gain: Option<f32>,
    /// The high band (`Some` when the input is not silent and the `hihat_onsets` pass runs).
    pub high_band: Option<HighBand>,
    /// The band spectrogram (`Some` when the input is not silent and the `verification` pass
    /// runs).
    pub spectrogram: Option<BandSpectrogram>,
}

/// The events of one pick and what each pass did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Picked {
    pub events: Vec<DrumEvent>,
    pub passes: Vec<PassReport>,
}

/// Whether the high band must be read for `settings`: only the hi-hat onsets make candidates
/// that the ring test reads it for.
pub fn needs_high_band(settings: &InferenceSettings) -> bool {
    settings.passes.hihat_onsets.enabled
}

/// Whether the band spectrogram must be read for `settings` (the verification's).
pub fn needs_spectrogram(settings: &InferenceSettings) -> bool {
    settings.passes.verification.enabled
}

impl StemAnalysis {
    /// The analysis of a stem held in memory (the workbench's): the same chunked,
    /// peak-normalised inference as [`transcribe_source`], so that what the workbench shows is
    /// what the exported MIDI is made from, then the high band where `settings` need it.
    /// `progress` receives the fraction done (0..=1).
    pub fn of_samples(
        model: &dyn FrameModel,
        components: &[String],
        samples: &[f32],
        settings: &InferenceSettings,
        progress: &dyn Fn(f64),
    ) -> Result<StemAnalysis> {
        let peak = samples.iter().fold(0.0f32, |m, x| m.max(x.abs()));
        let gain = chunked::normalising_gain(peak, settings.silence_dbfs);
        let hop = model.frame_hop();
        let frames = samples.len().div_ceil(hop);
        let activations = match gain {
            Some(gain) => {
                chunked::stream_activations(
                    model,
                    SliceSource::whole(samples),
                    samples.len(),
                    gain,
                    settings,
                    SAMPLE_RATE,
                    progress,
                )?
                .curves
            }
            None => vec![vec![0.0; frames]; model.n_components()],
        };
        let high_band = match gain.filter(|_| needs_high_band(settings)) {
            Some(gain) => Some(high_band::read_high_band(
                SliceSource::whole(samples),
                gain,
                frames,
                hop,
                SAMPLE_RATE,
            )?),
            None => None,
        };
        let spectrogram = match gain.filter(|_| needs_spectrogram(settings)) {
            Some(gain) => Some(resynthesis::read_band_spectrogram(
                SliceSource::whole(samples),
                gain,
                samples.len(),
            )?),
            None => None,
        };
        progress(1.0);
        Ok(StemAnalysis {
            components: components.to_vec(),
            activations,
            hop,
            gain,
            high_band,
            spectrogram,
        })
    }

    /// Runs the [`PIPELINE`] with `settings`; `open` opens the input for the one read of the
    /// audio at the candidates' onsets (not called when no pass needs it). Settings that need
    /// a high band or a band spectrogram this analysis lacks skip the passes that read them
    /// (reported so).
    pub fn pick<S: SampleSource>(
        &self,
        settings: &InferenceSettings,
        midi: &MidiSettings,
        open: impl FnOnce() -> Result<S>,
    ) -> Result<Picked> {
        let mut open = Some(open);
        let mut onsets = None;
        let mut candidates: Vec<Candidate> = Vec::new();
        let mut reports = Vec::with_capacity(PIPELINE.len());
        for pass in PIPELINE {
            let before = ClassCounts::of(&candidates);
            let needs = pass.needs();
            let skipped = if !settings.passes.enabled(pass.name()) {
                Some("switched off")
            } else if (needs.high_band || needs.onset_readings || needs.spectrogram)
                && self.gain.is_none()
            {
                Some("silent input")
            } else if needs.high_band && self.high_band.is_none() {
                Some("no high band: hihat_onsets is off")
            } else if needs.spectrogram && self.spectrogram.is_none() {
                Some("no band spectrogram: verification was off when the stem was analysed")
            } else {
                None
            };
            if skipped.is_none() {
                if needs.onset_readings && onsets.is_none() {
                    let source = match open.take() {
                        Some(open) => Some(open()?),
                        None => None,
                    };
                    onsets = Some(match source {
                        Some(source) => read_onsets_of(&mut candidates, source, settings)?,
                        None => OnsetSummary::default(),
                    });
                }
                let cx = PassContext {
                    activations: &self.activations,
                    components: &self.components,
                    settings,
                    midi,
                    hop: self.hop,
                    sample_rate: SAMPLE_RATE,
                    high_band: self.high_band.as_ref(),
                    onsets: onsets.unwrap_or_default(),
                    spectrogram: self.spectrogram.as_ref(),
                };
                pass.run(&cx, &mut candidates);
            }
            reports.push(PassReport {
                name: pass.name(),
                skipped,
                after: ClassCounts::of(&candidates),
                before,
            });
        }
        // Classes switched off for output go last: the passes (verification above all) see
        // every class.
        let written = |e: &DrumEvent| settings.classes.iter().any(|l| l == e.class.label());
        Ok(Picked {
            events: candidates
                .into_iter()
                .map(|c| c.event)
                .filter(written)
                .collect(),
            passes: reports,
        })
    }
}

/// Reads the audio at the onset of every candidate whose velocity comes from the audio (one
/// read of `source`, in order; candidates sorted by time) and attaches it, relative to the
/// component's loudest read hit; returns what the readings say of the song.
fn read_onsets_of<S: SampleSource>(
    candidates: &mut [Candidate],
    source: S,
    settings: &InferenceSettings,
) -> Result<OnsetSummary> {
    let chosen: Vec<usize> = (0..candidates.len())
        .filter(|&i| {
            settings.velocity_for(&candidates[i].event.component).source == VelocitySource::Audio
        })
        .collect();
    if chosen.is_empty() {
        return Ok(OnsetSummary::default());
    }
    let hits: Vec<onset_level::Hit> = chosen
        .iter()
        .map(|&i| onset_level::Hit {
            sample: (candidates[i].event.time * f64::from(SAMPLE_RATE)).round() as usize,
            class: candidates[i].event.class,
        })
        .collect();
    let readings = onset_level::read_onsets(source, SAMPLE_RATE, &hits)?;
    let mut loudest = std::collections::HashMap::<usize, f32>::new();
    for (&i, r) in chosen.iter().zip(&readings) {
        let max = loudest
            .entry(candidates[i].event.component_index)
            .or_insert(0.0);
        *max = max.max(r.level);
    }
    for (&i, &reading) in chosen.iter().zip(&readings) {
        let reference = loudest[&candidates[i].event.component_index];
        candidates[i].reading = Some(OnsetReading {
            reading,
            reference,
            relative_db: velocity::level_db(reading.level, reference),
        });
    }
    let mut lows: Vec<f32> = readings.iter().filter_map(|r| r.kick_low_db).collect();
    lows.sort_by(f32::total_cmp);
    Ok(OnsetSummary {
        typical_kick_low_db: lows.get(lows.len() / 2).copied(),
    })
}

/// Transcribes a stream: `open` is called for each read of the input (peak, inference, the
/// high band on a thread beside the inference, the audio at the onsets).
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
    let flux_input = open_with(gain.filter(|_| needs_high_band(settings)), &mut open)?;
    let spectrogram_input = open_with(gain.filter(|_| needs_spectrogram(settings)), &mut open)?;
    let model_input = open_with(gain, &mut open)?;
    // The audio features are read on a thread of their own while the model runs: the model
    // leaves part of the cores idle, and the flux after it added a fifth to a transcription.
    let (run, (high_band, spectrogram)) = std::thread::scope(|scope| -> Result<_> {
        let features = scope.spawn(move || -> Result<_> {
            let flux = flux_input
                .map(|(source, gain)| {
                    high_band::read_high_band(source, gain, frames, hop, SAMPLE_RATE)
                })
                .transpose()?;
            let spectrogram = spectrogram_input
                .map(|(source, gain)| resynthesis::read_band_spectrogram(source, gain, len))
                .transpose()?;
            Ok((flux, spectrogram))
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
        let features = features
            .join()
            .map_err(|_| Error::Invalid("the audio-features thread panicked".into()))??;
        Ok((run, features))
    })?;
    let (activations, windows, high_water) = match run {
        Some(run) => (run.curves, run.windows, run.buffered_high_water),
        None => (vec![vec![0.0; frames]; model.n_components()], 0, 0),
    };
    let analysis = StemAnalysis {
        components: components.to_vec(),
        activations,
        hop,
        gain,
        high_band,
        spectrogram,
    };
    let picked = analysis.pick(settings, midi, &mut open)?;
    progress(1.0);
    Ok(Transcription {
        input: input.to_path_buf(),
        duration: len as f64 / SAMPLE_RATE as f64,
        components: analysis.components,
        activations: analysis.activations,
        frame_rate: SAMPLE_RATE as f64 / hop as f64,
        events: picked.events,
        passes: picked.passes,
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
