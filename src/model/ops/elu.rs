//! ELU with alpha = 1: y = x for x > 0, exp(x) - 1 otherwise. The backward pass reads only the
//! output (dy/dx = 1 where y > 0, y + 1 elsewhere), so no input has to be kept.

use candle_core::{CpuStorage, Device, Layout, Result, Shape, Tensor, WithDType};
use rayon::prelude::*;

/// Elements per parallel work item.
const CHUNK: usize = 1 << 14;

pub fn elu(x: &Tensor) -> Result<Tensor> {
    match x.device() {
        Device::Cpu => x.contiguous()?.apply_op1(Elu),
        _ => x.elu(1.0),
    }
}

struct Elu;

/// (output, output gradient) -> input gradient.
struct EluGrad;

/// The exponential for the two float types the ops support.
trait Exp: WithDType {
    fn exp(self) -> Self;
}

impl Exp for f32 {
    fn exp(self) -> Self {
        f32::exp(self)
    }
}

impl Exp for f64 {
    fn exp(self) -> Self {
        f64::exp(self)
    }
}

fn slice<'a, T: WithDType>(s: &'a CpuStorage, l: &Layout) -> Result<&'a [T]> {
    let data = T::cpu_storage_as_slice(s)?;
    match l.contiguous_offsets() {
        Some((a, b)) => Ok(&data[a..b]),
        None => candle_core::bail!("elu: operand must be contiguous"),
    }
}

fn forward<T: Exp>(x: &[T]) -> Vec<T> {
    let zero = T::from_f64(0.0);
    let one = T::from_f64(1.0);
    let mut y = vec![zero; x.len()];
    y.par_chunks_mut(CHUNK)
        .zip(x.par_chunks(CHUNK))
        .for_each(|(y, x)| {
            for (y, &x) in y.iter_mut().zip(x) {
                *y = if x > zero { x } else { x.exp() - one };
            }
        });
    y
}

fn backward<T: WithDType>(y: &[T], g: &[T]) -> Vec<T> {
    let zero = T::from_f64(0.0);
    let one = T::from_f64(1.0);
    let mut dx = vec![zero; y.len()];
    dx.par_chunks_mut(CHUNK)
        .zip(y.par_chunks(CHUNK).zip(g.par_chunks(CHUNK)))
        .for_each(|(dx, (y, g))| {
            for ((dx, &y), &g) in dx.iter_mut().zip(y).zip(g) {
                *dx = if y > zero { g } else { g * (y + one) };
            }
        });
    dx
}

impl candle_core::CustomOp1 for Elu {
    fn name(&self) -> &'static str {
        "elu"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let out = match s {
            CpuStorage::F32(_) => CpuStorage::F32(forward(slice::<f32>(s, l)?)),
            CpuStorage::F64(_) => CpuStorage::F64(forward(slice::<f64>(s, l)?)),
            _ => candle_core::bail!("elu: f32 or f64 input required"),
        };
        Ok((out, l.shape().clone()))
    }

    fn bwd(&self, _x: &Tensor, y: &Tensor, g: &Tensor) -> Result<Option<Tensor>> {
        Ok(Some(y.apply_op2_no_bwd(&g.contiguous()?, &EluGrad)?))
    }
}

impl candle_core::CustomOp2 for EluGrad {
    fn name(&self) -> &'static str {
        "elu-grad"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        if l1.shape() != l2.shape() {
            candle_core::bail!(
                "elu-grad: shapes {:?} and {:?} differ",
                l1.shape(),
                l2.shape()
            );
        }
        let out = match (s1, s2) {
            (CpuStorage::F32(_), CpuStorage::F32(_)) => {
                CpuStorage::F32(backward(slice::<f32>(s1, l1)?, slice::<f32>(s2, l2)?))
            }
            (CpuStorage::F64(_), CpuStorage::F64(_)) => {
                CpuStorage::F64(backward(slice::<f64>(s1, l1)?, slice::<f64>(s2, l2)?))
            }
            _ => candle_core::bail!("elu-grad: f32 or f64 operands of one type required"),
        };
        Ok((out, l1.shape().clone()))
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
    fn gradient_matches_finite_differences() {
        let x = (pseudo_random((2, 3, 7), 2) * 2.0).unwrap();
        let proj = pseudo_random((2, 3, 7), 3);
        assert_gradients(&[x], |t| elu(&t[0])?.mul(&proj), 1e-6, 1e-8);
    }
}
