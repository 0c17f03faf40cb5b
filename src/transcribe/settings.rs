//! The `[inference]` config section: chunking, peak picking (global and per component),
//! velocity calibration, and the passes' switches (`[inference.passes.*]`, see
//! `transcribe::passes`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::kit::DrumClass;

use crate::dsp::peak_pick::PeakPickParams;
use crate::error::{Error, Result};

use super::passes::PassSettings;

/// Transcription settings (config section `[inference]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct InferenceSettings {
    /// Song time whose activations one window keeps (rounded up to a multiple of 1 024 samples).
    pub chunk_seconds: f64,
    /// Extra audio on each side of a window for the recurrent layers (rounded up to a multiple
    /// of 1 024 samples), on top of the 4 080 samples the valid convolutions need.
    pub context_seconds: f64,
    /// Windows run through the model in one forward pass.
    pub batch_windows: usize,
    /// Below this peak level (dBFS) a file counts as silent: no events, no model run.
    pub silence_dbfs: f64,
    /// Peak picking for every component (librosa 0.6 semantics, release defaults).
    pub peak_pick: PeakPickParams,
    /// Velocity calibration for every component.
    pub velocity: VelocitySettings,
    /// Per-component overrides by component name, e.g. `[inference.components.HH_OHH]`.
    pub components: BTreeMap<String, ComponentOverrides>,
    /// The transcription passes' switches and settings (`[inference.passes.*]`).
    pub passes: PassSettings,
    /// Classes written out (labels KD, SD, HH, TT, CY, OT; `transcribe --classes`): the passes
    /// see every class, the outputs only these, and the MIDI and JSON say which they were.
    pub classes: Vec<String>,
}

/// How activation heights become MIDI velocities (see `transcribe::velocity`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct VelocitySettings {
    /// What a hit's loudness is read from.
    pub source: VelocitySource,
    /// `activation` source: the height that maps to velocity 127; 0 = the component's highest
    /// peak in the song. (The `audio` source always refers to the song's loudest hit.)
    pub reference_height: f64,
    /// Decibels below the reference height that map to velocity 1.
    pub range_db: f64,
    /// `audio` source: events whose level is more than this far (dB, <= 0) below the
    /// component's loudest hit in the song, and that lie within `gate_window` of another
    /// class's event, are dropped. Cross-talk (a kick's click picked up by a hi-hat channel, a
    /// snare's body by the kick's) is a peak in the activations but adds little power in the
    /// class's band; a quiet hit on its own is kept (a ghost note). -120 keeps everything.
    pub min_level_db: f64,
    /// Seconds around an event searched for another class's event (see `min_level_db`).
    pub gate_window: f64,
}

/// Where velocities come from (see `transcribe::onset_level`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VelocitySource {
    /// The power each hit adds in its class's frequency band of the input.
    Audio,
    /// The activation peak's height (saturates at 1 for isolated hits).
    Activation,
}

impl Default for VelocitySettings {
    fn default() -> Self {
        VelocitySettings {
            source: VelocitySource::Audio,
            reference_height: 0.0,
            range_db: 40.0,
            min_level_db: -20.0,
            gate_window: 0.05,
        }
    }
}

/// Overrides for one component; an absent key keeps the `[inference]` value.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ComponentOverrides {
    pub pre_max: Option<f64>,
    pub post_max: Option<f64>,
    pub pre_avg: Option<f64>,
    pub post_avg: Option<f64>,
    pub delta: Option<f64>,
    pub wait: Option<f64>,
    pub smooth: Option<f64>,
    pub source: Option<VelocitySource>,
    pub reference_height: Option<f64>,
    pub range_db: Option<f64>,
    pub min_level_db: Option<f64>,
    pub gate_window: Option<f64>,
    /// false drops the component's events.
    pub enabled: Option<bool>,
}

impl Default for InferenceSettings {
    fn default() -> Self {
        InferenceSettings {
            chunk_seconds: 20.0,
            context_seconds: 1.0,
            batch_windows: 2,
            silence_dbfs: -100.0,
            peak_pick: PeakPickParams::default(),
            velocity: VelocitySettings::default(),
            components: default_component_overrides(),
            passes: PassSettings::default(),
            classes: DrumClass::ALL
                .iter()
                .map(|c| c.label().to_string())
                .collect(),
        }
    }
}

/// The shipped per-component settings (config.toml's `[inference.components.*]`): kick and
/// snare level gates and deltas, and the kick's moving sum, tuned with the bundled model on
/// grooves of kits 1-11 and of procedural training seeds.
fn default_component_overrides() -> BTreeMap<String, ComponentOverrides> {
    [
        ("KD_KD", -10.0, 0.35, Some(0.005)),
        ("SD_SD", -6.0, 0.15, None),
    ]
    .into_iter()
    .map(|(name, db, delta, smooth)| {
        let o = ComponentOverrides {
            min_level_db: Some(db),
            delta: Some(delta),
            smooth,
            ..Default::default()
        };
        (name.to_string(), o)
    })
    .collect()
}

impl VelocitySettings {
    pub fn validate(&self, prefix: &str) -> Result<()> {
        if !(self.reference_height.is_finite() && self.reference_height >= 0.0) {
            return Err(Error::config(
                format!("{prefix}.reference_height"),
                "must be >= 0 (0 = per song)",
            ));
        }
        if !(self.range_db.is_finite() && (1.0..=120.0).contains(&self.range_db)) {
            return Err(Error::config(
                format!("{prefix}.range_db"),
                "must be in 1..=120",
            ));
        }
        if !(self.min_level_db.is_finite() && (-120.0..=0.0).contains(&self.min_level_db)) {
            return Err(Error::config(
                format!("{prefix}.min_level_db"),
                "must be in -120..=0",
            ));
        }
        if !(self.gate_window.is_finite() && (0.0..=1.0).contains(&self.gate_window)) {
            return Err(Error::config(
                format!("{prefix}.gate_window"),
                "must be in 0..=1 seconds",
            ));
        }
        Ok(())
    }
}

impl InferenceSettings {
    pub fn validate(&self, prefix: &str) -> Result<()> {
        let key = |k: &str| format!("{prefix}.{k}");
        if !(1..=256).contains(&self.batch_windows) {
            return Err(Error::config(key("batch_windows"), "must be in 1..=256"));
        }
        for (k, v, lo, hi) in [
            ("chunk_seconds", self.chunk_seconds, 0.5, 600.0),
            ("context_seconds", self.context_seconds, 0.0, 60.0),
            ("silence_dbfs", self.silence_dbfs, -200.0, 0.0),
        ] {
            if !(v.is_finite() && (lo..=hi).contains(&v)) {
                return Err(Error::config(key(k), format!("must be in {lo}..={hi}")));
            }
        }
        if let Some(bad) = self
            .classes
            .iter()
            .find(|l| !DrumClass::ALL.iter().any(|c| c.label() == l.as_str()))
        {
            return Err(Error::config(
                key("classes"),
                format!("unknown class `{bad}` (KD, SD, HH, TT, CY or OT)"),
            ));
        }
        self.peak_pick.validate(&key("peak_pick"))?;
        self.passes.validate(&key("passes"))?;
        self.velocity.validate(&key("velocity"))?;
        for name in self.components.keys() {
            let p = format!("{prefix}.components.{name}");
            self.peak_pick_for(name).validate(&p)?;
            self.velocity_for(name).validate(&p)?;
        }
        Ok(())
    }

    /// Peak picking for `component` (overrides applied).
    pub fn peak_pick_for(&self, component: &str) -> PeakPickParams {
        let mut p = self.peak_pick;
        if let Some(o) = self.components.get(component) {
            p.pre_max = o.pre_max.unwrap_or(p.pre_max);
            p.post_max = o.post_max.unwrap_or(p.post_max);
            p.pre_avg = o.pre_avg.unwrap_or(p.pre_avg);
            p.post_avg = o.post_avg.unwrap_or(p.post_avg);
            p.delta = o.delta.unwrap_or(p.delta);
            p.wait = o.wait.unwrap_or(p.wait);
            p.smooth = o.smooth.unwrap_or(p.smooth);
        }
        p
    }

    /// Velocity calibration for `component` (overrides applied).
    pub fn velocity_for(&self, component: &str) -> VelocitySettings {
        let mut v = self.velocity;
        if let Some(o) = self.components.get(component) {
            v.source = o.source.unwrap_or(v.source);
            v.reference_height = o.reference_height.unwrap_or(v.reference_height);
            v.range_db = o.range_db.unwrap_or(v.range_db);
            v.min_level_db = o.min_level_db.unwrap_or(v.min_level_db);
            v.gate_window = o.gate_window.unwrap_or(v.gate_window);
        }
        v
    }

    pub fn enabled(&self, component: &str) -> bool {
        self.components
            .get(component)
            .and_then(|o| o.enabled)
            .unwrap_or(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_replace_only_the_keys_given() {
        let mut s = InferenceSettings::default();
        s.components.insert(
            "HH_OHH".into(),
            ComponentOverrides {
                delta: Some(0.4),
                range_db: Some(20.0),
                ..Default::default()
            },
        );
        let p = s.peak_pick_for("HH_OHH");
        assert_eq!(p.delta, 0.4);
        assert_eq!(p.wait, 0.0625);
        assert_eq!(s.peak_pick_for("TT_HIT"), PeakPickParams::default());
        assert_eq!(s.peak_pick_for("KD_KD").delta, 0.35);
        assert_eq!(s.velocity_for("HH_OHH").range_db, 20.0);
        s.validate("inference").unwrap();
        s.components.get_mut("HH_OHH").unwrap().delta = Some(3.0);
        let err = s.validate("inference").unwrap_err().to_string();
        assert!(err.contains("inference.components.HH_OHH.delta"), "{err}");
    }
}

#[cfg(test)]
mod config_tests {
    use crate::config::Config;

    #[test]
    fn component_overrides_load_from_a_user_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.toml");
        std::fs::write(
            &p,
            "[inference.components.HH_OHH]\ndelta = 0.4\nenabled = false\n[inference.peak_pick]\nwait = 0.05\n",
        )
        .unwrap();
        let cfg = Config::load(Some(&p), &[]).unwrap();
        assert_eq!(cfg.inference.peak_pick_for("HH_OHH").delta, 0.4);
        assert_eq!(cfg.inference.peak_pick_for("HH_OHH").wait, 0.05);
        assert!(!cfg.inference.enabled("HH_OHH"));
        std::fs::write(&p, "[inference.components.SD_SD]\ndelt = 0.4\n").unwrap();
        let err = Config::load(Some(&p), &[]).unwrap_err().to_string();
        assert!(err.contains("delt"), "{err}");
        // A user entry for a component the shipped file configures keeps the shipped keys it
        // does not mention.
        std::fs::write(&p, "[inference.components.KD_KD]\ndelta = 0.3\n").unwrap();
        let cfg = Config::load(Some(&p), &[]).unwrap();
        assert_eq!(cfg.inference.peak_pick_for("KD_KD").delta, 0.3);
        assert_eq!(cfg.inference.velocity_for("KD_KD").min_level_db, -10.0);
    }

    #[test]
    fn component_keys_can_be_set_from_the_command_line() {
        let set = |s: &str| Config::load(None, &[s.to_string()]);
        let cfg = set("inference.components.TT_HIT.delta=0.3").unwrap();
        assert_eq!(cfg.inference.peak_pick_for("TT_HIT").delta, 0.3);
        assert_eq!(cfg.inference.peak_pick_for("TT_MHT").delta, 0.25);
        let cfg = set("inference.components.SD_SD.min_level_db=-30").unwrap();
        assert_eq!(cfg.inference.velocity_for("SD_SD").min_level_db, -30.0);
        let err = set("inference.components.SD_SD.delt=0.3")
            .unwrap_err()
            .to_string();
        assert!(err.contains("delt"), "{err}");
        let err = set("inference.peak_pick.delt=0.3").unwrap_err().to_string();
        assert!(err.contains("inference.peak_pick.delt"), "{err}");
    }
}
