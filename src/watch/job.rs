//! One job: look at an input, decide from the journal whether it needs work, transcribe it with
//! the loaded model, and write its outputs and journal entry, in the order that keeps the
//! journal truthful if the process dies at any point.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use candle_core::Device;

use crate::atomic_file::Overwrite;
use crate::error::{Error, Result};
use crate::midi::MidiSettings;
use crate::model::drummernet::LoadedModel;
use crate::transcribe::export::{output_paths, write_outputs, ModelInfo, OutputFormat};
use crate::transcribe::{transcribe_file, InferenceSettings};

use super::fingerprint::{hash_bytes, hash_file, stamp_of, Stamp};
use super::journal::{judge, relative_key, Entry, Identity, Journal, State, Verdict, WorkReason};

/// The loaded model and everything that shapes its outputs, shared by every job.
pub struct Engine {
    pub model: LoadedModel,
    pub device: Device,
    pub inference: InferenceSettings,
    pub midi: MidiSettings,
    pub info: ModelInfo,
    pub identity: Identity,
    /// Adapt a copy of the model to each file before transcribing it (`watch --adapt`): the
    /// whole configuration, which adaptation reads beyond `[adapt]` (loss, synthesizer, crops).
    pub adapt: Option<Box<crate::config::Config>>,
}

impl Engine {
    /// `model_hash` identifies the model file's bytes (see [`hash_file`]); the settings that
    /// change outputs (inference and MIDI) are hashed here.
    pub fn new(
        model: LoadedModel,
        device: Device,
        inference: InferenceSettings,
        midi: MidiSettings,
        info: ModelInfo,
        model_hash: String,
    ) -> Result<Engine> {
        let settings = serde_json::to_vec(&(&inference, &midi))
            .map_err(|e| Error::Invalid(format!("settings: {e}")))?;
        Ok(Engine {
            adapt: None,
            model,
            device,
            identity: Identity {
                model: model_hash,
                settings: hash_bytes(&settings),
            },
            inference,
            midi,
            info,
        })
    }
}

/// With `watch --adapt`, a copy of the engine's model adapted to `path`.
fn adapted(engine: &Engine, path: &Path) -> Result<Option<LoadedModel>> {
    let Some(cfg) = &engine.adapt else {
        return Ok(None);
    };
    let stem = crate::audio::load_mono(path, crate::audio::SAMPLE_RATE)?;
    let mut adaptation = crate::adapt::Adaptation::new(&engine.model, &stem, cfg, &engine.device)
        .map_err(|e| Error::Invalid(format!("{}: {e}", path.display())))?;
    adaptation
        .run(&mut |_, _| {})
        .map_err(|e| Error::Invalid(format!("{}: {e}", path.display())))?;
    Ok(Some(adaptation.adapted_model()?))
}

/// Where inputs come from and outputs go.
#[derive(Debug, Clone)]
pub struct Workspace {
    /// The watched folder (canonical).
    pub root: PathBuf,
    /// The output folder (canonical); outputs mirror the inputs' sub-folders in it.
    pub out_dir: PathBuf,
    pub formats: Vec<OutputFormat>,
    /// Replace existing files that the journal does not know as this watcher's outputs.
    pub force: bool,
}

impl Workspace {
    /// The outputs of input `key` (with the extra files `midi` asks for: a quantised MIDI,
    /// the beat grid beside a CSV), relative to the output folder.
    pub fn planned_outputs(&self, key: &str, midi: &MidiSettings) -> Vec<String> {
        let input = Path::new(key);
        let dir = input.parent().unwrap_or(Path::new(""));
        output_paths(input, dir, &self.formats, midi)
            .iter()
            .filter_map(|p| relative_key(Path::new(""), p))
            .collect()
    }

    fn present(&self, outputs: &[String]) -> bool {
        outputs.iter().all(|o| self.out_dir.join(o).is_file())
    }
}

/// How a job ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Transcribed {
        reason: WorkReason,
        /// Wall time of the job, and the input's length.
        seconds: f64,
        audio_seconds: f64,
        events: usize,
        outputs: Vec<PathBuf>,
    },
    /// Nothing to do; `touched` when only the modification time changed (journal refreshed).
    UpToDate { touched: bool },
    /// Failed before with this very content and model; not retried.
    FailedEarlier { error: String },
    /// Failed now; `recorded` when the journal keeps the failure (a fault of the input),
    /// otherwise (outputs cannot be written) the input is tried again at the next start.
    Failed { error: String, recorded: bool },
    /// Deleted (or no longer a file) before it could be processed.
    Gone,
    /// Changed while it was being read: wait for it to settle again.
    ChangedMeanwhile,
}

fn lock(journal: &Mutex<Journal>) -> std::sync::MutexGuard<'_, Journal> {
    // A job that panicked left the journal as consistent as its last save; keep using it.
    journal.lock().unwrap_or_else(|e| e.into_inner())
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Checks that writing `planned` would replace no file but this input's own earlier outputs.
/// `Err((message, recorded))`: a clash with another input's outputs is a property of the
/// input's name (recorded); a user's file in the way is reported at every start until moved.
fn check_outputs(
    journal: &Journal,
    ws: &Workspace,
    key: &str,
    planned: &[String],
) -> std::result::Result<(), (String, bool)> {
    for rel in planned {
        match journal.owner_of(rel) {
            Some(owner) if owner != key => {
                return Err((
                    format!(
                        "{}: its output {rel} is already the transcription of {owner} \
                         (same name, other extension); rename one of them",
                        ws.root.join(key).display()
                    ),
                    true,
                ))
            }
            Some(_) => {}
            None => {
                let path = ws.out_dir.join(rel);
                if !ws.force && path.exists() {
                    return Err((Error::OutputExists { path }.to_string(), false));
                }
            }
        }
    }
    Ok(())
}

/// Runs the job for `path` (a file inside `ws.root`).
pub fn process(engine: &Engine, ws: &Workspace, journal: &Mutex<Journal>, path: &Path) -> Outcome {
    let Some(key) = relative_key(&ws.root, path) else {
        return Outcome::Gone;
    };
    let Some(stamp) = stamp_of(path) else {
        return Outcome::Gone;
    };
    let planned = ws.planned_outputs(&key, &engine.midi);
    let present = |o: &[String]| ws.present(o);
    let quick = judge(
        lock(journal).get(&key),
        stamp,
        None,
        &engine.identity,
        &planned,
        present,
    );
    match quick {
        Verdict::UpToDate => return Outcome::UpToDate { touched: false },
        Verdict::FailedEarlier(error) => return Outcome::FailedEarlier { error },
        Verdict::Transcribe(_) | Verdict::NeedsHash => {}
    }
    let hash = match hash_file(path) {
        Ok(h) => h,
        Err(_) if stamp_of(path).is_none() => return Outcome::Gone,
        Err(e) => {
            return record_failure(engine, journal, &key, stamp, String::new(), e.to_string())
        }
    };
    let reason = {
        let mut j = lock(journal);
        match judge(
            j.get(&key),
            stamp,
            Some(&hash),
            &engine.identity,
            &planned,
            present,
        ) {
            Verdict::Transcribe(reason) => reason,
            // Same content under a new modification time: remember the new one.
            verdict => {
                let mut entry = j.get(&key).cloned().expect("judged against an entry");
                entry.size = stamp.size;
                entry.mtime_ns = stamp.mtime_ns;
                j.set(&key, entry);
                let _ = j.save();
                return match verdict {
                    Verdict::FailedEarlier(error) => Outcome::FailedEarlier { error },
                    _ => Outcome::UpToDate { touched: true },
                };
            }
        }
    };
    if let Err((error, recorded)) = check_outputs(&lock(journal), ws, &key, &planned) {
        return if recorded {
            record_failure(engine, journal, &key, stamp, hash, error)
        } else {
            Outcome::Failed { error, recorded }
        };
    }

    let start = Instant::now();
    let result = adapted(engine, path).and_then(|adapted| {
        transcribe_file(
            adapted.as_ref().unwrap_or(&engine.model),
            &engine.device,
            path,
            &engine.inference,
            &engine.midi,
            &|_| {},
        )
    });
    match stamp_of(path) {
        None => return Outcome::Gone,
        Some(now) if now != stamp => return Outcome::ChangedMeanwhile,
        Some(_) => {}
    }
    let t = match result {
        Ok(t) => t,
        Err(e) => return record_failure(engine, journal, &key, stamp, hash, e.to_string()),
    };

    // Pending first: if the process dies while the outputs are written, the next start redoes
    // the job and knows the files it finds are its own.
    let mut entry = {
        let mut j = lock(journal);
        if let Err((error, recorded)) = check_outputs(&j, ws, &key, &planned) {
            drop(j);
            return if recorded {
                record_failure(engine, journal, &key, stamp, hash, error)
            } else {
                Outcome::Failed { error, recorded }
            };
        }
        let old = j.get(&key).cloned();
        let mut outputs = old.as_ref().map(|e| e.outputs.clone()).unwrap_or_default();
        for p in &planned {
            if !outputs.contains(p) {
                outputs.push(p.clone());
            }
        }
        let entry = Entry {
            state: State::Pending,
            size: stamp.size,
            mtime_ns: stamp.mtime_ns,
            hash,
            model: engine.identity.model.clone(),
            settings: engine.identity.settings.clone(),
            outputs,
            error: None,
            transcriptions: old.as_ref().map_or(0, |e| e.transcriptions),
            seconds: 0.0,
            finished_unix: old.as_ref().map_or(0, |e| e.finished_unix),
        };
        j.set(&key, entry.clone());
        if let Err(e) = j.save() {
            return Outcome::Failed {
                error: e.to_string(),
                recorded: false,
            };
        }
        entry
    };
    let out_parent = ws
        .out_dir
        .join(Path::new(&key).parent().unwrap_or(Path::new("")));
    let written = std::fs::create_dir_all(&out_parent)
        .map_err(|e| Error::io(&out_parent, e))
        .and_then(|()| {
            write_outputs(
                &t,
                &out_parent,
                &ws.formats,
                &engine.info,
                &engine.inference,
                &engine.midi,
                Overwrite::Allow,
            )
        });
    let outputs = match written {
        Ok(o) => o,
        Err(e) => {
            return Outcome::Failed {
                error: e.to_string(),
                recorded: false,
            }
        }
    };
    let seconds = start.elapsed().as_secs_f64();
    entry.state = State::Done;
    entry.transcriptions += 1;
    entry.seconds = seconds;
    entry.finished_unix = unix_now();
    let mut j = lock(journal);
    j.set(&key, entry);
    if let Err(e) = j.save() {
        return Outcome::Failed {
            error: e.to_string(),
            recorded: false,
        };
    }
    Outcome::Transcribed {
        reason,
        seconds,
        audio_seconds: t.duration,
        events: t.events.len(),
        outputs,
    }
}

fn record_failure(
    engine: &Engine,
    journal: &Mutex<Journal>,
    key: &str,
    stamp: Stamp,
    hash: String,
    error: String,
) -> Outcome {
    let mut j = lock(journal);
    let old = j.get(key).cloned();
    j.set(
        key,
        Entry {
            state: State::Failed,
            size: stamp.size,
            mtime_ns: stamp.mtime_ns,
            hash,
            model: engine.identity.model.clone(),
            settings: engine.identity.settings.clone(),
            // Earlier outputs stay on disk and stay this input's own.
            outputs: old.as_ref().map(|e| e.outputs.clone()).unwrap_or_default(),
            error: Some(error.clone()),
            transcriptions: old.as_ref().map_or(0, |e| e.transcriptions),
            seconds: 0.0,
            finished_unix: unix_now(),
        },
    );
    let recorded = j.save().is_ok();
    Outcome::Failed { error, recorded }
}
