//! Tempo changes inside a performance: a step at a phrase boundary (the next section at another
//! tempo) or a ramp over a few bars (accelerando, ritardando). Songs do this, and a tempo map
//! estimated from a transcription can only be measured against grooves whose map is known.
//!
//! The tempo is constant within a bar; a ramp moves it bar by bar, as a DAW's stepped tempo
//! map would.

use rand::Rng;

use super::settings::GrooveSettings;

/// The fewest bars kept at each tempo around a change, so that both tempi can be heard.
const MIN_BARS_EACH_SIDE: u64 = 2;

/// The longest ramp, in bars.
const MAX_RAMP_BARS: u64 = 4;

/// One tempo change of a performance.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct TempoChange {
    /// The first bar (counted from 0) whose tempo differs from the start's.
    pub at_bar: u64,
    /// Bars over which the tempo moves (1: a step).
    pub ramp_bars: u64,
    pub from_bpm: f64,
    pub to_bpm: f64,
}

impl TempoChange {
    /// Draws whether a performance of about `bars` bars at `bpm` changes tempo, and how.
    /// Nothing is drawn when the settings' probability is 0, so that the streams of seeds made
    /// without tempo changes stay as they were.
    pub fn draw(
        bpm: f64,
        bars: u64,
        phrase_bars: u64,
        settings: &GrooveSettings,
        rng: &mut impl Rng,
    ) -> Option<TempoChange> {
        let p = settings.tempo_change_probability;
        if !(p.is_finite() && p > 0.0 && rng.random_bool(p.min(1.0))) {
            return None;
        }
        let lo = settings.tempo_change_percent_min.max(0.0) / 100.0;
        let hi = (settings.tempo_change_percent_max / 100.0).max(lo);
        let size = if hi > lo {
            rng.random_range(lo..=hi)
        } else {
            lo
        };
        let faster = rng.random_bool(0.5);
        let ramp = rng.random_bool(settings.tempo_ramp_probability.clamp(0.0, 1.0));
        let ramp_bars = if ramp {
            rng.random_range(2..=MAX_RAMP_BARS)
        } else {
            1
        };
        // A phrase boundary with room for both tempi, else the middle of the performance.
        let last = bars.checked_sub(MIN_BARS_EACH_SIDE + ramp_bars)?;
        let boundaries: Vec<u64> = (1..)
            .map(|k| k * phrase_bars)
            .take_while(|&b| b <= last)
            .filter(|&b| b >= MIN_BARS_EACH_SIDE)
            .collect();
        let at_bar = if boundaries.is_empty() {
            let middle = bars / 2;
            (MIN_BARS_EACH_SIDE..=last)
                .contains(&middle)
                .then_some(middle)?
        } else {
            boundaries[rng.random_range(0..boundaries.len())]
        };
        let to_bpm = (bpm
            * if faster {
                1.0 + size
            } else {
                1.0 / (1.0 + size)
            })
        .clamp(20.0, 400.0);
        Some(TempoChange {
            at_bar,
            ramp_bars,
            from_bpm: bpm,
            to_bpm,
        })
    }

    /// The tempo of bar `index` (from 0).
    pub fn bpm_of_bar(&self, index: u64) -> f64 {
        if index < self.at_bar {
            return self.from_bpm;
        }
        let done = (index - self.at_bar + 1).min(self.ramp_bars) as f64 / self.ramp_bars as f64;
        self.from_bpm + (self.to_bpm - self.from_bpm) * done
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    use super::*;

    fn settings(probability: f64, ramp: f64) -> GrooveSettings {
        GrooveSettings {
            tempo_change_probability: probability,
            tempo_ramp_probability: ramp,
            ..GrooveSettings::default()
        }
    }

    #[test]
    fn a_step_changes_the_tempo_once_by_the_drawn_amount() {
        let s = settings(1.0, 0.0);
        for seed in 0..50 {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let c = TempoChange::draw(120.0, 16, 4, &s, &mut rng).expect("a change");
            assert_eq!(c.ramp_bars, 1);
            assert!(
                c.at_bar.is_multiple_of(4) && (2..=13).contains(&c.at_bar),
                "{c:?}"
            );
            let ratio = (c.to_bpm / c.from_bpm).max(c.from_bpm / c.to_bpm);
            assert!((1.06 - 1e-9..=1.15 + 1e-9).contains(&ratio), "{c:?}");
            assert_eq!(c.bpm_of_bar(c.at_bar - 1), 120.0);
            assert_eq!(c.bpm_of_bar(c.at_bar), c.to_bpm);
            assert_eq!(c.bpm_of_bar(100), c.to_bpm);
        }
    }

    #[test]
    fn a_ramp_moves_bar_by_bar_to_its_target() {
        let s = settings(1.0, 1.0);
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let c = TempoChange::draw(100.0, 12, 8, &s, &mut rng).expect("a change");
        assert!((2..=MAX_RAMP_BARS).contains(&c.ramp_bars));
        let tempi: Vec<f64> = (0..12).map(|b| c.bpm_of_bar(b)).collect();
        let steps: Vec<f64> = tempi.windows(2).map(|w| w[1] - w[0]).collect();
        // Monotone, `ramp_bars` equal steps, then constant at the target.
        assert_eq!(
            steps.iter().filter(|s| s.abs() > 1e-9).count() as u64,
            c.ramp_bars
        );
        assert!(steps.iter().all(|s| s * (c.to_bpm - 100.0) >= 0.0));
        assert_eq!(tempi[11], c.to_bpm);
    }

    #[test]
    fn no_change_when_off_or_too_short() {
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        assert_eq!(
            TempoChange::draw(120.0, 16, 4, &settings(0.0, 0.5), &mut rng),
            None
        );
        // Off draws nothing: the stream goes on as if the function were never called.
        let mut fresh = ChaCha8Rng::seed_from_u64(0);
        assert_eq!(rng.random::<u64>(), fresh.random::<u64>());
        assert_eq!(
            TempoChange::draw(120.0, 4, 4, &settings(1.0, 0.0), &mut rng),
            None
        );
    }
}
