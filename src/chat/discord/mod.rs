//! Discord through serenity's HTTP client: the card as an embed with button components
//! (Create/Edit Message), the conversation in a thread started from the card (Start Thread
//! from Message). API pages: <https://discord.com/developers/docs/resources/message>,
//! <https://discord.com/developers/docs/resources/channel#start-thread-from-message>,
//! <https://discord.com/developers/docs/interactions/message-components>.

pub mod card;
pub mod commands;
pub mod dm;
pub mod files;
pub mod gateway;
pub mod routes;

pub use card::{
    components, embed, embed_parts, EmbedParts, EMBED_FIELDS_MAX, EMBED_FIELD_NAME_MAX,
    EMBED_FIELD_VALUE_MAX, EMBED_FOOTER_MAX, EMBED_TOTAL_MAX,
};
pub use commands::command_definitions;

use secrecy::{ExposeSecret, SecretString};
use serenity::all::{
    ApplicationId, ChannelId, CreateAllowedMentions, CreateMessage, CreateThread, EditMessage,
    GuildId, InteractionId, MessageId, Nonce, UserId,
};
use serenity::http::{LightMethod, Request, Route};

use crate::desk::channels::Channels;
use crate::desk::query::truncate;
use crate::desk::CardView;
use crate::store::chat_posts::ChatPost;

use crate::chat::ChatError;

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
    /// Reopen button.
    pub const REOPEN: &str = "reopen";
    /// The reply modal's submit.
    pub const REPLY_MODAL: &str = "reply-modal";
    /// The note modal's submit.
    pub const NOTE_MODAL: &str = "note-modal";
    /// The text input inside both modals.
    pub const TEXT_INPUT: &str = "text";
    /// The template select of the reply picker (`reply-template:TICK-…`): the chosen
    /// template opens the reply modal filled from it.
    pub const REPLY_TEMPLATE: &str = "reply-template";
    /// The reply picker's button for a blank reply (`reply-blank:TICK-…`).
    pub const REPLY_BLANK: &str = "reply-blank";
}

/// A Discord bot posting into one channel.
///
/// Requests are built with serenity's builders and routes ([`Request`], [`Route`]) and sent
/// on a reqwest client this type holds, so that a `429 Too Many Requests` answer can be read
/// whole: serenity's own error type drops the `Retry-After` header and the JSON
/// `retry_after`, and its ratelimiter cannot be pointed at a local stand-in.
#[derive(Clone)]
pub struct DiscordChat {
    client: reqwest::Client,
    /// `Bot <token>`, the `Authorization` header value.
    auth: SecretString,
    proxy: Option<String>,
    channel: ChannelId,
    /// Departments that post into their own channel instead of `channel`.
    department_channels: std::collections::HashMap<String, ChannelId>,
    /// Largest attachment uploaded into a thread, bytes; 0: none (see `files`).
    upload_max_bytes: u64,
    application_id: Option<ApplicationId>,
}

/// A bad Discord setting.
#[derive(Debug, thiserror::Error)]
#[error("discord.{0} `{1}` is not a snowflake")]
pub struct BadChannel(pub &'static str, pub String);

fn snowflake(setting: &'static str, v: &str) -> Result<u64, BadChannel> {
    v.trim()
        .parse()
        .ok()
        .filter(|v| *v != 0)
        .ok_or_else(|| BadChannel(setting, v.to_string()))
}

impl DiscordChat {
    /// A client with bot token `token` posting into `channel_id`; `proxy` sends every call to
    /// `PROXY/api/v10/...` (tests use a local stand-in). `application_id` is needed for
    /// command registration and deferred answers.
    ///
    /// Errors: a channel or application ID that is not a snowflake.
    pub fn new(
        token: &SecretString,
        channel_id: &str,
        application_id: Option<&str>,
        proxy: Option<&str>,
    ) -> Result<DiscordChat, BadChannel> {
        let id = snowflake("channel_id", channel_id)?;
        let application_id = application_id
            .map(|a| snowflake("application_id", a).map(ApplicationId::new))
            .transpose()?;
        let raw = token.expose_secret().trim();
        let auth = if raw.starts_with("Bot ") {
            raw.to_string()
        } else {
            format!("Bot {raw}")
        };
        Ok(DiscordChat {
            client: reqwest::Client::new(),
            auth: SecretString::from(auth),
            proxy: proxy.map(str::to_string),
            channel: ChannelId::new(id),
            department_channels: Default::default(),
            upload_max_bytes: crate::chat::DEFAULT_UPLOAD_MAX_BYTES,
            application_id,
        })
    }

    /// The same client posting each department's cards and channel notices into its channel
    /// in `channels`, whose default replaces the `channel_id` given to [`DiscordChat::new`].
    ///
    /// Errors: a channel that is not a snowflake (named `channel_id` for the default,
    /// `departments.discord_channel` for a department's).
    pub fn with_channels(mut self, channels: &Channels) -> Result<DiscordChat, BadChannel> {
        self.channel = ChannelId::new(snowflake("channel_id", channels.default_channel())?);
        self.department_channels = channels
            .overrides()
            .map(|(d, c)| {
                snowflake("departments.discord_channel", c)
                    .map(|c| (d.to_string(), ChannelId::new(c)))
            })
            .collect::<Result<_, _>>()?;
        Ok(self)
    }

    /// The channel of `department`'s cards and notices; the default for `None` or a
    /// department without its own.
    fn channel_for(&self, department: Option<&str>) -> ChannelId {
        department
            .and_then(|d| self.department_channels.get(d))
            .copied()
            .unwrap_or(self.channel)
    }

    /// The application ID, when configured.
    pub fn application_id(&self) -> Option<ApplicationId> {
        self.application_id
    }

    /// Sends `req` with JSON `body`; returns the JSON answer (`None` for 204).
    ///
    /// Errors: [`ChatError::RateLimited`] on 429 with the wait Discord asked for (see
    /// [`retry_after`]); [`ChatError::Refused`] on any other 4xx and [`ChatError::Failed`]
    /// on any other failure, with the status and Discord's error message.
    pub(crate) async fn call(
        &self,
        req: Request<'_>,
        body: Option<&impl serde::Serialize>,
    ) -> Result<Option<serde_json::Value>, ChatError> {
        let fail = |e: &dyn std::fmt::Display| ChatError::Failed(format!("discord: {e}"));
        let bytes = match body {
            Some(b) => Some(serde_json::to_vec(b).map_err(|e| fail(&e))?),
            None => None,
        };
        self.send(req.body(bytes)).await
    }

    /// Sends `req` as built (JSON body or multipart); answers and errors as [`Self::call`].
    pub(crate) async fn send(
        &self,
        req: Request<'_>,
    ) -> Result<Option<serde_json::Value>, ChatError> {
        let fail = |e: &dyn std::fmt::Display| ChatError::Failed(format!("discord: {e}"));
        let resp = req
            .build(
                &self.client,
                self.auth.expose_secret(),
                self.proxy.as_deref(),
            )
            .map_err(|e| fail(&e))?
            .send()
            .await
            // The URL can hold an interaction token (`/webhooks/{app}/{token}/…`): never in
            // an error, which gets logged.
            .map_err(|e| fail(&e.without_url()))?;
        let status = resp.status();
        if status == reqwest::StatusCode::TOO_MANY_REQUESTS {
            let header = resp
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            let body: Option<serde_json::Value> = resp.json().await.ok();
            let wait = retry_after(header.as_deref(), body.as_ref());
            crate::chat::count_rate_limit("discord", wait);
            return Err(ChatError::RateLimited(wait));
        }
        if !status.is_success() {
            let text = resp.text().await.unwrap_or_default();
            let msg = format!("discord: HTTP {status}: {}", truncate(&text, 300));
            // A 4xx other than 429 (handled above) is Discord refusing the call itself.
            return Err(if status.is_client_error() {
                ChatError::Refused(msg)
            } else {
                ChatError::Failed(msg)
            });
        }
        if status == reqwest::StatusCode::NO_CONTENT {
            return Ok(None);
        }
        resp.json()
            .await
            .map(Some)
            .map_err(|e| fail(&e.without_url()))
    }

    /// The `id` of a created object in a JSON answer.
    fn id_of(v: Option<serde_json::Value>) -> Result<u64, ChatError> {
        v.as_ref()
            .and_then(|v| v.get("id"))
            .and_then(|i| i.as_str())
            .and_then(|i| i.parse().ok())
            .filter(|i| *i != 0)
            .ok_or_else(|| ChatError::Failed("discord: answer without an id".into()))
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
            .enforce_nonce(true)
            .allowed_mentions(allowed_mentions(&[]));
        let channel_id = self.channel_for(Some(&card.department));
        let req = Request::new(Route::ChannelMessages { channel_id }, LightMethod::Post);
        let id = Self::id_of(self.call(req, Some(&msg)).await?)?;
        Ok(ChatPost {
            platform: "discord".into(),
            channel: channel_id.get().to_string(),
            message_ref: id.to_string(),
            thread_ref: None,
        })
    }

    pub(super) async fn update_card(
        &self,
        post: &ChatPost,
        card: &CardView,
    ) -> Result<(), ChatError> {
        let (channel_id, message_id) = ids(post)?;
        let edit = EditMessage::new()
            .embed(embed(card))
            .components(components(card))
            .allowed_mentions(allowed_mentions(&[]));
        let req = Request::new(
            Route::ChannelMessage {
                channel_id,
                message_id,
            },
            LightMethod::Patch,
        );
        self.call(req, Some(&edit)).await?;
        Ok(())
    }

    /// Posts `text` in `channel_id` with `key` as its `nonce` and `enforce_nonce`, so Discord
    /// answers a repeat with the first message instead of posting again ("Create Message",
    /// `enforce_nonce`: a nonce seen in the last few minutes from the same author).
    async fn send_text(
        &self,
        channel_id: ChannelId,
        text: &str,
        mentions: &[String],
        key: &str,
    ) -> Result<(), ChatError> {
        let nonce: String = key.chars().take(NONCE_MAX).collect();
        let msg = CreateMessage::new()
            .content(truncate(text, CONTENT_MAX))
            .nonce(Nonce::String(nonce))
            .enforce_nonce(true)
            .allowed_mentions(allowed_mentions(mentions));
        let req = Request::new(Route::ChannelMessages { channel_id }, LightMethod::Post);
        self.call(req, Some(&msg)).await?;
        Ok(())
    }

    /// Posts into the card's thread, starting the thread first if there is none yet; returns
    /// the new thread's ID when it started one.
    pub(super) async fn post_in_thread(
        &self,
        post: &ChatPost,
        number: &str,
        text: &str,
        mentions: &[String],
        key: &str,
    ) -> Result<Option<String>, ChatError> {
        let (thread, created) = self.thread_of(post, number).await?;
        self.send_text(thread, text, mentions, key).await?;
        Ok(created)
    }

    /// The card's thread, started from the card (named `number`) when there is none yet;
    /// with the new thread's ID when this call started it.
    pub(super) async fn thread_of(
        &self,
        post: &ChatPost,
        number: &str,
    ) -> Result<(ChannelId, Option<String>), ChatError> {
        let (channel_id, message_id) = ids(post)?;
        let (thread, created) = match post
            .thread_ref
            .as_deref()
            .and_then(|t| t.parse::<u64>().ok())
        {
            Some(t) if t != 0 => (ChannelId::new(t), None),
            _ => {
                let name: String = number.chars().take(THREAD_NAME_MAX).collect();
                let req = Request::new(
                    Route::ChannelMessageThreads {
                        channel_id,
                        message_id,
                    },
                    LightMethod::Post,
                );
                let id = match self.call(req, Some(&CreateThread::new(name))).await {
                    Ok(answer) => Self::id_of(answer)?,
                    // Started already, by a call whose outcome we did not record (its answer
                    // lost, or an upload into it failed before the commit): a thread started
                    // from a message has that message's ID (Discord API, "Start Thread from
                    // Message"; error 160004, "A thread has already been created").
                    Err(ChatError::Failed(e) | ChatError::Refused(e)) if e.contains("160004") => {
                        message_id.get()
                    }
                    Err(e) => return Err(e),
                };
                (ChannelId::new(id), Some(id.to_string()))
            }
        };
        Ok((thread, created))
    }

    pub(super) async fn post_in_channel(
        &self,
        text: &str,
        mentions: &[String],
        department: Option<&str>,
        key: &str,
    ) -> Result<(), ChatError> {
        self.send_text(self.channel_for(department), text, mentions, key)
            .await
    }
}

impl DiscordChat {
    /// Replaces a deferred interaction response with `text` (ephemeral, cut to 2,000
    /// characters): `PATCH /webhooks/{application_id}/{token}/messages/@original`.
    /// <https://discord.com/developers/docs/interactions/receiving-and-responding#edit-original-interaction-response>
    ///
    /// Errors: `application_id` is not a snowflake, or the call fails.
    pub async fn edit_original(
        &self,
        application_id: &str,
        token: &str,
        text: &str,
    ) -> Result<(), ChatError> {
        let app = snowflake("application_id", application_id)
            .map_err(|e| ChatError::Failed(e.to_string()))?;
        let req = Request::new(
            Route::WebhookOriginalInteractionResponse {
                application_id: ApplicationId::new(app),
                token,
            },
            LightMethod::Patch,
        );
        let body = serde_json::json!({
            "content": truncate(text, CONTENT_MAX),
            "allowed_mentions": allowed_mentions_json(&[]),
        });
        self.call(req, Some(&body)).await?;
        Ok(())
    }

    /// Answers an interaction that came over the gateway:
    /// `POST /interactions/{interaction_id}/{token}/callback` with `response`.
    /// <https://discord.com/developers/docs/interactions/receiving-and-responding#create-interaction-response>
    ///
    /// Errors: `interaction_id` is not a snowflake, or the call fails.
    pub async fn interaction_callback(
        &self,
        interaction_id: &str,
        token: &str,
        response: &serde_json::Value,
    ) -> Result<(), ChatError> {
        let id = snowflake("interaction id", interaction_id)
            .map_err(|e| ChatError::Failed(e.to_string()))?;
        let req = Request::new(
            Route::InteractionResponse {
                interaction_id: InteractionId::new(id),
                token,
            },
            LightMethod::Post,
        );
        self.call(req, Some(response)).await?;
        Ok(())
    }

    /// Registers the slash commands ([`command_definitions`]) by bulk overwrite: in guild
    /// `guild_id` when given (`PUT /applications/{id}/guilds/{guild_id}/commands`, effective
    /// at once), else globally (`PUT /applications/{id}/commands`).
    /// <https://discord.com/developers/docs/interactions/application-commands#bulk-overwrite-guild-application-commands>
    ///
    /// Errors: no application ID configured, a bad guild ID, or the call fails.
    pub async fn register_commands(&self, guild_id: Option<&str>) -> Result<(), ChatError> {
        let application_id = self.application_id.ok_or_else(|| {
            ChatError::Failed("discord.application_id is needed to register commands".into())
        })?;
        let route = match guild_id {
            Some(g) => Route::GuildCommands {
                application_id,
                guild_id: GuildId::new(
                    snowflake("guild_id", g).map_err(|e| ChatError::Failed(e.to_string()))?,
                ),
            },
            None => Route::Commands { application_id },
        };
        self.call(
            Request::new(route, LightMethod::Put),
            Some(&command_definitions()),
        )
        .await?;
        Ok(())
    }
}

/// How long Discord asked us to wait after a 429: the JSON body's `retry_after` (seconds,
/// a float, the precise figure), else the `Retry-After` header (seconds), else 1 s; kept
/// between 10 ms and one hour.
/// <https://discord.com/developers/docs/topics/rate-limits#exceeding-a-rate-limit>
pub fn retry_after(header: Option<&str>, body: Option<&serde_json::Value>) -> std::time::Duration {
    let secs = body
        .and_then(|b| b.get("retry_after"))
        .and_then(serde_json::Value::as_f64)
        .or_else(|| header.and_then(|h| h.trim().parse::<f64>().ok()))
        .filter(|s| s.is_finite())
        .unwrap_or(1.0)
        .clamp(0.01, 3600.0);
    std::time::Duration::from_secs_f64(secs)
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

/// The `allowed_mentions` of every message claimdesk creates or edits: no `@everyone`/`@here`,
/// no roles, no users parsed from the text; only `users` (snowflakes, at most 100, others
/// dropped) may be pinged.
/// <https://discord.com/developers/docs/resources/message#allowed-mentions-object>
pub fn allowed_mentions(users: &[String]) -> CreateAllowedMentions {
    let ids: Vec<UserId> = users
        .iter()
        .filter_map(|u| u.parse::<u64>().ok().filter(|u| *u != 0))
        .take(ALLOWED_MENTIONS_MAX)
        .map(UserId::new)
        .collect();
    CreateAllowedMentions::new().users(ids)
}

/// [`allowed_mentions`] as JSON, for bodies built by hand (interaction responses, webhook
/// edits): `{"parse": [], "users": [...], "roles": []}`.
pub fn allowed_mentions_json(users: &[String]) -> serde_json::Value {
    serde_json::to_value(allowed_mentions(users))
        .unwrap_or_else(|_| serde_json::json!({"parse": [], "users": [], "roles": []}))
}

/// Discord's limit on the users (and on the roles) of `allowed_mentions`.
pub const ALLOWED_MENTIONS_MAX: usize = 100;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Priority;
    use crate::domain::Status;

    #[test]
    fn retry_after_prefers_the_precise_body_figure() {
        let body = serde_json::json!({"message": "You are being rate limited.", "retry_after": 2.5, "global": false});
        assert_eq!(retry_after(Some("3"), Some(&body)).as_millis(), 2500);
        assert_eq!(retry_after(Some("3"), None).as_secs(), 3);
        assert_eq!(retry_after(Some("junk"), None).as_secs(), 1);
        assert_eq!(
            retry_after(None, Some(&serde_json::json!({"retry_after": -4}))).as_millis(),
            10
        );
        assert_eq!(retry_after(Some("1e9"), None).as_secs(), 3600);
    }

    fn huge_card() -> CardView {
        let now = chrono::Utc::now();
        CardView {
            number: "TICK-2026-0001".into(),
            status: Status::Claimed,
            assignee: Some(("ana".repeat(500), None, Some("200000000000000001".into()))),
            requester: format!("{} <{}@x.example>", "N".repeat(5000), "a".repeat(3000)),
            subject: "S".repeat(10_000),
            preview: "é".repeat(50_000),
            message_count: 3,
            merged_into: None,
            department: "support".into(),
            priority: Priority::Urgent,
            claimed_at: Some(now - chrono::Duration::seconds(185)),
            last_customer_at: Some(now - chrono::Duration::seconds(7300)),
            as_of: now,
            opened_at: now,
            sla: None,
            attachment_count: 3,
            attachments: vec![],
            bounced: true,
            tags: vec!["billing".into()],
            linked_to: None,
        }
    }

    #[test]
    fn embed_fits_discord_limits_whatever_the_input() {
        let p = embed_parts(&huge_card());
        let n = |s: &str| s.chars().count();
        assert!(n(&p.title) <= EMBED_TITLE_MAX && p.title.ends_with('…'));
        assert!(n(&p.description) <= EMBED_DESCRIPTION_MAX && p.description.ends_with('…'));
        assert!(n(&p.footer) <= EMBED_FOOTER_MAX);
        assert!(p.fields.len() <= EMBED_FIELDS_MAX);
        for (k, v) in &p.fields {
            assert!(n(k) <= EMBED_FIELD_NAME_MAX && n(v) <= EMBED_FIELD_VALUE_MAX);
        }
        assert!(p.total_chars() <= EMBED_TOTAL_MAX, "{}", p.total_chars());
        // The built embed carries exactly these parts.
        let json = serde_json::to_value(embed(&huge_card())).expect("embed serialises");
        assert_eq!(json["title"], p.title.as_str());
        assert_eq!(
            json["fields"].as_array().map(Vec::len),
            Some(p.fields.len())
        );
    }

    #[test]
    fn embed_lists_attachments_escaped_with_sizes() {
        let mut c = huge_card();
        c.attachments = vec![
            crate::desk::query::CardAttachment {
                name: Some("@everyone **x**.png".into()),
                size: 3 * 1024 * 1024,
            },
            crate::desk::query::CardAttachment {
                name: None,
                size: 10,
            },
        ];
        let p = embed_parts(&c);
        assert!(p.total_chars() <= EMBED_TOTAL_MAX);
        let f: std::collections::HashMap<_, _> = p.fields.into_iter().collect();
        let files = &f["Attachments"];
        assert!(
            !files.contains("**x**") && !files.contains("@everyone **"),
            "{files}"
        );
        assert!(
            files.contains("· 3.0 MiB") && files.contains("📎 (no name) · 10 B"),
            "{files}"
        );
    }

    #[test]
    fn embed_shows_claim_age_priority_and_last_customer_message() {
        let mut c = huge_card();
        c.assignee = Some(("ana".into(), None, Some("200000000000000001".into())));
        c.preview = "Export fails".into();
        c.subject = "Export".into();
        c.requester = "dana@customer.example".into();
        let p = embed_parts(&c);
        assert!(p
            .description
            .contains("Claimed by <@200000000000000001> · 3 min"));
        assert!(p.description.ends_with("Export fails"), "{}", p.description);
        let f: std::collections::HashMap<_, _> = p.fields.into_iter().collect();
        assert_eq!(f["Assignee"], "Claimed by <@200000000000000001> · 3 min");
        assert_eq!(f["Priority"], "urgent");
        assert_eq!(f["Customer last wrote"], "2 h 1 min ago");
        assert_eq!(f["Messages"], "3");
        assert_eq!(p.title, "[urgent] TICK-2026-0001 · Export");
    }
}
