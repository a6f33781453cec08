//! The `ticket_links` table (migration 0009): pairs of tickets that name each other (a
//! message's msg-ids led to both) but were not merged because their requesters differ.

use sqlx::PgConnection;

/// Records a link between tickets `a` and `b` (order does not matter; a pair is stored once,
/// a second call is a no-op). `reason` is a short word such as `references`; `message_id` the
/// msg-id (without brackets) of the message that named both, if any. Returns whether a new
/// link was made.
///
/// Errors: the database failed, or `a == b` (the table's CHECK).
pub async fn add(
    conn: &mut PgConnection,
    a: i64,
    b: i64,
    reason: &str,
    message_id: Option<&str>,
) -> Result<bool, sqlx::Error> {
    let (low, high) = if a <= b { (a, b) } else { (b, a) };
    let done = sqlx::query(
        "INSERT INTO ticket_links (low_id, high_id, reason, message_id) VALUES ($1, $2, $3, $4)
         ON CONFLICT (low_id, high_id) DO NOTHING",
    )
    .bind(low)
    .bind(high)
    .bind(reason)
    .bind(message_id)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The numbers of the tickets linked to ticket `id`, in ticket-id order.
pub async fn numbers_linked_to(
    conn: &mut PgConnection,
    id: i64,
) -> Result<Vec<String>, sqlx::Error> {
    let rows: Vec<(String,)> = sqlx::query_as(
        "SELECT t.number FROM ticket_links l
           JOIN tickets t ON t.id = CASE WHEN l.low_id = $1 THEN l.high_id ELSE l.low_id END
          WHERE l.low_id = $1 OR l.high_id = $1
          ORDER BY t.id",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows.into_iter().map(|r| r.0).collect())
}
