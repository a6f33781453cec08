//! `[console]`: the terminal surface used when neither Slack nor Discord is active.

use serde::{Deserialize, Serialize};

/// The terminal surface.
#[derive(Debug, Clone, Deserialize, Serialize, Default)]
pub struct ConsoleSettings {
    /// Handle of the agent the console acts as; the first admin when absent.
    #[serde(default)]
    pub agent: Option<String>,
}
