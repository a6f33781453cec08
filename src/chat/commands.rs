//! The command set shared by every surface: parse the text people type, run the use case,
//! word the answer. Slack `/claim`, Discord `/claim`, and `claim` on the console all end here.

use crate::desk::{Actor, Desk};

use super::messages;

/// A parsed command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `claim <ticket>`.
    Claim(String),
    /// `unclaim <ticket>`.
    Unclaim(String),
    /// `reply <ticket> <text>`.
    Reply(String, String),
    /// `list`.
    List,
    /// `help`.
    Help,
}

/// Why typed text is not a command; the message says how to type it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Usage(pub String);

/// Parses `name` (with or without a leading `/`; `desk` takes the subcommand from `args`)
/// and its argument text.
pub fn parse(name: &str, args: &str) -> Result<Command, Usage> {
    let name = name.trim().trim_start_matches('/').to_ascii_lowercase();
    let args = args.trim();
    if name == "desk" {
        let (sub, rest) = args.split_once(char::is_whitespace).unwrap_or((args, ""));
        return parse(sub, rest);
    }
    let (first, rest) = args.split_once(char::is_whitespace).unwrap_or((args, ""));
    let need_ticket = |cmd: &str| {
        if first.is_empty() {
            Err(Usage(format!(
                "Usage: {cmd} <ticket>, e.g. {cmd} TICK-2026-0001"
            )))
        } else {
            Ok(first.to_string())
        }
    };
    match name.as_str() {
        "claim" => Ok(Command::Claim(need_ticket("claim")?)),
        "unclaim" => Ok(Command::Unclaim(need_ticket("unclaim")?)),
        "reply" => {
            let t = need_ticket("reply")?;
            if rest.trim().is_empty() {
                return Err(Usage(
                    "Usage: reply <ticket> <text>, e.g. reply TICK-2026-0001 Thanks, fixed now."
                        .into(),
                ));
            }
            Ok(Command::Reply(t, rest.trim().to_string()))
        }
        "list" | "tickets" => Ok(Command::List),
        "help" | "" => Ok(Command::Help),
        other => Err(Usage(format!(
            "Unknown command `{other}`. {}",
            messages::USAGE
        ))),
    }
}

/// Runs `cmd` as `actor` and returns the answer to show them (privately on chat platforms).
pub async fn execute(desk: &Desk, actor: &Actor, cmd: Command) -> String {
    let r = match cmd {
        Command::Claim(n) => desk.claim(actor, &n).await.map(|o| messages::claimed(&o)),
        Command::Unclaim(n) => desk
            .unclaim(actor, &n)
            .await
            .map(|o| messages::unclaimed(&o)),
        Command::Reply(n, text) => desk
            .reply(actor, &n, &text)
            .await
            .map(|o| messages::replied(&o)),
        Command::List => desk.list().await.map(|ts| {
            let open: Vec<String> = ts
                .iter()
                .filter(|t| !matches!(t.status.as_str(), "closed" | "merged" | "resolved"))
                .map(messages::summary_line)
                .collect();
            if open.is_empty() {
                "No open tickets.".to_string()
            } else {
                open.join("\n")
            }
        }),
        Command::Help => Ok(messages::USAGE.to_string()),
    };
    match r {
        Ok(text) => text,
        Err(e) => {
            if let crate::desk::DeskError::Store(err) = &e {
                tracing::error!(error = %err, "command failed on storage");
            }
            messages::error(&e)
        }
    }
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
        assert_eq!(parse("/desk", "").unwrap(), Command::Help);
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
