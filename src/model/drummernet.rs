//! DrummerNet: the analysis module (U-Net -> recurrent head -> sparse branches) that turns audio
//! into per-component activations, and the pieces that tie it to the synthesizer for training
//! (spec section 1).

use candle_core::{Module, Tensor};
use candle_nn::VarBuilder;

use crate::error::Result;
use crate::model::recurrent::Recurrent;
use crate::model::sparsemax::SparseBranches;
use crate::model::unet::{self, Unet};
use crate::model::ModelConfig;

pub struct DrummerNet {
    cfg: ModelConfig,
    unet: Unet,
    recurrent: Recurrent,
    branches: SparseBranches,
}

/// What the analysis module produces for a batch.
pub struct Analysis {
    /// Recurrent head output before the sparse branches, (B, K, T).
    pub dense: Tensor,
    /// Sparse activations at the frame rate (1 kHz), (B, K, T); ŷ before zero insertion.
    pub activations: Tensor,
}

impl DrummerNet {
    pub fn new(cfg: &ModelConfig, vb: VarBuilder) -> Result<Self> {
        Ok(DrummerNet {
            cfg: cfg.clone(),
            unet: Unet::new(cfg, vb.pp("unet"))?,
            recurrent: Recurrent::new(cfg, vb.pp("recurrent"))?,
            branches: SparseBranches::new(cfg),
        })
    }

    pub fn config(&self) -> &ModelConfig {
        &self.cfg
    }

    /// Input length after padding the end with zeros to a multiple of the compress ratio.
    pub fn padded_len(&self, len: usize) -> usize {
        len.div_ceil(self.cfg.compress_ratio()) * self.cfg.compress_ratio()
    }

    /// Samples of context the valid convolutions eat on each side of the input (4 080 for the
    /// release config): activation frame t describes padded-input sample `context + 16 t`.
    pub fn context_samples(&self) -> usize {
        unet::frames_lost(&self.cfg) * self.cfg.frame_hop() / 2
    }

    /// Activation frames produced for a padded input of `padded_len` samples.
    pub fn output_frames(&self, padded_len: usize) -> usize {
        unet::output_frames(&self.cfg, padded_len)
    }

    /// Pads `x` (B, L) at the end to a multiple of the compress ratio.
    pub fn pad(&self, x: &Tensor) -> Result<Tensor> {
        let len = x.dim(1)?;
        let extra = self.padded_len(len) - len;
        Ok(if extra > 0 {
            x.pad_with_zeros(1, 0, extra)?
        } else {
            x.clone()
        })
    }

    /// Runs the analysis module on padded audio `x` (B, L), L a multiple of the compress ratio.
    pub fn analyse(&self, x: &Tensor) -> Result<Analysis> {
        let r = self.unet.forward(&x.unsqueeze(1)?)?;
        let dense = self.recurrent.forward(&r)?;
        let activations = self.branches.forward(&dense)?;
        Ok(Analysis { dense, activations })
    }

    /// The part of the padded input that the activations describe (what the re-synthesis is
    /// compared with): `x_p[context .. context + 16 T]`.
    pub fn aligned_target(&self, padded: &Tensor, frames: usize) -> Result<Tensor> {
        Ok(padded.narrow(1, self.context_samples(), frames * self.cfg.frame_hop())?)
    }
}

impl Module for DrummerNet {
    /// Activations for padded audio; for use where only the transcription is needed.
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        self.analyse(x)
            .map(|a| a.activations)
            .map_err(|e| candle_core::Error::Msg(e.to_string()))
    }
}
