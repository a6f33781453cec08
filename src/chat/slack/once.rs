//! Exactly-once posting on Slack, which has no idempotency key for `chat.postMessage`.
//!
//! Every message claimdesk creates carries message metadata
//! (<https://api.slack.com/metadata/using>): `event_type` [`EFFECT_EVENT`] and
//! `event_payload` `{"effect_id": <outbox key>}`. When an earlier attempt of the same outbox
//! row may have reached Slack ([`Once::unsure_since`]: its answer was lost, or the process
//! died before the outbox commit), the conversation is searched for that key before posting:
//! `conversations.history` for top-level posts, `conversations.replies` (the thread's `ts`)
//! for thread posts, both with `include_all_metadata=true`, from the row's creation time
//! minus [`LOOKUP_MARGIN_SECS`] (`oldest`), [`PAGE_LIMIT`] messages a page, at most
//! [`PAGES_MAX`] pages. API pages: <https://api.slack.com/methods/conversations.history>,
//! <https://api.slack.com/methods/conversations.replies>.
//!
//! Scopes: reading a conversation needs `channels:history` (public channels),
//! `groups:history` (private channels) or `im:history` (DMs). Without it Slack refuses the
//! lookup (`missing_scope`); the post then goes ahead with a warning in the log (a possible
//! repeat is better than a ticket nobody sees), never silently.

use std::collections::HashMap;

use slack_morphism::prelude::*;

use super::{classify, SlackChat};
use crate::chat::{ChatError, Once, LOOKUP_MARGIN_SECS};

/// The metadata `event_type` of every message claimdesk posts on Slack.
pub const EFFECT_EVENT: &str = "claimdesk_effect";
/// The `event_payload` field holding the outbox key.
pub const EFFECT_ID: &str = "effect_id";
/// The metadata `event_type` DMs carried before [`EFFECT_EVENT`] (payload `key`); still
/// recognised, so a DM queued before an upgrade is found too.
pub const LEGACY_DM_EVENT: &str = "claimdesk_dm";
/// Messages asked for per page of a lookup (Slack allows up to 999; 200 is its advice).
pub const PAGE_LIMIT: u16 = 200;
/// Pages read at most per lookup: 1,000 messages newer than the effect.
pub const PAGES_MAX: usize = 5;

/// Where a message claimdesk may have posted lives.
#[derive(Debug, Clone, Copy)]
pub(super) enum Place<'a> {
    /// Top level of conversation `channel` (an ID: `C…`, `G…`, `D…`).
    Channel(&'a str),
    /// The thread whose parent is `ts` in `channel`.
    Thread {
        /// Conversation ID.
        channel: &'a str,
        /// The thread's parent message `ts`.
        ts: &'a str,
    },
}

/// The metadata every post of the effect keyed `key` carries.
pub(super) fn metadata(key: &str) -> SlackMessageMetadata {
    SlackMessageMetadata {
        event_type: EFFECT_EVENT.to_string(),
        event_payload: Some(HashMap::from([(EFFECT_ID.to_string(), key.to_string())])),
    }
}

/// Whether `m` was posted for the effect keyed `key`.
pub(super) fn carries(m: &SlackHistoryMessage, key: &str) -> bool {
    m.content.metadata.as_ref().is_some_and(|md| {
        let field = match md.event_type.as_str() {
            EFFECT_EVENT => EFFECT_ID,
            LEGACY_DM_EVENT => "key",
            _ => return false,
        };
        md.event_payload
            .as_ref()
            .and_then(|p| p.get(field))
            .is_some_and(|k| k == key)
    })
}

/// `conversations.replies` with `include_all_metadata` (documented for the method;
/// slack-morphism's request has no field for it).
#[derive(Debug, Clone, serde::Deserialize)]
struct Page {
    messages: Vec<SlackHistoryMessage>,
    response_metadata: Option<SlackResponseMetadata>,
}

/// Slack's `oldest`: seconds since the epoch with microseconds, `1700000000.000000`.
fn oldest_ts(since: chrono::DateTime<chrono::Utc>) -> String {
    let from = since - chrono::Duration::seconds(LOOKUP_MARGIN_SECS);
    format!(
        "{}.{:06}",
        from.timestamp().max(0),
        from.timestamp_subsec_micros()
    )
}

impl SlackChat {
    /// The `ts` of the message an earlier attempt of `once` posted in `place`, if any; always
    /// `None` on a first attempt (no call made).
    ///
    /// Errors: a rate limit or a transient failure of the lookup (the post is then retried
    /// later rather than risked). A refusal (a missing `*:history` scope, `not_in_channel`,
    /// `channel_not_found`) is logged as a warning and answered `None`: the caller posts,
    /// possibly a second time.
    pub(super) async fn earlier_attempt(
        &self,
        place: Place<'_>,
        once: &Once,
    ) -> Result<Option<String>, ChatError> {
        let Some(since) = once.unsure_since else {
            return Ok(None);
        };
        match self.search(place, &once.key, &oldest_ts(since)).await {
            Err(ChatError::Refused(why)) => {
                tracing::warn!(key = %once.key, error = %why,
                    "cannot look for an earlier attempt on Slack (the app needs channels:history, groups:history and im:history); posting again, which may repeat the message");
                Ok(None)
            }
            other => other,
        }
    }

    async fn search(
        &self,
        place: Place<'_>,
        key: &str,
        oldest: &str,
    ) -> Result<Option<String>, ChatError> {
        let session = self.client.open_session(&self.token);
        let (method, channel, ts) = match place {
            Place::Channel(c) => ("conversations.history", c.to_string(), None),
            Place::Thread { channel, ts } => (
                "conversations.replies",
                channel.to_string(),
                Some(ts.to_string()),
            ),
        };
        let (limit, all, oldest) = (
            PAGE_LIMIT.to_string(),
            "true".to_string(),
            oldest.to_string(),
        );
        let mut cursor: Option<String> = None;
        for _ in 0..PAGES_MAX {
            let params: Vec<(&str, Option<&String>)> = vec![
                ("channel", Some(&channel)),
                ("ts", ts.as_ref()),
                ("oldest", Some(&oldest)),
                ("limit", Some(&limit)),
                ("include_all_metadata", Some(&all)),
                ("cursor", cursor.as_ref()),
            ];
            let page: Page = session
                .http_session_api
                .http_get(method, &params, None)
                .await
                .map_err(classify)?;
            if let Some(m) = page.messages.iter().find(|m| carries(m, key)) {
                return Ok(Some(m.origin.ts.0.clone()));
            }
            cursor = page
                .response_metadata
                .and_then(|r| r.next_cursor)
                .map(|c| c.0)
                .filter(|c| !c.is_empty());
            if cursor.is_none() {
                return Ok(None);
            }
        }
        tracing::warn!(key, pages = PAGES_MAX,
            "looked through the most recent messages for an earlier attempt without finding it; posting");
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oldest_is_the_creation_time_minus_the_margin_in_slack_ts_form() {
        let t = chrono::DateTime::from_timestamp(1_700_000_300, 123_456_000).expect("time");
        assert_eq!(oldest_ts(t), "1700000000.123456");
    }

    #[test]
    fn a_message_is_matched_by_its_effect_key_only() {
        let msg = |md: Option<SlackMessageMetadata>| -> SlackHistoryMessage {
            let mut v = serde_json::json!({"type": "message", "ts": "1.000001", "text": "x"});
            if let Some(md) = md {
                v["metadata"] = serde_json::to_value(md).expect("serialises");
            }
            serde_json::from_value(v).expect("a history message")
        };
        assert!(carries(&msg(Some(metadata("cd7"))), "cd7"));
        assert!(!carries(&msg(Some(metadata("cd7"))), "cd70"));
        assert!(!carries(&msg(None), "cd7"));
        let legacy = SlackMessageMetadata {
            event_type: LEGACY_DM_EVENT.into(),
            event_payload: Some(HashMap::from([("key".into(), "cn3".into())])),
        };
        assert!(carries(&msg(Some(legacy)), "cn3"));
        let other = SlackMessageMetadata {
            event_type: "someone_else".into(),
            event_payload: Some(HashMap::from([(EFFECT_ID.into(), "cd7".into())])),
        };
        assert!(!carries(&msg(Some(other)), "cd7"));
    }
}
