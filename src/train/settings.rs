//! The `[train]` section of the config.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::kit::procedural::KitFamily;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrainSettings {
    /// Items per optimizer step (release: 32; 16 keeps a CPU step short).
    pub batch_size: usize,
    /// Adam learning rate (release: 4e-4); with a decay, the rate at step 0.
    pub learning_rate: f64,
    /// How the learning rate changes over the run's `steps`: constant (release) or cosine.
    pub learning_rate_decay: LearningRateDecay,
    /// The cosine decay's rate at step `steps` (and after).
    pub learning_rate_final: f64,
    pub adam_beta1: f64,
    pub adam_beta2: f64,
    pub adam_eps: f64,
    /// Optimizer steps to train for (a resumed session counts from its step).
    pub steps: u64,
    /// Write `checkpoint-<step>.safetensors` and `latest.safetensors` every this many steps.
    pub checkpoint_every: u64,
    /// Numbered checkpoints to keep (the latest is always kept); 0 keeps all.
    pub keep_checkpoints: usize,
    /// Seed of everything random in training (data, kit draws, initialisation).
    pub seed: u64,
    /// Send the synthesizer's waveforms to listeners every this many steps.
    pub waveforms_every: u64,
    /// Share of items drawn from the synthetic groove generator when stem folders are given too
    /// (1.0 = grooves only, 0.0 = stems only). Without stem folders every item is synthetic.
    pub synthetic_share: f64,
    /// Procedural kit seeds used for training: `[first, first + count)`. Seeds below
    /// `procedural_seed_first` are held out for evaluation.
    pub procedural_seed_first: u64,
    pub procedural_seed_count: u64,
    /// Procedural kit families drawn from (assets/kits/README.md), each with the same seeds.
    pub procedural_families: Vec<KitFamily>,
    /// Kit indices used from drum-source folders (`N)CLASS_SUB.wav`); kit 12 is held out.
    pub source_kit_indices: Vec<u32>,
}

impl Default for TrainSettings {
    fn default() -> Self {
        TrainSettings {
            batch_size: 16,
            learning_rate: 4e-4,
            learning_rate_decay: LearningRateDecay::Constant,
            learning_rate_final: 1e-5,
            adam_beta1: 0.9,
            adam_beta2: 0.999,
            adam_eps: 1e-8,
            steps: 100_000,
            checkpoint_every: 200,
            keep_checkpoints: 5,
            seed: 0,
            waveforms_every: 50,
            synthetic_share: 0.5,
            procedural_seed_first: 1000,
            procedural_seed_count: 1_000_000,
            procedural_families: vec![KitFamily::Acoustic],
            source_kit_indices: (1..=11).collect(),
        }
    }
}

/// The learning-rate schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LearningRateDecay {
    Constant,
    /// From `learning_rate` at step 0 to `learning_rate_final` at step `steps` along half a
    /// cosine: long near the start rate, slow at the end (where checkpoint averaging also
    /// helps).
    Cosine,
}

impl TrainSettings {
    /// The learning rate of the update that makes step `step + 1`.
    pub fn learning_rate_at(&self, step: u64) -> f64 {
        match self.learning_rate_decay {
            LearningRateDecay::Constant => self.learning_rate,
            LearningRateDecay::Cosine => {
                let progress = (step as f64 / self.steps.max(1) as f64).min(1.0);
                let (start, end) = (self.learning_rate, self.learning_rate_final);
                end + 0.5 * (start - end) * (1.0 + (std::f64::consts::PI * progress).cos())
            }
        }
    }

    pub fn validate(&self, prefix: &str) -> Result<()> {
        let key = |k: &str| format!("{prefix}.{k}");
        if !(1..=4096).contains(&self.batch_size) {
            return Err(Error::config(key("batch_size"), "must be in 1..=4096"));
        }
        if !(self.learning_rate > 0.0 && self.learning_rate <= 1.0) {
            return Err(Error::config(key("learning_rate"), "must be in (0, 1]"));
        }
        if !(self.learning_rate_final > 0.0 && self.learning_rate_final <= self.learning_rate) {
            return Err(Error::config(
                key("learning_rate_final"),
                "must be in (0, learning_rate]",
            ));
        }
        for (k, v) in [
            ("adam_beta1", self.adam_beta1),
            ("adam_beta2", self.adam_beta2),
        ] {
            if !(0.0..1.0).contains(&v) {
                return Err(Error::config(key(k), "must be in [0, 1)"));
            }
        }
        if !(self.adam_eps > 0.0 && self.adam_eps < 1.0) {
            return Err(Error::config(key("adam_eps"), "must be in (0, 1)"));
        }
        if self.checkpoint_every == 0 {
            return Err(Error::config(key("checkpoint_every"), "must be at least 1"));
        }
        if self.waveforms_every == 0 {
            return Err(Error::config(key("waveforms_every"), "must be at least 1"));
        }
        if !(0.0..=1.0).contains(&self.synthetic_share) {
            return Err(Error::config(key("synthetic_share"), "must be in 0..=1"));
        }
        if self.procedural_seed_count == 0 {
            return Err(Error::config(
                key("procedural_seed_count"),
                "must be at least 1",
            ));
        }
        if self
            .procedural_seed_first
            .checked_add(self.procedural_seed_count)
            .is_none()
        {
            return Err(Error::config(
                key("procedural_seed_first"),
                "first + count must stay below 2^64",
            ));
        }
        if self.procedural_families.is_empty() {
            return Err(Error::config(
                key("procedural_families"),
                format!("name at least one of {}", KitFamily::known_names()),
            ));
        }
        if let Some(twice) = self
            .procedural_families
            .iter()
            .enumerate()
            .find_map(|(i, f)| self.procedural_families[..i].contains(f).then_some(f))
        {
            return Err(Error::config(
                key("procedural_families"),
                format!("`{twice}` is named twice"),
            ));
        }
        if self.source_kit_indices.contains(&12) {
            return Err(Error::config(
                key("source_kit_indices"),
                "kit 12 is the held-out evaluation kit and may not be trained on",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    #[test]
    fn cosine_decay_runs_from_the_start_rate_to_the_final_one() {
        let t = TrainSettings {
            learning_rate_decay: LearningRateDecay::Cosine,
            learning_rate: 4e-4,
            learning_rate_final: 1e-5,
            steps: 1000,
            ..TrainSettings::default()
        };
        assert_eq!(t.learning_rate_at(0), 4e-4);
        assert!((t.learning_rate_at(500) - 2.05e-4).abs() < 1e-12);
        assert!((t.learning_rate_at(1000) - 1e-5).abs() < 1e-15);
        assert!((t.learning_rate_at(5000) - 1e-5).abs() < 1e-15);
        let rates: Vec<f64> = (0..=1000)
            .step_by(100)
            .map(|s| t.learning_rate_at(s))
            .collect();
        assert!(rates.windows(2).all(|w| w[1] < w[0]), "{rates:?}");
        let constant = TrainSettings::default();
        assert_eq!(constant.learning_rate_at(99_999), constant.learning_rate);
    }

    fn families_error(value: &str) -> String {
        Config::load(None, &[format!("train.procedural_families={value}")])
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn procedural_families_default_to_acoustic_and_are_validated() {
        let cfg = Config::load(None, &[]).unwrap();
        assert_eq!(cfg.train.procedural_families, [KitFamily::Acoustic]);
        let cfg = Config::load(
            None,
            &["train.procedural_families=[\"electronic\", \"room\"]".into()],
        )
        .unwrap();
        assert_eq!(
            cfg.train.procedural_families,
            [KitFamily::Electronic, KitFamily::Room]
        );
        let err = families_error("[\"acoustic\", \"jazz\"]");
        assert!(
            err.contains("train.procedural_families")
                && err.contains("unknown kit family `jazz`")
                && err.contains("electronic, brushes"),
            "{err}"
        );
        let err = families_error("[]");
        assert!(
            err.contains("train.procedural_families") && err.contains("at least one"),
            "{err}"
        );
        let err = families_error("[\"room\", \"room\"]");
        assert!(err.contains("`room` is named twice"), "{err}");
    }
}
