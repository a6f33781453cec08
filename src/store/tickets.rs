//! The `tickets` and `ticket_counters` tables.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use crate::domain::{Priority, Status, TicketNumber};

/// A ticket as stored, with its holder's handle joined in.
#[derive(Debug, Clone)]
pub struct Ticket {
    /// Row id.
    pub id: i64,
    /// `TICK-2026-0001`.
    pub number: String,
    /// Current status.
    pub status: Status,
    /// Holder's agent id.
    pub assignee_id: Option<i64>,
    /// Holder's handle.
    pub assignee_handle: Option<String>,
    /// Customer address (the first message's From).
    pub requester_email: String,
    /// Customer display name.
    pub requester_name: Option<String>,
    /// Subject of the first message.
    pub subject: String,
    /// Mailbox it came in through.
    pub mailbox: String,
    /// Ticket this one was merged into.
    pub merged_into: Option<i64>,
    /// When it was stored.
    pub created_at: DateTime<Utc>,
    /// When its first message reached our server (IMAP INTERNALDATE): when it was opened,
    /// as people are shown and where SLA time and reports start.
    pub opened_at: DateTime<Utc>,
    /// When it was last claimed.
    pub claimed_at: Option<DateTime<Utc>>,
    /// Priority.
    pub priority: Priority,
    /// Department.
    pub department: String,
    /// When it was resolved (cleared on reopen).
    pub resolved_at: Option<DateTime<Utc>>,
    /// When it was closed (cleared on reopen).
    pub closed_at: Option<DateTime<Utc>>,
}

/// A row of [`SELECT`] (columns by name).
#[derive(sqlx::FromRow)]
struct Row {
    id: i64,
    number: String,
    status: String,
    assignee_id: Option<i64>,
    handle: Option<String>,
    requester_email: String,
    requester_name: Option<String>,
    subject: String,
    mailbox: String,
    merged_into: Option<i64>,
    created_at: DateTime<Utc>,
    claimed_at: Option<DateTime<Utc>>,
    priority: String,
    department: String,
    resolved_at: Option<DateTime<Utc>>,
    closed_at: Option<DateTime<Utc>>,
    opened_at: DateTime<Utc>,
}

const SELECT: &str = "SELECT t.id, t.number, t.status, t.assignee_id, a.handle, t.requester_email,
        t.requester_name, t.subject, t.mailbox, t.merged_into, t.created_at, t.claimed_at,
        t.priority, t.department, t.resolved_at, t.closed_at, t.opened_at
    FROM tickets t LEFT JOIN agents a ON a.id = t.assignee_id";

/// SQL ranking priorities for the pending queue: urgent first.
const PRIORITY_RANK: &str =
    "CASE t.priority WHEN 'urgent' THEN 0 WHEN 'high' THEN 1 WHEN 'medium' THEN 2 ELSE 3 END";

fn from_row(r: Row) -> Result<Ticket, sqlx::Error> {
    Ok(Ticket {
        id: r.id,
        number: r.number,
        status: r
            .status
            .parse()
            .map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
        assignee_id: r.assignee_id,
        assignee_handle: r.handle,
        requester_email: r.requester_email,
        requester_name: r.requester_name,
        subject: r.subject,
        mailbox: r.mailbox,
        merged_into: r.merged_into,
        created_at: r.created_at,
        claimed_at: r.claimed_at,
        priority: r
            .priority
            .parse()
            .map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
        department: r.department,
        resolved_at: r.resolved_at,
        closed_at: r.closed_at,
        opened_at: r.opened_at,
    })
}

/// A ticket to insert.
#[derive(Debug, Clone)]
pub struct NewTicket<'a> {
    /// Its number (from [`next_number`]).
    pub number: &'a TicketNumber,
    /// Customer address.
    pub requester_email: &'a str,
    /// Customer name.
    pub requester_name: Option<&'a str>,
    /// Subject.
    pub subject: &'a str,
    /// Mailbox name.
    pub mailbox: &'a str,
    /// Department.
    pub department: &'a str,
    /// Priority.
    pub priority: Priority,
    /// When its first message reached our server; `None`: when it is stored.
    pub opened_at: Option<DateTime<Utc>>,
}

/// A ticket row for [`insert_many`]: an open, unclaimed ticket whose id was taken up front
/// ([`reserve_ids`]) so rows inserted with it can name it.
#[derive(Debug, Clone)]
pub struct TicketRow {
    /// Row id, from `tickets_id_seq`.
    pub id: i64,
    /// `TICK-2026-0001`.
    pub number: String,
    /// The number's year.
    pub year: i32,
    /// The number's sequence within its year.
    pub seq: i32,
    /// Customer address.
    pub requester_email: String,
    /// Customer name.
    pub requester_name: Option<String>,
    /// Subject.
    pub subject: String,
    /// Mailbox name.
    pub mailbox: String,
    /// Department.
    pub department: String,
    /// Priority.
    pub priority: Priority,
    /// The ticket this one was opened naming (see [`set_linked`]).
    pub linked: Option<i64>,
    /// When its first message reached our server; `None`: when it is stored.
    pub opened_at: Option<DateTime<Utc>>,
}

impl TicketRow {
    /// The row of ticket `t` with id `id`, linked to `linked`.
    pub fn new(id: i64, t: &NewTicket<'_>, linked: Option<i64>) -> TicketRow {
        TicketRow {
            id,
            number: t.number.to_string(),
            year: t.number.year(),
            seq: t.number.seq(),
            requester_email: t.requester_email.to_string(),
            requester_name: t.requester_name.map(str::to_string),
            subject: t.subject.to_string(),
            mailbox: t.mailbox.to_string(),
            department: t.department.to_string(),
            priority: t.priority,
            linked,
            opened_at: t.opened_at,
        }
    }
}

/// Takes `n` ids of `tickets_id_seq` in one query, ascending.
///
/// Errors: the database's.
pub async fn reserve_ids(conn: &mut PgConnection, n: usize) -> Result<Vec<i64>, sqlx::Error> {
    let rows: Vec<(i64,)> =
        sqlx::query_as("SELECT nextval('tickets_id_seq') FROM generate_series(1, $1)")
            .bind(i32::try_from(n).unwrap_or(i32::MAX))
            .fetch_all(&mut *conn)
            .await?;
    Ok(rows.into_iter().map(|r| r.0).collect())
}

/// Inserts `rows` as open, unclaimed tickets created (and updated) `at` (`None`: the
/// transaction's `now()`) and opened at their `opened_at` (`None`: created), one statement
/// whatever their number.
///
/// Errors: the database's (e.g. a number or id already taken).
pub async fn insert_many(
    conn: &mut PgConnection,
    rows: &[TicketRow],
    at: Option<DateTime<Utc>>,
) -> Result<(), sqlx::Error> {
    if rows.is_empty() {
        return Ok(());
    }
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let numbers: Vec<&str> = rows.iter().map(|r| r.number.as_str()).collect();
    let years: Vec<i32> = rows.iter().map(|r| r.year).collect();
    let seqs: Vec<i32> = rows.iter().map(|r| r.seq).collect();
    let requesters: Vec<&str> = rows.iter().map(|r| r.requester_email.as_str()).collect();
    let names: Vec<Option<&str>> = rows.iter().map(|r| r.requester_name.as_deref()).collect();
    let subjects: Vec<&str> = rows.iter().map(|r| r.subject.as_str()).collect();
    let mailboxes: Vec<&str> = rows.iter().map(|r| r.mailbox.as_str()).collect();
    let departments: Vec<&str> = rows.iter().map(|r| r.department.as_str()).collect();
    let priorities: Vec<&str> = rows.iter().map(|r| r.priority.as_str()).collect();
    let linked: Vec<Option<i64>> = rows.iter().map(|r| r.linked).collect();
    let opened: Vec<Option<DateTime<Utc>>> = rows.iter().map(|r| r.opened_at).collect();
    sqlx::query(
        "INSERT INTO tickets (id, number, year, seq, status, requester_email, requester_name,
             subject, mailbox, department, priority, linked_ticket, created_at, updated_at,
             opened_at)
         SELECT id, number, year, seq, $12, requester, name, subject, mailbox, department,
             priority, linked, COALESCE($13::timestamptz, now()), COALESCE($13::timestamptz, now()),
             COALESCE(opened, $13::timestamptz, now())
         FROM unnest($1::bigint[], $2::text[], $3::int[], $4::int[], $5::text[], $6::text[],
                     $7::text[], $8::text[], $9::text[], $10::text[], $11::bigint[],
                     $14::timestamptz[])
             AS u(id, number, year, seq, requester, name, subject, mailbox, department,
                  priority, linked, opened)",
    )
    .bind(&ids)
    .bind(&numbers)
    .bind(&years)
    .bind(&seqs)
    .bind(&requesters)
    .bind(&names)
    .bind(&subjects)
    .bind(&mailboxes)
    .bind(&departments)
    .bind(&priorities)
    .bind(&linked)
    .bind(Status::Open.as_str())
    .bind(at)
    .bind(&opened)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The last number taken in `year`'s sequence (`ticket_counters`; 0 for a new year), with
/// the counter row locked until the transaction ends, so numbers have no gaps.
///
/// Errors: the database's.
pub async fn lock_counter(conn: &mut PgConnection, year: i32) -> Result<i32, sqlx::Error> {
    let (v,): (i32,) = sqlx::query_as(
        "INSERT INTO ticket_counters (year, last_value) VALUES ($1, 0)
         ON CONFLICT (year) DO UPDATE SET last_value = ticket_counters.last_value
         RETURNING last_value",
    )
    .bind(year)
    .fetch_one(&mut *conn)
    .await?;
    Ok(v)
}

/// Sets the last number taken of each `(year, value)` (rows locked by [`lock_counter`]).
///
/// Errors: the database's.
pub async fn set_counters(
    conn: &mut PgConnection,
    counters: &[(i32, i32)],
) -> Result<(), sqlx::Error> {
    if counters.is_empty() {
        return Ok(());
    }
    let (years, values): (Vec<i32>, Vec<i32>) = counters.iter().copied().unzip();
    sqlx::query(
        "UPDATE ticket_counters c SET last_value = u.v
         FROM unnest($1::int[], $2::int[]) AS u(y, v) WHERE c.year = u.y",
    )
    .bind(&years)
    .bind(&values)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The ticket with this number.
pub async fn by_number(
    conn: &mut PgConnection,
    number: &str,
) -> Result<Option<Ticket>, sqlx::Error> {
    let sql = format!("{SELECT} WHERE t.number = $1");
    let row: Option<Row> = sqlx::query_as(&sql)
        .bind(number)
        .fetch_optional(&mut *conn)
        .await?;
    row.map(from_row).transpose()
}

/// The ticket with this id.
pub async fn by_id(conn: &mut PgConnection, id: i64) -> Result<Option<Ticket>, sqlx::Error> {
    let sql = format!("{SELECT} WHERE t.id = $1");
    let row: Option<Row> = sqlx::query_as(&sql)
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    row.map(from_row).transpose()
}

/// The tickets with these ids (those that exist), in no particular order.
pub async fn by_ids(conn: &mut PgConnection, ids: &[i64]) -> Result<Vec<Ticket>, sqlx::Error> {
    // A join with unnest: index lookups even under a generic plan.
    let sql = format!("{SELECT} JOIN unnest($1::bigint[]) AS x(id) ON t.id = x.id");
    let rows: Vec<Row> = sqlx::query_as(&sql).bind(ids).fetch_all(&mut *conn).await?;
    rows.into_iter().map(from_row).collect()
}

/// Locks the ticket row for the rest of the transaction and returns it.
pub async fn lock(conn: &mut PgConnection, id: i64) -> Result<Option<Ticket>, sqlx::Error> {
    sqlx::query("SELECT id FROM tickets WHERE id = $1 FOR UPDATE")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    by_id(conn, id).await
}

/// Every ticket, oldest first.
pub async fn list(conn: &mut PgConnection) -> Result<Vec<Ticket>, sqlx::Error> {
    let sql = format!("{SELECT} ORDER BY t.id");
    let rows: Vec<Row> = sqlx::query_as(&sql).fetch_all(&mut *conn).await?;
    rows.into_iter().map(from_row).collect()
}

/// The SLA clock a ticket shows (its "headline"): of its clocks not yet met that have a due
/// time (`sla_clocks`, written by the SLA use cases), the one due first.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SlaDue {
    /// `first_response`, `next_response` or `resolution` (`sla_clocks.metric`).
    pub metric: String,
    /// When its goal is reached, or was (`sla_clocks.due_at`); breached once it is past.
    pub due_at: DateTime<Utc>,
}

/// The clocks [`SlaDue`] picks from: unmet and due some time. Paused or stopped clocks have
/// no due time.
const UNMET_DUE: &str = "c.met_at IS NULL AND c.due_at IS NOT NULL";

/// The headline SLA clock ([`SlaDue`]) of ticket `id`; `None` when no unmet clock has a due
/// time (no SLA, every goal met, or paused).
///
/// Errors: the database's.
pub async fn sla_headline(conn: &mut PgConnection, id: i64) -> Result<Option<SlaDue>, sqlx::Error> {
    let sql = format!(
        "SELECT c.metric, c.due_at FROM sla_clocks c WHERE c.ticket_id = $1 AND {UNMET_DUE}
         ORDER BY c.due_at, c.metric LIMIT 1"
    );
    let row: Option<(String, DateTime<Utc>)> = sqlx::query_as(&sql)
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    Ok(row.map(|(metric, due_at)| SlaDue { metric, due_at }))
}

/// The headline SLA clock ([`SlaDue`]) of every ticket that has one, by ticket id, in one
/// query (for listings).
///
/// Errors: the database's.
pub async fn sla_headlines(conn: &mut PgConnection) -> Result<Vec<(i64, SlaDue)>, sqlx::Error> {
    let sql = format!(
        "SELECT DISTINCT ON (c.ticket_id) c.ticket_id, c.metric, c.due_at FROM sla_clocks c
         WHERE {UNMET_DUE} ORDER BY c.ticket_id, c.due_at, c.metric"
    );
    let rows: Vec<(i64, String, DateTime<Utc>)> =
        sqlx::query_as(&sql).fetch_all(&mut *conn).await?;
    Ok(rows
        .into_iter()
        .map(|(id, metric, due_at)| (id, SlaDue { metric, due_at }))
        .collect())
}

/// First write wins: gives the ticket to `agent_id` only if nobody holds it and its status is
/// one of `from` (the statuses the status machine lets be claimed). One UPDATE, so of many
/// concurrent claimers exactly one sees `true`.
pub async fn try_claim(
    conn: &mut PgConnection,
    id: i64,
    agent_id: i64,
    from: &[&str],
    to: Status,
) -> Result<bool, sqlx::Error> {
    // The statuses that may be claimed are open and pending_assignment, without a holder:
    // [`STATE_RULES`] stamps the claim and leaves nothing else to clear.
    let sql = format!(
        "UPDATE tickets t SET {STATE_RULES}
         FROM (SELECT $2::bigint AS a, $4::text AS st, now() AS at) AS u
         WHERE t.id = $1 AND t.assignee_id IS NULL AND t.status = ANY($3)"
    );
    let r = sqlx::query(&sql)
        .bind(id)
        .bind(agent_id)
        .bind(from)
        .bind(to.as_str())
        .execute(&mut *conn)
        .await?;
    Ok(r.rows_affected() == 1)
}

/// The status timestamps, decided once for every statement that changes a ticket's status
/// or holder ([`set_states`], [`try_claim`]): the assignments of an `UPDATE tickets t … FROM
/// … AS u` where `u.st` is the new status, `u.a` the new holder and `u.at` the time of the
/// change, and `t` the row before it.
/// - `updated_at`: the change's time;
/// - `claimed_at`, `holder_active_at`: the change's time for a new holder, kept for the same
///   holder, cleared without one; `release_warned_at` cleared for a new holder;
/// - `resolved_at`: set once on `resolved`, kept on `closed` and `merged`, else cleared (a
///   reopen);
/// - `closed_at`: set once on `closed`, kept on `merged`, else cleared.
pub const STATE_RULES: &str = "status = u.st, assignee_id = u.a, updated_at = u.at,
    claimed_at = CASE WHEN u.a IS NULL THEN NULL
                      WHEN t.assignee_id IS DISTINCT FROM u.a THEN u.at
                      ELSE t.claimed_at END,
    holder_active_at = CASE WHEN u.a IS NULL THEN NULL
                            WHEN t.assignee_id IS DISTINCT FROM u.a THEN u.at
                            ELSE t.holder_active_at END,
    release_warned_at = CASE WHEN t.assignee_id IS DISTINCT FROM u.a THEN NULL
                             ELSE t.release_warned_at END,
    resolved_at = CASE WHEN u.st = 'resolved' THEN COALESCE(t.resolved_at, u.at)
                       WHEN u.st IN ('closed', 'merged') THEN t.resolved_at ELSE NULL END,
    closed_at = CASE WHEN u.st = 'closed' THEN COALESCE(t.closed_at, u.at)
                     WHEN u.st = 'merged' THEN t.closed_at ELSE NULL END";

/// One status change for [`set_states`]: ticket `id` goes to `status` held by `assignee_id`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StateChange {
    /// Ticket row id.
    pub id: i64,
    /// The status the domain decided.
    pub status: Status,
    /// The holder afterwards (`None`: nobody).
    pub assignee_id: Option<i64>,
}

/// Sets status and holder (call with the row locked, after the domain decided). Keeps the
/// timestamps consistent: a new holder gets a fresh claim time; `resolved` sets resolved_at,
/// `closed` sets closed_at, any other status clears both (a reopen). One row of
/// [`set_states`].
///
/// Errors: the database's.
pub async fn set_state(
    conn: &mut PgConnection,
    id: i64,
    status: Status,
    assignee_id: Option<i64>,
) -> Result<(), sqlx::Error> {
    set_states(
        conn,
        &[StateChange {
            id,
            status,
            assignee_id,
        }],
        None,
    )
    .await
}

/// Applies `changes` (at most one per ticket) in one statement, as happening `at` (`None`:
/// the transaction's `now()`; ingest passes the desk's clock). The timestamps follow
/// [`STATE_RULES`], the one place they are decided.
///
/// Errors: the database's.
pub async fn set_states(
    conn: &mut PgConnection,
    changes: &[StateChange],
    at: Option<DateTime<Utc>>,
) -> Result<(), sqlx::Error> {
    if changes.is_empty() {
        return Ok(());
    }
    let ids: Vec<i64> = changes.iter().map(|c| c.id).collect();
    let statuses: Vec<&str> = changes.iter().map(|c| c.status.as_str()).collect();
    let holders: Vec<Option<i64>> = changes.iter().map(|c| c.assignee_id).collect();
    let sql = format!(
        "UPDATE tickets t SET {STATE_RULES}
         FROM (SELECT id, st, a, COALESCE($4::timestamptz, now()) AS at
               FROM unnest($1::bigint[], $2::text[], $3::bigint[]) AS x(id, st, a)) AS u
         WHERE t.id = u.id"
    );
    sqlx::query(&sql)
        .bind(&ids)
        .bind(&statuses)
        .bind(&holders)
        .bind(at)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Records an outgoing reply: the first response time (once), and activity of the holder
/// (which resets the auto-release clock).
pub async fn mark_response(conn: &mut PgConnection, id: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE tickets SET first_response_at = COALESCE(first_response_at, now()),
             holder_active_at = now(), release_warned_at = NULL WHERE id = $1",
    )
    .bind(id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Marks `id` as merged into `into`.
pub async fn mark_merged(conn: &mut PgConnection, id: i64, into: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE tickets SET status = $3, merged_into = $2, assignee_id = NULL, updated_at = now() WHERE id = $1",
    )
    .bind(id)
    .bind(into)
    .bind(Status::Merged.as_str())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Sets the priority.
pub async fn set_priority(
    conn: &mut PgConnection,
    id: i64,
    p: Priority,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE tickets SET priority = $2, updated_at = now() WHERE id = $1")
        .bind(id)
        .bind(p.as_str())
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// The next ticket of `department` waiting for assignment — urgent first, then oldest — locked
/// for the caller's transaction (others skip it).
pub async fn next_pending(
    conn: &mut PgConnection,
    department: &str,
) -> Result<Option<i64>, sqlx::Error> {
    let sql = format!(
        "SELECT t.id FROM tickets t WHERE t.status = 'pending_assignment' AND t.department = $1
         ORDER BY {PRIORITY_RANK}, t.created_at, t.id LIMIT 1 FOR UPDATE SKIP LOCKED"
    );
    let row: Option<(i64,)> = sqlx::query_as(&sql)
        .bind(department)
        .fetch_optional(&mut *conn)
        .await?;
    Ok(row.map(|r| r.0))
}

/// Ids of the tickets `agent_id` holds, oldest first.
pub async fn held_by(conn: &mut PgConnection, agent_id: i64) -> Result<Vec<i64>, sqlx::Error> {
    let rows: Vec<(i64,)> =
        sqlx::query_as("SELECT id FROM tickets WHERE assignee_id = $1 ORDER BY id")
            .bind(agent_id)
            .fetch_all(&mut *conn)
            .await?;
    Ok(rows.into_iter().map(|r| r.0).collect())
}

/// Held, unfinished tickets whose holder has been inactive since before `before`:
/// `(id, warned)` where `warned` says whether the holder was already warned.
pub async fn inactive_claims(
    conn: &mut PgConnection,
    before: DateTime<Utc>,
) -> Result<Vec<(i64, Option<DateTime<Utc>>)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, release_warned_at FROM tickets
         WHERE assignee_id IS NOT NULL AND status IN ('claimed', 'in_progress', 'waiting')
           AND COALESCE(holder_active_at, claimed_at, updated_at) < $1 ORDER BY id",
    )
    .bind(before)
    .fetch_all(&mut *conn)
    .await
}

/// Records that the holder was warned about inactivity, unless they already were. True when
/// this call marked it: the caller then posts the warning in the same transaction, so two
/// sweeps (two replicas) never warn twice for one claim.
pub async fn mark_release_warned(conn: &mut PgConnection, id: i64) -> Result<bool, sqlx::Error> {
    let r = sqlx::query(
        "UPDATE tickets SET release_warned_at = now() WHERE id = $1 AND release_warned_at IS NULL",
    )
    .bind(id)
    .execute(&mut *conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// When the holder of ticket `id` was warned about inactivity (`None`: not warned, or no
/// such ticket). Read under the ticket's row lock, it is the current word, not a list's.
pub async fn release_warned_at(
    conn: &mut PgConnection,
    id: i64,
) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
    let row: Option<(Option<DateTime<Utc>>,)> =
        sqlx::query_as("SELECT release_warned_at FROM tickets WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?;
    Ok(row.and_then(|r| r.0))
}

/// Adds addresses to the ticket's participants (one row of [`add_participants_many`] each).
///
/// Errors: the database's.
pub async fn add_participants(
    conn: &mut PgConnection,
    id: i64,
    emails: &[String],
) -> Result<(), sqlx::Error> {
    let rows: Vec<(i64, String)> = emails.iter().map(|e| (id, e.clone())).collect();
    add_participants_many(conn, &rows).await
}

/// Adds each `(ticket id, address)` to `ticket_participants` (known ones are kept once).
///
/// Errors: the database's.
pub async fn add_participants_many(
    conn: &mut PgConnection,
    rows: &[(i64, String)],
) -> Result<(), sqlx::Error> {
    if rows.is_empty() {
        return Ok(());
    }
    let (tickets, emails): (Vec<i64>, Vec<&str>) =
        rows.iter().map(|(t, e)| (*t, e.as_str())).unzip();
    sqlx::query(
        "INSERT INTO ticket_participants (ticket_id, email)
         SELECT * FROM unnest($1::bigint[], $2::text[]) ON CONFLICT DO NOTHING",
    )
    .bind(&tickets)
    .bind(&emails)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The ticket's participants, sorted.
pub async fn participants(conn: &mut PgConnection, id: i64) -> Result<Vec<String>, sqlx::Error> {
    let rows: Vec<(String,)> =
        sqlx::query_as("SELECT email FROM ticket_participants WHERE ticket_id = $1 ORDER BY email")
            .bind(id)
            .fetch_all(&mut *conn)
            .await?;
    Ok(rows.into_iter().map(|r| r.0).collect())
}

/// The requesters and participants (lower-cased, once each) of every ticket merged into
/// ticket `id`, directly or through a chain of merges: the people whose mail came to `id`
/// with a merge rather than as its own.
pub async fn merged_in_people(
    conn: &mut PgConnection,
    id: i64,
) -> Result<Vec<String>, sqlx::Error> {
    let rows: Vec<(String,)> = sqlx::query_as(
        "WITH RECURSIVE m(id, depth) AS (
             SELECT id, 1 FROM tickets WHERE merged_into = $1
             UNION
             SELECT t.id, m.depth + 1 FROM tickets t JOIN m ON t.merged_into = m.id WHERE m.depth < 64
         )
         SELECT lower(requester_email) FROM tickets WHERE id IN (SELECT id FROM m)
         UNION
         SELECT lower(email) FROM ticket_participants WHERE ticket_id IN (SELECT id FROM m)",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows.into_iter().map(|r| r.0).collect())
}

/// Records that ticket `id` was opened naming ticket `linked` (a subject tag or plus-address
/// from someone not on that ticket's thread).
pub async fn set_linked(conn: &mut PgConnection, id: i64, linked: i64) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE tickets SET linked_ticket = $2 WHERE id = $1")
        .bind(id)
        .bind(linked)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// The number of the ticket `id` is linked to (see [`set_linked`]), if any.
pub async fn linked_number(
    conn: &mut PgConnection,
    id: i64,
) -> Result<Option<String>, sqlx::Error> {
    let row: Option<(String,)> = sqlx::query_as(
        "SELECT l.number FROM tickets t JOIN tickets l ON l.id = t.linked_ticket WHERE t.id = $1",
    )
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.map(|r| r.0))
}

/// Whether `email` is the requester of ticket `id` or one of its participants
/// (`ticket_participants`), compared case-insensitively.
pub async fn is_on_thread(
    conn: &mut PgConnection,
    id: i64,
    email: &str,
) -> Result<bool, sqlx::Error> {
    let (on,): (bool,) = sqlx::query_as(
        "SELECT EXISTS (SELECT 1 FROM tickets WHERE id = $1 AND lower(requester_email) = lower($2))
             OR EXISTS (SELECT 1 FROM ticket_participants WHERE ticket_id = $1 AND lower(email) = lower($2))",
    )
    .bind(id)
    .bind(email)
    .fetch_one(&mut *conn)
    .await?;
    Ok(on)
}

/// Every link (see [`set_linked`]) as `(ticket id, linked ticket's number)`.
pub async fn all_links(conn: &mut PgConnection) -> Result<Vec<(i64, String)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT t.id, l.number FROM tickets t JOIN tickets l ON l.id = t.linked_ticket ORDER BY t.id",
    )
    .fetch_all(&mut *conn)
    .await
}
