//! One long-lived task per mailbox that keeps its intake running: connect, LOGIN, SELECT
//! (`intake::imap`), run fetch → parse → store over everything after the cursor
//! (`intake::pipeline`), then wait for news — in IMAP IDLE (RFC 2177) where the
//! server offers it, else by polling — and fetch again; reconnect after any error with capped
//! exponential backoff and jitter. What it sees goes to the `mailbox_status` table.
//!
//! Nothing is lost or repeated across reconnects: each message is stored and the cursor
//! advanced in one transaction, and Message-IDs are de-duplicated (see `desk::ingest`).

use std::time::Duration;

use rand::Rng;
use secrecy::SecretString;

use crate::config::{IntakeSettings, MailboxSettings, ReplicaSettings};
use crate::desk::Desk;
use crate::replicas::{self, Held, Lease};
use crate::store::mailbox_status::{self, Mode};

use super::{imap, pipeline};

/// RFC 2177 §3: clients should re-issue IDLE at least every 29 minutes.
const MAX_IDLE_RENEW: Duration = Duration::from_secs(29 * 60);

/// The first reconnection delay; it doubles per consecutive failure.
const BACKOFF_BASE: Duration = Duration::from_secs(1);

/// A session that ran at least this long before failing counts as healthy: the next
/// reconnection starts again from [`BACKOFF_BASE`]. Shorter sessions (a refused LOGIN, a
/// server that drops us right after the fetch) keep doubling the delay.
const HEALTHY_SESSION: Duration = Duration::from_secs(60);

/// The delay before reconnection attempt number `failures` (1 for the first failure):
/// `BACKOFF_BASE · 2^(failures-1)`, capped at `max` (at least 1 s), then scaled by a random
/// factor in [0.5, 1.0] so that many mailboxes failing together do not reconnect in lockstep.
pub fn backoff(failures: u32, max: Duration) -> Duration {
    let max = max.max(Duration::from_secs(1));
    let exp = failures.saturating_sub(1).min(20);
    let full = BACKOFF_BASE.saturating_mul(1u32 << exp).min(max);
    let factor = rand::thread_rng().gen_range(0.5..=1.0);
    full.mul_f64(factor)
}

/// Keeps the intake of mailbox `mb` running until the task is aborted; never returns.
///
/// The mailbox is read by one replica at a time: the sessions run only while this process
/// holds lease `mailbox:<name>` (`crate::replicas`, retried every
/// `replicas.lease_retry_secs`), and every batch is stored on the lease connection, so a
/// reader that lost its lease cannot commit. While another replica reads it this one
/// stands by ([`crate::metrics::IMAP_SESSION`] state `standby`,
/// [`crate::metrics::MAILBOX_LEADER`] 0).
///
/// Per session: [`imap::open`], then [`pipeline::fetch_new_on`]; then, where the
/// server lists IDLE and `intake.use_idle` is on, [`imap::MailboxSession::idle_wait`] (renewed
/// every `intake.idle_renew_secs`, at most 29 minutes) and fetch again after every wake-up;
/// otherwise fetch every `intake.poll_interval_secs`. Each completed fetch records a success
/// (with the mode) in `mailbox_status`; any error (connection, LOGIN, IMAP, database) records
/// the error, drops the session, and reconnects after [`backoff`] (capped at
/// `intake.max_backoff_secs`; the count of failures starts over after a session that lasted
/// a minute or more). `password` is never logged.
pub async fn supervise(
    desk: Desk,
    mb: MailboxSettings,
    password: Option<SecretString>,
    intake: IntakeSettings,
    replicas: ReplicaSettings,
) {
    set_state(&mb.name, STANDBY);
    metrics::gauge!(crate::metrics::MAILBOX_LEADER, "mailbox" => mb.name.clone()).set(0.0);
    let lease = Lease::new(
        desk.pool().clone(),
        &replicas::mailbox_lease(&mb.name),
        &replicas,
    );
    lease
        .run(move |held| {
            let (desk, mb, password, intake) =
                (desk.clone(), mb.clone(), password.clone(), intake.clone());
            async move { lead(&desk, &mb, password.as_ref(), &intake, held).await }
        })
        .await;
}

/// The mailbox's session state in this process, [`crate::metrics::IMAP_SESSION`]'s `state`.
const STANDBY: &str = "standby";
const STATES: [&str; 5] = ["connected", "idle", "polling", "backoff", STANDBY];

/// Sets [`crate::metrics::IMAP_SESSION`] of `mailbox` to 1 for `state`, 0 for the others.
fn set_state(mailbox: &str, state: &str) {
    for s in STATES {
        let v = if s == state { 1.0 } else { 0.0 };
        metrics::gauge!(crate::metrics::IMAP_SESSION, "mailbox" => mailbox.to_string(), "state" => s)
            .set(v);
    }
}

/// While alive, this process leads the mailbox; dropped (the lease lost or the task
/// aborted): standby again.
struct Leading(String);

impl Drop for Leading {
    fn drop(&mut self) {
        metrics::gauge!(crate::metrics::MAILBOX_LEADER, "mailbox" => self.0.clone()).set(0.0);
        set_state(&self.0, STANDBY);
    }
}

/// Reads mailbox `mb` while the lease `held` lasts (the caller drops this future when the
/// lease is lost): sessions, with reconnection after [`backoff`].
async fn lead(
    desk: &Desk,
    mb: &MailboxSettings,
    password: Option<&SecretString>,
    intake: &IntakeSettings,
    held: Held,
) {
    metrics::gauge!(crate::metrics::MAILBOX_LEADER, "mailbox" => mb.name.clone()).set(1.0);
    let _leading = Leading(mb.name.clone());
    let max_backoff = Duration::from_secs(intake.max_backoff_secs);
    let mut failures: u32 = 0;
    loop {
        let started = tokio::time::Instant::now();
        match run_session(desk, mb, password, intake, &held).await {
            Ok(()) => failures = 0,
            Err(e) => {
                if started.elapsed() >= HEALTHY_SESSION {
                    failures = 0;
                }
                failures = failures.saturating_add(1);
                let wait = backoff(failures, max_backoff);
                let text = one_line(&format!("{e:#}"));
                tracing::warn!(mailbox = %mb.name, error = %text, retry_in = ?wait, "mailbox intake failed; reconnecting");
                metrics::counter!(crate::metrics::IMAP_RECONNECTS, "mailbox" => mb.name.clone())
                    .increment(1);
                set_state(&mb.name, "backoff");
                record(desk, &mb.name, Err(&text)).await;
                tokio::time::sleep(wait).await;
            }
        }
    }
}

/// One session: runs until an error (returned), or — when polling with an interval too long
/// to keep a session open — until it logs out to reconnect at the next poll (`Ok`).
async fn run_session(
    desk: &Desk,
    mb: &MailboxSettings,
    password: Option<&SecretString>,
    intake: &IntakeSettings,
    held: &Held,
) -> anyhow::Result<()> {
    let renew = Duration::from_secs(intake.idle_renew_secs.max(1)).min(MAX_IDLE_RENEW);
    let interval = Duration::from_secs(intake.poll_interval_secs.max(1));
    let secret = super::oauth::credential(mb, password, Some(desk.pool())).await?;
    let mut session = imap::open(mb, Some(&secret)).await?;
    let mode = if intake.use_idle && session.supports_idle() {
        Mode::Idle
    } else {
        Mode::Poll
    };
    tracing::info!(mailbox = %mb.name, mode = mode.as_str(), uidvalidity = session.uidvalidity(),
        messages = session.exists_at_select(), "mailbox session open");
    loop {
        set_state(&mb.name, "connected");
        let report = pipeline::fetch_new_on(
            &mut session,
            desk,
            intake.fetch_batch,
            Some(held.conn.clone()),
        )
        .await?;
        if report.fetched > 0 {
            tracing::info!(mailbox = %mb.name, ?report, "fetch run");
        }
        record(desk, &mb.name, Ok(mode)).await;
        match mode {
            Mode::Idle => {
                set_state(&mb.name, "idle");
                let (back, wake) = session.idle_wait(renew).await?;
                tracing::debug!(mailbox = %mb.name, ?wake, "IDLE ended");
                session = back;
            }
            // A session left unused longer than the renewal time may be logged out by the
            // server (RFC 3501 §5.4): reconnect per poll then.
            Mode::Poll if interval >= renew => {
                session.logout().await;
                set_state(&mb.name, "polling");
                tokio::time::sleep(interval).await;
                return Ok(());
            }
            Mode::Poll => {
                set_state(&mb.name, "polling");
                tokio::time::sleep(interval).await
            }
        }
    }
}

/// Writes a success in `mode` (`Ok`) or an error text (`Err`) to `mailbox_status`; a failure
/// to write is logged, not fatal (intake goes on without it).
async fn record(desk: &Desk, mailbox: &str, what: Result<Mode, &str>) {
    let result = match desk.pool().acquire().await {
        Ok(mut conn) => match what {
            Ok(mode) => mailbox_status::record_success(&mut conn, mailbox, mode).await,
            Err(text) => mailbox_status::record_error(&mut conn, mailbox, text).await,
        },
        Err(e) => Err(e),
    };
    if let Err(e) = result {
        tracing::warn!(mailbox, error = %e, "cannot record the mailbox status");
    }
}

/// Joins the lines of an error chain into one line, for storage and display.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_then_caps_with_jitter_in_the_upper_half() {
        let max = Duration::from_secs(60);
        for _ in 0..200 {
            let first = backoff(1, max);
            assert!(first >= Duration::from_millis(500) && first <= Duration::from_secs(1));
            let third = backoff(3, max);
            assert!(third >= Duration::from_secs(2) && third <= Duration::from_secs(4));
            let late = backoff(50, max);
            assert!(late >= Duration::from_secs(30) && late <= max, "{late:?}");
        }
        assert!(backoff(u32::MAX, Duration::ZERO) <= Duration::from_secs(1));
    }

    #[test]
    fn one_line_joins_error_chains() {
        assert_eq!(one_line("a: b\n  c\td"), "a: b c d");
    }
}
