//! What `claimdesk doctor` asks the database about itself: the server's version and the
//! migrations recorded as applied. Read-only.

use sqlx::PgPool;

/// The server's version string (`SHOW server_version`, e.g. `15.8 (Debian 15.8-0+deb12u1)`).
///
/// Errors: the database's.
pub async fn server_version(pool: &PgPool) -> Result<String, sqlx::Error> {
    let (v,): (String,) = sqlx::query_as("SHOW server_version")
        .fetch_one(pool)
        .await?;
    Ok(v)
}

/// The versions of the migrations recorded as applied successfully in `_sqlx_migrations`
/// (sqlx's table; a version is the number before the migration file's first `_`).
///
/// Errors: the database's (e.g. the table does not exist yet: nothing was migrated).
pub async fn applied_migrations(pool: &PgPool) -> Result<Vec<i64>, sqlx::Error> {
    let rows: Vec<(i64,)> = sqlx::query_as("SELECT version FROM _sqlx_migrations WHERE success")
        .fetch_all(pool)
        .await?;
    Ok(rows.into_iter().map(|(v,)| v).collect())
}
