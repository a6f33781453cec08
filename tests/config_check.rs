//! `claimdesk config check`: validates the settings as `serve` does, prints the effective
//! settings by subsystem with secrets shown only as set/unset, and exits non-zero naming the
//! problem in an invalid file. Runs the built binary; needs no service.

use std::path::Path;
use std::process::{Command, Output};

/// Secret values put in the environment; none may ever be printed.
const SECRETS: &[(&str, &str)] = &[
    ("CLAIMDESK_IMAP_PASSWORD", "imap-pass-7d1c0a"),
    ("CLAIMDESK_SMTP_PASSWORD", "smtp-pass-4be2f9"),
    ("SLACK_BOT_TOKEN", "xoxb-bot-token-91aa"),
    ("SLACK_SIGNING_SECRET", "slack-signing-5c3e"),
    ("CLAIMDESK_ADMIN_TOKEN", "admin-token-0f6d"),
    (
        "CLAIMDESK_MESSAGE_ID_KEY",
        "message-id-key-with-more-than-32-bytes-e81b",
    ),
];

fn check(config: &Path, env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_claimdesk"));
    c.arg("config").arg("check").arg("--config").arg(config);
    // Only what the test sets: no stray secret or override from the caller's environment.
    for (k, _) in std::env::vars() {
        if k.starts_with("CLAIMDESK") || k.starts_with("SLACK_") || k.starts_with("DISCORD_") {
            c.env_remove(k);
        }
    }
    c.envs(env.iter().copied());
    c.output().expect("run claimdesk config check")
}

fn shipped() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("config/default.toml")
}

#[test]
fn config_check_prints_the_effective_settings_by_subsystem_and_never_a_secret() {
    let mut env = SECRETS.to_vec();
    // A password inside an overriding URL is a secret too.
    env.push((
        "CLAIMDESK__DATABASE__URL",
        "postgres://claimdesk_app:db-pass-31c8@127.0.0.1:5432/claimdesk",
    ));
    let out = check(&shipped(), &env);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "exit {}: {stderr}", out.status);
    for section in [
        "[database]",
        "[desk]",
        "[intake]",
        "[[mailboxes]]",
        "[smtp]",
        "[slack]",
        "[discord]",
        "[web]",
        "[log]",
        "[sla]",
        "[secrets]",
    ] {
        assert!(stdout.contains(section), "no {section} in:\n{stdout}");
    }
    assert!(stdout.contains("poll_interval_secs = 5"), "{stdout}");
    assert!(
        stdout.contains("claimdesk_app"),
        "the override applies:\n{stdout}"
    );
    assert!(stdout.contains("SLACK_BOT_TOKEN = \"set\""), "{stdout}");
    assert!(stdout.contains("DISCORD_BOT_TOKEN = \"unset\""), "{stdout}");
    assert!(
        stdout.contains("CLAIMDESK_IMAP_PASSWORD = \"set\""),
        "{stdout}"
    );
    for secret in SECRETS.iter().map(|(_, v)| *v).chain(["db-pass-31c8"]) {
        assert!(!stdout.contains(secret), "{secret} on stdout:\n{stdout}");
        assert!(!stderr.contains(secret), "{secret} on stderr:\n{stderr}");
    }
}

#[test]
fn config_check_of_an_invalid_file_exits_non_zero_naming_the_problem() {
    let dir = tempfile::tempdir().expect("tempdir");
    let base = std::fs::read_to_string(shipped()).expect("default.toml");
    let cases = [
        (
            "a handle used twice",
            format!(
                "{base}\n[[agents]]\nhandle = \"ana\"\nname = \"Ana Again\"\nemail = \"a2@claimdesk.local\"\nrole = \"member\"\n"
            ),
            "agent handle `ana` is used twice",
        ),
        (
            "an SLA time zone that is not one",
            base.replace(
                "on_breach = \"none\"",
                "on_breach = \"none\"\n[sla.hours.default]\ntimezone = \"Mars/Olympus\"",
            ),
            "sla.hours.default.timezone: `Mars/Olympus` is not an IANA time zone",
        ),
        (
            "an SLA policy for a department that does not exist",
            format!("{base}\n[[sla.policies]]\ndepartment = \"sales\"\nresolution = \"8h\"\n"),
            "sla.policies[0].department `sales` is not a configured department",
        ),
        (
            "a number that is not one",
            base.replace("poll_interval_secs = 5", "poll_interval_secs = \"soon\""),
            "poll_interval_secs",
        ),
    ];
    for (what, text, named) in cases {
        let file = dir.path().join("claimdesk.toml");
        std::fs::write(&file, text).expect("write");
        let out = check(&file, SECRETS);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{what}: exit 0");
        assert!(
            stderr.contains(named),
            "{what}: stderr does not name it:\n{stderr}"
        );
        for (_, secret) in SECRETS {
            assert!(!stderr.contains(secret), "{what}: {secret} on stderr");
        }
    }
    // A Message-ID key too short is refused as `serve` refuses it, naming the variable only.
    let out = check(
        &shipped(),
        &[("CLAIMDESK_MESSAGE_ID_KEY", "short-key-77ae")],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "short key: exit 0");
    assert!(stderr.contains("CLAIMDESK_MESSAGE_ID_KEY"), "{stderr}");
    assert!(!stderr.contains("short-key-77ae"), "{stderr}");
}

#[test]
fn config_check_shows_the_sla_policies_and_hours() {
    let dir = tempfile::tempdir().expect("tempdir");
    let base = std::fs::read_to_string(shipped()).expect("default.toml");
    let text = base.replace("enabled = false\n# Share of the goal", "enabled = true\n# Share of the goal")
        + "\n[sla.hours.default]\ntimezone = \"Europe/Berlin\"\nmon = \"09:00-12:00,13:00-17:00\"\nholidays = [\"2026-12-25\"]\n\n[[sla.policies]]\ndepartment = \"support\"\npriority = \"urgent\"\nfirst_response = \"1h\"\nresolution = \"2d\"\n";
    let file = dir.path().join("claimdesk.toml");
    std::fs::write(&file, text).expect("write");
    let out = check(&file, SECRETS);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for line in [
        "# ── SLA clocks and working hours ──",
        "[sla]\nenabled = true\n",
        "warn_at = 0.75",
        "on_breach = \"none\"",
        "[sla.hours.default]",
        "timezone = \"Europe/Berlin\"",
        "mon = \"09:00-12:00,13:00-17:00\"",
        "holidays = [\"2026-12-25\"]",
        "[[sla.policies]]",
        "priority = \"urgent\"",
        "first_response = \"1h\"",
        "business_hours = true",
    ] {
        assert!(stdout.contains(line), "no {line:?} in:\n{stdout}");
    }
}

#[test]
fn config_check_refuses_a_half_configured_platform_as_serve_does() {
    // A Slack bot token without the signing secret (HTTP mode), and a Discord bot token
    // without the public key (HTTP mode): each names the missing variable, never a value.
    type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a str);
    let cases: [Case; 2] = [
        (
            "slack without signing secret",
            &[("SLACK_BOT_TOKEN", "xoxb-bot-token-91aa")],
            "SLACK_SIGNING_SECRET",
        ),
        (
            "discord without public key",
            &[("DISCORD_BOT_TOKEN", "discord-bot-token-2f7a")],
            "DISCORD_PUBLIC_KEY",
        ),
    ];
    for (what, env, named) in cases {
        let out = check(&shipped(), env);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{what}: exit 0");
        assert!(stderr.contains(named), "{what}: {stderr}");
        for (_, secret) in env {
            assert!(!stderr.contains(secret), "{what}: a secret on stderr");
        }
    }
    // Both secrets present: valid.
    let out = check(
        &shipped(),
        &[
            ("SLACK_BOT_TOKEN", "xoxb-bot-token-91aa"),
            ("SLACK_SIGNING_SECRET", "slack-signing-5c3e"),
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
