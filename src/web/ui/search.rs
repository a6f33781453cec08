//! `GET /search?q=…[&page=N][&after=…]`: the search page for signed-in agents
//! (`desk::search`). A ticket number or a Message-ID that matches goes straight to the
//! ticket (`303`); a requester address lists that requester's tickets (keyset-paged by
//! `after`); words give ranked full-text results with highlighted snippets (paged by `page`).
//!
//! Query parameters are read leniently: an unreadable `page` or `after` is ignored, never a
//! `400`. Highlighting: the store marks matches with private-use characters; the text is
//! escaped by maud run by run and only the markers become `<mark>`, so nothing a customer
//! wrote can become markup.

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use chrono::{DateTime, Utc};
use maud::{html, Markup};

use super::layout::{message_response, page};
use super::session::Viewer;
use crate::desk::messages::web as words;
use crate::desk::search::{SearchOutcome, SearchRequest, PAGE};
use crate::domain::search::marked_runs;
use crate::store::search::{Listed, RequesterCursor, WALK_ROWS, WINDOW};
use crate::web::WebState;

/// `GET /search`.
pub fn routes() -> Router<WebState> {
    Router::new().route("/search", get(search))
}

/// The parameters as read: `q` (empty when absent), `page` (1 when absent or unreadable),
/// `after` (a requester page cursor `<created_at µs>_<id>`, ignored when unreadable).
#[derive(Debug, Default, PartialEq)]
pub struct Params {
    /// The query.
    pub q: String,
    /// Page of full-text results, from 1.
    pub page: u32,
    /// Requester page cursor.
    pub after: Option<RequesterCursor>,
}

/// Reads `raw` (the URL's query string, form-encoded); never fails. Only the first 64 KiB
/// of `q` are kept (the desk cuts it further).
pub fn params(raw: Option<&str>) -> Params {
    let mut p = Params {
        page: 1,
        ..Params::default()
    };
    for (k, v) in url::form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
        match k.as_ref() {
            "q" if p.q.is_empty() => p.q = v.chars().take(65_536).collect(),
            "page" => p.page = v.trim().parse::<u32>().unwrap_or(1).max(1),
            "after" => p.after = cursor(&v),
            _ => {}
        }
    }
    p
}

/// `<created_at µs>_<id>` as a cursor.
fn cursor(s: &str) -> Option<RequesterCursor> {
    let (at, id) = s.split_once('_')?;
    let at: i64 = at.parse().ok()?;
    Some(RequesterCursor {
        created_at: DateTime::<Utc>::from_timestamp_micros(at)?,
        id: id.parse().ok()?,
    })
}

/// The `after` value of `c`.
fn cursor_param(c: &RequesterCursor) -> String {
    format!("{}_{}", c.created_at.timestamp_micros(), c.id)
}

/// `/search?q=<q>&<extra>`, form-encoded.
fn search_url(q: &str, extra: &str) -> String {
    let q: String = url::form_urlencoded::byte_serialize(q.as_bytes()).collect();
    format!("/search?q={q}&{extra}")
}

async fn search(State(s): State<WebState>, v: Viewer, RawQuery(raw): RawQuery) -> Response {
    let p = params(raw.as_deref());
    let req = SearchRequest {
        q: &p.q,
        page: p.page,
        after: p.after,
    };
    let outcome = match s.desk.search(&v.actor(), &req).await {
        Ok(o) => o,
        Err(crate::desk::DeskError::NotAMember) => {
            return message_response(
                StatusCode::FORBIDDEN,
                words::SEARCH_TITLE,
                &crate::desk::DeskError::NotAMember.to_string(),
            )
        }
        Err(e) => {
            tracing::error!(error = %e, "web: search failed");
            return message_response(
                StatusCode::SERVICE_UNAVAILABLE,
                words::SEARCH_TITLE,
                "The desk's database does not answer; try again.",
            );
        }
    };
    let body = match outcome {
        SearchOutcome::Ticket(number) => {
            return Redirect::to(&format!("/tickets/{number}")).into_response()
        }
        SearchOutcome::Nothing => form(""),
        SearchOutcome::NoWords { query } => html! {
            (form(&query))
            p role="status" { (words::search_no_words(&query)) }
        },
        SearchOutcome::Requester {
            address,
            tickets,
            next,
        } => html! {
            (form(&p.q))
            h2 { (words::search_requester(&address)) }
            (table(tickets.iter().map(|t| (t, None))))
            @if let Some(c) = next {
                nav aria-label=(words::SEARCH_PAGES) {
                    a rel="next" href=(search_url(&p.q, &format!("after={}", cursor_param(&c)))) {
                        (words::SEARCH_NEXT)
                    }
                }
            }
        },
        SearchOutcome::Text { query, hits, page } => {
            let first = i64::from(page - 1) * PAGE + 1;
            let last = first + hits.hits.len() as i64 - 1;
            html! {
                (form(&query))
                @if hits.hits.is_empty() && hits.capped {
                    p role="status" { (words::search_none_capped(&query, WALK_ROWS)) }
                } @else if hits.hits.is_empty() {
                    p role="status" { (words::search_none(&query)) }
                } @else {
                    p role="status" { (words::search_count(&query, hits.total, first, last)) }
                    @if hits.capped {
                        p class="note" { (words::search_capped(WINDOW)) }
                    }
                    (table(hits.hits.iter().map(|h| (&h.ticket, Some(h.snippet.as_deref())))))
                    nav aria-label=(words::SEARCH_PAGES) {
                        @if page > 1 {
                            a rel="prev" href=(search_url(&query, &format!("page={}", page - 1))) {
                                (words::SEARCH_PREVIOUS)
                            }
                            " "
                        }
                        @if last < hits.total {
                            a rel="next" href=(search_url(&query, &format!("page={}", page + 1))) {
                                (words::SEARCH_NEXT)
                            }
                        }
                    }
                }
            }
        }
    };
    page(words::SEARCH_TITLE, Some(&v), body).into_response()
}

/// The search form, holding `q`.
fn form(q: &str) -> Markup {
    html! {
        form role="search" method="get" action="/search" {
            label for="q" { (words::SEARCH_LABEL) }
            " "
            input id="q" name="q" type="search" value=(q) autocomplete="off"
                aria-describedby="search-hint";
            " "
            button type="submit" { (words::SEARCH_BUTTON) }
            p id="search-hint" class="hint" { (words::SEARCH_HINT) }
        }
    }
}

/// `s` with its highlight markers as `<mark>`; every run escaped.
fn marked(s: &str) -> Markup {
    html! {
        @for (on, run) in marked_runs(s) {
            @if on { mark { (run) } } @else { (run) }
        }
    }
}

/// The results table: one row per ticket (`data-ticket` for the live feed), with the
/// snippet of its best matching message under the subject when there is one (`Some(None)`:
/// a full-text hit on the subject only; `None`: not a full-text row).
fn table<'a>(rows: impl Iterator<Item = (&'a Listed, Option<Option<&'a str>>)>) -> Markup {
    html! {
        table class="tickets results" {
            thead {
                tr {
                    @for c in words::SEARCH_COLUMNS { th scope="col" { (c) } }
                }
            }
            tbody {
                @for (t, snippet) in rows {
                    tr data-ticket=(t.number) {
                        th scope="row" { a href={ "/tickets/" (t.number) } { (t.number) } }
                        td {
                            @if snippet.is_some() { (marked(&t.subject)) } @else { (t.subject) }
                            @if let Some(Some(text)) = snippet {
                                p class="snippet" {
                                    span class="label" { (words::SEARCH_SNIPPET_LABEL) }
                                    " "
                                    (marked(text))
                                }
                            }
                        }
                        td { (t.status) }
                        td { (t.requester) }
                        td { @match &t.assignee { Some(h) => { "@" (h) }, None => (words::SEARCH_UNHELD) } }
                        td { time datetime=(t.opened_at.to_rfc3339()) { (t.opened_at.format("%Y-%m-%d %H:%M")) } }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_never_fail() {
        let p = params(Some("q=invoice+%22wrong%22&page=3"));
        assert_eq!(p.q, "invoice \"wrong\"");
        assert_eq!(p.page, 3);
        let p = params(Some("q=%00%FF&page=-1&after=zz&page=x"));
        assert_eq!(p.page, 1);
        assert_eq!(p.after, None);
        assert_eq!(
            params(None),
            Params {
                page: 1,
                ..Params::default()
            }
        );
        let c = RequesterCursor {
            created_at: DateTime::<Utc>::from_timestamp_micros(1_790_000_000_123_456)
                .expect("time"),
            id: 42,
        };
        let p = params(Some(&format!("q=a%40b.c&after={}", cursor_param(&c))));
        assert_eq!(p.after, Some(c));
    }

    #[test]
    fn marks_are_the_only_markup() {
        let s = format!(
            "<script>alert(1)</script> {}<b>invoice</b>{} & more",
            crate::domain::search::MARK_START,
            crate::domain::search::MARK_END
        );
        let html = marked(&s).into_string();
        assert_eq!(
            html,
            "&lt;script&gt;alert(1)&lt;/script&gt; <mark>&lt;b&gt;invoice&lt;/b&gt;</mark> &amp; more"
        );
    }
}
