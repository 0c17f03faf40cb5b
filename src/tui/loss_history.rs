//! The loss curve the workbench plots: the total and per-scale loss of every step, kept as a
//! bounded series that thins itself as it grows, with its smoothed values computed as the
//! steps arrive. Drawing a frame then costs the same after a million steps as after a
//! thousand (`cargo bench --bench speed -- loss_chart`).

use crate::train::session::LossRow;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum XAxis {
    #[default]
    Step,
    Seconds,
}

/// Exponential smoothing weight of the newest point (TensorBoard-style).
const SMOOTHING: f64 = 0.9;

/// The most points kept: twice the widest chart's Braille columns (a 500-column terminal) and
/// more, so that thinning to the chart's width still has every column's point.
pub const MAX_POINTS: usize = 2048;

/// Debiased exponential smoothing of one curve, linear and log10.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Smoother {
    linear: Ema,
    log: Ema,
}

/// An exponential moving average and the weight its start still lacks.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Ema {
    sum: f64,
    weight: f64,
}

impl Ema {
    /// Takes `y` when finite; the debiased mean so far.
    fn push(&mut self, y: f64) -> f64 {
        if y.is_finite() {
            self.sum = self.sum * SMOOTHING + y * (1.0 - SMOOTHING);
            self.weight = self.weight * SMOOTHING + (1.0 - SMOOTHING);
        }
        if self.weight > 0.0 {
            self.sum / self.weight
        } else {
            f64::NAN
        }
    }
}

impl Smoother {
    /// Takes `y` (non-finite values, and for the log curve non-positive ones, are skipped, as
    /// the chart skips them) and returns the smoothed (linear, log10) values.
    fn push(&mut self, y: f64) -> (f64, f64) {
        (self.linear.push(y), self.log.push(y.log10()))
    }
}

/// One kept step: its row and the smoothed curves up to it (total first, then each scale).
#[derive(Debug, Clone)]
struct KeptStep {
    row: LossRow,
    smoothed: Vec<(f64, f64)>,
    /// The smoothers' state after this step, to resume from when later steps are replaced.
    state: Vec<Smoother>,
}

#[derive(Debug, Clone, Default)]
pub struct LossHistory {
    kept: Vec<KeptStep>,
    /// Every `stride`-th step is kept; doubles whenever the series reaches [`MAX_POINTS`].
    stride: u64,
    /// Steps pushed since the last kept one.
    since_kept: u64,
    /// Steps recorded (kept or not).
    steps: usize,
    smoothers: Vec<Smoother>,
    last: Option<LossRow>,
    /// The smoothed curves at the newest step.
    last_smoothed: Vec<(f64, f64)>,
}

impl LossHistory {
    pub fn from_rows(rows: Vec<LossRow>) -> Self {
        let mut h = LossHistory::default();
        for r in rows {
            h.push(r);
        }
        h
    }

    pub fn push(&mut self, row: LossRow) {
        if self.stride == 0 {
            self.stride = 1;
        }
        // A resumed run repeats steps after its checkpoint: the newer values replace them,
        // smoothing on from the last kept step before them.
        if self.last.as_ref().is_some_and(|l| l.step >= row.step) {
            let keep = self.kept.partition_point(|k| k.row.step < row.step);
            self.kept.truncate(keep);
            let replaced = self
                .last
                .as_ref()
                .map_or(0, |l| l.step.saturating_sub(row.step) + 1);
            self.steps = self.steps.saturating_sub(replaced as usize);
            self.smoothers = self.kept.last().map_or_else(Vec::new, |k| k.state.clone());
            self.since_kept = self.kept.last().map_or(0, |k| row.step - k.row.step - 1);
        }
        let curves = 1 + row.per_scale.len();
        if self.smoothers.len() < curves {
            self.smoothers.resize(curves, Smoother::default());
        }
        let smoothed: Vec<(f64, f64)> = std::iter::once(row.loss)
            .chain(row.per_scale.iter().copied())
            .zip(self.smoothers.iter_mut())
            .map(|(y, s)| s.push(y))
            .collect();
        self.steps += 1;
        self.last = Some(row.clone());
        self.last_smoothed = smoothed.clone();
        if self.since_kept + 1 < self.stride && !self.kept.is_empty() {
            self.since_kept += 1;
            return;
        }
        self.since_kept = 0;
        self.kept.push(KeptStep {
            row,
            smoothed,
            state: self.smoothers.clone(),
        });
        if self.kept.len() >= MAX_POINTS {
            // Keep every other point (the first stays): the series stays bounded and evenly
            // spread, at the cost of one pass every MAX_POINTS / 2 kept steps.
            let last_dropped = self.kept.len().is_multiple_of(2);
            let mut i = 0;
            self.kept.retain(|_| {
                i += 1;
                i % 2 == 1
            });
            // Steps since the last point still kept: the dropped newest one was a stride on.
            if last_dropped {
                self.since_kept = self.stride;
            }
            self.stride *= 2;
        }
    }

    /// Steps recorded.
    pub fn len(&self) -> usize {
        self.steps
    }

    pub fn is_empty(&self) -> bool {
        self.steps == 0
    }

    pub fn last(&self) -> Option<&LossRow> {
        self.last.as_ref()
    }

    pub fn scales(&self) -> usize {
        self.smoothers.len().saturating_sub(1)
    }

    fn x_of(row: &LossRow, x: XAxis) -> f64 {
        match x {
            XAxis::Step => row.step as f64,
            XAxis::Seconds => row.seconds,
        }
    }

    /// (x, y) of the kept steps of the total loss (`scale = None`) or of one CQT scale, the
    /// newest step always last; non-finite values and, with `log`, non-positive ones are
    /// skipped.
    pub fn points(&self, scale: Option<usize>, x: XAxis, log: bool) -> Vec<(f64, f64)> {
        self.rows()
            .filter_map(|r| {
                let y = match scale {
                    None => r.loss,
                    Some(s) => *r.per_scale.get(s)?,
                };
                let y = if log { y.log10() } else { y };
                let x = Self::x_of(r, x);
                (y.is_finite() && x.is_finite()).then_some((x, y))
            })
            .collect()
    }

    /// The smoothed curve at the kept steps and the newest (debiased exponential smoothing
    /// over every step, of log10 values with `log`).
    pub fn smoothed(&self, scale: Option<usize>, x: XAxis, log: bool) -> Vec<(f64, f64)> {
        let curve = scale.map_or(0, |s| s + 1);
        let newest = self.newest_unkept().map(|r| (r, &self.last_smoothed));
        self.kept
            .iter()
            .map(|k| (&k.row, &k.smoothed))
            .chain(newest)
            .filter_map(|(row, smoothed)| {
                let (linear, log10) = *smoothed.get(curve)?;
                let y = if log { log10 } else { linear };
                let x = Self::x_of(row, x);
                (y.is_finite() && x.is_finite()).then_some((x, y))
            })
            .collect()
    }

    /// The newest row, when it was not kept.
    fn newest_unkept(&self) -> Option<&LossRow> {
        self.last
            .as_ref()
            .filter(|l| self.kept.last().is_none_or(|k| k.row.step != l.step))
    }

    /// The kept rows, then the newest row when it was not kept.
    fn rows(&self) -> impl Iterator<Item = &LossRow> {
        self.kept.iter().map(|k| &k.row).chain(self.newest_unkept())
    }
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
        let h = LossHistory::from_rows((1..=3).map(|s| row(s, 2.0)).collect());
        let s = h.smoothed(None, XAxis::Step, false);
        assert!(s.iter().all(|&(_, y)| (y - 2.0).abs() < 1e-12), "{s:?}");
        let h = LossHistory::from_rows(vec![row(1, 1.0), row(2, 10.0)]);
        let s = h.smoothed(None, XAxis::Step, false);
        assert!(
            (s[1].1 - (0.1 * 0.9 + 10.0 * 0.1) / 0.19).abs() < 1e-9,
            "{s:?}"
        );
        let s = h.smoothed(None, XAxis::Step, true);
        assert!((s[1].1 - 0.1 / 0.19).abs() < 1e-9, "{s:?}");
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
        // The smoothed curve after the replacement is the one of the new steps.
        let fresh = LossHistory::from_rows(vec![row(1, 10.0), row(2, 100.0), row(3, 5.0)]);
        assert_eq!(
            h.smoothed(None, XAxis::Step, false),
            fresh.smoothed(None, XAxis::Step, false)
        );
        let many: Vec<_> = (0..1000).map(|i| (i as f64, 0.0)).collect();
        let t = thin(&many, 100);
        assert!(t.len() <= 101 && t.last() == many.last());
    }

    #[test]
    fn a_million_steps_keep_a_bounded_evenly_spread_series_ending_at_the_newest() {
        let mut h = LossHistory::default();
        for s in 1..=1_000_000u64 {
            h.push(row(s, 1.0 + 1.0 / s as f64));
        }
        assert_eq!(h.len(), 1_000_000);
        let p = h.points(None, XAxis::Step, false);
        assert!(
            p.len() <= MAX_POINTS + 1 && p.len() >= MAX_POINTS / 2,
            "{}",
            p.len()
        );
        assert_eq!(p.first().map(|q| q.0), Some(1.0));
        assert_eq!(p.last().map(|q| q.0), Some(1e6));
        let gaps: Vec<f64> = p.windows(2).map(|w| w[1].0 - w[0].0).collect();
        let widest = gaps.iter().fold(0.0f64, |m, &g| m.max(g));
        assert!(widest <= 2.0 * 1e6 / MAX_POINTS as f64 + 1.0, "{widest}");
        // The smoothed value at the end is the exact EMA of every step, not of the kept ones.
        let s = h.smoothed(None, XAxis::Step, false);
        assert!((s.last().unwrap().1 - 1.0).abs() < 1e-4, "{:?}", s.last());
    }
}
