//! Background work for the workbench: decoding a file, transcribing it, picking its events.
//! Each job runs on its own thread and reports typed [`JobEvent`]s into the workbench's event
//! channel; the UI thread never waits for one.

use std::path::{Path, PathBuf};
use std::sync::mpsc::Sender;
use std::sync::Arc;

use candle_core::{Device, Tensor};

use crate::audio::{MonoReader, SAMPLE_RATE};
use crate::error::{Error, Result};
use crate::midi::MidiSettings;
use crate::model::drummernet::DrummerNet;
use crate::model::ops::synth_fft::synth_conv;
use crate::model::ModelConfig;
use crate::transcribe::{
    InferenceSettings, ModelInfo, NetRunner, Picked, SliceSource, StemAnalysis,
};

use super::event::AppEvent;

/// Activation frames per second (hop 16 at 16 kHz).
pub const FRAME_HOP: usize = 16;

/// What a finished transcription hands to the UI: the library's analysis of the stem (the
/// activations and audio features events are picked from, computed once here so that moving
/// the threshold redoes only the pick) and the re-synthesis.
#[derive(Debug, Clone, Default)]
pub struct TranscribedStem {
    /// Shared with the re-pick jobs, which read it on their own thread.
    pub analysis: Arc<StemAnalysis>,
    /// The model it came from, for the exported JSON.
    pub model: ModelInfo,
    /// The stem re-synthesised through the component waveforms, as long as the stem.
    pub resynthesis: Vec<f32>,
}

#[derive(Debug)]
pub enum JobEvent {
    Loaded {
        path: PathBuf,
        samples: Arc<Vec<f32>>,
    },
    Progress {
        label: String,
        fraction: f32,
    },
    Transcribed(TranscribedStem),
    /// The waveforms an adaptation learned so far (step `step`), in component order.
    AdaptedKit {
        step: u64,
        names: Vec<String>,
        waveforms: Vec<Vec<f32>>,
    },
    /// The events of re-pick number `generation`.
    Picked {
        generation: u64,
        picked: Picked,
    },
    Failed(String),
}

/// The longest stem the workbench holds: it keeps the stem, its re-synthesis and the
/// activations in memory (about 1 GB per hour), where `drummernet transcribe` streams any length.
pub const MAX_STEM_SECONDS: f64 = 30.0 * 60.0;

/// Decodes `path` to mono 16 kHz, refusing more than `max_seconds` as soon as the decoder gets
/// there (headers may not say, or lie).
pub fn load_stem(path: &Path, max_seconds: f64) -> Result<Vec<f32>> {
    let limit = (max_seconds * f64::from(SAMPLE_RATE)) as usize;
    let mut reader = MonoReader::open(path, SAMPLE_RATE)?;
    let mut samples = Vec::new();
    while let Some(chunk) = reader.next_chunk()? {
        samples.extend_from_slice(&chunk);
        if samples.len() > limit {
            return Err(Error::audio(
                path,
                format!(
                    "longer than the {:.0} minutes the workbench holds in memory; \
                     use `drummernet transcribe`, which takes any length",
                    max_seconds / 60.0
                ),
            ));
        }
    }
    Ok(samples)
}

/// Decodes `path` to mono 16 kHz.
pub fn spawn_open(path: PathBuf, tx: Sender<AppEvent>) {
    spawn("open", tx.clone(), move || {
        let samples = load_stem(&path, MAX_STEM_SECONDS)?;
        report(
            &tx,
            JobEvent::Loaded {
                path,
                samples: Arc::new(samples),
            },
        );
        Ok(())
    });
}

/// Everything a transcription needs, owned so it can move to the job's thread.
pub struct TranscribeRequest {
    pub samples: Arc<Vec<f32>>,
    /// A model or checkpoint file; `None` = a freshly initialised model (seed 0).
    pub model: Option<PathBuf>,
    pub config: ModelConfig,
    /// (K, L) waveforms for the re-synthesis, in model component order.
    pub waveforms: Vec<Vec<f32>>,
    pub inference: InferenceSettings,
}

pub fn spawn_transcribe(req: TranscribeRequest, tx: Sender<AppEvent>) {
    spawn("transcribe", tx.clone(), move || {
        let (net, model) = build_model(req.model.as_deref(), &req.config)?;
        let progress = |fraction: f64| {
            report(
                &tx,
                JobEvent::Progress {
                    label: "transcribing".into(),
                    fraction: fraction as f32,
                },
            );
        };
        let analysis = StemAnalysis::of_samples(
            &NetRunner::new(&net, Device::Cpu),
            &net.config().components,
            &req.samples,
            &req.inference,
            &progress,
        )?;
        let resynthesis = resynthesise(&analysis.activations, &req.waveforms, &req.samples)?;
        report(
            &tx,
            JobEvent::Transcribed(TranscribedStem {
                analysis: Arc::new(analysis),
                model,
                resynthesis,
            }),
        );
        Ok(())
    });
}

/// Everything an adaptation of the open stem needs, owned for the job's thread.
pub struct AdaptRequest {
    pub samples: Arc<Vec<f32>>,
    /// The model file adapted (a copy; the file is never written).
    pub model: PathBuf,
    /// The whole configuration: `[adapt]`, the loss, the synthesizer, the inference settings.
    pub config: crate::config::Config,
}

/// How often (steps) an adaptation sends its learned waveforms to the components pane.
const ADAPT_WAVEFORMS_EVERY: usize = 5;

/// Adapts a copy of the model to the stem (live: step, loss and how far the kit has moved in
/// the busy line; the learned waveforms every few steps), then transcribes the stem with the
/// adapted copy and re-synthesises it through the learned kit.
pub fn spawn_adapt(req: AdaptRequest, tx: Sender<AppEvent>) {
    spawn("adapt", tx.clone(), move || {
        let device = Device::Cpu;
        let loaded = DrummerNet::load(&req.model, &device)?;
        let names = loaded.config.components.clone();
        let mut adaptation =
            crate::adapt::Adaptation::new(&loaded, &req.samples, &req.config, &device)?;
        let initial = adaptation.waveforms()?;
        let steps = req.config.adapt.steps.max(1);
        adaptation.run(&mut |s, a| {
            report(
                &tx,
                JobEvent::Progress {
                    label: format!("adapting: step {} loss {:.4}", s.step, s.loss),
                    fraction: (s.step as f32 / steps as f32).min(1.0),
                },
            );
            if s.step % ADAPT_WAVEFORMS_EVERY == 0 {
                if let Ok(waveforms) = a.waveforms() {
                    report(
                        &tx,
                        JobEvent::AdaptedKit {
                            step: s.step as u64,
                            names: names.clone(),
                            waveforms,
                        },
                    );
                }
            }
        })?;
        let learned = adaptation.waveforms()?;
        report(
            &tx,
            JobEvent::Progress {
                label: format!(
                    "adapted: kit moved {:.1} % from where it started; transcribing",
                    100.0 * relative_change(&initial, &learned)
                ),
                fraction: 1.0,
            },
        );
        report(
            &tx,
            JobEvent::AdaptedKit {
                step: adaptation.steps().len() as u64,
                names: names.clone(),
                waveforms: learned.clone(),
            },
        );
        let adapted = adaptation.adapted_model()?;
        let mut info = ModelInfo::of(&adapted);
        info.path = format!("{} (adapted to the stem)", info.path);
        let analysis = StemAnalysis::of_samples(
            &NetRunner::new(&adapted.net, device),
            &names,
            &req.samples,
            &req.config.inference,
            &|_| {},
        )?;
        let resynthesis = resynthesise(&analysis.activations, &learned, &req.samples)?;
        report(
            &tx,
            JobEvent::Transcribed(TranscribedStem {
                analysis: Arc::new(analysis),
                model: info,
                resynthesis,
            }),
        );
        Ok(())
    });
}

/// `||b - a|| / ||a||` over all the waveforms: how far a kit has moved.
pub fn relative_change(a: &[Vec<f32>], b: &[Vec<f32>]) -> f64 {
    let (mut diff, mut norm) = (0.0f64, 0.0f64);
    for (x, y) in a.iter().zip(b) {
        for (p, q) in x.iter().zip(y) {
            diff += f64::from(q - p).powi(2);
            norm += f64::from(*p).powi(2);
        }
    }
    (diff / norm.max(1e-30)).sqrt()
}

/// A new pick of events from a stem's analysis (other settings, e.g. the threshold).
pub struct PickRequest {
    pub analysis: Arc<StemAnalysis>,
    pub stem: Arc<Vec<f32>>,
    pub inference: InferenceSettings,
    pub midi: MidiSettings,
    /// Numbers the requests, so that only the latest one's answer is shown.
    pub generation: u64,
}

/// Runs the library's pick off the UI thread: it reads the stem at every candidate's onset.
pub fn spawn_pick(req: PickRequest, tx: Sender<AppEvent>) {
    spawn("pick", tx.clone(), move || {
        let picked = req.analysis.pick(&req.inference, &req.midi, || {
            Ok(SliceSource::whole(&req.stem))
        })?;
        report(
            &tx,
            JobEvent::Picked {
                generation: req.generation,
                picked,
            },
        );
        Ok(())
    });
}

fn report(tx: &Sender<AppEvent>, ev: JobEvent) {
    // Nobody listens once the workbench has closed: the result is of no use then.
    let _ = tx.send(AppEvent::Job(ev));
}

fn spawn(name: &str, tx: Sender<AppEvent>, f: impl FnOnce() -> Result<()> + Send + 'static) {
    let fail = tx.clone();
    let started = std::thread::Builder::new()
        .name(name.into())
        .spawn(move || {
            // A panic must not leave the workbench waiting for a job that will never report:
            // it becomes a failure like any other (the panic hook logs the details).
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
            let failure = match outcome {
                Ok(Ok(())) => None,
                Ok(Err(e)) => Some(e.to_string()),
                Err(panic) => Some(format!(
                    "{}: internal error: {} (details in the log)",
                    std::thread::current().name().unwrap_or("job"),
                    crate::error::panic_message(panic.as_ref())
                )),
            };
            if let Some(message) = failure {
                report(&tx, JobEvent::Failed(message));
            }
        });
    if let Err(e) = started {
        report(
            &fail,
            JobEvent::Failed(format!("{name}: cannot start thread: {e}")),
        );
    }
}

/// The model from a file, or a fresh seeded one (detached from its variables, so inference
/// builds no gradient graph), and where it came from.
pub fn build_model(path: Option<&Path>, cfg: &ModelConfig) -> Result<(DrummerNet, ModelInfo)> {
    let device = Device::Cpu;
    if let Some(p) = path {
        let loaded = DrummerNet::load(p, &device)?;
        let info = ModelInfo::of(&loaded);
        return Ok((loaded.net, info));
    }
    let net = DrummerNet::seeded(cfg, 0, &device)?;
    let info = ModelInfo {
        path: "untrained (seed 0)".into(),
        metadata: Default::default(),
    };
    Ok((net, info))
}

/// A test stem length spanning several transcription windows.
#[cfg(test)]
const CHUNK: usize = 160 * 64 * FRAME_HOP;

/// Activations through the waveforms, trimmed to the stem and scaled to its peak level.
pub fn resynthesise(
    activations: &[Vec<f32>],
    waveforms: &[Vec<f32>],
    original: &[f32],
) -> Result<Vec<f32>> {
    let k = activations.len();
    let t = activations.first().map_or(0, Vec::len);
    let l = waveforms.iter().map(Vec::len).max().unwrap_or(0);
    if k == 0 || t == 0 || l == 0 || waveforms.len() != k {
        return Ok(vec![0.0; original.len()]);
    }
    let a: Vec<f32> = activations.iter().flatten().copied().collect();
    let mut h = vec![0.0f32; k * l];
    for (row, w) in h.chunks_mut(l).zip(waveforms) {
        row[..w.len()].copy_from_slice(w);
    }
    let a = Tensor::from_vec(a, (1, k, t), &Device::Cpu)?;
    let h = Tensor::from_vec(h, (k, l), &Device::Cpu)?;
    let mut y = synth_conv(&a, &h, FRAME_HOP)?
        .squeeze(0)?
        .to_vec1::<f32>()?;
    y.resize(original.len(), 0.0);
    let peak = |x: &[f32]| x.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    let (py, px) = (peak(&y), peak(original));
    if py > 0.0 && px > 0.0 {
        let g = px / py;
        y.iter_mut().for_each(|v| *v *= g);
    }
    Ok(y)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stems_longer_than_the_limit_are_refused_naming_the_file() {
        let x = vec![0.25f32; 2 * SAMPLE_RATE as usize];
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("long.wav");
        crate::audio::write_wav(
            &p,
            &x,
            SAMPLE_RATE,
            crate::audio::WavFormat::Float32,
            crate::atomic_file::Overwrite::Refuse,
        )
        .unwrap();
        assert_eq!(load_stem(&p, 2.0).unwrap(), x);
        let err = load_stem(&p, 1.5).unwrap_err().to_string();
        assert!(
            err.contains("long.wav") && err.contains("drummernet transcribe"),
            "{err}"
        );
    }

    #[test]
    fn a_panicking_job_reports_a_failure_instead_of_leaving_the_ui_waiting() {
        let (tx, rx) = std::sync::mpsc::channel();
        spawn("open", tx, || panic!("index 7 out of range"));
        match rx.recv_timeout(std::time::Duration::from_secs(10)) {
            Ok(AppEvent::Job(JobEvent::Failed(m))) => assert!(
                m.starts_with("open: internal error") && m.contains("index 7 out of range"),
                "{m}"
            ),
            other => panic!("expected a failure event, got {other:?}"),
        }
    }

    #[test]
    fn resynthesis_places_each_waveform_at_its_onset_and_matches_the_peak() {
        let mut act = vec![vec![0.0f32; 100]; 2];
        act[0][10] = 1.0;
        act[1][50] = 0.5;
        let wave = vec![vec![1.0, 0.5], vec![-1.0]];
        let original = vec![0.0, 0.8];
        let mut original = original;
        original.resize(1600, 0.0);
        let y = resynthesise(&act, &wave, &original).expect("resynthesis");
        assert_eq!(y.len(), 1600);
        assert!((y[160] - 0.8).abs() < 1e-5, "{}", y[160]);
        assert!((y[161] - 0.4).abs() < 1e-5);
        assert!((y[800] + 0.4).abs() < 1e-5);
        assert!(y[..160].iter().all(|v| v.abs() < 1e-5));
    }

    fn analyse(net: &DrummerNet, x: &[f32], progress: &dyn Fn(f64)) -> Vec<Vec<f32>> {
        let runner = NetRunner::new(net, Device::Cpu);
        let names = &net.config().components;
        StemAnalysis::of_samples(&runner, names, x, &InferenceSettings::default(), progress)
            .expect("analysis")
            .activations
    }

    #[test]
    fn chunked_analysis_covers_the_stem_frame_by_frame() {
        let cfg = ModelConfig::default();
        let (net, _) = build_model(None, &cfg).expect("model");
        let n = 8_000;
        let x: Vec<f32> = (0..n)
            .map(|i| ((i * 7919) % 200) as f32 / 200.0 - 0.5)
            .collect();
        let seen = std::cell::Cell::new(0.0);
        let act = analyse(&net, &x, &|f| seen.set(f));
        assert_eq!(act.len(), 11);
        assert!(act.iter().all(|r| r.len() == n / FRAME_HOP));
        assert!(act.iter().flatten().all(|v| v.is_finite() && *v >= 0.0));
        assert_eq!(seen.get(), 1.0);
    }

    #[test]
    fn chunked_analysis_matches_one_pass_over_the_normalised_stem() {
        // The chunked transcriber gives every window recurrent context on both sides, so the
        // result matches one pass over the whole (peak-normalised) stem.
        let cfg = ModelConfig::default();
        let (net, _) = build_model(None, &cfg).expect("model");
        let n = CHUNK + 4_000;
        let x: Vec<f32> = (0..n)
            .map(|i| ((i * 7919) % 311) as f32 / 311.0 - 0.5)
            .collect();
        let chunked = analyse(&net, &x, &|_| {});
        // One pass over the whole stem with the same context padding.
        let ctx = net.context_samples();
        let peak = x.iter().fold(0.0f32, |m, &v| m.max(v.abs()));
        let mut padded = vec![0.0f32; ctx];
        padded.extend(x.iter().map(|v| v / peak));
        padded.resize(padded.len() + ctx, 0.0);
        let len = padded.len();
        let whole = Tensor::from_vec(padded, (1, len), &Device::Cpu).expect("tensor");
        let whole = net.pad(&whole).expect("pad");
        let one = net.analyse(&whole).expect("analyse").activations;
        let one = one
            .squeeze(0)
            .and_then(|t| t.to_vec2::<f32>())
            .expect("vec");
        let frames = n.div_ceil(FRAME_HOP);
        let peak = one.iter().flatten().fold(0.0f32, |m, &v| m.max(v));
        let mut worst = 0.0f32;
        for (a, b) in chunked.iter().zip(&one) {
            assert_eq!(a.len(), frames);
            for t in 0..frames {
                worst = worst.max((a[t] - b[t]).abs());
            }
        }
        assert!(
            worst < 1e-3 * peak,
            "chunked vs one pass: {worst} (peak {peak})"
        );
    }
}
