//! `[inference.passes.*]`: one section per transcription pass, each with `enabled` (so an
//! experiment can ablate any one pass: `--set inference.passes.ring_test.enabled=false`) and the
//! pass's own tuning values. Per-component keys that a pass reads (the level gate's
//! `min_level_db` and `gate_window`) stay in `[inference.velocity]` and
//! `[inference.components.*]`, where every per-component value lives.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Switches and settings of every pass, in pipeline order.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PassSettings {
    pub peak_picking: Switch,
    pub hihat_onsets: HihatOnsetSettings,
    pub ring_test: RingTestSettings,
    pub velocity: Switch,
    pub crosstalk_gate: Switch,
    pub kick_low_band: KickLowBandSettings,
    pub cymbal_gate: CymbalGateSettings,
    pub verification: VerificationSettings,
}

/// A pass with no settings of its own besides its switch.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Switch {
    pub enabled: bool,
}

impl Default for Switch {
    fn default() -> Self {
        Switch { enabled: true }
    }
}

/// `[inference.passes.hihat_onsets]`: hi-hat onsets from the audio's band above 6 kHz instead
/// of the model's hi-hat peaks (`enabled = false`: the model's, as the release does).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HihatOnsetSettings {
    pub enabled: bool,
    /// Peak-picking threshold on the high-band flux normalised per song (the other
    /// peak-picking parameters are the hi-hat components'). Chosen on the tuning grooves
    /// (assets/model/README.md): .12 of .08-.2.
    pub delta: f64,
}

impl Default for HihatOnsetSettings {
    fn default() -> Self {
        HihatOnsetSettings {
            enabled: true,
            delta: 0.12,
        }
    }
}

/// `[inference.passes.ring_test]`: a hi-hat onset from the audio whose band power 60-120 ms
/// later is within `max_ring_db` of its attack (a cymbal's or a snare's ring) is dropped.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RingTestSettings {
    pub enabled: bool,
    /// Chosen on the tuning grooves: -1.5 of -6..0 dB; 60 keeps every onset.
    pub max_ring_db: f64,
}

impl Default for RingTestSettings {
    fn default() -> Self {
        RingTestSettings {
            enabled: true,
            max_ring_db: -1.5,
        }
    }
}

/// `[inference.passes.kick_low_band]`: a kick event whose 30-90 Hz / 90-250 Hz power ratio
/// lies more than `margin_db` under the song's median kick event is a floor tom, dropped.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KickLowBandSettings {
    pub enabled: bool,
    /// Chosen on the tuning grooves: 15 (10 tied; 15 is the more conservative); 120 keeps
    /// every kick.
    pub margin_db: f64,
}

impl Default for KickLowBandSettings {
    fn default() -> Self {
        KickLowBandSettings {
            enabled: true,
            margin_db: 15.0,
        }
    }
}

/// `[inference.passes.verification]`: an event stays only where the re-synthesis of the stem
/// from the events needs it (`passes::verification`).
/// `[inference.passes.cymbal_gate]`: what a cymbal event from the model's curves needs.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CymbalGateSettings {
    pub enabled: bool,
    /// Lowest activation peak height (absolute, the model's own scale).
    pub min_height: f64,
    /// Lowest rise (dB) of the band above 6 kHz at the onset over the 20-60 ms before.
    pub min_rise_db: f64,
}

impl Default for CymbalGateSettings {
    fn default() -> Self {
        CymbalGateSettings {
            enabled: true,
            min_height: 0.03,
            min_rise_db: 1.0,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct VerificationSettings {
    pub enabled: bool,
    /// Classes whose events are verified (labels: KD, SD, HH, TT, CY, OT).
    pub classes: Vec<String>,
    /// Classes fitted first and then held, so that a verified event must explain what they
    /// leave (not verified themselves unless also in `classes`).
    pub trusted: Vec<String>,
    /// Least improvement (dB of log-magnitude distance) an event's hit must bring to the
    /// re-synthesis where it makes at least `min_part` of it, to stay.
    pub min_db: f64,
    pub min_part: f64,
    /// Seconds after the onset over which that share is measured.
    pub window_seconds: f64,
    /// Seconds of each component's magnitude template.
    pub template_seconds: f64,
    /// Rounds of template and gain updates.
    pub iterations: usize,
    /// Level (dB re full scale, input peak-normalised) under which magnitude differences stop
    /// counting.
    pub floor_db: f64,
}

impl Default for VerificationSettings {
    fn default() -> Self {
        VerificationSettings {
            enabled: true,
            classes: ["TT"].map(String::from).to_vec(),
            trusted: ["KD", "SD", "HH"].map(String::from).to_vec(),
            min_db: 1.0,
            min_part: 0.5,
            window_seconds: 0.05,
            template_seconds: 0.3,
            iterations: 30,
            floor_db: -80.0,
        }
    }
}

impl PassSettings {
    /// Whether the pass named `name` (a [`super::Pass::name`]) runs; unknown names do not.
    pub fn enabled(&self, name: &str) -> bool {
        match name {
            "peak_picking" => self.peak_picking.enabled,
            "hihat_onsets" => self.hihat_onsets.enabled,
            "ring_test" => self.ring_test.enabled,
            "velocity" => self.velocity.enabled,
            "crosstalk_gate" => self.crosstalk_gate.enabled,
            "kick_low_band" => self.kick_low_band.enabled,
            "cymbal_gate" => self.cymbal_gate.enabled,
            "verification" => self.verification.enabled,
            _ => false,
        }
    }

    /// The range checks of the passes' values, keys named under `prefix`.
    pub fn validate(&self, prefix: &str) -> Result<()> {
        for (key, value, lo, hi) in [
            ("hihat_onsets.delta", self.hihat_onsets.delta, 0.0, 1.0),
            (
                "ring_test.max_ring_db",
                self.ring_test.max_ring_db,
                -60.0,
                60.0,
            ),
            (
                "kick_low_band.margin_db",
                self.kick_low_band.margin_db,
                0.0,
                120.0,
            ),
            (
                "cymbal_gate.min_height",
                self.cymbal_gate.min_height,
                0.0,
                1.0,
            ),
            (
                "cymbal_gate.min_rise_db",
                self.cymbal_gate.min_rise_db,
                -60.0,
                60.0,
            ),
            ("verification.min_db", self.verification.min_db, -60.0, 60.0),
            (
                "verification.min_part",
                self.verification.min_part,
                0.0,
                1.0,
            ),
            (
                "verification.window_seconds",
                self.verification.window_seconds,
                0.01,
                1.0,
            ),
            (
                "verification.template_seconds",
                self.verification.template_seconds,
                0.01,
                2.0,
            ),
            (
                "verification.floor_db",
                self.verification.floor_db,
                -160.0,
                0.0,
            ),
        ] {
            if !(value.is_finite() && (lo..=hi).contains(&value)) {
                return Err(Error::config(
                    format!("{prefix}.{key}"),
                    format!("must be in {lo}..={hi}"),
                ));
            }
        }
        let v = &self.verification;
        if v.iterations > 1_000 {
            return Err(Error::config(
                format!("{prefix}.verification.iterations"),
                "must be at most 1000",
            ));
        }
        if let Some(bad) = v.classes.iter().chain(&v.trusted).find(|l| {
            !crate::kit::DrumClass::ALL
                .iter()
                .any(|c| c.label() == l.as_str())
        }) {
            return Err(Error::config(
                format!("{prefix}.verification.classes"),
                format!("unknown class `{bad}` (KD, SD, HH, TT, CY or OT)"),
            ));
        }
        Ok(())
    }
}
