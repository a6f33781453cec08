//! Loops and noise against real Postgres, Dovecot and the SMTP sink: acknowledgements
//! (RFC 3834 §5 Auto-Submitted, threaded, limited per sender), delivery reports (RFC 3464)
//! that become a flagged note on the bounced ticket, auto-replies that never open a ticket,
//! our own outgoing mail never re-imported, and the suspected-loop notice.

mod support;

use claimdesk::desk::{Ingested, Surface};
use support::harness::*;

fn header<'a>(raw: &'a str, name: &str) -> Option<&'a str> {
    raw.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.eq_ignore_ascii_case(name).then_some(v.trim())
    })
}

fn from_sender(sender: &str, id: &str, subject: &str) -> Vec<u8> {
    format!(
        "From: {sender}\r\nTo: {SUPPORT}\r\nSubject: {subject}\r\nMessage-ID: <{id}>\r\n\
         Date: Sun, 22 Nov 2026 09:00:00 +0000\r\n\r\nPlease help.\r\n"
    )
    .into_bytes()
}

/// An RFC 3464 report about `original` (a msg-id without brackets) from MAILER-DAEMON.
fn dsn(id: &str, original: &str) -> Vec<u8> {
    format!(
        "From: Mail Delivery System <MAILER-DAEMON@mx.customer.example>\r\nReturn-Path: <>\r\n\
         To: {SUPPORT}\r\nSubject: Undelivered Mail Returned to Sender\r\nMessage-ID: <{id}>\r\n\
         Auto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\r\n\r\n\
         --B\r\nContent-Type: text/plain\r\n\r\nThe mailbox dana@customer.example does not exist.\r\n\
         --B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.customer.example\r\n\r\n\
         Final-Recipient: rfc822; dana@customer.example\r\nAction: failed\r\nStatus: 5.1.1\r\n\
         --B\r\nContent-Type: text/rfc822-headers\r\n\r\nFrom: {SUPPORT}\r\nTo: dana@customer.example\r\n\
         Message-ID: <{original}>\r\nSubject: Re: Printer\r\n\
         --B--\r\n"
    )
    .into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_ticket_gets_one_threaded_auto_submitted_acknowledgement_within_the_hourly_limit() {
    let mut env = env(Platforms {
        slack: false,
        discord: false,
    })
    .await;
    env.settings.mailboxes[0].acknowledge = true;
    env.settings.noise.acks_per_sender_per_hour = 2;
    let raws: Vec<Vec<u8>> = (1..=3)
        .map(|i| {
            customer_email(
                &format!("ack{i}@customer.example"),
                &format!("Question {i}"),
                "Hello",
                None,
            )
        })
        .collect();
    env.dovecot
        .append_many("INBOX", &raws)
        .await
        .expect("append");
    let app = env.app().await;
    let runs = app.intake_once().await.expect("intake");
    assert_eq!(runs[0].1.as_ref().expect("fetched").created, 3);

    let mails = env.smtp.received();
    assert_eq!(
        mails.len(),
        2,
        "two acknowledgements, the third is over the limit"
    );
    let first = String::from_utf8_lossy(&mails[0].raw).to_string();
    assert_eq!(header(&first, "Auto-Submitted"), Some("auto-replied"));
    assert_eq!(
        header(&first, "In-Reply-To"),
        Some("<ack1@customer.example>")
    );
    assert!(header(&first, "References").is_some_and(|r| r.contains("<ack1@customer.example>")));
    assert!(header(&first, "Subject").is_some_and(|s| s.contains("[TICK-")));
    assert!(first.contains("We received your request TICK-"), "{first}");
    assert_eq!(mails[0].rcpt_to, vec!["dana@customer.example".to_string()]);

    // A re-read of the mailbox sends nothing again.
    sqlx::query("DELETE FROM mailbox_cursors")
        .execute(app.desk.pool())
        .await
        .expect("reset cursor");
    app.intake_once().await.expect("re-read");
    assert_eq!(env.smtp.received().len(), 2, "acknowledgements sent once");

    // An auto-reply to our acknowledgement joins that ticket as a note: no ticket, no answer,
    // no status change.
    let ack_id = header(&first, "Message-ID")
        .expect("ack has a Message-ID")
        .trim_matches(['<', '>'])
        .to_string();
    let ooo = format!(
        "From: Dana <dana@customer.example>\r\nTo: {SUPPORT}\r\nSubject: Automatic reply: Re: Question 1\r\n\
         Message-ID: <ooo1@customer.example>\r\nIn-Reply-To: <{ack_id}>\r\nAuto-Submitted: auto-replied\r\n\r\n\
         I am out of the office until Monday.\r\n"
    );
    let before = app.desk.list().await.expect("list");
    let r = app
        .desk
        .ingest(src(100), ooo.as_bytes())
        .await
        .expect("ingest");
    assert!(
        matches!(r, Ingested::Noted(ref n) if n == &before[0].number),
        "{r:?}"
    );
    let after = app.desk.list().await.expect("list");
    assert_eq!(after.len(), before.len(), "no ticket opened");
    assert_eq!(after[0].status, before[0].status, "no status change");
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM notes WHERE NOT flagged AND body LIKE 'Automatic reply%'"
        )
        .await,
        1
    );
    // The same auto-reply again adds nothing; one that threads to nothing is quarantined.
    let again = app
        .desk
        .ingest(src(101), ooo.as_bytes())
        .await
        .expect("ingest");
    assert_eq!(again, Ingested::Duplicate);
    let stray = "From: x@elsewhere.example\r\nSubject: Out of Office\r\nMessage-ID: <stray@elsewhere.example>\r\n\
                 Auto-Submitted: auto-replied\r\n\r\naway\r\n";
    let r = app
        .desk
        .ingest(src(102), stray.as_bytes())
        .await
        .expect("ingest");
    assert!(
        matches!(r, Ingested::Quarantined(ref why) if why.contains("automatic reply")),
        "{r:?}"
    );
    app.deliverer.drain().await.expect("drain");
    assert_eq!(env.smtp.received().len(), 2, "no answer to automatic mail");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bounced_reply_becomes_a_flagged_note_and_the_card_says_so() {
    let mut env = env(Platforms {
        slack: true,
        discord: false,
    })
    .await;
    env.settings.mailboxes[0].acknowledge = true;
    let app = env.app().await;
    let number = open_ticket(&app, 1, "printer@customer.example", "Printer", "On fire").await;
    let ana = actor(&app, "ana", Surface::Cli).await;
    let reply = app
        .desk
        .reply(&ana, &number, "Please unplug it.")
        .await
        .expect("reply");
    app.deliverer.drain().await.expect("deliver");
    let sent = env.smtp.received().len();
    assert_eq!(sent, 2, "acknowledgement and reply");

    let status_before = app.desk.show(&number).await.expect("show").summary.status;
    let report = dsn("dsn1@mx.customer.example", &reply.message_id);
    let r = app.desk.ingest(src(2), &report).await.expect("ingest");
    assert_eq!(r, Ingested::Noted(number.clone()));
    let (kept,): (Vec<u8>,) = sqlx::query_as(
        "SELECT raw FROM noise_messages WHERE message_id = 'dsn1@mx.customer.example'",
    )
    .fetch_one(app.desk.pool())
    .await
    .expect("noise row");
    assert_eq!(kept, report, "the report's raw bytes are kept");
    assert_eq!(
        app.desk.list().await.expect("list").len(),
        1,
        "no new ticket"
    );
    assert_eq!(
        app.desk.show(&number).await.expect("show").summary.status,
        status_before
    );
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM notes WHERE flagged AND body LIKE 'Reply bounced%'"
        )
        .await,
        1
    );
    let (tid,): (i64,) = sqlx::query_as("SELECT id FROM tickets")
        .fetch_one(app.desk.pool())
        .await
        .expect("ticket");
    let card = app
        .desk
        .card_view(tid)
        .await
        .expect("card")
        .expect("exists");
    assert!(card.bounced);
    let line =
        claimdesk::desk::messages::status_line(&card, claimdesk::desk::messages::Mention::Plain);
    assert!(line.contains("reply bounced"), "{line}");
    app.deliverer.drain().await.expect("deliver");
    let slack = env.slack.as_ref().expect("slack");
    assert!(
        slack
            .calls_to("chat.update")
            .iter()
            .any(|c| c.body.to_string().contains("reply bounced")),
        "the card edit shows the bounce"
    );
    assert_eq!(slack.violations(), Vec::<String>::new());

    // A report about a message we never sent is quarantined with the reason.
    let r = app
        .desk
        .ingest(
            src(3),
            &dsn("dsn2@mx.customer.example", "someone-else@x.example"),
        )
        .await
        .expect("ingest");
    assert_eq!(
        r,
        Ingested::Quarantined("delivery report for a message we did not send".into())
    );
    app.deliverer.drain().await.expect("deliver");
    assert_eq!(env.smtp.received().len(), sent, "no answer to a bounce");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_own_outgoing_mail_is_never_imported_as_a_ticket() {
    let env = env(Platforms {
        slack: false,
        discord: false,
    })
    .await;
    let app = env.app().await;
    let number = open_ticket(&app, 1, "own@customer.example", "Login", "fails").await;
    let ana = actor(&app, "ana", Surface::Cli).await;
    app.desk
        .reply(&ana, &number, "Try again")
        .await
        .expect("reply");
    app.deliverer.drain().await.expect("deliver");
    let sent = env.smtp.received();
    assert_eq!(sent.len(), 1);
    // The copy of our reply comes back (e.g. Bcc to the support mailbox).
    let r = app.desk.ingest(src(2), &sent[0].raw).await.expect("ingest");
    assert_eq!(r, Ingested::Duplicate);
    // Mail claiming our Message-ID domain that we never sent is quarantined, not a ticket.
    let domain = &env.settings.desk.message_id_domain;
    let forged = from_sender(
        "someone@customer.example",
        &format!("tick-2026-9999.x@{domain}"),
        "Hello",
    );
    let r = app.desk.ingest(src(3), &forged).await.expect("ingest");
    assert!(
        matches!(r, Ingested::Quarantined(ref why) if why.contains("our own outgoing mail")),
        "{r:?}"
    );
    assert_eq!(app.desk.list().await.expect("list").len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sender_opening_too_many_tickets_is_flagged_once_and_gets_no_more_acknowledgements() {
    let mut env = env(Platforms {
        slack: true,
        discord: false,
    })
    .await;
    env.settings.mailboxes[0].acknowledge = true;
    env.settings.noise.acks_per_sender_per_hour = 100;
    env.settings.noise.loop_tickets = 3;
    env.settings.noise.loop_window_minutes = 10;
    let app = env.app().await;
    for i in 1..=6u32 {
        let raw = from_sender(
            "robot@loop.example",
            &format!("loop{i}@loop.example"),
            &format!("Alert {i}"),
        );
        let r = app.desk.ingest(src(i), &raw).await.expect("ingest");
        assert!(matches!(r, Ingested::Created(_)), "{r:?}");
    }
    // Bulk mail from elsewhere is ticketed but never acknowledged.
    let bulk = "From: news@shop.example\r\nTo: support@x\r\nSubject: Deals\r\nMessage-ID: <bulk1@shop.example>\r\n\
                Precedence: bulk\r\n\r\nBuy now\r\n";
    let r = app
        .desk
        .ingest(src(7), bulk.as_bytes())
        .await
        .expect("ingest");
    assert!(matches!(r, Ingested::Created(_)), "{r:?}");
    app.deliverer.drain().await.expect("deliver");
    let acks: Vec<_> = env.smtp.received();
    assert_eq!(acks.len(), 3, "acknowledged up to the loop threshold only");
    assert!(acks
        .iter()
        .all(|m| m.rcpt_to == vec!["robot@loop.example".to_string()]));
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM outbox WHERE kind = 'channel_notice'"
        )
        .await,
        1,
        "flagged once per window"
    );
    let slack = env.slack.as_ref().expect("slack");
    assert!(
        slack.calls_to("chat.postMessage").iter().any(|c| c
            .body
            .to_string()
            .contains("Suspected mail loop: robot@loop.example")),
        "notice posted in the channel"
    );
    assert_eq!(slack.violations(), Vec::<String>::new());
}
