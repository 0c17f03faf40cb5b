//! Unsupervised learning actually happens: a small DrummerNet trained only by re-synthesising
//! synthetic grooves through one known kit halves its loss and places its activation peaks on
//! the true kick and snare onsets.
//!
//! The ignored `experiment` test is the harness behind `docs/training-recipe.md`: it trains any
//! configuration given in environment variables and prints held-out F1 scores.

use std::time::Instant;

use candle_core::{Device, Tensor};
use drummernet::config::Config;
use drummernet::dsp::onset_metrics::{merge_close, onset_score};
use drummernet::dsp::peak_pick::{pick_peaks, PeakPickParams};
use drummernet::groove::{generate_performance, kit_index_for_note, render};
use drummernet::groove::{GrooveSettings, Style};
use drummernet::kit::{procedural_kit, Kit};
use drummernet::model::drummernet::DrummerNet;
use drummernet::model::synthesizer::KitDraw;
use drummernet::train::trainer::{DataSpec, Training};

const SAMPLE_RATE: u32 = 16_000;
/// mir_eval's default onset tolerance.
const WINDOW: f64 = 0.05;

/// Mean of the first and last `n` losses.
fn head_tail_means(losses: &[f64], n: usize) -> (f64, f64) {
    let n = n.min(losses.len());
    let mean = |xs: &[f64]| xs.iter().sum::<f64>() / xs.len() as f64;
    (mean(&losses[..n]), mean(&losses[losses.len() - n..]))
}

/// The evaluation classes (spec section 10): KD = kick, SD = snare, HH = closed + open hi-hat.
const CLASSES: [(&str, &[&str]); 3] = [
    ("KD", &["KD_KD"]),
    ("SD", &["SD_SD"]),
    ("HH", &["HH_CHH", "HH_OHH"]),
];

/// Onset times of the notes that `kit` sounds with one of `names`.
fn reference_onsets(notes: &[drummernet::midi::MidiNote], kit: &Kit, names: &[&str]) -> Vec<f64> {
    let times: Vec<f64> = notes
        .iter()
        .filter(|n| {
            kit_index_for_note(kit, n.note)
                .is_some_and(|i| names.contains(&kit.components[i].name.as_str()))
        })
        .map(|n| n.time)
        .collect();
    merge_close(&times, WINDOW)
}

/// Activation curves of `audio` the way the release's evaluator computes them (spec section
/// 10): peak-normalised, zero-padded by the model's context on both sides, so that activation
/// frame t is groove time 16 t / 16 000 s. Returns one curve per component.
fn activation_curves(net: &DrummerNet, audio: &[f32]) -> Vec<Vec<f32>> {
    let ctx = net.context_samples();
    let mut x = vec![0.0f32; ctx];
    let peak = audio.iter().fold(0.0f32, |m, v| m.max(v.abs())).max(1e-9);
    x.extend(audio.iter().map(|v| v / peak));
    x.extend(std::iter::repeat_n(0.0, ctx));
    let len = x.len();
    let input = Tensor::from_vec(x, (1, len), &Device::Cpu).unwrap();
    let padded = net.pad(&input).unwrap();
    let activations = net.analyse(&padded).unwrap().activations;
    activations.squeeze(0).unwrap().to_vec2::<f32>().unwrap()
}

/// F1 of the KD, SD and HH classes (NaN for a class the model has no component of) on one
/// groove of `seconds` drawn with `groove_seed` and rendered through `kit`.
fn groove_f1(
    net: &DrummerNet,
    kit: &Kit,
    groove: &GrooveSettings,
    groove_seed: u64,
    seconds: f64,
) -> [f64; 3] {
    let perf = generate_performance(groove_seed, seconds, groove);
    let audio = render(&perf.notes, kit, SAMPLE_RATE, seconds);
    let components = &net.config().components;
    let hop = net.config().frame_hop();
    let curves = activation_curves(net, &audio);
    let params = PeakPickParams::default();
    CLASSES.map(|(_, names)| {
        let channels: Vec<usize> = (0..components.len())
            .filter(|&k| names.contains(&components[k].as_str()))
            .collect();
        if channels.is_empty() {
            return f64::NAN;
        }
        let curve: Vec<f32> = (0..curves[0].len())
            .map(|t| channels.iter().map(|&k| curves[k][t]).sum())
            .collect();
        let estimate: Vec<f64> = pick_peaks(&curve, hop, SAMPLE_RATE, &params)
            .iter()
            .map(|p| (p.frame * hop) as f64 / SAMPLE_RATE as f64)
            .filter(|&t| t < seconds)
            .collect();
        let truth = reference_onsets(&perf.notes, kit, names);
        onset_score(&truth, &merge_close(&estimate, WINDOW), WINDOW).f1
    })
}

const SEGMENT_SECONDS: f64 = 1.0;

/// Experiments' changes to the small configuration (`LEARN_SEGMENT`, `LEARN_CHANNELS`,
/// `LEARN_ENC`, `LEARN_BATCH`, `LEARN_LR`).
fn small_overrides(cfg: &mut Config) {
    cfg.audio.segment_seconds = env_f64("LEARN_SEGMENT", cfg.audio.segment_seconds);
    cfg.model.channels = env_usize("LEARN_CHANNELS", cfg.model.channels);
    cfg.model.first_conv_channels = cfg.model.channels;
    cfg.model.encoder_layers = env_usize("LEARN_ENC", cfg.model.encoder_layers);
    cfg.model.decoder_layers = cfg.model.encoder_layers - 4;
    cfg.train.batch_size = env_usize("LEARN_BATCH", cfg.train.batch_size);
    cfg.train.learning_rate = env_f64("LEARN_LR", cfg.train.learning_rate);
}

/// The small, fast configuration of the learning test: 4 components, 16 channels, a 6-level
/// encoder (frame hop still 16), 1-s items, simple grooves, no augmentation, lr 5e-3.
fn small_config(seed: u64, kit_seed: u64) -> Config {
    let mut cfg = Config::defaults().unwrap();
    cfg.device.threads = 0;
    cfg.audio.segment_seconds = SEGMENT_SECONDS;
    // The open hi-hat too: the grooves play it, and a model without it explains it with the snare.
    cfg.model.components = ["KD_KD", "SD_SD", "HH_CHH", "HH_OHH"]
        .map(String::from)
        .to_vec();
    cfg.model.channels = 16;
    cfg.model.first_conv_channels = cfg.model.channels;
    cfg.model.encoder_layers = 6;
    cfg.model.decoder_layers = cfg.model.encoder_layers - 4;
    cfg.train.batch_size = 4;
    cfg.train.learning_rate = 5e-3;
    cfg.train.seed = seed;
    cfg.train.synthetic_share = 1.0;
    // The groove renderer's "fresh procedural kit" branch then draws the same kit as the fixed one.
    cfg.train.procedural_seed_first = kit_seed;
    cfg.train.procedural_seed_count = 1;
    cfg.groove = simple_grooves();
    cfg.validate().unwrap();
    cfg
}

fn simple_grooves() -> GrooveSettings {
    GrooveSettings {
        // No `sparse` (its pedal hi-hat is not a model component).
        styles: vec![Style::Rock, Style::HalfTime, Style::Disco],
        bpm_min: 80.0,
        bpm_max: 140.0,
        fill_probability: 0.0,
        ride_probability: 0.0,
        tambourine_probability: 0.0,
        // Ghost notes sit ~19 dB down: below the evaluator's peak-picking threshold.
        ghost_notes: false,
        augment: drummernet::groove::AugmentSettings {
            enabled: false,
            ..Default::default()
        },
        ..GrooveSettings::default()
    }
}

fn env_f64(key: &str, default: f64) -> f64 {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn env_usize(key: &str, default: usize) -> usize {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Mean loss of the current model on `batches` (no update).
fn loss_on(training: &mut Training, batches: &[Tensor]) -> f64 {
    let total: f64 = batches
        .iter()
        .map(|b| {
            let (loss, _) = training.loss_of(b).unwrap();
            f64::from(loss.to_scalar::<f32>().unwrap())
        })
        .sum();
    total / batches.len() as f64
}

/// Trains `steps` steps and returns the losses.
fn train(training: &mut Training, steps: usize, log_every: usize) -> Vec<f64> {
    let started = Instant::now();
    (0..steps)
        .map(|i| {
            let report = training.step().unwrap();
            assert!(report.finite, "step {i}: loss {}", report.loss);
            if log_every > 0 && (i + 1) % log_every == 0 {
                eprintln!(
                    "step {:5} loss {:.4} ({:.1} s)",
                    i + 1,
                    report.loss,
                    started.elapsed().as_secs_f64()
                );
            }
            report.loss
        })
        .collect()
}

/// Steps of the learning test: 2 400 one-second items (about 2 minutes on 2 idle cores).
const TEST_STEPS: usize = 600;

#[test]
fn training_on_one_kit_halves_the_loss_and_finds_kick_and_snare_onsets() {
    let kit_seed = 7;
    let cfg = small_config(0, kit_seed);
    let kit = procedural_kit(kit_seed, cfg.kit.length_samples());
    let data = DataSpec {
        kits: vec![kit.clone()],
        ..DataSpec::default()
    };
    let mut training = Training::new(&cfg, &data, &Device::Cpu).unwrap();
    // The same batches before and after: batch-to-batch spread at batch 4 is +-20 %.
    let held: Vec<Tensor> = (0..4).map(|_| training.next_batch().unwrap()).collect();
    let before = loss_on(&mut training, &held);
    train(&mut training, TEST_STEPS, 0);
    let after = loss_on(&mut training, &held);
    assert!(
        after <= 0.5 * before,
        "loss on fixed batches fell only from {before:.3} to {after:.3} in {TEST_STEPS} steps"
    );
    // Three 8-s grooves of the training distribution, with seeds the item source does not use.
    // An 8-s groove has only 4-9 snare hits, so one miss moves its F1 by ~0.1: the snare is
    // judged on the mean; every groove's kick must pass on its own.
    let mut groove = cfg.groove.clone();
    groove.augment.enabled = false;
    let scores: Vec<[f64; 3]> = (1000..1003)
        .map(|seed| groove_f1(training.model(), &kit, &groove, seed, 8.0))
        .collect();
    let mean = mean_f1(&scores);
    assert!(
        scores.iter().all(|f1| f1[0] >= 0.9) && mean[1] >= 0.9,
        "KD/SD/HH F1 after training: {scores:.3?}"
    );
}

fn env_str(key: &str, default: &str) -> String {
    std::env::var(key).unwrap_or_else(|_| default.to_string())
}

/// The default (release-size) model on default synthetic grooves with a pool of procedural
/// kits, for the recipe experiments: `LEARN_BATCH`, `LEARN_LR`, `LEARN_DRAW`, `LEARN_POOL`.
fn full_config(seed: u64) -> Config {
    let mut cfg = Config::defaults().unwrap();
    cfg.train.batch_size = env_usize("LEARN_BATCH", 16);
    cfg.train.learning_rate = env_f64("LEARN_LR", 4e-4);
    cfg.train.seed = seed;
    cfg.synth.draw = match env_str("LEARN_DRAW", "percomponent").as_str() {
        "perbatch" => KitDraw::PerBatch,
        _ => KitDraw::PerComponent,
    };
    cfg.validate().unwrap();
    cfg
}

fn mean_f1(scores: &[[f64; 3]]) -> [f64; 3] {
    let n = scores.len() as f64;
    [0, 1, 2].map(|c| scores.iter().map(|s| s[c]).sum::<f64>() / n)
}

#[test]
#[ignore = "experiment harness: configure with LEARN_* variables, run with --ignored --nocapture"]
fn experiment() {
    let seed = env_usize("LEARN_SEED", 0) as u64;
    let steps = env_usize("LEARN_STEPS", 300);
    let full = env_str("LEARN_MODE", "small") == "full";
    let kit_seed = env_usize("LEARN_KIT", 7) as u64;
    let (mut cfg, data, eval_kits) = if full {
        let cfg = full_config(seed);
        let data = DataSpec {
            procedural_kits: env_usize("LEARN_POOL", 16),
            ..DataSpec::default()
        };
        // Seeds below train.procedural_seed_first (1000) are never trained on.
        let held_out: Vec<Kit> = (1..=3)
            .map(|s| procedural_kit(s, cfg.kit.length_samples()))
            .collect();
        (cfg, data, held_out)
    } else {
        let mut cfg = small_config(seed, kit_seed);
        small_overrides(&mut cfg);
        let kit = procedural_kit(kit_seed, cfg.kit.length_samples());
        let data = DataSpec {
            kits: vec![kit.clone()],
            ..DataSpec::default()
        };
        (cfg, data, vec![kit])
    };
    if let Ok(styles) = std::env::var("LEARN_STYLES") {
        cfg.groove.styles = styles.split(',').map(|s| s.parse().unwrap()).collect();
    }
    if std::env::var("LEARN_RECURRENT").is_ok_and(|v| v == "conv") {
        cfg.model.recurrent = drummernet::model::config::RecurrentKind::Conv;
    }
    eprintln!(
        "mode {} steps {steps} batch {} lr {} draw {:?} segment {} s threads {:?}",
        if full { "full" } else { "small" },
        cfg.train.batch_size,
        cfg.train.learning_rate,
        cfg.synth.draw,
        cfg.audio.segment_seconds,
        std::env::var("RAYON_NUM_THREADS").ok()
    );
    let mut training = Training::new(&cfg, &data, &Device::Cpu).unwrap();
    let held: Vec<Tensor> = (0..4).map(|_| training.next_batch().unwrap()).collect();
    let before = loss_on(&mut training, &held);
    let mut eval_groove = cfg.groove.clone();
    eval_groove.augment.enabled = false;
    let evaluate = |training: &Training| {
        let mut scores = Vec::new();
        for kit in &eval_kits {
            for g in 0..3 {
                scores.push(groove_f1(
                    training.model(),
                    kit,
                    &eval_groove,
                    1000 + g,
                    8.0,
                ));
            }
        }
        scores
    };
    let every = env_usize("LEARN_EVAL_EVERY", steps).max(1);
    let started = Instant::now();
    let mut losses = Vec::new();
    let mut scores = Vec::new();
    while losses.len() < steps {
        let chunk = every.min(steps - losses.len());
        losses.extend(train(&mut training, chunk, env_usize("LEARN_LOG", 25)));
        let seconds = started.elapsed().as_secs_f64();
        let after = loss_on(&mut training, &held);
        scores = evaluate(&training);
        eprintln!(
            "after {} steps ({seconds:.0} s, {:.2} items/s): held-out batch loss {before:.3} -> \
             {after:.3} (ratio {:.3}); KD/SD/HH F1 mean {:.3?} min {:.3?}",
            losses.len(),
            (losses.len() * cfg.train.batch_size) as f64 / seconds,
            after / before,
            mean_f1(&scores),
            [0, 1, 2].map(|c| scores.iter().map(|s| s[c]).fold(f64::INFINITY, f64::min)),
        );
    }
    let (first, last) = head_tail_means(&losses, 5);
    eprintln!("first losses {:.3?}", &losses[..5.min(steps)]);
    eprintln!("training loss mean of first/last 5 steps {first:.4} -> {last:.4}");
    for s in &scores {
        eprintln!("KD/SD/HH F1 {s:.3?}");
    }
    eprintln!("mean KD/SD/HH F1 {:.3?}", mean_f1(&scores));
}
