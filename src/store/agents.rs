//! The `agents` table: team members and their chat identities.

use sqlx::PgConnection;

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

const COLUMNS: &str = "id, handle, name, email, role, slack_user_id, discord_user_id";

/// Inserts or updates the agents from config (matched by handle); agents no longer in
/// config are marked inactive, never deleted (tickets and audit events point at them).
pub async fn sync_from_config(
    conn: &mut PgConnection,
    agents: &[AgentSettings],
) -> Result<(), sqlx::Error> {
    for a in agents {
        sqlx::query(
            "INSERT INTO agents (handle, name, email, role, slack_user_id, discord_user_id, active)
             VALUES ($1, $2, $3, $4, $5, $6, TRUE)
             ON CONFLICT (handle) DO UPDATE SET name = $2, email = $3, role = $4,
                 slack_user_id = $5, discord_user_id = $6, active = TRUE",
        )
        .bind(&a.handle)
        .bind(&a.name)
        .bind(&a.email)
        .bind(a.role.as_str())
        .bind(&a.slack_user_id)
        .bind(&a.discord_user_id)
        .execute(&mut *conn)
        .await?;
    }
    let handles: Vec<String> = agents.iter().map(|a| a.handle.clone()).collect();
    sqlx::query("UPDATE agents SET active = FALSE WHERE NOT (handle = ANY($1))")
        .bind(&handles)
        .execute(&mut *conn)
        .await?;
    Ok(())
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
    let sql = format!("SELECT {COLUMNS} FROM agents WHERE {column} = $1 AND active");
    let row: Option<Row> = sqlx::query_as(&sql)
        .bind(value)
        .fetch_optional(&mut *conn)
        .await?;
    row.map(from_row).transpose()
}

/// The agent with this row id (active or not).
pub async fn by_id(conn: &mut PgConnection, id: i64) -> Result<Option<Agent>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM agents WHERE id = $1");
    let row: Option<Row> = sqlx::query_as(&sql)
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    row.map(from_row).transpose()
}

/// The first active admin or owner by handle, for the console surface's default identity.
pub async fn first_admin(conn: &mut PgConnection) -> Result<Option<Agent>, sqlx::Error> {
    let sql = format!(
        "SELECT {COLUMNS} FROM agents WHERE active AND role IN ('admin','owner') ORDER BY handle LIMIT 1"
    );
    let row: Option<Row> = sqlx::query_as(&sql).fetch_optional(&mut *conn).await?;
    row.map(from_row).transpose()
}
