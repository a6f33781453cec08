//! OAuth2 for mailboxes that authenticate with SASL XOAUTH2 (Gmail, Microsoft 365): before
//! each connection an access token is obtained with the refresh-token grant
//! (RFC 6749 §6) from the mailbox's token endpoint.
//!
//! The refresh token comes from the environment variable named in config the first time; when
//! the endpoint answers with a new refresh token (rotation), that one is stored in the
//! `oauth_tokens` table before the access token is used, and is used from then on, across
//! restarts. The exchange runs under a per-mailbox Postgres advisory lock, so two processes
//! (say `serve` and `doctor`) never spend the same refresh token twice. Tokens and the client
//! secret are never logged or put in error messages.

use std::time::Duration;

use anyhow::{anyhow, Context};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use sqlx::PgPool;

use crate::config::{ImapAuth, MailboxSettings, Settings};
use crate::store;

/// Longest wait for the token endpoint.
pub const TOKEN_TIMEOUT: Duration = Duration::from_secs(30);

/// A successful token response (RFC 6749 §5.1); unknown fields are ignored.
#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    #[serde(default)]
    token_type: Option<String>,
    #[serde(default)]
    refresh_token: Option<String>,
}

/// An error response (RFC 6749 §5.2).
#[derive(Deserialize)]
struct TokenError {
    error: String,
    #[serde(default)]
    error_description: Option<String>,
}

/// The secret `imap::open` authenticates mailbox `mb` with: for `login` and `plain` the
/// password (`password`, read from `mb.password_env`); for `xoauth2` a fresh access token
/// from [`access_token`].
///
/// Errors: the password variable is unset; for XOAUTH2 those of [`access_token`], or `pool`
/// is `None` (a rotated refresh token could not be kept, so no exchange is attempted).
pub async fn credential(
    mb: &MailboxSettings,
    password: Option<&SecretString>,
    pool: Option<&PgPool>,
) -> anyhow::Result<SecretString> {
    match mb.auth {
        ImapAuth::Login | ImapAuth::Plain => password.cloned().ok_or_else(|| {
            anyhow!(
                "mailbox {}: environment variable {} is not set",
                mb.name,
                mb.password_env
            )
        }),
        ImapAuth::Xoauth2 => {
            let pool = pool.ok_or_else(|| {
                anyhow!(
                    "mailbox {}: XOAUTH2 needs the database to keep rotated refresh tokens",
                    mb.name
                )
            })?;
            access_token(pool, mb).await
        }
    }
}

/// A fresh access token for mailbox `mb` (which must have an `oauth2` section): POSTs
/// `grant_type=refresh_token` with the stored refresh token (else the one in
/// `oauth2.refresh_token_env`), `client_id`, `client_secret` (when its variable is set) and
/// `scope` (when configured) as a form to `oauth2.token_url`; stores a rotated refresh token
/// in `oauth_tokens` before returning.
///
/// The URL must be `https` (or `http` to a loopback host, for tests; see
/// `config::check_token_url`) and redirects are not followed: a 3xx answer is an error, so
/// the refresh token and client secret only ever reach the configured endpoint.
///
/// Errors (never containing a token or the secret): no `oauth2` section; a `token_url` that
/// is not https; no refresh token
/// stored or in the environment; the endpoint is unreachable or slower than
/// [`TOKEN_TIMEOUT`]; it answers with an error (its RFC 6749 §5.2 `error` code and
/// description are reported) or without `access_token`; the token type is not `Bearer`;
/// the database fails.
pub async fn access_token(pool: &PgPool, mb: &MailboxSettings) -> anyhow::Result<SecretString> {
    let o = mb.oauth2.as_ref().ok_or_else(|| {
        anyhow!(
            "mailbox {}: auth = xoauth2 needs an oauth2 section",
            mb.name
        )
    })?;
    // The refresh token and client secret go in the body: never in clear text to the
    // network, and never re-sent to wherever a redirect points.
    crate::config::check_token_url(&o.token_url)
        .map_err(|e| anyhow!("mailbox {}: {e}", mb.name))?;
    let mut tx = pool
        .begin()
        .await
        .with_context(|| format!("mailbox {}: database", mb.name))?;
    store::locks::hold_named_for_transaction(&mut tx, &store::locks::oauth_refresh(&mb.name))
        .await
        .with_context(|| format!("mailbox {}: database", mb.name))?;
    let refresh = match store::secrets::refresh_token(&mut tx, &mb.name)
        .await
        .with_context(|| format!("mailbox {}: reading the stored refresh token", mb.name))?
    {
        Some(t) => t,
        None => Settings::secret(&o.refresh_token_env).ok_or_else(|| {
            anyhow!(
                "mailbox {}: no refresh token stored and environment variable {} is not set",
                mb.name,
                o.refresh_token_env
            )
        })?,
    };
    let secret = Settings::secret(&o.client_secret_env);
    let mut form: Vec<(&str, &str)> = vec![
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh.expose_secret()),
        ("client_id", &o.client_id),
    ];
    if let Some(s) = &secret {
        form.push(("client_secret", s.expose_secret()));
    }
    if let Some(scope) = &o.scope {
        form.push(("scope", scope));
    }
    let client = reqwest::Client::builder()
        .timeout(TOKEN_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .with_context(|| format!("mailbox {}: HTTP client", mb.name))?;
    let response = client
        .post(&o.token_url)
        .header(reqwest::header::ACCEPT, "application/json")
        .form(&form)
        .send()
        .await
        // reqwest errors name the URL, never the form body.
        .map_err(|e| anyhow!("mailbox {}: token endpoint: {e}", mb.name))?;
    let status = response.status();
    let body = response
        .bytes()
        .await
        .map_err(|e| anyhow!("mailbox {}: token endpoint: {e}", mb.name))?;
    if !status.is_success() {
        let why = match serde_json::from_slice::<TokenError>(&body) {
            Ok(e) => format!(
                "{}{}",
                e.error,
                e.error_description
                    .map(|d| format!(" ({d})"))
                    .unwrap_or_default()
            ),
            Err(_) => "no RFC 6749 error body".to_string(),
        };
        return Err(anyhow!(
            "mailbox {}: token endpoint answered {status}: {why}",
            mb.name
        ));
    }
    let token: TokenResponse = serde_json::from_slice(&body).map_err(|e| {
        anyhow!(
            "mailbox {}: token endpoint answered {status} without a usable token: {e}",
            mb.name
        )
    })?;
    if let Some(t) = token.token_type.as_deref() {
        if !t.eq_ignore_ascii_case("bearer") {
            return Err(anyhow!(
                "mailbox {}: token endpoint issued a `{t}` token; XOAUTH2 needs Bearer",
                mb.name
            ));
        }
    }
    if let Some(new) = token.refresh_token.as_deref() {
        if !new.is_empty() && new != refresh.expose_secret() {
            store::secrets::set_refresh_token(&mut tx, &mb.name, new)
                .await
                .with_context(|| format!("mailbox {}: storing the new refresh token", mb.name))?;
            tracing::info!(mailbox = %mb.name, "OAuth2 refresh token rotated; stored the new one");
        }
    }
    tx.commit()
        .await
        .with_context(|| format!("mailbox {}: storing the new refresh token", mb.name))?;
    Ok(SecretString::from(token.access_token))
}

/// The SASL XOAUTH2 initial response for `user` and bearer `token`:
/// `user=<user>^Aauth=Bearer <token>^A^A` (Google's XOAUTH2 protocol description;
/// Microsoft's "Authenticate an IMAP connection using OAuth").
pub fn xoauth2_response(user: &str, token: &str) -> String {
    format!("user={user}\x01auth=Bearer {token}\x01\x01")
}

/// The SASL PLAIN message (RFC 4616 §2): empty authorization identity, then `user` and
/// `password`, separated by NUL.
pub fn plain_response(user: &str, password: &str) -> String {
    format!("\0{user}\0{password}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sasl_messages_have_the_documented_shape() {
        assert_eq!(
            plain_response("tim", "tanstaaftanstaaf"),
            "\0tim\0tanstaaftanstaaf"
        );
        assert_eq!(
            xoauth2_response("someuser@example.com", "ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg"),
            "user=someuser@example.com\x01auth=Bearer ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg\x01\x01"
        );
    }
}
