//! The watch journal: one JSON file in the output folder recording, for every input (keyed by
//! its path relative to the watched folder), which version of it was handled, with which model
//! and settings, and how it went. Rewritten atomically after every change, so a crash or
//! SIGKILL leaves either the previous or the new journal, never a mix.
//!
//! An entry is written `pending` (with the outputs about to be written) before a job writes its
//! outputs and `done` after: a job killed in between is redone at the next start, and the files
//! it left are known to be the watcher's own, so they may be replaced. An input that cannot be
//! transcribed is recorded `failed` with the error, and is not retried until it changes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::atomic_file::{write_bytes_atomic, Overwrite};
use crate::error::{Error, Result};

use super::fingerprint::Stamp;

/// The journal's file name inside the output folder.
pub const JOURNAL_FILE: &str = "drummernet-journal.json";
const FORMAT: &str = "drummernet-watch-journal";
const VERSION: u32 = 1;

/// What was done with an input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// Outputs were being written when the journal was last saved.
    Pending,
    Done,
    Failed,
}

/// Which model and settings produced (or would produce) the outputs: hashes of the model file
/// and of the inference + MIDI settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub model: String,
    pub settings: String,
}

/// One input's record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    pub state: State,
    /// The input version handled: size, modification time, content hash.
    pub size: u64,
    pub mtime_ns: u64,
    pub hash: String,
    pub model: String,
    pub settings: String,
    /// Files written for this input, relative to the output folder, `/`-separated.
    #[serde(default)]
    pub outputs: Vec<String>,
    /// Why the input could not be transcribed (state `failed`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Completed transcriptions of this input, over all its versions.
    #[serde(default)]
    pub transcriptions: u32,
    /// Seconds the last job took, and when it ended (Unix seconds).
    #[serde(default)]
    pub seconds: f64,
    #[serde(default)]
    pub finished_unix: u64,
}

impl Entry {
    pub fn stamp(&self) -> Stamp {
        Stamp {
            size: self.size,
            mtime_ns: self.mtime_ns,
        }
    }
}

/// Why an input is (re)transcribed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkReason {
    New,
    Changed,
    ModelChanged,
    SettingsChanged,
    OutputsMissing,
    /// The previous job was killed while writing outputs.
    Interrupted,
}

impl WorkReason {
    pub fn label(self) -> &'static str {
        match self {
            WorkReason::New => "new",
            WorkReason::Changed => "changed",
            WorkReason::ModelChanged => "other model",
            WorkReason::SettingsChanged => "other settings",
            WorkReason::OutputsMissing => "outputs missing",
            WorkReason::Interrupted => "interrupted earlier",
        }
    }
}

/// What to do with an input, given its journal entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Transcribe(WorkReason),
    /// Done with this very content, model and settings; outputs present.
    UpToDate,
    /// Failed with this very content and model: the error recorded then.
    FailedEarlier(String),
    /// Size or modification time differ from the entry's: only the content hash can tell.
    NeedsHash,
}

/// Judges an input of stamp `stamp` (and content `hash`, when known) against `entry`.
/// `outputs_present` says whether every one of `planned` outputs exists.
pub fn judge(
    entry: Option<&Entry>,
    stamp: Stamp,
    hash: Option<&str>,
    identity: &Identity,
    planned: &[String],
    outputs_present: impl Fn(&[String]) -> bool,
) -> Verdict {
    let Some(e) = entry else {
        return Verdict::Transcribe(WorkReason::New);
    };
    if e.state == State::Pending {
        return Verdict::Transcribe(WorkReason::Interrupted);
    }
    let same_content = if e.stamp() == stamp {
        true
    } else {
        match hash {
            Some(h) => h == e.hash,
            None => return Verdict::NeedsHash,
        }
    };
    if !same_content {
        return Verdict::Transcribe(WorkReason::Changed);
    }
    if e.model != identity.model {
        return Verdict::Transcribe(WorkReason::ModelChanged);
    }
    if e.state == State::Failed {
        return Verdict::FailedEarlier(e.error.clone().unwrap_or_default());
    }
    if e.settings != identity.settings {
        return Verdict::Transcribe(WorkReason::SettingsChanged);
    }
    if !planned.iter().all(|p| e.outputs.contains(p)) || !outputs_present(planned) {
        return Verdict::Transcribe(WorkReason::OutputsMissing);
    }
    Verdict::UpToDate
}

#[derive(Deserialize)]
struct JournalFile {
    format: String,
    version: u32,
    entries: BTreeMap<String, Entry>,
}

#[derive(Serialize)]
struct JournalFileRef<'a> {
    format: &'a str,
    version: u32,
    entries: &'a BTreeMap<String, Entry>,
}

/// The entries of `<out_dir>/drummernet-journal.json` as last saved (empty when there is none),
/// without taking the folder's lock: for looking at the work of a watcher that is running.
pub fn read_entries(out_dir: &Path) -> Result<BTreeMap<String, Entry>> {
    let path = out_dir.join(JOURNAL_FILE);
    let bytes = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
        Err(e) => return Err(Error::io(&path, e)),
    };
    let file: JournalFile = serde_json::from_slice(&bytes).map_err(|e| {
        Error::Invalid(format!(
            "{}: unreadable watch journal ({e}); move it away to start afresh \
             (every input is then transcribed again)",
            path.display()
        ))
    })?;
    if file.format != FORMAT || file.version != VERSION {
        return Err(Error::Invalid(format!(
            "{}: not a version-{VERSION} drummernet watch journal",
            path.display()
        )));
    }
    Ok(file.entries)
}

/// The lock file beside the journal: held (an advisory OS lock, released when the process
/// ends, however it ends) by the one watcher that owns the output folder.
pub const LOCK_FILE: &str = "drummernet-journal.lock";

/// The journal of one output folder, in memory; [`Journal::save`] writes it. While it lives it
/// holds the folder's lock: a second watcher on the same output folder would rewrite the journal
/// over the first one's entries and delete its temporary files as stale.
#[derive(Debug)]
pub struct Journal {
    path: PathBuf,
    entries: BTreeMap<String, Entry>,
    _lock: std::fs::File,
}

fn lock_folder(out_dir: &Path) -> Result<std::fs::File> {
    let path = out_dir.join(LOCK_FILE);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| Error::io(&path, e))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(Error::Invalid(format!(
            "{}: another drummernet watch is writing to this output folder (it holds {LOCK_FILE}); \
             stop it or choose another --out",
            out_dir.display()
        ))),
        Err(std::fs::TryLockError::Error(e)) => Err(Error::io(&path, e)),
    }
}

impl Journal {
    /// Reads `<out_dir>/drummernet-journal.json`, or starts an empty journal when there is none.
    /// A journal that cannot be read is an error naming it: guessing could repeat or skip work.
    pub fn open(out_dir: &Path) -> Result<Journal> {
        let lock = lock_folder(out_dir)?;
        Ok(Journal {
            path: out_dir.join(JOURNAL_FILE),
            entries: read_entries(out_dir)?,
            _lock: lock,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn get(&self, key: &str) -> Option<&Entry> {
        self.entries.get(key)
    }

    pub fn entries(&self) -> impl Iterator<Item = (&String, &Entry)> {
        self.entries.iter()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn set(&mut self, key: &str, entry: Entry) {
        self.entries.insert(key.to_string(), entry);
    }

    /// The input whose entry lists `output` (relative to the output folder), if any.
    pub fn owner_of(&self, output: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(_, e)| e.outputs.iter().any(|o| o == output))
            .map(|(k, _)| k.as_str())
    }

    /// Writes the journal atomically (temporary file, flush, rename). It is rewritten whole,
    /// which stays cheap next to a transcription up to tens of thousands of inputs.
    pub fn save(&self) -> Result<()> {
        let file = JournalFileRef {
            format: FORMAT,
            version: VERSION,
            entries: &self.entries,
        };
        let mut text = serde_json::to_string_pretty(&file)
            .map_err(|e| Error::io(&self.path, std::io::Error::other(e)))?;
        text.push('\n');
        write_bytes_atomic(&self.path, text.as_bytes(), Overwrite::Allow)
    }
}

/// `path` relative to `root`, `/`-separated: the journal key of an input and the name of an
/// output. `None` when `path` is not inside `root`.
pub fn relative_key(root: &Path, path: &Path) -> Option<String> {
    let rel = path.strip_prefix(root).ok()?;
    let parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    (!parts.is_empty()).then(|| parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity() -> Identity {
        Identity {
            model: "m1".into(),
            settings: "s1".into(),
        }
    }

    fn done(stamp: Stamp) -> Entry {
        Entry {
            state: State::Done,
            size: stamp.size,
            mtime_ns: stamp.mtime_ns,
            hash: "h1".into(),
            model: "m1".into(),
            settings: "s1".into(),
            outputs: vec!["a.mid".into()],
            error: None,
            transcriptions: 1,
            seconds: 0.5,
            finished_unix: 1,
        }
    }

    const STAMP: Stamp = Stamp {
        size: 10,
        mtime_ns: 5,
    };
    const TOUCHED: Stamp = Stamp {
        size: 10,
        mtime_ns: 6,
    };

    fn verdict(entry: Option<&Entry>, stamp: Stamp, hash: Option<&str>) -> Verdict {
        judge(
            entry,
            stamp,
            hash,
            &identity(),
            &["a.mid".to_string()],
            |_| true,
        )
    }

    #[test]
    fn judge_names_every_reason_to_transcribe_and_every_reason_not_to() {
        let e = done(STAMP);
        assert_eq!(
            verdict(None, STAMP, None),
            Verdict::Transcribe(WorkReason::New)
        );
        assert_eq!(verdict(Some(&e), STAMP, None), Verdict::UpToDate);
        // A touched file needs its hash; same hash = same content, other hash = changed.
        assert_eq!(verdict(Some(&e), TOUCHED, None), Verdict::NeedsHash);
        assert_eq!(verdict(Some(&e), TOUCHED, Some("h1")), Verdict::UpToDate);
        assert_eq!(
            verdict(Some(&e), TOUCHED, Some("h2")),
            Verdict::Transcribe(WorkReason::Changed)
        );
        let other_model = Entry {
            model: "m0".into(),
            ..e.clone()
        };
        assert_eq!(
            verdict(Some(&other_model), STAMP, None),
            Verdict::Transcribe(WorkReason::ModelChanged)
        );
        let other_settings = Entry {
            settings: "s0".into(),
            ..e.clone()
        };
        assert_eq!(
            verdict(Some(&other_settings), STAMP, None),
            Verdict::Transcribe(WorkReason::SettingsChanged)
        );
        let pending = Entry {
            state: State::Pending,
            ..e.clone()
        };
        assert_eq!(
            verdict(Some(&pending), STAMP, None),
            Verdict::Transcribe(WorkReason::Interrupted)
        );
        let missing = judge(
            Some(&e),
            STAMP,
            None,
            &identity(),
            &["a.mid".into()],
            |_| false,
        );
        assert_eq!(missing, Verdict::Transcribe(WorkReason::OutputsMissing));
        let more_formats = judge(
            Some(&e),
            STAMP,
            None,
            &identity(),
            &["a.mid".into(), "a.json".into()],
            |_| true,
        );
        assert_eq!(
            more_formats,
            Verdict::Transcribe(WorkReason::OutputsMissing)
        );
    }

    #[test]
    fn failed_input_is_not_retried_until_it_or_the_model_changes() {
        let failed = Entry {
            state: State::Failed,
            error: Some("bad.wav: not audio".into()),
            outputs: vec![],
            ..done(STAMP)
        };
        assert_eq!(
            verdict(Some(&failed), STAMP, None),
            Verdict::FailedEarlier("bad.wav: not audio".into())
        );
        assert_eq!(
            verdict(Some(&failed), TOUCHED, Some("h2")),
            Verdict::Transcribe(WorkReason::Changed)
        );
        let other_model = Entry {
            model: "m0".into(),
            ..failed
        };
        assert_eq!(
            verdict(Some(&other_model), STAMP, None),
            Verdict::Transcribe(WorkReason::ModelChanged)
        );
    }

    #[test]
    fn one_journal_per_output_folder_at_a_time() {
        let dir = tempfile::tempdir().unwrap();
        let first = Journal::open(dir.path()).unwrap();
        let err = Journal::open(dir.path()).unwrap_err().to_string();
        assert!(
            err.contains("another drummernet watch")
                && err.contains(&*dir.path().to_string_lossy()),
            "{err}"
        );
        drop(first);
        Journal::open(dir.path()).unwrap();
    }

    #[test]
    fn journal_round_trips_and_refuses_a_damaged_file() {
        let dir = tempfile::tempdir().unwrap();
        let mut j = Journal::open(dir.path()).unwrap();
        assert!(j.is_empty());
        j.set("sub/a.wav", done(STAMP));
        j.save().unwrap();
        drop(j);
        let again = Journal::open(dir.path()).unwrap();
        assert_eq!(again.get("sub/a.wav"), Some(&done(STAMP)));
        assert_eq!(again.owner_of("a.mid"), Some("sub/a.wav"));
        assert_eq!(again.owner_of("b.mid"), None);
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        let mut names: Vec<_> = names.iter().map(|n| n.to_string_lossy()).collect();
        names.sort();
        assert_eq!(names, vec![JOURNAL_FILE, LOCK_FILE]);
        drop(again);

        std::fs::write(dir.path().join(JOURNAL_FILE), b"{\"format\": ").unwrap();
        let err = Journal::open(dir.path()).unwrap_err().to_string();
        assert!(
            err.contains(JOURNAL_FILE) && err.contains("unreadable"),
            "{err}"
        );
    }

    #[test]
    fn keys_are_relative_and_slash_separated() {
        let root = Path::new("/w/in");
        assert_eq!(
            relative_key(root, Path::new("/w/in/a/b.wav")).as_deref(),
            Some("a/b.wav")
        );
        assert_eq!(relative_key(root, Path::new("/w/other.wav")), None);
        assert_eq!(relative_key(root, root), None);
    }
}
