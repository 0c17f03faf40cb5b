//! `drummernet curves`: learning curves of training sessions as an SVG (the loss, and
//! validation F1 of their checkpoints, against items trained on), with the scored points in a
//! CSV beside it.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};

use drummernet::atomic_file::{check_writable, write_bytes_atomic, Overwrite};
use drummernet::config::Config;
use drummernet::eval::onsets::onsets_from_events;
use drummernet::eval::score::score_with;
use drummernet::model::drummernet::DrummerNet;
use drummernet::plot::line_chart::{Chart, Panel, Series};
use drummernet::train::learning_curve::{
    fingerprint, loss_curve, read_validation_csv, spaced_checkpoints, thinned, validation_csv,
    ValidationPoint, CLASSES,
};
use drummernet::train::session::{read_loss_csv, Session, CONFIG_FILE, LOSS_CSV};
use drummernet::Error;

use super::eval::find_audio;
use super::transcribe::transcribe_with_progress;

#[derive(Args)]
pub struct CurvesArgs {
    /// Training session folders (e.g. sessions/NAME), one colour each.
    #[arg(long = "session", required = true, value_name = "DIR")]
    pub sessions: Vec<PathBuf>,
    /// A validation set, NAME=DIR (annotations and audio in one folder) or
    /// NAME=GT_DIR:AUDIO_DIR; repeatable. Without one only the loss is drawn.
    #[arg(long = "validation", value_name = "NAME=DIR")]
    pub validation: Vec<String>,
    /// Score checkpoints at least this many items apart (0 = every one); a session's first and
    /// last checkpoints are always scored.
    #[arg(long, default_value_t = 0)]
    pub every_items: u64,
    /// How validation events are read: "model" (every class from the model's curves: the
    /// hi-hat onsets and the cymbal gate, which read those classes from the audio, off, and
    /// cymbals verified by re-synthesis like toms; the other passes as configured) or
    /// "pipeline" (the configuration as given).
    #[arg(long, value_enum, default_value_t = Reading::Model)]
    pub reading: Reading,
    /// Steps in the loss curve's moving mean.
    #[arg(long, default_value_t = 100)]
    pub loss_window: usize,
    /// The SVG to write. Its validation points go to the same path with `.csv`; a checkpoint
    /// already there, scored the same way, is not scored again.
    #[arg(long, short)]
    pub out: PathBuf,
    /// Replace existing outputs.
    #[arg(long)]
    pub force: bool,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Reading {
    Model,
    Pipeline,
}

/// A validation set: its name, annotations and audio folders.
struct ValidationSet {
    name: String,
    gt: PathBuf,
    audio: PathBuf,
}

fn parse_validation(text: &str) -> Result<ValidationSet> {
    let (name, dirs) = text
        .split_once('=')
        .filter(|(n, d)| !n.is_empty() && !d.is_empty() && !n.contains(','))
        .with_context(|| {
            format!("--validation `{text}`: give NAME=DIR or NAME=GT_DIR:AUDIO_DIR")
        })?;
    let (gt, audio) = dirs.split_once(':').unwrap_or((dirs, dirs));
    for dir in [gt, audio] {
        if !Path::new(dir).is_dir() {
            anyhow::bail!("{dir}: not a folder (validation set `{name}`)");
        }
    }
    Ok(ValidationSet {
        name: name.to_string(),
        gt: gt.into(),
        audio: audio.into(),
    })
}

/// A session folder's name, checkpoints, batch size, item length and loss rows.
struct SessionRun {
    name: String,
    session: Session,
    batch_size: usize,
    segment_seconds: f64,
}

fn open_session(dir: &Path) -> Result<SessionRun> {
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .filter(|n| !n.is_empty() && !n.contains(','))
        .with_context(|| format!("{}: not a session folder name", dir.display()))?;
    let config_path = dir.join(CONFIG_FILE);
    if !config_path.is_file() {
        anyhow::bail!(
            "{}: not a training session (no {CONFIG_FILE})",
            dir.display()
        );
    }
    let cfg = Config::load(Some(&config_path), &[])?;
    Ok(SessionRun {
        name: name.clone(),
        session: Session {
            name,
            dir: dir.to_path_buf(),
        },
        batch_size: cfg.train.batch_size,
        segment_seconds: cfg.audio.segment_seconds,
    })
}

pub fn curves_cmd(mut cfg: Config, a: CurvesArgs) -> Result<()> {
    let csv_path = a.out.with_extension("csv");
    let overwrite = Overwrite::from_force(a.force);
    check_writable(&a.out, overwrite)?;
    check_writable(&csv_path, overwrite)?;
    let sets = a
        .validation
        .iter()
        .map(|v| parse_validation(v))
        .collect::<Result<Vec<_>>>()?;
    let runs = a
        .sessions
        .iter()
        .map(|d| open_session(d))
        .collect::<Result<Vec<_>>>()?;
    if a.reading == Reading::Model {
        model_reading(&mut cfg);
    }
    let reading = fingerprint(
        &serde_json::to_string(&cfg.inference).map_err(|e| Error::Invalid(e.to_string()))?,
    );
    let mut points = if csv_path.is_file() {
        read_validation_csv(&csv_path)?
    } else {
        Vec::new()
    };
    for run in &runs {
        let checkpoints = spaced_checkpoints(
            &run.session.numbered_checkpoints()?,
            run.batch_size,
            a.every_items,
        );
        for (step, path) in checkpoints {
            for set in &sets {
                let known = points.iter().any(|p| {
                    p.session == run.name
                        && p.step == step
                        && p.set == set.name
                        && p.reading == reading
                });
                if !known {
                    points.push(score_checkpoint(&cfg, run, step, &path, set, &reading)?);
                }
            }
        }
    }
    points.sort_by(|x, y| (&x.session, &x.set, x.step).cmp(&(&y.session, &y.set, y.step)));
    let chart = chart(&runs, &sets, &points, &reading, a.loss_window)?;
    write_bytes_atomic(
        &csv_path,
        validation_csv(&points).as_bytes(),
        Overwrite::Allow,
    )?;
    write_bytes_atomic(&a.out, chart.to_svg().as_bytes(), Overwrite::Allow)?;
    let mut text = String::new();
    for p in points.iter().filter(|p| p.reading == reading) {
        text.push_str(&format!(
            "{:<24} {:<10} step {:>7}  items {:>8}  mean {:.3}  KD {:.3} SD {:.3} HH {:.3} TT {:.3} CY {:.3}\n",
            p.session, p.set, p.step, p.items, p.mean, p.f1["KD"], p.f1["SD"], p.f1["HH"], p.f1["TT"], p.f1["CY"]
        ));
    }
    text.push_str(&format!(
        "wrote {} and {}\n",
        a.out.display(),
        csv_path.display()
    ));
    super::print_out(&text)
}

/// The settings of the "model" reading. Every ablation and the long run's curves were scored
/// this way before the cymbal gate existed; the gate off and cymbals verified again, a
/// checkpoint reads exactly as it did then (checked on v2-long's step 3 000), so the points
/// already in a chart's CSV stay comparable.
fn model_reading(cfg: &mut Config) {
    let passes = &mut cfg.inference.passes;
    passes.hihat_onsets.enabled = false;
    passes.cymbal_gate.enabled = false;
    if !passes.verification.classes.iter().any(|c| c == "CY") {
        passes.verification.classes.push("CY".to_string());
    }
}

/// F1 of one checkpoint on one validation set.
fn score_checkpoint(
    cfg: &Config,
    run: &SessionRun,
    step: u64,
    path: &Path,
    set: &ValidationSet,
    reading: &str,
) -> Result<ValidationPoint> {
    eprintln!("scoring {} step {step} on {}", run.name, set.name);
    let device = cfg.device.candle_device()?;
    let model = DrummerNet::load(path, &device)?;
    let res = score_with(&set.gt, &run.name, |clip| {
        let Some(audio) =
            find_audio(&set.audio, &clip.id).map_err(|e| Error::Invalid(e.to_string()))?
        else {
            return Ok(None);
        };
        let t = transcribe_with_progress(cfg, &model, &device, &audio)
            .map_err(|e| Error::Invalid(format!("{e:#}")))?;
        Ok(Some(onsets_from_events(&t.events)))
    })?;
    if !res.missing.is_empty() {
        anyhow::bail!(
            "{}: no audio for clip {} (validation set `{}`)",
            set.audio.display(),
            res.missing[0],
            set.name
        );
    }
    let all = res
        .subsets
        .get("all")
        .with_context(|| format!("{}: no clips to score", set.gt.display()))?;
    // A class scored on only some clips (TT, CY on dtp clips) is read from those clips.
    let class_f1 = |class: &str| {
        res.subsets
            .values()
            .filter_map(|s| s.classes.get(class))
            .map(|c| c.f1)
            .next()
            .unwrap_or(f64::NAN)
    };
    Ok(ValidationPoint {
        session: run.name.clone(),
        step,
        items: step * run.batch_size as u64,
        set: set.name.clone(),
        reading: reading.to_string(),
        f1: CLASSES
            .iter()
            .map(|c| {
                (
                    c.to_string(),
                    all.classes.get(*c).map_or_else(|| class_f1(c), |s| s.f1),
                )
            })
            .collect(),
        mean: all.mean.f1,
    })
}

/// Three panels: the loss, mean F1 (KD, SD, HH) and hi-hat F1, a colour per session and a
/// dash per validation set.
fn chart(
    runs: &[SessionRun],
    sets: &[ValidationSet],
    points: &[ValidationPoint],
    reading: &str,
    loss_window: usize,
) -> Result<Chart> {
    let mut loss = Panel {
        title: format!("Training loss (moving mean over {loss_window} steps; faint: every step)"),
        y_label: "loss".into(),
        ..Panel::default()
    };
    let mut mean = Panel {
        title: "Validation: mean onset F1 of KD, SD, HH".into(),
        y_label: "F1".into(),
        y_range: Some((0.0, 1.0)),
        ..Panel::default()
    };
    let mut hihat = Panel {
        title: "Validation: hi-hat onset F1".into(),
        y_label: "F1".into(),
        y_range: Some((0.0, 1.0)),
        ..Panel::default()
    };
    for (colour, run) in runs.iter().enumerate() {
        let rows = read_loss_csv(&run.session.dir.join(LOSS_CSV))?;
        let curve = loss_curve(&rows, run.batch_size, loss_window);
        let line = |name: String, points: Vec<(f64, f64)>, faint: bool| Series {
            name,
            points,
            colour,
            dashed: false,
            faint,
            markers: false,
        };
        loss.series
            .push(line(run.name.clone(), thinned(&curve.raw, 1500), true));
        loss.series
            .push(line(run.name.clone(), thinned(&curve.mean, 600), false));
        for (i, set) in sets.iter().enumerate() {
            let mine: Vec<&ValidationPoint> = points
                .iter()
                .filter(|p| p.session == run.name && p.set == set.name && p.reading == reading)
                .collect();
            let series = |points: Vec<(f64, f64)>| Series {
                name: format!("{} / {}", run.name, set.name),
                points,
                colour,
                dashed: i % 2 == 1,
                faint: false,
                markers: true,
            };
            mean.series.push(series(
                mine.iter().map(|p| (p.items as f64, p.mean)).collect(),
            ));
            hihat.series.push(series(
                mine.iter().map(|p| (p.items as f64, p.f1["HH"])).collect(),
            ));
        }
    }
    // The first steps' loss is several times the rest: the range follows the moving means
    // after their first twentieth, so that the part worth reading fills the panel.
    let tails = loss
        .series
        .iter()
        .filter(|s| !s.faint)
        .flat_map(|s| s.points[s.points.len() / 20..].iter().map(|p| p.1));
    let (lo, hi) = tails.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    if lo < hi {
        let pad = 0.05 * (hi - lo);
        loss.y_range = Some((lo - pad, hi + pad));
    }
    let seconds = runs.first().map_or(2.0, |r| r.segment_seconds);
    let mut panels = vec![loss];
    if !sets.is_empty() {
        panels.extend([mean, hihat]);
    }
    Ok(Chart {
        title: "DrummerNet learning curves".into(),
        x_label: format!("items trained on ({seconds}-s segments)"),
        panels,
    })
}
