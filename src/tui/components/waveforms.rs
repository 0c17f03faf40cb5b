//! The drum components' waveforms: what the components pane shows and what a transcription is
//! re-synthesised through. They come from a kit at start and from the trainer as it learns.

use std::path::Path;

use crate::kit::spec::KitSpec;
use crate::tui::action::Action;

pub use crate::assets::BUNDLED_KIT;

pub struct WaveformPane {
    names: Vec<String>,
    waveforms: Vec<Vec<f32>>,
    /// "kit assets/kits/default" or "learned, step 300".
    origin: String,
    /// Spectra instead of level envelopes.
    spectrum: bool,
}

impl WaveformPane {
    /// The components `names` from the kit `spec` (default the bundled kit), each `length`
    /// samples; a kit that does not load gives way to procedural kit 0, with the error.
    pub fn from_kit(
        spec: Option<&str>,
        names: Vec<String>,
        length: usize,
    ) -> (Self, Option<Action>) {
        let bundled = crate::assets::locate(BUNDLED_KIT).display().to_string();
        let text = spec.unwrap_or(&bundled);
        let loaded = KitSpec::parse(text).and_then(|s| s.load(&names, length));
        let mut problem = None;
        let (kit, origin) = match loaded {
            Ok(mut kits) if !kits.is_empty() => {
                let short = Path::new(text)
                    .file_name()
                    .map_or(text.to_string(), |n| n.to_string_lossy().into_owned());
                (kits.swap_remove(0), format!("kit {short}"))
            }
            other => {
                if let Err(e) = other {
                    problem = Some(Action::Error(format!(
                        "kit {text}: {e}; using procedural kit 0"
                    )));
                }
                (
                    crate::kit::procedural_kit(0, length),
                    "procedural kit 0".to_string(),
                )
            }
        };
        let waveforms = names
            .iter()
            .map(|n| {
                kit.component(n)
                    .map(|c| c.samples.clone())
                    .unwrap_or_default()
            })
            .collect();
        let pane = WaveformPane {
            names,
            waveforms,
            origin,
            spectrum: false,
        };
        (pane, problem)
    }

    pub fn update(&mut self, action: &Action) -> Option<Action> {
        if let Action::Spectrum = action {
            self.spectrum = !self.spectrum;
        }
        None
    }

    /// The trainer's waveforms at `step`.
    pub fn learned(&mut self, step: u64, names: Vec<String>, waveforms: Vec<Vec<f32>>) {
        self.names = names;
        self.waveforms = waveforms;
        self.origin = format!("learned, step {step}");
    }

    /// An adaptation's waveforms at `step`.
    pub fn adapted(&mut self, step: u64, names: Vec<String>, waveforms: Vec<Vec<f32>>) {
        self.names = names;
        self.waveforms = waveforms;
        self.origin = format!("adapted to the stem, step {step}");
    }

    pub fn names(&self) -> &[String] {
        &self.names
    }

    pub fn waveforms(&self) -> &[Vec<f32>] {
        &self.waveforms
    }

    pub fn origin(&self) -> &str {
        &self.origin
    }

    pub fn spectrum(&self) -> bool {
        self.spectrum
    }
}
