//! The `mailbox_cursors` table: per mailbox, the UIDVALIDITY and the last UID stored
//! (RFC 3501 §2.3.1.1). Advanced in the same transaction as the message it covers.

use sqlx::PgConnection;

/// Where intake of one mailbox stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    /// The folder's UIDVALIDITY when `last_uid` was stored.
    pub uidvalidity: u32,
    /// Highest UID stored; 0 when none.
    pub last_uid: u32,
}

/// The cursor of `mailbox`, if it was ever read.
pub async fn get(conn: &mut PgConnection, mailbox: &str) -> Result<Option<Cursor>, sqlx::Error> {
    let row: Option<(i64, i64)> =
        sqlx::query_as("SELECT uidvalidity, last_uid FROM mailbox_cursors WHERE mailbox = $1")
            .bind(mailbox)
            .fetch_optional(&mut *conn)
            .await?;
    Ok(row.map(|(v, u)| Cursor {
        uidvalidity: u32::try_from(v).unwrap_or(0),
        last_uid: u32::try_from(u).unwrap_or(0),
    }))
}

/// Moves the cursor to `uid` under `uidvalidity`: never backwards within one UIDVALIDITY, and
/// reset when the UIDVALIDITY differs (the folder was rebuilt, RFC 3501 §2.3.1.1).
pub async fn advance(
    conn: &mut PgConnection,
    mailbox: &str,
    uidvalidity: u32,
    uid: u32,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO mailbox_cursors (mailbox, uidvalidity, last_uid) VALUES ($1, $2, $3)
         ON CONFLICT (mailbox) DO UPDATE SET
             last_uid = CASE WHEN mailbox_cursors.uidvalidity = $2
                             THEN GREATEST(mailbox_cursors.last_uid, $3) ELSE $3 END,
             uidvalidity = $2, updated_at = now()",
    )
    .bind(mailbox)
    .bind(i64::from(uidvalidity))
    .bind(i64::from(uid))
    .execute(&mut *conn)
    .await?;
    Ok(())
}
