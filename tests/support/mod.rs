//! Test support: real services (Postgres, Dovecot, an SMTP sink), stand-ins of the Slack and
//! Discord APIs that check requests against the official specs, request signers (all four in
//! the dev-only crate `testkit/`, compiled once), and `harness`, which wires them into a
//! claimdesk `App`.
#![allow(dead_code)]

// Re-exported so `support::standin::…` and the other old paths keep working; a test binary
// that uses only some of them would otherwise warn.
#[allow(unused_imports)]
pub use claimdesk_testkit::{rss, services, signing, standin};

pub mod adversarial;
pub mod harness;
