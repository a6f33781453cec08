//! SLA clock arithmetic, with no I/O: policies (goals per metric) and the clocks of one ticket,
//! which events start, pause, resume and meet, and which raise a warning and a breach alert
//! once each. Working-hours calendars ([`Calendar`]) are in the private `calendar` submodule and
//! re-exported here.
//!
//! Time is `DateTime<Utc>` throughout. A goal in business time counts only the working instants
//! of its department's [`Calendar`]; a goal in wall time counts every instant.
//!
//! Mirrors `sla_clocks` (migrations/0012_sla.sql): one [`Clock`] per ticket and metric.

use std::sync::LazyLock;

use chrono::{DateTime, Duration, Utc};

use crate::domain::status::Status;

mod calendar;

pub use calendar::{Calendar, CalendarError, WEEKDAYS};

static ALWAYS: LazyLock<Calendar> = LazyLock::new(Calendar::always);

/// What an SLA goal measures.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Metric {
    /// From the ticket's first message to the first agent reply.
    FirstResponse,
    /// From a customer message after an agent reply to the next agent reply.
    NextResponse,
    /// From the ticket's first message to its resolution.
    Resolution,
}

impl Metric {
    /// Every metric.
    pub const ALL: [Metric; 3] = [
        Metric::FirstResponse,
        Metric::NextResponse,
        Metric::Resolution,
    ];

    /// The stored name (`first_response`, `next_response`, `resolution`).
    pub fn as_str(self) -> &'static str {
        match self {
            Metric::FirstResponse => "first_response",
            Metric::NextResponse => "next_response",
            Metric::Resolution => "resolution",
        }
    }

    /// The metric of a stored name; `None` for any other text.
    pub fn parse(s: &str) -> Option<Metric> {
        Metric::ALL.into_iter().find(|m| m.as_str() == s)
    }
}

/// One goal: reached within `within`, counted in business time (`business`, the department's
/// [`Calendar`]) or wall time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Goal {
    /// The time allowed (positive).
    pub within: Duration,
    /// Whether only working hours count.
    pub business: bool,
}

/// The SLA of a ticket: a goal per metric (absent: not measured).
#[derive(Clone, Debug, PartialEq)]
pub struct Policy {
    /// Goal for the first agent reply.
    pub first_response: Option<Goal>,
    /// Goal for each agent reply after a customer message.
    pub next_response: Option<Goal>,
    /// Goal for resolution.
    pub resolution: Option<Goal>,
    /// Share of the goal at which the warning goes out, in (0, 1); default 0.75.
    pub warn_share: f64,
    /// Whether clocks pause while the ticket is `waiting` on the customer.
    pub pause_while_waiting: bool,
}

impl Policy {
    /// The goal of metric `m`, if any.
    pub fn goal(&self, m: Metric) -> Option<Goal> {
        match m {
            Metric::FirstResponse => self.first_response,
            Metric::NextResponse => self.next_response,
            Metric::Resolution => self.resolution,
        }
    }
}

/// One metric's clock; mirrors one `sla_clocks` row (migrations/0012_sla.sql).
#[derive(Clone, Debug, PartialEq)]
pub struct Clock {
    /// What it measures.
    pub metric: Metric,
    /// Its goal.
    pub goal: Goal,
    /// When it (or its cycle, for next response) started.
    pub started_at: DateTime<Utc>,
    /// Time counted (business or wall per `goal.business`) before `running_since`.
    pub consumed: Duration,
    /// Since when it runs; None while paused or after it was met.
    pub running_since: Option<DateTime<Utc>>,
    /// When the goal was met (the reply, the resolution).
    pub met_at: Option<DateTime<Utc>>,
    /// When the warning was queued (once per cycle).
    pub warned_at: Option<DateTime<Utc>>,
    /// When the breach alert was queued (once per cycle).
    pub breached_at: Option<DateTime<Utc>>,
    /// Breaches over the ticket's life (next response can breach once per cycle).
    pub breaches: i32,
}

impl Clock {
    /// A clock of `metric` with `goal` started at `at`, running.
    pub fn start(metric: Metric, goal: Goal, at: DateTime<Utc>) -> Clock {
        Clock {
            metric,
            goal,
            started_at: at,
            consumed: Duration::zero(),
            running_since: Some(at),
            met_at: None,
            warned_at: None,
            breached_at: None,
            breaches: 0,
        }
    }

    fn calendar<'a>(&self, cal: &'a Calendar) -> &'a Calendar {
        if self.goal.business {
            cal
        } else {
            &ALWAYS
        }
    }

    /// Whether it is unmet and running.
    pub fn is_running(&self) -> bool {
        self.met_at.is_none() && self.running_since.is_some()
    }

    /// When `part` of the goal is reached if it keeps running; None while paused or met.
    fn reaches(&self, cal: &Calendar, part: Duration) -> Option<DateTime<Utc>> {
        if self.met_at.is_some() {
            return None;
        }
        let since = self.running_since?;
        if part <= self.consumed {
            // Reached before it last resumed (a goal shrunk, or paused past it): due as soon
            // as it runs again, even outside working hours.
            return Some(since);
        }
        self.calendar(cal).add_working(since, part - self.consumed)
    }

    /// When the goal is reached if it keeps running; None while paused or met (or when its
    /// business calendar has no working time). A clock that had already used its goal when it
    /// last resumed is due at that resumption.
    pub fn due(&self, cal: &Calendar) -> Option<DateTime<Utc>> {
        self.reaches(cal, self.goal.within)
    }

    /// When the warning is due (`share` of the goal); None while paused or met.
    pub fn warn_at(&self, cal: &Calendar, share: f64) -> Option<DateTime<Utc>> {
        self.reaches(cal, share_of(self.goal.within, share))
    }

    /// Time counted so far at `now`.
    pub fn used(&self, cal: &Calendar, now: DateTime<Utc>) -> Duration {
        match (self.met_at, self.running_since) {
            (None, Some(since)) => self.consumed + self.calendar(cal).working_between(since, now),
            _ => self.consumed,
        }
    }

    /// Stops counting at `at` (keeps the time counted); no-op when not running.
    fn pause(&mut self, cal: &Calendar, at: DateTime<Utc>) {
        if let Some(since) = self.running_since.take() {
            self.consumed += self.calendar(cal).working_between(since, at);
        }
    }

    /// Counts again from `at` when unmet and paused.
    fn resume(&mut self, at: DateTime<Utc>) {
        if self.met_at.is_none() && self.running_since.is_none() {
            self.running_since = Some(at);
        }
    }

    /// Marks it met at `at`; no-op when already met.
    fn meet(&mut self, cal: &Calendar, at: DateTime<Utc>) {
        if self.met_at.is_none() {
            self.pause(cal, at);
            self.met_at = Some(at);
        }
    }
}

/// `share` of `d`, to the second (`share` clamped to [0, 1]).
fn share_of(d: Duration, share: f64) -> Duration {
    let share = if share.is_finite() {
        share.clamp(0.0, 1.0)
    } else {
        1.0
    };
    Duration::seconds((d.num_seconds() as f64 * share).round() as i64)
}

/// What happened to a ticket, and when (the received time for customer messages).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// The ticket was opened (its first message was received).
    Opened {
        /// When.
        at: DateTime<Utc>,
    },
    /// The customer wrote again.
    CustomerMessage {
        /// When the message was received.
        at: DateTime<Utc>,
    },
    /// An agent replied to the customer.
    AgentReply {
        /// When.
        at: DateTime<Utc>,
    },
    /// The ticket's status changed.
    StatusChanged {
        /// Before.
        from: Status,
        /// After.
        to: Status,
        /// When.
        at: DateTime<Utc>,
    },
    /// Priority or department changed, so the policy may have: goals are re-targeted,
    /// time already counted is kept.
    PolicyChanged {
        /// When.
        at: DateTime<Utc>,
    },
}

impl Event {
    /// When it happened.
    pub fn at(&self) -> DateTime<Utc> {
        match *self {
            Event::Opened { at }
            | Event::CustomerMessage { at }
            | Event::AgentReply { at }
            | Event::StatusChanged { at, .. }
            | Event::PolicyChanged { at } => at,
        }
    }
}

/// Which alert of a clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AlertKind {
    /// The warning share of the goal has passed.
    Warning,
    /// The goal has passed unmet.
    Breach,
}

/// An alert to send for one clock.
#[derive(Clone, Debug, PartialEq)]
pub struct Alert {
    /// Which clock.
    pub metric: Metric,
    /// Warning or breach.
    pub kind: AlertKind,
    /// When the clock's goal is (or was) due.
    pub due: DateTime<Utc>,
}

/// The clocks of one ticket (at most one per metric).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Clocks(pub Vec<Clock>);

impl Clocks {
    /// The clock of `m`, if any.
    pub fn get(&self, m: Metric) -> Option<&Clock> {
        self.0.iter().find(|c| c.metric == m)
    }

    fn get_mut(&mut self, m: Metric) -> Option<&mut Clock> {
        self.0.iter_mut().find(|c| c.metric == m)
    }

    /// Puts `clock` in place of the clock of its metric (or adds it).
    fn put(&mut self, clock: Clock) {
        match self.get_mut(clock.metric) {
            Some(c) => *c = clock,
            None => {
                self.0.push(clock);
                self.0.sort_by_key(|c| c.metric);
            }
        }
    }

    /// Starts `m` at `at` under `policy` unless a clock of `m` exists or the policy has no goal.
    fn start_missing(&mut self, policy: &Policy, m: Metric, at: DateTime<Utc>) {
        if self.get(m).is_none() {
            if let Some(goal) = policy.goal(m) {
                self.put(Clock::start(m, goal, at));
            }
        }
    }

    /// Applies `event` under `policy` (None: no SLA for this ticket; clocks stop counting).
    /// Rules: Opened starts first_response and resolution; CustomerMessage after an agent
    /// reply starts a new next_response cycle (warned/breached cleared); AgentReply meets
    /// first_response / the running next_response; Waiting pauses every running clock when
    /// `pause_while_waiting`, leaving Waiting resumes; Resolved/Closed/Merged meets resolution
    /// and stops the others; reopening (Resolved -> Open/Claimed/InProgress) resumes resolution.
    ///
    /// Details:
    /// - With `policy` None every unmet clock is dropped (met ones are kept as history).
    /// - CustomerMessage starts a cycle unless first_response is still unmet or a next_response
    ///   cycle is running; the new cycle starts paused when the ticket's resolution clock is
    ///   paused (the ticket waits), and keeps the breach count of the previous cycle.
    /// - AgentReply meets every unmet first_response and next_response clock, running or not.
    /// - Leaving Waiting, Resolved, Closed or Merged for an active status resumes every unmet
    ///   clock (a reopened ticket's resolution clock: met_at cleared, time counted kept;
    ///   warned/breached stay so its alerts are not repeated).
    /// - PolicyChanged re-targets each clock to the new goal of its metric (time counted kept;
    ///   a warning or breach that is no longer due is cleared, so it can be sent again at the
    ///   new moment), drops unmet clocks of metrics the policy no longer measures, and starts
    ///   first_response and resolution at `at` when the ticket has no clock of them (it had no
    ///   SLA before). A goal switched between business and wall time keeps its counted time as is.
    pub fn apply(&mut self, policy: Option<&Policy>, cal: &Calendar, event: &Event) {
        let Some(policy) = policy else {
            self.0.retain(|c| c.met_at.is_some());
            return;
        };
        match *event {
            Event::Opened { at } => {
                self.start_missing(policy, Metric::FirstResponse, at);
                self.start_missing(policy, Metric::Resolution, at);
            }
            Event::CustomerMessage { at } => {
                let awaiting_first = self
                    .get(Metric::FirstResponse)
                    .is_some_and(|c| c.met_at.is_none());
                let cycle_running = self
                    .get(Metric::NextResponse)
                    .is_some_and(|c| c.is_running());
                let cycle_waiting = self
                    .get(Metric::NextResponse)
                    .is_some_and(|c| c.met_at.is_none());
                if awaiting_first || cycle_running || cycle_waiting && self.is_paused() {
                    return;
                }
                let Some(goal) = policy.goal(Metric::NextResponse) else {
                    return;
                };
                let mut clock = Clock::start(Metric::NextResponse, goal, at);
                clock.breaches = self.get(Metric::NextResponse).map_or(0, |c| c.breaches);
                if self.is_paused() {
                    clock.running_since = None;
                }
                self.put(clock);
            }
            Event::AgentReply { at } => {
                for c in &mut self.0 {
                    if matches!(c.metric, Metric::FirstResponse | Metric::NextResponse) {
                        c.meet(cal, at);
                    }
                }
            }
            Event::StatusChanged { from, to, at } => {
                if from == to {
                    return;
                }
                if to.is_done() {
                    for c in &mut self.0 {
                        match c.metric {
                            Metric::Resolution => c.meet(cal, at),
                            _ => c.pause(cal, at),
                        }
                    }
                    return;
                }
                if from.is_done() {
                    if let Some(c) = self.get_mut(Metric::Resolution) {
                        c.met_at = None;
                    }
                }
                let pause = to == Status::Waiting && policy.pause_while_waiting;
                for c in &mut self.0 {
                    if pause {
                        c.pause(cal, at);
                    } else if from == Status::Waiting || from.is_done() {
                        c.resume(at);
                    }
                }
            }
            Event::PolicyChanged { at } => {
                let paused = self.is_paused();
                self.0
                    .retain(|c| c.met_at.is_some() || policy.goal(c.metric).is_some());
                for c in &mut self.0 {
                    let Some(goal) = policy.goal(c.metric) else {
                        continue;
                    };
                    c.goal = goal;
                    if c.met_at.is_some() {
                        continue;
                    }
                    let used = c.used(cal, at);
                    if c.breached_at.is_some() && used < goal.within {
                        c.breached_at = None;
                    }
                    if c.warned_at.is_some() && used < share_of(goal.within, policy.warn_share) {
                        c.warned_at = None;
                    }
                }
                for m in [Metric::FirstResponse, Metric::Resolution] {
                    if self.get(m).is_none() {
                        self.start_missing(policy, m, at);
                        if paused {
                            if let Some(c) = self.get_mut(m) {
                                c.running_since = None;
                            }
                        }
                    }
                }
            }
        }
    }

    /// Whether the ticket's clocks are paused: its resolution clock exists, is unmet and not
    /// running (the ticket waits on the customer).
    fn is_paused(&self) -> bool {
        self.get(Metric::Resolution)
            .is_some_and(|c| c.met_at.is_none() && c.running_since.is_none())
    }

    /// The earliest moment a warning or breach of an unmet clock is due and not yet sent.
    pub fn next_moment(&self, cal: &Calendar, share: f64) -> Option<DateTime<Utc>> {
        self.0
            .iter()
            .filter(|c| c.is_running() && c.breached_at.is_none())
            .filter_map(|c| {
                if c.warned_at.is_none() {
                    c.warn_at(cal, share)
                } else {
                    c.due(cal)
                }
            })
            .min()
    }

    /// The alerts due at `now` not yet sent; marks them sent (warned_at / breached_at,
    /// breaches += 1). A clock already past its due time gets only the breach.
    pub fn take_due_alerts(
        &mut self,
        cal: &Calendar,
        share: f64,
        now: DateTime<Utc>,
    ) -> Vec<Alert> {
        let mut out = Vec::new();
        for c in &mut self.0 {
            if !c.is_running() || c.breached_at.is_some() {
                continue;
            }
            let Some(due) = c.due(cal) else { continue };
            if due <= now {
                c.breached_at = Some(now);
                c.breaches += 1;
                out.push(Alert {
                    metric: c.metric,
                    kind: AlertKind::Breach,
                    due,
                });
            } else if c.warned_at.is_none() && c.warn_at(cal, share).is_some_and(|w| w <= now) {
                c.warned_at = Some(now);
                out.push(Alert {
                    metric: c.metric,
                    kind: AlertKind::Warning,
                    due,
                });
            }
        }
        out
    }

    /// The clock a card shows: the unmet running clock with the earliest due time.
    pub fn headline(&self, cal: &Calendar) -> Option<(Metric, DateTime<Utc>)> {
        self.0
            .iter()
            .filter_map(|c| c.due(cal).map(|d| (c.metric, d)))
            .min_by_key(|&(m, d)| (d, m))
    }
}

/// Test helpers shared by the clock tests (below) and the calendar tests (`calendar.rs`).
#[cfg(test)]
mod test_support {
    use super::*;
    use chrono::{NaiveDate, NaiveTime};
    use chrono_tz::Tz;

    // 2026: Mon 2 March; Berlin DST starts Sun 29 March, ends Sun 25 October; New York starts
    // Sun 8 March, ends Sun 1 November. Berlin is UTC+1 in winter, +2 in summer.

    pub(super) fn t(s: &str) -> DateTime<Utc> {
        s.parse().expect("test instant")
    }

    pub(super) fn hm(s: &str) -> NaiveTime {
        NaiveTime::parse_from_str(s, "%H:%M").expect("test time")
    }

    pub(super) fn date(s: &str) -> NaiveDate {
        s.parse().expect("test date")
    }

    pub(super) fn mins(m: i64) -> Duration {
        Duration::minutes(m)
    }

    /// `hours` on Mon–Fri (e.g. `[("09:00", "17:00")]`), closed on weekends.
    pub(super) fn weekdays(tz: Tz, hours: &[(&str, &str)], holidays: &[&str]) -> Calendar {
        let day: Vec<(NaiveTime, NaiveTime)> = hours.iter().map(|&(s, e)| (hm(s), hm(e))).collect();
        let week = std::array::from_fn(|d| if d < 5 { day.clone() } else { Vec::new() });
        Calendar::new(tz, week, holidays.iter().map(|h| date(h))).expect("calendar")
    }

    pub(super) fn berlin() -> Calendar {
        weekdays(
            Tz::Europe__Berlin,
            &[("09:00", "17:00")],
            &["2026-12-25", "2026-12-26"],
        )
    }

    pub(super) fn empty() -> Calendar {
        Calendar::new(Tz::Europe__Berlin, Default::default(), []).expect("calendar")
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::*;
    use super::*;

    /// (name, policy, events, now, per clock: metric, minutes used at now, due, met).
    type LifeCase<'a> = (
        &'a str,
        Policy,
        Vec<Event>,
        &'a str,
        Vec<(Metric, i64, Option<&'a str>, bool)>,
    );
    /// (now, next moment before taking, alerts taken: metric, kind, due).
    type Step<'a> = (&'a str, Option<&'a str>, Vec<(Metric, AlertKind, &'a str)>);
    /// (name, events, headline: metric and due).
    type HeadlineCase<'a> = (&'a str, Vec<Event>, Option<(Metric, &'a str)>);

    fn goal(m: i64) -> Option<Goal> {
        Some(Goal {
            within: mins(m),
            business: true,
        })
    }

    /// First response 1 h, next response 4 h, resolution 8 h, business time, warning at 75 %.
    fn standard() -> Policy {
        Policy {
            first_response: goal(60),
            next_response: goal(240),
            resolution: goal(480),
            warn_share: 0.75,
            pause_while_waiting: true,
        }
    }

    /// First response 30 min, next response 1 h, resolution 4 h.
    fn urgent() -> Policy {
        Policy {
            first_response: goal(30),
            next_response: goal(60),
            resolution: goal(240),
            ..standard()
        }
    }

    fn opened(at: &str) -> Event {
        Event::Opened { at: t(at) }
    }
    fn customer(at: &str) -> Event {
        Event::CustomerMessage { at: t(at) }
    }
    fn reply(at: &str) -> Event {
        Event::AgentReply { at: t(at) }
    }
    fn status(from: Status, to: Status, at: &str) -> Event {
        Event::StatusChanged {
            from,
            to,
            at: t(at),
        }
    }
    fn policy_changed(at: &str) -> Event {
        Event::PolicyChanged { at: t(at) }
    }

    /// Applies `events` under `policy` with the Berlin office calendar.
    fn run(policy: &Policy, events: &[Event]) -> Clocks {
        let mut c = Clocks::default();
        for e in events {
            c.apply(Some(policy), &berlin(), e);
        }
        c
    }

    /// (metric, used at `now` in minutes, due, met) of each clock.
    fn summary(c: &Clocks, now: &str) -> Vec<(Metric, i64, Option<DateTime<Utc>>, bool)> {
        let cal = berlin();
        c.0.iter()
            .map(|k| {
                (
                    k.metric,
                    k.used(&cal, t(now)).num_minutes(),
                    k.due(&cal),
                    k.met_at.is_some(),
                )
            })
            .collect()
    }

    use Metric::{FirstResponse as Fr, NextResponse as Nr, Resolution as Res};
    use Status::{Claimed, Closed, InProgress, Open, Resolved, Waiting};

    #[test]
    fn clock_life_table() {
        let no_pause = Policy {
            pause_while_waiting: false,
            ..standard()
        };
        // Opened Mon 2 March 09:00 Berlin (08:00Z) unless said otherwise.
        let cases: Vec<LifeCase> = vec![
            (
                "opened: first response and resolution run",
                standard(),
                vec![opened("2026-03-02T08:00:00Z")],
                "2026-03-02T08:30:00Z",
                vec![
                    (Fr, 30, Some("2026-03-02T09:00:00Z"), false),
                    (Res, 30, Some("2026-03-02T16:00:00Z"), false),
                ],
            ),
            (
                "opened on saturday: nothing counts before monday",
                standard(),
                vec![opened("2026-03-07T10:00:00Z")],
                "2026-03-09T08:30:00Z",
                vec![
                    (Fr, 30, Some("2026-03-09T09:00:00Z"), false),
                    (Res, 30, Some("2026-03-09T16:00:00Z"), false),
                ],
            ),
            (
                "agent reply meets first response",
                standard(),
                vec![
                    opened("2026-03-02T08:00:00Z"),
                    reply("2026-03-02T08:20:00Z"),
                ],
                "2026-03-02T10:00:00Z",
                vec![
                    (Fr, 20, None, true),
                    (Res, 120, Some("2026-03-02T16:00:00Z"), false),
                ],
            ),
            (
                "waiting pauses, leaving waiting resumes",
                standard(),
                vec![
                    opened("2026-03-02T08:00:00Z"),
                    reply("2026-03-02T08:30:00Z"),
                    status(InProgress, Waiting, "2026-03-02T09:00:00Z"),
                    status(Waiting, InProgress, "2026-03-03T08:00:00Z"),
                ],
                "2026-03-03T09:00:00Z",
                vec![
                    (Fr, 30, None, true),
                    (Res, 120, Some("2026-03-03T15:00:00Z"), false),
                ],
            ),
            (
                "still waiting: paused, no due time",
                standard(),
                vec![
                    opened("2026-03-02T08:00:00Z"),
                    reply("2026-03-02T08:30:00Z"),
                    status(InProgress, Waiting, "2026-03-02T09:00:00Z"),
                ],
                "2026-03-04T09:00:00Z",
                vec![(Fr, 30, None, true), (Res, 60, None, false)],
            ),
            (
                "waiting does not pause when the policy says so",
                no_pause,
                vec![
                    opened("2026-03-02T08:00:00Z"),
                    reply("2026-03-02T08:30:00Z"),
                    status(InProgress, Waiting, "2026-03-02T09:00:00Z"),
                    status(Waiting, InProgress, "2026-03-03T08:00:00Z"),
                ],
                "2026-03-03T09:00:00Z",
                vec![
                    (Fr, 30, None, true),
                    (Res, 540, Some("2026-03-02T16:00:00Z"), false),
                ],
            ),
            (
                "resolve meets resolution and stops first response",
                standard(),
                vec![
                    opened("2026-03-02T08:00:00Z"),
                    status(Claimed, Resolved, "2026-03-02T10:00:00Z"),
                ],
                "2026-03-03T10:00:00Z",
                vec![(Fr, 120, None, false), (Res, 120, None, true)],
            ),
            (
                "reopen resumes resolution with its time counted",
                standard(),
                vec![
                    opened("2026-03-02T08:00:00Z"),
                    reply("2026-03-02T08:30:00Z"),
                    status(InProgress, Resolved, "2026-03-02T10:00:00Z"),
                    status(Resolved, Open, "2026-03-03T08:00:00Z"),
                ],
                "2026-03-03T09:00:00Z",
                vec![
                    (Fr, 30, None, true),
                    (Res, 180, Some("2026-03-03T14:00:00Z"), false),
                ],
            ),
            (
                "closing a resolved ticket changes nothing",
                standard(),
                vec![
                    opened("2026-03-02T08:00:00Z"),
                    reply("2026-03-02T08:30:00Z"),
                    status(InProgress, Resolved, "2026-03-02T10:00:00Z"),
                    status(Resolved, Closed, "2026-03-03T10:00:00Z"),
                ],
                "2026-03-04T09:00:00Z",
                vec![(Fr, 30, None, true), (Res, 120, None, true)],
            ),
            (
                "priority raised: goals shrink, time counted kept",
                standard(),
                vec![
                    opened("2026-03-02T08:00:00Z"),
                    reply("2026-03-02T08:10:00Z"),
                    policy_changed("2026-03-02T10:00:00Z"),
                ],
                "2026-03-02T10:00:00Z",
                vec![
                    (Fr, 10, None, true),
                    (Res, 120, Some("2026-03-02T16:00:00Z"), false),
                ],
            ),
        ];
        for (name, policy, events, now, want) in cases {
            let c = run(&policy, &events);
            let want: Vec<_> = want
                .into_iter()
                .map(|(m, u, d, met)| (m, u, d.map(t), met))
                .collect();
            assert_eq!(summary(&c, now), want, "{name}");
        }
    }

    #[test]
    fn policy_change_retargets_goals_and_keeps_time_counted() {
        let cal = berlin();
        let mut c = run(&standard(), &[opened("2026-03-02T08:00:00Z")]);
        // Priority raised at 10:00 Berlin: 1 h of the 8 h resolution used, 4 h now allowed,
        // so 3 h are left.
        c.apply(
            Some(&urgent()),
            &cal,
            &policy_changed("2026-03-02T09:00:00Z"),
        );
        let res = c.get(Res).expect("resolution");
        assert_eq!(res.goal.within, mins(240));
        assert_eq!(res.used(&cal, t("2026-03-02T09:00:00Z")), mins(60));
        assert_eq!(res.due(&cal), Some(t("2026-03-02T12:00:00Z")));
        // First response: 60 min used of the new 30 min goal: due already (a breach).
        let fr = c.get(Fr).expect("first response");
        assert!(fr.due(&cal).is_some_and(|d| d <= t("2026-03-02T09:00:00Z")));
        let alerts = c.take_due_alerts(&cal, 0.75, t("2026-03-02T09:00:00Z"));
        assert_eq!(
            alerts
                .iter()
                .map(|a| (a.metric, a.kind))
                .collect::<Vec<_>>(),
            [(Fr, AlertKind::Breach)]
        );
        // Relaxed to 2 h: the breach is no longer true, so it is cleared (the count stays).
        let relaxed = Policy {
            first_response: goal(120),
            ..standard()
        };
        c.apply(
            Some(&relaxed),
            &cal,
            &policy_changed("2026-03-02T09:00:00Z"),
        );
        let fr = c.get(Fr).expect("first response");
        assert_eq!((fr.breached_at, fr.breaches), (None, 1));
        // A policy without next response and resolution drops those clocks.
        let only_first = Policy {
            next_response: None,
            resolution: None,
            ..standard()
        };
        c.apply(
            Some(&only_first),
            &cal,
            &policy_changed("2026-03-02T09:10:00Z"),
        );
        assert_eq!(c.0.iter().map(|k| k.metric).collect::<Vec<_>>(), [Fr]);
        // No SLA any more: unmet clocks go.
        c.apply(None, &cal, &policy_changed("2026-03-02T09:20:00Z"));
        assert_eq!(c, Clocks::default());
        // An SLA again: clocks start at the change.
        c.apply(
            Some(&standard()),
            &cal,
            &policy_changed("2026-03-02T09:30:00Z"),
        );
        assert_eq!(
            c.get(Res).map(|k| (k.started_at, k.consumed)),
            Some((t("2026-03-02T09:30:00Z"), Duration::zero()))
        );
        assert_eq!(
            c.get(Fr).and_then(|k| k.due(&cal)),
            Some(t("2026-03-02T10:30:00Z"))
        );
    }

    #[test]
    fn a_clock_past_its_goal_is_due_when_it_resumes_even_outside_hours() {
        let cal = berlin();
        // Friday 6 March: 50 min of the 1 h first response used, then waiting; the goal is
        // then cut to 30 min; the ticket resumes on Saturday.
        let mut c = run(
            &standard(),
            &[
                opened("2026-03-06T08:00:00Z"),
                status(Claimed, Waiting, "2026-03-06T08:50:00Z"),
            ],
        );
        let tight = Policy {
            first_response: goal(30),
            ..standard()
        };
        c.apply(Some(&tight), &cal, &policy_changed("2026-03-06T10:00:00Z"));
        c.apply(
            Some(&tight),
            &cal,
            &status(Waiting, InProgress, "2026-03-07T10:00:00Z"),
        );
        let fr = c.get(Fr).expect("first response");
        assert_eq!(fr.due(&cal), Some(t("2026-03-07T10:00:00Z")));
        assert_eq!(fr.warn_at(&cal, 0.75), Some(t("2026-03-07T10:00:00Z")));
        let alerts = c.take_due_alerts(&cal, 0.75, t("2026-03-07T10:00:05Z"));
        assert_eq!(
            alerts
                .iter()
                .map(|a| (a.metric, a.kind))
                .collect::<Vec<_>>(),
            [(Fr, AlertKind::Breach)]
        );
        // Not yet past its goal: due counts working time only (Monday 09:40 Berlin).
        let c = run(
            &standard(),
            &[
                opened("2026-03-06T08:00:00Z"),
                status(Claimed, Waiting, "2026-03-06T08:20:00Z"),
                status(Waiting, InProgress, "2026-03-07T10:00:00Z"),
            ],
        );
        assert_eq!(
            c.get(Fr).and_then(|k| k.due(&cal)),
            Some(t("2026-03-09T08:40:00Z"))
        );
    }

    #[test]
    fn next_response_cycles() {
        let cal = berlin();
        let mut c = run(&standard(), &[opened("2026-03-02T08:00:00Z")]);
        // Before the first reply a customer follow-up starts no cycle.
        c.apply(Some(&standard()), &cal, &customer("2026-03-02T08:10:00Z"));
        assert_eq!(c.get(Nr), None);
        c.apply(Some(&standard()), &cal, &reply("2026-03-02T08:30:00Z"));
        c.apply(Some(&standard()), &cal, &customer("2026-03-02T09:00:00Z"));
        let nr = c.get(Nr).expect("cycle 1").clone();
        assert_eq!(
            (nr.started_at, nr.due(&cal)),
            (t("2026-03-02T09:00:00Z"), Some(t("2026-03-02T13:00:00Z")))
        );
        // A second customer message within the cycle does not restart it.
        c.apply(Some(&standard()), &cal, &customer("2026-03-02T09:30:00Z"));
        assert_eq!(c.get(Nr), Some(&nr));
        // It breaches (4 h later), then the reply meets it.
        let alerts = c.take_due_alerts(&cal, 0.75, t("2026-03-02T13:00:00Z"));
        assert_eq!(
            alerts
                .iter()
                .map(|a| (a.metric, a.kind))
                .collect::<Vec<_>>(),
            [(Nr, AlertKind::Breach)]
        );
        c.apply(Some(&standard()), &cal, &reply("2026-03-02T13:30:00Z"));
        let nr = c.get(Nr).expect("cycle 1 met");
        assert_eq!(
            (nr.met_at, nr.consumed, nr.breaches),
            (Some(t("2026-03-02T13:30:00Z")), mins(270), 1)
        );
        // The next customer message starts cycle 2: alerts cleared, breach count kept.
        c.apply(Some(&standard()), &cal, &customer("2026-03-02T14:00:00Z"));
        let nr = c.get(Nr).expect("cycle 2");
        assert_eq!(
            (
                nr.started_at,
                nr.consumed,
                nr.met_at,
                nr.warned_at,
                nr.breached_at,
                nr.breaches
            ),
            (
                t("2026-03-02T14:00:00Z"),
                Duration::zero(),
                None,
                None,
                None,
                1
            )
        );
        // Cycle 2 carries over the evening: due Tuesday 11:00 Berlin.
        assert_eq!(nr.due(&cal), Some(t("2026-03-03T10:00:00Z")));
        // A customer message while the ticket waits starts a paused cycle.
        let mut w = run(
            &standard(),
            &[
                opened("2026-03-02T08:00:00Z"),
                reply("2026-03-02T08:30:00Z"),
                status(InProgress, Waiting, "2026-03-02T09:00:00Z"),
                customer("2026-03-02T10:00:00Z"),
            ],
        );
        assert_eq!(w.get(Nr).map(|k| k.running_since), Some(None));
        w.apply(
            Some(&standard()),
            &cal,
            &status(Waiting, InProgress, "2026-03-02T10:00:00Z"),
        );
        assert_eq!(
            w.get(Nr).and_then(|k| k.due(&cal)),
            Some(t("2026-03-02T14:00:00Z"))
        );
    }

    #[test]
    fn alerts_go_out_once_each_and_past_due_gets_only_the_breach() {
        let cal = berlin();
        let mut c = run(&standard(), &[opened("2026-03-02T08:00:00Z")]);
        let kinds = |a: Vec<Alert>| {
            a.into_iter()
                .map(|a| (a.metric, a.kind, a.due))
                .collect::<Vec<_>>()
        };
        // First response: warning at 45 min, breach at 60 min; resolution warning at 6 h.
        let steps: &[Step] = &[
            ("2026-03-02T08:00:00Z", Some("2026-03-02T08:45:00Z"), vec![]),
            ("2026-03-02T08:44:59Z", Some("2026-03-02T08:45:00Z"), vec![]),
            (
                "2026-03-02T08:45:00Z",
                Some("2026-03-02T08:45:00Z"),
                vec![(Fr, AlertKind::Warning, "2026-03-02T09:00:00Z")],
            ),
            ("2026-03-02T08:50:00Z", Some("2026-03-02T09:00:00Z"), vec![]),
            (
                "2026-03-02T09:00:00Z",
                Some("2026-03-02T09:00:00Z"),
                vec![(Fr, AlertKind::Breach, "2026-03-02T09:00:00Z")],
            ),
            ("2026-03-02T09:01:00Z", Some("2026-03-02T14:00:00Z"), vec![]),
            (
                "2026-03-02T14:00:00Z",
                Some("2026-03-02T14:00:00Z"),
                vec![(Res, AlertKind::Warning, "2026-03-02T16:00:00Z")],
            ),
            ("2026-03-02T15:00:00Z", Some("2026-03-02T16:00:00Z"), vec![]),
            (
                "2026-03-03T08:00:00Z",
                Some("2026-03-02T16:00:00Z"),
                vec![(Res, AlertKind::Breach, "2026-03-02T16:00:00Z")],
            ),
            ("2026-03-04T08:00:00Z", None, vec![]),
        ];
        for (now, next, want) in steps {
            // next_moment is asked before the alerts at `now` are taken.
            assert_eq!(
                c.next_moment(&cal, 0.75),
                next.map(t),
                "next moment before {now}"
            );
            let want: Vec<_> = want.iter().map(|&(m, k, d)| (m, k, t(d))).collect();
            assert_eq!(
                kinds(c.take_due_alerts(&cal, 0.75, t(now))),
                want,
                "alerts at {now}"
            );
        }
        assert_eq!(c.0.iter().map(|k| k.breaches).collect::<Vec<_>>(), [1, 1]);
        // A ticket first looked at after its due time: the breach only, never the warning.
        let mut late = run(&standard(), &[opened("2026-03-02T08:00:00Z")]);
        let got = kinds(late.take_due_alerts(&cal, 0.75, t("2026-03-02T12:00:00Z")));
        assert_eq!(got, [(Fr, AlertKind::Breach, t("2026-03-02T09:00:00Z"))]);
        assert_eq!(
            kinds(late.take_due_alerts(&cal, 0.75, t("2026-03-02T12:00:00Z"))),
            []
        );
        // Answered in time: no alert at all.
        let mut ok = run(
            &standard(),
            &[
                opened("2026-03-02T08:00:00Z"),
                reply("2026-03-02T08:40:00Z"),
                status(InProgress, Resolved, "2026-03-02T09:00:00Z"),
            ],
        );
        assert_eq!(ok.next_moment(&cal, 0.75), None);
        assert_eq!(
            kinds(ok.take_due_alerts(&cal, 0.75, t("2026-03-09T00:00:00Z"))),
            []
        );
        // Paused clocks raise nothing.
        let mut paused = run(
            &standard(),
            &[
                opened("2026-03-02T08:00:00Z"),
                reply("2026-03-02T08:10:00Z"),
                status(InProgress, Waiting, "2026-03-02T08:20:00Z"),
            ],
        );
        assert_eq!(paused.next_moment(&cal, 0.75), None);
        assert_eq!(
            kinds(paused.take_due_alerts(&cal, 0.75, t("2026-03-09T00:00:00Z"))),
            []
        );
    }

    #[test]
    fn headline_is_the_running_clock_due_first() {
        let cal = berlin();
        let cases: &[HeadlineCase] = &[
            ("nothing", vec![], None),
            (
                "new ticket: first response",
                vec![opened("2026-03-02T08:00:00Z")],
                Some((Fr, "2026-03-02T09:00:00Z")),
            ),
            (
                "answered: resolution",
                vec![
                    opened("2026-03-02T08:00:00Z"),
                    reply("2026-03-02T08:30:00Z"),
                ],
                Some((Res, "2026-03-02T16:00:00Z")),
            ),
            (
                "a late customer message: next response due after resolution",
                vec![
                    opened("2026-03-02T08:00:00Z"),
                    reply("2026-03-02T08:30:00Z"),
                    customer("2026-03-02T14:00:00Z"),
                ],
                Some((Res, "2026-03-02T16:00:00Z")),
            ),
            (
                "an early customer message: next response due first",
                vec![
                    opened("2026-03-02T08:00:00Z"),
                    reply("2026-03-02T08:10:00Z"),
                    customer("2026-03-02T08:20:00Z"),
                ],
                Some((Nr, "2026-03-02T12:20:00Z")),
            ),
            (
                "waiting: none",
                vec![
                    opened("2026-03-02T08:00:00Z"),
                    reply("2026-03-02T08:30:00Z"),
                    status(InProgress, Waiting, "2026-03-02T09:00:00Z"),
                ],
                None,
            ),
            (
                "resolved: none",
                vec![
                    opened("2026-03-02T08:00:00Z"),
                    status(Claimed, Resolved, "2026-03-02T09:00:00Z"),
                ],
                None,
            ),
        ];
        for (name, events, want) in cases {
            let c = run(&standard(), events);
            assert_eq!(c.headline(&cal), want.map(|(m, d)| (m, t(d))), "{name}");
        }
    }

    #[test]
    fn wall_time_goals_ignore_the_calendar() {
        let wall = Policy {
            first_response: Some(Goal {
                within: mins(60),
                business: false,
            }),
            ..standard()
        };
        // Opened Saturday: wall-time first response due an hour later, resolution on Monday.
        let c = run(&wall, &[opened("2026-03-07T10:00:00Z")]);
        assert_eq!(
            c.get(Fr).and_then(|k| k.due(&berlin())),
            Some(t("2026-03-07T11:00:00Z"))
        );
        assert_eq!(
            c.get(Res).and_then(|k| k.due(&berlin())),
            Some(t("2026-03-09T16:00:00Z"))
        );
        // Under a calendar with no working time, business goals are never due.
        let c = run(&standard(), &[opened("2026-03-07T10:00:00Z")]);
        assert_eq!(c.headline(&empty()), None);
        assert_eq!(c.next_moment(&empty(), 0.75), None);
    }

    #[test]
    fn metric_names_round_trip() {
        for m in Metric::ALL {
            assert_eq!(Metric::parse(m.as_str()), Some(m));
        }
        assert_eq!(Metric::parse("First_Response"), None);
        assert_eq!(Metric::parse(""), None);
    }
}
