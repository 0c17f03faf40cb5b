//! Audio in and out: every format decodes to the right content, resampling keeps frequency,
//! level and timing, bad files give one-line errors naming the file, WAV output round-trips.

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
        .map(|i| {
            let phase = 2.0 * std::f64::consts::PI * freq as f64 * i as f64 / rate as f64;
            amp * phase.sin() as f32
        })
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

/// The frequency of the largest spectral peak in `lo..hi` (Hann window, zero-padded FFT,
/// parabolic interpolation between bins).
fn dominant_frequency(x: &[f32], rate: u32, lo: f64, hi: f64) -> f64 {
    let n = (x.len() * 8).next_power_of_two();
    let mut buf = vec![0.0f64; n];
    for (i, &v) in x.iter().enumerate() {
        let w = 0.5 - 0.5 * (2.0 * std::f64::consts::PI * i as f64 / x.len() as f64).cos();
        buf[i] = w * v as f64;
    }
    let fft = realfft::RealFftPlanner::<f64>::new().plan_fft_forward(n);
    let mut spectrum = fft.make_output_vec();
    fft.process(&mut buf, &mut spectrum).unwrap();
    let mag: Vec<f64> = spectrum.iter().map(|c| c.norm()).collect();
    let bin_hz = rate as f64 / n as f64;
    let (a, b) = (
        (lo / bin_hz) as usize,
        ((hi / bin_hz) as usize).min(mag.len() - 2),
    );
    let k = (a.max(1)..=b)
        .max_by(|&i, &j| mag[i].partial_cmp(&mag[j]).unwrap())
        .unwrap();
    let (l, c, r) = (mag[k - 1].ln(), mag[k].ln(), mag[k + 1].ln());
    (k as f64 + 0.5 * (l - r) / (l - 2.0 * c + r)) * bin_hz
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
        write_hound(&p, 16_000, 1, bits, float, std::slice::from_ref(&x));
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

/// A minimal AIFF writer (16-bit big-endian PCM), enough to test AIFF decoding.
fn write_aiff(path: &Path, rate: u32, channels: &[Vec<f32>]) {
    let frames = channels[0].len();
    let nch = channels.len();
    let mut ssnd = Vec::new();
    ssnd.extend_from_slice(&0u32.to_be_bytes()); // offset
    ssnd.extend_from_slice(&0u32.to_be_bytes()); // block size
    for i in 0..frames {
        for ch in channels {
            let v = (ch[i] * 32767.0).round() as i16;
            ssnd.extend_from_slice(&v.to_be_bytes());
        }
    }
    // Sample rate as an 80-bit IEEE 754 extended float.
    let exp = 31 - rate.leading_zeros();
    let mut rate_bytes = Vec::new();
    rate_bytes.extend_from_slice(&((16_383 + exp) as u16).to_be_bytes());
    rate_bytes.extend_from_slice(&((rate as u64) << (63 - exp)).to_be_bytes());
    let mut comm = Vec::new();
    comm.extend_from_slice(&(nch as i16).to_be_bytes());
    comm.extend_from_slice(&(frames as u32).to_be_bytes());
    comm.extend_from_slice(&16i16.to_be_bytes());
    comm.extend_from_slice(&rate_bytes);
    let mut body = b"AIFF".to_vec();
    for (id, chunk) in [(b"COMM", &comm), (b"SSND", &ssnd)] {
        body.extend_from_slice(id);
        body.extend_from_slice(&(chunk.len() as u32).to_be_bytes());
        body.extend_from_slice(chunk);
    }
    let mut file = b"FORM".to_vec();
    file.extend_from_slice(&(body.len() as u32).to_be_bytes());
    file.extend_from_slice(&body);
    std::fs::write(path, file).unwrap();
}

/// A hand-made PCM WAV header with any values, followed by `data`.
fn raw_wav(channels: u16, rate: u32, bits: u16, data: &[u8]) -> Vec<u8> {
    let block = channels as u32 * bits as u32 / 8;
    let mut v = b"RIFF".to_vec();
    v.extend_from_slice(&(36 + data.len() as u32).to_le_bytes());
    v.extend_from_slice(b"WAVEfmt ");
    v.extend_from_slice(&16u32.to_le_bytes());
    v.extend_from_slice(&1u16.to_le_bytes());
    v.extend_from_slice(&channels.to_le_bytes());
    v.extend_from_slice(&rate.to_le_bytes());
    v.extend_from_slice(&(rate.wrapping_mul(block)).to_le_bytes());
    v.extend_from_slice(&(block as u16).to_le_bytes());
    v.extend_from_slice(&bits.to_le_bytes());
    v.extend_from_slice(b"data");
    v.extend_from_slice(&(data.len() as u32).to_le_bytes());
    v.extend_from_slice(data);
    v
}

/// Sample index of the click: the largest jump between neighbouring samples.
fn click_index(x: &[f32]) -> usize {
    (1..x.len())
        .max_by(|&a, &b| {
            let da = (x[a] - x[a - 1]).abs();
            let db = (x[b] - x[b - 1]).abs();
            da.partial_cmp(&db).unwrap()
        })
        .unwrap()
}

#[test]
fn aiff_decodes_to_the_written_signal() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("tone.aiff");
    let x = sine_with_click(22_050, 0.5);
    write_aiff(&p, 22_050, &[x.clone(), x.clone()]);
    let info = probe(&p).unwrap();
    assert_eq!((info.sample_rate, info.channels), (22_050, 2));
    let y = load_mono(&p, 22_050).unwrap();
    assert!(max_abs_diff(&x, &y) <= 2.0 / 32_768.0);
}

#[test]
fn flac_fixture_is_lossless() {
    let p = fixture("sine_click.flac");
    let x = sine_with_click(44_100, 0.5);
    let y = load_mono(&p, 44_100).unwrap();
    assert!(max_abs_diff(&x, &y) <= 2.0 / 32_768.0);
    assert_eq!(probe(&p).unwrap().frames, Some(22_050));
    // At the model rate it matches resampling the known signal.
    let y16 = load_mono(&p, SAMPLE_RATE).unwrap();
    let x16 = resample(&x, 44_100, SAMPLE_RATE).unwrap();
    assert!(max_abs_diff(&x16, &y16) <= 1e-4);
}

#[test]
fn lossy_fixtures_keep_level_pitch_and_onset() {
    let x = sine_with_click(44_100, 0.5);
    for name in ["sine_click.mp3", "sine_click.ogg"] {
        let p = fixture(name);
        let y = load_mono(&p, 44_100).unwrap();
        assert!(
            (y.len() as i64 - x.len() as i64).abs() <= 1_152,
            "{name}: {} frames",
            y.len()
        );
        let (a, b) = (2_000, 20_000); // away from the codec's start/end transients
        let level = db(rms(&y[a..b]) / rms(&x[a..b]));
        assert!(level.abs() < 1.0, "{name}: level off by {level:.2} dB");
        let f = dominant_frequency(&y[a..b], 44_100, 200.0, 2_000.0);
        assert!((f - 440.0).abs() < 0.5, "{name}: dominant frequency {f}");
        let onset = click_index(&y) as f64 / 44_100.0;
        assert!(
            (onset - 0.25).abs() < 0.002,
            "{name}: click at {onset:.4} s"
        );
    }
}

#[test]
fn resampling_keeps_frequency_and_level() {
    for &(from, freqs) in &[
        (44_100u32, &[100.0f32, 1_000.0, 5_000.0, 7_000.0][..]),
        (48_000, &[100.0, 1_000.0, 5_000.0, 7_000.0][..]),
        (8_000, &[100.0, 1_000.0, 3_000.0][..]),
        (192_000, &[100.0, 1_000.0, 5_000.0, 7_000.0][..]),
    ] {
        for &freq in freqs {
            let x = sine(from, freq, 0.5, 0.5);
            let y = resample(&x, from, 16_000).unwrap();
            let core = &y[800..y.len() - 800];
            let amp = tone_amplitude(core, 16_000, freq as f64);
            assert!(
                db(amp / 0.5).abs() < 0.5,
                "{from}: {freq} Hz at {:.2} dB",
                db(amp / 0.5)
            );
            let f = dominant_frequency(core, 16_000, 50.0, 7_900.0);
            assert!(
                (f - freq as f64).abs() < 1.0,
                "{from}: {freq} Hz came out at {f}"
            );
        }
    }
}

#[test]
fn resampling_does_not_alias() {
    let x = sine(44_100, 12_000.0, 0.5, 0.5);
    let y = resample(&x, 44_100, 16_000).unwrap();
    let core = &y[800..y.len() - 800];
    // 12 kHz would fold to 4 kHz.
    let alias = tone_amplitude(core, 16_000, 4_000.0);
    let total = rms(core) * 2f64.sqrt();
    assert!(
        db(alias / 0.5) < -60.0,
        "alias at {:.1} dB",
        db(alias / 0.5)
    );
    assert!(
        db(total / 0.5) < -60.0,
        "residual at {:.1} dB",
        db(total / 0.5)
    );
}

#[test]
fn resampling_keeps_click_time_and_exact_length() {
    for &(from, to) in &[
        (44_100u32, 16_000u32),
        (48_000, 16_000),
        (8_000, 16_000),
        (192_000, 16_000),
        (11_025, 16_000),
        (16_000, 44_100),
    ] {
        for &at in &[0.013f64, 0.3, 0.7301] {
            let mut x = vec![0.0f32; from as usize];
            x[(at * from as f64) as usize] = 1.0;
            let true_time = (at * from as f64).floor() / from as f64;
            let y = resample(&x, from, to).unwrap();
            let peak = click_index_peak(&y);
            let expected = true_time * to as f64;
            assert!(
                (peak as f64 - expected).abs() <= 1.0,
                "{from}->{to}: click at {expected:.2}, output peak at {peak}"
            );
        }
        for len in [0usize, 1, 2, 3, 441, 1023, 1024, 1025, 5000, 44_101] {
            let x = vec![0.1f32; len];
            let y = resample(&x, from, to).unwrap();
            let expected = (len as f64 * to as f64 / from as f64).round() as usize;
            assert_eq!(y.len(), expected, "{from}->{to}, {len} samples");
        }
    }
}

fn click_index_peak(y: &[f32]) -> usize {
    (0..y.len())
        .max_by(|&a, &b| y[a].partial_cmp(&y[b]).unwrap())
        .unwrap()
}

#[test]
fn downmix_is_the_mean_of_channels() {
    let dir = tempfile::tempdir().unwrap();
    for nch in [2usize, 8] {
        let chans: Vec<Vec<f32>> = (0..nch)
            .map(|c| {
                sine(
                    16_000,
                    200.0 * (c + 1) as f32,
                    0.8 / nch as f32 * (c + 1) as f32,
                    0.2,
                )
            })
            .collect();
        let p = dir.path().join(format!("c{nch}.wav"));
        write_hound(&p, 16_000, nch as u16, 32, true, &chans);
        assert_eq!(probe(&p).unwrap().channels, nch);
        let y = load_mono(&p, 16_000).unwrap();
        let mean: Vec<f32> = (0..chans[0].len())
            .map(|i| chans.iter().map(|c| c[i]).sum::<f32>() / nch as f32)
            .collect();
        assert!(max_abs_diff(&mean, &y) < 1e-6, "{nch} channels");
    }
}

#[test]
fn streaming_reader_matches_whole_file_resampling() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("long.wav");
    let rate = 44_100;
    let mut x = sine(rate, 330.0, 0.3, 6.0);
    for (i, v) in x.iter_mut().enumerate() {
        *v += if i % 9_999 == 0 { 0.5 } else { 0.0 };
    }
    write_hound(&p, rate, 2, 16, false, &[x.clone(), x.clone()]);
    let native = load_mono(&p, rate).unwrap();
    let expected = resample(&native, rate, 16_000).unwrap();
    let mut reader = MonoReader::open(&p, 16_000).unwrap();
    assert_eq!(reader.info().sample_rate, rate);
    let mut chunks = 0;
    let mut largest = 0;
    let mut all = Vec::new();
    while let Some(c) = reader.next_chunk().unwrap() {
        chunks += 1;
        largest = largest.max(c.len());
        all.extend_from_slice(&c);
    }
    assert!(chunks >= 4, "only {chunks} chunks");
    assert!(
        largest <= 32_768,
        "a chunk of {largest} samples is not bounded streaming"
    );
    assert_eq!(all.len(), 96_000);
    assert!(max_abs_diff(&expected, &all) < 1e-5);
    assert_eq!(load_mono(&p, 16_000).unwrap(), all);
}

#[test]
fn segments_are_the_matching_slice_of_the_whole_file() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("seg.wav");
    let rate = 48_000;
    let x: Vec<f32> = (0..rate * 3)
        .map(|i| 0.4 * ((i as f32 * 0.001).sin() * (i as f32 * 0.0371).sin()))
        .collect();
    write_hound(&p, rate, 1, 32, true, &[x]);
    let whole = load_mono(&p, 16_000).unwrap();
    for &(start, secs) in &[
        (0.0f64, 0.5f64),
        (1.3, 0.7),
        (2.75, 1.0),
        (3.5, 1.0),
        (0.77, 0.0),
    ] {
        let seg = load_mono_segment(&p, 16_000, start, secs).unwrap();
        let a = ((start * 16_000.0).round() as usize).min(whole.len());
        let b = (a + (secs * 16_000.0).round() as usize).min(whole.len());
        assert_eq!(seg.len(), b - a, "segment {start}+{secs}");
        if !seg.is_empty() {
            assert!(
                max_abs_diff(&whole[a..b], &seg) < 1e-4,
                "segment {start}+{secs}"
            );
        }
    }
    let far = load_mono_segment(&p, 16_000, 1e12, 1e12).unwrap();
    assert!(far.is_empty());
    for (start, secs) in [
        (-1.0, 1.0),
        (f64::NAN, 1.0),
        (0.0, f64::INFINITY),
        (0.0, -0.5),
    ] {
        let err = load_mono_segment(&p, 16_000, start, secs).unwrap_err();
        assert_names_file(&err, &p, "invalid segment");
    }
    // Compressed formats seek too.
    for name in ["sine_click.flac", "sine_click.mp3", "sine_click.ogg"] {
        let f = fixture(name);
        let whole = load_mono(&f, 16_000).unwrap();
        let seg = load_mono_segment(&f, 16_000, 0.2, 0.1).unwrap();
        assert_eq!(seg.len(), 1_600, "{name}");
        let click = click_index(&seg) as f64 / 16_000.0 + 0.2;
        assert!(
            (click - 0.25).abs() < 0.002,
            "{name}: click at {click:.4} s in segment"
        );
        let tol = if name.ends_with("flac") { 1e-4 } else { 0.05 };
        assert!(max_abs_diff(&whole[3_200..4_800], &seg) < tol, "{name}");
    }
}

fn assert_names_file(err: &Error, path: &Path, needle: &str) {
    let msg = err.to_string();
    let name = path.file_name().unwrap().to_string_lossy();
    assert!(msg.contains(&*name), "error does not name the file: {msg}");
    assert!(!msg.contains('\n'), "error is not one line: {msg}");
    assert!(
        msg.to_lowercase().contains(needle),
        "expected '{needle}' in: {msg}"
    );
}

#[test]
fn bad_inputs_give_errors_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let good = raw_wav(1, 16_000, 16, &[0u8; 3200]);
    let mut cases: Vec<(PathBuf, &str)> = Vec::new();
    let mut add = |name: &str, bytes: Option<&[u8]>, needle: &'static str| {
        let p = d.join(name);
        if let Some(b) = bytes {
            std::fs::write(&p, b).unwrap();
        }
        cases.push((p, needle));
    };
    add("missing.wav", None, "no such file");
    add("empty.wav", Some(b""), "empty");
    add(
        "notes.wav",
        Some(b"this is not audio, just some text\n".repeat(20).as_slice()),
        "not an audio file",
    );
    let mut png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    png.extend_from_slice(&[7u8; 200]);
    add("picture.wav", Some(&png), "not an audio file");
    add("header_only.wav", Some(&good[..20]), "truncated header");
    let mut wrong = good.clone();
    wrong[8..12].copy_from_slice(b"WAVX");
    add("wrong_header.wav", Some(&wrong), "not an audio file");
    add(
        "rate0.wav",
        Some(&raw_wav(1, 0, 16, &[0u8; 400])),
        "sample rate",
    );
    add(
        "channels.wav",
        Some(&raw_wav(1000, 16_000, 16, &[0u8; 4000])),
        "channel count",
    );
    for (p, needle) in &cases {
        for result in [
            load_mono(p, 16_000).map(|_| ()),
            probe(p).map(|_| ()),
            MonoReader::open(p, 16_000).map(|_| ()),
            load_mono_segment(p, 16_000, 0.1, 0.1).map(|_| ()),
        ] {
            let err = result.expect_err(&format!("{} should fail", p.display()));
            assert_names_file(&err, p, needle);
        }
    }
    // A directory.
    let sub = d.join("folder.wav");
    std::fs::create_dir(&sub).unwrap();
    assert_names_file(&load_mono(&sub, 16_000).unwrap_err(), &sub, "directory");
}

#[test]
fn non_finite_float_samples_are_reported_with_their_time() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("nan.wav");
    let mut x = vec![0.1f32; 16_000];
    x[1_975] = f32::NAN;
    write_hound(&p, 16_000, 1, 32, true, &[x.clone()]);
    assert_names_file(
        &load_mono(&p, 16_000).unwrap_err(),
        &p,
        "non-finite samples at 0.123 s",
    );
    x[1_975] = 0.0;
    x[8_000] = f32::INFINITY;
    write_hound(&p, 16_000, 1, 32, true, &[x]);
    assert_names_file(&load_mono(&p, 44_100).unwrap_err(), &p, "at 0.500 s");
}

#[test]
fn zero_length_audio_is_empty_not_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("silence.wav");
    std::fs::write(&p, raw_wav(2, 44_100, 16, &[])).unwrap();
    assert_eq!(load_mono(&p, 16_000).unwrap(), Vec::<f32>::new());
    assert_eq!(
        load_mono_segment(&p, 16_000, 0.0, 1.0).unwrap(),
        Vec::<f32>::new()
    );
    assert!(MonoReader::open(&p, 16_000)
        .unwrap()
        .next_chunk()
        .unwrap()
        .is_none());
}

#[test]
fn truncated_files_decode_what_is_there() {
    let dir = tempfile::tempdir().unwrap();
    // WAV cut mid-data (and mid-frame): the header promises more than the file holds.
    let p = dir.path().join("cut.wav");
    let x = sine(16_000, 440.0, 0.5, 1.0);
    write_hound(&p, 16_000, 1, 16, false, std::slice::from_ref(&x));
    let bytes = std::fs::read(&p).unwrap();
    std::fs::write(&p, &bytes[..44 + 2 * 6_000 + 1]).unwrap();
    let y = load_mono(&p, 16_000).unwrap();
    assert!((5_000..=6_000).contains(&y.len()), "{} samples", y.len());
    assert!(max_abs_diff(&x[..y.len()], &y) <= 2.0 / 32_768.0);
    // Compressed fixtures cut in half: no panic; what decodes is the beginning of the signal.
    for name in ["sine_click.flac", "sine_click.mp3", "sine_click.ogg"] {
        let bytes = std::fs::read(fixture(name)).unwrap();
        let cut = dir.path().join(name);
        std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
        match load_mono(&cut, 16_000) {
            Ok(y) => assert!(
                y.len() > 1_000 && y.len() < 8_000,
                "{name}: {} samples",
                y.len()
            ),
            Err(e) => assert_names_file(&e, &cut, ""),
        }
    }
}

#[test]
fn corrupt_data_mid_stream_never_panics() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["sine_click.flac", "sine_click.mp3", "sine_click.ogg"] {
        let mut bytes = std::fs::read(fixture(name)).unwrap();
        let n = bytes.len();
        for (i, b) in bytes[n * 2 / 3..n * 2 / 3 + 300].iter_mut().enumerate() {
            *b = (i as u8).wrapping_mul(97).wrapping_add(13);
        }
        let p = dir.path().join(name);
        std::fs::write(&p, &bytes).unwrap();
        let r = load_mono(&p, 16_000);
        if let Err(e) = r {
            assert_names_file(&e, &p, "");
        }
    }
}

#[test]
fn write_wav_round_trips_and_respects_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    let x = sine_with_click(16_000, 0.4);
    for (format, tol) in [
        (WavFormat::Pcm16, 0.5 / 32_768.0 + 1e-7),
        (WavFormat::Float32, 0.0),
    ] {
        let p = dir.path().join(format!("{format:?}.wav"));
        write_wav(&p, &x, 16_000, format, Overwrite::Refuse).unwrap();
        let y = load_mono(&p, 16_000).unwrap();
        assert!(max_abs_diff(&x, &y) <= tol, "{format:?}");
        let before = std::fs::read(&p).unwrap();
        let err = write_wav(&p, &[0.0; 10], 16_000, format, Overwrite::Refuse).unwrap_err();
        assert!(matches!(err, Error::OutputExists { .. }));
        assert_eq!(std::fs::read(&p).unwrap(), before);
        write_wav(&p, &[0.25; 10], 22_050, format, Overwrite::Allow).unwrap();
        assert_eq!(probe(&p).unwrap().sample_rate, 22_050);
        assert_eq!(load_mono(&p, 22_050).unwrap().len(), 10);
    }
    // Pcm16 clips instead of wrapping around.
    let p = dir.path().join("loud.wav");
    write_wav(
        &p,
        &[2.0, -3.0],
        16_000,
        WavFormat::Pcm16,
        Overwrite::Refuse,
    )
    .unwrap();
    let y = load_mono(&p, 16_000).unwrap();
    assert!(y[0] > 0.999 && y[1] < -0.999, "{y:?}");
    let bad = dir.path().join("nan_out.wav");
    let err = write_wav(
        &bad,
        &[0.0, f32::NAN],
        16_000,
        WavFormat::Float32,
        Overwrite::Refuse,
    )
    .unwrap_err();
    assert_names_file(&err, &bad, "non-finite");
    assert!(!bad.exists());
}

#[test]
fn reader_can_move_to_a_worker_thread() {
    fn assert_send<T: Send>() {}
    assert_send::<MonoReader>();
    let p = fixture("sine_click.flac");
    let mut reader = MonoReader::open(&p, SAMPLE_RATE).unwrap();
    let n = std::thread::spawn(move || {
        let mut n = 0;
        while let Some(c) = reader.next_chunk().unwrap() {
            n += c.len();
        }
        n
    })
    .join()
    .unwrap();
    assert_eq!(n, 8_000);
}

#[test]
fn shared_drum_sources_load_at_the_model_rate() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/drum_sources");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        println!("skipped: {} not found", dir.display());
        return;
    };
    let mut files: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    files.sort();
    for p in files
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "wav"))
        .take(12)
    {
        let info = probe(p).unwrap();
        let x = load_mono(p, SAMPLE_RATE).unwrap();
        let frames = info.frames.unwrap();
        let expected = (frames as f64 * 16_000.0 / info.sample_rate as f64).round() as usize;
        assert_eq!(x.len(), expected, "{}", p.display());
        let peak = x.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        assert!(peak > 0.01 && peak <= 1.05, "{}: peak {peak}", p.display());
        // The hit is at the start of each sample.
        let first_loud = x.iter().position(|v| v.abs() > 0.1 * peak).unwrap();
        assert!(
            first_loud < 800,
            "{}: onset at sample {first_loud}",
            p.display()
        );
    }
}
