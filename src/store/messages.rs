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
    /// When it reached our server (inbound: the IMAP INTERNALDATE); `None`: when it is
    /// stored (outbound messages are received when claimdesk writes them).
    pub received_at: Option<DateTime<Utc>>,
    /// What its `Date:` header says (inbound; `None` when absent or unreadable).
    pub date_header: Option<DateTime<Utc>>,
}

/// A message row for [`insert_many`], owning what it stores except the raw bytes.
#[derive(Debug, Clone)]
pub struct MessageRow<'a> {
    /// Row id taken up front ([`reserve_ids`]), so rows inserted with it can name it;
    /// `None`: the next of `messages_id_seq`.
    pub id: Option<i64>,
    /// Ticket it belongs to.
    pub ticket_id: i64,
    /// Message-ID without angle brackets.
    pub message_id: String,
    /// In-Reply-To (first msg-id) without brackets.
    pub in_reply_to: Option<String>,
    /// References, in order, without brackets (a JSON array of strings).
    pub references: serde_json::Value,
    /// Direction.
    pub direction: Direction,
    /// From address.
    pub from_addr: String,
    /// From display name.
    pub from_name: Option<String>,
    /// To addresses (a JSON array of strings).
    pub to_addrs: serde_json::Value,
    /// Subject.
    pub subject: String,
    /// Plain-text body.
    pub body_text: String,
    /// Raw RFC 822 bytes (inbound).
    pub raw: Option<&'a [u8]>,
    /// Size of the raw message in bytes.
    pub raw_size: i32,
    /// Mailbox name (inbound).
    pub mailbox: Option<String>,
    /// IMAP UID (inbound).
    pub uid: Option<i64>,
    /// Agent who wrote it (outbound).
    pub author_agent_id: Option<i64>,
    /// Sanitised HTML body (see [`set_content`]).
    pub body_html: Option<String>,
    /// Whether `raw` holds only the first `intake.max_message_bytes` (see [`set_content`]).
    pub raw_truncated: bool,
    /// When it reached our server; `None`: when it is stored (see [`insert_many`]).
    pub received_at: Option<DateTime<Utc>>,
    /// What its `Date:` header says.
    pub date_header: Option<DateTime<Utc>>,
}

impl<'a> MessageRow<'a> {
    /// The row of `m` with id `id` (`None`: from the sequence at insert) and raw bytes
    /// `raw` (`m.raw` is not read), no HTML body, not truncated.
    pub fn new(id: Option<i64>, m: &NewMessage<'_>, raw: Option<&'a [u8]>) -> MessageRow<'a> {
        MessageRow {
            id,
            ticket_id: m.ticket_id,
            message_id: m.message_id.to_string(),
            in_reply_to: m.in_reply_to.map(str::to_string),
            references: serde_json::json!(m.references),
            direction: m.direction,
            from_addr: m.from_addr.to_string(),
            from_name: m.from_name.map(str::to_string),
            to_addrs: serde_json::json!(m.to_addrs),
            subject: m.subject.to_string(),
            body_text: m.body_text.to_string(),
            raw,
            raw_size: m.raw_size,
            mailbox: m.mailbox.map(str::to_string),
            uid: m.uid,
            author_agent_id: m.author_agent_id,
            body_html: None,
            raw_truncated: false,
            received_at: m.received_at,
            date_header: m.date_header,
        }
    }
}

/// Takes `n` ids of `messages_id_seq` in one query, ascending.
///
/// Errors: the database's.
pub async fn reserve_ids(conn: &mut PgConnection, n: usize) -> Result<Vec<i64>, sqlx::Error> {
    let rows: Vec<(i64,)> =
        sqlx::query_as("SELECT nextval('messages_id_seq') FROM generate_series(1, $1)")
            .bind(i32::try_from(n).unwrap_or(i32::MAX))
            .fetch_all(&mut *conn)
            .await?;
    Ok(rows.into_iter().map(|r| r.0).collect())
}

/// Which of `ids` are stored Message-IDs.
///
/// Errors: the database's.
pub async fn stored_among(
    conn: &mut PgConnection,
    ids: &[&str],
) -> Result<Vec<String>, sqlx::Error> {
    let rows: Vec<(String,)> = sqlx::query_as(
        "SELECT m.message_id FROM unnest($1::text[]) AS x(id)
             JOIN messages m ON m.message_id = x.id",
    )
    .bind(ids)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows.into_iter().map(|r| r.0).collect())
}

/// Inserts the message unless its Message-ID is already stored; `Some(id)` when inserted.
/// One row of [`insert_many`].
///
/// Errors: the database's.
pub async fn insert(
    conn: &mut PgConnection,
    m: NewMessage<'_>,
) -> Result<Option<i64>, sqlx::Error> {
    let ids = insert_many(conn, &[MessageRow::new(None, &m, m.raw)], None).await?;
    Ok(ids.first().copied())
}

/// Inserts `rows` as stored `at` (`None`: the transaction's `now()`), in one statement,
/// skipping those whose Message-ID is stored already; returns the ids of the rows inserted.
/// A row without a received time is received when it is stored.
///
/// Errors: the database's.
pub async fn insert_many(
    conn: &mut PgConnection,
    rows: &[MessageRow<'_>],
    at: Option<DateTime<Utc>>,
) -> Result<Vec<i64>, sqlx::Error> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<Option<i64>> = rows.iter().map(|r| r.id).collect();
    let tickets: Vec<i64> = rows.iter().map(|r| r.ticket_id).collect();
    let message_ids: Vec<&str> = rows.iter().map(|r| r.message_id.as_str()).collect();
    let in_reply_to: Vec<Option<&str>> = rows.iter().map(|r| r.in_reply_to.as_deref()).collect();
    let references: Vec<&serde_json::Value> = rows.iter().map(|r| &r.references).collect();
    let directions: Vec<&str> = rows.iter().map(|r| r.direction.as_str()).collect();
    let from_addrs: Vec<&str> = rows.iter().map(|r| r.from_addr.as_str()).collect();
    let from_names: Vec<Option<&str>> = rows.iter().map(|r| r.from_name.as_deref()).collect();
    let to_addrs: Vec<&serde_json::Value> = rows.iter().map(|r| &r.to_addrs).collect();
    let subjects: Vec<&str> = rows.iter().map(|r| r.subject.as_str()).collect();
    let bodies: Vec<&str> = rows.iter().map(|r| r.body_text.as_str()).collect();
    let raws: Vec<Option<&[u8]>> = rows.iter().map(|r| r.raw).collect();
    let sizes: Vec<i32> = rows.iter().map(|r| r.raw_size).collect();
    let mailboxes: Vec<Option<&str>> = rows.iter().map(|r| r.mailbox.as_deref()).collect();
    let uids: Vec<Option<i64>> = rows.iter().map(|r| r.uid).collect();
    let authors: Vec<Option<i64>> = rows.iter().map(|r| r.author_agent_id).collect();
    let htmls: Vec<Option<&str>> = rows.iter().map(|r| r.body_html.as_deref()).collect();
    let truncated: Vec<bool> = rows.iter().map(|r| r.raw_truncated).collect();
    let received: Vec<Option<DateTime<Utc>>> = rows.iter().map(|r| r.received_at).collect();
    let dates: Vec<Option<DateTime<Utc>>> = rows.iter().map(|r| r.date_header).collect();
    // References and recipients go in as JSON arrays: a text[][] must be rectangular.
    let inserted: Vec<(i64,)> = sqlx::query_as(
        "INSERT INTO messages (id, ticket_id, message_id, in_reply_to, references_ids, direction,
             from_addr, from_name, to_addrs, subject, body_text, raw, raw_size, mailbox, uid,
             author_agent_id, body_html, raw_truncated, created_at, received_at, date_header)
         SELECT COALESCE(id, nextval('messages_id_seq')), ticket, mid, irt,
             ARRAY(SELECT jsonb_array_elements_text(refs)), dir,
             fa, fname, ARRAY(SELECT jsonb_array_elements_text(tos)), subj, body, raw, size,
             mb, uid, author, html, trunc, COALESCE($19::timestamptz, now()),
             COALESCE(rec, $19::timestamptz, now()), dh
         FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::jsonb[],
                     $6::text[], $7::text[], $8::text[], $9::jsonb[], $10::text[], $11::text[],
                     $12::bytea[], $13::int[], $14::text[], $15::bigint[], $16::bigint[],
                     $17::text[], $18::bool[], $20::timestamptz[], $21::timestamptz[])
             AS u(id, ticket, mid, irt, refs, dir, fa, fname, tos, subj, body,
                  raw, size, mb, uid, author, html, trunc, rec, dh)
         ON CONFLICT (message_id) DO NOTHING
         RETURNING id",
    )
    .bind(&ids)
    .bind(&tickets)
    .bind(&message_ids)
    .bind(&in_reply_to)
    .bind(&references)
    .bind(&directions)
    .bind(&from_addrs)
    .bind(&from_names)
    .bind(&to_addrs)
    .bind(&subjects)
    .bind(&bodies)
    .bind(&raws)
    .bind(&sizes)
    .bind(&mailboxes)
    .bind(&uids)
    .bind(&authors)
    .bind(&htmls)
    .bind(&truncated)
    .bind(at)
    .bind(&received)
    .bind(&dates)
    .fetch_all(&mut *conn)
    .await?;
    Ok(inserted.into_iter().map(|r| r.0).collect())
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
    /// When it reached our server (inbound: the IMAP INTERNALDATE; outbound: when claimdesk
    /// wrote it): the time people are shown.
    pub received_at: DateTime<Utc>,
    /// What its `Date:` header says (inbound; `None` when absent or unreadable).
    pub date_header: Option<DateTime<Utc>>,
    /// How many attachments it came with (stored or listed as over the size limit).
    pub attachment_count: i64,
}

/// A row of [`SELECT`] (columns by name).
#[derive(sqlx::FromRow)]
struct Row {
    id: i64,
    ticket_id: i64,
    message_id: String,
    in_reply_to: Option<String>,
    references_ids: Vec<String>,
    direction: String,
    from_addr: String,
    from_name: Option<String>,
    to_addrs: Vec<String>,
    subject: String,
    body_text: String,
    author_agent_id: Option<i64>,
    sent_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    attachment_count: i64,
    received_at: DateTime<Utc>,
    date_header: Option<DateTime<Utc>>,
}

const SELECT: &str = "SELECT id, ticket_id, message_id, in_reply_to, references_ids, direction,
    from_addr, from_name, to_addrs, subject, body_text, author_agent_id, sent_at, created_at,
    (SELECT count(*) FROM attachments a WHERE a.message_id = messages.id) AS attachment_count,
    received_at, date_header FROM messages";

fn from_row(r: Row) -> Message {
    Message {
        id: r.id,
        ticket_id: r.ticket_id,
        message_id: r.message_id,
        in_reply_to: r.in_reply_to,
        references: r.references_ids,
        outbound: r.direction == "outbound",
        from_addr: r.from_addr,
        from_name: r.from_name,
        to_addrs: r.to_addrs,
        subject: r.subject,
        body_text: r.body_text,
        author_agent_id: r.author_agent_id,
        sent_at: r.sent_at,
        created_at: r.created_at,
        received_at: r.received_at,
        date_header: r.date_header,
        attachment_count: r.attachment_count,
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
