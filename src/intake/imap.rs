//! IMAP intake (RFC 3501): LOGIN, SELECT, then `UID FETCH` of every UID after the stored
//! cursor with `BODY.PEEK[]`, so nothing is marked \Seen or deleted. Each message is stored
//! and the cursor advanced in one transaction (`Desk::ingest`).

use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, Context};
use async_imap::Client;
use futures::TryStreamExt;
use secrecy::{ExposeSecret, SecretString};
use tokio::net::TcpStream;

use crate::config::MailboxSettings;
use crate::desk::{Desk, Ingested, Source};
use crate::store;

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

/// Fetches and ingests everything new in mailbox `mb`, in batches of `batch` UIDs, until
/// nothing after the cursor is left.
///
/// Errors: connection, TLS, login or IMAP protocol failures, a folder without UIDVALIDITY, or
/// the database. Messages ingested before the error stay ingested; the rest are fetched next run.
pub async fn fetch_mailbox(
    desk: &Desk,
    mb: &MailboxSettings,
    password: Option<&SecretString>,
    batch: u32,
) -> anyhow::Result<FetchReport> {
    let password = password.ok_or_else(|| {
        anyhow!(
            "mailbox {}: environment variable {} is not set",
            mb.name,
            mb.password_env
        )
    })?;
    let tcp = tokio::time::timeout(
        Duration::from_secs(30),
        TcpStream::connect((mb.host.as_str(), mb.port)),
    )
    .await
    .map_err(|_| {
        anyhow!(
            "mailbox {}: connecting to {}:{} timed out",
            mb.name,
            mb.host,
            mb.port
        )
    })?
    .with_context(|| {
        format!(
            "mailbox {}: cannot connect to {}:{}",
            mb.name, mb.host, mb.port
        )
    })?;
    if mb.tls {
        let connector = tokio_rustls::TlsConnector::from(Arc::new(tls_config()));
        let name = rustls::pki_types::ServerName::try_from(mb.host.clone())
            .with_context(|| format!("mailbox {}: bad TLS server name {}", mb.name, mb.host))?;
        let tls = connector
            .connect(name, tcp)
            .await
            .with_context(|| format!("mailbox {}: TLS handshake failed", mb.name))?;
        session_fetch(desk, mb, Client::new(tls), password.expose_secret(), batch).await
    } else {
        session_fetch(desk, mb, Client::new(tcp), password.expose_secret(), batch).await
    }
}

fn tls_config() -> rustls::ClientConfig {
    let roots = rustls::RootCertStore::from_iter(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth()
}

async fn session_fetch<T>(
    desk: &Desk,
    mb: &MailboxSettings,
    mut client: Client<T>,
    password: &str,
    batch: u32,
) -> anyhow::Result<FetchReport>
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + std::fmt::Debug + Send,
{
    client
        .read_response()
        .await
        .context("reading the IMAP greeting")?
        .ok_or_else(|| anyhow!("mailbox {}: server closed before its greeting", mb.name))?;
    let mut session = client
        .login(&mb.username, password)
        .await
        .map_err(|(e, _)| anyhow!("mailbox {}: LOGIN as {} failed: {e}", mb.name, mb.username))?;
    let folder = session
        .select(&mb.folder)
        .await
        .with_context(|| format!("mailbox {}: SELECT {}", mb.name, mb.folder))?;
    let uidvalidity = folder
        .uid_validity
        .ok_or_else(|| anyhow!("mailbox {}: server sent no UIDVALIDITY", mb.name))?;
    let cursor = {
        let mut conn = desk.pool().acquire().await?;
        store::cursors::get(&mut conn, &mb.name).await?
    };
    let after = match cursor {
        Some(c) if c.uidvalidity == uidvalidity => c.last_uid,
        Some(c) => {
            tracing::warn!(mailbox = %mb.name, old = c.uidvalidity, new = uidvalidity,
                "UIDVALIDITY changed; re-reading the folder (stored Message-IDs are skipped)");
            0
        }
        None => 0,
    };
    let mut report = FetchReport::default();
    if folder.exists == 0 {
        session.logout().await.ok();
        return Ok(report);
    }
    let mut uids: Vec<u32> = session
        .uid_search(format!("UID {}:*", after.saturating_add(1)))
        .await
        .with_context(|| format!("mailbox {}: UID SEARCH", mb.name))?
        .into_iter()
        .filter(|u| *u > after)
        .collect();
    uids.sort_unstable();
    for chunk in uids.chunks(batch.max(1) as usize) {
        let set = chunk
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(",");
        let mut fetched: Vec<(u32, Vec<u8>)> = Vec::with_capacity(chunk.len());
        {
            let mut stream = session
                .uid_fetch(&set, "(UID BODY.PEEK[])")
                .await
                .with_context(|| format!("mailbox {}: UID FETCH", mb.name))?;
            while let Some(f) = stream
                .try_next()
                .await
                .with_context(|| format!("mailbox {}: UID FETCH", mb.name))?
            {
                if let (Some(uid), Some(body)) = (f.uid, f.body()) {
                    fetched.push((uid, body.to_vec()));
                }
            }
        }
        fetched.sort_by_key(|(uid, _)| *uid);
        for (uid, raw) in fetched {
            let outcome = desk
                .ingest(
                    Source {
                        mailbox: &mb.name,
                        uidvalidity,
                        uid,
                    },
                    &raw,
                )
                .await
                .with_context(|| format!("mailbox {}: storing UID {uid}", mb.name))?;
            tracing::info!(mailbox = %mb.name, uid, outcome = ?outcome, "ingested");
            report.count(&outcome);
        }
    }
    session.logout().await.ok();
    Ok(report)
}

/// Polls `mb` every `interval` forever, backing off (capped, with jitter) after errors.
pub async fn poll_forever(
    desk: Desk,
    mb: MailboxSettings,
    password: Option<SecretString>,
    interval: Duration,
    batch: u32,
) {
    let mut failures: u32 = 0;
    loop {
        match fetch_mailbox(&desk, &mb, password.as_ref(), batch).await {
            Ok(r) => {
                failures = 0;
                if r.fetched > 0 {
                    tracing::info!(mailbox = %mb.name, ?r, "fetch run");
                }
                tokio::time::sleep(interval).await;
            }
            Err(e) => {
                failures = failures.saturating_add(1);
                let secs = (1u64 << failures.min(8)).min(300);
                let jitter = rand::Rng::gen_range(&mut rand::thread_rng(), 0.0..0.3);
                let wait = Duration::from_secs_f64(secs as f64 * (1.0 + jitter));
                tracing::error!(mailbox = %mb.name, error = %format!("{e:#}"), retry_in = ?wait, "fetch failed");
                tokio::time::sleep(wait).await;
            }
        }
    }
}
