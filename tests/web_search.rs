//! The web view's search (issue 12): `GET /search?q=` over HTTP on a running `serve` router,
//! signed in through a real session row, on a real Postgres. Ranked full-text results with
//! highlighted, escaped snippets across languages and Unicode forms; exact lookups by ticket
//! number, Message-ID (with or without `<>`, also ids only named in In-Reply-To) and
//! requester; hostile queries never error; a mail too big for a tsvector still becomes a
//! searchable ticket; signed-out requests get nothing.

mod support;

use std::net::SocketAddr;

use claimdesk::app::App;
use support::harness::{customer_email, db_only, open_ticket, src, Platforms};

const NONE: Platforms = Platforms {
    slack: false,
    discord: false,
};

/// A signed-in session for agent `handle`: the cookie header value.
async fn sign_in(app: &App, handle: &str) -> String {
    let mut conn = app.desk.pool().acquire().await.expect("conn");
    let agent = claimdesk::store::agents::find(
        &mut conn,
        claimdesk::store::agents::Identity::Handle(handle),
    )
    .await
    .expect("query")
    .expect("agent");
    let id = claimdesk::web::ui::session::random_token();
    claimdesk::store::web_sessions::create(
        &mut conn,
        &claimdesk::web::ui::session::hash(&id),
        agent.id,
        "csrf-test",
        chrono::Utc::now() + chrono::Duration::hours(1),
    )
    .await
    .expect("session");
    format!("{}={id}", claimdesk::web::ui::session::SESSION_COOKIE)
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// GET `/search` with the raw (already encoded) query string `qs`: status, Location, body.
async fn get(addr: SocketAddr, cookie: Option<&str>, qs: &str) -> (u16, Option<String>, String) {
    let mut req = client().get(format!("http://{addr}/search?{qs}"));
    if let Some(c) = cookie {
        req = req.header("cookie", c);
    }
    let r = req.send().await.expect("request");
    let status = r.status().as_u16();
    let location = r
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    (status, location, r.text().await.unwrap_or_default())
}

fn enc(q: &str) -> String {
    url::form_urlencoded::byte_serialize(q.as_bytes()).collect()
}

/// Search `q` (encoded here): the answer's body, asserting 200.
async fn search(addr: SocketAddr, cookie: &str, q: &str) -> String {
    let (status, _, body) = get(addr, Some(cookie), &format!("q={}", enc(q))).await;
    assert_eq!(status, 200, "search {q:?}: {body}");
    body
}

/// The ticket numbers of the result rows, in order.
fn rows(body: &str) -> Vec<String> {
    body.split("<tr data-ticket=\"")
        .skip(1)
        .filter_map(|s| s.split('"').next())
        .map(str::to_string)
        .collect()
}

async fn started() -> (support::harness::TestEnv, App, SocketAddr, String) {
    let env = db_only(NONE).await;
    let app = env.app().await;
    let running = app.start_web().await.expect("web");
    let addr = running.addr;
    std::mem::forget(running); // the server lives as long as the test's runtime
    let cookie = sign_in(&app, "ben").await;
    (env, app, addr, cookie)
}

#[tokio::test]
async fn ranked_results_with_highlighted_escaped_snippets_in_any_language() {
    let (_env, app, addr, cookie) = started().await;
    let both = open_ticket(
        &app,
        1,
        "s1@customer.example",
        "Invoice is wrong",
        "Hello, my invoice shows the wrong amount, the invoice total is off.",
    )
    .await;
    let body_only = open_ticket(
        &app,
        2,
        "s2@customer.example",
        "Login trouble",
        "I cannot log in. By the way the invoice page also fails to load.",
    )
    .await;
    let other = open_ticket(
        &app,
        3,
        "s3@customer.example",
        "Shipping",
        "Where is my parcel?",
    )
    .await;
    let german = open_ticket(
        &app,
        4,
        "s4@customer.example",
        "Grüße aus MÜNCHEN",
        "Die Rechnung ist falsch, bitte korrigieren.",
    )
    .await;
    // Full-width Latin (Japanese input methods) and a decomposed é (macOS mail, NFD).
    let forms = open_ticket(
        &app,
        5,
        "s5@customer.example",
        "ｒｅｆｕｎｄ please",
        "Cafe\u{301} order 東京 was cancelled",
    )
    .await;
    let hostile = open_ticket(
        &app,
        6,
        "s6@customer.example",
        "<b>bold</b> subject",
        "<script>alert(1)</script> zanzibar & \u{E000}fake\u{E001} markers",
    )
    .await;

    let page = search(addr, &cookie, "invoice").await;
    assert_eq!(rows(&page), vec![both.clone(), body_only.clone()], "{page}");
    assert!(!rows(&page).contains(&other));
    assert!(page.contains("<mark>Invoice</mark> is wrong"), "{page}");
    assert!(page.contains("<mark>invoice</mark> page"), "{page}");

    for (q, want) in [
        ("rechnung", &german),
        ("münchen", &german),
        ("MÜNCHEN grüße", &german),
        ("refund", &forms),
        ("café", &forms),
        ("zanzibar", &hostile),
    ] {
        let page = search(addr, &cookie, q).await;
        assert_eq!(rows(&page), vec![want.clone()], "{q}: {page}");
    }
    // What the customer wrote is text: escaped, and their marker characters are no marks.
    let page = search(addr, &cookie, "zanzibar").await;
    assert!(!page.contains("<script>alert"), "{page}");
    assert!(
        page.contains("<mark>zanzibar</mark> &amp; fake markers"),
        "{page}"
    );
    assert!(page.contains("<mark>zanzibar</mark>"), "{page}");
    assert!(!page.contains("<mark>fake</mark>"), "{page}");
    let page = search(addr, &cookie, "bold").await;
    assert!(
        page.contains("&lt;b&gt;<mark>bold</mark>&lt;/b&gt;"),
        "{page}"
    );

    // A phrase, an alternative, an exclusion.
    let page = search(addr, &cookie, "\"invoice page\"").await;
    assert_eq!(rows(&page), vec![body_only.clone()], "{page}");
    let page = search(addr, &cookie, "parcel or rechnung").await;
    assert_eq!(rows(&page).len(), 2, "{page}");
    // -word leaves out the subject or message that has it (each is matched on its own).
    let page = search(addr, &cookie, "invoice -wrong").await;
    assert_eq!(rows(&page), vec![body_only.clone()], "{page}");
    let page = search(addr, &cookie, "nothingmatchesthis").await;
    assert!(rows(&page).is_empty());
    assert!(page.contains("Nothing matches"), "{page}");
}

#[tokio::test]
async fn results_are_paged() {
    let (_env, app, addr, cookie) = started().await;
    let mut opened = Vec::new();
    for i in 0..25u32 {
        opened.push(
            open_ticket(
                &app,
                10 + i,
                &format!("page{i}@customer.example"),
                &format!("Question {i}"),
                "Something about the quokka in our office.",
            )
            .await,
        );
    }
    let first = search(addr, &cookie, "quokka").await;
    let p1 = rows(&first);
    assert_eq!(p1.len(), 20, "{first}");
    assert!(first.contains("25 tickets match"), "{first}");
    assert!(first.contains("page=2"), "{first}");
    let (status, _, second) = get(addr, Some(&cookie), "q=quokka&page=2").await;
    assert_eq!(status, 200);
    let p2 = rows(&second);
    assert_eq!(p2.len(), 5, "{second}");
    let mut all: Vec<String> = p1.into_iter().chain(p2).collect();
    all.sort();
    opened.sort();
    assert_eq!(all, opened, "every ticket once over the two pages");
    let (status, _, past) = get(addr, Some(&cookie), "q=quokka&page=999999999").await;
    assert_eq!(status, 200);
    assert!(rows(&past).is_empty());
}

#[tokio::test]
async fn exact_lookups_go_to_the_ticket_or_the_requesters_tickets() {
    let (_env, app, addr, cookie) = started().await;
    let first = open_ticket(
        &app,
        1,
        "orig.1@customer.example",
        "Refund",
        "Please refund.",
    )
    .await;
    // A reply naming a parent we never saw: its In-Reply-To id is a thread key only.
    let raw = customer_email(
        "reply.2@customer.example",
        "Re: Refund",
        "Any news?",
        Some("orig.1@customer.example"),
    );
    app.desk.ingest(src(2), &raw).await.expect("ingest");
    let raw = customer_email(
        "late.3@customer.example",
        "Re: lost thread",
        "hello",
        Some("never-seen.9@elsewhere.example"),
    );
    app.desk.ingest(src(3), &raw).await.expect("ingest");
    let third = rows(&search(addr, &cookie, "lost thread").await);
    assert_eq!(third.len(), 1);

    for q in [
        first.clone(),
        first.to_lowercase(),
        format!("#{first}"),
        format!(" [{first}] "),
        "orig.1@customer.example".into(),
        "<orig.1@customer.example>".into(),
        "reply.2@customer.example".into(),
    ] {
        let (status, location, _) = get(addr, Some(&cookie), &format!("q={}", enc(&q))).await;
        assert_eq!(status, 303, "{q}");
        assert_eq!(
            location.as_deref(),
            Some(format!("/tickets/{first}").as_str()),
            "{q}"
        );
    }
    let (status, location, _) = get(
        addr,
        Some(&cookie),
        &format!("q={}", enc("<never-seen.9@elsewhere.example>")),
    )
    .await;
    assert_eq!(status, 303);
    assert_eq!(location, Some(format!("/tickets/{}", third[0])));

    // Dana (customer_email's sender) has two tickets; another customer one.
    let mut raw = customer_email("other.4@x.example", "Other", "text", None);
    let text = String::from_utf8(raw.clone()).expect("utf8").replace(
        "Dana Customer <dana@customer.example>",
        "Eve <eve@other.example>",
    );
    raw = text.into_bytes();
    app.desk.ingest(src(4), &raw).await.expect("ingest");
    for q in [
        "dana@customer.example",
        "Dana@Customer.EXAMPLE",
        "mailto:dana@customer.example",
    ] {
        let page = search(addr, &cookie, q).await;
        let mut found = rows(&page);
        found.sort();
        let mut want = vec![first.clone(), third[0].clone()];
        want.sort();
        assert_eq!(found, want, "{q}: {page}");
        assert!(
            page.contains("Tickets from dana@customer.example"),
            "{page}"
        );
    }
    // A ticket number that does not exist, an unknown id or address: full text, no error.
    for q in [
        "TICK-2099-9999",
        "<nobody@nowhere.example>",
        "nobody@nowhere.example",
    ] {
        let page = search(addr, &cookie, q).await;
        assert!(rows(&page).is_empty(), "{q}: {page}");
    }
}

#[tokio::test]
async fn hostile_queries_never_error() {
    let (_env, app, addr, cookie) = started().await;
    let n = open_ticket(&app, 1, "h1@customer.example", "Invoice", "invoice text").await;
    // 40 KB: within what an HTTP server takes as a URL (hyper: 64 KB), far over our cap.
    let huge = "invoice ".repeat(5_000);
    let deep = "(".repeat(5_000);
    let ops = "a & | ! ( ) :* <-> <2> 'b' \\ ".repeat(50);
    let queries: Vec<String> = vec![
        "'".into(),
        "\"".into(),
        "\"unterminated invoice".into(),
        "invoice & | ! ( ) :*".into(),
        "!!invoice".into(),
        "invoice:*".into(),
        "invoice <-> wrong".into(),
        "'; DROP TABLE tickets; --".into(),
        "\\".into(),
        "-".into(),
        "or".into(),
        "- or - or".into(),
        "<script>alert(1)</script>".into(),
        "\u{202E}invoice\u{202C}".into(),
        "in\u{0}voice".into(),
        "\u{E000}invoice\u{E001}".into(),
        "<>".into(),
        "@".into(),
        "a@".into(),
        "<@>".into(),
        huge,
        deep,
        ops,
        "x".repeat(3000) + "@" + &"y".repeat(3000),
        "x".repeat(200) + "@" + &"y".repeat(200),
        "TICK-9999-99999999999".into(),
    ];
    for q in &queries {
        let (status, location, body) = get(addr, Some(&cookie), &format!("q={}", enc(q))).await;
        assert!(
            status == 200 || (status == 303 && location.is_some()),
            "{status} for {:?}: {body}",
            q.chars().take(40).collect::<String>()
        );
        assert!(!body.contains("<script>alert"), "escaped");
    }
    // Not valid UTF-8, bad page numbers and cursors: read leniently.
    for qs in [
        "q=%FF%FE%00",
        "q=invoice&page=abc",
        "q=invoice&page=-5",
        "q=invoice&page=99999999999999999999",
        "q=dana%40customer.example&after=not-a-cursor",
        "q=dana%40customer.example&after=9999999999999999999_1",
        "q",
        "",
    ] {
        let (status, _, body) = get(addr, Some(&cookie), qs).await;
        assert_eq!(status, 200, "{qs}: {body}");
    }
    // The database is intact and the ticket still found.
    let page = search(addr, &cookie, "invoice").await;
    assert_eq!(rows(&page), vec![n]);
}

#[tokio::test]
async fn a_mail_too_big_for_a_tsvector_is_still_stored_and_searchable() {
    let (_env, app, addr, cookie) = started().await;
    // 2 MB of distinct hyphenated numbers: to_tsvector of the whole would exceed the 1 MB
    // tsvector limit and fail the insert. Only the first 64 K characters are indexed.
    let mut body = String::from("okapi ");
    let mut i = 0u64;
    while body.len() < 2_000_000 {
        body.push_str(&format!("{i}-{}-{} ", i + 1, i + 2));
        i += 3;
    }
    body.push_str("tailword");
    let n = open_ticket(&app, 1, "big@customer.example", "Big one", &body).await;
    let page = search(addr, &cookie, "okapi").await;
    assert_eq!(rows(&page), vec![n]);
    let page = search(addr, &cookie, "tailword").await;
    assert!(rows(&page).is_empty(), "beyond the indexed prefix");
}

#[tokio::test]
async fn signed_out_requests_get_nothing() {
    let (_env, app, addr, _cookie) = started().await;
    let n = open_ticket(&app, 1, "so1@customer.example", "Secret invoice", "text").await;
    for cookie in [
        None,
        Some("claimdesk_session=not-a-session".to_string()),
        Some("claimdesk_session=".to_string()),
    ] {
        let (status, location, body) =
            get(addr, cookie.as_deref(), &format!("q={}", enc("invoice"))).await;
        assert_eq!(status, 303, "{body}");
        assert!(location.is_some_and(|l| l.starts_with("/signin")));
        assert!(!body.contains(&n) && !body.contains("Secret"), "{body}");
        let (status, _, body) = get(addr, cookie.as_deref(), &format!("q={}", enc(&n))).await;
        assert_eq!(status, 303);
        assert!(!body.contains(&n));
    }
    // A session that was signed out (deleted) or expired is no session.
    let cookie = sign_in(&app, "ben").await;
    let id = cookie.split_once('=').map(|x| x.1).unwrap_or_default();
    let mut conn = app.desk.pool().acquire().await.expect("conn");
    claimdesk::store::web_sessions::delete(&mut conn, &claimdesk::web::ui::session::hash(id))
        .await
        .expect("delete");
    let (status, _, _) = get(addr, Some(&cookie), "q=invoice").await;
    assert_eq!(status, 303);
}

/// Full text where the two ways of finding the latest matches differ (30,000 messages,
/// analysed): a rare word is found through the GIN index even in the oldest message, which
/// the bounded walk never reaches; a common word fills its window from the newest rows; two
/// common words that never meet in one message (a GIN scan would read both long posting
/// lists) are looked for in the latest `WALK_ROWS` messages only, and the page says so.
#[tokio::test]
async fn each_query_takes_the_cheap_path_and_rare_words_are_found_anywhere() {
    use claimdesk::store::search::{full_text, paths, tsquery, Path, WALK_ROWS, WINDOW};
    let (env, app, addr, cookie) = started().await;
    let rare = open_ticket(
        &app,
        1,
        "r@customer.example",
        "Quarterly report",
        "The xylophone arrived broken.",
    )
    .await;
    let holder = open_ticket(&app, 2, "b@customer.example", "Bulk", "The first of many.").await;
    let bulk = 30_000;
    assert!(bulk > WALK_ROWS);
    let owner = sqlx::PgPool::connect(&env.db.url).await.expect("pool");
    sqlx::query(
        "INSERT INTO messages (ticket_id, message_id, direction, from_addr, subject, body_text,
                               raw_size)
         SELECT t.id, 'bulk-' || i || '@customer.example', 'inbound', 'b@customer.example',
                'Bulk', CASE WHEN i % 2 = 0 THEN 'alpha common words here'
                             ELSE 'beta common words there' END, 30
         FROM generate_series(1, $1) i, (SELECT id FROM tickets WHERE number = $2) t",
    )
    .bind(bulk)
    .bind(&holder)
    .execute(&owner)
    .await
    .expect("bulk messages");
    sqlx::query("ANALYZE messages")
        .execute(&owner)
        .await
        .expect("analyze");

    let mut conn = owner.acquire().await.expect("connection");
    for (q, want) in [
        ("xylophone", Path::Index),
        ("common", Path::Walk),
        ("alpha beta", Path::Walk),
        ("\"beta alpha\"", Path::Walk),
        ("xylophone common", Path::Index),
        ("-common", Path::Walk),
    ] {
        let tq = tsquery(&mut conn, q)
            .await
            .expect("tsquery")
            .expect("words");
        assert_eq!(paths(&mut conn, &tq).await.expect("paths").1, want, "{q}");
    }

    // The oldest message, found through the index.
    let page = search(addr, &cookie, "xylophone").await;
    assert_eq!(rows(&page), vec![rare.clone()], "{page}");
    assert!(!page.contains("only the most recent messages"), "{page}");
    // A common word: the latest WINDOW matches, capped.
    let tq = tsquery(&mut conn, "common").await.expect("q").expect("w");
    let hits = full_text(&mut conn, &tq, 0, 20).await.expect("search");
    assert!(hits.capped);
    assert_eq!(hits.total, 1, "one ticket holds the bulk messages");
    // Never in one message: none in the latest WALK_ROWS, and said to be partial.
    for q in ["alpha beta", "\"beta alpha\""] {
        let tq = tsquery(&mut conn, q).await.expect("q").expect("w");
        let hits = full_text(&mut conn, &tq, 0, 20).await.expect("search");
        assert!(hits.hits.is_empty() && hits.capped, "{q}: {hits:?}");
    }
    // The page says the search was partial rather than that nothing matches.
    let page = search(addr, &cookie, "alpha beta").await;
    assert!(page.contains("older ones were not"), "{page}");
    let page = search(addr, &cookie, "common").await;
    assert!(page.contains("only the most recent messages"), "{page}");
    // A phrase that is there, among the newest.
    let tq = tsquery(&mut conn, "\"common words there\"")
        .await
        .expect("q")
        .expect("w");
    let hits = full_text(&mut conn, &tq, 0, 20).await.expect("search");
    assert_eq!(hits.hits.len(), 1, "{hits:?}");
    assert!(WINDOW <= bulk / 2);
}
