//! The network and what it is built of: every layer and custom op against finite differences
//! and the composed candle ops, the loss, a tiny model learning, the bundled model's numbers,
//! and (feature `cuda`) the GPU path.

#[path = "../support/mod.rs"]
mod support;

mod bundled_model;
mod cuda;
mod drummernet;
mod hpss;
mod learning;
mod loss;
mod recurrent;
mod sparsemax;
mod synth;
mod unet;
