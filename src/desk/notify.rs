//! Personal notifications (issue 15): a direct message to an agent when a ticket is assigned
//! to them (by an admin or the assignment policy, not when they claim it), when a customer
//! answers a ticket they hold, and when their ticket nears its SLA deadline.
//!
//! 1. **Recorded with the change.** `Desk::give` (assign.rs), ingest (single and batch, through
//!    its unit of work) and the SLA tick record a `notifications` row through their [`Sink`],
//!    in the transaction of the change; a kind the agent turned off records nothing
//!    (`store::notifications::record_many`).
//! 2. **Folded by the sweep.** [`Desk::notify_sweep`] decides per agent when their pending
//!    notices are due (`domain::notify::due_at`: assignments and SLA warnings at once,
//!    customer answers after `[notify] fold_secs`, nothing during quiet hours) and, in one
//!    transaction per agent, locks the pending rows, queues one `direct_message` outbox
//!    effect per platform the agent has a user id on, and marks the rows `sent` (`dropped`
//!    when there is no such platform, or the agent was removed: no DM, no error loop). A crash before the commit
//!    leaves them pending; after it the outbox has them: none lost, none doubled.
//! 3. **Delivered by the outbox worker** (`Effect::DirectMessage`): Slack `conversations.open`
//!    and `chat.postMessage`, Discord `POST /users/@me/channels` and a message with a nonce
//!    and `enforce_nonce`.
//!
//! [`Desk::notify_loop`] runs the sweep: it sleeps until the earliest pending moment (at most
//! [`SWEEP_MAX_SLEEP`]), woken by `NOTIFY claimdesk_notify` when a notice is recorded.

use chrono::{DateTime, Duration, Utc};
use serde_json::json;

use crate::domain::notify::{self as rules, Change, Kind, Prefs};
use crate::domain::sla::Alert;
use crate::store::{self, notifications::NewNotice, outbox::Effect};

use super::messages::{self, Mention};
use super::{Actor, Desk, DeskError};

/// The sweep wakes at least this often even when nothing is due.
pub const SWEEP_MAX_SLEEP: std::time::Duration = std::time::Duration::from_secs(30);

/// One agent's pending notices as the folding rule sees them: `(kind, recorded at)`.
type Moments = Vec<(Kind, DateTime<Utc>)>;

/// What one sweep did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SweepOutcome {
    /// Direct messages queued (one per agent and platform).
    pub messages: usize,
    /// Notices folded into them.
    pub notices: usize,
    /// Notices dropped because their agent has no user id on any active platform.
    pub dropped: usize,
    /// The earliest moment a notice still pending becomes due.
    pub next: Option<DateTime<Utc>>,
}

impl Desk {
    /// The fold window (`[notify] fold_secs`).
    fn fold(&self) -> Duration {
        Duration::seconds(self.notify.fold_seconds())
    }

    /// The notice that ticket `ticket_id` was given to agent `agent_id` by `actor` (a handle,
    /// or `system` for the assignment policy).
    pub(crate) fn assigned_notice(&self, ticket_id: i64, agent_id: i64, actor: &str) -> NewNotice {
        NewNotice {
            agent_id,
            kind: Kind::Assigned,
            ticket_id,
            detail: json!({"by": (actor != "system").then_some(actor)}),
            at: self.now(),
        }
    }

    /// The notice that `from` answered ticket `ticket_id`, held by `agent_id`.
    pub(crate) fn reply_notice(&self, ticket_id: i64, agent_id: i64, from: &str) -> NewNotice {
        NewNotice {
            agent_id,
            kind: Kind::Replies,
            ticket_id,
            detail: json!({"from": from}),
            at: self.now(),
        }
    }

    /// The notice of SLA warning `a` on ticket `ticket_id`, held by `agent_id`.
    pub(crate) fn sla_notice(&self, ticket_id: i64, agent_id: i64, a: &Alert) -> NewNotice {
        NewNotice {
            agent_id,
            kind: Kind::Sla,
            ticket_id,
            detail: json!({"metric": a.metric.as_str(), "due": a.due.to_rfc3339()}),
            at: self.now(),
        }
    }

    /// The platforms (of those active) on which `agent` can get a DM, with their user id.
    fn dm_targets(&self, agent: &store::agents::Agent) -> Vec<(String, String)> {
        self.platforms
            .iter()
            .filter_map(|p| {
                let id = match p.as_str() {
                    "slack" => agent.slack_user_id.as_deref(),
                    "discord" => agent.discord_user_id.as_deref(),
                    _ => None,
                }?;
                let id = id.trim();
                // Only an id the platform could take: a malformed one would fail forever.
                let usable = match p.as_str() {
                    "discord" => id.parse::<u64>().is_ok_and(|n| n != 0),
                    _ => !id.is_empty() && !id.contains(char::is_whitespace),
                };
                usable.then(|| (p.clone(), id.to_string()))
            })
            .collect()
    }

    /// `notify [setting]` for the caller: shows their choices (no text), or changes one
    /// (`assigned|replies|sla on|off`, `quiet HH:MM-HH:MM Zone`, `quiet off`) and says so.
    ///
    /// Errors: [`DeskError::BadInput`] with the reason and the usage for text that is not a
    /// setting; the database's.
    pub async fn notify_settings(&self, actor: &Actor, text: &str) -> Result<String, DeskError> {
        let change = rules::parse_change(text)
            .map_err(|e| DeskError::BadInput(messages::notify::change_error(&e)))?;
        if change == Change::Show {
            let mut conn = self.pool.acquire().await?;
            let current = store::notification_prefs::get(&mut conn, actor.agent.id).await?;
            let platforms: Vec<&str> = self
                .dm_targets(&actor.agent)
                .iter()
                .map(|(p, _)| if p == "slack" { "Slack" } else { "Discord" })
                .collect();
            return Ok(messages::notify::prefs(
                &current,
                &platforms,
                self.notify.fold_secs,
            ));
        }
        let mut tx = self.pool.begin().await?;
        // Locked: two changes at once (say `assigned off` and `quiet …`) both stay.
        let current = store::notification_prefs::get_for_update(&mut tx, actor.agent.id).await?;
        let next = match change {
            Change::Show => current,
            Change::Kind(k, on) => current.with(k, on),
            Change::Quiet(q) => Prefs {
                quiet: q,
                ..current
            },
        };
        store::notification_prefs::set(&mut tx, actor.agent.id, &next).await?;
        store::audit::record(
            &mut tx,
            store::audit::AuditEvent {
                ticket_id: None,
                actor: &actor.agent.handle,
                surface: actor.surface.as_str(),
                action: "agent.notify_changed",
                before: Some(prefs_json(&current)),
                after: Some(prefs_json(&next)),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(messages::notify::changed(&change))
    }

    /// Folds every agent's due pending notices at `now` into direct messages (see the
    /// module documentation): per agent, in one transaction under the agent's lock, all
    /// their pending rows are taken, whether they are due decided again, one outbox effect
    /// per platform queued, and the rows marked. A concurrent sweep (another replica) waits
    /// for that lock and then finds nothing pending: one agent's notices are never split
    /// into two DMs, nor sent before they are due.
    ///
    /// Errors: the database's (agents handled before stay committed; the rest is retried at
    /// the next sweep).
    pub async fn notify_sweep(&self, now: DateTime<Utc>) -> Result<SweepOutcome, DeskError> {
        let moments = {
            let mut conn = self.pool.acquire().await?;
            store::notifications::pending_moments(&mut conn).await?
        };
        let mut by_agent: Vec<(i64, Moments)> = Vec::new();
        for (agent, kind, at) in moments {
            match by_agent.last_mut() {
                Some((a, list)) if *a == agent => list.push((kind, at)),
                _ => by_agent.push((agent, vec![(kind, at)])),
            }
        }
        let prefs = {
            let ids: Vec<i64> = by_agent.iter().map(|(a, _)| *a).collect();
            let mut conn = self.pool.acquire().await?;
            store::notification_prefs::get_many(&mut conn, &ids).await?
        };
        let fold = self.fold();
        let mut out = SweepOutcome::default();
        for (agent_id, pending) in by_agent {
            let p = prefs.get(&agent_id).copied().unwrap_or_default();
            let Some(due) = rules::due_at(&pending, fold, p.quiet.as_ref(), now) else {
                continue;
            };
            if due > now {
                out.next = Some(out.next.map_or(due, |n| n.min(due)));
                continue;
            }
            self.send_folded(agent_id, now, &mut out).await?;
        }
        Ok(out)
    }

    /// One agent's pending notices as one DM per platform, in one transaction: under the
    /// agent's lock (`store::locks::notify_agent`, so a concurrent sweep on another replica
    /// waits and then finds nothing), all their pending rows are taken and whether they are
    /// due is decided again from those rows and the current preferences; nothing is done
    /// when they are not (the moment goes to `out.next`).
    async fn send_folded(
        &self,
        agent_id: i64,
        now: DateTime<Utc>,
        out: &mut SweepOutcome,
    ) -> Result<(), DeskError> {
        let mut tx = self.pool.begin().await?;
        store::locks::hold_named_for_transaction(&mut tx, &store::locks::notify_agent(agent_id))
            .await?;
        let notices = store::notifications::take_pending(&mut tx, agent_id).await?;
        if notices.is_empty() {
            return Ok(());
        }
        let prefs = store::notification_prefs::get(&mut tx, agent_id).await?;
        let moments: Moments = notices.iter().map(|n| (n.kind, n.at)).collect();
        let fold = self.fold();
        match rules::due_at(&moments, fold, prefs.quiet.as_ref(), now) {
            Some(due) if due <= now => {}
            Some(due) => {
                out.next = Some(out.next.map_or(due, |n| n.min(due)));
                return Ok(());
            }
            None => return Ok(()),
        }
        let ids: Vec<i64> = notices.iter().map(|n| n.id).collect();
        // A removed agent is told nothing more: their notices are dropped.
        let targets = match store::agents::by_id(&mut tx, agent_id).await? {
            Some(a) if store::agents::is_active(&mut tx, agent_id).await? => self.dm_targets(&a),
            _ => Vec::new(),
        };
        // Held by quiet hours: the moment the message was first due fell in them.
        let held = rules::held(&moments, fold, prefs.quiet.as_ref());
        let effects: Vec<Effect> = targets
            .into_iter()
            .map(|(platform, user)| {
                let style = if platform == "slack" {
                    Mention::Slack
                } else {
                    Mention::Discord
                };
                Effect::DirectMessage {
                    text: messages::notify::dm(&notices, style, now, held),
                    platform,
                    user,
                }
            })
            .collect();
        let sent = !effects.is_empty();
        let items = effects
            .iter()
            .map(|e| store::outbox::NewItem::new(None, e))
            .collect::<Result<Vec<_>, _>>()?;
        store::outbox::enqueue_many(&mut tx, &items).await?;
        store::notifications::mark_swept(&mut tx, &ids, sent, now).await?;
        tx.commit().await?;
        if sent {
            out.messages += items.len();
            out.notices += ids.len();
        } else {
            out.dropped += ids.len();
        }
        Ok(())
    }

    /// The notification sweep, forever: [`Desk::notify_sweep`] at the desk's clock, then
    /// sleep until the earliest pending moment (at most [`SWEEP_MAX_SLEEP`]), woken early by
    /// `NOTIFY claimdesk_notify` when a notice is recorded. Errors are logged and retried
    /// after a short pause.
    pub async fn notify_loop(self) {
        let mut listener = None;
        loop {
            if listener.is_none() {
                match store::notifications::listen(&self.pool).await {
                    Ok(l) => listener = Some(l),
                    Err(e) => {
                        tracing::warn!(error = %e, "notification sweep cannot LISTEN; polling")
                    }
                }
            }
            let wait = match self.notify_sweep(self.now()).await {
                Ok(o) => {
                    if o.messages > 0 || o.dropped > 0 {
                        tracing::info!(
                            messages = o.messages,
                            notices = o.notices,
                            dropped = o.dropped,
                            "personal notifications queued"
                        );
                    }
                    match o.next {
                        // A few milliseconds past the moment, so the sweep sees it due.
                        Some(at) => (at - self.now() + Duration::milliseconds(20))
                            .to_std()
                            .unwrap_or(std::time::Duration::ZERO),
                        None => SWEEP_MAX_SLEEP,
                    }
                }
                Err(e) => {
                    tracing::error!(error = %e, "notification sweep");
                    std::time::Duration::from_secs(5)
                }
            };
            let wait = wait.clamp(std::time::Duration::from_millis(100), SWEEP_MAX_SLEEP);
            match listener.as_mut() {
                Some(l) => {
                    tokio::select! {
                        _ = tokio::time::sleep(wait) => {}
                        r = l.recv() => if let Err(e) = r {
                            tracing::warn!(error = %e, "notification sweep lost its LISTEN connection");
                            listener = None;
                        },
                    }
                }
                None => tokio::time::sleep(wait).await,
            }
        }
    }
}

/// `prefs` as the audit trail keeps it.
fn prefs_json(p: &Prefs) -> serde_json::Value {
    json!({
        "assigned": p.assigned,
        "replies": p.replies,
        "sla": p.sla,
        "quiet": p.quiet.map(|q| q.describe()),
    })
}
