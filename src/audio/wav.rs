//! Mono WAV output, always through `crate::atomic_file` so a reader never sees half a file.

use std::path::Path;

use crate::atomic_file::{write_atomic, Overwrite};
use crate::error::{Error, Result};

/// Sample encoding of a written WAV file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WavFormat {
    /// 16-bit integer PCM, full scale 32768 (the convention decoders use, so a round trip is
    /// exact to the quantisation step); samples beyond [-1, 1) are clipped.
    #[default]
    Pcm16,
    /// 32-bit IEEE float, stored as given.
    Float32,
}

/// Writes `samples` as a mono WAV file at `sample_rate`.
pub fn write_wav(
    path: &Path,
    samples: &[f32],
    sample_rate: u32,
    format: WavFormat,
    overwrite: Overwrite,
) -> Result<()> {
    if sample_rate == 0 {
        return Err(Error::audio(path, "cannot write a WAV at 0 Hz"));
    }
    if let Some(i) = samples.iter().position(|s| !s.is_finite()) {
        let at = i as f64 / sample_rate as f64;
        return Err(Error::audio(
            path,
            format!("refusing to write non-finite samples at {at:.3} s"),
        ));
    }
    let (bits_per_sample, sample_format) = match format {
        WavFormat::Pcm16 => (16, hound::SampleFormat::Int),
        WavFormat::Float32 => (32, hound::SampleFormat::Float),
    };
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate,
        bits_per_sample,
        sample_format,
    };
    let wav_err = |e: hound::Error| match e {
        hound::Error::IoError(io) => Error::io(path, io),
        other => Error::audio(path, format!("cannot write WAV: {other}")),
    };
    write_atomic(path, overwrite, |w| {
        let mut writer = hound::WavWriter::new(w, spec).map_err(wav_err)?;
        match format {
            WavFormat::Pcm16 => {
                let mut w16 = writer.get_i16_writer(samples.len() as u32);
                for &s in samples {
                    w16.write_sample((s * 32_768.0).round().clamp(-32_768.0, 32_767.0) as i16);
                }
                w16.flush().map_err(wav_err)?;
            }
            WavFormat::Float32 => {
                for &s in samples {
                    writer.write_sample(s).map_err(wav_err)?;
                }
            }
        }
        writer.finalize().map_err(wav_err)
    })
}
