//! `[discord]`: the Discord application, active when its bot token variable is set.

use serde::{Deserialize, Serialize};

use super::default_true;

/// Discord application settings.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct DiscordSettings {
    /// Channel ID (snowflake) the cards go to.
    pub channel_id: String,
    /// HTTP proxy all API calls go through; only tests set it.
    #[serde(default)]
    pub api_proxy: Option<String>,
    /// Variable holding the bot token.
    #[serde(default = "default_discord_token_env")]
    pub bot_token_env: String,
    /// Variable holding the application's Ed25519 public key (hex).
    #[serde(default = "default_discord_key_env")]
    pub public_key_env: String,
    /// Application ID (snowflake): needed to register the slash commands on start and to
    /// edit a deferred answer (`PATCH /webhooks/{application_id}/{token}/messages/@original`).
    #[serde(default)]
    pub application_id: Option<String>,
    /// Guild (server) the slash commands are registered in, which takes effect at once;
    /// without it they are registered globally (`PUT /applications/{id}/commands`).
    #[serde(default)]
    pub guild_id: Option<String>,
    /// Register (bulk-overwrite) the slash commands on start; needs `application_id`.
    #[serde(default = "default_true")]
    pub register_commands: bool,
    /// How interactions arrive: `http` (Discord POSTs to `/discord/interactions`, needs a
    /// public URL and the public key) or `gateway` (claimdesk holds a gateway WebSocket).
    #[serde(default)]
    pub mode: DiscordMode,
    /// Largest email attachment uploaded into a card's thread, bytes (larger ones are only
    /// listed on the card); 0 turns uploads off. Default 8 MiB.
    #[serde(default = "super::default_upload_max_bytes")]
    pub upload_max_bytes: u64,
}

/// How Discord interactions reach claimdesk.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DiscordMode {
    /// The HTTP interactions endpoint, verified with the application's public key.
    #[default]
    Http,
    /// The gateway WebSocket; answers go to `POST /interactions/{id}/{token}/callback`.
    Gateway,
}

fn default_discord_token_env() -> String {
    "DISCORD_BOT_TOKEN".into()
}
fn default_discord_key_env() -> String {
    "DISCORD_PUBLIC_KEY".into()
}
