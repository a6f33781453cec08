//! Email intake: IMAP fetching (async-imap) and MIME parsing (mail-parser); the per-mailbox
//! supervisor that keeps intake running (IDLE push or polling, reconnecting after errors);
//! and `claimdesk doctor`'s live checks.

pub mod doctor;
pub mod html;
pub mod imap;
pub mod oauth;
pub mod parse;
pub mod signals;
pub mod supervisor;
