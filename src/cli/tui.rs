//! `drummernet tui` (and `drummernet` alone): the terminal workbench.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use drummernet::config::Config;
use drummernet::tui::{self, AppOptions};

/// The stem the workbench opens when given nothing else.
pub const DEMO_STEM: &str = "assets/demo/demo_drums.wav";

#[derive(Args)]
pub struct TuiArgs {
    /// An audio file to open, or a folder of stems (training data; its first file is opened).
    /// Default: the bundled demo stem.
    pub input: Option<PathBuf>,
    /// Training session to show and continue (sessions/NAME/).
    #[arg(long)]
    pub session: Option<String>,
    /// Folder holding the sessions.
    #[arg(long, default_value = "sessions")]
    pub sessions_dir: PathBuf,
    /// Model file (default: assets/model/default.safetensors when present).
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Kit for the components pane and the re-synthesis (default: assets/kits/default).
    #[arg(long)]
    pub kit: Option<String>,
    /// Log file (stderr goes there while the workbench runs).
    #[arg(long, default_value_os_t = std::env::temp_dir().join("drummernet-workbench.log"))]
    pub log: PathBuf,
}

impl Default for TuiArgs {
    /// What `drummernet` with no subcommand uses (the same as the flags' defaults).
    fn default() -> Self {
        TuiArgs {
            input: None,
            session: None,
            sessions_dir: PathBuf::from("sessions"),
            model: None,
            kit: None,
            log: std::env::temp_dir().join("drummernet-workbench.log"),
        }
    }
}

pub fn tui_cmd(cfg: Config, a: TuiArgs) -> Result<()> {
    super::runtime::apply_threads(cfg.device.threads);
    // With nothing to open, show the bundled demo stem rather than an empty screen.
    let input = a.input.or_else(|| {
        let demo = PathBuf::from(DEMO_STEM);
        (a.session.is_none() && demo.is_file()).then_some(demo)
    });
    let opts = AppOptions {
        input,
        session: a.session,
        sessions_dir: a.sessions_dir,
        model: a.model,
        kit: a.kit,
        ..AppOptions::new(cfg)
    };
    tui::run(opts, &a.log)?;
    Ok(())
}
