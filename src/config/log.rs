//! `[log]`: where log lines go. Which lines is `RUST_LOG` (default `info,sqlx=warn`).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// Logging.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default)]
pub struct LogSettings {
    /// The file log lines are appended to while `serve` runs the console surface (stdout then
    /// belongs to the cards and the prompt); its directory is created when missing. Relative
    /// to the working directory. Default `.local/claimdesk.log`. With Slack or Discord active,
    /// and for every other command, log lines go to stderr.
    pub file: PathBuf,
}

impl Default for LogSettings {
    fn default() -> Self {
        Self {
            file: PathBuf::from(".local/claimdesk.log"),
        }
    }
}
