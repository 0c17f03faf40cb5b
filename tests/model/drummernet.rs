//! The whole DrummerNet model (spec sections 1-6): lengths at every stage, the parameter count,
//! alignment of the re-synthesis with the input, every parameter's gradient of the whole
//! pipeline (analysis -> synthesizer -> CQT loss) against finite differences, and model files.

use candle_core::{DType, Device, Tensor, Var};
use candle_nn::{VarBuilder, VarMap};
use drummernet::atomic_file::Overwrite;
use drummernet::model::drummernet::{save_model, DrummerNet};
use drummernet::model::file;
use drummernet::model::gradcheck::pseudo_random;
use drummernet::model::loss::{CqtLoss, LossSettings};
use drummernet::model::ops::synth_fft::synth_conv_composed;
use drummernet::model::seeded_init::SeededVarMap;
use drummernet::model::synthesizer::{Synthesizer, WaveformNorm};
use drummernet::model::unet::Unet;
use drummernet::model::ModelConfig;

/// Encoder 6 / decoder 2 keeps the 16-sample frame hop with 240 samples of context a side.
fn tiny() -> ModelConfig {
    ModelConfig {
        channels: 4,
        first_conv_channels: 4,
        encoder_layers: 6,
        decoder_layers: 2,
        ..ModelConfig::default()
    }
}

fn build(cfg: &ModelConfig, seed: u64, dtype: DType) -> (VarMap, DrummerNet) {
    let map = VarMap::new();
    let vb = SeededVarMap::var_builder(&map, seed, dtype, &Device::Cpu);
    let net = DrummerNet::new(cfg, vb).unwrap();
    (map, net)
}

/// The variables sorted by name (a VarMap iterates in hash order).
fn sorted_vars(map: &VarMap) -> Vec<(String, Var)> {
    let mut vars: Vec<(String, Var)> = map
        .data()
        .lock()
        .unwrap()
        .iter()
        .map(|(n, v)| (n.clone(), v.clone()))
        .collect();
    vars.sort_by(|a, b| a.0.cmp(&b.0));
    vars
}

fn flat(t: &Tensor) -> Vec<f64> {
    t.flatten_all()
        .unwrap()
        .to_dtype(DType::F64)
        .unwrap()
        .to_vec1()
        .unwrap()
}

fn audio(batch: usize, len: usize, seed: u64, dtype: DType) -> Tensor {
    (pseudo_random((batch, len), seed) * 0.5)
        .unwrap()
        .to_dtype(dtype)
        .unwrap()
}

#[test]
fn default_model_has_the_release_parameter_count() {
    let (map, _) = build(&ModelConfig::default(), 0, DType::F32);
    let vars = sorted_vars(&map);
    let count = |prefix: &str| -> usize {
        vars.iter()
            .filter(|(n, _)| n.starts_with(prefix))
            .map(|(_, v)| v.elem_count())
            .sum()
    };
    assert_eq!(count(""), 203_869);
    assert_eq!(count("unet."), 195_250);
    assert_eq!(count("recurrent."), 8_619);
}

#[test]
fn a_training_item_goes_through_every_stage_with_the_spec_lengths() {
    let (_, net) = build(&ModelConfig::default(), 1, DType::F32);
    assert_eq!(net.context_samples(), 4_080);
    let x = audio(2, 32_000, 2, DType::F32);
    let padded = net.pad(&x).unwrap();
    assert_eq!(padded.dims(), [2, 32_768]);
    assert_eq!(flat(&padded.narrow(1, 0, 32_000).unwrap()), flat(&x));
    assert!(flat(&padded.narrow(1, 32_000, 768).unwrap())
        .iter()
        .all(|&v| v == 0.0));
    assert_eq!(net.output_frames(32_768), 1_538);

    let analysis = net.analyse(&padded).unwrap();
    assert_eq!(analysis.dense.dims(), [2, 11, 1_538]);
    assert_eq!(analysis.activations.dims(), [2, 11, 1_538]);
    let a = analysis.activations.to_vec3::<f32>().unwrap();
    // Values in [0, 1]; per frame the component sparsemax sums to 1 and the time branch is at
    // most 1, so the components of one frame sum to at most 1.
    for item in &a {
        assert!(item.iter().flatten().all(|&v| (0.0..=1.0).contains(&v)));
        for t in 0..1_538 {
            let sum: f32 = item.iter().map(|row| row[t]).sum();
            assert!(sum <= 1.0 + 1e-5, "frame {t}: {sum}");
        }
    }
    assert!(a.iter().flatten().flatten().any(|&v| v > 0.0));
    // The dense head ends with an ELU of GRU outputs: (-0.632, 1).
    let dense = flat(&analysis.dense);
    assert!(dense.iter().all(|&v| v > -0.633 && v < 1.0));

    let synth = Synthesizer::new(16, WaveformNorm::SqrSum);
    let waveforms = pseudo_random((11, 16_000), 3).to_dtype(DType::F32).unwrap();
    let estimate = synth.forward(&analysis.activations, &waveforms).unwrap();
    assert_eq!(estimate.dims(), [2, 24_608]);
    let target = net.aligned_target(&padded, 1_538).unwrap();
    assert_eq!(target.dims(), [2, 24_608]);
    assert_eq!(
        flat(&target),
        flat(&padded.narrow(1, 4_080, 24_608).unwrap())
    );
}

#[test]
fn odd_input_lengths_pad_to_the_compress_ratio_and_lose_510_frames() {
    let (_, net) = build(&ModelConfig::default(), 4, DType::F32);
    for (len, padded_len, frames) in [
        (20_001, 20_480, 770),
        (8_192, 8_192, 2),
        (100_000, 100_352, 5_762),
    ] {
        let x = audio(1, len, len as u64, DType::F32);
        let padded = net.pad(&x).unwrap();
        assert_eq!(padded.dims(), [1, padded_len], "len {len}");
        assert_eq!(net.output_frames(padded_len), frames);
        assert_eq!(padded_len / 16 - frames, 510);
        let a = net.analyse(&padded).unwrap().activations;
        assert_eq!(a.dims(), [1, 11, frames], "len {len}");
        let target = net.aligned_target(&padded, frames).unwrap();
        assert_eq!(target.dim(1).unwrap(), 16 * frames);
    }
    // Below the minimum the analysis refuses instead of producing an empty tensor.
    let short = Tensor::zeros((1, 4_096), DType::F32, &Device::Cpu).unwrap();
    assert!(net.analyse(&short).is_err());
}

#[test]
fn an_activation_at_frame_t_resynthesises_padded_sample_4080_plus_16t() {
    let (_, net) = build(&ModelConfig::default(), 5, DType::F32);
    let frames = 1_538;
    let t = 37;
    let mut a = vec![0f32; 11 * frames];
    a[2 * frames + t] = 1.0; // closed hi-hat at frame t
    let a = Tensor::from_vec(a, (1, 11, frames), &Device::Cpu).unwrap();
    // A unit impulse as the closed hi-hat's waveform.
    let mut h = vec![0f32; 11 * 64];
    h[2 * 64] = 1.0;
    let h = Tensor::from_vec(h, (11, 64), &Device::Cpu).unwrap();
    let estimate = flat(
        &Synthesizer::new(16, WaveformNorm::None)
            .forward(&a, &h)
            .unwrap(),
    );
    let impulse_at = |n: usize| {
        let mut x = vec![0f32; 32_768];
        x[n] = 1.0;
        Tensor::from_vec(x, (1, 32_768), &Device::Cpu).unwrap()
    };
    let target = |n: usize| flat(&net.aligned_target(&impulse_at(n), frames).unwrap());
    let max_diff = |u: &[f64], v: &[f64]| {
        u.iter()
            .zip(v)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max)
    };
    assert!(max_diff(&estimate, &target(4_080 + 16 * t)) < 1e-6);
    assert!(max_diff(&estimate, &target(4_080 + 16 * t + 1)) > 0.5);
    assert!(max_diff(&estimate, &target(4_080 + 16 * t - 16)) > 0.5);
}

/// With palindromic kernels every U-Net stage is symmetric under time reversal, so the output
/// frames are centred in the input only if the 510 lost frames split 255/255 (the 4 080-sample
/// context on each side): an off-centre crop or pooling grid breaks the symmetry.
#[test]
fn the_unet_output_grid_is_centred_in_its_input() {
    let map = VarMap::new();
    let vb = VarBuilder::from_varmap(&map, DType::F32, &Device::Cpu);
    let unet = Unet::new(&ModelConfig::default(), vb.pp("unet")).unwrap();
    for (name, var) in sorted_vars(&map) {
        if name.ends_with("weight") {
            let w = var.as_tensor();
            let sym = ((w + reverse(w, 2)).unwrap() * 0.5).unwrap();
            var.set(&sym).unwrap();
        }
    }
    let x = audio(1, 9 * 1024, 6, DType::F32).unsqueeze(1).unwrap();
    let r = unet.forward_composed(&x).unwrap();
    assert_eq!(r.dims(), [1, 100, 66]);
    let r_rev = unet.forward_composed(&reverse(&x, 2)).unwrap();
    let (a, b) = (flat(&reverse(&r, 2)), flat(&r_rev));
    let worst = a
        .iter()
        .zip(&b)
        .map(|(u, v)| (u - v).abs())
        .fold(0.0, f64::max);
    assert!(worst < 1e-4, "time reversal mismatch {worst}");
    // The check has teeth: the output is not itself symmetric.
    let fwd = flat(&r);
    assert!(fwd.iter().zip(&b).any(|(u, v)| (u - v).abs() > 1e-3));
}

fn reverse(t: &Tensor, dim: usize) -> Tensor {
    let n = t.dim(dim).unwrap();
    let idx: Vec<u32> = (0..n as u32).rev().collect();
    let idx = Tensor::new(idx.as_slice(), t.device()).unwrap();
    t.index_select(&idx, dim).unwrap()
}

/// The tiny model, a 2-item batch just long enough for every CQT scale, and fixed random
/// waveforms: the whole training loss as a function of the model's variables.
struct Pipeline {
    map: VarMap,
    net: DrummerNet,
    loss: CqtLoss,
    padded: Tensor,
    waveforms: Tensor,
}

impl Pipeline {
    fn new(dtype: DType) -> Pipeline {
        let (map, net) = build(&tiny(), 11, dtype);
        let loss = CqtLoss::new(&LossSettings::default(), &Device::Cpu).unwrap();
        let padded = net.pad(&audio(2, 2_500, 12, dtype)).unwrap();
        assert_eq!(padded.dim(1).unwrap(), 2_560);
        let waveforms = (pseudo_random((11, 48), 13) * 0.3)
            .unwrap()
            .to_dtype(dtype)
            .unwrap();
        Pipeline {
            map,
            net,
            loss,
            padded,
            waveforms,
        }
    }

    /// `exact`: the composed synthesizer (all f64); otherwise the training path's FFT op.
    fn loss(&self, exact: bool) -> Tensor {
        let a = self.net.analyse(&self.padded).unwrap().activations;
        let frames = a.dim(2).unwrap();
        let estimate = if exact {
            synth_conv_composed(&a, &self.waveforms, 16).unwrap()
        } else {
            Synthesizer::new(16, WaveformNorm::None)
                .forward(&a, &self.waveforms)
                .unwrap()
        };
        let target = self.net.aligned_target(&self.padded, frames).unwrap();
        self.loss.forward(&target, &estimate).unwrap().total
    }

    fn value(&self) -> f64 {
        self.loss(true)
            .to_dtype(DType::F64)
            .unwrap()
            .to_scalar()
            .unwrap()
    }
}

#[test]
fn every_parameter_gradient_of_the_whole_pipeline_matches_finite_differences() {
    let p = Pipeline::new(DType::F64);
    assert_eq!(p.net.output_frames(2_560), 130);
    let vars = sorted_vars(&p.map);
    let grads = p.loss(true).backward().unwrap();
    let eps = 1e-6;
    let mut checked = 0;
    let mut worst = (0.0f64, String::new());
    let mut lcg = 0x2545_f491_4f6c_dd1du64;
    for (name, var) in &vars {
        let g = flat(
            grads
                .get(var.as_tensor())
                .expect("every variable gets a gradient"),
        );
        let norm = g.iter().map(|v| v * v).sum::<f64>().sqrt();
        assert!(norm > 1e-9, "{name}: gradient is zero everywhere");
        let base = flat(var.as_tensor());
        let argmax = (0..g.len())
            .max_by(|&i, &j| g[i].abs().total_cmp(&g[j].abs()))
            .unwrap();
        let mut coords = vec![argmax];
        for _ in 0..5.min(g.len()) {
            lcg = lcg.wrapping_mul(6364136223846793005).wrapping_add(1);
            coords.push((lcg >> 33) as usize % g.len());
        }
        let set = |values: &[f64]| {
            let t = Tensor::from_vec(values.to_vec(), var.shape(), &Device::Cpu).unwrap();
            var.set(&t).unwrap();
        };
        for &i in &coords {
            let mut probe = base.clone();
            probe[i] = base[i] + eps;
            set(&probe);
            let plus = p.value();
            probe[i] = base[i] - eps;
            set(&probe);
            let minus = p.value();
            set(&base);
            let numeric = (plus - minus) / (2.0 * eps);
            let error = (g[i] - numeric).abs() / (numeric.abs() + 1e-3 * norm + 1e-8);
            if error > worst.0 {
                worst = (
                    error,
                    format!("{name}[{i}]: autograd {} vs numeric {numeric}", g[i]),
                );
            }
            checked += 1;
        }
    }
    println!(
        "{} variables, {checked} coordinates, worst {worst:?}",
        vars.len()
    );
    // Measured worst: ~1e-3 relative, on a gradient of 2e-5 (absolute error 2e-8), from the kinks
    // of |.| in the loss and of the sparsemax supports that ±eps can cross. A wiring bug (a
    // missing path, a wrong sign, a misaligned target) gives errors of order 1.
    assert!(worst.0 < 1e-2, "worst mismatch {worst:?}");
}

/// Training uses the FFT synthesizer (computed in f32): its gradients must agree with the exact
/// f64 path checked against finite differences above.
#[test]
fn the_training_synthesizer_gives_the_same_parameter_gradients() {
    let p = Pipeline::new(DType::F64);
    let exact = p.loss(true).backward().unwrap();
    let fft = p.loss(false).backward().unwrap();
    for (name, var) in sorted_vars(&p.map) {
        let a = flat(exact.get(var.as_tensor()).unwrap());
        let b = flat(fft.get(var.as_tensor()).unwrap());
        let diff = a
            .iter()
            .zip(&b)
            .map(|(u, v)| (u - v).powi(2))
            .sum::<f64>()
            .sqrt();
        let norm = a.iter().map(|u| u * u).sum::<f64>().sqrt();
        assert!(
            diff <= 1e-4 * norm,
            "{name}: |diff| {diff} vs |grad| {norm}"
        );
    }
}

fn model_tensors(map: &VarMap) -> Vec<(String, Tensor)> {
    sorted_vars(map)
        .into_iter()
        .map(|(n, v)| (n, v.as_tensor().clone()))
        .collect()
}

#[test]
fn a_saved_model_loads_with_identical_activations() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tiny.safetensors");
    let cfg = tiny();
    let (map, net) = build(&cfg, 21, DType::F32);
    let extra = [("steps".to_string(), "3".to_string())];
    save_model(&path, &cfg, &model_tensors(&map), &extra, Overwrite::Refuse).unwrap();
    // Refuse means refuse.
    let again = save_model(&path, &cfg, &model_tensors(&map), &extra, Overwrite::Refuse);
    assert!(again.is_err());

    let loaded = DrummerNet::load(&path, &Device::Cpu).unwrap();
    assert_eq!(loaded.config, cfg);
    assert_eq!(loaded.metadata["steps"], "3");
    assert_eq!(loaded.metadata[file::FORMAT_KEY], file::MODEL_FORMAT);
    let x = net.pad(&audio(2, 3_000, 22, DType::F32)).unwrap();
    let a = net.analyse(&x).unwrap();
    let b = loaded.net.analyse(&x).unwrap();
    assert_eq!(flat(&a.dense), flat(&b.dense));
    assert_eq!(flat(&a.activations), flat(&b.activations));
}

fn load_error(path: &std::path::Path) -> String {
    match DrummerNet::load(path, &Device::Cpu) {
        Ok(_) => panic!("{} loaded", path.display()),
        Err(e) => e.to_string(),
    }
}

#[test]
fn bad_model_files_are_refused_with_a_message_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = tiny();
    let (map, _) = build(&cfg, 31, DType::F32);
    let good = dir.path().join("good.safetensors");
    save_model(&good, &cfg, &model_tensors(&map), &[], Overwrite::Refuse).unwrap();
    let bytes = std::fs::read(&good).unwrap();

    // Tensors of one configuration under the metadata of another.
    let other = ModelConfig {
        channels: 6,
        first_conv_channels: 6,
        ..tiny()
    };
    let mixed = dir.path().join("mixed.safetensors");
    save_model(&mixed, &other, &model_tensors(&map), &[], Overwrite::Refuse).unwrap();
    let err = load_error(&mixed);
    assert!(
        err.contains("mixed.safetensors") && err.contains("different configuration"),
        "{err}"
    );

    // A tensor missing.
    let partial = dir.path().join("partial.safetensors");
    let mut tensors = model_tensors(&map);
    tensors.retain(|(n, _)| n != "unet.last_conv.bias");
    save_model(&partial, &cfg, &tensors, &[], Overwrite::Refuse).unwrap();
    let err = load_error(&partial);
    assert!(
        err.contains("partial.safetensors") && err.contains("unet.last_conv.bias"),
        "{err}"
    );

    for (name, content) in [
        ("truncated.safetensors", bytes[..bytes.len() / 2].to_vec()),
        ("short.safetensors", bytes[..5].to_vec()),
        (
            "garbage.safetensors",
            b"this is not a model at all".to_vec(),
        ),
    ] {
        let path = dir.path().join(name);
        std::fs::write(&path, content).unwrap();
        let err = load_error(&path);
        assert!(
            err.contains(name) && err.contains("truncated or corrupt"),
            "{name}: {err}"
        );
    }

    // A diverged (NaN) model is refused rather than producing NaN transcriptions.
    let nan = dir.path().join("nan.safetensors");
    let mut tensors = model_tensors(&map);
    let bias = &mut tensors
        .iter_mut()
        .find(|(n, _)| n == "unet.last_conv.bias")
        .unwrap()
        .1;
    *bias = (bias.clone() * f64::NAN).unwrap();
    save_model(&nan, &cfg, &tensors, &[], Overwrite::Refuse).unwrap();
    let err = load_error(&nan);
    assert!(
        err.contains("nan.safetensors") && err.contains("NaN"),
        "{err}"
    );

    // Safetensors without our metadata, a directory, a missing file.
    let plain = dir.path().join("plain.safetensors");
    let t = Tensor::zeros(3, DType::F32, &Device::Cpu).unwrap();
    file::save_tensor_file(
        &plain,
        &[("x".into(), t)],
        Default::default(),
        Overwrite::Refuse,
    )
    .unwrap();
    let err = load_error(&plain);
    assert!(
        err.contains("plain.safetensors") && err.contains("not a drummernet model"),
        "{err}"
    );
    assert!(load_error(dir.path()).contains("is a directory"));
    let missing = dir.path().join("missing.safetensors");
    assert!(load_error(&missing).contains("missing.safetensors"));
    // The good file is still good.
    assert!(DrummerNet::load(&good, &Device::Cpu).is_ok());
}
