//! The words of personal notifications: the direct message an agent gets (one notice, or
//! several folded into one), and the `notify` command's answers and refusals.

use chrono::{DateTime, Utc};

use super::{age, sla_metric, timestamp, Mention};
use crate::domain::notify::{Change, ChangeError, Kind, Prefs};
use crate::domain::sla::Metric;
use crate::store::notifications::Pending;

/// Most lines one direct message lists; the rest are counted ("… and 12 more").
pub const DM_LINES_MAX: usize = 10;

/// Longest subject quoted in a direct message, characters.
const SUBJECT_MAX: usize = 80;

fn subject(s: &str, style: Mention) -> String {
    style.escape(&crate::desk::query::truncate(s, SUBJECT_MAX))
}

/// One line per notice, customer answers on one ticket counted on one line, in order of
/// first appearance.
fn lines(notices: &[Pending], style: Mention, now: DateTime<Utc>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    // Index in `out` and count of the answers line of each ticket.
    let mut answers: Vec<(String, usize, usize)> = Vec::new();
    for n in notices {
        let subj = subject(&n.subject, style);
        match n.kind {
            Kind::Assigned => {
                let by = match n.detail["by"].as_str() {
                    Some(h) => format!("assigned by @{}", style.escape(h)),
                    None => "assigned automatically".to_string(),
                };
                out.push(format!("📥 {} “{subj}” is now yours ({by}).", n.number));
            }
            Kind::Replies => match answers.iter_mut().find(|(t, _, _)| *t == n.number) {
                Some((_, i, count)) => {
                    *count += 1;
                    out[*i] = format!(
                        "💬 The customer answered {} “{subj}” ({count} messages).",
                        n.number
                    );
                }
                None => {
                    answers.push((n.number.clone(), out.len(), 1));
                    out.push(format!("💬 The customer answered {} “{subj}”.", n.number));
                }
            },
            Kind::Sla => {
                let metric = n.detail["metric"]
                    .as_str()
                    .and_then(Metric::parse)
                    .map_or("an SLA goal", sla_metric);
                let due = n.detail["due"]
                    .as_str()
                    .and_then(|d| DateTime::parse_from_rfc3339(d).ok())
                    .map(|d| d.with_timezone(&Utc));
                let when = match due {
                    Some(d) if d > now => format!(
                        "due in {} ({})",
                        age((d - now).num_seconds() as f64),
                        timestamp(d)
                    ),
                    Some(d) => format!("was due {}", timestamp(d)),
                    None => "due soon".to_string(),
                };
                out.push(format!("⏳ {} “{subj}”: {metric} {when}.", n.number));
            }
        }
    }
    out
}

/// The direct message for `notices` (one agent's, oldest first) at `now`, in `style`'s
/// markup: one line for a single notice, else a heading and a line each (customer answers
/// on one ticket on one line), at most [`DM_LINES_MAX`] lines. `held` says they were held
/// by quiet hours. Empty for no notices.
pub fn dm(notices: &[Pending], style: Mention, now: DateTime<Utc>, held: bool) -> String {
    let lines = lines(notices, style, now);
    if lines.is_empty() {
        return String::new();
    }
    if lines.len() == 1 && !held {
        return lines[0].clone();
    }
    let heading = if held {
        format!(
            "🔔 While your notifications were quiet: {} on your tickets",
            updates(lines.len())
        )
    } else {
        format!("🔔 {} on your tickets", updates(lines.len()))
    };
    let mut out = vec![heading];
    out.extend(lines.iter().take(DM_LINES_MAX).map(|l| format!("• {l}")));
    if lines.len() > DM_LINES_MAX {
        out.push(format!("… and {} more", lines.len() - DM_LINES_MAX));
    }
    out.join("\n")
}

fn updates(n: usize) -> String {
    if n == 1 {
        "1 update".into()
    } else {
        format!("{n} updates")
    }
}

fn on_off(b: bool) -> &'static str {
    if b {
        "on"
    } else {
        "off"
    }
}

/// What a kind is, for people.
fn kind_words(k: Kind) -> &'static str {
    match k {
        Kind::Assigned => "a ticket is assigned to you",
        Kind::Replies => "a customer answers a ticket you hold",
        Kind::Sla => "your ticket nears an SLA deadline",
    }
}

/// The `notify` answer showing `prefs`; `platforms` names where the agent can get DMs
/// (`Slack`, `Discord`), empty when they have no user id on any active platform; `fold_secs`
/// is the fold window.
pub fn prefs(p: &Prefs, platforms: &[&str], fold_secs: u64) -> String {
    let mut out = vec!["Your notifications (direct messages):".to_string()];
    for k in Kind::ALL {
        out.push(format!(
            "• `{}` {} — when {}",
            k.as_str(),
            on_off(p.wants(k)),
            kind_words(k)
        ));
    }
    out.push(match &p.quiet {
        Some(q) => format!(
            "• `quiet` {} — held, then sent as one summary",
            q.describe()
        ),
        None => "• `quiet` off".to_string(),
    });
    out.push(format!(
        "Customer answers within {} arrive as one message.",
        age(fold_secs as f64)
    ));
    if platforms.is_empty() {
        out.push(
            "⚠ You have no chat user id on an active platform, so no DM can reach you.".into(),
        );
    } else {
        out.push(format!("Sent to you on {}.", platforms.join(" and ")));
    }
    out.push(format!("Change: {}", usage()));
    out.join("\n")
}

/// The confirmation of `change`.
pub fn changed(change: &Change) -> String {
    match change {
        Change::Show => String::new(),
        Change::Kind(k, true) => format!(
            "Notifications `{}` on: you get a DM when {}.",
            k.as_str(),
            kind_words(*k)
        ),
        Change::Kind(k, false) => format!(
            "Notifications `{}` off: nothing is recorded or sent when {}.",
            k.as_str(),
            kind_words(*k)
        ),
        Change::Quiet(Some(q)) => format!(
            "Quiet hours {}: nothing is sent then; the first message after them lists what came in.",
            q.describe()
        ),
        Change::Quiet(None) => "Quiet hours off.".to_string(),
    }
}

/// How `notify` is typed.
pub fn usage() -> &'static str {
    "`notify`, `notify <assigned|replies|sla> <on|off>`, `notify quiet 22:00-07:00 Europe/Berlin`, `notify quiet off`"
}

/// Why a `notify …` line was refused, with how to type it.
pub fn change_error(e: &ChangeError) -> String {
    let why = match e {
        ChangeError::UnknownSetting(w) => format!(
            "`{}` is not a notification setting: use `assigned`, `replies`, `sla` or `quiet`.",
            Mention::Plain.escape(w)
        ),
        ChangeError::OnOff(k, w) if w.is_empty() => {
            format!("Say `on` or `off` after `{}`.", k.as_str())
        }
        ChangeError::OnOff(k, w) => format!(
            "`{}` is neither `on` nor `off` (for `{}`).",
            Mention::Plain.escape(w),
            k.as_str()
        ),
        ChangeError::QuietRange(r) if r.is_empty() => {
            "Give quiet hours as `HH:MM-HH:MM` and your time zone, or `off`.".to_string()
        }
        ChangeError::QuietRange(r) => format!(
            "`{}` is not a range of hours: write `HH:MM-HH:MM`, e.g. `22:00-07:00`.",
            Mention::Plain.escape(r)
        ),
        ChangeError::QuietEmpty(r) => format!(
            "`{}` starts when it ends: quiet hours need a start and a different end.",
            Mention::Plain.escape(r)
        ),
        ChangeError::QuietNoZone => {
            "Add your time zone after the hours, e.g. `22:00-07:00 Europe/Berlin`.".to_string()
        }
        ChangeError::QuietZone(z) => format!(
            "`{}` is not a time zone: use an IANA name such as `Europe/Berlin`, `America/New_York` or `UTC`.",
            Mention::Plain.escape(z)
        ),
        ChangeError::TooMuch(w) => format!(
            "Too many words: `{}` is more than the setting takes.",
            Mention::Plain.escape(w)
        ),
    };
    format!("{why}\nUsage: {}", usage())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pending(kind: Kind, number: &str, subject: &str, detail: serde_json::Value) -> Pending {
        Pending {
            id: 1,
            kind,
            number: number.into(),
            subject: subject.into(),
            detail,
            at: Utc::now(),
        }
    }

    #[test]
    fn answers_on_one_ticket_share_a_line_and_subjects_are_escaped() {
        let now = Utc::now();
        let n = vec![
            pending(
                Kind::Replies,
                "TICK-1",
                "<!channel> help",
                serde_json::json!({}),
            ),
            pending(
                Kind::Assigned,
                "TICK-2",
                "Export",
                serde_json::json!({"by": "ana"}),
            ),
            pending(
                Kind::Replies,
                "TICK-1",
                "<!channel> help",
                serde_json::json!({}),
            ),
        ];
        let text = dm(&n, Mention::Slack, now, false);
        assert!(text.starts_with("🔔 2 updates on your tickets"), "{text}");
        assert!(
            text.contains("TICK-1 “&lt;!channel&gt; help” (2 messages)"),
            "{text}"
        );
        assert!(
            text.contains("TICK-2 “Export” is now yours (assigned by @ana)"),
            "{text}"
        );
        let one = dm(&n[1..2], Mention::Discord, now, false);
        assert!(!one.contains('\n'), "{one}");
        let held = dm(&n[1..2], Mention::Discord, now, true);
        assert!(
            held.starts_with("🔔 While your notifications were quiet"),
            "{held}"
        );
    }

    #[test]
    fn a_long_night_fits_one_message() {
        let now = Utc::now();
        let n: Vec<Pending> = (0..500)
            .map(|i| {
                pending(
                    Kind::Assigned,
                    &format!("TICK-{i}"),
                    &"s".repeat(5000),
                    serde_json::json!({}),
                )
            })
            .collect();
        let text = dm(&n, Mention::Discord, now, true);
        assert!(text.contains("… and 490 more"), "{text}");
        assert!(text.chars().count() <= 2000, "{}", text.chars().count());
    }
}
