//! A write-behind unit of work for one ingest transaction: reads the state a batch of fetched
//! messages needs in a few set-based queries, answers later reads from what it read plus
//! what it was asked to write, and writes everything with one multi-row statement per table
//! (`INSERT … SELECT … FROM unnest($1, $2, …)`) when flushed.
//!
//! Why: one ingested email touches up to ten tables; one round trip per row made intake
//! bound by round trips to Postgres (about 130 messages/s). With [`Work`] a batch of 500
//! costs about twenty round trips whatever it holds.
//!
//! Consistency rule: every cached answer is what the database would answer inside this
//! transaction if the pending rows had been written. Pending rows always update the caches;
//! [`Work::direct`] flushes and drops the caches before handing out the connection, so
//! statements run on it see everything and are seen by later reads. Decisions that are rare
//! (merges, automatic messages, subject tags, auto-assignment, over-limit notes, loop flags)
//! use [`Work::direct`] and the ordinary functions of `crate::store`; the common ones (a new
//! ticket, a message joining a ticket, a duplicate) stay in memory until the flush.
//!
//! Ids: rows that later rows refer to (tickets, messages) get their ids from their
//! sequences up front (`nextval` in bulk), so pending rows can name each other.

use std::collections::{HashMap, HashSet};

use chrono::Utc;
use sha2::{Digest, Sha256};
use sqlx::PgConnection;

use crate::domain::{Status, TicketNumber};

use super::attachments::{NewAttachment, Stored};
use super::audit::AuditEvent;
use super::messages::NewMessage;
use super::outbox::Effect;
use super::tickets::{NewTicket, Ticket};

/// What the loop and acknowledgement rules need to know about one sender (lower-case
/// address), as of this transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SenderStats {
    /// Tickets the sender opened in the last `loop_window_minutes` minutes (merged ones
    /// included), this batch's included.
    pub opened: i64,
    /// Acknowledgements queued to the sender in the last hour, this batch's included.
    pub acks_last_hour: i64,
    /// Whether the sender was flagged as a suspected loop in the last
    /// `loop_window_minutes` minutes.
    pub flagged: bool,
}

struct TicketRow {
    id: i64,
    number: String,
    year: i32,
    seq: i32,
    requester_email: String,
    requester_name: Option<String>,
    subject: String,
    mailbox: String,
    department: String,
    priority: &'static str,
    linked: Option<i64>,
}

struct MessageRow<'a> {
    id: i64,
    ticket_id: i64,
    message_id: String,
    in_reply_to: Option<String>,
    references: serde_json::Value,
    direction: &'static str,
    from_addr: String,
    from_name: Option<String>,
    to_addrs: serde_json::Value,
    subject: String,
    body_text: String,
    raw: Option<&'a [u8]>,
    raw_size: i32,
    mailbox: Option<String>,
    uid: Option<i64>,
    author_agent_id: Option<i64>,
    body_html: Option<String>,
    raw_truncated: bool,
}

struct AttachmentRow<'a> {
    message_id: i64,
    position: i32,
    name: Option<String>,
    content_type: String,
    size: i64,
    sha256: String,
    store: &'static str,
    content: Option<&'a [u8]>,
}

struct AuditRow {
    ticket_id: Option<i64>,
    actor: String,
    surface: String,
    action: String,
    before: Option<serde_json::Value>,
    after: Option<serde_json::Value>,
}

/// `(mailbox, uid, reason, raw, sha256 hex of raw)`.
type QuarantineRow<'a> = (String, Option<i64>, String, &'a [u8], String);

/// Rows waiting for [`Work::flush`], one list per table.
#[derive(Default)]
struct Pending<'a> {
    tickets: Vec<TicketRow>,
    /// `(ticket, status, holder)`; the last entry per ticket wins.
    states: Vec<(i64, Status, Option<i64>)>,
    thread_keys: Vec<(String, i64)>,
    participants: Vec<(i64, String)>,
    /// `participants` as a set: a thread's people are named again by every message.
    participant_set: HashSet<(i64, String)>,
    messages: Vec<MessageRow<'a>>,
    attachments: Vec<AttachmentRow<'a>>,
    /// `(messages.id, sender, ticket)`.
    acks: Vec<(i64, String, i64)>,
    audit: Vec<AuditRow>,
    /// `(kind, ticket, payload)`.
    outbox: Vec<(&'static str, Option<i64>, serde_json::Value)>,
    /// `(ticket, platform)` of the card effects in `outbox`.
    cards: HashSet<(i64, String)>,
    /// `(mailbox, uidvalidity, uid, message_id, ticket)`.
    duplicates: Vec<(String, i64, i64, String, Option<i64>)>,
    quarantine: Vec<QuarantineRow<'a>>,
    /// `(sender, tickets)` flagged as a suspected loop.
    loop_flags: Vec<(String, i32)>,
}

impl Pending<'_> {
    fn is_empty(&self) -> bool {
        self.tickets.is_empty()
            && self.states.is_empty()
            && self.thread_keys.is_empty()
            && self.participants.is_empty()
            && self.messages.is_empty()
            && self.attachments.is_empty()
            && self.acks.is_empty()
            && self.audit.is_empty()
            && self.outbox.is_empty()
            && self.duplicates.is_empty()
            && self.quarantine.is_empty()
            && self.loop_flags.is_empty()
    }
}

/// What has been read since the caches were last dropped.
#[derive(Default)]
struct Caches {
    /// msg-id → ticket, for every checked id that is a thread key (stored or pending).
    keys: HashMap<String, i64>,
    /// msg-ids whose thread key was looked up.
    keys_checked: HashSet<String>,
    /// Message-IDs known to be stored (or pending) in `messages`.
    messages: HashSet<String>,
    /// Message-IDs looked up in `messages`.
    messages_checked: HashSet<String>,
    /// Tickets read or created, by id, as they stand with the pending changes.
    tickets: HashMap<i64, Ticket>,
    /// Per sender (lower-case address).
    senders: HashMap<String, SenderStats>,
}

/// The unit of work of one ingest transaction; see the module documentation. `'a` is the
/// lifetime of the fetched bytes that pending rows borrow (raw messages, attachment content).
///
/// Every method that can touch the database errors only with the database's error; after an
/// error the caller's transaction must be rolled back (nothing of the batch is then stored).
pub struct Work<'c, 'a> {
    conn: &'c mut PgConnection,
    /// How many rows of a kind to expect: the batch size, used to take ids in bulk.
    hint: usize,
    /// `noise.loop_window_minutes`, for [`SenderStats::opened`] and `flagged`.
    window_minutes: u32,
    cache: Caches,
    /// Set when the caches were dropped; [`Work::preload`] clears it.
    cold: bool,
    /// Year → last ticket number taken; the counter row stays locked until commit.
    counters: HashMap<i32, i32>,
    counters_dirty: HashSet<i32>,
    ticket_ids: Vec<i64>,
    message_ids: Vec<i64>,
    pending: Pending<'a>,
    /// Times [`Work::direct`] was called.
    directs: usize,
}

impl<'c, 'a> Work<'c, 'a> {
    /// A unit of work on `conn` (inside the caller's transaction) for about `hint` messages.
    pub fn new(conn: &'c mut PgConnection, hint: usize, window_minutes: u32) -> Work<'c, 'a> {
        Work {
            conn,
            hint: hint.max(1),
            window_minutes,
            cache: Caches::default(),
            cold: true,
            counters: HashMap::new(),
            counters_dirty: HashSet::new(),
            ticket_ids: Vec::new(),
            message_ids: Vec::new(),
            pending: Pending::default(),
            directs: 0,
        }
    }

    /// How often [`Work::direct`] was called (each costs a flush and a re-read): for
    /// diagnostics.
    pub fn direct_calls(&self) -> usize {
        self.directs
    }

    /// Whether the caches were dropped (by [`Work::direct`]) since the last
    /// [`Work::preload`]; reads still work then, one query each.
    pub fn is_cold(&self) -> bool {
        self.cold
    }

    /// Reads in four queries what the coming messages will ask: the thread keys among
    /// `thread_ids` and the tickets they lead to, which of `message_ids` are stored, and the
    /// [`SenderStats`] of `senders`.
    pub async fn preload(
        &mut self,
        thread_ids: &[String],
        message_ids: &[String],
        senders: &[String],
    ) -> Result<(), sqlx::Error> {
        self.check_keys(thread_ids).await?;
        self.check_messages(message_ids).await?;
        let wanted: Vec<i64> = self
            .cache
            .keys
            .values()
            .copied()
            .filter(|id| !self.cache.tickets.contains_key(id))
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        self.load_tickets(&wanted).await?;
        self.load_senders(senders).await?;
        self.cold = false;
        Ok(())
    }

    /// Looks up the thread keys among `ids` not checked yet.
    async fn check_keys(&mut self, ids: &[String]) -> Result<(), sqlx::Error> {
        let unknown = not_in(ids, |id| self.cache.keys_checked.contains(id));
        if unknown.is_empty() {
            return Ok(());
        }
        // A join with unnest rather than `= ANY($1)`: its plan stays index lookups when
        // Postgres switches the prepared statement to a generic plan.
        let rows: Vec<(String, i64)> = sqlx::query_as(
            "SELECT k.msg_id, k.ticket_id FROM unnest($1::text[]) AS x(id)
             JOIN thread_keys k ON k.msg_id = x.id",
        )
        .bind(&unknown)
        .fetch_all(&mut *self.conn)
        .await?;
        for id in unknown {
            self.cache.keys_checked.insert(id.to_string());
        }
        for (msg_id, ticket) in rows {
            // A pending key of the same id would have been checked already.
            self.cache.keys.entry(msg_id).or_insert(ticket);
        }
        Ok(())
    }

    /// Looks up which of `ids` not checked yet are stored Message-IDs.
    async fn check_messages(&mut self, ids: &[String]) -> Result<(), sqlx::Error> {
        let unknown = not_in(ids, |id| self.cache.messages_checked.contains(id));
        if unknown.is_empty() {
            return Ok(());
        }
        let rows: Vec<(String,)> = sqlx::query_as(
            "SELECT m.message_id FROM unnest($1::text[]) AS x(id)
                 JOIN messages m ON m.message_id = x.id",
        )
        .bind(&unknown)
        .fetch_all(&mut *self.conn)
        .await?;
        for id in unknown {
            self.cache.messages_checked.insert(id.to_string());
        }
        self.cache.messages.extend(rows.into_iter().map(|r| r.0));
        Ok(())
    }

    async fn load_tickets(&mut self, ids: &[i64]) -> Result<(), sqlx::Error> {
        if ids.is_empty() {
            return Ok(());
        }
        for t in super::tickets::by_ids(self.conn, ids).await? {
            self.cache.tickets.entry(t.id).or_insert(t);
        }
        Ok(())
    }

    async fn load_senders(&mut self, senders: &[String]) -> Result<(), sqlx::Error> {
        let unknown = not_in(senders, |s| self.cache.senders.contains_key(s));
        if unknown.is_empty() {
            return Ok(());
        }
        let rows: Vec<(String, i64, i64, bool)> = sqlx::query_as(
            "SELECT s,
                (SELECT count(*) FROM tickets
                  WHERE requester_email = s AND created_at > now() - make_interval(mins => $2)),
                (SELECT count(*) FROM acknowledgements
                  WHERE sender = s AND created_at > now() - interval '1 hour'),
                EXISTS (SELECT 1 FROM loop_flags
                  WHERE sender = s AND flagged_at > now() - make_interval(mins => $2))
             FROM unnest($1::text[]) AS s",
        )
        .bind(&unknown)
        .bind(i32::try_from(self.window_minutes).unwrap_or(i32::MAX))
        .fetch_all(&mut *self.conn)
        .await?;
        for (s, opened, acks_last_hour, flagged) in rows {
            self.cache.senders.insert(
                s,
                SenderStats {
                    opened,
                    acks_last_hour,
                    flagged,
                },
            );
        }
        Ok(())
    }

    /// The distinct tickets any of `ids` is a thread key of, lowest id first (as
    /// [`super::thread_keys::tickets_for`]).
    pub async fn tickets_for(&mut self, ids: &[String]) -> Result<Vec<i64>, sqlx::Error> {
        self.check_keys(ids).await?;
        let mut found: Vec<i64> = ids
            .iter()
            .filter_map(|id| self.cache.keys.get(id).copied())
            .collect();
        found.sort_unstable();
        found.dedup();
        Ok(found)
    }

    /// Whether a message with this Message-ID is stored (or pending).
    pub async fn message_exists(&mut self, message_id: &str) -> Result<bool, sqlx::Error> {
        self.check_messages(std::slice::from_ref(&message_id.to_string()))
            .await?;
        Ok(self.cache.messages.contains(message_id))
    }

    /// The ticket with this id as it stands with the pending changes.
    pub async fn ticket(&mut self, id: i64) -> Result<Option<Ticket>, sqlx::Error> {
        if !self.cache.tickets.contains_key(&id) {
            self.load_tickets(&[id]).await?;
        }
        Ok(self.cache.tickets.get(&id).cloned())
    }

    /// The ticket with this number as it stands with the pending changes.
    pub async fn ticket_by_number(&mut self, number: &str) -> Result<Option<Ticket>, sqlx::Error> {
        if let Some(t) = self.cache.tickets.values().find(|t| t.number == number) {
            return Ok(Some(t.clone()));
        }
        let found = super::tickets::by_number(self.conn, number).await?;
        if let Some(t) = &found {
            self.cache.tickets.insert(t.id, t.clone());
        }
        Ok(found)
    }

    /// The [`SenderStats`] of `sender` (lower-case address).
    pub async fn sender_stats(&mut self, sender: &str) -> Result<SenderStats, sqlx::Error> {
        if !self.cache.senders.contains_key(sender) {
            self.load_senders(&[sender.to_string()]).await?;
        }
        Ok(self.cache.senders.get(sender).copied().unwrap_or_default())
    }

    /// Takes the next ticket number of `year`'s sequence (`ticket_counters`): the counter row is locked on first use and stays
    /// locked until the transaction ends, so numbers have no gaps; the new value is written
    /// at the flush.
    pub async fn next_number(
        &mut self,
        prefix: &str,
        year: i32,
    ) -> Result<TicketNumber, sqlx::Error> {
        let last = match self.counters.get(&year) {
            Some(v) => *v,
            None => {
                let (v,): (i32,) = sqlx::query_as(
                    "INSERT INTO ticket_counters (year, last_value) VALUES ($1, 0)
                     ON CONFLICT (year) DO UPDATE SET last_value = ticket_counters.last_value
                     RETURNING last_value",
                )
                .bind(year)
                .fetch_one(&mut *self.conn)
                .await?;
                v
            }
        };
        let seq = last
            .checked_add(1)
            .ok_or_else(|| sqlx::Error::Protocol(format!("ticket counter of {year} is full")))?;
        let number = TicketNumber::new(prefix, year, seq)
            .map_err(|e| sqlx::Error::Protocol(e.to_string()))?;
        self.counters.insert(year, seq);
        self.counters_dirty.insert(year);
        Ok(number)
    }

    /// Takes `n` ids of `sequence` (`tickets_id_seq`, `messages_id_seq`) in one query.
    async fn take_ids(&mut self, sequence: &str, n: usize) -> Result<Vec<i64>, sqlx::Error> {
        let rows: Vec<(i64,)> =
            sqlx::query_as("SELECT nextval($1::regclass) FROM generate_series(1, $2)")
                .bind(sequence)
                .bind(i32::try_from(n).unwrap_or(i32::MAX))
                .fetch_all(&mut *self.conn)
                .await?;
        // Popped from the end: keep ascending order of use.
        Ok(rows.into_iter().rev().map(|r| r.0).collect())
    }

    async fn next_ticket_id(&mut self) -> Result<i64, sqlx::Error> {
        if self.ticket_ids.is_empty() {
            self.ticket_ids = self.take_ids("tickets_id_seq", self.hint).await?;
        }
        self.ticket_ids
            .pop()
            .ok_or_else(|| sqlx::Error::Protocol("no ticket id from the sequence".into()))
    }

    async fn next_message_id(&mut self) -> Result<i64, sqlx::Error> {
        if self.message_ids.is_empty() {
            self.message_ids = self.take_ids("messages_id_seq", self.hint).await?;
        }
        self.message_ids
            .pop()
            .ok_or_else(|| sqlx::Error::Protocol("no message id from the sequence".into()))
    }

    /// Queues an open, unclaimed ticket (linked to `linked`, if any) and returns its id (taken
    /// from `tickets_id_seq` now).
    pub async fn insert_ticket(
        &mut self,
        t: NewTicket<'_>,
        linked: Option<i64>,
    ) -> Result<i64, sqlx::Error> {
        let id = self.next_ticket_id().await?;
        let number = t.number.to_string();
        self.pending.tickets.push(TicketRow {
            id,
            number: number.clone(),
            year: t.number.year(),
            seq: t.number.seq(),
            requester_email: t.requester_email.to_string(),
            requester_name: t.requester_name.map(str::to_string),
            subject: t.subject.to_string(),
            mailbox: t.mailbox.to_string(),
            department: t.department.to_string(),
            priority: t.priority.as_str(),
            linked,
        });
        if let Some(s) = self.cache.senders.get_mut(t.requester_email) {
            s.opened += 1;
        }
        self.cache.tickets.insert(
            id,
            Ticket {
                id,
                number,
                status: Status::Open,
                assignee_id: None,
                assignee_handle: None,
                requester_email: t.requester_email.to_string(),
                requester_name: t.requester_name.map(str::to_string),
                subject: t.subject.to_string(),
                mailbox: t.mailbox.to_string(),
                merged_into: None,
                created_at: Utc::now(),
                claimed_at: None,
                priority: t.priority,
                department: t.department.to_string(),
                resolved_at: None,
                closed_at: None,
            },
        );
        Ok(id)
    }

    /// Queues a status change, as [`super::tickets::set_state`] (same timestamp rules).
    pub fn set_state(&mut self, id: i64, status: Status, assignee_id: Option<i64>) {
        if let Some(t) = self.cache.tickets.get_mut(&id) {
            t.status = status;
            if t.assignee_id != assignee_id {
                t.assignee_handle = None;
            }
            t.assignee_id = assignee_id;
        }
        self.pending.states.push((id, status, assignee_id));
    }

    /// Points every id of `ids` not yet a thread key at `ticket_id`, as
    /// [`super::thread_keys::add`].
    pub async fn add_thread_keys(
        &mut self,
        ids: &[String],
        ticket_id: i64,
    ) -> Result<(), sqlx::Error> {
        self.check_keys(ids).await?;
        for id in ids {
            if !self.cache.keys.contains_key(id) {
                self.cache.keys.insert(id.clone(), ticket_id);
                self.pending.thread_keys.push((id.clone(), ticket_id));
            }
        }
        Ok(())
    }

    /// Queues `emails` as participants of `ticket_id` (already known ones are kept once).
    pub fn add_participants(&mut self, ticket_id: i64, emails: &[String]) {
        for e in emails {
            let row = (ticket_id, e.clone());
            if !self.pending.participant_set.contains(&row) {
                self.pending.participant_set.insert(row.clone());
                self.pending.participants.push(row);
            }
        }
    }

    /// Queues the message unless its Message-ID is stored or pending, as
    /// [`super::messages::insert`]; `Some(id)` when queued.
    /// `raw` is kept with it (borrowed until the flush); `m.raw` is not read.
    pub async fn insert_message(
        &mut self,
        m: NewMessage<'_>,
        raw: Option<&'a [u8]>,
    ) -> Result<Option<i64>, sqlx::Error> {
        if self.message_exists(m.message_id).await? {
            return Ok(None);
        }
        let id = self.next_message_id().await?;
        self.cache.messages.insert(m.message_id.to_string());
        self.pending.messages.push(MessageRow {
            id,
            ticket_id: m.ticket_id,
            message_id: m.message_id.to_string(),
            in_reply_to: m.in_reply_to.map(str::to_string),
            references: serde_json::json!(m.references),
            direction: m.direction.as_str(),
            from_addr: m.from_addr.to_string(),
            from_name: m.from_name.map(str::to_string),
            to_addrs: serde_json::json!(m.to_addrs),
            subject: m.subject.to_string(),
            body_text: m.body_text.to_string(),
            raw,
            raw_size: m.raw_size,
            mailbox: m.mailbox.map(str::to_string),
            uid: m.uid,
            author_agent_id: m.author_agent_id,
            body_html: None,
            raw_truncated: false,
        });
        Ok(Some(id))
    }

    /// Records the content details of message row `id`, as
    /// [`super::messages::set_content`].
    pub async fn set_content(
        &mut self,
        id: i64,
        body_html: Option<&str>,
        raw_truncated: bool,
    ) -> Result<(), sqlx::Error> {
        match self.pending.messages.iter_mut().rev().find(|m| m.id == id) {
            Some(m) => {
                m.body_html = body_html.map(str::to_string);
                m.raw_truncated = raw_truncated;
                Ok(())
            }
            None => super::messages::set_content(self.conn, id, body_html, raw_truncated).await,
        }
    }

    /// Queues an attachment row (a second row for the same message and position is ignored);
    /// the content goes into the row only for [`Stored::Database`].
    pub fn add_attachment(&mut self, a: NewAttachment<'a>) {
        self.pending.attachments.push(AttachmentRow {
            message_id: a.message_id,
            position: a.position,
            name: a.name.map(str::to_string),
            content_type: a.content_type.to_string(),
            size: a.size,
            sha256: a.sha256.to_string(),
            store: a.stored.as_str(),
            content: if a.stored == Stored::Database {
                a.content
            } else {
                None
            },
        });
    }

    /// Queues an acknowledgement record (`acknowledgements`): outbound message `message_row`
    /// acknowledged ticket `ticket_id` to `sender`.
    pub fn record_ack(&mut self, message_row: i64, sender: &str, ticket_id: i64) {
        if let Some(s) = self.cache.senders.get_mut(sender) {
            s.acks_last_hour += 1;
        }
        self.pending
            .acks
            .push((message_row, sender.to_string(), ticket_id));
    }

    /// Queues a suspected-loop flag (a `loop_flags` row) of `sender`, who opened `tickets`
    /// tickets; [`SenderStats::flagged`] is true from then on.
    pub fn flag_loop(&mut self, sender: &str, tickets: i64) {
        if let Some(s) = self.cache.senders.get_mut(sender) {
            s.flagged = true;
        }
        self.pending.loop_flags.push((
            sender.to_string(),
            i32::try_from(tickets).unwrap_or(i32::MAX),
        ));
    }

    /// Queues an audit event, as [`super::audit::record`].
    pub fn audit(&mut self, e: AuditEvent<'_>) {
        self.pending.audit.push(AuditRow {
            ticket_id: e.ticket_id,
            actor: e.actor.to_string(),
            surface: e.surface.to_string(),
            action: e.action.to_string(),
            before: e.before,
            after: e.after,
        });
    }

    /// Queues a side effect, as [`super::outbox::enqueue`] (one NOTIFY at the flush).
    ///
    /// A card effect (post or edit the ticket's card) already queued for the same ticket and
    /// platform is not queued again: the card shows the ticket as it is when the effect is
    /// delivered, and every change queued here commits at once, so one covers them all; it
    /// also stays ahead of the thread posts queued after it.
    pub fn enqueue(&mut self, ticket_id: Option<i64>, effect: &Effect) -> Result<(), sqlx::Error> {
        if let (Some(t), Effect::Card { platform }) = (ticket_id, effect) {
            if !self.pending.cards.insert((t, platform.clone())) {
                return Ok(());
            }
        }
        let payload =
            serde_json::to_value(effect).map_err(|e| sqlx::Error::Protocol(e.to_string()))?;
        self.pending
            .outbox
            .push((effect.kind(), ticket_id, payload));
        Ok(())
    }

    /// Queues a `duplicate_copies` record: `mailbox` (at `uidvalidity`/`uid`) held another
    /// copy of `message_id`, which belongs to `ticket_id`; recording one copy twice keeps one
    /// row.
    pub fn record_duplicate(
        &mut self,
        mailbox: &str,
        uidvalidity: u32,
        uid: u32,
        message_id: &str,
        ticket_id: Option<i64>,
    ) {
        self.pending.duplicates.push((
            mailbox.to_string(),
            i64::from(uidvalidity),
            i64::from(uid),
            message_id.to_string(),
            ticket_id,
        ));
    }

    /// Queues `raw` for the `quarantine` table with `reason` (kept once per mailbox and
    /// content, by SHA-256; the reason fitted by `store::quarantine::fit_reason`).
    pub fn quarantine(&mut self, mailbox: &str, uid: Option<i64>, reason: &str, raw: &'a [u8]) {
        let digest = hex::encode(Sha256::digest(raw));
        self.pending.quarantine.push((
            mailbox.to_string(),
            uid,
            super::quarantine::fit_reason(reason),
            raw,
            digest,
        ));
    }

    /// The connection, for statements that neither read nor write what this unit of work
    /// buffers (e.g. `desk_secrets`).
    pub fn unbuffered(&mut self) -> &mut PgConnection {
        self.conn
    }

    /// Flushes, drops the caches, and hands out the connection for the ordinary functions of
    /// `crate::store`: what they read includes everything queued so far, and later reads
    /// through this unit of work see what they wrote.
    pub async fn direct(&mut self) -> Result<&mut PgConnection, sqlx::Error> {
        self.directs += 1;
        self.flush().await?;
        self.cache = Caches::default();
        self.cold = true;
        Ok(self.conn)
    }

    /// Writes every pending row, one statement per table, in an order that keeps foreign
    /// keys satisfied. The caches stay valid.
    ///
    /// Errors: the database failed, or a queued message turned out to be stored already
    /// (written by a concurrent transaction despite the ingest lock); the transaction must
    /// then be rolled back, and the batch is fetched again.
    pub async fn flush(&mut self) -> Result<(), sqlx::Error> {
        if self.counters_dirty.is_empty() && self.pending.is_empty() {
            return Ok(());
        }
        let p = std::mem::take(&mut self.pending);
        let conn = &mut *self.conn;
        if !self.counters_dirty.is_empty() {
            let (years, values): (Vec<i32>, Vec<i32>) = self
                .counters_dirty
                .drain()
                .filter_map(|y| self.counters.get(&y).map(|v| (y, *v)))
                .unzip();
            sqlx::query(
                "UPDATE ticket_counters c SET last_value = u.v
                 FROM unnest($1::int[], $2::int[]) AS u(y, v) WHERE c.year = u.y",
            )
            .bind(&years)
            .bind(&values)
            .execute(&mut *conn)
            .await?;
        }
        flush_tickets(conn, &p.tickets).await?;
        flush_states(conn, &p.states).await?;
        if !p.thread_keys.is_empty() {
            let (ids, tickets): (Vec<&str>, Vec<i64>) =
                p.thread_keys.iter().map(|(k, t)| (k.as_str(), *t)).unzip();
            sqlx::query(
                "INSERT INTO thread_keys (msg_id, ticket_id)
                 SELECT * FROM unnest($1::text[], $2::bigint[]) ON CONFLICT (msg_id) DO NOTHING",
            )
            .bind(&ids)
            .bind(&tickets)
            .execute(&mut *conn)
            .await?;
        }
        if !p.participants.is_empty() {
            let (tickets, emails): (Vec<i64>, Vec<&str>) =
                p.participants.iter().map(|(t, e)| (*t, e.as_str())).unzip();
            sqlx::query(
                "INSERT INTO ticket_participants (ticket_id, email)
                 SELECT * FROM unnest($1::bigint[], $2::text[]) ON CONFLICT DO NOTHING",
            )
            .bind(&tickets)
            .bind(&emails)
            .execute(&mut *conn)
            .await?;
        }
        flush_messages(conn, &p.messages).await?;
        flush_attachments(conn, &p.attachments).await?;
        if !p.acks.is_empty() {
            let mut rows = (Vec::new(), Vec::new(), Vec::new());
            for (m, s, t) in &p.acks {
                rows.0.push(*m);
                rows.1.push(s.as_str());
                rows.2.push(*t);
            }
            sqlx::query(
                "INSERT INTO acknowledgements (message_id, sender, ticket_id)
                 SELECT * FROM unnest($1::bigint[], $2::text[], $3::bigint[])",
            )
            .bind(&rows.0)
            .bind(&rows.1)
            .bind(&rows.2)
            .execute(&mut *conn)
            .await?;
        }
        flush_audit(conn, &p.audit).await?;
        if !p.outbox.is_empty() {
            let mut rows = (Vec::new(), Vec::new(), Vec::new());
            for (k, t, payload) in &p.outbox {
                rows.0.push(*k);
                rows.1.push(*t);
                rows.2.push(payload);
            }
            // Ids follow the order the effects were queued in (the worker delivers by id).
            sqlx::query(
                "INSERT INTO outbox (kind, ticket_id, payload)
                 SELECT k, t, p FROM unnest($1::text[], $2::bigint[], $3::jsonb[])
                     WITH ORDINALITY AS u(k, t, p, n) ORDER BY n",
            )
            .bind(&rows.0)
            .bind(&rows.1)
            .bind(&rows.2)
            .execute(&mut *conn)
            .await?;
            sqlx::query("SELECT pg_notify('claimdesk_outbox', '')")
                .execute(&mut *conn)
                .await?;
        }
        if !p.duplicates.is_empty() {
            let mut rows = (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
            for (mb, v, u, m, t) in &p.duplicates {
                rows.0.push(mb.as_str());
                rows.1.push(*v);
                rows.2.push(*u);
                rows.3.push(m.as_str());
                rows.4.push(*t);
            }
            sqlx::query(
                "INSERT INTO duplicate_copies (mailbox, uidvalidity, uid, message_id, ticket_id)
                 SELECT mb, v, u, m, t
                 FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::text[], $5::bigint[])
                     WITH ORDINALITY AS x(mb, v, u, m, t, n)
                 ORDER BY n
                 ON CONFLICT (mailbox, uidvalidity, uid) DO NOTHING",
            )
            .bind(&rows.0)
            .bind(&rows.1)
            .bind(&rows.2)
            .bind(&rows.3)
            .bind(&rows.4)
            .execute(&mut *conn)
            .await?;
        }
        if !p.loop_flags.is_empty() {
            let (senders, tickets): (Vec<&str>, Vec<i32>) =
                p.loop_flags.iter().map(|(s, t)| (s.as_str(), *t)).unzip();
            sqlx::query(
                "INSERT INTO loop_flags (sender, tickets)
                 SELECT * FROM unnest($1::text[], $2::int[])",
            )
            .bind(&senders)
            .bind(&tickets)
            .execute(&mut *conn)
            .await?;
        }
        if !p.quarantine.is_empty() {
            let mut rows = (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
            for (mb, uid, reason, raw, sha) in &p.quarantine {
                rows.0.push(mb.as_str());
                rows.1.push(*uid);
                rows.2.push(reason.as_str());
                rows.3.push(*raw);
                rows.4.push(sha.as_str());
            }
            sqlx::query(
                "INSERT INTO quarantine (mailbox, uid, reason, raw, raw_sha256)
                 SELECT mb, u, r, raw, sha
                 FROM unnest($1::text[], $2::bigint[], $3::text[], $4::bytea[], $5::text[])
                     WITH ORDINALITY AS x(mb, u, r, raw, sha, n)
                 ORDER BY n
                 ON CONFLICT (mailbox, raw_sha256) DO NOTHING",
            )
            .bind(&rows.0)
            .bind(&rows.1)
            .bind(&rows.2)
            .bind(&rows.3)
            .bind(&rows.4)
            .execute(&mut *conn)
            .await?;
        }
        Ok(())
    }
}

/// The distinct values of `values` for which `known` is false.
fn not_in(values: &[String], known: impl Fn(&str) -> bool) -> Vec<&str> {
    let mut seen = HashSet::new();
    values
        .iter()
        .map(String::as_str)
        .filter(|v| !known(v) && seen.insert(*v))
        .collect()
}

async fn flush_tickets(conn: &mut PgConnection, rows: &[TicketRow]) -> Result<(), sqlx::Error> {
    if rows.is_empty() {
        return Ok(());
    }
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let numbers: Vec<&str> = rows.iter().map(|r| r.number.as_str()).collect();
    let years: Vec<i32> = rows.iter().map(|r| r.year).collect();
    let seqs: Vec<i32> = rows.iter().map(|r| r.seq).collect();
    let requesters: Vec<&str> = rows.iter().map(|r| r.requester_email.as_str()).collect();
    let names: Vec<Option<&str>> = rows.iter().map(|r| r.requester_name.as_deref()).collect();
    let subjects: Vec<&str> = rows.iter().map(|r| r.subject.as_str()).collect();
    let mailboxes: Vec<&str> = rows.iter().map(|r| r.mailbox.as_str()).collect();
    let departments: Vec<&str> = rows.iter().map(|r| r.department.as_str()).collect();
    let priorities: Vec<&str> = rows.iter().map(|r| r.priority).collect();
    let linked: Vec<Option<i64>> = rows.iter().map(|r| r.linked).collect();
    sqlx::query(
        "INSERT INTO tickets (id, number, year, seq, status, requester_email, requester_name,
             subject, mailbox, department, priority, linked_ticket)
         SELECT id, number, year, seq, $12, requester, name, subject, mailbox, department,
             priority, linked
         FROM unnest($1::bigint[], $2::text[], $3::int[], $4::int[], $5::text[], $6::text[],
                     $7::text[], $8::text[], $9::text[], $10::text[], $11::bigint[])
             AS u(id, number, year, seq, requester, name, subject, mailbox, department,
                  priority, linked)",
    )
    .bind(&ids)
    .bind(&numbers)
    .bind(&years)
    .bind(&seqs)
    .bind(&requesters)
    .bind(&names)
    .bind(&subjects)
    .bind(&mailboxes)
    .bind(&departments)
    .bind(&priorities)
    .bind(&linked)
    .bind(Status::Open.as_str())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

async fn flush_states(
    conn: &mut PgConnection,
    states: &[(i64, Status, Option<i64>)],
) -> Result<(), sqlx::Error> {
    if states.is_empty() {
        return Ok(());
    }
    // The last queued state of each ticket; the holder never changes at ingest, and the
    // timestamps depend only on the final status (now() is fixed within a transaction).
    let mut last: HashMap<i64, (Status, Option<i64>)> = HashMap::new();
    for (id, s, a) in states {
        last.insert(*id, (*s, *a));
    }
    let mut ids = Vec::with_capacity(last.len());
    let mut statuses = Vec::with_capacity(last.len());
    let mut holders = Vec::with_capacity(last.len());
    for (id, (s, a)) in last {
        ids.push(id);
        statuses.push(s.as_str());
        holders.push(a);
    }
    // The same rules as `tickets::set_state`, row by row.
    sqlx::query(
        "UPDATE tickets t SET status = u.st, assignee_id = u.a, updated_at = now(),
             claimed_at = CASE WHEN u.a IS NULL THEN NULL
                               WHEN t.assignee_id IS DISTINCT FROM u.a THEN now()
                               ELSE t.claimed_at END,
             holder_active_at = CASE WHEN u.a IS NULL THEN NULL
                                     WHEN t.assignee_id IS DISTINCT FROM u.a THEN now()
                                     ELSE t.holder_active_at END,
             release_warned_at = CASE WHEN t.assignee_id IS DISTINCT FROM u.a THEN NULL
                                      ELSE t.release_warned_at END,
             resolved_at = CASE WHEN u.st = 'resolved' THEN COALESCE(t.resolved_at, now())
                                WHEN u.st IN ('closed', 'merged') THEN t.resolved_at ELSE NULL END,
             closed_at = CASE WHEN u.st = 'closed' THEN COALESCE(t.closed_at, now())
                              WHEN u.st = 'merged' THEN t.closed_at ELSE NULL END
         FROM unnest($1::bigint[], $2::text[], $3::bigint[]) AS u(id, st, a)
         WHERE t.id = u.id",
    )
    .bind(&ids)
    .bind(&statuses)
    .bind(&holders)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

async fn flush_messages(
    conn: &mut PgConnection,
    rows: &[MessageRow<'_>],
) -> Result<(), sqlx::Error> {
    if rows.is_empty() {
        return Ok(());
    }
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let tickets: Vec<i64> = rows.iter().map(|r| r.ticket_id).collect();
    let message_ids: Vec<&str> = rows.iter().map(|r| r.message_id.as_str()).collect();
    let in_reply_to: Vec<Option<&str>> = rows.iter().map(|r| r.in_reply_to.as_deref()).collect();
    let references: Vec<&serde_json::Value> = rows.iter().map(|r| &r.references).collect();
    let directions: Vec<&str> = rows.iter().map(|r| r.direction).collect();
    let from_addrs: Vec<&str> = rows.iter().map(|r| r.from_addr.as_str()).collect();
    let from_names: Vec<Option<&str>> = rows.iter().map(|r| r.from_name.as_deref()).collect();
    let to_addrs: Vec<&serde_json::Value> = rows.iter().map(|r| &r.to_addrs).collect();
    let subjects: Vec<&str> = rows.iter().map(|r| r.subject.as_str()).collect();
    let bodies: Vec<&str> = rows.iter().map(|r| r.body_text.as_str()).collect();
    let raws: Vec<Option<&[u8]>> = rows.iter().map(|r| r.raw).collect();
    let sizes: Vec<i32> = rows.iter().map(|r| r.raw_size).collect();
    let mailboxes: Vec<Option<&str>> = rows.iter().map(|r| r.mailbox.as_deref()).collect();
    let uids: Vec<Option<i64>> = rows.iter().map(|r| r.uid).collect();
    let authors: Vec<Option<i64>> = rows.iter().map(|r| r.author_agent_id).collect();
    let htmls: Vec<Option<&str>> = rows.iter().map(|r| r.body_html.as_deref()).collect();
    let truncated: Vec<bool> = rows.iter().map(|r| r.raw_truncated).collect();
    let inserted = sqlx::query(
        "INSERT INTO messages (id, ticket_id, message_id, in_reply_to, references_ids, direction,
             from_addr, from_name, to_addrs, subject, body_text, raw, raw_size, mailbox, uid,
             author_agent_id, body_html, raw_truncated)
         SELECT id, ticket, mid, irt, ARRAY(SELECT jsonb_array_elements_text(refs)), dir,
             fa, fname, ARRAY(SELECT jsonb_array_elements_text(tos)), subj, body, raw, size,
             mb, uid, author, html, trunc
         FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::jsonb[],
                     $6::text[], $7::text[], $8::text[], $9::jsonb[], $10::text[], $11::text[],
                     $12::bytea[], $13::int[], $14::text[], $15::bigint[], $16::bigint[],
                     $17::text[], $18::bool[])
             AS u(id, ticket, mid, irt, refs, dir, fa, fname, tos, subj, body,
                                  raw, size, mb, uid, author, html, trunc)
         ON CONFLICT (message_id) DO NOTHING",
    )
    .bind(&ids)
    .bind(&tickets)
    .bind(&message_ids)
    .bind(&in_reply_to)
    .bind(&references)
    .bind(&directions)
    .bind(&from_addrs)
    .bind(&from_names)
    .bind(&to_addrs)
    .bind(&subjects)
    .bind(&bodies)
    .bind(&raws)
    .bind(&sizes)
    .bind(&mailboxes)
    .bind(&uids)
    .bind(&authors)
    .bind(&htmls)
    .bind(&truncated)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if inserted != rows.len() as u64 {
        // Someone stored one of these Message-IDs after we looked: the decisions of this
        // batch were made on a wrong premise. Roll back; the batch is fetched again.
        return Err(sqlx::Error::Protocol(format!(
            "{} of {} messages of the batch were stored concurrently; retrying the batch",
            rows.len() as u64 - inserted,
            rows.len()
        )));
    }
    Ok(())
}

async fn flush_attachments(
    conn: &mut PgConnection,
    rows: &[AttachmentRow<'_>],
) -> Result<(), sqlx::Error> {
    if rows.is_empty() {
        return Ok(());
    }
    let messages: Vec<i64> = rows.iter().map(|r| r.message_id).collect();
    let positions: Vec<i32> = rows.iter().map(|r| r.position).collect();
    let names: Vec<Option<&str>> = rows.iter().map(|r| r.name.as_deref()).collect();
    let types: Vec<&str> = rows.iter().map(|r| r.content_type.as_str()).collect();
    let sizes: Vec<i64> = rows.iter().map(|r| r.size).collect();
    let shas: Vec<&str> = rows.iter().map(|r| r.sha256.as_str()).collect();
    let stores: Vec<&str> = rows.iter().map(|r| r.store).collect();
    let contents: Vec<Option<&[u8]>> = rows.iter().map(|r| r.content).collect();
    sqlx::query(
        "INSERT INTO attachments (message_id, position, name, content_type, size, sha256, store, content)
         SELECT * FROM unnest($1::bigint[], $2::int[], $3::text[], $4::text[], $5::bigint[],
                              $6::text[], $7::text[], $8::bytea[])
         ON CONFLICT (message_id, position) DO NOTHING",
    )
    .bind(&messages)
    .bind(&positions)
    .bind(&names)
    .bind(&types)
    .bind(&sizes)
    .bind(&shas)
    .bind(&stores)
    .bind(&contents)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

async fn flush_audit(conn: &mut PgConnection, rows: &[AuditRow]) -> Result<(), sqlx::Error> {
    if rows.is_empty() {
        return Ok(());
    }
    let tickets: Vec<Option<i64>> = rows.iter().map(|r| r.ticket_id).collect();
    let actors: Vec<&str> = rows.iter().map(|r| r.actor.as_str()).collect();
    let surfaces: Vec<&str> = rows.iter().map(|r| r.surface.as_str()).collect();
    let actions: Vec<&str> = rows.iter().map(|r| r.action.as_str()).collect();
    let befores: Vec<Option<&serde_json::Value>> = rows.iter().map(|r| r.before.as_ref()).collect();
    let afters: Vec<Option<&serde_json::Value>> = rows.iter().map(|r| r.after.as_ref()).collect();
    sqlx::query(
        "INSERT INTO audit_events (ticket_id, actor, surface, action, before, after)
         SELECT t, ac, s, act, b, af
         FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::jsonb[], $6::jsonb[])
             WITH ORDINALITY AS u(t, ac, s, act, b, af, n)
         ORDER BY n",
    )
    .bind(&tickets)
    .bind(&actors)
    .bind(&surfaces)
    .bind(&actions)
    .bind(&befores)
    .bind(&afters)
    .execute(&mut *conn)
    .await?;
    Ok(())
}
