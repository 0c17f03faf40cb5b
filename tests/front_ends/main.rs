//! What a user drives: the command line (every subcommand, from outside the checkout too), the
//! workbench (feature `tui`) and the watch folder (feature `watch`).

mod cli;
#[cfg(feature = "tui")]
mod tui;
#[cfg(feature = "watch")]
mod watch;
