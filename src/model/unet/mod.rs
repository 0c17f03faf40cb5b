//! The analysis U-Net (spec section 2, the release's `ValidAutoUnet`): valid k=3 convolutions,
//! ELU, an encoder of conv + max-pool blocks and a shorter decoder of conv + x2 linear
//! up-sampling blocks joined to centre-cropped encoder skips. With the defaults, x (B, 1, 1024m)
//! becomes r (B, 100, 64m - 510) at 1/16 of the input rate.

use candle_core::{DType, Tensor};
use candle_nn::{Init, VarBuilder};

use crate::error::{Error, Result};
use crate::model::config::ModelConfig;
use crate::model::ops::conv1d::{conv1d_valid, conv1d_valid_elu};
use crate::model::ops::elu::elu;
use crate::model::ops::maxpool::max_pool2;
use crate::model::ops::upsample_linear::upsample_linear2;
use crate::model::unet_training::{self, TrainingBuffers};

#[derive(Debug, Clone)]
pub struct Unet {
    pub(crate) d_conv0: Tensor,
    pub(crate) enc: Vec<Tensor>,
    pub(crate) encode_conv: Tensor,
    pub(crate) dec: Vec<Tensor>,
    pub(crate) last_conv_weight: Tensor,
    pub(crate) last_conv_bias: Tensor,
    /// Activations kept between the fused training forward and its backward, reused by the
    /// next step.
    pub(crate) training_buffers: TrainingBuffers,
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

/// Output length after every stage for an input of `input_len` samples, or None when some
/// stage would become empty. Mirrors `Unet::forward` step by step.
fn output_len(cfg: &ModelConfig, input_len: usize) -> Option<usize> {
    let k = cfg.kernel_size;
    let conv = |len: usize| len.checked_sub(k - 1).filter(|&l| l > 0);
    let mut len = conv(input_len)?;
    let mut skips = Vec::with_capacity(cfg.encoder_layers);
    for _ in 0..cfg.encoder_layers {
        len = conv(len)? / 2;
        if len == 0 {
            return None;
        }
        skips.push(len);
    }
    len = conv(len)?;
    for j in 0..cfg.decoder_layers {
        len = conv(len)? * 2;
        let skip = *skips.get(cfg.encoder_layers.checked_sub(2 + j)?)?;
        if skip < len {
            return None;
        }
    }
    conv(len)
}

/// Frames of r for `input_len` samples (0 when the input is too short for the network).
pub fn output_frames(cfg: &ModelConfig, input_len: usize) -> usize {
    output_len(cfg, input_len).unwrap_or(0)
}

/// Frames lost to the valid convolutions for inputs that are multiples of the compress ratio
/// (510 for the defaults): input_len / frame_hop - output_frames.
pub fn frames_lost(cfg: &ModelConfig) -> usize {
    let ratio = cfg.compress_ratio();
    // The loss is the same for every length that works; take the shortest one.
    (1..=4096)
        .map(|m| m * ratio)
        .find_map(|len| output_len(cfg, len).map(|out| len / cfg.frame_hop() - out))
        .unwrap_or(0)
}

/// Centre crop of `skip` (B, C, Ls) to `len` frames: (Ls - len) / 2 dropped at the start.
fn centre_crop(skip: &Tensor, len: usize) -> Result<Tensor> {
    let skip_len = skip.dim(2)?;
    Ok(skip.narrow(2, (skip_len - len) / 2, len)?)
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
            training_buffers: TrainingBuffers::default(),
        })
    }

    /// x (B, 1, T) -> r (B, 2n, output_frames(T)).
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let (_, channels, len) = x.dims3()?;
        if channels != 1 {
            return Err(Error::Invalid(format!(
                "U-Net input must have 1 channel, got {channels}"
            )));
        }
        self.check_length(len)?;
        let all_f32 = x.dtype() == DType::F32 && self.d_conv0.dtype() == DType::F32;
        if x.device().is_cpu() && all_f32 {
            return Ok(unet_training::forward(self, x)?);
        }
        self.forward_composed(x)
    }

    /// The forward op by op, each with its own backward: the path for f64 and for devices
    /// other than the CPU, and the reference the fused op is tested against.
    pub(crate) fn forward_composed(&self, x: &Tensor) -> Result<Tensor> {
        let mut y = conv1d_valid_elu(x, &self.d_conv0)?;
        let mut skips = Vec::with_capacity(self.enc.len());
        for w in &self.enc {
            y = max_pool2(&conv1d_valid_elu(&y, w)?)?;
            skips.push(y.clone());
        }
        y = conv1d_valid_elu(&y, &self.encode_conv)?;
        // The deepest skip fed encode_conv; the decoder pops the next deepest ones.
        skips.pop();
        for w in &self.dec {
            let up = upsample_linear2(&conv1d_valid_elu(&y, w)?)?;
            let skip = skips
                .pop()
                .ok_or_else(|| Error::Invalid("U-Net: more decoder layers than skips".into()))?;
            let skip = centre_crop(&skip, up.dim(2)?)?;
            y = Tensor::cat(&[&up, &skip], 1)?;
        }
        let y = conv1d_valid(&y, &self.last_conv_weight)?;
        let y = y.broadcast_add(&self.last_conv_bias.reshape((1, (), 1))?)?;
        Ok(elu(&y)?)
    }

    pub(crate) fn check_length(&self, len: usize) -> Result<()> {
        let cfg = self.shape_config();
        if output_len(&cfg, len).is_some() {
            return Ok(());
        }
        let ratio = cfg.compress_ratio();
        let min = (1..=4096)
            .map(|m| m * ratio)
            .find(|&l| output_len(&cfg, l).is_some())
            .unwrap_or(0);
        Err(Error::Invalid(format!(
            "U-Net input of {len} samples is too short (at least {min} samples needed)"
        )))
    }

    /// The shape-relevant part of the configuration, recovered from the weights.
    fn shape_config(&self) -> ModelConfig {
        let dims = self.d_conv0.dims();
        ModelConfig {
            channels: self.encode_conv.dims()[0],
            first_conv_channels: dims[0],
            kernel_size: dims[2],
            scale: 2,
            encoder_layers: self.enc.len(),
            decoder_layers: self.dec.len(),
            ..ModelConfig::default()
        }
    }
}
