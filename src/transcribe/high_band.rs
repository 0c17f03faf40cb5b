//! The audio's band above 6 kHz, read once per transcription for the hi-hat passes: its
//! positive spectral flux (where a new hit jumps) and its power (how long it rings), one value
//! per activation frame.
//!
//! The band above 6 kHz is mostly hats and cymbals, and a new hit there is a jump in its log
//! spectrum. The flux is that jump (positive spectral flux of log-compressed magnitudes) on the
//! activations' own 1-ms grid, measured against the spectrum 32 ms earlier, widened by a 3-bin
//! maximum over frequency (SuperFlux, Böck & Widmer 2013): a ringing ride or open hat wobbles
//! by fractions of a decibel from one millisecond to the next, and a 1-ms flux summed those
//! wobbles into false hats; a new hit rises far above the widened past. The passes that read
//! it: `passes::hihat_onsets` (onsets), `passes::ring_test` and `passes::cymbal_gate` (power).

use realfft::RealFftPlanner;

use crate::dsp::window::hann;
use crate::error::{Error, Result};

use super::centred_windows::CentredWindows;
use super::chunked::SampleSource;

/// FFT length (32 ms at 16 kHz): long enough to resolve the band, short enough to separate
/// sixteenth notes at 200 BPM.
const WINDOW: usize = 512;
/// Lowest frequency of the band, Hz: a snare's wires reach 5-6 kHz, hats go higher (5, 5.5,
/// 6, 6.5 and 7 kHz tried on the tuning grooves). Also the hi-hat band of the onset levels.
pub const LOW_HZ: f64 = 6_000.0;
/// Magnitudes are compressed as log(1 + 100 |X|) (|X| scaled by the window sum, on input
/// normalised to a peak of 1), so a quiet hat's jump counts next to a loud one's.
const COMPRESSION: f32 = 100.0;
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
    source: S,
    gain: f32,
    frames: usize,
    hop: usize,
    sample_rate: u32,
) -> Result<HighBand> {
    let fft = RealFftPlanner::<f32>::new().plan_fft_forward(WINDOW);
    let window = hann(WINDOW);
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
    let mut windows = CentredWindows::new(source, WINDOW, hop);
    let mut flux = Vec::with_capacity(frames);
    let mut power = Vec::with_capacity(frames);
    let (mut band_energy, mut total_energy) = (0.0f64, 0.0f64);
    for t in 0..frames + delay {
        // Window of frame t: stream samples [hop t - WINDOW / 2, hop t + WINDOW / 2).
        for ((x, &s), &w) in input.iter_mut().zip(windows.at(t)?).zip(&window) {
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

/// Level (dB) of the band's mean power over `mean` (seconds from `frame`, both ends included)
/// against its strongest window over `peak`: how far what sounds there lies below the hit.
/// Read by the ring test (the ring after an onset) and the cymbal gate (what sounded before
/// it). `None` where a window falls outside the file or the peak is silent.
pub fn mean_to_peak_db(
    power: &[f32],
    frame: usize,
    hop: usize,
    sample_rate: u32,
    peak: (f64, f64),
    mean: (f64, f64),
) -> Option<f64> {
    let at = |s: f64| {
        let f = frame as f64 + s * f64::from(sample_rate) / hop as f64;
        (f >= 0.0).then_some(f.round() as usize)
    };
    let peak = power.get(at(peak.0)?..=at(peak.1)?)?;
    let mean = power.get(at(mean.0)?..=at(mean.1)?)?;
    let peak = peak.iter().fold(0.0f32, |m, &x| m.max(x));
    let mean = mean.iter().map(|&x| f64::from(x)).sum::<f64>() / mean.len() as f64;
    (peak > 0.0).then(|| 10.0 * (mean.max(1e-30) / f64::from(peak)).log10())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dsp::peak_pick::{pick_peaks, PeakPickParams};
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
            delta: crate::transcribe::passes::HihatOnsetSettings::default().delta,
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
    fn an_input_with_nothing_above_6_khz_gives_no_flux() {
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
    }
}
