//! Pass `kick_low_band`: a kick's fundamental lies at 30-90 Hz, a floor tom's (which the kick
//! channel also answers) at 90-250 Hz. A kick candidate whose 128 ms after the onset hold a
//! ratio of the two bands' power more than `[inference.passes.kick_low_band] margin_db` below
//! the song's median kick candidate is a floor tom, dropped. Relative to the song, so that a
//! recording without lows (a phone, a high-pass filter) keeps its kicks. Tuning grooves: KD
//! .952 / .957 -> .967 / .965.

use super::{Candidate, Needs, Pass, PassContext};

pub struct KickLowBand;

impl Pass for KickLowBand {
    fn name(&self) -> &'static str {
        "kick_low_band"
    }

    fn needs(&self) -> Needs {
        Needs {
            high_band: false,
            onset_readings: true,
            ..Needs::default()
        }
    }

    fn run(&self, cx: &PassContext, candidates: &mut Vec<Candidate>) {
        let Some(typical) = cx.onsets.typical_kick_low_db else {
            return;
        };
        let margin = cx.settings.passes.kick_low_band.margin_db;
        candidates.retain(|c| {
            let low = c.reading.and_then(|r| r.reading.kick_low_db);
            !low.is_some_and(|db| f64::from(db) < f64::from(typical) - margin)
        });
    }
}
