//! Standard MIDI files: reading, writing, tick/time arithmetic.
//!
//! Times are kept in seconds everywhere outside this module. Writing converts every absolute
//! time to an absolute tick (rounded once) and only then to deltas, so a long file never drifts
//! from the audio it describes.

mod note;
mod read;
mod settings;
mod timing;
mod write;

pub use note::MidiNote;
pub use read::{parse_midi, read_midi};
pub use settings::MidiSettings;
pub use timing::{bpm_to_micros_per_beat, TempoMap, DEFAULT_MICROS_PER_BEAT};
pub use write::{midi_bytes, quantize_to_ticks, write_midi, MidiWriteOptions, TrackLayout};
