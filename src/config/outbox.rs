//! `[outbox]`: how side effects (cards, thread messages, emails) are retried.

use serde::{Deserialize, Serialize};

/// Outbox delivery.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct OutboxSettings {
    /// First retry delay, seconds; doubles per attempt.
    #[serde(default = "default_retry_base")]
    pub retry_base_secs: u64,
    /// Longest retry delay, seconds.
    #[serde(default = "default_retry_max")]
    pub retry_max_secs: u64,
    /// Longest wait for one platform or SMTP call before it counts as failed, seconds.
    #[serde(default = "default_call_timeout")]
    pub call_timeout_secs: u64,
}

impl Default for OutboxSettings {
    fn default() -> Self {
        Self {
            retry_base_secs: default_retry_base(),
            retry_max_secs: default_retry_max(),
            call_timeout_secs: default_call_timeout(),
        }
    }
}

fn default_call_timeout() -> u64 {
    30
}
fn default_retry_base() -> u64 {
    2
}
fn default_retry_max() -> u64 {
    300
}
