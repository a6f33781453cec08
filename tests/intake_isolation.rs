//! One message can never hold up another (issue 10), through the real intake path: IMAP
//! APPEND to a real Dovecot, then `App::intake_once` (UID SEARCH, sizes, UID FETCH batches,
//! parse, `Desk::ingest_isolated` into Postgres).
//!
//! Each case puts one hostile message among ten ordinary ones in one batch and requires: every
//! ordinary one is a ticket after that one run, the hostile one is a ticket or quarantined
//! with a reason, the cursor is past all of them, and a second run fetches nothing.
//!
//! Failures Postgres reports for a message whatever our code does are made with the test
//! database's schema (an extra index or CHECK constraint, a trigger): real errors from the
//! real server, no hook in the application.

mod support;

use claimdesk::app::App;
use claimdesk::intake::pipeline::FetchReport;
use rand::distributions::Alphanumeric;
use rand::Rng;
use support::harness::*;

fn no_platforms() -> Platforms {
    Platforms {
        slack: false,
        discord: false,
    }
}

/// `n` random letters and digits (incompressible enough that Postgres cannot shrink an index
/// entry holding them).
fn noise(n: usize) -> String {
    rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(n)
        .map(char::from)
        .collect()
}

/// An email with the given header fields (each a full `Name: value` line) and body.
fn email(headers: &[String], body: &str) -> Vec<u8> {
    let mut s = String::new();
    for h in headers {
        s.push_str(h);
        s.push_str("\r\n");
    }
    s.push_str(
        "Date: Sun, 22 Nov 2026 09:00:00 +0000\r\nMIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\n",
    );
    s.push_str(body);
    s.push_str("\r\n");
    s.into_bytes()
}

/// Ordinary customer email number `i`, each from its own sender.
fn ordinary(i: usize) -> Vec<u8> {
    email(
        &[
            format!("From: Customer {i} <c{i}@customer.example>"),
            format!("To: {SUPPORT}"),
            format!("Subject: Ordinary request {i}"),
            format!("Message-ID: <ordinary{i}@customer.example>"),
        ],
        &format!("Please help with thing {i}."),
    )
}

/// A hostile message from `h@hostile.example` unless `headers` has its own From.
fn hostile(headers: &[String], body: &str) -> Vec<u8> {
    let mut all: Vec<String> = Vec::new();
    if !headers.iter().any(|h| h.starts_with("From:")) {
        all.push("From: Hostile <h@hostile.example>".into());
    }
    all.push(format!("To: {SUPPORT}"));
    if !headers.iter().any(|h| h.starts_with("Subject:")) {
        all.push("Subject: hostile".into());
    }
    if !headers.iter().any(|h| h.starts_with("Message-ID:")) {
        all.push(format!("Message-ID: <{}@hostile.example>", noise(20)));
    }
    all.extend(headers.iter().cloned());
    email(&all, body)
}

/// Runs a test's schema change as the database's owner (the app's own role may not alter
/// tables).
async fn exec(env: &TestEnv, sql: &str) {
    let owner = env.db.pool().await.expect("owner pool");
    sqlx::raw_sql(sql)
        .execute(&owner)
        .await
        .expect("test schema change");
    owner.close().await;
}

async fn cursor(app: &App) -> i64 {
    let row: Option<(i64,)> =
        sqlx::query_as("SELECT last_uid FROM mailbox_cursors WHERE mailbox = 'support'")
            .fetch_optional(app.desk.pool())
            .await
            .expect("cursor query");
    row.map_or(0, |(u,)| u)
}

/// One `intake_once` of the only mailbox.
async fn run(app: &App) -> anyhow::Result<FetchReport> {
    let mut reports = app.intake_once().await.expect("intake runs");
    assert_eq!(reports.len(), 1);
    reports.remove(0).1
}

/// What became of the message at `uid`: `Ok(ticket number)` or `Err(quarantine reason)`.
async fn fate(app: &App, uid: i64) -> Result<String, String> {
    let ticket: Option<(String,)> = sqlx::query_as(
        "SELECT t.number FROM messages m JOIN tickets t ON t.id = m.ticket_id WHERE m.uid = $1",
    )
    .bind(uid)
    .fetch_optional(app.desk.pool())
    .await
    .expect("messages query");
    let quarantined: Option<(String,)> =
        sqlx::query_as("SELECT reason FROM quarantine WHERE uid = $1")
            .bind(uid)
            .fetch_optional(app.desk.pool())
            .await
            .expect("quarantine query");
    match (ticket, quarantined) {
        (Some((t,)), None) => Ok(t),
        (None, Some((r,))) => Err(r),
        other => panic!("UID {uid} must be stored or quarantined, exactly one: {other:?}"),
    }
}

/// Appends five ordinary emails, the `bad` ones, five more ordinary ones (and `after`),
/// runs intake once, and checks that nothing was held up. Returns the app, the UIDs of the
/// bad messages (the folder is fresh, so UIDs count from 1) and the first run's report.
async fn isolate(
    env: &TestEnv,
    bad: Vec<Vec<u8>>,
    after: Vec<Vec<u8>>,
) -> (App, Vec<i64>, FetchReport) {
    let mut raws: Vec<Vec<u8>> = (1..=5).map(ordinary).collect();
    let first_bad = raws.len() as i64 + 1;
    let bad_uids: Vec<i64> = (first_bad..first_bad + bad.len() as i64).collect();
    raws.extend(bad);
    raws.extend((6..=10).map(ordinary));
    raws.extend(after);
    env.dovecot
        .append_many("INBOX", &raws)
        .await
        .expect("append");
    let app = env.app().await;
    let report = run(&app).await.expect("the run succeeds");
    assert_eq!(report.fetched, raws.len(), "{report:?}");
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM tickets WHERE requester_email LIKE 'c%@customer.example'"
        )
        .await,
        10,
        "every ordinary email is a ticket after the one run"
    );
    assert_eq!(cursor(&app).await, raws.len() as i64, "cursor past all");
    for uid in &bad_uids {
        if let Err(reason) = fate(&app, *uid).await {
            assert!(
                !reason.trim().is_empty(),
                "UID {uid} quarantined without a reason"
            );
        }
    }
    let again = run(&app).await.expect("second run");
    assert_eq!(again.fetched, 0, "the next run fetches nothing again");
    (app, bad_uids, report)
}

#[tokio::test]
async fn a_from_address_of_3000_or_10000_chars_is_quarantined_and_holds_up_nothing() {
    let env = env(no_platforms()).await;
    let bad = vec![
        hostile(&[format!("From: <{}@hostile.example>", noise(3000))], "x"),
        hostile(
            &[format!("From: Long <{}@hostile.example>", noise(10_000))],
            "x",
        ),
    ];
    let (app, uids, _) = isolate(&env, bad, vec![]).await;
    for uid in uids {
        let reason = fate(&app, uid).await.expect_err("quarantined");
        assert!(reason.contains("RFC 5321"), "{reason}");
    }
}

/// A msg-id that long fits no line (RFC 5322 §2.1.1); whether the parser drops it (and makes
/// up an id) or keeps it (stored as a digest, `domain::limits::fit_msg_id`), the message is a
/// ticket, and so is the reply naming it.
#[tokio::test]
async fn a_10kb_message_id_is_a_ticket() {
    let env = env(no_platforms()).await;
    let long_id = format!("{}@hostile.example", noise(10_000));
    let bad = vec![hostile(
        &[
            "From: Lou <lou@customer.example>".into(),
            format!("Message-ID: <{long_id}>"),
        ],
        "first",
    )];
    let reply = hostile(
        &[
            "From: Lou <lou@customer.example>".into(),
            "Subject: Re: hostile".into(),
            format!("In-Reply-To: <{long_id}>"),
            format!("References: <{long_id}>"),
        ],
        "second",
    );
    let (app, uids, _) = isolate(&env, bad, vec![reply]).await;
    fate(&app, uids[0]).await.expect("a ticket");
    fate(&app, 12).await.expect("the reply is stored");
}

#[tokio::test]
async fn a_10kb_in_reply_to_or_references_id_is_a_ticket() {
    let env = env(no_platforms()).await;
    let bad = vec![
        hostile(
            &[format!("In-Reply-To: <{}@x.example>", noise(10_000))],
            "a",
        ),
        hostile(
            &[format!(
                "References: <short@x.example> <{}@x.example>",
                noise(10_000)
            )],
            "b",
        ),
    ];
    let (app, uids, _) = isolate(&env, bad, vec![]).await;
    for uid in uids {
        fate(&app, uid).await.expect("a ticket");
    }
}

#[tokio::test]
async fn a_1mb_subject_and_a_1mb_header_line_end_as_ticket_or_quarantine() {
    let env = env(no_platforms()).await;
    let words =
        |n: usize| -> String { (0..n / 11).map(|_| noise(10)).collect::<Vec<_>>().join(" ") };
    let bad = vec![
        hostile(&[format!("Subject: {}", words(1 << 20))], "subject"),
        hostile(&[format!("X-Junk: {}", noise(1 << 20))], "header"),
    ];
    isolate(&env, bad, vec![]).await;
}

/// Postgres itself refuses two of the messages — one for an index entry over the btree
/// maximum (the error of the issue, `54000`, on an index our code knows nothing of), one for
/// a CHECK constraint (`23514`): the batch is split until each is alone, both are quarantined
/// with Postgres's error as the reason, the rest is stored.
#[tokio::test]
async fn messages_postgres_refuses_are_quarantined_alone_with_its_error() {
    let env = env(no_platforms()).await;
    // Building the app migrates the database the schema change below alters.
    let _migrated = env.app().await;
    exec(&env,
        "CREATE INDEX test_body_idx ON messages (body_text);
         ALTER TABLE tickets ADD CONSTRAINT test_no_poison CHECK (position('POISON' in subject) = 0);",
    )
    .await;
    let bad = vec![
        hostile(&[], &noise(8000)),
        hostile(&["Subject: POISON".into()], "poison"),
    ];
    let (app, uids, report) = isolate(&env, bad, vec![]).await;
    let index = fate(&app, uids[0]).await.expect_err("quarantined");
    assert!(index.contains("index row size"), "{index}");
    let check = fate(&app, uids[1]).await.expect_err("quarantined");
    assert!(check.contains("test_no_poison"), "{check}");
    assert_eq!(report.quarantined, 2, "{report:?}");
    assert_eq!(report.created, 10, "{report:?}");
    assert_eq!(count(&app, "SELECT count(*) FROM quarantine").await, 2);
}

/// A transient error (here a serialization failure, SQLSTATE 40001, raised by a trigger)
/// quarantines nothing and moves no cursor: the batch is fetched again, and once the error is
/// gone everything is stored.
#[tokio::test]
async fn a_transient_failure_quarantines_nothing_and_the_batch_is_fetched_again() {
    let env = env(no_platforms()).await;
    let app = env.app().await;
    exec(
        &env,
        "CREATE FUNCTION test_flaky() RETURNS trigger AS $$
         BEGIN
             RAISE EXCEPTION 'simulated conflict' USING ERRCODE = 'serialization_failure';
         END $$ LANGUAGE plpgsql;
         CREATE TRIGGER test_flaky BEFORE INSERT ON tickets FOR EACH ROW
             WHEN (NEW.subject LIKE '%FLAKY%') EXECUTE FUNCTION test_flaky();",
    )
    .await;
    let mut raws: Vec<Vec<u8>> = (1..=5).map(ordinary).collect();
    raws.push(hostile(&["Subject: FLAKY".into()], "flaky"));
    raws.extend((6..=10).map(ordinary));
    env.dovecot
        .append_many("INBOX", &raws)
        .await
        .expect("append");
    let e = run(&app).await.expect_err("the run fails");
    assert!(format!("{e:#}").contains("simulated conflict"), "{e:#}");
    assert_eq!(count(&app, "SELECT count(*) FROM quarantine").await, 0);
    assert_eq!(count(&app, "SELECT count(*) FROM messages").await, 0);
    assert_eq!(cursor(&app).await, 0);

    exec(&env, "DROP TRIGGER test_flaky ON tickets").await;
    let report = run(&app).await.expect("the next run succeeds");
    assert_eq!(report.created, 11, "{report:?}");
    assert_eq!(count(&app, "SELECT count(*) FROM quarantine").await, 0);
    assert_eq!(cursor(&app).await, 11);
}

/// With `fetch_batch` large and `batch_max_bytes` small, batches are cut by bytes: every
/// batch (one cursor step, logged by a trigger) holds messages whose RFC822.SIZE adds up to at
/// most the budget, or a single message over it, exactly as `plan_batches` plans them.
#[tokio::test]
async fn the_byte_budget_splits_batches() {
    let mut env = env(no_platforms()).await;
    env.settings.intake.fetch_batch = 100;
    env.settings.intake.batch_max_bytes = 10_000;
    let app = env.app().await;
    exec(
        &env,
        "CREATE TABLE test_cursor_steps (n BIGSERIAL PRIMARY KEY, last_uid BIGINT NOT NULL);
         GRANT SELECT, INSERT ON test_cursor_steps TO PUBLIC;
         GRANT USAGE ON SEQUENCE test_cursor_steps_n_seq TO PUBLIC;
         CREATE FUNCTION test_log_step() RETURNS trigger AS $$
         BEGIN
             INSERT INTO test_cursor_steps (last_uid) VALUES (NEW.last_uid);
             RETURN NEW;
         END $$ LANGUAGE plpgsql;
         CREATE TRIGGER test_steps AFTER INSERT OR UPDATE ON mailbox_cursors FOR EACH ROW
             EXECUTE FUNCTION test_log_step();",
    )
    .await;
    let mut raws: Vec<Vec<u8>> = Vec::new();
    for i in 1..=12 {
        let mut m = ordinary(i);
        if i == 7 {
            // Over the budget on its own.
            m = hostile(&["From: Big <big@customer.example>".into()], &noise(30_000));
        } else {
            m.truncate(m.len() - 2);
            m.extend(format!(" {}\r\n", noise(3000)).into_bytes());
        }
        raws.push(m);
    }
    env.dovecot
        .append_many("INBOX", &raws)
        .await
        .expect("append");
    let report = run(&app).await.expect("the run succeeds");
    assert_eq!(report.created, 12, "{report:?}");

    let sizes: Vec<(i64, i32)> = sqlx::query_as("SELECT uid, raw_size FROM messages ORDER BY uid")
        .fetch_all(app.desk.pool())
        .await
        .expect("sizes");
    let sizes: Vec<(u32, u64)> = sizes
        .into_iter()
        .map(|(u, s)| (u as u32, s as u64))
        .collect();
    let planned: Vec<i64> = claimdesk::intake::imap::plan_batches(&sizes, 100, 10_000, u64::MAX)
        .iter()
        .map(|b| i64::from(b.last().expect("non-empty batch").0))
        .collect();
    let steps: Vec<(i64,)> = sqlx::query_as("SELECT last_uid FROM test_cursor_steps ORDER BY n")
        .fetch_all(app.desk.pool())
        .await
        .expect("steps");
    let steps: Vec<i64> = steps.into_iter().map(|(u,)| u).collect();
    assert_eq!(steps, planned, "one transaction per planned batch");
    assert!(steps.len() >= 5, "12 messages of ~3 KB in 10 KB: {steps:?}");
    assert!(
        steps.contains(&6) && steps.contains(&7),
        "UID 7 is alone: {steps:?}"
    );
}

/// A message of about 24 MB: a text part and an 18 MB random attachment (base64).
fn big(i: usize) -> Vec<u8> {
    use base64::Engine;
    let mut data = vec![0u8; 18 * 1024 * 1024];
    rand::thread_rng().fill(&mut data[..]);
    let b64 = base64::engine::general_purpose::STANDARD.encode(&data);
    let mut body = String::with_capacity(b64.len() * 78 / 76 + 1024);
    body.push_str("--b\r\nContent-Type: text/plain\r\n\r\nSee attached.\r\n--b\r\n");
    body.push_str(
        "Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n",
    );
    body.push_str("Content-Disposition: attachment; filename=\"big.bin\"\r\n\r\n");
    for line in b64.as_bytes().chunks(76) {
        body.push_str(std::str::from_utf8(line).unwrap_or_default());
        body.push_str("\r\n");
    }
    body.push_str("--b--\r\n");
    format!(
        "From: Big {i} <big{i}@customer.example>\r\nTo: {SUPPORT}\r\nSubject: Big {i}\r\n\
         Message-ID: <big{i}@customer.example>\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n{body}"
    )
    .into_bytes()
}

/// Peak RSS of `claimdesk intake --once` (the test profile's binary, under `/usr/bin/time`)
/// with three ~24 MB messages and an ordinary one in one `fetch_batch`: the byte budget keeps
/// each big one in a batch of its own, and the process stays under the 200 MB target.
/// `CLAIMDESK_TEST_BATCH_MAX_BYTES` overrides the budget (to compare). Ignored by default
/// (it moves ~75 MB through IMAP and Postgres); run with
/// `cargo test --test intake_isolation peak_rss -- --ignored --nocapture`.
///
/// Measured 2026-12 (debug binary, 2 cores, 24 GB): 32 MiB budget 338 MB, unbounded 380 MB
/// with glibc's default malloc — its dynamic mmap threshold keeps freed 24 MB buffers in the
/// heap (199 MB with `MALLOC_MMAP_THRESHOLD_=131072`); with the fixed threshold `main` now
/// sets (`app::tune_allocator`, 128 KiB) 154.5 MB (2026-12-02, same machine).
#[tokio::test]
#[ignore]
async fn peak_rss_with_three_24mb_messages_in_one_batch() {
    let env = env(no_platforms()).await;
    let mut raws: Vec<Vec<u8>> = (1..=3).map(big).collect();
    raws.push(ordinary(1));
    env.dovecot
        .append_many("INBOX", &raws)
        .await
        .expect("append");
    drop(raws);
    let dir = tempfile::tempdir().expect("tempdir");
    let config = env.write_config(dir.path());
    let budget = std::env::var("CLAIMDESK_TEST_BATCH_MAX_BYTES").unwrap_or("33554432".into());
    let text = std::fs::read_to_string(&config).expect("config");
    let text = text.replace(
        "[intake]\n",
        &format!("[intake]\nfetch_batch = 500\nbatch_max_bytes = {budget}\n"),
    );
    std::fs::write(&config, text).expect("config");
    let out = tokio::process::Command::new("/usr/bin/time")
        .arg("-f")
        .arg("PEAK_RSS_KB=%M")
        .arg(env!("CARGO_BIN_EXE_claimdesk"))
        .arg("--config")
        .arg(&config)
        .args(["intake", "--once"])
        .env("TEST_IMAP_PASSWORD", &env.dovecot.password)
        .env("RUST_LOG", "warn")
        .output()
        .await
        .expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let kb: u64 = stderr
        .lines()
        .find_map(|l| l.strip_prefix("PEAK_RSS_KB="))
        .and_then(|v| v.trim().parse().ok())
        .expect("peak RSS in /usr/bin/time output");
    println!(
        "batch_max_bytes = {budget}: peak RSS {:.1} MB",
        kb as f64 / 1024.0
    );
    let app = env.app().await;
    assert_eq!(count(&app, "SELECT count(*) FROM messages").await, 4);
    assert!(kb < 200 * 1024, "peak RSS {kb} kB over the 200 MB target");
}
