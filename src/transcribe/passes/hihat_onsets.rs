//! Pass `hihat_onsets`: the hi-hat events come from the audio's high band, not the model.
//!
//! The bundled model's hi-hat channels are its weakest: an isolated closed hat often leaves
//! them at a few percent of their song maximum while cross-talk from kicks and snares peaks
//! higher, so peak picking misses hats and finds kicks. This pass replaces the hi-hat
//! candidates of the activations by the peaks of the high band's flux ([`HighBand`]), each
//! named after the hi-hat channel (closed, open or pedal) most active around it. On the tuning
//! grooves (24 with kits 1-11, 12 with procedural training seeds; never the evaluation sets)
//! it raised the bundled model's hi-hat F1 from .41 / .60 to .61 / .82, the lag with the
//! widening then to .64 / .92, the band moved from 5 to 6 kHz (fewer snare wires) with delta
//! .12 to .65 / .94 (see assets/model/README.md). An input with nothing above 6 kHz (its flux
//! all zeros) keeps the model's hi-hat peaks.
//!
//! [`HighBand`]: crate::transcribe::HighBand

use crate::dsp::peak_pick::{pick_peaks, PeakPickParams};
use crate::kit::DrumClass;

use super::super::events::{class_of, note_of, DrumEvent};
use super::super::velocity::velocity;
use super::{sort_candidates, Candidate, Needs, Origin, Pass, PassContext};

/// Seconds around an onset searched for the most active hi-hat channel.
const COMPONENT_WINDOW: f64 = 0.02;

pub struct HihatOnsets;

impl Pass for HihatOnsets {
    fn name(&self) -> &'static str {
        "hihat_onsets"
    }

    fn needs(&self) -> Needs {
        Needs {
            high_band: true,
            onset_readings: false,
        }
    }

    fn run(&self, cx: &PassContext, candidates: &mut Vec<Candidate>) {
        let Some(band) = cx.high_band else {
            return;
        };
        let names = cx.components;
        let hihats: Vec<usize> = (0..names.len())
            .filter(|&i| class_of(&names[i]) == DrumClass::HH && cx.settings.enabled(&names[i]))
            .collect();
        let Some(&fallback) = hihats.first() else {
            return;
        };
        let flux = &band.flux;
        let max = flux.iter().fold(0.0f32, |m, &x| m.max(x));
        if max <= 0.0 {
            return;
        }
        candidates.retain(|c| c.event.class != DrumClass::HH);
        let params = PeakPickParams {
            delta: cx.settings.passes.hihat_onsets.delta,
            ..cx.settings.peak_pick_for(&names[fallback])
        };
        let reach = cx.frames_in(COMPONENT_WINDOW);
        for p in pick_peaks(flux, cx.hop, cx.sample_rate, &params) {
            let lo = p.frame.saturating_sub(reach);
            // Each hi-hat channel's largest activation within reach of the onset.
            let strength = |i: usize| {
                let curve = &cx.activations[i];
                let hi = (p.frame + reach + 1).min(curve.len());
                let near = curve.get(lo..hi).unwrap_or(&[]);
                near.iter().fold(0.0f32, |m, &x| m.max(x))
            };
            let index = hihats
                .iter()
                .map(|&i| (i, strength(i)))
                .filter(|&(_, s)| s > 0.0)
                .max_by(|a, b| a.1.total_cmp(&b.1))
                .map_or(fallback, |(i, _)| i);
            let name = &names[index];
            let height = p.value / max;
            candidates.push(Candidate {
                event: DrumEvent {
                    time: cx.time_of(p.frame),
                    component: name.clone(),
                    component_index: index,
                    class: DrumClass::HH,
                    note: note_of(name, cx.midi),
                    velocity: velocity(p.value, max, cx.settings.velocity_for(name).range_db),
                    confidence: height.clamp(0.0, 1.0),
                    height,
                },
                frame: p.frame,
                origin: Origin::HighBand,
                reading: None,
            });
        }
        sort_candidates(candidates);
    }
}
