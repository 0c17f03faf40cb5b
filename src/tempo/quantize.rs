//! Snapping onsets to a subdivision of the beat grid, partly (strength) and with swing; the
//! raw timing is always kept beside it.

use std::fmt;
use std::str::FromStr;

use super::grid::BeatGrid;

/// A note value to snap to: `1/8`, `1/16`, `1/16t` (triplet), `1/32`...
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuantizeGrid {
    /// The note value's denominator: 4 = quarter notes, 16 = sixteenths.
    pub division: u32,
    pub triplet: bool,
}

impl QuantizeGrid {
    /// Grid step in beats (quarter notes).
    pub fn step_beats(self) -> f64 {
        let straight = 4.0 / f64::from(self.division);
        if self.triplet {
            straight * 2.0 / 3.0
        } else {
            straight
        }
    }

    /// A name fit for a file name: `1-16`, `1-16t`.
    pub fn file_tag(self) -> String {
        format!("1-{}{}", self.division, if self.triplet { "t" } else { "" })
    }
}

impl fmt::Display for QuantizeGrid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "1/{}{}",
            self.division,
            if self.triplet { "t" } else { "" }
        )
    }
}

impl FromStr for QuantizeGrid {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || {
            format!(
                "quantize grid `{s}`: expected 1/4, 1/8, 1/16, 1/32 or 1/64, with `t` for \
                 triplets (1/8t, 1/16t)"
            )
        };
        let t = s.trim().to_ascii_lowercase();
        let rest = t.strip_prefix("1/").ok_or_else(bad)?;
        let (digits, triplet) = match rest.strip_suffix('t') {
            Some(d) => (d, true),
            None => (rest, false),
        };
        let division: u32 = digits.parse().map_err(|_| bad())?;
        if ![1, 2, 4, 8, 16, 32, 64].contains(&division) {
            return Err(bad());
        }
        Ok(QuantizeGrid { division, triplet })
    }
}

/// A quantiser: grid, strength (0 = raw timing, 1 = on the grid) and swing.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Quantizer {
    pub grid: QuantizeGrid,
    /// 0..=1.
    pub strength: f64,
    /// Where the second of each pair of grid steps falls, in percent of the pair: 50 = straight,
    /// 66.7 = triplet swing, up to 75. Ignored on triplet grids (they are swung already).
    pub swing_percent: f64,
}

impl Quantizer {
    /// The time `t` (seconds) moved towards its nearest grid point; never before 0 s.
    pub fn quantize(&self, grid: &BeatGrid, t: f64) -> f64 {
        let origin = grid.first_downbeat as f64;
        let rel = grid.beat_position(t) - origin;
        let step = self.grid.step_beats();
        let target = if self.grid.triplet || (self.swing_percent - 50.0).abs() < 1e-9 {
            (rel / step).round() * step
        } else {
            // Swung pairs: [pair start, pair start + swing x pair length, next pair start].
            let pair = 2.0 * step;
            let start = (rel / pair).floor() * pair;
            [
                start,
                start + pair * self.swing_percent / 100.0,
                start + pair,
            ]
            .into_iter()
            .min_by(|a, b| (a - rel).abs().total_cmp(&(b - rel).abs()))
            .unwrap_or(rel)
        };
        let moved = rel + self.strength * (target - rel);
        grid.time_at(moved + origin).max(0.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grids_parse_and_print() {
        let g: QuantizeGrid = "1/16".parse().unwrap();
        assert_eq!(g.step_beats(), 0.25);
        let t: QuantizeGrid = "1/8T".parse().unwrap();
        assert!((t.step_beats() - 1.0 / 3.0).abs() < 1e-12);
        assert_eq!(t.to_string(), "1/8t");
        assert_eq!(t.file_tag(), "1-8t");
        for bad in ["", "16", "1/12", "1/0", "1/16x", "2/16"] {
            assert!(bad.parse::<QuantizeGrid>().is_err(), "{bad}");
        }
    }

    #[test]
    fn snaps_with_strength_and_swing() {
        // 120 BPM, downbeat at 0.1 s: sixteenths every 0.125 s from 0.1.
        let grid = BeatGrid::uniform(120.0, 0.1, 0.0, 10.0, 4).unwrap();
        let q = Quantizer {
            grid: "1/16".parse().unwrap(),
            strength: 1.0,
            swing_percent: 50.0,
        };
        assert!((q.quantize(&grid, 0.1 + 0.125 + 0.03) - 0.225).abs() < 1e-9);
        let half = Quantizer { strength: 0.5, ..q };
        assert!((half.quantize(&grid, 0.1 + 0.125 + 0.03) - 0.24).abs() < 1e-9);
        // Eighths swung to 2/3: the off-beat moves from 0.25 s to 0.333 s after the beat.
        let swing = Quantizer {
            grid: "1/8".parse().unwrap(),
            strength: 1.0,
            swing_percent: 200.0 / 3.0,
        };
        assert!((swing.quantize(&grid, 0.1 + 0.3) - (0.1 + 1.0 / 3.0)).abs() < 1e-9);
        // Triplet eighths: 1/6 s apart.
        let trip = Quantizer {
            grid: "1/8t".parse().unwrap(),
            ..q
        };
        assert!((trip.quantize(&grid, 0.1 + 0.18) - (0.1 + 1.0 / 6.0)).abs() < 1e-9);
    }
}
