//! Running median over a reflect-padded sequence, with the index of the element it selects.
//!
//! HPSS takes the median of 31 neighbours at every point of a 513 × frames power spectrogram,
//! along each axis. Sorting 31 values per point costs ~100k sorts per item; sliding a sorted
//! window instead costs one removal and one insertion (a binary search and a memmove of at most
//! 31 entries) per point. The window holds padded positions, ordered by (value, position), so
//! reflected duplicates of one element stay distinct entries and every removal is exact.

use std::cmp::Ordering;

use crate::model::ops::cqt_stft::reflect;

/// For each i in 0..v.len(): the median of v[reflect(i + j)] over j in −half..=half, into
/// `median[i]`, and the index in `v` of the element that value was read from, into `source[i]`
/// (the gradient of the median flows to that element alone). Needs v.len() > half.
pub(crate) fn reflected_running_median(
    v: &[f64],
    half: usize,
    median: &mut [f64],
    source: &mut [u32],
) {
    let len = v.len();
    debug_assert!(len > half && median.len() == len && source.len() == len);
    let width = 2 * half + 1;
    let padded: Vec<f64> = (0..len + 2 * half)
        .map(|q| v[reflect(q as isize - half as isize, len)])
        .collect();
    let order = |a: &u32, b: &u32| -> Ordering {
        padded[*a as usize]
            .total_cmp(&padded[*b as usize])
            .then(a.cmp(b))
    };
    let mut window: Vec<u32> = (0..width as u32).collect();
    window.sort_unstable_by(order);
    for i in 0..len {
        if i > 0 {
            let leaving = (i - 1) as u32;
            // Every padded position in the window is present exactly once.
            if let Ok(at) = window.binary_search_by(|q| order(q, &leaving)) {
                window.remove(at);
            }
            let entering = (i + width - 1) as u32;
            let at = window
                .binary_search_by(|q| order(q, &entering))
                .unwrap_or_else(|at| at);
            window.insert(at, entering);
        }
        let q = window[half] as usize;
        median[i] = padded[q];
        source[i] = reflect(q as isize - half as isize, len) as u32;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The definition: sort every window.
    fn naive(v: &[f64], half: usize) -> Vec<f64> {
        (0..v.len())
            .map(|i| {
                let mut w: Vec<f64> = (0..=2 * half)
                    .map(|j| v[reflect(i as isize + j as isize - half as isize, v.len())])
                    .collect();
                w.sort_by(f64::total_cmp);
                w[half]
            })
            .collect()
    }

    #[test]
    fn equals_sorting_every_window_and_points_at_the_value() {
        for (len, half) in [(16, 15), (40, 15), (513, 15), (9, 3)] {
            let v: Vec<f64> = (0..len)
                .map(|i| ((i as f64 * 12.9898).sin() * 43_758.545_3).fract())
                .collect();
            let (mut median, mut source) = (vec![0.0; len], vec![0u32; len]);
            reflected_running_median(&v, half, &mut median, &mut source);
            assert_eq!(median, naive(&v, half), "len {len} half {half}");
            for (m, &s) in median.iter().zip(&source) {
                assert_eq!(*m, v[s as usize]);
            }
        }
    }

    #[test]
    fn ties_and_constant_runs_stay_consistent() {
        // Many equal values (digital silence) and repeated levels: removals must find their entry.
        let v: Vec<f64> = (0..200).map(|i| ((i / 7) % 3) as f64).collect();
        let (mut median, mut source) = (vec![0.0; 200], vec![0u32; 200]);
        reflected_running_median(&v, 15, &mut median, &mut source);
        assert_eq!(median, naive(&v, 15));
        assert!(source
            .iter()
            .zip(&median)
            .all(|(&s, &m)| v[s as usize] == m));
    }
}
