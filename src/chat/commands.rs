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
    /// `notify [setting]`: the caller's personal notifications, shown or changed (the text
    /// after `notify`, read by `domain::notify::parse_change`).
    Notify(String),
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
    /// `tag <ticket> <tag>…`: add tags.
    Tag(String, Vec<crate::domain::tags::Tag>),
    /// `untag <ticket> <tag>…`: remove tags.
    Untag(String, Vec<crate::domain::tags::Tag>),
    /// `mine [tag:…]`: tickets I hold (with every tag of the filter).
    Mine(crate::domain::tags::TagFilter),
    /// `unassigned [tag:…]`: tickets nobody holds, oldest first.
    Unassigned(crate::domain::tags::TagFilter),
    /// `workload`: per-agent load and the unassigned queue.
    Workload,
    /// `stats [range] [department]`: the figures, and a chart posted where it was asked.
    Stats(crate::desk::stats::StatsQuery),
    /// `ticket <number>`: summary and recent history.
    Ticket(String),
    /// `list [tag:…]`: open tickets (with every tag of the filter).
    List(crate::domain::tags::TagFilter),
    /// `help`.
    Help(Option<String>),
    /// `reply <ticket> /<template>`: the template filled for the ticket, shown (with its
    /// recipient) to edit and send — never sent as it is. Surfaces with a form open it
    /// prefilled; elsewhere the answer is the draft.
    ReplyTemplate(String, String),
    /// `template add <name> <text>` (admins).
    TemplateAdd(String, String),
    /// `template edit <name> <text>` (admins).
    TemplateEdit(String, String),
    /// `template remove <name>` (admins).
    TemplateRemove(String),
    /// `template list`.
    TemplateList,
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
/// Its time, from the parsed command to the worded answer, is recorded in
/// [`crate::metrics::COMMAND_LATENCY`] with labels `surface` (`slack`, `discord`,
/// `console`, `cli`, `web`) and `command`, the catalogue's name of the command
/// ([`super::catalogue::spec_of`]: `status` for `resolve`, `agent add` …), never what was
/// typed.
///
/// Errors: the refusal's wording (`messages::error`), for surfaces that show refusals apart
/// from confirmations (a Slack button click answers only refusals; a form shows them on its
/// field). A storage failure is logged here.
pub async fn run(desk: &Desk, actor: &Actor, cmd: Command) -> Result<String, String> {
    let started = std::time::Instant::now();
    let command = super::catalogue::spec_of(&cmd).full_name();
    let r = run_command(desk, actor, cmd).await;
    metrics::histogram!(crate::metrics::COMMAND_LATENCY,
        "surface" => actor.surface.as_str(), "command" => command)
    .record(started.elapsed().as_secs_f64());
    r
}

/// [`run`] without the timing.
async fn run_command(desk: &Desk, actor: &Actor, cmd: Command) -> Result<String, String> {
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
        Command::List(filter) => desk.list_tagged(&filter).await.map(|ts| {
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
            if open.is_empty() && !filter.is_empty() {
                messages::tags::none_tagged("open tickets", &filter)
            } else if open.is_empty() {
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
        Command::Notify(text) => desk.notify_settings(actor, &text).await,
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
                let action = messages::tags::history_action(&r).unwrap_or(r.action);
                out.push_str(&format!(
                    "\n{} {} by {} via {}",
                    r.at,
                    action,
                    messages::tags::history_actor(&r.actor),
                    r.surface
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
        Command::Mine(filter) => desk.mine_tagged(actor, &filter).await.map(|l| {
            let empty = if filter.is_empty() {
                "You hold no open tickets.".to_string()
            } else {
                messages::tags::none_tagged("tickets of yours", &filter)
            };
            messages::queue(
                &messages::tags::title("Your tickets, SLA due first", &filter),
                &l,
                &empty,
                style,
                desk.clock_now(),
            )
        }),
        Command::Unassigned(filter) => desk.unassigned_tagged(&filter).await.map(|l| {
            let empty = if filter.is_empty() {
                "Nothing is waiting for an owner.".to_string()
            } else {
                messages::tags::none_tagged("unassigned tickets", &filter)
            };
            messages::queue(
                &messages::tags::title("Unassigned, oldest first", &filter),
                &l,
                &empty,
                style,
                desk.clock_now(),
            )
        }),
        Command::Tag(n, tags) => desk
            .tag(actor, &n, &tags)
            .await
            .map(|o| messages::tags::tagged(&o, style)),
        Command::Untag(n, tags) => desk
            .untag(actor, &n, &tags)
            .await
            .map(|o| messages::tags::untagged(&o, style)),
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
                if let Some(r) = &d.rating {
                    let comment = r.comment.as_deref().map(|c| style.escape(c));
                    out.push('\n');
                    out.push_str(&messages::web::agent_rating_line(
                        r.rating,
                        comment.as_deref(),
                    ));
                }
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
                    let action =
                        messages::tags::history_action(h).unwrap_or_else(|| h.action.clone());
                    out.push_str(&format!(
                        "\n  {} {} by {}",
                        h.at.get(..16).unwrap_or(&h.at),
                        action,
                        messages::tags::history_actor(&h.actor)
                    ));
                }
                Ok(out)
            }
            Err(e) => Err(e),
        },
        Command::Help(None) => Ok(super::catalogue::help(typed_prefix(actor.surface))),
        Command::Help(Some(what)) => Ok(super::catalogue::help_for(
            typed_prefix(actor.surface),
            &what,
        )),
        Command::ReplyTemplate(n, name) => desk
            .template_draft(actor, &n, &name)
            .await
            .map(|d| messages::templates::draft_preview(&d, style)),
        Command::TemplateAdd(name, body) => desk
            .add_template(actor, &name, &body)
            .await
            .map(|n| messages::templates::added(&n)),
        Command::TemplateEdit(name, body) => desk
            .edit_template(actor, &name, &body)
            .await
            .map(|n| messages::templates::edited(&n)),
        Command::TemplateRemove(name) => desk
            .remove_template(actor, &name)
            .await
            .map(|n| messages::templates::removed(&n)),
        Command::TemplateList => desk
            .templates()
            .await
            .map(|l| messages::templates::list(&l, style)),
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
        assert_eq!(
            parse("list", "").unwrap(),
            Command::List(Default::default())
        );
        assert_eq!(
            parse("desk", "mine").unwrap(),
            Command::Mine(Default::default())
        );
        assert_eq!(
            parse("desk", "unassigned").unwrap(),
            Command::Unassigned(Default::default())
        );
        assert_eq!(parse("desk", "workload").unwrap(), Command::Workload);
        assert_eq!(
            parse("desk", "ticket TICK-2026-0001").unwrap(),
            Command::Ticket("TICK-2026-0001".into())
        );
        assert_eq!(parse("/desk", "").unwrap(), Command::Help(None));
        assert_eq!(
            parse("/desk", "help agent add").unwrap(),
            Command::Help(Some("agent add".into()))
        );
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
