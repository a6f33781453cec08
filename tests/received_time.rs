//! Each message keeps the time it reached our server (issue 14): the IMAP INTERNALDATE
//! (RFC 3501 §2.3.3), read from a real Dovecot, not the time claimdesk stored the batch. Its
//! `Date:` header is kept beside it (NULL when absent or unreadable); the ticket opens at its
//! first message's received time; `ticket show` (desk, CLI JSON, chat `ticket`), listings and
//! the chat thread show received times.

mod support;

use chrono::{DateTime, Duration, DurationRound, Utc};
use claimdesk::desk::Surface;
use support::harness::*;

fn mail(message_id: &str, subject: &str, date: Option<&str>, parent: Option<&str>) -> Vec<u8> {
    let mut m = format!(
        "From: Dana <dana@customer.example>\r\nTo: {SUPPORT}\r\nSubject: {subject}\r\n\
         Message-ID: <{message_id}>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
    );
    if let Some(d) = date {
        m.push_str(&format!("Date: {d}\r\n"));
    }
    if let Some(p) = parent {
        m.push_str(&format!("In-Reply-To: <{p}>\r\nReferences: <{p}>\r\n"));
    }
    m.push_str("\r\nThe export fails.\r\n");
    m.into_bytes()
}

/// `(message_id, created_at, received_at, date_header)` of a stored message.
type StoredTimes = (String, DateTime<Utc>, DateTime<Utc>, Option<DateTime<Utc>>);

/// Now, to the second (INTERNALDATE has no fractions).
fn now_s() -> DateTime<Utc> {
    Utc::now()
        .duration_trunc(Duration::seconds(1))
        .expect("truncates")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_keep_their_internaldate_and_tickets_open_at_the_first() {
    let env = env(Platforms {
        slack: true,
        discord: false,
    })
    .await;
    let slack = env.slack.as_ref().expect("slack");
    let app = env.app().await;
    let pool = app.desk.pool().clone();

    // Given a backlog message that reached the server yesterday, and a thread of three
    // messages hours apart: the first with a Date header, the second without, the third with
    // a garbage one — all fetched in one batch today.
    let now = now_s();
    let yesterday = now - Duration::hours(27);
    let t0 = now - Duration::hours(6);
    let times = [t0, t0 + Duration::hours(2), t0 + Duration::hours(4)];
    let claimed_date = t0 - Duration::minutes(3);
    let date_header = claimed_date
        .format("%a, %d %b %Y %H:%M:%S +0000")
        .to_string();
    let messages = vec![
        (
            mail("old@customer.example", "Backlog", Some(&date_header), None),
            yesterday,
        ),
        (
            mail("t1@customer.example", "Export", Some(&date_header), None),
            times[0],
        ),
        (
            mail(
                "t2@customer.example",
                "Re: Export",
                None,
                Some("t1@customer.example"),
            ),
            times[1],
        ),
        (
            mail(
                "t3@customer.example",
                "Re: Export",
                Some("half past never, Thursday-ish"),
                Some("t2@customer.example"),
            ),
            times[2],
        ),
    ];
    env.dovecot
        .append_dated("INBOX", &messages)
        .await
        .expect("append with INTERNALDATEs");

    // When intake fetches them (one batch: one commit time for all four)
    let reports = app.intake_once().await.expect("intake runs");
    let report = reports[0].1.as_ref().expect("mailbox fetched");
    assert_eq!((report.fetched, report.created), (4, 2), "{report:?}");
    let stored: Vec<StoredTimes> = sqlx::query_as(
        "SELECT message_id, created_at, received_at, date_header FROM messages ORDER BY uid",
    )
    .fetch_all(&pool)
    .await
    .expect("messages");
    assert_eq!(stored.len(), 4);
    assert!(
        stored.iter().all(|m| m.1 == stored[0].1),
        "one batch, one stored time: {stored:?}"
    );

    // Then each message keeps its INTERNALDATE, not the batch's time
    let received: Vec<DateTime<Utc>> = stored.iter().map(|m| m.2).collect();
    assert_eq!(received, vec![yesterday, times[0], times[1], times[2]]);
    // … and its Date header only when it had a readable one
    let dates: Vec<Option<DateTime<Utc>>> = stored.iter().map(|m| m.3).collect();
    assert_eq!(
        dates,
        vec![Some(claimed_date), Some(claimed_date), None, None]
    );

    // The tickets open at their first message's received time: the backlog one yesterday.
    let list = app.desk.list().await.expect("list");
    let opened: Vec<(String, String)> = list
        .iter()
        .map(|t| (t.subject.clone(), t.opened_at.clone()))
        .collect();
    assert_eq!(
        opened,
        vec![
            ("Backlog".to_string(), yesterday.to_rfc3339()),
            ("Export".to_string(), t0.to_rfc3339()),
        ]
    );
    // `ticket list --json` carries it.
    let json = serde_json::to_value(&list).expect("json");
    assert_eq!(json[1]["opened_at"], t0.to_rfc3339());

    // `ticket show` gives three distinct times, the INTERNALDATEs.
    let number = list[1].number.clone();
    let shown = app.desk.show(&number).await.expect("show");
    let at: Vec<String> = shown.messages.iter().map(|m| m.at.clone()).collect();
    assert_eq!(at, times.iter().map(|t| t.to_rfc3339()).collect::<Vec<_>>());
    assert_eq!(
        shown.messages[0].date_header,
        Some(claimed_date.to_rfc3339())
    );
    assert_eq!(shown.messages[1].date_header, None);

    // The chat `ticket` answer lists them at those times, and says when it was opened.
    let ana = actor(&app, "ana", Surface::Slack).await;
    let cmd = claimdesk::chat::commands::parse("ticket", &number).expect("parses");
    let answer = claimdesk::chat::commands::execute(&app.desk, &ana, cmd).await;
    let shown_at = |t: DateTime<Utc>| t.format("%Y-%m-%d %H:%M UTC").to_string();
    assert!(
        answer.contains(&format!("opened {}", shown_at(t0))),
        "{answer}"
    );
    for t in times {
        assert!(answer.contains(&format!("📨 {}", shown_at(t))), "{answer}");
    }

    // The thread posts of the follow-ups carry their received times.
    let thread: Vec<String> = slack
        .calls_to("chat.postMessage")
        .into_iter()
        .filter(|c| !c.body["thread_ts"].is_null())
        .filter_map(|c| c.body["text"].as_str().map(str::to_string))
        .filter(|t| t.contains("wrote on"))
        .collect();
    assert_eq!(thread.len(), 2, "{thread:?}");
    assert!(thread[0].contains(&shown_at(times[1])), "{thread:?}");
    assert!(thread[1].contains(&shown_at(times[2])), "{thread:?}");

    // The card's age counts from the first message's arrival, not from the fetch.
    let cards = slack.card_posts();
    let backlog_card = cards
        .iter()
        .map(|c| c.body["blocks"].to_string())
        .find(|b| b.contains("Backlog"))
        .expect("backlog card");
    assert!(
        backlog_card.contains("*Opened*\\n1 d 3 h ago"),
        "{backlog_card}"
    );
}

#[tokio::test]
async fn a_message_ingested_without_internaldate_is_received_at_the_desk_clock() {
    let env = db_only(Platforms {
        slack: false,
        discord: false,
    })
    .await;
    let app = env.app().await;
    let fixed = DateTime::parse_from_rfc3339("2026-11-30T10:15:00Z")
        .expect("time")
        .to_utc();
    let desk = app
        .desk
        .clone()
        .with_clock(std::sync::Arc::new(move || fixed));
    let raw = mail("plain@customer.example", "No server date", None, None);
    desk.ingest(src(1), &raw).await.expect("ingest");
    let (received, opened): (DateTime<Utc>, DateTime<Utc>) = sqlx::query_as(
        "SELECT m.received_at, t.opened_at FROM messages m JOIN tickets t ON t.id = m.ticket_id",
    )
    .fetch_one(desk.pool())
    .await
    .expect("row");
    assert_eq!((received, opened), (fixed, fixed));
}

/// An INTERNALDATE in the future (a server or importer with a wrong clock) is not believed:
/// the message counts as received when it was fetched, so no clock starts in the future.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_internaldate_in_the_future_counts_as_now() {
    let env = env(Platforms {
        slack: false,
        discord: false,
    })
    .await;
    let app = env.app().await;
    let before = now_s();
    env.dovecot
        .append_dated(
            "INBOX",
            &[(
                mail("future@customer.example", "From tomorrow", None, None),
                before + Duration::days(2),
            )],
        )
        .await
        .expect("append with a future INTERNALDATE");
    let reports = app.intake_once().await.expect("intake runs");
    assert_eq!(reports[0].1.as_ref().expect("fetched").created, 1);
    let (received, opened): (DateTime<Utc>, DateTime<Utc>) = sqlx::query_as(
        "SELECT m.received_at, t.opened_at FROM messages m JOIN tickets t ON t.id = m.ticket_id",
    )
    .fetch_one(app.desk.pool())
    .await
    .expect("times");
    let after = Utc::now();
    assert!(
        received >= before && received <= after,
        "{received} not in {before}..{after}"
    );
    assert_eq!(opened, received);
}
