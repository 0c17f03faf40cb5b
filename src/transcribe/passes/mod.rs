//! The transcription passes: activation curves and the audio's features -> drum events, as an
//! ordered list of small steps with one job each ([`PIPELINE`]). Each pass has its section in
//! `[inference.passes.*]` with a switch, and says which features of the audio it reads
//! ([`Needs`]), so that the features are read once, before the first pass that needs them
//! (see [`super::pipeline`]).
//!
//! Passes work on [`Candidate`]s: an event plus what the passes learned of it (where it came
//! from, what the audio says at its onset), so that no pass re-reads the audio or carries
//! parallel vectors.

pub mod crosstalk_gate;
pub mod cymbal_gate;
pub mod hihat_onsets;
pub mod kick_low_band;
pub mod peak_picking;
pub mod ring_test;
pub mod settings;
pub mod velocity;
pub mod verification;

use crate::kit::DrumClass;
use crate::midi::MidiSettings;

pub use settings::{
    CymbalGateSettings, HihatOnsetSettings, KickLowBandSettings, PassSettings, RingTestSettings,
    Switch, VerificationSettings,
};

use super::events::DrumEvent;
use super::high_band::HighBand;
use super::onset_level::Reading;
use super::resynthesis::BandSpectrogram;
use super::settings::InferenceSettings;

/// Every pass, in the order they run.
pub const PIPELINE: [&dyn Pass; 8] = [
    &peak_picking::PeakPicking,
    &hihat_onsets::HihatOnsets,
    &ring_test::RingTest,
    &velocity::Velocity,
    &crosstalk_gate::CrosstalkGate,
    &kick_low_band::KickLowBand,
    &cymbal_gate::CymbalGate,
    &verification::Verification,
];

/// One step from curves to events.
pub trait Pass: Sync {
    /// The pass's name, as in `[inference.passes.<name>]` and the `-v` report.
    fn name(&self) -> &'static str;
    /// What of the audio it reads besides the activations.
    fn needs(&self) -> Needs;
    /// Adds, drops or edits candidates; they stay sorted by time, then component.
    fn run(&self, cx: &PassContext, candidates: &mut Vec<Candidate>);
}

/// The audio features a pass reads.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Needs {
    /// The high band's flux and power ([`HighBand`]).
    pub high_band: bool,
    /// The audio at each candidate's onset ([`OnsetReading`]).
    pub onset_readings: bool,
    /// The input's band spectrogram ([`BandSpectrogram`]).
    pub spectrogram: bool,
}

/// Where a candidate came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// A peak of a component's activation curve.
    Activation,
    /// An onset of the audio's high band (hi-hat onsets).
    HighBand,
}

/// An event and what the passes know of it.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub event: DrumEvent,
    /// Activation frame of the onset.
    pub frame: usize,
    pub origin: Origin,
    /// The audio at the onset; `Some` once read, for components whose velocity comes from
    /// the audio.
    pub reading: Option<OnsetReading>,
}

/// What the audio says of one candidate, relative to its component's other candidates.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OnsetReading {
    pub reading: Reading,
    /// The component's loudest read hit in the song ([`Reading::level`] units).
    pub reference: f32,
    /// `reading.level` in dB below `reference`.
    pub relative_db: f64,
}

/// What the song's read onsets say as a whole.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct OnsetSummary {
    /// The median low-band ratio of the kick candidates (most of them are kicks; a recording
    /// without lows shifts them all alike), before any pass dropped one.
    pub typical_kick_low_db: Option<f32>,
}

/// What every pass may read.
pub struct PassContext<'a> {
    /// `[component][frame]`, frame t at sample `hop` t.
    pub activations: &'a [Vec<f32>],
    pub components: &'a [String],
    pub settings: &'a InferenceSettings,
    pub midi: &'a MidiSettings,
    pub hop: usize,
    pub sample_rate: u32,
    /// `None` where the input is silent or no enabled pass needs it.
    pub high_band: Option<&'a HighBand>,
    pub onsets: OnsetSummary,
    /// `None` where the input is silent or no enabled pass needs it.
    pub spectrogram: Option<&'a BandSpectrogram>,
}

impl PassContext<'_> {
    /// Seconds of activation frame `frame`.
    pub fn time_of(&self, frame: usize) -> f64 {
        (frame * self.hop) as f64 / f64::from(self.sample_rate)
    }

    /// Frames in `seconds`, rounded.
    pub fn frames_in(&self, seconds: f64) -> usize {
        (seconds * f64::from(self.sample_rate) / self.hop as f64).round() as usize
    }
}

/// Sorts by time, then component channel (stable: equal keys keep their order).
pub fn sort_candidates(candidates: &mut [Candidate]) {
    candidates.sort_by(|a, b| {
        a.event
            .time
            .total_cmp(&b.event.time)
            .then(a.event.component_index.cmp(&b.event.component_index))
    });
}

/// Events per class, in [`DrumClass`] order: what a pass saw and left.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClassCounts(pub Vec<(DrumClass, usize)>);

impl ClassCounts {
    pub fn of(candidates: &[Candidate]) -> Self {
        let mut counts = std::collections::BTreeMap::new();
        for c in candidates {
            *counts.entry(c.event.class).or_insert(0) += 1;
        }
        ClassCounts(counts.into_iter().collect())
    }

    pub fn total(&self) -> usize {
        self.0.iter().map(|(_, n)| n).sum()
    }
}

impl std::fmt::Display for ClassCounts {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(f, "{}", self.total())?;
        if !self.0.is_empty() {
            let parts: Vec<String> = self
                .0
                .iter()
                .map(|(c, n)| format!("{} {n}", c.label()))
                .collect();
            write!(f, " ({})", parts.join(", "))?;
        }
        Ok(())
    }
}

/// What one pass did, for `transcribe -v`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PassReport {
    pub name: &'static str,
    /// Why it did not run (switched off, or the input is silent), if it did not.
    pub skipped: Option<&'static str>,
    pub before: ClassCounts,
    pub after: ClassCounts,
}

impl std::fmt::Display for PassReport {
    /// `crosstalk_gate  420 -> 347  KD 30 -> 27, SD 47 -> 38`: totals, then the classes
    /// whose count changed.
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        if let Some(why) = self.skipped {
            return write!(f, "{:<15} skipped ({why})", self.name);
        }
        write!(
            f,
            "{:<15} {} -> {}",
            self.name,
            self.before.total(),
            self.after.total()
        )?;
        let count = |counts: &ClassCounts, class| {
            counts
                .0
                .iter()
                .find(|(c, _)| *c == class)
                .map_or(0, |(_, n)| *n)
        };
        let changed: Vec<String> = DrumClass::ALL
            .iter()
            .filter_map(|&class| {
                let (a, b) = (count(&self.before, class), count(&self.after, class));
                (a != b).then(|| format!("{} {a} -> {b}", class.label()))
            })
            .collect();
        if !changed.is_empty() {
            write!(f, "  {}", changed.join(", "))?;
        }
        Ok(())
    }
}

/// Runs the whole pipeline on hand-made curves, band and audio.
#[cfg(test)]
pub(crate) fn pick_for_test(
    activations: &[Vec<f32>],
    high_band: Option<HighBand>,
    audio: &[f32],
    settings: &InferenceSettings,
) -> super::Picked {
    let spectrogram = super::needs_spectrogram(settings).then(|| {
        let source = super::SliceSource::whole(audio);
        super::resynthesis::read_band_spectrogram(source, 1.0, audio.len()).expect("a slice reads")
    });
    let analysis = super::StemAnalysis {
        components: crate::kit::components::default_component_names(),
        activations: activations.to_vec(),
        hop: 16,
        gain: Some(1.0),
        high_band,
        spectrogram,
    };
    analysis
        .pick(settings, &MidiSettings::default(), || {
            Ok(super::SliceSource {
                samples: audio,
                piece: 4096,
            })
        })
        .expect("a slice reads")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 3 s of curves with a spike of `height` at each (channel, seconds).
    fn spikes(hits: &[(usize, f64, f32)]) -> Vec<Vec<f32>> {
        let mut curves = vec![vec![0.0f32; 3_000]; 11];
        for &(channel, t, height) in hits {
            curves[channel][(t * 1_000.0).round() as usize] = height;
        }
        curves
    }

    /// Decaying sine bursts of `hz` at the given seconds, amplitude `amp`.
    fn tones(seconds: f64, hits: &[(f64, f64, f64)]) -> Vec<f32> {
        let sr = 16_000.0;
        let mut x = vec![0.0f32; (seconds * sr) as usize];
        for &(start, hz, amp) in hits {
            for i in 0..4_000 {
                let t = i as f64 / sr;
                let v = amp * (-t * 15.0).exp() * (2.0 * std::f64::consts::PI * hz * t).sin();
                x[(start * sr) as usize + i] += v as f32;
            }
        }
        x
    }

    fn settings() -> InferenceSettings {
        let mut s = InferenceSettings::default();
        s.components.clear();
        s.velocity.min_level_db = -120.0;
        s
    }

    fn times(p: &super::super::Picked) -> Vec<f64> {
        p.events.iter().map(|e| e.time).collect()
    }

    #[test]
    fn hits_far_below_the_loudest_are_dropped_by_the_crosstalk_gate() {
        // Kick-band bursts at 0, -6 and -30 dB.
        let audio = tones(
            3.0,
            &[(0.5, 80.0, 0.5), (1.0, 80.0, 0.25), (1.5, 80.0, 0.016)],
        );
        let kicks = [(0, 0.5, 1.0), (0, 1.0, 1.0), (0, 1.5, 1.0)];
        let run = |gate: f64, snare: bool| {
            let mut s = settings();
            s.velocity.min_level_db = gate;
            let mut hits = kicks.to_vec();
            if snare {
                hits.push((1, 1.52, 1.0));
            }
            pick_for_test(&spikes(&hits), None, &audio, &s)
        };
        let all = run(-120.0, false);
        assert_eq!(times(&all), vec![0.5, 1.0, 1.5]);
        let v: Vec<u8> = all.events.iter().map(|e| e.velocity).collect();
        assert!(v[0] > v[1] && v[1] > v[2], "{v:?}");
        // Alone, the quiet hit is a ghost note and stays.
        assert_eq!(run(-12.0, false).events, all.events);
        // With a snare 20 ms later it may be the snare's cross-talk: dropped.
        let gated = run(-12.0, true);
        assert_eq!(times(&gated), vec![0.5, 1.0, 1.52]);
        assert_eq!(gated.events[..2], all.events[..2]);
        let gate = gated
            .passes
            .iter()
            .find(|p| p.name == "crosstalk_gate")
            .unwrap();
        assert_eq!((gate.before.total(), gate.after.total()), (4, 3), "{gate}");
        // Switched off, the gate keeps it.
        let mut s = settings();
        s.velocity.min_level_db = -12.0;
        s.passes.crosstalk_gate.enabled = false;
        let hits = [kicks.as_slice(), &[(1, 1.52, 1.0)]].concat();
        let kept = pick_for_test(&spikes(&hits), None, &audio, &s);
        assert_eq!(kept.events.len(), 4);
        let gate = kept
            .passes
            .iter()
            .find(|p| p.name == "crosstalk_gate")
            .unwrap();
        assert_eq!(gate.skipped, Some("switched off"));
    }

    #[test]
    fn a_kick_event_without_the_songs_lows_is_a_tom() {
        // Four kicks at 55 Hz and, at 2.5 s, a floor tom at 140 Hz in the kick channel.
        let at = [0.5, 1.0, 1.5, 2.0, 2.5];
        let curves = spikes(&at.map(|t| (0, t, 1.0)));
        let hz = |t: f64| if t == 2.5 { 140.0 } else { 55.0 };
        let audio = tones(3.5, &at.map(|t| (t, hz(t), 0.5)));
        let kept = |audio: &[f32], margin: f64, enabled: bool| {
            let mut s = settings();
            s.passes.kick_low_band.margin_db = margin;
            s.passes.kick_low_band.enabled = enabled;
            times(&pick_for_test(&curves, None, audio, &s))
        };
        assert_eq!(kept(&audio, 15.0, true), vec![0.5, 1.0, 1.5, 2.0]);
        assert_eq!(kept(&audio, 120.0, true).len(), 5);
        assert_eq!(kept(&audio, 15.0, false).len(), 5);
        // A recording whose kicks are all high (a kick tuned to 120 Hz) keeps them: the test
        // is relative to the song's typical kick.
        let high = tones(3.5, &at.map(|t| (t, 120.0, 0.5)));
        assert_eq!(kept(&high, 15.0, true).len(), 5);
    }

    #[test]
    fn the_velocity_pass_reads_the_audio_and_switched_off_keeps_the_peak_heights() {
        // Equal activation peaks, audio 20 dB apart.
        let curves = spikes(&[(1, 0.5, 1.0), (1, 1.5, 1.0)]);
        let audio = tones(2.5, &[(0.5, 1_000.0, 0.5), (1.5, 1_000.0, 0.05)]);
        let velocities = |enabled: bool| {
            let mut s = settings();
            s.passes.velocity.enabled = enabled;
            let p = pick_for_test(&curves, None, &audio, &s);
            p.events.iter().map(|e| e.velocity).collect::<Vec<_>>()
        };
        let v = velocities(true);
        assert_eq!(v[0], 127);
        // -20 dB of the 40-dB range: half way.
        assert!(v[1].abs_diff(64) <= 3, "{v:?}");
        assert_eq!(velocities(false), vec![127, 127]);
    }

    #[test]
    fn verification_drops_a_tom_where_nothing_sounds_and_keeps_a_quiet_real_one() {
        // Kicks (trusted) at 55 Hz, a real tom 26 dB under them at 1.25 s (150 Hz), and a tom
        // candidate at 2.25 s where only silence is.
        let kicks = [0.5, 1.0, 1.5, 2.0, 2.5];
        let mut tones_at: Vec<(f64, f64, f64)> = kicks.iter().map(|&t| (t, 55.0, 0.5)).collect();
        tones_at.push((1.25, 150.0, 0.025));
        let audio = tones(3.5, &tones_at);
        let tom = 7; // TT_HFT
        let mut hits: Vec<(usize, f64, f32)> = kicks.iter().map(|&t| (0, t, 1.0)).collect();
        hits.extend([(tom, 1.25, 1.0), (tom, 2.25, 1.0)]);
        let toms = |verify: bool| {
            let mut s = settings();
            s.passes.verification.enabled = verify;
            let p = pick_for_test(&spikes(&hits), None, &audio, &s);
            p.events
                .iter()
                .filter(|e| e.component_index == tom)
                .map(|e| e.time)
                .collect::<Vec<_>>()
        };
        assert_eq!(toms(false), vec![1.25, 2.25]);
        assert_eq!(toms(true), vec![1.25]);
    }

    #[test]
    fn the_cymbal_gate_keeps_a_new_hit_and_drops_a_peak_in_its_ring_or_a_weak_one() {
        // The band above 6 kHz: a crash at 0.5 s ringing for seconds; the cymbal channel peaks
        // at the hit and again 0.5 s into its ring.
        let ride = 8; // CY_RDC
        let power: Vec<f32> = (0..3_000)
            .map(|f| match f {
                f if f < 500 => 1e-6,
                f => (-((f - 500) as f32) / 1_000.0).exp(),
            })
            .collect();
        let band = HighBand {
            flux: vec![0.0; 3_000],
            power,
        };
        let curves = spikes(&[(ride, 0.5, 0.5), (ride, 1.0, 0.5)]);
        let audio = vec![0.0f32; 48_000];
        let cymbals = |enabled: bool, min_height: f64| {
            let mut s = settings();
            s.passes.cymbal_gate.enabled = enabled;
            s.passes.cymbal_gate.min_height = min_height;
            let p = pick_for_test(&curves, Some(band.clone()), &audio, &s);
            p.events
                .iter()
                .filter(|e| e.class == DrumClass::CY)
                .map(|e| e.time)
                .collect::<Vec<_>>()
        };
        assert_eq!(cymbals(true, 0.03), vec![0.5]);
        assert_eq!(cymbals(false, 0.03), vec![0.5, 1.0]);
        // Peaks under the absolute floor go, however the song's normalisation scaled them.
        assert_eq!(cymbals(true, 0.6), Vec::<f64>::new());
    }

    #[test]
    fn a_silent_input_skips_the_passes_that_read_the_audio_and_reports_every_pass() {
        let curves = spikes(&[(0, 0.5, 1.0)]);
        let analysis = super::super::StemAnalysis {
            components: crate::kit::components::default_component_names(),
            activations: curves,
            hop: 16,
            gain: None,
            high_band: None,
            spectrogram: None,
        };
        let picked = analysis
            .pick(
                &InferenceSettings::default(),
                &MidiSettings::default(),
                || -> crate::Result<super::super::SliceSource> { panic!("no read of silence") },
            )
            .unwrap();
        assert_eq!(picked.events.len(), 1);
        let names: Vec<&str> = picked.passes.iter().map(|p| p.name).collect();
        assert_eq!(names, PIPELINE.map(|p| p.name()).to_vec());
        assert_eq!(picked.passes[0].skipped, None);
        assert!(picked.passes[1..]
            .iter()
            .all(|p| p.skipped == Some("silent input")));
        assert_eq!(
            picked.passes[0].to_string(),
            "peak_picking    0 -> 1  KD 0 -> 1"
        );
    }
}
