//! The desk at scale (issue 13): 1,000,000 tickets and 5,000,000 messages
//! (`claimdesk_testkit::fill`, by COPY) kept in `claimdesk_scale_<tickets>` — its own database,
//! apart from `claimdesk_bench_<tickets>` of the reports and web benches, because claims
//! write to it. Reused between runs (filled again when absent, when its ticket count differs,
//! when a migration it was filled under changed, or with `SCALE_REFILL=1`).
//!
//! Everything is measured through the chat executor (`chat::commands::run`, the code every
//! surface runs, answer text included) on a desk built as `serve` builds it (`App::build`,
//! the default pool of `database.max_connections` = 10 connections, the console platform):
//!
//! - **claim** with 50 agents at once, each its own agent (`scale01` … `scale50`): *burst*
//!   (every round, all 50 click Claim on 50 fresh tickets at the same instant), *race* (every
//!   round, all 50 click Claim on the same ticket: one wins, 49 are told who holds it), and
//!   *paced* (each agent claims a ticket every 0–2 s, about 50 claims a second together).
//!   Targets: p99 ≤ 20 ms.
//! - **workload**, **mine** (an agent holding the ~20 tickets the claims gave them, and a
//!   generated agent holding thousands), **unassigned**, **ticket** (random tickets), each
//!   `SCALE_REQUESTS` times (default 200), one after another. Target: p99 ≤ 50 ms.
//! - **idle RSS of `serve`**: the release binary started on the database with no mailbox and
//!   the web on loopback, read from `/proc/<pid>/status` once its CPU time stops moving.
//!   Target: ≤ 50 MB.
//! - **EXPLAIN**: each measured command run once more on a desk whose connections load
//!   `auto_explain` (analyze, buffers, nested statements, at NOTICE level): the plans of the
//!   exact statements it ran, with the indexes each used.
//!
//! Repeatable: the tickets claimed are picked fresh from the open unassigned ones each run,
//! and at the end every ticket a `scale…` agent holds is unclaimed again (through the same
//! executor) and the outbox rows the run queued are marked delivered.
//!
//! Run: `cargo bench --bench scale` (Postgres on 127.0.0.1:5432, or
//! `CLAIMDESK_TEST_DATABASE_URL`). `SCALE_TICKETS=N`, `SCALE_MESSAGES=M` change the size;
//! `SCALE_REQUESTS=K` the requests per read figure; `SCALE_ROUNDS=R` the claim rounds (10).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use claimdesk::chat::commands;
use claimdesk::desk::{Actor, Desk, Surface};
use claimdesk_testkit::fill::FillSpec;
use sqlx::Connection as _;

fn main() {
    claimdesk_testkit::bench::main("scale", run);
}

mod common;
use common::env_u64;

/// Name prefix of this bench's database.
const PREFIX: &str = "claimdesk_scale";
/// Agents claiming at once.
const AGENTS: usize = 50;
/// Targets, ms.
const CLAIM_P99_MS: f64 = 20.0;
const READ_P99_MS: f64 = 50.0;
const IDLE_RSS_MB: f64 = 50.0;

/// p50, p99 (nearest rank) and max of `times`, ms.
fn percentiles(times: &mut [Duration]) -> (f64, f64, f64) {
    if times.is_empty() {
        return (0.0, 0.0, 0.0);
    }
    times.sort();
    let at = |p: f64| {
        let i = ((p * times.len() as f64).ceil() as usize).clamp(1, times.len()) - 1;
        times[i].as_secs_f64() * 1000.0
    };
    (at(0.50), at(0.99), at(1.0))
}

struct Verdicts(Vec<(String, bool)>);

impl Verdicts {
    fn line(&mut self, what: &str, times: &mut [Duration], target_ms: f64, extra: &str) {
        let n = times.len();
        let (p50, p99, max) = percentiles(times);
        let ok = p99 <= target_ms;
        println!(
            "{what:<46} n {n:>4}  p50 {p50:7.2} ms  p99 {p99:7.2} ms  max {max:7.2} ms  \
             (target p99 ≤ {target_ms} ms: {}){extra}",
            if ok { "met" } else { "MISSED" }
        );
        self.0.push((what.to_string(), ok));
    }
}

/// The answer of `name args` run as `actor` through the chat executor, and how long it took.
async fn timed_command(desk: &Desk, actor: &Actor, name: &str, args: &str) -> (Duration, String) {
    let cmd = match commands::parse(name, args) {
        Ok(c) => c,
        Err(e) => panic!("`{name} {args}` does not parse: {e:?}"),
    };
    let t = Instant::now();
    let answer = match commands::run(desk, actor, cmd).await {
        Ok(a) => a,
        Err(refusal) => format!("REFUSED: {refusal}"),
    };
    (t.elapsed(), answer)
}

fn is_claimed(answer: &str) -> bool {
    !answer.starts_with("REFUSED")
}

/// `n` open tickets nobody holds, picked at random (fresh every run).
async fn fresh_tickets(conn: &mut sqlx::PgConnection, n: usize) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT number FROM tickets WHERE assignee_id IS NULL AND status = 'open'
         ORDER BY random() LIMIT $1",
    )
    .bind(n as i64)
    .fetch_all(conn)
    .await
    .expect("fresh tickets")
}

/// Agents `scale01` … `scale50` (members of support), created when missing.
async fn claim_agents(desk: &Desk, conn: &mut sqlx::PgConnection) -> Vec<Actor> {
    let mut actors = Vec::with_capacity(AGENTS);
    for i in 1..=AGENTS {
        let handle = format!("scale{i:02}");
        sqlx::query(
            "INSERT INTO agents (handle, name, email, role, source)
             VALUES ($1, $2, $3, 'member', 'cli') ON CONFLICT (handle) DO NOTHING",
        )
        .bind(&handle)
        .bind(format!("Scale Agent {i}"))
        .bind(format!("{handle}@claimdesk.fill"))
        .execute(&mut *conn)
        .await
        .expect("agent");
        let agent = desk
            .agent(claimdesk::store::agents::Identity::Handle(&handle))
            .await
            .expect("agent row");
        sqlx::query(
            "INSERT INTO agent_departments (agent_id, department) VALUES ($1, 'support')
             ON CONFLICT DO NOTHING",
        )
        .bind(agent.id)
        .execute(&mut *conn)
        .await
        .expect("agent department");
        actors.push(Actor {
            agent,
            surface: Surface::Console,
        });
    }
    actors
}

/// Unclaims, as its holder and through the executor, every ticket a `scale…` agent holds.
async fn release_claims(desk: &Desk, conn: &mut sqlx::PgConnection, actors: &[Actor]) -> usize {
    let mut released = 0;
    for a in actors {
        let held: Vec<String> = sqlx::query_scalar(
            "SELECT number FROM tickets WHERE assignee_id = $1
             AND status IN ('claimed', 'in_progress', 'waiting')",
        )
        .bind(a.agent.id)
        .fetch_all(&mut *conn)
        .await
        .expect("held tickets");
        for n in held {
            let (_, answer) = timed_command(desk, a, "unclaim", &n).await;
            if answer.starts_with("REFUSED") {
                println!("unclaim {n} as @{}: {answer}", a.agent.handle);
            } else {
                released += 1;
            }
        }
    }
    released
}

/// One claim phase: every agent runs its list of tickets; `barrier` lines the agents up
/// before each claim (all 50 at the same instant), `pace` is the mean gap between one
/// agent's claims otherwise (uniform in 0..2×pace). Returns each claim's time and how many
/// were won.
async fn claim_phase(
    desk: &Desk,
    actors: &[Actor],
    lists: Vec<Vec<String>>,
    barrier: bool,
    pace: Option<Duration>,
) -> (Vec<Duration>, usize) {
    let rounds = lists.first().map_or(0, Vec::len);
    let gate = Arc::new(tokio::sync::Barrier::new(actors.len()));
    let out = Arc::new(Mutex::new((Vec::new(), 0usize)));
    let mut tasks = Vec::new();
    for (a, list) in actors.iter().cloned().zip(lists) {
        let (desk, gate, out) = (desk.clone(), gate.clone(), out.clone());
        tasks.push(tokio::spawn(async move {
            let mut seed = (a.agent.id as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
            for n in list.iter().take(rounds) {
                if barrier {
                    gate.wait().await;
                }
                if let Some(p) = pace {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    let gap = p.mul_f64((seed % 2000) as f64 / 1000.0);
                    tokio::time::sleep(gap).await;
                }
                let (d, answer) = timed_command(&desk, &a, "claim", n).await;
                let won = is_claimed(&answer);
                if !won && !answer.contains("already claimed") {
                    println!("claim {n} as @{}: {answer}", a.agent.handle);
                }
                if let Ok(mut o) = out.lock() {
                    o.0.push(d);
                    o.1 += usize::from(won);
                }
            }
        }));
    }
    for t in tasks {
        t.await.expect("claim task");
    }
    let o = out.lock().expect("claim results");
    (o.0.clone(), o.1)
}

/// Collects the text of every Postgres notice sqlx reports (`sqlx::postgres::notice`): the
/// plans `auto_explain` sends at NOTICE level.
#[derive(Clone, Default)]
struct Notices(Arc<Mutex<Vec<String>>>);

impl Notices {
    fn take(&self) -> Vec<String> {
        self.0
            .lock()
            .map(|mut v| std::mem::take(&mut *v))
            .unwrap_or_default()
    }
}

struct MessageField(Option<String>);

impl tracing::field::Visit for MessageField {
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        if field.name() == "message" {
            self.0 = Some(value.to_string());
        }
    }
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.0 = Some(format!("{value:?}"));
        }
    }
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Notices {
    fn on_event(
        &self,
        event: &tracing::Event<'_>,
        _ctx: tracing_subscriber::layer::Context<'_, S>,
    ) {
        if event.metadata().target() != "sqlx::postgres::notice" {
            return;
        }
        let mut m = MessageField(None);
        event.record(&mut m);
        if let (Some(text), Ok(mut v)) = (m.0, self.0.lock()) {
            v.push(text);
        }
    }
}

/// `url` with options that make each connection load `auto_explain` and send the plan of
/// every statement (nested ones too) with actual times and buffers as a NOTICE.
fn explaining(url: &str) -> String {
    let mut u = url::Url::parse(url).expect("database URL");
    u.query_pairs_mut()
        .append_pair("options[session_preload_libraries]", "auto_explain")
        .append_pair("options[auto_explain.log_min_duration]", "0")
        .append_pair("options[auto_explain.log_analyze]", "on")
        .append_pair("options[auto_explain.log_buffers]", "on")
        .append_pair("options[auto_explain.log_timing]", "on")
        .append_pair("options[auto_explain.log_nested_statements]", "on")
        .append_pair("options[auto_explain.log_level]", "notice");
    u.to_string()
}

/// The index names a plan text uses (`… using <index> on …`, `Bitmap Index Scan on <index>`).
fn indexes_in(plan: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for line in plan.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        for w in words.windows(2) {
            let found = match w[0] {
                "using" | "Using" => Some(w[1]),
                "on" if line.contains("Bitmap Index Scan") => Some(w[1]),
                _ => None,
            };
            if let Some(ix) =
                found.filter(|i| i.ends_with("_idx") || i.ends_with("_pkey") || i.ends_with("_key"))
            {
                if !out.iter().any(|o| o == ix) {
                    out.push(ix.to_string());
                }
            }
        }
    }
    out
}

/// Prints the plans the notices of one command hold, each with the indexes it used.
fn print_plans(what: &str, notices: Vec<String>) {
    println!(
        "\n=== EXPLAIN (ANALYZE, BUFFERS) of `{what}`: {} statement(s) ===",
        notices.len()
    );
    for (i, n) in notices.iter().enumerate() {
        let ix = indexes_in(n);
        let first = n.lines().next().unwrap_or("");
        println!(
            "--- statement {} ({first}); indexes: {}",
            i + 1,
            if ix.is_empty() {
                "none".to_string()
            } else {
                ix.join(", ")
            }
        );
        for line in n.lines().skip(1) {
            println!("    {line}");
        }
    }
}

/// Starts the `claimdesk serve` of this build on `url` (no mailbox, no chat platform: the console
/// acting as the first admin,
/// web on a free loopback port), waits until it answers `/healthz` and then until its CPU
/// time stops moving (no more than 1 tick in 3 s), and returns its RSS and peak RSS, KB.
async fn idle_rss(url: &str) -> Option<(u64, u64, f64)> {
    let dir = tempfile::tempdir().ok()?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .ok()?
        .local_addr()
        .ok()?
        .port();
    let config = dir.path().join("scale.toml");
    let toml = format!(
        "[database]\nurl = \"{url}\"\n\n[desk]\nmessage_id_domain = \"claimdesk.local\"\n\n\
         [[departments]]\nname = \"support\"\nassignment = \"claim\"\n\n\
         [smtp]\nhost = \"127.0.0.1\"\nport = 2525\nsecurity = \"none\"\n\n\
         [web]\nbind = \"127.0.0.1:{port}\"\n\n\
         [log]\nfile = \"{}\"\n",
        dir.path().join("serve.log").display()
    );
    std::fs::write(&config, toml).ok()?;
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_claimdesk"))
        .arg("--config")
        .arg(&config)
        .arg("serve")
        .env("RUST_LOG", "warn")
        .env_remove("SLACK_BOT_TOKEN")
        .env_remove("DISCORD_BOT_TOKEN")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .ok()?;
    let pid = child.id()?;
    let started = Instant::now();
    let http = reqwest::Client::new();
    let mut up = false;
    while started.elapsed() < Duration::from_secs(120) {
        if let Ok(r) = http
            .get(format!("http://127.0.0.1:{port}/healthz"))
            .send()
            .await
        {
            if r.status().is_success() {
                up = true;
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    if !up {
        println!("serve did not answer /healthz within 120 s");
        let _ = child.start_kill();
        return None;
    }
    let ready = started.elapsed().as_secs_f64();
    let mut ticks = Vec::new();
    while started.elapsed() < Duration::from_secs(180) {
        ticks.push(claimdesk_testkit::rss::process_cpu_ticks(pid)?);
        let n = ticks.len();
        if n >= 4 && ticks[n - 1] - ticks[n - 4] <= 1 {
            break;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let rss = claimdesk_testkit::rss::process_rss_kb(pid);
    let _ = child.start_kill();
    let _ = child.wait().await;
    rss.map(|(r, h)| (r, h, ready))
}

async fn run() {
    let spec = FillSpec {
        tickets: env_u64("SCALE_TICKETS", 1_000_000),
        messages: env_u64("SCALE_MESSAGES", 5_000_000),
        ..FillSpec::default()
    };
    let requests = env_u64("SCALE_REQUESTS", 200) as usize;
    let rounds = env_u64("SCALE_ROUNDS", 10) as usize;
    let notices = Notices::default();
    {
        use tracing_subscriber::layer::SubscriberExt as _;
        let _ = tracing::subscriber::set_global_default(
            tracing_subscriber::registry().with(notices.clone()),
        );
    }
    let (url, filled) =
        common::database_named(PREFIX, &spec, std::env::var_os("SCALE_REFILL").is_some()).await;
    let (_, _, name) = common::urls_named(PREFIX, spec.tickets);
    if let Some(f) = filled {
        println!(
            "database {name}: filled {} tickets, {} messages, {} SLA clocks ({} not done) in {:.1} s",
            f.tickets,
            f.messages,
            f.clocks,
            f.open,
            f.elapsed.as_secs_f64()
        );
    }
    println!("machine: {}", claimdesk_testkit::bench::machine());

    // Idle serve first, on the database as filled (nothing queued in its outbox).
    match idle_rss(&url).await {
        Some((rss, hwm, ready)) => {
            let mb = rss as f64 / 1024.0;
            println!(
                "idle RSS of `claimdesk serve` on {name}: {mb:.1} MB (peak {:.1} MB; /healthz \
                 answered after {ready:.1} s) (target ≤ {IDLE_RSS_MB} MB: {})",
                hwm as f64 / 1024.0,
                if mb <= IDLE_RSS_MB { "met" } else { "MISSED" }
            );
        }
        None => println!("idle RSS of `claimdesk serve`: could not be read"),
    }

    let mut settings = claimdesk::config::Settings::load(std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/config/default.toml"
    )))
    .expect("settings");
    settings.database.url = url.clone();
    settings.database.migrate_url = None;
    settings.slack = None;
    settings.discord = None;
    settings.agents = Vec::new();
    settings.mailboxes = Vec::new();
    let pool_size = settings.database.max_connections;
    let app = claimdesk::app::App::build(settings.clone(), claimdesk::app::Secrets::default())
        .await
        .expect("app over the scale database");
    let desk = app.desk.clone();
    let mut conn = sqlx::PgConnection::connect(&url).await.expect("connection");
    let outbox_start: i64 = sqlx::query_scalar("SELECT COALESCE(max(id), 0) FROM outbox")
        .fetch_one(&mut conn)
        .await
        .expect("outbox");
    let actors = claim_agents(&desk, &mut conn).await;
    let leftover = release_claims(&desk, &mut conn, &actors).await;
    if leftover > 0 {
        println!("released {leftover} claims an earlier run left");
    }
    let mut v = Verdicts(Vec::new());
    println!(
        "\nclaim: {AGENTS} agents at once through `chat::commands::run`, pool of {pool_size} \
         connections (database.max_connections, as serve), {rounds} rounds per phase"
    );

    // Burst: each round, all 50 claim a different fresh ticket at the same instant.
    let fresh = fresh_tickets(&mut conn, AGENTS * rounds).await;
    let lists: Vec<Vec<String>> = (0..AGENTS)
        .map(|i| fresh.iter().skip(i).step_by(AGENTS).cloned().collect())
        .collect();
    let t = Instant::now();
    let (mut times, won) = claim_phase(&desk, &actors, lists, true, None).await;
    let rate = times.len() as f64 / t.elapsed().as_secs_f64();
    v.line(
        "claim, burst: 50 at once, different tickets",
        &mut times,
        CLAIM_P99_MS,
        &format!(" won {won}, {rate:.0} claims/s"),
    );

    // Race: each round, all 50 claim the same ticket.
    let fresh = fresh_tickets(&mut conn, rounds).await;
    let lists: Vec<Vec<String>> = (0..AGENTS).map(|_| fresh.clone()).collect();
    let (mut times, won) = claim_phase(&desk, &actors, lists, true, None).await;
    v.line(
        "claim, race: 50 at once on one ticket",
        &mut times,
        CLAIM_P99_MS,
        &format!(" won {won} of {rounds}"),
    );

    // Paced: every agent claims every 0-2 s (about 50 a second together).
    let fresh = fresh_tickets(&mut conn, AGENTS * rounds).await;
    let lists: Vec<Vec<String>> = (0..AGENTS)
        .map(|i| fresh.iter().skip(i).step_by(AGENTS).cloned().collect())
        .collect();
    let t = Instant::now();
    let (mut times, won) =
        claim_phase(&desk, &actors, lists, false, Some(Duration::from_secs(1))).await;
    let rate = times.len() as f64 / t.elapsed().as_secs_f64();
    v.line(
        "claim, paced: 50 agents, one each 0-2 s",
        &mut times,
        CLAIM_P99_MS,
        &format!(" won {won}, {rate:.0} claims/s"),
    );

    // Reads, one after another.
    let admin = desk
        .agent(claimdesk::store::agents::Identity::Handle("agent01"))
        .await
        .expect("agent01");
    let admin = Actor {
        agent: admin,
        surface: Surface::Console,
    };
    let busy = desk
        .agent(claimdesk::store::agents::Identity::Handle("agent02"))
        .await
        .expect("agent02");
    let busy = Actor {
        agent: busy,
        surface: Surface::Console,
    };
    let holds = |id: i64| {
        sqlx::query_scalar::<_, i64>(
            "SELECT count(*) FROM tickets WHERE assignee_id = $1
             AND status IN ('claimed', 'in_progress', 'waiting')",
        )
        .bind(id)
    };
    let few = holds(actors[0].agent.id)
        .fetch_one(&mut conn)
        .await
        .expect("count");
    let many = holds(busy.agent.id)
        .fetch_one(&mut conn)
        .await
        .expect("count");
    let unassigned: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM tickets WHERE assignee_id IS NULL
         AND status IN ('open', 'pending_assignment')",
    )
    .fetch_one(&mut conn)
    .await
    .expect("count");
    let numbers: Vec<String> = sqlx::query_scalar(
        "SELECT number FROM tickets WHERE id IN
         (SELECT (1 + floor(random() * $1))::bigint FROM generate_series(1, $2))",
    )
    .bind(spec.tickets as f64)
    .bind(requests as i64)
    .fetch_all(&mut conn)
    .await
    .expect("ticket numbers");
    println!("\nreads: {requests} requests each, one after another, as answered on the console");
    let reads: Vec<(String, &Actor, &str, Vec<String>)> = vec![
        ("workload".into(), &admin, "workload", vec![String::new()]),
        (
            format!("mine, @{} holding {few}", actors[0].agent.handle),
            &actors[0],
            "mine",
            vec![String::new()],
        ),
        (
            format!("mine, @{} holding {many}", busy.agent.handle),
            &busy,
            "mine",
            vec![String::new()],
        ),
        (
            format!("unassigned ({unassigned} tickets)"),
            &admin,
            "unassigned",
            vec![String::new()],
        ),
        (
            "ticket <random number>".into(),
            &admin,
            "ticket",
            numbers.clone(),
        ),
    ];
    for (what, actor, cmd, args) in &reads {
        let mut times = Vec::with_capacity(requests);
        let mut bytes = 0;
        for i in 0..requests {
            let a = &args[i % args.len()];
            let (d, answer) = timed_command(&desk, actor, cmd, a).await;
            if answer.starts_with("REFUSED") {
                println!("{cmd} {a}: {answer}");
            }
            bytes = bytes.max(answer.len());
            times.push(d);
        }
        v.line(
            what,
            &mut times,
            READ_P99_MS,
            &format!(" answer ≤ {bytes} bytes"),
        );
    }

    // The plans of what each command ran, on a desk whose connections auto_explain.
    let mut explain_settings = settings.clone();
    explain_settings.database.url = explaining(&url);
    let explain_app =
        claimdesk::app::App::build(explain_settings, claimdesk::app::Secrets::default())
            .await
            .expect("explaining app");
    let ed = explain_app.desk.clone();
    let fresh = fresh_tickets(&mut conn, 1).await;
    let claim_no = fresh.first().cloned().unwrap_or_default();
    notices.take();
    let cases: Vec<(String, &Actor, &str, String)> = vec![
        (
            format!("claim {claim_no}"),
            &actors[0],
            "claim",
            claim_no.clone(),
        ),
        ("workload".into(), &admin, "workload", String::new()),
        (
            format!("mine (@{})", actors[0].agent.handle),
            &actors[0],
            "mine",
            String::new(),
        ),
        (
            format!("mine (@{})", busy.agent.handle),
            &busy,
            "mine",
            String::new(),
        ),
        ("unassigned".into(), &admin, "unassigned", String::new()),
        (
            format!("ticket {}", numbers.first().cloned().unwrap_or_default()),
            &admin,
            "ticket",
            numbers.first().cloned().unwrap_or_default(),
        ),
    ];
    for (what, actor, cmd, args) in &cases {
        let _ = timed_command(&ed, actor, cmd, args).await;
        print_plans(what, notices.take());
    }
    explain_app.desk.pool().close().await;

    // Back as it was: unclaim what the run claimed, and its queued card edits as delivered.
    let released = release_claims(&desk, &mut conn, &actors).await;
    let marked = sqlx::query(
        "UPDATE outbox SET delivered_at = now() WHERE id > $1 AND delivered_at IS NULL",
    )
    .bind(outbox_start)
    .execute(&mut conn)
    .await
    .map(|r| r.rows_affected())
    .unwrap_or(0);
    println!(
        "\ncleanup: {released} claims released, {marked} outbox rows of this run marked delivered"
    );
    let missed: Vec<&str> =
        v.0.iter()
            .filter(|(_, ok)| !ok)
            .map(|(w, _)| w.as_str())
            .collect();
    if missed.is_empty() {
        println!("every target met");
    } else {
        println!("targets missed: {}", missed.join("; "));
    }
}
