//! What can happen in the workbench, as typed values. Keys map to the unit variants
//! ([`super::keys`]); the rest are what components answer one another (an opened stem, a
//! transcription to pick from, a message for the status line) and what tests and scripts send
//! instead of keys. The [`super::App`] hands every action to every component, in the order
//! they arise.

use std::path::PathBuf;
use std::sync::Arc;

use crate::atomic_file::Overwrite;
use crate::transcribe::StemAnalysis;

use super::components::prompt::PromptKind;

#[derive(Debug, Clone)]
pub enum Action {
    // ---- keys (the help lists them) ------------------------------------------------------
    Quit,
    Help,
    Open,
    Transcribe,
    PlayPause,
    Stop,
    SeekBack,
    SeekForward,
    ToggleAb,
    WriteResynthesis,
    ExportMidi,
    Adapt,
    TrainStart,
    TrainPause,
    TrainStop,
    ZoomIn,
    ZoomOut,
    ScrollLeft,
    ScrollRight,
    ScrollHome,
    ThresholdDown,
    ThresholdUp,
    LossScales,
    LossLog,
    LossXAxis,
    Spectrum,

    // ---- with values: prompts' answers, components' news, scripted use -------------------
    /// Open a file, or a folder of training stems (its first audio file is shown).
    OpenPath(PathBuf),
    /// Export MIDI (and JSON next to it).
    ExportTo {
        path: PathBuf,
        overwrite: Overwrite,
    },
    /// Write the re-synthesis to a WAV.
    WriteWavTo {
        path: PathBuf,
        overwrite: Overwrite,
    },
    /// Ask for a path (or a confirmation) with this text.
    Ask(PromptKind, String),
    /// Move the playhead to this many seconds.
    SeekTo(f64),
    /// The peak-picking threshold (delta), rounded to 0.01.
    SetThreshold(f64),
    /// A new stem is open: what showed the previous one starts over.
    StemOpened {
        path: PathBuf,
        samples: usize,
    },
    /// A transcription arrived after `seconds`: its events are to be picked.
    PickFrom {
        analysis: Arc<StemAnalysis>,
        stem: Arc<Vec<f32>>,
        seconds: f64,
    },
    /// A note for the status line, and the log.
    Say(String),
    /// A problem for the status line (in red), and the log.
    Error(String),
    /// A note for the status line only (Tab's completions).
    Hint(String),
}
