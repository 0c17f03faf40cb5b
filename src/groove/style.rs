//! Groove styles and the kit pieces a drummer plays them on.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::kit::components::COMPONENTS;

/// A family of drum patterns. Serialised in lowercase (`halftime`, `doublekick`...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Style {
    /// Kick on 1 and 3 with variations, snare backbeat, 8th hats, open hat pickups.
    Rock,
    /// Syncopated 16th kicks, 16th hats with accents, ghost notes on the snare.
    Funk,
    /// Triplet feel: swung hats, ghosted middle triplets on the snare.
    Shuffle,
    /// Snare on 3 only, busy hats, sparse kicks.
    HalfTime,
    /// Continuous 16th (or gallop) double-kick under a backbeat, cymbals on quarters.
    DoubleKick,
    /// Syncopated break patterns (kicks on the "and"s, displaced snares).
    Breakbeat,
    /// Few hits: kick, a snare, quarter-note hats, quiet.
    Sparse,
    /// Four-on-the-floor kick, open hats on the off-beats.
    Disco,
}

impl Style {
    pub const ALL: [Style; 8] = [
        Style::Rock,
        Style::Funk,
        Style::Shuffle,
        Style::HalfTime,
        Style::DoubleKick,
        Style::Breakbeat,
        Style::Sparse,
        Style::Disco,
    ];

    /// The lowercase name used in config files and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Style::Rock => "rock",
            Style::Funk => "funk",
            Style::Shuffle => "shuffle",
            Style::HalfTime => "halftime",
            Style::DoubleKick => "doublekick",
            Style::Breakbeat => "breakbeat",
            Style::Sparse => "sparse",
            Style::Disco => "disco",
        }
    }

    /// Notes per beat of the style's basic grid (3 for triplet feel).
    pub(crate) fn subdivision(self) -> u32 {
        match self {
            Style::Shuffle => 3,
            _ => 4,
        }
    }
}

impl fmt::Display for Style {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Style {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let wanted = s.trim().to_ascii_lowercase();
        Style::ALL
            .into_iter()
            .find(|st| st.name() == wanted)
            .ok_or_else(|| {
                let names: Vec<&str> = Style::ALL.iter().map(|st| st.name()).collect();
                format!(
                    "unknown groove style `{s}` (expected one of {})",
                    names.join(", ")
                )
            })
    }
}

/// What a drummer hits; each maps to one of the 11 components' GM notes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Piece {
    Kick,
    Snare,
    ClosedHat,
    OpenHat,
    PedalHat,
    HighTom,
    MidTom,
    FloorTom,
    Ride,
    Crash,
    Tambourine,
}

impl Piece {
    /// Index into [`COMPONENTS`] (same order).
    fn component_index(self) -> usize {
        self as usize
    }

    pub(crate) fn gm_note(self) -> u8 {
        COMPONENTS[self.component_index()].gm_note
    }

    /// Pieces played by the "cymbal hand": two of them cannot sound at the same instant.
    pub(crate) fn is_timekeeping_cymbal(self) -> bool {
        matches!(self, Piece::ClosedHat | Piece::OpenHat | Piece::Ride)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_follow_component_order() {
        assert_eq!(Piece::Kick.gm_note(), 36);
        assert_eq!(Piece::PedalHat.gm_note(), 44);
        assert_eq!(Piece::FloorTom.gm_note(), 43);
        assert_eq!(Piece::Tambourine.gm_note(), 54);
    }

    #[test]
    fn names_parse_back_and_serde_is_lowercase() {
        for s in Style::ALL {
            assert_eq!(s.name().parse::<Style>().unwrap(), s);
            assert_eq!(
                serde_json::to_string(&s).unwrap(),
                format!("\"{}\"", s.name())
            );
        }
        assert!("polka".parse::<Style>().is_err());
    }
}
