//! Direct messages to an agent (personal notifications): `conversations.open` with `users`
//! (one user: their DM, opened or resumed) gives the DM's channel, then `chat.postMessage`
//! posts the text there. API pages: <https://api.slack.com/methods/conversations.open>,
//! <https://api.slack.com/methods/chat.postMessage>.
//!
//! Slack has no idempotency key for `chat.postMessage`, so each DM carries the outbox row's
//! key as message metadata (`event_type` [`DM_EVENT`], payload `key`), and before posting,
//! the DM's latest messages are read (`conversations.history` with `include_all_metadata`):
//! a DM whose earlier attempt reached Slack (its answer lost, or the process killed before
//! the outbox commit) is found there and not posted again. Scopes: `im:write`, `chat:write`,
//! `im:history`.

use std::collections::HashMap;

use slack_morphism::prelude::*;

use super::card::section;
use super::{classify, SlackChat, SECTION_TEXT_MAX};
use crate::chat::ChatError;
use crate::desk::query::truncate;

/// The metadata `event_type` of claimdesk's direct messages.
pub const DM_EVENT: &str = "claimdesk_dm";

/// How many of the DM's latest messages are searched for an earlier attempt.
const HISTORY_LOOKBACK: u16 = 50;

/// `conversations.open` as the Web API documents it: `users` is a comma-separated string
/// (slack-morphism's request sends a JSON array, which the method's declaration does not
/// allow).
#[derive(serde::Serialize)]
struct OpenRequest<'a> {
    users: &'a str,
}

impl SlackChat {
    /// Sends `text` (Slack mrkdwn) to user `user` (`U…`) in their DM with the bot, unless
    /// a message with metadata key `dedupe_key` is among the DM's latest messages.
    ///
    /// Errors: either call fails (rate limits as [`ChatError::RateLimited`]).
    pub(in crate::chat) async fn direct_message(
        &self,
        user: &str,
        text: &str,
        dedupe_key: &str,
    ) -> Result<(), ChatError> {
        let session = self.client.open_session(&self.token);
        let opened: SlackApiConversationsOpenResponse<SlackBasicChannelInfo> = session
            .http_session_api
            .http_post(
                "conversations.open",
                &OpenRequest { users: user.trim() },
                None,
            )
            .await
            .map_err(classify)?;
        let channel = opened.channel.id;
        let history = session
            .conversations_history(
                &SlackApiConversationsHistoryRequest::new()
                    .with_channel(channel.clone())
                    .with_limit(HISTORY_LOOKBACK)
                    .with_include_all_metadata(true),
            )
            .await
            .map_err(classify)?;
        if history.messages.iter().any(|m| is_attempt(m, dedupe_key)) {
            return Ok(());
        }
        let content = SlackMessageContent::new()
            .with_text(truncate(text, SECTION_TEXT_MAX))
            .with_blocks(vec![section(text)])
            .with_metadata(SlackMessageMetadata {
                event_type: DM_EVENT.to_string(),
                event_payload: Some(HashMap::from([("key".to_string(), dedupe_key.to_string())])),
            });
        let req = SlackApiChatPostMessageRequest::new(channel, content);
        session.chat_post_message(&req).await.map_err(classify)?;
        Ok(())
    }
}

/// Whether `m` is the DM posted under `key` (an earlier attempt of the same outbox row).
fn is_attempt(m: &SlackHistoryMessage, key: &str) -> bool {
    m.content.metadata.as_ref().is_some_and(|md| {
        md.event_type == DM_EVENT
            && md
                .event_payload
                .as_ref()
                .and_then(|p| p.get("key"))
                .is_some_and(|k| k == key)
    })
}
