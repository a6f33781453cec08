//! Direct messages to an agent (personal notifications): `POST /users/@me/channels` with
//! `recipient_id` opens (or returns) the DM channel, then `POST /channels/{id}/messages`
//! posts the text with a `nonce` and `enforce_nonce`, so a retry after a lost answer does not
//! post it twice. API pages: <https://discord.com/developers/docs/resources/user#create-dm>,
//! <https://discord.com/developers/docs/resources/message#create-message>.

use serenity::all::{ChannelId, CreateMessage, Nonce};
use serenity::http::{LightMethod, Request, Route};

use super::{allowed_mentions, DiscordChat, CONTENT_MAX, NONCE_MAX};
use crate::chat::ChatError;
use crate::desk::query::truncate;

impl DiscordChat {
    /// Sends `text` (Discord markdown, at most 2,000 characters kept) to user `user` (a
    /// snowflake) in their DM channel; `dedupe_key` is the message's nonce (first 25
    /// characters). Pings nobody (`allowed_mentions` empty).
    ///
    /// Errors: either call fails (rate limits as [`ChatError::RateLimited`]), or Discord's
    /// answer to the first has no channel id.
    pub(in crate::chat) async fn direct_message(
        &self,
        user: &str,
        text: &str,
        dedupe_key: &str,
    ) -> Result<(), ChatError> {
        let open = serde_json::json!({ "recipient_id": user.trim() });
        let req = Request::new(Route::UserMeDmChannels, LightMethod::Post);
        let channel_id = ChannelId::new(Self::id_of(self.call(req, Some(&open)).await?)?);
        let nonce: String = dedupe_key.chars().take(NONCE_MAX).collect();
        let msg = CreateMessage::new()
            .content(truncate(text, CONTENT_MAX))
            .nonce(Nonce::String(nonce))
            .enforce_nonce(true)
            .allowed_mentions(allowed_mentions(&[]));
        let req = Request::new(Route::ChannelMessages { channel_id }, LightMethod::Post);
        self.call(req, Some(&msg)).await?;
        Ok(())
    }
}
