//! Whole performances: phrases of bars, fills, crashes, humanised timing and velocity.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::bar::ACCENT;
use super::fills::{accent_downbeat, add_fill, crash_accent, crash_at, crash_cymbal};
use super::patterns::{groove_bar, new_section, Feel};
use super::settings::GrooveSettings;
use super::style::Style;
use super::tempo_change::TempoChange;
use crate::midi::MidiNote;

/// Length given to every generated note (drum hits have no musical end).
pub const NOTE_SECONDS: f64 = 0.05;

/// A generated drum performance: what was played, exactly.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Performance {
    pub style: Style,
    pub bpm: f64,
    /// Length of the performance; every note starts in `[0, seconds)`.
    pub seconds: f64,
    /// General MIDI drum notes on channel index 9, sorted by time.
    pub notes: Vec<MidiNote>,
    /// Where the first bar starts, seconds (the groove starts up to half a beat after 0 s);
    /// bars are 4/4 at `bpm` from here: the ground truth of beats and downbeats.
    #[serde(default)]
    pub first_downbeat: f64,
    /// The tempo of each bar from the first, where the tempo changes (`groove.
    /// tempo_change_probability`); empty: every bar at `bpm`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bar_bpms: Vec<f64>,
}

/// Beats per bar of every generated groove.
pub const BEATS_PER_BAR: u32 = 4;

impl Performance {
    /// Every beat in `[0, seconds)` with its number in the bar (1 = downbeat).
    pub fn beats(&self) -> Vec<(f64, u32)> {
        if !self.bar_bpms.is_empty() {
            return self.beats_of_changing_tempo();
        }
        let period = 60.0 / self.bpm;
        let mut out = Vec::new();
        let mut k = 0u32;
        loop {
            let t = self.first_downbeat + f64::from(k) * period;
            if t >= self.seconds || !t.is_finite() {
                return out;
            }
            out.push((t, k % BEATS_PER_BAR + 1));
            k += 1;
        }
    }

    /// [`Performance::beats`] bar by bar at each bar's tempo (the last bar's tempo goes on).
    fn beats_of_changing_tempo(&self) -> Vec<(f64, u32)> {
        let mut out = Vec::new();
        let mut bar_start = self.first_downbeat;
        for bar in 0.. {
            let bpm = self.bar_bpm(bar);
            let period = 60.0 / bpm;
            for k in 0..BEATS_PER_BAR {
                let t = bar_start + f64::from(k) * period;
                if t >= self.seconds || !t.is_finite() {
                    return out;
                }
                out.push((t, k + 1));
            }
            bar_start += f64::from(BEATS_PER_BAR) * period;
        }
        out
    }

    /// The tempo of bar `index` (from 0).
    pub fn bar_bpm(&self, index: usize) -> f64 {
        self.bar_bpms
            .get(index)
            .or(self.bar_bpms.last())
            .copied()
            .unwrap_or(self.bpm)
    }

    /// Whether the tempo changes within the performance.
    pub fn changes_tempo(&self) -> bool {
        self.bar_bpms.iter().any(|&b| b != self.bpm)
    }

    pub fn beat_times(&self) -> Vec<f64> {
        self.beats().into_iter().map(|(t, _)| t).collect()
    }

    pub fn downbeat_times(&self) -> Vec<f64> {
        self.beats()
            .into_iter()
            .filter(|&(_, n)| n == 1)
            .map(|(t, _)| t)
            .collect()
    }
}

/// A standard normal sample (Box-Muller), so that no distribution crate is needed.
pub(crate) fn gaussian(rng: &mut impl Rng) -> f64 {
    let u1: f64 = 1.0 - rng.random::<f64>(); // (0, 1]: ln stays finite
    let u2: f64 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// Draws a performance of `seconds` from the settings, deterministically from `seed`.
///
/// A 4/4 groove in one style and tempo, built of 4- or 8-bar phrases. Each phrase may change
/// section (hats or ride, pattern variant, tambourine); the last bar of a phrase gets a tom fill
/// with `fill_probability`, followed by a crash on the next downbeat. Timing is humanised with
/// clipped gaussian noise, velocities with gaussian noise around the accent pattern. The
/// groove starts up to half a beat after 0 s, so bar lines do not always fall on sample 0.
/// Settings are expected to be valid ([`GrooveSettings::validate`]); out-of-range values are
/// clamped rather than trusted.
pub fn generate_performance(seed: u64, seconds: f64, settings: &GrooveSettings) -> Performance {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let style = if settings.styles.is_empty() {
        Style::Rock
    } else {
        settings.styles[rng.random_range(0..settings.styles.len())]
    };
    let lo = clamp_or(settings.bpm_min, 20.0, 400.0, 60.0);
    let hi = clamp_or(settings.bpm_max, lo, 400.0, lo);
    let (lo, hi) = style_tempo(style, lo, hi);
    let bpm = if hi > lo {
        rng.random_range(lo..=hi)
    } else {
        lo
    };
    let seconds = if seconds.is_finite() {
        seconds.max(0.0)
    } else {
        0.0
    };
    let fill_probability = clamp_or(settings.fill_probability, 0.0, 1.0, 0.0);
    let ride_probability = clamp_or(settings.ride_probability, 0.0, 1.0, 0.0);
    let tambourine_probability = clamp_or(settings.tambourine_probability, 0.0, 1.0, 0.0);
    let std_s = clamp_or(settings.humanize_std_ms, 0.0, 1000.0, 0.0) / 1000.0;
    let max_s = clamp_or(settings.humanize_max_ms, 0.0, 1000.0, 0.0) / 1000.0;
    let velocity_std = clamp_or(settings.velocity_std, 0.0, 127.0, 0.0);
    let crash_probability = clamp_or(settings.crash_probability, 0.0, 1.0, 0.0);
    let pickup_probability = clamp_or(settings.pickup_fill_probability, 0.0, 1.0, 0.0);
    let toms_only = settings
        .tom_fill_probability
        .probability()
        .or(style.tom_fill_habit())
        .map(|p| clamp_or(p, 0.0, 1.0, 0.0));
    let accent_crashes = clamp_or(
        settings
            .accent_crash_probability
            .probability()
            .unwrap_or(style.accent_crash_habit()),
        0.0,
        1.0,
        0.0,
    );
    let china_splash = clamp_or(settings.china_splash_probability, 0.0, 1.0, 0.0);
    let crash_level = ACCENT * style.fill_level();
    let hat_on_snare = clamp_or(settings.hat_on_snare_probability, 0.0, 1.0, 1.0);
    // Its own stream: thinning the hats keeps every other choice of the seed.
    let mut hat_rng = ChaCha8Rng::seed_from_u64(seed ^ 0x004a_70e5_5a2e);

    let feel = Feel {
        style,
        bpm,
        ghost_notes: settings.ghost_notes,
    };
    let beat_seconds = 60.0 / bpm;
    let bar_seconds = 4.0 * beat_seconds;
    let phrase_bars: u64 = if rng.random_bool(0.5) { 4 } else { 8 };
    let start = rng.random::<f64>() * 0.5 * beat_seconds;
    let mut section = new_section(&feel, ride_probability, tambourine_probability, &mut rng);
    let mut crash_next = rng.random_bool(0.5);
    let bars_at_start_tempo = ((seconds - start) / bar_seconds).ceil().max(0.0) as u64;
    let tempo_change = TempoChange::draw(bpm, bars_at_start_tempo, phrase_bars, settings, &mut rng);
    let mut bar_bpms = Vec::new();
    let mut notes = Vec::new();
    let mut index: u64 = 0;
    // With a tempo change, bars start where the previous one ended; without, at whole bars
    // from the start (the arithmetic every seed made before tempo changes existed).
    let mut changing_start = start;
    loop {
        let (bar_start, beat_seconds) = match &tempo_change {
            None => (start + index as f64 * bar_seconds, beat_seconds),
            Some(change) => {
                let bar_bpm = change.bpm_of_bar(index);
                bar_bpms.push(bar_bpm);
                (changing_start, 60.0 / bar_bpm)
            }
        };
        if bar_start >= seconds {
            bar_bpms.truncate(index as usize);
            break;
        }
        changing_start += 4.0 * beat_seconds;
        let phrase_start = index > 0 && index.is_multiple_of(phrase_bars);
        if phrase_start && rng.random_bool(0.5) {
            section = new_section(&feel, ride_probability, tambourine_probability, &mut rng);
        }
        let mut bar = groove_bar(&feel, &section, &mut rng);
        // Drawn whether or not crashes are on, so that turning them off keeps every other
        // choice (sections, fills, styles) of the seed.
        let crash = crash_next || (phrase_start && rng.random_bool(crash_probability));
        if crash && settings.crashes {
            let cymbal = crash_cymbal(china_splash, &mut rng);
            crash_at(&mut bar, 0.0, cymbal, crash_level);
        }
        // Guarded: no draw when accents are off (the classic styles' streams are kept).
        if settings.crashes && accent_crashes > 0.0 && rng.random_bool(accent_crashes) {
            let cymbal = crash_cymbal(china_splash, &mut rng);
            crash_accent(&mut bar, &feel, cymbal, &mut rng);
        }
        crash_next = false;
        let phrase_end = (index + 1).is_multiple_of(phrase_bars);
        if phrase_end && rng.random_bool(fill_probability) {
            let beats = if bpm >= 100.0 {
                [1, 2, 2, 4][rng.random_range(0..4)]
            } else {
                [1, 2][rng.random_range(0..2)]
            };
            add_fill(&mut bar, &feel, beats, toms_only, &mut rng);
            crash_next = true;
        } else if (index + 1) % 4 == 2 && rng.random_bool(pickup_probability * fill_probability) {
            // A short pickup fill in the middle of a phrase.
            add_fill(&mut bar, &feel, 1, toms_only, &mut rng);
            crash_next = rng.random_bool(0.5);
        }
        if settings.accents {
            accent_downbeat(&mut bar);
        }
        bar.sort();
        for hit in &bar.hits {
            let jitter = (gaussian(&mut rng) * std_s).clamp(-max_s, max_s);
            let time = (bar_start + hit.beat * beat_seconds + jitter).max(0.0);
            let velocity = (hit.level * 127.0 + gaussian(&mut rng) * velocity_std)
                .round()
                .clamp(1.0, 127.0) as u8;
            // Decided after the stroke's own draws, so that a dropped hat changes nothing else.
            let dropped = hat_on_snare < 1.0
                && bar.is_hat_on_snare(hit)
                && !hat_rng.random_bool(hat_on_snare);
            if time < seconds && !dropped {
                let length = if hit.length > 0.0 {
                    hit.length * beat_seconds
                } else {
                    NOTE_SECONDS
                };
                notes.push(MidiNote::drum(time, hit.piece.gm_note(), velocity, length));
            }
        }
        index += 1;
    }
    notes.sort_by(|a, b| a.time.total_cmp(&b.time).then(a.note.cmp(&b.note)));
    Performance {
        style,
        bpm,
        seconds,
        notes,
        first_downbeat: start,
        bar_bpms,
    }
}

/// The tempo range of `style` within the settings' `[lo, hi]`: the two ranges' overlap, or
/// the settings' bound nearest the style's range when they do not overlap.
fn style_tempo(style: Style, lo: f64, hi: f64) -> (f64, f64) {
    match style.tempo_range() {
        None => (lo, hi),
        Some((s_lo, s_hi)) if s_lo.max(lo) <= s_hi.min(hi) => (s_lo.max(lo), s_hi.min(hi)),
        Some((s_lo, _)) if s_lo > hi => (hi, hi),
        Some(_) => (lo, lo),
    }
}

fn clamp_or(value: f64, lo: f64, hi: f64, fallback: f64) -> f64 {
    if value.is_finite() {
        value.clamp(lo, hi)
    } else {
        fallback
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::groove::annotated_class;
    use crate::kit::DrumClass;

    #[test]
    fn gaussian_has_unit_variance() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let xs: Vec<f64> = (0..20_000).map(|_| gaussian(&mut rng)).collect();
        let mean = xs.iter().sum::<f64>() / xs.len() as f64;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / xs.len() as f64;
        assert!(mean.abs() < 0.03, "{mean}");
        assert!((var - 1.0).abs() < 0.05, "{var}");
    }

    #[test]
    fn humanisation_stays_within_its_clip() {
        let settings = GrooveSettings {
            humanize_std_ms: 0.0,
            humanize_max_ms: 0.0,
            velocity_std: 0.0,
            ..GrooveSettings::default()
        };
        let tight = generate_performance(5, 10.0, &settings);
        let loose = generate_performance(
            5,
            10.0,
            &GrooveSettings {
                humanize_std_ms: 30.0,
                humanize_max_ms: 7.0,
                ..settings.clone()
            },
        );
        // Same seed, same choices: only the timing differs, by at most the clip.
        assert_eq!(tight.notes.len(), loose.notes.len());
        let mut a: Vec<_> = tight.notes.iter().map(|n| (n.note, n.time)).collect();
        let mut b: Vec<_> = loose.notes.iter().map(|n| (n.note, n.time)).collect();
        a.sort_by(|x, y| x.0.cmp(&y.0).then(x.1.total_cmp(&y.1)));
        b.sort_by(|x, y| x.0.cmp(&y.0).then(x.1.total_cmp(&y.1)));
        let worst = a
            .iter()
            .zip(&b)
            .map(|(x, y)| (x.1 - y.1).abs())
            .fold(0.0, f64::max);
        assert!(worst <= 0.007 + 1e-12, "{worst}");
        assert!(worst > 0.003, "timing was not humanised: {worst}");
    }

    #[test]
    fn hats_on_snares_are_thinned_and_nothing_else_changes() {
        let is = |class: DrumClass| move |n: &&MidiNote| annotated_class(n) == Some(class);
        let coinciding = |p: &Performance| {
            let snares: Vec<f64> = p
                .notes
                .iter()
                .filter(is(DrumClass::SD))
                .map(|n| n.time)
                .collect();
            let hats = p.notes.iter().filter(is(DrumClass::HH));
            // Humanised separately: a hat on a snare's beat lies within twice the clip.
            hats.filter(|h| snares.iter().any(|&s| (s - h.time).abs() < 0.041))
                .count()
        };
        let keep = |p: f64| GrooveSettings {
            hat_on_snare_probability: p,
            ..GrooveSettings::default()
        };
        let (mut all, mut none, mut half) = (0, 0, 0);
        for seed in 0..12 {
            let full = generate_performance(seed, 30.0, &keep(1.0));
            let default = generate_performance(seed, 30.0, &GrooveSettings::default());
            assert_eq!(full, default, "the default must keep every seed's groove");
            all += coinciding(&full);
            none += coinciding(&generate_performance(seed, 30.0, &keep(0.0)));
            half += coinciding(&generate_performance(seed, 30.0, &keep(0.5)));
            // Only hats go, and every other stroke stays as it was (time and velocity).
            let thinned = generate_performance(seed, 30.0, &keep(0.0));
            assert!(
                thinned.notes.iter().all(|n| full.notes.contains(n)),
                "seed {seed}"
            );
            assert!(full
                .notes
                .iter()
                .filter(|n| !thinned.notes.contains(n))
                .all(|n| annotated_class(n) == Some(DrumClass::HH)));
        }
        assert!(all > 200, "too few hats on snares to test: {all}");
        // A hat whose humanised time drifted near a snare off its beat may stay.
        assert!(none * 20 < all, "{none} of {all} stayed at probability 0");
        let share = half as f64 / all as f64;
        assert!(
            (0.35..0.65).contains(&share),
            "{half} of {all} at probability 0.5"
        );
    }

    #[test]
    fn without_crashes_fills_ride_and_tambourine_only_kick_snare_and_hats_remain() {
        let kick_snare_hats = GrooveSettings {
            fill_probability: 0.0,
            ride_probability: 0.0,
            tambourine_probability: 0.0,
            crashes: false,
            ..GrooveSettings::default()
        };
        // GM kick 35/36, snare 37/38/40, hi-hats 42/44/46.
        let allowed = [35, 36, 37, 38, 40, 42, 44, 46];
        for seed in 0..20 {
            let p = generate_performance(seed, 30.0, &kick_snare_hats);
            assert!(
                p.notes.iter().all(|n| allowed.contains(&n.note)),
                "seed {seed}"
            );
        }
        // Crashes off alone takes the crashes (the hat keeps its downbeat) and keeps the
        // seed's other choices: the same snare part.
        let with = generate_performance(3, 30.0, &GrooveSettings::default());
        let without = GrooveSettings {
            crashes: false,
            ..GrooveSettings::default()
        };
        let without = generate_performance(3, 30.0, &without);
        let crash = |n: &MidiNote| n.note == 49 || n.note == 57;
        assert!(with.notes.iter().any(crash) && !without.notes.iter().any(crash));
        let snares = |p: &Performance| p.notes.iter().filter(|n| n.note == 38).count();
        assert_eq!(snares(&with), snares(&without));
    }
}
