//! The adaptation loop: a copy of the model's weights and a synthesizer whose waveforms start
//! from a kit, fine-tuned with the training loss on random 2-s crops of the one stem. The
//! shipped model is never touched: the adapted weights live in this adaptation's own variables
//! until they are written elsewhere.

use std::collections::HashMap;
use std::time::Instant;

use candle_core::{DType, Device, Tensor, Var};
use candle_nn::{VarBuilder, VarMap};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::config::Config;
use crate::error::{Error, Result};
use crate::model::drummernet::{DrummerNet, LoadedModel};
use crate::model::file;
use crate::model::loss::CqtLoss;
use crate::model::synthesizer::{KitPool, Synthesizer, WaveformNorm};
use crate::model::unet::InferenceWorkspace;
use crate::train::adam::{Adam, AdamParams};

use crate::transcribe::{activations_for, InferenceSettings, NetRunner};

use super::least_squares;
use super::settings::{AdaptSettings, Learned};

/// Name of the learned waveforms in an adapted model file.
pub const WAVEFORMS: &str = "synth.waveforms";

/// The kit of `cfg.adapt.kit` (the bundled kit when empty) as waveforms (K, L), normalised as
/// the model trained with them.
fn kit_waveforms(cfg: &Config, components: &[String], device: &Device) -> Result<Tensor> {
    let spec = if cfg.adapt.kit.is_empty() {
        crate::assets::locate(crate::assets::BUNDLED_KIT)
            .display()
            .to_string()
    } else {
        cfg.adapt.kit.clone()
    };
    let kits =
        crate::kit::spec::KitSpec::parse(&spec)?.load(components, cfg.synth.waveform_len())?;
    let pool = KitPool::new(&kits[..1], components, &cfg.synth, device)?;
    pool.waveforms(&vec![0; components.len()])
}

/// Ridge of the least-squares kit toward the current one, relative to the activations' energy.
const LEAST_SQUARES_RIDGE: f64 = 1e-2;

/// One optimizer step's report.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdaptStep {
    /// Steps done (1-based).
    pub step: usize,
    pub loss: f64,
    /// Seconds since adaptation started.
    pub seconds: f64,
}

/// An adaptation in progress.
pub struct Adaptation {
    settings: AdaptSettings,
    loaded: LoadedModelInfo,
    device: Device,
    varmap: VarMap,
    net: DrummerNet,
    synth: Synthesizer,
    loss: CqtLoss,
    /// The transcriber's weights and the waveforms learn at rates of their own.
    adam_net: Option<Adam>,
    adam_waveforms: Option<Adam>,
    /// The stem, peak-normalised as transcription normalises it, at 16 kHz.
    stem: Vec<f32>,
    segment: usize,
    rng: ChaCha8Rng,
    workspace: InferenceWorkspace,
    steps: Vec<AdaptStep>,
    started: Option<Instant>,
    /// How the stem's activations are computed for the least-squares kit.
    inference: InferenceSettings,
}

/// What is kept of the loaded model to describe the adapted one.
struct LoadedModelInfo {
    config: crate::model::ModelConfig,
    path: std::path::PathBuf,
    metadata: HashMap<String, String>,
}

impl Adaptation {
    /// Prepares the adaptation of `model` to `stem` (mono 16 kHz samples, any level), with the
    /// waveforms starting from the learned kit a model adapted before carries, else from
    /// `[adapt] kit`. Errors name what is wrong with the stem: too short for one crop, silent.
    pub fn new(
        model: &LoadedModel,
        stem: &[f32],
        cfg: &Config,
        device: &Device,
    ) -> Result<Adaptation> {
        let settings = cfg.adapt.clone();
        settings.validate("adapt")?;
        let segment = cfg.audio.segment_samples();
        if stem.len() < segment {
            return Err(Error::Invalid(format!(
                "too short to adapt on: {:.2} s, adaptation needs at least {:.1} s",
                stem.len() as f64 / f64::from(crate::audio::SAMPLE_RATE),
                cfg.audio.segment_seconds
            )));
        }
        let peak = stem.iter().fold(0.0f32, |m, x| m.max(x.abs()));
        let Some(gain) =
            crate::transcribe::chunked::normalising_gain(peak, cfg.inference.silence_dbfs)
        else {
            return Err(Error::Invalid(
                "silent: nothing to adapt on (below the silence level)".into(),
            ));
        };
        let stem: Vec<f32> = stem.iter().map(|x| x * gain).collect();

        // The model's weights, copied into variables of our own.
        let f = file::load_tensor_file(&model.path, device)?;
        let varmap = VarMap::new();
        let net = DrummerNet::new(
            &model.config,
            VarBuilder::from_varmap(&varmap, DType::F32, device),
        )?;
        let mut named: Vec<(String, Var)> = varmap
            .data()
            .lock()
            .map_err(|_| Error::Invalid("variable map lock poisoned".into()))?
            .iter()
            .map(|(n, v)| (n.clone(), v.clone()))
            .collect();
        named.sort_by(|a, b| a.0.cmp(&b.0));
        for (name, var) in &named {
            let t = f.tensors.get(name).ok_or_else(|| {
                Error::model_file(&model.path, format!("tensor `{name}` is missing"))
            })?;
            var.set(&t.to_dtype(DType::F32)?)?;
        }
        let learns = |what| settings.learn.contains(&what);
        let trained: Vec<(String, Var)> = named
            .into_iter()
            .filter(|(n, _)| {
                (learns(Learned::Head) && n.starts_with("recurrent."))
                    || (learns(Learned::Unet) && n.starts_with("unet."))
            })
            .collect();
        let hop = model.config.frame_hop();
        // A model adapted before carries its learned kit, at the scale it learned: start from
        // it. A kit starts at the scale the model trained with (the pool normalises it); from
        // there on the waveforms keep the scale they learn (a least-squares kit's level is the
        // stem's, relative to the activations), so no norm is imposed.
        let components = &model.config.components;
        let init = match f.tensors.get(WAVEFORMS) {
            Some(w) if w.dims() == [components.len(), cfg.synth.waveform_len()] => {
                w.to_dtype(DType::F32)?
            }
            _ => kit_waveforms(cfg, components, device)?,
        };
        let synth = Synthesizer::trainable(&init, hop, WaveformNorm::None)?;
        let waveforms: Vec<(String, Var)> = match synth.learned_waveforms() {
            Some(w) if learns(Learned::Waveforms) => vec![(WAVEFORMS.to_string(), w.clone())],
            _ => Vec::new(),
        };
        let t = &cfg.train;
        let adam = |vars: Vec<(String, Var)>, lr: f64| -> Result<Option<Adam>> {
            if vars.is_empty() {
                return Ok(None);
            }
            let params = AdamParams {
                lr,
                beta1: t.adam_beta1,
                beta2: t.adam_beta2,
                eps: t.adam_eps,
            };
            Ok(Some(Adam::new(vars, params)?))
        };
        let adam_net = adam(trained, settings.learning_rate)?;
        let adam_waveforms = adam(waveforms, settings.waveform_learning_rate)?;
        Ok(Adaptation {
            rng: ChaCha8Rng::seed_from_u64(settings.seed ^ 0x6164_6170),
            settings,
            loaded: LoadedModelInfo {
                config: model.config.clone(),
                path: model.path.clone(),
                metadata: model.metadata.clone(),
            },
            device: device.clone(),
            varmap,
            net,
            synth,
            loss: CqtLoss::new(&cfg.loss, device)?,
            adam_net,
            adam_waveforms,
            stem,
            segment,
            workspace: InferenceWorkspace::default(),
            steps: Vec::new(),
            started: None,
            inference: cfg.inference.clone(),
        })
    }

    /// Steps taken so far, with their losses.
    pub fn steps(&self) -> &[AdaptStep] {
        &self.steps
    }

    /// Whether the step count or the time budget is spent.
    pub fn finished(&self) -> bool {
        let s = &self.settings;
        self.steps.len() >= s.steps
            || (s.seconds > 0.0
                && self
                    .started
                    .is_some_and(|t| t.elapsed().as_secs_f64() >= s.seconds))
    }

    /// One optimizer step on a batch of random crops of the stem. A non-finite loss is an
    /// error (the adaptation has diverged; nothing it made should be used).
    pub fn step(&mut self) -> Result<AdaptStep> {
        let started = *self.started.get_or_insert_with(Instant::now);
        let b = self.settings.batch_size;
        let mut crops = Vec::with_capacity(b * self.segment);
        for _ in 0..b {
            let start = self.rng.random_range(0..=self.stem.len() - self.segment);
            crops.extend_from_slice(&self.stem[start..start + self.segment]);
        }
        let batch = Tensor::from_vec(crops, (b, self.segment), &self.device)?;
        let padded = self.net.pad(&batch)?;
        let activations = if self.settings.learn.contains(&Learned::Unet) {
            self.net.analyse(&padded)?.activations
        } else {
            let features = self.net.unet_features(&padded, &mut self.workspace)?;
            self.net.head(&features)?
        };
        let frames = activations.dim(2)?;
        let estimate = self.synth.forward_learned(&activations)?;
        let target = self.net.aligned_target(&padded, frames)?;
        let loss = self.loss.forward(&target, &estimate)?.total;
        let value = f64::from(loss.to_dtype(DType::F32)?.to_scalar::<f32>()?);
        if !value.is_finite() {
            return Err(Error::Invalid(format!(
                "adaptation diverged: the loss is {value} at step {}",
                self.steps.len() + 1
            )));
        }
        let grads = loss.backward()?;
        for adam in [&mut self.adam_net, &mut self.adam_waveforms]
            .into_iter()
            .flatten()
        {
            adam.step(&grads)?;
        }
        self.synth.project_norm()?;
        let report = AdaptStep {
            step: self.steps.len() + 1,
            loss: value,
            seconds: started.elapsed().as_secs_f64(),
        };
        self.steps.push(report);
        Ok(report)
    }

    /// Steps until [`Adaptation::finished`], `progress` told after each (with the adaptation,
    /// to read its waveforms); with
    /// `least_squares`, the waveforms are fitted to the stem before the first step and after
    /// the last (the kit that best re-synthesises the stem from the model's activations).
    pub fn run(&mut self, progress: &mut dyn FnMut(&AdaptStep, &Adaptation)) -> Result<()> {
        let fit = self.settings.least_squares && self.settings.learn.contains(&Learned::Waveforms);
        if fit {
            self.fit_waveforms()?;
        }
        while !self.finished() {
            let s = self.step()?;
            progress(&s, self);
        }
        if fit && !self.steps.is_empty() {
            self.fit_waveforms()?;
        }
        Ok(())
    }

    /// Sets the waveforms to the least-squares fit of the stem from the current model's
    /// activations ([`super::least_squares`]).
    pub fn fit_waveforms(&mut self) -> Result<()> {
        let Some(var) = self.synth.learned_waveforms() else {
            return Ok(());
        };
        let (k, len) = var.as_tensor().dims2()?;
        let runner = NetRunner::new(&self.net, self.device.clone());
        let activations = activations_for(
            &runner,
            &self.stem,
            &self.inference,
            crate::audio::SAMPLE_RATE,
        )?;
        let prior = var.as_tensor().to_vec2::<f32>()?;
        let waves = least_squares::fit_waveforms(
            &self.stem,
            &activations,
            self.net.config().frame_hop(),
            len,
            self.settings.least_squares_iterations,
            LEAST_SQUARES_RIDGE,
            Some(&prior),
        );
        if waves.iter().flatten().any(|v| !v.is_finite()) {
            return Err(Error::Invalid(
                "the least-squares kit is not finite (activations all zero?)".into(),
            ));
        }
        let flat: Vec<f32> = waves.into_iter().flatten().collect();
        var.set(&Tensor::from_vec(flat, (k, len), &self.device)?)?;
        Ok(())
    }

    /// The adapted weights (and the learned waveforms), named as in a model file.
    pub fn tensors(&self) -> Result<Vec<(String, Tensor)>> {
        let mut out: Vec<(String, Tensor)> = self
            .varmap
            .data()
            .lock()
            .map_err(|_| Error::Invalid("variable map lock poisoned".into()))?
            .iter()
            .map(|(n, v)| (n.clone(), v.as_tensor().detach()))
            .collect();
        if let Some(w) = self.synth.learned_waveforms() {
            out.push((WAVEFORMS.to_string(), w.as_tensor().detach()));
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(out)
    }

    /// The learned waveforms (K, L) as rows.
    pub fn waveforms(&self) -> Result<Vec<Vec<f32>>> {
        match self.synth.learned_waveforms() {
            Some(w) => Ok(w.as_tensor().to_vec2::<f32>()?),
            None => Ok(Vec::new()),
        }
    }

    /// The adapted model, ready for inference (no gradient graph), described as the model it
    /// came from plus `adapted_steps` in its metadata.
    pub fn adapted_model(&self) -> Result<LoadedModel> {
        let tensors: HashMap<String, Tensor> = self.tensors()?.into_iter().collect();
        let net = DrummerNet::new(
            &self.loaded.config,
            VarBuilder::from_tensors(tensors, DType::F32, &self.device),
        )?;
        let mut metadata = self.loaded.metadata.clone();
        metadata.insert("adapted_steps".into(), self.steps.len().to_string());
        Ok(LoadedModel {
            net,
            config: self.loaded.config.clone(),
            path: self.loaded.path.clone(),
            metadata,
        })
    }
}
