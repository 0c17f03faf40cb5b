//! Standard MIDI files: reading, writing, tick/time arithmetic.
