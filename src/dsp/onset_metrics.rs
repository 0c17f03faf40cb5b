//! Onset precision/recall/F1 the way mir_eval computes it (`mir_eval.onset.f_measure`): a
//! maximum one-to-one matching between reference and estimated onsets within +-window, found
//! with augmenting paths (mir_eval uses Hopcroft-Karp; any maximum matching has the same size).

use serde::Serialize;

/// Precision, recall and F-measure of one (clip, class) pair, with the counts behind them.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct OnsetScore {
    pub f1: f64,
    pub precision: f64,
    pub recall: f64,
    pub tp: usize,
    pub fp: usize,
    pub fn_: usize,
    pub n_ref: usize,
    pub n_est: usize,
}

/// Merges onsets closer than `window` to the previous kept one (the earlier is kept), as the
/// evaluation set's scorer does for both sides (e.g. a closed and an open hi-hat at once).
pub fn merge_close(times: &[f64], window: f64) -> Vec<f64> {
    let mut sorted: Vec<f64> = times.iter().copied().filter(|t| t.is_finite()).collect();
    sorted.sort_by(|a, b| a.total_cmp(b));
    let mut kept: Vec<f64> = Vec::with_capacity(sorted.len());
    for t in sorted {
        if kept.last().is_none_or(|&k| t - k > window) {
            kept.push(t);
        }
    }
    kept
}

/// Size of a maximum matching between `reference` and `estimate` where a pair may match when
/// |r - e| <= window. Inputs need not be sorted.
pub fn matched_count(reference: &[f64], estimate: &[f64], window: f64) -> usize {
    maximum_matching(reference, estimate, window).len()
}

/// A maximum matching between `reference` and `estimate` (a pair may match when
/// |r - e| <= window), as (reference index, estimate index) pairs in reference order. Inputs
/// need not be sorted.
pub fn maximum_matching(reference: &[f64], estimate: &[f64], window: f64) -> Vec<(usize, usize)> {
    let mut est: Vec<(f64, usize)> = estimate
        .iter()
        .copied()
        .enumerate()
        .map(|(i, t)| (t, i))
        .collect();
    est.sort_by(|a, b| a.0.total_cmp(&b.0));
    let est_times: Vec<f64> = est.iter().map(|e| e.0).collect();
    // Candidate estimates for every reference onset (a contiguous range of the sorted estimates).
    let candidates: Vec<(usize, usize)> = reference
        .iter()
        .map(|&r| {
            let lo = est_times.partition_point(|&e| e < r - window);
            let hi = est_times.partition_point(|&e| e <= r + window);
            (lo, hi)
        })
        .collect();
    let mut owner: Vec<Option<usize>> = vec![None; est_times.len()];
    for r in 0..reference.len() {
        let mut seen = vec![false; est_times.len()];
        augment(r, &candidates, &mut owner, &mut seen);
    }
    let mut pairs: Vec<(usize, usize)> = owner
        .iter()
        .enumerate()
        .filter_map(|(e, r)| r.map(|r| (r, est[e].1)))
        .collect();
    pairs.sort_unstable();
    pairs
}

fn augment(
    r: usize,
    candidates: &[(usize, usize)],
    owner: &mut [Option<usize>],
    seen: &mut [bool],
) -> bool {
    let (lo, hi) = candidates[r];
    for e in lo..hi {
        if seen[e] {
            continue;
        }
        seen[e] = true;
        if owner[e].is_none_or(|other| augment(other, candidates, owner, seen)) {
            owner[e] = Some(r);
            return true;
        }
    }
    false
}

/// mir_eval's onset F-measure, with the evaluation set's conventions: both empty scores 1,
/// exactly one empty scores 0.
pub fn onset_score(reference: &[f64], estimate: &[f64], window: f64) -> OnsetScore {
    let (n_ref, n_est) = (reference.len(), estimate.len());
    if n_ref == 0 && n_est == 0 {
        return OnsetScore {
            f1: 1.0,
            precision: 1.0,
            recall: 1.0,
            tp: 0,
            fp: 0,
            fn_: 0,
            n_ref,
            n_est,
        };
    }
    let tp = if n_ref == 0 || n_est == 0 {
        0
    } else {
        matched_count(reference, estimate, window)
    };
    let precision = if n_est > 0 {
        tp as f64 / n_est as f64
    } else {
        0.0
    };
    let recall = if n_ref > 0 {
        tp as f64 / n_ref as f64
    } else {
        0.0
    };
    let f1 = if precision + recall > 0.0 {
        2.0 * precision * recall / (precision + recall)
    } else {
        0.0
    };
    OnsetScore {
        f1,
        precision,
        recall,
        tp,
        fp: n_est - tp,
        fn_: n_ref - tp,
        n_ref,
        n_est,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Maximum matching by trying every assignment (tiny inputs only).
    fn brute_force(reference: &[f64], estimate: &[f64], window: f64) -> usize {
        fn go(i: usize, r: &[f64], e: &[f64], used: &mut Vec<bool>, w: f64) -> usize {
            if i == r.len() {
                return 0;
            }
            let mut best = go(i + 1, r, e, used, w);
            for j in 0..e.len() {
                if !used[j] && (r[i] - e[j]).abs() <= w {
                    used[j] = true;
                    best = best.max(1 + go(i + 1, r, e, used, w));
                    used[j] = false;
                }
            }
            best
        }
        go(
            0,
            reference,
            estimate,
            &mut vec![false; estimate.len()],
            window,
        )
    }

    proptest! {
        #[test]
        fn matching_is_maximum(reference in prop::collection::vec(0.0f64..1.0, 0..7),
                               estimate in prop::collection::vec(0.0f64..1.0, 0..7)) {
            prop_assert_eq!(matched_count(&reference, &estimate, 0.05), brute_force(&reference, &estimate, 0.05));
        }
    }

    #[test]
    fn greedy_would_be_wrong_here() {
        // A greedy nearest match pairs 0.10 with 0.14 and leaves 0.06 unmatched; the maximum
        // matching pairs 0.10-0.06 and 0.14-0.14... i.e. both.
        let r = [0.10, 0.18];
        let e = [0.14, 0.06];
        assert_eq!(matched_count(&r, &e, 0.05), 2);
        let s = onset_score(&r, &[0.10, 0.5], 0.05);
        assert_eq!((s.tp, s.fp, s.fn_), (1, 1, 1));
        assert!((s.f1 - 0.5).abs() < 1e-12);
        assert_eq!(onset_score(&[], &[], 0.05).f1, 1.0);
        assert_eq!(onset_score(&[1.0], &[], 0.05).f1, 0.0);
    }

    #[test]
    fn merge_keeps_the_earlier_of_close_onsets() {
        assert_eq!(
            merge_close(&[0.5, 0.0, 0.02, 0.06, 0.07], 0.03),
            vec![0.0, 0.06, 0.5]
        );
    }
}
