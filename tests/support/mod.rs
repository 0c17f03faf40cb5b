//! Shared by the loss tests (`model/loss.rs`, `model/hpss.rs`): their test signal and the two
//! checks every loss variant gets (gradient against finite differences; fused ops against the
//! composed candle ops in value and gradient). Each test file uses part of it.
#![allow(dead_code)]

use candle_core::{DType, Device, Tensor, Var, WithDType};
use drummernet::model::loss::CqtLoss;

/// Deterministic broadband test signal.
pub fn noise(batch: usize, n: usize, seed: f64) -> Vec<f64> {
    (0..batch * n)
        .map(|i| 0.5 * (((i as f64 * 0.618_034 + seed).sin() * 43_758.545_3).fract() - 0.5))
        .collect()
}

pub fn scalar(t: &Tensor) -> f64 {
    t.to_dtype(DType::F64).unwrap().to_scalar::<f64>().unwrap()
}

/// d total / d var, flattened.
fn gradient<T: WithDType>(total: &Tensor, var: &Var) -> Vec<T> {
    let grads = total.backward().unwrap();
    let g = grads.get(var.as_tensor()).unwrap();
    g.flatten_all().unwrap().to_vec1::<T>().unwrap()
}

/// Central finite differences of the whole loss (f64) at `coords` of a one-item estimate of
/// `n` samples, scaled by `amplitude`, against the analytic gradient.
pub fn assert_gradient_matches_finite_differences(
    loss: &CqtLoss,
    n: usize,
    amplitude: f64,
    coords: &[usize],
) {
    let target = Tensor::from_vec(noise(1, n, 0.2), (1, n), &Device::Cpu).unwrap();
    let base: Vec<f64> = noise(1, n, 3.7).iter().map(|v| v * amplitude).collect();
    let estimate = Var::from_vec(base.clone(), (1, n), &Device::Cpu).unwrap();
    let out = loss.forward(&target, estimate.as_tensor()).unwrap();
    let grad: Vec<f64> = gradient(&out.total, &estimate);
    let value = |y: &[f64]| {
        let y = Tensor::from_slice(y, (1, n), &Device::Cpu).unwrap();
        scalar(&loss.forward(&target, &y).unwrap().total)
    };
    let h = 1e-6 * amplitude;
    let scale = grad.iter().fold(0f64, |m, g| m.max(g.abs()));
    for &i in coords {
        let mut plus = base.clone();
        plus[i] += h;
        let mut minus = base.clone();
        minus[i] -= h;
        let numeric = (value(&plus) - value(&minus)) / (2.0 * h);
        assert!(
            (numeric - grad[i]).abs() <= 1e-4 * grad[i].abs() + 1e-5 * scale,
            "n {n} sample {i}: analytic {} vs numeric {numeric}",
            grad[i]
        );
    }
}

/// One f32 evaluation of a loss on a two-item batch of `n` samples: total, per-scale terms and
/// the gradient with respect to the estimate.
pub struct LossRun {
    pub total: f64,
    pub per_scale: Vec<f64>,
    pub grad: Vec<f32>,
}

/// The same two-item f32 batch through each loss in `losses` (e.g. the fused ops and the
/// composed path).
pub fn run_on_one_batch(losses: &[&CqtLoss], n: usize) -> Vec<LossRun> {
    let f32_noise = |seed| {
        Tensor::from_vec(noise(2, n, seed), (2, n), &Device::Cpu)
            .unwrap()
            .to_dtype(DType::F32)
            .unwrap()
    };
    let (target, base) = (f32_noise(0.5), f32_noise(1.5));
    losses
        .iter()
        .map(|loss| {
            let estimate = Var::from_tensor(&base).unwrap();
            let out = loss.forward(&target, estimate.as_tensor()).unwrap();
            let grad = gradient(&out.total, &estimate);
            LossRun {
                total: scalar(&out.total),
                per_scale: out.per_scale.iter().map(|&v| v as f64).collect(),
                grad,
            }
        })
        .collect()
}
