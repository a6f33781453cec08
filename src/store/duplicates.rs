//! The `duplicate_copies` table: further copies of an already stored message, and where they
//! were seen (the same email in two of our mailboxes, or a folder re-read after a
//! UIDVALIDITY change).

use sqlx::PgConnection;

/// The mailboxes (with UID) holding recorded extra copies of `message_id`, oldest first.
pub async fn copies_of(
    conn: &mut PgConnection,
    message_id: &str,
) -> Result<Vec<(String, i64)>, sqlx::Error> {
    sqlx::query_as("SELECT mailbox, uid FROM duplicate_copies WHERE message_id = $1 ORDER BY id")
        .bind(message_id)
        .fetch_all(&mut *conn)
        .await
}
