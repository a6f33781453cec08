//! Email intake: IMAP fetching (async-imap) and MIME parsing (mail-parser).

pub mod imap;
pub mod parse;
