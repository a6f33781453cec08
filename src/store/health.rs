//! What `/healthz`, `/healthz/details` and `/metrics` ask the database: whether it answers,
//! and ticket counts by status. Read-only.

use sqlx::{PgConnection, PgPool};

/// Whether the database answers a trivial query (`SELECT 1`) on a connection from `pool`.
///
/// Errors: none; a failure to connect or to run the query is `false`.
pub async fn database_answers(pool: &PgPool) -> bool {
    sqlx::query("SELECT 1").execute(pool).await.is_ok()
}

/// `(status, count)` of every ticket status in use, ordered by status name.
///
/// Errors: the database's.
pub async fn tickets_by_status(conn: &mut PgConnection) -> Result<Vec<(String, i64)>, sqlx::Error> {
    sqlx::query_as("SELECT status, count(*) FROM tickets GROUP BY status ORDER BY status")
        .fetch_all(conn)
        .await
}
