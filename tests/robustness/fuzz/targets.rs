//! What the fuzzer feeds: audio files through decoding and transcription (the `transcribe`
//! path, with a tiny random model so that an execution costs milliseconds), MIDI files through
//! the reader, the onset reader and rendering (the `render` and `eval` paths), model files
//! through loading and inference, and onset lists and config files through their parsers.

use std::f32::consts::PI;
use std::path::{Path, PathBuf};

use candle_core::Device;

use drummernet::atomic_file::Overwrite;
use drummernet::audio::{load_mono_segment, probe, MonoReader, WavFormat, SAMPLE_RATE};
use drummernet::config::Config;
use drummernet::dsp::onset_metrics::{merge_close, onset_score};
use drummernet::eval::onsets::{read_onset_midi, read_onsets};
use drummernet::groove::{natural_length, render_midi_file};
use drummernet::kit::{procedural_kit, Kit};
use drummernet::midi::{
    midi_bytes, parse_midi, read_midi, MidiNote, MidiSettings, MidiWriteOptions,
};
use drummernet::model::drummernet::{save_model, DrummerNet};
use drummernet::model::ModelConfig;
use drummernet::transcribe::{
    transcribe_source, write_outputs, InferenceSettings, ModelInfo, NetRunner, OutputFormat,
    Transcription,
};

use crate::engine::{Outcome, Target};

/// Decoded audio longer than this is not transcribed (a few-byte FLAC can claim hours).
const MAX_TRANSCRIBED_SAMPLES: usize = 30 * SAMPLE_RATE as usize;
/// MIDI files rendering longer than this are only read.
const MAX_RENDERED_SECONDS: f64 = 30.0;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn tiny_config() -> ModelConfig {
    ModelConfig {
        channels: 2,
        first_conv_channels: 2,
        ..ModelConfig::default()
    }
}

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// A click every 0.25 s over a quiet tone, `seconds` long, at `rate`.
fn clicks(rate: u32, seconds: f32) -> Vec<f32> {
    let n = (rate as f32 * seconds) as usize;
    (0..n)
        .map(|i| {
            let t = i as f32 / rate as f32;
            let since = t % 0.25;
            0.05 * (2.0 * PI * 220.0 * t).sin() + 0.8 * (-since * 60.0).exp() * (since * 9e3).sin()
        })
        .collect()
}

/// A WAV file's bytes, written through hound.
fn wav_bytes(rate: u32, channels: u16, bits: u16, float: bool, seconds: f32) -> Vec<u8> {
    let mono = clicks(rate, seconds);
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
    let mut cursor = std::io::Cursor::new(Vec::new());
    {
        let mut w = hound::WavWriter::new(&mut cursor, spec).expect("wav spec");
        for &x in &mono {
            for _ in 0..channels {
                if float {
                    w.write_sample(x).expect("sample");
                } else {
                    let full = ((1i64 << (bits - 1)) - 1) as f32;
                    w.write_sample((x * full) as i32).expect("sample");
                }
            }
        }
        w.finalize().expect("finalize");
    }
    cursor.into_inner()
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(root().join("tests/fixtures/audio").join(name)).expect("audio fixture")
}

/// Every event inside the file and with a legal key and velocity; activations finite.
fn check_transcription(t: &Transcription) {
    let end = t.duration + 0.1;
    for e in &t.events {
        assert!(
            e.time.is_finite() && e.time >= 0.0 && e.time <= end,
            "event at {} s in {} s of audio",
            e.time,
            t.duration
        );
        assert!(e.note <= 127 && (1..=127).contains(&e.velocity), "{e:?}");
        assert!(e.confidence.is_finite() && e.height.is_finite(), "{e:?}");
    }
    for curve in &t.activations {
        assert!(curve.iter().all(|v| v.is_finite()), "non-finite activation");
    }
}

// ---- audio -----------------------------------------------------------------------------

pub struct AudioTarget {
    net: DrummerNet,
    out_dir: PathBuf,
    settings: InferenceSettings,
    midi: MidiSettings,
}

impl AudioTarget {
    pub fn new(work: &Path) -> AudioTarget {
        let out_dir = work.join("audio-out");
        std::fs::create_dir_all(&out_dir).expect("output folder");
        AudioTarget {
            net: drummernet::model::drummernet::DrummerNet::seeded(&tiny_config(), 0, &Device::Cpu)
                .expect("tiny model"),
            out_dir,
            settings: InferenceSettings::default(),
            midi: MidiSettings::default(),
        }
    }
}

impl Target for AudioTarget {
    fn name(&self) -> &'static str {
        "audio"
    }

    fn seeds(&self) -> Vec<(String, Vec<u8>)> {
        vec![
            ("wav".into(), wav_bytes(16_000, 1, 16, false, 0.6)),
            ("wav".into(), wav_bytes(44_100, 2, 24, false, 0.3)),
            ("wav".into(), wav_bytes(8_000, 1, 8, false, 0.5)),
            ("wav".into(), wav_bytes(22_050, 3, 32, true, 0.3)),
            ("flac".into(), fixture("sine_click.flac")),
            ("mp3".into(), fixture("sine_click.mp3")),
            ("ogg".into(), fixture("sine_click.ogg")),
        ]
    }

    fn extensions(&self) -> Vec<&'static str> {
        vec!["wav", "flac", "mp3", "ogg", "aiff", "bin"]
    }

    fn exec(&self, input: &Path) -> Outcome {
        let info = probe(input).map_err(err)?;
        assert!(info.sample_rate > 0 && info.channels > 0, "{info:?}");
        // Decode once, bounded: a tiny file may claim hours.
        let mut reader = MonoReader::open(input, SAMPLE_RATE).map_err(err)?;
        let mut n = 0usize;
        while let Some(chunk) = reader.next_chunk().map_err(err)? {
            assert!(
                chunk.iter().all(|x| x.is_finite()),
                "non-finite decoded sample"
            );
            n += chunk.len();
            if n > MAX_TRANSCRIBED_SAMPLES {
                return Ok("long".into());
            }
        }
        let runner = NetRunner::new(&self.net, Device::Cpu);
        let t = transcribe_source(
            &runner,
            &self.net.config().components,
            input,
            || MonoReader::open(input, SAMPLE_RATE),
            &self.settings,
            &self.midi,
            &|f| assert!((0.0..=1.0 + 1e-9).contains(&f), "progress {f}"),
        )
        .map_err(err)?;
        assert_eq!(
            (t.duration * SAMPLE_RATE as f64).round() as usize,
            n,
            "the transcription pass saw another length than the decoding pass"
        );
        check_transcription(&t);
        let info = ModelInfo {
            path: "tiny".into(),
            metadata: Default::default(),
        };
        write_outputs(
            &t,
            &self.out_dir,
            &[OutputFormat::Mid, OutputFormat::Json, OutputFormat::Csv],
            &info,
            &self.settings,
            &self.midi,
            Overwrite::Allow,
        )
        .map_err(|e| format!("{}: writing outputs: {e}", input.display()))?;
        // A segment from the middle (the workbench's and the trainer's path).
        let start = (n as f64 / SAMPLE_RATE as f64) * 0.4;
        let seg = load_mono_segment(input, SAMPLE_RATE, start, 0.25).map_err(err)?;
        assert!(seg.len() <= 4_000, "segment of {} samples", seg.len());
        Ok(if t.silent {
            "silent".into()
        } else if t.events.is_empty() {
            "no events".into()
        } else {
            "events".into()
        })
    }
}

// ---- MIDI ------------------------------------------------------------------------------

pub struct MidiTarget {
    kit: Kit,
    out: PathBuf,
}

impl MidiTarget {
    pub fn new(work: &Path) -> MidiTarget {
        MidiTarget {
            kit: procedural_kit(3, 1_600),
            out: work.join("midi-render.wav"),
        }
    }
}

/// A format-1 file with a tempo track, running status and note-offs as velocity-0 note-ons.
fn running_status_midi() -> Vec<u8> {
    let mut f = b"MThd\x00\x00\x00\x06\x00\x01\x00\x02\x01\xe0".to_vec();
    let tempo_track: &[u8] = &[
        0x00, 0xff, 0x51, 0x03, 0x07, 0xa1, 0x20, 0x83, 0x60, 0xff, 0x51, 0x03, 0x03, 0xd0, 0x90,
        0x00, 0xff, 0x2f, 0x00,
    ];
    let notes: &[u8] = &[
        0x00, 0x99, 36, 100, 0x60, 36, 0, 0x00, 38, 90, 0x83, 0x00, 38, 0, 0x00, 42, 70, 0x60, 42,
        0, 0x00, 0xff, 0x2f, 0x00,
    ];
    for track in [tempo_track, notes] {
        f.extend_from_slice(b"MTrk");
        f.extend_from_slice(&(track.len() as u32).to_be_bytes());
        f.extend_from_slice(track);
    }
    f
}

fn check_notes(notes: &[MidiNote]) {
    for n in notes {
        assert!(
            n.time.is_finite() && n.time >= 0.0 && n.duration.is_finite() && n.duration >= 0.0,
            "{n:?}"
        );
        assert!(
            n.note <= 127 && (1..=127).contains(&n.velocity) && n.channel < 16,
            "{n:?}"
        );
    }
    assert!(
        notes.windows(2).all(|w| w[0].time <= w[1].time),
        "notes not sorted by time"
    );
}

impl Target for MidiTarget {
    fn name(&self) -> &'static str {
        "midi"
    }

    fn seeds(&self) -> Vec<(String, Vec<u8>)> {
        let demo = std::fs::read(root().join("assets/demo/demo_groove.mid")).expect("demo MIDI");
        let opts = MidiWriteOptions::from_settings(&MidiSettings::default());
        let notes: Vec<MidiNote> = (0..12)
            .map(|i| MidiNote {
                time: i as f64 * 0.2,
                note: [36, 38, 42, 49][i % 4],
                velocity: 40 + i as u8 * 7,
                duration: 0.05,
                channel: 9,
            })
            .collect();
        vec![
            ("mid".into(), demo),
            ("mid".into(), running_status_midi()),
            ("mid".into(), midi_bytes(&notes, &opts).expect("MIDI bytes")),
        ]
    }

    fn extensions(&self) -> Vec<&'static str> {
        vec!["mid", "midi"]
    }

    fn max_len(&self) -> usize {
        16 * 1024
    }

    fn exec(&self, input: &Path) -> Outcome {
        let notes = read_midi(input).map_err(err)?;
        check_notes(&notes);
        read_onset_midi(input, Some(10)).map_err(err)?;
        // What the reader gives, the writer must take, and read back the same count.
        let opts = MidiWriteOptions::from_settings(&MidiSettings::default());
        let playable: Vec<MidiNote> = notes.iter().filter(|n| n.time < 3600.0).cloned().collect();
        if let Ok(bytes) = midi_bytes(&playable, &opts) {
            let back = parse_midi(&bytes, input).map_err(err)?;
            check_notes(&back);
        }
        let seconds = natural_length(&notes, &self.kit, SAMPLE_RATE);
        assert!(seconds.is_finite() && seconds >= 0.0, "length {seconds}");
        if seconds > MAX_RENDERED_SECONDS {
            return Ok("long".into());
        }
        let out = render_midi_file(
            input,
            &self.kit,
            &self.out,
            -1.0,
            WavFormat::Pcm16,
            Overwrite::Allow,
        )
        .map_err(err)?;
        assert!(out.gain.is_finite(), "{out:?}");
        Ok(format!("rendered {} notes", out.notes.min(3)))
    }
}

// ---- model files ----------------------------------------------------------------------

pub struct ModelTarget {
    seed_file: Vec<u8>,
    audio: Vec<f32>,
}

impl ModelTarget {
    pub fn new(work: &Path) -> ModelTarget {
        let cfg = ModelConfig {
            components: vec!["KD_KD".into(), "SD_SD".into(), "HH_CHH".into()],
            encoder_layers: 4,
            decoder_layers: 2,
            ..tiny_config()
        };
        let map = candle_nn::VarMap::new();
        let vb = drummernet::model::seeded_init::SeededVarMap::var_builder(
            &map,
            5,
            candle_core::DType::F32,
            &Device::Cpu,
        );
        DrummerNet::new(&cfg, vb).expect("tiny model");
        let tensors: Vec<(String, candle_core::Tensor)> = map
            .data()
            .lock()
            .expect("var map")
            .iter()
            .map(|(n, v)| (n.clone(), v.as_tensor().clone()))
            .collect();
        let path = work.join("seed.safetensors");
        save_model(&path, &cfg, &tensors, &[], Overwrite::Allow).expect("save seed model");
        ModelTarget {
            seed_file: std::fs::read(&path).expect("seed model"),
            audio: clicks(SAMPLE_RATE, 0.5),
        }
    }
}

impl Target for ModelTarget {
    fn name(&self) -> &'static str {
        "model"
    }

    fn seeds(&self) -> Vec<(String, Vec<u8>)> {
        vec![("safetensors".into(), self.seed_file.clone())]
    }

    fn extensions(&self) -> Vec<&'static str> {
        vec!["safetensors"]
    }

    fn max_len(&self) -> usize {
        self.seed_file.len() * 2
    }

    fn exec(&self, input: &Path) -> Outcome {
        let model = DrummerNet::load(input, &Device::Cpu).map_err(err)?;
        let runner = NetRunner::new(&model.net, Device::Cpu);
        let samples = self.audio.clone();
        let t = transcribe_source(
            &runner,
            &model.config.components,
            input,
            || {
                Ok(drummernet::transcribe::SliceSource {
                    samples: &samples,
                    piece: 4096,
                })
            },
            &InferenceSettings::default(),
            &MidiSettings::default(),
            &|_| {},
        )
        .map_err(|e| format!("{}: inference: {e}", input.display()))?;
        check_transcription(&t);
        Ok(format!(
            "loaded, {} components",
            model.config.components.len()
        ))
    }
}

// ---- onset lists (eval predictions and ground truth) ------------------------------------

pub struct OnsetTextTarget;

impl Target for OnsetTextTarget {
    fn name(&self) -> &'static str {
        "onsets"
    }

    fn seeds(&self) -> Vec<(String, Vec<u8>)> {
        let pred = root().join("tests/fixtures/eval/pred");
        let mut seeds = vec![(
            "txt".to_string(),
            std::fs::read(root().join("assets/demo/demo_drums.txt")).expect("demo onsets"),
        )];
        for name in [
            "dtd_01_rock_dn_logic_12.txt",
            "dtp_09_metal_dn_logic_12.mid",
        ] {
            let ext = name.rsplit('.').next().unwrap_or("txt").to_string();
            seeds.push((ext, std::fs::read(pred.join(name)).expect("eval fixture")));
        }
        seeds
    }

    fn extensions(&self) -> Vec<&'static str> {
        vec!["txt", "csv", "mid"]
    }

    fn max_len(&self) -> usize {
        16 * 1024
    }

    fn exec(&self, input: &Path) -> Outcome {
        let estimate = read_onsets(input, None).map_err(err)?;
        let reference: Vec<f64> = (0..40).map(|i| i as f64 * 0.25).collect();
        let mut total = 0;
        for times in estimate.values() {
            let merged = merge_close(times, 0.03);
            let s = onset_score(&reference, &merged, 0.05);
            assert!(
                (0.0..=1.0).contains(&s.f1) && s.tp <= s.n_ref.min(s.n_est),
                "{s:?}"
            );
            total += s.tp;
        }
        Ok(if total > 0 { "matches" } else { "no matches" }.into())
    }
}

// ---- config files ------------------------------------------------------------------------

pub struct ConfigTarget;

impl Target for ConfigTarget {
    fn name(&self) -> &'static str {
        "config"
    }

    fn seeds(&self) -> Vec<(String, Vec<u8>)> {
        vec![(
            "toml".into(),
            drummernet::config::DEFAULT_CONFIG_TOML.as_bytes().to_vec(),
        )]
    }

    fn extensions(&self) -> Vec<&'static str> {
        vec!["toml"]
    }

    fn error_is_clear(&self, input: &Path, message: &str) -> bool {
        // Errors name the file (unreadable, syntax) or the key (`config: `key`: ...`).
        let name = input.file_name().map(|n| n.to_string_lossy().into_owned());
        !message.contains('\n')
            && (message.starts_with("config: `") || name.is_some_and(|n| message.contains(&n)))
    }

    fn exec(&self, input: &Path) -> Outcome {
        let cfg = Config::load(Some(input), &[]).map_err(err)?;
        // What validates must survive its own round trip.
        let text = cfg.to_toml().map_err(err)?;
        let again = Config::from_toml_str(&text, &[]).map_err(|e| format!("round trip: {e}"))?;
        assert_eq!(again, cfg, "config changed through its own TOML");
        // Every accepted model configuration can be probed without allocating its weights.
        drummernet::model::file::expected_tensors(|vb| DrummerNet::new(&cfg.model, vb).map(|_| ()))
            .map_err(|e| format!("{}: model: {e}", input.display()))?;
        Ok("valid".into())
    }
}

/// Every target, sharing one scratch folder.
pub fn all(work: &Path) -> Vec<Box<dyn Target>> {
    vec![
        Box::new(AudioTarget::new(work)),
        Box::new(MidiTarget::new(work)),
        Box::new(ModelTarget::new(work)),
        Box::new(OnsetTextTarget),
        Box::new(ConfigTarget),
    ]
}
