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
    /// The dense input's last channel is the silence channel, which only the instrument branch
    /// sees.
    silence: bool,
}

impl SparseBranches {
    pub fn new(cfg: &ModelConfig) -> Self {
        SparseBranches {
            kind: cfg.branches,
            window: cfg.sparsemax_window,
            silence: cfg.silence_channel,
        }
    }

    /// dense (B, K, T) -> sparse (B, K, T) with values in [0, 1]: the product of the two
    /// branches, cropped back to T frames. With the silence channel, dense is (B, K + 1, T) and
    /// the output still (B, K, T): the silence channel's share of each frame is what no drum
    /// gets.
    pub fn forward(&self, dense: &Tensor) -> Result<Tensor> {
        let frames = dense.dim(D::Minus1)?;
        if !self.silence {
            let time = self.time_branch(dense)?.narrow(D::Minus1, 0, frames)?;
            return Ok((self.instrument_branch(dense)? * time)?);
        }
        let drums = dense
            .dim(1)?
            .checked_sub(1)
            .filter(|&k| k > 0)
            .ok_or_else(|| {
                Error::Invalid("sparse branches: the silence channel needs a component".into())
            })?;
        let time = self
            .time_branch(&dense.narrow(1, 0, drums)?)?
            .narrow(D::Minus1, 0, frames)?;
        let instrument = self.instrument_branch(dense)?.narrow(1, 0, drums)?;
        Ok((instrument * time)?)
    }

    /// P_inst (B, C, T): sparsemax over the C channels of every frame (the K components, and
    /// the silence channel where there is one).
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
