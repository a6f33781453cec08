//! Read models over `tickets`, `agents` and `messages` for people: one agent's open tickets,
//! the unassigned queue, and the team's workload. Read-only; nothing here writes.

use chrono::{DateTime, Utc};
use sqlx::{FromRow, PgConnection};

/// One line of `mine` / `unassigned`: a ticket as a queue shows it.
#[derive(Debug, Clone, FromRow, serde::Serialize)]
pub struct QueueLine {
    /// Ticket number.
    pub number: String,
    /// Status.
    pub status: String,
    /// Priority.
    pub priority: String,
    /// Subject.
    pub subject: String,
    /// Requester address.
    pub requester: String,
    /// Opened.
    pub created_at: DateTime<Utc>,
}

/// One agent's row of `workload`.
#[derive(Debug, Clone, FromRow, serde::Serialize, PartialEq)]
pub struct AgentLoad {
    /// Handle.
    pub handle: String,
    /// Claimed, not yet answered.
    pub claimed: i64,
    /// In progress.
    pub in_progress: i64,
    /// Waiting on the customer.
    pub waiting: i64,
    /// Seconds since the oldest customer message still unanswered on a ticket they hold.
    pub oldest_unattended_secs: Option<f64>,
    /// Away from auto-assignment.
    pub away: bool,
}

const LINE: &str = "SELECT t.number, t.status, t.priority, t.subject, t.requester_email AS requester, t.created_at FROM tickets t";

/// Tickets agent `agent_id` holds that are not done (claimed, in progress, waiting), most
/// urgent then oldest first.
///
/// Errors: the database's.
pub async fn held_by(
    conn: &mut PgConnection,
    agent_id: i64,
) -> Result<Vec<QueueLine>, sqlx::Error> {
    let sql = format!(
        "{LINE} WHERE t.assignee_id = $1 AND t.status IN ('claimed', 'in_progress', 'waiting')
         ORDER BY CASE t.priority WHEN 'urgent' THEN 0 WHEN 'high' THEN 1 WHEN 'medium' THEN 2 ELSE 3 END, t.created_at"
    );
    sqlx::query_as(&sql).bind(agent_id).fetch_all(conn).await
}

/// Tickets nobody holds (open or pending assignment), oldest first.
///
/// Errors: the database's.
pub async fn unassigned(conn: &mut PgConnection) -> Result<Vec<QueueLine>, sqlx::Error> {
    let sql = format!(
        "{LINE} WHERE t.assignee_id IS NULL AND t.status IN ('open', 'pending_assignment') ORDER BY t.created_at, t.id"
    );
    sqlx::query_as(&sql).fetch_all(conn).await
}

/// Per active agent, by handle: claimed / in progress / waiting counts and the age of the
/// oldest unanswered customer message on their claimed or in-progress tickets.
///
/// Errors: the database's.
pub async fn agent_loads(conn: &mut PgConnection) -> Result<Vec<AgentLoad>, sqlx::Error> {
    sqlx::query_as(
        "SELECT a.handle,
                count(t.id) FILTER (WHERE t.status = 'claimed') AS claimed,
                count(t.id) FILTER (WHERE t.status = 'in_progress') AS in_progress,
                count(t.id) FILTER (WHERE t.status = 'waiting') AS waiting,
                EXTRACT(EPOCH FROM now() - min(last.created_at) FILTER (
                    WHERE last.direction = 'inbound' AND t.status IN ('claimed', 'in_progress')
                ))::float8 AS oldest_unattended_secs,
                NOT (a.available OR COALESCE(a.away_until <= now(), FALSE)) AS away
         FROM agents a
         LEFT JOIN tickets t ON t.assignee_id = a.id AND t.status IN ('claimed', 'in_progress', 'waiting')
         LEFT JOIN LATERAL (
             SELECT m.created_at, m.direction FROM messages m WHERE m.ticket_id = t.id ORDER BY m.id DESC LIMIT 1
         ) last ON TRUE
         WHERE a.active
         GROUP BY a.id ORDER BY a.handle",
    )
    .fetch_all(conn)
    .await
}

/// The unassigned queue's size and the age in seconds of its oldest ticket (`None` when
/// empty).
///
/// Errors: the database's.
pub async fn unassigned_summary(
    conn: &mut PgConnection,
) -> Result<(i64, Option<f64>), sqlx::Error> {
    sqlx::query_as(
        "SELECT count(*), EXTRACT(EPOCH FROM now() - min(created_at))::float8 FROM tickets
         WHERE assignee_id IS NULL AND status IN ('open', 'pending_assignment')",
    )
    .fetch_one(conn)
    .await
}
