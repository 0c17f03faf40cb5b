//! The synthesizer and mixer (spec section 6): sparse low-rate activations are zero-inserted,
//! convolved with one waveform per drum component and summed into the re-synthesised mix.
//! Waveforms come from a [`KitPool`] (a fresh draw every batch) or, when trainable, from a
//! [`candle_core::Var`] kept at a fixed norm by [`Synthesizer::project_norm`].

use candle_core::{DType, Device, Tensor, Var, D};
use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::audio::SAMPLE_RATE;
use crate::error::{Error, Result};
use crate::kit::Kit;
use crate::model::ops::synth_fft::synth_conv;

/// Which kit each component's waveform is drawn from, once per batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KitDraw {
    /// An independent kit per component (the authors' release).
    PerComponent,
    /// One kit for all components (the paper's text).
    PerBatch,
    /// Each synthetic item re-synthesised with the kit it was rendered with, so that matching
    /// the audio never pays for a drum played on another drum's channel (a hi-hat patching a
    /// snare's highs); items without a kit (stems) draw per component.
    PerItem,
}

/// How each waveform is scaled before use (spec section 6, `source_norm`): the kit's own
/// normalisation, applied here to kit draws and to learned waveforms.
pub use crate::kit::SourceNorm as WaveformNorm;

/// Whether a waveform has a direction to scale: some sample non-zero, every sample finite.
fn audible(samples: &[f32]) -> bool {
    samples.iter().any(|v| *v != 0.0) && samples.iter().all(|v| v.is_finite())
}

/// Scales a kit's rows (K·L samples) by one gain: the row with the largest norm gets the
/// norm's target, the others keep their level relative to it.
fn balance_kit(norm: WaveformNorm, flat: &mut [f32], len: usize) {
    // The loudest row needs the smallest gain.
    let gain = flat
        .chunks(len)
        .filter_map(|row| crate::kit::norm::gain(row, norm))
        .fold(f64::INFINITY, f64::min);
    if gain.is_finite() {
        flat.iter_mut()
            .for_each(|v| *v = (f64::from(*v) * gain) as f32);
    }
}

/// Scales every row of a (K, L) tensor to the norm's target (rows of zeros stay zero).
pub fn normalise_rows(norm: WaveformNorm, h: &Tensor) -> Result<Tensor> {
    use crate::kit::norm::{ABSSUM_TARGET, SQRSUM_TARGET};
    let (current, target) = match norm {
        WaveformNorm::SqrSum => (h.sqr()?.sum_keepdim(D::Minus1)?.sqrt()?, SQRSUM_TARGET),
        WaveformNorm::AbsSum => (h.abs()?.sum_keepdim(D::Minus1)?, ABSSUM_TARGET),
        WaveformNorm::None => return Ok(h.clone()),
    };
    // A tiny floor keeps a silent row at zero instead of NaN.
    let gain = current.maximum(1e-12)?.recip()?.affine(target, 0.0)?;
    Ok(h.broadcast_mul(&gain)?)
}

/// `[synth]` settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SynthSettings {
    /// Seconds of each drum sample used as the component waveform (release: 1.0 s = 16 000
    /// samples); longer samples are cut, shorter ones zero-padded.
    pub waveform_seconds: f32,
    /// Learn the waveforms together with the transcriber, starting from a kit draw; they are
    /// rescaled to the target norm after every optimizer step.
    pub trainable: bool,
    /// `percomponent` (release: an independent kit per component each batch) or `perbatch`
    /// (paper: one kit per batch).
    pub draw: KitDraw,
    /// `sqrsum` (L2 = 10, release), `abssum` (L1 = 400) or `none`.
    pub norm: WaveformNorm,
    /// With the per-item draw: each item's kit passes through the linear part of the item's
    /// augmentation (mic room, low/high cut, mid bell, tilt, reverb) before it synthesises, so
    /// the synthesizer hears the drums as the item's recording did and no channel is taught to
    /// patch a brighter snare or a room with another drum.
    pub item_recording: bool,
    /// Keep each kit's own balance: one gain per kit brings its loudest component to the
    /// norm's target and every other component keeps its level relative to it, instead of each
    /// component scaled on its own. Under the per-component norm a closed hat (its samples
    /// ~30x quieter than the kick's in kits 1-11) is raised to the kick's energy, so a hat
    /// stroke needs an activation ~100x smaller than a kick's, where the product of two
    /// sparsemaxes is diffuse. Kit draws only (not with `trainable`).
    pub kit_balance: bool,
}

impl Default for SynthSettings {
    fn default() -> Self {
        SynthSettings {
            waveform_seconds: 1.0,
            trainable: false,
            draw: KitDraw::PerComponent,
            norm: WaveformNorm::SqrSum,
            item_recording: false,
            kit_balance: false,
        }
    }
}

impl SynthSettings {
    /// Waveform length in samples at 16 kHz.
    pub fn waveform_len(&self) -> usize {
        (self.waveform_seconds * SAMPLE_RATE as f32).round() as usize
    }

    pub fn validate(&self, prefix: &str) -> Result<()> {
        let s = self.waveform_seconds;
        if !(s.is_finite() && s * SAMPLE_RATE as f32 >= 1.0 && s <= 10.0) {
            return Err(Error::config(
                format!("{prefix}.waveform_seconds"),
                "must be in 0.0001..=10 seconds",
            ));
        }
        if self.kit_balance && (self.trainable || self.norm == WaveformNorm::None) {
            return Err(Error::config(
                format!("{prefix}.kit_balance"),
                "needs fixed waveforms (trainable = false) and a norm (sqrsum or abssum)",
            ));
        }
        Ok(())
    }
}

/// The training kits, reordered to the model's components, cut/padded to L samples and
/// normalised; draws a (K, L) waveform tensor per batch.
#[derive(Debug, Clone)]
pub struct KitPool {
    kit_names: Vec<String>,
    /// Per kit, K·L samples in model component order.
    waveforms: Vec<Vec<f32>>,
    components: usize,
    component_names: Vec<String>,
    settings: SynthSettings,
    waveform_len: usize,
    device: Device,
}

impl KitPool {
    /// Errors name the kit and the component when a kit lacks one of `component_names` or has a
    /// silent one.
    pub fn new(
        kits: &[Kit],
        component_names: &[String],
        settings: &SynthSettings,
        device: &Device,
    ) -> Result<Self> {
        if kits.is_empty() {
            return Err(Error::Invalid(
                "synthesizer: no drum kit to draw from".into(),
            ));
        }
        let len = settings.waveform_len();
        let mut waveforms = Vec::with_capacity(kits.len());
        for kit in kits {
            let mut flat = vec![0f32; component_names.len() * len];
            for (k, name) in component_names.iter().enumerate() {
                let comp = kit.component(name).ok_or_else(|| {
                    Error::Invalid(format!(
                        "kit `{}`: has no component `{name}` (the model needs {})",
                        kit.name,
                        component_names.join(", ")
                    ))
                })?;
                let row = &mut flat[k * len..(k + 1) * len];
                let n = comp.samples.len().min(len);
                row[..n].copy_from_slice(&comp.samples[..n]);
                if !audible(row) && settings.norm != WaveformNorm::None {
                    return Err(Error::Invalid(format!(
                        "kit `{}`: component `{name}` is silent in its first {} samples",
                        kit.name, len
                    )));
                }
                if !settings.kit_balance {
                    crate::kit::normalise(row, settings.norm);
                }
            }
            if settings.kit_balance {
                balance_kit(settings.norm, &mut flat, len);
            }
            waveforms.push(flat);
        }
        Ok(KitPool {
            kit_names: kits.iter().map(|k| k.name.clone()).collect(),
            waveforms,
            components: component_names.len(),
            component_names: component_names.to_vec(),
            settings: settings.clone(),
            waveform_len: len,
            device: device.clone(),
        })
    }

    pub fn len(&self) -> usize {
        self.waveforms.len()
    }

    pub fn is_empty(&self) -> bool {
        self.waveforms.is_empty()
    }

    pub fn kit_names(&self) -> &[String] {
        &self.kit_names
    }

    pub fn waveform_len(&self) -> usize {
        self.waveform_len
    }

    /// The kit index of each component for one batch.
    pub fn draw_indices(&self, rng: &mut impl Rng, mode: KitDraw) -> Vec<usize> {
        match mode {
            KitDraw::PerBatch => vec![rng.random_range(0..self.len()); self.components],
            KitDraw::PerComponent | KitDraw::PerItem => (0..self.components)
                .map(|_| rng.random_range(0..self.len()))
                .collect(),
        }
    }

    /// (K, L) waveforms with component k taken from kit `indices[k]`.
    pub fn waveforms(&self, indices: &[usize]) -> Result<Tensor> {
        if indices.len() != self.components {
            return Err(Error::Invalid(format!(
                "kit pool: {} kit indices for {} components",
                indices.len(),
                self.components
            )));
        }
        let len = self.waveform_len;
        let mut flat = Vec::with_capacity(self.components * len);
        for (k, &i) in indices.iter().enumerate() {
            let kit = self.waveforms.get(i).ok_or_else(|| {
                Error::Invalid(format!("kit pool: no kit {i} (pool has {})", self.len()))
            })?;
            flat.extend_from_slice(&kit[k * len..(k + 1) * len]);
        }
        Ok(Tensor::from_vec(
            flat,
            (self.components, len),
            &self.device,
        )?)
    }

    /// One kit's (K, L) waveforms, normalised as the pool's (a per-item draw: the kit an item
    /// was rendered with).
    pub fn kit_waveforms(&self, kit: &Kit) -> Result<Tensor> {
        let one = KitPool::new(
            std::slice::from_ref(kit),
            &self.component_names,
            &self.settings,
            &self.device,
        )?;
        one.waveforms(&vec![0; self.components])
    }

    /// One batch's (K, L) waveforms, normalised.
    pub fn draw(&self, rng: &mut impl Rng, mode: KitDraw) -> Result<Tensor> {
        let indices = self.draw_indices(rng, mode);
        self.waveforms(&indices)
    }
}

/// Zero-insertion, per-component convolution and mix: (B, K, T) activations -> (B, hop·T).
#[derive(Debug, Clone)]
pub struct Synthesizer {
    hop: usize,
    norm: WaveformNorm,
    learned: Option<Var>,
}

impl Synthesizer {
    /// A synthesizer whose waveforms are supplied on every call (kit draws).
    pub fn new(hop: usize, norm: WaveformNorm) -> Self {
        Synthesizer {
            hop,
            norm,
            learned: None,
        }
    }

    /// A synthesizer with learned waveforms, initialised from `init` (K, L) scaled to the norm.
    pub fn trainable(init: &Tensor, hop: usize, norm: WaveformNorm) -> Result<Self> {
        let h = normalise_rows(norm, &init.to_dtype(DType::F32)?)?;
        Ok(Synthesizer {
            hop,
            norm,
            learned: Some(Var::from_tensor(&h)?),
        })
    }

    /// The learned waveforms (give them to the optimizer), when trainable.
    pub fn learned_waveforms(&self) -> Option<&Var> {
        self.learned.as_ref()
    }

    pub fn hop(&self) -> usize {
        self.hop
    }

    /// The mix from explicit waveforms (K, L).
    pub fn forward(&self, a_low: &Tensor, waveforms: &Tensor) -> Result<Tensor> {
        synth_conv(a_low, waveforms, self.hop)
    }

    /// The mix from the learned waveforms.
    pub fn forward_learned(&self, a_low: &Tensor) -> Result<Tensor> {
        let h = self.learned.as_ref().ok_or_else(|| {
            Error::Invalid("synthesizer: waveforms are not trainable in this model".into())
        })?;
        synth_conv(a_low, h.as_tensor(), self.hop)
    }

    /// Rescales every learned waveform to the configured norm (call after each optimizer step
    /// so the waveforms cannot grow to absorb the activation scale). No-op when not trainable.
    pub fn project_norm(&self) -> Result<()> {
        if self.norm == WaveformNorm::None {
            return Ok(());
        }
        if let Some(var) = &self.learned {
            let h = normalise_rows(self.norm, var.as_tensor())?;
            var.set(&h)?;
        }
        Ok(())
    }
}
