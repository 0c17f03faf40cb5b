//! A small deterministic mutation fuzzer on stable Rust (cargo-fuzz needs nightly): each target
//! gets its seed files and random inputs, mutated (`crate::mutate`), written to a file and run
//! through the target's real entry points. A panic is a crash; an error that is not one line
//! naming the input file is an unclear error. Both keep the input for replay. Inputs that give
//! a new kind of outcome or error join the target's pool, so mutations build on them.

use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::mutate::{mutate, random_input};

/// What one execution of a target gave: an outcome label, or an error message.
pub type Outcome = Result<String, String>;

pub trait Target {
    fn name(&self) -> &'static str;
    /// Valid files to mutate, as (extension, bytes).
    fn seeds(&self) -> Vec<(String, Vec<u8>)>;
    /// Extensions random inputs and renamed mutants get.
    fn extensions(&self) -> Vec<&'static str>;
    /// Runs the input file through the target's entry points.
    fn exec(&self, input: &Path) -> Outcome;
    /// Whether an error message names its subject well enough (default: the input's name).
    fn error_is_clear(&self, input: &Path, message: &str) -> bool {
        let name = input
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        !message.is_empty() && !message.contains('\n') && message.contains(&name)
    }
    /// Largest input produced.
    fn max_len(&self) -> usize {
        64 * 1024
    }
}

/// A finding worth a look: the input is kept under the crash folder (when one is given).
#[derive(Debug, Clone)]
pub struct Finding {
    pub target: &'static str,
    pub kind: &'static str,
    pub message: String,
    pub input: Option<PathBuf>,
}

#[derive(Debug, Default, Clone)]
pub struct TargetStats {
    pub executions: u64,
    pub ok: u64,
    pub errors: u64,
    pub pool: usize,
    pub slowest: Duration,
}

#[derive(Debug, Default)]
pub struct Report {
    pub executions: u64,
    pub elapsed: Duration,
    pub targets: BTreeMap<&'static str, TargetStats>,
    /// (target, normalised message or outcome) -> count.
    pub outcomes: BTreeMap<(String, String), u64>,
    pub crashes: Vec<Finding>,
    pub unclear: Vec<Finding>,
}

impl Report {
    pub fn unique_errors(&self) -> usize {
        self.outcomes
            .keys()
            .filter(|(_, o)| o.starts_with("error: "))
            .count()
    }

    pub fn summary(&self) -> String {
        let mut s = format!(
            "fuzz: {} executions in {:.0} s, {} unique errors, {} crashes, {} unclear errors\n",
            self.executions,
            self.elapsed.as_secs_f64(),
            self.unique_errors(),
            self.crashes.len(),
            self.unclear.len()
        );
        for (name, t) in &self.targets {
            s.push_str(&format!(
                "  {name}: {} executions ({} ok, {} errors), pool {}, slowest {:.2} s\n",
                t.executions,
                t.ok,
                t.errors,
                t.pool,
                t.slowest.as_secs_f64()
            ));
        }
        for f in self.crashes.iter().chain(&self.unclear) {
            s.push_str(&format!(
                "  {} in {}: {} ({})\n",
                f.kind,
                f.target,
                f.message,
                f.input
                    .as_ref()
                    .map_or("input not kept".into(), |p| p.display().to_string())
            ));
        }
        s
    }
}

pub struct Options {
    pub seed: u64,
    pub duration: Duration,
    /// Where crashing inputs are copied (none: not kept).
    pub crash_dir: Option<PathBuf>,
    /// Scratch folder for the input files and outputs.
    pub work_dir: PathBuf,
    /// Print a progress line this often (None: quiet).
    pub progress_every: Option<Duration>,
}

/// The last panic's message and location, captured by the hook while fuzzing.
static PANIC: Mutex<Option<String>> = Mutex::new(None);

/// Runs every target in turn until `opts.duration` has passed.
pub fn run(targets: &[Box<dyn Target>], opts: &Options) -> Report {
    let mut rng = ChaCha8Rng::seed_from_u64(opts.seed);
    let previous_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|info| {
        let text = info.to_string().replace('\n', " ");
        if let Ok(mut p) = PANIC.lock() {
            *p = Some(text);
        }
    }));
    let watchdog = Watchdog::start();
    let mut pools: Vec<Vec<(String, Vec<u8>)>> = targets.iter().map(|t| t.seeds()).collect();
    let magics: Vec<Vec<Vec<u8>>> = pools
        .iter()
        .map(|p| {
            p.iter()
                .map(|(_, b)| b[..b.len().min(16)].to_vec())
                .collect()
        })
        .collect();
    let mut report = Report::default();
    let start = Instant::now();
    let mut last_progress = Instant::now();
    'outer: loop {
        for (ti, target) in targets.iter().enumerate() {
            if start.elapsed() >= opts.duration {
                break 'outer;
            }
            let (ext, bytes) = next_input(&mut rng, target.as_ref(), &pools[ti], &magics[ti]);
            let input = opts.work_dir.join(format!("input-{}.{ext}", target.name()));
            if std::fs::write(&input, &bytes).is_err() {
                continue;
            }
            let t0 = Instant::now();
            watchdog.arm(&input);
            let result = catch_unwind(AssertUnwindSafe(|| target.exec(&input)));
            watchdog.disarm();
            let took = t0.elapsed();
            // A panic caught inside the code under test still printed its message to stderr
            // (the default hook runs before unwinding): for a user that is a crash report.
            let caught_inside = if result.is_ok() {
                PANIC.lock().ok().and_then(|mut p| p.take())
            } else {
                None
            };
            if let Some(message) = caught_inside {
                let kept = keep(opts, target.name(), &ext, &bytes);
                report.crashes.push(Finding {
                    target: target.name(),
                    kind: "panic caught inside",
                    message,
                    input: kept,
                });
            }
            let stats = report.targets.entry(target.name()).or_default();
            stats.executions += 1;
            stats.slowest = stats.slowest.max(took);
            report.executions += 1;
            let label = match result {
                Err(_) => {
                    let message = PANIC
                        .lock()
                        .ok()
                        .and_then(|mut p| p.take())
                        .unwrap_or_else(|| "panic".into());
                    let kept = keep(opts, target.name(), &ext, &bytes);
                    report.crashes.push(Finding {
                        target: target.name(),
                        kind: "crash",
                        message: message.clone(),
                        input: kept,
                    });
                    format!("panic: {}", normalise(&message, &input))
                }
                Ok(Ok(outcome)) => {
                    stats.ok += 1;
                    format!("ok: {outcome}")
                }
                Ok(Err(message)) => {
                    stats.errors += 1;
                    if !target.error_is_clear(&input, &message) {
                        let kept = keep(opts, target.name(), &ext, &bytes);
                        report.unclear.push(Finding {
                            target: target.name(),
                            kind: "unclear error",
                            message: message.clone(),
                            input: kept,
                        });
                    }
                    format!("error: {}", normalise(&message, &input))
                }
            };
            let count = report
                .outcomes
                .entry((target.name().to_string(), label))
                .or_default();
            *count += 1;
            // A first-seen outcome makes the input a parent for later mutations.
            if *count == 1 && pools[ti].len() < 2000 {
                pools[ti].push((ext, bytes));
            }
            stats.pool = pools[ti].len();
        }
        if let Some(every) = opts.progress_every {
            if last_progress.elapsed() >= every {
                last_progress = Instant::now();
                println!(
                    "fuzz: {:.0} s, {} executions, {} unique errors, {} crashes, {} unclear",
                    start.elapsed().as_secs_f64(),
                    report.executions,
                    report.unique_errors(),
                    report.crashes.len(),
                    report.unclear.len()
                );
            }
        }
    }
    report.elapsed = start.elapsed();
    drop(watchdog);
    std::panic::set_hook(previous_hook);
    report
}

fn next_input(
    rng: &mut ChaCha8Rng,
    target: &dyn Target,
    pool: &[(String, Vec<u8>)],
    magics: &[Vec<u8>],
) -> (String, Vec<u8>) {
    let exts = target.extensions();
    let random_ext = |rng: &mut ChaCha8Rng| exts[rng.random_range(0..exts.len())].to_string();
    if pool.is_empty() || rng.random_bool(0.05) {
        let magic_refs: Vec<&[u8]> = magics.iter().map(Vec::as_slice).collect();
        let ext = random_ext(rng);
        return (ext, random_input(rng, &magic_refs, target.max_len()));
    }
    let (ext, parent) = &pool[rng.random_range(0..pool.len())];
    let partners: Vec<&[u8]> = (0..2)
        .map(|_| pool[rng.random_range(0..pool.len())].1.as_slice())
        .collect();
    let bytes = mutate(rng, parent, &partners, target.max_len());
    // Sometimes the wrong extension: probing must not trust the name.
    let ext = if rng.random_bool(0.1) {
        random_ext(rng)
    } else {
        ext.clone()
    };
    (ext, bytes)
}

/// The message with the input's path and every number blotted out, so that errors differing
/// only in offsets count once.
fn normalise(message: &str, input: &Path) -> String {
    let text = message.replace(&input.display().to_string(), "<input>");
    let mut out = String::with_capacity(text.len());
    let mut in_number = false;
    for c in text.chars() {
        if c.is_ascii_digit() {
            if !in_number {
                out.push('#');
            }
            in_number = true;
        } else {
            in_number = false;
            out.push(c);
        }
    }
    out
}

fn keep(opts: &Options, target: &str, ext: &str, bytes: &[u8]) -> Option<PathBuf> {
    let dir = opts.crash_dir.as_ref()?;
    std::fs::create_dir_all(dir).ok()?;
    let hash = bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
    });
    let path = dir.join(format!("{target}-{hash:016x}.{ext}"));
    std::fs::write(&path, bytes).ok()?;
    Some(path)
}

/// Ends the process, naming the input, when one execution hangs: a hang is a finding too, and
/// an in-process fuzzer cannot interrupt it otherwise.
struct Watchdog {
    epoch: Instant,
    /// Milliseconds since `epoch` (plus one) when the running execution started; 0 = idle.
    armed_at_ms: Arc<AtomicU64>,
    input: Arc<Mutex<PathBuf>>,
    stop: Arc<AtomicBool>,
}

const HANG: Duration = Duration::from_secs(120);

impl Watchdog {
    fn start() -> Watchdog {
        let w = Watchdog {
            epoch: Instant::now(),
            armed_at_ms: Arc::new(AtomicU64::new(0)),
            input: Arc::new(Mutex::new(PathBuf::new())),
            stop: Arc::new(AtomicBool::new(false)),
        };
        let (epoch, armed, input, stop) = (
            w.epoch,
            w.armed_at_ms.clone(),
            w.input.clone(),
            w.stop.clone(),
        );
        let _ = std::thread::Builder::new()
            .name("fuzz-watchdog".into())
            .spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(500));
                    let at = armed.load(Ordering::Relaxed);
                    let now = epoch.elapsed().as_millis() as u64 + 1;
                    if at > 0 && now.saturating_sub(at) > HANG.as_millis() as u64 {
                        let path = input.lock().map(|p| p.clone()).unwrap_or_default();
                        eprintln!("fuzz: hang over {} s on {}", HANG.as_secs(), path.display());
                        std::process::exit(3);
                    }
                }
            });
        w
    }

    fn arm(&self, input: &Path) {
        if let Ok(mut p) = self.input.lock() {
            *p = input.to_path_buf();
        }
        self.armed_at_ms.store(
            self.epoch.elapsed().as_millis() as u64 + 1,
            Ordering::Relaxed,
        );
    }

    fn disarm(&self) {
        self.armed_at_ms.store(0, Ordering::Relaxed);
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}
