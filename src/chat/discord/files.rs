//! Email attachments uploaded into a card's Discord thread: one multipart
//! `POST /channels/{thread}/messages` with `payload_json` (naming the file as
//! `attachments[0]`) and the bytes as `files[0]`, carrying a `nonce` with `enforce_nonce` so
//! that a retry after a crash between Discord's answer and our commit is dropped by Discord.
//! API pages: <https://discord.com/developers/docs/reference#uploading-files>,
//! <https://discord.com/developers/docs/resources/message#create-message>.

use serenity::all::CreateAttachment;
use serenity::http::{LightMethod, Multipart, MultipartUpload, Request, Route};

use super::{allowed_mentions_json, DiscordChat, NONCE_MAX};
use crate::chat::{ChatError, UploadFile};
use crate::store::chat_posts::ChatPost;

impl DiscordChat {
    /// The same client uploading attachments up to `bytes` into threads; 0 turns uploads off.
    pub fn with_upload_max_bytes(mut self, bytes: u64) -> DiscordChat {
        self.upload_max_bytes = bytes;
        self
    }

    /// Largest attachment uploaded into a thread, bytes; 0: none.
    pub fn upload_max_bytes(&self) -> u64 {
        self.upload_max_bytes
    }

    /// Uploads `file` into the card's thread (starting the thread when there is none);
    /// `dedupe_key` becomes the message's `nonce` (cut to [`NONCE_MAX`]). Returns the new
    /// thread's ID when it started one.
    ///
    /// Errors: starting the thread or the upload fails.
    pub(in crate::chat) async fn upload_in_thread(
        &self,
        post: &ChatPost,
        number: &str,
        file: &UploadFile<'_>,
        dedupe_key: &str,
    ) -> Result<Option<String>, ChatError> {
        let (thread, created) = self.thread_of(post, number).await?;
        self.post_file(thread, file, None, dedupe_key).await?;
        Ok(created)
    }

    /// Posts `file` as an attachment of a new message in `channel` (the desk channel when
    /// `None` or not a snowflake), with `comment` as its content when given; `dedupe_key`
    /// becomes the `nonce` as for [`DiscordChat::upload_in_thread`].
    ///
    /// Errors: the upload fails.
    pub(in crate::chat) async fn upload_in_channel(
        &self,
        channel: Option<&str>,
        file: &UploadFile<'_>,
        comment: Option<&str>,
        dedupe_key: &str,
    ) -> Result<(), ChatError> {
        let channel_id = channel
            .and_then(|c| c.trim().parse::<u64>().ok())
            .filter(|c| *c != 0)
            .map(serenity::all::ChannelId::new)
            .unwrap_or_else(|| self.channel_for(None));
        self.post_file(channel_id, file, comment, dedupe_key).await
    }

    /// Creates a message in `channel_id` (a channel or thread) with `file` as its one
    /// attachment (multipart, `POST /channels/{id}/messages`,
    /// discord.com/developers/docs/resources/message#create-message), `comment` as its
    /// content when given (cut to the content limit), no mentions allowed, and `dedupe_key`
    /// (cut to [`NONCE_MAX`]) as an enforced `nonce`, so a retry does not post it twice.
    ///
    /// Errors: the request fails.
    async fn post_file(
        &self,
        channel_id: serenity::all::ChannelId,
        file: &UploadFile<'_>,
        comment: Option<&str>,
        dedupe_key: &str,
    ) -> Result<(), ChatError> {
        let nonce: String = dedupe_key.chars().take(NONCE_MAX).collect();
        let mut payload = serde_json::json!({
            "attachments": [{"id": 0, "filename": file.name}],
            "nonce": nonce,
            "enforce_nonce": true,
            "allowed_mentions": allowed_mentions_json(&[]),
        });
        if let Some(c) = comment {
            payload["content"] = crate::desk::query::truncate(c, super::CONTENT_MAX).into();
        }
        let multipart = Multipart {
            upload: MultipartUpload::Attachments(vec![CreateAttachment::bytes(
                file.data.to_vec(),
                file.name,
            )]),
            fields: Vec::new(),
            payload_json: Some(payload.to_string()),
        };
        let req = Request::new(Route::ChannelMessages { channel_id }, LightMethod::Post)
            .multipart(Some(multipart));
        self.send(req).await?;
        Ok(())
    }
}
