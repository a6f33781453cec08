//! `stats 28d` over a million tickets: the figures `stats` and the weekly digest compute
//! (`Desk::stats_at`: the set-based queries of `store::stats` and the arithmetic of
//! `desk::stats`) on a real Postgres holding 1,000,000 tickets opened over 365 days (most
//! answered, three holders, two departments; a third resolved within days, the rest of those
//! older than 30 days resolved after two days, so the backlog is the last month's) and one
//! SLA clock per ticket.
//! Prints the time to load the rows, then per range (`28d`, `7d`, `28d` of one department)
//! the best and median of 5 runs and the rows read. Target: `28d` ≤ 2 s.
//! Run: `cargo bench --bench stats_28d` (needs Postgres, see TESTING.md).
//! `STATS_TICKETS=N` changes the count.

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::Instant;

use chrono::Utc;
use claimdesk::desk::stats::{Range, StatsQuery};
use support::harness::*;

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        println!("stats_28d: measured only under `cargo bench --bench stats_28d`");
        return;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    rt.block_on(run());
}

async fn run() {
    let n: i64 = std::env::var("STATS_TICKETS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let mut env = db_only(Platforms {
        slack: false,
        discord: false,
    })
    .await;
    let mut billing = env.settings.departments[0].clone();
    billing.name = "billing".into();
    env.settings.departments.push(billing);
    let app = env.app().await;
    let pool = app.desk.pool().clone();
    let now = Utc::now();
    let t = Instant::now();
    // Tickets spread evenly over the last 365 days; deterministic per index.
    sqlx::query(
        "INSERT INTO tickets (number, year, seq, status, assignee_id, requester_email, subject,
                              mailbox, department, opened_at, created_at, first_response_at,
                              resolved_at)
         SELECT 'B-' || i, 2000 + (i % 100), i,
                CASE WHEN i % 3 = 0 OR o < $2 - interval '30 days' THEN 'resolved' ELSE 'open' END,
                (SELECT id FROM agents ORDER BY id OFFSET (i % 3) LIMIT 1),
                'x@customer.example', 'bench', 'support',
                CASE WHEN i % 4 = 0 THEN 'billing' ELSE 'support' END,
                o, o,
                CASE WHEN i % 5 <> 0 THEN o + make_interval(mins => (5 + (i * 37) % 600)::int) END,
                CASE WHEN i % 3 = 0 THEN o + make_interval(mins => (90 + (i * 131) % 5000)::int)
                     WHEN o < $2 - interval '30 days' THEN o + interval '2 days' END
         FROM generate_series(1, $1::bigint) AS i,
              LATERAL (SELECT $2::timestamptz - make_interval(secs => (i * 31536000.0 / $1)) AS o) s",
    )
    .bind(n)
    .bind(now)
    .execute(&pool)
    .await
    .expect("tickets");
    sqlx::query(
        "INSERT INTO sla_clocks (ticket_id, metric, goal_secs, business, started_at, met_at,
                                 breaches, breached_at)
         SELECT id, 'first_response', 3600, false, opened_at, first_response_at,
                CASE WHEN first_response_at > opened_at + interval '1 hour' THEN 1 ELSE 0 END,
                CASE WHEN first_response_at > opened_at + interval '1 hour'
                     THEN opened_at + interval '1 hour' END
         FROM tickets",
    )
    .execute(&pool)
    .await
    .expect("clocks");
    sqlx::query("ANALYZE tickets")
        .execute(&pool)
        .await
        .expect("analyze");
    sqlx::query("ANALYZE sla_clocks")
        .execute(&pool)
        .await
        .expect("analyze");
    println!(
        "loaded {n} tickets and {n} SLA clocks in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    for (label, range, department) in [
        ("28d", Range::Days(28), None),
        ("7d", Range::Days(7), None),
        ("28d billing", Range::Days(28), Some("billing".to_string())),
    ] {
        let q = StatsQuery {
            range,
            department,
            channel: None,
        };
        let mut ms = Vec::new();
        let mut rows = 0;
        for _ in 0..5 {
            let t = Instant::now();
            let r = app.desk.stats_at(&q, now).await.expect("stats");
            ms.push(t.elapsed().as_secs_f64() * 1000.0);
            rows = r.opened + r.resolved;
        }
        ms.sort_by(|a, b| a.total_cmp(b));
        println!(
            "stats {label:<12} best {:>7.1} ms  median {:>7.1} ms  (opened+resolved {rows})  target ≤ 2000 ms",
            ms[0], ms[2]
        );
    }
}
