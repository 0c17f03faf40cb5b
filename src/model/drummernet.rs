//! DrummerNet: the analysis module (U-Net -> recurrent head -> sparse branches) that turns audio
//! into per-component activations, and the pieces that tie it to the synthesizer for training
//! (spec section 1).

use candle_core::{Module, Tensor};
use candle_nn::VarBuilder;

use crate::error::Result;
use crate::model::recurrent::Recurrent;
use crate::model::sparsemax::SparseBranches;
use crate::model::unet::{
    self, InferenceUnet, InferenceWorkspace, TrainingWorkspace, Unet, UnetPlan,
};
use crate::model::ModelConfig;

pub struct DrummerNet {
    cfg: ModelConfig,
    unet: Unet,
    recurrent: Recurrent,
    branches: SparseBranches,
    path: UnetPath,
}

/// How the U-Net runs, chosen once from the weights: the fused paths are CPU f32 only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum UnetPath {
    /// The fused training op (`analyse`) and the tiled inference path (`infer`).
    Fused,
    /// The composed ops with autograd, for both (f64, other devices).
    Composed,
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
        let unet = Unet::new(cfg, vb.pp("unet"))?;
        let path = if unet.supports_fused() {
            UnetPath::Fused
        } else {
            UnetPath::Composed
        };
        Ok(DrummerNet {
            cfg: cfg.clone(),
            unet,
            recurrent: Recurrent::new(cfg, vb.pp("recurrent"))?,
            branches: SparseBranches::new(cfg),
            path,
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

    /// Runs the analysis module on padded audio `x` (B, L), L a multiple of the compress ratio,
    /// with autograd. One-off calls; a training loop keeps its workspace with `analyse_with`.
    pub fn analyse(&self, x: &Tensor) -> Result<Analysis> {
        self.analyse_with(x, &TrainingWorkspace::default())
    }

    /// `analyse`, the fused U-Net's activations kept in `ws` for the next step (unused on the
    /// composed path).
    pub fn analyse_with(&self, x: &Tensor, ws: &TrainingWorkspace) -> Result<Analysis> {
        let x = x.unsqueeze(1)?;
        let r = match self.path {
            UnetPath::Fused => self.unet.forward_fused(&x, ws)?,
            UnetPath::Composed => self.unet.forward_composed(&x)?,
        };
        let dense = self.recurrent.forward(&r)?;
        let activations = self.branches.forward(&dense)?;
        Ok(Analysis { dense, activations })
    }

    /// Activations (B, K, T) for padded audio `x` (B, L) without autograd, for transcription.
    /// On the fused path the U-Net runs through the inference path (`unet::inference`), its
    /// level buffers kept in `ws` for the next call, and the recurrent head of item i runs
    /// while the U-Net works on item i + 1: the head's scans are sequential and would leave a
    /// core idle. On the composed path this is `analyse`.
    pub fn infer(&self, x: &Tensor, ws: &mut InferenceWorkspace) -> Result<Tensor> {
        if self.path == UnetPath::Composed {
            return Ok(self.analyse(x)?.activations);
        }
        let (_, len) = x.dims2()?;
        // Checked once for the whole batch, before any item starts.
        UnetPlan::new(self.unet.shape(), len)?;
        let unet = InferenceUnet::of(&self.unet)?;
        let samples = x.flatten_all()?.to_vec1::<f32>()?;
        let head = |r: Option<Tensor>| -> Result<Option<Tensor>> {
            r.map(|r| self.branches.forward(&self.recurrent.forward(&r)?))
                .transpose()
        };
        let mut pending: Option<Tensor> = None;
        let mut done = Vec::new();
        for item in samples.chunks_exact(len) {
            let (features, finished) = rayon::join(
                || -> Result<Tensor> {
                    let (r, frames) = unet.forward(item, ws)?;
                    let channels = r.len() / frames.max(1);
                    Ok(Tensor::from_vec(r, (1, channels, frames), x.device())?)
                },
                || head(pending.take()),
            );
            done.extend(finished?);
            pending = Some(features?);
        }
        done.extend(head(pending)?);
        Ok(Tensor::cat(&done, 0)?)
    }

    /// The U-Net's features (B, C, T) for padded audio `x` (B, L), without autograd: what the
    /// recurrent head reads. Adaptation that leaves the U-Net as it is computes them this way
    /// (the fused inference path where the weights allow), so that a step costs the head's
    /// forward and backward only.
    pub fn unet_features(&self, x: &Tensor, ws: &mut InferenceWorkspace) -> Result<Tensor> {
        if self.path == UnetPath::Composed {
            return Ok(self.unet.forward_composed(&x.unsqueeze(1)?)?.detach());
        }
        let (_, len) = x.dims2()?;
        UnetPlan::new(self.unet.shape(), len)?;
        let unet = InferenceUnet::of(&self.unet)?;
        let samples = x.flatten_all()?.to_vec1::<f32>()?;
        let items = samples
            .chunks_exact(len)
            .map(|item| -> Result<Tensor> {
                let (r, frames) = unet.forward(item, ws)?;
                let channels = r.len() / frames.max(1);
                Ok(Tensor::from_vec(r, (1, channels, frames), x.device())?)
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Tensor::cat(&items, 0)?)
    }

    /// The recurrent head and the sparse branches on U-Net features (B, C, T), with autograd:
    /// the sparse activations (B, K, T).
    pub fn head(&self, features: &Tensor) -> Result<Tensor> {
        self.branches.forward(&self.recurrent.forward(features)?)
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

/// A model ready for inference, with where it came from.
pub struct LoadedModel {
    pub net: DrummerNet,
    pub config: ModelConfig,
    pub path: std::path::PathBuf,
    pub metadata: std::collections::HashMap<String, String>,
}

impl DrummerNet {
    /// A freshly initialised model (the seeded initialisation training starts from), its
    /// tensors detached from their variables so that inference builds no gradient graph.
    pub fn seeded(cfg: &ModelConfig, seed: u64, device: &candle_core::Device) -> Result<Self> {
        let map = candle_nn::VarMap::new();
        let _ = DrummerNet::new(
            cfg,
            crate::model::seeded_init::SeededVarMap::var_builder(
                &map,
                seed,
                candle_core::DType::F32,
                device,
            ),
        )?;
        let tensors = map
            .data()
            .lock()
            .map_err(|_| crate::error::Error::Invalid("variable map lock poisoned".into()))?
            .iter()
            .map(|(n, v)| (n.clone(), v.as_tensor().detach()))
            .collect();
        DrummerNet::new(
            cfg,
            VarBuilder::from_tensors(tensors, candle_core::DType::F32, device),
        )
    }

    /// Builds a model from a model or checkpoint file alone: the hyper-parameters come from the
    /// file's metadata, and every tensor must be present with the right shape.
    pub fn load(path: &std::path::Path, device: &candle_core::Device) -> Result<LoadedModel> {
        use crate::error::Error;
        use crate::model::file;
        let f = file::load_tensor_file(path, device)?;
        match f.format() {
            Some(file::MODEL_FORMAT) | Some(file::CHECKPOINT_FORMAT) => {}
            other => {
                return Err(Error::model_file(
                    path,
                    format!(
                        "not a drummernet model (format {:?})",
                        other.unwrap_or("missing")
                    ),
                ))
            }
        }
        let config = f.model_config(path)?;
        config
            .validate("model")
            .map_err(|e| Error::model_file(path, e.to_string()))?;
        // Build once against a probe that only records names and shapes: the configuration
        // comes from the file, and must not make the check allocate weights it describes.
        let expected = file::expected_tensors(|vb| DrummerNet::new(&config, vb).map(|_| ()))
            .map_err(|e| Error::model_file(path, e.to_string()))?;
        file::check_tensors(path, &f, &expected)?;
        let tensors: std::collections::HashMap<String, Tensor> = expected
            .iter()
            .map(|(n, _)| Ok((n.clone(), f.tensors[n].to_dtype(candle_core::DType::F32)?)))
            .collect::<Result<_>>()?;
        for (name, t) in &tensors {
            let sum = t
                .sum_all()?
                .to_dtype(candle_core::DType::F64)?
                .to_scalar::<f64>()?;
            if !sum.is_finite() {
                return Err(Error::model_file(
                    path,
                    format!(
                        "tensor `{name}` holds NaN or infinite values (corrupt or diverged model)"
                    ),
                ));
            }
        }
        let vb = VarBuilder::from_tensors(tensors, candle_core::DType::F32, device);
        let net =
            DrummerNet::new(&config, vb).map_err(|e| Error::model_file(path, e.to_string()))?;
        Ok(LoadedModel {
            net,
            config,
            path: path.to_path_buf(),
            metadata: f.metadata,
        })
    }
}

/// Writes a model file (hyper-parameters and component names in its metadata) from named
/// tensors, e.g. [`crate::train::trainer::Training::model_tensors`]. `extra` metadata (training
/// steps, data...) is stored alongside.
pub fn save_model(
    path: &std::path::Path,
    config: &ModelConfig,
    tensors: &[(String, Tensor)],
    extra: &[(String, String)],
    overwrite: crate::atomic_file::Overwrite,
) -> Result<()> {
    use crate::model::file;
    let mut meta = file::model_metadata(config, file::MODEL_FORMAT)?;
    meta.extend(extra.iter().cloned());
    let model_only: Vec<(String, Tensor)> = tensors
        .iter()
        .filter(|(n, _)| {
            n.starts_with("unet.") || n.starts_with("recurrent.") || n.starts_with("synth.")
        })
        .cloned()
        .collect();
    file::save_tensor_file(path, &model_only, meta, overwrite)
}
