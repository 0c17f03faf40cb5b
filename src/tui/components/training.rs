//! Training as the workbench sees it: the session (its name, folder and latest model), the
//! trainer's phase, step and speed, and the commands that start, pause and stop it. The
//! trainer runs on its own thread ([`crate::train::background`]); its events reach the UI
//! through the workbench's event channel.

use std::path::{Path, PathBuf};
use std::sync::mpsc::Sender;

use crate::config::Config;
use crate::train::background::{self, TrainJob, TrainerCommand, TrainerControl, TrainerEvent};
use crate::train::trainer::DataSpec;
use crate::tui::action::Action;
use crate::tui::event::AppEvent;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrainingPhase {
    Idle,
    Starting,
    Running,
    Paused,
    Stopping,
    Finished,
    Failed,
}

pub struct TrainingPanel {
    phase: TrainingPhase,
    step: u64,
    target: u64,
    items_per_second: f64,
    session: String,
    sessions_dir: PathBuf,
    /// The model a transcription uses: the given or bundled one, then the session's latest
    /// checkpoint.
    model: Option<PathBuf>,
    config: Config,
    /// The running trainer; the panel holds its only command sender, so dropping it (the
    /// workbench closing) is what the trainer takes as Stop, with a checkpoint.
    run: Option<TrainerControl>,
    events: Sender<AppEvent>,
}

impl TrainingPanel {
    /// The panel for `session` in `sessions_dir`, at `step` (its loss so far), idle.
    pub fn new(
        config: Config,
        session: String,
        sessions_dir: PathBuf,
        model: Option<PathBuf>,
        step: u64,
        events: Sender<AppEvent>,
    ) -> Self {
        TrainingPanel {
            phase: TrainingPhase::Idle,
            step,
            target: config.train.steps,
            items_per_second: 0.0,
            session,
            sessions_dir,
            model,
            config,
            run: None,
            events,
        }
    }

    pub fn update(&mut self, action: &Action) -> Option<Action> {
        match action {
            Action::TrainPause => self.pause(),
            Action::TrainStop => self.stop(),
            Action::Quit => self.shutdown(),
            _ => None,
        }
    }

    /// Starts (or resumes, when the session has a checkpoint) training on `data`, or on
    /// synthetic grooves without it.
    pub fn start(&mut self, data: Option<&Path>) -> Option<Action> {
        match self.phase {
            TrainingPhase::Paused => return self.pause(),
            TrainingPhase::Starting | TrainingPhase::Running | TrainingPhase::Stopping => {
                return Some(Action::Say("training is already running".into()));
            }
            _ => {}
        }
        let device = match self.config.device.candle_device() {
            Ok(d) => d,
            Err(e) => return Some(Action::Error(e.to_string())),
        };
        let resume = self.session_dir().join("latest.safetensors").is_file();
        let job = TrainJob {
            config: self.config.clone(),
            data: DataSpec {
                stems: data.iter().map(|d| d.to_path_buf()).collect(),
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
        let events = self.events.clone();
        // Every trainer event enters the workbench's one channel; once the workbench has
        // closed nobody listens, and the trainer still finishes its step and checkpoint.
        let sink = Box::new(move |ev| {
            let _ = events.send(AppEvent::Trainer(ev));
        });
        self.run = Some(background::spawn_with(job, sink));
        self.phase = TrainingPhase::Starting;
        Some(Action::Say(format!(
            "training {} session {} on {}",
            if resume { "resumes" } else { "starts" },
            self.session,
            data.map_or("synthetic grooves".into(), |d| d.display().to_string())
        )))
    }

    fn pause(&mut self) -> Option<Action> {
        let Some(run) = &self.run else {
            return Some(Action::Error("no training running (t starts it)".into()));
        };
        match self.phase {
            TrainingPhase::Running | TrainingPhase::Starting => run.send(TrainerCommand::Pause),
            TrainingPhase::Paused => run.send(TrainerCommand::Resume),
            _ => {}
        }
        None
    }

    fn stop(&mut self) -> Option<Action> {
        let run = self.run.as_ref()?;
        run.send(TrainerCommand::Stop);
        self.phase = TrainingPhase::Stopping;
        Some(Action::Say(
            "stopping training after this step (checkpoint)".into(),
        ))
    }

    /// Stops a run and waits for its checkpoint.
    fn shutdown(&mut self) -> Option<Action> {
        if let Some(run) = self.run.take() {
            // Pause blocks the trainer on its command queue; Stop then writes a checkpoint.
            run.send(TrainerCommand::Stop);
            run.join();
        }
        None
    }

    /// The trainer's news (its losses go to the loss chart, its waveforms to the waveform
    /// pane, which the workbench hands them to first).
    pub fn on_trainer(&mut self, ev: TrainerEvent) -> Option<Action> {
        match ev {
            TrainerEvent::Started {
                session,
                step,
                target_steps,
            } => {
                self.phase = TrainingPhase::Running;
                self.step = step;
                self.target = target_steps;
                Some(Action::Say(format!(
                    "training session {session} from step {step}"
                )))
            }
            TrainerEvent::Step(r) => {
                self.step = r.step;
                self.items_per_second = r.items_per_second;
                if self.phase == TrainingPhase::Starting {
                    self.phase = TrainingPhase::Running;
                }
                None
            }
            TrainerEvent::Waveforms { .. } => None,
            TrainerEvent::Checkpoint { step, path } => {
                let said = format!("checkpoint at step {step}: {}", path.display());
                self.model = Some(path);
                Some(Action::Say(said))
            }
            TrainerEvent::Paused { step } => {
                self.phase = TrainingPhase::Paused;
                Some(Action::Say(format!("training paused at step {step}")))
            }
            TrainerEvent::Resumed { step } => {
                self.phase = TrainingPhase::Running;
                Some(Action::Say(format!("training resumed at step {step}")))
            }
            TrainerEvent::Warning(w) => Some(Action::Error(w)),
            TrainerEvent::Finished { step, stopped } => {
                self.phase = TrainingPhase::Finished;
                if let Some(run) = self.run.take() {
                    run.join();
                }
                Some(Action::Say(format!(
                    "training {} at step {step}",
                    if stopped { "stopped" } else { "finished" }
                )))
            }
            TrainerEvent::Failed(e) => {
                self.phase = TrainingPhase::Failed;
                self.run = None;
                Some(Action::Error(format!("training failed: {e}")))
            }
        }
    }

    fn session_dir(&self) -> PathBuf {
        self.sessions_dir.join(&self.session)
    }

    pub fn phase(&self) -> TrainingPhase {
        self.phase
    }

    pub fn step(&self) -> u64 {
        self.step
    }

    pub fn target(&self) -> u64 {
        self.target
    }

    pub fn items_per_second(&self) -> f64 {
        self.items_per_second
    }

    pub fn session(&self) -> &str {
        &self.session
    }

    pub fn model(&self) -> Option<&Path> {
        self.model.as_deref()
    }
}
