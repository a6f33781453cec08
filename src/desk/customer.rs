//! What a customer sees and does without signing in, through the signed per-ticket link of
//! their acknowledgement email (`domain::links`): the read-only status of their ticket with
//! the messages exchanged by email, and the rating of a resolved ticket.
//!
//! What a customer never sees: internal notes, the audit trail, the holder, tags, priority,
//! department, SLA clocks — [`CustomerView`] has no field for any of them, so no page can
//! show one by mistake. A token that is malformed, forged, signed under another secret, or
//! names no ticket reads as "no such page", all alike.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;

use crate::domain::rating::{self, Rating};
use crate::domain::{links, Status};
use crate::store;

use super::{Desk, DeskError};

/// The customer's links: where they point and the secret that signs them (`[web]
/// public_url`, and the environment variable `[web] link_secret_env` names).
#[derive(Clone)]
pub struct CustomerLinks {
    base_url: String,
    secret: Arc<SecretString>,
}

impl std::fmt::Debug for CustomerLinks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CustomerLinks")
            .field("base_url", &self.base_url)
            .field("secret", &"***")
            .finish()
    }
}

impl CustomerLinks {
    /// Links under `base_url` (scheme and authority, e.g. `https://desk.example.com`; a
    /// trailing `/` is dropped) signed with `secret`.
    ///
    /// Errors: a secret shorter than [`links::MIN_SECRET_LEN`] bytes (the message names the
    /// length, never the value).
    pub fn new(base_url: &str, secret: SecretString) -> Result<CustomerLinks, String> {
        let n = secret.expose_secret().len();
        if n < links::MIN_SECRET_LEN {
            return Err(format!(
                "the link secret holds {n} bytes; at least {} are needed (e.g. `openssl rand -hex 32`)",
                links::MIN_SECRET_LEN
            ));
        }
        Ok(CustomerLinks {
            base_url: base_url.trim().trim_end_matches('/').to_string(),
            secret: Arc::new(secret),
        })
    }

    /// The links `[web]` asks for: `None` when `status_links = false`, or when the secret
    /// (the variable `link_secret_env` names) is unset — then with a warning in the log, as
    /// customers get no status link. Links point at `web.public_url()`.
    ///
    /// Errors: a secret shorter than [`links::MIN_SECRET_LEN`] bytes (the message names the
    /// variable and the length, never the value).
    pub fn from_settings(
        web: &crate::config::WebSettings,
        secret: Option<SecretString>,
    ) -> anyhow::Result<Option<CustomerLinks>> {
        if !web.status_links {
            return Ok(None);
        }
        let Some(secret) = secret else {
            tracing::warn!(
                variable = %web.link_secret_env,
                "customer status links are off: the link secret is not set (web.link_secret_env); \
                 acknowledgements go out without a status link"
            );
            return Ok(None);
        };
        CustomerLinks::new(&web.public_url(), secret)
            .map(Some)
            .map_err(|e| anyhow::anyhow!("{} (web.link_secret_env): {e}", web.link_secret_env))
    }

    /// The token of ticket row `ticket_id`.
    pub fn token(&self, ticket_id: i64) -> String {
        links::token(self.secret.expose_secret().as_bytes(), ticket_id)
    }

    /// The ticket row a token opens, if its signature is valid.
    pub fn ticket_of(&self, token: &str) -> Option<i64> {
        links::ticket_of(self.secret.expose_secret().as_bytes(), token)
    }

    /// `<base>/status/<token>`.
    pub fn status_url(&self, ticket_id: i64) -> String {
        format!("{}/status/{}", self.base_url, self.token(ticket_id))
    }

    /// `<base>/rate/<token>?r=<good|bad>`.
    pub fn rate_url(&self, ticket_id: i64, r: Rating) -> String {
        format!(
            "{}/rate/{}?r={}",
            self.base_url,
            self.token(ticket_id),
            r.as_str()
        )
    }
}

/// One message of the conversation as the customer sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerMessage {
    /// Ours (an agent's reply or the acknowledgement) rather than the customer's.
    pub from_us: bool,
    /// Who sent it: the display name and address of an inbound message, our mailbox's
    /// address for ours (never the agent who wrote it).
    pub from: String,
    /// Subject.
    pub subject: String,
    /// Plain-text body as it was emailed (hostile when inbound: escape before showing).
    pub body: String,
    /// When it reached our server (inbound) or was written (ours).
    pub at: DateTime<Utc>,
}

/// Everything the public status page shows, and nothing more.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerView {
    /// Ticket number.
    pub number: String,
    /// Subject of the first message.
    pub subject: String,
    /// Status.
    pub status: Status,
    /// When the first message reached us.
    pub opened_at: DateTime<Utc>,
    /// The messages exchanged by email with this ticket's requester and participants, oldest
    /// first: inbound from one of them, and ours to one of them once SMTP accepted it (a
    /// reply still queued or that failed was not exchanged). After a merge, each requester
    /// sees only their own mail: a merged ticket's page looks in the ticket it went into,
    /// and the people of tickets merged in are not this ticket's.
    pub messages: Vec<CustomerMessage>,
    /// The number of the ticket this one continues in, when it was merged.
    pub merged_into: Option<String>,
    /// The customer's rating, if given.
    pub rating: Option<Rating>,
    /// Their comment with it.
    pub rating_comment: Option<String>,
    /// Whether it may be rated now (resolved or closed; see `domain::rating::may_rate`).
    pub may_rate: bool,
    /// The token it was opened with (the page's rating links carry it).
    pub token: String,
}

/// A rating recorded by [`Desk::rate`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rated {
    /// Ticket number.
    pub number: String,
    /// The rating now stored.
    pub rating: Rating,
    /// The comment now stored.
    pub comment: Option<String>,
    /// Whether this replaced an earlier, different rating or comment (`false` for a first
    /// rating, and for one that repeats what was stored: then nothing was written).
    pub changed: bool,
}

/// Why a customer's request was refused.
#[derive(Debug, thiserror::Error)]
pub enum CustomerError {
    /// Links are off (no secret, or `status_links = false`), or the token is not valid, or
    /// it names no ticket: all look the same (404).
    #[error("no such page")]
    NotFound,
    /// The ticket is not resolved or closed.
    #[error("{0} is not resolved")]
    NotRatable(String),
    /// The comment is not acceptable (too long).
    #[error("{0}")]
    BadComment(rating::CommentError),
    /// The database failed; nothing was changed.
    #[error("storage error: {0}")]
    Store(#[from] sqlx::Error),
}

impl From<DeskError> for CustomerError {
    fn from(e: DeskError) -> Self {
        match e {
            DeskError::Store(s) => CustomerError::Store(s),
            _ => CustomerError::NotFound,
        }
    }
}

impl Desk {
    /// The same desk with the customer's links on (`Some`) or off (`None`: no link in any
    /// email, and every status and rating page answers "no such page").
    pub fn with_customer_links(mut self, links: Option<CustomerLinks>) -> Desk {
        self.customer_links = links;
        self
    }

    /// The customer's links, when on.
    pub fn customer_links(&self) -> Option<&CustomerLinks> {
        self.customer_links.as_ref()
    }

    /// The status page's URL of ticket row `ticket_id`, when links are on.
    pub fn status_url(&self, ticket_id: i64) -> Option<String> {
        self.customer_links
            .as_ref()
            .map(|l| l.status_url(ticket_id))
    }

    /// The ticket a customer's token opens.
    async fn customer_ticket(
        &self,
        conn: &mut sqlx::PgConnection,
        token: &str,
        lock: bool,
    ) -> Result<(store::tickets::Ticket, String), CustomerError> {
        let links = self
            .customer_links
            .as_ref()
            .ok_or(CustomerError::NotFound)?;
        let id = links.ticket_of(token).ok_or(CustomerError::NotFound)?;
        let t = if lock {
            store::tickets::lock(conn, id).await?
        } else {
            store::tickets::by_id(conn, id).await?
        };
        let t = t.ok_or(CustomerError::NotFound)?;
        Ok((t, links.token(id)))
    }

    /// What the status page of `token` shows.
    ///
    /// Errors: [`CustomerError::NotFound`] when links are off or the token opens nothing;
    /// the database's.
    pub async fn customer_view(&self, token: &str) -> Result<CustomerView, CustomerError> {
        let mut conn = self.pool.acquire().await?;
        let (t, token) = self.customer_ticket(&mut conn, token, false).await?;
        let merged_into = match t.merged_into {
            Some(i) => store::tickets::by_id(&mut conn, i).await?.map(|x| x.number),
            None => None,
        };
        let people = self.customer_people(&mut conn, &t).await?;
        // A merged ticket's messages live in the ticket it was merged into (and on, along
        // a chain of merges): look there, for this requester's own mail.
        let mut holders = vec![t.id];
        let mut next = t.merged_into;
        while let Some(id) = next.filter(|id| !holders.contains(id) && holders.len() < 64) {
            holders.push(id);
            next = store::tickets::by_id(&mut conn, id)
                .await?
                .and_then(|x| x.merged_into);
        }
        let mut found = Vec::new();
        for id in holders {
            found.extend(store::messages::for_ticket(&mut conn, id).await?);
        }
        found.sort_by_key(|m| (m.received_at, m.id));
        let messages = found
            .into_iter()
            .filter(|m| !m.outbound || m.sent_at.is_some())
            .filter(|m| exchanged_with(m, &people))
            .map(|m| CustomerMessage {
                from_us: m.outbound,
                from: match (m.outbound, &m.from_name) {
                    (false, Some(name)) if !name.trim().is_empty() => {
                        format!("{} <{}>", name.trim(), m.from_addr)
                    }
                    _ => m.from_addr,
                },
                subject: m.subject,
                body: m.body_text,
                at: m.received_at,
            })
            .collect();
        let stored = store::ratings::for_ticket(&mut conn, t.id).await?;
        Ok(CustomerView {
            number: t.number,
            subject: t.subject,
            status: t.status,
            opened_at: t.opened_at,
            messages,
            merged_into,
            rating: stored.as_ref().map(|r| r.rating),
            rating_comment: stored.and_then(|r| r.comment),
            may_rate: rating::may_rate(t.status),
            token,
        })
    }

    /// The lower-cased addresses whose mail belongs on `t`'s status page: its requester and
    /// participants, less those of tickets merged into it (their mail came with the merge;
    /// `t`'s own requester is always kept).
    async fn customer_people(
        &self,
        conn: &mut sqlx::PgConnection,
        t: &store::tickets::Ticket,
    ) -> Result<Vec<String>, sqlx::Error> {
        let requester = t.requester_email.to_lowercase();
        let foreign = store::tickets::merged_in_people(conn, t.id).await?;
        let mut people: Vec<String> = store::tickets::participants(conn, t.id)
            .await?
            .into_iter()
            .map(|p| p.to_lowercase())
            .filter(|p| !foreign.contains(p))
            .collect();
        people.push(requester);
        people.sort();
        people.dedup();
        Ok(people)
    }

    /// Records the customer's `rating` of the ticket `token` opens, with `comment` (cleaned by
    /// `domain::rating::clean_comment`), replacing an earlier one; audited as `ticket.rated`
    /// by `customer:<requester>` through `web`, with the rating before and after. Sending
    /// again what is stored writes and audits nothing.
    ///
    /// Errors: [`CustomerError::NotFound`] as [`Desk::customer_view`];
    /// [`CustomerError::NotRatable`] unless the ticket is resolved or closed;
    /// [`CustomerError::BadComment`] for a comment over 2000 characters (nothing stored).
    pub async fn rate(
        &self,
        token: &str,
        rating: Rating,
        comment: &str,
    ) -> Result<Rated, CustomerError> {
        let comment = rating::clean_comment(comment).map_err(CustomerError::BadComment)?;
        let mut tx = self.pool.begin().await?;
        let (t, _) = self.customer_ticket(&mut tx, token, true).await?;
        if !rating::may_rate(t.status) {
            return Err(CustomerError::NotRatable(t.number));
        }
        let before = store::ratings::for_ticket(&mut tx, t.id).await?;
        if before
            .as_ref()
            .is_some_and(|b| b.rating == rating && b.comment == comment)
        {
            tx.rollback().await?;
            return Ok(Rated {
                number: t.number,
                rating,
                comment,
                changed: false,
            });
        }
        store::ratings::set(&mut tx, t.id, rating, comment.as_deref(), self.now()).await?;
        let actor = format!("customer:{}", t.requester_email);
        self.sink(&mut tx)
            .audit(
                t.id,
                (&actor, "web"),
                "ticket.rated",
                json!({
                    "rating": before.as_ref().map(|r| r.rating.as_str()),
                    "comment": before.as_ref().and_then(|r| r.comment.clone()),
                }),
                json!({"rating": rating.as_str(), "comment": comment}),
            )
            .await?;
        tx.commit().await?;
        Ok(Rated {
            number: t.number,
            rating,
            comment,
            changed: before.is_some(),
        })
    }
}

/// Whether `m` was exchanged with one of `people` (lower-cased addresses): inbound from one
/// of them, or ours addressed to one of them.
fn exchanged_with(m: &store::messages::Message, people: &[String]) -> bool {
    let known = |a: &str| people.iter().any(|p| p.eq_ignore_ascii_case(a.trim()));
    if m.outbound {
        m.to_addrs.iter().any(|a| known(a))
    } else {
        known(&m.from_addr)
    }
}
