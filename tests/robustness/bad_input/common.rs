//! Running the binary and judging what it did: exit status, the one stderr line, the files
//! that appeared or changed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;

use assert_cmd::Command;

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn bundled_model() -> PathBuf {
    root().join("assets/model/default.safetensors")
}

/// The binary, with backtraces on so that a leaked panic or backtrace would show.
pub fn drummernet() -> Command {
    let mut cmd = Command::cargo_bin("drummernet").expect("binary built by cargo test");
    cmd.env("RUST_BACKTRACE", "1")
        .env_remove("DRUMMERNET_LOG")
        .env("RAYON_NUM_THREADS", "2")
        .current_dir(root());
    cmd
}

/// Root ignores file permissions: tests of unreadable or read-only paths skip then.
pub fn permissions_apply() -> bool {
    let dir = tempfile::tempdir().expect("tempdir");
    let probe = dir.path().join("probe");
    std::fs::write(&probe, b"x").expect("write");
    set_mode(&probe, 0o000);
    let blocked = std::fs::read(&probe).is_err();
    set_mode(&probe, 0o644);
    if !blocked {
        println!("skipped: running as root, file permissions do not block access");
    }
    blocked
}

/// The binary run as user `nobody` (through `setpriv`), when these tests run as root and can
/// drop privileges: file permissions then apply to it. None otherwise.
pub fn drummernet_as_nobody() -> Option<Command> {
    let root_user = std::fs::read_to_string("/proc/self/status")
        .ok()?
        .lines()
        .find(|l| l.starts_with("Uid:"))?
        .split_whitespace()
        .nth(1)
        == Some("0");
    let setpriv = ["/usr/bin/setpriv", "/bin/setpriv"]
        .into_iter()
        .find(|p| Path::new(p).exists())?;
    if !root_user {
        return None;
    }
    let mut cmd = Command::new(setpriv);
    cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(env!("CARGO_BIN_EXE_drummernet"))
        .env("RUST_BACKTRACE", "1")
        .env_remove("DRUMMERNET_LOG")
        .env("RAYON_NUM_THREADS", "2")
        .current_dir(root());
    Some(cmd)
}

pub fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

/// What a command did.
#[derive(Debug)]
pub struct Ran {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Ran {
    pub fn of(out: Output) -> Ran {
        Ran {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Asserts no panic or backtrace reached the user.
    pub fn no_panic(&self) -> &Ran {
        for bad in ["panicked", "stack backtrace", "RUST_BACKTRACE"] {
            assert!(!self.stderr.contains(bad), "panic: {}", self.stderr);
        }
        self
    }

    pub fn succeeded(&self) -> &Ran {
        self.no_panic();
        assert_eq!(self.code, Some(0), "failed: {}", self.stderr);
        self
    }

    /// Asserts exit status 1 and exactly one stderr line `error: ...` that contains every
    /// needle (case-insensitive); returns the line.
    pub fn one_line_error(&self, needles: &[&str]) -> String {
        self.no_panic();
        assert_eq!(self.code, Some(1), "exit status; stderr: {}", self.stderr);
        let lines: Vec<&str> = self.stderr.lines().collect();
        assert_eq!(lines.len(), 1, "stderr must be one line: {:?}", self.stderr);
        let line = lines[0];
        assert!(line.starts_with("error: "), "{line}");
        for n in needles {
            assert!(
                line.to_lowercase().contains(&n.to_lowercase()),
                "`{n}` missing from: {line}"
            );
        }
        line.to_string()
    }
}

impl Ran {
    /// A watcher's report of one bad file: exit status 1, exactly one log line naming the file
    /// as failed with the problem, and a closing `error:` line counting one failure.
    pub fn watch_failure(&self, needles: &[&str]) -> String {
        self.no_panic();
        assert_eq!(self.code, Some(1), "exit status; stderr: {}", self.stderr);
        let failed: Vec<&str> = self
            .stderr
            .lines()
            .filter(|l| l.contains(": failed: "))
            .collect();
        assert_eq!(failed.len(), 1, "one failure report: {:?}", self.stderr);
        let line = failed[0];
        for n in needles {
            assert!(
                line.to_lowercase().contains(&n.to_lowercase()),
                "`{n}` missing from: {line}"
            );
        }
        let last = self.stderr.lines().last().unwrap_or_default();
        assert!(
            last.starts_with("error: 1 file(s) failed"),
            "{}",
            self.stderr
        );
        line[line.find(": failed: ").map_or(0, |i| i + 2)..].to_string()
    }
}

pub fn run(cmd: &mut Command) -> Ran {
    Ran::of(cmd.output().expect("binary runs"))
}

/// Every file under `dir` (recursively) with its bytes, to tell what a command changed.
pub fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.insert(p.clone(), b"<dir>".to_vec());
            out.extend(snapshot(&p));
        } else {
            out.insert(
                p.clone(),
                std::fs::read(&p).unwrap_or_else(|_| b"<unreadable>".to_vec()),
            );
        }
    }
    out
}

/// Asserts that nothing under `dir` changed since `before`.
pub fn unchanged(dir: &Path, before: &BTreeMap<PathBuf, Vec<u8>>, what: &str) {
    let after = snapshot(dir);
    let added: Vec<_> = after.keys().filter(|k| !before.contains_key(*k)).collect();
    let removed: Vec<_> = before.keys().filter(|k| !after.contains_key(*k)).collect();
    let changed: Vec<_> = before
        .iter()
        .filter(|(k, v)| after.get(*k).is_some_and(|a| a != *v))
        .map(|(k, _)| k)
        .collect();
    assert!(
        added.is_empty() && removed.is_empty() && changed.is_empty(),
        "{what}: added {added:?}, removed {removed:?}, changed {changed:?}"
    );
}
