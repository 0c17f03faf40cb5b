//! Hi-hat onsets read from the audio (`[inference.hihat] source = "audio"`, the default).
//!
//! The bundled model's hi-hat channels are its weakest: an isolated closed hat often leaves
//! them at a few percent of their song maximum while cross-talk from kicks and snares peaks
//! higher, so peak picking misses hats and finds kicks. The band above 6 kHz, on the other
//! hand, is mostly hats and cymbals, and a new hit there is a jump in its log spectrum. This
//! detector is that jump (positive spectral flux of log-compressed magnitudes above 6 kHz) on
//! the activations' own 1-ms grid, peak-picked like an activation curve. The jump is measured
//! against the spectrum 32 ms earlier, widened by a 3-bin maximum over frequency (SuperFlux,
//! Böck & Widmer 2013): a ringing ride or open hat wobbles by fractions of a decibel from one
//! millisecond to the next, and a 1-ms flux summed those wobbles into false hats; a new hit
//! rises far above the widened past. An onset whose band still rings 60-120 ms later is a
//! ride's, a crash's or a snare's wires', not a closed hat's, and is dropped. The model still
//! names each hit's component (closed, open or pedal: its hi-hat channel most active around
//! the onset). On the tuning grooves (24 with kits 1-11, 12 with procedural training seeds;
//! never the evaluation sets) it raised the bundled model's hi-hat F1 from .41 / .60 to .61 /
//! .82, the lag with the widening then to .64 / .92, the band moved from 5 to 6 kHz (fewer
//! snare wires) with delta .12 to .65 / .94, the ring test to .65 / .95 (see
//! assets/model/README.md).

use realfft::RealFftPlanner;

use crate::dsp::peak_pick::{pick_peaks, PeakPickParams};
use crate::error::{Error, Result};
use crate::kit::DrumClass;
use crate::midi::MidiSettings;

use super::chunked::SampleSource;
use super::events::{class_of, note_of, DrumEvent};
use super::settings::InferenceSettings;
use super::velocity::velocity;

/// FFT length (32 ms at 16 kHz): long enough to resolve the band, short enough to separate
/// sixteenth notes at 200 BPM.
const WINDOW: usize = 512;
/// Lowest frequency of the band, Hz: a snare's wires reach 5-6 kHz, hats go higher (5, 5.5,
/// 6, 6.5 and 7 kHz tried on the tuning grooves).
const LOW_HZ: f64 = 6_000.0;
/// Magnitudes are compressed as log(1 + 100 |X|) (|X| scaled by the window sum, on input
/// normalised to a peak of 1), so a quiet hat's jump counts next to a loud one's.
const COMPRESSION: f32 = 100.0;
/// Seconds around an onset searched for the most active hi-hat channel.
const COMPONENT_WINDOW: f64 = 0.02;
/// Seconds between the two spectra compared: about a window, so that the earlier one holds
/// none of the new hit.
const LAG_SECONDS: f64 = 0.032;
/// Bins of the maximum over frequency applied to the earlier spectrum.
const WIDENING_BINS: usize = 3;
/// The lagged difference peaks about this much after the 1-ms one (measured on the tuning
/// grooves: +10 ms for a 32-ms lag), so the curve is moved back by it to stay on the onset.
const LAG_DELAY_SECONDS: f64 = 0.010;
/// Below this share of the input's energy (-40 dB) the band holds no hits, only resampling
/// residue: an 8-kHz file ends at 4 kHz (its share above 5 kHz: 2e-6; above 6 kHz the
/// development set's clips and the tuning grooves hold 5e-4 to 9e-2). The flux is then all
/// zeros, and the model's hi-hat peaks stand.
const MIN_BAND_SHARE: f64 = 1e-4;

/// What the hi-hat onsets read from the band above [`LOW_HZ`], one value per activation frame.
#[derive(Debug, Clone, PartialEq)]
pub struct HighBand {
    /// Positive spectral flux (see [`read_high_band`]).
    pub flux: Vec<f32>,
    /// Power of the band in the window centred on the frame (linear, input scaled by `gain`).
    pub power: Vec<f32>,
}

/// Positive high-band spectral flux, one value per activation frame: the window centred on
/// sample `hop * (t + delay)` against the widened one [`LAG_SECONDS`] earlier, where `delay`
/// is [`LAG_DELAY_SECONDS`] in frames, so that a hit at frame t peaks near t. Before the
/// stream is silence. `gain` scales the input (the transcription's peak normalisation).
/// All zeros when the band holds almost none of the input's energy ([`MIN_BAND_SHARE`]).
/// Also the band's power per frame, for the hi-hat onsets' ring test. Reads `source` once.
pub fn read_high_band<S: SampleSource>(
    mut source: S,
    gain: f32,
    frames: usize,
    hop: usize,
    sample_rate: u32,
) -> Result<HighBand> {
    let fft = RealFftPlanner::<f32>::new().plan_fft_forward(WINDOW);
    let window: Vec<f32> = (0..WINDOW)
        .map(|n| {
            let phase = 2.0 * std::f64::consts::PI * n as f64 / WINDOW as f64;
            (0.5 - 0.5 * phase.cos()) as f32
        })
        .collect();
    let scale = gain / window.iter().sum::<f32>();
    let first_bin = (LOW_HZ * WINDOW as f64 / f64::from(sample_rate)).ceil() as usize;
    let mut input = fft.make_input_vec();
    let mut spectrum = fft.make_output_vec();
    let frames_of = |seconds: f64| (seconds * f64::from(sample_rate) / hop as f64).round() as usize;
    let lag = frames_of(LAG_SECONDS).max(1);
    let delay = frames_of(LAG_DELAY_SECONDS);
    // The widened spectra of the last `lag` frames, frame t in slot t % lag (which then holds
    // frame t - lag until overwritten); zeros (silence) at the start.
    let bins = spectrum.len() - first_bin;
    let mut past = vec![0.0f32; lag * bins];
    let mut current = vec![0.0f32; bins];
    let compression = COMPRESSION * scale;
    // Samples [offset, offset + buffer.len()) of the stream, with WINDOW / 2 zeros before it.
    let half = WINDOW / 2;
    let mut buffer = vec![0.0f32; half];
    let mut offset = 0usize;
    let mut eof = false;
    let mut flux = Vec::with_capacity(frames);
    let mut power = Vec::with_capacity(frames);
    let (mut band_energy, mut total_energy) = (0.0f64, 0.0f64);
    for t in 0..frames + delay {
        // Window of frame t: stream samples [hop t - half, hop t + half), i.e. buffer
        // positions from hop t - offset (the buffer starts half a window early).
        let start = hop * t - offset;
        while !eof && buffer.len() < start + WINDOW {
            match source.next_samples()? {
                Some(piece) => buffer.extend(piece),
                None => eof = true,
            }
        }
        if buffer.len() < start + WINDOW {
            buffer.resize(start + WINDOW, 0.0);
        }
        for ((x, &s), &w) in input.iter_mut().zip(&buffer[start..]).zip(&window) {
            *x = s * w;
        }
        fft.process(&mut input, &mut spectrum)
            .map_err(|e| Error::Invalid(format!("high-band flux FFT: {e}")))?;
        for (c, x) in current.iter_mut().zip(&spectrum[first_bin..]) {
            *c = (compression * x.norm()).ln_1p();
        }
        let power_of = |bins: &[realfft::num_complex::Complex<f32>]| {
            bins.iter().map(|x| f64::from(x.norm_sqr())).sum::<f64>()
        };
        let band = power_of(&spectrum[first_bin..]);
        band_energy += band;
        total_energy += power_of(&spectrum);
        if t < frames {
            power.push((band * f64::from(scale * scale)) as f32);
        }
        let slot = &mut past[(t % lag) * bins..][..bins];
        let value: f32 = current
            .iter()
            .zip(slot.iter())
            .map(|(c, p)| (c - p).max(0.0))
            .sum();
        if t >= delay {
            flux.push(value);
        }
        widen_into(&current, WIDENING_BINS, slot);
        // Keep the buffer short: drop what no later window needs.
        if start > 1 << 16 {
            buffer.drain(..start);
            offset += start;
        }
    }
    if band_energy <= MIN_BAND_SHARE * total_energy {
        flux.fill(0.0);
    }
    Ok(HighBand { flux, power })
}

/// `out[k]`: the maximum of the `width` bins of `spectrum` centred on k.
fn widen_into(spectrum: &[f32], width: usize, out: &mut [f32]) {
    let half = width / 2;
    for (k, o) in out.iter_mut().enumerate() {
        let hi = (k + half + 1).min(spectrum.len());
        *o = spectrum[k.saturating_sub(half)..hi]
            .iter()
            .fold(f32::MIN, |m, &x| m.max(x));
    }
}

/// Seconds after an onset over which the band's attack is read (its strongest window).
const ATTACK_SECONDS: (f64, f64) = (0.0, 0.030);
/// Seconds after an onset over which its ring is read (the band's mean power). A closed hat
/// has died away by then; a ride, a crash or a snare's wires still ring.
const RING_SECONDS: (f64, f64) = (0.060, 0.120);

/// How far (dB) the band's mean power 60-120 ms after `frame` lies below its strongest
/// window in the first 30 ms; `None` where the file ends too early to tell.
fn ring_db(power: &[f32], frame: usize, hop: usize, sample_rate: u32) -> Option<f64> {
    let at = |s: f64| frame + (s * f64::from(sample_rate) / hop as f64).round() as usize;
    let attack = power.get(at(ATTACK_SECONDS.0)..=at(ATTACK_SECONDS.1))?;
    let ring = power.get(at(RING_SECONDS.0)..=at(RING_SECONDS.1))?;
    let attack = attack.iter().fold(0.0f32, |m, &x| m.max(x));
    let ring = ring.iter().map(|&x| f64::from(x)).sum::<f64>() / ring.len() as f64;
    (attack > 0.0).then(|| 10.0 * (ring.max(1e-30) / f64::from(attack)).log10())
}

/// Replaces the hi-hat events picked from the activations by onsets picked from the band's
/// flux (`[inference.hihat]`), each named after the hi-hat component most active around it;
/// an onset whose band still rings 60-120 ms later (within `max_ring_db` of its attack) is a
/// cymbal's or a snare's, not a hat's, and is dropped. `events` stay sorted by time.
#[allow(clippy::too_many_arguments)]
pub fn replace_hihat_events(
    events: &mut Vec<DrumEvent>,
    band: &HighBand,
    activations: &[Vec<f32>],
    names: &[String],
    settings: &InferenceSettings,
    midi: &MidiSettings,
    hop: usize,
    sample_rate: u32,
) {
    let hihats: Vec<usize> = (0..names.len())
        .filter(|&i| class_of(&names[i]) == DrumClass::HH && settings.enabled(&names[i]))
        .collect();
    let Some(&fallback) = hihats.first() else {
        return;
    };
    let flux = &band.flux;
    let max = flux.iter().fold(0.0f32, |m, &x| m.max(x));
    if max <= 0.0 {
        // Nothing above 6 kHz (a band-limited input): the model's hi-hat peaks stand.
        return;
    }
    events.retain(|e| e.class != DrumClass::HH);
    let params = PeakPickParams {
        delta: settings.hihat.delta,
        ..settings.peak_pick_for(&names[fallback])
    };
    let peaks = pick_peaks(flux, hop, sample_rate, &params);
    let reach = (COMPONENT_WINDOW * f64::from(sample_rate) / hop as f64).round() as usize;
    for p in peaks {
        let ring = ring_db(&band.power, p.frame, hop, sample_rate);
        if ring.is_some_and(|db| db > settings.hihat.max_ring_db) {
            continue;
        }
        let lo = p.frame.saturating_sub(reach);
        // Each hi-hat channel's largest activation within reach of the onset.
        let strength = |i: usize| {
            let curve = &activations[i];
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
        events.push(DrumEvent {
            time: (p.frame * hop) as f64 / f64::from(sample_rate),
            component: name.clone(),
            component_index: index,
            class: DrumClass::HH,
            note: note_of(name, midi),
            velocity: velocity(p.value, max, settings.velocity_for(name).range_db),
            confidence: height.clamp(0.0, 1.0),
            height,
        });
    }
    events.sort_by(|a, b| {
        a.time
            .total_cmp(&b.time)
            .then(a.component_index.cmp(&b.component_index))
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transcribe::SliceSource;

    /// Decaying white-noise bursts (hi-hat-like, broadband) at the given seconds, on a low
    /// sine that must not count.
    fn bursts(seconds: f64, at: &[f64]) -> Vec<f32> {
        let n = (seconds * 16_000.0) as usize;
        let mut state = 12_345u32;
        let mut x: Vec<f32> = (0..n)
            .map(|i| 0.3 * (2.0 * std::f32::consts::PI * 60.0 * i as f32 / 16_000.0).sin())
            .collect();
        for &t in at {
            let s = (t * 16_000.0) as usize;
            for (k, v) in x[s..(s + 1_600).min(n)].iter_mut().enumerate() {
                state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                let noise = (state >> 8) as f32 / (1u32 << 24) as f32 - 0.5;
                *v += 0.5 * noise * (-(k as f32) / 300.0).exp();
            }
        }
        x
    }

    #[test]
    fn flux_peaks_at_noise_bursts_and_not_at_the_hum_nor_the_chunking() {
        let at = [0.25, 0.8, 1.3];
        let x = bursts(2.0, &at);
        let frames = x.len() / 16;
        let flux = |piece| {
            read_high_band(SliceSource { samples: &x, piece }, 1.0, frames, 16, 16_000).unwrap()
        };
        let band = flux(x.len());
        assert_eq!((band.flux.len(), band.power.len()), (frames, frames));
        // Reading in small pieces changes nothing.
        assert_eq!(flux(1_000), band);
        let whole = band.flux;
        let peaks = pick_peaks(&whole, 16, 16_000, &PeakPickParams::default());
        let times: Vec<f64> = peaks.iter().map(|p| p.frame as f64 / 1_000.0).collect();
        assert_eq!(times.len(), at.len(), "{times:?}");
        for (t, want) in times.iter().zip(at) {
            // The window centred on the onset sees half of it: the jump peaks within 16 ms.
            assert!((t - want).abs() <= 0.016, "{times:?}");
        }
        // Louder input (before normalisation) gives the same curve once normalised by gain.
        let loud: Vec<f32> = x.iter().map(|v| v * 10.0).collect();
        let scaled = read_high_band(
            SliceSource {
                samples: &loud,
                piece: 4_096,
            },
            0.1,
            frames,
            16,
            16_000,
        )
        .unwrap();
        for (a, b) in scaled.flux.iter().zip(&whole) {
            assert!((a - b).abs() <= 1e-3 * (1.0 + b.abs()), "{a} vs {b}");
        }
        for (a, b) in scaled.power.iter().zip(&band.power) {
            assert!((a - b).abs() <= 1e-3 * b.abs() + 1e-12, "{a} vs {b}");
        }
    }

    #[test]
    fn a_ringing_cymbal_does_not_count_as_hits() {
        // A ride-like wash under the hits: 40 partials between 5 and 8 kHz, each gliding by
        // +-20 Hz a few times a second (as a ringing cymbal's partials do), so that energy
        // moves between neighbouring bins from one millisecond to the next. Only the three
        // hits may come out after the wash has faded in.
        let at = [0.5, 1.2, 1.9];
        let mut x = bursts(2.5, &at);
        let tau = 2.0 * std::f64::consts::PI;
        for k in 0..40 {
            let f = 5_000.0 + 75.0 * k as f64;
            let rate = 3.0 + 0.13 * k as f64;
            for (i, v) in x.iter_mut().enumerate() {
                let t = i as f64 / 16_000.0;
                let fade_in = (t / 0.2).min(1.0);
                let phase = tau * f * t + 20.0 / rate * (tau * rate * t).sin();
                *v += (0.005 * fade_in * phase.sin()) as f32;
            }
        }
        let flux = read_high_band(
            SliceSource {
                samples: &x,
                piece: 4_096,
            },
            1.0,
            x.len() / 16,
            16,
            16_000,
        )
        .unwrap()
        .flux;
        let params = PeakPickParams {
            delta: InferenceSettings::default().hihat.delta,
            ..PeakPickParams::default()
        };
        let times: Vec<f64> = pick_peaks(&flux, 16, 16_000, &params)
            .iter()
            .map(|p| p.frame as f64 / 1_000.0)
            .filter(|&t| t > 0.3)
            .collect();
        assert_eq!(times.len(), at.len(), "{times:?}");
        for (t, want) in times.iter().zip(at) {
            assert!((t - want).abs() <= 0.016, "{times:?}");
        }
    }

    #[test]
    fn an_input_with_nothing_above_6_khz_keeps_the_models_hihats() {
        // Smooth 1-kHz bursts on a hum, as an 8-kHz file resampled to 16 kHz holds.
        let x: Vec<f32> = (0..32_000)
            .map(|i| {
                let t = i as f32 / 16_000.0;
                let phase = (t * 4.0).fract() / 0.05;
                let envelope = if phase < 1.0 {
                    0.5 - 0.5 * (2.0 * std::f32::consts::PI * phase).cos()
                } else {
                    0.0
                };
                let tau = 2.0 * std::f32::consts::PI;
                0.3 * (tau * 60.0 * t).sin() + 0.5 * envelope * (tau * 1_000.0 * t).sin()
            })
            .collect();
        let flux = read_high_band(
            SliceSource {
                samples: &x,
                piece: 4_096,
            },
            1.0,
            2_000,
            16,
            16_000,
        )
        .unwrap()
        .flux;
        assert!(flux.iter().all(|&v| v == 0.0));
        let mut curves = vec![vec![0.0f32; 2_000]; 11];
        curves[2][700] = 0.9;
        let (before, after) = hihat_replacement(&curves, &flux);
        assert!(before.iter().any(|e| e.component == "HH_CHH"));
        assert_eq!(after, before);
    }

    /// Events of `curves` (default peak picking, 11 default components) before and after
    /// [`replace_hihat_events`] with `flux` (and no band power: no ring test).
    fn hihat_replacement(curves: &[Vec<f32>], flux: &[f32]) -> (Vec<DrumEvent>, Vec<DrumEvent>) {
        let band = HighBand {
            flux: flux.to_vec(),
            power: vec![0.0; flux.len()],
        };
        replaced(curves, &band, &InferenceSettings::default())
    }

    fn replaced(
        curves: &[Vec<f32>],
        band: &HighBand,
        settings: &InferenceSettings,
    ) -> (Vec<DrumEvent>, Vec<DrumEvent>) {
        let names = crate::kit::components::default_component_names();
        let midi = MidiSettings::default();
        let before =
            crate::transcribe::events_from_activations(curves, &names, settings, &midi, 16, 16_000);
        let mut after = before.clone();
        replace_hihat_events(
            &mut after, band, curves, &names, settings, &midi, 16, 16_000,
        );
        (before, after)
    }

    #[test]
    fn an_onset_whose_band_still_rings_is_not_a_hat() {
        // Hat-like bursts (20-ms decay) at 0.3 and 1.5 s; at 0.9 s a burst that rings like a
        // ride (0.5-s decay, 8 dB quieter at its attack).
        let mut x = bursts(2.5, &[0.3, 1.5]);
        let mut state = 99u32;
        let s = (0.9 * 16_000.0) as usize;
        for (k, v) in x[s..s + 12_000].iter_mut().enumerate() {
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            let noise = (state >> 8) as f32 / (1u32 << 24) as f32 - 0.5;
            *v += 0.2 * noise * (-(k as f32) / 8_000.0).exp();
        }
        let frames = x.len() / 16;
        let band = read_high_band(
            SliceSource {
                samples: &x,
                piece: 4_096,
            },
            1.0,
            frames,
            16,
            16_000,
        )
        .unwrap();
        let curves = vec![vec![0.0f32; frames]; 11];
        let hats = |settings: &InferenceSettings| -> Vec<f64> {
            let (_, after) = replaced(&curves, &band, settings);
            after
                .iter()
                .filter(|e| e.class == DrumClass::HH)
                .map(|e| e.time)
                .collect()
        };
        let near = |times: &[f64], want: &[f64]| {
            times.len() == want.len() && times.iter().zip(want).all(|(t, w)| (t - w).abs() <= 0.016)
        };
        let mut settings = InferenceSettings::default();
        let kept = hats(&settings);
        assert!(near(&kept, &[0.3, 1.5]), "{kept:?}");
        settings.hihat.max_ring_db = 60.0;
        let all = hats(&settings);
        assert!(near(&all, &[0.3, 0.9, 1.5]), "{all:?}");
        // The measure itself: the hat has died away 60-120 ms on, the ride has not.
        let hat = ring_db(&band.power, 300, 16, 16_000).unwrap();
        let ride = ring_db(&band.power, 900, 16, 16_000).unwrap();
        assert!(
            hat < -20.0 && ride > -1.5,
            "hat {hat:.1} dB, ride {ride:.1} dB"
        );
        assert_eq!(ring_db(&band.power, frames - 10, 16, 16_000), None);
    }

    #[test]
    fn hihat_events_come_from_the_flux_and_name_the_active_channel() {
        let mut curves = vec![vec![0.0f32; 2_000]; 11];
        curves[3][805] = 0.4; // HH_OHH near the second onset
        curves[2][1_700] = 0.9; // a lone HH_CHH peak with no flux: must disappear
        let mut flux = vec![0.0f32; 2_000];
        flux[300] = 1.0;
        flux[800] = 0.5;
        let (before, events) = hihat_replacement(&curves, &flux);
        assert!(before.iter().any(|e| e.component == "HH_CHH"));
        let hh: Vec<(f64, &str)> = events
            .iter()
            .filter(|e| e.class == DrumClass::HH)
            .map(|e| (e.time, e.component.as_str()))
            .collect();
        assert_eq!(hh, vec![(0.3, "HH_CHH"), (0.8, "HH_OHH")]);
        assert!(events[0].velocity > events[1].velocity);
    }
}
