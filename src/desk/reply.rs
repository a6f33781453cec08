//! Reply: an agent's answer to the customer, queued for SMTP in the same transaction that
//! records it, so it is sent exactly once even across crashes (see `crate::worker`).

use crate::domain::{threading, Action, Event, TicketNumber};
use crate::store::{self, messages::Direction, outbox::Effect};

use super::{Actor, Desk, DeskError};

/// A queued reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplyOutcome {
    /// Ticket number.
    pub number: String,
    /// The customer address it goes to.
    pub to: String,
    /// Whether the reply claimed an unclaimed ticket for the replier.
    pub claimed: bool,
    /// The Message-ID it will carry, without brackets.
    pub message_id: String,
}

impl Desk {
    /// Queues `text` as an email to the requester of ticket `number`, from the mailbox the
    /// ticket came in through, with subject `Re: <subject> [TICK-…]`, In-Reply-To the latest
    /// customer message and References its chain (RFC 5322 §3.6.4). An unclaimed ticket is
    /// claimed for the replier; the status becomes in progress.
    ///
    /// The reply appears in the card threads only once SMTP has accepted it
    /// ([`Desk::record_sent`]), so "sent to customer" in chat is never a promise.
    ///
    /// A member may reply on a ticket another agent holds only when
    /// `desk.reply_to_held_tickets = "anyone"` (admins always may); the holder stays.
    ///
    /// Errors: [`DeskError::EmptyReply`], [`DeskError::HeldByOther`] (someone else holds it),
    /// [`DeskError::Illegal`] (closed, merged), lookup errors. Nothing is queued on error.
    #[tracing::instrument(name = "desk.reply", skip_all, fields(
        surface = actor.surface.as_str(),
        agent = %actor.agent.handle,
        ticket = tracing::field::Empty,
        ticket_id = tracing::field::Empty,
    ))]
    pub async fn reply(
        &self,
        actor: &Actor,
        number: &str,
        text: &str,
    ) -> Result<ReplyOutcome, DeskError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(DeskError::EmptyReply);
        }
        let mut tx = self.pool.begin().await?;
        let t = self.locked_ticket(&mut tx, number).await?;
        // A ticket that takes no reply (closed, merged) says so first, whoever asks.
        let status = t
            .status
            .apply(Event::AgentReply)
            .map_err(|source| DeskError::Illegal {
                number: t.number.clone(),
                source,
            })?;
        let held_by_other = t.assignee_id.is_some_and(|id| id != actor.agent.id);
        self.require(actor, Action::Reply { held_by_other }, &t)?;
        let claimed = t.assignee_id.is_none();
        let assignee = t.assignee_id.unwrap_or(actor.agent.id);

        let history = store::messages::for_ticket(&mut tx, t.id).await?;
        let parent = history
            .iter()
            .rev()
            .find(|m| !m.outbound)
            .or(history.last());
        let (in_reply_to, references) = match parent {
            Some(p) => {
                let mut refs = p.references.clone();
                if refs.is_empty() {
                    refs.extend(p.in_reply_to.clone());
                }
                refs.push(p.message_id.clone());
                (Some(p.message_id.clone()), refs)
            }
            None => (None, Vec::new()),
        };
        let number: TicketNumber = t
            .number
            .parse()
            .map_err(|_| DeskError::BadTicketNumber(t.number.clone()))?;
        let unique = uuid::Uuid::new_v4().simple().to_string();
        let key = self.message_id_key(&mut tx).await?;
        let message_id = threading::outgoing_msg_id(&number, &unique, &self.message_id_domain, key);
        let subject = threading::reply_subject(&t.subject, &number);
        let from = self.from_address(&t.mailbox).to_string();
        let to = vec![t.requester_email.clone()];
        let row = store::messages::insert(
            &mut tx,
            store::messages::NewMessage {
                ticket_id: t.id,
                message_id: &message_id,
                in_reply_to: in_reply_to.as_deref(),
                references: &references,
                direction: Direction::Outbound,
                from_addr: &from,
                from_name: None,
                to_addrs: &to,
                subject: &subject,
                body_text: text,
                raw: None,
                raw_size: i32::try_from(text.len()).unwrap_or(i32::MAX),
                mailbox: Some(&t.mailbox),
                uid: None,
                author_agent_id: Some(actor.agent.id),
                received_at: Some(self.now()),
                date_header: None,
            },
        )
        .await?
        .ok_or(sqlx::Error::RowNotFound)?;
        store::thread_keys::add(&mut tx, std::slice::from_ref(&message_id), t.id).await?;
        store::tickets::set_state(&mut tx, t.id, status, Some(assignee)).await?;
        store::tickets::mark_response(&mut tx, t.id).await?;
        self.sink(&mut tx)
            .effect(
                Some(t.id),
                &Effect::Email {
                    message_id: row,
                    auto_submitted: None,
                },
            )
            .await?;
        self.sink(&mut tx).audit(t.id,
            (&actor.agent.handle, actor.surface.as_str()),
            "reply.queued",
            serde_json::json!({"status": t.status.as_str(), "assignee": t.assignee_handle}),
            serde_json::json!({
                "status": status.as_str(),
                "assignee": if claimed { Some(actor.agent.handle.clone()) } else { t.assignee_handle.clone() },
                "message_id": message_id,
            }),
        )
        .await?;
        self.sink(&mut tx).cards(t.id).await?;
        let at = self.now();
        let mut events = vec![crate::domain::sla::Event::AgentReply { at }];
        if status != t.status {
            events.push(crate::domain::sla::Event::StatusChanged {
                from: t.status,
                to: status,
                at,
            });
        }
        self.sla_events(
            &mut self.sink(&mut tx),
            t.id,
            &t.department,
            t.priority,
            &events,
        )
        .await?;
        tx.commit().await?;
        Ok(ReplyOutcome {
            number: t.number,
            to: t.requester_email,
            claimed,
            message_id,
        })
    }
}

impl Desk {
    /// Records that SMTP accepted outbound message `message_id` of ticket `ticket_id`, and
    /// queues it for the card threads — in the caller's transaction (the outbox worker's).
    pub async fn record_sent(
        &self,
        conn: &mut sqlx::PgConnection,
        ticket_id: i64,
        message_id: i64,
    ) -> Result<(), sqlx::Error> {
        store::messages::mark_sent(conn, message_id).await?;
        self.sink(conn).thread_messages(ticket_id, message_id).await
    }
}
