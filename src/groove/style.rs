//! Groove styles and the kit pieces a drummer plays them on.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::kit::components::{COMPONENTS, RIDE_BELL};

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
    /// Swung ride ("ding ding-a ding"), hi-hat pedal on 2 and 4, feathered kick, comping.
    Jazz,
    /// Bossa, samba and songo figures: cross-stick clave, floor-tom surdo, ride-bell parts.
    Latin,
    /// Blast beats: 16th kick/snare, alternating or in unison, at high tempo.
    Blast,
    /// Brush ballad: quiet snare swishes on the quarters, soft kick and ride.
    Ballad,
    /// Electronic four-on-the-floor: clap on 2 and 4, 16th hats, open off-beat hats.
    Electro,
    /// Half-time trap: 808-style kicks, hats with 32nd-note and triplet rolls.
    Trap,
    /// Tom grooves: floor and mid toms carry the time.
    Toms,
}

impl Style {
    /// The original eight styles: the default `[groove] styles`, so that default training data
    /// stay what they always were.
    pub const CLASSIC: [Style; 8] = [
        Style::Rock,
        Style::Funk,
        Style::Shuffle,
        Style::HalfTime,
        Style::DoubleKick,
        Style::Breakbeat,
        Style::Sparse,
        Style::Disco,
    ];

    /// Every style, the classic ones first.
    pub const ALL: [Style; 15] = [
        Style::Rock,
        Style::Funk,
        Style::Shuffle,
        Style::HalfTime,
        Style::DoubleKick,
        Style::Breakbeat,
        Style::Sparse,
        Style::Disco,
        Style::Jazz,
        Style::Latin,
        Style::Blast,
        Style::Ballad,
        Style::Electro,
        Style::Trap,
        Style::Toms,
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
            Style::Jazz => "jazz",
            Style::Latin => "latin",
            Style::Blast => "blast",
            Style::Ballad => "ballad",
            Style::Electro => "electro",
            Style::Trap => "trap",
            Style::Toms => "toms",
        }
    }

    /// The tempo range the style is played in, BPM: a performance draws its tempo from this
    /// range intersected with `[bpm_min, bpm_max]` (from the nearer bound when they do not
    /// meet). `None` for the classic styles, which take the settings' range as it is.
    pub(crate) fn tempo_range(self) -> Option<(f64, f64)> {
        match self {
            Style::Jazz => Some((100.0, 240.0)),
            Style::Latin => Some((90.0, 200.0)),
            Style::Blast => Some((160.0, 260.0)),
            Style::Ballad => Some((55.0, 85.0)),
            Style::Electro => Some((115.0, 135.0)),
            Style::Trap => Some((130.0, 170.0)),
            Style::Toms => Some((80.0, 160.0)),
            _ => None,
        }
    }

    /// The style's habit when `[groove] tom_fill_probability` is `"style"`: the chance that a fill
    /// stays on the toms. `None` for the classic styles, which keep their original mix of
    /// fills (one in six on the toms alone).
    pub(crate) fn tom_fill_habit(self) -> Option<f64> {
        match self {
            Style::Toms => Some(0.9),
            Style::Latin => Some(0.6),
            Style::Jazz | Style::Blast | Style::Ballad => Some(0.4),
            Style::Electro | Style::Trap => Some(0.2),
            _ => None,
        }
    }

    /// The style's habit when `[groove] accent_crash_probability` is `"style"`: the chance per bar
    /// of a crash accent inside the bar (0 for the classic styles).
    pub(crate) fn accent_crash_habit(self) -> f64 {
        match self {
            Style::Blast => 0.3,
            Style::Toms => 0.25,
            Style::Jazz | Style::Electro => 0.15,
            Style::Latin | Style::Trap => 0.1,
            Style::Ballad => 0.05,
            _ => 0.0,
        }
    }

    /// Scale of fill and crash levels: a brush ballad's fills stay soft.
    pub(crate) fn fill_level(self) -> f64 {
        if self == Style::Ballad {
            0.55
        } else {
            1.0
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
    // Pieces outside the model's 11 components: they sound (and are annotated) as the
    // component of their class (cross-stick: snare; bell, china, splash: cymbals).
    RideBell,
    CrossStick,
    China,
    Splash,
}

impl Piece {
    pub(crate) fn gm_note(self) -> u8 {
        match self {
            Piece::RideBell => RIDE_BELL.gm_note,
            // General MIDI side stick, Chinese cymbal, splash cymbal.
            Piece::CrossStick => 37,
            Piece::China => 52,
            Piece::Splash => 55,
            // The first 11 pieces follow [`COMPONENTS`]' order.
            _ => COMPONENTS[self as usize].gm_note,
        }
    }

    /// Pieces played by the "cymbal hand": two of them cannot sound at the same instant.
    pub(crate) fn is_timekeeping_cymbal(self) -> bool {
        matches!(
            self,
            Piece::ClosedHat | Piece::OpenHat | Piece::Ride | Piece::RideBell
        )
    }

    /// Cymbals struck for an accent.
    pub(crate) fn is_crash(self) -> bool {
        matches!(self, Piece::Crash | Piece::China | Piece::Splash)
    }

    /// The pieces annotated as snare (SD).
    pub(crate) fn is_snare(self) -> bool {
        matches!(self, Piece::Snare | Piece::CrossStick)
    }

    /// The pieces annotated as hi-hat (HH).
    pub(crate) fn is_hihat(self) -> bool {
        matches!(self, Piece::ClosedHat | Piece::OpenHat | Piece::PedalHat)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kit::components::DrumClass;

    #[test]
    fn pieces_follow_component_order() {
        assert_eq!(Piece::Kick.gm_note(), 36);
        assert_eq!(Piece::PedalHat.gm_note(), 44);
        assert_eq!(Piece::FloorTom.gm_note(), 43);
        assert_eq!(Piece::Tambourine.gm_note(), 54);
    }

    #[test]
    fn extra_pieces_fold_into_their_class() {
        let class = |p: Piece| DrumClass::from_gm_note(p.gm_note());
        assert_eq!(class(Piece::CrossStick), Some(DrumClass::SD));
        for p in [Piece::RideBell, Piece::China, Piece::Splash] {
            assert_eq!(class(p), Some(DrumClass::CY), "{p:?}");
        }
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
        assert!(Style::CLASSIC.iter().all(|s| s.tempo_range().is_none()));
        assert!(Style::ALL[8..].iter().all(|s| s.tempo_range().is_some()));
    }
}
