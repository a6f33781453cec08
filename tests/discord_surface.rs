//! Discord's inbound side beyond the main story: every documented payload shape, the slash
//! command registration, ticket-number autocomplete, deferred answers, and the wait a 429
//! asks for. Requests are signed with Ed25519 as Discord signs them; every response
//! claimdesk gives is checked against the interaction callback schema of the official spec.

mod support;

use std::time::Duration;

use serde_json::{json, Value};
use support::harness::*;
use support::standin::{validate_interaction_response, Behaviour};

const APP_ID: &str = "400000000000000001";

fn shapes() -> Vec<(String, Value)> {
    let base = repo_path("../shared/specs/discord");
    let mut out = Vec::new();
    for (dir, prefix) in [
        ("interaction-bodies", ""),
        ("doc-examples", "interactions__"),
        ("doc-examples", "components__"),
    ] {
        let mut files: Vec<_> = std::fs::read_dir(base.join(dir))
            .expect("spec dir")
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| {
                p.extension().is_some_and(|x| x == "json")
                    && p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.starts_with(prefix))
            })
            .collect();
        files.sort();
        for f in files {
            let text = std::fs::read_to_string(&f).expect("read example");
            let v: Value = serde_json::from_str(&text).expect("example is JSON");
            out.push((f.display().to_string(), v));
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_documented_payload_gets_a_valid_or_clear_answer() {
    let env = db_only(Platforms {
        slack: false,
        discord: true,
    })
    .await;
    let app = env.app().await;
    let web = app.start_web().await.expect("web");
    let number = open_ticket(&app, 1, "shape@customer.example", "Shapes", "Hello").await;
    let shapes = shapes();
    assert!(shapes.len() >= 14, "found {} examples", shapes.len());
    let mut answered = 0;
    for (name, body) in shapes {
        // As published, and as if Ana (an agent) had sent it.
        let mut as_ana = body.clone();
        if as_ana.is_object() {
            as_ana["member"] = json!({"user": {"id": ANA_DISCORD, "username": "ana", "discriminator": "0", "avatar": null}, "roles": []});
            if as_ana["type"] == 3 {
                as_ana["data"]["custom_id"] = format!("claim:{number}").into();
            }
        }
        for b in [body, as_ana] {
            let (code, r) = discord_post(web.addr, &env.discord_signer, &b, false).await;
            assert!(
                code == 200 || code == 400,
                "{name}: HTTP {code} {r} for {b}"
            );
            if code == 200 {
                answered += 1;
                let errs = validate_interaction_response(&r);
                assert!(errs.is_empty(), "{name}: {r} breaks the spec: {errs:?}");
            }
        }
    }
    assert!(answered >= 8, "only {answered} shapes were answered");
    // The component example, sent by Ana, claimed the ticket through the shared use case.
    assert_eq!(
        app.desk.list().await.expect("list")[0].assignee.as_deref(),
        Some("ana")
    );
    // Garbage that is signed correctly is refused clearly, not with a 5xx.
    for junk in [json!([1, 2]), json!({"type": "x"}), json!({"type": 2})] {
        let (code, _) = discord_post(web.addr, &env.discord_signer, &junk, false).await;
        assert_eq!(code, 400, "{junk}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_are_registered_autocompleted_and_slow_ones_deferred() {
    let mut env = db_only(Platforms {
        slack: false,
        discord: true,
    })
    .await;
    if let Some(d) = env.settings.discord.as_mut() {
        d.application_id = Some(APP_ID.into());
        d.guild_id = Some(support::standin::DISCORD_GUILD_ID.into());
    }
    let discord = env.discord.as_ref().expect("discord stand-in");
    let app = env.app().await;
    let web = app.start_web().await.expect("web");

    // Registered on start, by bulk overwrite in the guild, accepted by the spec check.
    let puts = discord.calls_to(
        "PUT",
        &format!(
            "/applications/{APP_ID}/guilds/{}/commands",
            support::standin::DISCORD_GUILD_ID
        ),
    );
    assert_eq!(puts.len(), 1, "{:?}", discord.violations());
    let names: Vec<String> = discord
        .registered_commands()
        .expect("registered")
        .as_array()
        .expect("array")
        .iter()
        .map(|c| c["name"].as_str().unwrap_or("").to_string())
        .collect();
    for want in [
        "claim",
        "unclaim",
        "assign",
        "reply",
        "note",
        "status",
        "priority",
        "mine",
        "unassigned",
        "ticket",
        "workload",
        "help",
    ] {
        assert!(names.iter().any(|n| n == want), "{want} missing: {names:?}");
    }

    // Autocomplete: open tickets matching what was typed, most recent first.
    let mut numbers = Vec::new();
    for i in 1..=3 {
        numbers.push(
            open_ticket(
                &app,
                i,
                &format!("ac{i}@customer.example"),
                &format!("Ticket {i}"),
                "Hi",
            )
            .await,
        );
    }
    let (code, r) = discord_post(
        web.addr,
        &env.discord_signer,
        &discord_autocomplete(ANA_DISCORD, "claim", "ticket", "tick"),
        false,
    )
    .await;
    assert_eq!(code, 200);
    assert_eq!(r["type"], 8, "{r}");
    assert!(validate_interaction_response(&r).is_empty(), "{r}");
    let values: Vec<&str> = r["data"]["choices"]
        .as_array()
        .expect("choices")
        .iter()
        .filter_map(|c| c["value"].as_str())
        .collect();
    let newest_first: Vec<&str> = numbers.iter().rev().map(String::as_str).collect();
    assert_eq!(values, newest_first);
    let serial = numbers[1].rsplit('-').next().expect("serial").to_string();
    let (_, r) = discord_post(
        web.addr,
        &env.discord_signer,
        &discord_autocomplete(ANA_DISCORD, "ticket", "ticket", &serial),
        false,
    )
    .await;
    assert_eq!(r["data"]["choices"][0]["value"], numbers[1].as_str(), "{r}");
    assert_eq!(r["data"]["choices"].as_array().map(Vec::len), Some(1));
    // A resolved ticket drops out of the choices.
    let ana = actor(&app, "ana", claimdesk::desk::Surface::Discord).await;
    app.desk.claim(&ana, &numbers[2]).await.expect("claim");
    app.desk
        .set_status(&ana, &numbers[2], claimdesk::domain::Status::Resolved)
        .await
        .expect("resolve");
    let (_, r) = discord_post(
        web.addr,
        &env.discord_signer,
        &discord_autocomplete(ANA_DISCORD, "claim", "ticket", ""),
        false,
    )
    .await;
    assert_eq!(
        r["data"]["choices"].as_array().map(Vec::len),
        Some(2),
        "{r}"
    );

    // /workload: deferred at once (type 5, ephemeral), then the answer replaces it.
    let mut cmd = discord_command(ANA_DISCORD, "workload", &[]);
    cmd["application_id"] = APP_ID.into();
    let (code, r) = discord_post(web.addr, &env.discord_signer, &cmd, false).await;
    assert_eq!(code, 200);
    assert_eq!(
        r,
        json!({"type": 5, "data": {"flags": 64, "allowed_mentions": {"parse": [], "users": [], "roles": []}}})
    );
    assert!(validate_interaction_response(&r).is_empty());
    let token = cmd["token"].as_str().expect("token").to_string();
    let path = format!("/webhooks/{APP_ID}/{token}/messages/@original");
    let edit = eventually(10, "the deferred answer", || async {
        discord.calls_to("PATCH", &path).pop()
    })
    .await;
    let content = edit.body["content"].as_str().unwrap_or("");
    assert!(
        content.contains("@ana") && content.contains("Unassigned: 2"),
        "{content}"
    );

    // Options of the richer commands reach the same use cases.
    let (_, r) = discord_post(
        web.addr,
        &env.discord_signer,
        &discord_command(
            ANA_DISCORD,
            "priority",
            &[("ticket", &numbers[0]), ("priority", "urgent")],
        ),
        false,
    )
    .await;
    assert!(
        r["data"]["content"]
            .as_str()
            .unwrap_or("")
            .contains("urgent"),
        "{r}"
    );
    let mut assign = discord_command(ANA_DISCORD, "assign", &[("ticket", &numbers[0])]);
    assign["data"]["options"]
        .as_array_mut()
        .expect("options")
        .push(json!({"name": "user", "type": 6, "value": BEN_DISCORD}));
    let (_, r) = discord_post(web.addr, &env.discord_signer, &assign, false).await;
    assert!(
        r["data"]["content"].as_str().unwrap_or("").contains("@ben"),
        "{r}"
    );
    // A one-word option with blanks inside is refused, not shifted into the next argument.
    let (_, r) = discord_post(
        web.addr,
        &env.discord_signer,
        &discord_command(
            ANA_DISCORD,
            "priority",
            &[
                ("ticket", &format!("{} low", numbers[0])),
                ("priority", "high"),
            ],
        ),
        false,
    )
    .await;
    assert!(
        r["data"]["content"]
            .as_str()
            .unwrap_or("")
            .contains("`ticket` takes one word"),
        "{r}"
    );
    let shown = app.desk.show(&numbers[0]).await.expect("show");
    assert_eq!(shown.priority.to_string(), "urgent", "nothing changed");
    // /reply without text opens the modal naming the customer.
    let (_, r) = discord_post(
        web.addr,
        &env.discord_signer,
        &discord_command(ANA_DISCORD, "reply", &[("ticket", &numbers[0])]),
        false,
    )
    .await;
    assert_eq!(r["type"], 9, "{r}");
    assert!(validate_interaction_response(&r).is_empty(), "{r}");
    assert!(r.to_string().contains("dana@customer.example"), "{r}");

    assert_eq!(discord.violations(), Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_limited_card_waits_as_long_as_discord_asks() {
    let env = db_only(Platforms {
        slack: false,
        discord: true,
    })
    .await;
    let discord = env.discord.as_ref().expect("discord stand-in");
    let app = env.app().await;
    open_ticket(&app, 1, "rl@customer.example", "Slow down", "Hi").await;
    // Retry-After 7 s; the test's own backoff would be at most 2 s.
    discord.queue_behaviour(Behaviour::RateLimited {
        retry_after_secs: 7,
    });
    app.deliverer.drain().await.expect("drain");
    let (wait, err): (f64, Option<String>) = sqlx::query_as(
        "SELECT EXTRACT(EPOCH FROM next_attempt_at - now())::float8, last_error
           FROM outbox WHERE delivered_at IS NULL AND attempts > 0 ORDER BY id LIMIT 1",
    )
    .fetch_one(app.desk.pool())
    .await
    .expect("the card is still queued");
    assert!((6.0..=7.5).contains(&wait), "rescheduled in {wait} s");
    assert!(err.unwrap_or_default().contains("rate limited"));
    assert!(discord.created_messages().is_empty());
    // Once the wait is over the card goes out, once.
    tokio::time::sleep(Duration::from_secs_f64(wait + 0.2)).await;
    app.deliverer.drain().await.expect("drain");
    assert_eq!(discord.created_messages().len(), 1);
    assert_eq!(discord.violations(), Vec::<String>::new());
}
