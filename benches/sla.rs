//! What SLA clocks cost and how fast their alerts go out, on real Postgres:
//! - ingest of `SLA_TICKETS` new tickets (default 10,000) through `Desk::ingest_batch` in
//!   batches of 500, SLA off and then on (first response 1 h, resolution 1 d, wall time), in
//!   two databases of the same server: messages/s each and the ratio;
//! - `Desk::sla_tick` at the moment every one of those tickets owes its warning (a backlog
//!   after downtime): alerts/s (each alert: clocks saved, a channel notice, a card refresh and
//!   an audit row queued, in transactions of 200 tickets).
//!
//! Prints the figures and the machine. Run: `cargo bench --bench sla` (needs the test
//! database, see TESTING.md); `SLA_TICKETS=N` changes the count.

#[path = "../tests/support/mod.rs"]
mod support;

use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Duration, TimeZone, Utc};
use claimdesk::config::SlaSettings;
use claimdesk::desk::{Desk, Fetched};
use support::harness::{customer_email, db_only, Platforms, TestEnv};

fn main() {
    claimdesk_testkit::bench::main("sla", run);
}

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 2, 10, 0, 0)
        .single()
        .expect("date")
}

async fn desk(on: bool) -> (TestEnv, Desk) {
    let mut env = db_only(Platforms {
        slack: false,
        discord: false,
    })
    .await;
    env.settings.sla = SlaSettings::from_toml(&format!(
        "enabled = {on}\n\n[[policies]]\nbusiness_hours = false\n\
         first_response = \"1h\"\nresolution = \"1d\"\n"
    ))
    .expect("sla settings");
    let app = env.app().await;
    let desk = app.desk.clone().with_clock(Arc::new(t0));
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
                    &format!("bench{i}@customer.example"),
                    &format!("Question {i}"),
                    "Body",
                    None,
                );
                let size = raw.len();
                Fetched::new(i + 1, raw, size).received(t0())
            })
            .collect();
        uid += batch.len() as u32;
        desk.ingest_batch("support", 1, &batch)
            .await
            .expect("ingest batch");
    }
    started.elapsed().as_secs_f64()
}

async fn run() {
    let n: u32 = std::env::var("SLA_TICKETS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let (_off_env, off) = desk(false).await;
    let off_secs = ingest(&off, n).await;
    let (_on_env, on) = desk(true).await;
    let on_secs = ingest(&on, n).await;
    let started = Instant::now();
    let alerts = on
        .sla_tick(t0() + Duration::minutes(45))
        .await
        .expect("tick");
    let tick_secs = started.elapsed().as_secs_f64();
    assert_eq!(alerts, n as usize, "one warning per ticket");
    println!("sla bench: {n} tickets, batches of 500");
    println!(
        "  ingest SLA off: {:.0} msg/s; SLA on: {:.0} msg/s (on/off = {:.2})",
        f64::from(n) / off_secs,
        f64::from(n) / on_secs,
        off_secs / on_secs
    );
    println!(
        "  sla_tick: {alerts} warnings in {tick_secs:.2} s ({:.0} alerts/s)",
        alerts as f64 / tick_secs
    );
    println!("  machine: {}", claimdesk_testkit::bench::machine());
}
