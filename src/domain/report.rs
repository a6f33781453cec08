//! Pure types of the reports (`stats`, the weekly digest): the range typed after `stats` and
//! the data a chart is drawn from (carried by an outbox row, so the chart is drawn at
//! delivery and a retry draws the same picture).

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

/// Longest range `stats` covers, days (a chart of one point per day stays readable).
pub const MAX_RANGE_DAYS: i64 = 366;

/// The range typed after `stats`: `today`, `Nd` (the last N days, 1 ≤ N ≤ 366) or
/// `YYYY-MM-DD..YYYY-MM-DD` (both days included). Days are local days of the reports' time
/// zone (`[reports] timezone`, UTC when unset).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Range {
    /// Since local midnight today.
    Today,
    /// The last N days up to now (`7d`: now minus 7 × 24 h to now).
    Days(u32),
    /// From the first day's local midnight to the end of the second day.
    Between(NaiveDate, NaiveDate),
}

impl Default for Range {
    fn default() -> Self {
        Range::Days(7)
    }
}

impl Range {
    /// Reads `today`, `7d`, `28d` (any `Nd` with 1 ≤ N ≤ 366) or `2026-11-01..2026-11-30`
    /// (from ≤ to, at most 366 days); `None` for anything else.
    pub fn parse(text: &str) -> Option<Range> {
        let t = text.trim().to_ascii_lowercase();
        if t == "today" {
            return Some(Range::Today);
        }
        if let Some(n) = t.strip_suffix('d') {
            return n
                .parse::<u32>()
                .ok()
                .filter(|n| (1..=MAX_RANGE_DAYS as u32).contains(n))
                .map(Range::Days);
        }
        let (a, b) = t.split_once("..")?;
        let a = NaiveDate::parse_from_str(a.trim(), "%Y-%m-%d").ok()?;
        let b = NaiveDate::parse_from_str(b.trim(), "%Y-%m-%d").ok()?;
        ((b - a).num_days() >= 0 && (b - a).num_days() < MAX_RANGE_DAYS)
            .then_some(Range::Between(a, b))
    }

    /// The instants `[from, to)` the range covers at `now`, days being local days in `tz`
    /// (a 23- or 25-hour day on a DST change counts as it is).
    pub fn bounds(&self, now: DateTime<Utc>, tz: Tz) -> (DateTime<Utc>, DateTime<Utc>) {
        match *self {
            Range::Today => (local_midnight(tz, now.with_timezone(&tz).date_naive()), now),
            Range::Days(n) => (now - Duration::days(i64::from(n)), now),
            Range::Between(a, b) => (
                local_midnight(tz, a),
                local_midnight(tz, b + Duration::days(1)),
            ),
        }
    }
}

/// The first instant of local day `day` in `tz`: its midnight, or, where a DST change skips
/// midnight, the first instant after the gap.
pub fn local_midnight(tz: Tz, day: NaiveDate) -> DateTime<Utc> {
    let start = day.and_time(chrono::NaiveTime::MIN);
    (0..=4)
        .find_map(|h| {
            tz.from_local_datetime(&(start + Duration::minutes(30 * h)))
                .earliest()
        })
        .map(|d| d.with_timezone(&Utc))
        .unwrap_or_else(|| start.and_utc())
}

/// What the chart shows; small, so an outbox row can carry it and the chart is drawn at
/// delivery (`desk::chart::render_png`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChartData {
    /// Headline, e.g. `claimdesk · 2026-11-24 – 2026-12-01 · support`.
    pub title: String,
    /// One point per local day of the range: (day, opened, resolved).
    pub days: Vec<(NaiveDate, i64, i64)>,
    /// First-response histogram: (bar label, tickets), `desk::stats::FIRST_RESPONSE_BARS` in order.
    pub first_response: Vec<(String, i64)>,
}
