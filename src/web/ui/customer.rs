//! The customer's public pages, opened from the signed link of their acknowledgement email
//! (`desk::customer`): no sign-in, one ticket per token.
//!
//! - `GET /status/{token}`: the ticket's number, subject, status and the messages exchanged
//!   by email (never notes, holder, tags, priority, department, audit or SLA), as escaped
//!   plain text; once resolved, the rating links.
//! - `GET /rate/{token}?r=good|bad`: a confirmation page with the choice pre-selected and an
//!   optional comment — nothing is recorded by opening a link, so mail scanners that prefetch
//!   links do not vote.
//! - `POST /rate/{token}` (`application/x-www-form-urlencoded`: `r`, `comment`): records or
//!   changes the rating. The unguessable token in the path is the authority (there is no
//!   session cookie to ride on), so a cross-site form cannot post without knowing it.
//!
//! Every bad, forged or unknown token, and every token while links are off, answers the same
//! 404 page. Responses carry `Cache-Control: no-store`, `Referrer-Policy: no-referrer` (the
//! token is in the URL) and `X-Robots-Tag: noindex`.

use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Form, Router};
use maud::{html, Markup};
use serde::Deserialize;

use super::layout;
use crate::desk::customer::{CustomerError, CustomerView};
use crate::desk::messages::web as words;
use crate::domain::rating::{Rating, MAX_COMMENT_CHARS};
use crate::web::WebState;

/// Largest rating form accepted, bytes (a 2000-character comment, percent-encoded, fits).
pub const RATE_BODY_LIMIT: usize = 32 * 1024;

/// `GET /status/{token}`, `GET|POST /rate/{token}`.
pub fn routes() -> Router<WebState> {
    Router::new()
        .route("/status/{token}", get(status))
        .route("/rate/{token}", get(rate_page).post(rate_post))
        .layer(DefaultBodyLimit::max(RATE_BODY_LIMIT))
}

/// A customer page: `status` and `body`, with the headers every customer page carries.
fn respond(status: StatusCode, title: &str, body: Markup) -> Response {
    (
        status,
        [
            (header::CACHE_CONTROL, "no-store"),
            (header::REFERRER_POLICY, "no-referrer"),
            (
                header::HeaderName::from_static("x-robots-tag"),
                "noindex, nofollow",
            ),
        ],
        layout::page(title, None, body),
    )
        .into_response()
}

fn not_found() -> Response {
    respond(
        StatusCode::NOT_FOUND,
        words::LINK_NOT_FOUND_TITLE,
        html! { p { (words::LINK_NOT_FOUND) } },
    )
}

/// The answer to a refusal that is not about the form.
fn refused(e: CustomerError) -> Response {
    match e {
        CustomerError::NotFound => not_found(),
        CustomerError::NotRatable(number) => respond(
            StatusCode::CONFLICT,
            &words::rate_title(&number),
            html! { p role="alert" { (words::not_ratable(&number)) } },
        ),
        CustomerError::BadComment(why) => respond(
            StatusCode::BAD_REQUEST,
            words::LINK_NOT_FOUND_TITLE,
            html! { p role="alert" { (words::comment_refused(&why.to_string())) } },
        ),
        CustomerError::Store(err) => {
            tracing::error!(error = %err, "customer page: database error");
            respond(
                StatusCode::INTERNAL_SERVER_ERROR,
                words::LINK_NOT_FOUND_TITLE,
                html! { p role="alert" { (words::CUSTOMER_TRY_AGAIN) } },
            )
        }
    }
}

fn when(t: chrono::DateTime<chrono::Utc>) -> Markup {
    html! { time datetime=(t.to_rfc3339()) { (t.format("%Y-%m-%d %H:%M UTC")) } }
}

/// `GET /status/{token}`.
async fn status(State(s): State<WebState>, Path(token): Path<String>) -> Response {
    match s.desk.customer_view(&token).await {
        Ok(v) => respond(
            StatusCode::OK,
            &words::status_title(&v.number),
            status_body(&v),
        ),
        Err(e) => refused(e),
    }
}

fn status_body(v: &CustomerView) -> Markup {
    html! {
        dl class="customer-summary" {
            dt { (words::SUBJECT_LABEL) } dd { (v.subject) }
            dt { (words::STATUS_LABEL) } dd data-status=(v.status.as_str()) { (words::customer_status(v.status)) }
            dt { (words::OPENED_LABEL) } dd { (when(v.opened_at)) }
        }
        @if let Some(into) = &v.merged_into {
            p { (words::merged_into(into)) }
        }
        @if v.may_rate || v.rating.is_some() {
            section class="rating" aria-labelledby="rate-heading" {
                h2 id="rate-heading" { (words::RATE_HEADING) }
                @if let Some(r) = v.rating {
                    p { (words::you_rated(r)) }
                }
                @if v.may_rate {
                    p { (words::RATE_QUESTION) }
                    p class="actions" {
                        @for r in [Rating::Good, Rating::Bad] {
                            a class="button" href={ "/rate/" (v.token) "?r=" (r.as_str()) } { (words::rate_button(r)) }
                        }
                    }
                }
            }
        }
        section aria-labelledby="conversation" {
            h2 id="conversation" { (words::CONVERSATION_HEADING) }
            @if v.messages.is_empty() {
                p class="muted" { (words::NO_MESSAGES) }
            }
            @for m in &v.messages {
                article class={ "msg " (if m.from_us { "outbound" } else { "inbound" }) } {
                    header {
                        span class="who" {
                            @if m.from_us { (words::FROM_US) } @else { (words::FROM_YOU) }
                        }
                        " · " span class="muted" { (m.from) } " · " (when(m.at))
                    }
                    p class="muted" { (m.subject) }
                    pre { (m.body) }
                }
            }
            p class="muted" { (words::REPLY_BY_EMAIL) }
        }
    }
}

/// `?r=` of a rating link.
#[derive(Debug, Deserialize)]
struct RateQuery {
    r: Option<String>,
}

/// The rating form's fields.
#[derive(Debug, Deserialize)]
struct RateForm {
    r: Option<String>,
    #[serde(default)]
    comment: String,
}

/// The rating form with `choice` selected and `comment` filled in, and `alert` above it.
fn rate_form(
    token: &str,
    choice: Option<Rating>,
    comment: &str,
    intro: Option<&str>,
    alert: Option<&str>,
) -> Markup {
    html! {
        @if let Some(a) = alert {
            p class="error" role="alert" { (a) }
        }
        @if let Some(i) = intro {
            p { (i) }
        }
        form method="post" action={ "/rate/" (token) } {
            fieldset {
                legend { (words::RATE_CHOICE_LABEL) }
                @for r in [Rating::Good, Rating::Bad] {
                    label {
                        input type="radio" name="r" value=(r.as_str()) checked[choice == Some(r)];
                        " " (words::rate_button(r))
                    }
                    " "
                }
            }
            p {
                label for="comment" { (words::COMMENT_LABEL) }
                textarea id="comment" name="comment" maxlength=(MAX_COMMENT_CHARS) { (comment) }
            }
            button type="submit" { (words::RATE_SUBMIT) }
        }
        p { a href={ "/status/" (token) } { (words::BACK_TO_STATUS) } }
    }
}

/// `GET /rate/{token}?r=good|bad`: the confirmation page (records nothing).
async fn rate_page(
    State(s): State<WebState>,
    Path(token): Path<String>,
    Query(q): Query<RateQuery>,
) -> Response {
    let v = match s.desk.customer_view(&token).await {
        Ok(v) => v,
        Err(e) => return refused(e),
    };
    let title = words::rate_title(&v.number);
    if !v.may_rate {
        return respond(
            StatusCode::CONFLICT,
            &title,
            html! {
                p role="alert" { (words::not_ratable(&v.number)) }
                p { a href={ "/status/" (v.token) } { (words::BACK_TO_STATUS) } }
            },
        );
    }
    let choice = q.r.as_deref().and_then(Rating::parse).or(v.rating);
    let intro = match (q.r.as_deref().and_then(Rating::parse), v.rating) {
        (Some(r), _) => Some(words::rate_confirm(r)),
        (None, Some(r)) => Some(words::you_rated(r)),
        (None, None) => None,
    };
    let comment = v.rating_comment.clone().unwrap_or_default();
    respond(
        StatusCode::OK,
        &title,
        rate_form(&v.token, choice, &comment, intro.as_deref(), None),
    )
}

/// `POST /rate/{token}`: records the rating; a missing choice or a comment that is too long
/// shows the form again with what was typed.
async fn rate_post(
    State(s): State<WebState>,
    Path(token): Path<String>,
    Form(f): Form<RateForm>,
) -> Response {
    let Some(rating) = f.r.as_deref().and_then(Rating::parse) else {
        // Check the token first: a bad one gets the 404 page, not a form.
        return match s.desk.customer_view(&token).await {
            Ok(v) => respond(
                StatusCode::BAD_REQUEST,
                &words::rate_title(&v.number),
                rate_form(&v.token, None, &f.comment, None, Some(words::RATE_PICK_ONE)),
            ),
            Err(e) => refused(e),
        };
    };
    match s.desk.rate(&token, rating, &f.comment).await {
        Ok(done) => respond(
            StatusCode::OK,
            &words::rate_title(&done.number),
            html! {
                p role="status" { (words::rated(done.rating, done.changed)) }
                p { a href={ "/status/" (token) } { (words::BACK_TO_STATUS) } }
            },
        ),
        Err(CustomerError::BadComment(why)) => match s.desk.customer_view(&token).await {
            Ok(v) => respond(
                StatusCode::BAD_REQUEST,
                &words::rate_title(&v.number),
                rate_form(
                    &v.token,
                    Some(rating),
                    &f.comment,
                    None,
                    Some(&words::comment_refused(&why.to_string())),
                ),
            ),
            Err(e) => refused(e),
        },
        Err(e) => refused(e),
    }
}
