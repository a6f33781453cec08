//! HTTP endpoints (axum): Slack slash commands and interactivity, the Discord interactions
//! endpoint, `/healthz`, and the operators' `/healthz/details` and `/metrics`.
//!
//! What a stranger can read: `/healthz` says only `ok`/`degraded` and, per mailbox, its name,
//! mode, whether it is failing and the age of its last success — never an error text, host or
//! user name. Error texts and counts are in `/healthz/details` and `/metrics`, which need the
//! admin bearer token (`web.admin_token_env`) or live on the admin listener (`web.admin_bind`);
//! with neither configured they answer 404. Chat routes take bodies of at most
//! [`CHAT_BODY_LIMIT`] bytes (413 beyond).

pub mod ui;

use crate::chat::discord::routes as discord;
use crate::chat::slack::routes as slack;
use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use secrecy::{ExposeSecret, SecretString};

use crate::desk::Desk;

/// Largest request body the Slack and Discord routes accept, bytes (1 MiB). Slack's slash
/// command, interactivity and Events API payloads and Discord's interactions are a few KB;
/// larger bodies get 413 before any parsing or signature check.
pub const CHAT_BODY_LIMIT: usize = 1024 * 1024;

/// What the handlers share.
#[derive(Clone)]
pub struct WebState {
    /// The desk.
    pub desk: Desk,
    /// Slack request verification, when Slack is active.
    pub slack: Option<Arc<slack::SlackInbound>>,
    /// Discord request verification, when Discord is active.
    pub discord: Option<Arc<discord::DiscordInbound>>,
    /// The admin bearer token (`web.admin_token_env`), when set: `/metrics` and
    /// `/healthz/details` then need it on every listener.
    pub admin_token: Option<Arc<SecretString>>,
    /// `[web]`: the public URL (links in emails, `Secure` cookies) and session length.
    pub web: Arc<crate::config::WebSettings>,
    /// The live feed's one LISTEN connection and its fan-out to open pages (`/events`).
    pub live: ui::live::Hub,
}

/// The public router: `/healthz`; the Slack and Discord routes when the platform is active
/// (bodies limited to [`CHAT_BODY_LIMIT`]); `/metrics` and `/healthz/details` only when an
/// admin token is configured (else 404); the web view ([`ui::routes`]).
pub fn router(state: WebState) -> Router {
    let mut r = Router::new().route("/healthz", get(healthz));
    if state.admin_token.is_some() {
        r = r
            .route("/healthz/details", get(healthz_details))
            .route("/metrics", get(metrics));
    }
    let mut chat = Router::new();
    if state.slack.is_some() {
        chat = chat
            .route("/slack/commands", post(slack::commands))
            .route("/slack/interactions", post(slack::interactions))
            .route("/slack/events", post(slack::events));
    }
    if state.discord.is_some() {
        chat = chat.route("/discord/interactions", post(discord::interactions));
    }
    r.merge(chat.layer(DefaultBodyLimit::max(CHAT_BODY_LIMIT)))
        .merge(ui::routes(&state))
        .with_state(state)
}

/// The admin listener's router (`web.admin_bind`): `/healthz`, `/healthz/details` and
/// `/metrics`, open unless an admin token is configured (then it is required here too).
pub fn admin_router(state: WebState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/healthz/details", get(healthz_details))
        .route("/metrics", get(metrics))
        .with_state(state)
}

/// `None` when the request may see admin routes: no token configured (the route is then
/// only reachable on the admin listener), or `Authorization: Bearer <token>` (RFC 6750 §2.1)
/// matches, compared in constant time. Else the 401 to send, with `WWW-Authenticate`.
fn refused(s: &WebState, headers: &HeaderMap) -> Option<Response> {
    let expected = s.admin_token.as_ref()?;
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.split_once(' ')
                .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        })
        .map(|(_, token)| token.trim());
    match given {
        Some(token) if same_secret(token, expected.expose_secret()) => None,
        _ => Some(
            (
                StatusCode::UNAUTHORIZED,
                [(header::WWW_AUTHENTICATE, "Bearer")],
                "admin token required\n",
            )
                .into_response(),
        ),
    }
}

/// Whether `a == b`, in time independent of where they differ and of their lengths (both
/// are hashed with SHA-256 first, then every byte of the digests is compared).
fn same_secret(a: &str, b: &str) -> bool {
    use sha2::{Digest, Sha256};
    let (da, db) = (Sha256::digest(a.as_bytes()), Sha256::digest(b.as_bytes()));
    da.iter()
        .zip(db.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

/// Whether the database answers, and each mailbox's stored intake state (`None` when it
/// cannot be read).
async fn state_of(
    s: &WebState,
) -> (
    bool,
    Option<Vec<crate::store::mailbox_status::MailboxStatus>>,
) {
    let db = crate::store::health::database_answers(s.desk.pool()).await;
    let mailboxes = match s.desk.pool().acquire().await {
        Ok(mut c) => crate::store::mailbox_status::list(&mut c).await.ok(),
        Err(_) => None,
    };
    (db, mailboxes)
}

/// `GET /healthz`: `{"status": "ok"|"degraded", "mailboxes": [{"name", "mode",
/// "failing", "last_success_age_secs"}]}`. `degraded` when the database does not answer
/// (then 503) or a mailbox's last error is newer than its last success (still 200: the
/// desk itself works). No error texts, hosts or user names.
async fn healthz(State(s): State<WebState>) -> impl IntoResponse {
    let (ok, mailboxes) = state_of(&s).await;
    let now = chrono::Utc::now();
    let failing = mailboxes
        .as_ref()
        .is_some_and(|rows| rows.iter().any(|r| r.failing()));
    let body = serde_json::json!({
        "status": if ok && !failing { "ok" } else { "degraded" },
        "mailboxes": mailboxes.map(|rows| rows.iter().map(|r| serde_json::json!({
            "name": r.name,
            "mode": r.mode,
            "failing": r.failing(),
            "last_success_age_secs": r.last_success_at.map(|t| (now - t).num_seconds().max(0)),
        })).collect::<Vec<_>>()),
    });
    let code = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, Json(body))
}

/// `GET /healthz/details` (admin): the database state, the outbox backlog and each
/// mailbox's last success and last error with its text, and which replica reads it
/// (`reader`, its lease `reader_epoch` and `reader_checked_at`).
async fn healthz_details(State(s): State<WebState>, headers: HeaderMap) -> Response {
    if let Some(r) = refused(&s, &headers) {
        return r;
    }
    let (ok, mailboxes) = state_of(&s).await;
    let backlog = match s.desk.pool().acquire().await {
        Ok(mut c) => crate::store::outbox::backlog(&mut c).await.ok(),
        Err(_) => None,
    };
    let failing = mailboxes
        .as_ref()
        .is_some_and(|rows| rows.iter().any(|r| r.failing()));
    let body = serde_json::json!({
        "status": if ok && !failing { "ok" } else { "degraded" },
        "database": if ok { "ok" } else { "unreachable" },
        "outbox_pending": backlog.map(|b| b.0),
        "outbox_oldest_secs": backlog.map(|b| b.1),
        "mailboxes": mailboxes.map(|rows| rows.iter().map(|r| serde_json::json!({
            "name": r.name,
            "mode": r.mode,
            "last_success_at": r.last_success_at,
            "last_error": r.last_error,
            "last_error_at": r.last_error_at,
            "failing": r.failing(),
            "reader": r.reader,
            "reader_epoch": r.reader_epoch,
            "reader_checked_at": r.reader_checked_at,
        })).collect::<Vec<_>>()),
    });
    let code = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, Json(body)).into_response()
}

/// `GET /metrics` (admin): Prometheus text exposition format.
async fn metrics(State(s): State<WebState>, headers: HeaderMap) -> Response {
    if let Some(r) = refused(&s, &headers) {
        return r;
    }
    let rows = match s.desk.pool().acquire().await {
        Ok(mut c) => crate::store::health::tickets_by_status(&mut c).await,
        Err(e) => Err(e),
    };
    let backlog = match s.desk.pool().acquire().await {
        Ok(mut c) => crate::store::outbox::backlog(&mut c).await.ok(),
        Err(_) => None,
    };
    let (Ok(rows), Some((pending, oldest))) = (rows, backlog) else {
        return (StatusCode::SERVICE_UNAVAILABLE, "database unreachable\n").into_response();
    };
    let mut out = String::from(
        "# HELP claimdesk_tickets Tickets by status.\n# TYPE claimdesk_tickets gauge\n",
    );
    for (status, n) in rows {
        out.push_str(&format!("claimdesk_tickets{{status=\"{status}\"}} {n}\n"));
    }
    out.push_str(&format!(
        "# HELP claimdesk_outbox_pending Undelivered side effects.\n# TYPE claimdesk_outbox_pending gauge\nclaimdesk_outbox_pending {pending}\n\
         # HELP claimdesk_outbox_oldest_seconds Age of the oldest undelivered side effect.\n# TYPE claimdesk_outbox_oldest_seconds gauge\nclaimdesk_outbox_oldest_seconds {oldest}\n"
    ));
    (StatusCode::OK, out).into_response()
}
