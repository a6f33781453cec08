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
    /// Stored.
    pub created_at: DateTime<Utc>,
    /// When its first message reached our server (`tickets.opened_at`): its age.
    pub opened_at: DateTime<Utc>,
    /// The metric of its headline SLA clock (see `store::tickets::SlaDue`); `None` without
    /// one.
    pub sla_metric: Option<String>,
    /// When that clock is (or was) due.
    pub due_at: Option<DateTime<Utc>>,
    /// Its tags, alphabetically (`ticket_tags`).
    pub tags: Vec<String>,
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
    /// Tickets they hold with an SLA clock at risk: warned (`warn_at` passed) but not yet
    /// due, none breached.
    pub at_risk: i64,
    /// Tickets they hold with an SLA clock breached (past its due time, not met).
    pub breached: i64,
}

/// A queue line with its headline SLA clock (the unmet clock with a due time due first).
const LINE: &str =
    "SELECT t.number, t.status, t.priority, t.subject, t.requester_email AS requester,
        t.created_at, t.opened_at, sla.metric AS sla_metric, sla.due_at,
        ARRAY(SELECT g.tag FROM ticket_tags g WHERE g.ticket_id = t.id ORDER BY g.tag) AS tags
    FROM tickets t
    LEFT JOIN LATERAL (
        SELECT c.metric, c.due_at FROM sla_clocks c
        WHERE c.ticket_id = t.id AND c.met_at IS NULL AND c.due_at IS NOT NULL
        ORDER BY c.due_at, c.metric LIMIT 1
    ) sla ON TRUE";

/// Tickets agent `agent_id` holds that are not done (claimed, in progress, waiting): the
/// SLA clock due first first (tickets without a clock last), then most urgent, then oldest.
///
/// Errors: the database's.
pub async fn held_by(
    conn: &mut PgConnection,
    agent_id: i64,
) -> Result<Vec<QueueLine>, sqlx::Error> {
    held_by_tagged(conn, agent_id, &[]).await
}

/// Whether ticket `t` carries every tag of the text array `$n` (true for an empty array):
/// the tag filter of the listings (`list tag:billing`), by the index on `ticket_tags`.
fn has_tags(n: u8) -> String {
    format!(
        "(SELECT count(*) FROM ticket_tags g WHERE g.ticket_id = t.id AND g.tag = ANY(${n}::text[]))
         = cardinality(${n}::text[])"
    )
}

/// [`held_by`], only tickets carrying every tag of `tags` (all of them when empty).
///
/// Errors: the database's.
pub async fn held_by_tagged(
    conn: &mut PgConnection,
    agent_id: i64,
    tags: &[String],
) -> Result<Vec<QueueLine>, sqlx::Error> {
    let sql = format!(
        "{LINE} WHERE t.assignee_id = $1 AND t.status IN ('claimed', 'in_progress', 'waiting')
         AND {has}
         ORDER BY sla.due_at NULLS LAST,
             CASE t.priority WHEN 'urgent' THEN 0 WHEN 'high' THEN 1 WHEN 'medium' THEN 2 ELSE 3 END,
             t.opened_at, t.id",
        has = has_tags(2)
    );
    sqlx::query_as(&sql)
        .bind(agent_id)
        .bind(tags)
        .fetch_all(conn)
        .await
}

/// Tickets nobody holds (open or pending assignment), oldest first.
///
/// Errors: the database's.
pub async fn unassigned(conn: &mut PgConnection) -> Result<Vec<QueueLine>, sqlx::Error> {
    unassigned_tagged(conn, &[]).await
}

/// [`unassigned`], only tickets carrying every tag of `tags` (all of them when empty).
///
/// Errors: the database's.
pub async fn unassigned_tagged(
    conn: &mut PgConnection,
    tags: &[String],
) -> Result<Vec<QueueLine>, sqlx::Error> {
    let sql = format!(
        "{LINE} WHERE t.assignee_id IS NULL AND t.status IN ('open', 'pending_assignment')
         AND {has} ORDER BY t.opened_at, t.id",
        has = has_tags(1)
    );
    sqlx::query_as(&sql).bind(tags).fetch_all(conn).await
}

/// Per ticket, whether an SLA clock of it is breached at `$1` (unmet, due time passed) and
/// whether one is at risk (unmet, warning time passed, due time not yet); a ticket with a
/// breached clock is not also at risk. Joined as `sla` on `t`.
const SLA_STATE: &str = "LEFT JOIN LATERAL (
        SELECT bool_or(c.due_at <= $1) AS breached,
               bool_or(c.warn_at <= $1 AND $1 < c.due_at) AS warned
        FROM sla_clocks c
        WHERE c.ticket_id = t.id AND c.met_at IS NULL AND c.due_at IS NOT NULL
    ) sla ON TRUE";

/// Per active agent, by handle: claimed / in progress / waiting counts, the age of the
/// oldest unanswered customer message on their claimed or in-progress tickets (from when it
/// reached our server), and how many of the tickets they hold have an SLA clock at risk or
/// breached at `now`.
///
/// Errors: the database's.
pub async fn agent_loads(
    conn: &mut PgConnection,
    now: DateTime<Utc>,
) -> Result<Vec<AgentLoad>, sqlx::Error> {
    let sql = format!(
        "SELECT a.handle,
                count(t.id) FILTER (WHERE t.status = 'claimed') AS claimed,
                count(t.id) FILTER (WHERE t.status = 'in_progress') AS in_progress,
                count(t.id) FILTER (WHERE t.status = 'waiting') AS waiting,
                EXTRACT(EPOCH FROM $1 - min(last.received_at) FILTER (
                    WHERE last.direction = 'inbound' AND t.status IN ('claimed', 'in_progress')
                ))::float8 AS oldest_unattended_secs,
                NOT (a.available OR COALESCE(a.away_until <= now(), FALSE)) AS away,
                count(t.id) FILTER (WHERE sla.warned AND NOT sla.breached) AS at_risk,
                count(t.id) FILTER (WHERE sla.breached) AS breached
         FROM agents a
         LEFT JOIN tickets t ON t.assignee_id = a.id AND t.status IN ('claimed', 'in_progress', 'waiting')
         LEFT JOIN LATERAL (
             SELECT m.received_at, m.direction FROM messages m WHERE m.ticket_id = t.id ORDER BY m.id DESC LIMIT 1
         ) last ON TRUE
         {SLA_STATE}
         WHERE a.active
         GROUP BY a.id ORDER BY a.handle"
    );
    sqlx::query_as(&sql).bind(now).fetch_all(conn).await
}

/// Over every ticket not done (not resolved, closed or merged), held or not: how many have
/// an SLA clock at risk and how many one breached at `now` (as [`AgentLoad::at_risk`] and
/// [`AgentLoad::breached`]).
///
/// Errors: the database's.
pub async fn sla_totals(
    conn: &mut PgConnection,
    now: DateTime<Utc>,
) -> Result<(i64, i64), sqlx::Error> {
    let sql = format!(
        "SELECT count(*) FILTER (WHERE sla.warned AND NOT sla.breached),
                count(*) FILTER (WHERE sla.breached)
         FROM tickets t {SLA_STATE}
         WHERE t.status NOT IN ('resolved', 'closed', 'merged')"
    );
    sqlx::query_as(&sql).bind(now).fetch_one(conn).await
}

/// The unassigned queue's size and the age in seconds of its oldest ticket (`None` when
/// empty).
///
/// Errors: the database's.
pub async fn unassigned_summary(
    conn: &mut PgConnection,
) -> Result<(i64, Option<f64>), sqlx::Error> {
    sqlx::query_as(
        "SELECT count(*), EXTRACT(EPOCH FROM now() - min(opened_at))::float8 FROM tickets
         WHERE assignee_id IS NULL AND status IN ('open', 'pending_assignment')",
    )
    .fetch_one(conn)
    .await
}
