//! The DrummerNet model: analysis U-Net, recurrent head, sparsemax branches, zero-insertion
//! up-sampler, synthesizer and the multi-resolution constant-Q loss.

pub mod checkpoint_average;
pub mod config;
pub mod drummernet;
pub mod file;
pub mod gradcheck;
pub mod loss;
pub mod ops;
pub mod recurrent;
pub mod seeded_init;
pub mod sparsemax;
pub mod synthesizer;
pub mod unet;
pub mod upsampler;

pub use config::ModelConfig;
