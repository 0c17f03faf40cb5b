//! Scoring beats, downbeats and tempo against ground truth, the mir_eval way.

use serde::Serialize;

/// mir_eval's beat F-measure window: an estimated beat within 70 ms of a reference beat hits.
pub const BEAT_WINDOW: f64 = 0.07;

/// Tolerance of a tempo estimate (relative): the usual 4 % of MIREX tempo estimation.
pub const TEMPO_TOLERANCE: f64 = 0.04;

/// mir_eval's `beat.f_measure`: each reference beat matches at most one estimated beat within
/// `window` seconds (a greedy pass over both sorted lists finds the largest matching when
/// beats are further apart than twice the window, which 70 ms beats always are below 428 BPM).
/// 0 when either list is empty, as in mir_eval. (mir_eval's `evaluate` also drops the first
/// 5 s of both; this does not: callers trim if they want to.)
pub fn f_measure(reference: &[f64], estimated: &[f64], window: f64) -> f64 {
    if reference.is_empty() || estimated.is_empty() {
        return 0.0;
    }
    let mut r: Vec<f64> = reference.to_vec();
    let mut e: Vec<f64> = estimated.to_vec();
    r.sort_by(f64::total_cmp);
    e.sort_by(f64::total_cmp);
    let (mut i, mut j, mut hits) = (0, 0, 0usize);
    while i < r.len() && j < e.len() {
        let d = e[j] - r[i];
        if d.abs() <= window {
            hits += 1;
            i += 1;
            j += 1;
        } else if d < 0.0 {
            j += 1;
        } else {
            i += 1;
        }
    }
    let p = hits as f64 / e.len() as f64;
    let rc = hits as f64 / r.len() as f64;
    if p + rc == 0.0 {
        0.0
    } else {
        2.0 * p * rc / (p + rc)
    }
}

/// How an estimated tempo relates to the true one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TempoVerdict {
    /// Within [`TEMPO_TOLERANCE`].
    Correct,
    /// Twice the true tempo (within the tolerance).
    Double,
    /// Half the true tempo.
    Half,
    /// 3/2 or 2/3 of it (a triple/duple confusion).
    Triple,
    Wrong,
}

/// The verdict for `estimated` against `reference` BPM.
pub fn tempo_verdict(estimated: f64, reference: f64) -> TempoVerdict {
    let near = |ratio: f64| (estimated / (reference * ratio) - 1.0).abs() <= TEMPO_TOLERANCE;
    if near(1.0) {
        TempoVerdict::Correct
    } else if near(2.0) {
        TempoVerdict::Double
    } else if near(0.5) {
        TempoVerdict::Half
    } else if near(1.5) || near(2.0 / 3.0) {
        TempoVerdict::Triple
    } else {
        TempoVerdict::Wrong
    }
}

/// A tempo map's local tempo against the true one's: for each interval between true beats,
/// the estimated beat interval at its middle (the nearest interval before the first and after
/// the last estimated beat) over the true interval, as a tempo ratio (2.0: twice as fast).
/// Empty when either list has fewer than two beats.
pub fn local_tempo_ratios(reference: &[f64], estimated: &[f64]) -> Vec<f64> {
    if reference.len() < 2 || estimated.len() < 2 {
        return Vec::new();
    }
    reference
        .windows(2)
        .map(|w| {
            let middle = 0.5 * (w[0] + w[1]);
            let i = estimated
                .partition_point(|&b| b <= middle)
                .clamp(1, estimated.len() - 1);
            (w[1] - w[0]) / (estimated[i] - estimated[i - 1])
        })
        .collect()
}

/// How a tempo map follows the true one: the verdict of the median local ratio
/// ([`local_tempo_ratios`]) and the share of true beat intervals whose local tempo is within
/// [`TEMPO_TOLERANCE`]. `(Wrong, 0.0)` when there is nothing to compare.
pub fn tempo_map_verdict(reference: &[f64], estimated: &[f64]) -> (TempoVerdict, f64) {
    let mut ratios = local_tempo_ratios(reference, estimated);
    if ratios.is_empty() {
        return (TempoVerdict::Wrong, 0.0);
    }
    let within = ratios
        .iter()
        .filter(|r| (*r - 1.0).abs() <= TEMPO_TOLERANCE)
        .count() as f64
        / ratios.len() as f64;
    ratios.sort_by(f64::total_cmp);
    (tempo_verdict(ratios[ratios.len() / 2], 1.0), within)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn f_measure_counts_hits_inside_the_window() {
        let r = [1.0, 1.5, 2.0, 2.5];
        assert_eq!(f_measure(&r, &r, BEAT_WINDOW), 1.0);
        // One off by 60 ms (hit), one by 80 ms (miss), one extra.
        let e = [1.06, 1.58, 2.0, 2.5, 3.0];
        let (p, rc) = (3.0 / 5.0, 3.0 / 4.0);
        assert!((f_measure(&r, &e, BEAT_WINDOW) - 2.0 * p * rc / (p + rc)).abs() < 1e-12);
        assert_eq!(f_measure(&r, &[], BEAT_WINDOW), 0.0);
        // Double-tempo beats: every reference found, half the estimates wrong.
        let double: Vec<f64> = (0..8).map(|i| 1.0 + 0.25 * i as f64).collect();
        assert!((f_measure(&r, &double, BEAT_WINDOW) - 2.0 / 3.0).abs() < 1e-12);
    }

    #[test]
    fn tempo_verdicts() {
        assert_eq!(tempo_verdict(103.9, 100.0), TempoVerdict::Correct);
        assert_eq!(tempo_verdict(104.1, 100.0), TempoVerdict::Wrong);
        assert_eq!(tempo_verdict(201.0, 100.0), TempoVerdict::Double);
        assert_eq!(tempo_verdict(49.0, 100.0), TempoVerdict::Half);
        assert_eq!(tempo_verdict(150.0, 100.0), TempoVerdict::Triple);
    }

    #[test]
    fn a_tempo_map_is_compared_beat_by_beat() {
        // 8 beats at 0.5 s, then 8 at 0.4 s (120 -> 150 BPM).
        let mut truth = vec![0.0];
        for k in 1..16 {
            truth.push(truth[k - 1] + if k <= 8 { 0.5 } else { 0.4 });
        }
        assert_eq!(
            tempo_map_verdict(&truth, &truth),
            (TempoVerdict::Correct, 1.0)
        );
        // One steady tempo of 120 BPM: right before the change, 25 % slow after it.
        let steady: Vec<f64> = (0..16).map(|k| k as f64 * 0.5).collect();
        let (verdict, within) = tempo_map_verdict(&truth, &steady);
        assert_eq!(verdict, TempoVerdict::Correct);
        assert!((within - 8.0 / 15.0).abs() < 1e-12, "{within}");
        // Twice as many beats: a double-tempo map, no interval within the tolerance.
        let double: Vec<f64> = truth
            .windows(2)
            .flat_map(|w| [w[0], 0.5 * (w[0] + w[1])])
            .collect();
        assert_eq!(
            tempo_map_verdict(&truth, &double),
            (TempoVerdict::Double, 0.0)
        );
        assert_eq!(
            tempo_map_verdict(&truth, &[1.0]),
            (TempoVerdict::Wrong, 0.0)
        );
    }
}
