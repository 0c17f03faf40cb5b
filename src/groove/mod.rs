//! Synthetic drum performances with exact ground truth: musically plausible grooves in several
//! styles, rendered through drum kits, with their MIDI files and onset annotations.

mod annotation;
mod augment;
#[cfg(test)]
mod augment_tests;
mod bar;
#[cfg(test)]
mod compat_tests;
mod fills;
mod generate;
mod mics;
mod patterns;
mod patterns_modern;
mod patterns_world;
mod recording;
mod render;
mod render_file;
mod set;
mod settings;
mod style;
mod tempo_change;
#[cfg(test)]
mod world_tests;

pub use annotation::{
    annotated_class, annotation_lines, beat_lines, parse_annotations, parse_beats,
    read_annotations, read_beats, write_annotations,
};
pub use augment::{augment, heard_kit, Augmentation, Recording, AUGMENT_CEILING};
pub use generate::{generate_performance, Performance, BEATS_PER_BAR, NOTE_SECONDS};
pub use mics::{mic_placement, MicPlacement, MicSetup};
pub use render::{
    kit_index_for_note, natural_length, normalize_peak, render, render_through_mics, velocity_gain,
};
pub use render_file::{render_midi_file, RenderedFile};
pub use set::{
    groove_paths, item_seed, make_groove, write_groove_set, write_groove_set_reporting, GrooveTake,
};
pub use settings::{AugmentSettings, GrooveSettings, Habit, StyleWord};
pub use style::Style;
