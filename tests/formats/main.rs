//! The data the product reads and writes: audio decoding, MIDI, kits (folders, procedural,
//! SoundFonts), synthetic grooves, and the onset scorer.

mod audio;
mod eval;
mod groove;
mod kit;
mod kit_soundfont;
mod midi;
