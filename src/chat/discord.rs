//! Discord through serenity's HTTP client: the card as an embed with button components
//! (Create/Edit Message), the conversation in a thread started from the card (Start Thread
//! from Message). API pages: <https://discord.com/developers/docs/resources/message>,
//! <https://discord.com/developers/docs/resources/channel#start-thread-from-message>,
//! <https://discord.com/developers/docs/interactions/message-components>.

use std::sync::Arc;

use secrecy::{ExposeSecret, SecretString};
use serenity::all::{
    ButtonStyle, ChannelId, CreateActionRow, CreateButton, CreateEmbed, CreateEmbedFooter,
    CreateMessage, CreateThread, EditMessage, MessageId, Nonce,
};
use serenity::http::{Http, HttpBuilder};

use crate::desk::query::truncate;
use crate::desk::CardView;
use crate::domain::{Event, Status};
use crate::store::chat_posts::ChatPost;

use super::messages::{self, Mention};
use super::ChatError;

/// Discord's limit on message content, characters.
pub const CONTENT_MAX: usize = 2000;
/// Discord's limit on an embed description, characters.
pub const EMBED_DESCRIPTION_MAX: usize = 4096;
/// Discord's limit on an embed title, characters.
pub const EMBED_TITLE_MAX: usize = 256;
/// Discord's limit on a thread name, characters.
pub const THREAD_NAME_MAX: usize = 100;
/// Discord's limit on a nonce, characters.
pub const NONCE_MAX: usize = 25;

/// Custom-id prefixes of the card's buttons: `claim:TICK-2026-0001`.
pub mod custom_id {
    /// Claim button.
    pub const CLAIM: &str = "claim";
    /// Unclaim button.
    pub const UNCLAIM: &str = "unclaim";
    /// Reply button: opens a modal naming the recipient.
    pub const REPLY: &str = "reply";
    /// Note button: opens a modal for an internal note.
    pub const NOTE: &str = "note";
    /// Resolve button.
    pub const RESOLVE: &str = "resolve";
    /// The reply modal's submit.
    pub const REPLY_MODAL: &str = "reply-modal";
    /// The note modal's submit.
    pub const NOTE_MODAL: &str = "note-modal";
    /// The text input inside both modals.
    pub const TEXT_INPUT: &str = "text";
}

/// A Discord bot posting into one channel.
#[derive(Clone)]
pub struct DiscordChat {
    http: Arc<Http>,
    channel: ChannelId,
}

/// A bad Discord setting.
#[derive(Debug, thiserror::Error)]
#[error("discord.channel_id `{0}` is not a snowflake")]
pub struct BadChannel(pub String);

impl DiscordChat {
    /// A client with bot token `token` posting into `channel_id`; `proxy` sends every call to
    /// `PROXY/api/v10/...` (tests use a local stand-in).
    pub fn new(
        token: &SecretString,
        channel_id: &str,
        proxy: Option<&str>,
    ) -> Result<DiscordChat, BadChannel> {
        let id: u64 = channel_id
            .parse()
            .ok()
            .filter(|v| *v != 0)
            .ok_or_else(|| BadChannel(channel_id.to_string()))?;
        let mut b = HttpBuilder::new(token.expose_secret());
        if let Some(p) = proxy {
            b = b.proxy(p).ratelimiter_disabled(true);
        }
        Ok(DiscordChat {
            http: Arc::new(b.build()),
            channel: ChannelId::new(id),
        })
    }

    pub(super) async fn post_card(
        &self,
        card: &CardView,
        dedupe_key: &str,
    ) -> Result<ChatPost, ChatError> {
        let nonce: String = dedupe_key.chars().take(NONCE_MAX).collect();
        let msg = CreateMessage::new()
            .embed(embed(card))
            .components(components(card))
            .nonce(Nonce::String(nonce))
            .enforce_nonce(true);
        let sent = self
            .channel
            .send_message(&*self.http, msg)
            .await
            .map_err(classify)?;
        Ok(ChatPost {
            platform: "discord".into(),
            channel: self.channel.get().to_string(),
            message_ref: sent.id.get().to_string(),
            thread_ref: None,
        })
    }

    pub(super) async fn update_card(
        &self,
        post: &ChatPost,
        card: &CardView,
    ) -> Result<(), ChatError> {
        let (channel, message) = ids(post)?;
        let edit = EditMessage::new()
            .embed(embed(card))
            .components(components(card));
        channel
            .edit_message(&*self.http, message, edit)
            .await
            .map_err(classify)?;
        Ok(())
    }

    /// Posts into the card's thread, starting the thread first if there is none yet; returns
    /// the new thread's ID when it started one.
    pub(super) async fn post_in_thread(
        &self,
        post: &ChatPost,
        number: &str,
        text: &str,
    ) -> Result<Option<String>, ChatError> {
        let (channel, message) = ids(post)?;
        let (thread, created) = match post
            .thread_ref
            .as_deref()
            .and_then(|t| t.parse::<u64>().ok())
        {
            Some(t) if t != 0 => (ChannelId::new(t), None),
            _ => {
                let name: String = number.chars().take(THREAD_NAME_MAX).collect();
                let th = channel
                    .create_thread_from_message(&*self.http, message, CreateThread::new(name))
                    .await
                    .map_err(classify)?;
                (th.id, Some(th.id.get().to_string()))
            }
        };
        thread
            .send_message(
                &*self.http,
                CreateMessage::new().content(truncate(text, CONTENT_MAX)),
            )
            .await
            .map_err(classify)?;
        Ok(created)
    }
}

impl DiscordChat {
    pub(super) async fn post_in_channel(&self, text: &str) -> Result<(), ChatError> {
        self.channel
            .send_message(
                &*self.http,
                CreateMessage::new().content(truncate(text, CONTENT_MAX)),
            )
            .await
            .map_err(classify)?;
        Ok(())
    }
}

fn ids(post: &ChatPost) -> Result<(ChannelId, MessageId), ChatError> {
    let c: u64 = post
        .channel
        .parse()
        .map_err(|_| ChatError::Failed(format!("bad channel id {}", post.channel)))?;
    let m: u64 = post
        .message_ref
        .parse()
        .map_err(|_| ChatError::Failed(format!("bad message id {}", post.message_ref)))?;
    if c == 0 || m == 0 {
        return Err(ChatError::Failed("zero snowflake".into()));
    }
    Ok((ChannelId::new(c), MessageId::new(m)))
}

/// The card as an embed.
pub fn embed(card: &CardView) -> CreateEmbed {
    let colour = match card.status {
        Status::Open | Status::PendingAssignment => 0xE0_8A_00,
        Status::Claimed | Status::InProgress => 0x2D_7F_F9,
        Status::Waiting => 0x99_99_99,
        Status::Resolved | Status::Closed => 0x2E_A0_43,
        Status::Merged => 0x66_66_66,
    };
    let preview = if card.preview.is_empty() {
        "(no text)"
    } else {
        &card.preview
    };
    CreateEmbed::new()
        .title(truncate(&messages::headline(card), EMBED_TITLE_MAX))
        .description(truncate(
            &format!(
                "**{}**\n\n{preview}",
                messages::status_line(card, Mention::Discord)
            ),
            EMBED_DESCRIPTION_MAX,
        ))
        .footer(CreateEmbedFooter::new(truncate(
            &messages::from_line(card),
            2048,
        )))
        .colour(colour)
}

/// The buttons that fit the card's state.
pub fn components(card: &CardView) -> Vec<CreateActionRow> {
    let mut buttons = Vec::new();
    if card.assignee.is_none() && card.status.apply(Event::Claim).is_ok() {
        buttons.push(
            CreateButton::new(format!("{}:{}", custom_id::CLAIM, card.number))
                .label("Claim")
                .style(ButtonStyle::Primary),
        );
    }
    if card.assignee.is_some() && card.status != Status::Merged {
        buttons.push(
            CreateButton::new(format!("{}:{}", custom_id::UNCLAIM, card.number))
                .label("Unclaim")
                .style(ButtonStyle::Secondary),
        );
    }
    if card.status != Status::Merged && card.status != Status::Closed {
        buttons.push(
            CreateButton::new(format!("{}:{}", custom_id::REPLY, card.number))
                .label("Reply")
                .style(ButtonStyle::Success),
        );
        buttons.push(
            CreateButton::new(format!("{}:{}", custom_id::NOTE, card.number))
                .label("Note")
                .style(ButtonStyle::Secondary),
        );
    }
    if card.status.apply(Event::Resolve).is_ok() {
        buttons.push(
            CreateButton::new(format!("{}:{}", custom_id::RESOLVE, card.number))
                .label("Resolve")
                .style(ButtonStyle::Secondary),
        );
    }
    if buttons.is_empty() {
        Vec::new()
    } else {
        vec![CreateActionRow::Buttons(buttons)]
    }
}

fn classify(e: serenity::Error) -> ChatError {
    use serenity::http::HttpError;
    if let serenity::Error::Http(HttpError::UnsuccessfulRequest(r)) = &e {
        if r.status_code.as_u16() == 429 {
            return ChatError::RateLimited(std::time::Duration::from_secs(1));
        }
    }
    ChatError::Failed(format!("discord: {e}"))
}
