//! claimdesk: a help desk that lives in team chat.
//!
//! A support mailbox (IMAP) feeds tickets stored in Postgres; each ticket is a card with a
//! Claim button in Slack or Discord; replies typed in chat go back to the customer by SMTP.
//! Layers: [`domain`] (rules, no I/O) ← [`desk`] (use cases) ← surfaces ([`chat`], [`web`]);
//! [`store`] is Postgres, [`intake`] is IMAP and MIME, [`outbound`] is SMTP, and
//! [`worker`] delivers the outbox.

pub mod app;
pub mod chat;
pub mod config;
pub mod desk;
pub mod domain;
pub mod intake;
pub mod metrics;
pub mod outbound;
pub mod replicas;
pub mod store;
pub mod web;
pub mod worker;
