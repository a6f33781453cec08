//! `[tags]`: which tags agents may set, how many a ticket may carry, and the intake rules
//! that tag (and may prioritise or route) a new ticket. Parsed and checked when the settings
//! load: a bad tag, a pattern that does not compile (or compiles too large), a rule with no
//! condition or nothing to do, or an unknown key is refused naming the setting, e.g.
//! `tags.rules[0] (billing).subject: …`. Departments are checked against `[[departments]]`
//! by `Settings::validate` ([`TagSettings::check_departments`]).
//!
//! ```toml
//! [tags]
//! allowed = ["billing", "refund", "vip"]   # empty or absent: any tag
//! max_per_ticket = 20
//!
//! [[tags.rules]]
//! name = "billing"
//! subject = "(?i)invoice|refund"      # regex (RE2-like syntax, linear time)
//! tags = ["billing"]
//! priority = "high"                   # optional
//!
//! [[tags.rules]]
//! name = "vip"
//! from = ["ceo@bigcorp.example"]      # addresses (any of them)
//! domain = ["bigcorp.example"]        # or domains, subdomains included
//! mailbox = "support"                 # optional: only this mailbox
//! body = "(?i)contract"               # optional: the first 64 KiB of the body
//! tags = ["vip"]
//! department = "sales"                # optional
//! ```

use serde::{Deserialize, Serialize};

use crate::domain::tags::{compile, Rule, Rules, Sender, Tag, Vocabulary};
use crate::domain::Priority;

/// The tag settings, parsed: [`TagSettings::vocabulary`] and [`TagSettings::rules`] give
/// what the domain needs.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(try_from = "TagsToml", into = "TagsToml")]
pub struct TagSettings {
    /// The allowed tags as written (lower-cased); empty: any tag.
    pub allowed: Vec<String>,
    /// Most tags on one ticket (default 20).
    pub max_per_ticket: usize,
    /// The rules as written.
    rules_toml: Vec<RuleToml>,
    /// The rules, compiled.
    parsed: Rules,
    /// The allowed tags, parsed.
    vocabulary: Vocabulary,
}

/// The `[tags]` table as written.
#[derive(Debug, Clone, Deserialize, Serialize)]
struct TagsToml {
    #[serde(default)]
    allowed: Vec<String>,
    #[serde(default = "default_max")]
    max_per_ticket: usize,
    #[serde(default)]
    rules: Vec<RuleToml>,
    /// Keys that are none of the above: refused naming them (serde's own refusal would not
    /// say where they are).
    #[serde(flatten, skip_serializing_if = "Unknown::is_empty")]
    unknown: Unknown,
}

/// Keys a table does not know, collected to be refused with their path.
type Unknown = std::collections::BTreeMap<String, serde_json::Value>;

/// Refuses the keys of `unknown` at `at`, naming the keys that are known.
fn refuse_unknown(at: &str, unknown: &Unknown, known: &[&str]) -> Result<(), String> {
    match unknown.keys().next() {
        Some(k) => Err(format!(
            "{at}: unknown key `{k}` (known: {})",
            known.join(", ")
        )),
        None => Ok(()),
    }
}

/// One `[[tags.rules]]` entry as written.
#[derive(Debug, Clone, Deserialize, Serialize)]
struct RuleToml {
    name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    mailbox: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    from: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    domain: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    subject: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    body: Option<String>,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    priority: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    department: Option<String>,
    #[serde(flatten, skip_serializing_if = "Unknown::is_empty")]
    unknown: Unknown,
}

fn default_max() -> usize {
    20
}

/// Most tags a ticket may carry, whatever the settings say.
pub const MAX_PER_TICKET_CEILING: usize = 100;

impl Default for TagSettings {
    /// Any tag, at most 20 per ticket, no rules: the same as no `[tags]` section.
    fn default() -> Self {
        TagSettings {
            allowed: Vec::new(),
            max_per_ticket: default_max(),
            rules_toml: Vec::new(),
            parsed: Rules {
                rules: Vec::new(),
                limit: default_max(),
            },
            vocabulary: Vocabulary::default(),
        }
    }
}

impl From<TagSettings> for TagsToml {
    fn from(s: TagSettings) -> TagsToml {
        TagsToml {
            allowed: s.allowed,
            max_per_ticket: s.max_per_ticket,
            rules: s.rules_toml,
            unknown: Unknown::new(),
        }
    }
}

impl TryFrom<TagsToml> for TagSettings {
    type Error = String;

    fn try_from(t: TagsToml) -> Result<TagSettings, String> {
        refuse_unknown("tags", &t.unknown, &["allowed", "max_per_ticket", "rules"])?;
        if !(1..=MAX_PER_TICKET_CEILING).contains(&t.max_per_ticket) {
            return Err(format!(
                "tags.max_per_ticket = {} must be between 1 and {MAX_PER_TICKET_CEILING}",
                t.max_per_ticket
            ));
        }
        let mut allowed: Vec<Tag> = Vec::new();
        for (i, a) in t.allowed.iter().enumerate() {
            let tag = Tag::parse(a).map_err(|e| format!("tags.allowed[{i}]: {e}"))?;
            if !allowed.contains(&tag) {
                allowed.push(tag);
            }
        }
        let vocabulary = Vocabulary { allowed };
        let mut rules = Vec::with_capacity(t.rules.len());
        let mut names = std::collections::HashSet::new();
        for (i, r) in t.rules.iter().enumerate() {
            let at = format!("tags.rules[{i}] ({})", r.name);
            refuse_unknown(
                &at,
                &r.unknown,
                &[
                    "name",
                    "mailbox",
                    "from",
                    "domain",
                    "subject",
                    "body",
                    "tags",
                    "priority",
                    "department",
                ],
            )?;
            let name = r.name.trim();
            if name.is_empty()
                || name.len() > 64
                || !name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                return Err(format!(
                    "{at}.name: `{}` must be 1-64 letters, digits, `-` or `_`",
                    r.name
                ));
            }
            if !names.insert(name.to_string()) {
                return Err(format!("{at}.name: `{name}` is used by two rules"));
            }
            let mut tags = Vec::new();
            for (k, x) in r.tags.iter().enumerate() {
                let tag = Tag::parse(x).map_err(|e| format!("{at}.tags[{k}]: {e}"))?;
                if !vocabulary.allows(&tag) {
                    return Err(format!(
                        "{at}.tags[{k}]: `{tag}` is not in tags.allowed ({})",
                        t.allowed.join(", ")
                    ));
                }
                if !tags.contains(&tag) {
                    tags.push(tag);
                }
            }
            let priority = match &r.priority {
                Some(p) => Some(
                    p.parse::<Priority>()
                        .map_err(|e| format!("{at}.priority: {e}"))?,
                ),
                None => None,
            };
            if tags.is_empty() && priority.is_none() && r.department.is_none() {
                return Err(format!(
                    "{at}: sets nothing; give tags, priority or department"
                ));
            }
            let mut senders = Vec::new();
            for (k, a) in r.from.iter().enumerate() {
                let a = a.trim().to_ascii_lowercase();
                if a.matches('@').count() != 1 || a.starts_with('@') || a.ends_with('@') {
                    return Err(format!(
                        "{at}.from[{k}]: `{a}` is not an address (use domain = [..] for a domain)"
                    ));
                }
                senders.push(Sender::Address(a));
            }
            for (k, d) in r.domain.iter().enumerate() {
                let d = d.trim().trim_start_matches('@').to_ascii_lowercase();
                if d.is_empty() || d.contains('@') || d.contains(char::is_whitespace) {
                    return Err(format!("{at}.domain[{k}]: `{d}` is not a domain"));
                }
                senders.push(Sender::Domain(d));
            }
            let pattern = |key: &str, p: &Option<String>| -> Result<Option<regex::Regex>, String> {
                p.as_deref()
                    .map(|p| compile(p).map_err(|e| format!("{at}.{key}: {e}")))
                    .transpose()
            };
            let subject = pattern("subject", &r.subject)?;
            let body = pattern("body", &r.body)?;
            if r.mailbox.is_none() && senders.is_empty() && subject.is_none() && body.is_none() {
                return Err(format!(
                    "{at}: has no condition; give mailbox, from, domain, subject or body"
                ));
            }
            rules.push(Rule {
                name: name.to_string(),
                mailbox: r.mailbox.clone(),
                senders,
                subject,
                body,
                tags,
                priority,
                department: r.department.clone(),
            });
        }
        Ok(TagSettings {
            allowed: vocabulary.allowed.iter().map(|t| t.to_string()).collect(),
            max_per_ticket: t.max_per_ticket,
            rules_toml: t.rules,
            parsed: Rules {
                rules,
                limit: t.max_per_ticket,
            },
            vocabulary,
        })
    }
}

impl TagSettings {
    /// The settings of a `[tags]` table's body written as TOML (`allowed = [..]`,
    /// `[[rules]]` …), checked as when the settings load (departments and mailboxes aside:
    /// [`TagSettings::check_names`]).
    ///
    /// Errors: the refusal, naming the key.
    pub fn from_toml(text: &str) -> Result<TagSettings, String> {
        config::Config::builder()
            .add_source(config::File::from_str(text, config::FileFormat::Toml))
            .build()
            .and_then(|c| c.try_deserialize::<TagSettings>())
            .map_err(|e| e.to_string())
    }

    /// The intake rules, compiled, in the order written.
    pub fn rules(&self) -> &Rules {
        &self.parsed
    }

    /// Which tags agents and rules may set.
    pub fn vocabulary(&self) -> &Vocabulary {
        &self.vocabulary
    }

    /// Refuses a rule naming a department not in `departments` or a mailbox not in
    /// `mailboxes` (a typo would silently never match), with the setting's path.
    ///
    /// Errors: the message naming the rule and the key.
    pub fn check_names(&self, departments: &[&str], mailboxes: &[&str]) -> Result<(), String> {
        for (i, r) in self.parsed.rules.iter().enumerate() {
            if let Some(d) = &r.department {
                if !departments.contains(&d.as_str()) {
                    return Err(format!(
                        "tags.rules[{i}] ({}).department: `{d}` is not a department ({})",
                        r.name,
                        departments.join(", ")
                    ));
                }
            }
            if let Some(m) = &r.mailbox {
                if !mailboxes.contains(&m.as_str()) {
                    return Err(format!(
                        "tags.rules[{i}] ({}).mailbox: `{m}` is not a configured mailbox ({})",
                        r.name,
                        mailboxes.join(", ")
                    ));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Settings;

    const BASE: &str = r#"
        [database]
        url = "postgres://postgres@127.0.0.1:5432/claimdesk"
        [desk]
        message_id_domain = "claimdesk.local"
        [[departments]]
        name = "support"
        [[departments]]
        name = "billing"
        [[mailboxes]]
        name = "support"
        address = "support@claimdesk.local"
        host = "127.0.0.1"
        port = 10143
        username = "support"
        [smtp]
        host = "127.0.0.1"
        port = 2525
    "#;

    /// Loads `BASE` plus `tags` as the settings load (deserialise, then validate), as text
    /// of the error when refused.
    fn load(tags: &str) -> Result<Settings, String> {
        let s: Settings = config::Config::builder()
            .add_source(config::File::from_str(
                &format!("{BASE}\n{tags}"),
                config::FileFormat::Toml,
            ))
            .build()
            .and_then(|c| c.try_deserialize())
            .map_err(|e| e.to_string())?;
        s.validate().map_err(|e| e.to_string())?;
        Ok(s)
    }

    const GOOD: &str = r#"
        [tags]
        allowed = ["billing", "VIP", "refund", "ops"]
        max_per_ticket = 5
        [[tags.rules]]
        name = "billing"
        subject = "(?i)invoice|refund"
        tags = ["billing"]
        priority = "high"
        [[tags.rules]]
        name = "vip"
        from = ["CEO@BigCorp.example"]
        domain = ["@partner.example"]
        mailbox = "support"
        tags = ["vip"]
        department = "billing"
    "#;

    #[test]
    fn a_good_section_loads_normalised_and_shows_in_config_check() {
        let s = load(GOOD).expect("loads");
        assert_eq!(s.tags.allowed, ["billing", "vip", "refund", "ops"]);
        assert_eq!(s.tags.max_per_ticket, 5);
        let r = &s.tags.rules().rules;
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].priority, Some(Priority::High));
        assert_eq!(
            r[1].senders,
            vec![
                Sender::Address("ceo@bigcorp.example".into()),
                Sender::Domain("partner.example".into())
            ]
        );
        let shown = crate::config::report::effective(&s);
        assert!(shown.contains("# ── Tags and intake rules ──"), "{shown}");
        assert!(shown.contains("[[tags.rules]]"), "{shown}");
        assert!(
            shown.contains(r#"subject = "(?i)invoice|refund""#),
            "{shown}"
        );
        // No section: any tag, 20 a ticket, no rules.
        let none = load("").expect("loads");
        assert!(none.tags.allowed.is_empty() && none.tags.rules().rules.is_empty());
        assert_eq!(none.tags.max_per_ticket, 20);
    }

    #[test]
    fn the_readme_example_loads_and_means_what_it_says() {
        let readme = include_str!("../../README.md");
        let section = readme
            .split("## Tags\n")
            .nth(1)
            .expect("README has a Tags section");
        let example = section
            .split("```toml\n")
            .nth(1)
            .and_then(|s| s.split("```").next())
            .expect("a TOML example");
        let s = load(example).expect("the README example loads");
        let d = s.tags.rules().evaluate(&crate::domain::tags::Incoming {
            mailbox: "support",
            from: "jo@eu.bigcorp.example",
            dmarc: None,
            subject: "Refund",
            body: "an Outage here",
        });
        let tags: Vec<&str> = d.tags().iter().map(|t| t.as_str()).collect();
        assert_eq!(tags, ["billing", "vip", "outage"]);
        assert_eq!(d.priority.map(|p| p.0), Some(Priority::High));
        assert_eq!(d.department.map(|x| x.0).as_deref(), Some("billing"));
    }

    #[test]
    fn bad_settings_are_refused_naming_the_key() {
        let rule = |body: &str| format!("[tags]\n[[tags.rules]]\nname = \"r\"\n{body}\n");
        let cases: Vec<(String, &str)> = vec![
            (
                rule("subject = \"(unclosed\"\ntags = [\"a\"]"),
                "tags.rules[0] (r).subject: regex parse error",
            ),
            (
                rule("body = \"\\\\w{1000}\\\\w{1000}\\\\w{1000}\"\ntags = [\"a\"]"),
                "tags.rules[0] (r).body: Compiled regex exceeds size limit",
            ),
            (
                rule("subject = \"x\"\ntags = [\"two words\"]"),
                "tags.rules[0] (r).tags[0]: `two words` is not a tag",
            ),
            (
                "[tags]\nallowed = [\"billing\"]\n[[tags.rules]]\nname = \"r\"\nsubject = \"x\"\ntags = [\"refund\"]".into(),
                "tags.rules[0] (r).tags[0]: `refund` is not in tags.allowed (billing)",
            ),
            (
                rule("subject = \"x\"\ntags = [\"a\"]\ndepartment = \"shiping\""),
                "tags.rules[0] (r).department: `shiping` is not a department (support, billing)",
            ),
            (
                rule("mailbox = \"sales\"\ntags = [\"a\"]"),
                "tags.rules[0] (r).mailbox: `sales` is not a configured mailbox (support)",
            ),
            (
                rule("subjct = \"x\"\ntags = [\"a\"]"),
                "tags.rules[0] (r): unknown key `subjct` (known: name, mailbox,",
            ),
            (rule("tags = [\"a\"]"), "tags.rules[0] (r): has no condition"),
            (rule("subject = \"x\""), "tags.rules[0] (r): sets nothing"),
            (
                rule("subject = \"x\"\ntags = [\"a\"]\npriority = \"critical\""),
                "tags.rules[0] (r).priority: `critical` is not a priority",
            ),
            (
                rule("from = [\"bigcorp.example\"]\ntags = [\"a\"]"),
                "tags.rules[0] (r).from[0]: `bigcorp.example` is not an address",
            ),
            (
                "[tags]\nallowed = [\"ok\", \"-no\"]".into(),
                "tags.allowed[1]: `-no` is not a tag",
            ),
            ("[tags]\nmax_per_ticket = 0".into(), "tags.max_per_ticket = 0"),
            (
                "[tags]\nalowed = [\"x\"]".into(),
                "tags: unknown key `alowed`",
            ),
            (
                format!("{}[[tags.rules]]\nname = \"r\"\nsubject = \"y\"\ntags = [\"b\"]", rule("subject = \"x\"\ntags = [\"a\"]")),
                "tags.rules[1] (r).name: `r` is used by two rules",
            ),
        ];
        for (text, says) in &cases {
            let e = load(text).map(|_| ()).expect_err(text);
            assert!(e.contains(says), "{text}\n→ {e}");
        }
    }
}
