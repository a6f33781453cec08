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

/// Default largest attachment uploaded into a card's thread, bytes (8 MiB; Discord's
/// smallest per-file limit is 10 MiB, Slack's 1 GB).
pub const DEFAULT_UPLOAD_MAX_BYTES: u64 = 8 * 1024 * 1024;

/// Longest file name claimdesk gives an uploaded file, characters.
pub const UPLOAD_NAME_MAX: usize = 100;

/// One email attachment to upload into a card's thread.
#[derive(Debug, Clone, Copy)]
pub struct UploadFile<'a> {
    /// File name, already made safe by [`upload_file_name`].
    pub name: &'a str,
    /// `type/subtype` as the email declared it.
    pub content_type: &'a str,
    /// The decoded content.
    pub data: &'a [u8],
}

/// The kinds of file uploaded into a card's thread, by the (lower-case) extension of the
/// safe name, with the Content-Type claimdesk sends for them — never the one the sender
/// declared. Anything else (HTML, SVG, executables, archives, office documents with macros …)
/// is only listed on the card: an email attachment is hostile, and a chat client renders or
/// opens what it is given with one click.
pub const UPLOADABLE: &[(&str, &str)] = &[
    ("png", "image/png"),
    ("jpg", "image/jpeg"),
    ("jpeg", "image/jpeg"),
    ("gif", "image/gif"),
    ("webp", "image/webp"),
    ("pdf", "application/pdf"),
    ("txt", "text/plain"),
    ("log", "text/plain"),
    ("csv", "text/csv"),
];

/// The Content-Type to upload `safe_name` (from [`upload_file_name`]) with, or `None` when
/// its kind is not in [`UPLOADABLE`] and it is only listed on the card.
pub fn upload_content_type(safe_name: &str) -> Option<&'static str> {
    let (_, ext) = safe_name.rsplit_once('.')?;
    let ext = ext.to_ascii_lowercase();
    UPLOADABLE
        .iter()
        .find(|(e, _)| *e == ext)
        .map(|(_, content_type)| *content_type)
}

/// A file name from an email (hostile) made safe to upload: only the part after the last
/// `/` or `\`; control characters, escape sequences, bidi controls and zero-width characters
/// dropped; `: * ? " < > |` replaced by `_`; leading dots and surrounding blanks trimmed; at
/// most [`UPLOAD_NAME_MAX`] characters, keeping an extension of up to 16 characters. A name
/// that ends up empty (or none) becomes `attachment-N`, N = `position` + 1.
pub fn upload_file_name(name: Option<&str>, position: i32) -> String {
    let fallback = || format!("attachment-{}", i64::from(position) + 1);
    let base = name.unwrap_or("").rsplit(['/', '\\']).next().unwrap_or("");
    let cleaned: String = crate::desk::escape::terminal(base)
        .chars()
        .filter(|c| !c.is_control() && !matches!(c, '\u{200B}'..='\u{200F}' | '\u{FEFF}'))
        .map(|c| match c {
            ':' | '*' | '?' | '"' | '<' | '>' | '|' => '_',
            c => c,
        })
        .collect();
    let trimmed = cleaned.trim().trim_start_matches('.').trim();
    if trimmed.is_empty() {
        return fallback();
    }
    if trimmed.chars().count() <= UPLOAD_NAME_MAX {
        return trimmed.to_string();
    }
    let ext = trimmed
        .rsplit_once('.')
        .map(|(_, e)| e)
        .filter(|e| (1..=16).contains(&e.chars().count()));
    match ext {
        Some(e) => {
            let keep = UPLOAD_NAME_MAX - e.chars().count() - 1;
            let stem: String = trimmed.chars().take(keep).collect();
            format!("{}.{e}", stem.trim_end())
        }
        None => trimmed.chars().take(UPLOAD_NAME_MAX).collect(),
    }
}

/// How far before an effect's creation the platform is searched for an earlier attempt of
/// it ([`Once::unsure_since`]), seconds: room for clock skew between Postgres and the
/// platform.
pub const LOOKUP_MARGIN_SECS: i64 = 300;

/// What makes one outbox effect land once on a platform that may have seen it before.
///
/// Every message claimdesk creates carries `key`: Discord as the message `nonce` with
/// `enforce_nonce` (Discord answers a repeat with the message it already has); Slack, which
/// has no idempotency key, as message metadata (`event_type` `claimdesk_effect`,
/// `event_payload.effect_id` = `key`, <https://api.slack.com/metadata/using>), looked for
/// before posting when `unsure_since` is set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Once {
    /// The effect's key, unique per outbox row and kind: `cd<row id>` a card, `ct…` a
    /// thread post, `cx…` a channel notice, `cn…` a DM (at most 25 characters: Discord's
    /// nonce limit).
    pub key: String,
    /// `Some(created_at of the outbox row)` when an earlier attempt may have reached the
    /// platform (it failed without a clear refusal, or the process died before the outbox
    /// commit); the platform is searched for `key` in messages newer than this minus
    /// [`LOOKUP_MARGIN_SECS`]. `None`: first attempt, nothing to look for.
    pub unsure_since: Option<chrono::DateTime<chrono::Utc>>,
}

impl Once {
    /// A first attempt of the effect keyed `key`: nothing to look for.
    pub fn first(key: impl Into<String>) -> Once {
        Once {
            key: key.into(),
            unsure_since: None,
        }
    }
}

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

/// Counts one HTTP 429 answer of `platform` (`slack`, `discord`) in
/// [`crate::metrics::RATE_LIMITED`] and the wait it asked for in
/// [`crate::metrics::RETRY_AFTER`] (seconds): called where each client reads `Retry-After`.
pub(crate) fn count_rate_limit(platform: &'static str, wait: std::time::Duration) {
    metrics::counter!(crate::metrics::RATE_LIMITED, "platform" => platform).increment(1);
    metrics::histogram!(crate::metrics::RETRY_AFTER, "platform" => platform)
        .record(wait.as_secs_f64());
}

/// A failed platform call, classified for retrying.
#[derive(Debug, thiserror::Error)]
pub enum ChatError {
    /// Rate limited: try again after this many seconds (HTTP 429 `Retry-After`).
    #[error("rate limited; retry after {0:?}")]
    RateLimited(std::time::Duration),
    /// Anything else (5xx, timeouts, transient errors); retried with backoff.
    #[error("{0}")]
    Failed(String),
    /// A refusal the same call will get again: an HTTP 4xx other than 429 (Discord 403
    /// `50007` "Cannot send messages to this user", 400 `50035` …), or a Slack `ok: false`
    /// whose error is not transient (`user_not_found`, `missing_scope`,
    /// `not_allowed_token_type`, …; see `slack::is_transient`). The outbox worker gives up a
    /// direct message on it; other effects are retried as for [`ChatError::Failed`].
    #[error("{0}")]
    Refused(String),
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

    /// Posts a new card; returns where it lives. `once` identifies this post across
    /// retries (Discord `nonce`; Slack metadata, and a card an earlier attempt posted is
    /// found in the channel's history and returned instead of posting again).
    pub async fn post_card(&self, card: &CardView, once: &Once) -> Result<ChatPost, ChatError> {
        match self {
            Platform::Slack(s) => s.post_card(card, once).await,
            Platform::Discord(d) => d.post_card(card, &once.key).await,
            Platform::Console(c) => Ok(c.post_card(card)),
        }
    }

    /// Whether a message an earlier attempt may have posted must be looked for before
    /// posting again (Slack: no idempotency key; Discord drops a repeated `nonce` itself, the
    /// console does not matter).
    pub fn finds_earlier_attempts(&self) -> bool {
        matches!(self, Platform::Slack(_))
    }

    /// Edits a posted card to show `card`. Idempotent: the card is rendered from the
    /// ticket's state, so a repeated edit shows the same thing.
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
    /// reference when this call created the thread (Discord), to be stored. `once` as for
    /// [`Platform::post_text_in_thread`].
    pub async fn post_in_thread(
        &self,
        post: &ChatPost,
        number: &str,
        message: &Message,
        once: &Once,
    ) -> Result<Option<String>, ChatError> {
        let text = crate::desk::messages::thread_entry(number, message, self.mention_style());
        self.post_text_in_thread(post, number, &text, &[], once)
            .await
    }

    /// Posts `text` (already in this platform's markup, anything not ours escaped) into the
    /// card's thread of ticket `number`; like [`Platform::post_in_thread`]. `mentions`: the
    /// platform user IDs `text` mentions on purpose; on Discord only they may be pinged
    /// (`allowed_mentions`). `once`: on Slack the post carries its key as metadata and,
    /// when unsure, the thread is searched first (`conversations.replies`); on Discord it is
    /// the message's `nonce`, with `enforce_nonce`.
    pub async fn post_text_in_thread(
        &self,
        post: &ChatPost,
        number: &str,
        text: &str,
        mentions: &[String],
        once: &Once,
    ) -> Result<Option<String>, ChatError> {
        let text = text.to_string();
        match self {
            Platform::Slack(s) => s.post_in_thread(post, &text, once).await.map(|_| None),
            Platform::Discord(d) => {
                d.post_in_thread(post, number, &text, mentions, &once.key)
                    .await
            }
            Platform::Console(c) => {
                c.print(&text);
                Ok(None)
            }
        }
    }

    /// Posts `text` (already in this platform's markup) into `department`'s channel (not a
    /// thread; the platform's channel for `None` or a department without its own);
    /// `mentions` and `once` as for [`Platform::post_text_in_thread`] (Slack searches the
    /// channel's history, `conversations.history`).
    pub async fn post_in_channel(
        &self,
        text: &str,
        mentions: &[String],
        department: Option<&str>,
        once: &Once,
    ) -> Result<(), ChatError> {
        match self {
            Platform::Slack(s) => s.post_in_channel(text, department, once).await,
            Platform::Discord(d) => {
                d.post_in_channel(text, mentions, department, &once.key)
                    .await
            }
            Platform::Console(c) => {
                c.print(text);
                Ok(())
            }
        }
    }

    /// Largest attachment this platform uploads into a card's thread, bytes; 0: none.
    pub fn upload_max_bytes(&self) -> u64 {
        match self {
            Platform::Slack(s) => s.upload_max_bytes(),
            Platform::Discord(d) => d.upload_max_bytes(),
            Platform::Console(_) => 0,
        }
    }

    /// Uploads `file` into the card's thread of ticket `number`. `dedupe_key` identifies this
    /// upload across retries (Discord `nonce` with `enforce_nonce`; Slack has no such key).
    /// Returns the thread's reference when this call created the thread (Discord).
    pub async fn upload_in_thread(
        &self,
        post: &ChatPost,
        number: &str,
        file: &UploadFile<'_>,
        dedupe_key: &str,
    ) -> Result<Option<String>, ChatError> {
        match self {
            Platform::Slack(s) => s.upload_in_thread(post, file).await.map(|_| None),
            Platform::Discord(d) => d.upload_in_thread(post, number, file, dedupe_key).await,
            Platform::Console(_) => Ok(None),
        }
    }

    /// Posts `file` into `channel` (the platform's desk channel when `None`) with `comment`
    /// (already in this platform's markup) as its message; the console writes it to a file
    /// and prints the path. `dedupe_key` as for [`Platform::upload_in_thread`] (the console
    /// names the file after it).
    pub async fn upload_in_channel(
        &self,
        channel: Option<&str>,
        file: &UploadFile<'_>,
        comment: Option<&str>,
        dedupe_key: &str,
    ) -> Result<(), ChatError> {
        match self {
            Platform::Slack(s) => s.upload_in_channel(channel, file, comment).await,
            Platform::Discord(d) => {
                d.upload_in_channel(channel, file, comment, dedupe_key)
                    .await
            }
            Platform::Console(c) => c.write_file(file, comment, dedupe_key).map(|_| ()),
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

    /// Sends `text` (already in this platform's markup) to `user` (a platform user ID) as a
    /// direct message: Slack `conversations.open` + `chat.postMessage`, Discord
    /// `POST /users/@me/channels` + a message; the console prints it. `once` identifies
    /// this message across retries (Discord `nonce` with `enforce_nonce`; Slack message
    /// metadata, looked for in the DM's history when unsure).
    pub async fn direct_message(
        &self,
        user: &str,
        text: &str,
        once: &Once,
    ) -> Result<(), ChatError> {
        match self {
            Platform::Slack(s) => s.direct_message(user, text, once).await,
            Platform::Discord(d) => d.direct_message(user, text, &once.key).await,
            Platform::Console(c) => {
                c.print(&format!("(DM to {user}) {text}"));
                Ok(())
            }
        }
    }

    /// Sends a private answer to `user` in `channel`. At least once: Slack ephemeral
    /// messages are not stored, so an earlier attempt cannot be looked up; a repeat is seen
    /// by that one user only and is gone when their client reloads.
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::desk::CardView;
    use crate::domain::actions::{offered, CardAction};
    use crate::domain::{Priority, Status};

    fn card(status: Status, held: bool) -> CardView {
        let now = chrono::Utc::now();
        CardView {
            number: "TICK-2026-0001".into(),
            status,
            assignee: held.then(|| ("ana".into(), Some("U000000ANA".into()), None)),
            requester: "dana@customer.example".into(),
            subject: "Export".into(),
            preview: "Export fails".into(),
            message_count: 1,
            merged_into: (status == Status::Merged).then(|| "TICK-2026-0002".into()),
            priority: Priority::Medium,
            claimed_at: held.then_some(now),
            last_customer_at: Some(now),
            as_of: now,
            opened_at: now,
            sla: None,
            attachment_count: 0,
            bounced: false,
            tags: vec![],
            linked_to: None,
            department: "support".into(),
            attachments: Vec::new(),
        }
    }

    fn slack_buttons(c: &CardView) -> Vec<String> {
        let v = serde_json::to_value(super::slack::card_content(c)).expect("serialises");
        v["blocks"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|b| b["type"] == "actions")
            .flat_map(|b| b["elements"].as_array().cloned().unwrap_or_default())
            .map(|e| {
                assert_eq!(e["value"], c.number.as_str());
                e["action_id"].as_str().unwrap_or("").to_string()
            })
            .collect()
    }

    fn discord_buttons(c: &CardView) -> Vec<String> {
        let v = serde_json::to_value(super::discord::components(c)).expect("serialises");
        v.as_array()
            .into_iter()
            .flatten()
            .flat_map(|row| row["components"].as_array().cloned().unwrap_or_default())
            .map(|b| {
                let id = b["custom_id"].as_str().unwrap_or("");
                let (name, number) = id.split_once(':').unwrap_or((id, ""));
                assert_eq!(number, c.number);
                name.to_string()
            })
            .collect()
    }

    fn console_buttons(c: &CardView) -> Vec<String> {
        super::console::render(c, "Updated")
            .lines()
            .filter(|l| l.contains("→ type:"))
            .filter_map(|l| l.trim().strip_prefix('[')?.split_once(']'))
            .map(|(label, hint)| {
                let action = CardAction::ALL
                    .into_iter()
                    .find(|a| a.label() == label)
                    .expect("a known action");
                assert!(
                    hint.contains(&format!("type: {} {}", action.name(), c.number)),
                    "{hint}"
                );
                action.name().to_string()
            })
            .collect()
    }

    /// Every status × held or not × surface: the buttons drawn are the domain's `offered`.
    #[test]
    fn every_surface_draws_the_actions_the_domain_offers() {
        for status in Status::ALL {
            for held in [false, true] {
                let c = card(status, held);
                let want: Vec<String> = offered(status, held)
                    .into_iter()
                    .map(|a| a.name().to_string())
                    .collect();
                assert_eq!(slack_buttons(&c), want, "slack {status} held={held}");
                assert_eq!(discord_buttons(&c), want, "discord {status} held={held}");
                assert_eq!(console_buttons(&c), want, "console {status} held={held}");
            }
        }
    }

    /// Each card action is a catalogue command taking the ticket alone (or opening its form).
    #[test]
    fn every_card_action_is_a_catalogue_command() {
        for a in CardAction::ALL {
            let line = "TICK-2026-0001";
            if a.opens_form() {
                assert!(
                    super::catalogue::form_request(a.name(), line).is_some(),
                    "{a:?}"
                );
            } else {
                assert!(super::catalogue::parse(a.name(), line).is_ok(), "{a:?}");
            }
        }
    }

    #[test]
    fn only_harmless_kinds_are_uploaded_with_our_content_type() {
        for (name, want) in [
            ("report.pdf", Some("application/pdf")),
            ("Screen Shot.PNG", Some("image/png")),
            ("crash.log", Some("text/plain")),
            ("invoice.html", None),
            ("logo.svg", None),
            ("setup.exe", None),
            ("macro.docm", None),
            ("archive.tar.gz", None),
            ("noextension", None),
            ("pdf", None),
        ] {
            assert_eq!(upload_content_type(name), want, "{name}");
        }
    }

    #[test]
    fn hostile_file_names_are_made_safe() {
        let long = format!("{}.pdf", "a".repeat(300));
        let cases: &[(Option<&str>, &str)] = &[
            (Some("report.pdf"), "report.pdf"),
            (Some("../../etc/passwd"), "passwd"),
            (Some("C:\\Users\\x\\evil.exe"), "evil.exe"),
            (Some("a\u{0}b\r\nc\u{1b}[31m.txt"), "abc.txt"),
            (Some("invoice\u{202E}fdp.exe"), "invoicefdp.exe"),
            (Some("..."), "attachment-3"),
            (Some("  .hidden  "), "hidden"),
            (Some("a:b*c?.txt"), "a_b_c_.txt"),
            (Some("dir/"), "attachment-3"),
            (None, "attachment-3"),
        ];
        for (input, want) in cases {
            assert_eq!(upload_file_name(*input, 2), *want, "{input:?}");
        }
        let cut = upload_file_name(Some(&long), 0);
        assert_eq!(cut.chars().count(), UPLOAD_NAME_MAX);
        assert!(cut.ends_with(".pdf"), "{cut}");
    }
}
