//! Pass `ring_test`: a hi-hat onset from the audio whose band still rings 60-120 ms later
//! (within `[inference.passes.ring_test] max_ring_db` of its attack) is a ride's, a crash's or
//! a snare's wires', not a closed hat's, and is dropped (tuning grooves: hi-hat F1 .65 / .94 ->
//! .65 / .95). An open hat rings too: the tuning grooves scored higher with the rule than with
//! open hats exempt.

use super::{Candidate, Needs, Origin, Pass, PassContext};
use crate::transcribe::high_band::mean_to_peak_db;

/// Seconds after an onset over which the band's attack is read (its strongest window).
const ATTACK_SECONDS: (f64, f64) = (0.0, 0.030);
/// Seconds after an onset over which its ring is read (the band's mean power). A closed hat
/// has died away by then; a ride, a crash or a snare's wires still ring.
const RING_SECONDS: (f64, f64) = (0.060, 0.120);

pub struct RingTest;

impl Pass for RingTest {
    fn name(&self) -> &'static str {
        "ring_test"
    }

    fn needs(&self) -> Needs {
        Needs {
            high_band: true,
            onset_readings: false,
            ..Needs::default()
        }
    }

    fn run(&self, cx: &PassContext, candidates: &mut Vec<Candidate>) {
        let Some(band) = cx.high_band else {
            return;
        };
        let max_db = cx.settings.passes.ring_test.max_ring_db;
        candidates.retain(|c| {
            c.origin != Origin::HighBand
                || !ring_db(&band.power, c.frame, cx.hop, cx.sample_rate)
                    .is_some_and(|db| db > max_db)
        });
    }
}

/// How far (dB) the band's mean power 60-120 ms after `frame` lies below its strongest
/// window in the first 30 ms; `None` where the file ends too early to tell.
pub fn ring_db(power: &[f32], frame: usize, hop: usize, sample_rate: u32) -> Option<f64> {
    mean_to_peak_db(power, frame, hop, sample_rate, ATTACK_SECONDS, RING_SECONDS)
}
