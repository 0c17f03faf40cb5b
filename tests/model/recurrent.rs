//! The fused GRU op and the recurrent head: forward against a step-by-step candle
//! implementation, gradients against finite differences, parameter counts, output range.

use candle_core::{DType, Device, Tensor, Var};
use candle_nn::{VarBuilder, VarMap};
use drummernet::model::config::RecurrentKind;
use drummernet::model::ops::gru::{
    gru_recurrence, gru_recurrence_channels_first, gru_recurrence_composed,
};
use drummernet::model::ops::scalar_gru::{component_scan_gru, component_scan_gru_composed};
use drummernet::model::recurrent::Recurrent;
use drummernet::model::ModelConfig;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

type R<T> = drummernet::error::Result<T>;

fn uniform(rng: &mut ChaCha8Rng, shape: &[usize], scale: f64) -> R<Tensor> {
    let n: usize = shape.iter().product();
    let v: Vec<f64> = (0..n).map(|_| rng.random_range(-scale..scale)).collect();
    Ok(Tensor::from_vec(v, shape, &Device::Cpu)?)
}

fn max_abs_diff(a: &Tensor, b: &Tensor) -> R<f64> {
    Ok((a - b)?
        .abs()?
        .flatten_all()?
        .max(0)?
        .to_dtype(DType::F64)?
        .to_scalar::<f64>()?)
}

fn values(t: &Tensor) -> R<Vec<f64>> {
    Ok(t.flatten_all()?.to_dtype(DType::F64)?.to_vec1::<f64>()?)
}

/// Central finite differences of `loss` with respect to every element of `var`.
fn finite_differences(var: &Var, loss: &dyn Fn() -> R<f64>) -> R<Vec<f64>> {
    let original = var.as_tensor().copy()?;
    let base = values(&original)?;
    let eps = 1e-6;
    let mut grads = Vec::with_capacity(base.len());
    for i in 0..base.len() {
        let mut shifted = base.clone();
        shifted[i] = base[i] + eps;
        var.set(&Tensor::from_vec(
            shifted.clone(),
            original.shape(),
            &Device::Cpu,
        )?)?;
        let plus = loss()?;
        shifted[i] = base[i] - eps;
        var.set(&Tensor::from_vec(shifted, original.shape(), &Device::Cpu)?)?;
        let minus = loss()?;
        grads.push((plus - minus) / (2.0 * eps));
    }
    var.set(&original)?;
    Ok(grads)
}

fn assert_close(what: &str, analytic: &[f64], numeric: &[f64], tol: f64) {
    assert_eq!(analytic.len(), numeric.len(), "{what}: length");
    for (i, (a, n)) in analytic.iter().zip(numeric).enumerate() {
        assert!(
            (a - n).abs() <= tol * (1.0 + n.abs()),
            "{what}[{i}]: analytic {a} vs finite difference {n}"
        );
    }
}

#[test]
fn fused_forward_matches_step_by_step_both_directions() -> R<()> {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let (b, t, h) = (19, 9, 11);
    let gx = uniform(&mut rng, &[b, t, 3 * h], 2.0)?;
    let w = uniform(&mut rng, &[3 * h, h], 0.5)?;
    let bias = uniform(&mut rng, &[3 * h], 0.5)?;
    for reverse in [false, true] {
        let fused = gru_recurrence(&gx, &w, &bias, reverse)?;
        let stepwise = gru_recurrence_composed(&gx, &w, &bias, reverse)?;
        assert_eq!(fused.dims(), &[b, t, h]);
        let diff = max_abs_diff(&fused, &stepwise)?;
        assert!(diff < 1e-12, "reverse={reverse}: max diff {diff}");
        let gx_cf = gx.transpose(1, 2)?.contiguous()?;
        let fused_cf = gru_recurrence_channels_first(&gx_cf, &w, &bias, reverse)?;
        assert_eq!(fused_cf.dims(), &[b, h, t]);
        let diff = max_abs_diff(&fused_cf.transpose(1, 2)?, &stepwise)?;
        assert!(
            diff < 1e-12,
            "channels-first reverse={reverse}: max diff {diff}"
        );
    }
    // The two directions must differ (the flag is honoured).
    let diff = max_abs_diff(
        &gru_recurrence(&gx, &w, &bias, false)?,
        &gru_recurrence(&gx, &w, &bias, true)?,
    )?;
    assert!(diff > 1e-3);
    Ok(())
}

#[test]
fn fused_forward_matches_for_scalar_gru_without_bias_f32() -> R<()> {
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    // The component-scanning GRU: many length-11 scalar sequences.
    let (b, t) = (5000, 11);
    let gx = uniform(&mut rng, &[b, t, 3], 2.0)?.to_dtype(DType::F32)?;
    let w = uniform(&mut rng, &[3, 1], 1.0)?.to_dtype(DType::F32)?;
    let bias = Tensor::zeros(3, DType::F32, &Device::Cpu)?;
    let fused = gru_recurrence(&gx, &w, &bias, false)?;
    let stepwise = gru_recurrence_composed(&gx, &w, &bias, false)?;
    let diff = max_abs_diff(&fused, &stepwise)?;
    assert!(diff < 1e-5, "max diff {diff}");
    // Backward over many rayon tasks (the weight gradient is a sum across all of them).
    let (gx, w) = (Var::from_tensor(&gx)?, Var::from_tensor(&w)?);
    let c = uniform(&mut rng, &[b, t, 1], 1.0)?.to_dtype(DType::F32)?;
    let fused = (gru_recurrence(&gx, &w, &bias, false)? * &c)?
        .sum_all()?
        .backward()?;
    let stepwise = (gru_recurrence_composed(&gx, &w, &bias, false)? * &c)?
        .sum_all()?
        .backward()?;
    for var in [&gx, &w] {
        let (a, b) = (
            values(fused.get(var).expect("grad"))?,
            values(stepwise.get(var).expect("grad"))?,
        );
        assert_close("scalar GRU gradient", &a, &b, 1e-4);
    }
    Ok(())
}

/// Gradients of sum(out ⊙ c) with respect to gx, W_hh and b_hh: fused backward vs finite
/// differences and vs candle's autograd through the step-by-step version.
fn check_gru_gradients(
    b: usize,
    t: usize,
    h: usize,
    reverse: bool,
    channels_first: bool,
    seed: u64,
) -> R<()> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let gx = Var::from_tensor(&uniform(&mut rng, &[b, t, 3 * h], 1.5)?)?;
    let w = Var::from_tensor(&uniform(&mut rng, &[3 * h, h], 0.8)?)?;
    let bias = Var::from_tensor(&uniform(&mut rng, &[3 * h], 0.8)?)?;
    let c = uniform(&mut rng, &[b, t, h], 1.0)?;
    let loss = |composed: bool| -> R<Tensor> {
        let out = if composed {
            gru_recurrence_composed(&gx, &w, &bias, reverse)?
        } else if channels_first {
            let gx_cf = gx.transpose(1, 2)?.contiguous()?;
            gru_recurrence_channels_first(&gx_cf, &w, &bias, reverse)?.transpose(1, 2)?
        } else {
            gru_recurrence(&gx, &w, &bias, reverse)?
        };
        Ok((out * &c)?.sum_all()?)
    };
    let grads = loss(false)?.backward()?;
    let reference = loss(true)?.backward()?;
    let scalar = || Ok(loss(false)?.to_scalar::<f64>()?);
    for (name, var) in [("gx", &gx), ("w_hh", &w), ("b_hh", &bias)] {
        let analytic = values(grads.get(var).expect("gradient present"))?;
        let autograd = values(reference.get(var).expect("gradient present"))?;
        let numeric = finite_differences(var, &scalar)?;
        let what = format!("d{name} (H={h}, reverse={reverse}, channels_first={channels_first})");
        assert_close(&what, &analytic, &numeric, 1e-7);
        assert_close(&what, &analytic, &autograd, 1e-10);
    }
    Ok(())
}

#[test]
fn gru_gradients_match_finite_differences() -> R<()> {
    check_gru_gradients(2, 6, 3, false, false, 3)?;
    check_gru_gradients(2, 6, 3, true, false, 4)?;
    check_gru_gradients(2, 6, 3, false, true, 5)?;
    check_gru_gradients(2, 6, 3, true, true, 6)?;
    check_gru_gradients(4, 11, 1, false, false, 7)?;
    // Batches spanning several lockstep groups of sequences, the last one partial.
    check_gru_gradients(11, 3, 2, true, true, 8)?;
    check_gru_gradients(11, 3, 2, false, false, 9)
}

#[test]
fn component_scan_matches_the_generic_gru() -> R<()> {
    let mut rng = ChaCha8Rng::seed_from_u64(20);
    let x = uniform(&mut rng, &[4, 11, 300], 2.0)?.to_dtype(DType::F32)?;
    let w_ih = uniform(&mut rng, &[3, 1], 1.0)?.to_dtype(DType::F32)?;
    let w_hh = uniform(&mut rng, &[3, 1], 1.0)?.to_dtype(DType::F32)?;
    let fused = component_scan_gru(&x, &w_ih, &w_hh)?;
    let reference = component_scan_gru_composed(&x, &w_ih, &w_hh)?;
    assert_eq!(fused.dims(), &[4, 11, 300]);
    let diff = max_abs_diff(&fused, &reference)?;
    assert!(diff < 1e-5, "max diff {diff}");
    Ok(())
}

#[test]
fn component_scan_gradients_match_finite_differences() -> R<()> {
    let mut rng = ChaCha8Rng::seed_from_u64(21);
    let x = Var::from_tensor(&uniform(&mut rng, &[2, 5, 4], 1.5)?)?;
    let w_ih = Var::from_tensor(&uniform(&mut rng, &[3, 1], 1.0)?)?;
    let w_hh = Var::from_tensor(&uniform(&mut rng, &[3, 1], 1.0)?)?;
    let c = uniform(&mut rng, &[2, 5, 4], 1.0)?;
    let loss = |composed: bool| -> R<Tensor> {
        let out = if composed {
            component_scan_gru_composed(&x, &w_ih, &w_hh)?
        } else {
            component_scan_gru(&x, &w_ih, &w_hh)?
        };
        Ok((out * &c)?.sum_all()?)
    };
    let grads = loss(false)?.backward()?;
    let reference = loss(true)?.backward()?;
    let scalar = || Ok(loss(false)?.to_scalar::<f64>()?);
    for (name, var) in [("x", &x), ("w_ih", &w_ih), ("w_hh", &w_hh)] {
        let analytic = values(grads.get(var).expect("gradient present"))?;
        let autograd = values(reference.get(var).expect("gradient present"))?;
        let numeric = finite_differences(var, &scalar)?;
        assert_close(name, &analytic, &numeric, 1e-7);
        assert_close(name, &analytic, &autograd, 1e-10);
    }
    Ok(())
}

fn small_config(kind: RecurrentKind) -> ModelConfig {
    ModelConfig {
        channels: 2,
        recurrent: kind,
        components: vec!["a".into(), "b".into(), "c".into()],
        ..ModelConfig::default()
    }
}

fn parameter_count(varmap: &VarMap) -> usize {
    varmap.all_vars().iter().map(|v| v.elem_count()).sum()
}

#[test]
fn parameter_counts_match_the_release() -> R<()> {
    for (kind, expected) in [(RecurrentKind::Gru, 8_619), (RecurrentKind::Conv, 24_250)] {
        let varmap = VarMap::new();
        let vb = VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
        let cfg = ModelConfig {
            recurrent: kind,
            ..ModelConfig::default()
        };
        Recurrent::new(&cfg, vb)?;
        assert_eq!(parameter_count(&varmap), expected, "{kind:?}");
    }
    Ok(())
}

#[test]
fn gru_head_uses_pytorch_parameter_names_and_init() -> R<()> {
    let varmap = VarMap::new();
    let vb = VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
    Recurrent::new(&ModelConfig::default(), vb)?;
    let data = varmap.data().lock().expect("varmap lock");
    let mut names: Vec<&str> = data.keys().map(|s| s.as_str()).collect();
    names.sort();
    let expected = [
        "midi_h2hh.bias_hh_l0",
        "midi_h2hh.bias_ih_l0",
        "midi_h2hh.weight_hh_l0",
        "midi_h2hh.weight_ih_l0",
        "midi_hh2y.weight_hh_l0",
        "midi_hh2y.weight_ih_l0",
        "midi_x2h.bias_hh_l0",
        "midi_x2h.bias_hh_l0_reverse",
        "midi_x2h.bias_ih_l0",
        "midi_x2h.bias_ih_l0_reverse",
        "midi_x2h.weight_hh_l0",
        "midi_x2h.weight_hh_l0_reverse",
        "midi_x2h.weight_ih_l0",
        "midi_x2h.weight_ih_l0_reverse",
    ];
    assert_eq!(names, expected);
    let w = values(data["midi_x2h.weight_ih_l0"].as_tensor())?;
    let bound = 1.0 / 11f64.sqrt();
    assert!(w.iter().all(|v| v.abs() <= bound));
    assert!(
        w.iter().any(|v| v.abs() > 0.9 * bound),
        "init spans the range"
    );
    assert_eq!(data["midi_x2h.weight_ih_l0"].dims(), &[33, 100]);
    assert_eq!(data["midi_hh2y.weight_hh_l0"].dims(), &[3, 1]);
    Ok(())
}

#[test]
fn gru_head_output_lies_in_elu_of_unit_interval() -> R<()> {
    let mut rng = ChaCha8Rng::seed_from_u64(6);
    let varmap = VarMap::new();
    let vb = VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
    let head = Recurrent::new(&ModelConfig::default(), vb)?;
    // Large weights and inputs push the GRUs into saturation at ±1, where a missing or wrong
    // final ELU would show up.
    // The scalar GRU is set to saturate: where GRU2's output x is clearly positive, z = σ(−20x)
    // ≈ 0 and n = tanh(−20x) ≈ −1, so its state is ≈ −1 and the final ELU maps it to ≈ e^−1 − 1.
    // Without the ELU (or with a wrong one) the range check fails.
    {
        let data = varmap.data().lock().expect("varmap lock");
        let set = |name: &str, v: [f32; 3]| {
            data[name].set(&Tensor::new(&v, &Device::Cpu)?.reshape((3, 1))?)
        };
        set("midi_hh2y.weight_ih_l0", [0.0, -20.0, -20.0])?;
        set("midi_hh2y.weight_hh_l0", [0.0, 0.0, 0.0])?;
    }
    let r = uniform(&mut rng, &[2, 100, 300], 20.0)?.to_dtype(DType::F32)?;
    let out = head.forward(&r)?;
    assert_eq!(out.dims(), &[2, 11, 300]);
    let v = values(&out)?;
    let low = (-1f64).exp() - 1.0;
    let min = v.iter().copied().fold(f64::INFINITY, f64::min);
    let max = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    // Open interval mathematically; f32 saturation can round tanh to exactly ±1.
    assert!(min >= low - 1e-6 && max <= 1.0, "range [{min}, {max}]");
    assert!(min < low + 0.01, "negative saturation reached: {min}");
    Ok(())
}

#[test]
fn gru_head_scans_components_causally() -> R<()> {
    // With one frame (no recurrence over time), GRU2's unit j only depends on its own weight
    // rows, and output component k depends on GRU2's units 0..=k only (the scalar GRU scans
    // components in order). So the gradient of output k reaches GRU2's rows of unit j iff j <= k.
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let varmap = VarMap::new();
    let vb = VarBuilder::from_varmap(&varmap, DType::F64, &Device::Cpu);
    let head = Recurrent::new(&small_config(RecurrentKind::Gru), vb)?;
    let r = uniform(&mut rng, &[1, 4, 1], 1.0)?;
    let w = varmap.data().lock().expect("varmap lock")["midi_h2hh.weight_ih_l0"].clone();
    for k in 0..3 {
        let grads = head.forward(&r)?.narrow(1, k, 1)?.sum_all()?.backward()?;
        let g = grads
            .get(w.as_tensor())
            .expect("gradient present")
            .to_vec2::<f64>()?;
        for (row, values) in g.iter().enumerate() {
            let unit = row % 3;
            let norm: f64 = values.iter().map(|v| v.abs()).sum();
            if unit <= k {
                assert!(
                    norm > 0.0,
                    "output {k}: unit {unit} (row {row}) must matter"
                );
            } else {
                assert_eq!(
                    norm, 0.0,
                    "output {k}: unit {unit} (row {row}) must not matter"
                );
            }
        }
    }
    Ok(())
}

#[test]
fn gru_head_gradients_match_finite_differences() -> R<()> {
    let mut rng = ChaCha8Rng::seed_from_u64(8);
    let varmap = VarMap::new();
    let vb = VarBuilder::from_varmap(&varmap, DType::F64, &Device::Cpu);
    let head = Recurrent::new(&small_config(RecurrentKind::Gru), vb)?;
    let r = Var::from_tensor(&uniform(&mut rng, &[2, 4, 6], 1.5)?)?;
    let c = uniform(&mut rng, &[2, 3, 6], 1.0)?;
    let loss = || -> R<Tensor> { Ok((head.forward(&r)? * &c)?.sum_all()?) };
    let grads = loss()?.backward()?;
    let scalar = || Ok(loss()?.to_scalar::<f64>()?);
    let mut vars: Vec<(String, Var)> = varmap
        .data()
        .lock()
        .expect("varmap lock")
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    assert_eq!(vars.len(), 14);
    vars.push(("input r".into(), r.clone()));
    for (name, var) in &vars {
        let analytic = values(grads.get(var).expect("gradient present"))?;
        let numeric = finite_differences(var, &scalar)?;
        assert_close(name, &analytic, &numeric, 1e-7);
    }
    Ok(())
}

#[test]
fn conv_head_is_affine_with_same_length_output() -> R<()> {
    // The CONV ablation has no activations: f(2r) - f(r) = f(r) - f(0).
    let mut rng = ChaCha8Rng::seed_from_u64(10);
    let varmap = VarMap::new();
    let vb = VarBuilder::from_varmap(&varmap, DType::F64, &Device::Cpu);
    let head = Recurrent::new(&small_config(RecurrentKind::Conv), vb)?;
    let r = uniform(&mut rng, &[2, 4, 9], 3.0)?;
    let f1 = head.forward(&r)?;
    assert_eq!(f1.dims(), &[2, 3, 9]);
    let f2 = head.forward(&(&r * 2.0)?)?;
    let f0 = head.forward(&r.zeros_like()?)?;
    let diff = max_abs_diff(&(f2 - &f1)?, &(&f1 - f0)?)?;
    assert!(diff < 1e-12, "not affine: {diff}");
    Ok(())
}

/// Timings for the report: `cargo test --release --test model recurrent:: -- --ignored --nocapture`.
/// The backward is seeded through `(out ⊙ c).sum()`; the cost of that seeding alone (candle's
/// broadcast gradients are slow) is measured on a plain variable and printed separately.
#[test]
#[ignore]
fn time_recurrent_head_at_training_size() -> R<()> {
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    let varmap = VarMap::new();
    let vb = VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
    let head = Recurrent::new(&ModelConfig::default(), vb)?;
    let r = Var::from_tensor(&uniform(&mut rng, &[16, 100, 1538], 1.0)?.to_dtype(DType::F32)?)?;
    let c = uniform(&mut rng, &[16, 11, 1538], 1.0)?.to_dtype(DType::F32)?;
    let plain = Var::from_tensor(&c)?;
    let best_of = |f: &dyn Fn() -> R<()>| -> R<f64> {
        f()?; // warm-up
        let mut best = f64::INFINITY;
        for _ in 0..5 {
            let start = std::time::Instant::now();
            f()?;
            best = best.min(start.elapsed().as_secs_f64() * 1e3);
        }
        Ok(best)
    };
    for threads in [1, 2] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .map_err(|e| candle_core::Error::Msg(e.to_string()))?;
        pool.install(|| -> R<()> {
            let forward = best_of(&|| head.forward(&r).map(|_| ()))?;
            let both = best_of(&|| Ok((head.forward(&r)? * &c)?.sum_all()?.backward().map(|_| ())?))?;
            let seeding = best_of(&|| Ok((plain.as_tensor() * &c)?.sum_all()?.backward().map(|_| ())?))?;
            println!(
                "recurrent head B=16 T=1538, {threads} thread(s), best of 5: forward {forward:.1} ms, \
                 forward+backward {both:.1} ms (of which gradient seeding {seeding:.1} ms)"
            );
            Ok(())
        })?;
    }
    Ok(())
}

#[test]
fn empty_sequences_give_empty_outputs() -> R<()> {
    let w = Tensor::zeros((33, 11), DType::F32, &Device::Cpu)?;
    let b = Tensor::zeros(33, DType::F32, &Device::Cpu)?;
    let gx = Var::zeros((2, 0, 33), DType::F32, &Device::Cpu)?;
    let out = gru_recurrence(&gx, &w, &b, false)?;
    assert_eq!(out.dims(), &[2, 0, 11]);
    let grads = out.sum_all()?.backward()?;
    assert_eq!(grads.get(&gx).expect("gradient").dims(), &[2, 0, 33]);
    let x = Tensor::zeros((2, 11, 0), DType::F32, &Device::Cpu)?;
    let w3 = Tensor::zeros((3, 1), DType::F32, &Device::Cpu)?;
    assert_eq!(component_scan_gru(&x, &w3, &w3)?.dims(), &[2, 11, 0]);
    Ok(())
}
