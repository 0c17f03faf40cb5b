//! Learning curves of training sessions: the loss against items trained on (from `loss.csv`)
//! and validation F1 of checkpoints (measured by `drummernet curves`, kept in a CSV so that a
//! checkpoint is scored once).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

use super::session::LossRow;

/// The loss against items: every logged step (the last row of a step that was logged twice,
/// after a resume) and a trailing moving mean over `window` steps.
pub struct LossCurve {
    pub raw: Vec<(f64, f64)>,
    pub mean: Vec<(f64, f64)>,
}

pub fn loss_curve(rows: &[LossRow], batch_size: usize, window: usize) -> LossCurve {
    // A resumed run logs again from its checkpoint: the later rows are the run that went on.
    let by_step: BTreeMap<u64, f64> = rows.iter().map(|r| (r.step, r.loss)).collect();
    let raw: Vec<(f64, f64)> = by_step
        .iter()
        .filter(|(_, loss)| loss.is_finite())
        .map(|(&step, &loss)| ((step * batch_size as u64) as f64, loss))
        .collect();
    let window = window.max(1);
    let mut sum = 0.0;
    let mut mean = Vec::with_capacity(raw.len());
    for (i, &(items, loss)) in raw.iter().enumerate() {
        sum += loss;
        if i >= window {
            sum -= raw[i - window].1;
        }
        mean.push((items, sum / (i + 1).min(window) as f64));
    }
    LossCurve { raw, mean }
}

/// At most about `max` of `points`, evenly spaced, the last always kept: a chart of a long run
/// needs no more points than it has pixels, and the SVG stays small.
pub fn thinned(points: &[(f64, f64)], max: usize) -> Vec<(f64, f64)> {
    let every = points.len().div_ceil(max.max(1)).max(1);
    let mut kept: Vec<(f64, f64)> = points.iter().step_by(every).copied().collect();
    if let Some(&last) = points.last() {
        if kept.last() != Some(&last) {
            kept.push(last);
        }
    }
    kept
}

/// The checkpoints to score: the first, then each at least `every_items` items after the last
/// one taken, and always the last (the run's end). `checkpoints` sorted by step.
pub fn spaced_checkpoints(
    checkpoints: &[(u64, PathBuf)],
    batch_size: usize,
    every_items: u64,
) -> Vec<(u64, PathBuf)> {
    let mut kept: Vec<(u64, PathBuf)> = Vec::new();
    for (i, (step, path)) in checkpoints.iter().enumerate() {
        let items = step * batch_size as u64;
        let far_enough = kept
            .last()
            .is_none_or(|(last, _)| items >= last * batch_size as u64 + every_items);
        if far_enough || i + 1 == checkpoints.len() {
            kept.push((*step, path.clone()));
        }
    }
    kept
}

/// Classes of a validation point, in column order.
pub const CLASSES: [&str; 5] = ["KD", "SD", "HH", "TT", "CY"];

/// One checkpoint scored on one validation set.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidationPoint {
    pub session: String,
    pub step: u64,
    pub items: u64,
    /// The validation set's name.
    pub set: String,
    /// What the events were read with (a fingerprint of the inference settings): points read
    /// another way are not reused.
    pub reading: String,
    /// F1 per class (NaN where the set has no annotations of that class).
    pub f1: BTreeMap<String, f64>,
    /// Mean F1 of KD, SD and HH.
    pub mean: f64,
}

const HEADER: &str = "session,step,items,set,reading,KD,SD,HH,TT,CY,mean";

impl ValidationPoint {
    fn to_csv(&self) -> String {
        let mut line = format!(
            "{},{},{},{},{}",
            self.session, self.step, self.items, self.set, self.reading
        );
        for class in CLASSES {
            let v = self.f1.get(class).copied().unwrap_or(f64::NAN);
            line.push_str(&format!(",{v:.4}"));
        }
        line.push_str(&format!(",{:.4}", self.mean));
        line
    }

    fn from_csv(line: &str) -> Option<ValidationPoint> {
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        if fields.len() != 11 {
            return None;
        }
        let number = |s: &str| s.parse::<f64>().ok();
        let f1 = CLASSES
            .iter()
            .zip(&fields[5..10])
            .map(|(c, v)| Some((c.to_string(), number(v)?)))
            .collect::<Option<BTreeMap<_, _>>>()?;
        Some(ValidationPoint {
            session: fields[0].to_string(),
            step: fields[1].parse().ok()?,
            items: fields[2].parse().ok()?,
            set: fields[3].to_string(),
            reading: fields[4].to_string(),
            f1,
            mean: number(fields[10])?,
        })
    }
}

/// The CSV text of `points`, header first.
pub fn validation_csv(points: &[ValidationPoint]) -> String {
    let mut text = format!("{HEADER}\n");
    for p in points {
        text.push_str(&p.to_csv());
        text.push('\n');
    }
    text
}

/// Points of a CSV written by `validation_csv`; a malformed line is an error naming the file
/// and the line.
pub fn read_validation_csv(path: &Path) -> Result<Vec<ValidationPoint>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let mut lines = text.lines().enumerate();
    if lines.next().map(|(_, l)| l.trim()) != Some(HEADER) {
        return Err(Error::Invalid(format!(
            "{}: not a validation CSV (its first line is not `{HEADER}`)",
            path.display()
        )));
    }
    lines
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            ValidationPoint::from_csv(l).ok_or_else(|| {
                Error::Invalid(format!(
                    "{}: line {}: malformed validation row",
                    path.display(),
                    i + 1
                ))
            })
        })
        .collect()
}

/// A short stable fingerprint of a text (FNV-1a, 64 bits, hex): names a reading's settings in
/// the CSV without writing them out.
pub fn fingerprint(text: &str) -> String {
    let hash = text.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("{hash:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(step: u64, loss: f64) -> LossRow {
        LossRow {
            step,
            seconds: step as f64,
            loss,
            per_scale: vec![loss],
            items_per_second: 1.0,
        }
    }

    #[test]
    fn loss_curve_keeps_the_resumed_rows_and_averages_trailing_steps() {
        // Steps 1-3, then a resume from step 2 that logs 3 and 4 again.
        let rows = [
            row(1, 4.0),
            row(2, 2.0),
            row(3, 9.0),
            row(3, 3.0),
            row(4, f64::NAN),
            row(5, 1.0),
        ];
        let c = loss_curve(&rows, 16, 2);
        assert_eq!(
            c.raw,
            vec![(16.0, 4.0), (32.0, 2.0), (48.0, 3.0), (80.0, 1.0)]
        );
        assert_eq!(
            c.mean,
            vec![(16.0, 4.0), (32.0, 3.0), (48.0, 2.5), (80.0, 2.0)]
        );
    }

    #[test]
    fn thinning_keeps_even_steps_and_the_last_point() {
        let points: Vec<(f64, f64)> = (0..10).map(|i| (i as f64, 0.0)).collect();
        let xs = |p: Vec<(f64, f64)>| p.into_iter().map(|(x, _)| x).collect::<Vec<_>>();
        assert_eq!(xs(thinned(&points, 4)), vec![0.0, 3.0, 6.0, 9.0]);
        assert_eq!(xs(thinned(&points, 3)), vec![0.0, 4.0, 8.0, 9.0]);
        assert_eq!(thinned(&points, 100), points);
        assert!(thinned(&[], 5).is_empty());
    }

    #[test]
    fn checkpoints_are_spaced_by_items_and_the_last_is_kept() {
        let cps: Vec<(u64, PathBuf)> = [100, 200, 250, 300, 400, 450]
            .iter()
            .map(|&s| (s, PathBuf::from(format!("c{s}"))))
            .collect();
        let steps: Vec<u64> = spaced_checkpoints(&cps, 10, 1500)
            .into_iter()
            .map(|(s, _)| s)
            .collect();
        assert_eq!(steps, vec![100, 250, 400, 450]);
        assert_eq!(spaced_checkpoints(&cps, 10, 0).len(), 6);
        assert!(spaced_checkpoints(&[], 10, 0).is_empty());
    }

    #[test]
    fn validation_points_round_trip_through_the_csv() {
        let point = ValidationPoint {
            session: "base".into(),
            step: 250,
            items: 4000,
            set: "dev".into(),
            reading: fingerprint("model"),
            f1: CLASSES
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    (
                        c.to_string(),
                        if i == 4 { f64::NAN } else { 0.25 * i as f64 },
                    )
                })
                .collect(),
            mean: 0.25,
        };
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v.csv");
        std::fs::write(&path, validation_csv(std::slice::from_ref(&point))).unwrap();
        let back = read_validation_csv(&path).unwrap();
        assert_eq!(back.len(), 1);
        assert!(back[0].f1["CY"].is_nan());
        // NaN != NaN: compare the rest with CY set equal.
        let (mut a, mut b) = (back[0].clone(), point.clone());
        a.f1.insert("CY".into(), 0.0);
        b.f1.insert("CY".into(), 0.0);
        assert_eq!(a, b);

        std::fs::write(&path, format!("{HEADER}\nbase,1,2\n")).unwrap();
        let err = read_validation_csv(&path).unwrap_err().to_string();
        assert!(err.contains("v.csv") && err.contains("line 2"), "{err}");
        assert_ne!(fingerprint("a"), fingerprint("b"));
    }
}
