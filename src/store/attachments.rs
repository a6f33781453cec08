//! The `attachments` table: name, media type, size and SHA-256 of every attachment of an
//! inbound message; the content in the row (bytea) or in a file named by the SHA-256 under
//! the configured directory.

use std::path::{Path, PathBuf};

use sqlx::PgConnection;

/// Where one attachment's content went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stored {
    /// In `attachments.content`.
    Database,
    /// In the blob directory, file name = SHA-256 hex.
    Directory,
    /// Not kept: the message was over `intake.max_message_bytes`.
    Skipped,
}

impl Stored {
    /// The `attachments.store` column.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Stored::Database => "database",
            Stored::Directory => "directory",
            Stored::Skipped => "skipped",
        }
    }
}

/// An attachment row to insert.
#[derive(Debug, Clone)]
pub struct NewAttachment<'a> {
    /// `messages.id` of the message it came with.
    pub message_id: i64,
    /// 0-based position among the message's attachments (MIME order).
    pub position: i32,
    /// File name, if the part names one.
    pub name: Option<&'a str>,
    /// `type/subtype`.
    pub content_type: &'a str,
    /// Size of the decoded content, bytes.
    pub size: i64,
    /// SHA-256 of the decoded content, lower-case hex.
    pub sha256: &'a str,
    /// Where the content is.
    pub stored: Stored,
    /// The content, for [`Stored::Database`] only.
    pub content: Option<&'a [u8]>,
}

/// Inserts `rows` in one statement (a second row for the same message and position is
/// ignored); the content goes into a row only for [`Stored::Database`].
///
/// Errors: the database's.
pub async fn insert_many(
    conn: &mut PgConnection,
    rows: &[NewAttachment<'_>],
) -> Result<(), sqlx::Error> {
    if rows.is_empty() {
        return Ok(());
    }
    let messages: Vec<i64> = rows.iter().map(|r| r.message_id).collect();
    let positions: Vec<i32> = rows.iter().map(|r| r.position).collect();
    let names: Vec<Option<&str>> = rows.iter().map(|r| r.name).collect();
    let types: Vec<&str> = rows.iter().map(|r| r.content_type).collect();
    let sizes: Vec<i64> = rows.iter().map(|r| r.size).collect();
    let shas: Vec<&str> = rows.iter().map(|r| r.sha256).collect();
    let stores: Vec<&str> = rows.iter().map(|r| r.stored.as_str()).collect();
    let contents: Vec<Option<&[u8]>> = rows
        .iter()
        .map(|r| r.content.filter(|_| r.stored == Stored::Database))
        .collect();
    sqlx::query(
        "INSERT INTO attachments (message_id, position, name, content_type, size, sha256, store, content)
         SELECT * FROM unnest($1::bigint[], $2::int[], $3::text[], $4::text[], $5::bigint[],
                              $6::text[], $7::text[], $8::bytea[])
         ON CONFLICT (message_id, position) DO NOTHING",
    )
    .bind(&messages)
    .bind(&positions)
    .bind(&names)
    .bind(&types)
    .bind(&sizes)
    .bind(&shas)
    .bind(&stores)
    .bind(&contents)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// An attachment as listed by `ticket show`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AttachmentInfo {
    /// `attachments.id` (the web view's download link).
    #[serde(skip)]
    pub id: i64,
    /// `messages.id`.
    #[serde(skip)]
    pub message_id: i64,
    /// File name, if any.
    pub name: Option<String>,
    /// `type/subtype`.
    pub content_type: String,
    /// Bytes.
    pub size: i64,
    /// SHA-256 hex.
    pub sha256: String,
    /// `database`, `directory` or `skipped` (over the size limit, not kept).
    pub store: String,
}

/// The attachments of every message of ticket `ticket_id`, by message then position.
pub async fn for_ticket(
    conn: &mut PgConnection,
    ticket_id: i64,
) -> Result<Vec<AttachmentInfo>, sqlx::Error> {
    let rows: Vec<(i64, i64, Option<String>, String, i64, String, String)> = sqlx::query_as(
        "SELECT a.id, a.message_id, a.name, a.content_type, a.size, a.sha256, a.store
         FROM attachments a JOIN messages m ON m.id = a.message_id
         WHERE m.ticket_id = $1 ORDER BY a.message_id, a.position",
    )
    .bind(ticket_id)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| AttachmentInfo {
            id: r.0,
            message_id: r.1,
            name: r.2,
            content_type: r.3,
            size: r.4,
            sha256: r.5,
            store: r.6,
        })
        .collect())
}

/// The kept attachments (not `skipped`) of message `message_id` in MIME order:
/// `(attachments.id, size in bytes)`.
pub async fn kept_for_message(
    conn: &mut PgConnection,
    message_id: i64,
) -> Result<Vec<(i64, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, size FROM attachments WHERE message_id = $1 AND store <> 'skipped'
         ORDER BY position",
    )
    .bind(message_id)
    .fetch_all(&mut *conn)
    .await
}

/// The kept attachments of the first inbound message of ticket `ticket_id` (the one its card
/// shows), as [`kept_for_message`].
pub async fn kept_for_first_inbound(
    conn: &mut PgConnection,
    ticket_id: i64,
) -> Result<Vec<(i64, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, size FROM attachments WHERE store <> 'skipped' AND message_id =
           (SELECT min(id) FROM messages WHERE ticket_id = $1 AND direction = 'inbound')
         ORDER BY position",
    )
    .bind(ticket_id)
    .fetch_all(&mut *conn)
    .await
}

/// One attachment row with its content when stored in the row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredFile {
    /// 0-based position among its message's attachments.
    pub position: i32,
    /// File name as the email gave it (hostile), if any.
    pub name: Option<String>,
    /// `type/subtype`.
    pub content_type: String,
    /// Bytes.
    pub size: i64,
    /// SHA-256 hex (the blob's file name for `directory`).
    pub sha256: String,
    /// `database`, `directory` or `skipped`.
    pub store: String,
    /// The content, for `database` only.
    pub content: Option<Vec<u8>>,
}

/// Attachment `id` with its row content; `None` when there is no such row.
pub async fn file(conn: &mut PgConnection, id: i64) -> Result<Option<StoredFile>, sqlx::Error> {
    type Row = (
        i32,
        Option<String>,
        String,
        i64,
        String,
        String,
        Option<Vec<u8>>,
    );
    let row: Option<Row> = sqlx::query_as(
        "SELECT position, name, content_type, size, sha256, store, content
         FROM attachments WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.map(|r| StoredFile {
        position: r.0,
        name: r.1,
        content_type: r.2,
        size: r.3,
        sha256: r.4,
        store: r.5,
        content: r.6,
    }))
}

/// The path of the blob for `sha256` under `dir`.
pub fn blob_path(dir: &Path, sha256: &str) -> PathBuf {
    dir.join(sha256)
}

/// Writes `content` to `dir/<sha256>` unless that file exists (same hash, same content).
/// The file is written under a temporary name, flushed to disk and renamed, so a crash never
/// leaves a partial blob under the final name. A blob written for a transaction that then
/// rolls back stays as an unreferenced file; the retried ingest reuses it.
///
/// Errors: creating the directory or writing the file fails (disk full, permissions).
pub async fn write_blob(dir: &Path, sha256: &str, content: &[u8]) -> std::io::Result<()> {
    let path = blob_path(dir, sha256);
    if tokio::fs::try_exists(&path).await? {
        return Ok(());
    }
    tokio::fs::create_dir_all(dir).await?;
    let tmp = dir.join(format!(".{sha256}.{}.tmp", uuid::Uuid::new_v4()));
    let mut file = tokio::fs::File::create(&tmp).await?;
    tokio::io::AsyncWriteExt::write_all(&mut file, content).await?;
    file.sync_all().await?;
    drop(file);
    tokio::fs::rename(&tmp, &path).await
}
