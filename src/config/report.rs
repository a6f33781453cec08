//! The effective settings as readable TOML, by subsystem (`claimdesk config check`). Secrets
//! appear only as whether their environment variable is set; a password inside a URL (e.g.
//! `database.url`) is replaced by `***`.

use std::fmt::Write as _;

use serde_json::{Map, Value};

use super::Settings;

/// The sections in the order a reader meets them, each with its subsystem's name.
const SECTIONS: &[(&str, &str)] = &[
    ("database", "Database"),
    ("desk", "Desk"),
    ("departments", "Departments"),
    ("agents", "Agents"),
    ("noise", "Mail-loop limits"),
    ("intake", "Mail intake (IMAP)"),
    ("mailboxes", "Mailboxes (IMAP)"),
    ("smtp", "Outgoing mail (SMTP)"),
    ("outbox", "Outbox delivery"),
    ("sla", "SLA clocks and working hours"),
    ("slack", "Slack"),
    ("discord", "Discord"),
    ("console", "Console"),
    ("web", "Web"),
    ("log", "Log"),
    ("reports", "Reports"),
    ("notify", "Personal notifications"),
    ("templates", "Canned replies"),
    ("tags", "Tags and intake rules"),
];

/// `settings` as TOML with a comment heading each subsystem, followed by a `[secrets]`
/// table: every environment variable the settings name for a secret, `"set"` or `"unset"`
/// (never its value), with the setting that names it. Settings that are absent (an optional
/// value, or a platform section not configured) are shown as comments.
pub fn effective(settings: &Settings) -> String {
    let tree = serde_json::to_value(settings).unwrap_or(Value::Null);
    let empty = Map::new();
    let root = tree.as_object().unwrap_or(&empty);
    let mut out = String::new();
    for (key, title) in SECTIONS {
        let _ = writeln!(out, "# ── {title} ──");
        match root.get(*key) {
            Some(Value::Object(table)) => table_out(&mut out, key, table),
            Some(Value::Array(items))
                if items.iter().all(Value::is_object) && !items.is_empty() =>
            {
                for item in items.iter().filter_map(Value::as_object) {
                    let _ = writeln!(out, "[[{key}]]");
                    table_out_body(&mut out, key, item);
                }
            }
            Some(Value::Array(_)) => {
                let _ = writeln!(out, "{key} = []");
            }
            _ => {
                let _ = writeln!(out, "# [{key}] not configured");
            }
        }
        out.push('\n');
    }
    let _ = writeln!(
        out,
        "# ── Secrets: only whether each variable is set, never its value ──\n[secrets]"
    );
    for (var, named_by) in secret_vars(settings) {
        let state = if Settings::secret(&var).is_some() {
            "set"
        } else {
            "unset"
        };
        let _ = writeln!(out, "{} = \"{state}\"  # {named_by}", key_text(&var));
    }
    out
}

/// Every variable that holds a secret, with the setting(s) naming it, in settings order.
fn secret_vars(s: &Settings) -> Vec<(String, String)> {
    let mut vars: Vec<(String, String)> = Vec::new();
    let mut add = |var: &str, by: String| match vars.iter_mut().find(|(v, _)| v == var) {
        Some((_, named)) => {
            named.push_str(", ");
            named.push_str(&by);
        }
        None => vars.push((var.to_string(), by)),
    };
    add(&s.desk.message_id_key_env, "desk.message_id_key_env".into());
    for m in &s.mailboxes {
        add(
            &m.password_env,
            format!("mailboxes `{}` password_env", m.name),
        );
        if let Some(o) = &m.oauth2 {
            add(
                &o.client_secret_env,
                format!("mailboxes `{}` oauth2.client_secret_env", m.name),
            );
            add(
                &o.refresh_token_env,
                format!("mailboxes `{}` oauth2.refresh_token_env", m.name),
            );
        }
    }
    add(&s.smtp.password_env, "smtp.password_env".into());
    if let Some(sl) = &s.slack {
        add(&sl.bot_token_env, "slack.bot_token_env".into());
        add(&sl.signing_secret_env, "slack.signing_secret_env".into());
        add(&sl.app_token_env, "slack.app_token_env".into());
    }
    if let Some(d) = &s.discord {
        add(&d.bot_token_env, "discord.bot_token_env".into());
        add(&d.public_key_env, "discord.public_key_env".into());
    }
    add(&s.web.admin_token_env, "web.admin_token_env".into());
    add(&s.web.link_secret_env, "web.link_secret_env".into());
    vars
}

/// Writes `[path]` and its body.
fn table_out(out: &mut String, path: &str, table: &Map<String, Value>) {
    let _ = writeln!(out, "[{path}]");
    table_out_body(out, path, table);
}

/// Writes the plain keys of `table`, then its sub-tables (`[path.key]`, `[[path.key]]`).
fn table_out_body(out: &mut String, path: &str, table: &Map<String, Value>) {
    let mut nested = Vec::new();
    for (k, v) in table {
        match v {
            Value::Object(_) => nested.push((k, v)),
            Value::Array(items) if !items.is_empty() && items.iter().all(Value::is_object) => {
                nested.push((k, v))
            }
            Value::Null => {
                let _ = writeln!(out, "# {} is not set", key_text(k));
            }
            _ => {
                let _ = writeln!(out, "{} = {}", key_text(k), value_text(v));
            }
        }
    }
    for (k, v) in nested {
        let sub = format!("{path}.{}", key_text(k));
        match v {
            Value::Object(t) => {
                let _ = writeln!(out, "[{sub}]");
                table_out_body(out, &sub, t);
            }
            Value::Array(items) => {
                for t in items.iter().filter_map(Value::as_object) {
                    let _ = writeln!(out, "[[{sub}]]");
                    table_out_body(out, &sub, t);
                }
            }
            _ => {}
        }
    }
}

/// A TOML key: bare when it can be, else quoted.
fn key_text(k: &str) -> String {
    if !k.is_empty()
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        k.to_string()
    } else {
        string_text(k)
    }
}

/// A TOML value for a JSON scalar or array of scalars.
fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => string_text(&redact_url_password(s)),
        Value::Array(items) => {
            let inner: Vec<String> = items.iter().map(value_text).collect();
            format!("[{}]", inner.join(", "))
        }
        Value::Null => "\"\"".into(),
        other => other.to_string(),
    }
}

/// A TOML basic string: JSON's escapes are valid TOML; DEL, which TOML refuses raw, is escaped.
fn string_text(s: &str) -> String {
    serde_json::to_string(s)
        .unwrap_or_else(|_| "\"\"".into())
        .replace('\u{7f}', "\\u007F")
}

/// `s` with the secrets of a URL replaced by `***`: the password of `scheme://user:password@host`
/// and the value of every query parameter whose name holds `pass`, `secret`, `token` or `key`
/// (libpq and sqlx take `?password=…`); any other text unchanged.
fn redact_url_password(s: &str) -> String {
    let Ok(mut u) = url::Url::parse(s) else {
        return s.to_string();
    };
    if u.password().is_some() && u.set_password(Some("***")).is_err() {
        return "***".into();
    }
    let secret_name = |k: &str| {
        let k = k.to_ascii_lowercase();
        ["pass", "secret", "token", "key"]
            .iter()
            .any(|w| k.contains(w))
    };
    if u.query_pairs().any(|(k, _)| secret_name(&k)) {
        let pairs: Vec<(String, String)> = u
            .query_pairs()
            .map(|(k, v)| {
                let v = if secret_name(&k) {
                    "***".to_string()
                } else {
                    v.into_owned()
                };
                (k.into_owned(), v)
            })
            .collect();
        u.query_pairs_mut().clear().extend_pairs(pairs);
    }
    if u.as_str() == s {
        // Nothing was hidden: keep the text exactly as written.
        return s.to_string();
    }
    u.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_passwords_are_hidden_and_other_text_kept() {
        assert_eq!(
            redact_url_password("postgres://app:hunter2@db:5432/claimdesk"),
            "postgres://app:***@db:5432/claimdesk"
        );
        assert_eq!(
            redact_url_password("postgres://app@db/claimdesk"),
            "postgres://app@db/claimdesk"
        );
        assert_eq!(redact_url_password("INBOX"), "INBOX");
        let q = redact_url_password(
            "postgres://app@db/claimdesk?sslmode=require&password=hunter2&PGPASSWORD=x&application_name=cd",
        );
        assert!(!q.contains("hunter2") && !q.contains("=x&"), "{q}");
        assert!(
            q.contains("sslmode=require") && q.contains("application_name=cd"),
            "{q}"
        );
        assert_eq!(
            redact_url_password("postgres://127.0.0.1:5432/claimdesk?sslmode=disable"),
            "postgres://127.0.0.1:5432/claimdesk?sslmode=disable"
        );
    }

    #[test]
    fn values_are_valid_toml_scalars() {
        assert_eq!(value_text(&serde_json::json!("a\"b\n")), r#""a\"b\n""#);
        assert_eq!(value_text(&serde_json::json!(["x", 2])), r#"["x", 2]"#);
        assert_eq!(value_text(&serde_json::json!(24.0)), "24.0");
        assert_eq!(key_text("a.b"), r#""a.b""#);
    }
}
