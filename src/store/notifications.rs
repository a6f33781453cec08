//! The `notifications` table (migration 0019): an agent's pending personal notices, written
//! in the transaction of the change that causes them, and folded into direct messages by the
//! sweep (`desk::notify`). The one writer of the table.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use crate::domain::notify::Kind;

/// The channel every recording notifies at commit (`NOTIFY claimdesk_notify`): the sweep
/// waits on it so that a notice due at once is not held for its next tick.
pub const CHANNEL: &str = "claimdesk_notify";

/// One notice to record.
#[derive(Debug, Clone, PartialEq)]
pub struct NewNotice {
    /// `agents.id` of the agent to tell.
    pub agent_id: i64,
    /// What it is about.
    pub kind: Kind,
    /// The ticket concerned.
    pub ticket_id: i64,
    /// What the message says beyond the ticket (who assigned it; the SLA goal and its due
    /// time), as JSON.
    pub detail: serde_json::Value,
    /// When it happened (the desk's clock).
    pub at: DateTime<Utc>,
}

/// Records `notices` in one statement, leaving out those whose kind their agent turned off
/// (`notification_prefs`: a kind turned off records nothing), and wakes the sweep at commit.
/// Returns how many were recorded.
///
/// Errors: the database's.
pub async fn record_many(
    conn: &mut PgConnection,
    notices: &[NewNotice],
) -> Result<u64, sqlx::Error> {
    if notices.is_empty() {
        return Ok(0);
    }
    let agents: Vec<i64> = notices.iter().map(|n| n.agent_id).collect();
    let kinds: Vec<&str> = notices.iter().map(|n| n.kind.as_str()).collect();
    let tickets: Vec<i64> = notices.iter().map(|n| n.ticket_id).collect();
    let details: Vec<&serde_json::Value> = notices.iter().map(|n| &n.detail).collect();
    let ats: Vec<DateTime<Utc>> = notices.iter().map(|n| n.at).collect();
    let r = sqlx::query(
        "INSERT INTO notifications (agent_id, kind, ticket_id, detail, created_at)
         SELECT u.a, u.k, u.t, u.d, u.c
         FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::jsonb[], $5::timestamptz[])
             WITH ORDINALITY AS u(a, k, t, d, c, n)
         WHERE NOT EXISTS (
             SELECT 1 FROM notification_prefs p WHERE p.agent_id = u.a AND CASE u.k
                 WHEN 'assigned' THEN NOT p.assigned
                 WHEN 'replies' THEN NOT p.replies
                 ELSE NOT p.sla END)
         ORDER BY u.n",
    )
    .bind(&agents)
    .bind(&kinds)
    .bind(&tickets)
    .bind(&details)
    .bind(&ats)
    .execute(&mut *conn)
    .await?;
    if r.rows_affected() > 0 {
        sqlx::query("SELECT pg_notify($1, '')")
            .bind(CHANNEL)
            .execute(&mut *conn)
            .await?;
    }
    Ok(r.rows_affected())
}

/// A connection listening on [`CHANNEL`].
///
/// Errors: the connection or the `LISTEN` failed (the sweep then polls).
pub async fn listen(pool: &sqlx::PgPool) -> Result<sqlx::postgres::PgListener, sqlx::Error> {
    let mut l = sqlx::postgres::PgListener::connect_with(pool).await?;
    l.listen(CHANNEL).await?;
    Ok(l)
}

/// What the sweep needs to decide when an agent's pending notices are due: per pending
/// notice `(agent id, kind, recorded at)`, oldest first. Rows with a kind this version does
/// not know are left out.
///
/// Errors: the database's.
pub async fn pending_moments(
    conn: &mut PgConnection,
) -> Result<Vec<(i64, Kind, DateTime<Utc>)>, sqlx::Error> {
    let rows: Vec<(i64, String, DateTime<Utc>)> = sqlx::query_as(
        "SELECT agent_id, kind, created_at FROM notifications
         WHERE state = 'pending' ORDER BY agent_id, created_at, id",
    )
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(a, k, at)| Kind::parse(&k).map(|k| (a, k, at)))
        .collect())
}

/// One pending notice taken by the sweep, with what its message shows.
#[derive(Debug, Clone, PartialEq)]
pub struct Pending {
    /// Row id.
    pub id: i64,
    /// What it is about.
    pub kind: Kind,
    /// The ticket's number (`TICK-2026-0001`).
    pub number: String,
    /// The ticket's subject (the customer's words).
    pub subject: String,
    /// See [`NewNotice::detail`].
    pub detail: serde_json::Value,
    /// When it happened.
    pub at: DateTime<Utc>,
}

/// Locks and returns every pending notice of `agent_id`, oldest first. The sweep calls it
/// holding the agent's lock (`store::locks::notify_agent`), so no other sweep holds any of
/// them; a row swept by a sweep that committed meanwhile is not returned.
///
/// Errors: the database's.
pub async fn take_pending(
    conn: &mut PgConnection,
    agent_id: i64,
) -> Result<Vec<Pending>, sqlx::Error> {
    let rows: Vec<(
        i64,
        String,
        String,
        String,
        serde_json::Value,
        DateTime<Utc>,
    )> = sqlx::query_as(
        "SELECT n.id, n.kind, t.number, t.subject, n.detail, n.created_at
             FROM notifications n JOIN tickets t ON t.id = n.ticket_id
             WHERE n.agent_id = $1 AND n.state = 'pending'
             ORDER BY n.created_at, n.id
             FOR UPDATE OF n",
    )
    .bind(agent_id)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(id, kind, number, subject, detail, at)| {
            Some(Pending {
                id,
                kind: Kind::parse(&kind)?,
                number,
                subject,
                detail,
                at,
            })
        })
        .collect())
}

/// Marks notices `ids` as swept at `at`: `sent` (folded into a DM queued in the same
/// transaction) or, with `sent = false`, `dropped` (the agent has no user id on any active
/// platform). Only pending rows change.
///
/// Errors: the database's.
pub async fn mark_swept(
    conn: &mut PgConnection,
    ids: &[i64],
    sent: bool,
    at: DateTime<Utc>,
) -> Result<u64, sqlx::Error> {
    let r = sqlx::query(
        "UPDATE notifications SET state = $2, swept_at = $3
         WHERE id = ANY($1) AND state = 'pending'",
    )
    .bind(ids)
    .bind(if sent { "sent" } else { "dropped" })
    .bind(at)
    .execute(&mut *conn)
    .await?;
    Ok(r.rows_affected())
}
