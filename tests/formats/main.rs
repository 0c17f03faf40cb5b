//! The data the product reads and writes: audio decoding, MIDI, kits (folders, procedural,
//! SoundFonts), synthetic grooves, the onset scorer, tempo/bars/quantised MIDI, and the MIDI as
//! MuseScore, FluidSynth and mido read it.

mod audio;
mod consumers;
mod eval;
mod groove;
mod kit;
mod kit_soundfont;
mod midi;
mod tempo;
