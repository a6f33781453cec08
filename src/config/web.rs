//! `[web]`: the HTTP listeners (chat routes, health, metrics).

use serde::{Deserialize, Serialize};

/// HTTP server.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct WebSettings {
    /// Listen address, `127.0.0.1:8080`; port 0 picks a free one.
    #[serde(default = "default_bind")]
    pub bind: String,
    /// Name of the environment variable holding the admin bearer token. When it is set (and
    /// not empty), `/metrics` and `/healthz/details` are served to requests carrying
    /// `Authorization: Bearer <token>` (RFC 6750 §2.1), compared in constant time; others
    /// get 401. Unset and no `admin_bind`: those two routes answer 404.
    #[serde(default = "default_admin_token_env")]
    pub admin_token_env: String,
    /// A second listen address (e.g. `127.0.0.1:9090`, reachable only by operators) serving
    /// `/healthz`, `/healthz/details` and `/metrics` — without a token unless
    /// `admin_token_env` is set, then with it. No chat routes there.
    #[serde(default)]
    pub admin_bind: Option<String>,
}

impl Default for WebSettings {
    fn default() -> Self {
        Self {
            bind: default_bind(),
            admin_token_env: default_admin_token_env(),
            admin_bind: None,
        }
    }
}

fn default_admin_token_env() -> String {
    "CLAIMDESK_ADMIN_TOKEN".into()
}
fn default_bind() -> String {
    "127.0.0.1:8080".into()
}
