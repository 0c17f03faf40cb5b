//! Running median over a reflect-padded sequence, with the index of the element it selects.
//!
//! HPSS takes the median of 31 neighbours at every point of a 513 × frames power spectrogram,
//! along each axis. Sorting 31 values per point costs ~100k sorts per item; sliding a sorted
//! window instead costs one removal and one insertion per point: the leaving entry is found by
//! its padded position, the entering one's rank by counting, and the entries between are shifted
//! by one (all linear scans of 31 elements, faster than binary searches at this size). Entries
//! are ordered by (value, padded position), so reflected duplicates of one element stay distinct
//! and every removal is exact.

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
    // Sorted by (value, position): values and their padded positions side by side.
    let mut positions: Vec<u32> = (0..width as u32).collect();
    positions.sort_unstable_by(|&a, &b| {
        padded[a as usize]
            .total_cmp(&padded[b as usize])
            .then(a.cmp(&b))
    });
    let mut values: Vec<f64> = positions.iter().map(|&q| padded[q as usize]).collect();
    for i in 0..len {
        if i > 0 {
            let leaving = (i - 1) as u32;
            let entering = i + width - 1;
            let value = padded[entering];
            // Present exactly once; the fallback only guards against a broken invariant.
            let out = positions
                .iter()
                .position(|&q| q == leaving)
                .unwrap_or(width - 1);
            // The entering position is the largest in the window, so among equal values it
            // sorts last: its rank is the number of other entries with value <= its own. (A NaN
            // breaks the order, never the bookkeeping; the loss is NaN then anyway.)
            let at_most = values
                .iter()
                .map(|&x| usize::from(x <= value))
                .sum::<usize>();
            let rank = at_most - usize::from(values[out] <= value);
            if rank > out {
                values.copy_within(out + 1..=rank, out);
                positions.copy_within(out + 1..=rank, out);
            } else {
                values.copy_within(rank..out, rank + 1);
                positions.copy_within(rank..out, rank + 1);
            }
            values[rank] = value;
            positions[rank] = entering as u32;
        }
        median[i] = values[half];
        source[i] = reflect(positions[half] as isize - half as isize, len) as u32;
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
