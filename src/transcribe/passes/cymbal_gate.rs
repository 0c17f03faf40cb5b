//! Pass `cymbal_gate`: a cymbal event from the model's curves stays only where the model is
//! sure in absolute terms and the audio agrees. The cymbal channels of a song without cymbals
//! still have a maximum, and per-song normalisation turns their cross-talk into events (163 a
//! clip on the tuning grooves without cymbals); their peaks there are one to two orders of
//! magnitude below a real hit's (median activation .002 against .08). A real ride or crash
//! hit is also a new hit in the band above 6 kHz: the band's strongest window in the first
//! 30 ms is louder than its mean 20-60 ms before; a peak in a crash's ring is not.

use super::{Candidate, Needs, Origin, Pass, PassContext};
use crate::kit::DrumClass;
use crate::transcribe::high_band::mean_to_peak_db;

/// Seconds around the onset where the band's attack is read (its strongest window).
const ATTACK_SECONDS: (f64, f64) = (-0.005, 0.030);
/// Seconds before the onset where what was already sounding is read (the band's mean power).
const BEFORE_SECONDS: (f64, f64) = (-0.060, -0.020);

pub struct CymbalGate;

impl Pass for CymbalGate {
    fn name(&self) -> &'static str {
        "cymbal_gate"
    }

    fn needs(&self) -> Needs {
        Needs {
            high_band: true,
            ..Needs::default()
        }
    }

    fn run(&self, cx: &PassContext, candidates: &mut Vec<Candidate>) {
        let s = &cx.settings.passes.cymbal_gate;
        let band = cx.high_band;
        candidates.retain(|c| {
            if c.event.class != DrumClass::CY || c.origin != Origin::Activation {
                return true;
            }
            if f64::from(c.event.height) < s.min_height {
                return false;
            }
            // Without the band (silent or an 8-kHz file) the height alone decides.
            match band.and_then(|b| rise_db(&b.power, c.frame, cx.hop, cx.sample_rate)) {
                Some(db) => db >= s.min_rise_db,
                None => true,
            }
        });
    }
}

/// How far (dB) the band's strongest window around `frame` lies above its mean power
/// 20-60 ms before; `None` where the file starts or ends too close to tell.
pub fn rise_db(power: &[f32], frame: usize, hop: usize, sample_rate: u32) -> Option<f64> {
    mean_to_peak_db(
        power,
        frame,
        hop,
        sample_rate,
        ATTACK_SECONDS,
        BEFORE_SECONDS,
    )
    .map(|db| -db)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_hit_rises_and_a_ring_does_not() {
        // 1-ms frames at 16 kHz (hop 16): silence, then a hit at frame 100 decaying.
        let mut power = vec![1e-6f32; 400];
        for (i, p) in power.iter_mut().enumerate().skip(100) {
            *p = (-((i - 100) as f32) / 80.0).exp();
        }
        let hit = rise_db(&power, 100, 16, 16_000).unwrap();
        assert!(hit > 40.0, "{hit}");
        // A peak 150 ms into the ring: the band was louder before it.
        let ring = rise_db(&power, 250, 16, 16_000).unwrap();
        assert!(ring < 0.0, "{ring}");
        // Too close to either end.
        assert_eq!(rise_db(&power, 30, 16, 16_000), None);
        assert_eq!(rise_db(&power, 390, 16, 16_000), None);
    }
}
