//! Intake supervisors against a real Dovecot and Postgres: push through IMAP IDLE (RFC 2177)
//! with polling set to five minutes, IDLE renewal, polling where IDLE is off, reconnection
//! across a Dovecot restart without losing or repeating a message, a failing mailbox that
//! does not hold up the others and shows in `mailbox_status` and `/healthz`, a UIDVALIDITY
//! change, a backlog larger than one FETCH batch, and `claimdesk doctor`.
//!
//! Deadlines are generous "eventually" bounds, never latency assertions (the latency is
//! measured by `benches/push_latency.rs`).

mod support;

use std::collections::HashMap;
use std::process::Stdio;

use claimdesk::store::mailbox_status::{self, MailboxStatus, Mode};
use secrecy::SecretString;
use support::harness::*;
use support::services::{free_port, Dovecot};

async fn status_of(pool: &sqlx::PgPool, mailbox: &str) -> Option<MailboxStatus> {
    let mut conn = pool.acquire().await.expect("connection");
    mailbox_status::list(&mut conn)
        .await
        .expect("mailbox_status rows")
        .into_iter()
        .find(|r| r.name == mailbox)
}

async fn healthz(addr: std::net::SocketAddr) -> (u16, serde_json::Value) {
    get_json(addr, "/healthz", None).await
}

/// `GET path` (with `Authorization: Bearer <token>` when given) as JSON.
async fn get_json(
    addr: std::net::SocketAddr,
    path: &str,
    token: Option<&str>,
) -> (u16, serde_json::Value) {
    let mut req = reqwest::Client::new()
        .get(format!("http://{addr}{path}"))
        .timeout(std::time::Duration::from_secs(10));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let r = req.send().await.expect("reachable");
    let code = r.status().as_u16();
    (code, r.json().await.expect("json"))
}

/// The admin bearer token the tests that read `/healthz/details` configure.
const ADMIN_TOKEN: &str = "test-admin-token-for-details";

/// Waits until the supervisor of `mailbox` completed a fetch and (for IDLE) is about to wait
/// for news, so that anything appended later can only arrive by push.
async fn wait_for_session(pool: &sqlx::PgPool, mailbox: &str, mode: &str) -> MailboxStatus {
    eventually(30, "the supervisor's first successful fetch", || async {
        status_of(pool, mailbox)
            .await
            .filter(|s| s.last_success_at.is_some() && s.mode.as_deref() == Some(mode))
    })
    .await
}

async fn message_ids(pool: &sqlx::PgPool) -> Vec<String> {
    let rows: Vec<(String,)> =
        sqlx::query_as("SELECT message_id FROM messages ORDER BY message_id")
            .fetch_all(pool)
            .await
            .expect("message ids");
    rows.into_iter().map(|(m,)| m).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_push_stores_a_new_message_within_seconds_while_polling_is_five_minutes() {
    let mut env = env(Platforms {
        slack: true,
        discord: false,
    })
    .await;
    env.settings.intake.poll_interval_secs = 300;
    let app = env.app().await;
    let running = app.start().await.expect("app starts");
    let pool = app.desk.pool().clone();
    wait_for_session(&pool, "support", "idle").await;
    assert_eq!(count(&pool, "SELECT count(*) FROM tickets").await, 0);

    env.dovecot
        .append(
            "INBOX",
            &customer_email("push1@customer.example", "Pushed", "Hello", None),
        )
        .await
        .expect("append");
    // Polling would take 300 s; only IDLE brings it in this soon.
    eventually(30, "the pushed message stored as a ticket", || async {
        (count(
            &pool,
            "SELECT count(*) FROM messages WHERE message_id = 'push1@customer.example'",
        )
        .await
            == 1)
            .then_some(())
    })
    .await;
    let slack = env.slack.as_ref().expect("slack");
    eventually(30, "the card posted", || async {
        (slack.calls_to("chat.postMessage").len() == 1).then_some(())
    })
    .await;

    let (code, body) = healthz(running.addr).await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["status"], "ok", "{body}");
    let mbs = body["mailboxes"].as_array().expect("mailboxes array");
    assert_eq!(mbs.len(), 1, "{body}");
    assert_eq!(mbs[0]["name"], "support");
    assert_eq!(mbs[0]["mode"], "idle");
    assert_eq!(mbs[0]["failing"], false);
    assert!(mbs[0]["last_success_age_secs"].is_i64(), "{body}");
    assert!(
        mbs[0].get("last_error").is_none(),
        "no error texts in /healthz: {body}"
    );
    drop(running);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_is_renewed_and_push_still_works_after_renewals() {
    let mut env = env(Platforms {
        slack: true,
        discord: false,
    })
    .await;
    env.settings.intake.poll_interval_secs = 300;
    env.settings.intake.idle_renew_secs = 1;
    let app = env.app().await;
    let _running = app.start().await.expect("app starts");
    let pool = app.desk.pool().clone();
    let first = wait_for_session(&pool, "support", "idle").await;
    // Each renewal ends IDLE (DONE) and fetches, which records a success: several distinct
    // success times without any mail prove the renewals happen on the same healthy session.
    let mut seen = vec![first.last_success_at];
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while seen.len() < 4 {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for three IDLE renewals: {seen:?}"
        );
        let s = status_of(&pool, "support").await.expect("status");
        if !seen.contains(&s.last_success_at) {
            seen.push(s.last_success_at);
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let s = status_of(&pool, "support").await.expect("status");
    assert!(s.last_error.is_none(), "renewal must not error: {s:?}");

    env.dovecot
        .append(
            "INBOX",
            &customer_email("renew1@customer.example", "After renewals", "Hi", None),
        )
        .await
        .expect("append");
    eventually(30, "the message after renewals", || async {
        (count(&pool, "SELECT count(*) FROM tickets").await == 1).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polling_is_used_when_idle_is_turned_off() {
    let mut env = env(Platforms {
        slack: true,
        discord: false,
    })
    .await;
    env.settings.intake.use_idle = false;
    env.settings.intake.poll_interval_secs = 1;
    let app = env.app().await;
    let running = app.start().await.expect("app starts");
    let pool = app.desk.pool().clone();
    wait_for_session(&pool, "support", "poll").await;
    env.dovecot
        .append(
            "INBOX",
            &customer_email("poll1@customer.example", "Polled", "Hi", None),
        )
        .await
        .expect("append");
    eventually(30, "the polled message", || async {
        (count(&pool, "SELECT count(*) FROM tickets").await == 1).then_some(())
    })
    .await;
    let (_, body) = healthz(running.addr).await;
    assert_eq!(body["mailboxes"][0]["mode"], "poll", "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dovecot_restart_mid_run_loses_and_repeats_nothing() {
    let mut env = env(Platforms {
        slack: true,
        discord: false,
    })
    .await;
    env.settings.intake.poll_interval_secs = 300;
    env.settings.intake.max_backoff_secs = 2;
    let app = env.app().await;
    let _running = app.start().await.expect("app starts");
    let pool = app.desk.pool().clone();
    wait_for_session(&pool, "support", "idle").await;
    let mail = |tag: &str, i: usize| {
        customer_email(
            &format!("{tag}{i}@customer.example"),
            &format!("Restart {tag} {i}"),
            "Body",
            None,
        )
    };

    let before: Vec<Vec<u8>> = (1..=3).map(|i| mail("before", i)).collect();
    env.dovecot
        .append_many("INBOX", &before)
        .await
        .expect("append before");
    eventually(30, "the first three messages", || async {
        (count(&pool, "SELECT count(*) FROM messages").await == 3).then_some(())
    })
    .await;
    assert!(
        status_of(&pool, "support")
            .await
            .expect("status")
            .last_error
            .is_none(),
        "no error before the restart"
    );

    env.dovecot.restart().await.expect("dovecot restarts");
    // Appended right after the restart, while the supervisor is still reconnecting.
    let during: Vec<Vec<u8>> = (1..=3).map(|i| mail("during", i)).collect();
    env.dovecot
        .append_many("INBOX", &during)
        .await
        .expect("append during");
    // The dropped connection was noticed and recorded, and a later fetch succeeded.
    let recovered = eventually(60, "an error recorded and a success after it", || async {
        status_of(&pool, "support")
            .await
            .filter(|s| s.last_error_at.is_some() && !s.failing())
    })
    .await;
    assert!(
        recovered.last_success_at > recovered.last_error_at,
        "{recovered:?}"
    );

    let after: Vec<Vec<u8>> = (1..=3).map(|i| mail("after", i)).collect();
    env.dovecot
        .append_many("INBOX", &after)
        .await
        .expect("append after");
    eventually(60, "all nine messages", || async {
        (count(&pool, "SELECT count(*) FROM messages").await == 9).then_some(())
    })
    .await;
    let mut expected: Vec<String> = ["before", "during", "after"]
        .iter()
        .flat_map(|t| (1..=3).map(move |i| format!("{t}{i}@customer.example")))
        .collect();
    expected.sort();
    assert_eq!(
        message_ids(&pool).await,
        expected,
        "each message exactly once"
    );
    assert_eq!(count(&pool, "SELECT count(*) FROM tickets").await, 9);
    assert_eq!(count(&pool, "SELECT count(*) FROM quarantine").await, 0);
    let (last_uid,): (i64,) =
        sqlx::query_as("SELECT last_uid FROM mailbox_cursors WHERE mailbox = 'support'")
            .fetch_one(&pool)
            .await
            .expect("cursor");
    assert_eq!(last_uid, 9, "the cursor covers every message");
    let slack = env.slack.as_ref().expect("slack");
    // Nine tickets from one sender within seconds also raise the suspected-loop notice in
    // the channel; that is not a card.
    eventually(30, "nine cards", || async {
        (slack.card_posts().len() == 9).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_mailbox_does_not_delay_the_others_and_shows_in_status_and_healthz() {
    let mut env = env(Platforms {
        slack: true,
        discord: false,
    })
    .await;
    // A second server for the wrong password, so Dovecot's per-IP authentication penalty
    // cannot slow down logins to the good server.
    let other = Dovecot::start().await.expect("second dovecot");
    let closed_port = free_port();
    let good = env.settings.mailboxes[0].clone();
    let mut bad_password = good.clone();
    bad_password.name = "badpw".into();
    bad_password.port = other.port;
    bad_password.password_env = "TEST_BADPW_PASSWORD".into();
    let mut unreachable = good.clone();
    unreachable.name = "down".into();
    unreachable.port = closed_port;
    // Failing mailboxes first: if intake were sequential, they would hold the good one up.
    env.settings.mailboxes = vec![bad_password, unreachable, good];
    env.settings.intake.poll_interval_secs = 300;
    env.settings.intake.max_backoff_secs = 60;
    let wrong = "wrong-password-Zq81";
    let mut passwords: HashMap<String, SecretString> = HashMap::new();
    passwords.insert("support".into(), env.dovecot.password.clone().into());
    passwords.insert("badpw".into(), wrong.to_string().into());
    passwords.insert("down".into(), "unused-password-Kp27".to_string().into());
    env.secrets.imap_passwords = passwords;
    env.secrets.admin_token = Some(ADMIN_TOKEN.to_string().into());
    let app = env.app().await;
    let running = app.start().await.expect("app starts");
    let pool = app.desk.pool().clone();

    wait_for_session(&pool, "support", "idle").await;
    env.dovecot
        .append(
            "INBOX",
            &customer_email("good1@customer.example", "Good mailbox", "Hi", None),
        )
        .await
        .expect("append");
    eventually(30, "the good mailbox's message", || async {
        (count(&pool, "SELECT count(*) FROM tickets").await == 1).then_some(())
    })
    .await;

    let badpw = eventually(30, "the wrong password recorded", || async {
        status_of(&pool, "badpw").await.filter(|s| s.failing())
    })
    .await;
    let err = badpw.last_error.clone().unwrap_or_default();
    assert!(err.contains("LOGIN"), "{err}");
    assert!(badpw.last_success_at.is_none(), "{badpw:?}");
    let down = eventually(30, "the unreachable server recorded", || async {
        status_of(&pool, "down").await.filter(|s| s.failing())
    })
    .await;
    let err = down.last_error.clone().unwrap_or_default();
    assert!(err.contains("cannot connect"), "{err}");
    assert!(
        err.contains(&closed_port.to_string()),
        "names the address: {err}"
    );
    let good = status_of(&pool, "support").await.expect("good status");
    assert!(!good.failing() && good.last_error.is_none(), "{good:?}");

    let (code, public) = healthz(running.addr).await;
    assert_eq!(code, 200, "database fine, so still 200: {public}");
    assert_eq!(public["status"], "degraded", "{public}");
    let public = public.to_string();
    assert!(
        !public.contains("LOGIN") && !public.contains(&closed_port.to_string()),
        "no error texts in /healthz: {public}"
    );
    let (code, body) = get_json(running.addr, "/healthz/details", Some(ADMIN_TOKEN)).await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["status"], "degraded", "{body}");
    let by_name = |n: &str| {
        body["mailboxes"]
            .as_array()
            .expect("mailboxes")
            .iter()
            .find(|m| m["name"] == n)
            .cloned()
            .unwrap_or_else(|| panic!("{n} missing in {body}"))
    };
    assert_eq!(by_name("support")["failing"], false, "{body}");
    assert_eq!(by_name("support")["mode"], "idle", "{body}");
    assert_eq!(by_name("badpw")["failing"], true, "{body}");
    assert!(
        by_name("badpw")["last_error"]
            .as_str()
            .unwrap_or_default()
            .contains("LOGIN"),
        "{body}"
    );
    assert!(by_name("badpw")["last_error_at"].is_string(), "{body}");
    assert_eq!(by_name("down")["failing"], true, "{body}");
    let text = body.to_string();
    assert!(!text.contains(wrong), "no password in /healthz");
    assert!(
        !text.contains(&env.dovecot.password),
        "no password in /healthz"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changed_uidvalidity_rereads_the_folder_without_storing_anything_twice() {
    let env = env(Platforms {
        slack: true,
        discord: false,
    })
    .await;
    let app = env.app().await;
    let pool = app.desk.pool().clone();
    let no_sender = b"To: support@claimdesk.test\r\nSubject: Who am I\r\nMessage-ID: <anon1@customer.example>\r\n\r\nNo From header.\r\n".to_vec();
    env.dovecot
        .append_many(
            "INBOX",
            &[
                customer_email("u1@customer.example", "First", "One", None),
                customer_email(
                    "u2@customer.example",
                    "Re: First",
                    "Two",
                    Some("u1@customer.example"),
                ),
                customer_email("u3@customer.example", "Second", "Three", None),
                no_sender,
            ],
        )
        .await
        .expect("append");
    let first = app.intake_once().await.expect("intake");
    let report = first[0].1.as_ref().expect("first run");
    assert_eq!(
        (
            report.fetched,
            report.created,
            report.joined,
            report.quarantined
        ),
        (4, 2, 1, 1)
    );
    let tables = ["tickets", "messages", "quarantine", "outbox", "thread_keys"];
    let mut before = Vec::new();
    for t in tables {
        before.push(count(&pool, &format!("SELECT count(*) FROM {t}")).await);
    }
    let (real,): (i64,) =
        sqlx::query_as("SELECT uidvalidity FROM mailbox_cursors WHERE mailbox = 'support'")
            .fetch_one(&pool)
            .await
            .expect("cursor");

    // The folder was "rebuilt": the stored UIDVALIDITY no longer matches the server's.
    sqlx::query(
        "UPDATE mailbox_cursors SET uidvalidity = uidvalidity + 7 WHERE mailbox = 'support'",
    )
    .execute(&pool)
    .await
    .expect("change uidvalidity");
    let second = app.intake_once().await.expect("intake");
    let report = second[0].1.as_ref().expect("second run");
    assert_eq!(report.fetched, 4, "the whole folder is re-read");
    assert_eq!(report.created, 0, "nothing new created");
    assert_eq!(report.joined, 0, "nothing joined twice");
    assert_eq!(report.duplicates, 3, "every stored message recognised");
    let mut after = Vec::new();
    for t in tables {
        after.push(count(&pool, &format!("SELECT count(*) FROM {t}")).await);
    }
    assert_eq!(before, after, "rows of {tables:?} unchanged");
    let (uv, last): (i64, i64) = sqlx::query_as(
        "SELECT uidvalidity, last_uid FROM mailbox_cursors WHERE mailbox = 'support'",
    )
    .fetch_one(&pool)
    .await
    .expect("cursor");
    assert_eq!(
        (uv, last),
        (real, 4),
        "cursor back on the server's UIDVALIDITY"
    );

    // And a third run finds nothing at all.
    let third = app.intake_once().await.expect("intake");
    assert_eq!(third[0].1.as_ref().expect("third run").fetched, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backlog_larger_than_the_fetch_batch_is_fetched_completely_in_one_run() {
    let mut env = env(Platforms {
        slack: true,
        discord: false,
    })
    .await;
    env.settings.intake.fetch_batch = 50;
    let app = env.app().await;
    let pool = app.desk.pool().clone();
    let mails: Vec<Vec<u8>> = (1..=120)
        .map(|i| {
            customer_email(
                &format!("bulk{i}@customer.example"),
                &format!("Bulk {i}"),
                "Body",
                None,
            )
        })
        .collect();
    env.dovecot
        .append_many("INBOX", &mails)
        .await
        .expect("append");
    let runs = app.intake_once().await.expect("intake");
    let report = runs[0].1.as_ref().expect("run");
    assert_eq!(report.fetched, 120, "{report:?}");
    assert_eq!(report.created, 120, "{report:?}");
    assert_eq!(count(&pool, "SELECT count(*) FROM tickets").await, 120);
    assert_eq!(
        count(&pool, "SELECT count(DISTINCT message_id) FROM messages").await,
        120
    );
    let (last,): (i64,) =
        sqlx::query_as("SELECT last_uid FROM mailbox_cursors WHERE mailbox = 'support'")
            .fetch_one(&pool)
            .await
            .expect("cursor");
    assert_eq!(last, 120);
}

fn claimdesk(
    config: &std::path::Path,
    imap_password: &str,
    args: &[&str],
) -> tokio::process::Command {
    let mut c = tokio::process::Command::new(env!("CARGO_BIN_EXE_claimdesk"));
    c.arg("--config")
        .arg(config)
        .args(args)
        .env("TEST_IMAP_PASSWORD", imap_password)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_passes_on_a_good_config_and_names_the_mailbox_with_a_bad_password() {
    let env = env(Platforms {
        slack: false,
        discord: false,
    })
    .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let config = env.write_config(dir.path());
    let good = &env.dovecot.password;
    let migrated = claimdesk(&config, good, &["migrate"])
        .output()
        .await
        .expect("run migrate");
    assert!(migrated.status.success(), "migrate");
    // Some stored state to print: a success, then a newer error.
    let pool = env.db.pool().await.expect("pool");
    {
        let mut c = pool.acquire().await.expect("conn");
        mailbox_status::record_success(&mut c, "support", Mode::Idle)
            .await
            .expect("record");
        mailbox_status::record_error(&mut c, "support", "mailbox support: test error")
            .await
            .expect("record");
    }

    let out = claimdesk(&config, good, &["doctor"])
        .output()
        .await
        .expect("run doctor");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "doctor passes:\n{stdout}\n{stderr}");
    assert!(stdout.contains("database: ok"), "{stdout}");
    assert!(stdout.contains("mailbox support: ok"), "{stdout}");
    assert!(stdout.contains("UIDVALIDITY"), "{stdout}");
    assert!(stdout.contains("0 messages"), "{stdout}");
    assert!(stdout.contains("IDLE offered"), "{stdout}");
    assert!(stdout.contains("mode idle"), "stored state: {stdout}");
    assert!(
        stdout.contains("(failing now): mailbox support: test error"),
        "stored error: {stdout}"
    );
    assert!(stdout.contains("all checks passed"), "{stdout}");
    assert!(!stdout.contains(good.as_str()) && !stderr.contains(good.as_str()));

    let bad = "not-the-password-Vx3";
    let out = claimdesk(&config, bad, &["doctor"])
        .output()
        .await
        .expect("run doctor");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "doctor fails:\n{stdout}\n{stderr}");
    assert!(stdout.contains("database: ok"), "{stdout}");
    assert!(stdout.contains("mailbox support: FAILED"), "{stdout}");
    assert!(stdout.contains("LOGIN"), "{stdout}");
    assert!(stderr.contains("mailbox support failed"), "{stderr}");
    assert!(
        !stdout.contains(bad) && !stderr.contains(bad),
        "no password printed"
    );
}
