//! Reports at scale (issue 14), on a generated desk of 1,000,000 tickets and 5,000,000
//! messages with their SLA clocks (`claimdesk_testkit::fill`), kept between runs in the
//! database `claimdesk_bench_<tickets>` (regenerated when absent, when its ticket count
//! differs or a migration it was filled under changed, or with `REPORTS_REFILL=1`).
//!
//! - `report`: the release binary exports every ticket (`claimdesk report --format csv`,
//!   then `json`) to /dev/null; prints rows/s and the child's peak RSS (`ru_maxrss` of
//!   `wait4(2)`). Target: peak RSS ≤ 100 MB.
//! - SLA state: the clocks of every open ticket (about 100,000) loaded and their due time,
//!   headline and next moment computed with `domain::sla` under business hours. Target ≤ 1 s.
//! - `stats 28d` over the 1,000,000 tickets. Target ≤ 2 s.
//! - `EXPLAIN (ANALYZE, BUFFERS)` of the main queries.
//!
//! Prints the machine (CPUs, CPU model, RAM). Run: `cargo bench --bench reports` (Postgres
//! on 127.0.0.1:5432, or `CLAIMDESK_TEST_DATABASE_URL`). `REPORTS_TICKETS=N` and
//! `REPORTS_MESSAGES=M` change the size (default 1,000,000 and 5,000,000).

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use claimdesk_testkit::fill::FillSpec;
use sqlx::Connection as _;

fn main() {
    claimdesk_testkit::bench::main("reports", run);
}

mod common;
use common::env_u64;

/// The shared fill database (`common::database`), with this bench's line on a fill.
async fn database(spec: &FillSpec) -> String {
    let (url, filled) = common::database(spec).await;
    if let Some(filled) = filled {
        let (_, _, name) = common::urls(spec.tickets);
        println!(
            "database {name}: filled {} tickets ({} not done), {} messages, {} SLA clocks, {} agents in {:.1} s",
            filled.tickets,
            filled.open,
            filled.messages,
            filled.clocks,
            filled.agents,
            filled.elapsed.as_secs_f64()
        );
    }
    url
}

async fn run() {
    println!("machine: {}", claimdesk_testkit::bench::machine());
    let spec = FillSpec {
        tickets: env_u64("REPORTS_TICKETS", 1_000_000),
        messages: env_u64("REPORTS_MESSAGES", 5_000_000),
        ..FillSpec::default()
    };
    let url = database(&spec).await;
    let config = bench_config(&url);
    let from = (chrono::Utc::now() - chrono::Duration::days(3650)).format("%Y-%m-%d");
    let to = (chrono::Utc::now() + chrono::Duration::days(2)).format("%Y-%m-%d");

    let mut verdicts = Vec::new();
    for format in ["csv", "json"] {
        let (rows, took, rss_kb) =
            report(&config, &url, &from.to_string(), &to.to_string(), format);
        println!(
            "report --format {format}: {rows} rows in {:.2} s = {:.0} rows/s; peak RSS {:.1} MB",
            took.as_secs_f64(),
            rows as f64 / took.as_secs_f64(),
            rss_kb as f64 / 1024.0
        );
        verdicts.push((
            format!("report {format} peak RSS ≤ 100 MB"),
            rss_kb <= 100 * 1024,
        ));
    }

    let mut conn = sqlx::PgConnection::connect(&url)
        .await
        .expect("bench connection");

    let mut settings = claimdesk::config::Settings::load(&config).expect("bench settings");
    settings.database.url = url.clone();
    settings.database.migrate_url = None;
    settings.slack = None;
    settings.discord = None;

    // SLA state of every open ticket, twice (the second with a warm cache).
    for run in ["cold", "warm"] {
        let t = Instant::now();
        let state =
            claimdesk::desk::report::open_sla_state(&mut conn, &settings.sla, chrono::Utc::now())
                .await
                .expect("SLA state");
        let took = t.elapsed();
        println!(
            "SLA state ({run}): all open tickets read, {} with a running clock ({} clocks) in {:.3} s ({} overdue, {} due within the hour, next moment {:?})",
            state.tickets,
            state.clocks,
            took.as_secs_f64(),
            state.overdue,
            state.due_within_hour,
            state.next_moment
        );
        if run == "warm" {
            verdicts.push((
                format!(
                    "SLA state of the open tickets ({} with a running clock) ≤ 1 s",
                    state.tickets
                ),
                took <= Duration::from_secs(1),
            ));
        }
    }

    // `stats 28d` over every ticket, through the desk as chat runs it.
    let app = claimdesk::app::App::build(settings, claimdesk::app::Secrets::default())
        .await
        .expect("app over the bench database");
    let query = claimdesk::desk::stats::StatsQuery {
        range: claimdesk::desk::stats::Range::Days(28),
        department: None,
        channel: None,
    };
    for run in ["cold", "warm"] {
        let t = Instant::now();
        let r = app.desk.stats(&query).await.expect("stats 28d");
        let took = t.elapsed();
        println!(
            "stats 28d ({run}): {:.3} s ({} opened, {} resolved, backlog {:?}, first response {:?}, {} agents)",
            took.as_secs_f64(),
            r.opened,
            r.resolved,
            r.backlog,
            r.first_response,
            r.agents.len()
        );
        if run == "warm" {
            verdicts.push(("stats 28d ≤ 2 s".into(), took <= Duration::from_secs(2)));
        }
    }
    drop(app);

    let range = claimdesk::store::report::Range {
        from: chrono::Utc::now() - chrono::Duration::days(30),
        to: chrono::Utc::now(),
        department: Some("billing".into()),
        tags: vec![],
        group_by_tag: false,
    };
    let plans = claimdesk::store::report::explain(&mut conn, &range)
        .await
        .expect("explain");
    println!(
        "EXPLAIN (ANALYZE, BUFFERS), report over the last 30 days of billing, and open clocks:"
    );
    for line in plans.lines().filter(|l| summary_line(l)) {
        println!("  {line}");
    }
    let _ = conn.close().await;

    let verdict = |ok: bool| if ok { "met" } else { "MISSED" };
    let list: Vec<String> = verdicts
        .iter()
        .map(|(what, ok)| format!("{what} {}", verdict(*ok)))
        .collect();
    println!("targets: {}", list.join("; "));
}

/// The plan lines worth printing: nodes, row counts, buffers and timings.
fn summary_line(l: &str) -> bool {
    l.starts_with("--")
        || l.contains("->")
        || l.starts_with("Limit")
        || l.starts_with("Sort")
        || l.starts_with("Merge")
        || l.starts_with("Hash")
        || l.starts_with("Nested")
        || l.starts_with("Gather")
        || l.contains("Planning Time")
        || l.contains("Execution Time")
        || l.trim_start().starts_with("Buffers")
}

/// Runs the release binary's `report` over `[from, to)` in `format` to /dev/null; returns
/// the rows (tickets in the range, counted by SQL before), its wall time and its peak RSS
/// (KB, `ru_maxrss` from `wait4`).
fn report(
    config: &std::path::Path,
    url: &str,
    from: &str,
    to: &str,
    format: &str,
) -> (u64, Duration, u64) {
    let started = Instant::now();
    let child = Command::new(env!("CARGO_BIN_EXE_claimdesk"))
        .arg("--config")
        .arg(config)
        .args(["report", "--from", from, "--to", to, "--format", format])
        .env("CLAIMDESK__DATABASE__URL", url)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn claimdesk report");
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value; wait4 fills it for our own child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `pid` is our child, not yet waited for; `status` and `usage` outlive the call.
    let waited = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let took = started.elapsed();
    assert_eq!(waited, pid, "wait4");
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "claimdesk report failed: status {status}"
    );
    // The child is reaped; std's handle must not wait again.
    std::mem::forget(child);
    let rows = count_rows(url, from, to);
    (rows, took, usage.ru_maxrss as u64)
}

/// `config/default.toml` with office hours for every department (Europe/Berlin, Mon-Fri
/// 09:00-17:00, two holidays), so business durations are computed as in production; written
/// next to the target directory.
fn bench_config(url: &str) -> std::path::PathBuf {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut text = std::fs::read_to_string(root.join("config/default.toml")).expect("default.toml");
    text.push_str(
        "\n[sla.hours.default]\ntimezone = \"Europe/Berlin\"\nmon = \"09:00-17:00\"\n\
         tue = \"09:00-17:00\"\nwed = \"09:00-17:00\"\nthu = \"09:00-17:00\"\n\
         fri = \"09:00-17:00\"\nholidays = [\"2026-12-25\", \"2026-12-26\"]\n",
    );
    let path = root.join("target").join("bench-reports.toml");
    std::fs::write(&path, text).expect("write bench config");
    let _ = url;
    path
}

fn count_rows(url: &str, from: &str, to: &str) -> u64 {
    let (url, from, to) = (url.to_string(), from.to_string(), to.to_string());
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
            .block_on(async move {
                let mut c = sqlx::PgConnection::connect(&url).await.expect("connect");
                let (n,): (i64,) = sqlx::query_as(
                    "SELECT count(*) FROM tickets WHERE opened_at >= $1::date AND opened_at < $2::date",
                )
                .bind(from)
                .bind(to)
                .fetch_one(&mut c)
                .await
                .expect("count");
                n as u64
            })
    })
    .join()
    .expect("count thread")
}
