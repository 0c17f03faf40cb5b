//! The drum components DrummerNet transcribes, their order, evaluation class and GM note.

use serde::{Deserialize, Serialize};

/// Evaluation class a component folds into (spec section 9/10; PRODUCT.md "Data flow").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum DrumClass {
    KD,
    SD,
    HH,
    TT,
    CY,
    /// Tambourine and anything else outside the five evaluated classes.
    OT,
}

impl DrumClass {
    pub const EVALUATED: [DrumClass; 5] = [
        DrumClass::KD,
        DrumClass::SD,
        DrumClass::HH,
        DrumClass::TT,
        DrumClass::CY,
    ];
    /// Every class, in order.
    pub const ALL: [DrumClass; 6] = [
        DrumClass::KD,
        DrumClass::SD,
        DrumClass::HH,
        DrumClass::TT,
        DrumClass::CY,
        DrumClass::OT,
    ];

    pub fn label(self) -> &'static str {
        match self {
            DrumClass::KD => "KD",
            DrumClass::SD => "SD",
            DrumClass::HH => "HH",
            DrumClass::TT => "TT",
            DrumClass::CY => "CY",
            DrumClass::OT => "OT",
        }
    }

    pub fn from_label(label: &str) -> Option<DrumClass> {
        Some(match label.trim() {
            "KD" => DrumClass::KD,
            "SD" => DrumClass::SD,
            "HH" => DrumClass::HH,
            "TT" => DrumClass::TT,
            "CY" => DrumClass::CY,
            "OT" => DrumClass::OT,
            _ => return None,
        })
    }

    /// Folds a General MIDI percussion note into a class (None for notes outside the drum kit).
    pub fn from_gm_note(note: u8) -> Option<DrumClass> {
        Some(match note {
            35 | 36 => DrumClass::KD,
            37..=40 => DrumClass::SD,
            42 | 44 | 46 => DrumClass::HH,
            41 | 43 | 45 | 47 | 48 | 50 => DrumClass::TT,
            49 | 51 | 52 | 53 | 55 | 57 | 59 => DrumClass::CY,
            54 | 56 | 58 | 60..=81 => DrumClass::OT,
            _ => return None,
        })
    }
}

/// One drum component of the synthesizer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Component {
    /// File-name stem used by the drum-source folders, e.g. `KD_KD`.
    pub name: &'static str,
    pub description: &'static str,
    pub class: DrumClass,
    /// Default General MIDI note (channel 10) for export.
    pub gm_note: u8,
}

/// The 11 components in the model's fixed channel order (spec section 9). The order matters:
/// the third GRU scans components in this order.
pub const COMPONENTS: [Component; 11] = [
    Component {
        name: "KD_KD",
        description: "kick drum",
        class: DrumClass::KD,
        gm_note: 36,
    },
    Component {
        name: "SD_SD",
        description: "snare drum",
        class: DrumClass::SD,
        gm_note: 38,
    },
    Component {
        name: "HH_CHH",
        description: "closed hi-hat",
        class: DrumClass::HH,
        gm_note: 42,
    },
    Component {
        name: "HH_OHH",
        description: "open hi-hat",
        class: DrumClass::HH,
        gm_note: 46,
    },
    Component {
        name: "HH_PHH",
        description: "pedal hi-hat",
        class: DrumClass::HH,
        gm_note: 44,
    },
    Component {
        name: "TT_HIT",
        description: "high tom",
        class: DrumClass::TT,
        gm_note: 50,
    },
    Component {
        name: "TT_MHT",
        description: "high-mid tom",
        class: DrumClass::TT,
        gm_note: 48,
    },
    Component {
        name: "TT_HFT",
        description: "high floor tom",
        class: DrumClass::TT,
        gm_note: 43,
    },
    Component {
        name: "CY_RDC",
        description: "ride cymbal",
        class: DrumClass::CY,
        gm_note: 51,
    },
    Component {
        name: "CY_CRC",
        description: "crash cymbal",
        class: DrumClass::CY,
        gm_note: 49,
    },
    Component {
        name: "OT_TMB",
        description: "tambourine",
        class: DrumClass::OT,
        gm_note: 54,
    },
];

/// Shipped in every drum-source kit but not used by the default model.
pub const RIDE_BELL: Component = Component {
    name: "CY_RDB",
    description: "ride bell",
    class: DrumClass::CY,
    gm_note: 53,
};

/// Default component names in model order.
pub fn default_component_names() -> Vec<String> {
    COMPONENTS.iter().map(|c| c.name.to_string()).collect()
}

/// Every component a kit may have: the model's 11 in order, then the ride bell.
pub fn all_component_names() -> Vec<String> {
    COMPONENTS
        .iter()
        .chain(std::iter::once(&RIDE_BELL))
        .map(|c| c.name.to_string())
        .collect()
}

/// Looks a component up by its name (`KD_KD`...), including the ride bell.
pub fn component_by_name(name: &str) -> Option<&'static Component> {
    COMPONENTS
        .iter()
        .chain(std::iter::once(&RIDE_BELL))
        .find(|c| c.name == name)
}

/// The component a GM note triggers when rendering MIDI through a kit (closest sound).
pub fn component_for_gm_note(note: u8) -> Option<&'static Component> {
    let name = match note {
        35 | 36 => "KD_KD",
        37..=40 => "SD_SD",
        42 => "HH_CHH",
        46 => "HH_OHH",
        44 => "HH_PHH",
        48 | 50 => {
            if note == 50 {
                "TT_HIT"
            } else {
                "TT_MHT"
            }
        }
        45 | 47 => "TT_MHT",
        41 | 43 => "TT_HFT",
        51 | 59 => "CY_RDC",
        53 => "CY_RDB",
        49 | 52 | 55 | 57 => "CY_CRC",
        54 | 56 | 58 => "OT_TMB",
        _ => return None,
    };
    component_by_name(name)
}
