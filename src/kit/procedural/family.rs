//! Kit families: each a distinct sound world the procedural generator can draw from. The family
//! is named in the kit spec (`procedural:electronic:1000-1015`); the seed picks the variant
//! inside it, with the same rule in every family (seeds below 1000 are held out of training).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum KitFamily {
    /// The original generator: stick-played acoustic-ish drums (`procedural:N`).
    #[default]
    Acoustic,
    /// Drum machines: 808/909-style kicks, noise snares and claps, square-bank metal.
    Electronic,
    /// Brushes and rods: swishes and soft taps, felt kick, darker cymbals.
    Brushes,
    /// The acoustic voices through compression, saturation, lo-fi and strong EQ.
    Processed,
    /// The acoustic voices in a synthetic room: early reflections and a reverberant tail.
    Room,
}

/// A family name the generator does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown kit family `{name}` (known: {})", KitFamily::known_names())]
pub struct UnknownKitFamily {
    pub name: String,
}

impl KitFamily {
    pub const ALL: [KitFamily; 5] = [
        KitFamily::Acoustic,
        KitFamily::Electronic,
        KitFamily::Brushes,
        KitFamily::Processed,
        KitFamily::Room,
    ];

    pub fn name(self) -> &'static str {
        match self {
            KitFamily::Acoustic => "acoustic",
            KitFamily::Electronic => "electronic",
            KitFamily::Brushes => "brushes",
            KitFamily::Processed => "processed",
            KitFamily::Room => "room",
        }
    }

    /// `acoustic, electronic, ...`: for error messages.
    pub fn known_names() -> String {
        Self::ALL.map(Self::name).join(", ")
    }

    /// The kit's name: acoustic kits keep the `procedural#N` they always had.
    pub fn kit_name(self, seed: u64) -> String {
        match self {
            KitFamily::Acoustic => format!("procedural#{seed}"),
            other => format!("procedural-{other}#{seed}"),
        }
    }

    /// First ChaCha stream of the family's own draws. Acoustic is 0, so its component streams
    /// (0..12) are the ones kits used before families existed; the others sit far above, so that
    /// no family's parameters are another's.
    pub(super) fn stream_base(self) -> u64 {
        let index = Self::ALL.iter().position(|f| *f == self).unwrap_or(0);
        (index as u64) << 32
    }
}

impl fmt::Display for KitFamily {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for KitFamily {
    type Err = UnknownKitFamily;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let wanted = s.trim();
        Self::ALL
            .into_iter()
            .find(|f| f.name().eq_ignore_ascii_case(wanted))
            .ok_or_else(|| UnknownKitFamily {
                name: wanted.to_string(),
            })
    }
}

impl TryFrom<String> for KitFamily {
    type Error = UnknownKitFamily;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<KitFamily> for String {
    fn from(f: KitFamily) -> String {
        f.name().to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_names_list_the_known_ones() {
        for f in KitFamily::ALL {
            assert_eq!(f.to_string().parse::<KitFamily>().unwrap(), f);
        }
        assert_eq!(
            "Electronic".parse::<KitFamily>().unwrap(),
            KitFamily::Electronic
        );
        let err = "jazz".parse::<KitFamily>().unwrap_err().to_string();
        assert_eq!(
            err,
            "unknown kit family `jazz` (known: acoustic, electronic, brushes, processed, room)"
        );
    }

    #[test]
    fn acoustic_keeps_its_streams_and_name() {
        assert_eq!(KitFamily::Acoustic.stream_base(), 0);
        assert_eq!(KitFamily::default(), KitFamily::Acoustic);
        assert_eq!(KitFamily::Acoustic.kit_name(3), "procedural#3");
        assert_eq!(
            KitFamily::Electronic.kit_name(1003),
            "procedural-electronic#1003"
        );
        let bases: Vec<u64> = KitFamily::ALL.map(KitFamily::stream_base).to_vec();
        assert!(bases.windows(2).all(|w| w[0] < w[1]), "{bases:?}");
    }
}
