//! drummernet: unsupervised drum transcription (DrummerNet, Choi & Cho, ISMIR 2019) as a library,
//! a command-line tool and a terminal workbench. See `README.md` for the tour.

pub mod adapt;
pub mod assets;
pub mod atomic_file;
pub mod audio;
pub mod config;
pub mod dsp;
pub mod error;
pub mod eval;
pub mod groove;
pub mod kit;
pub mod midi;
pub mod model;
pub mod plot;
pub mod tempo;
pub mod train;
pub mod transcribe;
#[cfg(feature = "tui")]
pub mod tui;
pub mod watch;

pub use error::{Error, Result};
