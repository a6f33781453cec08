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
//! | [`DELIVERIES`] | counter | `platform` (slack, discord, smtp), `kind`, `result` (ok, retry, given_up) | outbox deliveries |
//! | [`RATE_LIMITED`] | counter | `platform` | 429 answers |
//! | [`RETRY_AFTER`] | histogram, seconds | `platform` | Retry-After waits asked for |
//! | [`CLAIMS`] | counter | `result` (claimed, refused) | claim attempts |
//! | [`COMMAND_LATENCY`] | histogram, seconds | `surface` (slack, discord, console, web), `command` | one command, parse to answer |
//! | [`SLA_ALERTS`] | counter | `kind` (warning, breach) | SLA alerts raised |

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
