//! The `quarantine` table: messages that could not become a ticket or a note, kept with the
//! reason and their raw bytes so they can be reprocessed.

use sqlx::PgConnection;

/// Every quarantined message: `(id, mailbox, uid, reason)`.
pub async fn list(
    conn: &mut PgConnection,
) -> Result<Vec<(i64, String, Option<i64>, String)>, sqlx::Error> {
    sqlx::query_as("SELECT id, mailbox, uid, reason FROM quarantine ORDER BY id")
        .fetch_all(&mut *conn)
        .await
}
