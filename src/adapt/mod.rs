//! Learning the recording: DrummerNet's loss needs no labels, so the model can keep learning on
//! the very stem it transcribes. [`Adaptation`] fine-tunes a copy of the model (its recurrent
//! head, optionally its U-Net) and a synthesizer whose waveforms start from a kit, with the
//! training loss on the stem's own 2-s crops; the adapted model then transcribes the stem, and
//! its learned waveforms are the kit the model heard.

pub mod adapter;
pub mod least_squares;
pub mod settings;

pub use adapter::{AdaptStep, Adaptation};
pub use settings::{AdaptSettings, Learned};
