//! Every vector level (`DRUMMERNET_SIMD` = `avx512`, `avx2`, `portable`: those this CPU can
//! run; the variable switches the hand-written kernels and the matrix products under the
//! convolutions) gives the same transcription and the same training. The hand-written kernels
//! keep one arithmetic order whatever the vector width, and the AVX2 and AVX-512 products one
//! fused multiply-add chain per output element, so those two transcribe bit for bit alike; the
//! portable products round each product separately (no FMA), so there only the events are
//! identical. The products' blocking over long depths (the weight gradients) depends on the
//! register width, so the training losses agree to single precision, not bit for bit.

use std::path::Path;

use assert_cmd::Command;
use tempfile::TempDir;

use drummernet::model::ops::simd::{detected, SimdLevel};

/// The levels this machine can run, widest first.
fn levels() -> Vec<SimdLevel> {
    [SimdLevel::Avx512, SimdLevel::Avx2, SimdLevel::Portable]
        .into_iter()
        .filter(|&l| l <= detected())
        .collect()
}

fn drummernet(level: SimdLevel) -> Command {
    let mut cmd = Command::cargo_bin("drummernet").expect("binary built by cargo test");
    cmd.env("DRUMMERNET_SIMD", level.name())
        .env("DRUMMERNET_LOG", "info")
        .env("RAYON_NUM_THREADS", "2");
    cmd
}

/// Runs `cmd`, checks it succeeded and said it ran the kernels at `level`.
fn run_at(level: SimdLevel, cmd: &mut Command) {
    let out = cmd.output().expect("binary runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{}: {stderr}", level.name());
    let said = format!("vector kernels: {}", level.name());
    assert!(stderr.contains(&said), "expected `{said}` in: {stderr}");
}

#[test]
fn transcription_is_identical_on_every_simd_path() {
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo/demo_drums.wav");
    let dir = TempDir::new().unwrap();
    let mut outputs = Vec::new();
    for level in levels() {
        let out = dir.path().join(level.name());
        run_at(
            level,
            drummernet(level)
                .arg("transcribe")
                .arg(&demo)
                .args(["--format", "mid,json", "--out"])
                .arg(&out),
        );
        let bytes = |ext: &str| std::fs::read(out.join(format!("demo_drums.{ext}"))).unwrap();
        outputs.push((level, bytes("mid"), bytes("json")));
    }
    let (first, mid, json) = &outputs[0];
    for (level, m, j) in &outputs[1..] {
        assert!(
            m == mid,
            "{} and {} write different MIDI",
            first.name(),
            level.name()
        );
        if *level >= SimdLevel::Avx2 {
            assert!(
                j == json,
                "{} and {} transcribe differently",
                first.name(),
                level.name()
            );
        }
    }
}

#[test]
fn training_losses_agree_on_every_simd_path() {
    let dir = TempDir::new().unwrap();
    let mut losses = Vec::new();
    for level in levels() {
        let sessions = dir.path().join(level.name());
        let mut cmd = drummernet(level);
        for set in [
            "model.channels=4",
            "model.first_conv_channels=4",
            "train.batch_size=2",
            "audio.segment_seconds=0.8",
        ] {
            cmd.args(["--set", set]);
        }
        cmd.args(["train", "--procedural-kits", "1", "--steps", "3"])
            .arg("--sessions-dir")
            .arg(&sessions);
        run_at(level, &mut cmd);
        let csv = std::fs::read_to_string(sessions.join("default/loss.csv")).unwrap();
        // Every column but the timings (seconds, items_per_second).
        let header: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
        let rows: Vec<String> = csv
            .lines()
            .skip(1)
            .map(|l| {
                l.split(',')
                    .zip(&header)
                    .filter(|(_, h)| !matches!(**h, "seconds" | "items_per_second"))
                    .map(|(v, _)| v)
                    .collect::<Vec<_>>()
                    .join(",")
            })
            .collect();
        assert_eq!(rows.len(), 3, "{csv}");
        losses.push((level, rows));
    }
    let numbers = |rows: &[String]| -> Vec<f64> {
        rows.iter()
            .flat_map(|r| r.split(',').map(|v| v.parse::<f64>().unwrap()))
            .collect()
    };
    let reference = numbers(&losses[0].1);
    for (level, rows) in &losses[1..] {
        let these = numbers(rows);
        assert_eq!(these.len(), reference.len());
        for (a, b) in these.iter().zip(&reference) {
            assert!(
                (a - b).abs() <= 1e-5 * b.abs().max(1.0),
                "{} and {} train differently: {rows:?} vs {:?}",
                losses[0].0.name(),
                level.name(),
                losses[0].1
            );
        }
    }
}
