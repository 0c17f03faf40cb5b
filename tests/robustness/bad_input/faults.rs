//! Faults while writing: read-only folders, an output path taken by a folder, a full disk
//! (simulated with RLIMIT_FSIZE: writes past the limit fail with EFBIG, as they would with
//! ENOSPC, without needing root to mount a small filesystem), and a training run killed with
//! SIGKILL or stopped with SIGINT. Nothing already on disk may be lost.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use drummernet::model::drummernet::DrummerNet;
use drummernet::model::file::load_tensor_file;

use super::common::{
    bundled_model, drummernet, drummernet_as_nobody, permissions_apply, root, run, set_mode,
    snapshot, unchanged,
};
use super::corpus::reference_wav;
use super::models::{tiny_train, TINY_TRAIN_SETTINGS};

/// The binary under `ulimit -f KB`, with SIGXFSZ ignored so that the write fails instead of
/// the process dying (what a full disk does: the write returns an error).
fn with_file_size_limit(kb: u64) -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::new("bash");
    cmd.arg("-c")
        .arg(r#"trap '' XFSZ; ulimit -f "$1"; shift; exec "$@""#)
        .arg("bash")
        .arg(kb.to_string())
        .arg(env!("CARGO_BIN_EXE_drummernet"))
        .env("RUST_BACKTRACE", "1")
        .env("RAYON_NUM_THREADS", "2")
        .current_dir(root());
    cmd
}

fn transcribe_to(out: &Path, input: &Path) -> assert_cmd::Command {
    let mut cmd = drummernet();
    cmd.arg("transcribe")
        .arg(input)
        .arg("--model")
        .arg(bundled_model())
        .arg("--out")
        .arg(out);
    cmd
}

fn temp_files(dir: &Path) -> Vec<PathBuf> {
    snapshot(dir)
        .into_keys()
        .filter(|p| {
            p.to_string_lossy()
                .ends_with(drummernet::atomic_file::TEMP_SUFFIX)
        })
        .collect()
}

#[test]
fn outputs_into_a_read_only_folder_are_reported_and_nothing_is_written() {
    if !permissions_apply() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let input = reference_wav(dir.path());
    let ro = dir.path().join("ro");
    std::fs::create_dir(&ro).expect("mkdir");
    std::fs::write(ro.join("keep.txt"), b"mine").expect("write");
    set_mode(&ro, 0o555);
    let before = snapshot(&ro);
    let a = run(transcribe_to(&ro, &input).args(["--format", "mid,json"]));
    let b = run(drummernet()
        .arg("render")
        .arg(root().join("assets/demo/demo_groove.mid"))
        .args(["--kit", "procedural:1", "-o"])
        .arg(ro.join("out.wav")));
    set_mode(&ro, 0o755);
    a.one_line_error(&["reference.mid", "permission denied"]);
    b.one_line_error(&["out.wav", "permission denied"]);
    unchanged(&ro, &before, "read-only folder");
}

/// As root, permissions do not apply; run the binary as `nobody` instead, so that unreadable
/// inputs and read-only folders and sessions are tried here too.
#[test]
fn unreadable_inputs_and_read_only_folders_as_an_unprivileged_user() {
    let Some(_) = drummernet_as_nobody() else {
        println!("skipped: not root, or no setpriv (the other tests try permissions directly)");
        return;
    };
    let nobody = |args: &[&std::ffi::OsStr]| {
        let mut cmd = drummernet_as_nobody().expect("setpriv");
        cmd.args(args);
        run(&mut cmd)
    };
    let dir = tempfile::tempdir().expect("tempdir");
    set_mode(dir.path(), 0o755);
    let input = reference_wav(dir.path());
    let unreadable = dir.path().join("unreadable.wav");
    std::fs::copy(&input, &unreadable).expect("copy");
    set_mode(&unreadable, 0o000);
    let model = bundled_model();
    let out = dir.path().join("out");
    std::fs::create_dir(&out).expect("mkdir");
    set_mode(&out, 0o777);
    nobody(&[
        "transcribe".as_ref(),
        unreadable.as_os_str(),
        "--model".as_ref(),
        model.as_os_str(),
        "--out".as_ref(),
        out.as_os_str(),
    ])
    .one_line_error(&["unreadable.wav", "permission denied"]);
    let (gt, audio) = (dir.path().join("gt"), dir.path().join("audio"));
    std::fs::create_dir(&gt).expect("mkdir");
    std::fs::create_dir(&audio).expect("mkdir");
    std::fs::write(gt.join("unreadable.txt"), "0.0\tKD\n").expect("gt");
    std::fs::hard_link(&unreadable, audio.join("unreadable.wav")).expect("link");
    nobody(&[
        "eval".as_ref(),
        "--gt".as_ref(),
        gt.as_os_str(),
        "--model".as_ref(),
        model.as_os_str(),
        "--audio".as_ref(),
        audio.as_os_str(),
    ])
    .one_line_error(&["unreadable.wav", "permission denied"]);
    assert_eq!(std::fs::read_dir(&out).expect("out").count(), 0);

    let ro = dir.path().join("ro");
    std::fs::create_dir(&ro).expect("mkdir");
    set_mode(&ro, 0o555);
    let before = snapshot(&ro);
    nobody(&[
        "transcribe".as_ref(),
        input.as_os_str(),
        "--model".as_ref(),
        model.as_os_str(),
        "--out".as_ref(),
        ro.as_os_str(),
    ])
    .one_line_error(&["reference.mid", "permission denied"]);
    let demo = root().join("assets/demo/demo_groove.mid");
    let wav = ro.join("out.wav");
    nobody(&[
        "render".as_ref(),
        demo.as_os_str(),
        "--kit".as_ref(),
        "procedural:1".as_ref(),
        "-o".as_ref(),
        wav.as_os_str(),
    ])
    .one_line_error(&["out.wav", "permission denied"]);
    unchanged(&ro, &before, "read-only folder");

    // A session nobody may not write: resuming it is refused before any step, nothing changes.
    let sessions = dir.path().join("sessions");
    tiny_train(&sessions)
        .args(["--steps", "1"])
        .assert()
        .success();
    let session = sessions.join("default");
    set_mode(&sessions, 0o755);
    set_mode(&session, 0o555);
    let before = snapshot(&sessions);
    let mut cmd = drummernet_as_nobody().expect("setpriv");
    cmd.args(TINY_TRAIN_SETTINGS);
    cmd.args([
        "train",
        "--procedural-kits",
        "1",
        "--steps",
        "3",
        "--resume",
        "--sessions-dir",
    ])
    .arg(&sessions);
    run(&mut cmd).one_line_error(&["loss.csv", "permission denied"]);
    unchanged(&sessions, &before, "read-only session");
    set_mode(&session, 0o755);
}

#[test]
fn an_output_path_taken_by_a_folder_is_refused_even_with_force() {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = reference_wav(dir.path());
    let out = dir.path().join("out");
    std::fs::create_dir_all(out.join("reference.mid")).expect("mkdir");
    std::fs::write(out.join("reference.mid").join("inside.txt"), b"mine").expect("write");
    let before = snapshot(&out);
    run(transcribe_to(&out, &input).args(["--format", "json,mid", "--force"]))
        .one_line_error(&["reference.mid", "is a directory"]);
    unchanged(&out, &before, "transcribe");
    // --out naming a file, and eval --json naming a folder.
    let file = dir.path().join("a_file");
    std::fs::write(&file, b"mine").expect("write");
    run(&mut transcribe_to(&file, &input)).one_line_error(&["a_file", "not a folder"]);
    assert_eq!(std::fs::read(&file).expect("read"), b"mine");
    let gt = dir.path().join("gt");
    std::fs::create_dir(&gt).expect("mkdir");
    std::fs::write(gt.join("reference.txt"), "0.0\tKD\n").expect("gt");
    run(drummernet()
        .args(["eval", "--gt"])
        .arg(&gt)
        .arg("--pred")
        .arg(&gt)
        .arg("--json")
        .arg(&out)
        .arg("--force"))
    .one_line_error(&["out", "is a directory"]);
    unchanged(&out, &before, "eval");
}

#[test]
fn a_full_disk_while_writing_outputs_keeps_the_old_output() {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = reference_wav(dir.path());
    let out = dir.path().join("out");
    std::fs::create_dir(&out).expect("mkdir");
    std::fs::write(out.join("reference.json"), b"old").expect("write");
    let before = snapshot(&out);
    let mut cmd = with_file_size_limit(1);
    cmd.arg("transcribe")
        .arg(&input)
        .arg("--model")
        .arg(bundled_model())
        .arg("--out")
        .arg(&out)
        .args(["--format", "json", "--force"]);
    run(&mut cmd).one_line_error(&["reference.json", "file too large"]);
    unchanged(&out, &before, "disk full");
    assert!(temp_files(&out).is_empty());
}

/// The step a checkpoint file holds.
fn checkpoint_step(path: &Path) -> u64 {
    let f = load_tensor_file(path, &candle_core::Device::Cpu).expect("checkpoint loads");
    let state: serde_json::Value =
        serde_json::from_str(&f.metadata["train_state"]).expect("train state");
    state["step"].as_u64().expect("step")
}

fn loss_steps(session: &Path) -> Vec<u64> {
    std::fs::read_to_string(session.join("loss.csv"))
        .unwrap_or_default()
        .lines()
        .skip(1)
        .filter_map(|l| l.split(',').next()?.parse().ok())
        .collect()
}

#[test]
fn a_full_disk_while_checkpointing_keeps_the_previous_checkpoint() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sessions = dir.path().join("sessions");
    tiny_train(&sessions)
        .args(["--steps", "2"])
        .assert()
        .success();
    let session = sessions.join("default");
    let latest = session.join("latest.safetensors");
    let saved = std::fs::read(&latest).expect("latest");
    let limit_kb = (saved.len() as u64 / 1024 / 2).max(1);
    assert!(limit_kb * 1024 > 4096, "the limit leaves room for loss.csv");
    let mut cmd = with_file_size_limit(limit_kb);
    cmd.args(TINY_TRAIN_SETTINGS);
    cmd.args([
        "train",
        "--procedural-kits",
        "1",
        "--threads",
        "2",
        "--steps",
        "4",
        "--resume",
        "--sessions-dir",
    ])
    .arg(&sessions);
    run(&mut cmd).one_line_error(&["checkpoint-00000004.safetensors", "file too large"]);
    assert_eq!(
        std::fs::read(&latest).expect("latest"),
        saved,
        "previous checkpoint intact"
    );
    assert_eq!(checkpoint_step(&latest), 2);
    DrummerNet::load(&latest, &candle_core::Device::Cpu).expect("still a usable model");
    assert!(
        temp_files(&session).is_empty(),
        "{:?}",
        temp_files(&session)
    );
    // With room again, the run resumes from step 2 and the log has each step once.
    tiny_train(&sessions)
        .args(["--steps", "4", "--resume"])
        .assert()
        .success();
    assert_eq!(loss_steps(&session), [1, 2, 3, 4]);
}

/// Starts a long tiny training run and waits until `rows` steps are logged.
fn start_training(sessions: &Path, checkpoint_every: u64, rows: usize) -> std::process::Child {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_drummernet"));
    cmd.current_dir(root())
        .env("RAYON_NUM_THREADS", "2")
        .args(TINY_TRAIN_SETTINGS)
        .arg("--set")
        .arg(format!("train.checkpoint_every={checkpoint_every}"))
        .args([
            "train",
            "--procedural-kits",
            "1",
            "--threads",
            "2",
            "--steps",
            "100000",
            "--sessions-dir",
        ])
        .arg(sessions)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn");
    let session = sessions.join("default");
    let start = Instant::now();
    while loss_steps(&session).len() < rows {
        if start.elapsed() > Duration::from_secs(300) {
            let _ = child.kill();
            panic!(
                "training logged {} steps in 300 s",
                loss_steps(&session).len()
            );
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("training ended early: {status}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child
}

#[test]
fn sigkill_during_training_loses_at_most_one_checkpoint_interval() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sessions = dir.path().join("sessions");
    let session = sessions.join("default");
    let every = 3;
    let mut child = start_training(&sessions, every, 8);
    child.kill().expect("SIGKILL");
    child.wait().expect("wait");
    let logged = *loss_steps(&session).last().expect("rows");
    let latest = session.join("latest.safetensors");
    let step = checkpoint_step(&latest);
    DrummerNet::load(&latest, &candle_core::Device::Cpu).expect("latest loads after SIGKILL");
    assert!(
        step.is_multiple_of(every) && logged - step <= every,
        "checkpoint at step {step}, {logged} steps logged"
    );
    // Resuming continues from the checkpoint: the log has each step exactly once, and the
    // killed run's temporary file (if it died mid-write) is gone.
    let target = logged + 2;
    tiny_train(&sessions)
        .args(["--steps", &target.to_string(), "--resume"])
        .assert()
        .success();
    assert_eq!(loss_steps(&session), (1..=target).collect::<Vec<_>>());
    assert_eq!(checkpoint_step(&latest), target);
    assert!(
        temp_files(&session).is_empty(),
        "{:?}",
        temp_files(&session)
    );
}

#[test]
fn sigint_during_training_writes_a_checkpoint_of_the_last_step() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sessions = dir.path().join("sessions");
    let session = sessions.join("default");
    let child = start_training(&sessions, 1000, 3);
    let status = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill -INT");
    assert!(status.success());
    let out = child.wait_with_output().expect("wait");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{:?}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let logged = *loss_steps(&session).last().expect("rows");
    assert!(
        stdout.contains(&format!("stopped at step {logged}")),
        "{stdout}"
    );
    assert_eq!(checkpoint_step(&session.join("latest.safetensors")), logged);
}
