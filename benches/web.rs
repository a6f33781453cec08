//! The web view at scale (issue 12), on the generated desk of 1,000,000 tickets and
//! 5,000,000 messages (`claimdesk_testkit::fill`, by COPY) kept in `claimdesk_bench_<tickets>`
//! and shared with the reports bench (filled again when absent, when its ticket count
//! differs or a migration it was filled under changed, or with `REPORTS_REFILL=1`).
//!
//! For each list page (My tickets, Unassigned, All — each sort, All with filters, a keyset
//! page deep into All) and each search (a common word, a rare word, an exact ticket number, a
//! requester address), 200 requests are timed twice: the server time of the store call
//! (`store::queues::page`, `Desk::search`), and end to end over HTTP on loopback through the
//! `serve` router with a signed-in session. Prints p50 and p99 of each with the machine, and
//! the `EXPLAIN (ANALYZE, BUFFERS)` of the search queries. Target: p99 ≤ 100 ms server time.
//!
//! Run: `cargo bench --bench web` (Postgres on 127.0.0.1:5432, or
//! `CLAIMDESK_TEST_DATABASE_URL`). `REPORTS_TICKETS=N`, `REPORTS_MESSAGES=M` change the size;
//! `WEB_REQUESTS=K` the requests per figure (default 200).

use std::future::Future;
use std::time::{Duration, Instant};

use claimdesk::store::queues::{self, Cursor, Queue, QueueFilter, Sort};
use claimdesk_testkit::fill::FillSpec;
use sqlx::Connection as _;

fn main() {
    claimdesk_testkit::bench::main("web", run);
}

mod common;
use common::env_u64;

/// The shared fill database (`common::database`), with this bench's line on a fill.
async fn database(spec: &FillSpec) -> String {
    let (url, filled) = common::database(spec).await;
    if let Some(filled) = filled {
        let (_, _, name) = common::urls(spec.tickets);
        println!(
            "database {name}: filled {} tickets, {} messages in {:.1} s",
            filled.tickets,
            filled.messages,
            filled.elapsed.as_secs_f64()
        );
    }
    url
}

/// p50 and p99 (nearest rank) of `times`, ms.
fn percentiles(times: &mut [Duration]) -> (f64, f64) {
    times.sort();
    let at = |p: f64| {
        let i = ((p * times.len() as f64).ceil() as usize).clamp(1, times.len()) - 1;
        times[i].as_secs_f64() * 1000.0
    };
    (at(0.50), at(0.99))
}

/// Times `n` runs of `f`.
async fn timed<F, Fut>(n: u64, mut f: F) -> Vec<Duration>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()>,
{
    let mut times = Vec::with_capacity(n as usize);
    for _ in 0..n {
        let t = Instant::now();
        f().await;
        times.push(t.elapsed());
    }
    times
}

struct Report {
    verdicts: Vec<(String, bool)>,
}

impl Report {
    fn line(&mut self, what: &str, server: &mut [Duration], http: &mut [Duration]) {
        let (s50, s99) = percentiles(server);
        let (h50, h99) = percentiles(http);
        println!(
            "{what:<44} server p50 {s50:7.2} ms  p99 {s99:7.2} ms | HTTP p50 {h50:7.2} ms  p99 {h99:7.2} ms"
        );
        self.verdicts
            .push((format!("{what} p99 ≤ 100 ms"), s99 <= 100.0));
    }
}

async fn run() {
    println!("machine: {}", claimdesk_testkit::bench::machine());
    let spec = FillSpec {
        tickets: env_u64("REPORTS_TICKETS", 1_000_000),
        messages: env_u64("REPORTS_MESSAGES", 5_000_000),
        ..FillSpec::default()
    };
    let n = env_u64("WEB_REQUESTS", 200);
    let url = database(&spec).await;

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
    settings.web.bind = "127.0.0.1:0".into();
    let app = claimdesk::app::App::build(settings, claimdesk::app::Secrets::default())
        .await
        .expect("app over the bench database");
    let running = app.start_web().await.expect("web");
    let addr = running.addr;

    // Agent 2 (support, member) signed in; the fill's agents are numbered from 1.
    let mut conn = sqlx::PgConnection::connect(&url).await.expect("connection");
    let agent = claimdesk::store::agents::by_id(&mut conn, 2)
        .await
        .expect("agent")
        .expect("agent 2");
    let sid = claimdesk::web::ui::session::random_token();
    claimdesk::store::web_sessions::create(
        &mut conn,
        &claimdesk::web::ui::session::hash(&sid),
        agent.id,
        "bench",
        chrono::Utc::now() + chrono::Duration::hours(2),
    )
    .await
    .expect("session");
    let cookie = format!("{}={sid}", claimdesk::web::ui::session::SESSION_COOKIE);
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let get = |path: String| {
        let http = http.clone();
        let cookie = cookie.clone();
        async move {
            let r = http
                .get(format!("http://{addr}{path}"))
                .header("cookie", cookie)
                .send()
                .await
                .expect("request");
            assert!(
                r.status().is_success() || r.status().is_redirection(),
                "{path}: {}",
                r.status()
            );
            let _ = r.bytes().await;
        }
    };

    let mut report = Report {
        verdicts: Vec::new(),
    };
    let now = chrono::Utc::now();

    // A cursor 100 pages of 50 deep into All by age.
    let mut deep: Option<Cursor> = None;
    let all_age = QueueFilter::new(Queue::All, Sort::Age, now);
    for _ in 0..100 {
        let p = queues::page(&mut conn, &all_age, deep.as_ref(), 50)
            .await
            .expect("page");
        deep = p.next;
    }

    let mut lists: Vec<(String, QueueFilter, Option<Cursor>, String)> = Vec::new();
    for (queue, name, path) in [
        (Queue::Mine(agent.id), "mine", "/tickets/mine"),
        (Queue::Unassigned, "unassigned", "/tickets/unassigned"),
        (Queue::All, "all", "/tickets/all"),
    ] {
        for sort in [Sort::Due, Sort::Age, Sort::LastCustomer] {
            lists.push((
                format!("list {name} sort={}", sort.as_str()),
                QueueFilter::new(queue, sort, now),
                None,
                format!("{path}?sort={}", sort.as_str()),
            ));
        }
    }
    let mut filtered = QueueFilter::new(Queue::All, Sort::Due, now);
    filtered.status = Some(claimdesk::domain::Status::Open);
    filtered.department = Some("billing".into());
    filtered.priority = Some(claimdesk::domain::Priority::High);
    let from = now - chrono::Duration::days(30);
    filtered.opened_from = Some(from);
    lists.push((
        "list all status+dept+priority+opened".into(),
        filtered,
        None,
        // The same filter over HTTP, the opening bound included (RFC 3339, as the page takes).
        format!(
            "/tickets/all?status=open&department=billing&priority=high&sort=due&opened_from={}",
            from.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        ),
    ));
    lists.push((
        "list all sort=age, 100 pages deep".into(),
        all_age.clone(),
        deep,
        format!(
            "/tickets/all?sort=age&after={}",
            deep.as_ref().map(|c| c.encode()).unwrap_or_default()
        ),
    ));
    for (what, filter, after, path) in &lists {
        let mut server = Vec::with_capacity(n as usize);
        for _ in 0..n {
            let t = Instant::now();
            queues::page(&mut conn, filter, after.as_ref(), 50)
                .await
                .expect("page");
            server.push(t.elapsed());
        }
        let mut end = timed(n, || get(path.clone())).await;
        report.line(what, &mut server, &mut end);
    }

    // Searches: the fill's subjects end in `#<ticket id>` (a rare word: one ticket); bodies
    // share four texts ("invoice" is in a quarter of them).
    let requester = {
        let row: (String,) =
            sqlx::query_as("SELECT requester_email FROM tickets WHERE id = 424242")
                .fetch_one(&mut conn)
                .await
                .expect("requester");
        row.0
    };
    let number = {
        let row: (String,) = sqlx::query_as("SELECT number FROM tickets WHERE id = 777777")
            .fetch_one(&mut conn)
            .await
            .expect("number");
        row.0
    };
    let actor = claimdesk::desk::Actor {
        agent: agent.clone(),
        surface: claimdesk::desk::Surface::Web,
    };
    for (what, q) in [
        ("search common word (invoice)", "invoice".to_string()),
        ("search two common words", "password reset".to_string()),
        ("search rare word (one subject)", "654321".to_string()),
        ("search no match", "zyzzyvaqx".to_string()),
        ("search exact ticket number", number.clone()),
        ("search requester address", requester.clone()),
    ] {
        let req = claimdesk::desk::search::SearchRequest {
            q: &q,
            page: 1,
            after: None,
        };
        let mut server = timed(n, || async {
            app.desk.search(&actor, &req).await.expect("search");
        })
        .await;
        let enc: String = url::form_urlencoded::byte_serialize(q.as_bytes()).collect();
        let mut end = timed(n, || get(format!("/search?q={enc}"))).await;
        report.line(what, &mut server, &mut end);
    }

    println!("EXPLAIN (ANALYZE, BUFFERS) of the search queries:");
    use claimdesk::store::search::{explain, tsquery, Explained};
    for q in ["invoice", "654321", "zyzzyvaqx"] {
        let tq = tsquery(&mut conn, q)
            .await
            .expect("tsquery")
            .unwrap_or_default();
        println!("-- full text {q:?} ({tq})");
        for l in explain(&mut conn, Explained::FullText(&tq, 20))
            .await
            .expect("explain")
        {
            println!("  {l}");
        }
    }
    println!("-- requester {requester}");
    for l in explain(&mut conn, Explained::Requester(&requester, 21))
        .await
        .expect("explain")
    {
        println!("  {l}");
    }
    println!("-- Message-ID fill-4242@claimdesk.fill");
    for l in explain(&mut conn, Explained::MsgId("fill-4242@claimdesk.fill"))
        .await
        .expect("explain")
    {
        println!("  {l}");
    }
    drop(running);
    let _ = conn.close().await;
    let list: Vec<String> = report
        .verdicts
        .iter()
        .map(|(what, ok)| format!("{what} {}", if *ok { "met" } else { "MISSED" }))
        .collect();
    println!("targets: {}", list.join("; "));
}
