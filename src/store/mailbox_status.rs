//! The `mailbox_status` table: per mailbox, the intake mode (`idle` push or `poll`), the time
//! of the last successful fetch, and the last error with its time. Written by the intake
//! supervisor (`intake::supervisor`) of the replica holding the mailbox's lease, read by
//! `/healthz` and `claimdesk doctor` (with the reader, from `leases`).

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

/// How a mailbox is being watched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Push: the session waits in IMAP IDLE (RFC 2177) and fetches when the server reports a
    /// change.
    Idle,
    /// The server does not offer IDLE (or it is disabled): fetch every `poll_interval_secs`.
    Poll,
}

impl Mode {
    /// `idle` or `poll`, as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Idle => "idle",
            Mode::Poll => "poll",
        }
    }
}

/// One stored row.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, sqlx::FromRow)]
pub struct MailboxStatus {
    /// Mailbox name from config.
    #[sqlx(rename = "mailbox")]
    pub name: String,
    /// `idle` or `poll`; `None` until a session was established once.
    pub mode: Option<String>,
    /// When a fetch run last completed.
    pub last_success_at: Option<DateTime<Utc>>,
    /// The last error, as one line (never contains a password).
    pub last_error: Option<String>,
    /// When `last_error` happened.
    pub last_error_at: Option<DateTime<Utc>>,
    /// The replica that reads the mailbox (or last did): the holder of lease
    /// `mailbox:<name>` in the `leases` table (`crate::replicas`); `None` before any took it.
    pub reader: Option<String>,
    /// That lease's epoch (take-overs so far).
    pub reader_epoch: Option<i64>,
    /// When the reader last found its lease connection alive (every ~2 s while it holds it;
    /// an old time means it is gone and a standby is about to take over).
    pub reader_checked_at: Option<DateTime<Utc>>,
}

impl MailboxStatus {
    /// True when the last error is newer than the last success (or there was never a
    /// success but there was an error): the mailbox is currently failing.
    pub fn failing(&self) -> bool {
        match (self.last_error_at, self.last_success_at) {
            (Some(err), Some(ok)) => err > ok,
            (Some(_), None) => true,
            (None, _) => false,
        }
    }
}

/// Records a completed fetch run of `mailbox` in `mode` at the current time.
pub async fn record_success(
    conn: &mut PgConnection,
    mailbox: &str,
    mode: Mode,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO mailbox_status (mailbox, mode, last_success_at) VALUES ($1, $2, clock_timestamp())
         ON CONFLICT (mailbox) DO UPDATE SET
             mode = $2, last_success_at = clock_timestamp(), updated_at = clock_timestamp()",
    )
    .bind(mailbox)
    .bind(mode.as_str())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Records an error of `mailbox` at the current time; `error` should be one line without
/// secrets. The previous error is replaced; the mode and last success are kept.
pub async fn record_error(
    conn: &mut PgConnection,
    mailbox: &str,
    error: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO mailbox_status (mailbox, last_error, last_error_at) VALUES ($1, $2, clock_timestamp())
         ON CONFLICT (mailbox) DO UPDATE SET
             last_error = $2, last_error_at = clock_timestamp(), updated_at = clock_timestamp()",
    )
    .bind(mailbox)
    .bind(error)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Every stored row, by mailbox name, with the mailbox's reader from the `leases` table.
pub async fn list(conn: &mut PgConnection) -> Result<Vec<MailboxStatus>, sqlx::Error> {
    sqlx::query_as(
        "SELECT s.mailbox, s.mode, s.last_success_at, s.last_error, s.last_error_at,
                l.holder AS reader, l.epoch AS reader_epoch, l.renewed_at AS reader_checked_at
         FROM mailbox_status s LEFT JOIN leases l ON l.name = 'mailbox:' || s.mailbox
         ORDER BY s.mailbox",
    )
    .fetch_all(&mut *conn)
    .await
}

/// Deletes the rows of mailboxes not in `keep` (mailboxes removed from the settings), so
/// they no longer show in `/healthz`. Returns how many rows went.
pub async fn forget_others(conn: &mut PgConnection, keep: &[String]) -> Result<u64, sqlx::Error> {
    let r = sqlx::query("DELETE FROM mailbox_status WHERE NOT (mailbox = ANY($1))")
        .bind(keep)
        .execute(&mut *conn)
        .await?;
    Ok(r.rows_affected())
}
