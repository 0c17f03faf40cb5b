//! The watch loop: file-system events (notify, debounced) and the start-up scan feed the
//! stability tracker; settled files are queued and handed to at most `jobs` workers sharing one
//! loaded model; the loop logs every outcome and stops when asked (after the jobs in flight) or,
//! with `once`, when the backlog is done.

use std::collections::{HashSet, VecDeque};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use notify_debouncer_full::notify::event::{
    AccessKind, AccessMode, EventKind, ModifyKind, RenameMode,
};
use notify_debouncer_full::notify::{self, RecommendedWatcher, RecursiveMode};
use notify_debouncer_full::{
    new_debouncer, new_debouncer_opt, DebounceEventResult, Debouncer, NoCache, RecommendedCache,
};
use tracing::{debug, info, warn};

use crate::error::{Error, Result};
use crate::transcribe::export::OutputFormat;

use super::fingerprint::stamp_of;
use super::inputs::{InputFilter, NotInput};
use super::job::{process, Engine, Outcome, Workspace};
use super::journal::{relative_key, Journal, JOURNAL_FILE, LOCK_FILE};
use super::settings::WatchSettings;
use super::stability::StabilityTracker;

/// How often the loop looks at waiting files and at the stop flag.
const TICK: Duration = Duration::from_millis(100);

/// What to watch and how.
#[derive(Debug, Clone)]
pub struct WatchOptions {
    pub root: PathBuf,
    /// Output folder; `None` writes outputs beside the inputs.
    pub out_dir: Option<PathBuf>,
    pub recursive: bool,
    /// Process the backlog, then return.
    pub once: bool,
    /// Leave the files present at start-up alone (only changes from now on count).
    pub new_only: bool,
    /// Replace files in the way of an output that are not this watcher's own.
    pub force: bool,
    pub formats: Vec<OutputFormat>,
    pub settings: WatchSettings,
}

/// Counts of what the watcher did, by outcome.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Summary {
    pub transcribed: usize,
    pub up_to_date: usize,
    pub failed: usize,
    /// Inputs that failed in an earlier run and have not changed since (not retried).
    pub failed_earlier: usize,
    /// Inputs deleted before they were processed.
    pub gone: usize,
    /// Files in the folder that are not audio (ignored).
    pub not_audio: usize,
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} transcribed, {} up to date, {} failed, {} failed earlier (unchanged), \
             {} gone before processing, {} not audio",
            self.transcribed,
            self.up_to_date,
            self.failed,
            self.failed_earlier,
            self.gone,
            self.not_audio
        )
    }
}

enum Msg {
    Fs(DebounceEventResult),
    Done(PathBuf, Outcome),
}

/// Keeps the notification source alive; dropping it stops the events.
#[allow(dead_code)]
enum EventSource {
    Native(Debouncer<RecommendedWatcher, RecommendedCache>),
    Poll(Debouncer<notify::PollWatcher, NoCache>),
}

fn start_events(
    root: &Path,
    recursive: bool,
    settings: &WatchSettings,
    tx: mpsc::Sender<Msg>,
) -> Result<EventSource> {
    let timeout = Duration::from_secs_f64(settings.debounce_seconds);
    let handler = move |r: DebounceEventResult| {
        let _ = tx.send(Msg::Fs(r));
    };
    let fail =
        |e: notify::Error| Error::io(root, std::io::Error::other(format!("cannot watch: {e}")));
    let mode = if recursive {
        RecursiveMode::Recursive
    } else {
        RecursiveMode::NonRecursive
    };
    if settings.poll {
        let config = notify::Config::default()
            .with_poll_interval(Duration::from_secs_f64(settings.poll_seconds));
        let mut d = new_debouncer_opt::<_, notify::PollWatcher, NoCache>(
            timeout, None, handler, NoCache, config,
        )
        .map_err(fail)?;
        d.watch(root, mode).map_err(fail)?;
        Ok(EventSource::Poll(d))
    } else {
        let mut d = new_debouncer(timeout, None, handler).map_err(fail)?;
        d.watch(root, mode).map_err(fail)?;
        Ok(EventSource::Native(d))
    }
}

/// A folder that must exist, made canonical so that event paths and keys compare.
fn canonical_folder(path: &Path, create: bool) -> Result<PathBuf> {
    if create {
        std::fs::create_dir_all(path).map_err(|e| Error::io(path, e))?;
    }
    let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
    if !meta.is_dir() {
        return Err(Error::io(
            path,
            std::io::Error::other("not a folder (give a folder)"),
        ));
    }
    std::fs::canonicalize(path).map_err(|e| Error::io(path, e))
}

/// The loop's state (everything but the workers).
struct Watch<'a> {
    ws: &'a Workspace,
    filter: InputFilter,
    journal: &'a Mutex<Journal>,
    tracker: StabilityTracker,
    queue: VecDeque<PathBuf>,
    queued: HashSet<PathBuf>,
    in_flight: HashSet<PathBuf>,
    reported_not_audio: HashSet<PathBuf>,
    summary: Summary,
}

impl Watch<'_> {
    fn key(&self, path: &Path) -> String {
        relative_key(&self.ws.root, path).unwrap_or_else(|| path.display().to_string())
    }

    /// Starts waiting for every input below `dir`.
    fn scan(&mut self, dir: &Path) {
        let (inputs, not_audio) = self.filter.scan(dir);
        for p in not_audio {
            self.note_not_audio(p);
        }
        for p in inputs {
            self.tracker.notice(p);
        }
    }

    fn note_not_audio(&mut self, path: PathBuf) {
        // The watcher's own outputs and journal (when they live in the watched folder) are not
        // news; anything else is reported once.
        if let Some(rel) = relative_key(&self.ws.out_dir, &path) {
            if rel == JOURNAL_FILE
                || rel == LOCK_FILE
                || self.journal_lock().owner_of(&rel).is_some()
            {
                return;
            }
        }
        if self.reported_not_audio.insert(path.clone()) {
            self.summary.not_audio += 1;
            info!("{}: skipped: not an audio file", self.key(&path));
        }
    }

    fn journal_lock(&self) -> std::sync::MutexGuard<'_, Journal> {
        self.journal.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn consider(&mut self, path: &Path) {
        if path.is_dir() {
            // A folder created or moved in: its files may predate the watch on it.
            if path != self.ws.root && self.filter.walks_into(path) {
                self.scan(path);
            }
            return;
        }
        match self.filter.check(path) {
            Ok(()) => self.tracker.notice(path.to_path_buf()),
            Err(NotInput::NotAudio) if path.is_file() => self.note_not_audio(path.to_path_buf()),
            Err(_) => {}
        }
    }

    fn on_events(&mut self, result: DebounceEventResult) {
        let events = match result {
            Ok(events) => events,
            Err(errors) => {
                for e in errors {
                    warn!("watching {}: {e}; rescanning", self.ws.root.display());
                }
                let root = self.ws.root.clone();
                self.scan(&root);
                return;
            }
        };
        for ev in events {
            if ev.need_rescan() {
                warn!("{}: events were lost; rescanning", self.ws.root.display());
                let root = self.ws.root.clone();
                self.scan(&root);
            }
            match ev.kind {
                EventKind::Remove(_) | EventKind::Modify(ModifyKind::Name(RenameMode::From)) => {
                    for p in &ev.paths {
                        self.tracker.forget(p);
                    }
                }
                EventKind::Modify(ModifyKind::Name(RenameMode::Both)) if ev.paths.len() == 2 => {
                    self.tracker.forget(&ev.paths[0]);
                    self.consider(&ev.paths[1]);
                }
                EventKind::Create(_)
                | EventKind::Modify(_)
                | EventKind::Access(AccessKind::Close(AccessMode::Write))
                | EventKind::Any => {
                    for p in &ev.paths {
                        self.consider(p);
                    }
                }
                _ => {}
            }
        }
    }

    fn on_done(&mut self, path: PathBuf, outcome: Outcome) {
        self.in_flight.remove(&path);
        let key = self.key(&path);
        match outcome {
            Outcome::Transcribed {
                reason,
                seconds,
                audio_seconds,
                events,
                outputs,
            } => {
                self.summary.transcribed += 1;
                let names: Vec<String> = outputs
                    .iter()
                    .map(|p| {
                        relative_key(&self.ws.out_dir, p).unwrap_or_else(|| p.display().to_string())
                    })
                    .collect();
                info!(
                    "{key}: transcribed ({}) in {seconds:.2} s: {audio_seconds:.1} s of audio, \
                     {events} events -> {}",
                    reason.label(),
                    names.join(", ")
                );
            }
            Outcome::UpToDate { touched } => {
                self.summary.up_to_date += 1;
                info!(
                    "{key}: skipped: up to date{}",
                    if touched {
                        " (modification time changed, content did not)"
                    } else {
                        ""
                    }
                );
            }
            Outcome::FailedEarlier { error } => {
                self.summary.failed_earlier += 1;
                info!("{key}: skipped: failed earlier and unchanged since ({error})");
            }
            Outcome::Failed { error, recorded } => {
                self.summary.failed += 1;
                if recorded {
                    warn!("{key}: failed: {error} (recorded; retried when the file changes)");
                } else {
                    warn!("{key}: failed: {error} (retried at the next start)");
                }
            }
            Outcome::Gone => {
                self.summary.gone += 1;
                info!("{key}: skipped: deleted before it was processed");
            }
            Outcome::ChangedMeanwhile => {
                info!("{key}: changed while it was read; waiting for it to settle again");
                self.tracker.notice(path);
            }
        }
    }

    fn poll_settled(&mut self) {
        let settled = self
            .tracker
            .poll(Instant::now(), SystemTime::now(), stamp_of);
        for p in settled.gone {
            self.summary.gone += 1;
            info!("{}: skipped: deleted before it was processed", self.key(&p));
        }
        for p in settled.ready {
            if self.queued.insert(p.clone()) {
                self.queue.push_back(p);
            }
        }
    }

    /// The next queued path that is not in flight already (a file that changed while its job
    /// ran waits for that job).
    fn next_job(&mut self) -> Option<PathBuf> {
        let i = self
            .queue
            .iter()
            .position(|p| !self.in_flight.contains(p))?;
        let p = self.queue.remove(i)?;
        self.queued.remove(&p);
        self.in_flight.insert(p.clone());
        Some(p)
    }

    fn idle(&self) -> bool {
        self.tracker.is_empty() && self.queue.is_empty() && self.in_flight.is_empty()
    }
}

/// [`crate::atomic_file::remove_stale_temp_files`] in `dir` and every folder below it (outputs
/// mirror the watched folder's sub-folders).
fn remove_stale_temp_files_below(dir: &Path) -> usize {
    let mut removed = crate::atomic_file::remove_stale_temp_files(dir);
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            // Not through symbolic links: they may lead out of the output folder.
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                removed += remove_stale_temp_files_below(&entry.path());
            }
        }
    }
    removed
}

/// Watches `opts.root` until `stop` is set (or, with `opts.once`, until the backlog is done),
/// transcribing with `engine`. Returns the counts of what was done.
pub fn watch(opts: &WatchOptions, engine: &Engine, stop: &AtomicBool) -> Result<Summary> {
    opts.settings.validate("watch")?;
    let root = canonical_folder(&opts.root, false)?;
    let out_dir = match &opts.out_dir {
        Some(d) => canonical_folder(d, true)?,
        None => root.clone(),
    };
    let journal = Mutex::new(Journal::open(&out_dir)?);
    let stale = remove_stale_temp_files_below(&out_dir);
    if stale > 0 {
        info!(
            "{}: removed {stale} temporary file(s) left by a killed run",
            out_dir.display()
        );
    }
    let (tx, rx) = mpsc::channel::<Msg>();
    // Events first, scan second: a file arriving during the scan is seen by one or the other.
    let _events = if opts.once {
        None
    } else {
        Some(start_events(
            &root,
            opts.recursive,
            &opts.settings,
            tx.clone(),
        )?)
    };
    let ws = Workspace {
        root: root.clone(),
        out_dir: out_dir.clone(),
        formats: opts.formats.clone(),
        force: opts.force,
    };
    let mut w = Watch {
        ws: &ws,
        filter: InputFilter::new(root.clone(), &out_dir, opts.recursive),
        journal: &journal,
        tracker: StabilityTracker::new(Duration::from_secs_f64(opts.settings.stable_seconds)),
        queue: VecDeque::new(),
        queued: HashSet::new(),
        in_flight: HashSet::new(),
        reported_not_audio: HashSet::new(),
        summary: Summary::default(),
    };
    if !opts.new_only {
        w.scan(&root);
    }
    info!(
        "watching {}{} -> {} (journal {} entries); model {} ({}); {} file(s) at start{}",
        root.display(),
        if opts.recursive {
            " and its sub-folders"
        } else {
            ""
        },
        out_dir.display(),
        w.journal_lock().len(),
        engine.info.path,
        engine.identity.model,
        w.tracker.len(),
        if opts.new_only {
            " (not processed: --new-only)"
        } else {
            ""
        },
    );

    let jobs = opts.settings.jobs;
    let (job_tx, job_rx) = mpsc::channel::<PathBuf>();
    let job_rx = Mutex::new(job_rx);
    let mut backlog_reported = false;
    std::thread::scope(|s| {
        for _ in 0..jobs {
            let tx = tx.clone();
            let (job_rx, ws, journal) = (&job_rx, &ws, &journal);
            s.spawn(move || loop {
                let next = job_rx.lock().unwrap_or_else(|e| e.into_inner()).recv();
                let Ok(path) = next else { break };
                let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    process(engine, ws, journal, &path)
                }))
                .unwrap_or_else(|_| Outcome::Failed {
                    error: format!(
                        "{}: internal error (panic) while transcribing",
                        path.display()
                    ),
                    recorded: false,
                });
                if tx.send(Msg::Done(path, outcome)).is_err() {
                    break;
                }
            });
        }
        let mut stopping = false;
        loop {
            match rx.recv_timeout(TICK) {
                Ok(m) => handle(&mut w, m),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
            while let Ok(m) = rx.try_recv() {
                handle(&mut w, m);
            }
            if stop.load(Ordering::SeqCst) && !stopping {
                stopping = true;
                info!(
                    "stopping: finishing {} job(s) in flight, {} queued left for the next start",
                    w.in_flight.len(),
                    w.queue.len() + w.tracker.len()
                );
            }
            if !stopping {
                w.poll_settled();
                while w.in_flight.len() < jobs {
                    let Some(p) = w.next_job() else { break };
                    debug!("{}: started", w.key(&p));
                    if job_tx.send(p).is_err() {
                        break;
                    }
                }
            }
            if w.idle() && !backlog_reported {
                backlog_reported = true;
                info!("backlog done: {}", w.summary);
            }
            if w.in_flight.is_empty() && (stopping || (opts.once && w.idle())) {
                break;
            }
        }
        drop(job_tx);
    });
    Ok(w.summary)
}

fn handle(w: &mut Watch<'_>, m: Msg) {
    match m {
        Msg::Fs(r) => w.on_events(r),
        Msg::Done(p, o) => w.on_done(p, o),
    }
}
