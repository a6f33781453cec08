//! `[intake]` and `[[mailboxes]]`: which mailboxes are read over IMAP (RFC 3501), how they
//! are secured and authenticated, and how fetching is paced and batched.

use serde::{Deserialize, Serialize};

use super::{default_true, is_loopback_host};

/// Fetching settings shared by all mailboxes.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct IntakeSettings {
    /// Seconds between polls of each mailbox (where IDLE is not used). Default 5.
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
#[derive(Debug, Clone, Deserialize, Serialize)]
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
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
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
#[derive(Debug, Clone, Deserialize, Serialize)]
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
    /// Never sent to automatic messages; limited per sender by [`super::NoiseSettings`].
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

impl Serialize for ImapTls {
    /// As [`ImapTls::as_str`].
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
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
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, Default)]
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
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, Default)]
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
#[derive(Debug, Clone, Deserialize, Serialize)]
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

fn default_poll_secs() -> u64 {
    5
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

#[cfg(test)]
mod tests {
    use super::*;

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
