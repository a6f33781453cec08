//! What a search box query means (the web view's `/search?q=`), with no I/O: a ticket
//! number, a Message-ID or requester address to look up exactly, or words for full-text
//! search. `desk::search` runs the lookups; `store::search` the full-text query.
//!
//! Whatever is typed is first made safe to hand to PostgreSQL ([`clean`]): control characters
//! (NUL cannot be stored in `text` at all) and the private-use characters the snippets use as
//! highlight markers are dropped, runs of white space become one space, and the query is cut
//! to [`MAX_QUERY_CHARS`] characters. Full-text words are parsed by PostgreSQL's
//! `websearch_to_tsquery`, which accepts any text (quotes, `or`, `-word`) without a syntax
//! error, so no query can fail.

use super::TicketNumber;

/// Longest query kept, in characters (Unicode scalar values); the rest is ignored. Long
/// enough for a Message-ID (RFC 5322 lines are at most 998 octets, but real ids are under
/// 250) or a sentence pasted from a mail; short enough that a pasted mail cannot make a
/// tsquery of thousands of terms.
pub const MAX_QUERY_CHARS: usize = 256;

/// Highlight start marker in snippets (U+E000, private use): never in stored text as
/// searched, because [`clean`] and `store::search` remove it first.
pub const MARK_START: char = '\u{E000}';
/// Highlight end marker in snippets (U+E001, private use).
pub const MARK_END: char = '\u{E001}';

/// What a query asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// Nothing to search for (empty, or only white space and control characters).
    Nothing,
    /// A ticket number (`TICK-2026-0001`, `#tick-2026-0001`, `[TICK-2026-0001]`).
    Number(TicketNumber),
    /// One token with an `@`: a Message-ID (`msg_id`, without angle brackets) and, when it
    /// is also shaped like an address, the requester address (`address`, lower-cased ASCII
    /// as intake stores it). Tried in that order; `text` is the full-text fallback.
    Address {
        /// The msg-id to look up (angle brackets removed).
        msg_id: String,
        /// The requester address to look up, when the token can be one.
        address: Option<String>,
        /// The cleaned query, for full-text search when neither matches.
        text: String,
    },
    /// Words for full-text search (cleaned).
    Words(String),
}

/// `q` made safe for the database and for display: control characters (C0, C1, DEL) and the
/// highlight markers removed, white space runs collapsed to one space, trimmed, at most
/// [`MAX_QUERY_CHARS`] characters.
pub fn clean(q: &str) -> String {
    let mut out = String::with_capacity(q.len().min(MAX_QUERY_CHARS * 4));
    let mut chars = 0usize;
    let mut space = false;
    for c in q.chars() {
        if chars >= MAX_QUERY_CHARS {
            break;
        }
        if c.is_whitespace() {
            space = !out.is_empty();
            continue;
        }
        if c.is_control() || c == MARK_START || c == MARK_END {
            continue;
        }
        if space {
            out.push(' ');
            chars += 1;
            space = false;
            if chars >= MAX_QUERY_CHARS {
                break;
            }
        }
        out.push(c);
        chars += 1;
    }
    out
}

/// Reads a query: see [`Lookup`].
pub fn classify(q: &str) -> Lookup {
    let text = clean(q);
    if text.is_empty() {
        return Lookup::Nothing;
    }
    if let Ok(n) = text.parse::<TicketNumber>() {
        return Lookup::Number(n);
    }
    if !text.contains(' ') && text.contains('@') {
        let bare = text.strip_prefix("mailto:").unwrap_or(&text);
        let bare = bare.strip_prefix('<').unwrap_or(bare);
        let bare = bare.strip_suffix('>').unwrap_or(bare);
        let both_sides = bare.find('@').is_some_and(|i| i > 0 && i + 1 < bare.len());
        if both_sides && !bare.contains(['<', '>']) {
            let address = address_shaped(bare).then(|| bare.to_ascii_lowercase());
            return Lookup::Address {
                msg_id: bare.to_string(),
                address,
                text,
            };
        }
    }
    Lookup::Words(text)
}

/// Whether `s` can be an addr-spec as intake stores requesters: one `@` with something on
/// both sides and a dot-free-or-dotted domain of letters, digits, `-` and `.`.
fn address_shaped(s: &str) -> bool {
    let Some((local, domain)) = s.rsplit_once('@') else {
        return false;
    };
    !local.is_empty()
        && !local.contains('@')
        && !domain.is_empty()
        && super::limits::address_fits(s)
        && domain
            .chars()
            .all(|c| c.is_alphanumeric() || c == '-' || c == '.')
}

/// A highlighted snippet as produced with [`MARK_START`]/[`MARK_END`]: the plain runs and
/// whether each is highlighted, in order. Markers are paired by construction
/// (`ts_headline`); a stray end marker ends nothing and an unclosed start runs to the end.
pub fn marked_runs(s: &str) -> Vec<(bool, &str)> {
    let mut runs = Vec::new();
    let mut on = false;
    let mut start = 0;
    for (i, c) in s.char_indices() {
        if c == MARK_START || c == MARK_END {
            if i > start {
                runs.push((on, &s[start..i]));
            }
            on = c == MARK_START;
            start = i + c.len_utf8();
        }
    }
    if start < s.len() {
        runs.push((on, &s[start..]));
    }
    runs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_drops_controls_and_markers_collapses_space_and_caps_length() {
        assert_eq!(clean("  a\u{0}b\t\n c\u{E000}d\u{7f}\u{85} "), "ab cd");
        assert_eq!(clean("\u{0}\u{1}\u{E001}  "), "");
        let long = "ä".repeat(10_000);
        assert_eq!(clean(&long).chars().count(), MAX_QUERY_CHARS);
        let words = "ab ".repeat(1_000);
        let c = clean(&words);
        assert!(c.chars().count() <= MAX_QUERY_CHARS, "{}", c.len());
        assert!(!c.ends_with(' '));
    }

    #[test]
    fn numbers_ids_addresses_and_words() {
        for n in ["TICK-2026-0001", " #tick-2026-0001 ", "[TICK-2026-0001]"] {
            assert_eq!(
                classify(n),
                Lookup::Number("TICK-2026-0001".parse().expect("number")),
                "{n}"
            );
        }
        match classify("<CAF=x+y.1@mail.example.com>") {
            Lookup::Address {
                msg_id, address, ..
            } => {
                assert_eq!(msg_id, "CAF=x+y.1@mail.example.com");
                assert_eq!(address.as_deref(), Some("caf=x+y.1@mail.example.com"));
            }
            other => panic!("{other:?}"),
        }
        match classify("Dana@Customer.Example") {
            Lookup::Address {
                msg_id, address, ..
            } => {
                assert_eq!(msg_id, "Dana@Customer.Example");
                assert_eq!(address.as_deref(), Some("dana@customer.example"));
            }
            other => panic!("{other:?}"),
        }
        match classify("mailto:dana@customer.example") {
            Lookup::Address { address, .. } => {
                assert_eq!(address.as_deref(), Some("dana@customer.example"))
            }
            other => panic!("{other:?}"),
        }
        // An id whose right side is no domain is still a Message-ID, not an address.
        match classify("<1234.5678@[10.0.0.1]>") {
            Lookup::Address { address, .. } => assert_eq!(address, None),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            classify("invoice wrong"),
            Lookup::Words("invoice wrong".into())
        );
        assert_eq!(
            classify("mail to dana@x.example"),
            Lookup::Words("mail to dana@x.example".into())
        );
        assert_eq!(classify("<>"), Lookup::Words("<>".into()));
        assert_eq!(classify("@"), Lookup::Words("@".into()));
        assert_eq!(classify(" \u{0} "), Lookup::Nothing);
        assert_eq!(
            classify("TICK-2026-0001 refund"),
            Lookup::Words("TICK-2026-0001 refund".into())
        );
    }

    #[test]
    fn marked_runs_split_at_markers() {
        let s = "a \u{E000}b\u{E001} c \u{E000}d";
        assert_eq!(
            marked_runs(s),
            vec![(false, "a "), (true, "b"), (false, " c "), (true, "d")]
        );
        assert_eq!(marked_runs("\u{E001}x"), vec![(false, "x")]);
        assert_eq!(marked_runs(""), Vec::<(bool, &str)>::new());
    }
}
