//! Merging and linking tickets. Automatic merges happen at ingest only between tickets of one
//! requester (`domain::trust::plan_thread`); tickets of different requesters that a message
//! names together are linked (`ticket_links`) and both threads get a notice with the command
//! that merges them. `merge <ticket> <into-ticket>` does that by hand: admins and owners any
//! two tickets, members two tickets they hold both of (`domain::trust::may_merge`), audited.

use serde_json::json;
use sqlx::PgConnection;

use crate::domain::trust;
use crate::store;

use super::{Actor, Desk, DeskError};

/// What `merge` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergeOutcome {
    /// The ticket that was merged (now `merged`).
    pub from: String,
    /// The ticket that holds its messages now.
    pub into: String,
    /// The requester replies go to from now on (`into`'s).
    pub requester: String,
}

impl Desk {
    /// Merges ticket `from` into ticket `into` (numbers as typed) as `actor`: `from`'s
    /// messages and thread keys move to `into`, `from` becomes `merged` (its holder is
    /// released), both are audited (`ticket.merged` on `from`, `ticket.merged_in` on
    /// `into`), both cards refresh and both threads get a notice. Replies go to `into`'s
    /// requester only.
    ///
    /// Errors: [`DeskError::BadTicketNumber`], [`DeskError::NoSuchTicket`],
    /// [`DeskError::Merged`] (either was merged already), [`DeskError::BadInput`] (the same
    /// ticket twice), [`DeskError::NotAllowed`] (a member who does not hold both), storage.
    ///
    /// Locks: both ticket rows `FOR UPDATE`, lower id first. Ingest reads a ticket only under
    /// its row lock and follows `merged_into` (see `desk::ingest`, Concurrency), so a message
    /// never lands on a ticket this merge has merged, and no global lock is needed. A merge
    /// Postgres aborts for a deadlock (`40P01`) is run again (up to three times).
    pub async fn merge_tickets(
        &self,
        actor: &Actor,
        from: &str,
        into: &str,
    ) -> Result<MergeOutcome, DeskError> {
        let mut retries = 0;
        loop {
            match self.merge_once(actor, from, into).await {
                Err(DeskError::Store(e)) if super::ingest::is_retryable(&e) && retries < 3 => {
                    retries += 1;
                    tracing::info!(from, into, retries, error = %e, "merge aborted by Postgres; running it again");
                }
                other => return other,
            }
        }
    }

    /// One run of [`Desk::merge_tickets`].
    async fn merge_once(
        &self,
        actor: &Actor,
        from: &str,
        into: &str,
    ) -> Result<MergeOutcome, DeskError> {
        let mut tx = self.pool.begin().await?;
        let f = self.ticket_by_number(&mut tx, from).await?;
        let i = self.ticket_by_number(&mut tx, into).await?;
        if f.id == i.id {
            return Err(DeskError::BadInput(format!(
                "{} cannot be merged into itself.",
                f.number
            )));
        }
        // Lock both, lower id first, so two merges cannot deadlock or cross.
        for id in [f.id.min(i.id), f.id.max(i.id)] {
            store::tickets::lock(&mut tx, id).await?;
        }
        let (f, i) = match (
            store::tickets::by_id(&mut tx, f.id).await?,
            store::tickets::by_id(&mut tx, i.id).await?,
        ) {
            (Some(f), Some(i)) => (f, i),
            _ => return Err(DeskError::NoSuchTicket(from.trim().to_string())),
        };
        for t in [&f, &i] {
            if t.merged_into.is_some() {
                // Merged by someone else meanwhile: the lookup says where it went.
                self.ticket_by_number(&mut tx, &t.number).await?;
            }
        }
        let me = Some(actor.agent.id);
        if !trust::may_merge(actor.agent.role, f.assignee_id == me, i.assignee_id == me) {
            return Err(DeskError::NotAllowed {
                number: format!("{} and {}", f.number, i.number),
                holder_or_admin: "an admin, or an agent who holds both".into(),
            });
        }
        let who = (actor.agent.handle.as_str(), actor.surface.as_str());
        self.merge_into(&mut tx, f.id, i.id, who).await?;
        self.sink(&mut tx)
            .audit(
                i.id,
                who,
                "ticket.merged_in",
                json!(null),
                json!({"merged": f.number, "requester": i.requester_email}),
            )
            .await?;
        let text = crate::desk::messages::merged_notice(&f.number, &i.number, &actor.agent.handle);
        self.sink(&mut tx).notices(f.id, &text).await?;
        self.sink(&mut tx).notices(i.id, &text).await?;
        self.sink(&mut tx).cards(i.id).await?;
        tx.commit().await?;
        Ok(MergeOutcome {
            from: f.number,
            into: i.number,
            requester: i.requester_email,
        })
    }

    /// Merges ticket `from` into `into` inside the caller's transaction, by `who` (`(actor,
    /// surface)`): its messages and thread keys move, it becomes `merged`, the merge is
    /// audited on `from` and `from`'s cards are refreshed.
    pub(super) async fn merge_into(
        &self,
        conn: &mut PgConnection,
        from: i64,
        into: i64,
        who: (&str, &str),
    ) -> Result<(), sqlx::Error> {
        let was = store::tickets::by_id(conn, from).await?;
        let before = was
            .as_ref()
            .map(|t| json!({"status": t.status.as_str(), "assignee": t.assignee_handle}))
            .unwrap_or(json!(null));
        store::messages::move_all(conn, from, into).await?;
        store::thread_keys::move_all(conn, from, into).await?;
        store::tickets::mark_merged(conn, from, into).await?;
        // The merged ticket's tags go with its messages (within the limit per ticket).
        let tags = store::tags::copy_all(conn, from, into, self.tags.max_per_ticket).await?;
        if !tags.is_empty() {
            let mut sink = self.sink(conn);
            sink.audit(
                into,
                who,
                "ticket.tagged",
                json!({ "merged_from": from }),
                json!({ "added": tags }),
            )
            .await?;
            sink.cards(into).await?;
        }
        self.sink(conn)
            .audit(
                from,
                who,
                "ticket.merged",
                before,
                json!({"merged_into": into}),
            )
            .await?;
        self.sink(conn).cards(from).await?;
        if let Some(t) = &was {
            self.sla_status(
                &mut self.sink(conn),
                t,
                t.status,
                crate::domain::Status::Merged,
            )
            .await?;
        }
        Ok(())
    }

    /// Links ticket `a` (the one message `message_id` went to) with ticket `b` (another
    /// requester's that the message also named), inside the caller's transaction. On a new
    /// link, each ticket gets a flagged system note (posted in its card threads) naming the
    /// other and the command that merges them, and an audit event `ticket.linked`. Returns
    /// whether the link is new.
    pub(super) async fn link_tickets(
        &self,
        conn: &mut PgConnection,
        a: i64,
        b: i64,
        message_id: &str,
    ) -> Result<bool, sqlx::Error> {
        if !store::ticket_links::add(conn, a, b, "references", Some(message_id)).await? {
            return Ok(false);
        }
        let (Some(ta), Some(tb)) = (
            store::tickets::by_id(conn, a).await?,
            store::tickets::by_id(conn, b).await?,
        ) else {
            return Err(sqlx::Error::RowNotFound);
        };
        // The command merges the newer ticket into the older one.
        let (newer, older) = if ta.id > tb.id {
            (&ta, &tb)
        } else {
            (&tb, &ta)
        };
        for (here, other) in [(&ta, &tb), (&tb, &ta)] {
            let text = crate::desk::messages::linked_notice(
                &other.number,
                &other.requester_email,
                &newer.number,
                &older.number,
            );
            let note_id = store::notes::insert(conn, here.id, None, &text, true).await?;
            self.sink(conn).thread_notes(here.id, note_id).await?;
            self.sink(conn)
                .audit(
                    here.id,
                    ("system", "email"),
                    "ticket.linked",
                    json!(null),
                    json!({"linked": other.number, "message_id": message_id, "note_id": note_id}),
                )
                .await?;
        }
        Ok(true)
    }
}
