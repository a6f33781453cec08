//! Operational metrics (Prometheus text exposition format, served at `/metrics`), recorded
//! through the `metrics` facade and rendered by `metrics-exporter-prometheus`.
//!
//! Every metric the app records is named here, so one place lists what exists; the
//! recording sites use these constants with the `metrics::counter!`, `gauge!` and
//! `histogram!` macros. Labels are bounded sets (mailbox names from config, platform,
//! effect kind, outcome, surface), never ticket ids or addresses.
//!
//! | name | kind | labels | what |
//! |---|---|---|---|
//! | [`INGESTED`] | counter | `mailbox`, `outcome` (created, joined, duplicate, quarantined, noted) | messages stored |
//! | [`INGEST_LATENCY`] | histogram, seconds | `mailbox` | from the server's INTERNALDATE to commit |
//! | [`BATCH_SIZE`] | histogram, messages | `mailbox` | messages per stored batch |
//! | [`IMAP_SESSION`] | gauge 0/1 | `mailbox`, `state` (connected, idle, polling, backoff, standby) | the mailbox's session state in this process |
//! | [`IMAP_RECONNECTS`] | counter | `mailbox` | sessions that ended in an error |
//! | [`MAILBOX_LEADER`] | gauge 0/1 | `mailbox` | whether this process holds the mailbox's lease |
//! | [`LEASE_ACQUIRED`] | counter | `lease` | leases this process took over |
//! | [`OUTBOX_DEPTH`] | gauge | — | undelivered effects (read at scrape) |
//! | [`OUTBOX_OLDEST`] | gauge, seconds | — | age of the oldest undelivered effect (read at scrape) |
//! | [`DELIVERIES`] | counter | `platform` (slack, discord, console, smtp), `kind`, `result` (ok, retry, given_up) | outbox deliveries |
//! | [`RATE_LIMITED`] | counter | `platform` | 429 answers |
//! | [`RETRY_AFTER`] | histogram, seconds | `platform` | Retry-After waits asked for |
//! | [`CLAIMS`] | counter | `result` (claimed, refused, error), `reason` (`desk::claim::claim_labels`) | claim attempts |
//! | [`COMMAND_LATENCY`] | histogram, seconds | `surface` (slack, discord, console, cli, web), `command` | one command, parsed to answered |
//! | [`SLA_ALERTS`] | counter | `kind` (warning, breach) | SLA alerts raised |
//! | [`TICKETS`] | gauge | `status` | tickets by status (read at scrape) |
//!
//! The recorder is installed once per process by [`install`] (the app does it when it is
//! built; a second call, as when a test process builds many apps, is a no-op) and the
//! `/metrics` route renders it with [`scrape`], after setting the gauges read from the
//! database at scrape time. Histograms are true Prometheus histograms with the buckets of
//! [`LATENCY_BUCKETS`], [`INGEST_LATENCY_BUCKETS`] and [`BATCH_BUCKETS`].

use std::sync::{Mutex, OnceLock};

use ::metrics::{describe_counter, describe_gauge, describe_histogram, Unit};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Messages stored, by mailbox and outcome.
pub const INGESTED: &str = "claimdesk_messages_ingested_total";
/// Seconds from the IMAP server's INTERNALDATE to the commit that stored the message.
pub const INGEST_LATENCY: &str = "claimdesk_ingest_latency_seconds";
/// Messages per stored batch.
pub const BATCH_SIZE: &str = "claimdesk_ingest_batch_size";
/// 1 for the mailbox's current session state in this process, 0 for the others.
pub const IMAP_SESSION: &str = "claimdesk_imap_session";
/// IMAP sessions that ended in an error.
pub const IMAP_RECONNECTS: &str = "claimdesk_imap_reconnects_total";
/// 1 while this process holds the mailbox's reader lease.
pub const MAILBOX_LEADER: &str = "claimdesk_mailbox_leader";
/// Leases (mailbox readers, the Discord gateway, the sweeps) this process took.
pub const LEASE_ACQUIRED: &str = "claimdesk_lease_acquired_total";
/// Undelivered outbox effects.
pub const OUTBOX_DEPTH: &str = "claimdesk_outbox_pending";
/// Age of the oldest undelivered outbox effect, seconds.
pub const OUTBOX_OLDEST: &str = "claimdesk_outbox_oldest_seconds";
/// Outbox deliveries by platform, effect kind and result.
pub const DELIVERIES: &str = "claimdesk_deliveries_total";
/// HTTP 429 answers from a chat platform.
pub const RATE_LIMITED: &str = "claimdesk_rate_limited_total";
/// Retry-After waits the platforms asked for, seconds.
pub const RETRY_AFTER: &str = "claimdesk_retry_after_seconds";
/// Claim attempts by result.
pub const CLAIMS: &str = "claimdesk_claims_total";
/// Seconds one command took, by surface and command.
pub const COMMAND_LATENCY: &str = "claimdesk_command_seconds";
/// SLA warnings and breaches raised.
pub const SLA_ALERTS: &str = "claimdesk_sla_alerts_total";
/// Tickets by status (read from the database at scrape).
pub const TICKETS: &str = "claimdesk_tickets";

/// Upper bounds (seconds) of the latency histograms ([`COMMAND_LATENCY`], [`RETRY_AFTER`]):
/// 1 ms to 60 s, about three per decade.
pub const LATENCY_BUCKETS: [f64; 15] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];

/// Upper bounds (seconds) of [`INGEST_LATENCY`]: [`LATENCY_BUCKETS`] and then 2, 5, 15 and 60
/// minutes, since the clock starts at the server's INTERNALDATE (a polled mailbox waits up to
/// its poll interval; a backlog after downtime waits longer).
pub const INGEST_LATENCY_BUCKETS: [f64; 19] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
    120.0, 300.0, 900.0, 3600.0,
];

/// Upper bounds (messages) of [`BATCH_SIZE`]: 1 to 1000 (`intake.fetch_batch` is at most
/// that).
pub const BATCH_BUCKETS: [f64; 10] = [1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0];

/// How often the background upkeep drains recorded histogram samples into their buckets
/// (also done at every scrape), so an unscraped process does not hold them all.
const UPKEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

/// The process's recorder, once [`install`] ran: `None` when installing failed (another
/// recorder was installed first).
static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Serialises [`scrape`]: the scrape-time gauges are process-wide, so two scrapes (of two apps
/// in one test process) must not interleave their set-then-render.
static SCRAPE: Mutex<()> = Mutex::new(());

/// Installs the Prometheus recorder as the process's `metrics` recorder, with the histogram
/// buckets above, describes every metric of this module (help text and unit), and starts a
/// thread that runs the exporter's upkeep every 5 s. Idempotent: only the first call in a
/// process does anything; later calls return the same handle.
///
/// Returns the handle to render from, or `None` when another `metrics` recorder had already
/// been installed in this process (logged once; metrics then go to that recorder).
pub fn install() -> Option<&'static PrometheusHandle> {
    HANDLE
        .get_or_init(|| match builder().and_then(PrometheusBuilder::install_recorder) {
            Ok(handle) => {
                describe();
                let upkeep = handle.clone();
                let started = std::thread::Builder::new()
                    .name("claimdesk-metrics".into())
                    .spawn(move || loop {
                        std::thread::sleep(UPKEEP_EVERY);
                        upkeep.run_upkeep();
                    });
                if let Err(e) = started {
                    tracing::warn!(error = %e, "metrics upkeep thread not started; histograms drain at scrape only");
                }
                Some(handle)
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot install the Prometheus metrics recorder; /metrics shows no recorded metric");
                None
            }
        })
        .as_ref()
}

/// The exporter's builder with every histogram's buckets.
fn builder() -> Result<PrometheusBuilder, metrics_exporter_prometheus::BuildError> {
    let mut b = PrometheusBuilder::new();
    for (name, buckets) in [
        (INGEST_LATENCY, &INGEST_LATENCY_BUCKETS[..]),
        (BATCH_SIZE, &BATCH_BUCKETS[..]),
        (RETRY_AFTER, &LATENCY_BUCKETS[..]),
        (COMMAND_LATENCY, &LATENCY_BUCKETS[..]),
    ] {
        b = b.set_buckets_for_metric(Matcher::Full(name.to_string()), buckets)?;
    }
    Ok(b)
}

/// Help text and unit of every metric (the `# HELP` lines).
fn describe() {
    describe_counter!(
        INGESTED,
        Unit::Count,
        "Messages stored, by mailbox and outcome (created, joined, duplicate, quarantined, noted)."
    );
    describe_histogram!(
        INGEST_LATENCY,
        Unit::Seconds,
        "Seconds from the IMAP server's INTERNALDATE to the commit that stored the message."
    );
    describe_histogram!(BATCH_SIZE, Unit::Count, "Messages per stored intake batch.");
    describe_gauge!(
        IMAP_SESSION,
        Unit::Count,
        "1 for the mailbox's current IMAP session state in this process, 0 for the others."
    );
    describe_counter!(
        IMAP_RECONNECTS,
        Unit::Count,
        "IMAP sessions that ended in an error."
    );
    describe_gauge!(
        MAILBOX_LEADER,
        Unit::Count,
        "1 while this process holds the mailbox's reader lease."
    );
    describe_counter!(
        LEASE_ACQUIRED,
        Unit::Count,
        "Leases this process took over."
    );
    describe_gauge!(
        OUTBOX_DEPTH,
        Unit::Count,
        "Undelivered outbox effects (read at scrape)."
    );
    describe_gauge!(
        OUTBOX_OLDEST,
        Unit::Seconds,
        "Age of the oldest undelivered outbox effect, seconds (read at scrape)."
    );
    describe_counter!(
        DELIVERIES,
        Unit::Count,
        "Outbox deliveries by platform, effect kind and result (ok, retry, given_up)."
    );
    describe_counter!(
        RATE_LIMITED,
        Unit::Count,
        "HTTP 429 answers from a chat platform."
    );
    describe_histogram!(
        RETRY_AFTER,
        Unit::Seconds,
        "Retry-After waits the chat platforms asked for, seconds."
    );
    describe_counter!(
        CLAIMS,
        Unit::Count,
        "Claim attempts by result (claimed, refused) and refusal reason."
    );
    describe_histogram!(
        COMMAND_LATENCY,
        Unit::Seconds,
        "Seconds one command took, by surface and catalogue command."
    );
    describe_counter!(
        SLA_ALERTS,
        Unit::Count,
        "SLA alerts raised, by kind (warning, breach)."
    );
    describe_gauge!(TICKETS, Unit::Count, "Tickets by status (read at scrape).");
}

/// The scrape-time figures read from the database for one `/metrics` answer.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ScrapeGauges {
    /// `(status, tickets)` for the statuses that have tickets; the other statuses of
    /// [`crate::domain::Status::ALL`] are shown as 0.
    pub tickets: Vec<(String, i64)>,
    /// Undelivered outbox effects.
    pub outbox_pending: i64,
    /// Age of the oldest undelivered effect, seconds (0 with none).
    pub outbox_oldest_secs: f64,
}

/// The `/metrics` body (Prometheus text exposition format 0.0.4): sets [`TICKETS`],
/// [`OUTBOX_DEPTH`] and [`OUTBOX_OLDEST`] from `now`, then renders everything recorded in this
/// process ([`install`]s the recorder if nothing did yet).
///
/// Returns `None` when the recorder could not be installed.
pub fn scrape(now: &ScrapeGauges) -> Option<String> {
    let handle = install()?;
    let _one_at_a_time = SCRAPE
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    for status in crate::domain::Status::ALL {
        let n = now
            .tickets
            .iter()
            .find(|(s, _)| s == status.as_str())
            .map_or(0, |(_, n)| *n);
        ::metrics::gauge!(TICKETS, "status" => status.as_str()).set(n as f64);
    }
    ::metrics::gauge!(OUTBOX_DEPTH).set(now.outbox_pending as f64);
    ::metrics::gauge!(OUTBOX_OLDEST).set(now.outbox_oldest_secs);
    Some(handle.render())
}

/// Seconds from `from` to `to` as a histogram value, 0 when `to` is not later.
pub fn seconds_between(
    from: chrono::DateTime<chrono::Utc>,
    to: chrono::DateTime<chrono::Utc>,
) -> f64 {
    (to - from).to_std().map_or(0.0, |d| d.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn installing_twice_gives_the_same_handle_and_buckets_are_sorted() {
        let a = install().map(|h| h as *const PrometheusHandle);
        let b = install().map(|h| h as *const PrometheusHandle);
        assert!(a.is_some());
        assert_eq!(a, b);
        for buckets in [
            &LATENCY_BUCKETS[..],
            &INGEST_LATENCY_BUCKETS[..],
            &BATCH_BUCKETS[..],
        ] {
            assert!(buckets.windows(2).all(|w| w[0] < w[1]), "{buckets:?}");
        }
    }

    #[test]
    fn a_scrape_shows_every_status_and_the_outbox_gauges() {
        let body = scrape(&ScrapeGauges {
            tickets: vec![("open".into(), 3)],
            outbox_pending: 2,
            outbox_oldest_secs: 1.5,
        })
        .expect("recorder");
        assert!(
            body.contains("claimdesk_tickets{status=\"open\"} 3"),
            "{body}"
        );
        assert!(
            body.contains("claimdesk_tickets{status=\"closed\"} 0"),
            "{body}"
        );
        assert!(body.contains("claimdesk_outbox_pending 2"), "{body}");
        assert!(
            body.contains("claimdesk_outbox_oldest_seconds 1.5"),
            "{body}"
        );
        assert!(
            body.contains("# HELP claimdesk_tickets Tickets by status"),
            "{body}"
        );
    }
}
