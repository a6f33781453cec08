//! The `ticket_ratings` table (migration 0022): one customer rating per ticket, good or bad,
//! with an optional comment; the only writer is `desk::customer`.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use crate::domain::rating::Rating as Value;

/// A stored rating.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rating {
    /// Ticket row id.
    pub ticket_id: i64,
    /// Good or bad.
    pub rating: Value,
    /// The customer's comment (plain text, cleaned by `domain::rating::clean_comment`).
    pub comment: Option<String>,
    /// When the customer first rated the ticket.
    pub first_rated_at: DateTime<Utc>,
    /// When the rating was last given or changed.
    pub rated_at: DateTime<Utc>,
}

type Row = (i64, String, Option<String>, DateTime<Utc>, DateTime<Utc>);

fn from_row((ticket_id, rating, comment, first_rated_at, rated_at): Row) -> Option<Rating> {
    Some(Rating {
        ticket_id,
        rating: Value::parse(&rating)?,
        comment,
        first_rated_at,
        rated_at,
    })
}

/// The rating of ticket `ticket_id`, if it has one.
///
/// Errors: the database's.
pub async fn for_ticket(
    conn: &mut PgConnection,
    ticket_id: i64,
) -> Result<Option<Rating>, sqlx::Error> {
    let row: Option<Row> = sqlx::query_as(
        "SELECT ticket_id, rating, comment, first_rated_at, rated_at
         FROM ticket_ratings WHERE ticket_id = $1",
    )
    .bind(ticket_id)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.and_then(from_row))
}

/// Records `rating` and `comment` for ticket `ticket_id` at `at`, replacing an earlier rating
/// (its `first_rated_at` is kept). Returns the stored row; `None` when the stored rating and
/// comment already were these (nothing is written, `rated_at` stays).
///
/// Errors: the database's (a comment over 2000 characters breaks the table's check).
pub async fn set(
    conn: &mut PgConnection,
    ticket_id: i64,
    rating: Value,
    comment: Option<&str>,
    at: DateTime<Utc>,
) -> Result<Option<Rating>, sqlx::Error> {
    let row: Option<Row> = sqlx::query_as(
        "INSERT INTO ticket_ratings (ticket_id, rating, comment, first_rated_at, rated_at)
         VALUES ($1, $2, $3, $4, $4)
         ON CONFLICT (ticket_id) DO UPDATE
            SET rating = EXCLUDED.rating, comment = EXCLUDED.comment, rated_at = EXCLUDED.rated_at
            WHERE (ticket_ratings.rating, ticket_ratings.comment)
                  IS DISTINCT FROM (EXCLUDED.rating, EXCLUDED.comment)
         RETURNING ticket_id, rating, comment, first_rated_at, rated_at",
    )
    .bind(ticket_id)
    .bind(rating.as_str())
    .bind(comment)
    .bind(at)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.and_then(from_row))
}

/// Ratings given or last changed in `[from, to)` (through `ticket_ratings_rated_at_idx`), of
/// tickets of `department` when given: `(good, bad)`.
///
/// Errors: the database's.
pub async fn counts(
    conn: &mut PgConnection,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    department: Option<&str>,
) -> Result<(i64, i64), sqlx::Error> {
    sqlx::query_as(
        "SELECT count(*) FILTER (WHERE r.rating = 'good'), count(*) FILTER (WHERE r.rating = 'bad')
         FROM ticket_ratings r JOIN tickets t ON t.id = r.ticket_id
         WHERE r.rated_at >= $1 AND r.rated_at < $2
           AND ($3::text IS NULL OR t.department = $3)",
    )
    .bind(from)
    .bind(to)
    .bind(department)
    .fetch_one(&mut *conn)
    .await
}
