//! Read models for `claimdesk report` (one row per ticket opened in a range, with its SLA
//! clocks) and for measuring SLA state at scale (the clocks of every open ticket).
//! Read-only; nothing here writes. Rows come as a stream, so a caller can write 1,000,000
//! of them in constant memory.

use chrono::{DateTime, Utc};
use futures::stream::BoxStream;
use sqlx::{FromRow, PgConnection};

/// One ticket of the report, as stored, with the three SLA clocks' outcome columns
/// (`sla_clocks`, migrations/0012_sla.sql; all NULL when the ticket has no such clock).
#[derive(Debug, Clone, FromRow, PartialEq)]
pub struct TicketLine {
    /// Ticket number, e.g. `TICK-2026-0001`.
    pub number: String,
    /// Department name.
    pub department: String,
    /// Requester address (from a stranger).
    pub requester_email: String,
    /// Requester display name (from a stranger).
    pub requester_name: Option<String>,
    /// Subject (from a stranger).
    pub subject: String,
    /// Stored status name.
    pub status: String,
    /// Stored priority name.
    pub priority: String,
    /// Handle of the holder, if any.
    pub assignee: Option<String>,
    /// When the first message reached our server.
    pub opened_at: DateTime<Utc>,
    /// The first agent reply.
    pub first_response_at: Option<DateTime<Utc>>,
    /// Resolved (the last time).
    pub resolved_at: Option<DateTime<Utc>>,
    /// Closed.
    pub closed_at: Option<DateTime<Utc>>,
    /// First-response clock: met, breached, breach count, due (see [`ClockOutcome`]).
    #[sqlx(flatten)]
    pub first_response: FirstResponseClock,
    /// Next-response clock.
    #[sqlx(flatten)]
    pub next_response: NextResponseClock,
    /// Resolution clock.
    #[sqlx(flatten)]
    pub resolution: ResolutionClock,
    /// Its tags, alphabetically (`ticket_tags`).
    pub tags: Vec<String>,
    /// Grouped by tag ([`Range::group_by_tag`]): the tag of this row's group, `None` for the
    /// group of untagged tickets; always `None` otherwise.
    pub group_tag: Option<String>,
}

/// What the report needs of one `sla_clocks` row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ClockOutcome {
    /// Whether the row exists.
    pub present: bool,
    /// `met_at`.
    pub met_at: Option<DateTime<Utc>>,
    /// `breached_at` (the current cycle's breach alert).
    pub breached_at: Option<DateTime<Utc>>,
    /// `breaches` over the ticket's life.
    pub breaches: i32,
    /// `due_at` (NULL while paused or met).
    pub due_at: Option<DateTime<Utc>>,
}

macro_rules! clock_columns {
    ($name:ident, $prefix:literal) => {
        #[doc = concat!("The `", $prefix, "` clock's columns of a [`TicketLine`].")]
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
        pub struct $name(pub ClockOutcome);

        impl<'r> FromRow<'r, sqlx::postgres::PgRow> for $name {
            fn from_row(row: &'r sqlx::postgres::PgRow) -> Result<Self, sqlx::Error> {
                use sqlx::Row as _;
                Ok($name(ClockOutcome {
                    present: row.try_get::<bool, _>(concat!($prefix, "_present"))?,
                    met_at: row.try_get(concat!($prefix, "_met_at"))?,
                    breached_at: row.try_get(concat!($prefix, "_breached_at"))?,
                    breaches: row
                        .try_get::<Option<i32>, _>(concat!($prefix, "_breaches"))?
                        .unwrap_or(0),
                    due_at: row.try_get(concat!($prefix, "_due_at"))?,
                }))
            }
        }
    };
}

clock_columns!(FirstResponseClock, "fr");
clock_columns!(NextResponseClock, "nr");
clock_columns!(ResolutionClock, "rs");

/// Which tickets a report covers: opened in `[from, to)`, of `department` when given,
/// carrying every tag of `tags`; and whether rows are grouped by tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Range {
    /// Inclusive start.
    pub from: DateTime<Utc>,
    /// Exclusive end.
    pub to: DateTime<Utc>,
    /// Only this department (exact name) when set.
    pub department: Option<String>,
    /// Only tickets carrying every one of these tags (none: every ticket).
    pub tags: Vec<String>,
    /// One row per ticket and tag, ordered by tag (untagged tickets last, once each), then
    /// as ungrouped.
    pub group_by_tag: bool,
}

/// The report's query: tickets by `opened_at` (index `tickets_opened_at_idx`), then number;
/// each clock by its primary key; the tag filter (`$4`, every tag required) by the primary
/// key of `ticket_tags`. Its group column, join and leading sort key are the arguments:
/// nothing for the plain report, the ticket's tags (one row per tag) for the grouped one.
macro_rules! ticket_lines {
    ($group_tag:literal, $group_join:literal, $group_order:literal) => {
        concat!(
            "
SELECT t.number, t.department, t.requester_email, t.requester_name, t.subject, t.status,
       t.priority, a.handle AS assignee, t.opened_at, t.first_response_at, t.resolved_at,
       t.closed_at,
       fr.ticket_id IS NOT NULL AS fr_present, fr.met_at AS fr_met_at,
       fr.breached_at AS fr_breached_at, fr.breaches AS fr_breaches, fr.due_at AS fr_due_at,
       nr.ticket_id IS NOT NULL AS nr_present, nr.met_at AS nr_met_at,
       nr.breached_at AS nr_breached_at, nr.breaches AS nr_breaches, nr.due_at AS nr_due_at,
       rs.ticket_id IS NOT NULL AS rs_present, rs.met_at AS rs_met_at,
       rs.breached_at AS rs_breached_at, rs.breaches AS rs_breaches, rs.due_at AS rs_due_at,
       ARRAY(SELECT g.tag FROM ticket_tags g WHERE g.ticket_id = t.id ORDER BY g.tag) AS tags,
       ",
            $group_tag,
            " AS group_tag
FROM tickets t
LEFT JOIN agents a ON a.id = t.assignee_id
LEFT JOIN sla_clocks fr ON fr.ticket_id = t.id AND fr.metric = 'first_response'
LEFT JOIN sla_clocks nr ON nr.ticket_id = t.id AND nr.metric = 'next_response'
LEFT JOIN sla_clocks rs ON rs.ticket_id = t.id AND rs.metric = 'resolution'
",
            $group_join,
            "
WHERE t.opened_at >= $1 AND t.opened_at < $2 AND ($3::text IS NULL OR t.department = $3)
  AND (SELECT count(*) FROM ticket_tags f WHERE f.ticket_id = t.id AND f.tag = ANY($4::text[]))
      = cardinality($4::text[])
ORDER BY ",
            $group_order,
            " t.opened_at, t.id"
        )
    };
}

/// The plain report: one row per ticket.
const TICKET_LINES: &str = ticket_lines!("NULL::text", "", "");

/// Grouped by tag: one row per ticket and tag, by tag; an untagged ticket once, last.
const TICKET_LINES_BY_TAG: &str = ticket_lines!(
    "gt.tag",
    "LEFT JOIN ticket_tags gt ON gt.ticket_id = t.id",
    "gt.tag NULLS LAST,"
);

/// The report's query for `range`.
fn query_text(range: &Range) -> &'static str {
    if range.group_by_tag {
        TICKET_LINES_BY_TAG
    } else {
        TICKET_LINES
    }
}

/// Every ticket in `range`, oldest first, as one server-side stream (one query; rows are
/// decoded as they arrive, none are collected).
///
/// Errors (per item): the database's.
pub fn ticket_lines<'c>(
    conn: &'c mut PgConnection,
    range: &'c Range,
) -> BoxStream<'c, Result<TicketLine, sqlx::Error>> {
    sqlx::query_as::<_, TicketLine>(query_text(range))
        .bind(range.from)
        .bind(range.to)
        .bind(range.department.as_deref())
        .bind(&range.tags)
        .fetch(conn)
}

/// `EXPLAIN (ANALYZE, BUFFERS)` of the report's query over `range` and of
/// [`super::sla::open_clocks`]'s:
/// the plan lines of each, under a heading. For benchmarks and operators; runs both queries.
///
/// Errors: the database's.
pub async fn explain(conn: &mut PgConnection, range: &Range) -> Result<String, sqlx::Error> {
    let mut out = String::new();
    let report: Vec<(String,)> =
        sqlx::query_as(&format!("EXPLAIN (ANALYZE, BUFFERS) {}", query_text(range)))
            .bind(range.from)
            .bind(range.to)
            .bind(range.department.as_deref())
            .bind(&range.tags)
            .fetch_all(&mut *conn)
            .await?;
    out.push_str("-- report rows\n");
    for (line,) in report {
        out.push_str(&line);
        out.push('\n');
    }
    let clocks: Vec<(String,)> = sqlx::query_as(&format!(
        "EXPLAIN (ANALYZE, BUFFERS) {}",
        super::sla::OPEN_CLOCKS
    ))
    .fetch_all(&mut *conn)
    .await?;
    out.push_str("-- clocks of open tickets\n");
    for (line,) in clocks {
        out.push_str(&line);
        out.push('\n');
    }
    Ok(out)
}
