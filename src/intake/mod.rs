//! Email intake: the IMAP session (async-imap, `imap`), MIME parsing (mail-parser, `parse`),
//! the pipeline that runs fetch → parse → store over a session (`pipeline`), the per-mailbox
//! supervisor that keeps intake running (IDLE push or polling, reconnecting after errors);
//! and `claimdesk doctor`'s live checks.

pub mod doctor;
pub mod html;
pub mod imap;
pub mod oauth;
pub mod parse;
pub mod pipeline;
pub mod signals;
pub mod supervisor;
