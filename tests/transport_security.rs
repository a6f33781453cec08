//! Transport defaults (issue 10, "Transport defaults are safe"): TLS for every non-loopback
//! IMAP and SMTP host, STARTTLS for IMAP against a real Dovecot with a certificate from a
//! throwaway CA, credentials never in clear text to a host that is not loopback (refused
//! before any connection), and an OAuth2 token endpoint that must be https and whose
//! redirects are not followed.
//!
//! Addresses that are not loopback are from TEST-NET-1 (192.0.2.0/24, RFC 5737) or
//! `.example`: every refusal happens before a connection is attempted, so nothing leaves
//! the machine.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::post;
use axum::Router;
use claimdesk::config::{ImapAuth, ImapTls, OAuth2Settings, Settings, SmtpSecurity};
use claimdesk::intake::{imap, oauth};
use claimdesk::outbound::smtp::{Mailer, SetupError};
use secrecy::SecretString;
use support::harness::*;
use support::services::TestDb;

fn no_platforms() -> Platforms {
    Platforms {
        slack: false,
        discord: false,
    }
}

/// Settings as shipped, without any service behind them.
fn shipped() -> Settings {
    Settings::load(&repo_path("config/default.toml")).expect("default settings load")
}

/// Hosts that are not loopback, in the forms a config may spell them.
const REMOTE_HOSTS: &[&str] = &[
    "192.0.2.1",
    "10.0.0.1",
    "2001:db8::1",
    "imap.example.com",
    "localhost.example.com",
    "127.0.0.1.example.com",
];

#[tokio::test]
async fn plaintext_imap_credentials_to_a_remote_host_are_refused_before_connecting() {
    let password = SecretString::from("do-not-send-me".to_string());
    for host in REMOTE_HOSTS {
        for (tls, port) in [(Some(ImapTls::None), 143), (Some(ImapTls::None), 993)] {
            let mut mb = shipped().mailboxes[0].clone();
            mb.host = host.to_string();
            mb.port = port;
            mb.tls = tls;
            let started = Instant::now();
            let err = match imap::open(&mb, Some(&password)).await {
                Ok(_) => panic!("{host}: opened a plaintext session"),
                Err(e) => format!("{e:#}"),
            };
            let took = started.elapsed();
            assert!(
                err.contains("refusing to send credentials in clear text"),
                "{host}:{port}: {err}"
            );
            assert!(!err.contains("do-not-send-me"), "{err}");
            // No DNS lookup, no SYN: the refusal comes before any I/O.
            assert!(took < Duration::from_millis(250), "{host}: took {took:?}");
            // The same settings do not load at all.
            let mut s = shipped();
            s.mailboxes[0] = mb.clone();
            let refused = s.validate().map_err(|e| e.to_string());
            assert!(
                refused
                    .as_ref()
                    .is_err_and(|e| e.contains("refusing to send credentials in clear text")),
                "{host}: validate gave {refused:?}"
            );
            // Saying so in the config is the only way through.
            mb.allow_plaintext = true;
            assert_eq!(mb.check_transport(), Ok(()));
        }
    }
}

#[test]
fn imap_tls_is_on_by_default_for_every_remote_host() {
    let mut mb = shipped().mailboxes[0].clone();
    mb.tls = None;
    for host in REMOTE_HOSTS {
        mb.host = host.to_string();
        mb.port = 143;
        assert_eq!(mb.tls_mode(), ImapTls::Starttls, "{host}:143");
        assert_eq!(mb.check_transport(), Ok(()));
        mb.port = 993;
        assert_eq!(mb.tls_mode(), ImapTls::Implicit, "{host}:993");
    }
    for host in ["127.0.0.1", "127.9.9.9", "::1", "localhost"] {
        mb.host = host.to_string();
        mb.port = 143;
        assert_eq!(mb.tls_mode(), ImapTls::None, "{host}");
        assert_eq!(mb.check_transport(), Ok(()), "{host}");
    }
}

#[tokio::test]
async fn smtp_credentials_in_clear_text_to_a_remote_host_are_refused() {
    let password = SecretString::from("smtp-secret".to_string());
    for host in REMOTE_HOSTS {
        let mut s = shipped();
        s.smtp.host = host.to_string();
        s.smtp.port = 25;
        s.smtp.security = SmtpSecurity::None;
        s.smtp.username = Some("desk".into());
        let started = Instant::now();
        match Mailer::new(&s.smtp, Some(&password)) {
            Err(SetupError::Plaintext(why)) => {
                assert!(why.contains("clear text"), "{why}");
                assert!(!why.contains("smtp-secret"), "{why}");
            }
            Err(e) => panic!("{host}: wrong error {e}"),
            Ok(_) => panic!("{host}: a plaintext mailer with credentials was built"),
        }
        assert!(started.elapsed() < Duration::from_millis(250));
        assert!(s.validate().is_err(), "{host}: validate accepted it");
        // Without credentials nothing secret travels; with TLS or the explicit opt-in the
        // mailer builds (it connects only on the first send).
        let mut anonymous = s.smtp.clone();
        anonymous.username = None;
        assert!(Mailer::new(&anonymous, Some(&password)).is_ok());
        let mut opted_in = s.smtp.clone();
        opted_in.allow_plaintext = true;
        assert!(Mailer::new(&opted_in, Some(&password)).is_ok());
        for security in [SmtpSecurity::Starttls, SmtpSecurity::Tls] {
            let mut secured = s.smtp.clone();
            secured.security = security;
            assert!(
                Mailer::new(&secured, Some(&password)).is_ok(),
                "{host} {security:?}"
            );
        }
    }
    // Loopback relays keep working without TLS (every other test sends that way).
    let mut s = shipped();
    s.smtp.username = Some("desk".into());
    s.smtp.security = SmtpSecurity::None;
    assert!(Mailer::new(&s.smtp, Some(&password)).is_ok());
}

/// A mailbox of `env` that reads through TLS `mode` on `port`, trusting `ca` when given.
fn tls_mailbox(
    env: &TestEnv,
    mode: ImapTls,
    port: u16,
    ca: Option<std::path::PathBuf>,
) -> claimdesk::config::MailboxSettings {
    let mut mb = env.settings.mailboxes[0].clone();
    mb.tls = Some(mode);
    mb.port = port;
    mb.tls_ca_file = ca;
    mb
}

/// Dovecot's `Login:` log lines for our user.
fn logins(env: &TestEnv) -> Vec<String> {
    env.dovecot
        .log()
        .lines()
        .filter(|l| l.contains("Login: user=<"))
        .map(str::to_string)
        .collect()
}

#[tokio::test]
async fn starttls_and_implicit_tls_against_dovecot_with_a_private_ca() {
    let mut env = env(no_platforms()).await;
    let tls = env.dovecot.enable_tls().await.expect("dovecot with TLS");
    let password = SecretString::from(env.dovecot.password.clone());
    env.dovecot
        .append(
            "INBOX",
            &customer_email("tls-1@customer.example", "Over TLS", "hello", None),
        )
        .await
        .expect("append");

    // STARTTLS on the plain port: the LOGIN Dovecot records is a TLS one.
    let before = logins(&env).len();
    let mb = tls_mailbox(
        &env,
        ImapTls::Starttls,
        env.dovecot.port,
        Some(tls.ca_file.clone()),
    );
    let session = imap::open(&mb, Some(&password))
        .await
        .unwrap_or_else(|e| panic!("STARTTLS: {e:#}\n{}", env.dovecot.log()));
    assert_eq!(session.exists_at_select(), 1);
    session.logout().await;
    let after = logins(&env);
    assert_eq!(after.len(), before + 1, "{after:#?}");
    let line = &after[before];
    assert!(
        line.contains(", TLS") && line.contains("user=<support>"),
        "{line}"
    );

    // Implicit TLS on the IMAPS port.
    let mb = tls_mailbox(
        &env,
        ImapTls::Implicit,
        tls.imaps_port,
        Some(tls.ca_file.clone()),
    );
    let session = imap::open(&mb, Some(&password))
        .await
        .unwrap_or_else(|e| panic!("implicit TLS: {e:#}\n{}", env.dovecot.log()));
    session.logout().await;
    let line = logins(&env).pop().expect("a login");
    assert!(line.contains(", TLS"), "{line}");

    // Without the CA the certificate is not trusted: no LOGIN is sent at all.
    for (mode, port) in [
        (ImapTls::Starttls, env.dovecot.port),
        (ImapTls::Implicit, tls.imaps_port),
    ] {
        let before = logins(&env).len();
        let mb = tls_mailbox(&env, mode, port, None);
        let err = match imap::open(&mb, Some(&password)).await {
            Ok(_) => panic!("{mode:?}: an untrusted certificate was accepted"),
            Err(e) => format!("{e:#}"),
        };
        assert!(err.contains("TLS handshake failed"), "{mode:?}: {err}");
        assert_eq!(logins(&env).len(), before, "{mode:?}: a LOGIN went out");
    }

    // A CA file that is not there fails before connecting.
    let mb = tls_mailbox(
        &env,
        ImapTls::Starttls,
        env.dovecot.port,
        Some("/nonexistent/ca.pem".into()),
    );
    let err = match imap::open(&mb, Some(&password)).await {
        Ok(_) => panic!("opened without its CA file"),
        Err(e) => format!("{e:#}"),
    };
    assert!(err.contains("tls_ca_file"), "{err}");

    // The whole intake over STARTTLS: the message becomes a ticket.
    env.settings.mailboxes[0] = tls_mailbox(
        &env,
        ImapTls::Starttls,
        env.dovecot.port,
        Some(tls.ca_file.clone()),
    );
    env.settings.validate().expect("valid");
    let app = env.app().await;
    let runs = app.intake_once().await.expect("intake");
    let report = match &runs[0].1 {
        Ok(r) => *r,
        Err(e) => panic!("intake over STARTTLS: {e:#}"),
    };
    assert_eq!(report.created, 1);
}

/// An OAuth2 mailbox whose token endpoint is `token_url`.
fn oauth_mailbox(token_url: String, refresh_env: &str) -> claimdesk::config::MailboxSettings {
    let mut mb = shipped().mailboxes[0].clone();
    mb.auth = ImapAuth::Xoauth2;
    mb.oauth2 = Some(OAuth2Settings {
        token_url,
        client_id: "desk-client".into(),
        client_secret_env: format!("{refresh_env}_SECRET"),
        refresh_token_env: refresh_env.to_string(),
        scope: None,
    });
    mb
}

#[tokio::test]
async fn oauth_token_url_must_be_https_and_redirects_are_not_followed() {
    let db = TestDb::new().await.expect("test database");
    let pool = claimdesk::store::connect_and_migrate(&db.url, 2)
        .await
        .expect("migrate");
    let refresh_env = format!("TEST_REFRESH_{}", uuid::Uuid::new_v4().simple());
    // Only this test reads this variable.
    std::env::set_var(&refresh_env, "refresh-secret-0");

    // Plain http to a host that is not loopback: refused before any request, and the
    // settings do not load.
    for url in [
        "http://192.0.2.1/token",
        "http://oauth2.example.com/token",
        "ftp://192.0.2.1/token",
    ] {
        let mb = oauth_mailbox(url.to_string(), &refresh_env);
        let started = Instant::now();
        let err = match oauth::access_token(&pool, &mb).await {
            Ok(_) => panic!("{url}: got a token"),
            Err(e) => format!("{e:#}"),
        };
        assert!(err.contains("token_url must be https"), "{url}: {err}");
        assert!(!err.contains("refresh-secret-0"), "{err}");
        assert!(started.elapsed() < Duration::from_millis(500));
        let mut s = shipped();
        s.mailboxes[0] = mb;
        assert!(s.validate().is_err(), "{url}: settings loaded");
    }

    // A loopback endpoint that redirects (307 keeps the POST body) to another loopback
    // server that would hand out a token: the redirect is not followed.
    let hits = Arc::new(AtomicUsize::new(0));
    let thief = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let thief_addr = thief.local_addr().expect("addr");
    let counted = hits.clone();
    let thief_router = Router::new().route(
        "/token",
        post(move || {
            let counted = counted.clone();
            async move {
                counted.fetch_add(1, Ordering::SeqCst);
                axum::Json(serde_json::json!({"access_token": "stolen", "token_type": "Bearer"}))
            }
        }),
    );
    let thief_task = tokio::spawn(async move { axum::serve(thief, thief_router).await });
    let endpoint = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let endpoint_addr = endpoint.local_addr().expect("addr");
    let target = format!("http://{thief_addr}/token");
    let endpoint_router = Router::new().route(
        "/token",
        post(move || {
            let target = target.clone();
            async move {
                (
                    StatusCode::TEMPORARY_REDIRECT,
                    [(axum::http::header::LOCATION, target)],
                )
                    .into_response()
            }
        }),
    );
    let endpoint_task = tokio::spawn(async move { axum::serve(endpoint, endpoint_router).await });
    let mb = oauth_mailbox(format!("http://{endpoint_addr}/token"), &refresh_env);
    let err = match oauth::access_token(&pool, &mb).await {
        Ok(_) => panic!("a redirect was followed to a token"),
        Err(e) => format!("{e:#}"),
    };
    assert!(err.contains("307"), "{err}");
    assert_eq!(
        hits.load(Ordering::SeqCst),
        0,
        "the redirect target was called"
    );
    thief_task.abort();
    endpoint_task.abort();
}
