//! Hyper-parameters of the DrummerNet analysis module and synthesizer. The defaults reproduce
//! the authors' release exactly (spec sections 2-4); the switches cover the paper's variants.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Which recurrent head follows the U-Net (spec section 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RecurrentKind {
    /// Bi-GRU and GRU along time, then a scalar GRU scanning the components (release default).
    Gru,
    /// The paper's CONV ablation: three k=3 'same' convolutions, no activations.
    Conv,
}

/// How the dense activations become sparse ones (spec section 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BranchKind {
    /// Sparsemax over components times sparsemax over 64-frame windows (release default).
    Sparsemax,
    /// The same with softmax in both branches (paper's `softsoftmul`).
    Softmax,
}

/// Largest accepted `channels` / `first_conv_channels`.
pub const MAX_CHANNELS: usize = 1024;
/// Largest accepted number of components.
pub const MAX_COMPONENTS: usize = 128;
/// Largest accepted scale^encoder_layers (the release's is 1 024).
pub const MAX_COMPRESS_RATIO: usize = 1 << 16;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ModelConfig {
    /// Channels of every U-Net conv (n).
    pub channels: usize,
    /// Output channels of the first conv (release: min(128, n) = 50; paper: 128).
    pub first_conv_channels: usize,
    pub kernel_size: usize,
    /// Max-pool and up-sampling factor.
    pub scale: usize,
    pub encoder_layers: usize,
    pub decoder_layers: usize,
    pub recurrent: RecurrentKind,
    pub branches: BranchKind,
    /// Frames per time-sparsemax window (64 frames = 64 ms).
    pub sparsemax_window: usize,
    /// Component names in channel order; K = their count.
    pub components: Vec<String>,
    /// A "nothing sounds" channel after the K components: the per-frame instrument sparsemax
    /// runs over K + 1 channels and may give its mass to this one, which is never synthesised.
    /// Without it the mass of every frame must land on some drum (the release; the floor tom
    /// became that sink). Models without the key in their metadata have none.
    pub silence_channel: bool,
}

impl Default for ModelConfig {
    fn default() -> Self {
        ModelConfig {
            channels: 50,
            first_conv_channels: 50,
            kernel_size: 3,
            scale: 2,
            encoder_layers: 10,
            decoder_layers: 6,
            recurrent: RecurrentKind::Gru,
            branches: BranchKind::Sparsemax,
            sparsemax_window: 64,
            components: crate::kit::components::default_component_names(),
            silence_channel: false,
        }
    }
}

impl ModelConfig {
    /// Number of drum components K.
    pub fn n_components(&self) -> usize {
        self.components.len()
    }

    /// Channels of the recurrent head's dense output: the components, and the silence channel
    /// where the model has one.
    pub fn dense_channels(&self) -> usize {
        self.n_components() + usize::from(self.silence_channel)
    }

    /// Input lengths are padded to a multiple of this (scale^encoder_layers = 1024).
    pub fn compress_ratio(&self) -> usize {
        self.scale.pow(self.encoder_layers as u32)
    }

    /// Samples per activation frame (scale^(encoder-decoder) = 16).
    pub fn frame_hop(&self) -> usize {
        self.scale
            .pow((self.encoder_layers - self.decoder_layers) as u32)
    }

    pub fn validate(&self, prefix: &str) -> Result<()> {
        let key = |k: &str| format!("{prefix}.{k}");
        // Upper bounds too: a model file's metadata is read through here, and a corrupt one
        // must not ask for terabytes of weights.
        let bounded = [
            ("channels", self.channels, MAX_CHANNELS),
            (
                "first_conv_channels",
                self.first_conv_channels,
                MAX_CHANNELS,
            ),
            ("sparsemax_window", self.sparsemax_window, 4096),
        ];
        for (k, v, hi) in bounded {
            if !(1..=hi).contains(&v) {
                return Err(Error::config(key(k), format!("must be in 1..={hi}")));
            }
        }
        if !(1..=63).contains(&self.kernel_size) || self.kernel_size.is_multiple_of(2) {
            return Err(Error::config(
                key("kernel_size"),
                "must be an odd number in 1..=63",
            ));
        }
        if !(2..=8).contains(&self.scale) {
            return Err(Error::config(key("scale"), "must be in 2..=8"));
        }
        if !(1..=14).contains(&self.encoder_layers) {
            return Err(Error::config(key("encoder_layers"), "must be in 1..=14"));
        }
        if self
            .scale
            .checked_pow(self.encoder_layers as u32)
            .is_none_or(|r| r > MAX_COMPRESS_RATIO)
        {
            return Err(Error::config(
                key("encoder_layers"),
                format!("scale^encoder_layers must be at most {MAX_COMPRESS_RATIO}"),
            ));
        }
        if self.decoder_layers > self.encoder_layers {
            return Err(Error::config(
                key("decoder_layers"),
                "must be <= encoder_layers",
            ));
        }
        if !(1..=MAX_COMPONENTS).contains(&self.components.len()) {
            return Err(Error::config(
                key("components"),
                format!("needs 1..={MAX_COMPONENTS} components"),
            ));
        }
        Ok(())
    }
}
