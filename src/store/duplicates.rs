//! The `duplicate_copies` table: further copies of an already stored message, and where they
//! were seen (the same email in two of our mailboxes, or a folder re-read after a
//! UIDVALIDITY change).

use sqlx::PgConnection;

/// Records that `mailbox` (at `uidvalidity`/`uid`) held another copy of `message_id`, which
/// belongs to `ticket_id`. Recording the same copy twice keeps one row.
pub async fn record(
    conn: &mut PgConnection,
    mailbox: &str,
    uidvalidity: u32,
    uid: u32,
    message_id: &str,
    ticket_id: Option<i64>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO duplicate_copies (mailbox, uidvalidity, uid, message_id, ticket_id)
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (mailbox, uidvalidity, uid) DO NOTHING",
    )
    .bind(mailbox)
    .bind(i64::from(uidvalidity))
    .bind(i64::from(uid))
    .bind(message_id)
    .bind(ticket_id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

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
