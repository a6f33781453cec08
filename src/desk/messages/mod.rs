//! Every text people read in chat: card lines, thread entries, answers and errors.
//! Logic decides; this module words it. A feature with many words of its own keeps them in
//! a submodule here (one file per feature), so the words stay in one place beside the use
//! cases without one file growing without end.
//!
//! Text we did not write (subjects, addresses, bodies, notes) is escaped for the platform it
//! goes to with [`Mention::escape`] (see `crate::desk::escape`) where it is placed among our
//! own words, so it can neither address people nor disguise a link.

pub mod notify;
pub mod tags;
pub mod templates;
pub mod web;

use crate::desk::{CardView, ClaimOutcome, DeskError, ReplyOutcome, TicketSummary};
use crate::domain::{Role, Status};
use crate::store::messages::Message;

/// How a platform writes a mention of an agent, and so how text we did not write is escaped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mention {
    /// `<@U123>`; Slack mrkdwn.
    Slack,
    /// `<@123>`; Discord markdown.
    Discord,
    /// `@handle`; a terminal.
    Plain,
}

impl Mention {
    /// The style of answers given on `surface` (console and CLI print to a terminal).
    pub fn of_surface(surface: crate::desk::Surface) -> Mention {
        match surface {
            crate::desk::Surface::Slack => Mention::Slack,
            crate::desk::Surface::Discord => Mention::Discord,
            crate::desk::Surface::Console
            | crate::desk::Surface::Cli
            | crate::desk::Surface::Web => Mention::Plain,
        }
    }

    /// `text` (not ours: from an email or typed by someone) made inert for this platform:
    /// [`super::escape::slack`], [`super::escape::discord`] or [`super::escape::terminal`].
    pub fn escape(self, text: &str) -> String {
        match self {
            Mention::Slack => super::escape::slack(text),
            Mention::Discord => super::escape::discord(text),
            Mention::Plain => super::escape::terminal(text),
        }
    }
}

/// The holder as the platform should show them.
pub fn holder(card: &CardView, style: Mention) -> Option<String> {
    let (handle, slack, discord) = card.assignee.as_ref()?;
    Some(match (style, slack, discord) {
        (Mention::Slack, Some(id), _) => format!("<@{id}>"),
        (Mention::Discord, _, Some(id)) => format!("<@{id}>"),
        _ => format!("@{handle}"),
    })
}

/// The status line of a card: `Open · unclaimed`, `Claimed by @ana`, `In progress · @ana`.
pub fn status_line(card: &CardView, style: Mention) -> String {
    let line = status_words(card, style);
    if card.bounced {
        format!("{line} · ⚠ reply bounced")
    } else {
        line
    }
}

fn status_words(card: &CardView, style: Mention) -> String {
    let who = holder(card, style);
    match (card.status, who) {
        (Status::Merged, _) => format!(
            "Merged into {}",
            card.merged_into.as_deref().unwrap_or("another ticket")
        ),
        (Status::Open, None) => "Open · unclaimed".to_string(),
        (Status::Claimed, Some(_)) => assignee_line(card, style),
        (s, Some(w)) => format!("{} · {w}", s.label()),
        (s, None) => format!("{} · unclaimed", s.label()),
    }
}

/// The holder and how long they have held it: `Claimed by @ana · 3 min`, or `Unclaimed`.
/// The time is `card.as_of − card.claimed_at`, humanised by [`age`].
pub fn assignee_line(card: &CardView, style: Mention) -> String {
    match holder(card, style) {
        None => "Unclaimed".to_string(),
        Some(who) => match card.claimed_at {
            Some(at) => format!(
                "Claimed by {who} · {}",
                age((card.as_of - at).num_seconds() as f64)
            ),
            None => format!("Claimed by {who}"),
        },
    }
}

/// The card's labelled facts, in display order: the running SLA clock (when there is one,
/// [`sla_line`]), status, assignee (with time since the claim), priority, when the ticket was
/// opened and when the customer last wrote (both from when the email reached our server),
/// the message count, and the tags (when it has any). Each platform lays them out its own way (Discord embed fields,
/// Slack section fields, console lines).
pub fn card_facts(card: &CardView, style: Mention) -> Vec<(&'static str, String)> {
    let status = match card.status {
        Status::Merged => format!(
            "Merged into {}",
            card.merged_into.as_deref().unwrap_or("another ticket")
        ),
        s => s.label().to_string(),
    };
    let last = card
        .last_customer_at
        .map(|at| format!("{} ago", age((card.as_of - at).num_seconds() as f64)))
        .unwrap_or_else(|| "—".to_string());
    let opened = format!(
        "{} ago",
        age((card.as_of - card.opened_at).num_seconds() as f64)
    );
    let mut facts = Vec::with_capacity(7);
    if let Some(due) = &card.sla {
        facts.push(("SLA", sla_line(due, card.as_of)));
    }
    facts.extend([
        ("Status", status),
        ("Assignee", assignee_line(card, style)),
        ("Priority", card.priority.to_string()),
        ("Opened", opened),
        ("Customer last wrote", last),
        ("Messages", card.message_count.to_string()),
    ]);
    if !card.tags.is_empty() {
        facts.push((tags::CARD_FACT, tags::list(&card.tags, style)));
    }
    facts
}

/// The card's headline: `TICK-2026-0001 · Subject`, the subject escaped for `style`.
///
/// Priority is shown only when it is not the default (`[urgent] TICK-…`).
pub fn headline(card: &CardView, style: Mention) -> String {
    let subject = style.escape(&card.subject);
    if card.priority == crate::domain::Priority::Medium {
        format!("{} · {subject}", card.number)
    } else {
        format!("[{}] {} · {subject}", card.priority, card.number)
    }
}

/// The card's preview of the first message, escaped for `style`; `(no text)` when empty.
pub fn preview(card: &CardView, style: Mention) -> String {
    if card.preview.is_empty() {
        "(no text)".to_string()
    } else {
        style.escape(&card.preview)
    }
}

/// The "from" line of a card, the requester escaped for `style`.
/// Ends in `· linked to TICK-…` when the ticket names another it was not allowed to join.
pub fn from_line(card: &CardView, style: Mention) -> String {
    let linked = card
        .linked_to
        .as_deref()
        .map(|n| format!(" · linked to {n}"))
        .unwrap_or_default();
    format!(
        "From {} · {} message(s){}{linked}",
        style.escape(&card.requester),
        card.message_count,
        attachments_mention(card.attachment_count)
    )
}

/// ` · 📎 2 attachments` (empty for none), appended to card and thread lines.
pub fn attachments_mention(n: usize) -> String {
    match n {
        0 => String::new(),
        1 => " · 📎 1 attachment".into(),
        n => format!(" · 📎 {n} attachments"),
    }
}

/// Most attachments a card lists by name; the rest are counted.
pub const CARD_ATTACHMENTS_LISTED: usize = 10;

/// The card's attachment list, one line per file: `📎 report.pdf · 12.3 KiB`, the name
/// (from the email, so hostile) escaped for `style`; at most [`CARD_ATTACHMENTS_LISTED`]
/// lines then `… and N more`. Empty when the ticket has none.
pub fn attachment_lines(card: &CardView, style: Mention) -> Vec<String> {
    let mut lines: Vec<String> = card
        .attachments
        .iter()
        .take(CARD_ATTACHMENTS_LISTED)
        .map(|a| {
            let name = a
                .name
                .as_deref()
                .map(|n| style.escape(n))
                .unwrap_or_else(|| "(no name)".into());
            format!("📎 {name} · {}", size(a.size))
        })
        .collect();
    let rest = card
        .attachments
        .len()
        .saturating_sub(CARD_ATTACHMENTS_LISTED);
    if rest > 0 {
        lines.push(format!("… and {rest} more"));
    }
    lines
}

/// A size in bytes for people: `512 B`, `12.3 KiB`, `8.0 MiB`, `1.2 GiB`.
pub fn size(bytes: i64) -> String {
    let b = bytes.max(0) as f64;
    match bytes.max(0) {
        n if n < 1024 => format!("{n} B"),
        n if n < 1024 * 1024 => format!("{:.1} KiB", b / 1024.0),
        n if n < 1024 * 1024 * 1024 => format!("{:.1} MiB", b / (1024.0 * 1024.0)),
        _ => format!("{:.1} GiB", b / (1024.0 * 1024.0 * 1024.0)),
    }
}

/// A typed command option (Discord) that must be one word but holds blanks.
pub fn one_word_option(name: &str) -> String {
    format!("`{name}` takes one word, without spaces.")
}

/// One entry in a card's thread: a customer follow-up, an agent's reply, or claimdesk's own
/// acknowledgement (an outbound message with no authoring agent), with when it was received
/// ([`timestamp`] of `received_at`: when the email reached our server, or when we wrote
/// ours); addresses and body escaped for `style`.
pub fn thread_entry(number: &str, m: &Message, style: Mention) -> String {
    let body = style.escape(&crate::desk::query::preview(&m.body_text, 1500));
    let at = timestamp(m.received_at);
    if m.outbound && m.author_agent_id.is_none() {
        // Written by claimdesk itself (the RFC 3834 acknowledgement), not by an agent.
        format!(
            "🤖 Acknowledgement sent ({}) on {number} · {at}:\n{body}",
            style.escape(&m.to_addrs.join(", "))
        )
    } else if m.outbound {
        format!(
            "✉️ Reply sent to customer ({}) on {number} · {at}:\n{body}",
            style.escape(&m.to_addrs.join(", "))
        )
    } else {
        format!(
            "📨 Customer {} wrote on {number}{} · {at}:\n{body}",
            style.escape(&m.from_addr),
            attachments_mention(usize::try_from(m.attachment_count).unwrap_or(0))
        )
    }
}

/// An instant as chat shows it: `2026-12-01 09:30 UTC` (minutes, UTC).
pub fn timestamp(at: chrono::DateTime<chrono::Utc>) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// An internal note in a card thread, its text (an agent's, or an automatic note quoting an
/// email) escaped for `style`.
pub fn note_entry(number: &str, n: &crate::store::notes::Note, style: Mention) -> String {
    let who = n
        .author
        .as_deref()
        .map(|h| format!("@{}", style.escape(h)))
        .unwrap_or_else(|| "claimdesk".into());
    let flag = if n.flagged { "🚩 " } else { "" };
    format!(
        "{flag}🔒 Internal note by {who} on {number} (not sent to the customer):\n{}",
        style.escape(&n.body)
    )
}

/// A notice as a platform gets it: the text, and the platform user IDs it mentions (for
/// Discord's `allowed_mentions.users`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    /// Text in the platform's markup.
    pub text: String,
    /// IDs of the users mentioned on purpose, each once.
    pub mentions: Vec<String>,
}

/// `text` made safe inside a notice template (see [`notice`]): `{` is doubled, so nothing in
/// it is taken for a `{mention:HANDLE}`.
pub fn literal(text: &str) -> String {
    text.replace('{', "{{")
}

/// A stored notice template rendered for `style`: `{mention:HANDLE}` becomes the platform's
/// mention of that agent (`@handle` when they have no ID there or are unknown), `{{` a `{`,
/// and everything else is escaped as text we did not write, so only the mentions we placed
/// can address anyone.
pub fn notice(template: &str, agents: &[crate::store::agents::Agent], style: Mention) -> Notice {
    let mut text = String::new();
    let mut literal_run = String::new();
    let mut mentions: Vec<String> = Vec::new();
    let mut rest = template;
    while let Some(i) = rest.find('{') {
        literal_run.push_str(&rest[..i]);
        let tail = &rest[i..];
        if let Some(after) = tail.strip_prefix("{{") {
            literal_run.push('{');
            rest = after;
            continue;
        }
        let placeholder = tail
            .strip_prefix("{mention:")
            .and_then(|t| t.split_once('}'));
        let Some((handle, after)) = placeholder else {
            literal_run.push('{');
            rest = &tail[1..];
            continue;
        };
        text.push_str(&style.escape(&literal_run));
        literal_run.clear();
        let agent = agents.iter().find(|a| a.handle == handle);
        let id = agent.and_then(|a| match style {
            Mention::Slack => a.slack_user_id.clone(),
            Mention::Discord => a.discord_user_id.clone(),
            Mention::Plain => None,
        });
        match id {
            Some(id) => {
                text.push_str(&format!("<@{id}>"));
                if !mentions.contains(&id) {
                    mentions.push(id);
                }
            }
            None => text.push_str(&style.escape(&format!("@{handle}"))),
        }
        rest = after;
    }
    literal_run.push_str(rest);
    text.push_str(&style.escape(&literal_run));
    Notice { text, mentions }
}

/// What a successful claim tells the claimer.
pub fn claimed(o: &ClaimOutcome) -> String {
    format!("You claimed {}.", o.number)
}

/// What a successful unclaim says.
pub fn unclaimed(o: &ClaimOutcome) -> String {
    match &o.previous_holder {
        Some(h) => format!("{} is unclaimed (was @{h}) and open again.", o.number),
        None => format!("{} is unclaimed and open again.", o.number),
    }
}

/// What a queued reply tells the replier; the recipient address escaped for `style`.
pub fn replied(o: &ReplyOutcome, style: Mention) -> String {
    let claim = if o.claimed {
        " You now hold the ticket."
    } else {
        ""
    };
    format!(
        "Reply to {} queued for {}.{claim}",
        o.number,
        style.escape(&o.to)
    )
}

/// A one-line summary for listings; subject and requester escaped for `style`.
pub fn summary_line(t: &TicketSummary, style: Mention) -> String {
    let who = t
        .assignee
        .as_deref()
        .map(|h| format!("@{h}"))
        .unwrap_or_else(|| "unclaimed".into());
    let linked = t
        .linked_to
        .as_deref()
        .map(|n| format!(" · linked to {n}"))
        .unwrap_or_default();
    format!(
        "{}  {:<12} {:<10} {}  ({}){linked}{}",
        t.number,
        t.status,
        who,
        style.escape(&t.subject),
        style.escape(&t.requester),
        tags::suffix(&t.tags, style)
    )
}

/// [`summary_line`] followed by the ticket's SLA clock at `now` ([`sla_line`]), if it has one.
pub fn summary_with_sla(
    t: &TicketSummary,
    style: Mention,
    now: chrono::DateTime<chrono::Utc>,
) -> String {
    match &t.sla {
        Some(due) => format!("{} · {}", summary_line(t, style), sla_line(due, now)),
        None => summary_line(t, style),
    }
}

/// An RFC 3339 time as chat shows it ([`timestamp`]); text that is no such time is shown as
/// it is.
fn shown_time(rfc3339: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(rfc3339)
        .map(|t| timestamp(t.to_utc()))
        .unwrap_or_else(|_| rfc3339.to_string())
}

/// `opened 2026-12-01 09:30 UTC`: when a ticket's first email reached our server
/// (`TicketSummary::opened_at`).
pub fn opened(opened_at: &str) -> String {
    format!("opened {}", shown_time(opened_at))
}

/// One message of `ticket`'s answer: `  📨 2026-12-01 09:30 UTC from ana@x.example`
/// (inbound, at when it reached our server) or `  ✉️ … to …` (ours, at when we wrote it);
/// addresses escaped for `style`.
pub fn message_line(m: &crate::desk::query::MessageView, style: Mention) -> String {
    let at = shown_time(&m.at);
    if m.direction == "outbound" {
        format!("\n  ✉️ {at} from {}", style.escape(&m.from))
    } else {
        format!("\n  📨 {at} from {}", style.escape(&m.from))
    }
}

/// A duration in seconds as people say it: `45 s`, `12 min`, `3 h 5 min`, `2 d 4 h`.
pub fn age(secs: f64) -> String {
    let s = secs.max(0.0) as u64;
    match s {
        0..=59 => format!("{s} s"),
        60..=3599 => format!("{} min", s / 60),
        3600..=86_399 => format!("{} h {} min", s / 3600, (s % 3600) / 60),
        _ => format!("{} d {} h", s / 86_400, (s % 86_400) / 3600),
    }
}

/// How people name an SLA metric, capitalised and not: (`First response`, `first
/// response`), (`Next response`, …), (`Resolution`, …).
fn metric_words(m: crate::domain::sla::Metric) -> (&'static str, &'static str) {
    use crate::domain::sla::Metric;
    match m {
        Metric::FirstResponse => ("First response", "first response"),
        Metric::NextResponse => ("Next response", "next response"),
        Metric::Resolution => ("Resolution", "resolution"),
    }
}

/// The name of an SLA metric (`sla_clocks.metric`) at the start of a line: `First response`,
/// `Next response`, `Resolution` (`SLA` for anything else).
pub fn metric_name(metric: &str) -> &'static str {
    crate::domain::sla::Metric::parse(metric).map_or("SLA", |m| metric_words(m).0)
}

/// An SLA metric inside a sentence: `first response`, `next response`, `resolution`.
pub fn sla_metric(m: crate::domain::sla::Metric) -> &'static str {
    metric_words(m).1
}

/// An SLA clock as a card or queue shows it at `now`: `First response due in 23 min`, or once
/// its due time has passed `⚠ Resolution breached 12 min ago` (times humanised by [`age`]).
pub fn sla_line(due: &crate::desk::query::SlaDue, now: chrono::DateTime<chrono::Utc>) -> String {
    let name = metric_name(&due.metric);
    let secs = (due.due_at - now).num_seconds();
    if secs > 0 {
        format!("{name} due in {}", age(secs as f64))
    } else {
        format!("⚠ {name} breached {} ago", age(-secs as f64))
    }
}

/// A queue (`mine`, `unassigned`) as lines at `now`: each ticket's age since it was opened
/// (its first email reached our server) and, when it has one, its SLA clock ([`sla_line`]);
/// subjects and requesters escaped for `style`. The title counts the whole queue and says
/// when only its head is shown (`store::workload::QUEUE_LINES`).
pub fn queue(
    title: &str,
    lines: &[crate::desk::workload::QueueLine],
    empty: &str,
    style: Mention,
    now: chrono::DateTime<chrono::Utc>,
) -> String {
    if lines.is_empty() {
        return empty.to_string();
    }
    let queued = lines.first().map_or(0, |l| l.queued);
    let mut out = if queued > lines.len() as i64 {
        format!("{title} ({queued}, the first {} shown):", lines.len())
    } else {
        format!("{title} ({}):", lines.len())
    };
    for l in lines {
        let waited = age((now - l.opened_at).num_seconds() as f64);
        let sla = match (&l.sla_metric, l.due_at) {
            (Some(metric), Some(due_at)) => {
                let due = crate::desk::query::SlaDue {
                    metric: metric.clone(),
                    due_at,
                };
                format!(" · {}", sla_line(&due, now))
            }
            _ => String::new(),
        };
        out.push_str(&format!(
            "\n{}  {:<11} {:<7} {}  ({}, opened {waited} ago){sla}{}",
            l.number,
            l.status,
            l.priority,
            style.escape(&l.subject),
            style.escape(&l.requester),
            tags::suffix(&l.tags, style)
        ));
    }
    out
}

/// The workload table: per agent their tickets by status, the oldest unanswered customer
/// message, and their tickets with an SLA clock at risk or breached; then the unassigned
/// queue and the SLA totals over every open ticket.
pub fn workload(w: &crate::desk::workload::Workload) -> String {
    let mut out = String::from(
        "agent        claimed  in progress  waiting  at risk  breached  oldest unattended\n",
    );
    for a in &w.agents {
        let away = if a.away { " (away)" } else { "" };
        out.push_str(&format!(
            "@{:<11} {:>7}  {:>11}  {:>7}  {:>7}  {:>8}  {}{away}\n",
            a.handle,
            a.claimed,
            a.in_progress,
            a.waiting,
            a.at_risk,
            a.breached,
            a.oldest_unattended_secs
                .map(age)
                .unwrap_or_else(|| "-".into())
        ));
    }
    out.push_str(&format!(
        "Unassigned: {}{}\nSLA: {} at risk, {} breached",
        w.unassigned,
        w.oldest_unassigned_secs
            .map(|s| format!(", oldest {} ago", age(s)))
            .unwrap_or_default(),
        w.at_risk,
        w.breached
    ));
    out
}

/// Usage of the commands, for `help` and malformed input.
pub const USAGE: &str = "Type `help` for every command.";

/// How to type one command: `Usage: claim <ticket>, e.g. claim TICK-2026-0001 — Take a
/// ticket`. `usage` is the command's syntax, `example` one typical use, `help` one line.
pub fn usage(usage: &str, example: &str, help: &str) -> String {
    format!("Usage: {usage}, e.g. {example} — {help}.")
}

/// How to type a command with several forms (`agent add …`, `agent remove …`).
pub fn usage_of_forms(forms: &[String]) -> String {
    format!("Usage: {}", forms.join(" · "))
}

/// The answer to a command claimdesk does not know.
pub fn unknown_command(name: &str) -> String {
    format!("Unknown command `{name}`. {USAGE}")
}

/// The heading of the `help` group of commands meant for `role` and above.
pub fn help_heading(role: Role) -> &'static str {
    match role {
        Role::Member => "Everyone on the desk",
        Role::Admin => "Admins (and owners)",
        Role::Owner => "Owners",
    }
}

/// The `help` text: for each role, its heading and one line per command usage, then how to
/// ask about one (`help <command>`, written with `prefix`). Groups without commands are left
/// out. Short on purpose: it fits one Discord message (2,000 characters) with every command.
pub fn help(groups: &[(Role, Vec<String>)], prefix: &str) -> String {
    let mut out = String::from("claimdesk commands (who may run them):");
    for (role, lines) in groups.iter().filter(|(_, l)| !l.is_empty()) {
        out.push_str(&format!("\n\n{}:", help_heading(*role)));
        for usage in lines {
            out.push_str(&format!("\n  {usage}"));
        }
    }
    out.push_str(&format!(
        "\n\n`{prefix}help <command>` says what one does, with an example."
    ));
    out
}

/// One form of a command, as `help <command>` explains it.
#[derive(Debug, Clone)]
pub struct HelpForm {
    /// The usage line with the surface's prefix (`/reply <ticket> [text]`).
    pub usage: String,
    /// What it does.
    pub help: &'static str,
    /// Who may run it.
    pub role: Role,
    /// Each argument's name and what it is.
    pub args: Vec<(&'static str, &'static str)>,
    /// A line that runs it, with the prefix.
    pub example: String,
}

/// The `help <command>` text: each form's usage and purpose, who may run it, its arguments
/// and an example.
pub fn help_one(forms: &[HelpForm]) -> String {
    forms
        .iter()
        .map(|f| {
            let mut out = format!("{} — {}\nWho: {}", f.usage, f.help, help_heading(f.role));
            for (name, help) in &f.args {
                out.push_str(&format!("\n  <{name}>: {help}"));
            }
            out.push_str(&format!("\nExample: {}", f.example));
            out
        })
        .collect::<Vec<_>>()
        .join("\n\n")
}

/// Words a person typed, as a refusal may echo them on any surface: only ASCII letters,
/// digits, blanks and `-_/:+.{}` are kept (at most 40), so the echo can neither mention
/// anyone, format text nor break out of the code span it is shown in — on Slack, Discord
/// or a terminal alike.
pub fn typed_word(text: &str) -> String {
    text.trim()
        .chars()
        .filter(|c| {
            c.is_ascii_alphanumeric()
                || matches!(c, ' ' | '-' | '_' | '/' | ':' | '+' | '.' | '{' | '}')
        })
        .take(40)
        .collect()
}

/// `help <what>` for a command that does not exist.
pub fn help_unknown(what: &str, prefix: &str) -> String {
    // Only the characters a command name can have are echoed, so a typed line can neither
    // mention anyone nor break out of the code span.
    let shown: String = what
        .trim()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | ' ' | '/'))
        .take(40)
        .collect();
    format!("No command `{shown}`. `{prefix}help` lists them all.")
}

/// An error answer: what went wrong and what to do next.
pub fn error(e: &DeskError) -> String {
    match e {
        DeskError::NotAMember => {
            "You are not a member of this desk. Ask an owner to add you as an agent.".into()
        }
        DeskError::BadTicketNumber(s) => {
            format!("`{s}` is not a ticket number. Use the form TICK-2026-0001.")
        }
        DeskError::NoSuchTicket(n) => format!("There is no ticket {n}. `list` shows open tickets."),
        DeskError::Merged { number, into } => {
            format!("{number} was merged into {into}; use {into} instead.")
        }
        DeskError::AlreadyClaimed { number, by } => {
            format!("{number} is already claimed by @{by}.")
        }
        DeskError::AlreadyYours(n) => format!("You already hold {n}."),
        DeskError::NotClaimed(n) => format!("{n} is not claimed by anyone."),
        DeskError::NotAllowed {
            number,
            holder_or_admin,
        } => {
            format!("Only {holder_or_admin} can do that to {number}.")
        }
        DeskError::HeldByOther { number, holder } => format!(
            "{number} is held by @{holder}. Ask @{holder} or an admin to unclaim or reassign it \
             (`unclaim {number}` / `assign {number} @you`)."
        ),
        DeskError::Illegal { number, source } => format!(
            "{number} is {} and cannot take that action.",
            source.from.label().to_lowercase()
        ),
        DeskError::EmptyReply => "The text is empty; nothing was sent.".into(),
        DeskError::NoSuchAgent(h) => {
            format!("There is no agent @{h}. Use a handle from `claimdesk agent list`.")
        }
        DeskError::Forbidden(who) => format!("Only {who} can do that."),
        DeskError::BadInput(m) => m.clone(),
        DeskError::Store(_) => {
            "Something went wrong on our side and nothing was changed. Please try again.".into()
        }
    }
}

/// The body of the acknowledgement email a customer gets when their message opens ticket
/// `number` (sent with `Auto-Submitted: auto-replied`, RFC 3834 §5).
pub fn acknowledgement_email(number: &str, subject: &str) -> String {
    format!(
        "Hello,\n\nWe received your request {number} (\"{subject}\"). A member of our team will \
         answer you by email. To add details, reply to this message and keep {number} in the \
         subject.\n\nThis is an automatic message; please do not reply only to acknowledge it.\n"
    )
}

/// The note an automatic message becomes on a ticket: `what` is "delivery report",
/// "feedback report" or "automatic reply".
pub fn automatic_note(what: &str, from: &str, subject: &str, excerpt: &str) -> String {
    let head = match what {
        "delivery report" => format!("Reply bounced: delivery report from {from}"),
        "feedback report" => format!("Feedback report (complaint) from {from}"),
        _ => format!("Automatic reply from {from} (no status change)"),
    };
    let mut out = format!("{head}\nSubject: {subject}");
    if !excerpt.is_empty() {
        out.push('\n');
        out.push_str(excerpt);
    }
    out
}

/// The notice on a ticket whose thread a message linked with `other`, another requester's
/// ticket (`other_requester`): they stay apart, and `merge <newer> <older>` joins them.
pub fn linked_notice(other: &str, other_requester: &str, newer: &str, older: &str) -> String {
    format!(
        "🔗 This thread names {other} from another sender ({other_requester}). The tickets stay \
         apart and replies go only to each ticket's own requester. To merge them: \
         `merge {newer} {older}`"
    )
}

/// The answer to `merge`; the requester address escaped for `style`.
pub fn merged(o: &crate::desk::MergeOutcome, style: Mention) -> String {
    format!(
        "{} is merged into {}. Replies go to {}.",
        o.from,
        o.into,
        style.escape(&o.requester)
    )
}

/// The notice in both threads after `merge <from> <into>` by `by` (an agent's handle).
pub fn merged_notice(from: &str, into: &str, by: &str) -> String {
    format!("🔀 {from} was merged into {into} by @{by}; replies now go to {into}'s requester.")
}

/// Quarantine reason for an automatic message (auto-reply, bounce) that names a ticket by a
/// subject tag or plus-address but proves nothing: not from that ticket's thread, no msg-id
/// of ours.
pub const STRANGER_AUTOMATIC: &str =
    "automatic message that names a ticket but comes from a stranger";

/// The channel notice for a suspected mail loop: a [`notice`] template, the sender kept
/// [`literal`].
pub fn loop_notice(sender: &str, tickets: i64, minutes: u32, latest: &str) -> String {
    let sender = literal(sender);
    format!(
        "⚠ Suspected mail loop: {sender} opened {tickets} tickets in {minutes} minutes (latest \
         {latest}). No more acknowledgements go to this address for now."
    )
}

/// A duration for reports: `45m`, `3h 20m`, `2d 4h`; `-` when there is none.
pub fn duration(d: Option<chrono::Duration>) -> String {
    let Some(d) = d else {
        return "-".into();
    };
    let mins = d.num_minutes().max(0);
    let (days, hours, m) = (mins / 1440, mins / 60 % 24, mins % 60);
    match (days, hours) {
        (0, 0) => format!("{m}m"),
        (0, h) => format!("{h}h {m}m"),
        (d, h) => format!("{d}d {h}h"),
    }
}

/// `stats` typed with a department that does not exist.
pub fn unknown_department(name: &str, known: &[&str]) -> String {
    // Echo only letters, digits, `-` and `_` of what was typed: nothing to ping or inject.
    let shown: String = name
        .chars()
        .filter(|c| c.is_alphanumeric() || matches!(c, '-' | '_'))
        .take(40)
        .collect();
    format!(
        "No department `{shown}`. Departments: {}.",
        known.join(", ")
    )
}

/// The answer to `stats` (and the weekly digest's text): range, counts, backlog by age,
/// first response and resolution (median and p90, business time), SLA hit rate per metric
/// and a table per agent. `chart` says where the chart goes, if anywhere.
pub fn stats_report(r: &crate::desk::stats::Report, chart: Option<&str>) -> String {
    use crate::desk::stats::BACKLOG_BUCKETS;
    let last = (r.to - chrono::Duration::seconds(1)).with_timezone(&r.zone);
    let mut out = format!(
        "Stats {} – {} {}{}\n",
        r.from.with_timezone(&r.zone).format("%Y-%m-%d %H:%M"),
        last.format("%Y-%m-%d %H:%M"),
        r.zone.name(),
        r.department
            .as_deref()
            .map(|d| format!(" · {d}"))
            .unwrap_or_default()
    );
    out.push_str(&format!("Opened {} · resolved {}\n", r.opened, r.resolved));
    let backlog: Vec<String> = BACKLOG_BUCKETS
        .iter()
        .zip(r.backlog)
        .map(|(l, n)| format!("{l} {n}"))
        .collect();
    out.push_str(&format!(
        "Backlog now {}: {}\n",
        r.backlog.iter().sum::<i64>(),
        backlog.join(" · ")
    ));
    out.push_str(&format!(
        "First response (business time): median {} · p90 {} ({} tickets)\n",
        duration(r.first_response.median),
        duration(r.first_response.p90),
        r.first_response.count
    ));
    out.push_str(&format!(
        "Resolution (business time): median {} · p90 {} ({} tickets)\n",
        duration(r.resolution.median),
        duration(r.resolution.p90),
        r.resolution.count
    ));
    if r.sla.is_empty() {
        out.push_str("SLA: no clock ended in this range\n");
    } else {
        let rates: Vec<String> = r
            .sla
            .iter()
            .map(|s| {
                let pct = if s.ended > 0 {
                    100.0 * s.hit as f64 / s.ended as f64
                } else {
                    0.0
                };
                let metric = crate::domain::sla::Metric::parse(&s.metric).map_or("SLA", sla_metric);
                format!("{metric} {pct:.0}% ({}/{})", s.hit, s.ended)
            })
            .collect();
        out.push_str(&format!("SLA met: {}\n", rates.join(" · ")));
    }
    out.push_str(&web::ratings_stats_line(r.ratings.good, r.ratings.bad));
    out.push('\n');
    if !r.agents.is_empty() {
        out.push_str("agent        resolved  median 1st response  open now\n");
        for a in &r.agents {
            out.push_str(&format!(
                "@{:<11} {:>8}  {:>19}  {:>8}\n",
                a.handle,
                a.resolved,
                duration(a.median_first_response),
                a.open_now
            ));
        }
    }
    if let Some(c) = chart {
        out.push_str(c);
    }
    out.trim_end().to_string()
}

/// Where `stats` says its chart goes (Slack, Discord).
pub const STATS_CHART_POSTED: &str = "The chart follows in this channel.";

/// Where `stats` says its chart goes (console).
pub const STATS_CHART_FILE: &str = "The chart is written to a PNG file; its path follows.";

/// The stats chart's words (`desk::chart`): the daily panel's caption, the first-response
/// panel's caption, the y axis, and the two series.
pub const CHART_DAYS: &str = "Tickets opened and resolved per day";
/// See [`CHART_DAYS`].
pub const CHART_FIRST_RESPONSE: &str = "First response (business time)";
/// See [`CHART_DAYS`].
pub const CHART_TICKETS: &str = "tickets";
/// See [`CHART_DAYS`].
pub const CHART_OPENED: &str = "opened";
/// See [`CHART_DAYS`].
pub const CHART_RESOLVED: &str = "resolved";

/// Heading of the weekly digest.
pub fn digest_heading(until: chrono::NaiveDate) -> String {
    format!(
        "Weekly digest: the 7 days to {}",
        until.format("%a %Y-%m-%d")
    )
}

/// The subject as an alert quotes it: at most 60 characters, made literal for a notice
/// template (see [`literal`]; the notice escapes it for the platform).
fn sla_subject(subject: &str) -> String {
    let short: String = subject.chars().take(60).collect();
    let more = if subject.chars().count() > 60 {
        "…"
    } else {
        ""
    };
    literal(&format!("{short}{more}"))
}

/// `{mention:HANDLE}` for each of `handles`, space-separated.
fn mentions(handles: &[String]) -> String {
    handles
        .iter()
        .map(|h| format!("{{mention:{h}}}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The SLA warning (a `ChannelNotice` template, see [`notice`]): ticket `number` with
/// `subject` (customer text) must meet `metric` by `due`, `left` from now; `whom` are the
/// handles it names (the holder, else the department's admins).
pub fn sla_warning(
    number: &str,
    subject: &str,
    metric: crate::domain::sla::Metric,
    due: chrono::DateTime<chrono::Utc>,
    left: chrono::Duration,
    whom: &[String],
) -> String {
    let mut parts = vec![format!(
        "⏳ {number} “{}”: {} due in {} ({}).",
        sla_subject(subject),
        sla_metric(metric),
        age(left.num_seconds() as f64),
        timestamp(due),
    )];
    if !whom.is_empty() {
        parts.push(mentions(whom));
    }
    parts.join(" ")
}

/// One alert's line in an SLA summary: `TICK-2026-0042: first response breached (was due
/// 2026-12-02 14:05 UTC)` or `… first response due in 15 min`.
pub fn sla_summary_line(
    number: &str,
    metric: crate::domain::sla::Metric,
    kind: crate::domain::sla::AlertKind,
    due: chrono::DateTime<chrono::Utc>,
    now: chrono::DateTime<chrono::Utc>,
) -> String {
    match kind {
        crate::domain::sla::AlertKind::Breach => format!(
            "{number}: {} breached (was due {})",
            sla_metric(metric),
            timestamp(due)
        ),
        crate::domain::sla::AlertKind::Warning => format!(
            "{number}: {} due in {}",
            sla_metric(metric),
            age((due - now).num_seconds() as f64)
        ),
    }
}

/// Many SLA alerts of one department at once (a `ChannelNotice` template): how many, the
/// first 20 `lines` ([`sla_summary_line`]; ticket numbers and our words, no customer text),
/// and `whom` (the department's admins) named once.
pub fn sla_summary(lines: &[&str], whom: &[String]) -> String {
    let shown: Vec<String> = lines.iter().take(20).map(|l| format!("• {l}")).collect();
    let more = lines.len().saturating_sub(20);
    let mut out = format!(
        "🚨 {} SLA alerts at once (a backlog):\n{}",
        lines.len(),
        shown.join("\n")
    );
    if more > 0 {
        out.push_str(&format!("\n… and {more} more (`workload` counts them)."));
    }
    if !whom.is_empty() {
        out.push_str(&format!("\n{}", mentions(whom)));
    }
    out
}

/// What a breach escalation did, for [`sla_breach`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BreachEscalation {
    /// Nothing (`sla.on_breach = "none"`).
    None,
    /// The department's admins (handles) are pinged (`ping_admins`).
    Admins(Vec<String>),
    /// The ticket was returned to the queue, taken from this holder (`return_to_queue`).
    Returned(String),
}

/// The SLA breach alert (a `ChannelNotice` template): ticket `number` with `subject` missed
/// `metric`, due at `due`; `whom` are named (the holder, else the admins), and the escalation
/// says what else happened.
pub fn sla_breach(
    number: &str,
    subject: &str,
    metric: crate::domain::sla::Metric,
    due: chrono::DateTime<chrono::Utc>,
    whom: &[String],
    escalation: &BreachEscalation,
) -> String {
    let mut parts = vec![format!(
        "🚨 {number} “{}”: {} SLA breached (was due {}).",
        sla_subject(subject),
        sla_metric(metric),
        timestamp(due),
    )];
    if !whom.is_empty() {
        parts.push(mentions(whom));
    }
    match escalation {
        BreachEscalation::None => {}
        BreachEscalation::Admins(admins) if admins.is_empty() => {}
        BreachEscalation::Admins(admins) => {
            parts.push(format!("Escalated to {}.", mentions(admins)))
        }
        BreachEscalation::Returned(holder) => {
            parts.push(format!("Returned to the queue (was @{}).", literal(holder)))
        }
    }
    parts.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::agents::Agent;

    fn message(outbound: bool, author: Option<i64>) -> Message {
        Message {
            id: 1,
            ticket_id: 1,
            message_id: "m@x".into(),
            in_reply_to: None,
            references: vec![],
            outbound,
            from_addr: "help@claimdesk.test".into(),
            from_name: None,
            to_addrs: vec!["dana@example.com".into()],
            subject: "Re: x".into(),
            body_text: "We got your message.".into(),
            author_agent_id: author,
            sent_at: None,
            created_at: chrono::Utc::now(),
            received_at: chrono::DateTime::from_timestamp(1_764_581_400, 0).unwrap_or_default(),
            date_header: None,
            attachment_count: 0,
        }
    }

    #[test]
    fn thread_tells_an_acknowledgement_from_an_agent_reply() {
        let ack = thread_entry("TICK-1", &message(true, None), Mention::Plain);
        assert!(ack.contains("Acknowledgement sent"), "{ack}");
        assert!(!ack.contains("Reply sent"), "{ack}");
        let reply = thread_entry("TICK-1", &message(true, Some(7)), Mention::Plain);
        assert!(reply.contains("Reply sent to customer"), "{reply}");
        let inbound = thread_entry("TICK-1", &message(false, None), Mention::Plain);
        assert!(inbound.contains("wrote on TICK-1"), "{inbound}");
        // The time the email reached our server, not when it was stored.
        assert!(inbound.contains("· 2025-12-01 09:30 UTC:"), "{inbound}");
    }

    fn agent(handle: &str, slack: Option<&str>, discord: Option<&str>) -> Agent {
        Agent {
            id: 1,
            handle: handle.into(),
            name: handle.into(),
            email: format!("{handle}@claimdesk.test"),
            role: crate::domain::Role::Admin,
            slack_user_id: slack.map(str::to_string),
            discord_user_id: discord.map(str::to_string),
        }
    }

    #[test]
    fn notices_mention_only_the_agents_we_placed() {
        let agents = [
            agent("ana", Some("U000000ANA"), Some("200000000000000001")),
            agent("ben", None, None),
        ];
        let sender = "<!channel> {mention:ana} @everyone <@U1>@x.example";
        let template = format!(
            "Loop from {} — {{mention:ana}} {{mention:ben}} {{mention:zed}}",
            literal(sender)
        );
        #[rustfmt::skip]
        let table = [
            (Mention::Slack,
             "Loop from &lt;!channel&gt; {mention:ana} @everyone &lt;@U1&gt;@x.example — <@U000000ANA> @ben @zed",
             vec!["U000000ANA".to_string()]),
            (Mention::Discord,
             "Loop from \\<!channel\\> {mention:ana} @\u{200B}everyone \\<@U1\\>@x.example — <@200000000000000001> @ben @zed",
             vec!["200000000000000001".to_string()]),
            (Mention::Plain,
             "Loop from <!channel> {mention:ana} @everyone <@U1>@x.example — @ana @ben @zed",
             vec![]),
        ];
        for (style, text, mentions) in table {
            let n = notice(&template, &agents, style);
            assert_eq!(n.text, text, "{style:?}");
            assert_eq!(n.mentions, mentions, "{style:?}");
        }
        // Unclosed or unknown braces are text.
        let n = notice("a {b {mention:ana", &agents, Mention::Slack);
        assert_eq!(n.text, "a {b {mention:ana");
        assert!(n.mentions.is_empty());
    }
}
