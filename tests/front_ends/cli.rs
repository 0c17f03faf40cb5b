//! The `drummernet` binary driven as a user would: every subcommand on real files, and every
//! kind of bad input answered by one line on stderr naming the file or key, exit code 1, no
//! panic, no partial output and no overwritten file.

use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};

use assert_cmd::Command;
use tempfile::TempDir;

use drummernet::groove::{annotated_class, read_annotations};
use drummernet::midi::read_midi;

const SAMPLE_RATE: u32 = 16_000;

/// The binary, with backtraces switched on so that a leaked backtrace or panic would show.
fn drummernet() -> Command {
    let mut cmd = Command::cargo_bin("drummernet").expect("binary built by cargo test");
    cmd.env("RUST_BACKTRACE", "1")
        .env_remove("DRUMMERNET_LOG")
        .env("RAYON_NUM_THREADS", "2");
    cmd
}

fn assets() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("assets")
}

fn default_kit() -> PathBuf {
    assets().join("kits/default")
}

fn demo_midi() -> PathBuf {
    assets().join("demo/demo_groove.mid")
}

fn drum_sources() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/drum_sources");
    if dir.is_dir() {
        Some(dir)
    } else {
        println!("skipped: {} not found", dir.display());
        None
    }
}

fn stdout_of(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs a command expected to succeed and returns its stdout.
fn succeeds(cmd: &mut Command) -> String {
    let out = cmd.output().expect("binary runs");
    assert!(
        out.status.success(),
        "failed ({:?}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout_of(&out)
}

/// Runs a command expected to fail; checks exit code 1 and that stderr is exactly one line,
/// `error: ...`, free of panics and backtraces, containing every `needle`. Returns that line.
fn fails_with(cmd: &mut Command, needles: &[&str]) -> String {
    let out = cmd.output().expect("binary runs");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "exit code; stderr: {stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "stderr must be one line, got: {stderr:?}");
    let line = lines[0];
    assert!(line.starts_with("error: "), "{line}");
    for bad in ["stack backtrace", "panicked", "RUST_BACKTRACE"] {
        assert!(!stderr.contains(bad), "{stderr}");
    }
    for needle in needles {
        assert!(line.contains(needle), "`{needle}` missing from: {line}");
    }
    line.to_string()
}

fn file_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

fn read_wav(path: &Path) -> (hound::WavSpec, Vec<f32>) {
    let mut reader = hound::WavReader::open(path).expect("a WAV file");
    let spec = reader.spec();
    let samples = reader
        .samples::<i16>()
        .map(|s| f32::from(s.expect("sample")) / 32768.0)
        .collect();
    (spec, samples)
}

/// Energy of `samples[from..to]` (clamped to the signal).
fn energy(samples: &[f32], from: isize, to: isize) -> f64 {
    let clamp = |i: isize| i.clamp(0, samples.len() as isize) as usize;
    samples[clamp(from)..clamp(to)]
        .iter()
        .map(|&s| f64::from(s) * f64::from(s))
        .sum()
}

/// How much the energy of the 15 ms after `t` exceeds that of the 15 ms before it, in the
/// first difference of the signal (which lifts quiet hi-hats above a ringing kick).
fn energy_rise(samples: &[f32], t: f64) -> f64 {
    let at = (t * f64::from(SAMPLE_RATE)).round() as isize;
    let w = (0.015 * f64::from(SAMPLE_RATE)) as isize;
    (energy(samples, at, at + w) + 1e-9) / (energy(samples, at - w, at) + 1e-9)
}

// ---------------------------------------------------------------- render

#[test]
fn render_demo_through_default_kit_has_the_midi_onsets() {
    let dir = TempDir::new().unwrap();
    let wav = dir.path().join("demo.wav");
    let stdout = succeeds(
        drummernet()
            .arg("render")
            .arg(demo_midi())
            .arg("--kit")
            .arg(default_kit())
            .arg("-o")
            .arg(&wav),
    );
    assert!(stdout.contains("demo.wav"), "{stdout}");

    let notes = read_midi(&demo_midi()).unwrap();
    let (spec, samples) = read_wav(&wav);
    assert_eq!(spec.sample_rate, SAMPLE_RATE);
    assert_eq!(spec.channels, 1);
    assert_eq!(spec.bits_per_sample, 16);
    // Every default-kit sample is 1 s long: the file lasts until the last note has rung out.
    let last = notes.iter().map(|n| n.time).fold(0.0, f64::max);
    let expected = ((last + 1.0) * f64::from(SAMPLE_RATE)).round() as i64;
    assert!(
        (samples.len() as i64 - expected).abs() <= 2,
        "{} samples, expected {expected}",
        samples.len()
    );
    let peak = samples.iter().fold(0.0f32, |m, s| m.max(s.abs()));
    assert!(peak > 0.5 && peak < 1.0, "peak {peak}");

    // Onsets: energy rises at (nearly) every distinct note time, and seldom in the middle of
    // the gaps between notes (measured: 96% of 96 onsets, 5% of gap midpoints).
    let samples: Vec<f32> = std::iter::once(0.0)
        .chain(samples.windows(2).map(|w| w[1] - w[0]))
        .collect();
    let onsets = drummernet::dsp::onset_metrics::merge_close(
        &notes.iter().map(|n| n.time).collect::<Vec<_>>(),
        0.02,
    );
    assert!(onsets.len() > 50, "{} onsets", onsets.len());
    let rising = onsets
        .iter()
        .filter(|&&t| energy_rise(&samples, t) > 1.2)
        .count();
    assert!(
        rising as f64 >= 0.9 * onsets.len() as f64,
        "only {rising} of {} onsets show an energy rise",
        onsets.len()
    );
    let gaps: Vec<f64> = onsets
        .windows(2)
        .filter(|w| w[1] - w[0] > 0.1)
        .map(|w| 0.5 * (w[0] + w[1]))
        .collect();
    assert!(gaps.len() > 20, "{} gaps", gaps.len());
    let rising_in_gaps = gaps
        .iter()
        .filter(|&&t| energy_rise(&samples, t) > 1.2)
        .count();
    assert!(
        (rising_in_gaps as f64) < 0.15 * gaps.len() as f64,
        "{rising_in_gaps} of {} gap midpoints show an energy rise",
        gaps.len()
    );
}

#[test]
fn render_with_a_procedural_kit() {
    let dir = TempDir::new().unwrap();
    let wav = dir.path().join("p.wav");
    let stdout = succeeds(
        drummernet()
            .arg("render")
            .arg(demo_midi())
            .args(["--kit", "procedural:5", "-o"])
            .arg(&wav),
    );
    assert!(stdout.contains("procedural"), "{stdout}");
    let (spec, samples) = read_wav(&wav);
    assert_eq!(spec.sample_rate, SAMPLE_RATE);
    assert!(
        samples.len() > 20 * SAMPLE_RATE as usize,
        "{}",
        samples.len()
    );
    assert!(samples.iter().any(|&s| s.abs() > 0.5));
}

#[test]
fn render_refuses_to_overwrite_without_force() {
    let dir = TempDir::new().unwrap();
    let wav = dir.path().join("mine.wav");
    std::fs::write(&wav, b"my precious recording").unwrap();
    let render = |force: bool| {
        let mut cmd = drummernet();
        cmd.arg("render")
            .arg(demo_midi())
            .args(["--kit", "procedural:5", "-o"])
            .arg(&wav);
        if force {
            cmd.arg("--force");
        }
        cmd
    };
    fails_with(&mut render(false), &["mine.wav", "--force"]);
    assert_eq!(std::fs::read(&wav).unwrap(), b"my precious recording");
    assert_eq!(
        file_names(dir.path()),
        ["mine.wav"],
        "no stray temporary file"
    );
    succeeds(&mut render(true));
    assert_eq!(read_wav(&wav).0.sample_rate, SAMPLE_RATE);
}

#[test]
fn render_bad_midi_inputs_fail_naming_the_file_without_output() {
    let dir = TempDir::new().unwrap();
    let garbage = dir.path().join("garbage.mid");
    std::fs::write(
        &garbage,
        b"MThd\x00\x00\x00\x06\xff\xff\xff\xff not midi at all",
    )
    .unwrap();
    let truncated = dir.path().join("truncated.mid");
    let demo = std::fs::read(demo_midi()).unwrap();
    std::fs::write(&truncated, &demo[..30]).unwrap();
    let empty = dir.path().join("empty.mid");
    std::fs::write(&empty, b"").unwrap();
    let folder = dir.path().join("folder.mid");
    std::fs::create_dir(&folder).unwrap();
    let missing = dir.path().join("missing.mid");
    let wav_as_midi = default_kit().join("KD_KD.wav");

    for (input, name) in [
        (&garbage, "garbage.mid"),
        (&truncated, "truncated.mid"),
        (&empty, "empty.mid"),
        (&folder, "folder.mid"),
        (&missing, "missing.mid"),
        (&wav_as_midi, "KD_KD.wav"),
    ] {
        let out = dir.path().join("out.wav");
        let line = fails_with(
            drummernet()
                .arg("render")
                .arg(input)
                .args(["--kit", "procedural:1", "-o"])
                .arg(&out),
            &[name],
        );
        assert!(!out.exists(), "{name}: output written");
        if name == "truncated.mid" {
            assert!(line.contains("no notes"), "{line}");
        }
    }
    assert_eq!(
        file_names(dir.path()),
        ["empty.mid", "folder.mid", "garbage.mid", "truncated.mid"],
        "nothing else written"
    );
}

#[test]
fn render_with_a_kit_folder_without_samples_names_it() {
    let dir = TempDir::new().unwrap();
    let kit = dir.path().join("emptykit");
    std::fs::create_dir(&kit).unwrap();
    std::fs::write(kit.join("notes.txt"), "no samples here").unwrap();
    let out = dir.path().join("out.wav");
    fails_with(
        drummernet()
            .arg("render")
            .arg(demo_midi())
            .arg("--kit")
            .arg(&kit)
            .arg("-o")
            .arg(&out),
        &["emptykit"],
    );
    fails_with(
        drummernet()
            .arg("render")
            .arg(demo_midi())
            .arg("--kit")
            .arg(dir.path().join("nokit"))
            .arg("-o")
            .arg(&out),
        &["nokit"],
    );
    fails_with(
        drummernet()
            .arg("render")
            .arg(demo_midi())
            .args(["--kit", "procedural:x", "-o"])
            .arg(&out),
        &["procedural:x"],
    );
    fails_with(
        drummernet()
            .arg("render")
            .arg(demo_midi())
            .args(["--kit", "procedural:jazz:1", "-o"])
            .arg(&out),
        &[
            "procedural:jazz:1",
            "unknown kit family `jazz`",
            "acoustic, electronic, brushes, processed, room",
        ],
    );
    assert!(!out.exists());

    // A kit with a sample that is no audio: one line (no decoder log line), naming the sample.
    let broken = dir.path().join("broken");
    std::fs::create_dir(&broken).unwrap();
    for name in file_names(&default_kit()) {
        std::fs::copy(default_kit().join(&name), broken.join(&name)).unwrap();
    }
    std::fs::write(broken.join("SD_SD.wav"), b"not a wav").unwrap();
    fails_with(
        drummernet()
            .arg("render")
            .arg(demo_midi())
            .arg("--kit")
            .arg(&broken)
            .arg("-o")
            .arg(&out),
        &["SD_SD.wav"],
    );
    // An output path that is a folder.
    fails_with(
        drummernet()
            .arg("render")
            .arg(demo_midi())
            .args(["--kit", "procedural:1", "-o"])
            .arg(dir.path()),
        &["is a folder"],
    );
    assert!(!out.exists());
}

// ---------------------------------------------------------------- groove

fn groove(out: &Path, seed: u64, kits: &[&str]) -> Command {
    let mut cmd = drummernet();
    cmd.args(["groove", "--count", "4", "--seconds", "3", "--seed"])
        .arg(seed.to_string())
        .arg("--out")
        .arg(out);
    for k in kits {
        cmd.args(["--kits", k]);
    }
    cmd
}

#[test]
fn groove_writes_consistent_deterministic_sets() {
    let dir = TempDir::new().unwrap();
    let default_kit = default_kit().display().to_string();
    let kits = ["procedural:3", default_kit.as_str()];
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    let stdout = succeeds(&mut groove(&a, 11, &kits));
    assert!(stdout.contains("4 grooves"), "{stdout}");
    let names = file_names(&a);
    assert_eq!(names.len(), 16, "{names:?}");

    let mut kit_names = std::collections::BTreeSet::new();
    for i in 0..4 {
        let stem = a.join(format!("groove_{i:04}"));
        let (spec, samples) = read_wav(&stem.with_extension("wav"));
        assert_eq!(spec.sample_rate, SAMPLE_RATE);
        assert!(
            samples.len() >= 3 * SAMPLE_RATE as usize,
            "{}",
            samples.len()
        );

        let txt = stem.with_extension("txt");
        let annotations = read_annotations(&txt).unwrap();
        let notes = read_midi(&stem.with_extension("mid")).unwrap();
        let mut from_midi: Vec<(f64, _)> = notes
            .iter()
            .filter_map(|n| annotated_class(n).map(|c| (n.time, c)))
            .collect();
        from_midi.sort_by(|x, y| x.0.total_cmp(&y.0).then(x.1.cmp(&y.1)));
        let mut annotated = annotations.clone();
        annotated.sort_by(|x, y| x.0.total_cmp(&y.0).then(x.1.cmp(&y.1)));
        assert!(
            annotated.len() > 4,
            "groove {i}: {} onsets",
            annotated.len()
        );
        assert_eq!(annotated.len(), from_midi.len(), "groove {i}");
        for (x, y) in annotated.iter().zip(&from_midi) {
            assert_eq!(x.1, y.1, "groove {i} at {}", x.0);
            // MIDI ticks quantise the time a little.
            assert!((x.0 - y.0).abs() < 2e-3, "groove {i}: {} vs {}", x.0, y.0);
        }
        let text = std::fs::read_to_string(&txt).unwrap();
        let kit = text
            .split_whitespace()
            .find_map(|w| w.strip_prefix("kit="))
            .expect("kit recorded in the header");
        kit_names.insert(kit.to_string());
    }
    assert_eq!(
        kit_names.into_iter().collect::<Vec<_>>(),
        ["default", "procedural#3"],
        "both kits used"
    );

    succeeds(&mut groove(&b, 11, &kits));
    for name in &names {
        assert!(
            std::fs::read(a.join(name)).unwrap() == std::fs::read(b.join(name)).unwrap(),
            "{name} differs between two runs with the same seed"
        );
    }
    let c = dir.path().join("c");
    succeeds(&mut groove(&c, 12, &kits));
    assert_ne!(
        std::fs::read(a.join("groove_0000.wav")).unwrap(),
        std::fs::read(c.join("groove_0000.wav")).unwrap(),
        "another seed gives another set"
    );
}

#[test]
fn groove_refuses_existing_files_and_bad_arguments() {
    let dir = TempDir::new().unwrap();
    let out = dir.path().join("set");
    std::fs::create_dir(&out).unwrap();
    let mine = out.join("groove_0003.txt");
    std::fs::write(&mine, "mine").unwrap();
    fails_with(
        &mut groove(&out, 0, &["procedural:1"]),
        &["groove_0003.txt"],
    );
    assert_eq!(file_names(&out), ["groove_0003.txt"], "nothing written");
    assert_eq!(std::fs::read_to_string(&mine).unwrap(), "mine");

    let file = dir.path().join("a_file");
    std::fs::write(&file, "x").unwrap();
    fails_with(
        &mut groove(&file, 0, &["procedural:1"]),
        &["a_file", "not a folder"],
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "x");

    let fresh = dir.path().join("fresh");
    fails_with(&mut groove(&fresh, 0, &["/no/such/kit"]), &["/no/such/kit"]);
    assert!(!fresh.exists(), "no folder made for a failed run");
    fails_with(
        drummernet()
            .args(["groove", "--count", "0", "--out"])
            .arg(&fresh),
        &["--count"],
    );
    fails_with(
        drummernet()
            .args(["groove", "--seconds", "0.1", "--out"])
            .arg(&fresh),
        &["--seconds"],
    );
}

// ---------------------------------------------------------------- kit

#[test]
fn kit_list_and_show_on_the_bundled_kit() {
    let list = succeeds(drummernet().args(["kit", "list"]).arg(default_kit()));
    assert!(list.contains("1 kit"), "{list}");
    assert!(list.contains("12 components"), "{list}");
    let show = succeeds(drummernet().args(["kit", "show"]).arg(default_kit()));
    for name in ["KD_KD", "SD_SD", "HH_CHH", "CY_RDB", "OT_TMB"] {
        assert!(show.contains(name), "{name} missing: {show}");
    }
    let rows = show
        .lines()
        .filter(|l| l.split_whitespace().nth(1) == Some("16000"))
        .count();
    assert_eq!(rows, 12, "{show}");

    let dir = TempDir::new().unwrap();
    fails_with(
        drummernet()
            .args(["kit", "show"])
            .arg(dir.path().join("absent")),
        &["absent"],
    );
    fails_with(
        drummernet()
            .args(["kit", "show", "--kit", "2"])
            .arg(default_kit()),
        &["default", "omit --kit"],
    );
}

#[test]
fn kit_list_and_show_on_drum_sources() {
    let Some(sources) = drum_sources() else {
        return;
    };
    let list = succeeds(drummernet().args(["kit", "list"]).arg(&sources));
    assert!(list.contains("12 kits"), "{list}");
    let show = succeeds(
        drummernet()
            .args(["kit", "show", "--kit", "3"])
            .arg(&sources),
    );
    let rows = show
        .lines()
        .filter(|l| l.split_whitespace().nth(1) == Some("16000"))
        .count();
    assert_eq!(rows, 12, "{show}");
    fails_with(
        drummernet().args(["kit", "show"]).arg(&sources),
        &["drum_sources", "--kit"],
    );
    fails_with(
        drummernet()
            .args(["kit", "show", "--kit", "99"])
            .arg(&sources),
        &["drum_sources", "99"],
    );
}

#[test]
fn kit_synth_seed_0_reproduces_the_bundled_kit() {
    let dir = TempDir::new().unwrap();
    let out = dir.path().join("kit");
    succeeds(
        drummernet()
            .args(["kit", "synth", "--seed", "0", "--out"])
            .arg(&out),
    );
    let bundled = file_names(&default_kit());
    assert_eq!(bundled.len(), 12);
    assert_eq!(file_names(&out), bundled);
    for name in &bundled {
        assert!(
            std::fs::read(out.join(name)).unwrap()
                == std::fs::read(default_kit().join(name)).unwrap(),
            "{name} differs from assets/kits/default"
        );
    }
    // A second run refuses to overwrite, and leaves the files as they were.
    let kick = out.join("KD_KD.wav");
    std::fs::write(&kick, b"edited").unwrap();
    fails_with(
        drummernet()
            .args(["kit", "synth", "--seed", "1", "--out"])
            .arg(&out),
        &["--force"],
    );
    assert_eq!(std::fs::read(&kick).unwrap(), b"edited");
    assert_eq!(file_names(&out), bundled, "no stray file");

    // Another family's seed 0 is another kit, with the same files.
    let electronic = dir.path().join("electronic");
    let said = succeeds(
        drummernet()
            .args([
                "kit",
                "synth",
                "--seed",
                "0",
                "--family",
                "electronic",
                "--out",
            ])
            .arg(&electronic),
    );
    assert!(said.contains("electronic procedural kit seed 0"), "{said}");
    assert_eq!(file_names(&electronic), bundled);
    assert_ne!(
        std::fs::read(electronic.join("KD_KD.wav")).unwrap(),
        std::fs::read(default_kit().join("KD_KD.wav")).unwrap()
    );
}

#[test]
fn a_closed_stdout_is_not_a_panic() {
    let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("drummernet"));
    cmd.args(["kit", "show"])
        .arg(default_kit())
        .env("RUST_BACKTRACE", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    // Like `drummernet kit show DIR | head -0`: the reader is gone before anything is written.
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(out.status.success(), "{stderr}");
}

// ---------------------------------------------------------------- config

#[test]
fn config_errors_name_the_key_or_file_on_one_line() {
    let dir = TempDir::new().unwrap();
    let list = |cmd: &mut Command| {
        cmd.args(["kit", "list"]).arg(default_kit());
    };
    let mut cmd = drummernet();
    cmd.args(["--set", "train.nope=1"]);
    list(&mut cmd);
    fails_with(&mut cmd, &["train.nope"]);

    let mut cmd = drummernet();
    cmd.args(["--set", "train.batch_size=0"]);
    list(&mut cmd);
    fails_with(&mut cmd, &["train.batch_size", "1..="]);

    let mut cmd = drummernet();
    cmd.args(["--set", "batch_size"]);
    list(&mut cmd);
    fails_with(&mut cmd, &["batch_size", "KEY=VALUE"]);

    let mut cmd = drummernet();
    cmd.arg("--config").arg(dir.path().join("missing.toml"));
    list(&mut cmd);
    let line = fails_with(&mut cmd, &["missing.toml"]);
    assert_eq!(
        line.matches("os error").count(),
        1,
        "cause repeated: {line}"
    );

    let wrong_type = dir.path().join("wrong_type.toml");
    std::fs::write(&wrong_type, "[train]\nbatch_size = \"big\"\n").unwrap();
    let mut cmd = drummernet();
    cmd.arg("--config").arg(&wrong_type);
    list(&mut cmd);
    fails_with(&mut cmd, &["train.batch_size"]);

    let unknown = dir.path().join("unknown.toml");
    std::fs::write(&unknown, "[model]\nchanels = 8\n").unwrap();
    let mut cmd = drummernet();
    cmd.arg("--config").arg(&unknown);
    list(&mut cmd);
    fails_with(&mut cmd, &["model.chanels"]);

    let broken = dir.path().join("broken.toml");
    std::fs::write(&broken, "# settings\n[train\nbatch_size = 3\n").unwrap();
    let mut cmd = drummernet();
    cmd.arg("--config").arg(&broken);
    list(&mut cmd);
    fails_with(&mut cmd, &["broken.toml", "line 2"]);
}

// ---------------------------------------------------------------- train

fn tiny_train(sessions: &Path) -> Command {
    let mut cmd = drummernet();
    for set in [
        "model.channels=4",
        "model.first_conv_channels=4",
        "train.batch_size=1",
        "audio.segment_seconds=0.8",
    ] {
        cmd.args(["--set", set]);
    }
    cmd.args([
        "train",
        "--procedural-kits",
        "1",
        "--threads",
        "2",
        "--sessions-dir",
    ])
    .arg(sessions);
    cmd
}

fn loss_rows(session: &Path) -> Vec<u64> {
    let text = std::fs::read_to_string(session.join("loss.csv")).unwrap();
    let mut lines = text.lines();
    assert!(lines.next().unwrap().starts_with("step,"), "{text}");
    lines
        .map(|l| l.split(',').next().unwrap().parse().unwrap())
        .collect()
}

#[test]
fn train_smoke_run_resume_and_refusals() {
    let dir = TempDir::new().unwrap();
    let sessions = dir.path().join("sessions");
    let session = sessions.join("default");
    succeeds(tiny_train(&sessions).args(["--steps", "2"]));
    let config = std::fs::read_to_string(session.join("config.toml")).unwrap();
    assert!(config.contains("channels = 4"), "{config}");
    assert!(session.join("latest.safetensors").is_file());
    assert_eq!(loss_rows(&session), [1, 2]);
    let latest = std::fs::read(session.join("latest.safetensors")).unwrap();

    fails_with(tiny_train(&sessions).args(["--steps", "2"]), &["--resume"]);
    assert_eq!(
        std::fs::read(session.join("latest.safetensors")).unwrap(),
        latest,
        "refused run left the checkpoint alone"
    );
    assert_eq!(loss_rows(&session), [1, 2]);

    succeeds(tiny_train(&sessions).args(["--steps", "3", "--resume"]));
    assert_eq!(loss_rows(&session), [1, 2, 3]);
    assert_ne!(
        std::fs::read(session.join("latest.safetensors")).unwrap(),
        latest,
        "step 3 saved"
    );

    // The checkpoint belongs to its model configuration.
    let mut wider = drummernet();
    wider.args(["--set", "model.channels=8"]);
    fails_with(
        wider
            .args([
                "--set",
                "model.first_conv_channels=4",
                "--set",
                "train.batch_size=1",
                "--set",
                "audio.segment_seconds=0.8",
                "train",
                "--procedural-kits",
                "1",
                "--steps",
                "4",
                "--resume",
                "--sessions-dir",
            ])
            .arg(&sessions),
        &["latest.safetensors", "model"],
    );
    assert_eq!(loss_rows(&session), [1, 2, 3]);

    fails_with(
        tiny_train(&sessions).args([
            "--steps",
            "1",
            "--session",
            "nodata",
            "--data",
            "/no/such/stems",
        ]),
        &["/no/such/stems"],
    );
    fails_with(
        tiny_train(&sessions).args([
            "--steps",
            "1",
            "--session",
            "nokit",
            "--kits",
            "/no/such/kit",
        ]),
        &["/no/such/kit"],
    );
    fails_with(
        tiny_train(&sessions).args(["--steps", "3", "--resume", "--session", "fresh"]),
        &["fresh", "latest.safetensors"],
    );
    fails_with(
        tiny_train(&sessions).args(["--steps", "1", "--device", "cuda", "--session", "gpu"]),
        &["cuda", "--device cpu"],
    );
    assert!(!sessions.join("gpu").exists());
}

#[test]
fn curves_score_each_checkpoint_once_draw_an_svg_and_refuse_bad_input() {
    let dir = TempDir::new().unwrap();
    let sessions = dir.path().join("sessions");
    let session = sessions.join("default");
    succeeds(tiny_train(&sessions).args(["--steps", "2", "--set", "train.checkpoint_every=1"]));
    let val = dir.path().join("val");
    succeeds(&mut groove(&val, 3, &["procedural:5"]));
    let svg = dir.path().join("curves.svg");
    let csv = dir.path().join("curves.csv");
    let curves = || {
        let mut cmd = drummernet();
        cmd.args(["curves", "--session"])
            .arg(&session)
            .arg("--validation")
            .arg(format!("val={}", val.display()))
            .arg("-o")
            .arg(&svg);
        cmd
    };
    let out = curves().output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{stderr}");
    for step in [1, 2] {
        assert!(
            stderr.contains(&format!("scoring default step {step} on val")),
            "{stderr}"
        );
    }
    let text = std::fs::read_to_string(&svg).unwrap();
    assert!(text.starts_with("<svg ") && text.trim_end().ends_with("</svg>"));
    assert!(
        text.contains("<polyline") && text.contains("default / val"),
        "{text}"
    );
    let rows = std::fs::read_to_string(&csv).unwrap();
    let lines: Vec<&str> = rows.lines().collect();
    assert_eq!(lines.len(), 3, "{rows}");
    for (line, step) in lines[1..].iter().zip([1, 2]) {
        let fields: Vec<&str> = line.split(',').collect();
        assert_eq!(fields.len(), 11, "{line}");
        assert_eq!(
            (fields[0], fields[1], fields[3]),
            ("default", &*step.to_string(), "val")
        );
        let mean: f64 = fields[10].parse().unwrap();
        assert!((0.0..=1.0).contains(&mean), "{line}");
    }

    // The outputs exist: refused without --force, and left alone.
    fails_with(&mut curves(), &["curves.svg"]);
    assert_eq!(std::fs::read_to_string(&csv).unwrap(), rows);
    // With --force the scored checkpoints are reused, not scored again.
    let out = curves().arg("--force").output().unwrap();
    assert!(out.status.success());
    assert!(!String::from_utf8_lossy(&out.stderr).contains("scoring"));
    assert_eq!(std::fs::read_to_string(&csv).unwrap(), rows);

    let other = dir.path().join("other.svg");
    fails_with(
        drummernet()
            .args(["curves", "--session"])
            .arg(&session)
            .args(["--validation", "val", "-o"])
            .arg(&other),
        &["--validation `val`", "NAME=DIR"],
    );
    fails_with(
        drummernet()
            .args(["curves", "--session"])
            .arg(&val)
            .arg("-o")
            .arg(&other),
        &["not a training session"],
    );
    assert!(!other.exists());
}

// ---------------------------------------------------------------- help

#[test]
fn every_subcommand_help_names_its_key_options() {
    let cases: [(&[&str], &[&str]); 7] = [
        (
            &[],
            &["render", "groove", "kit", "train", "--config", "--set"],
        ),
        (
            &["render"],
            &["--kit", "--output", "--force", "procedural:SEED"],
        ),
        (
            &["groove"],
            &[
                "--count",
                "--seconds",
                "--kits",
                "--out",
                "--seed",
                "--augment",
                "--force",
            ],
        ),
        (&["kit", "list"], &["DIR"]),
        (&["kit", "show"], &["--kit"]),
        (
            &["kit", "synth"],
            &["--seed", "--family", "--out", "--force"],
        ),
        (
            &["train"],
            &[
                "--data",
                "--kits",
                "--session",
                "--sessions-dir",
                "--steps",
                "--resume",
                "--device",
            ],
        ),
    ];
    for (args, needles) in cases {
        let help = succeeds(drummernet().args(args).arg("--help"));
        for needle in needles {
            assert!(
                help.contains(needle),
                "{args:?} --help lacks {needle}:\n{help}"
            );
        }
    }
}

/// Every subcommand finds the bundled model and assets from a folder outside the checkout, as
/// an installed `drummernet` is used (the watch folder once failed there).
#[test]
fn every_subcommand_runs_from_a_folder_outside_the_checkout() {
    let dir = TempDir::new().unwrap();
    let work = dir.path();
    let demo = assets().join("demo/demo_drums.wav");
    let here = |cmd: &mut Command| -> String { succeeds(cmd.current_dir(work)) };
    here(drummernet().args(["transcribe", "--out", "t"]).arg(&demo));
    assert!(work.join("t/demo_drums.mid").is_file());
    here(
        drummernet()
            .args(["groove", "--count", "1", "--seconds", "4", "--seed", "3"])
            .args(["--kits", "procedural:100", "--out", "g"]),
    );
    let eval = here(drummernet().args(["eval", "--gt", "g", "--audio", "g"]));
    assert!(eval.contains("KD"), "{eval}");
    here(
        drummernet()
            .args(["render", "--kit", "procedural:7", "-o", "r.wav"])
            .arg(demo_midi()),
    );
    assert!(work.join("r.wav").is_file());
    here(drummernet().args(["kit", "synth", "--seed", "1", "--out", "k"]));
    let listed = here(drummernet().args(["kit", "list", "k"]));
    assert!(listed.contains("KD"), "{listed}");
    here(tiny_train(&work.join("sessions")).args(["--steps", "1"]));
    let checkpoint = work.join("sessions/default/latest.safetensors");
    here(
        drummernet()
            .arg("export")
            .arg(&checkpoint)
            .args(["-o", "m.safetensors"]),
    );
    here(
        drummernet()
            .args(["transcribe", "--model", "m.safetensors", "--out", "t2"])
            .arg(&demo),
    );
    assert!(work.join("t2/demo_drums.mid").is_file());
    if cfg!(feature = "watch") {
        std::fs::create_dir(work.join("in")).unwrap();
        std::fs::copy(&demo, work.join("in/demo.wav")).unwrap();
        here(drummernet().args(["watch", "in", "--out", "w", "--once"]));
        assert!(work.join("w/demo.mid").is_file());
    }
    if cfg!(feature = "tui") {
        here(drummernet().args(["tui", "--help"]));
    }
}

#[test]
fn adapt_writes_a_session_whose_model_and_kit_the_other_commands_take() {
    let work = TempDir::new().unwrap();
    let demo = assets().join("demo/demo_drums.wav");
    let sessions = work.path().join("sessions");
    succeeds(
        drummernet()
            .args(["adapt", "--session", "demo", "--steps", "2"])
            .arg(&demo)
            .args(["--sessions-dir".as_ref(), sessions.as_os_str()]),
    );
    let dir = sessions.join("demo");
    assert_eq!(
        file_names(&dir),
        ["config.toml", "kit", "loss.csv", "model.safetensors"]
    );
    assert_eq!(file_names(&dir.join("kit")).len(), 11);
    let log = std::fs::read_to_string(dir.join("loss.csv")).unwrap();
    assert_eq!(log.lines().count(), 3, "{log}");
    // The adapted model transcribes; the learned kit renders.
    let out = work.path().join("out");
    succeeds(
        drummernet()
            .args(["transcribe", "--model"])
            .arg(dir.join("model.safetensors"))
            .arg(&demo)
            .arg("--out")
            .arg(&out),
    );
    assert!(!read_midi(&out.join("demo_drums.mid")).unwrap().is_empty());
    succeeds(
        drummernet()
            .args(["render"])
            .arg(demo_midi())
            .arg("--kit")
            .arg(dir.join("kit"))
            .arg("--output")
            .arg(work.path().join("through_learned_kit.wav")),
    );
    // The same name again is refused; nothing is replaced without --force.
    fails_with(
        drummernet()
            .args(["adapt", "--session", "demo", "--steps", "1"])
            .arg(&demo)
            .args(["--sessions-dir".as_ref(), sessions.as_os_str()]),
        &["session of that name exists"],
    );
}

#[test]
fn transcribe_adapt_refuses_a_stem_too_short_and_writes_nothing() {
    let work = TempDir::new().unwrap();
    let short = work.path().join("short.wav");
    let samples = vec![0.1f32; 16_000];
    drummernet::audio::write_wav(
        &short,
        &samples,
        16_000,
        drummernet::audio::WavFormat::Pcm16,
        drummernet::atomic_file::Overwrite::Refuse,
    )
    .unwrap();
    fails_with(
        drummernet()
            .args(["transcribe", "--adapt-steps", "2"])
            .arg(&short)
            .arg("--out")
            .arg(work.path()),
        &["short.wav", "too short to adapt on"],
    );
    assert_eq!(file_names(work.path()), ["short.wav"]);
}

#[test]
fn classes_switch_off_toms_and_cymbals_and_the_files_say_so() {
    let work = TempDir::new().unwrap();
    let demo = assets().join("demo/demo_drums.wav");
    succeeds(
        drummernet()
            .args([
                "transcribe",
                "--classes",
                "KD,SD,HH",
                "--format",
                "mid,json",
            ])
            .arg(&demo)
            .arg("--out")
            .arg(work.path()),
    );
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(work.path().join("demo_drums.json")).unwrap())
            .unwrap();
    assert_eq!(json["classes"], serde_json::json!(["KD", "SD", "HH"]));
    let labels: std::collections::BTreeSet<&str> = json["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["class"].as_str().unwrap())
        .collect();
    assert_eq!(labels, ["HH", "KD", "SD"].into_iter().collect());
    let bytes = std::fs::read(work.path().join("demo_drums.mid")).unwrap();
    let text = b"drummernet: classes transcribed KD,SD,HH";
    assert!(bytes.windows(text.len()).any(|w| w == text));
    let notes = read_midi(&work.path().join("demo_drums.mid")).unwrap();
    // GM toms 41-50 (but 42/44/46 are hats), cymbals 49/51/52/55/57/59.
    assert!(notes
        .iter()
        .all(|n| matches!(n.note, 35 | 36 | 37 | 38 | 40 | 42 | 44 | 46)));
    fails_with(
        drummernet()
            .args(["transcribe", "--classes", "KD,XX"])
            .arg(&demo)
            .arg("--out")
            .arg(work.path())
            .arg("--force"),
        &["--classes", "XX"],
    );
}

#[cfg(feature = "watch")]
#[test]
fn watch_once_adapts_each_file_and_a_short_one_is_recorded_as_failed() {
    let work = TempDir::new().unwrap();
    let inbox = work.path().join("in");
    std::fs::create_dir_all(&inbox).unwrap();
    std::fs::copy(assets().join("demo/demo_drums.wav"), inbox.join("demo.wav")).unwrap();
    drummernet::audio::write_wav(
        &inbox.join("short.wav"),
        &vec![0.1f32; 16_000],
        16_000,
        drummernet::audio::WavFormat::Pcm16,
        drummernet::atomic_file::Overwrite::Refuse,
    )
    .unwrap();
    let out = work.path().join("out");
    let run = drummernet()
        .args(["watch", "--once", "--adapt", "--set", "adapt.steps=2"])
        .arg(&inbox)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&run.stderr);
    assert!(out.join("demo.mid").is_file(), "{log}");
    assert!(!out.join("short.mid").exists(), "{log}");
    assert!(log.contains("too short to adapt on"), "{log}");
}
