//! Loops and noise at ingest: automatic mail (RFC 3834 auto-replies, RFC 3464 delivery
//! reports, RFC 5965 feedback reports, our own outgoing mail) never opens a ticket, and a new
//! ticket from a person gets one acknowledgement — unless the sender is over the hourly limit
//! or looks like a mail loop.
//!
//! Called from `desk::ingest` in its transaction: [`Desk::screen`] before threading,
//! [`Desk::after_created`] once a message opened a ticket.

use crate::domain::classify::{self, Kind};
use crate::domain::{threading, TicketNumber};
use crate::intake::parse::ParsedEmail;
use crate::store::{self, batch::Work, messages::Direction, outbox::Effect};

use super::ingest::{Ingested, Source};
use super::Desk;

/// Value of the Auto-Submitted field on acknowledgements (RFC 3834 §5.2).
pub const ACK_AUTO_SUBMITTED: &str = "auto-replied";

impl Desk {
    /// Decides what becomes of an automatic message, in the ingest transaction. `None`: the
    /// message is not automatic (or only must not be answered) and is threaded as usual.
    ///
    /// - our own outgoing mail (Message-ID in `message_id_domain`): a duplicate when we stored
    ///   it, else quarantined;
    /// - a delivery or feedback report: a flagged note on the ticket whose outgoing message
    ///   it names, else quarantined ("… for a message we did not send");
    /// - an auto-reply: a note on the ticket it threads to (no status change), else
    ///   quarantined.
    ///
    /// A second copy of an attached message (same Message-ID) is a duplicate.
    pub(super) async fn screen<'a>(
        &self,
        work: &mut Work<'_, 'a>,
        src: Source<'_>,
        raw: &'a [u8],
        p: &ParsedEmail,
    ) -> Result<Option<Ingested>, sqlx::Error> {
        if self.is_our_msg_id(&p.message_id) {
            if work.message_exists(&p.message_id).await? {
                return Ok(Some(Ingested::Duplicate));
            }
            let reason = format!(
                "our own outgoing mail (Message-ID in {}) that we have no record of sending",
                self.message_id_domain
            );
            return Ok(Some(self.quarantine(work, src, raw, &reason)));
        }
        let kind = classify::classify(&p.signals);
        if matches!(kind, Kind::Human | Kind::NoAutoAnswer(_)) {
            return Ok(None);
        }
        // Automatic messages are rare: the ordinary queries, on everything queued so far.
        let conn = work.direct().await?;
        let (ticket, what) = match &kind {
            Kind::Human | Kind::NoAutoAnswer(_) => return Ok(None),
            Kind::DeliveryReport { original_msg_ids } => (
                self.ticket_of_ours(conn, original_msg_ids).await?,
                "delivery report",
            ),
            Kind::FeedbackReport { original_msg_ids } => (
                self.ticket_of_ours(conn, original_msg_ids).await?,
                "feedback report",
            ),
            Kind::AutoReply(_) => match self.threaded_ticket(conn, raw, p).await? {
                Threaded::Ticket(id) => (Some(id), "automatic reply"),
                Threaded::Nothing => (None, "automatic reply"),
                Threaded::Stranger => {
                    let reason = crate::desk::messages::STRANGER_AUTOMATIC;
                    return Ok(Some(self.quarantine(work, src, raw, reason)));
                }
            },
        };
        if store::noise::seen(conn, &p.message_id).await? {
            return Ok(Some(Ingested::Duplicate));
        }
        let Some(ticket_id) = ticket else {
            let reason = match &kind {
                Kind::AutoReply(why) => {
                    format!("automatic reply ({why}) to no ticket of ours")
                }
                _ => format!("{what} for a message we did not send"),
            };
            return Ok(Some(self.quarantine(work, src, raw, &reason)));
        };
        // Locked and followed through merges, as every ticket ingest writes to.
        let Some(t) = Self::live_ticket_direct(conn, ticket_id).await? else {
            return Err(sqlx::Error::RowNotFound);
        };
        let from = p
            .from_addr
            .clone()
            .unwrap_or_else(|| "(no address)".to_string());
        let flagged = !matches!(kind, Kind::AutoReply(_));
        let body = crate::desk::messages::automatic_note(
            what,
            &from,
            &p.subject,
            &super::query::preview(&p.body_text, self.preview_chars.min(600)),
        );
        let note_id = store::notes::insert(conn, t.id, None, &body, flagged).await?;
        store::noise::record(
            conn,
            &p.message_id,
            t.id,
            kind.as_str(),
            note_id,
            self.kept_raw(raw),
        )
        .await?;
        self.sink(conn)
            .audit(
                t.id,
                ("system", "email"),
                match kind {
                    Kind::AutoReply(_) => "auto_reply.attached",
                    Kind::FeedbackReport { .. } => "feedback_report.received",
                    _ => "reply.bounced",
                },
                serde_json::json!({"status": t.status.as_str()}),
                serde_json::json!({"message_id": p.message_id, "from": from, "note_id": note_id}),
            )
            .await?;
        self.sink(conn).thread_notes(t.id, note_id).await?;
        self.sink(conn).cards(t.id).await?;
        Ok(Some(Ingested::Noted(t.number)))
    }

    /// After `p` opened ticket `number`: flags a suspected mail loop when the sender opened
    /// more than `loop_tickets` tickets within `loop_window_minutes` (a channel notice, once
    /// per window), else queues an acknowledgement when the mailbox sends them, the message
    /// may be answered (RFC 3834 §2) and the sender is under the hourly limit.
    pub(super) async fn after_created(
        &self,
        work: &mut Work<'_, '_>,
        src: Source<'_>,
        p: &ParsedEmail,
        from: &str,
        number: &str,
    ) -> Result<(), sqlx::Error> {
        let Some(t) = work.ticket_by_number(number).await? else {
            return Ok(());
        };
        let window = self.noise.loop_window_minutes;
        let stats = work.sender_stats(from).await?;
        let opened = stats.opened;
        if opened > i64::from(self.noise.loop_tickets) {
            if !stats.flagged {
                work.flag_loop(from, opened);
                let text = crate::desk::messages::loop_notice(from, opened, window, number);
                let mut sink = self.queued(work);
                sink.on_every_platform(t.id, |platform| Effect::ChannelNotice {
                    platform,
                    text: text.clone(),
                })
                .await?;
                sink.audit(t.id,
                    ("system", "email"),
                    "sender.loop_suspected",
                    serde_json::json!(null),
                    serde_json::json!({"sender": from, "tickets": opened, "window_minutes": window}),
                )
                .await?;
            }
            return Ok(());
        }
        if !self.acknowledges(src.mailbox) || !classify::classify(&p.signals).may_answer() {
            return Ok(());
        }
        if stats.acks_last_hour >= i64::from(self.noise.acks_per_sender_per_hour) {
            return Ok(());
        }
        let cap = self.noise.max_acks_per_hour;
        let sent = work.acks_last_hour_all().await?;
        if sent >= i64::from(cap) {
            if self.first_capped_skip_this_hour() {
                tracing::warn!(
                    cap,
                    sent,
                    ticket = %t.number,
                    "acknowledgements paused: noise.max_acks_per_hour reached; new tickets are \
                     still created and carded, just not acknowledged"
                );
                self.queued(work).audit(t.id,
                    ("system", "email"),
                    "acknowledgement.capped",
                    serde_json::json!(null),
                    serde_json::json!({"to": from, "sent_last_hour": sent, "max_acks_per_hour": cap}),
                )
                .await?;
            }
            return Ok(());
        }
        let Ok(n) = t.number.parse::<TicketNumber>() else {
            return Ok(());
        };
        let unique = uuid::Uuid::new_v4().simple().to_string();
        let key = self.message_id_key(work.unbuffered()).await?;
        let message_id = threading::outgoing_msg_id(&n, &unique, &self.message_id_domain, key);
        let subject = threading::reply_subject(&t.subject, &n);
        let mut body = crate::desk::messages::acknowledgement_email(&t.number, &t.subject);
        if let Some(url) = self.status_url(t.id) {
            body.push_str(&crate::desk::messages::web::status_link_line(&url));
        }
        let sender = self.from_address(&t.mailbox).to_string();
        let to = vec![from.to_string()];
        let mut references = p.references.clone();
        if !references.contains(&p.message_id) {
            references.push(p.message_id.clone());
        }
        let Some(row) = work
            .insert_message(
                store::messages::NewMessage {
                    ticket_id: t.id,
                    message_id: &message_id,
                    in_reply_to: Some(&p.message_id),
                    references: &references,
                    direction: Direction::Outbound,
                    from_addr: &sender,
                    from_name: None,
                    to_addrs: &to,
                    subject: &subject,
                    body_text: &body,
                    raw: None,
                    raw_size: i32::try_from(body.len()).unwrap_or(i32::MAX),
                    mailbox: Some(&t.mailbox),
                    uid: None,
                    author_agent_id: None,
                    received_at: None,
                    date_header: None,
                },
                None,
            )
            .await?
        else {
            return Ok(());
        };
        work.add_thread_keys(std::slice::from_ref(&message_id), t.id)
            .await?;
        work.record_ack(row, from, t.id);
        let mut sink = self.queued(work);
        sink.effect(
            Some(t.id),
            &Effect::Email {
                message_id: row,
                auto_submitted: Some(ACK_AUTO_SUBMITTED.to_string()),
            },
        )
        .await?;
        sink.audit(
            t.id,
            ("system", "email"),
            "acknowledgement.queued",
            serde_json::json!(null),
            serde_json::json!({"to": from, "message_id": message_id}),
        )
        .await?;
        Ok(())
    }

    /// Whether `id` (a msg-id without brackets) is one we made (see
    /// `threading::outgoing_msg_id`).
    fn is_our_msg_id(&self, id: &str) -> bool {
        id.rsplit_once('@')
            .is_some_and(|(_, domain)| domain.eq_ignore_ascii_case(&self.message_id_domain))
    }

    /// True for the first acknowledgement skipped by `noise.max_acks_per_hour` in this
    /// process within an hour, false for the others (they are not logged or audited again).
    fn first_capped_skip_this_hour(&self) -> bool {
        let mut last = self
            .acks_capped_at
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let now = std::time::Instant::now();
        match *last {
            Some(at) if now.duration_since(at) < std::time::Duration::from_secs(3600) => false,
            _ => {
                *last = Some(now);
                true
            }
        }
    }

    /// Whether `mailbox` sends acknowledgements (default yes).
    fn acknowledges(&self, mailbox: &str) -> bool {
        self.acknowledge.get(mailbox).copied().unwrap_or(true)
    }

    /// The ticket of the outgoing message of ours that a delivery or feedback report names
    /// (`original_msg_ids`, from In-Reply-To, References or the returned message/rfc822 or
    /// text/rfc822-headers part), following merges. Ids in our domain without a valid
    /// signature are not looked up: a report proves itself only by naming mail we sent.
    async fn ticket_of_ours(
        &self,
        conn: &mut sqlx::PgConnection,
        original_msg_ids: &[String],
    ) -> Result<Option<i64>, sqlx::Error> {
        let key = self.message_id_key(conn).await?.to_vec();
        let ids: Vec<String> = original_msg_ids
            .iter()
            .filter(|id| {
                threading::check_msg_id(id, &self.message_id_domain, &key)
                    != threading::OurMsgId::Forged
            })
            .cloned()
            .collect();
        store::noise::ticket_of_outgoing(conn, &ids).await
    }

    /// Where an auto-reply `p` (raw bytes `raw`) belongs, by the same rules as a person's
    /// mail: a trusted msg-id it carries that is on a ticket (signed ids of ours, or ids of
    /// messages on the thread), else a subject tag or plus-address only when its sender may
    /// follow it (`Desk::named_ticket`: on the thread, DMARC passed when asked).
    async fn threaded_ticket(
        &self,
        conn: &mut sqlx::PgConnection,
        raw: &[u8],
        p: &ParsedEmail,
    ) -> Result<Threaded, sqlx::Error> {
        let from = p.from_addr.as_deref().unwrap_or("");
        let ids = self.trusted_ids(conn, p, from).await?;
        let known = store::thread_keys::tickets_for(conn, &ids).await?;
        if let Some(&id) = known.first() {
            return Ok(Threaded::Ticket(id));
        }
        let recipients = crate::intake::parse::recipients(raw);
        Ok(
            match self.named_ticket(conn, raw, p, from, &recipients).await? {
                Some((id, true)) => Threaded::Ticket(id),
                Some((_, false)) => Threaded::Stranger,
                None => Threaded::Nothing,
            },
        )
    }
}

/// Where an automatic message threads ([`Desk::threaded_ticket`]).
enum Threaded {
    /// To this live ticket.
    Ticket(i64),
    /// It names a ticket (tag, plus-address) but its sender is not trusted there.
    Stranger,
    /// To no ticket.
    Nothing,
}
