//! MIME parsing with mail-parser: raw RFC 822 bytes → the fields a ticket needs.

use std::collections::HashSet;

use mail_parser::{HeaderName, Message, MessageParser, MimeHeaders, PartType};
use sha2::{Digest, Sha256};

use crate::domain::threading;

/// At most this many attachments of one message are stored (in MIME order); the raw message
/// keeps the rest, and [`Capped::attachments_omitted`] counts them.
pub const MAX_ATTACHMENTS: usize = 100;

/// At most this many MIME parts of one message are looked at (for attachments and the
/// classifier's signals); mail-parser lists every part, flattened, in `Message::parts`.
pub const MAX_PARTS: usize = 1_000;

/// The plain-text body is kept up to this many bytes (cut on a char boundary); the raw
/// message keeps it whole.
pub const MAX_BODY_TEXT_BYTES: usize = 2 * 1024 * 1024;

/// The subject is kept up to this many bytes (cut on a char boundary): RFC 5322 §2.1.1's
/// 998-character line limit, with room for encoded words decoding to multi-byte text.
pub const MAX_SUBJECT_BYTES: usize = 2_000;

/// At most this many To addresses are kept (unique, in order).
pub const MAX_TO: usize = 100;

/// At most this many recipient addresses are returned by [`recipients`].
pub const MAX_RECIPIENTS: usize = 200;

/// Stack of the thread [`parse_isolated`] parses on, bytes. Parsing itself is bounded
/// ([`super::html`] checks HTML nesting before rendering it, nested messages are freed
/// iteratively), so this is headroom, reserved as virtual memory and touched only as used.
pub const PARSE_STACK_BYTES: usize = 64 * 1024 * 1024;

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
    /// The `Date:` header (RFC 5322 §3.6.1) as an instant; `None` when it is absent, cannot
    /// be read, or names an impossible date (see [`header_date`]).
    pub date: Option<chrono::DateTime<chrono::Utc>>,
    /// Plain-text body, charset-decoded to UTF-8; HTML-only mail converted to readable text
    /// by [`super::html::to_text`]; empty when none.
    pub body_text: String,
    /// Size of the raw message, bytes.
    pub raw_size: usize,
    /// What `domain::classify` decides on: RFC 3834 fields, report structure, enclosed
    /// original Message-IDs (see `intake::signals`).
    pub signals: crate::domain::classify::Signals,
    /// The first text/html body part, sanitised by [`super::html::sanitize`]; `None` for
    /// mail without HTML.
    pub body_html: Option<String>,
    /// Attachments (every MIME part that is not a text or HTML body, inline images and
    /// attached messages included), in MIME order; at most [`MAX_ATTACHMENTS`].
    pub attachments: Vec<ParsedAttachment>,
    /// What the limits of this module left out of the fields above (the raw message always
    /// keeps everything).
    pub capped: Capped,
}

/// What parsing left out because of its limits; all zero / `false` for ordinary mail.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Capped {
    /// Attachments not listed in [`ParsedEmail::attachments`] (over [`MAX_ATTACHMENTS`], or
    /// in parts after the first [`MAX_PARTS`]).
    pub attachments_omitted: usize,
    /// MIME parts of the message (mail-parser's count, nested ones included) when more than
    /// [`MAX_PARTS`]; 0 otherwise.
    pub parts_total: usize,
    /// The plain-text body's length in bytes (decoded, before CRLF became LF) when it was
    /// cut at [`MAX_BODY_TEXT_BYTES`].
    pub body_text_bytes: Option<usize>,
    /// The subject's length in bytes when it was cut at [`MAX_SUBJECT_BYTES`].
    pub subject_bytes: Option<usize>,
    /// The HTML body was too large or too deeply nested to render: the text and sanitised
    /// HTML come from a plain tag-stripping pass ([`super::html::Rendered::simplified`]).
    pub html_simplified: bool,
    /// References msg-ids left out (over [`threading::MAX_REFERENCES`]).
    pub references_omitted: usize,
}

impl Capped {
    /// Whether something a reader would miss was left out (attachments, parts, text, subject,
    /// formatting), worth a note on the ticket. Trimmed References are not: mail clients trim
    /// them the same way, and long threads have them on every message.
    pub fn loses_content(&self) -> bool {
        Capped {
            references_omitted: 0,
            ..self.clone()
        } != Capped::default()
    }
}

/// One attachment of a parsed email.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedAttachment {
    /// File name from Content-Disposition `filename` or Content-Type `name` (RFC 2183,
    /// RFC 2231 / RFC 2047 decoded); `None` when the part names none.
    pub name: Option<String>,
    /// Media type `type/subtype`, lower-case; `application/octet-stream` when absent.
    pub content_type: String,
    /// Decoded content (Content-Transfer-Encoding undone).
    pub content: Vec<u8>,
    /// SHA-256 of `content`, lower-case hex.
    pub sha256: String,
}

impl ParsedAttachment {
    /// Name to show: the file name, or `unnamed.<subtype>`.
    pub fn display_name(&self) -> String {
        self.name.clone().unwrap_or_else(|| {
            let sub = self.content_type.split('/').nth(1).unwrap_or("bin");
            format!("unnamed.{sub}")
        })
    }
}

impl ParsedEmail {
    /// Every msg-id this message carries: its own first, then In-Reply-To, then References.
    /// At most `1 + MAX_IN_REPLY_TO + MAX_REFERENCES` ids, unique (hash set, linear).
    pub fn thread_ids(&self) -> Vec<String> {
        let mut seen: HashSet<&str> = HashSet::new();
        std::iter::once(&self.message_id)
            .chain(&self.in_reply_to)
            .chain(&self.references)
            .filter(|id| seen.insert(id.as_str()))
            .cloned()
            .collect()
    }
}

/// Why bytes are not an email we can use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// mail-parser found no message at all (empty input, no headers).
    #[error("not an RFC 822 message")]
    NotAMessage,
    /// Parsing panicked (a bug in a parser library or ours); the text is the panic's
    /// message. Only [`parse_isolated`] reports this.
    #[error("parsing panicked: {0}")]
    Panicked(String),
    /// No thread could be started to parse on (the OS refused: out of memory or threads).
    #[error("cannot start a parsing thread: {0}")]
    NoThread(String),
}

/// [`parse`] on a thread of its own with a [`PARSE_STACK_BYTES`] stack, so that nothing in
/// the input can exhaust the caller's stack (an overflow aborts the process; it is no
/// panic), and a panic becomes [`ParseError::Panicked`] instead of unwinding into the
/// caller. Blocks the calling thread until the parse is done; call it where blocking is
/// allowed (`tokio::task::spawn_blocking`, a plain thread). Costs one thread start per
/// message (tens of microseconds).
pub fn parse_isolated(raw: &[u8]) -> Result<ParsedEmail, ParseError> {
    std::thread::scope(|scope| {
        let handle = std::thread::Builder::new()
            .name("claimdesk-parse".into())
            .stack_size(PARSE_STACK_BYTES)
            .spawn_scoped(scope, || parse(raw))
            .map_err(|e| ParseError::NoThread(e.to_string()))?;
        handle.join().unwrap_or_else(|panic| {
            let text = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "non-text panic payload".into());
            Err(ParseError::Panicked(text))
        })
    })
}

/// `s` cut to at most `max` bytes on a char boundary.
fn cut(s: &mut String, max: usize) {
    if s.len() > max {
        let mut end = max;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
}

/// Frees `msg` without recursion: a message/rfc822 part holds its message inline, so the
/// derived drop of a message nested 10,000 deep recurses 10,000 frames and overflows the
/// stack. Nested messages are moved out onto a heap stack and dropped one at a time.
fn drop_flat(msg: Message<'_>) {
    let mut pending = vec![msg];
    while let Some(mut m) = pending.pop() {
        for part in &mut m.parts {
            if matches!(part.body, PartType::Message(_)) {
                if let PartType::Message(inner) = std::mem::take(&mut part.body) {
                    pending.push(inner);
                }
            }
        }
    }
}

/// Parses `raw` leniently. Never panics; fails only when there is no message at all.
///
/// Cost is linear in `raw.len()` and the stack it needs is bounded whatever the input: id
/// lists are de-duplicated with hash sets and capped ([`threading::references`],
/// [`threading::in_reply_to`]), at most [`MAX_PARTS`] MIME parts are looked at and
/// [`MAX_ATTACHMENTS`] attachments kept, text and subject are cut at [`MAX_BODY_TEXT_BYTES`]
/// and [`MAX_SUBJECT_BYTES`], HTML too large or too deep for the renderers is simplified
/// ([`super::html::render`]); what was left out is in [`ParsedEmail::capped`].
pub fn parse(raw: &[u8]) -> Result<ParsedEmail, ParseError> {
    let msg = MessageParser::default()
        .parse(raw)
        .ok_or(ParseError::NotAMessage)?;
    let parsed = parse_message(&msg, raw);
    drop_flat(msg);
    Ok(parsed)
}

fn parse_message(msg: &Message<'_>, raw: &[u8]) -> ParsedEmail {
    let mut capped = Capped::default();
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
    let mut seen_to: HashSet<String> = HashSet::new();
    let to = msg
        .to()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.address())
                .map(|x| x.to_ascii_lowercase())
                .filter(|x| seen_to.insert(x.clone()))
                .take(MAX_TO)
                .collect()
        })
        .unwrap_or_default();
    // The first real text/html body part (not mail-parser's HTML made from text), rendered
    // once for both the text (HTML-only mail) and the sanitised copy.
    let html = msg
        .html_part(0)
        .filter(|p| p.is_text_html())
        .and_then(|p| p.text_contents())
        .map(super::html::render);
    let mut body_text = match msg.text_part(0) {
        // HTML-only mail: mail-parser lists the HTML part as the text body too.
        Some(part) if part.is_text_html() => match (&html, part.text_contents()) {
            (Some(h), _) => h.text.clone(),
            (None, contents) => super::html::render(contents.unwrap_or("")).text,
        },
        // Only the part that is kept is copied (CRLF → LF can only shorten it).
        _ => msg
            .body_text(0)
            .map(|b| {
                if b.len() > MAX_BODY_TEXT_BYTES {
                    capped.body_text_bytes = Some(b.len());
                }
                let mut end = b.len().min(MAX_BODY_TEXT_BYTES);
                while !b.is_char_boundary(end) {
                    end -= 1;
                }
                b[..end].replace("\r\n", "\n")
            })
            .unwrap_or_default(),
    };
    if body_text.len() > MAX_BODY_TEXT_BYTES {
        capped.body_text_bytes = Some(body_text.len());
        cut(&mut body_text, MAX_BODY_TEXT_BYTES);
    }
    let mut subject = msg.subject().unwrap_or("").trim().to_string();
    if subject.len() > MAX_SUBJECT_BYTES {
        capped.subject_bytes = Some(subject.len());
        cut(&mut subject, MAX_SUBJECT_BYTES);
    }
    let signals = super::signals::extract(
        msg,
        raw,
        &message_id,
        from_addr.as_deref(),
        from_name.as_deref(),
        &subject,
    );
    let all_references = threading::msg_ids(header(HeaderName::References));
    capped.references_omitted = all_references
        .len()
        .saturating_sub(threading::MAX_REFERENCES);
    if msg.parts.len() > MAX_PARTS {
        capped.parts_total = msg.parts.len();
    }
    capped.html_simplified = html.as_ref().is_some_and(|h| h.simplified);
    let (attachments, omitted) = attachments(msg);
    capped.attachments_omitted = omitted;
    ParsedEmail {
        message_id,
        message_id_synthesized: synthesized,
        in_reply_to: threading::in_reply_to(header(HeaderName::InReplyTo)),
        references: threading::trim_references(all_references),
        from_addr,
        from_name,
        to,
        subject,
        date: header_date(msg),
        body_text,
        raw_size: raw.len(),
        signals,
        body_html: html.map(|h| h.sanitized),
        attachments,
        capped,
    }
}

/// The instant the `Date:` header names (RFC 5322 §3.6.1, mail-parser's reading, which also
/// takes the obsolete forms of §4.3); `None` when the header is absent or unreadable, when
/// its fields are out of range (month 13, zone +25:00: mail-parser's `is_valid`), or when it
/// is before 1970 or after 9999 (no mail system stamps those; they only upset sorting).
fn header_date(msg: &Message<'_>) -> Option<chrono::DateTime<chrono::Utc>> {
    let d = msg.date().filter(|d| d.is_valid())?;
    chrono::DateTime::from_timestamp(d.to_timestamp(), 0)
        .filter(|t| (1970..=9999).contains(&chrono::Datelike::year(t)))
}

/// The attachments of the first [`MAX_PARTS`] parts, at most [`MAX_ATTACHMENTS`], and how
/// many were left out.
fn attachments(msg: &Message<'_>) -> (Vec<ParsedAttachment>, usize) {
    let total = msg.attachments.len();
    let kept: Vec<ParsedAttachment> = msg
        .attachments
        .iter()
        .filter(|&&i| (i as usize) < MAX_PARTS)
        .take(MAX_ATTACHMENTS)
        .filter_map(|&i| msg.parts.get(i as usize))
        .map(|part| {
            let content_type = part
                .content_type()
                .map(|ct| match ct.subtype() {
                    Some(sub) => format!("{}/{}", ct.ctype(), sub),
                    None => ct.ctype().to_string(),
                })
                .map(|t| t.to_ascii_lowercase())
                .unwrap_or_else(|| {
                    if part.is_message() {
                        "message/rfc822".into()
                    } else {
                        "application/octet-stream".into()
                    }
                });
            let content = part.contents().to_vec();
            ParsedAttachment {
                name: part
                    .attachment_name()
                    .map(|n| n.trim().to_string())
                    .filter(|n| !n.is_empty()),
                content_type,
                sha256: hex::encode(Sha256::digest(&content)),
                content,
            }
        })
        .collect();
    let omitted = total - kept.len();
    (kept, omitted)
}

/// Every recipient address the message shows (lower-cased, without duplicates, in this
/// order): To and Cc (RFC 5322 §3.6.3), then Delivered-To and X-Original-To (added by the
/// delivering MTA, e.g. Postfix), which keep a plus-address such as
/// `support+TICK-2026-0001@…` even when the visible To does not. Reads only the header block;
/// at most [`MAX_RECIPIENTS`] addresses.
pub fn recipients(raw: &[u8]) -> Vec<String> {
    let Some(msg) = MessageParser::default().parse_headers(raw) else {
        return Vec::new();
    };
    let mut out: Vec<String> = Vec::new();
    let mut seen: HashSet<String> = HashSet::new();
    let mut push = |a: &str| {
        if out.len() >= MAX_RECIPIENTS {
            return;
        }
        let a = a
            .trim()
            .trim_start_matches('<')
            .trim_end_matches('>')
            .trim();
        let a = a.to_ascii_lowercase();
        if a.contains('@') && !a.contains(char::is_whitespace) && seen.insert(a.clone()) {
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
    fn reads_the_date_header_and_drops_a_missing_or_absurd_one() {
        let with = |date: &str| {
            let raw = format!("From: a@b.c\r\n{date}Subject: hi\r\n\r\nbody\r\n");
            parse(raw.as_bytes()).unwrap().date
        };
        let at = |s: &str| Some(chrono::DateTime::parse_from_rfc3339(s).unwrap().to_utc());
        assert_eq!(
            with("Date: Tue, 1 Dec 2026 09:30:00 +0100\r\n"),
            at("2026-12-01T08:30:00Z")
        );
        // Obsolete zone names (RFC 5322 §4.3) are read too.
        assert_eq!(
            with("Date: Tue, 1 Dec 2026 09:30:00 EST\r\n"),
            at("2026-12-01T14:30:00Z")
        );
        assert_eq!(with(""), None);
        assert_eq!(with("Date: next tuesday, after lunch\r\n"), None);
        assert_eq!(with("Date: Tue, 45 Dec 2026 09:30:00 +0000\r\n"), None);
        assert_eq!(with("Date: Mon, 1 Jan 1900 00:00:00 +0000\r\n"), None);
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

    /// `f` on a thread with the 2 MiB stack Rust gives threads by default (tokio's blocking
    /// threads too): a stack overflow there aborts the test process.
    fn on_small_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
        std::thread::Builder::new()
            .stack_size(2 * 1024 * 1024)
            .spawn(f)
            .unwrap()
            .join()
            .unwrap()
    }

    #[test]
    fn deep_nesting_parses_on_a_small_stack() {
        // message/rfc822 nested 100,000 deep: the derived drop recursed once per level.
        let mut raw = String::new();
        for i in 0..100_000 {
            raw.push_str(&format!(
                "From: a@b.c\r\nMessage-ID: <n{i}@x>\r\nContent-Type: message/rfc822\r\n\r\n"
            ));
        }
        raw.push_str("From: a@b.c\r\n\r\nhi\r\n");
        let p = on_small_stack(move || parse(raw.as_bytes()).unwrap());
        assert_eq!(p.message_id, "n0@x");
        assert_eq!(p.attachments.len(), 1);
        // HTML nested 100,000 deep: simplified, not rendered.
        let html = mail(
            "MIME-Version: 1.0\r\nContent-Type: text/html",
            &format!(
                "{}deep{}",
                "<div>".repeat(100_000),
                "</div>".repeat(100_000)
            ),
        );
        let p = on_small_stack(move || parse(&html).unwrap());
        assert_eq!(p.body_text, "deep");
        assert!(p.capped.html_simplified && p.capped.loses_content());
        // The same through the big-stack helper.
        let again = parse_isolated(&mail("Subject: x", "hi")).unwrap();
        assert_eq!(again, parse(&mail("Subject: x", "hi")).unwrap());
    }

    #[test]
    fn many_parts_keep_the_first_attachments_and_count_the_rest() {
        let mut body = String::from("--b\r\nContent-Type: text/plain\r\n\r\nhello\r\n");
        for i in 0..10_000 {
            body.push_str(&format!(
                "--b\r\nContent-Type: application/octet-stream; name=\"f{i}.bin\"\r\n\r\n{i}\r\n"
            ));
        }
        body.push_str("--b--\r\n");
        let raw = mail(
            "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b",
            &body,
        );
        let p = parse(&raw).unwrap();
        assert_eq!(p.body_text.trim(), "hello");
        assert_eq!(p.attachments.len(), MAX_ATTACHMENTS);
        assert_eq!(p.attachments[0].name.as_deref(), Some("f0.bin"));
        assert_eq!(p.capped.attachments_omitted, 10_000 - MAX_ATTACHMENTS);
        assert_eq!(p.capped.parts_total, 10_002);
        // A 1 MB subject and 3 MB of text are cut on char boundaries.
        let raw = mail(
            &format!("Subject: {}", "ü".repeat(500_000)),
            &"ä".repeat(1_500_000),
        );
        let p = parse(&raw).unwrap();
        assert!(p.subject.len() <= MAX_SUBJECT_BYTES && p.subject.starts_with('ü'));
        assert_eq!(p.capped.subject_bytes, Some(1_000_000));
        assert!(p.body_text.len() <= MAX_BODY_TEXT_BYTES && p.body_text.ends_with('ä'));
        assert_eq!(p.capped.body_text_bytes, Some(3_000_000));
    }

    #[test]
    fn empty_input_is_not_a_message() {
        assert_eq!(parse(b""), Err(ParseError::NotAMessage));
    }

    /// A file of the shared corpus, read in place (`../shared` beside the repo, or two levels
    /// up from a git worktree).
    fn corpus(rel: &str) -> Vec<u8> {
        let base = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let candidates = [
            base.join("../shared/corpus").join(rel),
            base.join("../../shared/corpus").join(rel),
        ];
        for c in &candidates {
            if let Ok(b) = std::fs::read(c) {
                return b;
            }
        }
        panic!("corpus file {rel} not found beside the repository");
    }

    fn mail(headers: &str, body: &str) -> Vec<u8> {
        format!("From: a@b.test\r\nMessage-ID: <m@b.test>\r\n{headers}\r\n\r\n{body}").into_bytes()
    }

    #[test]
    fn decodes_encoded_words_in_many_charsets() {
        let cases = [
            ("=?iso-2022-jp?b?GyRCRnxLXDhsJE43b0w+GyhC?=", "日本語の件名"),
            (
                "=?koi8-r?b?8NLJ18XULCDQ0snO1MXSINPMz83BzNPRLg==?=",
                "Привет, принтер сломался.",
            ),
            ("=?iso-8859-1?q?Caf=E9_cr=E8me?=", "Café crème"),
            ("=?utf-8?b?8J+TjiBBbmhhbmc=?=", "📎 Anhang"),
            // Two adjacent encoded words: the whitespace between them is dropped (RFC 2047 §6.2).
            ("=?utf-8?q?Gr=C3=BC?= =?utf-8?q?=C3=9Fe?=", "Grüße"),
        ];
        for (encoded, want) in cases {
            let p = parse(&mail(&format!("Subject: {encoded}"), "x")).unwrap();
            assert_eq!(p.subject, want, "{encoded}");
        }
    }

    #[test]
    fn decodes_bodies_in_legacy_charsets() {
        let jp = mail(
            "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=iso-2022-jp\r\nContent-Transfer-Encoding: base64",
            "GyRCJDMkcyRLJEEkTyEiJVclaiVzJT8hPCQsMnUkbCReJDckPyEjGyhC\r\n",
        );
        assert_eq!(
            parse(&jp).unwrap().body_text.trim(),
            "こんにちは、プリンターが壊れました。"
        );
        let ru = mail(
            "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=koi8-r\r\nContent-Transfer-Encoding: base64",
            "8NLJ18XULCDQ0snO1MXSINPMz83BzNPRLg==\r\n",
        );
        assert_eq!(
            parse(&ru).unwrap().body_text.trim(),
            "Привет, принтер сломался."
        );
    }

    #[test]
    fn corpus_utf7_subject_and_utf16_euc_jp_bodies() {
        let p = parse(&corpus("mail-parser/legacy/001.eml")).unwrap();
        assert_eq!(
            p.subject,
            "Die Hasen und die Frösche (Microsoft Outlook 00)"
        );
        // Five text parts: UTF-16LE raw, UTF-16BE and LE in base64, EUC-JP, broken UTF-8.
        let raw = corpus("mail-parser/thirdparty/005.eml");
        let msg = MessageParser::default().parse(&raw[..]).unwrap();
        let bodies: Vec<String> = (0..4)
            .map(|i| msg.body_text(i).unwrap_or_default().trim().to_string())
            .collect();
        assert_eq!(bodies[0], "Test message");
        assert_eq!(bodies[1], "Test message");
        assert_eq!(bodies[2], "Test message");
        assert_eq!(bodies[3], "『世界人権宣言』");
        assert_eq!(parse(&raw).unwrap().body_text.trim(), "Test message");
    }

    #[test]
    fn corpus_html_only_mail_becomes_readable_text() {
        let p = parse(&corpus("enmime/mail/html-only-inline.raw")).unwrap();
        assert!(!p.body_text.is_empty());
        assert!(!p.body_text.contains('<'), "{}", p.body_text);
        assert!(p.body_html.is_some());
    }

    #[test]
    fn html_only_mail_gets_text_and_sanitised_html() {
        let raw = mail(
            "MIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8",
            "<html><body><p>Hello,</p><p>see <a href=\"https://x.test/a\">this</a> &amp; that.<br>Thanks</p><script>x()</script></body></html>\r\n",
        );
        let p = parse(&raw).unwrap();
        assert_eq!(
            p.body_text,
            "Hello,\n\nsee this (https://x.test/a) & that.\nThanks"
        );
        let html = p.body_html.unwrap_or_default();
        assert!(html.contains("<a href=\"https://x.test/a\""), "{html}");
        assert!(!html.contains("script"), "{html}");
    }

    #[test]
    fn plain_mail_has_no_html_and_alternative_prefers_the_text_part() {
        assert_eq!(parse(&mail("Subject: x", "hi")).unwrap().body_html, None);
        let raw = mail(
            "MIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=b",
            "--b\r\nContent-Type: text/plain\r\n\r\nplain version\r\n--b\r\nContent-Type: text/html\r\n\r\n<p>html version</p>\r\n--b--\r\n",
        );
        let p = parse(&raw).unwrap();
        assert_eq!(p.body_text.trim(), "plain version");
        assert_eq!(
            p.body_html.as_deref().map(str::trim),
            Some("<p>html version</p>")
        );
        assert!(p.attachments.is_empty());
    }

    #[test]
    fn lists_attachments_with_name_type_and_sha256() {
        let raw = mail(
            "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b",
            "--b\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n\
--b\r\nContent-Type: application/pdf; name=\"r.pdf\"\r\nContent-Disposition: attachment; filename=\"=?utf-8?q?R=C3=A9sum=C3=A9.pdf?=\"\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n\
--b\r\nContent-Type: image/png\r\nContent-Transfer-Encoding: base64\r\n\r\niVBORw0KGgo=\r\n--b--\r\n",
        );
        let p = parse(&raw).unwrap();
        assert_eq!(p.body_text.trim(), "see attached");
        assert_eq!(p.attachments.len(), 2);
        let pdf = &p.attachments[0];
        assert_eq!(pdf.name.as_deref(), Some("Résumé.pdf"));
        assert_eq!(pdf.content_type, "application/pdf");
        assert_eq!(pdf.content, b"%PDF-1.4\n");
        assert_eq!(pdf.sha256, hex::encode(Sha256::digest(b"%PDF-1.4\n")));
        let png = &p.attachments[1];
        assert_eq!(png.name, None);
        assert_eq!(png.display_name(), "unnamed.png");
        assert_eq!(png.content.len(), 8);
    }

    #[test]
    fn every_corpus_file_of_mail_parser_cpython_and_enmime_parses_without_panic() {
        let base = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let root = [
            base.join("../shared/corpus"),
            base.join("../../shared/corpus"),
        ]
        .into_iter()
        .find(|p| p.is_dir())
        .expect("shared corpus beside the repository");
        let mut files = Vec::new();
        let mut dirs = vec![
            root.join("mail-parser"),
            root.join("cpython"),
            root.join("enmime"),
        ];
        while let Some(d) = dirs.pop() {
            for e in std::fs::read_dir(&d)
                .expect("corpus dir readable")
                .flatten()
            {
                let path = e.path();
                if path.is_dir() {
                    dirs.push(path);
                } else {
                    files.push(path);
                }
            }
        }
        assert!(files.len() > 150, "corpus has {} files", files.len());
        let (mut parsed, mut html_only) = (0, 0);
        for f in &files {
            let raw = std::fs::read(f).expect("corpus file readable");
            let Ok(p) = parse(&raw) else { continue };
            parsed += 1;
            for a in &p.attachments {
                assert_eq!(a.sha256, hex::encode(Sha256::digest(&a.content)), "{f:?}");
            }
            let msg = MessageParser::default()
                .parse(&raw[..])
                .expect("parsed above");
            if msg.text_part(0).is_some_and(|t| t.is_text_html()) {
                html_only += 1;
                for tag in ["<p>", "</p>", "<br", "<div", "</a>", "<html", "<body"] {
                    assert!(
                        !p.body_text.to_ascii_lowercase().contains(tag),
                        "{f:?}: {tag} left in {:?}",
                        p.body_text
                    );
                }
            }
        }
        assert!(
            parsed > 150 && html_only >= 3,
            "parsed {parsed}, HTML-only {html_only}"
        );
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
