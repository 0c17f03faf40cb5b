//! Pass `peak_picking`: every enabled component's activation curve -> events, by librosa 0.6
//! peak picking on the curve normalised to its song maximum (`[inference.peak_pick]`, per
//! component `[inference.components.*]`), after an optional moving sum (`smooth`). Velocities
//! here come from the peak heights; the `velocity` pass replaces them with the audio's.

use rayon::prelude::*;

use crate::dsp::peak_pick::{pick_peaks, Peak};

use super::super::events::{class_of, note_of, DrumEvent};
use super::super::velocity::velocity;
use super::{sort_candidates, Candidate, Needs, Origin, Pass, PassContext};

pub struct PeakPicking;

impl Pass for PeakPicking {
    fn name(&self) -> &'static str {
        "peak_picking"
    }

    fn needs(&self) -> Needs {
        Needs::default()
    }

    fn run(&self, cx: &PassContext, candidates: &mut Vec<Candidate>) {
        candidates.extend(pick_activations(cx));
        sort_candidates(candidates);
    }
}

/// The peaks of every enabled component's curve as candidates, sorted by time then component.
pub fn pick_activations(cx: &PassContext) -> Vec<Candidate> {
    let (settings, hop, sample_rate) = (cx.settings, cx.hop, cx.sample_rate);
    // Components are independent: one per core, concatenated in channel order (then sorted
    // as before), so the result is the same as a single loop's.
    let per_component: Vec<Vec<Candidate>> = cx
        .activations
        .par_iter()
        .zip(cx.components)
        .enumerate()
        .map(|(index, (raw, name))| {
            let mut candidates = Vec::new();
            if !settings.enabled(name) {
                return candidates;
            }
            let params = settings.peak_pick_for(name);
            let vel = settings.velocity_for(name);
            let width = cx.frames_in(params.smooth);
            let summed;
            let curve = if width > 1 {
                summed = moving_sum(raw, width);
                &summed
            } else {
                raw
            };
            let peaks: Vec<_> = pick_peaks(curve, hop, sample_rate, &params)
                .into_iter()
                .map(|p| Peak {
                    frame: raw_peak(raw, p.frame, width / 2),
                    value: p.value,
                })
                .collect();
            let reference = if vel.reference_height > 0.0 {
                vel.reference_height as f32
            } else {
                peaks.iter().fold(0.0f32, |m, p| m.max(p.value))
            };
            let max = curve.iter().fold(0.0f32, |m, &x| m.max(x));
            let means = LocalMean::new(
                curve,
                max,
                hop,
                sample_rate,
                params.pre_avg,
                params.post_avg,
            );
            let class = class_of(name);
            let note = note_of(name, cx.midi);
            for p in peaks {
                let x = p.value / max;
                candidates.push(Candidate {
                    event: DrumEvent {
                        time: cx.time_of(p.frame),
                        component: name.clone(),
                        component_index: index,
                        class,
                        note,
                        velocity: velocity(p.value, reference, vel.range_db),
                        confidence: (x - means.at(p.frame)).clamp(0.0, 1.0),
                        height: p.value,
                    },
                    frame: p.frame,
                    origin: Origin::Activation,
                    reading: None,
                });
            }
            candidates
        })
        .collect();
    let mut candidates: Vec<Candidate> = per_component.into_iter().flatten().collect();
    sort_candidates(&mut candidates);
    candidates
}

/// Centred moving sum over `width` frames. The model may spread one hit's impulse over a few
/// adjacent 1-ms frames, which the synthesizer renders as almost the same sound as their sum
/// in one frame; the single-frame height then under-reads the hit by a varying factor.
fn moving_sum(curve: &[f32], width: usize) -> Vec<f32> {
    let mut prefix = vec![0.0f64; curve.len() + 1];
    for (i, &v) in curve.iter().enumerate() {
        prefix[i + 1] = prefix[i] + f64::from(v);
    }
    let half = width / 2;
    (0..curve.len())
        .map(|t| {
            let lo = t.saturating_sub(half);
            let hi = (t + width - half).min(curve.len());
            (prefix[hi] - prefix[lo]) as f32
        })
        .collect()
}

/// The frame of the raw curve's maximum within `reach` frames of `frame`: a moving sum's peak
/// is a plateau as wide as the window, the hit is where the impulse is.
fn raw_peak(raw: &[f32], frame: usize, reach: usize) -> usize {
    let lo = frame.saturating_sub(reach);
    let hi = (frame + reach + 1).min(raw.len());
    (lo..hi).fold(frame, |best, t| if raw[t] > raw[best] { t } else { best })
}

/// Mean of the max-normalised zero-inserted curve over `[n - pre, n + post)` samples.
struct LocalMean {
    prefix: Vec<f64>,
    hop: i64,
    pre: i64,
    post: i64,
    n_samples: i64,
}

impl LocalMean {
    fn new(curve: &[f32], max: f32, hop: usize, sr: u32, pre: f64, post: f64) -> Self {
        let mut prefix = vec![0.0f64; curve.len() + 1];
        for (i, &v) in curve.iter().enumerate() {
            prefix[i + 1] = prefix[i] + if max > 0.0 { (v / max) as f64 } else { 0.0 };
        }
        let s = |x: f64| (x * sr as f64).round() as i64;
        LocalMean {
            prefix,
            hop: hop as i64,
            pre: s(pre),
            post: s(post),
            n_samples: (curve.len() * hop) as i64,
        }
    }

    fn at(&self, frame: usize) -> f32 {
        let n = frame as i64 * self.hop;
        let lo = (n - self.pre).max(0);
        let hi = (n + self.post).min(self.n_samples);
        if hi <= lo {
            return 0.0;
        }
        let a = ((lo + self.hop - 1) / self.hop) as usize;
        let b = (((hi + self.hop - 1) / self.hop) as usize).min(self.prefix.len() - 1);
        ((self.prefix[b] - self.prefix[a]) / (hi - lo) as f64) as f32
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kit::components::DrumClass;
    use crate::midi::MidiSettings;
    use crate::transcribe::InferenceSettings;

    fn events_from_activations(
        activations: &[Vec<f32>],
        components: &[String],
        settings: &InferenceSettings,
        midi: &MidiSettings,
        hop: usize,
        sample_rate: u32,
    ) -> Vec<DrumEvent> {
        let cx = PassContext {
            activations,
            components,
            settings,
            midi,
            hop,
            sample_rate,
            high_band: None,
            onsets: Default::default(),
            spectrogram: None,
        };
        pick_activations(&cx).into_iter().map(|c| c.event).collect()
    }

    fn names() -> Vec<String> {
        crate::kit::components::default_component_names()
    }

    #[test]
    fn heights_give_ordered_spread_velocities() {
        let mut curves = vec![vec![0.0f32; 3000]; 11];
        for (t, h) in [(200usize, 0.25f32), (900, 0.4), (1600, 0.8), (2300, 0.6)] {
            curves[1][t] = h;
        }
        let ev = events_from_activations(
            &curves,
            &names(),
            &InferenceSettings::default(),
            &MidiSettings::default(),
            16,
            16_000,
        );
        let v: Vec<u8> = ev.iter().map(|e| e.velocity).collect();
        assert_eq!(ev.len(), 4);
        assert!(ev.iter().all(|e| e.component == "SD_SD" && e.note == 38));
        assert_eq!(v[2], 127, "{v:?}");
        assert!(v[0] < v[1] && v[1] < v[3] && v[3] < v[2], "{v:?}");
        // 0.25 vs 0.8 is 10 dB down in a 40-dB range: a quarter of the scale.
        assert!((v[2] - v[0]).abs_diff(32) <= 1, "{v:?}");
        assert!((ev[1].time - 0.9).abs() < 1e-12);
        // An isolated spike rises above a near-zero local mean.
        assert!(ev[2].confidence > 0.95, "{}", ev[2].confidence);
        let c0 = ev[0].confidence;
        assert!((0.25..0.32).contains(&c0), "{c0}");
    }

    #[test]
    fn a_moving_sum_reads_a_split_hit_as_one_at_its_strongest_frame() {
        // One hit spread over three frames (0.1 + 0.3 + 0.2) next to a single-frame hit of
        // 0.45: frame by frame the split hit is the weaker, summed it is the stronger.
        let mut curves = vec![vec![0.0f32; 3000]; 11];
        curves[0][1000..1003].copy_from_slice(&[0.1, 0.3, 0.2]);
        curves[0][2000] = 0.45;
        let pick = |smooth: f64| {
            let mut s = InferenceSettings::default();
            s.components.clear();
            s.peak_pick.smooth = smooth;
            s.velocity.reference_height = 0.0;
            events_from_activations(&curves, &names(), &s, &MidiSettings::default(), 16, 16_000)
        };
        let raw = pick(0.0);
        assert_eq!(raw.len(), 2);
        assert!(raw[0].height < raw[1].height, "{raw:?}");
        let summed = pick(0.005);
        assert_eq!(summed.len(), 2, "{summed:?}");
        assert!((summed[0].height - 0.6).abs() < 1e-6, "{summed:?}");
        assert!((summed[1].height - 0.45).abs() < 1e-6, "{summed:?}");
        // Times stay on the raw curve's strongest frame, not the plateau's first frame.
        assert!((summed[0].time - 1.001).abs() < 1e-9, "{}", summed[0].time);
        assert!((summed[1].time - 2.0).abs() < 1e-9, "{}", summed[1].time);
        assert!(summed[0].velocity > summed[1].velocity);
    }

    #[test]
    fn moving_sum_is_centred_and_clipped_at_the_ends() {
        let x = [1.0f32, 2.0, 3.0, 4.0];
        assert_eq!(moving_sum(&x, 3), vec![3.0, 6.0, 9.0, 7.0]);
        assert_eq!(moving_sum(&x, 1), x.to_vec());
        assert_eq!(raw_peak(&[0.0, 0.2, 0.5, 0.1], 0, 2), 2);
        assert_eq!(raw_peak(&[0.0, 0.2, 0.5, 0.1], 3, 0), 3);
    }

    #[test]
    fn disabled_components_and_classes() {
        let mut curves = vec![vec![0.0f32; 500]; 11];
        curves[3][100] = 1.0;
        let mut s = InferenceSettings::default();
        let ev =
            events_from_activations(&curves, &names(), &s, &MidiSettings::default(), 16, 16_000);
        assert_eq!(ev.len(), 1);
        assert_eq!((ev[0].class, ev[0].note), (DrumClass::HH, 46));
        s.components.insert(
            "HH_OHH".into(),
            crate::transcribe::ComponentOverrides {
                enabled: Some(false),
                ..Default::default()
            },
        );
        assert!(events_from_activations(
            &curves,
            &names(),
            &s,
            &MidiSettings::default(),
            16,
            16_000
        )
        .is_empty());
        assert_eq!(class_of("TT_FLOOR2"), DrumClass::TT);
        assert_eq!(class_of("cowbell"), DrumClass::OT);
    }
}
