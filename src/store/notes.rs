//! The `notes` table: internal notes on tickets, never sent to the customer.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

/// A stored note.
#[derive(Debug, Clone)]
pub struct Note {
    /// Row id.
    pub id: i64,
    /// Ticket.
    pub ticket_id: i64,
    /// Author's handle; `None` for system notes.
    pub author: Option<String>,
    /// Text.
    pub body: String,
    /// A system note that needs attention (e.g. a bounced reply).
    pub flagged: bool,
    /// When written.
    pub created_at: DateTime<Utc>,
}

/// Stores a note and returns its id.
pub async fn insert(
    conn: &mut PgConnection,
    ticket_id: i64,
    author_agent_id: Option<i64>,
    body: &str,
    flagged: bool,
) -> Result<i64, sqlx::Error> {
    let (id,): (i64,) = sqlx::query_as(
        "INSERT INTO notes (ticket_id, author_agent_id, body, flagged) VALUES ($1, $2, $3, $4) RETURNING id",
    )
    .bind(ticket_id)
    .bind(author_agent_id)
    .bind(body)
    .bind(flagged)
    .fetch_one(&mut *conn)
    .await?;
    Ok(id)
}

/// The note with this id.
pub async fn by_id(conn: &mut PgConnection, id: i64) -> Result<Option<Note>, sqlx::Error> {
    type Row = (i64, i64, Option<String>, String, bool, DateTime<Utc>);
    let row: Option<Row> = sqlx::query_as(
        "SELECT n.id, n.ticket_id, a.handle, n.body, n.flagged, n.created_at
         FROM notes n LEFT JOIN agents a ON a.id = n.author_agent_id WHERE n.id = $1",
    )
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.map(|r| Note {
        id: r.0,
        ticket_id: r.1,
        author: r.2,
        body: r.3,
        flagged: r.4,
        created_at: r.5,
    }))
}

/// The notes of ticket `ticket_id`, oldest first.
///
/// Errors: the database's.
pub async fn for_ticket(conn: &mut PgConnection, ticket_id: i64) -> Result<Vec<Note>, sqlx::Error> {
    type Row = (i64, i64, Option<String>, String, bool, DateTime<Utc>);
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT n.id, n.ticket_id, a.handle, n.body, n.flagged, n.created_at
         FROM notes n LEFT JOIN agents a ON a.id = n.author_agent_id
         WHERE n.ticket_id = $1 ORDER BY n.created_at, n.id",
    )
    .bind(ticket_id)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| Note {
            id: r.0,
            ticket_id: r.1,
            author: r.2,
            body: r.3,
            flagged: r.4,
            created_at: r.5,
        })
        .collect())
}
