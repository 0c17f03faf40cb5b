//! The `[watch]` section of the config: how long a file must rest before it is taken, how many
//! transcriptions run at once, and how file-system changes are noticed.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WatchSettings {
    /// Seconds a file's size and modification time must stay unchanged before it is taken.
    pub stable_seconds: f64,
    /// Transcriptions running at once (each one shares the loaded model).
    pub jobs: usize,
    /// Seconds over which file-system events are gathered before they are looked at.
    pub debounce_seconds: f64,
    /// Scan the folder every `poll_seconds` instead of relying on the system's change
    /// notifications (network shares and some containers deliver none).
    pub poll: bool,
    pub poll_seconds: f64,
}

impl Default for WatchSettings {
    fn default() -> Self {
        WatchSettings {
            stable_seconds: 2.0,
            jobs: 1,
            debounce_seconds: 0.5,
            poll: false,
            poll_seconds: 2.0,
        }
    }
}

impl WatchSettings {
    pub fn validate(&self, prefix: &str) -> Result<()> {
        let range = |key: &str, v: f64, lo: f64, hi: f64| {
            if (lo..=hi).contains(&v) {
                Ok(())
            } else {
                Err(Error::config(
                    format!("{prefix}.{key}"),
                    format!("must be in {lo}..={hi} seconds"),
                ))
            }
        };
        range("stable_seconds", self.stable_seconds, 0.0, 3600.0)?;
        range("debounce_seconds", self.debounce_seconds, 0.01, 60.0)?;
        range("poll_seconds", self.poll_seconds, 0.05, 3600.0)?;
        if !(1..=64).contains(&self.jobs) {
            return Err(Error::config(format!("{prefix}.jobs"), "must be in 1..=64"));
        }
        Ok(())
    }
}
