//! A changing tempo as stretches of one tempo each: the tracked beats of a song whose tempo
//! moves are split where the tempo changes (penalised least squares, solved exactly by dynamic
//! programming) and each stretch's beats are put on its fitted line.
//!
//! The beat tracker works on 10 ms frames, so its beats jitter by up to a frame: at 200 BPM
//! that alone moves a beat interval by 3 %, and a tempo map that followed every tracked beat
//! would wobble around the song's tempo (and write a tempo event per beat). A stretch's line
//! averages the jitter away; the DAW gets one tempo event per change.

/// The fewest beats in a stretch (one bar of 4/4): a shorter tempo change cannot be told from
/// a late or early beat.
const MIN_BEATS: usize = 4;

/// The most beats a stretch spans (a long steady song is several stretches of one tempo):
/// bounds the work at `MAX_BEATS` per beat and keeps each fit's sums small.
const MAX_BEATS: usize = 256;

/// The least timing noise assumed, seconds: the tracker's 10 ms frames (uniform rounding has a
/// standard deviation of 2.9 ms).
const MIN_NOISE: f64 = 0.003;

/// What a new stretch costs, in units of the noise variance times ln(beats): the BIC's price
/// of a change point and a line's two numbers.
const PENALTY: f64 = 3.0;

/// The beats moved onto the lines of their stretches: as many beats as given, in the same
/// order. Beats that do not allow a fit (fewer than two stretches' worth, or a fit that would
/// not keep them in order) come back as they were.
pub fn fit_stretches(beats: &[f64]) -> Vec<f64> {
    let n = beats.len();
    if n < 2 * MIN_BEATS {
        return beats.to_vec();
    }
    let index = beat_index(beats);
    let noise = noise_variance(beats, &index);
    let penalty = PENALTY * noise * (n as f64).ln();
    // best[t]: the least cost of the first t beats; from[t]: where its last stretch starts.
    let mut best = vec![f64::INFINITY; n + 1];
    let mut from = vec![0usize; n + 1];
    best[0] = -penalty;
    for t in MIN_BEATS..=n {
        let mut sums = LineSums::default();
        // Stretches [s, t), growing backwards from the end so that the sums are incremental.
        for s in (t.saturating_sub(MAX_BEATS)..t).rev() {
            sums.add(index[s] - index[t - 1], beats[s] - beats[t - 1]);
            if t - s < MIN_BEATS || !best[s].is_finite() {
                continue;
            }
            let cost = best[s] + sums.residual() + penalty;
            if cost < best[t] {
                best[t] = cost;
                from[t] = s;
            }
        }
    }
    if !best[n].is_finite() {
        return beats.to_vec();
    }
    let mut fitted = vec![0.0; n];
    let mut t = n;
    while t > 0 {
        let s = from[t];
        let (origin, period) = line(&index[s..t], &beats[s..t]);
        for i in s..t {
            fitted[i] = origin + period * index[i];
        }
        t = s;
    }
    if fitted.windows(2).all(|w| w[1] > w[0]) {
        fitted
    } else {
        beats.to_vec()
    }
}

/// Each beat's number counted in beats, a skipped beat of the tracker counting two: each
/// interval is rounded to whole multiples of the median of the intervals around it.
fn beat_index(beats: &[f64]) -> Vec<f64> {
    let d: Vec<f64> = beats.windows(2).map(|w| w[1] - w[0]).collect();
    let mut index = Vec::with_capacity(beats.len());
    index.push(0.0);
    for (i, &di) in d.iter().enumerate() {
        let lo = i.saturating_sub(4);
        let hi = (i + 5).min(d.len());
        let mut near = d[lo..hi].to_vec();
        near.sort_by(f64::total_cmp);
        let typical = near[near.len() / 2];
        let steps = (di / typical).round().max(1.0);
        index.push(index[i] + steps);
    }
    index
}

/// The beats' timing noise variance, from their second differences (which a steady or
/// slowly changing tempo leaves at zero; for independent noise their variance is six times the
/// beats'), robustly (median absolute value), at least [`MIN_NOISE`] squared.
fn noise_variance(beats: &[f64], index: &[f64]) -> f64 {
    let mut second: Vec<f64> = (1..beats.len() - 1)
        .filter(|&i| index[i + 1] - index[i] == 1.0 && index[i] - index[i - 1] == 1.0)
        .map(|i| (beats[i + 1] - 2.0 * beats[i] + beats[i - 1]).abs())
        .collect();
    if second.is_empty() {
        return MIN_NOISE * MIN_NOISE;
    }
    second.sort_by(f64::total_cmp);
    let sigma = 1.4826 * second[second.len() / 2] / 6f64.sqrt();
    sigma.max(MIN_NOISE).powi(2)
}

/// Running sums for a least-squares line through points `(x, y)`.
#[derive(Default)]
struct LineSums {
    n: f64,
    x: f64,
    y: f64,
    xx: f64,
    xy: f64,
    yy: f64,
}

impl LineSums {
    fn add(&mut self, x: f64, y: f64) {
        self.n += 1.0;
        self.x += x;
        self.y += y;
        self.xx += x * x;
        self.xy += x * y;
        self.yy += y * y;
    }

    /// The sum of squared residuals of the best line.
    fn residual(&self) -> f64 {
        let sxx = self.xx - self.x * self.x / self.n;
        let sxy = self.xy - self.x * self.y / self.n;
        let syy = self.yy - self.y * self.y / self.n;
        if sxx <= 0.0 {
            return syy.max(0.0);
        }
        (syy - sxy * sxy / sxx).max(0.0)
    }
}

/// The least-squares line `y = origin + period * x`.
fn line(x: &[f64], y: &[f64]) -> (f64, f64) {
    let mut sums = LineSums::default();
    for (&xi, &yi) in x.iter().zip(y) {
        sums.add(xi - x[0], yi - y[0]);
    }
    let sxx = sums.xx - sums.x * sums.x / sums.n;
    let sxy = sums.xy - sums.x * sums.y / sums.n;
    let period = if sxx > 0.0 { sxy / sxx } else { 0.0 };
    let origin = y[0] + sums.y / sums.n - period * (x[0] + sums.x / sums.n);
    (origin, period)
}

#[cfg(test)]
mod tests {
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    use super::*;

    /// Beats of the given periods, each rounded to 10 ms frames as the tracker gives them.
    fn framed(periods: &[f64]) -> (Vec<f64>, Vec<f64>) {
        let mut truth = vec![1.0];
        for p in periods {
            truth.push(truth.last().unwrap() + p);
        }
        let framed = truth.iter().map(|t| (t * 100.0).round() / 100.0).collect();
        (truth, framed)
    }

    fn worst_interval_error(truth: &[f64], fitted: &[f64]) -> f64 {
        truth
            .windows(2)
            .zip(fitted.windows(2))
            .map(|(a, b)| ((b[1] - b[0]) / (a[1] - a[0]) - 1.0).abs())
            .fold(0.0, f64::max)
    }

    #[test]
    fn a_tempo_step_becomes_two_stretches_without_the_frames_jitter() {
        // 202 BPM for 40 beats, then 187 BPM: the frames alone move intervals by over 2 %.
        let periods: Vec<f64> = (0..80)
            .map(|i| if i < 40 { 0.297 } else { 0.321 })
            .collect();
        let (truth, framed) = framed(&periods);
        assert!(worst_interval_error(&truth, &framed) > 0.02);
        let fitted = fit_stretches(&framed);
        // Every interval but the one across the change within 1 %.
        let errors: Vec<f64> = truth
            .windows(2)
            .zip(fitted.windows(2))
            .map(|(a, b)| ((b[1] - b[0]) / (a[1] - a[0]) - 1.0).abs())
            .collect();
        assert!(
            errors.iter().filter(|e| **e > 0.01).count() <= 1,
            "{errors:?}"
        );
        // Two tempi: the intervals take two values (and one at the join).
        let mut distinct: Vec<f64> = fitted.windows(2).map(|w| w[1] - w[0]).collect();
        distinct.sort_by(f64::total_cmp);
        distinct.dedup_by(|a, b| (*a - *b).abs() < 1e-6);
        assert!(distinct.len() <= 3, "{distinct:?}");
    }

    #[test]
    fn a_steady_song_stays_one_tempo_and_a_ramp_is_followed() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let steady: Vec<f64> = (0..120)
            .map(|k| 0.5 + k as f64 * 0.45 + rng.random_range(-0.006..0.006))
            .collect();
        let fitted = fit_stretches(&steady);
        let d: Vec<f64> = fitted.windows(2).map(|w| w[1] - w[0]).collect();
        assert!(d.iter().all(|x| (x / 0.45 - 1.0).abs() < 0.01), "{d:?}");
        // A ramp of 2 % a bar over 4 bars, between steady stretches.
        let periods: Vec<f64> = (0..64)
            .map(|i: i32| 0.5 / 1.02f64.powi((i / 4 - 6).clamp(0, 4)))
            .collect();
        let (truth, framed) = framed(&periods);
        let fitted = fit_stretches(&framed);
        assert!(worst_interval_error(&truth, &fitted) < 0.04);
    }

    #[test]
    fn a_skipped_beat_is_no_tempo_change_and_short_input_is_kept() {
        let mut beats: Vec<f64> = (0..40).map(|k| k as f64 * 0.5).collect();
        beats.remove(20);
        let fitted = fit_stretches(&beats);
        for (a, b) in beats.iter().zip(&fitted) {
            assert!((a - b).abs() < 1e-9);
        }
        let short = [0.0, 0.5, 1.0];
        assert_eq!(fit_stretches(&short), short);
    }
}
