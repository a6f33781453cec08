//! Read-only queries behind `stats` and the weekly digest (`desk::stats`): set-based, only
//! the columns the figures need. Tickets opened in a range come through
//! `tickets_opened_at_idx`, tickets resolved in it through `tickets_resolved_at_idx`, ended
//! SLA clocks through `sla_clocks_met_at_idx` / `sla_clocks_breached_at_idx`, open tickets
//! through `tickets_open_opened_at_idx` (migration 0015), so a 28-day range over a million
//! tickets reads only that range's rows and the open ones.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

/// The statuses of a ticket that is not done (see `domain::Status::is_done`).
const DONE: &str = "('resolved', 'closed', 'merged')";

/// The times of one ticket opened or resolved in the range.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct TicketTimes {
    /// `tickets.department`.
    pub department: String,
    /// The holder's handle, if held.
    pub assignee: Option<String>,
    /// When its first message reached us.
    pub opened_at: DateTime<Utc>,
    /// Our first reply.
    pub first_response_at: Option<DateTime<Utc>>,
    /// When it was resolved.
    pub resolved_at: Option<DateTime<Utc>>,
}

/// The tickets (merged ones left out) opened or resolved in `[from, to)`, of `department`
/// when given.
///
/// Errors: the database's.
pub async fn ticket_times(
    conn: &mut PgConnection,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    department: Option<&str>,
) -> Result<Vec<TicketTimes>, sqlx::Error> {
    sqlx::query_as(
        "SELECT t.department, a.handle AS assignee, t.opened_at, t.first_response_at,
                t.resolved_at
         FROM tickets t LEFT JOIN agents a ON a.id = t.assignee_id
         WHERE t.merged_into IS NULL AND ($3::text IS NULL OR t.department = $3)
           AND ((t.opened_at >= $1 AND t.opened_at < $2)
                OR (t.resolved_at >= $1 AND t.resolved_at < $2))",
    )
    .bind(from)
    .bind(to)
    .bind(department)
    .fetch_all(&mut *conn)
    .await
}

/// Open tickets (not resolved, closed or merged) by age at `now`: under 1 day, 1–3 days,
/// 3–7 days, over 7 days.
///
/// Errors: the database's.
pub async fn backlog(
    conn: &mut PgConnection,
    now: DateTime<Utc>,
    department: Option<&str>,
) -> Result<[i64; 4], sqlx::Error> {
    let (a, b, c, d): (i64, i64, i64, i64) = sqlx::query_as(&format!(
        "SELECT count(*) FILTER (WHERE opened_at > $1 - interval '1 day'),
                count(*) FILTER (WHERE opened_at <= $1 - interval '1 day'
                                   AND opened_at > $1 - interval '3 days'),
                count(*) FILTER (WHERE opened_at <= $1 - interval '3 days'
                                   AND opened_at > $1 - interval '7 days'),
                count(*) FILTER (WHERE opened_at <= $1 - interval '7 days')
         FROM tickets WHERE status NOT IN {DONE} AND opened_at <= $1
           AND ($2::text IS NULL OR department = $2)"
    ))
    .bind(now)
    .bind(department)
    .fetch_one(&mut *conn)
    .await?;
    Ok([a, b, c, d])
}

/// Open tickets held per agent now: `(handle, count)`, by handle.
///
/// Errors: the database's.
pub async fn open_by_agent(
    conn: &mut PgConnection,
    department: Option<&str>,
) -> Result<Vec<(String, i64)>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT a.handle, count(*) FROM tickets t JOIN agents a ON a.id = t.assignee_id
         WHERE t.assignee_id IS NOT NULL AND t.status NOT IN {DONE}
           AND ($1::text IS NULL OR t.department = $1)
         GROUP BY a.handle ORDER BY a.handle"
    ))
    .bind(department)
    .fetch_all(&mut *conn)
    .await
}

/// Per SLA metric, `(metric, met without a breach, ended)` over the clocks that ended in
/// `[from, to)`: met in it, or breached in it and still unmet. A clock row holds a ticket's
/// latest cycle (for next response, the cycle since the last customer message), so a hit is
/// a cycle met with no breach of its own, whatever earlier cycles did. Merged tickets (whose
/// clocks the merge closed) are left out, as in [`ticket_times`]. Metrics with no such clock
/// are absent.
///
/// Errors: the database's.
pub async fn sla_rates(
    conn: &mut PgConnection,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    department: Option<&str>,
) -> Result<Vec<(String, i64, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT c.metric, count(*) FILTER (WHERE c.met_at IS NOT NULL AND c.breached_at IS NULL),
                count(*)
         FROM sla_clocks c
         WHERE ((c.met_at >= $1 AND c.met_at < $2)
                OR (c.met_at IS NULL AND c.breached_at >= $1 AND c.breached_at < $2))
           AND EXISTS (SELECT 1 FROM tickets t
                       WHERE t.id = c.ticket_id AND t.merged_into IS NULL
                         AND ($3::text IS NULL OR t.department = $3))
         GROUP BY c.metric ORDER BY c.metric",
    )
    .bind(from)
    .bind(to)
    .bind(department)
    .fetch_all(&mut *conn)
    .await
}
