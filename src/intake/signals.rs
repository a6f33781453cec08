//! Extracts the [`Signals`] that `domain::classify` decides on from a parsed message: the
//! RFC 3834 / list / Exchange header fields, the MIME shape of reports (RFC 6522, RFC 3464,
//! RFC 5965), and the Message-IDs of the original message a report encloses or quotes.

use std::collections::HashSet;

use mail_parser::{Message, MimeHeaders, PartType};

use crate::domain::classify::Signals;
use crate::domain::threading;

/// How many bytes of text are scanned for quoted `Message-ID:` lines, over all text parts
/// and the raw body together.
pub const SCAN_LIMIT: usize = 256 * 1024;

/// At most this many enclosed or quoted original msg-ids are collected
/// ([`Signals::enclosed_msg_ids`]): a report names one original, a digest a few.
pub const MAX_ENCLOSED_IDS: usize = 20;

/// At most this many In-Reply-To and References msg-ids are collected
/// ([`Signals::thread_msg_ids`]).
pub const MAX_THREAD_IDS: usize = threading::MAX_IN_REPLY_TO + threading::MAX_REFERENCES;

/// Unique msg-ids in order, at most `max`, with a hash set beside the list.
struct IdList {
    ids: Vec<String>,
    seen: HashSet<String>,
    max: usize,
}

impl IdList {
    fn new(max: usize) -> IdList {
        IdList {
            ids: Vec::new(),
            seen: HashSet::new(),
            max,
        }
    }

    fn full(&self) -> bool {
        self.ids.len() >= self.max
    }

    /// Adds `id` (brackets and blanks trimmed) unless empty, `own_id`, known, or full.
    fn push(&mut self, id: &str, own_id: &str) {
        let id = id.trim().trim_start_matches('<').trim_end_matches('>');
        if !self.full() && !id.is_empty() && id != own_id && !self.seen.contains(id) {
            self.seen.insert(id.to_string());
            self.ids.push(id.to_string());
        }
    }
}

/// The classifier's input for `msg` (whose raw bytes are `raw` and own Message-ID, without
/// brackets, `own_id`). Never fails: absent or malformed fields leave their defaults.
/// Linear in the size of the message: looks at the first [`super::parse::MAX_PARTS`] parts,
/// scans at most [`SCAN_LIMIT`] bytes of text, and collects at most [`MAX_ENCLOSED_IDS`] and
/// [`MAX_THREAD_IDS`] ids.
pub(crate) fn extract(
    msg: &Message<'_>,
    raw: &[u8],
    own_id: &str,
    from_addr: Option<&str>,
    from_name: Option<&str>,
    subject: &str,
) -> Signals {
    let mut s = Signals {
        from_addr: from_addr.map(str::to_string),
        from_name: from_name.map(str::to_string),
        subject: subject.to_string(),
        ..Signals::default()
    };
    let mut seen_return_path = false;
    let mut from_present = false;
    let mut thread_ids = IdList::new(MAX_THREAD_IDS);
    for (name, value) in msg.headers_raw() {
        let value = value.trim();
        match name.to_ascii_lowercase().as_str() {
            "auto-submitted" if s.auto_submitted.is_none() => {
                s.auto_submitted = Some(value.to_string())
            }
            "precedence" if s.precedence.is_none() => s.precedence = Some(value.to_string()),
            "x-autoreply" | "x-autorespond" => s.x_autoreply = true,
            "x-auto-response-suppress" => s.x_auto_response_suppress = true,
            "list-id" | "list-unsubscribe" | "list-subscribe" | "mailing-list" => {
                s.list_headers = true
            }
            "x-failed-recipients" => s.x_failed_recipients = true,
            "return-path" if !seen_return_path => {
                seen_return_path = true;
                let inner: String = value.chars().filter(|c| !c.is_whitespace()).collect();
                s.null_return_path = inner == "<>" || inner.is_empty();
            }
            "from" => from_present = true,
            "in-reply-to" if !thread_ids.full() => {
                for id in threading::in_reply_to(value) {
                    thread_ids.push(&id, own_id);
                }
            }
            "references" if !thread_ids.full() => {
                for id in threading::references(value) {
                    thread_ids.push(&id, own_id);
                }
            }
            _ => {}
        }
    }
    s.from_without_address = from_present && from_addr.is_none();
    s.thread_msg_ids = thread_ids.ids;

    let mut enclosed = IdList::new(MAX_ENCLOSED_IDS);
    let mut budget = SCAN_LIMIT;
    for (i, part) in msg.parts.iter().take(super::parse::MAX_PARTS).enumerate() {
        let (ctype, subtype, report_type) = match part.content_type() {
            Some(ct) => (
                ct.ctype().to_ascii_lowercase(),
                ct.subtype().unwrap_or("").to_ascii_lowercase(),
                ct.attribute("report-type").map(|r| r.to_ascii_lowercase()),
            ),
            None => (String::new(), String::new(), None),
        };
        if i == 0 && ctype == "multipart" && subtype == "report" {
            s.report_type = report_type;
        }
        match (ctype.as_str(), subtype.as_str()) {
            ("message", "delivery-status" | "global-delivery-status") => {
                s.delivery_status_part = true
            }
            ("message", "feedback-report") => s.feedback_report_part = true,
            ("message", "rfc822" | "global") | ("text", "rfc822-headers") => {
                s.encloses_original = true
            }
            _ => {}
        }
        match &part.body {
            PartType::Message(inner) => {
                s.encloses_original = true;
                if let Some(id) = inner.message_id() {
                    enclosed.push(id, own_id);
                }
            }
            PartType::Text(text) => {
                let scanned = prefix(text, budget);
                budget -= scanned.len();
                scan_quoted_ids(scanned, own_id, &mut enclosed);
            }
            _ => {}
        }
    }
    // Bouncers that quote the original without MIME structure: scan the raw body as well.
    let body_start = find_body(raw);
    let end = raw.len().min(body_start.saturating_add(budget));
    if let Some(body) = raw.get(body_start..end) {
        scan_quoted_ids(&String::from_utf8_lossy(body), own_id, &mut enclosed);
    }
    s.enclosed_msg_ids = enclosed.ids;
    s
}

/// The longest prefix of `text` of at most `max` bytes that ends on a char boundary.
fn prefix(text: &str, max: usize) -> &str {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// Adds the msg-ids of every `Message-ID:` line in `text` — also when quoted (`> `) or
/// indented, and when the id is on the folded next line — until `out` is full.
fn scan_quoted_ids(text: &str, own_id: &str, out: &mut IdList) {
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        if out.full() {
            return;
        }
        let l = line.trim_start_matches(|c: char| c == '>' || c.is_whitespace());
        let Some((name, value)) = l.split_once(':') else {
            continue;
        };
        if !name.trim().eq_ignore_ascii_case("message-id") {
            continue;
        }
        let mut ids = threading::in_reply_to(value);
        if ids.is_empty() {
            if let Some(next) = lines.peek() {
                ids = threading::in_reply_to(next);
            }
        }
        for id in ids {
            out.push(&id, own_id);
        }
    }
}

/// Offset of the first byte after the header block (the first empty line), or the end.
fn find_body(raw: &[u8]) -> usize {
    for (i, w) in raw.windows(2).enumerate() {
        if w == b"\n\n" {
            return i + 2;
        }
        if w == b"\n\r" && raw.get(i + 2) == Some(&b'\n') {
            return i + 3;
        }
    }
    raw.len()
}

#[cfg(test)]
mod tests {
    use crate::intake::parse::parse;

    #[test]
    fn dsn_yields_report_type_parts_and_original_id() {
        let raw = b"From: MAILER-DAEMON@mx.example\r\nReturn-Path: <>\r\nTo: support@desk.test\r\n\
Subject: Undelivered Mail Returned to Sender\r\nMessage-ID: <bounce@mx.example>\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/report; report-type=delivery-status; boundary=\"b\"\r\n\r\n\
--b\r\nContent-Type: text/plain\r\n\r\nI could not deliver it.\r\n\
--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example\r\n\r\nFinal-Recipient: rfc822; x@y.example\r\nAction: failed\r\nStatus: 5.1.1\r\n\
--b\r\nContent-Type: text/rfc822-headers\r\n\r\nFrom: support@desk.test\r\nMessage-ID: <tick-2026-0001.abc@claimdesk.test>\r\nSubject: Re: hi\r\n\
--b--\r\n";
        let p = parse(raw).unwrap();
        let s = &p.signals;
        assert_eq!(s.report_type.as_deref(), Some("delivery-status"));
        assert!(s.delivery_status_part && s.encloses_original && s.null_return_path);
        assert_eq!(
            s.enclosed_msg_ids,
            vec!["tick-2026-0001.abc@claimdesk.test"]
        );
    }

    #[test]
    fn finds_ids_quoted_in_plain_bounces_and_enclosed_messages() {
        let raw = b"From: postmaster@x.example\r\nSubject: failure notice\r\nMessage-ID: <own@x>\r\n\r\n\
Sorry.\r\n--- Below this line is a copy of the message.\r\n\r\n> Message-Id:\r\n>  <orig@claimdesk.test>\r\n";
        let p = parse(raw).unwrap();
        assert_eq!(p.signals.enclosed_msg_ids, vec!["orig@claimdesk.test"]);
        let raw = b"From: a@b.example\r\nSubject: fwd\r\nMessage-ID: <own@x>\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nsee\r\n\
--b\r\nContent-Type: message/rfc822\r\n\r\nFrom: c@d.example\r\nMessage-ID: <inner@d>\r\n\r\nhi\r\n--b--\r\n";
        let p = parse(raw).unwrap();
        assert!(p.signals.encloses_original);
        assert_eq!(p.signals.enclosed_msg_ids, vec!["inner@d"]);
    }

    #[test]
    fn id_scans_are_capped_and_linear() {
        // 1,000,000 quoted ids in a text part and 100,000 References: the scans stop at
        // their caps (quadratic de-duplication took minutes here).
        let started = std::time::Instant::now();
        let refs: String = (0..100_000).map(|i| format!(" <r{i}@x>")).collect();
        let mut raw = format!(
            "From: a@b.example\r\nMessage-ID: <own@x>\r\nIn-Reply-To: <p@x>\r\nReferences:{refs}\r\n\r\n"
        )
        .into_bytes();
        for i in 0..1_000_000 {
            raw.extend_from_slice(format!("Message-ID: <b{i}@x>\n").as_bytes());
        }
        let p = parse(&raw).unwrap();
        let s = &p.signals;
        assert_eq!(s.enclosed_msg_ids.len(), super::MAX_ENCLOSED_IDS);
        assert_eq!(s.enclosed_msg_ids[0], "b0@x");
        assert!(s.thread_msg_ids.len() <= super::MAX_THREAD_IDS);
        assert_eq!(s.thread_msg_ids[0], "p@x");
        assert!(s.thread_msg_ids.contains(&"r99999@x".to_string()));
        assert_eq!(p.references.len(), crate::domain::threading::MAX_REFERENCES);
        assert_eq!(
            p.capped.references_omitted,
            100_000 - crate::domain::threading::MAX_REFERENCES
        );
        assert!(
            started.elapsed() < std::time::Duration::from_secs(60),
            "{:?}",
            started.elapsed()
        );
    }

    #[test]
    fn reads_rfc3834_and_list_fields() {
        let raw =
            b"From: Dana <dana@c.example>\r\nReturn-Path: < >\r\nAuto-Submitted: auto-replied\r\n\
Precedence: bulk\r\nX-Autoreply: yes\r\nX-Auto-Response-Suppress: All\r\nList-Id: <l.example>\r\n\
X-Failed-Recipients: z@y\r\nSubject: Away\r\n\r\nbody\r\n";
        let s = parse(raw).unwrap().signals;
        assert_eq!(s.auto_submitted.as_deref(), Some("auto-replied"));
        assert_eq!(s.precedence.as_deref(), Some("bulk"));
        assert!(s.x_autoreply && s.x_auto_response_suppress && s.list_headers);
        assert!(s.null_return_path && s.x_failed_recipients);
        assert!(!s.from_without_address);
    }
}
