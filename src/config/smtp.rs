//! `[smtp]`: the outgoing mail server our replies and acknowledgements go through.

use serde::{Deserialize, Serialize};

use super::is_loopback_host;

/// How the SMTP connection is secured.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
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
#[derive(Debug, Clone, Deserialize, Serialize)]
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

fn default_smtp_security() -> SmtpSecurity {
    SmtpSecurity::Starttls
}
fn default_smtp_password_env() -> String {
    "CLAIMDESK_SMTP_PASSWORD".into()
}
fn default_from_name() -> String {
    "Support".into()
}
