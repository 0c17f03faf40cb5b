//! The `drummernet` command line: parses arguments and calls the library. Nothing else lives here.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::{Parser, Subcommand};

use drummernet::config::Config;

mod cli;

#[derive(Parser)]
#[command(
    name = "drummernet",
    version,
    about = "Unsupervised drum transcription (DrummerNet): train, transcribe to MIDI, inspect, listen"
)]
struct Cli {
    /// A config file overriding any subset of the defaults (see the shipped config.toml).
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Override one config key, e.g. `--set train.batch_size=8` (repeatable).
    #[arg(long = "set", global = true, value_name = "KEY=VALUE")]
    overrides: Vec<String>,
    /// More log output (repeat for more).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Render a MIDI drum part through a kit into a WAV file.
    Render(cli::render::RenderArgs),
    /// Write synthetic drum performances (WAV + MIDI + onset annotations) with exact ground truth.
    Groove(cli::groove::GrooveArgs),
    /// List, inspect and generate drum kits.
    #[command(subcommand)]
    Kit(cli::kit::KitCommand),
    /// Train DrummerNet without labels into a session folder.
    Train(cli::train::TrainArgs),
    /// Write a lean model file (no optimizer state) from a training checkpoint.
    Export(cli::export::ExportArgs),
    /// Transcribe audio files into drum events (MIDI, JSON, CSV).
    Transcribe(cli::transcribe::TranscribeArgs),
    /// Learn a recording: fine-tune a copy of the model and its kit on a stem, kept as a
    /// session (adapted model, learned kit as WAV files, loss log).
    Adapt(cli::adapt::AdaptArgs),
    /// Score predictions (or a model) against ground-truth onsets: P/R/F1 per class.
    Eval(cli::eval::EvalArgs),
    /// Learning curves of training sessions as an SVG: the loss and validation F1 of their
    /// checkpoints against items trained on.
    Curves(cli::curves::CurvesArgs),
    /// The terminal workbench (also what `drummernet` alone starts).
    #[cfg(feature = "tui")]
    Tui(cli::tui::TuiArgs),
    /// Transcribe every audio file that appears in (or changes in) a folder, exactly once.
    #[cfg(feature = "watch")]
    Watch(cli::watch::WatchArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    #[cfg(feature = "watch")]
    let watching = matches!(cli.command, Some(Command::Watch(_)));
    #[cfg(not(feature = "watch"))]
    let watching = false;
    init_logging(cli.verbose, watching);
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", cli::error_line(&e));
            ExitCode::FAILURE
        }
    }
}

fn init_logging(verbose: u8, watching: bool) {
    // Decoders log what the library turns into a one-line error anyway; show them with -v.
    // The watcher's log is its report (what was done, how long, why skipped): shown by default.
    let level = match (verbose, watching) {
        (0, false) => "warn,symphonia=off",
        (0, true) => "warn,symphonia=off,drummernet::watch=info",
        (1, _) => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("DRUMMERNET_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    // Colour codes only on a terminal: a watcher's log usually goes to a file.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr)
        .try_init();
}

fn run(cli: Cli) -> Result<()> {
    let cfg = Config::load(cli.config.as_deref(), &cli.overrides)?;
    let verbose = cli.verbose;
    #[cfg(feature = "tui")]
    let command = cli.command.unwrap_or(Command::Tui(Default::default()));
    #[cfg(not(feature = "tui"))]
    let Some(command) = cli.command
    else {
        anyhow::bail!("built without the `tui` feature: give a subcommand (see --help)");
    };
    match command {
        Command::Render(a) => cli::render::render(&cfg, a),
        Command::Groove(a) => cli::groove::groove_cmd(&cfg, a),
        Command::Kit(k) => cli::kit::kit_cmd(&cfg, k),
        Command::Transcribe(a) => cli::transcribe::transcribe_cmd(cfg, a, verbose),
        Command::Export(a) => cli::export::export_cmd(a),
        Command::Adapt(a) => cli::adapt::adapt_cmd(cfg, a),
        Command::Eval(a) => cli::eval::eval_cmd(cfg, a),
        Command::Curves(a) => cli::curves::curves_cmd(cfg, a),
        #[cfg(feature = "tui")]
        Command::Tui(a) => cli::tui::tui_cmd(cfg, a),
        #[cfg(feature = "watch")]
        Command::Watch(a) => cli::watch::watch_cmd(cfg, a),
        Command::Train(a) => cli::train::train_cmd(cfg, a),
    }
}
