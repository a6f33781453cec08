//! Message content at ingest: the sanitised HTML body, attachments (in Postgres or a blob
//! directory, per `intake.attachments`), and the per-message size limit
//! (`intake.max_message_bytes`) with its system note.

use crate::config::AttachmentStore;
use crate::intake::parse::ParsedEmail;
use crate::store::{self, attachments::Stored, batch::Work, outbox::Effect};

use super::{ingest::Source, Desk};

/// `bytes` for people: `812 B`, `40.0 KB`, `1.2 MB`, `3.4 GB` (powers of 1024).
pub fn human_size(bytes: i64) -> String {
    const UNITS: [&str; 4] = ["B", "KB", "MB", "GB"];
    let mut v = bytes as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

/// `a.pdf (application/pdf, 1.2 MB)`.
pub fn attachment_label(name: &str, content_type: &str, size: i64) -> String {
    format!("{name} ({content_type}, {})", human_size(size))
}

/// The system note for a message of `size` bytes over `limit` from `src`, whose first
/// `limit` bytes showed `attachments` as `(name, type, bytes seen)`.
pub fn over_limit_note(
    src: Source<'_>,
    message_id: &str,
    size: u64,
    limit: u64,
    attachments: &[(String, String, i64)],
) -> String {
    let mut text = format!(
        "⚠️ Message <{message_id}> is {size} bytes, over the limit of {limit} bytes \
         (intake.max_message_bytes): only its first {limit} bytes were read and kept, \
         and its attachments were not stored."
    );
    if attachments.is_empty() {
        text.push_str(&format!(
            "\nNot stored: the message of {size} bytes after byte {limit}."
        ));
    } else {
        text.push_str("\nNot stored (sizes as far as the bytes read show):");
        for (name, ty, n) in attachments {
            text.push_str(&format!("\n• {}", attachment_label(name, ty, *n)));
        }
    }
    text.push_str(&format!(
        "\nThe whole message stays in mailbox {} at UID {} (UIDVALIDITY {}).",
        src.mailbox, src.uid, src.uidvalidity
    ));
    text
}

impl Desk {
    /// The largest message stored whole, bytes (`intake.max_message_bytes`).
    pub fn max_message_bytes(&self) -> u64 {
        self.max_message_bytes
    }

    /// The first bytes of `raw` that are kept: all of it, or the first `max_message_bytes`.
    pub(super) fn kept_raw<'r>(&self, raw: &'r [u8]) -> &'r [u8] {
        let limit = usize::try_from(self.max_message_bytes).unwrap_or(usize::MAX);
        &raw[..raw.len().min(limit)]
    }

    /// Stores what a new inbound message carries besides its text, after its `messages` row
    /// `message_row` was inserted: the sanitised HTML, and either its attachments (under the
    /// limit) or, over the limit, a flagged system note on `ticket_id` naming what was not
    /// stored (queued for the card threads after a card refresh, so the card comes first).
    ///
    /// Errors: the database fails, or a blob cannot be written (reported as
    /// [`sqlx::Error::Io`]); the caller's transaction then rolls back and the message is
    /// fetched again.
    pub(super) async fn store_content<'a>(
        &self,
        work: &mut Work<'_, 'a>,
        src: Source<'_>,
        ticket_id: i64,
        message_row: i64,
        p: &'a ParsedEmail,
        raw_truncated: bool,
    ) -> Result<(), sqlx::Error> {
        work.set_content(message_row, p.body_html.as_deref(), raw_truncated)
            .await?;
        let size = u64::try_from(p.raw_size).unwrap_or(u64::MAX);
        if size > self.max_message_bytes {
            let seen: Vec<(String, String, i64)> = p
                .attachments
                .iter()
                .map(|a| {
                    (
                        a.display_name(),
                        a.content_type.clone(),
                        i64::try_from(a.content.len()).unwrap_or(i64::MAX),
                    )
                })
                .collect();
            let text = over_limit_note(src, &p.message_id, size, self.max_message_bytes, &seen);
            // Rare: the ordinary queries, on everything queued so far.
            let conn = work.direct().await?;
            let note = store::notes::insert(conn, ticket_id, None, &text, true).await?;
            tracing::warn!(
                mailbox = src.mailbox,
                uid = src.uid,
                size,
                limit = self.max_message_bytes,
                "message over the size limit; attachments not stored"
            );
            self.refresh_cards(conn, ticket_id).await?;
            self.on_every_platform(conn, ticket_id, |platform| Effect::ThreadNote {
                platform,
                note_id: note,
            })
            .await?;
            return Ok(());
        }
        for (i, a) in p.attachments.iter().enumerate() {
            let stored = match self.attachments.store {
                AttachmentStore::Database => Stored::Database,
                AttachmentStore::Directory => {
                    store::attachments::write_blob(&self.attachments.dir, &a.sha256, &a.content)
                        .await
                        .map_err(sqlx::Error::Io)?;
                    Stored::Directory
                }
            };
            work.add_attachment(store::attachments::NewAttachment {
                message_id: message_row,
                position: i32::try_from(i).unwrap_or(i32::MAX),
                name: a.name.as_deref(),
                content_type: &a.content_type,
                size: i64::try_from(a.content.len()).unwrap_or(i64::MAX),
                sha256: &a.sha256,
                stored,
                content: Some(&a.content),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_like_people_write_them() {
        assert_eq!(human_size(812), "812 B");
        assert_eq!(human_size(40 * 1024), "40.0 KB");
        assert_eq!(human_size(1_258_291), "1.2 MB");
        assert_eq!(
            attachment_label("a.pdf", "application/pdf", 2048),
            "a.pdf (application/pdf, 2.0 KB)"
        );
    }

    #[test]
    fn over_limit_note_names_sizes_attachments_and_where_the_message_is() {
        let src = Source {
            mailbox: "support",
            uidvalidity: 7,
            uid: 42,
        };
        let note = over_limit_note(
            src,
            "m@x",
            300_000,
            100_000,
            &[("big.bin".into(), "application/octet-stream".into(), 60_000)],
        );
        assert!(note.contains("is 300000 bytes, over the limit of 100000 bytes"));
        assert!(note.contains("big.bin (application/octet-stream, 58.6 KB)"));
        assert!(note.contains("mailbox support at UID 42"));
        let bare = over_limit_note(src, "m@x", 300_000, 100_000, &[]);
        assert!(bare.contains("message of 300000 bytes after byte 100000"));
    }
}
