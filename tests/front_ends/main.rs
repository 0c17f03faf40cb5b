//! What a user drives: the command line (every subcommand, from outside the checkout too), the
//! workbench (feature `tui`), its player through a real sound server (feature `playback`) and
//! the watch folder (feature `watch`).

mod cli;
#[cfg(all(feature = "playback", target_os = "linux"))]
mod playback;
mod simd_paths;
#[cfg(feature = "tui")]
mod tui;
#[cfg(feature = "watch")]
mod watch;
