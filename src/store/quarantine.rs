//! The `quarantine` table: messages that could not become a ticket or a note, kept with the
//! reason and their raw bytes so they can be reprocessed.
//!
//! A quarantine row can always be written whatever the message holds: its only key is
//! `(mailbox, raw_sha256)` (the mailbox name from config and 64 hex digits), the raw bytes are
//! `bytea`, and the reason is fitted by [`fit_reason`] (no NUL, which `text` refuses, and at
//! most [`MAX_REASON_CHARS`] characters).

use sha2::{Digest, Sha256};
use sqlx::PgConnection;

/// Longest reason stored, in characters; a longer one is cut and ends in `…`.
pub const MAX_REASON_CHARS: usize = 2000;

/// Every quarantined message: `(id, mailbox, uid, reason)`.
pub async fn list(
    conn: &mut PgConnection,
) -> Result<Vec<(i64, String, Option<i64>, String)>, sqlx::Error> {
    sqlx::query_as("SELECT id, mailbox, uid, reason FROM quarantine ORDER BY id")
        .fetch_all(&mut *conn)
        .await
}

/// `reason` as it can be stored: NUL characters (refused by Postgres `text`) replaced by
/// U+FFFD, cut to [`MAX_REASON_CHARS`] characters.
pub fn fit_reason(reason: &str) -> String {
    let mut out: String = reason
        .chars()
        .take(MAX_REASON_CHARS)
        .map(|c| if c == '\0' { '\u{fffd}' } else { c })
        .collect();
    if reason.chars().nth(MAX_REASON_CHARS).is_some() {
        out.push('…');
    }
    out
}

/// One message to quarantine, for [`insert_many`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row<'a> {
    /// Mailbox name from config.
    pub mailbox: String,
    /// IMAP UID, when known.
    pub uid: Option<i64>,
    /// The reason as stored ([`fit_reason`] applied).
    pub reason: String,
    /// The raw bytes.
    pub raw: &'a [u8],
    /// SHA-256 of `raw`, lower-case hex: the row's key within the mailbox.
    pub raw_sha256: String,
}

impl<'a> Row<'a> {
    /// Message `uid` of `mailbox` with its raw bytes, its reason fitted ([`fit_reason`]) and
    /// its digest computed.
    pub fn new(mailbox: &str, uid: Option<i64>, reason: &str, raw: &'a [u8]) -> Row<'a> {
        Row {
            mailbox: mailbox.to_string(),
            uid,
            reason: fit_reason(reason),
            raw,
            raw_sha256: hex::encode(Sha256::digest(raw)),
        }
    }
}

/// Quarantines `raw` (message `uid` of `mailbox`) with `reason` ([`fit_reason`] applied),
/// once per mailbox and content (SHA-256 of `raw`; a second copy adds no row). Returns the
/// reason as stored. One row of [`insert_many`].
///
/// Errors: the database failed.
pub async fn insert(
    conn: &mut PgConnection,
    mailbox: &str,
    uid: Option<i64>,
    reason: &str,
    raw: &[u8],
) -> Result<String, sqlx::Error> {
    let row = Row::new(mailbox, uid, reason, raw);
    insert_many(conn, std::slice::from_ref(&row)).await?;
    Ok(row.reason)
}

/// Quarantines `rows` in one statement, in order, once per mailbox and content (a row whose
/// `(mailbox, raw_sha256)` is stored already adds nothing).
///
/// Errors: the database failed.
pub async fn insert_many(conn: &mut PgConnection, rows: &[Row<'_>]) -> Result<(), sqlx::Error> {
    if rows.is_empty() {
        return Ok(());
    }
    let mailboxes: Vec<&str> = rows.iter().map(|r| r.mailbox.as_str()).collect();
    let uids: Vec<Option<i64>> = rows.iter().map(|r| r.uid).collect();
    let reasons: Vec<&str> = rows.iter().map(|r| r.reason.as_str()).collect();
    let raws: Vec<&[u8]> = rows.iter().map(|r| r.raw).collect();
    let shas: Vec<&str> = rows.iter().map(|r| r.raw_sha256.as_str()).collect();
    sqlx::query(
        "INSERT INTO quarantine (mailbox, uid, reason, raw, raw_sha256)
         SELECT mb, u, r, raw, sha
         FROM unnest($1::text[], $2::bigint[], $3::text[], $4::bytea[], $5::text[])
             WITH ORDINALITY AS x(mb, u, r, raw, sha, n)
         ORDER BY n
         ON CONFLICT (mailbox, raw_sha256) DO NOTHING",
    )
    .bind(&mailboxes)
    .bind(&uids)
    .bind(&reasons)
    .bind(&raws)
    .bind(&shas)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Whether `e` is the fault of the data being written rather than of the connection or the
/// server's state, i.e. whether the same statements would fail again on the same messages:
/// an error from Postgres in SQLSTATE class 22 (data exception, e.g. `22021` a NUL byte in
/// text), 23 (integrity constraint violation) or 54 (program limit exceeded, e.g. `54000`
/// an index row over the btree maximum) — PostgreSQL manual, appendix A "PostgreSQL Error
/// Codes" — or a value sqlx could not encode.
///
/// Everything else is transient or ours: connection and I/O errors, pool timeouts, class 08
/// (connection exception), 40 (serialization failure, deadlock), 53 (insufficient
/// resources), 57 (operator intervention: shutdown, starting up), 58 (system error), and
/// class 42 (a bug in our SQL, which no message should be quarantined for).
pub fn is_message_fault(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(db) => db
            .code()
            .is_some_and(|c| c.starts_with("22") || c.starts_with("23") || c.starts_with("54")),
        sqlx::Error::Encode(_) => true,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_lose_nul_and_are_capped() {
        assert_eq!(fit_reason("a\0b"), "a\u{fffd}b");
        let long = "é".repeat(MAX_REASON_CHARS + 5);
        let fitted = fit_reason(&long);
        assert_eq!(fitted.chars().count(), MAX_REASON_CHARS + 1);
        assert!(fitted.ends_with('…'));
        let exact = "x".repeat(MAX_REASON_CHARS);
        assert_eq!(fit_reason(&exact), exact);
    }

    #[test]
    fn only_data_errors_are_the_messages_fault() {
        assert!(!is_message_fault(&sqlx::Error::PoolTimedOut));
        assert!(!is_message_fault(&sqlx::Error::Io(std::io::Error::other(
            "connection reset"
        ))));
        assert!(!is_message_fault(&sqlx::Error::Protocol("x".into())));
    }
}
