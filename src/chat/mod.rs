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

#[cfg(test)]
mod tests {
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
            attachment_count: 0,
            bounced: false,
            linked_to: None,
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
}
