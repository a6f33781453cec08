//! Transaction-scoped advisory locks (PostgreSQL "Advisory Lock Functions",
//! `pg_advisory_xact_lock`): held until the transaction ends, released on commit or rollback.

/// Waits for and takes the advisory lock `key` for the rest of `conn`'s transaction.
///
/// Errors: the database's (connection lost, statement or lock timeout).
pub async fn hold_for_transaction(
    conn: &mut sqlx::PgConnection,
    key: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(key)
        .execute(conn)
        .await
        .map(|_| ())
}
