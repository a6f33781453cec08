//! Attachments in chat (issue 11): the card lists every attachment of the ticket with its
//! size (names escaped), and files up to the platform's upload limit go into the card's
//! thread through the outbox — Slack `files.getUploadURLExternal` + upload URL +
//! `files.completeUploadExternal`, Discord a multipart message — byte-identical to the
//! email's, under a sanitised name; larger files are only listed. A redelivery after a crash
//! between the upload and the commit is dropped by Discord (`nonce` + `enforce_nonce`); Slack
//! has no such key, so it shares the file once more (the residual risk, pinned here).

mod support;

use base64::Engine;
use claimdesk::desk::{Ingested, Source};
use support::harness::*;

const LIMIT: u64 = 64 * 1024;

fn b64(bytes: &[u8]) -> String {
    let s = base64::engine::general_purpose::STANDARD.encode(bytes);
    s.as_bytes()
        .chunks(76)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join("\r\n")
}

/// Deterministic, incompressible-looking test bytes.
fn bytes(n: usize, seed: u8) -> Vec<u8> {
    (0..n)
        .map(|i| ((i as u64 * 2_654_435_761 + u64::from(seed)) >> 7) as u8)
        .collect()
}

fn email(message_id: &str, in_reply_to: Option<&str>, files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut m = format!(
        "From: Dana <dana@customer.example>\r\nTo: {SUPPORT}\r\nSubject: Crash logs\r\n\
         Message-ID: <{message_id}>\r\nMIME-Version: 1.0\r\n"
    );
    if let Some(p) = in_reply_to {
        m.push_str(&format!("In-Reply-To: <{p}>\r\nReferences: <{p}>\r\n"));
    }
    m.push_str("Content-Type: multipart/mixed; boundary=\"XX\"\r\n\r\n--XX\r\n");
    m.push_str("Content-Type: text/plain; charset=utf-8\r\n\r\nLogs attached.\r\n");
    for (name, data) in files {
        m.push_str(&format!(
            "--XX\r\nContent-Type: application/octet-stream\r\n\
             Content-Disposition: attachment; filename=\"{name}\"\r\n\
             Content-Transfer-Encoding: base64\r\n\r\n{}\r\n",
            b64(data)
        ));
    }
    m.push_str("--XX--\r\n");
    m.into_bytes()
}

/// Ingests `raw` as UID `uid` of the support mailbox and delivers the outbox.
async fn deliver_email(app: &claimdesk::app::App, uid: u32, raw: &[u8]) {
    app.desk.ingest(src(uid), raw).await.expect("ingest");
    app.deliverer.drain().await.expect("deliver");
}

/// Makes every undelivered outbox item due now (skips the retry backoff).
async fn due_now(pool: &sqlx::PgPool) {
    sqlx::query("UPDATE outbox SET next_attempt_at = now() WHERE delivered_at IS NULL")
        .execute(pool)
        .await
        .expect("due now");
}

fn src(uid: u32) -> Source<'static> {
    Source {
        mailbox: "support",
        uidvalidity: 1,
        uid,
    }
}

async fn post_refs(app: &claimdesk::app::App, platform: &str) -> (String, String, Option<String>) {
    sqlx::query_as("SELECT channel, message_ref, thread_ref FROM chat_posts WHERE platform = $1")
        .bind(platform)
        .fetch_one(app.desk.pool())
        .await
        .expect("card posted")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn small_files_go_into_the_thread_byte_identical_large_ones_are_only_listed() {
    let mut env = env(Platforms {
        slack: true,
        discord: true,
    })
    .await;
    if let Some(s) = env.settings.slack.as_mut() {
        s.upload_max_bytes = LIMIT;
    }
    if let Some(d) = env.settings.discord.as_mut() {
        d.upload_max_bytes = LIMIT;
    }
    let slack = env.slack.as_ref().expect("slack");
    let discord = env.discord.as_ref().expect("discord");
    let app = env.app().await;
    let small = bytes(20 * 1024, 1);
    let large = bytes(100 * 1024, 2);
    const HOSTILE: &str = "../../<!channel> report.txt";
    const SAFE: &str = "_!channel_ report.txt";

    // Given an email with a small file under a hostile name and one over the limit
    let r = app
        .desk
        .ingest(
            src(1),
            &email(
                "a1@customer.example",
                None,
                &[(HOSTILE, &small), ("core.dump", &large)],
            ),
        )
        .await
        .expect("ingest");
    assert!(matches!(r, Ingested::Created(_)), "{r:?}");
    // When the outbox is delivered
    app.deliverer.drain().await.expect("deliver");

    // Then the Slack card lists both, the name escaped
    let cards = slack.card_posts();
    assert_eq!(cards.len(), 1);
    let card = cards[0].body["blocks"].to_string();
    assert!(
        card.contains("📎 ../../&lt;!channel&gt; report.txt · 20.0 KiB"),
        "{card}"
    );
    assert!(card.contains("📎 core.dump · 100.0 KiB"), "{card}");
    assert!(!card.contains("<!channel>"), "{card}");
    // … and only the small file is shared in the card's thread, byte-identical
    let (channel, ts, _) = post_refs(&app, "slack").await;
    let shared = slack.shared_files();
    assert_eq!(shared.len(), 1, "{shared:?}");
    assert_eq!(shared[0].data, small);
    assert_eq!(shared[0].filename, SAFE);
    assert_eq!(shared[0].channel, channel);
    assert_eq!(shared[0].thread_ts.as_deref(), Some(ts.as_str()));

    // On Discord the embed lists both and the thread gets the small file only
    let card = discord
        .calls_to("POST", &format!("/channels/{DISCORD_CHANNEL}/messages"))
        .first()
        .map(|r| r.body.to_string())
        .expect("discord card");
    assert!(card.contains("report.txt · 20.0 KiB"), "{card}");
    assert!(card.contains("core.dump · 100.0 KiB"), "{card}");
    let (_, _, thread) = post_refs(&app, "discord").await;
    let thread = thread.expect("the upload started the card's thread");
    let uploads = discord.uploads();
    assert_eq!(uploads.len(), 1, "{uploads:?}");
    assert_eq!(uploads[0].data, small);
    assert_eq!(uploads[0].filename.as_deref(), Some(SAFE));
    assert_eq!(
        uploads[0].path,
        format!("/api/v10/channels/{thread}/messages")
    );

    // When the platforms accepted the uploads but the commit was lost (a crash), the outbox
    // delivers them again:
    sqlx::query(
        "UPDATE outbox SET delivered_at = NULL, next_attempt_at = now() WHERE kind = 'thread_file'",
    )
    .execute(app.desk.pool())
    .await
    .expect("forget delivery");
    app.deliverer.drain().await.expect("redeliver");
    // Then Discord drops the repeat (same nonce, enforce_nonce) …
    assert_eq!(discord.uploads().len(), 1, "{:?}", discord.uploads());
    // … while Slack, which has no idempotency key for uploads, shares it once more.
    assert_eq!(slack.shared_files().len(), 2);

    // A follow-up with a small file brings it into the thread with its thread post.
    let more = bytes(3000, 3);
    let r = app
        .desk
        .ingest(
            src(2),
            &email(
                "a2@customer.example",
                Some("a1@customer.example"),
                &[("more.log", &more)],
            ),
        )
        .await
        .expect("follow-up");
    assert!(matches!(r, Ingested::Joined(_)), "{r:?}");
    app.deliverer.drain().await.expect("deliver");
    let shared = slack.shared_files();
    assert_eq!(shared.len(), 3);
    assert_eq!(
        (shared[2].filename.as_str(), &shared[2].data),
        ("more.log", &more)
    );
    let uploads = discord.uploads();
    assert_eq!(uploads.len(), 2);
    assert_eq!(uploads[1].data, more);

    assert!(slack.violations().is_empty(), "{:?}", slack.violations());
    assert!(
        discord.violations().is_empty(),
        "{:?}",
        discord.violations()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_limit_of_zero_lists_files_and_uploads_none() {
    let mut env = env(Platforms {
        slack: true,
        discord: true,
    })
    .await;
    if let Some(s) = env.settings.slack.as_mut() {
        s.upload_max_bytes = 0;
    }
    if let Some(d) = env.settings.discord.as_mut() {
        d.upload_max_bytes = 0;
    }
    let slack = env.slack.as_ref().expect("slack");
    let discord = env.discord.as_ref().expect("discord");
    let app = env.app().await;
    let small = bytes(100, 4);
    deliver_email(
        &app,
        1,
        &email("z1@customer.example", None, &[("tiny.txt", &small)]),
    )
    .await;
    assert!(slack.card_posts()[0]
        .body
        .to_string()
        .contains("📎 tiny.txt · 100 B"));
    assert!(slack.shared_files().is_empty());
    assert!(discord.uploads().is_empty());
    let (n,): (i64,) = sqlx::query_as("SELECT count(*) FROM outbox WHERE kind = 'thread_file'")
        .fetch_one(app.desk.pool())
        .await
        .expect("count");
    assert_eq!(n, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_harmless_kinds_are_uploaded_the_rest_is_listed() {
    let env = env(Platforms {
        slack: true,
        discord: true,
    })
    .await;
    let slack = env.slack.as_ref().expect("slack");
    let discord = env.discord.as_ref().expect("discord");
    let app = env.app().await;
    let small = bytes(100, 5);
    deliver_email(
        &app,
        1,
        &email(
            "k1@customer.example",
            None,
            &[
                ("invoice.html", &small),
                ("setup.exe", &small),
                ("shot.png", &small),
            ],
        ),
    )
    .await;
    let card = slack.card_posts()[0].body.to_string();
    for name in ["invoice.html", "setup.exe", "shot.png"] {
        assert!(card.contains(name), "{name} not listed: {card}");
    }
    let shared = slack.shared_files();
    assert_eq!(shared.len(), 1, "only the image is shared");
    assert_eq!(shared[0].filename, "shot.png");
    let uploads = discord.uploads();
    assert_eq!(uploads.len(), 1, "only the image is uploaded");
    assert_eq!(uploads[0].filename.as_deref(), Some("shot.png"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_discord_thread_started_but_not_recorded_is_found_again() {
    let env = env(Platforms {
        slack: false,
        discord: true,
    })
    .await;
    let discord = env.discord.as_ref().expect("discord");
    let app = env.app().await;
    let small = bytes(100, 6);
    deliver_email(
        &app,
        1,
        &email("t1@customer.example", None, &[("a.txt", &small)]),
    )
    .await;
    let (card, thread): (String, Option<String>) =
        sqlx::query_as("SELECT message_ref, thread_ref FROM chat_posts WHERE platform = 'discord'")
            .fetch_one(app.desk.pool())
            .await
            .expect("post");
    assert_eq!(thread.as_deref(), Some(card.as_str()), "thread started");
    let posts = || {
        discord
            .calls_to("POST", &format!("/channels/{card}/messages"))
            .len()
    };
    let before = posts();
    // As if the call that started the thread had been lost before the commit.
    sqlx::query("UPDATE chat_posts SET thread_ref = NULL WHERE platform = 'discord'")
        .execute(app.desk.pool())
        .await
        .expect("forget thread");
    deliver_email(
        &app,
        2,
        &email("t2@customer.example", Some("t1@customer.example"), &[]),
    )
    .await;
    let (stuck,): (i64,) = sqlx::query_as("SELECT count(*) FROM outbox WHERE delivered_at IS NULL")
        .fetch_one(app.desk.pool())
        .await
        .expect("count");
    assert_eq!(stuck, 0, "the follow-up reached the thread");
    let (thread,): (Option<String>,) =
        sqlx::query_as("SELECT thread_ref FROM chat_posts WHERE platform = 'discord'")
            .fetch_one(app.desk.pool())
            .await
            .expect("post");
    assert_eq!(thread.as_deref(), Some(card.as_str()), "thread found again");
    assert_eq!(
        posts(),
        before + 1,
        "the follow-up is posted in the same thread"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_the_platform_keeps_refusing_is_given_up_and_holds_nothing_up() {
    let env = env(Platforms {
        slack: false,
        discord: true,
    })
    .await;
    let discord = env.discord.as_ref().expect("discord");
    let app = env.app().await;
    let pool = app.desk.pool().clone();
    app.desk
        .ingest(
            src(1),
            &email("g1@customer.example", None, &[("a.txt", &bytes(100, 7))]),
        )
        .await
        .expect("ingest");
    // The card goes out; then Discord refuses everything for a while.
    app.deliverer.deliver_one().await.expect("card");
    discord.set_behaviour(support::standin::Behaviour::Fail500);
    for _ in 0..claimdesk::worker::UPLOAD_MAX_ATTEMPTS {
        due_now(&pool).await;
        app.deliverer.drain().await.expect("attempt");
    }
    let (delivered, error): (bool, Option<String>) = sqlx::query_as(
        "SELECT delivered_at IS NOT NULL, last_error FROM outbox WHERE kind = 'thread_file'",
    )
    .fetch_one(&pool)
    .await
    .expect("upload item");
    assert!(
        delivered,
        "given up after {} attempts",
        claimdesk::worker::UPLOAD_MAX_ATTEMPTS
    );
    assert!(error.is_some_and(|e| e.starts_with("given up: ")));
    // Discord is back: the customer's next message reaches the thread; nothing is stuck.
    discord.set_behaviour(support::standin::Behaviour::Normal);
    app.desk
        .ingest(
            src(2),
            &email("g2@customer.example", Some("g1@customer.example"), &[]),
        )
        .await
        .expect("follow-up");
    due_now(&pool).await;
    app.deliverer.drain().await.expect("deliver");
    let (stuck,): (i64,) = sqlx::query_as("SELECT count(*) FROM outbox WHERE delivered_at IS NULL")
        .fetch_one(&pool)
        .await
        .expect("count");
    assert_eq!(stuck, 0);
    assert!(discord.uploads().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_slack_stand_in_catches_uploads_that_break_the_documented_flow() {
    let slack = support::standin::SlackStandin::start()
        .await
        .expect("stand-in");
    let http = reqwest::Client::new();
    let auth = ("authorization", "Bearer xoxb-test-token");
    let api = &slack.api_url;
    // A file id for 10 bytes, then 5 bytes uploaded
    let v: serde_json::Value = http
        .get(format!(
            "{api}/files.getUploadURLExternal?filename=a.txt&length=10"
        ))
        .header(auth.0, auth.1)
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(v["ok"], true, "{v}");
    let url = v["upload_url"].as_str().expect("upload_url");
    let r = http
        .post(url)
        .body(vec![7u8; 5])
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 400);
    // No length
    let v: serde_json::Value = http
        .get(format!("{api}/files.getUploadURLExternal?filename=a.txt"))
        .header(auth.0, auth.1)
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(v["ok"], false, "{v}");
    // Completing a file that was never handed out, into a thread that does not exist
    let v: serde_json::Value = http
        .post(format!("{api}/files.completeUploadExternal"))
        .header(auth.0, auth.1)
        .json(&serde_json::json!({"files": [{"id": "F0NOPE"}], "channel_id": SLACK_CHANNEL}))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(v["ok"], false, "{v}");
    let v: serde_json::Value = http
        .post(format!("{api}/files.completeUploadExternal"))
        .header(auth.0, auth.1)
        .json(&serde_json::json!({"files": [{"id": "F0STANDIN0001"}],
                                  "channel_id": SLACK_CHANNEL, "thread_ts": "1.000001"}))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(v["error"], "invalid_thread_ts", "{v}");
    let violations = slack.violations();
    assert_eq!(violations.len(), 4, "{violations:?}");
    for want in [
        "whose length was declared as 10",
        "\"length\" is missing",
        "never handed out",
        "not a top-level message",
    ] {
        assert!(
            violations.iter().any(|v| v.contains(want)),
            "{want}: {violations:?}"
        );
    }
    assert!(slack.shared_files().is_empty());
}
