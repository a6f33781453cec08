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

/// A tsquery as PostgreSQL prints it (`'a' <-> 'b' & !( 'c' | 'd' )`), as a tree: what
/// [`gin_cost`] estimates the work of. Lexemes are unquoted (`''` → `'`, `\x` → `x`); prefix
/// (`:*`) and weight (`:AB`) marks are dropped (websearch_to_tsquery makes neither).
#[derive(Debug, Clone, PartialEq)]
pub enum QueryTree {
    /// One lexeme.
    Lexeme(String),
    /// `!x`.
    Not(Box<QueryTree>),
    /// `x & y`.
    And(Box<QueryTree>, Box<QueryTree>),
    /// `x | y`.
    Or(Box<QueryTree>, Box<QueryTree>),
    /// `x <N> y` (`<->` is `<1>`): both, at a distance — a GIN index can only say "both".
    Phrase(Box<QueryTree>, Box<QueryTree>),
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Lexeme(String),
    Not,
    And,
    Or,
    Phrase,
    Open,
    Close,
}

fn tokens(text: &str) -> Option<Vec<Token>> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            ' ' => {}
            '!' => out.push(Token::Not),
            '&' => out.push(Token::And),
            '|' => out.push(Token::Or),
            '(' => out.push(Token::Open),
            ')' => out.push(Token::Close),
            '<' => {
                // `<->` or `<N>`.
                for c in chars.by_ref() {
                    if c == '>' {
                        break;
                    }
                    if c != '-' && !c.is_ascii_digit() {
                        return None;
                    }
                }
                out.push(Token::Phrase);
            }
            '\'' => {
                let mut lexeme = String::new();
                loop {
                    match chars.next()? {
                        '\'' if chars.peek() == Some(&'\'') => {
                            chars.next();
                            lexeme.push('\'');
                        }
                        '\'' => break,
                        '\\' => lexeme.push(chars.next()?),
                        c => lexeme.push(c),
                    }
                }
                if chars.peek() == Some(&':') {
                    chars.next();
                    while chars
                        .peek()
                        .is_some_and(|c| *c == '*' || "ABCDabcd".contains(*c))
                    {
                        chars.next();
                    }
                }
                out.push(Token::Lexeme(lexeme));
            }
            _ => return None,
        }
    }
    Some(out)
}

/// Parses a tsquery's text form (as `tsquery::text` prints it; precedence `!`, then `<->`,
/// then `&`, then `|`). `None` for text that is not one (empty, unbalanced, unknown
/// characters outside quotes).
pub fn parse_tsquery(text: &str) -> Option<QueryTree> {
    let toks = tokens(text)?;
    let mut at = 0;
    let tree = parse_or(&toks, &mut at)?;
    (at == toks.len()).then_some(tree)
}

fn parse_or(t: &[Token], at: &mut usize) -> Option<QueryTree> {
    let mut left = parse_and(t, at)?;
    while t.get(*at) == Some(&Token::Or) {
        *at += 1;
        left = QueryTree::Or(Box::new(left), Box::new(parse_and(t, at)?));
    }
    Some(left)
}

fn parse_and(t: &[Token], at: &mut usize) -> Option<QueryTree> {
    let mut left = parse_phrase(t, at)?;
    while t.get(*at) == Some(&Token::And) {
        *at += 1;
        left = QueryTree::And(Box::new(left), Box::new(parse_phrase(t, at)?));
    }
    Some(left)
}

fn parse_phrase(t: &[Token], at: &mut usize) -> Option<QueryTree> {
    let mut left = parse_unary(t, at)?;
    while t.get(*at) == Some(&Token::Phrase) {
        *at += 1;
        left = QueryTree::Phrase(Box::new(left), Box::new(parse_unary(t, at)?));
    }
    Some(left)
}

fn parse_unary(t: &[Token], at: &mut usize) -> Option<QueryTree> {
    let tok = t.get(*at)?;
    *at += 1;
    match tok {
        Token::Not => Some(QueryTree::Not(Box::new(parse_unary(t, at)?))),
        Token::Lexeme(l) => Some(QueryTree::Lexeme(l.clone())),
        Token::Open => {
            let inner = parse_or(t, at)?;
            (t.get(*at) == Some(&Token::Close)).then(|| {
                *at += 1;
                inner
            })
        }
        _ => None,
    }
}

/// What a GIN bitmap scan for a query costs, estimated from how many rows hold each lexeme.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GinCost {
    /// Posting-list entries the index scan reads (item pointers).
    pub postings: f64,
    /// Rows the bitmap hands to the heap (matches, or for a phrase the rows holding all its
    /// words, which are rechecked): an upper estimate.
    pub rows: f64,
    /// The query can match a row holding none of its positive lexemes (`!a`, `a | !b`):
    /// the index must be read in full, so the scan is as dear as the table.
    pub full: bool,
}

/// How many entries of a long posting list a scan reads per entry of a short one it is
/// intersected with (GIN skips through the long list page by page).
const SKIP_READ: f64 = 16.0;

/// Estimates the GIN work of `tree` given `rows_with(lexeme)`, the number of rows holding a
/// lexeme (from the column statistics). An AND reads both lists but skips through the longer
/// one when the shorter is much shorter, and yields at most the shorter; an OR reads and
/// yields both; a NOT is read to exclude, and alone (or under an OR) forces a full scan.
pub fn gin_cost(tree: &QueryTree, rows_with: &impl Fn(&str) -> f64) -> GinCost {
    match tree {
        QueryTree::Lexeme(l) => {
            let n = rows_with(l).max(0.0);
            GinCost {
                postings: n,
                rows: n,
                full: false,
            }
        }
        QueryTree::Not(x) => {
            let inner = gin_cost(x, rows_with);
            GinCost {
                postings: inner.postings,
                rows: f64::INFINITY,
                full: true,
            }
        }
        QueryTree::Or(a, b) => {
            let (a, b) = (gin_cost(a, rows_with), gin_cost(b, rows_with));
            GinCost {
                postings: a.postings + b.postings,
                rows: a.rows + b.rows,
                full: a.full || b.full,
            }
        }
        QueryTree::And(a, b) | QueryTree::Phrase(a, b) => {
            let (a, b) = (gin_cost(a, rows_with), gin_cost(b, rows_with));
            match (a.full, b.full) {
                (true, true) => GinCost {
                    postings: a.postings + b.postings,
                    rows: f64::INFINITY,
                    full: true,
                },
                // `a & !b`: the rows of `a`, with `b` read to exclude some.
                (false, true) => GinCost {
                    postings: a.postings + b.postings,
                    rows: a.rows,
                    full: false,
                },
                (true, false) => GinCost {
                    postings: a.postings + b.postings,
                    rows: b.rows,
                    full: false,
                },
                (false, false) => {
                    let short = a.rows.min(b.rows);
                    GinCost {
                        postings: (a.postings + b.postings).min(short * SKIP_READ),
                        rows: short,
                        full: false,
                    }
                }
            }
        }
    }
}

/// The distinct lexemes of `tree`, in order of first appearance.
pub fn lexemes(tree: &QueryTree) -> Vec<String> {
    fn walk(t: &QueryTree, out: &mut Vec<String>) {
        match t {
            QueryTree::Lexeme(l) => {
                if !out.contains(l) {
                    out.push(l.clone());
                }
            }
            QueryTree::Not(x) => walk(x, out),
            QueryTree::And(a, b) | QueryTree::Or(a, b) | QueryTree::Phrase(a, b) => {
                walk(a, out);
                walk(b, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(tree, &mut out);
    out
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

    #[test]
    fn tsquery_text_parses_with_precedence_and_quoting() {
        let l = |s: &str| Box::new(QueryTree::Lexeme(s.into()));
        assert_eq!(
            parse_tsquery("'a' <-> 'b' & !( 'c' | 'd' ) | 'e'"),
            Some(QueryTree::Or(
                Box::new(QueryTree::And(
                    Box::new(QueryTree::Phrase(l("a"), l("b"))),
                    Box::new(QueryTree::Not(Box::new(QueryTree::Or(l("c"), l("d"))))),
                )),
                l("e"),
            ))
        );
        assert_eq!(
            parse_tsquery(r"'it''s' <2> 'a\\b':*AB"),
            Some(QueryTree::Phrase(l("it's"), l(r"a\b")))
        );
        assert_eq!(
            parse_tsquery("'a' <-> 'b' <-> 'c'"),
            Some(QueryTree::Phrase(
                Box::new(QueryTree::Phrase(l("a"), l("b"))),
                l("c")
            ))
        );
        for junk in ["", "'a", "'a' &", "( 'a'", "'a' )", "a", "'a' <x> 'b'"] {
            assert_eq!(parse_tsquery(junk), None, "{junk}");
        }
        let t = parse_tsquery("'a' & !'b' | 'a'").expect("tree");
        assert_eq!(lexemes(&t), vec!["a".to_string(), "b".to_string()]);
    }

    #[test]
    fn gin_cost_follows_the_operators() {
        let rows = |l: &str| match l {
            "common" | "other" => 1_000_000.0,
            "rare" => 10.0,
            _ => 0.0,
        };
        let cost = |q: &str| gin_cost(&parse_tsquery(q).expect("tree"), &rows);
        assert_eq!(cost("'rare'").rows, 10.0);
        // A rare word bounds an AND with a common one: few rows, a skipping read.
        let c = cost("'common' & 'rare'");
        assert_eq!(c.rows, 10.0);
        assert!(c.postings <= 10.0 * SKIP_READ, "{c:?}");
        // Two common words read both lists, whatever they share.
        let c = cost("'common' <-> 'other'");
        assert_eq!((c.postings, c.rows), (2_000_000.0, 1_000_000.0));
        let c = cost("'rare' | 'common'");
        assert_eq!(c.rows, 1_000_010.0);
        let c = cost("'rare' & !'common'");
        assert_eq!((c.postings, c.rows, c.full), (1_000_010.0, 10.0, false));
        assert!(cost("!'rare'").full);
        assert!(cost("'rare' | !'common'").full);
    }
}
