//! SLA clocks on the desk's events, and the alerts they owe (issue 14).
//!
//! Every use case that changes what a clock depends on — a new ticket, a customer message, an
//! agent reply, a status change, a priority change — hands `domain::sla::Event`s to
//! [`Desk::sla_events`] through its [`Sink`]: the ticket's clocks are read, the events applied
//! under `sla.policy_for(department, priority)` and `sla.calendar_for(department)`, and the
//! clocks saved with the ticket's next moment (`tickets.sla_next_at`), in the use case's
//! transaction (or its ingest unit of work).
//!
//! [`Desk::sla_tick`] takes the alerts due at a moment: for each due ticket, in one
//! transaction, the alerts are marked sent on the clocks, the next moment saved, and the
//! alerts queued in the outbox (a `ChannelNotice` in the department's channel, a card
//! refresh, an audit event, and on a breach the escalation `sla.on_breach` asks for). A
//! restart therefore sends none twice and loses none. `crate::app` runs the scheduler that
//! calls it (see [`Desk::sla_scheduler`]).
//!
//! When the `[sla]` settings change (a policy's goals, working hours, holidays), the clocks
//! of the tickets not done are re-stamped once at the scheduler's start
//! ([`Desk::sla_restamp`]), so cards, queues and alerts follow the new settings at once.
//!
//! With `sla.enabled = false` nothing here reads or writes anything.

use std::collections::HashMap;

use chrono::{DateTime, SubsecRound, Utc};
use serde_json::json;
use sqlx::PgConnection;

use crate::config::Escalation;
use crate::domain::sla::{Alert, AlertKind, Calendar, Clocks, Event};
use crate::domain::{Priority, Status};
use crate::store::{
    self,
    audit::AuditEvent,
    outbox::Effect,
    sla::{ClockRow, TicketClocks},
    tickets::Ticket,
};

use super::messages::{self, BreachEscalation};
use super::{Desk, DeskError, Sink};

/// Due tickets handled per transaction by [`Desk::sla_tick`].
const TICK_BATCH: i64 = 200;

/// An alert's notice before it is queued: ticket id, its own text, its line in a summary.
type PendingNotice = (i64, String, String);

/// More alerts than this for one department in one tick are posted as one summary.
pub const SUMMARY_OVER: usize = 5;

/// Tickets re-stamped per transaction by [`Desk::sla_restamp`].
const RESTAMP_BATCH: i64 = 500;

/// The `scheduled_runs` job recording the fingerprint of the `[sla]` settings the open
/// clocks were last stamped with (see [`Desk::sla_restamp`]).
pub const SETTINGS_JOB: &str = "sla_settings";

/// The scheduler wakes at least this often even when nothing is due (a safety net for a
/// lost notification or a clock that jumped).
pub const SCHEDULER_MAX_SLEEP: std::time::Duration = std::time::Duration::from_secs(60);

/// `clocks` as the database keeps them: instants to the microsecond (`timestamptz`), time
/// used to the second (`consumed_secs`), so that the moments computed before saving are the
/// ones computed after reading back.
fn stored_precision(mut clocks: Clocks) -> Clocks {
    let us = |t: DateTime<Utc>| t.trunc_subsecs(6);
    for c in &mut clocks.0 {
        c.started_at = us(c.started_at);
        c.running_since = c.running_since.map(us);
        c.met_at = c.met_at.map(us);
        c.warned_at = c.warned_at.map(us);
        c.breached_at = c.breached_at.map(us);
        c.consumed = chrono::Duration::seconds(c.consumed.num_seconds().max(0));
    }
    clocks
}

/// The row [`store::sla::save_many`] writes for ticket `ticket_id` with `clocks`.
fn row_of(ticket_id: i64, clocks: &Clocks, cal: &Calendar, share: f64) -> TicketClocks {
    TicketClocks {
        ticket_id,
        clocks: clocks
            .0
            .iter()
            .map(|c| ClockRow {
                clock: c.clone(),
                due_at: c.due(cal).map(|t| t.trunc_subsecs(6)),
                warn_at: c.warn_at(cal, share).map(|t| t.trunc_subsecs(6)),
            })
            .collect(),
        next_at: clocks.next_moment(cal, share).map(|t| t.trunc_subsecs(6)),
    }
}

impl Desk {
    /// Whether SLA clocks are kept (`sla.enabled`).
    pub fn sla_enabled(&self) -> bool {
        self.sla.enabled
    }

    /// The warning share for a ticket under `policy` (else `sla.warn_at`).
    fn warn_share(&self, policy: Option<&crate::domain::sla::Policy>) -> f64 {
        policy.map_or(self.sla.warn_at, |p| p.warn_share)
    }

    /// Applies `events` (in order) to the clocks of ticket `ticket_id` of `department` and
    /// `priority`, and saves them with the ticket's next moment through `sink` (in the
    /// caller's transaction, or queued in its unit of work). Does nothing when SLA is off,
    /// or when the ticket has no clocks and no policy; writes nothing when the clocks did
    /// not change.
    ///
    /// Errors: the database's; the caller's transaction must then roll back.
    pub(crate) async fn sla_events(
        &self,
        sink: &mut Sink<'_, '_, '_>,
        ticket_id: i64,
        department: &str,
        priority: Priority,
        events: &[Event],
    ) -> Result<(), sqlx::Error> {
        if !self.sla.enabled || events.is_empty() {
            return Ok(());
        }
        let policy = self.sla.policy_for(department, priority);
        let before = sink.clocks(ticket_id).await?;
        if before.0.is_empty() && policy.is_none() {
            return Ok(());
        }
        let cal = self.sla.calendar_for(department);
        let mut clocks = before.clone();
        for e in events {
            clocks.apply(policy.as_ref(), cal, e);
        }
        let clocks = stored_precision(clocks);
        if clocks == before {
            return Ok(());
        }
        let row = row_of(ticket_id, &clocks, cal, self.warn_share(policy.as_ref()));
        sink.save_clocks(clocks, row).await
    }

    /// [`Desk::sla_events`] for a status change of `t` from `from` to `to` now (nothing when
    /// the status stays).
    pub(crate) async fn sla_status(
        &self,
        sink: &mut Sink<'_, '_, '_>,
        t: &Ticket,
        from: Status,
        to: Status,
    ) -> Result<(), sqlx::Error> {
        if from == to {
            return Ok(());
        }
        let at = self.now();
        self.sla_events(
            sink,
            t.id,
            &t.department,
            t.priority,
            &[Event::StatusChanged { from, to, at }],
        )
        .await
    }

    /// Takes every SLA alert due at `now` (the desk's clock in the scheduler): for each
    /// ticket whose next moment has come, in batches of up to 200 tickets per transaction,
    /// the alerts are marked sent on its clocks, its next moment saved, and each alert
    /// queued (see the module documentation). Tickets another transaction holds are left
    /// for the next tick. Returns how many alerts were queued; each committed one is counted
    /// in [`crate::metrics::SLA_ALERTS`] by kind (`warning`, `breach`).
    ///
    /// Errors: the database's (the batch being handled is rolled back and retried at the
    /// next tick; batches committed before stay).
    pub async fn sla_tick(&self, now: DateTime<Utc>) -> Result<usize, DeskError> {
        if !self.sla.enabled {
            return Ok(0);
        }
        let mut sent = 0;
        loop {
            let mut tx = self.pool.begin().await?;
            let ids = store::sla::due_tickets(&mut tx, now, TICK_BATCH).await?;
            if ids.is_empty() {
                break;
            }
            let tickets = store::tickets::by_ids(&mut tx, &ids).await?;
            let mut all = store::sla::load_many(&mut tx, &ids).await?;
            let mut rows = Vec::with_capacity(tickets.len());
            let mut due: Vec<(&Ticket, Vec<Alert>)> = Vec::new();
            for t in &tickets {
                let policy = self.sla.policy_for(&t.department, t.priority);
                let cal = self.sla.calendar_for(&t.department);
                let share = self.warn_share(policy.as_ref());
                let mut clocks = all.remove(&t.id).unwrap_or_default();
                let alerts = clocks.take_due_alerts(cal, share, now);
                let clocks = stored_precision(clocks);
                let mut row = row_of(t.id, &clocks, cal, share);
                if row.next_at.is_some_and(|n| n <= now) {
                    // The domain owes an alert it does not give: do not spin on it.
                    tracing::warn!(ticket = t.id, next = ?row.next_at, "SLA moment due but no alert taken; retrying in a minute");
                    row.next_at = Some(now + chrono::Duration::minutes(1));
                }
                rows.push(row);
                if !alerts.is_empty() {
                    due.push((t, alerts));
                }
            }
            store::sla::save_many(&mut tx, &rows).await?;
            sent += self.queue_alerts(&mut tx, &due, now).await?;
            tx.commit().await?;
            for a in due.iter().flat_map(|(_, alerts)| alerts) {
                let kind = match a.kind {
                    AlertKind::Warning => "warning",
                    AlertKind::Breach => "breach",
                };
                metrics::counter!(crate::metrics::SLA_ALERTS, "kind" => kind).increment(1);
            }
            if (ids.len() as i64) < TICK_BATCH {
                break;
            }
        }
        Ok(sent)
    }

    /// Queues the alerts `due` (per ticket, locked by the caller) on `conn` at `now`: for
    /// each alert a notice in the department's channel on every platform and an audit event
    /// (`sla.warning`, `sla.breached`), on a breach the escalation of `sla.on_breach`, and one
    /// card refresh per ticket — written in one statement per table. Returns the number of
    /// alerts.
    async fn queue_alerts(
        &self,
        conn: &mut PgConnection,
        due: &[(&Ticket, Vec<Alert>)],
        now: DateTime<Utc>,
    ) -> Result<usize, DeskError> {
        let mut admins: HashMap<String, Vec<String>> = HashMap::new();
        let mut effects: Vec<(i64, Effect)> = Vec::new();
        let mut audit: Vec<(i64, &'static str, serde_json::Value)> = Vec::new();
        // Per department, in order: (ticket, the alert's notice, its line in a summary).
        let mut notices: Vec<(String, Vec<PendingNotice>)> = Vec::new();
        // The card refreshes, queued after the notices.
        let mut cards: Vec<(i64, Effect)> = Vec::new();
        let mut sent = 0;
        // Personal DMs to the holders of tickets nearing a deadline (see `desk::notify`).
        let mut personal = Vec::new();
        for (t, alerts) in due {
            if !admins.contains_key(&t.department) {
                let handles =
                    store::agents::department_admins(conn, &t.department, self.admins_everywhere)
                        .await?
                        .into_iter()
                        .map(|a| a.handle)
                        .collect();
                admins.insert(t.department.clone(), handles);
            }
            let admin_handles = admins.get(&t.department).cloned().unwrap_or_default();
            // The holder as it stands: an escalation may release it between two alerts.
            let mut holder = t.assignee_handle.clone();
            for a in alerts {
                if let (AlertKind::Warning, Some(_), Some(agent_id)) =
                    (a.kind, &holder, t.assignee_id)
                {
                    personal.push(self.sla_notice(t.id, agent_id, a));
                }
                let (text, action, escalation) = self
                    .alert_text(conn, t, &mut holder, &admin_handles, a, now)
                    .await?;
                let line = messages::sla_summary_line(&t.number, a.metric, a.kind, a.due, now);
                match notices.iter_mut().find(|(d, _)| *d == t.department) {
                    Some((_, list)) => list.push((t.id, text, line)),
                    None => notices.push((t.department.clone(), vec![(t.id, text, line)])),
                }
                audit.push((
                    t.id,
                    action,
                    json!({
                        "metric": a.metric.as_str(),
                        "due": a.due.to_rfc3339(),
                        "escalation": escalation,
                    }),
                ));
                sent += 1;
            }
            cards.extend(self.platforms.iter().map(|platform| {
                (
                    t.id,
                    Effect::Card {
                        platform: platform.clone(),
                    },
                )
            }));
        }
        // One notice per alert; a backlog (more than SUMMARY_OVER alerts of one department at
        // once, e.g. after downtime or a first sync of an old mailbox) gets one summary that
        // names the department's admins once, instead of a channel full of pings.
        for (department, list) in &notices {
            let per_alert: Vec<(i64, String)> = if list.len() > SUMMARY_OVER {
                let whom = admins.get(department).cloned().unwrap_or_default();
                let lines: Vec<&str> = list.iter().map(|(_, _, l)| l.as_str()).collect();
                vec![(list[0].0, messages::sla_summary(&lines, &whom))]
            } else {
                list.iter()
                    .map(|(id, text, _)| (*id, text.clone()))
                    .collect()
            };
            for (id, text) in per_alert {
                effects.extend(self.platforms.iter().map(|platform| {
                    (
                        id,
                        Effect::ChannelNotice {
                            platform: platform.clone(),
                            text: text.clone(),
                        },
                    )
                }));
            }
        }
        effects.extend(cards);
        let events: Vec<AuditEvent<'_>> = audit
            .iter()
            .map(|(id, action, after)| {
                AuditEvent::for_ticket(*id, ("system", "sla"), action, json!(null), after.clone())
            })
            .collect();
        let mut sink = self.sink(conn);
        sink.effects(&effects).await?;
        sink.events(&events).await?;
        sink.notify(personal).await?;
        Ok(sent)
    }

    /// The notice text of alert `a` of ticket `t` at `now`, its audit action, and on a breach
    /// the escalation done (`none`, `ping_admins`, `return_to_queue`). The warning names
    /// `holder`, else the department's `admins`; a breach does too, and with
    /// `return_to_queue` first releases the ticket (then `holder` becomes `None`).
    async fn alert_text(
        &self,
        conn: &mut PgConnection,
        t: &Ticket,
        holder: &mut Option<String>,
        admins: &[String],
        a: &Alert,
        now: DateTime<Utc>,
    ) -> Result<(String, &'static str, Option<&'static str>), DeskError> {
        let whom: Vec<String> = match holder {
            Some(h) => vec![h.clone()],
            None => admins.to_vec(),
        };
        if a.kind == AlertKind::Warning {
            let text =
                messages::sla_warning(&t.number, &t.subject, a.metric, a.due, a.due - now, &whom);
            return Ok((text, "sla.warning", None));
        }
        let escalation = match self.sla.on_breach {
            Escalation::None => BreachEscalation::None,
            Escalation::PingAdmins => BreachEscalation::Admins(
                admins
                    .iter()
                    .filter(|h| !whom.contains(h))
                    .cloned()
                    .collect(),
            ),
            Escalation::ReturnToQueue => match holder.clone() {
                Some(h) if self.return_to_queue(conn, t).await? => {
                    *holder = None;
                    BreachEscalation::Returned(h)
                }
                _ => BreachEscalation::None,
            },
        };
        let (whom, done) = match &escalation {
            // Back in the queue: the admins are the ones to act on it now.
            BreachEscalation::Returned(_) => (admins.to_vec(), "return_to_queue"),
            BreachEscalation::Admins(_) => (whom, "ping_admins"),
            BreachEscalation::None => (whom, "none"),
        };
        let text = messages::sla_breach(&t.number, &t.subject, a.metric, a.due, &whom, &escalation);
        Ok((text, "sla.breached", Some(done)))
    }

    /// The `return_to_queue` escalation: ticket `t` loses its holder as by `unclaim` (status
    /// per the status machine, audited as `ticket.sla_returned`, card refreshed, the
    /// department's pending queue drained). Returns false when the status machine does not
    /// allow it (nothing changes then).
    async fn return_to_queue(
        &self,
        conn: &mut PgConnection,
        t: &Ticket,
    ) -> Result<bool, DeskError> {
        let Some(fresh) = store::tickets::lock(conn, t.id).await? else {
            return Ok(false);
        };
        if fresh.assignee_id.is_none() {
            return Ok(false);
        }
        let released = self
            .release_held(conn, &fresh, ("system", "sla"), "ticket.sla_returned")
            .await?;
        if released.is_ok() {
            self.drain_pending_in(conn, &fresh.department).await?;
        }
        Ok(released.is_ok())
    }

    /// A fingerprint of the `[sla]` settings (policies, working hours, holidays, warning
    /// share): 16 hex digits of the SHA-256 of their JSON form (deterministic: the maps in
    /// it are ordered).
    fn sla_fingerprint(&self) -> String {
        use sha2::Digest;
        let text = serde_json::to_string(&*self.sla).unwrap_or_default();
        hex::encode(&sha2::Sha256::digest(text.as_bytes())[..8])
    }

    /// Re-stamps the clocks of every ticket not done when the `[sla]` settings changed since
    /// they were last stamped: each gets `PolicyChanged` at `now` (goals re-targeted to the
    /// policy that now applies, time already counted kept, clocks no policy measures any
    /// more dropped) and its due, warning and next moments recomputed under the current
    /// working hours, [`RESTAMP_BATCH`] tickets per transaction. The settings' fingerprint
    /// is then recorded (`scheduled_runs`), so a start without a change costs one query.
    /// Returns how many tickets were re-stamped (0 when nothing changed or SLA is off).
    ///
    /// Errors: the database's (batches committed before stay; the next start finishes).
    pub async fn sla_restamp(&self, now: DateTime<Utc>) -> Result<usize, DeskError> {
        if !self.sla.enabled {
            return Ok(0);
        }
        let fingerprint = self.sla_fingerprint();
        {
            let mut conn = self.pool.acquire().await?;
            let last = store::scheduled_runs::last_period(&mut conn, SETTINGS_JOB).await?;
            if last.as_deref() == Some(fingerprint.as_str()) {
                return Ok(0);
            }
        }
        let mut done = 0;
        let mut after = 0;
        loop {
            let mut tx = self.pool.begin().await?;
            let ids = store::sla::unmet_ticket_ids(&mut tx, after, RESTAMP_BATCH).await?;
            let Some(&last) = ids.last() else {
                break;
            };
            after = last;
            let tickets = store::tickets::by_ids(&mut tx, &ids).await?;
            let mut all = store::sla::load_many(&mut tx, &ids).await?;
            let mut rows = Vec::with_capacity(tickets.len());
            for t in &tickets {
                let policy = self.sla.policy_for(&t.department, t.priority);
                let cal = self.sla.calendar_for(&t.department);
                let mut clocks = all.remove(&t.id).unwrap_or_default();
                clocks.apply(policy.as_ref(), cal, &Event::PolicyChanged { at: now });
                let clocks = stored_precision(clocks);
                rows.push(row_of(t.id, &clocks, cal, self.warn_share(policy.as_ref())));
            }
            store::sla::save_many(&mut tx, &rows).await?;
            tx.commit().await?;
            done += rows.len();
        }
        let mut conn = self.pool.acquire().await?;
        store::scheduled_runs::claim(&mut conn, SETTINGS_JOB, &fingerprint).await?;
        Ok(done)
    }

    /// The SLA scheduler: sleeps until the earliest pending SLA moment
    /// ([`store::sla::earliest`]), at most [`SCHEDULER_MAX_SLEEP`], waking early when a
    /// ticket's moment becomes earlier (`NOTIFY` on [`store::sla::CHANNEL`]), and runs
    /// [`Desk::sla_tick`] at the desk's clock. Runs until the task is aborted; errors are
    /// logged and retried after a short pause. Does nothing (returns) when SLA is off.
    pub async fn sla_scheduler(self) {
        if !self.sla.enabled {
            return;
        }
        // Clocks stamped under other settings (a changed policy, hours or holidays) first.
        match self.sla_restamp(self.now()).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(tickets = n, "SLA settings changed: open clocks re-stamped"),
            Err(e) => tracing::error!(error = %e, "re-stamping SLA clocks after a settings change"),
        }
        let mut listener = None;
        loop {
            if listener.is_none() {
                match store::sla::listen(&self.pool).await {
                    Ok(l) => listener = Some(l),
                    Err(e) => {
                        tracing::warn!(error = %e, "SLA scheduler cannot LISTEN; waking every minute")
                    }
                }
            }
            let wait = match self.sla_round().await {
                Ok(w) => w,
                Err(e) => {
                    tracing::error!(error = %e, "SLA scheduler");
                    std::time::Duration::from_secs(5)
                }
            };
            match listener.as_mut() {
                Some(l) => {
                    tokio::select! {
                        _ = tokio::time::sleep(wait) => {}
                        r = l.recv() => if let Err(e) = r {
                            tracing::warn!(error = %e, "SLA scheduler lost its LISTEN connection");
                            listener = None;
                        },
                    }
                }
                None => tokio::time::sleep(wait).await,
            }
        }
    }

    /// One round of the scheduler: the alerts due now, then how long to sleep until the
    /// next moment (at most [`SCHEDULER_MAX_SLEEP`]).
    async fn sla_round(&self) -> Result<std::time::Duration, DeskError> {
        let sent = self.sla_tick(self.now()).await?;
        if sent > 0 {
            tracing::info!(alerts = sent, "SLA alerts queued");
        }
        let next = {
            let mut conn = self.pool.acquire().await?;
            store::sla::earliest(&mut conn).await?
        };
        let wait = match next {
            // A few milliseconds past the moment, so the tick sees it due.
            Some(at) => (at - self.now() + chrono::Duration::milliseconds(20))
                .to_std()
                .unwrap_or(std::time::Duration::ZERO),
            None => SCHEDULER_MAX_SLEEP,
        };
        // A moment still due after the tick belongs to a ticket another transaction holds:
        // look again shortly rather than spin.
        Ok(wait.clamp(std::time::Duration::from_millis(250), SCHEDULER_MAX_SLEEP))
    }
}
