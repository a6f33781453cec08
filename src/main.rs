//! The `claimdesk` command line.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};

use claimdesk::app::{App, Secrets};
use claimdesk::chat::messages;
use claimdesk::config::Settings;

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
    /// Messages that could not become tickets.
    Quarantine {
        #[command(subcommand)]
        command: QuarantineCmd,
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
enum QuarantineCmd {
    /// Every quarantined message with its reason.
    List,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let _ = rustls::crypto::ring::default_provider().install_default();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    match run(Cli::parse()).await {
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
    if let Cmd::Migrate = cli.command {
        claimdesk::store::connect_and_migrate(&settings.database.url, 1).await?;
        println!("database ready: migrations applied");
        return Ok(());
    }
    let secrets = Secrets::from_env(&settings);
    let app = App::build(settings, secrets).await?;
    match cli.command {
        Cmd::Migrate => Ok(()),
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
                println!("No tickets.");
            } else {
                for t in &list {
                    println!("{}", messages::summary_line(t));
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
            println!("{}", messages::summary_line(&d.summary));
            for m in &d.messages {
                println!(
                    "\n--- {} {} · {} · <{}>",
                    m.direction, m.at, m.from, m.message_id
                );
                println!("Subject: {}\n{}", m.subject, m.body.trim_end());
            }
            println!("\nHistory:");
            for (action, actor, surface) in &d.history {
                println!("  {action} by {actor} via {surface}");
            }
            Ok(())
        }
        Cmd::Quarantine {
            command: QuarantineCmd::List,
        } => {
            let mut conn = app.desk.pool().acquire().await?;
            let rows = claimdesk::store::quarantine::list(&mut conn).await?;
            if rows.is_empty() {
                println!("Quarantine is empty.");
            }
            for (id, mailbox, uid, reason) in rows {
                println!(
                    "#{id} {mailbox} uid {} — {reason}",
                    uid.map(|u| u.to_string()).unwrap_or("-".into())
                );
            }
            Ok(())
        }
    }
}
