//! Analysis windows.

/// The periodic Hann window of `len` samples (`0.5 - 0.5 cos(2 pi n / len)`, computed in f64):
/// the window of the short-time spectra the transcription passes read, whose shifted copies at
/// a hop of `len / 2` sum to a constant.
pub fn hann(len: usize) -> Vec<f32> {
    (0..len)
        .map(|n| {
            let phase = 2.0 * std::f64::consts::PI * n as f64 / len as f64;
            (0.5 - 0.5 * phase.cos()) as f32
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn periodic_hann_starts_at_zero_peaks_mid_window_and_overlap_adds_to_one() {
        let w = super::hann(8);
        assert_eq!(w[0], 0.0);
        assert!((w[4] - 1.0).abs() < 1e-7);
        for n in 0..4 {
            assert!((w[n] + w[n + 4] - 1.0).abs() < 1e-6, "{w:?}");
        }
    }
}
