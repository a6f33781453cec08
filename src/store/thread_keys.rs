//! The `thread_keys` table: msg-id → ticket, for order-independent threading.

use sqlx::PgConnection;

/// The distinct tickets any of `ids` already belongs to, lowest id first.
pub async fn tickets_for(conn: &mut PgConnection, ids: &[String]) -> Result<Vec<i64>, sqlx::Error> {
    let rows: Vec<(i64,)> = sqlx::query_as(
        "SELECT DISTINCT k.ticket_id FROM thread_keys k JOIN tickets t ON t.id = k.ticket_id
         WHERE k.msg_id = ANY($1) ORDER BY k.ticket_id",
    )
    .bind(ids)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows.into_iter().map(|r| r.0).collect())
}

/// The known keys among `ids`: `(msg_id, ticket id)` for each that is a thread key.
///
/// Errors: the database's.
pub async fn lookup(
    conn: &mut PgConnection,
    ids: &[&str],
) -> Result<Vec<(String, i64)>, sqlx::Error> {
    // A join with unnest rather than `= ANY($1)`: its plan stays index lookups when
    // Postgres switches the prepared statement to a generic plan.
    sqlx::query_as(
        "SELECT k.msg_id, k.ticket_id FROM unnest($1::text[]) AS x(id)
         JOIN thread_keys k ON k.msg_id = x.id",
    )
    .bind(ids)
    .fetch_all(&mut *conn)
    .await
}

/// Points every id in `ids` not yet known at `ticket_id` (one ticket's rows of
/// [`add_many`]).
///
/// Errors: the database's.
pub async fn add(
    conn: &mut PgConnection,
    ids: &[String],
    ticket_id: i64,
) -> Result<(), sqlx::Error> {
    let rows: Vec<(String, i64)> = ids.iter().map(|id| (id.clone(), ticket_id)).collect();
    add_many(conn, &rows).await
}

/// Adds each `(msg_id, ticket id)` whose msg-id is not a key yet (the first wins).
///
/// Errors: the database's.
pub async fn add_many(conn: &mut PgConnection, rows: &[(String, i64)]) -> Result<(), sqlx::Error> {
    if rows.is_empty() {
        return Ok(());
    }
    let (ids, tickets): (Vec<&str>, Vec<i64>) = rows.iter().map(|(k, t)| (k.as_str(), *t)).unzip();
    sqlx::query(
        "INSERT INTO thread_keys (msg_id, ticket_id)
         SELECT * FROM unnest($1::text[], $2::bigint[]) ON CONFLICT (msg_id) DO NOTHING",
    )
    .bind(&ids)
    .bind(&tickets)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Re-points every key of ticket `from` at `into` (ticket merge).
pub async fn move_all(conn: &mut PgConnection, from: i64, into: i64) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE thread_keys SET ticket_id = $2 WHERE ticket_id = $1")
        .bind(from)
        .bind(into)
        .execute(&mut *conn)
        .await?;
    Ok(())
}
