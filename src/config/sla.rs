//! `[sla]`: SLA policies per department and priority, working hours per department, the
//! warning share and what happens on a breach. Parsed and checked when the settings load, so
//! a bad zone name, hours range, date or duration refuses to start with the setting's path.
//!
//! ```toml
//! [sla]
//! enabled = true
//! warn_at = 0.75
//! pause_while_waiting = true
//! on_breach = "none"            # "ping_admins" | "return_to_queue"
//!
//! [sla.hours.default]           # or [sla.hours.<department>]
//! timezone = "Europe/Berlin"
//! mon = "09:00-17:00"           # tue … sun likewise; "09:00-12:00,13:00-17:00"; absent: closed
//! holidays = ["2026-12-25", "2026-12-26"]
//!
//! [[sla.policies]]
//! department = "support"        # absent: every department
//! priority = "urgent"           # absent: every priority
//! first_response = "1h"         # 30m, 4h, 2d, 1h30m (d = 24 h of counted time)
//! next_response = "4h"
//! resolution = "2d"
//! business_hours = true         # false: wall time
//! ```

use std::collections::BTreeMap;

use chrono::{Duration, NaiveDate, NaiveTime, Timelike};
use serde::{Deserialize, Serialize};

use crate::domain::sla::{Calendar, Goal, Policy, WEEKDAYS};
use crate::domain::ticket::Priority;

/// What happens when a clock breaches, besides the breach alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Escalation {
    /// Only the alert (default).
    #[default]
    None,
    /// The alert also pings the department's admins.
    PingAdmins,
    /// The ticket is also released back to the department's queue (unassigned, `open`).
    ReturnToQueue,
}

/// The SLA settings, parsed: [`SlaSettings::policy_for`] and [`SlaSettings::calendar_for`]
/// give what the domain's clocks need.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(try_from = "SlaToml", into = "SlaToml")]
pub struct SlaSettings {
    /// Whether SLA clocks run at all (off by default).
    pub enabled: bool,
    /// Share of a goal at which the warning goes out, in (0, 1); default 0.75.
    pub warn_at: f64,
    /// Whether clocks pause while a ticket is `waiting` on the customer (default true).
    pub pause_while_waiting: bool,
    /// What a breach does besides its alert (default: nothing).
    pub on_breach: Escalation,
    /// `[sla.hours.<department>]` as written (`default` applies to the others).
    hours: BTreeMap<String, HoursToml>,
    /// `[[sla.policies]]` as written.
    policies: Vec<PolicyToml>,
    /// `hours`, parsed.
    calendars: BTreeMap<String, Calendar>,
    /// `policies`, parsed, in file order.
    parsed: Vec<PolicyEntry>,
}

/// One parsed `[[sla.policies]]` entry.
#[derive(Debug, Clone)]
struct PolicyEntry {
    department: Option<String>,
    priority: Option<Priority>,
    first_response: Option<Duration>,
    next_response: Option<Duration>,
    resolution: Option<Duration>,
    business: bool,
}

impl PolicyEntry {
    /// How specific it is: department+priority 3, department 2, priority 1, catch-all 0.
    fn rank(&self) -> u8 {
        2 * u8::from(self.department.is_some()) + u8::from(self.priority.is_some())
    }
}

/// The `[sla]` table as written.
#[derive(Debug, Clone, Deserialize, Serialize)]
struct SlaToml {
    #[serde(default)]
    enabled: bool,
    #[serde(default = "default_warn_at")]
    warn_at: f64,
    #[serde(default = "default_true")]
    pause_while_waiting: bool,
    #[serde(default)]
    on_breach: Escalation,
    #[serde(default)]
    hours: BTreeMap<String, HoursToml>,
    #[serde(default)]
    policies: Vec<PolicyToml>,
}

/// One `[sla.hours.<name>]` table as written.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
struct HoursToml {
    #[serde(default = "default_timezone")]
    timezone: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    mon: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tue: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    wed: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    thu: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    fri: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sat: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sun: Option<String>,
    #[serde(default)]
    holidays: Vec<String>,
}

/// One `[[sla.policies]]` entry as written.
#[derive(Debug, Clone, Deserialize, Serialize)]
struct PolicyToml {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    department: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    priority: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    first_response: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    next_response: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    resolution: Option<String>,
    #[serde(default = "default_true")]
    business_hours: bool,
}

fn default_warn_at() -> f64 {
    0.75
}
fn default_true() -> bool {
    true
}
fn default_timezone() -> String {
    "UTC".into()
}

impl Default for SlaSettings {
    /// Off, warning at 75 %, paused while waiting, no escalation, no hours, no policies: the
    /// same as an empty `[sla]` section.
    fn default() -> Self {
        SlaSettings {
            enabled: false,
            warn_at: default_warn_at(),
            pause_while_waiting: true,
            on_breach: Escalation::None,
            hours: BTreeMap::new(),
            policies: Vec::new(),
            calendars: BTreeMap::new(),
            parsed: Vec::new(),
        }
    }
}

impl From<SlaSettings> for SlaToml {
    fn from(s: SlaSettings) -> SlaToml {
        SlaToml {
            enabled: s.enabled,
            warn_at: s.warn_at,
            pause_while_waiting: s.pause_while_waiting,
            on_breach: s.on_breach,
            hours: s.hours,
            policies: s.policies,
        }
    }
}

impl TryFrom<SlaToml> for SlaSettings {
    type Error = String;

    fn try_from(t: SlaToml) -> Result<SlaSettings, String> {
        if !(t.warn_at > 0.0 && t.warn_at < 1.0) {
            return Err(format!(
                "sla.warn_at = {} must be a share strictly between 0 and 1 (e.g. 0.75)",
                t.warn_at
            ));
        }
        let mut calendars = BTreeMap::new();
        for (name, h) in &t.hours {
            calendars.insert(name.clone(), parse_hours(name, h)?);
        }
        let mut parsed: Vec<PolicyEntry> = Vec::new();
        for (i, p) in t.policies.iter().enumerate() {
            let at = format!("sla.policies[{i}]");
            let priority = match &p.priority {
                None => None,
                Some(s) => Some(
                    s.parse::<Priority>()
                        .map_err(|e| format!("{at}.priority: {e}"))?,
                ),
            };
            let goal = |key: &str, v: &Option<String>| -> Result<Option<Duration>, String> {
                v.as_deref()
                    .map(|s| parse_duration(s).map_err(|e| format!("{at}.{key}: {e}")))
                    .transpose()
            };
            let entry = PolicyEntry {
                department: p.department.clone(),
                priority,
                first_response: goal("first_response", &p.first_response)?,
                next_response: goal("next_response", &p.next_response)?,
                resolution: goal("resolution", &p.resolution)?,
                business: p.business_hours,
            };
            if let Some(j) = parsed
                .iter()
                .position(|q| q.department == entry.department && q.priority == entry.priority)
            {
                return Err(format!(
                    "{at} applies to the same department and priority as sla.policies[{j}]"
                ));
            }
            parsed.push(entry);
        }
        Ok(SlaSettings {
            enabled: t.enabled,
            warn_at: t.warn_at,
            pause_while_waiting: t.pause_while_waiting,
            on_breach: t.on_breach,
            hours: t.hours,
            policies: t.policies,
            calendars,
            parsed,
        })
    }
}

/// Parses `[sla.hours.<name>]`.
fn parse_hours(name: &str, h: &HoursToml) -> Result<Calendar, String> {
    let at = format!("sla.hours.{name}");
    let tz: chrono_tz::Tz = h.timezone.trim().parse().map_err(|_| {
        format!(
            "{at}.timezone: `{}` is not an IANA time zone name (e.g. Europe/Berlin, America/New_York, UTC)",
            h.timezone
        )
    })?;
    let days = [&h.mon, &h.tue, &h.wed, &h.thu, &h.fri, &h.sat, &h.sun];
    let mut week: [Vec<(NaiveTime, NaiveTime)>; 7] = Default::default();
    for (d, text) in days.iter().enumerate() {
        if let Some(text) = text {
            week[d] = parse_day(text).map_err(|e| format!("{at}.{}: {e}", WEEKDAYS[d]))?;
        }
    }
    let mut holidays = Vec::new();
    for s in &h.holidays {
        holidays.push(
            NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
                .map_err(|_| format!("{at}.holidays: `{s}` is not a date (YYYY-MM-DD)"))?,
        );
    }
    Calendar::new(tz, week, holidays).map_err(|e| format!("{at}: {e}"))
}

/// Parses a day's hours: `"09:00-17:00"`, `"09:00-12:00,13:00-17:00"`; `""` or `"closed"`:
/// none. `24:00` ends at midnight.
///
/// Errors: a range not `HH:MM-HH:MM`, a time that is not one, an end at or before its start.
pub fn parse_day(text: &str) -> Result<Vec<(NaiveTime, NaiveTime)>, String> {
    let text = text.trim();
    if text.is_empty() || text.eq_ignore_ascii_case("closed") {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for range in text.split(',') {
        let range = range.trim();
        let Some((s, e)) = range.split_once('-') else {
            return Err(format!("`{range}` is not a range HH:MM-HH:MM"));
        };
        // Seconds after midnight; 24:00 is 86 400.
        let secs = |t: &str| -> Result<u32, String> {
            let t = t.trim();
            if t == "24:00" {
                return Ok(86_400);
            }
            NaiveTime::parse_from_str(t, "%H:%M")
                .map(|x| x.num_seconds_from_midnight())
                .map_err(|_| format!("`{t}` in `{range}` is not a time HH:MM"))
        };
        let (start, end) = (secs(s)?, secs(e)?);
        if end <= start {
            return Err(format!(
                "`{range}` ends at or before it starts (write 24:00 for midnight)"
            ));
        }
        let time = |x: u32| NaiveTime::from_num_seconds_from_midnight_opt(x % 86_400, 0);
        let (Some(start), Some(end)) = (time(start), time(end)) else {
            return Err(format!("`{range}` is not a range HH:MM-HH:MM"));
        };
        out.push((start, end));
    }
    Ok(out)
}

/// Parses a duration: one or more `<number><unit>` parts, unit `d` (24 h), `h`, `m` or `s`,
/// e.g. `30m`, `4h`, `2d`, `1h30m`. Must be positive.
///
/// Errors: an empty text, a part without a number or a known unit, a zero total, overflow.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let bad = || format!("`{text}` is not a duration (e.g. 30m, 4h, 2d, 1h30m; units d, h, m, s)");
    let mut total: i64 = 0;
    let mut number = String::new();
    let mut parts = 0;
    for ch in text.trim().chars() {
        if ch.is_ascii_digit() {
            number.push(ch);
            continue;
        }
        if ch.is_whitespace() && number.is_empty() {
            continue;
        }
        let unit: i64 = match ch {
            'd' => 86_400,
            'h' => 3_600,
            'm' => 60,
            's' => 1,
            _ => return Err(bad()),
        };
        let n: i64 = number.parse().map_err(|_| bad())?;
        total = n
            .checked_mul(unit)
            .and_then(|x| total.checked_add(x))
            .ok_or_else(bad)?;
        number.clear();
        parts += 1;
    }
    if !number.is_empty() || parts == 0 {
        return Err(bad());
    }
    if total <= 0 || total > i64::from(u32::MAX) {
        return Err(format!(
            "`{text}` must be more than zero and at most 136 years"
        ));
    }
    Ok(Duration::seconds(total))
}

impl SlaSettings {
    /// Settings from the body of an `[sla]` table (keys `enabled`, `warn_at`, …, tables
    /// `[hours.<department>]` and `[[policies]]`), e.g. for tests.
    ///
    /// Errors: the text is not TOML of that shape, or a value is invalid (as at load).
    pub fn from_toml(text: &str) -> Result<SlaSettings, String> {
        config::Config::builder()
            .add_source(config::File::from_str(text, config::FileFormat::Toml))
            .build()
            .and_then(|c| c.try_deserialize::<SlaSettings>())
            .map_err(|e| e.to_string())
    }

    /// The policy for a ticket of `department` and `priority`: the most specific
    /// `[[sla.policies]]` entry (department+priority > department > priority > catch-all);
    /// None when SLA is off or nothing matches.
    pub fn policy_for(&self, department: &str, priority: Priority) -> Option<Policy> {
        if !self.enabled {
            return None;
        }
        let e = self
            .parsed
            .iter()
            .filter(|p| p.department.as_deref().is_none_or(|d| d == department))
            .filter(|p| p.priority.is_none_or(|q| q == priority))
            .max_by_key(|p| p.rank())?;
        let goal = |d: Option<Duration>| {
            d.map(|within| Goal {
                within,
                business: e.business,
            })
        };
        Some(Policy {
            first_response: goal(e.first_response),
            next_response: goal(e.next_response),
            resolution: goal(e.resolution),
            warn_share: self.warn_at,
            pause_while_waiting: self.pause_while_waiting,
        })
    }

    /// The department's working hours (`[sla.hours.<department>]`, else `[sla.hours.default]`,
    /// else 24/7 UTC), borrowed: looked up per event, so nothing is copied.
    pub fn calendar_for(&self, department: &str) -> &Calendar {
        static ALWAYS: std::sync::LazyLock<Calendar> = std::sync::LazyLock::new(Calendar::always);
        self.calendars
            .get(department)
            .or_else(|| self.calendars.get("default"))
            .unwrap_or(&ALWAYS)
    }

    /// Checks that every department the SLA settings name (policies and hours other than
    /// `default`) is one of `departments`. A misspelt department would silently leave its
    /// tickets without an SLA, so it is refused rather than warned about.
    ///
    /// Errors: the first unknown name, with the setting that names it.
    pub fn check_departments(&self, departments: &[&str]) -> Result<(), String> {
        let known = departments.join(", ");
        for (i, p) in self.parsed.iter().enumerate() {
            if let Some(d) = &p.department {
                if !departments.contains(&d.as_str()) {
                    return Err(format!(
                        "sla.policies[{i}].department `{d}` is not a configured department ({known})"
                    ));
                }
            }
        }
        for name in self.calendars.keys() {
            if name != "default" && !departments.contains(&name.as_str()) {
                return Err(format!(
                    "[sla.hours.{name}] names no configured department ({known}; or `default`)"
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Priority::{High, Low, Medium, Urgent};

    /// A first-response goal: (within, business).
    type FirstGoal = Option<(Duration, bool)>;

    fn mins(m: i64) -> Duration {
        Duration::minutes(m)
    }

    #[test]
    fn durations_table() {
        let good: &[(&str, i64)] = &[
            ("30m", 30),
            ("4h", 240),
            ("2d", 2880),
            ("1h30m", 90),
            (" 1d 2h ", 1560),
            ("90s", 0),
            ("3600s", 60),
        ];
        for &(text, m) in good {
            let want = if text == "90s" {
                Duration::seconds(90)
            } else {
                mins(m)
            };
            assert_eq!(parse_duration(text), Ok(want), "{text}");
        }
        for text in [
            "",
            "h",
            "30",
            "30x",
            "0m",
            "0h0m",
            "-5m",
            "1.5h",
            "m30",
            "4 h",
            "99999999999999999999d",
        ] {
            assert!(parse_duration(text).is_err(), "{text} accepted");
        }
    }

    #[test]
    fn day_hours_table() {
        let t = |s: &str| NaiveTime::parse_from_str(s, "%H:%M").expect("time");
        let good: &[(&str, Vec<(NaiveTime, NaiveTime)>)] = &[
            ("09:00-17:00", vec![(t("09:00"), t("17:00"))]),
            (
                " 09:00 - 12:00 , 13:00-17:30 ",
                vec![(t("09:00"), t("12:00")), (t("13:00"), t("17:30"))],
            ),
            ("00:00-24:00", vec![(t("00:00"), t("00:00"))]),
            ("22:00-24:00", vec![(t("22:00"), t("00:00"))]),
            ("closed", vec![]),
            ("", vec![]),
        ];
        for (text, want) in good {
            assert_eq!(parse_day(text).as_ref(), Ok(want), "{text}");
        }
        let bad: &[(&str, &str)] = &[
            ("9-17", "is not a time"),
            ("09:00", "is not a range"),
            ("17:00-09:00", "ends at or before"),
            ("09:00-09:00", "ends at or before"),
            ("09:00-00:00", "write 24:00"),
            ("24:00-24:00", "ends at or before"),
            ("25:00-26:00", "is not a time"),
            ("09:00-17:00;", "is not a time"),
        ];
        for (text, says) in bad {
            let e = parse_day(text).expect_err(text);
            assert!(e.contains(says), "{text}: {e}");
        }
    }

    const EXAMPLE: &str = r#"
        enabled = true
        warn_at = 0.8
        pause_while_waiting = false
        on_breach = "ping_admins"

        [hours.default]
        timezone = "Europe/Berlin"
        mon = "09:00-17:00"
        tue = "09:00-17:00"
        wed = "09:00-17:00"
        thu = "09:00-17:00"
        fri = "09:00-12:00,13:00-15:00"
        holidays = ["2026-12-25", "2026-12-26"]

        [hours.billing]
        timezone = "America/New_York"
        mon = "08:00-16:00"

        [[policies]]
        first_response = "8h"
        resolution = "40h"

        [[policies]]
        priority = "urgent"
        first_response = "2h"
        resolution = "16h"

        [[policies]]
        department = "billing"
        first_response = "4h"
        next_response = "8h"
        business_hours = false

        [[policies]]
        department = "billing"
        priority = "urgent"
        first_response = "30m"
    "#;

    #[test]
    fn the_most_specific_policy_wins() {
        let s = SlaSettings::from_toml(EXAMPLE).expect("example");
        assert_eq!(
            (s.enabled, s.warn_at, s.pause_while_waiting, s.on_breach),
            (true, 0.8, false, Escalation::PingAdmins)
        );
        let first = |d: &str, p| {
            s.policy_for(d, p)
                .and_then(|x| x.first_response)
                .map(|g| (g.within, g.business))
        };
        let cases: &[(&str, Priority, FirstGoal)] = &[
            ("support", Low, Some((mins(480), true))),
            ("support", Medium, Some((mins(480), true))),
            ("support", Urgent, Some((mins(120), true))),
            ("billing", High, Some((mins(240), false))),
            ("billing", Urgent, Some((mins(30), true))),
            ("sales", Urgent, Some((mins(120), true))),
        ];
        for &(d, p, want) in cases {
            assert_eq!(first(d, p), want, "{d} {p}");
        }
        let p = s.policy_for("billing", Low).expect("billing policy");
        assert_eq!(
            p,
            Policy {
                first_response: Some(Goal {
                    within: mins(240),
                    business: false
                }),
                next_response: Some(Goal {
                    within: mins(480),
                    business: false
                }),
                resolution: None,
                warn_share: 0.8,
                pause_while_waiting: false,
            }
        );
        // Off: no policy at all.
        let off = SlaSettings {
            enabled: false,
            ..s.clone()
        };
        assert_eq!(off.policy_for("support", Urgent), None);
        // Without a catch-all, a ticket nothing matches has no SLA.
        let narrow = SlaSettings::from_toml(
            "enabled = true\n[[policies]]\npriority = \"urgent\"\nresolution = \"4h\"\n",
        )
        .expect("narrow");
        assert_eq!(narrow.policy_for("support", Low), None);
        assert!(narrow.policy_for("support", Urgent).is_some());
    }

    #[test]
    fn calendars_fall_back_to_default_then_around_the_clock() {
        let s = SlaSettings::from_toml(EXAMPLE).expect("example");
        let at = |x: &str| x.parse::<chrono::DateTime<chrono::Utc>>().expect("instant");
        // Friday 4 December 2026: split day in Berlin (5 h), closed in New York.
        let (from, to) = (at("2026-12-04T00:00:00Z"), at("2026-12-05T00:00:00Z"));
        assert_eq!(
            s.calendar_for("support").working_between(from, to),
            mins(300)
        );
        assert_eq!(
            s.calendar_for("billing").working_between(from, to),
            Duration::zero()
        );
        // Monday 7 December in New York (UTC-5): 08:00-16:00 local.
        assert_eq!(
            s.calendar_for("billing")
                .add_working(at("2026-12-07T12:00:00Z"), mins(60)),
            Some(at("2026-12-07T14:00:00Z"))
        );
        // Christmas is a holiday in the default hours.
        assert_eq!(
            s.calendar_for("support")
                .working_between(at("2026-12-25T00:00:00Z"), at("2026-12-26T00:00:00Z")),
            Duration::zero()
        );
        let none = SlaSettings::default();
        assert_eq!(none.calendar_for("support"), &Calendar::always());
    }

    #[test]
    fn bad_settings_are_refused_naming_the_setting() {
        let cases: &[(&str, &str)] = &[
            (
                "warn_at = 1.0",
                "sla.warn_at = 1 must be a share strictly between 0 and 1",
            ),
            ("warn_at = 0", "sla.warn_at"),
            ("warn_at = -0.5", "sla.warn_at"),
            (
                "[hours.default]\ntimezone = \"Europe/Berlim\"",
                "sla.hours.default.timezone: `Europe/Berlim` is not an IANA time zone",
            ),
            (
                "[hours.default]\nmon = \"9-17\"",
                "sla.hours.default.mon: `9` in `9-17` is not a time HH:MM",
            ),
            (
                "[hours.default]\ntue = \"17:00-09:00\"",
                "sla.hours.default.tue: `17:00-09:00` ends at or before it starts",
            ),
            (
                "[hours.support]\nwed = \"09:00-12:00,11:00-13:00\"",
                "sla.hours.support: wed: working hours overlap at 11:00",
            ),
            (
                "[hours.default]\nholidays = [\"2026-13-01\"]",
                "sla.hours.default.holidays: `2026-13-01` is not a date",
            ),
            (
                "[[policies]]\nresolution = \"2 days\"",
                "sla.policies[0].resolution: `2 days` is not a duration",
            ),
            (
                "[[policies]]\nfirst_response = \"0m\"",
                "sla.policies[0].first_response: `0m` must be more than zero",
            ),
            (
                "[[policies]]\npriority = \"critical\"",
                "sla.policies[0].priority: `critical` is not a priority",
            ),
            (
                "[[policies]]\nresolution = \"1h\"\n[[policies]]\nresolution = \"2h\"",
                "sla.policies[1] applies to the same department and priority as sla.policies[0]",
            ),
            ("on_breach = \"page_everyone\"", "page_everyone"),
        ];
        for (text, says) in cases {
            let e = SlaSettings::from_toml(text).expect_err(text);
            assert!(e.contains(says), "{text}: {e}");
        }
    }

    #[test]
    fn unknown_departments_are_refused() {
        let s = SlaSettings::from_toml(EXAMPLE).expect("example");
        assert_eq!(s.check_departments(&["support", "billing"]), Ok(()));
        let e = s
            .check_departments(&["support"])
            .expect_err("billing unknown");
        assert!(
            e.contains(
                "sla.policies[2].department `billing` is not a configured department (support)"
            ),
            "{e}"
        );
        let hours_only =
            SlaSettings::from_toml("[hours.biling]\nmon = \"09:00-17:00\"").expect("hours");
        let e = hours_only
            .check_departments(&["support", "billing"])
            .expect_err("typo");
        assert!(
            e.contains("[sla.hours.biling] names no configured department"),
            "{e}"
        );
    }

    #[test]
    fn settings_survive_a_round_trip_through_their_written_form() {
        let s = SlaSettings::from_toml(EXAMPLE).expect("example");
        let json = serde_json::to_value(&s).expect("to json");
        assert_eq!(json["policies"][1]["priority"], "urgent");
        assert_eq!(json["hours"]["default"]["fri"], "09:00-12:00,13:00-15:00");
        let back: SlaSettings = serde_json::from_value(json).expect("from json");
        for d in ["support", "billing", "sales"] {
            for p in [Low, Medium, High, Urgent] {
                assert_eq!(back.policy_for(d, p), s.policy_for(d, p));
            }
            assert_eq!(back.calendar_for(d), s.calendar_for(d));
        }
    }
}
