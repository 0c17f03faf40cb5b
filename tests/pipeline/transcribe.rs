//! Chunked inference, events and export: chunk-border and drift tests with a synthetic
//! click-detector model (exact, cheap), context measurement with a random-weight DrummerNet.

use std::path::Path;

use drummernet::atomic_file::Overwrite;
use drummernet::midi::{read_midi, MidiSettings};
use drummernet::transcribe::chunked::{stream_activations, SliceSource};
use drummernet::transcribe::export::{csv_text, tempo_of, write_outputs, ModelInfo, OutputFormat};
use drummernet::transcribe::{
    activations_for, transcribe_source, FrameModel, InferenceSettings, NetRunner, PassSettings,
    Transcription,
};

const SR: u32 = 16_000;

/// Frame j of component c is the peak |x| over the 16 input samples the frame stands for
/// (component 1 at half height); checks the window geometry the chunker promises.
struct ClickModel;

impl FrameModel for ClickModel {
    fn n_components(&self) -> usize {
        11
    }
    fn context_samples(&self) -> usize {
        4080
    }
    fn frame_hop(&self) -> usize {
        16
    }
    fn compress_ratio(&self) -> usize {
        1024
    }
    fn sparsemax_window(&self) -> usize {
        64
    }
    fn run(
        &self,
        windows: &[f32],
        batch: usize,
        len: usize,
    ) -> drummernet::Result<Vec<Vec<Vec<f32>>>> {
        assert_eq!(len % 1024, 0);
        assert_eq!(windows.len(), batch * len);
        let frames = (len - 2 * 4080) / 16;
        Ok(windows
            .chunks(len)
            .map(|w| {
                let kd: Vec<f32> = (0..frames)
                    .map(|j| {
                        let s = 4080 + 16 * j;
                        w[s..s + 16].iter().fold(0.0f32, |m, x| m.max(x.abs()))
                    })
                    .collect();
                let mut out = vec![vec![0.0; frames]; 11];
                out[1] = kd.iter().map(|v| v * 0.5).collect();
                out[0] = kd;
                out
            })
            .collect())
    }
}

fn names() -> Vec<String> {
    drummernet::kit::components::default_component_names()
}

/// Clicks at the given seconds (amplitudes cycling through `amps`) in `seconds` of audio.
fn click_train(seconds: f64, times: &[f64], amps: &[f32]) -> Vec<f32> {
    let mut x = vec![0.0f32; (seconds * SR as f64) as usize];
    for (i, &t) in times.iter().enumerate() {
        let n = (t * SR as f64).round() as usize;
        x[n] = amps[i % amps.len()];
        x[n + 1] = -0.5 * amps[i % amps.len()];
    }
    x
}

fn run(x: &[f32], settings: &InferenceSettings) -> Transcription {
    transcribe_source(
        &ClickModel,
        &names(),
        Path::new("clicks.wav"),
        || {
            Ok(SliceSource {
                samples: x,
                piece: 5000,
            })
        },
        settings,
        &MidiSettings::default(),
        &|_| {},
    )
    .unwrap()
}

/// Events from the stand-in model's curves alone: its clicks would also be hi-hat onsets of
/// the audio (the `hihat_onsets` pass, on by default).
fn settings(chunk: f64, context: f64, batch: usize) -> InferenceSettings {
    InferenceSettings {
        chunk_seconds: chunk,
        context_seconds: context,
        batch_windows: batch,
        passes: PassSettings {
            hihat_onsets: drummernet::transcribe::passes::HihatOnsetSettings {
                enabled: false,
                ..Default::default()
            },
            ..Default::default()
        },
        ..Default::default()
    }
}

fn kd_times(t: &Transcription) -> Vec<f64> {
    t.events
        .iter()
        .filter(|e| e.component == "KD_KD")
        .map(|e| e.time)
        .collect()
}

#[test]
fn events_do_not_depend_on_chunk_size_and_sit_on_the_clicks() {
    // Clicks right at and around the 1.024-s chunk borders and elsewhere.
    let mut times = vec![0.3];
    for k in 1..9 {
        let border = k as f64 * 1.024;
        times.push(border - 0.2);
        times.push(border + [0.0, 0.001, -0.001, 0.0005][k % 4]);
    }
    let x = click_train(10.0, &times, &[0.9, 0.6, 1.0]);
    let reference = run(&x, &settings(60.0, 0.0, 1));
    assert_eq!(reference.windows, 1);
    let want = kd_times(&reference);
    assert_eq!(want.len(), times.len());
    for (got, t) in want.iter().zip(&times) {
        assert!((got - t).abs() <= 0.001, "{got} vs click at {t}");
    }
    for (chunk, ctx, batch) in [(1.0, 0.0, 1), (1.0, 1.0, 3), (2.5, 0.3, 2), (0.5, 2.0, 7)] {
        let t = run(&x, &settings(chunk, ctx, batch));
        assert!(t.windows > 1);
        assert_eq!(t.activations, reference.activations, "chunk {chunk} s");
        assert_eq!(t.events, reference.events, "chunk {chunk} s");
    }
}

#[test]
fn no_drift_over_three_minutes() {
    let times: Vec<f64> = (0..359)
        .map(|i| 0.25 + i as f64 * 0.5 + (i % 7) as f64 * 1e-3)
        .collect();
    let x = click_train(180.0, &times, &[1.0]);
    let t = run(&x, &settings(10.0, 1.0, 4));
    let got = kd_times(&t);
    assert_eq!(got.len(), times.len());
    let worst = got
        .iter()
        .zip(&times)
        .map(|(g, w)| (g - w).abs())
        .fold(0.0, f64::max);
    assert!(worst <= 0.001, "worst offset {worst} s");
    assert_eq!(t.activations[0].len(), 180 * 1000);
    assert!((t.duration - 180.0).abs() < 1e-9);
}

#[test]
fn twenty_db_quieter_gives_the_same_events() {
    let times: Vec<f64> = (0..20).map(|i| 0.1 + i as f64 * 0.37).collect();
    // Heights all above the kick's peak-picking delta (.35 of the song's loudest).
    let x = click_train(8.0, &times, &[1.0, 0.5, 0.8, 0.65]);
    let quiet: Vec<f32> = x.iter().map(|v| v * 0.1).collect();
    let a = run(&x, &settings(2.0, 1.0, 2));
    let b = run(&quiet, &settings(2.0, 1.0, 2));
    assert_eq!(a.events.len(), b.events.len());
    for (e, f) in a.events.iter().zip(&b.events) {
        assert_eq!(
            (e.time, &e.component, e.velocity),
            (f.time, &f.component, f.velocity)
        );
    }
    // Heights 1.0 / 0.5 / 0.8 / 0.65 of the song's loudest give ordered velocities.
    let v: Vec<u8> = a
        .events
        .iter()
        .filter(|e| e.component == "KD_KD")
        .map(|e| e.velocity)
        .take(4)
        .collect();
    assert!(
        v[0] == 127 && v[2] < v[0] && v[3] < v[2] && v[1] < v[3],
        "{v:?}"
    );
}

#[test]
fn buffer_stays_flat_with_length() {
    let s = settings(2.0, 1.0, 3);
    let mut highs = Vec::new();
    for secs in [30.0, 240.0] {
        let times: Vec<f64> = (0..(secs as usize - 1)).map(|i| 0.5 + i as f64).collect();
        let x = click_train(secs, &times, &[1.0]);
        let run = stream_activations(
            &ClickModel,
            SliceSource {
                samples: &x,
                piece: 4096,
            },
            x.len(),
            1.0,
            &s,
            SR,
            &|_| {},
        )
        .unwrap();
        // One batch's input span plus one read piece, whatever the length.
        let span = (s.batch_windows - 1) * run.plan.chunk + run.plan.window_len;
        assert!(
            run.buffered_high_water <= span + 4096,
            "{}",
            run.buffered_high_water
        );
        highs.push(run.buffered_high_water);
    }
    assert_eq!(highs[0], highs[1]);
}

#[test]
fn silence_gives_no_events_and_no_error() {
    let x = vec![0.0f32; 5 * SR as usize];
    let t = run(&x, &settings(2.0, 1.0, 2));
    assert!(t.silent && t.events.is_empty());
    assert_eq!(t.activations[0].len(), 5000);
    let empty = run(&[], &settings(2.0, 1.0, 2));
    assert!(empty.events.is_empty() && empty.activations[0].is_empty());
}

/// The dense (pre-sparsemax) output of a DrummerNet: what the recurrent context affects.
struct DenseRunner<'a>(NetRunner<'a>);

impl FrameModel for DenseRunner<'_> {
    fn n_components(&self) -> usize {
        self.0.n_components()
    }
    fn context_samples(&self) -> usize {
        self.0.context_samples()
    }
    fn frame_hop(&self) -> usize {
        self.0.frame_hop()
    }
    fn compress_ratio(&self) -> usize {
        self.0.compress_ratio()
    }
    fn sparsemax_window(&self) -> usize {
        self.0.sparsemax_window()
    }
    fn run(&self, w: &[f32], batch: usize, len: usize) -> drummernet::Result<Vec<Vec<Vec<f32>>>> {
        let x = candle_core::Tensor::from_slice(w, (batch, len), &candle_core::Device::Cpu)?;
        Ok(self.0.net().analyse(&x)?.dense.to_vec3::<f32>()?)
    }
}

/// How much recurrent context makes chunked outputs match a single pass (random weights).
#[test]
fn random_model_chunked_matches_single_pass_with_context() {
    use candle_core::{DType, Device};
    let cfg = drummernet::model::ModelConfig::default();
    let map = candle_nn::VarMap::new();
    let vb = drummernet::model::seeded_init::SeededVarMap::var_builder(
        &map,
        3,
        DType::F32,
        &Device::Cpu,
    );
    let net = drummernet::model::drummernet::DrummerNet::new(&cfg, vb).unwrap();
    let runner = DenseRunner(NetRunner::new(&net, Device::Cpu));
    let mut rng_state = 12345u64;
    let mut noise = || {
        rng_state = rng_state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((rng_state >> 33) as f32 / (1u64 << 31) as f32) - 0.5
    };
    let times: Vec<f64> = (0..12).map(|i| 0.2 + i as f64 * 0.29).collect();
    let mut x = click_train(4.0, &times, &[1.0, 0.5]);
    for v in x.iter_mut() {
        *v += 0.01 * noise();
    }
    let single = activations_for(&runner, &x, &settings(60.0, 0.0, 1), SR).unwrap();
    let scale = single.iter().flatten().fold(0.0f32, |m, v| m.max(v.abs()));
    let mut diffs = Vec::new();
    for ctx in [0.0, 0.1, 0.5, 1.0] {
        let chunked = activations_for(&runner, &x, &settings(1.0, ctx, 3), SR).unwrap();
        let d = chunked
            .iter()
            .zip(&single)
            .flat_map(|(p, q)| p.iter().zip(q).map(|(u, v)| (u - v).abs()))
            .fold(0.0f32, f32::max);
        diffs.push(d / scale);
    }
    println!("relative max |chunked - single| (dense) for context 0 / 0.1 / 0.5 / 1 s: {diffs:?}");
    assert!(
        diffs[0] > 1e-3,
        "without context the borders differ: {diffs:?}"
    );
    assert!(diffs[2] < 1e-5 && diffs[3] < 1e-5, "{diffs:?}");
    // The sparse activations (after the 64-frame time sparsemax) match too.
    let sparse = &runner.0;
    let one = activations_for(sparse, &x, &settings(60.0, 0.0, 1), SR).unwrap();
    let many = activations_for(sparse, &x, &settings(1.0, 0.5, 3), SR).unwrap();
    let top = one.iter().flatten().fold(0.0f32, |m, v| m.max(v.abs()));
    let d = many
        .iter()
        .zip(&one)
        .flat_map(|(p, q)| p.iter().zip(q).map(|(u, v)| (u - v).abs()))
        .fold(0.0f32, f32::max);
    assert!(d <= 1e-5 * top, "{d} vs {top}");
}

#[test]
fn exports_round_trip_and_respect_force() {
    let times: Vec<f64> = (0..6).map(|i| 0.2 + i as f64 * 0.4).collect();
    let x = click_train(3.0, &times, &[1.0, 0.4]);
    let t = run(&x, &settings(1.0, 0.5, 2));
    assert_eq!(t.events.len(), 12); // KD and SD curves both peak
    let midi = MidiSettings::default();
    let s = InferenceSettings::default();
    let dir = tempfile::tempdir().unwrap();
    let model = ModelInfo {
        path: "m.safetensors".into(),
        ..Default::default()
    };
    let all = [OutputFormat::Mid, OutputFormat::Json, OutputFormat::Csv];
    let paths = write_outputs(&t, dir.path(), &all, &model, &s, &midi, Overwrite::Refuse).unwrap();
    assert_eq!(paths[0], dir.path().join("clicks.mid"));
    // MIDI: notes, times (to a tick) and velocities of the events, channel 10.
    let notes = read_midi(&paths[0]).unwrap();
    assert_eq!(notes.len(), t.events.len());
    for (n, e) in notes.iter().zip(&t.events) {
        assert_eq!((n.note, n.velocity, n.channel), (e.note, e.velocity, 9));
        assert!((n.time - e.time).abs() < 0.0011, "{} vs {}", n.time, e.time);
    }
    // JSON: documented fields.
    let j: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&paths[1]).unwrap()).unwrap();
    assert_eq!(j["format"], "drummernet-transcription");
    assert_eq!(j["input"], "clicks.wav");
    assert_eq!(j["model"]["path"], "m.safetensors");
    assert_eq!(j["settings"]["inference"]["peak_pick"]["delta"], 0.25);
    assert_eq!(j["settings"]["midi"]["channel"], 10);
    assert_eq!(j["events"].as_array().unwrap().len(), 12);
    assert_eq!(j["events"][0]["component"], "KD_KD");
    assert_eq!(j["events"][0]["class"], "KD");
    assert!((j["events"][0]["time"].as_f64().unwrap() - 0.2).abs() < 0.001);
    // CSV columns.
    let csv = std::fs::read_to_string(&paths[2]).unwrap();
    assert_eq!(csv, csv_text(&t.events, &tempo_of(&t, &midi)));
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some("time,component,class,note,velocity,confidence,bar,beat,bpm")
    );
    // The beat grid beside it; the JSON carries the tempo.
    assert_eq!(paths[3], dir.path().join("clicks.beats.csv"));
    assert!(j["tempo"]["bpm"].as_f64().unwrap() > 0.0);
    let first: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert_eq!(&first[1..5], &["KD_KD", "KD", "36", "127"]);
    // Existing outputs: refused without force, nothing rewritten; replaced with force.
    std::fs::write(&paths[2], "old").unwrap();
    std::fs::remove_file(&paths[0]).unwrap();
    let err =
        write_outputs(&t, dir.path(), &all, &model, &s, &midi, Overwrite::Refuse).unwrap_err();
    assert!(err.to_string().contains("exists already"), "{err}");
    assert!(!paths[0].exists(), "no output written when one exists");
    assert_eq!(std::fs::read_to_string(&paths[2]).unwrap(), "old");
    write_outputs(&t, dir.path(), &all, &model, &s, &midi, Overwrite::Allow).unwrap();
    assert_eq!(std::fs::read_to_string(&paths[2]).unwrap(), csv);
    // Every target is checked before anything is written: a blocked .mid target (a folder)
    // leaves no .csv behind.
    let sub = dir.path().join("sub");
    std::fs::create_dir_all(sub.join("clicks.mid")).unwrap();
    let err = write_outputs(
        &t,
        &sub,
        &[OutputFormat::Csv, OutputFormat::Mid],
        &model,
        &s,
        &midi,
        Overwrite::Allow,
    )
    .unwrap_err();
    assert!(err.to_string().contains("clicks.mid"), "{err}");
    assert_eq!(std::fs::read_dir(&sub).unwrap().count(), 1);
}

mod cli {
    use assert_cmd::Command;
    use candle_core::{DType, Device};
    use predicates::prelude::*;

    fn random_model(path: &std::path::Path) {
        let cfg = drummernet::model::ModelConfig::default();
        let map = candle_nn::VarMap::new();
        let vb = drummernet::model::seeded_init::SeededVarMap::var_builder(
            &map,
            1,
            DType::F32,
            &Device::Cpu,
        );
        let _net = drummernet::model::drummernet::DrummerNet::new(&cfg, vb).unwrap();
        let tensors: Vec<(String, candle_core::Tensor)> = map
            .data()
            .lock()
            .unwrap()
            .iter()
            .map(|(n, v)| (n.clone(), v.as_tensor().clone()))
            .collect();
        drummernet::model::drummernet::save_model(
            path,
            &cfg,
            &tensors,
            &[],
            drummernet::atomic_file::Overwrite::Refuse,
        )
        .unwrap();
    }

    #[test]
    fn missing_bundled_model_is_one_clear_line() {
        let dir = tempfile::tempdir().unwrap();
        Command::cargo_bin("drummernet")
            .unwrap()
            .current_dir(dir.path())
            .env(drummernet::assets::ASSETS_ENV, dir.path().join("assets"))
            .args(["transcribe", "song.wav"])
            .assert()
            .failure()
            .stderr(predicate::str::contains("the bundled model is missing"));
    }

    /// A 16-bit WAV of clicks at `times` (amplitude 0.8).
    fn write_clicks(path: &std::path::Path, seconds: f64, times: &[f64]) {
        drummernet::audio::write_wav(
            path,
            &super::click_train(seconds, times, &[0.8]),
            16_000,
            drummernet::audio::WavFormat::Pcm16,
            drummernet::atomic_file::Overwrite::Refuse,
        )
        .unwrap();
    }

    #[test]
    fn bundled_model_is_found_from_another_working_directory() {
        // The executable lives under this checkout's target/: its assets/ is found from a
        // folder that has none.
        let dir = tempfile::tempdir().unwrap();
        write_clicks(&dir.path().join("clicks.wav"), 2.0, &[0.3, 0.9]);
        Command::cargo_bin("drummernet")
            .unwrap()
            .current_dir(dir.path())
            .env_remove(drummernet::assets::ASSETS_ENV)
            .args(["transcribe", "clicks.wav", "--format", "json"])
            .assert()
            .success();
        let json = std::fs::read_to_string(dir.path().join("clicks.json")).unwrap();
        assert!(json.contains("default.safetensors"), "{json}");
    }

    #[test]
    fn bad_file_is_reported_and_the_others_transcribed() {
        let dir = tempfile::tempdir().unwrap();
        let model = dir.path().join("m.safetensors");
        random_model(&model);
        let wav = dir.path().join("clicks.wav");
        write_clicks(&wav, 1.5, &[0.2, 0.7, 1.1]);
        let bad = dir.path().join("bad.wav");
        std::fs::write(&bad, b"not audio at all").unwrap();
        let out = dir.path().join("out");
        let run = |force: bool| {
            let mut c = Command::cargo_bin("drummernet").unwrap();
            c.args(["transcribe", "--model"])
                .arg(&model)
                .arg(&bad)
                .arg(&wav);
            c.args(["--out"])
                .arg(&out)
                .args(["--format", "mid,json,csv", "--threads", "2"]);
            if force {
                c.arg("--force");
            }
            c.assert()
        };
        run(false)
            .failure()
            .stderr(predicate::str::contains("bad.wav"))
            .stderr(predicate::str::contains("1 of 2 files failed"))
            .stdout(predicate::str::contains("clicks.wav:"));
        for ext in ["mid", "json", "csv"] {
            assert!(out.join(format!("clicks.{ext}")).exists());
        }
        // Second run without --force: the outputs exist, the file fails.
        run(false)
            .failure()
            .stderr(predicate::str::contains("exists already"));
        run(true)
            .failure()
            .stderr(predicate::str::contains("1 of 2 files failed"));
    }
}
