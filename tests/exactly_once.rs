//! Exactly-once delivery when the platform accepted a call but its answer never arrived (or
//! the process died before the outbox commit). Slack has no idempotency key: every post
//! carries its outbox key as message metadata and a retry looks for it
//! (`conversations.history` / `conversations.replies` with `include_all_metadata`) before
//! posting. Discord drops a repeated `nonce` sent with `enforce_nonce`. Real Postgres; the
//! stand-ins check every call against the platforms' specs.

mod support;

use std::time::Duration;

use claimdesk::app::App;
use claimdesk::desk::Surface;
use claimdesk::store::outbox::Effect;
use serde_json::Value;
use support::harness::*;
use support::standin::{Behaviour, Recorded};

async fn pending(app: &App) -> i64 {
    count(
        app.desk.pool(),
        "SELECT count(*) FROM outbox WHERE delivered_at IS NULL",
    )
    .await
}

/// Delivers until nothing is pending (retries become due after their backoff).
async fn deliver_everything(app: &App) {
    eventually(30, "outbox drained", || async {
        app.deliverer.drain().await.expect("drain");
        (pending(app).await == 0).then_some(())
    })
    .await;
}

async fn ticket_id(app: &App, number: &str) -> i64 {
    let (id,): (i64,) = sqlx::query_as("SELECT id FROM tickets WHERE number = $1")
        .bind(number)
        .fetch_one(app.desk.pool())
        .await
        .expect("ticket");
    id
}

/// Where the card of ticket `tid` lives on `platform` (it must have been recorded).
async fn card_post(app: &App, tid: i64, platform: &str) -> claimdesk::store::chat_posts::ChatPost {
    let mut conn = app.desk.pool().acquire().await.expect("conn");
    claimdesk::store::chat_posts::get(&mut conn, tid, platform)
        .await
        .expect("read")
        .expect("the card is recorded")
}

/// Queues `effect` for `ticket` as the desk does (its own transaction); returns the row id.
async fn enqueue(app: &App, ticket: Option<i64>, effect: &Effect) -> i64 {
    let mut tx = app.desk.pool().begin().await.expect("tx");
    claimdesk::store::outbox::enqueue(&mut tx, ticket, effect)
        .await
        .expect("enqueue");
    tx.commit().await.expect("commit");
    let (id,): (i64,) = sqlx::query_as("SELECT max(id) FROM outbox")
        .fetch_one(app.desk.pool())
        .await
        .expect("id");
    id
}

async fn slack_env() -> TestEnv {
    let mut env = db_only(Platforms {
        slack: true,
        discord: false,
    })
    .await;
    env.settings.outbox.retry_base_secs = 1;
    env.settings.outbox.call_timeout_secs = 30;
    env
}

/// The effect key (`event_payload.effect_id`) of a stored Slack message, if any.
fn key_of(msg: &Value) -> Option<&str> {
    (msg["metadata"]["event_type"] == "claimdesk_effect")
        .then(|| msg["metadata"]["event_payload"]["effect_id"].as_str())
        .flatten()
}

/// Accepted calls of a lookup `method`, each checked to ask for metadata from a bounded
/// `oldest` with a page limit (arguments of a GET are recorded as the body's fields).
fn lookups(slack: &support::standin::SlackStandin, method: &str) -> Vec<Recorded> {
    let all = slack.calls_to(method);
    for r in &all {
        assert_eq!(r.method, "GET", "{method}");
        assert_eq!(
            r.body["include_all_metadata"], "true",
            "{method}: {}",
            r.body
        );
        assert_eq!(r.body["limit"], "200", "{method}: {}", r.body);
        let oldest: f64 = r.body["oldest"]
            .as_str()
            .and_then(|o| o.parse().ok())
            .expect("oldest");
        let now = chrono::Utc::now().timestamp() as f64;
        assert!(
            oldest > now - 600.0 && oldest < now,
            "{method}: oldest {oldest} is the effect's creation less a margin"
        );
    }
    all
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slack_card_whose_answer_was_lost_is_found_not_posted_again_and_edits_go_to_it() {
    let env = slack_env().await;
    let slack = env.slack.as_ref().expect("slack");
    let app = env.app().await;
    let number = open_ticket(&app, 1, "lost@customer.example", "Printer", "It jams.").await;
    let tid = ticket_id(&app, &number).await;

    // Slack stores the card, the answer is lost.
    slack.queue_behaviour(Behaviour::AcceptThen500);
    app.deliverer.deliver_one().await.expect("attempt");
    assert_eq!(slack.stored_messages().len(), 1, "Slack has the card");
    assert_eq!(pending(&app).await, 1, "the outbox does not know");
    deliver_everything(&app).await;

    let stored = slack.stored_messages();
    assert_eq!(stored.len(), 1, "posted once: {stored:#?}");
    let (channel, card) = &stored[0];
    let key = key_of(card).expect("the card carries its effect key");
    assert!(key.starts_with("cd"), "{key}");
    assert_eq!(slack.effect_messages(key).len(), 1);
    assert_eq!(slack.card_posts().len(), 1, "one accepted card post");
    let history = lookups(slack, "conversations.history");
    assert_eq!(history.len(), 1, "the retry looked once");
    let post = card_post(&app, tid, "slack").await;
    assert_eq!(post.message_ref, card["ts"].as_str().expect("ts"));
    assert_eq!(&post.channel, channel);

    // Later edits go to that one message.
    let ana = actor(&app, "ana", Surface::Slack).await;
    app.desk.claim(&ana, &number).await.expect("claim");
    deliver_everything(&app).await;
    let updates = slack.calls_to("chat.update");
    assert_eq!(updates.len(), 1);
    assert_eq!(updates[0].body["ts"], card["ts"]);
    let shown = slack
        .message(channel, card["ts"].as_str().expect("ts"))
        .expect("card");
    assert!(shown.to_string().contains("Claimed by"), "{shown}");
    assert_eq!(slack.stored_messages().len(), 1);
    assert_eq!(slack.violations(), Vec::<String>::new());
}

/// A crash between Slack accepting the card and the outbox commit: the delivering
/// transaction is dropped (rolled back, `attempts` stays 0), yet the retry knows an attempt
/// began (`outbox_tries`) and finds the card.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slack_card_posted_before_a_crash_is_found_after_it() {
    let env = slack_env().await;
    let slack = env.slack.as_ref().expect("slack");
    let app = env.app().await;
    open_ticket(&app, 1, "crash@customer.example", "Export", "Fails.").await;

    slack.queue_behaviour(Behaviour::AcceptThenHang);
    let crashed = tokio::time::timeout(Duration::from_secs(3), app.deliverer.deliver_one()).await;
    assert!(crashed.is_err(), "the attempt was cut off mid-call");
    assert_eq!(slack.stored_messages().len(), 1, "Slack has the card");
    eventually(10, "the dropped transaction rolled back", || async {
        let attempts = count(
            app.desk.pool(),
            "SELECT coalesce(sum(attempts), 0)::bigint FROM outbox WHERE delivered_at IS NULL",
        )
        .await;
        (attempts == 0).then_some(())
    })
    .await;
    deliver_everything(&app).await;

    let stored = slack.stored_messages();
    assert_eq!(stored.len(), 1, "posted once: {stored:#?}");
    assert_eq!(lookups(slack, "conversations.history").len(), 1);
    assert_eq!(
        count(app.desk.pool(), "SELECT count(*) FROM outbox_tries").await,
        0,
        "the mark is cleared with the delivery"
    );
    assert_eq!(slack.violations(), Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_slack_post_kind_whose_answer_was_lost_lands_once() {
    let env = slack_env().await;
    let slack = env.slack.as_ref().expect("slack");
    let app = env.app().await;
    let number = open_ticket(&app, 1, "kinds@customer.example", "Invoice", "Wrong total.").await;
    let tid = ticket_id(&app, &number).await;
    deliver_everything(&app).await;
    let (first_message,): (i64,) =
        sqlx::query_as("SELECT min(id) FROM messages WHERE ticket_id = $1")
            .bind(tid)
            .fetch_one(app.desk.pool())
            .await
            .expect("message");
    let ana = actor(&app, "ana", Surface::Slack).await;
    app.desk
        .note(&ana, &number, "Checked the invoice run.")
        .await
        .expect("note");
    deliver_everything(&app).await;
    let (note_id,): (i64,) = sqlx::query_as("SELECT max(id) FROM notes WHERE ticket_id = $1")
        .bind(tid)
        .fetch_one(app.desk.pool())
        .await
        .expect("note");

    let slack_name = || "slack".to_string();
    let cases: Vec<(&str, Option<i64>, Effect, &str)> = vec![
        (
            "thread message",
            Some(tid),
            Effect::ThreadMessage {
                platform: slack_name(),
                message_id: first_message,
            },
            "conversations.replies",
        ),
        (
            "thread note",
            Some(tid),
            Effect::ThreadNote {
                platform: slack_name(),
                note_id,
            },
            "conversations.replies",
        ),
        (
            "thread notice",
            Some(tid),
            Effect::ThreadNotice {
                platform: slack_name(),
                text: "Auto-release in 10 minutes.".into(),
            },
            "conversations.replies",
        ),
        (
            "channel notice",
            Some(tid),
            Effect::ChannelNotice {
                platform: slack_name(),
                text: "Possible mail loop.".into(),
            },
            "conversations.history",
        ),
        (
            "direct message",
            None,
            Effect::DirectMessage {
                platform: slack_name(),
                user: ANA_SLACK.into(),
                text: "You were assigned TICK-1.".into(),
            },
            "conversations.history",
        ),
    ];
    for (what, ticket, effect, lookup) in cases {
        let looked_before = slack.calls_to(lookup).len();
        let id = enqueue(&app, ticket, &effect).await;
        if matches!(effect, Effect::DirectMessage { .. }) {
            slack.queue_behaviour(Behaviour::Normal); // conversations.open
        }
        slack.queue_behaviour(Behaviour::AcceptThen500);
        app.deliverer.deliver_one().await.expect("attempt");
        let prefix = match effect {
            Effect::ChannelNotice { .. } => "cx",
            Effect::DirectMessage { .. } => "cn",
            _ => "ct",
        };
        let key = format!("{prefix}{id}");
        assert_eq!(
            slack.effect_messages(&key).len(),
            1,
            "{what}: Slack has it after the first attempt"
        );
        assert_eq!(pending(&app).await, 1, "{what}: the outbox does not know");
        deliver_everything(&app).await;
        let found = slack.effect_messages(&key);
        assert_eq!(found.len(), 1, "{what}: posted once: {found:#?}");
        assert_eq!(
            lookups(slack, lookup).len(),
            looked_before + 1,
            "{what}: the retry looked with {lookup}"
        );
        if ticket.is_some() && lookup == "conversations.replies" {
            assert!(
                found[0].1["thread_ts"].is_string(),
                "{what}: in the card's thread"
            );
        }
    }
    lookups(slack, "conversations.replies");
    lookups(slack, "conversations.history");
    assert_eq!(slack.violations(), Vec::<String>::new());
}

/// A post that failed before Slack stored it: the retry looks, finds nothing, posts once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slack_lookup_that_finds_nothing_posts_once() {
    let env = slack_env().await;
    let slack = env.slack.as_ref().expect("slack");
    let app = env.app().await;
    open_ticket(&app, 1, "none@customer.example", "Login", "Cannot sign in.").await;

    slack.queue_behaviour(Behaviour::Fail500);
    app.deliverer.deliver_one().await.expect("attempt");
    assert!(slack.stored_messages().is_empty());
    deliver_everything(&app).await;
    assert_eq!(slack.stored_messages().len(), 1);
    assert_eq!(slack.card_posts().len(), 1);
    assert_eq!(slack.calls_to("conversations.history").len(), 1);

    // A first attempt does not look at all.
    open_ticket(
        &app,
        2,
        "other@customer.example",
        "Billing",
        "Charged twice.",
    )
    .await;
    deliver_everything(&app).await;
    assert_eq!(slack.card_posts().len(), 2);
    assert_eq!(slack.calls_to("conversations.history").len(), 1);
    assert_eq!(slack.violations(), Vec::<String>::new());
}

/// Without a `*:history` scope the lookup is refused: the post goes ahead (a warning is
/// logged) rather than the card never appearing — the documented at-least-once fallback.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slack_lookup_refused_for_a_missing_scope_posts_rather_than_never() {
    let env = slack_env().await;
    let slack = env.slack.as_ref().expect("slack");
    let app = env.app().await;
    open_ticket(&app, 1, "scope@customer.example", "Access", "Locked out.").await;

    slack.queue_behaviour(Behaviour::AcceptThen500);
    app.deliverer.deliver_one().await.expect("attempt");
    slack.queue_behaviour(Behaviour::Refused); // conversations.history: missing_scope
    deliver_everything(&app).await;
    assert_eq!(
        slack
            .received()
            .iter()
            .filter(|r| r.path == "/api/conversations.history")
            .count(),
        1
    );
    assert_eq!(slack.stored_messages().len(), 2, "posted again, not lost");
    assert_eq!(pending(&app).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discord_card_whose_answer_was_lost_is_not_repeated_thanks_to_the_nonce() {
    let mut env = db_only(Platforms {
        slack: false,
        discord: true,
    })
    .await;
    env.settings.outbox.retry_base_secs = 1;
    let discord = env.discord.as_ref().expect("discord");
    let app = env.app().await;
    let number = open_ticket(&app, 1, "nonce@customer.example", "Printer", "It jams.").await;
    let tid = ticket_id(&app, &number).await;

    discord.queue_behaviour(Behaviour::AcceptThen500);
    app.deliverer.deliver_one().await.expect("attempt");
    assert_eq!(pending(&app).await, 1);
    deliver_everything(&app).await;

    let path = format!("/channels/{DISCORD_CHANNEL}/messages");
    let posts = discord.calls_to("POST", &path);
    assert_eq!(posts.len(), 2, "the card was sent twice");
    let nonce = posts[0].body["nonce"].as_str().expect("nonce").to_string();
    for p in &posts {
        assert_eq!(p.body["nonce"], nonce.as_str(), "the same nonce");
        assert_eq!(p.body["enforce_nonce"], true);
    }
    assert_eq!(discord.messages_with_nonce(&nonce).len(), 1, "one message");
    let post = card_post(&app, tid, "discord").await;
    assert_eq!(
        discord.messages_with_nonce(&nonce)[0]["id"],
        post.message_ref.as_str()
    );

    let ana = actor(&app, "ana", Surface::Discord).await;
    app.desk.claim(&ana, &number).await.expect("claim");
    deliver_everything(&app).await;
    let edits = discord.calls_to("PATCH", &format!("{path}/{}", post.message_ref));
    assert_eq!(edits.len(), 1, "the edit goes to the one card");
    assert_eq!(discord.violations(), Vec::<String>::new());
}

/// SMTP cannot be asked whether it took a message, so the worker stamps `accepted_at` the
/// moment the server answers 250, outside the delivering transaction. A process that dies
/// between that stamp and its commit leaves the stamp: the next attempt records the send and
/// queues the reply's chat copy, and sends nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_email_the_server_accepted_before_a_crash_is_not_sent_again() {
    let env = env(Platforms {
        slack: true,
        discord: false,
    })
    .await;
    let app = env.app().await;
    let number = open_ticket(&app, 1, "sent@customer.example", "Refund", "Please.").await;
    deliver_everything(&app).await;
    let ben = actor(&app, "ben", Surface::Slack).await;
    app.desk
        .reply(&ben, &number, "Refunded today.")
        .await
        .expect("reply");
    let (email_item,): (i64,) = sqlx::query_as(
        "SELECT id FROM outbox WHERE delivered_at IS NULL AND payload->>'kind' = 'email'",
    )
    .fetch_one(app.desk.pool())
    .await
    .expect("the reply's email is queued");
    // What a crash right after the server's 250 leaves behind.
    let mut conn = app.desk.pool().acquire().await.expect("conn");
    claimdesk::store::outbox_tries::accepted(&mut conn, email_item)
        .await
        .expect("stamp");
    drop(conn);
    let before = env.smtp.messages().len();

    deliver_everything(&app).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(env.smtp.messages().len(), before, "not sent again");
    assert_eq!(
        count(
            app.desk.pool(),
            "SELECT count(*) FROM messages WHERE direction = 'outbound' AND sent_at IS NOT NULL"
        )
        .await,
        1,
        "the send is recorded"
    );
    assert_eq!(
        count(app.desk.pool(), "SELECT count(*) FROM outbox_tries").await,
        0
    );
    let slack = env.slack.as_ref().expect("slack");
    let copies = slack
        .stored_messages()
        .into_iter()
        .filter(|(_, m)| m.to_string().contains("Refunded today."))
        .count();
    assert_eq!(copies, 1, "the reply's chat copy is posted once");

    // Without the stamp, a reply goes out (the check is not a blanket refusal).
    app.desk
        .reply(&ben, &number, "And the receipt.")
        .await
        .expect("reply");
    deliver_everything(&app).await;
    eventually(10, "the second reply is received", || async {
        (env.smtp.messages().len() == before + 1).then_some(())
    })
    .await;
}

/// Discord thread posts (notes, thread messages, notices) and channel notices carry the
/// outbox key as `nonce` with `enforce_nonce`, like cards: a note whose answer was lost is
/// one message in the thread.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discord_note_whose_answer_was_lost_is_one_message_in_the_thread() {
    let mut env = db_only(Platforms {
        slack: false,
        discord: true,
    })
    .await;
    env.settings.outbox.retry_base_secs = 1;
    let discord = env.discord.as_ref().expect("discord");
    let app = env.app().await;
    let number = open_ticket(
        &app,
        1,
        "thread@customer.example",
        "Scanner",
        "Blank pages.",
    )
    .await;
    let tid = ticket_id(&app, &number).await;
    let ana = actor(&app, "ana", Surface::Discord).await;
    app.desk
        .note(&ana, &number, "Driver reinstalled.")
        .await
        .expect("note");
    // Card, thread and the note's first copy are there.
    deliver_everything(&app).await;
    let (note_id,): (i64,) = sqlx::query_as("SELECT max(id) FROM notes WHERE ticket_id = $1")
        .bind(tid)
        .fetch_one(app.desk.pool())
        .await
        .expect("note");
    let item = enqueue(
        &app,
        Some(tid),
        &Effect::ThreadNote {
            platform: "discord".into(),
            note_id,
        },
    )
    .await;

    discord.queue_behaviour(Behaviour::AcceptThen500);
    app.deliverer.deliver_one().await.expect("attempt");
    assert_eq!(pending(&app).await, 1, "the answer was lost: retried");
    deliver_everything(&app).await;

    let nonce = format!("ct{item}");
    let posts: Vec<_> = discord
        .requests()
        .into_iter()
        .filter(|c| c.method == "POST" && c.body["nonce"] == nonce.as_str())
        .collect();
    assert_eq!(posts.len(), 2, "sent twice: {posts:#?}");
    for p in &posts {
        assert_eq!(p.body["enforce_nonce"], true);
    }
    assert_eq!(discord.messages_with_nonce(&nonce).len(), 1, "one message");
    assert_eq!(discord.violations(), Vec::<String>::new());
}
