//! Email intake: IMAP fetching (async-imap) and MIME parsing (mail-parser), and the
//! per-mailbox supervisor that keeps intake running (IDLE push or polling, reconnecting after
//! errors).

pub mod imap;
pub mod parse;
pub mod supervisor;
