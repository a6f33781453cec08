//! Threading keys: RFC 5322 msg-ids (§3.6.4) and the `[TICK-…]` subject tag.
//!
//! A message joins a ticket when any msg-id it carries (its own Message-ID, or one named in
//! In-Reply-To or References) is already known to belong to that ticket; failing that, when its
//! subject carries a tag naming an existing ticket. The store keeps every msg-id seen, so the
//! order in which messages arrive does not matter.

use super::TicketNumber;

/// Upper bound on a msg-id we keep, in bytes (RFC 5322 §2.1.1 line limit).
pub const MAX_MSG_ID_LEN: usize = 998;

/// Extracts every well-formed msg-id from a header value such as a References or In-Reply-To
/// field body, in order, without the angle brackets and without duplicates.
///
/// A msg-id here is `"<" id-left "@" id-right ">"` (RFC 5322 §3.6.4) where both sides are
/// non-empty runs of visible ASCII other than `<`, `>` and `@`. Anything else — bare words,
/// `<yes>`, ids with spaces, comments — is ignored, so a malformed header never links unrelated
/// threads.
pub fn msg_ids(header_value: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut rest = header_value;
    while let Some(start) = rest.find('<') {
        let after = &rest[start + 1..];
        let Some(end) = after.find(['>', '<']) else {
            break;
        };
        if after.as_bytes()[end] == b'<' {
            rest = &after[end..];
            continue;
        }
        let candidate = &after[..end];
        if is_msg_id(candidate) && !out.iter().any(|x| x == candidate) {
            out.push(candidate.to_string());
        }
        rest = &after[end + 1..];
    }
    out
}

/// The first well-formed msg-id in a Message-ID field body, if any (see [`msg_ids`]).
pub fn first_msg_id(header_value: &str) -> Option<String> {
    msg_ids(header_value).into_iter().next()
}

fn is_msg_id(s: &str) -> bool {
    if s.is_empty() || s.len() > MAX_MSG_ID_LEN {
        return false;
    }
    let Some((left, right)) = s.split_once('@') else {
        return false;
    };
    let ok = |part: &str| {
        !part.is_empty()
            && part
                .bytes()
                .all(|b| b.is_ascii_graphic() && b != b'<' && b != b'>' && b != b'@')
    };
    ok(left) && ok(right)
}

/// The ticket number tagged in a subject as `[TICK-2026-0001]`, if any. Only the configured
/// `prefix` counts, so `[PATCH 1/2]` or another desk's tag is not mistaken for ours.
pub fn subject_tag(subject: &str, prefix: &str) -> Option<TicketNumber> {
    let mut rest = subject;
    while let Some(start) = rest.find('[') {
        let after = &rest[start + 1..];
        let end = after.find(']')?;
        if let Ok(n) = after[..end].parse::<TicketNumber>() {
            if n.prefix().eq_ignore_ascii_case(prefix) {
                return Some(n);
            }
        }
        rest = &after[end + 1..];
    }
    None
}

/// Reply prefixes stripped from the start of a subject, compared case-insensitively
/// (English, German, Scandinavian, Dutch, French and Spanish forms).
const REPLY_PREFIXES: [&str; 10] = [
    "re", "fwd", "fw", "aw", "wg", "sv", "antw", "vs", "tr", "rv",
];

/// The subject without leading reply prefixes (`Re:`, `RE:RE:`, `Fwd:`, `AW:` …) or our own
/// `[TICK-…]` tag: the stable part people recognise.
pub fn base_subject(subject: &str) -> String {
    let mut s = subject.trim();
    loop {
        let before = s;
        if let Some((head, tail)) = s.split_once(':') {
            let head = head.trim();
            // Allow "Re[2]:" style counters.
            let word = head.split('[').next().unwrap_or(head).trim();
            if REPLY_PREFIXES.iter().any(|p| p.eq_ignore_ascii_case(word)) {
                s = tail.trim_start();
            }
        }
        if let Some(tail) = s.strip_prefix('[') {
            if let Some((tag, rest)) = tail.split_once(']') {
                if tag.parse::<TicketNumber>().is_ok() {
                    s = rest.trim_start();
                }
            }
        }
        if s == before {
            break;
        }
    }
    let mut out = s.to_string();
    // Drop a trailing tag too.
    if let Some(start) = out.rfind('[') {
        if out.ends_with(']')
            && out[start + 1..out.len() - 1]
                .parse::<TicketNumber>()
                .is_ok()
        {
            out.truncate(start);
        }
    }
    out.trim().to_string()
}

/// The subject of our answer: `Re: <subject> [TICK-2026-0001]`.
pub fn reply_subject(ticket_subject: &str, number: &TicketNumber) -> String {
    let base = base_subject(ticket_subject);
    if base.is_empty() {
        format!("Re: [{number}]")
    } else {
        format!("Re: {base} [{number}]")
    }
}

/// A fresh msg-id for a message we send, without angle brackets:
/// `<ticket-number-lowercase>.<unique>@<domain>`.
pub fn outgoing_msg_id(number: &TicketNumber, unique: &str, domain: &str) -> String {
    format!(
        "{}.{}@{}",
        number.to_string().to_ascii_lowercase(),
        unique,
        domain
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extracts_msg_ids_in_order_without_duplicates() {
        let v = "<a@x.org>\r\n\t<b.c@y.net> <a@x.org>";
        assert_eq!(msg_ids(v), vec!["a@x.org", "b.c@y.net"]);
    }

    #[test]
    fn ignores_malformed_ids() {
        assert!(msg_ids("<yes>").is_empty());
        assert!(msg_ids("<a b@c>").is_empty());
        assert!(msg_ids("<@c>").is_empty());
        assert!(msg_ids("<a@>").is_empty());
        assert!(msg_ids("<a@b@c>").is_empty());
        assert!(msg_ids("a@b.c").is_empty());
        assert_eq!(msg_ids("<<x@y> junk <1@2>"), vec!["x@y", "1@2"]);
        assert_eq!(msg_ids("(comment <no@pe) <ok@fine>"), vec!["ok@fine"]);
    }

    #[test]
    fn finds_our_subject_tag_only() {
        let n = subject_tag("Re: Login fails [TICK-2026-0007]", "TICK").unwrap();
        assert_eq!(n.to_string(), "TICK-2026-0007");
        assert!(subject_tag("[PATCH 1/2] fix", "TICK").is_none());
        assert!(subject_tag("[OTHER-2026-0001] hi", "TICK").is_none());
        assert!(subject_tag("[unclosed", "TICK").is_none());
    }

    #[test]
    fn strips_reply_prefixes_and_tag() {
        for s in [
            "Login fails",
            "Re: Login fails",
            "RE:RE: Login fails",
            "AW: WG: Login fails",
            "Re[2]: Login fails",
            "Re: Login fails [TICK-2026-0001]",
            "Re: [TICK-2026-0001] Login fails",
            "Fwd: SV: Antw: Login fails",
        ] {
            assert_eq!(base_subject(s), "Login fails", "{s}");
        }
    }

    #[test]
    fn reply_subject_has_one_prefix_and_one_tag() {
        let n = TicketNumber::new("TICK", 2026, 1).unwrap();
        assert_eq!(
            reply_subject("Re: Login fails [TICK-2026-0001]", &n),
            "Re: Login fails [TICK-2026-0001]"
        );
        assert_eq!(reply_subject("", &n), "Re: [TICK-2026-0001]");
    }
}
