//! Escaping of text claimdesk did not write (an email's subject, sender, body, attachment
//! names; anything a customer controls) before it is placed among our own markup. One
//! function per output: Slack mrkdwn, Discord markdown, a terminal. Every surface calls these
//! (through [`crate::desk::messages::Mention::escape`]); none escapes on its own.
//!
//! - Slack: `&`, `<`, `>` become `&amp;`, `&lt;`, `&gt;` as Slack documents
//!   (<https://api.slack.com/reference/surfaces/formatting#escaping>), so `<!channel>`,
//!   `<@U…>`, `<!subteam^…>`, `<#C…>` and `<url|text>` cannot form. Bare URLs still auto-link.
//! - Discord: Markdown and mention syntax is backslash-escaped and `@everyone` / `@here` get a
//!   zero-width space after the `@`, so masked links `[text](url)`, `<@id>`, `<@&id>`, `<#id>`,
//!   headings, quotes, code spans and blocks cannot form
//!   (<https://support.discord.com/hc/en-us/articles/210298617>). Pings are also refused by
//!   `allowed_mentions` on every message we send (the Discord client).
//! - Terminal: control characters (C0 but `\n` and `\t`, DEL, C1), escape sequences (CSI, OSC
//!   and two-character ones) and bidirectional overrides and isolates (U+202A–U+202E,
//!   U+2066–U+2069) are removed, so text cannot move the cursor, recolour, retitle the
//!   terminal or reorder what an agent reads.

/// `text` escaped for Slack mrkdwn or plain_text: `&` → `&amp;`, `<` → `&lt;`, `>` → `&gt;`,
/// after dropping what [`terminal`] drops (controls and bidi overrides, which could reorder
/// what an agent reads); nothing else changes.
pub fn slack(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    for c in terminal(text).chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

/// Characters Discord markdown gives a meaning: each is written `\c` in [`discord`].
const DISCORD_SPECIAL: &[char] = &[
    '\\', '*', '_', '~', '`', '|', '>', '<', '#', '[', ']', '(', ')',
];

/// Zero-width space, put after the `@` of `@everyone` and `@here`.
const ZWSP: char = '\u{200B}';

/// `text` escaped for Discord message content, embed titles, descriptions and field values:
/// every character of [`DISCORD_SPECIAL`] is preceded by `\`, and an `@` that starts
/// `everyone` or `here` (any case) is followed by a zero-width space, after dropping what
/// [`terminal`] drops. The text reads the same once rendered.
pub fn discord(text: &str) -> String {
    let text = terminal(text);
    let text = text.as_str();
    let mut out = String::with_capacity(text.len() + text.len() / 4);
    for (i, c) in text.char_indices() {
        if DISCORD_SPECIAL.contains(&c) {
            out.push('\\');
            out.push(c);
        } else if c == '@' {
            out.push('@');
            let rest = text.get(i + 1..).unwrap_or("");
            let word = |w: &str| {
                rest.get(..w.len())
                    .is_some_and(|r| r.eq_ignore_ascii_case(w))
            };
            if word("everyone") || word("here") {
                out.push(ZWSP);
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Whether `c` is a bidirectional embedding, override or isolate control.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// `text` safe to print on a terminal: `\n` and `\t` stay; other C0 controls, DEL and C1
/// controls go, and so do whole escape sequences (`ESC [ … final`, `ESC ] … BEL|ESC \`,
/// `ESC x`) and bidi overrides and isolates. Everything else is kept as it is.
pub fn terminal(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\n' | '\t' => out.push(c),
            '\u{1b}' => match chars.next() {
                // CSI: parameters and intermediates, then one final byte 0x40–0x7E.
                Some('[') => {
                    for p in chars.by_ref() {
                        if ('\u{40}'..='\u{7e}').contains(&p) {
                            break;
                        }
                    }
                }
                // OSC (and DCS, SOS, PM, APC): up to BEL or ST (`ESC \`).
                Some(']' | 'P' | 'X' | '^' | '_') => {
                    while let Some(p) = chars.next() {
                        if p == '\u{7}' {
                            break;
                        }
                        if p == '\u{1b}' {
                            if chars.peek() == Some(&'\\') {
                                chars.next();
                            }
                            break;
                        }
                    }
                }
                _ => {}
            },
            c if c.is_control() || is_bidi_control(c) => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every way a customer could address people or disguise a link, per platform.
    const INJECTIONS: &[&str] = &[
        "<!channel>",
        "<!here>",
        "<!everyone>",
        "<@U000000ANA>",
        "<@W123|ana>",
        "<!subteam^S123|@team>",
        "<#C0TESTDESK>",
        "<https://evil.example|https://bank.example>",
        "<mailto:a@evil.example|support@bank.example>",
        "@everyone",
        "@here",
        "@EveryOne",
        "<@200000000000000001>",
        "<@!200000000000000001>",
        "<@&300000000000000009>",
        "<#300000000000000001>",
        "</claim:1>",
        "<t:0:R>",
        "[https://bank.example](https://evil.example)",
        "[click](<https://evil.example>)",
        "```\n**we are admins now**\n```",
        "`",
        "> quote\n# heading\n-# small",
        "||spoiler||",
        "\\[x](https://evil.example)",
    ];

    #[test]
    fn slack_escapes_the_three_characters_as_documented() {
        #[rustfmt::skip]
        let table = [
            ("plain text", "plain text"),
            ("a & b", "a &amp; b"),
            ("<!channel>", "&lt;!channel&gt;"),
            ("<@U000000ANA>", "&lt;@U000000ANA&gt;"),
            ("<!subteam^S123|@team>", "&lt;!subteam^S123|@team&gt;"),
            ("<https://evil.example|https://bank.example>",
             "&lt;https://evil.example|https://bank.example&gt;"),
            ("&lt;!here&gt;", "&amp;lt;!here&amp;gt;"),
            ("Dana <dana@customer.example>", "Dana &lt;dana@customer.example&gt;"),
            ("https://ok.example/a_b?x=1&y=2", "https://ok.example/a_b?x=1&amp;y=2"),
            ("moc.evil\u{202E}bank.com \u{1b}[2J", "moc.evilbank.com "),
        ];
        for (input, want) in table {
            assert_eq!(slack(input), want, "{input}");
        }
        for input in INJECTIONS {
            let out = slack(input);
            assert!(!out.contains('<') && !out.contains('>'), "{input} → {out}");
        }
    }

    #[test]
    fn discord_escapes_markdown_and_mentions() {
        #[rustfmt::skip]
        let table = [
            ("plain text", "plain text"),
            ("@everyone", "@\u{200B}everyone"),
            ("hi @here!", "hi @\u{200B}here!"),
            ("dana@customer.example", "dana@customer.example"),
            ("<@123>", "\\<@123\\>"),
            ("<@&9>", "\\<@&9\\>"),
            ("[a](https://x.example)", "\\[a\\]\\(https://x.example\\)"),
            ("**b**", "\\*\\*b\\*\\*"),
            ("a\\b", "a\\\\b"),
            ("```x```", "\\`\\`\\`x\\`\\`\\`"),
            ("a\u{202E}b\u{7}", "ab"),
        ];
        for (input, want) in table {
            assert_eq!(discord(input), want, "{input}");
        }
    }

    /// Whether `s` has `c` not preceded by an escaping backslash.
    fn has_unescaped(s: &str, c: char) -> bool {
        let mut escaped = false;
        for x in s.chars() {
            if escaped {
                escaped = false;
            } else if x == '\\' {
                escaped = true;
            } else if x == c {
                return true;
            }
        }
        false
    }

    #[test]
    fn no_injection_survives_discord_escaping() {
        for input in INJECTIONS {
            let out = discord(input);
            for c in ['<', '>', '[', ']', '(', ')', '`', '*', '_', '|', '#', '~'] {
                assert!(!has_unescaped(&out, c), "{c} in {input:?} → {out:?}");
            }
            let lower = out.to_lowercase();
            assert!(
                !lower.contains("@everyone") && !lower.contains("@here"),
                "{input:?} → {out:?}"
            );
        }
    }

    #[test]
    fn terminal_drops_controls_escape_sequences_and_bidi_overrides() {
        #[rustfmt::skip]
        let table = [
            ("plain\ttext\nline 2", "plain\ttext\nline 2"),
            ("red \u{1b}[31mALERT\u{1b}[0m", "red ALERT"),
            ("\u{1b}]0;pwned\u{7}title", "title"),
            ("\u{1b}]8;;https://evil.example\u{1b}\\link\u{1b}]8;;\u{1b}\\", "link"),
            ("over\rwrite", "overwrite"),
            ("bell\u{7} nul\u{0} del\u{7f}", "bell nul del"),
            ("c1 \u{9b}2J csi", "c1 2J csi"),
            ("file\u{202E}gpj.exe", "filegpj.exe"),
            ("iso\u{2066}late\u{2069}", "isolate"),
            ("é 🎉 日本", "é 🎉 日本"),
            ("dangling \u{1b}", "dangling "),
            ("\u{1b}[", ""),
        ];
        for (input, want) in table {
            assert_eq!(terminal(input), want, "{input:?}");
        }
        // Every other control character alone (ESC starts a sequence: see the table).
        for c in (0u32..0x20)
            .chain(0x7f..0xa0)
            .filter_map(char::from_u32)
            .filter(|c| *c != '\u{1b}')
        {
            let out = terminal(&format!("a{c}b"));
            assert!(out == "ab" || c == '\n' || c == '\t', "{c:?} → {out:?}");
        }
    }
}
