//! Extracts the [`Signals`] that `domain::classify` decides on from a parsed message: the
//! RFC 3834 / list / Exchange header fields, the MIME shape of reports (RFC 6522, RFC 3464,
//! RFC 5965), and the Message-IDs of the original message a report encloses or quotes.

use mail_parser::{Message, MimeHeaders, PartType};

use crate::domain::classify::Signals;
use crate::domain::threading;

/// How many bytes of a message body are scanned for quoted `Message-ID:` lines.
const SCAN_LIMIT: usize = 256 * 1024;

/// The classifier's input for `msg` (whose raw bytes are `raw` and own Message-ID, without
/// brackets, `own_id`). Never fails: absent or malformed fields leave their defaults.
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
            "in-reply-to" | "references" => {
                for id in threading::msg_ids(value) {
                    if id != own_id && !s.thread_msg_ids.contains(&id) {
                        s.thread_msg_ids.push(id);
                    }
                }
            }
            _ => {}
        }
    }
    s.from_without_address = from_present && from_addr.is_none();

    let mut enclosed: Vec<String> = Vec::new();
    for (i, part) in msg.parts.iter().enumerate() {
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
                    push_id(&mut enclosed, id, own_id);
                }
            }
            PartType::Text(text) => scan_quoted_ids(text, own_id, &mut enclosed),
            _ => {}
        }
    }
    // Bouncers that quote the original without MIME structure: scan the raw body as well.
    let body_start = find_body(raw);
    let end = raw.len().min(body_start + SCAN_LIMIT);
    if let Some(body) = raw.get(body_start..end) {
        scan_quoted_ids(&String::from_utf8_lossy(body), own_id, &mut enclosed);
    }
    s.enclosed_msg_ids = enclosed;
    s
}

fn push_id(out: &mut Vec<String>, id: &str, own_id: &str) {
    let id = id.trim().trim_start_matches('<').trim_end_matches('>');
    if !id.is_empty() && id != own_id && !out.iter().any(|x| x == id) {
        out.push(id.to_string());
    }
}

/// Adds the msg-ids of every `Message-ID:` line in `text` — also when quoted (`> `) or
/// indented, and when the id is on the folded next line.
fn scan_quoted_ids(text: &str, own_id: &str, out: &mut Vec<String>) {
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        let l = line.trim_start_matches(|c: char| c == '>' || c.is_whitespace());
        let Some((name, value)) = l.split_once(':') else {
            continue;
        };
        if !name.trim().eq_ignore_ascii_case("message-id") {
            continue;
        }
        let mut ids = threading::msg_ids(value);
        if ids.is_empty() {
            if let Some(next) = lines.peek() {
                ids = threading::msg_ids(next);
            }
        }
        for id in ids {
            push_id(out, &id, own_id);
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
