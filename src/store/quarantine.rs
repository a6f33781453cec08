//! The `quarantine` table: messages that could not become a ticket or a note, kept with the
//! reason and their raw bytes so they can be reprocessed.

use sha2::{Digest, Sha256};
use sqlx::PgConnection;

/// Stores `raw` with `reason` (once per mailbox and content); returns whether it was new.
pub async fn insert(
    conn: &mut PgConnection,
    mailbox: &str,
    uid: Option<i64>,
    reason: &str,
    raw: &[u8],
) -> Result<bool, sqlx::Error> {
    let digest = hex::encode(Sha256::digest(raw));
    let r = sqlx::query(
        "INSERT INTO quarantine (mailbox, uid, reason, raw, raw_sha256) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (mailbox, raw_sha256) DO NOTHING",
    )
    .bind(mailbox)
    .bind(uid)
    .bind(reason)
    .bind(raw)
    .bind(digest)
    .execute(&mut *conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Every quarantined message: `(id, mailbox, uid, reason)`.
pub async fn list(
    conn: &mut PgConnection,
) -> Result<Vec<(i64, String, Option<i64>, String)>, sqlx::Error> {
    sqlx::query_as("SELECT id, mailbox, uid, reason FROM quarantine ORDER BY id")
        .fetch_all(&mut *conn)
        .await
}
