//! Parallel ingest (issue 13): no global lock serialises ingest any more; batches lock what
//! they touch (their msg-ids, senders, named tickets, and ticket rows, see `desk::ingest`,
//! Concurrency), against real Postgres.
//!
//! - a batch of one mailbox commits while another transaction holds the retired global key
//!   and every lock a batch of another mailbox takes (held on purpose, not timed);
//! - the two halves of one thread (a message and its reply; a message and a forwarded copy
//!   with the same Message-ID) arriving at the same instant through two mailboxes, 50 times
//!   behind a barrier, always make one ticket and one stored copy;
//! - many concurrent batches opening tickets get unique numbers, and concurrent merges by the
//!   trust plan and by hand lose nothing;
//! - a UID read twice (a replayed batch, two readers of one mailbox) records no duplicate.

mod support;

use std::sync::Arc;
use std::time::Duration;

use claimdesk::app::App;
use claimdesk::desk::{Desk, Fetched, Ingested, Surface};
use support::harness::*;
use tokio::sync::Barrier;

/// The key the one global ingest lock used to be (`store::locks`, before issue 13).
const OLD_THREADING_KEY: i64 = 0x636c_6169_6d64;

/// An email from `from` with Message-ID `<id>` and, when given, In-Reply-To / References.
fn mail(from: &str, id: &str, subject: &str, refs: &[&str]) -> Vec<u8> {
    let mut h = format!(
        "From: {from}\r\nTo: {SUPPORT}\r\nSubject: {subject}\r\nMessage-ID: <{id}>\r\n\
         Date: Sun, 22 Nov 2026 09:00:00 +0000\r\nMIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\n"
    );
    if let Some(parent) = refs.last() {
        h.push_str(&format!("In-Reply-To: <{parent}>\r\n"));
        let all: Vec<String> = refs.iter().map(|r| format!("<{r}>")).collect();
        h.push_str(&format!("References: {}\r\n", all.join(" ")));
    }
    format!("{h}\r\nHello from {from} about {subject}\r\n").into_bytes()
}

/// `raws` as fetched messages with UIDs `first_uid`, `first_uid + 1`, …
fn fetched(first_uid: u32, raws: &[Vec<u8>]) -> Vec<Fetched> {
    raws.iter()
        .enumerate()
        .map(|(i, raw)| {
            let uid = first_uid + u32::try_from(i).expect("uid");
            Fetched::new(uid, raw.clone(), raw.len())
        })
        .collect()
}

/// A test app with a second mailbox, `sales` (no acknowledgements on either).
async fn two_mailboxes() -> (TestEnv, App) {
    let mut env = db_only(Platforms {
        slack: true,
        discord: false,
    })
    .await;
    let mut sales = env.settings.mailboxes[0].clone();
    sales.name = "sales".into();
    sales.address = "sales@claimdesk.test".into();
    sales.acknowledge = false;
    env.settings.mailboxes.push(sales);
    env.settings.database.max_connections = 12;
    let app = env.app().await;
    (env, app)
}

async fn ingest(desk: &Desk, mailbox: &str, batch: &[Fetched]) -> Vec<Ingested> {
    desk.ingest_isolated(mailbox, 1, batch)
        .await
        .unwrap_or_else(|e| panic!("ingest into {mailbox}: {e}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_commits_while_another_mailboxs_locks_and_the_old_global_key_are_held() {
    let (_env, app) = two_mailboxes().await;
    let desk = app.desk.clone();
    // An existing ticket the held batch would join (so its row lock is held too).
    let first = ingest(
        &desk,
        "support",
        &fetched(1, &[mail("ann@customer.example", "a1@x", "Printer", &[])]),
    )
    .await;
    assert!(matches!(first[0], Ingested::Created(_)), "{first:?}");
    let held_batch = fetched(
        2,
        &[
            mail("ann@customer.example", "a2@x", "Re: Printer", &["a1@x"]),
            mail("bob@customer.example", "b1@x", "Login", &[]),
        ],
    );

    // A transaction that holds the old global key, every advisory lock the `support` batch
    // takes, and the row of the ticket it joins.
    let mut holder = desk.pool().begin().await.expect("begin");
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(OLD_THREADING_KEY)
        .execute(&mut *holder)
        .await
        .expect("old key");
    desk.hold_batch_locks(&mut holder, &held_batch)
        .await
        .expect("the batch's locks");
    let (ticket,): (i64,) =
        sqlx::query_as("SELECT ticket_id FROM messages WHERE message_id = 'a1@x'")
            .fetch_one(&mut *holder)
            .await
            .expect("ticket");
    sqlx::query("SELECT id FROM tickets WHERE id = $1 FOR UPDATE")
        .bind(ticket)
        .execute(&mut *holder)
        .await
        .expect("row lock");

    // The `support` batch itself waits for the holder: Postgres shows it waiting on a lock.
    let blocked = tokio::spawn({
        let desk = desk.clone();
        async move { ingest(&desk, "support", &held_batch).await }
    });
    eventually(30, "the support batch waits for the held locks", || async {
        let waiting = count(
            &app,
            "SELECT count(*) FROM pg_locks WHERE NOT granted AND locktype IN ('advisory', 'transactionid', 'tuple')",
        )
        .await;
        (waiting > 0).then_some(())
    })
    .await;
    assert!(!blocked.is_finished(), "the held batch must wait");

    // An unrelated batch of `sales` commits meanwhile (the timeout only turns a hang into a
    // failure: with the old global lock it waits for the holder forever).
    let other = fetched(
        1,
        &[
            mail("cat@customer.example", "c1@x", "Invoice", &[]),
            mail("dan@customer.example", "d1@x", "Refund", &[]),
            mail("cat@customer.example", "c2@x", "Re: Invoice", &["c1@x"]),
        ],
    );
    let done = tokio::time::timeout(Duration::from_secs(60), ingest(&desk, "sales", &other))
        .await
        .expect("the sales batch commits while the support batch's locks are held");
    assert!(matches!(done[0], Ingested::Created(_)), "{done:?}");
    assert!(matches!(done[1], Ingested::Created(_)), "{done:?}");
    assert!(matches!(done[2], Ingested::Joined(_)), "{done:?}");
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM messages WHERE mailbox = 'sales'"
        )
        .await,
        3,
        "committed"
    );
    assert!(!blocked.is_finished(), "still waiting for the holder");

    holder.rollback().await.expect("release");
    let outcomes = tokio::time::timeout(Duration::from_secs(60), blocked)
        .await
        .expect("the held batch goes on once released")
        .expect("task");
    assert!(matches!(outcomes[0], Ingested::Joined(_)), "{outcomes:?}");
    assert!(matches!(outcomes[1], Ingested::Created(_)), "{outcomes:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_halves_of_a_thread_through_two_mailboxes_at_once_make_one_ticket() {
    let (_env, app) = two_mailboxes().await;
    let desk = app.desk.clone();
    for round in 0..50u32 {
        // Different senders on each side, so that only the msg-id locks order the two.
        let customer = format!("r{round}@customer.example");
        let colleague = format!("s{round}@customer.example");
        // A message and its reply, one through each mailbox, at the same instant.
        let parent = format!("p{round}@x");
        let reply = format!("q{round}@x");
        // A message and a forwarded copy of it (same Message-ID) in the other mailbox.
        let copy = format!("c{round}@x");
        let uid = round * 2 + 1;
        // Four single-message batches behind one barrier: the two races share no lock.
        let thread = [
            mail(&customer, &parent, "Thread", &[]),
            mail(&colleague, &reply, "Re: Thread", &[&parent]),
        ];
        let copies = [
            mail(&customer, &copy, "Copy", &[]),
            mail(&colleague, &copy, "Fwd: Copy", &[]),
        ];
        // Half the rounds put the reply (and the forward) through `support`.
        let (s, o) = if round % 2 == 0 { (0, 1) } else { (1, 0) };
        let barrier = Arc::new(Barrier::new(4));
        let run = |mailbox: &'static str, batch: Vec<Fetched>| {
            let desk = desk.clone();
            let barrier = barrier.clone();
            tokio::spawn(async move {
                barrier.wait().await;
                ingest(&desk, mailbox, &batch).await
            })
        };
        let tasks = [
            run("support", fetched(uid, &thread[s..=s])),
            run("sales", fetched(uid, &thread[o..=o])),
            run("support", fetched(uid + 1, &copies[s..=s])),
            run("sales", fetched(uid + 1, &copies[o..=o])),
        ];
        let mut outcomes = Vec::new();
        for t in tasks {
            outcomes.extend(t.await.expect("task"));
        }
        let (x, y) = (&outcomes[..2], &outcomes[2..]);
        let tickets = count(
            &app,
            &format!(
                "SELECT count(DISTINCT ticket_id) FROM messages WHERE message_id IN ('{parent}', '{reply}')"
            ),
        )
        .await;
        assert_eq!(
            tickets, 1,
            "round {round}: one ticket for the thread ({x:?} / {y:?})"
        );
        assert_eq!(
            count(
                &app,
                &format!(
                    "SELECT count(*) FROM messages WHERE message_id IN ('{parent}', '{reply}')"
                )
            )
            .await,
            2
        );
        assert_eq!(
            count(
                &app,
                &format!("SELECT count(*) FROM messages WHERE message_id = '{copy}'")
            )
            .await,
            1,
            "round {round}: one stored copy"
        );
        assert_eq!(
            count(
                &app,
                &format!("SELECT count(*) FROM duplicate_copies WHERE message_id = '{copy}'")
            )
            .await,
            1,
            "round {round}: the other mailbox's copy is recorded once"
        );
        let opened = outcomes
            .iter()
            .filter(|o| matches!(o, Ingested::Created(_)))
            .count();
        assert_eq!(
            opened, 2,
            "round {round}: the thread and the copied message: {x:?} / {y:?}"
        );
    }
    assert_eq!(count(&app, "SELECT count(*) FROM tickets").await, 100);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_batches_number_uniquely_and_lose_no_merge() {
    let (_env, app) = two_mailboxes().await;
    let desk = app.desk.clone();
    let mailboxes = ["support", "sales"];
    // 1. Eight tasks (two per mailbox name and UIDVALIDITY … each its own UID range), five
    //    batches of six new tickets each: 240 tickets, three per customer.
    let mut tasks = Vec::new();
    for task in 0..8u32 {
        let desk = desk.clone();
        let mailbox = mailboxes[(task % 2) as usize];
        tasks.push(tokio::spawn(async move {
            for b in 0..5u32 {
                let raws: Vec<Vec<u8>> = (0..6u32)
                    .map(|i| {
                        let n = (task * 5 + b) * 6 + i;
                        let customer = format!("k{}@customer.example", n / 3);
                        mail(&customer, &format!("t{n}@x"), &format!("Question {n}"), &[])
                    })
                    .collect();
                let uid = 1 + task * 1000 + b * 6;
                let out = ingest(&desk, mailbox, &fetched(uid, &raws)).await;
                assert!(
                    out.iter().all(|o| matches!(o, Ingested::Created(_))),
                    "{out:?}"
                );
            }
        }));
    }
    for t in tasks {
        t.await.expect("task");
    }
    let numbers: Vec<(i32, i64)> =
        sqlx::query_as("SELECT seq, count(*) FROM tickets GROUP BY seq ORDER BY seq")
            .fetch_all(desk.pool())
            .await
            .expect("numbers");
    assert_eq!(numbers.len(), 240, "240 distinct numbers");
    assert!(numbers.iter().all(|(_, n)| *n == 1), "no number twice");

    // 2. For each customer's three tickets, two follow-ups at the same instant through the two
    //    mailboxes, one naming the first two tickets, one the last two: the trust plan merges
    //    all three into the oldest whatever the order. Meanwhile an admin merges pairs of other
    //    customers' tickets by hand.
    let ana = actor(&app, "ana", Surface::Cli).await;
    let mut tasks = Vec::new();
    for k in 0..80u32 {
        let (a, b, c) = (k * 3, k * 3 + 1, k * 3 + 2);
        let customer = format!("k{k}@customer.example");
        let barrier = Arc::new(Barrier::new(2));
        for (mailbox, refs, id) in [
            (
                "support",
                [format!("t{a}@x"), format!("t{b}@x")],
                format!("m{k}a@x"),
            ),
            (
                "sales",
                [format!("t{b}@x"), format!("t{c}@x")],
                format!("m{k}b@x"),
            ),
        ] {
            let desk = desk.clone();
            let barrier = barrier.clone();
            let raw = mail(&customer, &id, "More", &[&refs[0], &refs[1]]);
            tasks.push(tokio::spawn(async move {
                barrier.wait().await;
                let out = ingest(&desk, mailbox, &fetched(100_000 + k, &[raw])).await;
                assert!(matches!(out[0], Ingested::Joined(_)), "{out:?}");
            }));
        }
    }
    for t in tasks {
        t.await.expect("task");
    }
    for k in 0..80u32 {
        let ids = format!(
            "'t{}@x', 't{}@x', 't{}@x', 'm{k}a@x', 'm{k}b@x'",
            k * 3,
            k * 3 + 1,
            k * 3 + 2
        );
        let live = count(
            &app,
            &format!(
                "SELECT count(DISTINCT m.ticket_id) FROM messages m JOIN tickets t ON t.id = m.ticket_id
                 WHERE m.message_id IN ({ids}) AND t.merged_into IS NULL"
            ),
        )
        .await;
        let all = count(
            &app,
            &format!("SELECT count(DISTINCT ticket_id) FROM messages WHERE message_id IN ({ids})"),
        )
        .await;
        assert_eq!(
            (live, all),
            (1, 1),
            "customer {k}: all five messages on one live ticket"
        );
    }
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM tickets WHERE merged_into IS NULL"
        )
        .await,
        80
    );
    assert_eq!(
        count(&app, "SELECT count(*) FROM thread_keys k JOIN tickets t ON t.id = k.ticket_id WHERE t.merged_into IS NOT NULL").await,
        0,
        "no thread key points at a merged ticket"
    );

    // 3. A reply racing a manual merge of its ticket: the reply lands on the merged-into
    //    ticket, never on the merged one.
    for round in 0..20u32 {
        let f = open_ticket(
            &app,
            200_000 + round * 2,
            &format!("f{round}@x"),
            "From",
            "b",
        )
        .await;
        let i = open_ticket(
            &app,
            200_001 + round * 2,
            &format!("i{round}@x"),
            "Into",
            "b",
        )
        .await;
        let barrier = Arc::new(Barrier::new(2));
        let merge = tokio::spawn({
            let (desk, ana, barrier, f, i) = (
                desk.clone(),
                ana.clone(),
                barrier.clone(),
                f.clone(),
                i.clone(),
            );
            async move {
                barrier.wait().await;
                desk.merge_tickets(&ana, &f, &i).await.expect("merge");
            }
        });
        let reply = tokio::spawn({
            let (desk, barrier) = (desk.clone(), barrier.clone());
            let raw = customer_email(
                &format!("g{round}@x"),
                "Re: From",
                "more",
                Some(&format!("f{round}@x")),
            );
            async move {
                barrier.wait().await;
                ingest(&desk, "sales", &fetched(300_000 + round, &[raw])).await
            }
        });
        merge.await.expect("merge task");
        let out = reply.await.expect("reply task");
        assert!(matches!(out[0], Ingested::Joined(_)), "{out:?}");
        let on = count(
            &app,
            &format!(
                "SELECT count(*) FROM messages m JOIN tickets t ON t.id = m.ticket_id
                 WHERE m.message_id = 'g{round}@x' AND t.number = '{i}'"
            ),
        )
        .await;
        assert_eq!(
            on, 1,
            "round {round}: the reply is on {i}, where {f} went ({out:?})"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_uid_read_twice_records_no_duplicate() {
    let (_env, app) = two_mailboxes().await;
    let desk = app.desk.clone();
    let batch = fetched(
        1,
        &[
            mail("eve@customer.example", "e1@x", "One", &[]),
            mail("eve@customer.example", "e2@x", "Re: One", &["e1@x"]),
        ],
    );
    let first = ingest(&desk, "support", &batch).await;
    assert!(matches!(first[0], Ingested::Created(_)), "{first:?}");
    // The same batch replayed (a reader that fetched it before the cursor moved).
    let again = ingest(&desk, "support", &batch).await;
    assert_eq!(again, vec![Ingested::Duplicate, Ingested::Duplicate]);
    assert_eq!(
        count(&app, "SELECT count(*) FROM duplicate_copies").await,
        0
    );

    // Two readers of one mailbox at the same instant (a lease failover).
    let twice = || fetched(3, &[mail("fay@customer.example", "f1@x", "Two", &[])]);
    let barrier = Arc::new(Barrier::new(2));
    let mut tasks = Vec::new();
    for _ in 0..2 {
        let (desk, barrier, batch) = (desk.clone(), barrier.clone(), twice());
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            ingest(&desk, "support", &batch).await
        }));
    }
    let mut outcomes = Vec::new();
    for t in tasks {
        outcomes.extend(t.await.expect("task"));
    }
    outcomes.sort_by_key(|o| format!("{o:?}"));
    assert!(matches!(outcomes[0], Ingested::Created(_)), "{outcomes:?}");
    assert_eq!(outcomes[1], Ingested::Duplicate);
    assert_eq!(
        count(&app, "SELECT count(*) FROM duplicate_copies").await,
        0
    );
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM messages WHERE message_id = 'f1@x'"
        )
        .await,
        1
    );

    // A real second copy (another mailbox) is still recorded.
    ingest(
        &desk,
        "sales",
        &fetched(1, &[mail("eve@customer.example", "e1@x", "One", &[])]),
    )
    .await;
    assert_eq!(
        count(&app, "SELECT count(*) FROM duplicate_copies").await,
        1
    );
}
