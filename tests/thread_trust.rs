//! Threading trusts only what proves itself (issue 10), against real Postgres: automatic
//! messages get the same sender check as a person's mail (a genuine bounce of our reply still
//! proves itself by our signed Message-ID), msg-ids naming tickets of different requesters
//! link them instead of merging, `merge <ticket> <into>` merges by hand (audited, admins or a
//! member holding both), and with `intake.trust_authentication_results` a From that our own
//! server says failed DMARC is never trusted for a subject tag or plus-address.

mod support;

use claimdesk::app::App;
use claimdesk::chat::commands;
use claimdesk::desk::{Ingested, Surface};
use support::harness::*;

const STRANGER: &str = claimdesk::desk::messages::STRANGER_AUTOMATIC;

/// An email from `from` to `to` with extra header lines `extra` (each ending in CRLF) at the
/// top of the header section, where a receiving server puts its trace fields.
fn email(from: &str, to: &str, message_id: &str, subject: &str, extra: &str) -> Vec<u8> {
    format!(
        "{extra}From: {from}\r\nTo: {to}\r\nSubject: {subject}\r\nMessage-ID: <{message_id}>\r\n\
         Date: Sun, 22 Nov 2026 09:00:00 +0000\r\nMIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\nHello.\r\n"
    )
    .into_bytes()
}

async fn ingest(app: &App, uid: u32, raw: &[u8]) -> Ingested {
    app.desk.ingest(src(uid), raw).await.expect("ingest")
}

async fn id_of(app: &App, number: &str) -> i64 {
    let (id,): (i64,) = sqlx::query_as("SELECT id FROM tickets WHERE number = $1")
        .bind(number)
        .fetch_one(app.desk.pool())
        .await
        .expect("ticket id");
    id
}

async fn notes_on(app: &App, number: &str) -> Vec<String> {
    let rows: Vec<(String,)> = sqlx::query_as(
        "SELECT n.body FROM notes n JOIN tickets t ON t.id = n.ticket_id WHERE t.number = $1
         ORDER BY n.id",
    )
    .bind(number)
    .fetch_all(app.desk.pool())
    .await
    .expect("notes");
    rows.into_iter().map(|r| r.0).collect()
}

fn no_platforms() -> Platforms {
    Platforms {
        slack: false,
        discord: false,
    }
}

/// An RFC 3464 delivery report about `original`, from the customer's MTA.
fn dsn(id: &str, original: &str, subject: &str) -> Vec<u8> {
    format!(
        "From: Mail Delivery System <MAILER-DAEMON@mx.customer.example>\r\nTo: {SUPPORT}\r\n\
         Subject: {subject}\r\nMessage-ID: <{id}>\r\nAuto-Submitted: auto-replied\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\r\n\r\n\
         --B\r\nContent-Type: text/plain\r\n\r\nThe mailbox does not exist.\r\n\
         --B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.customer.example\r\n\r\n\
         Final-Recipient: rfc822; dana@customer.example\r\nAction: failed\r\nStatus: 5.1.1\r\n\
         --B\r\nContent-Type: text/rfc822-headers\r\n\r\nFrom: {SUPPORT}\r\nTo: dana@customer.example\r\n\
         Message-ID: <{original}>\r\nSubject: Re: Printer\r\n\
         --B--\r\n"
    )
    .into_bytes()
}

#[tokio::test]
async fn automatic_messages_get_the_same_sender_check_as_people() {
    let env = db_only(no_platforms()).await;
    let app = env.app().await;
    let t1 = open_ticket(&app, 1, "d1@customer.example", "Printer", "It jams.").await;
    let plus = SUPPORT.replace('@', &format!("+{t1}@"));
    let domain = app.settings.desk.message_id_domain.clone();
    let forged = format!("{}.x.00000000000000000000@{domain}", t1.to_lowercase());

    // A stranger's automatic messages naming the ticket, every way a tag can be carried and
    // every kind of "automatic": none becomes a note on it.
    let cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "auto-replied + subject tag",
            email(
                "Eve <eve@evil.example>",
                SUPPORT,
                "ar1@evil.example",
                &format!("Automatic reply: [{t1}] Printer"),
                "Auto-Submitted: auto-replied\r\n",
            ),
        ),
        (
            "auto-generated + plus-address",
            email(
                "eve@evil.example",
                &plus,
                "ar2@evil.example",
                "Out of office",
                "Auto-Submitted: auto-generated\r\n",
            ),
        ),
        (
            "X-Autoreply + tag + forged id of ours",
            email(
                "eve@evil.example",
                SUPPORT,
                "ar3@evil.example",
                &format!("Re: [{t1}]"),
                &format!("X-Autoreply: yes\r\nIn-Reply-To: <{forged}>\r\n"),
            ),
        ),
        (
            "null Return-Path + Delivered-To plus-address",
            email(
                "eve@evil.example",
                "someone@evil.example",
                "ar4@evil.example",
                "Away",
                &format!("Return-Path: <>\r\nDelivered-To: {plus}\r\n"),
            ),
        ),
    ];
    for (uid, (what, raw)) in (10..).zip(&cases) {
        let got = ingest(&app, uid, raw).await;
        assert_eq!(got, Ingested::Quarantined(STRANGER.into()), "{what}");
    }
    assert!(notes_on(&app, &t1).await.is_empty(), "no note on {t1}");
    assert_eq!(
        count(
            &app,
            &format!("SELECT count(*) FROM quarantine WHERE reason = '{STRANGER}'")
        )
        .await,
        cases.len() as i64
    );
    // A delivery report naming only a forged id of ours is no bounce of our mail either.
    let r = ingest(
        &app,
        20,
        &dsn("dsn0@mx.customer.example", &forged, "Undelivered"),
    )
    .await;
    assert!(matches!(r, Ingested::Quarantined(_)), "{r:?}");
    assert!(notes_on(&app, &t1).await.is_empty());

    // The requester's own out-of-office naming her ticket is a note, as before.
    let ooo = email(
        "dana@customer.example",
        SUPPORT,
        "ooo@customer.example",
        &format!("Automatic reply: [{t1}]"),
        "Auto-Submitted: auto-replied\r\n",
    );
    assert_eq!(ingest(&app, 21, &ooo).await, Ingested::Noted(t1.clone()));

    // A genuine bounce of our reply proves itself by the signed Message-ID it returns, from
    // whatever address the customer's MTA uses, with or without a tag.
    let ana = actor(&app, "ana", Surface::Cli).await;
    let reply = app.desk.reply(&ana, &t1, "Try this.").await.expect("reply");
    let bounce = dsn(
        "dsn1@mx.customer.example",
        &reply.message_id,
        "Undelivered Mail Returned to Sender",
    );
    assert_eq!(ingest(&app, 22, &bounce).await, Ingested::Noted(t1.clone()));
    // … and so does an auto-reply threaded to our reply by In-Reply-To, from anyone.
    let threaded = email(
        "Assistant <assistant@customer.example>",
        SUPPORT,
        "ar5@customer.example",
        "Automatic reply: Printer",
        &format!(
            "Auto-Submitted: auto-replied\r\nIn-Reply-To: <{}>\r\n",
            reply.message_id
        ),
    );
    assert_eq!(
        ingest(&app, 23, &threaded).await,
        Ingested::Noted(t1.clone())
    );
    assert_eq!(notes_on(&app, &t1).await.len(), 3);

    // The next ordinary email is a ticket, and the stranger's tickets count is nil.
    let next = email(
        "fay@customer.example",
        SUPPORT,
        "f1@customer.example",
        "Hi",
        "",
    );
    assert!(matches!(
        ingest(&app, 24, &next).await,
        Ingested::Created(_)
    ));
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM tickets WHERE requester_email = 'eve@evil.example'"
        )
        .await,
        0
    );
}

#[tokio::test]
async fn references_across_requesters_link_the_tickets_and_replies_stay_apart() {
    let env = db_only(Platforms {
        slack: true,
        discord: false,
    })
    .await;
    let app = env.app().await;
    let dana = open_ticket(&app, 1, "d1@customer.example", "Invoice", "Wrong total.").await;
    let raw = email("eve@evil.example", SUPPORT, "e1@evil.example", "Hello", "");
    let Ingested::Created(eve) = ingest(&app, 2, &raw).await else {
        panic!("Eve's first mail opens her ticket");
    };

    // Eve names Dana's Message-ID and her own: her message goes to her own ticket; the two
    // are linked, not merged.
    let raw = email(
        "eve@evil.example",
        SUPPORT,
        "e2@evil.example",
        "Re: Invoice",
        "References: <d1@customer.example> <e1@evil.example>\r\n",
    );
    assert_eq!(ingest(&app, 3, &raw).await, Ingested::Joined(eve.clone()));
    let (d, e) = (id_of(&app, &dana).await, id_of(&app, &eve).await);
    assert_eq!(
        count(
            &app,
            &format!(
                "SELECT count(*) FROM ticket_links WHERE low_id = {} AND high_id = {}",
                d.min(e),
                d.max(e)
            )
        )
        .await,
        1
    );
    let shown = app.desk.show(&dana).await.expect("show");
    assert_eq!(shown.summary.status, "open", "not merged");
    assert_eq!(shown.summary.message_count, 1);
    assert_eq!(
        app.desk
            .show(&eve)
            .await
            .expect("show")
            .summary
            .message_count,
        2
    );
    // Both threads get the notice with the command that merges them.
    for (here, other) in [(&dana, &eve), (&eve, &dana)] {
        let notes = notes_on(&app, here).await;
        assert_eq!(notes.len(), 1, "{here}: {notes:?}");
        assert!(
            notes[0].contains(&format!("this thread names {other} from another sender"))
                || notes[0].contains(&format!("This thread names {other} from another sender")),
            "{}",
            notes[0]
        );
        assert!(
            notes[0].contains(&format!("merge {eve} {dana}")),
            "{}",
            notes[0]
        );
    }
    assert_eq!(
        count(
            &app,
            &format!(
                "SELECT count(*) FROM outbox WHERE kind = 'thread_note' AND ticket_id IN ({d}, {e})"
            )
        )
        .await,
        2,
        "the notice goes to both card threads"
    );
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM audit_events WHERE action = 'ticket.linked'"
        )
        .await,
        2
    );
    // Naming both again links nothing new and says nothing again.
    let raw = email(
        "eve@evil.example",
        SUPPORT,
        "e3@evil.example",
        "Re: Invoice",
        "References: <d1@customer.example> <e2@evil.example>\r\n",
    );
    assert_eq!(ingest(&app, 4, &raw).await, Ingested::Joined(eve.clone()));
    assert_eq!(notes_on(&app, &dana).await.len(), 1);

    // Dana's own follow-up still threads to her ticket.
    let raw = email(
        "Dana <dana@customer.example>",
        SUPPORT,
        "d2@customer.example",
        "Re: Invoice",
        "In-Reply-To: <d1@customer.example>\r\n",
    );
    assert_eq!(ingest(&app, 5, &raw).await, Ingested::Joined(dana.clone()));

    // A third stranger naming both opens a ticket of her own, linked to both.
    let raw = email(
        "mallory@evil.example",
        SUPPORT,
        "m1@evil.example",
        "Re: Invoice",
        "References: <d1@customer.example> <e1@evil.example>\r\n",
    );
    let Ingested::Created(mal) = ingest(&app, 6, &raw).await else {
        panic!("a stranger to both threads opens her own ticket");
    };
    assert_eq!(
        app.desk
            .show(&mal)
            .await
            .expect("show")
            .summary
            .linked_to
            .as_deref(),
        Some(dana.as_str())
    );
    assert_eq!(count(&app, "SELECT count(*) FROM ticket_links").await, 3);

    // Replies go to each ticket's own requester only.
    let ana = actor(&app, "ana", Surface::Cli).await;
    for (number, requester) in [
        (&dana, "dana@customer.example"),
        (&eve, "eve@evil.example"),
        (&mal, "mallory@evil.example"),
    ] {
        let r = app
            .desk
            .reply(&ana, number, "Looking into it.")
            .await
            .expect("reply");
        assert_eq!(r.to, requester);
        let rows: Vec<(Vec<String>,)> =
            sqlx::query_as("SELECT to_addrs FROM messages WHERE message_id = $1")
                .bind(&r.message_id)
                .fetch_all(app.desk.pool())
                .await
                .expect("outgoing");
        assert_eq!(rows, vec![(vec![requester.to_string()],)]);
    }
}

#[tokio::test]
async fn references_within_one_requester_still_merge() {
    let env = db_only(no_platforms()).await;
    let app = env.app().await;
    let a = open_ticket(&app, 1, "d1@customer.example", "Printer", "It jams.").await;
    let b = open_ticket(&app, 2, "d2@customer.example", "Scanner", "Dead.").await;
    // Another spelling of the same address names both: merged into the oldest.
    let raw = email(
        "DANA@Customer.Example",
        SUPPORT,
        "d3@customer.example",
        "Re: both",
        "References: <d1@customer.example> <d2@customer.example>\r\n",
    );
    assert_eq!(ingest(&app, 3, &raw).await, Ingested::Joined(a.clone()));
    let merged = app.desk.show(&b).await.expect("show");
    assert_eq!(merged.summary.status, "merged");
    assert_eq!(
        app.desk.show(&a).await.expect("show").summary.message_count,
        3
    );
    assert_eq!(count(&app, "SELECT count(*) FROM ticket_links").await, 0);
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM audit_events WHERE action = 'ticket.merged' AND actor = 'system'"
        )
        .await,
        1
    );
}

/// Runs `text` as typed on the console (the parser every surface shares) as `who`.
async fn run(app: &App, who: &claimdesk::desk::Actor, text: &str) -> String {
    let (name, args) = text.split_once(' ').unwrap_or((text, ""));
    let cmd = commands::parse(name, args).expect("parses");
    commands::execute(&app.desk, who, cmd).await
}

#[tokio::test]
async fn the_merge_command_merges_by_hand_audited_for_admins_or_holders_of_both() {
    let env = db_only(no_platforms()).await;
    let app = env.app().await;
    let dana = open_ticket(&app, 1, "d1@customer.example", "Invoice", "Wrong.").await;
    let raw = email(
        "erin@other.example",
        SUPPORT,
        "e1@other.example",
        "Invoice",
        "",
    );
    let Ingested::Created(erin) = ingest(&app, 2, &raw).await else {
        panic!("a ticket");
    };
    let ana = actor(&app, "ana", Surface::Console).await;
    let ben = actor(&app, "ben", Surface::Slack).await;
    let erin_dana = format!("merge {erin} {dana}");

    // A member holding neither (or one) may not.
    let out = run(&app, &ben, &erin_dana).await;
    assert!(
        out.contains("an admin, or an agent who holds both"),
        "{out}"
    );
    app.desk.claim(&ben, &dana).await.expect("claim");
    let out = run(&app, &ben, &erin_dana).await;
    assert!(
        out.contains("an admin, or an agent who holds both"),
        "{out}"
    );
    assert_eq!(
        app.desk.show(&erin).await.expect("show").summary.status,
        "open"
    );
    // Into itself, or a ticket that does not exist: explained.
    let itself = format!("merge {dana} {dana}");
    assert!(run(&app, &ana, &itself).await.contains("into itself"));
    let out = run(&app, &ana, "merge TICK-1999-0099 TICK-1999-0098").await;
    assert!(
        out.contains("no ticket") || out.contains("There is no ticket"),
        "{out}"
    );

    // The admin merges Erin's ticket into Dana's from the console.
    let out = run(&app, &ana, &erin_dana).await;
    assert!(
        out.contains(&format!("{erin} is merged into {dana}")),
        "{out}"
    );
    assert!(out.contains("dana@customer.example"), "{out}");
    let shown = app.desk.show(&erin).await.expect("show");
    assert_eq!(shown.summary.status, "merged");
    assert_eq!(
        app.desk
            .show(&dana)
            .await
            .expect("show")
            .summary
            .message_count,
        2
    );
    let audit: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT action, actor, surface FROM audit_events
         WHERE action IN ('ticket.merged', 'ticket.merged_in') ORDER BY id",
    )
    .fetch_all(app.desk.pool())
    .await
    .expect("audit");
    assert_eq!(
        audit,
        vec![
            ("ticket.merged".into(), "ana".into(), "console".into()),
            ("ticket.merged_in".into(), "ana".into(), "console".into()),
        ]
    );
    // Again: it was merged already.
    let out = run(&app, &ana, &erin_dana).await;
    assert!(out.contains("was merged into"), "{out}");
    // A later mail on Erin's thread lands on the merged ticket.
    let raw = email(
        "erin@other.example",
        SUPPORT,
        "e2@other.example",
        "Re: Invoice",
        "In-Reply-To: <e1@other.example>\r\n",
    );
    assert_eq!(ingest(&app, 3, &raw).await, Ingested::Joined(dana.clone()));

    // A member holding both may merge them.
    let x = open_ticket(&app, 4, "x1@customer.example", "X", "x").await;
    let y = open_ticket(&app, 5, "y1@customer.example", "Y", "y").await;
    app.desk.claim(&ben, &x).await.expect("claim");
    app.desk.claim(&ben, &y).await.expect("claim");
    let out = run(&app, &ben, &format!("merge {y} into {x}")).await;
    assert!(out.contains(&format!("{y} is merged into {x}")), "{out}");
}

#[tokio::test]
async fn dmarc_from_our_own_server_decides_whether_a_tag_is_trusted() {
    let mut env = db_only(no_platforms()).await;
    for wrong in ["", " ", "mx.claimdesk.test; dmarc=pass", "two words"] {
        let mut s = env.settings.clone();
        s.intake.trust_authentication_results = Some(wrong.into());
        assert!(s.validate().is_err(), "`{wrong}` is refused");
    }
    env.settings.intake.trust_authentication_results = Some("mx.claimdesk.test".into());
    env.settings.validate().expect("an authserv-id is accepted");
    let app = env.app().await;
    let dana = "Dana <dana@customer.example>";
    let opened = email(
        dana,
        SUPPORT,
        "d1@customer.example",
        "Invoice",
        "Authentication-Results: mx.claimdesk.test; dmarc=pass header.from=customer.example\r\n",
    );
    let Ingested::Created(t1) = ingest(&app, 1, &opened).await else {
        panic!("a ticket");
    };
    let plus = SUPPORT.replace('@', &format!("+{t1}@"));
    let subject = format!("Re: [{t1}] Invoice");
    let ours_pass =
        "Authentication-Results: mx.claimdesk.test;\r\n spf=pass smtp.mailfrom=customer.example;\r\n dmarc=pass (p=reject) header.from=customer.example\r\n";
    let ours_fail =
        "Authentication-Results: mx.claimdesk.test; dmarc=fail (p=none) header.from=customer.example\r\n";
    let theirs_pass =
        "Authentication-Results: mx.evil.example; dmarc=pass header.from=customer.example\r\n";
    // (what, To, extra header lines, joins t1)
    let cases: Vec<(&str, &str, String, bool)> = vec![
        ("our pass", SUPPORT, ours_pass.into(), true),
        ("our pass, plus-address", plus.as_str(), ours_pass.into(), true),
        ("our fail", SUPPORT, ours_fail.into(), false),
        ("our fail, plus-address", plus.as_str(), ours_fail.into(), false),
        ("no field of ours", SUPPORT, String::new(), false),
        ("another server's pass only", SUPPORT, theirs_pass.into(), false),
        (
            "a forged pass of ours below our fail",
            SUPPORT,
            format!("{ours_fail}Received: from evil by mx.claimdesk.test\r\n{ours_pass}"),
            false,
        ),
        (
            "dmarc=none (no policy) is no proof",
            SUPPORT,
            "Authentication-Results: mx.claimdesk.test; dmarc=none header.from=customer.example\r\n"
                .into(),
            false,
        ),
    ];
    for (uid, (what, to, extra, joins)) in (10..).zip(&cases) {
        let raw = email(
            dana,
            to,
            &format!("case{uid}@customer.example"),
            &subject,
            extra,
        );
        let got = ingest(&app, uid, &raw).await;
        if *joins {
            assert_eq!(got, Ingested::Joined(t1.clone()), "{what}");
        } else {
            let Ingested::Created(n) = &got else {
                panic!("{what}: {got:?}");
            };
            assert_eq!(
                app.desk
                    .show(n)
                    .await
                    .expect("show")
                    .summary
                    .linked_to
                    .as_deref(),
                Some(t1.as_str()),
                "{what}"
            );
        }
    }
    // A failed DMARC still threads through a signed id of ours: that proves itself.
    let ana = actor(&app, "ana", Surface::Cli).await;
    let reply = app.desk.reply(&ana, &t1, "Fixed.").await.expect("reply");
    let raw = email(
        dana,
        SUPPORT,
        "d9@customer.example",
        "Re: Invoice",
        &format!("{ours_fail}In-Reply-To: <{}>\r\n", reply.message_id),
    );
    assert_eq!(ingest(&app, 30, &raw).await, Ingested::Joined(t1.clone()));
    // An automatic message from the requester with a failed DMARC is a stranger's too.
    let raw = email(
        dana,
        SUPPORT,
        "ooo@customer.example",
        &format!("Automatic reply: [{t1}]"),
        &format!("{ours_fail}Auto-Submitted: auto-replied\r\n"),
    );
    assert_eq!(
        ingest(&app, 31, &raw).await,
        Ingested::Quarantined(STRANGER.into())
    );
}

#[tokio::test]
async fn tickets_opened_by_naming_another_count_toward_the_loop_limit() {
    // A tag from a stranger is looked up in the database mid-batch (the unit of work flushes
    // and forgets what it read); the ticket it then opens must still count for its sender.
    let mut env = db_only(no_platforms()).await;
    env.settings.mailboxes[0].acknowledge = true;
    env.settings.noise.acks_per_sender_per_hour = 100;
    env.settings.noise.loop_tickets = 3;
    let app = env.app().await;
    let t1 = open_ticket(&app, 1, "d1@customer.example", "Invoice", "Wrong.").await;
    for i in 0..5u32 {
        let raw = email(
            "eve@evil.example",
            SUPPORT,
            &format!("e{i}@evil.example"),
            &format!("Re: [{t1}] please"),
            "",
        );
        let got = ingest(&app, 10 + i, &raw).await;
        assert!(matches!(got, Ingested::Created(_)), "{got:?}");
    }
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM acknowledgements WHERE sender = 'eve@evil.example'"
        )
        .await,
        3,
        "acknowledged up to the loop threshold only"
    );
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM loop_flags WHERE sender = 'eve@evil.example'"
        )
        .await,
        1
    );
}

#[tokio::test]
async fn merge_is_reachable_from_slack_and_discord() {
    let env = db_only(Platforms {
        slack: true,
        discord: true,
    })
    .await;
    let app = env.app().await;
    let web = app.start_web().await.expect("web");
    let a = open_ticket(&app, 1, "d1@customer.example", "One", "x").await;
    let b = open_ticket(&app, 2, "d2@customer.example", "Two", "y").await;
    let c = open_ticket(&app, 3, "d3@customer.example", "Three", "z").await;

    // Slack: `/desk merge B A`, answered privately.
    let (code, answer) = slack_post(
        web.addr,
        "/slack/commands",
        &slash_command("/desk", &format!("merge {b} {a}"), ANA_SLACK),
        SLACK_SECRET,
        0,
    )
    .await;
    assert_eq!(code, 200, "{answer}");
    assert!(
        answer.contains(&format!("{b} is merged into {a}")),
        "{answer}"
    );

    // Discord: `/merge ticket:C into:A`.
    let (_, r) = discord_post(
        web.addr,
        &env.discord_signer,
        &discord_command(ANA_DISCORD, "merge", &[("ticket", &c), ("into", &a)]),
        false,
    )
    .await;
    let content = r["data"]["content"].as_str().unwrap_or("");
    assert!(content.contains(&format!("{c} is merged into {a}")), "{r}");

    let audit: Vec<(String, String)> = sqlx::query_as(
        "SELECT actor, surface FROM audit_events WHERE action = 'ticket.merged' ORDER BY id",
    )
    .fetch_all(app.desk.pool())
    .await
    .expect("audit");
    assert_eq!(
        audit,
        vec![
            ("ana".to_string(), "slack".to_string()),
            ("ana".to_string(), "discord".to_string()),
        ]
    );
    for t in [&b, &c] {
        assert_eq!(
            app.desk.show(t).await.expect("show").summary.status,
            "merged"
        );
    }
}
