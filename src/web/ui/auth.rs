//! Sign-in by a one-time link sent to the agent's email, and sign-out.
//!
//! - `GET /signin` shows the form; `POST /signin` takes an address. When it is an active
//!   agent's, a random 32-byte token is stored as its SHA-256 (`web_signin_tokens`, valid
//!   [`LINK_MINUTES`] minutes, once) and the link `<public_url>/signin/<token>` is emailed
//!   through the outbox (`signin_link`, sent over SMTP by the worker). The answer is the same
//!   whether or not the address is an agent's, so the form tells nobody who is one.
//! - `GET /signin/{token}` shows a button only; `POST /signin/{token}` uses the token (one
//!   conditional UPDATE: once), opens a session (`web_sessions`, [`crate::config::WebSettings::session_hours`])
//!   and sets the cookie, ending the session the browser's cookie named before (if any).
//!   Mail scanners that fetch links therefore never use them up.
//! - `POST /signout` ends the session (CSRF-checked).
//!
//! Rate limits, per fixed window of [`WINDOW_MINUTES`] minutes, counted in Postgres
//! (`web_signin_attempts`, keyed by a SHA-256 of the address, never the address itself):
//! [`PER_ADDRESS`] link requests per address (known or not) — past it the answer is the
//! usual one and no link is sent, so the limit tells nothing about an address;
//! [`PER_CLIENT`] link requests per client address, then `429`; [`FAILED_PER_CLIENT`]
//! unusable links per client, then `429` for unusable ones — a valid link always works
//! (behind a proxy every client shares one address, and junk must not lock agents out).
//!
//! An address over [`MAX_ADDRESS_BYTES`] bytes or without `@` gets the usual answer without
//! touching the database; bodies over [`MAX_FORM_BYTES`] are refused with `413`.

use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use chrono::{Duration, Utc};
use maud::html;
use serde::Deserialize;

use super::layout::{message_response, page};
use super::session::{self, Viewer};
use crate::desk::messages::web as words;
use crate::store;
use crate::web::WebState;

/// How long a sign-in link works, minutes.
pub const LINK_MINUTES: i64 = 15;
/// The rate-limit window, minutes.
pub const WINDOW_MINUTES: i64 = 15;
/// Link requests per address per window.
pub const PER_ADDRESS: i32 = 5;
/// Link requests per client (IP address) per window.
pub const PER_CLIENT: i32 = 20;
/// Unknown, used or expired links tried per client per window.
pub const FAILED_PER_CLIENT: i32 = 10;

/// The longest address a link is sent to, bytes (RFC 5321 §4.5.3.1.3 path less `<>`).
pub const MAX_ADDRESS_BYTES: usize = 254;
/// The largest sign-in or sign-out form body read, bytes.
pub const MAX_FORM_BYTES: usize = 16 * 1024;

/// `GET|POST /signin`, `GET|POST /signin/{token}`, `POST /signout`; bodies up to
/// [`MAX_FORM_BYTES`].
pub fn routes() -> Router<WebState> {
    Router::new()
        .route("/signin", get(signin_form).post(signin_request))
        .route("/signin/{token}", get(link_page).post(link_use))
        .route("/signout", post(signout))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_FORM_BYTES))
}

/// Whether `address` (trimmed, lower-cased) may be looked up at all: 1 to
/// [`MAX_ADDRESS_BYTES`] bytes with an `@`.
fn plausible_address(address: &str) -> bool {
    address.len() <= MAX_ADDRESS_BYTES && address.contains('@')
}

/// The attempt counter's key for `kind` (`address`, `client`, `failed`) of `value`: a hex
/// SHA-256, so the table never holds what someone typed (nor its length).
fn counter_key(kind: &str, value: &str) -> String {
    format!("{kind}:{}", hex::encode(session::hash(value)))
}

/// `next`: where to go after signing in.
#[derive(Debug, Deserialize)]
struct NextQuery {
    next: Option<String>,
}

/// The sign-in form's fields.
#[derive(Debug, Deserialize)]
struct SigninForm {
    #[serde(default)]
    email: String,
    next: Option<String>,
}

/// A form with only the CSRF token.
#[derive(Debug, Deserialize)]
struct CsrfForm {
    #[serde(default, rename = "_csrf")]
    csrf: String,
}

/// `next` when it is a path on this site (`/…`, not `//…` or `/\…`, no control characters,
/// at most 1000 bytes); else `/`. Keeps the sign-in from being an open redirect.
pub fn local_path(next: Option<&str>) -> String {
    match next {
        Some(p)
            if p.starts_with('/')
                && !p.starts_with("//")
                && !p.starts_with("/\\")
                && p.len() <= 1000
                && !p.chars().any(|c| c.is_control() || c == '\\') =>
        {
            p.to_string()
        }
        _ => "/".to_string(),
    }
}

fn form(next: &str, notice: Option<&str>) -> maud::Markup {
    html! {
        @if let Some(n) = notice {
            p class="notice" role="status" { (n) }
        }
        p { (words::SIGNIN_PROMPT) }
        form method="post" action="/signin" {
            input type="hidden" name="next" value=(next);
            p {
                label for="email" { (words::SIGNIN_EMAIL_LABEL) }
                br;
                input id="email" type="email" name="email" required autocomplete="email" size="40";
            }
            p { button type="submit" { (words::SIGNIN_SEND) } }
        }
    }
}

async fn signin_form(viewer: Option<Viewer>, Query(q): Query<NextQuery>) -> Response {
    let next = local_path(q.next.as_deref());
    if viewer.is_some() {
        return Redirect::to(&next).into_response();
    }
    page(words::SIGNIN_TITLE, None, form(&next, None)).into_response()
}

fn db_error(e: &sqlx::Error) -> Response {
    tracing::error!(error = %e, "web sign-in: database error");
    message_response(
        StatusCode::SERVICE_UNAVAILABLE,
        words::SIGNIN_TITLE,
        &crate::desk::messages::error(&crate::desk::DeskError::BadInput(
            "Something went wrong on our side. Please try again.".into(),
        )),
    )
}

async fn signin_request(
    State(s): State<WebState>,
    parts: axum::http::request::Parts,
    Form(f): Form<SigninForm>,
) -> Response {
    let next = local_path(f.next.as_deref());
    let client = session::client_of(&parts.extensions);
    let address = f.email.trim().to_lowercase();
    if !plausible_address(&address) {
        return page(
            words::SIGNIN_TITLE,
            None,
            form(&next, Some(&words::signin_sent(LINK_MINUTES))),
        )
        .into_response();
    }
    match request_link(&s, &client, &address, &next).await {
        Ok(true) => page(
            words::SIGNIN_TITLE,
            None,
            form(&next, Some(&words::signin_sent(LINK_MINUTES))),
        )
        .into_response(),
        Ok(false) => (
            StatusCode::TOO_MANY_REQUESTS,
            page(
                words::SIGNIN_TITLE,
                None,
                html! { p class="error" role="alert" { (words::signin_rate_limited(WINDOW_MINUTES)) } },
            ),
        )
            .into_response(),
        Err(e) => db_error(&e),
    }
}

/// Counts the request and, within the limits, queues a link when `address` is exactly one
/// active agent's. `Ok(false)`: over the per-client limit (nothing queued); over the
/// per-address limit is `Ok(true)` with nothing queued, like an unknown address.
async fn request_link(
    s: &WebState,
    client: &str,
    address: &str,
    next: &str,
) -> Result<bool, sqlx::Error> {
    let now = Utc::now();
    let window = WINDOW_MINUTES * 60;
    let mut tx = s.desk.pool().begin().await?;
    let by_client =
        store::signin_attempts::count(&mut tx, &counter_key("client", client), now, window).await?;
    let by_address =
        store::signin_attempts::count(&mut tx, &counter_key("address", address), now, window)
            .await?;
    if by_client > PER_CLIENT {
        tx.commit().await?;
        return Ok(false);
    }
    if by_address > PER_ADDRESS {
        tx.commit().await?;
        return Ok(true);
    }
    let agents = if address.is_empty() {
        Vec::new()
    } else {
        store::agents::active_by_email(&mut tx, address).await?
    };
    if let [agent] = agents.as_slice() {
        let token = session::random_token();
        store::signin_tokens::create(
            &mut tx,
            &session::hash(&token),
            agent.id,
            next,
            now + Duration::minutes(LINK_MINUTES),
        )
        .await?;
        let effect = store::outbox::Effect::SigninLink {
            to: agent.email.clone(),
            name: agent.name.clone(),
            link: format!("{}/signin/{token}", s.web.public_url()),
            minutes: LINK_MINUTES,
        };
        store::outbox::enqueue(&mut tx, None, &effect).await?;
        tracing::info!(agent = %agent.handle, "web sign-in link queued");
    } else if agents.len() > 1 {
        tracing::warn!("web sign-in: several agents share one address; no link sent");
    }
    tx.commit().await?;
    Ok(true)
}

/// The token as it may appear in a link: 64 hex digits.
fn well_formed(token: &str) -> bool {
    token.len() == 64 && token.bytes().all(|b| b.is_ascii_hexdigit())
}

async fn link_page(Path(token): Path<String>) -> Response {
    if !well_formed(&token) {
        return invalid_link(StatusCode::NOT_FOUND);
    }
    page(
        words::SIGNIN_TITLE,
        None,
        html! {
            p { (words::SIGNIN_LINK_PROMPT) }
            form method="post" action={ "/signin/" (token) } {
                button type="submit" { (words::SIGNIN_LINK_BUTTON) }
            }
        },
    )
    .into_response()
}

fn invalid_link(code: StatusCode) -> Response {
    (
        code,
        page(
            words::SIGNIN_TITLE,
            None,
            html! {
                p class="error" role="alert" { (words::SIGNIN_LINK_INVALID) }
                (form("/", None))
            },
        ),
    )
        .into_response()
}

async fn link_use(
    State(s): State<WebState>,
    parts: axum::http::request::Parts,
    Path(token): Path<String>,
) -> Response {
    let client = session::client_of(&parts.extensions);
    let previous = session::cookie(&parts.headers, session::SESSION_COOKIE)
        .filter(|v| !v.is_empty())
        .map(session::hash);
    match use_link(&s, &client, &token, previous.as_deref()).await {
        Ok(Used::SignedIn { cookie, next }) => {
            ([(header::SET_COOKIE, cookie)], Redirect::to(&next)).into_response()
        }
        Ok(Used::Invalid) => invalid_link(StatusCode::BAD_REQUEST),
        Ok(Used::Limited) => (
            StatusCode::TOO_MANY_REQUESTS,
            page(
                words::SIGNIN_TITLE,
                None,
                html! { p class="error" role="alert" { (words::signin_rate_limited(WINDOW_MINUTES)) } },
            ),
        )
            .into_response(),
        Err(e) => db_error(&e),
    }
}

enum Used {
    SignedIn { cookie: String, next: String },
    Invalid,
    Limited,
}

/// Uses `token` from `client`; on success opens a session and ends the browser's
/// `previous` one (the hash of the session cookie it sent, if any).
async fn use_link(
    s: &WebState,
    client: &str,
    token: &str,
    previous: Option<&[u8]>,
) -> Result<Used, sqlx::Error> {
    let now = Utc::now();
    let window = WINDOW_MINUTES * 60;
    let key = counter_key("failed", client);
    let mut tx = s.desk.pool().begin().await?;
    // The token first: a valid link works whatever junk others sent from this address.
    let used = if well_formed(token) {
        store::signin_tokens::consume(&mut tx, &session::hash(token), now).await?
    } else {
        None
    };
    let agent = match used {
        Some((agent_id, _)) => store::agents::by_id(&mut tx, agent_id).await?,
        None => None,
    };
    let active = match &agent {
        Some(a) => store::agents::find(&mut tx, store::agents::Identity::Handle(&a.handle))
            .await?
            .filter(|x| x.id == a.id),
        None => None,
    };
    let (Some(agent), Some((_, next))) = (active, used) else {
        // Only failed uses are counted and limited. (A used-up link of a deactivated agent
        // stays used: the UPDATE is committed with the count.)
        let failed = store::signin_attempts::count(&mut tx, &key, now, window).await?;
        tx.commit().await?;
        return Ok(if failed > FAILED_PER_CLIENT {
            Used::Limited
        } else {
            Used::Invalid
        });
    };
    if let Some(old) = previous {
        store::web_sessions::delete(&mut tx, old).await?;
    }
    let id = session::random_token();
    let hours = i64::from(s.web.session_hours.max(1));
    store::web_sessions::create(
        &mut tx,
        &session::hash(&id),
        agent.id,
        &session::random_token(),
        now + Duration::hours(hours),
    )
    .await?;
    tx.commit().await?;
    tracing::info!(agent = %agent.handle, "web session opened");
    Ok(Used::SignedIn {
        cookie: session::set_cookie(session::SESSION_COOKIE, &id, hours * 3600, s.web.is_https()),
        next: local_path(Some(&next)),
    })
}

async fn signout(State(s): State<WebState>, viewer: Viewer, Form(f): Form<CsrfForm>) -> Response {
    if let Err(r) = viewer.check_csrf(&f.csrf) {
        return r;
    }
    let ended = async {
        let mut conn = s.desk.pool().acquire().await?;
        store::web_sessions::delete(&mut conn, &viewer.session_hash).await
    }
    .await;
    if let Err(e) = ended {
        return db_error(&e);
    }
    (
        [(
            header::SET_COOKIE,
            session::set_cookie(session::SESSION_COOKIE, "", 0, s.web.is_https()),
        )],
        Redirect::to("/signin"),
    )
        .into_response()
}

/// Deletes what sign-in no longer needs: sessions and links that ended, and attempt
/// counters whose window closed. Run every minute by `serve`.
///
/// Errors: the database's.
pub async fn purge_expired(pool: &sqlx::PgPool) -> Result<(), sqlx::Error> {
    let now = Utc::now();
    let mut conn = pool.acquire().await?;
    store::web_sessions::purge_expired(&mut conn, now).await?;
    store::signin_tokens::purge_expired(&mut conn, now - Duration::hours(1)).await?;
    store::signin_attempts::purge(&mut conn, now - Duration::minutes(WINDOW_MINUTES)).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_is_a_local_path_or_home() {
        for ok in ["/", "/tickets/mine", "/tickets/all?sort=age&after=1.2"] {
            assert_eq!(local_path(Some(ok)), ok);
        }
        for bad in [
            "https://evil.example/",
            "//evil.example",
            "/\\evil.example",
            "javascript:alert(1)",
            "",
            "/a\r\nSet-Cookie: x=1",
            "tickets",
        ] {
            assert_eq!(local_path(Some(bad)), "/", "{bad}");
        }
        assert_eq!(local_path(None), "/");
    }
}
