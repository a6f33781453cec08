//! The command set shared by every surface: parse the text people type, run the use case,
//! word the answer. Slack `/claim`, Discord `/claim`, and `claim` on the console all end here.

use crate::desk::{Actor, Desk};
use crate::domain::{Priority, Role, Status};

use crate::desk::messages;

/// A parsed command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `claim <ticket>`.
    Claim(String),
    /// `unclaim <ticket>`.
    Unclaim(String),
    /// `reply <ticket> <text>`.
    Reply(String, String),
    /// `note <ticket> <text>`: internal, never emailed.
    Note(String, String),
    /// `assign <ticket> @user` (admins).
    Assign(String, String),
    /// `status <ticket> <open|in_progress|waiting|resolved|closed>`.
    Status(String, Status),
    /// `priority <ticket> <low|medium|high|urgent>`.
    Priority(String, Priority),
    /// `away [@user] [YYYY-MM-DD]`.
    Away(Option<String>, Option<chrono::DateTime<chrono::Utc>>),
    /// `back [@user]`.
    Back(Option<String>),
    /// `release-all @user` (admins): release every ticket they hold.
    ReleaseAll(String),
    /// `reassign-all @from @to` (admins).
    ReassignAll(String, String),
    /// `history <ticket>`: the audit trail.
    History(String),
    /// `merge <ticket> <into-ticket>`: admins, or a member holding both.
    Merge(String, String),
    /// `agent add @handle [member|admin|owner] [dept,dept]` (owners).
    AgentAdd(String, Role, Vec<String>),
    /// `agent remove @handle` (owners).
    AgentRemove(String),
    /// `agent departments @handle dept,dept` (owners).
    AgentDepartments(String, Vec<String>),
    /// `mine`: tickets I hold.
    Mine,
    /// `unassigned`: tickets nobody holds, oldest first.
    Unassigned,
    /// `workload`: per-agent load and the unassigned queue.
    Workload,
    /// `stats [range] [department]`: the figures, and a chart posted where it was asked.
    Stats(crate::desk::stats::StatsQuery),
    /// `ticket <number>`: summary and recent history.
    Ticket(String),
    /// `list`.
    List,
    /// `help`.
    Help,
}

impl Command {
    /// The same command as typed in chat channel `channel` (Slack or Discord channel ID):
    /// `stats` posts its chart there; other commands are unchanged.
    pub fn in_channel(self, channel: &str) -> Command {
        match self {
            Command::Stats(mut q) if !channel.trim().is_empty() => {
                q.channel = Some(channel.to_string());
                Command::Stats(q)
            }
            other => other,
        }
    }
}

/// Why typed text is not a command; the message says how to type it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Usage(pub String);

/// Parses `name` (with or without a leading `/`; `desk` takes the subcommand from `args`)
/// and its argument text, as the catalogue ([`super::catalogue`]) describes every command.
///
/// Errors: [`Usage`] saying how to type the command (or that it is unknown).
pub fn parse(name: &str, args: &str) -> Result<Command, Usage> {
    super::catalogue::parse(name, args)
}

/// The `help` prefix of a surface: how a command is typed there (`/desk claim …` on Slack,
/// `/claim …` on Discord, `claim …` elsewhere).
fn typed_prefix(surface: crate::desk::Surface) -> &'static str {
    match surface {
        crate::desk::Surface::Slack => "/desk ",
        crate::desk::Surface::Discord => "/",
        crate::desk::Surface::Console | crate::desk::Surface::Cli | crate::desk::Surface::Web => "",
    }
}

/// Runs `cmd` as `actor` and returns the answer to show them (privately on chat platforms),
/// a refusal worded like a success.
///
/// Text from tickets (subjects, requesters) is escaped for the actor's surface
/// ([`messages::Mention::of_surface`]).
pub async fn execute(desk: &Desk, actor: &Actor, cmd: Command) -> String {
    run(desk, actor, cmd)
        .await
        .unwrap_or_else(|refusal| refusal)
}

/// Runs `cmd` as `actor`: the one executor every surface, button and form goes through.
///
/// Errors: the refusal's wording (`messages::error`), for surfaces that show refusals apart
/// from confirmations (a Slack button click answers only refusals; a form shows them on its
/// field). A storage failure is logged here.
pub async fn run(desk: &Desk, actor: &Actor, cmd: Command) -> Result<String, String> {
    let style = messages::Mention::of_surface(actor.surface);
    let r = match cmd {
        Command::Claim(n) => desk.claim(actor, &n).await.map(|o| messages::claimed(&o)),
        Command::Unclaim(n) => desk
            .unclaim(actor, &n)
            .await
            .map(|o| messages::unclaimed(&o)),
        Command::Reply(n, text) => desk
            .reply(actor, &n, &text)
            .await
            .map(|o| messages::replied(&o, style)),
        Command::List => desk.list().await.map(|ts| {
            let now = desk.clock_now();
            let mut open: Vec<&crate::desk::TicketSummary> = ts
                .iter()
                .filter(|t| !t.status.parse::<Status>().is_ok_and(Status::is_done))
                .collect();
            // The SLA clock due first first; tickets without one after, oldest first (the
            // sort is stable).
            open.sort_by_key(|t| match &t.sla {
                Some(d) => (false, Some(d.due_at)),
                None => (true, None),
            });
            let open: Vec<String> = open
                .into_iter()
                .map(|t| messages::summary_with_sla(t, style, now))
                .collect();
            if open.is_empty() {
                "No open tickets.".to_string()
            } else {
                open.join("\n")
            }
        }),
        Command::Note(n, text) => desk
            .note(actor, &n, &text)
            .await
            .map(|n| format!("Internal note added to {n}.")),
        Command::Assign(n, who) => desk.assign(actor, &n, &who).await.map(|o| match o.from {
            Some(f) if f != o.to => format!("{} moved from @{f} to @{}.", o.number, o.to),
            _ => format!("{} is now held by @{}.", o.number, o.to),
        }),
        Command::Status(n, s) => desk
            .set_status(actor, &n, s)
            .await
            .map(|o| format!("{}: {} → {}.", o.number, o.from.label(), o.to.label())),
        Command::Priority(n, p) => desk
            .set_priority(actor, &n, p)
            .await
            .map(|o| format!("{} is now {p} priority.", o.number)),
        Command::Away(who, until) => {
            desk.set_away(actor, who.as_deref(), until)
                .await
                .map(|h| match until {
                    Some(u) => format!(
                        "@{h} is away until {} and gets no new tickets.",
                        u.format("%Y-%m-%d")
                    ),
                    None => format!("@{h} is away and gets no new tickets until `back`."),
                })
        }
        Command::Back(who) => desk
            .set_back(actor, who.as_deref())
            .await
            .map(|h| format!("@{h} is back in auto-assignment.")),
        Command::ReleaseAll(who) => desk.bulk_unclaim(actor, &who).await.map(|o| {
            format!(
                "Released {} ticket(s) of @{}: {}",
                o.numbers.len(),
                o.agent,
                o.numbers.join(", ")
            )
        }),
        Command::ReassignAll(from, to) => desk.bulk_reassign(actor, &from, &to).await.map(|o| {
            format!(
                "Moved {} ticket(s) from @{} to @{}: {}",
                o.numbers.len(),
                o.agent,
                o.to.unwrap_or_default(),
                o.numbers.join(", ")
            )
        }),
        Command::History(n) => desk.history(&n).await.map(|(number, rows)| {
            let mut out = format!("History of {number}:");
            for r in rows {
                out.push_str(&format!(
                    "\n{} {} by {} via {}",
                    r.at, r.action, r.actor, r.surface
                ));
            }
            out
        }),
        Command::Merge(from, into) => desk
            .merge_tickets(actor, &from, &into)
            .await
            .map(|o| messages::merged(&o, style)),
        Command::AgentAdd(h, role, ds) => desk
            .add_agent(actor, &h, role, &ds)
            .await
            .map(|h| format!("Agent @{h} added as {role}.")),
        Command::AgentRemove(h) => desk
            .remove_agent(actor, &h)
            .await
            .map(|h| format!("Agent @{h} removed (kept for history).")),
        Command::AgentDepartments(h, ds) => desk
            .set_agent_departments(actor, &h, &ds)
            .await
            .map(|h| format!("@{h} now works in {}.", ds.join(", "))),
        Command::Mine => desk.mine(actor).await.map(|l| {
            messages::queue(
                "Your tickets, SLA due first",
                &l,
                "You hold no open tickets.",
                style,
                desk.clock_now(),
            )
        }),
        Command::Unassigned => desk.unassigned().await.map(|l| {
            messages::queue(
                "Unassigned, oldest first",
                &l,
                "Nothing is waiting for an owner.",
                style,
                desk.clock_now(),
            )
        }),
        Command::Workload => desk.workload().await.map(|w| messages::workload(&w)),
        Command::Stats(q) => {
            let platform = match actor.surface {
                crate::desk::Surface::Slack => Some("slack"),
                crate::desk::Surface::Discord => Some("discord"),
                crate::desk::Surface::Console => Some("console"),
                crate::desk::Surface::Cli | crate::desk::Surface::Web => None,
            };
            match platform {
                Some(p) => desk.stats_with_chart(p, &q).await.map(|(r, queued)| {
                    let note = match (queued, actor.surface) {
                        (false, _) => None,
                        (true, crate::desk::Surface::Console) => Some(messages::STATS_CHART_FILE),
                        (true, _) => Some(messages::STATS_CHART_POSTED),
                    };
                    messages::stats_report(&r, note)
                }),
                None => desk
                    .stats(&q)
                    .await
                    .map(|r| messages::stats_report(&r, None)),
            }
        }
        Command::Ticket(n) => match desk.show(&n).await {
            Ok(d) => {
                let mut out = format!(
                    "{}\nPriority {} · {} · from {} · {} message(s) · {}",
                    messages::summary_with_sla(&d.summary, style, desk.clock_now()),
                    d.priority,
                    d.department,
                    style.escape(&d.summary.requester),
                    d.summary.message_count,
                    messages::opened(&d.summary.opened_at)
                );
                let skip = d.messages.len().saturating_sub(10);
                for m in d.messages.iter().skip(skip) {
                    out.push_str(&messages::message_line(m, style));
                }
                for h in d
                    .history
                    .iter()
                    .rev()
                    .take(5)
                    .collect::<Vec<_>>()
                    .into_iter()
                    .rev()
                {
                    out.push_str(&format!(
                        "\n  {} {} by {}",
                        h.at.get(..16).unwrap_or(&h.at),
                        h.action,
                        h.actor
                    ));
                }
                Ok(out)
            }
            Err(e) => Err(e),
        },
        Command::Help => Ok(super::catalogue::help(typed_prefix(actor.surface))),
    };
    r.map_err(|e| {
        if let crate::desk::DeskError::Store(err) = &e {
            tracing::error!(error = %err, "command failed on storage");
        }
        messages::error(&e)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_commands_as_typed_on_each_surface() {
        assert_eq!(
            parse("/claim", "TICK-2026-0001").unwrap(),
            Command::Claim("TICK-2026-0001".into())
        );
        assert_eq!(
            parse("desk", "unclaim TICK-2026-0001").unwrap(),
            Command::Unclaim("TICK-2026-0001".into())
        );
        assert_eq!(
            parse("reply", "TICK-2026-0001  Hello there,\nfixed.").unwrap(),
            Command::Reply("TICK-2026-0001".into(), "Hello there,\nfixed.".into())
        );
        assert_eq!(parse("list", "").unwrap(), Command::List);
        assert_eq!(parse("desk", "mine").unwrap(), Command::Mine);
        assert_eq!(parse("desk", "unassigned").unwrap(), Command::Unassigned);
        assert_eq!(parse("desk", "workload").unwrap(), Command::Workload);
        assert_eq!(
            parse("desk", "ticket TICK-2026-0001").unwrap(),
            Command::Ticket("TICK-2026-0001".into())
        );
        assert_eq!(parse("/desk", "").unwrap(), Command::Help);
    }

    #[test]
    fn parses_workflow_commands() {
        assert_eq!(
            parse("assign", "TICK-2026-0001 @ben").unwrap(),
            Command::Assign("TICK-2026-0001".into(), "ben".into())
        );
        assert_eq!(
            parse("status", "TICK-2026-0001 in progress").unwrap(),
            Command::Status("TICK-2026-0001".into(), Status::InProgress)
        );
        assert_eq!(
            parse("resolve", "TICK-2026-0001").unwrap(),
            Command::Status("TICK-2026-0001".into(), Status::Resolved)
        );
        assert_eq!(
            parse("priority", "TICK-2026-0001 URGENT").unwrap(),
            Command::Priority("TICK-2026-0001".into(), Priority::Urgent)
        );
        assert_eq!(
            parse("note", "TICK-2026-0001 call them").unwrap(),
            Command::Note("TICK-2026-0001".into(), "call them".into())
        );
        assert_eq!(parse("away", "").unwrap(), Command::Away(None, None));
        assert!(
            matches!(parse("away", "@ben 2026-12-24").unwrap(), Command::Away(Some(ref h), Some(_)) if h == "ben")
        );
        assert_eq!(
            parse("back", "@ben").unwrap(),
            Command::Back(Some("ben".into()))
        );
        assert_eq!(
            parse("reassign-all", "@ben @cy").unwrap(),
            Command::ReassignAll("ben".into(), "cy".into())
        );
        assert!(parse("status", "TICK-2026-0001 bogus").is_err());
        assert!(parse("away", "tomorrow").is_err());
        for (name, args) in [
            ("merge", "TICK-2026-0009 TICK-2026-0001"),
            ("/desk", "merge TICK-2026-0009 into TICK-2026-0001"),
        ] {
            assert_eq!(
                parse(name, args).unwrap(),
                Command::Merge("TICK-2026-0009".into(), "TICK-2026-0001".into())
            );
        }
        for bad in ["", "TICK-2026-0009", "a b c d"] {
            assert!(parse("merge", bad).unwrap_err().0.contains("Usage: merge"));
        }
    }

    #[test]
    fn malformed_commands_explain_usage() {
        assert!(parse("claim", "").unwrap_err().0.contains("Usage: claim"));
        assert!(parse("reply", "TICK-2026-0001")
            .unwrap_err()
            .0
            .contains("Usage: reply"));
        assert!(parse("frobnicate", "x")
            .unwrap_err()
            .0
            .contains("Unknown command"));
    }
}
