//! Personal notifications (issue 15) against real Postgres and the Slack and Discord
//! stand-ins, which check every call (`conversations.open`, `chat.postMessage`,
//! `POST /users/@me/channels`, `POST /channels/{id}/messages`) against the official specs:
//! a DM on assignment (not on a self-claim) on both platforms, on a customer answer (real
//! email through ingest, single and batch path), several answers folded into one DM, quiet
//! hours holding everything for one summary, a kind turned off recording nothing, an agent
//! without a user id getting no DM and no retries, an SLA warning to the holder, a repeated
//! delivery posting once on either platform, and `claimdesk serve` killed between fold and delivery
//! sending the DM exactly once after the restart. `notify` on every surface is walked by
//! tests/catalogue.rs.
//!
//! The sweep (`Desk::notify_sweep`, what the loop in `serve` calls) is run here with the
//! moment it should judge, so folding and quiet hours are tested without waiting.

mod support;

use std::time::Duration;

use chrono::Utc;
use claimdesk::app::App;
use claimdesk::chat::commands::{execute, Command};
use claimdesk::desk::{Fetched, Ingested, Surface};
use support::harness::*;
use support::standin::Behaviour;

const BOTH: Platforms = Platforms {
    slack: true,
    discord: true,
};

/// Runs `notify <text>` as `handle` on `surface` and returns the answer.
async fn notify(app: &App, handle: &str, surface: Surface, text: &str) -> String {
    let who = actor(app, handle, surface).await;
    execute(&app.desk, &who, Command::Notify(text.into())).await
}

/// Ana (admin) assigns `number` to `to`.
async fn assign(app: &App, number: &str, to: &str) {
    let ana = actor(app, "ana", Surface::Slack).await;
    let answer = execute(&app.desk, &ana, Command::Assign(number.into(), to.into())).await;
    assert!(answer.contains(&format!("@{to}")), "{answer}");
}

/// A customer answer to the ticket opened by `parent`.
fn answer(message_id: &str, parent: &str, body: &str) -> Vec<u8> {
    customer_email(message_id, "Re: help", body, Some(parent))
}

async fn sweep_and_deliver(app: &App, at: chrono::DateTime<Utc>) -> usize {
    let o = app.desk.notify_sweep(at).await.expect("sweep");
    app.deliverer.drain().await.expect("drain");
    o.messages
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn assignment_dms_the_new_holder_on_slack_and_discord_but_not_a_self_claim() {
    let env = db_only(BOTH).await;
    let app = env.app().await;
    let slack = env.slack.as_ref().expect("slack");
    let discord = env.discord.as_ref().expect("discord");
    let t1 = open_ticket(
        &app,
        1,
        "a1@customer.example",
        "Invoice <!channel> @everyone",
        "Hi",
    )
    .await;
    let t2 = open_ticket(&app, 2, "a2@customer.example", "Second", "Hi").await;
    let t3 = open_ticket(&app, 3, "a3@customer.example", "Third", "Hi").await;
    assign(&app, &t1, "ben").await;
    // Claiming yourself, or an admin taking a ticket themselves, tells nobody.
    let ben = actor(&app, "ben", Surface::Discord).await;
    execute(&app.desk, &ben, Command::Claim(t2.clone())).await;
    assign(&app, &t3, "ana").await;
    assert_eq!(
        count(&app, "SELECT count(*) FROM notifications").await,
        1,
        "only the assignment by someone else is recorded"
    );

    assert_eq!(
        sweep_and_deliver(&app, Utc::now()).await,
        2,
        "one DM per platform"
    );
    let on_slack = slack.direct_messages(BEN_SLACK);
    assert_eq!(on_slack.len(), 1, "{on_slack:?}");
    assert!(on_slack[0].contains(&t1), "{}", on_slack[0]);
    assert!(on_slack[0].contains("assigned by @ana"), "{}", on_slack[0]);
    assert!(
        on_slack[0].contains("&lt;!channel&gt;"),
        "escaped: {}",
        on_slack[0]
    );
    let opens = slack.calls_to("conversations.open");
    assert_eq!(opens.len(), 1);
    assert_eq!(opens[0].body["users"], BEN_SLACK);
    let on_discord = discord.direct_messages(BEN_DISCORD);
    assert_eq!(on_discord.len(), 1, "{on_discord:?}");
    let content = on_discord[0]["content"].as_str().unwrap_or_default();
    assert!(
        content.contains(&t1) && content.contains("assigned by @ana"),
        "{content}"
    );
    assert!(on_discord[0]["nonce"].is_string(), "{}", on_discord[0]);
    let dm_posts: Vec<_> = discord
        .requests()
        .into_iter()
        .filter(|r| r.body["nonce"] == on_discord[0]["nonce"])
        .collect();
    assert!(dm_posts.iter().all(|r| r.body["enforce_nonce"] == true));
    assert_eq!(
        dm_posts[0].body["allowed_mentions"]["parse"],
        serde_json::json!([])
    );
    assert!(slack.direct_messages(ANA_SLACK).is_empty());
    assert!(discord.direct_messages(ANA_DISCORD).is_empty());

    // Swept and delivered once: another sweep and drain send nothing more.
    assert_eq!(sweep_and_deliver(&app, Utc::now()).await, 0);
    assert_eq!(slack.direct_messages(BEN_SLACK).len(), 1);
    assert_eq!(discord.direct_messages(BEN_DISCORD).len(), 1);
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM notifications WHERE state = 'sent'"
        )
        .await,
        1
    );
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM outbox WHERE delivered_at IS NULL"
        )
        .await,
        0
    );
    assert_eq!(slack.violations(), Vec::<String>::new());
    assert_eq!(discord.violations(), Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_assignment_policy_dms_the_agent_it_picks() {
    let mut env = db_only(BOTH).await;
    env.settings.departments[0].assignment = claimdesk::domain::assignment::Mode::Auto;
    let app = env.app().await;
    let t1 = open_ticket(&app, 1, "p1@customer.example", "Auto", "Hi").await;
    let (holder,): (Option<String>,) = sqlx::query_as(
        "SELECT a.handle FROM tickets t LEFT JOIN agents a ON a.id = t.assignee_id WHERE t.number = $1",
    )
    .bind(&t1)
    .fetch_one(app.desk.pool())
    .await
    .expect("holder");
    let holder = holder.expect("auto-assigned");
    assert_eq!(sweep_and_deliver(&app, Utc::now()).await, 2);
    let id = match holder.as_str() {
        "ana" => ANA_SLACK,
        "ben" => BEN_SLACK,
        _ => CY_SLACK,
    };
    let dms = env.slack.as_ref().expect("slack").direct_messages(id);
    assert_eq!(dms.len(), 1, "{holder}: {dms:?}");
    assert!(dms[0].contains("assigned automatically"), "{}", dms[0]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn customer_answers_on_a_held_ticket_fold_into_one_dm_single_and_batch_path() {
    let env = db_only(BOTH).await;
    let app = env.app().await;
    let slack = env.slack.as_ref().expect("slack");
    let discord = env.discord.as_ref().expect("discord");
    let held = open_ticket(&app, 1, "h1@customer.example", "Export fails", "Hi").await;
    let unheld = open_ticket(&app, 2, "u1@customer.example", "Nobody's", "Hi").await;
    let ben = actor(&app, "ben", Surface::Slack).await;
    execute(&app.desk, &ben, Command::Claim(held.clone())).await;
    let start = Utc::now();

    // One answer through the single-message path …
    let one = app
        .desk
        .ingest(
            src(3),
            &answer("h2@customer.example", "h1@customer.example", "More"),
        )
        .await
        .expect("ingest");
    assert_eq!(one, Ingested::Joined(held.clone()));
    // … two more, and one on the unheld ticket, in one batch (the unit of work).
    let batch: Vec<Fetched> = [
        (
            4,
            answer("h3@customer.example", "h1@customer.example", "Still"),
        ),
        (
            5,
            answer("u2@customer.example", "u1@customer.example", "Hello?"),
        ),
        (
            6,
            answer("h4@customer.example", "h1@customer.example", "Any news"),
        ),
    ]
    .into_iter()
    .map(|(uid, raw)| {
        let n = raw.len();
        Fetched::new(uid, raw, n).received(Utc::now())
    })
    .collect();
    let done = app
        .desk
        .ingest_batch("support", 1, &batch)
        .await
        .expect("batch");
    assert_eq!(done[1], Ingested::Joined(unheld));
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM notifications WHERE kind = 'replies' AND state = 'pending'"
        )
        .await,
        3,
        "one notice per answer on the held ticket, none for the unheld one"
    );

    // Within the fold window nothing goes out; the sweep knows when to look again.
    let o = app.desk.notify_sweep(Utc::now()).await.expect("sweep");
    assert_eq!(o.messages, 0);
    let next = o.next.expect("a moment to wake at");
    assert!(next >= start + chrono::Duration::seconds(119), "{next}");
    // After it: one DM per platform listing them together.
    assert_eq!(sweep_and_deliver(&app, next).await, 2);
    let dms = slack.direct_messages(BEN_SLACK);
    assert_eq!(dms.len(), 1, "{dms:?}");
    assert!(
        dms[0].contains(&held) && dms[0].contains("(3 messages)"),
        "{}",
        dms[0]
    );
    let d = discord.direct_messages(BEN_DISCORD);
    assert_eq!(d.len(), 1);
    assert!(d[0]["content"]
        .as_str()
        .unwrap_or("")
        .contains("(3 messages)"));
    assert_eq!(slack.violations(), Vec::<String>::new());
    assert_eq!(discord.violations(), Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quiet_hours_hold_everything_and_the_next_message_summarises() {
    let env = db_only(BOTH).await;
    let app = env.app().await;
    let slack = env.slack.as_ref().expect("slack");
    let now = Utc::now();
    let range = format!(
        "{}-{}",
        (now - chrono::Duration::hours(1)).format("%H:%M"),
        (now + chrono::Duration::hours(1)).format("%H:%M")
    );
    let set = notify(&app, "ben", Surface::Discord, &format!("quiet {range} UTC")).await;
    assert!(set.contains(&format!("Quiet hours {range} UTC")), "{set}");
    let t1 = open_ticket(&app, 1, "q1@customer.example", "At night", "Hi").await;
    assign(&app, &t1, "ben").await;
    app.desk
        .ingest(
            src(2),
            &answer("q2@customer.example", "q1@customer.example", "Hello?"),
        )
        .await
        .expect("ingest");

    // During quiet hours nothing is sent, and nothing is lost.
    let o = app.desk.notify_sweep(Utc::now()).await.expect("sweep");
    assert_eq!(o.messages, 0);
    app.deliverer.drain().await.expect("drain");
    assert!(slack.direct_messages(BEN_SLACK).is_empty());
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM notifications WHERE state = 'pending'"
        )
        .await,
        2
    );
    let end = o.next.expect("due when quiet hours end");
    assert!(end > now + chrono::Duration::minutes(58), "{end}");
    assert!(end <= now + chrono::Duration::hours(1), "{end}");

    // The first message after them lists everything held.
    assert_eq!(sweep_and_deliver(&app, end).await, 2);
    let dms = slack.direct_messages(BEN_SLACK);
    assert_eq!(dms.len(), 1, "{dms:?}");
    assert!(
        dms[0].starts_with("🔔 While your notifications were quiet: 2 updates"),
        "{}",
        dms[0]
    );
    assert!(
        dms[0].contains("is now yours") && dms[0].contains("answered"),
        "{}",
        dms[0]
    );
    assert_eq!(slack.violations(), Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kind_turned_off_records_nothing_and_bad_settings_are_refused() {
    let env = db_only(BOTH).await;
    let app = env.app().await;
    let slack = env.slack.as_ref().expect("slack");
    let off = notify(&app, "ben", Surface::Slack, "assigned off").await;
    assert!(off.contains("`assigned` off"), "{off}");
    let off = notify(&app, "ben", Surface::Console, "REPLIES off").await;
    assert!(off.contains("`replies` off"), "{off}");
    let t1 = open_ticket(&app, 1, "k1@customer.example", "Off", "Hi").await;
    assign(&app, &t1, "ben").await;
    app.desk
        .ingest(
            src(2),
            &answer("k2@customer.example", "k1@customer.example", "Hello?"),
        )
        .await
        .expect("ingest");
    assert_eq!(count(&app, "SELECT count(*) FROM notifications").await, 0);
    assert_eq!(
        sweep_and_deliver(&app, Utc::now() + chrono::Duration::hours(1)).await,
        0
    );
    assert!(slack.direct_messages(BEN_SLACK).is_empty());

    // Refusals say why and change nothing.
    for (typed, why) in [
        ("quiet 25:00-07:00 UTC", "is not a range of hours"),
        ("quiet 22:00-07:00 Mars/Olympus", "is not a time zone"),
        ("quiet 22:00-07:00", "Add your time zone"),
        ("loud on", "is not a notification setting"),
        ("sla maybe", "is neither `on` nor `off`"),
    ] {
        let answer = notify(&app, "ben", Surface::Discord, typed).await;
        assert!(
            answer.contains(why) && answer.contains("Usage:"),
            "{typed}: {answer}"
        );
    }
    let shown = notify(&app, "ben", Surface::Slack, "").await;
    for line in ["`assigned` off", "`replies` off", "`sla` on", "`quiet` off"] {
        assert!(shown.contains(line), "{line} in {shown}");
    }
    assert!(
        shown.contains("Slack") && shown.contains("Discord"),
        "{shown}"
    );

    // Turned on again, the next assignment is told.
    notify(&app, "ben", Surface::Slack, "assigned on").await;
    let t2 = open_ticket(&app, 3, "k3@customer.example", "On", "Hi").await;
    assign(&app, &t2, "ben").await;
    assert_eq!(sweep_and_deliver(&app, Utc::now()).await, 2);
    let dms = slack.direct_messages(BEN_SLACK);
    assert_eq!(dms.len(), 1);
    assert!(dms[0].contains(&t2), "{}", dms[0]);
    let (audited,): (i64,) =
        sqlx::query_as("SELECT count(*) FROM audit_events WHERE action = 'agent.notify_changed'")
            .fetch_one(app.desk.pool())
            .await
            .expect("audit");
    assert_eq!(audited, 3);
}

/// Ben gets an assignment (due at once) and then a customer answer (due after the fold).
async fn assigned_then_answered(app: &App) -> String {
    let t = open_ticket(app, 1, "c1@customer.example", "Two replicas", "Hi").await;
    assign(app, &t, "ben").await;
    app.desk
        .ingest(
            src(2),
            &answer("c2@customer.example", "c1@customer.example", "More"),
        )
        .await
        .expect("ingest");
    t
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sweep_running_on_another_replica_is_waited_for_not_split_or_sent_early() {
    let env = db_only(BOTH).await;
    let app = env.app().await;
    let other = env.app().await; // a second replica: its own Desk and pool, one database
    assigned_then_answered(&app).await;
    let ben: i64 = sqlx::query_scalar("SELECT id FROM agents WHERE handle = 'ben'")
        .fetch_one(app.desk.pool())
        .await
        .expect("ben");
    // The first replica's sweep, mid-way: it holds Ben's lock and the assignment's row (the
    // only notice due), and will mark it sent.
    let mut first = app.desk.pool().begin().await.expect("begin");
    claimdesk::store::locks::hold_named_for_transaction(
        &mut first,
        &claimdesk::store::locks::notify_agent(ben),
    )
    .await
    .expect("lock");
    let assigned: i64 = sqlx::query_scalar(
        "SELECT id FROM notifications WHERE kind = 'assigned' AND state = 'pending' FOR UPDATE",
    )
    .fetch_one(&mut *first)
    .await
    .expect("row");
    // The second replica sweeps meanwhile: it saw the assignment due.
    let second = tokio::spawn(async move { other.desk.notify_sweep(Utc::now()).await });
    tokio::time::sleep(Duration::from_millis(500)).await;
    sqlx::query("UPDATE notifications SET state = 'sent', swept_at = now() WHERE id = $1")
        .bind(assigned)
        .execute(&mut *first)
        .await
        .expect("mark");
    first.commit().await.expect("commit");
    let o = second.await.expect("join").expect("sweep");
    // The answer is not due for another two minutes: the second sweep must not send it on
    // its own (before the fix it took the rows it could and sent the answer early, alone).
    assert_eq!(o.messages, 0, "{o:?}");
    assert!(o.next.is_some(), "{o:?}");
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM notifications WHERE kind = 'replies' AND state = 'pending'"
        )
        .await,
        1
    );
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM outbox WHERE kind = 'direct_message'"
        )
        .await,
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_sweeping_at_once_send_one_dm_per_platform() {
    let env = db_only(BOTH).await;
    let app = env.app().await;
    let other = env.app().await;
    let slack = env.slack.as_ref().expect("slack");
    let t = assigned_then_answered(&app).await;
    let due = Utc::now() + chrono::Duration::seconds(121);
    for round in 0..5 {
        let (a, b) = tokio::join!(app.desk.notify_sweep(due), other.desk.notify_sweep(due));
        let (a, b) = (a.expect("sweep"), b.expect("sweep"));
        assert_eq!(
            a.messages + b.messages,
            if round == 0 { 2 } else { 0 },
            "round {round}: {a:?} {b:?}"
        );
    }
    app.deliverer.drain().await.expect("drain");
    let dms = slack.direct_messages(BEN_SLACK);
    assert_eq!(dms.len(), 1, "{dms:?}");
    assert!(
        dms[0].contains(&t) && dms[0].contains("answered"),
        "{}",
        dms[0]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dm_the_platform_refuses_is_given_up_not_retried_for_ever() {
    let env = db_only(BOTH).await;
    let app = env.app().await;
    let slack = env.slack.as_ref().expect("slack");
    let discord = env.discord.as_ref().expect("discord");
    let t = open_ticket(&app, 1, "r1@customer.example", "Refused", "Hi").await;
    assign(&app, &t, "ben").await;
    app.deliverer.drain().await.expect("drain the cards");
    assert_eq!(
        app.desk
            .notify_sweep(Utc::now())
            .await
            .expect("sweep")
            .messages,
        2
    );
    // Slack answers `missing_scope`, Discord 403 50007 "Cannot send messages to this user".
    slack.set_behaviour(Behaviour::Refused);
    discord.set_behaviour(Behaviour::Refused);
    app.deliverer.drain().await.expect("drain");
    let calls = || slack.received().len() + discord.received().len();
    let before = calls();
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM outbox WHERE kind = 'direct_message'
             AND delivered_at IS NOT NULL AND attempts = 1 AND last_error LIKE 'given up: %'"
        )
        .await,
        2,
        "both DMs given up after one refusal"
    );
    // Due or not, nothing is tried again.
    sqlx::query("UPDATE outbox SET next_attempt_at = now() - interval '1 hour'")
        .execute(app.desk.pool())
        .await
        .expect("make due");
    app.deliverer.drain().await.expect("drain");
    assert_eq!(calls(), before);
    slack.set_behaviour(Behaviour::Normal);
    discord.set_behaviour(Behaviour::Normal);
    assert!(slack.direct_messages(BEN_SLACK).is_empty());
    assert!(discord.direct_messages(BEN_DISCORD).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_notify_changes_at_once_both_stay() {
    let env = db_only(BOTH).await;
    let app = env.app().await;
    let other = env.app().await;
    notify(&app, "ben", Surface::Console, "replies on").await; // Ben has a row
                                                               // Another change (on another replica) is mid-way: it holds the row and sets quiet hours.
    let mut first = app.desk.pool().begin().await.expect("begin");
    sqlx::query(
        "SELECT 1 FROM notification_prefs p JOIN agents a ON a.id = p.agent_id
         WHERE a.handle = 'ben' FOR UPDATE OF p",
    )
    .execute(&mut *first)
    .await
    .expect("lock");
    let second =
        tokio::spawn(async move { notify(&other, "ben", Surface::Slack, "assigned off").await });
    tokio::time::sleep(Duration::from_millis(500)).await;
    sqlx::query(
        "UPDATE notification_prefs SET quiet_start = '22:00', quiet_end = '07:00',
             quiet_zone = 'UTC' FROM agents a WHERE a.id = agent_id AND a.handle = 'ben'",
    )
    .execute(&mut *first)
    .await
    .expect("quiet");
    first.commit().await.expect("commit");
    let answer = second.await.expect("join");
    assert!(answer.contains("off"), "{answer}");
    let (assigned, zone): (bool, Option<String>) = sqlx::query_as(
        "SELECT p.assigned, p.quiet_zone FROM notification_prefs p
         JOIN agents a ON a.id = p.agent_id WHERE a.handle = 'ben'",
    )
    .fetch_one(app.desk.pool())
    .await
    .expect("prefs");
    assert_eq!(
        (assigned, zone.as_deref()),
        (false, Some("UTC")),
        "both changes kept"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_without_a_user_id_gets_no_dm_there_and_no_retries() {
    let mut env = db_only(BOTH).await;
    for a in env.settings.agents.iter_mut() {
        if a.handle == "cy" {
            a.slack_user_id = None;
        }
        if a.handle == "ben" {
            a.slack_user_id = None;
            a.discord_user_id = None;
        }
    }
    let app = env.app().await;
    let t1 = open_ticket(&app, 1, "n1@customer.example", "Cy", "Hi").await;
    let t2 = open_ticket(&app, 2, "n2@customer.example", "Ben", "Hi").await;
    assign(&app, &t1, "cy").await;
    assign(&app, &t2, "ben").await;
    let o = app.desk.notify_sweep(Utc::now()).await.expect("sweep");
    assert_eq!((o.messages, o.dropped), (1, 1), "{o:?}");
    app.deliverer.drain().await.expect("drain");
    let discord = env.discord.as_ref().expect("discord");
    assert_eq!(discord.direct_messages(CY_DISCORD).len(), 1);
    assert!(env
        .slack
        .as_ref()
        .expect("slack")
        .calls_to("conversations.open")
        .is_empty());
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM notifications WHERE state = 'dropped'"
        )
        .await,
        1
    );
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM outbox WHERE delivered_at IS NULL"
        )
        .await,
        0,
        "nothing left to retry"
    );
    let shown = notify(&app, "ben", Surface::Console, "").await;
    assert!(shown.contains("no DM can reach you"), "{shown}");

    // An agent removed before the sweep is told nothing more.
    let t3 = open_ticket(&app, 3, "n3@customer.example", "Gone", "Hi").await;
    assign(&app, &t3, "cy").await;
    sqlx::query("UPDATE agents SET active = false WHERE handle = 'cy'")
        .execute(app.desk.pool())
        .await
        .expect("remove cy");
    let o = app.desk.notify_sweep(Utc::now()).await.expect("sweep");
    assert_eq!((o.messages, o.dropped), (0, 1), "{o:?}");
    app.deliverer.drain().await.expect("drain");
    assert_eq!(discord.direct_messages(CY_DISCORD).len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_sla_warning_dms_the_holder() {
    let mut env = db_only(BOTH).await;
    env.settings.sla = claimdesk::config::SlaSettings::from_toml(
        "enabled = true\nwarn_at = 0.75\n\n[[policies]]\nbusiness_hours = false\nfirst_response = \"1h\"\n",
    )
    .expect("sla settings");
    let app = env.app().await;
    let t1 = open_ticket(&app, 1, "s1@customer.example", "Urgent thing", "Hi").await;
    assign(&app, &t1, "ben").await;
    assert_eq!(
        sweep_and_deliver(&app, Utc::now()).await,
        2,
        "the assignment"
    );
    let alerts = app
        .desk
        .sla_tick(Utc::now() + chrono::Duration::minutes(46))
        .await
        .expect("tick");
    assert_eq!(alerts, 1);
    assert_eq!(sweep_and_deliver(&app, Utc::now()).await, 2, "the warning");
    let dms = env
        .slack
        .as_ref()
        .expect("slack")
        .direct_messages(BEN_SLACK);
    assert_eq!(dms.len(), 2, "{dms:?}");
    assert!(
        dms[1].contains(&t1) && dms[1].contains("first response due in"),
        "{}",
        dms[1]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repeated_delivery_posts_the_dm_once_on_slack_and_discord() {
    let env = db_only(BOTH).await;
    let app = env.app().await;
    let slack = env.slack.as_ref().expect("slack");
    let discord = env.discord.as_ref().expect("discord");
    // The same outbox row delivered twice (its first answer lost before the commit): Discord
    // drops the repeat by its nonce, Slack's is found in the DM's history by its metadata.
    for p in &app.deliverer.platforms {
        let user = if p.name() == "slack" {
            BEN_SLACK
        } else {
            BEN_DISCORD
        };
        // Every attempt unsure (as a retry is): Slack looks before posting.
        let once = |key: &str| claimdesk::chat::Once {
            key: key.into(),
            unsure_since: Some(Utc::now()),
        };
        for _ in 0..2 {
            p.direct_message(user, "📥 TICK-2026-0001 is now yours.", &once("cn42"))
                .await
                .expect("dm");
        }
        // Another row is another message.
        p.direct_message(user, "📥 TICK-2026-0002 is now yours.", &once("cn43"))
            .await
            .expect("dm");
    }
    assert_eq!(slack.direct_messages(BEN_SLACK).len(), 2);
    assert_eq!(discord.direct_messages(BEN_DISCORD).len(), 2);
    assert_eq!(slack.violations(), Vec::<String>::new());
    assert_eq!(discord.violations(), Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_between_fold_and_delivery_the_dm_is_sent_once_after_restart() {
    let env = env(Platforms {
        slack: true,
        discord: false,
    })
    .await;
    let slack = env.slack.as_ref().expect("slack");
    let dir = tempfile::tempdir().expect("tempdir");
    let config = env.write_config(dir.path());
    assert!(claimdesk(&env, &config, &["migrate"])
        .status()
        .await
        .expect("migrate")
        .success());
    // Slack is down: the DM can be folded but not delivered.
    slack.set_behaviour(Behaviour::Fail500);
    let mut first = claimdesk(&env, &config, &["serve"]).spawn().expect("serve");
    let pool = sqlx::PgPool::connect(&env.db.url).await.expect("pool");
    // The change comes from another process on the same database (as a second serve would).
    let app = env.app().await;
    eventually(30, "agents synced by serve", || async {
        (count(&pool, "SELECT count(*) FROM agents").await >= 3).then_some(())
    })
    .await;
    let t1 = open_ticket(&app, 900, "r1@customer.example", "Restart me", "Hi").await;
    assign(&app, &t1, "ben").await;
    eventually(30, "folded by serve's sweep", || async {
        (count(
            &pool,
            "SELECT count(*) FROM notifications WHERE state = 'sent'",
        )
        .await
            == 1)
            .then_some(())
    })
    .await;
    eventually(30, "a failed DM delivery", || async {
        (count(
            &pool,
            "SELECT count(*) FROM outbox WHERE kind = 'direct_message' AND attempts > 0 AND delivered_at IS NULL",
        )
        .await
            > 0)
        .then_some(())
    })
    .await;
    first.start_kill().expect("kill");
    first.wait().await.expect("reaped");
    assert!(slack.direct_messages(BEN_SLACK).is_empty());

    slack.set_behaviour(Behaviour::Normal);
    let mut second = claimdesk(&env, &config, &["serve"])
        .spawn()
        .expect("serve again");
    eventually(60, "the DM after the restart", || async {
        (!slack.direct_messages(BEN_SLACK).is_empty()).then_some(())
    })
    .await;
    // Give a duplicate every chance to appear.
    tokio::time::sleep(Duration::from_secs(3)).await;
    second.start_kill().expect("kill");
    second.wait().await.expect("reaped");
    let dms = slack.direct_messages(BEN_SLACK);
    assert_eq!(dms.len(), 1, "{dms:?}");
    assert!(dms[0].contains(&t1));
    assert_eq!(
        count(
            &pool,
            "SELECT count(*) FROM outbox WHERE kind = 'direct_message'"
        )
        .await,
        1
    );
    assert_eq!(
        count(
            &pool,
            "SELECT count(*) FROM notifications WHERE state <> 'sent'"
        )
        .await,
        0
    );
    assert_eq!(slack.violations(), Vec::<String>::new());
}
