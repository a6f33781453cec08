//! Inbound chat requests (issue 10): Discord interactions that are stale or replayed are
//! refused with no effect, Slack's timestamp check cannot overflow, requests from another
//! Slack workspace or app are refused when `slack.team_id` / `slack.api_app_id` are set
//! (HTTP and Socket Mode), a short Message-ID signing key stops the start, and interaction
//! tokens (`token`, `response_url`, `trigger_id`) never reach the logs.

mod support;

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};
use support::harness::*;
use support::signing::slack_signature;

fn platforms(slack: bool, discord: bool) -> Platforms {
    Platforms { slack, discord }
}

async fn notes_on(app: &claimdesk::app::App, number: &str) -> i64 {
    let (n,): (i64,) = sqlx::query_as(
        "SELECT count(*) FROM notes n JOIN tickets t ON t.id = n.ticket_id WHERE t.number = $1",
    )
    .bind(number)
    .fetch_one(app.desk.pool())
    .await
    .expect("count notes");
    n
}

async fn holder(app: &claimdesk::app::App, number: &str) -> Option<i64> {
    let (h,): (Option<i64>,) = sqlx::query_as("SELECT assignee_id FROM tickets WHERE number = $1")
        .bind(number)
        .fetch_one(app.desk.pool())
        .await
        .expect("ticket");
    h
}

/// A note submitted through the Discord note modal, with a fixed interaction id.
fn note_submit(number: &str, id: &str, text: &str) -> String {
    let mut v = discord_modal_submit(ANA_DISCORD, &format!("note-modal:{number}"), text);
    v["id"] = id.into();
    v.to_string()
}

#[tokio::test]
async fn replayed_or_stale_discord_interactions_are_refused_with_no_effect() {
    let env = db_only(platforms(false, true)).await;
    let app = env.app().await;
    let web = app.start_web().await.expect("web");
    let n = open_ticket(&app, 1, "replay@customer.example", "Replay", "x").await;
    let signer = &env.discord_signer;
    let now = chrono::Utc::now().timestamp();

    // The same signed body twice: one note, the second request refused.
    let body = note_submit(&n, "900000000000000001", "only once");
    let ts = now.to_string();
    let (first, _) = discord_post_signed(web.addr, signer, &body, &ts, false).await;
    assert_eq!(first, 200);
    assert_eq!(notes_on(&app, &n).await, 1);
    let (second, _) = discord_post_signed(web.addr, signer, &body, &ts, false).await;
    assert_eq!(second, 401, "a replay is refused like a bad signature");
    // Signed again with a new timestamp, the same interaction id is still a replay.
    let (third, _) =
        discord_post_signed(web.addr, signer, &body, &(now + 1).to_string(), false).await;
    assert_eq!(third, 401);
    assert_eq!(notes_on(&app, &n).await, 1, "the replay had no effect");

    // Properly signed, but too old, too far ahead, or not a time at all. The window edges
    // are taken from the clock at the moment of sending (a loaded machine may have spent
    // seconds since `now`), with a margin of 5 s beyond the 300 s window.
    let edge = |d: i64| move || (chrono::Utc::now().timestamp() + d).to_string();
    for (i, ts) in [
        Box::new(edge(-305)) as Box<dyn Fn() -> String>,
        Box::new(edge(305)),
        Box::new(move || (now - 86_400).to_string()),
        Box::new(|| "99999999999999999999".into()),
        Box::new(|| "-9223372036854775808".into()),
        Box::new(|| "9223372036854775807".into()),
        Box::new(|| "soon".into()),
        Box::new(String::new),
    ]
    .into_iter()
    .enumerate()
    {
        let ts = ts();
        let body = note_submit(&n, &format!("90000000000000010{i}"), "stale");
        let (code, _) = discord_post_signed(web.addr, signer, &body, &ts, false).await;
        assert_eq!(code, 401, "timestamp {ts:?}");
    }
    assert_eq!(notes_on(&app, &n).await, 1, "stale requests had no effect");

    // Within the window either way, and a fresh id: accepted.
    let body = note_submit(&n, "900000000000000200", "fresh");
    let (code, _) =
        discord_post_signed(web.addr, signer, &body, &(now - 250).to_string(), false).await;
    assert_eq!(code, 200);
    assert_eq!(notes_on(&app, &n).await, 2);

    // An interaction without a usable id cannot be de-duplicated: refused.
    let mut no_id: Value = serde_json::from_str(&note_submit(&n, "x", "no id")).expect("json");
    no_id.as_object_mut().expect("object").remove("id");
    let (code, _) = discord_post_signed(
        web.addr,
        signer,
        &no_id.to_string(),
        &now.to_string(),
        false,
    )
    .await;
    assert_eq!(code, 400);
    let long = note_submit(&n, &"9".repeat(65), "long id");
    let (code, _) = discord_post_signed(web.addr, signer, &long, &now.to_string(), false).await;
    assert_eq!(code, 400);
    assert_eq!(notes_on(&app, &n).await, 2);
}

/// POSTs a form body to `/slack/commands` signed at timestamp text `ts`.
async fn slack_post_at(addr: std::net::SocketAddr, body: &str, ts: &str) -> u16 {
    reqwest::Client::new()
        .post(format!("http://{addr}/slack/commands"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-slack-request-timestamp", ts)
        .header("x-slack-signature", slack_signature(SLACK_SECRET, ts, body))
        .body(body.to_string())
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .expect("the app answers")
        .status()
        .as_u16()
}

#[tokio::test]
async fn slack_timestamps_that_overflow_are_refused_without_a_panic() {
    let env = db_only(platforms(true, false)).await;
    let app = env.app().await;
    let web = app.start_web().await.expect("web");
    let n = open_ticket(&app, 1, "ts@customer.example", "Timestamps", "x").await;
    let body = slash_command("/claim", &n, ANA_SLACK);
    for ts in [
        "99999999999999999999",
        "-9223372036854775808",
        "9223372036854775807",
        "-1",
        "0",
        "1e10",
    ] {
        assert_eq!(slack_post_at(web.addr, &body, ts).await, 401, "{ts}");
    }
    assert_eq!(holder(&app, &n).await, None);
    // The server survived every one of them and still works.
    let now = chrono::Utc::now().timestamp().to_string();
    assert_eq!(slack_post_at(web.addr, &body, &now).await, 200);
    assert!(holder(&app, &n).await.is_some());
}

fn with_app_id(form: String, app_id: &str) -> String {
    format!("{form}&api_app_id={app_id}")
}

#[tokio::test]
async fn slack_requests_from_another_workspace_or_app_are_refused() {
    let mut env = db_only(platforms(true, false)).await;
    if let Some(s) = env.settings.slack.as_mut() {
        s.team_id = Some("T0TEST".into());
        s.api_app_id = Some("A0TEST".into());
    }
    let app = env.app().await;
    let web = app.start_web().await.expect("web");
    let n = open_ticket(&app, 1, "team@customer.example", "Teams", "x").await;
    let addr = web.addr;
    let post = move |path: &'static str, body: String| async move {
        slack_post(addr, path, &body, SLACK_SECRET, 0).await.0
    };

    // Slash commands: team_id and api_app_id form fields.
    let ours = slash_command("/claim", &n, ANA_SLACK);
    let other_team = ours.replace("team_id=T0TEST", "team_id=T0OTHER");
    assert_ne!(other_team, ours);
    for body in [
        with_app_id(other_team.clone(), "A0TEST"),
        with_app_id(ours.clone(), "A0OTHER"),
        ours.clone(), // no api_app_id at all
    ] {
        assert_eq!(post("/slack/commands", body).await, 403);
    }
    assert_eq!(
        holder(&app, &n).await,
        None,
        "no refused command had an effect"
    );

    // Interactions: payload.team.id and payload.api_app_id.
    let mut click = block_action_payload(BEN_SLACK, "claim", &n, "1.2.3");
    click["team"]["id"] = "T0OTHER".into();
    click["api_app_id"] = "A0TEST".into();
    assert_eq!(
        post("/slack/interactions", interaction_form(&click)).await,
        403
    );
    click["team"]["id"] = "T0TEST".into();
    click["api_app_id"] = "A0OTHER".into();
    assert_eq!(
        post("/slack/interactions", interaction_form(&click)).await,
        403
    );
    assert_eq!(holder(&app, &n).await, None);

    // Events: top-level team_id and api_app_id; url_verification carries none and passes.
    let event = |team: &str, app_id: &str| {
        json!({"type": "event_callback", "team_id": team, "api_app_id": app_id,
               "event": {"type": "app_mention", "text": "hi"}, "event_id": "Ev1", "event_time": 1})
        .to_string()
    };
    for (team, app_id, want) in [
        ("T0OTHER", "A0TEST", 403),
        ("T0TEST", "A0OTHER", 403),
        ("T0TEST", "A0TEST", 200),
    ] {
        let (code, _) = slack_post_json(
            web.addr,
            "/slack/events",
            &event(team, app_id),
            SLACK_SECRET,
        )
        .await;
        assert_eq!(code, want, "{team} {app_id}");
    }
    let (code, answer) = slack_post_json(
        web.addr,
        "/slack/events",
        &json!({"type": "url_verification", "challenge": "c-1", "token": "x"}).to_string(),
        SLACK_SECRET,
    )
    .await;
    assert_eq!((code, answer.contains("c-1")), (200, true));

    // From the configured workspace and app, the same requests work.
    assert_eq!(
        post("/slack/commands", with_app_id(ours, "A0TEST")).await,
        200
    );
    assert!(holder(&app, &n).await.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slack_socket_mode_envelopes_from_another_workspace_are_dropped() {
    let mut env = db_only(platforms(true, false)).await;
    use_slack_socket_mode(&mut env);
    if let Some(s) = env.settings.slack.as_mut() {
        s.team_id = Some("T0TEST".into());
    }
    let slack = env.slack.as_ref().expect("slack stand-in");
    let app = env.app().await;
    let _running = app.start_web().await.expect("web and socket mode");
    assert!(slack.wait_socket(15).await, "Socket Mode connected");
    let n = open_ticket(&app, 1, "sock@customer.example", "Socket", "x").await;
    let payload = |team: &str| {
        json!({
            "token": "legacy-verification-token", "team_id": team, "team_domain": "claimdesk-test",
            "channel_id": SLACK_CHANNEL, "channel_name": "support", "user_id": ANA_SLACK,
            "user_name": "someone", "command": "/claim", "text": n,
            "api_app_id": "A0STANDIN1", "is_enterprise_install": "false",
            "response_url": slack.response_url(), "trigger_id": slack.trigger_id(),
        })
    };
    let (ack, _) = slack
        .socket_send("slash_commands", payload("T0OTHER"), true)
        .await
        .expect("ack");
    assert!(
        !ack["payload"]["text"]
            .as_str()
            .unwrap_or("")
            .contains("claimed"),
        "{ack}"
    );
    assert_eq!(
        holder(&app, &n).await,
        None,
        "the foreign command had no effect"
    );
    let (ack, _) = slack
        .socket_send("slash_commands", payload("T0TEST"), true)
        .await
        .expect("ack");
    assert!(
        ack["payload"]["text"]
            .as_str()
            .unwrap_or("")
            .contains("claimed"),
        "{ack}"
    );
    assert!(holder(&app, &n).await.is_some());
}

#[tokio::test]
async fn a_short_message_id_key_stops_the_start() {
    let mut env = db_only(platforms(false, false)).await;
    let var = format!("TEST_MESSAGE_ID_KEY_{}", uuid::Uuid::new_v4().simple());
    env.settings.desk.message_id_key_env = var.clone();
    // Only this test reads this variable.
    for short in ["k", "0123456789abcdef0123456789abcde"] {
        std::env::set_var(&var, short);
        let err = match claimdesk::app::App::build(env.settings.clone(), env.secrets.clone()).await
        {
            Ok(_) => panic!("started with a {}-byte key", short.len()),
            Err(e) => format!("{e:#}"),
        };
        assert!(err.contains("at least 32 bytes"), "{err}");
        assert!(err.contains(&var), "{err}");
        if short.len() > 8 {
            assert!(!err.contains(short), "the key is not in the error: {err}");
        }
    }
    std::env::set_var(&var, "0123456789abcdef0123456789abcdef");
    assert!(
        claimdesk::app::App::build(env.settings.clone(), env.secrets.clone())
            .await
            .is_ok()
    );
    // Unset: the generated key is 32 bytes.
    std::env::remove_var(&var);
    let app = env.app().await;
    open_ticket(&app, 1, "key@customer.example", "Key", "x").await;
    let ana = actor(&app, "ana", claimdesk::desk::Surface::Console).await;
    let _ = app.desk.claim(&ana, "TICK-2026-0001").await;
    let _ = app.desk.reply(&ana, "TICK-2026-0001", "Hello").await;
    let (len,): (i32,) =
        sqlx::query_as("SELECT length(value) FROM desk_secrets WHERE name = 'message_id_key'")
            .fetch_one(app.desk.pool())
            .await
            .expect("a generated key");
    assert!(len >= 32, "generated key of {len} bytes");
}

/// A `tracing` writer that keeps everything in memory.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(|p| p.into_inner())).into_owned()
    }
}

#[tokio::test]
async fn interaction_tokens_never_reach_the_logs() {
    // Everything, at every level, from every crate, on this (single) runtime thread.
    let captured = Captured::default();
    let sink = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || sink.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    const DISCORD_TOKEN: &str = "aW50ZXJhY3Rpb246ZGlzY29yZC10b2tlbi1TRUNSRVQ";
    const RESPONSE_URL_SECRET: &str = "RESPONSEURLSECRET42";
    const TRIGGER: &str = "4242.4242.TRIGGERSECRET";

    let mut env = db_only(platforms(true, true)).await;
    if let Some(d) = env.settings.discord.as_mut() {
        d.application_id = Some("400000000000000001".into());
        d.register_commands = false;
        // Nobody listens there: every Discord API call fails with a transport error, whose
        // text names the URL (which holds the token for interaction edits).
        d.api_proxy = Some(format!(
            "http://127.0.0.1:{}",
            support::services::free_port()
        ));
    }
    let app = env.app().await;
    let web = app.start_web().await.expect("web");
    let n = open_ticket(&app, 1, "log@customer.example", "Logs", "x").await;
    let signer = &env.discord_signer;

    // Discord: a deferred command (its edit fails and is logged), a button, a modal, a
    // replay, a stale one and an unreadable one, all with the token.
    let with_token = |mut v: Value| {
        v["token"] = DISCORD_TOKEN.into();
        v["application_id"] = "400000000000000001".into();
        v
    };
    let deferred = with_token(discord_command(ANA_DISCORD, "mine", &[]));
    let (code, _) = discord_post(web.addr, signer, &deferred, false).await;
    assert_eq!(code, 200);
    let button = with_token(discord_button(BEN_DISCORD, &format!("claim:{n}")));
    discord_post(web.addr, signer, &button, false).await;
    let mut replay = with_token(discord_modal_submit(
        ANA_DISCORD,
        &format!("note-modal:{n}"),
        "noted",
    ));
    replay["id"] = "900000000000000777".into();
    let now = chrono::Utc::now().timestamp();
    for ts in [now, now, now - 1000] {
        discord_post_signed(
            web.addr,
            signer,
            &replay.to_string(),
            &ts.to_string(),
            false,
        )
        .await;
    }
    let mut unreadable = with_token(discord_button(BEN_DISCORD, "x"));
    unreadable["type"] = "not a number".into();
    discord_post(web.addr, signer, &unreadable, false).await;
    discord_post(web.addr, signer, &button, true).await;

    // Slack: a slash command that opens a modal (the trigger is unknown to the stand-in, so
    // views.open fails and is logged) and a button, with a known response_url and trigger.
    let response_url = format!("https://hooks.slack.com/commands/T0TEST/1/{RESPONSE_URL_SECRET}");
    let form = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("team_id", "T0TEST")
        .append_pair("channel_id", SLACK_CHANNEL)
        .append_pair("user_id", ANA_SLACK)
        .append_pair("command", "/desk")
        .append_pair("text", &format!("reply {n}"))
        .append_pair("response_url", &response_url)
        .append_pair("trigger_id", TRIGGER)
        .finish();
    slack_post(web.addr, "/slack/commands", &form, SLACK_SECRET, 0).await;
    let mut click = block_action_payload(ANA_SLACK, "note", &n, TRIGGER);
    click["response_url"] = response_url.clone().into();
    slack_post(
        web.addr,
        "/slack/interactions",
        &interaction_form(&click),
        SLACK_SECRET,
        0,
    )
    .await;
    slack_post(
        web.addr,
        "/slack/interactions",
        &interaction_form(&click),
        SLACK_SECRET,
        -1000,
    )
    .await;

    // Let the detached work (deferred edit, views.open, outbox) run and fail.
    app.deliverer.drain().await.ok();
    let log = eventually(20, "the failed deferred edit in the log", || {
        let text = captured.text();
        async move {
            text.contains("editing a deferred Discord answer")
                .then_some(text)
        }
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let log = format!("{log}{}", captured.text());
    assert!(
        log.contains("rejected replayed Discord interaction"),
        "{log}"
    );
    for secret in [DISCORD_TOKEN, RESPONSE_URL_SECRET, TRIGGER, "TRIGGERSECRET"] {
        let at = log.find(secret);
        assert!(
            at.is_none(),
            "{secret} is in the log: …{}…",
            at.map(|i| &log[i.saturating_sub(300)..(i + 100).min(log.len())])
                .unwrap_or("")
        );
    }
}
