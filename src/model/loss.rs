//! DrummerNet's training loss (spec section 7.1/7.2): the multi-resolution pseudo-CQT distance
//!
//!   L(x, x̂) = Σ_s factor · mean |C_s(x) − C_s(x̂)|,
//!   C_s(y) = log10(|B_s|·sqrt(|STFT_s(y)|² + eps) / sqrt(n_fft_s) + eps) − log10(eps),
//!
//! over 8 octave scales of 12 constant-Q bins, each with its own STFT size and a hop of 64.
//! The STFT is restricted to the bins the sparse basis uses ([`BinStft`]). On CPU each scale is
//! one fused op ([`LogCqtOp`]) with a hand-written backward; on other devices the STFT is a
//! strided conv1d and the magnitude, projection and log are candle ops. The target's CQT is
//! computed without gradient.
//!
//! With `hpss = true` (off by default, as in the release; the paper's DFL configuration) both
//! signals are first replaced by their percussive part (spec 7.3, [`crate::model::ops::hpss`]):
//!
//!   L(x, x̂) = Σ_s factor · mean |C_s(perc(x)) − C_s(perc(x̂))|.
//!
//! With `onset_weights` (empty by default: the release) each weighted scale also compares the
//! signals' onsets, the positive change of the log-CQT over `onset_lag` frames:
//!
//!   O_s(y)[k, t] = max(0, C_s(y)[k, t] − C_s(y)[k, t − lag]),
//!   L += Σ_s factor · w_s · mean |O_s(x) − O_s(x̂)|.
//!
//! The level term alone rewards filling a long high-frequency decay (a snare's ring, a cymbal's
//! wash, a room's tail) with hi-hat strokes, since a stroke adds the energy that is missing; a
//! stroke also adds an attack the input lacks there, which only the onset term charges for.
//!
//! The front end is a custom op on CPU and composed candle ops elsewhere, and needs signals of
//! at least 3 840 samples (16 STFT frames).

use candle_core::{DType, Device, Tensor};
use serde::{Deserialize, Serialize};

use crate::audio::SAMPLE_RATE;
use crate::dsp::cqt_basis::{cqt_scales, CqtScale, MAX_SCALES};
use crate::error::{Error, Result};
use crate::model::ops::cqt_stft::{is_supported, BinStft, LogCqtOp};
use crate::model::ops::hpss::{self, ComposedHpss, Hpss};
use crate::model::ops::kernel::Map1;

/// How the per-scale CQT difference is reduced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LossMetric {
    /// Mean absolute error (release default).
    Mae,
    /// Mean squared error.
    Mse,
}

/// The `[loss]` section of `config.toml`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LossSettings {
    /// Number of CQT scales, from C1 upwards (the 8th starts at 4 kHz).
    pub scales: usize,
    /// STFT hop in samples (64 = 4 ms at 16 kHz).
    pub hop: usize,
    /// Constant-Q bins per scale (12 per octave).
    pub bins: usize,
    /// Weight of every scale's term (the release hard-codes 4).
    pub factor: f64,
    /// One multiplier of `factor` per scale, lowest first (empty: 1 for every scale, the
    /// release). Hi-hats live in the top scale (4-8 kHz), one term of eight.
    pub scale_weights: Vec<f64>,
    /// mae or mse.
    pub metric: LossMetric,
    /// Compare percussive parts (HPSS onset enhancement, spec 7.3): both signals go through a
    /// median-filtering percussive mask before the CQTs. Off in the release.
    pub hpss: bool,
    /// Floor inside the magnitude's sqrt and the log (the release's EPS = 1e-5).
    pub eps: f64,
    /// Weight of the paper's L1 term on the activations (mean over the batch of each item's
    /// activation sum; the paper's optional `l1_reg`, λ = 0.003). 0 = off (the release). Added
    /// by training to this loss, which compares audio only.
    pub activation_l1: f64,
    /// One weight (a multiplier of `factor`) per scale for the onset term, lowest scale first
    /// (empty: no onset term, the release). See the module docs.
    pub onset_weights: Vec<f64>,
    /// Frames between the two CQT columns an onset compares (hop 64: 2 = 8 ms).
    pub onset_lag: usize,
}

impl Default for LossSettings {
    fn default() -> Self {
        LossSettings {
            scales: MAX_SCALES,
            hop: 64,
            bins: 12,
            factor: 4.0,
            scale_weights: Vec::new(),
            metric: LossMetric::Mae,
            hpss: false,
            eps: 1e-5,
            activation_l1: 0.0,
            onset_weights: Vec::new(),
            onset_lag: 2,
        }
    }
}

impl LossSettings {
    pub fn validate(&self, prefix: &str) -> Result<()> {
        let key = |k: &str| format!("{prefix}.{k}");
        if !(1..=MAX_SCALES).contains(&self.scales) {
            return Err(Error::config(
                key("scales"),
                format!("must be in 1..={MAX_SCALES}"),
            ));
        }
        if !(1..=1024).contains(&self.hop) {
            return Err(Error::config(key("hop"), "must be in 1..=1024"));
        }
        if !(1..=12).contains(&self.bins) {
            return Err(Error::config(key("bins"), "must be in 1..=12"));
        }
        if !(self.factor.is_finite() && self.factor > 0.0) {
            return Err(Error::config(key("factor"), "must be a positive number"));
        }
        for (name, weights) in [
            ("scale_weights", &self.scale_weights),
            ("onset_weights", &self.onset_weights),
        ] {
            if !weights.is_empty() && weights.len() != self.scales {
                return Err(Error::config(
                    key(name),
                    format!(
                        "must be empty or have one weight per scale ({})",
                        self.scales
                    ),
                ));
            }
            if !weights
                .iter()
                .all(|w| w.is_finite() && (0.0..=100.0).contains(w))
            {
                return Err(Error::config(key(name), "must be in 0..=100"));
            }
        }
        if !(1..=64).contains(&self.onset_lag) {
            return Err(Error::config(key("onset_lag"), "must be in 1..=64"));
        }
        if !(self.eps.is_finite() && self.eps > 0.0 && self.eps < 1.0) {
            return Err(Error::config(key("eps"), "must be in (0, 1)"));
        }
        if !(self.activation_l1.is_finite() && (0.0..=10.0).contains(&self.activation_l1)) {
            return Err(Error::config(key("activation_l1"), "must be in 0..=10"));
        }
        Ok(())
    }
}

/// The loss value and, for logging, every scale's weighted term.
#[derive(Debug, Clone)]
pub struct LossOutput {
    /// Scalar tensor to call `backward` on.
    pub total: Tensor,
    /// factor · scale weight · metric per scale, plus the scale's onset term when it has one
    /// (NaN where that scale was dropped).
    pub per_scale: Vec<f32>,
}

struct ScaleLoss {
    scale: CqtScale,
    stft: BinStft,
    /// The fused CPU evaluation of the whole scale.
    fused: LogCqtOp,
    /// (F, bins): |B_s|ᵀ restricted to the used bins, divided by sqrt(n_fft).
    projection: Tensor,
    /// The composed path's conv1d weight, on the loss's device.
    kernel_bank: Tensor,
}

/// The HPSS front end: the CPU op and the composed path's matrices on the loss's device.
struct PercussiveFrontEnd {
    op: Hpss,
    composed: ComposedHpss,
}

/// The multi-resolution pseudo-CQT loss. Build once; it holds only constants.
pub struct CqtLoss {
    settings: LossSettings,
    scales: Vec<ScaleLoss>,
    hpss: Option<PercussiveFrontEnd>,
    composed_only: bool,
}

impl CqtLoss {
    pub fn new(settings: &LossSettings, device: &Device) -> Result<Self> {
        settings.validate("loss")?;
        let scales = cqt_scales(settings.scales, settings.bins, settings.hop, SAMPLE_RATE)?
            .into_iter()
            .map(|scale| {
                let stft = BinStft::new(&scale);
                let used = scale.used_bins();
                let norm = (scale.n_fft as f64).sqrt();
                let mut projection = vec![0f32; used.len() * settings.bins];
                for (k, row) in scale.rows.iter().enumerate() {
                    for &(bin, weight) in row {
                        // used_bins is sorted and contains every row bin.
                        let j = used.binary_search(&bin).unwrap_or_default();
                        projection[j * settings.bins + k] = (f64::from(weight) / norm) as f32;
                    }
                }
                let projection = Tensor::from_vec(projection, (used.len(), settings.bins), device)?;
                let fused = LogCqtOp::new(&scale, stft.clone(), settings.eps);
                let kernel_bank = stft.kernel_bank(device, DType::F32)?;
                Ok(ScaleLoss {
                    scale,
                    stft,
                    fused,
                    projection,
                    kernel_bank,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let hpss = if settings.hpss {
            Some(PercussiveFrontEnd {
                op: Hpss::new(),
                composed: ComposedHpss::new(device, DType::F32)?,
            })
        } else {
            None
        };
        Ok(CqtLoss {
            settings: settings.clone(),
            scales,
            hpss,
            composed_only: false,
        })
    }

    /// Use the composed candle-op path (the one non-CPU devices take) even on CPU, for
    /// cross-checks and benchmarks.
    pub fn composed_only(mut self) -> Self {
        self.composed_only = true;
        self
    }

    pub fn settings(&self) -> &LossSettings {
        &self.settings
    }

    /// The filterbank of every scale (fmin, n_fft, basis), lowest first.
    pub fn scales(&self) -> impl Iterator<Item = &CqtScale> {
        self.scales.iter().map(|s| &s.scale)
    }

    /// Shortest signal every scale (and the HPSS front end, when on) accepts.
    pub fn min_samples(&self) -> usize {
        let scales = self
            .scales
            .iter()
            .map(|s| s.stft.min_samples())
            .max()
            .unwrap_or(1);
        match self.hpss {
            Some(_) => scales.max(hpss::MIN_SAMPLES),
            None => scales,
        }
    }

    /// The signal the CQTs compare: `y` itself, or its percussive part when `hpss` is on.
    /// `y` is (B, N) or (B, 1, N); the result is (B, N).
    pub fn front_end(&self, y: &Tensor) -> Result<Tensor> {
        let y = flatten_mono(y)?;
        match &self.hpss {
            None => Ok(y),
            Some(h) if y.device().is_cpu() && !self.composed_only => h.op.forward(&y),
            Some(h) => h.composed.forward(&y),
        }
    }

    /// C_s(y) for every scale: (B, bins, 1 + N/hop) each. `y` is (B, N) or (B, 1, N). This is
    /// the CQT of `y` as given; the loss applies it to [`Self::front_end`]`(y)`.
    pub fn cqt(&self, y: &Tensor) -> Result<Vec<Tensor>> {
        let y = flatten_mono(y)?;
        self.scales.iter().map(|s| self.cqt_scale(s, &y)).collect()
    }

    fn cqt_scale(&self, s: &ScaleLoss, y: &Tensor) -> Result<Tensor> {
        s.stft.check(y)?;
        if y.device().is_cpu() && !self.composed_only {
            return Ok(s.fused.clone().apply(y)?);
        }
        // Other devices: the STFT as a strided conv1d, the rest from candle ops.
        let spec = s.stft.forward_composed_with(y, &s.kernel_bank)?;
        let f = s.stft.n_bins();
        let re = spec.narrow(2, 0, f)?;
        let im = spec.narrow(2, f, f)?;
        let magnitude = (re.sqr()? + im.sqr()?)?
            .affine(1.0, self.settings.eps)?
            .sqrt()?;
        let cq = magnitude.broadcast_matmul(&s.projection.to_dtype(y.dtype())?)?;
        let log10 = cq
            .affine(1.0, self.settings.eps)?
            .log()?
            .affine(1.0 / std::f64::consts::LN_10, -self.settings.eps.log10())?;
        Ok(log10.transpose(1, 2)?.contiguous()?)
    }

    /// L(target, estimate); gradients flow into `estimate` only.
    pub fn forward(&self, target: &Tensor, estimate: &Tensor) -> Result<LossOutput> {
        let target = flatten_mono(&target.detach())?;
        let estimate = flatten_mono(estimate)?;
        if target.dims() != estimate.dims() {
            return Err(Error::Invalid(format!(
                "CQT loss: target {:?} and estimate {:?} differ in shape",
                target.dims(),
                estimate.dims()
            )));
        }
        let target = self.front_end(&target)?;
        let estimate = self.front_end(&estimate)?;
        let mut total: Option<Tensor> = None;
        let mut per_scale = Vec::with_capacity(self.scales.len());
        for (index, s) in self.scales.iter().enumerate() {
            let estimate_cqt = self.cqt_scale(s, &estimate)?;
            let target_cqt = self.cqt_scale(s, &target)?;
            let weight = self
                .settings
                .scale_weights
                .get(index)
                .copied()
                .unwrap_or(1.0);
            let mut term = self
                .distance(&estimate_cqt, &target_cqt)?
                .affine(self.settings.factor * weight, 0.0)?;
            let onset_weight = self.settings.onset_weights.get(index).copied();
            if let Some(w) = onset_weight.filter(|&w| w > 0.0) {
                // The target was detached above: its onsets carry no gradient.
                let onsets =
                    self.distance(&self.onsets(&estimate_cqt)?, &self.onsets(&target_cqt)?)?;
                term = (term + onsets.affine(self.settings.factor * w, 0.0)?)?;
            }
            let value = term.to_dtype(DType::F32)?.to_scalar::<f32>()?;
            per_scale.push(value);
            // The release drops a NaN scale from the sum; say so instead of hiding it.
            if value.is_nan() {
                tracing::warn!(
                    fmin = s.scale.fmin,
                    "CQT loss scale is NaN; dropped from the sum"
                );
                continue;
            }
            total = Some(match total {
                Some(t) => (t + term)?,
                None => term,
            });
        }
        let total = total.ok_or_else(|| Error::Invalid("CQT loss is NaN at every scale".into()))?;
        Ok(LossOutput { total, per_scale })
    }

    /// mean |a − b| or mean (a − b)², as `metric` says.
    fn distance(&self, a: &Tensor, b: &Tensor) -> Result<Tensor> {
        let diff = (a - b)?;
        Ok(match self.settings.metric {
            LossMetric::Mae => diff.abs()?.mean_all()?,
            LossMetric::Mse => diff.sqr()?.mean_all()?,
        })
    }

    /// O_s: the positive change of a (B, bins, T) log-CQT over `onset_lag` frames,
    /// (B, bins, T − lag). A scale shorter than the lag has no onsets: one zero column.
    fn onsets(&self, cqt: &Tensor) -> Result<Tensor> {
        let (b, bins, frames) = cqt.dims3()?;
        let lag = self.settings.onset_lag;
        if frames <= lag {
            return Ok(Tensor::zeros((b, bins, 1), cqt.dtype(), cqt.device())?);
        }
        let later = cqt.narrow(2, lag, frames - lag)?;
        let earlier = cqt.narrow(2, 0, frames - lag)?;
        Ok((later - earlier)?.relu()?)
    }
}

fn flatten_mono(y: &Tensor) -> Result<Tensor> {
    if !is_supported(y.dtype()) {
        return Err(Error::Invalid(format!(
            "CQT loss: signals must be f32 or f64, not {:?}",
            y.dtype()
        )));
    }
    match y.dims() {
        [_, _] => Ok(y.clone()),
        [_, 1, _] => Ok(y.squeeze(1)?),
        other => Err(Error::Invalid(format!(
            "CQT loss: expected signals of shape (B, N) or (B, 1, N), got {other:?}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_loss_can_move_to_a_trainer_thread() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<CqtLoss>();
    }

    #[test]
    fn fewer_scales_and_bins_give_matching_shapes() {
        let settings = LossSettings {
            scales: 3,
            bins: 7,
            ..Default::default()
        };
        let loss = CqtLoss::new(&settings, &Device::Cpu).unwrap();
        let y = Tensor::ones((2, 3000), DType::F32, &Device::Cpu).unwrap();
        let c = loss.cqt(&y).unwrap();
        assert_eq!(c.len(), 3);
        assert!(c.iter().all(|c| c.dims() == [2, 7, 1 + 3000 / 64]));
        assert_eq!(loss.min_samples(), 2049);
    }

    #[test]
    fn defaults_are_the_release_settings_and_validate() {
        let s = LossSettings::default();
        assert_eq!(
            (s.scales, s.hop, s.bins, s.factor, s.eps),
            (8, 64, 12, 4.0, 1e-5)
        );
        assert_eq!(s.metric, LossMetric::Mae);
        assert!(s.validate("loss").is_ok());
    }

    #[test]
    fn bad_values_name_their_key() {
        let cases: [(LossSettings, &str); 4] = [
            (
                LossSettings {
                    scales: 9,
                    ..Default::default()
                },
                "loss.scales",
            ),
            (
                LossSettings {
                    factor: -1.0,
                    ..Default::default()
                },
                "loss.factor",
            ),
            (
                LossSettings {
                    eps: 0.0,
                    ..Default::default()
                },
                "loss.eps",
            ),
            (
                LossSettings {
                    hop: 0,
                    ..Default::default()
                },
                "loss.hop",
            ),
        ];
        for (settings, key) in cases {
            let err = settings.validate("loss").unwrap_err().to_string();
            assert!(err.contains(key), "{err}");
        }
    }

    #[test]
    fn hpss_is_accepted_and_raises_the_minimum_length() {
        let settings = LossSettings {
            hpss: true,
            ..Default::default()
        };
        assert!(settings.validate("loss").is_ok());
        let loss = CqtLoss::new(&settings, &Device::Cpu).unwrap();
        assert_eq!(loss.min_samples(), 3_840);
        let without = CqtLoss::new(&LossSettings::default(), &Device::Cpu).unwrap();
        assert_eq!(without.min_samples(), 2_049);
        let short = Tensor::zeros((1, 3_000), DType::F32, &Device::Cpu).unwrap();
        let err = loss.forward(&short, &short).unwrap_err().to_string();
        assert!(err.contains("HPSS") && err.contains("too short"), "{err}");
    }

    #[test]
    fn toml_section_parses_and_rejects_unknown_keys() {
        let s: LossSettings = toml::from_str("metric = \"mse\"\nscales = 3").unwrap();
        assert_eq!((s.metric, s.scales, s.hop), (LossMetric::Mse, 3, 64));
        assert!(toml::from_str::<LossSettings>("scale = 3").is_err());
    }
}
