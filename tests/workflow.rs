//! Team workflow against real Postgres: first-write-wins claims at scale, fair
//! auto-assignment under caps with a pending queue, gap-free numbers across a year rollover,
//! status changes by role, availability, bulk release, auto-release, and the audit trail.

mod support;

use std::sync::{Arc, Mutex};

use chrono::TimeZone;
use claimdesk::app::App;
use claimdesk::config::{AgentSettings, DepartmentSettings};
use claimdesk::desk::{Actor, DeskError, Ingested, Source, Surface};
use claimdesk::domain::assignment::Mode;
use claimdesk::domain::{Priority, Status};
use claimdesk::store::agents;
use support::harness::*;

async fn actor(app: &App, handle: &str) -> Actor {
    support::harness::actor(app, handle, Surface::Cli).await
}

fn member(handle: &str, capacity: Option<u32>) -> AgentSettings {
    AgentSettings {
        handle: handle.into(),
        name: handle.to_uppercase(),
        email: format!("{handle}@claimdesk.test"),
        role: "member".parse().expect("role"),
        slack_user_id: None,
        discord_user_id: None,
        departments: vec![],
        capacity,
    }
}

/// A desk whose `support` department auto-assigns, with the given agents (plus admin ana).
async fn auto_env(agents: Vec<AgentSettings>) -> (TestEnv, App) {
    let mut env = db_only(Platforms {
        slack: false,
        discord: false,
    })
    .await;
    env.settings.departments = vec![DepartmentSettings {
        name: "support".into(),
        assignment: Mode::Auto,
        slack_channel: None,
        discord_channel: None,
    }];
    let mut ana = env.settings.agents[0].clone();
    ana.capacity = Some(0); // the admin takes nothing automatically
    env.settings.agents = std::iter::once(ana).chain(agents).collect();
    env.settings.database.max_connections = 12;
    let app = env.app().await;
    (env, app)
}

async fn ingest_n(app: &App, from: u32, n: u32, tasks: u32) {
    let per = n.div_ceil(tasks);
    let mut handles = Vec::new();
    for t in 0..tasks {
        let desk = app.desk.clone();
        handles.push(tokio::spawn(async move {
            for i in (from + t * per)..(from + ((t + 1) * per).min(n)) {
                let raw = customer_email(
                    &format!("m{i}@customer.example"),
                    &format!("Question {i}"),
                    "Body",
                    None,
                );
                let r = desk
                    .ingest(
                        Source {
                            mailbox: "support",
                            uidvalidity: 1,
                            uid: i + 1,
                        },
                        &raw,
                    )
                    .await
                    .expect("ingest");
                assert!(matches!(r, Ingested::Created(_)), "{r:?}");
            }
        }));
    }
    for h in handles {
        h.await.expect("task");
    }
}

async fn loads(app: &App) -> Vec<(String, i64)> {
    sqlx::query_as(
        "SELECT a.handle, count(t.id) FROM agents a LEFT JOIN tickets t ON t.assignee_id = a.id
         WHERE a.handle <> 'ana' GROUP BY a.handle ORDER BY a.handle",
    )
    .fetch_all(app.desk.pool())
    .await
    .expect("loads")
}

/// The handle holding ticket `number`, if anyone.
async fn holder(app: &App, number: &str) -> Option<String> {
    app.desk
        .list()
        .await
        .expect("list")
        .into_iter()
        .find(|t| t.number == number)
        .and_then(|t| t.assignee)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_hundred_concurrent_claims_have_one_winner_and_499_clear_refusals() {
    let env = db_only(Platforms {
        slack: false,
        discord: false,
    })
    .await;
    let app = env.app().await;
    app.desk
        .ingest(
            Source {
                mailbox: "support",
                uidvalidity: 1,
                uid: 1,
            },
            &customer_email("race@customer.example", "Race", "Body", None),
        )
        .await
        .expect("ingest");
    let number = app.desk.list().await.expect("list")[0].number.clone();
    let people = [
        actor(&app, "ana").await,
        actor(&app, "ben").await,
        actor(&app, "cy").await,
    ];
    let mut tasks = Vec::new();
    for i in 0..500 {
        let desk = app.desk.clone();
        let who = people[i % 3].clone();
        let n = number.clone();
        tasks.push(tokio::spawn(async move { desk.claim(&who, &n).await }));
    }
    let (mut wins, mut refusals) = (0, 0);
    for t in tasks {
        match t.await.expect("task") {
            Ok(_) => wins += 1,
            Err(e @ (DeskError::AlreadyClaimed { .. } | DeskError::AlreadyYours(_))) => {
                let text = claimdesk::desk::messages::error(&e);
                assert!(text.contains("already"), "{text}");
                refusals += 1;
            }
            Err(e) => panic!("unexpected refusal: {e}"),
        }
    }
    assert_eq!((wins, refusals), (1, 499));
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM audit_events WHERE action = 'ticket.claimed'"
        )
        .await,
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_assignment_spreads_1000_tickets_evenly_under_caps_then_queues_them() {
    let five: Vec<AgentSettings> = ["a1", "a2", "a3", "a4", "a5"]
        .iter()
        .map(|h| member(h, Some(300)))
        .collect();
    let (_env, app) = auto_env(five).await;

    ingest_n(&app, 0, 1000, 4).await;
    let l = loads(&app).await;
    let (min, max) = (
        l.iter().map(|x| x.1).min().unwrap_or(0),
        l.iter().map(|x| x.1).max().unwrap_or(0),
    );
    assert_eq!(l.iter().map(|x| x.1).sum::<i64>(), 1000, "{l:?}");
    assert!(max - min <= 1, "loads differ by more than one: {l:?}");
    assert!(max <= 300);
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM tickets WHERE status = 'claimed'"
        )
        .await,
        1000
    );

    // Fill everyone to the cap (1,500), then the next tickets wait.
    ingest_n(&app, 1000, 510, 4).await;
    let l = loads(&app).await;
    assert!(l.iter().all(|x| x.1 == 300), "everyone at cap: {l:?}");
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM tickets WHERE status = 'pending_assignment'"
        )
        .await,
        10
    );
    // The admins were pinged in chat for each waiting ticket.
    assert_eq!(
        count(&app, "SELECT count(*) FROM outbox WHERE kind = 'channel_notice' AND payload->>'text' LIKE '%{mention:ana}%'").await,
        10
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pending_queue_drains_urgent_first_then_oldest_when_capacity_frees() {
    let (_env, app) = auto_env(vec![member("solo", Some(1))]).await;
    ingest_n(&app, 0, 4, 1).await; // #1 goes to solo; #2..#4 wait
    let list = app.desk.list().await.expect("list");
    assert_eq!(list[0].assignee.as_deref(), Some("solo"));
    assert!(list[1..].iter().all(|t| t.status == "pending_assignment"));
    let ana = actor(&app, "ana").await;
    app.desk
        .set_priority(&ana, &list[3].number, Priority::Urgent)
        .await
        .expect("priority");

    let solo = actor(&app, "solo").await;
    app.desk
        .set_status(&solo, &list[0].number, Status::Resolved)
        .await
        .expect("resolve");
    let after = app.desk.list().await.expect("list");
    assert_eq!(
        after[3].assignee.as_deref(),
        Some("solo"),
        "urgent #4 before older #2: {after:?}"
    );
    assert_eq!(after[1].status, "pending_assignment");

    app.desk
        .set_status(&solo, &list[3].number, Status::Closed)
        .await
        .expect("close");
    let after = app.desk.list().await.expect("list");
    assert_eq!(
        after[1].assignee.as_deref(),
        Some("solo"),
        "then the oldest"
    );
    assert_eq!(after[2].status, "pending_assignment");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn away_agents_get_nothing_and_back_drains_the_queue() {
    let (_env, app) = auto_env(vec![member("b1", None), member("b2", None)]).await;
    let b1 = actor(&app, "b1").await;
    let b2 = actor(&app, "b2").await;
    app.desk.set_away(&b1, None, None).await.expect("away");
    ingest_n(&app, 0, 3, 1).await;
    assert_eq!(loads(&app).await, vec![("b1".into(), 0), ("b2".into(), 3)]);
    // A member cannot send a colleague away; b2 goes away themselves, until a past date (= back).
    assert!(matches!(
        app.desk.set_away(&b1, Some("b2"), None).await,
        Err(DeskError::Forbidden(_))
    ));
    app.desk.set_away(&b2, None, None).await.expect("away");
    ingest_n(&app, 3, 2, 1).await;
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM tickets WHERE status = 'pending_assignment'"
        )
        .await,
        2
    );
    app.desk.set_back(&b1, None).await.expect("back");
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM tickets WHERE status = 'pending_assignment'"
        )
        .await,
        0
    );
    assert_eq!(loads(&app).await, vec![("b1".into(), 2), ("b2".into(), 3)]);
    let ended = chrono::Utc::now() - chrono::Duration::hours(1);
    app.desk
        .set_away(&b2, None, Some(ended))
        .await
        .expect("away until the past");
    ingest_n(&app, 5, 1, 1).await;
    assert_eq!(
        loads(&app).await,
        vec![("b1".into(), 3), ("b2".into(), 3)],
        "an away time in the past counts as back"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_thousand_tickets_from_fifty_tasks_get_gap_free_numbers_and_the_year_rolls_over() {
    let env = db_only(Platforms {
        slack: false,
        discord: false,
    })
    .await;
    let mut settings = env.settings.clone();
    settings.database.max_connections = 12;
    let app = App::build(settings, env.secrets.clone())
        .await
        .expect("app");
    ingest_n(&app, 0, 1000, 50).await;
    let year = chrono::Utc::now().format("%Y").to_string();
    let mut seqs: Vec<i32> = app
        .desk
        .list()
        .await
        .expect("list")
        .iter()
        .map(|t| {
            assert!(
                t.number.starts_with(&format!("TICK-{year}-")),
                "{}",
                t.number
            );
            t.number
                .rsplit('-')
                .next()
                .expect("seq")
                .parse()
                .expect("digits")
        })
        .collect();
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=1000).collect::<Vec<i32>>());

    // New year: the sequence starts again; the old year's sequence is untouched.
    let now = Arc::new(Mutex::new(
        chrono::Utc
            .with_ymd_and_hms(2099, 12, 31, 23, 59, 59)
            .single()
            .expect("date"),
    ));
    let clock_now = now.clone();
    let desk = app
        .desk
        .clone()
        .with_clock(Arc::new(move || *clock_now.lock().expect("clock")));
    let src = |uid| Source {
        mailbox: "support",
        uidvalidity: 1,
        uid,
    };
    let r = desk
        .ingest(
            src(5001),
            &customer_email("y1@customer.example", "Late", "b", None),
        )
        .await
        .expect("ingest");
    assert_eq!(r, Ingested::Created("TICK-2099-0001".into()));
    *now.lock().expect("clock") = chrono::Utc
        .with_ymd_and_hms(2100, 1, 1, 0, 0, 1)
        .single()
        .expect("date");
    let r = desk
        .ingest(
            src(5002),
            &customer_email("y2@customer.example", "Early", "b", None),
        )
        .await
        .expect("ingest");
    assert_eq!(r, Ingested::Created("TICK-2100-0001".into()));
    let r = desk
        .ingest(
            src(5003),
            &customer_email("y3@customer.example", "Early 2", "b", None),
        )
        .await
        .expect("ingest");
    assert_eq!(r, Ingested::Created("TICK-2100-0002".into()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_changes_follow_roles_and_keep_resolution_times() {
    let env = db_only(Platforms {
        slack: false,
        discord: false,
    })
    .await;
    let app = env.app().await;
    ingest_n(&app, 0, 1, 1).await;
    let n = app.desk.list().await.expect("list")[0].number.clone();
    let (ana, ben, cy) = (
        actor(&app, "ana").await,
        actor(&app, "ben").await,
        actor(&app, "cy").await,
    );
    app.desk.claim(&ben, &n).await.expect("claim");

    // Cy (member, not holder) may not change it and is told who holds it; Ben (holder) may.
    assert!(matches!(
        app.desk.set_status(&cy, &n, Status::Resolved).await,
        Err(DeskError::HeldByOther { ref holder, .. }) if holder == "ben"
    ));
    assert!(matches!(
        app.desk.set_priority(&cy, &n, Priority::High).await,
        Err(DeskError::HeldByOther { ref holder, .. }) if holder == "ben"
    ));
    app.desk
        .set_status(&ben, &n, Status::Waiting)
        .await
        .expect("waiting");
    // The customer answers: back to in progress.
    let raw = customer_email(
        "m0-answer@customer.example",
        "Re: Question 0",
        "More info",
        Some("m0@customer.example"),
    );
    app.desk
        .ingest(
            Source {
                mailbox: "support",
                uidvalidity: 1,
                uid: 50,
            },
            &raw,
        )
        .await
        .expect("answer");
    assert_eq!(
        app.desk.list().await.expect("list")[0].status,
        "in_progress"
    );
    // Illegal transitions are refused with the status named.
    let e = app
        .desk
        .set_status(&ben, &n, Status::InProgress)
        .await
        .expect_err("already in progress");
    assert!(
        claimdesk::desk::messages::error(&e).contains("in progress"),
        "{e}"
    );
    assert!(matches!(
        app.desk
            .set_status(&ben, &n, Status::PendingAssignment)
            .await,
        Err(DeskError::BadInput(_))
    ));

    app.desk
        .set_status(&ben, &n, Status::Resolved)
        .await
        .expect("resolve");
    let times = || async {
        let r: (
            Option<chrono::DateTime<chrono::Utc>>,
            Option<chrono::DateTime<chrono::Utc>>,
        ) = sqlx::query_as("SELECT resolved_at, closed_at FROM tickets")
            .fetch_one(app.desk.pool())
            .await
            .expect("times");
        r
    };
    assert!(matches!(times().await, (Some(_), None)));
    app.desk
        .set_status(&ben, &n, Status::Closed)
        .await
        .expect("close");
    assert!(matches!(times().await, (Some(_), Some(_))));
    // Reopening a closed ticket: admins only by default.
    assert!(matches!(
        app.desk.set_status(&ben, &n, Status::InProgress).await,
        Err(DeskError::NotAllowed { .. })
    ));
    let o = app
        .desk
        .set_status(&ana, &n, Status::InProgress)
        .await
        .expect("admin reopens");
    assert_eq!(o.to, Status::InProgress);
    assert!(
        matches!(times().await, (None, None)),
        "reopening clears both times"
    );
    // A closed ticket takes no reply.
    app.desk
        .set_status(&ben, &n, Status::Closed)
        .await
        .expect("close again");
    assert!(matches!(
        app.desk.reply(&ben, &n, "hello?").await,
        Err(DeskError::Illegal { .. })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admins_assign_reassign_and_bulk_release_and_every_change_is_in_the_history() {
    let env = db_only(Platforms {
        slack: false,
        discord: false,
    })
    .await;
    let app = env.app().await;
    ingest_n(&app, 0, 3, 1).await;
    let list = app.desk.list().await.expect("list");
    let (ana, ben, cy) = (
        actor(&app, "ana").await,
        actor(&app, "ben").await,
        actor(&app, "cy").await,
    );
    assert!(matches!(
        app.desk.assign(&ben, &list[0].number, "cy").await,
        Err(DeskError::NotAllowed { .. })
    ));
    assert!(matches!(
        app.desk.assign(&ana, &list[0].number, "nobody").await,
        Err(DeskError::NoSuchAgent(_))
    ));
    for t in &list {
        app.desk
            .assign(&ana, &t.number, "@ben")
            .await
            .expect("assign");
    }
    let o = app
        .desk
        .assign(&ana, &list[0].number, "cy")
        .await
        .expect("reassign");
    assert_eq!((o.from.as_deref(), o.to.as_str()), (Some("ben"), "cy"));
    assert!(matches!(
        app.desk.bulk_unclaim(&cy, "ben").await,
        Err(DeskError::Forbidden(_))
    ));
    let moved = app
        .desk
        .bulk_reassign(&ana, "ben", "cy")
        .await
        .expect("bulk reassign");
    assert_eq!(moved.numbers.len(), 2);
    let released = app
        .desk
        .bulk_unclaim(&ana, "cy")
        .await
        .expect("bulk release");
    assert_eq!(released.numbers.len(), 3);
    assert!(app
        .desk
        .list()
        .await
        .expect("list")
        .iter()
        .all(|t| t.assignee.is_none() && t.status == "open"));
    app.desk
        .note(
            &cy,
            &list[0].number,
            "Called the customer, waiting for logs.",
        )
        .await
        .expect("note");

    let (_, h) = app.desk.history(&list[0].number).await.expect("history");
    let actions: Vec<&str> = h.iter().map(|r| r.action.as_str()).collect();
    assert_eq!(
        actions,
        [
            "ticket.created",
            "ticket.assigned",
            "ticket.reassigned",
            "ticket.unclaimed",
            "note.added"
        ]
    );
    let re = &h[2];
    assert_eq!((re.actor.as_str(), re.surface.as_str()), ("ana", "cli"));
    assert_eq!(
        re.before.as_ref().and_then(|b| b["assignee"].as_str()),
        Some("ben")
    );
    assert_eq!(
        re.after.as_ref().and_then(|a| a["assignee"].as_str()),
        Some("cy")
    );
    // The app's own database role cannot rewrite history.
    assert!(sqlx::query("UPDATE audit_events SET actor = 'x'")
        .execute(app.desk.pool())
        .await
        .is_err());
    assert!(sqlx::query("DELETE FROM audit_events")
        .execute(app.desk.pool())
        .await
        .is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inactive_claims_are_warned_then_released() {
    let mut env = db_only(Platforms {
        slack: false,
        discord: false,
    })
    .await;
    env.settings.desk.auto_release.enabled = true;
    env.settings.desk.auto_release.warn_after_hours = 24.0;
    env.settings.desk.auto_release.release_after_hours = 8.0;
    let app = env.app().await;
    ingest_n(&app, 0, 2, 1).await;
    let list = app.desk.list().await.expect("list");
    let ben = actor(&app, "ben").await;
    for t in &list {
        app.desk.claim(&ben, &t.number).await.expect("claim");
    }
    // Ticket 0 was claimed 25 h ago; ticket 1 just now.
    sqlx::query(
        "UPDATE tickets SET holder_active_at = now() - interval '25 hours' WHERE number = $1",
    )
    .bind(&list[0].number)
    .execute(app.desk.pool())
    .await
    .expect("age");
    let r = app.desk.auto_release_sweep().await.expect("sweep");
    assert_eq!((r.warned, r.released), (1, 0));
    assert_eq!(
        app.desk.auto_release_sweep().await.expect("sweep again"),
        Default::default(),
        "warned once"
    );
    // Nine hours after the warning it is released; the fresh claim is untouched.
    sqlx::query(
        "UPDATE tickets SET release_warned_at = now() - interval '9 hours' WHERE number = $1",
    )
    .bind(&list[0].number)
    .execute(app.desk.pool())
    .await
    .expect("age warning");
    let r = app.desk.auto_release_sweep().await.expect("sweep");
    assert_eq!((r.warned, r.released), (0, 1));
    let after = app.desk.list().await.expect("list");
    assert_eq!(
        (after[0].assignee.as_deref(), after[0].status.as_str()),
        (None, "open")
    );
    assert_eq!(after[1].assignee.as_deref(), Some("ben"));
    let notices = count(
        &app,
        "SELECT count(*) FROM outbox WHERE kind = 'thread_notice'",
    )
    .await;
    assert_eq!(notices, 2, "a warning and a release notice");
    let (_, h) = app.desk.history(&list[0].number).await.expect("history");
    assert_eq!(
        h.last().map(|r| r.action.as_str()),
        Some("ticket.auto_released")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requesters_close_by_email_only_when_the_policy_allows() {
    for allowed in [false, true] {
        let mut env = db_only(Platforms {
            slack: false,
            discord: false,
        })
        .await;
        env.settings.desk.requester_may_close = allowed;
        let app = env.app().await;
        ingest_n(&app, 0, 1, 1).await;
        let src = |uid| Source {
            mailbox: "support",
            uidvalidity: 1,
            uid,
        };
        // A stranger's "#close" never closes it.
        let stranger = customer_email(
            "s-close@else.example",
            "Re: Question 0",
            "#close",
            Some("m0@customer.example"),
        )
        .into_iter()
        .collect::<Vec<u8>>();
        let stranger = String::from_utf8(stranger)
            .expect("utf8")
            .replace("dana@customer.example", "eve@else.example");
        app.desk
            .ingest(src(10), stranger.as_bytes())
            .await
            .expect("ingest");
        assert_eq!(app.desk.list().await.expect("list")[0].status, "open");
        let raw = customer_email(
            "r-close@customer.example",
            "Re: Question 0",
            "#close\n\nThanks, solved.",
            Some("m0@customer.example"),
        );
        app.desk.ingest(src(11), &raw).await.expect("ingest");
        let want = if allowed { "closed" } else { "open" };
        assert_eq!(
            app.desk.list().await.expect("list")[0].status,
            want,
            "policy {allowed}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_owners_manage_agents_from_chat() {
    let mut env = db_only(Platforms {
        slack: false,
        discord: false,
    })
    .await;
    env.settings.agents[0].role = "owner".parse().expect("role"); // ana
    env.settings.agents[1].role = "admin".parse().expect("role"); // ben
    let app = env.app().await;
    let (ana, ben) = (actor(&app, "ana").await, actor(&app, "ben").await);
    let run = |who: Actor, text: &'static str| {
        let desk = app.desk.clone();
        async move {
            let (name, args) = text.split_once(' ').unwrap_or((text, ""));
            let cmd = claimdesk::chat::commands::parse(name, args).expect("parses");
            claimdesk::chat::commands::execute(&desk, &who, cmd).await
        }
    };
    assert!(run(ben.clone(), "agent add @dora admin")
        .await
        .contains("Only an owner"));
    assert!(run(ana.clone(), "agent add @dora admin support")
        .await
        .contains("@dora added as admin"));
    assert!(run(ana.clone(), "agent departments @dora nowhere")
        .await
        .contains("unknown department"));
    assert!(run(ana.clone(), "agent remove @cy")
        .await
        .contains("removed"));
    let mut conn = app.desk.pool().acquire().await.expect("conn");
    let list = agents::list(&mut conn).await.expect("list");
    let dora = list.iter().find(|a| a.handle == "dora").expect("dora");
    assert_eq!(
        (dora.role.as_str(), dora.active, dora.departments.clone()),
        ("admin", true, vec!["support".to_string()])
    );
    assert!(!list.iter().find(|a| a.handle == "cy").expect("cy").active);
    assert!(run(ana, "agent remove @cy").await.contains("no agent @cy"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workload_mine_and_unassigned_show_the_queues() {
    let env = db_only(Platforms {
        slack: false,
        discord: false,
    })
    .await;
    let app = env.app().await;
    ingest_n(&app, 0, 4, 1).await;
    let list = app.desk.list().await.expect("list");
    let (ana, ben) = (actor(&app, "ana").await, actor(&app, "ben").await);
    app.desk.claim(&ben, &list[0].number).await.expect("claim");
    app.desk.claim(&ben, &list[1].number).await.expect("claim");
    app.desk
        .reply(&ben, &list[1].number, "On it")
        .await
        .expect("reply");
    app.desk
        .set_status(&ben, &list[1].number, Status::Waiting)
        .await
        .expect("wait");
    app.desk.claim(&ana, &list[2].number).await.expect("claim");
    app.desk.set_away(&ana, None, None).await.expect("away");

    let w = app.desk.workload().await.expect("workload");
    let row = |h: &str| {
        w.agents
            .iter()
            .find(|a| a.handle == h)
            .cloned()
            .expect("row")
    };
    let (a, b, c) = (row("ana"), row("ben"), row("cy"));
    assert_eq!((b.claimed, b.in_progress, b.waiting), (1, 0, 1));
    assert!(
        b.oldest_unattended_secs.is_some(),
        "ben's claimed ticket has an unanswered customer message"
    );
    assert_eq!((a.claimed, a.away), (1, true));
    assert_eq!(
        (
            c.claimed,
            c.in_progress,
            c.waiting,
            c.oldest_unattended_secs
        ),
        (0, 0, 0, None)
    );
    assert_eq!(w.unassigned, 1);
    assert!(w.oldest_unassigned_secs.is_some());

    assert_eq!(app.desk.mine(&ben).await.expect("mine").len(), 2);
    let queue = app.desk.unassigned().await.expect("unassigned");
    assert_eq!(
        queue.iter().map(|l| l.number.clone()).collect::<Vec<_>>(),
        vec![list[3].number.clone()]
    );
    let text = claimdesk::desk::messages::workload(&w);
    assert!(
        text.contains("@ana") && text.contains("(away)") && text.contains("Unassigned: 1"),
        "{text}"
    );
}

/// A long queue is answered with its head: `unassigned` and `mine` show the first
/// `QUEUE_LINES` tickets in queue order and say how many the queue holds (a chat message
/// cannot carry 25,000 lines; the scale bench's desk has that many unassigned).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_queues_show_their_head_and_count_the_rest() {
    let env = db_only(Platforms {
        slack: false,
        discord: false,
    })
    .await;
    let app = env.app().await;
    let limit = claimdesk::store::workload::QUEUE_LINES as u32;
    let n = limit + 3;
    ingest_n(&app, 0, n, 1).await;
    let list = app.desk.list().await.expect("list");
    let queue = app.desk.unassigned().await.expect("unassigned");
    assert_eq!(queue.len(), limit as usize);
    assert!(queue.iter().all(|l| l.queued == i64::from(n)));
    // Oldest first: the first lines are the first tickets opened.
    let oldest: Vec<String> = list.iter().take(3).map(|t| t.number.clone()).collect();
    let shown: Vec<String> = queue.iter().take(3).map(|l| l.number.clone()).collect();
    assert_eq!(shown, oldest);
    let ana = actor(&app, "ana").await;
    let cmd = claimdesk::chat::commands::parse("unassigned", "").expect("parses");
    let answer = claimdesk::chat::commands::execute(&app.desk, &ana, cmd).await;
    assert!(
        answer.starts_with(&format!(
            "Unassigned, oldest first ({n}, the first {limit} shown):"
        )),
        "{answer}"
    );
    assert_eq!(answer.lines().count(), limit as usize + 1, "{answer}");

    // `mine` likewise once ana holds them all.
    for t in &list {
        app.desk.claim(&ana, &t.number).await.expect("claim");
    }
    let mine = app.desk.mine(&ana).await.expect("mine");
    assert_eq!(mine.len(), limit as usize);
    assert!(mine.iter().all(|l| l.queued == i64::from(n)));
    assert!(app.desk.unassigned().await.expect("unassigned").is_empty());
}

/// Members act on their own tickets: a reply, status change or priority change by a member on
/// a ticket someone else holds is refused, naming the holder and how to take it over; admins
/// may; a reply on an unheld ticket still claims it. `desk.reply_to_held_tickets = "anyone"`
/// opens replies (only) to every member.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_reply_and_change_only_tickets_they_hold_unless_the_policy_says_anyone() {
    let env = db_only(Platforms {
        slack: false,
        discord: false,
    })
    .await;
    let app = env.app().await;
    ingest_n(&app, 0, 2, 1).await;
    let list = app.desk.list().await.expect("list");
    let (n, m) = (list[0].number.clone(), list[1].number.clone());
    let (ana, ben, cy) = (
        actor(&app, "ana").await,
        actor(&app, "ben").await,
        actor(&app, "cy").await,
    );
    // A reply on an unheld ticket claims it for the replier (as before).
    let o = app.desk.reply(&ben, &n, "On it.").await.expect("reply");
    assert!(o.claimed);
    let emails = || count(&app, "SELECT count(*) FROM outbox WHERE kind = 'email'");
    assert_eq!(emails().await, 1);

    // Cy is refused, told who holds it and how to take it over; nothing is queued.
    let e = app
        .desk
        .reply(&cy, &n, "I'll answer instead")
        .await
        .expect_err("cy does not hold it");
    assert!(
        matches!(e, DeskError::HeldByOther { ref number, ref holder } if *number == n && holder == "ben"),
        "{e:?}"
    );
    let words = claimdesk::desk::messages::error(&e);
    for part in [n.as_str(), "held by @ben", "unclaim", "assign", "admin"] {
        assert!(words.contains(part), "{part} in {words}");
    }
    assert_eq!(emails().await, 1, "the refused reply queued nothing");
    for (what, r) in [
        (
            "resolve",
            app.desk.set_status(&cy, &n, Status::Resolved).await.err(),
        ),
        (
            "close",
            app.desk.set_status(&cy, &n, Status::Closed).await.err(),
        ),
        (
            "wait",
            app.desk.set_status(&cy, &n, Status::Waiting).await.err(),
        ),
        ("unclaim", app.desk.unclaim(&cy, &n).await.err()),
        (
            "priority",
            app.desk.set_priority(&cy, &n, Priority::Urgent).await.err(),
        ),
    ] {
        assert!(
            matches!(r, Some(DeskError::HeldByOther { ref holder, .. }) if holder == "ben"),
            "{what}: {r:?}"
        );
    }
    // Notes stay open to the team.
    app.desk.note(&cy, &n, "VIP, be nice").await.expect("note");
    // An admin may reply on someone else's ticket; the holder stays.
    let o = app
        .desk
        .reply(&ana, &n, "Admin here.")
        .await
        .expect("admin");
    assert!(!o.claimed);
    assert_eq!(emails().await, 2);
    assert_eq!(holder(&app, &n).await.as_deref(), Some("ben"));
    // After the holder lets go, Cy's reply claims it.
    app.desk.unclaim(&ben, &n).await.expect("unclaim");
    let o = app.desk.reply(&cy, &n, "Taking over.").await.expect("cy");
    assert!(o.claimed);
    assert_eq!(holder(&app, &n).await.as_deref(), Some("cy"));
    drop(app);

    // The same desk with reply_to_held_tickets = "anyone": replies open, status changes not.
    let mut env = env;
    env.settings.desk.reply_to_held_tickets = claimdesk::domain::ReplyPolicy::Anyone;
    let app = env.app().await;
    let (ben, cy) = (actor(&app, "ben").await, actor(&app, "cy").await);
    app.desk.claim(&ben, &m).await.expect("claim");
    let o = app
        .desk
        .reply(&cy, &m, "Chiming in.")
        .await
        .expect("anyone");
    assert!(!o.claimed, "the holder stays");
    assert_eq!(holder(&app, &m).await.as_deref(), Some("ben"));
    assert!(matches!(
        app.desk.set_status(&cy, &m, Status::Resolved).await,
        Err(DeskError::HeldByOther { .. })
    ));
}

/// The same rule on Slack: Ben's `/desk reply` and reply-modal submission on Ana's ticket are
/// refused (the modal shows the refusal on its field), naming Ana and how to take it over;
/// nothing is queued for the customer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_slack_a_members_reply_to_a_ticket_another_holds_is_refused_with_the_holder_named() {
    let env = db_only(Platforms {
        slack: true,
        discord: false,
    })
    .await;
    let app = env.app().await;
    let web = app.start_web().await.expect("web");
    let n = open_ticket(&app, 1, "s1@customer.example", "Refund", "Please.").await;
    let ana = support::harness::actor(&app, "ana", Surface::Slack).await;
    app.desk.claim(&ana, &n).await.expect("claim");
    let emails = || count(&app, "SELECT count(*) FROM outbox WHERE kind = 'email'");

    let (code, body) = slack_post(
        web.addr,
        "/slack/commands",
        &slash_command("/desk", &format!("reply {n} I'll take this"), BEN_SLACK),
        SLACK_SECRET,
        0,
    )
    .await;
    assert_eq!(code, 200);
    app.deliverer.drain().await.expect("deliver");
    let slack = env.slack.as_ref().expect("slack");
    let said: String = std::iter::once(body)
        .chain(
            slack
                .calls_to("chat.postEphemeral")
                .into_iter()
                .map(|c| c.body.to_string()),
        )
        .collect();
    assert!(
        said.contains(&format!("{n} is held by @ana")) && said.contains("unclaim"),
        "{said}"
    );

    let target = claimdesk::chat::slack::ModalTarget {
        number: n.clone(),
        to: "dana@customer.example".into(),
        subject: "Refund".into(),
        channel: SLACK_CHANNEL.into(),
    };
    let view = serde_json::to_value(claimdesk::chat::slack::modal(
        claimdesk::chat::slack::ModalKind::Reply,
        &target,
    ))
    .expect("view json");
    let (code, body) = slack_post(
        web.addr,
        "/slack/interactions",
        &interaction_form(&view_submission_payload(
            BEN_SLACK,
            &view,
            "body",
            "text",
            "Taking over",
        )),
        SLACK_SECRET,
        0,
    )
    .await;
    assert_eq!(code, 200);
    let answer: serde_json::Value = serde_json::from_str(&body).expect("errors json");
    assert_eq!(answer["response_action"], "errors", "{answer}");
    assert!(
        answer["errors"]["body"]
            .as_str()
            .unwrap_or("")
            .contains("held by @ana"),
        "{answer}"
    );
    assert_eq!(emails().await, 0, "nothing was queued for the customer");
    // Ana, the holder, may.
    app.desk
        .reply(&ana, &n, "Done.")
        .await
        .expect("holder replies");
    assert_eq!(emails().await, 1);
    assert_eq!(slack.violations(), Vec::<String>::new());
}
