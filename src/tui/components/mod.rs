//! The workbench's parts, each with its own state, private, changed only by its `update` (from
//! an [`super::action::Action`]) and by the background events it owns (`on_*`), and read by
//! the views through accessors. An `update` may answer with one more action, which the
//! [`super::App`] hands to every part in turn.
//!
//! - [`stem::StemDeck`]: the open stem, its transcription, the jobs that make them, A/B playback
//! - [`piano_roll::PianoRoll`]: the roll's window, the peak-picking threshold, the picked events
//! - [`waveforms::WaveformPane`]: the drum components' waveforms (kit or learned)
//! - [`loss::LossChart`]: the training loss and how it is plotted
//! - [`training::TrainingPanel`]: the session and its trainer
//! - [`prompt::Overlay`]: the help and the path prompts, which take the keys while they show
//! - [`status::StatusLine`]: the latest message and the frame time

pub mod loss;
pub mod piano_roll;
pub mod prompt;
pub mod status;
pub mod stem;
pub mod training;
pub mod waveforms;
