//! The recurrent head (spec section 3): U-Net features r (B, 2n, T) -> dense activations
//! (B, K, T). Default: a bi-GRU and a GRU along time, then a scalar GRU that scans the K
//! components of every frame in the fixed component order, each followed by ELU. Alternative:
//! the paper's CONV ablation (three 'same' convolutions, no activations).

use candle_core::{Tensor, D};
use candle_nn::{Init, VarBuilder};

use super::config::{ModelConfig, RecurrentKind};
use super::ops::gru::gru_recurrence;

/// One direction of a one-layer PyTorch GRU, with PyTorch's parameter names and init.
#[derive(Debug, Clone)]
struct GruDirection {
    w_ih: Tensor,
    w_hh: Tensor,
    b_ih: Option<Tensor>,
    /// Zeros for a GRU without bias: the fused op always takes a hidden bias.
    b_hh: Tensor,
    reverse: bool,
}

impl GruDirection {
    /// `suffix` is "" for the forward direction and "_reverse" for the backward one.
    fn new(
        input: usize,
        hidden: usize,
        bias: bool,
        reverse: bool,
        vb: &VarBuilder,
    ) -> candle_core::Result<Self> {
        let suffix = if reverse { "_reverse" } else { "" };
        let bound = 1.0 / (hidden as f64).sqrt();
        let init = Init::Uniform {
            lo: -bound,
            up: bound,
        };
        let w_ih = vb.get_with_hints((3 * hidden, input), &format!("weight_ih_l0{suffix}"), init)?;
        let w_hh =
            vb.get_with_hints((3 * hidden, hidden), &format!("weight_hh_l0{suffix}"), init)?;
        let (b_ih, b_hh) = if bias {
            (
                Some(vb.get_with_hints(3 * hidden, &format!("bias_ih_l0{suffix}"), init)?),
                vb.get_with_hints(3 * hidden, &format!("bias_hh_l0{suffix}"), init)?,
            )
        } else {
            (None, Tensor::zeros(3 * hidden, vb.dtype(), vb.device())?)
        };
        Ok(GruDirection {
            w_ih,
            w_hh,
            b_ih,
            b_hh,
            reverse,
        })
    }

    /// x (B, T, In) -> hidden states (B, T, H).
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let (batch, steps, input) = x.dims3()?;
        let three_h = self.w_ih.dim(0)?;
        // The input projection for all steps at once; only the recurrence is sequential.
        let flat = x.reshape((batch * steps, input))?;
        let mut gx = if input == 1 {
            flat.broadcast_mul(&self.w_ih.t()?)?
        } else {
            flat.matmul(&self.w_ih.t()?)?
        };
        if let Some(b) = &self.b_ih {
            gx = gx.broadcast_add(b)?;
        }
        let gx = gx.reshape((batch, steps, three_h))?;
        gru_recurrence(&gx, &self.w_hh, &self.b_hh, self.reverse)
    }
}

#[derive(Debug, Clone)]
enum Head {
    Gru {
        x2h_forward: GruDirection,
        x2h_backward: GruDirection,
        h2hh: GruDirection,
        hh2y: GruDirection,
    },
    Conv {
        weights: [Tensor; 3],
        biases: [Option<Tensor>; 2],
    },
}

/// The recurrent head; `forward` maps r (B, 2n, T) to dense activations (B, K, T).
#[derive(Debug, Clone)]
pub struct Recurrent {
    head: Head,
}

impl Recurrent {
    pub fn new(cfg: &ModelConfig, vb: VarBuilder) -> candle_core::Result<Self> {
        let features = 2 * cfg.channels;
        let k = cfg.n_components();
        let head = match cfg.recurrent {
            RecurrentKind::Gru => {
                let x2h = vb.pp("midi_x2h");
                Head::Gru {
                    x2h_forward: GruDirection::new(features, k, true, false, &x2h)?,
                    x2h_backward: GruDirection::new(features, k, true, true, &x2h)?,
                    h2hh: GruDirection::new(2 * k, k, true, false, &vb.pp("midi_h2hh"))?,
                    hh2y: GruDirection::new(1, 1, false, false, &vb.pp("midi_hh2y"))?,
                }
            }
            RecurrentKind::Conv => {
                let hidden = cfg.channels;
                let conv = |name: &str, cin: usize, cout: usize| {
                    // PyTorch's Conv1d default init: U(±1/sqrt(fan_in)).
                    let bound = 1.0 / ((cin * 3) as f64).sqrt();
                    let init = Init::Uniform {
                        lo: -bound,
                        up: bound,
                    };
                    let vb = vb.pp(name);
                    let w = vb.get_with_hints((cout, cin, 3), "weight", init)?;
                    Ok::<_, candle_core::Error>((w, vb, init))
                };
                let (w0, vb0, init0) = conv("conv0", features, hidden)?;
                let (w1, vb1, init1) = conv("conv1", hidden, hidden)?;
                let (w2, _, _) = conv("conv2", hidden, k)?;
                Head::Conv {
                    weights: [w0, w1, w2],
                    biases: [
                        Some(vb0.get_with_hints(hidden, "bias", init0)?),
                        Some(vb1.get_with_hints(hidden, "bias", init1)?),
                    ],
                }
            }
        };
        Ok(Recurrent { head })
    }

    /// r (B, 2n, T) -> dense (B, K, T). GRU head output lies in (−0.632, 1).
    pub fn forward(&self, r: &Tensor) -> candle_core::Result<Tensor> {
        match &self.head {
            Head::Gru {
                x2h_forward,
                x2h_backward,
                h2hh,
                hh2y,
            } => {
                let (batch, _, frames) = r.dims3()?;
                let x = r.transpose(1, 2)?;
                let both = Tensor::cat(&[x2h_forward.forward(&x)?, x2h_backward.forward(&x)?], 2)?
                    .elu(1.0)?;
                let per_frame = h2hh.forward(&both)?.elu(1.0)?;
                let k = per_frame.dim(D::Minus1)?;
                // Every (item, frame) becomes a length-K sequence of scalars over components.
                let scanned = hh2y.forward(&per_frame.reshape((batch * frames, k, 1))?)?;
                scanned
                    .reshape((batch, frames, k))?
                    .transpose(1, 2)?
                    .contiguous()?
                    .elu(1.0)
            }
            Head::Conv { weights, biases } => {
                let mut x = r.clone();
                for (i, w) in weights.iter().enumerate() {
                    // TODO(lead): switch to ops::conv1d::conv1d_valid; candle's conv1d weight
                    // gradient is wrong on CPU for batch or input channels > 1 (STACK-NOTES).
                    x = x.pad_with_zeros(D::Minus1, 1, 1)?.conv1d(w, 0, 1, 1, 1)?;
                    if let Some(Some(b)) = biases.get(i) {
                        x = x.broadcast_add(&b.reshape((1, (), 1))?)?;
                    }
                }
                Ok(x)
            }
        }
    }
}
