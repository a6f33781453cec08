//! Several replicas on one database (issue 13): each mailbox is read by one `serve` process
//! at a time (lease `mailbox:<name>`), a standby takes over when the leader is SIGKILLed or its
//! lease connection is terminated, nothing is stored twice; the Discord gateway connects from
//! one replica at a time; two replicas' sweeps warn once per claim. Failover times are
//! printed (`failover:` lines), with a generous bound asserted.

mod support;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use support::harness::*;
use support::standin::GatewayStandin;

/// The second mailbox: another folder of the same Dovecot account.
const SECOND: &str = "second";
const SECOND_FOLDER: &str = "Second";

/// Writes the test's config with a second mailbox (`SECOND`, folder `SECOND_FOLDER`).
fn two_mailbox_config(env: &TestEnv, dir: &Path) -> PathBuf {
    let path = env.write_config(dir);
    let mb = &env.settings.mailboxes[0];
    let mut text = std::fs::read_to_string(&path).expect("read config");
    text.push_str(&format!(
        "\n[[mailboxes]]\nname = \"{SECOND}\"\naddress = \"second@claimdesk.test\"\nhost = \"127.0.0.1\"\nport = {}\nusername = \"{}\"\npassword_env = \"TEST_IMAP_PASSWORD\"\nfolder = \"{SECOND_FOLDER}\"\nacknowledge = false\n",
        mb.port, mb.username
    ));
    std::fs::write(&path, text).expect("write config");
    path
}

/// `claimdesk serve` as replica `name`, its log in `dir/<name>.log`.
fn replica(env: &TestEnv, config: &Path, dir: &Path, name: &str) -> tokio::process::Child {
    let log = std::fs::File::create(dir.join(format!("{name}.log"))).expect("log file");
    claimdesk(env, config, &["serve"])
        .env("CLAIMDESK__REPLICAS__NAME", name)
        .env("RUST_LOG", "warn,claimdesk=info")
        .stderr(log)
        .spawn()
        .expect("spawn serve")
}

/// The holder and epoch of lease `name`, when taken.
async fn lease(pool: &sqlx::PgPool, name: &str) -> Option<(String, i64)> {
    sqlx::query_as("SELECT holder, epoch FROM leases WHERE name = $1")
        .bind(name)
        .fetch_optional(pool)
        .await
        .expect("leases")
}

/// Number of tickets with `subject`.
async fn tickets_titled(pool: &sqlx::PgPool, subject: &str) -> i64 {
    let (n,): (i64,) = sqlx::query_as("SELECT count(*) FROM tickets WHERE subject = $1")
        .bind(subject)
        .fetch_one(pool)
        .await
        .expect("count");
    n
}

/// Nothing stored twice: no duplicate copy recorded, no UID of a mailbox stored twice, one
/// ticket per subject sent.
async fn assert_stored_once(pool: &sqlx::PgPool) {
    assert_eq!(
        count(pool, "SELECT count(*) FROM duplicate_copies").await,
        0,
        "a replica stored a copy of a message another had stored"
    );
    assert_eq!(
        count(
            pool,
            "SELECT count(*) FROM (SELECT mailbox, uid FROM messages WHERE uid IS NOT NULL
             GROUP BY mailbox, uid HAVING count(*) > 1) d"
        )
        .await,
        0,
        "one UID stored twice"
    );
    assert_eq!(
        count(
            pool,
            "SELECT count(*) FROM (SELECT subject FROM tickets GROUP BY subject HAVING count(*) > 1) d"
        )
        .await,
        0,
        "one email made two tickets"
    );
}

/// Each lease's history: epochs 1, 2, … in order, each with one holder, never two at once.
async fn history(pool: &sqlx::PgPool, name: &str) -> Vec<(i64, String)> {
    sqlx::query_as("SELECT epoch, holder FROM lease_history WHERE name = $1 ORDER BY epoch")
        .bind(name)
        .fetch_all(pool)
        .await
        .expect("history")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_read_each_mailbox_once_and_the_standby_takes_over_after_sigkill() {
    let env = env(Platforms {
        slack: true,
        discord: false,
    })
    .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let config = two_mailbox_config(&env, dir.path());
    let first = env.settings.mailboxes[0].name.clone();
    for (folder, i) in [
        ("INBOX", 0),
        (SECOND_FOLDER, 0),
        ("INBOX", 1),
        (SECOND_FOLDER, 1),
    ] {
        let subject = format!("before {folder} {i}");
        env.dovecot
            .append(
                folder,
                &customer_email(
                    &format!("{subject}@x").replace(' ', "-"),
                    &subject,
                    "Hi",
                    None,
                ),
            )
            .await
            .expect("append");
    }
    let migrated = claimdesk(&env, &config, &["migrate"])
        .status()
        .await
        .expect("run migrate");
    assert!(migrated.success(), "migrate");
    let pool = sqlx::PgPool::connect(&env.db.url).await.expect("pool");
    let mut a = replica(&env, &config, dir.path(), "a");
    let mut b = replica(&env, &config, dir.path(), "b");
    eventually(60, "the four messages stored", || async {
        (count(&pool, "SELECT count(*) FROM tickets").await == 4).then_some(())
    })
    .await;
    let lease_first = format!("mailbox:{first}");
    let lease_second = format!("mailbox:{SECOND}");
    // Both replicas run for a while: still one acquisition per mailbox.
    tokio::time::sleep(Duration::from_secs(5)).await;
    for name in [&lease_first, &lease_second] {
        let h = history(&pool, name).await;
        assert_eq!(
            h.len(),
            1,
            "{name} taken once while both replicas run: {h:?}"
        );
    }
    assert_stored_once(&pool).await;

    // SIGKILL the reader of the first mailbox; append a message right after.
    let (leader, epoch) = lease(&pool, &lease_first).await.expect("leased");
    let (victim, standby) = if leader == "a" {
        (&mut a, "b")
    } else {
        (&mut b, "a")
    };
    victim.start_kill().expect("kill");
    let killed = Instant::now();
    victim.wait().await.expect("reaped");
    env.dovecot
        .append(
            "INBOX",
            &customer_email("after-kill@x", "after kill", "Hi", None),
        )
        .await
        .expect("append");
    let (holder, new_epoch) = eventually(30, "the standby takes the lease", || async {
        lease(&pool, &lease_first).await.filter(|(_, e)| *e > epoch)
    })
    .await;
    let to_lease = killed.elapsed();
    eventually(
        30,
        "the message appended after the kill is stored",
        || async { (tickets_titled(&pool, "after kill").await == 1).then_some(()) },
    )
    .await;
    let to_ingest = killed.elapsed();
    println!(
        "failover: SIGKILL -> new lease row {:.2} s; SIGKILL -> first message ingested {:.2} s (lease_retry_secs 2)",
        to_lease.as_secs_f64(),
        to_ingest.as_secs_f64()
    );
    assert_eq!(holder, standby);
    assert_eq!(new_epoch, epoch + 1);
    assert!(to_ingest < Duration::from_secs(30), "{to_ingest:?}");
    // The survivor now reads both mailboxes.
    eventually(30, "the survivor holds both mailboxes", || async {
        let one = lease(&pool, &lease_first).await?;
        let two = lease(&pool, &lease_second).await?;
        (one.0 == standby && two.0 == standby).then_some(())
    })
    .await;
    env.dovecot
        .append(
            SECOND_FOLDER,
            &customer_email("after-kill-2@x", "after kill second", "Hi", None),
        )
        .await
        .expect("append");
    eventually(30, "the second mailbox still read", || async {
        (tickets_titled(&pool, "after kill second").await == 1).then_some(())
    })
    .await;
    assert_stored_once(&pool).await;
    let h = history(&pool, &lease_first).await;
    assert_eq!(
        h.iter().map(|(e, _)| *e).collect::<Vec<_>>(),
        (1..=h.len() as i64).collect::<Vec<_>>()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_whose_lease_connection_is_terminated_stops_and_the_standby_takes_over() {
    let env = env(Platforms {
        slack: true,
        discord: false,
    })
    .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let config = env.write_config(dir.path());
    let mailbox = env.settings.mailboxes[0].name.clone();
    let name = format!("mailbox:{mailbox}");
    env.dovecot
        .append("INBOX", &customer_email("t1@x", "t one", "Hi", None))
        .await
        .expect("append");
    let migrated = claimdesk(&env, &config, &["migrate"])
        .status()
        .await
        .expect("run migrate");
    assert!(migrated.success(), "migrate");
    let pool = sqlx::PgPool::connect(&env.db.url).await.expect("pool");
    let _a = replica(&env, &config, dir.path(), "a");
    let _b = replica(&env, &config, dir.path(), "b");
    eventually(60, "the first message stored", || async {
        (tickets_titled(&pool, "t one").await == 1).then_some(())
    })
    .await;
    let (leader, epoch) = lease(&pool, &name).await.expect("leased");
    let standby = if leader == "a" { "b" } else { "a" };
    // Terminate the leader's lease connection, found by its application_name.
    let app_name = claimdesk::replicas::application_name(&name, &leader);
    let (terminated,): (i64,) = sqlx::query_as(
        "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity
         WHERE application_name = $1) t",
    )
    .bind(&app_name)
    .fetch_one(&pool)
    .await
    .expect("terminate");
    assert_eq!(terminated, 1, "one lease connection named {app_name}");
    let cut = Instant::now();
    env.dovecot
        .append("INBOX", &customer_email("t2@x", "t two", "Hi", None))
        .await
        .expect("append");
    let (holder, new_epoch) = eventually(30, "the standby takes the lease", || async {
        lease(&pool, &name).await.filter(|(_, e)| *e > epoch)
    })
    .await;
    let to_lease = cut.elapsed();
    eventually(
        30,
        "the message appended after the cut is stored",
        || async { (tickets_titled(&pool, "t two").await == 1).then_some(()) },
    )
    .await;
    println!(
        "failover: lease connection terminated -> new lease row {:.2} s; -> first message ingested {:.2} s",
        to_lease.as_secs_f64(),
        cut.elapsed().as_secs_f64()
    );
    assert_eq!((holder.as_str(), new_epoch), (standby, epoch + 1));
    // The old leader keeps running as a standby: more mail, still stored once, and the
    // lease stays with the new holder.
    env.dovecot
        .append("INBOX", &customer_email("t3@x", "t three", "Hi", None))
        .await
        .expect("append");
    eventually(30, "a later message stored", || async {
        (tickets_titled(&pool, "t three").await == 1).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        lease(&pool, &name).await.map(|l| l.0).as_deref(),
        Some(standby)
    );
    assert_stored_once(&pool).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_discord_gateway_connects_from_one_replica_and_the_other_takes_over() {
    let mut env = db_only(Platforms {
        slack: false,
        discord: true,
    })
    .await;
    if let Some(d) = env.settings.discord.as_mut() {
        d.mode = claimdesk::config::DiscordMode::Gateway;
        d.application_id = Some(DISCORD_APP_ID.into());
        d.register_commands = false;
    }
    env.secrets.discord_public_key = None;
    let discord = env.discord.as_ref().expect("discord stand-in");
    let gateway = GatewayStandin::start().await.expect("gateway stand-in");
    discord.set_gateway_url(&gateway.url);
    env.settings.replicas.name = Some("a".into());
    let a = env.app().await;
    env.settings.replicas.name = Some("b".into());
    let b = env.app().await;
    let task_a = a.start_discord_gateway().expect("gateway mode");
    eventually(20, "one IDENTIFY", || async {
        (gateway.identifies().len() == 1).then_some(())
    })
    .await;
    let pool = a.desk.pool().clone();
    let (holder, epoch) = lease(&pool, claimdesk::replicas::DISCORD_GATEWAY)
        .await
        .expect("leased");
    assert_eq!((holder.as_str(), epoch), ("a", 1));
    let task_b = b.start_discord_gateway().expect("gateway mode");
    // The second replica stands by: no second connection.
    tokio::time::sleep(Duration::from_secs(6)).await;
    assert_eq!(gateway.identifies().len(), 1, "one gateway connection");
    // The holder goes away: the other connects.
    task_a.abort();
    let gone = Instant::now();
    eventually(30, "the standby identifies", || async {
        (gateway.identifies().len() == 2).then_some(())
    })
    .await;
    println!(
        "failover: Discord gateway holder stopped -> standby identified {:.2} s",
        gone.elapsed().as_secs_f64()
    );
    assert_eq!(
        lease(&pool, claimdesk::replicas::DISCORD_GATEWAY)
            .await
            .map(|l| l.0)
            .as_deref(),
        Some("b")
    );
    task_b.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_sweeping_at_once_warn_each_inactive_claim_once() {
    let mut env = db_only(Platforms {
        slack: true,
        discord: false,
    })
    .await;
    env.settings.desk.auto_release.enabled = true;
    env.settings.desk.auto_release.warn_after_hours = 24.0;
    env.settings.desk.auto_release.release_after_hours = 8.0;
    let a = env.app().await;
    let b = env.app().await;
    let ben = actor(&a, "ben", claimdesk::desk::Surface::Console).await;
    for i in 0..20u32 {
        let number = open_ticket(&a, i + 1, &format!("sweep{i}@x"), &format!("s{i}"), "Hi").await;
        a.desk.claim(&ben, &number).await.expect("claim");
    }
    sqlx::query("UPDATE tickets SET holder_active_at = now() - interval '25 hours'")
        .execute(a.desk.pool())
        .await
        .expect("age");
    let (ra, rb) = tokio::join!(a.desk.auto_release_sweep(), b.desk.auto_release_sweep());
    let (ra, rb) = (ra.expect("sweep a"), rb.expect("sweep b"));
    assert_eq!(ra.warned + rb.warned, 20, "{ra:?} {rb:?}");
    let per_ticket: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT ticket_id, count(*) FROM outbox WHERE kind = 'thread_notice'
         AND payload::text LIKE '%no reply to the customer%' GROUP BY ticket_id ORDER BY ticket_id",
    )
    .fetch_all(a.desk.pool())
    .await
    .expect("warnings");
    assert_eq!(per_ticket.len(), 20);
    assert!(
        per_ticket.iter().all(|(_, n)| *n == 1),
        "a ticket warned twice: {per_ticket:?}"
    );
}
