//! The "multiply" double sparsemax (spec section 4): the dense activations become sparse onset
//! activations as the product of a per-frame sparsemax over components (which instrument) and a
//! per-component sparsemax over non-overlapping time windows (when, within 64 ms).

use candle_core::{Tensor, D};

use super::config::{BranchKind, ModelConfig};
use super::ops::sparsemax::sparsemax_last_dim;
use crate::error::{Error, Result};

/// The two parallel branches and their product. No parameters.
#[derive(Debug, Clone)]
pub struct SparseBranches {
    kind: BranchKind,
    window: usize,
}

impl SparseBranches {
    pub fn new(cfg: &ModelConfig) -> Self {
        SparseBranches {
            kind: cfg.branches,
            window: cfg.sparsemax_window,
        }
    }

    /// dense (B, K, T) -> sparse (B, K, T) with values in [0, 1]: the product of the two
    /// branches, cropped back to T frames.
    pub fn forward(&self, dense: &Tensor) -> Result<Tensor> {
        let frames = dense.dim(D::Minus1)?;
        let time = self.time_branch(dense)?.narrow(D::Minus1, 0, frames)?;
        Ok((self.instrument_branch(dense)? * time)?)
    }

    /// P_inst (B, K, T): sparsemax over the K components of every frame.
    pub fn instrument_branch(&self, dense: &Tensor) -> Result<Tensor> {
        Ok(self.normalise(&dense.transpose(1, 2)?)?.transpose(1, 2)?)
    }

    /// P_time (B, K, T_padded): sparsemax over each non-overlapping window of every component,
    /// windows starting at frame 0. Time is padded at the end with zeros to a multiple of the
    /// window; as in the release, those zeros take part in the last window's normalisation, so
    /// every window (padding included) has mass 1.
    pub fn time_branch(&self, dense: &Tensor) -> Result<Tensor> {
        let (batch, components, frames) = dense.dims3()?;
        if self.window == 0 {
            return Err(Error::Invalid(
                "sparse branches: window must be at least 1".into(),
            ));
        }
        let padded_frames = frames.div_ceil(self.window) * self.window;
        let padded = dense.pad_with_zeros(D::Minus1, 0, padded_frames - frames)?;
        let windows =
            padded.reshape((batch, components, padded_frames / self.window, self.window))?;
        Ok(self
            .normalise(&windows)?
            .reshape((batch, components, padded_frames))?)
    }

    /// Sparsemax (or softmax) along the last dimension.
    fn normalise(&self, x: &Tensor) -> Result<Tensor> {
        Ok(match self.kind {
            BranchKind::Sparsemax => sparsemax_last_dim(x)?,
            BranchKind::Softmax => candle_nn::ops::softmax(x, D::Minus1)?,
        })
    }
}
