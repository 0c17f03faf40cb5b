//! x2 linear up-sampling over the last axis as PyTorch's `interpolate(mode='linear',
//! align_corners=False)`: out[2q] = 0.75 in[q] + 0.25 in[q-1], out[2q+1] = 0.75 in[q] +
//! 0.25 in[q+1], indices clamped to the row (edge replication). The backward pass is the
//! transpose of that fixed linear map (candle 0.11.1's up-sampling ops have none).

use candle_core::{Device, Layout, Result, Shape, Tensor, WithDType, D};

use super::kernel::{map_rows, Float, Map1};

/// (B, C, L) -> (B, C, 2L).
pub fn upsample_linear2(x: &Tensor) -> Result<Tensor> {
    let (_, _, l) = x.dims3()?;
    if l == 0 {
        candle_core::bail!("upsample_linear2: empty input");
    }
    match x.device() {
        Device::Cpu => UpsampleLinear2.apply(x),
        _ => composed(x),
    }
}

/// The same map from candle ops (edge pad, three shifted views, interleave), whose autograd is
/// right: the path for devices without the custom kernel.
fn composed(x: &Tensor) -> Result<Tensor> {
    let (b, c, l) = x.dims3()?;
    let padded = x.pad_with_same(2, 1, 1)?;
    let left = padded.narrow(2, 0, l)?;
    let centre = padded.narrow(2, 1, l)?;
    let right = padded.narrow(2, 2, l)?;
    let even = ((&centre * 0.75)? + (left * 0.25)?)?;
    let odd = ((centre * 0.75)? + (right * 0.25)?)?;
    Tensor::stack(&[even, odd], D::Minus1)?.reshape((b, c, 2 * l))
}

struct UpsampleLinear2;

/// Output gradient -> input gradient.
struct UpsampleLinear2Grad;

/// Rows of `len` samples, each up-sampled x2 (also the inference U-Net's path).
pub(crate) fn forward<T: WithDType>(x: &[T], len: usize) -> Vec<T> {
    map_rows(x, len, 2 * len, forward_row)
}

/// One row: `y` (2 x.len() samples) = the up-sampled `x`.
pub(crate) fn forward_row<T: WithDType>(x: &[T], y: &mut [T]) {
    let (near, far) = (T::from_f64(0.75), T::from_f64(0.25));
    let len = x.len();
    for q in 0..len {
        let c = near * x[q];
        y[2 * q] = c + far * x[q.saturating_sub(1)];
        y[2 * q + 1] = c + far * x[(q + 1).min(len - 1)];
    }
}

/// One row's input gradient (the transpose of the map above): `g` has 2 dx.len() samples;
/// `dx` is overwritten.
pub(crate) fn backward_row<T: WithDType>(g: &[T], dx: &mut [T]) {
    let (near, far) = (T::from_f64(0.75), T::from_f64(0.25));
    let len = dx.len();
    dx.fill(T::from_f64(0.0));
    for q in 0..len {
        let (ge, go) = (g[2 * q], g[2 * q + 1]);
        dx[q] += near * (ge + go);
        dx[q.saturating_sub(1)] += far * ge;
        dx[(q + 1).min(len - 1)] += far * go;
    }
}

impl Map1 for UpsampleLinear2 {
    const OP: &'static str = "upsample-linear2";

    fn shape(&self, l: &Layout) -> Result<Shape> {
        let (b, c, len) = l.shape().dims3()?;
        Ok(Shape::from((b, c, 2 * len)))
    }

    fn f<T: Float>(&self, x: &[T], l: &Layout) -> Result<Vec<T>> {
        Ok(forward(x, l.shape().dims3()?.2))
    }

    fn bwd(&self, _x: &Tensor, _y: &Tensor, g: &Tensor) -> Result<Option<Tensor>> {
        Ok(Some(UpsampleLinear2Grad.apply_no_bwd(g)?))
    }
}

impl Map1 for UpsampleLinear2Grad {
    const OP: &'static str = "upsample-linear2-grad";

    fn shape(&self, l: &Layout) -> Result<Shape> {
        let (b, c, len2) = l.shape().dims3()?;
        if len2 % 2 != 0 {
            candle_core::bail!("{}: odd gradient length {len2}", Self::OP);
        }
        Ok(Shape::from((b, c, len2 / 2)))
    }

    fn f<T: Float>(&self, g: &[T], l: &Layout) -> Result<Vec<T>> {
        let len = l.shape().dims3()?.2 / 2;
        Ok(map_rows(g, 2 * len, len, |g, dx| backward_row(g, dx)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::gradcheck::{assert_gradients, pseudo_random};

    #[test]
    fn forward_matches_pytorch_linear_align_corners_false() {
        // torch.nn.functional.interpolate(tensor([[[1., 2., 4.]]]), scale_factor=2,
        // mode='linear', align_corners=False)
        let x = Tensor::new(&[[[1.0f64, 2.0, 4.0]]], &Device::Cpu).unwrap();
        let y = upsample_linear2(&x).unwrap().to_vec3::<f64>().unwrap();
        assert_eq!(y, vec![vec![vec![1.0, 1.25, 1.75, 2.5, 3.5, 4.0]]]);
        let one = Tensor::new(&[[[7.0f64]]], &Device::Cpu).unwrap();
        assert_eq!(
            upsample_linear2(&one).unwrap().to_vec3::<f64>().unwrap(),
            vec![vec![vec![7.0, 7.0]]]
        );
    }

    #[test]
    fn gradient_matches_finite_differences() {
        for len in [1, 2, 5] {
            let x = pseudo_random((2, 3, len), 7);
            let proj = pseudo_random((2, 3, 2 * len), 8);
            assert_gradients(&[x], |t| upsample_linear2(&t[0])?.mul(&proj), 1e-6, 1e-8);
        }
    }

    #[test]
    fn long_rows_and_gradients_match_the_composed_version() {
        let x = candle_core::Var::from_tensor(&pseudo_random((2, 2, 9_000), 9)).unwrap();
        let proj = pseudo_random((2, 2, 18_000), 10);
        let fast = upsample_linear2(&x).unwrap();
        let slow = composed(&x).unwrap();
        let diff = (&fast - &slow).unwrap().abs().unwrap().max_all().unwrap();
        assert!(diff.to_scalar::<f64>().unwrap() < 1e-15);
        let grad = |y: Tensor| {
            let g = y.mul(&proj).unwrap().sum_all().unwrap().backward().unwrap();
            g.get(&x).unwrap().clone()
        };
        let diff = (grad(fast) - grad(slow))
            .unwrap()
            .abs()
            .unwrap()
            .max_all()
            .unwrap();
        assert!(diff.to_scalar::<f64>().unwrap() < 1e-12);
    }
}
