//! The long fuzzing run: `cargo run --release --example fuzz -- --minutes 10 [--seed N]
//! [--crashes DIR]`. Prints executions, unique errors, crashes (inputs kept under `--crashes`,
//! default `target/fuzz-crashes`) and unclear errors; exits 1 when it found any. `--replay FILE`
//! runs kept inputs again. The engine and targets are the ones `tests/robustness/fuzz/` runs for a few
//! seconds.

#[path = "../tests/robustness/fuzz/engine.rs"]
mod engine;
#[path = "../tests/robustness/fuzz/mutate.rs"]
mod mutate;
#[path = "../tests/robustness/fuzz/targets.rs"]
mod targets;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

fn main() -> ExitCode {
    let mut minutes = 10.0f64;
    let mut seed = 1u64;
    let mut crashes = PathBuf::from("target/fuzz-crashes");
    let mut replay: Vec<PathBuf> = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let value = args.next();
        let parsed = match (a.as_str(), &value) {
            ("--minutes", Some(v)) => v.parse().map(|m| minutes = m).is_ok(),
            ("--seed", Some(v)) => v.parse().map(|s| seed = s).is_ok(),
            ("--crashes", Some(v)) => {
                crashes = PathBuf::from(v);
                true
            }
            ("--replay", Some(v)) => {
                replay.push(PathBuf::from(v));
                true
            }
            _ => false,
        };
        if !parsed {
            eprintln!("usage: fuzz [--minutes M] [--seed N] [--crashes DIR] [--replay FILE]...");
            return ExitCode::from(2);
        }
    }
    let work = match tempfile::tempdir() {
        Ok(w) => w,
        Err(e) => {
            eprintln!("fuzz: scratch folder: {e}");
            return ExitCode::FAILURE;
        }
    };
    if !replay.is_empty() {
        return replay_inputs(&replay, work.path());
    }
    println!(
        "fuzz: seed {seed}, {minutes} minutes, inputs in {}, crashes to {}",
        work.path().display(),
        crashes.display()
    );
    let targets = targets::all(work.path());
    let report = engine::run(
        &targets,
        &engine::Options {
            seed,
            duration: Duration::from_secs_f64(minutes * 60.0),
            crash_dir: Some(crashes),
            work_dir: work.path().to_path_buf(),
            progress_every: Some(Duration::from_secs(30)),
        },
    );
    print!("{}", report.summary());
    println!("unique outcomes:");
    for ((target, outcome), n) in &report.outcomes {
        println!("  {target:7} {n:7}  {outcome}");
    }
    if report.crashes.is_empty() && report.unclear.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Runs kept inputs (`<target>-<hash>.<ext>`, as the fuzzer names them) through their target
/// again, panics and all.
fn replay_inputs(inputs: &[PathBuf], work: &std::path::Path) -> ExitCode {
    let targets = targets::all(work);
    for input in inputs {
        let name = input
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let Some(target) = targets
            .iter()
            .find(|t| name.starts_with(&format!("{}-", t.name())))
        else {
            eprintln!("{name}: no target of that name");
            return ExitCode::from(2);
        };
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| target.exec(input)));
        println!("{name}: {outcome:?}");
    }
    ExitCode::SUCCESS
}
