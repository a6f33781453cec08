//! Crash safety: the process is killed (SIGKILL) after the ticket commit and before the chat
//! post succeeded; on restart the card is posted exactly once.

mod support;

use std::process::Stdio;
use std::time::Duration;

use support::harness::*;
use support::standin::Behaviour;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_between_ticket_commit_and_card_post_posts_the_card_exactly_once_on_restart() {
    let env = env(Platforms {
        slack: true,
        discord: false,
    })
    .await;
    let slack = env.slack.as_ref().expect("slack");
    let dir = tempfile::tempdir().expect("tempdir");
    let config = env.write_config(dir.path());

    // Slack is failing: the card cannot be posted yet.
    slack.set_behaviour(Behaviour::Fail500);
    env.dovecot
        .append(
            "INBOX",
            &customer_email("k1@customer.example", "Crash me", "Body", None),
        )
        .await
        .expect("append");
    let migrated = claimdesk(&env, &config, &["migrate"])
        .status()
        .await
        .expect("run migrate");
    assert!(migrated.success(), "migrate");
    let mut first = claimdesk(&env, &config, &["serve"])
        .spawn()
        .expect("spawn serve");
    let pool = sqlx::PgPool::connect(&env.db.url).await.expect("pool");
    eventually(60, "ticket committed", || async {
        (count(&pool, "SELECT count(*) FROM tickets").await == 1).then_some(())
    })
    .await;
    // Let the worker fail at least once, so the post was really attempted and refused.
    eventually(30, "a failed delivery attempt", || async {
        (count(
            &pool,
            "SELECT count(*) FROM outbox WHERE attempts > 0 AND delivered_at IS NULL",
        )
        .await
            > 0)
        .then_some(())
    })
    .await;
    first.start_kill().expect("kill");
    first.wait().await.expect("reaped");
    assert_eq!(
        slack.calls_to("chat.postMessage").len(),
        0,
        "nothing posted before the crash"
    );
    assert_eq!(count(&pool, "SELECT count(*) FROM chat_posts").await, 0);

    // Slack recovers; claimdesk restarts.
    slack.set_behaviour(Behaviour::Normal);
    let mut second = claimdesk(&env, &config, &["serve"])
        .spawn()
        .expect("spawn serve again");
    eventually(60, "card posted after restart", || async {
        (count(&pool, "SELECT count(*) FROM chat_posts").await == 1).then_some(())
    })
    .await;
    // Give a duplicate every chance to appear.
    tokio::time::sleep(Duration::from_secs(3)).await;
    second.start_kill().expect("kill");
    second.wait().await.expect("reaped");
    let cards = slack.calls_to("chat.postMessage");
    assert_eq!(cards.len(), 1, "card posted exactly once");
    assert!(cards[0].body.to_string().contains("Crash me"));
    assert_eq!(count(&pool, "SELECT count(*) FROM tickets").await, 1);
    assert_eq!(
        count(
            &pool,
            "SELECT count(*) FROM outbox WHERE delivered_at IS NULL"
        )
        .await,
        0
    );
    assert_eq!(slack.violations(), Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_intake_once_and_ticket_list_json() {
    let env = env(Platforms {
        slack: true,
        discord: false,
    })
    .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let config = env.write_config(dir.path());
    env.dovecot
        .append(
            "INBOX",
            &customer_email("c1@customer.example", "CLI check", "Body", None),
        )
        .await
        .expect("append");
    let out = claimdesk(&env, &config, &["intake", "--once"])
        .stdout(Stdio::piped())
        .output()
        .await
        .expect("run");
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("fetched 1 · new tickets 1"), "{text}");
    let out = claimdesk(&env, &config, &["ticket", "list", "--json"])
        .stdout(Stdio::piped())
        .output()
        .await
        .expect("run");
    assert!(out.status.success());
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(list[0]["subject"], "CLI check");
    assert_eq!(list[0]["status"], "open");
    assert_eq!(list[0]["requester"], "dana@customer.example");
    assert_eq!(list[0]["message_count"], 1);
    assert_eq!(list[0]["message_ids"][0], "c1@customer.example");
    let number = list[0]["number"].as_str().expect("number").to_string();
    let out = claimdesk(&env, &config, &["ticket", "show", &number])
        .stdout(Stdio::piped())
        .output()
        .await
        .expect("run");
    assert!(String::from_utf8_lossy(&out.stdout).contains("ticket.created"));
    let out = claimdesk(&env, &config, &["ticket", "show", "TICK-1999-0009"])
        .stderr(Stdio::piped())
        .output()
        .await
        .expect("run");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("There is no ticket TICK-1999-0009"));
}
