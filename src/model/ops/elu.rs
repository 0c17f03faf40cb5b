//! ELU with alpha = 1: y = x for x > 0, exp(x) - 1 otherwise. The backward pass reads only the
//! output (dy/dx = 1 where y > 0, y + 1 elsewhere), so no input has to be kept.

use candle_core::{Device, Layout, Result, Shape, Tensor};
use rayon::prelude::*;

use super::kernel::{elu_grad, same_shape, Float, Map1, Map2};
use super::simd::multiversion;

/// Elements per parallel work item.
const CHUNK: usize = 1 << 14;

pub fn elu(x: &Tensor) -> Result<Tensor> {
    match x.device() {
        Device::Cpu => Elu.apply(x),
        _ => x.elu(1.0),
    }
}

struct Elu;

/// (output, output gradient) -> input gradient.
struct EluGrad;

multiversion! {
    /// ELU of every element, in place (for ops that fuse it into their own output tiles),
    /// on the widest vector unit: ELUs are a third of the U-Net.
    pub(crate) fn elu_in_place<T: Float>(xs: &mut [T]) => elu_in_place_portable
}

#[inline(always)]
fn elu_in_place_portable<T: Float>(xs: &mut [T]) {
    let zero = T::from_f64(0.0);
    for x in xs {
        let neg = x.exp_m1_neg();
        *x = if *x > zero { *x } else { neg };
    }
}

/// The ELU backward from its output `y` and the output gradient `g`, without autograd.
pub(crate) fn elu_grad_from_output(y: &Tensor, g: &Tensor) -> Result<Tensor> {
    EluGrad.apply_no_bwd(y, g)
}

fn forward<T: Float>(x: &[T]) -> Vec<T> {
    let zero = T::from_f64(0.0);
    let mut y = vec![zero; x.len()];
    y.par_chunks_mut(CHUNK)
        .zip(x.par_chunks(CHUNK))
        .for_each(|(y, x)| {
            for (y, &x) in y.iter_mut().zip(x) {
                // Computed for every element so that the loop has no branch and vectorises.
                let neg = x.exp_m1_neg();
                *y = if x > zero { x } else { neg };
            }
        });
    y
}

fn backward<T: Float>(y: &[T], g: &[T]) -> Vec<T> {
    let mut dx = vec![T::from_f64(0.0); y.len()];
    dx.par_chunks_mut(CHUNK)
        .zip(y.par_chunks(CHUNK).zip(g.par_chunks(CHUNK)))
        .for_each(|(dx, (y, g))| {
            for ((dx, &y), &g) in dx.iter_mut().zip(y).zip(g) {
                *dx = elu_grad(y, g);
            }
        });
    dx
}

impl Map1 for Elu {
    const OP: &'static str = "elu";

    fn shape(&self, l: &Layout) -> Result<Shape> {
        Ok(l.shape().clone())
    }

    fn f<T: Float>(&self, x: &[T], _: &Layout) -> Result<Vec<T>> {
        Ok(forward(x))
    }

    fn bwd(&self, _x: &Tensor, y: &Tensor, g: &Tensor) -> Result<Option<Tensor>> {
        Ok(Some(EluGrad.apply_no_bwd(y, g)?))
    }
}

impl Map2 for EluGrad {
    const OP: &'static str = "elu-grad";

    fn shape(&self, ly: &Layout, lg: &Layout) -> Result<Shape> {
        same_shape(Self::OP, ly, lg)
    }

    fn f<T: Float>(&self, y: &[T], _: &Layout, g: &[T], _: &Layout) -> Result<Vec<T>> {
        Ok(backward(y, g))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::gradcheck::{assert_gradients, pseudo_random};

    #[test]
    fn forward_is_elu_with_alpha_one() {
        let x = Tensor::new(&[-2.0f64, -0.5, 0.0, 0.25, 3.0], &Device::Cpu).unwrap();
        let y = elu(&x).unwrap().to_vec1::<f64>().unwrap();
        let want = [(-2.0f64).exp() - 1.0, (-0.5f64).exp() - 1.0, 0.0, 0.25, 3.0];
        for (a, b) in y.iter().zip(want) {
            assert!((a - b).abs() < 1e-15, "{y:?}");
        }
        let x32 = (pseudo_random((3, 4, 50_001), 1) * 3.0)
            .unwrap()
            .to_dtype(candle_core::DType::F32)
            .unwrap();
        let ours = elu(&x32).unwrap();
        let candle = x32.elu(1.0).unwrap();
        let diff = (ours - candle).unwrap().abs().unwrap().max_all().unwrap();
        assert!(diff.to_scalar::<f32>().unwrap() < 1e-6);
    }

    #[test]
    fn fast_f32_branch_is_accurate_over_its_whole_range() {
        let xs: Vec<f32> = (0..=200_000).map(|i| -100.0 + i as f32 * 5e-4).collect();
        let ys = elu(&Tensor::new(xs.as_slice(), &Device::Cpu).unwrap())
            .unwrap()
            .to_vec1::<f32>()
            .unwrap();
        for (&x, &y) in xs.iter().zip(&ys) {
            let want = if x > 0.0 {
                x as f64
            } else {
                (x as f64).exp_m1()
            };
            assert!(
                (y as f64 - want).abs() < 3e-7,
                "elu({x}) = {y}, want {want}"
            );
        }
    }

    #[test]
    fn gradient_matches_finite_differences() {
        let x = (pseudo_random((2, 3, 7), 2) * 2.0).unwrap();
        let proj = pseudo_random((2, 3, 7), 3);
        assert_gradients(&[x], |t| elu(&t[0])?.mul(&proj), 1e-6, 1e-8);
    }
}
