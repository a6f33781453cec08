//! Direct messages to an agent (personal notifications): `conversations.open` with `users`
//! (one user: their DM, opened or resumed) gives the DM's channel, then `chat.postMessage`
//! posts the text there. API pages: <https://api.slack.com/methods/conversations.open>,
//! <https://api.slack.com/methods/chat.postMessage>.
//!
//! Slack has no idempotency key for `chat.postMessage`: a crash after Slack accepted the post
//! but before the outbox row is committed posts it once more on the retry.

use slack_morphism::prelude::*;

use super::card::section;
use super::{classify, SlackChat, SECTION_TEXT_MAX};
use crate::chat::ChatError;
use crate::desk::query::truncate;

/// `conversations.open` as the Web API documents it: `users` is a comma-separated string
/// (slack-morphism's request sends a JSON array, which the method's declaration does not
/// allow).
#[derive(serde::Serialize)]
struct OpenRequest<'a> {
    users: &'a str,
}

impl SlackChat {
    /// Sends `text` (Slack mrkdwn) to user `user` (`U…`) in their DM with the bot.
    ///
    /// Errors: either call fails (rate limits as [`ChatError::RateLimited`]).
    pub(in crate::chat) async fn direct_message(
        &self,
        user: &str,
        text: &str,
        _dedupe_key: &str,
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
        let content = SlackMessageContent::new()
            .with_text(truncate(text, SECTION_TEXT_MAX))
            .with_blocks(vec![section(text)]);
        let req = SlackApiChatPostMessageRequest::new(opened.channel.id, content);
        session.chat_post_message(&req).await.map_err(classify)?;
        Ok(())
    }
}
