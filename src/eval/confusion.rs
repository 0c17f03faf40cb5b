//! Where the errors go, to steer the five-class work: for every false positive of a class,
//! which class (if any) was annotated within the window there ("SD -> HH": a snare's wires
//! read as a hat); for every miss, which class was predicted there instead. Same matching as
//! the scores (both sides merged within 30 ms, one-to-one maximum matching within 50 ms), so
//! the counts add up to the FP and FN columns of the scores.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::dsp::onset_metrics::{maximum_matching, merge_close};

use super::onsets::Onsets;
use super::score::{MERGE, WINDOW};

/// The column of an error with nothing of another class within the window.
pub const NOTHING: &str = "none";

/// Counts of errors per class and what stood beside them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Confusion {
    /// `false_positives[predicted][annotated within the window, or "none"]`.
    pub false_positives: BTreeMap<String, BTreeMap<String, usize>>,
    /// `misses[annotated][predicted within the window instead, or "none"]`.
    pub misses: BTreeMap<String, BTreeMap<String, usize>>,
}

/// Every class's onsets merged as the scorer merges them.
fn merged(onsets: &Onsets) -> BTreeMap<&'static str, Vec<f64>> {
    onsets
        .iter()
        .map(|(&k, v)| (k, merge_close(v, MERGE)))
        .collect()
}

/// The class other than `class` with an onset nearest to `t` within the window, if any.
fn nearest_other(t: f64, class: &str, others: &BTreeMap<&'static str, Vec<f64>>) -> String {
    others
        .iter()
        .filter(|(&k, _)| k != class)
        .flat_map(|(&k, times)| times.iter().map(move |&u| ((u - t).abs(), k)))
        .filter(|&(d, _)| d <= WINDOW)
        .min_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(b.1)))
        .map_or(NOTHING.to_string(), |(_, k)| k.to_string())
}

impl Confusion {
    /// Adds one clip's errors for the classes it is scored on.
    pub fn add_clip(&mut self, classes: &[&str], reference: &Onsets, estimate: &Onsets) {
        let (reference, estimate) = (merged(reference), merged(estimate));
        let empty = Vec::new();
        for &class in classes {
            let r = reference.get(class).unwrap_or(&empty);
            let e = estimate.get(class).unwrap_or(&empty);
            let pairs = maximum_matching(r, e, WINDOW);
            let (mut r_hit, mut e_hit) = (vec![false; r.len()], vec![false; e.len()]);
            for &(i, j) in &pairs {
                r_hit[i] = true;
                e_hit[j] = true;
            }
            for (&t, _) in e.iter().zip(&e_hit).filter(|(_, &hit)| !hit) {
                let beside = nearest_other(t, class, &reference);
                *self.entry_fp(class).entry(beside).or_default() += 1;
            }
            for (&t, _) in r.iter().zip(&r_hit).filter(|(_, &hit)| !hit) {
                let beside = nearest_other(t, class, &estimate);
                *self.entry_miss(class).entry(beside).or_default() += 1;
            }
        }
    }

    fn entry_fp(&mut self, class: &str) -> &mut BTreeMap<String, usize> {
        self.false_positives.entry(class.to_string()).or_default()
    }

    fn entry_miss(&mut self, class: &str) -> &mut BTreeMap<String, usize> {
        self.misses.entry(class.to_string()).or_default()
    }

    /// The two tables `drummernet eval --confusion` prints.
    pub fn table(&self) -> String {
        let mut out = String::new();
        let sections = [
            (
                "false positives: predicted class -> class annotated within 50 ms",
                &self.false_positives,
            ),
            (
                "misses: annotated class -> class predicted within 50 ms instead",
                &self.misses,
            ),
        ];
        for (title, rows) in sections {
            let _ = writeln!(out, "{title}");
            let mut columns: Vec<&str> = rows
                .values()
                .flat_map(|r| r.keys().map(String::as_str))
                .filter(|&k| k != NOTHING)
                .collect();
            columns.sort_unstable();
            columns.dedup();
            columns.insert(0, NOTHING);
            let mut header = format!("{:6} {:>6}", "", "total");
            for c in &columns {
                let _ = write!(header, " {c:>5}");
            }
            let _ = writeln!(out, "{header}");
            for (class, counts) in rows {
                let total: usize = counts.values().sum();
                let mut line = format!("{class:6} {total:6}");
                for c in &columns {
                    let _ = write!(line, " {:5}", counts.get(*c).copied().unwrap_or(0));
                }
                let _ = writeln!(out, "{line}");
            }
            out.push('\n');
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn onsets(items: &[(&'static str, &[f64])]) -> Onsets {
        items.iter().map(|&(k, v)| (k, v.to_vec())).collect()
    }

    #[test]
    fn each_error_is_filed_under_what_stood_beside_it() {
        // Kick right; a kick where a snare was annotated (FP KD -> SD, miss SD -> KD); a hat
        // where nothing sounds (FP HH -> none); a missed hat with nothing predicted near it
        // (miss HH -> none); a second kick hit merged within 30 ms is no error at all.
        let reference = onsets(&[("KD", &[1.0]), ("SD", &[2.0]), ("HH", &[3.0])]);
        let estimate = onsets(&[("KD", &[1.0, 1.02, 2.03]), ("HH", &[5.0])]);
        let mut c = Confusion::default();
        c.add_clip(&["KD", "SD", "HH"], &reference, &estimate);
        let count = |m: &BTreeMap<String, BTreeMap<String, usize>>, a: &str, b: &str| {
            m.get(a).and_then(|r| r.get(b)).copied().unwrap_or(0)
        };
        assert_eq!(count(&c.false_positives, "KD", "SD"), 1);
        assert_eq!(count(&c.false_positives, "HH", NOTHING), 1);
        assert_eq!(count(&c.misses, "SD", "KD"), 1);
        assert_eq!(count(&c.misses, "HH", NOTHING), 1);
        let total = |m: &BTreeMap<String, BTreeMap<String, usize>>| -> usize {
            m.values().flat_map(|r| r.values()).sum()
        };
        assert_eq!((total(&c.false_positives), total(&c.misses)), (2, 2));
        let table = c.table();
        assert!(table.contains("KD          1     0     1"), "{table}");
    }

    #[test]
    fn the_nearest_other_class_wins_and_classes_not_scored_are_not_counted() {
        // A false snare 10 ms from a hat and 40 ms from a kick is the hat's; TT is not scored.
        let reference = onsets(&[("KD", &[1.04]), ("HH", &[0.99]), ("TT", &[4.0])]);
        let estimate = onsets(&[("SD", &[1.0]), ("KD", &[1.04]), ("HH", &[0.99])]);
        let mut c = Confusion::default();
        c.add_clip(&["KD", "SD", "HH"], &reference, &estimate);
        assert_eq!(c.false_positives["SD"]["HH"], 1);
        assert!(!c.misses.contains_key("TT"));
        assert!(c.misses.is_empty());
    }

    #[test]
    fn the_counts_add_up_to_the_scores_false_positives_and_misses() {
        use crate::eval::score::score_class;
        let mut state = 7u64;
        let mut next = || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1);
            (state >> 33) as f64 / (1u64 << 31) as f64
        };
        let classes = ["KD", "SD", "HH"];
        for _ in 0..50 {
            let mut draw = |n: usize| -> Onsets {
                classes
                    .iter()
                    .map(|&k| (k, (0..n).map(|_| 4.0 * next()).collect()))
                    .collect()
            };
            let (reference, estimate) = (draw(12), draw(10));
            let mut c = Confusion::default();
            c.add_clip(&classes, &reference, &estimate);
            for k in classes {
                let s = score_class(&reference[k], &estimate[k]);
                let sum = |m: &BTreeMap<String, BTreeMap<String, usize>>| -> usize {
                    m.get(k).map_or(0, |r| r.values().sum())
                };
                assert_eq!((sum(&c.false_positives), sum(&c.misses)), (s.fp, s.fn_));
            }
        }
    }
}
