//! Custom candle ops with hand-written backward passes. candle 0.11.1's own conv1d weight
//! gradient and max-pool backward are wrong on CPU, and op-by-op GRUs are quadratic, so every
//! hot path of the model is one of these, each tested against finite differences.
//!
//! Each op is a kernel of [`kernel`]'s `Map1`/`Map2`/`Map3` traits: its output shape, one body
//! generic over the float type, and its backward; `kernel::CpuOp` makes it a candle custom op,
//! so the dtype dispatch, the contiguity checks and the op boilerplate live in one place.
//! Kernels speak candle's `Result` (they run inside candle); the model layer above them
//! speaks `crate::Error`.

pub mod channel_bias;
pub mod conv1d;
pub mod cqt_stft;
pub mod elu;
pub mod gru;
mod gru_scan;
pub mod hpss;
pub mod kernel;
pub mod matmul;
pub mod maxpool;
pub mod scalar_gru;
pub mod simd;
pub mod sparsemax;
pub mod synth_fft;
pub mod upsample_linear;
