//! Message content through a real Dovecot and Postgres: an HTML-only mail becomes readable
//! text with its sanitised HTML kept; a mail with two attachments stores both (rows, SHA-256,
//! bytea or blob files named by SHA-256); a mail over `intake.max_message_bytes` still becomes
//! a ticket, with a flagged note naming what was not stored and its first bytes kept, and is
//! not fetched again; an RFC 2047 iso-2022-jp subject decodes.

mod support;

use base64::Engine;
use claimdesk::config::AttachmentStore;
use claimdesk::desk::Ingested;
use sha2::{Digest, Sha256};
use support::harness::*;

const LIMIT: u64 = 64 * 1024;

fn b64(bytes: &[u8]) -> String {
    let s = base64::engine::general_purpose::STANDARD.encode(bytes);
    s.as_bytes()
        .chunks(76)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join("\r\n")
}

/// Deterministic, incompressible-looking test bytes.
fn bytes(n: usize, seed: u8) -> Vec<u8> {
    (0..n)
        .map(|i| ((i as u64 * 2_654_435_761 + u64::from(seed)) >> 7) as u8)
        .collect()
}

/// `(name, content_type, size, sha256, store, content)` of an attachment row.
type AttachmentRow = (Option<String>, String, i64, String, String, Option<Vec<u8>>);

fn sha(b: &[u8]) -> String {
    hex::encode(Sha256::digest(b))
}

fn html_only() -> Vec<u8> {
    format!(
        "From: Hana <hana@customer.example>\r\nTo: {SUPPORT}\r\nSubject: HTML only\r\n\
Message-ID: <html@customer.example>\r\nMIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\n\r\n\
<html><head><style>body{{color:red}}</style></head><body><p>Hello&nbsp;support,</p>\
<p>my invoice is wrong.<br>Please see <a href=\"https://billing.example/inv/7\">invoice 7</a> &amp; fix it.</p>\
<script>alert('x')</script><p onclick=\"steal()\">Thanks</p></body></html>\r\n"
    )
    .into_bytes()
}

fn with_attachments(message_id: &str, a: &[u8], b: &[u8]) -> Vec<u8> {
    format!(
        "From: Dana <dana@customer.example>\r\nTo: {SUPPORT}\r\nSubject: Two files\r\n\
Message-ID: <{message_id}>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"XX\"\r\n\r\n\
--XX\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nLogs attached.\r\n\
--XX\r\nContent-Type: application/pdf; name=\"report.pdf\"\r\nContent-Disposition: attachment; filename=\"report.pdf\"\r\n\
Content-Transfer-Encoding: base64\r\n\r\n{}\r\n\
--XX\r\nContent-Type: image/png\r\nContent-Disposition: attachment; filename*=utf-8''Bildschirmfoto%20%C3%BC.png\r\n\
Content-Transfer-Encoding: base64\r\n\r\n{}\r\n--XX--\r\n",
        b64(a),
        b64(b)
    )
    .into_bytes()
}

fn over_limit(big: &[u8]) -> Vec<u8> {
    format!(
        "From: Olaf <olaf@customer.example>\r\nTo: {SUPPORT}\r\nSubject: Huge logs\r\n\
Message-ID: <huge@customer.example>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"YY\"\r\n\r\n\
--YY\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nThe server crashed, full dump attached.\r\n\
--YY\r\nContent-Type: application/octet-stream; name=\"core.dump\"\r\nContent-Disposition: attachment; filename=\"core.dump\"\r\n\
Content-Transfer-Encoding: base64\r\n\r\n{}\r\n--YY--\r\n",
        b64(big)
    )
    .into_bytes()
}

fn japanese_subject() -> Vec<u8> {
    format!(
        "From: Taro <taro@customer.example>\r\nTo: {SUPPORT}\r\n\
Subject: =?iso-2022-jp?b?GyRCRnxLXDhsJE43b0w+GyhC?=\r\nMessage-ID: <jp@customer.example>\r\n\
MIME-Version: 1.0\r\nContent-Type: text/plain; charset=iso-2022-jp\r\nContent-Transfer-Encoding: base64\r\n\r\n\
GyRCJDMkcyRLJEEkTyEiJVclaiVzJT8hPCQsMnUkbCReJDckPyEjGyhC\r\n"
    )
    .into_bytes()
}

async fn ticket_of(pool: &sqlx::PgPool, message_id: &str) -> (i64, i64, String) {
    sqlx::query_as(
        "SELECT m.id, t.id, t.number FROM messages m JOIN tickets t ON t.id = m.ticket_id
         WHERE m.message_id = $1",
    )
    .bind(message_id)
    .fetch_one(pool)
    .await
    .expect("message stored")
}

#[tokio::test]
async fn html_attachments_over_limit_and_charsets_through_dovecot() {
    let mut env = env(Platforms {
        slack: false,
        discord: false,
    })
    .await;
    env.settings.intake.max_message_bytes = LIMIT;
    env.settings.intake.attachments.store = AttachmentStore::Database;
    let app = env.app().await;
    let pool = app.desk.pool().clone();

    let pdf = bytes(3000, 1);
    let png = bytes(5000, 2);
    let big = bytes(200_000, 3);
    let huge = over_limit(&big);
    assert!(huge.len() as u64 > LIMIT * 3);
    let mails = vec![
        html_only(),
        with_attachments("two@customer.example", &pdf, &png),
        huge.clone(),
        japanese_subject(),
    ];
    env.dovecot
        .append_many("INBOX", &mails)
        .await
        .expect("append");
    let reports = app.intake_once().await.expect("intake runs");
    let report = reports[0].1.as_ref().expect("mailbox fetched");
    assert_eq!((report.fetched, report.created), (4, 4), "{report:?}");

    // HTML-only: readable text for chat, sanitised HTML kept.
    let (body, html): (String, Option<String>) = sqlx::query_as(
        "SELECT body_text, body_html FROM messages WHERE message_id = 'html@customer.example'",
    )
    .fetch_one(&pool)
    .await
    .expect("html message");
    assert_eq!(
        body,
        "Hello support,\n\nmy invoice is wrong.\nPlease see invoice 7 (https://billing.example/inv/7) & fix it.\n\nThanks"
    );
    let html = html.expect("sanitised HTML kept");
    assert!(
        html.contains("href=\"https://billing.example/inv/7\""),
        "{html}"
    );
    assert!(
        !html.contains("script") && !html.contains("onclick"),
        "{html}"
    );

    // Two attachments: rows with name, type, size, SHA-256 and the bytes in Postgres.
    let (mid, tid, number) = ticket_of(&pool, "two@customer.example").await;
    let rows: Vec<AttachmentRow> = sqlx::query_as(
        "SELECT name, content_type, size, sha256, store, content FROM attachments
             WHERE message_id = $1 ORDER BY position",
    )
    .bind(mid)
    .fetch_all(&pool)
    .await
    .expect("attachment rows");
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].0.as_deref(), Some("report.pdf"));
    assert_eq!(rows[0].1, "application/pdf");
    assert_eq!(rows[0].2, 3000);
    assert_eq!(rows[0].3, sha(&pdf));
    assert_eq!(rows[0].4, "database");
    assert_eq!(rows[0].5.as_deref(), Some(&pdf[..]));
    assert_eq!(rows[1].0.as_deref(), Some("Bildschirmfoto ü.png"));
    assert_eq!(rows[1].1, "image/png");
    assert_eq!(rows[1].3, sha(&png));
    assert_eq!(rows[1].5.as_deref(), Some(&png[..]));
    let detail = app.desk.show(&number).await.expect("ticket show");
    let listed: Vec<(Option<String>, i64)> = detail.messages[0]
        .attachments
        .iter()
        .map(|a| (a.name.clone(), a.size))
        .collect();
    assert_eq!(
        listed,
        vec![
            (Some("report.pdf".into()), 3000),
            (Some("Bildschirmfoto ü.png".into()), 5000)
        ]
    );
    let card = app
        .desk
        .card_view(tid)
        .await
        .expect("card")
        .expect("ticket");
    assert_eq!(card.attachment_count, 2);
    assert!(
        claimdesk::desk::messages::from_line(&card, claimdesk::desk::messages::Mention::Plain)
            .ends_with("📎 2 attachments")
    );
    let msg = app.desk.message(mid).await.expect("db").expect("message");
    assert!(claimdesk::desk::messages::thread_entry(
        &number,
        &msg,
        claimdesk::desk::messages::Mention::Plain
    )
    .contains("📎 2 attachments"));

    // Over the limit: a ticket with the text, no attachment stored, a flagged note, the first
    // LIMIT bytes of the raw message kept and the full size recorded.
    let (mid, tid, _) = ticket_of(&pool, "huge@customer.example").await;
    let (body, raw, raw_size, truncated): (String, Vec<u8>, i32, bool) = sqlx::query_as(
        "SELECT body_text, raw, raw_size, raw_truncated FROM messages WHERE id = $1",
    )
    .bind(mid)
    .fetch_one(&pool)
    .await
    .expect("huge message");
    assert_eq!(body.trim(), "The server crashed, full dump attached.");
    assert!(truncated);
    assert_eq!(raw_size as usize, huge.len());
    assert_eq!(raw, huge[..LIMIT as usize].to_vec());
    let (n,): (i64,) = sqlx::query_as("SELECT count(*) FROM attachments WHERE message_id = $1")
        .bind(mid)
        .fetch_one(&pool)
        .await
        .expect("count");
    assert_eq!(n, 0);
    let notes: Vec<(String, bool, Option<i64>)> =
        sqlx::query_as("SELECT body, flagged, author_agent_id FROM notes WHERE ticket_id = $1")
            .bind(tid)
            .fetch_all(&pool)
            .await
            .expect("notes");
    assert_eq!(notes.len(), 1, "{notes:?}");
    let (note, flagged, author) = &notes[0];
    assert!(*flagged && author.is_none());
    assert!(
        note.contains(&format!(
            "is {} bytes, over the limit of {LIMIT} bytes",
            huge.len()
        )),
        "{note}"
    );
    assert!(
        note.contains("core.dump (application/octet-stream"),
        "{note}"
    );
    assert!(note.contains("mailbox support at UID 3"), "{note}");

    // iso-2022-jp encoded word and body.
    let (_, tid, _) = ticket_of(&pool, "jp@customer.example").await;
    let (subject,): (String,) = sqlx::query_as("SELECT subject FROM tickets WHERE id = $1")
        .bind(tid)
        .fetch_one(&pool)
        .await
        .expect("subject");
    assert_eq!(subject, "日本語の件名");

    // Nothing quarantined, and nothing is fetched again (the over-limit UID does not loop).
    let (q,): (i64,) = sqlx::query_as("SELECT count(*) FROM quarantine")
        .fetch_one(&pool)
        .await
        .expect("count");
    assert_eq!(q, 0);
    let again = app.intake_once().await.expect("second run");
    assert_eq!(again[0].1.as_ref().expect("fetched").fetched, 0);
}

#[tokio::test]
async fn directory_mode_writes_blobs_named_by_sha256_once() {
    let mut env = env(Platforms {
        slack: false,
        discord: false,
    })
    .await;
    let dir = tempfile::tempdir().expect("temp dir");
    env.settings.intake.attachments.store = AttachmentStore::Directory;
    env.settings.intake.attachments.dir = dir.path().join("blobs");
    let app = env.app().await;
    let pool = app.desk.pool().clone();
    let pdf = bytes(4000, 7);
    let png = bytes(6000, 8);
    env.dovecot
        .append_many(
            "INBOX",
            &[
                with_attachments("d1@customer.example", &pdf, &png),
                // The same two files again in another message: stored once on disk.
                with_attachments("d2@customer.example", &pdf, &png),
            ],
        )
        .await
        .expect("append");
    app.intake_once().await.expect("intake runs");
    let rows: Vec<(String, String, Option<Vec<u8>>)> =
        sqlx::query_as("SELECT sha256, store, content FROM attachments ORDER BY id")
            .fetch_all(&pool)
            .await
            .expect("rows");
    assert_eq!(rows.len(), 4);
    for (hash, store, content) in &rows {
        assert_eq!(store, "directory");
        assert!(content.is_none());
        let file = std::fs::read(dir.path().join("blobs").join(hash)).expect("blob file exists");
        assert_eq!(&sha(&file), hash);
    }
    assert_eq!(rows[0].0, sha(&pdf));
    assert_eq!(rows[1].0, sha(&png));
    let files: Vec<_> = std::fs::read_dir(dir.path().join("blobs"))
        .expect("blob dir")
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(files.len(), 2, "one file per distinct content: {files:?}");

    // A message ingested twice (same Message-ID) adds no attachment rows.
    let raw = with_attachments("d1@customer.example", &pdf, &png);
    let again = app
        .desk
        .ingest(
            claimdesk::desk::Source {
                mailbox: "support",
                uidvalidity: 1,
                uid: 99,
            },
            &raw,
        )
        .await
        .expect("ingest");
    assert_eq!(again, Ingested::Duplicate);
    let (n,): (i64,) = sqlx::query_as("SELECT count(*) FROM attachments")
        .fetch_one(&pool)
        .await
        .expect("count");
    assert_eq!(n, 4);
}
