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
    /// is pending along. 0: every answer at once; at most [`FOLD_SECS_MAX`] (checked when
    /// the settings load).
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

/// Largest `notify.fold_secs` accepted: one hour. A longer fold would only delay answers,
/// and an unbounded one overflows the time arithmetic of `domain::notify`.
pub const FOLD_SECS_MAX: u64 = 3600;

impl NotifySettings {
    /// Checks the settings.
    ///
    /// Errors: text naming `notify.fold_secs` when it is over [`FOLD_SECS_MAX`].
    pub fn check(&self) -> Result<(), String> {
        if self.fold_secs > FOLD_SECS_MAX {
            return Err(format!(
                "notify.fold_secs = {} is too long: use 0 to {FOLD_SECS_MAX} seconds",
                self.fold_secs
            ));
        }
        Ok(())
    }

    /// `fold_secs` as seconds, at most [`FOLD_SECS_MAX`] even for settings built without
    /// [`NotifySettings::check`].
    pub fn fold_seconds(&self) -> i64 {
        // FOLD_SECS_MAX fits an i64.
        self.fold_secs.min(FOLD_SECS_MAX) as i64
    }
}
