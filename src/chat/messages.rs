//! Every text people read in chat: card lines, thread entries, answers and errors.
//! Logic decides; this file words it.

use crate::desk::{CardView, ClaimOutcome, DeskError, ReplyOutcome, TicketSummary};
use crate::domain::Status;
use crate::store::messages::Message;

/// How a platform writes a mention of an agent.
#[derive(Debug, Clone, Copy)]
pub enum Mention {
    /// `<@U123>`.
    Slack,
    /// `<@123>`.
    Discord,
    /// `@handle`.
    Plain,
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

/// The card's labelled facts, in display order: status, assignee (with time since the
/// claim), priority, when the customer last wrote, and the message count. Each platform lays
/// them out its own way (Discord embed fields, Slack section fields, console lines).
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
    vec![
        ("Status", status),
        ("Assignee", assignee_line(card, style)),
        ("Priority", card.priority.to_string()),
        ("Customer last wrote", last),
        ("Messages", card.message_count.to_string()),
    ]
}

/// The card's headline: `TICK-2026-0001 · Subject`.
///
/// Priority is shown only when it is not the default (`[urgent] TICK-…`).
pub fn headline(card: &CardView) -> String {
    if card.priority == crate::domain::Priority::Medium {
        format!("{} · {}", card.number, card.subject)
    } else {
        format!("[{}] {} · {}", card.priority, card.number, card.subject)
    }
}

/// The "from" line of a card.
/// Ends in `· linked to TICK-…` when the ticket names another it was not allowed to join.
pub fn from_line(card: &CardView) -> String {
    let linked = card
        .linked_to
        .as_deref()
        .map(|n| format!(" · linked to {n}"))
        .unwrap_or_default();
    format!(
        "From {} · {} message(s){}{linked}",
        card.requester,
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

/// One entry in a card's thread: a customer follow-up or our reply.
pub fn thread_entry(number: &str, m: &Message) -> String {
    let body = crate::desk::query::preview(&m.body_text, 1500);
    if m.outbound {
        format!(
            "✉️ Reply sent to customer ({}) on {number}:\n{body}",
            m.to_addrs.join(", ")
        )
    } else {
        format!(
            "📨 Customer {} wrote on {number}{}:\n{body}",
            m.from_addr,
            attachments_mention(usize::try_from(m.attachment_count).unwrap_or(0))
        )
    }
}

/// An internal note in a card thread.
pub fn note_entry(number: &str, n: &crate::store::notes::Note) -> String {
    let who = n
        .author
        .as_deref()
        .map(|h| format!("@{h}"))
        .unwrap_or_else(|| "claimdesk".into());
    let flag = if n.flagged { "🚩 " } else { "" };
    format!(
        "{flag}🔒 Internal note by {who} on {number} (not sent to the customer):\n{}",
        n.body
    )
}

/// Replaces `{mention:HANDLE}` in `text` with the platform's mention of each agent.
pub fn with_mentions(text: &str, agents: &[crate::store::agents::Agent], style: Mention) -> String {
    let mut out = text.to_string();
    for a in agents {
        let m = match style {
            Mention::Slack => a.slack_user_id.as_ref().map(|id| format!("<@{id}>")),
            Mention::Discord => a.discord_user_id.as_ref().map(|id| format!("<@{id}>")),
            Mention::Plain => None,
        }
        .unwrap_or_else(|| format!("@{}", a.handle));
        out = out.replace(&format!("{{mention:{}}}", a.handle), &m);
    }
    out
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

/// What a queued reply tells the replier.
pub fn replied(o: &ReplyOutcome) -> String {
    let claim = if o.claimed {
        " You now hold the ticket."
    } else {
        ""
    };
    format!("Reply to {} queued for {}.{claim}", o.number, o.to)
}

/// A one-line summary for listings.
pub fn summary_line(t: &TicketSummary) -> String {
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
        "{}  {:<12} {:<10} {}  ({}){linked}",
        t.number, t.status, who, t.subject, t.requester
    )
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

/// A queue (`mine`, `unassigned`) as lines.
pub fn queue(title: &str, lines: &[crate::desk::workload::QueueLine], empty: &str) -> String {
    if lines.is_empty() {
        return empty.to_string();
    }
    let now = chrono::Utc::now();
    let mut out = format!("{title} ({}):", lines.len());
    for l in lines {
        let waited = age((now - l.created_at).num_seconds() as f64);
        out.push_str(&format!(
            "\n{}  {:<11} {:<7} {}  ({}, opened {waited} ago)",
            l.number, l.status, l.priority, l.subject, l.requester
        ));
    }
    out
}

/// The workload table.
pub fn workload(w: &crate::desk::workload::Workload) -> String {
    let mut out = String::from("agent        claimed  in progress  waiting  oldest unattended\n");
    for a in &w.agents {
        let away = if a.away { " (away)" } else { "" };
        out.push_str(&format!(
            "@{:<11} {:>7}  {:>11}  {:>7}  {}{away}\n",
            a.handle,
            a.claimed,
            a.in_progress,
            a.waiting,
            a.oldest_unattended_secs
                .map(age)
                .unwrap_or_else(|| "-".into())
        ));
    }
    out.push_str(&format!(
        "Unassigned: {}{}",
        w.unassigned,
        w.oldest_unassigned_secs
            .map(|s| format!(", oldest {} ago", age(s)))
            .unwrap_or_default()
    ));
    out
}

/// Usage of the commands, for `help` and malformed input.
pub const USAGE: &str =
    "Commands: claim <ticket> · unclaim <ticket> · reply <ticket> <text> · list · help";

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
        "🔗 This thread names {other} from another sender ({other_requester}). The tickets stay          apart and replies go only to each ticket's own requester. To merge them:          `merge {newer} {older}`"
    )
}

/// The answer to `merge`.
pub fn merged(o: &crate::desk::MergeOutcome) -> String {
    format!(
        "{} is merged into {}. Replies go to {}.",
        o.from, o.into, o.requester
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

/// The channel notice for a suspected mail loop.
pub fn loop_notice(sender: &str, tickets: i64, minutes: u32, latest: &str) -> String {
    format!(
        "⚠ Suspected mail loop: {sender} opened {tickets} tickets in {minutes} minutes (latest \
         {latest}). No more acknowledgements go to this address for now."
    )
}
