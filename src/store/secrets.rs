//! Secrets kept in the database: `desk_secrets` (keys the desk made for itself) and
//! `oauth_tokens` (the latest OAuth2 refresh token per mailbox). Values are never logged.

use secrecy::SecretString;
use sqlx::PgConnection;

/// The secret called `name`, made by `make` and stored on first use. Concurrent first uses
/// agree on one value (the first insert wins; everyone reads it back).
pub async fn get_or_create(
    conn: &mut PgConnection,
    name: &str,
    make: impl FnOnce() -> Vec<u8>,
) -> Result<Vec<u8>, sqlx::Error> {
    if let Some((v,)) =
        sqlx::query_as::<_, (Vec<u8>,)>("SELECT value FROM desk_secrets WHERE name = $1")
            .bind(name)
            .fetch_optional(&mut *conn)
            .await?
    {
        return Ok(v);
    }
    sqlx::query(
        "INSERT INTO desk_secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
    )
    .bind(name)
    .bind(make())
    .execute(&mut *conn)
    .await?;
    let (v,): (Vec<u8>,) = sqlx::query_as("SELECT value FROM desk_secrets WHERE name = $1")
        .bind(name)
        .fetch_one(&mut *conn)
        .await?;
    Ok(v)
}

/// The refresh token last stored for `mailbox`, if any.
pub async fn refresh_token(
    conn: &mut PgConnection,
    mailbox: &str,
) -> Result<Option<SecretString>, sqlx::Error> {
    let row: Option<(String,)> =
        sqlx::query_as("SELECT refresh_token FROM oauth_tokens WHERE mailbox = $1")
            .bind(mailbox)
            .fetch_optional(&mut *conn)
            .await?;
    Ok(row.map(|(t,)| SecretString::from(t)))
}

/// Stores `token` as the refresh token of `mailbox`, replacing the previous one.
pub async fn set_refresh_token(
    conn: &mut PgConnection,
    mailbox: &str,
    token: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO oauth_tokens (mailbox, refresh_token) VALUES ($1, $2)
         ON CONFLICT (mailbox) DO UPDATE SET refresh_token = EXCLUDED.refresh_token, updated_at = now()",
    )
    .bind(mailbox)
    .bind(token)
    .execute(&mut *conn)
    .await?;
    Ok(())
}
