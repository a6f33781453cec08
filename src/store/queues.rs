//! The web view's ticket lists (My tickets, Unassigned, All): filtered, sorted and
//! keyset-paged reads of `tickets` (read-only; the sort columns and their indexes are in
//! migrations/0020_web.sql).
//!
//! Every sort is `(key, id)` ascending, an absent key last (`COALESCE(key, 'infinity')`, the
//! expression the indexes are built on), so a page is an index walk from the cursor and
//! tickets with equal keys are neither repeated nor skipped across pages.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, Postgres, QueryBuilder};

use crate::domain::{Priority, Status};

/// Which list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Queue {
    /// Tickets agent `id` holds; without a status filter only those not done (not resolved,
    /// closed or merged).
    Mine(i64),
    /// Tickets nobody holds that wait for someone: `open` or `pending_assignment`.
    Unassigned,
    /// Every ticket.
    All,
}

/// The order of a list, each ascending with tickets lacking the key last, then by id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Sort {
    /// The headline SLA clock's due time (`tickets.sla_due_at`): soonest due first.
    #[default]
    Due,
    /// Opening time (`tickets.opened_at`): oldest first.
    Age,
    /// The newest customer message (`tickets.last_customer_at`): the customer waiting
    /// longest first.
    LastCustomer,
}

impl Sort {
    /// The query-string name: `due`, `age`, `last_customer`.
    pub fn as_str(self) -> &'static str {
        match self {
            Sort::Due => "due",
            Sort::Age => "age",
            Sort::LastCustomer => "last_customer",
        }
    }

    /// Parses [`Sort::as_str`]'s names; `None` for anything else.
    pub fn parse(s: &str) -> Option<Sort> {
        match s {
            "due" => Some(Sort::Due),
            "age" => Some(Sort::Age),
            "last_customer" => Some(Sort::LastCustomer),
            _ => None,
        }
    }

    /// The SQL key expression (matches the index expressions of 0020_web.sql).
    fn key(self) -> &'static str {
        match self {
            Sort::Due => "COALESCE(t.sla_due_at, 'infinity')",
            Sort::Age => "t.opened_at",
            Sort::LastCustomer => "COALESCE(t.last_customer_at, 'infinity')",
        }
    }
}

/// A ticket's SLA state as the lists filter it, judged at [`QueueFilter::now`] from its
/// headline clock (the unmet clock due first).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlaState {
    /// Due time passed.
    Breached,
    /// Warning time passed, due time not yet.
    AtRisk,
    /// A running clock before its warning time.
    OnTrack,
    /// No running clock (no SLA, all met, or paused).
    None,
}

impl SlaState {
    /// The query-string name: `breached`, `at_risk`, `on_track`, `none`.
    pub fn as_str(self) -> &'static str {
        match self {
            SlaState::Breached => "breached",
            SlaState::AtRisk => "at_risk",
            SlaState::OnTrack => "on_track",
            SlaState::None => "none",
        }
    }

    /// Parses [`SlaState::as_str`]'s names; `None` for anything else.
    pub fn parse(s: &str) -> Option<SlaState> {
        [
            SlaState::Breached,
            SlaState::AtRisk,
            SlaState::OnTrack,
            SlaState::None,
        ]
        .into_iter()
        .find(|x| x.as_str() == s)
    }

    /// The state of a clock due at `due` with warning at `warn`, at `now`.
    pub fn of(
        due: Option<DateTime<Utc>>,
        warn: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> SlaState {
        match (due, warn) {
            (None, _) => SlaState::None,
            (Some(d), _) if d <= now => SlaState::Breached,
            (Some(_), Some(w)) if w <= now => SlaState::AtRisk,
            (Some(_), _) => SlaState::OnTrack,
        }
    }
}

/// Who holds the tickets to list (the `assignee` filter).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Holder {
    /// Nobody.
    Nobody,
    /// The agent with this handle.
    Handle(String),
    /// The agent with this id: what [`page`] turns a [`Holder::Handle`] into before it
    /// plans the list, so the planner sees the real value (an agent holding nothing is then
    /// read from the assignee indexes, not by walking every ticket in sort order).
    Agent(i64),
}

/// What to list and in which order. Filters left `None` do not filter.
#[derive(Debug, Clone, PartialEq)]
pub struct QueueFilter {
    /// Which list.
    pub queue: Queue,
    /// Only this status.
    pub status: Option<Status>,
    /// Only this priority.
    pub priority: Option<Priority>,
    /// Only this department.
    pub department: Option<String>,
    /// Only tickets held by this agent, or by nobody.
    pub assignee: Option<Holder>,
    /// Only tickets in this SLA state.
    pub sla: Option<SlaState>,
    /// Only tickets carrying this tag (`ticket_tags.tag`).
    pub tag: Option<String>,
    /// Only tickets opened at or after this instant.
    pub opened_from: Option<DateTime<Utc>>,
    /// Only tickets opened before this instant.
    pub opened_to: Option<DateTime<Utc>>,
    /// The order.
    pub sort: Sort,
    /// The instant SLA states are judged at.
    pub now: DateTime<Utc>,
}

impl QueueFilter {
    /// The list `queue` in `sort` order, unfiltered, SLA judged at `now`.
    pub fn new(queue: Queue, sort: Sort, now: DateTime<Utc>) -> QueueFilter {
        QueueFilter {
            queue,
            status: None,
            priority: None,
            department: None,
            assignee: None,
            sla: None,
            tag: None,
            opened_from: None,
            opened_to: None,
            sort,
            now,
        }
    }
}

/// Where a page starts: after the ticket with this sort key and id. Opaque to people: its
/// text form ([`Cursor::encode`]) is `<key in µs since the epoch, or "inf">.<id>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    /// The sort key of the last ticket shown; `None`: it had none (sorted last).
    pub key: Option<DateTime<Utc>>,
    /// Its id.
    pub id: i64,
}

impl Cursor {
    /// The text form for a link (`after=`).
    pub fn encode(&self) -> String {
        match self.key {
            Some(k) => format!("{}.{}", k.timestamp_micros(), self.id),
            None => format!("inf.{}", self.id),
        }
    }

    /// Parses [`Cursor::encode`]'s form; `None` for anything else, including a key outside
    /// what a `timestamptz` holds (before 4714-11-24 BC; the upper end, 294276 AD, lies
    /// beyond what chrono holds), which no stored ticket can have.
    pub fn decode(s: &str) -> Option<Cursor> {
        let (k, id) = s.split_once('.')?;
        let id: i64 = id.parse().ok()?;
        let key = match k {
            "inf" => None,
            _ => {
                let t = DateTime::<Utc>::from_timestamp_micros(k.parse().ok()?)?;
                if t < pg_min() {
                    return None;
                }
                Some(t)
            }
        };
        Some(Cursor { key, id })
    }
}

/// The earliest `timestamptz` Postgres holds: 4714-11-24 00:00 UTC BC (astronomical year
/// -4713, Julian day 0).
fn pg_min() -> DateTime<Utc> {
    chrono::NaiveDate::from_ymd_opt(-4713, 11, 24)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// One ticket of a list.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct QueueRow {
    /// `tickets.id`.
    pub id: i64,
    /// `TICK-2026-0001`.
    pub number: String,
    /// Subject (from the customer: escape before showing).
    pub subject: String,
    /// Requester address.
    pub requester_email: String,
    /// Requester display name.
    pub requester_name: Option<String>,
    /// Stored status name.
    pub status: String,
    /// Stored priority name.
    pub priority: String,
    /// Department.
    pub department: String,
    /// Holder's handle.
    pub assignee: Option<String>,
    /// When it was opened.
    pub opened_at: DateTime<Utc>,
    /// When the newest customer message arrived.
    pub last_customer_at: Option<DateTime<Utc>>,
    /// The headline SLA clock's due time.
    pub sla_due_at: Option<DateTime<Utc>>,
    /// The headline SLA clock's warning time.
    pub sla_warn_at: Option<DateTime<Utc>>,
    /// Its tags, sorted.
    pub tags: Vec<String>,
}

impl QueueRow {
    /// This row's key in `sort` (`None`: absent, sorted last).
    pub fn key(&self, sort: Sort) -> Option<DateTime<Utc>> {
        match sort {
            Sort::Due => self.sla_due_at,
            Sort::Age => Some(self.opened_at),
            Sort::LastCustomer => self.last_customer_at,
        }
    }
}

/// One page of a list.
#[derive(Debug, Clone, PartialEq)]
pub struct QueuePage {
    /// The tickets, in order.
    pub rows: Vec<QueueRow>,
    /// Where the next page starts; `None` on the last page.
    pub next: Option<Cursor>,
}

/// The columns a list row shows, and `sort_key` (the sort's key expression, for ordering a
/// union of two index walks).
fn push_select(q: &mut QueryBuilder<'_, Postgres>, key: &str) {
    q.push(format_args!(
        "{COLUMNS}, {key} AS sort_key FROM tickets t {AGENT_JOIN} WHERE TRUE"
    ));
}

/// A list row's columns but the sort key, of `tickets t` joined as [`AGENT_JOIN`].
const COLUMNS: &str = "SELECT t.id, t.number, t.subject, t.requester_email, t.requester_name,
        t.status, t.priority, t.department, a.handle AS assignee, t.opened_at,
        t.last_customer_at, t.sla_due_at, t.sla_warn_at,
        ARRAY(SELECT g.tag FROM ticket_tags g WHERE g.ticket_id = t.id ORDER BY g.tag) AS tags";

/// The holder's handle beside a ticket `t`.
const AGENT_JOIN: &str = "LEFT JOIN agents a ON a.id = t.assignee_id";

/// Which of a list's conditions to write: all of them, only those the walked index serves
/// (its leading columns, its predicate, a range of its key), or only the rest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    Every,
    Walked,
    Residual,
}

/// Which filters the index a list walks in sort order serves (the rest are checked on each
/// row the walk reads): the queue's own partial index (`Mine`, `Unassigned`) serves no other
/// filter; on All a holder (`tickets_queue_assignee_*`) leads the index, else under the due
/// sort a department with a priority (`tickets_department_priority_due_idx`), else a status
/// (`tickets_queue_status_*`). An "opened" range is a range of the age key, and an SLA
/// state's due-time bounds a range of the due key.
#[derive(Debug, Clone, Copy)]
struct Walk {
    status: bool,
    assignee: bool,
    department_priority: bool,
    opened: bool,
    sla_range: bool,
}

impl Walk {
    fn of(filter: &QueueFilter) -> Walk {
        let on_all = filter.queue == Queue::All;
        let holder = on_all && matches!(filter.assignee, Some(Holder::Agent(_)));
        let department_priority = on_all
            && !holder
            && filter.sort == Sort::Due
            && filter.department.is_some()
            && filter.priority.is_some();
        Walk {
            status: on_all && !holder && !department_priority && filter.status.is_some(),
            assignee: holder,
            department_priority,
            opened: filter.sort == Sort::Age,
            sla_range: filter.sort == Sort::Due,
        }
    }

    /// The walk's order: the index's leading columns and the sort key. Written with the
    /// leading columns as ranges (`Part::Walked`), not equalities the planner would drop from
    /// the order, so that only the index the probe judged gives it: left to itself, the
    /// planner walked the plain due index past 78,000 tickets for 2,040 resolved ones.
    fn order(self, filter: &QueueFilter) -> String {
        let lead = if self.assignee {
            "t.assignee_id, "
        } else if self.department_priority {
            "t.department, t.priority, "
        } else if self.status {
            "t.status, "
        } else {
            ""
        };
        format!("{lead}{}, t.id", filter.sort.key())
    }

    /// Whether `filter` has a condition the walked index does not serve.
    fn leaves_residual(self, filter: &QueueFilter) -> bool {
        (filter.status.is_some() && !self.status)
            || (filter.assignee.is_some() && !self.assignee)
            || ((filter.opened_from.is_some() || filter.opened_to.is_some()) && !self.opened)
            || match filter.sla {
                None => false,
                Some(SlaState::AtRisk | SlaState::OnTrack) => true,
                Some(_) => !self.sla_range,
            }
            || ((filter.priority.is_some() || filter.department.is_some())
                && !self.department_priority)
            || filter.tag.is_some()
    }
}

/// ` AND {column} = value`, or as the range ` AND {column} >= value AND {column} <= value`
/// when `range` (a column leading a walk, see [`Walk::order`]).
fn eq<'a, T>(q: &mut QueryBuilder<'a, Postgres>, column: &str, value: T, range: bool)
where
    T: 'a + Clone + sqlx::Encode<'a, Postgres> + sqlx::Type<Postgres> + Send,
{
    if range {
        q.push(format_args!(" AND {column} >= "))
            .push_bind(value.clone())
            .push(format_args!(" AND {column} <= "))
            .push_bind(value);
    } else {
        q.push(format_args!(" AND {column} = ")).push_bind(value);
    }
}

/// The conditions of `filter` (those `part` selects, see [`Walk`]) and, unless `part` is
/// `Residual`, the cursor `after`, each as ` AND …`.
fn push_filters(
    q: &mut QueryBuilder<'_, Postgres>,
    filter: &QueueFilter,
    after: Option<&Cursor>,
    part: Part,
) {
    let key = filter.sort.key();
    let walk = Walk::of(filter);
    let wanted = |walked: bool| match part {
        Part::Every => true,
        Part::Walked => walked,
        Part::Residual => !walked,
    };
    if wanted(true) {
        match filter.queue {
            Queue::Mine(agent) => {
                q.push(" AND t.assignee_id = ").push_bind(agent);
                // Open work (also written beside a status filter that implies it): the
                // holders' partial indexes.
                let open_work =
                    |s: Status| !matches!(s, Status::Resolved | Status::Closed | Status::Merged);
                if filter.status.is_none_or(open_work) {
                    q.push(" AND t.status NOT IN ('resolved', 'closed', 'merged')");
                }
            }
            // Written as the unassigned indexes' predicate, so the planner can use them.
            Queue::Unassigned => {
                q.push(" AND t.assignee_id IS NULL AND t.status IN ('open', 'pending_assignment')");
            }
            Queue::All => {}
        }
    }
    // A column leading the walked index is written as a range in the walk ([`Walk::order`]).
    if let Some(s) = filter.status.filter(|_| wanted(walk.status)) {
        eq(q, "t.status", s.as_str().to_owned(), part == Part::Walked);
    }
    if let Some(p) = filter.priority.filter(|_| wanted(walk.department_priority)) {
        eq(q, "t.priority", p.as_str().to_owned(), part == Part::Walked);
    }
    if let Some(d) = filter
        .department
        .as_ref()
        .filter(|_| wanted(walk.department_priority))
    {
        eq(q, "t.department", d.clone(), part == Part::Walked);
    }
    match filter.assignee.as_ref().filter(|_| wanted(walk.assignee)) {
        Some(Holder::Nobody) => {
            q.push(" AND t.assignee_id IS NULL");
        }
        Some(Holder::Agent(id)) => {
            q.push(" AND t.assignee_id IS NOT NULL");
            eq(
                q,
                "t.assignee_id",
                *id,
                part == Part::Walked && walk.assignee,
            );
        }
        Some(Holder::Handle(h)) => {
            // `IS NOT NULL` lets the planner use the assignee indexes' predicate.
            q.push(" AND t.assignee_id IS NOT NULL AND t.assignee_id = (SELECT id FROM agents WHERE handle = ")
                .push_bind(h.clone())
                .push(")");
        }
        None => {}
    }
    if let Some(state) = filter.sla {
        // Written on the due sort's key (`COALESCE(sla_due_at, 'infinity')`, never infinity
        // for a real due time), so with that sort the state is a range of its index; the
        // warning time is checked on each row.
        let due = Sort::Due.key();
        let now = filter.now;
        if wanted(walk.sla_range) {
            match state {
                SlaState::Breached => {
                    q.push(format_args!(" AND {due} <= ")).push_bind(now);
                }
                SlaState::AtRisk | SlaState::OnTrack => {
                    q.push(format_args!(" AND {due} > "))
                        .push_bind(now)
                        .push(format_args!(" AND {due} < 'infinity'"));
                }
                SlaState::None => {
                    q.push(format_args!(" AND {due} = 'infinity'"));
                }
            }
        }
        if wanted(false) {
            match state {
                SlaState::AtRisk => {
                    q.push(" AND t.sla_warn_at <= ").push_bind(now);
                }
                SlaState::OnTrack => {
                    q.push(" AND (t.sla_warn_at IS NULL OR t.sla_warn_at > ")
                        .push_bind(now)
                        .push(")");
                }
                SlaState::Breached | SlaState::None => {}
            }
        }
    }
    if let Some(tag) = filter.tag.as_ref().filter(|_| wanted(false)) {
        q.push(" AND EXISTS (SELECT 1 FROM ticket_tags g WHERE g.ticket_id = t.id AND g.tag = ")
            .push_bind(tag.clone())
            .push(")");
    }
    if wanted(walk.opened) {
        if let Some(from) = filter.opened_from {
            q.push(" AND t.opened_at >= ").push_bind(from);
        }
        if let Some(to) = filter.opened_to {
            q.push(" AND t.opened_at < ").push_bind(to);
        }
    }
    if let Some(c) = after.filter(|_| part != Part::Residual) {
        q.push(format_args!(" AND ({key}, t.id) > (COALESCE("))
            .push_bind(c.key)
            .push("::timestamptz, 'infinity'), ")
            .push_bind(c.id)
            .push(")");
    }
}

/// How [`page`] tells whether walking a list's sort index would take too long ([`sparse`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Probe {
    /// Index entries read to count how often the filters the walk does not serve pass.
    pub rows: i64,
    /// Index entries a page's walk may be expected to read (extrapolated from the count)
    /// before the list is read through the filters' own indexes and sorted instead.
    pub walk_max: i64,
}

impl Probe {
    /// The probe of a page of `limit` tickets: 40 entries per page row, at least 2,000 (a
    /// filter passing one row in 40 fills the page within it), and walks of up to 8,000
    /// entries (2,040 entries with a filter checked on each took 8–16 ms at 1,000,000
    /// tickets on 2 cores, `cargo bench --bench web`).
    pub fn for_limit(limit: i64) -> Probe {
        Probe {
            rows: (40 * (limit + 1)).max(2_000),
            walk_max: 8_000,
        }
    }
}

/// Whether walking `filter`'s sort index from `after` would read more than `probe.walk_max`
/// entries before it found `limit + 1` tickets passing the conditions the index does not
/// serve (a rare department and priority, a tag, a state). Told by reading `probe.rows`
/// entries of that walk (a bounded walk) and counting the hits: none, or too few to
/// extrapolate a page within `walk_max`, make the list sparse. The planner cannot know this:
/// it assumes a filter's tickets are spread evenly along the sort key, and a combination
/// that sits at the end of it (sales tickets of low priority have no SLA policy, so no due
/// time, and came after every ticket that had one) made it walk nearly the whole table
/// (0.6 s at 1,000,000 tickets); while reading every sales ticket to find the unassigned
/// ones (one in 70 along the age index) and sorting them took 190 ms.
async fn sparse(
    conn: &mut PgConnection,
    filter: &QueueFilter,
    after: Option<&Cursor>,
    limit: i64,
    probe: Probe,
) -> Result<bool, sqlx::Error> {
    let running = matches!(filter.sla, Some(SlaState::AtRisk | SlaState::OnTrack));
    if !Walk::of(filter).leaves_residual(filter) || (running && filter.sort != Sort::Due) {
        // Nothing to check on the rows, or already read through the due index and sorted.
        return Ok(false);
    }
    let mut q: QueryBuilder<Postgres> =
        QueryBuilder::new("SELECT count(*), count(*) FILTER (WHERE w.hit) FROM (SELECT (TRUE");
    push_filters(&mut q, filter, None, Part::Residual);
    q.push(") AS hit");
    push_walk(&mut q, filter, after, probe.rows);
    q.push(") w");
    let (seen, hits): (i64, i64) = one_unsorted(conn, &mut q).await?;
    // The walk ends within the probe (the list's end or a full page), or `limit + 1` hits
    // at `hits / seen` take at most `walk_max` entries.
    let short = seen < probe.rows
        || hits > limit
        || (hits > 0 && (limit + 1).saturating_mul(seen) <= probe.walk_max.saturating_mul(hits));
    Ok(!short)
}

/// The ORDER BY of a list: `{key}, t.id`, an index walk from the cursor. A [`sparse`] list
/// is ordered on an expression no index has (`{key} + interval '0 s'`), so the planner reads
/// the tickets passing its filters through their own indexes and sorts them. So is a list of a
/// running SLA state (`at_risk`, `on_track`: due in the future) under another sort, so that
/// the few tickets in that state are read through the due-time index and sorted, rather than
/// found by walking the age or last-customer index, where they sit together at the end
/// (recently opened), through nearly every ticket.
fn order_by(filter: &QueueFilter, sparse: bool) -> String {
    let key = filter.sort.key();
    let running = matches!(filter.sla, Some(SlaState::AtRisk | SlaState::OnTrack));
    if sparse || (running && filter.sort != Sort::Due) {
        format!("({key} + interval '0 s'), t.id")
    } else {
        format!("{key}, t.id")
    }
}

/// Up to `limit` (1..=500) tickets of `filter` after `after` (from the start without it), and
/// the cursor of the next page when there are more.
///
/// Each list is one index walk from the cursor in the sort's order, except where that walk
/// would read most of the table to find a page: an "opened from" bound under the due or
/// last-customer sort starts the walk where the key reaches the bound (with the tickets whose
/// key precedes their own opening added from their partial index, migrations/0024), and a
/// running SLA state under another sort is read through the due index ([`order_by`]). A list
/// whose filters the walk would find too rarely (see [`sparse`], which reads up to
/// [`Probe::for_limit`] to tell) is read through the filters' own indexes and sorted.
///
/// Errors: the database's.
pub async fn page(
    conn: &mut PgConnection,
    filter: &QueueFilter,
    after: Option<&Cursor>,
    limit: i64,
) -> Result<QueuePage, sqlx::Error> {
    let limit = limit.clamp(1, 500);
    page_probing(conn, filter, after, limit, Probe::for_limit(limit)).await
}

/// [`page`] with `probe` instead of [`Probe::for_limit`]: a small probe (and `walk_max` 0)
/// makes a small desk take the path a large one takes, so tests can check that both paths
/// list the same tickets. `limit` is clamped to 1..=500, `probe.rows` to at least 1.
///
/// Errors: the database's.
pub async fn page_probing(
    conn: &mut PgConnection,
    filter: &QueueFilter,
    after: Option<&Cursor>,
    limit: i64,
    probe: Probe,
) -> Result<QueuePage, sqlx::Error> {
    let limit = limit.clamp(1, 500);
    let probe = Probe {
        rows: probe.rows.max(1),
        ..probe
    };
    let resolved;
    let filter = match &filter.assignee {
        Some(Holder::Handle(h)) => {
            let id: Option<(i64,)> = sqlx::query_as("SELECT id FROM agents WHERE handle = $1")
                .bind(h)
                .fetch_optional(&mut *conn)
                .await?;
            let Some((id,)) = id else {
                return Ok(QueuePage {
                    rows: Vec::new(),
                    next: None,
                });
            };
            resolved = QueueFilter {
                assignee: Some(Holder::Agent(id)),
                ..filter.clone()
            };
            &resolved
        }
        _ => filter,
    };
    let mut rows = if sparse(conn, filter, after, limit, probe).await? {
        rows(conn, filter, after, limit, Plan::Sorted).await?
    } else {
        match rows(conn, filter, after, limit, Plan::Walk(probe.walk_max)).await? {
            Some(rows) => Some(rows),
            // The walk reached its bound before a page: read and sort instead.
            None => rows(conn, filter, after, limit, Plan::Sorted).await?,
        }
    }
    .unwrap_or_default();
    let more = rows.len() > usize::try_from(limit).unwrap_or(usize::MAX);
    rows.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    let next = if more {
        rows.last().map(|r| Cursor {
            key: r.key(filter.sort),
            id: r.id,
        })
    } else {
        None
    };
    Ok(QueuePage { rows, next })
}

/// How [`rows`] reads a page: walking the sort's index (at most the given number of
/// entries where some filters are checked on each row), or reading the filtered tickets
/// and sorting them ([`order_by`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Plan {
    Walk(i64),
    Sorted,
}

/// Up to `limit + 1` rows of `filter` after `after` read as `plan` says, or `None` when a
/// bounded walk read its bound before it found them (the rows it found may not be all).
async fn rows(
    conn: &mut PgConnection,
    filter: &QueueFilter,
    after: Option<&Cursor>,
    limit: i64,
    plan: Plan,
) -> Result<Option<Vec<QueueRow>>, sqlx::Error> {
    let bound = match plan {
        Plan::Walk(b) => Some(b.max(limit + 1)),
        Plan::Sorted => None,
    };
    let key_order = &format!("{}, t.id", filter.sort.key());
    let key = filter.sort.key();
    let sparse = plan == Plan::Sorted;
    let order = order_by(filter, sparse);
    // A bounded walk where some filters are checked on each row (not the union of two
    // walks for an opening bound, not an order no index gives).
    let union = !sparse
        && matches!(
            (filter.opened_from, filter.sort),
            (Some(_), Sort::Due | Sort::LastCustomer)
        );
    let bounded =
        bound.filter(|_| !union && Walk::of(filter).leaves_residual(filter) && order == *key_order);
    let mut q: QueryBuilder<Postgres> = QueryBuilder::new("");
    match (filter.opened_from, filter.sort) {
        (Some(from), Sort::Due | Sort::LastCustomer) if !sparse => {
            // Tickets opened at or after `from`: those whose key is at or after `from` (a
            // walk starting there), and those whose key comes before `from` and so before
            // their own opening (the partial index of such tickets). Disjoint.
            let early = match filter.sort {
                Sort::Due => "COALESCE(t.sla_due_at, 'infinity') < t.opened_at",
                _ => "COALESCE(t.last_customer_at, 'infinity') < t.opened_at",
            };
            // The walk is the one the probe judged ([`Walk::order`]; the planner read 42,000
            // open tickets of the last 30 days to find 418 of billing and high priority).
            q.push("SELECT u.* FROM ((");
            push_select(&mut q, key);
            push_filters(&mut q, filter, after, Part::Walked);
            push_filters(&mut q, filter, None, Part::Residual);
            q.push(format_args!(" AND {key} >= "))
                .push_bind(from)
                .push(format_args!(
                    " ORDER BY {} LIMIT ",
                    if order == *key_order {
                        Walk::of(filter).order(filter)
                    } else {
                        order.clone()
                    }
                ))
                .push_bind(limit + 1)
                .push(") UNION ALL (");
            push_select(&mut q, key);
            push_filters(&mut q, filter, after, Part::Every);
            // Ordered on the key plus nothing, so the key's index cannot give the order: the
            // planner then reads these few tickets from their partial index and sorts them,
            // instead of walking the key's index past every ticket (0.6 s at 1M tickets).
            q.push(format_args!(" AND {early} AND {key} < "))
                .push_bind(from)
                .push(format_args!(
                    " ORDER BY ({key} + interval '0 s'), t.id LIMIT "
                ))
                .push_bind(limit + 1)
                .push(")) u ORDER BY u.sort_key, u.id LIMIT ")
                .push_bind(limit + 1);
        }
        (_, _) if bounded.is_some() => {
            // The walk the probe judged, written so the planner can take no other index:
            // the ids of at most `bound` entries in the sort's order with the conditions the
            // index serves, the other conditions checked on those, the page's rows joined
            // to them. (Left to itself, the planner walked the plain due index past 78,000
            // tickets for resolved urgent ones, which the status's index lists at once.)
            q.push(format_args!(
                "{COLUMNS}, {key} AS sort_key FROM (SELECT w.id FROM (SELECT t.id, (TRUE"
            ));
            push_filters(&mut q, filter, None, Part::Residual);
            q.push(") AS hit");
            push_walk(&mut q, filter, after, bounded.unwrap_or(limit + 1));
            q.push(") w WHERE w.hit LIMIT ")
                .push_bind(limit + 1)
                .push(format_args!(
                    ") p JOIN tickets t ON t.id = p.id {AGENT_JOIN}"
                ));
        }
        _ => {
            push_select(&mut q, key);
            push_filters(&mut q, filter, after, Part::Every);
            q.push(format_args!(" ORDER BY {order} LIMIT "))
                .push_bind(limit + 1);
        }
    }
    // Planned per call with the values bound (not a cached generic plan): how many tickets
    // one holder, status or date range selects decides which index to walk.
    if bounded.is_some() {
        sorts(conn, false).await?;
    }
    let read = q
        .build_query_as()
        .persistent(false)
        .fetch_all(&mut *conn)
        .await;
    let reset = match bounded {
        Some(_) => sorts(conn, true).await,
        None => Ok(()),
    };
    let mut rows: Vec<QueueRow> = read?;
    reset?;
    if let Some(bound) = bounded {
        // The walk's rows joined back come in no set order: (key, id), no key last.
        rows.sort_by_key(|r| {
            let k = r.key(filter.sort);
            (k.is_none(), k, r.id)
        });
        if i64::try_from(rows.len()).unwrap_or(i64::MAX) <= limit {
            // A short page: the list's end, or the bound? Count the walk.
            let mut q: QueryBuilder<Postgres> = QueryBuilder::new("SELECT count(*) FROM (SELECT 1");
            push_walk(&mut q, filter, after, bound);
            q.push(") w");
            let (walked,): (i64,) = one_unsorted(conn, &mut q).await?;
            if walked >= bound {
                return Ok(None);
            }
        }
    }
    Ok(Some(rows))
}

/// ` FROM tickets t WHERE … ORDER BY … LIMIT entries`: the first `entries` of `filter`'s walk
/// ([`Walk`]) from `after`, with the conditions its index serves (and, for an "opened from"
/// bound under the due or last-customer sort, the key from that bound on), in its order
/// ([`Walk::order`]). Run with sorting off ([`one_unsorted`]) it reads that index only.
fn push_walk(
    q: &mut QueryBuilder<'_, Postgres>,
    filter: &QueueFilter,
    after: Option<&Cursor>,
    entries: i64,
) {
    q.push(" FROM tickets t WHERE TRUE");
    push_filters(q, filter, after, Part::Walked);
    if let (Some(from), Sort::Due | Sort::LastCustomer) = (filter.opened_from, filter.sort) {
        q.push(format_args!(" AND {} >= ", filter.sort.key()))
            .push_bind(from);
    }
    q.push(format_args!(
        " ORDER BY {} LIMIT ",
        Walk::of(filter).order(filter)
    ))
    .push_bind(entries);
}

/// The one row of `q`, run with sorting off ([`sorts`]).
///
/// Errors: the database's (the statement's first).
async fn one_unsorted<T>(
    conn: &mut PgConnection,
    q: &mut QueryBuilder<'_, Postgres>,
) -> Result<T, sqlx::Error>
where
    T: for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow> + Send + Unpin,
{
    sorts(conn, false).await?;
    let row = q
        .build_query_as()
        .persistent(false)
        .fetch_one(&mut *conn)
        .await;
    let reset = sorts(conn, true).await;
    let row = row?;
    reset?;
    Ok(row)
}

/// Lets the planner sort (`RESET enable_sort`) or not (`SET enable_sort = off`) on `conn`,
/// around the walks a probe judged (the probe's own, a bounded page, its count): with the
/// walk's order written out ([`Walk::order`]) and sorting off, the only plan left is the walk
/// of the index that gives that order, at most its `LIMIT` entries. Left to choose, the
/// planner read 42,000 tickets opened in 30 days through another index and sorted them,
/// where the walk reads 2,040. Session-wide for the one statement between the two calls;
/// inside a caller's transaction a failed statement rolls the setting back with it.
///
/// Errors: the database's.
async fn sorts(conn: &mut PgConnection, on: bool) -> Result<(), sqlx::Error> {
    let sql = if on {
        "RESET enable_sort"
    } else {
        "SET enable_sort = off"
    };
    sqlx::query(sql).execute(&mut *conn).await.map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trips_and_refuses_junk() {
        let t = DateTime::<Utc>::from_timestamp_micros(1_764_000_000_123_456);
        for c in [
            Cursor { key: t, id: 42 },
            Cursor { key: None, id: 7 },
            Cursor {
                key: DateTime::<Utc>::from_timestamp_micros(-5),
                id: 1,
            },
        ] {
            assert_eq!(Cursor::decode(&c.encode()), Some(c));
        }
        for junk in [
            "",
            "x",
            "1.",
            ".1",
            "inf",
            "inf.x",
            "1.2.3",
            "99999999999999999999.1",
            // Before 4714-11-24 BC: no timestamptz can hold it.
            "-210866803200000001.1",
            "-219951936000000000.1",
            "-9223372036854775808.1",
        ] {
            assert_eq!(Cursor::decode(junk), None, "{junk}");
        }
        // The earliest timestamptz is a valid key.
        assert_eq!(
            Cursor::decode("-210866803200000000.1").and_then(|c| c.key),
            Some(pg_min())
        );
    }

    #[test]
    fn sla_state_of_a_clock() {
        let now = Utc::now();
        let h = chrono::Duration::hours(1);
        assert_eq!(SlaState::of(None, None, now), SlaState::None);
        assert_eq!(SlaState::of(Some(now - h), None, now), SlaState::Breached);
        assert_eq!(
            SlaState::of(Some(now), Some(now - h), now),
            SlaState::Breached
        );
        assert_eq!(
            SlaState::of(Some(now + h), Some(now - h), now),
            SlaState::AtRisk
        );
        assert_eq!(
            SlaState::of(Some(now + h), Some(now + h), now),
            SlaState::OnTrack
        );
        assert_eq!(SlaState::of(Some(now + h), None, now), SlaState::OnTrack);
    }
}
