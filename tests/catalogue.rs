//! The command catalogue, walked: every command it lists is run, with arguments built from
//! its argument types, on each surface — the console (the executor with a console actor),
//! Slack HTTP (a signed `/desk` slash command), Slack Socket Mode (`/<command>` in a
//! `slash_commands` envelope), Discord HTTP (a signed interaction with typed options) and the
//! Discord gateway (`INTERACTION_CREATE`) — and each must be understood (no "Unknown
//! command", no usage answer) and take effect where it has one.

mod support;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use claimdesk::app::App;
use claimdesk::chat::catalogue::{self, ArgKind, Spec};
use claimdesk::desk::Surface;
use claimdesk::domain::Role;
use serde_json::{json, Value};
use support::harness::*;
use support::standin::{DiscordStandin, GatewayStandin, SlackStandin};

const APP_ID: &str = DISCORD_APP_ID;
/// Olga, an owner, runs every command (owners may run them all).
const OLGA_SLACK: &str = "U00000OLGA";
const OLGA_DISCORD: &str = "200000000000000009";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Via {
    Console,
    SlackHttp,
    SlackSocket,
    DiscordHttp,
    DiscordGateway,
}

const SURFACES: [Via; 5] = [
    Via::Console,
    Via::SlackHttp,
    Via::SlackSocket,
    Via::DiscordHttp,
    Via::DiscordGateway,
];

/// Three tickets per surface: `a` takes the workflow, `c` is merged into `b`.
struct Tickets {
    a: String,
    b: String,
    c: String,
}

struct World<'e> {
    app: App,
    addr: std::net::SocketAddr,
    slack: &'e SlackStandin,
    discord: &'e DiscordStandin,
    gateway: GatewayStandin,
    signer: &'e support::signing::DiscordSigner,
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

fn snowflake() -> String {
    (500_000_000_000_001_000 + NEXT_ID.fetch_add(1, Ordering::SeqCst)).to_string()
}

/// A valid value for `arg` of `spec`, as text (an agent without `@`; Discord gets a user ID
/// for an agent it knows).
fn value(spec: &Spec, arg: &catalogue::Arg, t: &Tickets, via: Via, discord: bool) -> String {
    let new_agent = format!("dee{}", via as u8);
    match (spec.name, arg.name, arg.kind) {
        ("merge", "ticket", _) => t.c.clone(),
        ("merge", "into", _) => t.b.clone(),
        (_, _, ArgKind::Ticket) => t.a.clone(),
        ("agent", _, ArgKind::Handle) => new_agent,
        ("reassign-all", "to", _) if discord => CY_DISCORD.into(),
        ("reassign-all", "to", _) => "cy".into(),
        (_, _, ArgKind::Agent) if discord => BEN_DISCORD.into(),
        (_, _, ArgKind::Agent) => "ben".into(),
        (_, _, ArgKind::Departments) => "support".into(),
        ("notify", _, _) => "quiet 22:00-07:00 Europe/Berlin".into(),
        ("help", _, _) => "reply".into(),
        (_, _, kind) => kind.example(&t.a, "ben"),
    }
}

/// The command line as typed after the command's name (subcommand first).
fn typed(spec: &Spec, t: &Tickets, via: Via) -> String {
    let line = catalogue::line_from_options(spec, |a| Some(value(spec, a, t, via, false)));
    match spec.sub {
        Some(sub) => format!("{sub} {line}"),
        None => line,
    }
}

/// Discord's typed options for `spec` (a subcommand nests its options).
fn discord_options(spec: &Spec, t: &Tickets, via: Via) -> Value {
    let opts: Vec<Value> = spec
        .args
        .iter()
        .map(|a| {
            let kind = if a.kind == ArgKind::Agent { 6 } else { 3 };
            json!({"name": a.name, "type": kind, "value": value(spec, a, t, via, true)})
        })
        .collect();
    match spec.sub {
        Some(sub) => json!([{"name": sub, "type": 1, "options": opts}]),
        None => Value::Array(opts),
    }
}

fn slash_payload(slack: &SlackStandin, command: &str, text: &str, user: &str) -> Value {
    json!({
        "token": "legacy-verification-token", "team_id": "T0TEST", "team_domain": "claimdesk-test",
        "channel_id": SLACK_CHANNEL, "channel_name": "support", "user_id": user,
        "user_name": "someone", "command": command, "text": text,
        "api_app_id": "A0STANDIN1", "is_enterprise_install": "false",
        "response_url": slack.response_url(), "trigger_id": slack.trigger_id(),
    })
}

/// An application command interaction as the gateway carries it, from agent Olga.
fn gateway_command(id: &str, name: &str, options: Value) -> Value {
    let mut v = gateway_interaction("applicationCommandRequestBody.json", id, OLGA_DISCORD);
    v["data"]["name"] = name.into();
    v["data"]["type"] = 1.into();
    v["data"]["options"] = options;
    v
}

/// The text of a Discord interaction response; a deferred one (type 5) is followed to the
/// edit of its original response.
async fn discord_answer(w: &World<'_>, response: &Value, token: &str) -> String {
    match response["type"].as_u64() {
        Some(4) => response["data"]["content"]
            .as_str()
            .unwrap_or("")
            .to_string(),
        Some(5) => {
            let path = format!("/webhooks/{APP_ID}/{token}/messages/@original");
            let edit = eventually(20, "the deferred answer", || async {
                w.discord.calls_to("PATCH", &path).pop()
            })
            .await;
            edit.body["content"].as_str().unwrap_or("").to_string()
        }
        _ => panic!("unexpected interaction response {response}"),
    }
}

/// A Slack answer; "Working on it" (the work outlived the ack budget) is followed to the
/// private answer delivered through the outbox.
async fn slack_answer(w: &World<'_>, text: &str, before: usize) -> String {
    if !text.starts_with("Working on it") {
        return text.to_string();
    }
    eventually(20, "the late Slack answer", || async {
        let _ = w.app.deliverer.drain().await;
        let calls = w.slack.calls_to("chat.postEphemeral");
        (calls.len() > before)
            .then(|| {
                calls
                    .last()
                    .map(|c| c.body["text"].as_str().unwrap_or("").to_string())
            })
            .flatten()
    })
    .await
}

/// Runs `spec` on `via` as Olga and returns the answer she sees.
async fn run(w: &World<'_>, via: Via, spec: &Spec, t: &Tickets) -> String {
    let line = typed(spec, t, via);
    match via {
        Via::Console => {
            let olga = actor(&w.app, "olga", Surface::Console).await;
            match claimdesk::chat::commands::parse(spec.name, &line) {
                Ok(cmd) => claimdesk::chat::commands::execute(&w.app.desk, &olga, cmd).await,
                Err(usage) => usage.0,
            }
        }
        Via::SlackHttp => {
            let before = w.slack.calls_to("chat.postEphemeral").len();
            let form = slash_command("/desk", &format!("{} {line}", spec.name), OLGA_SLACK);
            let (code, body) = slack_post(w.addr, "/slack/commands", &form, SLACK_SECRET, 0).await;
            assert_eq!(code, 200, "{body}");
            let v: Value = serde_json::from_str(&body).expect("json answer");
            slack_answer(w, v["text"].as_str().unwrap_or(""), before).await
        }
        Via::SlackSocket => {
            let before = w.slack.calls_to("chat.postEphemeral").len();
            let payload = slash_payload(w.slack, &format!("/{}", spec.name), &line, OLGA_SLACK);
            let (ack, _) = w
                .slack
                .socket_send("slash_commands", payload, true)
                .await
                .expect("ack");
            slack_answer(w, ack["payload"]["text"].as_str().unwrap_or(""), before).await
        }
        Via::DiscordHttp => {
            let mut body = discord_command(OLGA_DISCORD, spec.name, &[]);
            body["data"]["options"] = discord_options(spec, t, via);
            let token = format!("http-token-{}", snowflake());
            body["token"] = token.clone().into();
            body["application_id"] = APP_ID.into();
            let (code, r) = discord_post(w.addr, w.signer, &body, false).await;
            assert_eq!(code, 200, "{r}");
            discord_answer(w, &r, &token).await
        }
        Via::DiscordGateway => {
            let id = snowflake();
            let token = format!("token-{id}");
            w.gateway.dispatch(
                "INTERACTION_CREATE",
                gateway_command(&id, spec.name, discord_options(spec, t, via)),
            );
            let path = format!("/interactions/{id}/{token}/callback");
            let cb = eventually(20, "the gateway callback", || async {
                w.discord.calls_to("POST", &path).pop()
            })
            .await;
            discord_answer(w, &cb.body, &token).await
        }
    }
}

struct TicketState {
    status: String,
    assignee: Option<String>,
}

async fn state(app: &App, number: &str) -> TicketState {
    let t = app
        .desk
        .list()
        .await
        .expect("list")
        .into_iter()
        .find(|t| t.number == number)
        .expect("ticket listed");
    TicketState {
        status: t.status,
        assignee: t.assignee,
    }
}

/// Checks the effect `spec` should have had (if it has one we can see).
async fn check_effect(w: &World<'_>, via: Via, spec: &Spec, t: &Tickets, answer: &str) {
    let what = format!("{via:?} {}: {answer}", spec.full_name());
    let a = state(&w.app, &t.a).await;
    match spec.full_name().as_str() {
        "claim" => assert_eq!(a.assignee.as_deref(), Some("olga"), "{what}"),
        "unclaim" => assert_eq!(a.assignee, None, "{what}"),
        "reply" => {
            assert_eq!(a.status, "in_progress", "{what}");
            assert_eq!(a.assignee.as_deref(), Some("olga"), "{what}");
        }
        "note" => assert!(answer.contains("Internal note added"), "{what}"),
        "status" => assert_eq!(a.status, "waiting", "{what}"),
        "resolve" => assert_eq!(a.status, "resolved", "{what}"),
        "close" => assert_eq!(a.status, "closed", "{what}"),
        "reopen" => assert_eq!(a.status, "open", "{what}"),
        "priority" => {
            let d = w.app.desk.show(&t.a).await.expect("show");
            assert_eq!(d.priority.to_string(), "high", "{what}");
        }
        "merge" => assert_eq!(state(&w.app, &t.c).await.status, "merged", "{what}"),
        "tag" => assert!(answer.contains("tagged billing"), "{what}"),
        "untag" => assert!(answer.contains("untagged billing"), "{what}"),
        "assign" => assert_eq!(a.assignee.as_deref(), Some("ben"), "{what}"),
        "release-all" => assert_eq!(a.assignee, None, "{what}"),
        "away" => assert!(answer.contains("@ben is away"), "{what}"),
        "back" => assert!(answer.contains("@ben is back"), "{what}"),
        // The example is `help reply`: the one command explained, with its own example.
        "help" => {
            let reply = catalogue::named("reply")[0];
            assert!(answer.contains(reply.help), "{what}: {answer}");
            assert!(answer.contains("Example:"), "{what}: {answer}");
            assert!(!answer.contains("agent add"), "{what}: {answer}");
        }
        "history" => assert!(answer.contains(&format!("History of {}", t.a)), "{what}"),
        "ticket" => assert!(answer.contains(&t.a), "{what}"),
        "agent add" => assert!(answer.contains("added as member"), "{what}"),
        "agent departments" => assert!(answer.contains("now works in support"), "{what}"),
        "agent remove" => assert!(answer.contains("removed"), "{what}"),
        "reassign-all" => assert!(answer.contains("Moved"), "{what}"),
        "notify" => {
            assert!(
                answer.contains("Quiet hours 22:00-07:00 Europe/Berlin"),
                "{what}"
            );
            let olga = actor(&w.app, "olga", Surface::Console).await;
            let shown = w.app.desk.notify_settings(&olga, "").await.expect("notify");
            assert!(
                shown.contains("`quiet` 22:00-07:00 Europe/Berlin"),
                "{what}: {shown}"
            );
        }
        "template add" => assert!(answer.contains("Template `refund` added"), "{what}"),
        "template edit" => assert!(answer.contains("Template `refund` updated"), "{what}"),
        "template remove" => assert!(answer.contains("Template `refund` removed"), "{what}"),
        "template list" => assert!(answer.contains("template"), "{what}"),
        // Listings: understood is all there is to check.
        _ => {}
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_catalogue_command_runs_on_every_surface() {
    let mut env = env(Platforms {
        slack: true,
        discord: true,
    })
    .await;
    use_slack_socket_mode(&mut env);
    if let Some(d) = env.settings.discord.as_mut() {
        d.mode = claimdesk::config::DiscordMode::Gateway;
        d.application_id = Some(APP_ID.into());
        d.register_commands = false;
    }
    env.settings.agents.push(claimdesk::config::AgentSettings {
        handle: "olga".into(),
        name: "OLGA".into(),
        email: "olga@claimdesk.test".into(),
        role: Role::Owner,
        slack_user_id: Some(OLGA_SLACK.into()),
        discord_user_id: Some(OLGA_DISCORD.into()),
        departments: vec![],
        capacity: None,
    });
    let slack = env.slack.as_ref().expect("slack stand-in");
    let discord = env.discord.as_ref().expect("discord stand-in");
    let gateway = GatewayStandin::start().await.expect("gateway stand-in");
    discord.set_gateway_url(&gateway.url);
    let app = env.app().await;
    let web = app.start_web().await.expect("web and socket mode start");
    assert!(slack.wait_socket(15).await, "Socket Mode connected");
    let task = app.start_discord_gateway().expect("gateway mode");
    eventually(20, "IDENTIFY", || async { gateway.identifies().pop() }).await;

    let w = World {
        app,
        addr: web.addr,
        slack,
        discord,
        gateway,
        signer: &env.discord_signer,
    };
    // Removing an agent goes last: the other agent commands need them.
    let mut specs: Vec<&Spec> = catalogue::CATALOGUE.iter().collect();
    specs.sort_by_key(|s| s.full_name() == "agent remove");

    let mut uid = 0;
    for via in SURFACES {
        let mut open = |what: &'static str| {
            uid += 1;
            let app = &w.app;
            let id = uid;
            async move {
                open_ticket(
                    app,
                    id,
                    &format!("{what}{id}@customer.example"),
                    &format!("Catalogue {what} {id}"),
                    "Hello",
                )
                .await
            }
        };
        let t = Tickets {
            a: open("a").await,
            b: open("b").await,
            c: open("c").await,
        };
        for spec in &specs {
            let answer = tokio::time::timeout(Duration::from_secs(60), run(&w, via, spec, &t))
                .await
                .unwrap_or_else(|_| panic!("{via:?} {}: no answer", spec.full_name()));
            assert!(
                !answer.trim().is_empty()
                    && !answer.contains("Unknown command")
                    && !answer.contains("Usage:"),
                "{via:?} {} was not understood: {answer}",
                spec.full_name()
            );
            check_effect(&w, via, spec, &t, &answer).await;
        }
    }
    assert_eq!(w.discord.violations(), Vec::<String>::new());
    task.abort();
}
