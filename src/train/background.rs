//! The trainer thread: runs a [`Training`] in a session folder, obeys typed commands (pause,
//! resume, stop, checkpoint now) and reports typed events. The CLI and the workbench both drive
//! training through this, and neither ever blocks on it.

use std::path::PathBuf;
use std::sync::mpsc::{self, Receiver, Sender, TryRecvError};
use std::thread::JoinHandle;

use candle_core::Device;

use crate::config::Config;
use crate::error::Result;
use crate::train::session::{LossRow, Session};
use crate::train::trainer::{DataSpec, StepReport, Training};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrainerCommand {
    Pause,
    Resume,
    /// Write a checkpoint and finish.
    Stop,
    /// Write a checkpoint now and go on.
    Checkpoint,
}

#[derive(Debug, Clone)]
pub enum TrainerEvent {
    Started {
        session: String,
        step: u64,
        target_steps: u64,
    },
    Step(StepReport),
    Waveforms {
        step: u64,
        names: Vec<String>,
        samples: Vec<Vec<f32>>,
    },
    Checkpoint {
        step: u64,
        path: PathBuf,
    },
    Paused {
        step: u64,
    },
    Resumed {
        step: u64,
    },
    /// Something went wrong but training goes on (e.g. a checkpoint could not be written).
    Warning(String),
    Finished {
        step: u64,
        stopped: bool,
    },
    Failed(String),
}

/// What to train, where.
#[derive(Debug, Clone)]
pub struct TrainJob {
    pub config: Config,
    pub data: DataSpec,
    pub sessions_root: PathBuf,
    pub session: String,
    pub resume: bool,
    /// Train until this step count is reached.
    pub target_steps: u64,
    pub device: Device,
}

/// A trainer started with [`spawn`]: its commands, and its events on a channel of their own
/// (the CLI reads them).
pub struct TrainerHandle {
    pub control: TrainerControl,
    pub events: Receiver<TrainerEvent>,
}

/// A running trainer's command sender and thread. Dropping every sender is what the trainer
/// takes as Stop (it checkpoints first).
pub struct TrainerControl {
    commands: Sender<TrainerCommand>,
    join: Option<JoinHandle<()>>,
}

impl TrainerControl {
    pub fn send(&self, cmd: TrainerCommand) {
        // The thread may have finished already; then there is nobody to obey, which is fine.
        let _ = self.commands.send(cmd);
    }

    /// A second command sender (e.g. for a Ctrl-C handler).
    pub fn commands(&self) -> Sender<TrainerCommand> {
        self.commands.clone()
    }

    /// Waits for the thread to end (this sender stays alive meanwhile: send Stop first to
    /// end a run early).
    pub fn join(mut self) {
        if let Some(j) = self.join.take() {
            let _ = j.join();
        }
    }
}

/// Where a trainer's events go: a channel of its own ([`spawn`]) or a caller's (the
/// workbench maps them into its one event channel, [`spawn_with`]).
pub type EventSink = Box<dyn Fn(TrainerEvent) + Send>;

/// Consecutive non-finite losses after which the run gives up (the last checkpoint stays valid).
const MAX_NON_FINITE: u32 = 20;

/// candle's backward pass walks the graph recursively. On CUDA the recurrences are composed
/// of one small op per time step, ~50 k nodes deep for a 2-s segment, and the default 2-MiB
/// thread stack overflowed; this is address space, touched only as deep as the walk goes.
const TRAINER_STACK_BYTES: usize = 1 << 30;

/// Starts training on its own thread, its events on a channel of their own.
pub fn spawn(job: TrainJob) -> TrainerHandle {
    let (tx, events) = mpsc::channel();
    let control = spawn_with(
        job,
        Box::new(move |e| {
            let _ = tx.send(e);
        }),
    );
    TrainerHandle { control, events }
}

/// Starts training on its own thread, every event handed to `sink`.
pub fn spawn_with(job: TrainJob, sink: EventSink) -> TrainerControl {
    let (commands, cmd_rx) = mpsc::channel();
    let join = std::thread::Builder::new()
        .name("trainer".into())
        .stack_size(TRAINER_STACK_BYTES)
        .spawn(move || {
            // A panic would otherwise end the thread without a word to the CLI or workbench
            // waiting on its events.
            let outcome =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(job, &cmd_rx, &sink)));
            let failure = match outcome {
                Ok(Ok(())) => None,
                Ok(Err(e)) => Some(e.to_string()),
                Err(panic) => Some(format!(
                    "internal error: {} (the last checkpoint is kept)",
                    crate::error::panic_message(panic.as_ref())
                )),
            };
            if let Some(message) = failure {
                sink(TrainerEvent::Failed(message));
            }
        })
        .ok();
    TrainerControl { commands, join }
}

fn run(job: TrainJob, commands: &Receiver<TrainerCommand>, send: &EventSink) -> Result<()> {
    let session = Session::open(&job.sessions_root, &job.session, job.resume)?;
    let mut training = Training::new(&job.config, &job.data, &job.device)?;
    if job.resume {
        training.resume_from(&session.latest())?;
        session.truncate_loss_after(training.step_count())?;
    } else {
        session.write_config(&job.config.to_toml()?)?;
    }
    send(TrainerEvent::Started {
        session: session.name.clone(),
        step: training.step_count(),
        target_steps: job.target_steps,
    });
    let names = job.config.model.components.clone();
    send(TrainerEvent::Waveforms {
        step: training.step_count(),
        names: names.clone(),
        samples: training.waveforms()?,
    });

    let checkpoint = |training: &Training| -> Result<PathBuf> {
        let bytes = training.checkpoint_bytes()?;
        session.save_checkpoint(
            training.step_count(),
            &bytes,
            job.config.train.keep_checkpoints,
        )
    };
    let mut paused = false;
    let mut non_finite = 0;
    let mut last_saved = training.step_count();
    let mut stopped = false;
    while training.step_count() < job.target_steps {
        // Obey commands between steps; block only while paused.
        let cmd = if paused {
            match commands.recv() {
                Ok(c) => Some(c),
                Err(_) => Some(TrainerCommand::Stop),
            }
        } else {
            match commands.try_recv() {
                Ok(c) => Some(c),
                Err(TryRecvError::Empty) => None,
                // Nobody can command this run any more (the handle was dropped, e.g. the
                // workbench closed): stop with a checkpoint instead of training on unseen.
                Err(TryRecvError::Disconnected) => Some(TrainerCommand::Stop),
            }
        };
        match cmd {
            Some(TrainerCommand::Pause) if !paused => {
                paused = true;
                send(TrainerEvent::Paused {
                    step: training.step_count(),
                });
                continue;
            }
            Some(TrainerCommand::Resume) if paused => {
                paused = false;
                send(TrainerEvent::Resumed {
                    step: training.step_count(),
                });
            }
            Some(TrainerCommand::Stop) => {
                stopped = true;
                break;
            }
            Some(TrainerCommand::Checkpoint) => match checkpoint(&training) {
                Ok(path) => {
                    last_saved = training.step_count();
                    send(TrainerEvent::Checkpoint {
                        step: last_saved,
                        path,
                    });
                }
                Err(e) => send(TrainerEvent::Warning(format!(
                    "checkpoint not written: {e}"
                ))),
            },
            _ => {}
        }
        if paused {
            continue;
        }
        let report = training.step()?;
        if report.finite {
            non_finite = 0;
            session.append_loss(&[LossRow {
                step: report.step,
                seconds: report.seconds,
                loss: report.loss,
                per_scale: report.per_scale.clone(),
                items_per_second: report.items_per_second,
            }])?;
        } else {
            non_finite += 1;
            if non_finite >= MAX_NON_FINITE {
                return Err(crate::Error::Invalid(format!(
                    "loss was not finite for {MAX_NON_FINITE} steps in a row; stopped, last good checkpoint kept at step {last_saved}"
                )));
            }
            send(TrainerEvent::Warning(format!(
                "after step {}: loss or gradient not finite, update skipped ({non_finite} in a row)",
                report.step
            )));
            // Nothing changed: no waveforms to show, no checkpoint to write.
            send(TrainerEvent::Step(report));
            continue;
        }
        let step = report.step;
        send(TrainerEvent::Step(report));
        if step % job.config.train.waveforms_every == 0 {
            send(TrainerEvent::Waveforms {
                step,
                names: names.clone(),
                samples: training.waveforms()?,
            });
        }
        if step % job.config.train.checkpoint_every == 0 && step != last_saved {
            match checkpoint(&training) {
                Ok(path) => {
                    last_saved = step;
                    send(TrainerEvent::Checkpoint { step, path });
                }
                Err(e) => send(TrainerEvent::Warning(format!(
                    "checkpoint not written: {e}"
                ))),
            }
        }
    }
    if training.step_count() != last_saved {
        let path = checkpoint(&training)?;
        send(TrainerEvent::Checkpoint {
            step: training.step_count(),
            path,
        });
    }
    send(TrainerEvent::Finished {
        step: training.step_count(),
        stopped,
    });
    Ok(())
}
