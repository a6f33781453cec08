//! Postgres through sqlx. One file per table or concern; SQL lives only here.
//!
//! Functions take `&mut PgConnection` so a use case can run several of them in one
//! transaction (`&mut *tx`).

pub mod agents;
pub mod attachments;
pub mod audit;
pub mod batch;
pub mod chat_posts;
pub mod cursors;
pub mod duplicates;
pub mod mailbox_status;
pub mod messages;
pub mod noise;
pub mod notes;
pub mod outbox;
pub mod quarantine;
pub mod secrets;
pub mod thread_keys;
pub mod ticket_links;
pub mod tickets;

use sqlx::migrate::MigrateDatabase;
use sqlx::postgres::{PgPool, PgPoolOptions};

/// The embedded migrations in `migrations/`.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Creates the database named in `url` if it does not exist, connects a pool of
/// `max_connections`, and applies every pending migration.
///
/// Errors: the server is unreachable, the role may not create databases, or a migration fails.
pub async fn connect_and_migrate(url: &str, max_connections: u32) -> anyhow::Result<PgPool> {
    use anyhow::Context;
    if !sqlx::Postgres::database_exists(url)
        .await
        .context("cannot reach Postgres")?
    {
        // A concurrent creator may win the race; that is fine.
        if let Err(e) = sqlx::Postgres::create_database(url).await {
            if !sqlx::Postgres::database_exists(url).await.unwrap_or(false) {
                return Err(e).context("cannot create the database");
            }
        }
    }
    let pool = PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(std::time::Duration::from_secs(10))
        .connect(url)
        .await
        .context("cannot connect to Postgres")?;
    MIGRATOR
        .run(&pool)
        .await
        .context("cannot apply migrations")?;
    Ok(pool)
}
