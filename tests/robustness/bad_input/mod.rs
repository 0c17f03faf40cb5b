//! Bad input and faults through every entry point (issue 8): a corpus of bad files generated
//! here (audio, MIDI, model and session files, config values), each run through `transcribe`,
//! `eval`, `render`, `train --resume` and the workbench's open action, asserting the exit
//! status, one stderr line naming the file and the problem, and that no output appeared and no
//! existing file changed; then faults while writing (read-only folders, a folder where an output
//! goes, a full disk, SIGKILL and SIGINT during training). The tables the tests print
//! (`cargo test --test robustness bad_input -- --nocapture`) are the README's "Bad input" section.

mod audio;
mod common;
mod config;
mod corpus;
mod entry;
mod faults;
mod midi;
mod models;
mod panic_hook;
