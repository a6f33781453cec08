//! The pure modules of the intake path, compiled from claimdesk's own source files with the
//! same module paths (`crate::domain::threading`, `crate::intake::parse`), so the fuzz
//! build needs only their few dependencies (mail-parser, sha2, hmac, hex, thiserror, serde, ammonia, html2text) and
//! not claimdesk's whole tree (sqlx, serenity, slack-morphism, axum …), which under
//! cargo-fuzz's instrumented single-codegen-unit release build takes far longer on 2 cores.

pub mod domain;
pub mod intake;
