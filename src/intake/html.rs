//! HTML mail bodies: readable text for chat (html2text) and sanitised HTML for later display
//! (ammonia).

use html2text::render::{TaggedLine, TextDecorator};

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
}
