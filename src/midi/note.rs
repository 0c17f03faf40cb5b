//! One drum hit as the rest of the crate sees it.

use serde::{Deserialize, Serialize};

/// A note-on with its length, in seconds from the start of the file.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MidiNote {
    /// Onset in seconds from the start.
    pub time: f64,
    /// MIDI key (General MIDI percussion map on channel 10).
    pub note: u8,
    /// 1..=127 (a note-on with velocity 0 is a note-off and never becomes a `MidiNote`).
    pub velocity: u8,
    /// Seconds until the matching note-off (0 when the file has none).
    pub duration: f64,
    /// 0-based MIDI channel (9 = General MIDI drums).
    pub channel: u8,
}

impl MidiNote {
    /// A note on the General MIDI drum channel (10, i.e. index 9).
    pub fn drum(time: f64, note: u8, velocity: u8, duration: f64) -> Self {
        MidiNote {
            time,
            note,
            velocity,
            duration,
            channel: 9,
        }
    }
}
