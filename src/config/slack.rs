//! `[slack]`: the Slack workspace, active when its bot token variable is set.

use serde::{Deserialize, Serialize};

/// Slack workspace settings.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct SlackSettings {
    /// Channel ID the cards go to (`C0123ABCD`).
    pub channel: String,
    /// Web API base; only tests change it.
    #[serde(default = "default_slack_api")]
    pub api_url: String,
    /// Variable holding the bot token (`xoxb-…`).
    #[serde(default = "default_slack_token_env")]
    pub bot_token_env: String,
    /// Variable holding the signing secret.
    #[serde(default = "default_slack_secret_env")]
    pub signing_secret_env: String,
    /// How Slack reaches claimdesk: `http` (Request URLs `/slack/*`, the default) or `socket`
    /// (Socket Mode: claimdesk opens a WebSocket to Slack, no public URL needed;
    /// <https://api.slack.com/apis/socket-mode>).
    #[serde(default)]
    pub mode: SlackMode,
    /// Variable holding the app-level token (`xapp-…`, scope `connections:write`) Socket Mode
    /// connects with; only read when `mode = "socket"`.
    #[serde(default = "default_slack_app_token_env")]
    pub app_token_env: String,
    /// The workspace (`T…`) requests must come from; others are refused. Unchecked when
    /// absent. Read from `team_id` of commands and events, `team.id` of interactions.
    #[serde(default)]
    pub team_id: Option<String>,
    /// The Slack app (`A…`) requests must be for; others are refused. Unchecked when absent.
    /// Read from `api_app_id` of commands, events and interactions.
    #[serde(default)]
    pub api_app_id: Option<String>,
    /// Largest email attachment uploaded into a card's thread, bytes (larger ones are only
    /// listed on the card); 0 turns uploads off. Default 8 MiB.
    #[serde(default = "super::default_upload_max_bytes")]
    pub upload_max_bytes: u64,
}

/// How Slack delivers slash commands, interactions and events to claimdesk.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SlackMode {
    /// Slack POSTs to `/slack/commands`, `/slack/interactions`, `/slack/events` (signed).
    #[default]
    Http,
    /// Socket Mode: `apps.connections.open`, then envelopes over a WebSocket, acked on it.
    Socket,
}

fn default_slack_api() -> String {
    "https://slack.com/api".into()
}
fn default_slack_token_env() -> String {
    "SLACK_BOT_TOKEN".into()
}
fn default_slack_secret_env() -> String {
    "SLACK_SIGNING_SECRET".into()
}

fn default_slack_app_token_env() -> String {
    "SLACK_APP_TOKEN".into()
}
