//! The terminal workbench: loss chart, component waveforms, piano roll, A/B transport.
//! [`components`] each hold one part's state, private, changed by typed [`action::Action`]s;
//! [`app::App`] owns them, routes actions and background events between them; [`views`] draw
//! them; [`terminal`] owns the real terminal and the loop. Input, jobs, trainer and sound card
//! run on their own threads and reach the UI thread through one channel ([`event::AppEvent`]).

pub mod action;
pub mod app;
pub mod components;
pub mod event;
pub mod jobs;
pub mod keys;
pub mod loss_history;
pub mod terminal;
pub mod views;

pub use action::Action;
pub use app::{App, AppOptions};
pub use event::AppEvent;
pub use terminal::run;
