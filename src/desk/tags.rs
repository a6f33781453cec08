//! Tags: `tag <ticket> <tag>…` and `untag <ticket> <tag>…` for agents, the tag filters of
//! the listings, and the intake rules applied when an email opens a ticket. The decisions
//! are `domain::tags`'s; the words `messages::tags`'.

use serde_json::json;

use crate::domain::tags::{self, AddRefusal, Decision, Tag, TagFilter};
use crate::store;

use super::{Actor, Desk, DeskError, TicketSummary};

/// A completed `tag` command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagOutcome {
    /// Ticket number.
    pub number: String,
    /// Tags added now.
    pub added: Vec<String>,
    /// Tags typed that the ticket already carried.
    pub already: Vec<String>,
    /// The ticket's tags after the change, alphabetically.
    pub tags: Vec<String>,
}

/// A completed `untag` command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UntagOutcome {
    /// Ticket number.
    pub number: String,
    /// Tags removed now.
    pub removed: Vec<String>,
    /// Tags typed that the ticket did not carry.
    pub absent: Vec<String>,
    /// The ticket's tags after the change, alphabetically.
    pub tags: Vec<String>,
}

/// The audit actor of intake rule `name`: `rule:<name>`.
pub fn rule_actor(name: &str) -> String {
    format!("rule:{name}")
}

fn strings(tags: &[Tag]) -> Vec<String> {
    tags.iter().map(|t| t.as_str().to_string()).collect()
}

impl Desk {
    /// Adds `wanted` to ticket `number` (every agent may tag any ticket but a merged one).
    /// Tags already on it are named in the answer and change nothing; when nothing is new,
    /// nothing is written. Added tags are audited (`ticket.tagged`, the tags before and after)
    /// and the card is refreshed on every platform through the outbox.
    ///
    /// Errors: [`DeskError::BadInput`] for a tag outside `[tags] allowed` (naming the list)
    /// or past `[tags] max_per_ticket`; lookup errors. Nothing changes on error.
    pub async fn tag(
        &self,
        actor: &Actor,
        number: &str,
        wanted: &[Tag],
    ) -> Result<TagOutcome, DeskError> {
        let mut tx = self.pool.begin().await?;
        let t = self.locked_ticket(&mut tx, number).await?;
        let before = store::tags::for_ticket(&mut tx, t.id).await?;
        let current: Vec<Tag> = before.iter().filter_map(|s| Tag::parse(s).ok()).collect();
        let plan = tags::plan_add(
            &current,
            wanted,
            self.tags.vocabulary(),
            self.tags.max_per_ticket,
        )
        .map_err(|r| match r {
            AddRefusal::NotAllowed { refused, allowed } => DeskError::BadInput(
                super::messages::tags::not_allowed(&strings(&refused), &strings(&allowed)),
            ),
            AddRefusal::TooMany { limit, has } => {
                DeskError::BadInput(super::messages::tags::too_many(&t.number, limit, has))
            }
        })?;
        let added = strings(&plan.add);
        if !added.is_empty() {
            let rows: Vec<store::tags::NewTag> = added
                .iter()
                .map(|g| (t.id, g.clone(), actor.agent.handle.clone()))
                .collect();
            store::tags::add_many(&mut tx, &rows).await?;
        }
        let after = store::tags::for_ticket(&mut tx, t.id).await?;
        if !added.is_empty() {
            let mut sink = self.sink(&mut tx);
            sink.audit(
                t.id,
                (&actor.agent.handle, actor.surface.as_str()),
                "ticket.tagged",
                json!({ "tags": before }),
                json!({ "tags": after, "added": added }),
            )
            .await?;
            sink.cards(t.id).await?;
        }
        tx.commit().await?;
        Ok(TagOutcome {
            number: t.number,
            added,
            already: strings(&plan.already),
            tags: after,
        })
    }

    /// Removes `tags` from ticket `number` (every agent, any ticket but a merged one). Tags
    /// it does not carry are named in the answer and change nothing. Removals are audited
    /// (`ticket.untagged`) and the card is refreshed through the outbox.
    ///
    /// Errors: lookup errors. Nothing changes on error.
    pub async fn untag(
        &self,
        actor: &Actor,
        number: &str,
        tags: &[Tag],
    ) -> Result<UntagOutcome, DeskError> {
        let mut tx = self.pool.begin().await?;
        let t = self.locked_ticket(&mut tx, number).await?;
        let before = store::tags::for_ticket(&mut tx, t.id).await?;
        let wanted = strings(tags);
        let removed = store::tags::remove(&mut tx, t.id, &wanted).await?;
        let absent: Vec<String> = wanted
            .iter()
            .filter(|w| !removed.contains(w))
            .cloned()
            .collect();
        let removed: Vec<String> = wanted
            .iter()
            .filter(|w| removed.contains(w))
            .cloned()
            .collect();
        let after: Vec<String> = before
            .iter()
            .filter(|b| !removed.contains(b))
            .cloned()
            .collect();
        if !removed.is_empty() {
            let mut sink = self.sink(&mut tx);
            sink.audit(
                t.id,
                (&actor.agent.handle, actor.surface.as_str()),
                "ticket.untagged",
                json!({ "tags": before }),
                json!({ "tags": after, "removed": removed }),
            )
            .await?;
            sink.cards(t.id).await?;
        }
        tx.commit().await?;
        Ok(UntagOutcome {
            number: t.number,
            removed,
            absent,
            tags: after,
        })
    }

    /// [`Desk::list`] narrowed to tickets carrying every tag of `filter`.
    pub async fn list_tagged(&self, filter: &TagFilter) -> Result<Vec<TicketSummary>, DeskError> {
        let mut all = self.list().await?;
        all.retain(|t| filter.matches(&t.tags));
        Ok(all)
    }

    /// [`Desk::mine`] narrowed to tickets carrying every tag of `filter`.
    pub async fn mine_tagged(
        &self,
        actor: &Actor,
        filter: &TagFilter,
    ) -> Result<Vec<store::workload::QueueLine>, DeskError> {
        let mut conn = self.pool.acquire().await?;
        Ok(
            store::workload::held_by_tagged(&mut conn, actor.agent.id, &filter.as_strings())
                .await?,
        )
    }

    /// [`Desk::unassigned`] narrowed to tickets carrying every tag of `filter`.
    pub async fn unassigned_tagged(
        &self,
        filter: &TagFilter,
    ) -> Result<Vec<store::workload::QueueLine>, DeskError> {
        let mut conn = self.pool.acquire().await?;
        Ok(store::workload::unassigned_tagged(&mut conn, &filter.as_strings()).await?)
    }

    /// What the intake rules decide for an email from `from` through `mailbox` that opens a
    /// ticket (`[[tags.rules]]`, evaluated by `domain::tags::Rules::evaluate`).
    pub(super) fn rules_for(
        &self,
        mailbox: &str,
        from: &str,
        dmarc: Option<crate::domain::auth_results::Dmarc>,
        subject: &str,
        body: &str,
    ) -> Decision {
        if self.tags.rules().rules.is_empty() {
            return Decision::default();
        }
        self.tags.rules().evaluate(&tags::Incoming {
            mailbox,
            from,
            dmarc,
            subject,
            body,
        })
    }

    /// Queues what `decision` says for the new ticket `ticket_id` in the sink: its tags
    /// (added by `rule:<name>`) and one audit event per matching rule (`ticket.tagged` by
    /// `rule:<name>` via `email`, with the tags it added and the priority or department it
    /// set). The ticket was inserted with the rules' priority and department already.
    pub(super) async fn apply_rules(
        &self,
        work: &mut store::batch::Work<'_, '_>,
        ticket_id: i64,
        decision: &Decision,
    ) -> Result<(), sqlx::Error> {
        for (name, added) in &decision.tagged {
            let actor = rule_actor(name);
            work.add_tags(ticket_id, &strings(added), &actor);
            let mut after = json!({ "tags": strings(added) });
            if let Some((p, _)) = decision.priority.as_ref().filter(|(_, r)| r == name) {
                after["priority"] = p.as_str().into();
            }
            if let Some((d, _)) = decision.department.as_ref().filter(|(_, r)| r == name) {
                after["department"] = d.as_str().into();
            }
            self.queued(work)
                .event(store::audit::AuditEvent {
                    ticket_id: Some(ticket_id),
                    actor: &actor,
                    surface: "email",
                    action: "ticket.tagged",
                    before: None,
                    after: Some(after),
                })
                .await?;
        }
        Ok(())
    }
}
