//! The constant-Q filterbank of DrummerNet's pseudo-CQT loss (spec section 7.2): librosa 0.6's
//! sparse FFT-domain CQT basis (`__cqt_filter_fft`), reduced to its element-wise magnitude, for
//! each of the loss's octave scales. The basis is a constant; building it takes a few ms.

use realfft::num_complex::Complex;
use realfft::RealFftPlanner;

use crate::error::{Error, Result};

/// C1 in Hz, the lowest scale's fmin.
pub const C1_HZ: f64 = 32.703_195_662_574_83;
/// The 8th scale starts at 4 kHz rather than C8 (spec section 12, row 7).
pub const TOP_SCALE_FMIN_HZ: f64 = 4000.0;
/// Most scales the loss can have (C1..C7 plus the 4 kHz one).
pub const MAX_SCALES: usize = 8;
pub const BINS_PER_OCTAVE: usize = 12;
/// librosa's `sparsity`: each row drops its smallest entries holding 1 % of its L1 mass.
const SPARSITY: f64 = 0.01;

/// One resolution of the pseudo-CQT: an STFT size and the magnitude basis that maps its
/// one-sided spectrum to `rows.len()` constant-Q bins.
#[derive(Debug, Clone, PartialEq)]
pub struct CqtScale {
    pub fmin: f64,
    pub n_fft: usize,
    pub hop: usize,
    /// Per CQT bin, the non-zero `(fft_bin, |basis|)` entries in ascending bin order.
    pub rows: Vec<Vec<(usize, f32)>>,
}

impl CqtScale {
    /// Length of the non-zero part of the STFT window: a periodic Hann of n_fft/4 samples.
    pub fn window_len(&self) -> usize {
        self.n_fft / 4
    }

    /// First sample of the Hann part inside the n_fft frame (n_fft/2 − n_fft/8).
    pub fn window_offset(&self) -> usize {
        self.n_fft / 2 - self.n_fft / 8
    }

    /// The full STFT window: zeros with a periodic Hann of n_fft/4 at its centre.
    pub fn window(&self) -> Vec<f64> {
        let mut window = vec![0.0; self.n_fft];
        let offset = self.window_offset();
        for (i, w) in periodic_hann(self.window_len()).into_iter().enumerate() {
            window[offset + i] = w;
        }
        window
    }

    /// Every FFT bin some row uses, ascending.
    pub fn used_bins(&self) -> Vec<usize> {
        let mut bins: Vec<usize> = self.rows.iter().flatten().map(|&(b, _)| b).collect();
        bins.sort_unstable();
        bins.dedup();
        bins
    }

    pub fn nnz(&self) -> usize {
        self.rows.iter().map(Vec::len).sum()
    }
}

/// fmin of scale `index` (0-based): C1·2^index for the first seven, 4 kHz for the eighth.
pub fn scale_fmin(index: usize) -> f64 {
    if index + 1 == MAX_SCALES {
        TOP_SCALE_FMIN_HZ
    } else {
        C1_HZ * 2f64.powi(index as i32)
    }
}

/// The first `n_scales` scales with `bins` CQT bins each.
pub fn cqt_scales(
    n_scales: usize,
    bins: usize,
    hop: usize,
    sample_rate: u32,
) -> Result<Vec<CqtScale>> {
    if !(1..=MAX_SCALES).contains(&n_scales) {
        return Err(Error::Invalid(format!(
            "CQT scales must be in 1..={MAX_SCALES}, got {n_scales}"
        )));
    }
    (0..n_scales)
        .map(|i| CqtScale::new(scale_fmin(i), bins, hop, sample_rate))
        .collect()
}

impl CqtScale {
    /// librosa 0.6 `__cqt_filter_fft(sr, fmin, bins, 12, tuning 0, filter_scale 1, norm 1,
    /// sparsity 0.01, hop, 'hann')`, then the magnitude.
    pub fn new(fmin: f64, bins: usize, hop: usize, sample_rate: u32) -> Result<Self> {
        let sr = f64::from(sample_rate);
        let q = 1.0 / (2f64.powf(1.0 / BINS_PER_OCTAVE as f64) - 1.0);
        let freqs: Vec<f64> = (0..bins)
            .map(|k| fmin * 2f64.powf(k as f64 / BINS_PER_OCTAVE as f64))
            .collect();
        // librosa refuses a pass band beyond Nyquist (Hann bandwidth 1.50018 bins).
        let top = freqs.last().copied().unwrap_or(fmin);
        if bins == 0 || hop == 0 || top * (1.0 + 0.5 * 1.500_181_7 / q) > sr / 2.0 {
            return Err(Error::Invalid(format!(
                "CQT scale at {fmin:.1} Hz with {bins} bins (hop {hop}) does not fit below Nyquist"
            )));
        }
        let lengths: Vec<f64> = freqs.iter().map(|f| q * sr / f).collect();
        let max_len = lengths.iter().cloned().fold(0.0, f64::max);
        let size = 2f64.powf(max_len.log2().ceil()) as usize;
        let hop_min = 2f64.powf(1.0 + (hop as f64).log2().ceil()) as usize;
        let n_fft = size.max(hop_min);

        let mut planner = RealFftPlanner::<f64>::new();
        let fft = planner.plan_fft_forward(n_fft);
        let mut rows = Vec::with_capacity(bins);
        for &length in &lengths {
            // librosa recomputes the frequency from the length; keep its rounding.
            let freq = q * sr / length;
            let start = (-length / 2.0).floor();
            let taps = ((length / 2.0).floor() - start) as usize;
            let hann = periodic_hann(taps);
            let filter: Vec<Complex<f64>> = (0..taps)
                .map(|i| {
                    let t = start + i as f64;
                    Complex::from_polar(hann[i], 2.0 * std::f64::consts::PI * freq * t / sr)
                })
                .collect();
            let l1: f64 = filter.iter().map(|c| c.norm()).sum();
            let scale = length / n_fft as f64 / l1;
            // Centre-padded in the power-of-two buffer; zeros after it when the hop forces a
            // longer FFT (numpy's fft(x, n) pads at the end).
            let left = (size - taps) / 2;
            let mut re = vec![0.0; n_fft];
            let mut im = vec![0.0; n_fft];
            for (i, c) in filter.iter().enumerate() {
                re[left + i] = c.re * scale;
                im[left + i] = c.im * scale;
            }
            // FFT of a complex signal from two real FFTs: Z[k] = A[k] + i·B[k].
            let mut spec_re = fft.make_output_vec();
            let mut spec_im = fft.make_output_vec();
            fft.process(&mut re, &mut spec_re)
                .map_err(|e| Error::Invalid(format!("CQT basis FFT: {e}")))?;
            fft.process(&mut im, &mut spec_im)
                .map_err(|e| Error::Invalid(format!("CQT basis FFT: {e}")))?;
            let mags: Vec<f64> = spec_re
                .iter()
                .zip(&spec_im)
                .map(|(a, b)| (a + Complex::new(0.0, 1.0) * b).norm())
                .collect();
            rows.push(sparsify(&mags));
        }
        Ok(CqtScale {
            fmin,
            n_fft,
            hop,
            rows,
        })
    }
}

/// librosa `sparsify_rows` on one row of magnitudes: keep every entry at least as large as the
/// one where the ascending cumulative share of the L1 norm first reaches [`SPARSITY`].
fn sparsify(mags: &[f64]) -> Vec<(usize, f32)> {
    let total: f64 = mags.iter().sum();
    let mut ordered = mags.to_vec();
    ordered.sort_by(f64::total_cmp);
    let mut cumulative = 0.0;
    let mut threshold = ordered.last().copied().unwrap_or(0.0);
    for &m in &ordered {
        cumulative += m / total;
        if cumulative >= SPARSITY {
            threshold = m;
            break;
        }
    }
    mags.iter()
        .enumerate()
        .filter(|&(_, &m)| m >= threshold && m > 0.0)
        .map(|(bin, &m)| (bin, m as f32))
        .collect()
}

/// scipy `get_window('hann', n)` (periodic), as torch's `hann_window(n)`.
pub fn periodic_hann(n: usize) -> Vec<f64> {
    (0..n)
        .map(|i| 0.5 - 0.5 * (2.0 * std::f64::consts::PI * i as f64 / n as f64).cos())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn default_scales() -> Vec<CqtScale> {
        cqt_scales(8, 12, 64, 16_000).unwrap()
    }

    #[test]
    fn n_fft_halves_per_scale_from_16384_to_128() {
        let n_ffts: Vec<usize> = default_scales().iter().map(|s| s.n_fft).collect();
        assert_eq!(n_ffts, [16384, 8192, 4096, 2048, 1024, 512, 256, 128]);
    }

    #[test]
    fn nnz_match_the_spec_table() {
        let nnz: Vec<usize> = default_scales().iter().map(CqtScale::nnz).collect();
        assert_eq!(nnz, [207, 207, 208, 207, 207, 208, 207, 178]);
    }

    #[test]
    fn rows_peak_at_their_centre_frequency() {
        for scale in default_scales() {
            for (k, row) in scale.rows.iter().enumerate() {
                let f = scale.fmin * 2f64.powf(k as f64 / 12.0);
                let expected = f * scale.n_fft as f64 / 16_000.0;
                let &(peak, _) = row.iter().max_by(|a, b| a.1.total_cmp(&b.1)).unwrap();
                assert!(
                    (peak as f64 - expected).abs() <= 1.0,
                    "fmin {} row {k}: peak bin {peak}, centre {expected:.2}",
                    scale.fmin
                );
            }
        }
    }

    #[test]
    fn the_window_is_a_quarter_length_hann_at_the_centre() {
        let scale = &default_scales()[7];
        let w = scale.window();
        assert_eq!(w.len(), 128);
        assert!(w[..48].iter().chain(&w[80..]).all(|&v| v == 0.0));
        assert_eq!(w[48], 0.0); // periodic Hann starts at 0
        assert!((w[64] - 1.0).abs() < 1e-12);
        assert!((w[56] - 0.5).abs() < 1e-12);
    }

    #[test]
    fn a_top_bin_beyond_nyquist_is_refused() {
        assert!(CqtScale::new(4000.0, 13, 64, 16_000).is_err());
        assert!(cqt_scales(9, 12, 64, 16_000).is_err());
    }
}
