//! Test support for claimdesk, compiled once for every test binary and benchmark: real
//! services (a fresh Postgres database per test, Dovecot, an SMTP sink), stand-ins of the
//! Slack and Discord APIs that check every request against the official specs in
//! `../shared/specs/`, signers for inbound Slack/Discord requests, this process's peak
//! memory, tripwires that stand where a mail server was not started, and a generator of
//! large desks for benchmarks (`fill`) and their shared entry point (`bench`), and a headless
//! Chromium for browser tests (`browser`). Nothing here knows
//! claimdesk: `tests/support/harness.rs` wires these into an `App`.

pub mod bench;
pub mod browser;
pub mod fill;
pub mod rss;
pub mod services;
pub mod signing;
pub mod standin;
pub mod tripwire;
