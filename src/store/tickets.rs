//! The `tickets` and `ticket_counters` tables.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use crate::domain::{Priority, Status, TicketNumber};

/// A ticket as stored, with its holder's handle joined in.
#[derive(Debug, Clone)]
pub struct Ticket {
    /// Row id.
    pub id: i64,
    /// `TICK-2026-0001`.
    pub number: String,
    /// Current status.
    pub status: Status,
    /// Holder's agent id.
    pub assignee_id: Option<i64>,
    /// Holder's handle.
    pub assignee_handle: Option<String>,
    /// Customer address (the first message's From).
    pub requester_email: String,
    /// Customer display name.
    pub requester_name: Option<String>,
    /// Subject of the first message.
    pub subject: String,
    /// Mailbox it came in through.
    pub mailbox: String,
    /// Ticket this one was merged into.
    pub merged_into: Option<i64>,
    /// When it was opened.
    pub created_at: DateTime<Utc>,
    /// When it was last claimed.
    pub claimed_at: Option<DateTime<Utc>>,
    /// Priority.
    pub priority: Priority,
    /// Department.
    pub department: String,
    /// When it was resolved (cleared on reopen).
    pub resolved_at: Option<DateTime<Utc>>,
    /// When it was closed (cleared on reopen).
    pub closed_at: Option<DateTime<Utc>>,
}

type Row = (
    i64,
    String,
    String,
    Option<i64>,
    Option<String>,
    String,
    Option<String>,
    String,
    String,
    Option<i64>,
    DateTime<Utc>,
    Option<DateTime<Utc>>,
    String,
    String,
    Option<DateTime<Utc>>,
    Option<DateTime<Utc>>,
);

const SELECT: &str = "SELECT t.id, t.number, t.status, t.assignee_id, a.handle, t.requester_email,
        t.requester_name, t.subject, t.mailbox, t.merged_into, t.created_at, t.claimed_at,
        t.priority, t.department, t.resolved_at, t.closed_at
    FROM tickets t LEFT JOIN agents a ON a.id = t.assignee_id";

/// SQL ranking priorities for the pending queue: urgent first.
const PRIORITY_RANK: &str =
    "CASE t.priority WHEN 'urgent' THEN 0 WHEN 'high' THEN 1 WHEN 'medium' THEN 2 ELSE 3 END";

fn from_row(r: Row) -> Result<Ticket, sqlx::Error> {
    Ok(Ticket {
        id: r.0,
        number: r.1,
        status: r.2.parse().map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
        assignee_id: r.3,
        assignee_handle: r.4,
        requester_email: r.5,
        requester_name: r.6,
        subject: r.7,
        mailbox: r.8,
        merged_into: r.9,
        created_at: r.10,
        claimed_at: r.11,
        priority: r.12.parse().map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
        department: r.13,
        resolved_at: r.14,
        closed_at: r.15,
    })
}

/// A ticket to insert.
#[derive(Debug, Clone)]
pub struct NewTicket<'a> {
    /// Its number (from [`next_number`]).
    pub number: &'a TicketNumber,
    /// Customer address.
    pub requester_email: &'a str,
    /// Customer name.
    pub requester_name: Option<&'a str>,
    /// Subject.
    pub subject: &'a str,
    /// Mailbox name.
    pub mailbox: &'a str,
    /// Department.
    pub department: &'a str,
    /// Priority.
    pub priority: Priority,
}

/// The ticket with this number.
pub async fn by_number(
    conn: &mut PgConnection,
    number: &str,
) -> Result<Option<Ticket>, sqlx::Error> {
    let sql = format!("{SELECT} WHERE t.number = $1");
    let row: Option<Row> = sqlx::query_as(&sql)
        .bind(number)
        .fetch_optional(&mut *conn)
        .await?;
    row.map(from_row).transpose()
}

/// The ticket with this id.
pub async fn by_id(conn: &mut PgConnection, id: i64) -> Result<Option<Ticket>, sqlx::Error> {
    let sql = format!("{SELECT} WHERE t.id = $1");
    let row: Option<Row> = sqlx::query_as(&sql)
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    row.map(from_row).transpose()
}

/// The tickets with these ids (those that exist), in no particular order.
pub async fn by_ids(conn: &mut PgConnection, ids: &[i64]) -> Result<Vec<Ticket>, sqlx::Error> {
    // A join with unnest: index lookups even under a generic plan.
    let sql = format!("{SELECT} JOIN unnest($1::bigint[]) AS x(id) ON t.id = x.id");
    let rows: Vec<Row> = sqlx::query_as(&sql).bind(ids).fetch_all(&mut *conn).await?;
    rows.into_iter().map(from_row).collect()
}

/// Locks the ticket row for the rest of the transaction and returns it.
pub async fn lock(conn: &mut PgConnection, id: i64) -> Result<Option<Ticket>, sqlx::Error> {
    sqlx::query("SELECT id FROM tickets WHERE id = $1 FOR UPDATE")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    by_id(conn, id).await
}

/// Every ticket, oldest first.
pub async fn list(conn: &mut PgConnection) -> Result<Vec<Ticket>, sqlx::Error> {
    let sql = format!("{SELECT} ORDER BY t.id");
    let rows: Vec<Row> = sqlx::query_as(&sql).fetch_all(&mut *conn).await?;
    rows.into_iter().map(from_row).collect()
}

/// First write wins: gives the ticket to `agent_id` only if nobody holds it and its status is
/// one of `from` (the statuses the status machine lets be claimed). One UPDATE, so of many
/// concurrent claimers exactly one sees `true`.
pub async fn try_claim(
    conn: &mut PgConnection,
    id: i64,
    agent_id: i64,
    from: &[&str],
    to: Status,
) -> Result<bool, sqlx::Error> {
    let r = sqlx::query(
        "UPDATE tickets SET assignee_id = $2, status = $4, claimed_at = now(), updated_at = now(),
             holder_active_at = now(), release_warned_at = NULL
         WHERE id = $1 AND assignee_id IS NULL AND status = ANY($3)",
    )
    .bind(id)
    .bind(agent_id)
    .bind(from)
    .bind(to.as_str())
    .execute(&mut *conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Sets status and holder (call with the row locked, after the domain decided). Keeps the
/// timestamps consistent: a new holder gets a fresh claim time; `resolved` sets resolved_at,
/// `closed` sets closed_at, any other status clears both (a reopen).
pub async fn set_state(
    conn: &mut PgConnection,
    id: i64,
    status: Status,
    assignee_id: Option<i64>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE tickets SET status = $2, assignee_id = $3, updated_at = now(),
             claimed_at = CASE WHEN $3 IS NULL THEN NULL
                               WHEN assignee_id IS DISTINCT FROM $3 THEN now()
                               ELSE claimed_at END,
             holder_active_at = CASE WHEN $3 IS NULL THEN NULL
                                     WHEN assignee_id IS DISTINCT FROM $3 THEN now()
                                     ELSE holder_active_at END,
             release_warned_at = CASE WHEN assignee_id IS DISTINCT FROM $3 THEN NULL
                                      ELSE release_warned_at END,
             resolved_at = CASE WHEN $2 = 'resolved' THEN COALESCE(resolved_at, now())
                                WHEN $2 IN ('closed', 'merged') THEN resolved_at ELSE NULL END,
             closed_at = CASE WHEN $2 = 'closed' THEN COALESCE(closed_at, now())
                              WHEN $2 = 'merged' THEN closed_at ELSE NULL END
         WHERE id = $1",
    )
    .bind(id)
    .bind(status.as_str())
    .bind(assignee_id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Records an outgoing reply: the first response time (once), and activity of the holder
/// (which resets the auto-release clock).
pub async fn mark_response(conn: &mut PgConnection, id: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE tickets SET first_response_at = COALESCE(first_response_at, now()),
             holder_active_at = now(), release_warned_at = NULL WHERE id = $1",
    )
    .bind(id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Marks `id` as merged into `into`.
pub async fn mark_merged(conn: &mut PgConnection, id: i64, into: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE tickets SET status = $3, merged_into = $2, assignee_id = NULL, updated_at = now() WHERE id = $1",
    )
    .bind(id)
    .bind(into)
    .bind(Status::Merged.as_str())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Sets the priority.
pub async fn set_priority(
    conn: &mut PgConnection,
    id: i64,
    p: Priority,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE tickets SET priority = $2, updated_at = now() WHERE id = $1")
        .bind(id)
        .bind(p.as_str())
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// The next ticket of `department` waiting for assignment — urgent first, then oldest — locked
/// for the caller's transaction (others skip it).
pub async fn next_pending(
    conn: &mut PgConnection,
    department: &str,
) -> Result<Option<i64>, sqlx::Error> {
    let sql = format!(
        "SELECT t.id FROM tickets t WHERE t.status = 'pending_assignment' AND t.department = $1
         ORDER BY {PRIORITY_RANK}, t.created_at, t.id LIMIT 1 FOR UPDATE SKIP LOCKED"
    );
    let row: Option<(i64,)> = sqlx::query_as(&sql)
        .bind(department)
        .fetch_optional(&mut *conn)
        .await?;
    Ok(row.map(|r| r.0))
}

/// Ids of the tickets `agent_id` holds, oldest first.
pub async fn held_by(conn: &mut PgConnection, agent_id: i64) -> Result<Vec<i64>, sqlx::Error> {
    let rows: Vec<(i64,)> =
        sqlx::query_as("SELECT id FROM tickets WHERE assignee_id = $1 ORDER BY id")
            .bind(agent_id)
            .fetch_all(&mut *conn)
            .await?;
    Ok(rows.into_iter().map(|r| r.0).collect())
}

/// Held, unfinished tickets whose holder has been inactive since before `before`:
/// `(id, warned)` where `warned` says whether the holder was already warned.
pub async fn inactive_claims(
    conn: &mut PgConnection,
    before: DateTime<Utc>,
) -> Result<Vec<(i64, Option<DateTime<Utc>>)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, release_warned_at FROM tickets
         WHERE assignee_id IS NOT NULL AND status IN ('claimed', 'in_progress', 'waiting')
           AND COALESCE(holder_active_at, claimed_at, updated_at) < $1 ORDER BY id",
    )
    .bind(before)
    .fetch_all(&mut *conn)
    .await
}

/// Records that the holder was warned about inactivity.
pub async fn mark_release_warned(conn: &mut PgConnection, id: i64) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE tickets SET release_warned_at = now() WHERE id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Adds addresses to the ticket's participants.
pub async fn add_participants(
    conn: &mut PgConnection,
    id: i64,
    emails: &[String],
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO ticket_participants (ticket_id, email) SELECT $1, unnest($2::text[])
         ON CONFLICT DO NOTHING",
    )
    .bind(id)
    .bind(emails)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The ticket's participants, sorted.
pub async fn participants(conn: &mut PgConnection, id: i64) -> Result<Vec<String>, sqlx::Error> {
    let rows: Vec<(String,)> =
        sqlx::query_as("SELECT email FROM ticket_participants WHERE ticket_id = $1 ORDER BY email")
            .bind(id)
            .fetch_all(&mut *conn)
            .await?;
    Ok(rows.into_iter().map(|r| r.0).collect())
}

/// Records that ticket `id` was opened naming ticket `linked` (a subject tag or plus-address
/// from someone not on that ticket's thread).
pub async fn set_linked(conn: &mut PgConnection, id: i64, linked: i64) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE tickets SET linked_ticket = $2 WHERE id = $1")
        .bind(id)
        .bind(linked)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// The number of the ticket `id` is linked to (see [`set_linked`]), if any.
pub async fn linked_number(
    conn: &mut PgConnection,
    id: i64,
) -> Result<Option<String>, sqlx::Error> {
    let row: Option<(String,)> = sqlx::query_as(
        "SELECT l.number FROM tickets t JOIN tickets l ON l.id = t.linked_ticket WHERE t.id = $1",
    )
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.map(|r| r.0))
}

/// Whether `email` is the requester of ticket `id` or one of its participants
/// (`ticket_participants`), compared case-insensitively.
pub async fn is_on_thread(
    conn: &mut PgConnection,
    id: i64,
    email: &str,
) -> Result<bool, sqlx::Error> {
    let (on,): (bool,) = sqlx::query_as(
        "SELECT EXISTS (SELECT 1 FROM tickets WHERE id = $1 AND lower(requester_email) = lower($2))
             OR EXISTS (SELECT 1 FROM ticket_participants WHERE ticket_id = $1 AND lower(email) = lower($2))",
    )
    .bind(id)
    .bind(email)
    .fetch_one(&mut *conn)
    .await?;
    Ok(on)
}

/// Every link (see [`set_linked`]) as `(ticket id, linked ticket's number)`.
pub async fn all_links(conn: &mut PgConnection) -> Result<Vec<(i64, String)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT t.id, l.number FROM tickets t JOIN tickets l ON l.id = t.linked_ticket ORDER BY t.id",
    )
    .fetch_all(&mut *conn)
    .await
}
