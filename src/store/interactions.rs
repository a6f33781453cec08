//! `seen_interactions`: ids of chat interactions already handled, so a replayed request
//! (the same signed body sent again) has no effect on any replica.

use sqlx::PgConnection;

/// Longest interaction id kept, characters (Discord snowflakes have at most 20 digits).
pub const MAX_ID_CHARS: usize = 64;

/// How long ids are kept, seconds; far longer than the 5-minute freshness window after
/// which a request is refused on its timestamp anyway.
pub const KEEP_SECS: i64 = 3600;

/// Records interaction `id` of `platform` (`discord`) as handled. Returns `true` the first
/// time, `false` when it was seen before (a replay). Ids older than [`KEEP_SECS`] are pruned
/// on the way.
///
/// Errors: the database fails, or `id` is empty or longer than [`MAX_ID_CHARS`] (the
/// table's check constraint; callers refuse such ids before).
pub async fn first_seen(
    conn: &mut PgConnection,
    platform: &str,
    id: &str,
) -> Result<bool, sqlx::Error> {
    sqlx::query("DELETE FROM seen_interactions WHERE seen_at < now() - make_interval(secs => $1)")
        .bind(KEEP_SECS as f64)
        .execute(&mut *conn)
        .await?;
    let inserted = sqlx::query(
        "INSERT INTO seen_interactions (platform, id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
    )
    .bind(platform)
    .bind(id)
    .execute(&mut *conn)
    .await?;
    Ok(inserted.rows_affected() == 1)
}
