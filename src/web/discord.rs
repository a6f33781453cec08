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
    pub const MODAL_SUBMIT: u8 = 5;
}

/// `MODAL` response type.
const RESPOND_MODAL: u8 = 9;
/// Discord's limit on a modal title and a text input label, characters.
const MODAL_TITLE_MAX: usize = 45;

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
    /// Modal submit: the modal's components with the values typed.
    #[serde(default)]
    components: Vec<serde_json::Value>,
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

/// A modal with one multi-line text input; its title names the ticket, its label the
/// recipient (the customer) or that the note is internal.
fn modal(custom_id: &str, title: &str, label: &str, placeholder: &str) -> Response {
    let cut = |t: &str| crate::desk::query::truncate(t, MODAL_TITLE_MAX);
    Json(serde_json::json!({
        "type": RESPOND_MODAL,
        "data": {
            "custom_id": custom_id,
            "title": cut(title),
            "components": [{"type": 1, "components": [{
                "type": 4, "custom_id": custom_id::TEXT_INPUT, "style": 2, "label": cut(label),
                "placeholder": placeholder, "required": true, "min_length": 1, "max_length": 4000
            }]}]
        }
    }))
    .into_response()
}

/// The value typed into the modal's text input, wherever it sits (an action row or a label).
fn typed_text(components: &[serde_json::Value]) -> String {
    fn find(v: &serde_json::Value) -> Option<String> {
        if v.get("custom_id").and_then(|c| c.as_str()) == Some(custom_id::TEXT_INPUT) {
            return v.get("value").and_then(|x| x.as_str()).map(str::to_string);
        }
        match v {
            serde_json::Value::Array(a) => a.iter().find_map(find),
            serde_json::Value::Object(o) => o.values().find_map(find),
            _ => None,
        }
    }
    components.iter().find_map(find).unwrap_or_default()
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
    // Only members of the desk get anything, even a form.
    let agent = match s.desk.agent(Identity::Discord(&user_id)).await {
        Ok(a) => a,
        Err(e) => return private(messages::error(&e)),
    };
    let cmd = match i.kind {
        kind::APPLICATION_COMMAND => command_of(&data),
        kind::MESSAGE_COMPONENT => {
            let id = data.custom_id.as_deref().unwrap_or("");
            match id.split_once(':') {
                Some((custom_id::CLAIM, n)) => Ok(Command::Claim(n.to_string())),
                Some((custom_id::UNCLAIM, n)) => Ok(Command::Unclaim(n.to_string())),
                Some((custom_id::RESOLVE, n)) => Ok(Command::Status(
                    n.to_string(),
                    crate::domain::Status::Resolved,
                )),
                Some((custom_id::REPLY, n)) => {
                    // Name the recipient before anything can be sent.
                    return match s.desk.show(n).await {
                        Ok(t) => modal(
                            &format!("{}:{n}", custom_id::REPLY_MODAL),
                            &format!("Reply on {n}"),
                            &format!("To {}", t.summary.requester),
                            "Sent by email to the customer when you submit.",
                        ),
                        Err(e) => private(messages::error(&e)),
                    };
                }
                Some((custom_id::NOTE, n)) => {
                    return modal(
                        &format!("{}:{n}", custom_id::NOTE_MODAL),
                        &format!("Internal note on {n}"),
                        "Internal note (never sent)",
                        "Only the team sees this.",
                    );
                }
                _ => Err(commands::Usage(format!("Unknown button `{id}`."))),
            }
        }
        kind::MODAL_SUBMIT => {
            let id = data.custom_id.as_deref().unwrap_or("");
            let text = typed_text(&data.components);
            match id.split_once(':') {
                Some((custom_id::REPLY_MODAL, n)) => Ok(Command::Reply(n.to_string(), text)),
                Some((custom_id::NOTE_MODAL, n)) => Ok(Command::Note(n.to_string(), text)),
                _ => Err(commands::Usage(format!("Unknown form `{id}`."))),
            }
        }
        _ => return private(messages::USAGE.to_string()),
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
