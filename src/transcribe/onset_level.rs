//! How loud each detected hit is, measured on the audio.
//!
//! DrummerNet's activations are products of two sparsemaxes, so an isolated hit saturates at
//! height 1 whatever its loudness: the heights order hits only when several share a window.
//! The velocity therefore comes from the input itself: the power a hit adds in its class's
//! frequency band (kick lows, snare mids, hi-hat and cymbal highs), measured in a 64-ms window
//! starting at the onset minus the same band's power in the 64 ms before it, so that a hit's
//! level is not its predecessor's tail and a kick under a hi-hat does not lift the hi-hat.

use std::sync::Arc;

use realfft::{RealFftPlanner, RealToComplex};

use crate::dsp::window::hann;
use crate::error::Result;
use crate::kit::DrumClass;

use super::chunked::SampleSource;
use super::high_band;

/// FFT length of both measuring windows (64 ms at 16 kHz).
const WINDOW: usize = 1024;
/// The post-onset window starts this many samples early, for onsets picked a frame late.
const LEAD: usize = 32;

/// The band, in Hz, where a class's hits carry most of their energy and the others little.
pub fn band_hz(class: DrumClass) -> (f64, f64) {
    match class {
        DrumClass::KD => (30.0, 160.0),
        DrumClass::SD => (180.0, 2_500.0),
        DrumClass::TT => (70.0, 600.0),
        DrumClass::HH => (high_band::LOW_HZ, 8_000.0),
        DrumClass::CY => (4_000.0, 8_000.0),
        DrumClass::OT => (3_000.0, 8_000.0),
    }
}

/// A kick's lowest band and the band above it (Hz), for [`Reading::kick_low_db`]: a kick's
/// fundamental sits in the first, a floor tom's in the second.
const KICK_LOW_HZ: (f64, f64) = (30.0, 90.0);
const KICK_UPPER_HZ: (f64, f64) = (90.0, 250.0);
/// Window of the kick test, from the onset (128 ms): 8-Hz bins, so that a fundamental near the
/// 90-Hz border does not leak across it as it does with the 16-Hz bins of [`WINDOW`].
const KICK_WINDOW: usize = 2048;

/// What the audio says of one hit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Reading {
    /// Band amplitude: the square root of the power the hit adds in its class's band.
    pub level: f32,
    /// Kicks only: the power of the 128 ms after the onset at 30-90 Hz over 90-250 Hz, dB.
    pub kick_low_db: Option<f32>,
}

/// One hit to measure: its onset sample and its class.
#[derive(Debug, Clone, Copy)]
pub struct Hit {
    pub sample: usize,
    pub class: DrumClass,
}

/// The [`Reading`] of every hit, in the order given. `hits` must be sorted by sample; the
/// source is read once, holding ~2 windows of audio.
pub fn read_onsets<S: SampleSource>(
    mut source: S,
    sample_rate: u32,
    hits: &[Hit],
) -> Result<Vec<Reading>> {
    let meter = BandMeter::new(sample_rate, WINDOW);
    let kick_meter = BandMeter::new(sample_rate, KICK_WINDOW);
    let mut buffer = StreamWindow::default();
    let mut readings = Vec::with_capacity(hits.len());
    for hit in hits {
        let start = hit.sample.saturating_sub(LEAD);
        let from = start.saturating_sub(WINDOW);
        buffer.drop_before(from);
        let ahead = if hit.class == DrumClass::KD {
            (hit.sample + KICK_WINDOW).max(start + WINDOW)
        } else {
            start + WINDOW
        };
        while !buffer.eof && buffer.end() < ahead {
            match source.next_samples()? {
                Some(piece) => buffer.push(&piece),
                None => buffer.eof = true,
            }
        }
        let band = band_hz(hit.class);
        let after_spectrum = meter.power_spectrum(&buffer.span(start, WINDOW));
        let after = meter.band_power(&after_spectrum, band);
        let before = if start >= WINDOW {
            let spectrum = meter.power_spectrum(&buffer.span(start - WINDOW, WINDOW));
            meter.band_power(&spectrum, band)
        } else {
            0.0
        };
        let kick_low_db = (hit.class == DrumClass::KD).then(|| {
            let spectrum = kick_meter.power_spectrum(&buffer.span(hit.sample, KICK_WINDOW));
            let low = kick_meter.band_power(&spectrum, KICK_LOW_HZ);
            let upper = kick_meter.band_power(&spectrum, KICK_UPPER_HZ);
            (10.0 * ((low + 1e-20) / (upper + 1e-20)).log10()) as f32
        });
        // A hit never counts below a tenth of its window's power: a fast roll's later hits
        // sit on their predecessors' tails but are still heard.
        readings.push(Reading {
            level: (after - before).max(0.1 * after).sqrt() as f32,
            kick_low_db,
        });
    }
    Ok(readings)
}

/// The part of a stream still needed: samples `[start, start + samples.len())`.
#[derive(Default)]
struct StreamWindow {
    start: usize,
    samples: Vec<f32>,
    eof: bool,
}

impl StreamWindow {
    fn end(&self) -> usize {
        self.start + self.samples.len()
    }

    fn push(&mut self, piece: &[f32]) {
        self.samples.extend_from_slice(piece);
    }

    fn drop_before(&mut self, sample: usize) {
        if sample > self.start {
            let n = (sample - self.start).min(self.samples.len());
            self.samples.drain(..n);
            self.start += n;
        }
    }

    /// `len` samples from `from`, zeros outside the stream.
    fn span(&self, from: usize, len: usize) -> Vec<f32> {
        (from..from + len)
            .map(|i| {
                i.checked_sub(self.start)
                    .and_then(|j| self.samples.get(j))
                    .copied()
                    .unwrap_or(0.0)
            })
            .collect()
    }
}

/// Hann-windowed power spectra, summed over bands.
struct BandMeter {
    fft: Arc<dyn RealToComplex<f32>>,
    hann: Vec<f32>,
    bin_hz: f64,
}

impl BandMeter {
    fn new(sample_rate: u32, len: usize) -> Self {
        BandMeter {
            fft: RealFftPlanner::<f32>::new().plan_fft_forward(len),
            hann: hann(len),
            bin_hz: f64::from(sample_rate) / len as f64,
        }
    }

    fn power_spectrum(&self, frame: &[f32]) -> Vec<f64> {
        let mut input: Vec<f32> = frame.iter().zip(&self.hann).map(|(x, w)| x * w).collect();
        let mut spectrum = self.fft.make_output_vec();
        // Lengths match the plan by construction, the only way this call fails.
        if self.fft.process(&mut input, &mut spectrum).is_err() {
            return vec![0.0; spectrum.len()];
        }
        spectrum.iter().map(|c| f64::from(c.norm_sqr())).collect()
    }

    fn band_power(&self, spectrum: &[f64], (lo, hi): (f64, f64)) -> f64 {
        let first = (lo / self.bin_hz).ceil() as usize;
        let last = ((hi / self.bin_hz).floor() as usize).min(spectrum.len() - 1);
        spectrum[first.min(last)..=last].iter().sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transcribe::SliceSource;

    const SR: u32 = 16_000;

    fn tone_burst(x: &mut [f32], at: usize, hz: f32, amp: f32) {
        for i in 0..1600.min(x.len() - at) {
            let t = i as f32 / SR as f32;
            x[at + i] += amp * (-t * 30.0).exp() * (2.0 * std::f32::consts::PI * hz * t).sin();
        }
    }

    fn levels(x: &[f32], hits: &[Hit]) -> Vec<f32> {
        let source = SliceSource {
            samples: x,
            piece: 777,
        };
        read_onsets(source, SR, hits)
            .unwrap()
            .iter()
            .map(|r| r.level)
            .collect()
    }

    #[test]
    fn level_follows_amplitude_in_the_class_band() {
        let mut x = vec![0.0f32; 4 * SR as usize];
        let times = [4000usize, 20_000, 36_000];
        for (&t, amp) in times.iter().zip([0.1f32, 0.3, 0.9]) {
            tone_burst(&mut x, t, 80.0, amp);
        }
        let hits: Vec<Hit> = times
            .iter()
            .map(|&sample| Hit {
                sample,
                class: DrumClass::KD,
            })
            .collect();
        let l = levels(&x, &hits);
        assert!(l[0] < l[1] && l[1] < l[2], "{l:?}");
        // Amplitude ratios survive: 0.9 / 0.1 = 9.
        assert!((l[2] / l[0] - 9.0).abs() < 0.5, "{l:?}");
    }

    #[test]
    fn a_loud_kick_does_not_lift_a_simultaneous_hi_hat() {
        let mut x = vec![0.0f32; 2 * SR as usize];
        tone_burst(&mut x, 8000, 7000.0, 0.2);
        let alone = levels(
            &x,
            &[Hit {
                sample: 8000,
                class: DrumClass::HH,
            }],
        )[0];
        tone_burst(&mut x, 8000, 70.0, 1.0);
        let with_kick = levels(
            &x,
            &[Hit {
                sample: 8000,
                class: DrumClass::HH,
            }],
        )[0];
        assert!(
            (with_kick / alone - 1.0).abs() < 0.05,
            "{alone} {with_kick}"
        );
    }

    #[test]
    fn hits_at_the_edges_and_past_the_end_are_measured_without_panic() {
        let mut x = vec![0.0f32; 3000];
        tone_burst(&mut x, 0, 100.0, 0.5);
        let hits = [
            Hit {
                sample: 0,
                class: DrumClass::KD,
            },
            Hit {
                sample: 2990,
                class: DrumClass::SD,
            },
            Hit {
                sample: 10_000,
                class: DrumClass::HH,
            },
        ];
        let l = levels(&x, &hits);
        assert!(l[0] > 0.0 && l.iter().all(|v| v.is_finite()), "{l:?}");
        assert_eq!(l[2], 0.0);
    }
}
