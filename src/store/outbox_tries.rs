//! The `outbox_tries` table (migrations/0027_outbox_tries.sql): a mark, committed before the
//! call, that an attempt of an outbox row that creates a chat message began. It survives a
//! crash that rolls back the delivering transaction, so the next attempt knows the platform
//! may already have the message (`crate::chat::Once::unsure_since`). For email, whose
//! servers cannot be asked, `accepted_at` (migrations/0028_outbox_accepted.sql) records that
//! the SMTP server took the message (its 250 to DATA), so a repeat attempt does not send it
//! again.

use sqlx::PgConnection;

/// Records that an attempt of outbox row `outbox_id` begins; `true` when an earlier attempt
/// had already recorded one (its outcome unknown). Run on a connection of its own, outside
/// the transaction that holds the row (autocommit), so the mark outlives a crash.
pub async fn begin(conn: &mut PgConnection, outbox_id: i64) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO outbox_tries (outbox_id) VALUES ($1) ON CONFLICT (outbox_id) DO NOTHING",
    )
    .bind(outbox_id)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 0)
}

/// Removes the mark of outbox row `outbox_id`, in the transaction that records its delivery
/// or gives it up (nothing when there is none).
pub async fn clear(conn: &mut PgConnection, outbox_id: i64) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM outbox_tries WHERE outbox_id = $1")
        .bind(outbox_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Records, on a connection of its own (autocommit, so it outlives a crash), that the
/// server accepted what outbox row `outbox_id` sent (SMTP's 250 to DATA, RFC 5321 §4.1.1.4).
pub async fn accepted(conn: &mut PgConnection, outbox_id: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO outbox_tries (outbox_id, accepted_at) VALUES ($1, now()) \
         ON CONFLICT (outbox_id) DO UPDATE SET accepted_at = now()",
    )
    .bind(outbox_id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Whether an earlier attempt of outbox row `outbox_id` was accepted by the server
/// ([`accepted`]) without its delivery being recorded.
pub async fn was_accepted(conn: &mut PgConnection, outbox_id: i64) -> Result<bool, sqlx::Error> {
    let row: Option<(Option<chrono::DateTime<chrono::Utc>>,)> =
        sqlx::query_as("SELECT accepted_at FROM outbox_tries WHERE outbox_id = $1")
            .bind(outbox_id)
            .fetch_optional(&mut *conn)
            .await?;
    Ok(row.is_some_and(|(at,)| at.is_some()))
}
