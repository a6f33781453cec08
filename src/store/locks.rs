//! Transaction-scoped advisory locks (PostgreSQL "Advisory Lock Functions",
//! `pg_advisory_xact_lock`): held until the transaction ends, released on commit or rollback.
//!
//! Every lock the app takes is named here, so one place says which keys exist and what each
//! one serialises:
//!
//! | lock | key | serialises |
//! |---|---|---|
//! | [`THREADING`] | `0x636c_6169_6d64` | ingest and merge: threading keys, ticket numbers |
//! | [`ASSIGNMENT`] | `0x6173_7369_676e` | auto-assignment and draining the pending queue |
//! | [`oauth_refresh`]`(mailbox)` | `hashtextextended('oauth2:' ‖ mailbox, 0)` | one OAuth2 token exchange per mailbox |
//! | [`notify_agent`]`(agent)` | `hashtextextended('notify:' ‖ agent id, 0)` | one notification sweep per agent: their pending notices go out as one DM |
//! | [`GRANTS`] | `hashtextextended('claimdesk:grants', 0)` | the app role's `GRANT`s at start |
//!
//! Replica leases are SESSION advisory locks, `hashtextextended('lease:' ‖ name, 0)`, held on
//! a connection of their own: see `store::leases` and `crate::replicas`.

/// Ingest and merge: while held, no other transaction decides threading (which ticket a
/// message joins) or hands out ticket numbers, so concurrent mailboxes see one another's keys.
pub const THREADING: i64 = 0x636c_6169_6d64;

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
