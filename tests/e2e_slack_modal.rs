//! End to end on Slack with modals: email → card → Claim button → Reply button → `views.open`
//! → `view_submission` → the SMTP server got the mail → the customer's answer (appended to
//! Dovecot) shows in the card's thread → Resolve button → the card shows resolved. Plus the
//! Note button, `/desk reply <ticket>` without text, and refusals shown on the modal's field.

mod support;

use std::time::Duration;

use support::harness::*;
use support::standin::SlackStandin;

/// The view of the last accepted `views.open` call.
fn last_view(slack: &SlackStandin) -> serde_json::Value {
    slack
        .calls_to("views.open")
        .last()
        .expect("views.open called")
        .body["view"]
        .clone()
}

/// Waits for the `n`th accepted `views.open` (it runs after the acknowledgement).
async fn wait_views(slack: &SlackStandin, n: usize) {
    eventually(5, "views.open", || async {
        (slack.calls_to("views.open").len() >= n).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slack_modal_story_from_email_to_resolved() {
    let env = env(Platforms {
        slack: true,
        discord: false,
    })
    .await;
    let slack = env.slack.as_ref().expect("slack stand-in");
    let app = env.app().await;
    let web = app.start_web().await.expect("web starts");

    // Given a customer email, when intake runs, then the card has Claim, Reply and Note buttons
    env.dovecot
        .append(
            "INBOX",
            &customer_email(
                "m1@customer.example",
                "Export is empty",
                "Hi,\nthe CSV export downloads an empty file.\nDana",
                None,
            ),
        )
        .await
        .expect("append");
    app.intake_once().await.expect("intake");
    let number = app.desk.list().await.expect("list")[0].number.clone();
    let card = slack.calls_to("chat.postMessage")[0].body.clone();
    let card_ts = slack.calls_to("chat.postMessage")[0].body["channel"].clone();
    assert_eq!(card_ts, SLACK_CHANNEL);
    let card_text = card.to_string();
    for id in [
        "\"action_id\":\"claim\"",
        "\"action_id\":\"reply\"",
        "\"action_id\":\"note\"",
    ] {
        assert!(card_text.contains(id), "{id} in {card_text}");
    }

    // When Ana clicks Claim, then the card says she holds it
    let (code, _) = slack_post(
        web.addr,
        "/slack/interactions",
        &interaction_form(&block_action_payload(
            ANA_SLACK,
            "claim",
            &number,
            &slack.trigger_id(),
        )),
        SLACK_SECRET,
        0,
    )
    .await;
    assert_eq!(code, 200);
    app.deliverer.drain().await.expect("deliver");
    let edit = slack
        .calls_to("chat.update")
        .last()
        .expect("edit")
        .body
        .to_string();
    assert!(
        edit.contains(&format!("Claimed by <@{ANA_SLACK}>")),
        "{edit}"
    );

    // When she clicks Reply, then a modal opens showing where the reply goes
    let (code, body) = slack_post(
        web.addr,
        "/slack/interactions",
        &interaction_form(&block_action_payload(
            ANA_SLACK,
            "reply",
            &number,
            &slack.trigger_id(),
        )),
        SLACK_SECRET,
        0,
    )
    .await;
    assert_eq!((code, body.as_str()), (200, ""), "empty acknowledgement");
    wait_views(slack, 1).await;
    let view = last_view(slack);
    assert_eq!(view["type"], "modal");
    assert_eq!(view["callback_id"], "claimdesk.reply");
    let shown = view["blocks"].to_string();
    assert!(shown.contains("To:* dana@customer.example"), "{shown}");
    assert!(shown.contains(&number), "{shown}");
    assert!(shown.contains("\"multiline\":true"), "{shown}");

    // When she submits an empty text, then the modal shows why on the field and nothing is queued
    let (code, body) = slack_post(
        web.addr,
        "/slack/interactions",
        &interaction_form(&view_submission_payload(
            ANA_SLACK, &view, "body", "text", "   ",
        )),
        SLACK_SECRET,
        0,
    )
    .await;
    assert_eq!(code, 200);
    let answer: serde_json::Value = serde_json::from_str(&body).expect("errors json");
    assert_eq!(answer["response_action"], "errors");
    assert!(
        answer["errors"]["body"]
            .as_str()
            .unwrap_or("")
            .contains("empty"),
        "{answer}"
    );
    app.deliverer.drain().await.expect("deliver");
    assert!(
        env.smtp.received().is_empty(),
        "nothing sent for an empty reply"
    );

    // When she submits the reply, then the modal closes and she is told where it went
    let (code, body) = slack_post(
        web.addr,
        "/slack/interactions",
        &interaction_form(&view_submission_payload(
            ANA_SLACK,
            &view,
            "body",
            "text",
            "Hi Dana,\nfixed: exports run again.\nAna",
        )),
        SLACK_SECRET,
        0,
    )
    .await;
    assert_eq!(
        (code, body.as_str()),
        (200, ""),
        "empty ack closes the modal"
    );
    app.deliverer.drain().await.expect("deliver");
    let eph = slack.calls_to("chat.postEphemeral");
    assert!(
        eph.iter().any(|e| e.body["user"] == ANA_SLACK
            && e.body["text"]
                .as_str()
                .unwrap_or("")
                .contains("queued for dana@customer.example")),
        "{eph:?}"
    );

    // Then the SMTP server got exactly that reply, threaded into the conversation
    let sent = env
        .smtp
        .wait_for(1, Duration::from_secs(10))
        .await
        .expect("reply sent");
    assert_eq!(sent.len(), 1);
    let raw = String::from_utf8_lossy(&sent[0]).to_string();
    assert!(raw.contains("fixed: exports run again."), "{raw}");
    assert_eq!(
        header(&raw, "In-Reply-To").unwrap_or_default(),
        "<m1@customer.example>"
    );
    assert_eq!(
        header(&raw, "Subject").unwrap_or_default(),
        format!("Re: Export is empty [{number}]")
    );
    let our_id = header(&raw, "Message-ID").expect("message id");

    // When the customer answers, then the answer shows in the card's thread
    let answer_mail = format!(
        "From: Dana Customer <dana@customer.example>\r\nTo: {SUPPORT}\r\nSubject: Re: Export is empty [{number}]\r\n\
         Message-ID: <m2@customer.example>\r\nIn-Reply-To: {our_id}\r\nReferences: <m1@customer.example> {our_id}\r\n\r\nWorks now, thank you!\r\n"
    );
    env.dovecot
        .append("INBOX", answer_mail.as_bytes())
        .await
        .expect("append answer");
    app.intake_once().await.expect("intake");
    let tickets = app.desk.list().await.expect("list");
    assert_eq!((tickets.len(), tickets[0].message_count), (1, 3));
    let card_ts = slack.calls_to("chat.update").last().expect("edit").body["ts"].clone();
    let threaded: Vec<String> = slack
        .calls_to("chat.postMessage")
        .into_iter()
        .filter(|r| r.body.get("thread_ts") == Some(&card_ts))
        .map(|r| r.body.to_string())
        .collect();
    assert!(
        threaded.iter().any(|t| t.contains("Works now, thank you!")),
        "{threaded:?}"
    );
    assert!(
        threaded
            .iter()
            .any(|t| t.contains("Reply sent to customer")),
        "{threaded:?}"
    );

    // When Ana clicks Note and submits, then the note is in the thread, marked internal, not mailed
    let (code, _) = slack_post(
        web.addr,
        "/slack/interactions",
        &interaction_form(&block_action_payload(
            ANA_SLACK,
            "note",
            &number,
            &slack.trigger_id(),
        )),
        SLACK_SECRET,
        0,
    )
    .await;
    assert_eq!(code, 200);
    wait_views(slack, 2).await;
    let note_view = last_view(slack);
    assert_eq!(note_view["callback_id"], "claimdesk.note");
    let (code, body) = slack_post(
        web.addr,
        "/slack/interactions",
        &interaction_form(&view_submission_payload(
            ANA_SLACK,
            &note_view,
            "body",
            "text",
            "Root cause: stale export cache.",
        )),
        SLACK_SECRET,
        0,
    )
    .await;
    assert_eq!((code, body.as_str()), (200, ""));
    app.deliverer.drain().await.expect("deliver");
    let note_posted = slack.calls_to("chat.postMessage").into_iter().any(|r| {
        r.body.get("thread_ts") == Some(&card_ts)
            && r.body
                .to_string()
                .contains("Root cause: stale export cache.")
    });
    assert!(note_posted, "note in the thread");
    assert_eq!(env.smtp.received().len(), 1, "a note is never emailed");

    // When Ana clicks Resolve, then the card shows resolved
    let (code, _) = slack_post(
        web.addr,
        "/slack/interactions",
        &interaction_form(&block_action_payload(
            ANA_SLACK,
            "resolve",
            &number,
            &slack.trigger_id(),
        )),
        SLACK_SECRET,
        0,
    )
    .await;
    assert_eq!(code, 200);
    app.deliverer.drain().await.expect("deliver");
    let edit = slack
        .calls_to("chat.update")
        .last()
        .expect("edit")
        .body
        .to_string();
    assert!(edit.contains("Resolved"), "{edit}");
    assert_eq!(app.desk.list().await.expect("list")[0].status, "resolved");

    assert_eq!(slack.violations(), Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn desk_reply_without_text_opens_the_modal_and_refusals_show_on_the_field() {
    let env = db_only(Platforms {
        slack: true,
        discord: false,
    })
    .await;
    let slack = env.slack.as_ref().expect("slack stand-in");
    let app = env.app().await;
    let web = app.start_web().await.expect("web starts");
    let number = open_ticket(
        &app,
        1,
        "n1@customer.example",
        "Refund",
        "Please refund order 7.",
    )
    .await;
    app.deliverer.drain().await.expect("deliver");
    app.desk
        .claim(
            &actor(&app, "ben", claimdesk::desk::Surface::Cli).await,
            &number,
        )
        .await
        .expect("ben claims");

    // `/desk reply <ticket>` without text: an empty acknowledgement, then the modal
    let trigger = slack.trigger_id();
    let form = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("command", "/desk")
        .append_pair("text", &format!("reply {number}"))
        .append_pair("user_id", CY_SLACK)
        .append_pair("channel_id", SLACK_CHANNEL)
        .append_pair("trigger_id", &trigger)
        .append_pair("response_url", &slack.response_url())
        .finish();
    let (code, body) = slack_post(web.addr, "/slack/commands", &form, SLACK_SECRET, 0).await;
    assert_eq!((code, body.as_str()), (200, ""));
    wait_views(slack, 1).await;
    let view = last_view(slack);
    assert_eq!(view["callback_id"], "claimdesk.reply");

    // While the modal is open the ticket gets closed: the refusal shows on the field,
    // nothing is queued
    app.desk
        .set_status(
            &actor(&app, "ana", claimdesk::desk::Surface::Cli).await,
            &number,
            claimdesk::domain::Status::Closed,
        )
        .await
        .expect("ana closes");
    let (code, body) = slack_post(
        web.addr,
        "/slack/interactions",
        &interaction_form(&view_submission_payload(
            CY_SLACK, &view, "body", "text", "Done!",
        )),
        SLACK_SECRET,
        0,
    )
    .await;
    assert_eq!(code, 200);
    let answer: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert_eq!(answer["response_action"], "errors");
    assert!(
        answer["errors"]["body"]
            .as_str()
            .unwrap_or("")
            .contains("is closed"),
        "{answer}"
    );
    assert_eq!(
        app.desk.show(&number).await.expect("show").messages.len(),
        1
    );

    // A Reply click on an unknown ticket opens nothing and tells the clicker
    let (code, _) = slack_post(
        web.addr,
        "/slack/interactions",
        &interaction_form(&block_action_payload(
            CY_SLACK,
            "reply",
            "TICK-2026-0999",
            &slack.trigger_id(),
        )),
        SLACK_SECRET,
        0,
    )
    .await;
    assert_eq!(code, 200);
    app.deliverer.drain().await.expect("deliver");
    assert_eq!(slack.calls_to("views.open").len(), 1);
    let eph = slack.calls_to("chat.postEphemeral");
    assert!(
        eph.iter().any(|e| e.body["text"]
            .as_str()
            .unwrap_or("")
            .contains("no ticket TICK-2026-0999")),
        "{eph:?}"
    );
    assert_eq!(slack.violations(), Vec::<String>::new());
}
