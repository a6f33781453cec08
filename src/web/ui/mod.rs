//! The web view (issue 12): server-rendered pages (maud) for agents — ticket lists, one
//! ticket with its conversation and actions, workload — behind a sign-in by one-time email
//! link, served by the same `claimdesk serve` router as the chat endpoints.
//!
//! Every route here answers with the security headers of [`security_headers`]; every page
//! but the sign-in pages (and the customer pages of `customer`) needs a signed-in agent
//! ([`session::Viewer`]); every form posts `_csrf`, checked first by its handler.

pub mod assets;
pub mod auth;
pub mod customer;
pub mod layout;
pub mod live;
pub mod pages;
pub mod search;
pub mod session;

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use axum::Router;

use crate::web::WebState;

/// Content-Security-Policy of every web view answer: only our own scripts, styles, images
/// and form targets; no framing.
pub const CSP: &str = "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; \
                       form-action 'self'; object-src 'none'";

/// Every route of the web view, with [`security_headers`] and the flash-cookie handling of
/// [`flash_layer`] (which reads `state`'s `public_url` for the cookie's `Secure`). One line
/// per part.
pub fn routes(state: &WebState) -> Router<WebState> {
    Router::new()
        .merge(pages::routes())
        .merge(auth::routes())
        .merge(assets::routes())
        .merge(search::routes())
        .merge(live::routes())
        .merge(customer::routes())
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            flash_layer,
        ))
        .layer(axum::middleware::map_response(security_headers))
}

/// Adds to every answer: `Content-Security-Policy` ([`CSP`], unless the handler set its
/// own: attachment downloads set a stricter one), `X-Content-Type-Options:
/// nosniff`, `X-Frame-Options: DENY`, `Referrer-Policy: no-referrer` (a sign-in link's
/// token never leaves in a Referer), and `Cache-Control: no-store` unless the handler set
/// one (pages show customers' data).
pub async fn security_headers(mut r: Response) -> Response {
    let h = r.headers_mut();
    if !h.contains_key(header::CONTENT_SECURITY_POLICY) {
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP),
        );
    }
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    r
}

/// A flash message lives one page: when a request carried the flash cookie and is answered
/// with a page (`200` HTML), the cookie is deleted with that answer (`Secure` when
/// `public_url` is https, like the cookie it deletes).
pub async fn flash_layer(State(s): State<WebState>, req: Request, next: Next) -> Response {
    let had = session::cookie(req.headers(), session::FLASH_COOKIE).is_some();
    let mut r = next.run(req).await;
    let is_page = r.status() == axum::http::StatusCode::OK
        && r.headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/html"));
    if had && is_page {
        if let Ok(v) = HeaderValue::from_str(&session::set_cookie(
            session::FLASH_COOKIE,
            "",
            0,
            s.web.is_https(),
        )) {
            r.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    r
}

/// A `303 See Other` to `to` that leaves `flash` for the next page (POST-redirect-GET), in
/// a cookie living 60 s, `Secure` when `secure` (`public_url` is https).
pub fn redirect_with_flash(to: &str, flash: &str, secure: bool) -> Response {
    use axum::response::IntoResponse;
    let value: String = url::form_urlencoded::byte_serialize(flash.as_bytes()).collect();
    let cookie = session::set_cookie(session::FLASH_COOKIE, &value, 60, secure);
    (
        [(header::SET_COOKIE, cookie)],
        axum::response::Redirect::to(to),
    )
        .into_response()
}
