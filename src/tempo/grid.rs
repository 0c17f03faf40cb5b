//! A beat grid: beat times in seconds and where bars start. Positions between beats are
//! linear in time; before the first and after the last beat the nearest interval goes on.

use serde::Serialize;

/// Beat times (seconds, strictly increasing, at least two) and the bar structure.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BeatGrid {
    pub beats: Vec<f64>,
    /// Index into `beats` of the first beat that starts a bar.
    pub first_downbeat: usize,
    pub beats_per_bar: u32,
}

/// Where a time falls in bars: `bar` counts from 1 at the first downbeat (0 and below before
/// it), `beat` from 1.0 at the bar line (2.5 = the "and" of two).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Position {
    pub bar: i64,
    pub beat: f64,
}

impl BeatGrid {
    /// Beats every `60 / bpm` seconds through `first_downbeat`, from the earliest at or after
    /// `start` (and 0 s) to the first at or after `end`, bars of `beats_per_bar`. `None` when
    /// the numbers make no grid (non-positive tempo, a downbeat before 0 s).
    pub fn uniform(
        bpm: f64,
        first_downbeat: f64,
        start: f64,
        end: f64,
        beats_per_bar: u32,
    ) -> Option<BeatGrid> {
        if !(bpm.is_finite() && bpm > 0.0 && first_downbeat.is_finite()) {
            return None;
        }
        let period = 60.0 / bpm;
        let start = start.min(first_downbeat).max(0.0);
        let end = end.max(first_downbeat + period);
        let k0 = ((start - first_downbeat) / period - 1e-9).ceil() as i64;
        let k1 = ((end - first_downbeat) / period).ceil() as i64;
        let beats: Vec<f64> = (k0..=k1)
            .map(|k| first_downbeat + k as f64 * period)
            .collect();
        let index = usize::try_from(-k0).ok()?;
        BeatGrid::new(beats, index, beats_per_bar)
    }

    /// Checks the invariants; moves `first_downbeat` to the first downbeat inside the grid.
    pub fn new(beats: Vec<f64>, first_downbeat: usize, beats_per_bar: u32) -> Option<BeatGrid> {
        let ok = beats.len() >= 2
            && beats.iter().all(|b| b.is_finite())
            && beats.windows(2).all(|w| w[1] > w[0]);
        if !ok || beats_per_bar == 0 {
            return None;
        }
        let first_downbeat = first_downbeat % beats_per_bar as usize;
        if first_downbeat >= beats.len() {
            return None;
        }
        Some(BeatGrid {
            first_downbeat,
            beats,
            beats_per_bar,
        })
    }

    /// The tempo of the grid in beats per minute: the median beat interval.
    pub fn bpm(&self) -> f64 {
        let mut d: Vec<f64> = self.beats.windows(2).map(|w| w[1] - w[0]).collect();
        d.sort_by(f64::total_cmp);
        60.0 / d[d.len() / 2]
    }

    /// Whether every beat interval is within `tolerance` (relative) of the median.
    pub fn is_steady(&self, tolerance: f64) -> bool {
        let p = 60.0 / self.bpm();
        self.beats
            .windows(2)
            .all(|w| ((w[1] - w[0]) / p - 1.0).abs() <= tolerance)
    }

    pub fn downbeats(&self) -> Vec<f64> {
        self.beats
            .iter()
            .skip(self.first_downbeat)
            .step_by(self.beats_per_bar as usize)
            .copied()
            .collect()
    }

    /// The fractional beat index of `t` (beat `i` is at `beats[i]`), extrapolated with the
    /// first or last interval outside the grid.
    pub fn beat_position(&self, t: f64) -> f64 {
        let b = &self.beats;
        let n = b.len();
        let i = b.partition_point(|&x| x <= t);
        let (lo, hi) = if i == 0 {
            (0, 1)
        } else if i >= n {
            (n - 2, n - 1)
        } else {
            (i - 1, i)
        };
        lo as f64 + (t - b[lo]) / (b[hi] - b[lo])
    }

    /// The time of a fractional beat index (inverse of [`BeatGrid::beat_position`]).
    pub fn time_at(&self, position: f64) -> f64 {
        let b = &self.beats;
        let n = b.len();
        let lo = if position < 0.0 {
            0
        } else {
            (position.floor() as usize).min(n - 2)
        };
        b[lo] + (position - lo as f64) * (b[lo + 1] - b[lo])
    }

    /// Bar and beat of `t`.
    pub fn position(&self, t: f64) -> Position {
        let rel = self.beat_position(t) - self.first_downbeat as f64;
        let per = f64::from(self.beats_per_bar);
        // Half a microbeat of slack: a hit on the bar line must not print as 4.9999 of the
        // bar before.
        let bar = ((rel + 1e-6) / per).floor();
        let beat = (rel - bar * per).max(0.0) + 1.0;
        Position {
            bar: bar as i64 + 1,
            beat,
        }
    }

    /// The local tempo at `t` (the interval that holds it).
    pub fn bpm_at(&self, t: f64) -> f64 {
        let pos = self.beat_position(t).max(0.0);
        let i = (pos.floor() as usize).min(self.beats.len() - 2);
        60.0 / (self.beats[i + 1] - self.beats[i])
    }

    /// The grid as a MIDI file must begin: the beats extended back to start exactly at 0 s
    /// (beats before the first one continue its interval; what is left before the earliest
    /// becomes a pickup beat of its own when it is at least half an interval, else it lengthens
    /// the first beat), with the index of the first downbeat in the result.
    pub fn anchored_at_zero(&self) -> (Vec<f64>, usize) {
        let mut beats = self.beats.clone();
        let mut first = self.first_downbeat;
        let p0 = beats[1] - beats[0];
        // A microsecond of slack: a beat a hair after 0 is at 0.
        while beats[0] - p0 > -1e-6 {
            let b = (beats[0] - p0).max(0.0);
            beats.insert(0, b);
            first += 1;
            if b == 0.0 {
                break;
            }
        }
        let r = beats[0];
        if r > 1e-6 {
            if r >= 0.5 * p0 || first == 0 {
                beats.insert(0, 0.0);
                first += 1;
            } else {
                // The earliest beat is no downbeat (first > 0): fold the remainder into it.
                beats[0] = 0.0;
            }
        } else {
            beats[0] = 0.0;
        }
        (beats, first)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uniform_grid_positions_and_inverse() {
        let g = BeatGrid::uniform(120.0, 1.25, 0.0, 10.0, 4).unwrap();
        assert!((g.bpm() - 120.0).abs() < 1e-9);
        assert!(g.is_steady(1e-9));
        assert_eq!(g.beats[g.first_downbeat], 1.25);
        let p = g.position(1.25);
        assert_eq!((p.bar, p.beat), (1, 1.0));
        let p = g.position(1.25 + 2.0 + 0.25);
        assert_eq!(p.bar, 2);
        assert!((p.beat - 1.5).abs() < 1e-9);
        let p = g.position(0.75);
        assert_eq!(p.bar, 0);
        assert!((p.beat - 4.0).abs() < 1e-9);
        for t in [0.0, 0.3, 3.3, 9.99, 12.0] {
            assert!((g.time_at(g.beat_position(t)) - t).abs() < 1e-9);
        }
        assert_eq!(g.downbeats()[1], 3.25);
    }

    #[test]
    fn anchoring_starts_at_zero_and_keeps_the_downbeat() {
        // 0.8 s first beat at 1 s period: 0.8 >= 0.5: a pickup beat [0, 0.8).
        let g = BeatGrid::new(vec![0.8, 1.8, 2.8, 3.8, 4.8], 1, 4).unwrap();
        let (beats, first) = g.anchored_at_zero();
        assert_eq!(beats[0], 0.0);
        assert_eq!(beats[first], 1.8);
        // 1.3 s: one beat back (0.3 s) is < half: it lengthens the beat at 0.3 -> 0.
        let g = BeatGrid::new(vec![1.3, 2.3, 3.3, 4.3], 0, 4).unwrap();
        let (beats, first) = g.anchored_at_zero();
        assert_eq!(beats[..3], [0.0, 1.3, 2.3]);
        assert_eq!(beats[first], 1.3);
        // A downbeat right at the start stays first and no pickup appears.
        let g = BeatGrid::new(vec![0.0, 0.5, 1.0], 0, 4).unwrap();
        assert_eq!(g.anchored_at_zero(), (vec![0.0, 0.5, 1.0], 0));
        // A first downbeat 0.1 s in, nothing before: a short pickup beat.
        let g = BeatGrid::new(vec![0.1, 0.6, 1.1], 0, 4).unwrap();
        let (beats, first) = g.anchored_at_zero();
        assert_eq!((beats[0], beats[first]), (0.0, 0.1));
    }
}
