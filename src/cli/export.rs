//! `drummernet export`: a training checkpoint (or the weight average of several) to a lean
//! model file (no optimizer state).

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use drummernet::atomic_file::Overwrite;
use drummernet::model::checkpoint_average::average_tensor_files;
use drummernet::model::drummernet::{save_model, DrummerNet};
use drummernet::model::file::load_tensor_file;

#[derive(Args)]
pub struct ExportArgs {
    /// A checkpoint, e.g. sessions/NAME/latest.safetensors. Several checkpoints of one run
    /// export the average of their weights (e.g. the last few `checkpoint-*.safetensors`).
    #[arg(required = true)]
    pub checkpoints: Vec<PathBuf>,
    /// The model file to write (e.g. assets/model/default.safetensors).
    #[arg(short, long)]
    pub output: PathBuf,
    /// Replace an existing output file.
    #[arg(long)]
    pub force: bool,
}

pub fn export_cmd(a: ExportArgs) -> Result<()> {
    let cpu = candle_core::Device::Cpu;
    let mut files = Vec::with_capacity(a.checkpoints.len());
    for path in &a.checkpoints {
        // Validate by building the model from each checkpoint before writing anything.
        DrummerNet::load(path, &cpu)?;
        files.push((path.clone(), load_tensor_file(path, &cpu)?));
    }
    let (last_path, last) = &files[files.len() - 1];
    let config = last.model_config(last_path)?;
    let names = |paths: &[PathBuf]| {
        paths
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut extra = vec![("exported_from".to_string(), names(&a.checkpoints))];
    if files.len() > 1 {
        extra.push((
            "weights".to_string(),
            format!("mean of {} checkpoints", files.len()),
        ));
    }
    if let Some(step) = drummernet::train::trainer::checkpoint_step(&last.metadata) {
        extra.push(("trained_steps".to_string(), step.to_string()));
    }
    if let Some(cfg) = last.metadata.get("train_config") {
        extra.push(("train_config".to_string(), cfg.clone()));
    }
    let tensors: Vec<_> = average_tensor_files(&files)?.into_iter().collect();
    save_model(
        &a.output,
        &config,
        &tensors,
        &extra,
        Overwrite::from_force(a.force),
    )?;
    super::print_out(&format!("{}: model exported\n", a.output.display()))
}
