//! Audio in and out: decoding any format symphonia reads, down-mixing, band-limited resampling to
//! the model rate, WAV writing, and (for the workbench) playback.

/// The model's sample rate (spec section 1).
pub const SAMPLE_RATE: u32 = 16_000;
