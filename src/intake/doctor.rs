//! `claimdesk doctor`: live checks of the database and of every mailbox (connect, LOGIN,
//! SELECT), plus the intake state stored in `mailbox_status`. Passwords and the database
//! password are never printed.

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::time::Duration;

use secrecy::SecretString;
use sqlx::postgres::PgPoolOptions;
use sqlx::PgPool;

use crate::config::Settings;
use crate::store;

use super::imap;

/// What `doctor` found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DoctorReport {
    /// The checks that failed: `database`, or `mailbox <name>`. Empty when all passed.
    pub failed: Vec<String>,
    /// Findings that do not fail the run: `database role` when the app connects as a
    /// superuser or as (a member of) the owner of `audit_events`.
    pub warnings: Vec<String>,
}

impl DoctorReport {
    /// True when every check passed.
    pub fn ok(&self) -> bool {
        self.failed.is_empty()
    }
}

/// Runs every check and writes a human-readable account to `out`, one line per finding.
///
/// The database is checked by connecting and asking its version, and the migrations applied
/// are compared with those built in (pending ones are reported, not failed: `serve` and
/// `migrate` apply them). Each mailbox in `settings` is tried live with the password in
/// `passwords` (keyed by mailbox name; for XOAUTH2 a fresh access token from the token
/// endpoint): connect, authenticate (the mechanism, LOGIN, PLAIN or XOAUTH2, is printed),
/// CAPABILITY, SELECT; its UIDVALIDITY,
/// message count and IDLE support are printed, or the error. Then the stored cursor and
/// `mailbox_status` row of each mailbox are printed when the database is reachable.
///
/// Errors: only writing to `out`; failed checks are in the returned report.
pub async fn run(
    settings: &Settings,
    passwords: &HashMap<String, SecretString>,
    out: &mut dyn Write,
) -> std::io::Result<DoctorReport> {
    let mut report = DoctorReport::default();
    let pool = check_database(settings, out, &mut report).await?;
    for mb in &settings.mailboxes {
        let place = format!(
            "{}@{}:{}{} {} via {}",
            mb.username,
            mb.host,
            mb.port,
            match mb.tls_mode() {
                crate::config::ImapTls::Implicit => " (TLS)",
                crate::config::ImapTls::Starttls => " (STARTTLS)",
                crate::config::ImapTls::None => "",
            },
            mb.folder,
            mb.auth.as_str()
        );
        let opened =
            match super::oauth::credential(mb, passwords.get(&mb.name), pool.as_ref()).await {
                Ok(secret) => imap::open(mb, Some(&secret)).await,
                Err(e) => Err(e),
            };
        match opened {
            Ok(session) => {
                writeln!(
                    out,
                    "mailbox {}: ok — {place}: UIDVALIDITY {}, {} messages, {}",
                    mb.name,
                    session.uidvalidity(),
                    session.exists_at_select(),
                    if session.supports_idle() {
                        "IDLE offered (push)"
                    } else {
                        "no IDLE (polling)"
                    }
                )?;
                session.logout().await;
            }
            Err(e) => {
                writeln!(out, "mailbox {}: FAILED — {place}: {e:#}", mb.name)?;
                report.failed.push(format!("mailbox {}", mb.name));
            }
        }
    }
    if let Some(pool) = pool {
        stored_state(settings, &pool, out).await?;
        pool.close().await;
    }
    if report.ok() && !report.warnings.is_empty() {
        writeln!(
            out,
            "all checks passed, with warnings: {}",
            report.warnings.join(", ")
        )?;
    } else if report.ok() {
        writeln!(out, "all checks passed")?;
    } else {
        writeln!(out, "failed: {}", report.failed.join(", "))?;
    }
    Ok(report)
}

/// The database URL without its password.
fn redacted(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) => {
            if u.password().is_some() {
                let _ = u.set_password(Some("***"));
            }
            u.to_string()
        }
        Err(_) => "(unparseable URL)".to_string(),
    }
}

async fn check_database(
    settings: &Settings,
    out: &mut dyn Write,
    report: &mut DoctorReport,
) -> std::io::Result<Option<PgPool>> {
    let shown = redacted(&settings.database.url);
    let connected = tokio::time::timeout(
        Duration::from_secs(15),
        PgPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(10))
            .connect(&settings.database.url),
    )
    .await;
    let pool = match connected {
        Ok(Ok(p)) => p,
        Ok(Err(e)) => {
            writeln!(out, "database: FAILED — {shown}: {e}")?;
            report.failed.push("database".into());
            return Ok(None);
        }
        Err(_) => {
            writeln!(out, "database: FAILED — {shown}: no connection within 15 s")?;
            report.failed.push("database".into());
            return Ok(None);
        }
    };
    match store::doctor::server_version(&pool).await {
        Ok(v) => writeln!(out, "database: ok — {shown}: PostgreSQL {v}")?,
        Err(e) => {
            writeln!(out, "database: FAILED — {shown}: {e}")?;
            report.failed.push("database".into());
            return Ok(None);
        }
    }
    let applied: HashSet<i64> = store::doctor::applied_migrations(&pool)
        .await
        .map(|versions| versions.into_iter().collect())
        .unwrap_or_default();
    let pending: Vec<String> = store::MIGRATOR
        .iter()
        .filter(|m| m.migration_type.is_up_migration() && !applied.contains(&m.version))
        .map(|m| format!("{} {}", m.version, m.description))
        .collect();
    check_role(settings, &pool, out, report).await?;
    if pending.is_empty() {
        writeln!(out, "database: migrations: all {} applied", applied.len())?;
    } else {
        writeln!(
            out,
            "database: migrations: {} pending ({}); `claimdesk migrate` or `serve` applies them",
            pending.len(),
            pending.join(", ")
        )?;
    }
    Ok(Some(pool))
}

/// Warns when the app's connection (`database.url`) could rewrite its own audit trail: as a
/// superuser (which may drop the triggers) or as the owner of `audit_events` (which may
/// drop them, and holds every privilege).
async fn check_role(
    settings: &Settings,
    pool: &PgPool,
    out: &mut dyn Write,
    report: &mut DoctorReport,
) -> std::io::Result<()> {
    let role = match store::audit::current_role(pool).await {
        Ok(r) => r,
        Err(e) => {
            writeln!(out, "database: role: cannot tell ({e})")?;
            return Ok(());
        }
    };
    let fix = if settings.database.migrate_url.is_some() {
        "give database.url a role that owns nothing (e.g. claimdesk_app)"
    } else {
        "set database.migrate_url to the owner's connection (e.g. claimdesk_owner) and \
         database.url to a role that owns nothing (e.g. claimdesk_app); scripts/run-local.sh \
         creates both"
    };
    let what = if role.superuser {
        Some("a superuser")
    } else if role.owns_audit {
        Some("the owner of audit_events")
    } else {
        None
    };
    match what {
        Some(what) => {
            writeln!(
                out,
                "database: WARNING — the app connects as role {} ({what}): it could alter or \
                 empty its own audit trail; {fix}",
                role.name
            )?;
            report.warnings.push("database role".into());
        }
        None => writeln!(
            out,
            "database: role {}: not a superuser, not the owner of audit_events (audit is \
             append-only for it)",
            role.name
        )?,
    }
    Ok(())
}

async fn stored_state(
    settings: &Settings,
    pool: &PgPool,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    let rows = match pool.acquire().await {
        Ok(mut c) => store::mailbox_status::list(&mut c).await,
        Err(e) => Err(e),
    };
    let rows = match rows {
        Ok(r) => r,
        Err(e) => {
            writeln!(out, "stored state: unavailable ({e})")?;
            return Ok(());
        }
    };
    let never = || "never".to_string();
    for mb in &settings.mailboxes {
        let cursor = match pool.acquire().await {
            Ok(mut c) => store::cursors::get(&mut c, &mb.name).await.ok().flatten(),
            Err(_) => None,
        };
        let cursor = cursor
            .map(|c| {
                format!(
                    "cursor UIDVALIDITY {} last UID {}",
                    c.uidvalidity, c.last_uid
                )
            })
            .unwrap_or_else(|| "no cursor yet".into());
        match rows.iter().find(|r| r.name == mb.name) {
            None => writeln!(
                out,
                "stored {}: {cursor}; no intake state yet (serve has not run)",
                mb.name
            )?,
            Some(r) => {
                writeln!(
                    out,
                    "stored {}: {cursor}; read by {}; mode {}; last success {}; {}",
                    mb.name,
                    match (&r.reader, r.reader_epoch, r.reader_checked_at) {
                        (Some(h), Some(e), Some(at)) => {
                            format!("{h} (lease epoch {e}, checked {})", at.to_rfc3339())
                        }
                        _ => "no replica yet".into(),
                    },
                    r.mode.as_deref().unwrap_or("unknown"),
                    r.last_success_at
                        .map(|t| t.to_rfc3339())
                        .unwrap_or_else(never),
                    match (&r.last_error, r.last_error_at) {
                        (Some(e), Some(at)) => format!(
                            "last error at {}{}: {e}",
                            at.to_rfc3339(),
                            if r.failing() { " (failing now)" } else { "" }
                        ),
                        _ => "no error recorded".into(),
                    }
                )?;
            }
        }
    }
    Ok(())
}
