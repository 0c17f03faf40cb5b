//! The loss curve the workbench plots: every step's total and per-scale loss, with the views
//! (smoothed, log, step or time axis) computed on demand.

use crate::train::session::LossRow;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum XAxis {
    #[default]
    Step,
    Seconds,
}

#[derive(Debug, Clone, Default)]
pub struct LossHistory {
    rows: Vec<LossRow>,
}

/// Exponential smoothing weight of the newest point (TensorBoard-style).
const SMOOTHING: f64 = 0.9;

impl LossHistory {
    pub fn from_rows(rows: Vec<LossRow>) -> Self {
        LossHistory { rows }
    }

    pub fn push(&mut self, row: LossRow) {
        // A resumed run repeats steps after its checkpoint: the newer values replace them.
        while self.rows.last().is_some_and(|r| r.step >= row.step) {
            self.rows.pop();
        }
        self.rows.push(row);
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    pub fn last(&self) -> Option<&LossRow> {
        self.rows.last()
    }

    pub fn scales(&self) -> usize {
        self.rows
            .iter()
            .map(|r| r.per_scale.len())
            .max()
            .unwrap_or(0)
    }

    /// (x, y) of the total loss (`scale = None`) or of one CQT scale; non-finite values and,
    /// with `log`, non-positive ones are skipped.
    pub fn points(&self, scale: Option<usize>, x: XAxis, log: bool) -> Vec<(f64, f64)> {
        self.rows
            .iter()
            .filter_map(|r| {
                let y = match scale {
                    None => r.loss,
                    Some(s) => *r.per_scale.get(s)?,
                };
                let y = if log { y.log10() } else { y };
                let x = match x {
                    XAxis::Step => r.step as f64,
                    XAxis::Seconds => r.seconds,
                };
                (y.is_finite() && x.is_finite()).then_some((x, y))
            })
            .collect()
    }
}

/// Exponentially smoothed copy of `points` (debiased so the start is not pulled to zero).
pub fn smooth(points: &[(f64, f64)]) -> Vec<(f64, f64)> {
    let mut acc = 0.0;
    let mut weight = 0.0;
    points
        .iter()
        .map(|&(x, y)| {
            acc = acc * SMOOTHING + y * (1.0 - SMOOTHING);
            weight = weight * SMOOTHING + (1.0 - SMOOTHING);
            (x, acc / weight)
        })
        .collect()
}

/// At most `n` points, evenly strided (the last point always kept).
pub fn thin(points: &[(f64, f64)], n: usize) -> Vec<(f64, f64)> {
    if points.len() <= n || n < 2 {
        return points.to_vec();
    }
    let stride = points.len().div_ceil(n - 1);
    let mut out: Vec<_> = points.iter().step_by(stride).copied().collect();
    if let Some(&last) = points.last() {
        if out.last() != Some(&last) {
            out.push(last);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(step: u64, loss: f64) -> LossRow {
        LossRow {
            step,
            seconds: step as f64 * 0.5,
            loss,
            per_scale: vec![loss * 0.25, loss * 0.75],
            items_per_second: 10.0,
        }
    }

    #[test]
    fn smoothing_is_debiased_and_follows_a_constant() {
        let s = smooth(&[(0.0, 2.0), (1.0, 2.0), (2.0, 2.0)]);
        assert!(s.iter().all(|&(_, y)| (y - 2.0).abs() < 1e-12));
        let s = smooth(&[(0.0, 0.0), (1.0, 10.0)]);
        assert!((s[1].1 - 10.0 * 0.1 / 0.19).abs() < 1e-9);
    }

    #[test]
    fn views_select_scale_axis_and_log_and_resume_replaces_steps() {
        let mut h = LossHistory::default();
        for s in 1..=4 {
            h.push(row(s, 10f64.powi(s as i32)));
        }
        h.push(row(3, 5.0));
        assert_eq!(h.len(), 3);
        assert_eq!(
            h.points(None, XAxis::Step, true),
            vec![(1.0, 1.0), (2.0, 2.0), (3.0, 5f64.log10())]
        );
        assert_eq!(h.points(Some(1), XAxis::Seconds, false)[0], (0.5, 7.5));
        assert_eq!(h.scales(), 2);
        let many: Vec<_> = (0..1000).map(|i| (i as f64, 0.0)).collect();
        let t = thin(&many, 100);
        assert!(t.len() <= 101 && t.last() == many.last());
    }
}
