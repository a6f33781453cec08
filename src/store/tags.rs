//! The `ticket_tags` table (migrations/0016_tags.sql): which tags a ticket carries, who added
//! each (an agent's handle or `rule:<name>`) and when. The one writer of the table.

use std::collections::HashMap;

use sqlx::PgConnection;

/// A tag to add: `(ticket id, tag, added_by)`.
pub type NewTag = (i64, String, String);

/// Adds `rows` in one statement; a tag a ticket already carries is left as it is (who added
/// it first stays). Returns the `(ticket, tag)` pairs actually added.
///
/// Errors: the database's (a tag outside the table's CHECK is a constraint error).
pub async fn add_many(
    conn: &mut PgConnection,
    rows: &[NewTag],
) -> Result<Vec<(i64, String)>, sqlx::Error> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let tickets: Vec<i64> = rows.iter().map(|r| r.0).collect();
    let tags: Vec<&str> = rows.iter().map(|r| r.1.as_str()).collect();
    let by: Vec<&str> = rows.iter().map(|r| r.2.as_str()).collect();
    sqlx::query_as(
        "INSERT INTO ticket_tags (ticket_id, tag, added_by)
         SELECT t, g, b FROM unnest($1::bigint[], $2::text[], $3::text[]) AS u(t, g, b)
         ON CONFLICT (ticket_id, tag) DO NOTHING
         RETURNING ticket_id, tag",
    )
    .bind(&tickets)
    .bind(&tags)
    .bind(&by)
    .fetch_all(conn)
    .await
}

/// Removes `tags` from ticket `ticket_id`; returns those it carried (now removed).
///
/// Errors: the database's.
pub async fn remove(
    conn: &mut PgConnection,
    ticket_id: i64,
    tags: &[String],
) -> Result<Vec<String>, sqlx::Error> {
    let rows: Vec<(String,)> = sqlx::query_as(
        "DELETE FROM ticket_tags WHERE ticket_id = $1 AND tag = ANY($2) RETURNING tag",
    )
    .bind(ticket_id)
    .bind(tags)
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(|r| r.0).collect())
}

/// The tags of ticket `ticket_id`, alphabetically.
///
/// Errors: the database's.
pub async fn for_ticket(
    conn: &mut PgConnection,
    ticket_id: i64,
) -> Result<Vec<String>, sqlx::Error> {
    let rows: Vec<(String,)> =
        sqlx::query_as("SELECT tag FROM ticket_tags WHERE ticket_id = $1 ORDER BY tag")
            .bind(ticket_id)
            .fetch_all(conn)
            .await?;
    Ok(rows.into_iter().map(|r| r.0).collect())
}

/// The tags of every tagged ticket, by ticket id, each list alphabetical (for listings).
///
/// Errors: the database's.
pub async fn all(conn: &mut PgConnection) -> Result<HashMap<i64, Vec<String>>, sqlx::Error> {
    let rows: Vec<(i64, Vec<String>)> = sqlx::query_as(
        "SELECT ticket_id, array_agg(tag ORDER BY tag) FROM ticket_tags GROUP BY ticket_id",
    )
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().collect())
}

/// Copies the tags of ticket `from` onto ticket `into` (a merge), each with who first added
/// it, alphabetically, as many as fit under `limit` tags on `into`; tags `into` already
/// carries are skipped. `from` keeps its own. Returns the tags added to `into`.
///
/// Errors: the database's.
pub async fn copy_all(
    conn: &mut PgConnection,
    from: i64,
    into: i64,
    limit: usize,
) -> Result<Vec<String>, sqlx::Error> {
    let rows: Vec<(String,)> = sqlx::query_as(
        "INSERT INTO ticket_tags (ticket_id, tag, added_by)
         SELECT $2, s.tag, s.added_by FROM ticket_tags s
         WHERE s.ticket_id = $1
           AND NOT EXISTS (SELECT 1 FROM ticket_tags d WHERE d.ticket_id = $2 AND d.tag = s.tag)
         ORDER BY s.tag
         LIMIT GREATEST(0, $3 - (SELECT count(*) FROM ticket_tags c WHERE c.ticket_id = $2))
         ON CONFLICT (ticket_id, tag) DO NOTHING
         RETURNING tag",
    )
    .bind(from)
    .bind(into)
    .bind(i64::try_from(limit).unwrap_or(i64::MAX))
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(|r| r.0).collect())
}
