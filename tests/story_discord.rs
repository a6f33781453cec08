//! The main job on Discord: email in → card (embed + Claim button) → claim via button →
//! second claim refused privately → /reply → SMTP got it → customer answer in the card's
//! thread → unclaim rules; plus PING and signature checks.

mod support;

use support::harness::*;

fn private_text(v: &serde_json::Value) -> String {
    assert_eq!(v["type"], 4, "CHANNEL_MESSAGE_WITH_SOURCE: {v}");
    assert_eq!(v["data"]["flags"], 64, "ephemeral: {v}");
    v["data"]["content"].as_str().unwrap_or("").to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discord_story_from_email_to_reply_and_back() {
    let env = env(Platforms {
        slack: false,
        discord: true,
    })
    .await;
    let discord = env.discord.as_ref().expect("discord stand-in");
    let app = env.app().await;
    let web = app.start_web().await.expect("web");
    let signer = &env.discord_signer;
    let messages_path = format!("/api/v10/channels/{DISCORD_CHANNEL}/messages");

    env.dovecot
        .append(
            "INBOX",
            &customer_email(
                "d1@customer.example",
                "Export fails",
                "CSV export gives a 500 error.",
                None,
            ),
        )
        .await
        .expect("append");
    app.intake_once().await.expect("intake");
    let number = app.desk.list().await.expect("list")[0].number.clone();

    // The card: an embed with the ticket, sender, status, preview, and a Claim button
    let posts = discord.calls_to("POST", &messages_path);
    assert_eq!(posts.len(), 1);
    let card = posts[0].body.to_string();
    assert!(
        card.contains(&number)
            && card.contains("Export fails")
            && card.contains("dana@customer.example"),
        "{card}"
    );
    assert!(
        card.contains("Open · unclaimed") && card.contains("CSV export gives a 500 error."),
        "{card}"
    );
    assert!(
        card.contains(&format!("\"custom_id\":\"claim:{number}\"")),
        "{card}"
    );

    // PING is answered with PONG
    let (code, pong) = discord_post(web.addr, signer, &serde_json::json!({"id": "1", "type": 1, "version": 1, "token": "t", "application_id": "9"}), false).await;
    assert_eq!((code, pong["type"].clone()), (200, serde_json::json!(1)));

    // Ana clicks Claim
    let (code, r) = discord_post(
        web.addr,
        signer,
        &discord_button(ANA_DISCORD, &format!("claim:{number}")),
        false,
    )
    .await;
    assert_eq!(code, 200);
    assert!(private_text(&r).contains("You claimed"), "{r}");
    app.deliverer.drain().await.expect("deliver");
    let (card_id,): (String,) =
        sqlx::query_as("SELECT message_ref FROM chat_posts WHERE platform = 'discord'")
            .fetch_one(app.desk.pool())
            .await
            .expect("card recorded");
    let edits = discord.calls_to("PATCH", &format!("{messages_path}/{card_id}"));
    assert!(edits
        .last()
        .expect("edited")
        .body
        .to_string()
        .contains(&format!("Claimed by <@{ANA_DISCORD}>")));

    // Ben clicks too: refused, privately, nothing changes
    let (_, r) = discord_post(
        web.addr,
        signer,
        &discord_button(BEN_DISCORD, &format!("claim:{number}")),
        false,
    )
    .await;
    assert!(private_text(&r).contains("already claimed by @ana"), "{r}");
    assert_eq!(
        app.desk.list().await.expect("list")[0].assignee.as_deref(),
        Some("ana")
    );

    // /reply
    let (_, r) = discord_post(
        web.addr,
        signer,
        &discord_command(
            ANA_DISCORD,
            "reply",
            &[("ticket", &number), ("text", "Fixed in today's release.")],
        ),
        false,
    )
    .await;
    assert!(
        private_text(&r).contains("queued for dana@customer.example"),
        "{r}"
    );
    app.deliverer.drain().await.expect("deliver");
    let sent = env
        .smtp
        .wait_for(1, std::time::Duration::from_secs(10))
        .await
        .expect("sent");
    let raw = String::from_utf8_lossy(&sent[0]).to_string();
    assert!(
        raw.contains(&format!("Subject: Re: Export fails [{number}]")),
        "{raw}"
    );
    assert!(raw.contains("In-Reply-To: <d1@customer.example>"), "{raw}");
    let our_id = app.desk.show(&number).await.expect("show").messages[1]
        .message_id
        .clone();

    // The customer answers: same ticket, shown in the card's thread
    env.dovecot
        .append(
            "INBOX",
            &customer_email(
                "d2@customer.example",
                "Re: Export fails",
                "Works now.",
                Some(&our_id),
            ),
        )
        .await
        .expect("append");
    app.intake_once().await.expect("intake");
    let t = &app.desk.list().await.expect("list")[0];
    assert_eq!(
        (app.desk.list().await.expect("list").len(), t.message_count),
        (1, 3)
    );
    let thread_starts = discord.calls_to("POST", &format!("{messages_path}/{card_id}/threads"));
    assert_eq!(thread_starts.len(), 1, "one thread per card");
    let all = discord.requests();
    let thread_posts: Vec<String> = all
        .iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/messages") && r.path != messages_path)
        .map(|r| r.body.to_string())
        .collect();
    assert!(
        thread_posts.iter().any(|b| b.contains("Works now.")),
        "{thread_posts:?}"
    );

    // Unclaim: Ben refused, Ana allowed
    let (_, r) = discord_post(
        web.addr,
        signer,
        &discord_command(BEN_DISCORD, "unclaim", &[("ticket", &number)]),
        false,
    )
    .await;
    assert!(private_text(&r).contains("is held by @ana"), "{r}");
    let (_, r) = discord_post(
        web.addr,
        signer,
        &discord_command(ANA_DISCORD, "unclaim", &[("ticket", &number)]),
        false,
    )
    .await;
    assert!(private_text(&r).contains("unclaimed"), "{r}");

    assert_eq!(discord.violations(), Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discord_rejects_bad_signatures_and_strangers() {
    let env = db_only(Platforms {
        slack: false,
        discord: true,
    })
    .await;
    let app = env.app().await;
    let web = app.start_web().await.expect("web");
    let ping = serde_json::json!({"id": "1", "type": 1, "version": 1, "token": "t", "application_id": "9"});
    let (code, _) = discord_post(web.addr, &env.discord_signer, &ping, true).await;
    assert_eq!(code, 401, "tampered body");
    let other = support::signing::DiscordSigner::generate();
    let (code, _) = discord_post(web.addr, &other, &ping, false).await;
    assert_eq!(code, 401, "wrong key");
    let (code, r) = discord_post(
        web.addr,
        &env.discord_signer,
        &discord_button("999", "claim:TICK-2026-0001"),
        false,
    )
    .await;
    assert_eq!(code, 200);
    assert!(
        private_text(&r).contains("not a member of this desk"),
        "{r}"
    );
}

/// The whole loop with Discord's own widgets: email → card → Claim button → Reply button →
/// modal → modal submit → the customer gets the mail → their answer lands in the card's
/// thread → Resolve button → the card shows Resolved. Every response is checked against
/// the interaction callback schema; every call to Discord against the REST spec.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discord_story_with_buttons_and_the_reply_modal() {
    use support::standin::validate_interaction_response;
    let env = env(Platforms {
        slack: false,
        discord: true,
    })
    .await;
    let discord = env.discord.as_ref().expect("discord stand-in");
    let app = env.app().await;
    let web = app.start_web().await.expect("web");
    let signer = &env.discord_signer;
    let post = |body: serde_json::Value| async move {
        let (code, r) = discord_post(web.addr, signer, &body, false).await;
        assert_eq!(code, 200, "{r}");
        assert!(validate_interaction_response(&r).is_empty(), "{r}");
        r
    };

    env.dovecot
        .append(
            "INBOX",
            &customer_email(
                "m1@customer.example",
                "Invoice missing",
                "Where is my invoice?",
                None,
            ),
        )
        .await
        .expect("append");
    app.intake_once().await.expect("intake");
    let number = app.desk.list().await.expect("list")[0].number.clone();
    let (card_id,): (String,) =
        sqlx::query_as("SELECT message_ref FROM chat_posts WHERE platform = 'discord'")
            .fetch_one(app.desk.pool())
            .await
            .expect("card posted");
    let card = discord.message(&card_id).expect("card stored");
    assert!(card.to_string().contains("Open · unclaimed"), "{card}");

    // Claim by button; the card then names Ana and how long she has held it.
    let r = post(discord_button(ANA_DISCORD, &format!("claim:{number}"))).await;
    assert!(private_text(&r).contains("You claimed"), "{r}");
    app.deliverer.drain().await.expect("deliver");
    let card = discord.message(&card_id).expect("card").to_string();
    assert!(
        card.contains(&format!("Claimed by <@{ANA_DISCORD}> · 0 s"))
            || card.contains(&format!("Claimed by <@{ANA_DISCORD}> · 1 s")),
        "{card}"
    );

    // Reply button → modal naming the customer → submit.
    let r = post(discord_button(ANA_DISCORD, &format!("reply:{number}"))).await;
    assert_eq!(r["type"], 9, "{r}");
    assert!(r.to_string().contains("dana@customer.example"), "{r}");
    let modal_id = r["data"]["custom_id"]
        .as_str()
        .expect("modal id")
        .to_string();
    let r = post(discord_modal_submit(
        ANA_DISCORD,
        &modal_id,
        "Your invoice is attached to your account page.",
    ))
    .await;
    assert!(
        private_text(&r).contains("queued for dana@customer.example"),
        "{r}"
    );
    app.deliverer.drain().await.expect("deliver");
    let sent = env
        .smtp
        .wait_for(1, std::time::Duration::from_secs(10))
        .await
        .expect("sent");
    let raw = String::from_utf8_lossy(&sent[0]).to_string();
    assert!(raw.contains("Your invoice is attached"), "{raw}");
    assert!(raw.contains("In-Reply-To: <m1@customer.example>"), "{raw}");
    let ours = app.desk.show(&number).await.expect("show").messages[1]
        .message_id
        .clone();

    // The customer answers; it shows in the card's thread.
    env.dovecot
        .append(
            "INBOX",
            &customer_email(
                "m2@customer.example",
                "Re: Invoice missing",
                "Found it, thanks!",
                Some(&ours),
            ),
        )
        .await
        .expect("append");
    app.intake_once().await.expect("intake");
    let thread_texts: Vec<String> = discord
        .created_messages()
        .iter()
        .map(|b| b.to_string())
        .collect();
    assert!(
        thread_texts.iter().any(|t| t.contains("Found it, thanks!")),
        "{thread_texts:?}"
    );

    // Resolve by button; the card says so.
    let r = post(discord_button(ANA_DISCORD, &format!("resolve:{number}"))).await;
    assert!(private_text(&r).contains("Resolved"), "{r}");
    app.deliverer.drain().await.expect("deliver");
    let card = discord.message(&card_id).expect("card");
    assert!(
        card["embeds"][0]["description"]
            .as_str()
            .unwrap_or("")
            .contains("Resolved"),
        "{card}"
    );
    assert!(
        !card.to_string().contains("\"custom_id\":\"resolve:"),
        "no Resolve button left: {card}"
    );
    assert_eq!(discord.violations(), Vec::<String>::new());
}
