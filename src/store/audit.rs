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

impl<'a> AuditEvent<'a> {
    /// A change to ticket `ticket_id` by `(actor, surface)`, with its state before and after.
    pub fn for_ticket(
        ticket_id: i64,
        (actor, surface): (&'a str, &'a str),
        action: &'a str,
        before: serde_json::Value,
        after: serde_json::Value,
    ) -> AuditEvent<'a> {
        AuditEvent {
            ticket_id: Some(ticket_id),
            actor,
            surface,
            action,
            before: Some(before),
            after: Some(after),
        }
    }
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

/// One recorded change.
#[derive(Debug, Clone, serde::Serialize)]
pub struct AuditRow {
    /// When, RFC 3339.
    pub at: String,
    /// Who.
    pub actor: String,
    /// Through what.
    pub surface: String,
    /// What.
    pub action: String,
    /// State before.
    pub before: Option<serde_json::Value>,
    /// State after.
    pub after: Option<serde_json::Value>,
}

/// Changes recorded for a ticket, oldest first.
pub async fn for_ticket(
    conn: &mut PgConnection,
    ticket_id: i64,
) -> Result<Vec<AuditRow>, sqlx::Error> {
    type Row = (
        chrono::DateTime<chrono::Utc>,
        String,
        String,
        String,
        Option<serde_json::Value>,
        Option<serde_json::Value>,
    );
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT at, actor, surface, action, before, after FROM audit_events WHERE ticket_id = $1 ORDER BY id",
    )
    .bind(ticket_id)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| AuditRow {
            at: r.0.to_rfc3339(),
            actor: r.1,
            surface: r.2,
            action: r.3,
            before: r.4,
            after: r.5,
        })
        .collect())
}
