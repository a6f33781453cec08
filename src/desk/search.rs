//! Search (issue 12): the use case behind the web view's `/search?q=`, for agents only.
//!
//! A query is read by `domain::search::classify`: a ticket number goes straight to that
//! ticket; a token with an `@` is looked up as a Message-ID (with or without `<>`; the
//! message's ticket, also for ids only named in In-Reply-To/References) and then as a
//! requester address (that requester's tickets, newest first, keyset-paged); anything else,
//! and a lookup that finds nothing, is full-text search over subjects and message bodies
//! (`store::search`: ranked, with highlighted snippets, [`PAGE`] per page).

use crate::domain::search::{classify, Lookup};
use crate::store;
use crate::store::search::{Hits, Listed, RequesterCursor};

use super::{Actor, Desk, DeskError};

/// Results per page.
pub const PAGE: i64 = 20;

/// Last page that can be asked for: the candidates are bounded (`store::search::WINDOW` per
/// source), so pages beyond hold nothing.
pub const MAX_PAGE: u32 = (2 * store::search::WINDOW / PAGE) as u32;

/// What was asked.
#[derive(Debug, Clone, Default)]
pub struct SearchRequest<'a> {
    /// The query as typed (any text; cleaned here).
    pub q: &'a str,
    /// Page of full-text results, from 1 (0 is read as 1; capped at [`MAX_PAGE`]).
    pub page: u32,
    /// For a requester's tickets: where the page starts (the `next` of the previous page).
    pub after: Option<RequesterCursor>,
}

/// What a search found.
#[derive(Debug, Clone, PartialEq)]
pub enum SearchOutcome {
    /// Nothing was typed.
    Nothing,
    /// An exact match: the ticket to go to.
    Ticket(String),
    /// The query is a requester address with tickets: a page of them, newest first.
    Requester {
        /// The address, as stored.
        address: String,
        /// This page's tickets.
        tickets: Vec<Listed>,
        /// Where the next page starts, when there is one.
        next: Option<RequesterCursor>,
    },
    /// Full-text results.
    Text {
        /// The cleaned query, for showing back.
        query: String,
        /// The page of results.
        hits: Hits,
        /// Which page this is, from 1.
        page: u32,
    },
    /// The query has no word that can be searched for (only punctuation, `-`, `or`).
    NoWords {
        /// The cleaned query.
        query: String,
    },
}

impl Desk {
    /// Runs search request `req` for `actor` (see the module). Read-only.
    ///
    /// Errors: [`DeskError::NotAMember`] when the actor is no longer an active agent; the
    /// database's. No query text is an error: hostile input (tsquery syntax, quotes, NUL,
    /// megabytes) is cleaned and cut, and searches for what is left.
    pub async fn search(
        &self,
        actor: &Actor,
        req: &SearchRequest<'_>,
    ) -> Result<SearchOutcome, DeskError> {
        let mut conn = self.pool.acquire().await?;
        store::agents::find(
            &mut conn,
            store::agents::Identity::Handle(&actor.agent.handle),
        )
        .await?
        .filter(|a| a.id == actor.agent.id)
        .ok_or(DeskError::NotAMember)?;
        let text = match classify(req.q) {
            Lookup::Nothing => return Ok(SearchOutcome::Nothing),
            Lookup::Number(n) => {
                let number = n.to_string();
                if store::tickets::by_number(&mut conn, &number)
                    .await?
                    .is_some()
                {
                    return Ok(SearchOutcome::Ticket(number));
                }
                number
            }
            Lookup::Address {
                msg_id,
                address,
                text,
            } => {
                let key = crate::domain::limits::fit_msg_id(&msg_id);
                if let Some(number) = store::search::ticket_of_msg_id(&mut conn, &key).await? {
                    return Ok(SearchOutcome::Ticket(number));
                }
                if let Some(address) = address {
                    let mut tickets =
                        store::search::by_requester(&mut conn, &address, req.after, PAGE + 1)
                            .await?;
                    if !tickets.is_empty() || req.after.is_some() {
                        let next = (tickets.len() as i64 > PAGE)
                            .then(|| {
                                tickets.truncate(PAGE as usize);
                                tickets.last().map(|t| RequesterCursor {
                                    created_at: t.created_at,
                                    id: t.id,
                                })
                            })
                            .flatten();
                        return Ok(SearchOutcome::Requester {
                            address,
                            tickets,
                            next,
                        });
                    }
                }
                text
            }
            Lookup::Words(text) => text,
        };
        let Some(tsquery) = store::search::tsquery(&mut conn, &text).await? else {
            return Ok(SearchOutcome::NoWords { query: text });
        };
        let page = req.page.clamp(1, MAX_PAGE);
        let hits =
            store::search::full_text(&mut conn, &tsquery, i64::from(page - 1) * PAGE, PAGE).await?;
        Ok(SearchOutcome::Text {
            query: text,
            hits,
            page,
        })
    }
}
