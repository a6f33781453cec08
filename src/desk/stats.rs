//! `stats` and the weekly digest's figures: tickets opened and resolved over a range, the
//! backlog by age, first response and resolution times (median and p90, business time of
//! each ticket's department), SLA hit rate per metric and a table per agent. The rows come
//! from `store::stats` (set-based); the arithmetic is here; the words are in
//! `desk::messages` (`stats_report`), the picture in `desk::chart`.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Duration, NaiveDate, Utc};
use chrono_tz::Tz;

pub use crate::domain::report::{ChartData, Range, MAX_RANGE_DAYS};

use super::{Desk, DeskError};
use crate::store;

/// What `stats` was asked for, and where its chart goes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatsQuery {
    /// The range (last 7 days when not typed).
    pub range: Range,
    /// Only this department's tickets; all when `None`.
    pub department: Option<String>,
    /// The chat channel the command was typed in (Slack channel ID, Discord channel ID),
    /// where the chart is posted; set by the surface. `None` on the console (a file) or
    /// when unknown (the platform's desk channel).
    pub channel: Option<String>,
}

/// Count, median and 90th percentile of some durations (nearest rank: the value at rank
/// ⌈p·n⌉ of the sorted values; the median of 4 values is the 2nd).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Spread {
    /// How many durations.
    pub count: usize,
    /// Median; `None` without durations.
    pub median: Option<Duration>,
    /// 90th percentile; `None` without durations.
    pub p90: Option<Duration>,
}

impl Spread {
    /// The spread of `values` (any order).
    pub fn of(mut values: Vec<Duration>) -> Spread {
        values.sort();
        Spread {
            count: values.len(),
            median: percentile(&values, 0.5),
            p90: percentile(&values, 0.9),
        }
    }
}

/// The nearest-rank percentile `p` (0 < p ≤ 1) of `sorted`: the value at rank ⌈p·n⌉.
pub fn percentile(sorted: &[Duration], p: f64) -> Option<Duration> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (p * sorted.len() as f64).ceil() as usize;
    sorted.get(rank.clamp(1, sorted.len()) - 1).copied()
}

/// Ages of the open tickets (`BACKLOG_BUCKETS`): under 1 day, 1–3, 3–7, over 7 days.
pub const BACKLOG_BUCKETS: [&str; 4] = ["under 1d", "1-3d", "3-7d", "over 7d"];

/// Upper bounds of the first-response histogram's bars, hours (the last bar is everything
/// above the last bound).
pub const FIRST_RESPONSE_BARS_HOURS: [i64; 5] = [1, 4, 8, 24, 72];

/// The labels of the first-response histogram's bars.
pub const FIRST_RESPONSE_BARS: [&str; 6] = ["under 1h", "1-4h", "4-8h", "8-24h", "1-3d", "over 3d"];

/// SLA hit rate of one metric: clocks met without a breach among the clocks that ended in
/// the range (met, or breached and still unmet).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlaRate {
    /// `first_response`, `next_response` or `resolution`.
    pub metric: String,
    /// Met with no breach.
    pub hit: i64,
    /// Ended in the range.
    pub ended: i64,
}

/// One agent's line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentLine {
    /// Handle.
    pub handle: String,
    /// Tickets they hold that were resolved in the range.
    pub resolved: i64,
    /// Median first response of the tickets they hold that were opened in the range.
    pub median_first_response: Option<Duration>,
    /// Open tickets they hold now.
    pub open_now: i64,
}

/// The figures of one `stats` answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// Start of the range.
    pub from: DateTime<Utc>,
    /// End of the range (excluded).
    pub to: DateTime<Utc>,
    /// The zone whose local days the range and the chart's points are (`[reports]
    /// timezone`).
    pub zone: Tz,
    /// The department asked for, if any.
    pub department: Option<String>,
    /// Tickets opened in the range (`tickets.opened_at`; merged ones not counted).
    pub opened: i64,
    /// Tickets resolved in the range (`tickets.resolved_at`).
    pub resolved: i64,
    /// Open tickets now by age, [`BACKLOG_BUCKETS`] in order.
    pub backlog: [i64; 4],
    /// First response of the tickets opened in the range (business time).
    pub first_response: Spread,
    /// Opening to resolution of the tickets resolved in the range (business time).
    pub resolution: Spread,
    /// SLA hit rate per metric that had clocks ending in the range.
    pub sla: Vec<SlaRate>,
    /// One line per agent with anything to show, by handle.
    pub agents: Vec<AgentLine>,
    /// The chart's data.
    pub chart: ChartData,
    /// Customer ratings given or changed in the range (`ticket_ratings.rated_at`).
    pub ratings: RatingCounts,
}

/// Customer ratings in a range (see `desk::customer`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RatingCounts {
    /// Rated good.
    pub good: i64,
    /// Rated bad.
    pub bad: i64,
}

impl RatingCounts {
    /// Share of good ratings, percent; `None` without ratings.
    pub fn percent_good(&self) -> Option<f64> {
        let total = self.good + self.bad;
        (total > 0).then(|| 100.0 * self.good as f64 / total as f64)
    }
}

/// Working time between two instants for a ticket of a department:
/// `business(department, from, to)`.
pub type BusinessTime<'a> = dyn Fn(&str, DateTime<Utc>, DateTime<Utc>) -> Duration + 'a;

/// The figures from the rows: `rows` are the tickets opened or resolved in `[from, to)`,
/// `business(department, a, b)` the working time between two instants in that department,
/// the chart's points local days in `zone`.
/// Pure: the tests check it against figures computed by hand.
#[allow(clippy::too_many_arguments)]
pub fn compute(
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    zone: Tz,
    department: Option<String>,
    rows: &[store::stats::TicketTimes],
    backlog: [i64; 4],
    open_by_agent: &[(String, i64)],
    sla: Vec<SlaRate>,
    business: &BusinessTime<'_>,
) -> Report {
    let in_range = |t: DateTime<Utc>| t >= from && t < to;
    let mut first = Vec::new();
    let mut resolution = Vec::new();
    let (mut opened, mut resolved) = (0, 0);
    let mut agents: BTreeMap<String, (i64, Vec<Duration>, i64)> = BTreeMap::new();
    let day_of = |t: DateTime<Utc>| t.with_timezone(&zone).date_naive();
    let first_day = day_of(from);
    let last_day = day_of(to - Duration::nanoseconds(1)).max(first_day);
    let n_days = usize::try_from((last_day - first_day).num_days() + 1).unwrap_or(1);
    let mut days: Vec<(NaiveDate, i64, i64)> = (0..n_days)
        .map(|i| (first_day + Duration::days(i as i64), 0, 0))
        .collect();
    let day_index = |t: DateTime<Utc>| usize::try_from((day_of(t) - first_day).num_days()).ok();
    let mut bars = [0i64; 6];
    for r in rows {
        if in_range(r.opened_at) {
            opened += 1;
            if let Some(d) = day_index(r.opened_at).and_then(|i| days.get_mut(i)) {
                d.1 += 1;
            }
            if let Some(at) = r.first_response_at {
                let took = business(&r.department, r.opened_at, at).max(Duration::zero());
                first.push(took);
                let hours = took.num_seconds() as f64 / 3600.0;
                let bar = FIRST_RESPONSE_BARS_HOURS
                    .iter()
                    .position(|h| hours < *h as f64)
                    .unwrap_or(FIRST_RESPONSE_BARS_HOURS.len());
                bars[bar] += 1;
                if let Some(h) = &r.assignee {
                    agents.entry(h.clone()).or_default().1.push(took);
                }
            }
        }
        if let Some(at) = r.resolved_at.filter(|at| in_range(*at)) {
            resolved += 1;
            if let Some(d) = day_index(at).and_then(|i| days.get_mut(i)) {
                d.2 += 1;
            }
            resolution.push(business(&r.department, r.opened_at, at).max(Duration::zero()));
            if let Some(h) = &r.assignee {
                agents.entry(h.clone()).or_default().0 += 1;
            }
        }
    }
    for (h, n) in open_by_agent {
        agents.entry(h.clone()).or_default().2 = *n;
    }
    let title = format!(
        "claimdesk · {} – {}{}",
        first_day.format("%Y-%m-%d"),
        last_day.format("%Y-%m-%d"),
        department
            .as_deref()
            .map(|d| format!(" · {d}"))
            .unwrap_or_default()
    );
    Report {
        ratings: RatingCounts::default(),
        from,
        to,
        zone,
        department,
        opened,
        resolved,
        backlog,
        first_response: Spread::of(first),
        resolution: Spread::of(resolution),
        sla,
        agents: agents
            .into_iter()
            .map(|(handle, (resolved, firsts, open_now))| {
                let mut firsts = firsts;
                firsts.sort();
                AgentLine {
                    handle,
                    resolved,
                    median_first_response: percentile(&firsts, 0.5),
                    open_now,
                }
            })
            .collect(),
        chart: ChartData {
            title,
            days,
            first_response: FIRST_RESPONSE_BARS
                .iter()
                .zip(bars)
                .map(|(l, n)| (l.to_string(), n))
                .collect(),
        },
    }
}

impl Desk {
    /// The working hours of each department among `rows` (`[sla.hours.<department>]`, else
    /// `[sla.hours.default]`, else 24/7), looked up once per department.
    fn calendars_of(
        &self,
        rows: &[store::stats::TicketTimes],
    ) -> HashMap<String, crate::domain::sla::Calendar> {
        let mut out = HashMap::new();
        for r in rows {
            if !out.contains_key(&r.department) {
                out.insert(
                    r.department.clone(),
                    self.sla.calendar_for(&r.department).clone(),
                );
            }
        }
        out
    }

    /// The figures of `query` at the desk's current time (see [`Report`]).
    ///
    /// Errors: [`DeskError::BadInput`] for an unknown department; the database's.
    pub async fn stats(&self, query: &StatsQuery) -> Result<Report, DeskError> {
        self.stats_at(query, self.now()).await
    }

    /// The figures of `query` as of `now`.
    ///
    /// Errors: as [`Desk::stats`].
    pub async fn stats_at(
        &self,
        query: &StatsQuery,
        now: DateTime<Utc>,
    ) -> Result<Report, DeskError> {
        let zone = self.reports.zone().unwrap_or(chrono_tz::UTC);
        let (from, to) = query.range.bounds(now, zone);
        let department = query.department.as_deref().map(str::trim);
        if let Some(d) = department {
            // Only a configured department is echoed back (in the answer and the chart's
            // title): typed text never reaches the channel.
            if !self.departments.contains_key(d) {
                let mut known: Vec<&str> = self.departments.keys().map(String::as_str).collect();
                known.sort();
                return Err(DeskError::BadInput(super::messages::unknown_department(
                    d, &known,
                )));
            }
        }
        let mut conn = self.pool.acquire().await?;
        let rows = store::stats::ticket_times(&mut conn, from, to, department).await?;
        let backlog = store::stats::backlog(&mut conn, now, department).await?;
        let open = store::stats::open_by_agent(&mut conn, department).await?;
        let sla = store::stats::sla_rates(&mut conn, from, to, department)
            .await?
            .into_iter()
            .map(|(metric, hit, ended)| SlaRate { metric, hit, ended })
            .collect();
        let calendars = self.calendars_of(&rows);
        let always = crate::domain::sla::Calendar::always();
        let business = |d: &str, a, b| calendars.get(d).unwrap_or(&always).working_between(a, b);
        let (good, bad) = store::ratings::counts(&mut conn, from, to, department).await?;
        let mut report = compute(
            from,
            to,
            zone,
            department.map(str::to_string),
            &rows,
            backlog,
            &open,
            sla,
            &business,
        );
        report.ratings = RatingCounts { good, bad };
        Ok(report)
    }

    /// Runs `stats` for `query` and queues its chart into the channel it names on
    /// `platform` when that platform is active. Returns the figures, to be worded for the
    /// asker, and whether a chart was queued.
    ///
    /// Errors: as [`Desk::stats`].
    pub async fn stats_with_chart(
        &self,
        platform: &str,
        query: &StatsQuery,
    ) -> Result<(Report, bool), DeskError> {
        let report = self.stats(query).await?;
        let active = self.platforms.iter().any(|p| p == platform);
        if active {
            let mut conn = self.pool.acquire().await?;
            let effect = store::outbox::Effect::ChannelChart {
                platform: platform.to_string(),
                channel: query.channel.clone(),
                comment: None,
                chart: report.chart.clone(),
            };
            self.sink(&mut conn).effect(None, &effect).await?;
        }
        Ok((report, active))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_parse_and_bound() {
        let now = "2026-12-02T12:00:00Z".parse::<DateTime<Utc>>().unwrap();
        assert_eq!(Range::parse("today"), Some(Range::Today));
        assert_eq!(Range::parse("28d"), Some(Range::Days(28)));
        assert_eq!(Range::parse("0d"), None);
        assert_eq!(Range::parse("400d"), None);
        assert_eq!(Range::parse("2026-12-02..2026-11-01"), None);
        assert_eq!(Range::parse("billing"), None);
        let r = Range::parse("2026-11-01..2026-11-30").unwrap();
        let utc = chrono_tz::UTC;
        let (a, b) = r.bounds(now, utc);
        assert_eq!(a.to_rfc3339(), "2026-11-01T00:00:00+00:00");
        assert_eq!(b.to_rfc3339(), "2026-12-01T00:00:00+00:00");
        let (a, b) = Range::Today.bounds(now, utc);
        assert_eq!(
            (a.to_rfc3339().as_str(), b),
            ("2026-12-02T00:00:00+00:00", now)
        );
        assert_eq!(Range::Days(7).bounds(now, utc).0, now - Duration::days(7));
    }

    #[test]
    fn days_are_local_days_of_the_reports_zone() {
        let berlin: Tz = "Europe/Berlin".parse().unwrap();
        let at = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        // 00:30 on the 2nd in Berlin (23:30 UTC on the 1st): "today" is the last half hour.
        let now = at("2026-12-01T23:30:00Z");
        assert_eq!(
            Range::Today.bounds(now, berlin),
            (at("2026-12-01T23:00:00Z"), now)
        );
        // A range over the October DST change: the 25th has 25 hours.
        let r = Range::parse("2026-10-25..2026-10-25").unwrap();
        assert_eq!(
            r.bounds(now, berlin),
            (at("2026-10-24T22:00:00Z"), at("2026-10-25T23:00:00Z"))
        );
        // Where midnight is skipped (Santiago, 2026-09-06 00:00 -> 01:00), the day starts
        // after the gap.
        let santiago: Tz = "America/Santiago".parse().unwrap();
        let r = Range::parse("2026-09-06..2026-09-06").unwrap();
        assert_eq!(r.bounds(now, santiago).0, at("2026-09-06T04:00:00Z"));
        // The chart's points are Berlin days: a ticket opened at 23:30 UTC on the 30th
        // counts on December 1st.
        let row = store::stats::TicketTimes {
            department: "support".into(),
            opened_at: at("2026-11-30T23:30:00Z"),
            first_response_at: None,
            resolved_at: None,
            assignee: None,
        };
        let (from, to) = Range::parse("2026-11-30..2026-12-01")
            .unwrap()
            .bounds(now, berlin);
        let report = compute(
            from,
            to,
            berlin,
            None,
            &[row],
            [0; 4],
            &[],
            Vec::new(),
            &|_: &str, a, b| b - a,
        );
        let day = |d: &str| d.parse::<NaiveDate>().unwrap();
        assert_eq!(
            report.chart.days,
            vec![(day("2026-11-30"), 0, 0), (day("2026-12-01"), 1, 0)]
        );
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let m = |v: &[i64]| Spread::of(v.iter().map(|s| Duration::minutes(*s)).collect());
        let s = m(&[40, 10, 30, 20]);
        assert_eq!(s.median, Some(Duration::minutes(20)));
        assert_eq!(s.p90, Some(Duration::minutes(40)));
        let s = m(&[5]);
        assert_eq!(
            (s.median, s.p90),
            (Some(Duration::minutes(5)), Some(Duration::minutes(5)))
        );
        assert_eq!(m(&[]), Spread::default());
        let ten: Vec<i64> = (1..=10).collect();
        assert_eq!(m(&ten).p90, Some(Duration::minutes(9)));
    }
}
