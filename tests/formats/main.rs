//! The data the product reads and writes: audio decoding, MIDI, kits (folders, procedural,
//! SoundFonts), synthetic grooves, the onset scorer, and tempo/bars/quantised MIDI.

mod audio;
mod eval;
mod groove;
mod kit;
mod kit_soundfont;
mod midi;
mod tempo;
