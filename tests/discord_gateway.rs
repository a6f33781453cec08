//! Discord gateway mode: no public URL, no public key. claimdesk connects to a local
//! gateway stand-in (found through `GET /gateway` on the REST stand-in), identifies, and
//! answers `INTERACTION_CREATE` events through the same handler as the HTTP endpoint,
//! replying with `POST /interactions/{id}/{token}/callback` and, for slow commands,
//! `PATCH /webhooks/{application_id}/{token}/messages/@original`.

mod support;

use serde_json::json;
use support::harness::*;
use support::standin::GatewayStandin;

const APP_ID: &str = DISCORD_APP_ID;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateway_mode_answers_interactions_through_the_callback() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter("warn,claimdesk=info")
        .with_test_writer()
        .try_init();
    let mut env = db_only(Platforms {
        slack: false,
        discord: true,
    })
    .await;
    if let Some(d) = env.settings.discord.as_mut() {
        d.mode = claimdesk::config::DiscordMode::Gateway;
        d.application_id = Some(APP_ID.into());
        d.register_commands = false;
    }
    env.secrets.discord_public_key = None;
    let discord = env.discord.as_ref().expect("discord stand-in");
    let gateway = GatewayStandin::start().await.expect("gateway stand-in");
    discord.set_gateway_url(&gateway.url);

    let app = env.app().await;
    let number = open_ticket(&app, 1, "gw@customer.example", "Gateway", "Hello").await;
    app.deliverer.drain().await.expect("card posted");
    let (card_id,): (String,) =
        sqlx::query_as("SELECT message_ref FROM chat_posts WHERE platform = 'discord'")
            .fetch_one(app.desk.pool())
            .await
            .expect("card");
    let card = discord.message(&card_id).expect("card stored");

    let task = app.start_discord_gateway().expect("gateway mode");
    let ident = eventually(20, "IDENTIFY", || async { gateway.identifies().pop() }).await;
    // serenity identifies with the token as it sends it over HTTP (`Bot …`).
    assert!(
        ident["token"]
            .as_str()
            .unwrap_or("")
            .ends_with("discord-test-token"),
        "{ident}"
    );

    // Ben presses Claim on the card.
    let mut click = gateway_interaction(
        "messageComponentRequestBody.json",
        "500000000000000001",
        BEN_DISCORD,
    );
    click["data"]["custom_id"] = format!("claim:{number}").into();
    click["message"] = card;
    gateway.dispatch("INTERACTION_CREATE", click.clone());
    let cb = eventually(20, "the claim's callback", || async {
        discord
            .calls_to(
                "POST",
                "/interactions/500000000000000001/token-500000000000000001/callback",
            )
            .pop()
    })
    .await;
    assert_eq!(cb.body["type"], 4, "{}", cb.body);
    assert_eq!(cb.body["data"]["flags"], 64);
    assert!(
        cb.body["data"]["content"]
            .as_str()
            .unwrap_or("")
            .contains("You claimed"),
        "{}",
        cb.body
    );
    assert_eq!(
        app.desk.list().await.expect("list")[0].assignee.as_deref(),
        Some("ben")
    );
    // The same interaction delivered again (a resumed session) is handled once.
    gateway.dispatch("INTERACTION_CREATE", click);
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    assert_eq!(
        discord
            .calls_to(
                "POST",
                "/interactions/500000000000000001/token-500000000000000001/callback",
            )
            .len(),
        1,
        "a redelivered interaction was answered twice"
    );

    // /workload is deferred, then the answer replaces the placeholder.
    let mut cmd = gateway_interaction(
        "applicationCommandRequestBody.json",
        "500000000000000002",
        ANA_DISCORD,
    );
    cmd["data"]["name"] = "workload".into();
    cmd["data"]["type"] = 1.into();
    gateway.dispatch("INTERACTION_CREATE", cmd);
    let edit = eventually(20, "the deferred answer", || async {
        discord
            .calls_to(
                "PATCH",
                &format!("/webhooks/{APP_ID}/token-500000000000000002/messages/@original"),
            )
            .pop()
    })
    .await;
    let deferred = discord.calls_to(
        "POST",
        "/interactions/500000000000000002/token-500000000000000002/callback",
    );
    assert_eq!(deferred.len(), 1);
    assert_eq!(
        deferred[0].body,
        json!({"type": 5, "data": {"flags": 64, "allowed_mentions": {"parse": [], "users": [], "roles": []}}})
    );
    assert!(
        edit.body["content"].as_str().unwrap_or("").contains("@ben"),
        "{}",
        edit.body
    );

    // A stranger gets told, privately, through the same path.
    let mut stranger = gateway_interaction(
        "applicationCommandRequestBody.json",
        "500000000000000003",
        "999",
    );
    stranger["data"]["type"] = 1.into();
    gateway.dispatch("INTERACTION_CREATE", stranger);
    let cb = eventually(20, "the stranger's answer", || async {
        discord
            .calls_to(
                "POST",
                "/interactions/500000000000000003/token-500000000000000003/callback",
            )
            .pop()
    })
    .await;
    assert!(
        cb.body.to_string().contains("not a member of this desk"),
        "{}",
        cb.body
    );

    assert_eq!(discord.violations(), Vec::<String>::new());
    task.abort();
}
