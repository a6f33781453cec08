//! Issue 10, the operational part, against real Postgres, Dovecot and the SMTP sink:
//! the audit trail is append-only for the app's own database role (two roles: the admin
//! migrates, `claimdesk_app` works), `doctor` warns about a superuser connection, `/healthz`
//! leaks no error text, `/metrics` and `/healthz/details` need the admin token or the admin
//! listener, chat routes refuse bodies over 1 MiB, and acknowledgements have a global hourly
//! cap.

mod support;

use claimdesk::desk::Surface;
use claimdesk::store::mailbox_status::{self, Mode};
use secrecy::SecretString;
use support::harness::*;
use support::services::APP_ROLE;

const NO_CHAT: Platforms = Platforms {
    slack: false,
    discord: false,
};

/// SQLSTATE of an error, if it came from the server.
fn sqlstate(e: &sqlx::Error) -> Option<String> {
    e.as_database_error()
        .and_then(|d| d.code())
        .map(|c| c.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_app_role_may_append_and_read_the_audit_trail_but_never_change_or_empty_it() {
    let env = db_only(NO_CHAT).await;
    assert_ne!(
        env.db.app_url, env.db.url,
        "the harness connects the app as {APP_ROLE}"
    );
    let app = env.app().await;
    let pool = app.desk.pool();
    let (me, superuser): (String, bool) = sqlx::query_as(
        "SELECT current_user::text, rolsuper FROM pg_roles WHERE rolname = current_user",
    )
    .fetch_one(pool)
    .await
    .expect("who am I");
    assert_eq!(me, APP_ROLE);
    assert!(!superuser);

    sqlx::query(
        "INSERT INTO audit_events (actor, surface, action) VALUES ('system', 'cli', 'test.row')",
    )
    .execute(pool)
    .await
    .expect("the app may INSERT");
    let (n,): (i64,) =
        sqlx::query_as("SELECT count(*) FROM audit_events WHERE action = 'test.row'")
            .fetch_one(pool)
            .await
            .expect("the app may SELECT");
    assert_eq!(n, 1);

    for sql in [
        "UPDATE audit_events SET actor = 'mallory'",
        "DELETE FROM audit_events",
        "TRUNCATE audit_events",
        "ALTER TABLE audit_events DISABLE TRIGGER USER",
        "DROP TRIGGER audit_events_no_truncate ON audit_events",
    ] {
        let e = sqlx::query(sql)
            .execute(pool)
            .await
            .expect_err(&format!("{sql} must be refused to the app"));
        // 42501 insufficient_privilege; 42501 also for "must be owner of table".
        assert_eq!(sqlstate(&e).as_deref(), Some("42501"), "{sql}: {e}");
    }

    // Even the owner (here the superuser that migrated) cannot TRUNCATE: the statement
    // trigger refuses it. UPDATE and DELETE stay refused by the row trigger.
    let admin = env.db.pool().await.expect("admin pool");
    for sql in [
        "TRUNCATE audit_events",
        "UPDATE audit_events SET actor = 'mallory'",
        "DELETE FROM audit_events",
    ] {
        let e = sqlx::query(sql)
            .execute(&admin)
            .await
            .expect_err(&format!("{sql} must be refused to the owner"));
        assert!(e.to_string().contains("append-only"), "{sql}: {e}");
    }
    let (n,): (i64,) = sqlx::query_as("SELECT count(*) FROM audit_events")
        .fetch_one(&admin)
        .await
        .expect("count");
    assert_eq!(n, 1, "the row is still there");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_app_role_ingests_claims_and_replies() {
    let env = env(NO_CHAT).await;
    env.dovecot
        .append(
            "INBOX",
            &customer_email("role1@customer.example", "Printer", "It jams.", None),
        )
        .await
        .expect("append");
    let app = env.app().await;
    let runs = app.intake_once().await.expect("intake");
    assert_eq!(runs[0].1.as_ref().expect("fetched").created, 1);
    let number = app.desk.list().await.expect("list")[0].number.clone();
    let ben = actor(&app, "ben", Surface::Console).await;
    app.desk.claim(&ben, &number).await.expect("claim");
    app.desk
        .reply(&ben, &number, "Try turning it off and on.")
        .await
        .expect("reply");
    app.deliverer.drain().await.expect("drain");
    let mails = env.smtp.received();
    assert_eq!(mails.len(), 1, "the reply went out");
    assert_eq!(mails[0].rcpt_to, vec!["dana@customer.example".to_string()]);
    let (actions,): (Vec<String>,) =
        sqlx::query_as("SELECT array_agg(action ORDER BY id) FROM audit_events")
            .fetch_one(app.desk.pool())
            .await
            .expect("audit");
    for a in ["ticket.created", "ticket.claimed", "reply.queued"] {
        assert!(actions.iter().any(|x| x == a), "{a} in {actions:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_warns_when_the_app_connects_as_a_superuser_and_not_as_the_app_role() {
    let mut env = db_only(NO_CHAT).await;
    env.settings.mailboxes.clear();
    // Two roles (the harness): migrated by the admin, connected as claimdesk_app.
    env.app().await;
    let mut out = Vec::new();
    let report = claimdesk::intake::doctor::run(&env.settings, &Default::default(), &mut out)
        .await
        .expect("doctor runs");
    let text = String::from_utf8_lossy(&out).to_string();
    assert!(report.ok() && report.warnings.is_empty(), "{text}");
    assert!(!text.contains("WARNING"), "{text}");
    assert!(
        text.contains(&format!("role {APP_ROLE}: not a superuser")),
        "{text}"
    );

    // One URL, a superuser: works, but doctor warns.
    env.settings.database.url = env.db.url.clone();
    env.settings.database.migrate_url = None;
    env.app().await;
    let mut out = Vec::new();
    let report = claimdesk::intake::doctor::run(&env.settings, &Default::default(), &mut out)
        .await
        .expect("doctor runs");
    let text = String::from_utf8_lossy(&out).to_string();
    assert!(report.ok(), "a warning fails nothing: {text}");
    assert_eq!(report.warnings, vec!["database role".to_string()], "{text}");
    assert!(
        text.contains("WARNING") && text.contains("a superuser"),
        "{text}"
    );
    assert!(
        text.contains("database.migrate_url"),
        "says what to do: {text}"
    );
}

/// `GET http://{addr}{path}` with an optional bearer token: status and body.
async fn get(addr: std::net::SocketAddr, path: &str, token: Option<&str>) -> (u16, String) {
    let mut req = reqwest::Client::new().get(format!("http://{addr}{path}"));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let r = req.send().await.expect("reachable");
    let code = r.status().as_u16();
    (code, r.text().await.expect("body"))
}

const LEAKY_ERROR: &str =
    "cannot connect to imap.internal-secret.example:993 as alice.admin@corp.example: LOGIN failed";

async fn record_failure(app: &claimdesk::app::App) {
    let mut c = app.desk.pool().acquire().await.expect("conn");
    mailbox_status::record_success(&mut c, "support", Mode::Idle)
        .await
        .expect("success");
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    mailbox_status::record_error(&mut c, "support", LEAKY_ERROR)
        .await
        .expect("error");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthz_names_no_error_host_or_user_and_admin_routes_are_not_served_without_token() {
    let env = db_only(NO_CHAT).await;
    let app = env.app().await;
    record_failure(&app).await;
    let running = app.start_web().await.expect("web");

    let (code, text) = get(running.addr, "/healthz", None).await;
    assert_eq!(code, 200, "{text}");
    let body: serde_json::Value = serde_json::from_str(&text).expect("json");
    assert_eq!(body["status"], "degraded", "{body}");
    let mb = &body["mailboxes"][0];
    assert_eq!(mb["name"], "support", "{body}");
    assert_eq!(mb["mode"], "idle", "{body}");
    assert_eq!(mb["failing"], true, "{body}");
    assert!(mb["last_success_age_secs"].as_i64().is_some(), "{body}");
    for leak in [
        "internal-secret",
        "alice",
        "corp.example",
        "LOGIN",
        "993",
        "error",
    ] {
        assert!(!text.contains(leak), "{leak} in /healthz: {text}");
    }

    // Neither an admin token nor an admin listener: the admin routes do not exist.
    for path in ["/metrics", "/healthz/details"] {
        let (code, text) = get(running.addr, path, None).await;
        assert_eq!(code, 404, "{path}: {text}");
        let (code, _) = get(running.addr, path, Some("anything")).await;
        assert_eq!(code, 404, "{path} with a token");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_and_details_need_the_admin_bearer_token() {
    let mut env = db_only(NO_CHAT).await;
    let token = "s3cret-admin-token-0123456789";
    env.secrets.admin_token = Some(SecretString::from(token));
    let app = env.app().await;
    open_ticket(&app, 1, "m1@customer.example", "Hello", "Hi").await;
    record_failure(&app).await;
    let running = app.start_web().await.expect("web");

    for path in ["/metrics", "/healthz/details"] {
        let (code, text) = get(running.addr, path, None).await;
        assert_eq!(code, 401, "{path} without token: {text}");
        assert!(!text.contains("claimdesk_tickets") && !text.contains("LOGIN"));
        let (code, _) = get(running.addr, path, Some("s3cret-admin-token-012345678")).await;
        assert_eq!(code, 401, "{path} with a wrong token");
        let (code, _) = get(running.addr, path, Some(&format!("{token}x"))).await;
        assert_eq!(code, 401, "{path} with a longer token");
    }
    let (code, text) = get(running.addr, "/metrics", Some(token)).await;
    assert_eq!(code, 200, "{text}");
    assert!(
        text.contains("claimdesk_tickets{status=\"open\"} 1"),
        "{text}"
    );
    let (code, text) = get(running.addr, "/healthz/details", Some(token)).await;
    assert_eq!(code, 200, "{text}");
    assert!(
        text.contains("LOGIN failed"),
        "details show the error: {text}"
    );
    let (code, text) = get(running.addr, "/healthz", None).await;
    assert_eq!(code, 200);
    assert!(!text.contains("LOGIN"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_listener_serves_metrics_and_details_while_the_public_one_does_not() {
    let mut env = db_only(NO_CHAT).await;
    env.settings.web.admin_bind = Some("127.0.0.1:0".into());
    let app = env.app().await;
    record_failure(&app).await;
    let running = app.start_web().await.expect("web");
    let admin = running.admin_addr.expect("admin listener");
    assert_ne!(admin, running.addr);

    let (code, text) = get(admin, "/metrics", None).await;
    assert_eq!(code, 200, "{text}");
    assert!(text.contains("claimdesk_outbox_pending"), "{text}");
    let (code, text) = get(admin, "/healthz/details", None).await;
    assert_eq!(code, 200, "{text}");
    assert!(text.contains("LOGIN failed"), "{text}");
    let (code, _) = get(admin, "/healthz", None).await;
    assert_eq!(code, 200);
    for path in ["/metrics", "/healthz/details"] {
        let (code, _) = get(running.addr, path, None).await;
        assert_eq!(code, 404, "{path} on the public listener");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_routes_refuse_bodies_over_one_mebibyte() {
    let env = db_only(Platforms {
        slack: true,
        discord: true,
    })
    .await;
    let app = env.app().await;
    let running = app.start_web().await.expect("web");
    let limit = claimdesk::web::CHAT_BODY_LIMIT;
    assert_eq!(limit, 1024 * 1024);
    let client = reqwest::Client::new();
    for path in [
        "/slack/commands",
        "/slack/interactions",
        "/slack/events",
        "/discord/interactions",
    ] {
        let r = client
            .post(format!("http://{}{path}", running.addr))
            .header("content-type", "application/json")
            .body(vec![b'a'; limit + 1])
            .send()
            .await
            .expect("reachable");
        assert_eq!(r.status().as_u16(), 413, "{path}");
    }
    // A signed command of ordinary size still works.
    let (code, text) = slack_post(
        running.addr,
        "/slack/commands",
        &slash_command("/mine", "", ANA_SLACK),
        SLACK_SECRET,
        0,
    )
    .await;
    assert_eq!(code, 200, "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_the_global_hourly_cap_tickets_are_created_but_not_acknowledged_and_audited_once() {
    let mut env = env(NO_CHAT).await;
    env.settings.mailboxes[0].acknowledge = true;
    env.settings.noise.acks_per_sender_per_hour = 100;
    env.settings.noise.max_acks_per_hour = 2;
    // Five different senders: the per-sender cap never applies.
    let raws: Vec<Vec<u8>> = (1..=5)
        .map(|i| {
            format!(
                "From: Sender {i} <sender{i}@relay-victim{i}.example>\r\nTo: {SUPPORT}\r\n\
                 Subject: Question {i}\r\nMessage-ID: <cap{i}@customer.example>\r\n\
                 Date: Sun, 22 Nov 2026 09:00:00 +0000\r\n\r\nPlease help.\r\n"
            )
            .into_bytes()
        })
        .collect();
    env.dovecot
        .append_many("INBOX", &raws[..3])
        .await
        .expect("append");
    let app = env.app().await;
    let runs = app.intake_once().await.expect("intake");
    assert_eq!(runs[0].1.as_ref().expect("fetched").created, 3);
    // A later batch counts what earlier ones sent.
    env.dovecot
        .append_many("INBOX", &raws[3..])
        .await
        .expect("append");
    let runs = app.intake_once().await.expect("intake");
    assert_eq!(runs[0].1.as_ref().expect("fetched").created, 2);

    assert_eq!(app.desk.list().await.expect("list").len(), 5, "all carded");
    let mails = env.smtp.received();
    assert_eq!(mails.len(), 2, "only two acknowledgements in the hour");
    let (capped,): (i64,) =
        sqlx::query_as("SELECT count(*) FROM audit_events WHERE action = 'acknowledgement.capped'")
            .fetch_one(app.desk.pool())
            .await
            .expect("audit");
    assert_eq!(capped, 1, "the skip is audited once");
    let (queued,): (i64,) =
        sqlx::query_as("SELECT count(*) FROM audit_events WHERE action = 'acknowledgement.queued'")
            .fetch_one(app.desk.pool())
            .await
            .expect("audit");
    assert_eq!(queued, 2);
}

/// Runs the `claimdesk` binary with `--config config` and `args`; (success, stdout, stderr).
async fn claimdesk_cli(
    env: &TestEnv,
    config: &std::path::Path,
    args: &[&str],
) -> (bool, String, String) {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_claimdesk"))
        .arg("--config")
        .arg(config)
        .args(args)
        .env("TEST_IMAP_PASSWORD", &env.dovecot.password)
        .env("RUST_LOG", "off")
        .output()
        .await
        .expect("run claimdesk");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `claimdesk agent add|remove` go through the desk as the CLI operator: a handle chat would
/// refuse is refused with the reason and nothing is written; a good one is saved with every
/// field and audited as `agent.added` by surface `cli`, and so is its removal.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_agent_management_checks_handles_and_is_audited_as_surface_cli() {
    let env = env(NO_CHAT).await;
    let app = env.app().await;
    let pool = app.desk.pool();
    let dir = tempfile::tempdir().expect("tempdir");
    let config = env.write_config(dir.path());
    let agent_events = || async {
        let rows: Vec<(String, String, String, Option<serde_json::Value>)> = sqlx::query_as(
            "SELECT actor, surface, action, after FROM audit_events WHERE action LIKE 'agent.%' ORDER BY id",
        )
        .fetch_all(pool)
        .await
        .expect("audit rows");
        rows
    };
    let agents_named = |pattern: &'static str| async move {
        let (n,): (i64,) = sqlx::query_as("SELECT count(*) FROM agents WHERE handle LIKE $1")
            .bind(pattern)
            .fetch_one(pool)
            .await
            .expect("count");
        n
    };

    // When the handle has a space in it, the CLI refuses and says why; nothing is written.
    let (ok, _, err) = claimdesk_cli(
        &env,
        &config,
        &[
            "agent",
            "add",
            "dana scully",
            "--name",
            "Dana",
            "--email",
            "dana@example.com",
        ],
    )
    .await;
    assert!(!ok, "a bad handle is refused");
    assert!(
        err.contains("cannot add agent `dana scully`") && err.contains("a handle is letters"),
        "{err}"
    );
    assert_eq!(agents_named("dana%").await, 0, "no agent row");
    assert!(agent_events().await.is_empty(), "no audit event");

    // When the handle is good, every field is stored and one audit event names surface cli.
    let (ok, out, err) = claimdesk_cli(
        &env,
        &config,
        &[
            "agent",
            "add",
            "@dana",
            "--name",
            "Dana Scully",
            "--email",
            "dana@example.com",
            "--role",
            "admin",
            "--capacity",
            "3",
        ],
    )
    .await;
    assert!(ok, "{out}{err}");
    assert!(out.contains("agent @dana saved"), "{out}");
    let (name, email, role, capacity, source, active): (
        String,
        String,
        String,
        Option<i32>,
        String,
        bool,
    ) = sqlx::query_as(
        "SELECT name, email, role, capacity, source, active FROM agents WHERE handle = 'dana'",
    )
    .fetch_one(pool)
    .await
    .expect("dana stored");
    assert_eq!(
        (
            name.as_str(),
            email.as_str(),
            role.as_str(),
            capacity,
            source.as_str(),
            active
        ),
        (
            "Dana Scully",
            "dana@example.com",
            "admin",
            Some(3),
            "cli",
            true
        )
    );
    let events = agent_events().await;
    assert_eq!(events.len(), 1, "{events:?}");
    let (actor, surface, action, after) = &events[0];
    assert_eq!(
        (actor.as_str(), surface.as_str(), action.as_str()),
        ("operator", "cli", "agent.added")
    );
    assert_eq!(
        after
            .as_ref()
            .and_then(|a| a.get("agent"))
            .and_then(|a| a.as_str()),
        Some("dana")
    );

    // Removing is audited the same way.
    let (ok, out, err) = claimdesk_cli(&env, &config, &["agent", "remove", "dana"]).await;
    assert!(ok && out.contains("agent @dana removed"), "{out}{err}");
    let events = agent_events().await;
    assert_eq!(events.len(), 2, "{events:?}");
    assert_eq!(
        (events[1].1.as_str(), events[1].2.as_str()),
        ("cli", "agent.removed")
    );
    let (ok, _, err) = claimdesk_cli(&env, &config, &["agent", "remove", "dana"]).await;
    assert!(!ok && err.contains("no active agent @dana"), "{err}");
}
