//! Test support: real services (Postgres, Dovecot, an SMTP sink), stand-ins of the Slack and
//! Discord APIs that check requests against the official specs, request signers, and
//! `harness`, which wires them into a claimdesk `App`.
#![allow(dead_code)]

pub mod adversarial;
pub mod harness;
pub mod rss;
pub mod services;
pub mod signing;
pub mod standin;
