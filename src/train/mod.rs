//! Unsupervised training: data, optimizer, sessions (checkpoints, loss log) and the background
//! trainer that the CLI and the workbench share.

pub mod adam;
pub mod background;
pub mod dataset;
pub mod learning_curve;
pub mod prefetch;
pub mod procedural_draw;
pub mod session;
pub mod settings;
pub mod trainer;

pub use settings::TrainSettings;
