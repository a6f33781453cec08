//! Read models of the web view (`crate::web::ui`): the keyset-paged ticket lists, a
//! ticket's internal notes, and one attachment of a ticket for download. Changes go through
//! the same use cases as chat (claim, reply, …); only reading lives here.

use crate::domain::actions::{offered_to, CardAction, Holder};
use crate::domain::permissions::{allows, Action};
use crate::domain::Status;
use crate::store::{self, agents::Agent, notes::Note, queues};

use super::{Desk, DeskError};

impl Desk {
    /// The actions `viewer` is offered on a ticket in `status` held by the agent with handle
    /// `holder` (`None`: nobody): [`offered_to`] under the desk's policy, the same rule the
    /// chat cards draw from, here per viewer. Who acts is still checked when the use case
    /// runs.
    pub fn offered_to(
        &self,
        viewer: &Agent,
        status: Status,
        holder: Option<&str>,
    ) -> Vec<CardAction> {
        let holder = match holder {
            None => Holder::Nobody,
            Some(h) if h == viewer.handle => Holder::Viewer,
            Some(_) => Holder::Other,
        };
        offered_to(status, holder, viewer.role, self.policy)
    }

    /// Whether `viewer` may assign and reassign tickets (`domain::permissions`).
    pub fn may_assign(&self, viewer: &Agent) -> bool {
        allows(viewer.role, Action::Assign, self.policy)
    }

    /// One page of a ticket list (see [`store::queues::page`]); `limit` is clamped to 1..=500.
    ///
    /// Errors: the database's.
    pub async fn queue_page(
        &self,
        filter: &queues::QueueFilter,
        after: Option<&queues::Cursor>,
        limit: i64,
    ) -> Result<queues::QueuePage, DeskError> {
        let mut conn = self.pool.acquire().await?;
        Ok(queues::page(&mut conn, filter, after, limit).await?)
    }

    /// The internal notes of ticket `number` (merged or not), oldest first.
    ///
    /// Errors: [`DeskError::BadTicketNumber`], [`DeskError::NoSuchTicket`], the database's.
    pub async fn notes_of(&self, number: &str) -> Result<Vec<Note>, DeskError> {
        let mut conn = self.pool.acquire().await?;
        let t = self.any_ticket_by_number(&mut conn, number).await?;
        Ok(store::notes::for_ticket(&mut conn, t.id).await?)
    }

    /// Attachment `id` of ticket `number` with its content: `None` when the ticket has no
    /// such attachment or its content was not kept.
    ///
    /// Errors: [`DeskError::BadTicketNumber`], [`DeskError::NoSuchTicket`], the database's
    /// (a blob file that cannot be read is reported as a storage error).
    pub async fn ticket_attachment(
        &self,
        number: &str,
        id: i64,
    ) -> Result<Option<(store::attachments::StoredFile, Vec<u8>)>, DeskError> {
        {
            let mut conn = self.pool.acquire().await?;
            let t = self.any_ticket_by_number(&mut conn, number).await?;
            let listed = store::attachments::for_ticket(&mut conn, t.id).await?;
            if !listed.iter().any(|a| a.id == id) {
                return Ok(None);
            }
        }
        Ok(self.attachment_file(id).await?)
    }
}
