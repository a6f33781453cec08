//! Intake's pipeline over one IMAP session: fetch → parse → store, in three overlapping
//! stages. While batch N is being stored (one transaction that also advances the mailbox
//! cursor to its last UID, `Desk::ingest_isolated`) on a task of its own, batch N+1 is being
//! fetched over IMAP and then parsed on a thread of its own, so the two use both cores.
//!
//! Nothing is lost or repeated: the cursor moves only with the messages it covers, a batch
//! that fails on its messages is split until the bad one is alone and quarantined, and a run
//! that fails leaves everything after the last committed batch to the next run.
//! `intake::imap` speaks IMAP; this module decides what to fetch and where it goes.

use std::future::Future;

use anyhow::{anyhow, Context};
use chrono::{DateTime, Utc};
use secrecy::SecretString;

use crate::config::MailboxSettings;
use crate::desk::{Desk, Fetched, Ingested};
use crate::store;
use crate::store::leases::SharedConn;

use super::imap::{self, BatchLimits, MailboxSession, RawMessage};

/// Counts from one fetch run of one mailbox.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct FetchReport {
    /// Messages fetched.
    pub fetched: usize,
    /// New tickets.
    pub created: usize,
    /// Messages that joined an existing ticket.
    pub joined: usize,
    /// Messages already stored.
    pub duplicates: usize,
    /// Messages quarantined.
    pub quarantined: usize,
    /// Automatic messages (bounces, feedback reports, auto-replies) attached as notes.
    pub noted: usize,
}

impl FetchReport {
    fn count(&mut self, o: &Ingested) {
        self.fetched += 1;
        match o {
            Ingested::Created(_) => self.created += 1,
            Ingested::Joined(_) => self.joined += 1,
            Ingested::Duplicate => self.duplicates += 1,
            Ingested::Quarantined(_) => self.quarantined += 1,
            Ingested::Noted(_) => self.noted += 1,
        }
    }

    fn add(&mut self, o: FetchReport) {
        self.fetched += o.fetched;
        self.created += o.created;
        self.joined += o.joined;
        self.duplicates += o.duplicates;
        self.quarantined += o.quarantined;
        self.noted += o.noted;
    }
}

/// Fetches and ingests every message of `session`'s folder after the stored cursor, until
/// nothing after it is left: the UIDs are planned into batches of at most `batch` UIDs and
/// at most `intake.batch_max_bytes` bytes ([`MailboxSession::plan_after`]; a message over the
/// budget is a batch of its own). Each batch is stored in one transaction that also moves the
/// cursor to its last UID ([`Desk::ingest_isolated`]: a message that fails alone is
/// quarantined, the rest is stored), while the next batch is being fetched and parsed; once a
/// batch is committed its messages get the mailbox's `after_ingest` (\Seen or a move,
/// [`MailboxSession::after_commit`]). The cursor is read from the database on every call, so
/// several runs (or processes) share it safely.
///
/// A changed UIDVALIDITY re-reads the whole folder: stored Message-IDs come out as
/// duplicates, nothing is stored twice.
///
/// Errors: the IMAP connection or a command fails or times out, or the database fails.
/// Batches stored before the error stay stored (and the cursor covers them); the rest,
/// including the whole batch being stored when it happened, are fetched by the next run. The
/// session should be dropped after an error.
pub async fn fetch_new(
    session: &mut MailboxSession,
    desk: &Desk,
    batch: u32,
) -> anyhow::Result<FetchReport> {
    fetch_new_on(session, desk, batch, None).await
}

/// [`fetch_new`] storing every batch on `lease` when given: the mailbox reader's lease
/// connection (`crate::replicas`), so that a reader that lost its lease cannot commit
/// ([`Desk::ingest_isolated_on`]). The connection is locked for each batch's store.
///
/// Errors: as [`fetch_new`]; a lost lease connection fails the batch being stored.
pub async fn fetch_new_on(
    session: &mut MailboxSession,
    desk: &Desk,
    batch: u32,
    lease: Option<SharedConn>,
) -> anyhow::Result<FetchReport> {
    // Whatever the server announced so far is covered by the UID SEARCH below.
    session.take_changes();
    let name = session.name().to_string();
    let uidvalidity = session.uidvalidity();
    let cursor = {
        let mut conn = desk
            .pool()
            .acquire()
            .await
            .with_context(|| format!("mailbox {name}: database"))?;
        store::cursors::get(&mut conn, &name)
            .await
            .with_context(|| format!("mailbox {name}: reading the cursor"))?
    };
    let after = match cursor {
        Some(c) if c.uidvalidity == uidvalidity => c.last_uid,
        Some(c) => {
            tracing::warn!(mailbox = %name, old = c.uidvalidity, new = uidvalidity,
                "UIDVALIDITY changed; re-reading the folder (stored Message-IDs are skipped)");
            0
        }
        None => 0,
    };
    let mut report = FetchReport::default();
    let limit = desk.max_message_bytes();
    let batches = session
        .plan_after(
            after,
            BatchLimits {
                max_count: batch,
                max_bytes: desk.batch_max_bytes(),
                per_message: limit,
            },
        )
        .await?;
    // Pipelined: while one batch is being parsed and stored (one transaction, cursor at
    // its last UID) on a task of its own, the next one is being fetched over IMAP, so
    // the two use both cores.
    let mut pending: Option<Vec<Fetched>> = None;
    for uids in batches {
        let stored_uids = batch_uids(pending.as_deref());
        let store = spawn_store(desk, lease.clone(), &name, uidvalidity, pending.take());
        let fetched = match session.fetch_bodies(&uids, limit).await {
            Ok(batch) => prepare(batch, desk.clock_now()).await,
            Err(e) => Err(e),
        };
        // Wait for the store even when the fetch failed: its outcome is what counts.
        report.add(store.await?);
        // The flag/move needs the session the fetch was using; it runs once both ended.
        session.after_commit(&stored_uids).await;
        pending = Some(fetched?);
    }
    let stored_uids = batch_uids(pending.as_deref());
    report.add(spawn_store(desk, lease, &name, uidvalidity, pending).await?);
    session.after_commit(&stored_uids).await;
    Ok(report)
}

/// The UIDs of a fetched batch (empty for none).
fn batch_uids(batch: Option<&[Fetched]>) -> Vec<u32> {
    batch.unwrap_or_default().iter().map(|m| m.uid).collect()
}

/// Parses a fetched batch ([`Fetched::new`], which catches a panic per message) on a thread
/// of its own with a [`super::parse::PARSE_STACK_BYTES`] stack, so parsing neither holds up
/// the runtime nor waits for the batch before it to be stored. Each message is received at
/// its INTERNALDATE, or at `now` (the desk's clock) when the server gave none.
///
/// Errors: the thread could not be started.
async fn prepare(batch: Vec<RawMessage>, now: DateTime<Utc>) -> anyhow::Result<Vec<Fetched>> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("claimdesk-parse".into())
        .stack_size(super::parse::PARSE_STACK_BYTES)
        .spawn(move || {
            let parsed: Vec<Fetched> = batch
                .into_iter()
                .map(|m| {
                    // INTERNALDATE is the server's (or, for mail copied or APPENDed in, the
                    // copier's) word: one in the future would start SLA clocks that have
                    // not begun, so it counts as now.
                    let at = m.internal_date.map_or(now, |d| d.min(now));
                    Fetched::new(m.uid, m.bytes, m.size).received(at)
                })
                .collect();
            let _ = tx.send(parsed);
        })
        .context("starting the parsing thread")?;
    rx.await
        .map_err(|_| anyhow!("the parsing thread ended without a result"))
}

/// Stores one fetched batch with [`Desk::ingest_isolated`] (one transaction, cursor at its
/// last UID; a batch that fails on its messages is split until the bad one is alone and
/// quarantined) on a task of its own — on the `lease` connection when given — and counts
/// the outcomes. `None` or an empty batch does
/// nothing. The returned future resolves when the batch is committed (or failed).
fn spawn_store(
    desk: &Desk,
    lease: Option<SharedConn>,
    name: &str,
    uidvalidity: u32,
    batch: Option<Vec<Fetched>>,
) -> impl Future<Output = anyhow::Result<FetchReport>> {
    let task = batch.filter(|b| !b.is_empty()).map(|batch| {
        let desk = desk.clone();
        let name = name.to_string();
        tokio::spawn(async move {
            let mut report = FetchReport::default();
            let mut held = match &lease {
                Some(c) => Some(c.lock().await),
                None => None,
            };
            let outcomes = desk
                .ingest_isolated_on(held.as_deref_mut(), &name, uidvalidity, &batch)
                .await
                .with_context(|| {
                    format!(
                        "mailbox {name}: storing UIDs {}..={}",
                        batch.first().map_or(0, |b| b.uid),
                        batch.last().map_or(0, |b| b.uid)
                    )
                })?;
            drop(held);
            for (m, outcome) in batch.iter().zip(&outcomes) {
                tracing::info!(mailbox = %name, uid = m.uid, outcome = ?outcome, "ingested");
                report.count(outcome);
            }
            Ok::<_, anyhow::Error>(report)
        })
    });
    async move {
        match task {
            None => Ok(FetchReport::default()),
            Some(t) => t
                .await
                .map_err(|e| anyhow::anyhow!("storing task failed: {e}"))?,
        }
    }
}

/// Fetches and ingests everything new in mailbox `mb` once: [`imap::open`], then
/// [`fetch_new`] in batches of `batch` UIDs until nothing after the cursor is left, then
/// LOGOUT.
///
/// Errors: those of [`imap::open`] and [`fetch_new`]. Messages ingested before the error
/// stay ingested; the rest are fetched next run.
pub async fn fetch_mailbox(
    desk: &Desk,
    mb: &MailboxSettings,
    password: Option<&SecretString>,
    batch: u32,
) -> anyhow::Result<FetchReport> {
    let secret = super::oauth::credential(mb, password, Some(desk.pool())).await?;
    let mut session = imap::open(mb, Some(&secret)).await?;
    let report = fetch_new(&mut session, desk, batch).await?;
    session.logout().await;
    Ok(report)
}
