//! Where the microphones stood: overheads hear the cymbals and the room, close mics the
//! drums dry. This changes the balance between components, so it acts while mixing (a gain
//! per drum class, see [`render_through_mics`](super::render_through_mics)), before the
//! rest of the augmentation.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::settings::AugmentSettings;
use crate::kit::components::DrumClass;

/// A salt for the placement's own random stream, so that the augmentation's stream of the
/// same seed is untouched (the defaults must draw exactly what they always drew).
const MIC_SALT: u64 = 0x6d69_6373; // "mics"

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MicSetup {
    /// A pair above the kit: cymbals and hats up, the kick down, a little room.
    Overhead,
    /// A mic on each drum: kick and snare up, the cymbals only as they bleed in, dry.
    Close,
}

/// A drawn microphone placement: the setup and its level change per drum class.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MicPlacement {
    pub setup: MicSetup,
    /// How strongly the balance tips, in dB (the largest class change).
    pub tip_db: f64,
    /// Wet ratio of the room the overheads hear (0 for close mics).
    pub room_wet: f64,
}

impl MicPlacement {
    /// Level change in dB of one drum class under this placement.
    pub fn class_gain_db(&self, class: DrumClass) -> f64 {
        let d = self.tip_db;
        match (self.setup, class) {
            (MicSetup::Overhead, DrumClass::HH | DrumClass::CY) => d / 2.0,
            (MicSetup::Overhead, DrumClass::KD) => -d / 2.0,
            (MicSetup::Overhead, _) => -d / 6.0,
            (MicSetup::Close, DrumClass::KD | DrumClass::SD) => d / 2.0,
            (MicSetup::Close, DrumClass::TT) => d / 6.0,
            (MicSetup::Close, _) => -d / 2.0,
        }
    }

    /// Amplitude factor of one drum class.
    pub fn class_gain(&self, class: DrumClass) -> f32 {
        10f64.powf(self.class_gain_db(class) / 20.0) as f32
    }
}

/// The placement for augmentation seed `seed`: `None` when augmentation is off or the draw
/// (with `mic_probability`) says the kit is heard as rendered. Deterministic per seed.
pub fn mic_placement(seed: u64, settings: &AugmentSettings) -> Option<MicPlacement> {
    let p = settings.mic_probability;
    // Written so that a NaN probability also means "off".
    if !settings.enabled || p.is_nan() || p <= 0.0 {
        return None;
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ MIC_SALT);
    if !rng.random_bool(p.min(1.0)) {
        return None;
    }
    let setup = if rng.random_bool(0.5) {
        MicSetup::Overhead
    } else {
        MicSetup::Close
    };
    let max = settings.mic_tip_db_max.max(0.0);
    let tip_db = rng.random_range(0.0..=max) * 0.5 + max * 0.5;
    let room_wet = match setup {
        MicSetup::Overhead => rng.random_range(0.0..=settings.mic_room_wet_max.clamp(0.0, 1.0)),
        MicSetup::Close => 0.0,
    };
    Some(MicPlacement {
        setup,
        tip_db,
        room_wet,
    })
}
