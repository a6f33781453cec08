//! The live feed's channel: `NOTIFY claimdesk_ticket, '<ticket number>'`, sent at commit by
//! the triggers of migrations/0021_search.sql whenever a ticket is created or changes, or a
//! message or note is added to it (one per ticket per transaction). The payload is the
//! ticket number only.

/// The channel the triggers notify.
pub const CHANNEL: &str = "claimdesk_ticket";

/// A connection listening on [`CHANNEL`] (`LISTEN`). One per process: the web view fans
/// its notifications out to every open page (`web::ui::live`).
///
/// Errors: the connection or the `LISTEN` failed.
pub async fn listen(pool: &sqlx::PgPool) -> Result<sqlx::postgres::PgListener, sqlx::Error> {
    let mut l = sqlx::postgres::PgListener::connect_with(pool).await?;
    l.listen(CHANNEL).await?;
    Ok(l)
}
