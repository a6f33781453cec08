//! `[web]`: the HTTP listeners (chat routes, health, metrics, the web view).

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
    /// The address people open the web view at, scheme and authority without a trailing
    /// slash (`https://desk.example.com`); the sign-in links sent by email start with it, and
    /// the session cookie gets `Secure` when it is `https`. Unset: `http://<bind>`.
    #[serde(default)]
    pub public_url: Option<String>,
    /// How long a web session lasts after signing in, hours (then the agent signs in again).
    #[serde(default = "default_session_hours")]
    pub session_hours: u32,
    /// Whether the acknowledgement email carries the customer's status link
    /// (`<public_url>/status/<token>`) and the status and rating pages answer. `false`: no
    /// link is sent and those pages answer 404.
    #[serde(default = "default_status_links")]
    pub status_links: bool,
    /// Name of the environment variable holding the secret that signs the customer's links
    /// (HMAC-SHA256, at least 16 bytes, e.g. `openssl rand -hex 32`). Unset or empty: no
    /// links are sent and a warning is logged at start. Changing it invalidates the links
    /// already sent.
    #[serde(default = "default_link_secret_env")]
    pub link_secret_env: String,
}

impl WebSettings {
    /// [`WebSettings::public_url`] without a trailing slash, or `http://<bind>`.
    pub fn public_url(&self) -> String {
        match &self.public_url {
            Some(u) if !u.trim().is_empty() => u.trim().trim_end_matches('/').to_string(),
            _ => format!("http://{}", self.bind),
        }
    }

    /// Whether the web view is served over TLS (the public URL is `https`): cookies are
    /// then sent with `Secure`.
    pub fn is_https(&self) -> bool {
        self.public_url()
            .get(..8)
            .is_some_and(|s| s.eq_ignore_ascii_case("https://"))
    }
}

impl Default for WebSettings {
    fn default() -> Self {
        Self {
            bind: default_bind(),
            admin_token_env: default_admin_token_env(),
            admin_bind: None,
            public_url: None,
            session_hours: default_session_hours(),
            status_links: default_status_links(),
            link_secret_env: default_link_secret_env(),
        }
    }
}

fn default_admin_token_env() -> String {
    "CLAIMDESK_ADMIN_TOKEN".into()
}
fn default_bind() -> String {
    "127.0.0.1:8080".into()
}
fn default_session_hours() -> u32 {
    12
}
fn default_status_links() -> bool {
    true
}
fn default_link_secret_env() -> String {
    "CLAIMDESK_LINK_SECRET".into()
}
