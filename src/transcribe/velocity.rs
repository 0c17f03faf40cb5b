//! Hit level -> MIDI velocity.
//!
//! A hit's level is an amplitude: velocity follows it in decibels below a reference level,
//! linearly from 127 at the reference down to 1 at `range_db` below it (MIDI velocity is
//! commonly heard as roughly logarithmic in loudness). The reference is per component: either
//! configured (`reference_height`), or the component's loudest hit in the song, so the loudest
//! kick of a song is 127 and quieter ones scale down from it.
//!
//! The level is the activation height (`source = "activation"`) or, by default, the power the
//! hit adds to its class's band of the input ([`super::onset_level`]): the activations of
//! isolated hits saturate, so only the audio tells a ghost note from an accent.

use crate::error::Result;

use super::chunked::SampleSource;
use super::events::DrumEvent;
use super::onset_level::{read_onsets, Hit};
use super::settings::{InferenceSettings, VelocitySource};

/// Re-derives the velocity of every event whose component reads its level from the audio, and
/// drops those more than `min_level_db` below their component's loudest hit that coincide
/// (within `gate_window`) with a relatively louder event of another class, and the kicks that
/// fail `[inference.kick]`'s low-band test: `source` is the input again (read once, in order);
/// `events` must be sorted by time.
pub fn levels_from_audio<S: SampleSource>(
    events: &mut Vec<DrumEvent>,
    source: S,
    settings: &InferenceSettings,
    sample_rate: u32,
) -> Result<()> {
    let chosen: Vec<usize> = (0..events.len())
        .filter(|&i| settings.velocity_for(&events[i].component).source == VelocitySource::Audio)
        .collect();
    if chosen.is_empty() {
        return Ok(());
    }
    let hits: Vec<Hit> = chosen
        .iter()
        .map(|&i| Hit {
            sample: (events[i].time * f64::from(sample_rate)).round() as usize,
            class: events[i].class,
        })
        .collect();
    let readings = read_onsets(source, sample_rate, &hits)?;
    let mut loudest = std::collections::HashMap::<usize, f32>::new();
    for (&i, r) in chosen.iter().zip(&readings) {
        let max = loudest.entry(events[i].component_index).or_insert(0.0);
        *max = max.max(r.level);
    }
    // The song's typical kick: the median of its kick events' low-band ratios (most kick
    // events are kicks; a recording without lows shifts them all alike).
    let mut lows: Vec<f32> = readings.iter().filter_map(|r| r.kick_low_db).collect();
    lows.sort_by(f32::total_cmp);
    let typical = lows.get(lows.len() / 2).copied();
    // Each event's level relative to its component's loudest hit (None: not read from audio).
    let mut relative = vec![None; events.len()];
    let mut gates = vec![None; events.len()];
    let mut not_a_kick = vec![false; events.len()];
    for (&i, r) in chosen.iter().zip(&readings) {
        let v = settings.velocity_for(&events[i].component);
        let reference = loudest[&events[i].component_index];
        events[i].velocity = velocity(r.level, reference, v.range_db);
        relative[i] = Some(level_db(r.level, reference));
        gates[i] = Some((v.min_level_db, v.gate_window));
        if let (Some(db), Some(typical)) = (r.kick_low_db, typical) {
            not_a_kick[i] = f64::from(db) < f64::from(typical) - settings.kick.low_margin_db;
        }
    }
    let gated: Vec<bool> = (0..events.len())
        .map(|i| match (relative[i], gates[i]) {
            (Some(db), Some((min_db, window))) => {
                not_a_kick[i]
                    || (db < min_db && louder_other_class_near(events, &relative, i, window))
            }
            _ => false,
        })
        .collect();
    let mut flags = gated.into_iter();
    events.retain(|_| !flags.next().unwrap_or(false));
    Ok(())
}

/// How much louder (dB, each relative to its component's loudest hit) a coinciding event of
/// another class must be for a quiet hit to count as its cross-talk. Real cross-talk measured
/// on the tuning grooves sits 10 dB and more below its source; bands that overlap (kick and
/// floor tom) give two readings of the same hit within a dB or two of each other.
const CROSSTALK_MARGIN_DB: f64 = 6.0;

/// Whether an event of another class within `window` seconds of event `i` is louder, each
/// relative to its own component's loudest hit (events sorted by time): a quiet hit there is
/// likely that event's cross-talk; a quiet hit alone, or beside hits as quiet, is a ghost note.
fn louder_other_class_near(
    events: &[DrumEvent],
    relative: &[Option<f64>],
    i: usize,
    window: f64,
) -> bool {
    let (t, class) = (events[i].time, events[i].class);
    let own = relative[i].unwrap_or(f64::NEG_INFINITY);
    let louder = |j: usize| {
        events[j].class != class && relative[j].is_some_and(|db| db >= own + CROSSTALK_MARGIN_DB)
    };
    let before = (0..i)
        .rev()
        .take_while(|&j| t - events[j].time <= window)
        .any(louder);
    before
        || (i + 1..events.len())
            .take_while(|&j| events[j].time - t <= window)
            .any(louder)
}

/// A level in dB relative to `reference` (-inf for silence or nonsense).
fn level_db(level: f32, reference: f32) -> f64 {
    if level > 0.0 && reference > 0.0 && level.is_finite() && reference.is_finite() {
        20.0 * (f64::from(level) / f64::from(reference)).log10()
    } else {
        f64::NEG_INFINITY
    }
}

/// Velocity 1..=127 for a peak of `height` given the component's `reference` height.
pub fn velocity(height: f32, reference: f32, range_db: f64) -> u8 {
    let db = level_db(height, reference);
    if db == f64::NEG_INFINITY {
        return 1;
    }
    let v = 127.0 * (1.0 + db / range_db.max(1e-6));
    v.round().clamp(1.0, 127.0) as u8
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kit::components::DrumClass;
    use crate::transcribe::SliceSource;

    fn kick_event(time: f64) -> DrumEvent {
        DrumEvent {
            time,
            component: "KD_KD".into(),
            component_index: 0,
            class: DrumClass::KD,
            note: 36,
            velocity: 1,
            confidence: 1.0,
            height: 1.0,
        }
    }

    /// Decaying 80 Hz bursts (kick band) at 0.5 s, 1.0 s and 1.5 s, 0, -6 and -30 dB.
    fn bursts() -> Vec<f32> {
        let sr = 16_000.0;
        let mut x = vec![0.0f32; 32_000];
        for (start, db) in [(0.5, 0.0), (1.0, -6.0), (1.5, -30.0)] {
            let gain = 10f64.powf(db / 20.0);
            for i in 0..4_000 {
                let t = i as f64 / sr;
                let v = gain * (-t * 20.0).exp() * (2.0 * std::f64::consts::PI * 80.0 * t).sin();
                x[(start * sr) as usize + i] += v as f32;
            }
        }
        x
    }

    #[test]
    fn hits_far_below_the_loudest_are_dropped_by_the_level_gate() {
        let audio = bursts();
        let run = |gate: f64, snare: bool| {
            let mut settings = InferenceSettings::default();
            settings.components.clear();
            settings.velocity.min_level_db = gate;
            let mut events: Vec<DrumEvent> = [0.5, 1.0, 1.5].map(kick_event).to_vec();
            if snare {
                events.push(DrumEvent {
                    component: "SD_SD".into(),
                    component_index: 1,
                    class: DrumClass::SD,
                    note: 38,
                    ..kick_event(1.52)
                });
            }
            let source = SliceSource {
                samples: &audio,
                piece: 4096,
            };
            levels_from_audio(&mut events, source, &settings, 16_000).unwrap();
            events
                .iter()
                .map(|e| (e.time, e.velocity))
                .collect::<Vec<_>>()
        };
        let all = run(-120.0, false);
        assert_eq!(all.len(), 3, "{all:?}");
        assert!(all[0].1 > all[1].1 && all[1].1 > all[2].1, "{all:?}");
        // Alone, the quiet hit is a ghost note and stays.
        assert_eq!(run(-12.0, false), all);
        // With a snare 20 ms later it may be the snare's cross-talk: dropped.
        let gated = run(-12.0, true);
        assert_eq!(
            gated.iter().map(|e| e.0).collect::<Vec<_>>(),
            vec![0.5, 1.0, 1.52],
            "{gated:?}"
        );
        assert_eq!(&gated[..2], &all[..2]);
    }

    /// Decaying sine bursts of `hz` at the given seconds, amplitude 0.5.
    fn tones(seconds: f64, hits: &[(f64, f64)]) -> Vec<f32> {
        let sr = 16_000.0;
        let mut x = vec![0.0f32; (seconds * sr) as usize];
        for &(start, hz) in hits {
            for i in 0..4_000 {
                let t = i as f64 / sr;
                let v = 0.5 * (-t * 15.0).exp() * (2.0 * std::f64::consts::PI * hz * t).sin();
                x[(start * sr) as usize + i] += v as f32;
            }
        }
        x
    }

    #[test]
    fn a_kick_event_without_the_songs_lows_is_a_tom() {
        // Four kicks at 55 Hz and, at 2.5 s, a floor tom at 140 Hz in the kick channel.
        let hits = [
            (0.5, 55.0),
            (1.0, 55.0),
            (1.5, 55.0),
            (2.0, 55.0),
            (2.5, 140.0),
        ];
        let kept = |audio: &[f32], margin: f64| {
            let mut settings = InferenceSettings::default();
            settings.components.clear();
            settings.velocity.min_level_db = -120.0;
            settings.kick.low_margin_db = margin;
            let mut events: Vec<DrumEvent> = hits.iter().map(|h| kick_event(h.0)).collect();
            let source = SliceSource {
                samples: audio,
                piece: 4096,
            };
            levels_from_audio(&mut events, source, &settings, 16_000).unwrap();
            events.iter().map(|e| e.time).collect::<Vec<_>>()
        };
        let audio = tones(3.0, &hits);
        assert_eq!(kept(&audio, 15.0), vec![0.5, 1.0, 1.5, 2.0]);
        assert_eq!(kept(&audio, 120.0).len(), 5);
        // A recording whose kicks are all high (a kick tuned to 120 Hz) keeps them: the test
        // is relative to the song's typical kick.
        let high: Vec<(f64, f64)> = hits.iter().map(|h| (h.0, 120.0)).collect();
        assert_eq!(kept(&tones(3.0, &high), 15.0).len(), 5);
    }

    #[test]
    fn log_curve_endpoints_and_midpoint() {
        assert_eq!(velocity(1.0, 1.0, 40.0), 127);
        assert_eq!(velocity(2.0, 1.0, 40.0), 127);
        // -20 dB of a 40-dB range: half way.
        assert_eq!(velocity(0.1, 1.0, 40.0), 64);
        assert_eq!(velocity(0.01, 1.0, 40.0), 1);
        assert_eq!(velocity(1e-6, 1.0, 40.0), 1);
        assert_eq!(velocity(0.0, 1.0, 40.0), 1);
    }
}
