//! Settings: `config/default.toml` (or `--config FILE`), then `CLAIMDESK__SECTION__KEY`
//! environment overrides. Secrets never live in files: each secret setting names the
//! environment variable that holds it, and [`Settings::secret`] reads it.

use std::path::Path;

use secrecy::SecretString;
use serde::Deserialize;

use crate::domain::assignment::Mode as AssignmentMode;
use crate::domain::{ReopenPolicy, ReplyPolicy, Role};

/// The whole settings tree.
#[derive(Debug, Clone, Deserialize)]
pub struct Settings {
    /// Postgres connection.
    pub database: DatabaseSettings,
    /// Desk-wide behaviour.
    pub desk: DeskSettings,
    /// How mail is fetched.
    #[serde(default)]
    pub intake: IntakeSettings,
    /// The support mailboxes to read.
    #[serde(default)]
    pub mailboxes: Vec<MailboxSettings>,
    /// Outgoing mail.
    pub smtp: SmtpSettings,
    /// Slack, active when its bot token variable is set.
    #[serde(default)]
    pub slack: Option<SlackSettings>,
    /// Discord, active when its bot token variable is set.
    #[serde(default)]
    pub discord: Option<DiscordSettings>,
    /// The terminal surface used when neither Slack nor Discord is active.
    #[serde(default)]
    pub console: ConsoleSettings,
    /// HTTP endpoints.
    #[serde(default)]
    pub web: WebSettings,
    /// Outbox delivery.
    #[serde(default)]
    pub outbox: OutboxSettings,
    /// The team.
    #[serde(default)]
    pub agents: Vec<AgentSettings>,
    /// Departments; one called `support` when none are configured.
    #[serde(default = "default_departments")]
    pub departments: Vec<DepartmentSettings>,
    /// Mail-loop and noise limits.
    #[serde(default)]
    pub noise: NoiseSettings,
}

/// Limits that keep claimdesk out of mail loops (RFC 3834 §2: an automatic responder must
/// not answer too often).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
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

fn default_true() -> bool {
    true
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

/// Postgres connection settings.
#[derive(Debug, Clone, Deserialize)]
pub struct DatabaseSettings {
    /// The app's connection, `postgres://user@host:port/db`. Best as a role that owns
    /// nothing (e.g. `claimdesk_app`): it then gets `SELECT, INSERT, UPDATE, DELETE` on the
    /// tables and only `SELECT, INSERT` on `audit_events`. Without `migrate_url`, this
    /// connection also creates the database if missing and applies the migrations (and
    /// `claimdesk doctor` warns that the app can then rewrite its own audit trail).
    pub url: String,
    /// The connection that creates the database if missing and applies the migrations, as
    /// the role that owns the tables (e.g. `claimdesk_owner`). After migrating, it grants
    /// the role `url` logs in as what the app needs (`store::open`). Optional; see `url`.
    #[serde(default)]
    pub migrate_url: Option<String>,
    /// Pool size.
    #[serde(default = "default_max_connections")]
    pub max_connections: u32,
}

/// Desk-wide behaviour.
#[derive(Debug, Clone, Deserialize)]
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
    #[serde(default)]
    pub reopen_closed: ReopenPolicy,
    /// Who may email the customer of a ticket another agent holds: `holder` (default; others
    /// are told who holds it and how to take it over) or `anyone`. Admins always may.
    #[serde(default)]
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
#[derive(Debug, Clone, Deserialize, Default)]
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

/// A department: a team with its own queue and assignment mode. The list is fixed in config.
#[derive(Debug, Clone, Deserialize)]
pub struct DepartmentSettings {
    /// Unique name (`support`, `billing`).
    pub name: String,
    /// `claim` (people pick, default) or `auto`.
    #[serde(default)]
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

/// Fetching settings shared by all mailboxes.
#[derive(Debug, Clone, Deserialize)]
pub struct IntakeSettings {
    /// Seconds between polls of each mailbox.
    #[serde(default = "default_poll_secs")]
    pub poll_interval_secs: u64,
    /// UIDs per UID FETCH command, and messages stored per transaction (the cursor moves to
    /// the batch's last UID in that transaction); every run still fetches everything new.
    #[serde(default = "default_batch")]
    pub fetch_batch: u32,
    /// Push: wait in IMAP IDLE (RFC 2177) where the server's CAPABILITY lists it; `false`
    /// polls every `poll_interval_secs` even then.
    #[serde(default = "default_use_idle")]
    pub use_idle: bool,
    /// Seconds after which a waiting IDLE is ended (DONE) and re-issued; RFC 2177 §3 asks
    /// for less than 29 minutes (values above 1740 are treated as 1740).
    #[serde(default = "default_idle_renew_secs")]
    pub idle_renew_secs: u64,
    /// Longest wait, in seconds, between reconnection attempts after an error (the wait
    /// doubles from 1 s, with jitter, up to this).
    #[serde(default = "default_max_backoff_secs")]
    pub max_backoff_secs: u64,
    /// Largest message, in bytes (RFC822.SIZE), that is stored whole. A larger message still
    /// becomes a ticket from its first `max_message_bytes` bytes (headers and text as far as
    /// they reach); its attachments are not stored and a system note names them. Default
    /// 26214400 (25 MB).
    #[serde(default = "default_max_message_bytes")]
    pub max_message_bytes: u64,
    /// Largest batch, in bytes: the sum of its messages' RFC822.SIZE (each counted up to
    /// `max_message_bytes`, what is read of it) stays at or under this, besides the count
    /// limit `fetch_batch`; a single message over it is a batch of its own. Two batches are
    /// in memory at once (one storing, the next fetching). Default 33554432 (32 MiB).
    #[serde(default = "default_batch_max_bytes")]
    pub batch_max_bytes: u64,
    /// Where attachment contents are kept.
    #[serde(default)]
    pub attachments: AttachmentSettings,
    /// The authserv-id (RFC 8601 §2.5) our own receiving server writes into
    /// `Authentication-Results`. When set, a subject tag or plus-address is trusted only
    /// from a From that the topmost such field of ours says passed DMARC (`dmarc=pass`);
    /// on `fail`, on any other result and when no field of ours reports DMARC, the message
    /// threads only through its msg-ids (or opens its own ticket). Fields with any other
    /// authserv-id are ignored. Unset (default): the From is taken as written.
    #[serde(default)]
    pub trust_authentication_results: Option<String>,
}

/// Where attachment contents go (`[intake.attachments]`).
#[derive(Debug, Clone, Deserialize)]
pub struct AttachmentSettings {
    /// `database`: in `attachments.content` (bytea); `directory`: files under `dir` named by
    /// the SHA-256 of their content (so equal attachments are stored once).
    #[serde(default)]
    pub store: AttachmentStore,
    /// Directory for `store = "directory"`; created when missing. Default `attachments`.
    #[serde(default = "default_attachment_dir")]
    pub dir: std::path::PathBuf,
}

impl Default for AttachmentSettings {
    fn default() -> Self {
        Self {
            store: AttachmentStore::default(),
            dir: default_attachment_dir(),
        }
    }
}

/// Attachment storage mode.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AttachmentStore {
    /// Postgres bytea column.
    #[default]
    Database,
    /// Files named by SHA-256 in a directory.
    Directory,
}

impl Default for IntakeSettings {
    fn default() -> Self {
        Self {
            poll_interval_secs: default_poll_secs(),
            fetch_batch: default_batch(),
            use_idle: default_use_idle(),
            idle_renew_secs: default_idle_renew_secs(),
            max_backoff_secs: default_max_backoff_secs(),
            max_message_bytes: default_max_message_bytes(),
            batch_max_bytes: default_batch_max_bytes(),
            attachments: AttachmentSettings::default(),
            trust_authentication_results: None,
        }
    }
}

/// One support mailbox, read over IMAP (RFC 3501).
#[derive(Debug, Clone, Deserialize)]
pub struct MailboxSettings {
    /// Short name, unique; keys the UID cursor.
    pub name: String,
    /// The address customers write to; our replies come from it.
    pub address: String,
    /// IMAP server host.
    pub host: String,
    /// IMAP server port (143 plain or STARTTLS, 993 implicit TLS).
    pub port: u16,
    /// How the connection is secured: `"implicit"` (IMAPS, TLS from the first byte),
    /// `"starttls"` (RFC 3501 §6.2.1 / RFC 2595: plain TCP upgraded before authenticating) or
    /// `"none"`. The old booleans still read: `true` is `"implicit"`, `false` is `"none"`.
    /// Absent: see [`MailboxSettings::tls_mode`] (TLS for every non-loopback host).
    #[serde(default)]
    pub tls: Option<ImapTls>,
    /// Allow credentials in clear text (`tls = "none"`) to a host that is not loopback.
    /// Off by default: such a mailbox is refused before any connection is made.
    #[serde(default)]
    pub allow_plaintext: bool,
    /// A PEM file of extra CA certificates trusted for this mailbox's TLS, beside the
    /// built-in web PKI roots (a private CA, or a test's self-signed certificate).
    #[serde(default)]
    pub tls_ca_file: Option<std::path::PathBuf>,
    /// IMAP LOGIN user name.
    pub username: String,
    /// Name of the environment variable holding the password.
    #[serde(default = "default_imap_password_env")]
    pub password_env: String,
    /// Folder to read.
    #[serde(default = "default_folder")]
    pub folder: String,
    /// Department this mailbox feeds; the first department when absent.
    #[serde(default)]
    pub department: Option<String>,
    /// Whether a new ticket from this mailbox gets an acknowledgement email
    /// ("We received your request TICK-…", `Auto-Submitted: auto-replied`, RFC 3834 §5).
    /// Never sent to automatic messages; limited per sender by [`NoiseSettings`].
    #[serde(default = "default_true")]
    pub acknowledge: bool,
    /// How to authenticate: `login` (IMAP LOGIN, default), `plain` (AUTHENTICATE PLAIN,
    /// RFC 4616) or `xoauth2` (SASL XOAUTH2 with an OAuth2 access token, as Gmail and
    /// Microsoft 365 want; see [`OAuth2Settings`]).
    #[serde(default)]
    pub auth: ImapAuth,
    /// The OAuth2 client, required when `auth = "xoauth2"`.
    #[serde(default)]
    pub oauth2: Option<OAuth2Settings>,
    /// What to do to a message in the server's folder once its ticket is committed: `none`
    /// (default; the UID cursor alone tracks progress), `seen` (UID STORE +FLAGS (\Seen)) or
    /// `move` (UID MOVE to `move_to`, RFC 6851). Nothing is ever deleted.
    #[serde(default)]
    pub after_ingest: AfterIngest,
    /// Folder `after_ingest = "move"` moves to; created when missing.
    #[serde(default = "default_move_to")]
    pub move_to: String,
}

/// How an IMAP connection is secured (`tls` of a mailbox).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImapTls {
    /// TLS from the first byte (IMAPS, port 993; RFC 8314 §3.3).
    Implicit,
    /// Plain TCP, then `STARTTLS` after the greeting and before authenticating
    /// (RFC 3501 §6.2.1, RFC 2595 §3.1).
    Starttls,
    /// No TLS: loopback servers, or `allow_plaintext = true`.
    None,
}

impl ImapTls {
    /// The setting's spelling: `implicit`, `starttls` or `none`.
    pub fn as_str(self) -> &'static str {
        match self {
            ImapTls::Implicit => "implicit",
            ImapTls::Starttls => "starttls",
            ImapTls::None => "none",
        }
    }
}

impl<'de> Deserialize<'de> for ImapTls {
    /// `"implicit"`, `"starttls"`, `"none"` (any case), or the old booleans (`true` =
    /// implicit, `false` = none).
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = ImapTls;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("\"implicit\", \"starttls\", \"none\" or a boolean")
            }
            fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<ImapTls, E> {
                Ok(if v { ImapTls::Implicit } else { ImapTls::None })
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<ImapTls, E> {
                match v.trim().to_ascii_lowercase().as_str() {
                    "implicit" | "tls" | "true" => Ok(ImapTls::Implicit),
                    "starttls" => Ok(ImapTls::Starttls),
                    "none" | "false" => Ok(ImapTls::None),
                    _ => Err(E::invalid_value(serde::de::Unexpected::Str(v), &self)),
                }
            }
        }
        d.deserialize_any(V)
    }
}

/// Whether `host` is a loopback address: `localhost` (any case, with or without a final
/// dot), an IPv4 address in 127.0.0.0/8, or `::1` (also in brackets, or IPv4-mapped).
/// Names that merely resolve to loopback do not count: DNS is not trusted for this.
pub fn is_loopback_host(host: &str) -> bool {
    let h = host.trim();
    let h = h.strip_suffix('.').unwrap_or(h);
    if h.eq_ignore_ascii_case("localhost") {
        return true;
    }
    let h = h
        .strip_prefix('[')
        .and_then(|x| x.strip_suffix(']'))
        .unwrap_or(h);
    h.parse::<std::net::IpAddr>()
        .is_ok_and(|ip| ip.to_canonical().is_loopback())
}

/// Checks an OAuth2 token endpoint URL: `https`, or `http` to a loopback host (tests).
///
/// Errors: the URL does not parse, has no host, or uses another scheme (the text says why).
pub fn check_token_url(url: &str) -> Result<(), String> {
    let u = url::Url::parse(url).map_err(|e| format!("token_url is not a URL: {e}"))?;
    let host = u.host_str().unwrap_or("");
    match u.scheme() {
        "https" if !host.is_empty() => Ok(()),
        "http" if is_loopback_host(host) => Ok(()),
        "http" => Err(format!(
            "token_url must be https (http is allowed only to a loopback host, not `{host}`)"
        )),
        other => Err(format!("token_url must be https, not `{other}`")),
    }
}

impl MailboxSettings {
    /// The transport security in effect: `tls` when set; otherwise implicit TLS on port 993,
    /// none for a loopback host ([`is_loopback_host`]), and STARTTLS for every other host.
    pub fn tls_mode(&self) -> ImapTls {
        match self.tls {
            Some(t) => t,
            None if self.port == 993 => ImapTls::Implicit,
            None if is_loopback_host(&self.host) => ImapTls::None,
            None => ImapTls::Starttls,
        }
    }

    /// Refuses a mailbox that would send its credentials in clear text (no TLS) to a host
    /// that is not loopback, unless `allow_plaintext = true`. Checked before connecting.
    ///
    /// Errors: the reason, naming the mailbox and host (never a secret).
    pub fn check_transport(&self) -> Result<(), String> {
        if self.tls_mode() == ImapTls::None
            && !is_loopback_host(&self.host)
            && !self.allow_plaintext
        {
            return Err(format!(
                "mailbox `{}`: refusing to send credentials in clear text to {}:{} \
                 (set tls = \"starttls\" or \"implicit\", or allow_plaintext = true)",
                self.name, self.host, self.port
            ));
        }
        if let Some(o) = &self.oauth2 {
            check_token_url(&o.token_url).map_err(|e| format!("mailbox `{}`: {e}", self.name))?;
        }
        Ok(())
    }
}

/// IMAP authentication mechanism of a mailbox.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum ImapAuth {
    /// `LOGIN user password` (RFC 3501 §6.2.3).
    #[default]
    Login,
    /// `AUTHENTICATE PLAIN` (RFC 4616).
    Plain,
    /// `AUTHENTICATE XOAUTH2` with a bearer token from the OAuth2 refresh grant.
    Xoauth2,
}

impl ImapAuth {
    /// The name shown by `claimdesk doctor`: `LOGIN`, `PLAIN` or `XOAUTH2`.
    pub fn as_str(self) -> &'static str {
        match self {
            ImapAuth::Login => "LOGIN",
            ImapAuth::Plain => "PLAIN",
            ImapAuth::Xoauth2 => "XOAUTH2",
        }
    }
}

/// What happens to a message on the IMAP server after its ticket commit.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum AfterIngest {
    /// Leave it as it is.
    #[default]
    None,
    /// Set \Seen.
    Seen,
    /// Move it to `move_to`.
    Move,
}

/// An OAuth2 client for one mailbox (RFC 6749 §6 refresh grant).
#[derive(Debug, Clone, Deserialize)]
pub struct OAuth2Settings {
    /// Token endpoint URL, e.g. `https://oauth2.googleapis.com/token` or
    /// `https://login.microsoftonline.com/<tenant>/oauth2/v2.0/token`.
    pub token_url: String,
    /// Client id.
    pub client_id: String,
    /// Name of the environment variable holding the client secret; public clients leave it
    /// unset.
    #[serde(default = "default_oauth2_secret_env")]
    pub client_secret_env: String,
    /// Name of the environment variable holding the initial refresh token. Once the token
    /// endpoint rotates it, the new one is kept in the database and used instead.
    #[serde(default = "default_oauth2_refresh_env")]
    pub refresh_token_env: String,
    /// Space-separated scopes to ask for, if the provider needs them
    /// (`https://mail.google.com/`, `https://outlook.office365.com/IMAP.AccessAsUser.All offline_access`).
    #[serde(default)]
    pub scope: Option<String>,
}

/// How the SMTP connection is secured.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum SmtpSecurity {
    /// Plain TCP (loopback relays and tests only).
    None,
    /// STARTTLS upgrade, required.
    Starttls,
    /// Implicit TLS (port 465).
    Tls,
}

/// Outgoing mail server.
#[derive(Debug, Clone, Deserialize)]
pub struct SmtpSettings {
    /// Host name.
    pub host: String,
    /// Port.
    pub port: u16,
    /// Transport security.
    #[serde(default = "default_smtp_security")]
    pub security: SmtpSecurity,
    /// AUTH user, if the server needs one.
    #[serde(default)]
    pub username: Option<String>,
    /// Name of the environment variable holding the password.
    #[serde(default = "default_smtp_password_env")]
    pub password_env: String,
    /// Display name on our replies (`Acme Support`).
    #[serde(default = "default_from_name")]
    pub from_name: String,
    /// Allow AUTH in clear text (`security = "none"` with a `username`) to a host that is
    /// not loopback. Off by default: such settings are refused before any connection.
    #[serde(default)]
    pub allow_plaintext: bool,
    /// A PEM file of extra CA certificates trusted for the SMTP server's TLS, beside the
    /// built-in web PKI roots.
    #[serde(default)]
    pub tls_ca_file: Option<std::path::PathBuf>,
}

impl SmtpSettings {
    /// Refuses settings that would send the SMTP credentials in clear text (`security =
    /// "none"` with a `username`) to a host that is not loopback, unless `allow_plaintext`.
    ///
    /// Errors: the reason, naming the host (never the password).
    pub fn check_transport(&self) -> Result<(), String> {
        if self.security == SmtpSecurity::None
            && self.username.is_some()
            && !is_loopback_host(&self.host)
            && !self.allow_plaintext
        {
            return Err(format!(
                "smtp: refusing to send credentials in clear text to {}:{} \
                 (set security = \"starttls\" or \"tls\", or allow_plaintext = true)",
                self.host, self.port
            ));
        }
        Ok(())
    }
}

/// Slack workspace settings.
#[derive(Debug, Clone, Deserialize)]
pub struct SlackSettings {
    /// Channel ID the cards go to (`C0123ABCD`).
    pub channel: String,
    /// Web API base; only tests change it.
    #[serde(default = "default_slack_api")]
    pub api_url: String,
    /// Variable holding the bot token (`xoxb-…`).
    #[serde(default = "default_slack_token_env")]
    pub bot_token_env: String,
    /// Variable holding the signing secret.
    #[serde(default = "default_slack_secret_env")]
    pub signing_secret_env: String,
    /// How Slack reaches claimdesk: `http` (Request URLs `/slack/*`, the default) or `socket`
    /// (Socket Mode: claimdesk opens a WebSocket to Slack, no public URL needed;
    /// <https://api.slack.com/apis/socket-mode>).
    #[serde(default)]
    pub mode: SlackMode,
    /// Variable holding the app-level token (`xapp-…`, scope `connections:write`) Socket Mode
    /// connects with; only read when `mode = "socket"`.
    #[serde(default = "default_slack_app_token_env")]
    pub app_token_env: String,
    /// The workspace (`T…`) requests must come from; others are refused. Unchecked when
    /// absent. Read from `team_id` of commands and events, `team.id` of interactions.
    #[serde(default)]
    pub team_id: Option<String>,
    /// The Slack app (`A…`) requests must be for; others are refused. Unchecked when absent.
    /// Read from `api_app_id` of commands, events and interactions.
    #[serde(default)]
    pub api_app_id: Option<String>,
    /// Largest email attachment uploaded into a card's thread, bytes (larger ones are only
    /// listed on the card); 0 turns uploads off. Default 8 MiB.
    #[serde(default = "default_upload_max_bytes")]
    pub upload_max_bytes: u64,
}

/// How Slack delivers slash commands, interactions and events to claimdesk.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SlackMode {
    /// Slack POSTs to `/slack/commands`, `/slack/interactions`, `/slack/events` (signed).
    #[default]
    Http,
    /// Socket Mode: `apps.connections.open`, then envelopes over a WebSocket, acked on it.
    Socket,
}

/// Discord application settings.
#[derive(Debug, Clone, Deserialize)]
pub struct DiscordSettings {
    /// Channel ID (snowflake) the cards go to.
    pub channel_id: String,
    /// HTTP proxy all API calls go through; only tests set it.
    #[serde(default)]
    pub api_proxy: Option<String>,
    /// Variable holding the bot token.
    #[serde(default = "default_discord_token_env")]
    pub bot_token_env: String,
    /// Variable holding the application's Ed25519 public key (hex).
    #[serde(default = "default_discord_key_env")]
    pub public_key_env: String,
    /// Application ID (snowflake): needed to register the slash commands on start and to
    /// edit a deferred answer (`PATCH /webhooks/{application_id}/{token}/messages/@original`).
    #[serde(default)]
    pub application_id: Option<String>,
    /// Guild (server) the slash commands are registered in, which takes effect at once;
    /// without it they are registered globally (`PUT /applications/{id}/commands`).
    #[serde(default)]
    pub guild_id: Option<String>,
    /// Register (bulk-overwrite) the slash commands on start; needs `application_id`.
    #[serde(default = "default_true")]
    pub register_commands: bool,
    /// How interactions arrive: `http` (Discord POSTs to `/discord/interactions`, needs a
    /// public URL and the public key) or `gateway` (claimdesk holds a gateway WebSocket).
    #[serde(default)]
    pub mode: DiscordMode,
    /// Largest email attachment uploaded into a card's thread, bytes (larger ones are only
    /// listed on the card); 0 turns uploads off. Default 8 MiB.
    #[serde(default = "default_upload_max_bytes")]
    pub upload_max_bytes: u64,
}

/// How Discord interactions reach claimdesk.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DiscordMode {
    /// The HTTP interactions endpoint, verified with the application's public key.
    #[default]
    Http,
    /// The gateway WebSocket; answers go to `POST /interactions/{id}/{token}/callback`.
    Gateway,
}

/// The terminal surface.
#[derive(Debug, Clone, Deserialize, Default)]
pub struct ConsoleSettings {
    /// Handle of the agent the console acts as; the first admin when absent.
    #[serde(default)]
    pub agent: Option<String>,
}

/// HTTP server.
#[derive(Debug, Clone, Deserialize)]
pub struct WebSettings {
    /// Listen address, `127.0.0.1:8080`; port 0 picks a free one.
    #[serde(default = "default_bind")]
    pub bind: String,
    /// Name of the environment variable holding the admin bearer token. When it is set (and
    /// not empty), `/metrics` and `/healthz/details` are served to requests carrying
    /// `Authorization: Bearer <token>` (RFC 6750 §2.1), compared in constant time; others
    /// get 401. Unset and no `admin_bind`: those two routes answer 404.
    #[serde(default = "default_admin_token_env")]
    pub admin_token_env: String,
    /// A second listen address (e.g. `127.0.0.1:9090`, reachable only by operators) serving
    /// `/healthz`, `/healthz/details` and `/metrics` — without a token unless
    /// `admin_token_env` is set, then with it. No chat routes there.
    #[serde(default)]
    pub admin_bind: Option<String>,
}

impl Default for WebSettings {
    fn default() -> Self {
        Self {
            bind: default_bind(),
            admin_token_env: default_admin_token_env(),
            admin_bind: None,
        }
    }
}

/// Outbox delivery.
#[derive(Debug, Clone, Deserialize)]
pub struct OutboxSettings {
    /// First retry delay, seconds; doubles per attempt.
    #[serde(default = "default_retry_base")]
    pub retry_base_secs: u64,
    /// Longest retry delay, seconds.
    #[serde(default = "default_retry_max")]
    pub retry_max_secs: u64,
    /// Longest wait for one platform or SMTP call before it counts as failed, seconds.
    #[serde(default = "default_call_timeout")]
    pub call_timeout_secs: u64,
}

impl Default for OutboxSettings {
    fn default() -> Self {
        Self {
            retry_base_secs: default_retry_base(),
            retry_max_secs: default_retry_max(),
            call_timeout_secs: default_call_timeout(),
        }
    }
}

/// One team member.
#[derive(Debug, Clone, Deserialize)]
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

/// Settings that cannot be loaded.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// The file or an override could not be read or parsed.
    #[error("cannot load settings: {0}")]
    Load(#[from] config::ConfigError),
    /// A value is present but wrong.
    #[error("invalid settings: {0}")]
    Invalid(String),
}

impl Settings {
    /// Reads `path` (TOML), then applies `CLAIMDESK__SECTION__KEY=value` environment overrides
    /// (e.g. `CLAIMDESK__DATABASE__URL`), then validates.
    pub fn load(path: &Path) -> Result<Settings, SettingsError> {
        let settings: Settings = config::Config::builder()
            .add_source(config::File::from(path).format(config::FileFormat::Toml))
            .add_source(
                config::Environment::with_prefix("CLAIMDESK")
                    .prefix_separator("__")
                    .separator("__")
                    .try_parsing(true),
            )
            .build()?
            .try_deserialize()?;
        settings.validate()?;
        Ok(settings)
    }

    /// Checks what serde cannot: unique names, a known console agent, a usable prefix.
    pub fn validate(&self) -> Result<(), SettingsError> {
        let bad = |m: String| Err(SettingsError::Invalid(m));
        if crate::domain::TicketNumber::new(&self.desk.ticket_prefix, 2000, 1).is_err() {
            return bad(format!(
                "desk.ticket_prefix `{}` must be 1-16 ASCII letters",
                self.desk.ticket_prefix
            ));
        }
        if let Some(id) = &self.intake.trust_authentication_results {
            if id.trim().is_empty() || id.contains(char::is_whitespace) || id.contains(';') {
                return bad(format!(
                    "intake.trust_authentication_results `{id}` must be the authserv-id (a host name such as mx.example.com) your receiving server writes into Authentication-Results"
                ));
            }
        }
        let mut names = std::collections::HashSet::new();
        for m in &self.mailboxes {
            if !names.insert(m.name.as_str()) {
                return bad(format!("mailbox name `{}` is used twice", m.name));
            }
        }
        let mut handles = std::collections::HashSet::new();
        for a in &self.agents {
            if !handles.insert(a.handle.as_str()) {
                return bad(format!("agent handle `{}` is used twice", a.handle));
            }
        }
        let mut departments = std::collections::HashSet::new();
        for d in &self.departments {
            if !departments.insert(d.name.as_str()) {
                return bad(format!("department `{}` is listed twice", d.name));
            }
        }
        if departments.is_empty() {
            return bad("at least one department is needed".into());
        }
        for m in &self.mailboxes {
            m.check_transport().map_err(SettingsError::Invalid)?;
            if m.auth == ImapAuth::Xoauth2 && m.oauth2.is_none() {
                return bad(format!(
                    "mailbox `{}` has auth = \"xoauth2\" but no [mailboxes.oauth2] section",
                    m.name
                ));
            }
            if m.after_ingest == AfterIngest::Move
                && (m.move_to.trim().is_empty() || m.move_to.eq_ignore_ascii_case(&m.folder))
            {
                return bad(format!(
                    "mailbox `{}`: move_to must name a folder other than `{}`",
                    m.name, m.folder
                ));
            }
            if let Some(d) = &m.department {
                if !departments.contains(d.as_str()) {
                    return bad(format!(
                        "mailbox `{}` feeds unknown department `{d}`",
                        m.name
                    ));
                }
            }
        }
        for a in &self.agents {
            for d in &a.departments {
                if !departments.contains(d.as_str()) {
                    return bad(format!(
                        "agent `{}` is in unknown department `{d}`",
                        a.handle
                    ));
                }
            }
        }
        self.smtp
            .check_transport()
            .map_err(SettingsError::Invalid)?;
        if let Some(h) = &self.console.agent {
            if !handles.contains(h.as_str()) {
                return bad(format!("console.agent `{h}` is not a configured agent"));
            }
        }
        Ok(())
    }

    /// The department mailbox `name` feeds.
    pub fn department_of_mailbox(&self, name: &str) -> String {
        self.mailboxes
            .iter()
            .find(|m| m.name == name)
            .and_then(|m| m.department.clone())
            .or_else(|| self.departments.first().map(|d| d.name.clone()))
            .unwrap_or_else(|| "support".into())
    }

    /// The Message-ID signing key from the variable `desk.message_id_key_env` names; `None`
    /// when unset or empty (a random 32-byte key is then made and kept in the database).
    ///
    /// Errors: the value is shorter than [`MIN_MESSAGE_ID_KEY_BYTES`] bytes (HMAC-SHA256
    /// keys should be at least the hash's 32 bytes, RFC 2104 §3); the message names the
    /// variable and the length, never the value.
    pub fn message_id_key(&self) -> Result<Option<SecretString>, SettingsError> {
        use secrecy::ExposeSecret;
        let var = &self.desk.message_id_key_env;
        match Settings::secret(var) {
            Some(k) if k.expose_secret().len() < MIN_MESSAGE_ID_KEY_BYTES => {
                Err(SettingsError::Invalid(format!(
                    "{var} holds {} bytes; the Message-ID signing key must be at least \
                     {MIN_MESSAGE_ID_KEY_BYTES} bytes (e.g. `openssl rand -hex 32`), or unset \
                     to have one generated",
                    k.expose_secret().len()
                )))
            }
            other => Ok(other),
        }
    }

    /// Reads the secret held in environment variable `var`; `None` when unset or empty.
    /// The value is never logged.
    pub fn secret(var: &str) -> Option<SecretString> {
        std::env::var(var)
            .ok()
            .filter(|v| !v.is_empty())
            .map(SecretString::from)
    }
}

fn default_upload_max_bytes() -> u64 {
    crate::chat::DEFAULT_UPLOAD_MAX_BYTES
}
fn default_departments() -> Vec<DepartmentSettings> {
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
fn default_max_connections() -> u32 {
    10
}
fn default_prefix() -> String {
    "TICK".into()
}
fn default_preview_chars() -> usize {
    400
}
fn default_poll_secs() -> u64 {
    10
}
fn default_batch() -> u32 {
    500
}
fn default_use_idle() -> bool {
    true
}
fn default_idle_renew_secs() -> u64 {
    1500
}
fn default_max_backoff_secs() -> u64 {
    60
}
fn default_max_message_bytes() -> u64 {
    26_214_400
}
fn default_batch_max_bytes() -> u64 {
    32 * 1024 * 1024
}
fn default_attachment_dir() -> std::path::PathBuf {
    "attachments".into()
}
fn default_imap_password_env() -> String {
    "CLAIMDESK_IMAP_PASSWORD".into()
}
fn default_message_id_key_env() -> String {
    "CLAIMDESK_MESSAGE_ID_KEY".into()
}
fn default_move_to() -> String {
    "Processed".into()
}
fn default_oauth2_secret_env() -> String {
    "CLAIMDESK_OAUTH2_CLIENT_SECRET".into()
}
fn default_oauth2_refresh_env() -> String {
    "CLAIMDESK_OAUTH2_REFRESH_TOKEN".into()
}
fn default_folder() -> String {
    "INBOX".into()
}
fn default_smtp_security() -> SmtpSecurity {
    SmtpSecurity::Starttls
}
fn default_smtp_password_env() -> String {
    "CLAIMDESK_SMTP_PASSWORD".into()
}
fn default_from_name() -> String {
    "Support".into()
}
fn default_slack_api() -> String {
    "https://slack.com/api".into()
}
fn default_slack_token_env() -> String {
    "SLACK_BOT_TOKEN".into()
}
fn default_slack_secret_env() -> String {
    "SLACK_SIGNING_SECRET".into()
}

fn default_slack_app_token_env() -> String {
    "SLACK_APP_TOKEN".into()
}
fn default_discord_token_env() -> String {
    "DISCORD_BOT_TOKEN".into()
}
fn default_discord_key_env() -> String {
    "DISCORD_PUBLIC_KEY".into()
}
fn default_admin_token_env() -> String {
    "CLAIMDESK_ADMIN_TOKEN".into()
}
fn default_bind() -> String {
    "127.0.0.1:8080".into()
}
fn default_call_timeout() -> u64 {
    30
}
fn default_retry_base() -> u64 {
    2
}
fn default_retry_max() -> u64 {
    300
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_is_127_8_ipv6_one_and_localhost_only() {
        for h in [
            "127.0.0.1",
            "127.255.0.9",
            "::1",
            "[::1]",
            "::ffff:127.0.0.1",
            "localhost",
            "LocalHost.",
        ] {
            assert!(is_loopback_host(h), "{h}");
        }
        for h in [
            "192.0.2.1",
            "10.0.0.1",
            "128.0.0.1",
            "::2",
            "localhost.example.com",
            "imap.example.com",
            "",
            "0.0.0.0",
        ] {
            assert!(!is_loopback_host(h), "{h}");
        }
    }

    #[test]
    fn token_url_must_be_https_or_loopback_http() {
        assert!(check_token_url("https://oauth2.googleapis.com/token").is_ok());
        assert!(check_token_url("http://127.0.0.1:8080/token").is_ok());
        assert!(check_token_url("http://localhost/token").is_ok());
        assert!(check_token_url("http://oauth2.example.com/token").is_err());
        assert!(check_token_url("http://192.0.2.1/token").is_err());
        assert!(check_token_url("ftp://example.com/token").is_err());
        assert!(check_token_url("not a url").is_err());
    }

    #[derive(Deserialize)]
    struct Tls {
        tls: Option<ImapTls>,
    }

    fn tls_of(toml: &str) -> Result<Option<ImapTls>, config::ConfigError> {
        config::Config::builder()
            .add_source(config::File::from_str(toml, config::FileFormat::Toml))
            .build()?
            .try_deserialize::<Tls>()
            .map(|t| t.tls)
    }

    #[test]
    fn tls_reads_words_and_the_old_booleans() {
        assert_eq!(
            tls_of("tls = \"starttls\"").ok(),
            Some(Some(ImapTls::Starttls))
        );
        assert_eq!(
            tls_of("tls = \"implicit\"").ok(),
            Some(Some(ImapTls::Implicit))
        );
        assert_eq!(tls_of("tls = \"none\"").ok(), Some(Some(ImapTls::None)));
        assert_eq!(tls_of("tls = true").ok(), Some(Some(ImapTls::Implicit)));
        assert_eq!(tls_of("tls = false").ok(), Some(Some(ImapTls::None)));
        assert_eq!(tls_of("").ok(), Some(None));
        assert!(tls_of("tls = \"sometimes\"").is_err());
    }
}
