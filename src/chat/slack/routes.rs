//! Slack inbound: slash commands (`/claim`, `/unclaim`, `/reply`, `/desk …`), interactivity
//! (`block_actions` from the card's buttons, `view_submission` from the reply and note
//! modals) and the Events API.
//!
//! Two transports feed the same handlers: HTTP (`POST /slack/commands`, `/slack/interactions`,
//! `/slack/events`; every request's `X-Slack-Signature` is checked, HMAC-SHA256 "v0",
//! <https://api.slack.com/authentication/verifying-requests-from-slack>, and a timestamp more
//! than 5 minutes from now is refused, both with 401) and Socket Mode (`super::socket`).
//! The parsed payload goes to [`on_command`], [`on_interaction`] or [`on_event`]; those run
//! the `crate::desk` use cases.
//!
//! Slack wants an acknowledgement within 3 s. No handler awaits a platform call before it
//! answers: the desk work (database only) gets [`ACK_BUDGET`]; what does not finish in time
//! goes on and answers later by `chat.postEphemeral` through the outbox. Modals are opened by
//! a detached `views.open` task (a trigger expires 3 s after Slack sent it).

use std::future::Future;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::Sha256;

use crate::chat::catalogue;
use crate::chat::commands::{self, Command};
use crate::chat::slack::{
    is_text_block, modal_with_templates, ModalKind, ModalTarget, ModalTemplates, SlackChat,
    MODAL_ACTION, MODAL_BLOCK, TEMPLATE_ACTION,
};
use crate::desk::messages;
use crate::desk::{Actor, Desk, DeskError, Surface};
use crate::domain::actions::CardAction;
use crate::store::agents::Identity;

use crate::web::WebState;

/// Oldest (or furthest in the future) request timestamp accepted, seconds.
pub const MAX_SKEW_SECS: i64 = 300;

/// Verifies Slack's request signatures.
///
/// slack-morphism's own verifier reads the wall clock itself, so it cannot be checked
/// against Slack's documented (2018) example; this one takes `now` as an argument and uses
/// the `hmac` crate's constant-time comparison.
///
/// It also holds the Web API client the handlers open modals with (`views.open`).
pub struct SlackInbound {
    secret: Option<SecretString>,
    chat: Option<SlackChat>,
    origin: Origin,
}

impl SlackInbound {
    /// A verifier for `signing_secret`.
    pub fn new(signing_secret: &SecretString) -> SlackInbound {
        SlackInbound {
            secret: Some(signing_secret.clone()),
            chat: None,
            origin: Origin::default(),
        }
    }

    /// Slack reached only over Socket Mode, without a signing secret: every HTTP request is
    /// refused with 401.
    pub fn socket_only() -> SlackInbound {
        SlackInbound {
            secret: None,
            chat: None,
            origin: Origin::default(),
        }
    }

    /// The same, opening modals through `chat`.
    pub fn with_chat(mut self, chat: SlackChat) -> SlackInbound {
        self.chat = Some(chat);
        self
    }

    /// The same, refusing requests from another workspace or app than `origin` says.
    pub fn with_origin(mut self, origin: Origin) -> SlackInbound {
        self.origin = origin;
        self
    }

    /// The workspace and app requests must come from.
    pub fn origin(&self) -> &Origin {
        &self.origin
    }

    /// The Web API client, when one is configured.
    pub fn chat(&self) -> Option<&SlackChat> {
        self.chat.as_ref()
    }

    /// Checks `X-Slack-Signature` (`v0=` + hex HMAC-SHA256 of `v0:{timestamp}:{body}`) and
    /// that `X-Slack-Request-Timestamp` is within [`MAX_SKEW_SECS`] of `now` (Unix seconds).
    /// Errors name what was wrong, for the log.
    pub fn verify(&self, headers: &HeaderMap, body: &str, now: i64) -> Result<(), String> {
        let Some(secret) = self.secret.as_ref() else {
            return Err("no signing secret configured (Socket Mode only)".into());
        };
        let get = |h: &str| {
            headers
                .get(h)
                .and_then(|v| v.to_str().ok())
                .ok_or(format!("missing {h}"))
        };
        let sig = get("x-slack-signature")?;
        let ts = get("x-slack-request-timestamp")?;
        check_skew(ts, now, MAX_SKEW_SECS.unsigned_abs())?;
        let hex_sig = sig.strip_prefix("v0=").ok_or("signature is not v0")?;
        let expected = hex::decode(hex_sig).map_err(|_| "signature is not hex".to_string())?;
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.expose_secret().as_bytes())
            .map_err(|e| format!("bad secret: {e}"))?;
        mac.update(format!("v0:{ts}:").as_bytes());
        mac.update(body.as_bytes());
        mac.verify_slice(&expected)
            .map_err(|_| "signature mismatch".to_string())
    }
}

/// Checks that `ts` (decimal Unix seconds, as in `X-Slack-Request-Timestamp` and Discord's
/// `X-Signature-Timestamp`) is within `max_secs` of `now`, either way. Any text is safe:
/// values that do not fit an `i64` are refused as unreadable and the distance is computed
/// with `abs_diff`, so nothing overflows.
///
/// Errors: the reason, for the log.
pub fn check_skew(ts: &str, now: i64, max_secs: u64) -> Result<(), String> {
    let t: i64 = ts
        .trim()
        .parse()
        .map_err(|_| "unreadable timestamp".to_string())?;
    let off = now.abs_diff(t);
    if off > max_secs {
        return Err(format!("stale timestamp ({off}s off)"));
    }
    Ok(())
}

/// The workspace and app requests must come from (`slack.team_id`, `slack.api_app_id`);
/// `None` leaves that one unchecked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Origin {
    /// Expected `team_id` (`T…`).
    pub team_id: Option<String>,
    /// Expected `api_app_id` (`A…`).
    pub api_app_id: Option<String>,
}

impl Origin {
    /// Checks a request's `team` and `app` against the configured ones. For each, `None`
    /// means the transport does not carry the field (slack-morphism's Socket Mode models
    /// leave `api_app_id` out of commands and view submissions; the connection is the app's
    /// own); `Some("")` means the request lacks it, which is refused when one is configured.
    ///
    /// Errors: which one differs, for the log.
    pub fn check(&self, team: Option<&str>, app: Option<&str>) -> Result<(), String> {
        if let (Some(want), Some(got)) = (&self.team_id, team) {
            if want != got {
                return Err(format!("request from workspace `{got}`, not `{want}`"));
            }
        }
        if let (Some(want), Some(got)) = (&self.api_app_id, app) {
            if want != got {
                return Err(format!("request for app `{got}`, not `{want}`"));
            }
        }
        Ok(())
    }
}

/// The `team_id` and `api_app_id` of an interaction payload
/// (<https://api.slack.com/reference/interaction-payloads>): `team.id` (else `user.team_id`)
/// and `api_app_id`; missing ones are `""`.
pub fn payload_origin(p: &Value) -> (&str, &str) {
    let team = p
        .pointer("/team/id")
        .or_else(|| p.pointer("/user/team_id"))
        .and_then(Value::as_str)
        .unwrap_or("");
    let app = p.get("api_app_id").and_then(Value::as_str).unwrap_or("");
    (team, app)
}

/// How long a handler works before it acknowledges anyway, leaving Slack's 3 s limit a
/// second for the network. Work still running then answers later through the outbox.
pub const ACK_BUDGET: Duration = Duration::from_millis(2000);

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// The request body as text when Slack is active and the signature and timestamp check out;
/// otherwise the status to answer (404 when Slack is off, 401 for a bad request, logged).
fn verified<'b>(s: &WebState, headers: &HeaderMap, body: &'b Bytes) -> Result<&'b str, StatusCode> {
    let Some(inbound) = s.slack.as_ref() else {
        return Err(StatusCode::NOT_FOUND);
    };
    let refuse = |why: &str| {
        tracing::warn!(reason = why, "rejected Slack request");
        StatusCode::UNAUTHORIZED
    };
    let text = std::str::from_utf8(body).map_err(|_| refuse("body is not UTF-8"))?;
    inbound
        .verify(headers, text, now())
        .map_err(|why| refuse(&why))?;
    Ok(text)
}

/// Runs `work` in its own task and waits for it at most [`ACK_BUDGET`]. Returns its output
/// when it finished in time; otherwise `None`, and the output, when it comes, goes to `late`
/// (which answers through the outbox). Nothing is cancelled: the work always completes.
pub async fn within_ack<T, W, L, LF>(work: W, late: L) -> Option<T>
where
    T: Send + 'static,
    W: Future<Output = T> + Send + 'static,
    L: FnOnce(T) -> LF + Send + 'static,
    LF: Future<Output = ()> + Send + 'static,
{
    let (tx, rx) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let out = work.await;
        if let Err(out) = tx.send(out) {
            late(out).await;
        }
    });
    match tokio::time::timeout(ACK_BUDGET, rx).await {
        Ok(Ok(out)) => Some(out),
        Ok(Err(_)) => None,
        Err(_) => {
            tracing::warn!(budget = ?ACK_BUDGET, "Slack request acknowledged before its work finished; the answer follows through the outbox");
            None
        }
    }
}

/// Queues a private answer to `user` in `channel` (`chat.postEphemeral` through the outbox).
async fn tell_later(desk: &Desk, channel: &str, user: &str, text: &str) {
    if let Err(e) = desk.queue_ephemeral("slack", channel, user, text).await {
        tracing::error!(error = %e, "cannot queue ephemeral answer");
    }
}

/// A slash command as either transport delivers it (HTTP form fields or the Socket Mode
/// `slash_commands` payload; <https://api.slack.com/interactivity/slash-commands>).
/// `Debug` leaves out the `trigger_id` and the typed text.
#[derive(Clone, Default)]
pub struct SlashCommand {
    /// `/claim`, `/desk`, …
    pub command: String,
    /// Everything typed after the command.
    pub text: String,
    /// Who typed it (`U…`).
    pub user_id: String,
    /// Where (`C…`).
    pub channel_id: String,
    /// For opening a modal, valid 3 s.
    pub trigger_id: Option<String>,
}

impl std::fmt::Debug for SlashCommand {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlashCommand")
            .field("command", &self.command)
            .field("user_id", &self.user_id)
            .field("channel_id", &self.channel_id)
            .finish_non_exhaustive()
    }
}

/// `reply <ticket>` / `note <ticket>` (also after `/desk`) with no text: the modal form
/// (the catalogue says which commands have one).
fn modal_request(command: &str, text: &str) -> Option<(ModalKind, String)> {
    catalogue::form_request(command, text).map(|(form, ticket)| (modal_kind(form), ticket))
}

/// The Slack modal of a catalogue form.
fn modal_kind(form: catalogue::Form) -> ModalKind {
    match form {
        catalogue::Form::Reply => ModalKind::Reply,
        catalogue::Form::Note => ModalKind::Note,
    }
}

/// Runs a slash command as the agent behind `c.user_id` and returns the private answer;
/// `None` means "acknowledge with no message" (a modal is opening). Never awaits Slack.
pub async fn on_command(s: &WebState, c: SlashCommand) -> Option<String> {
    let desk = s.desk.clone();
    let chat = s.slack.as_ref().and_then(|i| i.chat().cloned());
    let (channel, user) = (c.channel_id.clone(), c.user_id.clone());
    let late_desk = desk.clone();
    let work = async move {
        let agent = match desk.agent(Identity::Slack(&c.user_id)).await {
            Ok(a) => a,
            Err(e) => return Some(messages::error(&e)),
        };
        let actor = Actor {
            agent,
            surface: Surface::Slack,
        };
        let parsed = commands::parse(&c.command, &c.text);
        // `reply <ticket>` (a form) or `reply <ticket> /<template>` (the form, prefilled).
        let form = modal_request(&c.command, &c.text)
            .map(|(k, t)| (k, t, None))
            .or_else(|| match &parsed {
                Ok(Command::ReplyTemplate(t, name)) => {
                    Some((ModalKind::Reply, t.clone(), Some(name.clone())))
                }
                _ => None,
            });
        if let (Some((kind, ticket, template)), Some(trigger), Some(chat)) =
            (form, c.trigger_id.clone(), chat)
        {
            let at = Opener {
                trigger: &trigger,
                channel: &c.channel_id,
                user: &c.user_id,
            };
            return match open_modal(&desk, chat, &actor, kind, &ticket, template.as_deref(), at)
                .await
            {
                Ok(()) => None,
                Err(e) => Some(messages::error(&e)),
            };
        }
        Some(match parsed {
            Ok(cmd) => commands::execute(&desk, &actor, cmd.in_channel(&c.channel_id)).await,
            Err(usage) => usage.0,
        })
    };
    let late = move |answer: Option<String>| async move {
        if let Some(text) = answer {
            tell_later(&late_desk, &channel, &user, &text).await;
        }
    };
    match within_ack(work, late).await {
        Some(answer) => answer,
        None => Some("Working on it — the answer follows here in a moment.".into()),
    }
}

/// Where a modal is opened from: the interaction's trigger, the channel and the user.
#[derive(Clone, Copy)]
struct Opener<'a> {
    trigger: &'a str,
    channel: &'a str,
    user: &'a str,
}

/// Looks up ticket `typed` and starts `views.open` with the `kind` modal in a detached task
/// (so the caller's acknowledgement never waits for Slack). A reply modal offers the
/// templates in a picker; with `template`, it opens filled from that template for `actor`
/// (the text and the recipient shown, to edit before sending). If Slack refuses, the opener
/// is told privately through the outbox how to use the command instead.
///
/// Errors: the ticket lookup's ([`DeskError::BadTicketNumber`], [`DeskError::NoSuchTicket`]),
/// and for `template` those of [`Desk::template_draft`] (no such template, listing them; a
/// ticket that takes no reply from `actor`).
async fn open_modal(
    desk: &Desk,
    chat: SlackChat,
    actor: &Actor,
    kind: ModalKind,
    typed: &str,
    template: Option<&str>,
    at: Opener<'_>,
) -> Result<(), DeskError> {
    let t = desk.show(typed).await?;
    if let Some(into) = t.summary.merged_into.clone() {
        return Err(DeskError::Merged {
            number: t.summary.number,
            into,
        });
    }
    let mut templates = ModalTemplates::default();
    if kind == ModalKind::Reply {
        templates.names = desk
            .templates()
            .await?
            .into_iter()
            .map(|e| e.name)
            .collect();
        if let Some(name) = template {
            let d = desk.template_draft(actor, &t.summary.number, name).await?;
            templates.chosen = Some((d.template, d.text));
        }
    }
    let target = ModalTarget {
        number: t.summary.number.clone(),
        to: t.summary.requester.clone(),
        subject: t.summary.subject.clone(),
        channel: at.channel.to_string(),
    };
    let (desk, trigger, channel, user) = (
        desk.clone(),
        at.trigger.to_string(),
        at.channel.to_string(),
        at.user.to_string(),
    );
    tokio::spawn(async move {
        let view = modal_with_templates(kind, &target, &templates);
        if let Err(e) = chat.open_view(&trigger, view).await {
            tracing::warn!(error = %e, ticket = %target.number, "views.open failed");
            let how = match kind {
                ModalKind::Reply => format!("/desk reply {} <text>", target.number),
                ModalKind::Note => format!("/desk note {} <text>", target.number),
            };
            let text = format!("Slack did not open the form; type `{how}` instead.");
            tell_later(&desk, &channel, &user, &text).await;
        }
    });
    Ok(())
}

/// A template picked in an open reply modal (`block_actions` from the [`TEMPLATE_ACTION`]
/// select, `container.type` `view`): the modal is replaced (`views.update`, with the view's
/// `hash`) by the same modal with the text filled from that template for the picker, to edit
/// before sending. A refusal (the ticket no longer takes their reply, the template is gone)
/// is told privately; the modal stays as it was.
async fn template_picked(
    desk: &Desk,
    chat: Option<&SlackChat>,
    p: &Value,
    user: &str,
    channel: &str,
) {
    let picked = p
        .get("actions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .find(|a| a.get("action_id").and_then(Value::as_str) == Some(TEMPLATE_ACTION))
        .and_then(|a| a.pointer("/selected_option/value"))
        .and_then(Value::as_str);
    let view_id = p.pointer("/view/id").and_then(Value::as_str);
    let hash = p.pointer("/view/hash").and_then(Value::as_str);
    let meta: Option<ModalMeta> = p
        .pointer("/view/private_metadata")
        .and_then(Value::as_str)
        .and_then(|m| serde_json::from_str(m).ok());
    let (Some(name), Some(view_id), Some(meta), Some(chat)) = (picked, view_id, meta, chat) else {
        tracing::debug!("template pick without a selection, view or client; ignored");
        return;
    };
    // Where to tell the agent privately: the channel the modal was opened from.
    let tell_to = if meta.channel.is_empty() {
        channel
    } else {
        meta.channel.as_str()
    };
    let agent = match desk.agent(Identity::Slack(user)).await {
        Ok(a) => a,
        Err(e) => return tell_later(desk, tell_to, user, &messages::error(&e)).await,
    };
    let actor = Actor {
        agent,
        surface: Surface::Slack,
    };
    let filled = async {
        let d = desk.template_draft(&actor, &meta.ticket, name).await?;
        let names: Vec<String> = desk
            .templates()
            .await?
            .into_iter()
            .map(|e| e.name)
            .collect();
        Ok::<_, DeskError>((d, names))
    };
    match filled.await {
        Ok((d, names)) => {
            let target = ModalTarget {
                number: d.number.clone(),
                to: d.to.clone(),
                subject: d.subject.clone(),
                channel: meta.channel.clone(),
            };
            let view = modal_with_templates(
                ModalKind::Reply,
                &target,
                &ModalTemplates {
                    names,
                    chosen: Some((d.template, d.text)),
                },
            );
            if let Err(e) = chat.update_view(view_id, hash, view).await {
                tracing::warn!(error = %e, ticket = %d.number, "views.update failed");
                let text = format!(
                    "Slack did not fill the form; type `/desk reply {} /{name}` instead.",
                    d.number
                );
                tell_later(desk, tell_to, user, &text).await;
            }
        }
        Err(e) => tell_later(desk, tell_to, user, &messages::error(&e)).await,
    }
}

#[derive(Debug, Deserialize)]
struct IdOnly {
    id: String,
}

#[derive(Debug, Deserialize)]
struct ActionPayload {
    #[serde(default)]
    action_id: String,
    #[serde(default)]
    value: Option<String>,
}

/// `private_metadata` of claimdesk's modals.
#[derive(Debug, Deserialize)]
struct ModalMeta {
    ticket: String,
    #[serde(default)]
    channel: String,
}

/// Handles an interaction payload (<https://api.slack.com/reference/interaction-payloads>)
/// and returns the body to acknowledge with: `None` for an empty 200, or a
/// `view_submission` answer (`{"response_action":"errors","errors":{"body":"…"}}`).
///
/// - `block_actions` from the card: each button (`domain::actions::CardAction`) is its
///   catalogue command, run by `commands::run` at once (refusals reach the clicker by
///   `chat.postEphemeral`, changes show as card edits); Reply and Note open a modal.
/// - `view_submission` of a claimdesk modal: the reply or note command, run the same way; a
///   refusal is shown on the text field, success closes the modal and confirms privately.
/// - Every other type, and views claimdesk did not open: acknowledged, nothing done.
pub async fn on_interaction(s: &WebState, payload: Value) -> Option<Value> {
    match payload.get("type").and_then(Value::as_str) {
        Some("block_actions") => {
            let desk = s.desk.clone();
            let chat = s.slack.as_ref().and_then(|i| i.chat().cloned());
            within_ack(block_actions(desk, chat, payload), |()| async {}).await;
            None
        }
        Some("view_submission") => view_submission(s, payload).await,
        other => {
            tracing::debug!(kind = ?other, "Slack interaction ignored");
            None
        }
    }
}

async fn block_actions(desk: Desk, chat: Option<SlackChat>, p: Value) {
    let user = p
        .get("user")
        .cloned()
        .and_then(|u| serde_json::from_value::<IdOnly>(u).ok());
    let channel = p
        .get("channel")
        .cloned()
        .and_then(|c| serde_json::from_value::<IdOnly>(c).ok())
        .or_else(|| {
            p.pointer("/container/channel_id")
                .and_then(Value::as_str)
                .map(|id| IdOnly { id: id.to_string() })
        });
    // The template picker of an open reply modal (a view has no channel): fill the modal.
    let picks_template = p.get("view").is_some()
        && p.get("actions")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .any(|a| a.get("action_id").and_then(Value::as_str) == Some(TEMPLATE_ACTION));
    if let (true, Some(user)) = (picks_template, &user) {
        let channel = channel.map(|c| c.id).unwrap_or_default();
        template_picked(&desk, chat.as_ref(), &p, &user.id, &channel).await;
        return;
    }
    let (Some(user), Some(channel)) = (user, channel) else {
        return;
    };
    let trigger = p
        .get("trigger_id")
        .and_then(Value::as_str)
        .map(str::to_string);
    let actions: Vec<ActionPayload> = p
        .get("actions")
        .cloned()
        .and_then(|a| serde_json::from_value(a).ok())
        .unwrap_or_default();
    for a in actions {
        // A claimdesk button's action ID is the card action's name, its value the ticket.
        let (Some(card_action), Some(number)) =
            (CardAction::from_name(&a.action_id), a.value.as_deref())
        else {
            tracing::debug!(action_id = %a.action_id, "Slack action not from a claimdesk card; ignored");
            continue;
        };
        let answer = match desk.agent(Identity::Slack(&user.id)).await {
            Err(e) => Some(messages::error(&e)),
            Ok(agent) => {
                let actor = Actor {
                    agent,
                    surface: Surface::Slack,
                };
                let form = catalogue::form_request(card_action.name(), number);
                match (form, &trigger, &chat) {
                    (Some((form, _)), Some(trigger), Some(chat)) => open_modal(
                        &desk,
                        chat.clone(),
                        &actor,
                        modal_kind(form),
                        number,
                        None,
                        Opener {
                            trigger,
                            channel: &channel.id,
                            user: &user.id,
                        },
                    )
                    .await
                    .err()
                    .map(|e| messages::error(&e)),
                    (Some(_), _, _) => Some(messages::error(&DeskError::BadInput(
                        "This button needs a Slack trigger to open its form; use /desk reply or /desk note.".into(),
                    ))),
                    // Every other button is its command, run by the one executor; only a
                    // refusal is told (a change shows as the card's edit).
                    (None, _, _) => match catalogue::parse(card_action.name(), number) {
                        Ok(cmd) => commands::run(&desk, &actor, cmd).await.err(),
                        Err(usage) => Some(usage.0),
                    },
                }
            }
        };
        if let Some(text) = answer {
            tell_later(&desk, &channel.id, &user.id, &text).await;
        }
    }
}

/// The `view_submission` answer that shows `text` under the modal's input.
fn field_error(text: &str) -> Value {
    field_error_on(MODAL_BLOCK, text)
}

/// The `view_submission` answer that shows `text` under input block `block_id`.
fn field_error_on(block_id: &str, text: &str) -> Value {
    json!({"response_action": "errors", "errors": {block_id: text}})
}

async fn view_submission(s: &WebState, p: Value) -> Option<Value> {
    let callback = p.pointer("/view/callback_id").and_then(Value::as_str)?;
    let Some(kind) = ModalKind::from_callback_id(callback) else {
        tracing::debug!(
            callback,
            "view_submission of a view claimdesk did not open; ignored"
        );
        return None;
    };
    let Some(user) = p
        .pointer("/user/id")
        .and_then(Value::as_str)
        .map(str::to_string)
    else {
        return Some(field_error("Slack sent no user with this form."));
    };
    let meta: Option<ModalMeta> = p
        .pointer("/view/private_metadata")
        .and_then(Value::as_str)
        .and_then(|m| serde_json::from_str(m).ok());
    let Some(meta) = meta else {
        return Some(field_error(
            "This form lost track of its ticket; open it again from the card.",
        ));
    };
    // The text input's block is `body`, or `body.<template>` once filled from a template.
    let (text_block, text) = p
        .pointer("/view/state/values")
        .and_then(Value::as_object)
        .and_then(|blocks| {
            blocks.iter().find_map(|(id, actions)| {
                let value = actions.pointer(&format!("/{MODAL_ACTION}/value"));
                is_text_block(id).then(|| {
                    (
                        id.clone(),
                        value.and_then(Value::as_str).unwrap_or("").to_string(),
                    )
                })
            })
        })
        .unwrap_or_else(|| (MODAL_BLOCK.to_string(), String::new()));
    let desk = s.desk.clone();
    let (ticket, who) = (meta.ticket.clone(), user.clone());
    let work = async move {
        let agent = desk
            .agent(Identity::Slack(&who))
            .await
            .map_err(|e| messages::error(&e))?;
        let actor = Actor {
            agent,
            surface: Surface::Slack,
        };
        // The submitted form is its command, run by the one executor.
        let cmd = match kind {
            ModalKind::Reply => Command::Reply(ticket, text),
            ModalKind::Note => Command::Note(ticket, text),
        };
        commands::run(&desk, &actor, cmd).await
    };
    let late_desk = s.desk.clone();
    let (channel, late_user) = (meta.channel.clone(), user.clone());
    let late = move |r: Result<String, String>| async move {
        let text = r.unwrap_or_else(|refusal| refusal);
        if !channel.is_empty() {
            tell_later(&late_desk, &channel, &late_user, &text).await;
        }
    };
    match within_ack(work, late).await {
        Some(Ok(confirmation)) => {
            if !meta.channel.is_empty() {
                tell_later(&s.desk, &meta.channel, &user, &confirmation).await;
            }
            None
        }
        Some(Err(refusal)) => Some(field_error_on(&text_block, &refusal)),
        None => None,
    }
}

/// Handles an Events API body (<https://api.slack.com/apis/events-api>): the answer to
/// `url_verification` (`{"challenge": …}`), else `None`. Every other event (messages typed in
/// a card's thread included) is acknowledged and ignored — free text in chat is never sent to
/// a customer, only Reply sends.
pub fn on_event(v: &Value) -> Option<Value> {
    match v.get("type").and_then(Value::as_str) {
        Some("url_verification") => {
            let challenge = v.get("challenge").and_then(Value::as_str).unwrap_or("");
            Some(json!({"challenge": challenge}))
        }
        _ => {
            let kind = v
                .pointer("/event/type")
                .and_then(Value::as_str)
                .unwrap_or("?");
            let in_thread = v.pointer("/event/thread_ts").is_some();
            tracing::debug!(
                kind,
                in_thread,
                "Slack event ignored: chat text is never sent to customers"
            );
            None
        }
    }
}

/// `Some(403)` (logged) when a verified request comes from another workspace or app than
/// configured; `None` when it may go on.
fn foreign(s: &WebState, team: &str, app: &str) -> Option<Response> {
    let inbound = s.slack.as_ref()?;
    match inbound.origin().check(Some(team), Some(app)) {
        Ok(()) => None,
        Err(why) => {
            tracing::warn!(reason = %why, "rejected Slack request");
            Some(
                (
                    StatusCode::FORBIDDEN,
                    "request from another workspace or app",
                )
                    .into_response(),
            )
        }
    }
}

fn ephemeral(text: String) -> Response {
    Json(json!({"response_type": "ephemeral", "text": text})).into_response()
}

/// `POST /slack/commands`: a slash command (form-encoded), answered privately in the
/// response body. 400 when the form lacks `command` or `user_id`.
pub async fn commands(State(s): State<WebState>, headers: HeaderMap, body: Bytes) -> Response {
    let body = match verified(&s, &headers, &body) {
        Ok(b) => b,
        Err(status) => return (status, "invalid request").into_response(),
    };
    let form: std::collections::HashMap<String, String> =
        url::form_urlencoded::parse(body.as_bytes())
            .into_owned()
            .collect();
    let (Some(command), Some(user)) = (form.get("command"), form.get("user_id")) else {
        return (StatusCode::BAD_REQUEST, "not a slash command").into_response();
    };
    let field = |k: &str| form.get(k).map(String::as_str).unwrap_or("");
    if let Some(refused) = foreign(&s, field("team_id"), field("api_app_id")) {
        return refused;
    }
    let c = SlashCommand {
        command: command.clone(),
        text: form.get("text").cloned().unwrap_or_default(),
        user_id: user.clone(),
        channel_id: form.get("channel_id").cloned().unwrap_or_default(),
        trigger_id: form.get("trigger_id").cloned(),
    };
    match on_command(&s, c).await {
        Some(text) => ephemeral(text),
        None => StatusCode::OK.into_response(),
    }
}

/// `POST /slack/interactions`: `payload=<JSON>` (form-encoded), see [`on_interaction`].
/// 400 when there is no payload or it is not JSON.
pub async fn interactions(State(s): State<WebState>, headers: HeaderMap, body: Bytes) -> Response {
    let body = match verified(&s, &headers, &body) {
        Ok(b) => b,
        Err(status) => return (status, "invalid request").into_response(),
    };
    let Some(payload) = url::form_urlencoded::parse(body.as_bytes())
        .find(|(k, _)| k == "payload")
        .map(|(_, v)| v.into_owned())
    else {
        return (StatusCode::BAD_REQUEST, "no payload").into_response();
    };
    let p: Value = match serde_json::from_str(&payload) {
        Ok(p @ Value::Object(_)) => p,
        Ok(_) | Err(_) => {
            tracing::warn!("unreadable Slack interaction payload");
            return (StatusCode::BAD_REQUEST, "unreadable payload").into_response();
        }
    };
    let (team, app) = payload_origin(&p);
    if let Some(refused) = foreign(&s, team, app) {
        return refused;
    }
    match on_interaction(&s, p).await {
        Some(answer) => Json(answer).into_response(),
        None => StatusCode::OK.into_response(),
    }
}

/// `POST /slack/events`: the Events API (JSON), see [`on_event`]. 400 when not JSON.
pub async fn events(State(s): State<WebState>, headers: HeaderMap, body: Bytes) -> Response {
    let body = match verified(&s, &headers, &body) {
        Ok(b) => b,
        Err(status) => return (status, "invalid request").into_response(),
    };
    let v: Value = match serde_json::from_str(body) {
        Ok(v) => v,
        Err(_) => return (StatusCode::BAD_REQUEST, "not JSON").into_response(),
    };
    // url_verification carries no team: it only echoes the challenge.
    if v.get("type").and_then(Value::as_str) != Some("url_verification") {
        let field = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("");
        if let Some(refused) = foreign(&s, field("team_id"), field("api_app_id")) {
            return refused;
        }
    }
    match on_event(&v) {
        Some(answer) => Json(answer).into_response(),
        None => StatusCode::OK.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[derive(Deserialize)]
    struct Vector {
        signing_secret: String,
        timestamp: String,
        body: String,
        expected_signature: String,
    }

    fn vector() -> Vector {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../shared/specs/slack/signature-test-vector.json"
        );
        let text = std::fs::read_to_string(path).expect("shared/specs present");
        serde_json::from_str(&text).expect("vector parses")
    }

    fn headers(sig: &str, ts: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("x-slack-signature", HeaderValue::from_str(sig).unwrap());
        h.insert(
            "x-slack-request-timestamp",
            HeaderValue::from_str(ts).unwrap(),
        );
        h
    }

    #[test]
    fn modal_form_is_reply_or_note_with_a_ticket_and_no_text() {
        assert_eq!(
            modal_request("/desk", "reply TICK-2026-0001"),
            Some((ModalKind::Reply, "TICK-2026-0001".into()))
        );
        assert_eq!(
            modal_request("/note", " TICK-2026-0001 "),
            Some((ModalKind::Note, "TICK-2026-0001".into()))
        );
        assert_eq!(modal_request("/reply", "TICK-2026-0001 Thanks"), None);
        assert_eq!(modal_request("/desk", "reply"), None);
        assert_eq!(modal_request("/claim", "TICK-2026-0001"), None);
    }

    #[test]
    fn timestamps_that_do_not_fit_are_refused_without_overflow() {
        let v = vector();
        let inbound = SlackInbound::new(&v.signing_secret.clone().into());
        for now in [0, 1_700_000_000, 4_000_000_000] {
            for ts in [
                "99999999999999999999",
                "-9223372036854775808",
                "9223372036854775807",
                "",
                "1e9",
                " ",
                "0x10",
            ] {
                let sig = slack_signature_for(&v.signing_secret, ts, &v.body);
                let r = inbound.verify(&headers(&sig, ts), &v.body, now);
                assert!(r.is_err(), "now {now}, ts {ts:?}: {r:?}");
            }
        }
        assert!(check_skew("-9223372036854775808", i64::MAX, 300).is_err());
        assert!(check_skew("9223372036854775807", i64::MIN, 300).is_err());
        assert_eq!(check_skew("1000", 1300, 300), Ok(()));
        assert!(check_skew("1000", 1301, 300).is_err());
        assert!(check_skew("1301", 1000, 300).is_err());
    }

    fn slack_signature_for(secret: &str, ts: &str, body: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(format!("v0:{ts}:{body}").as_bytes());
        format!("v0={}", hex::encode(mac.finalize().into_bytes()))
    }

    #[test]
    fn origin_checks_only_what_is_configured() {
        let open = Origin::default();
        assert_eq!(open.check(Some("T1"), Some("A1")), Ok(()));
        assert_eq!(open.check(Some(""), Some("")), Ok(()));
        let pinned = Origin {
            team_id: Some("T1".into()),
            api_app_id: Some("A1".into()),
        };
        assert_eq!(pinned.check(Some("T1"), Some("A1")), Ok(()));
        assert!(pinned.check(Some("T2"), Some("A1")).is_err());
        assert!(pinned.check(Some("T1"), Some("A2")).is_err());
        assert!(pinned.check(Some(""), Some("A1")).is_err());
        assert!(pinned.check(Some("T1"), Some("")).is_err());
        // Not carried by the transport: unchecked.
        assert_eq!(pinned.check(Some("T1"), None), Ok(()));
    }

    #[test]
    fn socket_only_refuses_every_http_request() {
        let v = vector();
        let now: i64 = v.timestamp.parse().unwrap();
        assert!(SlackInbound::socket_only()
            .verify(&headers(&v.expected_signature, &v.timestamp), &v.body, now)
            .is_err());
    }

    #[test]
    fn accepts_slacks_documented_example() {
        let v = vector();
        let inbound = SlackInbound::new(&v.signing_secret.clone().into());
        let now: i64 = v.timestamp.parse().unwrap();
        assert_eq!(
            inbound.verify(
                &headers(&v.expected_signature, &v.timestamp),
                &v.body,
                now + 10
            ),
            Ok(())
        );
    }

    #[test]
    fn rejects_tampered_stale_and_future_requests() {
        let v = vector();
        let inbound = SlackInbound::new(&v.signing_secret.clone().into());
        let now: i64 = v.timestamp.parse().unwrap();
        let h = headers(&v.expected_signature, &v.timestamp);
        assert!(inbound.verify(&h, &format!("{}x", v.body), now).is_err());
        assert!(inbound
            .verify(&h, &v.body, now + MAX_SKEW_SECS + 1)
            .is_err());
        assert!(inbound
            .verify(&h, &v.body, now - MAX_SKEW_SECS - 1)
            .is_err());
        assert!(inbound.verify(&HeaderMap::new(), &v.body, now).is_err());
    }
}
