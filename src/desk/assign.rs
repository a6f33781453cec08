//! Assignment: admin assign/reassign, auto-assignment with the pending queue, availability
//! (`away` / `back`) and bulk release or reassignment of one agent's tickets.

use chrono::{DateTime, Utc};
use serde_json::json;
use sqlx::PgConnection;

use crate::domain::assignment::{self, Mode};
use crate::domain::{Action, Event, Status};
use crate::store::{self, agents::Identity, outbox::Effect};

use super::{Actor, Desk, DeskError};

/// A completed assignment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssignOutcome {
    /// Ticket.
    pub number: String,
    /// New holder's handle.
    pub to: String,
    /// Previous holder's handle.
    pub from: Option<String>,
}

/// Tickets touched by a bulk operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BulkOutcome {
    /// Whose tickets.
    pub agent: String,
    /// Their numbers.
    pub numbers: Vec<String>,
    /// New holder (bulk reassign).
    pub to: Option<String>,
}

impl Desk {
    fn load_statuses(&self) -> Vec<&'static str> {
        let mut s = vec![Status::Claimed.as_str(), Status::InProgress.as_str()];
        if self.count_waiting {
            s.push(Status::Waiting.as_str());
        }
        s
    }

    pub(crate) fn is_auto(&self, department: &str) -> bool {
        self.departments.get(department) == Some(&Mode::Auto)
    }

    async fn active_agent(
        &self,
        conn: &mut PgConnection,
        handle: &str,
    ) -> Result<store::agents::Agent, DeskError> {
        let h = handle.trim().trim_start_matches('@');
        store::agents::find(conn, Identity::Handle(h))
            .await?
            .ok_or_else(|| DeskError::NoSuchAgent(h.to_string()))
    }

    /// Gives locked ticket `t` to `agent_id` (status per [`Event::Assign`]); records it.
    async fn give(
        &self,
        conn: &mut PgConnection,
        t: &store::tickets::Ticket,
        agent: &store::agents::Agent,
        actor: &str,
        surface: &str,
        action: &str,
    ) -> Result<Status, DeskError> {
        let status = t
            .status
            .apply(Event::Assign)
            .map_err(|source| DeskError::Illegal {
                number: t.number.clone(),
                source,
            })?;
        store::tickets::set_state(conn, t.id, status, Some(agent.id)).await?;
        store::agents::touch_assigned(conn, agent.id).await?;
        self.sink(conn)
            .audit(
                t.id,
                (actor, surface),
                action,
                json!({"status": t.status.as_str(), "assignee": t.assignee_handle}),
                json!({"status": status.as_str(), "assignee": agent.handle}),
            )
            .await?;
        self.sink(conn).cards(t.id).await?;
        self.sla_status(&mut self.sink(conn), t, t.status, status)
            .await?;
        // A personal DM to the new holder, unless they gave it to themselves.
        if actor != agent.handle {
            self.sink(conn)
                .notify(vec![self.assigned_notice(t.id, agent.id, actor)])
                .await?;
        }
        Ok(status)
    }

    /// An admin gives ticket `number` to agent `handle` — or moves it from its current holder
    /// (a reassign, recorded as such).
    ///
    /// Errors: [`DeskError::NotAllowed`] for members, [`DeskError::NoSuchAgent`],
    /// [`DeskError::Illegal`] for done tickets, lookup errors.
    #[tracing::instrument(name = "desk.assign", skip_all, fields(
        surface = actor.surface.as_str(),
        agent = %actor.agent.handle,
        ticket = tracing::field::Empty,
        ticket_id = tracing::field::Empty,
    ))]
    pub async fn assign(
        &self,
        actor: &Actor,
        number: &str,
        handle: &str,
    ) -> Result<AssignOutcome, DeskError> {
        let mut tx = self.pool.begin().await?;
        let t = self.locked_ticket(&mut tx, number).await?;
        self.require(actor, Action::Assign, &t)?;
        let target = self.active_agent(&mut tx, handle).await?;
        if t.assignee_id == Some(target.id) {
            return Ok(AssignOutcome {
                number: t.number,
                to: target.handle.clone(),
                from: Some(target.handle),
            });
        }
        let action = if t.assignee_id.is_some() {
            "ticket.reassigned"
        } else {
            "ticket.assigned"
        };
        self.give(
            &mut tx,
            &t,
            &target,
            &actor.agent.handle,
            actor.surface.as_str(),
            action,
        )
        .await?;
        let from = t.assignee_handle.clone();
        let text = match &from {
            Some(f) => format!(
                "Reassigned from @{f} to @{} by @{}.",
                target.handle, actor.agent.handle
            ),
            None => format!("Assigned to @{} by @{}.", target.handle, actor.agent.handle),
        };
        self.sink(&mut tx).notices(t.id, &text).await?;
        if from.is_some() {
            self.drain_pending_in(&mut tx, &t.department).await?;
        }
        tx.commit().await?;
        Ok(AssignOutcome {
            number: t.number,
            to: target.handle,
            from,
        })
    }

    /// Auto-assigns ticket `ticket_id` of `department` (an `auto` department) in the caller's
    /// transaction: to the agent [`assignment::pick`] chooses, or into `pending_assignment`
    /// with the department's admins pinged in the channel when nobody is eligible.
    pub(crate) async fn auto_assign(
        &self,
        conn: &mut PgConnection,
        ticket_id: i64,
    ) -> Result<Option<i64>, DeskError> {
        // Serialises auto-assignment decisions, so concurrent ingests cannot both give the
        // last free slot of one agent.
        store::locks::hold_for_transaction(conn, store::locks::ASSIGNMENT).await?;
        let Some(t) = store::tickets::lock(conn, ticket_id).await? else {
            return Ok(None);
        };
        let candidates = store::agents::candidates(
            conn,
            &t.department,
            &self.load_statuses(),
            self.admins_everywhere,
        )
        .await?;
        if let Some(agent_id) = assignment::pick(&candidates) {
            let agent = store::agents::by_id(conn, agent_id)
                .await?
                .ok_or(sqlx::Error::RowNotFound)?;
            self.give(conn, &t, &agent, "system", "auto", "ticket.auto_assigned")
                .await?;
            return Ok(Some(agent_id));
        }
        if t.status == Status::Open {
            let status =
                t.status
                    .apply(Event::NoAgentAvailable)
                    .map_err(|source| DeskError::Illegal {
                        number: t.number.clone(),
                        source,
                    })?;
            store::tickets::set_state(conn, t.id, status, None).await?;
            self.sink(conn)
                .audit(
                    t.id,
                    ("system", "auto"),
                    "ticket.pending_assignment",
                    json!({"status": t.status.as_str()}),
                    json!({"status": status.as_str()}),
                )
                .await?;
            self.sink(conn).cards(t.id).await?;
            self.sla_status(&mut self.sink(conn), &t, t.status, status)
                .await?;
            let admins =
                store::agents::department_admins(conn, &t.department, self.admins_everywhere)
                    .await?;
            let mentions: Vec<String> = admins
                .iter()
                .map(|a| format!("{{mention:{}}}", a.handle))
                .collect();
            let text = format!(
                "⚠️ {} is waiting for assignment in {}: nobody is available (everyone is away or at capacity). {}",
                t.number,
                t.department,
                mentions.join(" ")
            );
            self.sink(conn)
                .on_every_platform(t.id, |platform| Effect::ChannelNotice {
                    platform,
                    text: text.clone(),
                })
                .await?;
        }
        Ok(None)
    }

    /// Assigns waiting tickets of `department` — urgent first, then oldest — while someone
    /// has room; in the caller's transaction. Returns how many were assigned.
    pub(crate) async fn drain_pending_in(
        &self,
        conn: &mut PgConnection,
        department: &str,
    ) -> Result<usize, DeskError> {
        if !self.is_auto(department) {
            return Ok(0);
        }
        // Serialises auto-assignment decisions, so concurrent ingests cannot both give the
        // last free slot of one agent.
        store::locks::hold_for_transaction(conn, store::locks::ASSIGNMENT).await?;
        let mut n = 0;
        while let Some(id) = store::tickets::next_pending(conn, department).await? {
            if self.auto_assign(conn, id).await?.is_none() {
                break;
            }
            n += 1;
        }
        Ok(n)
    }

    /// Drains the pending queue of every `auto` department, each in its own transaction.
    pub async fn drain_all_pending(&self) -> Result<usize, DeskError> {
        let mut depts: Vec<&String> = self
            .departments
            .iter()
            .filter(|(_, m)| **m == Mode::Auto)
            .map(|(d, _)| d)
            .collect();
        depts.sort();
        let mut n = 0;
        for d in depts {
            let mut tx = self.pool.begin().await?;
            n += self.drain_pending_in(&mut tx, d).await?;
            tx.commit().await?;
        }
        Ok(n)
    }

    /// Takes `who` (the actor when `None`) out of auto-assignment, until `until` when given.
    /// Members may only set themselves away.
    pub async fn set_away(
        &self,
        actor: &Actor,
        who: Option<&str>,
        until: Option<DateTime<Utc>>,
    ) -> Result<String, DeskError> {
        self.set_availability(actor, who, false, until).await
    }

    /// Puts `who` (the actor when `None`) back into auto-assignment and drains the pending
    /// queues they may now take from.
    pub async fn set_back(&self, actor: &Actor, who: Option<&str>) -> Result<String, DeskError> {
        let handle = self.set_availability(actor, who, true, None).await?;
        self.drain_all_pending().await?;
        Ok(handle)
    }

    async fn set_availability(
        &self,
        actor: &Actor,
        who: Option<&str>,
        available: bool,
        until: Option<DateTime<Utc>>,
    ) -> Result<String, DeskError> {
        let mut tx = self.pool.begin().await?;
        let target = match who {
            Some(h) => self.active_agent(&mut tx, h).await?,
            None => actor.agent.clone(),
        };
        let action = if target.id == actor.agent.id {
            Action::SetOwnAvailability
        } else {
            Action::SetOthersAvailability
        };
        if !crate::domain::permissions::allows(actor.agent.role, action, self.policy) {
            return Err(DeskError::Forbidden("an admin".into()));
        }
        store::agents::set_availability(&mut tx, target.id, available, until).await?;
        store::audit::record(
            &mut tx,
            store::audit::AuditEvent {
                ticket_id: None,
                actor: &actor.agent.handle,
                surface: actor.surface.as_str(),
                action: if available {
                    "agent.back"
                } else {
                    "agent.away"
                },
                before: None,
                after: Some(
                    json!({"agent": target.handle, "until": until.map(|u| u.to_rfc3339())}),
                ),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(target.handle)
    }

    /// Releases every ticket `handle` holds (vacation); admins only.
    pub async fn bulk_unclaim(
        &self,
        actor: &Actor,
        handle: &str,
    ) -> Result<BulkOutcome, DeskError> {
        self.bulk(actor, handle, None).await
    }

    /// Moves every ticket `from` holds to `to`; admins only.
    pub async fn bulk_reassign(
        &self,
        actor: &Actor,
        from: &str,
        to: &str,
    ) -> Result<BulkOutcome, DeskError> {
        self.bulk(actor, from, Some(to)).await
    }

    async fn bulk(
        &self,
        actor: &Actor,
        from: &str,
        to: Option<&str>,
    ) -> Result<BulkOutcome, DeskError> {
        if !crate::domain::permissions::allows(actor.agent.role, Action::BulkUnclaim, self.policy) {
            return Err(DeskError::Forbidden("an admin".into()));
        }
        let mut tx = self.pool.begin().await?;
        let source = self.active_agent(&mut tx, from).await?;
        let target = match to {
            Some(h) => Some(self.active_agent(&mut tx, h).await?),
            None => None,
        };
        let mut numbers = Vec::new();
        let mut departments = std::collections::BTreeSet::new();
        for id in store::tickets::held_by(&mut tx, source.id).await? {
            let Some(t) = store::tickets::lock(&mut tx, id).await? else {
                continue;
            };
            match &target {
                Some(agent) => {
                    self.give(
                        &mut tx,
                        &t,
                        agent,
                        &actor.agent.handle,
                        actor.surface.as_str(),
                        "ticket.reassigned",
                    )
                    .await?;
                }
                None => {
                    let Ok(status) = t.status.apply(Event::Unclaim) else {
                        continue;
                    };
                    store::tickets::set_state(&mut tx, t.id, status, None).await?;
                    self.sink(&mut tx)
                        .audit(
                            t.id,
                            (&actor.agent.handle, actor.surface.as_str()),
                            "ticket.unclaimed",
                            json!({"status": t.status.as_str(), "assignee": source.handle}),
                            json!({"status": status.as_str(), "assignee": null, "bulk": true}),
                        )
                        .await?;
                    self.sink(&mut tx).cards(t.id).await?;
                    self.sla_status(&mut self.sink(&mut tx), &t, t.status, status)
                        .await?;
                }
            }
            departments.insert(t.department.clone());
            numbers.push(t.number);
        }
        for d in departments {
            self.drain_pending_in(&mut tx, &d).await?;
        }
        tx.commit().await?;
        Ok(BulkOutcome {
            agent: source.handle,
            numbers,
            to: target.map(|t| t.handle),
        })
    }
}
