//! The words of personal notifications: the direct message an agent gets (one notice, or
//! several folded into one), and the `notify` command's answers and refusals.

use chrono::{DateTime, Utc};

use super::{age, sla_metric, timestamp, Mention};
use crate::domain::notify::{Change, ChangeError, Kind, Prefs};
use crate::domain::sla::Metric;
use crate::store::notifications::Pending;

/// Most lines one direct message lists; the rest are counted ("… and 12 more").
pub const DM_LINES_MAX: usize = 10;

/// Longest subject quoted in a direct message, characters (cut before escaping, so no
/// escape is cut in half; the whole message is fitted after escaping, see [`dm_max`]).
const SUBJECT_MAX: usize = 80;

/// Most characters of one direct message in `style`: Slack 3,000 (the section block our DMs
/// are, `chat::slack` `SECTION_TEXT_MAX`), Discord 2,000 (message `content`); the terminal
/// has no limit.
pub fn dm_max(style: Mention) -> usize {
    match style {
        Mention::Slack => 3000,
        Mention::Discord => 2000,
        Mention::Plain => usize::MAX,
    }
}

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
    // Lines are escaped already: they are fitted within the platform's limit here, so the
    // transport never cuts the message (and its "… and N more") off.
    let max = dm_max(style);
    let count = |s: &str| s.chars().count();
    let mut used = count(&heading);
    let mut out = vec![heading];
    for (i, l) in lines.iter().take(DM_LINES_MAX).enumerate() {
        let item = format!("• {l}");
        let left = lines.len() - i - 1;
        let tail = if left > 0 {
            1 + count(&format!("… and {left} more"))
        } else {
            0
        };
        if used + 1 + count(&item) + tail > max {
            break;
        }
        used += 1 + count(&item);
        out.push(item);
    }
    let shown = out.len() - 1;
    if shown < lines.len() {
        out.push(format!("… and {} more", lines.len() - shown));
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
            super::typed_word(w)
        ),
        ChangeError::OnOff(k, w) if w.is_empty() => {
            format!("Say `on` or `off` after `{}`.", k.as_str())
        }
        ChangeError::OnOff(k, w) => format!(
            "`{}` is neither `on` nor `off` (for `{}`).",
            super::typed_word(w),
            k.as_str()
        ),
        ChangeError::QuietRange(r) if r.is_empty() => {
            "Give quiet hours as `HH:MM-HH:MM` and your time zone, or `off`.".to_string()
        }
        ChangeError::QuietRange(r) => format!(
            "`{}` is not a range of hours: write `HH:MM-HH:MM`, e.g. `22:00-07:00`.",
            super::typed_word(r)
        ),
        ChangeError::QuietEmpty(r) => format!(
            "`{}` starts when it ends: quiet hours need a start and a different end.",
            super::typed_word(r)
        ),
        ChangeError::QuietNoZone => {
            "Add your time zone after the hours, e.g. `22:00-07:00 Europe/Berlin`.".to_string()
        }
        ChangeError::QuietZone(z) => format!(
            "`{}` is not a time zone: use an IANA name such as `Europe/Berlin`, `America/New_York` or `UTC`.",
            super::typed_word(z)
        ),
        ChangeError::TooMuch(w) => format!(
            "Too many words: `{}` is more than the setting takes.",
            super::typed_word(w)
        ),
    };
    format!("{why}\nUsage: {}", usage())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dms_full_of_markup_fit_the_platform_and_keep_the_count_line() {
        let now = Utc::now();
        for subject in ["<".repeat(200), "*".repeat(200), "<*&>_~`|".repeat(30)] {
            for n in [2usize, 9, 10, 11, 30] {
                let notices: Vec<Pending> = (0..n)
                    .map(|i| {
                        pending(
                            Kind::Assigned,
                            &format!("TICK-2026-{i:04}"),
                            &subject,
                            serde_json::json!({"by": "<@U1>*ana*"}),
                        )
                    })
                    .collect();
                for style in [Mention::Slack, Mention::Discord] {
                    let text = dm(&notices, style, now, true);
                    assert!(
                        text.chars().count() <= dm_max(style),
                        "{style:?} {n}: {} chars",
                        text.chars().count()
                    );
                    let shown = text.lines().filter(|l| l.starts_with("• ")).count();
                    let last = text.lines().last().unwrap_or("");
                    if shown < n {
                        assert_eq!(last, format!("… and {} more", n - shown), "{style:?} {n}");
                    } else {
                        assert!(last.starts_with("• "), "{style:?} {n}: {last}");
                    }
                    assert!(shown >= 1, "{style:?} {n}");
                }
            }
        }
    }

    #[test]
    fn refusals_echo_only_name_characters_on_every_surface() {
        let hostile = "<!channel> <@U123> *bold* `tick` @everyone _x_ ~y~ |z| &amp;";
        let answers = [
            change_error(&ChangeError::UnknownSetting(hostile.into())),
            change_error(&ChangeError::OnOff(Kind::Sla, hostile.into())),
            change_error(&ChangeError::QuietRange(hostile.into())),
            change_error(&ChangeError::QuietEmpty(hostile.into())),
            change_error(&ChangeError::QuietZone(hostile.into())),
            change_error(&ChangeError::TooMuch(hostile.into())),
            crate::desk::messages::templates::unknown(hostile, &[]),
            crate::desk::messages::templates::no_such(hostile),
            crate::desk::messages::templates::exists(hostile),
            crate::desk::messages::templates::from_config(hostile),
            crate::desk::messages::templates::not_saved(
                hostile,
                &crate::domain::templates::TemplateError::BadName(hostile.into()),
            ),
            crate::desk::messages::templates::not_saved(
                "ok",
                &crate::domain::templates::TemplateError::UnknownPlaceholder(hostile.into()),
            ),
        ];
        for a in answers {
            for bad in [
                "<!channel>",
                "<@U123>",
                "*bold*",
                "`tick`",
                "@everyone",
                "&amp;",
                "&lt;",
                "\\*",
                "\\_",
                "~y~",
                "|z|",
            ] {
                assert!(!a.contains(bad), "{bad:?} in {a}");
            }
            // The words survive, so the person sees what was refused.
            assert!(a.contains("channel"), "{a}");
        }
    }

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
