//! Loops and noise (migration 0004): automatic messages attached to tickets as notes
//! (`noise_messages`), acknowledgements sent (`acknowledgements`), and senders flagged as a
//! suspected mail loop (`loop_flags`).

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

/// What the loop and acknowledgement rules need to know about one sender (lower-case
/// address), as of a transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SenderStats {
    /// Tickets the sender opened in the last `loop_window_minutes` minutes (merged ones
    /// included).
    pub opened: i64,
    /// Acknowledgements queued to the sender in the last hour.
    pub acks_last_hour: i64,
    /// Whether the sender was flagged as a suspected loop in the last
    /// `loop_window_minutes` minutes.
    pub flagged: bool,
}

/// The [`SenderStats`] of each of `senders` (lower-case addresses) at `at` (ingest's
/// clock, which stamps `tickets.created_at`), with the loop window `window_minutes` long,
/// in one query.
///
/// Errors: the database's.
pub async fn sender_stats(
    conn: &mut PgConnection,
    senders: &[&str],
    window_minutes: u32,
    at: chrono::DateTime<chrono::Utc>,
) -> Result<Vec<(String, SenderStats)>, sqlx::Error> {
    let rows: Vec<(String, i64, i64, bool)> = sqlx::query_as(
        "SELECT s,
            (SELECT count(*) FROM tickets
              WHERE requester_email = s AND created_at > $3 - make_interval(mins => $2)),
            (SELECT count(*) FROM acknowledgements
              WHERE sender = s AND created_at > now() - interval '1 hour'),
            EXISTS (SELECT 1 FROM loop_flags
              WHERE sender = s AND flagged_at > now() - make_interval(mins => $2))
         FROM unnest($1::text[]) AS s",
    )
    .bind(senders)
    .bind(i32::try_from(window_minutes).unwrap_or(i32::MAX))
    .bind(at)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(s, opened, acks_last_hour, flagged)| {
            (
                s,
                SenderStats {
                    opened,
                    acks_last_hour,
                    flagged,
                },
            )
        })
        .collect())
}

/// Acknowledgements queued to anyone in the last hour (for `noise.max_acks_per_hour`).
///
/// Errors: the database's.
pub async fn acks_last_hour(conn: &mut PgConnection) -> Result<i64, sqlx::Error> {
    let (n,): (i64,) = sqlx::query_as(
        "SELECT count(*) FROM acknowledgements WHERE created_at > now() - interval '1 hour'",
    )
    .fetch_one(&mut *conn)
    .await?;
    Ok(n)
}

/// One acknowledgement sent, for [`record_acks`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ack {
    /// `messages.id` of the outbound acknowledgement.
    pub message_id: i64,
    /// Who it went to (lower-case address).
    pub sender: String,
    /// The ticket it acknowledged.
    pub ticket_id: i64,
}

/// Records `acks` in one statement.
///
/// Errors: the database's.
pub async fn record_acks(conn: &mut PgConnection, acks: &[Ack]) -> Result<(), sqlx::Error> {
    if acks.is_empty() {
        return Ok(());
    }
    let messages: Vec<i64> = acks.iter().map(|a| a.message_id).collect();
    let senders: Vec<&str> = acks.iter().map(|a| a.sender.as_str()).collect();
    let tickets: Vec<i64> = acks.iter().map(|a| a.ticket_id).collect();
    sqlx::query(
        "INSERT INTO acknowledgements (message_id, sender, ticket_id)
         SELECT * FROM unnest($1::bigint[], $2::text[], $3::bigint[])",
    )
    .bind(&messages)
    .bind(&senders)
    .bind(&tickets)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Flags each `(sender, tickets opened)` as a suspected mail loop, in one statement.
///
/// Errors: the database's.
pub async fn flag_loops(
    conn: &mut PgConnection,
    flags: &[(String, i32)],
) -> Result<(), sqlx::Error> {
    if flags.is_empty() {
        return Ok(());
    }
    let (senders, tickets): (Vec<&str>, Vec<i32>) =
        flags.iter().map(|(s, t)| (s.as_str(), *t)).unzip();
    sqlx::query(
        "INSERT INTO loop_flags (sender, tickets)
         SELECT * FROM unnest($1::text[], $2::int[])",
    )
    .bind(&senders)
    .bind(&tickets)
    .execute(&mut *conn)
    .await?;
    Ok(())
}
