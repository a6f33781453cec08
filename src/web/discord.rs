//! Discord's HTTP interactions endpoint: PING, application commands (`/claim`, `/unclaim`,
//! `/reply`, `/desk`) and the card's buttons. Each request's Ed25519 signature
//! (`X-Signature-Ed25519` over `X-Signature-Timestamp` + body) is checked with serenity's
//! verifier; a bad one gets 401 as Discord requires.
//! <https://discord.com/developers/docs/interactions/overview#setting-up-an-endpoint>

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serenity::interactions_endpoint::Verifier;

use crate::chat::commands::{self, Command};
use crate::chat::discord::custom_id;
use crate::chat::messages;
use crate::desk::{Actor, Surface};
use crate::store::agents::Identity;

use super::WebState;

/// Interaction types (<https://discord.com/developers/docs/interactions/receiving-and-responding#interaction-object-interaction-type>).
mod kind {
    pub const PING: u8 = 1;
    pub const APPLICATION_COMMAND: u8 = 2;
    pub const MESSAGE_COMPONENT: u8 = 3;
}

/// `CHANNEL_MESSAGE_WITH_SOURCE` response type.
const RESPOND_MESSAGE: u8 = 4;
/// `EPHEMERAL` message flag.
const EPHEMERAL: u64 = 1 << 6;

/// Verifies Discord's request signatures.
pub struct DiscordInbound {
    verifier: Verifier,
}

/// A public key that is not 32 bytes of hex.
#[derive(Debug, thiserror::Error)]
#[error("DISCORD_PUBLIC_KEY must be 64 hex characters (the application's Ed25519 public key)")]
pub struct BadPublicKey;

impl DiscordInbound {
    /// A verifier for the application's public key (64 hex characters).
    pub fn new(public_key_hex: &str) -> Result<DiscordInbound, BadPublicKey> {
        let bytes: [u8; 32] = hex::decode(public_key_hex.trim())
            .map_err(|_| BadPublicKey)?
            .try_into()
            .map_err(|_| BadPublicKey)?;
        Ok(DiscordInbound {
            verifier: Verifier::try_new(bytes).map_err(|_| BadPublicKey)?,
        })
    }

    /// Checks the signature headers over `body`.
    pub fn verify(&self, headers: &HeaderMap, body: &[u8]) -> Result<(), &'static str> {
        let get = |h: &str| headers.get(h).and_then(|v| v.to_str().ok());
        let (Some(sig), Some(ts)) = (get("x-signature-ed25519"), get("x-signature-timestamp"))
        else {
            return Err("missing signature headers");
        };
        self.verifier
            .verify(sig, ts, body)
            .map_err(|()| "bad signature")
    }
}

#[derive(Debug, Deserialize)]
struct Interaction {
    #[serde(rename = "type")]
    kind: u8,
    #[serde(default)]
    data: Option<Data>,
    #[serde(default)]
    member: Option<Member>,
    #[serde(default)]
    user: Option<User>,
}

#[derive(Debug, Deserialize)]
struct Data {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    custom_id: Option<String>,
    #[serde(default)]
    options: Vec<CommandOption>,
}

#[derive(Debug, Deserialize)]
struct CommandOption {
    name: String,
    #[serde(default)]
    value: Option<serde_json::Value>,
    #[serde(default)]
    options: Vec<CommandOption>,
}

#[derive(Debug, Deserialize)]
struct Member {
    user: User,
}

#[derive(Debug, Deserialize)]
struct User {
    id: String,
}

fn private(text: String) -> Response {
    Json(serde_json::json!({
        "type": RESPOND_MESSAGE,
        "data": {"content": crate::desk::query::truncate(&text, crate::chat::discord::CONTENT_MAX), "flags": EPHEMERAL}
    }))
    .into_response()
}

fn option_text(opts: &[CommandOption], name: &str) -> String {
    opts.iter()
        .find(|o| o.name == name)
        .and_then(|o| o.value.as_ref())
        .map(|v| match v {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        })
        .unwrap_or_default()
}

/// The command an application-command interaction asks for. `/desk <sub>` carries its
/// subcommand as a nested option.
fn command_of(data: &Data) -> Result<Command, commands::Usage> {
    let name = data.name.as_deref().unwrap_or("");
    let (name, opts) = match (name, data.options.first()) {
        ("desk", Some(sub)) => (sub.name.as_str(), sub.options.as_slice()),
        _ => (name, data.options.as_slice()),
    };
    let args = format!(
        "{} {}",
        option_text(opts, "ticket"),
        option_text(opts, "text")
    );
    commands::parse(name, &args)
}

/// `POST /discord/interactions`.
pub async fn interactions(State(s): State<WebState>, headers: HeaderMap, body: Bytes) -> Response {
    let Some(inbound) = s.discord.as_ref() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    if let Err(why) = inbound.verify(&headers, &body) {
        tracing::warn!(reason = why, "rejected Discord interaction");
        return (StatusCode::UNAUTHORIZED, "invalid request signature").into_response();
    }
    let i: Interaction = match serde_json::from_slice(&body) {
        Ok(i) => i,
        Err(e) => {
            tracing::warn!(error = %e, "unreadable Discord interaction");
            return (StatusCode::BAD_REQUEST, "unreadable interaction").into_response();
        }
    };
    if i.kind == kind::PING {
        return Json(serde_json::json!({"type": 1})).into_response();
    }
    let Some(user_id) = i.member.map(|m| m.user.id).or(i.user.map(|u| u.id)) else {
        return (StatusCode::BAD_REQUEST, "interaction without a user").into_response();
    };
    let Some(data) = i.data else {
        return (StatusCode::BAD_REQUEST, "interaction without data").into_response();
    };
    let cmd = match i.kind {
        kind::APPLICATION_COMMAND => command_of(&data),
        kind::MESSAGE_COMPONENT => {
            let id = data.custom_id.as_deref().unwrap_or("");
            match id.split_once(':') {
                Some((custom_id::CLAIM, n)) => Ok(Command::Claim(n.to_string())),
                Some((custom_id::UNCLAIM, n)) => Ok(Command::Unclaim(n.to_string())),
                _ => Err(commands::Usage(format!("Unknown button `{id}`."))),
            }
        }
        _ => return private(messages::USAGE.to_string()),
    };
    let agent = match s.desk.agent(Identity::Discord(&user_id)).await {
        Ok(a) => a,
        Err(e) => return private(messages::error(&e)),
    };
    let actor = Actor {
        agent,
        surface: Surface::Discord,
    };
    match cmd {
        Ok(cmd) => private(commands::execute(&s.desk, &actor, cmd).await),
        Err(usage) => private(usage.0),
    }
}
