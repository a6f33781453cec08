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

/// Points every id in `ids` not yet known at `ticket_id`.
pub async fn add(
    conn: &mut PgConnection,
    ids: &[String],
    ticket_id: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO thread_keys (msg_id, ticket_id) SELECT unnest($1::text[]), $2
         ON CONFLICT (msg_id) DO NOTHING",
    )
    .bind(ids)
    .bind(ticket_id)
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
