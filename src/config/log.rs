//! `[log]`: where log lines go and in which format. Which lines is `RUST_LOG` (default
//! `info,sqlx=warn`).

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
    /// How each line is written: `text` (default, for people) or `json` (one JSON object per
    /// line, for log shippers; see [`LogFormat::Json`]).
    pub format: LogFormat,
}

impl Default for LogSettings {
    fn default() -> Self {
        Self {
            file: PathBuf::from(".local/claimdesk.log"),
            format: LogFormat::Text,
        }
    }
}

/// The format of log lines (`log.format`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// `tracing-subscriber`'s human format: time, level, the spans with their fields, the
    /// message and its fields.
    #[default]
    Text,
    /// One JSON object per line (`tracing-subscriber`'s `json` formatter): `timestamp`,
    /// `level`, `target`, `fields` (with `message`), `span` (the innermost span with its
    /// fields) and `spans` (every enclosing span, outermost first). claimdesk's own spans
    /// (`intake.batch`, `desk.claim` …, `outbox.deliver`) also write a line when they close
    /// (`fields.message` = `close`, with `time.busy` and `time.idle`), so every use case,
    /// batch and delivery leaves one line naming its ticket.
    Json,
}
