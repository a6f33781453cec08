//! What intake rules (`[[tags.rules]]`) cost, on real Postgres:
//! - ingest of `TAG_TICKETS` new tickets (default 10,000) through `Desk::ingest_batch` in
//!   batches of 500, without rules and then with 10 rules (subject and body patterns, sender
//!   domains) of which two match every message, in two databases of the same server:
//!   messages/s each and the ratio (each matching rule adds a `ticket_tags` row per tag and
//!   an audit row to the ~5 rows a new ticket writes, so the ratio follows the row count);
//! - `Rules::evaluate` alone on an ordinary email and on a hostile one (a 25 MB body of
//!   near-matches): µs per message (the body is matched only up to its first 64 KiB).
//!
//! Prints the figures and the machine. Run: `cargo bench --bench tags` (needs the test
//! database); `TAG_TICKETS=N` changes the count.

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::Instant;

use claimdesk::config::TagSettings;
use claimdesk::desk::{Desk, Fetched};
use claimdesk::domain::tags::Incoming;
use support::harness::{customer_email, db_only, Platforms, TestEnv};

fn main() {
    claimdesk_testkit::bench::main("tags", run);
}

/// Ten rules; `invoice` (subject) and `customer` (domain) match every bench email.
const RULES: &str = r#"
[[rules]]
name = "invoice"
subject = "(?i)question|invoice|refund"
tags = ["billing"]
priority = "high"
[[rules]]
name = "customer"
domain = ["customer.example"]
tags = ["customer"]
[[rules]]
name = "outage"
body = "(?i)\\b(outage|down|unreachable)\\b"
tags = ["outage"]
[[rules]]
name = "legal"
body = "(?i)gdpr|subpoena|lawyer"
tags = ["legal"]
[[rules]]
name = "vip1"
domain = ["bigcorp.example", "megacorp.example"]
tags = ["vip"]
[[rules]]
name = "vip2"
from = ["ceo@small.example"]
tags = ["vip"]
[[rules]]
name = "shipping"
subject = "(?i)parcel|delivery|tracking"
tags = ["shipping"]
[[rules]]
name = "security"
subject = "(?i)password|2fa|hacked|phishing"
tags = ["security"]
[[rules]]
name = "cancel"
body = "(?i)cancel (my|the) (account|subscription)"
tags = ["churn"]
[[rules]]
name = "spam"
subject = "(?i)\\bSEO\\b|backlinks"
tags = ["spam"]
priority = "low"
"#;

async fn desk(rules: bool) -> (TestEnv, Desk) {
    let mut env = db_only(Platforms {
        slack: false,
        discord: false,
    })
    .await;
    if rules {
        env.settings.tags = TagSettings::from_toml(RULES).expect("rules");
    }
    let app = env.app().await;
    let desk = app.desk.clone();
    (env, desk)
}

/// Ingests `n` new tickets in batches of 500; seconds taken.
async fn ingest(desk: &Desk, n: u32) -> f64 {
    let started = Instant::now();
    let mut uid = 0;
    while uid < n {
        let batch: Vec<Fetched> = (uid..(uid + 500).min(n))
            .map(|i| {
                let raw = customer_email(
                    &format!("tagbench{i}@customer.example"),
                    &format!("Question {i}"),
                    "My order arrived broken; please tell me what to do next.",
                    None,
                );
                let size = raw.len();
                Fetched::new(i + 1, raw, size)
            })
            .collect();
        uid += batch.len() as u32;
        desk.ingest_batch("support", 1, &batch)
            .await
            .expect("ingest batch");
    }
    started.elapsed().as_secs_f64()
}

/// µs per `Rules::evaluate` of `m`, over `times` runs.
fn per_eval(settings: &TagSettings, m: &Incoming<'_>, times: u32) -> f64 {
    let started = Instant::now();
    let mut tagged = 0usize;
    for _ in 0..times {
        tagged += settings.rules().evaluate(m).tags().len();
    }
    assert!(tagged > 0 || times == 0);
    started.elapsed().as_secs_f64() * 1e6 / f64::from(times)
}

async fn run() {
    let n: u32 = std::env::var("TAG_TICKETS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let (_off_env, off) = desk(false).await;
    let off_secs = ingest(&off, n).await;
    let (on_env, on) = desk(true).await;
    let on_secs = ingest(&on, n).await;
    let tagged = support::harness::count(
        on.pool(),
        "SELECT count(DISTINCT ticket_id) FROM ticket_tags",
    )
    .await;
    assert_eq!(tagged, i64::from(n), "every ticket tagged by the rules");
    let settings = &on_env.settings.tags;
    let ordinary = Incoming {
        mailbox: "support",
        from: "dana@customer.example",
        dmarc: None,
        subject: "Question about my invoice",
        body: "My order arrived broken; please tell me what to do next.",
    };
    let hostile_body = "cancel my accoun down-ish outag ".repeat(25 * 1024 * 1024 / 32);
    let hostile = Incoming {
        mailbox: "support",
        from: "x@customer.example",
        dmarc: None,
        subject: &"invoic ".repeat(100_000),
        body: &hostile_body,
    };
    let ordinary_us = per_eval(settings, &ordinary, 10_000);
    let hostile_us = per_eval(settings, &hostile, 20);
    println!("tags bench: {n} tickets, batches of 500, 10 rules (2 match each message)");
    println!(
        "  ingest without rules: {:.0} msg/s; with rules: {:.0} msg/s (with/without = {:.2})",
        f64::from(n) / off_secs,
        f64::from(n) / on_secs,
        off_secs / on_secs
    );
    println!(
        "  Rules::evaluate: {ordinary_us:.1} µs on an ordinary email; {hostile_us:.0} µs on a 25 MB body and 700 KB subject of near-matches (64 KiB of each matched)"
    );
    println!("  machine: {}", claimdesk_testkit::bench::machine());
}
