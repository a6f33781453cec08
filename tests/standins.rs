//! Smoke tests of the Slack/Discord stand-ins and the inbound signers: real clients
//! (slack-morphism, serenity) against the stand-ins, deliberately bad requests that must be
//! caught, and the signing helpers against published vectors / independent verifiers.

mod support;

use std::time::Duration;

use serde_json::{json, Value};
use support::signing::{slack_signature, DiscordSigner};
use support::standin::{validate_discord_schema, Behaviour, DiscordStandin, SlackStandin};

fn spec_path(rel: &str) -> String {
    concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/specs/").to_string() + rel
}

// ------------------------------------------------------------------------------------
// Slack
// ------------------------------------------------------------------------------------

mod slack {
    use super::*;
    use slack_morphism::prelude::*;

    pub type Client =
        SlackClient<SlackClientHyperConnector<hyper_util::client::legacy::connect::HttpConnector>>;

    pub fn client(s: &SlackStandin) -> Client {
        let connector = SlackClientHyperConnector::with_connector(
            hyper_util::client::legacy::connect::HttpConnector::new(),
        )
        .with_slack_api_url(&s.api_url);
        SlackClient::new(connector)
    }

    pub fn token() -> SlackApiToken {
        SlackApiToken::new("xoxb-1111-2222-standintoken".into())
    }

    pub fn card_blocks(ticket: u32) -> Vec<SlackBlock> {
        vec![
            SlackHeaderBlock::new(pt!(format!("Ticket #{ticket}"))).into(),
            SlackSectionBlock::new()
                .with_text(md!("*Printer on fire* from `alice@example.com`"))
                .with_fields(vec![md!("*Status*\nopen"), md!("*Claimed by*\nnobody")])
                .into(),
            SlackActionsBlock::new(vec![
                SlackBlockButtonElement::new(pt!("Claim"))
                    .with_action_id(format!("claim:{ticket}").into())
                    .with_value(ticket.to_string())
                    .with_style(SlackBlockButtonStyle::Primary)
                    .into(),
                SlackBlockButtonElement::new(pt!("Close"))
                    .with_action_id(format!("close:{ticket}").into())
                    .with_style(SlackBlockButtonStyle::Danger)
                    .into(),
            ])
            .into(),
            SlackContextBlock::new(vec![SlackContextBlockElement::MarkDown(md!(
                "received by claimdesk"
            ))])
            .into(),
            SlackDividerBlock::new().into(),
        ]
    }

    #[tokio::test]
    async fn slack_morphism_calls_validate_and_parse() {
        let s = SlackStandin::start().await.unwrap();
        let client = client(&s);
        let token = token();
        let session = client.open_session(&token);
        let channel: SlackChannelId = "C0TICKETS1".into();

        let auth = session.auth_test().await.expect("auth.test parses");
        assert_eq!(auth.user_id.0, support::standin::SLACK_BOT_USER_ID);

        // Card: section + buttons.
        let posted = session
            .chat_post_message(&SlackApiChatPostMessageRequest::new(
                channel.clone(),
                SlackMessageContent::new()
                    .with_text("Ticket #42: Printer on fire".into())
                    .with_blocks(card_blocks(42)),
            ))
            .await
            .expect("chat.postMessage parses");
        assert_eq!(posted.channel, channel);
        assert!(
            support::standin::schema::is_slack_ts(&posted.ts.0),
            "ts {:?}",
            posted.ts
        );
        assert_eq!(
            posted.message.content.blocks.as_ref().map(|b| b.len()),
            Some(5)
        );

        // Thread reply.
        let reply = session
            .chat_post_message(
                &SlackApiChatPostMessageRequest::new(
                    channel.clone(),
                    SlackMessageContent::new().with_text("Customer wrote again".into()),
                )
                .with_thread_ts(posted.ts.clone()),
            )
            .await
            .expect("thread reply parses");
        assert!(reply.ts.0 > posted.ts.0, "ts must increase");
        assert_eq!(reply.message.origin.thread_ts.as_ref(), Some(&posted.ts));

        // Update the card.
        let mut blocks = card_blocks(42);
        blocks.truncate(2);
        let updated = session
            .chat_update(&SlackApiChatUpdateRequest::new(
                channel.clone(),
                SlackMessageContent::new()
                    .with_text("Ticket #42 claimed by bob".into())
                    .with_blocks(blocks),
                posted.ts.clone(),
            ))
            .await
            .expect("chat.update parses");
        assert_eq!(updated.ts, posted.ts);
        assert!(updated.message.edited.is_some());
        assert_eq!(
            updated.message.content.text.as_deref(),
            Some("Ticket #42 claimed by bob")
        );

        // Ephemeral note to one user.
        session
            .chat_post_ephemeral(
                &SlackApiChatPostEphemeralRequest::new(
                    channel.clone(),
                    "U0BOB00001".into(),
                    SlackMessageContent::new().with_text("You claimed #42".into()),
                )
                .with_thread_ts(posted.ts.clone()),
            )
            .await
            .expect("chat.postEphemeral parses");

        // Thread read-back (GET with query parameters).
        let replies = session
            .conversations_replies(&SlackApiConversationsRepliesRequest::new(
                channel.clone(),
                posted.ts.clone(),
            ))
            .await
            .expect("conversations.replies parses");
        assert_eq!(replies.messages.len(), 2);
        assert_eq!(replies.messages[0].parent.reply_count, Some(1));

        let link = session
            .chat_get_permalink(&SlackApiChatGetPermalinkRequest::new(
                channel.clone(),
                posted.ts.clone(),
            ))
            .await
            .expect("chat.getPermalink parses");
        assert!(link.permalink.as_str().contains("C0TICKETS1"));

        assert_eq!(s.violations(), Vec::<String>::new());
        assert_eq!(s.calls_to("chat.postMessage").len(), 2);
        assert_eq!(s.calls_to("chat.update").len(), 1);
        assert_eq!(s.calls_to("chat.postEphemeral").len(), 1);
        let first = &s.calls_to("chat.postMessage")[0];
        assert_eq!(
            first.header("authorization"),
            Some("Bearer xoxb-1111-2222-standintoken")
        );
        assert!(first
            .header("content-type")
            .unwrap()
            .starts_with("application/json"));
        assert_eq!(
            first.body["blocks"][2]["elements"][0]["action_id"],
            "claim:42"
        );
        println!("slack-morphism chat.postMessage body: {}", first.body);
        println!(
            "slack-morphism chat.update body: {}",
            s.calls_to("chat.update")[0].body
        );
        s.stop().await;
    }

    #[tokio::test]
    async fn slack_bad_requests_are_violations() {
        let s = SlackStandin::start().await.unwrap();
        let http = reqwest::Client::new();
        let url = format!("{}/chat.postMessage", s.api_url);
        let post = |body: Value, auth: bool| {
            let mut r = http
                .post(&url)
                .header("content-type", "application/json; charset=utf-8")
                .body(body.to_string());
            if auth {
                r = r.header("authorization", "Bearer xoxb-1-2-3");
            }
            r.send()
        };

        // Missing required `channel`.
        let r: Value = post(json!({"text": "hi"}), true)
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(r["ok"], false);
        assert_eq!(r["error"], "invalid_arguments");
        let v = s.violations();
        assert_eq!(v.len(), 1, "{v:#?}");
        assert!(
            v[0].contains("\"channel\"") && v[0].contains("missing"),
            "{v:?}"
        );
        assert!(
            s.requests().is_empty(),
            "a rejected request is not in requests()"
        );
        assert_eq!(s.received().len(), 1);

        // Unknown parameter, wrong type, no auth, oversized section, empty message.
        let cases = [
            (
                json!({"channel": "C0TICKETS1", "text": "x", "colour": "red"}),
                true,
                "unknown parameter \"colour\"",
            ),
            (
                json!({"channel": "C0TICKETS1", "text": "x", "unfurl_links": "yes"}),
                true,
                "declared boolean",
            ),
            (
                json!({"channel": "C0TICKETS1", "text": 5}),
                true,
                "declared string",
            ),
            (
                json!({"channel": "C0TICKETS1", "text": "x"}),
                false,
                "no token",
            ),
            (json!({"channel": "C0TICKETS1"}), true, "no text"),
            (
                json!({"channel": "C0TICKETS1", "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "a".repeat(3001)}}]}),
                true,
                "limit 3000",
            ),
            (
                json!({"channel": "C0TICKETS1", "blocks": [{"text": "no type"}]}),
                true,
                "type is missing",
            ),
            (
                json!({"channel": "C0TICKETS1", "blocks": vec![json!({"type": "divider"}); 51]}),
                true,
                "limit 50",
            ),
            (
                json!({"channel": "C0TICKETS1", "text": "x", "thread_ts": "12345"}),
                true,
                "not a Slack timestamp",
            ),
            (
                json!({"channel": "C0TICKETS1", "text": "x", "token": "xoxb-1"}),
                true,
                "JSON body is ignored",
            ),
        ];
        for (body, auth, needle) in cases {
            let before = s.violations().len();
            let r: Value = post(body.clone(), auth)
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            assert_eq!(r["ok"], false, "{body}");
            let v = s.violations();
            assert!(v.len() > before, "no violation for {body}");
            assert!(
                v[before..].iter().any(|l| l.contains(needle)),
                "expected {needle:?} in {:#?}",
                &v[before..]
            );
        }

        // Update of a ts never posted; unknown method.
        let before = s.violations().len();
        let r: Value = http
            .post(format!("{}/chat.update", s.api_url))
            .header("authorization", "Bearer xoxb-1-2-3")
            .json(&json!({"channel": "C0TICKETS1", "ts": "1600000000.000100", "text": "x"}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(r["error"], "message_not_found");
        let resp = http
            .post(format!("{}/chat.postMesage", s.api_url))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 404);
        assert_eq!(s.violations().len(), before + 2, "{:#?}", s.violations());

        // Form-encoded bodies are accepted too (blocks as a JSON string).
        let before = s.violations().len();
        let r: Value = http
            .post(&url)
            .form(&[
                ("token", "xoxb-1-2-3"),
                ("channel", "C0TICKETS1"),
                ("text", "form"),
                (
                    "blocks",
                    r#"[{"type":"section","text":{"type":"mrkdwn","text":"hi"}}]"#,
                ),
                ("unfurl_links", "false"),
            ])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(r["ok"], true, "{r}");
        assert_eq!(s.violations().len(), before);
        s.stop().await;
    }

    #[tokio::test]
    async fn slack_morphism_optional_params_fit_the_spec() {
        let s = SlackStandin::start().await.unwrap();
        let client = client(&s);
        let token = token();
        let session = client.open_session(&token);
        let channel: SlackChannelId = "C0TICKETS1".into();
        let posted = session
            .chat_post_message(
                &SlackApiChatPostMessageRequest::new(
                    channel.clone(),
                    SlackMessageContent::new().with_text("x".into()),
                )
                .with_as_user(false)
                .with_icon_emoji(":robot_face:".into())
                .with_username("claimdesk".into())
                .with_link_names(true)
                .with_unfurl_links(false)
                .with_unfurl_media(false)
                .with_parse("none".into())
                .with_reply_broadcast(false),
            )
            .await
            .expect("all chat.postMessage options");
        // chat.update declares link_names/as_user as strings; slack-morphism sends booleans.
        session
            .chat_update(
                &SlackApiChatUpdateRequest::new(
                    channel.clone(),
                    SlackMessageContent::new().with_text("y".into()),
                    posted.ts.clone(),
                )
                .with_as_user(false)
                .with_link_names(true)
                .with_parse("none".into())
                .with_reply_broadcast(false),
            )
            .await
            .expect("chat.update options");
        session
            .chat_post_message(&SlackApiChatPostMessageRequest::new(
                channel.clone(),
                SlackMessageContent::new()
                    .with_text("with metadata".into())
                    .with_metadata(SlackMessageMetadata::new("ticket_created".into())),
            ))
            .await
            .expect("metadata");
        session
            .chat_delete(&SlackApiChatDeleteRequest::new(
                channel.clone(),
                posted.ts.clone(),
            ))
            .await
            .expect("chat.delete (ts declared number, sent as string)");
        assert!(s.message("C0TICKETS1", &posted.ts.0).is_none(), "deleted");
        // response_url
        let url = s.response_url();
        client
            .post_webhook_message(
                &url.parse().unwrap(),
                &SlackApiPostWebhookMessageRequest::new(
                    SlackMessageContent::new().with_text("Claimed!".into()),
                )
                .with_replace_original(false),
            )
            .await
            .expect("response_url post");
        assert_eq!(s.response_url_posts().len(), 1);
        // A channel given by name comes back as a conversation id, usable for updates.
        let by_name = session
            .chat_post_message(&SlackApiChatPostMessageRequest::new(
                "#support".into(),
                SlackMessageContent::new().with_text("by name".into()),
            ))
            .await
            .expect("post by channel name");
        assert!(by_name.channel.0.starts_with('C'), "{:?}", by_name.channel);
        session
            .chat_update(&SlackApiChatUpdateRequest::new(
                "support".into(),
                SlackMessageContent::new().with_text("by name, edited".into()),
                by_name.ts.clone(),
            ))
            .await
            .expect("update by channel name");
        assert_eq!(s.violations(), Vec::<String>::new());
        let r = reqwest::Client::new()
            .post(&url)
            .json(&json!({"txt": "typo"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400);
        assert_eq!(s.violations().len(), 2, "{:?}", s.violations());
        s.stop().await;
    }

    #[test]
    fn slack_response_self_check_can_fail() {
        use support::standin::validate_slack_response;
        assert!(!validate_slack_response("chat.postMessage", &json!({"ok": true})).is_empty());
        assert!(!validate_slack_response(
            "chat.postMessage",
            &json!({"ok": false, "error": "no_such_error"})
        )
        .is_empty());
        assert!(validate_slack_response(
            "chat.postMessage",
            &json!({"ok": false, "error": "channel_not_found"})
        )
        .is_empty());
    }

    #[tokio::test]
    async fn slack_behaviours() {
        let s = SlackStandin::start().await.unwrap();
        let client = client(&s);
        let token = token();
        let session = client.open_session(&token);
        let req = SlackApiChatPostMessageRequest::new(
            "C0TICKETS1".into(),
            SlackMessageContent::new().with_text("hello".into()),
        );

        s.set_behaviour(Behaviour::RateLimited {
            retry_after_secs: 7,
        });
        match session.chat_post_message(&req).await {
            Err(slack_morphism::errors::SlackClientError::RateLimitError(e)) => {
                assert_eq!(e.retry_after, Some(Duration::from_secs(7)))
            }
            other => panic!("expected a rate-limit error, got {other:?}"),
        }
        s.set_behaviour(Behaviour::Fail500);
        match session.chat_post_message(&req).await {
            Err(slack_morphism::errors::SlackClientError::HttpError(e)) => {
                assert_eq!(e.status_code.as_u16(), 500)
            }
            other => panic!("expected HTTP 500, got {other:?}"),
        }
        s.set_behaviour(Behaviour::Normal);
        s.queue_behaviour(Behaviour::RateLimited {
            retry_after_secs: 1,
        });
        assert!(session.chat_post_message(&req).await.is_err());
        assert!(
            session.chat_post_message(&req).await.is_ok(),
            "one-shot behaviour is used once"
        );

        s.set_behaviour(Behaviour::Hang);
        let hung =
            tokio::time::timeout(Duration::from_millis(300), session.chat_post_message(&req)).await;
        assert!(hung.is_err(), "Hang must not answer");
        assert_eq!(
            s.requests().len(),
            1,
            "only the normal answer is in requests()"
        );
        assert_eq!(s.received().len(), 5);
        assert!(s.violations().is_empty(), "{:?}", s.violations());
        // stop() must not wait for the held request forever.
        tokio::time::timeout(Duration::from_secs(10), s.stop())
            .await
            .expect("stop with a hanging request");
    }
}

// ------------------------------------------------------------------------------------
// Discord
// ------------------------------------------------------------------------------------

mod discord {
    use super::*;
    use serenity::all::{
        AutoArchiveDuration, ButtonStyle, ChannelId, ChannelType, CreateActionRow,
        CreateAllowedMentions, CreateAttachment, CreateButton, CreateEmbed, CreateEmbedFooter,
        CreateMessage, CreateThread, EditMessage, Http, HttpBuilder, ReactionType, Timestamp,
    };

    pub fn http(d: &DiscordStandin) -> Http {
        HttpBuilder::new("MTEwMDAwMDAwMDAwMDAwMDAwMQ.standin.token")
            .proxy(&d.proxy_url)
            .ratelimiter_disabled(true)
            .build()
    }

    fn card(ticket: u32) -> CreateMessage {
        CreateMessage::new()
            .content(format!("New ticket #{ticket}"))
            .embed(
                CreateEmbed::new()
                    .title(format!("#{ticket}: Printer on fire"))
                    .description("The printer on floor 3 is on fire again.")
                    .field("From", "alice@example.com", true)
                    .field("Status", "open", true)
                    .footer(CreateEmbedFooter::new("claimdesk"))
                    .timestamp(Timestamp::now())
                    .colour(0x5865F2),
            )
            .components(vec![CreateActionRow::Buttons(vec![
                CreateButton::new(format!("claim:{ticket}"))
                    .label("Claim")
                    .style(ButtonStyle::Primary),
                CreateButton::new(format!("close:{ticket}"))
                    .label("Close")
                    .style(ButtonStyle::Danger),
                CreateButton::new_link("https://claimdesk.example/t/42").label("Open"),
            ])])
            .allowed_mentions(CreateAllowedMentions::new())
    }

    #[tokio::test]
    async fn serenity_calls_validate_and_parse() {
        let d = DiscordStandin::start().await.unwrap();
        let http = http(&d);
        let channel = ChannelId::new(1_200_000_000_000_000_001);

        let me = http
            .get_current_user()
            .await
            .expect("GET /users/@me parses");
        assert_eq!(
            me.id.get().to_string(),
            support::standin::DISCORD_BOT_USER_ID
        );

        let msg = channel
            .send_message(&http, card(42))
            .await
            .expect("create message parses");
        assert_eq!(msg.channel_id, channel);
        assert_eq!(msg.embeds.len(), 1);
        assert_eq!(msg.embeds[0].fields.len(), 2);
        assert_eq!(msg.components.len(), 1);
        assert_eq!(msg.components[0].components.len(), 3);
        assert!(msg.author.bot);

        let edited = channel
            .edit_message(
                &http,
                msg.id,
                EditMessage::new()
                    .content("Ticket #42 — claimed by bob")
                    .components(vec![CreateActionRow::Buttons(vec![CreateButton::new(
                        "release:42",
                    )
                    .label("Release")
                    .style(ButtonStyle::Secondary)])]),
            )
            .await
            .expect("edit message parses");
        assert!(edited.edited_timestamp.is_some());
        assert_eq!(edited.content, "Ticket #42 — claimed by bob");

        let thread = channel
            .create_thread_from_message(
                &http,
                msg.id,
                CreateThread::new("Ticket #42").auto_archive_duration(AutoArchiveDuration::OneDay),
            )
            .await
            .expect("create thread parses");
        assert_eq!(thread.kind, ChannelType::PublicThread);
        assert_eq!(
            thread.id.get(),
            msg.id.get(),
            "a thread started from a message has the message's id"
        );
        assert_eq!(thread.parent_id, Some(channel));

        let in_thread = thread
            .id
            .send_message(
                &http,
                CreateMessage::new().content("Customer replied: thanks!"),
            )
            .await
            .expect("message in thread");
        assert_eq!(in_thread.channel_id, thread.id);

        let fetched = http
            .get_channel(thread.id)
            .await
            .expect("GET thread channel parses");
        assert!(fetched.guild().is_some());

        let reply = channel
            .send_message(
                &http,
                CreateMessage::new()
                    .content("see thread")
                    .reference_message(&msg),
            )
            .await
            .expect("reply parses");
        assert!(reply.referenced_message.is_some());

        http.create_reaction(channel, msg.id, &ReactionType::Unicode("✅".into()))
            .await
            .expect("reaction");

        let with_file = channel
            .send_message(
                &http,
                CreateMessage::new()
                    .content("original mail attached")
                    .add_file(CreateAttachment::bytes(
                        b"From: alice\r\n\r\nhi".to_vec(),
                        "mail.eml",
                    )),
            )
            .await
            .expect("multipart message parses");
        assert_eq!(with_file.attachments.len(), 1);
        assert_eq!(with_file.attachments[0].filename, "mail.eml");

        let v = d.violations();
        assert!(v.is_empty(), "{v:#?}");
        let created = d.created_messages();
        assert_eq!(created.len(), 4);
        assert_eq!(
            created[0]["components"][0]["components"][0]["custom_id"],
            "claim:42"
        );
        assert_eq!(
            d.calls_to("POST", &format!("/api/v10/channels/{channel}/messages"))
                .len(),
            3
        );
        assert_eq!(
            d.calls_to("PATCH", &format!("/channels/{channel}/messages/{}", msg.id))
                .len(),
            1
        );
        assert_eq!(
            d.calls_to(
                "POST",
                &format!("/channels/{channel}/messages/{}/threads", msg.id)
            )
            .len(),
            1
        );
        assert_eq!(d.uploads().len(), 1);
        assert_eq!(d.uploads()[0].data, b"From: alice\r\n\r\nhi");
        let first = &d.requests()[1];
        assert!(first.header("authorization").unwrap().starts_with("Bot "));
        println!("serenity create message body: {}", created[0]);
        println!(
            "serenity edit body: {}",
            d.calls_to("PATCH", &format!("/channels/{channel}/messages/{}", msg.id))[0].body
        );
        println!(
            "serenity thread body: {}",
            d.calls_to(
                "POST",
                &format!("/channels/{channel}/messages/{}/threads", msg.id)
            )[0]
            .body
        );
        println!("serenity multipart payload: {}", created[3]);
        println!(
            "stored message: {}",
            d.message(&msg.id.to_string()).unwrap()
        );
        d.stop().await;
    }

    #[tokio::test]
    async fn discord_bad_requests_are_violations() {
        let d = DiscordStandin::start().await.unwrap();
        let http = reqwest::Client::new();
        let url = format!(
            "{}/api/v10/channels/1200000000000000001/messages",
            d.proxy_url
        );
        let post = |body: Value| {
            http.post(&url)
                .header("authorization", "Bot abc")
                .header("user-agent", "DiscordBot (https://claimdesk.example, 0.1)")
                .json(&body)
                .send()
        };

        // 3000 characters: within the OpenAPI's 4000 but over Discord's documented 2000.
        let r = post(json!({"content": "x".repeat(3000)})).await.unwrap();
        assert_eq!(r.status(), 400);
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["code"], 50035);
        assert!(body["errors"]["content"]["_errors"].is_array(), "{body}");
        let v = d.violations();
        assert_eq!(v.len(), 1, "{v:#?}");
        assert!(
            v[0].contains("body.content") && v[0].contains("2000"),
            "{v:?}"
        );
        assert!(d.requests().is_empty());

        let cases = [
            (json!({"content": "x".repeat(4001)}), "maxLength 4000"),
            (json!({"content": 5}), "expected type"),
            (
                json!({"embeds": [{"title": "t".repeat(300)}]}),
                "body.embeds[0].title: length 300 > maxLength 256",
            ),
            (
                json!({"embeds": vec![json!({"title": "t"}); 11]}),
                "at most 10",
            ),
            (json!({"embeds": [{"color": -1}]}), "minimum"),
            (
                json!({"embeds": [{"fields": [{"name": "only name"}]}]}),
                "body.embeds[0].fields[0].value: required",
            ),
            (
                json!({"components": [{"type": 1, "components": [{"type": 2, "label": "no style", "custom_id": "a"}]}]}),
                "style: required",
            ),
            (
                json!({"components": [{"type": 1, "components": [{"type": 2, "style": 1, "label": "no id"}]}]}),
                "requires custom_id",
            ),
            (
                json!({"components": [{"type": 1, "components": []}]}),
                "at least 1",
            ),
            (json!({"tts": false}), "empty message"),
            (
                json!({"content": "x", "message_reference": {"channel_id": "1"}}),
                "message_reference.message_id: required",
            ),
            (
                json!({"content": "x", "sticker_ids": ["01"]}),
                "does not match pattern",
            ),
        ];
        for (body, needle) in cases {
            let before = d.violations().len();
            let r = post(body.clone()).await.unwrap();
            assert_eq!(r.status(), 400, "{body}");
            let v = d.violations();
            assert!(v.len() > before, "no violation for {body}");
            assert!(
                v[before..].iter().any(|l| l.contains(needle)),
                "expected {needle:?} in {:#?}",
                &v[before..]
            );
        }

        // Route and method not in the spec; unknown message; bad snowflake in the path; no auth.
        let before = d.violations().len();
        let r = http
            .post(format!("{}/api/v10/channels/1/mesages", d.proxy_url))
            .header("authorization", "Bot a")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404);
        let r = http
            .put(format!("{}/api/v10/channels/1/messages", d.proxy_url))
            .header("authorization", "Bot a")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 405);
        let r = http
            .patch(format!("{}/api/v10/channels/1/messages/999", d.proxy_url))
            .header("authorization", "Bot a")
            .header("user-agent", "DiscordBot (x, 1)")
            .json(&json!({"content": "x"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404);
        assert_eq!(r.json::<Value>().await.unwrap()["code"], 10008);
        let r = http
            .post(format!("{}/api/v10/channels/abc/messages", d.proxy_url))
            .header("authorization", "Bot a")
            .header("user-agent", "DiscordBot (x, 1)")
            .json(&json!({"content": "x"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400);
        let r = http
            .post(&url)
            .json(&json!({"content": "x"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
        let v = d.violations();
        assert_eq!(v.len(), before + 5, "{:#?}", &v[before..]);
        assert!(
            v[before + 3].contains("channel_id=\"abc\""),
            "{}",
            v[before + 3]
        );

        // serenity's own error type understands the 400 answer.
        let sh = http_for(&d);
        let err = sh
            .send_message(
                ChannelId::new(1),
                vec![],
                &json!({"embeds": [{"title": "t".repeat(300)}]}),
            )
            .await
            .expect_err("must be rejected");
        match err {
            serenity::Error::Http(serenity::http::HttpError::UnsuccessfulRequest(e)) => {
                assert_eq!(e.status_code.as_u16(), 400);
                assert_eq!(e.error.code, 50035);
                assert_eq!(e.error.errors[0].path, "embeds.0.title");
            }
            other => panic!("unexpected {other:?}"),
        }
        d.stop().await;
    }

    fn http_for(d: &DiscordStandin) -> Http {
        http(d)
    }

    #[tokio::test]
    async fn serenity_optional_fields_fit_the_spec() {
        use serenity::all::{
            CreateEmbedAuthor, CreateSelectMenu, CreateSelectMenuKind, CreateSelectMenuOption,
            MessageFlags, Nonce, UserId,
        };
        let d = DiscordStandin::start().await.unwrap();
        let http = http(&d);
        let ch = ChannelId::new(1_200_000_000_000_000_001);
        let m = ch
            .send_message(
                &http,
                CreateMessage::new()
                    .content("x")
                    .flags(MessageFlags::SUPPRESS_EMBEDS)
                    .nonce(Nonce::String("ticket-42".into()))
                    .enforce_nonce(true)
                    .embed(
                        CreateEmbed::new()
                            .author(
                                CreateEmbedAuthor::new("alice")
                                    .url("https://e.example/a")
                                    .icon_url("https://e.example/i.png"),
                            )
                            .url("https://e.example/t")
                            .thumbnail("https://e.example/th.png")
                            .image("attachment://mail.png"),
                    )
                    .allowed_mentions(
                        CreateAllowedMentions::new()
                            .users(vec![UserId::new(5)])
                            .replied_user(false),
                    )
                    .components(vec![
                        CreateActionRow::SelectMenu(
                            CreateSelectMenu::new(
                                "prio:42",
                                CreateSelectMenuKind::String {
                                    options: vec![
                                        CreateSelectMenuOption::new("High", "high")
                                            .description("urgent"),
                                        CreateSelectMenuOption::new("Low", "low")
                                            .default_selection(true),
                                    ],
                                },
                            )
                            .placeholder("Priority")
                            .min_values(1)
                            .max_values(1),
                        ),
                        CreateActionRow::SelectMenu(CreateSelectMenu::new(
                            "assign:42",
                            CreateSelectMenuKind::User {
                                default_users: None,
                            },
                        )),
                        CreateActionRow::Buttons(vec![CreateButton::new("done:42")
                            .emoji('✅')
                            .style(ButtonStyle::Success)
                            .disabled(true)]),
                    ]),
            )
            .await
            .expect("send with optional fields");
        assert_eq!(m.components.len(), 3);
        let e = ch
            .edit_message(
                &http,
                m.id,
                EditMessage::new().new_attachment(CreateAttachment::bytes(b"x".to_vec(), "a.txt")),
            )
            .await
            .expect("edit with a new attachment");
        let att = e.attachments[0].id;
        let e = ch
            .edit_message(
                &http,
                m.id,
                EditMessage::new()
                    .keep_existing_attachment(att)
                    .content("kept"),
            )
            .await
            .expect("edit keeping the attachment");
        assert_eq!(e.attachments.len(), 1);
        ch.edit_message(
            &http,
            m.id,
            EditMessage::new()
                .suppress_embeds(true)
                .remove_all_attachments()
                .embeds(vec![])
                .components(vec![]),
        )
        .await
        .expect("edit clearing everything");
        // serenity's CreateThread also sends `type`/`invitable`, which the spec's
        // CreateTextThreadWithMessageRequest does not list (allowed: no additionalProperties:false).
        ch.create_thread_from_message(
            &http,
            m.id,
            CreateThread::new("t")
                .kind(ChannelType::PublicThread)
                .rate_limit_per_user(0)
                .invitable(true),
        )
        .await
        .expect("thread with extra fields");
        // A second thread on the same message is refused like Discord does (160004).
        assert!(ch
            .create_thread_from_message(&http, m.id, CreateThread::new("again"))
            .await
            .is_err());
        let v = d.violations();
        assert_eq!(v.len(), 1, "{v:#?}");
        assert!(v[0].contains("already started"), "{v:?}");
        http.get_message(ch, m.id).await.expect("get message");
        let stored = d.message(&m.id.to_string()).unwrap();
        assert!(validate_discord_schema("MessageResponse", &stored).is_empty());
        assert!(
            !validate_discord_schema("MessageResponse", &json!({})).is_empty(),
            "self-check can fail"
        );
        http.delete_message(ch, m.id, None)
            .await
            .expect("delete message");
        assert!(d.message(&m.id.to_string()).is_none());
        assert_eq!(d.violations().len(), 1);
        d.stop().await;
    }

    #[tokio::test]
    async fn discord_behaviours() {
        let d = DiscordStandin::start().await.unwrap();
        let http = http(&d);
        let channel = ChannelId::new(1_200_000_000_000_000_001);

        d.set_behaviour(Behaviour::RateLimited {
            retry_after_secs: 3,
        });
        let raw = reqwest::Client::new()
            .post(format!(
                "{}/api/v10/channels/{channel}/messages",
                d.proxy_url
            ))
            .header("authorization", "Bot a")
            .header("user-agent", "DiscordBot (x, 1)")
            .json(&json!({"content": "x"}))
            .send()
            .await
            .unwrap();
        assert_eq!(raw.status(), 429);
        assert_eq!(raw.headers()["retry-after"], "3");
        let body: Value = raw.json().await.unwrap();
        assert_eq!(
            body,
            json!({"message": "You are being rate limited.", "retry_after": 3.0, "global": false})
        );
        match channel
            .send_message(&http, CreateMessage::new().content("x"))
            .await
        {
            Err(serenity::Error::Http(serenity::http::HttpError::UnsuccessfulRequest(e))) => {
                assert_eq!(e.status_code.as_u16(), 429)
            }
            other => panic!("expected 429, got {other:?}"),
        }
        d.set_behaviour(Behaviour::Fail500);
        match channel
            .send_message(&http, CreateMessage::new().content("x"))
            .await
        {
            Err(serenity::Error::Http(serenity::http::HttpError::UnsuccessfulRequest(e))) => {
                assert_eq!(e.status_code.as_u16(), 500)
            }
            other => panic!("expected 500, got {other:?}"),
        }
        d.set_behaviour(Behaviour::Normal);
        d.queue_behaviour(Behaviour::Fail500);
        assert!(channel
            .send_message(&http, CreateMessage::new().content("x"))
            .await
            .is_err());
        assert!(channel
            .send_message(&http, CreateMessage::new().content("x"))
            .await
            .is_ok());

        d.set_behaviour(Behaviour::Hang);
        let hung = tokio::time::timeout(
            Duration::from_millis(300),
            channel.send_message(&http, CreateMessage::new().content("x")),
        )
        .await;
        assert!(hung.is_err(), "Hang must not answer");
        assert_eq!(d.created_messages().len(), 1);
        assert!(d.violations().is_empty(), "{:?}", d.violations());
        tokio::time::timeout(Duration::from_secs(10), d.stop())
            .await
            .expect("stop with a hanging request");
    }

    #[test]
    fn rate_limit_body_and_doc_examples_match_the_spec() {
        // The stand-in's 429 body, minus `code` (see standin.rs), and Discord's documented
        // message example must fit the spec's schemas.
        let errs = validate_discord_schema(
            "RatelimitedResponse",
            &json!({"message": "You are being rate limited.", "retry_after": 3.0, "global": false, "code": 0}),
        );
        assert!(errs.is_empty(), "{errs:?}");
        let bad = validate_discord_schema("MessageCreateRequest", &json!({"content": 1}));
        assert_eq!(bad.len(), 1, "{bad:?}");
    }
}

// ------------------------------------------------------------------------------------
// Signing
// ------------------------------------------------------------------------------------

#[test]
fn slack_signature_matches_documented_vector() {
    let v: Value = serde_json::from_str(
        &std::fs::read_to_string(spec_path("slack/signature-test-vector.json")).unwrap(),
    )
    .unwrap();
    let sig = slack_signature(
        v["signing_secret"].as_str().unwrap(),
        v["timestamp"].as_str().unwrap(),
        v["body"].as_str().unwrap(),
    );
    assert_eq!(sig, v["expected_signature"].as_str().unwrap());
    assert!(sig.starts_with("v0=a2114d"));
    assert_ne!(
        slack_signature(
            "other-secret",
            v["timestamp"].as_str().unwrap(),
            v["body"].as_str().unwrap()
        ),
        sig
    );
}

#[test]
fn discord_signer_verifies_with_ed25519_dalek_and_serenity() {
    use ed25519_dalek::{Signature, Verifier as _, VerifyingKey};

    let signer = DiscordSigner::generate();
    let pk = signer.public_key_hex();
    assert_eq!(pk.len(), 64);
    assert!(pk.chars().all(|c| c.is_ascii_hexdigit()));

    let body =
        std::fs::read_to_string(spec_path("discord/interaction-bodies/pingRequestBody.json"))
            .unwrap_or_else(|_| r#"{"type":1}"#.to_string());
    let ts = "1700000000";
    let sig = signer.sign(ts, &body);
    assert_eq!(sig.len(), 128);

    let key = VerifyingKey::from_bytes(&hex::decode(&pk).unwrap().try_into().unwrap()).unwrap();
    let signature = Signature::from_bytes(&hex::decode(&sig).unwrap().try_into().unwrap());
    let msg = [ts.as_bytes(), body.as_bytes()].concat();
    key.verify(&msg, &signature)
        .expect("ed25519-dalek verifies");
    assert!(key
        .verify(&[ts.as_bytes(), b"{}"].concat(), &signature)
        .is_err());

    let verifier = serenity::interactions_endpoint::Verifier::new(&pk);
    assert_eq!(verifier.verify(&sig, ts, body.as_bytes()), Ok(()));
    assert!(verifier
        .verify(&sig, "1700000001", body.as_bytes())
        .is_err());
    assert!(verifier
        .verify(&signer.sign(ts, "tampered"), ts, body.as_bytes())
        .is_err());
    let other = DiscordSigner::generate();
    assert!(
        serenity::interactions_endpoint::Verifier::new(&other.public_key_hex())
            .verify(&sig, ts, body.as_bytes())
            .is_err()
    );

    // Same seed, same key.
    assert_eq!(
        DiscordSigner::from_seed([7; 32]).public_key_hex(),
        DiscordSigner::from_seed([7; 32]).public_key_hex()
    );
}

// ------------------------------------------------------------------------------------
// The database-only harness
// ------------------------------------------------------------------------------------

fn no_platforms() -> support::harness::Platforms {
    support::harness::Platforms {
        slack: false,
        discord: false,
    }
}

/// `db_only` gives a working desk on a fresh database without starting Dovecot or an SMTP sink.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn db_only_starts_no_mail_server_and_the_desk_works() {
    let env = support::harness::db_only(no_platforms()).await;
    assert!(env.dovecot.started().is_none() && env.smtp.started().is_none());
    let app = env.app().await;
    let n = support::harness::open_ticket(&app, 1, "d1@customer.example", "Hi", "Hello.").await;
    assert!(n.starts_with("TICK-") && n.ends_with("-0001"), "{n}");
}

/// A test set up with `db_only` that fetches mail fails when its environment is dropped,
/// saying which server it reached for.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[should_panic(expected = "to its Dovecot, which was not started: use harness::env()")]
async fn a_db_only_test_that_fetches_mail_fails_naming_the_fix() {
    let env = support::harness::db_only(no_platforms()).await;
    let app = env.app().await;
    let reports = app.intake_once().await.expect("intake runs");
    assert!(
        reports.iter().all(|(_, r)| r.is_err()),
        "no mailbox to fetch from"
    );
}

/// Reading a mail server a `db_only` test did not start panics with the fix.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[should_panic(expected = "starts no SMTP sink: use harness::env()")]
async fn a_db_only_test_that_reads_the_smtp_sink_fails_naming_the_fix() {
    let env = support::harness::db_only(no_platforms()).await;
    let _ = env.smtp.messages();
}
