//! HTTP endpoints (axum): Slack slash commands and interactivity, the Discord interactions
//! endpoint, `/healthz` and `/metrics`.

pub mod discord;
pub mod slack;
pub mod slack_socket;

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};

use crate::desk::Desk;

/// What the handlers share.
#[derive(Clone)]
pub struct WebState {
    /// The desk.
    pub desk: Desk,
    /// Slack request verification, when Slack is active.
    pub slack: Option<Arc<slack::SlackInbound>>,
    /// Discord request verification, when Discord is active.
    pub discord: Option<Arc<discord::DiscordInbound>>,
}

/// The router. Slack and Discord routes exist only when the platform is active.
pub fn router(state: WebState) -> Router {
    let mut r = Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics));
    if state.slack.is_some() {
        r = r
            .route("/slack/commands", post(slack::commands))
            .route("/slack/interactions", post(slack::interactions))
            .route("/slack/events", post(slack::events));
    }
    if state.discord.is_some() {
        r = r.route("/discord/interactions", post(discord::interactions));
    }
    r.with_state(state)
}

async fn healthz(State(s): State<WebState>) -> impl IntoResponse {
    let db = sqlx::query("SELECT 1").execute(s.desk.pool()).await;
    let backlog = match s.desk.pool().acquire().await {
        Ok(mut c) => crate::store::outbox::backlog(&mut c).await.ok(),
        Err(_) => None,
    };
    let ok = db.is_ok();
    // Per mailbox intake state (`intake::supervisor`); a mailbox whose last error is newer
    // than its last success makes the status `degraded` (still 200: the desk itself works).
    let mailboxes = match s.desk.pool().acquire().await {
        Ok(mut c) => crate::store::mailbox_status::list(&mut c).await.ok(),
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
        })).collect::<Vec<_>>()),
    });
    let code = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, Json(body))
}

async fn metrics(State(s): State<WebState>) -> impl IntoResponse {
    let rows: Result<Vec<(String, i64)>, _> =
        sqlx::query_as("SELECT status, count(*) FROM tickets GROUP BY status ORDER BY status")
            .fetch_all(s.desk.pool())
            .await;
    let backlog = match s.desk.pool().acquire().await {
        Ok(mut c) => crate::store::outbox::backlog(&mut c).await.ok(),
        Err(_) => None,
    };
    let (Ok(rows), Some((pending, oldest))) = (rows, backlog) else {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "database unreachable\n".to_string(),
        );
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
    (StatusCode::OK, out)
}
