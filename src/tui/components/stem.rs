//! The open stem and what is done with it: decoding and transcribing it on job threads, its
//! transcription and re-synthesis, and the A/B transport that plays either.

use std::path::{Path, PathBuf};
use std::sync::mpsc::Sender;
use std::sync::Arc;
use std::time::Instant;

use crate::atomic_file::Overwrite;
use crate::audio::playback::{
    AudioSink, DeviceState, Player, SinkAnswer, Source, Tracks, Transport,
};
use crate::audio::{write_wav, WavFormat, SAMPLE_RATE};
use crate::model::ModelConfig;
use crate::transcribe::InferenceSettings;
use crate::tui::action::Action;
use crate::tui::components::prompt::PromptKind;
use crate::tui::event::{self, AppEvent};
use crate::tui::jobs::{self, JobEvent, TranscribeRequest, TranscribedStem};

/// A job in flight (decoding or transcribing), as the transport pane shows it.
#[derive(Debug, Clone)]
pub struct Busy {
    pub label: String,
    pub fraction: f32,
    pub since: Instant,
}

pub struct StemDeck {
    path: Option<PathBuf>,
    samples: Option<Arc<Vec<f32>>>,
    /// Folder (or file) the trainer learns from.
    data: Option<PathBuf>,
    transcription: Option<TranscribedStem>,
    busy: Option<Busy>,
    player: Player,
    model: ModelConfig,
    /// The config's `[inference]`: the analysis does not depend on the roll's threshold.
    inference: InferenceSettings,
    jobs: Sender<AppEvent>,
}

impl StemDeck {
    /// A deck with nothing open, playing through `sink` (whose answers arrive on `jobs`).
    pub fn new(
        sink: Box<dyn AudioSink>,
        model: ModelConfig,
        inference: InferenceSettings,
        jobs: Sender<AppEvent>,
    ) -> Self {
        let (player, answers) = Player::start(sink);
        event::forward_sink(answers, jobs.clone());
        StemDeck {
            path: None,
            samples: None,
            data: None,
            transcription: None,
            busy: None,
            player,
            model,
            inference,
            jobs,
        }
    }

    pub fn update(&mut self, action: &Action) -> Option<Action> {
        let t = &self.player.transport;
        match action {
            Action::Open => {
                let text = self
                    .path
                    .as_ref()
                    .and_then(|p| p.parent())
                    .map(|d| format!("{}/", d.display()))
                    .filter(|d| d != "/")
                    .unwrap_or_default();
                return Some(Action::Ask(PromptKind::Open, text));
            }
            Action::PlayPause => {
                if self.samples.is_none() {
                    return Some(Action::Error(
                        "nothing to play: open a file first (o)".into(),
                    ));
                }
                t.set_playing(!t.is_playing());
                if !self.player.has_device() {
                    return Some(Action::Say(
                        "no audio device: the playhead does not move".into(),
                    ));
                }
            }
            Action::Stop => t.stop(),
            Action::SeekBack => t.seek_seconds(t.position_seconds() - 1.0),
            Action::SeekForward => t.seek_seconds(t.position_seconds() + 1.0),
            Action::SeekTo(s) => t.seek_seconds(*s),
            Action::ToggleAb => {
                let s = t.toggle_source();
                return Some(Action::Say(
                    if self.transcription.is_none() && s != Source::Original {
                        "B: no re-synthesis yet (transcribe with r); B plays silence".into()
                    } else {
                        format!("playing {}", s.label())
                    },
                ));
            }
            Action::WriteResynthesis => return self.ask_for(PromptKind::WriteWav, "resynth.wav"),
            Action::ExportMidi => return self.ask_for(PromptKind::ExportMidi, "mid"),
            Action::WriteWavTo { path, overwrite } => return self.write_wav(path, *overwrite),
            Action::StemOpened { path, samples } => {
                return Some(Action::Say(format!(
                    "opened {} ({:.1} s): r transcribes",
                    path.display(),
                    *samples as f64 / SAMPLE_RATE as f64
                )))
            }
            Action::Quit => t.set_playing(false),
            _ => {}
        }
        None
    }

    /// Asks for the path of an output named after the stem (`ext` replaces its extension).
    fn ask_for(&self, kind: PromptKind, ext: &str) -> Option<Action> {
        let Some(stem) = &self.path else {
            return Some(Action::Error(
                "open and transcribe a file first (o, r)".into(),
            ));
        };
        if self.transcription.is_none() {
            return Some(Action::Error("transcribe first (r)".into()));
        }
        let text = stem.with_extension(ext).display().to_string();
        Some(Action::Ask(kind, text))
    }

    fn write_wav(&self, path: &Path, overwrite: Overwrite) -> Option<Action> {
        let t = self.transcription.as_ref()?;
        let written = write_wav(
            path,
            &t.resynthesis,
            SAMPLE_RATE,
            WavFormat::Pcm16,
            overwrite,
        );
        Some(match written {
            Ok(()) => Action::Say(format!("re-synthesis written to {}", path.display())),
            // An existing file is replaced only once the user says so.
            Err(crate::Error::OutputExists { .. }) if overwrite == Overwrite::Refuse => {
                Action::Ask(PromptKind::ReplaceWav, path.display().to_string())
            }
            Err(e) => Action::Error(e.to_string()),
        })
    }

    /// Opens `path` on a job thread; a folder becomes the training data and its first audio
    /// file is opened. `picking`: events are being picked from the current stem.
    pub fn open(&mut self, path: &Path, picking: bool) -> Option<Action> {
        if path.is_dir() {
            self.data = Some(path.to_path_buf());
            return match first_audio_file(path) {
                Some(f) => self.open(&f, picking),
                None => Some(Action::Say(format!(
                    "{}: training data folder (no audio file to show)",
                    path.display()
                ))),
            };
        }
        if !path.exists() {
            return Some(Action::Error(format!("{}: no such file", path.display())));
        }
        if self.busy.is_some() || picking {
            // A transcription in flight would otherwise land on the new stem.
            return Some(Action::Error(
                "busy: wait for the current job, then open".into(),
            ));
        }
        if self.data.is_none() {
            self.data = Some(path.to_path_buf());
        }
        self.busy = Some(Busy {
            label: format!("decoding {}", file_name(path)),
            fraction: 0.0,
            since: Instant::now(),
        });
        jobs::spawn_open(path.to_path_buf(), self.jobs.clone());
        None
    }

    /// Transcribes the open stem on a job thread with `model` (`None`: a fresh seeded one),
    /// re-synthesising it through `waveforms`. `picking`: as for [`StemDeck::open`].
    pub fn transcribe(
        &mut self,
        picking: bool,
        model: Option<PathBuf>,
        waveforms: &[Vec<f32>],
    ) -> Option<Action> {
        if self.busy.is_some() || picking {
            return Some(Action::Error("busy: wait for the current job".into()));
        }
        let Some(samples) = self.samples.clone() else {
            return Some(Action::Error("open a file first (o)".into()));
        };
        self.busy = Some(Busy {
            label: "transcribing".into(),
            fraction: 0.0,
            since: Instant::now(),
        });
        jobs::spawn_transcribe(
            TranscribeRequest {
                samples,
                model,
                config: self.model.clone(),
                waveforms: waveforms.to_vec(),
                inference: self.inference.clone(),
            },
            self.jobs.clone(),
        );
        None
    }

    /// Adapts a copy of `model` to the open stem on a job thread (`[adapt]` of `config`), then
    /// transcribes the stem with it; the busy line shows the step, the loss and how far the
    /// kit moved. `picking`: as for [`StemDeck::open`].
    pub fn adapt(
        &mut self,
        picking: bool,
        model: Option<PathBuf>,
        config: &crate::config::Config,
    ) -> Option<Action> {
        if self.busy.is_some() || picking {
            return Some(Action::Error("busy: wait for the current job".into()));
        }
        let Some(samples) = self.samples.clone() else {
            return Some(Action::Error("open a file first (o)".into()));
        };
        let Some(model) = model else {
            return Some(Action::Error(
                "adaptation starts from a trained model: open one (--model) or train first".into(),
            ));
        };
        self.busy = Some(Busy {
            label: "adapting".into(),
            fraction: 0.0,
            since: Instant::now(),
        });
        jobs::spawn_adapt(
            jobs::AdaptRequest {
                samples,
                model,
                config: config.clone(),
            },
            self.jobs.clone(),
        );
        None
    }

    /// A decoding or transcription job's news (picks go to the piano roll).
    pub fn on_job(&mut self, ev: JobEvent) -> Option<Action> {
        let transport = &self.player.transport;
        match ev {
            JobEvent::Loaded { path, samples } => {
                self.busy = None;
                transport.set_tracks(Tracks {
                    original: samples.to_vec(),
                    resynthesis: Vec::new(),
                });
                transport.seek_seconds(0.0);
                let opened = Action::StemOpened {
                    path: path.clone(),
                    samples: samples.len(),
                };
                self.samples = Some(samples);
                self.path = Some(path);
                self.transcription = None;
                Some(opened)
            }
            JobEvent::Progress { label, fraction } => {
                if let Some(b) = &mut self.busy {
                    b.label = label;
                    b.fraction = fraction;
                }
                None
            }
            JobEvent::Transcribed(t) => {
                let seconds = self
                    .busy
                    .take()
                    .map_or(0.0, |b| b.since.elapsed().as_secs_f64());
                let stem = self.samples.clone();
                if let Some(stem) = &stem {
                    transport.set_tracks(Tracks {
                        original: stem.to_vec(),
                        resynthesis: t.resynthesis.clone(),
                    });
                }
                let analysis = t.analysis.clone();
                self.transcription = Some(t);
                stem.map(|stem| Action::PickFrom {
                    analysis,
                    stem,
                    seconds,
                })
            }
            JobEvent::Picked { .. } | JobEvent::AdaptedKit { .. } => None,
            JobEvent::Failed(e) => {
                self.busy = None;
                Some(Action::Error(e))
            }
        }
    }

    /// The sound card's answer; a lost device is also an error on the status line.
    pub fn on_sink(&mut self, answer: SinkAnswer) -> Option<Action> {
        let lost = match &answer {
            SinkAnswer::Lost(e) => Some(format!("audio device lost: {e}; playback stopped")),
            _ => None,
        };
        self.player.answer(answer);
        lost.map(Action::Error)
    }

    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    pub fn samples(&self) -> Option<&Arc<Vec<f32>>> {
        self.samples.as_ref()
    }

    /// Folder (or file) the trainer learns from: the latest opened.
    pub fn data(&self) -> Option<&Path> {
        self.data.as_deref()
    }

    pub fn transcription(&self) -> Option<&TranscribedStem> {
        self.transcription.as_ref()
    }

    /// Decoding or transcribing.
    pub fn busy(&self) -> Option<&Busy> {
        self.busy.as_ref()
    }

    pub fn transport(&self) -> &Transport {
        &self.player.transport
    }

    pub fn device(&self) -> &DeviceState {
        self.player.device()
    }

    /// Underruns the sound card has reported.
    pub fn underruns(&self) -> u64 {
        self.player.underruns()
    }
}

fn file_name(p: &Path) -> String {
    p.file_name().map_or_else(
        || p.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

fn first_audio_file(dir: &Path) -> Option<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && crate::audio::has_audio_extension(p))
        .collect();
    files.sort();
    files.into_iter().next()
}
