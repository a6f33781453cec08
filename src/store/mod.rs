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
pub mod doctor;
pub mod duplicates;
pub mod health;
pub mod interactions;
pub mod leases;
pub mod live;
pub mod locks;
pub mod mailbox_status;
pub mod messages;
pub mod noise;
pub mod notes;
pub mod notification_prefs;
pub mod notifications;
pub mod outbox;
pub mod outbox_tries;
pub mod quarantine;
pub mod queues;
pub mod ratings;
pub mod report;
pub mod scheduled_runs;
pub mod search;
pub mod secrets;
pub mod signin_attempts;
pub mod signin_tokens;
pub mod sla;
pub mod stats;
pub mod tags;
pub mod templates;
pub mod thread_keys;
pub mod ticket_links;
pub mod tickets;
pub mod web_sessions;
pub mod workload;

use sqlx::migrate::MigrateDatabase;
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::Connection as _;

use crate::config::DatabaseSettings;

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
    let pool = connect(url, max_connections).await?;
    MIGRATOR
        .run(&pool)
        .await
        .context("cannot apply migrations")?;
    Ok(pool)
}

/// A pool of `max_connections` on `url` (no database creation, no migrations).
///
/// Errors: the server is unreachable or refuses the role.
pub async fn connect(url: &str, max_connections: u32) -> anyhow::Result<PgPool> {
    use anyhow::Context;
    PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(std::time::Duration::from_secs(10))
        .connect(url)
        .await
        .context("cannot connect to Postgres")
}

/// The app's pool, with the database created and migrated.
///
/// Without `database.migrate_url`: [`connect_and_migrate`] on `database.url`. With it: the
/// database is created and migrated over `migrate_url` (its role owns what the migrations
/// make), the app's pool is opened on `url`, and the role it logs in as is granted what
/// the app needs ([`grant_app`]) — unless it is the migrating role itself.
///
/// Errors: either connection fails, a migration fails, or the grants are refused (the
/// migrating role does not own the tables).
pub async fn open(db: &DatabaseSettings) -> anyhow::Result<PgPool> {
    use anyhow::Context;
    let Some(migrate_url) = db.migrate_url.as_deref() else {
        return connect_and_migrate(&db.url, db.max_connections).await;
    };
    let owner = connect_and_migrate(migrate_url, 1)
        .await
        .context("database.migrate_url")?;
    let pool = connect(&db.url, db.max_connections)
        .await
        .context("database.url")?;
    let app = audit::current_role(&pool).await?;
    let granted = async {
        let mut conn = owner.acquire().await?;
        grant_app(&mut conn, &app.name).await
    }
    .await;
    owner.close().await;
    granted.with_context(|| format!("cannot grant role {} what the app needs", app.name))?;
    Ok(pool)
}

/// Grants role `app` what the app needs and no more, as the role of `conn` (which must own
/// the tables, i.e. have run the migrations): `USAGE` on schema `public`; `SELECT, INSERT,
/// UPDATE, DELETE` on every table and `USAGE, SELECT, UPDATE` on every sequence in it; on
/// `audit_events` only `SELECT, INSERT` (no `UPDATE`, `DELETE`, `TRUNCATE`); on
/// `_sqlx_migrations` only `SELECT`. Idempotent; runs on every start so tables of later
/// migrations are covered. Nothing is done when `app` is the role of `conn`.
///
/// Serialised by an advisory lock: concurrent `GRANT`s on one table fail with "tuple
/// concurrently updated" (PostgreSQL `GRANT` page, Notes).
///
/// Errors: the database's (e.g. `conn`'s role does not own a table).
pub async fn grant_app(conn: &mut sqlx::PgConnection, app: &str) -> Result<(), sqlx::Error> {
    let (me,): (String,) = sqlx::query_as("SELECT current_user::text")
        .fetch_one(&mut *conn)
        .await?;
    if me == app {
        return Ok(());
    }
    let role = quote_ident(app);
    let mut tx = conn.begin().await?;
    locks::hold_named_for_transaction(&mut tx, locks::GRANTS).await?;
    for sql in [
        format!("GRANT USAGE ON SCHEMA public TO {role}"),
        format!("GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}"),
        format!("GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO {role}"),
        format!("REVOKE ALL ON audit_events FROM {role}"),
        format!("GRANT SELECT, INSERT ON audit_events TO {role}"),
        format!("REVOKE ALL ON _sqlx_migrations FROM {role}"),
        format!("GRANT SELECT ON _sqlx_migrations TO {role}"),
    ] {
        sqlx::query(&sql).execute(&mut *tx).await?;
    }
    tx.commit().await
}

/// `name` as a quoted SQL identifier (`"…"`, inner quotes doubled).
fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}
