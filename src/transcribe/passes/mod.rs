//! The transcription passes: activation curves and the audio's features -> drum events, as an
//! ordered list of small steps with one job each ([`PIPELINE`]). Each pass has its section in
//! `[inference.passes.*]` with a switch, and says which features of the audio it reads
//! ([`Needs`]), so that the features are read once, before the first pass that needs them
//! (see [`super::pipeline`]).
//!
//! Passes work on [`Candidate`]s: an event plus what the passes learned of it (where it came
//! from, what the audio says at its onset), so that no pass re-reads the audio or carries
//! parallel vectors.

pub mod crosstalk_gate;
pub mod hihat_onsets;
pub mod kick_low_band;
pub mod peak_picking;
pub mod ring_test;
pub mod settings;
pub mod velocity;

use crate::kit::DrumClass;
use crate::midi::MidiSettings;

pub use settings::{
    HihatOnsetSettings, KickLowBandSettings, PassSettings, RingTestSettings, Switch,
};

use super::events::DrumEvent;
use super::high_band::HighBand;
use super::onset_level::Reading;
use super::settings::InferenceSettings;

/// Every pass, in the order they run.
pub const PIPELINE: [&dyn Pass; 6] = [
    &peak_picking::PeakPicking,
    &hihat_onsets::HihatOnsets,
    &ring_test::RingTest,
    &velocity::Velocity,
    &crosstalk_gate::CrosstalkGate,
    &kick_low_band::KickLowBand,
];

/// One step from curves to events.
pub trait Pass: Sync {
    /// The pass's name, as in `[inference.passes.<name>]` and the `-v` report.
    fn name(&self) -> &'static str;
    /// What of the audio it reads besides the activations.
    fn needs(&self) -> Needs;
    /// Adds, drops or edits candidates; they stay sorted by time, then component.
    fn run(&self, cx: &PassContext, candidates: &mut Vec<Candidate>);
}

/// The audio features a pass reads.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Needs {
    /// The high band's flux and power ([`HighBand`]).
    pub high_band: bool,
    /// The audio at each candidate's onset ([`OnsetReading`]).
    pub onset_readings: bool,
}

/// Where a candidate came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// A peak of a component's activation curve.
    Activation,
    /// An onset of the audio's high band (hi-hat onsets).
    HighBand,
}

/// An event and what the passes know of it.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub event: DrumEvent,
    /// Activation frame of the onset.
    pub frame: usize,
    pub origin: Origin,
    /// The audio at the onset; `Some` once read, for components whose velocity comes from
    /// the audio.
    pub reading: Option<OnsetReading>,
}

/// What the audio says of one candidate, relative to its component's other candidates.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OnsetReading {
    pub reading: Reading,
    /// The component's loudest read hit in the song ([`Reading::level`] units).
    pub reference: f32,
    /// `reading.level` in dB below `reference`.
    pub relative_db: f64,
}

/// What the song's read onsets say as a whole.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct OnsetSummary {
    /// The median low-band ratio of the kick candidates (most of them are kicks; a recording
    /// without lows shifts them all alike), before any pass dropped one.
    pub typical_kick_low_db: Option<f32>,
}

/// What every pass may read.
pub struct PassContext<'a> {
    /// `[component][frame]`, frame t at sample `hop` t.
    pub activations: &'a [Vec<f32>],
    pub components: &'a [String],
    pub settings: &'a InferenceSettings,
    pub midi: &'a MidiSettings,
    pub hop: usize,
    pub sample_rate: u32,
    /// `None` where the input is silent or no enabled pass needs it.
    pub high_band: Option<&'a HighBand>,
    pub onsets: OnsetSummary,
}

impl PassContext<'_> {
    /// Seconds of activation frame `frame`.
    pub fn time_of(&self, frame: usize) -> f64 {
        (frame * self.hop) as f64 / f64::from(self.sample_rate)
    }

    /// Frames in `seconds`, rounded.
    pub fn frames_in(&self, seconds: f64) -> usize {
        (seconds * f64::from(self.sample_rate) / self.hop as f64).round() as usize
    }
}

/// Sorts by time, then component channel (stable: equal keys keep their order).
pub fn sort_candidates(candidates: &mut [Candidate]) {
    candidates.sort_by(|a, b| {
        a.event
            .time
            .total_cmp(&b.event.time)
            .then(a.event.component_index.cmp(&b.event.component_index))
    });
}

/// Events per class, in [`DrumClass`] order: what a pass saw and left.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClassCounts(pub Vec<(DrumClass, usize)>);

impl ClassCounts {
    pub fn of(candidates: &[Candidate]) -> Self {
        let mut counts = std::collections::BTreeMap::new();
        for c in candidates {
            *counts.entry(c.event.class).or_insert(0) += 1;
        }
        ClassCounts(counts.into_iter().collect())
    }

    pub fn total(&self) -> usize {
        self.0.iter().map(|(_, n)| n).sum()
    }
}

impl std::fmt::Display for ClassCounts {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(f, "{}", self.total())?;
        if !self.0.is_empty() {
            let parts: Vec<String> =
                self.0.iter().map(|(c, n)| format!("{} {n}", c.label())).collect();
            write!(f, " ({})", parts.join(", "))?;
        }
        Ok(())
    }
}

/// What one pass did, for `transcribe -v`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PassReport {
    pub name: &'static str,
    /// Why it did not run (switched off, or the input is silent), if it did not.
    pub skipped: Option<&'static str>,
    pub before: ClassCounts,
    pub after: ClassCounts,
}

impl std::fmt::Display for PassReport {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        match self.skipped {
            Some(why) => write!(f, "{:<15} skipped ({why})", self.name),
            None => write!(f, "{:<15} {} -> {}", self.name, self.before, self.after),
        }
    }
}
