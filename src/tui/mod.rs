//! The terminal workbench: loss chart, component waveforms, piano roll, A/B transport.
//! [`app::App`] holds the state and takes typed input; [`views`] draw it; [`terminal`] owns the
//! real terminal and the event loop. Jobs, trainer and player run on their own threads.

pub mod app;
pub mod jobs;
pub mod keys;
pub mod loss_history;
pub mod terminal;
pub mod views;

pub use app::{App, AppOptions};
pub use terminal::run;
