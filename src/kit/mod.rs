//! Drum kits: K named drum-component waveforms at 16 kHz, loaded from WAV folders or generated.

pub mod commands;
pub mod components;
pub mod folder;
pub mod gus_patch;
pub mod norm;
pub mod procedural;
pub mod settings;
pub mod soundfont;
pub mod spec;
pub mod summary;

pub use components::{Component, DrumClass, COMPONENTS};
pub use folder::{list_kits, load_kit, save_kit, KitListing};
pub use norm::{normalise, SourceNorm};
pub use procedural::{procedural_kit, procedural_kit_of, KitFamily};
pub use settings::KitSettings;
pub use summary::{summarise, ComponentSummary, KitSummary};

/// One drum component's waveform.
#[derive(Debug, Clone, PartialEq)]
pub struct KitComponent {
    /// Component name, e.g. `KD_KD` (see [`components::COMPONENTS`]).
    pub name: String,
    /// Mono samples at [`crate::audio::SAMPLE_RATE`].
    pub samples: Vec<f32>,
}

/// A drum kit: one waveform per component, in the order the caller asked for.
#[derive(Debug, Clone, PartialEq)]
pub struct Kit {
    /// Human-readable name, e.g. `drum_sources#3`, `procedural#42` or `procedural-room#42`.
    pub name: String,
    pub components: Vec<KitComponent>,
}

impl Kit {
    pub fn component(&self, name: &str) -> Option<&KitComponent> {
        self.components.iter().find(|c| c.name == name)
    }

    pub fn component_names(&self) -> Vec<String> {
        self.components.iter().map(|c| c.name.clone()).collect()
    }

    /// Applies the source normalisation to every component (spec section 6).
    pub fn normalise(&mut self, norm: SourceNorm) {
        for c in &mut self.components {
            normalise(&mut c.samples, norm);
        }
    }
}
