//! Replica leases (issue 13): the SQL of the `leases` and `lease_history` tables and of the
//! session advisory lock that really holds a lease.
//!
//! A lease `name` is held by the process whose dedicated connection holds the SESSION
//! advisory lock `hashtextextended('lease:' ‖ name, 0)` (PostgreSQL "Advisory Lock
//! Functions", `pg_try_advisory_lock`): it is released when that connection ends, whether
//! the process exits, is killed, or its backend is terminated. The connection is opened
//! outside the pool ([`open_dedicated`]) with server-side TCP keepalives, so Postgres notices
//! a holder whose host vanished within [`KEEPALIVE_IDLE_SECS`] +
//! [`KEEPALIVE_INTERVAL_SECS`]·[`KEEPALIVE_COUNT`] seconds (PostgreSQL "Connection Settings",
//! `tcp_keepalives_*`; ignored on Unix-domain sockets).
//!
//! The rows only record: `leases` names the current holder and its epoch (+1 per take-over),
//! `lease_history` keeps one row per acquisition. The holder's periodic check ([`renew`])
//! stamps `renewed_at`. The runner that takes, watches and gives up leases is
//! `crate::replicas`.

use chrono::{DateTime, Utc};
use sqlx::{ConnectOptions as _, Connection as _, PgConnection, PgPool};

/// Seconds of silence on the lease connection before the server sends a keepalive probe.
pub const KEEPALIVE_IDLE_SECS: u32 = 2;
/// Seconds between unanswered keepalive probes.
pub const KEEPALIVE_INTERVAL_SECS: u32 = 1;
/// Unanswered probes after which the server drops the connection (and so the lease).
pub const KEEPALIVE_COUNT: u32 = 3;

/// A lease connection shared by the lease watcher and the work it guards (the mailbox
/// reader stores its batches on it, so a reader that lost its lease cannot commit).
pub type SharedConn = std::sync::Arc<tokio::sync::Mutex<PgConnection>>;

/// One row of `leases`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, sqlx::FromRow)]
pub struct LeaseRow {
    /// Lease name (`mailbox:<name>`, `discord:gateway`, `sweeps`).
    pub name: String,
    /// Replica identity of the last process that took it (`[replicas] name` or
    /// `<hostname>:<pid>`).
    pub holder: String,
    /// Take-overs so far (1 for the first acquisition).
    pub epoch: i64,
    /// When the holder took it.
    pub acquired_at: DateTime<Utc>,
    /// When the holder last found its lease connection alive.
    pub renewed_at: DateTime<Utc>,
}

/// Opens a connection outside `pool` with the pool's connect options, naming it
/// `application_name` (visible in `pg_stat_activity`), and sets the server-side TCP
/// keepalives ([`KEEPALIVE_IDLE_SECS`], [`KEEPALIVE_INTERVAL_SECS`], [`KEEPALIVE_COUNT`]).
///
/// Errors: the server is unreachable or refuses the role.
pub async fn open_dedicated(
    pool: &PgPool,
    application_name: &str,
) -> Result<PgConnection, sqlx::Error> {
    let opts = pool
        .connect_options()
        .as_ref()
        .clone()
        .application_name(application_name);
    let mut conn = opts.connect().await?;
    for sql in [
        format!("SET tcp_keepalives_idle = {KEEPALIVE_IDLE_SECS}"),
        format!("SET tcp_keepalives_interval = {KEEPALIVE_INTERVAL_SECS}"),
        format!("SET tcp_keepalives_count = {KEEPALIVE_COUNT}"),
    ] {
        sqlx::query(&sql).execute(&mut conn).await?;
    }
    Ok(conn)
}

/// Tries once, without waiting, to take lease `name`'s session advisory lock on `conn`.
/// True when `conn` holds it now (also when it already did).
///
/// Errors: the database's.
pub async fn try_take(conn: &mut PgConnection, name: &str) -> Result<bool, sqlx::Error> {
    let (taken,): (bool,) =
        sqlx::query_as("SELECT pg_try_advisory_lock(hashtextextended('lease:' || $1, 0))")
            .bind(name)
            .fetch_one(&mut *conn)
            .await?;
    Ok(taken)
}

/// Records that `holder` took lease `name` (call right after [`try_take`] succeeded, on the
/// same connection): `leases` gets the holder and the next epoch, `lease_history` a row,
/// in one transaction. Returns the new epoch (1 for the first acquisition ever).
///
/// Errors: the database's.
pub async fn record_taken(
    conn: &mut PgConnection,
    name: &str,
    holder: &str,
) -> Result<i64, sqlx::Error> {
    let mut tx = conn.begin().await?;
    let (epoch,): (i64,) = sqlx::query_as(
        "INSERT INTO leases (name, holder, epoch) VALUES ($1, $2, 1)
         ON CONFLICT (name) DO UPDATE SET holder = $2, epoch = leases.epoch + 1,
             acquired_at = clock_timestamp(), renewed_at = clock_timestamp()
         RETURNING epoch",
    )
    .bind(name)
    .bind(holder)
    .fetch_one(&mut *tx)
    .await?;
    sqlx::query("INSERT INTO lease_history (name, epoch, holder) VALUES ($1, $2, $3)")
        .bind(name)
        .bind(epoch)
        .bind(holder)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(epoch)
}

/// The holder's periodic check of its lease connection: stamps `renewed_at` of lease `name`
/// at `epoch`. A round trip that succeeds proves the connection, and so the lock, is alive.
///
/// Errors: the database's (the connection is gone: the lease is lost).
pub async fn renew(conn: &mut PgConnection, name: &str, epoch: i64) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE leases SET renewed_at = clock_timestamp() WHERE name = $1 AND epoch = $2")
        .bind(name)
        .bind(epoch)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Every `leases` row, by name.
///
/// Errors: the database's.
pub async fn list(conn: &mut PgConnection) -> Result<Vec<LeaseRow>, sqlx::Error> {
    sqlx::query_as("SELECT name, holder, epoch, acquired_at, renewed_at FROM leases ORDER BY name")
        .fetch_all(&mut *conn)
        .await
}
