//! Zero-insertion up-sampler (spec section 5): frame t of the low-rate activations becomes
//! sample factor·t, the factor − 1 samples after it are zero. No filtering: it quantises onsets to
//! one frame (1 ms), it does not interpolate.

use candle_core::{Tensor, D};

use crate::error::{Error, Result};

/// (B, K, T) -> (B, K, factor·T) with out[.., factor·t] = a[.., t] and zeros between. Built from
/// pad + reshape, so candle's autograd gives the backward (the gradient at the kept samples).
pub fn zero_insert(a: &Tensor, factor: usize) -> Result<Tensor> {
    let (b, k, t) = a.dims3().map_err(|_| {
        Error::Invalid(format!(
            "zero insertion: activations must be (B, K, T), got {:?}",
            a.dims()
        ))
    })?;
    if factor == 0 {
        return Err(Error::Invalid(
            "zero insertion: factor must be at least 1".into(),
        ));
    }
    if factor == 1 {
        return Ok(a.clone());
    }
    Ok(a.unsqueeze(D::Minus1)?
        .pad_with_zeros(D::Minus1, 0, factor - 1)?
        .reshape((b, k, t * factor))?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Var};

    #[test]
    fn places_frames_every_factor_samples_and_routes_gradient_back() -> Result<()> {
        let dev = Device::Cpu;
        let a = Var::from_vec(vec![1f32, 2., 3., 4., 5., 6.], (1, 2, 3), &dev)?;
        let y = zero_insert(a.as_tensor(), 4)?;
        assert_eq!(y.dims(), &[1, 2, 12]);
        let got: Vec<f32> = y.flatten_all()?.to_vec1()?;
        let mut want = vec![0f32; 24];
        for (i, v) in [1f32, 2., 3., 4., 5., 6.].iter().enumerate() {
            want[i * 4] = *v;
        }
        assert_eq!(got, want);
        // weights w[n] = n: d/da[k,t] sum(w·y) = w[k·12 + 4t]
        let w = Tensor::arange(0f32, 24., &dev)?.reshape((1, 2, 12))?;
        let grads = (y * w)?.sum_all()?.backward()?;
        let g: Vec<f32> = grads
            .get(a.as_tensor())
            .map(|g| g.flatten_all().and_then(|g| g.to_vec1()))
            .transpose()?
            .unwrap_or_default();
        assert_eq!(g, vec![0., 4., 8., 12., 16., 20.]);
        Ok(())
    }

    #[test]
    fn rejects_bad_shapes() {
        let t = Tensor::zeros((2, 3), candle_core::DType::F32, &Device::Cpu).unwrap();
        assert!(zero_insert(&t, 16).is_err());
    }
}
