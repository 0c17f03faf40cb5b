//! Activation height -> MIDI velocity.
//!
//! A sparse activation's height scales the drum sample it triggers, so it is an amplitude:
//! velocity follows its level in decibels below a reference height, linearly from 127 at the
//! reference down to 1 at `range_db` below it (MIDI velocity is commonly heard as roughly
//! logarithmic in loudness). The reference is per component: either configured
//! (`reference_height`), or the component's highest peak in the song, so the loudest kick of
//! a song is 127 and quieter ones scale down from it.

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
