//! Outbox delivery against a misbehaving Slack: 429 with Retry-After, 500, and a server that
//! never answers. The card still ends in the ticket's latest state, posted exactly once, and a
//! burst of changes becomes one edit.

mod support;

use claimdesk::app::App;

use claimdesk::desk::{Actor, Surface};
use claimdesk::domain::Priority;
use claimdesk::worker::Pass;
use support::harness::*;
use support::standin::Behaviour;

async fn actor(app: &App, handle: &str) -> Actor {
    support::harness::actor(app, handle, Surface::Slack).await
}

async fn pending(app: &claimdesk::app::App) -> i64 {
    let (n,): (i64,) = sqlx::query_as("SELECT count(*) FROM outbox WHERE delivered_at IS NULL")
        .fetch_one(app.desk.pool())
        .await
        .expect("count");
    n
}

/// Delivers until nothing is pending (retries become due after their backoff).
async fn deliver_everything(app: &claimdesk::app::App) {
    eventually(30, "outbox drained", || async {
        app.deliverer.drain().await.expect("drain");
        (pending(app).await == 0).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn card_survives_429_500_and_a_hanging_server_and_ends_in_its_latest_state_once() {
    let mut env = db_only(Platforms {
        slack: true,
        discord: false,
    })
    .await;
    env.settings.outbox.call_timeout_secs = 2;
    let slack = env.slack.as_ref().expect("slack");
    let app = env.app().await;
    let number = open_ticket(&app, 1, "burst@customer.example", "Printer", "It jams.").await;

    // The first post meets a rate limit, then succeeds after Retry-After.
    slack.set_behaviour(Behaviour::RateLimited {
        retry_after_secs: 1,
    });
    assert_eq!(
        app.deliverer.deliver_one().await.expect("attempt"),
        Pass::Worked
    );
    assert!(slack.calls_to("chat.postMessage").is_empty());
    slack.set_behaviour(Behaviour::Normal);
    deliver_everything(&app).await;
    assert_eq!(slack.calls_to("chat.postMessage").len(), 1);

    // A burst of changes while Slack fails, then hangs.
    let (ana, ben) = (actor(&app, "ana").await, actor(&app, "ben").await);
    app.desk.claim(&ana, &number).await.expect("claim");
    app.desk.unclaim(&ana, &number).await.expect("unclaim");
    app.desk.claim(&ben, &number).await.expect("claim");
    app.desk
        .set_priority(&ana, &number, Priority::Urgent)
        .await
        .expect("priority");
    assert_eq!(pending(&app).await, 4, "four card edits queued");
    slack.set_behaviour(Behaviour::Fail500);
    app.deliverer.deliver_one().await.expect("attempt");
    let before_hang = slack.received().len();
    slack.set_behaviour(Behaviour::Hang);
    eventually(15, "a hanging attempt that timed out", || async {
        app.deliverer.deliver_one().await.expect("attempt");
        (slack.received().len() > before_hang).then_some(())
    })
    .await;
    let attempts_before = slack.received().len();
    slack.set_behaviour(Behaviour::Normal);
    deliver_everything(&app).await;

    let updates = slack.calls_to("chat.update");
    assert_eq!(updates.len(), 1, "one edit for the whole burst");
    let card = updates[0].body.to_string();
    assert!(
        card.contains(&format!("Claimed by <@{BEN_SLACK}>")) && card.contains("[urgent]"),
        "{card}"
    );
    assert_eq!(
        slack.calls_to("chat.postMessage").len(),
        1,
        "never posted twice"
    );
    assert!(
        attempts_before >= 4,
        "the failures were real attempts: {attempts_before}"
    );
    assert_eq!(slack.violations(), Vec::<String>::new());
}
