//! The `web_sessions` table (migrations/0020_web.sql): signed-in browsers of the web view.
//! This file is its one writer. Session ids are stored as their SHA-256 only.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use super::agents::Agent;

/// A live session with its agent, as [`find`] reads it.
#[derive(Debug, Clone)]
pub struct Session {
    /// The agent signed in (active).
    pub agent: Agent,
    /// The session's CSRF token (every form's `_csrf`).
    pub csrf: String,
    /// When the session ends.
    pub expires_at: DateTime<Utc>,
}

/// Stores a session for `agent_id` whose cookie id hashes to `id_hash` (SHA-256, 32 bytes),
/// with CSRF token `csrf`, ending at `expires_at`.
///
/// Errors: the database's.
pub async fn create(
    conn: &mut PgConnection,
    id_hash: &[u8],
    agent_id: i64,
    csrf: &str,
    expires_at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO web_sessions (id_hash, agent_id, csrf, expires_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(id_hash)
    .bind(agent_id)
    .bind(csrf)
    .bind(expires_at)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The unexpired session whose id hashes to `id_hash`, when its agent is still active;
/// `None` otherwise (no such session, expired, or the agent was removed).
///
/// Errors: the database's.
pub async fn find(conn: &mut PgConnection, id_hash: &[u8]) -> Result<Option<Session>, sqlx::Error> {
    let row: Option<(
        i64,
        String,
        String,
        String,
        String,
        Option<String>,
        Option<String>,
        String,
        DateTime<Utc>,
    )> = sqlx::query_as(
        "SELECT a.id, a.handle, a.name, a.email, a.role, a.slack_user_id, a.discord_user_id,
                s.csrf, s.expires_at
         FROM web_sessions s JOIN agents a ON a.id = s.agent_id
         WHERE s.id_hash = $1 AND s.expires_at > now() AND a.active",
    )
    .bind(id_hash)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(r) = row else {
        return Ok(None);
    };
    let role =
        r.4.parse::<crate::domain::Role>()
            .map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
    Ok(Some(Session {
        agent: Agent {
            id: r.0,
            handle: r.1,
            name: r.2,
            email: r.3,
            role,
            slack_user_id: r.5,
            discord_user_id: r.6,
        },
        csrf: r.7,
        expires_at: r.8,
    }))
}

/// Ends the session whose id hashes to `id_hash` (sign out); nothing when there is none.
///
/// Errors: the database's.
pub async fn delete(conn: &mut PgConnection, id_hash: &[u8]) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM web_sessions WHERE id_hash = $1")
        .bind(id_hash)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Deletes sessions that ended before `before`; returns how many.
///
/// Errors: the database's.
pub async fn purge_expired(
    conn: &mut PgConnection,
    before: DateTime<Utc>,
) -> Result<u64, sqlx::Error> {
    let r = sqlx::query("DELETE FROM web_sessions WHERE expires_at < $1")
        .bind(before)
        .execute(&mut *conn)
        .await?;
    Ok(r.rows_affected())
}
