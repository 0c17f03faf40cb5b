//! A short run of the mutation fuzzer (`tests/robustness/fuzz/`) over every target: decoding and
//! transcribing audio, reading and rendering MIDI, loading model files, reading onset lists and
//! config files. Any panic or any error that is not one line naming its file fails the test.
//! The long run is `cargo run --release --example fuzz -- --minutes 10`.

use crate::{engine, targets};

use std::time::Duration;

#[test]
fn mutated_and_random_inputs_never_panic_and_always_name_the_file() {
    let work = tempfile::tempdir().expect("scratch folder");
    let crashes = work.path().join("crashes");
    let opts = engine::Options {
        seed: 8,
        duration: Duration::from_secs(
            std::env::var("DRUMMERNET_FUZZ_SECONDS")
                .ok()
                .and_then(|s| s.parse().ok())
                .unwrap_or(6),
        ),
        crash_dir: Some(crashes),
        work_dir: work.path().to_path_buf(),
        progress_every: None,
    };
    let targets = targets::all(work.path());
    let report = engine::run(&targets, &opts);
    println!("{}", report.summary());
    assert!(
        report.crashes.is_empty() && report.unclear.is_empty(),
        "{}",
        report.summary()
    );
    for t in &targets {
        let stats = &report.targets[t.name()];
        assert!(
            stats.executions >= 5 && stats.errors > 0,
            "{}: too few executions or no error reached: {stats:?}",
            t.name()
        );
    }
}
