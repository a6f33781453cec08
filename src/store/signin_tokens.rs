//! The `web_signin_tokens` table (migrations/0020_web.sql): one-time sign-in links sent by
//! email. This file is its one writer. Tokens are stored as their SHA-256 only.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

/// Stores a sign-in token for `agent_id` hashing to `token_hash` (SHA-256, 32 bytes), valid
/// until `expires_at`, opening `next_path` after use.
///
/// Errors: the database's.
pub async fn create(
    conn: &mut PgConnection,
    token_hash: &[u8],
    agent_id: i64,
    next_path: &str,
    expires_at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO web_signin_tokens (token_hash, agent_id, next_path, expires_at)
         VALUES ($1, $2, $3, $4)",
    )
    .bind(token_hash)
    .bind(agent_id)
    .bind(next_path)
    .bind(expires_at)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Uses the token hashing to `token_hash`: one conditional UPDATE, so of two concurrent
/// uses exactly one succeeds. Returns `(agent_id, next_path)` when the token existed, was
/// unused and unexpired at `now`; `None` otherwise (it is then unchanged).
///
/// Errors: the database's.
pub async fn consume(
    conn: &mut PgConnection,
    token_hash: &[u8],
    now: DateTime<Utc>,
) -> Result<Option<(i64, String)>, sqlx::Error> {
    sqlx::query_as(
        "UPDATE web_signin_tokens SET used_at = $2
         WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2
         RETURNING agent_id, next_path",
    )
    .bind(token_hash)
    .bind(now)
    .fetch_optional(&mut *conn)
    .await
}

/// Deletes tokens that expired before `before`; returns how many.
///
/// Errors: the database's.
pub async fn purge_expired(
    conn: &mut PgConnection,
    before: DateTime<Utc>,
) -> Result<u64, sqlx::Error> {
    let r = sqlx::query("DELETE FROM web_signin_tokens WHERE expires_at < $1")
        .bind(before)
        .execute(&mut *conn)
        .await?;
    Ok(r.rows_affected())
}
