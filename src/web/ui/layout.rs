//! The frame of every web page: the document, the navigation, the skip link, the flash
//! message, the stylesheet and scripts (all served by claimdesk, `/assets/…`), and the
//! hidden CSRF field of forms. Templates are maud: every `(value)` spliced in is escaped.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use maud::{html, Markup, DOCTYPE};

use super::session::Viewer;
use crate::desk::messages::web as words;

/// What the live feed (`/assets/live.js`, `/events`) keeps current on a page: the marker
/// put on `<main>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Live<'a> {
    /// Nothing (`<main id="main">`).
    None,
    /// A ticket list: `<main id="main" data-live="list">`; its rows are
    /// `<tr data-ticket="TICK-…">`.
    List,
    /// One ticket: `<main id="main" data-live="ticket" data-ticket="TICK-…">`.
    Ticket(&'a str),
}

/// The whole document for a page titled `title` (shown as `<title> · claimdesk` and as the
/// `<h1>`), with the navigation when `viewer` is signed in, and `body` inside
/// `<main id="main">`. Same as [`page_live`] with [`Live::None`].
pub fn page(title: &str, viewer: Option<&Viewer>, body: Markup) -> Markup {
    page_live(title, viewer, Live::None, body)
}

/// [`page`] with the live feed's marker `live` on `<main>`.
pub fn page_live(title: &str, viewer: Option<&Viewer>, live: Live<'_>, body: Markup) -> Markup {
    let (kind, ticket) = match live {
        Live::None => (None, None),
        Live::List => (Some("list"), None),
        Live::Ticket(n) => (Some("ticket"), Some(n)),
    };
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (words::title(title)) }
                link rel="stylesheet" href="/assets/app.css";
                script src="/assets/app.js" defer {}
                @if viewer.is_some() {
                    script src="/assets/live.js" defer {}
                }
            }
            body {
                a class="skip" href="#main" { (words::SKIP_TO_CONTENT) }
                header class="top" {
                    span class="brand" { (words::PRODUCT) }
                    @if let Some(v) = viewer {
                        nav aria-label="Main" {
                            ul {
                                li { a href="/tickets/mine" { (words::NAV[0]) } }
                                li { a href="/tickets/unassigned" { (words::NAV[1]) } }
                                li { a href="/tickets/all" { (words::NAV[2]) } }
                                li { a href="/search" { (words::NAV[3]) } }
                                li { a href="/workload" { (words::NAV[4]) } }
                            }
                        }
                        form class="signout" method="post" action="/signout" {
                            (csrf_field(v))
                            span class="who" { "@" (v.agent.handle) }
                            " "
                            button type="submit" { (words::SIGN_OUT) }
                        }
                    }
                }
                main id="main" data-live=[kind] data-ticket=[ticket] tabindex="-1" {
                    h1 { (title) }
                    div id="flash" role="status" aria-live="polite" {
                        @if let Some(f) = viewer.and_then(|v| v.flash.as_deref()) {
                            p class="flash" { (f) }
                        }
                    }
                    (body)
                }
            }
        }
    }
}

/// The hidden `_csrf` input every form of a signed-in page carries.
pub fn csrf_field(v: &Viewer) -> Markup {
    html! { input type="hidden" name="_csrf" value=(v.csrf); }
}

/// A page with only `text` (an error or notice), answered with `status`.
pub fn message_response(status: StatusCode, title: &str, text: &str) -> Response {
    (status, page(title, None, html! { p { (text) } })).into_response()
}
