//! Pass `velocity`: each candidate read from the audio gets its velocity from the power it adds
//! in its class's band ([`crate::transcribe::onset_level`]) against its component's loudest hit
//! in the song (`[inference.velocity]`, per component `[inference.components.*]`). Candidates of
//! components whose velocity `source = "activation"` keep the peak-height velocity.

use super::super::velocity::velocity;
use super::{Candidate, Needs, Pass, PassContext};

pub struct Velocity;

impl Pass for Velocity {
    fn name(&self) -> &'static str {
        "velocity"
    }

    fn needs(&self) -> Needs {
        Needs {
            high_band: false,
            onset_readings: true,
            ..Needs::default()
        }
    }

    fn run(&self, cx: &PassContext, candidates: &mut Vec<Candidate>) {
        for c in candidates.iter_mut() {
            if let Some(r) = c.reading {
                let range_db = cx.settings.velocity_for(&c.event.component).range_db;
                c.event.velocity = velocity(r.reading.level, r.reference, range_db);
            }
        }
    }
}
