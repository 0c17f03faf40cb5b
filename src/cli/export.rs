//! `drummernet export`: a training checkpoint to a lean model file (no optimizer state).

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use drummernet::atomic_file::Overwrite;
use drummernet::model::drummernet::save_model;
use drummernet::model::file::load_tensor_file;

#[derive(Args)]
pub struct ExportArgs {
    /// A checkpoint, e.g. sessions/NAME/latest.safetensors.
    pub checkpoint: PathBuf,
    /// The model file to write (e.g. assets/model/default.safetensors).
    #[arg(short, long)]
    pub output: PathBuf,
    /// Replace an existing output file.
    #[arg(long)]
    pub force: bool,
}

pub fn export_cmd(a: ExportArgs) -> Result<()> {
    let file = load_tensor_file(&a.checkpoint, &candle_core::Device::Cpu)?;
    let config = file.model_config(&a.checkpoint)?;
    // Validate by building the model from the checkpoint before writing anything.
    drummernet::model::drummernet::DrummerNet::load(&a.checkpoint, &candle_core::Device::Cpu)?;
    let tensors: Vec<_> = file.tensors.into_iter().collect();
    let mut extra = vec![(
        "exported_from".to_string(),
        a.checkpoint.display().to_string(),
    )];
    if let Some(step) = drummernet::train::trainer::checkpoint_step(&file.metadata) {
        extra.push(("trained_steps".to_string(), step.to_string()));
    }
    if let Some(cfg) = file.metadata.get("train_config") {
        extra.push(("train_config".to_string(), cfg.clone()));
    }
    save_model(
        &a.output,
        &config,
        &tensors,
        &extra,
        Overwrite::from_force(a.force),
    )?;
    super::print_out(&format!("{}: model exported\n", a.output.display()))
}
