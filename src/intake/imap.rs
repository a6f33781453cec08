//! IMAP intake (RFC 3501): LOGIN, SELECT, then `UID FETCH` of every UID after the stored
//! cursor with `BODY.PEEK[]`, so nothing is marked \Seen or deleted. Each fetched batch is
//! stored and the cursor advanced to its last UID in one transaction (`Desk::ingest_batch`),
//! while the next batch is being fetched.
//!
//! [`MailboxSession`] is one logged-in connection with the folder selected; it can fetch
//! many times ([`MailboxSession::fetch_new`]) and wait for changes in IDLE (RFC 2177,
//! [`MailboxSession::idle_wait`]) in between, which is how the supervisor
//! (`intake::supervisor`) gets mail pushed. [`fetch_mailbox`] is the one-shot form.

use std::fmt::Debug;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, Context};
use async_imap::extensions::idle::IdleResponse;
use async_imap::imap_proto::{Response, Status};
use async_imap::types::UnsolicitedResponse;
use async_imap::{Client, Session};
use futures::TryStreamExt;
use secrecy::{ExposeSecret, SecretString};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

use crate::config::MailboxSettings;
use crate::desk::{Desk, Ingested};
use crate::store;

/// Longest wait for the TCP connection, the TLS handshake, the greeting, and any single
/// command's response (LOGIN, CAPABILITY, SELECT, UID SEARCH, DONE, one FETCH item).
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);

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
}

impl FetchReport {
    fn count(&mut self, o: &Ingested) {
        self.fetched += 1;
        match o {
            Ingested::Created(_) => self.created += 1,
            Ingested::Joined(_) => self.joined += 1,
            Ingested::Duplicate => self.duplicates += 1,
            Ingested::Quarantined(_) => self.quarantined += 1,
        }
    }
}

/// A byte stream an IMAP session runs over: plain TCP or TLS.
pub trait ImapStream: AsyncRead + AsyncWrite + Unpin + Debug + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Debug + Send> ImapStream for T {}

/// Why [`MailboxSession::idle_wait`] returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wake {
    /// The server sent data (EXISTS, RECENT, EXPUNGE, FETCH …): something changed.
    Changed,
    /// The renewal time passed without news; IDLE was ended so it can be re-issued.
    Renew,
}

/// One logged-in IMAP session with the mailbox's folder selected (RFC 3501 §6.3.1).
pub struct MailboxSession {
    session: Session<Box<dyn ImapStream>>,
    name: String,
    uidvalidity: u32,
    exists: u32,
    idle: bool,
}

impl std::fmt::Debug for MailboxSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MailboxSession")
            .field("name", &self.name)
            .field("uidvalidity", &self.uidvalidity)
            .field("exists", &self.exists)
            .field("idle", &self.idle)
            .finish_non_exhaustive()
    }
}

/// Runs `fut` for at most `limit`; `what` names the step in the timeout error.
async fn within<T, E, F>(
    limit: Duration,
    what: impl FnOnce() -> String,
    fut: F,
) -> anyhow::Result<T>
where
    F: Future<Output = Result<T, E>>,
    E: Into<anyhow::Error>,
{
    match tokio::time::timeout(limit, fut).await {
        Ok(r) => r.map_err(Into::into).with_context(what),
        Err(_) => Err(anyhow!("{}: no answer within {limit:?}", what())),
    }
}

/// Connects to `mb` (TCP, or TLS when `mb.tls`), reads the greeting, logs in, asks for the
/// CAPABILITY list, and SELECTs `mb.folder`. Every step is bounded by [`COMMAND_TIMEOUT`].
///
/// Errors (each names the mailbox, never the password): the password variable is unset, the
/// connection or TLS handshake fails, LOGIN is refused, the folder cannot be selected, or
/// the server sends no UIDVALIDITY.
pub async fn open(
    mb: &MailboxSettings,
    password: Option<&SecretString>,
) -> anyhow::Result<MailboxSession> {
    let password = password.ok_or_else(|| {
        anyhow!(
            "mailbox {}: environment variable {} is not set",
            mb.name,
            mb.password_env
        )
    })?;
    let tcp = within(
        COMMAND_TIMEOUT,
        || {
            format!(
                "mailbox {}: cannot connect to {}:{}",
                mb.name, mb.host, mb.port
            )
        },
        TcpStream::connect((mb.host.as_str(), mb.port)),
    )
    .await?;
    tcp.set_nodelay(true).ok();
    let stream: Box<dyn ImapStream> = if mb.tls {
        let connector = tokio_rustls::TlsConnector::from(Arc::new(tls_config()));
        let name = rustls::pki_types::ServerName::try_from(mb.host.clone())
            .with_context(|| format!("mailbox {}: bad TLS server name {}", mb.name, mb.host))?;
        let tls = within(
            COMMAND_TIMEOUT,
            || format!("mailbox {}: TLS handshake failed", mb.name),
            connector.connect(name, tcp),
        )
        .await?;
        Box::new(tls)
    } else {
        Box::new(tcp)
    };
    let mut client = Client::new(stream);
    within(
        COMMAND_TIMEOUT,
        || format!("mailbox {}: reading the IMAP greeting", mb.name),
        client.read_response(),
    )
    .await?
    .ok_or_else(|| anyhow!("mailbox {}: server closed before its greeting", mb.name))?;
    let mut session = match tokio::time::timeout(
        COMMAND_TIMEOUT,
        client.login(&mb.username, password.expose_secret()),
    )
    .await
    {
        Ok(Ok(s)) => s,
        Ok(Err((e, _))) => {
            return Err(anyhow!(
                "mailbox {}: LOGIN as {} failed: {e}",
                mb.name,
                mb.username
            ))
        }
        Err(_) => {
            return Err(anyhow!(
                "mailbox {}: LOGIN as {}: no answer within {COMMAND_TIMEOUT:?}",
                mb.name,
                mb.username
            ))
        }
    };
    let caps = within(
        COMMAND_TIMEOUT,
        || format!("mailbox {}: CAPABILITY", mb.name),
        session.capabilities(),
    )
    .await?;
    let idle = caps.has_str("IDLE");
    let folder = within(
        COMMAND_TIMEOUT,
        || format!("mailbox {}: SELECT {}", mb.name, mb.folder),
        session.select(&mb.folder),
    )
    .await?;
    let uidvalidity = folder
        .uid_validity
        .ok_or_else(|| anyhow!("mailbox {}: server sent no UIDVALIDITY", mb.name))?;
    Ok(MailboxSession {
        session,
        name: mb.name.clone(),
        uidvalidity,
        exists: folder.exists,
        idle,
    })
}

fn tls_config() -> rustls::ClientConfig {
    let roots = rustls::RootCertStore::from_iter(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth()
}

impl MailboxSession {
    /// The folder's UIDVALIDITY as reported by SELECT (RFC 3501 §2.3.1.1).
    pub fn uidvalidity(&self) -> u32 {
        self.uidvalidity
    }

    /// Messages in the folder when it was selected (the EXISTS of SELECT).
    pub fn exists_at_select(&self) -> u32 {
        self.exists
    }

    /// Whether the server's CAPABILITY lists IDLE (RFC 2177).
    pub fn supports_idle(&self) -> bool {
        self.idle
    }

    /// Fetches and ingests every message after the stored cursor, in UID FETCH commands of
    /// at most `batch` UIDs, until nothing after the cursor is left. Each batch is stored in
    /// one transaction that also moves the cursor to its last UID ([`Desk::ingest_batch`]),
    /// while the next batch is being fetched. The cursor is read from the database on every
    /// call, so several runs (or processes) share it safely.
    ///
    /// A changed UIDVALIDITY re-reads the whole folder: stored Message-IDs come out as
    /// duplicates, nothing is stored twice.
    ///
    /// Errors: the IMAP connection or a command fails or times out, or the database fails.
    /// Batches stored before the error stay stored (and the cursor covers them); the rest,
    /// including the whole batch being stored when it happened, are fetched by the next run. The session should be dropped after an error.
    pub async fn fetch_new(&mut self, desk: &Desk, batch: u32) -> anyhow::Result<FetchReport> {
        // Whatever the server announced so far is covered by the UID SEARCH below.
        self.take_changes();
        let name = self.name.clone();
        let uidvalidity = self.uidvalidity;
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
        // `n:*` always includes the highest UID, even when it is below n (RFC 3501 §6.4.8),
        // hence the filter.
        let mut uids: Vec<u32> = within(
            COMMAND_TIMEOUT,
            || format!("mailbox {name}: UID SEARCH"),
            self.session
                .uid_search(format!("UID {}:*", after.saturating_add(1))),
        )
        .await?
        .into_iter()
        .filter(|u| *u > after)
        .collect();
        uids.sort_unstable();
        // Pipelined: while one batch is being stored (one transaction, cursor at its last
        // UID), the next one is being fetched over IMAP.
        let mut pending: Option<Vec<(u32, Vec<u8>)>> = None;
        for chunk in uids.chunks(batch.max(1) as usize) {
            let set = chunk
                .iter()
                .map(u32::to_string)
                .collect::<Vec<_>>()
                .join(",");
            let fetch = fetch_set(&mut self.session, &name, &set);
            let store = store_batch(desk, &name, uidvalidity, pending.take(), &mut report);
            let (fetched, stored) = tokio::join!(fetch, store);
            stored?;
            pending = Some(fetched?);
        }
        store_batch(desk, &name, uidvalidity, pending, &mut report).await?;
        Ok(report)
    }

    /// Empties the queue of unsolicited server responses; true when one of them announced a
    /// change of the folder (EXISTS, RECENT or EXPUNGE, RFC 3501 §7.3–7.4).
    fn take_changes(&mut self) -> bool {
        let queue = &self.session.unsolicited_responses;
        drain_changes(|| queue.try_recv().ok())
    }

    /// Waits in IDLE (RFC 2177) until the server reports anything about the folder, or
    /// `renew` passes; then ends IDLE with DONE and gives the session back, ready for
    /// [`MailboxSession::fetch_new`].
    ///
    /// A change the server announced before IDLE began (during an earlier fetch, or between
    /// it and the IDLE command) is noticed too: this returns [`Wake::Changed`] at once, so
    /// nothing that arrived after the last UID SEARCH waits for the next change.
    ///
    /// Errors: the server closed the connection (including a `* BYE` during IDLE), refused
    /// IDLE, or a read or write failed or timed out. The session is gone then.
    pub async fn idle_wait(self, renew: Duration) -> anyhow::Result<(MailboxSession, Wake)> {
        let MailboxSession {
            session,
            name,
            uidvalidity,
            exists,
            idle,
        } = self;
        let queue = session.unsolicited_responses.clone();
        let mut handle = session.idle();
        within(
            COMMAND_TIMEOUT,
            || format!("mailbox {name}: IDLE"),
            handle.init(),
        )
        .await?;
        let wake = if drain_changes(|| queue.try_recv().ok()) {
            Wake::Changed
        } else {
            let (wait, _stop) = handle.wait_with_timeout(renew);
            // `wait_with_timeout` restarts its clock on every keepalive (`* OK Still here`),
            // so the renewal deadline is enforced here as well.
            match tokio::time::timeout(renew, wait).await {
                Err(_) | Ok(Ok(IdleResponse::Timeout)) => Wake::Renew,
                Ok(Ok(IdleResponse::NewData(data))) => {
                    if let Response::Data {
                        status: Status::Bye,
                        outcome,
                    } = data.parsed()
                    {
                        return Err(anyhow!(
                            "mailbox {name}: server ended the session during IDLE: BYE {}",
                            outcome.information.as_deref().unwrap_or("")
                        ));
                    }
                    Wake::Changed
                }
                // We never trigger the stop source: the stream ended, i.e. the connection
                // was closed.
                Ok(Ok(IdleResponse::ManualInterrupt)) => {
                    return Err(anyhow!(
                        "mailbox {name}: server closed the connection during IDLE"
                    ))
                }
                Ok(Err(e)) => return Err(anyhow!("mailbox {name}: IDLE: {e}")),
            }
        };
        let session = within(
            COMMAND_TIMEOUT,
            || format!("mailbox {name}: ending IDLE (DONE)"),
            handle.done(),
        )
        .await?;
        Ok((
            MailboxSession {
                session,
                name,
                uidvalidity,
                exists,
                idle,
            },
            wake,
        ))
    }

    /// Sends LOGOUT (best effort, bounded by [`COMMAND_TIMEOUT`]) and closes the connection.
    pub async fn logout(mut self) {
        let _ = tokio::time::timeout(COMMAND_TIMEOUT, self.session.logout()).await;
    }
}

/// `UID FETCH set (UID BODY.PEEK[])` (RFC 3501 §6.4.8): the messages of `set` as
/// `(UID, raw bytes)`, ascending by UID. Each response item is bounded by
/// [`COMMAND_TIMEOUT`]. Errors: the command fails, times out or the connection drops.
async fn fetch_set(
    session: &mut Session<Box<dyn ImapStream>>,
    name: &str,
    set: &str,
) -> anyhow::Result<Vec<(u32, Vec<u8>)>> {
    let mut fetched: Vec<(u32, Vec<u8>)> = Vec::new();
    let mut stream = within(
        COMMAND_TIMEOUT,
        || format!("mailbox {name}: UID FETCH"),
        session.uid_fetch(set, "(UID BODY.PEEK[])"),
    )
    .await?;
    while let Some(f) = within(
        COMMAND_TIMEOUT,
        || format!("mailbox {name}: UID FETCH"),
        stream.try_next(),
    )
    .await?
    {
        if let (Some(uid), Some(body)) = (f.uid, f.body()) {
            fetched.push((uid, body.to_vec()));
        }
    }
    fetched.sort_by_key(|(uid, _)| *uid);
    Ok(fetched)
}

/// Stores one fetched batch with [`Desk::ingest_batch`] (one transaction, cursor at its
/// last UID) and counts the outcomes into `report`. `None` or an empty batch does nothing.
async fn store_batch(
    desk: &Desk,
    name: &str,
    uidvalidity: u32,
    batch: Option<Vec<(u32, Vec<u8>)>>,
    report: &mut FetchReport,
) -> anyhow::Result<()> {
    let Some(batch) = batch.filter(|b| !b.is_empty()) else {
        return Ok(());
    };
    let outcomes = desk
        .ingest_batch(name, uidvalidity, &batch)
        .await
        .with_context(|| {
            format!(
                "mailbox {name}: storing UIDs {}..={}",
                batch.first().map_or(0, |b| b.0),
                batch.last().map_or(0, |b| b.0)
            )
        })?;
    for ((uid, _), outcome) in batch.iter().zip(&outcomes) {
        tracing::info!(mailbox = %name, uid, outcome = ?outcome, "ingested");
        report.count(outcome);
    }
    Ok(())
}

/// Takes every queued unsolicited response from `next` (a non-blocking receive); true when
/// one of them announced a change of the folder (EXISTS, RECENT or EXPUNGE,
/// RFC 3501 §7.3–7.4).
fn drain_changes(mut next: impl FnMut() -> Option<UnsolicitedResponse>) -> bool {
    let mut changed = false;
    while let Some(r) = next() {
        if matches!(
            r,
            UnsolicitedResponse::Exists(_)
                | UnsolicitedResponse::Recent(_)
                | UnsolicitedResponse::Expunge(_)
        ) {
            changed = true;
        }
    }
    changed
}

/// Fetches and ingests everything new in mailbox `mb` once: [`open`], then
/// [`MailboxSession::fetch_new`] in batches of `batch` UIDs until nothing after the cursor is
/// left, then LOGOUT.
///
/// Errors: those of [`open`] and [`MailboxSession::fetch_new`]. Messages ingested before the
/// error stay ingested; the rest are fetched next run.
pub async fn fetch_mailbox(
    desk: &Desk,
    mb: &MailboxSettings,
    password: Option<&SecretString>,
    batch: u32,
) -> anyhow::Result<FetchReport> {
    let mut session = open(mb, password).await?;
    let report = session.fetch_new(desk, batch).await?;
    session.logout().await;
    Ok(report)
}
