//! The `claimdesk` command line.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};

use claimdesk::app::{App, Secrets};
use claimdesk::config::Settings;
use claimdesk::desk::messages;
use claimdesk::desk::{Actor, DeskError};

/// `println!` for text that holds what customers wrote (subjects, addresses, bodies, errors
/// quoting them): control characters, escape sequences and bidi overrides are removed first
/// (`claimdesk::desk::escape::terminal`).
macro_rules! say {
    ($($arg:tt)*) => {
        println!("{}", claimdesk::desk::escape::terminal(&format!($($arg)*)))
    };
}

/// A help desk that lives in team chat.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    /// Settings file (TOML); `CLAIMDESK__SECTION__KEY` variables override it.
    #[arg(long, global = true, default_value = "config/default.toml")]
    config: PathBuf,
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run everything: mailbox polling, outbox delivery, web endpoints, and the console
    /// surface when neither Slack nor Discord is configured.
    Serve,
    /// Create the database if needed and apply migrations.
    Migrate,
    /// Check the database and every mailbox live (connect, LOGIN, SELECT) and print the
    /// stored intake state; exits non-zero if a check failed. Never prints secrets.
    Doctor,
    /// Fetch everything new from every mailbox, deliver the outbox, exit.
    Intake {
        /// Run once and exit (the only mode; polling is `serve`).
        #[arg(long)]
        once: bool,
    },
    /// Tickets.
    Ticket {
        #[command(subcommand)]
        command: TicketCmd,
    },
    /// Team members.
    Agent {
        #[command(subcommand)]
        command: AgentCmd,
    },
    /// The settings themselves.
    Config {
        #[command(subcommand)]
        command: ConfigCmd,
    },
    /// Messages that could not become tickets.
    Quarantine {
        #[command(subcommand)]
        command: QuarantineCmd,
    },
    /// Export one row per ticket opened in [from, to) to stdout, streamed (constant memory):
    /// number, department, requester, subject, status, priority, assignee, opened, first
    /// response, resolved, closed (RFC 3339 UTC), first-response and resolution business
    /// seconds, and the SLA outcome per metric (met, breached, running, none).
    Report {
        /// Start, inclusive: `YYYY-MM-DD` (midnight UTC) or RFC 3339.
        #[arg(long)]
        from: String,
        /// End, exclusive: `YYYY-MM-DD` (midnight UTC) or RFC 3339.
        #[arg(long)]
        to: String,
        /// Only this department.
        #[arg(long)]
        department: Option<String>,
        /// Only tickets with this tag; repeat (or comma-separate) for tickets with all of them.
        #[arg(long = "tag")]
        tags: Vec<String>,
        /// `tag`: one row per ticket and tag, by tag (a `tag` column first; untagged last).
        #[arg(long = "group-by")]
        group_by: Option<String>,
        /// `csv` (spreadsheet-safe: formula-like cells are prefixed with ') or `json`.
        #[arg(long, default_value = "csv")]
        format: String,
    },
}

#[derive(Subcommand)]
enum TicketCmd {
    /// Every ticket.
    List {
        /// One JSON array: number, status, assignee, requester, subject, message count, Message-IDs.
        #[arg(long)]
        json: bool,
    },
    /// The audit trail of one ticket: who changed what, when, before → after.
    History {
        /// `TICK-2026-0001`.
        number: String,
    },
    /// One ticket with its messages and history.
    Show {
        /// `TICK-2026-0001`.
        number: String,
        /// As JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum AgentCmd {
    /// Every agent: role, availability, capacity, departments.
    List,
    /// Add (or update) an agent; config agents are re-synced from the file on every start.
    Add {
        /// Unique handle, e.g. `dana`.
        handle: String,
        /// Display name.
        #[arg(long)]
        name: String,
        /// Email address.
        #[arg(long)]
        email: String,
        /// member, admin or owner.
        #[arg(long, default_value = "member")]
        role: String,
        /// Slack user ID.
        #[arg(long)]
        slack: Option<String>,
        /// Discord user ID.
        #[arg(long)]
        discord: Option<String>,
        /// Departments (comma-separated); all when absent.
        #[arg(long, value_delimiter = ',')]
        departments: Vec<String>,
        /// Auto-assignment cap.
        #[arg(long)]
        capacity: Option<u32>,
    },
    /// Remove an agent (kept inactive for history).
    Remove {
        /// Handle.
        handle: String,
    },
}

#[derive(Subcommand)]
enum ConfigCmd {
    /// Load and validate the settings as `serve` does (file, `CLAIMDESK__…` overrides, the
    /// Message-ID key), then print the effective settings by subsystem; secrets only as
    /// set/unset. Connects to nothing. Non-zero exit naming the problem when invalid.
    Check,
}

#[derive(Subcommand)]
enum QuarantineCmd {
    /// Every quarantined message with its reason.
    List,
}

fn main() -> std::process::ExitCode {
    claimdesk::app::tune_allocator();
    match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => {
            let code = rt.block_on(async_main());
            // Tasks still running (a supervisor in IDLE, a blocking read) are not waited for:
            // after a graceful stop the process exits promptly (issue 11: Ctrl-C within 2 s).
            rt.shutdown_timeout(SHUTDOWN_GRACE);
            code
        }
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Longest wait for background tasks once a command is done (`serve` after Ctrl-C/SIGTERM).
const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_millis(500);

/// Crates whose debug and trace events carry interaction tokens (Discord webhook URLs,
/// Slack `response_url` and `trigger_id` inside whole Socket Mode frames or request URLs):
/// capped at `info` whatever `RUST_LOG` says, so tokens never reach the log (issue 10).
const TOKEN_BEARING_LOG_TARGETS: [&str; 7] = [
    "slack_morphism",
    "tungstenite",
    "tokio_tungstenite",
    "reqwest",
    "hyper",
    "hyper_util",
    "serenity::http",
];

/// `RUST_LOG` (default `info,sqlx=warn`) with [`TOKEN_BEARING_LOG_TARGETS`] capped at `info`:
/// `RUST_LOG`'s own directives for those crates or any of their modules (which would outrank
/// a cap on the crate) are dropped first.
fn log_filter() -> tracing_subscriber::EnvFilter {
    let wanted = std::env::var("RUST_LOG").unwrap_or_else(|_| "info,sqlx=warn".into());
    let mut directives: Vec<String> = wanted
        .split(',')
        .map(str::trim)
        .filter(|d| !d.is_empty() && !names_token_bearing_target(d))
        .map(String::from)
        .collect();
    directives.extend(
        TOKEN_BEARING_LOG_TARGETS
            .iter()
            .map(|t| format!("{t}=info")),
    );
    tracing_subscriber::EnvFilter::try_new(directives.join(","))
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"))
}

/// Whether a `RUST_LOG` directive (`target[span]{field}=level`) names one of
/// [`TOKEN_BEARING_LOG_TARGETS`] or a module below it.
fn names_token_bearing_target(directive: &str) -> bool {
    let target = directive
        .split(['=', '[', '{'])
        .next()
        .unwrap_or_default()
        .trim();
    TOKEN_BEARING_LOG_TARGETS
        .iter()
        .any(|t| target == *t || target.starts_with(&format!("{t}::")))
}

async fn async_main() -> std::process::ExitCode {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cli = Cli::parse();
    // The format is a setting: read before anything logs. Settings that do not load are
    // reported by `run` (in the default format).
    let format = Settings::load(&cli.config)
        .map(|s| s.log.format)
        .unwrap_or_default();
    let subscriber =
        claimdesk::app::log_subscriber(format, log_filter(), claimdesk::app::LogOut::default);
    // `try_init`: also forwards the `log` crate's records, as `fmt().init()` did.
    if let Err(e) = tracing_subscriber::util::SubscriberInitExt::try_init(subscriber) {
        eprintln!("warning: cannot install the log subscriber: {e}");
    }
    match run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let settings =
        Settings::load(&cli.config).with_context(|| format!("reading {}", cli.config.display()))?;
    if let Cmd::Config {
        command: ConfigCmd::Check,
    } = cli.command
    {
        settings.message_id_key()?;
        Secrets::from_env(&settings).check(&settings)?;
        print!(
            "# {}: valid. Effective settings (file, then CLAIMDESK__ overrides):\n\n{}",
            cli.config.display(),
            claimdesk::config::report::effective(&settings)
        );
        return Ok(());
    }
    if let Cmd::Migrate = cli.command {
        claimdesk::store::open(&settings.database).await?;
        println!("database ready: migrations applied");
        return Ok(());
    }
    if let Cmd::Report {
        from,
        to,
        department,
        tags,
        group_by,
        format,
    } = &cli.command
    {
        let filter = (tags.as_slice(), group_by.as_deref());
        return report_command(&settings, from, to, department.as_deref(), filter, format).await;
    }
    let secrets = Secrets::from_env(&settings);
    if let Cmd::Doctor = cli.command {
        let report = claimdesk::intake::doctor::run(
            &settings,
            &secrets.imap_passwords,
            &mut std::io::stdout(),
        )
        .await?;
        if !report.ok() {
            anyhow::bail!("doctor: {} failed", report.failed.join(", "));
        }
        return Ok(());
    }
    let app = App::build(settings, secrets).await?;
    match cli.command {
        Cmd::Migrate | Cmd::Doctor | Cmd::Config { .. } | Cmd::Report { .. } => Ok(()),
        Cmd::Serve => app.serve().await,
        Cmd::Intake { once: _ } => {
            let mut failed = false;
            for (name, r) in app.intake_once().await? {
                match r {
                    Ok(r) => println!(
                        "{name}: fetched {} · new tickets {} · joined {} · duplicates {} · quarantined {}",
                        r.fetched, r.created, r.joined, r.duplicates, r.quarantined
                    ),
                    Err(e) => {
                        failed = true;
                        eprintln!("{name}: {e:#}");
                    }
                }
            }
            if failed {
                anyhow::bail!("some mailboxes failed");
            }
            Ok(())
        }
        Cmd::Ticket {
            command: TicketCmd::List { json },
        } => {
            let list = app.desk.list().await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else if list.is_empty() {
                say!("No tickets.");
            } else {
                for t in &list {
                    say!("{}", messages::summary_line(t, messages::Mention::Plain));
                }
            }
            Ok(())
        }
        Cmd::Ticket {
            command: TicketCmd::Show { number, json },
        } => {
            let d = app
                .desk
                .show(&number)
                .await
                .map_err(|e| anyhow::anyhow!(messages::error(&e)))?;
            if json {
                println!("{}", serde_json::to_string_pretty(&d)?);
                return Ok(());
            }
            say!(
                "{}",
                messages::summary_with_sla(
                    &d.summary,
                    messages::Mention::Plain,
                    app.desk.clock_now()
                )
            );
            say!("{}", messages::opened(&d.summary.opened_at));
            if let Some(r) = &d.rating {
                // say! drops control and bidi characters from the whole line.
                say!(
                    "{}",
                    messages::web::agent_rating_line(r.rating, r.comment.as_deref())
                );
            }
            for m in &d.messages {
                say!(
                    "\n--- {} {} · {} · <{}>",
                    m.direction,
                    m.at,
                    m.from,
                    m.message_id
                );
                if let Some(date) = &m.date_header {
                    say!("Date: {date}");
                }
                say!("Subject: {}", m.subject);
                for a in &m.attachments {
                    let name = a.name.as_deref().unwrap_or("(unnamed)");
                    let label =
                        claimdesk::desk::content::attachment_label(name, &a.content_type, a.size);
                    say!("📎 {label}");
                }
                say!("{}", m.body.trim_end());
            }
            say!("\nHistory:");
            for h in &d.history {
                say!("  {} {} by {} via {}", h.at, h.action, h.actor, h.surface);
            }
            Ok(())
        }
        Cmd::Ticket {
            command: TicketCmd::History { number },
        } => {
            let (number, rows) = app
                .desk
                .history(&number)
                .await
                .map_err(|e| anyhow::anyhow!(messages::error(&e)))?;
            say!("History of {number}:");
            for r in rows {
                let show = |v: &Option<serde_json::Value>| {
                    v.as_ref()
                        .map(|v| v.to_string())
                        .unwrap_or_else(|| "-".into())
                };
                say!(
                    "{}  {:<26} {:<14} {:<8} {} → {}",
                    r.at,
                    r.action,
                    r.actor,
                    r.surface,
                    show(&r.before),
                    show(&r.after)
                );
            }
            Ok(())
        }
        Cmd::Agent { command } => agent_command(&app, command).await,
        Cmd::Quarantine {
            command: QuarantineCmd::List,
        } => {
            let mut conn = app.desk.pool().acquire().await?;
            let rows = claimdesk::store::quarantine::list(&mut conn).await?;
            if rows.is_empty() {
                println!("Quarantine is empty.");
            }
            for (id, mailbox, uid, reason) in rows {
                say!(
                    "#{id} {mailbox} uid {} — {reason}",
                    uid.map(|u| u.to_string()).unwrap_or("-".into())
                );
            }
            Ok(())
        }
    }
}

/// `claimdesk report …`: checks the words first (dates, range, format: a clear error and a
/// non-zero exit), then streams the rows to a buffered stdout. Needs only the database.
///
/// Errors: bad arguments, the database's, or stdout closed.
async fn report_command(
    settings: &Settings,
    from: &str,
    to: &str,
    department: Option<&str>,
    (tags, group_by): (&[String], Option<&str>),
    format: &str,
) -> anyhow::Result<()> {
    use claimdesk::desk::report;
    let range = report::with_tags(report::range(from, to, department)?, tags, group_by)?;
    let format: report::Format = format.parse()?;
    let pool = claimdesk::store::open(&settings.database).await?;
    let mut conn = pool.acquire().await?;
    let out = std::io::BufWriter::with_capacity(64 * 1024, std::io::stdout());
    let mut hours = report::Calendars::new(&settings.sla);
    report::write(
        &mut conn,
        &range,
        format,
        &mut hours,
        chrono::Utc::now(),
        out,
    )
    .await?;
    Ok(())
}

/// `claimdesk agent …`: through the desk's use cases as [`Actor::cli_operator`] (surface
/// `cli`, owner-level), so handles and departments are checked and every change is audited
/// as it is from chat.
///
/// Errors: the desk's refusal (bad handle, unknown department, no such agent) worded for
/// the shell, a role that is not member/admin/owner, or the database's.
async fn agent_command(app: &App, command: AgentCmd) -> anyhow::Result<()> {
    let operator = Actor::cli_operator();
    match command {
        AgentCmd::List => {
            for a in app.desk.list_agents().await? {
                let state = match (a.active, a.available, &a.away_until) {
                    (false, _, _) => "removed".to_string(),
                    (true, true, _) => "available".to_string(),
                    (true, false, Some(u)) => format!("away until {u}"),
                    (true, false, None) => "away".to_string(),
                };
                let cap = a
                    .capacity
                    .map(|c| c.to_string())
                    .unwrap_or_else(|| "-".into());
                println!(
                    "@{:<12} {:<20} {:<7} {:<28} cap {:<4} {} ({})",
                    a.handle,
                    a.name,
                    a.role,
                    state,
                    cap,
                    a.departments.join(","),
                    a.source
                );
            }
            Ok(())
        }
        AgentCmd::Add {
            handle,
            name,
            email,
            role,
            slack,
            discord,
            departments,
            capacity,
        } => {
            let role = role.parse().map_err(|e| anyhow::anyhow!("{e}"))?;
            let a = claimdesk::config::AgentSettings {
                handle: handle.clone(),
                name,
                email,
                role,
                slack_user_id: slack,
                discord_user_id: discord,
                departments,
                capacity,
            };
            let saved = app
                .desk
                .save_agent(&operator, &a)
                .await
                .map_err(|e| anyhow::anyhow!("cannot add agent `{handle}`: {e}"))?;
            println!("agent @{saved} saved");
            Ok(())
        }
        AgentCmd::Remove { handle } => match app.desk.remove_agent(&operator, &handle).await {
            Ok(h) => {
                println!("agent @{h} removed (kept for history)");
                Ok(())
            }
            Err(DeskError::NoSuchAgent(h)) => anyhow::bail!("no active agent @{h}"),
            Err(e) => Err(anyhow::anyhow!("cannot remove agent `{handle}`: {e}")),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::names_token_bearing_target;

    #[test]
    fn rust_log_directives_for_token_bearing_crates_are_recognised() {
        for d in [
            "reqwest=trace",
            "serenity::http::client=trace",
            "slack_morphism::hyper_tokio[span]=debug",
            "hyper_util{x}=trace",
            "tungstenite",
        ] {
            assert!(names_token_bearing_target(d), "{d}");
        }
        for d in [
            "trace",
            "claimdesk=debug",
            "serenity::gateway=debug",
            "hyperx=trace",
        ] {
            assert!(!names_token_bearing_target(d), "{d}");
        }
    }
}
