//! The `sla_clocks` table and the `tickets.sla_next_at` column (migrations/0012_sla.sql):
//! this file is their one writer. The clock arithmetic is `crate::domain::sla`'s; the desk
//! (`crate::desk::sla`) applies it and hands the results here, with each clock's due and
//! warning moments and the ticket's next moment already computed.
//!
//! Every function is set-based: one statement per table whatever the number of tickets.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use sqlx::PgConnection;

use crate::domain::sla::{Clock, Clocks, Goal, Metric};

/// The channel [`save_many`] notifies (at commit) when a ticket's next SLA moment becomes
/// earlier than it was (or appears): the scheduler (`crate::app`) waits on it.
pub const CHANNEL: &str = "claimdesk_sla";

/// One clock to store, with its moments as the domain computed them.
#[derive(Debug, Clone, PartialEq)]
pub struct ClockRow {
    /// The clock.
    pub clock: Clock,
    /// When its goal is reached if it keeps running (`Clock::due`); `None` paused or met.
    pub due_at: Option<DateTime<Utc>>,
    /// When its warning is due (`Clock::warn_at`); `None` paused or met.
    pub warn_at: Option<DateTime<Utc>>,
}

/// The SLA state of one ticket to store with [`save_many`].
#[derive(Debug, Clone, PartialEq)]
pub struct TicketClocks {
    /// `tickets.id`.
    pub ticket_id: i64,
    /// All its clocks (at most one per metric): rows of metrics not named are deleted.
    pub clocks: Vec<ClockRow>,
    /// The earliest warning or breach not yet alerted (`Clocks::next_moment`), stored in
    /// `tickets.sla_next_at`; `None`: nothing pending.
    pub next_at: Option<DateTime<Utc>>,
}

/// One `sla_clocks` row as read (the columns of [`load_many`] and [`open_clocks`]).
#[derive(sqlx::FromRow)]
struct Record {
    ticket_id: i64,
    metric: String,
    goal_secs: i64,
    business: bool,
    started_at: DateTime<Utc>,
    consumed_secs: i64,
    running_since: Option<DateTime<Utc>>,
    met_at: Option<DateTime<Utc>>,
    warned_at: Option<DateTime<Utc>>,
    breached_at: Option<DateTime<Utc>>,
    breaches: i32,
}

/// A [`Record`] with its ticket's department ([`open_clocks`]).
#[derive(sqlx::FromRow)]
struct OpenRecord {
    #[sqlx(flatten)]
    clock: Record,
    department: String,
}

fn from_row(r: Record) -> Result<(i64, Clock), sqlx::Error> {
    let metric = Metric::parse(&r.metric)
        .ok_or_else(|| sqlx::Error::Decode(format!("unknown SLA metric `{}`", r.metric).into()))?;
    Ok((
        r.ticket_id,
        Clock {
            metric,
            goal: Goal {
                within: Duration::seconds(r.goal_secs),
                business: r.business,
            },
            started_at: r.started_at,
            consumed: Duration::seconds(r.consumed_secs),
            running_since: r.running_since,
            met_at: r.met_at,
            warned_at: r.warned_at,
            breached_at: r.breached_at,
            breaches: r.breaches,
        },
    ))
}

/// The clocks of each of `ticket_ids`, for a caller that will change them: the tickets' rows
/// are locked (`FOR UPDATE`, held to the end of the caller's transaction) and the clocks
/// read in one query. Tickets without clocks are absent from the map; clocks come in the
/// order of [`Metric::ALL`].
///
/// Errors: the database's, or a stored metric this build does not know
/// ([`sqlx::Error::Decode`]).
pub async fn load_many(
    conn: &mut PgConnection,
    ticket_ids: &[i64],
) -> Result<HashMap<i64, Clocks>, sqlx::Error> {
    let mut out: HashMap<i64, Clocks> = HashMap::new();
    if ticket_ids.is_empty() {
        return Ok(out);
    }
    // The caller reads, changes and writes back these clocks in its transaction: lock the
    // tickets first (in id order, so two writers never wait on each other crosswise), so the
    // scheduler (`due_tickets`, `FOR UPDATE SKIP LOCKED`) cannot mark an alert on them in
    // between, and a writer never saves clocks another has changed since it read them.
    sqlx::query("SELECT 1 FROM tickets WHERE id = ANY($1) ORDER BY id FOR UPDATE")
        .bind(ticket_ids)
        .execute(&mut *conn)
        .await?;
    let rows: Vec<Record> = sqlx::query_as(
        "SELECT s.ticket_id, s.metric, s.goal_secs, s.business, s.started_at, s.consumed_secs,
                s.running_since, s.met_at, s.warned_at, s.breached_at, s.breaches
         FROM sla_clocks s JOIN unnest($1::bigint[]) AS x(id) ON s.ticket_id = x.id",
    )
    .bind(ticket_ids)
    .fetch_all(&mut *conn)
    .await?;
    for r in rows {
        let (id, clock) = from_row(r)?;
        out.entry(id).or_default().0.push(clock);
    }
    for c in out.values_mut() {
        c.0.sort_by_key(|c| c.metric);
    }
    Ok(out)
}

/// Up to `limit` tickets not done (open, claimed, in progress, waiting, pending assignment)
/// with an unmet clock and an id above `after`, ascending: the pages of a walk over every
/// running SLA.
///
/// Errors: the database's.
pub async fn unmet_ticket_ids(
    conn: &mut PgConnection,
    after: i64,
    limit: i64,
) -> Result<Vec<i64>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT DISTINCT c.ticket_id FROM sla_clocks c JOIN tickets t ON t.id = c.ticket_id
         WHERE c.ticket_id > $1 AND c.met_at IS NULL
           AND t.status IN ('open', 'claimed', 'in_progress', 'waiting', 'pending_assignment')
         ORDER BY c.ticket_id LIMIT $2",
    )
    .bind(after)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await
}

/// The query of [`open_clocks`] (also shown by `store::report::explain`).
pub(crate) const OPEN_CLOCKS: &str = "
SELECT c.ticket_id, c.metric, c.goal_secs, c.business, c.started_at, c.consumed_secs,
       c.running_since, c.met_at, c.warned_at, c.breached_at, c.breaches, t.department
FROM sla_clocks c
JOIN tickets t ON t.id = c.ticket_id
WHERE c.met_at IS NULL AND c.due_at IS NOT NULL
  AND t.status IN ('open', 'claimed', 'in_progress', 'waiting', 'pending_assignment')
ORDER BY c.ticket_id, c.metric";

/// The running clocks (not met, not paused: `due_at` set) of every ticket that is not done
/// (open, claimed, in progress, waiting, pending assignment), each with its ticket's id and
/// department (for the working hours), ordered by ticket and then metric ([`Metric::ALL`]
/// order): one server-side stream, rows decoded as they arrive. Met and paused clocks are
/// left out: they have no due time, so they change neither a ticket's headline nor its next
/// moment.
///
/// Errors (per item): the database's, or a stored metric this build does not know
/// ([`sqlx::Error::Decode`]).
pub fn open_clocks(
    conn: &mut PgConnection,
) -> futures::stream::BoxStream<'_, Result<(i64, String, Clock), sqlx::Error>> {
    use futures::StreamExt;
    sqlx::query_as::<_, OpenRecord>(OPEN_CLOCKS)
        .fetch(conn)
        .map(|r| {
            let r = r?;
            let (id, clock) = from_row(r.clock)?;
            Ok((id, r.department, clock))
        })
        .boxed()
}

/// Stores the clocks and the next moment of each ticket of `tickets` (at most one entry per
/// ticket, with all its clocks): rows of metrics a ticket no longer has are deleted (a policy
/// change can drop a clock), the others upserted by `(ticket_id, metric)`,
/// `tickets.sla_next_at` set, and when any ticket's next moment became earlier (or appeared)
/// the scheduler is woken (`NOTIFY` [`CHANNEL`], delivered at commit). Four statements at
/// most.
///
/// Errors: the database's (e.g. a goal of zero seconds violates `goal_secs > 0`).
pub async fn save_many(
    conn: &mut PgConnection,
    tickets: &[TicketClocks],
) -> Result<(), sqlx::Error> {
    if tickets.is_empty() {
        return Ok(());
    }
    let rows: Vec<(i64, &ClockRow)> = tickets
        .iter()
        .flat_map(|t| t.clocks.iter().map(move |c| (t.ticket_id, c)))
        .collect();
    {
        let of: Vec<i64> = tickets.iter().map(|t| t.ticket_id).collect();
        let kept_ids: Vec<i64> = rows.iter().map(|r| r.0).collect();
        let kept_metrics: Vec<&str> = rows.iter().map(|r| r.1.clock.metric.as_str()).collect();
        sqlx::query(
            "DELETE FROM sla_clocks c USING unnest($1::bigint[]) AS t(id)
             WHERE c.ticket_id = t.id
               AND NOT EXISTS (SELECT 1 FROM unnest($2::bigint[], $3::text[]) AS k(id, metric)
                               WHERE k.id = c.ticket_id AND k.metric = c.metric)",
        )
        .bind(&of)
        .bind(&kept_ids)
        .bind(&kept_metrics)
        .execute(&mut *conn)
        .await?;
    }
    if !rows.is_empty() {
        let ids: Vec<i64> = rows.iter().map(|r| r.0).collect();
        let metrics: Vec<&str> = rows.iter().map(|r| r.1.clock.metric.as_str()).collect();
        let goals: Vec<i64> = rows
            .iter()
            .map(|r| r.1.clock.goal.within.num_seconds())
            .collect();
        let business: Vec<bool> = rows.iter().map(|r| r.1.clock.goal.business).collect();
        let started: Vec<DateTime<Utc>> = rows.iter().map(|r| r.1.clock.started_at).collect();
        let consumed: Vec<i64> = rows
            .iter()
            .map(|r| r.1.clock.consumed.num_seconds().max(0))
            .collect();
        let running: Vec<Option<DateTime<Utc>>> =
            rows.iter().map(|r| r.1.clock.running_since).collect();
        let due: Vec<Option<DateTime<Utc>>> = rows.iter().map(|r| r.1.due_at).collect();
        let warn: Vec<Option<DateTime<Utc>>> = rows.iter().map(|r| r.1.warn_at).collect();
        let met: Vec<Option<DateTime<Utc>>> = rows.iter().map(|r| r.1.clock.met_at).collect();
        let warned: Vec<Option<DateTime<Utc>>> = rows.iter().map(|r| r.1.clock.warned_at).collect();
        let breached: Vec<Option<DateTime<Utc>>> =
            rows.iter().map(|r| r.1.clock.breached_at).collect();
        let breaches: Vec<i32> = rows.iter().map(|r| r.1.clock.breaches).collect();
        sqlx::query(
            "INSERT INTO sla_clocks (ticket_id, metric, goal_secs, business, started_at,
                 consumed_secs, running_since, due_at, warn_at, met_at, warned_at, breached_at,
                 breaches, updated_at)
             SELECT *, now() FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::bool[],
                 $5::timestamptz[], $6::bigint[], $7::timestamptz[], $8::timestamptz[],
                 $9::timestamptz[], $10::timestamptz[], $11::timestamptz[], $12::timestamptz[],
                 $13::int[])
             ON CONFLICT (ticket_id, metric) DO UPDATE SET goal_secs = EXCLUDED.goal_secs,
                 business = EXCLUDED.business, started_at = EXCLUDED.started_at,
                 consumed_secs = EXCLUDED.consumed_secs, running_since = EXCLUDED.running_since,
                 due_at = EXCLUDED.due_at, warn_at = EXCLUDED.warn_at, met_at = EXCLUDED.met_at,
                 warned_at = EXCLUDED.warned_at, breached_at = EXCLUDED.breached_at,
                 breaches = EXCLUDED.breaches, updated_at = now()",
        )
        .bind(&ids)
        .bind(&metrics)
        .bind(&goals)
        .bind(&business)
        .bind(&started)
        .bind(&consumed)
        .bind(&running)
        .bind(&due)
        .bind(&warn)
        .bind(&met)
        .bind(&warned)
        .bind(&breached)
        .bind(&breaches)
        .execute(&mut *conn)
        .await?;
    }
    let ids: Vec<i64> = tickets.iter().map(|t| t.ticket_id).collect();
    let next: Vec<Option<DateTime<Utc>>> = tickets.iter().map(|t| t.next_at).collect();
    // `o` is the row before the update (the statement's snapshot): whether any moment got
    // earlier decides the wake-up.
    let earlier: Vec<(bool,)> = sqlx::query_as(
        "UPDATE tickets t SET sla_next_at = u.n
         FROM (SELECT x.id, x.n, o.sla_next_at AS old
               FROM unnest($1::bigint[], $2::timestamptz[]) AS x(id, n)
               JOIN tickets o ON o.id = x.id) AS u
         WHERE t.id = u.id AND t.sla_next_at IS DISTINCT FROM u.n
         RETURNING (u.n IS NOT NULL AND (u.old IS NULL OR u.n < u.old))",
    )
    .bind(&ids)
    .bind(&next)
    .fetch_all(&mut *conn)
    .await?;
    if earlier.iter().any(|e| e.0) {
        sqlx::query("SELECT pg_notify($1, '')")
            .bind(CHANNEL)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Up to `limit` tickets whose next SLA moment is at or before `now`, earliest first, locked
/// for the caller's transaction (tickets other transactions hold are skipped, so several
/// schedulers share the work and none alerts twice).
///
/// Errors: the database's.
pub async fn due_tickets(
    conn: &mut PgConnection,
    now: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<i64>, sqlx::Error> {
    let rows: Vec<(i64,)> = sqlx::query_as(
        "SELECT id FROM tickets WHERE sla_next_at <= $1
         ORDER BY sla_next_at, id LIMIT $2 FOR UPDATE SKIP LOCKED",
    )
    .bind(now)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows.into_iter().map(|r| r.0).collect())
}

/// The earliest pending SLA moment of any ticket (`min(tickets.sla_next_at)`), `None` when
/// nothing is pending: when the scheduler must wake next.
///
/// Errors: the database's.
pub async fn earliest(conn: &mut PgConnection) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
    let (at,): (Option<DateTime<Utc>>,) =
        sqlx::query_as("SELECT min(sla_next_at) FROM tickets WHERE sla_next_at IS NOT NULL")
            .fetch_one(&mut *conn)
            .await?;
    Ok(at)
}

/// A connection listening on [`CHANNEL`] (`LISTEN`): the scheduler wakes on it when a
/// ticket's next moment becomes earlier than what it sleeps towards.
///
/// Errors: the connection or the `LISTEN` failed (the scheduler then wakes at least every
/// minute and tries again).
pub async fn listen(pool: &sqlx::PgPool) -> Result<sqlx::postgres::PgListener, sqlx::Error> {
    let mut l = sqlx::postgres::PgListener::connect_with(pool).await?;
    l.listen(CHANNEL).await?;
    Ok(l)
}
