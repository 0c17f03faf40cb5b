//! One training run: model, synthesizer, loss, optimizer and data, advanced one optimizer step at
//! a time. [`Training`] is synchronous (tests and benchmarks drive it directly);
//! [`crate::train::background`] runs it on a thread for the CLI and the workbench.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use candle_core::{DType, Device, Tensor, Var};
use candle_nn::VarMap;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::error::{Error, Result};
use crate::kit::folder::load_kit;
use crate::kit::Kit;
use crate::model::drummernet::DrummerNet;
use crate::model::file::{self, CHECKPOINT_FORMAT};
use crate::model::loss::CqtLoss;
use crate::model::seeded_init::SeededVarMap;
use crate::model::synthesizer::{KitDraw, KitPool, Synthesizer};
use crate::model::unet::TrainingWorkspace;
use crate::train::adam::{Adam, AdamParams};
use crate::train::dataset::{find_stems, ItemSource};
use crate::train::prefetch::PrefetchedItems;
use crate::train::procedural_draw::ProceduralDraw;

/// Where a run's data and kits come from.
#[derive(Debug, Clone, Default)]
pub struct DataSpec {
    /// Folders (or files) of drum stems; empty = synthetic grooves only.
    pub stems: Vec<PathBuf>,
    /// Drum-source folders (`N)CLASS_SUB.wav`); `train.source_kit_indices` picks the kits.
    pub kit_dirs: Vec<PathBuf>,
    /// Extra fixed kits (tests use these to train on one known kit).
    pub kits: Vec<Kit>,
    /// Procedural kits added to the synthesizer pool and the groove renderer.
    pub procedural_kits: usize,
}

/// Metrics of one optimizer step.
#[derive(Debug, Clone, PartialEq)]
pub struct StepReport {
    pub step: u64,
    pub loss: f64,
    pub per_scale: Vec<f64>,
    /// False when the loss or a gradient was NaN or infinite: the update was skipped (the step
    /// count did not advance, `step` is the last completed step).
    pub finite: bool,
    pub seconds: f64,
    pub items_per_second: f64,
}

/// Everything besides tensors that a checkpoint must restore for an exact continuation.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct TrainState {
    step: u64,
    seconds: f64,
    data_rng_word_pos: String,
    kit_rng_word_pos: String,
}

const TRAIN_STATE_KEY: &str = "train_state";
const WAVEFORMS: &str = "synth.waveforms";

pub struct Training {
    cfg: Config,
    device: Device,
    varmap: VarMap,
    net: DrummerNet,
    /// The fused U-Net's activation buffers, reused from one step to the next.
    unet_workspace: TrainingWorkspace,
    synth: Synthesizer,
    pool: KitPool,
    loss: CqtLoss,
    adam: Adam,
    items: PrefetchedItems,
    kit_rng: ChaCha8Rng,
    step: u64,
    seconds: f64,
}

impl Training {
    pub fn new(cfg: &Config, data: &DataSpec, device: &Device) -> Result<Training> {
        check_device_supports(cfg, device.is_cpu())?;
        let t = &cfg.train;
        let kit_len = cfg.kit.length_samples();
        let mut kits: Vec<Kit> = data.kits.clone();
        for dir in &data.kit_dirs {
            for &index in &t.source_kit_indices {
                kits.push(load_kit(dir, Some(index), &cfg.model.components, kit_len)?);
            }
        }
        let procedural = ProceduralDraw::from_settings(t);
        let mut seed_rng = ChaCha8Rng::seed_from_u64(t.seed ^ 0x6b69_7473);
        for _ in 0..data.procedural_kits {
            kits.push(procedural.draw(&mut seed_rng, kit_len));
        }
        if kits.is_empty() {
            return Err(Error::Invalid(
                "training needs at least one kit: no kit folder, fixed kit or procedural kit was given"
                    .into(),
            ));
        }
        let pool = KitPool::new(&kits, &cfg.model.components, &cfg.synth, device)?;

        let varmap = VarMap::new();
        let vb = SeededVarMap::var_builder(&varmap, t.seed, DType::F32, device);
        let net = DrummerNet::new(&cfg.model, vb.clone())?;
        let hop = cfg.model.frame_hop();
        let synth = if cfg.synth.trainable {
            Synthesizer::trainable(
                &pool.waveforms(&vec![0; cfg.model.n_components()])?,
                hop,
                cfg.synth.norm,
            )?
        } else {
            Synthesizer::new(hop, cfg.synth.norm)
        };
        let loss = CqtLoss::new(&cfg.loss, device)?;
        let mut vars: Vec<(String, Var)> = varmap
            .data()
            .lock()
            .map_err(|_| Error::Invalid("variable map lock poisoned".into()))?
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        vars.sort_by(|a, b| a.0.cmp(&b.0));
        if let Some(w) = synth.learned_waveforms() {
            vars.push((WAVEFORMS.to_string(), w.clone()));
        }
        let adam = Adam::new(
            vars,
            AdamParams {
                lr: t.learning_rate,
                beta1: t.adam_beta1,
                beta2: t.adam_beta2,
                eps: t.adam_eps,
            },
        )?;
        let stems = find_stems(&data.stems)?;
        if !data.stems.is_empty() && stems.is_empty() {
            return Err(Error::Invalid(
                "no readable audio files in the --data folders".into(),
            ));
        }
        let mut items = ItemSource::new(
            stems,
            t.synthetic_share,
            cfg.groove.clone(),
            kits,
            procedural,
            kit_len,
            t.seed,
        );
        if cfg.synth.draw == KitDraw::PerItem && cfg.synth.item_recording {
            items = items.with_heard_kits(cfg.synth.waveform_len());
        }
        Ok(Training {
            cfg: cfg.clone(),
            device: device.clone(),
            varmap,
            net,
            unet_workspace: TrainingWorkspace::default(),
            synth,
            pool,
            loss,
            adam,
            items: PrefetchedItems::new(items),
            kit_rng: ChaCha8Rng::seed_from_u64(t.seed ^ 0x6472_6177),
            step: 0,
            seconds: 0.0,
        })
    }

    pub fn step_count(&self) -> u64 {
        self.step
    }

    pub fn seconds(&self) -> f64 {
        self.seconds
    }

    pub fn model(&self) -> &DrummerNet {
        &self.net
    }

    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// One batch of training audio (B, segment) on the device.
    pub fn next_batch(&mut self) -> Result<Tensor> {
        Ok(self.next_batch_with_kits()?.0)
    }

    /// One batch of training audio (B, segment) and the kit each item was rendered with
    /// (None for stems).
    pub fn next_batch_with_kits(&mut self) -> Result<(Tensor, Vec<Option<Kit>>)> {
        let b = self.cfg.train.batch_size;
        let n = self.cfg.audio.segment_samples();
        let batch = self.items.next_batch(b, n)?;
        Ok((
            Tensor::from_vec(batch.audio, (b, n), &self.device)?,
            batch.kits,
        ))
    }

    /// Forward pass and loss for a batch, without an update (used by tests and the bench); the
    /// synthesizer draws from the pool (as for items without a kit).
    pub fn loss_of(&mut self, batch: &Tensor) -> Result<(Tensor, Vec<f64>)> {
        self.loss_with_kits(batch, &[])
    }

    /// `loss_of` with the kits the items were rendered with, which the per-item draw uses;
    /// `kits` is empty or has one entry per item.
    pub fn loss_with_kits(
        &mut self,
        batch: &Tensor,
        kits: &[Option<Kit>],
    ) -> Result<(Tensor, Vec<f64>)> {
        let padded = self.net.pad(batch)?;
        let analysis = self.net.analyse_with(&padded, &self.unet_workspace)?;
        let frames = analysis.activations.dim(2)?;
        let per_item = self.cfg.synth.draw == KitDraw::PerItem
            && kits.len() == batch.dim(0)?
            && kits.iter().any(Option::is_some);
        let estimate = if self.synth.learned_waveforms().is_some() {
            self.synth.forward_learned(&analysis.activations)?
        } else if per_item {
            // One synthesis per item, each with its own kit (a pool draw for stems).
            let mut mixes = Vec::with_capacity(kits.len());
            for (i, kit) in kits.iter().enumerate() {
                let waveforms = match kit {
                    Some(kit) => self.pool.kit_waveforms(kit)?,
                    None => self.pool.draw(&mut self.kit_rng, KitDraw::PerComponent)?,
                };
                mixes.push(
                    self.synth
                        .forward(&analysis.activations.narrow(0, i, 1)?, &waveforms)?,
                );
            }
            Tensor::cat(&mixes, 0)?
        } else {
            let waveforms = self.pool.draw(&mut self.kit_rng, self.cfg.synth.draw)?;
            self.synth.forward(&analysis.activations, &waveforms)?
        };
        // A broken model (NaN or infinite audio) makes every CQT scale NaN, which the loss treats
        // as an error; a training run must see it as a non-finite loss (skip, count, go on).
        if !all_finite(&estimate)? {
            let nan = Tensor::new(f32::NAN, &self.device)?;
            return Ok((nan, vec![f64::NAN; self.loss.settings().scales]));
        }
        let target = self.net.aligned_target(&padded, frames)?;
        let out = self.loss.forward(&target, &estimate)?;
        let per_scale = out.per_scale.iter().map(|&v| v as f64).collect();
        let lambda = self.cfg.loss.activation_l1;
        if lambda == 0.0 {
            return Ok((out.total, per_scale));
        }
        // Activations are non-negative: their L1 norm is their sum.
        let items = analysis.activations.dim(0)? as f64;
        let l1 = (analysis.activations.sum_all()? * (lambda / items))?;
        let dtype = out.total.dtype();
        Ok(((out.total + l1.to_dtype(dtype)?)?, per_scale))
    }

    /// One optimizer step on a fresh batch.
    pub fn step(&mut self) -> Result<StepReport> {
        let started = Instant::now();
        let (batch, kits) = self.next_batch_with_kits()?;
        // The next step's batch is made while this one computes.
        self.items
            .prefetch(self.cfg.train.batch_size, self.cfg.audio.segment_samples());
        let (loss, per_scale) = self.loss_with_kits(&batch, &kits)?;
        let value = loss.to_scalar::<f32>()? as f64;
        let mut finite = value.is_finite();
        if finite {
            let grads = loss.backward()?;
            // A finite loss can still have NaN gradients (NaN parameters give all-zero sparsemax
            // outputs, hence a finite loss); one such update would poison every parameter.
            if self.gradients_finite(&grads)? {
                self.adam
                    .set_learning_rate(self.cfg.train.learning_rate_at(self.step));
                self.adam.step(&grads)?;
                self.synth.project_norm()?;
                self.step += 1;
            } else {
                finite = false;
                tracing::warn!(
                    "step {}: gradient is not finite; update skipped",
                    self.step + 1
                );
            }
        } else {
            tracing::warn!("step {}: loss is {value}; update skipped", self.step + 1);
        }
        let elapsed = started.elapsed().as_secs_f64();
        self.seconds += elapsed;
        Ok(StepReport {
            step: self.step,
            loss: value,
            per_scale,
            finite,
            seconds: self.seconds,
            items_per_second: self.cfg.train.batch_size as f64 / elapsed.max(1e-9),
        })
    }

    fn gradients_finite(&self, grads: &candle_core::backprop::GradStore) -> Result<bool> {
        for (_, var) in self.adam.vars() {
            if let Some(g) = grads.get(var.as_tensor()) {
                if !all_finite(g)? {
                    return Ok(false);
                }
            }
        }
        Ok(true)
    }

    /// The synthesizer's waveforms as the workbench shows them: the learned ones when they are
    /// trainable, else the first kit of the pool.
    pub fn waveforms(&self) -> Result<Vec<Vec<f32>>> {
        let t = match self.synth.learned_waveforms() {
            Some(v) => v.as_tensor().clone(),
            None => self
                .pool
                .waveforms(&vec![0; self.cfg.model.n_components()])?,
        };
        Ok(t.to_device(&Device::Cpu)?.to_vec2::<f32>()?)
    }

    /// The checkpoint (model + optimizer + training state) as safetensors bytes.
    pub fn checkpoint_bytes(&self) -> Result<Vec<u8>> {
        let mut tensors: Vec<(String, Tensor)> = self
            .adam
            .vars()
            .iter()
            .map(|(n, v)| (n.clone(), v.as_tensor().clone()))
            .collect();
        tensors.extend(self.adam.state_tensors());
        let mut meta = file::model_metadata(&self.cfg.model, CHECKPOINT_FORMAT)?;
        let state = TrainState {
            step: self.step,
            seconds: self.seconds,
            data_rng_word_pos: self.items.rng_word_pos().to_string(),
            kit_rng_word_pos: self.kit_rng.get_word_pos().to_string(),
        };
        meta.insert(
            TRAIN_STATE_KEY.into(),
            serde_json::to_string(&state).map_err(|e| Error::Invalid(e.to_string()))?,
        );
        meta.insert("train_config".into(), self.cfg.to_toml()?);
        file::tensor_file_bytes(&tensors, meta)
    }

    /// Restores a checkpoint (the bytes of [`Training::checkpoint_bytes`], as a session writes
    /// them) made with the same model config. On error nothing has changed.
    pub fn resume_from(&mut self, path: &Path) -> Result<()> {
        let f = file::load_tensor_file(path, &self.device)?;
        let stored = f.model_config(path)?;
        if stored != self.cfg.model {
            return Err(Error::model_file(
                path,
                "made with a different model configuration than the current config ([model] section)",
            ));
        }
        let state: TrainState = f
            .metadata
            .get(TRAIN_STATE_KEY)
            .and_then(|s| serde_json::from_str(s).ok())
            .ok_or_else(|| {
                Error::model_file(path, "not a training checkpoint (no training state)")
            })?;
        // Every tensor (parameters and optimizer moments) is checked before anything is
        // changed, so a bad checkpoint leaves this training untouched.
        let expected: Vec<(String, Vec<usize>)> = self
            .adam
            .vars()
            .iter()
            .flat_map(|(n, v)| {
                let dims = v.dims().to_vec();
                [
                    (n.clone(), dims.clone()),
                    (format!("adam.m.{n}"), dims.clone()),
                    (format!("adam.v.{n}"), dims),
                ]
            })
            .collect();
        file::check_tensors(path, &f, &expected)?;
        let parse = |s: &str| {
            s.parse::<u128>()
                .map_err(|_| Error::model_file(path, "corrupt training state"))
        };
        let data_pos = parse(&state.data_rng_word_pos)?;
        let kit_pos = parse(&state.kit_rng_word_pos)?;
        for (name, var) in self.adam.vars() {
            var.set(&f.tensors[name])?;
        }
        self.adam
            .load_state(&f.tensors, state.step)
            .map_err(|e| Error::model_file(path, e.to_string()))?;
        self.items.set_rng_word_pos(data_pos)?;
        self.kit_rng.set_word_pos(kit_pos);
        self.step = state.step;
        self.seconds = state.seconds;
        Ok(())
    }

    /// Named model tensors (for exporting a model file).
    pub fn model_tensors(&self) -> Vec<(String, Tensor)> {
        self.adam
            .vars()
            .iter()
            .map(|(n, v)| (n.clone(), v.as_tensor().clone()))
            .collect()
    }

    pub fn var_map(&self) -> &VarMap {
        &self.varmap
    }
}

/// True when no element is NaN or infinite (a NaN or inf anywhere makes the sum non-finite).
fn all_finite(t: &Tensor) -> Result<bool> {
    Ok(t.sum_all()?
        .to_dtype(DType::F64)?
        .to_scalar::<f64>()?
        .is_finite())
}

/// Trainable waveforms learn only on the CPU: off it, the synthesizer's waveform gradient
/// comes from candle's conv1d kernel gradient, which an H200 run of `tests/model/cuda.rs` measured
/// wrong (1.9 relative error); the activations' gradient there is right.
fn check_device_supports(cfg: &Config, cpu: bool) -> Result<()> {
    if cfg.synth.trainable && !cpu {
        return Err(Error::config(
            "synth.trainable",
            "trainable waveforms train only with --device cpu (their gradient on CUDA is wrong in candle 0.11)",
        ));
    }
    Ok(())
}

/// Checkpoint metadata helper for tools that only need the step.
pub fn checkpoint_step(meta: &HashMap<String, String>) -> Option<u64> {
    meta.get(TRAIN_STATE_KEY)
        .and_then(|s| serde_json::from_str::<TrainState>(s).ok())
        .map(|s| s.step)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trainable_waveforms_are_refused_off_the_cpu() {
        let mut cfg = Config::defaults().unwrap();
        assert!(check_device_supports(&cfg, false).is_ok());
        cfg.synth.trainable = true;
        assert!(check_device_supports(&cfg, true).is_ok());
        let err = check_device_supports(&cfg, false).unwrap_err().to_string();
        assert!(
            err.contains("synth.trainable") && err.contains("--device cpu"),
            "{err}"
        );
    }
}
