//! Tempo, beats and bars of a transcription, and quantisation to its grid: what a DAW or a
//! notation program needs to show the drums on bar lines.
//!
//! The drum events are the evidence (a transcription is far sparser and cleaner than audio,
//! and its classes say which hits carry the metre):
//! 1. [`estimate`]: an inter-onset-interval histogram with a comb over beat multiples gives the
//!    candidate beat periods; each is tracked ([`beats`], Ellis 2007 dynamic programming) and
//!    scored by what a drum part at that tempo looks like (backbeat snares on beats,
//!    time-keeping cymbals one to four per beat, a broad tempo prior), so that half and double
//!    tempo lose to the musical one.
//! 2. [`beats::downbeat_phase`]: which of four beats starts a bar (accented kick, crash, no
//!    snare; fills end bars).
//! 3. Where the tempo moves, the beats are tracked again along the [`local_tempo`] (a
//!    tempogram near the song's tempo), and [`stretches`] splits the tracked beats into stretches of one tempo
//!    each and puts their beats on each stretch's line.
//! 4. The result is a [`BeatGrid`]: the MIDI writer turns it into a tempo map with the first
//!    downbeat on a bar line; JSON and CSV read bar.beat positions from it; [`quantize`] snaps
//!    to its subdivisions.

pub mod beats;
pub mod estimate;
pub mod grid;
pub mod local_tempo;
pub mod quantize;
pub mod settings;
pub mod stretches;

pub use estimate::{analyse, Onset, TempoAnalysis, TempoSource};
pub use grid::{BeatGrid, Position};
pub use quantize::{QuantizeGrid, Quantizer};
pub use settings::TempoSettings;
