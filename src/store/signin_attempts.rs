//! The `web_signin_attempts` table (migrations/0020_web.sql): sign-in attempts counted per
//! key in fixed windows, for rate limiting. This file is its one writer.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

/// Counts one attempt for `key` at `now` in a window of `window_secs` seconds (a key whose
/// window started `window_secs` or more ago starts a new one) and returns the attempts in
/// the current window, this one included. One upsert: concurrent attempts are all counted.
///
/// Errors: the database's.
pub async fn count(
    conn: &mut PgConnection,
    key: &str,
    now: DateTime<Utc>,
    window_secs: i64,
) -> Result<i32, sqlx::Error> {
    let (n,): (i32,) = sqlx::query_as(
        "INSERT INTO web_signin_attempts AS a (key, window_start, attempts) VALUES ($1, $2, 1)
         ON CONFLICT (key) DO UPDATE SET
             window_start = CASE WHEN a.window_start <= $2 - make_interval(secs => $3)
                                 THEN $2 ELSE a.window_start END,
             attempts = CASE WHEN a.window_start <= $2 - make_interval(secs => $3)
                             THEN 1 ELSE a.attempts + 1 END
         RETURNING attempts",
    )
    .bind(key)
    .bind(now)
    .bind(window_secs as f64)
    .fetch_one(&mut *conn)
    .await?;
    Ok(n)
}

/// The attempts counted for `key` in its window still open at `now` (0 when none).
///
/// Errors: the database's.
pub async fn current(
    conn: &mut PgConnection,
    key: &str,
    now: DateTime<Utc>,
    window_secs: i64,
) -> Result<i32, sqlx::Error> {
    let row: Option<(i32,)> = sqlx::query_as(
        "SELECT attempts FROM web_signin_attempts
         WHERE key = $1 AND window_start > $2 - make_interval(secs => $3)",
    )
    .bind(key)
    .bind(now)
    .bind(window_secs as f64)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.map(|r| r.0).unwrap_or(0))
}

/// Deletes counters whose window ended before `before`; returns how many.
///
/// Errors: the database's.
pub async fn purge(conn: &mut PgConnection, before: DateTime<Utc>) -> Result<u64, sqlx::Error> {
    let r = sqlx::query("DELETE FROM web_signin_attempts WHERE window_start < $1")
        .bind(before)
        .execute(&mut *conn)
        .await?;
    Ok(r.rows_affected())
}
