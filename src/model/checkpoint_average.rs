//! Weight averaging over checkpoints of one run (Izmailov et al. 2018, "Averaging Weights Leads
//! to Wider Optima"): late in training, at a constant learning rate, consecutive checkpoints
//! scatter around a minimum and their mean sits nearer its centre than any one of them.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::{DType, Tensor};

use crate::error::{Error, Result};
use crate::model::file::TensorFile;

/// The element-wise mean of every tensor over `files` (computed in f64, stored in each tensor's
/// own dtype). All files must hold the same model configuration and the same tensor names and
/// shapes; the first mismatch is named with its file.
pub fn average_tensor_files(files: &[(PathBuf, TensorFile)]) -> Result<HashMap<String, Tensor>> {
    let Some((first_path, first)) = files.first() else {
        return Err(Error::Invalid("no checkpoint to average".into()));
    };
    let config = first.model_config(first_path)?;
    for (path, file) in &files[1..] {
        check_same_layout(first_path, first, path, file)?;
        if file.model_config(path)? != config {
            return Err(Error::model_file(
                path,
                format!(
                    "model configuration differs from {} (only checkpoints of one run can be averaged)",
                    first_path.display()
                ),
            ));
        }
    }
    let n = files.len() as f64;
    first
        .tensors
        .iter()
        .map(|(name, t)| {
            let mut sum = t.to_dtype(DType::F64)?;
            for (_, file) in &files[1..] {
                sum = (sum + file.tensors[name].to_dtype(DType::F64)?)?;
            }
            Ok((name.clone(), (sum / n)?.to_dtype(t.dtype())?))
        })
        .collect()
}

fn check_same_layout(a_path: &Path, a: &TensorFile, b_path: &Path, b: &TensorFile) -> Result<()> {
    let differ = |what: String| {
        Error::model_file(
            b_path,
            format!("{what} (compared with {})", a_path.display()),
        )
    };
    for (name, t) in &a.tensors {
        match b.tensors.get(name) {
            None => return Err(differ(format!("tensor `{name}` is missing"))),
            Some(u) if u.dims() != t.dims() => {
                return Err(differ(format!(
                    "tensor `{name}` has shape {:?}, not {:?}",
                    u.dims(),
                    t.dims()
                )))
            }
            Some(_) => {}
        }
    }
    if let Some(extra) = b.tensors.keys().find(|k| !a.tensors.contains_key(*k)) {
        return Err(differ(format!("extra tensor `{extra}`")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::config::ModelConfig;
    use crate::model::file::{model_metadata, CHECKPOINT_FORMAT};
    use candle_core::Device;

    fn file(values: &[f32], config: &ModelConfig) -> TensorFile {
        let t = Tensor::new(values, &Device::Cpu).unwrap();
        TensorFile {
            tensors: HashMap::from([("unet.w".to_string(), t)]),
            metadata: model_metadata(config, CHECKPOINT_FORMAT).unwrap(),
        }
    }

    #[test]
    fn averages_element_wise_and_keeps_the_dtype() {
        let cfg = ModelConfig::default();
        let files = vec![
            (PathBuf::from("a"), file(&[1.0, -2.0, 4.0], &cfg)),
            (PathBuf::from("b"), file(&[3.0, 2.0, 4.0], &cfg)),
            (PathBuf::from("c"), file(&[2.0, 0.5, 1.0], &cfg)),
        ];
        let avg = average_tensor_files(&files).unwrap();
        let w = &avg["unet.w"];
        assert_eq!(w.dtype(), DType::F32);
        let got = w.to_vec1::<f32>().unwrap();
        for (g, want) in got.iter().zip([2.0f32, 0.5 / 3.0, 3.0]) {
            assert!((g - want).abs() < 1e-7, "{got:?}");
        }
    }

    #[test]
    fn refuses_other_shapes_configurations_and_nothing() {
        let cfg = ModelConfig::default();
        let other = ModelConfig {
            channels: 7,
            ..ModelConfig::default()
        };
        let base = || (PathBuf::from("a.safetensors"), file(&[1.0, 2.0], &cfg));
        let shape = (PathBuf::from("b.safetensors"), file(&[1.0, 2.0, 3.0], &cfg));
        let e = average_tensor_files(&[base(), shape])
            .unwrap_err()
            .to_string();
        assert!(e.contains("b.safetensors") && e.contains("shape"), "{e}");
        let conf = (PathBuf::from("c.safetensors"), file(&[1.0, 2.0], &other));
        let e = average_tensor_files(&[base(), conf])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("c.safetensors") && e.contains("configuration"),
            "{e}"
        );
        assert!(average_tensor_files(&[]).is_err());
    }
}
