//! Loops and noise (migration 0004): automatic messages attached to tickets as notes,
//! acknowledgements sent, and senders flagged as a suspected mail loop.

use sqlx::PgConnection;

/// Whether an automatic message with this Message-ID was already attached to a ticket.
pub async fn seen(conn: &mut PgConnection, message_id: &str) -> Result<bool, sqlx::Error> {
    let (n,): (i64,) = sqlx::query_as("SELECT count(*) FROM noise_messages WHERE message_id = $1")
        .bind(message_id)
        .fetch_one(&mut *conn)
        .await?;
    Ok(n > 0)
}

/// Records that automatic message `message_id` of `kind` (`auto_reply`, `delivery_report`,
/// `feedback_report`) became note `note_id` on `ticket_id`, keeping its raw RFC 822 bytes.
pub async fn record(
    conn: &mut PgConnection,
    message_id: &str,
    ticket_id: i64,
    kind: &str,
    note_id: i64,
    raw: &[u8],
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO noise_messages (message_id, ticket_id, kind, note_id, raw) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(message_id)
    .bind(ticket_id)
    .bind(kind)
    .bind(note_id)
    .bind(raw)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Whether a delivery report about one of `ticket_id`'s outgoing messages was received.
pub async fn bounced(conn: &mut PgConnection, ticket_id: i64) -> Result<bool, sqlx::Error> {
    let (b,): (bool,) = sqlx::query_as(
        "SELECT EXISTS (SELECT 1 FROM noise_messages WHERE ticket_id = $1 AND kind = 'delivery_report')",
    )
    .bind(ticket_id)
    .fetch_one(&mut *conn)
    .await?;
    Ok(b)
}

/// The ticket holding an outbound message (one we sent) with one of `msg_ids`, following
/// merges; `None` when we sent none of them.
pub async fn ticket_of_outgoing(
    conn: &mut PgConnection,
    msg_ids: &[String],
) -> Result<Option<i64>, sqlx::Error> {
    let row: Option<(i64,)> = sqlx::query_as(
        "SELECT COALESCE(t.merged_into, t.id) FROM messages m JOIN tickets t ON t.id = m.ticket_id
         WHERE m.direction = 'outbound' AND m.message_id = ANY($1) ORDER BY m.id DESC LIMIT 1",
    )
    .bind(msg_ids)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.map(|r| r.0))
}
