//! The `chat_posts` table: where each ticket's card lives on each platform.

use sqlx::PgConnection;

/// A posted card.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatPost {
    /// Platform name: `slack`, `discord`, `console`.
    pub platform: String,
    /// Channel ID.
    pub channel: String,
    /// The card message: Slack `ts`, Discord message ID.
    pub message_ref: String,
    /// The card's thread: Slack `thread_ts` (= the card `ts`), Discord thread channel ID.
    pub thread_ref: Option<String>,
}

/// The card of `ticket_id` on `platform`, if posted.
pub async fn get(
    conn: &mut PgConnection,
    ticket_id: i64,
    platform: &str,
) -> Result<Option<ChatPost>, sqlx::Error> {
    let row: Option<(String, String, String, Option<String>)> = sqlx::query_as(
        "SELECT platform, channel, message_ref, thread_ref FROM chat_posts
         WHERE ticket_id = $1 AND platform = $2",
    )
    .bind(ticket_id)
    .bind(platform)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.map(|r| ChatPost {
        platform: r.0,
        channel: r.1,
        message_ref: r.2,
        thread_ref: r.3,
    }))
}

/// The ticket whose card is `message_ref` (or whose thread is `message_ref`) on `platform`.
pub async fn ticket_for_ref(
    conn: &mut PgConnection,
    platform: &str,
    message_ref: &str,
) -> Result<Option<i64>, sqlx::Error> {
    let row: Option<(i64,)> = sqlx::query_as(
        "SELECT ticket_id FROM chat_posts WHERE platform = $1 AND (message_ref = $2 OR thread_ref = $2)",
    )
    .bind(platform)
    .bind(message_ref)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.map(|r| r.0))
}

/// Records a newly posted card.
pub async fn insert(
    conn: &mut PgConnection,
    ticket_id: i64,
    post: &ChatPost,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO chat_posts (ticket_id, platform, channel, message_ref, thread_ref)
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(ticket_id)
    .bind(&post.platform)
    .bind(&post.channel)
    .bind(&post.message_ref)
    .bind(&post.thread_ref)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Records the card's thread.
pub async fn set_thread(
    conn: &mut PgConnection,
    ticket_id: i64,
    platform: &str,
    thread_ref: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE chat_posts SET thread_ref = $3, updated_at = now() WHERE ticket_id = $1 AND platform = $2",
    )
    .bind(ticket_id)
    .bind(platform)
    .bind(thread_ref)
    .execute(&mut *conn)
    .await?;
    Ok(())
}
