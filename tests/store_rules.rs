//! Rules that only a real database can prove: first-write-wins claims under concurrency,
//! gap-free ticket numbers, the append-only audit trail.

mod support;

use claimdesk::app::App;

use claimdesk::desk::{Actor, DeskError, Surface};
use support::harness::*;

async fn actor(app: &App, handle: &str) -> Actor {
    support::harness::actor(app, handle, Surface::Cli).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_claims_have_exactly_one_winner() {
    let env = env(Platforms {
        slack: false,
        discord: false,
    })
    .await;
    env.dovecot
        .append(
            "INBOX",
            &customer_email("race@customer.example", "Race", "Body", None),
        )
        .await
        .expect("append");
    let app = env.app().await;
    app.intake_once().await.expect("intake");
    let number = app.desk.list().await.expect("list")[0].number.clone();
    let ana = actor(&app, "ana").await;
    let ben = actor(&app, "ben").await;
    let cy = actor(&app, "cy").await;
    let mut tasks = Vec::new();
    for i in 0..60 {
        let desk = app.desk.clone();
        let who = [&ana, &ben, &cy][i % 3].clone();
        let n = number.clone();
        tasks.push(tokio::spawn(async move { desk.claim(&who, &n).await }));
    }
    let mut wins = 0;
    for t in tasks {
        match t.await.expect("task") {
            Ok(_) => wins += 1,
            Err(DeskError::AlreadyClaimed { .. } | DeskError::AlreadyYours(_)) => {}
            Err(e) => panic!("unexpected refusal: {e}"),
        }
    }
    assert_eq!(wins, 1);
    let (claims,): (i64,) =
        sqlx::query_as("SELECT count(*) FROM audit_events WHERE action = 'ticket.claimed'")
            .fetch_one(app.desk.pool())
            .await
            .expect("count");
    assert_eq!(claims, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ticket_numbers_are_gap_free_under_concurrent_intake_and_audit_is_append_only() {
    let env = env(Platforms {
        slack: false,
        discord: false,
    })
    .await;
    let app = env.app().await;
    let mut tasks = Vec::new();
    for i in 0..40u32 {
        let desk = app.desk.clone();
        tasks.push(tokio::spawn(async move {
            let raw = customer_email(
                &format!("n{i}@customer.example"),
                &format!("Q{i}"),
                "Body",
                None,
            );
            desk.ingest(
                claimdesk::desk::Source {
                    mailbox: "support",
                    uidvalidity: 1,
                    uid: i + 1,
                },
                &raw,
            )
            .await
        }));
    }
    for t in tasks {
        t.await.expect("task").expect("ingest");
    }
    let mut seqs: Vec<i32> = app
        .desk
        .list()
        .await
        .expect("list")
        .iter()
        .map(|t| {
            t.number
                .rsplit('-')
                .next()
                .expect("seq")
                .parse()
                .expect("digits")
        })
        .collect();
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=40).collect::<Vec<i32>>());

    let upd = sqlx::query("UPDATE audit_events SET actor = 'mallory'")
        .execute(app.desk.pool())
        .await;
    assert!(upd.is_err(), "audit rows cannot be updated");
    let del = sqlx::query("DELETE FROM audit_events")
        .execute(app.desk.pool())
        .await;
    assert!(del.is_err(), "audit rows cannot be deleted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unparseable_or_senderless_mail_is_quarantined_with_a_reason() {
    let env = env(Platforms {
        slack: false,
        discord: false,
    })
    .await;
    let app = env.app().await;
    let src = |uid| claimdesk::desk::Source {
        mailbox: "support",
        uidvalidity: 7,
        uid,
    };
    let r = app.desk.ingest(src(1), b"").await.expect("ingest");
    assert_eq!(
        r,
        claimdesk::desk::Ingested::Quarantined("not an RFC 822 message".into())
    );
    let r = app
        .desk
        .ingest(src(2), b"Subject: no sender\r\n\r\nbody\r\n")
        .await
        .expect("ingest");
    assert!(
        matches!(r, claimdesk::desk::Ingested::Quarantined(ref why) if why.contains("no sender"))
    );
    let mut conn = app.desk.pool().acquire().await.expect("conn");
    let q = claimdesk::store::quarantine::list(&mut conn)
        .await
        .expect("list");
    assert_eq!(q.len(), 2);
    let cursor = claimdesk::store::cursors::get(&mut conn, "support")
        .await
        .expect("cursor")
        .expect("some");
    assert_eq!(
        (cursor.uidvalidity, cursor.last_uid),
        (7, 2),
        "the cursor moves past quarantined mail"
    );
    assert!(app.desk.list().await.expect("list").is_empty());
}
