//! Bad input and faults through every entry point, and the fuzzer's short run.

// Every entry point includes the workbench's open action.
#[cfg(feature = "tui")]
mod bad_input;
mod fuzz;

// The fuzzer's parts sit at the crate root: `examples/fuzz.rs` (the long run) includes the
// same files at its root, and they name each other from there.
#[path = "fuzz/engine.rs"]
mod engine;
#[path = "fuzz/mutate.rs"]
mod mutate;
#[path = "fuzz/targets.rs"]
mod targets;
