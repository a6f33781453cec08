//! The append-only `audit_events` table: a row trigger refuses UPDATE and DELETE (migration
//! 0001), a statement trigger TRUNCATE (0010), and the app's role, when it is not the owner,
//! holds only SELECT and INSERT on it (`store::grant_app`).

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

/// Appends `event` (one row of [`record_many`]).
///
/// Errors: the database's.
pub async fn record(conn: &mut PgConnection, event: AuditEvent<'_>) -> Result<(), sqlx::Error> {
    record_many(conn, std::slice::from_ref(&event)).await
}

/// Appends `events` in one statement, in order (ids, and so the trail's order, follow it).
///
/// Errors: the database's.
pub async fn record_many(
    conn: &mut PgConnection,
    events: &[AuditEvent<'_>],
) -> Result<(), sqlx::Error> {
    if events.is_empty() {
        return Ok(());
    }
    let tickets: Vec<Option<i64>> = events.iter().map(|r| r.ticket_id).collect();
    let actors: Vec<&str> = events.iter().map(|r| r.actor).collect();
    let surfaces: Vec<&str> = events.iter().map(|r| r.surface).collect();
    let actions: Vec<&str> = events.iter().map(|r| r.action).collect();
    let befores: Vec<Option<&serde_json::Value>> =
        events.iter().map(|r| r.before.as_ref()).collect();
    let afters: Vec<Option<&serde_json::Value>> = events.iter().map(|r| r.after.as_ref()).collect();
    sqlx::query(
        "INSERT INTO audit_events (ticket_id, actor, surface, action, before, after)
         SELECT t, ac, s, act, b, af
         FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::jsonb[], $6::jsonb[])
             WITH ORDINALITY AS u(t, ac, s, act, b, af, n)
         ORDER BY n",
    )
    .bind(&tickets)
    .bind(&actors)
    .bind(&surfaces)
    .bind(&actions)
    .bind(&befores)
    .bind(&afters)
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

/// Who a connection is, as far as the audit trail's protection goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleCheck {
    /// `current_user`.
    pub name: String,
    /// Whether the role is a superuser (which may drop or disable the triggers).
    pub superuser: bool,
    /// Whether the role owns `audit_events` or may act as its owner (a member of the
    /// owning role, `pg_has_role … MEMBER`); `false` too when the table does not exist yet.
    pub owns_audit: bool,
}

/// The [`RoleCheck`] of a connection from `pool` (`pg_roles`, `pg_class`).
///
/// Errors: the database's.
pub async fn current_role(pool: &sqlx::PgPool) -> Result<RoleCheck, sqlx::Error> {
    let (name, superuser, owns_audit): (String, bool, bool) = sqlx::query_as(
        "SELECT current_user::text,
                COALESCE((SELECT rolsuper FROM pg_roles WHERE rolname = current_user), false),
                COALESCE((SELECT pg_has_role(current_user, c.relowner, 'MEMBER')
                            FROM pg_class c WHERE c.oid = to_regclass('audit_events')), false)",
    )
    .fetch_one(pool)
    .await?;
    Ok(RoleCheck {
        name,
        superuser,
        owns_audit,
    })
}
