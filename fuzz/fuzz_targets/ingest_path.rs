//! libFuzzer target over the pure part of ingest: raw bytes → `intake::parse::parse` →
//! the classification (`domain::classify::classify`) → the threading keys (`ParsedEmail::thread_ids`, `domain::threading::msg_ids`) → the
//! subject tag and base subject (`domain::threading`). No I/O.
//!
//! Besides "never panics", it checks what ingest relies on:
//! - a parsed message always has a Message-ID, and it is the first threading key;
//! - the threading keys are unique and each is one well-formed msg-id (RFC 5322 §3.6.4), so
//!   it reads back as itself when written as `<id>`;
//! - a subject tag found reads back as itself when written as `[TICK-…]`.
#![no_main]

use claimdesk_fuzz::domain::{classify, threading};
use claimdesk_fuzz::intake::parse;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(p) = parse::parse(data) else {
        return;
    };
    assert!(!p.message_id.is_empty(), "empty Message-ID");
    let _kind = classify::classify(&p.signals);
    let ids = p.thread_ids();
    assert_eq!(ids.first(), Some(&p.message_id), "own Message-ID first");
    for (i, id) in ids.iter().enumerate() {
        assert!(!ids[..i].contains(id), "threading key {id:?} repeated");
        assert_eq!(
            threading::msg_ids(&format!("<{id}>")),
            vec![id.clone()],
            "threading key {id:?} is not one well-formed msg-id"
        );
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
});
