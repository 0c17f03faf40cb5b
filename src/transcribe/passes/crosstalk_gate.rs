//! Pass `crosstalk_gate`: a candidate more than `min_level_db` below its component's loudest
//! hit that lies within `gate_window` seconds of a relatively louder candidate of another class
//! is that candidate's cross-talk, and is dropped (`[inference.velocity]`, per component
//! `[inference.components.*]`). Activation peaks also come from cross-talk (a kick's click in a
//! hi-hat channel, a snare's body in the kick's) that adds little power in the class's band; a
//! quiet hit on its own is a ghost note and stays.

use super::{Candidate, Needs, Pass, PassContext};

/// How much louder (dB, each relative to its component's loudest hit) a coinciding candidate
/// of another class must be for a quiet hit to count as its cross-talk. Real cross-talk
/// measured on the tuning grooves sits 10 dB and more below its source; bands that overlap
/// (kick and floor tom) give two readings of the same hit within a dB or two of each other.
const CROSSTALK_MARGIN_DB: f64 = 6.0;

pub struct CrosstalkGate;

impl Pass for CrosstalkGate {
    fn name(&self) -> &'static str {
        "crosstalk_gate"
    }

    fn needs(&self) -> Needs {
        Needs {
            high_band: false,
            onset_readings: true,
            ..Needs::default()
        }
    }

    fn run(&self, cx: &PassContext, candidates: &mut Vec<Candidate>) {
        // Decided on the whole set first: a dropped candidate still counts as the louder
        // neighbour of another.
        let gated: Vec<bool> = (0..candidates.len())
            .map(|i| {
                let Some(r) = candidates[i].reading else {
                    return false;
                };
                let v = cx.settings.velocity_for(&candidates[i].event.component);
                r.relative_db < v.min_level_db
                    && louder_other_class_near(candidates, i, v.gate_window)
            })
            .collect();
        let mut flags = gated.into_iter();
        candidates.retain(|_| !flags.next().unwrap_or(false));
    }
}

/// Whether a candidate of another class within `window` seconds of candidate `i` is louder,
/// each relative to its own component's loudest hit (candidates sorted by time): a quiet hit
/// there is likely that candidate's cross-talk; a quiet hit alone, or beside hits as quiet, is
/// a ghost note.
fn louder_other_class_near(candidates: &[Candidate], i: usize, window: f64) -> bool {
    let (t, class) = (candidates[i].event.time, candidates[i].event.class);
    let relative = |j: usize| candidates[j].reading.map(|r| r.relative_db);
    let own = relative(i).unwrap_or(f64::NEG_INFINITY);
    let louder = |j: usize| {
        candidates[j].event.class != class
            && relative(j).is_some_and(|db| db >= own + CROSSTALK_MARGIN_DB)
    };
    let before = (0..i)
        .rev()
        .take_while(|&j| t - candidates[j].event.time <= window)
        .any(louder);
    before
        || (i + 1..candidates.len())
            .take_while(|&j| candidates[j].event.time - t <= window)
            .any(louder)
}
