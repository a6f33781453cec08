//! A generator that fills an empty, migrated claimdesk database with a realistic desk:
//! `tickets` tickets and `messages` messages (defaults 1,000,000 and 5,000,000) opened over
//! the last `days` days, with agents, first responses, resolutions, and SLA clocks
//! (`sla_clocks`, migrations/0012_sla.sql). For benchmarks of reports and SLA state.
//!
//! Written with `COPY … FROM STDIN` in the text format (sqlx `PgConnection::copy_in_raw`):
//! tickets, messages and clocks on three connections at once, foreign-key triggers off
//! (`session_replication_role = replica`, superuser only; without it they stay on and the
//! load is slower). Every ticket is a pure function of `(seed, id)`, so the three streams
//! agree without holding a million tickets in memory, and two fills with the same
//! [`FillSpec`] write the same rows.
//!
//! Spreads (per ticket): department support 60 % / billing 25 % / sales 15 %; priority low
//! 20 % / medium 55 % / high 20 % / urgent 5 %; opened at times increasing with the id,
//! evenly over the days and weighted towards 08:00-18:00 UTC within each day; not done
//! (open, pending, claimed, in progress, waiting) 45 % of tickets younger than 2 days, 20 %
//! younger than 7, 8.5 % older (about 10 % overall); the rest resolved, closed (resolved
//! plus up to 3 days) or merged (2 %). First response after an exponential delay (mean 3 h),
//! resolution after a further one (mean 30 h). Messages per ticket 1 to 9 (the total is
//! exact), the first at the opening, then alternating reply and customer message. One
//! subject in 500 starts with `=` (a CSV-injection attempt). Clocks: first response and
//! resolution for every ticket except sales/low (no policy); next response for tickets with
//! 3 messages or more. Goals by priority (urgent wall time, others business time); business
//! time is approximated as 30 % of wall time here (the benchmarks recompute with calendars).

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use chrono::{DateTime, Datelike, Timelike, Utc};
use sqlx::{Connection as _, PgConnection};

/// What to generate.
#[derive(Debug, Clone)]
pub struct FillSpec {
    /// Tickets (ids 1..=tickets).
    pub tickets: u64,
    /// Messages in all (at least `tickets`: every ticket has one).
    pub messages: u64,
    /// Tickets are opened over the `days` days before `now`.
    pub days: i64,
    /// The generator's present (whole seconds).
    pub now: DateTime<Utc>,
    /// Seed of every random choice.
    pub seed: u64,
    /// Ticket number prefix (`TICK`).
    pub prefix: String,
}

impl Default for FillSpec {
    /// 1,000,000 tickets, 5,000,000 messages, 90 days up to now, seed 14, prefix `TICK`.
    fn default() -> FillSpec {
        FillSpec {
            tickets: 1_000_000,
            messages: 5_000_000,
            days: 90,
            now: Utc::now(),
            seed: 14,
            prefix: "TICK".into(),
        }
    }
}

/// What was written, and how long it took.
#[derive(Debug, Clone)]
pub struct Filled {
    /// Ticket rows.
    pub tickets: u64,
    /// Message rows.
    pub messages: u64,
    /// `sla_clocks` rows.
    pub clocks: u64,
    /// Tickets not done (open, pending assignment, claimed, in progress, waiting).
    pub open: u64,
    /// Agent rows.
    pub agents: u64,
    /// Wall time, including `VACUUM (ANALYZE)`.
    pub elapsed: Duration,
}

/// Departments with their share (per mille) and agent count.
pub const DEPARTMENTS: [(&str, u64, i64); 3] =
    [("support", 600, 12), ("billing", 250, 7), ("sales", 150, 5)];
const PRIORITIES: [(&str, u64); 4] = [("low", 200), ("medium", 550), ("high", 200), ("urgent", 50)];
/// Goals in seconds by priority index: (first response, next response, resolution, business).
const GOALS: [(i64, i64, i64, bool); 4] = [
    (86_400, 2 * 86_400, 5 * 86_400, true),
    (8 * 3600, 86_400, 3 * 86_400, true),
    (4 * 3600, 8 * 3600, 2 * 86_400, true),
    (3600, 2 * 3600, 8 * 3600, false),
];
const SUBJECTS: [&str; 8] = [
    "Invoice is wrong",
    "Cannot log in",
    "Refund for order",
    "Question about my plan",
    "Password reset does not arrive",
    "Export of my tickets as CSV",
    "Shipping delay",
    "Upgrade to the team plan",
];
const BODIES: [&str; 4] = [
    "Hello,\\n\\nmy last invoice shows the wrong amount. Could you check it and send a corrected one? Thanks.",
    "Hi team,\\nI cannot log in since this morning; the page says my password is wrong but the reset mail never comes.",
    "Thanks for the quick answer. I tried that and it still does not work, see the screenshot in my first mail.",
    "Dear support, please export the ticket number, opened, closed, agent and category as CSV for our audit.",
];
/// Hour-of-day weights (UTC), busier in working hours.
const HOURS: [u64; 24] = [
    1, 1, 1, 1, 1, 2, 3, 5, 8, 10, 10, 10, 9, 10, 10, 9, 8, 6, 4, 3, 2, 2, 1, 1,
];

/// SplitMix64: small, fast, deterministic; good enough for test data.
struct Rng(u64);

impl Rng {
    fn new(seed: u64, stream: u64, id: u64) -> Rng {
        let mut r = Rng(seed
            ^ stream.wrapping_mul(0x9E37_79B9_7F4A_7C15)
            ^ id.wrapping_mul(0xD1B5_4A32_D192_ED03));
        r.next();
        r
    }
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `[0, n)`.
    fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next() % n
        }
    }
    /// Uniform in `[0, 1)`.
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    /// Exponential with mean `mean` seconds.
    fn exp(&mut self, mean: f64) -> i64 {
        (-(1.0 - self.unit()).ln() * mean) as i64
    }
    /// Index into `weights` (per mille or any weights) by weight.
    fn pick(&mut self, weights: impl Iterator<Item = u64> + Clone) -> usize {
        let total: u64 = weights.clone().sum();
        let mut x = self.below(total);
        for (i, w) in weights.enumerate() {
            if x < w {
                return i;
            }
            x -= w;
        }
        0
    }
}

/// One generated ticket (times in Unix seconds).
struct Ticket {
    opened: i64,
    status: &'static str,
    dept: usize,
    prio: usize,
    assignee: Option<i64>,
    requester: u64,
    subject: usize,
    hostile: bool,
    claimed: Option<i64>,
    first_response: Option<i64>,
    resolved: Option<i64>,
    closed: Option<i64>,
    /// Merged or resolved/closed: when it stopped.
    done_at: Option<i64>,
    merged_into: Option<i64>,
}

impl Ticket {
    fn is_open(&self) -> bool {
        matches!(
            self.status,
            "open" | "pending_assignment" | "claimed" | "in_progress" | "waiting"
        )
    }
}

/// Agent ids of department `d`: departments' agents are numbered consecutively from 1.
fn agent_range(d: usize) -> (i64, i64) {
    let first = 1 + DEPARTMENTS[..d].iter().map(|x| x.2).sum::<i64>();
    (first, DEPARTMENTS[d].2)
}

fn ticket(spec: &FillSpec, id: u64) -> Ticket {
    let mut r = Rng::new(spec.seed, 1, id);
    let now = spec.now.timestamp();
    let span = spec.days.max(1) * 86_400;
    let start = now - span;
    // Increasing with the id: day by position, time of day through the hours' weights.
    let pos = (id as f64 - 1.0 + r.unit()) / spec.tickets.max(1) as f64;
    let day_f = pos * spec.days.max(1) as f64;
    let day = day_f.floor() as i64;
    let frac = day_f - day as f64;
    let total: u64 = HOURS.iter().sum();
    let mut acc = 0.0;
    let mut secs_in_day = 0.0;
    for (h, w) in HOURS.iter().enumerate() {
        let share = *w as f64 / total as f64;
        if frac < acc + share || h == 23 {
            secs_in_day = (h as f64 + ((frac - acc) / share).clamp(0.0, 1.0)) * 3600.0;
            break;
        }
        acc += share;
    }
    let opened = (start + day * 86_400 + secs_in_day as i64).min(now - 1);
    let age = now - opened;
    let dept = r.pick(DEPARTMENTS.iter().map(|d| d.1));
    let prio = r.pick(PRIORITIES.iter().map(|p| p.1));
    let open_share = if age < 2 * 86_400 {
        450
    } else if age < 7 * 86_400 {
        200
    } else {
        85
    };
    let (first_agent, agents) = agent_range(dept);
    let agent = first_agent + r.below(agents as u64) as i64;
    let fr_delay = 60 + r.exp(3.0 * 3600.0);
    let res_delay = 600 + r.exp(30.0 * 3600.0);
    let close_delay = 3600 + r.below(3 * 86_400) as i64;
    let mut t = Ticket {
        opened,
        status: "closed",
        dept,
        prio,
        assignee: None,
        requester: r.below(200_000),
        subject: r.below(SUBJECTS.len() as u64) as usize,
        hostile: r.below(500) == 0,
        claimed: None,
        first_response: None,
        resolved: None,
        closed: None,
        done_at: None,
        merged_into: None,
    };
    if r.below(1000) < open_share {
        t.status = [
            "open",
            "pending_assignment",
            "claimed",
            "in_progress",
            "waiting",
        ][r.pick([20u64, 5, 15, 35, 25].into_iter())];
        if matches!(t.status, "claimed" | "in_progress" | "waiting") {
            t.assignee = Some(agent);
            t.claimed = Some((opened + fr_delay / 2).min(now));
        }
        if matches!(t.status, "in_progress" | "waiting") {
            t.first_response = Some((opened + fr_delay).min(now));
        }
        return t;
    }
    if r.below(100) < 2 && id > 1 {
        t.status = "merged";
        t.merged_into = Some(id as i64 - 1);
        t.done_at = Some((opened + fr_delay / 4).min(now));
        return t;
    }
    t.assignee = Some(agent);
    t.claimed = Some((opened + fr_delay / 2).min(now));
    let fr = (opened + fr_delay).min(now);
    t.first_response = Some(fr);
    let resolved = (fr + res_delay).min(now);
    t.resolved = Some(resolved);
    t.done_at = Some(resolved);
    let closed = resolved + close_delay;
    if closed < now && r.below(100) < 75 {
        t.closed = Some(closed);
        t.status = "closed";
    } else {
        t.status = "resolved";
    }
    t
}

/// Messages of ticket `id` (1-based) and the id of its first message: `messages` split as
/// evenly as possible, then shifted within pairs of tickets so counts vary (1..) while the
/// total stays exact.
fn message_span(spec: &FillSpec, id: u64) -> (u64, u64) {
    let (n, m) = (spec.tickets.max(1), spec.messages.max(spec.tickets));
    let base = |i: u64| (i * m / n, (i + 1) * m / n - i * m / n); // (before, count), i 0-based
    let i = id - 1;
    let pair = i / 2;
    let (b0_before, b0) = base(pair * 2);
    if pair * 2 + 1 >= n {
        return (b0_before + 1, b0);
    }
    let (_, b1) = base(pair * 2 + 1);
    let room = b0.min(b1) - 1;
    let mut r = Rng::new(spec.seed, 2, pair);
    let j = r.below(2 * room + 1) as i64 - room as i64;
    let c0 = (b0 as i64 + j) as u64;
    let c1 = (b1 as i64 - j) as u64;
    if i.is_multiple_of(2) {
        (b0_before + 1, c0)
    } else {
        (b0_before + c0 + 1, c1)
    }
}

/// `secs` (Unix) as a text-format timestamptz.
fn ts(out: &mut String, secs: i64) {
    match DateTime::from_timestamp(secs, 0) {
        Some(d) => {
            let _ = write!(
                out,
                "{:04}-{:02}-{:02} {:02}:{:02}:{:02}+00",
                d.year(),
                d.month(),
                d.day(),
                d.hour(),
                d.minute(),
                d.second()
            );
        }
        None => out.push_str("\\N"),
    }
}

fn opt_ts(out: &mut String, secs: Option<i64>) {
    match secs {
        Some(s) => ts(out, s),
        None => out.push_str("\\N"),
    }
}

fn opt_i64(out: &mut String, v: Option<i64>) {
    match v {
        Some(v) => {
            let _ = write!(out, "{v}");
        }
        None => out.push_str("\\N"),
    }
}

/// Sends `buf` when it is large, or always when `last`.
async fn flush(
    copy: &mut sqlx::postgres::PgCopyIn<&mut PgConnection>,
    buf: &mut String,
    last: bool,
) -> Result<()> {
    if last || buf.len() >= 4 << 20 {
        copy.send(buf.as_bytes()).await?;
        buf.clear();
    }
    Ok(())
}

async fn connect(url: &str) -> Result<PgConnection> {
    let mut c = PgConnection::connect(url).await.context("fill: connect")?;
    // Foreign-key triggers off for the load (superuser only; fine without, only slower).
    let _ = sqlx::query("SET session_replication_role = replica")
        .execute(&mut c)
        .await;
    Ok(c)
}

async fn copy_tickets(url: String, spec: FillSpec) -> Result<(u64, u64, Vec<(i32, i64)>)> {
    let mut conn = connect(&url).await?;
    let mut copy = conn
        .copy_in_raw(
            "COPY tickets (id, number, year, seq, status, assignee_id, requester_email, \
             requester_name, subject, mailbox, merged_into, created_at, updated_at, claimed_at, \
             first_response_at, priority, department, resolved_at, closed_at, opened_at, \
             holder_active_at, last_customer_at, sla_due_at, sla_warn_at) FROM STDIN",
        )
        .await?;
    let mut buf = String::with_capacity(5 << 20);
    let mut counters: Vec<(i32, i64)> = Vec::new();
    let mut open = 0u64;
    for id in 1..=spec.tickets {
        let t = ticket(&spec, id);
        open += u64::from(t.is_open());
        let year = DateTime::from_timestamp(t.opened, 0)
            .map(|d| d.year())
            .unwrap_or(2026);
        match counters.last_mut() {
            Some((y, n)) if *y == year => *n += 1,
            _ => counters.push((year, 1)),
        }
        let seq = counters.last().map(|c| c.1).unwrap_or(1);
        let updated = t
            .closed
            .or(t.done_at)
            .or(t.first_response)
            .or(t.claimed)
            .unwrap_or(t.opened);
        let _ = write!(
            buf,
            "{id}\t{}-{year}-{seq:04}\t{year}\t{seq}\t{}\t",
            spec.prefix, t.status
        );
        opt_i64(&mut buf, t.assignee);
        let _ = write!(
            buf,
            "\tcustomer{}@example{}.com\tCustomer {}\t",
            t.requester,
            t.requester % 97,
            t.requester
        );
        if t.hostile {
            buf.push_str("=HYPERLINK(\"http://evil.example\",\"Refund\")");
        } else {
            let _ = write!(buf, "{} #{}", SUBJECTS[t.subject], id);
        }
        buf.push_str("\tsupport\t");
        opt_i64(&mut buf, t.merged_into);
        buf.push('\t');
        ts(&mut buf, t.opened);
        buf.push('\t');
        ts(&mut buf, updated);
        buf.push('\t');
        opt_ts(&mut buf, t.claimed);
        buf.push('\t');
        opt_ts(&mut buf, t.first_response);
        let _ = write!(
            buf,
            "\t{}\t{}\t",
            PRIORITIES[t.prio].0, DEPARTMENTS[t.dept].0
        );
        opt_ts(&mut buf, t.resolved);
        buf.push('\t');
        opt_ts(&mut buf, t.closed);
        buf.push('\t');
        ts(&mut buf, t.opened);
        buf.push('\t');
        opt_ts(&mut buf, t.first_response.or(t.claimed));
        let (last_customer, headline) = ticket_keys(&spec, &t, id);
        buf.push('\t');
        opt_ts(&mut buf, last_customer);
        buf.push('\t');
        opt_ts(&mut buf, headline.map(|h| h.0));
        buf.push('\t');
        opt_ts(&mut buf, headline.map(|h| h.1));
        buf.push('\n');
        flush(&mut copy, &mut buf, false).await?;
    }
    flush(&mut copy, &mut buf, true).await?;
    let n = copy.finish().await?;
    Ok((n, open, counters))
}

/// The message times of a ticket with `count` messages: the first at the opening, the
/// second at the first response (when there is one), the rest spread until it stopped (or
/// now). Direction alternates, inbound first.
fn message_time(t: &Ticket, now: i64, k: u64, count: u64) -> i64 {
    if k == 0 {
        return t.opened;
    }
    let start = t.first_response.unwrap_or(t.opened);
    if k == 1 {
        if let Some(fr) = t.first_response {
            return fr;
        }
    }
    let end = t.done_at.unwrap_or(now).max(start);
    start + (end - start) * k as i64 / count.max(1) as i64
}

async fn copy_messages(url: String, spec: FillSpec) -> Result<u64> {
    let mut conn = connect(&url).await?;
    let mut copy = conn
        .copy_in_raw(
            "COPY messages (id, ticket_id, message_id, direction, from_addr, from_name, subject, \
             body_text, raw_size, mailbox, author_agent_id, created_at, received_at, date_header) \
             FROM STDIN",
        )
        .await?;
    let now = spec.now.timestamp();
    let mut buf = String::with_capacity(5 << 20);
    for id in 1..=spec.tickets {
        let t = ticket(&spec, id);
        let (first, count) = message_span(&spec, id);
        for k in 0..count {
            let mid = first + k;
            let at = message_time(&t, now, k, count);
            // Without a first response every message is the customer's.
            let outbound = t.first_response.is_some() && k % 2 == 1;
            let body = BODIES[((id + k) % BODIES.len() as u64) as usize];
            let _ = write!(buf, "{mid}\t{id}\tfill-{mid}@claimdesk.fill\t");
            if outbound {
                let agent = t.assignee.unwrap_or(1);
                let _ = write!(
                    buf,
                    "outbound\tagent{agent:02}@claimdesk.fill\tAgent {agent}\t"
                );
            } else {
                let _ = write!(
                    buf,
                    "inbound\tcustomer{}@example{}.com\tCustomer {}\t",
                    t.requester,
                    t.requester % 97,
                    t.requester
                );
            }
            let _ = write!(
                buf,
                "Re: {} #{id}\t{body}\t{}\tsupport\t",
                SUBJECTS[t.subject],
                body.len() + 600
            );
            if outbound {
                opt_i64(&mut buf, t.assignee.or(Some(1)));
            } else {
                buf.push_str("\\N");
            }
            buf.push('\t');
            ts(&mut buf, at);
            buf.push('\t');
            ts(&mut buf, at);
            buf.push('\t');
            ts(&mut buf, at - 20);
            buf.push('\n');
        }
        flush(&mut copy, &mut buf, false).await?;
    }
    flush(&mut copy, &mut buf, true).await?;
    Ok(copy.finish().await?)
}

/// One clock row: goal, business, started, consumed, running since, due, warn, met, warned,
/// breached, breaches.
struct ClockRow {
    metric: &'static str,
    goal: i64,
    business: bool,
    started: i64,
    /// Met (or stopped) at, if it is no longer running.
    stopped: Option<i64>,
    met: bool,
    paused: bool,
}

fn clock_rows(t: &Ticket, count: u64, now: i64) -> Vec<ClockRow> {
    let (department, _, _) = DEPARTMENTS[t.dept];
    if department == "sales" && t.prio == 0 {
        return Vec::new();
    }
    let (fr, nr, res, business) = GOALS[t.prio];
    let paused = t.status == "waiting";
    let mut rows = vec![
        ClockRow {
            metric: "first_response",
            goal: fr,
            business,
            started: t.opened,
            stopped: t.first_response.or(t.done_at),
            met: t.first_response.is_some(),
            paused,
        },
        ClockRow {
            metric: "resolution",
            goal: res,
            business,
            started: t.opened,
            stopped: t.done_at,
            met: t.done_at.is_some(),
            paused,
        },
    ];
    if count >= 3 {
        if let Some(frt) = t.first_response {
            let end = t.done_at.unwrap_or(now);
            let started = frt + (end - frt) / 2;
            rows.push(ClockRow {
                metric: "next_response",
                goal: nr,
                business,
                started,
                stopped: t.done_at.map(|_| started + (end - started) / 2),
                met: t.done_at.is_some(),
                paused,
            });
        }
    }
    rows
}

/// A clock's moments at `now` (Unix seconds): counted seconds used, warning and due times,
/// whether it is running, and when it was warned and breached (if it was).
struct ClockAt {
    used: i64,
    warn_at: i64,
    due_at: i64,
    running: bool,
    warned: Option<i64>,
    breached: Option<i64>,
}

fn clock_at(c: &ClockRow, now: i64) -> ClockAt {
    // Counted time: business clocks count about 30 % of wall time.
    let rate = if c.business { 0.3 } else { 1.0 };
    let wall = |secs: i64| (secs as f64 / rate) as i64;
    let until = c.stopped.unwrap_or(now);
    let used = ((until - c.started).max(0) as f64 * rate) as i64;
    let warn_at = c.started + wall(c.goal * 3 / 4);
    let due_at = c.started + wall(c.goal);
    ClockAt {
        used,
        warn_at,
        due_at,
        running: c.stopped.is_none() && !c.paused,
        warned: (used >= c.goal * 3 / 4).then_some(warn_at),
        breached: (used >= c.goal).then_some(due_at),
    }
}

/// What migrations/0020_web.sql keeps on the ticket (its triggers do not fire under
/// `session_replication_role = replica`): the newest customer message's arrival, and the
/// headline SLA clock's due and warning times (the running clock due first, by metric name
/// on a tie: `web_sla_refresh`).
fn ticket_keys(spec: &FillSpec, t: &Ticket, id: u64) -> (Option<i64>, Option<(i64, i64)>) {
    let now = spec.now.timestamp();
    let (_, count) = message_span(spec, id);
    let last_customer = (0..count)
        .filter(|k| !(t.first_response.is_some() && k % 2 == 1))
        .map(|k| message_time(t, now, k, count))
        .max();
    let headline = clock_rows(t, count, now)
        .iter()
        .map(|c| (c.metric, clock_at(c, now)))
        .filter(|(_, a)| a.running)
        .min_by_key(|(m, a)| (a.due_at, *m))
        .map(|(_, a)| (a.due_at, a.warn_at));
    (last_customer, headline)
}

async fn copy_clocks(url: String, spec: FillSpec) -> Result<u64> {
    let mut conn = connect(&url).await?;
    let mut copy = conn
        .copy_in_raw(
            "COPY sla_clocks (ticket_id, metric, goal_secs, business, started_at, consumed_secs, \
             running_since, due_at, warn_at, met_at, warned_at, breached_at, breaches) FROM STDIN",
        )
        .await?;
    let now = spec.now.timestamp();
    let mut buf = String::with_capacity(5 << 20);
    for id in 1..=spec.tickets {
        let t = ticket(&spec, id);
        let (_, count) = message_span(&spec, id);
        for c in clock_rows(&t, count, now) {
            let ClockAt {
                used,
                warn_at,
                due_at,
                running,
                warned,
                breached,
            } = clock_at(&c, now);
            let _ = write!(
                buf,
                "{id}\t{}\t{}\t{}\t",
                c.metric,
                c.goal,
                if c.business { "t" } else { "f" }
            );
            ts(&mut buf, c.started);
            if running {
                buf.push_str("\t0\t");
                ts(&mut buf, c.started);
                buf.push('\t');
                ts(&mut buf, due_at);
                buf.push('\t');
                ts(&mut buf, warn_at);
            } else {
                let _ = write!(buf, "\t{used}\t\\N\t\\N\t\\N");
            }
            buf.push('\t');
            opt_ts(&mut buf, c.stopped.filter(|_| c.met));
            buf.push('\t');
            opt_ts(&mut buf, warned);
            buf.push('\t');
            opt_ts(&mut buf, breached);
            let _ = writeln!(buf, "\t{}", i32::from(breached.is_some()));
        }
        flush(&mut copy, &mut buf, false).await?;
    }
    flush(&mut copy, &mut buf, true).await?;
    Ok(copy.finish().await?)
}

/// Fills the database at `url` (migrated, with no tickets, agents or messages yet) as
/// `spec` says: agents and their departments, tickets, messages and SLA clocks by `COPY` on
/// three connections at once, then the ticket counters, the id sequences and
/// `VACUUM (ANALYZE)`. The tickets carry the sort keys of migrations/0020_web.sql
/// (`last_customer_at`, `sla_due_at`, `sla_warn_at`) as its triggers would have set them.
///
/// Errors: the database's (a table not empty, a missing migration, the server's).
pub async fn fill(url: &str, spec: &FillSpec) -> Result<Filled> {
    let started = Instant::now();
    let mut spec = spec.clone();
    spec.now = DateTime::from_timestamp(spec.now.timestamp(), 0).unwrap_or(spec.now);
    spec.messages = spec.messages.max(spec.tickets);
    let mut conn = connect(url).await?;
    let mut agents = 0u64;
    for (d, (department, _, count)) in DEPARTMENTS.iter().enumerate() {
        let (first, _) = agent_range(d);
        for id in first..first + count {
            sqlx::query(
                "INSERT INTO agents (id, handle, name, email, role, source) \
                 VALUES ($1, $2, $3, $4, $5, 'cli')",
            )
            .bind(id)
            .bind(format!("agent{id:02}"))
            .bind(format!("Agent {id}"))
            .bind(format!("agent{id:02}@claimdesk.fill"))
            .bind(if id == first { "admin" } else { "member" })
            .execute(&mut conn)
            .await
            .context("fill: agents")?;
            sqlx::query("INSERT INTO agent_departments (agent_id, department) VALUES ($1, $2)")
                .bind(id)
                .bind(*department)
                .execute(&mut conn)
                .await?;
            agents += 1;
        }
    }
    let tickets = tokio::spawn(copy_tickets(url.to_string(), spec.clone()));
    let messages = tokio::spawn(copy_messages(url.to_string(), spec.clone()));
    let clocks = tokio::spawn(copy_clocks(url.to_string(), spec.clone()));
    let (tickets, open, counters) = tickets.await.context("fill: tickets task")??;
    let messages = messages.await.context("fill: messages task")??;
    let clocks = clocks.await.context("fill: clocks task")??;
    for (year, last) in counters {
        sqlx::query(
            "INSERT INTO ticket_counters (year, last_value) VALUES ($1, $2) \
             ON CONFLICT (year) DO UPDATE SET last_value = EXCLUDED.last_value",
        )
        .bind(year)
        .bind(last as i32)
        .execute(&mut conn)
        .await?;
    }
    for table in ["agents", "tickets", "messages"] {
        sqlx::query(&format!(
            "SELECT setval(pg_get_serial_sequence('{table}', 'id'), \
             (SELECT COALESCE(MAX(id), 0) + 1 FROM {table}), false)"
        ))
        .execute(&mut conn)
        .await?;
    }
    // A long-lived desk is vacuumed: the visibility map lets index-only scans skip the heap.
    sqlx::query("VACUUM (ANALYZE)").execute(&mut conn).await?;
    let _ = conn.close().await;
    Ok(Filled {
        tickets,
        messages,
        clocks,
        open,
        agents,
        elapsed: started.elapsed(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_counts_add_up_and_vary() {
        let spec = FillSpec {
            tickets: 1001,
            messages: 5003,
            ..FillSpec::default()
        };
        let mut next = 1;
        let mut counts = std::collections::BTreeSet::new();
        for id in 1..=spec.tickets {
            let (first, count) = message_span(&spec, id);
            assert_eq!(first, next, "ticket {id}");
            assert!(count >= 1);
            counts.insert(count);
            next += count;
        }
        assert_eq!(next - 1, spec.messages);
        assert!(counts.len() > 3, "{counts:?}");
    }

    #[test]
    fn tickets_open_in_order_within_the_days() {
        let spec = FillSpec {
            tickets: 10_000,
            ..FillSpec::default()
        };
        let now = spec.now.timestamp();
        let mut last = 0;
        let mut open = 0;
        for id in 1..=spec.tickets {
            let t = ticket(&spec, id);
            assert!(t.opened >= last && t.opened < now && t.opened >= now - 90 * 86_400);
            last = t.opened;
            open += u64::from(t.is_open());
            if let (Some(fr), Some(res)) = (t.first_response, t.resolved) {
                assert!(t.opened <= fr && fr <= res);
            }
        }
        assert!((500..2000).contains(&open), "{open}");
    }
}
