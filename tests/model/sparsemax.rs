//! Sparsemax op (simplex projection, exact zeros, analytic gradient) and the multiply
//! double-sparsemax branches.

use candle_core::{DType, Device, Tensor, Var};
use drummernet::model::config::BranchKind;
use drummernet::model::ops::sparsemax::{sparsemax_last_dim, sparsemax_last_dim_composed};
use drummernet::model::sparsemax::SparseBranches;
use drummernet::model::ModelConfig;
use proptest::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

type R<T> = drummernet::error::Result<T>;

fn uniform(rng: &mut ChaCha8Rng, shape: &[usize], scale: f64) -> R<Tensor> {
    let n: usize = shape.iter().product();
    let v: Vec<f64> = (0..n).map(|_| rng.random_range(-scale..scale)).collect();
    Ok(Tensor::from_vec(v, shape, &Device::Cpu)?)
}

fn values(t: &Tensor) -> R<Vec<f64>> {
    Ok(t.flatten_all()?.to_dtype(DType::F64)?.to_vec1::<f64>()?)
}

/// Euclidean projection onto the simplex by bisection on τ: Σ max(z_i − τ, 0) = 1.
fn projection_by_bisection(z: &[f64]) -> Vec<f64> {
    let mass = |tau: f64| z.iter().map(|v| (v - tau).max(0.0)).sum::<f64>();
    let max = z.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let (mut lo, mut hi) = (max - 1.0, max);
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if mass(mid) > 1.0 {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    let tau = 0.5 * (lo + hi);
    z.iter().map(|v| (v - tau).max(0.0)).collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn rows_are_points_of_the_simplex(z in prop::collection::vec(-20.0f32..20.0, 1..70)) {
        let n = z.len();
        let x = Tensor::from_vec(z, (1, n), &Device::Cpu).unwrap();
        let p = values(&sparsemax_last_dim(&x).unwrap()).unwrap();
        let sum: f64 = p.iter().sum();
        prop_assert!((sum - 1.0).abs() < 1e-5, "sum {}", sum);
        prop_assert!(p.iter().all(|v| (0.0..=1.0).contains(v)));
    }

    #[test]
    fn equals_the_euclidean_projection(z in prop::collection::vec(-5.0f64..5.0, 1..20)) {
        let n = z.len();
        let x = Tensor::from_vec(z.clone(), (1, n), &Device::Cpu).unwrap();
        let p = values(&sparsemax_last_dim(&x).unwrap()).unwrap();
        let reference = projection_by_bisection(&z);
        for (a, b) in p.iter().zip(&reference) {
            prop_assert!((a - b).abs() < 1e-9, "{:?} vs {:?}", p, reference);
        }
    }
}

#[test]
fn spread_inputs_give_exact_zeros() -> R<()> {
    let x = Tensor::new(
        &[[0.0f32, 1.0, 2.0, 3.0, 10.0], [0.1, 0.2, 0.0, -3.0, 0.15]],
        &Device::Cpu,
    )?;
    let p = sparsemax_last_dim(&x)?.to_vec2::<f32>()?;
    assert_eq!(p[0], vec![0.0, 0.0, 0.0, 0.0, 1.0]);
    // Second row: support {0.1, 0.2, 0.0, 0.15}, τ = (0.45 − 1)/4; −3.0 falls outside.
    let tau = (0.45f32 - 1.0) / 4.0;
    let expected = [0.1 - tau, 0.2 - tau, -tau, 0.0, 0.15 - tau];
    for (a, b) in p[1].iter().zip(expected) {
        assert!((a - b).abs() < 1e-6, "{:?}", p[1]);
    }
    Ok(())
}

#[test]
fn works_on_strided_and_higher_rank_inputs() -> R<()> {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let x = uniform(&mut rng, &[2, 5, 3, 7], 2.0)?;
    let transposed = x.transpose(1, 3)?; // (2, 7, 3, 5), not contiguous
    let p = sparsemax_last_dim(&transposed)?;
    assert_eq!(p.dims(), &[2, 7, 3, 5]);
    let reference = sparsemax_last_dim_composed(&transposed)?;
    let diff = values(&(p - reference)?.abs()?)?
        .into_iter()
        .fold(0.0, f64::max);
    assert!(diff < 1e-12, "op vs composed: {diff}");
    Ok(())
}

#[test]
fn gradient_matches_finite_differences_and_vanishes_outside_support() -> R<()> {
    let mut rng = ChaCha8Rng::seed_from_u64(12);
    let (rows, n) = (6, 11);
    let x = Var::from_tensor(&uniform(&mut rng, &[rows, n], 1.5)?)?;
    let c = uniform(&mut rng, &[rows, n], 1.0)?;
    let loss = |composed: bool| -> R<Tensor> {
        let p = if composed {
            sparsemax_last_dim_composed(&x)?
        } else {
            sparsemax_last_dim(&x)?
        };
        Ok((p * &c)?.sum_all()?)
    };
    let analytic = values(loss(false)?.backward()?.get(&x).expect("gradient"))?;
    let autograd = values(loss(true)?.backward()?.get(&x).expect("gradient"))?;
    let base = values(x.as_tensor())?;
    let out = values(&sparsemax_last_dim(x.as_tensor())?)?;
    let eps = 1e-7;
    let mut zeros_seen = 0;
    for i in 0..base.len() {
        let mut shifted = base.clone();
        shifted[i] += eps;
        x.set(&Tensor::from_vec(shifted.clone(), (rows, n), &Device::Cpu)?)?;
        let plus = loss(false)?.to_scalar::<f64>()?;
        shifted[i] = base[i] - eps;
        x.set(&Tensor::from_vec(shifted, (rows, n), &Device::Cpu)?)?;
        let minus = loss(false)?.to_scalar::<f64>()?;
        let numeric = (plus - minus) / (2.0 * eps);
        assert!(
            (analytic[i] - numeric).abs() < 1e-6,
            "[{i}] analytic {} vs numeric {numeric}",
            analytic[i]
        );
        assert!((analytic[i] - autograd[i]).abs() < 1e-12, "[{i}] composed");
        if out[i] == 0.0 {
            assert_eq!(analytic[i], 0.0, "[{i}] outside the support");
            zeros_seen += 1;
        }
    }
    assert!(zeros_seen > 0, "the test input must have zeros");
    Ok(())
}

fn branches(kind: BranchKind, window: usize) -> SparseBranches {
    SparseBranches::new(&ModelConfig {
        branches: kind,
        sparsemax_window: window,
        ..ModelConfig::default()
    })
}

#[test]
fn multiply_branches_at_training_length() -> R<()> {
    let mut rng = ChaCha8Rng::seed_from_u64(13);
    let dense = uniform(&mut rng, &[2, 11, 1538], 1.0)?.to_dtype(DType::F32)?;
    let b = branches(BranchKind::Sparsemax, 64);
    let out = b.forward(&dense)?;
    assert_eq!(out.dims(), &[2, 11, 1538]);
    let v = values(&out)?;
    assert!(v.iter().all(|x| (0.0..=1.0).contains(x)));
    assert!(
        v.iter().filter(|x| **x == 0.0).count() > v.len() / 2,
        "mostly exact zeros"
    );

    let time = b.time_branch(&dense)?;
    assert_eq!(time.dims(), &[2, 11, 1600]);
    let window_mass = values(&time.reshape((2, 11, 25, 64))?.sum(3)?)?;
    assert!(
        window_mass.iter().all(|m| (m - 1.0).abs() < 1e-5),
        "window mass"
    );
    let inst = b.instrument_branch(&dense)?;
    let frame_mass = values(&inst.sum(1)?)?;
    assert!(
        frame_mass.iter().all(|m| (m - 1.0).abs() < 1e-5),
        "frame mass"
    );
    let product = (inst * time.narrow(2, 0, 1538)?)?;
    assert_eq!(values(&product)?, v);
    Ok(())
}

#[test]
fn padding_zeros_compete_in_the_last_window() -> R<()> {
    // Constant −10 everywhere: full windows spread mass evenly (1/4 per frame), but in the last
    // window the padded zeros win, so the 2 real frames get nothing.
    let dense = (Tensor::ones((1, 2, 10), DType::F64, &Device::Cpu)? * -10.0)?;
    let time = branches(BranchKind::Sparsemax, 4).time_branch(&dense)?;
    let t = values(&time)?;
    assert_eq!(time.dims(), &[1, 2, 12]);
    for component in 0..2 {
        let row = &t[component * 12..(component + 1) * 12];
        assert!(row[..8].iter().all(|v| (v - 0.25).abs() < 1e-12), "{row:?}");
        assert_eq!(&row[8..10], &[0.0, 0.0]);
        assert!((row[10] - 0.5).abs() < 1e-12 && (row[11] - 0.5).abs() < 1e-12);
    }
    Ok(())
}

#[test]
fn softmax_branches_are_dense_and_normalised() -> R<()> {
    let mut rng = ChaCha8Rng::seed_from_u64(14);
    let dense = uniform(&mut rng, &[1, 11, 100], 2.0)?;
    let b = branches(BranchKind::Softmax, 64);
    let v = values(&b.forward(&dense)?)?;
    assert!(v.iter().all(|x| *x > 0.0 && *x < 1.0));
    let window_mass = values(&b.time_branch(&dense)?.reshape((1, 11, 2, 64))?.sum(3)?)?;
    assert!(window_mass.iter().all(|m| (m - 1.0).abs() < 1e-12));
    Ok(())
}

#[test]
fn multiply_branches_gradient_matches_finite_differences() -> R<()> {
    let mut rng = ChaCha8Rng::seed_from_u64(15);
    let dense = Var::from_tensor(&uniform(&mut rng, &[2, 3, 10], 1.0)?)?;
    let c = uniform(&mut rng, &[2, 3, 10], 1.0)?;
    let b = branches(BranchKind::Sparsemax, 4);
    let loss = || -> R<Tensor> { Ok((b.forward(&dense)? * &c)?.sum_all()?) };
    let analytic = values(loss()?.backward()?.get(&dense).expect("gradient"))?;
    let base = values(dense.as_tensor())?;
    let eps = 1e-7;
    let mut nonzero = 0;
    for i in 0..base.len() {
        let mut shifted = base.clone();
        shifted[i] += eps;
        dense.set(&Tensor::from_vec(
            shifted.clone(),
            (2, 3, 10),
            &Device::Cpu,
        )?)?;
        let plus = loss()?.to_scalar::<f64>()?;
        shifted[i] = base[i] - eps;
        dense.set(&Tensor::from_vec(shifted, (2, 3, 10), &Device::Cpu)?)?;
        let minus = loss()?.to_scalar::<f64>()?;
        let numeric = (plus - minus) / (2.0 * eps);
        assert!(
            (analytic[i] - numeric).abs() < 1e-6,
            "[{i}] analytic {} vs numeric {numeric}",
            analytic[i]
        );
        if numeric.abs() > 1e-3 {
            nonzero += 1;
        }
    }
    assert!(nonzero > 5, "the check must exercise non-zero gradients");
    Ok(())
}

#[test]
fn the_silence_channel_takes_mass_from_every_drum_and_is_not_output() -> R<()> {
    let b = SparseBranches::new(&ModelConfig {
        sparsemax_window: 4,
        silence_channel: true,
        ..ModelConfig::default()
    });
    // Two drums and the silence channel over 8 frames: the silence channel wins frames 0-3
    // outright, and ties with drum 0 over frames 4-7.
    let mut dense = vec![0.0f64; 3 * 8];
    for t in 0..4 {
        dense[2 * 8 + t] = 5.0;
    }
    for t in 4..8 {
        dense[t] = 5.0;
        dense[2 * 8 + t] = 5.0;
    }
    let dense = Tensor::from_vec(dense, (1, 3, 8), &Device::Cpu)?;
    let out = b.forward(&dense)?;
    assert_eq!(out.dims(), &[1, 2, 8]);
    let v = values(&out)?;
    assert!(v[..4].iter().all(|x| *x == 0.0), "{v:?}");
    assert!(v[8..].iter().all(|x| *x == 0.0), "drum 1 never wins: {v:?}");
    // Drum 0 gets half of each frame 4-7, times its time branch's quarter.
    assert!(v[4..8].iter().all(|x| (x - 0.125).abs() < 1e-12), "{v:?}");

    // Without the channel the same drums must share all of frames 0-3.
    let drums_only = dense.narrow(1, 0, 2)?;
    let plain = values(&branches(BranchKind::Sparsemax, 4).forward(&drums_only)?)?;
    let mass: f64 = plain[..4].iter().chain(&plain[8..12]).sum();
    assert!(
        mass > 0.9,
        "without it, frames 0-3 carry drum mass: {plain:?}"
    );
    Ok(())
}
