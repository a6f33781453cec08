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
//!
//! This file holds only the unit of work (caches, ids taken up front, the order of the
//! flush). Every statement is its table's: the set-based writes are `insert_many`,
//! `record_many`, `enqueue_many`, `set_states` … of `store::<table>`, the very functions
//! the single-row forms used elsewhere call, so a rule (e.g. the status timestamps of
//! [`super::tickets::set_states`]) is written once.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use crate::domain::{Status, TicketNumber};

use super::attachments::NewAttachment;
use super::audit::AuditEvent;
use super::duplicates::Copy as DuplicateCopy;
use super::messages::{MessageRow, NewMessage};
use super::noise::Ack;
use super::outbox::{Effect, NewItem};
use super::quarantine::Row as QuarantineRow;
use super::sla::TicketClocks;
use super::tickets::{NewTicket, StateChange, Ticket, TicketRow};

pub use super::noise::SenderStats;

/// An audit event waiting for the flush (an owned [`AuditEvent`]).
struct AuditRow {
    ticket_id: Option<i64>,
    actor: String,
    surface: String,
    action: String,
    before: Option<serde_json::Value>,
    after: Option<serde_json::Value>,
}

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
    attachments: Vec<NewAttachment<'a>>,
    acks: Vec<Ack>,
    audit: Vec<AuditRow>,
    outbox: Vec<NewItem>,
    /// `(ticket, platform)` of the card effects in `outbox`.
    cards: HashSet<(i64, String)>,
    duplicates: Vec<DuplicateCopy>,
    quarantine: Vec<QuarantineRow<'a>>,
    /// `(sender, tickets)` flagged as a suspected loop.
    loop_flags: Vec<(String, i32)>,
    /// SLA state per ticket (`sla_clocks`, `tickets.sla_next_at`); the last one queued wins.
    sla: HashMap<i64, TicketClocks>,
    /// Personal notices (`notifications`).
    notices: Vec<super::notifications::NewNotice>,
    /// Tags added by intake rules: `(ticket, tag, added_by)`.
    tags: Vec<super::tags::NewTag>,
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
            && self.sla.is_empty()
            && self.notices.is_empty()
            && self.tags.is_empty()
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
    /// SLA clocks per ticket, as they stand with the pending changes (absent: not read).
    clocks: HashMap<i64, crate::domain::sla::Clocks>,
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
    /// The time of this unit of work (the desk's clock): tickets and messages are created,
    /// and status changes happen, at it.
    now: DateTime<Utc>,
    cache: Caches,
    /// Set when the caches were dropped; [`Work::preload`] clears it.
    cold: bool,
    /// Year → the base of its numbering (`store::tickets::year_base`), read on first use.
    bases: HashMap<i32, i64>,
    ticket_ids: Vec<i64>,
    message_ids: Vec<i64>,
    pending: Pending<'a>,
    /// Times [`Work::direct`] was called.
    directs: usize,
    /// Acknowledgements to anyone in the last hour, this unit's included; read on first use.
    acks_all: Option<i64>,
    /// Whether [`Work::preload`] reads the SLA clocks of the tickets it reads.
    sla: bool,
}

impl<'c, 'a> Work<'c, 'a> {
    /// A unit of work on `conn` (inside the caller's transaction) for about `hint` messages,
    /// at time `now` (the desk's clock: the `created_at` of its tickets and messages, the
    /// time of its status changes, the end of the loop window).
    pub fn new(
        conn: &'c mut PgConnection,
        hint: usize,
        window_minutes: u32,
        now: DateTime<Utc>,
    ) -> Work<'c, 'a> {
        Work {
            conn,
            hint: hint.max(1),
            window_minutes,
            now,
            cache: Caches::default(),
            cold: true,
            bases: HashMap::new(),
            ticket_ids: Vec::new(),
            message_ids: Vec::new(),
            pending: Pending::default(),
            directs: 0,
            acks_all: None,
            sla: false,
        }
    }

    /// The same unit of work, reading the SLA clocks of the tickets it preloads along with
    /// them when `on` (SLA is enabled): one more query per preload.
    pub fn with_sla(mut self, on: bool) -> Self {
        self.sla = on;
        self
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
    /// `thread_ids` and the tickets they lead to (their rows locked until the transaction
    /// ends, lowest id first), which of `message_ids` are stored, and the [`SenderStats`] of
    /// `senders`.
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
        if self.sla {
            let no_clocks: Vec<i64> = self
                .cache
                .tickets
                .keys()
                .copied()
                .filter(|id| !self.cache.clocks.contains_key(id))
                .collect();
            self.load_clocks(&no_clocks).await?;
        }
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
        let rows = super::thread_keys::lookup(self.conn, &unknown).await?;
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
        let rows = super::messages::stored_among(self.conn, &unknown).await?;
        for id in unknown {
            self.cache.messages_checked.insert(id.to_string());
        }
        self.cache.messages.extend(rows);
        Ok(())
    }

    /// Reads the tickets `ids` into the cache, locking their rows for the rest of the
    /// transaction ([`super::tickets::lock_many`]): every ticket a decision reads is held
    /// from then on, so no concurrent ingest or merge changes it under the decision.
    async fn load_tickets(&mut self, ids: &[i64]) -> Result<(), sqlx::Error> {
        if ids.is_empty() {
            return Ok(());
        }
        for t in super::tickets::lock_many(self.conn, ids).await? {
            self.cache.tickets.entry(t.id).or_insert(t);
        }
        Ok(())
    }

    /// Reads the SLA clocks of `ids` (none pending among them) into the cache; a ticket
    /// without clocks is cached as having none.
    async fn load_clocks(&mut self, ids: &[i64]) -> Result<(), sqlx::Error> {
        if ids.is_empty() {
            return Ok(());
        }
        let mut found = super::sla::load_many(self.conn, ids).await?;
        for &id in ids {
            let clocks = found.remove(&id).unwrap_or_default();
            self.cache.clocks.entry(id).or_insert(clocks);
        }
        Ok(())
    }

    async fn load_senders(&mut self, senders: &[String]) -> Result<(), sqlx::Error> {
        let unknown = not_in(senders, |s| self.cache.senders.contains_key(s));
        if unknown.is_empty() {
            return Ok(());
        }
        let rows =
            super::noise::sender_stats(self.conn, &unknown, self.window_minutes, self.now).await?;
        self.cache.senders.extend(rows);
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

    /// The ticket with this id as it stands with the pending changes; its row is locked
    /// from the first read on (see [`Work::preload`]).
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
        let Some(found) = super::tickets::by_number(self.conn, number).await? else {
            return Ok(None);
        };
        // Read again under its row lock (see `load_tickets`).
        self.load_tickets(&[found.id]).await?;
        Ok(self.cache.tickets.get(&found.id).cloned())
    }

    /// The [`SenderStats`] of `sender` (lower-case address).
    pub async fn sender_stats(&mut self, sender: &str) -> Result<SenderStats, sqlx::Error> {
        if !self.cache.senders.contains_key(sender) {
            self.load_senders(&[sender.to_string()]).await?;
        }
        Ok(self.cache.senders.get(sender).copied().unwrap_or_default())
    }

    /// Acknowledgements queued to anyone in the last hour (`acknowledgements`), this unit's
    /// included (for `noise.max_acks_per_hour`). One query on first use, counted on after.
    pub async fn acks_last_hour_all(&mut self) -> Result<i64, sqlx::Error> {
        if let Some(n) = self.acks_all {
            return Ok(n);
        }
        let stored = super::noise::acks_last_hour(self.conn).await?;
        let n = stored + i64::try_from(self.pending.acks.len()).unwrap_or(i64::MAX);
        self.acks_all = Some(n);
        Ok(n)
    }

    /// Takes the next ticket number of `year`: a draw of `ticket_number_seq` minus the
    /// year's base ([`super::tickets::draw_number`], [`super::tickets::year_base`]). No lock
    /// is held afterwards, so concurrent ingest transactions number their tickets at once;
    /// numbers are unique per year and increase in the order they are taken, and a number
    /// taken by a transaction that rolls back is never used (a gap).
    ///
    /// Errors: the database's, or the year's numbering is full (`i32` sequence numbers).
    pub async fn next_number(
        &mut self,
        prefix: &str,
        year: i32,
    ) -> Result<TicketNumber, sqlx::Error> {
        let mut drawn = super::tickets::draw_number(self.conn).await?;
        let base = match self.bases.get(&year) {
            Some(b) => *b,
            None => {
                let b = super::tickets::year_base(self.conn, year, drawn - 1).await?;
                self.bases.insert(year, b);
                b
            }
        };
        // Below the base only when another transaction fixed the year's base with a later
        // draw while this one waited: draw again (a few times at most).
        let mut redraws = 0;
        while drawn <= base {
            redraws += 1;
            if redraws > 10_000 {
                return Err(sqlx::Error::Protocol(format!(
                    "ticket numbering of {year}: draws stay below the base {base}"
                )));
            }
            drawn = super::tickets::draw_number(self.conn).await?;
        }
        let seq = i32::try_from(drawn - base)
            .map_err(|_| sqlx::Error::Protocol(format!("ticket numbering of {year} is full")))?;
        TicketNumber::new(prefix, year, seq).map_err(|e| sqlx::Error::Protocol(e.to_string()))
    }

    async fn next_ticket_id(&mut self) -> Result<i64, sqlx::Error> {
        if self.ticket_ids.is_empty() {
            // Popped from the end: keep ascending order of use.
            self.ticket_ids = super::tickets::reserve_ids(self.conn, self.hint).await?;
            self.ticket_ids.reverse();
        }
        self.ticket_ids
            .pop()
            .ok_or_else(|| sqlx::Error::Protocol("no ticket id from the sequence".into()))
    }

    async fn next_message_id(&mut self) -> Result<i64, sqlx::Error> {
        if self.message_ids.is_empty() {
            self.message_ids = super::messages::reserve_ids(self.conn, self.hint).await?;
            self.message_ids.reverse();
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
        // The sender's counts must include this ticket: read them before it is queued (the
        // caches may have been dropped by `direct`, and a later read would miss it).
        if !self.cache.senders.contains_key(t.requester_email) {
            self.load_senders(&[t.requester_email.to_string()]).await?;
        }
        let id = self.next_ticket_id().await?;
        let number = t.number.to_string();
        self.pending.tickets.push(TicketRow::new(id, &t, linked));
        if let Some(s) = self.cache.senders.get_mut(t.requester_email) {
            s.opened += 1;
        }
        self.cache
            .clocks
            .insert(id, crate::domain::sla::Clocks::default());
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
                created_at: self.now,
                opened_at: t.opened_at.unwrap_or(self.now),
                claimed_at: None,
                priority: t.priority,
                department: t.department.to_string(),
                resolved_at: None,
                closed_at: None,
            },
        );
        Ok(id)
    }

    /// The SLA clocks of ticket `id` as they stand with the pending changes (one query when
    /// not read yet; none for a ticket created in this unit of work).
    pub async fn clocks(&mut self, id: i64) -> Result<crate::domain::sla::Clocks, sqlx::Error> {
        if !self.cache.clocks.contains_key(&id) {
            self.load_clocks(&[id]).await?;
        }
        Ok(self.cache.clocks.get(&id).cloned().unwrap_or_default())
    }

    /// Queues the SLA state of a ticket, as [`super::sla::save_many`]: `clocks` is what
    /// later reads of [`Work::clocks`] answer, `row` what is written (the last one queued per
    /// ticket).
    pub fn set_clocks(&mut self, clocks: crate::domain::sla::Clocks, row: TicketClocks) {
        self.cache.clocks.insert(row.ticket_id, clocks);
        self.pending.sla.insert(row.ticket_id, row);
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

    /// Queues tags for ticket `ticket_id`, added by `added_by` (`rule:<name>`); one already
    /// on the ticket is left as it is.
    pub fn add_tags(&mut self, ticket_id: i64, tags: &[String], added_by: &str) {
        for t in tags {
            self.pending
                .tags
                .push((ticket_id, t.clone(), added_by.to_string()));
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
        self.pending
            .messages
            .push(MessageRow::new(Some(id), &m, raw));
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
        match self
            .pending
            .messages
            .iter_mut()
            .rev()
            .find(|m| m.id == Some(id))
        {
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
        self.pending.attachments.push(a);
    }

    /// Queues an acknowledgement record (`acknowledgements`): outbound message `message_row`
    /// acknowledged ticket `ticket_id` to `sender`.
    pub fn record_ack(&mut self, message_row: i64, sender: &str, ticket_id: i64) {
        if let Some(s) = self.cache.senders.get_mut(sender) {
            s.acks_last_hour += 1;
        }
        if let Some(n) = self.acks_all.as_mut() {
            *n += 1;
        }
        self.pending.acks.push(Ack {
            message_id: message_row,
            sender: sender.to_string(),
            ticket_id,
        });
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
        self.pending.outbox.push(NewItem::new(ticket_id, effect)?);
        Ok(())
    }

    /// Queues a personal notice, as [`super::notifications::record_many`] (written at the
    /// flush, after the tickets it names).
    pub fn notify(&mut self, notice: super::notifications::NewNotice) {
        self.pending.notices.push(notice);
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
        self.pending.duplicates.push(DuplicateCopy {
            mailbox: mailbox.to_string(),
            uidvalidity: i64::from(uidvalidity),
            uid: i64::from(uid),
            message_id: message_id.to_string(),
            ticket_id,
        });
    }

    /// Queues `raw` for the `quarantine` table with `reason` (kept once per mailbox and
    /// content, by SHA-256; the reason fitted by `store::quarantine::fit_reason`).
    pub fn quarantine(&mut self, mailbox: &str, uid: Option<i64>, reason: &str, raw: &'a [u8]) {
        self.pending
            .quarantine
            .push(QuarantineRow::new(mailbox, uid, reason, raw));
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
    /// (written by a concurrent transaction despite the ingest locks on its Message-ID); the
    /// transaction must then be rolled back, and the batch is fetched again.
    pub async fn flush(&mut self) -> Result<(), sqlx::Error> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let p = std::mem::take(&mut self.pending);
        let conn = &mut *self.conn;
        super::tickets::insert_many(conn, &p.tickets, Some(self.now)).await?;
        super::tickets::set_states(conn, &last_states(&p.states), Some(self.now)).await?;
        super::thread_keys::add_many(conn, &p.thread_keys).await?;
        super::tickets::add_participants_many(conn, &p.participants).await?;
        super::tags::add_many(conn, &p.tags).await?;
        let inserted = super::messages::insert_many(conn, &p.messages, Some(self.now)).await?;
        if inserted.len() != p.messages.len() {
            // Someone stored one of these Message-IDs after we looked: the decisions of this
            // batch were made on a wrong premise. Roll back; the batch is fetched again.
            return Err(sqlx::Error::Protocol(format!(
                "{} of {} messages of the batch were stored concurrently; retrying the batch",
                p.messages.len() - inserted.len(),
                p.messages.len()
            )));
        }
        super::attachments::insert_many(conn, &p.attachments).await?;
        super::noise::record_acks(conn, &p.acks).await?;
        let mut sla: Vec<TicketClocks> = p.sla.into_values().collect();
        sla.sort_by_key(|t| t.ticket_id);
        super::sla::save_many(conn, &sla).await?;
        let audit: Vec<AuditEvent<'_>> = p
            .audit
            .iter()
            .map(|r| AuditEvent {
                ticket_id: r.ticket_id,
                actor: &r.actor,
                surface: &r.surface,
                action: &r.action,
                before: r.before.clone(),
                after: r.after.clone(),
            })
            .collect();
        super::audit::record_many(conn, &audit).await?;
        super::outbox::enqueue_many(conn, &p.outbox).await?;
        super::notifications::record_many(conn, &p.notices).await?;
        super::duplicates::record_many(conn, &p.duplicates).await?;
        super::noise::flag_loops(conn, &p.loop_flags).await?;
        super::quarantine::insert_many(conn, &p.quarantine).await?;
        Ok(())
    }
}

/// The last queued state of each ticket of `states`, in order of first change. The holder
/// never changes at ingest, and the timestamps depend only on the final status (every
/// change of a unit of work happens at its `now`), so one change per ticket is what the
/// changes one by one would write.
fn last_states(states: &[(i64, Status, Option<i64>)]) -> Vec<StateChange> {
    let mut out: Vec<StateChange> = Vec::new();
    let mut at: HashMap<i64, usize> = HashMap::new();
    for &(id, status, assignee_id) in states {
        let change = StateChange {
            id,
            status,
            assignee_id,
        };
        match at.get(&id) {
            Some(&i) => out[i] = change,
            None => {
                at.insert(id, out.len());
                out.push(change);
            }
        }
    }
    out
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
