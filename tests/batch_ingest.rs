//! A message is decided and stamped the same way whether it arrives in one IMAP batch with
//! the messages before it (`Desk::ingest_batch`, one `store::batch::Work`, rows written at
//! one flush, the tickets it touches answered from the unit of work's caches) or in a run of
//! its own (`Desk::ingest`, the ticket read back from Postgres), against real Postgres.
//!
//! Both desks read the time from the same fixed clock (`Desk::with_clock`), so every
//! timestamp ingest writes must come from it: a timestamp taken from Postgres (`now()`) or
//! a status rule applied differently on one side shows as a difference.

mod support;

use std::sync::Arc;

use chrono::{DateTime, Datelike, TimeZone, Utc};
use claimdesk::app::App;
use claimdesk::desk::{Desk, Fetched, Ingested, Source};
use support::harness::*;

/// The time both desks read.
fn clock_time() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 9, 30, 0)
        .single()
        .expect("a valid date")
}

fn mail(from: &str, message_id: &str, subject: &str, extra: &str, body: &str) -> Vec<u8> {
    format!(
        "From: {from}\r\nTo: {SUPPORT}\r\nSubject: {subject}\r\nMessage-ID: <{message_id}>\r\n\
         Date: Sun, 22 Nov 2026 09:00:00 +0000\r\n{extra}MIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
    )
    .into_bytes()
}

fn src(uid: u32) -> Source<'static> {
    Source {
        mailbox: "support",
        uidvalidity: 1,
        uid,
    }
}

fn fetched(batch: &[Vec<u8>]) -> Vec<Fetched> {
    batch
        .iter()
        .enumerate()
        .map(|(i, raw)| {
            Fetched::new(u32::try_from(i + 1).expect("uid"), raw.clone(), raw.len())
                .received(clock_time())
        })
        .collect()
}

async fn rows(app: &App, sql: &str) -> Vec<String> {
    let rows: Vec<(String,)> = sqlx::query_as(sql)
        .fetch_all(app.desk.pool())
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    rows.into_iter().map(|r| r.0).collect()
}

/// A test environment (Slack on, so cards are queued; no acknowledgements; a requester may
/// close by writing "close"), its app and its desk on the fixed clock.
async fn desk_on_clock() -> (TestEnv, App, Desk) {
    let mut env = env(Platforms {
        slack: true,
        discord: false,
    })
    .await;
    env.settings.mailboxes[0].acknowledge = false;
    env.settings.desk.requester_may_close = true;
    let app = env.app().await;
    let desk = app.desk.clone().with_clock(Arc::new(clock_time));
    (env, app, desk)
}

/// `column` as UTC text to the microsecond (`-` for NULL), whatever the session's zone.
fn ts(column: &str) -> String {
    format!("coalesce(to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US'), '-')")
}

/// [`ts`] of a time known here.
fn ts_of(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S%.6f").to_string()
}

/// Every ticket with its status, holder and every timestamp, by number.
async fn tickets(app: &App) -> Vec<String> {
    let stamps = [
        "created_at",
        "updated_at",
        "claimed_at",
        "holder_active_at",
        "release_warned_at",
        "first_response_at",
        "resolved_at",
        "closed_at",
        "opened_at",
    ]
    .map(ts)
    .join(", ");
    let sql = format!(
        "SELECT concat_ws('|', number, status, coalesce(assignee_id::text, '-'), {stamps})
         FROM tickets ORDER BY number"
    );
    rows(app, &sql).await
}

/// Every message row (our random Message-IDs replaced), with its ticket and time.
async fn message_rows(app: &App) -> Vec<String> {
    rows(
        app,
        "SELECT concat_ws('|', CASE WHEN m.direction = 'outbound' THEN 'ours' ELSE m.message_id END,
             t.number, m.direction, m.from_addr, m.subject, m.body_text, m.raw_size, m.uid,
             to_char(m.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US'),
             to_char(m.received_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US'),
             to_char(m.date_header AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS'),
             array_to_string(m.to_addrs, ','), m.in_reply_to)
         FROM messages m JOIN tickets t ON t.id = m.ticket_id ORDER BY 1",
    )
    .await
}

/// The cards to refresh, as `(ticket, platform)`: a batch queues one card effect per ticket
/// and platform for every change committed with it.
async fn card_effects(app: &App) -> Vec<String> {
    rows(
        app,
        "SELECT DISTINCT t.number || '|' || (o.payload->>'platform') FROM outbox o
         JOIN tickets t ON t.id = o.ticket_id WHERE o.kind = 'card' ORDER BY 1",
    )
    .await
}

/// What each ticket's card shows (`Desk::card_view`), read as of the same instant.
async fn cards(app: &App) -> Vec<claimdesk::desk::CardView> {
    let ids: Vec<(i64,)> = sqlx::query_as("SELECT id FROM tickets ORDER BY number")
        .fetch_all(app.desk.pool())
        .await
        .expect("ticket ids");
    let mut out = Vec::new();
    for (id,) in ids {
        let mut view = app
            .desk
            .card_view(id)
            .await
            .expect("card view")
            .expect("the ticket has a card");
        view.as_of = clock_time();
        out.push(view);
    }
    out
}

#[tokio::test]
async fn an_answer_in_the_batch_of_its_original_stamps_the_ticket_as_one_message_per_run_does() {
    let dana = "Dana <dana@customer.example>";
    let emails = vec![
        mail(dana, "q1@customer.example", "Printer jams", "", "It jams."),
        // The requester's answer closes the ticket: closed_at is stamped.
        mail(
            dana,
            "q2@customer.example",
            "Re: Printer jams",
            "In-Reply-To: <q1@customer.example>\r\nReferences: <q1@customer.example>\r\n",
            "Close.",
        ),
    ];

    let (_one_env, one, one_desk) = desk_on_clock().await;
    let mut per_run = Vec::new();
    for (i, raw) in emails.iter().enumerate() {
        let uid = u32::try_from(i + 1).expect("uid");
        per_run.push(one_desk.ingest(src(uid), raw).await.expect("ingest"));
    }

    let (_batch_env, all, batch_desk) = desk_on_clock().await;
    let together = batch_desk
        .ingest_batch("support", 1, &fetched(&emails))
        .await
        .expect("ingest batch");

    let number = format!("TICK-{}-0001", clock_time().year());
    assert_eq!(
        together,
        vec![
            Ingested::Created(number.clone()),
            Ingested::Joined(number.clone())
        ]
    );
    assert_eq!(together, per_run, "outcomes");

    let want = tickets(&one).await;
    assert_eq!(
        tickets(&all).await,
        want,
        "ticket status, holder and timestamps"
    );
    // Not vacuous: the answer closed the ticket, stamped by the desk's clock.
    let t = ts_of(clock_time());
    assert_eq!(
        want,
        vec![format!("{number}|closed|-|{t}|{t}|-|-|-|-|-|{t}|{t}")],
        "closed by the requester at the clock's time, opened when its mail was received"
    );
    assert_eq!(
        message_rows(&all).await,
        message_rows(&one).await,
        "message rows"
    );
    assert_eq!(message_rows(&one).await.len(), 2);
    assert_eq!(
        card_effects(&all).await,
        card_effects(&one).await,
        "card effects"
    );
    assert_eq!(card_effects(&one).await, vec![format!("{number}|slack")]);
    let card = cards(&one).await;
    assert_eq!(cards(&all).await, card, "what the card shows");
    assert_eq!(card[0].message_count, 2);
    assert_eq!(card[0].last_customer_at, Some(clock_time()));
}

/// The batch, in UID order (UIDs 1, 2, …).
fn messages() -> Vec<Vec<u8>> {
    let year = chrono::Utc::now().year();
    let dana = "Dana <dana@customer.example>";
    let mut v = vec![
        // 1: a new ticket (A).
        mail(dana, "a1@customer.example", "Printer jams", "", "It jams."),
        // 2: the customer's follow-up joins A.
        mail(
            dana,
            "a2@customer.example",
            "Re: Printer jams",
            "In-Reply-To: <a1@customer.example>\r\nReferences: <a1@customer.example>\r\n",
            "Still jams.",
        ),
        // 3: a second copy of message 1.
        mail(dana, "a1@customer.example", "Printer jams", "", "It jams."),
        // 4: an out-of-office reply to A: a note, through the database mid-batch.
        mail(
            "Olly <olly@customer.example>",
            "ooo1@customer.example",
            "Automatic reply: Printer jams",
            "Auto-Submitted: auto-replied\r\nIn-Reply-To: <a2@customer.example>\r\n",
            "I am away.",
        ),
        // 5: a colleague joins A after that, with a Cc.
        mail(
            "Carl <carl@customer.example>",
            "a3@customer.example",
            "Re: Printer jams",
            "Cc: Fay <fay@customer.example>\r\nReferences: <a1@customer.example> <a2@customer.example>\r\n",
            "Same here.",
        ),
        // 6: a second ticket (B).
        mail("Erin <erin@other.example>", "b1@other.example", "VPN down", "", "No VPN."),
        // 7: Dana names both threads: B is Erin's, so they are linked, not merged (a
        // notice in both threads, through the database mid-batch).
        mail(
            dana,
            "ab@customer.example",
            "Re: Printer jams",
            "References: <a1@customer.example> <b1@other.example>\r\n",
            "Both at once.",
        ),
        // 8: Erin's reply to B stays on B.
        mail(
            "Erin <erin@other.example>",
            "b2@other.example",
            "Re: VPN down",
            "In-Reply-To: <b1@other.example>\r\n",
            "Still no VPN.",
        ),
        // 9: no message at all.
        Vec::new(),
        // 10: no sender.
        b"Subject: who?\r\nMessage-ID: <nofrom@x.example>\r\n\r\nbody\r\n".to_vec(),
        // 11: a stranger naming A by its tag: a new ticket linked to A.
        mail(
            "Stan <stan@else.example>",
            "s1@else.example",
            &format!("Re: [TICK-{year}-0001] Printer jams"),
            "",
            "Me too?",
        ),
        // 12: a made-up Message-ID in our own domain.
        mail(
            "Mallory <m@evil.example>",
            "tick-2026-0001.x.y@claimdesk.local",
            "hello",
            "",
            "hi",
        ),
    ];
    // 13–19: one sender opening seven tickets: acknowledged up to the hourly limit, then
    // flagged as a suspected loop once.
    for i in 0..7 {
        v.push(mail(
            "Loopy <loopy@bot.example>",
            &format!("loop{i}@bot.example"),
            &format!("Ticket {i}"),
            "",
            "Again.",
        ));
    }
    // 20: a reply to the first of those, after the flag.
    v.push(mail(
        "Loopy <loopy@bot.example>",
        "loopreply@bot.example",
        "Re: Ticket 0",
        "In-Reply-To: <loop0@bot.example>\r\n",
        "More.",
    ));
    // 21: Dana opens a second ticket (C); 22: she names A and C: C is merged into A.
    v.push(mail(dana, "c1@customer.example", "Toner", "", "Empty."));
    v.push(mail(
        dana,
        "ac@customer.example",
        "Re: Toner",
        "References: <a1@customer.example> <c1@customer.example>\r\n",
        "Same printer.",
    ));
    v
}

/// What is stored, with row ids replaced by ticket numbers and our random acknowledgement
/// Message-IDs by a placeholder, one sorted list per table.
async fn state(app: &App) -> Vec<(&'static str, Vec<String>)> {
    let queries: [(&str, &str); 14] = [
        (
            "tickets",
            "SELECT concat_ws('|', number, status, requester_email, requester_name, subject,
                 (SELECT m.number FROM tickets m WHERE m.id = t.merged_into),
                 (SELECT l.number FROM tickets l WHERE l.id = t.linked_ticket), priority, department)
             FROM tickets t ORDER BY 1",
        ),
        (
            "messages",
            "SELECT concat_ws('|', CASE WHEN m.direction = 'outbound' THEN 'ours' ELSE m.message_id END,
                 t.number, m.direction, m.from_addr, m.subject, m.body_text, m.raw_size,
                 m.raw IS NULL, m.raw_truncated, m.body_html IS NULL, m.uid,
                 array_to_string(m.to_addrs, ','), array_to_string(m.references_ids, ','),
                 m.in_reply_to)
             FROM messages m JOIN tickets t ON t.id = m.ticket_id ORDER BY 1",
        ),
        (
            "thread_keys",
            "SELECT concat_ws('|', CASE WHEN k.msg_id LIKE '%@claimdesk.local' THEN 'ours' ELSE k.msg_id END,
                 t.number)
             FROM thread_keys k JOIN tickets t ON t.id = k.ticket_id ORDER BY 1",
        ),
        (
            "participants",
            "SELECT t.number || '|' || p.email FROM ticket_participants p
             JOIN tickets t ON t.id = p.ticket_id ORDER BY 1",
        ),
        (
            "notes",
            "SELECT concat_ws('|', t.number, n.flagged, n.body) FROM notes n
             JOIN tickets t ON t.id = n.ticket_id ORDER BY 1",
        ),
        (
            "noise",
            "SELECT concat_ws('|', n.message_id, t.number, n.kind, length(n.raw)) FROM noise_messages n
             JOIN tickets t ON t.id = n.ticket_id ORDER BY 1",
        ),
        (
            "quarantine",
            "SELECT concat_ws('|', mailbox, uid, reason, raw_sha256) FROM quarantine ORDER BY 1",
        ),
        (
            "duplicates",
            "SELECT concat_ws('|', d.uid, d.message_id, t.number) FROM duplicate_copies d
             LEFT JOIN tickets t ON t.id = d.ticket_id ORDER BY 1",
        ),
        (
            "acknowledgements",
            "SELECT a.sender || '|' || t.number FROM acknowledgements a
             JOIN tickets t ON t.id = a.ticket_id ORDER BY 1",
        ),
        (
            "ticket_links",
            "SELECT concat_ws('|', a.number, b.number, l.reason, l.message_id) FROM ticket_links l
             JOIN tickets a ON a.id = l.low_id JOIN tickets b ON b.id = l.high_id ORDER BY 1",
        ),
        (
            "loop_flags",
            "SELECT sender || '|' || tickets FROM loop_flags ORDER BY 1",
        ),
        (
            "audit",
            "SELECT concat_ws('|', t.number, e.actor, e.surface, e.action, e.before::text,
                 CASE WHEN e.action = 'acknowledgement.queued' THEN '' ELSE e.after::text END)
             FROM audit_events e LEFT JOIN tickets t ON t.id = e.ticket_id ORDER BY 1",
        ),
        // Card effects are queued once per ticket and platform in a batch (one covers every
        // change committed with it), so they are compared as the set of cards to refresh.
        (
            "cards",
            "SELECT DISTINCT t.number || '|' || (o.payload->>'platform') FROM outbox o
             JOIN tickets t ON t.id = o.ticket_id WHERE o.kind = 'card' ORDER BY 1",
        ),
        (
            "other effects",
            "SELECT concat_ws('|', o.kind, t.number, o.payload->>'platform',
                 (SELECT m.message_id FROM messages m WHERE m.id = (o.payload->>'message_id')::bigint
                     AND m.direction = 'inbound'),
                 o.payload->>'auto_submitted', o.payload->>'text',
                 (SELECT n.body FROM notes n WHERE n.id = (o.payload->>'note_id')::bigint))
             FROM outbox o LEFT JOIN tickets t ON t.id = o.ticket_id WHERE o.kind <> 'card' ORDER BY 1",
        ),
    ];
    let mut out = Vec::new();
    for (name, sql) in queries {
        out.push((name, rows(app, sql).await));
    }
    out
}

async fn app_with_acknowledgements() -> (TestEnv, App) {
    let mut env = env(Platforms {
        slack: true,
        discord: false,
    })
    .await;
    env.settings.mailboxes[0].acknowledge = true;
    let app = env.app().await;
    (env, app)
}

/// The unit of work's caches (thread keys, stored Message-IDs, tickets, sender counts, the
/// rows it queued) answer what Postgres answers one message per run, over a batch that mixes
/// the in-memory decisions (new ticket, reply, duplicate, quarantine, acknowledgement, loop
/// flag) with the rare ones that go straight to the database mid-batch (an auto-reply note,
/// a merge, a subject tag from a stranger), each followed by messages that depend on what
/// came before.
#[tokio::test]
async fn a_mixed_batch_decides_every_message_as_one_message_per_run_does() {
    let batch = messages();

    let (_one_env, one) = app_with_acknowledgements().await;
    let mut one_by_one = Vec::new();
    for (i, raw) in batch.iter().enumerate() {
        let uid = u32::try_from(i + 1).expect("uid");
        one_by_one.push(one.desk.ingest(src(uid), raw).await.expect("ingest"));
    }

    let (_batch_env, all) = app_with_acknowledgements().await;
    let fetched: Vec<Fetched> = batch
        .iter()
        .enumerate()
        .map(|(i, raw)| {
            Fetched::new(u32::try_from(i + 1).expect("uid"), raw.clone(), raw.len())
                .received(clock_time())
        })
        .collect();
    let at_once = all
        .desk
        .ingest_batch("support", 1, &fetched)
        .await
        .expect("ingest batch");

    assert_eq!(at_once, one_by_one, "outcomes, message by message");
    // The batch is what the test says it is.
    let year = chrono::Utc::now().year();
    let a = format!("TICK-{year}-0001");
    let b = format!("TICK-{year}-0002");
    assert_eq!(at_once[0], Ingested::Created(a.clone()));
    assert_eq!(at_once[1], Ingested::Joined(a.clone()));
    assert_eq!(at_once[2], Ingested::Duplicate);
    assert_eq!(at_once[3], Ingested::Noted(a.clone()));
    assert_eq!(at_once[4], Ingested::Joined(a.clone()));
    assert_eq!(at_once[5], Ingested::Created(b.clone()));
    assert_eq!(at_once[6], Ingested::Joined(a.clone()));
    assert_eq!(at_once[7], Ingested::Joined(b));
    assert!(matches!(at_once[8], Ingested::Quarantined(_)));
    assert!(matches!(at_once[9], Ingested::Quarantined(_)));
    assert!(matches!(at_once[10], Ingested::Created(_)));
    assert!(matches!(at_once[11], Ingested::Quarantined(_)));
    assert!(at_once[12..19]
        .iter()
        .all(|o| matches!(o, Ingested::Created(_))));
    assert!(matches!(at_once[19], Ingested::Joined(_)));
    assert!(matches!(at_once[20], Ingested::Created(_)));
    assert_eq!(at_once[21], Ingested::Joined(a.clone()));

    let expected = state(&one).await;
    let got = state(&all).await;
    for ((name, want), (_, have)) in expected.iter().zip(&got) {
        assert_eq!(have, want, "table {name}: batch vs one at a time");
    }
    // Not vacuous: the rare paths and the in-memory ones all left rows.
    let count = |name: &str| {
        got.iter()
            .find(|(n, _)| *n == name)
            .map_or(0, |(_, r)| r.len())
    };
    assert_eq!(count("quarantine"), 3);
    assert_eq!(count("duplicates"), 1);
    assert_eq!(count("noise"), 1);
    assert_eq!(
        count("acknowledgements"),
        7,
        "4 tickets of people + 3 of loopy's 7"
    );
    assert_eq!(count("ticket_links"), 1, "A and B, named together by Dana");
    assert_eq!(count("loop_flags"), 1);
    assert!(got
        .iter()
        .any(|(n, r)| *n == "tickets" && r.iter().any(|t| t.contains(&format!("|{a}|")))));

    // The cursors agree too.
    let cursor = |app: &App| {
        let pool = app.desk.pool().clone();
        async move {
            let (u,): (i64,) =
                sqlx::query_as("SELECT last_uid FROM mailbox_cursors WHERE mailbox = 'support'")
                    .fetch_one(&pool)
                    .await
                    .expect("cursor");
            u
        }
    };
    assert_eq!(cursor(&all).await, 22);
    assert_eq!(cursor(&one).await, 22);
}
