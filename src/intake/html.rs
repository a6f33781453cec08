//! HTML mail bodies: readable text for chat (html2text) and sanitised HTML for later display
//! (ammonia).
//!
//! Both libraries build a DOM with html5ever; html2text then walks it partly recursively and
//! in time that grows with the square of the nesting depth (a `<div>` nested 8,000 deep took
//! 18 s, unoptimised), and a deep enough tree overflows the stack, which aborts the process.
//! So [`render`] first estimates the nesting depth in one linear pass ([`nesting_depth`]) and
//! gives HTML that is too deep or too large ([`MAX_HTML_DEPTH`], [`MAX_HTML_BYTES`]) to a
//! plain tag-stripping pass instead.

use std::collections::HashMap;

use html2text::render::{TaggedLine, TextDecorator};

/// HTML nested deeper than this (as [`nesting_depth`] estimates it) is not given to
/// html2text or ammonia. Real mail nests a few dozen levels (newsletters' layout tables
/// reach 30–60); the renderers' depth is at most a small multiple of the estimate.
pub const MAX_HTML_DEPTH: usize = 256;

/// HTML larger than this (bytes) is not given to html2text or ammonia either.
pub const MAX_HTML_BYTES: usize = 1024 * 1024;

/// An HTML body made readable and safe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// Readable plain text (see [`to_text`]).
    pub text: String,
    /// Sanitised HTML (see [`sanitize`]).
    pub sanitized: String,
    /// The HTML was over [`MAX_HTML_DEPTH`] or [`MAX_HTML_BYTES`]: `text` is the tags
    /// stripped in one pass ([`strip_tags`]) and `sanitized` that text escaped in a `<pre>`.
    pub simplified: bool,
}

/// Renders `html` for chat and for display, in time linear in its length and with a bounded
/// stack: [`to_text`] and [`sanitize`] when it is within [`MAX_HTML_BYTES`] and
/// [`MAX_HTML_DEPTH`], else the simplified form (see [`Rendered::simplified`]).
pub fn render(html: &str) -> Rendered {
    if html.len() <= MAX_HTML_BYTES && nesting_depth(html, MAX_HTML_DEPTH) <= MAX_HTML_DEPTH {
        return Rendered {
            text: to_text(html),
            sanitized: sanitize(html),
            simplified: false,
        };
    }
    let text = strip_tags(html);
    let sanitized = format!("<pre>{}</pre>", escape(&text));
    Rendered {
        text,
        sanitized,
        simplified: true,
    }
}

/// Elements that never have content (HTML Living Standard §13.1.2 "void elements", plus the
/// obsolete ones html5ever also treats so).
const VOID: [&str; 18] = [
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source",
    "track", "wbr", "keygen", "basefont", "bgsound", "frame",
];

/// Formatting elements (HTML §13.2.4.3): html5ever re-opens them after a misnested end tag
/// ("reconstruct the active formatting elements"), so only their own end tag closes them.
const FORMATTING: [&str; 14] = [
    "a", "b", "big", "code", "em", "font", "i", "nobr", "s", "small", "strike", "strong", "tt", "u",
];

/// Start tags that close an open `<p>` right above them (HTML §13.2.6.4.7, "in body").
const CLOSES_P: [&str; 23] = [
    "address",
    "article",
    "aside",
    "blockquote",
    "center",
    "details",
    "dialog",
    "dir",
    "div",
    "dl",
    "fieldset",
    "figcaption",
    "figure",
    "footer",
    "header",
    "main",
    "menu",
    "nav",
    "ol",
    "p",
    "section",
    "summary",
    "ul",
];

/// Start tags after which the tokenizer's state or the tree builder's handling of later end
/// tags depends on context that this scan does not model (foreign content, `select`,
/// framesets, templates, script data's escape states, `noscript` with or without
/// scripting). From the first one on, [`nesting_depth`] counts every later start tag and
/// applies no end tag: an upper bound whatever the context.
const BLIND_AFTER: [&str; 7] = [
    "svg", "math", "select", "frameset", "template", "script", "noscript",
];

/// Elements whose content the tokenizer reads as text up to their own end tag (RAWTEXT and
/// RCDATA, HTML §13.2.6.4.7): outside the contexts of [`BLIND_AFTER`] this always holds.
const RAW_TEXT: [&str; 7] = [
    "style", "title", "textarea", "xmp", "iframe", "noembed", "noframes",
];

/// Whitespace as the tokenizer reads it (tab, LF, FF, CR — CR is LF after preprocessing —
/// and space).
fn is_ws(c: u8) -> bool {
    matches!(c, b'\t' | b'\n' | 0x0c | b'\r' | b' ')
}

/// Where the tag whose name ends at `i` ends (the index after its `>`), following the
/// tokenizer's attribute states (HTML §13.2.5.32–§13.2.5.40): a `>` inside a quoted
/// attribute value does not end it. `None` when the input ends inside the tag (the tokenizer
/// then emits nothing more).
fn tag_end(b: &[u8], mut i: usize) -> Option<usize> {
    loop {
        // Before attribute name; `/` not followed by `>` is skipped the same way.
        while b.get(i).is_some_and(|&c| is_ws(c) || c == b'/') {
            i += 1;
        }
        match b.get(i)? {
            b'>' => return Some(i + 1),
            _ => i += 1, // the name's first character, `=` included
        }
        while b
            .get(i)
            .is_some_and(|&c| !is_ws(c) && !matches!(c, b'/' | b'>' | b'='))
        {
            i += 1;
        }
        while b.get(i).is_some_and(|&c| is_ws(c)) {
            i += 1;
        }
        if *b.get(i)? != b'=' {
            continue;
        }
        i += 1;
        while b.get(i).is_some_and(|&c| is_ws(c)) {
            i += 1;
        }
        match *b.get(i)? {
            q @ (b'"' | b'\'') => {
                let close = b.get(i + 1..)?.iter().position(|&c| c == q)?;
                i += close + 2;
            }
            b'>' => return Some(i + 1),
            _ => {
                while b.get(i).is_some_and(|&c| !is_ws(c) && c != b'>') {
                    i += 1;
                }
            }
        }
    }
}

/// Index of the `<` of the end tag `</name` (ASCII case-insensitive, followed by
/// whitespace, `/` or `>`) that ends a raw-text element, searching from `from`.
fn raw_text_end(b: &[u8], from: usize, name: &str) -> Option<usize> {
    let n = name.as_bytes();
    let mut i = from;
    while let Some(off) = b.get(i..)?.windows(2).position(|w| w == b"</") {
        let at = i + off;
        let after = at + 2;
        if b.get(after..after + n.len())
            .is_some_and(|w| w.eq_ignore_ascii_case(n))
            && b.get(after + n.len())
                .is_some_and(|&c| is_ws(c) || c == b'/' || c == b'>')
        {
            return Some(at);
        }
        i = after;
    }
    None
}

/// An upper estimate of the element nesting depth html5ever builds from `html`, in one
/// linear pass; stops counting once it passes `stop_above` and returns that count.
///
/// Conservative by construction: an end tag is applied only where the tokenizer certainly
/// reads it as one, so no input is deeper than estimated beyond what the tree builder adds
/// itself (implied `tbody`/`tr`, formatting elements re-opened after misnested end tags; the
/// fuzz target `ingest_path` checks html5ever's depth stays within `4 × estimate + 8`):
/// - tags end where the tokenizer ends them (quoted attribute values included), tag names
///   run to whitespace, `/` or `>`, comments end at `-->`, `--!>` or the abrupt `<!-->`;
/// - raw-text elements (`style`, `title`, `textarea` …) are skipped to their own end tag;
/// - an end tag closes only an open element of its name; formatting elements stay counted
///   until their own end tag; only the implied end tags the tree builder certainly applies
///   (a new `p`, `li`, `dt`/`dd`, `option`, `tr`, `td`/`th` right after the same kind, a
///   block start right after an open `p`) are applied;
/// - after a start tag of [`BLIND_AFTER`] (foreign content, `select`, scripts …) every later
///   start tag counts and no end tag is applied.
///
/// Everything else (unclosed `<p>` runs, `<x/>`) counts as open.
pub fn nesting_depth(html: &str, stop_above: usize) -> usize {
    let b = html.as_bytes();
    let mut stack: Vec<String> = Vec::new();
    let mut open: HashMap<String, usize> = HashMap::new();
    let mut formatting: HashMap<String, usize> = HashMap::new();
    let mut formatting_total = 0usize;
    let mut max = 0usize;
    let mut i = 0usize;
    while let Some(off) = b.get(i..).and_then(|r| r.iter().position(|&c| c == b'<')) {
        let at = i + off;
        let rest = &b[at..];
        if rest.starts_with(b"<!--") {
            match comment_end(&rest[2..]) {
                Some(e) => i = at + 2 + e,
                None => break,
            }
            continue;
        }
        let (closing, name_start) = match rest.get(1) {
            Some(b'/') => (true, 2),
            _ => (false, 1),
        };
        if !rest.get(name_start).is_some_and(u8::is_ascii_alphabetic) {
            // `<!doctype>`, `<![CDATA[` outside foreign content, `<?…>`, `</ …>`: a bogus
            // comment up to the first `>` (`</>` included). A lone `<` is text.
            if rest.get(1).is_some_and(|c| matches!(c, b'!' | b'?' | b'/')) {
                match rest.iter().position(|&c| c == b'>') {
                    Some(e) => i = at + e + 1,
                    None => break,
                }
            } else {
                i = at + 1;
            }
            continue;
        }
        // The tag name as the tokenizer reads it (HTML §13.2.5.8): everything up to
        // whitespace, `/` or `>`, so `<p~x>` is an element `p~x`, not a `p`.
        let raw_name = &rest[name_start..];
        let name_len = raw_name
            .iter()
            .position(|&c| is_ws(c) || c == b'/' || c == b'>')
            .unwrap_or(raw_name.len());
        let name = String::from_utf8_lossy(&raw_name[..name_len]).to_ascii_lowercase();
        let Some(end) = tag_end(b, at + name_start + name_len) else {
            break;
        };
        i = end;
        if closing {
            if FORMATTING.contains(&name.as_str()) {
                if let Some(n) = formatting.get_mut(&name).filter(|n| **n > 0) {
                    *n -= 1;
                    formatting_total -= 1;
                }
            } else if open.get(&name).is_some_and(|n| *n > 0) {
                while let Some(top) = stack.pop() {
                    if let Some(n) = open.get_mut(&top) {
                        *n = n.saturating_sub(1);
                    }
                    if top == name {
                        break;
                    }
                }
            }
            continue;
        }
        if BLIND_AFTER.contains(&name.as_str()) {
            // This start tag and every later `<` + letter, with no end tag applied.
            let later = b[at..]
                .windows(2)
                .filter(|w| w[0] == b'<' && w[1].is_ascii_alphabetic())
                .count();
            return max.max(stack.len() + formatting_total + later);
        }
        if name == "plaintext" {
            // Everything after it is text.
            return max.max(stack.len() + formatting_total + 1);
        }
        if RAW_TEXT.contains(&name.as_str()) {
            max = max.max(stack.len() + formatting_total + 1);
            match raw_text_end(b, end, &name) {
                Some(e) => i = e,
                None => break,
            }
            continue;
        }
        if VOID.contains(&name.as_str()) {
            continue;
        }
        if FORMATTING.contains(&name.as_str()) {
            *formatting.entry(name).or_default() += 1;
            formatting_total += 1;
        } else {
            let implied = match (stack.last().map(String::as_str), name.as_str()) {
                (Some("p"), n) => CLOSES_P.contains(&n),
                (Some(top), n) if top == n => {
                    matches!(n, "li" | "dt" | "dd" | "option" | "tr" | "td" | "th")
                }
                (Some("td" | "th" | "dt" | "dd"), "td" | "th" | "dt" | "dd") => true,
                _ => false,
            };
            if implied {
                if let Some(top) = stack.pop() {
                    if let Some(n) = open.get_mut(&top) {
                        *n = n.saturating_sub(1);
                    }
                }
            }
            *open.entry(name.clone()).or_default() += 1;
            stack.push(name);
        }
        max = max.max(stack.len() + formatting_total);
        if max > stop_above {
            return max;
        }
    }
    max
}

/// Position of `needle` in `hay`, if any.
/// Where a comment whose text starts at `body` (just after `<!`) ends: the offset just past
/// its first `-->` or `--!>` (HTML § 13.2.5.43–52), or `None` when it runs to the end.
/// Linear in the distance to that end: each `--` is looked at once, so a document of many
/// comments (or none closed) costs one pass, not a search of the rest per comment.
fn comment_end(body: &[u8]) -> Option<usize> {
    let mut j = 0;
    while let Some(k) = body.get(j..).and_then(|r| find(r, b"--")) {
        let p = j + k;
        match body.get(p + 2) {
            Some(b'>') => return Some(p + 3),
            Some(b'!') if body.get(p + 3) == Some(&b'>') => return Some(p + 4),
            _ => j = p + 1,
        }
    }
    None
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The text of `html` in one linear pass, for HTML too deep or too large to render: tags and
/// comments removed, the contents of `<script>` and `<style>` dropped, block-level tags (`p`,
/// `div`, `br`, `li`, `tr`, headings) as line breaks, the common entities decoded (`&amp;`,
/// `&lt;`, `&gt;`, `&quot;`, `&#39;`, `&nbsp;`); blank-line runs collapsed, trimmed.
pub fn strip_tags(html: &str) -> String {
    let mut out = String::with_capacity(html.len().min(MAX_HTML_BYTES));
    let mut rest = html;
    while let Some(lt) = rest.find('<') {
        push_text(&mut out, &rest[..lt]);
        let tag = &rest[lt..];
        if let Some(body) = tag.strip_prefix("<!--") {
            rest = body.find("-->").map_or("", |e| &body[e + 3..]);
            continue;
        }
        let Some(gt) = tag.find('>') else {
            rest = "";
            break;
        };
        let name: String = tag[1..gt]
            .trim_start_matches('/')
            .chars()
            .take_while(char::is_ascii_alphanumeric)
            .map(|c| c.to_ascii_lowercase())
            .collect();
        rest = &tag[gt + 1..];
        if !tag.starts_with("</") && (name == "script" || name == "style") {
            let close = format!("</{name}");
            rest = find_ascii_ci(rest, &close).map_or("", |e| &rest[e..]);
            continue;
        }
        if matches!(
            name.as_str(),
            "p" | "div"
                | "br"
                | "li"
                | "tr"
                | "h1"
                | "h2"
                | "h3"
                | "h4"
                | "h5"
                | "h6"
                | "table"
                | "blockquote"
                | "pre"
                | "hr"
        ) {
            out.push('\n');
        }
    }
    push_text(&mut out, rest);
    collapse_blank_lines(&out)
}

/// Byte offset of ASCII `needle` in `hay`, compared case-insensitively.
fn find_ascii_ci(hay: &str, needle: &str) -> Option<usize> {
    let n = needle.as_bytes();
    hay.as_bytes()
        .windows(n.len())
        .position(|w| w.eq_ignore_ascii_case(n))
}

/// Appends `text` with the common entities decoded.
fn push_text(out: &mut String, text: &str) {
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let tail = &rest[amp..];
        let decoded = [
            ("&amp;", '&'),
            ("&lt;", '<'),
            ("&gt;", '>'),
            ("&quot;", '"'),
            ("&#39;", '\''),
            ("&nbsp;", ' '),
        ]
        .into_iter()
        .find(|(e, _)| tail.starts_with(e));
        match decoded {
            Some((e, c)) => {
                out.push(c);
                rest = &tail[e.len()..];
            }
            None => {
                out.push('&');
                rest = &tail[1..];
            }
        }
    }
    out.push_str(rest);
}

/// `text` with `&`, `<`, `>` and `"` escaped for HTML.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
    out
}

/// Column width the text is wrapped at; chat clients wrap themselves, so this only keeps
/// html2text from breaking lines early.
const WIDTH: usize = 10_000;

/// Readable plain text of an HTML body: block elements become paragraphs and line breaks,
/// links `text (url)`, list items `* `, no tags, entities decoded (`&nbsp;` as a plain
/// space). Blank-line runs collapse
/// to one; the result is trimmed. Never fails: HTML that html2text cannot render comes back
/// as its text content stripped by ammonia.
pub fn to_text(html: &str) -> String {
    let rendered = html2text::config::with_decorator(InlineLinks::default())
        .link_footnotes(false)
        .string_from_read(html.as_bytes(), WIDTH);
    let text = match rendered {
        Ok(t) => t,
        Err(e) => {
            tracing::debug!(error = %e, "html2text failed; falling back to stripped text");
            ammonia::Builder::empty().clean(html).to_string()
        }
    };
    // `&nbsp;` becomes U+00A0; in chat a plain space reads the same and searches better.
    collapse_blank_lines(&text.replace('\u{a0}', " "))
}

/// `html` with scripts, styles, event handlers, forms and unsafe URLs removed (ammonia's
/// default allow-list; links get `rel="noopener noreferrer"`), safe to show in a browser.
pub fn sanitize(html: &str) -> String {
    ammonia::clean(html)
}

fn collapse_blank_lines(text: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    for l in text.lines().map(str::trim_end) {
        if l.is_empty() && out.last().is_none_or(|p| p.is_empty()) {
            continue;
        }
        out.push(l);
    }
    out.join("\n").trim().to_string()
}

/// html2text decorator that writes a link as `text (url)`; a link whose text is its URL, or
/// an in-page `#anchor`, is written as the text alone.
#[derive(Clone, Debug, Default)]
struct InlineLinks {
    /// URLs of the links being rendered, innermost last.
    open: Vec<String>,
}

impl TextDecorator for InlineLinks {
    type Annotation = ();

    fn decorate_link_start(&mut self, url: &str) -> (String, ()) {
        self.open.push(url.to_string());
        (String::new(), ())
    }

    fn decorate_link_end(&mut self) -> String {
        match self.open.pop() {
            Some(u) if !u.is_empty() && !u.starts_with('#') => format!(" ({u})"),
            _ => String::new(),
        }
    }

    fn decorate_em_start(&self) -> (String, ()) {
        (String::new(), ())
    }

    fn decorate_em_end(&self) -> String {
        String::new()
    }

    fn decorate_strong_start(&self) -> (String, ()) {
        (String::new(), ())
    }

    fn decorate_strong_end(&self) -> String {
        String::new()
    }

    fn decorate_strikeout_start(&self) -> (String, ()) {
        (String::new(), ())
    }

    fn decorate_strikeout_end(&self) -> String {
        String::new()
    }

    fn decorate_code_start(&self) -> (String, ()) {
        (String::new(), ())
    }

    fn decorate_code_end(&self) -> String {
        String::new()
    }

    fn decorate_preformat_first(&self) {}

    fn decorate_preformat_cont(&self) {}

    fn decorate_image(&mut self, _src: &str, title: &str) -> (String, ()) {
        (title.to_string(), ())
    }

    fn header_prefix(&self, _level: usize) -> String {
        String::new()
    }

    fn quote_prefix(&self) -> String {
        "> ".to_string()
    }

    fn unordered_item_prefix(&self) -> String {
        "* ".to_string()
    }

    fn ordered_item_prefix(&self, i: i64) -> String {
        format!("{i}. ")
    }

    fn make_subblock_decorator(&self) -> Self {
        InlineLinks::default()
    }

    fn finalise(&mut self, _urls: Vec<String>) -> Vec<TaggedLine<()>> {
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn comment_ends_are_found_in_one_pass() {
        assert_eq!(super::comment_end(b"-->"), Some(3));
        assert_eq!(super::comment_end(b"-- x -->"), Some(8));
        assert_eq!(super::comment_end(b"-- x --!> y -->"), Some(9));
        assert_eq!(super::comment_end(b"-- x"), None);
        // ~1 MiB of comments, closed or never closed: only comments, so no depth (one pass
        // each; before, every comment searched the whole rest for `--!>`).
        assert_eq!(
            super::nesting_depth(&"<!---->".repeat(150_000), usize::MAX),
            0
        );
        assert_eq!(
            super::nesting_depth(&"<!----!".repeat(150_000), usize::MAX),
            0
        );
    }

    use super::*;

    #[test]
    fn paragraphs_breaks_links_and_entities() {
        let html = "<html><head><style>p{color:red}</style><script>alert(1)</script></head>\
<body><p>Hello&nbsp;team &amp; friends,</p><p>line one<br>line two</p>\
<p>See <a href=\"https://example.com/help\">the help page</a>.</p>\
<ul><li>first</li><li>second</li></ul></body></html>";
        let text = to_text(html);
        assert!(!text.contains('<'), "{text}");
        assert!(!text.contains("alert"), "{text}");
        assert!(!text.contains("color:red"), "{text}");
        assert!(text.contains("Hello team & friends,"), "{text}");
        assert!(text.contains("line one\nline two"), "{text}");
        assert!(
            text.contains("the help page (https://example.com/help)."),
            "{text}"
        );
        assert!(text.contains("* first\n* second"), "{text}");
        assert!(text.contains(",\n\nline one"), "paragraphs: {text}");
    }

    #[test]
    fn sanitize_removes_scripts_and_handlers_keeps_markup() {
        let html = "<p onclick=\"x()\">Hi <b>there</b><script>steal()</script>\
<a href=\"javascript:evil()\">x</a><img src=\"https://e.test/a.png\"></p>";
        let clean = sanitize(html);
        assert!(clean.contains("<b>there</b>"), "{clean}");
        assert!(!clean.contains("script"), "{clean}");
        assert!(!clean.contains("onclick"), "{clean}");
        assert!(!clean.contains("javascript"), "{clean}");
    }

    #[test]
    fn depth_estimate_is_never_below_the_real_nesting() {
        let deep =
            |open: &str, close: &str, n: usize| format!("{}x{}", open.repeat(n), close.repeat(n));
        assert_eq!(nesting_depth(&deep("<div>", "</div>", 40), 1000), 40);
        assert_eq!(nesting_depth("<p>a<p>b<p>c<ul><li>1<li>2</ul>", 1000), 2);
        assert_eq!(nesting_depth("<br><img src=x><hr>", 1000), 0);
        // Stray end tags of other names close nothing.
        assert_eq!(nesting_depth(&"<div></span></x>".repeat(50), 1000), 50);
        // Formatting elements are re-opened by the tree builder after a misnested end tag.
        assert_eq!(nesting_depth(&"<p><b><i></p>".repeat(30), 1000), 61);
        // `<div/>` opens a div in HTML; comments end where the tokenizer ends them.
        assert_eq!(nesting_depth(&"<div/>".repeat(20), 1000), 20);
        // A tag name runs to whitespace, `/` or `>` (found by fuzzing: `<p~x>` is no `p` and
        // closes no open `p`).
        assert_eq!(nesting_depth("<p>a<p~x>b<p~x>c", 1000), 3);
        // A `>` in a quoted attribute value does not end the tag, so the `</div>` after it
        // is part of the tag, not an end tag.
        assert_eq!(nesting_depth(&"<div a=\"x>\"</div>\"".repeat(30), 1000), 30);
        // Raw text hides tags; after svg, select or script nothing is closed any more.
        assert_eq!(
            nesting_depth(&"<div><style></div></style>".repeat(10), 1000),
            11
        );
        assert_eq!(
            nesting_depth("<div><svg><div></div><div></div></svg></div>", 1000),
            4
        );
        assert_eq!(
            nesting_depth("<!--><div><!---><div><!-- <div> --!><div>", 1000),
            3
        );
        assert_eq!(nesting_depth(&deep("<div>", "</div>", 100_000), 300), 301);
    }

    #[test]
    fn deep_or_huge_html_is_simplified_in_linear_time() {
        let started = std::time::Instant::now();
        let deep = format!(
            "{}deep text &amp; more{}",
            "<div>".repeat(100_000),
            "</div>".repeat(100_000)
        );
        let r = render(&deep);
        assert!(r.simplified);
        assert_eq!(r.text, "deep text & more");
        assert_eq!(r.sanitized, "<pre>deep text &amp; more</pre>");
        let huge = format!(
            "<p>{}</p><script>alert(1)</script>",
            "word ".repeat(MAX_HTML_BYTES / 5 + 1)
        );
        let r = render(&huge);
        assert!(r.simplified && !r.text.contains("alert") && r.text.starts_with("word word"));
        assert!(
            started.elapsed() < std::time::Duration::from_secs(30),
            "{:?}",
            started.elapsed()
        );
        // Ordinary HTML is rendered by the libraries.
        let r = render("<p>Hi <a href=\"https://x.test\">there</a></p>");
        assert!(!r.simplified);
        assert_eq!(r.text, "Hi there (https://x.test)");
    }
}
