//! The main job on Slack, as one story: email in → card → claim → second claim refused →
//! reply → the SMTP server got it with the right headers → the customer's answer joins the
//! ticket and shows in the card's thread → unclaim rules.

mod support;

use support::harness::*;

fn card_posts(slack: &support::standin::SlackStandin) -> Vec<serde_json::Value> {
    slack
        .calls_to("chat.postMessage")
        .into_iter()
        .map(|r| r.body)
        .filter(|b| b.get("thread_ts").is_none())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slack_story_from_email_to_reply_and_back() {
    let env = env(Platforms {
        slack: true,
        discord: false,
    })
    .await;
    let slack = env.slack.as_ref().expect("slack stand-in");
    let app = env.app().await;
    let web = app.start_web().await.expect("web starts");

    // Given a customer email in the support mailbox
    env.dovecot
        .append(
            "INBOX",
            &customer_email(
                "q1@customer.example",
                "Cannot log in",
                "Hello,\nmy password reset link expired.\nDana",
                None,
            ),
        )
        .await
        .expect("append");

    // When intake runs, then one ticket exists and its card is posted with a Claim button
    let runs = app.intake_once().await.expect("intake");
    let report = runs[0].1.as_ref().expect("mailbox fetched");
    assert_eq!((report.fetched, report.created), (1, 1));
    let tickets = app.desk.list().await.expect("list");
    assert_eq!(tickets.len(), 1);
    let number = tickets[0].number.clone();
    let year = chrono::Utc::now().format("%Y").to_string();
    assert_eq!(number, format!("TICK-{year}-0001"));
    let cards = card_posts(slack);
    assert_eq!(cards.len(), 1, "one card");
    let card = cards[0].to_string();
    assert!(
        card.contains(&number)
            && card.contains("Cannot log in")
            && card.contains("dana@customer.example"),
        "{card}"
    );
    assert!(
        card.contains("Open · unclaimed") && card.contains("my password reset link expired"),
        "{card}"
    );
    assert!(
        card.contains("\"action_id\":\"claim\""),
        "claim button: {card}"
    );
    assert_eq!(cards[0]["channel"], SLACK_CHANNEL);

    // When Ana clicks Claim, then the card says she holds it
    let (code, _) = slack_post(
        web.addr,
        "/slack/interactions",
        &block_action(ANA_SLACK, "claim", &number),
        SLACK_SECRET,
        0,
    )
    .await;
    assert_eq!(code, 200);
    app.deliverer.drain().await.expect("deliver");
    let updates = slack.calls_to("chat.update");
    let last = updates.last().expect("card edited").body.to_string();
    assert!(
        last.contains(&format!("Claimed by <@{ANA_SLACK}>")),
        "{last}"
    );

    // When Ben clicks Claim too, then he alone is told, and nothing changes
    let (code, _) = slack_post(
        web.addr,
        "/slack/interactions",
        &block_action(BEN_SLACK, "claim", &number),
        SLACK_SECRET,
        0,
    )
    .await;
    assert_eq!(code, 200);
    app.deliverer.drain().await.expect("deliver");
    let eph = slack.calls_to("chat.postEphemeral");
    assert_eq!(eph.len(), 1);
    assert_eq!(eph[0].body["user"], BEN_SLACK);
    assert!(
        eph[0].body["text"]
            .as_str()
            .unwrap_or("")
            .contains("already claimed by @ana"),
        "{:?}",
        eph[0].body
    );
    assert_eq!(
        app.desk.list().await.expect("list")[0].assignee.as_deref(),
        Some("ana")
    );
    assert_eq!(
        slack.calls_to("chat.update").len(),
        updates.len(),
        "no card edit for a refused claim"
    );

    // When Ana replies with /reply, then she is told where it goes
    let (code, answer) = slack_post(
        web.addr,
        "/slack/commands",
        &slash_command(
            "/reply",
            &format!("{number} Here is a fresh link: https://example.test/reset"),
            ANA_SLACK,
        ),
        SLACK_SECRET,
        0,
    )
    .await;
    assert_eq!(code, 200);
    let answer: serde_json::Value = serde_json::from_str(&answer).expect("json answer");
    assert_eq!(answer["response_type"], "ephemeral");
    assert!(
        answer["text"]
            .as_str()
            .unwrap_or("")
            .contains("dana@customer.example"),
        "{answer}"
    );
    app.deliverer.drain().await.expect("deliver");

    // Then the SMTP server received exactly that reply, threaded into the conversation
    let sent = env
        .smtp
        .wait_for(1, std::time::Duration::from_secs(10))
        .await
        .expect("reply sent");
    assert_eq!(sent.len(), 1);
    let raw = String::from_utf8_lossy(&sent[0]).to_string();
    assert!(
        header(&raw, "From").unwrap_or_default().contains(SUPPORT),
        "{raw}"
    );
    assert!(header(&raw, "To")
        .unwrap_or_default()
        .contains("dana@customer.example"));
    assert_eq!(
        header(&raw, "Subject").unwrap_or_default(),
        format!("Re: Cannot log in [{number}]")
    );
    assert_eq!(
        header(&raw, "In-Reply-To").unwrap_or_default(),
        "<q1@customer.example>"
    );
    assert!(header(&raw, "References")
        .unwrap_or_default()
        .contains("<q1@customer.example>"));
    let our_id = header(&raw, "Message-ID").expect("message id");
    assert!(raw.contains("Here is a fresh link"));
    let detail = app.desk.show(&number).await.expect("show");
    assert_eq!(detail.summary.status, "in_progress");
    assert_eq!(detail.messages[1].direction, "outbound");
    assert_eq!(format!("<{}>", detail.messages[1].message_id), our_id);
    assert!(detail.messages[1].sent_at.is_some());
    let last = slack
        .calls_to("chat.update")
        .last()
        .expect("edit")
        .body
        .to_string();
    assert!(
        last.contains(&format!("In progress · <@{ANA_SLACK}>")),
        "{last}"
    );

    // When the customer answers our reply, then it joins the same ticket and shows in the thread
    let answer_mail = format!(
        "From: Dana Customer <dana@customer.example>\r\nTo: {SUPPORT}\r\nSubject: Re: Cannot log in [{number}]\r\n\
         Message-ID: <q2@customer.example>\r\nIn-Reply-To: {our_id}\r\nReferences: <q1@customer.example> {our_id}\r\n\r\nThat worked, thanks!\r\n"
    );
    env.dovecot
        .append("INBOX", answer_mail.as_bytes())
        .await
        .expect("append answer");
    app.intake_once().await.expect("intake");
    let tickets = app.desk.list().await.expect("list");
    assert_eq!(tickets.len(), 1, "the answer opened no new ticket");
    assert_eq!(tickets[0].message_count, 3);
    let card_ts = slack.calls_to("chat.update").last().expect("edit").body["ts"].clone();
    let threaded: Vec<_> = slack
        .calls_to("chat.postMessage")
        .into_iter()
        .filter(|r| r.body.get("thread_ts") == Some(&card_ts))
        .map(|r| r.body.to_string())
        .collect();
    assert!(
        threaded.iter().any(|t| t.contains("That worked, thanks!")),
        "{threaded:?}"
    );
    assert!(
        threaded
            .iter()
            .any(|t| t.contains("Reply sent to customer")),
        "{threaded:?}"
    );

    // Unclaim: Ben (a member, not the holder) is refused; Ana (the holder) may
    let (_, refused) = slack_post(
        web.addr,
        "/slack/commands",
        &slash_command("/unclaim", &number, BEN_SLACK),
        SLACK_SECRET,
        0,
    )
    .await;
    assert!(refused.contains("is held by @ana"), "{refused}");
    let (_, ok) = slack_post(
        web.addr,
        "/slack/commands",
        &slash_command("/unclaim", &number, ANA_SLACK),
        SLACK_SECRET,
        0,
    )
    .await;
    assert!(ok.contains("unclaimed"), "{ok}");
    assert_eq!(app.desk.list().await.expect("list")[0].assignee, None);

    // Every request we sent matched Slack's published spec
    assert_eq!(slack.violations(), Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slack_reply_on_unclaimed_ticket_claims_it_and_admin_may_unclaim_anyone() {
    let env = env(Platforms {
        slack: true,
        discord: false,
    })
    .await;
    let app = env.app().await;
    let web = app.start_web().await.expect("web");
    env.dovecot
        .append(
            "INBOX",
            &customer_email(
                "r1@customer.example",
                "Invoice copy",
                "Please resend invoice 42.",
                None,
            ),
        )
        .await
        .expect("append");
    app.intake_once().await.expect("intake");
    let number = app.desk.list().await.expect("list")[0].number.clone();

    let (_, text) = slack_post(
        web.addr,
        "/slack/commands",
        &slash_command("/reply", &format!("{number} Attached again."), BEN_SLACK),
        SLACK_SECRET,
        0,
    )
    .await;
    assert!(text.contains("You now hold the ticket"), "{text}");
    let t = &app.desk.list().await.expect("list")[0];
    assert_eq!(
        (t.assignee.as_deref(), t.status.as_str()),
        (Some("ben"), "in_progress")
    );

    // Cy (member) cannot release Ben's claim; Ana (admin) can.
    let (_, text) = slack_post(
        web.addr,
        "/slack/commands",
        &slash_command("/desk", &format!("unclaim {number}"), CY_SLACK),
        SLACK_SECRET,
        0,
    )
    .await;
    assert!(text.contains("is held by @ben"), "{text}");
    let (_, text) = slack_post(
        web.addr,
        "/slack/commands",
        &slash_command("/desk", &format!("unclaim {number}"), ANA_SLACK),
        SLACK_SECRET,
        0,
    )
    .await;
    assert!(text.contains("was @ben"), "{text}");
    let t = &app.desk.list().await.expect("list")[0];
    assert_eq!((t.assignee.as_deref(), t.status.as_str()), (None, "open"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slack_requests_with_bad_or_stale_signatures_get_401_and_change_nothing() {
    let env = env(Platforms {
        slack: true,
        discord: false,
    })
    .await;
    let app = env.app().await;
    let web = app.start_web().await.expect("web");
    env.dovecot
        .append(
            "INBOX",
            &customer_email("s1@customer.example", "Hi", "Body", None),
        )
        .await
        .expect("append");
    app.intake_once().await.expect("intake");
    let number = app.desk.list().await.expect("list")[0].number.clone();
    let body = block_action(ANA_SLACK, "claim", &number);

    let (code, _) = slack_post(web.addr, "/slack/interactions", &body, "wrong-secret", 0).await;
    assert_eq!(code, 401);
    let (code, _) = slack_post(web.addr, "/slack/interactions", &body, SLACK_SECRET, -301).await;
    assert_eq!(code, 401);
    let (code, _) = slack_post(
        web.addr,
        "/slack/commands",
        &slash_command("/claim", &number, ANA_SLACK),
        SLACK_SECRET,
        400,
    )
    .await;
    assert_eq!(code, 401);
    assert_eq!(app.desk.list().await.expect("list")[0].assignee, None);

    // A stranger (not an agent) is told so, privately
    let (code, text) = slack_post(
        web.addr,
        "/slack/commands",
        &slash_command("/claim", &number, "U0STRANGER"),
        SLACK_SECRET,
        0,
    )
    .await;
    assert_eq!(code, 200);
    assert!(
        text.contains("not a member of this desk") && text.contains("ephemeral"),
        "{text}"
    );
    // Malformed input gets usage help
    let (_, text) = slack_post(
        web.addr,
        "/slack/commands",
        &slash_command("/claim", "", ANA_SLACK),
        SLACK_SECRET,
        0,
    )
    .await;
    assert!(text.contains("Usage: claim"), "{text}");
    let (_, text) = slack_post(
        web.addr,
        "/slack/commands",
        &slash_command("/claim", "TICK-1", ANA_SLACK),
        SLACK_SECRET,
        0,
    )
    .await;
    assert!(text.contains("is not a ticket number"), "{text}");
}
