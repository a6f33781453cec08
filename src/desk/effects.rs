//! The one sink of a use case's side effects: audit events and outbox effects (card posts
//! and edits, thread posts, notices, email). A use case says `sink.audit(..)`,
//! `sink.cards(..)`, `sink.on_every_platform(..)` once, whether it runs on a connection
//! (each effect written at once, in the caller's transaction) or inside an ingest unit of
//! work (`store::batch::Work`: queued, written with the batch at its flush).
//!
//! Either way the rows land in the caller's transaction, so an effect commits exactly when
//! the change that causes it does. The SLA state a change moves (`sla_clocks`,
//! `tickets.sla_next_at`, see `desk::sla`) travels the same way: read and written on the
//! connection, or read from and queued in the unit of work and written at its flush.

use sqlx::PgConnection;

use crate::domain::sla::Clocks;
use crate::store::{self, audit::AuditEvent, batch::Work, outbox::Effect, sla::TicketClocks};

/// Where a [`Sink`] writes.
enum To<'s, 'c, 'a> {
    /// Written at once on this connection (inside the caller's transaction).
    Conn(&'s mut PgConnection),
    /// Queued in an ingest unit of work, written at its flush.
    Work(&'s mut Work<'c, 'a>),
}

/// Side effects of one use case, for the chat platforms `platforms`; made by
/// [`super::Desk::sink`] (a connection) or [`super::Desk::queued`] (an ingest unit of work).
///
/// Every method errors only with the database's error (or an effect that does not
/// serialise, as [`sqlx::Error::Protocol`]); the caller's transaction must then roll back.
pub struct Sink<'s, 'c, 'a> {
    platforms: &'s [String],
    to: To<'s, 'c, 'a>,
}

impl<'s> Sink<'s, 'static, 'static> {
    /// Effects written at once on `conn`.
    pub(super) fn direct(platforms: &'s [String], conn: &'s mut PgConnection) -> Self {
        Sink {
            platforms,
            to: To::Conn(conn),
        }
    }
}

impl<'s, 'c, 'a> Sink<'s, 'c, 'a> {
    /// Effects queued in `work`.
    pub(super) fn queued(platforms: &'s [String], work: &'s mut Work<'c, 'a>) -> Self {
        Sink {
            platforms,
            to: To::Work(work),
        }
    }

    /// Records `event` in the audit trail.
    pub async fn event(&mut self, event: AuditEvent<'_>) -> Result<(), sqlx::Error> {
        match &mut self.to {
            To::Conn(conn) => store::audit::record(conn, event).await,
            To::Work(work) => {
                work.audit(event);
                Ok(())
            }
        }
    }

    /// Records a change to ticket `ticket_id` by `(actor, surface)` with its state before
    /// and after.
    pub async fn audit(
        &mut self,
        ticket_id: i64,
        who: (&str, &str),
        action: &str,
        before: serde_json::Value,
        after: serde_json::Value,
    ) -> Result<(), sqlx::Error> {
        self.event(AuditEvent::for_ticket(
            ticket_id, who, action, before, after,
        ))
        .await
    }

    /// Queues one effect for `ticket_id` (in a unit of work, a card effect already queued
    /// for the same ticket and platform is not queued again; see `Work::enqueue`).
    pub async fn effect(
        &mut self,
        ticket_id: Option<i64>,
        effect: &Effect,
    ) -> Result<(), sqlx::Error> {
        match &mut self.to {
            To::Conn(conn) => store::outbox::enqueue(conn, ticket_id, effect).await,
            To::Work(work) => work.enqueue(ticket_id, effect),
        }
    }

    /// Records `events` in the audit trail, in order (one statement on a connection).
    pub async fn events(&mut self, events: &[AuditEvent<'_>]) -> Result<(), sqlx::Error> {
        match &mut self.to {
            To::Conn(conn) => store::audit::record_many(conn, events).await,
            To::Work(work) => {
                for e in events {
                    work.audit(e.clone());
                }
                Ok(())
            }
        }
    }

    /// Queues `effects` (each for its ticket), in order: one statement and one wake-up of the
    /// workers on a connection.
    pub async fn effects(&mut self, effects: &[(i64, Effect)]) -> Result<(), sqlx::Error> {
        match &mut self.to {
            To::Conn(conn) => {
                let items = effects
                    .iter()
                    .map(|(t, e)| store::outbox::NewItem::new(Some(*t), e))
                    .collect::<Result<Vec<_>, _>>()?;
                store::outbox::enqueue_many(conn, &items).await
            }
            To::Work(work) => {
                for (t, e) in effects {
                    work.enqueue(Some(*t), e)?;
                }
                Ok(())
            }
        }
    }

    /// Queues, for `ticket_id`, the effect `make` builds for each active platform.
    pub async fn on_every_platform(
        &mut self,
        ticket_id: i64,
        make: impl Fn(String) -> Effect,
    ) -> Result<(), sqlx::Error> {
        let effects: Vec<Effect> = self.platforms.iter().cloned().map(make).collect();
        match &mut self.to {
            To::Conn(conn) => {
                let items = effects
                    .iter()
                    .map(|e| store::outbox::NewItem::new(Some(ticket_id), e))
                    .collect::<Result<Vec<_>, _>>()?;
                store::outbox::enqueue_many(conn, &items).await
            }
            To::Work(work) => {
                for e in &effects {
                    work.enqueue(Some(ticket_id), e)?;
                }
                Ok(())
            }
        }
    }

    /// Records personal notices (`notifications`; a kind its agent turned off is left out),
    /// for the notification sweep to fold into direct messages (see `desk::notify`).
    pub async fn notify(
        &mut self,
        notices: Vec<store::notifications::NewNotice>,
    ) -> Result<(), sqlx::Error> {
        match &mut self.to {
            To::Conn(conn) => store::notifications::record_many(conn, &notices)
                .await
                .map(|_| ()),
            To::Work(work) => {
                for n in notices {
                    work.notify(n);
                }
                Ok(())
            }
        }
    }

    /// The SLA clocks of ticket `ticket_id` as the caller's transaction sees them (with what
    /// the unit of work queued).
    pub async fn clocks(&mut self, ticket_id: i64) -> Result<Clocks, sqlx::Error> {
        match &mut self.to {
            To::Conn(conn) => Ok(store::sla::load_many(conn, &[ticket_id])
                .await?
                .remove(&ticket_id)
                .unwrap_or_default()),
            To::Work(work) => work.clocks(ticket_id).await,
        }
    }

    /// Stores the SLA state `row` of a ticket whose clocks are now `clocks` (see
    /// [`store::sla::save_many`]).
    pub async fn save_clocks(
        &mut self,
        clocks: Clocks,
        row: TicketClocks,
    ) -> Result<(), sqlx::Error> {
        match &mut self.to {
            To::Conn(conn) => store::sla::save_many(conn, std::slice::from_ref(&row)).await,
            To::Work(work) => {
                work.set_clocks(clocks, row);
                Ok(())
            }
        }
    }

    /// Queues a card refresh (post, or edit to the current state) of `ticket_id` on every
    /// platform.
    pub async fn cards(&mut self, ticket_id: i64) -> Result<(), sqlx::Error> {
        self.on_every_platform(ticket_id, |platform| Effect::Card { platform })
            .await
    }

    /// Queues posting stored message `message_id` into the card thread on every platform.
    pub async fn thread_messages(
        &mut self,
        ticket_id: i64,
        message_id: i64,
    ) -> Result<(), sqlx::Error> {
        self.on_every_platform(ticket_id, |platform| Effect::ThreadMessage {
            platform,
            message_id,
        })
        .await
    }

    /// Queues internal note `note_id` into the card thread on every platform.
    pub async fn thread_notes(&mut self, ticket_id: i64, note_id: i64) -> Result<(), sqlx::Error> {
        self.on_every_platform(ticket_id, |platform| Effect::ThreadNote {
            platform,
            note_id,
        })
        .await
    }

    /// Queues `text` into the card thread of `ticket_id` on every platform.
    pub async fn notices(&mut self, ticket_id: i64, text: &str) -> Result<(), sqlx::Error> {
        self.on_every_platform(ticket_id, |platform| Effect::ThreadNotice {
            platform,
            text: text.to_string(),
        })
        .await
    }
}
