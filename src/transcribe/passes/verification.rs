//! Pass `verification`: an event stays only where the re-synthesis of the stem needs it. The
//! stem's band spectrogram is modelled from the candidates alone (a magnitude template per
//! component and a gain per hit, fitted to the stem: [`crate::transcribe::resynthesis`]); an
//! event whose removal leaves the model's log-magnitude distance to the stem, over the
//! frames after its onset, almost as small as with it ("the re-synthesis does not need it")
//! is dropped. A component the recording does not contain then fits a template that explains
//! nothing its neighbours do not, and its events go, however the per-song normalisation of
//! its curve scaled them.

use crate::kit::DrumClass;
use crate::transcribe::events::class_of;
use crate::transcribe::resynthesis::{self, Onset};

use super::{Candidate, Needs, Pass, PassContext};

pub struct Verification;

impl Pass for Verification {
    fn name(&self) -> &'static str {
        "verification"
    }

    fn needs(&self) -> Needs {
        Needs {
            spectrogram: true,
            ..Needs::default()
        }
    }

    fn run(&self, cx: &PassContext, candidates: &mut Vec<Candidate>) {
        let Some(spec) = cx.spectrogram else {
            return;
        };
        let s = &cx.settings.passes.verification;
        let rate = resynthesis::BandSpectrogram::frame_rate(cx.sample_rate);
        let frames_of = |seconds: f64| ((seconds * rate).round() as usize).max(1);
        let onsets: Vec<Onset> = candidates
            .iter()
            .map(|c| Onset {
                component: c.event.component_index,
                frame: ((c.event.time * rate).round() as usize).min(spec.frames.saturating_sub(1)),
            })
            .collect();
        let listed = |list: &[String], class: DrumClass| list.iter().any(|l| l == class.label());
        let verified = |class: DrumClass| listed(&s.classes, class);
        // The trusted classes are fitted first, then held (see `fit`).
        let held: Vec<bool> = cx
            .components
            .iter()
            .map(|name| listed(&s.trusted, class_of(name)))
            .collect();
        let fit = resynthesis::fit(
            spec,
            &onsets,
            &held,
            frames_of(s.template_seconds),
            s.iterations,
        );
        let window = frames_of(s.window_seconds);
        let eps = 10f32.powf(s.floor_db as f32 / 20.0);
        let keep: Vec<bool> = candidates
            .iter()
            .enumerate()
            .map(|(i, c)| {
                !verified(c.event.class)
                    || fit.needed_db(spec, &onsets, i, window, s.min_part as f32, eps) >= s.min_db
            })
            .collect();
        let mut keep = keep.into_iter();
        candidates.retain(|_| keep.next().unwrap_or(true));
    }
}
