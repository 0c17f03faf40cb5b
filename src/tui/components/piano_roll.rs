//! The piano roll's state: its window onto time, the peak-picking threshold and the events
//! picked at it. Events are picked again on a job thread whenever the threshold moves or a
//! transcription arrives; the roll marks exactly the events an export writes.

use std::sync::mpsc::Sender;
use std::sync::Arc;

use crate::audio::playback::Transport;
use crate::audio::SAMPLE_RATE;
use crate::midi::MidiSettings;
use crate::transcribe::{InferenceSettings, Picked, StemAnalysis};
use crate::tui::action::Action;
use crate::tui::event::AppEvent;
use crate::tui::jobs::{self, PickRequest, FRAME_HOP};

/// What events are picked from: a transcription's analysis and the stem it analysed.
struct PickSource {
    analysis: Arc<StemAnalysis>,
    stem: Arc<Vec<f32>>,
}

pub struct PianoRoll {
    first_frame: usize,
    /// Activation frames (ms) per column.
    frames_per_column: usize,
    /// Frames of the open stem (until a transcription says exactly).
    stem_frames: usize,
    /// The config's `[inference]` with the workbench's threshold, so that an untouched
    /// threshold exports what `drummernet transcribe` writes.
    inference: InferenceSettings,
    midi: MidiSettings,
    source: Option<PickSource>,
    /// The events of the latest finished pick: what the roll marks and an export writes.
    picked: Picked,
    /// Picked onsets per component: (frame, normalised height 0..=1).
    onsets: Vec<Vec<(usize, f32)>>,
    /// The number of the latest pick requested, and whether it is still running.
    generation: u64,
    pending: bool,
    /// Seconds the transcription took, said once its first pick arrives.
    transcribed_in: Option<f64>,
    jobs: Sender<AppEvent>,
}

/// Columns the roll pages by when following the playhead.
const FOLLOW_COLUMNS: usize = 40;

impl PianoRoll {
    pub fn new(inference: InferenceSettings, midi: MidiSettings, jobs: Sender<AppEvent>) -> Self {
        PianoRoll {
            first_frame: 0,
            frames_per_column: 64,
            stem_frames: 0,
            inference,
            midi,
            source: None,
            picked: Picked::default(),
            onsets: Vec::new(),
            generation: 0,
            pending: false,
            transcribed_in: None,
            jobs,
        }
    }

    pub fn update(&mut self, action: &Action) -> Option<Action> {
        let fpc = self.frames_per_column;
        match action {
            Action::ZoomIn => self.frames_per_column = (fpc / 2).max(1),
            Action::ZoomOut => self.frames_per_column = (fpc * 2).min(4096),
            Action::ScrollLeft => self.first_frame = self.first_frame.saturating_sub(fpc * 8),
            Action::ScrollRight => {
                let max = self.frames().saturating_sub(1);
                self.first_frame = (self.first_frame + fpc * 8).min(max);
            }
            Action::ScrollHome => self.first_frame = 0,
            Action::ThresholdDown => self.set_threshold(self.threshold() - 0.05),
            Action::ThresholdUp => self.set_threshold(self.threshold() + 0.05),
            Action::SetThreshold(delta) => self.set_threshold(*delta),
            Action::StemOpened { samples, .. } => {
                self.source = None;
                self.stem_frames = samples.div_ceil(FRAME_HOP);
                self.picked = Picked::default();
                self.onsets.clear();
                self.first_frame = 0;
            }
            Action::PickFrom {
                analysis,
                stem,
                seconds,
            } => {
                self.source = Some(PickSource {
                    analysis: analysis.clone(),
                    stem: stem.clone(),
                });
                self.picked = Picked::default();
                self.transcribed_in = Some(*seconds);
                self.repick();
            }
            _ => {}
        }
        None
    }

    fn set_threshold(&mut self, delta: f64) {
        self.inference.peak_pick.delta = (delta * 100.0).round().clamp(0.0, 100.0) / 100.0;
        self.repick();
    }

    /// Picks the events again with the current settings, on a job thread
    /// ([`jobs::JobEvent::Picked`] brings them back).
    fn repick(&mut self) {
        let Some(s) = &self.source else { return };
        self.generation += 1;
        self.pending = true;
        jobs::spawn_pick(
            PickRequest {
                analysis: s.analysis.clone(),
                stem: s.stem.clone(),
                inference: self.inference.clone(),
                midi: self.midi.clone(),
                generation: self.generation,
            },
            self.jobs.clone(),
        );
    }

    /// A pick's events; an older pick's are stale (a newer one is on its way).
    pub fn on_picked(&mut self, generation: u64, picked: Picked) -> Option<Action> {
        if generation != self.generation {
            return None;
        }
        self.pending = false;
        self.picked = picked;
        self.mark_onsets();
        let n = self.picked.events.len();
        Some(Action::Say(match self.transcribed_in.take() {
            Some(secs) => format!("transcribed in {secs:.1} s: {n} onsets (e exports MIDI, b A/B)"),
            None => format!("threshold {:.2}: {n} onsets", self.threshold()),
        }))
    }

    /// A job failed: no pick is awaited any more.
    pub fn on_job_failed(&mut self) {
        self.pending = false;
    }

    /// The marks: exactly the events an export would write, so what is seen is what is
    /// exported.
    fn mark_onsets(&mut self) {
        self.onsets = match &self.source {
            Some(s) => {
                let activations = &s.analysis.activations;
                let mut marks = vec![Vec::new(); activations.len()];
                let maxima: Vec<f32> = activations
                    .iter()
                    .map(|row| row.iter().fold(0.0f32, |m, &v| m.max(v)))
                    .collect();
                for e in &self.picked.events {
                    let max = maxima[e.component_index];
                    let frame = (e.time * f64::from(SAMPLE_RATE) / FRAME_HOP as f64).round();
                    let height = if max > 0.0 { e.height / max } else { 0.0 };
                    marks[e.component_index].push((frame as usize, height));
                }
                marks
            }
            None => Vec::new(),
        };
    }

    /// Keeps the playhead on screen while playing (the roll pages along).
    pub fn follow(&mut self, transport: &Transport) {
        if !transport.is_playing() {
            return;
        }
        let frames_per_second = (SAMPLE_RATE as usize / FRAME_HOP) as f64;
        let frame = (transport.position_seconds() * frames_per_second) as usize;
        let span = self.frames_per_column * FOLLOW_COLUMNS;
        if frame < self.first_frame || frame >= self.first_frame + span {
            self.first_frame = frame;
        }
    }

    /// Total activation frames of the open stem.
    pub fn frames(&self) -> usize {
        match &self.source {
            Some(s) => s.analysis.activations.first().map_or(0, Vec::len),
            None => self.stem_frames,
        }
    }

    /// The transcription's analysis the events are picked from.
    pub fn analysis(&self) -> Option<&StemAnalysis> {
        self.source.as_ref().map(|s| &*s.analysis)
    }

    pub fn first_frame(&self) -> usize {
        self.first_frame
    }

    pub fn frames_per_column(&self) -> usize {
        self.frames_per_column
    }

    /// The peak-picking threshold (delta).
    pub fn threshold(&self) -> f64 {
        self.inference.peak_pick.delta
    }

    /// The settings events are picked with: the config's, at the roll's threshold.
    pub fn inference(&self) -> &InferenceSettings {
        &self.inference
    }

    pub fn picked(&self) -> &Picked {
        &self.picked
    }

    pub fn onsets(&self) -> &[Vec<(usize, f32)>] {
        &self.onsets
    }

    /// Events are being picked again (the roll shows the previous pick).
    pub fn is_picking(&self) -> bool {
        self.pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roll() -> PianoRoll {
        let (tx, _rx) = std::sync::mpsc::channel();
        PianoRoll::new(InferenceSettings::default(), MidiSettings::default(), tx)
    }

    #[test]
    fn zoom_and_scroll_stay_within_the_stem() {
        let mut r = roll();
        r.update(&Action::StemOpened {
            path: "s.wav".into(),
            samples: 16_000,
        });
        assert_eq!(r.frames(), 1000);
        for _ in 0..20 {
            r.update(&Action::ZoomIn);
        }
        assert_eq!(r.frames_per_column(), 1);
        for _ in 0..20 {
            r.update(&Action::ZoomOut);
        }
        assert_eq!(r.frames_per_column(), 4096);
        r.update(&Action::ScrollRight);
        assert_eq!(r.first_frame(), 999);
        r.update(&Action::ScrollLeft);
        assert_eq!(r.first_frame(), 0);
    }

    #[test]
    fn the_threshold_is_rounded_and_kept_within_range_without_a_transcription() {
        let mut r = roll();
        r.update(&Action::SetThreshold(0.123));
        assert_eq!(r.threshold(), 0.12);
        r.update(&Action::SetThreshold(-1.0));
        assert_eq!(r.threshold(), 0.0);
        r.update(&Action::ThresholdUp);
        assert_eq!(r.threshold(), 0.05);
        // Nothing to pick from: no job runs.
        assert!(!r.is_picking());
        // An answer to an older pick is ignored.
        assert!(r.on_picked(7, Picked::default()).is_none());
    }
}
