//! Issue 13, metrics and logs, against real Postgres, Dovecot and the Slack and Discord
//! stand-ins: `/metrics` (admin token) is scraped over HTTP and parsed with a Prometheus
//! text-format parser that is not the exporter (`prometheus-parse`); every line must be a
//! comment, a TYPE/HELP line or a sample. Then the test acts — mail APPENDed with an
//! INTERNALDATE 90 s in the past and fetched, a 429 from Slack, claims from Slack, the outbox
//! delivered, SLA alerts raised — and scrapes again: each counter and histogram moved by
//! exactly what was done (deltas, since the recorder is process-wide; the mailbox label is
//! unique to the test, and the other test here uses Discord only, calls no command and
//! claims nothing).
//!
//! The second test installs the `json` log format on a capturing writer and follows one
//! ticket by its fields through intake (`intake.batch`), the desk (`desk.note`) and delivery
//! (`outbox.deliver`): one JSON object per line, no body text.

mod support;

use std::collections::HashMap;
use std::io::BufRead;
use std::sync::{Arc, Mutex};

use chrono::{Duration, Utc};
use claimdesk::config::SlaSettings;
use claimdesk::desk::Surface;
use prometheus_parse::{LineInfo, Scrape, Value};
use secrecy::SecretString;
use support::harness::*;
use support::standin::Behaviour;

const TOKEN: &str = "metrics-admin-token-0123456789abcdef";

/// `GET /metrics` with the admin token; the body.
async fn scrape_text(addr: std::net::SocketAddr) -> String {
    let resp = reqwest::Client::new()
        .get(format!("http://{addr}/metrics"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("GET /metrics");
    assert_eq!(resp.status(), 200);
    let ctype = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert!(ctype.starts_with("text/plain; version=0.0.4"), "{ctype}");
    resp.text().await.expect("body")
}

/// One scrape, parsed: every sample by `name{sorted labels}`; histograms as their `_count`,
/// `_sum` and `_bucket{…,le=…}` series.
struct Figures(HashMap<String, f64>);

impl Figures {
    fn get(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.0.get(&key(name, labels)).copied().unwrap_or(0.0)
    }
}

fn key(name: &str, labels: &[(&str, &str)]) -> String {
    let mut l: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
    l.sort();
    format!("{name}{{{}}}", l.join(","))
}

/// Parses `text` with `prometheus-parse`, after checking that each of its lines is one the
/// text format allows (the parser itself skips lines it cannot read).
fn parse(text: &str) -> Figures {
    for line in text.lines() {
        let info = LineInfo::parse(line);
        assert!(
            !matches!(info, LineInfo::Ignored) || line.starts_with('#'),
            "not a Prometheus text-format line: {line:?}"
        );
    }
    let scrape = Scrape::parse(text.as_bytes().lines()).expect("parses");
    let mut out = HashMap::new();
    for s in scrape.samples {
        let labels: Vec<(&str, &str)> = s
            .labels
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        match &s.value {
            Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => {
                out.insert(key(&s.metric, &labels), *v);
            }
            Value::Histogram(buckets) => {
                for b in buckets {
                    let le = if b.less_than.is_infinite() {
                        "+Inf".to_string()
                    } else {
                        b.less_than.to_string()
                    };
                    let mut l = labels.clone();
                    l.push(("le", &le));
                    out.insert(key(&format!("{}_bucket", s.metric), &l), b.count);
                }
            }
            Value::Summary(_) => panic!("{} is a summary; every histogram has buckets", s.metric),
        }
    }
    Figures(out)
}

async fn scrape(addr: std::net::SocketAddr) -> Figures {
    parse(&scrape_text(addr).await)
}

/// SLA on, wall time, a first response due within the hour (warning at 45 min).
fn one_hour_sla() -> SlaSettings {
    SlaSettings::from_toml(
        "enabled = true\nwarn_at = 0.75\non_breach = \"none\"\n\n\
         [[policies]]\nbusiness_hours = false\nfirst_response = \"1h\"\n",
    )
    .expect("sla settings")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_parse_and_move_as_mail_claims_deliveries_and_alerts_happen() {
    let mut env = env(Platforms {
        slack: true,
        discord: false,
    })
    .await;
    env.secrets.admin_token = Some(SecretString::from(TOKEN));
    env.settings.sla = one_hour_sla();
    // A mailbox name no other test in this process uses: its series are this test's alone.
    let mailbox = format!("metrics{}", std::process::id());
    let old = std::mem::replace(&mut env.settings.mailboxes[0].name, mailbox.clone());
    let password = env.secrets.imap_passwords.remove(&old).expect("password");
    env.secrets.imap_passwords.insert(mailbox.clone(), password);
    let slack = env.slack.as_ref().expect("slack stand-in");
    let app = env.app().await;
    let web = app.start_web().await.expect("web");
    let mb = [("mailbox", mailbox.as_str())];

    let before = scrape(web.addr).await;
    // The scrape-time gauges are there from the first scrape.
    assert_eq!(before.get("claimdesk_tickets", &[("status", "open")]), 0.0);
    assert_eq!(before.get("claimdesk_outbox_pending", &[]), 0.0);

    // Two emails the server received 90 s ago; the first card post meets a 429.
    let received = Utc::now() - Duration::seconds(90);
    env.dovecot
        .append_dated(
            "INBOX",
            &[
                (
                    customer_email("m1@customer.example", "Printer", "It jams.", None),
                    received,
                ),
                (
                    customer_email("m2@customer.example", "Invoice", "Wrong total.", None),
                    received,
                ),
            ],
        )
        .await
        .expect("append");
    slack.queue_behaviour(Behaviour::RateLimited {
        retry_after_secs: 1,
    });
    let runs = app.intake_once().await.expect("intake");
    assert_eq!(runs[0].1.as_ref().expect("fetched").created, 2);
    // The rate-limited card goes out once its Retry-After has passed.
    eventually(15, "every card posted", || async {
        app.deliverer.drain().await.expect("drain");
        (slack.calls_to("chat.postMessage").len() == 2).then_some(())
    })
    .await;

    let after = scrape(web.addr).await;
    let d =
        |name: &str, labels: &[(&str, &str)]| after.get(name, labels) - before.get(name, labels);
    let ingested = "claimdesk_messages_ingested_total";
    assert_eq!(d(ingested, &[mb[0], ("outcome", "created")]), 2.0);
    assert_eq!(d(ingested, &[mb[0], ("outcome", "joined")]), 0.0);
    assert_eq!(
        d("claimdesk_ingest_batch_size_count", &mb),
        1.0,
        "one batch"
    );
    assert_eq!(d("claimdesk_ingest_batch_size_sum", &mb), 2.0, "of two");
    assert_eq!(d("claimdesk_ingest_latency_seconds_count", &mb), 2.0);
    // Measured from INTERNALDATE (90 s ago), not from the fetch: both in (60 s, 120 s].
    let bucket = "claimdesk_ingest_latency_seconds_bucket";
    assert_eq!(d(bucket, &[mb[0], ("le", "60")]), 0.0);
    assert_eq!(d(bucket, &[mb[0], ("le", "120")]), 2.0);
    let latency = d("claimdesk_ingest_latency_seconds_sum", &mb);
    assert!((180.0..240.0).contains(&latency), "{latency}");
    let slack_l = [("platform", "slack")];
    assert_eq!(d("claimdesk_rate_limited_total", &slack_l), 1.0);
    assert_eq!(d("claimdesk_retry_after_seconds_count", &slack_l), 1.0);
    assert_eq!(d("claimdesk_retry_after_seconds_sum", &slack_l), 1.0);
    let deliveries = "claimdesk_deliveries_total";
    let card = |result| [("platform", "slack"), ("kind", "card"), ("result", result)];
    assert_eq!(d(deliveries, &card("retry")), 1.0);
    assert_eq!(d(deliveries, &card("ok")), 2.0);
    assert_eq!(after.get("claimdesk_tickets", &[("status", "open")]), 2.0);
    assert_eq!(after.get("claimdesk_outbox_pending", &[]), 0.0);

    // Ana claims the first ticket from its card; Ben tries too and is refused.
    let number = app.desk.list().await.expect("list")[0].number.clone();
    let claims_before = scrape(web.addr).await;
    for user in [ANA_SLACK, BEN_SLACK] {
        let (code, _) = slack_post(
            web.addr,
            "/slack/interactions",
            &block_action(user, "claim", &number),
            SLACK_SECRET,
            0,
        )
        .await;
        assert_eq!(code, 200);
    }
    let command = [("surface", "slack"), ("command", "claim")];
    let claims = eventually(15, "both claims counted", || async {
        let now = scrape(web.addr).await;
        let n = now.get("claimdesk_command_seconds_count", &command)
            - claims_before.get("claimdesk_command_seconds_count", &command);
        (n >= 2.0).then_some(now)
    })
    .await;
    let d = |name: &str, labels: &[(&str, &str)]| {
        claims.get(name, labels) - claims_before.get(name, labels)
    };
    assert_eq!(d("claimdesk_command_seconds_count", &command), 2.0);
    assert!(d("claimdesk_command_seconds_sum", &command) > 0.0);
    let c = "claimdesk_claims_total";
    assert_eq!(d(c, &[("result", "claimed"), ("reason", "none")]), 1.0);
    assert_eq!(d(c, &[("result", "refused"), ("reason", "taken")]), 1.0);
    assert_eq!(
        claims.get("claimdesk_tickets", &[("status", "claimed")]),
        1.0
    );
    assert_eq!(claims.get("claimdesk_tickets", &[("status", "open")]), 1.0);
    // The card edit and Ben's private refusal wait in the outbox.
    assert_eq!(claims.get("claimdesk_outbox_pending", &[]), 2.0);
    assert!(claims.get("claimdesk_outbox_oldest_seconds", &[]) >= 0.0);

    app.deliverer.drain().await.expect("drain");
    let delivered = scrape(web.addr).await;
    let d = |name: &str, labels: &[(&str, &str)]| {
        delivered.get(name, labels) - claims.get(name, labels)
    };
    assert_eq!(d(deliveries, &card("ok")), 1.0, "the card edit");
    let ephemeral = [
        ("platform", "slack"),
        ("kind", "ephemeral"),
        ("result", "ok"),
    ];
    assert_eq!(d(deliveries, &ephemeral), 1.0, "Ben's refusal");
    assert_eq!(delivered.get("claimdesk_outbox_pending", &[]), 0.0);

    // SLA: both tickets' first response warns at 45 min and breaches at 60 min.
    let alerts = "claimdesk_sla_alerts_total";
    let warned = app
        .desk
        .sla_tick(received + Duration::minutes(50))
        .await
        .expect("tick");
    let breached = app
        .desk
        .sla_tick(received + Duration::hours(3))
        .await
        .expect("tick");
    assert_eq!((warned, breached), (2, 2));
    let sla = scrape(web.addr).await;
    let d =
        |name: &str, labels: &[(&str, &str)]| sla.get(name, labels) - delivered.get(name, labels);
    assert_eq!(d(alerts, &[("kind", "warning")]), 2.0);
    assert_eq!(d(alerts, &[("kind", "breach")]), 2.0);
    // The alerts' notices and card refreshes are queued, not yet delivered.
    let pending = count(
        &app,
        "SELECT count(*) FROM outbox WHERE delivered_at IS NULL",
    )
    .await;
    assert!(pending > 0);
    assert_eq!(sla.get("claimdesk_outbox_pending", &[]), pending as f64);

    // Every metric of the contract that this test moved has its HELP line.
    let text = scrape_text(web.addr).await;
    for name in [
        "claimdesk_messages_ingested_total",
        "claimdesk_ingest_latency_seconds",
        "claimdesk_ingest_batch_size",
        "claimdesk_deliveries_total",
        "claimdesk_rate_limited_total",
        "claimdesk_retry_after_seconds",
        "claimdesk_claims_total",
        "claimdesk_command_seconds",
        "claimdesk_sla_alerts_total",
        "claimdesk_outbox_pending",
        "claimdesk_outbox_oldest_seconds",
        "claimdesk_tickets",
    ] {
        assert!(
            text.contains(&format!("# HELP {name} ")),
            "no HELP for {name}"
        );
    }
}

/// A `MakeWriter` that keeps every line written in memory.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("capture").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// One thread: the subscriber set for this test's thread sees every task of the runtime.
#[tokio::test(flavor = "current_thread")]
async fn json_logs_follow_one_ticket_from_intake_through_the_desk_to_delivery() {
    let env = env(Platforms {
        slack: false,
        discord: true,
    })
    .await;
    let app = env.app().await;
    let captured = Capture::default();
    let writer = captured.clone();
    let subscriber = claimdesk::app::log_subscriber(
        claimdesk::config::LogFormat::Json,
        tracing_subscriber::EnvFilter::new("info"),
        move || writer.clone(),
    );
    // tracing caches each callsite's interest process-wide; with only one dispatcher
    // registered it asks the registering thread's default, so the other test's threads (no
    // subscriber) would cache `never` for the callsites this test reads (tokio-rs/tracing
    // #3611). A do-nothing global registry makes two dispatchers, and every callsite is then
    // asked of all of them.
    let _ = tracing::subscriber::set_global_default(tracing_subscriber::registry());
    let guard = tracing::subscriber::set_default(subscriber);

    env.dovecot
        .append(
            "INBOX",
            &customer_email("j1@customer.example", "Login", "Body words 7f3a.", None),
        )
        .await
        .expect("append");
    app.intake_once().await.expect("intake");
    let number = app.desk.list().await.expect("list")[0].number.clone();
    let (id,): (i64,) = sqlx::query_as("SELECT id FROM tickets WHERE number = $1")
        .bind(&number)
        .fetch_one(app.desk.pool())
        .await
        .expect("ticket id");
    let ana = actor(&app, "ana", Surface::Console).await;
    app.desk
        .note(&ana, &number, "Note words 9c1e.")
        .await
        .expect("note");
    app.deliverer.drain().await.expect("drain");
    drop(guard);

    let bytes = captured.0.lock().expect("capture").clone();
    let text = String::from_utf8(bytes).expect("utf-8");
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert!(lines.iter().all(serde_json::Value::is_object));
    for secret in ["7f3a", "9c1e", "customer.example"] {
        assert!(!text.contains(secret), "{secret} in the log:\n{text}");
    }
    let number = number.as_str();
    let span = |l: &serde_json::Value| l["span"]["name"].as_str().unwrap_or("").to_string();

    // Intake: the message's line names its ticket, inside its batch's span.
    let ingested = lines
        .iter()
        .find(|l| l["fields"]["message"] == "ingested" && l["fields"]["ticket"] == number)
        .unwrap_or_else(|| panic!("no ingested line for {number}:\n{text}"));
    assert_eq!(span(ingested), "intake.batch", "{ingested}");
    assert_eq!(ingested["span"]["mailbox"], "support", "{ingested}");
    assert_eq!(ingested["span"]["size"], 1, "{ingested}");
    assert_eq!(ingested["span"]["first_uid"], ingested["span"]["last_uid"]);
    // The desk: the note's span closes with the ticket's number and id.
    let note = lines
        .iter()
        .find(|l| span(l) == "desk.note" && l["fields"]["message"] == "close")
        .unwrap_or_else(|| panic!("no desk.note line:\n{text}"));
    assert_eq!(note["span"]["ticket"], number, "{note}");
    assert_eq!(note["span"]["ticket_id"], id, "{note}");
    assert_eq!(note["span"]["agent"], "ana", "{note}");
    // Delivery: the card and the note's thread post, each in a span naming the ticket.
    let delivered: Vec<&str> = lines
        .iter()
        .filter(|l| span(l) == "outbox.deliver" && l["fields"]["message"] == "close")
        .filter(|l| l["span"]["ticket_id"] == id)
        .filter_map(|l| l["span"]["kind"].as_str())
        .collect();
    assert!(
        delivered.contains(&"card") && delivered.contains(&"thread_note"),
        "{delivered:?}\n{text}"
    );
}
