//! Slack over HTTP: slash commands (`/claim`, `/unclaim`, `/reply`, `/desk …`) and
//! interactivity (`block_actions` from the card's buttons). Every request's
//! `X-Slack-Signature` is checked (HMAC-SHA256 "v0", <https://api.slack.com/authentication/verifying-requests-from-slack>)
//! and a timestamp more than 5 minutes from now is refused, both with 401.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use sha2::Sha256;

use crate::chat::commands;
use crate::chat::slack::action;
use crate::desk::{Actor, DeskError, Surface};
use crate::store::agents::Identity;

use super::WebState;

/// Oldest (or furthest in the future) request timestamp accepted, seconds.
pub const MAX_SKEW_SECS: i64 = 300;

/// Verifies Slack's request signatures.
///
/// slack-morphism's own verifier reads the wall clock itself, so it cannot be checked
/// against Slack's documented (2018) example; this one takes `now` as an argument and uses
/// the `hmac` crate's constant-time comparison.
pub struct SlackInbound {
    secret: SecretString,
}

impl SlackInbound {
    /// A verifier for `signing_secret`.
    pub fn new(signing_secret: &SecretString) -> SlackInbound {
        SlackInbound {
            secret: signing_secret.clone(),
        }
    }

    /// Checks `X-Slack-Signature` (`v0=` + hex HMAC-SHA256 of `v0:{timestamp}:{body}`) and
    /// that `X-Slack-Request-Timestamp` is within [`MAX_SKEW_SECS`] of `now` (Unix seconds).
    /// Errors name what was wrong, for the log.
    pub fn verify(&self, headers: &HeaderMap, body: &str, now: i64) -> Result<(), String> {
        let get = |h: &str| {
            headers
                .get(h)
                .and_then(|v| v.to_str().ok())
                .ok_or(format!("missing {h}"))
        };
        let sig = get("x-slack-signature")?;
        let ts = get("x-slack-request-timestamp")?;
        let t: i64 = ts.parse().map_err(|_| "bad timestamp".to_string())?;
        if (now - t).abs() > MAX_SKEW_SECS {
            return Err(format!("stale timestamp ({}s off)", now - t));
        }
        let hex_sig = sig.strip_prefix("v0=").ok_or("signature is not v0")?;
        let expected = hex::decode(hex_sig).map_err(|_| "signature is not hex".to_string())?;
        let mut mac = Hmac::<Sha256>::new_from_slice(self.secret.expose_secret().as_bytes())
            .map_err(|e| format!("bad secret: {e}"))?;
        mac.update(format!("v0:{ts}:").as_bytes());
        mac.update(body.as_bytes());
        mac.verify_slice(&expected)
            .map_err(|_| "signature mismatch".to_string())
    }
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// The request body as text when Slack is active and the signature and timestamp check out;
/// otherwise the status to answer (404 when Slack is off, 401 for a bad request, logged).
fn verified<'b>(s: &WebState, headers: &HeaderMap, body: &'b Bytes) -> Result<&'b str, StatusCode> {
    let Some(inbound) = s.slack.as_ref() else {
        return Err(StatusCode::NOT_FOUND);
    };
    let refuse = |why: &str| {
        tracing::warn!(reason = why, "rejected Slack request");
        StatusCode::UNAUTHORIZED
    };
    let text = std::str::from_utf8(body).map_err(|_| refuse("body is not UTF-8"))?;
    inbound
        .verify(headers, text, now())
        .map_err(|why| refuse(&why))?;
    Ok(text)
}

fn ephemeral(text: String) -> Response {
    Json(serde_json::json!({"response_type": "ephemeral", "text": text})).into_response()
}

/// `POST /slack/commands`: a slash command, answered privately in the response body.
pub async fn commands(State(s): State<WebState>, headers: HeaderMap, body: Bytes) -> Response {
    let body = match verified(&s, &headers, &body) {
        Ok(b) => b,
        Err(status) => return (status, "invalid request").into_response(),
    };
    let form: std::collections::HashMap<String, String> =
        url::form_urlencoded::parse(body.as_bytes())
            .into_owned()
            .collect();
    let (Some(command), Some(user)) = (form.get("command"), form.get("user_id")) else {
        return (StatusCode::BAD_REQUEST, "not a slash command").into_response();
    };
    let text = form.get("text").map(String::as_str).unwrap_or("");
    let agent = match s.desk.agent(Identity::Slack(user)).await {
        Ok(a) => a,
        Err(e) => return ephemeral(crate::chat::messages::error(&e)),
    };
    let actor = Actor {
        agent,
        surface: Surface::Slack,
    };
    let answer = match commands::parse(command, text) {
        Ok(cmd) => commands::execute(&s.desk, &actor, cmd).await,
        Err(usage) => usage.0,
    };
    ephemeral(answer)
}

#[derive(Debug, Deserialize)]
struct Payload {
    #[serde(rename = "type")]
    kind: String,
    user: Option<IdOnly>,
    channel: Option<IdOnly>,
    #[serde(default)]
    actions: Vec<ActionPayload>,
}

#[derive(Debug, Deserialize)]
struct IdOnly {
    id: String,
}

#[derive(Debug, Deserialize)]
struct ActionPayload {
    action_id: String,
    #[serde(default)]
    value: Option<String>,
}

/// `POST /slack/interactions`: button clicks on cards. Acknowledged at once with 200; a
/// refusal reaches the clicker as an ephemeral message, a change as a card edit.
pub async fn interactions(State(s): State<WebState>, headers: HeaderMap, body: Bytes) -> Response {
    let body = match verified(&s, &headers, &body) {
        Ok(b) => b,
        Err(status) => return (status, "invalid request").into_response(),
    };
    let Some(payload) = url::form_urlencoded::parse(body.as_bytes())
        .find(|(k, _)| k == "payload")
        .map(|(_, v)| v.into_owned())
    else {
        return (StatusCode::BAD_REQUEST, "no payload").into_response();
    };
    let p: Payload = match serde_json::from_str(&payload) {
        Ok(p) => p,
        Err(e) => {
            tracing::warn!(error = %e, "unreadable Slack interaction payload");
            return (StatusCode::BAD_REQUEST, "unreadable payload").into_response();
        }
    };
    if p.kind != "block_actions" {
        return StatusCode::OK.into_response();
    }
    let (Some(user), Some(channel)) = (p.user, p.channel) else {
        return StatusCode::OK.into_response();
    };
    for a in p.actions {
        let Some(number) = a.value.as_deref() else {
            continue;
        };
        let answer = match s.desk.agent(Identity::Slack(&user.id)).await {
            Err(e) => Some(crate::chat::messages::error(&e)),
            Ok(agent) => {
                let actor = Actor {
                    agent,
                    surface: Surface::Slack,
                };
                let r = match a.action_id.as_str() {
                    action::CLAIM => s.desk.claim(&actor, number).await.map(|_| ()),
                    action::UNCLAIM => s.desk.unclaim(&actor, number).await.map(|_| ()),
                    action::RESOLVE => s
                        .desk
                        .set_status(&actor, number, crate::domain::Status::Resolved)
                        .await
                        .map(|_| ()),
                    _ => Ok(()),
                };
                r.err().map(|e: DeskError| crate::chat::messages::error(&e))
            }
        };
        if let Some(text) = answer {
            if let Err(e) = s
                .desk
                .queue_ephemeral("slack", &channel.id, &user.id, &text)
                .await
            {
                tracing::error!(error = %e, "cannot queue ephemeral answer");
            }
        }
    }
    StatusCode::OK.into_response()
}

/// `POST /slack/events`: the Events API. Answers `url_verification` with its challenge; every
/// other event (messages typed in a card's thread included) is acknowledged and ignored —
/// free text in chat is never sent to a customer, only Reply sends.
pub async fn events(State(s): State<WebState>, headers: HeaderMap, body: Bytes) -> Response {
    let body = match verified(&s, &headers, &body) {
        Ok(b) => b,
        Err(status) => return (status, "invalid request").into_response(),
    };
    let v: serde_json::Value = match serde_json::from_str(body) {
        Ok(v) => v,
        Err(_) => return (StatusCode::BAD_REQUEST, "not JSON").into_response(),
    };
    match v.get("type").and_then(|t| t.as_str()) {
        Some("url_verification") => {
            let challenge = v.get("challenge").and_then(|c| c.as_str()).unwrap_or("");
            Json(serde_json::json!({"challenge": challenge})).into_response()
        }
        _ => {
            let kind = v
                .pointer("/event/type")
                .and_then(|t| t.as_str())
                .unwrap_or("?");
            let in_thread = v.pointer("/event/thread_ts").is_some();
            tracing::debug!(
                kind,
                in_thread,
                "Slack event ignored: chat text is never sent to customers"
            );
            StatusCode::OK.into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[derive(Deserialize)]
    struct Vector {
        signing_secret: String,
        timestamp: String,
        body: String,
        expected_signature: String,
    }

    fn vector() -> Vector {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../shared/specs/slack/signature-test-vector.json"
        );
        let text = std::fs::read_to_string(path).expect("shared/specs present");
        serde_json::from_str(&text).expect("vector parses")
    }

    fn headers(sig: &str, ts: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("x-slack-signature", HeaderValue::from_str(sig).unwrap());
        h.insert(
            "x-slack-request-timestamp",
            HeaderValue::from_str(ts).unwrap(),
        );
        h
    }

    #[test]
    fn accepts_slacks_documented_example() {
        let v = vector();
        let inbound = SlackInbound::new(&v.signing_secret.clone().into());
        let now: i64 = v.timestamp.parse().unwrap();
        assert_eq!(
            inbound.verify(
                &headers(&v.expected_signature, &v.timestamp),
                &v.body,
                now + 10
            ),
            Ok(())
        );
    }

    #[test]
    fn rejects_tampered_stale_and_future_requests() {
        let v = vector();
        let inbound = SlackInbound::new(&v.signing_secret.clone().into());
        let now: i64 = v.timestamp.parse().unwrap();
        let h = headers(&v.expected_signature, &v.timestamp);
        assert!(inbound.verify(&h, &format!("{}x", v.body), now).is_err());
        assert!(inbound
            .verify(&h, &v.body, now + MAX_SKEW_SECS + 1)
            .is_err());
        assert!(inbound
            .verify(&h, &v.body, now - MAX_SKEW_SECS - 1)
            .is_err());
        assert!(inbound.verify(&HeaderMap::new(), &v.body, now).is_err());
    }
}
