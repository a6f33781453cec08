//! The `outbox_tries` table (migrations/0027_outbox_tries.sql): a mark, committed before the
//! call, that an attempt of an outbox row that creates a chat message began. It survives a
//! crash that rolls back the delivering transaction, so the next attempt knows the platform
//! may already have the message (`crate::chat::Once::unsure_since`).

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

/// Removes the mark of outbox row `outbox_id`, in the transaction that records its delivery.
pub async fn clear(conn: &mut PgConnection, outbox_id: i64) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM outbox_tries WHERE outbox_id = $1")
        .bind(outbox_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}
