//! Watch-folder transcription (`drummernet watch`): every audio file that appears in, or
//! changes in, a folder is transcribed with the loaded model, exactly once per version.
//!
//! - [`inputs`]: which paths are inputs (audio extensions; hidden and temporary files, the
//!   output folder and, without `--recursive`, sub-folders are ignored).
//! - [`stability`]: a file is taken once its size and modification time have rested for
//!   `watch.stable_seconds` (a file renamed in whole is ready at once).
//! - [`fingerprint`]: size + modification time, and a content hash of the bytes.
//! - [`journal`]: the record in the output folder of what was done with which input version,
//!   model and settings, saved atomically after every step, so that a restart (after a crash or
//!   SIGKILL too) neither repeats nor skips work; failures are recorded and not retried until
//!   the input changes.
//! - [`job`]: one input's job (judge, transcribe, write outputs, record).
//! - `watcher` (feature `watch`): the loop tying notify's debounced events, the stability wait, a queue with
//!   at most `watch.jobs` jobs in flight and a stop flag (set by SIGINT/SIGTERM in the CLI:
//!   jobs in flight finish, then it returns).
//!
//! Outputs are `<out>/<input's sub-folder>/<stem>.{mid,json,csv}`, written atomically; the
//! output folder defaults to the watched folder itself (outputs beside their inputs).

pub mod fingerprint;
pub mod inputs;
pub mod job;
pub mod journal;
pub mod settings;
pub mod stability;
#[cfg(feature = "watch")]
pub mod watcher;

pub use job::{Engine, Outcome, Workspace};
pub use journal::{read_entries, Entry, Journal, State, JOURNAL_FILE, LOCK_FILE};
pub use settings::WatchSettings;
#[cfg(feature = "watch")]
pub use watcher::{watch, Summary, WatchOptions};
