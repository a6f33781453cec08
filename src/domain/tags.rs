//! Tags on tickets and the intake rules that set them, with no I/O.
//!
//! A tag is a lower-case word: `^[a-z0-9][a-z0-9_-]{0,39}$` (the CHECK of `ticket_tags.tag`,
//! migrations/0016_tags.sql). What people type is normalised to lower case ([`Tag::parse`]);
//! anything else is refused with the rule spelled out.
//!
//! Intake rules ([`Rule`], from `[[tags.rules]]`) tag a new ticket — and may set its priority
//! or department — when every condition they name matches the email that opens it: the
//! mailbox it came through, the sender's address or domain, a subject or body pattern.
//! [`Rules::evaluate`] decides; `desk::ingest` applies the [`Decision`]. Patterns are
//! compiled once when the settings load, with the `regex` crate (finite automata: matching
//! is linear in the text, no backtracking), with a bound on the compiled size
//! ([`REGEX_SIZE_LIMIT`]), and only the first [`BODY_MATCH_MAX`] bytes of a body are matched,
//! so no email can make a rule slow.

use std::fmt;

use super::auth_results::Dmarc;
use super::Priority;

/// Longest tag, characters.
pub const TAG_MAX: usize = 40;

/// A tag: 1–40 characters of `a-z`, `0-9`, `_` and `-`, starting with a letter or digit.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct Tag(String);

/// Why text is not a tag.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a tag: use 1-40 letters, digits, `-` or `_`, starting with a letter or digit (e.g. `billing`, `urgent-customer`)")]
pub struct BadTag(pub String);

impl Tag {
    /// `text` as a tag, lower-cased (`Billing` → `billing`); surrounding blanks and a leading
    /// `#` are ignored.
    ///
    /// Errors: [`BadTag`] naming the text when it is empty, longer than [`TAG_MAX`], or holds
    /// anything but ASCII letters, digits, `-` and `_` (or starts with `-`/`_`).
    pub fn parse(text: &str) -> Result<Tag, BadTag> {
        let t = text.trim();
        let t = t.strip_prefix('#').unwrap_or(t);
        let lower = t.to_ascii_lowercase();
        let ok = !lower.is_empty()
            && lower.len() <= TAG_MAX
            && lower
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
            && lower
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphanumeric());
        if ok {
            Ok(Tag(lower))
        } else {
            Err(BadTag(text.trim().chars().take(60).collect()))
        }
    }

    /// The tag as stored.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The tags in `text`, separated by blanks or commas, each once, in the order typed
/// (`billing, VIP billing` → `billing`, `vip`).
///
/// Errors: the first word that is not a tag; [`BadTag`] of the empty text when there is none.
pub fn parse_list(text: &str) -> Result<Vec<Tag>, BadTag> {
    let mut out: Vec<Tag> = Vec::new();
    for w in text
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|w| !w.is_empty())
    {
        let t = Tag::parse(w)?;
        if !out.contains(&t) {
            out.push(t);
        }
    }
    if out.is_empty() {
        return Err(BadTag(String::new()));
    }
    Ok(out)
}

/// A listing filter: tickets carrying every one of these tags (`list tag:billing tag:vip`).
/// Empty: no filter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TagFilter(pub Vec<Tag>);

impl TagFilter {
    /// The filter written as `tag:a tag:b …` words (`tag:` in any case; several tags in one
    /// word may be comma-separated, `tag:a,b`). Blank text is no filter.
    ///
    /// Errors: [`BadTag`] for a word without `tag:` or whose tag is not one.
    pub fn parse(text: &str) -> Result<TagFilter, BadTag> {
        let mut tags: Vec<Tag> = Vec::new();
        for w in text.split_whitespace() {
            let rest = w
                .get(..4)
                .filter(|p| p.eq_ignore_ascii_case("tag:"))
                .and_then(|_| w.get(4..))
                .ok_or_else(|| BadTag(w.chars().take(60).collect()))?;
            for t in parse_list(rest)? {
                if !tags.contains(&t) {
                    tags.push(t);
                }
            }
        }
        Ok(TagFilter(tags))
    }

    /// Whether there is no condition.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether a ticket with `tags` passes: it carries every tag of the filter.
    pub fn matches<S: AsRef<str>>(&self, tags: &[S]) -> bool {
        self.0
            .iter()
            .all(|want| tags.iter().any(|t| t.as_ref() == want.as_str()))
    }

    /// The tags as stored text, for a query.
    pub fn as_strings(&self) -> Vec<String> {
        self.0.iter().map(|t| t.as_str().to_string()).collect()
    }
}

impl fmt::Display for TagFilter {
    /// `tag:a tag:b`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let words: Vec<String> = self.0.iter().map(|t| format!("tag:{t}")).collect();
        f.write_str(&words.join(" "))
    }
}

/// Which tags may be set: a fixed list, or any tag.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Vocabulary {
    /// The allowed tags; empty means any tag.
    pub allowed: Vec<Tag>,
}

impl Vocabulary {
    /// Whether `tag` may be set.
    pub fn allows(&self, tag: &Tag) -> bool {
        self.allowed.is_empty() || self.allowed.contains(tag)
    }

    /// The tags of `tags` that may not be set, in order.
    pub fn refused<'t>(&self, tags: &'t [Tag]) -> Vec<&'t Tag> {
        tags.iter().filter(|t| !self.allows(t)).collect()
    }
}

/// What [`plan_add`] decided for one `tag` command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddPlan {
    /// Tags to add (not yet on the ticket), in the order typed.
    pub add: Vec<Tag>,
    /// Tags typed that the ticket already carries.
    pub already: Vec<Tag>,
}

/// Why tags cannot be added.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddRefusal {
    /// Tags outside the configured list (`[tags] allowed`), with the list.
    NotAllowed {
        /// The refused tags.
        refused: Vec<Tag>,
        /// The allowed tags.
        allowed: Vec<Tag>,
    },
    /// The ticket would carry more than `limit` tags.
    TooMany {
        /// `[tags] max_per_ticket`.
        limit: usize,
        /// How many it carries now.
        has: usize,
    },
}

/// Decides a `tag` command: `wanted` on a ticket that carries `current`, under `vocabulary`
/// and at most `limit` tags per ticket. Nothing is added when anything is refused.
///
/// Errors: [`AddRefusal`].
pub fn plan_add(
    current: &[Tag],
    wanted: &[Tag],
    vocabulary: &Vocabulary,
    limit: usize,
) -> Result<AddPlan, AddRefusal> {
    let refused: Vec<Tag> = vocabulary.refused(wanted).into_iter().cloned().collect();
    if !refused.is_empty() {
        return Err(AddRefusal::NotAllowed {
            refused,
            allowed: vocabulary.allowed.clone(),
        });
    }
    let (already, add): (Vec<Tag>, Vec<Tag>) =
        wanted.iter().cloned().partition(|t| current.contains(t));
    if current.len() + add.len() > limit {
        return Err(AddRefusal::TooMany {
            limit,
            has: current.len(),
        });
    }
    Ok(AddPlan { add, already })
}

/// Most bytes of a body (or subject) a rule's pattern is matched against (the start; the
/// rest is not looked at). 64 KiB holds any real request's words.
pub const BODY_MATCH_MAX: usize = 64 * 1024;

/// Most bytes a compiled rule pattern may take (`regex::RegexBuilder::size_limit`); a
/// pattern that would be larger is refused when the settings load.
pub const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// Compiles a rule pattern with the bounds of this module.
///
/// Errors: the `regex` crate's error text (syntax, or over [`REGEX_SIZE_LIMIT`]).
pub fn compile(pattern: &str) -> Result<regex::Regex, String> {
    regex::RegexBuilder::new(pattern)
        .size_limit(REGEX_SIZE_LIMIT)
        .dfa_size_limit(REGEX_SIZE_LIMIT)
        .nest_limit(64)
        .build()
        .map_err(|e| e.to_string())
}

/// The sender condition of a rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sender {
    /// This address exactly (case-insensitive).
    Address(String),
    /// Any address at this domain or one of its subdomains (case-insensitive).
    Domain(String),
}

impl Sender {
    /// Whether `from` (an address) is this sender.
    pub fn matches(&self, from: &str) -> bool {
        let from = from.trim().to_ascii_lowercase();
        match self {
            Sender::Address(a) => from == *a,
            Sender::Domain(d) => from.rsplit_once('@').is_some_and(|(_, dom)| {
                dom == d
                    || dom
                        .strip_suffix(d.as_str())
                        .is_some_and(|head| head.ends_with('.'))
            }),
        }
    }
}

/// One intake rule: when every condition it names matches a new ticket's first email, the
/// ticket gets `tags` (and `priority`, `department` when set).
#[derive(Debug, Clone)]
pub struct Rule {
    /// Its name, as audited (`rule:<name>`).
    pub name: String,
    /// Only email from this mailbox (its configured name).
    pub mailbox: Option<String>,
    /// Only email from these senders (any of them).
    pub senders: Vec<Sender>,
    /// Only when the subject (its first [`BODY_MATCH_MAX`] bytes) matches.
    pub subject: Option<regex::Regex>,
    /// Only when the body (its first [`BODY_MATCH_MAX`] bytes) matches.
    pub body: Option<regex::Regex>,
    /// Tags to add.
    pub tags: Vec<Tag>,
    /// Priority to set.
    pub priority: Option<Priority>,
    /// Department to move the ticket to.
    pub department: Option<String>,
}

/// What [`Rules::evaluate`] looks at: the email that opens a ticket.
#[derive(Debug, Clone, Copy)]
pub struct Incoming<'a> {
    /// The mailbox's configured name.
    pub mailbox: &'a str,
    /// The From address (as written: anyone can write any From).
    pub from: &'a str,
    /// Our server's DMARC verdict on `from` when the desk trusts its Authentication-Results
    /// (`intake.trust_authentication_results` set); `None` when it does not. With a verdict,
    /// sender conditions ([`Sender`]) hold only on [`Dmarc::Pass`]: a forged
    /// `From: ceo@bigcorp.example` gets no vip tag, priority or routing. Without one they
    /// match the From as written and can be spoofed (README, config/default.toml).
    pub dmarc: Option<Dmarc>,
    /// The subject (decoded).
    pub subject: &'a str,
    /// The plain-text body.
    pub body: &'a str,
}

/// `text` cut to at most [`BODY_MATCH_MAX`] bytes, on a character boundary.
fn body_head(body: &str) -> &str {
    if body.len() <= BODY_MATCH_MAX {
        return body;
    }
    let mut end = BODY_MATCH_MAX;
    while !body.is_char_boundary(end) {
        end -= 1;
    }
    &body[..end]
}

impl Rule {
    /// Whether every condition of the rule holds for `m` (a rule with no condition matches
    /// nothing; the settings refuse one). A sender condition holds only for an authenticated
    /// sender when `m.dmarc` is known (see [`Incoming::dmarc`]).
    pub fn matches(&self, m: &Incoming<'_>) -> bool {
        let any = self.mailbox.is_some()
            || !self.senders.is_empty()
            || self.subject.is_some()
            || self.body.is_some();
        any && self.mailbox.as_deref().is_none_or(|mb| mb == m.mailbox)
            && (self.senders.is_empty()
                || (m.dmarc.is_none_or(|d| d == Dmarc::Pass)
                    && self.senders.iter().any(|s| s.matches(m.from))))
            && self
                .subject
                .as_ref()
                .is_none_or(|r| r.is_match(body_head(m.subject)))
            && self
                .body
                .as_ref()
                .is_none_or(|r| r.is_match(body_head(m.body)))
    }
}

/// The intake rules, in the order configured.
#[derive(Debug, Clone, Default)]
pub struct Rules {
    /// The rules.
    pub rules: Vec<Rule>,
    /// At most this many tags on a ticket (`[tags] max_per_ticket`); rule tags past it are
    /// not added.
    pub limit: usize,
}

/// What the rules decided for one new ticket.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Decision {
    /// Per matching rule, in order: its name and the tags it adds that no earlier rule added
    /// (a rule whose tags were all added already still appears, for the audit).
    pub tagged: Vec<(String, Vec<Tag>)>,
    /// The priority of the first matching rule that sets one, and that rule's name.
    pub priority: Option<(Priority, String)>,
    /// The department of the first matching rule that sets one, and that rule's name.
    pub department: Option<(String, String)>,
}

impl Decision {
    /// Whether no rule matched.
    pub fn is_empty(&self) -> bool {
        self.tagged.is_empty() && self.priority.is_none() && self.department.is_none()
    }

    /// Every tag added, in order.
    pub fn tags(&self) -> Vec<&Tag> {
        self.tagged.iter().flat_map(|(_, t)| t).collect()
    }
}

impl Rules {
    /// Every rule that matches `m`, applied in order: tags are the union (each once, at most
    /// `limit` in all), priority and department come from the first matching rule that sets
    /// them.
    pub fn evaluate(&self, m: &Incoming<'_>) -> Decision {
        let mut d = Decision::default();
        let mut count = 0usize;
        for r in self.rules.iter().filter(|r| r.matches(m)) {
            let mut added = Vec::new();
            for t in &r.tags {
                if count < self.limit && !d.tags().contains(&t) && !added.contains(t) {
                    added.push(t.clone());
                    count += 1;
                }
            }
            d.tagged.push((r.name.clone(), added));
            if d.priority.is_none() {
                d.priority = r.priority.map(|p| (p, r.name.clone()));
            }
            if d.department.is_none() {
                d.department = r.department.clone().map(|x| (x, r.name.clone()));
            }
        }
        d
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tag(s: &str) -> Tag {
        Tag::parse(s).unwrap()
    }

    #[test]
    fn tags_are_normalised_and_checked() {
        let table: &[(&str, Option<&str>)] = &[
            ("billing", Some("billing")),
            ("Billing", Some("billing")),
            (" URGENT-customer ", Some("urgent-customer")),
            ("#vip", Some("vip")),
            ("a", Some("a")),
            ("0day", Some("0day")),
            ("snake_case", Some("snake_case")),
            (&"x".repeat(40), Some(&"x".repeat(40))),
            (&"x".repeat(41), None),
            ("", None),
            ("-lead", None),
            ("_lead", None),
            ("two words", None),
            ("naïve", None),
            ("tag:billing", None),
            ("bill!ng", None),
            ("ＡＢＣ", None),
        ];
        for (text, want) in table {
            assert_eq!(
                Tag::parse(text).ok().map(|t| t.0),
                want.map(str::to_string),
                "{text:?}"
            );
        }
    }

    #[test]
    fn lists_split_on_blanks_and_commas_each_tag_once() {
        assert_eq!(
            parse_list("billing, VIP billing\nrefund").unwrap(),
            vec![tag("billing"), tag("vip"), tag("refund")]
        );
        assert!(parse_list(" , ").is_err());
        assert_eq!(parse_list("ok b@d").unwrap_err(), BadTag("b@d".into()));
    }

    #[test]
    fn filters_are_tag_words_and_need_every_tag() {
        let f = TagFilter::parse("tag:billing TAG:Vip tag:refund,billing").unwrap();
        assert_eq!(f.0, vec![tag("billing"), tag("vip"), tag("refund")]);
        assert_eq!(f.to_string(), "tag:billing tag:vip tag:refund");
        assert!(TagFilter::parse("").unwrap().is_empty());
        assert!(TagFilter::parse("billing").is_err());
        assert!(TagFilter::parse("tag:").is_err());
        assert!(TagFilter::parse("tag:b@d").is_err());
        assert!(TagFilter::parse("tagé:x").is_err());
        let f = TagFilter::parse("tag:billing tag:vip").unwrap();
        assert!(f.matches(&["vip", "billing", "other"]));
        assert!(!f.matches(&["billing"]));
        assert!(TagFilter::default().matches::<&str>(&[]));
    }

    #[test]
    fn adding_checks_the_list_the_limit_and_what_is_there() {
        let free = Vocabulary::default();
        let fixed = Vocabulary {
            allowed: vec![tag("billing"), tag("vip")],
        };
        // (current, wanted, vocabulary, limit) → result
        let p = plan_add(&[tag("vip")], &[tag("billing"), tag("vip")], &fixed, 20).unwrap();
        assert_eq!(p.add, vec![tag("billing")]);
        assert_eq!(p.already, vec![tag("vip")]);
        assert_eq!(
            plan_add(&[], &[tag("billing"), tag("refund")], &fixed, 20),
            Err(AddRefusal::NotAllowed {
                refused: vec![tag("refund")],
                allowed: fixed.allowed.clone()
            })
        );
        assert!(plan_add(&[], &[tag("anything")], &free, 20).is_ok());
        assert_eq!(
            plan_add(&[tag("a"), tag("b")], &[tag("c")], &free, 2),
            Err(AddRefusal::TooMany { limit: 2, has: 2 })
        );
        // Re-adding what is there never hits the limit.
        assert_eq!(
            plan_add(&[tag("a"), tag("b")], &[tag("a")], &free, 2)
                .unwrap()
                .add,
            Vec::<Tag>::new()
        );
    }

    fn rule(name: &str) -> Rule {
        Rule {
            name: name.into(),
            mailbox: None,
            senders: vec![],
            subject: None,
            body: None,
            tags: vec![tag(name)],
            priority: None,
            department: None,
        }
    }

    fn mail<'a>(mailbox: &'a str, from: &'a str, subject: &'a str, body: &'a str) -> Incoming<'a> {
        Incoming {
            mailbox,
            from,
            dmarc: None,
            subject,
            body,
        }
    }

    #[test]
    fn sender_conditions_need_dmarc_pass_when_the_desk_trusts_authentication_results() {
        let vip = Rule {
            senders: vec![
                Sender::Domain("bigcorp.example".into()),
                Sender::Address("ceo@small.example".into()),
            ],
            priority: Some(Priority::Urgent),
            department: Some("sales".into()),
            ..rule("vip")
        };
        let vip_refunds = Rule {
            senders: vec![Sender::Domain("bigcorp.example".into())],
            subject: Some(compile("(?i)refund").unwrap()),
            ..rule("viprefund")
        };
        let refunds = Rule {
            subject: Some(compile("(?i)refund").unwrap()),
            ..rule("refund")
        };
        let rules = Rules {
            rules: vec![vip, vip_refunds, refunds],
            limit: 20,
        };
        use Dmarc::*;
        // (from, verdict, subject) → tags; `None`: the desk does not read Authentication-Results.
        let table: &[(&str, Option<Dmarc>, &str, &[&str])] = &[
            ("ceo@bigcorp.example", None, "hi", &["vip"]),
            ("ceo@bigcorp.example", Some(Pass), "hi", &["vip"]),
            ("ceo@bigcorp.example", Some(Fail), "hi", &[]),
            ("ceo@bigcorp.example", Some(NotProven), "hi", &[]),
            ("CEO@small.example", Some(Pass), "hi", &["vip"]),
            ("ceo@small.example", Some(NotProven), "hi", &[]),
            ("a@eu.bigcorp.example", Some(Fail), "Refund", &["refund"]),
            (
                "a@eu.bigcorp.example",
                Some(Pass),
                "Refund",
                &["vip", "viprefund", "refund"],
            ),
            ("a@else.example", Some(Pass), "Refund", &["refund"]),
            ("a@else.example", Some(Fail), "Refund", &["refund"]),
            ("a@else.example", Some(Pass), "hi", &[]),
        ];
        for (from, dmarc, subject, want) in table {
            let d = rules.evaluate(&Incoming {
                dmarc: *dmarc,
                ..mail("support", from, subject, "")
            });
            let got: Vec<&str> = d.tags().iter().map(|t| t.as_str()).collect();
            assert_eq!(&got, want, "{from} {dmarc:?} {subject}");
            let vip = want.contains(&"vip");
            assert_eq!(d.priority.is_some(), vip, "{from} {dmarc:?}");
            assert_eq!(d.department.is_some(), vip, "{from} {dmarc:?}");
        }
    }

    #[test]
    fn each_condition_matches_as_a_table() {
        let billing = Rule {
            subject: Some(compile("(?i)invoice|refund").unwrap()),
            priority: Some(Priority::High),
            ..rule("billing")
        };
        let vip = Rule {
            senders: vec![
                Sender::Domain("bigcorp.example".into()),
                Sender::Address("ceo@small.example".into()),
            ],
            ..rule("vip")
        };
        let sales = Rule {
            mailbox: Some("sales".into()),
            ..rule("sales")
        };
        let outage = Rule {
            body: Some(compile(r"(?i)\bdown\b|\boutage\b").unwrap()),
            department: Some("ops".into()),
            priority: Some(Priority::Urgent),
            ..rule("outage")
        };
        let both = Rule {
            mailbox: Some("support".into()),
            subject: Some(compile("(?i)password").unwrap()),
            ..rule("login")
        };
        let empty = Rule { ..rule("never") };
        let rules = Rules {
            rules: vec![billing, vip, sales, outage, both, empty],
            limit: 20,
        };
        // (mailbox, from, subject, body) → tags, priority, department
        type Want<'a> = (&'a [&'a str], Option<Priority>, Option<&'a str>);
        type Mail<'a> = (&'a str, &'a str, &'a str, &'a str);
        let table: &[(Mail, Want)] = &[
            (("support", "a@x.example", "Hello", "hi"), (&[], None, None)),
            (
                ("support", "a@x.example", "Your INVOICE 42", "hi"),
                (&["billing"], Some(Priority::High), None),
            ),
            (
                ("support", "Jo@BigCorp.Example", "hi", ""),
                (&["vip"], None, None),
            ),
            (
                ("support", "jo@eu.bigcorp.example", "hi", ""),
                (&["vip"], None, None),
            ),
            (
                ("support", "jo@notbigcorp.example", "hi", ""),
                (&[], None, None),
            ),
            (
                ("support", "CEO@small.example", "refund please", ""),
                (&["billing", "vip"], Some(Priority::High), None),
            ),
            (("sales", "a@x.example", "hi", ""), (&["sales"], None, None)),
            (
                ("support", "a@x.example", "help", "the site is DOWN again"),
                (&["outage"], Some(Priority::Urgent), Some("ops")),
            ),
            (
                ("support", "a@x.example", "refund", "we are down"),
                (&["billing", "outage"], Some(Priority::High), Some("ops")),
            ),
            (
                ("support", "a@x.example", "Password reset", ""),
                (&["login"], None, None),
            ),
            (
                ("sales", "a@x.example", "Password reset", ""),
                (&["sales"], None, None),
            ),
        ];
        for ((mb, from, subject, body), (tags, prio, dept)) in table {
            let d = rules.evaluate(&mail(mb, from, subject, body));
            let got: Vec<&str> = d.tags().iter().map(|t| t.as_str()).collect();
            assert_eq!(&got, tags, "{mb} {from} {subject:?} {body:?}");
            assert_eq!(d.priority.map(|p| p.0), *prio, "{subject:?}");
            assert_eq!(d.department.as_ref().map(|x| x.0.as_str()), *dept);
        }
    }

    #[test]
    fn rule_tags_are_unioned_and_capped() {
        let a = Rule {
            subject: Some(compile("x").unwrap()),
            tags: vec![tag("one"), tag("two")],
            ..rule("a")
        };
        let b = Rule {
            subject: Some(compile("x").unwrap()),
            tags: vec![tag("two"), tag("three")],
            ..rule("b")
        };
        let rules = Rules {
            rules: vec![a, b],
            limit: 2,
        };
        let d = rules.evaluate(&mail("m", "s@x", "x", ""));
        assert_eq!(
            d.tagged,
            vec![
                ("a".to_string(), vec![tag("one"), tag("two")]),
                ("b".to_string(), vec![])
            ]
        );
    }

    #[test]
    fn bodies_are_matched_only_up_to_the_cap_and_hostile_input_stays_linear() {
        let r = Rules {
            rules: vec![Rule {
                body: Some(compile("needle").unwrap()),
                ..rule("late")
            }],
            limit: 20,
        };
        let mut body = "é".repeat(BODY_MATCH_MAX); // 2 bytes each: the cut falls mid-char
        body.push_str("needle");
        assert!(r.evaluate(&mail("m", "s@x", "", &body)).is_empty());
        assert!(!r.evaluate(&mail("m", "s@x", "", "a needle")).is_empty());
        // The classic catastrophic-backtracking pattern is linear with the regex crate.
        let evil = compile("(a+)+$").unwrap();
        let text = format!("{}!", "a".repeat(100_000));
        assert!(!evil.is_match(&text));
        // A pattern that compiles too large is refused.
        assert!(compile(r"\w{1000}\w{1000}\w{1000}").is_err());
        assert!(compile("(unclosed").is_err());
    }
}
