//! `[notify]`: personal notifications (direct messages to agents, `desk::notify`).
//!
//! ```toml
//! [notify]
//! fold_secs = 120   # customer answers within this many seconds arrive as one DM
//! ```

use serde::{Deserialize, Serialize};

/// Personal notification settings.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
pub struct NotifySettings {
    /// Seconds a customer answer waits for others to fold into the same direct message
    /// (counted from the first); assignments and SLA warnings go at once and take whatever
    /// is pending along. 0: every answer at once.
    #[serde(default = "default_fold_secs")]
    pub fold_secs: u64,
}

impl Default for NotifySettings {
    fn default() -> Self {
        NotifySettings {
            fold_secs: default_fold_secs(),
        }
    }
}

fn default_fold_secs() -> u64 {
    120
}
