//! A drum event (onset time, component, class, note, velocity, confidence) and how a component
//! name maps to its class and MIDI key.

use serde::{Deserialize, Serialize};

use crate::kit::components::{DrumClass, COMPONENTS};
use crate::midi::{MidiNote, MidiSettings};

/// One transcribed hit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DrumEvent {
    /// Onset, seconds from the start of the file.
    pub time: f64,
    /// Component name (e.g. `HH_OHH`) and its channel in the model.
    pub component: String,
    pub component_index: usize,
    pub class: DrumClass,
    /// MIDI key from `[midi.notes]`.
    pub note: u8,
    pub velocity: u8,
    /// How far the peak rises above the local mean of its curve normalised to a maximum of 1
    /// (the quantity peak picking thresholds with `delta`), 0..=1.
    pub confidence: f32,
    /// Raw activation height.
    pub height: f32,
}

impl DrumEvent {
    pub fn midi_note(&self, midi: &MidiSettings) -> MidiNote {
        MidiNote {
            time: self.time,
            note: self.note,
            velocity: self.velocity,
            duration: midi.note_length_seconds,
            channel: midi.channel_index(),
        }
    }
}

/// The evaluation class of a component name (`XX_...` prefix for names outside the 11).
pub fn class_of(component: &str) -> DrumClass {
    COMPONENTS
        .iter()
        .find(|c| c.name == component)
        .map(|c| c.class)
        .or_else(|| component.get(..2).and_then(DrumClass::from_label))
        .unwrap_or(DrumClass::OT)
}

/// The MIDI key of a component: `[midi.notes]`, else a GM key for its class.
pub fn note_of(component: &str, midi: &MidiSettings) -> u8 {
    midi.note_for(component)
        .unwrap_or(match class_of(component) {
            DrumClass::KD => 36,
            DrumClass::SD => 38,
            DrumClass::HH => 42,
            DrumClass::TT => 45,
            DrumClass::CY => 49,
            DrumClass::OT => 54,
        })
}
