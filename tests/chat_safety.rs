//! Chat safety and forms: free text typed in a ticket's thread never reaches the customer;
//! on Discord, Reply opens a modal that names the recipient before anything is sent, Note
//! stays internal, Resolve resolves. Our interaction responses are checked against Discord's
//! OpenAPI schemas.

mod support;

use support::harness::*;
use support::standin::validate_discord_schema;

async fn emails_queued(app: &claimdesk::app::App) -> i64 {
    let (n,): (i64,) = sqlx::query_as("SELECT count(*) FROM outbox WHERE kind = 'email'")
        .fetch_one(app.desk.pool())
        .await
        .expect("count");
    n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn free_text_typed_in_a_slack_ticket_thread_is_never_sent_to_the_customer() {
    let env = env(Platforms {
        slack: true,
        discord: false,
    })
    .await;
    let slack = env.slack.as_ref().expect("slack");
    let app = env.app().await;
    let web = app.start_web().await.expect("web");
    open_ticket(&app, 1, "f1@customer.example", "Refund", "Please refund.").await;
    app.deliverer.drain().await.expect("deliver");
    assert_eq!(slack.calls_to("chat.postMessage").len(), 1, "card posted");
    let (card_ts,): (String,) = sqlx::query_as("SELECT message_ref FROM chat_posts")
        .fetch_one(app.desk.pool())
        .await
        .expect("card");

    // Slack's URL verification handshake.
    let path = repo_path(
        "../shared/specs/slack/bolt-bodies/test_events_url_verification__event_body.json",
    );
    let verification = std::fs::read_to_string(path).expect("bolt body");
    let (code, body) =
        slack_post_json(web.addr, "/slack/events", &verification, SLACK_SECRET).await;
    assert_eq!(code, 200);
    assert!(
        body.contains("3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"),
        "{body}"
    );

    // An agent types into the card's thread, as Slack delivers it (Bolt's real message event).
    let path = repo_path("../shared/specs/slack/bolt-bodies/test_message__message_body.json");
    let mut event: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("bolt body")).expect("json");
    event["event"]["channel"] = SLACK_CHANNEL.into();
    event["event"]["user"] = ANA_SLACK.into();
    event["event"]["thread_ts"] = card_ts.clone().into();
    event["event"]["text"] = "Customer sounds angry, I'll refund them tomorrow".into();
    let (code, _) =
        slack_post_json(web.addr, "/slack/events", &event.to_string(), SLACK_SECRET).await;
    assert_eq!(code, 200);
    let (code, _) = slack_post_json(web.addr, "/slack/events", &event.to_string(), "forged").await;
    assert_eq!(code, 401);

    app.deliverer.drain().await.expect("deliver");
    assert_eq!(
        emails_queued(&app).await,
        0,
        "nothing queued for the customer"
    );
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert!(env.smtp.messages().is_empty(), "no mail left");
    assert_eq!(app.desk.list().await.expect("list")[0].message_count, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discord_reply_button_opens_a_modal_naming_the_recipient_and_the_submit_sends_once() {
    let env = env(Platforms {
        slack: false,
        discord: true,
    })
    .await;
    let discord = env.discord.as_ref().expect("discord");
    let app = env.app().await;
    let web = app.start_web().await.expect("web");
    let signer = &env.discord_signer;
    let n = open_ticket(
        &app,
        1,
        "m1@customer.example",
        "Broken link",
        "The link 404s.",
    )
    .await;
    app.deliverer.drain().await.expect("deliver");
    let card = discord.created_messages()[0].to_string();
    for b in ["claim:", "reply:", "note:", "resolve:"] {
        assert!(
            card.contains(&format!("\"custom_id\":\"{b}{n}\"")),
            "{b} button: {card}"
        );
    }

    // Reply opens a modal; nothing is sent yet.
    let (code, modal) = discord_post(
        web.addr,
        signer,
        &discord_button(BEN_DISCORD, &format!("reply:{n}")),
        false,
    )
    .await;
    assert_eq!(code, 200);
    assert_eq!(modal["type"], 9, "{modal}");
    assert_eq!(
        validate_discord_schema("ModalInteractionCallbackRequest", &modal),
        Vec::<String>::new()
    );
    assert!(
        modal.to_string().contains("To dana@customer.example"),
        "names the recipient: {modal}"
    );
    assert_eq!(emails_queued(&app).await, 0);

    // The submit sends exactly one email; the answer is private and spec-valid.
    let mut submit = discord_button(BEN_DISCORD, "unused");
    submit["type"] = 5.into();
    submit["data"] = serde_json::json!({
        "custom_id": format!("reply-modal:{n}"),
        "components": [{"type": 1, "components": [{"type": 4, "custom_id": "text", "value": "Fixed, thanks for telling us!"}]}]
    });
    let (_, answer) = discord_post(web.addr, signer, &submit, false).await;
    assert_eq!(
        validate_discord_schema("CreateMessageInteractionCallbackRequest", &answer),
        Vec::<String>::new()
    );
    assert_eq!(answer["data"]["flags"], 64);
    assert!(
        answer
            .to_string()
            .contains("queued for dana@customer.example"),
        "{answer}"
    );
    app.deliverer.drain().await.expect("deliver");
    let sent = env
        .smtp
        .wait_for(1, std::time::Duration::from_secs(10))
        .await
        .expect("sent");
    assert!(String::from_utf8_lossy(&sent[0]).contains("Fixed, thanks for telling us!"));
    assert_eq!(
        app.desk.list().await.expect("list")[0].assignee.as_deref(),
        Some("ben"),
        "the reply claimed it"
    );

    // Note: a modal too, and the note stays internal.
    let (_, modal) = discord_post(
        web.addr,
        signer,
        &discord_button(BEN_DISCORD, &format!("note:{n}")),
        false,
    )
    .await;
    assert_eq!(
        validate_discord_schema("ModalInteractionCallbackRequest", &modal),
        Vec::<String>::new()
    );
    submit["data"] = serde_json::json!({
        "custom_id": format!("note-modal:{n}"),
        "components": [{"type": 1, "components": [{"type": 4, "custom_id": "text", "value": "VIP customer"}]}]
    });
    let (_, answer) = discord_post(web.addr, signer, &submit, false).await;
    assert!(
        answer.to_string().contains("Internal note added"),
        "{answer}"
    );
    app.deliverer.drain().await.expect("deliver");
    assert_eq!(env.smtp.messages().len(), 1, "the note was not emailed");
    let thread_posts: Vec<String> = discord
        .created_messages()
        .iter()
        .map(|m| m.to_string())
        .collect();
    assert!(
        thread_posts
            .iter()
            .any(|m| m.contains("Internal note by @ben") && m.contains("VIP customer")),
        "{thread_posts:?}"
    );

    // Resolve.
    let (_, answer) = discord_post(
        web.addr,
        signer,
        &discord_button(BEN_DISCORD, &format!("resolve:{n}")),
        false,
    )
    .await;
    assert!(answer.to_string().contains("Resolved"), "{answer}");
    assert_eq!(app.desk.list().await.expect("list")[0].status, "resolved");

    // A stranger gets no form.
    let (_, r) = discord_post(
        web.addr,
        signer,
        &discord_button("999", &format!("reply:{n}")),
        false,
    )
    .await;
    assert_eq!(r["type"], 4);
    assert_eq!(discord.violations(), Vec::<String>::new());
}
