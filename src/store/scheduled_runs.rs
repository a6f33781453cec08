//! The `scheduled_runs` table (migration 0012): jobs that run once per period whichever
//! process is up (the weekly digest). The one writer of the table.

use sqlx::PgConnection;

/// Claims `period` for `job` in the caller's transaction: `true` when this call recorded
/// it (the job was last done for another period, or never), `false` when it is already
/// recorded. The row stays locked until the transaction ends, so of two processes claiming
/// the same period at once exactly one gets `true`, and only if its transaction commits
/// (with the job's outbox rows) does the period count as done.
///
/// Errors: the database's.
pub async fn claim(conn: &mut PgConnection, job: &str, period: &str) -> Result<bool, sqlx::Error> {
    let r = sqlx::query(
        "INSERT INTO scheduled_runs (job, period, done_at) VALUES ($1, $2, now())
         ON CONFLICT (job) DO UPDATE SET period = EXCLUDED.period, done_at = now()
             WHERE scheduled_runs.period <> EXCLUDED.period",
    )
    .bind(job)
    .bind(period)
    .execute(&mut *conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// The period `job` was last done for, if ever.
///
/// Errors: the database's.
pub async fn last_period(
    conn: &mut PgConnection,
    job: &str,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT period FROM scheduled_runs WHERE job = $1")
        .bind(job)
        .fetch_optional(&mut *conn)
        .await
}
