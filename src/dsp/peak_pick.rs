//! Peak picking with librosa 0.6's `util.peak_pick` semantics (the release's evaluator, spec
//! section 10), evaluated on activation frames without materialising the 16 kHz zero-inserted
//! curve: a 10-minute file would otherwise need a 9.6-million-sample buffer per curve.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Peak-picking parameters in seconds (release: 50 ms / 100 ms windows, delta 0.25, wait 62.5 ms).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PeakPickParams {
    /// A peak must be the maximum of [t - pre_max, t + post_max).
    pub pre_max: f64,
    pub post_max: f64,
    /// ... and exceed the mean over [t - pre_avg, t + post_avg) by `delta`.
    pub pre_avg: f64,
    pub post_avg: f64,
    /// Threshold above the local mean, on the curve normalised to a maximum of 1.
    pub delta: f64,
    /// Minimum time after the previous peak.
    pub wait: f64,
    /// Width (seconds) of a moving sum applied to an activation curve before its peaks are
    /// picked; 0 = none (the release). See `transcribe::events`.
    pub smooth: f64,
}

impl Default for PeakPickParams {
    fn default() -> Self {
        PeakPickParams {
            pre_max: 0.05,
            post_max: 0.05,
            pre_avg: 0.1,
            post_avg: 0.1,
            delta: 0.25,
            wait: 0.0625,
            smooth: 0.0,
        }
    }
}

impl PeakPickParams {
    pub fn validate(&self, prefix: &str) -> Result<()> {
        for (k, v, hi) in [
            ("pre_max", self.pre_max, 10.0),
            ("post_max", self.post_max, 10.0),
            ("pre_avg", self.pre_avg, 10.0),
            ("post_avg", self.post_avg, 10.0),
            ("wait", self.wait, 10.0),
            ("smooth", self.smooth, 1.0),
            ("delta", self.delta, 1.0),
        ] {
            if !(0.0..=hi).contains(&v) {
                return Err(Error::config(
                    format!("{prefix}.{k}"),
                    format!("must be in 0..={hi}"),
                ));
            }
        }
        if self.pre_max + self.post_max <= 0.0 {
            return Err(Error::config(
                format!("{prefix}.post_max"),
                "pre_max + post_max must be > 0",
            ));
        }
        Ok(())
    }
}

/// A picked peak: frame index and the (unnormalised) curve value there.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Peak {
    pub frame: usize,
    pub value: f32,
}

/// Picks peaks of `curve`, whose frame `t` stands for sample `hop * t` of a zero-inserted signal
/// at `sample_rate` (hop 16 at 16 kHz for DrummerNet). The curve is normalised by its maximum
/// first (per song, as the release does); an all-zero curve has no peaks.
pub fn pick_peaks(curve: &[f32], hop: usize, sample_rate: u32, p: &PeakPickParams) -> Vec<Peak> {
    let peak = curve.iter().fold(0.0f32, |m, &x| m.max(x));
    if curve.is_empty() || peak <= 0.0 || !peak.is_finite() {
        return Vec::new();
    }
    let sr = sample_rate as f64;
    let samples = |s: f64| (s * sr).round() as i64;
    let (pre_max, post_max) = (samples(p.pre_max), samples(p.post_max));
    let (pre_avg, post_avg) = (samples(p.pre_avg), samples(p.post_avg));
    let wait = samples(p.wait);
    let hop_i = hop as i64;
    let n_samples = curve.len() as i64 * hop_i;
    let x: Vec<f64> = curve.iter().map(|&v| (v / peak) as f64).collect();
    // Prefix sums over frames for the moving average.
    let mut prefix = vec![0.0f64; x.len() + 1];
    for (i, v) in x.iter().enumerate() {
        prefix[i + 1] = prefix[i] + v;
    }
    // Frames whose sample position lies in [lo, hi) (sample indices).
    let frames_in = |lo: i64, hi: i64| -> (usize, usize) {
        let lo = lo.max(0);
        let hi = hi.min(n_samples);
        if hi <= lo {
            return (0, 0);
        }
        let first = (lo + hop_i - 1) / hop_i;
        let last = (hi + hop_i - 1) / hop_i; // exclusive
        (first as usize, (last as usize).min(x.len()))
    };
    // scipy's filters place an even window of size s at [n - s/2, n + s/2) for origin 0;
    // librosa passes origin ceil((pre - post) / 2), which shifts the window left by that much.
    let max_len = pre_max + post_max;
    let max_origin = ((pre_max - post_max) as f64 / 2.0).ceil() as i64;
    let avg_len = pre_avg + post_avg;
    let avg_origin = ((pre_avg - post_avg) as f64 / 2.0).ceil() as i64;

    let mut peaks = Vec::new();
    let mut last: Option<i64> = None;
    for (t, &v) in x.iter().enumerate() {
        if v <= 0.0 {
            continue;
        }
        let n = t as i64 * hop_i;
        let lo = n - max_len / 2 - max_origin;
        let (a, b) = frames_in(lo, lo + max_len);
        let local_max = x[a..b].iter().fold(0.0f64, |m, &y| m.max(y));
        if v < local_max {
            continue;
        }
        // The release's moving average: interior samples use the full window; the first
        // pre_avg and last post_avg samples use the window truncated at the signal's ends.
        let (lo, hi) = if n < pre_avg {
            ((n - pre_avg).max(0), (n + post_avg).min(n_samples))
        } else if n >= n_samples - post_avg {
            (n - pre_avg, n_samples)
        } else {
            let lo = n - avg_len / 2 - avg_origin;
            (lo, lo + avg_len)
        };
        let (a, b) = frames_in(lo, hi);
        let count = (hi.min(n_samples) - lo.max(0)).max(1) as f64;
        let mean = (prefix[b] - prefix[a]) / count;
        if v < mean + p.delta {
            continue;
        }
        if let Some(l) = last {
            if n <= l + wait {
                continue;
            }
        }
        last = Some(n);
        peaks.push(Peak {
            frame: t,
            value: curve[t],
        });
    }
    peaks
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A straightforward port of librosa 0.6's peak_pick on the dense zero-inserted curve.
    fn librosa_dense(
        x: &[f64],
        pre_max: i64,
        post_max: i64,
        pre_avg: i64,
        post_avg: i64,
        delta: f64,
        wait: i64,
    ) -> Vec<usize> {
        let n = x.len() as i64;
        let at = |i: i64| {
            if i >= 0 && i < n {
                Some(x[i as usize])
            } else {
                None
            }
        };
        let max_len = pre_max + post_max;
        let max_origin = ((pre_max - post_max) as f64 / 2.0).ceil() as i64;
        let avg_len = pre_avg + post_avg;
        let avg_origin = ((pre_avg - post_avg) as f64 / 2.0).ceil() as i64;
        let xmin = x.iter().cloned().fold(f64::INFINITY, f64::min);
        let mut out = Vec::new();
        let mut last = i64::MIN / 2;
        for i in 0..n {
            let lo = i - max_len / 2 - max_origin;
            let mx = (lo..lo + max_len)
                .map(|j| at(j).unwrap_or(xmin))
                .fold(f64::MIN, f64::max);
            let avg = if i < pre_avg {
                let s = (i - pre_avg).max(0);
                let e = (i + post_avg).min(n);
                (s..e).map(|j| x[j as usize]).sum::<f64>() / (e - s) as f64
            } else if i >= n - post_avg {
                let s = i - pre_avg;
                (s..n).map(|j| x[j as usize]).sum::<f64>() / (n - s) as f64
            } else {
                let lo = i - avg_len / 2 - avg_origin;
                // mode='nearest' never matters in the interior
                (lo..lo + avg_len)
                    .map(|j| x[j.clamp(0, n - 1) as usize])
                    .sum::<f64>()
                    / avg_len as f64
            };
            let xi = x[i as usize];
            let det = if xi == mx { xi } else { 0.0 };
            if det > 0.0 && det >= avg + delta && i > last + wait {
                out.push(i as usize);
                last = i;
            }
        }
        out
    }

    #[test]
    fn matches_dense_librosa_on_random_sparse_curves() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        let hop = 16;
        for trial in 0..20 {
            let frames = 300 + trial * 37;
            let curve: Vec<f32> = (0..frames)
                .map(|_| {
                    if rng.random_bool(0.05) {
                        rng.random_range(0.0..1.0)
                    } else {
                        0.0
                    }
                })
                .collect();
            let p = PeakPickParams {
                pre_max: 0.05,
                post_max: 0.05,
                pre_avg: 0.1,
                post_avg: 0.1,
                delta: 0.25 - 0.1 * (trial % 2) as f64,
                wait: 0.0625,
                smooth: 0.0,
            };
            let got: Vec<usize> = pick_peaks(&curve, hop, 16_000, &p)
                .iter()
                .map(|p| p.frame * hop)
                .collect();
            let peak = curve.iter().cloned().fold(0.0f32, f32::max) as f64;
            let mut dense = vec![0.0f64; frames * hop];
            for (t, &v) in curve.iter().enumerate() {
                dense[t * hop] = v as f64 / peak;
            }
            let want = librosa_dense(&dense, 800, 800, 1600, 1600, p.delta, 1000);
            assert_eq!(got, want, "trial {trial}");
        }
    }

    #[test]
    fn isolated_hits_are_found_and_silence_gives_nothing() {
        let mut curve = vec![0.0f32; 2000];
        for &t in &[100usize, 400, 900, 1500] {
            curve[t] = 0.8;
        }
        let peaks = pick_peaks(&curve, 16, 16_000, &PeakPickParams::default());
        assert_eq!(
            peaks.iter().map(|p| p.frame).collect::<Vec<_>>(),
            vec![100, 400, 900, 1500]
        );
        assert!(pick_peaks(&vec![0.0; 500], 16, 16_000, &PeakPickParams::default()).is_empty());
        // Two hits closer than `wait` (62.5 ms = 62.5 frames): the second is dropped.
        let mut close = vec![0.0f32; 1000];
        close[100] = 1.0;
        close[150] = 0.9;
        assert_eq!(
            pick_peaks(&close, 16, 16_000, &PeakPickParams::default()).len(),
            1
        );
    }
}
