//! `claimdesk report`: one row per ticket opened in `[from, to)`, streamed from the database
//! to a writer as CSV or JSON, row by row, so 1,000,000 tickets export in constant memory.
//!
//! Each row: number, department, requester (address and name), subject, status, priority,
//! assignee, opened, first response, resolved, closed (RFC 3339 UTC), the first-response and
//! resolution durations in business seconds (the department's working hours,
//! [`WorkingTime`]), and the SLA outcome of each metric ([`Outcome`]).
//!
//! Customer text is hostile: in CSV a cell that a spreadsheet would read as a formula
//! (starting `=`, `+`, `-`, `@`, tab or carriage return) is prefixed with `'`
//! ([`neutralise_cell`], OWASP "CSV Injection"). JSON carries the text as it is (a JSON
//! string cannot run).

use std::collections::HashMap;
use std::io::Write;

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use futures::TryStreamExt;
use serde::Serialize;
use sqlx::PgConnection;

use crate::domain::sla::{Calendar, Clocks};
use crate::store::report::{ClockOutcome, Range, TicketLine};

/// The output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// RFC 4180 CSV with a header line.
    Csv,
    /// One JSON array, one object per line.
    Json,
}

impl std::str::FromStr for Format {
    type Err = ReportError;
    fn from_str(s: &str) -> Result<Format, ReportError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "csv" => Ok(Format::Csv),
            "json" => Ok(Format::Json),
            _ => Err(ReportError::UnknownFormat(s.to_string())),
        }
    }
}

/// Why a report could not be made or written.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// `--from`/`--to` is neither a date (`YYYY-MM-DD`, midnight UTC) nor RFC 3339.
    #[error("`{0}` is not a date (YYYY-MM-DD) or an RFC 3339 time (2026-12-01T09:00:00Z)")]
    BadInstant(String),
    /// The range is empty or backwards.
    #[error("--to ({to}) must be after --from ({from})")]
    EmptyRange {
        /// Start, RFC 3339.
        from: String,
        /// End, RFC 3339.
        to: String,
    },
    /// Neither `csv` nor `json`.
    #[error("unknown format `{0}`: use csv or json")]
    UnknownFormat(String),
    /// A `--tag` that is not a tag.
    #[error("--tag: {0}")]
    BadTag(String),
    /// A `--group-by` other than `tag`.
    #[error("unknown --group-by `{0}`: use tag")]
    BadGroup(String),
    /// Reading the tickets failed.
    #[error("reading tickets: {0}")]
    Db(#[from] sqlx::Error),
    /// Writing the output failed (a closed pipe, a full disk).
    #[error("writing the report: {0}")]
    Io(#[from] std::io::Error),
    /// Encoding a CSV record failed.
    #[error("writing CSV: {0}")]
    Csv(#[from] csv::Error),
    /// Encoding a JSON object failed.
    #[error("writing JSON: {0}")]
    Json(#[from] serde_json::Error),
}

/// `text` as an instant: `YYYY-MM-DD` is midnight UTC of that day; otherwise RFC 3339 with
/// any offset, converted to UTC.
///
/// Errors: [`ReportError::BadInstant`].
pub fn parse_instant(text: &str) -> Result<DateTime<Utc>, ReportError> {
    let t = text.trim();
    if let Ok(d) = NaiveDate::parse_from_str(t, "%Y-%m-%d") {
        if let Some(dt) = d.and_hms_opt(0, 0, 0) {
            return Ok(dt.and_utc());
        }
    }
    DateTime::parse_from_rfc3339(t)
        .map(|d| d.with_timezone(&Utc))
        .map_err(|_| ReportError::BadInstant(text.to_string()))
}

/// The range `[from, to)` of `department` from the command's words.
///
/// Errors: a bad instant, or `to <= from` ([`ReportError::EmptyRange`]).
pub fn range(from: &str, to: &str, department: Option<&str>) -> Result<Range, ReportError> {
    let (from, to) = (parse_instant(from)?, parse_instant(to)?);
    if to <= from {
        return Err(ReportError::EmptyRange {
            from: rfc3339(from),
            to: rfc3339(to),
        });
    }
    Ok(Range {
        from,
        to,
        department: department
            .map(str::trim)
            .filter(|d| !d.is_empty())
            .map(String::from),
        tags: Vec::new(),
        group_by_tag: false,
    })
}

/// `range` narrowed to tickets carrying every tag of `tags` (`--tag`, repeatable; each may
/// also be comma-separated, lower-cased as `domain::tags` normalises them), and grouped by
/// tag when `group_by` is `tag` (`--group-by tag`).
///
/// Errors: [`ReportError::BadTag`] for a tag that is not one, [`ReportError::BadGroup`] for
/// a grouping other than `tag`.
pub fn with_tags(
    mut range: Range,
    tags: &[String],
    group_by: Option<&str>,
) -> Result<Range, ReportError> {
    for t in tags {
        for tag in
            crate::domain::tags::parse_list(t).map_err(|e| ReportError::BadTag(e.to_string()))?
        {
            if !range.tags.iter().any(|x| x == tag.as_str()) {
                range.tags.push(tag.to_string());
            }
        }
    }
    range.group_by_tag = match group_by.map(|g| g.trim().to_ascii_lowercase()) {
        None => false,
        Some(g) if g == "tag" => true,
        Some(g) => return Err(ReportError::BadGroup(g)),
    };
    Ok(range)
}

/// Business time between two instants for a department: implemented over the configured
/// working hours (`config::sla`), or plain wall time ([`WallTime`]).
pub trait WorkingTime {
    /// Working seconds of `department` in `[from, to)`; 0 when `to <= from`.
    fn working_secs(&mut self, department: &str, from: DateTime<Utc>, to: DateTime<Utc>) -> i64;
}

/// The configured working hours of each department (`config::SlaSettings::calendar_for`),
/// each built once and kept.
pub struct Calendars<'a> {
    sla: &'a crate::config::SlaSettings,
    built: HashMap<String, Calendar>,
}

impl<'a> Calendars<'a> {
    /// Calendars from `sla`'s `[sla.hours.*]` (24/7 UTC where none is configured).
    pub fn new(sla: &'a crate::config::SlaSettings) -> Calendars<'a> {
        Calendars {
            sla,
            built: HashMap::new(),
        }
    }

    /// The working hours of `department`.
    pub fn get(&mut self, department: &str) -> &Calendar {
        if !self.built.contains_key(department) {
            self.built.insert(
                department.to_string(),
                self.sla.calendar_for(department).clone(),
            );
        }
        &self.built[department]
    }
}

impl WorkingTime for Calendars<'_> {
    fn working_secs(&mut self, department: &str, from: DateTime<Utc>, to: DateTime<Utc>) -> i64 {
        self.get(department)
            .working_between(from, to)
            .num_seconds()
            .max(0)
    }
}

/// Wall time: every second counts.
#[derive(Debug, Clone, Copy, Default)]
pub struct WallTime;

impl WorkingTime for WallTime {
    fn working_secs(&mut self, _department: &str, from: DateTime<Utc>, to: DateTime<Utc>) -> i64 {
        (to - from).num_seconds().max(0)
    }
}

/// What became of one SLA metric of a ticket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Met in time.
    Met,
    /// Breached (at least once, for next response), or past due and not met.
    Breached,
    /// Not met yet and not past due (also while paused).
    Running,
    /// The ticket has no such clock (no policy, or not started).
    None,
}

impl Outcome {
    /// The outcome of a clock at `now`: breached when a breach was recorded or it is past
    /// due unmet; else met when met; else running; `none` without a clock.
    pub fn of(c: &ClockOutcome, now: DateTime<Utc>) -> Outcome {
        if !c.present {
            Outcome::None
        } else if c.breaches > 0
            || c.breached_at.is_some()
            || (c.met_at.is_none() && c.due_at.is_some_and(|d| d <= now))
        {
            Outcome::Breached
        } else if c.met_at.is_some() {
            Outcome::Met
        } else {
            Outcome::Running
        }
    }

    /// `met`, `breached`, `running` or `none`.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Met => "met",
            Outcome::Breached => "breached",
            Outcome::Running => "running",
            Outcome::None => "none",
        }
    }
}

/// One row of the report, in column order (the CSV header is [`COLUMNS`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    /// Ticket number.
    pub number: String,
    /// Department.
    pub department: String,
    /// Requester address.
    pub requester: String,
    /// Requester display name, if given.
    pub requester_name: Option<String>,
    /// Subject.
    pub subject: String,
    /// Status (`open` … `merged`).
    pub status: String,
    /// Priority (`low` … `urgent`).
    pub priority: String,
    /// Holder's handle.
    pub assignee: Option<String>,
    /// Opened (RFC 3339 UTC).
    pub opened: String,
    /// First agent reply (RFC 3339 UTC).
    pub first_response: Option<String>,
    /// Resolved (RFC 3339 UTC).
    pub resolved: Option<String>,
    /// Closed (RFC 3339 UTC).
    pub closed: Option<String>,
    /// Business seconds from opened to the first response.
    pub first_response_secs: Option<i64>,
    /// Business seconds from opened to resolved (or closed when never resolved).
    pub resolution_secs: Option<i64>,
    /// First-response SLA outcome.
    pub sla_first_response: Outcome,
    /// Next-response SLA outcome.
    pub sla_next_response: Outcome,
    /// Resolution SLA outcome.
    pub sla_resolution: Outcome,
    /// Its tags, alphabetically (in CSV one cell, separated by spaces).
    pub tags: Vec<String>,
}

/// A row of the report grouped by tag: the group's tag (`None`: untagged), then the row.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GroupedRow<'r> {
    /// The group: one of the ticket's tags, `None` for an untagged ticket.
    pub tag: Option<&'r str>,
    /// The ticket's row.
    #[serde(flatten)]
    pub row: &'r Row,
}

/// The CSV header of the report grouped by tag: `tag`, then [`COLUMNS`].
pub const GROUP_COLUMN: &str = "tag";

/// The CSV header: [`Row`]'s fields in order.
pub const COLUMNS: [&str; 18] = [
    "number",
    "department",
    "requester",
    "requester_name",
    "subject",
    "status",
    "priority",
    "assignee",
    "opened",
    "first_response",
    "resolved",
    "closed",
    "first_response_secs",
    "resolution_secs",
    "sla_first_response",
    "sla_next_response",
    "sla_resolution",
    "tags",
];

/// `t` as RFC 3339 in UTC, whole seconds (`2026-12-01T09:00:00Z`).
pub fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Assembles the report row of `line` at `now`, counting durations with `hours`.
pub fn row(line: TicketLine, hours: &mut impl WorkingTime, now: DateTime<Utc>) -> Row {
    row_of(line, hours, now).0
}

/// [`row`] and the group tag of `line` (grouped reports).
fn row_of(
    line: TicketLine,
    hours: &mut impl WorkingTime,
    now: DateTime<Utc>,
) -> (Row, Option<String>) {
    let opened = line.opened_at;
    let first_response_secs = line
        .first_response_at
        .map(|t| hours.working_secs(&line.department, opened, t));
    let resolution_secs = line
        .resolved_at
        .or(line.closed_at)
        .map(|t| hours.working_secs(&line.department, opened, t));
    let row = Row {
        sla_first_response: Outcome::of(&line.first_response.0, now),
        sla_next_response: Outcome::of(&line.next_response.0, now),
        sla_resolution: Outcome::of(&line.resolution.0, now),
        number: line.number,
        department: line.department,
        requester: line.requester_email,
        requester_name: line.requester_name,
        subject: line.subject,
        status: line.status,
        priority: line.priority,
        assignee: line.assignee,
        opened: rfc3339(opened),
        first_response: line.first_response_at.map(rfc3339),
        resolved: line.resolved_at.map(rfc3339),
        closed: line.closed_at.map(rfc3339),
        first_response_secs,
        resolution_secs,
        tags: line.tags,
    };
    (row, line.group_tag)
}

/// `cell` made safe for spreadsheets (OWASP "CSV injection"): one whose first character
/// after any spaces is `=`, `+`, `-`, `@`, a tab, a carriage return or a line feed, or the
/// full-width `＝ ＋ － ＠` some locales also read as formula signs, gets a leading `'` so it
/// is read as text, not a formula.
pub fn neutralise_cell(cell: &str) -> std::borrow::Cow<'_, str> {
    match cell.trim_start_matches(' ').chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r' | '\n' | '＝' | '＋' | '－' | '＠') => {
            format!("'{cell}").into()
        }
        _ => cell.into(),
    }
}

/// The CSV cells of `r`, neutralised, in [`COLUMNS`] order.
fn csv_cells(r: &Row) -> [String; 18] {
    let text = |s: &str| neutralise_cell(s).into_owned();
    let opt = |s: &Option<String>| s.as_deref().map(text).unwrap_or_default();
    let num = |n: Option<i64>| n.map(|n| n.to_string()).unwrap_or_default();
    [
        text(&r.number),
        text(&r.department),
        text(&r.requester),
        opt(&r.requester_name),
        text(&r.subject),
        text(&r.status),
        text(&r.priority),
        opt(&r.assignee),
        r.opened.clone(),
        r.first_response.clone().unwrap_or_default(),
        r.resolved.clone().unwrap_or_default(),
        r.closed.clone().unwrap_or_default(),
        num(r.first_response_secs),
        num(r.resolution_secs),
        r.sla_first_response.as_str().into(),
        r.sla_next_response.as_str().into(),
        r.sla_resolution.as_str().into(),
        r.tags.join(" "),
    ]
}

/// Writes the report of `range` to `out` in `format`, one row at a time as rows arrive
/// from the database (nothing is collected), and flushes it. Returns the number of rows.
///
/// Errors: the database's, or writing to `out` failed; what was written before stays.
pub async fn write(
    conn: &mut PgConnection,
    range: &Range,
    format: Format,
    hours: &mut impl WorkingTime,
    now: DateTime<Utc>,
    out: impl Write,
) -> Result<u64, ReportError> {
    let mut lines = crate::store::report::ticket_lines(conn, range);
    let mut n = 0u64;
    match format {
        Format::Csv => {
            let mut w = csv::Writer::from_writer(out);
            if range.group_by_tag {
                w.write_record(std::iter::once(GROUP_COLUMN).chain(COLUMNS))?;
            } else {
                w.write_record(COLUMNS)?;
            }
            while let Some(line) = lines.try_next().await? {
                let (r, tag) = row_of(line, hours, now);
                if range.group_by_tag {
                    w.write_record(std::iter::once(tag.unwrap_or_default()).chain(csv_cells(&r)))?;
                } else {
                    w.write_record(csv_cells(&r))?;
                }
                n += 1;
            }
            w.flush()?;
        }
        Format::Json => {
            let mut out = out;
            out.write_all(b"[")?;
            while let Some(line) = lines.try_next().await? {
                out.write_all(if n == 0 { b"\n" } else { b",\n" })?;
                let (r, tag) = row_of(line, hours, now);
                if range.group_by_tag {
                    let g = GroupedRow {
                        tag: tag.as_deref(),
                        row: &r,
                    };
                    serde_json::to_writer(&mut out, &g)?;
                } else {
                    serde_json::to_writer(&mut out, &r)?;
                }
                n += 1;
            }
            out.write_all(b"\n]\n")?;
            out.flush()?;
        }
    }
    Ok(n)
}

/// The SLA state of every ticket that is not done, computed from its stored clocks with
/// `domain::sla` under its department's working hours.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SlaState {
    /// Tickets not done that have a running clock.
    pub tickets: u64,
    /// Their running clocks (met and paused ones are not read).
    pub clocks: u64,
    /// Tickets whose headline clock (the unmet running one due first) is past due at `now`.
    pub overdue: u64,
    /// Tickets whose headline clock is due within the next hour.
    pub due_within_hour: u64,
    /// The earliest pending warning or breach over all of them (`Clocks::next_moment`).
    pub next_moment: Option<DateTime<Utc>>,
}

/// Loads the running clocks of every ticket that is not done (one streamed query,
/// [`crate::store::sla::open_clocks`]) and computes each
/// ticket's headline (due time) and next moment at `now` with `sla`'s working hours and
/// warning share: what cards, `mine` and the scheduler show, for all of them at once.
///
/// Errors: the database's.
pub async fn open_sla_state(
    conn: &mut PgConnection,
    sla: &crate::config::SlaSettings,
    now: DateTime<Utc>,
) -> Result<SlaState, ReportError> {
    let mut calendars = Calendars::new(sla);
    let mut state = SlaState::default();
    let mut rows = crate::store::sla::open_clocks(conn);
    let mut current: Option<(i64, String, Clocks)> = None;
    let mut finish = |t: Option<(i64, String, Clocks)>, state: &mut SlaState| {
        if let Some((_, department, clocks)) = t {
            let cal = calendars.get(&department);
            state.tickets += 1;
            state.clocks += clocks.0.len() as u64;
            if let Some((_, due)) = clocks.headline(cal) {
                if due <= now {
                    state.overdue += 1;
                } else if due <= now + chrono::Duration::hours(1) {
                    state.due_within_hour += 1;
                }
            }
            if let Some(m) = clocks.next_moment(cal, sla.warn_at) {
                state.next_moment = Some(state.next_moment.map_or(m, |n| n.min(m)));
            }
        }
    };
    while let Some((ticket_id, department, clock)) = rows.try_next().await? {
        match &mut current {
            Some((id, _, clocks)) if *id == ticket_id => clocks.0.push(clock),
            _ => {
                let done = current.replace((ticket_id, department, Clocks(vec![clock])));
                finish(done, &mut state);
            }
        }
    }
    finish(current, &mut state);
    Ok(state)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_are_dates_or_rfc3339() {
        assert_eq!(
            rfc3339(parse_instant("2026-12-01").unwrap()),
            "2026-12-01T00:00:00Z"
        );
        assert_eq!(
            rfc3339(parse_instant("2026-12-01T10:30:00+01:00").unwrap()),
            "2026-12-01T09:30:00Z"
        );
        for bad in ["", "yesterday", "2026-13-01", "2026-12-01 10:00"] {
            assert!(parse_instant(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_range_must_not_be_empty() {
        assert!(matches!(
            range("2026-12-02", "2026-12-01", None),
            Err(ReportError::EmptyRange { .. })
        ));
        assert!(matches!(
            range("2026-12-01", "2026-12-01", None),
            Err(ReportError::EmptyRange { .. })
        ));
        let r = range("2026-12-01", "2026-12-02", Some(" billing ")).unwrap();
        assert_eq!(r.department.as_deref(), Some("billing"));
        assert_eq!(
            range("2026-12-01", "2026-12-02", Some(""))
                .unwrap()
                .department,
            None
        );
    }

    #[test]
    fn formula_cells_are_neutralised() {
        for (cell, want) in [
            ("=HYPERLINK(\"x\")", "'=HYPERLINK(\"x\")"),
            ("+1", "'+1"),
            ("-2+3", "'-2+3"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\tx", "'\tx"),
            ("\rx", "'\rx"),
            ("\nx", "'\nx"),
            ("  =1+1", "'  =1+1"),
            ("＝1+1", "'＝1+1"),
            ("＠SUM(A1)", "'＠SUM(A1)"),
            ("Invoice = wrong", "Invoice = wrong"),
            ("", ""),
        ] {
            assert_eq!(neutralise_cell(cell), want, "{cell:?}");
        }
    }

    #[test]
    fn outcomes_follow_the_clock() {
        let now = parse_instant("2026-12-01T12:00:00Z").unwrap();
        let at = |h: u32| Some(parse_instant(&format!("2026-12-01T{h:02}:00:00Z")).unwrap());
        let c = |met_at, breached_at, breaches, due_at| ClockOutcome {
            present: true,
            met_at,
            breached_at,
            breaches,
            due_at,
        };
        assert_eq!(Outcome::of(&ClockOutcome::default(), now), Outcome::None);
        assert_eq!(Outcome::of(&c(at(9), None, 0, None), now), Outcome::Met);
        assert_eq!(
            Outcome::of(&c(at(9), at(8), 1, None), now),
            Outcome::Breached
        );
        assert_eq!(
            Outcome::of(&c(at(9), None, 1, None), now),
            Outcome::Breached
        );
        assert_eq!(
            Outcome::of(&c(None, None, 0, at(13)), now),
            Outcome::Running
        );
        assert_eq!(Outcome::of(&c(None, None, 0, None), now), Outcome::Running);
        assert_eq!(
            Outcome::of(&c(None, None, 0, at(11)), now),
            Outcome::Breached
        );
    }
}
