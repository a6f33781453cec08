//! The `duplicate_copies` table: further copies of an already stored message, and where they
//! were seen (the same email in two of our mailboxes, or a folder re-read after a
//! UIDVALIDITY change).

use sqlx::PgConnection;

/// The mailboxes (with UID) holding recorded extra copies of `message_id`, oldest first.
pub async fn copies_of(
    conn: &mut PgConnection,
    message_id: &str,
) -> Result<Vec<(String, i64)>, sqlx::Error> {
    sqlx::query_as("SELECT mailbox, uid FROM duplicate_copies WHERE message_id = $1 ORDER BY id")
        .bind(message_id)
        .fetch_all(&mut *conn)
        .await
}

/// One further copy of a stored message, for [`record_many`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Copy {
    /// Mailbox name from config.
    pub mailbox: String,
    /// The folder's UIDVALIDITY.
    pub uidvalidity: i64,
    /// The copy's UID.
    pub uid: i64,
    /// The Message-ID it shares with the stored message.
    pub message_id: String,
    /// The ticket the stored message belongs to.
    pub ticket_id: Option<i64>,
}

/// Records `copies` in one statement, in order; a copy recorded before (same mailbox,
/// UIDVALIDITY and UID) keeps its first row, and a "copy" that is the stored message itself
/// (the `messages` row of that Message-ID came from the same mailbox and UID: the same UID
/// read twice, by a replayed batch or by two readers of one mailbox during a failover) is
/// not recorded at all. `messages` keeps no UIDVALIDITY, so after a folder was rebuilt a
/// copy at the very UID number of the original is not recorded either.
///
/// Errors: the database's.
pub async fn record_many(conn: &mut PgConnection, copies: &[Copy]) -> Result<(), sqlx::Error> {
    if copies.is_empty() {
        return Ok(());
    }
    let mailboxes: Vec<&str> = copies.iter().map(|c| c.mailbox.as_str()).collect();
    let validities: Vec<i64> = copies.iter().map(|c| c.uidvalidity).collect();
    let uids: Vec<i64> = copies.iter().map(|c| c.uid).collect();
    let message_ids: Vec<&str> = copies.iter().map(|c| c.message_id.as_str()).collect();
    let tickets: Vec<Option<i64>> = copies.iter().map(|c| c.ticket_id).collect();
    sqlx::query(
        "INSERT INTO duplicate_copies (mailbox, uidvalidity, uid, message_id, ticket_id)
         SELECT mb, v, u, m, t
         FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::text[], $5::bigint[])
             WITH ORDINALITY AS x(mb, v, u, m, t, n)
         WHERE NOT EXISTS (
             SELECT 1 FROM messages s WHERE s.message_id = x.m AND s.mailbox = x.mb AND s.uid = x.u)
         ORDER BY n
         ON CONFLICT (mailbox, uidvalidity, uid) DO NOTHING",
    )
    .bind(&mailboxes)
    .bind(&validities)
    .bind(&uids)
    .bind(&message_ids)
    .bind(&tickets)
    .execute(&mut *conn)
    .await?;
    Ok(())
}
