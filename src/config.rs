//! The product's settings: every default lives in the repository's commented `config.toml`
//! (embedded into the binary, so the file and the code cannot disagree), a user's file overrides
//! it, and `--set section.key=value` flags override both. Unknown keys and bad values are errors
//! that name the key.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::adapt::AdaptSettings;
use crate::error::{Error, Result};
use crate::groove::GrooveSettings;
use crate::kit::KitSettings;
use crate::midi::MidiSettings;
use crate::model::loss::LossSettings;
use crate::model::synthesizer::SynthSettings;
use crate::model::ModelConfig;
use crate::train::TrainSettings;
use crate::transcribe::InferenceSettings;
use crate::watch::WatchSettings;

/// The commented defaults shipped with the project.
pub const DEFAULT_CONFIG_TOML: &str = include_str!("../config.toml");

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub audio: AudioSettings,
    pub device: DeviceSettings,
    pub kit: KitSettings,
    pub model: ModelConfig,
    pub synth: SynthSettings,
    pub loss: LossSettings,
    pub train: TrainSettings,
    pub groove: GrooveSettings,
    pub midi: MidiSettings,
    pub inference: InferenceSettings,
    pub watch: WatchSettings,
    pub adapt: AdaptSettings,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AudioSettings {
    /// The model's sample rate; everything is resampled to it.
    pub sample_rate: u32,
    /// Length of a training segment in seconds.
    pub segment_seconds: f64,
}

impl Default for AudioSettings {
    fn default() -> Self {
        AudioSettings {
            sample_rate: crate::audio::SAMPLE_RATE,
            segment_seconds: 2.0,
        }
    }
}

impl AudioSettings {
    pub fn validate(&self, prefix: &str) -> Result<()> {
        if self.sample_rate != crate::audio::SAMPLE_RATE {
            return Err(Error::config(
                format!("{prefix}.sample_rate"),
                format!("must be {} (the model's rate)", crate::audio::SAMPLE_RATE),
            ));
        }
        if !(0.6..=60.0).contains(&self.segment_seconds) {
            return Err(Error::config(
                format!("{prefix}.segment_seconds"),
                "must be in 0.6..=60 seconds",
            ));
        }
        Ok(())
    }

    /// Training segment length in samples.
    pub fn segment_samples(&self) -> usize {
        (self.segment_seconds * self.sample_rate as f64).round() as usize
    }
}

/// Where tensors live.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum DeviceKind {
    Cpu,
    Cuda,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DeviceSettings {
    pub device: DeviceKind,
    /// CPU threads for tensor maths; 0 = all cores.
    pub threads: usize,
}

impl Default for DeviceSettings {
    fn default() -> Self {
        DeviceSettings {
            device: DeviceKind::Cpu,
            threads: 0,
        }
    }
}

impl DeviceSettings {
    pub fn validate(&self, prefix: &str) -> Result<()> {
        if self.threads > 1024 {
            return Err(Error::config(
                format!("{prefix}.threads"),
                "must be in 0..=1024",
            ));
        }
        Ok(())
    }

    /// The candle device, or a clear message when CUDA is asked for but unavailable.
    pub fn candle_device(&self) -> Result<candle_core::Device> {
        match self.device {
            DeviceKind::Cpu => Ok(candle_core::Device::Cpu),
            DeviceKind::Cuda => {
                if !candle_core::utils::cuda_is_available() {
                    return Err(Error::Invalid(
                        "device cuda: this build has no CUDA support (rebuild with --features cuda) \
                         or no GPU is present; use --device cpu"
                            .into(),
                    ));
                }
                candle_core::Device::new_cuda(0).map_err(|e| {
                    Error::Invalid(format!(
                        "device cuda: no usable GPU ({e}); use --device cpu"
                    ))
                })
            }
        }
    }
}

impl Config {
    /// The shipped defaults.
    pub fn defaults() -> Result<Config> {
        Config::from_toml_str(DEFAULT_CONFIG_TOML, &[])
    }

    /// Defaults, overridden by a user's file (if any), overridden by `key=value` settings.
    pub fn load(user_file: Option<&Path>, overrides: &[String]) -> Result<Config> {
        let mut value: toml::Value = parse_toml(DEFAULT_CONFIG_TOML, "built-in config.toml")?;
        if let Some(path) = user_file {
            let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
            let user: toml::Value = parse_toml(&text, &path.display().to_string())?;
            merge(&mut value, user, "")?;
        }
        apply_overrides(&mut value, overrides)?;
        Config::from_value(value)
    }

    pub fn from_toml_str(text: &str, overrides: &[String]) -> Result<Config> {
        let mut value = parse_toml(text, "config")?;
        apply_overrides(&mut value, overrides)?;
        Config::from_value(value)
    }

    fn from_value(value: toml::Value) -> Result<Config> {
        Config::from_value_unhinted(value.clone()).map_err(|e| match e {
            // A value of the wrong type or sign: add the range the key accepts.
            Error::Config { key, message } if message.starts_with("invalid ") => {
                match accepted_range(&value, &key) {
                    Some(range) => Error::config(key, format!("{message}; {range}")),
                    None => Error::Config { key, message },
                }
            }
            other => other,
        })
    }

    fn from_value_unhinted(value: toml::Value) -> Result<Config> {
        // Going through text gives serde errors a span, from which the offending key is named.
        let text = toml::to_string(&value).map_err(|e| Error::Invalid(format!("config: {e}")))?;
        let cfg: Config = toml::from_str(&text).map_err(|e| {
            let key = e
                .span()
                .map(|span| key_at(&text, span.start))
                .filter(|k| !k.is_empty())
                .unwrap_or_else(|| key_from_serde_message(e.message()));
            Error::config(key, e.message().to_string())
        })?;
        cfg.validate()?;
        Ok(cfg)
    }

    pub fn validate(&self) -> Result<()> {
        self.audio.validate("audio")?;
        self.device.validate("device")?;
        self.kit.validate("kit")?;
        self.model.validate("model")?;
        self.synth.validate("synth")?;
        self.loss.validate("loss")?;
        self.train.validate("train")?;
        self.groove.validate("groove")?;
        self.midi.validate("midi")?;
        self.inference.validate("inference")?;
        self.watch.validate("watch")?;
        self.adapt.validate("adapt")?;
        Ok(())
    }

    /// What of the configuration shapes an adaptation (`[adapt]`, the loss, the synthesizer,
    /// the crop length), as text to hash.
    pub fn adapt_identity(&self) -> Result<String> {
        serde_json::to_string(&(
            &self.adapt,
            &self.loss,
            &self.synth,
            self.audio.segment_seconds,
        ))
        .map_err(|e| Error::Invalid(format!("config: {e}")))
    }

    pub fn to_toml(&self) -> Result<String> {
        toml::to_string_pretty(self).map_err(|e| Error::Invalid(format!("config: {e}")))
    }
}

fn parse_toml(text: &str, what: &str) -> Result<toml::Value> {
    let table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
        // A syntax error is about the file, not a key: name the file and the line.
        let line = e
            .span()
            .and_then(|span| text.as_bytes().get(..span.start))
            .map(|before| before.iter().filter(|&&b| b == b'\n').count() + 1);
        Error::Invalid(match line {
            Some(line) => format!("{what}: line {line}: {}", e.message()),
            None => format!("{what}: {}", e.message()),
        })
    })?;
    Ok(toml::Value::Table(table))
}

/// The dotted key whose value starts at byte `pos` of a TOML text written by `toml::to_string`
/// (one `[section]` header level, `key = value` lines).
fn key_at(text: &str, pos: usize) -> String {
    let before = &text[..pos.min(text.len())];
    let line = before.rsplit('\n').next().unwrap_or("");
    let key = line.split('=').next().unwrap_or("").trim().to_string();
    let section = before
        .lines()
        .rev()
        .find_map(|l| l.trim().strip_prefix('[').and_then(|l| l.strip_suffix(']')))
        .unwrap_or("");
    match (section.is_empty(), key.is_empty()) {
        (_, true) => section.to_string(),
        (true, false) => key,
        (false, false) => format!("{section}.{key}"),
    }
}

/// What `key` accepts, in the words of its validation: found by putting the edge values of the
/// default's type at `key` and keeping the first message about that key. None when every edge
/// value is accepted (any value of the type is fine, and serde's "expected ..." says which).
fn accepted_range(value: &toml::Value, key: &str) -> Option<String> {
    let defaults: toml::Value = DEFAULT_CONFIG_TOML.parse::<toml::Table>().ok()?.into();
    let probes = match lookup(&defaults, key)? {
        // The edges of every unsigned width, so that a u8 key meets its validation too.
        toml::Value::Integer(_) => [0, 255, 65_535, 4_294_967_295, i64::MAX]
            .into_iter()
            .map(toml::Value::Integer)
            .collect(),
        toml::Value::Float(_) => vec![
            toml::Value::Float(-1e300),
            toml::Value::Float(1e300),
            toml::Value::Float(0.0),
        ],
        _ => return None,
    };
    probes.into_iter().find_map(|probe| {
        let mut v = value.clone();
        *lookup_mut(&mut v, key)? = probe;
        match Config::from_value_unhinted(v) {
            Err(Error::Config { key: k, message })
                if k == key && !message.starts_with("invalid ") && message != "unknown key" =>
            {
                Some(message)
            }
            _ => None,
        }
    })
}

fn lookup<'a>(value: &'a toml::Value, key: &str) -> Option<&'a toml::Value> {
    key.split('.')
        .try_fold(value, |v, part| v.as_table()?.get(part))
}

fn lookup_mut<'a>(value: &'a mut toml::Value, key: &str) -> Option<&'a mut toml::Value> {
    key.split('.')
        .try_fold(value, |v, part| v.as_table_mut()?.get_mut(part))
}

/// Best effort: serde names the offending field in backquotes ("unknown field `x`").
fn key_from_serde_message(msg: &str) -> String {
    msg.split('`').nth(1).unwrap_or("config").to_string()
}

/// Recursively overlays `over` onto `base`; a key absent from the defaults is an error naming it.
fn merge(base: &mut toml::Value, over: toml::Value, path: &str) -> Result<()> {
    match (base, over) {
        (toml::Value::Table(b), toml::Value::Table(o)) => {
            for (k, v) in o {
                let key = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                let open = is_open_map(path);
                match b.get_mut(&k) {
                    Some(slot) => merge(slot, v, &key)?,
                    None if open => {
                        b.insert(k, v);
                    }
                    None => return Err(Error::config(key, "unknown key")),
                }
            }
            Ok(())
        }
        (slot, v) => {
            *slot = v;
            Ok(())
        }
    }
}

/// Tables whose keys are the user's to choose (component names): anything may be added under
/// them, and serde (`deny_unknown_fields` on the entries) still names a misspelt field.
const OPEN_MAPS: [&str; 2] = ["inference.components", "midi.maps"];

fn is_open_map(path: &str) -> bool {
    OPEN_MAPS.iter().any(|m| {
        path == *m
            || path
                .strip_prefix(m)
                .is_some_and(|rest| rest.starts_with('.'))
    })
}

/// Applies `section.key=value` overrides; the value is parsed as TOML (so `8`, `true`,
/// `"text"`, `[1, 2]`), and as a plain string when that fails.
fn apply_overrides(value: &mut toml::Value, overrides: &[String]) -> Result<()> {
    for item in overrides {
        let (key, raw) = item
            .split_once('=')
            .ok_or_else(|| Error::config(item.clone(), "expected KEY=VALUE"))?;
        let key = key.trim();
        let parsed: toml::Value = format!("v = {raw}")
            .parse::<toml::Table>()
            .ok()
            .and_then(|mut t| t.remove("v"))
            .unwrap_or_else(|| toml::Value::String(raw.trim().to_string()));
        let mut slot = &mut *value;
        let mut path = String::new();
        for part in key.split('.') {
            let open = is_open_map(&path);
            let table = slot
                .as_table_mut()
                .ok_or_else(|| Error::config(key, "unknown key"))?;
            if open && !table.contains_key(part) {
                table.insert(part.to_string(), toml::Value::Table(toml::Table::new()));
            }
            slot = table
                .get_mut(part)
                .ok_or_else(|| Error::config(key, "unknown key"))?;
            if !path.is_empty() {
                path.push('.');
            }
            path.push_str(part);
        }
        *slot = parsed;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_file_parses_and_documents_every_default() {
        let cfg = Config::defaults().unwrap();
        assert_eq!(cfg.model, ModelConfig::default());
        assert_eq!(cfg.train, TrainSettings::default());
        assert_eq!(cfg.audio, AudioSettings::default());
        assert_eq!(cfg.device, DeviceSettings::default());
        assert_eq!(cfg.kit, KitSettings::default());
        assert_eq!(cfg.synth, SynthSettings::default());
        assert_eq!(cfg.loss, LossSettings::default());
        assert_eq!(cfg.groove, GrooveSettings::default());
        assert_eq!(cfg.midi, MidiSettings::default());
        assert_eq!(cfg.inference, InferenceSettings::default());
        assert_eq!(cfg.watch, WatchSettings::default());
    }

    #[test]
    fn unknown_key_is_named() {
        let err = Config::from_toml_str("[train]\nbatchsize = 3\n", &[]).unwrap_err();
        assert!(err.to_string().contains("batchsize"), "{err}");
        let err = Config::load(None, &["train.nope=1".into()]).unwrap_err();
        assert!(err.to_string().contains("train.nope"), "{err}");
    }

    #[test]
    fn bad_values_name_the_key_and_range() {
        let err = Config::load(None, &["train.batch_size=0".into()])
            .unwrap_err()
            .to_string();
        assert!(err.contains("train.batch_size"), "{err}");
        let err = Config::load(None, &["audio.sample_rate=0".into()])
            .unwrap_err()
            .to_string();
        assert!(err.contains("audio.sample_rate"), "{err}");
        let err = Config::load(None, &["train.batch_size=-4".into()])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("train.batch_size") && err.contains("must be in 1..=4096"),
            "{err}"
        );
        let err = Config::load(None, &["loss.hop=\"wide\"".into()])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("loss.hop") && err.contains("must be in 1..=1024"),
            "{err}"
        );
        // A key any value of its type suits gets the type only.
        let err = Config::load(None, &["train.seed=-1".into()])
            .unwrap_err()
            .to_string();
        assert!(err.contains("train.seed") && err.contains("u64"), "{err}");
        let err = Config::load(None, &["train.learning_rate=\"fast\"".into()])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("learning_rate") || err.contains("invalid type"),
            "{err}"
        );
    }

    #[test]
    fn overrides_apply_over_user_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.toml");
        std::fs::write(&p, "[train]\nbatch_size = 4\nsteps = 10\n").unwrap();
        let cfg = Config::load(Some(&p), &["train.steps=20".into()]).unwrap();
        assert_eq!(cfg.train.batch_size, 4);
        assert_eq!(cfg.train.steps, 20);
        let err = Config::load(Some(&p.with_file_name("missing.toml")), &[]).unwrap_err();
        assert!(err.to_string().contains("missing.toml"), "{err}");
    }
}
