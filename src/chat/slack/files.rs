//! Email attachments uploaded into a card's Slack thread, the way Slack wants files since
//! `files.upload` was retired: `files.getUploadURLExternal` (name and length) → POST the bytes
//! to the returned upload URL → `files.completeUploadExternal` with `channel_id` and
//! `thread_ts`, which shares the file in the thread.
//! API pages: <https://api.slack.com/methods/files.getUploadURLExternal>,
//! <https://api.slack.com/methods/files.completeUploadExternal>.
//!
//! Slack has no idempotency key for these calls: a crash after `files.completeUploadExternal`
//! succeeded but before the outbox row is committed shares the file once more on the retry.

use slack_morphism::prelude::*;

use super::{classify, SlackChat};
use crate::chat::{ChatError, UploadFile};
use crate::store::chat_posts::ChatPost;

impl SlackChat {
    /// The same client uploading attachments up to `bytes` into threads; 0 turns uploads off.
    pub fn with_upload_max_bytes(mut self, bytes: u64) -> SlackChat {
        self.upload_max_bytes = bytes;
        self
    }

    /// Largest attachment uploaded into a thread, bytes; 0: none.
    pub fn upload_max_bytes(&self) -> u64 {
        self.upload_max_bytes
    }

    /// Uploads `file` and shares it in the thread of the card `post`.
    ///
    /// Errors: any of the three calls fails (rate limits as [`ChatError::RateLimited`]).
    pub(in crate::chat) async fn upload_in_thread(
        &self,
        post: &ChatPost,
        file: &UploadFile<'_>,
    ) -> Result<(), ChatError> {
        let thread = post
            .thread_ref
            .clone()
            .unwrap_or_else(|| post.message_ref.clone());
        self.upload(file, &post.channel, Some(thread), None).await
    }

    /// Uploads `file` and shares it in `channel` (the desk channel when `None`), with
    /// `comment` as its message (`initial_comment`, Slack mrkdwn) when given; the same three
    /// calls as [`SlackChat::upload_in_thread`], without `thread_ts`.
    ///
    /// Errors: any of the three calls fails (rate limits as [`ChatError::RateLimited`]).
    pub(in crate::chat) async fn upload_in_channel(
        &self,
        channel: Option<&str>,
        file: &UploadFile<'_>,
        comment: Option<&str>,
    ) -> Result<(), ChatError> {
        let channel = channel
            .filter(|c| !c.trim().is_empty())
            .unwrap_or_else(|| self.channels.default_channel())
            .to_string();
        self.upload(file, &channel, None, comment).await
    }

    /// The external upload (api.slack.com/messaging/files#uploading_files):
    /// `files.getUploadURLExternal`, the bytes to the URL it gives, then
    /// `files.completeUploadExternal` sharing the file in `channel`, in the thread `thread`
    /// when given, with `comment` (at most 3,000 characters) as its message when given.
    ///
    /// Errors: any of the three calls fails (rate limits as [`ChatError::RateLimited`]).
    async fn upload(
        &self,
        file: &UploadFile<'_>,
        channel: &str,
        thread: Option<String>,
        comment: Option<&str>,
    ) -> Result<(), ChatError> {
        let session = self.client.open_session(&self.token);
        let target = session
            .get_upload_url_external(&SlackApiFilesGetUploadUrlExternalRequest::new(
                file.name.to_string(),
                file.data.len(),
            ))
            .await
            .map_err(classify)?;
        session
            .files_upload_via_url(&SlackApiFilesUploadViaUrlRequest::new(
                target.upload_url,
                file.data.to_vec(),
                file.content_type.to_string(),
            ))
            .await
            .map_err(classify)?;
        let mut done =
            SlackApiFilesCompleteUploadExternalRequest::new(vec![SlackApiFilesComplete::new(
                target.file_id,
            )
            .with_title(file.name.to_string())])
            .with_channel_id(channel.to_string().into());
        if let Some(t) = thread {
            done = done.with_thread_ts(t.into());
        }
        if let Some(c) = comment {
            done = done.with_initial_comment(crate::desk::query::truncate(c, 3000));
        }
        session
            .files_complete_upload_external(&done)
            .await
            .map_err(classify)?;
        Ok(())
    }
}
