//! Internal notes: visible in the card thread, marked internal, never emailed.

use serde_json::json;

use crate::domain::Action;
use crate::store;

use super::{Actor, Desk, DeskError};

impl Desk {
    /// Adds internal note `text` to ticket `number` and queues it for the card threads.
    ///
    /// Errors: [`DeskError::EmptyReply`] for empty text, lookup errors.
    #[tracing::instrument(name = "desk.note", skip_all, fields(
        surface = actor.surface.as_str(),
        agent = %actor.agent.handle,
        ticket = tracing::field::Empty,
        ticket_id = tracing::field::Empty,
    ))]
    pub async fn note(&self, actor: &Actor, number: &str, text: &str) -> Result<String, DeskError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(DeskError::EmptyReply);
        }
        let mut tx = self.pool.begin().await?;
        let t = self.ticket_by_number(&mut tx, number).await?;
        self.require(actor, Action::Note, &t)?;
        let id = store::notes::insert(&mut tx, t.id, Some(actor.agent.id), text, false).await?;
        self.sink(&mut tx)
            .audit(
                t.id,
                (&actor.agent.handle, actor.surface.as_str()),
                "note.added",
                json!(null),
                json!({"note_id": id}),
            )
            .await?;
        self.sink(&mut tx).thread_notes(t.id, id).await?;
        tx.commit().await?;
        Ok(t.number)
    }
}
