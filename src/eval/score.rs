//! Scoring predictions against ground truth exactly as the evaluation set's `score.py` does:
//! per clip and class, merge same-class onsets closer than 30 ms (both sides), then mir_eval's
//! onset F-measure (one-to-one maximum matching, +-50 ms); means over clips per subset, the
//! mean of the KD/SD/HH means, and micro F1 from summed counts.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::dsp::onset_metrics::{merge_close, onset_score};
use crate::error::{Error, Result};

use super::confusion::Confusion;
use super::onsets::{read_onset_midi, read_onset_text, read_onsets, Onsets};

pub const WINDOW: f64 = 0.05;
pub const MERGE: f64 = 0.03;
pub const MAIN: [&str; 3] = ["KD", "SD", "HH"];
pub const EXTRA: [&str; 2] = ["TT", "CY"];
/// Subsets reported, in order (`all` pools every clip).
pub const SUBSETS: [&str; 4] = ["dtd", "dtp", "real", "all"];

/// One clip of the ground truth.
#[derive(Debug, Clone, PartialEq)]
pub struct ClipSpec {
    pub id: String,
    pub subset: String,
    pub ann: PathBuf,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ClassScore {
    pub f1: f64,
    pub p: f64,
    pub r: f64,
    pub tp: usize,
    pub fp: usize,
    #[serde(rename = "fn")]
    pub fn_: usize,
    /// Onsets before merging.
    pub n_ref: usize,
    pub n_est: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClipResult {
    pub id: String,
    pub subset: String,
    pub classes: BTreeMap<String, ClassScore>,
    /// Mean F1 over KD, SD, HH.
    pub mean_f1: f64,
    /// Events of the tom and cymbal classes on a clip not scored on them (a `dtd` clip holds
    /// none): each is a false event, a class invented where the recording has none.
    #[serde(default)]
    pub unscored_events: BTreeMap<String, usize>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ClassAggregate {
    /// Means over clips.
    pub f1: f64,
    pub p: f64,
    pub r: f64,
    /// 2 TP / (2 TP + FP + FN) over the summed counts.
    pub micro_f1: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MeanAggregate {
    pub f1: f64,
    pub micro_f1: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Aggregate {
    #[serde(flatten)]
    pub classes: BTreeMap<String, ClassAggregate>,
    pub mean: MeanAggregate,
    pub n_clips: usize,
    /// Mean events per clip of each class the clips are not scored on (see
    /// [`ClipResult::unscored_events`]); only classes no clip of the subset is scored on.
    #[serde(default)]
    pub unscored_events_per_clip: BTreeMap<String, f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalResult {
    pub pred_dir: String,
    pub gt_dir: String,
    pub window_s: f64,
    /// Clips without a prediction (scored as no onsets).
    pub missing: Vec<String>,
    pub subsets: BTreeMap<String, Aggregate>,
    pub clips: Vec<ClipResult>,
    /// Where the errors of every clip went (each clip's scored classes).
    #[serde(default)]
    pub confusion: Confusion,
}

/// The clips of a ground-truth folder: `manifest.json` (`clips[].{id, subset, ann}`) when
/// present, else every `.txt` file (then `.mid` files without a `.txt` of the same stem), in
/// name order, as subset `all`.
pub fn load_clips(gt_dir: &Path) -> Result<Vec<ClipSpec>> {
    let manifest = gt_dir.join("manifest.json");
    if manifest.exists() {
        #[derive(Deserialize)]
        struct Manifest {
            clips: Vec<Clip>,
        }
        #[derive(Deserialize)]
        struct Clip {
            id: String,
            subset: String,
            ann: String,
        }
        let text = std::fs::read_to_string(&manifest).map_err(|e| Error::io(&manifest, e))?;
        let m: Manifest = serde_json::from_str(&text).map_err(|e| {
            Error::Invalid(format!("{}: not a clip manifest ({e})", manifest.display()))
        })?;
        return Ok(m
            .clips
            .into_iter()
            .map(|c| ClipSpec {
                ann: gt_dir.join(&c.ann),
                id: c.id,
                subset: c.subset,
            })
            .collect());
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(gt_dir)
        .map_err(|e| Error::io(gt_dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    let stem = |p: &Path| p.file_stem().map(|s| s.to_string_lossy().into_owned());
    let ext = |p: &Path| {
        p.extension()
            .map(|s| s.to_string_lossy().to_ascii_lowercase())
            .unwrap_or_default()
    };
    let mut clips: Vec<ClipSpec> = Vec::new();
    for p in files.iter().filter(|p| ext(p) == "txt") {
        if let Some(id) = stem(p) {
            clips.push(ClipSpec {
                id,
                subset: "all".into(),
                ann: p.clone(),
            });
        }
    }
    for p in files
        .iter()
        .filter(|p| matches!(ext(p).as_str(), "mid" | "midi"))
    {
        if let Some(id) = stem(p) {
            if !clips.iter().any(|c| c.id == id) {
                clips.push(ClipSpec {
                    id,
                    subset: "all".into(),
                    ann: p.clone(),
                });
            }
        }
    }
    clips.sort_by(|a, b| a.id.cmp(&b.id));
    if clips.is_empty() {
        return Err(Error::Invalid(format!(
            "{}: no manifest.json and no .txt/.mid annotation files",
            gt_dir.display()
        )));
    }
    Ok(clips)
}

/// Scores one class of one clip (merging both sides first).
pub fn score_class(reference: &[f64], estimate: &[f64]) -> ClassScore {
    let r = merge_close(reference, MERGE);
    let e = merge_close(estimate, MERGE);
    let s = onset_score(&r, &e, WINDOW);
    ClassScore {
        f1: s.f1,
        p: s.precision,
        r: s.recall,
        tp: s.tp,
        fp: s.fp,
        fn_: s.fn_,
        n_ref: reference.len(),
        n_est: estimate.len(),
    }
}

/// The classes a clip is scored on: KD, SD, HH, plus TT and CY for `dtp` clips.
pub fn scored_classes(clip: &ClipSpec) -> Vec<&'static str> {
    let extra: &[&str] = if clip.subset == "dtp" { &EXTRA } else { &[] };
    MAIN.iter().chain(extra).copied().collect()
}

/// Scores a clip on its [`scored_classes`].
pub fn score_clip(clip: &ClipSpec, reference: &Onsets, estimate: &Onsets) -> ClipResult {
    let empty = Vec::new();
    let classes: BTreeMap<String, ClassScore> = scored_classes(clip)
        .into_iter()
        .map(|k| {
            let r = reference.get(k).unwrap_or(&empty);
            let e = estimate.get(k).unwrap_or(&empty);
            (k.to_string(), score_class(r, e))
        })
        .collect();
    let mean_f1 = MAIN.iter().map(|k| classes[*k].f1).sum::<f64>() / MAIN.len() as f64;
    let unscored_events = EXTRA
        .iter()
        .filter(|k| !classes.contains_key(**k))
        .map(|k| (k.to_string(), estimate.get(*k).map_or(0, Vec::len)))
        .collect();
    ClipResult {
        id: clip.id.clone(),
        subset: clip.subset.clone(),
        classes,
        mean_f1,
        unscored_events,
    }
}

fn mean(xs: impl Iterator<Item = f64>) -> f64 {
    let (s, n) = xs.fold((0.0, 0usize), |(s, n), x| (s + x, n + 1));
    s / n.max(1) as f64
}

/// Means over `rows` of every class all of them scored; None for no rows.
pub fn aggregate(rows: &[&ClipResult]) -> Option<Aggregate> {
    if rows.is_empty() {
        return None;
    }
    let mut classes = BTreeMap::new();
    for k in MAIN.iter().chain(&EXTRA) {
        if !rows.iter().all(|r| r.classes.contains_key(*k)) {
            continue;
        }
        let cs: Vec<&ClassScore> = rows.iter().map(|r| &r.classes[*k]).collect();
        let (tp, fp, fn_) = cs
            .iter()
            .fold((0, 0, 0), |(a, b, c), s| (a + s.tp, b + s.fp, c + s.fn_));
        classes.insert(
            k.to_string(),
            ClassAggregate {
                f1: mean(cs.iter().map(|c| c.f1)),
                p: mean(cs.iter().map(|c| c.p)),
                r: mean(cs.iter().map(|c| c.r)),
                micro_f1: 2.0 * tp as f64 / (2 * tp + fp + fn_).max(1) as f64,
            },
        );
    }
    let mean_agg = MeanAggregate {
        f1: mean(MAIN.iter().map(|k| classes[*k].f1)),
        micro_f1: mean(MAIN.iter().map(|k| classes[*k].micro_f1)),
    };
    let unscored_events_per_clip = EXTRA
        .iter()
        .filter(|k| rows.iter().all(|r| r.unscored_events.contains_key(**k)))
        .map(|k| {
            (
                k.to_string(),
                mean(rows.iter().map(|r| r.unscored_events[*k] as f64)),
            )
        })
        .collect();
    Some(Aggregate {
        classes,
        mean: mean_agg,
        n_clips: rows.len(),
        unscored_events_per_clip,
    })
}

fn base_name(p: &Path) -> String {
    p.components()
        .rfind(|c| !matches!(c, std::path::Component::CurDir))
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Scores every clip of `gt_dir` with predictions from `predict` (None = missing).
pub fn score_with(
    gt_dir: &Path,
    pred_name: &str,
    mut predict: impl FnMut(&ClipSpec) -> Result<Option<Onsets>>,
) -> Result<EvalResult> {
    let clips = load_clips(gt_dir)?;
    let mut rows = Vec::with_capacity(clips.len());
    let mut missing = Vec::new();
    let mut confusion = Confusion::default();
    for c in &clips {
        let reference = read_onsets(&c.ann, None)?;
        let estimate = match predict(c)? {
            Some(e) => e,
            None => {
                missing.push(c.id.clone());
                Onsets::new()
            }
        };
        rows.push(score_clip(c, &reference, &estimate));
        confusion.add_clip(&scored_classes(c), &reference, &estimate);
    }
    let mut subsets = BTreeMap::new();
    for s in SUBSETS {
        let sel: Vec<&ClipResult> = rows
            .iter()
            .filter(|r| s == "all" || r.subset == s)
            .collect();
        if let Some(a) = aggregate(&sel) {
            subsets.insert(s.to_string(), a);
        }
    }
    Ok(EvalResult {
        pred_dir: pred_name.to_string(),
        gt_dir: base_name(gt_dir),
        window_s: WINDOW,
        missing,
        subsets,
        clips: rows,
        confusion,
    })
}

/// Scores a folder of predictions `<id>.txt` (preferred) or `<id>.mid`; `channel` (1-based)
/// restricts MIDI notes to one channel.
pub fn score_dir(pred_dir: &Path, gt_dir: &Path, channel: Option<u8>) -> Result<EvalResult> {
    if !pred_dir.is_dir() {
        return Err(Error::io(
            pred_dir,
            std::io::Error::other("not a folder of predictions"),
        ));
    }
    score_with(gt_dir, &base_name(pred_dir), |c| {
        let txt = pred_dir.join(format!("{}.txt", c.id));
        let mid = pred_dir.join(format!("{}.mid", c.id));
        if txt.exists() {
            read_onset_text(&txt).map(Some)
        } else if mid.exists() {
            read_onset_midi(&mid, channel).map(Some)
        } else {
            Ok(None)
        }
    })
}
