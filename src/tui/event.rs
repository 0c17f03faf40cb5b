//! The one channel through which everything outside the UI thread reaches it: terminal input,
//! the jobs, the trainer and the sound card each send an [`AppEvent`] on a clone of one
//! `Sender` (bottom's `BottomEvent` shape), and the UI thread waits on the one receiver. The
//! trainer sends through a sink that wraps its events; the sound card, which has a channel of
//! its own, gets a small forwarding thread.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crossterm::event::Event;

use crate::audio::playback::SinkAnswer;
use crate::train::background::TrainerEvent;

use super::jobs::JobEvent;

#[derive(Debug)]
pub enum AppEvent {
    /// A key, mouse or resize event from the terminal.
    Input(Event),
    /// The terminal cannot be read any more: the workbench ends with this error.
    InputFailed(String),
    Job(JobEvent),
    Trainer(TrainerEvent),
    /// The sound card's news: opened or not, underruns, loss (or a heartbeat, see
    /// [`SinkAnswer`]).
    Sink(SinkAnswer),
}

/// How often the input thread looks whether the workbench has closed.
const INPUT_POLL: Duration = Duration::from_millis(50);

/// Reads the terminal on its own thread until `stop` is set or nobody listens any more.
pub fn spawn_input(tx: Sender<AppEvent>, stop: Arc<AtomicBool>) -> std::io::Result<JoinHandle<()>> {
    std::thread::Builder::new()
        .name("input".into())
        .spawn(move || {
            while !stop.load(Ordering::Acquire) {
                let next = crossterm::event::poll(INPUT_POLL)
                    .and_then(|ready| ready.then(crossterm::event::read).transpose());
                let event = match next {
                    Ok(Some(e)) => AppEvent::Input(e),
                    Ok(None) => continue,
                    Err(e) => AppEvent::InputFailed(e.to_string()),
                };
                let failed = matches!(event, AppEvent::InputFailed(_));
                if tx.send(event).is_err() || failed {
                    return;
                }
            }
        })
}

/// Passes the sound card's answers on. Its heartbeats are passed on too: a failed send is
/// how the forwarder, and through it the sound card's thread, learns that the workbench has
/// closed.
pub fn forward_sink(answers: Receiver<SinkAnswer>, tx: Sender<AppEvent>) {
    let spawned = std::thread::Builder::new()
        .name("sink events".into())
        .spawn(move || {
            for a in answers {
                if tx.send(AppEvent::Sink(a)).is_err() {
                    return;
                }
            }
        });
    if let Err(e) = spawned {
        tracing::warn!("sound card events thread: {e}");
    }
}
