//! Threading that cannot be fooled, and mailbox authentication, against real Postgres and a
//! real Dovecot: signed Message-IDs, subject tags and plus-addresses trusted only from people
//! on the thread, one email in two mailboxes, AUTHENTICATE PLAIN, XOAUTH2 through Dovecot's
//! oauth2 passdb with a rotating token endpoint, and \Seen / move after the commit.

mod support;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use claimdesk::app::App;
use claimdesk::config::{AfterIngest, DepartmentSettings, ImapAuth, OAuth2Settings};
use claimdesk::desk::{Ingested, Surface};
use claimdesk::intake::pipeline;
use secrecy::SecretString;
use support::harness::*;

fn no_platforms() -> Platforms {
    Platforms {
        slack: false,
        discord: false,
    }
}

/// An email from `from` with extra header lines `extra` (each ending in CRLF).
fn email(from: &str, message_id: &str, subject: &str, extra: &str) -> Vec<u8> {
    format!(
        "From: {from}\r\nTo: {SUPPORT}\r\nSubject: {subject}\r\nMessage-ID: <{message_id}>\r\n\
         Date: Sun, 22 Nov 2026 09:00:00 +0000\r\n{extra}MIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\nHello.\r\n"
    )
    .into_bytes()
}

async fn ingest(app: &App, uid: u32, raw: &[u8]) -> Ingested {
    app.desk.ingest(src(uid), raw).await.expect("ingest")
}

#[tokio::test]
async fn only_signed_ids_of_ours_thread_a_reply() {
    let env = db_only(no_platforms()).await;
    let app = env.app().await;
    let domain = app.settings.desk.message_id_domain.clone();
    let number = open_ticket(&app, 1, "first@customer.example", "Printer", "It jams.").await;
    let ana = actor(&app, "ana", Surface::Cli).await;
    let reply = app
        .desk
        .reply(&ana, &number, "Try this.")
        .await
        .expect("reply");
    assert!(
        reply.message_id.ends_with(&format!("@{domain}")),
        "{}",
        reply.message_id
    );

    // A stranger naming an id of ours that we never signed opens a ticket of their own.
    let forged = format!(
        "{}.deadbeef.00000000000000000000@{domain}",
        number.to_lowercase()
    );
    let raw = email(
        "Eve <eve@evil.example>",
        "eve-1@evil.example",
        "Re: Printer",
        &format!("In-Reply-To: <{forged}>\r\nReferences: <{forged}>\r\n"),
    );
    let Ingested::Created(eves) = ingest(&app, 2, &raw).await else {
        panic!("a forged id must not join {number}");
    };
    assert_ne!(eves, number);
    let stored: i64 = count(
        &app,
        &format!("SELECT count(*) FROM thread_keys WHERE msg_id = '{forged}'"),
    )
    .await;
    assert_eq!(stored, 0, "a forged id is not kept as a thread key");
    // Even an id the store does know (planted, or left from before ids were signed) is not
    // followed when its signature is wrong.
    let (t1,): (i64,) = sqlx::query_as("SELECT id FROM tickets WHERE number = $1")
        .bind(&number)
        .fetch_one(app.desk.pool())
        .await
        .expect("ticket id");
    sqlx::query("INSERT INTO thread_keys (msg_id, ticket_id) VALUES ($1, $2)")
        .bind(&forged)
        .bind(t1)
        .execute(app.desk.pool())
        .await
        .expect("plant key");
    let raw = email(
        "Eve <eve@evil.example>",
        "eve-2@evil.example",
        "Re: Printer",
        &format!("References: <{forged}>\r\n"),
    );
    assert!(
        matches!(ingest(&app, 5, &raw).await, Ingested::Created(_)),
        "a known but unsigned id of ours must not join {number}"
    );

    // Someone who got our real reply (say, forwarded to a colleague) threads by its id, even
    // with an unrelated subject and another sender.
    let raw = email(
        "Colleague <col@customer.example>",
        "col-1@customer.example",
        "printer again",
        &format!("In-Reply-To: <{}>\r\n", reply.message_id),
    );
    assert_eq!(
        ingest(&app, 3, &raw).await,
        Ingested::Joined(number.clone())
    );

    // The key was generated once and kept in the database: a new App signs with it too.
    let keys = count(
        &app,
        "SELECT count(*) FROM desk_secrets WHERE name = 'message_id_key'",
    )
    .await;
    assert_eq!(keys, 1);
    let app2 = env.app().await;
    let raw = email(
        "Dana Customer <dana@customer.example>",
        "dana-2@customer.example",
        "whatever",
        &format!("References: <{}>\r\n", reply.message_id),
    );
    assert_eq!(ingest(&app2, 4, &raw).await, Ingested::Joined(number));
}

#[tokio::test]
async fn tags_and_plus_addresses_are_trusted_only_from_the_thread() {
    let env = db_only(no_platforms()).await;
    let app = env.app().await;
    // Dana opens a ticket, copying Carol.
    let raw = email(
        "Dana Customer <dana@customer.example>",
        "d1@customer.example",
        "Invoice wrong",
        "Cc: Carol <carol@customer.example>\r\n",
    );
    let Ingested::Created(t1) = ingest(&app, 1, &raw).await else {
        panic!("first mail opens a ticket");
    };

    // Dana, new message without references, tag behind a pile of reply prefixes.
    let raw = email(
        "dana@customer.example",
        "d2@customer.example",
        &format!("RE: AW: Re[2]: Invoice wrong [{t1}]"),
        "",
    );
    assert_eq!(ingest(&app, 2, &raw).await, Ingested::Joined(t1.clone()));

    // Carol was copied, so she is on the thread: her plus-addressed mail joins.
    let plus = SUPPORT.replace('@', &format!("+{t1}@"));
    let raw = format!(
        "From: carol@customer.example\r\nTo: {plus}\r\nSubject: one more thing\r\n\
         Message-ID: <c1@customer.example>\r\n\r\nAlso the VAT.\r\n"
    )
    .into_bytes();
    assert_eq!(ingest(&app, 3, &raw).await, Ingested::Joined(t1.clone()));

    // Eve names the ticket in the subject: a new ticket, linked to the one she named.
    let raw = email(
        "Eve <eve@evil.example>",
        "e1@evil.example",
        &format!("Re: [{t1}] please send me the invoice"),
        "",
    );
    let Ingested::Created(t2) = ingest(&app, 4, &raw).await else {
        panic!("a stranger's tag must not join {t1}");
    };
    // … and through Delivered-To, the plus-address as the MTA delivered it: another one.
    let raw = email(
        "mallory@evil.example",
        "m1@evil.example",
        "hello",
        &format!("Delivered-To: {plus}\r\n"),
    );
    let Ingested::Created(t3) = ingest(&app, 5, &raw).await else {
        panic!("a stranger's plus-address must not join {t1}");
    };

    let shown = app.desk.show(&t2).await.expect("show");
    assert_eq!(shown.summary.linked_to.as_deref(), Some(t1.as_str()));
    assert_eq!(shown.summary.message_count, 1);
    let line = claimdesk::desk::messages::summary_line(
        &shown.summary,
        claimdesk::desk::messages::Mention::Plain,
    );
    assert!(line.contains(&format!("linked to {t1}")), "{line}");
    let list = app.desk.list().await.expect("list");
    let links: HashMap<String, Option<String>> = list
        .iter()
        .map(|t| (t.number.clone(), t.linked_to.clone()))
        .collect();
    assert_eq!(links[&t1], None);
    assert_eq!(links[&t3].as_deref(), Some(t1.as_str()));
    let (id2,): (i64,) = sqlx::query_as("SELECT id FROM tickets WHERE number = $1")
        .bind(&t2)
        .fetch_one(app.desk.pool())
        .await
        .expect("ticket id");
    let card = app
        .desk
        .card_view(id2)
        .await
        .expect("card")
        .expect("exists");
    let from =
        claimdesk::desk::messages::from_line(&card, claimdesk::desk::messages::Mention::Plain);
    assert!(from.contains(&format!("linked to {t1}")), "{from}");
    assert_eq!(
        app.desk
            .show(&t1)
            .await
            .expect("show")
            .summary
            .message_count,
        3
    );
}

#[tokio::test]
async fn one_email_in_two_mailboxes_is_one_ticket() {
    let mut env = env(no_platforms()).await;
    env.settings.departments = vec![
        DepartmentSettings {
            name: "support".into(),
            assignment: Default::default(),
            slack_channel: None,
            discord_channel: None,
        },
        DepartmentSettings {
            name: "billing".into(),
            assignment: Default::default(),
            slack_channel: None,
            discord_channel: None,
        },
    ];
    let mut billing = env.settings.mailboxes[0].clone();
    billing.name = "billing".into();
    billing.address = "billing@claimdesk.test".into();
    billing.folder = "Billing".into();
    billing.department = Some("billing".into());
    env.settings.mailboxes.push(billing);
    env.settings.validate().expect("valid");
    let app = env.app().await;
    let raw = format!(
        "From: dana@customer.example\r\nTo: {SUPPORT}, billing@claimdesk.test\r\n\
         Subject: Charged twice\r\nMessage-ID: <both@customer.example>\r\n\r\nPlease refund.\r\n"
    )
    .into_bytes();
    env.dovecot.append("INBOX", &raw).await.expect("append");
    env.dovecot.append("Billing", &raw).await.expect("append");

    let pw = SecretString::from(env.dovecot.password.clone());
    let (a, b) = tokio::join!(
        pipeline::fetch_mailbox(&app.desk, &app.settings.mailboxes[0], Some(&pw), 10),
        pipeline::fetch_mailbox(&app.desk, &app.settings.mailboxes[1], Some(&pw), 10),
    );
    let (a, b) = (a.expect("support fetch"), b.expect("billing fetch"));
    assert_eq!(a.fetched + b.fetched, 2);
    assert_eq!(a.created + b.created, 1, "{a:?} {b:?}");
    assert_eq!(a.duplicates + b.duplicates, 1, "{a:?} {b:?}");
    assert_eq!(count(&app, "SELECT count(*) FROM tickets").await, 1);
    assert_eq!(count(&app, "SELECT count(*) FROM messages").await, 1);
    let copies: Vec<(String, i64)> = sqlx::query_as(
        "SELECT mailbox, uid FROM duplicate_copies WHERE message_id = 'both@customer.example'",
    )
    .fetch_all(app.desk.pool())
    .await
    .expect("copies");
    assert_eq!(copies.len(), 1);
    let (stored_in,): (String,) = sqlx::query_as("SELECT mailbox FROM messages")
        .fetch_one(app.desk.pool())
        .await
        .expect("message");
    assert_ne!(
        copies[0].0, stored_in,
        "the copy is recorded for the other mailbox"
    );
    // Both cursors moved: nothing is fetched again.
    let again = pipeline::fetch_mailbox(&app.desk, &app.settings.mailboxes[1], Some(&pw), 10)
        .await
        .expect("refetch");
    assert_eq!(again.fetched, 0);
}

#[tokio::test]
async fn authenticate_plain_against_dovecot() {
    let mut env = env(no_platforms()).await;
    env.settings.mailboxes[0].auth = ImapAuth::Plain;
    let app = env.app().await;
    env.dovecot
        .append(
            "INBOX",
            &customer_email("p1@customer.example", "Hi", "x", None),
        )
        .await
        .expect("append");
    let mb = &app.settings.mailboxes[0];
    let good = SecretString::from(env.dovecot.password.clone());
    let r = pipeline::fetch_mailbox(&app.desk, mb, Some(&good), 10)
        .await
        .expect("PLAIN works");
    assert_eq!(r.created, 1);
    let bad = SecretString::from("wrong-password".to_string());
    let e = pipeline::fetch_mailbox(&app.desk, mb, Some(&bad), 10)
        .await
        .expect_err("wrong password refused");
    let text = format!("{e:#}");
    assert!(text.contains("PLAIN as support failed"), "{text}");
    assert!(
        !text.contains("wrong-password"),
        "the password is not in errors: {text}"
    );
    let log = env.dovecot.log();
    assert!(
        log.contains("method=PLAIN"),
        "Dovecot logged a PLAIN login:\n{log}"
    );
}

/// A stand-in OAuth2 provider: the token endpoint (RFC 6749 §6 refresh grant, rotating the
/// refresh token on every use and revoking the old one) and a userinfo endpoint Dovecot's
/// oauth2 passdb introspects access tokens at.
#[derive(Default)]
struct Provider {
    /// Refresh tokens that still work.
    refresh: Vec<String>,
    /// Access tokens that still work.
    access: Vec<String>,
    /// Refresh tokens presented, in order.
    presented: Vec<String>,
    /// Client secrets presented.
    secrets: Vec<Option<String>>,
    issued: u32,
}

type Shared = Arc<Mutex<Provider>>;

async fn token(State(p): State<Shared>, Form(f): Form<HashMap<String, String>>) -> Response {
    let mut p = p.lock().expect("provider lock");
    let presented = f.get("refresh_token").cloned().unwrap_or_default();
    p.presented.push(presented.clone());
    p.secrets.push(f.get("client_secret").cloned());
    if f.get("grant_type").map(String::as_str) != Some("refresh_token")
        || f.get("client_id").map(String::as_str) != Some("desk-client")
        || !p.refresh.contains(&presented)
    {
        return (
            StatusCode::BAD_REQUEST,
            Json(serde_json::json!({"error": "invalid_grant", "error_description": "unknown refresh token"})),
        )
            .into_response();
    }
    p.refresh.retain(|r| r != &presented);
    p.issued += 1;
    let access = format!("access-{}", p.issued);
    let refresh = format!("refresh-{}", p.issued);
    p.access.push(access.clone());
    p.refresh.push(refresh.clone());
    Json(serde_json::json!({
        "access_token": access,
        "token_type": "Bearer",
        "expires_in": 3599,
        "refresh_token": refresh,
    }))
    .into_response()
}

async fn userinfo(State(p): State<Shared>, headers: HeaderMap) -> Response {
    let p = p.lock().expect("provider lock");
    let bearer = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    if p.access.iter().any(|a| a == bearer) {
        Json(serde_json::json!({"email": "support", "active": "true"})).into_response()
    } else {
        (
            StatusCode::UNAUTHORIZED,
            Json(serde_json::json!({"error": "invalid_token"})),
        )
            .into_response()
    }
}

#[tokio::test]
async fn xoauth2_through_dovecots_oauth2_passdb_with_rotating_refresh_tokens() {
    let mut env = env(no_platforms()).await;
    let provider: Shared = Arc::new(Mutex::new(Provider {
        refresh: vec!["refresh-0".into()],
        ..Provider::default()
    }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind token server");
    let addr = listener.local_addr().expect("addr");
    let router = Router::new()
        .route("/token", post(token))
        .route("/userinfo", get(userinfo))
        .with_state(provider.clone());
    let server = tokio::spawn(async move { axum::serve(listener, router).await });
    env.dovecot
        .enable_oauth2(&format!("http://{addr}/userinfo"))
        .await
        .expect("dovecot with oauth2 passdb");

    let unique = uuid::Uuid::new_v4().simple().to_string();
    let refresh_env = format!("TEST_REFRESH_{unique}");
    let secret_env = format!("TEST_CLIENT_SECRET_{unique}");
    // Only this test reads these variables.
    std::env::set_var(&refresh_env, "refresh-0");
    std::env::set_var(&secret_env, "s3cret");
    let mb = &mut env.settings.mailboxes[0];
    mb.auth = ImapAuth::Xoauth2;
    mb.oauth2 = Some(OAuth2Settings {
        token_url: format!("http://{addr}/token"),
        client_id: "desk-client".into(),
        client_secret_env: secret_env,
        refresh_token_env: refresh_env.clone(),
        scope: None,
    });
    env.settings.validate().expect("valid");
    let app = env.app().await;
    env.dovecot
        .append(
            "INBOX",
            &customer_email("o1@customer.example", "Hi", "x", None),
        )
        .await
        .expect("append");

    let mb = app.settings.mailboxes[0].clone();
    let r = pipeline::fetch_mailbox(&app.desk, &mb, None, 10)
        .await
        .unwrap_or_else(|e| {
            panic!(
                "XOAUTH2 fetch: {e:#}\n--- dovecot.log ---\n{}",
                env.dovecot.log()
            )
        });
    assert_eq!(r.created, 1);
    let stored: (String,) =
        sqlx::query_as("SELECT refresh_token FROM oauth_tokens WHERE mailbox = $1")
            .bind(&mb.name)
            .fetch_one(app.desk.pool())
            .await
            .expect("rotated token stored");
    assert_eq!(stored.0, "refresh-1");
    let log = env.dovecot.log();
    assert!(
        log.contains("method=XOAUTH2"),
        "Dovecot logged an XOAUTH2 login:\n{log}"
    );

    // A restart: a new App, the environment still holding the spent token. The stored one
    // is used, so the connection works.
    let app2 = env.app().await;
    env.dovecot
        .append(
            "INBOX",
            &customer_email("o2@customer.example", "Again", "y", None),
        )
        .await
        .expect("append");
    let r = pipeline::fetch_mailbox(&app2.desk, &mb, None, 10)
        .await
        .unwrap_or_else(|e| panic!("second XOAUTH2 fetch: {e:#}"));
    assert_eq!(r.created, 1);
    {
        let p = provider.lock().expect("provider lock");
        assert_eq!(p.presented, vec!["refresh-0", "refresh-1"]);
        assert!(p.secrets.iter().all(|s| s.as_deref() == Some("s3cret")));
    }

    // doctor names the mechanism and passes.
    let mut out = Vec::new();
    let report = claimdesk::intake::doctor::run(&app.settings, &HashMap::new(), &mut out)
        .await
        .expect("doctor runs");
    let text = String::from_utf8_lossy(&out).to_string();
    assert!(report.ok(), "{text}");
    assert!(text.contains("via XOAUTH2"), "{text}");
    assert!(
        !text.contains("refresh-") && !text.contains("access-"),
        "{text}"
    );

    // A revoked grant is a clear error that names the RFC 6749 error code, not the token.
    provider.lock().expect("provider lock").refresh.clear();
    let e = pipeline::fetch_mailbox(&app.desk, &mb, None, 10)
        .await
        .expect_err("revoked grant");
    let text = format!("{e:#}");
    assert!(text.contains("invalid_grant"), "{text}");
    assert!(!text.contains("refresh-3"), "{text}");
    server.abort();
}

#[tokio::test]
async fn seen_and_move_happen_after_the_commit_and_keep_the_cursor() {
    let mut env = env(no_platforms()).await;
    env.settings.mailboxes[0].after_ingest = AfterIngest::Seen;
    let app = env.app().await;
    let pw = SecretString::from(env.dovecot.password.clone());
    env.dovecot
        .append_many(
            "INBOX",
            &[
                customer_email("s1@customer.example", "One", "x", None),
                customer_email("s2@customer.example", "Two", "x", None),
            ],
        )
        .await
        .expect("append");
    let r = pipeline::fetch_mailbox(&app.desk, &app.settings.mailboxes[0], Some(&pw), 10)
        .await
        .expect("fetch");
    assert_eq!(r.created, 2);
    let inbox = env.dovecot.fetch_all("INBOX").await.expect("inbox");
    assert_eq!(inbox.len(), 2, "nothing deleted");
    assert!(
        inbox.iter().all(|m| m.flags.iter().any(|f| f == "\\Seen")),
        "{:?}",
        inbox.iter().map(|m| &m.flags).collect::<Vec<_>>()
    );

    // Now move: the processed messages go to a folder that did not exist; new mail after
    // that is still fetched (the cursor is not confused by the UIDs leaving INBOX).
    env.settings.mailboxes[0].after_ingest = AfterIngest::Move;
    env.settings.mailboxes[0].move_to = "Processed".into();
    let app = env.app().await;
    env.dovecot
        .append(
            "INBOX",
            &customer_email("s3@customer.example", "Three", "x", None),
        )
        .await
        .expect("append");
    let r = pipeline::fetch_mailbox(&app.desk, &app.settings.mailboxes[0], Some(&pw), 10)
        .await
        .expect("fetch");
    assert_eq!(r.created, 1, "{r:?}");
    let moved = env.dovecot.fetch_all("Processed").await.expect("processed");
    assert_eq!(moved.len(), 1);
    assert_eq!(
        env.dovecot.fetch_all("INBOX").await.expect("inbox").len(),
        2
    );
    env.dovecot
        .append(
            "INBOX",
            &customer_email("s4@customer.example", "Four", "x", None),
        )
        .await
        .expect("append");
    let r = pipeline::fetch_mailbox(&app.desk, &app.settings.mailboxes[0], Some(&pw), 10)
        .await
        .expect("fetch");
    assert_eq!(r.created, 1, "{r:?}");
    assert_eq!(
        env.dovecot
            .fetch_all("Processed")
            .await
            .expect("processed")
            .len(),
        2
    );
    assert_eq!(count(&app, "SELECT count(*) FROM tickets").await, 4);
}
