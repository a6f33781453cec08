//! Who is looking: the signed-in agent behind the session cookie ([`Viewer`]), the cookies
//! themselves, and the CSRF check every form handler runs first.
//!
//! The cookie `claimdesk_session` holds a random 32-byte id (hex); Postgres keeps only its
//! SHA-256 (`web_sessions`), with the agent, the session's CSRF token and its end. The cookie
//! is `HttpOnly`, `SameSite=Lax`, `Path=/`, and `Secure` when `web.public_url` is https.

use axum::extract::{ConnectInfo, FromRequestParts, OptionalFromRequestParts};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};

use crate::desk::{Actor, Surface};
use crate::store::agents::Agent;
use crate::web::WebState;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "claimdesk_session";

/// The cookie carrying a flash message to the next page (set by a POST that redirects,
/// cleared by the page that shows it; see `super::flash_layer`).
pub const FLASH_COOKIE: &str = "claimdesk_flash";

/// The signed-in agent of a request: extract it in a handler to require sign-in.
///
/// Without a live session (no cookie, unknown, expired, or the agent is no longer active)
/// the request is refused: GET and HEAD with `303 See Other` to `/signin?next=<path>`, other
/// methods with `401`. A database failure answers `503`.
#[derive(Debug, Clone)]
pub struct Viewer {
    /// The agent (active).
    pub agent: Agent,
    /// The session's CSRF token: every form carries it as `_csrf` ([`super::layout::csrf_field`]).
    pub csrf: String,
    /// A message left by the previous request (e.g. "You claimed TICK-…"), shown once.
    pub flash: Option<String>,
    /// SHA-256 of the session id (for signing out).
    pub(crate) session_hash: Vec<u8>,
}

impl Viewer {
    /// The agent acting through the web view, for the desk's use cases (audited as `web`).
    pub fn actor(&self) -> Actor {
        Actor {
            agent: self.agent.clone(),
            surface: Surface::Web,
        }
    }

    /// `Ok` when `token` is this session's CSRF token (compared in constant time); else the
    /// `403 Forbidden` page to answer with. Form handlers call this before anything else.
    // The shared contract (web_api.md) fixes the error as the `Response` to answer with, so
    // handlers can `return r` as it is; it is built only on refusal.
    #[allow(clippy::result_large_err)]
    pub fn check_csrf(&self, token: &str) -> Result<(), Response> {
        if same_secret(token, &self.csrf) {
            Ok(())
        } else {
            Err(super::layout::message_response(
                StatusCode::FORBIDDEN,
                "Forbidden",
                crate::desk::messages::web::CSRF_REFUSED,
            ))
        }
    }
}

/// A new random secret: 32 bytes from the OS generator, hex (64 characters).
pub fn random_token() -> String {
    use rand::RngCore;
    let mut b = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut b);
    hex::encode(b)
}

/// SHA-256 of `secret` (how session ids and sign-in tokens are stored).
pub fn hash(secret: &str) -> Vec<u8> {
    use sha2::{Digest, Sha256};
    Sha256::digest(secret.as_bytes()).to_vec()
}

/// Whether `a == b`, in time independent of where they differ (both hashed first).
pub fn same_secret(a: &str, b: &str) -> bool {
    let (x, y) = (hash(a), hash(b));
    x.iter()
        .zip(y.iter())
        .fold(0u8, |acc, (p, q)| acc | (p ^ q))
        == 0
}

/// The value of cookie `name` in the request's `Cookie` fields (RFC 6265 §5.4), if any.
pub fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim())
}

/// A `Set-Cookie` value for `name=value` with `HttpOnly`, `SameSite=Lax`, `Path=/`,
/// `Max-Age=max_age_secs` (0 deletes it) and `Secure` when `secure`.
pub fn set_cookie(name: &str, value: &str, max_age_secs: i64, secure: bool) -> String {
    format!(
        "{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}{}",
        max_age_secs.max(0),
        if secure { "; Secure" } else { "" }
    )
}

/// The client's address as the listener saw it (`ConnectInfo`); `unknown` when served
/// without it (e.g. a router called directly in tests). Behind a reverse proxy this is the
/// proxy's address.
pub fn client_of(parts_extensions: &axum::http::Extensions) -> String {
    parts_extensions
        .get::<ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip().to_string())
        .unwrap_or_else(|| "unknown".into())
}

/// The live session of the request, if any. Errors: the database's.
async fn lookup(parts: &Parts, state: &WebState) -> Result<Option<Viewer>, sqlx::Error> {
    let Some(id) = cookie(&parts.headers, SESSION_COOKIE).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    let id_hash = hash(id);
    let mut conn = state.desk.pool().acquire().await?;
    let found = crate::store::web_sessions::find(&mut conn, &id_hash).await?;
    Ok(found.map(|s| Viewer {
        agent: s.agent,
        csrf: s.csrf,
        flash: cookie(&parts.headers, FLASH_COOKIE)
            .and_then(|v| {
                url::form_urlencoded::parse(format!("m={v}").as_bytes())
                    .next()
                    .map(|(_, m)| m.chars().take(500).collect::<String>())
            })
            .filter(|m| !m.is_empty()),
        session_hash: id_hash,
    }))
}

/// The local path (and query) to come back to after signing in.
fn here(parts: &Parts) -> String {
    parts
        .uri
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "/".into())
}

/// The answer to a request without a live session.
fn refuse(parts: &Parts) -> Response {
    if parts.method == Method::GET || parts.method == Method::HEAD {
        let next: String = url::form_urlencoded::byte_serialize(here(parts).as_bytes()).collect();
        Redirect::to(&format!("/signin?next={next}")).into_response()
    } else {
        (StatusCode::UNAUTHORIZED, "sign in first\n").into_response()
    }
}

fn unavailable(e: &sqlx::Error) -> Response {
    tracing::error!(error = %e, "web: session lookup failed");
    (
        StatusCode::SERVICE_UNAVAILABLE,
        "the desk's database does not answer; try again\n",
    )
        .into_response()
}

impl FromRequestParts<WebState> for Viewer {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &WebState) -> Result<Self, Response> {
        if let Some(v) = parts.extensions.get::<Viewer>() {
            return Ok(v.clone());
        }
        match lookup(parts, state).await {
            Ok(Some(v)) => {
                parts.extensions.insert(v.clone());
                Ok(v)
            }
            Ok(None) => Err(refuse(parts)),
            Err(e) => Err(unavailable(&e)),
        }
    }
}

impl OptionalFromRequestParts<WebState> for Viewer {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &WebState,
    ) -> Result<Option<Self>, Response> {
        if let Some(v) = parts.extensions.get::<Viewer>() {
            return Ok(Some(v.clone()));
        }
        match lookup(parts, state).await {
            Ok(v) => Ok(v),
            Err(e) => Err(unavailable(&e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_named_cookie_only() {
        let mut h = HeaderMap::new();
        h.append(
            header::COOKIE,
            "a=1; claimdesk_session=abc".parse().unwrap(),
        );
        h.append(header::COOKIE, "x_claimdesk_session=no".parse().unwrap());
        assert_eq!(cookie(&h, SESSION_COOKIE), Some("abc"));
        assert_eq!(cookie(&h, "missing"), None);
    }

    #[test]
    fn cookie_flags() {
        let c = set_cookie(SESSION_COOKIE, "v", 60, true);
        for flag in ["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age=60", "Secure"] {
            assert!(c.contains(flag), "{c}");
        }
        assert!(!set_cookie(SESSION_COOKIE, "v", 60, false).contains("Secure"));
    }

    #[test]
    fn tokens_are_random_and_compared_exactly() {
        let (a, b) = (random_token(), random_token());
        assert_eq!(a.len(), 64);
        assert_ne!(a, b);
        assert!(same_secret(&a, &a));
        assert!(!same_secret(&a, &b));
        assert!(!same_secret(&a, ""));
    }
}
