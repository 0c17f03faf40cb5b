//! Model files given to `transcribe --model`, `eval --model` and the workbench, and session
//! files given to `train --resume`: each bad one is a one-line error naming it, and nothing
//! is written or changed.

use std::path::{Path, PathBuf};
use std::time::Duration;

use candle_core::{DType, Device, Tensor};

use drummernet::atomic_file::Overwrite;
use drummernet::audio::playback::NoSink;
use drummernet::config::Config;
use drummernet::model::drummernet::save_model;
use drummernet::model::file::{model_metadata, save_tensor_file, MODEL_FORMAT};
use drummernet::model::ModelConfig;
use drummernet::tui::{Action, App, AppOptions};

use super::common::{
    bundled_model, drummernet, permissions_apply, run, set_mode, snapshot, unchanged,
};
use super::corpus::reference_wav;

fn small_config() -> ModelConfig {
    ModelConfig {
        channels: 4,
        first_conv_channels: 4,
        ..ModelConfig::default()
    }
}

fn small_tensors(cfg: &ModelConfig) -> Vec<(String, Tensor)> {
    let map = candle_nn::VarMap::new();
    let vb = drummernet::model::seeded_init::SeededVarMap::var_builder(
        &map,
        3,
        DType::F32,
        &Device::Cpu,
    );
    drummernet::model::drummernet::DrummerNet::new(cfg, vb).expect("model");
    let data = map.data().lock().expect("lock");
    data.iter()
        .map(|(n, v)| (n.clone(), v.as_tensor().clone()))
        .collect()
}

/// (file name, expected text) of every bad model file, written into `dir`.
fn bad_models(dir: &Path) -> Vec<(PathBuf, &'static str)> {
    let bundled = std::fs::read(bundled_model()).expect("bundled model");
    let mut out = Vec::new();
    let mut add = |name: &str, bytes: Option<Vec<u8>>, needle: &'static str| {
        let p = dir.join(name);
        if let Some(b) = bytes {
            std::fs::write(&p, b).expect("write");
        }
        out.push((p, needle));
    };
    add(
        "truncated.safetensors",
        Some(bundled[..bundled.len() / 2].to_vec()),
        "truncated or corrupt",
    );
    let mut garbled = bundled.clone();
    garbled[8..60].fill(b'#');
    add(
        "garbled_header.safetensors",
        Some(garbled),
        "truncated or corrupt",
    );
    add(
        "empty.safetensors",
        Some(Vec::new()),
        "truncated or corrupt",
    );
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.extend(std::iter::repeat_n(7u8, 100));
    add("image.safetensors", Some(png), "truncated or corrupt");
    std::fs::create_dir_all(dir.join("folder.safetensors")).expect("mkdir");
    add("folder.safetensors", None, "is a directory");
    add("missing.safetensors", None, "no such file");

    // Tensors of a 4-channel model under metadata that says 8 channels.
    let cfg = small_config();
    let tensors = small_tensors(&cfg);
    let claimed = ModelConfig {
        channels: 8,
        ..cfg.clone()
    };
    save_model(
        &dir.join("other_config.safetensors"),
        &claimed,
        &tensors,
        &[],
        Overwrite::Allow,
    )
    .expect("save");
    add(
        "other_config.safetensors",
        None,
        "made with a different configuration",
    );
    // Metadata asking for the largest model the config allows, over a tiny file: refused
    // without allocating its weights.
    let huge = ModelConfig {
        channels: 1024,
        first_conv_channels: 1024,
        kernel_size: 63,
        encoder_layers: 14,
        decoder_layers: 13,
        ..cfg.clone()
    };
    save_model(
        &dir.join("huge_claim.safetensors"),
        &huge,
        &tensors,
        &[],
        Overwrite::Allow,
    )
    .expect("save");
    add(
        "huge_claim.safetensors",
        None,
        "made with a different configuration",
    );
    let nan: Vec<(String, Tensor)> = tensors
        .iter()
        .map(|(n, t)| {
            let t = if n.ends_with("last_conv.bias") {
                (t * f64::NAN).expect("nan")
            } else {
                t.clone()
            };
            (n.clone(), t)
        })
        .collect();
    save_model(
        &dir.join("nan_weights.safetensors"),
        &cfg,
        &nan,
        &[],
        Overwrite::Allow,
    )
    .expect("save");
    add("nan_weights.safetensors", None, "NaN or infinite");
    let mut meta = model_metadata(&cfg, MODEL_FORMAT).expect("meta");
    meta.insert("format".into(), "someone-elses-model/3".into());
    save_tensor_file(
        &dir.join("foreign.safetensors"),
        &tensors,
        meta,
        Overwrite::Allow,
    )
    .expect("save");
    add("foreign.safetensors", None, "not a drummernet model");
    out
}

#[test]
fn bad_model_files_through_transcribe_eval_and_the_workbench() {
    let dir = tempfile::tempdir().expect("tempdir");
    let models = dir.path().join("models");
    std::fs::create_dir(&models).expect("mkdir");
    let input = reference_wav(dir.path());
    let (gt, audio) = (dir.path().join("gt"), dir.path().join("audio"));
    std::fs::create_dir(&gt).expect("mkdir");
    std::fs::create_dir(&audio).expect("mkdir");
    std::fs::write(gt.join("reference.txt"), "0.013\tKD\n").expect("gt");
    std::fs::copy(&input, audio.join("reference.wav")).expect("copy");
    for (model, needle) in bad_models(&models) {
        let name = model
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        let out = dir.path().join("out");
        std::fs::create_dir_all(&out).expect("out");
        let before = snapshot(dir.path());
        let ran = run(drummernet()
            .arg("transcribe")
            .arg(&input)
            .arg("--model")
            .arg(&model)
            .arg("--out")
            .arg(&out));
        let line = ran.one_line_error(&[&name, needle]);
        unchanged(dir.path(), &before, &name);
        let ran = run(drummernet()
            .args(["eval", "--gt"])
            .arg(&gt)
            .arg("--model")
            .arg(&model)
            .arg("--audio")
            .arg(&audio)
            .arg("--json")
            .arg(out.join("eval.json")));
        ran.one_line_error(&[&name, needle]);
        unchanged(dir.path(), &before, &name);

        let mut opts = AppOptions::new(Config::defaults().expect("config"));
        opts.kit = Some("procedural:0".into());
        opts.sessions_dir = dir.path().join("sessions");
        opts.model = Some(model.clone());
        let mut app = App::new(opts, Box::new(NoSink("test".into())));
        app.act(Action::OpenPath(input.clone()));
        assert!(app.wait_idle(Duration::from_secs(60)));
        app.act(Action::Transcribe);
        assert!(app.wait_idle(Duration::from_secs(60)));
        let (is_error, message) = (app.status().is_error(), app.status().message());
        assert!(
            is_error
                && message.contains(&name)
                && message.to_lowercase().contains(&needle.to_lowercase()),
            "workbench with {name}: {message}"
        );
        println!(
            "| {name} | {} |",
            line.replace(&model.display().to_string(), &name)
        );
    }
}

// ---- sessions ---------------------------------------------------------------------------

/// `--set` options of the tiny, fast training configuration every session test uses.
pub const TINY_TRAIN_SETTINGS: [&str; 8] = [
    "--set",
    "model.channels=4",
    "--set",
    "model.first_conv_channels=4",
    "--set",
    "train.batch_size=1",
    "--set",
    "audio.segment_seconds=0.8",
];

pub fn tiny_train(sessions: &Path) -> assert_cmd::Command {
    let mut cmd = drummernet();
    cmd.args(TINY_TRAIN_SETTINGS);
    cmd.args([
        "train",
        "--procedural-kits",
        "1",
        "--threads",
        "2",
        "--sessions-dir",
    ])
    .arg(sessions);
    cmd
}

pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read_dir").flatten() {
        std::fs::copy(e.path(), to.join(e.file_name())).expect("copy");
    }
}

#[test]
fn bad_session_files_are_refused_and_left_as_they_were() {
    let dir = tempfile::tempdir().expect("tempdir");
    let trained = dir.path().join("trained");
    tiny_train(&trained)
        .args(["--steps", "2", "--session", "s"])
        .assert()
        .success();
    let good = trained.join("s");
    assert!(good.join("latest.safetensors").is_file());

    let case = |name: &str, damage: &dyn Fn(&Path), needles: &[&str]| {
        let sessions = dir.path().join(name);
        copy_dir(&good, &sessions.join("s"));
        damage(&sessions.join("s"));
        let before = snapshot(&sessions);
        let ran = run(tiny_train(&sessions).args(["--steps", "4", "--resume", "--session", "s"]));
        let line = ran.one_line_error(needles);
        unchanged(&sessions, &before, name);
        println!("| {name} | {line} |");
    };
    case(
        "no_latest",
        &|s| std::fs::remove_file(s.join("latest.safetensors")).expect("rm"),
        &["latest.safetensors", "cannot resume"],
    );
    case(
        "truncated_latest",
        &|s| {
            let p = s.join("latest.safetensors");
            let b = std::fs::read(&p).expect("read");
            std::fs::write(&p, &b[..b.len() - 1000]).expect("write");
        },
        &["latest.safetensors", "truncated or corrupt"],
    );
    case(
        "model_file_as_latest",
        &|s| {
            std::fs::copy(bundled_model(), s.join("latest.safetensors")).expect("copy");
        },
        &["latest.safetensors", "different model configuration"],
    );
    case(
        "latest_is_a_folder",
        &|s| {
            std::fs::remove_file(s.join("latest.safetensors")).expect("rm");
            std::fs::create_dir(s.join("latest.safetensors")).expect("mkdir");
        },
        &["latest.safetensors", "directory"],
    );
    if permissions_apply() {
        let sessions = dir.path().join("read_only");
        copy_dir(&good, &sessions.join("s"));
        set_mode(&sessions.join("s"), 0o555);
        let before = snapshot(&sessions);
        let ran = run(tiny_train(&sessions).args(["--steps", "4", "--resume", "--session", "s"]));
        set_mode(&sessions.join("s"), 0o755);
        let line = ran.one_line_error(&["permission denied"]);
        assert!(
            line.contains(&sessions.join("s").display().to_string()),
            "{line}"
        );
        unchanged(&sessions, &before, "read-only session");
    }
}
