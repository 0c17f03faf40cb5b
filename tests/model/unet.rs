//! The analysis U-Net: shapes and parameter count from spec section 2, every parameter's
//! gradient against finite differences, and (ignored by default) a speed report.

use std::collections::HashMap;

use candle_core::{DType, Device, Tensor};
use candle_nn::{VarBuilder, VarMap};
use drummernet::model::gradcheck::{max_gradient_error, pseudo_random};
use drummernet::model::unet::{frames_lost, output_frames, TrainingWorkspace, Unet};
use drummernet::model::ModelConfig;

fn default_unet(dtype: DType) -> (VarMap, Unet) {
    let varmap = VarMap::new();
    let vb = VarBuilder::from_varmap(&varmap, dtype, &Device::Cpu);
    let unet = Unet::new(&ModelConfig::default(), vb.pp("unet")).unwrap();
    (varmap, unet)
}

#[test]
fn default_parameters_have_release_names_and_count() {
    let (varmap, _) = default_unet(DType::F32);
    let vars = varmap.data().lock().unwrap();
    let total: usize = vars.values().map(|v| v.elem_count()).sum();
    assert_eq!(total, 195_250);
    let dims = |name: &str| vars[name].dims().to_vec();
    assert_eq!(dims("unet.d_conv0.weight"), [50, 1, 3]);
    assert_eq!(dims("unet.enc.0.weight"), [50, 50, 3]);
    assert_eq!(dims("unet.enc.9.weight"), [50, 50, 3]);
    assert_eq!(dims("unet.encode_conv.weight"), [50, 50, 3]);
    assert_eq!(dims("unet.dec.0.weight"), [50, 50, 3]);
    assert_eq!(dims("unet.dec.5.weight"), [50, 100, 3]);
    assert_eq!(dims("unet.last_conv.weight"), [100, 100, 3]);
    assert_eq!(dims("unet.last_conv.bias"), [100]);
    assert_eq!(vars.len(), 1 + 10 + 1 + 6 + 2);
    // PyTorch's init bound 1/sqrt(fan_in): 1/sqrt(300) for last_conv.
    let bias = vars["unet.last_conv.bias"]
        .as_tensor()
        .to_vec1::<f32>()
        .unwrap();
    assert!(bias.iter().all(|b| b.abs() <= 1.0 / 300f32.sqrt()));
    assert!(bias.iter().any(|b| b.abs() > 0.01));
}

#[test]
fn default_shapes_follow_the_spec() {
    let cfg = ModelConfig::default();
    assert_eq!(frames_lost(&cfg), 510);
    assert_eq!(output_frames(&cfg, 32_768), 1_538);
    assert_eq!(output_frames(&cfg, 960_512), 59_522);
    assert_eq!(output_frames(&cfg, 7 * 1024), 0);
    let (_, unet) = default_unet(DType::F32);
    let x = pseudo_random((1, 1, 32_768), 1)
        .to_dtype(DType::F32)
        .unwrap();
    let r = unet.forward_composed(&x).unwrap();
    assert_eq!(r.dims3().unwrap(), (1, 100, 1_538));
    // ELU output: finite and never below -1.
    let min = r.min_all().unwrap().to_scalar::<f32>().unwrap();
    assert!(min > -1.0 && r.max_all().unwrap().to_scalar::<f32>().unwrap().is_finite());
    for m in [8, 9, 13, 21] {
        let x = pseudo_random((2, 1, 1024 * m), m as u64)
            .to_dtype(DType::F32)
            .unwrap();
        let r = unet
            .forward_fused(&x, &TrainingWorkspace::default())
            .unwrap();
        assert_eq!(r.dims3().unwrap(), (2, 100, 64 * m - 510), "m = {m}");
        assert_eq!(output_frames(&cfg, 1024 * m), 64 * m - 510);
    }
}

#[test]
fn rejects_short_inputs_and_unsupported_scales() {
    let (_, unet) = default_unet(DType::F32);
    let x = Tensor::zeros((1, 1, 7 * 1024), DType::F32, &Device::Cpu).unwrap();
    let composed = unet.forward_composed(&x).unwrap_err().to_string();
    let fused = unet
        .forward_fused(&x, &TrainingWorkspace::default())
        .unwrap_err()
        .to_string();
    for err in [composed, fused] {
        assert!(
            err.contains("7168 samples is too short") && err.contains("8192"),
            "{err}"
        );
    }
    let cfg = ModelConfig {
        scale: 3,
        ..ModelConfig::default()
    };
    let vb = VarBuilder::zeros(DType::F32, &Device::Cpu);
    let err = Unet::new(&cfg, vb).unwrap_err().to_string();
    assert!(err.contains("model.scale"), "{err}");
}

/// A U-Net small enough for finite differences but with every kind of block: uneven first
/// width, two decoder layers with skips, batch 2.
fn small_config() -> ModelConfig {
    ModelConfig {
        channels: 2,
        first_conv_channels: 3,
        kernel_size: 3,
        encoder_layers: 4,
        decoder_layers: 2,
        ..ModelConfig::default()
    }
}

#[test]
fn small_unet_gradients_match_finite_differences_for_every_parameter() {
    let cfg = small_config();
    // 8 x 16 samples: the shortest multiple of the compress ratio that works, plus margin.
    let len = 8 * cfg.compress_ratio();
    let frames = output_frames(&cfg, len);
    assert!(frames > 0);

    let varmap = VarMap::new();
    let vb = VarBuilder::from_varmap(&varmap, DType::F64, &Device::Cpu);
    Unet::new(&cfg, vb).unwrap();
    let mut named: Vec<(String, Tensor)> = varmap
        .data()
        .lock()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_tensor().detach()))
        .collect();
    named.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(named.len(), 1 + 4 + 1 + 2 + 2);
    let names: Vec<String> = named.iter().map(|(k, _)| k.clone()).collect();
    let params: Vec<Tensor> = named.into_iter().map(|(_, t)| t).collect();

    let x = pseudo_random((2, 1, len), 11);
    let proj = pseudo_random((2, 4, frames), 12);
    let loss = |ts: &[Tensor]| {
        let map: HashMap<String, Tensor> = names.iter().cloned().zip(ts.iter().cloned()).collect();
        let vb = VarBuilder::from_tensors(map, DType::F64, &Device::Cpu);
        let unet = Unet::new(&cfg, vb).map_err(|e| candle_core::Error::Msg(e.to_string()))?;
        let r = unet
            .forward_composed(&x)
            .map_err(|e| candle_core::Error::Msg(e.to_string()))?;
        r.mul(&proj)
    };
    let worst = max_gradient_error(&params, loss, 1e-6).unwrap();
    assert!(
        worst.error < 1e-6,
        "{} element {}: {worst:?}",
        names[worst.input],
        worst.element
    );
}

/// Forward flops of every conv of the default U-Net for one item of `len` samples.
fn conv_flops(cfg: &ModelConfig, len: usize) -> f64 {
    let (n, k) = (cfg.channels as f64, cfg.kernel_size as f64);
    let mut flops = 0.0;
    let mut l = len - 2;
    flops += 2.0 * cfg.first_conv_channels as f64 * k * l as f64;
    let mut skips = Vec::new();
    for _ in 0..cfg.encoder_layers {
        l -= 2;
        flops += 2.0 * n * n * k * l as f64;
        l /= 2;
        skips.push(l);
    }
    l -= 2;
    flops += 2.0 * n * n * k * l as f64;
    for j in 0..cfg.decoder_layers {
        l -= 2;
        let c_in = if j == 0 { n } else { 2.0 * n };
        flops += 2.0 * n * c_in * k * l as f64;
        l *= 2;
    }
    l -= 2;
    flops + 2.0 * 2.0 * n * 2.0 * n * k * l as f64
}

/// CPU seconds used by this process so far (user + system, all threads): on a shared machine
/// wall time says little, CPU time says what the code costs.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}

/// Speed report: `cargo test --release --test model unet:: -- --ignored --nocapture`, with
/// RAYON_NUM_THREADS=1 and 2.
#[test]
#[ignore]
fn speed_report_batch16_two_seconds() {
    let cfg = ModelConfig::default();
    let (varmap, unet) = default_unet(DType::F32);
    let ws = TrainingWorkspace::default();
    let x = (pseudo_random((16, 1, 32_768), 3) * 0.3)
        .unwrap()
        .to_dtype(DType::F32)
        .unwrap();
    let gflop = 16.0 * conv_flops(&cfg, 32_768) / 1e9;
    let runs = 3;
    let (mut fwd, mut fwd_cpu) = (f64::MAX, f64::MAX);
    let (mut both, mut both_cpu) = (f64::MAX, f64::MAX);
    for _ in 0..runs {
        let (t, c) = (std::time::Instant::now(), cpu_seconds());
        drop(unet.forward_fused(&x, &ws).unwrap());
        fwd = fwd.min(t.elapsed().as_secs_f64());
        fwd_cpu = fwd_cpu.min(cpu_seconds() - c);
        let (t, c) = (std::time::Instant::now(), cpu_seconds());
        let r = unet.forward_fused(&x, &ws).unwrap();
        let grads = r.sum_all().unwrap().backward().unwrap();
        both = both.min(t.elapsed().as_secs_f64());
        both_cpu = both_cpu.min(cpu_seconds() - c);
        let vars = varmap.all_vars();
        assert!(vars.iter().all(|v| grads.get(v).is_some()));
        drop(r);
    }
    println!(
        "U-Net batch 16 x 32768, threads {}: forward {fwd:.3} s wall / {fwd_cpu:.2} s cpu \
         ({gflop:.1} GFLOP, {:.1} GFLOP/s wall), forward+backward {both:.3} s wall / \
         {both_cpu:.2} s cpu ({:.1} GFLOP/s wall)",
        rayon::current_num_threads(),
        gflop / fwd,
        3.0 * gflop / both
    );

    // Inference on a 60-s file (one item: the parallelism has to come from time tiles).
    let long = (pseudo_random((1, 1, 960_512), 4) * 0.3)
        .unwrap()
        .to_dtype(DType::F32)
        .unwrap();
    let (t, c) = (std::time::Instant::now(), cpu_seconds());
    let r = unet.forward_fused(&long, &ws).unwrap();
    let (wall, cpu) = (t.elapsed().as_secs_f64(), cpu_seconds() - c);
    assert_eq!(r.dims3().unwrap(), (1, 100, 59_522));
    println!(
        "U-Net 1 x 960512 (60 s) forward: {wall:.3} s wall / {cpu:.2} s cpu ({:.1} GFLOP/s wall)",
        conv_flops(&cfg, 960_512) / 1e9 / wall
    );
}
