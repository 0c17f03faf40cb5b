//! The `drummernet` command line: parses arguments and calls the library. Nothing else lives here.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};

use drummernet::atomic_file::Overwrite;
use drummernet::audio::WavFormat;
use drummernet::config::{Config, DeviceKind};
use drummernet::kit::spec::KitSpec;
use drummernet::kit::{self, Kit};
use drummernet::{groove, train};

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
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Render a MIDI drum part through a kit into a WAV file.
    Render(RenderArgs),
    /// Write synthetic drum performances (WAV + MIDI + onset annotations) with exact ground truth.
    Groove(GrooveArgs),
    /// List, inspect and generate drum kits.
    #[command(subcommand)]
    Kit(KitCommand),
    /// Train DrummerNet without labels into a session folder.
    Train(TrainArgs),
}

#[derive(Args)]
struct RenderArgs {
    /// The MIDI file (GM drum notes).
    pattern: PathBuf,
    /// The kit: a folder (`DIR`, `DIR#3` for kit 3 of a drum-source folder) or `procedural:SEED`.
    #[arg(long)]
    kit: String,
    /// The WAV file to write (16-bit, 16 kHz).
    #[arg(short, long)]
    output: PathBuf,
    /// Replace an existing output file.
    #[arg(long)]
    force: bool,
}

#[derive(Args)]
struct GrooveArgs {
    /// How many performances.
    #[arg(long, default_value_t = 10)]
    count: usize,
    /// Length of each, in seconds.
    #[arg(long, default_value_t = 30.0)]
    seconds: f64,
    /// Kits to render with (repeatable): `DIR`, `DIR#1-11`, `procedural:SEED` or `procedural:A-B`.
    #[arg(long, default_value = "procedural:0-9")]
    kits: Vec<String>,
    /// Output folder.
    #[arg(long)]
    out: PathBuf,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Apply light augmentation (gain, EQ tilt, noise, short reverb).
    #[arg(long)]
    augment: bool,
    #[arg(long)]
    force: bool,
}

#[derive(Subcommand)]
enum KitCommand {
    /// List the kits in a folder.
    List { dir: PathBuf },
    /// Measure the components of one kit.
    Show {
        dir: PathBuf,
        /// Kit index in a drum-source folder.
        #[arg(long = "kit")]
        index: Option<u32>,
    },
    /// Generate a procedural kit into a folder (the bundled kit is `--seed 0`).
    Synth {
        #[arg(long)]
        seed: u64,
        #[arg(long)]
        out: PathBuf,
        #[arg(long)]
        force: bool,
    },
}

#[derive(Args)]
struct TrainArgs {
    /// Folders of drum stems (any format); without any, training uses synthetic grooves only.
    #[arg(long)]
    data: Vec<PathBuf>,
    /// Kits for the synthesizer and the groove renderer (repeatable), as for `groove --kits`.
    #[arg(long)]
    kits: Vec<String>,
    /// Procedural training kits added to the pool (seeds from train.procedural_seed_first on).
    #[arg(long, default_value_t = 16)]
    procedural_kits: usize,
    /// Session name: checkpoints and the loss log go to sessions/NAME/.
    #[arg(long, default_value = "default")]
    session: String,
    /// Folder holding the sessions.
    #[arg(long, default_value = "sessions")]
    sessions_dir: PathBuf,
    /// Train until this step (default: train.steps).
    #[arg(long)]
    steps: Option<u64>,
    /// Continue the session from its latest checkpoint.
    #[arg(long)]
    resume: bool,
    #[arg(long, value_enum)]
    device: Option<DeviceKind>,
    /// CPU threads (0 = all cores).
    #[arg(long)]
    threads: Option<usize>,
    #[arg(long)]
    batch_size: Option<usize>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.verbose);
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One line a user can act on: the library's errors already name the file.
            let chain: Vec<String> = e.chain().map(|c| c.to_string()).collect();
            eprintln!("error: {}", chain.join(": "));
            ExitCode::FAILURE
        }
    }
}

fn init_logging(verbose: u8) {
    let level = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("DRUMMERNET_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

fn run(cli: Cli) -> Result<()> {
    let mut cfg = Config::load(cli.config.as_deref(), &cli.overrides)?;
    match cli.command {
        Command::Render(a) => render(&cfg, a),
        Command::Groove(a) => groove_cmd(&cfg, a),
        Command::Kit(k) => kit_cmd(&cfg, k),
        Command::Train(a) => {
            if let Some(d) = a.device {
                cfg.device.device = d;
            }
            if let Some(t) = a.threads {
                cfg.device.threads = t;
            }
            if let Some(b) = a.batch_size {
                cfg.train.batch_size = b;
            }
            cfg.validate()?;
            train_cmd(cfg, a)
        }
    }
}

fn load_kits(specs: &[String], components: &[String], length: usize) -> Result<Vec<Kit>> {
    let mut kits = Vec::new();
    for s in specs {
        kits.extend(KitSpec::parse(s)?.load(components, length)?);
    }
    Ok(kits)
}

/// Every component a kit may have, for rendering (the model's 11 plus the ride bell).
fn all_components() -> Vec<String> {
    kit::components::COMPONENTS
        .iter()
        .chain(std::iter::once(&kit::components::RIDE_BELL))
        .map(|c| c.name.to_string())
        .collect()
}

fn load_render_kit(spec: &str, length: usize) -> Result<Kit> {
    let parsed = KitSpec::parse(spec)?;
    // A kit for rendering may lack some components (notes fall back to a sibling of the class).
    let kits = parsed.load(&all_components(), length).or_else(|_| {
        parsed.load(
            &drummernet::kit::components::default_component_names(),
            length,
        )
    })?;
    kits.into_iter()
        .next()
        .with_context(|| format!("kit `{spec}`: no kit found"))
}

fn render(cfg: &Config, a: RenderArgs) -> Result<()> {
    let kit = load_render_kit(&a.kit, cfg.kit.length_samples())?;
    let out = groove::render_midi_file(
        &a.pattern,
        &kit,
        &a.output,
        cfg.groove.peak_dbfs,
        WavFormat::Pcm16,
        Overwrite::from_force(a.force),
    )?;
    println!(
        "{}: {} notes, {:.2} s through {}{}",
        a.output.display(),
        out.notes,
        out.seconds,
        kit.name,
        if out.unplayable > 0 {
            format!(" ({} notes had no drum sound)", out.unplayable)
        } else {
            String::new()
        }
    );
    Ok(())
}

fn groove_cmd(cfg: &Config, a: GrooveArgs) -> Result<()> {
    if a.count == 0 || !(1.0..=3600.0).contains(&a.seconds) {
        bail!("groove: --count must be >= 1 and --seconds in 1..=3600");
    }
    let kits = load_kits(&a.kits, &all_components(), cfg.kit.length_samples()).or_else(|_| {
        load_kits(
            &a.kits,
            &drummernet::kit::components::default_component_names(),
            cfg.kit.length_samples(),
        )
    })?;
    let mut settings = cfg.groove.clone();
    settings.augment.enabled = a.augment;
    std::fs::create_dir_all(&a.out).with_context(|| format!("{}", a.out.display()))?;
    let written = groove::write_groove_set(
        &a.out,
        a.count,
        a.seconds,
        &kits,
        a.seed,
        &settings,
        Overwrite::from_force(a.force),
    )?;
    println!(
        "{}: {} grooves ({} s each) with {} kit(s)",
        a.out.display(),
        written.len(),
        a.seconds,
        kits.len()
    );
    Ok(())
}

fn kit_cmd(cfg: &Config, k: KitCommand) -> Result<()> {
    let length = cfg.kit.length_samples();
    match k {
        KitCommand::List { dir } => print!("{}", kit::commands::list_text(&dir)?),
        KitCommand::Show { dir, index } => print!("{}", kit::commands::show(&dir, index, length)?),
        KitCommand::Synth { seed, out, force } => {
            let kit =
                kit::commands::synth_to_folder(seed, length, &out, Overwrite::from_force(force))?;
            println!(
                "{}: procedural kit seed {seed}, {} components",
                out.display(),
                kit.components.len()
            );
        }
    }
    Ok(())
}

fn apply_threads(threads: usize) {
    if threads > 0 {
        // candle and rayon read these when their pools start, which has not happened yet.
        std::env::set_var("RAYON_NUM_THREADS", threads.to_string());
        std::env::set_var("CANDLE_NUM_THREADS", threads.to_string());
    }
}

fn train_cmd(cfg: Config, a: TrainArgs) -> Result<()> {
    apply_threads(cfg.device.threads);
    let device = cfg.device.candle_device()?;
    let kits = load_kits(&a.kits, &cfg.model.components, cfg.kit.length_samples())?;
    let target = a.steps.unwrap_or(cfg.train.steps);
    let job = train::background::TrainJob {
        data: train::trainer::DataSpec {
            stems: a.data,
            kit_dirs: Vec::new(),
            kits,
            procedural_kits: a.procedural_kits,
        },
        sessions_root: a.sessions_dir,
        session: a.session,
        resume: a.resume,
        target_steps: target,
        device,
        config: cfg,
    };
    let handle = train::background::spawn(job);
    let stop = handle.commands.clone();
    // SIGINT/SIGTERM: write a checkpoint, then exit.
    let _ = ctrlc::set_handler(move || {
        let _ = stop.send(train::background::TrainerCommand::Stop);
    });
    let bar = if std::io::stderr().is_terminal() {
        let b = ProgressBar::new(target);
        b.set_style(
            ProgressStyle::with_template(
                "{spinner} step {pos}/{len} [{elapsed_precise}<{eta_precise}] {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        Some(b)
    } else {
        None
    };
    let mut failure = None;
    for event in handle.events.iter() {
        use train::background::TrainerEvent as E;
        match event {
            E::Started {
                session,
                step,
                target_steps,
            } => {
                if let Some(b) = &bar {
                    b.set_position(step);
                } else {
                    println!("session {session}: from step {step} to {target_steps}");
                }
            }
            E::Step(r) => match &bar {
                Some(b) => {
                    b.set_position(r.step);
                    b.set_message(format!(
                        "loss {:.4}  {:.1} items/s",
                        r.loss, r.items_per_second
                    ));
                }
                None => println!(
                    "step {} loss {:.5} items/s {:.2}",
                    r.step, r.loss, r.items_per_second
                ),
            },
            E::Checkpoint { step, path } => log_line(
                &bar,
                format!("checkpoint at step {step}: {}", path.display()),
            ),
            E::Warning(w) => log_line(&bar, format!("warning: {w}")),
            E::Finished { step, stopped } => {
                log_line(
                    &bar,
                    format!(
                        "{} at step {step}",
                        if stopped { "stopped" } else { "finished" }
                    ),
                );
            }
            E::Failed(e) => failure = Some(e),
            E::Waveforms { .. } | E::Paused { .. } | E::Resumed { .. } => {}
        }
    }
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    handle.join();
    match failure {
        Some(e) => bail!("training: {e}"),
        None => Ok(()),
    }
}

fn log_line(bar: &Option<ProgressBar>, line: String) {
    match bar {
        Some(b) => b.println(line),
        None => println!("{line}"),
    }
}
