//! Threading keys: RFC 5322 msg-ids (§3.6.4) and the `[TICK-…]` subject tag.
//!
//! A message joins a ticket when any msg-id it carries (its own Message-ID, or one named in
//! In-Reply-To or References) is already known to belong to that ticket; failing that, when its
//! subject carries a tag naming an existing ticket. The store keeps every msg-id seen, so the
//! order in which messages arrive does not matter.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::TicketNumber;

/// Upper bound on a msg-id we keep, in bytes (RFC 5322 §2.1.1 line limit).
pub const MAX_MSG_ID_LEN: usize = 998;

/// How many References msg-ids a message is threaded by, and how many we copy into the
/// References of our own replies: the first (the thread's root) and the last
/// `MAX_REFERENCES - 1` (the most recent ancestors). RFC 5322 §3.6.4 builds References by
/// appending, so a long thread's field only grows; trimming the middle while keeping the root
/// and the recent ids is what mail clients do (Thunderbird, Gnus' `message-shorten-references`
/// keep the first and the last ones), and it still names every message a reply can thread to.
pub const MAX_REFERENCES: usize = 20;

/// How many In-Reply-To msg-ids are used: the first ones. RFC 5322 §3.6.4 allows several
/// (a reply to more than one message); more than a handful is not a reply.
pub const MAX_IN_REPLY_TO: usize = 8;

/// The well-formed msg-ids of a header value in order, duplicates included, without the
/// angle brackets (see [`msg_ids`] for what is well-formed). One pass over `header_value`.
pub fn msg_id_iter(header_value: &str) -> impl Iterator<Item = &str> {
    let mut rest = header_value;
    std::iter::from_fn(move || loop {
        let start = rest.find('<')?;
        let after = &rest[start + 1..];
        let end = after.find(['>', '<'])?;
        if after.as_bytes()[end] == b'<' {
            rest = &after[end..];
            continue;
        }
        let candidate = &after[..end];
        rest = &after[end + 1..];
        if is_msg_id(candidate) {
            return Some(candidate);
        }
    })
}

/// Extracts every well-formed msg-id from a header value such as a References or In-Reply-To
/// field body, in order, without the angle brackets and without duplicates. Linear in the
/// length of `header_value` (duplicates are found with a hash set); see [`references`] and
/// [`in_reply_to`] for the capped lists used for threading.
///
/// A msg-id here is `"<" id-left "@" id-right ">"` (RFC 5322 §3.6.4) where both sides are
/// non-empty runs of visible ASCII other than `<`, `>` and `@`. Anything else — bare words,
/// `<yes>`, ids with spaces, comments — is ignored, so a malformed header never links unrelated
/// threads.
pub fn msg_ids(header_value: &str) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    msg_id_iter(header_value)
        .filter(|id| seen.insert(*id))
        .map(str::to_string)
        .collect()
}

/// The msg-ids of a References field body used for threading: unique, in order, at most
/// [`MAX_REFERENCES`] (the first and the last ones, see [`trim_references`]). Linear in the
/// length of `header_value`.
pub fn references(header_value: &str) -> Vec<String> {
    trim_references(msg_ids(header_value))
}

/// The msg-ids of an In-Reply-To field body used for threading: the first
/// [`MAX_IN_REPLY_TO`] unique ones, in order. Reads no further than it needs.
pub fn in_reply_to(header_value: &str) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    msg_id_iter(header_value)
        .filter(|id| seen.insert(*id))
        .take(MAX_IN_REPLY_TO)
        .map(str::to_string)
        .collect()
}

/// `ids` (a References list, oldest first) cut to at most [`MAX_REFERENCES`]: the first id
/// and the last `MAX_REFERENCES - 1`, in their order. Shorter lists come back unchanged.
pub fn trim_references(mut ids: Vec<String>) -> Vec<String> {
    if ids.len() > MAX_REFERENCES {
        let cut = ids.len() - (MAX_REFERENCES - 1);
        ids.drain(1..cut);
    }
    ids
}

/// The first well-formed msg-id in a Message-ID field body, if any (see [`msg_ids`]). Reads
/// no further than the first one.
pub fn first_msg_id(header_value: &str) -> Option<String> {
    msg_id_iter(header_value).next().map(str::to_string)
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

/// Reply and forward prefixes stripped from the start of a subject, compared
/// case-insensitively: English (`Re`, `Fwd`, `Fw`), German (`AW`, `WG`), Scandinavian (`SV`,
/// `VS`, `VB`), Finnish (`VL`), Dutch (`Antw`, `Doorst`), Polish (`Odp`, `PD`), French (`TR`,
/// `RE`), Spanish/Portuguese (`RV`, `RES`, `ENC`), Turkish (`YNT`, `İLT`), Greek (`ΑΠ`, `ΣΧΕΤ`,
/// `ΠΡΘ`), Chinese (`回复`, `答复`, `转发`) and Japanese/Korean list markers (`返信`, `転送`).
const REPLY_PREFIXES: [&str; 28] = [
    "re", "fwd", "fw", "aw", "wg", "sv", "vs", "vb", "vl", "antw", "doorst", "odp", "pd", "tr",
    "rv", "res", "enc", "ynt", "ilt", "i̇lt", "απ", "σχετ", "πρθ", "回复", "答复", "转发", "返信",
    "転送",
];

/// The first colon of `s` (ASCII `:` or the full-width `：` used in CJK mail), as
/// `(head, tail)`.
fn split_colon(s: &str) -> Option<(&str, &str)> {
    let i = s.find([':', '：'])?;
    let colon_len = s[i..].chars().next().map_or(1, char::len_utf8);
    Some((&s[..i], &s[i + colon_len..]))
}

/// Whether `head` (the text before a colon) is a reply/forward prefix, allowing counters such
/// as `Re[2]`, `Re(3)` and `Re^2`.
fn is_reply_prefix(head: &str) -> bool {
    let head = head.trim();
    let cut = head.find(['[', '(', '^']).unwrap_or(head.len());
    let word = head[..cut].trim().to_lowercase();
    let counter = head[cut..].trim();
    let digits = counter.trim_matches(['[', ']', '(', ')', '^']).trim();
    let counter_ok = counter.is_empty()
        || ((counter.starts_with('[') && counter.ends_with(']'))
            || (counter.starts_with('(') && counter.ends_with(')'))
            || counter.starts_with('^'))
            && !digits.is_empty()
            && digits.chars().all(|c| c.is_ascii_digit());
    counter_ok && REPLY_PREFIXES.contains(&word.as_str())
}

/// The subject without leading reply/forward prefixes (`Re:`, `RE:RE:`, `Fwd:`, `AW:`,
/// `Re[2]:`, `Re: Fwd:` …, see `REPLY_PREFIXES`) or our own `[TICK-…]` tag, leading or
/// trailing: the stable part people recognise.
pub fn base_subject(subject: &str) -> String {
    let mut s = subject.trim();
    loop {
        let before = s;
        if let Some((head, tail)) = split_colon(s) {
            if is_reply_prefix(head) {
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

/// Hex characters of the HMAC-SHA256 signature carried in our own msg-ids (80 bits).
pub const MSG_ID_SIG_HEX: usize = 20;

fn msg_id_mac(key: &[u8], body: &str, domain: &str) -> Hmac<Sha256> {
    // HMAC accepts keys of any length (RFC 2104 §2), so this cannot fail.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(body.as_bytes());
    mac.update(b"@");
    mac.update(domain.to_ascii_lowercase().as_bytes());
    mac
}

/// A fresh msg-id for a message we send, without angle brackets:
/// `<ticket-number-lowercase>.<unique>.<sig>@<domain>`, where `sig` is the first
/// [`MSG_ID_SIG_HEX`] hex characters of HMAC-SHA256 (RFC 2104) under `key` over
/// `<ticket-number-lowercase>.<unique>@<domain-lowercase>`. Only someone holding `key` can
/// make an id that [`check_msg_id`] accepts, so a reply naming one really answers our mail.
///
/// `unique` must be made of RFC 5322 `atext` characters (a UUID's hex form is).
pub fn outgoing_msg_id(number: &TicketNumber, unique: &str, domain: &str, key: &[u8]) -> String {
    let body = format!("{}.{}", number.to_string().to_ascii_lowercase(), unique);
    let tag = msg_id_mac(key, &body, domain).finalize().into_bytes();
    let sig = hex::encode(&tag[..MSG_ID_SIG_HEX / 2]);
    format!("{body}.{sig}@{domain}")
}

/// What a msg-id is to us (see [`outgoing_msg_id`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OurMsgId {
    /// Its id-right is not our domain: someone else's message.
    NotOurs,
    /// Our domain and a valid signature: one of our own outgoing messages.
    Genuine,
    /// Our domain but no valid signature: made up by someone without the key. Never
    /// trusted for threading.
    Forged,
}

/// Classifies msg-id `id` (without brackets) against our `domain` (compared
/// case-insensitively, RFC 5321 §2.4) and signing `key`. The signature is checked in constant
/// time.
pub fn check_msg_id(id: &str, domain: &str, key: &[u8]) -> OurMsgId {
    let Some((left, right)) = id.rsplit_once('@') else {
        return OurMsgId::NotOurs;
    };
    if !right.eq_ignore_ascii_case(domain) {
        return OurMsgId::NotOurs;
    }
    let Some((body, sig)) = left.rsplit_once('.') else {
        return OurMsgId::Forged;
    };
    let Ok(sig) = hex::decode(sig) else {
        return OurMsgId::Forged;
    };
    if sig.len() * 2 != MSG_ID_SIG_HEX {
        return OurMsgId::Forged;
    }
    // The ticket-number part is lower case when we make it; a relay that changes case
    // changes the id, which RFC 5322 does not allow, so compare exactly.
    match msg_id_mac(key, body, domain).verify_truncated_left(&sig) {
        Ok(()) => OurMsgId::Genuine,
        Err(_) => OurMsgId::Forged,
    }
}

/// The ticket named by a plus-address such as `support+TICK-2026-0001@desk.example`
/// (RFC 5233 sub-addressing), if `address` is one of `ours` with a `+<ticket number>` detail
/// carrying our `prefix`. Case-insensitive; anything else — another domain, another local
/// part, a detail that is not a ticket number — is `None`.
pub fn plus_tag(address: &str, ours: &[&str], prefix: &str) -> Option<TicketNumber> {
    let (local, domain) = address.trim().rsplit_once('@')?;
    let (base, detail) = local.split_once('+')?;
    let plain = format!("{base}@{domain}");
    if !ours.iter().any(|o| o.trim().eq_ignore_ascii_case(&plain)) {
        return None;
    }
    let n: TicketNumber = detail.parse().ok()?;
    n.prefix().eq_ignore_ascii_case(prefix).then_some(n)
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
    fn reference_lists_keep_the_root_and_the_latest_and_are_linear() {
        let header: String = (0..100_000).map(|i| format!("<r{i}@x> ")).collect();
        let started = std::time::Instant::now();
        let refs = references(&header);
        assert_eq!(refs.len(), MAX_REFERENCES);
        assert_eq!(refs[0], "r0@x");
        assert_eq!(refs[1], format!("r{}@x", 100_000 - (MAX_REFERENCES - 1)));
        assert_eq!(refs[MAX_REFERENCES - 1], "r99999@x");
        assert_eq!(msg_ids(&header).len(), 100_000);
        // Duplicates everywhere: still one pass each.
        let dup = "<same@x> ".repeat(200_000);
        assert_eq!(msg_ids(&dup), vec!["same@x"]);
        assert_eq!(in_reply_to(&header).len(), MAX_IN_REPLY_TO);
        assert_eq!(first_msg_id(&header).as_deref(), Some("r0@x"));
        // O(n²) took seconds here; linear is milliseconds even unoptimised.
        assert!(
            started.elapsed() < std::time::Duration::from_secs(30),
            "{:?}",
            started.elapsed()
        );
        let short: Vec<String> = vec!["a@x".into(), "b@x".into()];
        assert_eq!(trim_references(short.clone()), short);
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

    #[test]
    fn strips_prefixes_in_many_languages() {
        for s in [
            "Fw: Login fails",
            "FWD: Login fails",
            "Re: Fwd: Login fails",
            "RE: RE: RE: Login fails",
            "Re(3): Login fails",
            "Re^2: Login fails",
            "VS: Login fails",
            "Odp: Login fails",
            "Antw: Login fails",
            "SV:Login fails",
            "TR : Login fails",
            "RV: RES: ENC: Login fails",
            "回复：Login fails",
            "转发: Re: Login fails",
            "ΑΠ: Login fails",
            "YNT: Login fails",
            "Re: [TICK-2026-0001] AW: Login fails",
        ] {
            assert_eq!(base_subject(s), "Login fails", "{s}");
        }
    }

    #[test]
    fn keeps_words_that_only_look_like_prefixes() {
        assert_eq!(base_subject("Reason: Login fails"), "Reason: Login fails");
        assert_eq!(base_subject("Re[x]: Login fails"), "Re[x]: Login fails");
        assert_eq!(base_subject("Note: Login fails"), "Note: Login fails");
        assert_eq!(base_subject("Re:"), "");
        assert_eq!(base_subject("[PATCH] Re: x"), "[PATCH] Re: x");
    }

    #[test]
    fn prefixes_do_not_hide_the_tag() {
        for s in [
            "RE:RE: Login fails [TICK-2026-0007]",
            "Re[2]: AW: [TICK-2026-0007] Login fails",
            "Re: Fwd: WG: Login fails [tick-2026-0007]",
            "回复：[TICK-2026-0007]",
        ] {
            assert_eq!(
                subject_tag(s, "TICK").map(|n| n.to_string()).as_deref(),
                Some("TICK-2026-0007"),
                "{s}"
            );
        }
    }

    #[test]
    fn our_msg_ids_are_signed_and_checked() {
        let n = TicketNumber::new("TICK", 2026, 7).unwrap();
        let key = b"0123456789abcdef0123456789abcdef";
        let id = outgoing_msg_id(&n, "abc123", "desk.test", key);
        assert!(id.starts_with("tick-2026-0007.abc123."), "{id}");
        assert!(id.ends_with("@desk.test"), "{id}");
        assert_eq!(msg_ids(&format!("<{id}>")), vec![id.clone()]);
        assert_eq!(check_msg_id(&id, "desk.test", key), OurMsgId::Genuine);
        assert_eq!(check_msg_id(&id, "DESK.test", key), OurMsgId::Genuine);
        // Another key, a changed ticket number, a missing or shortened signature: forged.
        assert_eq!(
            check_msg_id(&id, "desk.test", b"another key"),
            OurMsgId::Forged
        );
        let other = id.replace("tick-2026-0007", "tick-2026-0008");
        assert_eq!(check_msg_id(&other, "desk.test", key), OurMsgId::Forged);
        assert_eq!(
            check_msg_id("tick-2026-0007.abc123@desk.test", "desk.test", key),
            OurMsgId::Forged
        );
        let short = &id[..id.find('@').unwrap() - 2];
        assert_eq!(
            check_msg_id(&format!("{short}@desk.test"), "desk.test", key),
            OurMsgId::Forged
        );
        assert_eq!(
            check_msg_id("x.zz@desk.test", "desk.test", key),
            OurMsgId::Forged
        );
        assert_eq!(check_msg_id(&id, "other.test", key), OurMsgId::NotOurs);
        assert_eq!(
            check_msg_id("cafe@mail.example", "desk.test", key),
            OurMsgId::NotOurs
        );
    }

    #[test]
    fn plus_address_names_a_ticket_only_on_our_addresses() {
        let ours = ["support@desk.test", "billing@desk.test"];
        let n = plus_tag("support+TICK-2026-0001@desk.test", &ours, "TICK").unwrap();
        assert_eq!(n.to_string(), "TICK-2026-0001");
        assert!(plus_tag("Billing+tick-2026-0002@DESK.test", &ours, "TICK").is_some());
        assert!(plus_tag("support@desk.test", &ours, "TICK").is_none());
        assert!(plus_tag("support+hello@desk.test", &ours, "TICK").is_none());
        assert!(plus_tag("support+OTHER-2026-0001@desk.test", &ours, "TICK").is_none());
        assert!(plus_tag("support+TICK-2026-0001@evil.test", &ours, "TICK").is_none());
        assert!(plus_tag("sales+TICK-2026-0001@desk.test", &ours, "TICK").is_none());
        assert!(plus_tag("not an address", &ours, "TICK").is_none());
    }
}
