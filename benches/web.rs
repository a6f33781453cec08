//! The web view at scale (issue 12), on the generated desk of 1,000,000 tickets and
//! 5,000,000 messages (`claimdesk_testkit::fill`, by COPY) kept in `claimdesk_bench_<tickets>`
//! and shared with the reports bench (filled again when absent, when its ticket count
//! differs or a migration it was filled under changed, or with `REPORTS_REFILL=1`).
//!
//! For each list page (My tickets, Unassigned, All — each sort; All with every filter alone
//! and in pairs under each sort; a keyset page deep into All) and each search (common, very
//! common, rare and absent words, several words, phrases, words only in subjects or only in
//! bodies, exclusions, alternatives, an exact ticket number, a Message-ID, a requester
//! address), 200 requests are timed twice: the server time of the store call
//! (`store::queues::page`, `Desk::search`), and end to end over HTTP on loopback through the
//! `serve` router with a signed-in session. Prints p50 and p99 of each with the machine, and
//! the `EXPLAIN (ANALYZE, BUFFERS)` of the search queries (with the path each source took,
//! see `store::search`). Target: p99 ≤ 100 ms server time.
//!
//! Run: `cargo bench --bench web` (Postgres on 127.0.0.1:5432, or
//! `CLAIMDESK_TEST_DATABASE_URL`). `REPORTS_TICKETS=N`, `REPORTS_MESSAGES=M` change the size;
//! `WEB_REQUESTS=K` the requests per figure (default 200); `WEB_ONLY=a,b` runs only the
//! figures whose label contains `a` or `b`.

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
    // Filters alone, in pairs and with each sort, over All (the query string the page takes,
    // read by the page's own parser): the agent holding most tickets, one holding none with
    // an SLA clock (its tickets sit together at the end of the due order), a one-week and
    // a 60-day "opened" range (tickets' due times and last customer messages follow their
    // opening), each SLA state, a tag nobody uses.
    let (busy, clockless) = {
        let busy: (String,) = sqlx::query_as(
            "SELECT a.handle FROM agents a ORDER BY \
             (SELECT count(*) FROM tickets t WHERE t.assignee_id = a.id) DESC, a.id LIMIT 1",
        )
        .fetch_one(&mut conn)
        .await
        .expect("busy agent");
        let clockless: Option<(String,)> = sqlx::query_as(
            "SELECT a.handle FROM agents a WHERE NOT EXISTS (SELECT 1 FROM tickets t \
             WHERE t.assignee_id = a.id AND t.sla_due_at IS NOT NULL) ORDER BY a.id LIMIT 1",
        )
        .fetch_optional(&mut conn)
        .await
        .expect("clockless agent");
        (
            busy.0,
            clockless.map_or_else(|| "nobody-here".to_string(), |c| c.0),
        )
    };
    let day = |d: i64| {
        (now - chrono::Duration::days(d))
            .format("%Y-%m-%d")
            .to_string()
    };
    let week = format!("opened_from={}&opened_to={}", day(30), day(23));
    let sixty = format!("opened_from={}", day(60));
    let recent = format!("opened_from={}", day(2));
    let singles: Vec<(String, String)> = vec![
        ("status=open".into(), "status=open".into()),
        ("priority=urgent".into(), "priority=urgent".into()),
        ("department=sales".into(), "department=sales".into()),
        (format!("assignee={busy}"), format!("assignee={busy}")),
        (
            format!("assignee={clockless} (no SLA clocks)"),
            format!("assignee={clockless}"),
        ),
        ("assignee=nobody".into(), "assignee=nobody".into()),
        ("sla=breached".into(), "sla=breached".into()),
        ("sla=at_risk".into(), "sla=at_risk".into()),
        ("sla=on_track".into(), "sla=on_track".into()),
        ("sla=none".into(), "sla=none".into()),
        ("tag=unused".into(), "tag=unused".into()),
        ("opened one week".into(), week.clone()),
        ("opened last 60 days".into(), sixty.clone()),
        ("opened last 2 days".into(), recent.clone()),
    ];
    let pairs: Vec<(String, String)> = vec![
        (
            "department=sales&priority=low".into(),
            "department=sales&priority=low".into(),
        ),
        (
            "status=open&priority=urgent".into(),
            "status=open&priority=urgent".into(),
        ),
        (
            format!("assignee={busy}&sla=breached"),
            format!("assignee={busy}&sla=breached"),
        ),
        (
            "sla=at_risk&department=billing".into(),
            "sla=at_risk&department=billing".into(),
        ),
        (
            "department=billing&opened one week".into(),
            format!("department=billing&{week}"),
        ),
        (
            format!("assignee={busy}&opened one week"),
            format!("assignee={busy}&{week}"),
        ),
        (
            "sla=breached&opened one week".into(),
            format!("sla=breached&{week}"),
        ),
        // Combinations the list code has no special case for: each either found early in
        // the sort index's walk or read through the filters' own indexes and sorted.
        (
            "department=sales&priority=low&status=closed".into(),
            "department=sales&priority=low&status=closed".into(),
        ),
        (
            "priority=low&sla=none".into(),
            "priority=low&sla=none".into(),
        ),
        (
            "assignee=nobody&department=sales".into(),
            "assignee=nobody&department=sales".into(),
        ),
        (
            "status=resolved&priority=urgent".into(),
            "status=resolved&priority=urgent".into(),
        ),
        (
            "department=support&priority=urgent&sla=on_track".into(),
            "department=support&priority=urgent&sla=on_track".into(),
        ),
        (
            "status=open&department=billing&priority=high&opened 30 days".into(),
            format!(
                "status=open&department=billing&priority=high&opened_from={}",
                day(30)
            ),
        ),
    ];
    for (label, qs) in singles.iter().chain(pairs.iter()) {
        for sort in [Sort::Due, Sort::Age, Sort::LastCustomer] {
            let full = format!("{qs}&sort={}", sort.as_str());
            let params: std::collections::HashMap<String, String> =
                url::form_urlencoded::parse(full.as_bytes())
                    .into_owned()
                    .collect();
            let filter =
                claimdesk::web::ui::pages::filter_of(Queue::All, &params, now).expect("filter");
            lists.push((
                format!("list all {label} sort={}", sort.as_str()),
                filter,
                None,
                format!("/tickets/all?{full}"),
            ));
        }
    }
    lists.push((
        "list all sort=age, 100 pages deep".into(),
        all_age.clone(),
        deep,
        format!(
            "/tickets/all?sort=age&after={}",
            deep.as_ref().map(|c| c.encode()).unwrap_or_default()
        ),
    ));
    // `WEB_ONLY=a,b`: only the figures whose label contains one of these.
    let only: Vec<String> = std::env::var("WEB_ONLY")
        .map(|v| v.split(',').map(str::to_string).collect())
        .unwrap_or_default();
    let wanted = |what: &str| only.is_empty() || only.iter().any(|o| what.contains(o.as_str()));
    for (what, filter, after, path) in lists.iter().filter(|l| wanted(&l.0)) {
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
        ("search very common word (the)", "the".to_string()),
        ("search very common word (hello)", "hello".to_string()),
        ("search two common words", "password reset".to_string()),
        (
            "search two words that never meet",
            "invoice screenshot".to_string(),
        ),
        (
            "search phrase (subjects only)",
            "\"password reset\"".to_string(),
        ),
        (
            "search phrase (bodies only)",
            "\"wrong amount\"".to_string(),
        ),
        (
            "search phrase of common words, absent",
            "\"invoice password\"".to_string(),
        ),
        (
            "search word only in subjects (shipping)",
            "shipping".to_string(),
        ),
        (
            "search word only in bodies (screenshot)",
            "screenshot".to_string(),
        ),
        ("search rare word (one subject)", "654321".to_string()),
        (
            "search rare word and a common one",
            "654321 the".to_string(),
        ),
        ("search no match", "zyzzyvaqx".to_string()),
        (
            "search no match, three words",
            "quixotic zephyr marmalade".to_string(),
        ),
        (
            "search common word minus another",
            "invoice -hello".to_string(),
        ),
        ("search rare or absent", "654321 or zyzzyvaqx".to_string()),
        ("search exact ticket number", number.clone()),
        (
            "search Message-ID",
            "<fill-2500000@claimdesk.fill>".to_string(),
        ),
        (
            "search Message-ID, unknown",
            "<nope-1@claimdesk.fill>".to_string(),
        ),
        ("search requester address", requester.clone()),
        (
            "search address nobody uses",
            "nobody@nowhere.example".to_string(),
        ),
    ] {
        if !wanted(what) {
            continue;
        }
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
    for q in [
        "invoice",
        "654321",
        "zyzzyvaqx",
        "invoice screenshot",
        "\"invoice password\"",
    ] {
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
