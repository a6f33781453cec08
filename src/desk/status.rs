//! Status and priority changes asked for by agents, decided by `domain::status` and
//! `domain::permissions`.

use serde_json::json;

use crate::domain::{Action, Event, Priority, Status};
use crate::store;

use super::{Actor, Desk, DeskError};

/// A completed status change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusOutcome {
    /// Ticket.
    pub number: String,
    /// Status before.
    pub from: Status,
    /// Status after.
    pub to: Status,
}

impl Desk {
    /// Moves ticket `number` towards `target` (`open`, `in_progress`, `waiting`, `resolved`,
    /// `closed`): resolve/close/wait/resume; `open` or `in_progress` on a resolved or closed
    /// ticket reopens it (closed: per the reopen policy); `open` on a held ticket releases it.
    /// Members may change only tickets they hold.
    ///
    /// Errors: [`DeskError::BadInput`] for a status nobody sets by hand, [`DeskError::Illegal`],
    /// [`DeskError::NotAllowed`], lookup errors.
    #[tracing::instrument(name = "desk.set_status", skip_all, fields(
        surface = actor.surface.as_str(),
        agent = %actor.agent.handle,
        ticket = tracing::field::Empty,
        ticket_id = tracing::field::Empty,
    ))]
    pub async fn set_status(
        &self,
        actor: &Actor,
        number: &str,
        target: Status,
    ) -> Result<StatusOutcome, DeskError> {
        let mut tx = self.pool.begin().await?;
        let t = self.locked_ticket(&mut tx, number).await?;
        let holds_it = t.assignee_id == Some(actor.agent.id);
        let assigned = t.assignee_id.is_some();
        let done = matches!(t.status, Status::Resolved | Status::Closed);
        let reopen_action = if t.status == Status::Closed {
            Action::ReopenClosed
        } else {
            Action::ReopenResolved { holds_it }
        };
        let (event, action) = match target {
            Status::Resolved => (Event::Resolve, Action::ChangeStatus { holds_it }),
            Status::Closed => (Event::Close, Action::ChangeStatus { holds_it }),
            Status::Waiting => (Event::Wait, Action::ChangeStatus { holds_it }),
            Status::InProgress if done => (Event::Reopen { assigned }, reopen_action),
            Status::InProgress => (Event::Resume, Action::ChangeStatus { holds_it }),
            Status::Open if done => (Event::Reopen { assigned: false }, reopen_action),
            Status::Open => (Event::Unclaim, Action::Unclaim { holds_it }),
            other => {
                return Err(DeskError::BadInput(format!(
                "`{other}` is not set by hand; use open, in_progress, waiting, resolved or closed"
            )))
            }
        };
        self.require(actor, action, &t)?;
        let to = t.status.apply(event).map_err(|source| DeskError::Illegal {
            number: t.number.clone(),
            source,
        })?;
        let assignee = match event {
            Event::Unclaim | Event::Reopen { assigned: false } => None,
            _ => t.assignee_id,
        };
        store::tickets::set_state(&mut tx, t.id, to, assignee).await?;
        self.sink(&mut tx).audit(t.id, (&actor.agent.handle, actor.surface.as_str()),
            "ticket.status",
            json!({"status": t.status.as_str(), "assignee": t.assignee_handle}),
            json!({"status": to.as_str(), "assignee": if assignee.is_some() { t.assignee_handle.clone() } else { None }}),
        )
        .await?;
        self.sink(&mut tx).cards(t.id).await?;
        self.sla_status(&mut self.sink(&mut tx), &t, t.status, to)
            .await?;
        if assigned && assignee.is_none()
            || to.is_done()
            || (to == Status::Waiting && !self.count_waiting)
        {
            self.drain_pending_in(&mut tx, &t.department).await?;
        }
        tx.commit().await?;
        Ok(StatusOutcome {
            number: t.number,
            from: t.status,
            to,
        })
    }

    /// Sets the priority of ticket `number`; members only on tickets they hold.
    #[tracing::instrument(name = "desk.set_priority", skip_all, fields(
        surface = actor.surface.as_str(),
        agent = %actor.agent.handle,
        ticket = tracing::field::Empty,
        ticket_id = tracing::field::Empty,
    ))]
    pub async fn set_priority(
        &self,
        actor: &Actor,
        number: &str,
        priority: Priority,
    ) -> Result<StatusOutcome, DeskError> {
        let mut tx = self.pool.begin().await?;
        let t = self.locked_ticket(&mut tx, number).await?;
        let holds_it = t.assignee_id == Some(actor.agent.id);
        self.require(actor, Action::ChangeStatus { holds_it }, &t)?;
        store::tickets::set_priority(&mut tx, t.id, priority).await?;
        self.sink(&mut tx)
            .audit(
                t.id,
                (&actor.agent.handle, actor.surface.as_str()),
                "ticket.priority",
                json!({"priority": t.priority.as_str()}),
                json!({"priority": priority.as_str()}),
            )
            .await?;
        self.sink(&mut tx).cards(t.id).await?;
        if priority != t.priority {
            let at = self.now();
            self.sla_events(
                &mut self.sink(&mut tx),
                t.id,
                &t.department,
                priority,
                &[crate::domain::sla::Event::PolicyChanged { at }],
            )
            .await?;
        }
        tx.commit().await?;
        Ok(StatusOutcome {
            number: t.number,
            from: t.status,
            to: t.status,
        })
    }

    /// The audit trail of ticket `number`, oldest first.
    pub async fn history(
        &self,
        number: &str,
    ) -> Result<(String, Vec<store::audit::AuditRow>), DeskError> {
        let mut conn = self.pool.acquire().await?;
        let t = self.any_ticket_by_number(&mut conn, number).await?;
        Ok((t.number, store::audit::for_ticket(&mut conn, t.id).await?))
    }
}
