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

/// File-name extensions (lower case) of the containers the decoder reads (symphonia with every
/// format: RIFF WAVE, FLAC, MP3/MP2, Ogg, MP4/M4A, ADTS AAC, AIFF, CAF, Matroska audio).
pub const AUDIO_EXTENSIONS: [&str; 14] = [
    "wav", "wave", "flac", "mp3", "mp2", "ogg", "oga", "m4a", "aac", "aif", "aiff", "aifc", "caf",
    "mka",
];

/// Whether `path` names a file the decoder is expected to read, judged by its extension alone.
pub fn has_audio_extension(path: &std::path::Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| AUDIO_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

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
