//! The append-only `audit_events` table (a trigger refuses UPDATE and DELETE).

use sqlx::PgConnection;

/// One change to record.
#[derive(Debug, Clone)]
pub struct AuditEvent<'a> {
    /// Ticket concerned, if any.
    pub ticket_id: Option<i64>,
    /// Who did it: an agent handle, `customer:<address>` or `system`.
    pub actor: &'a str,
    /// Which surface: `slack`, `discord`, `console`, `email`, `cli`.
    pub surface: &'a str,
    /// What: `ticket.created`, `ticket.claimed`, `ticket.unclaimed`, `reply.queued` …
    pub action: &'a str,
    /// State before, as JSON.
    pub before: Option<serde_json::Value>,
    /// State after, as JSON.
    pub after: Option<serde_json::Value>,
}

/// Appends `event`.
pub async fn record(conn: &mut PgConnection, event: AuditEvent<'_>) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO audit_events (ticket_id, actor, surface, action, before, after)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(event.ticket_id)
    .bind(event.actor)
    .bind(event.surface)
    .bind(event.action)
    .bind(event.before)
    .bind(event.after)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Actions recorded for a ticket, oldest first: `(action, actor, surface)`.
pub async fn for_ticket(
    conn: &mut PgConnection,
    ticket_id: i64,
) -> Result<Vec<(String, String, String)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT action, actor, surface FROM audit_events WHERE ticket_id = $1 ORDER BY id",
    )
    .bind(ticket_id)
    .fetch_all(&mut *conn)
    .await
}
