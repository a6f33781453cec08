//! Read-only queries: listings, one ticket's detail, and the state a card shows.

use serde::Serialize;

use crate::domain::Status;
use crate::store;
pub use crate::store::tickets::SlaDue;

use super::{Desk, DeskError};

/// One line of `ticket list --json`.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct TicketSummary {
    /// `TICK-2026-0001`.
    pub number: String,
    /// Stored status name.
    pub status: String,
    /// Holder's handle.
    pub assignee: Option<String>,
    /// Customer address.
    pub requester: String,
    /// Subject.
    pub subject: String,
    /// Messages in the ticket.
    pub message_count: usize,
    /// Their Message-IDs, without brackets, in storage order.
    pub message_ids: Vec<String>,
    /// Ticket it was merged into.
    pub merged_into: Option<String>,
    /// Ticket its first message named (tag or plus-address) without the sender being on
    /// that ticket's thread.
    pub linked_to: Option<String>,
    /// When its first message reached our server (`tickets.opened_at`, RFC 3339, UTC).
    pub opened_at: String,
    /// Its headline SLA clock: the unmet clock due first; `None` without one.
    pub sla: Option<SlaDue>,
    /// Its tags, alphabetically (`ticket_tags`).
    pub tags: Vec<String>,
}

/// One message as shown by `ticket show`.
#[derive(Debug, Clone, Serialize)]
pub struct MessageView {
    /// `inbound` or `outbound`.
    pub direction: &'static str,
    /// From address.
    pub from: String,
    /// Subject.
    pub subject: String,
    /// Message-ID.
    pub message_id: String,
    /// Body text.
    pub body: String,
    /// When it reached our server (RFC 3339, UTC): the IMAP INTERNALDATE of an email, the
    /// time claimdesk wrote one of ours.
    pub at: String,
    /// What its `Date:` header says (RFC 3339, UTC); `None` when absent or unreadable.
    pub date_header: Option<String>,
    /// When SMTP accepted it (outbound).
    pub sent_at: Option<String>,
    /// Its attachments (name, type, size in bytes, SHA-256, where stored).
    pub attachments: Vec<store::attachments::AttachmentInfo>,
}

/// `ticket show`: the summary plus the conversation.
#[derive(Debug, Clone, Serialize)]
pub struct TicketDetail {
    /// Summary.
    #[serde(flatten)]
    pub summary: TicketSummary,
    /// Messages, oldest first.
    pub messages: Vec<MessageView>,
    /// Audit trail, oldest first.
    pub history: Vec<store::audit::AuditRow>,
    /// Priority.
    pub priority: String,
    /// Department.
    pub department: String,
    /// Everyone on the email thread.
    pub participants: Vec<String>,
    /// The customer's rating (`desk::customer`), if given.
    pub rating: Option<RatingView>,
}

/// A customer's rating as agents see it (`ticket show`, chat `ticket`, the web ticket page).
#[derive(Debug, Clone, Serialize)]
pub struct RatingView {
    /// Good or bad (serialised `good` / `bad`).
    #[serde(serialize_with = "rating_name")]
    pub rating: crate::domain::rating::Rating,
    /// The customer's comment (their text: escape before showing).
    pub comment: Option<String>,
    /// When it was given or last changed (RFC 3339, UTC).
    pub rated_at: String,
}

fn rating_name<S: serde::Serializer>(
    r: &crate::domain::rating::Rating,
    s: S,
) -> Result<S::Ok, S::Error> {
    s.serialize_str(r.as_str())
}

/// Everything a card shows, read at delivery time so an edit always shows the latest state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardView {
    /// Ticket number.
    pub number: String,
    /// Status.
    pub status: Status,
    /// Holder: `(handle, slack id, discord id)`.
    pub assignee: Option<(String, Option<String>, Option<String>)>,
    /// Customer name and address, `Ana <ana@x>` or the bare address.
    pub requester: String,
    /// Subject.
    pub subject: String,
    /// The first lines of the first message, at most `preview_chars` characters.
    pub preview: String,
    /// Messages so far.
    pub message_count: usize,
    /// Attachments across all messages.
    pub attachment_count: usize,
    /// Those attachments, by message then MIME order: name (from the email, unescaped) and
    /// size in bytes.
    pub attachments: Vec<CardAttachment>,
    /// Number of the ticket this one was merged into.
    pub merged_into: Option<String>,
    /// The ticket's department (`tickets.department`): where its card is posted.
    pub department: String,
    /// Number of the ticket this one is linked to (see [`TicketSummary::linked_to`]).
    pub linked_to: Option<String>,
    /// Priority.
    pub priority: crate::domain::Priority,
    /// When the current holder claimed it (`tickets.claimed_at`); `None` while unclaimed.
    pub claimed_at: Option<chrono::DateTime<chrono::Utc>>,
    /// When the customer's latest message reached our server; `None` if there is none.
    pub last_customer_at: Option<chrono::DateTime<chrono::Utc>>,
    /// When the ticket's first message reached our server (`tickets.opened_at`).
    pub opened_at: chrono::DateTime<chrono::Utc>,
    /// The running SLA clock it shows: the unmet clock due first; `None` without one.
    pub sla: Option<SlaDue>,
    /// When this view was read: the clock that "3 min ago" is measured against, so a card
    /// renders the same way every time it is rendered from one view.
    pub as_of: chrono::DateTime<chrono::Utc>,
    /// A delivery report says one of our messages on this ticket bounced.
    pub bounced: bool,
    /// Its tags, alphabetically (`ticket_tags`).
    pub tags: Vec<String>,
}

/// One attachment as a card lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardAttachment {
    /// File name as the email gave it (hostile: escape before showing); `None` if unnamed.
    pub name: Option<String>,
    /// Decoded size, bytes.
    pub size: i64,
}

impl Desk {
    /// Every ticket, oldest first, with its Message-IDs and headline SLA clock.
    pub async fn list(&self) -> Result<Vec<TicketSummary>, DeskError> {
        let mut conn = self.pool.acquire().await?;
        let tickets = store::tickets::list(&mut conn).await?;
        let mut clocks: std::collections::HashMap<i64, SlaDue> =
            store::tickets::sla_headlines(&mut conn)
                .await?
                .into_iter()
                .collect();
        let ids = store::messages::ids_by_ticket(&mut conn).await?;
        let mut links: std::collections::HashMap<i64, String> =
            store::tickets::all_links(&mut conn)
                .await?
                .into_iter()
                .collect();
        let mut by_ticket: std::collections::HashMap<i64, Vec<String>> =
            std::collections::HashMap::new();
        for (t, m) in ids {
            by_ticket.entry(t).or_default().push(m);
        }
        let mut tags = store::tags::all(&mut conn).await?;
        let numbers: std::collections::HashMap<i64, String> =
            tickets.iter().map(|t| (t.id, t.number.clone())).collect();
        Ok(tickets
            .into_iter()
            .map(|t| {
                let message_ids = by_ticket.remove(&t.id).unwrap_or_default();
                TicketSummary {
                    number: t.number,
                    status: t.status.as_str().to_string(),
                    assignee: t.assignee_handle,
                    requester: t.requester_email,
                    subject: t.subject,
                    message_count: message_ids.len(),
                    message_ids,
                    merged_into: t.merged_into.and_then(|i| numbers.get(&i).cloned()),
                    linked_to: links.remove(&t.id),
                    opened_at: t.opened_at.to_rfc3339(),
                    sla: clocks.remove(&t.id),
                    tags: tags.remove(&t.id).unwrap_or_default(),
                }
            })
            .collect())
    }

    /// One ticket with its messages and history.
    pub async fn show(&self, number: &str) -> Result<TicketDetail, DeskError> {
        let mut conn = self.pool.acquire().await?;
        let t = self.any_ticket_by_number(&mut conn, number).await?;
        let merged_into = match t.merged_into {
            Some(i) => store::tickets::by_id(&mut conn, i).await?.map(|x| x.number),
            None => None,
        };
        let linked_to = store::tickets::linked_number(&mut conn, t.id).await?;
        let msgs = store::messages::for_ticket(&mut conn, t.id).await?;
        let mut attachments = store::attachments::for_ticket(&mut conn, t.id).await?;
        let history = store::audit::for_ticket(&mut conn, t.id).await?;
        let participants = store::tickets::participants(&mut conn, t.id).await?;
        let sla = store::tickets::sla_headline(&mut conn, t.id).await?;
        let tags = store::tags::for_ticket(&mut conn, t.id).await?;
        let rating = store::ratings::for_ticket(&mut conn, t.id)
            .await?
            .map(|r| RatingView {
                rating: r.rating,
                comment: r.comment,
                rated_at: r.rated_at.to_rfc3339(),
            });
        Ok(TicketDetail {
            rating,
            priority: t.priority.as_str().to_string(),
            department: t.department.clone(),
            participants,
            summary: TicketSummary {
                number: t.number,
                status: t.status.as_str().to_string(),
                assignee: t.assignee_handle,
                requester: t.requester_email,
                subject: t.subject,
                message_count: msgs.len(),
                message_ids: msgs.iter().map(|m| m.message_id.clone()).collect(),
                merged_into,
                linked_to,
                opened_at: t.opened_at.to_rfc3339(),
                sla,
                tags,
            },
            messages: msgs
                .into_iter()
                .map(|m| MessageView {
                    direction: if m.outbound { "outbound" } else { "inbound" },
                    from: m.from_addr,
                    subject: m.subject,
                    message_id: m.message_id,
                    body: m.body_text,
                    at: m.received_at.to_rfc3339(),
                    date_header: m.date_header.map(|d| d.to_rfc3339()),
                    sent_at: m.sent_at.map(|s| s.to_rfc3339()),
                    attachments: {
                        let (mine, rest) =
                            attachments.drain(..).partition(|a| a.message_id == m.id);
                        attachments = rest;
                        mine
                    },
                })
                .collect(),
            history,
        })
    }

    /// The current state of ticket `ticket_id`'s card; `None` if the ticket does not exist.
    pub async fn card_view(&self, ticket_id: i64) -> Result<Option<CardView>, sqlx::Error> {
        let mut conn = self.pool.acquire().await?;
        let Some(t) = store::tickets::by_id(&mut conn, ticket_id).await? else {
            return Ok(None);
        };
        let msgs = store::messages::for_ticket(&mut conn, t.id).await?;
        let assignee = match t.assignee_id {
            Some(id) => store::agents::by_id(&mut conn, id)
                .await?
                .map(|a| (a.handle, a.slack_user_id, a.discord_user_id)),
            None => None,
        };
        let merged_into = match t.merged_into {
            Some(i) => store::tickets::by_id(&mut conn, i).await?.map(|x| x.number),
            None => None,
        };
        let first = msgs
            .iter()
            .find(|m| !m.outbound)
            .map(|m| m.body_text.as_str())
            .unwrap_or("");
        let bounced = store::noise::bounced(&mut conn, t.id).await?;
        let requester = match &t.requester_name {
            Some(n) => format!("{n} <{}>", t.requester_email),
            None => t.requester_email.clone(),
        };
        Ok(Some(CardView {
            number: t.number,
            status: t.status,
            assignee,
            requester,
            subject: t.subject,
            preview: preview(first, self.preview_chars),
            message_count: msgs.len(),
            attachment_count: msgs
                .iter()
                .map(|m| usize::try_from(m.attachment_count).unwrap_or(0))
                .sum(),
            attachments: store::attachments::for_ticket(&mut conn, t.id)
                .await?
                .into_iter()
                .map(|a| CardAttachment {
                    name: a.name,
                    size: a.size,
                })
                .collect(),
            merged_into,
            department: t.department,
            linked_to: store::tickets::linked_number(&mut conn, t.id).await?,
            priority: t.priority,
            claimed_at: t.assignee_id.and(t.claimed_at),
            last_customer_at: msgs
                .iter()
                .filter(|m| !m.outbound)
                .map(|m| m.received_at)
                .max(),
            opened_at: t.opened_at,
            sla: store::tickets::sla_headline(&mut conn, t.id).await?,
            as_of: self.clock_now(),
            bounced,
            tags: store::tags::for_ticket(&mut conn, t.id).await?,
        }))
    }

    /// Attachment `id` with its content read from the row or the blob directory, for
    /// uploading into a card thread; `None` when there is no such attachment or its content
    /// was not kept (`skipped`, or a blob file that is gone).
    ///
    /// Errors: the database, or reading the blob file (as `sqlx::Error::Io`).
    pub async fn attachment_file(
        &self,
        id: i64,
    ) -> Result<Option<(store::attachments::StoredFile, Vec<u8>)>, sqlx::Error> {
        let mut conn = self.pool.acquire().await?;
        let Some(mut f) = store::attachments::file(&mut conn, id).await? else {
            return Ok(None);
        };
        let data = match f.store.as_str() {
            "database" => f.content.take(),
            "directory" => {
                let path = store::attachments::blob_path(&self.attachments.dir, &f.sha256);
                match tokio::fs::read(&path).await {
                    Ok(d) => Some(d),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
                    Err(e) => return Err(sqlx::Error::Io(e)),
                }
            }
            _ => None,
        };
        Ok(data.map(|d| (f, d)))
    }

    /// A stored message, for posting into a card thread.
    pub async fn message(&self, id: i64) -> Result<Option<store::messages::Message>, sqlx::Error> {
        let mut conn = self.pool.acquire().await?;
        store::messages::by_id(&mut conn, id).await
    }
}

/// The first lines of `body` without its quoted history and signature
/// ([`crate::domain::quoting::trim_quoted`]), cut at `max_chars` characters on a char boundary
/// with `…`.
pub fn preview(body: &str, max_chars: usize) -> String {
    truncate(&crate::domain::quoting::trim_quoted(body), max_chars)
}

/// `text` cut to at most `max_chars` characters, ending in `…` when cut.
pub fn truncate(text: &str, max_chars: usize) -> String {
    if text.chars().count() <= max_chars {
        return text.to_string();
    }
    let mut out: String = text.chars().take(max_chars.saturating_sub(1)).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preview_drops_quotes_and_signature_and_cuts() {
        let body = "Hello,\n\n\nmy login fails.\n> old quoted text\n-- \nJane\n";
        assert_eq!(preview(body, 100), "Hello,\n\nmy login fails.");
        assert_eq!(preview("abcdef", 4), "abc…");
        assert_eq!(preview("ééééé", 5), "ééééé");
    }
}
