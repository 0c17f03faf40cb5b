//! Audio in and out: decoding any format symphonia reads, down-mixing, band-limited resampling to
//! the model rate, WAV writing, and (for the workbench) playback.

/// The model's sample rate (spec section 1).
pub const SAMPLE_RATE: u32 = 16_000;

mod decode;
mod reader;
mod resample;
mod wav;

pub mod playback;

pub use decode::probe;
pub use reader::{load_mono, load_mono_segment, MonoReader};
pub use resample::resample;
pub use wav::{write_wav, WavFormat};

/// What a file's header says about its audio.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AudioInfo {
    pub sample_rate: u32,
    pub channels: usize,
    /// Frames per channel, when the container states it.
    pub frames: Option<u64>,
    /// Short codec name as symphonia reports it (e.g. "pcm_s16le", "flac", "mp3").
    pub codec: String,
}
