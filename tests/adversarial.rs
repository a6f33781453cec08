//! Issue 10's adversarial corpus (`tests/support/adversarial.rs`) against a real Dovecot and
//! Postgres: each hostile case is appended followed by an ordinary customer email, and one
//! intake run (`App::intake_once`) must end with no panic or abort, every message of the
//! case stored as a ticket message (or note) or quarantined with a reason, the mailbox
//! cursor past all of them, and the ordinary email after each case a ticket of its own.

mod support;

use support::adversarial::{case, ordinary, ordinary_id};
use support::harness::*;

/// Appends the named cases, each followed by its ordinary email, runs intake once and checks
/// the outcome of every message.
async fn run(names: &[&str]) {
    let env = env(Platforms {
        slack: false,
        discord: false,
    })
    .await;
    let app = env.app().await;
    let pool = app.desk.pool().clone();
    // (case, first UID, number of case messages); UIDs of a fresh mailbox start at 1.
    let mut layout = Vec::new();
    let mut uid = 1i64;
    for name in names {
        let mut msgs = (case(name).make)();
        let n = msgs.len() as i64;
        msgs.push(ordinary(name));
        env.dovecot
            .append_many("INBOX", &msgs)
            .await
            .unwrap_or_else(|e| panic!("{name}: append: {e:#}"));
        layout.push((*name, uid, n));
        uid += n + 1;
    }
    let total = uid - 1;
    let started = std::time::Instant::now();
    let reports = app.intake_once().await.expect("intake runs");
    // Quadratic parsing took minutes to hours on these inputs; linear takes seconds even
    // unoptimised on a loaded machine.
    assert!(
        started.elapsed() < std::time::Duration::from_secs(180),
        "intake took {:?}",
        started.elapsed()
    );
    let report = reports[0].1.as_ref().expect("the mailbox is fetched");
    assert_eq!(report.fetched as i64, total, "{report:?}");

    for (name, first, n) in layout {
        for uid in first..first + n {
            let stored: Option<(i64,)> =
                sqlx::query_as("SELECT ticket_id FROM messages WHERE uid = $1")
                    .bind(uid)
                    .fetch_optional(&pool)
                    .await
                    .expect("query messages");
            let quarantined: Option<(String,)> =
                sqlx::query_as("SELECT reason FROM quarantine WHERE uid = $1")
                    .bind(uid)
                    .fetch_optional(&pool)
                    .await
                    .expect("query quarantine");
            assert!(
                stored.is_some() || quarantined.as_ref().is_some_and(|(r,)| !r.is_empty()),
                "{name}: message at UID {uid} is neither stored nor quarantined with a reason"
            );
        }
        let (requester, ticket_messages): (String, i64) = sqlx::query_as(
            "SELECT t.requester_email, (SELECT count(*) FROM messages x WHERE x.ticket_id = t.id)
             FROM messages m JOIN tickets t ON t.id = m.ticket_id WHERE m.message_id = $1",
        )
        .bind(ordinary_id(name))
        .fetch_one(&pool)
        .await
        .unwrap_or_else(|e| panic!("{name}: the ordinary email after it is no ticket: {e}"));
        assert_eq!(requester, "olga@customer.example", "{name}");
        assert_eq!(
            ticket_messages, 1,
            "{name}: the ordinary email joined another ticket"
        );
    }
    let (cursor,): (Option<i64>,) = sqlx::query_as("SELECT max(last_uid) FROM mailbox_cursors")
        .fetch_one(&pool)
        .await
        .expect("cursor");
    assert_eq!(cursor, Some(total), "cursor past every message");
}

/// Hostile header fields and bodies: NUL bytes, a 10 KB From, a 1 MB subject, invalid UTF-8
/// in every header, bare CR line ends, 1 MB header lines, chat mention and link injection.
#[tokio::test]
async fn hostile_headers_and_bodies() {
    run(&[
        "nul_bytes",
        "from_10kb",
        "subject_1mb",
        "invalid_utf8_headers",
        "bare_cr",
        "header_lines_1mb",
        "mention_link_injection",
    ])
    .await;
}

/// Inputs that were quadratic: 100,000 References, 1,000,000 ids in a body.
#[tokio::test]
async fn long_id_lists() {
    run(&["references_100k", "ids_1m_in_body"]).await;
}

/// Nesting that would overflow the stack or take quadratic time: 100,000-deep HTML, 10,000
/// MIME parts, message/rfc822 nested 1,000 deep.
#[tokio::test]
async fn deep_nesting_and_many_parts() {
    run(&["html_100k_deep", "mime_parts_10k", "rfc822_nested_1000"]).await;
}

/// Three 25 MB messages in one batch.
#[tokio::test]
async fn three_25_mb_attachments_in_one_batch() {
    run(&["attachments_25mb_x3"]).await;
}
