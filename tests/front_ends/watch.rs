//! `drummernet watch` as a user runs it: the real binary on a real folder with real file-system
//! events and the bundled model. Files arrive whole, in slow chunks, renamed in, corrupt, not
//! audio, deleted at once, in nested folders; the watcher is stopped with SIGTERM, killed with
//! SIGKILL mid-backlog and restarted, inputs are touched and modified, the model is replaced.
//! Every wait is bounded; short (2-3 s) grooves keep each transcription well under a second.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime};

use drummernet::atomic_file::{Overwrite, TEMP_SUFFIX};
use drummernet::audio::{write_wav, WavFormat, SAMPLE_RATE};
use drummernet::groove::{make_groove, GrooveSettings};
use drummernet::kit::procedural_kit;
use drummernet::midi::read_midi;
use drummernet::watch::{read_entries, Entry, State, LOCK_FILE};

const BIN: &str = env!("CARGO_BIN_EXE_drummernet");

fn model() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/model/default.safetensors")
}

/// WAV bytes of a `seconds`-long groove rendered through procedural kit `seed`.
fn groove_wav(seed: u64, seconds: f64) -> Vec<u8> {
    let kit = procedural_kit(seed, SAMPLE_RATE as usize);
    let take = make_groove(seed, seconds, &[kit], &GrooveSettings::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("g.wav");
    write_wav(
        &p,
        &take.audio,
        SAMPLE_RATE,
        WavFormat::Pcm16,
        Overwrite::Refuse,
    )
    .unwrap();
    std::fs::read(p).unwrap()
}

/// The binary with settings that keep the tests fast: one thread each (tests run side by side
/// on two cores), a 1-s stability wait, short debouncing.
fn watch_cmd(input: &Path, extra: &[&str]) -> Command {
    watch_cmd_with_model(input, &model(), extra)
}

fn watch_cmd_with_model(input: &Path, model: &Path, extra: &[&str]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.arg("watch")
        .arg(input)
        .arg("--model")
        .arg(model)
        .args(["--threads", "1"])
        .args(["--set", "watch.stable_seconds=1"])
        .args(["--set", "watch.debounce_seconds=0.2"])
        .args(extra)
        .env("RUST_BACKTRACE", "1")
        .env_remove("DRUMMERNET_LOG");
    cmd
}

/// A watcher running in the background, its stdout and stderr going to files.
struct Running {
    child: Child,
    stdout: PathBuf,
    stderr: PathBuf,
}

impl Running {
    fn start(mut cmd: Command, logs: &Path) -> Running {
        static RUNS: AtomicUsize = AtomicUsize::new(0);
        let n = RUNS.fetch_add(1, Ordering::Relaxed);
        let stdout = logs.join(format!("stdout-{n}.txt"));
        let stderr = logs.join(format!("stderr-{n}.txt"));
        let child = cmd
            .stdout(Stdio::from(std::fs::File::create(&stdout).unwrap()))
            .stderr(Stdio::from(std::fs::File::create(&stderr).unwrap()))
            .spawn()
            .expect("binary runs");
        let mut r = Running {
            child,
            stdout,
            stderr,
        };
        r.wait_until(Duration::from_secs(60), "the watcher to start", |r| {
            r.stderr().contains("watching ")
        });
        r
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    fn stdout(&self) -> String {
        std::fs::read_to_string(&self.stdout).unwrap_or_default()
    }

    /// Polls `cond` every 20 ms; fails (killing the watcher) after `limit`.
    fn wait_until(&mut self, limit: Duration, what: &str, mut cond: impl FnMut(&Self) -> bool) {
        let start = Instant::now();
        while !cond(self) {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "watcher exited ({status}) while waiting for {what}:\n{}",
                    self.stderr()
                );
            }
            if start.elapsed() > limit {
                let _ = self.child.kill();
                panic!("timed out waiting for {what}; stderr:\n{}", self.stderr());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Sends SIGTERM and waits (bounded) for the exit; returns whether it exited with status 0.
    fn terminate(mut self) -> (bool, String, String) {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(sent.success());
        let start = Instant::now();
        let status = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break s;
            }
            if start.elapsed() > Duration::from_secs(30) {
                let _ = self.child.kill();
                panic!("watcher did not stop after SIGTERM:\n{}", self.stderr());
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        (status.success(), self.stdout(), self.stderr())
    }
}

/// Runs a command to its end, killing it after `limit`.
fn run_bounded(mut cmd: Command, limit: Duration) -> Output {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("binary runs");
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > limit {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "did not finish within {limit:?}:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

fn journal(out: &Path) -> BTreeMap<String, Entry> {
    read_entries(out).unwrap_or_default()
}

fn count(j: &BTreeMap<String, Entry>, state: State) -> usize {
    j.values().filter(|e| e.state == state).count()
}

fn mtime(p: &Path) -> SystemTime {
    std::fs::metadata(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .modified()
        .unwrap()
}

/// Every file below `dir`, relative, sorted.
fn files_below(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            if e.file_type().unwrap().is_dir() {
                stack.push(e.path());
            } else {
                out.push(
                    e.path()
                        .strip_prefix(dir)
                        .unwrap()
                        .to_string_lossy()
                        .into_owned(),
                );
            }
        }
    }
    out.sort();
    out
}

fn json_duration(p: &Path) -> f64 {
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap();
    v["duration_seconds"].as_f64().unwrap()
}

fn occurrences(text: &str, needle: &str) -> usize {
    text.matches(needle).count()
}

#[test]
fn twenty_files_of_every_kind_each_good_one_transcribed_exactly_once() {
    let tmp = tempfile::tempdir().unwrap();
    let (input, out, outside) = (
        tmp.path().join("in"),
        tmp.path().join("out"),
        tmp.path().join("outside"),
    );
    std::fs::create_dir_all(&input).unwrap();
    std::fs::create_dir_all(&outside).unwrap();
    let wavs: Vec<Vec<u8>> = (0..4).map(|s| groove_wav(s, 2.0)).collect();
    let w = Running::start(
        watch_cmd(
            &input,
            &[
                "--out",
                out.to_str().unwrap(),
                "--recursive",
                "--format",
                "mid,json",
                // Twice the default margin over the 150-ms pauses of the slow writers below,
                // so that a busy CI machine stalling this thread cannot split a file.
                "--set",
                "watch.stable_seconds=2",
            ],
        ),
        tmp.path(),
    );

    let mut good: Vec<String> = Vec::new();
    // 12 files written whole: 4 at the top, 4 in a folder and 4 in a folder inside it, both
    // folders made while watching (their first files may land before the watch on them).
    for (i, dir) in ["", "a", "a/b"].iter().enumerate() {
        std::fs::create_dir_all(input.join(dir)).unwrap();
        for j in 0..4 {
            let key = if dir.is_empty() {
                format!("whole{i}{j}.wav")
            } else {
                format!("{dir}/whole{i}{j}.wav")
            };
            std::fs::write(input.join(&key), &wavs[(i + j) % 4]).unwrap();
            good.push(key);
        }
    }
    // A file renamed in from outside the folder.
    std::fs::write(outside.join("moved.wav"), &wavs[1]).unwrap();
    std::fs::rename(outside.join("moved.wav"), input.join("a/moved.wav")).unwrap();
    good.push("a/moved.wav".into());
    // Bad and odd files.
    std::fs::write(
        input.join("corrupt.wav"),
        b"RIFF\x10\x00\x00\x00WAVEjunkjunkjunk",
    )
    .unwrap();
    std::fs::write(
        input.join("text.mp3"),
        "this is not audio at all\n".repeat(40),
    )
    .unwrap();
    std::fs::write(input.join("notes.txt"), "a note about the session\n").unwrap();
    std::fs::write(input.join("gone.wav"), &wavs[2]).unwrap();
    std::fs::remove_file(input.join("gone.wav")).unwrap();
    // Three files written in 8 chunks each, 150 ms apart (1.05 s in all, each pause well
    // under the 2-s stability wait): a watcher taking them early would see half a file.
    let slow: Vec<String> = (0..3).map(|i| format!("a/b/slow{i}.wav")).collect();
    {
        use std::io::Write;
        let mut files: Vec<std::fs::File> = slow
            .iter()
            .map(|k| std::fs::File::create(input.join(k)).unwrap())
            .collect();
        let bytes = &wavs[3];
        let chunk = bytes.len().div_ceil(8);
        for part in bytes.chunks(chunk) {
            for f in &mut files {
                f.write_all(part).unwrap();
                f.flush().unwrap();
            }
            std::thread::sleep(Duration::from_millis(150));
        }
    }
    good.extend(slow.iter().cloned());
    assert_eq!(good.len() + 4, 20);

    let mut w = w;
    w.wait_until(Duration::from_secs(90), "16 done and 2 failed", |_| {
        let j = journal(&out);
        count(&j, State::Done) == 16 && count(&j, State::Failed) == 2
    });
    // Nothing more happens once everything is handled: no second transcription of anything.
    std::thread::sleep(Duration::from_millis(1500));
    let before_stop = journal(&out);
    let (clean_exit, stdout, stderr) = w.terminate();
    assert!(
        clean_exit,
        "SIGTERM must end the watcher with status 0:\n{stderr}"
    );
    let j = journal(&out);
    assert_eq!(
        j, before_stop,
        "the journal changed after everything was done"
    );
    assert_eq!(
        j.len(),
        18,
        "journal keys: {:?}",
        j.keys().collect::<Vec<_>>()
    );

    for key in &good {
        let e = j
            .get(key)
            .unwrap_or_else(|| panic!("{key} missing from the journal"));
        assert_eq!(e.state, State::Done, "{key}: {e:?}");
        assert_eq!(
            e.transcriptions, 1,
            "{key} transcribed {} times",
            e.transcriptions
        );
        let stem = key.strip_suffix(".wav").unwrap();
        assert_eq!(
            e.outputs,
            vec![format!("{stem}.mid"), format!("{stem}.json")]
        );
        let notes = read_midi(&out.join(format!("{stem}.mid")))
            .unwrap_or_else(|err| panic!("{key}: unreadable MIDI output: {err}"));
        assert!(!notes.is_empty(), "{key}: no notes in a 2-s groove");
        // The slowly written files were transcribed whole, not from a partial file.
        let seconds = json_duration(&out.join(format!("{stem}.json")));
        assert!(
            (seconds - 2.0).abs() < 1e-3,
            "{key}: {seconds} s transcribed"
        );
    }
    for bad in ["corrupt.wav", "text.mp3"] {
        let e = &j[bad];
        assert_eq!(e.state, State::Failed);
        assert!(e.error.as_deref().is_some_and(|m| m.contains(bad)), "{e:?}");
        assert_eq!(
            occurrences(&stderr, &format!("{bad}: failed")),
            1,
            "{bad} must be reported exactly once:\n{stderr}"
        );
    }
    assert_eq!(
        occurrences(&stderr, "notes.txt: skipped: not an audio file"),
        1
    );
    assert!(!j.contains_key("gone.wav") && !j.contains_key("notes.txt"));
    // Outputs only in the output folder, none for the bad files, no temporary file anywhere.
    let outs = files_below(&out);
    // Two outputs per good input, the journal and its lock file.
    assert_eq!(outs.len(), 2 * 16 + 2, "{outs:?}");
    assert!(outs.iter().any(|f| f == LOCK_FILE), "{outs:?}");
    assert!(outs.iter().all(|f| !f.contains(TEMP_SUFFIX)), "{outs:?}");
    assert!(!outs
        .iter()
        .any(|f| f.starts_with("corrupt.") || f.starts_with("text.")));
    let ins = files_below(&input);
    assert!(
        ins.iter()
            .all(|f| f.ends_with(".wav") || f.ends_with(".mp3") || f == "notes.txt"),
        "{ins:?}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(
        stdout.contains("16 transcribed") && stdout.contains("2 failed"),
        "{stdout}"
    );
}

#[test]
fn killed_mid_backlog_and_restarted_each_file_is_transcribed_exactly_once() {
    let tmp = tempfile::tempdir().unwrap();
    let (input, out) = (tmp.path().join("in"), tmp.path().join("out"));
    std::fs::create_dir_all(&input).unwrap();
    let n = 8;
    for i in 0..n {
        std::fs::write(input.join(format!("take{i}.wav")), groove_wav(10 + i, 2.0)).unwrap();
    }
    let args = ["--out", out.to_str().unwrap(), "--once"];
    let mut w = Running::start(watch_cmd(&input, &args), tmp.path());
    w.wait_until(Duration::from_secs(60), "3 files done", |_| {
        count(&journal(&out), State::Done) >= 3
    });
    w.child.kill().unwrap(); // SIGKILL: no handler, no clean-up
    w.child.wait().unwrap();

    let at_kill = journal(&out);
    let done_at_kill: Vec<&String> = at_kill
        .iter()
        .filter(|(_, e)| e.state == State::Done)
        .map(|(k, _)| k)
        .collect();
    let d = done_at_kill.len();
    assert!(
        d < n as usize,
        "killed too late to test anything: all {d} done"
    );
    let mid = |k: &str| out.join(k.replace(".wav", ".mid"));
    let mtimes: Vec<SystemTime> = done_at_kill.iter().map(|k| mtime(&mid(k))).collect();

    let again = run_bounded(watch_cmd(&input, &args), Duration::from_secs(90));
    let stdout = String::from_utf8_lossy(&again.stdout);
    assert!(
        again.status.success(),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    assert!(
        stdout.contains(&format!(
            "{} transcribed, {d} up to date, 0 failed",
            n as usize - d
        )),
        "{stdout}"
    );
    let j = journal(&out);
    assert_eq!(j.len(), n as usize);
    for (k, e) in &j {
        assert_eq!((e.state, e.transcriptions), (State::Done, 1), "{k}: {e:?}");
        read_midi(&mid(k)).unwrap_or_else(|err| panic!("{k}: {err}"));
    }
    for (k, t) in done_at_kill.iter().zip(&mtimes) {
        assert_eq!(
            mtime(&mid(k)),
            *t,
            "{k} was written again after the restart"
        );
        assert_eq!(j[*k], at_kill[*k], "{k}'s journal entry changed");
    }
}

#[test]
fn a_modified_input_or_another_model_is_transcribed_again_a_touched_one_is_not() {
    let tmp = tempfile::tempdir().unwrap();
    let (input, out) = (tmp.path().join("in"), tmp.path().join("out"));
    std::fs::create_dir_all(&input).unwrap();
    let song = input.join("song.wav");
    std::fs::write(&song, groove_wav(21, 2.0)).unwrap();
    let args = ["--out", out.to_str().unwrap(), "--format", "mid,json"];
    let mut w = Running::start(watch_cmd(&input, &args), tmp.path());
    let entry = |out: &Path| journal(out).get("song.wav").cloned();
    w.wait_until(Duration::from_secs(60), "the first transcription", |_| {
        entry(&out).is_some_and(|e| e.state == State::Done)
    });
    let first = entry(&out).unwrap();
    let first_mid = mtime(&out.join("song.mid"));

    // Touched (new modification time, same bytes): the journal learns the new time, no work.
    let touched_at = SystemTime::now() + Duration::from_secs(5);
    std::fs::File::options()
        .append(true)
        .open(&song)
        .unwrap()
        .set_modified(touched_at)
        .unwrap();
    let touched_ns = touched_at
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    w.wait_until(Duration::from_secs(30), "the touch to be noticed", |_| {
        entry(&out).is_some_and(|e| e.mtime_ns == touched_ns)
    });
    assert_eq!(entry(&out).unwrap().transcriptions, 1);
    assert_eq!(mtime(&out.join("song.mid")), first_mid);

    // Modified in place (now 3 s long): transcribed again, outputs replaced.
    std::fs::write(&song, groove_wav(22, 3.0)).unwrap();
    w.wait_until(Duration::from_secs(60), "the second transcription", |_| {
        entry(&out).is_some_and(|e| e.transcriptions == 2 && e.state == State::Done)
    });
    let second = entry(&out).unwrap();
    assert_ne!(second.hash, first.hash);
    assert!(mtime(&out.join("song.mid")) > first_mid);
    assert!((json_duration(&out.join("song.json")) - 3.0).abs() < 1e-3);
    let (clean_exit, _, stderr) = w.terminate();
    assert!(clean_exit, "{stderr}");

    // Another model (same weights, other file content): everything is transcribed again, once.
    let other = tmp.path().join("other.safetensors");
    let mut file =
        drummernet::model::file::load_tensor_file(&model(), &candle_core::Device::Cpu).unwrap();
    file.metadata.insert("note".into(), "a copy".into());
    let tensors: Vec<(String, candle_core::Tensor)> = file.tensors.into_iter().collect();
    drummernet::model::file::save_tensor_file(&other, &tensors, file.metadata, Overwrite::Refuse)
        .unwrap();
    let with_other = || {
        let mut cmd = watch_cmd_with_model(&input, &other, &args);
        cmd.arg("--once");
        run_bounded(cmd, Duration::from_secs(60))
    };
    let o = with_other();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stdout).contains("1 transcribed, 0 up to date"));
    let third = entry(&out).unwrap();
    assert_eq!(third.transcriptions, 3);
    assert_ne!(third.model, second.model);
    let o = with_other();
    assert!(String::from_utf8_lossy(&o.stdout).contains("0 transcribed, 1 up to date"));
}

#[test]
fn once_processes_the_backlog_and_reports_counts_then_failures_once() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("in");
    std::fs::create_dir_all(input.join("sub")).unwrap();
    for i in 0..4 {
        std::fs::write(input.join(format!("t{i}.wav")), groove_wav(30 + i, 2.0)).unwrap();
    }
    std::fs::write(input.join("sub/nested.wav"), groove_wav(40, 2.0)).unwrap();
    std::fs::write(input.join("readme.txt"), "stems for the session\n").unwrap();
    let once = || run_bounded(watch_cmd(&input, &["--once"]), Duration::from_secs(60));
    let text = |o: &Output| {
        (
            String::from_utf8_lossy(&o.stdout).into_owned(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };

    let o = once();
    let (stdout, stderr) = text(&o);
    assert!(o.status.success(), "{stderr}");
    assert_eq!(
        stdout.trim_end(),
        format!(
            "{}: 4 transcribed, 0 up to date, 0 failed, 0 failed earlier (unchanged), \
             0 gone before processing, 1 not audio",
            input.display()
        )
    );
    // Outputs beside the inputs; the sub-folder is not watched without --recursive.
    for i in 0..4 {
        read_midi(&input.join(format!("t{i}.mid"))).unwrap();
    }
    assert!(!input.join("sub/nested.mid").exists());

    // A killed run's temporary output (its writer's process is gone) is cleaned up at the next
    // start, in sub-folders too; one of a live writer (this test) is left alone.
    let stale = input.join("sub/.nested.mid.4194000.0.drummernet-tmp");
    let live = input.join(format!(".t0.mid.{}.0.drummernet-tmp", std::process::id()));
    std::fs::write(&stale, b"half a file").unwrap();
    std::fs::write(&live, b"being written").unwrap();

    // Again: all up to date, and the watcher's own outputs are not counted as foreign files.
    let (stdout, _) = text(&once());
    assert!(!stale.exists(), "stale temporary file left behind");
    assert!(live.exists(), "a live writer's temporary file was removed");
    std::fs::remove_file(&live).unwrap();
    assert!(
        stdout.contains("0 transcribed, 4 up to date, 0 failed, 0 failed earlier (unchanged), 0 gone before processing, 1 not audio"),
        "{stdout}"
    );

    // A broken file: reported, exit status 1, recorded...
    std::fs::write(input.join("broken.wav"), vec![0x5a; 3000]).unwrap();
    let o = once();
    let (stdout, stderr) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{stderr}");
    assert!(
        stdout.contains("0 transcribed, 4 up to date, 1 failed"),
        "{stdout}"
    );
    assert_eq!(occurrences(&stderr, "broken.wav: failed"), 1, "{stderr}");
    assert!(stderr.contains("error: 1 file(s) failed"), "{stderr}");
    // ...and not retried while it is unchanged.
    let o = once();
    let (stdout, stderr) = text(&o);
    assert!(o.status.success(), "{stderr}");
    assert!(stdout.contains("0 failed, 1 failed earlier"), "{stdout}");
    assert!(!stderr.contains("broken.wav: failed"), "{stderr}");
}

#[test]
fn sigterm_mid_backlog_finishes_the_file_in_flight_and_exits_cleanly() {
    let tmp = tempfile::tempdir().unwrap();
    let (input, out) = (tmp.path().join("in"), tmp.path().join("out"));
    std::fs::create_dir_all(&input).unwrap();
    for i in 0..6 {
        std::fs::write(input.join(format!("s{i}.wav")), groove_wav(50 + i, 2.0)).unwrap();
    }
    let args = [
        "--out",
        out.to_str().unwrap(),
        "--once",
        "--format",
        "mid,csv",
    ];
    let mut w = Running::start(watch_cmd(&input, &args), tmp.path());
    w.wait_until(Duration::from_secs(60), "a first file done", |_| {
        count(&journal(&out), State::Done) >= 1
    });
    let (clean_exit, stdout, stderr) = w.terminate();
    assert!(clean_exit, "{stderr}");
    assert!(stderr.contains("stopping"), "{stderr}");
    let j = journal(&out);
    let done = count(&j, State::Done);
    assert!(done < 6, "stopped too late to test anything");
    // Nothing half-done: every entry finished, with all its outputs; no temporary file.
    assert_eq!(done, j.len(), "{j:?}");
    for (k, e) in &j {
        for o in &e.outputs {
            assert!(out.join(o).is_file(), "{k}: {o} missing");
        }
    }
    assert!(files_below(&out).iter().all(|f| !f.contains(TEMP_SUFFIX)));
    assert!(stdout.contains(&format!("{done} transcribed")), "{stdout}");
}

#[test]
fn a_second_watcher_on_the_same_output_folder_is_refused_while_the_first_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let (input, out) = (tmp.path().join("in"), tmp.path().join("out"));
    std::fs::create_dir_all(&input).unwrap();
    let args = ["--out", out.to_str().unwrap()];
    let first = Running::start(watch_cmd(&input, &args), tmp.path());
    let other_input = tmp.path().join("in2");
    std::fs::create_dir_all(&other_input).unwrap();
    let once = ["--out", out.to_str().unwrap(), "--once"];
    let o = run_bounded(watch_cmd(&other_input, &once), Duration::from_secs(30));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("another drummernet watch"), "{stderr}");
    // The lock goes with the process: once the first watcher has stopped, the folder is free.
    let (clean_exit, _, stderr) = first.terminate();
    assert!(clean_exit, "{stderr}");
    let o = run_bounded(watch_cmd(&other_input, &once), Duration::from_secs(30));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn bad_arguments_are_one_line_errors_naming_the_problem() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("song.wav");
    std::fs::write(&file, groove_wav(60, 1.0)).unwrap();
    let cases: [(Vec<&str>, PathBuf, &str); 3] = [
        (
            vec![],
            tmp.path().join("missing"),
            "missing: no such folder",
        ),
        (vec![], file.clone(), "song.wav: not a folder"),
        (
            vec!["--format", "mp4"],
            tmp.path().to_path_buf(),
            "unknown format `mp4`",
        ),
    ];
    for (extra, input, message) in cases {
        let o = run_bounded(watch_cmd(&input, &extra), Duration::from_secs(30));
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(
            stderr.starts_with("error: ") && stderr.contains(message),
            "{stderr}"
        );
    }
    // A damaged journal is refused rather than guessed around (guessing could repeat work).
    std::fs::write(tmp.path().join("drummernet-journal.json"), "{").unwrap();
    let o = run_bounded(watch_cmd(tmp.path(), &["--once"]), Duration::from_secs(30));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("drummernet-journal.json: unreadable watch journal"),
        "{stderr}"
    );
    assert!(!tmp.path().join("song.mid").exists());
}
