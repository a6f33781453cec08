//! Several `claimdesk serve` processes on one database (issue 13): work that must run in one
//! process at a time runs under a lease ([`Lease::run`]).
//!
//! | lease | guards |
//! |---|---|
//! | `mailbox:<name>` | the mailbox's IMAP session; its batches are stored on the lease connection |
//! | `discord:gateway` | the Discord gateway connection (Discord allows one per bot token and shard) |
//! | `sweeps` | auto-release, the pending-queue drain, the SLA scheduler, the weekly digest, session purge |
//!
//! A lease is a session advisory lock on a dedicated connection (`store::leases`). The holder
//! checks that connection every [`CHECK_EVERY`] (a round trip with a [`CHECK_TIMEOUT`]); when
//! the check fails it drops the guarded work at once. Standbys try every
//! `replicas.lease_retry_secs` (default 2 s), so a failover takes about that long after the
//! holder's connection is gone: at once when its process dies (the kernel closes the socket),
//! within the server's TCP keepalive (about 5 s) when its host vanishes.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use sqlx::PgPool;

use crate::config::ReplicaSettings;
use crate::store::leases::{self, SharedConn};

/// How often the holder checks its lease connection.
pub const CHECK_EVERY: Duration = Duration::from_secs(2);

/// How long one check may take before the lease counts as lost.
pub const CHECK_TIMEOUT: Duration = Duration::from_secs(3);

/// Name of the lease of mailbox `mailbox`'s reader: `mailbox:<name>`.
pub fn mailbox_lease(mailbox: &str) -> String {
    format!("mailbox:{mailbox}")
}

/// Name of the Discord gateway's lease.
pub const DISCORD_GATEWAY: &str = "discord:gateway";

/// Name of the lease of the periodic sweeps.
pub const SWEEPS: &str = "sweeps";

/// The `application_name` of the lease connection of lease `name` held by `holder`
/// (`claimdesk-lease:<name>@<holder>`, cut by Postgres at 63 bytes): how an operator (or a
/// test) finds it in `pg_stat_activity`.
pub fn application_name(name: &str, holder: &str) -> String {
    format!("claimdesk-lease:{name}@{holder}")
}

/// What the guarded work gets while this process holds the lease.
#[derive(Clone)]
pub struct Held {
    /// The lease connection: statements run on it fail once the lease is lost (the lock
    /// went with the connection), which fences late writes.
    pub conn: SharedConn,
    /// The lease's epoch (`leases.epoch`) at this acquisition.
    pub epoch: i64,
}

/// One lease this process competes for.
#[derive(Clone)]
pub struct Lease {
    pool: PgPool,
    name: String,
    holder: String,
    retry: Duration,
}

impl Lease {
    /// Lease `name` on `pool`'s database, held as `replicas.identity()` and retried every
    /// `replicas.lease_retry()`.
    pub fn new(pool: PgPool, name: &str, replicas: &ReplicaSettings) -> Lease {
        Lease {
            pool,
            name: name.to_string(),
            holder: replicas.identity(),
            retry: replicas.lease_retry(),
        }
    }

    /// The lease's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// This replica's identity (`leases.holder` when it holds it).
    pub fn holder(&self) -> &str {
        &self.holder
    }

    /// Competes for the lease forever: as a standby, tries to take it every retry interval;
    /// once taken (a `leases` and a `lease_history` row are written, `"lease taken"` is
    /// logged and [`crate::metrics::LEASE_ACQUIRED`] counted), runs `work` until it ends or
    /// the lease is lost (a failed check: `work` is dropped at once), then closes the lease
    /// connection — releasing the lock — and competes again. Database errors are logged and
    /// retried; it never returns.
    pub async fn run<F, Fut>(self, mut work: F)
    where
        F: FnMut(Held) -> Fut,
        Fut: Future<Output = ()>,
    {
        let app = application_name(&self.name, &self.holder);
        loop {
            let Some((conn, epoch)) = self.take(&app).await else {
                tokio::time::sleep(self.retry).await;
                continue;
            };
            tracing::info!(lease = %self.name, holder = %self.holder, epoch, "lease taken");
            metrics::counter!(crate::metrics::LEASE_ACQUIRED, "lease" => self.name.clone())
                .increment(1);
            let conn: SharedConn = Arc::new(tokio::sync::Mutex::new(conn));
            let pause = tokio::select! {
                () = work(Held { conn: conn.clone(), epoch }) => {
                    tracing::info!(lease = %self.name, holder = %self.holder, epoch, "lease work ended; giving the lease up");
                    self.retry
                }
                lost = watch(&conn, &self.name, epoch) => {
                    tracing::warn!(lease = %self.name, holder = %self.holder, epoch, error = %lost, "lease lost; its work stopped");
                    // Leave the first try to the standbys: the trouble may be this process's.
                    self.retry.saturating_mul(2)
                }
            };
            // Dropping the last handle closes the connection, which releases the lock (a
            // storing task that still has it fails on the dead connection, or finishes and
            // drops it).
            drop(conn);
            tokio::time::sleep(pause).await;
        }
    }

    /// Opens a lease connection and tries every retry interval until it holds the lock;
    /// then records the acquisition. `None` after a database error (logged).
    async fn take(&self, app: &str) -> Option<(sqlx::PgConnection, i64)> {
        let mut conn = match leases::open_dedicated(&self.pool, app).await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(lease = %self.name, error = %e, "cannot open a lease connection");
                return None;
            }
        };
        loop {
            match leases::try_take(&mut conn, &self.name).await {
                Ok(true) => break,
                Ok(false) => tokio::time::sleep(self.retry).await,
                Err(e) => {
                    tracing::warn!(lease = %self.name, error = %e, "cannot try the lease");
                    return None;
                }
            }
        }
        match leases::record_taken(&mut conn, &self.name, &self.holder).await {
            Ok(epoch) => Some((conn, epoch)),
            Err(e) => {
                // Closing the connection gives the lock up again.
                tracing::warn!(lease = %self.name, error = %e, "cannot record the lease");
                None
            }
        }
    }
}

/// Checks the lease connection every [`CHECK_EVERY`] and returns why it failed. While the
/// guarded work is using the connection the check is skipped: the work's own statements
/// fail if it is gone.
async fn watch(conn: &SharedConn, name: &str, epoch: i64) -> String {
    let mut tick = tokio::time::interval(CHECK_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        tick.tick().await;
        let Ok(mut c) = conn.try_lock() else {
            continue;
        };
        match tokio::time::timeout(CHECK_TIMEOUT, leases::renew(&mut c, name, epoch)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return e.to_string(),
            Err(_) => return format!("the check took over {CHECK_TIMEOUT:?}"),
        }
    }
}
