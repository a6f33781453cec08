//! Tags (issue 15): `tag`, `untag` and the `tag:` filters of `list`, `mine` and `unassigned`
//! on every surface — the console, Slack HTTP (a signed `/desk` slash command), Slack Socket
//! Mode, Discord HTTP (a signed interaction with typed options) and the Discord gateway —
//! against the stand-ins that check every request against the specs; the card showing the
//! tags on Slack (Block Kit), Discord (embed) and the console; the allowed list and the
//! limit per ticket; intake rules tagging (and prioritising, routing) new tickets from real
//! Dovecot intake and from the ingest API, never follow-ups; and the report filtered and
//! grouped by tag.

mod support;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use claimdesk::app::App;
use claimdesk::desk::Surface;
use serde_json::{json, Value};
use support::harness::*;
use support::standin::{DiscordStandin, GatewayStandin, SlackStandin};

const APP_ID: &str = DISCORD_APP_ID;

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
    (500_000_000_000_002_000 + NEXT_ID.fetch_add(1, Ordering::SeqCst)).to_string()
}

/// A Discord application command interaction as the gateway carries it, from Ana.
fn gateway_command(id: &str, name: &str, options: Value) -> Value {
    let mut v = gateway_interaction("applicationCommandRequestBody.json", id, ANA_DISCORD);
    v["data"]["name"] = name.into();
    v["data"]["type"] = 1.into();
    v["data"]["options"] = options;
    v
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

/// The text of a Discord interaction response; a deferred one is followed to its edit.
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

/// A Slack answer; "Working on it" is followed to the private answer sent later.
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

/// Runs command `name` with `options` (Discord's typed options; on the other surfaces their
/// values typed in order) as Ana on `via`, and returns the answer she sees.
async fn run(w: &World<'_>, via: Via, name: &str, options: &[(&str, &str)]) -> String {
    let line: Vec<&str> = options.iter().map(|(_, v)| *v).collect();
    let line = line.join(" ");
    let answer = async {
        match via {
            Via::Console => {
                let ana = actor(&w.app, "ana", Surface::Console).await;
                match claimdesk::chat::commands::parse(name, &line) {
                    Ok(cmd) => claimdesk::chat::commands::execute(&w.app.desk, &ana, cmd).await,
                    Err(usage) => usage.0,
                }
            }
            Via::SlackHttp => {
                let before = w.slack.calls_to("chat.postEphemeral").len();
                let form = slash_command("/desk", &format!("{name} {line}"), ANA_SLACK);
                let (code, body) =
                    slack_post(w.addr, "/slack/commands", &form, SLACK_SECRET, 0).await;
                assert_eq!(code, 200, "{body}");
                let v: Value = serde_json::from_str(&body).expect("json answer");
                slack_answer(w, v["text"].as_str().unwrap_or(""), before).await
            }
            Via::SlackSocket => {
                let before = w.slack.calls_to("chat.postEphemeral").len();
                let payload = slash_payload(w.slack, &format!("/{name}"), &line, ANA_SLACK);
                let (ack, _) = w
                    .slack
                    .socket_send("slash_commands", payload, true)
                    .await
                    .expect("ack");
                slack_answer(w, ack["payload"]["text"].as_str().unwrap_or(""), before).await
            }
            Via::DiscordHttp | Via::DiscordGateway => {
                let opts: Vec<Value> = options
                    .iter()
                    .map(|(n, v)| json!({"name": n, "type": 3, "value": v}))
                    .collect();
                if via == Via::DiscordHttp {
                    let mut body = discord_command(ANA_DISCORD, name, &[]);
                    body["data"]["options"] = Value::Array(opts);
                    let token = format!("http-token-{}", snowflake());
                    body["token"] = token.clone().into();
                    body["application_id"] = APP_ID.into();
                    let (code, r) = discord_post(w.addr, w.signer, &body, false).await;
                    assert_eq!(code, 200, "{r}");
                    discord_answer(w, &r, &token).await
                } else {
                    let id = snowflake();
                    let token = format!("token-{id}");
                    w.gateway.dispatch(
                        "INTERACTION_CREATE",
                        gateway_command(&id, name, Value::Array(opts)),
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
    };
    tokio::time::timeout(Duration::from_secs(60), answer)
        .await
        .unwrap_or_else(|_| panic!("{via:?} {name} {line}: no answer"))
}

async fn tags_of(app: &App, number: &str) -> Vec<String> {
    let rows: Vec<(String,)> = sqlx::query_as(
        "SELECT g.tag FROM ticket_tags g JOIN tickets t ON t.id = g.ticket_id
         WHERE t.number = $1 ORDER BY g.tag",
    )
    .bind(number)
    .fetch_all(app.desk.pool())
    .await
    .expect("tags");
    rows.into_iter().map(|r| r.0).collect()
}

async fn ticket_id(app: &App, number: &str) -> i64 {
    let (id,): (i64,) = sqlx::query_as("SELECT id FROM tickets WHERE number = $1")
        .bind(number)
        .fetch_one(app.desk.pool())
        .await
        .expect("ticket");
    id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tag_filter_and_untag_on_every_surface_and_the_card_shows_the_tags() {
    let mut env = db_only(Platforms {
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

    let mut uid = 0;
    let mut first = None;
    for via in SURFACES {
        uid += 2;
        let a = open_ticket(
            &w.app,
            uid,
            &format!("a{uid}@customer.example"),
            &format!("Tags A {uid}"),
            "Hello",
        )
        .await;
        let b = open_ticket(
            &w.app,
            uid + 1,
            &format!("b{uid}@customer.example"),
            &format!("Tags B {uid}"),
            "Hello",
        )
        .await;
        let what = |s: &str| format!("{via:?}: {s}");
        first.get_or_insert_with(|| a.clone());

        // Tags are lower-cased, each once; the answer names them.
        let ans = run(
            &w,
            via,
            "tag",
            &[("ticket", &a), ("tags", "Billing VIP,billing")],
        )
        .await;
        assert!(
            ans.contains(&format!("{a} tagged billing, vip")),
            "{}",
            what(&ans)
        );
        assert_eq!(tags_of(&w.app, &a).await, ["billing", "vip"]);
        // Tagging again is a harmless, clear answer.
        let ans = run(&w, via, "tag", &[("ticket", &a), ("tags", "billing")]).await;
        assert!(
            ans.contains("already has billing; nothing changed"),
            "{}",
            what(&ans)
        );

        // Filters: every tag: term must hold. Discord's option takes the tags without `tag:`.
        let filter = |f: &'static str| -> &'static str {
            match via {
                Via::DiscordHttp | Via::DiscordGateway => f.trim_start_matches("tag:"),
                _ => f,
            }
        };
        let ans = run(&w, via, "list", &[("tags", filter("tag:billing"))]).await;
        assert!(ans.contains(&a) && !ans.contains(&b), "{}", what(&ans));
        assert!(ans.contains("🏷 billing, vip"), "{}", what(&ans));
        let ans = run(&w, via, "unassigned", &[("tags", "tag:billing tag:vip")]).await;
        assert!(ans.contains(&a) && !ans.contains(&b), "{}", what(&ans));
        assert!(ans.contains("tagged billing and vip"), "{}", what(&ans));
        let ans = run(&w, via, "unassigned", &[]).await;
        assert!(ans.contains(&a) && ans.contains(&b), "{}", what(&ans));
        let ans = run(&w, via, "claim", &[("ticket", &a)]).await;
        assert!(ans.contains(&a), "{}", what(&ans));
        let ans = run(&w, via, "mine", &[("tags", filter("tag:vip"))]).await;
        assert!(ans.contains(&a) && !ans.contains(&b), "{}", what(&ans));
        let ans = run(&w, via, "mine", &[("tags", "tag:nosuch")]).await;
        assert!(
            ans.contains("No tickets of yours tagged nosuch"),
            "{}",
            what(&ans)
        );

        // The ticket view and history show them.
        let ans = run(&w, via, "ticket", &[("ticket", &a)]).await;
        assert!(ans.contains("🏷 billing, vip"), "{}", what(&ans));

        // Untag: what was there goes, what was not is named.
        let ans = run(&w, via, "untag", &[("ticket", &a), ("tags", "vip nope")]).await;
        assert!(
            ans.contains(&format!("{a} untagged vip. Not there: nope.")),
            "{}",
            what(&ans)
        );
        let ans = run(&w, via, "untag", &[("ticket", &a), ("tags", "vip")]).await;
        assert!(
            ans.contains("has no tag vip; nothing changed"),
            "{}",
            what(&ans)
        );
        assert_eq!(tags_of(&w.app, &a).await, ["billing"]);
        let ans = run(&w, via, "list", &[("tags", filter("tag:vip"))]).await;
        assert!(
            ans.contains("No open tickets tagged vip."),
            "{}",
            what(&ans)
        );
        let ans = run(&w, via, "history", &[("ticket", &a)]).await;
        assert!(
            ans.contains("tagged billing, vip by ana") && ans.contains("untagged vip by ana"),
            "{}",
            what(&ans)
        );

        // A malformed tag is explained, nothing stored.
        let ans = run(&w, via, "tag", &[("ticket", &b), ("tags", "b@d")]).await;
        assert!(ans.contains("Usage: tag"), "{}", what(&ans));
        assert!(tags_of(&w.app, &b).await.is_empty());

        // Audited once per change.
        let id = ticket_id(&w.app, &a).await;
        let n = count(
            &w.app,
            &format!("SELECT count(*) FROM audit_events WHERE ticket_id = {id} AND action IN ('ticket.tagged', 'ticket.untagged')"),
        )
        .await;
        assert_eq!(n, 2, "{via:?}: one tag and one untag event");
    }

    // The cards, refreshed through the outbox, show the tags on every platform.
    w.app.deliverer.drain().await.expect("deliver");
    let slack_cards: Vec<String> = w
        .slack
        .calls_to("chat.update")
        .into_iter()
        .chain(w.slack.calls_to("chat.postMessage"))
        .map(|c| c.body["blocks"].to_string())
        .collect();
    assert!(
        slack_cards
            .iter()
            .any(|b| b.contains("*Tags*") && b.contains("billing")),
        "no Slack card shows the tags"
    );
    let discord_cards: Vec<Value> = w
        .discord
        .requests()
        .into_iter()
        .filter(|c| c.path.contains("/messages"))
        .flat_map(|c| c.body["embeds"].as_array().cloned().unwrap_or_default())
        .collect();
    assert!(
        discord_cards
            .iter()
            .any(|e| e["fields"].as_array().is_some_and(|f| f
                .iter()
                .any(|f| f["name"] == "Tags" && f["value"] == "billing"))),
        "no Discord embed shows the tags"
    );
    let card = w
        .app
        .desk
        .card_view(ticket_id(&w.app, first.as_deref().expect("a ticket")).await)
        .await
        .expect("card")
        .expect("exists");
    let text = claimdesk::chat::console::render(&card, "updated");
    assert!(text.contains("Tags: billing"), "{text}");

    assert_eq!(w.slack.violations(), Vec::<String>::new());
    assert_eq!(w.discord.violations(), Vec::<String>::new());
    task.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tagging_a_ticket_merged_while_waiting_for_its_lock_is_refused_as_merged() {
    let env = db_only(Platforms {
        slack: false,
        discord: false,
    })
    .await;
    let app = env.app().await;
    let ben = actor(&app, "ben", Surface::Console).await;
    let a = open_ticket(&app, 1, "m1@customer.example", "First", "Hello").await;
    let b = open_ticket(&app, 2, "m2@customer.example", "Second", "Hello").await;
    let (a_id, b_id) = (ticket_id(&app, &a).await, ticket_id(&app, &b).await);
    // A merge holds the ticket's lock while `tag` looks it up, then commits.
    let mut merge = app.desk.pool().begin().await.expect("begin");
    sqlx::query("SELECT id FROM tickets WHERE id = $1 FOR UPDATE")
        .bind(b_id)
        .execute(&mut *merge)
        .await
        .expect("lock");
    let desk = app.desk.clone();
    let number = b.clone();
    let tagging = tokio::spawn(async move {
        let vip = claimdesk::domain::tags::Tag::parse("vip").expect("tag");
        desk.tag(&ben, &number, &[vip]).await
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    sqlx::query("UPDATE tickets SET merged_into = $1 WHERE id = $2")
        .bind(a_id)
        .bind(b_id)
        .execute(&mut *merge)
        .await
        .expect("merge");
    merge.commit().await.expect("commit");
    match tagging.await.expect("join") {
        Err(claimdesk::desk::DeskError::Merged { number, into }) => {
            assert_eq!((number, into), (b.clone(), a.clone()))
        }
        other => panic!("expected Merged, got {other:?}"),
    }
    assert!(tags_of(&app, &b).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_allowed_list_and_the_limit_refuse_with_a_clear_answer_and_nothing_changes() {
    let mut env = db_only(Platforms {
        slack: false,
        discord: false,
    })
    .await;
    env.settings.tags = claimdesk::config::TagSettings::from_toml(
        "allowed = [\"billing\", \"vip\", \"refund\"]\nmax_per_ticket = 2",
    )
    .expect("tag settings");
    let app = env.app().await;
    let ben = actor(&app, "ben", Surface::Console).await;
    let t = open_ticket(&app, 1, "limit@customer.example", "Limits", "Hello").await;
    let run = |line: &str| {
        let (name, args) = line.split_once(' ').unwrap_or((line, ""));
        let cmd = claimdesk::chat::commands::parse(name, args);
        let (app, ben) = (&app, &ben);
        async move {
            match cmd {
                Ok(c) => claimdesk::chat::commands::execute(&app.desk, ben, c).await,
                Err(u) => u.0,
            }
        }
    };
    let ans = run(&format!("tag {t} billing shipping")).await;
    assert!(
        ans.contains("shipping is not an allowed tag. Allowed tags: billing, vip, refund."),
        "{ans}"
    );
    assert!(
        tags_of(&app, &t).await.is_empty(),
        "nothing of a refused command is stored"
    );
    // A member may tag a ticket nobody holds (tags are for everyone).
    let ans = run(&format!("tag {t} billing VIP")).await;
    assert!(ans.contains("tagged billing, vip"), "{ans}");
    let ans = run(&format!("tag {t} refund")).await;
    assert!(ans.contains("a ticket carries at most 2"), "{ans}");
    let ans = run(&format!("tag {t} vip")).await;
    assert!(ans.contains("already has vip"), "{ans}");
    assert_eq!(tags_of(&app, &t).await, ["billing", "vip"]);
    // A ticket that does not exist, or was merged, is named.
    let ans = run("tag TICK-2099-0099 vip").await;
    assert!(ans.contains("TICK-2099-0099"), "{ans}");
    let id = ticket_id(&app, &t).await;
    let audit = count(
        &app,
        &format!(
            "SELECT count(*) FROM audit_events WHERE ticket_id = {id} AND action = 'ticket.tagged'"
        ),
    )
    .await;
    assert_eq!(audit, 1, "only the change is audited");

    // A merge carries the merged ticket's tags over, within the limit.
    let other = open_ticket(&app, 2, "limit2@customer.example", "Other", "Hi").await;
    let third = open_ticket(&app, 3, "limit3@customer.example", "Third", "Hi").await;
    let ans = run(&format!("tag {other} refund")).await;
    assert!(ans.contains("tagged refund"), "{ans}");
    let ana = actor(&app, "ana", Surface::Console).await;
    app.desk
        .merge_tickets(&ana, &t, &other)
        .await
        .expect("merge");
    assert_eq!(
        tags_of(&app, &other).await,
        ["billing", "refund"],
        "2 at most"
    );
    app.desk
        .merge_tickets(&ana, &other, &third)
        .await
        .expect("merge");
    assert_eq!(tags_of(&app, &third).await, ["billing", "refund"]);
}

const RULES: &str = r#"
    [[rules]]
    name = "billing"
    subject = "(?i)invoice|refund"
    tags = ["billing"]
    priority = "high"

    [[rules]]
    name = "vip"
    domain = ["bigcorp.example"]
    tags = ["vip", "billing"]
    department = "accounts"

    [[rules]]
    name = "outage"
    mailbox = "support"
    body = "(?i)\\boutage\\b"
    tags = ["outage"]
    priority = "urgent"
"#;

fn email(from: &str, message_id: &str, subject: &str, body: &str, parent: Option<&str>) -> Vec<u8> {
    let mut h = format!(
        "From: {from}\r\nTo: {SUPPORT}\r\nSubject: {subject}\r\nDate: Sun, 22 Nov 2026 09:00:00 +0000\r\n\
         Message-ID: <{message_id}>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
    );
    if let Some(p) = parent {
        h.push_str(&format!("In-Reply-To: <{p}>\r\nReferences: <{p}>\r\n"));
    }
    format!("{h}\r\n{body}\r\n").into_bytes()
}

async fn ticket_of(app: &App, message_id: &str) -> (String, String, String) {
    sqlx::query_as(
        "SELECT t.number, t.priority, t.department FROM tickets t
         JOIN messages m ON m.ticket_id = t.id WHERE m.message_id = $1",
    )
    .bind(message_id)
    .fetch_one(app.desk.pool())
    .await
    .expect("ticket of message")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rules_tag_prioritise_and_route_new_tickets_from_dovecot_and_the_ingest_api() {
    let mut env = env(Platforms {
        slack: false,
        discord: false,
    })
    .await;
    env.settings
        .departments
        .push(claimdesk::config::DepartmentSettings {
            name: "accounts".into(),
            ..env.settings.departments[0].clone()
        });
    env.settings.tags = claimdesk::config::TagSettings::from_toml(RULES).expect("rules");
    env.settings.validate().expect("valid");
    let app = env.app().await;

    // Through real Dovecot, the batch path: a refund request, a big customer writing about an
    // outage, an ordinary question, and a follow-up to the question that mentions an invoice
    // (follow-ups are never tagged by rules), plus a hostile one whose pattern sits past the
    // part of the body rules look at.
    let mut huge = "x".repeat(200_000);
    huge.push_str(" outage");
    let raws = vec![
        email(
            "Dana <dana@customer.example>",
            "r1@c.example",
            "Refund for order 42",
            "Please.",
            None,
        ),
        email(
            "Jo <jo@eu.BigCorp.example>",
            "r2@c.example",
            "Help",
            "We have an OUTAGE.",
            None,
        ),
        email(
            "Al <al@customer.example>",
            "r3@c.example",
            "A question",
            "How do I?",
            None,
        ),
        email(
            "Al <al@customer.example>",
            "r4@c.example",
            "Re: A question",
            "Also my invoice",
            Some("r3@c.example"),
        ),
        email(
            "Ev <ev@customer.example>",
            "r5@c.example",
            "Long",
            &huge,
            None,
        ),
    ];
    env.dovecot
        .append_many("INBOX", &raws)
        .await
        .expect("append");
    app.intake_once().await.expect("intake");

    let (n1, p1, d1) = ticket_of(&app, "r1@c.example").await;
    assert_eq!(tags_of(&app, &n1).await, ["billing"]);
    assert_eq!((p1.as_str(), d1.as_str()), ("high", "support"));
    let (n2, p2, d2) = ticket_of(&app, "r2@c.example").await;
    assert_eq!(tags_of(&app, &n2).await, ["billing", "outage", "vip"]);
    assert_eq!(
        (p2.as_str(), d2.as_str()),
        ("urgent", "accounts"),
        "first rule setting each wins"
    );
    let (n3, p3, _) = ticket_of(&app, "r3@c.example").await;
    let (n4, _, _) = ticket_of(&app, "r4@c.example").await;
    assert_eq!(n3, n4, "the follow-up joined the ticket");
    assert!(
        tags_of(&app, &n3).await.is_empty(),
        "a follow-up is not tagged by rules"
    );
    assert_eq!(p3, "medium");
    let (n5, _, _) = ticket_of(&app, "r5@c.example").await;
    assert!(
        tags_of(&app, &n5).await.is_empty(),
        "only the head of a body is matched"
    );

    // Audited as tagged by the rule, and so shown in history.
    let ana = actor(&app, "ana", Surface::Console).await;
    let h = claimdesk::chat::commands::execute(
        &app.desk,
        &ana,
        claimdesk::chat::commands::Command::History(n2.clone()),
    )
    .await;
    assert!(
        h.contains("tagged vip, billing (department accounts) by rule vip via email"),
        "{h}"
    );
    assert!(
        h.contains("tagged outage (priority urgent) by rule outage via email"),
        "{h}"
    );
    let by_rule: Vec<(String,)> = sqlx::query_as(
        "SELECT added_by FROM ticket_tags g JOIN tickets t ON t.id = g.ticket_id
         WHERE t.number = $1 ORDER BY g.tag",
    )
    .bind(&n2)
    .fetch_all(app.desk.pool())
    .await
    .expect("added_by");
    assert_eq!(
        by_rule.into_iter().map(|r| r.0).collect::<Vec<_>>(),
        ["rule:vip", "rule:outage", "rule:vip"]
    );

    // The single-message path (the ingest API) applies the same rules.
    let raw = email(
        "Kim <kim@customer.example>",
        "r6@c.example",
        "INVOICE missing",
        "Hi",
        None,
    );
    let got = app.desk.ingest(src(100), &raw).await.expect("ingest");
    let claimdesk::desk::Ingested::Created(n6) = got else {
        panic!("expected a new ticket, got {got:?}");
    };
    assert_eq!(tags_of(&app, &n6).await, ["billing"]);
    assert_eq!(ticket_of(&app, "r6@c.example").await.1, "high");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_report_filters_and_groups_by_tag() {
    let env = db_only(Platforms {
        slack: false,
        discord: false,
    })
    .await;
    let app = env.app().await;
    let ana = actor(&app, "ana", Surface::Cli).await;
    let a = open_ticket(&app, 1, "ra@customer.example", "Report A", "Hello").await;
    let b = open_ticket(&app, 2, "rb@customer.example", "Report B", "Hello").await;
    let c = open_ticket(&app, 3, "rc@customer.example", "Report C", "Hello").await;
    let tag = |t: &str, tags: &str| {
        let tags = claimdesk::domain::tags::parse_list(tags).expect("tags");
        let (app, ana, t) = (&app, &ana, t.to_string());
        async move { app.desk.tag(ana, &t, &tags).await.expect("tag") }
    };
    tag(&a, "billing vip").await;
    tag(&b, "billing").await;

    let report = |tags: Vec<String>, group: Option<&'static str>, format| {
        let app = &app;
        async move {
            use claimdesk::desk::report;
            let from = "2000-01-01";
            let to = "2100-01-01";
            let range =
                report::with_tags(report::range(from, to, None).expect("range"), &tags, group)
                    .expect("tags");
            let mut conn = app.desk.pool().acquire().await.expect("conn");
            let mut out = Vec::new();
            report::write(
                &mut conn,
                &range,
                format,
                &mut report::WallTime,
                chrono::Utc::now(),
                &mut out,
            )
            .await
            .expect("report");
            String::from_utf8(out).expect("utf-8")
        }
    };
    use claimdesk::desk::report::Format;
    let csv = report(vec![], None, Format::Csv).await;
    let lines: Vec<&str> = csv.lines().collect();
    assert!(lines[0].ends_with(",tags"), "{csv}");
    assert_eq!(lines.len(), 4, "{csv}");
    assert!(
        lines[1].starts_with(&a) && lines[1].ends_with(",billing vip"),
        "{csv}"
    );

    let csv = report(vec!["Billing".into()], None, Format::Csv).await;
    let numbers: Vec<&str> = csv
        .lines()
        .skip(1)
        .filter_map(|l| l.split(',').next())
        .collect();
    assert_eq!(numbers, [a.as_str(), b.as_str()], "{csv}");
    let csv = report(vec!["billing,vip".into()], None, Format::Csv).await;
    let numbers: Vec<&str> = csv
        .lines()
        .skip(1)
        .filter_map(|l| l.split(',').next())
        .collect();
    assert_eq!(numbers, [a.as_str()], "every tag is required: {csv}");

    // Grouped: one row per ticket and tag, by tag, the untagged last.
    let csv = report(vec![], Some("tag"), Format::Csv).await;
    let rows: Vec<(String, String)> = csv
        .lines()
        .skip(1)
        .map(|l| {
            let mut cells = l.split(',');
            let tag = cells.next().unwrap_or_default().to_string();
            let number = cells.next().unwrap_or_default().to_string();
            (tag, number)
        })
        .collect();
    assert!(csv.starts_with("tag,number,"), "{csv}");
    let want: Vec<(String, String)> = [("billing", &a), ("billing", &b), ("vip", &a), ("", &c)]
        .into_iter()
        .map(|(t, n)| (t.to_string(), n.to_string()))
        .collect();
    assert_eq!(rows, want, "{csv}");
    let json: Value =
        serde_json::from_str(&report(vec!["vip".into()], Some("tag"), Format::Json).await)
            .expect("json");
    let rows = json.as_array().expect("array");
    assert_eq!(rows.len(), 2, "{json}");
    assert_eq!(rows[0]["tag"], "billing");
    assert_eq!(rows[1]["tag"], "vip");
    assert_eq!(rows[0]["tags"], json!(["billing", "vip"]));

    // Bad words are refused before anything is read.
    use claimdesk::desk::report;
    let r = report::range("2000-01-01", "2100-01-01", None).expect("range");
    assert!(report::with_tags(r.clone(), &["b@d".into()], None).is_err());
    assert!(report::with_tags(r, &[], Some("agent")).is_err());
}
