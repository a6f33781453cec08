//! The `tickets` and `ticket_counters` tables.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use crate::domain::{Status, TicketNumber};

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
);

const SELECT: &str = "SELECT t.id, t.number, t.status, t.assignee_id, a.handle, t.requester_email,
        t.requester_name, t.subject, t.mailbox, t.merged_into, t.created_at, t.claimed_at
    FROM tickets t LEFT JOIN agents a ON a.id = t.assignee_id";

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
    })
}

/// Takes the next number of `year`'s sequence. The counter row stays locked until the
/// transaction ends, so concurrent creators queue and numbers have no gaps.
pub async fn next_number(
    conn: &mut PgConnection,
    prefix: &str,
    year: i32,
) -> Result<TicketNumber, sqlx::Error> {
    let (seq,): (i32,) = sqlx::query_as(
        "INSERT INTO ticket_counters (year, last_value) VALUES ($1, 1)
         ON CONFLICT (year) DO UPDATE SET last_value = ticket_counters.last_value + 1
         RETURNING last_value",
    )
    .bind(year)
    .fetch_one(&mut *conn)
    .await?;
    TicketNumber::new(prefix, year, seq).map_err(|e| sqlx::Error::Protocol(e.to_string()))
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
}

/// Inserts an open, unclaimed ticket and returns its id.
pub async fn insert(conn: &mut PgConnection, t: NewTicket<'_>) -> Result<i64, sqlx::Error> {
    let (id,): (i64,) = sqlx::query_as(
        "INSERT INTO tickets (number, year, seq, status, requester_email, requester_name, subject, mailbox)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
    )
    .bind(t.number.to_string())
    .bind(t.number.year())
    .bind(t.number.seq())
    .bind(Status::Open.as_str())
    .bind(t.requester_email)
    .bind(t.requester_name)
    .bind(t.subject)
    .bind(t.mailbox)
    .fetch_one(&mut *conn)
    .await?;
    Ok(id)
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
        "UPDATE tickets SET assignee_id = $2, status = $4, claimed_at = now(), updated_at = now()
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

/// Sets status and holder (call with the row locked, after the domain decided).
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
                               ELSE claimed_at END
         WHERE id = $1",
    )
    .bind(id)
    .bind(status.as_str())
    .bind(assignee_id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Records the first outgoing reply time, once.
pub async fn mark_first_response(conn: &mut PgConnection, id: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE tickets SET first_response_at = COALESCE(first_response_at, now()) WHERE id = $1",
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
