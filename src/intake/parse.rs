//! MIME parsing with mail-parser: raw RFC 822 bytes → the fields a ticket needs.

use mail_parser::{HeaderName, MessageParser};
use sha2::{Digest, Sha256};

use crate::domain::threading;

/// The parts of an email claimdesk uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedEmail {
    /// Message-ID without angle brackets. When the header is missing or malformed this is
    /// `sha256-<hex of the raw bytes>@claimdesk.invalid`, so the same bytes dedupe.
    pub message_id: String,
    /// Whether `message_id` was made up because the message had no usable one.
    pub message_id_synthesized: bool,
    /// msg-ids named in In-Reply-To.
    pub in_reply_to: Vec<String>,
    /// msg-ids named in References, in order.
    pub references: Vec<String>,
    /// From address (lower-cased), if there is one.
    pub from_addr: Option<String>,
    /// From display name.
    pub from_name: Option<String>,
    /// To addresses.
    pub to: Vec<String>,
    /// Subject, decoded (RFC 2047); empty when absent.
    pub subject: String,
    /// Plain-text body (HTML-only mail converted by mail-parser); empty when none.
    pub body_text: String,
    /// Size of the raw message, bytes.
    pub raw_size: usize,
}

impl ParsedEmail {
    /// Every msg-id this message carries: its own first, then In-Reply-To, then References.
    pub fn thread_ids(&self) -> Vec<String> {
        let mut ids = vec![self.message_id.clone()];
        for id in self.in_reply_to.iter().chain(&self.references) {
            if !ids.contains(id) {
                ids.push(id.clone());
            }
        }
        ids
    }
}

/// Why bytes are not an email we can use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// mail-parser found no message at all (empty input, no headers).
    #[error("not an RFC 822 message")]
    NotAMessage,
}

/// Parses `raw` leniently. Never panics; fails only when there is no message at all.
pub fn parse(raw: &[u8]) -> Result<ParsedEmail, ParseError> {
    let msg = MessageParser::default()
        .parse(raw)
        .ok_or(ParseError::NotAMessage)?;
    let header = |h: HeaderName<'static>| msg.header_raw(h).unwrap_or("");
    let (message_id, synthesized) = match threading::first_msg_id(header(HeaderName::MessageId)) {
        Some(id) => (id, false),
        None => (
            format!(
                "sha256-{}@claimdesk.invalid",
                hex::encode(Sha256::digest(raw))
            ),
            true,
        ),
    };
    let from = msg.from().and_then(|a| a.first());
    let from_addr = from
        .and_then(|a| a.address())
        .map(|a| a.trim().to_ascii_lowercase())
        .filter(|a| a.contains('@'));
    let from_name = from
        .and_then(|a| a.name())
        .map(|n| n.trim().to_string())
        .filter(|n| !n.is_empty());
    let to = msg
        .to()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.address())
                .map(|x| x.to_ascii_lowercase())
                .collect()
        })
        .unwrap_or_default();
    let body_text = msg
        .body_text(0)
        .map(|b| b.replace("\r\n", "\n"))
        .unwrap_or_default();
    Ok(ParsedEmail {
        message_id,
        message_id_synthesized: synthesized,
        in_reply_to: threading::msg_ids(header(HeaderName::InReplyTo)),
        references: threading::msg_ids(header(HeaderName::References)),
        from_addr,
        from_name,
        to,
        subject: msg.subject().unwrap_or("").trim().to_string(),
        body_text,
        raw_size: raw.len(),
    })
}

/// Every recipient address the message shows (lower-cased, without duplicates, in this
/// order): To and Cc (RFC 5322 §3.6.3), then Delivered-To and X-Original-To (added by the
/// delivering MTA, e.g. Postfix), which keep a plus-address such as
/// `support+TICK-2026-0001@…` even when the visible To does not. Reads only the header block.
pub fn recipients(raw: &[u8]) -> Vec<String> {
    let Some(msg) = MessageParser::default().parse_headers(raw) else {
        return Vec::new();
    };
    let mut out: Vec<String> = Vec::new();
    let mut push = |a: &str| {
        let a = a
            .trim()
            .trim_start_matches('<')
            .trim_end_matches('>')
            .trim();
        let a = a.to_ascii_lowercase();
        if a.contains('@') && !a.contains(char::is_whitespace) && !out.contains(&a) {
            out.push(a);
        }
    };
    for list in [msg.to(), msg.cc()].into_iter().flatten() {
        for a in list.iter().filter_map(|x| x.address()) {
            push(a);
        }
    }
    for h in msg.headers() {
        let name = h.name.as_str();
        if name.eq_ignore_ascii_case("Delivered-To") || name.eq_ignore_ascii_case("X-Original-To") {
            let start = h.offset_start as usize;
            let end = (h.offset_end as usize).min(raw.len());
            if let Some(v) = raw.get(start..end) {
                push(&String::from_utf8_lossy(v));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_threading_headers_and_sender() {
        let raw = b"From: =?utf-8?q?J=C3=BCrgen?= <Juergen@Example.COM>\r\nTo: support@desk.test\r\n\
Subject: Re: Printer on fire\r\nMessage-ID: <b@x>\r\nIn-Reply-To: <a@x>\r\nReferences: <root@x>\r\n <a@x>\r\n\r\nStill burning.\r\n";
        let p = parse(raw).unwrap();
        assert_eq!(p.message_id, "b@x");
        assert!(!p.message_id_synthesized);
        assert_eq!(p.in_reply_to, vec!["a@x"]);
        assert_eq!(p.references, vec!["root@x", "a@x"]);
        assert_eq!(p.thread_ids(), vec!["b@x", "a@x", "root@x"]);
        assert_eq!(p.from_addr.as_deref(), Some("juergen@example.com"));
        assert_eq!(p.from_name.as_deref(), Some("Jürgen"));
        assert_eq!(p.subject, "Re: Printer on fire");
        assert_eq!(p.body_text.trim(), "Still burning.");
    }

    #[test]
    fn synthesizes_a_stable_id_when_missing() {
        let raw = b"From: a@b.c\r\nSubject: hi\r\n\r\nbody\r\n";
        let p1 = parse(raw).unwrap();
        let p2 = parse(raw).unwrap();
        assert!(p1.message_id_synthesized);
        assert_eq!(p1.message_id, p2.message_id);
        assert!(p1.message_id.ends_with("@claimdesk.invalid"));
    }

    #[test]
    fn empty_input_is_not_a_message() {
        assert_eq!(parse(b""), Err(ParseError::NotAMessage));
    }

    #[test]
    fn lists_recipients_with_delivery_headers() {
        let raw = b"Delivered-To: support+TICK-2026-0003@desk.test\r\nX-Original-To: <Help@Desk.test>\r\n\
From: a@b.c\r\nTo: \"Support\" <support@desk.test>\r\nCc: x@y.z, Support <support@desk.test>\r\n\
Subject: hi\r\n\r\nbody\r\n";
        assert_eq!(
            recipients(raw),
            vec![
                "support@desk.test",
                "x@y.z",
                "support+tick-2026-0003@desk.test",
                "help@desk.test"
            ]
        );
        assert!(recipients(b"").is_empty());
    }
}
