//! The `agents` table: team members and their chat identities.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use crate::domain::assignment::Candidate;

use crate::config::AgentSettings;
use crate::domain::Role;

/// A team member as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Agent {
    /// Row id.
    pub id: i64,
    /// Short handle (`ana`).
    pub handle: String,
    /// Display name.
    pub name: String,
    /// Email address.
    pub email: String,
    /// Role.
    pub role: Role,
    /// Slack user ID.
    pub slack_user_id: Option<String>,
    /// Discord user ID.
    pub discord_user_id: Option<String>,
}

type Row = (
    i64,
    String,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
);

fn from_row(r: Row) -> Result<Agent, sqlx::Error> {
    let role =
        r.4.parse::<Role>()
            .map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
    Ok(Agent {
        id: r.0,
        handle: r.1,
        name: r.2,
        email: r.3,
        role,
        slack_user_id: r.5,
        discord_user_id: r.6,
    })
}

const COLUMNS: &str = "a.id, a.handle, a.name, a.email, a.role, a.slack_user_id, a.discord_user_id";

/// Inserts or updates the agents from config (matched by handle), with their capacity and
/// departments (`all_departments` when their list is empty). Config agents no longer in config
/// are marked inactive, never deleted (tickets and audit events point at them); agents added
/// with `claimdesk agent add` are left alone.
pub async fn sync_from_config(
    conn: &mut PgConnection,
    agents: &[AgentSettings],
    all_departments: &[String],
) -> Result<(), sqlx::Error> {
    for a in agents {
        upsert(conn, a, "config", all_departments).await?;
    }
    let handles: Vec<String> = agents.iter().map(|a| a.handle.clone()).collect();
    sqlx::query(
        "UPDATE agents SET active = FALSE WHERE source = 'config' AND NOT (handle = ANY($1))",
    )
    .bind(&handles)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Inserts or updates one agent (by handle) and sets their departments; returns the id.
pub async fn upsert(
    conn: &mut PgConnection,
    a: &AgentSettings,
    source: &str,
    all_departments: &[String],
) -> Result<i64, sqlx::Error> {
    let capacity = a.capacity.map(|c| i32::try_from(c).unwrap_or(i32::MAX));
    let (id,): (i64,) = sqlx::query_as(
        "INSERT INTO agents (handle, name, email, role, slack_user_id, discord_user_id, active, capacity, source)
         VALUES ($1, $2, $3, $4, $5, $6, TRUE, $7, $8)
         ON CONFLICT (handle) DO UPDATE SET name = $2, email = $3, role = $4,
             slack_user_id = $5, discord_user_id = $6, active = TRUE, capacity = $7
         RETURNING id",
    )
    .bind(&a.handle)
    .bind(&a.name)
    .bind(&a.email)
    .bind(a.role.as_str())
    .bind(&a.slack_user_id)
    .bind(&a.discord_user_id)
    .bind(capacity)
    .bind(source)
    .fetch_one(&mut *conn)
    .await?;
    let departments = if a.departments.is_empty() {
        all_departments
    } else {
        &a.departments
    };
    set_departments(conn, id, departments).await?;
    Ok(id)
}

/// Replaces the agent's departments.
pub async fn set_departments(
    conn: &mut PgConnection,
    agent_id: i64,
    departments: &[String],
) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM agent_departments WHERE agent_id = $1")
        .bind(agent_id)
        .execute(&mut *conn)
        .await?;
    sqlx::query("INSERT INTO agent_departments (agent_id, department) SELECT $1, unnest($2::text[]) ON CONFLICT DO NOTHING")
        .bind(agent_id)
        .bind(departments)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Marks the agent inactive (they keep their history); returns whether one was found.
pub async fn deactivate(conn: &mut PgConnection, handle: &str) -> Result<bool, sqlx::Error> {
    let r = sqlx::query("UPDATE agents SET active = FALSE WHERE handle = $1 AND active")
        .bind(handle)
        .execute(&mut *conn)
        .await?;
    Ok(r.rows_affected() == 1)
}

/// One line of `agent list`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct AgentListing {
    /// Handle.
    pub handle: String,
    /// Name.
    pub name: String,
    /// Role.
    pub role: String,
    /// Active (not removed).
    pub active: bool,
    /// Available for auto-assignment (not away).
    pub available: bool,
    /// Away until, RFC 3339.
    pub away_until: Option<String>,
    /// Capacity cap.
    pub capacity: Option<i32>,
    /// Departments.
    pub departments: Vec<String>,
    /// `config` or `cli`.
    pub source: String,
}

/// Every agent, by handle.
pub async fn list(conn: &mut PgConnection) -> Result<Vec<AgentListing>, sqlx::Error> {
    type Row = (
        String,
        String,
        String,
        bool,
        bool,
        Option<DateTime<Utc>>,
        Option<i32>,
        Vec<String>,
        String,
    );
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT a.handle, a.name, a.role, a.active, a.available, a.away_until, a.capacity,
                COALESCE(array_agg(d.department ORDER BY d.department) FILTER (WHERE d.department IS NOT NULL), '{}'),
                a.source
         FROM agents a LEFT JOIN agent_departments d ON d.agent_id = a.id
         GROUP BY a.id ORDER BY a.handle",
    )
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| AgentListing {
            handle: r.0,
            name: r.1,
            role: r.2,
            active: r.3,
            available: r.4,
            away_until: r.5.map(|t| t.to_rfc3339()),
            capacity: r.6,
            departments: r.7,
            source: r.8,
        })
        .collect())
}

/// Marks the agent away (out of auto-assignment), optionally until a time, or back.
pub async fn set_availability(
    conn: &mut PgConnection,
    agent_id: i64,
    available: bool,
    until: Option<DateTime<Utc>>,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE agents SET available = $2, away_until = $3 WHERE id = $1")
        .bind(agent_id)
        .bind(available)
        .bind(until)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Records that the agent was just given a ticket (the round-robin tie-break).
pub async fn touch_assigned(conn: &mut PgConnection, agent_id: i64) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE agents SET last_assigned_at = clock_timestamp() WHERE id = $1")
        .bind(agent_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// The agents eligible for a ticket of `department` — active, available (or their away time
/// is over), in the department (or an admin/owner when `admins_everywhere`) — with their
/// load: tickets held in one of `load_statuses`.
pub async fn candidates(
    conn: &mut PgConnection,
    department: &str,
    load_statuses: &[&str],
    admins_everywhere: bool,
) -> Result<Vec<Candidate>, sqlx::Error> {
    type Row = (i64, i64, Option<i32>, Option<DateTime<Utc>>);
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT a.id,
                (SELECT count(*) FROM tickets t WHERE t.assignee_id = a.id AND t.status = ANY($2)),
                a.capacity, a.last_assigned_at
         FROM agents a
         WHERE a.active AND (a.available OR a.away_until <= now())
           AND (EXISTS (SELECT 1 FROM agent_departments d WHERE d.agent_id = a.id AND d.department = $1)
                OR ($3 AND a.role IN ('admin', 'owner')))
         ORDER BY a.id",
    )
    .bind(department)
    .bind(load_statuses)
    .bind(admins_everywhere)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(id, load, cap, last)| Candidate {
            agent_id: id,
            load: u32::try_from(load).unwrap_or(u32::MAX),
            capacity: cap.map(|c| u32::try_from(c).unwrap_or(0)),
            last_assigned_at: last,
        })
        .collect())
}

/// Active admins and owners of `department` (or everywhere when `admins_everywhere`): who is
/// pinged when a ticket waits for assignment.
pub async fn department_admins(
    conn: &mut PgConnection,
    department: &str,
    admins_everywhere: bool,
) -> Result<Vec<Agent>, sqlx::Error> {
    let sql = format!(
        "SELECT {COLUMNS} FROM agents a WHERE a.active AND a.role IN ('admin', 'owner')
           AND ($2 OR EXISTS (SELECT 1 FROM agent_departments d WHERE d.agent_id = a.id AND d.department = $1))
         ORDER BY a.handle"
    );
    let rows: Vec<Row> = sqlx::query_as(&sql)
        .bind(department)
        .bind(admins_everywhere)
        .fetch_all(&mut *conn)
        .await?;
    rows.into_iter().map(from_row).collect()
}

/// Which identity to look an agent up by.
#[derive(Debug, Clone, Copy)]
pub enum Identity<'a> {
    /// Slack user ID.
    Slack(&'a str),
    /// Discord user ID.
    Discord(&'a str),
    /// claimdesk handle.
    Handle(&'a str),
}

/// The active agent with this identity, if any.
pub async fn find(
    conn: &mut PgConnection,
    who: Identity<'_>,
) -> Result<Option<Agent>, sqlx::Error> {
    let (column, value) = match who {
        Identity::Slack(v) => ("slack_user_id", v),
        Identity::Discord(v) => ("discord_user_id", v),
        Identity::Handle(v) => ("handle", v),
    };
    let sql = format!("SELECT {COLUMNS} FROM agents a WHERE a.{column} = $1 AND a.active");
    let row: Option<Row> = sqlx::query_as(&sql)
        .bind(value)
        .fetch_optional(&mut *conn)
        .await?;
    row.map(from_row).transpose()
}

/// The active agents whose email address is `email` (compared case-insensitively), by
/// handle (the web view's sign-in signs in only when exactly one matches).
pub async fn active_by_email(
    conn: &mut PgConnection,
    email: &str,
) -> Result<Vec<Agent>, sqlx::Error> {
    let sql = format!(
        "SELECT {COLUMNS} FROM agents a WHERE lower(a.email) = lower($1) AND a.active ORDER BY a.handle"
    );
    let rows: Vec<Row> = sqlx::query_as(&sql)
        .bind(email.trim())
        .fetch_all(&mut *conn)
        .await?;
    rows.into_iter().map(from_row).collect()
}

/// Every active agent, by handle.
pub async fn all_active(conn: &mut PgConnection) -> Result<Vec<Agent>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM agents a WHERE a.active ORDER BY a.handle");
    let rows: Vec<Row> = sqlx::query_as(&sql).fetch_all(&mut *conn).await?;
    rows.into_iter().map(from_row).collect()
}

/// The agent with this row id (active or not).
pub async fn by_id(conn: &mut PgConnection, id: i64) -> Result<Option<Agent>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM agents a WHERE a.id = $1");
    let row: Option<Row> = sqlx::query_as(&sql)
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    row.map(from_row).transpose()
}

/// The first active admin or owner by handle, for the console surface's default identity.
pub async fn first_admin(conn: &mut PgConnection) -> Result<Option<Agent>, sqlx::Error> {
    let sql = format!(
        "SELECT {COLUMNS} FROM agents a WHERE a.active AND a.role IN ('admin','owner') ORDER BY a.handle LIMIT 1"
    );
    let row: Option<Row> = sqlx::query_as(&sql).fetch_optional(&mut *conn).await?;
    row.map(from_row).transpose()
}
