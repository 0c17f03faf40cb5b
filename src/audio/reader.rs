//! Mono audio at a chosen rate: whole files, segments, and a bounded-memory stream.

use std::path::Path;

use super::decode::{self, Decoded};
use super::resample::{output_len, StreamResampler};
use super::AudioInfo;
use crate::error::{Error, Result};

/// Output samples gathered before `next_chunk` returns (fewer at the end).
const CHUNK_TARGET: usize = 16_384;

/// Streams a file as chunks of mono samples at `target_rate`, holding only a few packets in
/// memory. The chunks concatenated are exactly what [`load_mono`] returns.
pub struct MonoReader {
    source: Decoded,
    resampler: StreamResampler,
    native: Vec<f32>,
    done: bool,
}

fn check_target_rate(path: &Path, target_rate: u32) -> Result<()> {
    if !(decode::MIN_RATE..=decode::MAX_RATE).contains(&target_rate) {
        return Err(Error::audio(
            path,
            format!("cannot resample to {target_rate} Hz (target rate out of range)"),
        ));
    }
    Ok(())
}

fn new_resampler(path: &Path, from: u32, to: u32) -> Result<StreamResampler> {
    StreamResampler::new(from, to).map_err(|e| Error::audio(path, e.to_string()))
}

impl MonoReader {
    pub fn open(path: &Path, target_rate: u32) -> Result<Self> {
        check_target_rate(path, target_rate)?;
        let source = decode::open(path)?;
        let resampler = new_resampler(path, source.info().sample_rate, target_rate)?;
        Ok(MonoReader {
            source,
            resampler,
            native: Vec::new(),
            done: false,
        })
    }

    pub fn info(&self) -> &AudioInfo {
        self.source.info()
    }

    /// The next chunk of samples; `None` once the file is exhausted.
    pub fn next_chunk(&mut self) -> Result<Option<Vec<f32>>> {
        let mut out = Vec::new();
        while !self.done && out.len() < CHUNK_TARGET {
            let path = self.source.path().to_path_buf();
            let more = self.source.next_mono(&mut self.native)?;
            let step = if more {
                self.resampler.push(&self.native, &mut out)
            } else {
                self.done = true;
                self.resampler.finish(&mut out)
            };
            step.map_err(|e| Error::audio(&path, e.to_string()))?;
        }
        Ok(if out.is_empty() { None } else { Some(out) })
    }
}

/// Decodes the whole file, down-mixes to mono (mean of channels) and resamples to `target_rate`.
/// A file with no frames gives an empty vector.
pub fn load_mono(path: &Path, target_rate: u32) -> Result<Vec<f32>> {
    let mut reader = MonoReader::open(path, target_rate)?;
    let expected = reader
        .info()
        .frames
        .map(|n| output_len(n, reader.info().sample_rate, target_rate) as usize)
        .unwrap_or(0);
    let mut all = Vec::with_capacity(expected.min(1 << 28));
    while let Some(chunk) = reader.next_chunk()? {
        all.extend_from_slice(&chunk);
    }
    Ok(all)
}

/// `seconds` of mono audio at `target_rate` starting at `start_seconds`; shorter (or empty) at
/// the end of the file. Seeks where the container allows, then decodes a short run-in so the
/// resampling filter sees the same context as in [`load_mono`].
pub fn load_mono_segment(
    path: &Path,
    target_rate: u32,
    start_seconds: f64,
    seconds: f64,
) -> Result<Vec<f32>> {
    check_target_rate(path, target_rate)?;
    if !(start_seconds.is_finite() && start_seconds >= 0.0 && seconds.is_finite() && seconds >= 0.0)
    {
        return Err(Error::audio(
            path,
            format!("invalid segment: start {start_seconds} s, length {seconds} s"),
        ));
    }
    let mut source = decode::open(path)?;
    let from = source.info().sample_rate;
    let to = target_rate;
    let out_start = (start_seconds * to as f64).round() as u64;
    let out_len = (seconds * to as f64).round() as u64;
    if out_len == 0 {
        return Ok(Vec::new());
    }
    // Start decoding on an input frame that falls exactly on the output grid, a filter length
    // early.
    let g = gcd(from as u64, to as u64);
    let (from_r, to_r) = (from as u64 / g, to as u64 / g);
    let run_in = 4096 + from as u64 / 50;
    let wanted_in = (out_start as u128 * from as u128 / to as u128) as u64;
    let first_in = wanted_in.saturating_sub(run_in) / from_r * from_r;
    let first_out = first_in / from_r * to_r;
    source.seek_to_frame(first_in)?;

    let mut resampler = new_resampler(path, from, to)?;
    let skip = (out_start - first_out) as usize;
    let needed = skip + out_len as usize;
    let mut out = Vec::with_capacity(needed.min(1 << 28));
    let mut native = Vec::new();
    while out.len() < needed {
        let more = source.next_mono(&mut native)?;
        let step = if more {
            resampler.push(&native, &mut out)
        } else {
            resampler.finish(&mut out)
        };
        step.map_err(|e| Error::audio(path, e.to_string()))?;
        if !more {
            break;
        }
    }
    out.truncate(needed);
    if out.len() <= skip {
        return Ok(Vec::new());
    }
    out.drain(..skip);
    Ok(out)
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}
