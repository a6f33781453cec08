//! Canned replies (reply templates): names, placeholders and filling, with no I/O.
//!
//! A template body is text with placeholders in braces — `{customer_name}`, `{ticket}`,
//! `{agent_name}`, `{subject}` — and `{{` / `}}` for a literal brace. [`Template::parse`]
//! checks a name and a body when the template is *saved* (config load, `template add`,
//! `template edit`): an unknown or malformed placeholder is refused there, naming it, so a
//! template that was saved always fills. [`Template::fill`] is one pass over the parsed body:
//! a value (a customer name such as `{agent_name}`) is inserted as text and never read again
//! for placeholders.

use std::fmt;

/// Longest template name, characters.
pub const NAME_MAX: usize = 32;
/// Longest template body as written, characters.
pub const BODY_MAX: usize = 2000;
/// Longest text a template may fill to, characters: the body's literal text plus every
/// placeholder at its longest value ([`VALUE_MAX`], a ticket number [`TICKET_MAX`]). It is
/// what the reply forms can hold prefilled (Slack's `plain_text_input` takes 3,000; Discord's
/// text input 4,000), so a saved template always fits the form it opens in.
pub const FILLED_MAX: usize = 3000;
/// Longest value put in for `{customer_name}`, `{agent_name}` or `{subject}`, characters;
/// longer values are cut with `…`.
pub const VALUE_MAX: usize = 120;
/// Longest ticket number, characters (a 16-letter prefix, a year and a serial).
pub const TICKET_MAX: usize = 40;
/// What `{customer_name}` becomes when the customer gave no usable name ("Hi there,").
pub const NO_NAME: &str = "there";

/// A placeholder a template may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Placeholder {
    /// `{customer_name}`: the requester's display name, else [`NO_NAME`].
    CustomerName,
    /// `{ticket}`: the ticket number (`TICK-2026-0001`).
    Ticket,
    /// `{agent_name}`: the replying agent's name, else their handle.
    AgentName,
    /// `{subject}`: the ticket's subject.
    Subject,
}

impl Placeholder {
    /// Every placeholder, in the order they are documented.
    pub const ALL: [Placeholder; 4] = [
        Placeholder::CustomerName,
        Placeholder::Ticket,
        Placeholder::AgentName,
        Placeholder::Subject,
    ];

    /// The name written between braces.
    pub fn name(self) -> &'static str {
        match self {
            Placeholder::CustomerName => "customer_name",
            Placeholder::Ticket => "ticket",
            Placeholder::AgentName => "agent_name",
            Placeholder::Subject => "subject",
        }
    }

    /// The placeholder called `name` (exactly, case included).
    pub fn from_name(name: &str) -> Option<Placeholder> {
        Placeholder::ALL.into_iter().find(|p| p.name() == name)
    }

    /// Longest value it is replaced by, characters.
    fn longest(self) -> usize {
        match self {
            Placeholder::Ticket => TICKET_MAX,
            _ => VALUE_MAX,
        }
    }
}

/// Why a template cannot be saved. `Display` says what is wrong in words for the person who
/// wrote it (`desk::messages::templates` adds what to do).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TemplateError {
    /// The name is not a lower-case word of 1..=[`NAME_MAX`] characters (`a-z` first, then
    /// `a-z`, `0-9`, `-`, `_`).
    BadName(String),
    /// The body is empty or blank.
    EmptyBody,
    /// The body is longer than [`BODY_MAX`] characters (its length).
    BodyTooLong(usize),
    /// Filled at its longest, the body would exceed [`FILLED_MAX`] characters (that length).
    FillsTooLong(usize),
    /// `{name}` is not one of [`Placeholder::ALL`] (the name as written).
    UnknownPlaceholder(String),
    /// A `{` that is never closed, at this character position (0-based).
    Unclosed(usize),
    /// A `}` with no `{` before it and not doubled, at this character position (0-based).
    StrayBrace(usize),
}

impl fmt::Display for TemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TemplateError::BadName(n) => write!(
                f,
                "`{n}` is not a template name: use a lower-case word of at most {NAME_MAX} characters (a-z first, then a-z, 0-9, - or _)"
            ),
            TemplateError::EmptyBody => write!(f, "the template text is empty"),
            TemplateError::BodyTooLong(n) => write!(
                f,
                "the template text is {n} characters; the limit is {BODY_MAX}"
            ),
            TemplateError::FillsTooLong(n) => write!(
                f,
                "filled in, the template could reach {n} characters; the reply forms hold {FILLED_MAX}"
            ),
            TemplateError::UnknownPlaceholder(p) => write!(
                f,
                "unknown placeholder `{{{p}}}` (known: {}; write {{{{ and }}}} for a literal brace)",
                known_placeholders()
            ),
            TemplateError::Unclosed(at) => write!(
                f,
                "the `{{` at character {} is never closed (write {{{{ for a literal brace)",
                at + 1
            ),
            TemplateError::StrayBrace(at) => write!(
                f,
                "the `}}` at character {} closes nothing (write }}}} for a literal brace)",
                at + 1
            ),
        }
    }
}

impl std::error::Error for TemplateError {}

/// `{customer_name}, {ticket}, {agent_name}, {subject}`.
pub fn known_placeholders() -> String {
    Placeholder::ALL
        .iter()
        .map(|p| format!("{{{}}}", p.name()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// One piece of a parsed body.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Text(String),
    Field(Placeholder),
}

/// A checked template: its name, the body as written, and the body parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    name: String,
    body: String,
    segments: Vec<Segment>,
}

/// Checks a template name (see [`TemplateError::BadName`]); returns it as given.
///
/// Errors: [`TemplateError::BadName`].
pub fn check_name(name: &str) -> Result<&str, TemplateError> {
    let mut chars = name.chars();
    let ok = name.chars().count() <= NAME_MAX
        && chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if ok {
        Ok(name)
    } else {
        Err(TemplateError::BadName(name.to_string()))
    }
}

/// Parses `body` into segments.
fn parse_body(body: &str) -> Result<Vec<Segment>, TemplateError> {
    let mut out = Vec::new();
    let mut text = String::new();
    let chars: Vec<char> = body.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '{' if chars.get(i + 1) == Some(&'{') => {
                text.push('{');
                i += 2;
            }
            '}' if chars.get(i + 1) == Some(&'}') => {
                text.push('}');
                i += 2;
            }
            '}' => return Err(TemplateError::StrayBrace(i)),
            '{' => {
                // The placeholder name runs to the next `}`; a `{` or a line break first
                // means this one is never closed.
                let close = chars[i + 1..]
                    .iter()
                    .position(|c| matches!(c, '}' | '{' | '\n' | '\r'))
                    .map(|k| i + 1 + k)
                    .filter(|&k| chars[k] == '}')
                    .ok_or(TemplateError::Unclosed(i))?;
                let name: String = chars[i + 1..close].iter().collect();
                let p =
                    Placeholder::from_name(&name).ok_or(TemplateError::UnknownPlaceholder(name))?;
                if !text.is_empty() {
                    out.push(Segment::Text(std::mem::take(&mut text)));
                }
                out.push(Segment::Field(p));
                i = close + 1;
            }
            c => {
                text.push(c);
                i += 1;
            }
        }
    }
    if !text.is_empty() {
        out.push(Segment::Text(text));
    }
    Ok(out)
}

/// The values a template is filled with, from the ticket and the replying agent, as stored
/// (hostile: a display name comes from an email). [`Template::fill`] cleans them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FillValues<'a> {
    /// The requester's display name, if the email gave one.
    pub customer_name: Option<&'a str>,
    /// The requester's address (a name that is only this address counts as no name).
    pub customer_email: &'a str,
    /// The ticket number.
    pub ticket: &'a str,
    /// The replying agent's display name.
    pub agent_name: &'a str,
    /// The replying agent's handle (used when the name is blank).
    pub agent_handle: &'a str,
    /// The ticket's subject.
    pub subject: &'a str,
}

/// `value` made fit for a sentence: control characters (line breaks, escapes, bidi
/// overrides, zero-width characters) dropped, runs of blanks made one space, trimmed, cut to
/// `max` characters with `…`. Empty when nothing readable is left.
fn clean(value: &str, max: usize) -> String {
    let kept: String = value
        .chars()
        .map(|c| if c.is_whitespace() { ' ' } else { c })
        .filter(|c| {
            !c.is_control()
                && !matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}')
        })
        .collect();
    let words: Vec<&str> = kept.split_whitespace().collect();
    let joined = words.join(" ");
    if joined.chars().count() <= max {
        return joined;
    }
    let mut cut: String = joined.chars().take(max.saturating_sub(1)).collect();
    cut = cut.trim_end().to_string();
    cut.push('…');
    cut
}

impl Template {
    /// Checks `name` and `body` and parses the body.
    ///
    /// Errors: the first problem found — [`TemplateError::BadName`],
    /// [`TemplateError::EmptyBody`], [`TemplateError::BodyTooLong`], a malformed or unknown
    /// placeholder ([`TemplateError::Unclosed`], [`TemplateError::StrayBrace`],
    /// [`TemplateError::UnknownPlaceholder`]), or [`TemplateError::FillsTooLong`].
    pub fn parse(name: &str, body: &str) -> Result<Template, TemplateError> {
        check_name(name)?;
        if body.trim().is_empty() {
            return Err(TemplateError::EmptyBody);
        }
        let len = body.chars().count();
        if len > BODY_MAX {
            return Err(TemplateError::BodyTooLong(len));
        }
        let segments = parse_body(body)?;
        let longest: usize = segments
            .iter()
            .map(|s| match s {
                Segment::Text(t) => t.chars().count(),
                Segment::Field(p) => p.longest(),
            })
            .sum();
        if longest > FILLED_MAX {
            return Err(TemplateError::FillsTooLong(longest));
        }
        Ok(Template {
            name: name.to_string(),
            body: body.to_string(),
            segments,
        })
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its body as written (placeholders unfilled).
    pub fn body(&self) -> &str {
        &self.body
    }

    /// The placeholders it uses, each once, in order of first use.
    pub fn placeholders(&self) -> Vec<Placeholder> {
        let mut out = Vec::new();
        for s in &self.segments {
            if let Segment::Field(p) = s {
                if !out.contains(p) {
                    out.push(*p);
                }
            }
        }
        out
    }

    /// The body with every placeholder replaced, in one pass (a value is never read for
    /// placeholders). Values are cleaned (control characters and line breaks dropped, blanks
    /// collapsed, cut to [`VALUE_MAX`] characters); a customer name that is blank, or only
    /// the customer's address, becomes [`NO_NAME`]; a blank agent name becomes the handle.
    /// At most [`FILLED_MAX`] characters (checked by [`Template::parse`]).
    pub fn fill(&self, v: &FillValues<'_>) -> String {
        let customer = v
            .customer_name
            .map(|n| clean(n.trim_matches(|c| c == '"' || c == '\''), VALUE_MAX))
            .filter(|n| !n.is_empty())
            .filter(|n| {
                let bare = n.trim_matches(|c| c == '<' || c == '>');
                !bare.eq_ignore_ascii_case(v.customer_email.trim()) && !bare.contains('@')
            })
            .unwrap_or_else(|| NO_NAME.to_string());
        let agent = Some(clean(v.agent_name, VALUE_MAX))
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| clean(v.agent_handle, VALUE_MAX));
        let ticket = clean(v.ticket, TICKET_MAX);
        let subject = clean(v.subject, VALUE_MAX);
        let mut out = String::new();
        for s in &self.segments {
            match s {
                Segment::Text(t) => out.push_str(t),
                Segment::Field(Placeholder::CustomerName) => out.push_str(&customer),
                Segment::Field(Placeholder::Ticket) => out.push_str(&ticket),
                Segment::Field(Placeholder::AgentName) => out.push_str(&agent),
                Segment::Field(Placeholder::Subject) => out.push_str(&subject),
            }
        }
        out
    }
}

/// Whether `role` may add, edit and remove templates (admins and owners; every agent may
/// list and use them).
pub fn may_manage(role: crate::domain::Role) -> bool {
    role >= crate::domain::Role::Admin
}

/// A typed reply text that asks for a template instead of being sent: exactly `/` followed
/// by one word (`/refund`, `/Refund `), returned lower-cased without the `/`. Anything else —
/// text with a blank after the word, a bare `/`, a path such as `/a/b c` — is a reply.
pub fn requested(text: &str) -> Option<String> {
    let word = text.trim().strip_prefix('/')?;
    if word.is_empty() || word.contains(char::is_whitespace) || word.contains('/') {
        return None;
    }
    Some(word.to_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values<'a>(customer: Option<&'a str>) -> FillValues<'a> {
        FillValues {
            customer_name: customer,
            customer_email: "dana@customer.example",
            ticket: "TICK-2026-0007",
            agent_name: "Ana Agent",
            agent_handle: "ana",
            subject: "Refund for order 1234",
        }
    }

    #[test]
    fn parse_and_fill_table() {
        let cases: &[(&str, Option<&str>, &str)] = &[
            ("Hi {customer_name},", Some("Dana"), "Hi Dana,"),
            ("Hi {customer_name},", None, "Hi there,"),
            ("Hi {customer_name},", Some("   "), "Hi there,"),
            (
                "Hi {customer_name},",
                Some("dana@customer.example"),
                "Hi there,",
            ),
            ("Hi {customer_name},", Some("\"Dana C.\""), "Hi Dana C.,"),
            (
                "About {ticket}: {subject}",
                Some("Dana"),
                "About TICK-2026-0007: Refund for order 1234",
            ),
            ("— {agent_name}", None, "— Ana Agent"),
            ("{{literal}} and }}", None, "{literal} and }"),
            ("{{{ticket}}}", None, "{TICK-2026-0007}"),
            ("no placeholders\nat all", None, "no placeholders\nat all"),
            ("{ticket}{ticket}", None, "TICK-2026-0007TICK-2026-0007"),
            ("Hi {customer_name}! é ü 🎉", Some("Zoë"), "Hi Zoë! é ü 🎉"),
        ];
        for (body, customer, want) in cases {
            let t = Template::parse("t", body).unwrap_or_else(|e| panic!("{body}: {e}"));
            assert_eq!(t.fill(&values(*customer)), *want, "{body}");
        }
    }

    #[test]
    fn hostile_values_are_inserted_as_text_once() {
        let t = Template::parse("t", "Hi {customer_name}, from {agent_name} on {subject}")
            .expect("parses");
        // A customer name that is itself a placeholder is not expanded again.
        assert_eq!(
            t.fill(&values(Some("{agent_name}"))),
            "Hi {agent_name}, from Ana Agent on Refund for order 1234"
        );
        assert_eq!(
            t.fill(&values(Some("{{customer_name}}"))),
            "Hi {{customer_name}}, from Ana Agent on Refund for order 1234"
        );
        // Line breaks, escapes and bidi overrides cannot restructure the email.
        let filled = t.fill(&values(Some("Dana\r\n\r\nP.S. wire it\u{1b}[31m\u{202E}")));
        assert_eq!(
            filled,
            "Hi Dana P.S. wire it[31m, from Ana Agent on Refund for order 1234"
        );
        // A "name" holding an address is no name.
        assert_eq!(
            t.fill(&values(Some("x@evil.example"))),
            "Hi there, from Ana Agent on Refund for order 1234"
        );
        // A huge value is cut.
        let long = "x".repeat(10_000);
        let filled = t.fill(&values(Some(&long)));
        assert!(
            filled.chars().count() < 3 * VALUE_MAX + 40,
            "{}",
            filled.len()
        );
        assert!(filled.contains('…'));
        // A blank agent name falls back to the handle.
        let mut v = values(None);
        v.agent_name = " \n ";
        assert_eq!(t.fill(&v), "Hi there, from ana on Refund for order 1234");
    }

    #[test]
    fn bad_templates_are_refused_naming_the_problem() {
        let cases: &[(&str, &str, TemplateError)] = &[
            (
                "ok",
                "Hi {name}",
                TemplateError::UnknownPlaceholder("name".into()),
            ),
            (
                "ok",
                "Hi {Customer_Name}",
                TemplateError::UnknownPlaceholder("Customer_Name".into()),
            ),
            (
                "ok",
                "Hi { ticket }",
                TemplateError::UnknownPlaceholder(" ticket ".into()),
            ),
            (
                "ok",
                "Hi {}",
                TemplateError::UnknownPlaceholder(String::new()),
            ),
            ("ok", "Hi {ticket", TemplateError::Unclosed(3)),
            ("ok", "Hi {tic\nket}", TemplateError::Unclosed(3)),
            ("ok", "Hi {a{ticket}}", TemplateError::Unclosed(3)),
            ("ok", "Hi ticket}", TemplateError::StrayBrace(9)),
            ("ok", "   ", TemplateError::EmptyBody),
            ("ok", "", TemplateError::EmptyBody),
            ("Refund", "x", TemplateError::BadName("Refund".into())),
            ("1st", "x", TemplateError::BadName("1st".into())),
            ("", "x", TemplateError::BadName(String::new())),
            ("a b", "x", TemplateError::BadName("a b".into())),
            ("/refund", "x", TemplateError::BadName("/refund".into())),
        ];
        for (name, body, want) in cases {
            assert_eq!(
                Template::parse(name, body).as_ref().err(),
                Some(want),
                "{name:?} {body:?}"
            );
        }
        let long_name = "a".repeat(NAME_MAX + 1);
        assert!(matches!(
            Template::parse(&long_name, "x"),
            Err(TemplateError::BadName(_))
        ));
        assert!(Template::parse(&"a".repeat(NAME_MAX), "x").is_ok());
        assert_eq!(
            Template::parse("t", &"x".repeat(BODY_MAX + 1)),
            Err(TemplateError::BodyTooLong(BODY_MAX + 1))
        );
        // Many placeholders could fill past what a form holds.
        let many = "{subject}".repeat(30);
        assert!(matches!(
            Template::parse("t", &many),
            Err(TemplateError::FillsTooLong(n)) if n == 30 * VALUE_MAX
        ));
        // The message names the bad placeholder and the known ones.
        let e = Template::parse("t", "Hi {first_name}").expect_err("unknown");
        let m = e.to_string();
        assert!(
            m.contains("{first_name}") && m.contains("{customer_name}"),
            "{m}"
        );
    }

    /// Whatever a saved template and whatever the values, the filled text fits the forms.
    #[test]
    fn every_saved_template_fills_within_the_form_limit() {
        let huge = "y".repeat(50_000);
        let bodies = [
            "{subject}".repeat(24),
            format!(
                "{}{}",
                "z".repeat(FILLED_MAX - VALUE_MAX),
                "{customer_name}"
            ),
            "{ticket}".repeat(70),
        ];
        for body in bodies {
            let Ok(t) = Template::parse("t", &body) else {
                continue;
            };
            let v = FillValues {
                customer_name: Some(&huge),
                customer_email: "a@b",
                ticket: &huge,
                agent_name: &huge,
                agent_handle: "x",
                subject: &huge,
            };
            assert!(t.fill(&v).chars().count() <= FILLED_MAX);
        }
    }

    #[test]
    fn only_a_lone_slash_word_asks_for_a_template() {
        assert_eq!(requested("/refund"), Some("refund".into()));
        assert_eq!(requested("  /Refund "), Some("refund".into()));
        assert_eq!(requested("/nope"), Some("nope".into()));
        assert_eq!(requested("/refund please"), None);
        assert_eq!(requested("/"), None);
        assert_eq!(requested("/etc/passwd"), None);
        assert_eq!(requested("refund"), None);
        assert_eq!(requested("Thanks /refund"), None);
    }

    #[test]
    fn admins_manage_members_use() {
        use crate::domain::Role;
        assert!(!may_manage(Role::Member));
        assert!(may_manage(Role::Admin));
        assert!(may_manage(Role::Owner));
    }
}
