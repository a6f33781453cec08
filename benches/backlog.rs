//! Backlog throughput of email intake: 10,000 messages already in a real Dovecot, all stored
//! by claimdesk's real intake path (`intake::pipeline::fetch_mailbox`: UID SEARCH, pipelined
//! `UID FETCH` batches, `Desk::ingest_batch` — parse, thread, store, card effects in the
//! outbox, cursor — in one transaction per batch) into a real Postgres, Slack configured so
//! every ticket queues its card (the outbox is not delivered here).
//!
//! The messages are the files of `../shared/corpus/threads-lkml/`, repeated with fresh
//! msg-ids: copy k rewrites every `<id>` of the Message-ID, In-Reply-To and References
//! headers to `<k.id>`, in memory only, so each copy is its own set of threads.
//!
//! Next to it, measured in the same run on the same services, the raw bound:
//! - a plain `UID FETCH` of the same messages (async-imap, same batch size), and
//! - the same rows written the fastest plain way into the same tables of a second database
//!   on the same Postgres: every row intake wrote, `COPY … FROM STDIN` in the text format
//!   (what pg_dump writes), split over as many transactions as intake used, foreign-key
//!   triggers off. No decisions, no parsing, no lookups: what storing alone costs.
//!
//! Prints messages/s for both, the ratio, the peak RSS (VmHWM of this process, read right
//! after intake: an upper bound of intake's own, since the harness shares the process) and
//! the machine. Targets: ≥ 2,000 msg/s, ≥ 50 % of the bound, peak RSS ≤ 200 MB.
//! Run: `cargo bench --bench backlog` (needs the test services, see TESTING.md).
//! `BACKLOG_MESSAGES=N` changes the count.
//!
//! `BACKLOG_MODE=parallel` measures storing alone, by mailbox count (issue 13): the messages
//! are parsed in memory (no IMAP), copy k of the corpus going to mailbox k mod 2 so threads
//! stay in one mailbox, and stored with `Desk::ingest_isolated` in batches of
//! `intake.fetch_batch`, each run into a fresh database: (1) one mailbox, every message; (2)
//! two mailboxes, one task each, at once; (3) the same two tasks made to store one batch at a
//! time (a mutex around each batch: what the global ingest lock before issue 13 allowed).
//! Prints msg/s for each and the ratio of (2) to (1).

#[path = "../tests/support/mod.rs"]
mod support;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use futures::TryStreamExt;
use secrecy::SecretString;
use sqlx::Connection as _;
use support::harness::{env, repo_path, Platforms};
use support::rss::vm_hwm_kb;
use support::services::TestDb;

/// Tables intake writes, in an order that keeps foreign keys satisfied.
const TABLES: [&str; 15] = [
    "ticket_counters",
    "tickets",
    "thread_keys",
    "messages",
    "ticket_participants",
    "attachments",
    "acknowledgements",
    "notes",
    "noise_messages",
    "audit_events",
    "outbox",
    "duplicate_copies",
    "loop_flags",
    "quarantine",
    "mailbox_cursors",
];

fn main() {
    claimdesk_testkit::bench::main("backlog", run);
}

/// The corpus files (raw bytes), sorted by path.
fn corpus() -> Vec<Vec<u8>> {
    let mut paths: Vec<PathBuf> = Vec::new();
    let mut stack = vec![repo_path("../shared/corpus/threads-lkml")];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("corpus readable") {
            let p = e.expect("corpus entry").path();
            if p.is_dir() {
                stack.push(p);
            } else if !p
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("COPYING"))
            {
                paths.push(p);
            }
        }
    }
    paths.sort();
    paths
        .iter()
        .map(|p| std::fs::read(p).expect("corpus file"))
        .collect()
}

/// `raw` with every `<id>` in its Message-ID, In-Reply-To and References headers (folded
/// lines included) rewritten to `<copy.id>`; the body is untouched.
fn with_fresh_ids(raw: &[u8], copy: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len() + 64);
    let mut in_id_header = false;
    let mut rest = raw;
    while !rest.is_empty() {
        let end = rest
            .iter()
            .position(|&b| b == b'\n')
            .map_or(rest.len(), |i| i + 1);
        let (line, tail) = rest.split_at(end);
        rest = tail;
        if line == b"\n" || line == b"\r\n" {
            out.extend_from_slice(line);
            out.extend_from_slice(rest);
            break;
        }
        let folded = line.first().is_some_and(|b| *b == b' ' || *b == b'\t');
        if !folded {
            let name = line
                .split(|&b| b == b':')
                .next()
                .map(|n| String::from_utf8_lossy(n).trim().to_ascii_lowercase())
                .unwrap_or_default();
            in_id_header = matches!(name.as_str(), "message-id" | "in-reply-to" | "references");
        }
        if in_id_header {
            for &b in line {
                out.push(b);
                if b == b'<' {
                    out.extend_from_slice(format!("{copy}.").as_bytes());
                }
            }
        } else {
            out.extend_from_slice(line);
        }
    }
    out
}

async fn run() {
    if std::env::var("BACKLOG_MODE").is_ok_and(|m| m == "parallel") {
        return parallel().await;
    }
    let total: usize = std::env::var("BACKLOG_MESSAGES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let env = env(Platforms {
        slack: true,
        discord: false,
    })
    .await;
    let batch = env.settings.intake.fetch_batch;
    let files = corpus();

    // APPEND the backlog, generating each copy as it goes (nothing large kept in memory).
    let t = Instant::now();
    let mut imap = env.dovecot.session().await.expect("IMAP session");
    let mut appended_bytes = 0usize;
    for i in 0..total {
        let raw = with_fresh_ids(&files[i % files.len()], i / files.len());
        appended_bytes += raw.len();
        imap.append("INBOX", None, None, &raw)
            .await
            .expect("APPEND");
    }
    let _ = imap.logout().await;
    println!(
        "backlog: {total} messages ({:.1} MB, {} corpus files) APPENDed in {:.1} s",
        appended_bytes as f64 / 1e6,
        files.len(),
        t.elapsed().as_secs_f64()
    );
    drop(files);

    let app = env.app().await;
    let pool = app.desk.pool().clone();
    let mb = env.settings.mailboxes[0].clone();
    let password = SecretString::from(env.dovecot.password.clone());

    // 1. claimdesk's intake.
    let t = Instant::now();
    let report = claimdesk::intake::pipeline::fetch_mailbox(&app.desk, &mb, Some(&password), batch)
        .await
        .unwrap_or_else(|e| panic!("intake: {e:?}"));
    let intake = t.elapsed();
    let hwm_kb = vm_hwm_kb();
    assert_eq!(report.fetched, total, "every message fetched: {report:?}");
    let (stored,): (i64,) = sqlx::query_as("SELECT count(*) FROM messages")
        .fetch_one(&pool)
        .await
        .expect("count");
    let (quarantined,): (i64,) = sqlx::query_as("SELECT count(*) FROM quarantine")
        .fetch_one(&pool)
        .await
        .expect("count");
    assert_eq!(
        stored as usize + quarantined as usize + report.duplicates,
        total,
        "every message is stored, quarantined or a duplicate"
    );

    // 2a. Raw bound, IMAP: plain UID FETCH of the same UIDs in the same batches.
    let t = Instant::now();
    let mut imap = env.dovecot.session().await.expect("IMAP session");
    imap.select("INBOX").await.expect("SELECT");
    let mut uids: Vec<u32> = imap
        .uid_search("ALL")
        .await
        .expect("UID SEARCH")
        .into_iter()
        .collect();
    uids.sort_unstable();
    let mut fetched = 0usize;
    for chunk in uids.chunks(batch as usize) {
        let set = chunk
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(",");
        let bodies: Vec<Vec<u8>> = imap
            .uid_fetch(&set, "(UID BODY.PEEK[])")
            .await
            .expect("UID FETCH")
            .map_ok(|f| f.body().map(<[u8]>::to_vec).unwrap_or_default())
            .try_collect()
            .await
            .expect("UID FETCH items");
        fetched += bodies.len();
    }
    let _ = imap.logout().await;
    let fetch_bound = t.elapsed();
    assert_eq!(fetched, total);

    // 2b. Raw bound, Postgres: the same rows, written the fastest plain way — COPY FROM
    //     STDIN (text format, as pg_dump writes them) — split over as many transactions as
    //     intake used, into a second database on the same server, foreign-key triggers off.
    //     Generated columns (the search vectors of migration 0021) are left out of both
    //     sides: COPY cannot write them, the target computes them as intake's INSERTs did.
    let mut copies: Vec<(&str, String, Vec<Vec<u8>>)> = Vec::new();
    let mut row_count = 0usize;
    {
        let mut conn = pool.acquire().await.expect("connection");
        for table in TABLES {
            let (columns,): (String,) = sqlx::query_as(
                "SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) FROM pg_attribute \
                 WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped \
                   AND attgenerated = ''",
            )
            .bind(table)
            .fetch_one(&mut *conn)
            .await
            .expect("columns");
            let mut stream = conn
                .copy_out_raw(&format!(
                    "COPY (SELECT {columns} FROM {table} ORDER BY 1) TO STDOUT"
                ))
                .await
                .expect("COPY TO STDOUT");
            let mut text: Vec<u8> = Vec::new();
            while let Some(chunk) = stream.try_next().await.expect("COPY data") {
                text.extend_from_slice(&chunk);
            }
            // In the text format a row is one line (newlines inside values are escaped).
            let lines: Vec<Vec<u8>> = text
                .split_inclusive(|b| *b == b'\n')
                .map(<[u8]>::to_vec)
                .collect();
            row_count += lines.len();
            copies.push((table, columns, lines));
        }
    }
    let db2 = TestDb::new().await.expect("second database");
    claimdesk::store::connect_and_migrate(&db2.url, 2)
        .await
        .expect("migrate second database")
        .close()
        .await;
    let mut conn = sqlx::PgConnection::connect(&db2.url)
        .await
        .expect("connect");
    sqlx::query("SET session_replication_role = replica")
        .execute(&mut conn)
        .await
        .expect("FK triggers off");
    let transactions = total.div_ceil(batch as usize);
    let t = Instant::now();
    for i in 0..transactions {
        let mut tx = conn.begin().await.expect("BEGIN");
        for (table, columns, lines) in &copies {
            let per_tx = lines.len().div_ceil(transactions).max(1);
            let Some(part) = lines.chunks(per_tx).nth(i) else {
                continue;
            };
            let mut copy = tx
                .copy_in_raw(&format!("COPY {table} ({columns}) FROM STDIN"))
                .await
                .expect("COPY FROM STDIN");
            copy.send(part.concat()).await.expect("COPY data");
            copy.finish().await.expect("COPY end");
        }
        tx.commit().await.expect("COMMIT");
    }
    let insert_bound = t.elapsed();
    let _ = conn.close().await;

    let rate = |d: Duration| total as f64 / d.as_secs_f64();
    let bound = fetch_bound + insert_bound;
    println!("machine: {}", claimdesk_testkit::bench::machine());
    println!(
        "intake outcomes: {} new tickets, {} joined, {} duplicates, {} quarantined; {} rows written in {} tables",
        report.created,
        report.joined,
        report.duplicates,
        report.quarantined,
        row_count,
        TABLES.len()
    );
    println!(
        "claimdesk intake: {total} messages in {:.2} s = {:.0} msg/s (batch {batch})",
        intake.as_secs_f64(),
        rate(intake)
    );
    println!(
        "raw bound:        {:.2} s = {:.0} msg/s (UID FETCH {:.2} s + COPY of the {row_count} rows in {transactions} transactions {:.2} s)",
        bound.as_secs_f64(),
        rate(bound),
        fetch_bound.as_secs_f64(),
        insert_bound.as_secs_f64()
    );
    let share = bound.as_secs_f64() / intake.as_secs_f64() * 100.0;
    println!("intake / bound:   {share:.0} %");
    println!(
        "peak RSS (VmHWM after intake, whole bench process): {:.1} MB",
        hwm_kb as f64 / 1024.0
    );
    let verdict = |ok: bool| if ok { "met" } else { "MISSED" };
    println!(
        "targets: ≥ 2000 msg/s {}; ≥ 50 % of bound {}; peak RSS ≤ 200 MB {}",
        verdict(rate(intake) >= 2000.0),
        verdict(share >= 50.0),
        verdict(hwm_kb <= 200 * 1024)
    );
    drop(app);
}

/// How the parallel mode stores its two halves.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Split {
    /// Every message through one mailbox.
    One,
    /// Two mailboxes, one task each, storing at once.
    Two,
    /// Two mailboxes, one task each, one batch at a time (the old global lock).
    TwoSerialised,
}

/// `BACKLOG_MODE=parallel`: see the module documentation.
async fn parallel() {
    let total: usize = std::env::var("BACKLOG_MESSAGES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(6_000);
    let files = corpus();
    println!("machine: {}", claimdesk_testkit::bench::machine());
    for split in [Split::One, Split::Two, Split::TwoSerialised] {
        let mut env = support::harness::db_only(Platforms {
            slack: true,
            discord: false,
        })
        .await;
        let mut second = env.settings.mailboxes[0].clone();
        second.name = "sales".into();
        second.address = "sales@claimdesk.test".into();
        env.settings.mailboxes.push(second);
        let batch = env.settings.intake.fetch_batch as usize;
        let app = env.app().await;
        // (mailbox, messages) per task, parsed before the clock starts.
        let mut parts: Vec<(&'static str, Vec<claimdesk::desk::Fetched>)> = match split {
            Split::One => vec![("support", Vec::new())],
            _ => vec![("support", Vec::new()), ("sales", Vec::new())],
        };
        for i in 0..total {
            let copy = i / files.len();
            let raw = with_fresh_ids(&files[i % files.len()], copy);
            let n = parts.len();
            let part = &mut parts[copy % n].1;
            let uid = u32::try_from(part.len() + 1).expect("uid");
            let size = raw.len();
            part.push(claimdesk::desk::Fetched::new(uid, raw, size));
        }
        let serial = std::sync::Arc::new(tokio::sync::Mutex::new(()));
        let t = Instant::now();
        let mut tasks = Vec::new();
        for (mailbox, messages) in parts {
            let desk = app.desk.clone();
            let serial = serial.clone();
            tasks.push(tokio::spawn(async move {
                for chunk in messages.chunks(batch) {
                    let _one_at_a_time = if split == Split::TwoSerialised {
                        Some(serial.lock().await)
                    } else {
                        None
                    };
                    desk.ingest_isolated(mailbox, 1, chunk)
                        .await
                        .unwrap_or_else(|e| panic!("ingest {mailbox}: {e}"));
                }
            }));
        }
        for task in tasks {
            task.await.expect("ingest task");
        }
        let took = t.elapsed();
        let pool = app.desk.pool();
        let (stored,): (i64,) = sqlx::query_as("SELECT count(*) FROM messages")
            .fetch_one(pool)
            .await
            .expect("count");
        let (tickets,): (i64,) = sqlx::query_as("SELECT count(*) FROM tickets")
            .fetch_one(pool)
            .await
            .expect("count");
        println!(
            "{split:?}: {total} messages in {:.2} s = {:.0} msg/s ({stored} stored, {tickets} tickets, batch {batch})",
            took.as_secs_f64(),
            total as f64 / took.as_secs_f64()
        );
        drop(app);
    }
}
