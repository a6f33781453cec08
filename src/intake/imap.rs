//! The IMAP session (RFC 3501) and nothing else: connect, TLS (implicit or STARTTLS),
//! authenticate, SELECT (with its UIDVALIDITY), then — as often as the caller asks — `UID
//! SEARCH` for what is after a UID, `UID FETCH (UID RFC822.SIZE)` for the sizes, the bodies
//! (with their INTERNALDATE) with `BODY.PEEK[]` in planned batches (so fetching marks nothing \Seen and deletes
//! nothing), the post-commit \Seen flag or move (`after_ingest`), and IDLE (RFC 2177) in
//! between.
//!
//! [`MailboxSession`] is one logged-in connection with the folder selected. It knows nothing
//! of the desk or the database: `intake::pipeline` runs fetch → parse → store over it, and the
//! supervisor (`intake::supervisor`) keeps sessions running.

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

use crate::config::{AfterIngest, ImapAuth, ImapTls, MailboxSettings};

/// Longest wait for the TCP connection, the TLS handshake, the greeting, and any single
/// command's response (LOGIN, CAPABILITY, SELECT, UID SEARCH, DONE, one FETCH item).
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);

/// One message as `UID FETCH` returned it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawMessage {
    /// Its UID in the selected folder.
    pub uid: u32,
    /// Its first bytes: all of it, or as many as the fetch's limit allowed.
    pub bytes: Vec<u8>,
    /// Its full size in bytes (RFC822.SIZE; `bytes.len()` when the server sent none).
    pub size: usize,
    /// When it reached the server: its INTERNALDATE (RFC 3501 §2.3.3, the delivery time for
    /// mail delivered by SMTP, the APPEND date otherwise); `None` when the server sent none
    /// or one that cannot be read.
    pub internal_date: Option<chrono::DateTime<chrono::Utc>>,
}

/// How [`MailboxSession::plan_after`] groups UIDs into `UID FETCH` batches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchLimits {
    /// At most this many messages per batch (0 counts as 1).
    pub max_count: u32,
    /// At most this many bytes per batch, each message counted up to `per_message`; a
    /// message alone over it is a batch of its own.
    pub max_bytes: u64,
    /// How many bytes of one message are read (`intake.max_message_bytes`).
    pub per_message: u64,
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
    /// `after_ingest` and `move_to` of the mailbox.
    after: (AfterIngest, String),
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

/// Connects to `mb`, reads the greeting, secures the connection as [`MailboxSettings::tls_mode`]
/// says — implicit TLS from the first byte, STARTTLS after the greeting (RFC 3501 §6.2.1,
/// RFC 2595 §3.1; nothing read before the upgrade is kept), or none — authenticates as
/// `mb.auth` says — LOGIN (RFC 3501 §6.2.3), AUTHENTICATE PLAIN (RFC 4616) or AUTHENTICATE
/// XOAUTH2 — with `secret` (the password, or for XOAUTH2 an access token; see
/// `intake::oauth::credential`), asks for the CAPABILITY list, and SELECTs `mb.folder`. Every
/// step is bounded by [`COMMAND_TIMEOUT`]. TLS trusts the web PKI roots plus the certificates
/// in `mb.tls_ca_file`.
///
/// Errors (each names the mailbox, never the secret): the settings would send credentials in
/// clear text to a host that is not loopback ([`MailboxSettings::check_transport`]; refused
/// before any connection is attempted), `secret` is `None` (the password variable is unset),
/// `tls_ca_file` cannot be read, the connection, STARTTLS or the TLS handshake fails,
/// authentication is refused, the folder cannot be selected, or the server sends no
/// UIDVALIDITY.
pub async fn open(
    mb: &MailboxSettings,
    secret: Option<&SecretString>,
) -> anyhow::Result<MailboxSession> {
    mb.check_transport().map_err(|e| anyhow!(e))?;
    let password = secret.ok_or_else(|| {
        anyhow!(
            "mailbox {}: environment variable {} is not set",
            mb.name,
            mb.password_env
        )
    })?;
    let mode = mb.tls_mode();
    // Built before connecting, so a bad CA file fails without any traffic.
    let tls = match mode {
        ImapTls::None => None,
        ImapTls::Implicit | ImapTls::Starttls => Some(tls_connector(mb)?),
    };
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
    let client = match (mode, tls) {
        (ImapTls::Implicit, Some(tls)) => {
            let mut client = Client::new(handshake(mb, tls, tcp).await?);
            greeting(mb, &mut client).await?;
            client
        }
        (ImapTls::Starttls, Some(tls)) => {
            let mut plain = Client::new(tcp);
            greeting(mb, &mut plain).await?;
            within(
                COMMAND_TIMEOUT,
                || format!("mailbox {}: STARTTLS refused", mb.name),
                plain.run_command_and_check_ok("STARTTLS", None),
            )
            .await?;
            // RFC 3501 §6.2.1: no new greeting after the handshake; the client must discard
            // what it learnt before it (into_inner drops anything buffered).
            Client::new(handshake(mb, tls, plain.into_inner()).await?)
        }
        _ => {
            let mut client = Client::new(Box::new(tcp) as Box<dyn ImapStream>);
            greeting(mb, &mut client).await?;
            client
        }
    };
    let mech = mb.auth.as_str();
    let attempt = match mb.auth {
        ImapAuth::Login => {
            tokio::time::timeout(
                COMMAND_TIMEOUT,
                client.login(&mb.username, password.expose_secret()),
            )
            .await
        }
        ImapAuth::Plain => {
            let msg = super::oauth::plain_response(&mb.username, password.expose_secret());
            tokio::time::timeout(
                COMMAND_TIMEOUT,
                client.authenticate("PLAIN", OneShot::new(msg)),
            )
            .await
        }
        ImapAuth::Xoauth2 => {
            let msg = super::oauth::xoauth2_response(&mb.username, password.expose_secret());
            tokio::time::timeout(
                COMMAND_TIMEOUT,
                client.authenticate("XOAUTH2", OneShot::new(msg)),
            )
            .await
        }
    };
    let mut session = match attempt {
        Ok(Ok(s)) => s,
        Ok(Err((e, _))) => {
            return Err(anyhow!(
                "mailbox {}: {mech} as {} failed: {e}",
                mb.name,
                mb.username
            ))
        }
        Err(_) => {
            return Err(anyhow!(
                "mailbox {}: {mech} as {}: no answer within {COMMAND_TIMEOUT:?}",
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
    if mb.after_ingest == AfterIngest::Move {
        // RFC 3501 §6.3.3: CREATE of an existing folder is a NO; either way it exists after.
        let _ = within(
            COMMAND_TIMEOUT,
            || format!("mailbox {}: CREATE {}", mb.name, mb.move_to),
            session.create(&mb.move_to),
        )
        .await;
    }
    Ok(MailboxSession {
        session,
        name: mb.name.clone(),
        uidvalidity,
        exists: folder.exists,
        idle,
        after: (mb.after_ingest, mb.move_to.clone()),
    })
}

/// A SASL client that sends one message (PLAIN, XOAUTH2) at the first challenge and an empty
/// response to any further one — XOAUTH2 servers send their error as a second challenge and
/// expect an empty answer before the tagged NO.
struct OneShot {
    message: Option<String>,
}

impl OneShot {
    fn new(message: String) -> OneShot {
        OneShot {
            message: Some(message),
        }
    }
}

impl async_imap::Authenticator for OneShot {
    type Response = String;

    fn process(&mut self, _challenge: &[u8]) -> String {
        self.message.take().unwrap_or_default()
    }
}

/// Reads the IMAP greeting (RFC 3501 §7.1: `* OK`, `* PREAUTH` or `* BYE`).
async fn greeting<T: ImapStream>(
    mb: &MailboxSettings,
    client: &mut Client<T>,
) -> anyhow::Result<()> {
    within(
        COMMAND_TIMEOUT,
        || format!("mailbox {}: reading the IMAP greeting", mb.name),
        client.read_response(),
    )
    .await?
    .ok_or_else(|| anyhow!("mailbox {}: server closed before its greeting", mb.name))?;
    Ok(())
}

/// The TLS client for `mb`'s host: a connector and the server name its certificate must
/// carry.
///
/// Errors: the host is not a valid server name, or `tls_ca_file` cannot be read or holds no
/// usable certificate.
fn tls_connector(
    mb: &MailboxSettings,
) -> anyhow::Result<(
    tokio_rustls::TlsConnector,
    rustls::pki_types::ServerName<'static>,
)> {
    let config = tls_config(mb.tls_ca_file.as_deref())
        .with_context(|| format!("mailbox {}: tls_ca_file", mb.name))?;
    let name = rustls::pki_types::ServerName::try_from(mb.host.clone())
        .with_context(|| format!("mailbox {}: bad TLS server name {}", mb.name, mb.host))?;
    Ok((tokio_rustls::TlsConnector::from(Arc::new(config)), name))
}

/// Runs the TLS handshake over `tcp`, bounded by [`COMMAND_TIMEOUT`].
async fn handshake(
    mb: &MailboxSettings,
    (connector, name): (
        tokio_rustls::TlsConnector,
        rustls::pki_types::ServerName<'static>,
    ),
    tcp: TcpStream,
) -> anyhow::Result<Box<dyn ImapStream>> {
    let tls = within(
        COMMAND_TIMEOUT,
        || format!("mailbox {}: TLS handshake failed", mb.name),
        connector.connect(name, tcp),
    )
    .await?;
    Ok(Box::new(tls))
}

/// A rustls client configuration trusting the web PKI roots (`webpki-roots`) and, when
/// given, every certificate in the PEM file `extra_ca`.
///
/// Errors: `extra_ca` cannot be read, holds a malformed PEM section, or no certificate.
pub fn tls_config(extra_ca: Option<&std::path::Path>) -> anyhow::Result<rustls::ClientConfig> {
    use rustls::pki_types::pem::PemObject;
    let mut roots =
        rustls::RootCertStore::from_iter(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(path) = extra_ca {
        let mut added = 0;
        for cert in rustls::pki_types::CertificateDer::pem_file_iter(path)
            .with_context(|| format!("cannot read {}", path.display()))?
        {
            let cert = cert.with_context(|| format!("bad PEM in {}", path.display()))?;
            roots
                .add(cert)
                .with_context(|| format!("unusable certificate in {}", path.display()))?;
            added += 1;
        }
        if added == 0 {
            return Err(anyhow!("no certificate in {}", path.display()));
        }
    }
    Ok(rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth())
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

    /// The mailbox's name (as in the settings).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Every UID after `after`, planned into `UID FETCH` batches: `UID SEARCH` for the UIDs,
    /// `UID FETCH (UID RFC822.SIZE)` for their sizes (a few bytes each), then
    /// [`plan_batches`] with `limits`. A UID the size FETCH did not answer for counts as
    /// `limits.per_message` bytes (the most that is read of a message), so it is planned like
    /// any other and never skipped. Batches and UIDs are ascending; empty when nothing is
    /// after `after`.
    ///
    /// Errors: a command fails or times out, or the connection drops. The session should be
    /// dropped after an error.
    pub async fn plan_after(
        &mut self,
        after: u32,
        limits: BatchLimits,
    ) -> anyhow::Result<Vec<Vec<u32>>> {
        let name = self.name.clone();
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
        let known: std::collections::HashMap<u32, u64> = match (uids.first(), uids.last()) {
            (Some(first), Some(last)) => fetch_sizes(&mut self.session, &name, *first, *last)
                .await?
                .into_iter()
                .collect(),
            _ => std::collections::HashMap::new(),
        };
        // Every UID the search found is planned: one the size FETCH did not answer for
        // counts as the largest message we read, so the cursor can never pass it unread.
        let sizes: Vec<(u32, u64)> = uids
            .iter()
            .map(|u| (*u, known.get(u).copied().unwrap_or(limits.per_message)))
            .collect();
        Ok(plan_batches(
            &sizes,
            limits.max_count,
            limits.max_bytes,
            limits.per_message,
        )
        .into_iter()
        .map(|batch| batch.iter().map(|(u, _)| *u).collect())
        .collect())
    }

    /// `UID FETCH uids (UID RFC822.SIZE INTERNALDATE BODY.PEEK[]<0.limit>)` (RFC 3501
    /// §6.4.5, §6.4.8) of the messages `uids` (a batch of [`MailboxSession::plan_after`]): at
    /// most `limit` bytes of each, with its full size and its INTERNALDATE, ascending by UID. A UID the server no longer
    /// has (expunged since the UID SEARCH) is left out and logged.
    ///
    /// Errors: the command fails, times out or the connection drops, or the server answers
    /// for a UID without its body. The session should be dropped after an error.
    pub async fn fetch_bodies(
        &mut self,
        uids: &[u32],
        limit: u64,
    ) -> anyhow::Result<Vec<RawMessage>> {
        let set = uids
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(",");
        let name = self.name.clone();
        Ok(fetch_set(&mut self.session, &name, &set, limit)
            .await?
            .into_iter()
            .map(|(uid, bytes, size, internal_date)| RawMessage {
                uid,
                bytes,
                size,
                internal_date,
            })
            .collect())
    }

    /// The post-commit hook: marks the UIDs in `uids` — all stored, their cursor committed —
    /// \Seen (`UID STORE +FLAGS.SILENT (\Seen)`, RFC 3501 §6.4.6) or moves them to the
    /// `move_to` folder (`UID MOVE`, RFC 6851), as `after_ingest` says. Nothing is lost when
    /// this fails or the process dies before it: the message is stored and the cursor is
    /// past it; it merely stays unflagged or unmoved (logged). UIDs are never reused in a
    /// folder (RFC 3501 §2.3.1.1), so moving messages out cannot confuse the cursor.
    pub async fn after_commit(&mut self, uids: &[u32]) {
        let (what, folder) = (self.after.0, self.after.1.clone());
        if uids.is_empty() || what == AfterIngest::None {
            return;
        }
        let set = uids
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(",");
        let name = self.name.clone();
        let result = match what {
            AfterIngest::None => Ok(()),
            AfterIngest::Seen => {
                within(
                    COMMAND_TIMEOUT,
                    || format!("mailbox {name}: UID STORE \\Seen"),
                    async {
                        let stream = self
                            .session
                            .uid_store(&set, "+FLAGS.SILENT (\\Seen)")
                            .await?;
                        stream.try_collect::<Vec<_>>().await.map(|_| ())
                    },
                )
                .await
            }
            AfterIngest::Move => {
                within(
                    COMMAND_TIMEOUT,
                    || format!("mailbox {name}: UID MOVE to {folder}"),
                    self.session.uid_mv(&set, &folder),
                )
                .await
            }
        };
        if let Err(e) = result {
            tracing::warn!(mailbox = %name, uids = %set, error = %format!("{e:#}"),
                "after-ingest flag/move failed; the messages are stored and stay where they are");
        }
    }

    /// Empties the queue of unsolicited server responses; true when one of them announced a
    /// change of the folder (EXISTS, RECENT or EXPUNGE, RFC 3501 §7.3–7.4). Called before a
    /// `UID SEARCH`, which covers whatever was announced so far.
    pub fn take_changes(&mut self) -> bool {
        let queue = &self.session.unsolicited_responses;
        drain_changes(|| queue.try_recv().ok())
    }

    /// Waits in IDLE (RFC 2177) until the server reports anything about the folder, or
    /// `renew` passes; then ends IDLE with DONE and gives the session back, ready to fetch
    /// again.
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
            after,
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
                after,
            },
            wake,
        ))
    }

    /// Sends LOGOUT (best effort, bounded by [`COMMAND_TIMEOUT`]) and closes the connection.
    pub async fn logout(mut self) {
        let _ = tokio::time::timeout(COMMAND_TIMEOUT, self.session.logout()).await;
    }
}

/// `UID FETCH first:last (UID RFC822.SIZE)` (RFC 3501 §6.4.5, §6.4.8): `(UID, size in
/// bytes)` of every message in the range, ascending by UID. Cheap: no body is read.
///
/// Errors: the command fails, times out or the connection drops.
async fn fetch_sizes(
    session: &mut Session<Box<dyn ImapStream>>,
    name: &str,
    first: u32,
    last: u32,
) -> anyhow::Result<Vec<(u32, u64)>> {
    let mut sizes = Vec::new();
    let mut stream = within(
        COMMAND_TIMEOUT,
        || format!("mailbox {name}: UID FETCH (RFC822.SIZE)"),
        session.uid_fetch(format!("{first}:{last}"), "(UID RFC822.SIZE)"),
    )
    .await?;
    while let Some(f) = within(
        COMMAND_TIMEOUT,
        || format!("mailbox {name}: UID FETCH (RFC822.SIZE)"),
        stream.try_next(),
    )
    .await?
    {
        // An unsolicited FETCH (a flag change, RFC 3501 §7.4.2) carries no size.
        if let (Some(uid), Some(size)) = (f.uid, f.size) {
            sizes.push((uid, u64::from(size)));
        }
    }
    sizes.sort_unstable();
    sizes.dedup_by_key(|(uid, _)| *uid);
    Ok(sizes)
}

/// Groups `messages` — `(UID, RFC822.SIZE)` in UID order — into consecutive batches of at
/// most `max_count` messages (at least 1) whose sizes, each counted up to `per_message`
/// bytes (what is read of it, `intake.max_message_bytes`), add up to at most `max_bytes`. A
/// message that alone is over `max_bytes` is a batch of its own. Every message is in exactly
/// one batch, in order.
pub fn plan_batches(
    messages: &[(u32, u64)],
    max_count: u32,
    max_bytes: u64,
    per_message: u64,
) -> Vec<&[(u32, u64)]> {
    let max_count = usize::try_from(max_count.max(1)).unwrap_or(usize::MAX);
    let mut out = Vec::new();
    let (mut start, mut bytes) = (0, 0u64);
    for (i, (_, size)) in messages.iter().enumerate() {
        let cost = (*size).min(per_message);
        if i > start && (i - start >= max_count || bytes.saturating_add(cost) > max_bytes) {
            out.push(&messages[start..i]);
            (start, bytes) = (i, 0);
        }
        bytes = bytes.saturating_add(cost);
    }
    if start < messages.len() {
        out.push(&messages[start..]);
    }
    out
}

/// `UID FETCH set (UID RFC822.SIZE INTERNALDATE BODY.PEEK[]<0.limit>)` (RFC 3501 §6.4.5,
/// §6.4.8): the messages of `set` as `(UID, raw bytes — at most `limit` of them —, full size
/// in bytes, INTERNALDATE)`, ascending by UID, one per UID. A UID of `set` the server no longer has (expunged since the
/// UID SEARCH) is left out and logged. Each response item is bounded by [`COMMAND_TIMEOUT`].
///
/// Errors: the command fails, times out or the connection drops, or the server answers for
/// a UID without its body (the batch is then fetched again rather than skipped).
async fn fetch_set(
    session: &mut Session<Box<dyn ImapStream>>,
    name: &str,
    set: &str,
    limit: u64,
) -> anyhow::Result<Vec<Fetch>> {
    // RFC822.SIZE next to a partial fetch of the first `limit` bytes (RFC 3501 §6.4.5): a
    // message under the limit comes whole, one over it only up to the limit — reading it
    // whole could exhaust memory, and async-imap refuses literals over 512 MiB, which would
    // fail that UID on every run instead of ingesting it. One command either way.
    // INTERNALDATE (RFC 3501 §2.3.3): when the message reached the server, which is where
    // the desk's time for it starts; a few bytes more per message.
    let query = format!("(UID RFC822.SIZE INTERNALDATE BODY.PEEK[]<0.{limit}>)");
    let mut fetched: Vec<Fetch> = Vec::new();
    let mut stream = within(
        COMMAND_TIMEOUT,
        || format!("mailbox {name}: UID FETCH"),
        session.uid_fetch(set, &query),
    )
    .await?;
    while let Some(f) = within(
        COMMAND_TIMEOUT,
        || format!("mailbox {name}: UID FETCH"),
        stream.try_next(),
    )
    .await?
    {
        match (f.uid, f.body(), f.size) {
            (Some(uid), Some(body), size) => {
                let full = size.map_or(body.len(), |s| s as usize);
                let received = f.internal_date().map(|d| d.to_utc());
                fetched.push((uid, body.to_vec(), full, received));
            }
            // The answer to our request (it carries RFC822.SIZE) but no body: storing the
            // rest of the batch would move the cursor past a message we never read, so the
            // batch fails and is fetched again.
            (Some(uid), None, Some(_)) => {
                anyhow::bail!("mailbox {name}: UID FETCH returned no body for UID {uid}")
            }
            // An unsolicited FETCH (a flag change, RFC 3501 §7.4.2) is no message.
            _ => {}
        }
    }
    fetched.sort_by_key(|(uid, ..)| *uid);
    fetched.dedup_by_key(|(uid, ..)| *uid);
    let missing = set
        .split(',')
        .filter_map(|u| u.parse::<u32>().ok())
        .filter(|u| fetched.binary_search_by_key(u, |(uid, ..)| *uid).is_err())
        .count();
    if missing > 0 {
        // A UID that UID SEARCH listed and UID FETCH did not return was expunged in between
        // (RFC 3501 §6.4.8): nothing is left on the server to read.
        tracing::warn!(mailbox = %name, missing, "UIDs expunged between UID SEARCH and UID FETCH");
    }
    Ok(fetched)
}

/// One message of [`fetch_set`]: UID, the bytes read, the full size, the INTERNALDATE.
type Fetch = (u32, Vec<u8>, usize, Option<chrono::DateTime<chrono::Utc>>);

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

#[cfg(test)]
mod tests {
    use super::plan_batches;

    fn uids(batches: &[&[(u32, u64)]]) -> Vec<Vec<u32>> {
        batches
            .iter()
            .map(|b| b.iter().map(|(u, _)| *u).collect())
            .collect()
    }

    #[test]
    fn batches_are_bounded_by_count_and_by_bytes() {
        let small: Vec<(u32, u64)> = (1..=7).map(|u| (u, 10)).collect();
        assert_eq!(
            uids(&plan_batches(&small, 3, 1_000, 1_000)),
            vec![vec![1, 2, 3], vec![4, 5, 6], vec![7]]
        );
        assert_eq!(
            uids(&plan_batches(&small, 100, 25, 1_000)),
            vec![vec![1, 2], vec![3, 4], vec![5, 6], vec![7]]
        );
        assert!(plan_batches(&[], 10, 10, 10).is_empty());
    }

    #[test]
    fn a_message_over_the_budget_is_alone_and_counts_only_what_is_read() {
        let mixed = [(1, 10), (2, 500), (3, 10), (4, 10)];
        assert_eq!(
            uids(&plan_batches(&mixed, 100, 100, 1_000)),
            vec![vec![1], vec![2], vec![3, 4]]
        );
        // Counted up to the per-message read limit: 500 → 50 fits beside the others.
        assert_eq!(
            uids(&plan_batches(&mixed, 100, 100, 50)),
            vec![vec![1, 2, 3, 4]]
        );
        // Count 0 is treated as 1; sizes near u64::MAX do not overflow.
        let huge = [(1, u64::MAX), (2, u64::MAX)];
        assert_eq!(
            uids(&plan_batches(&huge, 0, u64::MAX, u64::MAX)),
            vec![vec![1], vec![2]]
        );
    }
}
