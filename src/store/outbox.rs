//! The `outbox` table: side effects written in the same transaction as the change that
//! causes them, delivered later by `crate::worker` with retries (`FOR UPDATE SKIP LOCKED`).

use serde::{Deserialize, Serialize};
use sqlx::{PgConnection, Postgres, Transaction};

/// One side effect to deliver.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Effect {
    /// Post the ticket's card, or edit it to its current state if already posted.
    Card {
        /// Platform name.
        platform: String,
    },
    /// Post a stored message (customer follow-up or our reply) into the card's thread.
    ThreadMessage {
        /// Platform name.
        platform: String,
        /// `messages.id`.
        message_id: i64,
    },
    /// Send a stored outbound message over SMTP.
    Email {
        /// `messages.id`.
        message_id: i64,
        /// Value of the Auto-Submitted field to send (RFC 3834 §5), e.g. `auto-replied` on
        /// acknowledgements; absent on mail a person wrote.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        auto_submitted: Option<String>,
    },
    /// Post an internal note into the card's thread, marked internal.
    ThreadNote {
        /// Platform name.
        platform: String,
        /// `notes.id`.
        note_id: i64,
    },
    /// Post a short notice from claimdesk into the card's thread (e.g. an inactivity warning).
    ThreadNotice {
        /// Platform name.
        platform: String,
        /// Text.
        text: String,
    },
    /// Post a notice into the desk's channel (e.g. "nobody available" pinging admins).
    ChannelNotice {
        /// Platform name.
        platform: String,
        /// Text; `{mention:HANDLE}` is replaced by the platform's mention of that agent.
        text: String,
    },
    /// Upload one attachment of a customer's email into the card's thread (Slack
    /// `files.getUploadURLExternal` + upload + `files.completeUploadExternal`, Discord a
    /// multipart message). Queued by the worker when the card or the message is posted, for
    /// files within the platform's upload limit.
    ThreadFile {
        /// Platform name.
        platform: String,
        /// `attachments.id`.
        attachment_id: i64,
    },
    /// Post a chart (a PNG drawn from `chart` at delivery, `desk::chart::render_png`) as a
    /// file into a channel: the channel `stats` was typed in, or the weekly digest's. Slack
    /// uploads it (`files.getUploadURLExternal` + upload + `files.completeUploadExternal`
    /// with `channel_id`), Discord attaches it to a message, the console writes it to a file
    /// and prints the path.
    ChannelChart {
        /// Platform name.
        platform: String,
        /// Channel ID; `None`: the platform's desk channel (the console's directory).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        channel: Option<String>,
        /// Text posted with the file (already in the platform's markup), if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        comment: Option<String>,
        /// What the chart shows.
        chart: crate::domain::report::ChartData,
    },
    /// A direct message to one agent (personal notifications, `desk::notify`): Slack
    /// `conversations.open` (users) then `chat.postMessage` into the DM; Discord
    /// `POST /users/@me/channels` (recipient_id) then a message with a nonce and
    /// `enforce_nonce`. Queued by the notification sweep with its text already folded.
    DirectMessage {
        /// Platform name.
        platform: String,
        /// The agent's platform user ID (Slack `U…`, Discord snowflake).
        user: String,
        /// Text, already in the platform's markup (anything not ours escaped).
        text: String,
    },
    /// Email a one-time sign-in link of the web view to an agent (`crate::web::ui::auth`).
    /// The link is a secret: once sent, the worker blanks it in the stored row
    /// ([`scrub_link`]).
    SigninLink {
        /// The agent's address.
        to: String,
        /// The agent's name, for the greeting.
        name: String,
        /// The link (`<public_url>/signin/<token>`); empty once sent.
        link: String,
        /// Minutes it stays valid, for the text.
        minutes: i64,
    },
    /// A private answer to one chat user (Slack `chat.postEphemeral`).
    Ephemeral {
        /// Platform name.
        platform: String,
        /// Channel ID.
        channel: String,
        /// Platform user ID.
        user: String,
        /// Text.
        text: String,
    },
}

impl Effect {
    /// The `outbox.kind` column of this effect.
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Effect::Card { .. } => "card",
            Effect::ThreadMessage { .. } => "thread_message",
            Effect::Email { .. } => "email",
            Effect::ThreadNote { .. } => "thread_note",
            Effect::ThreadNotice { .. } => "thread_notice",
            Effect::ChannelNotice { .. } => "channel_notice",
            Effect::ThreadFile { .. } => "thread_file",
            Effect::ChannelChart { .. } => "channel_chart",
            Effect::Ephemeral { .. } => "ephemeral",
            Effect::DirectMessage { .. } => "direct_message",
            Effect::SigninLink { .. } => "signin_link",
        }
    }
}

/// One row of the outbox to write with [`enqueue_many`]: an [`Effect`] serialised.
#[derive(Debug, Clone, PartialEq)]
pub struct NewItem {
    /// The `outbox.kind` column ([`Effect::kind`]).
    pub kind: &'static str,
    /// Ticket concerned.
    pub ticket_id: Option<i64>,
    /// The effect as JSON.
    pub payload: serde_json::Value,
}

impl NewItem {
    /// `effect` for `ticket_id`.
    ///
    /// Errors: the effect does not serialise (reported as [`sqlx::Error::Protocol`]).
    pub fn new(ticket_id: Option<i64>, effect: &Effect) -> Result<NewItem, sqlx::Error> {
        Ok(NewItem {
            kind: effect.kind(),
            ticket_id,
            payload: serde_json::to_value(effect)
                .map_err(|e| sqlx::Error::Protocol(e.to_string()))?,
        })
    }
}

/// Queues `effect` for `ticket_id` in the caller's transaction (one row of
/// [`enqueue_many`]).
///
/// Errors: the database's.
pub async fn enqueue(
    conn: &mut PgConnection,
    ticket_id: Option<i64>,
    effect: &Effect,
) -> Result<(), sqlx::Error> {
    enqueue_many(conn, &[NewItem::new(ticket_id, effect)?]).await
}

/// A connection listening on `claimdesk_outbox`, the channel every enqueue notifies at
/// commit (`LISTEN`; PostgreSQL NOTIFY). The worker waits on it between passes.
///
/// Errors: the connection or the `LISTEN` failed (the worker then polls).
pub async fn listen(pool: &sqlx::PgPool) -> Result<sqlx::postgres::PgListener, sqlx::Error> {
    let mut l = sqlx::postgres::PgListener::connect_with(pool).await?;
    l.listen("claimdesk_outbox").await?;
    Ok(l)
}

/// Queues `items` in one statement, ids in their order (the worker delivers by id), and
/// wakes the workers once (`NOTIFY claimdesk_outbox`, delivered at commit).
///
/// Errors: the database's.
pub async fn enqueue_many(conn: &mut PgConnection, items: &[NewItem]) -> Result<(), sqlx::Error> {
    if items.is_empty() {
        return Ok(());
    }
    let kinds: Vec<&str> = items.iter().map(|i| i.kind).collect();
    let tickets: Vec<Option<i64>> = items.iter().map(|i| i.ticket_id).collect();
    let payloads: Vec<&serde_json::Value> = items.iter().map(|i| &i.payload).collect();
    sqlx::query(
        "INSERT INTO outbox (kind, ticket_id, payload)
         SELECT k, t, p FROM unnest($1::text[], $2::bigint[], $3::jsonb[])
             WITH ORDINALITY AS u(k, t, p, n) ORDER BY n",
    )
    .bind(&kinds)
    .bind(&tickets)
    .bind(&payloads)
    .execute(&mut *conn)
    .await?;
    sqlx::query("SELECT pg_notify('claimdesk_outbox', '')")
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// A due item, locked by the transaction that took it.
#[derive(Debug)]
pub struct Item {
    /// Row id.
    pub id: i64,
    /// Ticket concerned.
    pub ticket_id: Option<i64>,
    /// What to do; `Err` holds the raw payload when it no longer parses.
    pub effect: Result<Effect, String>,
    /// Attempts so far.
    pub attempts: i32,
}

/// Takes the oldest due item, skipping items other workers hold. Items of one ticket on one
/// platform (or all of a ticket's email) are delivered in order: an item is not due while an
/// older undelivered item of the same ticket and platform exists, so a card is posted before
/// anything goes into its thread, and one platform being down never holds up another.
pub async fn take_due(tx: &mut Transaction<'_, Postgres>) -> Result<Option<Item>, sqlx::Error> {
    let row: Option<(i64, Option<i64>, serde_json::Value, i32)> = sqlx::query_as(
        "SELECT o.id, o.ticket_id, o.payload, o.attempts FROM outbox o
         WHERE o.delivered_at IS NULL AND o.next_attempt_at <= now()
           AND NOT EXISTS (SELECT 1 FROM outbox p WHERE p.delivered_at IS NULL
                           AND p.ticket_id = o.ticket_id AND p.id < o.id
                           AND p.payload->>'platform' IS NOT DISTINCT FROM o.payload->>'platform')
         ORDER BY o.id LIMIT 1 FOR UPDATE SKIP LOCKED",
    )
    .fetch_optional(&mut **tx)
    .await?;
    Ok(row.map(|(id, ticket_id, payload, attempts)| Item {
        id,
        ticket_id,
        effect: serde_json::from_value(payload.clone()).map_err(|_| payload.to_string()),
        attempts,
    }))
}

/// Marks the item delivered.
pub async fn mark_delivered(conn: &mut PgConnection, id: i64) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE outbox SET delivered_at = now(), attempts = attempts + 1 WHERE id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Closes an item that is not worth trying again (an upload that failed
/// `worker::UPLOAD_MAX_ATTEMPTS` times, a direct message the platform refuses): counted as an attempt, delivered as of now so the
/// ticket's later effects are not held up behind it, with `error` kept as `last_error`
/// prefixed by `given up: `.
pub async fn mark_given_up(
    conn: &mut PgConnection,
    id: i64,
    error: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE outbox SET delivered_at = now(), attempts = attempts + 1,
             last_error = 'given up: ' || $2 WHERE id = $1",
    )
    .bind(id)
    .bind(error)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Records a failed attempt and when to try again.
pub async fn mark_failed(
    conn: &mut PgConnection,
    id: i64,
    error: &str,
    retry_in: std::time::Duration,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE outbox SET attempts = attempts + 1, last_error = $2,
             next_attempt_at = now() + make_interval(secs => $3) WHERE id = $1",
    )
    .bind(id)
    .bind(error)
    .bind(retry_in.as_secs_f64())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The newest undelivered card item of `ticket_id` on `platform` (0 when none).
pub async fn latest_card_item(
    conn: &mut PgConnection,
    ticket_id: i64,
    platform: &str,
) -> Result<i64, sqlx::Error> {
    let (id,): (Option<i64>,) = sqlx::query_as(
        "SELECT max(id) FROM outbox WHERE kind = 'card' AND ticket_id = $1 AND payload->>'platform' = $2
           AND delivered_at IS NULL",
    )
    .bind(ticket_id)
    .bind(platform)
    .fetch_one(&mut *conn)
    .await?;
    Ok(id.unwrap_or(0))
}

/// Marks the undelivered card items of `ticket_id` on `platform` up to `upto` (other than
/// `except`, which the caller marks itself) as delivered: one edit showed their state.
pub async fn mark_cards_coalesced(
    conn: &mut PgConnection,
    ticket_id: i64,
    platform: &str,
    except: i64,
    upto: i64,
) -> Result<u64, sqlx::Error> {
    let r = sqlx::query(
        "UPDATE outbox SET delivered_at = now(), last_error = 'coalesced'
         WHERE kind = 'card' AND ticket_id = $1 AND payload->>'platform' = $2 AND delivered_at IS NULL
           AND id <= $3 AND id <> $4",
    )
    .bind(ticket_id)
    .bind(platform)
    .bind(upto)
    .bind(except)
    .execute(&mut *conn)
    .await?;
    Ok(r.rows_affected())
}

/// Blanks the link of sign-in item `id` (`payload.link`) once it was emailed, so the
/// outbox keeps no usable sign-in token.
///
/// Errors: the database's.
pub async fn scrub_link(conn: &mut PgConnection, id: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE outbox SET payload = jsonb_set(payload, '{link}', '\"\"') WHERE id = $1
           AND kind = 'signin_link'",
    )
    .bind(id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Undelivered items: `(count, oldest age in seconds)`.
pub async fn backlog(conn: &mut PgConnection) -> Result<(i64, f64), sqlx::Error> {
    sqlx::query_as(
        "SELECT count(*), COALESCE(EXTRACT(EPOCH FROM now() - min(created_at))::float8, 0)
         FROM outbox WHERE delivered_at IS NULL",
    )
    .fetch_one(&mut *conn)
    .await
}

/// Attempts recorded so far and creation time of outbox row `id` (`None`: no such row).
/// Read by the worker in the transaction that holds the row.
pub async fn attempts_and_created_at(
    conn: &mut PgConnection,
    id: i64,
) -> Result<Option<(i32, chrono::DateTime<chrono::Utc>)>, sqlx::Error> {
    sqlx::query_as("SELECT attempts, created_at FROM outbox WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut *conn)
        .await
}
