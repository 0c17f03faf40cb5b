//! The workbench's state and how it changes: keys, mouse, ticks and the messages of the
//! background threads (jobs, trainer, player) all arrive here; the views only read it.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossterm::event::{KeyCode, KeyEvent, MouseEvent, MouseEventKind};

use crate::atomic_file::{check_writable, Overwrite};
use crate::audio::playback::{AudioSink, Player, Tracks};
use crate::audio::{write_wav, WavFormat, SAMPLE_RATE};
use crate::config::Config;
use crate::dsp::peak_pick::PeakPickParams;
use crate::kit::spec::KitSpec;
use crate::midi::MidiNote;
use crate::train::background::{self, TrainJob, TrainerCommand, TrainerEvent, TrainerHandle};
use crate::train::session::{read_loss_csv, LossRow};
use crate::train::trainer::DataSpec;
use crate::transcribe::export::{write_json, write_mid};
use crate::transcribe::{Picked, Transcription};

use super::jobs::{self, JobEvent, PickRequest, TranscribeRequest, TranscribedStem, FRAME_HOP};
use super::keys::{action_for, Action};
use super::loss_history::{LossHistory, XAxis};

/// What the workbench is started with.
#[derive(Debug, Clone)]
pub struct AppOptions {
    pub config: Config,
    /// An audio file to open, or a folder of stems to train on (its first file is opened).
    pub input: Option<PathBuf>,
    pub session: Option<String>,
    pub sessions_dir: PathBuf,
    /// Model file; default `assets/model/default.safetensors` when it exists.
    pub model: Option<PathBuf>,
    /// Kit for the components pane and the re-synthesis (a kit spec: folder, `DIR#n`,
    /// `procedural:n`); default the bundled `assets/kits/default`.
    pub kit: Option<String>,
}

impl AppOptions {
    pub fn new(config: Config) -> Self {
        AppOptions {
            config,
            input: None,
            session: None,
            sessions_dir: PathBuf::from("sessions"),
            model: None,
            kit: None,
        }
    }
}

pub const BUNDLED_MODEL: &str = crate::assets::BUNDLED_MODEL;
pub const BUNDLED_KIT: &str = "assets/kits/default";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PromptKind {
    Open,
    ExportMidi,
    WriteWav,
    /// The export's MIDI or JSON file exists: Enter replaces both.
    ReplaceExport,
    /// The WAV file exists: Enter replaces it.
    ReplaceWav,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prompt {
    pub kind: PromptKind,
    pub text: String,
}

impl Prompt {
    pub fn title(&self) -> &'static str {
        match self.kind {
            PromptKind::Open => "Open file or folder (Tab completes, Enter opens, Esc cancels)",
            PromptKind::ExportMidi => "Export MIDI + JSON to (Enter confirms, Esc cancels)",
            PromptKind::WriteWav => "Write re-synthesis WAV to (Enter confirms, Esc cancels)",
            PromptKind::ReplaceExport | PromptKind::ReplaceWav => {
                "File exists: Enter replaces it, Esc cancels"
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    Normal,
    Help,
    Prompt(Prompt),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrainState {
    Idle,
    Starting,
    Running,
    Paused,
    Stopping,
    Finished,
    Failed,
}

/// Training as the UI sees it.
pub struct Training {
    pub state: TrainState,
    pub step: u64,
    pub target: u64,
    pub items_per_second: f64,
    handle: Option<TrainerHandle>,
}

/// The piano roll's window onto time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RollView {
    pub first_frame: usize,
    /// Activation frames (ms) per column.
    pub frames_per_column: usize,
}

/// The component waveforms shown and used for re-synthesis.
#[derive(Debug, Clone, Default)]
pub struct Components {
    pub names: Vec<String>,
    pub waveforms: Vec<Vec<f32>>,
    /// "kit assets/kits/default" or "learned, step 300".
    pub origin: String,
}

#[derive(Debug, Clone)]
pub struct Busy {
    pub label: String,
    pub fraction: f32,
    pub since: Instant,
}

pub struct App {
    pub config: Config,
    pub mode: Mode,
    pub quit: bool,
    pub stem_path: Option<PathBuf>,
    pub stem: Option<Arc<Vec<f32>>>,
    /// Folder (or file) the trainer learns from.
    pub data: Option<PathBuf>,
    pub transcription: Option<TranscribedStem>,
    /// Picked onsets per component: (frame, normalised height 0..=1).
    pub onsets: Vec<Vec<(usize, f32)>>,
    /// The events of the latest finished pick: what the piano roll marks and an export writes.
    picked: Picked,
    /// The number of the latest pick requested, and whether it is still running.
    pick_generation: u64,
    pick_pending: bool,
    /// Seconds the transcription took, said once its first pick arrives.
    transcribed_in: Option<f64>,
    pub peak: PeakPickParams,
    pub components: Components,
    pub spectrum: bool,
    pub loss: LossHistory,
    pub loss_per_scale: bool,
    pub loss_log: bool,
    pub loss_x: XAxis,
    pub roll: RollView,
    pub training: Training,
    pub busy: Option<Busy>,
    pub message: String,
    pub message_is_error: bool,
    pub model_path: Option<PathBuf>,
    pub session: String,
    pub sessions_dir: PathBuf,
    pub player: Player,
    /// Smoothed time to draw one frame (ms), shown in the status bar.
    pub frame_ms: f64,
    pub last_export: Option<PathBuf>,
    jobs_tx: Sender<JobEvent>,
    jobs_rx: Receiver<JobEvent>,
}

impl App {
    pub fn new(opts: AppOptions, sink: Box<dyn AudioSink>) -> App {
        let (jobs_tx, jobs_rx) = mpsc::channel();
        let cfg = opts.config;
        let model_path = opts
            .model
            .or_else(|| Some(crate::assets::locate(BUNDLED_MODEL)).filter(|p| p.is_file()));
        let mut app = App {
            // The config's peak picking, so that an untouched threshold exports what
            // `drummernet transcribe` writes.
            peak: cfg.inference.peak_pick,
            components: Components::default(),
            spectrum: false,
            loss: LossHistory::default(),
            loss_per_scale: false,
            loss_log: false,
            loss_x: XAxis::Step,
            roll: RollView {
                first_frame: 0,
                frames_per_column: 64,
            },
            training: Training {
                state: TrainState::Idle,
                step: 0,
                target: cfg.train.steps,
                items_per_second: 0.0,
                handle: None,
            },
            mode: Mode::Normal,
            quit: false,
            stem_path: None,
            stem: None,
            data: None,
            transcription: None,
            onsets: Vec::new(),
            picked: Picked::default(),
            pick_generation: 0,
            pick_pending: false,
            transcribed_in: None,
            busy: None,
            message: String::new(),
            message_is_error: false,
            model_path,
            session: opts.session.clone().unwrap_or_else(|| "workbench".into()),
            sessions_dir: opts.sessions_dir,
            player: Player::new(sink),
            frame_ms: 0.0,
            last_export: None,
            jobs_tx,
            jobs_rx,
            config: cfg,
        };
        app.load_kit(opts.kit.as_deref());
        if opts.session.is_some() {
            app.load_session_loss();
        }
        if app.model_path.is_none() {
            app.say("no trained model: using a freshly initialised one (seed 0)");
        }
        if let Some(input) = opts.input {
            app.open(&input);
        }
        app
    }

    fn load_kit(&mut self, spec: Option<&str>) {
        let names = self.config.model.components.clone();
        let length = self.config.kit.length_samples();
        let bundled = crate::assets::locate(BUNDLED_KIT).display().to_string();
        let text = spec.unwrap_or(&bundled);
        let loaded = KitSpec::parse(text).and_then(|s| s.load(&names, length));
        let (kit, origin) = match loaded {
            Ok(mut kits) if !kits.is_empty() => {
                let short = Path::new(text)
                    .file_name()
                    .map_or(text.to_string(), |n| n.to_string_lossy().into_owned());
                (kits.swap_remove(0), format!("kit {short}"))
            }
            other => {
                if let Err(e) = other {
                    self.error(format!("kit {text}: {e}; using procedural kit 0"));
                }
                (
                    crate::kit::procedural_kit(0, length),
                    "procedural kit 0".to_string(),
                )
            }
        };
        let waveforms = names
            .iter()
            .map(|n| {
                kit.component(n)
                    .map(|c| c.samples.clone())
                    .unwrap_or_default()
            })
            .collect();
        self.components = Components {
            names,
            waveforms,
            origin,
        };
    }

    fn load_session_loss(&mut self) {
        let csv = self.sessions_dir.join(&self.session).join("loss.csv");
        if !csv.is_file() {
            self.say(format!("session {}: no loss.csv yet", self.session));
            return;
        }
        match read_loss_csv(&csv) {
            Ok(rows) => {
                self.training.step = rows.last().map_or(0, |r| r.step);
                self.loss = LossHistory::from_rows(rows);
            }
            Err(e) => self.error(e.to_string()),
        }
        let latest = self
            .sessions_dir
            .join(&self.session)
            .join("latest.safetensors");
        if latest.is_file() {
            self.model_path = Some(latest);
        }
    }

    pub fn say(&mut self, m: impl Into<String>) {
        self.message = m.into();
        self.message_is_error = false;
        tracing::info!("{}", self.message);
    }

    pub fn error(&mut self, m: impl Into<String>) {
        self.message = m.into();
        self.message_is_error = true;
        tracing::warn!("{}", self.message);
    }

    /// Events are being picked again (the piano roll shows the previous pick).
    pub fn is_picking(&self) -> bool {
        self.pick_pending
    }

    /// A job is running (decoding, transcribing or re-picking events).
    pub fn is_busy(&self) -> bool {
        self.busy.is_some() || self.pick_pending
    }

    pub fn component_count(&self) -> usize {
        self.components.names.len()
    }

    /// Total activation frames of the open stem.
    pub fn frames(&self) -> usize {
        match (&self.transcription, &self.stem) {
            (Some(t), _) => t.analysis.activations.first().map_or(0, Vec::len),
            (None, Some(s)) => s.len().div_ceil(FRAME_HOP),
            _ => 0,
        }
    }

    pub fn note_frame_time(&mut self, d: Duration) {
        let ms = d.as_secs_f64() * 1000.0;
        self.frame_ms = if self.frame_ms == 0.0 {
            ms
        } else {
            0.9 * self.frame_ms + 0.1 * ms
        };
    }

    // ---- input ---------------------------------------------------------------------------

    pub fn handle_key(&mut self, key: KeyEvent) {
        match &mut self.mode {
            Mode::Help => self.mode = Mode::Normal,
            Mode::Prompt(p) => match key.code {
                KeyCode::Esc => {
                    self.mode = Mode::Normal;
                    self.say("cancelled");
                }
                KeyCode::Enter => {
                    let p = p.clone();
                    self.mode = Mode::Normal;
                    self.confirm(p);
                }
                KeyCode::Backspace => {
                    p.text.pop();
                }
                KeyCode::Tab if p.kind == PromptKind::Open => {
                    let (done, hint) = complete_path(&p.text);
                    p.text = done;
                    self.message = hint;
                    self.message_is_error = false;
                }
                KeyCode::Char(c) => p.text.push(c),
                _ => {}
            },
            Mode::Normal => {
                if key.code == KeyCode::Esc {
                    return;
                }
                if let Some(a) = action_for(key) {
                    self.act(a);
                }
            }
        }
    }

    pub fn handle_mouse(&mut self, m: MouseEvent) {
        match m.kind {
            MouseEventKind::ScrollUp => self.act(Action::ZoomIn),
            MouseEventKind::ScrollDown => self.act(Action::ZoomOut),
            MouseEventKind::ScrollLeft => self.act(Action::ScrollLeft),
            MouseEventKind::ScrollRight => self.act(Action::ScrollRight),
            _ => {}
        }
    }

    pub fn act(&mut self, a: Action) {
        let t = &self.player.transport;
        match a {
            Action::Quit => self.shutdown(),
            Action::Help => self.mode = Mode::Help,
            Action::Open => {
                let text = self
                    .stem_path
                    .as_ref()
                    .and_then(|p| p.parent())
                    .map(|d| format!("{}/", d.display()))
                    .filter(|d| d != "/")
                    .unwrap_or_default();
                self.mode = Mode::Prompt(Prompt {
                    kind: PromptKind::Open,
                    text,
                });
            }
            Action::Transcribe => self.transcribe(),
            Action::PlayPause => {
                if self.stem.is_none() {
                    self.error("nothing to play: open a file first (o)");
                } else {
                    let on = !t.is_playing();
                    t.set_playing(on);
                    if !self.player.has_device() {
                        self.say("no audio device: the playhead does not move");
                    }
                }
            }
            Action::Stop => t.stop(),
            Action::SeekBack => t.seek_seconds(t.position_seconds() - 1.0),
            Action::SeekForward => t.seek_seconds(t.position_seconds() + 1.0),
            Action::ToggleAb => {
                let s = t.toggle_source();
                if self.transcription.is_none() && s != crate::audio::playback::Source::Original {
                    self.say("B: no re-synthesis yet (transcribe with r); B plays silence");
                } else {
                    self.say(format!("playing {}", s.label()));
                }
            }
            Action::WriteResynthesis => self.prompt_for(PromptKind::WriteWav, "resynth.wav"),
            Action::ExportMidi => self.prompt_for(PromptKind::ExportMidi, "mid"),
            Action::TrainStart => self.start_training(),
            Action::TrainPause => self.pause_training(),
            Action::TrainStop => self.stop_training(),
            Action::ZoomIn => {
                self.roll.frames_per_column = (self.roll.frames_per_column / 2).max(1)
            }
            Action::ZoomOut => {
                self.roll.frames_per_column = (self.roll.frames_per_column * 2).min(4096)
            }
            Action::ScrollLeft => {
                self.roll.first_frame = self
                    .roll
                    .first_frame
                    .saturating_sub(self.roll.frames_per_column * 8)
            }
            Action::ScrollRight => {
                let max = self.frames().saturating_sub(1);
                self.roll.first_frame =
                    (self.roll.first_frame + self.roll.frames_per_column * 8).min(max)
            }
            Action::ScrollHome => self.roll.first_frame = 0,
            Action::ThresholdDown => self.set_threshold(self.peak.delta - 0.05),
            Action::ThresholdUp => self.set_threshold(self.peak.delta + 0.05),
            Action::LossScales => self.loss_per_scale = !self.loss_per_scale,
            Action::LossLog => self.loss_log = !self.loss_log,
            Action::LossXAxis => {
                self.loss_x = match self.loss_x {
                    XAxis::Step => XAxis::Seconds,
                    XAxis::Seconds => XAxis::Step,
                }
            }
            Action::Spectrum => self.spectrum = !self.spectrum,
        }
    }

    fn prompt_for(&mut self, kind: PromptKind, ext: &str) {
        let Some(stem) = &self.stem_path else {
            self.error("open and transcribe a file first (o, r)");
            return;
        };
        if self.transcription.is_none() {
            self.error("transcribe first (r)");
            return;
        }
        let text = stem.with_extension(ext).display().to_string();
        self.mode = Mode::Prompt(Prompt { kind, text });
    }

    fn confirm(&mut self, p: Prompt) {
        let path = PathBuf::from(p.text.trim());
        if path.as_os_str().is_empty() {
            self.error("no path given");
            return;
        }
        let replace = matches!(p.kind, PromptKind::ReplaceExport | PromptKind::ReplaceWav);
        let overwrite = Overwrite::from_force(replace);
        let outcome = match p.kind {
            PromptKind::Open => return self.open(&path),
            PromptKind::ExportMidi | PromptKind::ReplaceExport => {
                self.export(&path, overwrite).map(|n| {
                    self.last_export = Some(path.clone());
                    format!(
                        "exported {n} notes to {} and {}",
                        path.display(),
                        path.with_extension("json").display()
                    )
                })
            }
            PromptKind::WriteWav | PromptKind::ReplaceWav => {
                let Some(t) = &self.transcription else { return };
                write_wav(
                    &path,
                    &t.resynthesis,
                    SAMPLE_RATE,
                    WavFormat::Pcm16,
                    overwrite,
                )
                .map(|()| format!("re-synthesis written to {}", path.display()))
            }
        };
        match outcome {
            Ok(message) => self.say(message),
            // An existing file is replaced only once the user says so.
            Err(crate::Error::OutputExists { .. }) if !replace => {
                let kind = match p.kind {
                    PromptKind::WriteWav => PromptKind::ReplaceWav,
                    _ => PromptKind::ReplaceExport,
                };
                self.mode = Mode::Prompt(Prompt { kind, text: p.text });
            }
            Err(e) => self.error(e.to_string()),
        }
    }

    // ---- work ----------------------------------------------------------------------------

    pub fn open(&mut self, path: &Path) {
        if path.is_dir() {
            self.data = Some(path.to_path_buf());
            match first_audio_file(path) {
                Some(f) => self.open(&f),
                None => self.say(format!(
                    "{}: training data folder (no audio file to show)",
                    path.display()
                )),
            }
            return;
        }
        if !path.exists() {
            self.error(format!("{}: no such file", path.display()));
            return;
        }
        if self.is_busy() {
            // A transcription in flight would otherwise land on the new stem.
            self.error("busy: wait for the current job, then open");
            return;
        }
        if self.data.is_none() {
            self.data = Some(path.to_path_buf());
        }
        self.busy = Some(Busy {
            label: format!("decoding {}", file_name(path)),
            fraction: 0.0,
            since: Instant::now(),
        });
        jobs::spawn_open(path.to_path_buf(), self.jobs_tx.clone());
    }

    pub fn transcribe(&mut self) {
        if self.is_busy() {
            self.error("busy: wait for the current job");
            return;
        }
        let Some(samples) = self.stem.clone() else {
            self.error("open a file first (o)");
            return;
        };
        self.busy = Some(Busy {
            label: "transcribing".into(),
            fraction: 0.0,
            since: Instant::now(),
        });
        jobs::spawn_transcribe(
            TranscribeRequest {
                samples,
                model: self.model_path.clone(),
                config: self.config.model.clone(),
                waveforms: self.components.waveforms.clone(),
                inference: self.config.inference.clone(),
            },
            self.jobs_tx.clone(),
        );
    }

    pub fn set_threshold(&mut self, delta: f64) {
        self.peak.delta = (delta * 100.0).round().clamp(0.0, 100.0) / 100.0;
        self.repick();
    }

    /// Picks the events again from the stem's analysis with the current settings, on a job
    /// thread ([`JobEvent::Picked`] brings them back).
    fn repick(&mut self) {
        let (Some(t), Some(stem)) = (&self.transcription, &self.stem) else {
            return;
        };
        self.pick_generation += 1;
        self.pick_pending = true;
        jobs::spawn_pick(
            PickRequest {
                analysis: t.analysis.clone(),
                stem: stem.clone(),
                inference: self.inference(),
                midi: self.config.midi.clone(),
                generation: self.pick_generation,
            },
            self.jobs_tx.clone(),
        );
    }

    /// The piano roll's marks: exactly the events an export would write, so what is seen is
    /// what is exported.
    fn mark_onsets(&mut self) {
        self.onsets = match &self.transcription {
            Some(t) => {
                let activations = &t.analysis.activations;
                let mut marks = vec![Vec::new(); activations.len()];
                let maxima: Vec<f32> = activations
                    .iter()
                    .map(|row| row.iter().fold(0.0f32, |m, &v| m.max(v)))
                    .collect();
                for e in &self.picked.events {
                    let max = maxima[e.component_index];
                    let frame = (e.time * f64::from(SAMPLE_RATE) / FRAME_HOP as f64).round();
                    let height = if max > 0.0 { e.height / max } else { 0.0 };
                    marks[e.component_index].push((frame as usize, height));
                }
                marks
            }
            None => Vec::new(),
        };
    }

    /// The config's `[inference]` with the workbench's threshold.
    fn inference(&self) -> crate::transcribe::InferenceSettings {
        let mut settings = self.config.inference.clone();
        settings.peak_pick = self.peak;
        settings
    }

    /// MIDI notes of the current transcription at the current threshold, in time order.
    pub fn notes(&self) -> Vec<(MidiNote, String)> {
        let midi = &self.config.midi;
        self.picked
            .events
            .iter()
            .map(|e| (e.midi_note(midi), e.component.clone()))
            .collect()
    }

    /// Writes `path` (MIDI) and `path.json` with the CLI's writers (the
    /// `drummernet-transcription` JSON, atomic writes, an existing file replaced only with
    /// `Overwrite::Allow`); returns the note count.
    pub fn export(&self, path: &Path, overwrite: Overwrite) -> crate::Result<usize> {
        if self.pick_pending {
            return Err(crate::Error::Invalid(
                "busy: the events are being picked again; export once they are shown".into(),
            ));
        }
        let json = path.with_extension("json");
        check_writable(path, overwrite)?;
        check_writable(&json, overwrite)?;
        let t = self.record();
        let settings = self.inference();
        write_mid(path, &t.events, &self.config.midi, overwrite)?;
        let model = self
            .transcription
            .as_ref()
            .map(|t| t.model.clone())
            .unwrap_or_default();
        write_json(&json, &t, &model, &settings, &self.config.midi, overwrite)?;
        Ok(t.events.len())
    }

    /// The current transcription as the CLI records one (without the activations, which the
    /// written files do not hold).
    fn record(&self) -> Transcription {
        let picked = self.picked.clone();
        let stem: &[f32] = self.stem.as_ref().map_or(&[], |s| &s[..]);
        let analysis = self.transcription.as_ref().map(|t| &t.analysis);
        Transcription {
            input: self.stem_path.clone().unwrap_or_default(),
            duration: stem.len() as f64 / f64::from(SAMPLE_RATE),
            components: analysis.map(|a| a.components.clone()).unwrap_or_default(),
            activations: Vec::new(),
            frame_rate: f64::from(SAMPLE_RATE) / FRAME_HOP as f64,
            events: picked.events,
            passes: picked.passes,
            peak: stem.iter().fold(0.0f32, |m, x| m.max(x.abs())),
            silent: analysis.is_some_and(|a| a.gain.is_none()),
            windows: 0,
            buffered_high_water: 0,
            header_seconds: None,
        }
    }

    fn start_training(&mut self) {
        match self.training.state {
            TrainState::Paused => return self.pause_training(),
            TrainState::Starting | TrainState::Running | TrainState::Stopping => {
                return self.say("training is already running");
            }
            _ => {}
        }
        let device = match self.config.device.candle_device() {
            Ok(d) => d,
            Err(e) => return self.error(e.to_string()),
        };
        let session_dir = self.sessions_dir.join(&self.session);
        let resume = session_dir.join("latest.safetensors").is_file();
        let job = TrainJob {
            config: self.config.clone(),
            data: DataSpec {
                stems: self.data.iter().cloned().collect(),
                kit_dirs: Vec::new(),
                kits: Vec::new(),
                procedural_kits: 16,
            },
            sessions_root: self.sessions_dir.clone(),
            session: self.session.clone(),
            resume,
            target_steps: self.config.train.steps,
            device,
        };
        self.training.handle = Some(background::spawn(job));
        self.training.state = TrainState::Starting;
        self.say(format!(
            "training {} session {} on {}",
            if resume { "resumes" } else { "starts" },
            self.session,
            self.data
                .as_ref()
                .map_or("synthetic grooves".into(), |d| d.display().to_string())
        ));
    }

    fn pause_training(&mut self) {
        let Some(h) = &self.training.handle else {
            return self.error("no training running (t starts it)");
        };
        match self.training.state {
            TrainState::Running | TrainState::Starting => h.send(TrainerCommand::Pause),
            TrainState::Paused => h.send(TrainerCommand::Resume),
            _ => {}
        }
    }

    fn stop_training(&mut self) {
        if let Some(h) = &self.training.handle {
            h.send(TrainerCommand::Stop);
            self.training.state = TrainState::Stopping;
            self.say("stopping training after this step (checkpoint)");
        }
    }

    fn shutdown(&mut self) {
        if let Some(h) = self.training.handle.take() {
            // Pause blocks the trainer on its command queue; Stop then writes a checkpoint.
            h.send(TrainerCommand::Stop);
            h.join();
        }
        self.player.transport.set_playing(false);
        self.quit = true;
    }

    // ---- messages from the background ----------------------------------------------------

    /// Takes every pending message from jobs, trainer and player; never blocks.
    pub fn pump(&mut self) {
        self.player.poll();
        while let Ok(ev) = self.jobs_rx.try_recv() {
            self.on_job(ev);
        }
        let events: Vec<TrainerEvent> = match &self.training.handle {
            Some(h) => h.events.try_iter().collect(),
            None => Vec::new(),
        };
        for ev in events {
            self.on_trainer(ev);
        }
        self.follow_playhead();
    }

    /// Pumps until no job is running or `timeout` passes (tests and scripted use).
    pub fn wait_idle(&mut self, timeout: Duration) -> bool {
        let end = Instant::now() + timeout;
        loop {
            self.pump();
            if !self.is_busy() {
                return true;
            }
            if Instant::now() > end {
                return false;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    fn on_job(&mut self, ev: JobEvent) {
        match ev {
            JobEvent::Loaded { path, samples } => {
                self.busy = None;
                self.player.transport.set_tracks(Tracks {
                    original: samples.to_vec(),
                    resynthesis: Vec::new(),
                });
                self.player.transport.seek_seconds(0.0);
                self.say(format!(
                    "opened {} ({:.1} s): r transcribes",
                    path.display(),
                    samples.len() as f64 / SAMPLE_RATE as f64
                ));
                self.stem = Some(samples);
                self.stem_path = Some(path);
                self.transcription = None;
                self.picked = Picked::default();
                self.onsets.clear();
                self.roll.first_frame = 0;
            }
            JobEvent::Progress { label, fraction } => {
                if let Some(b) = &mut self.busy {
                    b.label = label;
                    b.fraction = fraction;
                }
            }
            JobEvent::Transcribed(t) => {
                let secs = self
                    .busy
                    .take()
                    .map_or(0.0, |b| b.since.elapsed().as_secs_f64());
                if let Some(stem) = &self.stem {
                    self.player.transport.set_tracks(Tracks {
                        original: stem.to_vec(),
                        resynthesis: t.resynthesis.clone(),
                    });
                }
                self.transcription = Some(t);
                self.picked = Picked::default();
                self.transcribed_in = Some(secs);
                self.repick();
            }
            JobEvent::Picked { generation, picked } => {
                // An older pick's answer is stale: a newer one is on its way.
                if generation == self.pick_generation {
                    self.pick_pending = false;
                    self.picked = picked;
                    self.mark_onsets();
                    let n = self.picked.events.len();
                    let message = match self.transcribed_in.take() {
                        Some(secs) => format!(
                            "transcribed in {secs:.1} s: {n} onsets (e exports MIDI, b A/B)"
                        ),
                        None => format!("threshold {:.2}: {n} onsets", self.peak.delta),
                    };
                    self.say(message);
                }
            }
            JobEvent::Failed(e) => {
                self.busy = None;
                self.pick_pending = false;
                self.error(e);
            }
        }
    }

    fn on_trainer(&mut self, ev: TrainerEvent) {
        let tr = &mut self.training;
        match ev {
            TrainerEvent::Started {
                session,
                step,
                target_steps,
            } => {
                tr.state = TrainState::Running;
                tr.step = step;
                tr.target = target_steps;
                self.say(format!("training session {session} from step {step}"));
            }
            TrainerEvent::Step(r) => {
                tr.step = r.step;
                tr.items_per_second = r.items_per_second;
                if tr.state == TrainState::Starting {
                    tr.state = TrainState::Running;
                }
                if r.finite {
                    self.loss.push(LossRow {
                        step: r.step,
                        seconds: r.seconds,
                        loss: r.loss,
                        per_scale: r.per_scale,
                        items_per_second: r.items_per_second,
                    });
                }
            }
            TrainerEvent::Waveforms {
                step,
                names,
                samples,
            } => {
                self.components = Components {
                    names,
                    waveforms: samples,
                    origin: format!("learned, step {step}"),
                };
            }
            TrainerEvent::Checkpoint { step, path } => {
                self.say(format!("checkpoint at step {step}: {}", path.display()));
                self.model_path = Some(path);
            }
            TrainerEvent::Paused { step } => {
                tr.state = TrainState::Paused;
                self.say(format!("training paused at step {step}"));
            }
            TrainerEvent::Resumed { step } => {
                tr.state = TrainState::Running;
                self.say(format!("training resumed at step {step}"));
            }
            TrainerEvent::Warning(w) => self.error(w),
            TrainerEvent::Finished { step, stopped } => {
                tr.state = TrainState::Finished;
                if let Some(h) = tr.handle.take() {
                    h.join();
                }
                self.say(format!(
                    "training {} at step {step}",
                    if stopped { "stopped" } else { "finished" }
                ));
            }
            TrainerEvent::Failed(e) => {
                tr.state = TrainState::Failed;
                tr.handle = None;
                self.error(format!("training failed: {e}"));
            }
        }
    }

    /// Keeps the playhead on screen while playing (the roll pages along).
    fn follow_playhead(&mut self) {
        let t = &self.player.transport;
        if !t.is_playing() {
            return;
        }
        let frame = (t.position_seconds() * (SAMPLE_RATE as usize / FRAME_HOP) as f64) as usize;
        let span = self.roll.frames_per_column * 40;
        if frame < self.roll.first_frame || frame >= self.roll.first_frame + span {
            self.roll.first_frame = frame;
        }
    }
}

fn file_name(p: &Path) -> String {
    p.file_name().map_or_else(
        || p.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

fn is_audio(p: &Path) -> bool {
    crate::audio::has_audio_extension(p)
}

fn first_audio_file(dir: &Path) -> Option<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && is_audio(p))
        .collect();
    files.sort();
    files.into_iter().next()
}

/// Completes `text` to the longest common prefix of the matching directory entries; the hint
/// lists the candidates (folders end in `/`, only folders and audio files are offered).
pub fn complete_path(text: &str) -> (String, String) {
    let (dir, prefix) = match text.rfind('/') {
        Some(i) => (&text[..=i], &text[i + 1..]),
        None => ("", text),
    };
    let read_from = if dir.is_empty() { "." } else { dir };
    let Ok(entries) = std::fs::read_dir(read_from) else {
        return (text.to_string(), format!("{read_from}: cannot list"));
    };
    let mut names: Vec<String> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let path = e.path();
            if !name.starts_with(prefix) || (name.starts_with('.') && !prefix.starts_with('.')) {
                return None;
            }
            if path.is_dir() {
                Some(format!("{name}/"))
            } else if is_audio(&path) {
                Some(name)
            } else {
                None
            }
        })
        .collect();
    names.sort();
    let Some(first) = names.first() else {
        return (text.to_string(), "no match".into());
    };
    let common = names.iter().fold(first.clone(), |acc, n| {
        acc.chars()
            .zip(n.chars())
            .take_while(|(a, b)| a == b)
            .map(|(a, _)| a)
            .collect()
    });
    let hint = if names.len() == 1 {
        String::new()
    } else {
        names.iter().take(8).cloned().collect::<Vec<_>>().join("  ")
    };
    (format!("{dir}{common}"), hint)
}
