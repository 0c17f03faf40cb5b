//! The speed benchmark (issue 7): training items/s at batch 16 and 4, inference real-time factor
//! on 60-s and 10-minute inputs, the forward/backward time of every module, the loss with its
//! HPSS front end off and on, and peak resident memory per scenario.
//!
//! Run: `cargo bench --bench speed` (all scenarios) or `cargo bench --bench speed -- train_b16
//! infer_60s` (some). `SPEED_RUNS=n` changes the number of timed runs; `RAYON_NUM_THREADS=1`
//! measures one thread. Every scenario runs in its own child process (this binary re-executed
//! with `--scenario NAME`) so that each peak RSS (`VmHWM`) belongs to one scenario only.
//!
//! Output: one line per figure, `speed <scenario> <metric> <value> <unit>`, columns fixed, so
//! `grep '^speed'` output of two commits can be diffed. Release build, fixed seeds, warm-up runs
//! excluded, medians of the timed runs; CPU time (all threads, from /proc/self/stat) is printed
//! next to wall time because the machine may be shared.

use std::process::{Command, ExitCode};
use std::time::Instant;

use candle_core::{DType, Device, Tensor, Var};
use candle_nn::VarMap;

use drummernet::atomic_file::Overwrite;
use drummernet::audio::{write_wav, WavFormat, SAMPLE_RATE};
use drummernet::config::Config;
use drummernet::kit::procedural::procedural_kit;
use drummernet::model::drummernet::{save_model, DrummerNet};
use drummernet::model::loss::CqtLoss;
use drummernet::model::recurrent::Recurrent;
use drummernet::model::seeded_init::SeededVarMap;
use drummernet::model::sparsemax::SparseBranches;
use drummernet::model::synthesizer::{KitPool, Synthesizer};
use drummernet::model::unet::{
    InferenceUnet, InferenceWorkspace, TrainingWorkspace, Unet, UnetPlan,
};
use drummernet::train::adam::{Adam, AdamParams};
use drummernet::train::trainer::{DataSpec, Training};
use drummernet::transcribe::transcribe_file;

type Res<T> = std::result::Result<T, Box<dyn std::error::Error>>;

const FORMAT_VERSION: u32 = 1;
const SEED: u64 = 7;
const SCENARIOS: [&str; 10] = [
    "train_b16",
    "train_b4",
    "split_b16",
    "loss_hpss",
    "infer_60s",
    "infer_600s",
    "infer_model_hh_60",
    "infer_split",
    "transcribe_split",
    "loss_chart",
];

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(i) = args.iter().position(|a| a == "--scenario") {
        let Some(name) = args.get(i + 1) else {
            eprintln!("--scenario needs a name");
            return ExitCode::FAILURE;
        };
        return match run_scenario(name) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("speed: scenario {name} failed: {e}");
                ExitCode::FAILURE
            }
        };
    }
    // cargo passes `--bench`; any other word selects scenarios.
    let chosen: Vec<&str> = args
        .iter()
        .filter(|a| !a.starts_with('-'))
        .map(String::as_str)
        .collect();
    for name in &chosen {
        if !SCENARIOS.contains(name) {
            eprintln!("unknown scenario {name}; known: {}", SCENARIOS.join(" "));
            return ExitCode::FAILURE;
        }
    }
    print_header();
    let mut ok = true;
    for name in SCENARIOS {
        if !chosen.is_empty() && !chosen.contains(&name) {
            continue;
        }
        ok &= run_child(name);
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn print_header() {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!(
        "# drummernet speed v{FORMAT_VERSION} | cpu {cpu} | cores {cores} | threads {} | runs {}",
        rayon::current_num_threads(),
        runs()
    );
    println!("# columns: speed <scenario> <metric> <value> <unit>");
}

fn run_child(name: &str) -> bool {
    let exe = match std::env::current_exe() {
        Ok(e) => e,
        Err(e) => {
            eprintln!("speed: cannot find own executable: {e}");
            return false;
        }
    };
    match Command::new(exe).args(["--scenario", name]).status() {
        Ok(s) if s.success() => true,
        Ok(s) => {
            eprintln!("speed: scenario {name} exited with {s}");
            false
        }
        Err(e) => {
            eprintln!("speed: cannot start scenario {name}: {e}");
            false
        }
    }
}

fn runs() -> usize {
    std::env::var("SPEED_RUNS")
        .ok()
        .and_then(|s| s.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(5)
}

fn emit(scenario: &str, metric: &str, value: f64, unit: &str) {
    println!("speed {scenario:<11} {metric:<24} {value:>12.4} {unit}");
}

/// CPU seconds (user + system, all threads) used by this process so far.
fn cpu_seconds() -> f64 {
    const TICKS_PER_SECOND: f64 = 100.0;
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return f64::NAN;
    };
    // The command name may contain spaces; the fields after its closing parenthesis do not.
    let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
        return f64::NAN;
    };
    let f: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the full line, 12 and 13 after the name.
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok());
    match (ticks(11), ticks(12)) {
        (Some(u), Some(s)) => (u + s) / TICKS_PER_SECOND,
        _ => f64::NAN,
    }
}

/// Peak resident set size of this process in MB (VmHWM).
fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => 0.5 * (v[n / 2 - 1] + v[n / 2]),
    }
}

/// Wall and CPU seconds of one call.
fn timed<T>(f: impl FnOnce() -> Res<T>) -> Res<(T, f64, f64)> {
    let (c0, t0) = (cpu_seconds(), Instant::now());
    let out = f()?;
    Ok((out, t0.elapsed().as_secs_f64(), cpu_seconds() - c0))
}

fn run_scenario(name: &str) -> Res<()> {
    match name {
        "train_b16" => train(name, 16)?,
        "train_b4" => train(name, 4)?,
        "split_b16" => split(name, 16)?,
        "loss_hpss" => loss_hpss(name, 16)?,
        "infer_60s" => infer(name, 60.0)?,
        "infer_600s" => infer(name, 600.0)?,
        "infer_model_hh_60" => infer(name, 60.0)?,
        "infer_split" => infer_split(name)?,
        "transcribe_split" => transcribe_split(name)?,
        #[cfg(feature = "tui")]
        "loss_chart" => loss_chart(name)?,
        #[cfg(not(feature = "tui"))]
        "loss_chart" => eprintln!("speed: loss_chart skipped: built without the `tui` feature"),
        other => return Err(format!("unknown scenario {other}").into()),
    }
    emit(name, "peak_rss", peak_rss_mb(), "MB");
    Ok(())
}

fn config(batch: usize) -> Res<Config> {
    let mut cfg = Config::defaults()?;
    cfg.train.batch_size = batch;
    cfg.train.seed = SEED;
    Ok(cfg)
}

fn training(batch: usize) -> Res<Training> {
    let data = DataSpec {
        procedural_kits: 4,
        ..DataSpec::default()
    };
    Ok(Training::new(&config(batch)?, &data, &Device::Cpu)?)
}

/// Whole optimizer steps through `Training::step` (data generation included), as `train` runs.
fn train(scenario: &str, batch: usize) -> Res<()> {
    let mut t = training(batch)?;
    for _ in 0..2 {
        t.step()?;
    }
    let (mut walls, mut cpus) = (Vec::new(), Vec::new());
    for _ in 0..runs() {
        let (_, wall, cpu) = timed(|| Ok(t.step()?))?;
        walls.push(wall);
        cpus.push(cpu);
    }
    let wall = median(walls);
    emit(scenario, "items_per_s", batch as f64 / wall, "items/s");
    emit(scenario, "step_wall", wall, "s");
    let cpu = median(cpus);
    emit(scenario, "step_cpu", cpu, "s");
    // Load-insensitive figure for a shared machine: items per second of CPU time.
    emit(
        scenario,
        "items_per_cpu_s",
        batch as f64 / cpu,
        "items/cpu-s",
    );
    Ok(())
}

/// The modules one by one at training shapes: each forward with autograd on, then the backward
/// of a sum over its output (upstream modules cut off with fresh variables), then one Adam step.
fn split(scenario: &str, batch: usize) -> Res<()> {
    let cfg = config(batch)?;
    let dev = Device::Cpu;
    let audio = training(batch)?.next_batch()?;
    let varmap = VarMap::new();
    let vb = SeededVarMap::var_builder(&varmap, SEED, DType::F32, &dev);
    let net = DrummerNet::new(&cfg.model, vb.clone())?;
    let unet = Unet::new(&cfg.model, vb.pp("unet"))?;
    let recurrent = Recurrent::new(&cfg.model, vb.pp("recurrent"))?;
    let branches = SparseBranches::new(&cfg.model);
    let kits: Vec<_> = (0..4)
        .map(|s| procedural_kit(1000 + s, cfg.kit.length_samples()))
        .collect();
    let pool = KitPool::new(&kits, &cfg.model.components, &cfg.synth, &dev)?;
    let synth = Synthesizer::new(cfg.model.frame_hop(), cfg.synth.norm);
    let loss = CqtLoss::new(&cfg.loss, &dev)?;
    let mut rng = <rand_chacha::ChaCha8Rng as rand::SeedableRng>::seed_from_u64(SEED);
    let waveforms = pool.draw(&mut rng, cfg.synth.draw)?;
    let padded = net.pad(&audio)?;
    let x = padded.unsqueeze(1)?;
    let unet_ws = TrainingWorkspace::default();

    let names = [
        "unet",
        "recurrent",
        "sparsemax",
        "synth",
        "loss",
        "optimizer",
    ];
    let mut fwd: Vec<Vec<(f64, f64)>> = vec![Vec::new(); names.len()];
    let mut bwd: Vec<Vec<(f64, f64)>> = vec![Vec::new(); names.len()];
    let mut record = |i: usize, warm: bool, f: (f64, f64), b: (f64, f64)| {
        if !warm {
            fwd[i].push(f);
            bwd[i].push(b);
        }
    };
    for run in 0..runs() + 1 {
        let warm = run == 0;
        let (r, fw, fc) = timed(|| Ok(unet.forward_fused(&x, &unet_ws)?))?;
        let (_, bw, bc) = timed(|| Ok(r.sum_all()?.backward()?))?;
        record(0, warm, (fw, fc), (bw, bc));

        let r = Var::from_tensor(&r.detach())?;
        let (dense, fw, fc) = timed(|| Ok(recurrent.forward(r.as_tensor())?))?;
        let (_, bw, bc) = timed(|| Ok(dense.sum_all()?.backward()?))?;
        record(1, warm, (fw, fc), (bw, bc));

        let dense = Var::from_tensor(&dense.detach())?;
        let (act, fw, fc) = timed(|| Ok(branches.forward(dense.as_tensor())?))?;
        let (_, bw, bc) = timed(|| Ok(act.sum_all()?.backward()?))?;
        record(2, warm, (fw, fc), (bw, bc));

        let act = Var::from_tensor(&act.detach())?;
        let frames = act.dim(2)?;
        let (est, fw, fc) = timed(|| Ok(synth.forward(act.as_tensor(), &waveforms)?))?;
        let (_, bw, bc) = timed(|| Ok(est.sum_all()?.backward()?))?;
        record(3, warm, (fw, fc), (bw, bc));

        let est = Var::from_tensor(&est.detach())?;
        let target = net.aligned_target(&padded, frames)?;
        let (l, fw, fc) = timed(|| Ok(loss.forward(&target, est.as_tensor())?.total))?;
        let (_, bw, bc) = timed(|| Ok(l.backward()?))?;
        record(4, warm, (fw, fc), (bw, bc));
    }
    for (i, name) in names.iter().enumerate().take(5) {
        let med =
            |v: &[(f64, f64)], pick: fn(&(f64, f64)) -> f64| median(v.iter().map(pick).collect());
        emit(
            scenario,
            &format!("{name}_fwd_wall"),
            med(&fwd[i], |p| p.0),
            "s",
        );
        emit(
            scenario,
            &format!("{name}_fwd_cpu"),
            med(&fwd[i], |p| p.1),
            "s",
        );
        emit(
            scenario,
            &format!("{name}_bwd_wall"),
            med(&bwd[i], |p| p.0),
            "s",
        );
        emit(
            scenario,
            &format!("{name}_bwd_cpu"),
            med(&bwd[i], |p| p.1),
            "s",
        );
    }

    // Adam over every model parameter, with the gradients of one whole forward/backward.
    let mut vars: Vec<(String, Var)> = varmap
        .data()
        .lock()
        .map_err(|_| "variable map lock poisoned")?
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    vars.sort_by(|a, b| a.0.cmp(&b.0));
    let analysis = net.analyse(&padded)?;
    let est = synth.forward(&analysis.activations, &waveforms)?;
    let target = net.aligned_target(&padded, analysis.activations.dim(2)?)?;
    let grads = loss.forward(&target, &est)?.total.backward()?;
    let mut adam = Adam::new(
        vars,
        AdamParams {
            lr: 1e-4,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
        },
    )?;
    adam.step(&grads)?;
    let (mut walls, mut cpus) = (Vec::new(), Vec::new());
    for _ in 0..runs() {
        let (_, w, c) = timed(|| Ok(adam.step(&grads)?))?;
        walls.push(w);
        cpus.push(c);
    }
    emit(scenario, "optimizer_wall", median(walls), "s");
    emit(scenario, "optimizer_cpu", median(cpus), "s");
    Ok(())
}

/// The loss alone at training shapes (x_trim against another batch's x_trim, 24 608 samples per
/// item), forward and backward, with the HPSS front end (`loss.hpss`) off and then on.
fn loss_hpss(scenario: &str, batch: usize) -> Res<()> {
    let cfg = config(batch)?;
    let dev = Device::Cpu;
    let varmap = VarMap::new();
    let net = DrummerNet::new(
        &cfg.model,
        SeededVarMap::var_builder(&varmap, SEED, DType::F32, &dev),
    )?;
    let mut data = training(batch)?;
    let padded = net.pad(&data.next_batch()?)?;
    let frames = net.output_frames(padded.dim(1)?);
    let target = net.aligned_target(&padded, frames)?;
    let other = net.pad(&data.next_batch()?)?;
    let estimate = Var::from_tensor(&net.aligned_target(&other, frames)?)?;
    for (label, hpss) in [("off", false), ("on", true)] {
        let mut settings = cfg.loss.clone();
        settings.hpss = hpss;
        let loss = CqtLoss::new(&settings, &dev)?;
        let (mut walls, mut cpus) = (Vec::new(), Vec::new());
        for run in 0..runs() + 1 {
            let (_, wall, cpu) = timed(|| {
                let out = loss.forward(&target, estimate.as_tensor())?;
                Ok(out.total.backward()?)
            })?;
            if run > 0 {
                walls.push(wall);
                cpus.push(cpu);
            }
        }
        emit(
            scenario,
            &format!("hpss_{label}_fwd_bwd_wall"),
            median(walls),
            "s",
        );
        emit(
            scenario,
            &format!("hpss_{label}_fwd_bwd_cpu"),
            median(cpus),
            "s",
        );
    }
    Ok(())
}

/// Inference real-time factor on `seconds` of synthetic drums: the product's own path
/// (`transcribe_file`: decode a 16-bit WAV twice, chunked batched inference, peak picking) with
/// a model loaded from a file and the default `[inference]` settings.
fn infer(scenario: &str, seconds: f64) -> Res<()> {
    let mut cfg = config(16)?;
    if scenario.starts_with("infer_model_hh") {
        // Hi-hats from the model's curves, as the release: no pass over the input for the
        // high-band flux (an FFT per 1-ms frame), which the default makes.
        cfg.inference.passes.hihat_onsets.enabled = false;
    }
    let dir = tempfile::tempdir()?;
    let model_path = dir.path().join("bench.safetensors");
    {
        let t = training(16)?;
        save_model(
            &model_path,
            &cfg.model,
            &t.model_tensors(),
            &[],
            Overwrite::Allow,
        )?;
    }
    let model = DrummerNet::load(&model_path, &Device::Cpu)?;
    let want = (seconds * SAMPLE_RATE as f64) as usize;
    // 32 s of distinct material, repeated: content does not change the cost.
    let block = training(16)?
        .next_batch()?
        .flatten_all()?
        .to_vec1::<f32>()?;
    let write = |name: &str, len: usize| -> Res<std::path::PathBuf> {
        let path = dir.path().join(name);
        let audio: Vec<f32> = block.iter().cycle().take(len).map(|v| v * 0.5).collect();
        write_wav(
            &path,
            &audio,
            SAMPLE_RATE,
            WavFormat::Pcm16,
            Overwrite::Allow,
        )?;
        Ok(path)
    };
    let warm_up = write("warm_up.wav", 20 * SAMPLE_RATE as usize)?;
    let input = write("input.wav", want)?;
    let run = |path: &std::path::Path| {
        transcribe_file(
            &model,
            &Device::Cpu,
            path,
            &cfg.inference,
            &cfg.midi,
            &|_| {},
        )
    };
    run(&warm_up)?;
    let timed_runs = if seconds > 100.0 { 1 } else { runs().min(3) };
    let (mut walls, mut cpus) = (Vec::new(), Vec::new());
    let mut frames = 0;
    for _ in 0..timed_runs {
        let (t, w, c) = timed(|| Ok(run(&input)?))?;
        frames = t.activations.first().map_or(0, Vec::len);
        walls.push(w);
        cpus.push(c);
    }
    let wall = median(walls);
    emit(scenario, "realtime_factor", seconds / wall, "x");
    emit(scenario, "wall", wall, "s");
    let cpu = median(cpus);
    emit(scenario, "cpu", cpu, "s");
    // Load-insensitive figure: seconds of audio per second of CPU time.
    emit(scenario, "audio_s_per_cpu_s", seconds / cpu, "x");
    emit(scenario, "frames", frames as f64, "frames");
    Ok(())
}

/// One inference window of the default `[inference]` plan (10 s kept + context), module by
/// module without autograd: where a transcription's time goes. `unet` is the fused training
/// op's forward, `unet_inference` the inference path `transcribe` uses.
fn infer_split(scenario: &str) -> Res<()> {
    let cfg = config(1)?;
    let dev = Device::Cpu;
    let varmap = VarMap::new();
    let vb = SeededVarMap::var_builder(&varmap, SEED, DType::F32, &dev);
    let net = DrummerNet::new(&cfg.model, vb.clone())?;
    let unet = Unet::new(&cfg.model, vb.pp("unet"))?;
    let recurrent = Recurrent::new(&cfg.model, vb.pp("recurrent"))?;
    let branches = SparseBranches::new(&cfg.model);
    let runner = drummernet::transcribe::NetRunner::new(&net, dev.clone());
    let plan = drummernet::transcribe::chunked::ChunkPlan::new(
        &runner,
        &cfg.inference,
        SAMPLE_RATE,
        600 * SAMPLE_RATE as usize,
    );
    let len = plan.window_len;
    let block = training(16)?
        .next_batch()?
        .flatten_all()?
        .to_vec1::<f32>()?;
    let audio: Vec<f32> = block.iter().cycle().take(len).copied().collect();
    let x = Tensor::from_slice(&audio, (1, 1, len), &dev)?;
    let fast_unet = InferenceUnet::of(&unet)?;
    let mut workspace = InferenceWorkspace::default();
    let unet_ws = TrainingWorkspace::default();
    let names = ["unet", "recurrent", "sparsemax", "unet_inference"];
    let mut walls: Vec<Vec<f64>> = vec![Vec::new(); names.len()];
    let mut cpus: Vec<Vec<f64>> = vec![Vec::new(); names.len()];
    for run in 0..runs() + 1 {
        let (r, w0, c0) = timed(|| Ok(unet.forward_fused(&x, &unet_ws)?))?;
        let (dense, w1, c1) = timed(|| Ok(recurrent.forward(&r)?))?;
        let (_, w2, c2) = timed(|| Ok(branches.forward(&dense)?.to_vec3::<f32>()?))?;
        let (_, w3, c3) = timed(|| Ok(fast_unet.forward(&audio, &mut workspace)?))?;
        if run > 0 {
            for (i, (w, c)) in [(w0, c0), (w1, c1), (w2, c2), (w3, c3)]
                .into_iter()
                .enumerate()
            {
                walls[i].push(w);
                cpus[i].push(c);
            }
        }
    }
    emit(
        scenario,
        "window_seconds",
        len as f64 / SAMPLE_RATE as f64,
        "s",
    );
    for (i, name) in names.iter().enumerate() {
        emit(
            scenario,
            &format!("{name}_wall"),
            median(walls[i].clone()),
            "s",
        );
        emit(
            scenario,
            &format!("{name}_cpu"),
            median(cpus[i].clone()),
            "s",
        );
    }
    // The inference U-Net against what this machine's GEMM (the code the convolutions call, at
    // this process's `DRUMMERNET_SIMD` level, on every thread) reaches on a large square
    // product: the bound the speed issue asks the U-Net to approach.
    let flops = UnetPlan::new(unet.shape(), len)?.flops();
    let unet_gflops = flops / median(walls[3].clone()) / 1e9;
    let machine = drummernet::model::ops::matmul::gemm_gflops(2048);
    emit(scenario, "unet_inference_gflops", unet_gflops, "GFLOP/s");
    emit(scenario, "gemm_gflops", machine, "GFLOP/s");
    emit(
        scenario,
        "unet_share_of_gemm",
        unet_gflops / machine,
        "ratio",
    );
    Ok(())
}

/// Where a transcription's time goes, stage by stage, on real drums (two development-set clips
/// joined into 60 s, `SPEED_AUDIO` names another file): each stage of `transcribe_file` run on
/// its own, in the order the product runs them (the product overlaps the audio features with the
/// model on a thread beside it; here they are apart, so each figure is that stage's alone), with
/// the default settings and the bundled model.
fn transcribe_split(scenario: &str) -> Res<()> {
    use drummernet::audio::MonoReader;
    use drummernet::transcribe::{chunked, high_band, resynthesis, StemAnalysis};

    let cfg = Config::defaults()?;
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir()?;
    let input = match std::env::var_os("SPEED_AUDIO") {
        Some(p) => std::path::PathBuf::from(p),
        None => {
            let clips = root.join("../shared/eval-dev/audio");
            let mut audio = Vec::new();
            for name in [
                "dtd_01_rock_dn_logic_12.wav",
                "dtp_10_fills_dn_logic_12.wav",
            ] {
                audio.extend(drummernet::audio::load_mono(
                    &clips.join(name),
                    SAMPLE_RATE,
                )?);
            }
            let path = dir.path().join("drums_60s.wav");
            write_wav(
                &path,
                &audio,
                SAMPLE_RATE,
                WavFormat::Pcm16,
                Overwrite::Allow,
            )?;
            path
        }
    };
    let model = DrummerNet::load(&root.join(drummernet::assets::BUNDLED_MODEL), &Device::Cpu)?;
    let settings = &cfg.inference;
    let open = || MonoReader::open(&input, SAMPLE_RATE);
    let runner = drummernet::transcribe::NetRunner::new(&model.net, Device::Cpu);
    let names = [
        "decode",
        "model",
        "high_band",
        "band_spectrogram",
        "passes",
        "tempo_and_writing",
        "whole",
    ];
    let mut walls: Vec<Vec<f64>> = vec![Vec::new(); names.len()];
    let mut cpus: Vec<Vec<f64>> = vec![Vec::new(); names.len()];
    let mut seconds = 0.0;
    for run in 0..runs() + 1 {
        let (len, w0, c0) = timed(|| Ok(chunked::peak_and_len(open()?)?))?;
        let (peak, len) = len;
        seconds = len as f64 / SAMPLE_RATE as f64;
        let gain = chunked::normalising_gain(peak, settings.silence_dbfs).ok_or("silent input")?;
        let hop = model.net.config().frame_hop();
        let frames = len.div_ceil(hop);
        let (acts, w1, c1) = timed(|| {
            Ok(chunked::stream_activations(
                &runner,
                open()?,
                len,
                gain,
                settings,
                SAMPLE_RATE,
                &|_| {},
            )?)
        })?;
        let (high, w2, c2) = timed(|| {
            Ok(high_band::read_high_band(
                open()?,
                gain,
                frames,
                hop,
                SAMPLE_RATE,
            )?)
        })?;
        let (spec, w3, c3) = timed(|| Ok(resynthesis::read_band_spectrogram(open()?, gain, len)?))?;
        let analysis = StemAnalysis {
            components: model.config.components.clone(),
            activations: acts.curves,
            hop,
            gain: Some(gain),
            high_band: Some(high),
            spectrogram: Some(spec),
        };
        let (picked, w4, c4) = timed(|| Ok(analysis.pick(settings, &cfg.midi, open)?))?;
        let t = drummernet::transcribe::Transcription {
            input: input.clone(),
            duration: seconds,
            components: analysis.components.clone(),
            activations: analysis.activations.clone(),
            frame_rate: SAMPLE_RATE as f64 / hop as f64,
            events: picked.events,
            passes: picked.passes,
            peak,
            silent: false,
            windows: 0,
            buffered_high_water: 0,
            header_seconds: None,
        };
        let out = dir.path().join("out");
        std::fs::create_dir_all(&out)?;
        let info = drummernet::transcribe::ModelInfo::of(&model);
        let (_, w5, c5) = timed(|| {
            Ok(drummernet::transcribe::export::write_outputs_and_tempo(
                &t,
                &out,
                &[drummernet::transcribe::OutputFormat::Mid],
                &info,
                settings,
                &cfg.midi,
                Overwrite::Allow,
            )?)
        })?;
        let (_, w6, c6) = timed(|| {
            Ok(transcribe_file(
                &model,
                &Device::Cpu,
                &input,
                settings,
                &cfg.midi,
                &|_| {},
            )?)
        })?;
        if run > 0 {
            for (i, (w, c)) in [
                (w0, c0),
                (w1, c1),
                (w2, c2),
                (w3, c3),
                (w4, c4),
                (w5, c5),
                (w6, c6),
            ]
            .into_iter()
            .enumerate()
            {
                walls[i].push(w);
                cpus[i].push(c);
            }
        }
    }
    emit(scenario, "audio_seconds", seconds, "s");
    for (i, name) in names.iter().enumerate() {
        emit(
            scenario,
            &format!("{name}_wall"),
            median(walls[i].clone()),
            "s",
        );
        emit(
            scenario,
            &format!("{name}_cpu"),
            median(cpus[i].clone()),
            "s",
        );
    }
    Ok(())
}

/// The workbench's loss pane after 1 000 and 1 000 000 training steps: the cost of taking a
/// step into the history and of drawing one frame (120 x 30 cells), which must not grow with
/// the steps.
#[cfg(feature = "tui")]
fn loss_chart(name: &str) -> Res<()> {
    use drummernet::train::session::LossRow;
    use drummernet::tui::components::loss::LossChart;
    use drummernet::tui::loss_history::LossHistory;
    use drummernet::tui::Action;
    let mut terminal = ratatui::Terminal::new(ratatui::backend::TestBackend::new(120, 30))?;
    for steps in [1_000u64, 1_000_000] {
        let mut history = LossHistory::default();
        let (_, push_s, _) = timed(|| {
            for s in 1..=steps {
                let loss = 1.0 + 1.0 / s as f64 + 0.01 * ((s * 7919 % 101) as f64 / 101.0);
                history.push(LossRow {
                    step: s,
                    seconds: s as f64 * 0.7,
                    loss,
                    per_scale: vec![0.5 * loss, 0.3 * loss, 0.2 * loss],
                    items_per_second: 20.0,
                });
            }
            Ok(())
        })?;
        let mut chart = LossChart::new(history);
        chart.update(&Action::LossScales);
        let mut frames = Vec::new();
        for _ in 0..runs() {
            let (_, wall, _) = timed(|| {
                terminal.draw(|f| {
                    let area = f.area();
                    drummernet::tui::views::draw_loss(f, area, &chart)
                })?;
                Ok(())
            })?;
            frames.push(wall);
        }
        let label = if steps == 1_000 { "1k" } else { "1m" };
        emit(
            name,
            &format!("push_us_per_step_{label}"),
            push_s / steps as f64 * 1e6,
            "us",
        );
        emit(
            name,
            &format!("frame_ms_{label}"),
            median(frames) * 1e3,
            "ms",
        );
    }
    Ok(())
}
