//! Quoted history in email bodies: what a customer newly wrote, without the conversation
//! their mail client appended. Used for the card preview and the customer follow-ups posted
//! into card threads; the full text always stays stored.
//!
//! Recognised (first match wins, everything from there on is history):
//! - the signature delimiter `-- ` on a line of its own (RFC 3676 §4.3; `--` too, since
//!   many clients strip the trailing space);
//! - attribution lines: `On … wrote:` (also wrapped over two lines, as Gmail does),
//!   `Am … schrieb:`, `Le … a écrit :`, `El … escribió:`, `Il … ha scritto:`,
//!   `Op … schreef:`;
//! - Outlook separators: `-----Original Message-----`, `----- Original Message -----`,
//!   `-----Ursprüngliche Nachricht-----`, `-----Message d'origine-----`, and a header block
//!   `From: …` followed within four lines by `Sent: …` / `Date: …` (`Von:`/`Gesendet:`,
//!   `De :`/`Envoyé :`), also after an underscore rule;
//!
//! and everywhere: lines starting with `>` (RFC 3676 §4.5 quote marks) are dropped, so an
//! inline answer between quotes keeps its own lines. Runs of blank lines collapse to one.

/// How many bytes of a body [`trim_quoted`] reads.
pub const SCAN_BYTES: usize = 64 * 1024;

/// The part of `body` its author newly wrote: quoted lines (`>`), attribution lines with the
/// quote after them, forwarded/Outlook history and the signature removed; blank-line runs
/// collapsed and the result trimmed.
///
/// When nothing is left (a message that is only a quote), the whole body, collapsed and
/// trimmed, is returned instead, so a preview is never empty for a non-empty mail.
///
/// Reads only the first [`SCAN_BYTES`] of `body` (a preview needs far less), so its cost is
/// bounded whatever the message.
pub fn trim_quoted(body: &str) -> String {
    let mut end = body.len().min(SCAN_BYTES);
    while !body.is_char_boundary(end) {
        end -= 1;
    }
    let lines: Vec<&str> = body[..end].lines().map(str::trim_end).collect();
    let end = history_start(&lines).unwrap_or(lines.len());
    let kept = collapse(lines[..end].iter().copied().filter(|l| !is_quote(l)));
    if kept.is_empty() {
        collapse(lines.iter().copied())
    } else {
        kept
    }
}

/// Index of the first line that starts the quoted history or the signature.
fn history_start(lines: &[&str]) -> Option<usize> {
    (0..lines.len()).find(|&i| {
        let line = lines[i];
        let t = line.trim();
        line == "--"
            || line == "-- "
            || is_separator(t)
            || is_attribution(t)
            || (t.starts_with("On ") && lines.get(i + 1).is_some_and(|n| is_wrote(n.trim())))
            || is_header_block(&lines[i..])
            || (t.len() >= 10
                && t.chars().all(|c| c == '_')
                && lines.get(i + 1).is_some_and(|n| is_from_header(n.trim())))
    })
}

fn is_quote(line: &str) -> bool {
    line.trim_start().starts_with('>')
}

fn is_separator(t: &str) -> bool {
    let inner = t.trim_matches('-').trim().to_lowercase();
    t.starts_with("-----")
        && t.ends_with("-----")
        && matches!(
            inner.as_str(),
            "original message"
                | "ursprüngliche nachricht"
                | "message d'origine"
                | "forwarded message"
                | "mensaje original"
        )
}

fn is_wrote(t: &str) -> bool {
    t.ends_with("wrote:")
}

/// `On <date>, <who> wrote:` and its translations, on one line.
fn is_attribution(t: &str) -> bool {
    let starts = |p: &str| t.starts_with(p);
    (starts("On ") && is_wrote(t))
        || (starts("Am ")
            && (t.ends_with("schrieb:") || (t.contains(" schrieb ") && t.ends_with(':'))))
        || (starts("Le ") && (t.ends_with("a écrit :") || t.ends_with("a écrit:")))
        || (starts("El ") && t.ends_with("escribió:"))
        || (starts("Il ") && t.ends_with("ha scritto:"))
        || (starts("Op ") && t.ends_with("schreef:"))
}

fn is_from_header(t: &str) -> bool {
    ["From:", "Von:", "De :", "De:"]
        .iter()
        .any(|p| t.starts_with(p))
}

/// An Outlook reply header: `From:` and, within the next four lines, `Sent:` or `Date:`.
fn is_header_block(lines: &[&str]) -> bool {
    let Some(first) = lines.first() else {
        return false;
    };
    if !is_from_header(first.trim()) {
        return false;
    }
    lines.iter().skip(1).take(4).any(|l| {
        let t = l.trim();
        [
            "Sent:",
            "Date:",
            "Gesendet:",
            "Datum:",
            "Envoyé :",
            "Envoyé:",
        ]
        .iter()
        .any(|p| t.starts_with(p))
    })
}

/// Joins `lines`, dropping leading blanks and collapsing blank runs, trimmed.
fn collapse<'a>(lines: impl Iterator<Item = &'a str>) -> String {
    let mut out: Vec<&str> = Vec::new();
    for l in lines {
        if l.trim().is_empty() && out.last().is_none_or(|p| p.trim().is_empty()) {
            continue;
        }
        out.push(l);
    }
    out.join("\n").trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::trim_quoted;

    #[test]
    fn drops_quote_marks_and_signature() {
        let body = "Hello,\n\n\nmy login fails.\n> old quoted text\n-- \nJane\n";
        assert_eq!(trim_quoted(body), "Hello,\n\nmy login fails.");
    }

    #[test]
    fn cuts_at_english_attribution_also_when_wrapped() {
        let one =
            "Thanks, works now.\n\nOn Mon, 3 Mar 2025 at 10:00, Desk <s@x> wrote:\nHi there\n";
        assert_eq!(trim_quoted(one), "Thanks, works now.");
        let two =
            "Thanks!\nOn Mon, 3 Mar 2025 at 10:00, Support Team\n<support@x.test> wrote:\nold\n";
        assert_eq!(trim_quoted(two), "Thanks!");
    }

    #[test]
    fn cuts_at_german_and_french_attribution() {
        assert_eq!(
            trim_quoted("Danke.\nAm Mo., 3. März 2025 um 10:00 Uhr schrieb Support <s@x>:\nalt\n"),
            "Danke."
        );
        assert_eq!(
            trim_quoted("Merci.\n\nLe lun. 3 mars 2025 à 10:00, Support <s@x> a écrit :\nvieux\n"),
            "Merci."
        );
    }

    #[test]
    fn cuts_at_outlook_blocks() {
        let a = "New text\n\n-----Original Message-----\nFrom: Support\nSent: Monday\nold\n";
        assert_eq!(trim_quoted(a), "New text");
        let b = "Top post\n________________________________\nFrom: Support <s@x>\nSent: Monday, March 3, 2025 10:00\nTo: me\nSubject: Re: x\n\nold\n";
        assert_eq!(trim_quoted(b), "Top post");
        let c = "Top post\n\nFrom: Support <s@x>\nDate: Monday\nSubject: x\nold\n";
        assert_eq!(trim_quoted(c), "Top post");
    }

    #[test]
    fn keeps_inline_answers_and_ordinary_from_lines() {
        let body = "> Which version?\n2.1\n> Which OS?\nLinux\n";
        assert_eq!(trim_quoted(body), "2.1\nLinux");
        // A "From:" line without a Sent/Date line near it is text, not a header block.
        let text = "From: what I can tell, it broke.\nIt did.\n";
        assert_eq!(
            trim_quoted(text),
            "From: what I can tell, it broke.\nIt did."
        );
    }

    #[test]
    fn a_message_that_is_only_a_quote_keeps_its_text() {
        assert_eq!(trim_quoted("> only\n> quoted\n"), "> only\n> quoted");
        assert_eq!(trim_quoted(""), "");
    }

    #[test]
    fn reads_only_the_first_scan_bytes() {
        let body = format!("Hello\n{}", "é".repeat(super::SCAN_BYTES));
        let t = trim_quoted(&body);
        assert!(
            t.len() <= super::SCAN_BYTES && t.starts_with("Hello\n"),
            "{}",
            t.len()
        );
    }
}
