//! The words of tags: answers to `tag` and `untag`, refusals, how tags show on cards and in
//! listings, and how tag changes read in a ticket's history.
//!
//! Tags are our own validated words (`a-z`, `0-9`, `-`, `_`), yet they are escaped for the
//! platform like any text typed by someone (`_` is markdown on Discord).

use super::Mention;
use crate::desk::tags::{TagOutcome, UntagOutcome};
use crate::domain::tags::TagFilter;
use crate::store::audit::AuditRow;

/// The tags as a list: `billing, vip`, escaped for `style`.
pub fn list(tags: &[String], style: Mention) -> String {
    tags.iter()
        .map(|t| style.escape(t))
        .collect::<Vec<_>>()
        .join(", ")
}

/// ` · 🏷 billing, vip` appended to listing lines; empty for no tags.
pub fn suffix(tags: &[String], style: Mention) -> String {
    if tags.is_empty() {
        String::new()
    } else {
        format!(" · 🏷 {}", list(tags, style))
    }
}

/// The label of the card fact that lists the tags.
pub const CARD_FACT: &str = "Tags";

/// The answer to `tag`: what was added, what was there already, and the tags now.
pub fn tagged(o: &TagOutcome, style: Mention) -> String {
    let mut out = if o.added.is_empty() {
        format!(
            "{} already has {}; nothing changed.",
            o.number,
            list(&o.already, style)
        )
    } else {
        format!("{} tagged {}.", o.number, list(&o.added, style))
    };
    if !o.added.is_empty() && !o.already.is_empty() {
        out.push_str(&format!(" Already there: {}.", list(&o.already, style)));
    }
    out.push_str(&format!(" Tags now: {}.", now(&o.tags, style)));
    out
}

/// The answer to `untag`: what was removed, what was not there, and the tags now.
pub fn untagged(o: &UntagOutcome, style: Mention) -> String {
    let mut out = if o.removed.is_empty() {
        format!(
            "{} has no tag {}; nothing changed.",
            o.number,
            list(&o.absent, style)
        )
    } else {
        format!("{} untagged {}.", o.number, list(&o.removed, style))
    };
    if !o.removed.is_empty() && !o.absent.is_empty() {
        out.push_str(&format!(" Not there: {}.", list(&o.absent, style)));
    }
    out.push_str(&format!(" Tags now: {}.", now(&o.tags, style)));
    out
}

fn now(tags: &[String], style: Mention) -> String {
    if tags.is_empty() {
        "none".into()
    } else {
        list(tags, style)
    }
}

/// Refusal of tags outside `[tags] allowed`, with the list.
pub fn not_allowed(refused: &[String], allowed: &[String]) -> String {
    format!(
        "{} {} not an allowed tag. Allowed tags: {}.",
        refused.join(", "),
        if refused.len() == 1 { "is" } else { "are" },
        allowed.join(", ")
    )
}

/// Refusal past `[tags] max_per_ticket`.
pub fn too_many(number: &str, limit: usize, has: usize) -> String {
    format!(
        "{number} has {has} tag(s); a ticket carries at most {limit}. Remove one with `untag` first."
    )
}

/// A typed tag or filter that is not one, with how to write it.
pub fn bad_tag(detail: &str) -> String {
    format!("{detail}.")
}

/// What a listing says when a tag filter leaves nothing: `No open tickets tagged billing.`
pub fn none_tagged(what: &str, filter: &TagFilter) -> String {
    let tags: Vec<String> = filter.0.iter().map(|t| t.to_string()).collect();
    format!("No {what} tagged {}.", tags.join(" and "))
}

/// A listing's title with its filter: `Your tickets tagged billing, SLA due first`.
pub fn title(base: &str, filter: &TagFilter) -> String {
    if filter.is_empty() {
        return base.to_string();
    }
    let tags: Vec<String> = filter.0.iter().map(|t| t.to_string()).collect();
    match base.split_once(',') {
        Some((head, tail)) => format!("{head} tagged {},{tail}", tags.join(" and ")),
        None => format!("{base} tagged {}", tags.join(" and ")),
    }
}

/// A tag change in a ticket's history, instead of its bare action name: `tagged billing,
/// vip`, `untagged vip`, `tagged billing (priority high)` (by a rule). `None` for other
/// events. Who did it is [`history_actor`].
pub fn history_action(r: &AuditRow) -> Option<String> {
    let words = |key: &str| -> Vec<String> {
        r.after
            .as_ref()
            .and_then(|a| a.get(key))
            .and_then(|v| v.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    match r.action.as_str() {
        "ticket.tagged" => {
            let rule = r.actor.strip_prefix("rule:");
            let key = if rule.is_some() { "tags" } else { "added" };
            let tags = words(key);
            let mut out = if tags.is_empty() {
                "matched".to_string()
            } else {
                format!("tagged {}", tags.join(", "))
            };
            if rule.is_some() {
                let after = r.after.as_ref();
                for k in ["priority", "department"] {
                    if let Some(v) = after.and_then(|a| a.get(k)).and_then(|v| v.as_str()) {
                        out.push_str(&format!(" ({k} {v})"));
                    }
                }
            }
            Some(out)
        }
        "ticket.untagged" => Some(format!("untagged {}", words("removed").join(", "))),
        _ => None,
    }
}

/// Who made a change, as a history line names them: an intake rule's actor `rule:billing`
/// reads `rule billing` (so the line says "tagged billing by rule billing"); others as stored.
pub fn history_actor(actor: &str) -> String {
    match actor.strip_prefix("rule:") {
        Some(name) => format!("rule {name}"),
        None => actor.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(actor: &str, action: &str, after: serde_json::Value) -> AuditRow {
        AuditRow {
            at: "2026-12-01T09:00:00+00:00".into(),
            actor: actor.into(),
            surface: "email".into(),
            action: action.into(),
            before: None,
            after: Some(after),
        }
    }

    #[test]
    fn history_names_the_tags_and_the_rule() {
        let r = row(
            "rule:billing",
            "ticket.tagged",
            serde_json::json!({"tags": ["billing"], "priority": "high"}),
        );
        assert_eq!(
            history_action(&r).unwrap(),
            "tagged billing (priority high)"
        );
        assert_eq!(history_actor("rule:billing"), "rule billing");
        let r = row(
            "ana",
            "ticket.tagged",
            serde_json::json!({"tags": ["a", "vip"], "added": ["vip"]}),
        );
        assert_eq!(history_action(&r).unwrap(), "tagged vip");
        let r = row(
            "ana",
            "ticket.untagged",
            serde_json::json!({"tags": [], "removed": ["vip"]}),
        );
        assert_eq!(history_action(&r).unwrap(), "untagged vip");
        assert_eq!(
            history_action(&row("ana", "ticket.claimed", serde_json::json!({}))),
            None
        );
    }

    #[test]
    fn titles_and_answers_read_well() {
        let f = TagFilter::parse("tag:billing tag:vip").unwrap();
        assert_eq!(
            title("Your tickets, SLA due first", &f),
            "Your tickets tagged billing and vip, SLA due first"
        );
        assert_eq!(
            title("Unassigned, oldest first", &TagFilter::default()),
            "Unassigned, oldest first"
        );
        let o = TagOutcome {
            number: "TICK-2026-0001".into(),
            added: vec![],
            already: vec!["vip".into()],
            tags: vec!["vip".into()],
        };
        assert_eq!(
            tagged(&o, Mention::Plain),
            "TICK-2026-0001 already has vip; nothing changed. Tags now: vip."
        );
        assert_eq!(
            suffix(&["snake_case".into()], Mention::Discord),
            " · 🏷 snake\\_case"
        );
    }
}
