//! Every inbound Slack shape, over both transports: Bolt's real request bodies
//! (`shared/specs/slack/bolt-bodies/`, read in place) signed and POSTed like Slack does, and
//! sent again as Socket Mode envelopes; the Socket Mode story (slash command, Reply button,
//! modal submission, events) with every envelope acknowledged; and the stand-in's checks of
//! `apps.connections.open` and `views.open`.

mod support;

use std::time::Duration;

use serde_json::{json, Value};
use support::harness::*;
use support::standin::SlackStandin;

/// Every Bolt body, by file name.
fn bolt_bodies() -> Vec<(String, Value)> {
    let dir = repo_path("../shared/specs/slack/bolt-bodies");
    let mut out: Vec<(String, Value)> = std::fs::read_dir(&dir)
        .expect("bolt-bodies present")
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .map(|p| {
            let name = p
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .to_string();
            let v =
                serde_json::from_str(&std::fs::read_to_string(&p).expect("read")).expect("json");
            (name, v)
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// Events API bodies go to /slack/events (JSON); everything else is an interaction payload.
fn is_event(v: &Value) -> bool {
    matches!(
        v["type"].as_str(),
        Some("event_callback") | Some("url_verification") | Some("app_rate_limited")
    )
}

async fn outbox_kinds(app: &claimdesk::app::App) -> Vec<String> {
    sqlx::query_scalar("SELECT kind FROM outbox ORDER BY id")
        .fetch_all(app.desk.pool())
        .await
        .expect("outbox")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_bolt_body_over_http_is_acknowledged_and_changes_nothing() {
    let env = db_only(Platforms {
        slack: true,
        discord: false,
    })
    .await;
    let slack = env.slack.as_ref().expect("slack stand-in");
    let app = env.app().await;
    let web = app.start_web().await.expect("web");
    let number = open_ticket(&app, 1, "b1@customer.example", "Bolt", "Hello").await;
    app.deliverer.drain().await.expect("deliver");
    let before = app.desk.show(&number).await.expect("show");
    let outbox_before = outbox_kinds(&app).await.len();

    let bodies = bolt_bodies();
    assert!(bodies.len() >= 40, "all of Bolt's bodies: {}", bodies.len());
    for (name, v) in &bodies {
        let (code, answer) = if is_event(v) {
            slack_post_json(web.addr, "/slack/events", &v.to_string(), SLACK_SECRET).await
        } else {
            slack_post(
                web.addr,
                "/slack/interactions",
                &interaction_form(v),
                SLACK_SECRET,
                0,
            )
            .await
        };
        assert_eq!(code, 200, "{name}: {answer}");
        match v["type"].as_str() {
            // The documented answer to the Events API handshake.
            Some("url_verification") => {
                let a: Value = serde_json::from_str(&answer).expect("challenge json");
                assert_eq!(a, json!({"challenge": v["challenge"]}), "{name}");
            }
            // Views claimdesk did not open, and every other shape: an empty 200.
            _ => assert_eq!(answer, "", "{name}"),
        }
    }
    // Bolt's buttons are not claimdesk's: nobody is told anything, nothing changed.
    app.deliverer.drain().await.expect("deliver");
    let after = app.desk.show(&number).await.expect("show");
    assert_eq!(
        (
            after.summary.status.clone(),
            after.summary.assignee.clone(),
            after.messages.len()
        ),
        (
            before.summary.status,
            before.summary.assignee,
            before.messages.len()
        )
    );
    assert_eq!(
        outbox_kinds(&app).await.len(),
        outbox_before,
        "no effect queued"
    );
    assert_eq!(app.desk.list().await.expect("list").len(), 1);

    // Malformed shapes get a clear 4xx, never a 5xx.
    for (path, body) in [
        ("/slack/interactions", "payload=%7Bnot-json".to_string()),
        ("/slack/interactions", "nothing=here".to_string()),
        ("/slack/interactions", "payload=%5B1%2C2%5D".to_string()),
        ("/slack/commands", "text=no+command".to_string()),
    ] {
        let (code, answer) = slack_post(web.addr, path, &body, SLACK_SECRET, 0).await;
        assert_eq!(code, 400, "{path} {body}: {answer}");
    }
    let (code, _) = slack_post_json(web.addr, "/slack/events", "{not json", SLACK_SECRET).await;
    assert_eq!(code, 400);
    // A slash command from someone who is not an agent is answered privately, with 200.
    let (code, answer) = slack_post(
        web.addr,
        "/slack/commands",
        &slash_command("/claim", &number, "U0STRANGER"),
        SLACK_SECRET,
        0,
    )
    .await;
    assert_eq!(code, 200);
    assert!(answer.contains("not a member"), "{answer}");
    assert_eq!(slack.violations(), Vec::<String>::new());
}

/// A slash command payload as Socket Mode carries it (the HTTP form's fields as JSON).
fn slash_payload(slack: &SlackStandin, command: &str, text: &str, user: &str) -> Value {
    json!({
        "token": "legacy-verification-token", "team_id": "T0TEST", "team_domain": "claimdesk-test",
        "channel_id": SLACK_CHANNEL, "channel_name": "support", "user_id": user,
        "user_name": "someone", "command": command, "text": text,
        "api_app_id": "A0STANDIN1", "is_enterprise_install": "false",
        "response_url": slack.response_url(), "trigger_id": slack.trigger_id(),
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn socket_mode_feeds_the_same_handlers_and_acks_every_envelope() {
    let mut env = env(Platforms {
        slack: true,
        discord: false,
    })
    .await;
    use_slack_socket_mode(&mut env);
    let slack = env.slack.as_ref().expect("slack stand-in");
    let app = env.app().await;
    let _running = app.start_web().await.expect("web and socket mode start");
    assert!(slack.wait_socket(15).await, "Socket Mode connected");
    let opens = slack.calls_to("apps.connections.open");
    assert_eq!(opens.len(), 1);
    assert!(
        opens[0]
            .header("authorization")
            .unwrap_or("")
            .starts_with("Bearer xapp-"),
        "opened with the app-level token"
    );

    let number = open_ticket(
        &app,
        1,
        "s1@customer.example",
        "Socket",
        "Printer is on fire",
    )
    .await;
    app.deliverer.drain().await.expect("deliver");
    let mut took = vec![];

    // slash_commands: the answer travels in the ack's payload
    let (ack, t) = slack
        .socket_send(
            "slash_commands",
            slash_payload(slack, "/claim", &number, ANA_SLACK),
            true,
        )
        .await
        .expect("ack");
    took.push(("slash_commands /claim", t));
    assert!(
        ack["payload"]["text"]
            .as_str()
            .unwrap_or("")
            .contains(&format!("You claimed {number}")),
        "{ack}"
    );
    assert_eq!(ack["payload"]["response_type"], "ephemeral");
    assert_eq!(
        app.desk.list().await.expect("list")[0].assignee.as_deref(),
        Some("ana")
    );

    // interactive block_actions (Reply button): a bare ack, then views.open
    let (ack, t) = slack
        .socket_send(
            "interactive",
            block_action_payload(ANA_SLACK, "reply", &number, &slack.trigger_id()),
            true,
        )
        .await
        .expect("ack");
    took.push(("interactive block_actions reply", t));
    assert!(ack.get("payload").is_none(), "{ack}");
    eventually(5, "views.open", || async {
        (!slack.calls_to("views.open").is_empty()).then_some(())
    })
    .await;
    let view = slack.calls_to("views.open")[0].body["view"].clone();

    // interactive view_submission with no text: the errors ride in the ack
    let (ack, t) = slack
        .socket_send(
            "interactive",
            view_submission_payload(ANA_SLACK, &view, "body", "text", ""),
            true,
        )
        .await
        .expect("ack");
    took.push(("interactive view_submission (refused)", t));
    assert_eq!(ack["payload"]["response_action"], "errors", "{ack}");
    assert!(
        ack["payload"]["errors"]["body"]
            .as_str()
            .unwrap_or("")
            .contains("empty"),
        "{ack}"
    );

    // … and with text: a bare ack, and the mail goes out
    let (ack, t) = slack
        .socket_send(
            "interactive",
            view_submission_payload(
                ANA_SLACK,
                &view,
                "body",
                "text",
                "Extinguisher is on its way.",
            ),
            true,
        )
        .await
        .expect("ack");
    took.push(("interactive view_submission", t));
    assert!(ack.get("payload").is_none(), "{ack}");
    app.deliverer.drain().await.expect("deliver");
    let sent = env
        .smtp
        .wait_for(1, Duration::from_secs(10))
        .await
        .expect("sent");
    assert!(String::from_utf8_lossy(&sent[0]).contains("Extinguisher is on its way."));

    // events_api: acknowledged without payload, nothing done
    let (ack, t) = slack
        .socket_send(
            "events_api",
            bolt_body("test_message__message_body.json"),
            false,
        )
        .await
        .expect("ack");
    took.push(("events_api message", t));
    assert!(ack.get("payload").is_none(), "{ack}");

    // Every Bolt body as an envelope: each one is acknowledged exactly once
    let before = outbox_kinds(&app).await.len();
    for (name, v) in bolt_bodies() {
        if v["type"] == "url_verification" {
            continue; // HTTP only: Socket Mode has no handshake
        }
        let (kind, accepts) = if is_event(&v) {
            ("events_api", false)
        } else {
            ("interactive", true)
        };
        let (ack, _) = slack
            .socket_send(kind, v, accepts)
            .await
            .unwrap_or_else(|| panic!("{name}: no ack"));
        assert!(ack.get("payload").is_none(), "{name}: {ack}");
    }
    app.deliverer.drain().await.expect("deliver");
    assert_eq!(
        outbox_kinds(&app).await.len(),
        before,
        "Bolt's bodies queue nothing"
    );

    for (what, t) in &took {
        println!("socket mode ack: {what}: {} ms", t.as_millis());
    }
    assert_eq!(slack.violations(), Vec::<String>::new());
}

async fn call(slack: &SlackStandin, method: &str, token: &str, body: Value) -> Value {
    reqwest::Client::new()
        .post(format!("{}/{method}", slack.api_url))
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json; charset=utf-8")
        .body(body.to_string())
        .send()
        .await
        .expect("stand-in answers")
        .json()
        .await
        .expect("json")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn standin_checks_apps_connections_open_and_views_open() {
    let slack = SlackStandin::start().await.expect("stand-in");

    // apps.connections.open takes an app-level token only
    let r = call(&slack, "apps.connections.open", "xoxb-bot", json!({})).await;
    assert_eq!(r, json!({"ok": false, "error": "not_allowed_token_type"}));
    assert_eq!(slack.violations().len(), 1, "{:?}", slack.violations());
    let r = call(&slack, "apps.connections.open", "xapp-1-app", json!({})).await;
    assert_eq!(r["ok"], true, "{r}");
    assert!(
        r["url"]
            .as_str()
            .unwrap_or("")
            .starts_with(&format!("ws://127.0.0.1:{}/link/", slack.socket_port)),
        "{r}"
    );
    let r = call(
        &slack,
        "apps.connections.open",
        "xapp-1-app",
        json!({"bogus": 1}),
    )
    .await;
    assert_eq!(r["ok"], false, "unknown argument refused: {r}");
    // and an app token is refused by bot methods
    let r = call(
        &slack,
        "chat.postMessage",
        "xapp-1-app",
        json!({"channel": SLACK_CHANNEL, "text": "x"}),
    )
    .await;
    assert_eq!(r["error"], "not_allowed_token_type", "{r}");
    assert_eq!(slack.violations().len(), 3, "{:?}", slack.violations());

    // views.open: a trigger the stand-in never issued, then a bad view, then a good one
    let good = json!({
        "type": "modal", "title": {"type": "plain_text", "text": "Reply"},
        "submit": {"type": "plain_text", "text": "Send"},
        "blocks": [{"type": "input", "block_id": "b", "label": {"type": "plain_text", "text": "Text"},
                    "element": {"type": "plain_text_input", "action_id": "t", "multiline": true}}]
    });
    let r = call(
        &slack,
        "views.open",
        "xoxb-bot",
        json!({"trigger_id": "1.2.3", "view": good}),
    )
    .await;
    assert_eq!(r["error"], "invalid_trigger_id", "{r}");
    let mut bad = good.clone();
    bad["title"]["text"] = "A title far longer than twenty-four characters".into();
    bad.as_object_mut().map(|o| o.remove("submit"));
    let r = call(
        &slack,
        "views.open",
        "xoxb-bot",
        json!({"trigger_id": slack.trigger_id(), "view": bad}),
    )
    .await;
    assert_eq!(r["error"], "invalid_arguments", "{r}");
    let n = slack.violations().len();
    assert!(
        n >= 6,
        "title and submit problems recorded: {:?}",
        slack.violations()
    );
    let r = call(
        &slack,
        "views.open",
        "xoxb-bot",
        json!({"trigger_id": slack.trigger_id(), "view": good}),
    )
    .await;
    assert_eq!(r["ok"], true, "{r}");
    assert_eq!(r["view"]["type"], "modal");
    assert_eq!(slack.violations().len(), n, "the good view is clean");
    slack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_desk_work_is_acknowledged_in_time_and_answered_later() {
    let env = db_only(Platforms {
        slack: true,
        discord: false,
    })
    .await;
    let slack = env.slack.as_ref().expect("slack stand-in");
    let app = env.app().await;
    let web = app.start_web().await.expect("web");
    let number = open_ticket(&app, 1, "w1@customer.example", "Slow", "Hello").await;
    app.deliverer.drain().await.expect("deliver");

    // Another transaction holds the ticket's row: the claim cannot finish until it lets go.
    let mut blocker = app.desk.pool().begin().await.expect("tx");
    sqlx::query("SELECT id FROM tickets WHERE number = $1 FOR UPDATE")
        .bind(&number)
        .execute(&mut *blocker)
        .await
        .expect("lock");

    // The slash command is acknowledged anyway (before Slack's 3 s), saying more follows …
    let (code, answer) = slack_post(
        web.addr,
        "/slack/commands",
        &slash_command("/claim", &number, ANA_SLACK),
        SLACK_SECRET,
        0,
    )
    .await;
    assert_eq!(code, 200);
    assert!(answer.contains("Working on it"), "{answer}");
    // … and so is a button click.
    let (code, body) = slack_post(
        web.addr,
        "/slack/interactions",
        &interaction_form(&block_action_payload(
            BEN_SLACK,
            "claim",
            &number,
            &slack.trigger_id(),
        )),
        SLACK_SECRET,
        0,
    )
    .await;
    assert_eq!((code, body.as_str()), (200, ""));
    assert_eq!(
        app.desk.list().await.expect("list")[0].assignee,
        None,
        "still waiting"
    );

    // When the lock goes, the work completes: Ana's claim wins, and she is told privately.
    blocker.rollback().await.expect("release");
    let told = eventually(10, "late answer to Ana", || async {
        app.deliverer.drain().await.ok()?;
        slack
            .calls_to("chat.postEphemeral")
            .into_iter()
            .find(|e| e.body["user"] == ANA_SLACK)
    })
    .await;
    let holder = app.desk.list().await.expect("list")[0].assignee.clone();
    let ana_text = told.body["text"].as_str().unwrap_or("").to_string();
    match holder.as_deref() {
        Some("ana") => assert!(
            ana_text.contains(&format!("You claimed {number}")),
            "{ana_text}"
        ),
        Some("ben") => assert!(ana_text.contains("already claimed by @ben"), "{ana_text}"),
        other => panic!("nobody holds it: {other:?}"),
    }
    assert_eq!(slack.violations(), Vec::<String>::new());
}
