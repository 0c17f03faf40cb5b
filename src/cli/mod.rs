//! The command line's subcommands: argument definitions and the calls into the library.

pub mod adapt;
pub mod curves;
pub mod eval;
pub mod export;
pub mod groove;
pub mod kit;
pub mod render;
pub mod runtime;
pub mod train;
pub mod transcribe;
#[cfg(feature = "tui")]
pub mod tui;
#[cfg(feature = "watch")]
pub mod watch;

use anyhow::Result;

use drummernet::kit::spec::KitSpec;
use drummernet::kit::Kit;

/// Loads every kit named by `--kits` arguments.
pub fn load_kits(specs: &[String], components: &[String], length: usize) -> Result<Vec<Kit>> {
    let mut kits = Vec::new();
    for s in specs {
        kits.extend(KitSpec::parse(s)?.load(components, length)?);
    }
    Ok(kits)
}

/// The one line printed for a failed command. Causes already quoted by their parent are not
/// repeated (the library's `Io` error shows its source), and only the first line of each part
/// is kept: candle errors carry a backtrace in their `Display` when `RUST_BACKTRACE` is set.
pub fn error_line(error: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in error.chain() {
        let text = cause.to_string();
        let first = text.lines().next().unwrap_or("").trim();
        if first.is_empty() || line.contains(first) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(first);
    }
    line
}

/// Refuses an output folder path that names something else (a file), before any work.
pub fn check_output_folder(dir: &std::path::Path) -> Result<()> {
    if dir.exists() && !dir.is_dir() {
        anyhow::bail!(
            "{}: not a folder (give a folder for the output)",
            dir.display()
        );
    }
    Ok(())
}

/// Prints to stdout; a closed pipe (`drummernet kit list DIR | head -1`) is not an error,
/// where `print!` would panic.
pub fn print_out(text: &str) -> Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_line_drops_repeated_causes_and_backtraces() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "gone");
        let e = anyhow::Error::from(drummernet::Error::io("song.wav", io));
        assert_eq!(error_line(&e), "song.wav: gone");

        let with_trace = anyhow::anyhow!("tensor: shape mismatch\nstack backtrace:\n  0: main");
        let e = with_trace.context("model.safetensors: cannot load");
        assert_eq!(
            error_line(&e),
            "model.safetensors: cannot load: tensor: shape mismatch"
        );
    }
}
