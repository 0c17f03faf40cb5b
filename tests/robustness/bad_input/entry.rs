//! The entry points every corpus case goes through, as one table: each runs an input in a
//! scratch folder of its own and reports what a user would see. Adding an entry point (e.g.
//! `watch --once`) is one more variant here and one more arm in `run`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use drummernet::audio::playback::NoSink;
use drummernet::config::Config;
use drummernet::tui::{Action, App, AppOptions};

use super::common::{bundled_model, drummernet, run, snapshot, Ran};
use super::corpus::{Case, Expect};

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Entry {
    /// `drummernet transcribe INPUT --out DIR --format mid,json,csv`
    Transcribe,
    /// `drummernet eval --gt GT --model MODEL --audio DIR --json OUT` with the input as a clip.
    EvalWithModel,
    /// The workbench's open action (`o`, a path, Enter), in process.
    WorkbenchOpen,
    /// `drummernet watch IN --out OUT --once` with the input alone in the watched folder.
    WatchOnce,
}

pub const AUDIO_ENTRIES: [Entry; 4] = [
    Entry::Transcribe,
    Entry::EvalWithModel,
    Entry::WorkbenchOpen,
    Entry::WatchOnce,
];

/// What running a case gave.
#[derive(Debug)]
pub struct Outcome {
    pub ran: Ran,
    /// Transcribed onsets (seconds, class label), where the entry point reports them.
    pub onsets: Option<Vec<(f64, String)>>,
    /// Onsets the entry point found, where it reports a count.
    pub onset_count: Option<usize>,
    /// The folder whose content must be unchanged after an error.
    pub outputs: PathBuf,
    pub outputs_before: std::collections::BTreeMap<PathBuf, Vec<u8>>,
}

impl Entry {
    pub fn name(self) -> &'static str {
        match self {
            Entry::Transcribe => "transcribe",
            Entry::EvalWithModel => "eval --model --audio",
            Entry::WorkbenchOpen => "workbench open",
            Entry::WatchOnce => "watch --once",
        }
    }

    /// What this entry point must give for `case` (entry points differ on a few by design).
    pub fn expect(self, case: &Case) -> Expect {
        match (self, case.expect) {
            // eval looks for `<clip>.<ext>` files: a folder or nothing is a clip without audio,
            // scored as no onsets and listed as missing.
            (Entry::EvalWithModel, Expect::Error(n))
                if n == ["no such file"] || n == ["directory"] =>
            {
                Expect::Message(&["MISSING predictions for 1 clips"])
            }
            // The workbench opens a folder as training data (its first audio file is shown).
            (Entry::WorkbenchOpen, Expect::Error(n)) if n == ["directory"] => {
                Expect::Message(&["training data folder (no audio file to show)"])
            }
            // The watcher sees what is in its folder: nothing, or a sub-folder it does not
            // enter without --recursive.
            (Entry::WatchOnce, Expect::Error(n)) if n == ["no such file"] || n == ["directory"] => {
                Expect::Message(&["0 transcribed", "0 failed"])
            }
            (_, e) => e,
        }
    }

    pub fn run(self, case: &Case, scratch: &Path) -> Outcome {
        std::fs::create_dir_all(scratch).expect("scratch folder");
        match self {
            Entry::Transcribe => transcribe(case, scratch),
            Entry::EvalWithModel => eval(case, scratch),
            Entry::WorkbenchOpen => workbench_open(case, scratch),
            Entry::WatchOnce => watch_once(case, scratch),
        }
    }
}

fn stem(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn transcribe(case: &Case, scratch: &Path) -> Outcome {
    let out = scratch.join("out");
    std::fs::create_dir_all(&out).expect("out");
    let expects_error = matches!(case.expect, Expect::Error(_));
    if expects_error {
        // An existing output of the same name must survive a failed run.
        std::fs::write(out.join(format!("{}.mid", stem(&case.path))), b"precious").expect("w");
    }
    let before = snapshot(&out);
    let ran = run(drummernet()
        .arg("transcribe")
        .arg(&case.path)
        .arg("--model")
        .arg(bundled_model())
        .arg("--out")
        .arg(&out)
        .args(["--format", "mid,json,csv"]));
    let json = out.join(format!("{}.json", stem(&case.path)));
    let onsets = (!expects_error && ran.code == Some(0)).then(|| json_onsets(&json));
    Outcome {
        ran,
        onset_count: onsets.as_ref().map(Vec::len),
        onsets,
        outputs: out,
        outputs_before: before,
    }
}

fn watch_once(case: &Case, scratch: &Path) -> Outcome {
    let (watched, out) = (scratch.join("in"), scratch.join("out"));
    for d in [&watched, &out] {
        std::fs::create_dir_all(d).expect("mkdir");
    }
    let name = case.path.file_name().expect("name");
    if case.path.is_dir() {
        std::fs::create_dir(watched.join(name)).expect("mkdir");
    } else if case.path.symlink_metadata().is_ok() {
        std::fs::hard_link(&case.path, watched.join(name)).expect("link");
    }
    let expects_error = matches!(case.expect, Expect::Error(_));
    let before = snapshot(&out);
    let ran = run(drummernet()
        .arg("watch")
        .arg(&watched)
        .arg("--out")
        .arg(&out)
        .args(["--once", "--format", "mid,json", "--model"])
        .arg(bundled_model())
        .args(["--set", "watch.stable_seconds=0"]));
    let json = out.join(format!("{}.json", stem(&case.path)));
    let onsets =
        (!expects_error && ran.code == Some(0) && json.exists()).then(|| json_onsets(&json));
    // The journal and its lock file are the watcher's own records (of failures too);
    // user-visible outputs are what must not appear.
    let mut before = before;
    for own in [
        drummernet::watch::JOURNAL_FILE,
        drummernet::watch::LOCK_FILE,
    ] {
        let path = out.join(own);
        let _ = std::fs::remove_file(&path);
        before.remove(&path);
    }
    Outcome {
        ran,
        onset_count: onsets.as_ref().map(Vec::len),
        onsets,
        outputs: out,
        outputs_before: before,
    }
}

fn json_onsets(json: &Path) -> Vec<(f64, String)> {
    let v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(json).expect("json output")).expect("json");
    v["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| {
            (
                e["time"].as_f64().expect("time"),
                e["class"].as_str().unwrap_or("?").to_string(),
            )
        })
        .collect()
}

fn eval(case: &Case, scratch: &Path) -> Outcome {
    let (gt, audio, out) = (
        scratch.join("gt"),
        scratch.join("audio"),
        scratch.join("out"),
    );
    for d in [&gt, &audio, &out] {
        std::fs::create_dir_all(d).expect("mkdir");
    }
    let id = stem(&case.path);
    std::fs::write(
        gt.join(format!("{id}.txt")),
        "0.013\tKD\n0.476\tSD\n0.932\tKD\n",
    )
    .expect("gt");
    let clip = audio.join(case.path.file_name().expect("name"));
    if case.path.is_dir() {
        std::fs::create_dir(&clip).expect("mkdir");
    } else if case.path.symlink_metadata().is_ok() {
        // A hard link keeps the file's permissions (an unreadable file stays unreadable).
        std::fs::hard_link(&case.path, &clip).expect("link");
    }
    let before = snapshot(&out);
    let json = out.join("eval.json");
    let ran = run(drummernet()
        .args(["eval", "--gt"])
        .arg(&gt)
        .arg("--model")
        .arg(bundled_model())
        .arg("--audio")
        .arg(&audio)
        .arg("--json")
        .arg(&json));
    let onset_count = (ran.code == Some(0)).then(|| {
        let v: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&json).expect("eval json")).expect("json");
        // Kicks and snares only: an input without a band above 6 kHz (8 kHz) takes its
        // hi-hats from the model instead of the audio, and their count differs by design.
        let classes = v["clips"][0]["classes"].as_object().expect("classes");
        ["KD", "SD"]
            .iter()
            .map(|k| {
                classes
                    .get(*k)
                    .map_or(0, |c| c["n_est"].as_u64().unwrap_or(0)) as usize
            })
            .sum()
    });
    Outcome {
        ran,
        onsets: None,
        onset_count,
        outputs: out,
        outputs_before: before,
    }
}

fn workbench_open(case: &Case, scratch: &Path) -> Outcome {
    let mut opts = AppOptions::new(Config::defaults().expect("config"));
    opts.kit = Some("procedural:0".into());
    opts.sessions_dir = scratch.join("sessions");
    let mut app = App::new(opts, Box::new(NoSink("no output device (test)".into())));
    let before = snapshot(scratch);
    app.act(Action::OpenPath(case.path.clone()));
    assert!(
        app.wait_idle(Duration::from_secs(60)),
        "open never finished"
    );
    let error = app.status().is_error();
    let message = app.status().message().to_string();
    Outcome {
        ran: Ran {
            code: Some(if error { 1 } else { 0 }),
            stdout: if error {
                String::new()
            } else {
                message.clone()
            },
            stderr: if error {
                format!("error: {message}\n")
            } else {
                String::new()
            },
        },
        onsets: None,
        onset_count: None,
        outputs: scratch.to_path_buf(),
        outputs_before: before,
    }
}
