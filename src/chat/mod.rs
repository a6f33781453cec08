//! Chat surfaces. Each is a translator: platform payload in → `crate::desk` use case →
//! answer out. Outgoing calls (cards, thread messages, ephemeral answers) are made only by
//! the outbox worker through [`Platform`].

pub mod catalogue;
pub mod commands;
pub mod console;
pub mod discord;
pub mod slack;

use crate::desk::CardView;
use crate::store::chat_posts::ChatPost;
use crate::store::messages::Message;

/// A chat platform cards are delivered to.
#[derive(Clone)]
pub enum Platform {
    /// Slack Web API.
    Slack(slack::SlackChat),
    /// Discord REST API.
    Discord(discord::DiscordChat),
    /// The terminal.
    Console(console::ConsoleChat),
}

/// A failed platform call, classified for retrying.
#[derive(Debug, thiserror::Error)]
pub enum ChatError {
    /// Rate limited: try again after this many seconds (HTTP 429 `Retry-After`).
    #[error("rate limited; retry after {0:?}")]
    RateLimited(std::time::Duration),
    /// Anything else (5xx, timeouts, refusals); retried with backoff.
    #[error("{0}")]
    Failed(String),
}

impl Platform {
    /// `slack`, `discord` or `console`: the name stored in `chat_posts.platform`.
    pub fn name(&self) -> &'static str {
        match self {
            Platform::Slack(_) => "slack",
            Platform::Discord(_) => "discord",
            Platform::Console(_) => "console",
        }
    }

    /// Posts a new card; returns where it lives. `dedupe_key` identifies this post across
    /// retries (Discord `nonce`).
    pub async fn post_card(
        &self,
        card: &CardView,
        dedupe_key: &str,
    ) -> Result<ChatPost, ChatError> {
        match self {
            Platform::Slack(s) => s.post_card(card).await,
            Platform::Discord(d) => d.post_card(card, dedupe_key).await,
            Platform::Console(c) => Ok(c.post_card(card)),
        }
    }

    /// Edits a posted card to show `card`.
    pub async fn update_card(&self, post: &ChatPost, card: &CardView) -> Result<(), ChatError> {
        match self {
            Platform::Slack(s) => s.update_card(post, card).await,
            Platform::Discord(d) => d.update_card(post, card).await,
            Platform::Console(c) => {
                c.update_card(card);
                Ok(())
            }
        }
    }

    /// Posts `message` of ticket `number` into the card's thread. Returns the thread's
    /// reference when this call created the thread (Discord), to be stored.
    pub async fn post_in_thread(
        &self,
        post: &ChatPost,
        number: &str,
        message: &Message,
    ) -> Result<Option<String>, ChatError> {
        let text = crate::desk::messages::thread_entry(number, message, self.mention_style());
        self.post_text_in_thread(post, number, &text, &[]).await
    }

    /// Posts `text` (already in this platform's markup, anything not ours escaped) into the
    /// card's thread of ticket `number`; like [`Platform::post_in_thread`]. `mentions`: the
    /// platform user IDs `text` mentions on purpose; on Discord only they may be pinged
    /// (`allowed_mentions`).
    pub async fn post_text_in_thread(
        &self,
        post: &ChatPost,
        number: &str,
        text: &str,
        mentions: &[String],
    ) -> Result<Option<String>, ChatError> {
        let text = text.to_string();
        match self {
            Platform::Slack(s) => s.post_in_thread(post, &text).await.map(|_| None),
            Platform::Discord(d) => d.post_in_thread(post, number, &text, mentions).await,
            Platform::Console(c) => {
                c.print(&text);
                Ok(None)
            }
        }
    }

    /// Posts `text` (already in this platform's markup) into the desk's channel (not a
    /// thread); `mentions` as for [`Platform::post_text_in_thread`].
    pub async fn post_in_channel(&self, text: &str, mentions: &[String]) -> Result<(), ChatError> {
        match self {
            Platform::Slack(s) => s.post_in_channel(text).await,
            Platform::Discord(d) => d.post_in_channel(text, mentions).await,
            Platform::Console(c) => {
                c.print(text);
                Ok(())
            }
        }
    }

    /// How this platform writes mentions.
    pub fn mention_style(&self) -> crate::desk::messages::Mention {
        match self {
            Platform::Slack(_) => crate::desk::messages::Mention::Slack,
            Platform::Discord(_) => crate::desk::messages::Mention::Discord,
            Platform::Console(_) => crate::desk::messages::Mention::Plain,
        }
    }

    /// Sends a private answer to `user` in `channel`.
    pub async fn ephemeral(&self, channel: &str, user: &str, text: &str) -> Result<(), ChatError> {
        match self {
            Platform::Slack(s) => s.ephemeral(channel, user, text).await,
            // Discord answers privately in the interaction response itself.
            Platform::Discord(_) => Ok(()),
            Platform::Console(c) => {
                c.print(text);
                Ok(())
            }
        }
    }
}
