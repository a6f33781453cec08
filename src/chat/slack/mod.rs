//! Slack through slack-morphism: the card as Block Kit (chat.postMessage / chat.update), thread
//! replies (`thread_ts`) and ephemeral answers (chat.postEphemeral). Every message posted
//! carries its outbox key as metadata and is looked for before a retry posts it ([`once`]).
//! API pages: <https://api.slack.com/methods/chat.postMessage>,
//! <https://api.slack.com/methods/chat.update>, <https://api.slack.com/methods/chat.postEphemeral>,
//! Block Kit: <https://api.slack.com/reference/block-kit/blocks>.

pub mod card;
pub mod dm;
pub mod files;
pub mod once;
pub mod routes;
pub mod socket;

use std::sync::Arc;

use secrecy::{ExposeSecret, SecretString};
use slack_morphism::errors::SlackClientError;
use slack_morphism::prelude::*;

use crate::desk::channels::Channels;
use crate::desk::query::truncate;
use crate::desk::CardView;
use crate::store::chat_posts::ChatPost;

use crate::chat::{ChatError, Once};

pub use card::card_content;
use card::section;
use once::Place;

/// Slack's limit on a section block's text, characters.
pub const SECTION_TEXT_MAX: usize = 3000;
/// Slack's limit on one of a section block's `fields`, characters.
pub const SECTION_FIELD_MAX: usize = 2000;
/// Slack's limit on the number of a section block's `fields`.
pub const SECTION_FIELDS_MAX: usize = 10;
/// Slack's limit on the blocks of one message.
pub const MESSAGE_BLOCKS_MAX: usize = 50;

/// Action IDs of the card's buttons (each [`CardAction::name`], which is also the command it
/// runs); the button value is the ticket number.
pub mod action {
    /// Claim button.
    pub const CLAIM: &str = "claim";
    /// Unclaim button.
    pub const UNCLAIM: &str = "unclaim";
    /// Resolve button.
    pub const RESOLVE: &str = "resolve";
    /// Reply button: opens the reply modal (`views.open`).
    pub const REPLY: &str = "reply";
    /// Note button: opens the internal-note modal (`views.open`).
    pub const NOTE: &str = "note";
    /// Reopen button.
    pub const REOPEN: &str = "reopen";
}

/// What a modal writes, and where its submission goes (`view.callback_id`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModalKind {
    /// An email to the customer (`crate::desk::Desk::reply`).
    Reply,
    /// An internal note (`crate::desk::Desk::note`).
    Note,
}

impl ModalKind {
    /// The modal's `callback_id`.
    pub fn callback_id(self) -> &'static str {
        match self {
            ModalKind::Reply => "claimdesk.reply",
            ModalKind::Note => "claimdesk.note",
        }
    }

    /// The kind behind a `callback_id`; `None` for views claimdesk did not open.
    pub fn from_callback_id(id: &str) -> Option<ModalKind> {
        match id {
            "claimdesk.reply" => Some(ModalKind::Reply),
            "claimdesk.note" => Some(ModalKind::Note),
            _ => None,
        }
    }
}

/// `block_id` / `action_id` of the modal's text input; a submission's text is at
/// `view.state.values[MODAL_BLOCK][MODAL_ACTION].value`, and errors are keyed by `MODAL_BLOCK`.
pub const MODAL_BLOCK: &str = "body";
/// See [`MODAL_BLOCK`].
pub const MODAL_ACTION: &str = "text";
/// Slack's limit on a plain_text_input's text, characters.
pub const INPUT_MAX: u64 = 3000;

/// What a modal needs to show: ticket, recipient, subject, and the channel the opener was in
/// (for the confirmation after submitting).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModalTarget {
    /// `TICK-2026-0001`.
    pub number: String,
    /// The customer's address (shown as "To:").
    pub to: String,
    /// Ticket subject.
    pub subject: String,
    /// Channel ID the button or command was used in.
    pub channel: String,
}

/// `block_id` / `action_id` of the reply modal's template picker: a `static_select` in an
/// input block with `dispatch_action`, so choosing a template sends `block_actions` at once
/// (answered with `views.update` filling the text).
pub const TEMPLATE_BLOCK: &str = "template";
/// See [`TEMPLATE_BLOCK`].
pub const TEMPLATE_ACTION: &str = "template";
/// Slack's limit on a `static_select`'s options.
pub const SELECT_OPTIONS_MAX: usize = 100;

/// The templates a reply modal offers, and the one it is filled from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ModalTemplates {
    /// Every template's name (the picker shows the first [`SELECT_OPTIONS_MAX`]); none: no
    /// picker.
    pub names: Vec<String>,
    /// The template picked and the text it filled for this ticket, prefilled for editing.
    pub chosen: Option<(String, String)>,
}

/// The `block_id` of the text input: [`MODAL_BLOCK`] when blank, `body.<template>` when
/// filled from a template. Slack keeps what was typed in an input across `views.update`
/// while its `block_id` stays the same and ignores a new `initial_value`; a new id per
/// template makes the filled text show.
pub fn text_block_id(chosen: Option<&str>) -> String {
    match chosen {
        Some(name) => format!("{MODAL_BLOCK}.{name}"),
        None => MODAL_BLOCK.to_string(),
    }
}

/// Whether `block_id` is the text input of a claimdesk modal (see [`text_block_id`]).
pub fn is_text_block(block_id: &str) -> bool {
    block_id == MODAL_BLOCK || block_id.starts_with(&format!("{MODAL_BLOCK}."))
}

/// The modal for `kind` on `target` (Block Kit modal view,
/// <https://api.slack.com/reference/surfaces/views>): a line saying where the text goes and a
/// multi-line `plain_text_input`. `private_metadata` carries `{"ticket", "channel"}` as JSON.
pub fn modal(kind: ModalKind, target: &ModalTarget) -> SlackView {
    modal_with_templates(kind, target, &ModalTemplates::default())
}

/// As [`modal`]; a reply modal also offers `templates.names` in a picker (first block, see
/// [`TEMPLATE_BLOCK`]), and with `templates.chosen` shows that template selected and its
/// filled text in the input (`initial_value`), to edit before sending.
pub fn modal_with_templates(
    kind: ModalKind,
    target: &ModalTarget,
    templates: &ModalTemplates,
) -> SlackView {
    use crate::desk::messages::templates as words;
    let (title, submit, label, intro) = match kind {
        ModalKind::Reply => (
            "Reply to customer",
            "Send reply",
            "Your reply",
            format!(
                "*To:* {}\n*Subject:* Re: {} [{}]",
                crate::desk::escape::slack(&target.to),
                crate::desk::escape::slack(&target.subject),
                target.number
            ),
        ),
        ModalKind::Note => (
            "Internal note",
            "Add note",
            "Note",
            format!(
                "Internal note on *{}* — shown in the card's thread, never sent to {}.",
                target.number,
                crate::desk::escape::slack(&target.to)
            ),
        ),
    };
    let chosen = match kind {
        ModalKind::Reply => templates.chosen.as_ref(),
        ModalKind::Note => None,
    };
    let mut input = SlackBlockPlainTextInputElement::new()
        .with_action_id(MODAL_ACTION.to_string().into())
        .with_multiline(true)
        .with_max_length(INPUT_MAX);
    if let Some((_, text)) = chosen {
        input = input.with_initial_value(truncate(text, INPUT_MAX as usize));
    }
    let mut blocks: Vec<SlackBlock> = Vec::new();
    if kind == ModalKind::Reply && !templates.names.is_empty() {
        let option = |name: &str| {
            SlackBlockChoiceItem::new(
                SlackBlockPlainTextOnly::from(format!("/{name}")),
                name.to_string(),
            )
        };
        let options: Vec<SlackBlockChoiceItem<SlackBlockPlainTextOnly>> = templates
            .names
            .iter()
            .take(SELECT_OPTIONS_MAX)
            .map(|n| option(n))
            .collect();
        let mut select = SlackBlockStaticSelectElement::new()
            .with_action_id(TEMPLATE_ACTION.to_string().into())
            .with_placeholder(SlackBlockPlainTextOnly::from(
                words::SLACK_PICKER_PLACEHOLDER,
            ))
            .with_options(options);
        if let Some((name, _)) = chosen.filter(|(n, _)| {
            templates
                .names
                .iter()
                .take(SELECT_OPTIONS_MAX)
                .any(|x| x == n)
        }) {
            select = select.with_initial_option(option(name));
        }
        blocks.push(
            SlackInputBlock::new(
                SlackBlockPlainText::new(words::SLACK_PICKER_LABEL.to_string()).into(),
                select.into(),
            )
            .with_block_id(TEMPLATE_BLOCK.to_string().into())
            .with_dispatch_action(true)
            .with_optional(true)
            .with_hint(SlackBlockPlainText::new(words::SLACK_PICKER_HINT.to_string()).into())
            .into(),
        );
    }
    blocks.push(section(&intro));
    blocks.push(
        SlackInputBlock::new(
            SlackBlockPlainText::new(label.to_string()).into(),
            input.into(),
        )
        .with_block_id(text_block_id(chosen.map(|(n, _)| n.as_str())).into())
        .into(),
    );
    let meta = serde_json::json!({"ticket": target.number, "channel": target.channel});
    SlackView::Modal(
        SlackModalView::new(SlackBlockPlainText::new(title.to_string()).into(), blocks)
            .with_submit(SlackBlockPlainText::new(submit.to_string()).into())
            .with_close(SlackBlockPlainText::new("Cancel".to_string()).into())
            .with_callback_id(kind.callback_id().to_string().into())
            .with_private_metadata(meta.to_string()),
    )
}

/// A Slack workspace connection posting into the channels of [`Channels`].
#[derive(Clone)]
pub struct SlackChat {
    client: Arc<SlackHyperClient>,
    token: SlackApiToken,
    channels: Channels,
    /// Largest attachment uploaded into a thread, bytes; 0: none (see `files`).
    upload_max_bytes: u64,
}

impl SlackChat {
    /// A client for the Web API at `api_url` (`https://slack.com/api`; tests use a local
    /// stand-in over plain HTTP) with bot token `token`, posting into `channel`.
    pub fn new(api_url: &str, token: &SecretString, channel: &str) -> SlackChat {
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_webpki_roots()
            .https_or_http()
            .enable_http1()
            .build();
        let connector =
            SlackClientHyperConnector::with_connector(https).with_slack_api_url(api_url);
        SlackChat {
            client: Arc::new(SlackClient::new(connector)),
            token: SlackApiToken::new(SlackApiTokenValue::new(token.expose_secret().to_string())),
            channels: Channels::from_pairs(channel, []),
            upload_max_bytes: crate::chat::DEFAULT_UPLOAD_MAX_BYTES,
        }
    }

    /// The same client posting each department's cards and channel notices into its channel
    /// in `channels` (which also names the default channel, replacing the one given to
    /// [`SlackChat::new`]).
    pub fn with_channels(mut self, channels: Channels) -> SlackChat {
        self.channels = channels;
        self
    }

    /// The Web API client (shared with Socket Mode, which opens its connection through
    /// `apps.connections.open` on the same API base).
    pub fn client(&self) -> Arc<SlackHyperClient> {
        self.client.clone()
    }

    /// Opens `view` as a modal for the interaction that gave `trigger_id` (`views.open`,
    /// <https://api.slack.com/methods/views.open>). A trigger expires 3 s after Slack sent
    /// it, so this is called right after the acknowledgement, never queued for retries.
    pub async fn open_view(&self, trigger_id: &str, view: SlackView) -> Result<(), ChatError> {
        let session = self.client.open_session(&self.token);
        let req = SlackApiViewsOpenRequest::new(trigger_id.to_string().into(), view);
        session.views_open(&req).await.map_err(classify)?;
        Ok(())
    }

    /// Replaces open modal `view_id` with `view` (`views.update`,
    /// <https://api.slack.com/methods/views.update>); `hash` is the view's `hash` from the
    /// interaction, so an update based on an older state of the view is refused
    /// (`hash_conflict`) instead of overwriting a newer one. Called right after the
    /// interaction, never queued: the agent is looking at the modal.
    pub async fn update_view(
        &self,
        view_id: &str,
        hash: Option<&str>,
        view: SlackView,
    ) -> Result<(), ChatError> {
        let session = self.client.open_session(&self.token);
        let mut req =
            SlackApiViewsUpdateRequest::new(view).with_view_id(view_id.to_string().into());
        if let Some(h) = hash {
            req = req.with_hash(h.to_string());
        }
        session.views_update(&req).await.map_err(classify)?;
        Ok(())
    }

    /// Posts the card into its department's channel with `once`'s metadata, unless an
    /// earlier attempt already did (see [`once`]): then that message is returned.
    ///
    /// Errors: the call (or the lookup) fails; rate limits as [`ChatError::RateLimited`].
    pub(super) async fn post_card(
        &self,
        card: &CardView,
        once: &Once,
    ) -> Result<ChatPost, ChatError> {
        let channel = self.channels.for_department(Some(&card.department));
        let found = self.earlier_attempt(Place::Channel(channel), once).await?;
        let (channel, ts) = match found {
            Some(ts) => (channel.to_string(), ts),
            None => {
                let session = self.client.open_session(&self.token);
                let req = SlackApiChatPostMessageRequest::new(
                    channel.to_string().into(),
                    card_content(card).with_metadata(once::metadata(&once.key)),
                );
                let resp = session.chat_post_message(&req).await.map_err(classify)?;
                (resp.channel.to_string(), resp.ts.to_string())
            }
        };
        Ok(ChatPost {
            platform: "slack".into(),
            channel,
            message_ref: ts.clone(),
            thread_ref: Some(ts),
        })
    }

    pub(super) async fn update_card(
        &self,
        post: &ChatPost,
        card: &CardView,
    ) -> Result<(), ChatError> {
        let session = self.client.open_session(&self.token);
        let req = SlackApiChatUpdateRequest::new(
            post.channel.clone().into(),
            card_content(card),
            post.message_ref.clone().into(),
        );
        session.chat_update(&req).await.map_err(classify)?;
        Ok(())
    }

    /// Posts `text` (mrkdwn) into the card's thread with `once`'s metadata, unless an
    /// earlier attempt already did (`conversations.replies`, see [`once`]).
    ///
    /// Errors: the call (or the lookup) fails; rate limits as [`ChatError::RateLimited`].
    pub(super) async fn post_in_thread(
        &self,
        post: &ChatPost,
        text: &str,
        once: &Once,
    ) -> Result<(), ChatError> {
        let thread = post
            .thread_ref
            .clone()
            .unwrap_or_else(|| post.message_ref.clone());
        let place = Place::Thread {
            channel: &post.channel,
            ts: &thread,
        };
        if self.earlier_attempt(place, once).await?.is_some() {
            return Ok(());
        }
        let session = self.client.open_session(&self.token);
        let content = text_message(text, once);
        let req = SlackApiChatPostMessageRequest::new(post.channel.clone().into(), content)
            .with_thread_ts(thread.into());
        session.chat_post_message(&req).await.map_err(classify)?;
        Ok(())
    }

    /// Posts `text` (mrkdwn) at the top of `department`'s channel with `once`'s metadata,
    /// unless an earlier attempt already did (`conversations.history`, see [`once`]).
    ///
    /// Errors: the call (or the lookup) fails; rate limits as [`ChatError::RateLimited`].
    pub(super) async fn post_in_channel(
        &self,
        text: &str,
        department: Option<&str>,
        once: &Once,
    ) -> Result<(), ChatError> {
        let channel = self.channels.for_department(department);
        if self
            .earlier_attempt(Place::Channel(channel), once)
            .await?
            .is_some()
        {
            return Ok(());
        }
        let session = self.client.open_session(&self.token);
        let content = text_message(text, once);
        let req = SlackApiChatPostMessageRequest::new(channel.to_string().into(), content);
        session.chat_post_message(&req).await.map_err(classify)?;
        Ok(())
    }

    pub(super) async fn ephemeral(
        &self,
        channel: &str,
        user: &str,
        text: &str,
    ) -> Result<(), ChatError> {
        let session = self.client.open_session(&self.token);
        let req = SlackApiChatPostEphemeralRequest::new(
            channel.to_string().into(),
            user.to_string().into(),
            SlackMessageContent::new().with_text(truncate(text, SECTION_TEXT_MAX)),
        );
        session.chat_post_ephemeral(&req).await.map_err(classify)?;
        Ok(())
    }
}

/// A plain message: `text` (mrkdwn) as the fallback and in one section block, carrying
/// `once`'s key as metadata.
fn text_message(text: &str, once: &Once) -> SlackMessageContent {
    SlackMessageContent::new()
        .with_text(truncate(text, SECTION_TEXT_MAX))
        .with_blocks(vec![section(text)])
        .with_metadata(once::metadata(&once.key))
}

fn classify(e: SlackClientError) -> ChatError {
    match e {
        SlackClientError::RateLimitError(r) => {
            ChatError::RateLimited(r.retry_after.unwrap_or(std::time::Duration::from_secs(1)))
        }
        SlackClientError::ApiError(a) if !is_transient(&a.code) => {
            ChatError::Refused(format!("slack: {a}"))
        }
        other => ChatError::Failed(format!("slack: {other}")),
    }
}

/// Whether a Slack Web API error code (`ok: false`, `error`) may go away on its own: Slack's
/// documented server-side and rate errors. Every other code (`user_not_found`,
/// `missing_scope`, `not_allowed_token_type`, `channel_not_found`, `invalid_auth` …) is
/// the same on the next attempt.
pub(crate) fn is_transient(code: &str) -> bool {
    matches!(
        code,
        "internal_error"
            | "fatal_error"
            | "service_unavailable"
            | "request_timeout"
            | "ratelimited"
            | "rate_limited"
            | "team_added_to_org"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Priority, Status};

    #[test]
    fn card_blocks_fit_slack_limits_with_huge_input() {
        let now = chrono::Utc::now();
        let card = CardView {
            number: "TICK-2026-0001".into(),
            status: Status::InProgress,
            assignee: Some(("b".repeat(5000), Some("U000000ANA".into()), None)),
            requester: "r".repeat(20_000),
            subject: "s".repeat(20_000),
            preview: "p".repeat(100_000),
            message_count: 2,
            merged_into: None,
            department: "support".into(),
            priority: Priority::High,
            claimed_at: Some(now - chrono::Duration::seconds(120)),
            last_customer_at: Some(now),
            as_of: now,
            opened_at: now,
            sla: None,
            attachment_count: 12,
            attachments: (0..12)
                .map(|i| crate::desk::query::CardAttachment {
                    name: Some(format!("<!channel> x{}.pdf", if i == 0 { "" } else { "y" })),
                    size: 12 * 1024,
                })
                .collect(),
            bounced: true,
            tags: vec!["billing".into()],
            linked_to: None,
        };
        let v = serde_json::to_value(card_content(&card)).expect("serialises");
        let blocks = v["blocks"].as_array().expect("blocks");
        assert!(blocks.len() <= MESSAGE_BLOCKS_MAX);
        let n = |x: &serde_json::Value| x.as_str().map(|s| s.chars().count()).unwrap_or(0);
        assert!(n(&v["text"]) <= SECTION_TEXT_MAX);
        let mut saw_fields = false;
        for b in blocks {
            assert!(n(&b["text"]["text"]) <= SECTION_TEXT_MAX, "{b}");
            if let Some(fs) = b["fields"].as_array() {
                saw_fields = true;
                assert!(fs.len() <= SECTION_FIELDS_MAX);
                for f in fs {
                    assert!(n(&f["text"]) <= SECTION_FIELD_MAX);
                }
                assert!(b.to_string().contains("Claimed by <@U000000ANA> · 2 min"));
            }
        }
        assert!(saw_fields, "{v}");
        let files = blocks
            .iter()
            .filter_map(|b| b["text"]["text"].as_str())
            .find(|t| t.starts_with("*Attachments*"))
            .expect("an attachment block");
        assert!(
            files.contains("📎 &lt;!channel&gt; x.pdf · 12.0 KiB"),
            "{files}"
        );
        assert!(files.contains("… and 2 more"), "{files}");
        assert!(
            v.to_string().contains('…'),
            "long text is cut with an ellipsis"
        );
    }
}
