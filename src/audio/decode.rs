//! Decoding any container/codec symphonia reads into mono frames at the file's own rate.
//!
//! `Decoded` walks the packets of the first audio track, down-mixes each decoded buffer (mean of
//! channels) and checks that float sources hold only finite samples of plausible size. Errors
//! always name the file.

use std::fs::File;
use std::path::{Path, PathBuf};

use symphonia::core::codecs::audio::{AudioDecoder, AudioDecoderOptions};
use symphonia::core::errors::Error as SymphoniaError;
use symphonia::core::formats::probe::Hint;
use symphonia::core::formats::{FormatOptions, FormatReader, SeekMode, SeekTo, TrackType};
use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::MetadataOptions;
use symphonia::core::units::{Time, TimeBase};

use super::AudioInfo;
use crate::error::{Error, Result};

/// More channels than any real recording has: a header claiming this many is corrupt.
pub const MAX_CHANNELS: usize = 64;
/// Largest sample magnitude accepted (+120 dBFS). Float audio is expected within about ±1;
/// values near f32::MAX are corrupt data, and would overflow to infinity when channels are
/// mixed or resampled, which the transcriber would then take for silence.
pub const MAX_SAMPLE_MAGNITUDE: f32 = 1e6;
/// Sample rates outside this range are treated as a corrupt header.
pub const MIN_RATE: u32 = 1_000;
pub const MAX_RATE: u32 = 768_000;

/// An opened file positioned at its first audio frame (or wherever `seek_to_frame` left it).
pub struct Decoded {
    path: PathBuf,
    info: AudioInfo,
    format: Box<dyn FormatReader>,
    decoder: Box<dyn AudioDecoder>,
    track_id: u32,
    time_base: Option<TimeBase>,
    /// Frame index (at the native rate) of the next frame `next_mono` returns.
    position: u64,
    /// Frames still to drop after a seek landed before the requested frame.
    discard: u64,
    interleaved: Vec<f32>,
    finished: bool,
}

/// Opens `path`, probes its container and builds a decoder for its first audio track.
pub fn open(path: &Path) -> Result<Decoded> {
    let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
    if meta.is_dir() {
        return Err(Error::audio(path, "is a directory, not an audio file"));
    }
    if meta.len() == 0 {
        return Err(Error::audio(path, "empty file (0 bytes)"));
    }
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let mss = MediaSourceStream::new(Box::new(file), Default::default());
    let mut hint = Hint::new();
    if let Some(ext) = path.extension().and_then(|e| e.to_str()) {
        hint.with_extension(ext);
    }
    let format = symphonia::default::get_probe()
        .probe(
            &hint,
            mss,
            FormatOptions::default(),
            MetadataOptions::default(),
        )
        .map_err(|e| probe_error(path, e))?;
    let track = format
        .default_track(TrackType::Audio)
        .ok_or_else(|| Error::audio(path, "no audio track"))?;
    let track_id = track.id;
    let time_base = track.time_base;
    let num_frames = track.num_frames;
    let params = track
        .codec_params
        .as_ref()
        .and_then(|p| p.audio())
        .ok_or_else(|| Error::audio(path, "no audio track"))?
        .clone();
    let sample_rate = params
        .sample_rate
        .ok_or_else(|| Error::audio(path, "sample rate missing from the header"))?;
    if !(MIN_RATE..=MAX_RATE).contains(&sample_rate) {
        return Err(Error::audio(
            path,
            format!("implausible sample rate {sample_rate} Hz (corrupt header?)"),
        ));
    }
    let channels = params.channels.as_ref().map(|c| c.count()).unwrap_or(0);
    check_channels(path, channels)?;
    let decoder = symphonia::default::get_codecs()
        .make_audio_decoder(&params, &AudioDecoderOptions::default())
        .map_err(|e| Error::audio(path, format!("unsupported codec: {e}")))?;
    let codec = decoder.codec_info().short_name.to_string();
    Ok(Decoded {
        path: path.to_path_buf(),
        info: AudioInfo {
            sample_rate,
            channels,
            frames: num_frames,
            codec,
        },
        format,
        decoder,
        track_id,
        time_base,
        position: 0,
        discard: 0,
        interleaved: Vec::new(),
        finished: false,
    })
}

fn probe_error(path: &Path, e: SymphoniaError) -> Error {
    match e {
        SymphoniaError::IoError(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
            Error::audio(path, "truncated header (file ends too early)")
        }
        SymphoniaError::IoError(io) => Error::audio(path, format!("cannot read: {io}")),
        SymphoniaError::DecodeError(msg) => Error::audio(path, format!("corrupt header: {msg}")),
        SymphoniaError::Unsupported(msg) if !msg.contains("no suitable format reader") => {
            Error::audio(path, format!("unsupported: {msg}"))
        }
        _ => Error::audio(path, "not an audio file (unsupported format)"),
    }
}

fn check_channels(path: &Path, channels: usize) -> Result<()> {
    if channels == 0 || channels > MAX_CHANNELS {
        return Err(Error::audio(
            path,
            format!("implausible channel count {channels} (corrupt header?)"),
        ));
    }
    Ok(())
}

impl Decoded {
    pub fn info(&self) -> &AudioInfo {
        &self.info
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Positions the stream so that the next frame returned is frame `frame` (native rate), or
    /// the end of the file if it is shorter. Seeks when the container allows it; otherwise
    /// decodes and drops frames.
    pub fn seek_to_frame(&mut self, frame: u64) -> Result<()> {
        if frame == 0 {
            return Ok(());
        }
        let rate = self.info.sample_rate;
        let secs = frame as f64 / rate as f64;
        let seeked = Time::try_from_secs_f64(secs).and_then(|time| {
            self.format
                .seek(
                    SeekMode::Accurate,
                    SeekTo::Time {
                        time,
                        track_id: Some(self.track_id),
                    },
                )
                .ok()
        });
        match seeked {
            Some(_) => {
                self.decoder.reset();
                // The true position is learnt from the next packet's timestamp.
                self.position = u64::MAX;
                self.discard = frame;
            }
            None => {
                // Not seekable (or past the end): decode from the start and drop frames.
                self.discard = frame.saturating_sub(self.position);
            }
        }
        Ok(())
    }

    /// Fills `out` with the next decoded packet as mono samples at the native rate; returns
    /// false (and leaves `out` empty) at the end.
    /// A truncated last packet ends the stream quietly; a bad packet in the middle is an error.
    pub fn next_mono(&mut self, out: &mut Vec<f32>) -> Result<bool> {
        out.clear();
        let mut pending_error: Option<String> = None;
        while !self.finished {
            let packet = match self.format.next_packet() {
                Ok(Some(p)) => p,
                Ok(None) => {
                    self.finished = true;
                    break;
                }
                Err(SymphoniaError::IoError(e))
                    if e.kind() == std::io::ErrorKind::UnexpectedEof =>
                {
                    self.finished = true;
                    break;
                }
                Err(SymphoniaError::ResetRequired) => {
                    return Err(Error::audio(
                        &self.path,
                        "stream format changes mid-file (unsupported)",
                    ))
                }
                Err(e) => {
                    return Err(Error::audio(
                        &self.path,
                        format!("read error at {:.3} s: {e}", self.seconds()),
                    ))
                }
            };
            if packet.track_id != self.track_id {
                continue;
            }
            if let Some(msg) = pending_error.take() {
                return Err(Error::audio(&self.path, msg));
            }
            let first_ts = packet.pts.get() + packet.trim_start.get() as i64;
            let buf = match self.decoder.decode(&packet) {
                Ok(buf) => buf,
                Err(SymphoniaError::DecodeError(msg)) => {
                    // Only tolerated when it is the last packet (a truncated file).
                    pending_error = Some(format!("decode error at {:.3} s: {msg}", self.seconds()));
                    continue;
                }
                Err(SymphoniaError::IoError(e)) => {
                    pending_error = Some(format!("decode error at {:.3} s: {e}", self.seconds()));
                    continue;
                }
                Err(e) => {
                    return Err(Error::audio(
                        &self.path,
                        format!("decode error at {:.3} s: {e}", self.seconds()),
                    ))
                }
            };
            let spec = buf.spec();
            let channels = spec.channels().count();
            if spec.rate() != self.info.sample_rate {
                return Err(Error::audio(
                    &self.path,
                    "sample rate changes mid-file (unsupported)",
                ));
            }
            check_channels(&self.path, channels)?;
            let frames = buf.frames();
            if frames == 0 {
                // Decoders that need an overlap (Vorbis) give nothing for the first packet after
                // a seek: the position is learnt from the first packet that yields audio.
                continue;
            }
            if self.position == u64::MAX {
                self.position = ts_to_frame(self.time_base, self.info.sample_rate, first_ts);
                self.discard = self.discard.saturating_sub(self.position);
            }
            buf.copy_to_vec_interleaved(&mut self.interleaved);
            let skip = self.discard.min(frames as u64) as usize;
            self.discard -= skip as u64;
            let start_frame = self.position;
            self.position += frames as u64;
            if skip == frames {
                continue;
            }
            let scale = 1.0 / channels as f32;
            out.reserve(frames - skip);
            for (i, frame) in self
                .interleaved
                .chunks_exact(channels)
                .enumerate()
                .skip(skip)
            {
                let mut sum = 0.0f32;
                for &s in frame {
                    // NaN fails this too.
                    let plausible = s.abs() <= MAX_SAMPLE_MAGNITUDE;
                    if !plausible {
                        let at = (start_frame + i as u64) as f64 / self.info.sample_rate as f64;
                        let what = if s.is_finite() {
                            format!("an implausible sample value {s:e}")
                        } else {
                            "non-finite samples".to_string()
                        };
                        return Err(Error::audio(
                            &self.path,
                            format!("contains {what} at {at:.3} s"),
                        ));
                    }
                    sum += s;
                }
                out.push(sum * scale);
            }
            return Ok(true);
        }
        if let Some(promised) = self.info.frames {
            if self.position < promised && self.discard == 0 {
                let rate = self.info.sample_rate as f64;
                // Debug only: a file is often decoded more than once (transcription reads it
                // twice); `drummernet transcribe` reports a short file once, in its summary.
                tracing::debug!(
                    "{}: audio ends at {:.3} s but the header promised {:.3} s (truncated file?)",
                    self.path.display(),
                    self.position as f64 / rate,
                    promised as f64 / rate
                );
            }
        }
        Ok(false)
    }

    fn seconds(&self) -> f64 {
        if self.position == u64::MAX {
            return 0.0;
        }
        self.position as f64 / self.info.sample_rate as f64
    }
}

/// Converts a track timestamp to a frame index at the native rate.
fn ts_to_frame(time_base: Option<TimeBase>, rate: u32, ts: i64) -> u64 {
    if ts <= 0 {
        return 0;
    }
    match time_base {
        Some(tb) => {
            let num = ts as u128 * tb.numer.get() as u128 * rate as u128;
            let frame = (num + tb.denom.get() as u128 / 2) / tb.denom.get() as u128;
            frame.min(u64::MAX as u128 - 1) as u64
        }
        None => ts as u64,
    }
}

/// Reads the header of `path` without decoding audio.
pub fn probe(path: &Path) -> Result<AudioInfo> {
    Ok(open(path)?.info.clone())
}
