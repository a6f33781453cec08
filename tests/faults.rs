//! Faults during a large backlog, each ending with every message stored exactly once: the
//! set of Message-IDs in Dovecot equals the set stored in Postgres (no gap, no duplicate,
//! nothing quarantined) and the mailbox cursor is at the last UID.
//!
//! - the IMAP server (Dovecot) is restarted while claimdesk is fetching;
//! - Postgres (a throwaway cluster of this test) is restarted while claimdesk is storing;
//! - the real binary (`claimdesk serve`) is SIGKILLed at random points, ten times, then a
//!   final run completes: also every ticket's card posted once (Discord stand-in: one
//!   distinct `nonce` per card, `enforce_nonce` set) and no outbox item left undelivered.

mod support;

use std::collections::{BTreeSet, HashMap};
use std::process::Stdio;
use std::time::{Duration, Instant};

use rand::Rng;
use support::harness::*;
use support::services::{Dovecot, PgCluster};

/// `count`, but `None` while the database is unreachable (it is being restarted).
async fn try_count(pool: &sqlx::PgPool, sql: &str) -> Option<i64> {
    sqlx::query_as::<_, (i64,)>(sql)
        .fetch_one(pool)
        .await
        .ok()
        .map(|(n,)| n)
}

fn backlog(tag: &str, n: usize) -> Vec<Vec<u8>> {
    (1..=n)
        .map(|i| {
            customer_email(
                &format!("{tag}{i}@customer.example"),
                &format!("Backlog {tag} {i}"),
                "Body",
                None,
            )
        })
        .collect()
}

/// Every message in Dovecot's INBOX is stored exactly once and nothing else is: the
/// Message-IDs (as claimdesk's parser reads them) of the folder equal those of the
/// `messages` table, none repeats, nothing is quarantined, and the cursor is at the last UID.
async fn assert_each_stored_exactly_once(dovecot: &Dovecot, pool: &sqlx::PgPool) {
    let in_imap = dovecot.fetch_all("INBOX").await.expect("read the folder");
    let max_uid = in_imap.iter().map(|m| m.uid).max().expect("messages");
    let mut expected: Vec<String> = in_imap
        .iter()
        .map(|m| {
            claimdesk::intake::parse::parse(&m.raw)
                .expect("parses")
                .message_id
        })
        .collect();
    expected.sort();
    let unique: BTreeSet<&String> = expected.iter().collect();
    assert_eq!(
        unique.len(),
        expected.len(),
        "the test's Message-IDs are unique"
    );
    let stored: Vec<String> =
        sqlx::query_as::<_, (String,)>("SELECT message_id FROM messages ORDER BY message_id")
            .fetch_all(pool)
            .await
            .expect("stored ids")
            .into_iter()
            .map(|(m,)| m)
            .collect();
    let missing: Vec<&String> = expected.iter().filter(|m| !stored.contains(m)).collect();
    assert!(missing.is_empty(), "never stored: {missing:?}");
    assert_eq!(stored, expected, "each message stored exactly once");
    assert_eq!(count(pool, "SELECT count(*) FROM quarantine").await, 0);
    let (last_uid,): (i64,) =
        sqlx::query_as("SELECT last_uid FROM mailbox_cursors WHERE mailbox = 'support'")
            .fetch_one(pool)
            .await
            .expect("cursor");
    assert_eq!(last_uid, i64::from(max_uid), "cursor at the last UID");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dovecot_restarted_mid_fetch_of_a_large_backlog_stores_each_message_once() {
    const TOTAL: usize = 2000;
    let mut env = env(Platforms {
        slack: false,
        discord: false,
    })
    .await;
    env.settings.intake.fetch_batch = 50;
    env.settings.intake.max_backoff_secs = 1;
    env.dovecot
        .append_many("INBOX", &backlog("imap", TOTAL))
        .await
        .expect("append");
    let app = env.app().await;
    let pool = app.desk.pool().clone();
    let running = app.start().await.expect("app starts");

    let at_restart = eventually(60, "the first batch stored", || async {
        let n = count(&pool, "SELECT count(*) FROM messages").await;
        (n > 0).then_some(n)
    })
    .await;
    // Killed, not stopped: a graceful stop lets Dovecot's imap process go on serving the
    // session for about a second, in which a fast intake fetched the whole backlog.
    env.dovecot.kill().await.expect("dovecot killed");
    let after = count(&pool, "SELECT count(*) FROM messages").await;
    env.dovecot.restart().await.expect("dovecot restarts");
    assert!(
        after < TOTAL as i64,
        "the restart must come while the backlog is being fetched (stored {at_restart} before, {after} after)"
    );
    eventually(400, "the whole backlog after the restart", || async {
        (count(&pool, "SELECT count(*) FROM messages").await == TOTAL as i64).then_some(())
    })
    .await;
    drop(running);
    assert_each_stored_exactly_once(&env.dovecot, &pool).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_restarted_mid_ingest_stores_each_message_once() {
    const TOTAL: usize = 2000;
    let cluster = PgCluster::start()
        .await
        .expect("throwaway Postgres cluster");
    let mut env = env(Platforms {
        slack: false,
        discord: false,
    })
    .await;
    env.settings.database.url = cluster.url.clone();
    env.settings.database.migrate_url = None;
    env.settings.intake.fetch_batch = 50;
    env.settings.intake.max_backoff_secs = 1;
    env.dovecot
        .append_many("INBOX", &backlog("pg", TOTAL))
        .await
        .expect("append");
    let app = env.app().await;
    let pool = app.desk.pool().clone();
    let running = app.start().await.expect("app starts");

    eventually(60, "the first batch stored", || async {
        let n = try_count(&pool, "SELECT count(*) FROM messages").await?;
        (n > 0).then_some(n)
    })
    .await;
    cluster.stop_server().await.expect("Postgres stops");
    // Down long enough for intake to hit the dead connections mid-batch.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    cluster.start_server().await.expect("Postgres starts again");
    let after = count(&pool, "SELECT count(*) FROM messages").await;
    assert!(
        after < TOTAL as i64,
        "the restart must come while the backlog is being stored ({after} stored)"
    );
    eventually(400, "the whole backlog after the restart", || async {
        (try_count(&pool, "SELECT count(*) FROM messages").await? == TOTAL as i64).then_some(())
    })
    .await;
    drop(running);
    assert_each_stored_exactly_once(&env.dovecot, &pool).await;
    assert_eq!(
        count(&pool, "SELECT count(*) FROM tickets").await,
        TOTAL as i64
    );
    assert!(
        cluster.log().contains("database system is shut down"),
        "the server really was stopped: {}",
        cluster.log()
    );
}

/// `claimdesk --config CONFIG serve` as a child process (the real binary), Discord only.
fn serve(env: &TestEnv, config: &std::path::Path) -> tokio::process::Child {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_claimdesk"))
        .arg("--config")
        .arg(config)
        .arg("serve")
        .env("TEST_IMAP_PASSWORD", &env.dovecot.password)
        .env("TEST_DISCORD_TOKEN", "discord-test-token")
        .env("TEST_DISCORD_KEY", env.discord_signer.public_key_hex())
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn claimdesk serve")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkilled_at_random_points_ten_times_then_a_final_run_stores_and_posts_each_once() {
    const TOTAL: usize = 1000;
    const KILLS: usize = 10;
    let env = env(Platforms {
        slack: false,
        discord: true,
    })
    .await;
    let discord = env.discord.as_ref().expect("discord stand-in");
    let dir = tempfile::tempdir().expect("tempdir");
    let config = env.write_config(dir.path());
    let text = std::fs::read_to_string(&config).expect("config");
    let text = text.replace("[intake]\n", "[intake]\nfetch_batch = 10\n")
        + &format!(
            "[discord]\nchannel_id = \"{DISCORD_CHANNEL}\"\napi_proxy = \"{}\"\n\
             bot_token_env = \"TEST_DISCORD_TOKEN\"\npublic_key_env = \"TEST_DISCORD_KEY\"\n",
            discord.proxy_url
        );
    std::fs::write(&config, text).expect("write config");
    env.dovecot
        .append_many("INBOX", &backlog("kill", TOTAL))
        .await
        .expect("append");
    let pool = env.db.pool().await.expect("pool");

    // Each run is killed at a random moment once it has made progress (a batch stored, an
    // outbox item delivered or a card recorded), so the kills land inside the work, whatever
    // the machine's speed.
    let progress = "SELECT (SELECT count(*) FROM messages)
                         + (SELECT count(*) FROM outbox WHERE delivered_at IS NOT NULL)
                         + (SELECT count(*) FROM chat_posts)";
    let mut stored_at_kill = Vec::new();
    let mut rng = rand::thread_rng();
    for _ in 0..KILLS {
        let before = try_count(&pool, progress).await.unwrap_or(0);
        let mut child = serve(&env, &config);
        let started = Instant::now();
        while try_count(&pool, progress).await.unwrap_or(0) == before
            && started.elapsed() < Duration::from_secs(60)
        {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        tokio::time::sleep(Duration::from_millis(rng.gen_range(0..300))).await;
        child.start_kill().expect("SIGKILL");
        let status = child.wait().await.expect("reaped");
        assert_eq!(
            std::os::unix::process::ExitStatusExt::signal(&status),
            Some(9),
            "killed by SIGKILL, not exited on its own"
        );
        stored_at_kill.push(
            try_count(&pool, "SELECT count(*) FROM messages")
                .await
                .unwrap_or(0),
        );
    }
    assert!(
        stored_at_kill.iter().any(|&n| n > 0 && n < TOTAL as i64),
        "some kill must land mid-backlog: stored at each kill {stored_at_kill:?}"
    );

    let _last = serve(&env, &config);
    let deadline = Instant::now() + Duration::from_secs(400);
    loop {
        let stored = try_count(&pool, "SELECT count(*) FROM messages").await;
        let pending = try_count(
            &pool,
            "SELECT count(*) FROM outbox WHERE delivered_at IS NULL",
        )
        .await;
        let posted = try_count(&pool, "SELECT count(DISTINCT ticket_id) FROM chat_posts").await;
        if stored == Some(TOTAL as i64) && pending == Some(0) && posted == Some(TOTAL as i64) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "final run did not finish: stored {stored:?}, outbox pending {pending:?}, cards {posted:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    drop(_last);

    assert_each_stored_exactly_once(&env.dovecot, &pool).await;
    assert_eq!(
        count(&pool, "SELECT count(*) FROM tickets").await,
        TOTAL as i64
    );
    assert_eq!(
        count(
            &pool,
            "SELECT count(*) FROM outbox WHERE delivered_at IS NULL"
        )
        .await,
        0,
        "no outbox item left behind"
    );
    // Cards: one per ticket, each posted under one nonce; a repeat after a kill carries the
    // same nonce, which Discord drops (enforce_nonce).
    let cards: Vec<(i64, String)> =
        sqlx::query_as("SELECT ticket_id, message_ref FROM chat_posts WHERE platform = 'discord'")
            .fetch_all(&pool)
            .await
            .expect("chat posts");
    assert_eq!(cards.len(), TOTAL, "one card row per ticket");
    // The nonce of each recorded card, then every post made under one of those nonces (a
    // post repeated after a kill carries its card's nonce).
    let mut card_nonces: BTreeSet<String> = BTreeSet::new();
    for (_, id) in &cards {
        let m = discord
            .message(id)
            .unwrap_or_else(|| panic!("card {id} was really created on Discord"));
        let nonce = m["nonce"].as_str().expect("a card carries a nonce");
        card_nonces.insert(nonce.to_string());
    }
    assert_eq!(
        card_nonces.len(),
        TOTAL,
        "one distinct card nonce per ticket"
    );
    let mut by_nonce: HashMap<String, usize> = HashMap::new();
    for m in discord.created_messages() {
        if let Some(n) = m["nonce"].as_str().filter(|n| card_nonces.contains(*n)) {
            *by_nonce.entry(n.to_string()).or_default() += 1;
        }
    }
    assert_eq!(discord.violations(), Vec::<String>::new());
    let repeats: usize = by_nonce.values().map(|n| n - 1).sum();
    eprintln!(
        "stored at each kill: {stored_at_kill:?}; card posts repeated under the same nonce: {repeats}"
    );
}
