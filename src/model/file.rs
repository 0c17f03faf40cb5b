//! Model and checkpoint files: safetensors whose metadata carries the hyper-parameters and
//! component names, so that a file alone is enough to run inference and a file made with another
//! configuration is refused with a clear message instead of producing garbage.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use candle_core::{DType, Device, Shape, Tensor};
use candle_nn::var_builder::SimpleBackend;
use candle_nn::{Init, VarBuilder};

use crate::atomic_file::{write_bytes_atomic, Overwrite};
use crate::error::{Error, Result};
use crate::model::ModelConfig;

/// Metadata key holding the file kind and version.
pub const FORMAT_KEY: &str = "format";
pub const MODEL_FORMAT: &str = "drummernet-model/1";
pub const CHECKPOINT_FORMAT: &str = "drummernet-checkpoint/1";
/// Metadata key holding the `ModelConfig` as JSON.
pub const CONFIG_KEY: &str = "model_config";

/// The tensors and metadata of a model or checkpoint file.
pub struct TensorFile {
    pub tensors: HashMap<String, Tensor>,
    pub metadata: HashMap<String, String>,
}

impl TensorFile {
    pub fn format(&self) -> Option<&str> {
        self.metadata.get(FORMAT_KEY).map(String::as_str)
    }

    /// The model configuration stored in the file.
    pub fn model_config(&self, path: &Path) -> Result<ModelConfig> {
        let json = self
            .metadata
            .get(CONFIG_KEY)
            .ok_or_else(|| Error::model_file(path, "no model configuration in its metadata"))?;
        serde_json::from_str(json)
            .map_err(|e| Error::model_file(path, format!("unreadable model configuration: {e}")))
    }
}

/// Serialises tensors plus metadata to safetensors bytes.
pub fn tensor_file_bytes(
    tensors: &[(String, Tensor)],
    metadata: HashMap<String, String>,
) -> Result<Vec<u8>> {
    let cpu: Vec<(String, Tensor)> = tensors
        .iter()
        .map(|(n, t)| Ok((n.clone(), t.to_device(&Device::Cpu)?.contiguous()?)))
        .collect::<Result<_>>()?;
    safetensors::serialize(cpu.iter().map(|(n, t)| (n.as_str(), t)), Some(metadata))
        .map_err(|e| Error::Invalid(format!("cannot serialise tensors: {e}")))
}

/// Writes tensors plus metadata atomically.
pub fn save_tensor_file(
    path: &Path,
    tensors: &[(String, Tensor)],
    metadata: HashMap<String, String>,
    overwrite: Overwrite,
) -> Result<()> {
    write_bytes_atomic(path, &tensor_file_bytes(tensors, metadata)?, overwrite)
}

/// Reads a whole tensor file onto `device`; truncated or corrupt files are a one-line error.
pub fn load_tensor_file(path: &Path, device: &Device) -> Result<TensorFile> {
    if path.is_dir() {
        return Err(Error::model_file(
            path,
            "is a directory, expected a .safetensors file",
        ));
    }
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let corrupt = |e: &dyn std::fmt::Display| {
        Error::model_file(
            path,
            format!("not a valid safetensors file (truncated or corrupt: {e})"),
        )
    };
    let (_, header) = safetensors::SafeTensors::read_metadata(&bytes).map_err(|e| corrupt(&e))?;
    let metadata = header.metadata().clone().unwrap_or_default();
    let tensors = candle_core::safetensors::load_buffer(&bytes, device).map_err(|e| corrupt(&e))?;
    Ok(TensorFile { tensors, metadata })
}

/// Metadata every model file carries.
pub fn model_metadata(cfg: &ModelConfig, format: &str) -> Result<HashMap<String, String>> {
    let mut m = HashMap::new();
    m.insert(FORMAT_KEY.to_string(), format.to_string());
    m.insert(
        CONFIG_KEY.to_string(),
        serde_json::to_string(cfg).map_err(|e| Error::Invalid(e.to_string()))?,
    );
    m.insert("components".to_string(), cfg.components.join(","));
    m.insert(
        "sample_rate".to_string(),
        crate::audio::SAMPLE_RATE.to_string(),
    );
    m.insert(
        "producer".to_string(),
        format!("drummernet {}", env!("CARGO_PKG_VERSION")),
    );
    Ok(m)
}

/// The names and shapes of the variables that `build` asks its `VarBuilder` for. Every
/// variable is a broadcast scalar (no memory of its size), so probing a configuration costs
/// nothing however large its weights would be.
pub fn expected_tensors(build: impl FnOnce(VarBuilder) -> Result<()>) -> Result<Shapes> {
    let probe = ShapeProbe::default();
    let shapes = probe.shapes.clone();
    build(VarBuilder::from_backend(
        Box::new(probe),
        DType::F32,
        Device::Cpu,
    ))?;
    let recorded = shapes
        .lock()
        .map_err(|_| Error::Invalid("shape probe lock poisoned".into()))?;
    Ok(recorded.clone())
}

/// Variable names with their shapes, in the order they were asked for.
type Shapes = Vec<(String, Vec<usize>)>;

#[derive(Default)]
struct ShapeProbe {
    shapes: Arc<Mutex<Shapes>>,
}

impl SimpleBackend for ShapeProbe {
    fn get(
        &self,
        s: Shape,
        name: &str,
        _: Init,
        dtype: DType,
        dev: &Device,
    ) -> candle_core::Result<Tensor> {
        if let Ok(mut shapes) = self.shapes.lock() {
            shapes.push((name.to_string(), s.dims().to_vec()));
        }
        Tensor::zeros((), dtype, dev)?.broadcast_as(s)
    }

    fn get_unchecked(&self, name: &str, _: DType, _: &Device) -> candle_core::Result<Tensor> {
        candle_core::bail!("shape probe: `{name}` requested without a shape")
    }

    fn contains_tensor(&self, _: &str) -> bool {
        false
    }
}

/// Checks that `file` holds every expected tensor with the expected shape.
pub fn check_tensors(
    path: &Path,
    file: &TensorFile,
    expected: &[(String, Vec<usize>)],
) -> Result<()> {
    for (name, shape) in expected {
        match file.tensors.get(name) {
            None => {
                return Err(Error::model_file(
                    path,
                    format!("made with a different configuration: tensor `{name}` is missing"),
                ))
            }
            Some(t) if t.dims() != shape.as_slice() => {
                return Err(Error::model_file(
                    path,
                    format!(
                    "made with a different configuration: `{name}` has shape {:?}, expected {:?}",
                    t.dims(),
                    shape
                ),
                ))
            }
            Some(_) => {}
        }
    }
    Ok(())
}
