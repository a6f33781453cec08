//! SLA clocks and alerts against real Postgres (issue 14), on a clock the test moves
//! (`Desk::with_clock`; `Desk::sla_tick` is what the scheduler calls at each wake-up):
//! a warning and a breach each go out once at the right moment, across a restart (a new
//! App on the same database); a ticket answered in time gets none; `waiting` pauses the
//! clock; a breach escalates as configured; a batch starts its clocks at the received time.
//! One test runs the real scheduler task on real time with a deadline a few seconds away.

mod support;

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, TimeZone, Utc};
use claimdesk::app::App;
use claimdesk::config::SlaSettings;
use claimdesk::desk::{Desk, Ingested, Surface};
use claimdesk::domain::Status;
use support::harness::*;

/// `[sla]` settings from TOML (the keys under `[sla]`, as in a config file).
fn sla(toml: &str) -> SlaSettings {
    SlaSettings::from_toml(toml).unwrap_or_else(|e| panic!("sla settings: {e}\n{toml}"))
}

/// SLA on, wall time for every ticket, with the goals `goals` (TOML lines such as
/// `first_response = "1h"`) and escalation `on_breach`.
fn wall_policy(goals: &str, on_breach: &str) -> SlaSettings {
    sla(&format!(
        "enabled = true\nwarn_at = 0.75\npause_while_waiting = true\non_breach = \"{on_breach}\"\n\n\
         [[policies]]\nbusiness_hours = false\n{goals}\n"
    ))
}

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 2, 10, 0, 0)
        .single()
        .expect("date")
}

fn min(m: i64) -> DateTime<Utc> {
    t0() + Duration::minutes(m)
}

/// The test's clock, read by every desk made with [`Env::desk`].
#[derive(Clone)]
struct Clock(Arc<Mutex<DateTime<Utc>>>);

impl Clock {
    fn set(&self, at: DateTime<Utc>) {
        *self.0.lock().expect("clock") = at;
    }
}

struct Env {
    env: TestEnv,
    app: App,
    clock: Clock,
}

impl Env {
    /// A database-only environment (console platform) with `sla`, admins eligible in every
    /// department (so `ana` is `support`'s admin), the clock at [`t0`].
    async fn new(sla: SlaSettings) -> Env {
        let mut env = db_only(Platforms {
            slack: false,
            discord: false,
        })
        .await;
        env.settings.sla = sla;
        env.settings.desk.admins_eligible_everywhere = true;
        let app = env.app().await;
        Env {
            env,
            app,
            clock: Clock(Arc::new(Mutex::new(t0()))),
        }
    }

    /// The app's desk on the test clock.
    fn desk(&self) -> Desk {
        let c = self.clock.0.clone();
        self.app
            .desk
            .clone()
            .with_clock(Arc::new(move || *c.lock().expect("clock")))
    }

    /// A new App on the same database (a restart), and its desk on the test clock.
    async fn restart(&mut self) -> Desk {
        self.app = self.env.app().await;
        self.desk()
    }

    /// The scheduler's tick at `at` (the clock moved there first): alerts queued.
    async fn tick(&self, desk: &Desk, at: DateTime<Utc>) -> usize {
        self.clock.set(at);
        desk.sla_tick(at).await.expect("sla tick")
    }

    /// The texts of the channel notices queued so far, oldest first.
    async fn notices(&self) -> Vec<String> {
        let rows: Vec<(String,)> = sqlx::query_as(
            "SELECT payload->>'text' FROM outbox WHERE kind = 'channel_notice' ORDER BY id",
        )
        .fetch_all(self.app.desk.pool())
        .await
        .expect("notices");
        rows.into_iter().map(|r| r.0).collect()
    }

    /// The audit actions of the SLA (`sla.…`, `ticket.sla_returned`), oldest first.
    async fn sla_audit(&self) -> Vec<String> {
        let rows: Vec<(String,)> = sqlx::query_as(
            "SELECT action FROM audit_events
             WHERE action LIKE 'sla.%' OR action = 'ticket.sla_returned' ORDER BY id",
        )
        .fetch_all(self.app.desk.pool())
        .await
        .expect("audit");
        rows.into_iter().map(|r| r.0).collect()
    }

    /// `tickets.sla_next_at` of ticket `number`.
    async fn next_at(&self, number: &str) -> Option<DateTime<Utc>> {
        let (at,): (Option<DateTime<Utc>>,) =
            sqlx::query_as("SELECT sla_next_at FROM tickets WHERE number = $1")
                .bind(number)
                .fetch_one(self.app.desk.pool())
                .await
                .expect("next_at");
        at
    }

    /// The ticket `number` as stored.
    async fn ticket(&self, number: &str) -> claimdesk::store::tickets::Ticket {
        let mut conn = self.app.desk.pool().acquire().await.expect("conn");
        claimdesk::store::tickets::by_number(&mut conn, number)
            .await
            .expect("query")
            .expect("ticket")
    }

    /// Ingests a new customer email (uid `uid`) through `desk`; the ticket's number.
    async fn open(&self, desk: &Desk, uid: u32) -> String {
        let raw = customer_email(
            &format!("sla{uid}@customer.example"),
            &format!("Order {uid} is late"),
            "Where is it?",
            None,
        );
        match desk.ingest(src(uid), &raw).await.expect("ingest") {
            Ingested::Created(n) => n,
            other => panic!("expected a new ticket, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn warning_and_breach_go_out_once_each_at_their_moment_across_a_restart() {
    let mut e = Env::new(wall_policy("first_response = \"1h\"", "none")).await;
    let desk = e.desk();
    let number = e.open(&desk, 1).await;
    // The warning is due at 75 % of the hour.
    assert_eq!(e.next_at(&number).await, Some(min(45)));

    assert_eq!(e.tick(&desk, min(44)).await, 0);
    assert!(e.notices().await.is_empty());
    assert_eq!(e.tick(&desk, min(45)).await, 1);
    assert_eq!(e.next_at(&number).await, Some(min(60)));

    // Restart: the warning is not sent again; the breach comes at its moment, once.
    let desk = e.restart().await;
    assert_eq!(e.tick(&desk, min(45)).await, 0);
    assert_eq!(e.tick(&desk, min(59)).await, 0);
    assert_eq!(e.tick(&desk, min(60)).await, 1);
    assert_eq!(
        e.next_at(&number).await,
        None,
        "nothing pending after the breach"
    );
    let desk = e.restart().await;
    assert_eq!(e.tick(&desk, min(300)).await, 0);

    let notices = e.notices().await;
    assert_eq!(notices.len(), 2, "{notices:?}");
    assert!(notices[0].contains(&number), "{}", notices[0]);
    assert!(
        notices[0].contains("first response due in 15 min"),
        "{}",
        notices[0]
    );
    // Unassigned: the department's admins are named.
    assert!(notices[0].contains("{mention:ana}"), "{}", notices[0]);
    assert!(
        notices[1].contains("first response SLA breached"),
        "{}",
        notices[1]
    );
    assert_eq!(e.sla_audit().await, vec!["sla.warning", "sla.breached"]);
    // Each alert refreshed the card, so its clock line is current.
    let cards = count(
        &e.app,
        "SELECT count(*) FROM outbox o WHERE o.kind = 'card'
           AND o.id > (SELECT min(id) FROM outbox WHERE kind = 'channel_notice')",
    )
    .await;
    assert_eq!(cards, 2, "one card refresh per alert");
}

#[tokio::test]
async fn a_ticket_answered_in_time_gets_no_alert() {
    let e = Env::new(wall_policy("first_response = \"1h\"", "ping_admins")).await;
    let desk = e.desk();
    let number = e.open(&desk, 1).await;
    let ben = actor(&e.app, "ben", Surface::Cli).await;
    e.clock.set(min(30));
    desk.reply(&ben, &number, "On its way.")
        .await
        .expect("reply");
    assert_eq!(e.next_at(&number).await, None);
    for m in [45, 60, 120, 24 * 60] {
        assert_eq!(e.tick(&desk, min(m)).await, 0);
    }
    assert!(e.notices().await.is_empty());
    assert!(e.sla_audit().await.is_empty());
    let (met,): (Option<DateTime<Utc>>,) =
        sqlx::query_as("SELECT met_at FROM sla_clocks WHERE metric = 'first_response'")
            .fetch_one(e.app.desk.pool())
            .await
            .expect("clock");
    assert_eq!(met, Some(min(30)));
}

#[tokio::test]
async fn waiting_on_the_customer_pauses_the_clock() {
    let e = Env::new(wall_policy("resolution = \"2h\"", "none")).await;
    let desk = e.desk();
    let number = e.open(&desk, 1).await;
    let ben = actor(&e.app, "ben", Surface::Cli).await;
    desk.claim(&ben, &number).await.expect("claim");
    e.clock.set(min(30));
    desk.set_status(&ben, &number, Status::Waiting)
        .await
        .expect("wait");
    assert_eq!(e.next_at(&number).await, None, "paused: nothing pending");
    assert_eq!(e.tick(&desk, min(180)).await, 0);
    desk.set_status(&ben, &number, Status::InProgress)
        .await
        .expect("resume");
    // 30 min used before the pause: the warning (at 90 of 120 min) is 60 min after resuming.
    assert_eq!(e.next_at(&number).await, Some(min(240)));
    assert_eq!(e.tick(&desk, min(239)).await, 0);
    assert_eq!(e.tick(&desk, min(240)).await, 1);
    let notices = e.notices().await;
    assert_eq!(notices.len(), 1, "{notices:?}");
    assert!(
        notices[0].contains("resolution due in 30 min"),
        "{}",
        notices[0]
    );
    // Held: the holder is named, not the admins.
    assert!(notices[0].contains("{mention:ben}"), "{}", notices[0]);
    assert!(!notices[0].contains("{mention:ana}"), "{}", notices[0]);
}

#[tokio::test]
async fn a_breach_returns_the_ticket_to_the_queue_when_configured() {
    let e = Env::new(wall_policy("first_response = \"1h\"", "return_to_queue")).await;
    let desk = e.desk();
    let number = e.open(&desk, 1).await;
    let ben = actor(&e.app, "ben", Surface::Cli).await;
    desk.claim(&ben, &number).await.expect("claim");
    // Already past its due time: only the breach goes out.
    assert_eq!(e.tick(&desk, min(61)).await, 1);
    let t = e.ticket(&number).await;
    assert_eq!(t.assignee_id, None);
    assert_eq!(t.status, Status::Open);
    assert_eq!(
        e.sla_audit().await,
        vec!["ticket.sla_returned", "sla.breached"]
    );
    let notices = e.notices().await;
    assert_eq!(notices.len(), 1, "{notices:?}");
    assert!(
        notices[0].contains("Returned to the queue (was @ben)"),
        "{}",
        notices[0]
    );
    assert!(notices[0].contains("{mention:ana}"), "{}", notices[0]);
}

#[tokio::test]
async fn a_breach_pings_the_admins_when_configured() {
    let e = Env::new(wall_policy("first_response = \"1h\"", "ping_admins")).await;
    let desk = e.desk();
    let number = e.open(&desk, 1).await;
    let ben = actor(&e.app, "ben", Surface::Cli).await;
    desk.claim(&ben, &number).await.expect("claim");
    assert_eq!(e.tick(&desk, min(45)).await, 1);
    assert_eq!(e.tick(&desk, min(60)).await, 1);
    let notices = e.notices().await;
    assert_eq!(notices.len(), 2, "{notices:?}");
    assert!(!notices[0].contains("{mention:ana}"), "{}", notices[0]);
    assert!(notices[1].contains("{mention:ben}"), "{}", notices[1]);
    assert!(
        notices[1].contains("Escalated to {mention:ana}"),
        "{}",
        notices[1]
    );
    // Still held: pinging changes nothing else.
    assert_eq!(
        e.ticket(&number).await.assignee_handle.as_deref(),
        Some("ben")
    );
}

#[tokio::test]
async fn with_sla_off_nothing_is_written() {
    let mut off = wall_policy("first_response = \"1h\"\nresolution = \"1d\"", "none");
    off.enabled = false;
    let e = Env::new(off).await;
    let desk = e.desk();
    let number = e.open(&desk, 1).await;
    assert_eq!(e.next_at(&number).await, None);
    assert_eq!(count(&e.app, "SELECT count(*) FROM sla_clocks").await, 0);
    assert_eq!(e.tick(&desk, min(3 * 24 * 60)).await, 0);
    assert!(e.notices().await.is_empty());
}

#[tokio::test]
async fn a_batch_starts_its_clocks_and_a_follow_up_starts_a_next_response_cycle() {
    let e = Env::new(wall_policy(
        "first_response = \"1h\"\nnext_response = \"2h\"",
        "none",
    ))
    .await;
    let desk = e.desk();
    // A backlog fetched after downtime: received 3 h and 30 min before it is stored (now).
    let batch = vec![
        claimdesk::desk::Fetched::new(
            1,
            customer_email("b1@customer.example", "Batch one", "x", None),
            0,
        )
        .received(min(-180)),
        claimdesk::desk::Fetched::new(
            2,
            customer_email("b2@customer.example", "Batch two", "y", None),
            0,
        )
        .received(min(-30)),
    ];
    let done = desk
        .ingest_batch("support", 1, &batch)
        .await
        .expect("batch");
    let started: Vec<(DateTime<Utc>,)> = sqlx::query_as(
        "SELECT started_at FROM sla_clocks WHERE metric = 'first_response' ORDER BY ticket_id",
    )
    .fetch_all(e.app.desk.pool())
    .await
    .expect("clocks");
    assert_eq!(
        started,
        vec![(min(-180),), (min(-30),)],
        "clocks start at the received time"
    );
    // The first is as late as it really is: its breach goes out at once, alone.
    let Ingested::Created(late) = &done[0] else {
        panic!("{done:?}")
    };
    assert_eq!(e.tick(&desk, t0()).await, 1);
    let notices = e.notices().await;
    assert_eq!(notices.len(), 1, "{notices:?}");
    assert!(
        notices[0].contains(late.as_str()) && notices[0].contains("breached"),
        "{}",
        notices[0]
    );
    assert_eq!(e.next_at(late).await, None);

    // An answer, then the customer writes again: a next-response cycle starts with it.
    let Ingested::Created(number) = &done[1] else {
        panic!("{done:?}")
    };
    let ben = actor(&e.app, "ben", Surface::Cli).await;
    e.clock.set(min(10));
    desk.reply(&ben, number, "Looking.").await.expect("reply");
    e.clock.set(min(20));
    let follow = customer_email(
        "b3@customer.example",
        "Re: Batch two",
        "Any news?",
        Some("b2@customer.example"),
    );
    let r = desk.ingest(src(3), &follow).await.expect("follow-up");
    assert!(matches!(r, Ingested::Joined(_)), "{r:?}");
    // The warning at 75 % of 2 h after the follow-up.
    assert_eq!(e.next_at(number).await, Some(min(20 + 90)));
}

/// The scheduler task itself, on real time: it sleeps (nothing is pending), is woken by the
/// notification of a new deadline a few seconds away, and queues the breach when it comes —
/// long before its one-minute safety net would have woken it.
#[tokio::test]
async fn the_scheduler_wakes_for_a_deadline_a_few_seconds_away() {
    let e = Env::new(wall_policy("first_response = \"1h\"", "none")).await;
    let scheduler = tokio::spawn(e.app.desk.clone().sla_scheduler());
    // Let it find nothing and go to sleep.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    // A desk whose clock runs 1 h minus 4 s behind: the ticket's first response is due
    // 4 s from now (its warning is overdue at once).
    let behind = e.app.desk.clone().with_clock(Arc::new(|| {
        Utc::now() - Duration::hours(1) + Duration::seconds(4)
    }));
    let started = std::time::Instant::now();
    let number = e.open(&behind, 1).await;
    let notices = eventually(40, "the breach alert", || async {
        let n = e.notices().await;
        n.iter()
            .any(|t| t.contains(&number) && t.contains("breached"))
            .then_some(n)
    })
    .await;
    let took = started.elapsed();
    scheduler.abort();
    assert!(
        notices.iter().any(|t| t.contains("due in")),
        "the overdue warning too: {notices:?}"
    );
    assert!(
        took < std::time::Duration::from_secs(40),
        "queued after {took:?}"
    );
    assert!(
        took >= std::time::Duration::from_secs(3),
        "not before its moment: {took:?}"
    );
}

/// A customer's subject cannot ping anyone through an alert: only the mentions the desk
/// placed are mentions (`{mention:…}` in the subject stays text, Slack's `<!channel>` is
/// escaped).
#[tokio::test]
async fn an_alert_quoting_a_hostile_subject_pings_only_whom_it_names() {
    use claimdesk::desk::messages::{self, BreachEscalation, Mention};
    use claimdesk::domain::sla::Metric;
    let e = Env::new(wall_policy("first_response = \"1h\"", "none")).await;
    let agents = e.app.desk.all_agents().await.expect("agents");
    let ben = agents
        .iter()
        .find(|a| a.handle == "ben")
        .and_then(|a| a.slack_user_id.clone())
        .expect("ben's Slack id");
    let subject = "{mention:ana} <!channel> @here {{mention:cy}}";
    for text in [
        messages::sla_warning(
            "TICK-2026-0001",
            subject,
            Metric::FirstResponse,
            min(60),
            Duration::minutes(15),
            &["ben".to_string()],
        ),
        messages::sla_breach(
            "TICK-2026-0001",
            subject,
            Metric::Resolution,
            min(60),
            &["ben".to_string()],
            &BreachEscalation::None,
        ),
    ] {
        let n = messages::notice(&text, &agents, Mention::Slack);
        assert_eq!(n.mentions, vec![ben.clone()], "{}", n.text);
        assert!(!n.text.contains("<!channel>"), "{}", n.text);
    }
}

/// A writer that has read a ticket's clocks to change them (an ingest batch, a reply) holds
/// the ticket until it commits: the scheduler's tick passes the ticket over meanwhile instead
/// of marking an alert the writer would then overwrite (sending it twice, or losing a new
/// cycle's), and sends it once after the writer is done.
#[tokio::test]
async fn a_tick_passes_over_a_ticket_whose_clocks_a_writer_holds() {
    let e = Env::new(wall_policy("first_response = \"1h\"", "none")).await;
    let desk = e.desk();
    let number = e.open(&desk, 1).await;
    let id = e.ticket(&number).await.id;

    // A writer reads the clocks in its transaction ...
    let mut writer = e.app.desk.pool().begin().await.expect("begin");
    let held = claimdesk::store::sla::load_many(&mut writer, &[id])
        .await
        .expect("load");
    assert_eq!(held.get(&id).map(|c| c.0.len()), Some(1), "{held:?}");

    // ... so the warning due meanwhile waits for it.
    assert_eq!(e.tick(&desk, min(45)).await, 0);
    assert!(e.notices().await.is_empty());

    // When the writer is done, the tick sends it, once.
    writer.commit().await.expect("commit");
    assert_eq!(e.tick(&desk, min(46)).await, 1);
    assert_eq!(e.tick(&desk, min(47)).await, 0);
    assert_eq!(e.notices().await.len(), 1);
}

/// A priority change to one no policy covers drops the ticket's running clocks: their rows
/// go, so no card, queue or report shows a deadline that no longer applies, and no alert
/// comes.
#[tokio::test]
async fn a_priority_no_policy_covers_drops_the_clocks() {
    let e = Env::new(wall_policy(
        "priority = \"medium\"\nfirst_response = \"1h\"\nresolution = \"1d\"",
        "none",
    ))
    .await;
    let desk = e.desk();
    let number = e.open(&desk, 1).await;
    let clocks = || async {
        let (n,): (i64,) = sqlx::query_as(
            "SELECT count(*) FROM sla_clocks c JOIN tickets t ON t.id = c.ticket_id
             WHERE t.number = $1",
        )
        .bind(&number)
        .fetch_one(e.app.desk.pool())
        .await
        .expect("count");
        n
    };
    assert_eq!(clocks().await, 2);
    let ben = actor(&e.app, "ben", Surface::Cli).await;
    desk.claim(&ben, &number).await.expect("claim");
    desk.set_priority(&ben, &number, claimdesk::domain::Priority::Low)
        .await
        .expect("priority");
    assert_eq!(clocks().await, 0);
    assert_eq!(e.next_at(&number).await, None);
    assert_eq!(e.tick(&desk, min(600)).await, 0);
    assert!(e.notices().await.is_empty());
}

/// After the `[sla]` settings change (here the goal doubles), the open tickets' clocks are
/// re-stamped once at start: the next moment follows the new goal, time already counted is
/// kept, and a start without a change re-stamps nothing.
#[tokio::test]
async fn changed_settings_restamp_the_open_clocks_once() {
    let mut e = Env::new(wall_policy("first_response = \"1h\"", "none")).await;
    let desk = e.desk();
    let number = e.open(&desk, 1).await;
    assert_eq!(e.next_at(&number).await, Some(min(45)));
    // First start under these settings: their fingerprint is recorded.
    e.clock.set(min(10));
    assert_eq!(desk.sla_restamp(min(10)).await.expect("restamp"), 1);
    assert_eq!(desk.sla_restamp(min(10)).await.expect("restamp"), 0);
    assert_eq!(e.next_at(&number).await, Some(min(45)));

    // The goal becomes 2 hours: the warning moves to 75 % of it, from the same start.
    e.env.settings.sla = wall_policy("first_response = \"2h\"", "none");
    let desk = e.restart().await;
    assert_eq!(desk.sla_restamp(min(20)).await.expect("restamp"), 1);
    assert_eq!(e.next_at(&number).await, Some(min(90)));
    assert_eq!(desk.sla_restamp(min(21)).await.expect("restamp"), 0);
    assert_eq!(e.tick(&desk, min(89)).await, 0);
    assert_eq!(e.tick(&desk, min(90)).await, 1);
}

/// A backlog — more than `SUMMARY_OVER` alerts of one department due at once, as after
/// downtime or a first sync of an old mailbox — is one summary naming the admins once, not a
/// channel full of pings; each ticket still gets its audit row and card refresh, and a few
/// alerts at once are still posted one by one.
#[tokio::test]
async fn a_backlog_of_alerts_is_one_summary() {
    let e = Env::new(wall_policy("first_response = \"1h\"", "none")).await;
    let desk = e.desk();
    let many = claimdesk::desk::sla::SUMMARY_OVER + 3;
    let mut numbers = Vec::new();
    for uid in 1..=many {
        numbers.push(e.open(&desk, uid as u32).await);
    }
    assert_eq!(e.tick(&desk, min(120)).await, many);
    // (The eight tickets from one sender also raise a mail-loop notice; only SLA ones count.)
    let sla_notices = || async {
        let all = e.notices().await;
        all.into_iter()
            .filter(|n| n.contains("SLA"))
            .collect::<Vec<_>>()
    };
    let notices = sla_notices().await;
    assert_eq!(notices.len(), 1, "{notices:?}");
    let summary = &notices[0];
    assert!(
        summary.contains(&format!("{many} SLA alerts at once")),
        "{summary}"
    );
    for n in &numbers {
        assert!(
            summary.contains(&format!("{n}: first response breached")),
            "{summary}"
        );
    }
    assert_eq!(summary.matches("{mention:ana}").count(), 1, "{summary}");
    assert_eq!(e.sla_audit().await.len(), many);

    // A few at once are still one notice each.
    for uid in 100..102u32 {
        e.open(&desk, uid).await;
    }
    assert_eq!(e.tick(&desk, min(240)).await, 2);
    assert_eq!(sla_notices().await.len(), 3);
}
