//! Per-department channels (issue 11): a department that names its Slack and Discord channel
//! gets its tickets' cards, its admin pings and its loop notices there, and the card's thread
//! follows the card; a department without one uses the platform's channel. Checked through
//! the Slack and Discord stand-ins.

mod support;

use claimdesk::app::App;
use claimdesk::config::DepartmentSettings;
use claimdesk::desk::{Ingested, Source};
use support::harness::*;

const BILLING_SLACK: &str = "C0BILLING1";
const BILLING_DISCORD: &str = "300000000000000002";

fn email(from: &str, message_id: &str, subject: &str, in_reply_to: Option<&str>) -> Vec<u8> {
    let mut h = format!(
        "From: {from}\r\nTo: {SUPPORT}\r\nSubject: {subject}\r\nMessage-ID: <{message_id}>\r\n\
         Date: Sun, 22 Nov 2026 09:00:00 +0000\r\nContent-Type: text/plain; charset=utf-8\r\n"
    );
    if let Some(p) = in_reply_to {
        h.push_str(&format!("In-Reply-To: <{p}>\r\nReferences: <{p}>\r\n"));
    }
    format!("{h}\r\nPlease help with {subject}.\r\n").into_bytes()
}

fn src(mailbox: &'static str, uid: u32) -> Source<'static> {
    Source {
        mailbox,
        uidvalidity: 1,
        uid,
    }
}

/// Two departments: `support` without a channel of its own (claim mode) and `billing` with
/// its own Slack and Discord channel (auto mode, nobody has room, so every ticket pings its
/// admins); a `billing` mailbox feeds `billing`. A sender opening two tickets is a loop.
async fn two_departments() -> TestEnv {
    let mut env = env(Platforms {
        slack: true,
        discord: true,
    })
    .await;
    env.settings.departments = vec![
        DepartmentSettings {
            name: "support".into(),
            assignment: Default::default(),
            slack_channel: None,
            discord_channel: None,
        },
        DepartmentSettings {
            name: "billing".into(),
            assignment: claimdesk::domain::assignment::Mode::Auto,
            slack_channel: Some(BILLING_SLACK.into()),
            discord_channel: Some(BILLING_DISCORD.into()),
        },
    ];
    let mut billing = env.settings.mailboxes[0].clone();
    billing.name = "billing".into();
    billing.address = "billing@claimdesk.test".into();
    billing.folder = "Billing".into();
    billing.department = Some("billing".into());
    env.settings.mailboxes.push(billing);
    for a in &mut env.settings.agents {
        a.capacity = Some(0);
    }
    env.settings.noise.loop_tickets = 1;
    env.settings.validate().expect("valid");
    env
}

async fn created(app: &App, source: Source<'_>, raw: &[u8]) -> String {
    match app.desk.ingest(source, raw).await.expect("ingest") {
        Ingested::Created(n) => n,
        other => panic!("expected a new ticket, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cards_pings_loop_notices_and_threads_go_to_the_departments_channel() {
    let env = two_departments().await;
    let slack = env.slack.as_ref().expect("slack");
    let discord = env.discord.as_ref().expect("discord");
    let app = env.app().await;

    // Given a support ticket, and two billing tickets from one sender (admin pings, a loop
    // notice) of which the first gets a follow-up.
    let general = created(
        &app,
        src("support", 1),
        &email("ola@customer.example", "s1@x", "Login", None),
    )
    .await;
    let bill1 = created(
        &app,
        src("billing", 1),
        &email("bo@customer.example", "b1@x", "Refund", None),
    )
    .await;
    let bill2 = created(
        &app,
        src("billing", 2),
        &email("bo@customer.example", "b2@x", "Invoice", None),
    )
    .await;
    let r = app
        .desk
        .ingest(
            src("billing", 3),
            &email("bo@customer.example", "b3@x", "Re: Refund", Some("b1@x")),
        )
        .await
        .expect("follow-up");
    assert!(matches!(r, Ingested::Joined(_)), "{r:?}");
    // When the outbox is delivered
    app.deliverer.drain().await.expect("deliver");

    // Then on Slack each card is in its department's channel, the default for support
    let card_channel = |number: &str| -> Vec<String> {
        slack
            .card_posts()
            .iter()
            .filter(|c| c.body["text"].as_str().is_some_and(|t| t.contains(number)))
            .map(|c| c.body["channel"].as_str().unwrap_or("").to_string())
            .collect()
    };
    assert_eq!(card_channel(&general), vec![SLACK_CHANNEL.to_string()]);
    assert_eq!(card_channel(&bill1), vec![BILLING_SLACK.to_string()]);
    assert_eq!(card_channel(&bill2), vec![BILLING_SLACK.to_string()]);
    // … the admin pings and the loop notice (top-level, not cards) are in billing's channel
    let notices: Vec<_> = slack
        .calls_to("chat.postMessage")
        .into_iter()
        .filter(|c| c.body["thread_ts"].is_null())
        .filter(|c| {
            !c.body["blocks"][0]["text"]["text"]
                .as_str()
                .is_some_and(|t| t.starts_with("*TICK-"))
        })
        .collect();
    let texts: Vec<&str> = notices
        .iter()
        .map(|c| c.body["text"].as_str().unwrap_or(""))
        .collect();
    assert!(
        texts.iter().any(|t| t.contains("waiting for assignment")),
        "{texts:?}"
    );
    assert!(texts.iter().any(|t| t.contains("mail loop")), "{texts:?}");
    for n in &notices {
        assert_eq!(n.body["channel"], BILLING_SLACK, "{}", n.body);
    }
    // … and the follow-up went into the billing card's thread, in billing's channel.
    let threaded: Vec<_> = slack
        .calls_to("chat.postMessage")
        .into_iter()
        .filter(|c| !c.body["thread_ts"].is_null())
        .collect();
    assert_eq!(threaded.len(), 1, "{threaded:?}");
    assert_eq!(threaded[0].body["channel"], BILLING_SLACK);
    assert!(slack.violations().is_empty(), "{:?}", slack.violations());

    // On Discord likewise: cards and notices by department, the thread from billing's card.
    let posts_in = |channel: &str| -> Vec<String> {
        discord
            .calls_to("POST", &format!("/channels/{channel}/messages"))
            .into_iter()
            .map(|r| r.body.to_string())
            .collect()
    };
    let default_posts = posts_in(DISCORD_CHANNEL);
    let billing_posts = posts_in(BILLING_DISCORD);
    assert_eq!(default_posts.len(), 1, "{default_posts:?}");
    assert!(default_posts[0].contains(&general));
    for n in [&bill1, &bill2] {
        assert!(
            billing_posts.iter().any(|p| p.contains(n.as_str())),
            "{n}: {billing_posts:?}"
        );
        assert!(!default_posts.iter().any(|p| p.contains(n.as_str())));
    }
    assert!(billing_posts
        .iter()
        .any(|p| p.contains("waiting for assignment")));
    assert!(billing_posts.iter().any(|p| p.contains("mail loop")));
    let threads: Vec<_> = discord
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/threads"))
        .collect();
    assert_eq!(threads.len(), 1, "{threads:?}");
    assert!(
        threads[0]
            .path
            .starts_with(&format!("/api/v10/channels/{BILLING_DISCORD}/messages/")),
        "{}",
        threads[0].path
    );
    assert!(
        discord.violations().is_empty(),
        "{:?}",
        discord.violations()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_department_discord_channel_that_is_not_a_snowflake_stops_the_start() {
    let mut env = two_departments().await;
    env.settings.departments[1].discord_channel = Some("#billing".into());
    let err = App::build(env.settings.clone(), env.secrets.clone())
        .await
        .err()
        .expect("a bad department channel is refused");
    assert!(err.to_string().contains("#billing"), "{err}");
}
