//! Audio in and out: every format decodes to the right content, resampling keeps frequency,
//! level and timing, bad files give one-line errors naming the file, WAV output round-trips.

use std::f32::consts::PI;
use std::path::{Path, PathBuf};

use drummernet::atomic_file::Overwrite;
use drummernet::audio::{
    load_mono, load_mono_segment, probe, resample, write_wav, MonoReader, WavFormat, SAMPLE_RATE,
};
use drummernet::Error;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/audio")
        .join(name)
}

fn sine(rate: u32, freq: f32, amp: f32, seconds: f32) -> Vec<f32> {
    let n = (rate as f32 * seconds) as usize;
    (0..n)
        .map(|i| amp * (2.0 * PI * freq * i as f32 / rate as f32).sin())
        .collect()
}

/// The test signal: a 440 Hz sine at 0.5 with a click of +0.9 at 0.25 s (needs >= 0.3 s).
fn sine_with_click(rate: u32, seconds: f32) -> Vec<f32> {
    let mut x = sine(rate, 440.0, 0.5, seconds);
    x[(rate / 4) as usize] = 0.9;
    x
}

fn rms(x: &[f32]) -> f64 {
    (x.iter().map(|&v| (v as f64).powi(2)).sum::<f64>() / x.len().max(1) as f64).sqrt()
}

fn db(ratio: f64) -> f64 {
    20.0 * ratio.log10()
}

/// Amplitude of `freq` in `x` (single-bin DFT with a Hann window), as a sine amplitude.
fn tone_amplitude(x: &[f32], rate: u32, freq: f64) -> f64 {
    let n = x.len() as f64;
    let (mut re, mut im, mut wsum) = (0.0f64, 0.0f64, 0.0f64);
    for (i, &v) in x.iter().enumerate() {
        let w = 0.5 - 0.5 * (2.0 * std::f64::consts::PI * i as f64 / n).cos();
        let ph = 2.0 * std::f64::consts::PI * freq * i as f64 / rate as f64;
        re += w * v as f64 * ph.cos();
        im += w * v as f64 * ph.sin();
        wsum += w;
    }
    2.0 * (re * re + im * im).sqrt() / wsum
}

/// The frequency (1 Hz steps, refined to 0.1 Hz) with the largest amplitude in `lo..hi`.
fn dominant_frequency(x: &[f32], rate: u32, lo: f64, hi: f64) -> f64 {
    let mut best = (lo, 0.0);
    let mut f = lo;
    while f <= hi {
        let a = tone_amplitude(x, rate, f);
        if a > best.1 {
            best = (f, a);
        }
        f += 5.0;
    }
    let centre = best.0;
    let mut top = best;
    let mut f = centre - 5.0;
    while f <= centre + 5.0 {
        let a = tone_amplitude(x, rate, f);
        if a > top.1 {
            top = (f, a);
        }
        f += 0.1;
    }
    top.0
}

fn write_hound(path: &Path, rate: u32, channels: u16, bits: u16, float: bool, frames: &[Vec<f32>]) {
    let spec = hound::WavSpec {
        channels,
        sample_rate: rate,
        bits_per_sample: bits,
        sample_format: if float {
            hound::SampleFormat::Float
        } else {
            hound::SampleFormat::Int
        },
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    let n = frames[0].len();
    for i in 0..n {
        for ch in frames.iter() {
            let s = ch[i];
            if float {
                w.write_sample(s).unwrap();
            } else {
                let max = ((1i64 << (bits - 1)) - 1) as f32;
                let v = (s * max).round() as i32;
                if bits == 8 {
                    w.write_sample(v as i8).unwrap();
                } else {
                    w.write_sample(v).unwrap();
                }
            }
        }
    }
    w.finalize().unwrap();
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

#[test]
fn wav_variants_decode_to_the_written_signal() {
    let dir = tempfile::tempdir().unwrap();
    let x = sine_with_click(16_000, 0.5);
    for &(bits, float, tol) in &[
        (8u16, false, 2.0 / 128.0),
        (16, false, 2.0 / 32_768.0),
        (24, false, 1e-6),
        (32, true, 0.0),
    ] {
        let p = dir.path().join(format!("s{bits}{float}.wav"));
        write_hound(&p, 16_000, 1, bits, float, &[x.clone()]);
        let y = load_mono(&p, 16_000).unwrap();
        let err = max_abs_diff(&x, &y);
        assert!(err <= tol, "{bits}-bit float={float}: max error {err}");
        let info = probe(&p).unwrap();
        assert_eq!(
            (info.sample_rate, info.channels, info.frames),
            (16_000, 1, Some(8_000))
        );
    }
}
