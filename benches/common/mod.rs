//! What the benches over the generated 1,000,000-ticket desk share (`benches/reports.rs`,
//! `benches/web.rs`, `benches/scale.rs`): the sizes from the environment and the fill
//! databases they reuse, named `<prefix>_<tickets>` (`claimdesk_bench_…` for reports and web,
//! `claimdesk_scale_…` for scale, whose claims write to it).
//! Not a bench target itself (a folder's `mod.rs`); each bench includes it with `mod common;`
//! and uses only part of it.
#![allow(dead_code)]

use claimdesk_testkit::fill::{fill, FillSpec, Filled};
use sqlx::Connection as _;

/// The number in variable `name` (`_` separators allowed), else `default`.
pub fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(default)
}

/// The name prefix of the database the reports and web benches share.
pub const BENCH_PREFIX: &str = "claimdesk_bench";

/// The server's admin URL, the bench database's URL and its name (`claimdesk_bench_<tickets>`;
/// the server from `CLAIMDESK_TEST_DATABASE_URL`, else local Postgres).
pub fn urls(tickets: u64) -> (String, String, String) {
    urls_named(BENCH_PREFIX, tickets)
}

/// As [`urls`] for the database `<prefix>_<tickets>`.
pub fn urls_named(prefix: &str, tickets: u64) -> (String, String, String) {
    let admin = std::env::var("CLAIMDESK_TEST_DATABASE_URL")
        .ok()
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let name = format!("{prefix}_{tickets}");
    let mut url = url::Url::parse(&admin).expect("database URL");
    url.set_path(&format!("/{name}"));
    (admin, url.to_string(), name)
}

/// The bench database `claimdesk_bench_<tickets>`: reused when it already holds
/// `spec.tickets` tickets under the current migrations (pending migrations of newer commits
/// are applied; one changed since the fill means another schema), else dropped, migrated and
/// filled by COPY (`REPORTS_REFILL=1` forces that). Its URL, and the fill's figures when it
/// was filled.
pub async fn database(spec: &FillSpec) -> (String, Option<Filled>) {
    let refill = std::env::var_os("REPORTS_REFILL").is_some();
    database_named(BENCH_PREFIX, spec, refill).await
}

/// As [`database`] for the database `<prefix>_<tickets>` ([`urls_named`]); `refill` drops
/// and fills it even when it could be reused.
pub async fn database_named(
    prefix: &str,
    spec: &FillSpec,
    refill: bool,
) -> (String, Option<Filled>) {
    let (admin, url, name) = urls_named(prefix, spec.tickets);
    let existing = match sqlx::PgConnection::connect(&url).await {
        Ok(mut c) => {
            let n: Option<(i64,)> = sqlx::query_as("SELECT count(*) FROM tickets")
                .fetch_optional(&mut c)
                .await
                .ok()
                .flatten();
            let _ = c.close().await;
            n.map(|n| n.0 as u64)
        }
        Err(_) => None,
    };
    if existing == Some(spec.tickets) && !refill {
        match claimdesk::store::connect_and_migrate(&url, 1).await {
            Ok(pool) => {
                pool.close().await;
                println!("database {name}: reused ({} tickets)", spec.tickets);
                return (url, None);
            }
            Err(e) => println!("database {name}: {e:#}; filling it again"),
        }
    }
    let mut c = sqlx::PgConnection::connect(&admin)
        .await
        .expect("admin connection");
    sqlx::query(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
        .execute(&mut c)
        .await
        .expect("drop bench database");
    let _ = c.close().await;
    claimdesk::store::connect_and_migrate(&url, 1)
        .await
        .expect("create and migrate")
        .close()
        .await;
    let filled = fill(&url, spec).await.expect("fill");
    (url, Some(filled))
}
