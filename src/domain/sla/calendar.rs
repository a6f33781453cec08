//! Working-hours calendars of departments, with no I/O: which instants are working time, the
//! working time between two instants, and the instant a given working time after another.
//!
//! Time is `DateTime<Utc>` throughout; a [`Calendar`] maps it to its department's local wall
//! time (IANA zone, via `chrono-tz`) to decide which instants are working time.

use std::collections::BTreeSet;

use chrono::{
    DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Timelike, Utc,
};
use chrono_tz::Tz;

/// Seconds in a local day (a local interval ends at most here: 24:00).
const DAY_SECS: u32 = 86_400;

/// The longest a calendar search walks (days) before it gives up: 100 years.
const MAX_SEARCH_DAYS: i64 = 366 * 100;

/// Working hours of a department: IANA time zone, weekly hours (Mon=0..Sun=6, each a list of
/// [start, end) local times), holidays (local dates, no working time).
///
/// An instant is working time when its local date is not a holiday and lies between the first
/// instant whose local wall time reaches an interval's start and the first instant whose wall
/// time reaches its end. So a start or end inside a DST gap (spring forward) moves to the end of
/// the gap, one inside the repeated hour (fall back) means its first occurrence, and a day open
/// 24 hours counts 23 or 25 hours on DST days.
#[derive(Clone, Debug, PartialEq)]
pub struct Calendar {
    tz: Tz,
    /// Per weekday (Mon=0), sorted disjoint [start, end) in seconds after local midnight;
    /// end ≤ 86 400.
    week: [Vec<(u32, u32)>; 7],
    holidays: BTreeSet<NaiveDate>,
    /// 24/7 in UTC with no holidays: working time is wall time (fast path).
    always: bool,
}

/// Why a [`Calendar`] cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CalendarError {
    /// An interval ends at or before its start (an end of 00:00 means 24:00).
    #[error("{day}: working hours {start}-{end} end at or before they start")]
    EndNotAfterStart {
        /// Weekday name (`mon` … `sun`).
        day: &'static str,
        /// Local start.
        start: NaiveTime,
        /// Local end.
        end: NaiveTime,
    },
    /// Two intervals of one day overlap.
    #[error("{day}: working hours overlap at {at}")]
    Overlap {
        /// Weekday name (`mon` … `sun`).
        day: &'static str,
        /// Where the second interval starts.
        at: NaiveTime,
    },
}

/// Weekday names, Mon=0, as config keys.
pub const WEEKDAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

impl Calendar {
    /// 24/7 in UTC, no holidays: working time equals wall time.
    pub fn always() -> Calendar {
        Calendar {
            tz: Tz::UTC,
            week: std::array::from_fn(|_| vec![(0, DAY_SECS)]),
            holidays: BTreeSet::new(),
            always: true,
        }
    }

    /// A calendar in zone `tz` with `week[d]` the [start, end) local intervals of weekday `d`
    /// (Mon=0 … Sun=6; an end of 00:00 means 24:00, so (00:00, 00:00) is the whole day) and no
    /// working time on `holidays`. Adjacent intervals are joined.
    ///
    /// Errors: an interval ending at or before its start; two intervals of a day overlapping.
    pub fn new(
        tz: Tz,
        week: [Vec<(NaiveTime, NaiveTime)>; 7],
        holidays: impl IntoIterator<Item = NaiveDate>,
    ) -> Result<Calendar, CalendarError> {
        let mut out: [Vec<(u32, u32)>; 7] = Default::default();
        for (d, day) in week.iter().enumerate() {
            let mut spans: Vec<(u32, u32, NaiveTime, NaiveTime)> = day
                .iter()
                .map(|&(s, e)| {
                    let start = s.num_seconds_from_midnight();
                    let end = match e.num_seconds_from_midnight() {
                        0 => DAY_SECS,
                        x => x,
                    };
                    (start, end, s, e)
                })
                .collect();
            spans.sort_by_key(|x| x.0);
            let mut merged: Vec<(u32, u32)> = Vec::new();
            for (start, end, s, e) in spans {
                if end <= start {
                    return Err(CalendarError::EndNotAfterStart {
                        day: WEEKDAYS[d],
                        start: s,
                        end: e,
                    });
                }
                match merged.last_mut() {
                    Some(last) if start < last.1 => {
                        return Err(CalendarError::Overlap {
                            day: WEEKDAYS[d],
                            at: s,
                        })
                    }
                    Some(last) if start == last.1 => last.1 = end,
                    _ => merged.push((start, end)),
                }
            }
            out[d] = merged;
        }
        let holidays: BTreeSet<NaiveDate> = holidays.into_iter().collect();
        let always =
            tz == Tz::UTC && holidays.is_empty() && out.iter().all(|d| d == &[(0, DAY_SECS)]);
        Ok(Calendar {
            tz,
            week: out,
            holidays,
            always,
        })
    }

    /// The calendar's time zone.
    pub fn tz(&self) -> Tz {
        self.tz
    }

    /// Whether the week has any working time at all.
    pub fn has_working_time(&self) -> bool {
        self.week.iter().any(|d| !d.is_empty())
    }

    /// The first instant whose local wall time is at least `secs` after the start of `date`.
    fn first_at(&self, date: NaiveDate, secs: u32) -> DateTime<Utc> {
        let ndt = date.and_time(NaiveTime::MIN) + Duration::seconds(i64::from(secs));
        self.first_reaching(ndt)
    }

    /// The first instant whose local wall time is at least `ndt`.
    fn first_reaching(&self, ndt: NaiveDateTime) -> DateTime<Utc> {
        use chrono::LocalResult;
        match self.tz.from_local_datetime(&ndt) {
            LocalResult::Single(t) => t.with_timezone(&Utc),
            LocalResult::Ambiguous(a, b) => a.min(b).with_timezone(&Utc),
            LocalResult::None => {
                // In a gap: search the transition. Offsets are within ±24 h, so wall time is
                // below `ndt` at lo and above it at hi.
                // Transitions fall on whole seconds.
                let mut lo = ndt.and_utc().timestamp() - 26 * 3600;
                let mut hi = ndt.and_utc().timestamp() + 26 * 3600;
                while hi - lo > 1 {
                    let mid = lo + (hi - lo) / 2;
                    let wall = DateTime::from_timestamp(mid, 0)
                        .map(|m| m.with_timezone(&self.tz).naive_local());
                    if wall.is_some_and(|w| w >= ndt) {
                        hi = mid;
                    } else {
                        lo = mid;
                    }
                }
                DateTime::from_timestamp(hi, 0).unwrap_or_else(|| ndt.and_utc())
            }
        }
    }

    /// The local date of `t`.
    fn local_date(&self, t: DateTime<Utc>) -> NaiveDate {
        t.with_timezone(&self.tz).date_naive()
    }

    /// The working intervals of local `date` as UTC [start, end), in order (none on holidays),
    /// given the UTC starts of `date` and of the next day. A day of exactly 24 hours has one
    /// offset throughout, so its boundaries are found by adding seconds; a DST day converts
    /// each boundary.
    fn day_intervals(
        &self,
        date: NaiveDate,
        day_start: DateTime<Utc>,
        next_start: DateTime<Utc>,
    ) -> impl Iterator<Item = (DateTime<Utc>, DateTime<Utc>)> + '_ {
        let spans: &[(u32, u32)] = if self.holidays.contains(&date) {
            &[]
        } else {
            &self.week[date.weekday().num_days_from_monday() as usize]
        };
        let regular = next_start - day_start == Duration::days(1);
        spans.iter().map(move |&(s, e)| {
            if regular {
                (
                    day_start + Duration::seconds(i64::from(s)),
                    day_start + Duration::seconds(i64::from(e)),
                )
            } else {
                (self.first_at(date, s), self.first_at(date, e))
            }
        })
    }

    /// Whether the seven local days from `date` (starting at UTC `day_start`) can be skipped as
    /// a whole: no holiday among them and no change of UTC offset (they last exactly 7 × 24 h),
    /// so they hold exactly [`Calendar::week_secs`]. Returns the UTC start of the day after.
    fn plain_week(&self, date: NaiveDate, day_start: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let after = date.checked_add_days(chrono::Days::new(7))?;
        if self.holidays.range(date..after).next().is_some() {
            return None;
        }
        let end = self.start_after(after, day_start, 7);
        (end - day_start == Duration::days(7)).then_some(end)
    }

    /// The UTC start of local `date`, which begins `days` days after the day starting at
    /// `day_start`: `day_start` plus whole days when the wall clock then reads midnight of
    /// `date` (one UTC-to-local lookup, the usual case), else [`Calendar::first_at`].
    fn start_after(&self, date: NaiveDate, day_start: DateTime<Utc>, days: i64) -> DateTime<Utc> {
        let guess = day_start + Duration::days(days);
        if guess.with_timezone(&self.tz).naive_local() == date.and_time(NaiveTime::MIN) {
            guess
        } else {
            self.first_at(date, 0)
        }
    }

    /// Working seconds in a week without holidays or offset changes.
    fn week_secs(&self) -> Duration {
        Duration::seconds(
            self.week
                .iter()
                .flatten()
                .map(|&(s, e)| i64::from(e - s))
                .sum(),
        )
    }

    /// Working time in [from, to); zero when to <= from.
    ///
    /// Walks day by day, skipping whole weeks without holidays or DST changes at once: about
    /// one time-zone lookup per day, one per week over long spans.
    pub fn working_between(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Duration {
        if to <= from {
            return Duration::zero();
        }
        if self.always {
            return to - from;
        }
        let week = self.week_secs();
        let mut total = Duration::zero();
        let mut date = self.local_date(from);
        let mut day_start = self.first_at(date, 0);
        while day_start < to {
            if day_start >= from && to - day_start >= Duration::days(7) {
                if let Some(end) = self.plain_week(date, day_start).filter(|&e| e <= to) {
                    total += week;
                    let Some(d) = date.checked_add_days(chrono::Days::new(7)) else {
                        break;
                    };
                    (date, day_start) = (d, end);
                    continue;
                }
            }
            let Some(next) = date.succ_opt() else { break };
            let next_start = self.start_after(next, day_start, 1);
            for (s, e) in self.day_intervals(date, day_start, next_start) {
                let s = s.max(from);
                let e = e.min(to);
                if e > s {
                    total += e - s;
                }
            }
            (date, day_start) = (next, next_start);
        }
        total
    }

    /// The instant at which `d` of working time has passed after `from` (d <= 0: from itself,
    /// or the next working instant). A calendar with no working time at all never reaches it:
    /// returns `None` then (also when it would take more than 100 years).
    ///
    /// Walks like [`Calendar::working_between`]: day by day, whole plain weeks at once.
    pub fn add_working(&self, from: DateTime<Utc>, d: Duration) -> Option<DateTime<Utc>> {
        let mut left = d.max(Duration::zero());
        if self.always {
            return from.checked_add_signed(left);
        }
        if !self.has_working_time() {
            return None;
        }
        let week = self.week_secs();
        let mut date = self.local_date(from);
        let mut day_start = self.first_at(date, 0);
        for _ in 0..MAX_SEARCH_DAYS {
            if day_start >= from && left > week {
                if let Some(end) = self.plain_week(date, day_start) {
                    left -= week;
                    date = date.checked_add_days(chrono::Days::new(7))?;
                    day_start = end;
                    continue;
                }
            }
            let next = date.succ_opt()?;
            let next_start = self.start_after(next, day_start, 1);
            for (s, e) in self.day_intervals(date, day_start, next_start) {
                let s = s.max(from);
                if e <= s {
                    continue;
                }
                let len = e - s;
                if left <= len {
                    return Some(s + left);
                }
                left -= len;
            }
            (date, day_start) = (next, next_start);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::sla::test_support::*;

    /// Only Sunday, `hours`.
    fn sundays(tz: Tz, hours: (&str, &str)) -> Calendar {
        let week = std::array::from_fn(|d| {
            if d == 6 {
                vec![(hm(hours.0), hm(hours.1))]
            } else {
                Vec::new()
            }
        });
        Calendar::new(tz, week, []).expect("calendar")
    }

    fn new_york() -> Calendar {
        weekdays(Tz::America__New_York, &[("09:00", "17:00")], &[])
    }

    fn split() -> Calendar {
        weekdays(
            Tz::Europe__Berlin,
            &[("09:00", "12:00"), ("13:00", "17:00")],
            &[],
        )
    }

    #[test]
    fn working_between_table() {
        let cases: &[(&str, Calendar, &str, &str, i64)] = &[
            (
                "one full day",
                berlin(),
                "2026-03-02T08:00:00Z",
                "2026-03-02T16:00:00Z",
                480,
            ),
            (
                "before hours to after",
                berlin(),
                "2026-03-02T05:00:00Z",
                "2026-03-02T20:00:00Z",
                480,
            ),
            (
                "weekend skipped",
                berlin(),
                "2026-03-06T15:00:00Z",
                "2026-03-09T09:00:00Z",
                120,
            ),
            (
                "opened on saturday",
                berlin(),
                "2026-03-07T10:00:00Z",
                "2026-03-09T08:30:00Z",
                30,
            ),
            (
                "inside the weekend",
                berlin(),
                "2026-03-07T10:00:00Z",
                "2026-03-08T20:00:00Z",
                0,
            ),
            (
                "holiday friday skipped",
                berlin(),
                "2026-12-24T15:00:00Z",
                "2026-12-28T09:00:00Z",
                120,
            ),
            (
                "a full week",
                berlin(),
                "2026-03-02T00:00:00Z",
                "2026-03-09T00:00:00Z",
                2400,
            ),
            (
                "split day over lunch",
                split(),
                "2026-03-02T10:00:00Z",
                "2026-03-02T12:30:00Z",
                90,
            ),
            (
                "split day whole",
                split(),
                "2026-03-02T00:00:00Z",
                "2026-03-03T00:00:00Z",
                420,
            ),
            (
                "berlin spring weekend",
                berlin(),
                "2026-03-27T15:00:00Z",
                "2026-03-30T08:00:00Z",
                120,
            ),
            (
                "berlin autumn weekend",
                berlin(),
                "2026-10-23T14:00:00Z",
                "2026-10-26T09:00:00Z",
                120,
            ),
            (
                "new york spring weekend",
                new_york(),
                "2026-03-06T21:00:00Z",
                "2026-03-09T14:00:00Z",
                120,
            ),
            (
                "new york autumn weekend",
                new_york(),
                "2026-10-30T20:00:00Z",
                "2026-11-02T15:00:00Z",
                120,
            ),
            (
                "berlin sunday of 23 h",
                sundays(Tz::Europe__Berlin, ("00:00", "00:00")),
                "2026-03-27T00:00:00Z",
                "2026-03-31T00:00:00Z",
                23 * 60,
            ),
            (
                "berlin sunday of 25 h",
                sundays(Tz::Europe__Berlin, ("00:00", "00:00")),
                "2026-10-23T00:00:00Z",
                "2026-10-27T00:00:00Z",
                25 * 60,
            ),
            (
                "new york sunday of 23 h",
                sundays(Tz::America__New_York, ("00:00", "00:00")),
                "2026-03-06T00:00:00Z",
                "2026-03-10T00:00:00Z",
                23 * 60,
            ),
            (
                "new york sunday of 25 h",
                sundays(Tz::America__New_York, ("00:00", "00:00")),
                "2026-10-30T00:00:00Z",
                "2026-11-03T00:00:00Z",
                25 * 60,
            ),
            (
                "night across the gap",
                sundays(Tz::Europe__Berlin, ("01:00", "04:00")),
                "2026-03-28T00:00:00Z",
                "2026-03-30T00:00:00Z",
                120,
            ),
            (
                "night across the repeat",
                sundays(Tz::Europe__Berlin, ("01:00", "04:00")),
                "2026-10-24T00:00:00Z",
                "2026-10-26T00:00:00Z",
                240,
            ),
            (
                "start inside the gap",
                sundays(Tz::Europe__Berlin, ("02:30", "05:00")),
                "2026-03-28T00:00:00Z",
                "2026-03-30T00:00:00Z",
                120,
            ),
            (
                "start inside the repeat",
                sundays(Tz::Europe__Berlin, ("02:30", "05:00")),
                "2026-10-24T00:00:00Z",
                "2026-10-26T00:00:00Z",
                210,
            ),
            (
                "to before from",
                berlin(),
                "2026-03-02T16:00:00Z",
                "2026-03-02T08:00:00Z",
                0,
            ),
            (
                "no working time",
                empty(),
                "2026-03-02T00:00:00Z",
                "2026-04-02T00:00:00Z",
                0,
            ),
            (
                "always",
                Calendar::always(),
                "2026-03-07T10:00:00Z",
                "2026-03-08T10:30:00Z",
                24 * 60 + 30,
            ),
        ];
        for (name, cal, from, to, want) in cases {
            assert_eq!(cal.working_between(t(from), t(to)), mins(*want), "{name}");
        }
    }

    #[test]
    fn add_working_table() {
        let cases: &[(&str, Calendar, &str, i64, Option<&str>)] = &[
            (
                "within the day",
                berlin(),
                "2026-03-02T08:00:00Z",
                60,
                Some("2026-03-02T09:00:00Z"),
            ),
            (
                "exactly to the end of the day",
                berlin(),
                "2026-03-02T08:00:00Z",
                480,
                Some("2026-03-02T16:00:00Z"),
            ),
            (
                "one minute more: next morning",
                berlin(),
                "2026-03-02T08:00:00Z",
                481,
                Some("2026-03-03T08:01:00Z"),
            ),
            (
                "a working week",
                berlin(),
                "2026-03-02T08:00:00Z",
                2400,
                Some("2026-03-06T16:00:00Z"),
            ),
            (
                "over the weekend",
                berlin(),
                "2026-03-06T15:00:00Z",
                120,
                Some("2026-03-09T09:00:00Z"),
            ),
            (
                "opened on saturday",
                berlin(),
                "2026-03-07T10:00:00Z",
                30,
                Some("2026-03-09T08:30:00Z"),
            ),
            (
                "opened at night",
                berlin(),
                "2026-03-03T02:00:00Z",
                60,
                Some("2026-03-03T09:00:00Z"),
            ),
            (
                "zero inside hours: from",
                berlin(),
                "2026-03-02T10:00:00Z",
                0,
                Some("2026-03-02T10:00:00Z"),
            ),
            (
                "zero on saturday: monday",
                berlin(),
                "2026-03-07T10:00:00Z",
                0,
                Some("2026-03-09T08:00:00Z"),
            ),
            (
                "negative: as zero",
                berlin(),
                "2026-03-07T10:00:00Z",
                -90,
                Some("2026-03-09T08:00:00Z"),
            ),
            (
                "over a holiday",
                berlin(),
                "2026-12-24T15:00:00Z",
                120,
                Some("2026-12-28T09:00:00Z"),
            ),
            (
                "split day over lunch",
                split(),
                "2026-03-02T10:00:00Z",
                150,
                Some("2026-03-02T13:30:00Z"),
            ),
            (
                "berlin into summer time",
                berlin(),
                "2026-03-27T15:00:00Z",
                120,
                Some("2026-03-30T08:00:00Z"),
            ),
            (
                "berlin into winter time",
                berlin(),
                "2026-10-23T14:00:00Z",
                120,
                Some("2026-10-26T09:00:00Z"),
            ),
            (
                "new york into summer time",
                new_york(),
                "2026-03-06T21:00:00Z",
                120,
                Some("2026-03-09T14:00:00Z"),
            ),
            (
                "new york into winter time",
                new_york(),
                "2026-10-30T20:00:00Z",
                120,
                Some("2026-11-02T15:00:00Z"),
            ),
            (
                "a 23 h sunday",
                sundays(Tz::Europe__Berlin, ("00:00", "00:00")),
                "2026-03-28T23:00:00Z",
                23 * 60,
                Some("2026-03-29T22:00:00Z"),
            ),
            (
                "a 25 h sunday",
                sundays(Tz::Europe__Berlin, ("00:00", "00:00")),
                "2026-10-24T22:00:00Z",
                25 * 60,
                Some("2026-10-25T23:00:00Z"),
            ),
            ("no working time", empty(), "2026-03-02T08:00:00Z", 60, None),
            (
                "no working time, zero",
                empty(),
                "2026-03-02T08:00:00Z",
                0,
                None,
            ),
            (
                "always",
                Calendar::always(),
                "2026-03-07T10:00:00Z",
                90,
                Some("2026-03-07T11:30:00Z"),
            ),
        ];
        for (name, cal, from, d, want) in cases {
            assert_eq!(cal.add_working(t(from), mins(*d)), want.map(t), "{name}");
        }
    }

    #[test]
    fn calendar_new_refuses_bad_hours_and_joins_adjacent_ones() {
        let mut week: [Vec<(NaiveTime, NaiveTime)>; 7] = Default::default();
        week[0] = vec![(hm("17:00"), hm("09:00"))];
        assert!(matches!(
            Calendar::new(Tz::UTC, week, []),
            Err(CalendarError::EndNotAfterStart { day: "mon", .. })
        ));
        let mut week: [Vec<(NaiveTime, NaiveTime)>; 7] = Default::default();
        week[2] = vec![(hm("09:00"), hm("12:00")), (hm("11:00"), hm("13:00"))];
        assert!(matches!(
            Calendar::new(Tz::UTC, week, []),
            Err(CalendarError::Overlap { day: "wed", .. })
        ));
        let mut week: [Vec<(NaiveTime, NaiveTime)>; 7] = Default::default();
        week[0] = vec![(hm("12:00"), hm("17:00")), (hm("09:00"), hm("12:00"))];
        let cal = Calendar::new(Tz::UTC, week, []).expect("adjacent hours");
        assert_eq!(cal.week[0], vec![(9 * 3600, 17 * 3600)]);
        // A UTC calendar open around the clock every day is the wall-time fast path.
        let cal = Calendar::new(
            Tz::UTC,
            std::array::from_fn(|_| vec![(NaiveTime::MIN, NaiveTime::MIN)]),
            [],
        )
        .expect("24/7");
        assert_eq!(cal, Calendar::always());
    }

    /// A deterministic pseudo-random sequence (64-bit LCG, Knuth's MMIX constants).
    struct Lcg(u64);
    impl Lcg {
        fn next(&mut self, below: u64) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (self.0 >> 33) % below
        }
    }

    /// Whether `at` is working time by the definition, checked the slow way (for calendars
    /// whose boundaries lie outside DST transitions).
    fn is_working(cal: &Calendar, at: DateTime<Utc>) -> bool {
        let local = at.with_timezone(&cal.tz);
        let d = local.date_naive();
        let secs = local.time().num_seconds_from_midnight();
        !cal.holidays.contains(&d)
            && cal.week[d.weekday().num_days_from_monday() as usize]
                .iter()
                .any(|&(s, e)| s <= secs && secs < e)
    }

    #[test]
    fn add_working_and_working_between_agree_everywhere() {
        let cals = [
            berlin(),
            split(),
            new_york(),
            weekdays(
                Tz::Asia__Kolkata,
                &[("09:30", "18:00")],
                &["2026-01-26", "2026-08-15"],
            ),
            sundays(Tz::Europe__Berlin, ("00:00", "00:00")),
            sundays(Tz::Europe__Berlin, ("01:00", "04:00")),
            sundays(Tz::America__New_York, ("01:30", "02:30")),
            Calendar::always(),
        ];
        let base = t("2026-01-01T00:00:00Z");
        let mut rng = Lcg(14);
        for cal in &cals {
            for i in 0..400 {
                let from = base + Duration::seconds(rng.next(366 * 86_400) as i64);
                // Short goals, and long ones that skip whole weeks (some across DST and
                // holidays).
                let longest = if i % 2 == 0 { 30 * 3600 } else { 400 * 3600 };
                let d = Duration::seconds(rng.next(longest) as i64);
                let to = cal.add_working(from, d).expect("working time exists");
                assert!(to >= from);
                assert_eq!(
                    cal.working_between(from, to),
                    d,
                    "{cal:?} from {from} d {d}"
                );
                // Additive: splitting the span anywhere keeps the sum.
                let mid = from + (to - from) / 3;
                assert_eq!(
                    cal.working_between(from, mid) + cal.working_between(mid, to),
                    d
                );
                // Nothing earlier reaches d: one second less of span misses it.
                if d > Duration::zero() {
                    assert!(cal.working_between(from, to - Duration::seconds(1)) < d);
                }
            }
        }
    }

    #[test]
    fn working_between_matches_a_minute_by_minute_count() {
        // Boundaries away from 01:00–03:00, so the slow definition is exact.
        let cals = [berlin(), split(), new_york()];
        // Starts around the DST changes and a holiday.
        let starts = [
            "2026-03-05T00:00:00Z",
            "2026-03-26T00:00:00Z",
            "2026-10-22T00:00:00Z",
            "2026-10-29T00:00:00Z",
            "2026-12-23T00:00:00Z",
        ];
        let mut rng = Lcg(2026);
        for cal in &cals {
            for s in starts {
                for _ in 0..4 {
                    let from = t(s) + Duration::minutes(rng.next(3 * 1440) as i64);
                    // Up to three weeks: whole weeks are skipped at once.
                    let to = from + Duration::minutes(rng.next(21 * 1440) as i64);
                    let mut slow = 0;
                    let mut at = from;
                    while at < to {
                        slow += i64::from(is_working(cal, at));
                        at += Duration::minutes(1);
                    }
                    assert_eq!(
                        cal.working_between(from, to),
                        mins(slow),
                        "{cal:?} {from}..{to}"
                    );
                }
            }
        }
    }
}
