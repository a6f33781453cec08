//! Settings: `config/default.toml` (or `--config FILE`), then `CLAIMDESK__SECTION__KEY`
//! environment overrides. Secrets never live in files: each secret setting names the
//! environment variable that holds it, and [`Settings::secret`] reads it.

mod console;
mod database;
mod desk;
mod discord;
mod imap;
mod log;
mod notify;
mod outbox;
mod replicas;
pub mod report;
mod reports;
mod sla;
mod slack;
mod smtp;
mod tags;
mod templates;
mod web;

pub use console::ConsoleSettings;
pub use database::DatabaseSettings;
pub use desk::{
    AgentSettings, AutoReleaseSettings, DepartmentSettings, DeskSettings, NoiseSettings,
    MIN_MESSAGE_ID_KEY_BYTES,
};
pub use discord::{DiscordMode, DiscordSettings};
pub use imap::{
    check_token_url, AfterIngest, AttachmentSettings, AttachmentStore, ImapAuth, ImapTls,
    IntakeSettings, MailboxSettings, OAuth2Settings,
};
pub use log::LogSettings;
pub use notify::NotifySettings;
pub use outbox::OutboxSettings;
pub use replicas::{ReplicaSettings, LEASE_RETRY_SECS_MAX};
pub use reports::{DigestTime, ReportsSettings};
pub use sla::{parse_day, parse_duration, Escalation, SlaSettings};
pub use slack::{SlackMode, SlackSettings};
pub use smtp::{SmtpSecurity, SmtpSettings};
pub use tags::TagSettings;
pub use templates::TemplateSettings;
pub use web::WebSettings;

use std::path::Path;

use secrecy::SecretString;
use serde::{Deserialize, Serialize};

/// The whole settings tree.
#[derive(Debug, Clone, Deserialize, Serialize)]
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
    #[serde(default = "desk::default_departments")]
    pub departments: Vec<DepartmentSettings>,
    /// Mail-loop and noise limits.
    #[serde(default)]
    pub noise: NoiseSettings,
    /// Where log lines go.
    #[serde(default)]
    pub log: LogSettings,
    /// SLA clocks, alerts and working hours (off by default).
    #[serde(default)]
    pub sla: SlaSettings,
    /// The weekly digest and where console charts go.
    #[serde(default)]
    pub reports: ReportsSettings,
    /// Personal notifications (direct messages to agents).
    #[serde(default)]
    pub notify: NotifySettings,
    /// Canned replies from the file (read-only; `template add` adds more from chat).
    #[serde(default)]
    pub templates: Vec<TemplateSettings>,
    /// Tags: the allowed list, the limit per ticket, the intake rules.
    #[serde(default)]
    pub tags: TagSettings,
    /// Several `serve` processes on one database: this replica's name, lease retry.
    #[serde(default)]
    pub replicas: ReplicaSettings,
}

fn default_true() -> bool {
    true
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
        self.reports.digest_time().map_err(SettingsError::Invalid)?;
        templates::check(&self.templates).map_err(SettingsError::Invalid)?;
        self.notify.check().map_err(SettingsError::Invalid)?;
        self.replicas.check().map_err(SettingsError::Invalid)?;
        self.reports.zone().map_err(SettingsError::Invalid)?;
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
        let department_names: Vec<&str> =
            self.departments.iter().map(|d| d.name.as_str()).collect();
        self.sla
            .check_departments(&department_names)
            .map_err(SettingsError::Invalid)?;
        let mailbox_names: Vec<&str> = self.mailboxes.iter().map(|m| m.name.as_str()).collect();
        self.tags
            .check_names(&department_names, &mailbox_names)
            .map_err(SettingsError::Invalid)?;
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

/// Default of `slack.upload_max_bytes` and `discord.upload_max_bytes`.
fn default_upload_max_bytes() -> u64 {
    crate::chat::DEFAULT_UPLOAD_MAX_BYTES
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

    /// Settings from TOML text alone: no environment overrides, no validation.
    fn parse(text: &str) -> Settings {
        config::Config::builder()
            .add_source(config::File::from_str(text, config::FileFormat::Toml))
            .build()
            .and_then(|c| c.try_deserialize())
            .expect("settings parse")
    }

    /// The paths (`section.key`, `list[0].key`) at which `a` and `b` differ.
    fn differences(a: &serde_json::Value, b: &serde_json::Value, path: &str) -> Vec<String> {
        use serde_json::Value;
        let at = |k: &str| {
            if path.is_empty() {
                k.to_string()
            } else {
                format!("{path}.{k}")
            }
        };
        match (a, b) {
            (Value::Object(x), Value::Object(y)) => {
                let mut keys: Vec<&String> = x.keys().chain(y.keys()).collect();
                keys.sort();
                keys.dedup();
                keys.into_iter()
                    .flat_map(|k| {
                        let none = Value::Null;
                        differences(x.get(k).unwrap_or(&none), y.get(k).unwrap_or(&none), &at(k))
                    })
                    .collect()
            }
            (Value::Array(x), Value::Array(y)) if x.len() == y.len() => x
                .iter()
                .zip(y)
                .enumerate()
                .flat_map(|(i, (p, q))| differences(p, q, &format!("{path}[{i}]")))
                .collect(),
            _ if a == b => vec![],
            _ => vec![path.to_string()],
        }
    }

    /// `config/default.toml` with only what has no default: the same required values.
    const REQUIRED_ONLY: &str = r#"
        [database]
        url = "postgres://postgres@127.0.0.1:5432/claimdesk"
        [desk]
        message_id_domain = "claimdesk.local"
        [[mailboxes]]
        name = "support"
        address = "support@claimdesk.local"
        host = "127.0.0.1"
        port = 10143
        username = "support"
        [smtp]
        host = "127.0.0.1"
        port = 2525
        [slack]
        channel = "C0000SUPPORT"
        [discord]
        channel_id = "100000000000000001"
    "#;

    /// What a local run (scripts/run-local.sh) sets differently from the code's defaults, on
    /// purpose; every other value in `config/default.toml` must equal the default.
    const LOCAL_RUN_CHANGES: &[&str] = &[
        // The team of the sample run: ana (admin) and ben.
        "agents",
        // The console acts as ana (the first admin would be chosen anyway).
        "console.agent",
        "smtp.from_name",
        // The local SMTP sink speaks neither STARTTLS nor TLS.
        "smtp.security",
    ];

    #[test]
    fn default_toml_differs_from_the_code_defaults_only_where_a_local_run_needs_to() {
        let shipped = parse(include_str!("../../config/default.toml"));
        let defaults = parse(REQUIRED_ONLY);
        let shipped = serde_json::to_value(&shipped).expect("to json");
        let defaults = serde_json::to_value(&defaults).expect("to json");
        assert_eq!(differences(&shipped, &defaults, ""), LOCAL_RUN_CHANGES);
    }

    #[test]
    fn notify_fold_secs_is_bounded_naming_the_key() {
        for (secs, ok) in [
            (0u64, true),
            (120, true),
            (3600, true),
            (3601, false),
            (i64::MAX as u64, false),
        ] {
            let s = parse(&format!("{REQUIRED_ONLY}\n[notify]\nfold_secs = {secs}\n"));
            match s.validate() {
                Ok(()) => assert!(ok, "{secs} accepted"),
                Err(e) => {
                    assert!(!ok, "{secs}: {e}");
                    assert!(e.to_string().contains("notify.fold_secs"), "{e}");
                }
            }
        }
    }

    #[test]
    fn sla_policies_naming_an_unknown_department_are_refused() {
        let ok = parse(&format!(
            "{REQUIRED_ONLY}\n[sla]\nenabled = true\n[[sla.policies]]\ndepartment = \"support\"\nresolution = \"8h\"\n"
        ));
        assert!(ok
            .sla
            .policy_for("support", crate::domain::Priority::High)
            .is_some());
        assert!(ok.validate().is_ok());
        let typo = parse(&format!(
            "{REQUIRED_ONLY}\n[sla]\nenabled = true\n[[sla.policies]]\ndepartment = \"suport\"\nresolution = \"8h\"\n"
        ));
        let e = typo.validate().expect_err("unknown department");
        assert!(
            e.to_string()
                .contains("department `suport` is not a configured department"),
            "{e}"
        );
    }

    #[test]
    fn the_readme_sla_example_loads_and_means_what_it_says() {
        let readme = include_str!("../../README.md");
        let block = readme
            .split("## SLA")
            .nth(1)
            .and_then(|s| s.split("```toml").nth(1))
            .and_then(|s| s.split("```").next())
            .expect("README has an SLA section with a toml block");
        let s = parse(&format!(
            "{REQUIRED_ONLY}\n[[departments]]\nname = \"support\"\n[[departments]]\nname = \"billing\"\n{block}"
        ));
        s.validate().expect("the README example is valid");
        use crate::domain::Priority::{Low, Urgent};
        let urgent = s.sla.policy_for("support", Urgent).expect("urgent support");
        let goal = urgent.first_response.expect("first response");
        assert_eq!(
            (goal.within, goal.business),
            (chrono::Duration::hours(1), false)
        );
        let low = s.sla.policy_for("billing", Low).expect("catch-all");
        assert_eq!(
            low.resolution.map(|g| g.within),
            Some(chrono::Duration::hours(40))
        );
        // Billing works New York hours: Monday 7 December 2026, 08:00-16:00 EST.
        let at = |x: &str| x.parse::<chrono::DateTime<chrono::Utc>>().expect("instant");
        assert_eq!(
            s.sla
                .calendar_for("billing")
                .working_between(at("2026-12-07T00:00:00Z"), at("2026-12-08T00:00:00Z")),
            chrono::Duration::hours(8)
        );
        assert_eq!(
            s.sla
                .calendar_for("billing")
                .add_working(at("2026-12-07T12:00:00Z"), chrono::Duration::hours(1)),
            Some(at("2026-12-07T14:00:00Z"))
        );
    }

    #[test]
    fn differences_name_the_path_of_each_changed_value() {
        let a = serde_json::json!({"x": {"y": 1, "z": [1, {"w": true}]}, "v": "s"});
        let b = serde_json::json!({"x": {"y": 2, "z": [1, {"w": false}]}, "v": "s", "u": 0});
        assert_eq!(differences(&a, &b, ""), ["u", "x.y", "x.z[1].w"]);
        assert_eq!(differences(&a, &a, ""), Vec::<String>::new());
    }
}
