//! How fast Slack requests are acknowledged (Slack wants an answer within 3 s). A real
//! Postgres and the Slack stand-in; the app started as `serve` starts its endpoints
//! (`App::start_web`), once over HTTP and once in Socket Mode.
//!
//! For each of 200 tickets, measured from sending to the complete answer:
//! - HTTP: a signed `/claim <ticket>` slash command, and a signed Unclaim button click
//!   (`block_actions`);
//! - Socket Mode: a `slash_commands` envelope (`/desk ticket <ticket>`) and an `interactive`
//!   `view_submission` of the note modal, each until its ack frame arrives.
//!
//! Prints p50 / p99 / max in milliseconds and the machine. Target: p99 well under 3000 ms.
//! Run: `cargo bench --bench slack_ack` (needs the test services, see TESTING.md).

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use serde_json::json;
use support::harness::*;

const TICKETS: usize = 200;

fn main() {
    claimdesk_testkit::bench::main("slack_ack", run);
}

fn report(what: &str, mut ms: Vec<f64>) {
    ms.sort_by(|a, b| a.total_cmp(b));
    let at = |q: f64| ms[((ms.len() as f64 - 1.0) * q).round() as usize];
    println!(
        "{what:<40} n={:<4} p50 {:>7.1} ms  p99 {:>7.1} ms  max {:>7.1} ms",
        ms.len(),
        at(0.5),
        at(0.99),
        ms[ms.len() - 1]
    );
}

async fn run() {
    println!("machine: {}", claimdesk_testkit::bench::machine());

    // HTTP
    let env = env(Platforms {
        slack: true,
        discord: false,
    })
    .await;
    let app = env.app().await;
    let web = app.start_web().await.expect("web");
    let mut numbers = vec![];
    for i in 0..TICKETS {
        let n = open_ticket(
            &app,
            i as u32 + 1,
            &format!("b{i}@customer.example"),
            "Bench",
            "Hi",
        )
        .await;
        numbers.push(n);
    }
    let (mut slash, mut click) = (vec![], vec![]);
    for n in &numbers {
        let t = Instant::now();
        let (code, body) = slack_post(
            web.addr,
            "/slack/commands",
            &slash_command("/claim", n, ANA_SLACK),
            SLACK_SECRET,
            0,
        )
        .await;
        slash.push(t.elapsed().as_secs_f64() * 1000.0);
        assert!(code == 200 && body.contains("You claimed"), "{body}");
        let t = Instant::now();
        let (code, _) = slack_post(
            web.addr,
            "/slack/interactions",
            &block_action(ANA_SLACK, "unclaim", n),
            SLACK_SECRET,
            0,
        )
        .await;
        click.push(t.elapsed().as_secs_f64() * 1000.0);
        assert_eq!(code, 200);
    }
    report("HTTP slash command /claim", slash);
    report("HTTP block_actions Unclaim", click);
    drop(web);

    // Socket Mode
    let mut env = env_socket().await;
    use_slack_socket_mode(&mut env);
    let slack = env.slack.as_ref().expect("stand-in");
    let app = env.app().await;
    let _running = app.start_web().await.expect("socket mode");
    assert!(slack.wait_socket(15).await, "socket connected");
    let mut numbers = vec![];
    for i in 0..TICKETS {
        let n = open_ticket(
            &app,
            i as u32 + 1,
            &format!("s{i}@customer.example"),
            "Bench",
            "Hi",
        )
        .await;
        numbers.push(n);
    }
    let (mut slash, mut submit) = (vec![], vec![]);
    for n in &numbers {
        let payload = json!({
            "team_id": "T0TEST", "channel_id": SLACK_CHANNEL, "user_id": ANA_SLACK,
            "command": "/desk", "text": format!("ticket {n}"),
            "response_url": slack.response_url(), "trigger_id": slack.trigger_id(),
        });
        let (ack, took) = slack
            .socket_send("slash_commands", payload, true)
            .await
            .expect("ack");
        assert!(
            ack["payload"]["text"]
                .as_str()
                .unwrap_or("")
                .contains(n.as_str()),
            "{ack}"
        );
        slash.push(took.as_secs_f64() * 1000.0);
        let view = json!({
            "callback_id": "claimdesk.note",
            "private_metadata": json!({"ticket": n, "channel": SLACK_CHANNEL}).to_string(),
            "blocks": [], "title": {"type": "plain_text", "text": "Internal note"},
        });
        let (ack, took) = slack
            .socket_send(
                "interactive",
                view_submission_payload(ANA_SLACK, &view, "body", "text", "bench note"),
                true,
            )
            .await
            .expect("ack");
        assert!(ack.get("payload").is_none(), "{ack}");
        submit.push(took.as_secs_f64() * 1000.0);
    }
    report("Socket Mode slash_commands /desk ticket", slash);
    report("Socket Mode view_submission (note)", submit);
    assert!(slack.violations().is_empty(), "{:?}", slack.violations());
    tokio::time::sleep(Duration::from_millis(100)).await;
}

async fn env_socket() -> support::harness::TestEnv {
    env(Platforms {
        slack: true,
        discord: false,
    })
    .await
}
