//! Owns the real terminal: raw mode and the alternate screen, restored on every exit path
//! (including a panic on the UI thread; see [`install_panic_hook`]); stderr sent to the log
//! file while the workbench runs, because ALSA and any stray message would otherwise scribble
//! over the screen; the loop, which draws, then waits on the workbench's one event channel
//! (fed by the input thread here, the jobs, the trainer and the sound card) for at most a
//! frame's time.

use std::fs::File;
use std::io::stdout;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossterm::event::{DisableMouseCapture, EnableMouseCapture};
use crossterm::execute;

use super::app::{App, AppOptions};
use super::{event, views};
use crate::audio::playback::AudioSink;
use crate::error::{Error, Result};

/// Redraw at least this often (playhead, progress) even when no event arrives.
const TICK: Duration = Duration::from_millis(50);

/// Runs the workbench until the user quits. `log` receives stderr (and thus tracing output).
pub fn run(opts: AppOptions, log: &Path) -> Result<()> {
    let log_file = File::create(log).map_err(|e| Error::io(log, e))?;
    let saved = stderr_redirect::to(&log_file);
    let mut terminal = ratatui::init();
    let _ = execute!(stdout(), EnableMouseCapture);
    install_panic_hook(move || {
        let _ = execute!(stdout(), DisableMouseCapture);
        stderr_redirect::restore(saved);
    });
    let mut app = App::new(opts, sound_card());
    let result = event_loop(&mut terminal, &mut app);
    let _ = execute!(stdout(), DisableMouseCapture);
    ratatui::restore();
    stderr_redirect::restore(saved);
    result
}

/// Chains a panic hook over the current one (ratatui's, which leaves the alternate screen and
/// raw mode, then prints the panic). A panic on the calling (UI) thread runs `restore` and then
/// that hook, so the message lands on a usable terminal. A panic on any other thread (a job, the
/// trainer, the player) is only written to stderr, which is the log file while the workbench
/// runs: the UI goes on, and must keep its screen (jobs report the panic as a failed job).
pub fn install_panic_hook(restore: impl Fn() + Send + Sync + 'static) {
    let ui = std::thread::current().id();
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let here = std::thread::current();
        if here.id() == ui {
            restore();
            previous(info);
        } else {
            eprintln!("thread '{}' {info}", here.name().unwrap_or("unnamed"));
        }
    }));
}

fn event_loop(terminal: &mut ratatui::DefaultTerminal, app: &mut App) -> Result<()> {
    let io = |e: std::io::Error| Error::Invalid(format!("terminal: {e}"));
    // The keyboard and mouse feed the same channel as the jobs, the trainer and the sound card.
    let stop = Arc::new(AtomicBool::new(false));
    let input = event::spawn_input(app.events(), stop.clone()).map_err(io)?;
    let mut result = Ok(());
    while !app.should_quit() {
        let t0 = Instant::now();
        if let Err(e) = terminal.draw(|f| views::draw(f, app)) {
            result = Err(io(e));
            break;
        }
        app.note_frame_time(t0.elapsed());
        app.pump_for(TICK);
    }
    stop.store(true, Ordering::Release);
    let _ = input.join();
    match app.input_failure() {
        Some(e) => Err(Error::Invalid(format!("terminal: {e}"))),
        None => result,
    }
}

#[cfg(unix)]
mod stderr_redirect {
    use std::fs::File;
    use std::os::fd::AsRawFd;

    extern "C" {
        fn dup(fd: i32) -> i32;
        fn dup2(from: i32, to: i32) -> i32;
    }

    /// Points fd 2 at `file`; returns the saved original (or -1).
    pub fn to(file: &File) -> i32 {
        // SAFETY: plain POSIX calls on valid descriptors; failures are reported as -1 and then
        // the redirection is simply skipped.
        unsafe {
            let saved = dup(2);
            if saved >= 0 && dup2(file.as_raw_fd(), 2) < 0 {
                return -1;
            }
            saved
        }
    }

    pub fn restore(saved: i32) {
        if saved >= 0 {
            // SAFETY: `saved` came from dup above.
            unsafe {
                dup2(saved, 2);
            }
        }
    }
}

#[cfg(not(unix))]
mod stderr_redirect {
    pub fn to(_file: &std::fs::File) -> i32 {
        -1
    }
    pub fn restore(_saved: i32) {}
}

/// The system's sound card, or silence in a build without the `playback` feature.
fn sound_card() -> Box<dyn AudioSink> {
    #[cfg(feature = "playback")]
    return Box::new(crate::audio::playback::CpalSink);
    #[cfg(not(feature = "playback"))]
    Box::new(crate::audio::playback::NoSink(
        "built without the `playback` feature: no sound".into(),
    ))
}
