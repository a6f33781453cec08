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
    /// What `domain::classify` decides on: RFC 3834 fields, report structure, enclosed
    /// original Message-IDs (see `intake::signals`).
    pub signals: crate::domain::classify::Signals,
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
    let subject = msg.subject().unwrap_or("").trim().to_string();
    let signals = super::signals::extract(
        &msg,
        raw,
        &message_id,
        from_addr.as_deref(),
        from_name.as_deref(),
        &subject,
    );
    Ok(ParsedEmail {
        message_id,
        message_id_synthesized: synthesized,
        in_reply_to: threading::msg_ids(header(HeaderName::InReplyTo)),
        references: threading::msg_ids(header(HeaderName::References)),
        from_addr,
        from_name,
        to,
        subject,
        body_text,
        raw_size: raw.len(),
        signals,
    })
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
}
