//! The `messages` table: every inbound and outbound email of every ticket.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

/// Which way a message went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// From the customer.
    Inbound,
    /// From us.
    Outbound,
}

impl Direction {
    /// The `messages.direction` column.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Direction::Inbound => "inbound",
            Direction::Outbound => "outbound",
        }
    }
}

/// A message to insert.
#[derive(Debug, Clone)]
pub struct NewMessage<'a> {
    /// Ticket it belongs to.
    pub ticket_id: i64,
    /// Message-ID without angle brackets.
    pub message_id: &'a str,
    /// In-Reply-To (first msg-id) without brackets.
    pub in_reply_to: Option<&'a str>,
    /// References, in order, without brackets.
    pub references: &'a [String],
    /// Direction.
    pub direction: Direction,
    /// From address.
    pub from_addr: &'a str,
    /// From display name.
    pub from_name: Option<&'a str>,
    /// To addresses.
    pub to_addrs: &'a [String],
    /// Subject.
    pub subject: &'a str,
    /// Plain-text body.
    pub body_text: &'a str,
    /// Raw RFC 822 bytes (inbound).
    pub raw: Option<&'a [u8]>,
    /// Size of the raw message in bytes.
    pub raw_size: i32,
    /// Mailbox name (inbound).
    pub mailbox: Option<&'a str>,
    /// IMAP UID (inbound).
    pub uid: Option<i64>,
    /// Agent who wrote it (outbound).
    pub author_agent_id: Option<i64>,
}

/// Inserts the message unless its Message-ID is already stored; `Some(id)` when inserted.
pub async fn insert(
    conn: &mut PgConnection,
    m: NewMessage<'_>,
) -> Result<Option<i64>, sqlx::Error> {
    let row: Option<(i64,)> = sqlx::query_as(
        "INSERT INTO messages (ticket_id, message_id, in_reply_to, references_ids, direction,
             from_addr, from_name, to_addrs, subject, body_text, raw, raw_size, mailbox, uid, author_agent_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
         ON CONFLICT (message_id) DO NOTHING RETURNING id",
    )
    .bind(m.ticket_id)
    .bind(m.message_id)
    .bind(m.in_reply_to)
    .bind(m.references)
    .bind(m.direction.as_str())
    .bind(m.from_addr)
    .bind(m.from_name)
    .bind(m.to_addrs)
    .bind(m.subject)
    .bind(m.body_text)
    .bind(m.raw)
    .bind(m.raw_size)
    .bind(m.mailbox)
    .bind(m.uid)
    .bind(m.author_agent_id)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.map(|r| r.0))
}

/// Records the content details of stored message `id`: its sanitised HTML body, and whether
/// `raw` holds only the first `intake.max_message_bytes` of a larger message.
pub async fn set_content(
    conn: &mut PgConnection,
    id: i64,
    body_html: Option<&str>,
    raw_truncated: bool,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE messages SET body_html = $2, raw_truncated = $3 WHERE id = $1")
        .bind(id)
        .bind(body_html)
        .bind(raw_truncated)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// A stored message.
#[derive(Debug, Clone)]
pub struct Message {
    /// Row id.
    pub id: i64,
    /// Ticket.
    pub ticket_id: i64,
    /// Message-ID without brackets.
    pub message_id: String,
    /// In-Reply-To.
    pub in_reply_to: Option<String>,
    /// References.
    pub references: Vec<String>,
    /// `inbound` or `outbound`.
    pub outbound: bool,
    /// From address.
    pub from_addr: String,
    /// From name.
    pub from_name: Option<String>,
    /// To addresses.
    pub to_addrs: Vec<String>,
    /// Subject.
    pub subject: String,
    /// Body text.
    pub body_text: String,
    /// Authoring agent (outbound).
    pub author_agent_id: Option<i64>,
    /// When SMTP accepted it (outbound).
    pub sent_at: Option<DateTime<Utc>>,
    /// When it was stored.
    pub created_at: DateTime<Utc>,
    /// How many attachments it came with (stored or listed as over the size limit).
    pub attachment_count: i64,
}

type Row = (
    i64,
    i64,
    String,
    Option<String>,
    Vec<String>,
    String,
    String,
    Option<String>,
    Vec<String>,
    String,
    String,
    Option<i64>,
    Option<DateTime<Utc>>,
    DateTime<Utc>,
    i64,
);

const SELECT: &str = "SELECT id, ticket_id, message_id, in_reply_to, references_ids, direction,
    from_addr, from_name, to_addrs, subject, body_text, author_agent_id, sent_at, created_at,
    (SELECT count(*) FROM attachments a WHERE a.message_id = messages.id) FROM messages";

fn from_row(r: Row) -> Message {
    Message {
        id: r.0,
        ticket_id: r.1,
        message_id: r.2,
        in_reply_to: r.3,
        references: r.4,
        outbound: r.5 == "outbound",
        from_addr: r.6,
        from_name: r.7,
        to_addrs: r.8,
        subject: r.9,
        body_text: r.10,
        author_agent_id: r.11,
        sent_at: r.12,
        created_at: r.13,
        attachment_count: r.14,
    }
}

/// The messages of a ticket, oldest first.
pub async fn for_ticket(
    conn: &mut PgConnection,
    ticket_id: i64,
) -> Result<Vec<Message>, sqlx::Error> {
    let sql = format!("{SELECT} WHERE ticket_id = $1 ORDER BY id");
    let rows: Vec<Row> = sqlx::query_as(&sql)
        .bind(ticket_id)
        .fetch_all(&mut *conn)
        .await?;
    Ok(rows.into_iter().map(from_row).collect())
}

/// The message with this row id.
pub async fn by_id(conn: &mut PgConnection, id: i64) -> Result<Option<Message>, sqlx::Error> {
    let sql = format!("{SELECT} WHERE id = $1");
    let row: Option<Row> = sqlx::query_as(&sql)
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    Ok(row.map(from_row))
}

/// Moves every message of `from` to `into` (ticket merge).
pub async fn move_all(conn: &mut PgConnection, from: i64, into: i64) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE messages SET ticket_id = $2 WHERE ticket_id = $1")
        .bind(from)
        .bind(into)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Records that SMTP accepted the outbound message.
pub async fn mark_sent(conn: &mut PgConnection, id: i64) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE messages SET sent_at = COALESCE(sent_at, now()) WHERE id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Message counts per ticket and Message-IDs, for listings: `(ticket_id, message_id)` pairs in
/// storage order.
pub async fn ids_by_ticket(conn: &mut PgConnection) -> Result<Vec<(i64, String)>, sqlx::Error> {
    sqlx::query_as("SELECT ticket_id, message_id FROM messages ORDER BY ticket_id, id")
        .fetch_all(&mut *conn)
        .await
}
