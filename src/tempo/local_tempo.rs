//! The beat period as it moves through a song: a tempogram of the onset envelope near the
//! song's tempo, read every second.
//!
//! The beat tracker holds one period; where a song changes tempo it bends beats onto the old
//! period around the change (a bar or two of wrong beats) and the tempo map drawn from them
//! inherits the error. Tracked again along this local period, the beats follow the change.

/// Seconds between two readings of the local period (in envelope frames: 100 a second).
const HOP: usize = 100;

/// Half the window each reading looks at (4 s): long enough for a few bars' periodicity,
/// short enough to see a tempo change within two bars at most tempi.
const HALF_WINDOW: usize = 400;

/// The local period is searched within this factor of the song's (either way): beyond it a
/// reading is a different metre, not a tempo change.
const RANGE: f64 = 1.25;

/// Width of the preference for the song's period, in natural-log units of the ratio.
const PRIOR_WIDTH: f64 = 0.15;

/// Beat multiples the comb sums (beat, half bar, three beats, bar): their peaks sharpen the
/// reading to a fraction of a frame.
const MULTIPLES: usize = 4;

/// The expected beat period, in frames, at every frame of `env`, given the song's `period`.
/// Readings every [`HOP`] frames, median-smoothed over three, linearly interpolated between.
pub fn local_periods(env: &[f64], period: f64) -> Vec<f64> {
    let n = env.len();
    if n == 0 || !(period.is_finite() && period >= 2.0) {
        return vec![period; n];
    }
    let centres: Vec<usize> = (0..n).step_by(HOP).collect();
    let readings: Vec<f64> = centres.iter().map(|&c| reading(env, c, period)).collect();
    let smoothed: Vec<f64> = (0..readings.len())
        .map(|i| {
            let lo = i.saturating_sub(1);
            let hi = (i + 2).min(readings.len());
            let mut near = readings[lo..hi].to_vec();
            near.sort_by(f64::total_cmp);
            near[near.len() / 2]
        })
        .collect();
    (0..n)
        .map(|f| {
            let i = f / HOP;
            if i + 1 >= smoothed.len() {
                return smoothed[smoothed.len() - 1];
            }
            let a = (f - centres[i]) as f64 / HOP as f64;
            smoothed[i] * (1.0 - a) + smoothed[i + 1] * a
        })
        .collect()
}

/// The best period near `period` in the window around frame `centre`: the comb over
/// [`MULTIPLES`] beat multiples of the window's autocorrelation, weighted by the preference for
/// the song's period. The song's period where the window is silent.
fn reading(env: &[f64], centre: usize, period: f64) -> f64 {
    let lo = centre.saturating_sub(HALF_WINDOW);
    let hi = (centre + HALF_WINDOW).min(env.len());
    let len = hi - lo;
    let max_lag = (MULTIPLES as f64 * period * RANGE).ceil() as usize + 2;
    if len <= max_lag {
        return period;
    }
    let mean = env[lo..hi].iter().sum::<f64>() / len as f64;
    let x: Vec<f64> = (lo..hi)
        .map(|i| {
            let w = 0.5 - 0.5 * (std::f64::consts::TAU * (i - lo) as f64 / len as f64).cos();
            (env[i] - mean) * w
        })
        .collect();
    // Autocorrelation per lag, normalised by the overlap so that long lags are not penalised.
    let ac: Vec<f64> = (0..=max_lag)
        .map(|lag| {
            let s: f64 = x[..len - lag]
                .iter()
                .zip(&x[lag..])
                .map(|(a, b)| a * b)
                .sum();
            s / (len - lag) as f64
        })
        .collect();
    if ac[0] <= 0.0 {
        return period;
    }
    let at = |lag: f64| {
        let i = lag.floor() as usize;
        let f = lag - i as f64;
        ac[i] * (1.0 - f) + ac[(i + 1).min(max_lag)] * f
    };
    let (lo_p, hi_p) = (period / RANGE, period * RANGE);
    let steps = ((hi_p - lo_p) / 0.05).ceil() as usize;
    let mut best = (f64::NEG_INFINITY, period);
    for s in 0..=steps {
        let p = lo_p + (hi_p - lo_p) * s as f64 / steps as f64;
        let comb: f64 = (1..=MULTIPLES).map(|k| at(k as f64 * p)).sum();
        let prior = (-0.5 * ((p / period).ln() / PRIOR_WIDTH).powi(2)).exp();
        let score = comb.max(0.0) * prior;
        if score > best.0 {
            best = (score, p);
        }
    }
    if best.0 > 0.0 {
        best.1
    } else {
        period
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An envelope with a pulse every `periods[i]` frames through its part `i` of `part` frames.
    fn pulses(parts: &[(f64, usize)]) -> Vec<f64> {
        let n: usize = parts.iter().map(|p| p.1).sum();
        let mut env = vec![0.0; n];
        let (mut t, mut start) = (0.0, 0usize);
        for &(period, len) in parts {
            while t < (start + len) as f64 {
                let f = t.round() as usize;
                if f < n {
                    env[f] = 1.0;
                    // The half-beat off-beat, quieter, as hats between kicks and snares.
                    let h = (t + period / 2.0).round() as usize;
                    if h < n {
                        env[h] = 0.4;
                    }
                }
                t += period;
            }
            start += len;
        }
        env
    }

    #[test]
    fn the_local_period_follows_a_tempo_step() {
        // 50 frames (120 BPM) for 15 s, then 44 frames (136 BPM) for 15 s.
        let env = pulses(&[(50.0, 1500), (44.0, 1500)]);
        let p = local_periods(&env, 46.0);
        assert_eq!(p.len(), env.len());
        for f in [200, 500, 1000] {
            assert!((p[f] / 50.0 - 1.0).abs() < 0.02, "frame {f}: {}", p[f]);
        }
        for f in [2000, 2500, 2800] {
            assert!((p[f] / 44.0 - 1.0).abs() < 0.02, "frame {f}: {}", p[f]);
        }
    }

    #[test]
    fn silence_keeps_the_song_period() {
        let p = local_periods(&vec![0.0; 1000], 40.0);
        assert!(p.iter().all(|&x| (x - 40.0).abs() < 1e-9));
        assert!(local_periods(&[], 40.0).is_empty());
    }
}
