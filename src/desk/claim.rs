//! Claim and unclaim. A claim is one conditional UPDATE: first write wins.

use serde_json::json;

use crate::domain::{Action, Event, Status};
use crate::store;

use super::{Actor, Desk, DeskError};

/// A successful claim or unclaim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimOutcome {
    /// Ticket number.
    pub number: String,
    /// Status after.
    pub status: Status,
    /// Handle of the previous holder (unclaim).
    pub previous_holder: Option<String>,
}

impl Desk {
    /// Gives ticket `number` to `actor` if nobody holds it. Each attempt is counted in
    /// [`crate::metrics::CLAIMS`] (see [`claim_labels`]) and runs in a span `desk.claim`.
    ///
    /// Errors: [`DeskError::AlreadyClaimed`] naming the holder when someone was first,
    /// [`DeskError::AlreadyYours`], [`DeskError::Illegal`] for a status that cannot be claimed
    /// (resolved, closed), lookup errors. Nothing changes on error.
    #[tracing::instrument(name = "desk.claim", skip_all, fields(
        surface = actor.surface.as_str(),
        agent = %actor.agent.handle,
        ticket = tracing::field::Empty,
        ticket_id = tracing::field::Empty,
    ))]
    pub async fn claim(&self, actor: &Actor, number: &str) -> Result<ClaimOutcome, DeskError> {
        let r = self.claim_once(actor, number).await;
        let (result, reason) = claim_labels(&r);
        metrics::counter!(crate::metrics::CLAIMS, "result" => result, "reason" => reason)
            .increment(1);
        r
    }

    /// [`Desk::claim`] without the counting.
    async fn claim_once(&self, actor: &Actor, number: &str) -> Result<ClaimOutcome, DeskError> {
        let mut tx = self.pool.begin().await?;
        let t = self.ticket_by_number(&mut tx, number).await?;
        self.require(actor, Action::Claim, &t)?;
        let claimable: Vec<&str> = Status::ALL
            .into_iter()
            .filter(|s| s.apply(Event::Claim).is_ok())
            .map(Status::as_str)
            .collect();
        if !store::tickets::try_claim(&mut tx, t.id, actor.agent.id, &claimable, Status::Claimed)
            .await?
        {
            // Someone was first, or the status forbids it: explain from the current row.
            let now = store::tickets::by_id(&mut tx, t.id).await?.unwrap_or(t);
            return Err(match (now.assignee_id, now.assignee_handle) {
                (Some(id), _) if id == actor.agent.id => DeskError::AlreadyYours(now.number),
                (Some(_), Some(by)) => DeskError::AlreadyClaimed {
                    number: now.number,
                    by,
                },
                _ => match now.status.apply(Event::Claim) {
                    Err(source) => DeskError::Illegal {
                        number: now.number,
                        source,
                    },
                    Ok(_) => DeskError::AlreadyClaimed {
                        number: now.number,
                        by: "someone".into(),
                    },
                },
            });
        }
        store::agents::touch_assigned(&mut tx, actor.agent.id).await?;
        let mut sink = self.sink(&mut tx);
        self.sla_status(&mut sink, &t, t.status, Status::Claimed)
            .await?;
        sink.audit(
            t.id,
            (&actor.agent.handle, actor.surface.as_str()),
            "ticket.claimed",
            json!({"status": t.status.as_str(), "assignee": null}),
            json!({"status": "claimed", "assignee": actor.agent.handle}),
        )
        .await?;
        sink.cards(t.id).await?;
        tx.commit().await?;
        Ok(ClaimOutcome {
            number: t.number,
            status: Status::Claimed,
            previous_holder: None,
        })
    }

    /// Releases the claim on ticket `number`: allowed to the holder and to admins and owners.
    ///
    /// Errors: [`DeskError::NotClaimed`], [`DeskError::NotAllowed`], [`DeskError::Illegal`],
    /// lookup errors. Nothing changes on error.
    #[tracing::instrument(name = "desk.unclaim", skip_all, fields(
        surface = actor.surface.as_str(),
        agent = %actor.agent.handle,
        ticket = tracing::field::Empty,
        ticket_id = tracing::field::Empty,
    ))]
    pub async fn unclaim(&self, actor: &Actor, number: &str) -> Result<ClaimOutcome, DeskError> {
        let mut tx = self.pool.begin().await?;
        let t = self.locked_ticket(&mut tx, number).await?;
        let Some(holder_id) = t.assignee_id else {
            return Err(DeskError::NotClaimed(t.number));
        };
        let holder = t.assignee_handle.clone().unwrap_or_default();
        self.require(
            actor,
            Action::Unclaim {
                holds_it: holder_id == actor.agent.id,
            },
            &t,
        )?;
        let status = self
            .release_held(
                &mut tx,
                &t,
                (&actor.agent.handle, actor.surface.as_str()),
                "ticket.unclaimed",
            )
            .await?
            .map_err(|source| DeskError::Illegal {
                number: t.number.clone(),
                source,
            })?;
        self.drain_pending_in(&mut tx, &t.department).await?;
        tx.commit().await?;
        Ok(ClaimOutcome {
            number: t.number,
            status,
            previous_holder: Some(holder),
        })
    }
}

/// The `(result, reason)` labels of [`crate::metrics::CLAIMS`] for one claim attempt:
/// `claimed`/`none`; `refused` with `taken` (someone else holds it), `yours` (the claimer
/// already does), `closed` (its status cannot be claimed), `not_allowed`, `not_found` (no
/// such ticket, a malformed number, merged away) or `other`; `error`/`storage` when the
/// database failed.
pub fn claim_labels(r: &Result<ClaimOutcome, DeskError>) -> (&'static str, &'static str) {
    match r {
        Ok(_) => ("claimed", "none"),
        Err(DeskError::Store(_)) => ("error", "storage"),
        Err(e) => (
            "refused",
            match e {
                DeskError::AlreadyClaimed { .. } | DeskError::HeldByOther { .. } => "taken",
                DeskError::AlreadyYours(_) => "yours",
                DeskError::Illegal { .. } => "closed",
                DeskError::NotAllowed { .. } | DeskError::Forbidden(_) | DeskError::NotAMember => {
                    "not_allowed"
                }
                DeskError::NoSuchTicket(_)
                | DeskError::BadTicketNumber(_)
                | DeskError::Merged { .. } => "not_found",
                _ => "other",
            },
        ),
    }
}

impl Desk {
    /// Takes ticket `t` (locked by the caller) from its holder in the caller's transaction,
    /// as `who` (`(actor, surface)`): the status per [`Event::Unclaim`], audited as `action`
    /// with the holder before, the card refreshed, the SLA clocks told. Returns the new status,
    /// or the refusal of the status machine (nothing changes then). The caller drains the
    /// department's pending queue when it wants to.
    ///
    /// Errors: the database's.
    pub(super) async fn release_held(
        &self,
        conn: &mut sqlx::PgConnection,
        t: &store::tickets::Ticket,
        who: (&str, &str),
        action: &str,
    ) -> Result<Result<Status, crate::domain::status::IllegalTransition>, sqlx::Error> {
        let status = match t.status.apply(Event::Unclaim) {
            Ok(s) => s,
            Err(e) => return Ok(Err(e)),
        };
        store::tickets::set_state(conn, t.id, status, None).await?;
        let mut sink = self.sink(conn);
        sink.audit(
            t.id,
            who,
            action,
            json!({"status": t.status.as_str(), "assignee": t.assignee_handle}),
            json!({"status": status.as_str(), "assignee": null}),
        )
        .await?;
        sink.cards(t.id).await?;
        self.sla_status(&mut sink, t, t.status, status).await?;
        Ok(Ok(status))
    }
}
