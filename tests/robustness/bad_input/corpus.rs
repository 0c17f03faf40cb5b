//! The bad (and awkward but valid) audio files, generated here from the bundled demo stem and
//! the compressed fixtures: nothing is downloaded. Each case says what every entry point must
//! give for it.

use std::path::{Path, PathBuf};

use drummernet::atomic_file::Overwrite;
use drummernet::audio::{load_mono, resample, write_wav, WavFormat, SAMPLE_RATE};

use super::common::{permissions_apply, root, set_mode};

/// What an input must get.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Expect {
    /// Exit status 1 and one stderr line naming the file and containing each needle.
    Error(&'static [&'static str]),
    /// Success with no events.
    Silent,
    /// Success with the demo excerpt's drum events (compared with the plain 16 kHz version).
    Drums,
    /// Success; the events are not judged (a sine with a click, cut short).
    Decodes,
    /// Success with a message (stdout, or the workbench's status line) containing each needle.
    Message(&'static [&'static str]),
}

#[derive(Debug, Clone)]
pub struct Case {
    pub path: PathBuf,
    pub expect: Expect,
    /// What the README's table says the case is.
    pub what: &'static str,
}

impl Case {
    pub fn file_name(&self) -> String {
        self.path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }
}

/// The first two seconds of the demo stem (kick, snare, hi-hat and cymbal hits), at 16 kHz.
pub fn demo_excerpt() -> Vec<f32> {
    let x = load_mono(&root().join("assets/demo/demo_drums.wav"), SAMPLE_RATE).expect("demo");
    x[..2 * SAMPLE_RATE as usize].to_vec()
}

/// Writes `frames` (one Vec per channel) as a WAV with hound.
pub fn write_hound(path: &Path, rate: u32, bits: u16, float: bool, channels: &[Vec<f32>]) {
    let spec = hound::WavSpec {
        channels: channels.len() as u16,
        sample_rate: rate,
        bits_per_sample: bits,
        sample_format: if float {
            hound::SampleFormat::Float
        } else {
            hound::SampleFormat::Int
        },
    };
    let mut w = hound::WavWriter::create(path, spec).expect("wav writer");
    let n = channels.first().map_or(0, Vec::len);
    for i in 0..n {
        for c in channels {
            if float {
                w.write_sample(c[i]).expect("sample");
            } else {
                let full = ((1i64 << (bits - 1)) - 1) as f32;
                w.write_sample((c[i].clamp(-1.0, 1.0) * full).round() as i32)
                    .expect("sample");
            }
        }
    }
    w.finalize().expect("finalize");
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(root().join("tests/fixtures/audio").join(name)).expect("fixture")
}

/// The reference: the demo excerpt as a plain 16-bit 16 kHz WAV.
pub fn reference_wav(dir: &Path) -> PathBuf {
    let p = dir.join("reference.wav");
    write_wav(
        &p,
        &demo_excerpt(),
        SAMPLE_RATE,
        WavFormat::Pcm16,
        Overwrite::Allow,
    )
    .expect("write reference");
    p
}

/// Generates every case in `dir`.
pub fn audio_corpus(dir: &Path) -> Vec<Case> {
    std::fs::create_dir_all(dir).expect("corpus folder");
    let x = demo_excerpt();
    let mut cases = Vec::new();
    let mut add = |name: &str, bytes: Option<Vec<u8>>, expect: Expect, what: &'static str| {
        let path = dir.join(name);
        if let Some(b) = bytes {
            std::fs::write(&path, b).expect("write case");
        }
        cases.push(Case { path, expect, what });
    };
    let wav16 = {
        let p = dir.join("scratch.wav");
        write_wav(&p, &x, SAMPLE_RATE, WavFormat::Pcm16, Overwrite::Allow).expect("wav");
        let b = std::fs::read(&p).expect("read");
        std::fs::remove_file(&p).expect("rm");
        b
    };
    const NOT_AUDIO: &[&str] = &["not an audio file"];
    add(
        "empty.wav",
        Some(Vec::new()),
        Expect::Error(&["empty file"]),
        "empty file (0 bytes)",
    );
    add(
        "header_cut.wav",
        Some(wav16[..30].to_vec()),
        Expect::Error(&["truncated header"]),
        "WAV cut inside its header",
    );
    add(
        "data_cut.wav",
        Some(wav16[..wav16.len() / 2 + 1].to_vec()),
        Expect::Decodes,
        "WAV cut in the middle of its samples (odd byte count)",
    );
    let flac = fixture("sine_click.flac");
    // The fixture has 8 KB of padding after its STREAMINFO (flac's default): cut inside the
    // audio frames, and inside the metadata.
    add(
        "cut.flac",
        Some(flac[..flac.len() * 3 / 4].to_vec()),
        Expect::Decodes,
        "FLAC cut inside its audio frames",
    );
    add(
        "header_cut.flac",
        Some(flac[..flac.len() / 2].to_vec()),
        Expect::Error(&["truncated header"]),
        "FLAC cut inside its metadata blocks",
    );
    let mp3 = fixture("sine_click.mp3");
    add(
        "cut.mp3",
        Some(mp3[..mp3.len() / 2].to_vec()),
        Expect::Decodes,
        "MP3 cut in half",
    );
    add(
        "header_cut.mp3",
        Some(mp3[..3].to_vec()),
        Expect::Error(NOT_AUDIO),
        "MP3 cut to 3 bytes",
    );
    let mut wrong = wav16.clone();
    wrong[8..12].copy_from_slice(b"WAVX");
    add(
        "wrong_header.wav",
        Some(wrong),
        Expect::Error(NOT_AUDIO),
        "RIFF header of another type",
    );
    add(
        "text.wav",
        Some(b"these are my notes, not audio\n".repeat(30)),
        Expect::Error(NOT_AUDIO),
        "a text file named .wav",
    );
    let mut png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x10\0\0\0\x10\x08\x02\0\0\0".to_vec();
    png.extend(std::iter::repeat_n(0x55u8, 300));
    add(
        "image.wav",
        Some(png),
        Expect::Error(NOT_AUDIO),
        "a PNG image named .wav",
    );
    std::fs::create_dir_all(dir.join("folder.wav")).expect("mkdir");
    add(
        "folder.wav",
        None,
        Expect::Error(&["directory"]),
        "a directory named x.wav",
    );
    add(
        "missing.wav",
        None,
        Expect::Error(&["no such file"]),
        "a missing file",
    );
    if permissions_apply() {
        let p = dir.join("unreadable.wav");
        std::fs::write(&p, &wav16).expect("write");
        set_mode(&p, 0o000);
        add(
            "unreadable.wav",
            None,
            Expect::Error(&["permission denied"]),
            "an unreadable file (chmod 000)",
        );
    }
    let silent = |n: usize| vec![vec![0.0f32; n]];
    let p = dir.join("zero_frames.wav");
    write_hound(&p, 44_100, 16, false, &silent(0));
    add(
        "zero_frames.wav",
        None,
        Expect::Silent,
        "a WAV with no samples",
    );
    let p = dir.join("one_sample.wav");
    write_hound(&p, 44_100, 16, false, &[vec![0.5]]);
    add(
        "one_sample.wav",
        None,
        Expect::Silent,
        "a WAV of one sample",
    );
    let p = dir.join("silence.wav");
    write_hound(&p, 16_000, 16, false, &silent(32_000));
    add(
        "silence.wav",
        None,
        Expect::Silent,
        "2 s of digital silence",
    );
    let clipped: Vec<f32> = x.iter().map(|v| (v * 8.0).clamp(-1.0, 1.0)).collect();
    let p = dir.join("clipping.wav");
    write_hound(&p, 16_000, 16, false, &[clipped]);
    add(
        "clipping.wav",
        None,
        Expect::Decodes,
        "the excerpt 18 dB too hot, clipped at full scale",
    );
    // 3e38 is finite, but two channels of it sum to infinity: such a file used to give no
    // events at all instead of an error.
    for (name, value, channels) in [
        ("nan.wav", f32::NAN, 1),
        ("inf.wav", f32::INFINITY, 1),
        ("huge.wav", 3e38, 2),
    ] {
        let mut y = x.clone();
        y[12_345] = value;
        write_hound(&dir.join(name), 16_000, 32, true, &vec![y; channels]);
    }
    add(
        "nan.wav",
        None,
        Expect::Error(&["non-finite samples at 0.772 s"]),
        "a float WAV with a NaN sample",
    );
    add(
        "inf.wav",
        None,
        Expect::Error(&["non-finite samples at 0.772 s"]),
        "a float WAV with an infinite sample",
    );
    add(
        "huge.wav",
        None,
        Expect::Error(&["implausible sample value 3e38 at 0.772 s"]),
        "a stereo float WAV with a sample of 3e38 (gave no events before)",
    );
    for (name, rate) in [("rate_8k.wav", 8_000u32), ("rate_192k.wav", 192_000)] {
        let y = resample(&x, SAMPLE_RATE, rate).expect("resample");
        write_hound(&dir.join(name), rate, 16, false, &[y]);
    }
    add("rate_8k.wav", None, Expect::Drums, "8 kHz");
    add("rate_192k.wav", None, Expect::Drums, "192 kHz");
    write_hound(
        &dir.join("pcm24.wav"),
        16_000,
        24,
        false,
        std::slice::from_ref(&x),
    );
    add("pcm24.wav", None, Expect::Drums, "24-bit PCM");
    write_hound(
        &dir.join("float32.wav"),
        16_000,
        32,
        true,
        std::slice::from_ref(&x),
    );
    add("float32.wav", None, Expect::Drums, "32-bit float");
    write_hound(
        &dir.join("eight_channels.wav"),
        16_000,
        16,
        false,
        &vec![x.clone(); 8],
    );
    add("eight_channels.wav", None, Expect::Drums, "8 channels");
    cases
}
