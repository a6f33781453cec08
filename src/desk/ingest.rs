//! Ingest: one fetched email becomes a new ticket, joins an existing one, is recognised as a
//! duplicate, or is quarantined with a reason — and the mailbox cursor moves in the same
//! transaction, so a crash at any point neither loses nor repeats a message.

use std::borrow::Cow;

use chrono::{DateTime, Datelike, Utc};
use futures::FutureExt;

use crate::domain::{auth_results, limits, threading, trust, Event};
use crate::intake::parse::{self, ParsedEmail};
use crate::store::{self, audit::AuditEvent, batch::Work, messages::Direction, tickets::NewTicket};

use super::Desk;

/// Where a fetched message came from.
#[derive(Debug, Clone, Copy)]
pub struct Source<'a> {
    /// Mailbox name from config.
    pub mailbox: &'a str,
    /// The folder's UIDVALIDITY (RFC 3501 §2.3.1.1).
    pub uidvalidity: u32,
    /// The message's UID.
    pub uid: u32,
}

/// What became of one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ingested {
    /// It opened this ticket.
    Created(String),
    /// It joined this existing ticket.
    Joined(String),
    /// Its Message-ID was already stored (a second copy, or our own outgoing mail).
    Duplicate,
    /// It could not become a ticket; kept in quarantine with this reason.
    Quarantined(String),
    /// An automatic message (bounce, feedback report, auto-reply) attached to this ticket as
    /// a note; see `desk::noise`.
    Noted(String),
}

/// What [`Desk::find_thread`] found.
struct Threading {
    /// The message's trusted msg-ids (forged ones in our domain removed).
    ids: Vec<String>,
    /// The ticket the message joins; `None`: it opens one.
    target: Option<i64>,
    /// Tickets of the target's requester to merge into it (`domain::trust::plan_thread`).
    merge: Vec<i64>,
    /// Other requesters' tickets the message's msg-ids also name: linked, not merged.
    link: Vec<i64>,
    /// A ticket the message named (tag, plus-address) without its sender being trusted on
    /// that thread.
    linked: Option<i64>,
}

/// Whether `address` is one of `ours`, or a plus-address of one of them.
fn is_ours(address: &str, ours: &[&str]) -> bool {
    let plain = match address.rsplit_once('@') {
        Some((local, domain)) => match local.split_once('+') {
            Some((base, _)) => format!("{base}@{domain}"),
            None => address.to_string(),
        },
        None => address.to_string(),
    };
    ours.iter().any(|o| o.eq_ignore_ascii_case(&plain))
}

/// Serialises threading decisions across concurrent ingesters (several mailboxes), so two
/// halves of one thread arriving at once cannot open two tickets.
pub(super) const THREADING_LOCK: i64 = store::locks::THREADING;

/// One fetched message and its parse, made before the transaction opens (CPU only, so the
/// IMAP intake does it on a blocking thread while the previous batch is being stored).
pub struct Fetched {
    /// The message's UID.
    pub uid: u32,
    /// Its raw RFC 822 bytes: all of them, or the first `intake.max_message_bytes`.
    pub raw: Vec<u8>,
    /// The parse, with `raw_size` the full size of the message (RFC822.SIZE, at least
    /// `raw.len()`).
    parsed: Result<ParsedEmail, parse::ParseError>,
    /// Every recipient address ([`parse::recipients`]) that fits the address keys
    /// ([`limits::address_fits`]).
    recipients: Vec<String>,
    /// Decided before the transaction: the message is quarantined with this reason (parsing
    /// it panicked, or its From address does not fit, see [`limits::sender_too_long`]).
    rejected: Option<String>,
    /// When the message reached our server (see [`Fetched::received_at`]).
    received_at: DateTime<Utc>,
}

impl Fetched {
    /// Parses message `uid` of `full_size` bytes, of which `raw` are at hand. Never fails
    /// and never panics: bytes that are no message are quarantined at ingest, and so is a
    /// message whose parse panicked (caught here; the reason carries the panic's text) or
    /// whose From address is longer than RFC 5321 allows ([`limits::sender_too_long`]).
    ///
    /// Every msg-id the parse found (Message-ID, In-Reply-To, References, and the ids
    /// automatic messages name) is made to fit its keys ([`limits::fit_msg_id`]: one over
    /// [`limits::MAX_MSG_ID_OCTETS`] octets becomes a fixed-length digest of itself), and
    /// recipients longer than [`limits::MAX_ADDRESS_OCTETS`] are left out, so that nothing
    /// this message makes can exceed a btree index; `raw` stays whole.
    ///
    /// Its received time is now (the wall clock); the IMAP intake and the desk set it with
    /// [`Fetched::received`].
    pub fn new(uid: u32, raw: Vec<u8>, full_size: usize) -> Fetched {
        Fetched::read_with(uid, raw, full_size, |raw| {
            let parsed = parse::parse(raw);
            let recipients = if parsed.is_ok() {
                parse::recipients(raw)
            } else {
                Vec::new()
            };
            (parsed, recipients)
        })
    }

    /// [`Fetched::new`] with `read` as the parser (the parse and the recipients of the raw
    /// bytes); a panic in `read` is caught and becomes the quarantine reason.
    fn read_with(
        uid: u32,
        raw: Vec<u8>,
        full_size: usize,
        read: impl FnOnce(&[u8]) -> (Result<ParsedEmail, parse::ParseError>, Vec<String>),
    ) -> Fetched {
        let full_size = full_size.max(raw.len());
        let read = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| read(&raw)));
        let (parsed, recipients, rejected) = match read {
            Ok((parsed, recipients)) => (parsed, recipients, None),
            Err(panic) => (
                Err(parse::ParseError::NotAMessage),
                Vec::new(),
                Some(format!(
                    "parsing the message panicked: {}",
                    panic_text(panic.as_ref())
                )),
            ),
        };
        let parsed = parsed.map(|p| {
            fit_keys(ParsedEmail {
                raw_size: full_size,
                ..p
            })
        });
        let rejected = rejected.or_else(|| {
            parsed
                .as_ref()
                .ok()
                .and_then(|p| p.from_addr.as_deref())
                .and_then(limits::sender_too_long)
        });
        let recipients = recipients
            .into_iter()
            .filter(|a| limits::address_fits(a))
            .collect();
        Fetched {
            uid,
            raw,
            parsed,
            recipients,
            rejected,
            received_at: Utc::now(),
        }
    }

    /// The same message received at `at`: its IMAP INTERNALDATE (RFC 3501 §2.3.3), or the
    /// desk's clock when the server gave none.
    pub fn received(self, at: DateTime<Utc>) -> Fetched {
        Fetched {
            received_at: at,
            ..self
        }
    }

    /// When the message reached our server (UTC): its IMAP INTERNALDATE, or the desk's clock
    /// when the server gave none (see [`Fetched::received`]). Where SLA time starts, and the
    /// time cards, threads, `ticket show` and reports give the message
    /// (`messages.received_at`; the ticket's `opened_at` for its first message).
    pub fn received_at(&self) -> DateTime<Utc> {
        self.received_at
    }

    /// What the message's `Date:` header says (RFC 5322 §3.6.1, UTC): the sender's claim,
    /// kept for reference only (`messages.date_header`). `None` when the header is absent or
    /// unreadable (see `intake::parse`), when the message could not be parsed, or when it is
    /// absurd: more than a day after the message reached us.
    pub fn date_header(&self) -> Option<DateTime<Utc>> {
        self.parsed
            .as_ref()
            .ok()
            .and_then(|p| p.date)
            .filter(|d| *d <= self.received_at + chrono::Duration::days(1))
    }
}

/// `p` with every msg-id it will store or look up made to fit the msg-id keys
/// ([`limits::fit_msg_id`]). A long id maps to the same digest wherever it appears, so a
/// reply naming it still threads.
fn fit_keys(mut p: ParsedEmail) -> ParsedEmail {
    fn fit_all(ids: &mut [String]) {
        for id in ids {
            if let Cow::Owned(key) = limits::fit_msg_id(id) {
                *id = key;
            }
        }
    }
    if let Cow::Owned(key) = limits::fit_msg_id(&p.message_id) {
        p.message_id = key;
        p.message_id_synthesized = true;
    }
    fit_all(&mut p.in_reply_to);
    fit_all(&mut p.references);
    fit_all(&mut p.signals.enclosed_msg_ids);
    fit_all(&mut p.signals.thread_msg_ids);
    p
}

/// The text of a caught panic (`panic!` with a message gives a `&str` or a `String`).
fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".to_string())
}

/// Why an attempt at storing part of a batch failed ([`Desk::ingest_isolated`]).
enum Failure {
    /// Something about the messages: a data or constraint error from Postgres
    /// ([`store::quarantine::is_message_fault`]) or a panic while deciding; the text is the
    /// quarantine reason if one message alone fails so.
    Message(String),
    /// Anything else (connection lost, Postgres restarting, serialization failure, timeout):
    /// nothing is quarantined, the messages are fetched again.
    Transient(sqlx::Error),
}

impl Desk {
    /// The largest batch the IMAP intake fetches, in bytes of RFC822.SIZE
    /// (`intake.batch_max_bytes`).
    pub fn batch_max_bytes(&self) -> u64 {
        self.batch_max_bytes
    }

    /// The desk's clock now: the received time of a fetched message the IMAP server gave no
    /// INTERNALDATE for ([`Fetched::received`]).
    pub fn clock_now(&self) -> DateTime<Utc> {
        self.now()
    }

    /// Ingests the raw RFC 822 bytes of one message fetched from `src`, and advances the
    /// mailbox cursor to `src.uid`, in one transaction.
    ///
    /// Threading (see `domain::threading` and `Desk::find_thread`): any trusted msg-id of
    /// the message already known → that ticket (several known tickets are merged into the
    /// oldest, because this message shows they are one thread; ids in our Message-ID domain
    /// count only with a valid signature); else a `[TICK-…]` subject tag or a
    /// `support+TICK-…@` plus-address naming an existing ticket, when the sender is its
    /// requester or a participant; else a new ticket (linked to the named one, if any). A
    /// message whose Message-ID is already stored is a duplicate, and the copy is recorded
    /// in `duplicate_copies`. Errors only when the database fails; then nothing is stored
    /// and the cursor stays, so the message is fetched again.
    pub async fn ingest(&self, src: Source<'_>, raw: &[u8]) -> Result<Ingested, sqlx::Error> {
        self.ingest_sized(src, raw, raw.len()).await
    }

    /// [`Desk::ingest`] for a message of `full_size` bytes of which `raw` may be only the
    /// first bytes (the IMAP intake reads only the first `intake.max_message_bytes` of a
    /// larger message). A message over the limit still becomes a ticket from the bytes at
    /// hand; its attachments are not stored, a flagged system note names what was left out,
    /// and `messages.raw` keeps its first `max_message_bytes` bytes (`raw_truncated`).
    pub async fn ingest_sized(
        &self,
        src: Source<'_>,
        raw: &[u8],
        full_size: usize,
    ) -> Result<Ingested, sqlx::Error> {
        let batch = [Fetched::new(src.uid, raw.to_vec(), full_size).received(self.now())];
        let mut outcomes = self
            .ingest_isolated(src.mailbox, src.uidvalidity, &batch)
            .await?;
        outcomes.pop().ok_or(sqlx::Error::RowNotFound)
    }

    /// [`Desk::ingest_batch`], except that one message can never hold up another: when the
    /// batch fails for something about its messages — a data or constraint error from
    /// Postgres ([`store::quarantine::is_message_fault`], e.g. `index row size … exceeds
    /// btree version 4 maximum`) or a panic while deciding — it is split in halves, each
    /// retried in UID order (each committing with the cursor at its last UID), and so on
    /// until the failing message is alone. That message is tried once more alone and then
    /// quarantined with the error (or panic text) as its reason, in a transaction that also
    /// moves the cursor past it ([`store::quarantine::insert`]); every other message is
    /// stored as usual. A batch with one bad message costs about `2·log2(n)` extra attempts.
    ///
    /// Returns one outcome per message, in input order.
    ///
    /// Errors: a transient failure (connection lost, Postgres restarting, serialization
    /// failure, pool timeout — anything not the messages' fault) ends the call at once and
    /// quarantines nothing. Parts committed before it stay committed (the cursor covers
    /// exactly them); the rest is fetched again.
    pub async fn ingest_isolated(
        &self,
        mailbox: &str,
        uidvalidity: u32,
        messages: &[Fetched],
    ) -> Result<Vec<Ingested>, sqlx::Error> {
        self.ingest_isolated_on(None, mailbox, uidvalidity, messages)
            .await
    }

    /// [`Desk::ingest_isolated`] with every transaction (the batch, its halves, a
    /// quarantine) on `conn` when given — the mailbox reader's lease connection, so a reader
    /// that lost its lease cannot commit ([`Desk::ingest_batch_on`]) — else on pool
    /// connections.
    ///
    /// Errors: as [`Desk::ingest_isolated`]; a lost lease connection is a transient error.
    pub async fn ingest_isolated_on(
        &self,
        mut conn: Option<&mut sqlx::PgConnection>,
        mailbox: &str,
        uidvalidity: u32,
        messages: &[Fetched],
    ) -> Result<Vec<Ingested>, sqlx::Error> {
        let mut outcomes = Vec::with_capacity(messages.len());
        // Parts still to store, as (start, end) indexes, the next one last; halves are
        // pushed second half first so that they are stored in UID order.
        let mut todo: Vec<(usize, usize)> = vec![(0, messages.len())];
        while let Some((start, end)) = todo.pop() {
            let part = &messages[start..end];
            if part.is_empty() {
                continue;
            }
            // A message alone gets a second try, so a failure that depended on the rest of
            // the batch (or on a concurrent writer) does not quarantine a good message.
            let tries = if part.len() > 1 { 1 } else { 2 };
            let mut reasons: Vec<String> = Vec::with_capacity(tries);
            for _ in 0..tries {
                match self
                    .attempt(conn.as_deref_mut(), mailbox, uidvalidity, part)
                    .await
                {
                    Ok(done) => {
                        outcomes.extend(done);
                        reasons.clear();
                        break;
                    }
                    Err(Failure::Transient(e)) => return Err(e),
                    Err(Failure::Message(reason)) => reasons.push(reason),
                }
            }
            let reason = match reasons.as_slice() {
                [] => continue,
                [only] => only.clone(),
                [first, .., last] if first == last => last.clone(),
                [first, .., last] => format!("{last} (earlier: {first})"),
            };
            if part.len() > 1 {
                let mid = start + part.len() / 2;
                tracing::warn!(
                    mailbox,
                    first_uid = part[0].uid,
                    messages = part.len(),
                    reason,
                    "storing a batch failed on its messages; splitting it"
                );
                todo.push((mid, end));
                todo.push((start, mid));
                continue;
            }
            outcomes.push(
                self.quarantine_alone(conn.as_deref_mut(), mailbox, uidvalidity, &part[0], &reason)
                    .await?,
            );
        }
        Ok(outcomes)
    }

    /// One [`Desk::ingest_batch`] of `part`, with a panic caught and the error sorted into
    /// the messages' fault or a transient one.
    async fn attempt(
        &self,
        conn: Option<&mut sqlx::PgConnection>,
        mailbox: &str,
        uidvalidity: u32,
        part: &[Fetched],
    ) -> Result<Vec<Ingested>, Failure> {
        let run = std::panic::AssertUnwindSafe(async {
            match conn {
                Some(c) => self.ingest_batch_on(c, mailbox, uidvalidity, part).await,
                None => self.ingest_batch(mailbox, uidvalidity, part).await,
            }
        });
        match run.catch_unwind().await {
            Ok(Ok(done)) => Ok(done),
            Ok(Err(e)) if store::quarantine::is_message_fault(&e) => {
                Err(Failure::Message(format!("storing it failed: {e}")))
            }
            Ok(Err(e)) => Err(Failure::Transient(e)),
            Err(panic) => Err(Failure::Message(format!(
                "deciding it panicked: {}",
                panic_text(panic.as_ref())
            ))),
        }
    }

    /// Quarantines message `m` alone with `reason` and moves the cursor past it, in one
    /// transaction (on `conn` when given, else on a pool connection). Errors: the database failed (nothing is quarantined then; the message
    /// is fetched again).
    async fn quarantine_alone(
        &self,
        conn: Option<&mut sqlx::PgConnection>,
        mailbox: &str,
        uidvalidity: u32,
        m: &Fetched,
        reason: &str,
    ) -> Result<Ingested, sqlx::Error> {
        let mut tx = match conn {
            Some(c) => sqlx::Connection::begin(c).await?,
            None => self.pool.begin().await?,
        };
        let reason = store::quarantine::insert(
            &mut tx,
            mailbox,
            Some(i64::from(m.uid)),
            reason,
            self.kept_raw(&m.raw),
        )
        .await?;
        store::cursors::advance(&mut tx, mailbox, uidvalidity, m.uid).await?;
        tx.commit().await?;
        tracing::warn!(
            mailbox,
            uid = m.uid,
            reason,
            "message quarantined on its own"
        );
        Ok(Ingested::Quarantined(reason))
    }

    /// Ingests several messages fetched from one folder, in ascending UID order (see
    /// [`Fetched`]; `raw` may be only the first bytes of a message over the limit, see
    /// [`Desk::ingest_sized`]), and advances the mailbox cursor to the last UID, all in one
    /// transaction: either every message of the batch is stored and the cursor covers them,
    /// or (on any database error) nothing is and the cursor stays, so the whole batch is
    /// fetched again. Each message is decided exactly as by [`Desk::ingest`], in order, so a
    /// reply later in the batch joins the ticket an earlier one opened.
    ///
    /// Cost: the state the messages need is read in a few set-based queries and the rows
    /// they make are written with one statement per table (`store::batch::Work`), so a batch
    /// costs about twenty round trips to Postgres whatever its size. Rare decisions (merges,
    /// automatic messages, subject tags, auto-assignment, over-limit notes, loop flags) cost
    /// their usual queries.
    ///
    /// Returns one outcome per message, in input order. An empty batch does nothing.
    ///
    /// Errors: the database failed (connection lost, constraint, timeout); nothing of the
    /// batch is stored then.
    pub async fn ingest_batch(
        &self,
        mailbox: &str,
        uidvalidity: u32,
        messages: &[Fetched],
    ) -> Result<Vec<Ingested>, sqlx::Error> {
        if messages.is_empty() {
            return Ok(Vec::new());
        }
        let mut conn = self.pool.acquire().await?;
        self.ingest_batch_on(&mut conn, mailbox, uidvalidity, messages)
            .await
    }

    /// [`Desk::ingest_batch`] in a transaction on `conn` rather than on a pool connection.
    /// The mailbox reader passes its lease connection (`crate::replicas`): once the lease is
    /// lost that connection is gone, so a reader that lost its lease cannot commit (fencing).
    ///
    /// Errors: as [`Desk::ingest_batch`]; nothing of the batch is stored then.
    pub async fn ingest_batch_on(
        &self,
        conn: &mut sqlx::PgConnection,
        mailbox: &str,
        uidvalidity: u32,
        messages: &[Fetched],
    ) -> Result<Vec<Ingested>, sqlx::Error> {
        let Some(last_uid) = messages.iter().map(|m| m.uid).max() else {
            return Ok(Vec::new());
        };
        let mut tx = sqlx::Connection::begin(conn).await?;
        store::locks::hold_for_transaction(&mut tx, THREADING_LOCK).await?;
        let mut outcomes = Vec::with_capacity(messages.len());
        {
            let mut work = Work::new(
                &mut tx,
                messages.len(),
                self.noise.loop_window_minutes,
                self.now(),
            )
            .with_sla(self.sla_enabled());
            let started = std::time::Instant::now();
            for (i, m) in messages.iter().enumerate() {
                if work.is_cold() {
                    preload(&mut work, &messages[i..]).await?;
                }
                let src = Source {
                    mailbox,
                    uidvalidity,
                    uid: m.uid,
                };
                outcomes.push(self.ingest_one(&mut work, src, m).await?);
            }
            let decided = std::time::Instant::now();
            work.flush().await?;
            tracing::debug!(
                mailbox,
                messages = messages.len(),
                decide_ms = (decided - started).as_secs_f64() * 1e3,
                flush_ms = decided.elapsed().as_secs_f64() * 1e3,
                direct = work.direct_calls(),
                "batch written"
            );
        }
        store::cursors::advance(&mut tx, mailbox, uidvalidity, last_uid).await?;
        tx.commit().await?;
        Ok(outcomes)
    }

    /// The decision and the storing for one message, inside the caller's transaction, which
    /// holds the threading lock and advances the cursor.
    async fn ingest_one<'a>(
        &self,
        work: &mut Work<'_, 'a>,
        src: Source<'_>,
        prep: &'a Fetched,
    ) -> Result<Ingested, sqlx::Error> {
        let raw = prep.raw.as_slice();
        if let Some(reason) = &prep.rejected {
            return Ok(self.quarantine(work, src, raw, reason));
        }
        let p = match &prep.parsed {
            Err(e) => return Ok(self.quarantine(work, src, raw, &e.to_string())),
            Ok(p) => p,
        };
        if let Some(done) = self.screen(work, src, raw, p).await? {
            return Ok(done);
        }
        let Some(from) = p.from_addr.as_deref() else {
            return Ok(self.quarantine(work, src, raw, "no sender address (From)"));
        };
        let received = (prep.received_at(), prep.date_header());
        let done = self
            .thread_and_store(work, src, raw, p, from, &prep.recipients, received)
            .await?;
        if let Ingested::Created(number) = &done {
            self.after_created(work, src, p, from, number).await?;
        }
        Ok(done)
    }

    /// Queues `raw` for quarantine with `reason` (once per mailbox and content).
    pub(super) fn quarantine<'a>(
        &self,
        work: &mut Work<'_, 'a>,
        src: Source<'_>,
        raw: &'a [u8],
        reason: &str,
    ) -> Ingested {
        work.quarantine(src.mailbox, Some(i64::from(src.uid)), reason, raw);
        tracing::warn!(
            mailbox = src.mailbox,
            uid = src.uid,
            reason,
            "message quarantined"
        );
        Ingested::Quarantined(store::quarantine::fit_reason(reason))
    }

    /// Threads message `p` and stores it; `received` is when it reached our server and what
    /// its `Date:` header says ([`Fetched::received_at`], [`Fetched::date_header`]): a ticket
    /// it opens is opened at that time.
    #[allow(clippy::too_many_arguments)]
    async fn thread_and_store<'a>(
        &self,
        work: &mut Work<'_, 'a>,
        src: Source<'_>,
        raw: &'a [u8],
        p: &'a ParsedEmail,
        from: &str,
        recipients: &[String],
        received: (DateTime<Utc>, Option<DateTime<Utc>>),
    ) -> Result<Ingested, sqlx::Error> {
        let Threading {
            ids,
            target,
            merge,
            link,
            linked,
        } = self.find_thread(work, raw, p, from, recipients).await?;
        let rethreaded = !merge.is_empty() || !link.is_empty();
        // SLA time counts from when the message reached our server, not from now.
        let received_at = received.0;
        // Intake rules (`[[tags.rules]]`) are decided only for an email that opens a ticket.
        let mut rules = crate::domain::tags::Decision::default();
        let (ticket_id, created) = match target {
            Some(id) => (id, false),
            None => {
                // Sender conditions count only for a DMARC-proven From where the desk trusts
                // Authentication-Results (`domain::tags::Incoming::dmarc`).
                let dmarc = self.dmarc_verdict(raw, from);
                rules = self.rules_for(src.mailbox, from, dmarc, &p.subject, &p.body_text);
                let year = self.now().year();
                let number = work.next_number(&self.prefix, year).await?;
                let subject = if p.subject.is_empty() {
                    "(no subject)"
                } else {
                    p.subject.as_str()
                };
                let id = work
                    .insert_ticket(
                        NewTicket {
                            number: &number,
                            requester_email: from,
                            requester_name: p.from_name.as_deref(),
                            subject,
                            mailbox: src.mailbox,
                            department: &rules
                                .department
                                .as_ref()
                                .map(|(d, _)| d.clone())
                                .unwrap_or_else(|| self.department_of(src.mailbox)),
                            priority: rules.priority.as_ref().map(|(p, _)| *p).unwrap_or_default(),
                            opened_at: Some(received.0),
                        },
                        linked.or(link.first().copied()),
                    )
                    .await?;
                (id, true)
            }
        };
        if rethreaded {
            let conn = work.direct().await?;
            for &other in &merge {
                self.merge_into(conn, other, ticket_id, ("system", "email"))
                    .await?;
            }
            for &other in &link {
                self.link_tickets(conn, ticket_id, other, &p.message_id)
                    .await?;
            }
        }
        work.add_thread_keys(&ids, ticket_id).await?;
        let ours = self.our_addresses();
        let mut people = vec![from.to_string()];
        people.extend(recipients.iter().filter(|a| !is_ours(a, &ours)).cloned());
        work.add_participants(ticket_id, &people);
        let raw_size = i32::try_from(p.raw_size).unwrap_or(i32::MAX);
        let kept_raw = self.kept_raw(raw);
        let inserted = work
            .insert_message(
                store::messages::NewMessage {
                    ticket_id,
                    message_id: &p.message_id,
                    in_reply_to: p.in_reply_to.first().map(String::as_str),
                    references: &p.references,
                    direction: Direction::Inbound,
                    from_addr: from,
                    from_name: p.from_name.as_deref(),
                    to_addrs: &p.to,
                    subject: &p.subject,
                    body_text: &p.body_text,
                    raw: None,
                    raw_size,
                    mailbox: Some(src.mailbox),
                    uid: Some(i64::from(src.uid)),
                    author_agent_id: None,
                    received_at: Some(received.0),
                    date_header: received.1,
                },
                Some(kept_raw),
            )
            .await?;
        let ticket = work
            .ticket(ticket_id)
            .await?
            .ok_or(sqlx::Error::RowNotFound)?;
        let customer = format!("customer:{from}");
        let Some(message_row) = inserted else {
            work.record_duplicate(
                src.mailbox,
                src.uidvalidity,
                src.uid,
                &p.message_id,
                Some(ticket_id),
            );
            if rethreaded {
                self.queued(work).cards(ticket_id).await?;
            }
            return Ok(Ingested::Duplicate);
        };
        let truncated = kept_raw.len() < p.raw_size;
        self.store_content(work, src, ticket_id, message_row, p, truncated)
            .await?;
        if created {
            let linked_number = match linked.or(link.first().copied()) {
                Some(l) => work.ticket(l).await?.map(|t| t.number),
                None => None,
            };
            let mut sink = self.queued(work);
            sink.event(AuditEvent {
                ticket_id: Some(ticket_id),
                actor: &customer,
                surface: "email",
                action: "ticket.created",
                before: None,
                after: Some(serde_json::json!({
                    "status": "open",
                    "message_id": p.message_id,
                    "linked_ticket": linked_number,
                })),
            })
            .await?;
            if !rules.is_empty() {
                self.apply_rules(work, ticket_id, &rules).await?;
            }
            let mut sink = self.queued(work);
            sink.cards(ticket_id).await?;
            self.sla_events(
                &mut sink,
                ticket_id,
                &ticket.department,
                ticket.priority,
                &[crate::domain::sla::Event::Opened { at: received_at }],
            )
            .await?;
            if self.is_auto(&ticket.department) {
                let conn = work.direct().await?;
                self.auto_assign(conn, ticket_id)
                    .await
                    .map_err(|e| match e {
                        super::DeskError::Store(s) => s,
                        other => sqlx::Error::Protocol(other.to_string()),
                    })?;
            }
            return Ok(Ingested::Created(ticket.number));
        }
        let closing = self.requester_may_close
            && from.eq_ignore_ascii_case(&ticket.requester_email)
            && crate::domain::status::is_close_request(&p.body_text);
        let event = if closing {
            Event::Close
        } else {
            Event::CustomerReply {
                assigned: ticket.assignee_id.is_some(),
            }
        };
        let mut status = ticket.status;
        if let Ok(next) = ticket.status.apply(event) {
            if next != ticket.status {
                work.set_state(ticket_id, next, ticket.assignee_id);
                status = next;
            }
        }
        let mut sink = self.queued(work);
        sink.event(AuditEvent {
            ticket_id: Some(ticket_id),
            actor: &customer,
            surface: "email",
            action: if closing {
                "ticket.closed_by_requester"
            } else {
                "message.received"
            },
            before: Some(serde_json::json!({"status": ticket.status.as_str()})),
            after: Some(serde_json::json!({"message_id": p.message_id})),
        })
        .await?;
        sink.cards(ticket_id).await?;
        sink.thread_messages(ticket_id, message_row).await?;
        // The holder hears of the answer personally (folded with others, see `desk::notify`).
        if let Some(holder) = ticket.assignee_id {
            sink.notify(vec![self.reply_notice(ticket_id, holder, from)])
                .await?;
        }
        let mut events = Vec::with_capacity(2);
        if status != ticket.status {
            events.push(crate::domain::sla::Event::StatusChanged {
                from: ticket.status,
                to: status,
                at: received_at,
            });
        }
        if !closing {
            events.push(crate::domain::sla::Event::CustomerMessage { at: received_at });
        }
        self.sla_events(
            &mut sink,
            ticket_id,
            &ticket.department,
            ticket.priority,
            &events,
        )
        .await?;
        Ok(Ingested::Joined(ticket.number))
    }

    /// The threading lookup for message `p` (raw bytes `raw`) from `from`
    /// (see `domain::threading` and `domain::trust`):
    ///
    /// 1. Every msg-id it carries (Message-ID, In-Reply-To, References, RFC 5322 §3.6.4),
    ///    except ids in our Message-ID domain without a valid signature
    ///    ([`threading::OurMsgId::Forged`]): those are neither looked up nor stored. When
    ///    they lead to several tickets, [`trust::plan_thread`] decides: merged only within one
    ///    requester, other requesters' tickets linked.
    /// 2. Failing that, a ticket named by the `[TICK-…]` subject tag, else by a plus-address
    ///    (`support+TICK-…@`) among `recipients` — followed only when `from` is that ticket's
    ///    requester or a participant and, with `intake.trust_authentication_results` set,
    ///    our server says the From passed DMARC ([`Desk::named_ticket`]). Anyone else opens a
    ///    new ticket linked to the one named.
    ///
    /// Runs under the ingest advisory lock, so concurrent mailboxes see one another's keys.
    async fn find_thread(
        &self,
        work: &mut Work<'_, '_>,
        raw: &[u8],
        p: &ParsedEmail,
        from: &str,
        recipients: &[String],
    ) -> Result<Threading, sqlx::Error> {
        let ids = self.trusted_ids(work.unbuffered(), p, from).await?;
        let known = work.tickets_for(&ids).await?;
        let mut found = Threading {
            ids,
            target: known.first().copied(),
            merge: Vec::new(),
            link: Vec::new(),
            linked: None,
        };
        if known.len() > 1 {
            let plan = self.plan(work, from, &known).await?;
            found.target = plan.target;
            found.merge = plan.merge;
            found.link = plan.link;
        } else if known.is_empty() && self.names_a_ticket(p, recipients) {
            let conn = work.direct().await?;
            match self.named_ticket(conn, raw, p, from, recipients).await? {
                Some((target, true)) => found.target = Some(target),
                Some((target, false)) => found.linked = Some(target),
                None => {}
            }
        }
        Ok(found)
    }

    /// The msg-ids of `p` (see [`ParsedEmail::thread_ids`]) without the ones in our domain
    /// that carry no valid signature.
    pub(super) async fn trusted_ids(
        &self,
        conn: &mut sqlx::PgConnection,
        p: &ParsedEmail,
        from: &str,
    ) -> Result<Vec<String>, sqlx::Error> {
        let key = self.message_id_key(conn).await?.to_vec();
        let (ids, forged): (Vec<String>, Vec<String>) =
            p.thread_ids().into_iter().partition(|id| {
                threading::check_msg_id(id, &self.message_id_domain, &key)
                    != threading::OurMsgId::Forged
            });
        if !forged.is_empty() {
            tracing::warn!(from, forged = ?forged,
                "ignoring msg-ids in our domain without a valid signature");
        }
        Ok(ids)
    }

    /// [`trust::plan_thread`] for a message from `from` whose msg-ids lead to the tickets
    /// `known` (several, oldest first).
    async fn plan(
        &self,
        work: &mut Work<'_, '_>,
        from: &str,
        known: &[i64],
    ) -> Result<trust::Plan, sqlx::Error> {
        let mut tickets = Vec::with_capacity(known.len());
        for &id in known {
            let t = work.ticket(id).await?.ok_or(sqlx::Error::RowNotFound)?;
            tickets.push(trust::Known {
                id,
                requester: t.requester_email,
                sender_on_thread: false,
            });
        }
        let one = tickets
            .iter()
            .all(|k| trust::same_requester(&k.requester, &tickets[0].requester));
        if !one {
            // Rare (a message naming several people's threads): the ordinary queries.
            let conn = work.direct().await?;
            for k in &mut tickets {
                k.sender_on_thread = store::tickets::is_on_thread(conn, k.id, from).await?;
            }
        }
        let plan = trust::plan_thread(from, &tickets);
        if !plan.link.is_empty() {
            tracing::info!(from, target = ?plan.target, linked = ?plan.link,
                "message names tickets of other requesters; linking, not merging");
        }
        Ok(plan)
    }

    /// Our server's DMARC verdict on the From of `raw` when
    /// `intake.trust_authentication_results` is set (`None` when it is not); see
    /// `domain::auth_results`.
    pub(super) fn dmarc_verdict(&self, raw: &[u8], from: &str) -> Option<auth_results::Dmarc> {
        let authserv_id = self.trust_authentication_results.as_deref()?;
        let domain = from.rsplit_once('@').map_or("", |(_, d)| d);
        Some(auth_results::dmarc(raw, authserv_id, domain))
    }

    /// Whether `p` carries a `[TICK-…]` subject tag or a plus-address among `recipients`
    /// (no I/O: the common message that names none costs no query).
    fn names_a_ticket(&self, p: &ParsedEmail, recipients: &[String]) -> bool {
        self.tag_of(p, recipients).is_some()
    }

    /// The ticket number `p` names by its subject tag, else by a plus-address.
    fn tag_of(
        &self,
        p: &ParsedEmail,
        recipients: &[String],
    ) -> Option<crate::domain::TicketNumber> {
        let ours = self.our_addresses();
        threading::subject_tag(&p.subject, &self.prefix).or_else(|| {
            recipients
                .iter()
                .find_map(|a| threading::plus_tag(a, &ours, &self.prefix))
        })
    }

    /// The live ticket `p` names by its `[TICK-…]` subject tag, else by a plus-address among
    /// `recipients`, with whether `from` may follow it ([`trust::may_follow_tag`]: on that
    /// ticket's thread, and DMARC passed when asked). `None` when it names no existing ticket.
    pub(super) async fn named_ticket(
        &self,
        conn: &mut sqlx::PgConnection,
        raw: &[u8],
        p: &ParsedEmail,
        from: &str,
        recipients: &[String],
    ) -> Result<Option<(i64, bool)>, sqlx::Error> {
        let Some(tag) = self.tag_of(p, recipients) else {
            return Ok(None);
        };
        let Some(t) = store::tickets::by_number(conn, &tag.to_string()).await? else {
            return Ok(None);
        };
        let target = t.merged_into.unwrap_or(t.id);
        let on_thread = store::tickets::is_on_thread(conn, target, from).await?
            || store::tickets::is_on_thread(conn, t.id, from).await?;
        let dmarc = self.dmarc_verdict(raw, from);
        let trusted = trust::may_follow_tag(on_thread, dmarc);
        if !trusted {
            tracing::info!(from, named = %tag, on_thread, ?dmarc,
                "sender not trusted for the named ticket; not following the tag");
        }
        Ok(Some((target, trusted)))
    }
}

/// Reads in one go what the messages of `rest` will ask of the database (their thread keys,
/// whether they are stored, their senders' loop and acknowledgement counts).
async fn preload(work: &mut Work<'_, '_>, rest: &[Fetched]) -> Result<(), sqlx::Error> {
    let mut thread_ids = Vec::new();
    let mut message_ids = Vec::new();
    let mut senders = Vec::new();
    for p in rest
        .iter()
        .filter(|r| r.rejected.is_none())
        .filter_map(|r| r.parsed.as_ref().ok())
    {
        thread_ids.extend(p.thread_ids());
        message_ids.push(p.message_id.clone());
        senders.extend(p.from_addr.clone());
    }
    work.preload(&thread_ids, &message_ids, &senders).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(from: &str) -> Vec<u8> {
        format!(
            "From: {from}\r\nTo: support@claimdesk.test\r\nSubject: Hi\r\n\
             Message-ID: <m1@customer.example>\r\n\r\nBody\r\n"
        )
        .into_bytes()
    }

    #[test]
    fn a_panic_while_parsing_becomes_the_quarantine_reason() {
        let f = Fetched::read_with(7, sample("a@b.example"), 0, |_| {
            panic!("parser blew up at byte 42")
        });
        assert_eq!(f.uid, 7);
        assert!(f.parsed.is_err());
        let reason = f.rejected.unwrap_or_default();
        assert!(reason.contains("panicked"), "{reason}");
        assert!(reason.contains("parser blew up at byte 42"), "{reason}");
        // A formatted panic message (a String payload) is kept too.
        let n = 3;
        let f = Fetched::read_with(8, sample("a@b.example"), 0, |_| panic!("depth {n}"));
        assert!(f.rejected.unwrap_or_default().contains("depth 3"));
    }

    #[test]
    fn keys_are_fitted_and_an_overlong_sender_is_rejected() {
        let ok = Fetched::new(1, sample("Dana <dana@customer.example>"), 0);
        assert!(ok.rejected.is_none());
        let long = format!("<{}@x.example>", "a".repeat(3000));
        let bad = Fetched::new(2, sample(&long), 0);
        assert!(bad.rejected.unwrap_or_default().contains("RFC 5321"));
        // Whatever the parser lets through, stored msg-ids fit their keys.
        let long_id = format!("{}@x.example", "i".repeat(5000));
        let f = Fetched::read_with(3, sample("a@b.example"), 0, |raw| {
            let mut p = parse::parse(raw);
            if let Ok(p) = p.as_mut() {
                p.message_id = long_id.clone();
                p.references = vec![long_id.clone(), "short@x.example".into()];
            }
            (p, vec!["a".repeat(300), "ok@x.example".into()])
        });
        let Ok(p) = &f.parsed else { panic!("parsed") };
        assert!(p.message_id.len() <= limits::MAX_MSG_ID_OCTETS);
        assert_eq!(p.references[0], p.message_id, "the same id, the same key");
        assert_eq!(p.references[1], "short@x.example");
        assert_eq!(f.recipients, vec!["ok@x.example".to_string()]);
    }
}
