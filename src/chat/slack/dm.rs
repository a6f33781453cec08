//! Direct messages to an agent (personal notifications): `conversations.open` with `users`
//! (one user: their DM, opened or resumed) gives the DM's channel, then `chat.postMessage`
//! posts the text there. API pages: <https://api.slack.com/methods/conversations.open>,
//! <https://api.slack.com/methods/chat.postMessage>.
//!
//! Slack has no idempotency key for `chat.postMessage`, so each DM carries the outbox row's
//! key as message metadata like every other post, and when an earlier attempt may have
//! reached Slack (its answer lost, or the process killed before the outbox commit), the DM
//! is searched for it first (`conversations.history` with `include_all_metadata`, see
//! [`super::once`]) and not posted again. Scopes: `im:write`, `chat:write`, `im:history`.

use slack_morphism::prelude::*;

use super::once::Place;
use super::{classify, SlackChat};
use crate::chat::{ChatError, Once};

/// `conversations.open` as the Web API documents it: `users` is a comma-separated string
/// (slack-morphism's request sends a JSON array, which the method's declaration does not
/// allow).
#[derive(serde::Serialize)]
struct OpenRequest<'a> {
    users: &'a str,
}

impl SlackChat {
    /// Sends `text` (Slack mrkdwn) to user `user` (`U…`) in their DM with the bot, unless
    /// an earlier attempt of `once` already did.
    ///
    /// Errors: a call fails (rate limits as [`ChatError::RateLimited`]).
    pub(in crate::chat) async fn direct_message(
        &self,
        user: &str,
        text: &str,
        once: &Once,
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
        if self
            .earlier_attempt(Place::Channel(channel.0.as_str()), once)
            .await?
            .is_some()
        {
            return Ok(());
        }
        let content = super::text_message(text, once);
        let req = SlackApiChatPostMessageRequest::new(channel, content);
        session.chat_post_message(&req).await.map_err(classify)?;
        Ok(())
    }
}
