//! Transaction-scoped advisory locks (PostgreSQL "Advisory Lock Functions",
//! `pg_advisory_xact_lock`, `pg_advisory_xact_lock_shared`): held until the transaction
//! ends, released on commit or rollback.
//!
//! Every lock the app takes is named here, so one place says which keys exist and what each
//! one serialises:
//!
//! | lock | key | serialises |
//! |---|---|---|
//! | [`msg_id`]`(id)` | `hashtextextended('msgid:' ‖ id, 0)` | ingest: deciding and storing anything keyed by that msg-id (a Message-ID stored once, a thread key pointing at one ticket) |
//! | [`sender`]`(address)` | `hashtextextended('sender:' ‖ lower(address), 0)` | ingest: one sender's loop window, acknowledgement counts and loop flags |
//! | [`named_ticket`]`(number)` | `hashtextextended('ticket:' ‖ number, 0)` | ingest: messages that name one ticket by subject tag or plus-address |
//! | [`INGEST`] | `hashtextextended('claimdesk:ingest', 0)` | shared by every ingest batch; exclusive for a batch with more than [`MAX_KEY_LOCKS`] keys, which then excludes all other ingest |
//! | [`ASSIGNMENT`] | `0x6173_7369_676e` | auto-assignment and draining the pending queue |
//! | [`oauth_refresh`]`(mailbox)` | `hashtextextended('oauth2:' ‖ mailbox, 0)` | one OAuth2 token exchange per mailbox |
//! | [`notify_agent`]`(agent)` | `hashtextextended('notify:' ‖ agent id, 0)` | one notification sweep per agent: their pending notices go out as one DM |
//! | [`GRANTS`] | `hashtextextended('claimdesk:grants', 0)` | the app role's `GRANT`s at start |
//!
//! Replica leases are SESSION advisory locks, `hashtextextended('lease:' ‖ name, 0)`, held on
//! a connection of their own: see `store::leases` and `crate::replicas`.
//!
//! Tickets themselves are locked by row (`store::tickets::lock_many`, `store::tickets::lock`),
//! not here. Ingest takes its keys ([`hold_all_named_for_transaction`]) in one statement in
//! ascending key order before it reads anything, then ticket rows; see `desk::ingest`.
//!
//! Until issue 13 one global key (`0x636c_6169_6d64`, "THREADING") serialised all ingest and
//! merges; nothing takes it any more.

/// Name of the lock shared by every ingest batch and taken exclusively by a batch whose keys
/// are too many to lock one by one (more than [`MAX_KEY_LOCKS`]).
pub const INGEST: &str = "claimdesk:ingest";

/// The most keys one ingest batch locks one by one. Advisory locks live in the server's
/// shared lock table (about `max_locks_per_transaction × max_connections` entries, 6,400 by
/// default, shared by every session), so a batch never takes more than this many; a batch
/// with more keys takes [`INGEST`] exclusively instead.
pub const MAX_KEY_LOCKS: usize = 1024;

/// Name of the lock on msg-id `id` (`msgid:<id>`): the message's own Message-ID and every id
/// it names in In-Reply-To, References or an enclosed report.
pub fn msg_id(id: &str) -> String {
    format!("msgid:{id}")
}

/// Name of the lock on the sender `address` (`sender:<address, lower-case>`).
pub fn sender(address: &str) -> String {
    format!("sender:{}", address.to_lowercase())
}

/// Name of the lock on the ticket numbered `number` as a message names it (`ticket:<number>`).
pub fn named_ticket(number: &str) -> String {
    format!("ticket:{number}")
}

/// Auto-assignment: while held, no other transaction picks an agent or drains a
/// department's pending queue, so loads are counted once.
pub const ASSIGNMENT: i64 = 0x6173_7369_676e;

/// Name of the lock around the app role's `GRANT`s (concurrent `GRANT`s on one table fail
/// with "tuple concurrently updated"); taken with [`hold_named_for_transaction`].
pub const GRANTS: &str = "claimdesk:grants";

/// Name of the lock around mailbox `mailbox`'s OAuth2 token exchange (`oauth2:<mailbox>`),
/// so two processes never spend one refresh token twice; taken with
/// [`hold_named_for_transaction`].
pub fn oauth_refresh(mailbox: &str) -> String {
    format!("oauth2:{mailbox}")
}

/// Name of the lock around folding agent `agent_id`'s pending notices into a DM
/// (`notify:<id>`), so two replicas' sweeps never split one agent's notices into two DMs;
/// taken with [`hold_named_for_transaction`].
pub fn notify_agent(agent_id: i64) -> String {
    format!("notify:{agent_id}")
}

/// Waits for and takes every advisory lock of `names` (keys as in
/// [`hold_named_for_transaction`]) for the rest of `conn`'s transaction, in one statement,
/// in ascending key order and each once: two transactions taking overlapping sets this way
/// cannot deadlock on them. With `exclusive`, [`INGEST`] is taken exclusively and `names` are
/// not taken (see [`MAX_KEY_LOCKS`]); else [`INGEST`] is taken shared first.
///
/// Errors: the database's (connection lost, statement or lock timeout, deadlock detected
/// with locks taken earlier in the transaction).
pub async fn hold_all_named_for_transaction(
    conn: &mut sqlx::PgConnection,
    names: &[String],
    exclusive: bool,
) -> Result<(), sqlx::Error> {
    if exclusive {
        return sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
            .bind(INGEST)
            .execute(conn)
            .await
            .map(|_| ());
    }
    sqlx::query("SELECT pg_advisory_xact_lock_shared(hashtextextended($1, 0))")
        .bind(INGEST)
        .execute(&mut *conn)
        .await?;
    // The subquery's order is the order the outer query calls the lock function in.
    sqlx::query(
        "SELECT count(pg_advisory_xact_lock(k)) FROM (
             SELECT DISTINCT hashtextextended(x, 0) AS k FROM unnest($1::text[]) AS x ORDER BY 1
         ) AS keys",
    )
    .bind(names)
    .execute(conn)
    .await
    .map(|_| ())
}

/// Waits for and takes the advisory lock `key` for the rest of `conn`'s transaction.
///
/// Errors: the database's (connection lost, statement or lock timeout).
pub async fn hold_for_transaction(
    conn: &mut sqlx::PgConnection,
    key: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(key)
        .execute(conn)
        .await
        .map(|_| ())
}

/// Waits for and takes the advisory lock named `name` (its key is
/// `hashtextextended(name, 0)`, a 64-bit hash computed by the server) for the rest of
/// `conn`'s transaction.
///
/// Errors: the database's (connection lost, statement or lock timeout).
pub async fn hold_named_for_transaction(
    conn: &mut sqlx::PgConnection,
    name: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
        .bind(name)
        .execute(conn)
        .await
        .map(|_| ())
}
