//! The analysis U-Net (spec section 2, the release's `ValidAutoUnet`): valid k=3 convolutions,
//! ELU, an encoder of conv + max-pool blocks and a shorter decoder of conv + x2 linear
//! up-sampling blocks joined to centre-cropped encoder skips. With the defaults, x (B, 1, 1024m)
//! becomes r (B, 100, 64m - 510) at 1/16 of the input rate.
//!
//! One set of parameters ([`Unet`]), one geometry ([`plan`]: every stage's length for an input
//! length, and its checks), three execution paths over them:
//! - [`Unet::forward_composed`]: op by op with autograd, any device and dtype; the reference.
//! - [`Unet::forward_fused`] ([`training`]): the CPU f32 training pass as one autograd node,
//!   its activations kept in a [`TrainingWorkspace`] that the trainer owns.
//! - [`InferenceUnet::forward`] ([`inference`]): CPU f32 without autograd, tiled, its level
//!   buffers kept in an [`InferenceWorkspace`] that the transcriber owns.
//!
//! `DrummerNet` picks the path once, from the weights' device and dtype.

pub mod inference;
pub mod plan;
pub mod training;

use candle_core::{DType, Tensor};
use candle_nn::{Init, VarBuilder};

use crate::error::{Error, Result};
use crate::model::config::ModelConfig;
use crate::model::ops::conv1d::{conv1d_valid, conv1d_valid_elu};
use crate::model::ops::elu::elu;
use crate::model::ops::maxpool::max_pool2;
use crate::model::ops::upsample_linear::upsample_linear2;

pub use inference::{InferenceUnet, InferenceWorkspace};
pub use plan::{frames_lost, output_frames, UnetPlan, UnetShape};
pub use training::TrainingWorkspace;

/// The U-Net's parameters (`d_conv0`, `enc.{i}`, `encode_conv`, `dec.{j}`, `last_conv`, as in
/// the release) and the shape they were built for.
#[derive(Debug, Clone)]
pub struct Unet {
    pub(crate) d_conv0: Tensor,
    pub(crate) enc: Vec<Tensor>,
    pub(crate) encode_conv: Tensor,
    pub(crate) dec: Vec<Tensor>,
    pub(crate) last_conv_weight: Tensor,
    pub(crate) last_conv_bias: Tensor,
    shape: UnetShape,
}

/// PyTorch's default Conv1d initialisation: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weights and
/// bias alike.
fn uniform_init(c_in: usize, k: usize) -> Init {
    let bound = 1.0 / ((c_in * k) as f64).sqrt();
    Init::Uniform {
        lo: -bound,
        up: bound,
    }
}

fn conv_weight(vb: &VarBuilder, c_out: usize, c_in: usize, k: usize) -> Result<Tensor> {
    Ok(vb.get_with_hints((c_out, c_in, k), "weight", uniform_init(c_in, k))?)
}

/// The architectural constraints the fast ops impose on top of `ModelConfig::validate`.
fn check_supported(cfg: &ModelConfig) -> Result<()> {
    cfg.validate("model")?;
    if cfg.scale != 2 {
        return Err(Error::config(
            "model.scale",
            "only 2 is supported (the U-Net's pooling and up-sampling ops are x2)",
        ));
    }
    if cfg.decoder_layers >= cfg.encoder_layers {
        return Err(Error::config(
            "model.decoder_layers",
            "must be smaller than encoder_layers (each decoder layer needs an encoder skip)",
        ));
    }
    Ok(())
}

impl Unet {
    /// `vb` is already prefixed by the caller (parameters `d_conv0.weight`, `enc.{i}.weight`,
    /// `encode_conv.weight`, `dec.{j}.weight`, `last_conv.weight`, `last_conv.bias`).
    pub fn new(cfg: &ModelConfig, vb: VarBuilder) -> Result<Self> {
        check_supported(cfg)?;
        let (n, first, k) = (cfg.channels, cfg.first_conv_channels, cfg.kernel_size);
        let d_conv0 = conv_weight(&vb.pp("d_conv0"), first, 1, k)?;
        let enc = (0..cfg.encoder_layers)
            .map(|i| {
                let c_in = if i == 0 { first } else { n };
                conv_weight(&vb.pp("enc").pp(i), n, c_in, k)
            })
            .collect::<Result<Vec<_>>>()?;
        let encode_conv = conv_weight(&vb.pp("encode_conv"), n, n, k)?;
        let dec = (0..cfg.decoder_layers)
            .map(|j| {
                let c_in = if j == 0 { n } else { 2 * n };
                conv_weight(&vb.pp("dec").pp(j), n, c_in, k)
            })
            .collect::<Result<Vec<_>>>()?;
        let last_in = if cfg.decoder_layers == 0 { n } else { 2 * n };
        let last = vb.pp("last_conv");
        let last_conv_weight = conv_weight(&last, 2 * n, last_in, k)?;
        let last_conv_bias = last.get_with_hints(2 * n, "bias", uniform_init(last_in, k))?;
        Ok(Unet {
            d_conv0,
            enc,
            encode_conv,
            dec,
            last_conv_weight,
            last_conv_bias,
            shape: UnetShape::of(cfg),
        })
    }

    pub fn shape(&self) -> UnetShape {
        self.shape
    }

    /// Whether the fused paths (training op, inference) can run these weights: f32 on the CPU.
    pub fn supports_fused(&self) -> bool {
        self.d_conv0.device().is_cpu() && self.d_conv0.dtype() == DType::F32
    }

    /// The parameters in a fixed order: d_conv0, enc..., encode_conv, dec..., last_conv
    /// weight, last_conv bias (the fused training op's flat weight vector).
    pub(crate) fn parameters(&self) -> Vec<&Tensor> {
        let mut ps = vec![&self.d_conv0];
        ps.extend(&self.enc);
        ps.push(&self.encode_conv);
        ps.extend(&self.dec);
        ps.push(&self.last_conv_weight);
        ps.push(&self.last_conv_bias);
        ps
    }

    /// The plan for x (B, 1, T), or why x cannot go through the network.
    pub fn plan(&self, x: &Tensor) -> Result<UnetPlan> {
        let (_, channels, len) = x.dims3()?;
        if channels != 1 {
            return Err(Error::Invalid(format!(
                "U-Net input must have 1 channel, got {channels}"
            )));
        }
        UnetPlan::new(self.shape, len)
    }

    /// x (B, 1, T) -> r (B, 2n, output_frames(T)), op by op, each with its own backward: the
    /// path for f64 and for devices other than the CPU, and the reference the fused paths are
    /// tested against.
    pub fn forward_composed(&self, x: &Tensor) -> Result<Tensor> {
        let plan = self.plan(x)?;
        let mut y = conv1d_valid_elu(x, &self.d_conv0)?;
        let mut pooled = Vec::with_capacity(self.enc.len());
        for w in &self.enc {
            y = max_pool2(&conv1d_valid_elu(&y, w)?)?;
            pooled.push(y.clone());
        }
        y = conv1d_valid_elu(&y, &self.encode_conv)?;
        for (j, w) in self.dec.iter().enumerate() {
            let up = upsample_linear2(&conv1d_valid_elu(&y, w)?)?;
            let skip = pooled[plan.skip_level(j)].narrow(2, plan.skip_offset(j), plan.up_len(j))?;
            y = Tensor::cat(&[&up, &skip], 1)?;
        }
        let y = conv1d_valid(&y, &self.last_conv_weight)?;
        let y = y.broadcast_add(&self.last_conv_bias.reshape((1, (), 1))?)?;
        Ok(elu(&y)?)
    }

    /// The same as [`Unet::forward_composed`] on the CPU in f32 as one autograd node
    /// ([`training`]), its activations kept in `ws` between the forward, its backward and the
    /// next step.
    pub fn forward_fused(&self, x: &Tensor, ws: &TrainingWorkspace) -> Result<Tensor> {
        let plan = self.plan(x)?;
        training::forward(self, plan, x, ws)
    }
}
