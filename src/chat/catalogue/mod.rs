//! The command catalogue: every command claimdesk understands, written once — its name and
//! aliases, its arguments with their types, who may run it, a one-line help and an example,
//! and whether it may be slow. Everything else is derived from [`CATALOGUE`]:
//!
//! - the parser ([`parse`], behind `commands::parse`) for every surface, `/desk <sub>` included;
//! - `help` ([`help`]), every command grouped by who may run it, worded in `desk::messages`;
//! - Discord's registration (`chat::discord::command_definitions`) and its typed options,
//!   turned back into a command line here ([`line_from_options`]);
//! - which commands open a form instead of running when their text is missing ([`form_request`]).
//!
//! Who may *actually* do something is decided by `domain::permissions` when the use case
//! runs; [`Spec::role`] is the lowest role for which the command is meant, for help and docs.

use crate::domain::{Priority, Role, Status};

use super::commands::{Command, Usage};
use crate::desk::messages;

/// The type of one argument, which says how it is typed, parsed and registered on Discord.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArgKind {
    /// A ticket number, one word (`TICK-2026-0001`); checked by the use case. Discord
    /// autocompletes it.
    Ticket,
    /// An agent of the desk, one word, `@` optional (`@ben`). Discord sends a user, turned
    /// into that agent's handle.
    Agent,
    /// An agent's handle typed as text, one word, `@` optional (`@dee`), for managing agents:
    /// the agent may not exist yet or have no chat account, so Discord sends a string.
    Handle,
    /// Free text: the rest of the line, newlines kept. Always the last argument.
    Text,
    /// A ticket status (`in progress`, `in_progress`, `waiting` …): the rest of the line.
    Status,
    /// A priority: `low`, `medium`, `high` or `urgent`.
    Priority,
    /// A day, `YYYY-MM-DD` (midnight UTC).
    Date,
    /// An agent's role: `member`, `admin` or `owner`.
    Role,
    /// Department names separated by commas, one word (`billing,shipping`).
    Departments,
    /// A report range: `today`, `7d`, `28d` (any `Nd` up to 366) or
    /// `YYYY-MM-DD..YYYY-MM-DD` (`desk::stats::Range`).
    Range,
    /// One department name, one word; checked by the use case.
    Department,
    /// A reply template's name, one word, `/` optional (`refund`, `/refund`); checked by
    /// the use case (`domain::templates`).
    Template,
    /// One or more tags, the rest of the line, separated by blanks or commas
    /// (`billing vip`); lower-cased (`domain::tags::parse_list`).
    Tags,
    /// A listing filter, the rest of the line: `tag:<tag>` words, every one required
    /// (`tag:billing tag:vip`; `domain::tags::TagFilter`). On Discord the option takes the
    /// tags with or without `tag:`.
    TagFilter,
}

impl ArgKind {
    /// Whether a value of this kind is one word when typed (everything but free text and a
    /// department list). A typed option value (Discord) with blanks inside is refused for
    /// these: joined into the command line, its words would shift into the next argument.
    pub fn is_one_word(self) -> bool {
        !matches!(
            self,
            ArgKind::Text | ArgKind::Departments | ArgKind::Tags | ArgKind::TagFilter
        )
    }

    /// Whether this argument takes the rest of the line.
    pub fn is_rest(self) -> bool {
        matches!(
            self,
            ArgKind::Text | ArgKind::Status | ArgKind::Tags | ArgKind::TagFilter
        )
    }

    /// The values to offer as fixed choices (Discord `choices`), if the type has a short list.
    pub fn choices(self) -> &'static [&'static str] {
        match self {
            ArgKind::Status => &["open", "in_progress", "waiting", "resolved", "closed"],
            ArgKind::Priority => &["low", "medium", "high", "urgent"],
            ArgKind::Role => &["member", "admin", "owner"],
            _ => &[],
        }
    }

    /// A valid example value, for generated examples and tests (`ticket` stands for a real
    /// ticket number, `agent` for a handle).
    pub fn example(self, ticket: &str, agent: &str) -> String {
        match self {
            ArgKind::Ticket => ticket.to_string(),
            ArgKind::Agent | ArgKind::Handle => format!("@{agent}"),
            ArgKind::Text => "Thanks, this is fixed now.".into(),
            ArgKind::Status => "waiting".into(),
            ArgKind::Priority => "high".into(),
            ArgKind::Date => "2099-12-24".into(),
            ArgKind::Role => "member".into(),
            ArgKind::Departments => "billing,shipping".into(),
            ArgKind::Range => "28d".into(),
            ArgKind::Department => "support".into(),
            ArgKind::Template => "refund".into(),
            ArgKind::Tags => "billing".into(),
            ArgKind::TagFilter => "tag:billing".into(),
        }
    }
}

/// One argument of a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Arg {
    /// Its name, as shown in usage (`<ticket>`) and as Discord's option name.
    pub name: &'static str,
    /// Its type.
    pub kind: ArgKind,
    /// Whether it must be given. Optional arguments come last and may be typed in any order;
    /// when a command has several, an agent is told apart by its leading `@`.
    pub required: bool,
    /// A word that may be typed before it and is skipped (`merge A into B`).
    pub keyword: Option<&'static str>,
    /// What it is, one line (Discord's option description).
    pub help: &'static str,
}

mod specs;
pub use specs::CATALOGUE;

/// A form a command opens on chat surfaces when its text is not typed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    /// The reply form, naming the customer it goes to.
    Reply,
    /// The internal-note form.
    Note,
}

/// The values a command line was parsed into, one per argument of its [`Spec`] (`None` for
/// an optional argument not given).
#[derive(Debug, Clone, Default)]
pub struct Values(Vec<Option<Value>>);

/// One parsed argument value.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Value {
    Word(String),
    Status(Status),
    Priority(Priority),
    Date(chrono::DateTime<chrono::Utc>),
    Role(Role),
    Departments(Vec<String>),
    Range(crate::desk::stats::Range),
    Tags(Vec<crate::domain::tags::Tag>),
    Filter(crate::domain::tags::TagFilter),
}

impl Values {
    fn get(&self, i: usize) -> Option<&Value> {
        self.0.get(i).and_then(Option::as_ref)
    }

    /// The word (ticket, handle or text) at `i`; `None` when not given.
    fn opt_word(&self, i: usize) -> Option<String> {
        match self.get(i) {
            Some(Value::Word(w)) => Some(w.clone()),
            _ => None,
        }
    }

    /// The word at `i`, empty when not given (required arguments are always given).
    fn word(&self, i: usize) -> String {
        self.opt_word(i).unwrap_or_default()
    }

    fn status(&self, i: usize) -> Status {
        match self.get(i) {
            Some(Value::Status(s)) => *s,
            _ => Status::Open,
        }
    }

    fn priority(&self, i: usize) -> Priority {
        match self.get(i) {
            Some(Value::Priority(p)) => *p,
            _ => Priority::Medium,
        }
    }

    fn date(&self, i: usize) -> Option<chrono::DateTime<chrono::Utc>> {
        match self.get(i) {
            Some(Value::Date(d)) => Some(*d),
            _ => None,
        }
    }

    fn role(&self, i: usize) -> Role {
        match self.get(i) {
            Some(Value::Role(r)) => *r,
            _ => Role::Member,
        }
    }

    fn range(&self, i: usize) -> crate::desk::stats::Range {
        match self.get(i) {
            Some(Value::Range(r)) => *r,
            _ => crate::desk::stats::Range::default(),
        }
    }

    fn tags(&self, i: usize) -> Vec<crate::domain::tags::Tag> {
        match self.get(i) {
            Some(Value::Tags(t)) => t.clone(),
            _ => Vec::new(),
        }
    }

    fn filter(&self, i: usize) -> crate::domain::tags::TagFilter {
        match self.get(i) {
            Some(Value::Filter(f)) => f.clone(),
            _ => crate::domain::tags::TagFilter::default(),
        }
    }

    fn departments(&self, i: usize) -> Vec<String> {
        match self.get(i) {
            Some(Value::Departments(d)) => d.clone(),
            _ => Vec::new(),
        }
    }
}

/// One command of the catalogue.
#[derive(Debug, Clone, Copy)]
pub struct Spec {
    /// The name typed (`claim`), also the Discord command's name.
    pub name: &'static str,
    /// The subcommand, for commands with several forms (`agent add`).
    pub sub: Option<&'static str>,
    /// Other names that run it (`queue` for `unassigned`).
    pub aliases: &'static [&'static str],
    /// Its arguments, in the order typed.
    pub args: &'static [Arg],
    /// The lowest role it is meant for (the use case checks the actual permission).
    pub role: Role,
    /// What it does, one line.
    pub help: &'static str,
    /// A typical use, as typed on the console.
    pub example: &'static str,
    /// Whether its work grows with the desk (Discord defers its answer).
    pub slow: bool,
    /// The form it opens when only its ticket is given (reply, note).
    pub form: Option<Form>,
    build: fn(&Values) -> Command,
}

impl Spec {
    /// `claim <ticket>`, `away [@agent] [date]`, `agent add <agent> [role] [departments]`.
    pub fn usage(&self) -> String {
        let mut out = self.full_name();
        for a in self.args {
            let kw = a.keyword.map(|k| format!("[{k}] ")).unwrap_or_default();
            let shown = match a.kind {
                ArgKind::Agent | ArgKind::Handle => format!("@{}", a.name),
                ArgKind::Status | ArgKind::Priority | ArgKind::Role => a.kind.choices().join("|"),
                ArgKind::Date => "YYYY-MM-DD".into(),
                ArgKind::Departments => "dept,dept".into(),
                ArgKind::Range => "today|7d|28d|YYYY-MM-DD..YYYY-MM-DD".into(),
                ArgKind::Tags => "tag …".into(),
                ArgKind::TagFilter => "tag:… …".into(),
                _ => a.name.to_string(),
            };
            if a.required {
                out.push_str(&format!(" {kw}<{shown}>"));
            } else {
                out.push_str(&format!(" {kw}[{shown}]"));
            }
        }
        out
    }

    /// `agent add`, or just the name.
    pub fn full_name(&self) -> String {
        match self.sub {
            Some(s) => format!("{} {s}", self.name),
            None => self.name.to_string(),
        }
    }

    fn usage_error(&self) -> Usage {
        Usage(messages::usage(&self.usage(), self.example, self.help))
    }

    /// Parses the argument text typed after the name (and subcommand).
    ///
    /// Errors: [`Usage`] naming this command's syntax when an argument is missing, of the
    /// wrong form, or there is more than the command takes.
    pub fn parse_args(&self, line: &str) -> Result<Command, Usage> {
        let mut values = Values(vec![None; self.args.len()]);
        let mut rest = line.trim();
        let mut i = 0;
        // Required arguments, in order.
        while let Some(a) = self.args.get(i).filter(|a| a.required) {
            if a.kind.is_rest() {
                let v = parse_value(a.kind, rest.trim()).ok_or_else(|| self.usage_error())?;
                values.0[i] = Some(v);
                rest = "";
            } else {
                let (mut w, mut after) = next_word(rest).ok_or_else(|| self.usage_error())?;
                if let Some(kw) = a.keyword {
                    if w.eq_ignore_ascii_case(kw) {
                        (w, after) = next_word(after).ok_or_else(|| self.usage_error())?;
                    }
                }
                values.0[i] = Some(parse_value(a.kind, w).ok_or_else(|| self.usage_error())?);
                rest = after;
            }
            i += 1;
        }
        // Optional arguments, in any order, each word to the first one that takes it.
        let optional = &self.args[i..];
        let sole = self.args.len() == 1;
        while let Some((w, after)) = next_word(rest) {
            let slot = optional.iter().enumerate().find_map(|(k, a)| {
                if values.0[i + k].is_some() {
                    return None;
                }
                match a.kind {
                    // Among several optional arguments, a handle is told apart by its `@`.
                    ArgKind::Agent | ArgKind::Handle if !(sole || w.starts_with('@')) => None,
                    ArgKind::Agent | ArgKind::Handle => {
                        parse_value(a.kind, w).map(|v| (k, v, false))
                    }
                    _ if w.starts_with('@') => None,
                    kind if kind.is_rest() => parse_value(kind, rest).map(|v| (k, v, true)),
                    kind => parse_value(kind, w).map(|v| (k, v, false)),
                }
            });
            match slot {
                Some((k, v, took_rest)) => {
                    values.0[i + k] = Some(v);
                    rest = if took_rest { "" } else { after };
                }
                None => return Err(self.usage_error()),
            }
        }
        if !rest.trim().is_empty() {
            return Err(self.usage_error());
        }
        Ok((self.build)(&values))
    }
}

/// The first word of `s` and what follows it (untrimmed), or `None` when `s` is blank.
fn next_word(s: &str) -> Option<(&str, &str)> {
    let s = s.trim_start();
    if s.is_empty() {
        return None;
    }
    Some(s.split_once(char::is_whitespace).unwrap_or((s, "")))
}

fn parse_value(kind: ArgKind, text: &str) -> Option<Value> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    match kind {
        ArgKind::Ticket => Some(Value::Word(text.to_string())),
        ArgKind::Agent | ArgKind::Handle => Some(text.trim_start_matches('@').to_string())
            .filter(|h| !h.is_empty())
            .map(Value::Word),
        ArgKind::Text => Some(Value::Word(text.to_string())),
        ArgKind::Status => text
            .replace([' ', '-'], "_")
            .to_ascii_lowercase()
            .parse::<Status>()
            .ok()
            .map(Value::Status),
        ArgKind::Priority => text.parse::<Priority>().ok().map(Value::Priority),
        ArgKind::Date => chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
            .ok()
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .map(|t| Value::Date(t.and_utc())),
        ArgKind::Role => text.parse::<Role>().ok().map(Value::Role),
        ArgKind::Range => crate::desk::stats::Range::parse(text).map(Value::Range),
        ArgKind::Department => Some(Value::Word(text.to_string())),
        ArgKind::Template => Some(text.trim_start_matches('/').to_string())
            .filter(|n| !n.is_empty())
            .map(Value::Word),
        ArgKind::Tags => crate::domain::tags::parse_list(text).ok().map(Value::Tags),
        ArgKind::TagFilter => crate::domain::tags::TagFilter::parse(text)
            .ok()
            .filter(|f| !f.is_empty())
            .map(Value::Filter),
        ArgKind::Departments => Some(Value::Departments(
            text.split(',')
                .map(|d| d.trim().to_string())
                .filter(|d| !d.is_empty())
                .collect(),
        )),
    }
}

/// `reply <ticket> <text>`, or [`Command::ReplyTemplate`] when the text is only `/<name>`
/// (`domain::templates::requested`): a template is shown to edit, never sent as typed.
fn reply_command(ticket: String, text: String) -> Command {
    match crate::domain::templates::requested(&text) {
        Some(name) => Command::ReplyTemplate(ticket, name),
        None => Command::Reply(ticket, text),
    }
}

/// The catalogue's command names, each once (`agent` once for its subcommands), in order.
pub fn names() -> Vec<&'static str> {
    let mut out: Vec<&'static str> = Vec::new();
    for s in CATALOGUE {
        if !out.contains(&s.name) {
            out.push(s.name);
        }
    }
    out
}

/// The specs named `name` (several for a command with subcommands); aliases count.
pub fn named(name: &str) -> Vec<&'static Spec> {
    let by_name: Vec<&'static Spec> = CATALOGUE.iter().filter(|s| s.name == name).collect();
    if !by_name.is_empty() {
        return by_name;
    }
    CATALOGUE
        .iter()
        .filter(|s| s.aliases.contains(&name))
        .collect()
}

/// The spec a typed line means, and the argument text after its name (and subcommand).
/// `desk` takes its subcommand from `args`; a leading `/` and case are ignored.
///
/// Errors: [`Usage`] for an unknown command (with the short help), or a command with
/// subcommands given an unknown one (with its forms).
pub fn find<'a>(name: &str, args: &'a str) -> Result<(&'static Spec, &'a str), Usage> {
    let name = name.trim().trim_start_matches('/').to_ascii_lowercase();
    let args = args.trim();
    if name == "desk" {
        let (sub, rest) = next_word(args).unwrap_or(("", ""));
        return find(sub, rest);
    }
    let specs = named(&name);
    match specs.as_slice() {
        [] => Err(Usage(messages::unknown_command(&name))),
        [one] if one.sub.is_none() => Ok((one, args)),
        several => {
            let (sub, rest) = next_word(args).unwrap_or(("", ""));
            several
                .iter()
                .find(|s| s.sub.is_some_and(|x| x.eq_ignore_ascii_case(sub)))
                .map(|s| (*s, rest))
                .ok_or_else(|| {
                    let forms: Vec<String> = several.iter().map(|s| s.usage()).collect();
                    Usage(messages::usage_of_forms(&forms))
                })
        }
    }
}

/// Parses `name` (with or without a leading `/`; `desk` takes the subcommand from `args`)
/// and its argument text into a [`Command`].
///
/// Errors: [`Usage`] saying how to type it.
pub fn parse(name: &str, args: &str) -> Result<Command, Usage> {
    let (spec, rest) = find(name, args)?;
    spec.parse_args(rest)
}

/// When the line names a command with a form (reply, note) and gives only its ticket: that
/// form and the ticket as typed. Chat surfaces open the form instead of running the command.
pub fn form_request(name: &str, args: &str) -> Option<(Form, String)> {
    let (spec, rest) = find(name, args).ok()?;
    let form = spec.form?;
    let (ticket, after) = next_word(rest)?;
    after.trim().is_empty().then(|| (form, ticket.to_string()))
}

/// The argument text for `spec` built from named values (Discord's typed options): each
/// argument's value in catalogue order, an agent as `@handle`, so that [`Spec::parse_args`]
/// reads it back. `value(arg)` gives an argument's value as text, `None` when not given.
pub fn line_from_options(spec: &Spec, value: impl Fn(&Arg) -> Option<String>) -> String {
    let mut words = Vec::new();
    for a in spec.args {
        let Some(v) = value(a)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
        else {
            continue;
        };
        words.push(match a.kind {
            ArgKind::Agent | ArgKind::Handle => format!("@{}", v.trim_start_matches('@')),
            // Discord's option takes the tags with or without `tag:`.
            ArgKind::TagFilter => v
                .split(|c: char| c.is_whitespace() || c == ',')
                .filter(|w| !w.is_empty())
                .map(|w| {
                    if w.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("tag:")) {
                        w.to_string()
                    } else {
                        format!("tag:{w}")
                    }
                })
                .collect::<Vec<_>>()
                .join(" "),
            _ => v,
        });
    }
    words.join(" ")
}

/// The catalogue name of the command `cmd` came from (`status` for `resolve`, which parses
/// into a status change).
pub fn spec_of(cmd: &Command) -> &'static Spec {
    let name = match cmd {
        Command::Claim(_) => "claim",
        Command::Unclaim(_) => "unclaim",
        Command::Reply(..) => "reply",
        Command::Note(..) => "note",
        Command::Assign(..) => "assign",
        Command::Status(..) => "status",
        Command::Priority(..) => "priority",
        Command::Away(..) => "away",
        Command::Back(_) => "back",
        Command::Notify(_) => "notify",
        Command::ReleaseAll(_) => "release-all",
        Command::ReassignAll(..) => "reassign-all",
        Command::History(_) => "history",
        Command::Merge(..) => "merge",
        Command::AgentAdd(..) => "add",
        Command::AgentRemove(_) => "remove",
        Command::AgentDepartments(..) => "departments",
        Command::Mine(_) => "mine",
        Command::Unassigned(_) => "unassigned",
        Command::Tag(..) => "tag",
        Command::Untag(..) => "untag",
        Command::Workload => "workload",
        Command::Stats(_) => "stats",
        Command::Ticket(_) => "ticket",
        Command::List(_) => "list",
        Command::Help(_) => "help",
        Command::ReplyTemplate(..) => "reply",
        Command::TemplateList => "template list",
        Command::TemplateAdd(..) => "template add",
        Command::TemplateEdit(..) => "template edit",
        Command::TemplateRemove(_) => "template remove",
    };
    CATALOGUE
        .iter()
        .find(|s| s.sub.unwrap_or(s.name) == name || s.full_name() == name)
        .unwrap_or(&CATALOGUE[CATALOGUE.len() - 1])
}

/// Whether `cmd`'s work grows with the desk, so that Discord defers its answer.
pub fn is_slow(cmd: &Command) -> bool {
    spec_of(cmd).slow
}

/// The help text: every command, grouped by who may run it, each with its usage and one
/// line; `prefix` is put before each command as typed on the surface (`/desk ` on Slack,
/// `/` on Discord, nothing on the console).
pub fn help(prefix: &str) -> String {
    let groups: Vec<(Role, Vec<String>)> = Role::ALL
        .into_iter()
        .map(|role| {
            let lines = CATALOGUE
                .iter()
                .filter(|s| s.role == role)
                .map(|s| format!("{prefix}{}", s.usage()))
                .collect();
            (role, lines)
        })
        .collect();
    messages::help(&groups, prefix)
}

/// The `help <command>` text: each form of the command named by the first word of `what`
/// (a leading `/` ignored; a second word picks one subcommand, e.g. `agent add`) with its
/// usage, what it does, who may run it, its arguments and an example, each written with
/// `prefix`. An unknown name answers with the short help's pointer instead.
pub fn help_for(prefix: &str, what: &str) -> String {
    let mut words = what.split_whitespace();
    let name = words
        .next()
        .unwrap_or_default()
        .trim_start_matches('/')
        .to_ascii_lowercase();
    let sub = words.next().map(str::to_ascii_lowercase);
    let specs = named(&name);
    let picked: Vec<&Spec> = match &sub {
        Some(sub) if specs.iter().any(|s| s.sub == Some(sub.as_str())) => specs
            .into_iter()
            .filter(|s| s.sub == Some(sub.as_str()))
            .collect(),
        _ => specs,
    };
    if picked.is_empty() {
        return messages::help_unknown(what, prefix);
    }
    let forms: Vec<messages::HelpForm> = picked
        .iter()
        .map(|s| messages::HelpForm {
            usage: format!("{prefix}{}", s.usage()),
            help: s.help,
            role: s.role,
            args: s.args.iter().map(|a| (a.name, a.help)).collect(),
            example: format!("{prefix}{}", s.example),
        })
        .collect();
    messages::help_one(&forms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spec_is_well_formed() {
        for s in CATALOGUE {
            // Required arguments first, a rest-of-line argument only last.
            let first_opt = s
                .args
                .iter()
                .position(|a| !a.required)
                .unwrap_or(s.args.len());
            assert!(
                s.args[first_opt..].iter().all(|a| !a.required),
                "{}",
                s.usage()
            );
            for (i, a) in s.args.iter().enumerate() {
                if a.kind.is_rest() {
                    assert_eq!(i, s.args.len() - 1, "{}", s.usage());
                }
            }
            // Its own example parses.
            let (name, args) = s.example.split_once(' ').unwrap_or((s.example, ""));
            let cmd = parse(name, args).unwrap_or_else(|u| panic!("{}: {}", s.example, u.0));
            assert_eq!(spec_of(&cmd).full_name(), spec_of_name(s), "{}", s.example);
        }
    }

    /// The spec a command of `s` maps back to (resolve/close/reopen are status changes).
    fn spec_of_name(s: &Spec) -> String {
        match s.name {
            "resolve" | "close" | "reopen" => "status".into(),
            _ => s.full_name(),
        }
    }

    #[test]
    fn arguments_built_from_their_types_parse_for_every_command() {
        for s in CATALOGUE {
            let line = line_from_options(s, |a| Some(a.kind.example("TICK-2026-0001", "ben")));
            let typed = format!("{} {line}", s.sub.unwrap_or(""));
            assert!(parse(s.name, &typed).is_ok(), "{} {typed}", s.name);
            assert!(parse("/desk", &format!("{} {typed}", s.name)).is_ok());
            for alias in s.aliases.iter().filter(|a| !a.is_empty()) {
                assert!(parse(alias, &typed).is_ok(), "{alias}");
            }
        }
    }

    #[test]
    fn forms_open_only_for_a_lone_ticket() {
        assert_eq!(
            form_request("/desk", "reply TICK-2026-0001"),
            Some((Form::Reply, "TICK-2026-0001".into()))
        );
        assert_eq!(
            form_request("/note", " TICK-2026-0001 "),
            Some((Form::Note, "TICK-2026-0001".into()))
        );
        assert_eq!(form_request("/reply", "TICK-2026-0001 Thanks"), None);
        assert_eq!(form_request("/desk", "reply"), None);
        assert_eq!(form_request("/claim", "TICK-2026-0001"), None);
    }

    #[test]
    fn help_names_every_command_grouped_by_role() {
        let h = help("");
        for s in CATALOGUE {
            assert!(h.contains(&s.usage()), "{} missing from help", s.usage());
            // `help <command>` explains every form, with its example.
            let one = help_for("", &s.full_name());
            assert!(one.contains(s.help), "{}: {one}", s.full_name());
            assert!(one.contains(s.example), "{}: {one}", s.full_name());
        }
        assert!(help_for("/", "agent").contains("/agent add"));
        assert!(!help_for("/", "agent add").contains("/agent remove"));
        assert!(help_for("", "/Reply").contains("reply <ticket>"));
        assert!(help_for("", "frobnicate").contains("No command `frobnicate`"));
        let admins = h.find("Admins").expect("admin group");
        let owners = h.find("Owners").expect("owner group");
        assert!(h.find("assign <ticket>").expect("assign") > admins);
        assert!(h.find("agent add").expect("agent add") > owners);
        assert!(h.find("claim <ticket>").expect("claim") < admins);
        assert!(help("/desk ").contains("/desk claim <ticket>"));
        // Discord shows at most 2,000 characters of an answer: help fits whole.
        let discord = help("/");
        assert!(
            discord.chars().count() <= crate::chat::discord::CONTENT_MAX,
            "{} characters",
            discord.chars().count()
        );
    }

    #[test]
    fn extra_words_and_unknown_subcommands_explain_usage() {
        assert!(parse("release-all", "@ben @cy")
            .unwrap_err()
            .0
            .contains("Usage: release-all"));
        assert!(parse("agent", "fire @ben")
            .unwrap_err()
            .0
            .contains("agent add"));
        assert_eq!(
            parse("agent", "add @dee billing admin").unwrap(),
            Command::AgentAdd("dee".into(), Role::Admin, vec!["billing".into()])
        );
        assert_eq!(
            parse("agent", "departments @dee a,b").unwrap(),
            Command::AgentDepartments("dee".into(), vec!["a".into(), "b".into()])
        );
        assert_eq!(
            parse("back", "ben").unwrap(),
            Command::Back(Some("ben".into()))
        );
        assert_eq!(
            parse("queue", "").unwrap(),
            Command::Unassigned(Default::default())
        );
        assert_eq!(
            parse("tickets", "").unwrap(),
            Command::List(Default::default())
        );
        assert_eq!(
            parse("unclaim-all", "@ben").unwrap(),
            Command::ReleaseAll("ben".into())
        );
        assert_eq!(
            parse("show", "TICK-2026-0001").unwrap(),
            Command::Ticket("TICK-2026-0001".into())
        );
    }
}
