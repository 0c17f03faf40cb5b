//! The input's magnitude in log-spaced bands, 100 frames a second: what the verification by
//! re-synthesis compares its model of the stem with. Read once per transcription, streamed
//! (memory grows with the frames, 32 bands x 100 frames a second, not with the samples).

use realfft::RealFftPlanner;

use crate::dsp::window::hann;
use crate::error::{Error, Result};
use crate::transcribe::centred_windows::CentredWindows;
use crate::transcribe::chunked::SampleSource;

/// FFT length (64 ms at 16 kHz): 15.6-Hz bins resolve a kick's and a floor tom's fundamentals.
const WINDOW: usize = 1_024;
/// Samples between frames (10 ms): finer than the 50-ms onset tolerance, coarse enough that a
/// hit's spectrum is a few frames of template.
pub const HOP: usize = 160;
/// Lowest FFT bin of the first band (31 Hz): below it a drum kit holds nothing but rumble.
const FIRST_BIN: usize = 2;
/// Bands per octave where the bins are dense enough (below, one bin per band).
const BANDS_PER_OCTAVE: f64 = 4.0;

/// `values[frame * bands + band]`: the band's magnitude (square root of its bins' power,
/// scaled by the window sum, input scaled by the transcription's gain) in the window centred
/// on sample `HOP * frame`.
#[derive(Debug, Clone, PartialEq)]
pub struct BandSpectrogram {
    pub bands: usize,
    pub frames: usize,
    pub values: Vec<f32>,
}

impl BandSpectrogram {
    /// Frames a second.
    pub fn frame_rate(sample_rate: u32) -> f64 {
        f64::from(sample_rate) / HOP as f64
    }

    /// The bands of frame `t`.
    pub fn frame(&self, t: usize) -> &[f32] {
        &self.values[t * self.bands..][..self.bands]
    }
}

/// Band edges in FFT bins: `[edges[i], edges[i + 1])` is band i; a quarter octave wide, at
/// least one bin.
pub fn band_edges(window: usize) -> Vec<usize> {
    let last = window / 2;
    let mut edges = vec![FIRST_BIN];
    let step = 2f64.powf(1.0 / BANDS_PER_OCTAVE);
    while let Some(&lo) = edges.last() {
        if lo >= last {
            break;
        }
        let hi = ((lo as f64 * step).round() as usize).max(lo + 1).min(last);
        edges.push(hi);
    }
    edges
}

/// Reads `source` once into a [`BandSpectrogram`] of `ceil(len / HOP)` frames, samples scaled
/// by `gain`.
pub fn read_band_spectrogram<S: SampleSource>(
    source: S,
    gain: f32,
    len: usize,
) -> Result<BandSpectrogram> {
    let fft = RealFftPlanner::<f32>::new().plan_fft_forward(WINDOW);
    let window = hann(WINDOW);
    let scale = gain / window.iter().sum::<f32>();
    let edges = band_edges(WINDOW);
    let bands = edges.len() - 1;
    let frames = len.div_ceil(HOP);
    let mut input = fft.make_input_vec();
    let mut spectrum = fft.make_output_vec();
    let mut values = Vec::with_capacity(frames * bands);
    let mut windows = CentredWindows::new(source, WINDOW, HOP);
    for t in 0..frames {
        for ((x, &s), &w) in input.iter_mut().zip(windows.at(t)?).zip(&window) {
            *x = s * w;
        }
        fft.process(&mut input, &mut spectrum)
            .map_err(|e| Error::Invalid(format!("band spectrogram FFT: {e}")))?;
        for pair in edges.windows(2) {
            let power: f32 = spectrum[pair[0]..pair[1]]
                .iter()
                .map(|x| x.norm_sqr())
                .sum();
            values.push(power.sqrt() * scale);
        }
    }
    Ok(BandSpectrogram {
        bands,
        frames,
        values,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transcribe::SliceSource;

    #[test]
    fn bands_cover_31_hz_to_nyquist_without_gaps() {
        let edges = band_edges(WINDOW);
        assert_eq!(edges[0], FIRST_BIN);
        assert_eq!(*edges.last().unwrap(), WINDOW / 2);
        assert!(edges.windows(2).all(|p| p[1] > p[0]));
        // About 8 octaves at 4 a octave, plus single-bin bands at the bottom.
        assert!((30..=40).contains(&(edges.len() - 1)), "{}", edges.len());
    }

    #[test]
    fn a_tone_lands_in_its_band_at_its_time_and_pieces_change_nothing() {
        let sr = 16_000.0;
        let mut x = vec![0.0f32; 16_000];
        for (i, v) in x[8_000..].iter_mut().enumerate() {
            *v = 0.5 * (2.0 * std::f32::consts::PI * 1_000.0 * i as f32 / sr).sin();
        }
        let read = |piece| {
            read_band_spectrogram(SliceSource { samples: &x, piece }, 2.0, x.len()).unwrap()
        };
        let s = read(x.len());
        assert_eq!(s.frames, 100);
        assert_eq!(read(777), s);
        let edges = band_edges(WINDOW);
        let band = edges
            .windows(2)
            .position(|p| p[0] <= 64 && 64 < p[1])
            .unwrap();
        let loudest = |t: usize| {
            (0..s.bands)
                .max_by(|&a, &b| s.frame(t)[a].total_cmp(&s.frame(t)[b]))
                .unwrap()
        };
        assert_eq!(loudest(80), band);
        // A full-scale sine (after the gain of 2) has a magnitude of 1/2 in its bin, and the
        // Hann window's neighbours at half that add up to at most 0.61.
        assert!(
            (0.45..0.65).contains(&s.frame(80)[band]),
            "{}",
            s.frame(80)[band]
        );
        // Before the tone (more than half a window early): nothing.
        assert!(s.frame(40).iter().all(|&v| v < 1e-6));
    }
}
