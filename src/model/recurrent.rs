//! The recurrent head (spec section 3): U-Net features r (B, 2n, T) -> dense activations
//! (B, K, T) (K + 1 with the silence channel). Default: a bi-GRU and a GRU along time, then a scalar GRU that scans the K
//! components of every frame in the fixed component order, each followed by ELU. Alternative:
//! the paper's CONV ablation (three 'same' convolutions, no activations).

use candle_core::{Tensor, D};
use candle_nn::{Init, VarBuilder};

use super::config::{ModelConfig, RecurrentKind};
use super::ops::channel_bias::add_channel_bias;
use super::ops::conv1d::conv1d_valid;
use super::ops::gru::gru_recurrence_channels_first;
use super::ops::scalar_gru::component_scan_gru;
use crate::error::Result;

/// One direction of a one-layer PyTorch GRU with biases, with PyTorch's names and init.
#[derive(Debug, Clone)]
struct GruDirection {
    w_ih: Tensor,
    w_hh: Tensor,
    b_ih: Tensor,
    b_hh: Tensor,
    reverse: bool,
}

impl GruDirection {
    /// The reverse direction's parameters carry PyTorch's "_reverse" suffix.
    fn new(input: usize, hidden: usize, reverse: bool, vb: &VarBuilder) -> Result<Self> {
        let suffix = if reverse { "_reverse" } else { "" };
        let init = pytorch_uniform(hidden);
        let name = |what: &str| format!("{what}_l0{suffix}");
        Ok(GruDirection {
            w_ih: vb.get_with_hints((3 * hidden, input), &name("weight_ih"), init)?,
            w_hh: vb.get_with_hints((3 * hidden, hidden), &name("weight_hh"), init)?,
            b_ih: vb.get_with_hints(3 * hidden, &name("bias_ih"), init)?,
            b_hh: vb.get_with_hints(3 * hidden, &name("bias_hh"), init)?,
            reverse,
        })
    }

    /// x (B, In, T) -> hidden states (B, H, T).
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        // The input projection for all steps at once, in the channels-first layout of x (no
        // transposed copies); only the recurrence is sequential.
        // As a 1-tap convolution: its hand-written backward runs the weight and input
        // gradients as gemm calls on the tensors as laid out, where candle's broadcast_matmul
        // backward took 35 ms (transposed copies and a batch reduction) per direction.
        let gx = add_channel_bias(&conv1d_valid(x, &self.w_ih.unsqueeze(2)?)?, &self.b_ih)?;
        Ok(gru_recurrence_channels_first(
            &gx,
            &self.w_hh,
            &self.b_hh,
            self.reverse,
        )?)
    }
}

/// PyTorch's RNN init: U(−1/sqrt(H), 1/sqrt(H)) for every weight and bias.
fn pytorch_uniform(hidden: usize) -> Init {
    let bound = 1.0 / (hidden as f64).sqrt();
    Init::Uniform {
        lo: -bound,
        up: bound,
    }
}

#[derive(Debug, Clone)]
enum Head {
    Gru {
        x2h_forward: GruDirection,
        x2h_backward: GruDirection,
        h2hh: GruDirection,
        /// The scalar GRU over components: W_ih and W_hh, both (3, 1), no biases.
        hh2y: [Tensor; 2],
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
    pub fn new(cfg: &ModelConfig, vb: VarBuilder) -> Result<Self> {
        let features = 2 * cfg.channels;
        let k = cfg.dense_channels();
        let head = match cfg.recurrent {
            RecurrentKind::Gru => {
                let x2h = vb.pp("midi_x2h");
                Head::Gru {
                    x2h_forward: GruDirection::new(features, k, false, &x2h)?,
                    x2h_backward: GruDirection::new(features, k, true, &x2h)?,
                    h2hh: GruDirection::new(2 * k, k, false, &vb.pp("midi_h2hh"))?,
                    hh2y: {
                        let vb = vb.pp("midi_hh2y");
                        let init = pytorch_uniform(1);
                        [
                            vb.get_with_hints((3, 1), "weight_ih_l0", init)?,
                            vb.get_with_hints((3, 1), "weight_hh_l0", init)?,
                        ]
                    },
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
    pub fn forward(&self, r: &Tensor) -> Result<Tensor> {
        match &self.head {
            Head::Gru {
                x2h_forward,
                x2h_backward,
                h2hh,
                hh2y,
            } => {
                // The two directions are independent sequential scans: one per core.
                let (fwd, bwd) = rayon::join(|| x2h_forward.forward(r), || x2h_backward.forward(r));
                // The crate's ELU (vectorised exp, backward from the output), not candle's.
                let both = Tensor::cat(&[fwd?, bwd?], 1)?.elu(1.0)?;
                let per_frame = h2hh.forward(&both)?.elu(1.0)?;
                // Every (item, frame) is a length-K sequence of scalars over the components.
                Ok(component_scan_gru(&per_frame, &hh2y[0], &hh2y[1])?.elu(1.0)?)
            }
            Head::Conv { weights, biases } => {
                let mut x = r.clone();
                for (i, w) in weights.iter().enumerate() {
                    // 'same' padding, then our valid conv: candle's own CPU conv1d gradients are
                    // wrong for batches (STACK-NOTES).
                    let half = w.dim(2)? / 2;
                    x = conv1d_valid(&x.pad_with_zeros(D::Minus1, half, half)?, w)?;
                    if let Some(Some(b)) = biases.get(i) {
                        x = x.broadcast_add(&b.reshape((1, (), 1))?)?;
                    }
                }
                Ok(x)
            }
        }
    }
}

impl candle_nn::Module for Recurrent {
    fn forward(&self, r: &Tensor) -> candle_core::Result<Tensor> {
        Recurrent::forward(self, r).map_err(|e| candle_core::Error::Msg(e.to_string()))
    }
}
