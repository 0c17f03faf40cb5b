//! The U-Net's geometry, in one place: [`UnetShape`] (widths and depths, fixed at
//! construction) and [`UnetPlan`] (every stage's length for one input length). The composed
//! forward, the fused training op and the inference path all read their lengths, crops and skip
//! levels from a plan, so they cannot disagree about the network's geometry.

use crate::error::{Error, Result};
use crate::model::config::ModelConfig;

/// Longest input, in multiples of the compress ratio, searched for the shortest one that works.
const MAX_RATIO_MULTIPLE: usize = 4096;

/// Widths and depths of a U-Net: what its geometry depends on (the pooling and up-sampling
/// factor is always 2, which `Unet::new` checks).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnetShape {
    /// Channels of every layer but the first convolution (n); the output has 2n.
    pub channels: usize,
    /// Channels of the first convolution.
    pub first: usize,
    /// Kernel size of every convolution.
    pub k: usize,
    pub encoder_layers: usize,
    pub decoder_layers: usize,
}

impl UnetShape {
    pub fn of(cfg: &ModelConfig) -> UnetShape {
        UnetShape {
            channels: cfg.channels,
            first: cfg.first_conv_channels,
            k: cfg.kernel_size,
            encoder_layers: cfg.encoder_layers,
            decoder_layers: cfg.decoder_layers,
        }
    }

    /// Inputs are padded to multiples of this (2^encoder_layers, 1 024 for the defaults).
    fn compress_ratio(&self) -> usize {
        1 << self.encoder_layers
    }

    /// Input samples per output frame (2^(encoder - decoder layers), 16 for the defaults).
    fn frame_hop(&self) -> usize {
        1 << (self.encoder_layers - self.decoder_layers.min(self.encoder_layers))
    }

    /// The shortest multiple of the compress ratio the network accepts (None: none does).
    fn min_input(&self) -> Option<usize> {
        let ratio = self.compress_ratio();
        (1..=MAX_RATIO_MULTIPLE)
            .map(|m| m * ratio)
            .find(|&len| UnetPlan::lengths(*self, len).is_some())
    }

    /// Frames lost to the valid convolutions for inputs that are multiples of the compress
    /// ratio (510 for the defaults): input / frame_hop - output frames. The same for every
    /// such length that works; 0 when none does.
    pub fn frames_lost(&self) -> usize {
        self.min_input()
            .and_then(|len| UnetPlan::lengths(*self, len))
            .map_or(0, |plan| plan.input / self.frame_hop() - plan.frames)
    }
}

/// Every stage's length for one input length, checked: no stage is empty and every decoder
/// layer's skip is at least as long as its up-sampled output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnetPlan {
    pub shape: UnetShape,
    /// Input samples.
    pub input: usize,
    /// a0 = elu(conv(x, d_conv0)).
    pub a0: usize,
    /// Encoder level i: convolution output and pooled lengths.
    pub conv: Vec<usize>,
    pub pool: Vec<usize>,
    /// elu(conv(deepest pooled level, encode_conv)): the decoder's input.
    pub encode: usize,
    /// Decoder layer j: convolution output length (up-sampled: twice that).
    pub dec: Vec<usize>,
    /// Output frames.
    pub frames: usize,
}

impl UnetPlan {
    /// The plan for `input` samples, or the error a user sees for a too-short input.
    pub fn new(shape: UnetShape, input: usize) -> Result<UnetPlan> {
        UnetPlan::lengths(shape, input).ok_or_else(|| {
            let min = shape.min_input().unwrap_or(0);
            Error::Invalid(format!(
                "U-Net input of {input} samples is too short (at least {min} samples needed)"
            ))
        })
    }

    /// The forward's lengths stage by stage, or None when one would be empty or a skip too
    /// short for its decoder layer.
    fn lengths(shape: UnetShape, input: usize) -> Option<UnetPlan> {
        let valid = |len: usize| len.checked_sub(shape.k - 1).filter(|&l| l > 0);
        let a0 = valid(input)?;
        let (mut conv, mut pool) = (Vec::new(), Vec::new());
        let mut len = a0;
        for _ in 0..shape.encoder_layers {
            let c = valid(len)?;
            conv.push(c);
            len = c / 2;
            if len == 0 {
                return None;
            }
            pool.push(len);
        }
        let encode = valid(len)?;
        let mut plan = UnetPlan {
            shape,
            input,
            a0,
            conv,
            pool,
            encode,
            dec: Vec::new(),
            frames: 0,
        };
        let mut len = encode;
        for j in 0..shape.decoder_layers {
            let d = valid(len)?;
            plan.dec.push(d);
            len = 2 * d;
            let level = shape.encoder_layers.checked_sub(2 + j)?;
            if plan.pool[level] < len {
                return None;
            }
        }
        plan.frames = valid(len)?;
        Some(plan)
    }

    /// Floating-point operations of one forward (2 per multiply-add of every convolution;
    /// ELU, pooling and up-sampling are a few percent and not counted): what the speed
    /// figures compare with the machine's GEMM rate.
    pub fn flops(&self) -> f64 {
        let (s, n) = (self.shape, self.shape.channels);
        let conv = |c_in: usize, c_out: usize, len: usize| 2.0 * (c_in * c_out * s.k * len) as f64;
        let mut total = conv(1, s.first, self.a0);
        for (i, &len) in self.conv.iter().enumerate() {
            total += conv(if i == 0 { s.first } else { n }, n, len);
        }
        total += conv(n, n, self.encode);
        for (j, &len) in self.dec.iter().enumerate() {
            total += conv(if j == 0 { n } else { 2 * n }, n, len);
        }
        let last_in = if self.dec.is_empty() { n } else { 2 * n };
        total + conv(last_in, 2 * n, self.frames)
    }

    /// The encoder level whose pooled output decoder layer j takes as skip: the deepest level
    /// fed encode_conv, the decoder joins the next deepest ones.
    pub fn skip_level(&self, j: usize) -> usize {
        self.shape.encoder_layers - 2 - j
    }

    /// Decoder layer j's up-sampled length, which its skip is centre-cropped to.
    pub fn up_len(&self, j: usize) -> usize {
        2 * self.dec[j]
    }

    /// Samples dropped at the start of decoder layer j's skip by the centre crop.
    pub fn skip_offset(&self, j: usize) -> usize {
        (self.pool[self.skip_level(j)] - self.up_len(j)) / 2
    }

    /// Channels and length of encoder level i's input (a0, then the pooled level above).
    pub fn enc_input(&self, i: usize) -> (usize, usize) {
        if i == 0 {
            (self.shape.first, self.a0)
        } else {
            (self.shape.channels, self.pool[i - 1])
        }
    }

    /// Channels and length of decoder layer j's input y_j (y_0 = e; j = decoder layers: the
    /// last convolution's input).
    pub fn y_dims(&self, j: usize) -> (usize, usize) {
        if j == 0 {
            (self.shape.channels, self.encode)
        } else {
            (2 * self.shape.channels, self.up_len(j - 1))
        }
    }
}

/// Frames of r for `input_len` samples (0 when the input is too short for the network).
pub fn output_frames(cfg: &ModelConfig, input_len: usize) -> usize {
    UnetPlan::lengths(UnetShape::of(cfg), input_len).map_or(0, |plan| plan.frames)
}

/// Frames lost to the valid convolutions for inputs that are multiples of the compress ratio
/// (510 for the defaults): input_len / frame_hop - output_frames.
pub fn frames_lost(cfg: &ModelConfig) -> usize {
    UnetShape::of(cfg).frames_lost()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_lengths_follow_the_spec() {
        let shape = UnetShape::of(&ModelConfig::default());
        let plan = UnetPlan::new(shape, 32_768).unwrap();
        assert_eq!(
            (plan.a0, plan.conv[0], plan.pool[0]),
            (32_766, 32_764, 16_382)
        );
        assert_eq!(plan.frames, 1_538);
        assert_eq!(plan.y_dims(6), (100, 2 * plan.dec[5]));
        assert_eq!(shape.frames_lost(), 510);
        let err = UnetPlan::new(shape, 7 * 1024).unwrap_err().to_string();
        assert!(err.contains("7168 samples is too short") && err.contains("8192"));
    }

    #[test]
    fn flops_count_every_convolution() {
        // One encoder level, no decoder, widths 1 -> 2 -> 2 -> 2 -> 4: lengths 14, 12 (pooled
        // 6), 4, 2 for 16 samples.
        let tiny = UnetShape {
            channels: 2,
            first: 1,
            k: 3,
            encoder_layers: 1,
            decoder_layers: 0,
        };
        let plan = UnetPlan::new(tiny, 16).unwrap();
        let want = 2.0 * (1.0 * 3.0 * 14.0 + 2.0 * 3.0 * 12.0 + 4.0 * 3.0 * 4.0 + 8.0 * 3.0 * 2.0);
        assert_eq!(plan.flops(), want);
        // The release network: about 0.57 GFLOP per second of 16-kHz audio.
        let shape = UnetShape::of(&ModelConfig::default());
        let per_second = UnetPlan::new(shape, 16 * 16_000).unwrap().flops() / 16.0;
        assert!((0.55e9..0.60e9).contains(&per_second), "{per_second}");
    }
}
