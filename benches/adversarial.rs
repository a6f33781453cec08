//! Issue 10's adversarial corpus (`tests/support/adversarial.rs`) through the real intake
//! path (`App::intake_once`: IMAP fetch from a real Dovecot, parse, thread, store in a real
//! Postgres), one case at a time, each followed by an ordinary email that must become a
//! ticket.
//!
//! Per case it prints the messages and bytes appended, the intake time of the case's run,
//! the time per message (the run's time over its messages: every case but the three 25 MB
//! messages is one message) and the peak RSS during that run (VmHWM of this process, reset
//! before the run through `/proc/self/clear_refs`, so each case's figure is its own; the
//! case's bytes are generated, appended and freed before the reset). Targets: ≤ 1 s per
//! message, ≤ 200 MB peak RSS.
//! Run: `cargo bench --bench adversarial` (needs the test services, see TESTING.md).
//! `ADVERSARIAL_CASES=a,b` runs only the named cases.

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::Instant;

use support::adversarial::{cases, ordinary, ordinary_id};
use support::harness::{env, Platforms};
use support::rss::{reset_hwm, vm_hwm_kb};

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --all-targets` runs this binary without it.
    if !std::env::args().any(|a| a == "--bench") {
        println!("adversarial: measured only under `cargo bench --bench adversarial`");
        return;
    }
    // The same allocator setting as `claimdesk` itself, so the peak RSS is the binary's.
    claimdesk::app::tune_allocator();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("adversarial: no tokio runtime: {e}");
            std::process::exit(1);
        }
    };
    rt.block_on(run());
}

async fn run() {
    let only: Option<Vec<String>> = std::env::var("ADVERSARIAL_CASES")
        .ok()
        .map(|v| v.split(',').map(str::to_string).collect());
    let env = env(Platforms {
        slack: false,
        discord: false,
    })
    .await;
    let app = env.app().await;
    let pool = app.desk.pool().clone();
    println!(
        "{:<24} {:>4} {:>9} {:>10} {:>10} {:>10}",
        "case", "msgs", "MB", "ingest s", "s/msg", "peak MB"
    );
    let (mut worst_per_msg, mut worst_rss) = (0f64, 0u64);
    let mut failures = 0;
    for c in cases() {
        if only
            .as_ref()
            .is_some_and(|o| !o.iter().any(|n| n == c.name))
        {
            continue;
        }
        let msgs = (c.make)();
        let n = msgs.len();
        let bytes: usize = msgs.iter().map(Vec::len).sum();
        if let Err(e) = env.dovecot.append_many("INBOX", &msgs).await {
            println!("{:<24} APPEND failed: {e:#}", c.name);
            failures += 1;
            continue;
        }
        drop(msgs);
        let reset = reset_hwm();
        let t = Instant::now();
        let report = app.intake_once().await;
        let secs = t.elapsed().as_secs_f64();
        let hwm_mb = vm_hwm_kb() as f64 / 1024.0;
        let ok = report
            .as_ref()
            .ok()
            .and_then(|r| r.first())
            .is_some_and(|(_, r)| r.as_ref().is_ok_and(|r| r.fetched == n));
        let per_msg = secs / n as f64;
        worst_per_msg = worst_per_msg.max(per_msg);
        worst_rss = worst_rss.max(hwm_mb as u64);
        println!(
            "{:<24} {:>4} {:>9.1} {:>10.3} {:>10.3} {:>10.1}{}{}",
            c.name,
            n,
            bytes as f64 / 1e6,
            secs,
            per_msg,
            hwm_mb,
            if reset { "" } else { " (HWM not reset)" },
            if ok {
                ""
            } else {
                "  INTAKE DID NOT FETCH THE CASE"
            }
        );
        if !ok {
            failures += 1;
        }
        // The ordinary email after it must be a ticket.
        let _ = env.dovecot.append("INBOX", &ordinary(c.name)).await;
        let _ = app.intake_once().await;
        let ticket: Option<(i64,)> =
            sqlx::query_as("SELECT ticket_id FROM messages WHERE message_id = $1")
                .bind(ordinary_id(c.name))
                .fetch_optional(&pool)
                .await
                .ok()
                .flatten();
        if ticket.is_none() {
            println!("{:<24} THE ORDINARY EMAIL AFTER IT IS NO TICKET", c.name);
            failures += 1;
        }
    }
    println!(
        "worst per-message ingest time: {worst_per_msg:.3} s (target ≤ 1 s); \
         worst peak RSS: {worst_rss} MB (target ≤ 200 MB); failures: {failures}"
    );
    println!("machine: {}", claimdesk_testkit::bench::machine());
    drop(app);
}
