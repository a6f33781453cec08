//! `reply_templates` (migration 0018): the canned replies admins manage from chat. This is
//! its one writer; `desk::templates` checks every body (`domain::templates`) before it calls
//! here, and records each change in the audit trail in the same transaction.

use sqlx::PgConnection;

/// One stored template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredTemplate {
    /// Its name, a lower-case word.
    pub name: String,
    /// Its body as written, placeholders unfilled.
    pub body: String,
    /// Handle of the agent who last changed it.
    pub updated_by: String,
    /// When it was last changed.
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

type Row = (String, String, String, chrono::DateTime<chrono::Utc>);

fn from_row((name, body, updated_by, updated_at): Row) -> StoredTemplate {
    StoredTemplate {
        name,
        body,
        updated_by,
        updated_at,
    }
}

/// Every stored template, by name.
///
/// Errors: the database's.
pub async fn all(conn: &mut PgConnection) -> Result<Vec<StoredTemplate>, sqlx::Error> {
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT name, body, updated_by, updated_at FROM reply_templates ORDER BY name",
    )
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows.into_iter().map(from_row).collect())
}

/// The stored template `name`, locked for the rest of the transaction; `None` when there is
/// none.
///
/// Errors: the database's.
pub async fn lock(
    conn: &mut PgConnection,
    name: &str,
) -> Result<Option<StoredTemplate>, sqlx::Error> {
    let row: Option<Row> = sqlx::query_as(
        "SELECT name, body, updated_by, updated_at FROM reply_templates WHERE name = $1 FOR UPDATE",
    )
    .bind(name)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.map(from_row))
}

/// Adds template `name` with `body`, by agent `by`. Returns `false` (and changes nothing)
/// when a template of that name is already stored.
///
/// Errors: the database's (including the table's CHECKs).
pub async fn insert(
    conn: &mut PgConnection,
    name: &str,
    body: &str,
    by: &str,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO reply_templates (name, body, created_by, updated_by) VALUES ($1, $2, $3, $3) \
         ON CONFLICT (name) DO NOTHING",
    )
    .bind(name)
    .bind(body)
    .bind(by)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Replaces the body of template `name`, by agent `by`. Returns whether it existed.
///
/// Errors: the database's.
pub async fn update(
    conn: &mut PgConnection,
    name: &str,
    body: &str,
    by: &str,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE reply_templates SET body = $2, updated_by = $3, updated_at = now() WHERE name = $1",
    )
    .bind(name)
    .bind(body)
    .bind(by)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Deletes template `name`. Returns whether it existed.
///
/// Errors: the database's.
pub async fn delete(conn: &mut PgConnection, name: &str) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("DELETE FROM reply_templates WHERE name = $1")
        .bind(name)
        .execute(&mut *conn)
        .await?;
    Ok(done.rows_affected() == 1)
}
