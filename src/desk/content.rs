//! Message content at ingest: the sanitised HTML body, attachments (in Postgres or a blob
//! directory, per `intake.attachments`), and the per-message size limit
//! (`intake.max_message_bytes`) with its system note.

use crate::config::AttachmentStore;
use crate::intake::parse::{Capped, ParsedEmail};
use crate::store::{self, attachments::Stored, batch::Work};

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

/// The system note for message `message_id` from `src` whose parse hit the limits of
/// `crate::intake::parse` (`capped`, see [`Capped`]): one line per limit, and where the
/// whole message is.
pub fn capped_note(src: Source<'_>, message_id: &str, capped: &Capped) -> String {
    use crate::intake::parse as limits;
    let mut text = format!(
        "⚠️ Message <{message_id}> is larger than claimdesk reads in full; what is shown was cut:"
    );
    if capped.attachments_omitted > 0 {
        text.push_str(&format!(
            "
• {} attachments were not stored (at most {} per message, from its first {} MIME parts).",
            capped.attachments_omitted,
            limits::MAX_ATTACHMENTS,
            limits::MAX_PARTS
        ));
    }
    if capped.parts_total > 0 {
        text.push_str(&format!(
            "
• It has {} MIME parts; only the first {} were looked at.",
            capped.parts_total,
            limits::MAX_PARTS
        ));
    }
    if let Some(n) = capped.body_text_bytes {
        text.push_str(&format!(
            "
• Its text of {} was cut after {}.",
            human_size(i64::try_from(n).unwrap_or(i64::MAX)),
            human_size(i64::try_from(limits::MAX_BODY_TEXT_BYTES).unwrap_or(i64::MAX))
        ));
    }
    if let Some(n) = capped.subject_bytes {
        text.push_str(&format!(
            "
• Its subject of {n} bytes was cut after {} bytes.",
            limits::MAX_SUBJECT_BYTES
        ));
    }
    if capped.html_simplified {
        text.push_str(
            "
• Its HTML was too large or too deeply nested to render; its text is shown without formatting.",
        );
    }
    text.push_str(&format!(
        "
The whole message is stored raw and stays in mailbox {} at UID {} (UIDVALIDITY {}).",
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
        if p.capped.loses_content() {
            // Rare: the ordinary queries, on everything queued so far (as below).
            let text = capped_note(src, &p.message_id, &p.capped);
            let conn = work.direct().await?;
            let note = store::notes::insert(conn, ticket_id, None, &text, true).await?;
            tracing::warn!(
                mailbox = src.mailbox,
                uid = src.uid,
                capped = ?p.capped,
                "message over parse limits; parts of it were left out (the raw message is whole)"
            );
            self.sink(conn).cards(ticket_id).await?;
            self.sink(conn).thread_notes(ticket_id, note).await?;
        }
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
            self.sink(conn).cards(ticket_id).await?;
            self.sink(conn).thread_notes(ticket_id, note).await?;
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
        let capped = Capped {
            attachments_omitted: 9_900,
            parts_total: 10_001,
            html_simplified: true,
            ..Capped::default()
        };
        let note = capped_note(src, "m@x", &capped);
        assert!(note.contains("9900 attachments were not stored"), "{note}");
        assert!(note.contains("10001 MIME parts"), "{note}");
        assert!(note.contains("too deeply nested"), "{note}");
        assert!(!note.contains("subject"), "{note}");
        let bare = over_limit_note(src, "m@x", 300_000, 100_000, &[]);
        assert!(bare.contains("message of 300000 bytes after byte 100000"));
    }
}
