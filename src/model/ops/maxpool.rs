//! 1-D max-pooling over the last axis, kernel 2, stride 2, floor mode (an odd trailing sample
//! is dropped). The backward pass routes each gradient to the arg-max of its pair, the first
//! one on ties (candle 0.11.1's own max-pool backward scales the gradient by 1/k).

use candle_core::{Device, Layout, Result, Shape, Tensor, WithDType, D};
use rayon::prelude::*;

use super::kernel::{map_rows, rows_per_item, Float, Map1, Map2};

/// (B, C, L) -> (B, C, L / 2).
pub fn max_pool2(x: &Tensor) -> Result<Tensor> {
    let (b, c, l) = x.dims3()?;
    if l < 2 {
        candle_core::bail!("max_pool2: length {l} is shorter than the pool size 2");
    }
    match x.device() {
        Device::Cpu => MaxPool2.apply(x),
        _ => composed(x, b, c, l),
    }
}

/// Pairs as a trailing axis of 2 and a max over it, whose candle autograd is right (unlike
/// candle's max_pool; on exact ties it sends the gradient to both elements of the pair): the
/// path for devices without the custom kernel.
fn composed(x: &Tensor, b: usize, c: usize, l: usize) -> Result<Tensor> {
    x.narrow(2, 0, l / 2 * 2)?
        .reshape((b, c, l / 2, 2))?
        .max(D::Minus1)
}

struct MaxPool2;

/// (input, output gradient) -> input gradient.
struct MaxPool2Grad;

/// One row: y[q] = max(x[2q], x[2q + 1]) for q < y.len() (= x.len() / 2).
pub(crate) fn forward_row<T: WithDType>(x: &[T], y: &mut [T]) {
    for (y, pair) in y.iter_mut().zip(x.chunks_exact(2)) {
        *y = if pair[1] > pair[0] { pair[1] } else { pair[0] };
    }
}

/// One row's input gradient: each g[q] goes to the arg-max of pair q (the first on ties), every
/// other element of `dx` (including an odd tail) is set to zero.
pub(crate) fn backward_row<T: WithDType>(x: &[T], g: &[T], dx: &mut [T]) {
    let zero = T::from_f64(0.0);
    for ((d, pair), &g) in dx.chunks_exact_mut(2).zip(x.chunks_exact(2)).zip(g) {
        if pair[1] > pair[0] {
            d[0] = zero;
            d[1] = g;
        } else {
            d[0] = g;
            d[1] = zero;
        }
    }
    if dx.len() % 2 == 1 {
        dx[dx.len() - 1] = zero;
    }
}

fn backward<T: WithDType>(x: &[T], g: &[T], len: usize) -> Vec<T> {
    let half = len / 2;
    let mut dx = vec![T::from_f64(0.0); x.len()];
    let per = rows_per_item(len);
    dx.par_chunks_mut(per * len)
        .zip(x.par_chunks(per * len).zip(g.par_chunks(per * half)))
        .for_each(|(dx, (x, g))| {
            for ((dx, x), g) in dx.chunks_mut(len).zip(x.chunks(len)).zip(g.chunks(half)) {
                backward_row(x, g, dx);
            }
        });
    dx
}

impl Map1 for MaxPool2 {
    const OP: &'static str = "max-pool2";

    fn shape(&self, l: &Layout) -> Result<Shape> {
        let (b, c, len) = l.shape().dims3()?;
        Ok(Shape::from((b, c, len / 2)))
    }

    fn f<T: Float>(&self, x: &[T], l: &Layout) -> Result<Vec<T>> {
        let len = l.shape().dims3()?.2;
        Ok(map_rows(x, len, len / 2, forward_row))
    }

    fn bwd(&self, x: &Tensor, _y: &Tensor, g: &Tensor) -> Result<Option<Tensor>> {
        Ok(Some(MaxPool2Grad.apply_no_bwd(x, g)?))
    }
}

impl Map2 for MaxPool2Grad {
    const OP: &'static str = "max-pool2-grad";

    fn shape(&self, lx: &Layout, lg: &Layout) -> Result<Shape> {
        let (b, c, len) = lx.shape().dims3()?;
        if lg.shape().dims3()? != (b, c, len / 2) {
            candle_core::bail!("{}: gradient shape {:?}", Self::OP, lg.shape());
        }
        Ok(lx.shape().clone())
    }

    fn f<T: Float>(&self, x: &[T], lx: &Layout, g: &[T], _: &Layout) -> Result<Vec<T>> {
        Ok(backward(x, g, lx.shape().dims3()?.2))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::gradcheck::{assert_gradients, pseudo_random};

    #[test]
    fn forward_takes_pair_maxima_and_drops_odd_tail() {
        let x = Tensor::new(&[[[1.0f64, 3.0, -2.0, -5.0, 4.0, 4.0, 9.0]]], &Device::Cpu).unwrap();
        let y = max_pool2(&x).unwrap();
        assert_eq!(
            y.to_vec3::<f64>().unwrap(),
            vec![vec![vec![3.0, -2.0, 4.0]]]
        );
    }

    #[test]
    fn gradient_goes_to_first_arg_max_and_skips_the_tail() {
        let x = Tensor::new(&[[[1.0f64, 3.0, -2.0, -5.0, 4.0, 4.0, 9.0]]], &Device::Cpu).unwrap();
        let x = candle_core::Var::from_tensor(&x).unwrap();
        let g = Tensor::new(&[[[10.0f64, 20.0, 30.0]]], &Device::Cpu).unwrap();
        let grads = max_pool2(&x)
            .unwrap()
            .mul(&g)
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap();
        let dx = grads.get(&x).unwrap().to_vec3::<f64>().unwrap();
        assert_eq!(dx, vec![vec![vec![0.0, 10.0, 20.0, 0.0, 30.0, 0.0, 0.0]]]);
    }

    #[test]
    fn matches_reshape_max_and_finite_differences() {
        // Long rows span several parallel work items.
        let x = pseudo_random((2, 3, 20_001), 4);
        let ours = max_pool2(&x).unwrap();
        let reference = x
            .narrow(2, 0, 20_000)
            .unwrap()
            .reshape((2, 3, 10_000, 2))
            .unwrap();
        let diff = (ours - reference.max(D::Minus1).unwrap())
            .unwrap()
            .abs()
            .unwrap();
        assert_eq!(diff.max_all().unwrap().to_scalar::<f64>().unwrap(), 0.0);

        let x = pseudo_random((2, 3, 9), 5);
        let proj = pseudo_random((2, 3, 4), 6);
        assert_gradients(&[x], |t| max_pool2(&t[0])?.mul(&proj), 1e-6, 1e-8);
    }

    #[test]
    fn pooling_commutes_with_elu_exactly() {
        // The U-Net pools before its ELU (half the ELU work); the release does ELU first.
        let x = (pseudo_random((2, 3, 101), 12) * 3.0).unwrap();
        let elu = crate::model::ops::elu::elu;
        let a = max_pool2(&elu(&x).unwrap()).unwrap();
        let b = elu(&max_pool2(&x).unwrap()).unwrap();
        assert_eq!(a.to_vec3::<f64>().unwrap(), b.to_vec3::<f64>().unwrap());
    }
}
