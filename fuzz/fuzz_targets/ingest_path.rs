//! libFuzzer target over the pure part of ingest, for one message and for a batch: raw bytes
//! → `intake::parse::parse` → the classification (`domain::classify::classify`) → the
//! threading keys (`ParsedEmail::thread_ids`, `domain::threading::msg_ids`) → the subject tag
//! and base subject (`domain::threading`), and the HTML renderer's depth bound. No I/O.
//!
//! The input is a batch: messages separated by a line `--8<--` (at most [`MAX_BATCH`]); an
//! input without one is a single message, as before. Besides "never panics", it checks what
//! ingest relies on:
//! - a parsed message always has a Message-ID, and it is the first threading key;
//! - the threading keys are unique and each is one well-formed msg-id (RFC 5322 §3.6.4), so
//!   it reads back as itself when written as `<id>`;
//! - a subject tag found reads back as itself when written as `[TICK-…]`;
//! - every list and text is within its limit (`parse::MAX_*`, `threading::MAX_*`,
//!   `signals::MAX_*`), and what was cut is counted in `ParsedEmail::capped`;
//! - `parse_isolated` (the big-stack thread) gives the same result as `parse` (checked for
//!   every eighth input length);
//! - over a batch, the threading keys a batch preloads are at most the per-message bound
//!   times the batch size;
//! - `html::nesting_depth` never under-estimates: whenever it lets HTML through to the
//!   renderers, html5ever's tree is at most `4 × estimate + 8` deep (first 8 KB of the input).
#![no_main]

use std::collections::HashSet;

use claimdesk_fuzz::domain::{classify, threading};
use claimdesk_fuzz::intake::{html, parse, signals};
use libfuzzer_sys::fuzz_target;

/// Messages per fuzzed batch at most.
const MAX_BATCH: usize = 8;

/// Bytes of the input also read as HTML by [`html_depth_bound`].
const HTML_CHECK_BYTES: usize = 8 * 1024;

/// Threading keys of one message at most: its own id, In-Reply-To and References.
const MAX_KEYS: usize = 1 + threading::MAX_IN_REPLY_TO + threading::MAX_REFERENCES;

fuzz_target!(|data: &[u8]| {
    let mut batch_keys: HashSet<String> = HashSet::new();
    let mut messages = 0;
    for raw in split_batch(data) {
        messages += 1;
        let Some(keys) = one_message(raw) else {
            continue;
        };
        batch_keys.extend(keys);
    }
    assert!(batch_keys.len() <= messages * MAX_KEYS, "batch keys over the bound");
    html_depth_bound(data);
});

/// The messages of a fuzzed batch.
fn split_batch(data: &[u8]) -> Vec<&[u8]> {
    const SEP: &[u8] = b"\n--8<--\n";
    let mut out = Vec::new();
    let mut rest = data;
    while out.len() + 1 < MAX_BATCH {
        match rest.windows(SEP.len()).position(|w| w == SEP) {
            Some(i) => {
                out.push(&rest[..i]);
                rest = &rest[i + SEP.len()..];
            }
            None => break,
        }
    }
    out.push(rest);
    out
}

/// Checks one message; its threading keys, if it parses.
fn one_message(data: &[u8]) -> Option<Vec<String>> {
    let parsed = parse::parse(data);
    // A thread start per message halves the speed: every eighth length is enough.
    if data.len() % 8 == 0 {
        assert_eq!(parse::parse_isolated(data), parsed, "parse_isolated differs");
    }
    let p = parsed.ok()?;
    assert!(!p.message_id.is_empty(), "empty Message-ID");
    let _kind = classify::classify(&p.signals);
    let ids = p.thread_ids();
    assert!(ids.len() <= MAX_KEYS, "{} threading keys", ids.len());
    assert_eq!(ids.first(), Some(&p.message_id), "own Message-ID first");
    let mut seen = HashSet::new();
    for id in &ids {
        assert!(seen.insert(id), "threading key {id:?} repeated");
        assert_eq!(
            threading::msg_ids(&format!("<{id}>")),
            vec![id.clone()],
            "threading key {id:?} is not one well-formed msg-id"
        );
    }
    // Limits, and the counts of what they cut.
    assert!(p.references.len() <= threading::MAX_REFERENCES);
    assert!(p.in_reply_to.len() <= threading::MAX_IN_REPLY_TO);
    assert!(p.attachments.len() <= parse::MAX_ATTACHMENTS);
    assert!(p.to.len() <= parse::MAX_TO);
    assert!(p.body_text.len() <= parse::MAX_BODY_TEXT_BYTES);
    assert!(p.subject.len() <= parse::MAX_SUBJECT_BYTES);
    if let Some(n) = p.capped.body_text_bytes {
        assert!(n > parse::MAX_BODY_TEXT_BYTES);
    }
    if let Some(n) = p.capped.subject_bytes {
        assert!(n > parse::MAX_SUBJECT_BYTES);
    }
    assert!(p.signals.enclosed_msg_ids.len() <= signals::MAX_ENCLOSED_IDS);
    assert!(p.signals.thread_msg_ids.len() <= signals::MAX_THREAD_IDS);
    assert!(parse::recipients(data).len() <= parse::MAX_RECIPIENTS);
    if p.capped.references_omitted > 0 {
        assert_eq!(p.references.len(), threading::MAX_REFERENCES);
    }
    if let Some(tag) = threading::subject_tag(&p.subject, "TICK") {
        assert_eq!(
            threading::subject_tag(&format!("[{tag}]"), "TICK"),
            Some(tag.clone()),
            "tag {tag} does not read back"
        );
        let _ = threading::reply_subject(&p.subject, &tag);
    }
    let _ = threading::base_subject(&p.subject);
    Some(ids)
}

/// `html::nesting_depth` is an upper estimate of html5ever's tree depth (up to the elements
/// the tree builder adds itself).
/// Reads the first [`HTML_CHECK_BYTES`] of the input (deep enough for any structure; the
/// whole input as HTML again would halve the speed).
fn html_depth_bound(data: &[u8]) {
    let text = String::from_utf8_lossy(&data[..data.len().min(HTML_CHECK_BYTES)]);
    let estimate = html::nesting_depth(&text, html::MAX_HTML_DEPTH);
    if estimate > html::MAX_HTML_DEPTH {
        return;
    }
    let Ok(dom) = html2text::config::plain().parse_html(text.as_bytes()) else {
        return;
    };
    // Depth in elements below the document node, iteratively.
    let mut deepest = 0usize;
    let mut stack = vec![(dom.document.clone(), 0usize)];
    while let Some((node, depth)) = stack.pop() {
        deepest = deepest.max(depth);
        for child in node.children.borrow().iter() {
            let is_element = matches!(child.data, html2text::Element { .. });
            stack.push((child.clone(), depth + usize::from(is_element)));
        }
    }
    assert!(
        deepest <= 4 * estimate + 8,
        "html5ever depth {deepest} over 4 × estimate {estimate} + 8"
    );
}
