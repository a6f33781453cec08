//! `claimdesk report`: the real binary against a fresh database holding known tickets and
//! SLA clocks (written with SQL here). Its CSV and JSON are parsed and checked value by
//! value: the range is `[from, to)`, the department filter, an empty range, formula-like
//! customer text neutralised in CSV (and kept as is in JSON), and bad arguments refused with
//! a clear error and a non-zero exit.

mod support;

use std::collections::HashMap;
use std::path::Path;
use std::process::Output;

use support::harness::*;

/// Runs `claimdesk --config <config> report <args>`.
fn report(config: &Path, args: &[&str]) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_claimdesk"))
        .arg("--config")
        .arg(config)
        .arg("report")
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .expect("run claimdesk report")
}

fn stdout_of(out: &Output) -> String {
    assert!(
        out.status.success(),
        "exit {}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).expect("utf-8 report")
}

type CsvRow = HashMap<String, String>;

/// Parsed CSV: the header and the records, each as a map by column.
fn csv_rows(text: &str) -> (Vec<String>, Vec<CsvRow>) {
    let mut r = csv::Reader::from_reader(text.as_bytes());
    let header: Vec<String> = r
        .headers()
        .expect("csv header")
        .iter()
        .map(String::from)
        .collect();
    let rows = r
        .records()
        .map(|rec| {
            let rec = rec.expect("csv record");
            header
                .iter()
                .cloned()
                .zip(rec.iter().map(String::from))
                .collect()
        })
        .collect();
    (header, rows)
}

const HOSTILE_SUBJECT: &str = "=HYPERLINK(\"http://evil.example\",\"Refund\")";

/// One ticket to insert.
struct Seed {
    number: &'static str,
    seq: i32,
    status: &'static str,
    department: &'static str,
    email: &'static str,
    name: &'static str,
    subject: &'static str,
    assignee: Option<&'static str>,
    priority: &'static str,
    opened: &'static str,
}

/// Four tickets around the range 2026-11-02 .. 2026-11-05 (UTC):
/// - TICK-2026-0001 opened 2026-11-01T23:59:59Z (before the range), no clocks;
/// - TICK-2026-0002 support, hostile subject and name, opened 2026-11-02T09:00Z, answered
///   09:30 (1,800 s), resolved 13:00 (14,400 s), held by ana; first response met, next
///   response breached once then met, resolution met;
/// - TICK-2026-0003 billing, opened 2026-11-03T10:00Z, never answered, open; first response
///   breached (alert sent), resolution running (due 2099), no next response;
/// - TICK-2026-0004 opened 2026-11-05T00:00:00Z (the exclusive end).
async fn seed(env: &TestEnv) {
    let pool = env.db.pool().await.expect("pool");
    let tickets = [
        Seed {
            number: "TICK-2026-0001",
            seq: 1,
            status: "closed",
            department: "support",
            email: "early@customer.example",
            name: "Early",
            subject: "Too early",
            assignee: None,
            priority: "low",
            opened: "2026-11-01T23:59:59Z",
        },
        Seed {
            number: "TICK-2026-0002",
            seq: 2,
            status: "resolved",
            department: "support",
            email: "mallory@stranger.example",
            name: "@Mallory+1",
            subject: HOSTILE_SUBJECT,
            assignee: Some("ana"),
            priority: "high",
            opened: "2026-11-02T09:00:00Z",
        },
        Seed {
            number: "TICK-2026-0003",
            seq: 3,
            status: "open",
            department: "billing",
            email: "olga@customer.example",
            name: "Olga",
            subject: "Invoice, \"wrong\"\nsecond line",
            assignee: None,
            priority: "medium",
            opened: "2026-11-03T10:00:00Z",
        },
        Seed {
            number: "TICK-2026-0004",
            seq: 4,
            status: "open",
            department: "support",
            email: "late@customer.example",
            name: "Late",
            subject: "Too late",
            assignee: None,
            priority: "urgent",
            opened: "2026-11-05T00:00:00Z",
        },
    ];
    for t in tickets {
        sqlx::query(
            "INSERT INTO tickets (number, year, seq, status, department, requester_email, \
             requester_name, subject, mailbox, priority, opened_at, created_at, assignee_id) \
             VALUES ($1, 2026, $2, $3, $4, $5, $6, $7, 'support', $8, $9::timestamptz, \
             $9::timestamptz, (SELECT id FROM agents WHERE handle = $10))",
        )
        .bind(t.number)
        .bind(t.seq)
        .bind(t.status)
        .bind(t.department)
        .bind(t.email)
        .bind(t.name)
        .bind(t.subject)
        .bind(t.priority)
        .bind(t.opened)
        .bind(t.assignee)
        .execute(&pool)
        .await
        .expect("insert ticket");
    }
    sqlx::query(
        "UPDATE tickets SET first_response_at = '2026-11-02T09:30:00Z', \
         resolved_at = '2026-11-02T13:00:00Z' WHERE number = 'TICK-2026-0002'",
    )
    .execute(&pool)
    .await
    .expect("update ticket 2");
    // (ticket, metric, met_at, breached_at, breaches, due_at)
    type ClockSeed = (
        &'static str,
        &'static str,
        Option<&'static str>,
        Option<&'static str>,
        i32,
        Option<&'static str>,
    );
    let clocks: [ClockSeed; 5] = [
        (
            "TICK-2026-0002",
            "first_response",
            Some("2026-11-02T09:30:00Z"),
            None,
            0,
            None,
        ),
        (
            "TICK-2026-0002",
            "next_response",
            Some("2026-11-02T12:00:00Z"),
            None,
            1,
            None,
        ),
        (
            "TICK-2026-0002",
            "resolution",
            Some("2026-11-02T13:00:00Z"),
            None,
            0,
            None,
        ),
        (
            "TICK-2026-0003",
            "first_response",
            None,
            Some("2026-11-03T14:00:00Z"),
            1,
            Some("2026-11-03T14:00:00Z"),
        ),
        (
            "TICK-2026-0003",
            "resolution",
            None,
            None,
            0,
            Some("2099-01-01T00:00:00Z"),
        ),
    ];
    for (number, metric, met, breached, breaches, due) in clocks {
        sqlx::query(
            "INSERT INTO sla_clocks (ticket_id, metric, goal_secs, business, started_at, \
             met_at, breached_at, breaches, due_at, running_since) \
             SELECT id, $2, 3600, true, opened_at, $3::timestamptz, $4::timestamptz, $5, \
             $6::timestamptz, CASE WHEN $3::timestamptz IS NULL THEN opened_at END \
             FROM tickets WHERE number = $1",
        )
        .bind(number)
        .bind(metric)
        .bind(met)
        .bind(breached)
        .bind(breaches)
        .bind(due)
        .execute(&pool)
        .await
        .expect("insert clock");
    }
    pool.close().await;
}

/// A desk with the four tickets; its settings written for the binary.
async fn desk() -> (TestEnv, tempfile::TempDir, std::path::PathBuf) {
    let env = db_only(Platforms {
        slack: false,
        discord: false,
    })
    .await;
    // Migrations and the config agents (ana, ben, cy).
    let app = env.app().await;
    drop(app);
    seed(&env).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let config = env.write_config(dir.path());
    (env, dir, config)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csv_report_has_one_row_per_ticket_in_range_with_formulas_neutralised() {
    let (_env, _dir, config) = desk().await;
    let out = report(
        &config,
        &[
            "--from",
            "2026-11-02",
            "--to",
            "2026-11-05",
            "--format",
            "csv",
        ],
    );
    let (header, rows) = csv_rows(&stdout_of(&out));
    assert_eq!(
        header,
        [
            "number",
            "department",
            "requester",
            "requester_name",
            "subject",
            "status",
            "priority",
            "assignee",
            "opened",
            "first_response",
            "resolved",
            "closed",
            "first_response_secs",
            "resolution_secs",
            "sla_first_response",
            "sla_next_response",
            "sla_resolution",
            "tags"
        ]
    );
    let numbers: Vec<&str> = rows.iter().map(|r| r["number"].as_str()).collect();
    assert_eq!(numbers, ["TICK-2026-0002", "TICK-2026-0003"], "[from, to)");

    let r = &rows[0];
    assert_eq!(r["department"], "support");
    assert_eq!(r["requester"], "mallory@stranger.example");
    // Formula-like customer text starts with ' in CSV.
    assert_eq!(r["subject"], format!("'{HOSTILE_SUBJECT}"));
    assert_eq!(r["requester_name"], "'@Mallory+1");
    assert_eq!(r["status"], "resolved");
    assert_eq!(r["priority"], "high");
    assert_eq!(r["assignee"], "ana");
    assert_eq!(r["opened"], "2026-11-02T09:00:00Z");
    assert_eq!(r["first_response"], "2026-11-02T09:30:00Z");
    assert_eq!(r["resolved"], "2026-11-02T13:00:00Z");
    assert_eq!(r["closed"], "");
    // No working hours configured: 24/7, so business time is wall time.
    assert_eq!(r["first_response_secs"], "1800");
    assert_eq!(r["resolution_secs"], "14400");
    assert_eq!(r["sla_first_response"], "met");
    assert_eq!(r["sla_next_response"], "breached");
    assert_eq!(r["sla_resolution"], "met");

    let r = &rows[1];
    assert_eq!(r["department"], "billing");
    // Commas, quotes and a newline survive CSV quoting.
    assert_eq!(r["subject"], "Invoice, \"wrong\"\nsecond line");
    assert_eq!(r["assignee"], "");
    assert_eq!(r["first_response"], "");
    assert_eq!(r["first_response_secs"], "");
    assert_eq!(r["resolution_secs"], "");
    assert_eq!(r["sla_first_response"], "breached");
    assert_eq!(r["sla_next_response"], "none");
    assert_eq!(r["sla_resolution"], "running");

    // RFC 3339 bounds with offsets select the same range; CSV is the default format.
    let out = report(
        &config,
        &[
            "--from",
            "2026-11-02T01:00:00+01:00",
            "--to",
            "2026-11-04T19:00:00-05:00",
        ],
    );
    let (_, rows) = csv_rows(&stdout_of(&out));
    let numbers: Vec<&str> = rows.iter().map(|r| r["number"].as_str()).collect();
    assert_eq!(numbers, ["TICK-2026-0002", "TICK-2026-0003"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_report_is_one_array_with_the_same_values_and_text_as_written() {
    let (_env, _dir, config) = desk().await;
    let out = report(
        &config,
        &[
            "--from",
            "2026-11-01",
            "--to",
            "2026-11-06",
            "--format",
            "json",
        ],
    );
    let v: serde_json::Value = serde_json::from_str(&stdout_of(&out)).expect("one JSON value");
    let rows = v.as_array().expect("an array");
    let numbers: Vec<&str> = rows
        .iter()
        .map(|r| r["number"].as_str().expect("number"))
        .collect();
    assert_eq!(
        numbers,
        [
            "TICK-2026-0001",
            "TICK-2026-0002",
            "TICK-2026-0003",
            "TICK-2026-0004"
        ]
    );
    let r = &rows[1];
    assert_eq!(r["subject"], HOSTILE_SUBJECT, "JSON keeps the text as is");
    assert_eq!(r["requester_name"], "@Mallory+1");
    assert_eq!(r["assignee"], "ana");
    assert_eq!(r["first_response_secs"], 1800);
    assert_eq!(r["resolution_secs"], 14400);
    assert_eq!(r["sla_next_response"], "breached");
    assert_eq!(r["opened"], "2026-11-02T09:00:00Z");
    let r = &rows[2];
    assert_eq!(r["assignee"], serde_json::Value::Null);
    assert_eq!(r["first_response_secs"], serde_json::Value::Null);
    assert_eq!(r["sla_first_response"], "breached");
    assert_eq!(r["sla_resolution"], "running");
    assert_eq!(rows[0]["sla_first_response"], "none");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn department_filter_and_empty_range() {
    let (_env, _dir, config) = desk().await;
    let out = report(
        &config,
        &[
            "--from",
            "2026-11-01",
            "--to",
            "2026-11-06",
            "--department",
            "billing",
        ],
    );
    let (_, rows) = csv_rows(&stdout_of(&out));
    let numbers: Vec<&str> = rows.iter().map(|r| r["number"].as_str()).collect();
    assert_eq!(numbers, ["TICK-2026-0003"]);

    let out = report(
        &config,
        &[
            "--from",
            "2030-01-01",
            "--to",
            "2030-01-02",
            "--format",
            "csv",
        ],
    );
    let text = stdout_of(&out);
    let (header, rows) = csv_rows(&text);
    assert_eq!(header.len(), 18);
    assert!(rows.is_empty(), "{text}");
    let out = report(
        &config,
        &[
            "--from",
            "2030-01-01",
            "--to",
            "2030-01-02",
            "--format",
            "json",
        ],
    );
    let v: serde_json::Value = serde_json::from_str(&stdout_of(&out)).expect("json");
    assert_eq!(v, serde_json::json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_arguments_are_refused_clearly_with_a_non_zero_exit() {
    let (_env, _dir, config) = desk().await;
    for (args, says) in [
        (
            [
                "--from",
                "2026-11-05",
                "--to",
                "2026-11-02",
                "--format",
                "csv",
            ],
            "must be after --from",
        ),
        (
            [
                "--from",
                "2026-11-05",
                "--to",
                "2026-11-05",
                "--format",
                "csv",
            ],
            "must be after --from",
        ),
        (
            [
                "--from",
                "last week",
                "--to",
                "2026-11-05",
                "--format",
                "csv",
            ],
            "`last week` is not a date",
        ),
        (
            [
                "--from",
                "2026-11-01",
                "--to",
                "2026-11-05",
                "--format",
                "xlsx",
            ],
            "unknown format `xlsx`",
        ),
    ] {
        let out = report(&config, &args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} succeeded");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
        assert!(out.stdout.is_empty(), "{args:?} printed rows");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_generated_desk_exports_every_ticket_and_its_sla_state_computes() {
    // Given a desk filled by the benchmarks' generator (2,000 tickets, 10,000 messages).
    let env = db_only(Platforms {
        slack: false,
        discord: false,
    })
    .await;
    claimdesk::store::connect_and_migrate(&env.db.url, 1)
        .await
        .expect("migrate")
        .close()
        .await;
    let spec = claimdesk_testkit::fill::FillSpec {
        tickets: 2_000,
        messages: 10_000,
        ..Default::default()
    };
    let filled = claimdesk_testkit::fill::fill(&env.db.url, &spec)
        .await
        .expect("fill");
    assert_eq!((filled.tickets, filled.messages), (2_000, 10_000));
    let pool = env.db.pool().await.expect("pool");
    let (messages, open_with_clocks): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM messages),
                (SELECT count(DISTINCT c.ticket_id) FROM sla_clocks c JOIN tickets t ON t.id = c.ticket_id
                 WHERE c.met_at IS NULL AND c.due_at IS NOT NULL
                   AND t.status IN ('open', 'claimed', 'in_progress', 'waiting', 'pending_assignment'))",
    )
    .fetch_one(&pool)
    .await
    .expect("counts");
    assert_eq!(messages, 10_000);
    assert!(open_with_clocks > 0);

    // When every ticket is exported ...
    let dir = tempfile::tempdir().expect("tempdir");
    let config = env.write_config(dir.path());
    let out = report(&config, &["--from", "2000-01-01", "--to", "2100-01-01"]);
    let (_, rows) = csv_rows(&stdout_of(&out));
    // ... there is one row per ticket, formula-like subjects neutralised.
    assert_eq!(rows.len(), 2_000);
    assert!(rows.iter().all(|r| !r["subject"].starts_with('=')));
    assert!(rows.iter().any(|r| r["subject"].starts_with("'=")));
    assert!(rows.iter().any(|r| r["sla_first_response"] == "met"));

    // And the SLA state of the open tickets covers every one of them with a running clock.
    let mut conn = pool.acquire().await.expect("conn");
    let state =
        claimdesk::desk::report::open_sla_state(&mut conn, &env.settings.sla, chrono::Utc::now())
            .await
            .expect("SLA state");
    assert_eq!(state.tickets, open_with_clocks as u64);
    assert!(state.overdue > 0 && state.clocks >= state.tickets);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn durations_are_counted_in_the_departments_working_hours() {
    // Given office hours Mon-Fri 09:00-17:00 in Berlin (UTC+1 in November) ...
    let (env, _dir, config) = desk().await;
    let mut text = std::fs::read_to_string(&config).expect("config");
    text.push_str(
        "\n[sla.hours.default]\ntimezone = \"Europe/Berlin\"\nmon = \"09:00-17:00\"\n\
         tue = \"09:00-17:00\"\nwed = \"09:00-17:00\"\nthu = \"09:00-17:00\"\nfri = \"09:00-17:00\"\n",
    );
    std::fs::write(&config, text).expect("write config");
    // ... a ticket opened Friday 16:00, answered Monday 10:00, resolved Tuesday 10:00 (Berlin).
    let pool = env.db.pool().await.expect("pool");
    sqlx::query(
        "INSERT INTO tickets (number, year, seq, status, department, requester_email, subject, \
         mailbox, opened_at, first_response_at, resolved_at) \
         VALUES ('TICK-2026-0005', 2026, 5, 'resolved', 'billing', 'w@customer.example', \
         'Weekend', 'support', '2026-11-06T15:00:00Z', '2026-11-09T09:00:00Z', \
         '2026-11-10T09:00:00Z')",
    )
    .execute(&pool)
    .await
    .expect("insert");
    pool.close().await;

    let out = report(&config, &["--from", "2026-11-06", "--to", "2026-11-07"]);
    let (_, rows) = csv_rows(&stdout_of(&out));
    assert_eq!(rows.len(), 1);
    // Friday 16-17 and Monday 9-10: 2 h; to Tuesday 10:00 another 8 h: 10 h.
    assert_eq!(rows[0]["first_response_secs"], "7200");
    assert_eq!(rows[0]["resolution_secs"], "36000");
    assert_eq!(rows[0]["sla_first_response"], "none");
}
