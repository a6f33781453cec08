//! `[desk]`, `[[departments]]`, `[[agents]]` and `[noise]`: the team, its queues and the
//! desk-wide rules (reopening, replies to held tickets, auto-release, mail-loop limits).

use serde::{Deserialize, Serialize};

use crate::domain::assignment::Mode as AssignmentMode;
use crate::domain::{ReopenPolicy, ReplyPolicy, Role};

/// Desk-wide behaviour.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct DeskSettings {
    /// Ticket number prefix: `TICK` gives `TICK-2026-0001`.
    #[serde(default = "default_prefix")]
    pub ticket_prefix: String,
    /// Domain of the Message-IDs we generate for outgoing mail (RFC 5322 §3.6.4 id-right).
    pub message_id_domain: String,
    /// Name of the environment variable holding the key that signs our outgoing Message-IDs
    /// (HMAC-SHA256, see `domain::threading::outgoing_msg_id`; 32+ random bytes recommended).
    /// When the variable is unset or empty, a random 32-byte key is generated once and kept
    /// in the database (`desk_secrets`), so ids stay verifiable across restarts. Never logged.
    #[serde(default = "default_message_id_key_env")]
    pub message_id_key_env: String,
    /// Characters of the first message shown on a card.
    #[serde(default = "default_preview_chars")]
    pub preview_chars: usize,
    /// Who may reopen a closed ticket: `nobody`, `admins` (default) or `members`.
    #[serde(default, serialize_with = "reopen_word")]
    pub reopen_closed: ReopenPolicy,
    /// Who may email the customer of a ticket another agent holds: `holder` (default; others
    /// are told who holds it and how to take it over) or `anyone`. Admins always may.
    #[serde(default, serialize_with = "reply_word")]
    pub reply_to_held_tickets: ReplyPolicy,
    /// Whether a requester can close their own ticket by email (a message whose subject or
    /// first line is `close`/`#close`). Off by default.
    #[serde(default)]
    pub requester_may_close: bool,
    /// Whether admins and owners are eligible for auto-assignment in every department.
    #[serde(default)]
    pub admins_eligible_everywhere: bool,
    /// Whether `waiting` tickets count towards an agent's load.
    #[serde(default)]
    pub count_waiting_as_load: bool,
    /// Release of claims nobody works on (off by default).
    #[serde(default)]
    pub auto_release: AutoReleaseSettings,
}

/// Warn, then release, a claim without an outgoing reply (the claim time counts as activity).
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct AutoReleaseSettings {
    /// On or off.
    #[serde(default)]
    pub enabled: bool,
    /// Hours without an outgoing reply before the holder is warned in the thread.
    #[serde(default = "default_warn_hours")]
    pub warn_after_hours: f64,
    /// Further hours after the warning before the claim is released.
    #[serde(default = "default_release_hours")]
    pub release_after_hours: f64,
}

impl Default for AutoReleaseSettings {
    /// Off, 24 h to the warning, 8 h more to the release: the same as an empty
    /// `[desk.auto_release]` section.
    fn default() -> Self {
        Self {
            enabled: false,
            warn_after_hours: default_warn_hours(),
            release_after_hours: default_release_hours(),
        }
    }
}

/// A department: a team with its own queue and assignment mode. The list is fixed in config.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct DepartmentSettings {
    /// Unique name (`support`, `billing`).
    pub name: String,
    /// `claim` (people pick, default) or `auto`.
    #[serde(default, serialize_with = "assignment_word")]
    pub assignment: AssignmentMode,
    /// Slack channel ID (`C0123ABCD`) this department's cards, admin pings and loop notices
    /// go to; `slack.channel` when absent. Thread posts and card edits follow the card.
    #[serde(default)]
    pub slack_channel: Option<String>,
    /// Discord channel ID (a snowflake, checked on start) this department's cards, admin
    /// pings and loop notices go to; `discord.channel_id` when absent.
    #[serde(default)]
    pub discord_channel: Option<String>,
}

/// One team member.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct AgentSettings {
    /// Unique short handle (`ana`), shown as `@ana`.
    pub handle: String,
    /// Display name.
    pub name: String,
    /// Email address.
    pub email: String,
    /// Role on the desk.
    pub role: Role,
    /// Slack user ID (`U0123`), if they use Slack.
    #[serde(default)]
    pub slack_user_id: Option<String>,
    /// Discord user ID (snowflake), if they use Discord.
    #[serde(default)]
    pub discord_user_id: Option<String>,
    /// Departments they work in; every department when empty.
    #[serde(default)]
    pub departments: Vec<String>,
    /// Most tickets auto-assignment gives them at once; no cap when absent.
    #[serde(default)]
    pub capacity: Option<u32>,
}

/// Shortest Message-ID signing key accepted, bytes (`desk.message_id_key_env`).
pub const MIN_MESSAGE_ID_KEY_BYTES: usize = 32;

/// Limits that keep claimdesk out of mail loops (RFC 3834 §2: an automatic responder must
/// not answer too often).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
pub struct NoiseSettings {
    /// Most acknowledgements one sender address gets per rolling hour.
    #[serde(default = "default_acks_per_hour")]
    pub acks_per_sender_per_hour: u32,
    /// Most acknowledgements sent to anyone per rolling hour (default 200), so that many
    /// forged senders cannot turn the desk into a relay. Past it, new tickets are still
    /// created and carded, just not acknowledged; the first skip in an hour is logged and
    /// audited (`acknowledgement.capped`). `0` sends none.
    #[serde(default = "default_max_acks_per_hour")]
    pub max_acks_per_hour: u32,
    /// A sender who opens more than this many tickets within `loop_window_minutes` is flagged
    /// as a suspected mail loop (a notice in the department's channel, once per window) and
    /// gets no more acknowledgements.
    #[serde(default = "default_loop_tickets")]
    pub loop_tickets: u32,
    /// The loop detection window, minutes.
    #[serde(default = "default_loop_window")]
    pub loop_window_minutes: u32,
}

impl Default for NoiseSettings {
    fn default() -> Self {
        Self {
            acks_per_sender_per_hour: default_acks_per_hour(),
            max_acks_per_hour: default_max_acks_per_hour(),
            loop_tickets: default_loop_tickets(),
            loop_window_minutes: default_loop_window(),
        }
    }
}

pub(super) fn default_departments() -> Vec<DepartmentSettings> {
    vec![DepartmentSettings {
        name: "support".into(),
        assignment: AssignmentMode::Claim,
        slack_channel: None,
        discord_channel: None,
    }]
}
fn default_warn_hours() -> f64 {
    24.0
}
fn default_release_hours() -> f64 {
    8.0
}

fn default_prefix() -> String {
    "TICK".into()
}
fn default_preview_chars() -> usize {
    400
}

fn default_message_id_key_env() -> String {
    "CLAIMDESK_MESSAGE_ID_KEY".into()
}

fn default_acks_per_hour() -> u32 {
    3
}
fn default_max_acks_per_hour() -> u32 {
    200
}
fn default_loop_tickets() -> u32 {
    5
}
fn default_loop_window() -> u32 {
    10
}

// The domain's policy enums only deserialize; the settings write them back with the words
// the file uses (`config check`).

fn reopen_word<S: serde::Serializer>(p: &ReopenPolicy, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(match p {
        ReopenPolicy::Nobody => "nobody",
        ReopenPolicy::Admins => "admins",
        ReopenPolicy::Members => "members",
    })
}

fn reply_word<S: serde::Serializer>(p: &ReplyPolicy, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(match p {
        ReplyPolicy::Holder => "holder",
        ReplyPolicy::Anyone => "anyone",
    })
}

fn assignment_word<S: serde::Serializer>(m: &AssignmentMode, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(match m {
        AssignmentMode::Claim => "claim",
        AssignmentMode::Auto => "auto",
    })
}
