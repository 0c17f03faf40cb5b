//! The workbench's coordinator: it owns the [`components`](super::components), takes the
//! events of the one channel ([`AppEvent`]: input, jobs, trainer, sound card), hands each to the
//! component it concerns, and settles the [`Action`]s that result. An action is given to every
//! component, except the few that need more than one component's state (open, transcribe,
//! train, export), which are settled here.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, Sender};
use std::time::{Duration, Instant};

use crossterm::event::{Event, KeyEvent, KeyEventKind, MouseEvent, MouseEventKind};

use crate::atomic_file::{check_writable, Overwrite};
use crate::audio::playback::AudioSink;
use crate::audio::SAMPLE_RATE;
use crate::config::Config;
use crate::midi::MidiSettings;
use crate::train::background::TrainerEvent;
use crate::train::session::read_loss_csv;
use crate::transcribe::export::{tempo_of, write_json, write_mid};
use crate::transcribe::Transcription;

use super::action::Action;
use super::components::loss::LossChart;
use super::components::piano_roll::PianoRoll;
use super::components::prompt::{Overlay, PromptKind};
use super::components::status::StatusLine;
use super::components::stem::StemDeck;
use super::components::training::TrainingPanel;
use super::components::waveforms::WaveformPane;
use super::event::AppEvent;
use super::jobs::{JobEvent, FRAME_HOP};
use super::keys::action_for;
use super::loss_history::LossHistory;

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
    /// Whether `model: None` means the bundled model (when it exists). Off: a freshly
    /// initialised one, for screens that must not depend on the bundled file (tests).
    pub bundled_model: bool,
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
            bundled_model: true,
            kit: None,
        }
    }
}

pub struct App {
    stem: StemDeck,
    roll: PianoRoll,
    waveforms: WaveformPane,
    loss: LossChart,
    training: TrainingPanel,
    overlay: Overlay,
    status: StatusLine,
    midi: MidiSettings,
    /// The configuration an adaptation of the open stem runs with (`a`).
    adapt_config: Box<crate::config::Config>,
    quit: bool,
    /// Why the terminal could not be read, which ends the workbench.
    input_failure: Option<String>,
    events_tx: Sender<AppEvent>,
    events: Receiver<AppEvent>,
}

impl App {
    pub fn new(opts: AppOptions, sink: Box<dyn AudioSink>) -> App {
        let (events_tx, events) = mpsc::channel();
        let cfg = opts.config;
        // What is said at start, in order (the status line shows the last).
        let mut said = Vec::new();
        let mut model = opts.model.or_else(|| {
            let bundled = crate::assets::locate(crate::assets::BUNDLED_MODEL);
            (opts.bundled_model && bundled.is_file()).then_some(bundled)
        });
        let (waveforms, kit_problem) = WaveformPane::from_kit(
            opts.kit.as_deref(),
            cfg.model.components.clone(),
            cfg.kit.length_samples(),
        );
        said.extend(kit_problem);
        let session = opts.session.clone().unwrap_or_else(|| "workbench".into());
        let mut history = LossHistory::default();
        if opts.session.is_some() {
            let (h, latest, note) = open_session(&opts.sessions_dir.join(&session), &session);
            history = h;
            model = latest.or(model);
            said.extend(note);
        }
        if model.is_none() {
            said.push(Action::Say(
                "no trained model: using a freshly initialised one (seed 0)".into(),
            ));
        }
        let step = history.last().map_or(0, |r| r.step);
        let mut app = App {
            stem: StemDeck::new(
                sink,
                cfg.model.clone(),
                cfg.inference.clone(),
                events_tx.clone(),
            ),
            roll: PianoRoll::new(cfg.inference.clone(), cfg.midi.clone(), events_tx.clone()),
            waveforms,
            loss: LossChart::new(history),
            training: TrainingPanel::new(
                cfg.clone(),
                session,
                opts.sessions_dir,
                model,
                step,
                events_tx.clone(),
            ),
            overlay: Overlay::default(),
            status: StatusLine::new(format!("{:?}", cfg.device.device)),
            adapt_config: Box::new(cfg.clone()),
            midi: cfg.midi,
            quit: false,
            input_failure: None,
            events_tx,
            events,
        };
        for a in said {
            app.act(a);
        }
        if let Some(input) = opts.input {
            app.act(Action::OpenPath(input));
        }
        app
    }

    // ---- actions -------------------------------------------------------------------------

    /// Settles `action` and every action it leads to, in order.
    pub fn act(&mut self, action: Action) {
        let mut queue = VecDeque::from([action]);
        while let Some(a) = queue.pop_front() {
            queue.extend(self.dispatch(&a));
        }
    }

    fn dispatch(&mut self, action: &Action) -> Vec<Action> {
        let picking = self.roll.is_picking();
        let settled = match action {
            Action::OpenPath(path) => self.stem.open(path, picking),
            Action::Transcribe => self.stem.transcribe(
                picking,
                self.training.model().map(Path::to_path_buf),
                self.waveforms.waveforms(),
            ),
            Action::Adapt => self.stem.adapt(
                picking,
                self.training.model().map(Path::to_path_buf),
                &self.adapt_config,
            ),
            Action::TrainStart => self.training.start(self.stem.data()),
            Action::ExportTo { path, overwrite } => self.export_answer(path, *overwrite),
            _ => {
                if let Action::Quit = action {
                    self.quit = true;
                }
                return [
                    self.overlay.update(action),
                    self.stem.update(action),
                    self.roll.update(action),
                    self.waveforms.update(action),
                    self.loss.update(action),
                    self.training.update(action),
                    self.status.update(action),
                ]
                .into_iter()
                .flatten()
                .collect();
            }
        };
        settled.into_iter().collect()
    }

    pub fn handle_key(&mut self, key: KeyEvent) {
        // While the help or a prompt shows, it takes the keys.
        let action = if self.overlay.is_open() {
            self.overlay.handle_key(key)
        } else {
            action_for(key)
        };
        if let Some(a) = action {
            self.act(a);
        }
    }

    pub fn handle_mouse(&mut self, m: MouseEvent) {
        let action = match m.kind {
            MouseEventKind::ScrollUp => Action::ZoomIn,
            MouseEventKind::ScrollDown => Action::ZoomOut,
            MouseEventKind::ScrollLeft => Action::ScrollLeft,
            MouseEventKind::ScrollRight => Action::ScrollRight,
            _ => return,
        };
        self.act(action);
    }

    // ---- events --------------------------------------------------------------------------

    /// A sender into the workbench's event channel, for a thread that feeds it.
    pub fn events(&self) -> Sender<AppEvent> {
        self.events_tx.clone()
    }

    /// Hands `ev` to the component it concerns.
    pub fn handle_event(&mut self, ev: AppEvent) {
        let answer = match ev {
            AppEvent::Input(Event::Key(k)) if k.kind != KeyEventKind::Release => {
                self.handle_key(k);
                None
            }
            AppEvent::Input(Event::Mouse(m)) => {
                self.handle_mouse(m);
                None
            }
            // A resize only needs the redraw that follows every event.
            AppEvent::Input(_) => None,
            AppEvent::InputFailed(e) => {
                self.input_failure = Some(e);
                Some(Action::Quit)
            }
            AppEvent::Job(JobEvent::Picked { generation, picked }) => {
                self.roll.on_picked(generation, picked)
            }
            AppEvent::Job(JobEvent::AdaptedKit {
                step,
                names,
                waveforms,
            }) => {
                self.waveforms.adapted(step, names, waveforms);
                None
            }
            AppEvent::Job(ev) => {
                if let JobEvent::Failed(_) = ev {
                    self.roll.on_job_failed();
                }
                self.stem.on_job(ev)
            }
            AppEvent::Trainer(TrainerEvent::Waveforms {
                step,
                names,
                samples,
            }) => {
                self.waveforms.learned(step, names, samples);
                None
            }
            AppEvent::Trainer(ev) => {
                if let TrainerEvent::Step(r) = &ev {
                    self.loss.on_step(r);
                }
                self.training.on_trainer(ev)
            }
            AppEvent::Sink(answer) => self.stem.on_sink(answer),
        };
        if let Some(a) = answer {
            self.act(a);
        }
    }

    /// Waits up to `timeout` for an event, then handles it and every other one already
    /// queued (fast typing, wheel bursts) before the next frame is drawn.
    pub fn pump_for(&mut self, timeout: Duration) {
        let mut next = if timeout.is_zero() {
            self.events.try_recv().ok()
        } else {
            self.events.recv_timeout(timeout).ok()
        };
        while let Some(ev) = next {
            self.handle_event(ev);
            if self.quit {
                break;
            }
            next = self.events.try_recv().ok();
        }
        self.roll.follow(self.stem.transport());
    }

    /// Handles every event already queued; never blocks.
    pub fn pump(&mut self) {
        self.pump_for(Duration::ZERO);
    }

    /// Pumps until no job is running or `timeout` passes (tests and scripted use).
    pub fn wait_idle(&mut self, timeout: Duration) -> bool {
        let end = Instant::now() + timeout;
        loop {
            self.pump_for(Duration::from_millis(5));
            if !self.is_busy() {
                return true;
            }
            if Instant::now() > end {
                return false;
            }
        }
    }

    // ---- export --------------------------------------------------------------------------

    fn export_answer(&self, path: &Path, overwrite: Overwrite) -> Option<Action> {
        Some(match self.export(path, overwrite) {
            Ok(n) => Action::Say(format!(
                "exported {n} notes to {} and {}",
                path.display(),
                path.with_extension("json").display()
            )),
            // An existing file is replaced only once the user says so.
            Err(crate::Error::OutputExists { .. }) if overwrite == Overwrite::Refuse => {
                Action::Ask(PromptKind::ReplaceExport, path.display().to_string())
            }
            Err(e) => Action::Error(e.to_string()),
        })
    }

    /// Writes `path` (MIDI) and `path.json` with the CLI's writers (the
    /// `drummernet-transcription` JSON, atomic writes, an existing file replaced only with
    /// `Overwrite::Allow`); returns the note count.
    pub fn export(&self, path: &Path, overwrite: Overwrite) -> crate::Result<usize> {
        if self.roll.is_picking() {
            return Err(crate::Error::Invalid(
                "busy: the events are being picked again; export once they are shown".into(),
            ));
        }
        let json = path.with_extension("json");
        check_writable(path, overwrite)?;
        check_writable(&json, overwrite)?;
        let t = self.record();
        let tempo = tempo_of(&t, &self.midi);
        write_mid(
            path,
            &t.events,
            &self.midi,
            &tempo,
            &self.roll.inference().classes,
            overwrite,
        )?;
        let model = self
            .stem
            .transcription()
            .map(|t| t.model.clone())
            .unwrap_or_default();
        write_json(
            &json,
            &t,
            &model,
            self.roll.inference(),
            &self.midi,
            &tempo,
            overwrite,
        )?;
        Ok(t.events.len())
    }

    /// The current transcription as the CLI records one (without the activations, which the
    /// written files do not hold).
    fn record(&self) -> Transcription {
        let picked = self.roll.picked().clone();
        let stem: &[f32] = self.stem.samples().map_or(&[], |s| &s[..]);
        let analysis = self.stem.transcription().map(|t| &t.analysis);
        Transcription {
            input: self.stem.path().map(Path::to_path_buf).unwrap_or_default(),
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

    // ---- reading -------------------------------------------------------------------------

    /// A job is running (decoding, transcribing or picking events).
    pub fn is_busy(&self) -> bool {
        self.stem.busy().is_some() || self.roll.is_picking()
    }

    pub fn should_quit(&self) -> bool {
        self.quit
    }

    /// Why the terminal could not be read, when that ended the workbench.
    pub fn input_failure(&self) -> Option<&str> {
        self.input_failure.as_deref()
    }

    pub fn note_frame_time(&mut self, d: Duration) {
        self.status.note_frame_time(d);
    }

    pub fn stem(&self) -> &StemDeck {
        &self.stem
    }

    pub fn roll(&self) -> &PianoRoll {
        &self.roll
    }

    pub fn waveforms(&self) -> &WaveformPane {
        &self.waveforms
    }

    pub fn loss(&self) -> &LossChart {
        &self.loss
    }

    pub fn training(&self) -> &TrainingPanel {
        &self.training
    }

    pub fn overlay(&self) -> &Overlay {
        &self.overlay
    }

    pub fn status(&self) -> &StatusLine {
        &self.status
    }
}

/// A session's loss so far and its latest checkpoint, and what to say about it.
fn open_session(dir: &Path, name: &str) -> (LossHistory, Option<PathBuf>, Option<Action>) {
    let csv = dir.join("loss.csv");
    if !csv.is_file() {
        let note = Action::Say(format!("session {name}: no loss.csv yet"));
        return (LossHistory::default(), None, Some(note));
    }
    let (history, note) = match read_loss_csv(&csv) {
        Ok(rows) => (LossHistory::from_rows(rows), None),
        Err(e) => (LossHistory::default(), Some(Action::Error(e.to_string()))),
    };
    let latest = dir.join("latest.safetensors");
    (history, latest.is_file().then_some(latest), note)
}
