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
use super::onset_level::{onset_levels, Hit};
use super::settings::{InferenceSettings, VelocitySource};

/// Re-derives the velocity of every event whose component reads its level from the audio:
/// `source` is the input again (read once, in order); `events` must be sorted by time.
pub fn levels_from_audio<S: SampleSource>(
    events: &mut [DrumEvent],
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
    let levels = onset_levels(source, sample_rate, &hits)?;
    let mut loudest = std::collections::HashMap::<usize, f32>::new();
    for (&i, &level) in chosen.iter().zip(&levels) {
        let max = loudest.entry(events[i].component_index).or_insert(0.0);
        *max = max.max(level);
    }
    for (&i, &level) in chosen.iter().zip(&levels) {
        let range_db = settings.velocity_for(&events[i].component).range_db;
        events[i].velocity = velocity(level, loudest[&events[i].component_index], range_db);
    }
    Ok(())
}

/// Velocity 1..=127 for a peak of `height` given the component's `reference` height.
pub fn velocity(height: f32, reference: f32, range_db: f64) -> u8 {
    if !(height > 0.0 && reference > 0.0 && height.is_finite() && reference.is_finite()) {
        return 1;
    }
    let db = 20.0 * (height as f64 / reference as f64).log10();
    let v = 127.0 * (1.0 + db / range_db.max(1e-6));
    v.round().clamp(1.0, 127.0) as u8
}

#[cfg(test)]
mod tests {
    use super::*;

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
