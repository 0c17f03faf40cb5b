//! Finite-difference gradient checks for tests of hand-written backward passes.
//!
//! Every custom op in this crate has its own backward pass, and candle's own conv1d gradient is
//! known to be wrong, so autograd cannot be trusted blindly: each test compares the autograd
//! gradient of a scalar loss with central differences, element by element, in f64.

use candle_core::{DType, Device, Result, Shape, Tensor, Var};

/// The worst disagreement between autograd and central differences.
#[derive(Debug, Clone, PartialEq)]
pub struct GradMismatch {
    /// Index of the input in the slice given to [`max_gradient_error`].
    pub input: usize,
    /// Flat (row-major) element index inside that input.
    pub element: usize,
    pub analytic: f64,
    pub numeric: f64,
    /// |analytic - numeric| / max(1, |numeric|).
    pub error: f64,
}

/// Perturbs every element of every input by ±`eps` and compares (loss(+) - loss(-)) / 2eps
/// with the autograd gradient of `loss`. Inputs must be f64; `loss` may return any shape (its
/// elements are summed). Returns the element with the largest scaled error.
pub fn max_gradient_error<F>(inputs: &[Tensor], loss: F, eps: f64) -> Result<GradMismatch>
where
    F: Fn(&[Tensor]) -> Result<Tensor>,
{
    for (i, t) in inputs.iter().enumerate() {
        if t.dtype() != DType::F64 {
            candle_core::bail!("gradcheck: input {i} is {:?}, needs f64", t.dtype());
        }
    }
    let vars = inputs
        .iter()
        .map(|t| Var::from_tensor(&t.detach()))
        .collect::<Result<Vec<_>>>()?;
    let tracked: Vec<Tensor> = vars.iter().map(|v| v.as_tensor().clone()).collect();
    let grads = loss(&tracked)?.sum_all()?.backward()?;

    let eval = |ts: &[Tensor]| -> Result<f64> { loss(ts)?.sum_all()?.to_scalar::<f64>() };
    let mut worst = GradMismatch {
        input: 0,
        element: 0,
        analytic: 0.0,
        numeric: 0.0,
        error: -1.0,
    };
    for (i, var) in vars.iter().enumerate() {
        let analytic = match grads.get(var.as_tensor()) {
            Some(g) => g.flatten_all()?.to_vec1::<f64>()?,
            None => vec![0.0; var.elem_count()],
        };
        let base = inputs[i].flatten_all()?.to_vec1::<f64>()?;
        let shape = inputs[i].shape().clone();
        let mut probe: Vec<Tensor> = inputs.iter().map(|t| t.detach()).collect();
        for (j, &a) in analytic.iter().enumerate() {
            let mut shifted = base.clone();
            shifted[j] = base[j] + eps;
            probe[i] = Tensor::from_vec(shifted.clone(), &shape, inputs[i].device())?;
            let plus = eval(&probe)?;
            shifted[j] = base[j] - eps;
            probe[i] = Tensor::from_vec(shifted, &shape, inputs[i].device())?;
            let minus = eval(&probe)?;
            let numeric = (plus - minus) / (2.0 * eps);
            let error = (a - numeric).abs() / numeric.abs().max(1.0);
            if error > worst.error {
                worst = GradMismatch {
                    input: i,
                    element: j,
                    analytic: a,
                    numeric,
                    error,
                };
            }
        }
    }
    Ok(worst)
}

/// Panics (test helper) when any gradient element disagrees with central differences by more
/// than `tol` (scaled as in [`GradMismatch::error`]).
pub fn assert_gradients<F>(inputs: &[Tensor], loss: F, eps: f64, tol: f64)
where
    F: Fn(&[Tensor]) -> Result<Tensor>,
{
    match max_gradient_error(inputs, loss, eps) {
        Ok(worst) => assert!(
            worst.error <= tol,
            "gradient mismatch (tolerance {tol}): {worst:?}"
        ),
        Err(e) => panic!("gradient check failed to run: {e}"),
    }
}

/// max |other - reference| over max |reference| (any float dtype, compared in f64): how far a
/// fast path strays from the path it is tested against.
pub fn max_rel_diff(reference: &Tensor, other: &Tensor) -> f64 {
    max_abs_diff(reference, other) / max_abs(reference).max(1e-30)
}

/// max |t| of a float tensor, in f64.
pub fn max_abs(t: &Tensor) -> f64 {
    t.flatten_all()
        .and_then(|t| t.to_dtype(candle_core::DType::F64))
        .and_then(|t| t.abs()?.max_all()?.to_scalar::<f64>())
        .expect("max |t| of a float tensor")
}

/// max |a - b| of two float tensors of one shape, in f64.
pub fn max_abs_diff(a: &Tensor, b: &Tensor) -> f64 {
    let f64s = |t: &Tensor| t.to_dtype(candle_core::DType::F64).expect("a float tensor");
    max_abs(&(f64s(a) - f64s(b)).expect("tensors of one shape"))
}

pub fn pseudo_random<S: Into<Shape>>(shape: S, seed: u64) -> Tensor {
    let shape = shape.into();
    let mut s = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let data: Vec<f64> = (0..shape.elem_count())
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
        })
        .collect();
    // from_vec only fails on a length/shape mismatch, impossible here.
    Tensor::from_vec(data, shape, &Device::Cpu).expect("length equals the shape's element count")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_a_wrong_gradient_and_accepts_a_right_one() {
        let x = Tensor::new(&[0.3f64, -1.2, 2.0], &Device::Cpu).unwrap();
        // d/dx sum(x^3) = 3x^2: candle's own powf backward is right.
        let right = max_gradient_error(std::slice::from_ref(&x), |t| t[0].powf(3.0), 1e-5).unwrap();
        assert!(right.error < 1e-6, "{right:?}");
        // detach() hides the x^2 factor from autograd: the gradient is wrong on purpose.
        let wrong = max_gradient_error(
            &[x],
            |t| {
                let stop = t[0].sqr()?.detach();
                t[0].mul(&stop)
            },
            1e-5,
        )
        .unwrap();
        assert_eq!(wrong.input, 0);
        assert_eq!(wrong.element, 1);
        assert!((wrong.analytic - 1.44).abs() < 1e-9, "{wrong:?}");
        assert!((wrong.numeric - 3.0 * 1.44).abs() < 1e-6, "{wrong:?}");
    }
}
