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
    /// How many tickets the whole queue holds (the lines are its first [`QUEUE_LINES`]).
    pub queued: i64,
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

/// The most lines `mine` and `unassigned` return: the head of the queue, what a chat
/// message can show (a queue of 25,000 tickets is not read line by line). Each line carries
/// the queue's full size in [`QueueLine::queued`].
pub const QUEUE_LINES: i64 = 50;

/// The priority order of the queues: urgent first.
const PRIORITY_RANK: &str =
    "CASE t.priority WHEN 'urgent' THEN 0 WHEN 'high' THEN 1 WHEN 'medium' THEN 2 ELSE 3 END";

/// Queue lines over `page` (a subquery of at most [`QUEUE_LINES`] tickets, aliased `t`),
/// with each ticket's headline SLA clock (the unmet clock with a due time due first: the
/// clock `tickets.sla_due_at` names, migrations/0020_web.sql) and tags, and `queued` (an
/// expression: the whole queue's size). Only the page's tickets are joined to their clocks
/// and tags, so the cost follows the page, not the queue.
fn lines(page: &str, queued: &str, order: &str) -> String {
    format!(
        "SELECT t.number, t.status, t.priority, t.subject, t.requester_email AS requester,
            t.created_at, t.opened_at, sla.metric AS sla_metric, sla.due_at,
            ARRAY(SELECT g.tag FROM ticket_tags g WHERE g.ticket_id = t.id ORDER BY g.tag) AS tags,
            ({queued}) AS queued
        FROM ({page}) t
        LEFT JOIN LATERAL (
            SELECT c.metric, c.due_at FROM sla_clocks c
            WHERE c.ticket_id = t.id AND c.met_at IS NULL AND c.due_at IS NOT NULL
            ORDER BY c.due_at, c.metric LIMIT 1
        ) sla ON TRUE
        ORDER BY {order}"
    )
}

/// Tickets agent `agent_id` holds that are not done (claimed, in progress, waiting): the
/// SLA clock due first first (tickets without a clock last), then most urgent, then oldest;
/// the first [`QUEUE_LINES`].
///
/// Errors: the database's.
pub async fn held_by(
    conn: &mut PgConnection,
    agent_id: i64,
) -> Result<Vec<QueueLine>, sqlx::Error> {
    held_by_tagged(conn, agent_id, &[]).await
}

/// Whether ticket `alias` carries every tag of the text array `$n` (true for an empty
/// array): the tag filter of the listings (`list tag:billing`), by the index on
/// `ticket_tags`.
fn has_tags(alias: &str, n: u8) -> String {
    format!(
        "(cardinality(${n}::text[]) = 0 OR (SELECT count(*) FROM ticket_tags g
             WHERE g.ticket_id = {alias}.id AND g.tag = ANY(${n}::text[]))
         = cardinality(${n}::text[]))"
    )
}

/// [`held_by`], only tickets carrying every tag of `tags` (all of them when empty).
///
/// Walks `tickets_held_queue_idx` (migrations/0026_scale_indexes.sql: `assignee_id`, then
/// the queue order) and stops after the page; the count reads `tickets_held_load_idx`.
///
/// Errors: the database's.
pub async fn held_by_tagged(
    conn: &mut PgConnection,
    agent_id: i64,
    tags: &[String],
) -> Result<Vec<QueueLine>, sqlx::Error> {
    let held = |a: &str| {
        format!(
            "{a}.assignee_id = $1 AND {a}.status IN ('claimed', 'in_progress', 'waiting')
             AND {has}",
            has = has_tags(a, 2)
        )
    };
    let order = format!("COALESCE(t.sla_due_at, 'infinity'), {PRIORITY_RANK}, t.opened_at, t.id");
    let page = format!(
        "SELECT * FROM tickets t WHERE {} ORDER BY {order} LIMIT {QUEUE_LINES}",
        held("t")
    );
    let queued = format!("SELECT count(*) FROM tickets h WHERE {}", held("h"));
    sqlx::query_as(&lines(&page, &queued, &order))
        .bind(agent_id)
        .bind(tags)
        .fetch_all(conn)
        .await
}

/// Tickets nobody holds (open or pending assignment), oldest first; the first
/// [`QUEUE_LINES`].
///
/// Errors: the database's.
pub async fn unassigned(conn: &mut PgConnection) -> Result<Vec<QueueLine>, sqlx::Error> {
    unassigned_tagged(conn, &[]).await
}

/// [`unassigned`], only tickets carrying every tag of `tags` (all of them when empty).
///
/// Walks `tickets_queue_unassigned_age_idx` (`opened_at`, partial on the queue) and stops
/// after the page.
///
/// Errors: the database's.
pub async fn unassigned_tagged(
    conn: &mut PgConnection,
    tags: &[String],
) -> Result<Vec<QueueLine>, sqlx::Error> {
    let queue = |a: &str| {
        format!(
            "{a}.assignee_id IS NULL AND {a}.status IN ('open', 'pending_assignment') AND {has}",
            has = has_tags(a, 1)
        )
    };
    let order = "t.opened_at, t.id";
    let page = format!(
        "SELECT * FROM tickets t WHERE {} ORDER BY {order} LIMIT {QUEUE_LINES}",
        queue("t")
    );
    let queued = format!("SELECT count(*) FROM tickets h WHERE {}", queue("h"));
    sqlx::query_as(&lines(&page, &queued, order))
        .bind(tags)
        .fetch_all(conn)
        .await
}

/// Per active agent, by handle: claimed / in progress / waiting counts, the age of the
/// oldest unanswered customer message on their claimed or in-progress tickets (from when it
/// reached our server), and how many of the tickets they hold have an SLA clock at risk or
/// breached at `now`.
///
/// SLA states are judged on the ticket's headline clock (`tickets.sla_due_at`,
/// `sla_warn_at`: the unmet clock due first, kept by the triggers of migrations/0020_web.sql),
/// as the web view's SLA filter judges them (`store::queues::SlaState`): breached when its
/// due time has passed, at risk when its warning time has passed and its due time not yet.
/// A customer message is unanswered when it is the ticket's last message; its age is the
/// ticket's `last_customer_at`. Per agent, the counts read the index
/// `tickets_held_load_idx` only (migrations/0026_scale_indexes.sql), and the oldest
/// unanswered message walks their tickets by `last_customer_at` (`tickets_unanswered_idx`)
/// to the first whose last message is the customer's: the cost follows the agents and their open work, never the whole table.
///
/// Errors: the database's.
pub async fn agent_loads(
    conn: &mut PgConnection,
    now: DateTime<Utc>,
) -> Result<Vec<AgentLoad>, sqlx::Error> {
    sqlx::query_as(
        "SELECT a.handle,
                COALESCE(c.claimed, 0) AS claimed,
                COALESCE(c.in_progress, 0) AS in_progress,
                COALESCE(c.waiting, 0) AS waiting,
                EXTRACT(EPOCH FROM $1 - u.at)::float8 AS oldest_unattended_secs,
                NOT (a.available OR COALESCE(a.away_until <= now(), FALSE)) AS away,
                COALESCE(c.at_risk, 0) AS at_risk,
                COALESCE(c.breached, 0) AS breached
         FROM agents a
         LEFT JOIN LATERAL (
             SELECT count(*) FILTER (WHERE t.status = 'claimed') AS claimed,
                    count(*) FILTER (WHERE t.status = 'in_progress') AS in_progress,
                    count(*) FILTER (WHERE t.status = 'waiting') AS waiting,
                    count(*) FILTER (WHERE t.sla_warn_at <= $1 AND $1 < t.sla_due_at) AS at_risk,
                    count(*) FILTER (WHERE t.sla_due_at <= $1) AS breached
             FROM tickets t
             WHERE t.assignee_id = a.id AND t.status IN ('claimed', 'in_progress', 'waiting')
         ) c ON TRUE
         LEFT JOIN LATERAL (
             SELECT t.last_customer_at AS at FROM tickets t
             WHERE t.assignee_id = a.id AND t.status IN ('claimed', 'in_progress')
               AND t.last_customer_at IS NOT NULL
               AND (SELECT m.direction FROM messages m WHERE m.ticket_id = t.id
                    ORDER BY m.id DESC LIMIT 1) = 'inbound'
             ORDER BY t.last_customer_at, t.id LIMIT 1
         ) u ON TRUE
         WHERE a.active
         ORDER BY a.handle",
    )
    .bind(now)
    .fetch_all(conn)
    .await
}

/// Over every ticket not done (not resolved, closed or merged), held or not: how many have
/// an SLA clock at risk and how many one breached at `now` (as [`AgentLoad::at_risk`] and
/// [`AgentLoad::breached`], on the headline clock). Both need the warning or the due time
/// passed, so only those tickets are read, one range of the index
/// `tickets_open_sla_warn_idx` (migrations/0026_scale_indexes.sql).
///
/// Errors: the database's.
pub async fn sla_totals(
    conn: &mut PgConnection,
    now: DateTime<Utc>,
) -> Result<(i64, i64), sqlx::Error> {
    sqlx::query_as(
        "SELECT count(*) FILTER (WHERE $1 < t.sla_due_at),
                count(*) FILTER (WHERE t.sla_due_at <= $1)
         FROM tickets t
         WHERE t.status NOT IN ('resolved', 'closed', 'merged')
           AND t.sla_due_at IS NOT NULL AND LEAST(t.sla_warn_at, t.sla_due_at) <= $1",
    )
    .bind(now)
    .fetch_one(conn)
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
        "SELECT count(*), EXTRACT(EPOCH FROM now() - min(opened_at))::float8 FROM tickets
         WHERE assignee_id IS NULL AND status IN ('open', 'pending_assignment')",
    )
    .fetch_one(conn)
    .await
}
