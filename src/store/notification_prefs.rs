//! The `notification_prefs` table (migration 0019): each agent's choices for personal
//! notifications (`notify` command). No row means the defaults (every kind on, no quiet
//! hours). The one writer of the table.

use std::collections::HashMap;
use std::str::FromStr;

use chrono::NaiveTime;
use sqlx::PgConnection;

use crate::domain::notify::{Prefs, QuietHours};

type Row = (
    i64,
    bool,
    bool,
    bool,
    Option<NaiveTime>,
    Option<NaiveTime>,
    Option<String>,
);

fn from_row(r: Row) -> (i64, Prefs) {
    let quiet = match (r.4, r.5, r.6) {
        (Some(start), Some(end), Some(zone)) => chrono_tz::Tz::from_str(&zone)
            .ok()
            .map(|zone| QuietHours { start, end, zone }),
        _ => None,
    };
    (
        r.0,
        Prefs {
            assigned: r.1,
            replies: r.2,
            sla: r.3,
            quiet,
        },
    )
}

/// The choices of `agent_id` (the defaults when they never changed any). A stored zone this
/// build does not know reads as no quiet hours.
///
/// Errors: the database's.
pub async fn get(conn: &mut PgConnection, agent_id: i64) -> Result<Prefs, sqlx::Error> {
    Ok(get_many(conn, &[agent_id])
        .await?
        .remove(&agent_id)
        .unwrap_or_default())
}

/// The stored choices of each of `agent_ids` that has any (absent: the defaults).
///
/// Errors: the database's.
pub async fn get_many(
    conn: &mut PgConnection,
    agent_ids: &[i64],
) -> Result<HashMap<i64, Prefs>, sqlx::Error> {
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT agent_id, assigned, replies, sla, quiet_start, quiet_end, quiet_zone
         FROM notification_prefs WHERE agent_id = ANY($1)",
    )
    .bind(agent_ids)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows.into_iter().map(from_row).collect())
}

/// The choices of `agent_id`, their row locked (`FOR UPDATE`) for the rest of the
/// transaction, created with the defaults first when they have none: a change read from
/// here and written with [`set`] in the same transaction is never lost to a concurrent one.
///
/// Errors: the database's.
pub async fn get_for_update(conn: &mut PgConnection, agent_id: i64) -> Result<Prefs, sqlx::Error> {
    sqlx::query("INSERT INTO notification_prefs (agent_id) VALUES ($1) ON CONFLICT DO NOTHING")
        .bind(agent_id)
        .execute(&mut *conn)
        .await?;
    let row: Row = sqlx::query_as(
        "SELECT agent_id, assigned, replies, sla, quiet_start, quiet_end, quiet_zone
         FROM notification_prefs WHERE agent_id = $1 FOR UPDATE",
    )
    .bind(agent_id)
    .fetch_one(&mut *conn)
    .await?;
    Ok(from_row(row).1)
}

/// Stores `prefs` as the choices of `agent_id` (insert or replace).
///
/// Errors: the database's.
pub async fn set(conn: &mut PgConnection, agent_id: i64, prefs: &Prefs) -> Result<(), sqlx::Error> {
    let q = prefs.quiet.as_ref();
    sqlx::query(
        "INSERT INTO notification_prefs
             (agent_id, assigned, replies, sla, quiet_start, quiet_end, quiet_zone, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, now())
         ON CONFLICT (agent_id) DO UPDATE SET assigned = EXCLUDED.assigned,
             replies = EXCLUDED.replies, sla = EXCLUDED.sla,
             quiet_start = EXCLUDED.quiet_start, quiet_end = EXCLUDED.quiet_end,
             quiet_zone = EXCLUDED.quiet_zone, updated_at = now()",
    )
    .bind(agent_id)
    .bind(prefs.assigned)
    .bind(prefs.replies)
    .bind(prefs.sla)
    .bind(q.map(|q| q.start))
    .bind(q.map(|q| q.end))
    .bind(q.map(|q| q.zone.name().to_string()))
    .execute(&mut *conn)
    .await?;
    Ok(())
}
