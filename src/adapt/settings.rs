//! `[adapt]`: learning the recording (unsupervised fine-tuning on the stem being transcribed).

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// What adaptation fine-tunes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Learned {
    /// The synthesizer's component waveforms (the kit the model hears).
    Waveforms,
    /// The transcriber's recurrent head (the sparse branches have no weights).
    Head,
    /// The U-Net too: the whole transcriber.
    Unet,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AdaptSettings {
    /// Adapt before every transcription (`transcribe --adapt` sets it).
    pub enabled: bool,
    /// Optimizer steps.
    pub steps: usize,
    /// Wall-clock budget in seconds (0: none); adaptation stops at whichever comes first.
    pub seconds: f64,
    /// Crops of the stem per step.
    pub batch_size: usize,
    /// Adam's learning rate for the transcriber's weights (betas and eps as in `[train]`).
    pub learning_rate: f64,
    /// Adam's learning rate for the waveforms (each sample of a waveform of L2 norm 10).
    pub waveform_learning_rate: f64,
    /// What is fine-tuned.
    pub learn: Vec<Learned>,
    /// Fit the waveforms by least squares (from the model's activations on the whole stem)
    /// before the first step and after the last, instead of by gradient steps alone.
    pub least_squares: bool,
    /// Conjugate-gradient iterations of that fit.
    pub least_squares_iterations: usize,
    /// Seed of the crops drawn: the same input, model and seed give the same events.
    pub seed: u64,
    /// The kit the synthesizer's waveforms start from ("" = the bundled assets/kits/default;
    /// any kit spec, e.g. `procedural:7` or `sessions/NAME/kit`).
    pub kit: String,
}

impl Default for AdaptSettings {
    fn default() -> Self {
        AdaptSettings {
            enabled: false,
            steps: 40,
            seconds: 0.0,
            batch_size: 8,
            learning_rate: 1e-4,
            waveform_learning_rate: 1e-3,
            learn: vec![Learned::Waveforms, Learned::Head],
            least_squares: false,
            least_squares_iterations: 30,
            seed: 0,
            kit: String::new(),
        }
    }
}

impl AdaptSettings {
    pub fn validate(&self, prefix: &str) -> Result<()> {
        let bad = |key: &str, why: &str| Err(Error::config(format!("{prefix}.{key}"), why));
        if self.steps > 100_000 {
            return bad("steps", "must be at most 100000");
        }
        if !(self.seconds.is_finite() && (0.0..=86_400.0).contains(&self.seconds)) {
            return bad("seconds", "must be in 0..=86400");
        }
        if !(1..=256).contains(&self.batch_size) {
            return bad("batch_size", "must be in 1..=256");
        }
        if !(self.learning_rate.is_finite() && self.learning_rate > 0.0 && self.learning_rate < 1.0)
        {
            return bad("learning_rate", "must be in (0, 1)");
        }
        if !(self.waveform_learning_rate.is_finite()
            && self.waveform_learning_rate > 0.0
            && self.waveform_learning_rate < 1.0)
        {
            return bad("waveform_learning_rate", "must be in (0, 1)");
        }
        if self.learn.is_empty() {
            return bad("learn", "name at least one of waveforms, head, unet");
        }
        Ok(())
    }
}
