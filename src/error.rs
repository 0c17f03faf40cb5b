//! The library's error type: every variant names the file (or config key) it is about, so the
//! CLI can print one line a user can act on.

use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Audio that cannot be decoded, resampled or written.
    #[error("{}: {message}", path.display())]
    Audio { path: PathBuf, message: String },
    /// A filesystem operation failed.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A configuration key with a bad value (or an unknown key).
    #[error("config: `{key}`: {message}")]
    Config { key: String, message: String },
    /// A MIDI file that cannot be read or written.
    #[error("{}: {message}", path.display())]
    Midi { path: PathBuf, message: String },
    /// A drum kit folder or sample that cannot be used.
    #[error("{}: {message}", path.display())]
    Kit { path: PathBuf, message: String },
    /// A model or checkpoint file that cannot be used (corrupt, other configuration...).
    #[error("{}: {message}", path.display())]
    ModelFile { path: PathBuf, message: String },
    /// An output that exists already and may not be overwritten.
    #[error("{}: exists already (use --force to overwrite)", path.display())]
    OutputExists { path: PathBuf },
    /// Tensor maths failed (shape mismatch, device error...).
    #[error("tensor: {0}")]
    Tensor(#[from] candle_core::Error),
    /// Any other invalid request, described in words.
    #[error("{0}")]
    Invalid(String),
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub fn audio(path: impl AsRef<Path>, message: impl Into<String>) -> Self {
        Error::Audio {
            path: path.as_ref().to_path_buf(),
            message: message.into(),
        }
    }
    pub fn io(path: impl AsRef<Path>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.as_ref().to_path_buf(),
            source,
        }
    }
    pub fn config(key: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Config {
            key: key.into(),
            message: message.into(),
        }
    }
    pub fn midi(path: impl AsRef<Path>, message: impl Into<String>) -> Self {
        Error::Midi {
            path: path.as_ref().to_path_buf(),
            message: message.into(),
        }
    }
    pub fn kit(path: impl AsRef<Path>, message: impl Into<String>) -> Self {
        Error::Kit {
            path: path.as_ref().to_path_buf(),
            message: message.into(),
        }
    }
    pub fn model_file(path: impl AsRef<Path>, message: impl Into<String>) -> Self {
        Error::ModelFile {
            path: path.as_ref().to_path_buf(),
            message: message.into(),
        }
    }
}

/// The message a caught panic carried (`panic!` with a literal or a formatted string), for
/// threads that turn a panic into a reported failure.
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> &str {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("panic")
}
