//! Discord interactions: PING, the slash commands (see [`command_definitions`]), their
//! ticket-number autocomplete, the card's buttons and the reply/note modals.
//!
//! [`handle`] turns one parsed [`Interaction`] into an [`Outcome`] through the shared command
//! set and the `crate::desk` use cases; the HTTP endpoint ([`interactions`]) and the gateway
//! (`interaction_create`, answering through `POST /interactions/{id}/{token}/callback`) both
//! feed it. Slow commands are deferred: Discord gets type 5 at once and the answer replaces
//! it later via `PATCH /webhooks/{application_id}/{token}/messages/@original`.
//!
//! HTTP requests' Ed25519 signatures (`X-Signature-Ed25519` over `X-Signature-Timestamp` +
//! body) are checked with serenity's verifier; a bad one gets 401 as Discord requires. So do
//! a timestamp more than 5 minutes from now and an interaction id already handled (kept in
//! `seen_interactions`, shared by replicas): a replayed request has no effect.
//! <https://discord.com/developers/docs/interactions/overview#setting-up-an-endpoint>,
//! <https://discord.com/developers/docs/interactions/receiving-and-responding>

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serenity::interactions_endpoint::Verifier;

use crate::chat::catalogue;
use crate::chat::commands::{self, Command};
use crate::chat::discord::{custom_id, DiscordChat};
use crate::desk::messages;
use crate::desk::{Actor, Desk, Surface};
use crate::domain::actions::CardAction;
use crate::domain::Status;
use crate::store::agents::Identity;

use crate::web::WebState;

/// Interaction types (<https://discord.com/developers/docs/interactions/receiving-and-responding#interaction-object-interaction-type>).
mod kind {
    pub const PING: u8 = 1;
    pub const APPLICATION_COMMAND: u8 = 2;
    pub const MESSAGE_COMPONENT: u8 = 3;
    pub const APPLICATION_COMMAND_AUTOCOMPLETE: u8 = 4;
    pub const MODAL_SUBMIT: u8 = 5;
}

/// `DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE` response type.
const RESPOND_DEFERRED: u8 = 5;
/// `APPLICATION_COMMAND_AUTOCOMPLETE_RESULT` response type.
const RESPOND_AUTOCOMPLETE: u8 = 8;
/// Discord's limit on autocomplete choices.
pub const AUTOCOMPLETE_MAX: usize = 25;
/// Discord's limit on a choice's name, characters.
const CHOICE_NAME_MAX: usize = 100;

/// `MODAL` response type.
const RESPOND_MODAL: u8 = 9;
/// Discord's limit on a modal title and a text input label, characters.
const MODAL_TITLE_MAX: usize = 45;

/// `CHANNEL_MESSAGE_WITH_SOURCE` response type.
const RESPOND_MESSAGE: u8 = 4;
/// `EPHEMERAL` message flag.
const EPHEMERAL: u64 = 1 << 6;

/// Verifies Discord's request signatures and holds the client that edits deferred answers.
pub struct DiscordInbound {
    verifier: Verifier,
    client: Option<DiscordChat>,
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
            client: None,
        })
    }

    /// The same, editing deferred answers through `client`; without one, slow commands are
    /// answered at once instead of deferred.
    pub fn with_client(mut self, client: DiscordChat) -> DiscordInbound {
        self.client = Some(client);
        self
    }

    /// Checks the signature headers over `body` (Ed25519 over `X-Signature-Timestamp` +
    /// body), then that the signed timestamp (Unix seconds) is within [`MAX_AGE_SECS`] of
    /// `now` (Unix seconds) either way, so an old signed request cannot be replayed later.
    ///
    /// Errors: the reason, for the log (never the body).
    pub fn verify(&self, headers: &HeaderMap, body: &[u8], now: i64) -> Result<(), String> {
        let get = |h: &str| headers.get(h).and_then(|v| v.to_str().ok());
        let (Some(sig), Some(ts)) = (get("x-signature-ed25519"), get("x-signature-timestamp"))
        else {
            return Err("missing signature headers".into());
        };
        self.verifier
            .verify(sig, ts, body)
            .map_err(|()| "bad signature".to_string())?;
        crate::chat::slack::routes::check_skew(ts, now, MAX_AGE_SECS)
    }
}

/// Oldest (or furthest in the future) `X-Signature-Timestamp` accepted, seconds.
pub const MAX_AGE_SECS: u64 = 300;

/// Whether interaction `id` is new: records it in `seen_interactions` (shared by every
/// replica) and returns `Ok(true)` the first time, `Ok(false)` for a replay.
///
/// Errors: an id that is empty or longer than `store::interactions::MAX_ID_CHARS` (as text,
/// for the log), or the database failing.
pub async fn first_time(desk: &Desk, id: Option<&str>) -> Result<bool, String> {
    let id = id.unwrap_or("");
    if id.is_empty() || id.chars().count() > crate::store::interactions::MAX_ID_CHARS {
        return Err("interaction without a usable id".into());
    }
    let mut conn = desk
        .pool()
        .acquire()
        .await
        .map_err(|e| format!("database: {e}"))?;
    crate::store::interactions::first_seen(&mut conn, "discord", id)
        .await
        .map_err(|e| format!("database: {e}"))
}

/// The fields of an interaction claimdesk reads; everything else is ignored.
/// <https://discord.com/developers/docs/interactions/receiving-and-responding#interaction-object>
///
/// `Debug` leaves out the token (it lets anyone answer or edit the interaction for 15
/// minutes) and what was typed.
#[derive(Clone, Deserialize)]
pub struct Interaction {
    /// Interaction ID (snowflake), for the gateway's callback.
    #[serde(default)]
    pub id: Option<String>,
    /// Application ID (snowflake), for editing a deferred answer.
    #[serde(default)]
    pub application_id: Option<String>,
    /// Continuation token, valid 15 minutes.
    #[serde(default)]
    pub token: Option<String>,
    #[serde(rename = "type")]
    kind: u8,
    #[serde(default)]
    data: Option<Data>,
    #[serde(default)]
    member: Option<Member>,
    #[serde(default)]
    user: Option<User>,
    /// The channel it was sent from (where `stats` posts its chart).
    #[serde(default)]
    channel_id: Option<String>,
}

impl std::fmt::Debug for Interaction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Interaction")
            .field("id", &self.id)
            .field("application_id", &self.application_id)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Deserialize)]
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
    /// Select menu: the values chosen (`null` on other components over the gateway).
    #[serde(default)]
    values: Option<Vec<String>>,
}

#[derive(Debug, Clone, Deserialize)]
struct CommandOption {
    name: String,
    #[serde(default)]
    value: Option<serde_json::Value>,
    #[serde(default)]
    options: Vec<CommandOption>,
    #[serde(default)]
    focused: bool,
}

#[derive(Debug, Clone, Deserialize)]
struct Member {
    user: User,
}

#[derive(Debug, Clone, Deserialize)]
struct User {
    id: String,
}

/// What to answer an interaction with.
#[derive(Debug)]
pub enum Outcome {
    /// This interaction response, as is (PONG, an ephemeral message, a modal, choices).
    Respond(serde_json::Value),
    /// Answer [`deferred`] now, then run `command` as `actor` and edit the original
    /// response with its answer ([`follow_up`]).
    Defer {
        /// Who asked.
        actor: Actor,
        /// What they asked for.
        command: Command,
    },
}

/// An interaction that cannot be answered: no user, no data. HTTP gets 400 with the reason.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Unanswerable(pub &'static str);

/// An ephemeral `CHANNEL_MESSAGE_WITH_SOURCE` response with `text` cut to Discord's 2,000.
pub fn private(text: &str) -> serde_json::Value {
    serde_json::json!({
        "type": RESPOND_MESSAGE,
        "data": {
            "content": crate::desk::query::truncate(text, crate::chat::discord::CONTENT_MAX),
            "flags": EPHEMERAL,
            "allowed_mentions": crate::chat::discord::allowed_mentions_json(&[]),
        }
    })
}

/// The ephemeral `DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE` response ("claimdesk is thinking…").
pub fn deferred() -> serde_json::Value {
    serde_json::json!({"type": RESPOND_DEFERRED, "data": {
        "flags": EPHEMERAL,
        "allowed_mentions": crate::chat::discord::allowed_mentions_json(&[]),
    }})
}

fn text_of(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn option_text(opts: &[CommandOption], name: &str) -> String {
    opts.iter()
        .find(|o| o.name == name)
        .and_then(|o| o.value.as_ref())
        .map(text_of)
        .unwrap_or_default()
}

/// A modal with one multi-line text input; its title names the ticket, its label the
/// recipient (the customer) or that the note is internal.
fn modal(custom_id: &str, title: &str, label: &str, placeholder: &str) -> serde_json::Value {
    modal_with_value(custom_id, title, label, placeholder, None)
}

/// Discord's limit on a text input's value (and so on a reply typed in the modal),
/// characters.
const TEXT_INPUT_MAX: usize = 4000;

/// As [`modal`], the text input prefilled with `value` (a template filled for the ticket),
/// which the agent sees and may edit before submitting.
fn modal_with_value(
    custom_id: &str,
    title: &str,
    label: &str,
    placeholder: &str,
    value: Option<&str>,
) -> serde_json::Value {
    let cut = |t: &str| crate::desk::query::truncate(t, MODAL_TITLE_MAX);
    let mut input = serde_json::json!({
        "type": 4, "custom_id": custom_id::TEXT_INPUT, "style": 2, "label": cut(label),
        "placeholder": placeholder, "required": true, "min_length": 1, "max_length": TEXT_INPUT_MAX
    });
    if let Some(v) = value {
        input["value"] = crate::desk::query::truncate(v, TEXT_INPUT_MAX).into();
    }
    serde_json::json!({
        "type": RESPOND_MODAL,
        "data": {
            "custom_id": custom_id,
            "title": cut(title),
            "components": [{"type": 1, "components": [input]}]
        }
    })
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

/// The reply modal for ticket `n`, naming the customer it goes to.
async fn reply_modal(desk: &Desk, n: &str) -> serde_json::Value {
    match desk.show(n).await {
        Ok(t) => modal(
            &format!("{}:{n}", custom_id::REPLY_MODAL),
            &format!("Reply on {n}"),
            &format!("To {}", t.summary.requester),
            "Sent by email to the customer when you submit.",
        ),
        Err(e) => private(&messages::error(&e)),
    }
}

/// The reply modal for ticket `n` filled from template `name` for `actor`: the recipient in
/// the label, the filled text in the input to edit before submitting (which sends it through
/// the normal reply). A refusal (no such template, listing them; a ticket that takes no reply
/// from `actor`) is a private answer instead.
async fn template_modal(desk: &Desk, actor: &Actor, n: &str, name: &str) -> serde_json::Value {
    match desk.template_draft(actor, n, name).await {
        Ok(d) => modal_with_value(
            &format!("{}:{}", custom_id::REPLY_MODAL, d.number),
            &format!("Reply on {}", d.number),
            &format!("To {}", d.to),
            "Sent by email to the customer when you submit.",
            Some(&d.text),
        ),
        Err(e) => private(&messages::error(&e)),
    }
}

/// Discord's limit on a string select's options.
const SELECT_OPTIONS_MAX: usize = 25;
/// Discord's limit on a select option's label and description, characters.
const OPTION_TEXT_MAX: usize = 100;

/// What Reply opens on ticket `n`: with templates, a private message naming the recipient
/// with a select of templates (each opens the reply modal filled from it) and a button for
/// a blank reply; without, the reply modal at once. Discord's modals may hold a string
/// select (in a label), but a modal sends nothing until it is submitted, so choosing a
/// template there could not fill the text the agent is about to edit: the choice comes
/// first, then the modal.
async fn reply_form(desk: &Desk, n: &str) -> serde_json::Value {
    let templates = match desk.templates().await {
        Ok(t) => t,
        Err(e) => return private(&messages::error(&e)),
    };
    if templates.is_empty() {
        return reply_modal(desk, n).await;
    }
    let t = match desk.show(n).await {
        Ok(t) => t,
        Err(e) => return private(&messages::error(&e)),
    };
    let number = t.summary.number.clone();
    let cut = |x: &str| crate::desk::query::truncate(x, OPTION_TEXT_MAX);
    let options: Vec<serde_json::Value> = templates
        .iter()
        .take(SELECT_OPTIONS_MAX)
        .map(|e| {
            let one_line = e.body.split_whitespace().collect::<Vec<_>>().join(" ");
            serde_json::json!({"label": cut(&format!("/{}", e.name)), "value": e.name, "description": cut(&one_line)})
        })
        .collect();
    let more = templates.len().saturating_sub(SELECT_OPTIONS_MAX);
    let words = messages::templates::discord_picker(&number, &t.summary.requester, more);
    serde_json::json!({
        "type": RESPOND_MESSAGE,
        "data": {
            "content": crate::desk::query::truncate(&words, crate::chat::discord::CONTENT_MAX),
            "flags": EPHEMERAL,
            "allowed_mentions": crate::chat::discord::allowed_mentions_json(&[]),
            "components": [
                {"type": 1, "components": [{
                    "type": 3, "custom_id": format!("{}:{number}", custom_id::REPLY_TEMPLATE),
                    "placeholder": messages::templates::DISCORD_PICKER_PLACEHOLDER,
                    "min_values": 1, "max_values": 1, "options": options
                }]},
                {"type": 1, "components": [{
                    "type": 2, "style": 2, "label": messages::templates::DISCORD_WRITE_OWN,
                    "custom_id": format!("{}:{number}", custom_id::REPLY_BLANK)
                }]}
            ]
        }
    })
}

fn note_modal(n: &str) -> serde_json::Value {
    modal(
        &format!("{}:{n}", custom_id::NOTE_MODAL),
        &format!("Internal note on {n}"),
        "Internal note (never sent)",
        "Only the team sees this.",
    )
}

/// The command a slash command asks for, or a response to give at once (a modal for
/// `/reply` and `/note` without text, a usage answer). The catalogue names the command's
/// arguments: `/agent` carries its subcommand (and `/desk`, if registered by hand, its
/// command) as a nested option; each typed option is read back as the catalogue's argument,
/// an agent (a Discord user) turned into that agent's handle.
async fn command_of(desk: &Desk, data: &Data) -> Result<Command, serde_json::Value> {
    let mut name = data.name.as_deref().unwrap_or("");
    let mut opts = data.options.as_slice();
    if let ("desk", Some(sub)) = (name, opts.first()) {
        (name, opts) = (sub.name.as_str(), sub.options.as_slice());
    }
    let specs = catalogue::named(name);
    let spec = match specs.as_slice() {
        [] => return Err(private(&messages::unknown_command(name))),
        [one] if one.sub.is_none() => *one,
        several => {
            let Some(sub) = opts.first() else {
                return Err(private(
                    &catalogue::find(name, "")
                        .err()
                        .map(|u| u.0)
                        .unwrap_or_default(),
                ));
            };
            match several.iter().find(|s| s.sub == Some(sub.name.as_str())) {
                Some(s) => {
                    opts = sub.options.as_slice();
                    *s
                }
                None => return Err(private(&messages::unknown_command(name))),
            }
        }
    };
    let ticket = option_text(opts, "ticket");
    if let Some(form) = spec.form {
        if option_text(opts, "text").trim().is_empty() && !ticket.trim().is_empty() {
            return Err(match form {
                catalogue::Form::Reply => reply_form(desk, ticket.trim()).await,
                catalogue::Form::Note => note_modal(ticket.trim()),
            });
        }
    }
    let mut values = std::collections::HashMap::new();
    for a in spec.args {
        let v = option_text(opts, a.name);
        if v.is_empty() {
            continue;
        }
        let v = match a.kind {
            catalogue::ArgKind::Departments => v.split_whitespace().collect::<String>(),
            kind if kind.is_one_word() && v.trim().contains(char::is_whitespace) => {
                return Err(private(&messages::one_word_option(a.name)));
            }
            _ => v,
        };
        let v = if a.kind == catalogue::ArgKind::Agent {
            match desk.agent(Identity::Discord(&v)).await {
                Ok(agent) => agent.handle,
                // A handle typed as text still works.
                Err(crate::desk::DeskError::NotAMember) => v,
                Err(e) => return Err(private(&messages::error(&e))),
            }
        } else {
            v
        };
        values.insert(a.name, v);
    }
    let line = catalogue::line_from_options(spec, |a| values.get(a.name).cloned());
    spec.parse_args(&line).map_err(|u| private(&u.0))
}

/// Up to [`AUTOCOMPLETE_MAX`] open tickets whose number (or its serial part, `0012`) starts
/// with what was typed in the focused option, most recent first, as a type 8 response.
async fn autocomplete(desk: &Desk, data: &Data) -> serde_json::Value {
    fn focused(opts: &[CommandOption]) -> Option<&CommandOption> {
        opts.iter().find_map(|o| {
            if o.focused {
                Some(o)
            } else {
                focused(&o.options)
            }
        })
    }
    let typed = focused(&data.options)
        .and_then(|o| o.value.as_ref())
        .map(text_of)
        .unwrap_or_default()
        .trim()
        .to_ascii_uppercase();
    let choices: Vec<serde_json::Value> = match desk.list().await {
        Ok(all) => all
            .into_iter()
            .rev()
            .filter(|t| !t.status.parse::<Status>().is_ok_and(Status::is_done))
            .filter(|t| {
                let serial = t.number.rsplit('-').next().unwrap_or("");
                t.number.to_ascii_uppercase().starts_with(&typed) || serial.starts_with(&typed)
            })
            .take(AUTOCOMPLETE_MAX)
            .map(|t| {
                serde_json::json!({
                    "name": crate::desk::query::truncate(&format!("{} · {}", t.number, t.subject), CHOICE_NAME_MAX),
                    "value": t.number,
                })
            })
            .collect(),
        Err(e) => {
            tracing::error!(error = %e, "autocomplete: listing tickets");
            Vec::new()
        }
    };
    serde_json::json!({"type": RESPOND_AUTOCOMPLETE, "data": {"choices": choices}})
}

/// Decides the answer to one interaction, whichever way it arrived (HTTP or gateway).
///
/// Errors: [`Unanswerable`] when it names no user or carries no data. Everything else,
/// including strangers, unknown buttons and bad input, gets a clear private answer.
pub async fn handle(desk: &Desk, i: Interaction) -> Result<Outcome, Unanswerable> {
    if i.kind == kind::PING {
        return Ok(Outcome::Respond(serde_json::json!({"type": 1})));
    }
    let Some(user_id) = i.member.map(|m| m.user.id).or(i.user.map(|u| u.id)) else {
        return Err(Unanswerable("interaction without a user"));
    };
    let Some(data) = i.data else {
        return Err(Unanswerable("interaction without data"));
    };
    // Only members of the desk get anything, even a form or a list of tickets.
    let agent = match desk.agent(Identity::Discord(&user_id)).await {
        Ok(a) => a,
        Err(e) if i.kind == kind::APPLICATION_COMMAND_AUTOCOMPLETE => {
            tracing::debug!(error = %e, "autocomplete for a stranger");
            return Ok(Outcome::Respond(
                serde_json::json!({"type": RESPOND_AUTOCOMPLETE, "data": {"choices": []}}),
            ));
        }
        Err(e) => return Ok(Outcome::Respond(private(&messages::error(&e)))),
    };
    let cmd = match i.kind {
        kind::APPLICATION_COMMAND => match command_of(desk, &data).await {
            Ok(c) => c,
            Err(response) => return Ok(Outcome::Respond(response)),
        },
        kind::APPLICATION_COMMAND_AUTOCOMPLETE => {
            return Ok(Outcome::Respond(autocomplete(desk, &data).await));
        }
        kind::MESSAGE_COMPONENT => {
            let id = data.custom_id.as_deref().unwrap_or("");
            // The reply picker: a template chosen, or a blank reply.
            match id.split_once(':') {
                Some((custom_id::REPLY_TEMPLATE, n)) => {
                    let actor = Actor {
                        agent,
                        surface: Surface::Discord,
                    };
                    let chosen = data.values.as_deref().and_then(|v| v.first());
                    return Ok(Outcome::Respond(match chosen {
                        Some(name) => template_modal(desk, &actor, n, name).await,
                        None => private(&messages::templates::unknown("", &[])),
                    }));
                }
                Some((custom_id::REPLY_BLANK, n)) => {
                    return Ok(Outcome::Respond(reply_modal(desk, n).await))
                }
                _ => {}
            }
            // A card button's custom id is `{action}:{ticket}`; the action is its command.
            let Some((action, n)) = id
                .split_once(':')
                .and_then(|(a, n)| Some((CardAction::from_name(a)?, n)))
            else {
                return Ok(Outcome::Respond(private(&format!(
                    "Unknown button `{id}`."
                ))));
            };
            // Name the recipient before anything can be sent.
            match catalogue::form_request(action.name(), n) {
                Some((catalogue::Form::Reply, n)) => {
                    return Ok(Outcome::Respond(reply_form(desk, &n).await))
                }
                Some((catalogue::Form::Note, n)) => return Ok(Outcome::Respond(note_modal(&n))),
                None => match catalogue::parse(action.name(), n) {
                    Ok(cmd) => cmd,
                    Err(usage) => return Ok(Outcome::Respond(private(&usage.0))),
                },
            }
        }
        kind::MODAL_SUBMIT => {
            let id = data.custom_id.as_deref().unwrap_or("");
            let text = typed_text(&data.components);
            match id.split_once(':') {
                Some((custom_id::REPLY_MODAL, n)) => Command::Reply(n.to_string(), text),
                Some((custom_id::NOTE_MODAL, n)) => Command::Note(n.to_string(), text),
                _ => return Ok(Outcome::Respond(private(&format!("Unknown form `{id}`.")))),
            }
        }
        _ => return Ok(Outcome::Respond(private(messages::USAGE))),
    };
    let actor = Actor {
        agent,
        surface: Surface::Discord,
    };
    // `/reply ticket:… text:/<template>`: the reply modal, filled, to edit and send.
    if let Command::ReplyTemplate(n, name) = &cmd {
        return Ok(Outcome::Respond(
            template_modal(desk, &actor, n, name).await,
        ));
    }
    let cmd = match &i.channel_id {
        Some(c) => cmd.in_channel(c),
        None => cmd,
    };
    if catalogue::is_slow(&cmd) {
        return Ok(Outcome::Defer {
            actor,
            command: cmd,
        });
    }
    Ok(Outcome::Respond(private(
        &commands::execute(desk, &actor, cmd).await,
    )))
}

/// Runs a deferred command and replaces the deferred response with its answer:
/// `PATCH /webhooks/{application_id}/{token}/messages/@original`
/// (<https://discord.com/developers/docs/interactions/receiving-and-responding#edit-original-interaction-response>).
///
/// Errors: a bad application ID, or the edit failing (logged by the caller).
pub async fn follow_up(
    desk: &Desk,
    client: &DiscordChat,
    application_id: &str,
    token: &str,
    actor: &Actor,
    command: Command,
) -> Result<(), crate::chat::ChatError> {
    let text = commands::execute(desk, actor, command).await;
    client.edit_original(application_id, token, &text).await
}

/// Answers `i` as `outcome` says through the interaction callback
/// (`POST /interactions/{id}/{token}/callback`), as the gateway must, then runs a deferred
/// command's follow-up.
///
/// Errors: the interaction has no id or token, or a call fails.
pub async fn answer_by_callback(
    desk: &Desk,
    client: &DiscordChat,
    i_id: &str,
    application_id: &str,
    token: &str,
    outcome: Outcome,
) -> Result<(), crate::chat::ChatError> {
    match outcome {
        Outcome::Respond(r) => client.interaction_callback(i_id, token, &r).await,
        Outcome::Defer { actor, command } => {
            client
                .interaction_callback(i_id, token, &deferred())
                .await?;
            follow_up(desk, client, application_id, token, &actor, command).await
        }
    }
}

/// `POST /discord/interactions`.
pub async fn interactions(State(s): State<WebState>, headers: HeaderMap, body: Bytes) -> Response {
    let Some(inbound) = s.discord.as_ref() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    if let Err(why) = inbound.verify(&headers, &body, chrono::Utc::now().timestamp()) {
        tracing::warn!(reason = %why, "rejected Discord interaction");
        return (StatusCode::UNAUTHORIZED, "invalid request signature").into_response();
    }
    let i: Interaction = match serde_json::from_slice(&body) {
        Ok(i) => i,
        Err(e) => {
            tracing::warn!(error = %e, "unreadable Discord interaction");
            return (StatusCode::BAD_REQUEST, "unreadable interaction").into_response();
        }
    };
    // A replay of a request already handled (same signed body): refused like a bad
    // signature, with no effect.
    match first_time(&s.desk, i.id.as_deref()).await {
        Ok(true) => {}
        Ok(false) => {
            tracing::warn!(id = ?i.id, "rejected replayed Discord interaction");
            return (StatusCode::UNAUTHORIZED, "interaction already handled").into_response();
        }
        Err(why) if why.starts_with("database") => {
            tracing::error!(reason = %why, "cannot record a Discord interaction");
            return StatusCode::SERVICE_UNAVAILABLE.into_response();
        }
        Err(why) => {
            tracing::warn!(reason = %why, "rejected Discord interaction");
            return (StatusCode::BAD_REQUEST, "interaction without an id").into_response();
        }
    }
    let (app_id, token) = (i.application_id.clone(), i.token.clone());
    match handle(&s.desk, i).await {
        Ok(Outcome::Respond(r)) => Json(r).into_response(),
        Ok(Outcome::Defer { actor, command }) => {
            match (inbound.client.clone(), app_id, token) {
                (Some(client), Some(app_id), Some(token)) => {
                    let desk = s.desk.clone();
                    tokio::spawn(async move {
                        if let Err(e) =
                            follow_up(&desk, &client, &app_id, &token, &actor, command).await
                        {
                            tracing::error!(error = %e, "editing a deferred Discord answer");
                        }
                    });
                    Json(deferred()).into_response()
                }
                // No way to edit a deferred answer: answer now.
                _ => Json(private(&commands::execute(&s.desk, &actor, command).await))
                    .into_response(),
            }
        }
        Err(e) => (StatusCode::BAD_REQUEST, e.0).into_response(),
    }
}
