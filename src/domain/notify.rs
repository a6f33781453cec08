//! Personal notifications, the rules without I/O: the kinds of notice an agent can get, their
//! choices (each kind on or off, quiet hours in their own time zone), how the `notify`
//! command's text is read, and when a fold of pending notices is due.
//!
//! Folding: an assignment or an SLA warning is due at once; a customer answer waits `fold`
//! (config `[notify] fold_secs`) so that a burst of answers becomes one message. When any
//! pending notice of an agent is due, every pending notice of that agent goes in the same
//! message. During quiet hours nothing is due; the fold is due when they end, so the first
//! message after them lists everything held.

use std::str::FromStr;

use chrono::{DateTime, Duration, LocalResult, NaiveDateTime, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;

/// What a notice is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// A ticket was assigned to the agent by someone else (an admin or the assignment
    /// policy), not claimed by themselves.
    Assigned,
    /// A customer answered a ticket the agent holds.
    Replies,
    /// A ticket the agent holds nears an SLA deadline (the SLA warning).
    Sla,
}

impl Kind {
    /// Every kind, in the order they are shown.
    pub const ALL: [Kind; 3] = [Kind::Assigned, Kind::Replies, Kind::Sla];

    /// The stored name (`notifications.kind`), also the word typed in `notify`.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Assigned => "assigned",
            Kind::Replies => "replies",
            Kind::Sla => "sla",
        }
    }

    /// The kind a typed or stored word names (`assigned`, `replies`, `sla`, and the
    /// singular or verb forms people type: `assign`, `assignments`, `reply`, `answers`),
    /// case-insensitive.
    pub fn parse(word: &str) -> Option<Kind> {
        match word.trim().to_ascii_lowercase().as_str() {
            "assigned" | "assign" | "assignment" | "assignments" => Some(Kind::Assigned),
            "replies" | "reply" | "answers" | "answer" => Some(Kind::Replies),
            "sla" => Some(Kind::Sla),
            _ => None,
        }
    }

    /// How long a notice of this kind waits for others to fold with: none for an assignment
    /// or an SLA warning, `fold` for a customer answer.
    pub fn delay(self, fold: Duration) -> Duration {
        match self {
            Kind::Replies => fold.max(Duration::zero()),
            Kind::Assigned | Kind::Sla => Duration::zero(),
        }
    }
}

/// Quiet hours: every day from `start` to `end`, local wall-clock time in `zone`. A range
/// whose end is not after its start spans midnight (22:00–07:00).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuietHours {
    /// First quiet minute, local time.
    pub start: NaiveTime,
    /// First minute no longer quiet, local time.
    pub end: NaiveTime,
    /// The agent's time zone (IANA).
    pub zone: Tz,
}

impl QuietHours {
    /// Whether instant `at` falls in the quiet hours (judged by the local wall-clock time
    /// at that instant, so the hours follow daylight saving time).
    pub fn contains(&self, at: DateTime<Utc>) -> bool {
        let t = at.with_timezone(&self.zone).time();
        if self.start < self.end {
            self.start <= t && t < self.end
        } else {
            t >= self.start || t < self.end
        }
    }

    /// The first instant after `at` at which the local time is `end`: when quiet hours that
    /// hold `at` are over. An end inside a skipped hour (spring forward) is the moment the
    /// clocks jump; one inside a repeated hour (fall back) is its first occurrence after `at`.
    pub fn end_after(&self, at: DateTime<Utc>) -> DateTime<Utc> {
        let local = at.with_timezone(&self.zone).date_naive();
        for days in 0..3 {
            let Some(day) = local.checked_add_signed(Duration::days(days)) else {
                break;
            };
            if let Some(instant) = instants(self.zone, day.and_time(self.end))
                .into_iter()
                .find(|i| *i > at)
            {
                return instant;
            }
        }
        // Unreachable for real zones (a day later is always after `at`); never stuck.
        at + Duration::days(1)
    }

    /// `22:00-07:00 Europe/Berlin`.
    pub fn describe(&self) -> String {
        format!(
            "{}-{} {}",
            self.start.format("%H:%M"),
            self.end.format("%H:%M"),
            self.zone.name()
        )
    }
}

/// The instants of local time `local` in `zone`, earliest first: one, two for a repeated
/// time, and for a time the clocks skip the moment they jump (the first existing minute
/// after it).
fn instants(zone: Tz, local: NaiveDateTime) -> Vec<DateTime<Utc>> {
    let mut t = local;
    // Gaps are at most a few hours; a day of minutes is a safe bound.
    for _ in 0..(24 * 60) {
        match zone.from_local_datetime(&t) {
            LocalResult::Single(x) => return vec![x.with_timezone(&Utc)],
            LocalResult::Ambiguous(a, b) => {
                return vec![a.with_timezone(&Utc), b.with_timezone(&Utc)]
            }
            LocalResult::None => t += Duration::minutes(1),
        }
    }
    vec![Utc.from_utc_datetime(&local)]
}

/// One agent's choices. The default: every kind on, no quiet hours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Prefs {
    /// DM when a ticket is assigned to them.
    pub assigned: bool,
    /// DM when a customer answers a ticket they hold.
    pub replies: bool,
    /// DM when their ticket nears an SLA deadline.
    pub sla: bool,
    /// When nothing is sent.
    pub quiet: Option<QuietHours>,
}

impl Default for Prefs {
    fn default() -> Self {
        Prefs {
            assigned: true,
            replies: true,
            sla: true,
            quiet: None,
        }
    }
}

impl Prefs {
    /// Whether notices of `kind` are wanted (a kind turned off records nothing).
    pub fn wants(&self, kind: Kind) -> bool {
        match kind {
            Kind::Assigned => self.assigned,
            Kind::Replies => self.replies,
            Kind::Sla => self.sla,
        }
    }

    /// These choices with `kind` turned `on` or off.
    pub fn with(mut self, kind: Kind, on: bool) -> Prefs {
        match kind {
            Kind::Assigned => self.assigned = on,
            Kind::Replies => self.replies = on,
            Kind::Sla => self.sla = on,
        }
        self
    }
}

/// What a `notify …` line asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// `notify`: show the choices.
    Show,
    /// `notify replies off`: one kind on or off.
    Kind(Kind, bool),
    /// `notify quiet 22:00-07:00 Europe/Berlin`, or `notify quiet off` (`None`).
    Quiet(Option<QuietHours>),
}

/// Why a `notify …` line was refused; `desk::messages::notify` words each for the agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChangeError {
    /// The first word is neither a kind nor `quiet`.
    UnknownSetting(String),
    /// A kind without `on` or `off` (or with something else).
    OnOff(Kind, String),
    /// `quiet` without a range, or with a range that is not `HH:MM-HH:MM`.
    QuietRange(String),
    /// A range that starts when it ends (no hours, or all of them).
    QuietEmpty(String),
    /// `quiet` with a range but no time zone.
    QuietNoZone,
    /// A time zone that is not an IANA name.
    QuietZone(String),
    /// More words than the setting takes.
    TooMuch(String),
}

/// Reads the text typed after `notify` (see [`Change`]); words are case-insensitive except
/// the time zone, whose IANA name is matched as written, then case-insensitively.
///
/// Errors: [`ChangeError`] naming what is wrong.
pub fn parse_change(text: &str) -> Result<Change, ChangeError> {
    let words: Vec<&str> = text.split_whitespace().collect();
    let Some((first, rest)) = words.split_first() else {
        return Ok(Change::Show);
    };
    if first.eq_ignore_ascii_case("quiet") {
        return parse_quiet(rest);
    }
    let kind = Kind::parse(first).ok_or_else(|| ChangeError::UnknownSetting(first.to_string()))?;
    let on = match rest {
        [w] => match w.to_ascii_lowercase().as_str() {
            "on" | "yes" | "true" => true,
            "off" | "no" | "false" => false,
            _ => return Err(ChangeError::OnOff(kind, w.to_string())),
        },
        [] => return Err(ChangeError::OnOff(kind, String::new())),
        more => return Err(ChangeError::TooMuch(more[1..].join(" "))),
    };
    Ok(Change::Kind(kind, on))
}

fn parse_quiet(rest: &[&str]) -> Result<Change, ChangeError> {
    match rest {
        [] => Err(ChangeError::QuietRange(String::new())),
        [w] if w.eq_ignore_ascii_case("off") => Ok(Change::Quiet(None)),
        [range] => {
            parse_range(range)?;
            Err(ChangeError::QuietNoZone)
        }
        [range, zone] => {
            let (start, end) = parse_range(range)?;
            let zone = parse_zone(zone)?;
            Ok(Change::Quiet(Some(QuietHours { start, end, zone })))
        }
        [_, _, more @ ..] => Err(ChangeError::TooMuch(more.join(" "))),
    }
}

/// `HH:MM-HH:MM` (one-digit hours allowed; `24:00` as an end means midnight).
fn parse_range(text: &str) -> Result<(NaiveTime, NaiveTime), ChangeError> {
    let bad = || ChangeError::QuietRange(text.to_string());
    let (a, b) = text.split_once('-').ok_or_else(bad)?;
    let time = |s: &str| -> Option<NaiveTime> {
        let (h, m) = s.trim().split_once(':')?;
        if h.is_empty() || h.len() > 2 || m.len() != 2 {
            return None;
        }
        let h: u32 = h.parse().ok()?;
        let m: u32 = m.parse().ok()?;
        if h == 24 && m == 0 {
            return NaiveTime::from_hms_opt(0, 0, 0);
        }
        NaiveTime::from_hms_opt(h, m, 0)
    };
    let start = time(a).ok_or_else(bad)?;
    let end = time(b).ok_or_else(bad)?;
    if start == end {
        return Err(ChangeError::QuietEmpty(text.to_string()));
    }
    Ok((start, end))
}

/// An IANA zone name, as written or case-insensitively (`europe/berlin`).
pub fn parse_zone(text: &str) -> Result<Tz, ChangeError> {
    if let Ok(z) = Tz::from_str(text) {
        return Ok(z);
    }
    chrono_tz::TZ_VARIANTS
        .iter()
        .find(|z| z.name().eq_ignore_ascii_case(text))
        .copied()
        .ok_or_else(|| ChangeError::QuietZone(text.to_string()))
}

/// When the pending notices `pending` (`(kind, recorded at)`) of one agent are due as one
/// message, given the fold window `fold`, the agent's `quiet` hours and the time `now`:
/// the earliest notice's moment (its time plus [`Kind::delay`]); inside quiet hours, when
/// they end. A result at or before `now` means: send now. `None` when nothing is pending.
pub fn due_at(
    pending: &[(Kind, DateTime<Utc>)],
    fold: Duration,
    quiet: Option<&QuietHours>,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    let earliest = pending.iter().map(|(k, at)| *at + k.delay(fold)).min()?;
    let Some(q) = quiet else {
        return Some(earliest);
    };
    // A moment already past is judged now: quiet hours may have begun since.
    let at = earliest.max(now);
    if q.contains(at) {
        Some(q.end_after(at))
    } else {
        Some(earliest)
    }
}

/// Whether the message folding `pending` was held by `quiet` hours (and so opens with the
/// "While your notifications were quiet" heading): the moment it was first due — the
/// earliest notice's time plus its [`Kind::delay`], as in [`due_at`] — fell inside them. An
/// answer that arrived just before quiet hours but whose fold ended inside them was held.
pub fn held(pending: &[(Kind, DateTime<Utc>)], fold: Duration, quiet: Option<&QuietHours>) -> bool {
    let Some(q) = quiet else {
        return false;
    };
    pending
        .iter()
        .map(|(k, at)| *at + k.delay(fold))
        .min()
        .is_some_and(|due| q.contains(due))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pending notices: `(kind, recorded at)`.
    type Moments = Vec<(Kind, DateTime<Utc>)>;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .expect("rfc3339")
            .with_timezone(&Utc)
    }

    fn quiet(range: &str, zone: &str) -> QuietHours {
        match parse_change(&format!("quiet {range} {zone}")) {
            Ok(Change::Quiet(Some(q))) => q,
            other => panic!("{range} {zone}: {other:?}"),
        }
    }

    #[test]
    fn commands_are_read_or_refused_with_a_reason() {
        use ChangeError as E;
        let cases: &[(&str, Result<Change, ChangeError>)] = &[
            ("", Ok(Change::Show)),
            ("   ", Ok(Change::Show)),
            ("assigned off", Ok(Change::Kind(Kind::Assigned, false))),
            ("Replies ON", Ok(Change::Kind(Kind::Replies, true))),
            ("reply off", Ok(Change::Kind(Kind::Replies, false))),
            ("sla no", Ok(Change::Kind(Kind::Sla, false))),
            ("quiet off", Ok(Change::Quiet(None))),
            ("QUIET OFF", Ok(Change::Quiet(None))),
            ("sla", Err(E::OnOff(Kind::Sla, String::new()))),
            ("sla maybe", Err(E::OnOff(Kind::Sla, "maybe".into()))),
            ("sla on now", Err(E::TooMuch("now".into()))),
            ("loud on", Err(E::UnknownSetting("loud".into()))),
            ("quiet", Err(E::QuietRange(String::new()))),
            ("quiet 22-07 UTC", Err(E::QuietRange("22-07".into()))),
            (
                "quiet 25:00-07:00 UTC",
                Err(E::QuietRange("25:00-07:00".into())),
            ),
            (
                "quiet 22:60-07:00 UTC",
                Err(E::QuietRange("22:60-07:00".into())),
            ),
            ("quiet 22:00-07:00", Err(E::QuietNoZone)),
            (
                "quiet 22:00-22:00 UTC",
                Err(E::QuietEmpty("22:00-22:00".into())),
            ),
            (
                "quiet 22:00-07:00 Mars/Olympus",
                Err(E::QuietZone("Mars/Olympus".into())),
            ),
            (
                "quiet 22:00-07:00 UTC please",
                Err(E::TooMuch("please".into())),
            ),
        ];
        for (text, want) in cases {
            assert_eq!(&parse_change(text), want, "{text:?}");
        }
        let q = quiet("22:00-07:00", "europe/berlin");
        assert_eq!(q.describe(), "22:00-07:00 Europe/Berlin");
        assert_eq!(quiet("9:30-24:00", "UTC").describe(), "09:30-00:00 UTC");
    }

    #[test]
    fn quiet_hours_as_a_table_across_midnight_zones_and_dst() {
        let night_berlin = quiet("22:00-07:00", "Europe/Berlin");
        let lunch_ny = quiet("12:00-13:00", "America/New_York");
        let night_utc = quiet("23:30-00:30", "UTC");
        // Berlin's spring forward: 2026-03-29 02:00 → 03:00 (01:00 UTC).
        let dst_gap = quiet("22:00-02:30", "Europe/Berlin");
        // Berlin's fall back: 2026-10-25 03:00 → 02:00 (01:00 UTC); 02:30 happens twice.
        let dst_twice = quiet("22:00-02:30", "Europe/Berlin");
        #[rustfmt::skip]
        let cases: &[(&QuietHours, &str, bool, Option<&str>)] = &[
            // Winter in Berlin is UTC+1: 22:00 local = 21:00 UTC.
            (&night_berlin, "2026-01-10T20:59:00Z", false, None),
            (&night_berlin, "2026-01-10T21:00:00Z", true, Some("2026-01-11T06:00:00Z")),
            (&night_berlin, "2026-01-10T23:59:00Z", true, Some("2026-01-11T06:00:00Z")),
            (&night_berlin, "2026-01-11T05:59:00Z", true, Some("2026-01-11T06:00:00Z")),
            (&night_berlin, "2026-01-11T06:00:00Z", false, None),
            // Summer is UTC+2: the same local hours are an hour earlier in UTC.
            (&night_berlin, "2026-07-10T20:00:00Z", true, Some("2026-07-11T05:00:00Z")),
            (&night_berlin, "2026-07-11T05:00:00Z", false, None),
            // The night the clocks spring forward: 22:00 (UTC+1) to 07:00 (UTC+2).
            (&night_berlin, "2026-03-28T21:30:00Z", true, Some("2026-03-29T05:00:00Z")),
            // The night they fall back: 22:00 (UTC+2) to 07:00 (UTC+1).
            (&night_berlin, "2026-10-24T20:30:00Z", true, Some("2026-10-25T06:00:00Z")),
            // An end inside the skipped hour: quiet ends when the clocks jump (01:00 UTC).
            (&dst_gap, "2026-03-28T23:00:00Z", true, Some("2026-03-29T01:00:00Z")),
            // An end inside the repeated hour: its first occurrence (00:30 UTC).
            (&dst_twice, "2026-10-24T23:00:00Z", true, Some("2026-10-25T00:30:00Z")),
            // Back in the repeated hour (02:10 the second time): quiet until its second 02:30.
            (&dst_twice, "2026-10-25T01:10:00Z", true, Some("2026-10-25T01:30:00Z")),
            // A daytime range in New York (UTC-5 in winter, UTC-4 in summer).
            (&lunch_ny, "2026-01-15T17:30:00Z", true, Some("2026-01-15T18:00:00Z")),
            (&lunch_ny, "2026-07-15T16:30:00Z", true, Some("2026-07-15T17:00:00Z")),
            (&lunch_ny, "2026-07-15T17:30:00Z", false, None),
            // A short range across midnight in UTC, on both sides of midnight.
            (&night_utc, "2026-05-01T23:45:00Z", true, Some("2026-05-02T00:30:00Z")),
            (&night_utc, "2026-05-02T00:15:00Z", true, Some("2026-05-02T00:30:00Z")),
            (&night_utc, "2026-05-02T00:30:00Z", false, None),
            (&night_utc, "2026-05-01T23:29:00Z", false, None),
        ];
        for (q, at, inside, end) in cases {
            let at_t = utc(at);
            assert_eq!(q.contains(at_t), *inside, "{} at {at}", q.describe());
            if let Some(end) = end {
                assert_eq!(
                    q.end_after(at_t),
                    utc(end),
                    "{} end after {at}",
                    q.describe()
                );
                assert!(
                    !q.contains(utc(end)),
                    "{} not quiet at its end",
                    q.describe()
                );
            }
        }
    }

    #[test]
    fn folding_and_holding_as_a_table() {
        let fold = Duration::seconds(120);
        let night = quiet("22:00-07:00", "UTC");
        let t = utc("2026-05-01T12:00:00Z");
        let s = Duration::seconds;
        #[rustfmt::skip]
        type Case<'q> = (&'q str, Moments, Option<&'q QuietHours>, DateTime<Utc>, Option<DateTime<Utc>>);
        let cases: Vec<Case> = vec![
            ("nothing pending", vec![], None, t, None),
            (
                "an assignment is due at once",
                vec![(Kind::Assigned, t)],
                None,
                t,
                Some(t),
            ),
            (
                "an SLA warning is due at once",
                vec![(Kind::Sla, t)],
                None,
                t,
                Some(t),
            ),
            (
                "an answer waits for the fold",
                vec![(Kind::Replies, t)],
                None,
                t,
                Some(t + fold),
            ),
            (
                "answers fold from the first",
                vec![(Kind::Replies, t), (Kind::Replies, t + s(90))],
                None,
                t + s(100),
                Some(t + fold),
            ),
            (
                "an assignment takes the answers along",
                vec![(Kind::Replies, t), (Kind::Assigned, t + s(30))],
                None,
                t + s(30),
                Some(t + s(30)),
            ),
            (
                "quiet hours hold an assignment",
                vec![(Kind::Assigned, utc("2026-05-01T23:00:00Z"))],
                Some(&night),
                utc("2026-05-01T23:00:00Z"),
                Some(utc("2026-05-02T07:00:00Z")),
            ),
            (
                "a fold ending in quiet hours waits for their end",
                vec![(Kind::Replies, utc("2026-05-01T21:59:00Z"))],
                Some(&night),
                utc("2026-05-01T21:59:00Z"),
                Some(utc("2026-05-02T07:00:00Z")),
            ),
            (
                "a fold due before quiet hours but swept in them waits",
                vec![(Kind::Assigned, utc("2026-05-01T21:00:00Z"))],
                Some(&night),
                utc("2026-05-01T22:30:00Z"),
                Some(utc("2026-05-02T07:00:00Z")),
            ),
            (
                "after quiet hours the held notices are due",
                vec![
                    (Kind::Assigned, utc("2026-05-01T23:00:00Z")),
                    (Kind::Replies, utc("2026-05-02T01:00:00Z")),
                ],
                Some(&night),
                utc("2026-05-02T07:00:01Z"),
                Some(utc("2026-05-01T23:00:00Z")),
            ),
            (
                "outside quiet hours nothing changes",
                vec![(Kind::Replies, t)],
                Some(&night),
                t,
                Some(t + fold),
            ),
        ];
        for (what, pending, q, now, want) in cases {
            assert_eq!(due_at(&pending, fold, q, now), want, "{what}");
        }
    }

    #[test]
    fn held_is_judged_at_the_moment_the_message_was_due() {
        let fold = Duration::seconds(120);
        let night = quiet("22:00-07:00", "UTC");
        let at = utc;
        #[rustfmt::skip]
        let cases: Vec<(&str, Moments, Option<&QuietHours>, bool)> = vec![
            ("nothing pending", vec![], Some(&night), false),
            ("no quiet hours", vec![(Kind::Assigned, at("2026-05-01T23:00:00Z"))], None, false),
            ("an assignment in quiet hours", vec![(Kind::Assigned, at("2026-05-01T23:00:00Z"))], Some(&night), true),
            ("an assignment just before them", vec![(Kind::Assigned, at("2026-05-01T21:59:00Z"))], Some(&night), false),
            ("an answer before them whose fold ends in them", vec![(Kind::Replies, at("2026-05-01T21:59:00Z"))], Some(&night), true),
            ("an answer whose fold ends before them", vec![(Kind::Replies, at("2026-05-01T21:57:00Z"))], Some(&night), false),
            ("an answer in them whose fold ends after them", vec![(Kind::Replies, at("2026-05-02T06:59:00Z"))], Some(&night), false),
            ("the earliest due decides, not the oldest", vec![(Kind::Replies, at("2026-05-01T21:59:00Z")), (Kind::Assigned, at("2026-05-01T22:00:30Z"))], Some(&night), true),
            ("an assignment before them takes a later answer along", vec![(Kind::Replies, at("2026-05-01T21:50:00Z")), (Kind::Assigned, at("2026-05-01T21:51:00Z"))], Some(&night), false),
            ("midday", vec![(Kind::Sla, at("2026-05-01T12:00:00Z"))], Some(&night), false),
        ];
        for (what, pending, q, want) in cases {
            assert_eq!(held(&pending, fold, q), want, "{what}");
        }
    }

    #[test]
    fn kinds_round_trip_and_default_prefs_want_everything() {
        for k in Kind::ALL {
            assert_eq!(Kind::parse(k.as_str()), Some(k));
            assert!(Prefs::default().wants(k));
            assert!(!Prefs::default().with(k, false).wants(k));
        }
    }
}
