//! Hit level -> MIDI velocity.
//!
//! A hit's level is an amplitude: velocity follows it in decibels below a reference level,
//! linearly from 127 at the reference down to 1 at `range_db` below it (MIDI velocity is
//! commonly heard as roughly logarithmic in loudness). The reference is per component: either
//! configured (`reference_height`), or the component's loudest hit in the song, so the loudest
//! kick of a song is 127 and quieter ones scale down from it.
//!
//! The level is the activation height (`source = "activation"`, set by the `peak_picking` pass)
//! or, by default, the power the hit adds to its class's band of the input
//! ([`super::onset_level`], set by the `velocity` pass): the activations of isolated hits
//! saturate, so only the audio tells a ghost note from an accent.

/// A level in dB relative to `reference` (-inf for silence or nonsense).
pub fn level_db(level: f32, reference: f32) -> f64 {
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
