//! The customer's status page and ratings over plain HTTP, against real Postgres and the SMTP
//! sink: the acknowledgement email carries a signed per-ticket link; the page shows only what
//! was exchanged by email (never notes, holder, priority), escaped; forged, foreign and unknown
//! tokens all get the same 404; links can be turned off and are off without a secret; a rating
//! needs a resolved ticket, is recorded only by the form's POST (opening the link records
//! nothing), can be changed, is audited, and shows in chat `ticket` and `stats`.

mod support;

use claimdesk::desk::Surface;
use claimdesk::domain::links;
use support::harness::*;

const NO_CHAT: Platforms = Platforms {
    slack: false,
    discord: false,
};

/// A desk with acknowledgements on, its web server on a known port and `public_url`
/// pointing at it; `tweak` changes the settings or secrets before the app is built.
async fn start(
    tweak: impl FnOnce(&mut TestEnv),
) -> (
    TestEnv,
    claimdesk::app::App,
    claimdesk::app::Running,
    String,
) {
    let mut env = env(NO_CHAT).await;
    let port = claimdesk_testkit::services::free_port();
    let base = format!("http://127.0.0.1:{port}");
    env.settings.web.bind = format!("127.0.0.1:{port}");
    env.settings.web.public_url = Some(base.clone());
    env.settings.mailboxes[0].acknowledge = true;
    tweak(&mut env);
    let app = env.app().await;
    let running = app.start_web().await.expect("web");
    (env, app, running, base)
}

/// The text body of a received email (MIME decoded).
fn body_of(raw: &[u8]) -> String {
    let m = mail_parser::MessageParser::default()
        .parse(raw)
        .expect("parsable email");
    m.body_text(0).map(|b| b.to_string()).unwrap_or_default()
}

/// The acknowledgement's status link: the email sent to `to`, and its `/status/` URL if any.
fn status_link(env: &TestEnv, to: &str) -> (String, Option<String>) {
    let mail = env
        .smtp
        .received()
        .into_iter()
        .find(|m| m.rcpt_to.iter().any(|r| r == to))
        .expect("an email to the customer");
    let body = body_of(&mail.raw);
    let link = body
        .split_whitespace()
        .find(|w| w.contains("/status/"))
        .map(str::to_string);
    (body, link)
}

async fn get(url: &str) -> (u16, reqwest::header::HeaderMap, String) {
    let r = reqwest::Client::new()
        .get(url)
        .send()
        .await
        .expect("reachable");
    let code = r.status().as_u16();
    let headers = r.headers().clone();
    (code, headers, r.text().await.expect("body"))
}

async fn post(url: &str, form: &[(&str, &str)]) -> (u16, String) {
    let r = reqwest::Client::new()
        .post(url)
        .form(form)
        .send()
        .await
        .expect("reachable");
    (r.status().as_u16(), r.text().await.expect("body"))
}

async fn rating_row(env: &TestEnv) -> Option<(String, Option<String>)> {
    let pool = env.db.pool().await.expect("pool");
    sqlx::query_as("SELECT rating, comment FROM ticket_ratings")
        .fetch_optional(&pool)
        .await
        .expect("query")
}

const DANA: &str = "dana@customer.example";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_acknowledgement_links_to_a_page_showing_only_what_was_emailed() {
    let (env, app, _web, base) = start(|_| {}).await;
    let number = open_ticket(
        &app,
        1,
        "c1@customer.example",
        "<b>Printer</b> on fire",
        "It says <script>alert(1)</script> & \"PC LOAD LETTER\"",
    )
    .await;
    app.deliverer.drain().await.expect("deliver");
    let (ack, link) = status_link(&env, DANA);
    let link = link.unwrap_or_else(|| panic!("no status link in the acknowledgement:\n{ack}"));
    assert!(link.starts_with(&format!("{base}/status/")), "{link}");

    let ana = actor(&app, "ana", Surface::Cli).await;
    app.desk.claim(&ana, &number).await.expect("claim");
    app.desk
        .note(
            &ana,
            &number,
            "INTERNAL-NOTE: customer is on the premium plan",
        )
        .await
        .expect("note");
    app.desk
        .set_priority(&ana, &number, claimdesk::domain::Priority::Urgent)
        .await
        .expect("priority");
    app.desk
        .reply(&ana, &number, "SENT-REPLY: please reload paper tray 2.")
        .await
        .expect("reply");
    app.deliverer.drain().await.expect("deliver");
    // Queued, not yet accepted by SMTP: not exchanged (yet), so not shown.
    app.desk
        .reply(&ana, &number, "QUEUED-REPLY: not sent yet")
        .await
        .expect("reply");

    let (code, headers, page) = get(&link).await;
    assert_eq!(code, 200, "{page}");
    assert!(page.contains(&number), "{page}");
    assert!(
        page.contains("SENT-REPLY: please reload paper tray 2."),
        "{page}"
    );
    assert!(
        page.contains("In progress"),
        "customer's status words: {page}"
    );
    // The customer's text is shown as text.
    assert!(
        page.contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; \"PC LOAD LETTER\"")
            || page
                .contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;PC LOAD LETTER&quot;"),
        "{page}"
    );
    assert!(
        page.contains("&lt;b&gt;Printer&lt;/b&gt; on fire"),
        "{page}"
    );
    assert!(!page.contains("<script>alert"), "{page}");
    assert!(!page.contains("<b>Printer"), "{page}");
    // Nothing agent-only.
    for secret in [
        "INTERNAL-NOTE",
        "premium plan",
        "QUEUED-REPLY",
        "@ana",
        "ana@claimdesk.test",
        "ANA",
        "urgent",
        "Urgent",
        "claimed",
        "ticket.",
    ] {
        assert!(!page.contains(secret), "page shows {secret:?}:\n{page}");
    }
    assert_eq!(headers["cache-control"], "no-store");
    assert_eq!(headers["referrer-policy"], "no-referrer");
    assert!(headers.contains_key("content-security-policy"));
    // Not resolved: no rating links yet.
    assert!(!page.contains("/rate/"), "{page}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_foreign_and_unknown_tokens_all_get_the_same_404() {
    let (env, app, web, _base) = start(|_| {}).await;
    open_ticket(&app, 1, "c1@customer.example", "First", "one").await;
    let second = open_ticket(&app, 2, "c2@customer.example", "Second", "two").await;
    app.deliverer.drain().await.expect("deliver");
    let (_, link) = status_link(&env, DANA);
    let link = link.expect("link");
    let token = link.rsplit('/').next().expect("token").to_string();
    let (id, sig) = token.split_once('-').expect("id-sig");
    let id: i64 = id.parse().expect("id");
    let (code, _, good) = get(&link).await;
    assert_eq!(code, 200);
    assert!(!good.contains(&second), "one ticket per token");

    let mut flipped = token.clone().into_bytes();
    let last = flipped.len() - 1;
    flipped[last] = if flipped[last] == b'0' { b'1' } else { b'0' };
    let forged = [
        // The same signature on the next ticket's id: walking the ids gets nothing.
        format!("{}-{sig}", id + 1),
        String::from_utf8(flipped).expect("ascii"),
        token.to_uppercase(),
        token[..token.len() - 1].to_string(),
        format!("{token}0"),
        format!("0{token}"),
        id.to_string(),
        sig.to_string(),
        // Signed under another secret.
        links::token(b"not the secret of this desk at all", id),
        // Properly signed, but no such ticket.
        links::token(LINK_SECRET.as_bytes(), 999_999),
        "..%2F..%2Fetc%2Fpasswd".into(),
        "x".repeat(5000),
        "%00".into(),
    ];
    let addr = web.addr;
    let mut first_body: Option<String> = None;
    for t in &forged {
        for path in [format!("/status/{t}"), format!("/rate/{t}?r=good")] {
            let (code, _, body) = get(&format!("http://{addr}{path}")).await;
            assert_eq!(code, 404, "{path}: {body}");
            match &first_body {
                None => first_body = Some(body),
                Some(b) => assert_eq!(&body, b, "{path}: every bad link looks the same"),
            }
        }
        let (code, _) = post(&format!("http://{addr}/rate/{t}"), &[("r", "good")]).await;
        assert_eq!(code, 404, "POST /rate/{t}");
    }
    assert!(first_body
        .unwrap_or_default()
        .contains("This link is not valid"));
    assert_eq!(rating_row(&env).await, None, "nothing recorded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn turned_off_links_are_not_sent_and_open_nothing() {
    for case in ["status_links = false", "secret unset"] {
        let (env, app, web, _base) = start(|env| match case {
            "status_links = false" => env.settings.web.status_links = false,
            _ => env.secrets.link_secret = None,
        })
        .await;
        let number = open_ticket(&app, 1, "c1@customer.example", "Hello", "hi").await;
        app.deliverer.drain().await.expect("deliver");
        let (ack, link) = status_link(&env, DANA);
        assert_eq!(link, None, "{case}: {ack}");
        assert!(ack.contains(&number), "{case}: still acknowledged: {ack}");
        // Even a token signed with the secret the tests use opens nothing.
        let pool = env.db.pool().await.expect("pool");
        let (id,): (i64,) = sqlx::query_as("SELECT id FROM tickets")
            .fetch_one(&pool)
            .await
            .expect("id");
        let token = links::token(LINK_SECRET.as_bytes(), id);
        let (code, _, _) = get(&format!("http://{}/status/{token}", web.addr)).await;
        assert_eq!(code, 404, "{case}");
        let (code, _) = post(
            &format!("http://{}/rate/{token}", web.addr),
            &[("r", "good")],
        )
        .await;
        assert_eq!(code, 404, "{case}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_link_secret_is_refused_at_start_naming_the_variable() {
    let mut env = db_only(NO_CHAT).await;
    env.secrets.link_secret = Some(secrecy::SecretString::from("short"));
    let err = match claimdesk::app::App::build(env.settings.clone(), env.secrets.clone()).await {
        Ok(_) => panic!("a 5-byte link secret was accepted"),
        Err(e) => format!("{e:#}"),
    };
    assert!(err.contains("CLAIMDESK_LINK_SECRET"), "{err}");
    assert!(err.contains("5 bytes"), "{err}");
    assert!(!err.contains("short\""), "never the value: {err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ratings_need_a_resolved_ticket_are_confirmed_by_post_can_change_and_are_counted() {
    let (env, app, _web, base) = start(|_| {}).await;
    let number = open_ticket(&app, 1, "c1@customer.example", "Invoice", "wrong VAT").await;
    app.deliverer.drain().await.expect("deliver");
    let (_, link) = status_link(&env, DANA);
    let token = link
        .expect("link")
        .rsplit('/')
        .next()
        .expect("token")
        .to_string();
    let rate = format!("{base}/rate/{token}");

    // Not resolved: nothing to rate.
    let (code, _, page) = get(&format!("{rate}?r=good")).await;
    assert_eq!(code, 409, "{page}");
    assert!(page.contains("not resolved yet"), "{page}");
    let (code, _) = post(&rate, &[("r", "good")]).await;
    assert_eq!(code, 409);
    assert_eq!(rating_row(&env).await, None);

    let ana = actor(&app, "ana", Surface::Cli).await;
    app.desk.claim(&ana, &number).await.expect("claim");
    app.desk
        .set_status(&ana, &number, claimdesk::domain::Status::Resolved)
        .await
        .expect("resolve");

    // The status page offers both one-click links.
    let (_, _, status) = get(&format!("{base}/status/{token}")).await;
    assert!(
        status.contains(&format!("/rate/{token}?r=good")),
        "{status}"
    );
    assert!(status.contains(&format!("/rate/{token}?r=bad")), "{status}");

    // Opening a link (as a mail scanner would) records nothing: it asks to confirm.
    for _ in 0..3 {
        let (code, _, page) = get(&format!("{rate}?r=good")).await;
        assert_eq!(code, 200, "{page}");
        assert!(page.contains("Send rating"), "{page}");
        assert!(
            page.contains(r#"value="good" checked"#),
            "good pre-selected: {page}"
        );
    }
    assert_eq!(rating_row(&env).await, None, "GET does not vote");

    let (code, page) = post(
        &rate,
        &[("r", "good"), ("comment", "Quick & <helpful>\r\n")],
    )
    .await;
    assert_eq!(code, 200, "{page}");
    assert!(page.contains("is recorded"), "{page}");
    assert_eq!(
        rating_row(&env).await,
        Some(("good".into(), Some("Quick & <helpful>".into())))
    );

    // Agents see it on the ticket.
    let cmd = claimdesk::chat::commands::parse("ticket", &number).expect("parses");
    let answer = claimdesk::chat::commands::execute(&app.desk, &ana, cmd).await;
    assert!(answer.contains("Customer rating: 👍 good"), "{answer}");
    assert!(answer.contains("Quick & <helpful>"), "{answer}");
    let detail = app.desk.show(&number).await.expect("show");
    let json = serde_json::to_value(&detail).expect("json");
    assert_eq!(json["rating"]["rating"], "good", "{json}");

    // The customer changes their mind.
    let (code, page) = post(&rate, &[("r", "bad"), ("comment", "")]).await;
    assert_eq!(code, 200, "{page}");
    assert!(page.contains("changed to bad"), "{page}");
    assert_eq!(rating_row(&env).await, Some(("bad".into(), None)));

    // Bad input: a clear error, the typed text shown again, nothing changed.
    let (code, page) = post(&rate, &[("r", "meh"), ("comment", "KEEP-THIS")]).await;
    assert_eq!(code, 400, "{page}");
    assert!(page.contains("Please choose good or bad"), "{page}");
    assert!(page.contains("KEEP-THIS"), "{page}");
    let long = format!("TYPED-{}", "x".repeat(2000));
    let (code, page) = post(&rate, &[("r", "good"), ("comment", &long)]).await;
    assert_eq!(code, 400, "{page}");
    assert!(page.contains("was not saved"), "{page}");
    assert!(page.contains(&long), "the comment is given back");
    assert_eq!(rating_row(&env).await, Some(("bad".into(), None)));

    // Audited, by the customer, through the web.
    let pool = env.db.pool().await.expect("pool");
    let audits: Vec<(String, String, serde_json::Value, serde_json::Value)> = sqlx::query_as(
        "SELECT actor, surface, before, after FROM audit_events WHERE action = 'ticket.rated' ORDER BY id",
    )
    .fetch_all(&pool)
    .await
    .expect("audit");
    assert_eq!(audits.len(), 2, "{audits:?}");
    assert_eq!(audits[0].0, format!("customer:{DANA}"));
    assert_eq!(audits[0].1, "web");
    assert_eq!(audits[0].2["rating"], serde_json::Value::Null);
    assert_eq!(audits[1].2["rating"], "good");
    assert_eq!(audits[1].3["rating"], "bad");

    // In stats.
    let cmd = claimdesk::chat::commands::parse("stats", "today").expect("parses");
    let answer = claimdesk::chat::commands::execute(&app.desk, &ana, cmd).await;
    assert!(
        answer.contains("Customer ratings: 0 good · 1 bad (0% good)"),
        "{answer}"
    );

    // Reopened: the rating stays, no new one until it is resolved again.
    app.desk
        .set_status(&ana, &number, claimdesk::domain::Status::InProgress)
        .await
        .expect("reopen");
    let (code, _) = post(&rate, &[("r", "good")]).await;
    assert_eq!(code, 409);
    assert_eq!(rating_row(&env).await, Some(("bad".into(), None)));
    let (_, _, status) = get(&format!("{base}/status/{token}")).await;
    assert!(status.contains("You rated this request bad"), "{status}");
    assert!(!status.contains("?r=good"), "{status}");
}

const ERIN: &str = "erin@other.example";

/// An email from Erin (another requester than Dana) opening a ticket, ingested at `uid`.
async fn open_erins_ticket(
    app: &claimdesk::app::App,
    uid: u32,
    subject: &str,
    body: &str,
) -> String {
    let raw = String::from_utf8(customer_email(
        &format!("erin{uid}@other.example"),
        subject,
        body,
        None,
    ))
    .expect("ascii")
    .replace(
        "Dana Customer <dana@customer.example>",
        &format!("Erin Other <{ERIN}>"),
    )
    .into_bytes();
    let src = claimdesk::desk::Source {
        mailbox: "support",
        uidvalidity: 1,
        uid,
    };
    match app.desk.ingest(src, &raw).await.expect("ingest") {
        claimdesk::desk::Ingested::Created(number) => number,
        other => panic!("expected a new ticket, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_merge_each_requester_sees_only_their_own_mail() {
    let (env, app, _web, _base) = start(|_| {}).await;
    let a = open_ticket(
        &app,
        1,
        "c1@customer.example",
        "Printer",
        "DANA-ASKS: paper jam",
    )
    .await;
    let b = open_erins_ticket(&app, 2, "Scanner", "ERIN-ASKS: scanner is dead").await;
    app.deliverer.drain().await.expect("deliver");
    let (_, link_a) = status_link(&env, DANA);
    let (_, link_b) = status_link(&env, ERIN);
    let link_a = link_a.expect("Dana's link");
    let link_b = link_b.expect("Erin's link");
    let token_a = link_a.rsplit('/').next().expect("token").to_string();
    let token_b = link_b.rsplit('/').next().expect("token").to_string();

    let ana = actor(&app, "ana", Surface::Cli).await;
    app.desk.claim(&ana, &a).await.expect("claim a");
    app.desk.claim(&ana, &b).await.expect("claim b");
    app.desk
        .reply(&ana, &a, "TO-DANA: try tray 2")
        .await
        .expect("reply a");
    app.desk
        .reply(&ana, &b, "TO-ERIN: replug the scanner")
        .await
        .expect("reply b");
    app.deliverer.drain().await.expect("deliver");
    app.desk.merge_tickets(&ana, &b, &a).await.expect("merge");
    app.desk
        .reply(&ana, &a, "TO-DANA-AFTER: fixed?")
        .await
        .expect("reply after");
    app.deliverer.drain().await.expect("deliver");

    let (code, _, page_a) = get(&link_a).await;
    assert_eq!(code, 200, "{page_a}");
    for own in ["DANA-ASKS", "TO-DANA: try tray 2", "TO-DANA-AFTER"] {
        assert!(page_a.contains(own), "Dana's page lacks {own:?}:\n{page_a}");
    }
    for foreign in ["ERIN-ASKS", "TO-ERIN", ERIN, token_b.as_str()] {
        assert!(
            !page_a.contains(foreign),
            "Dana's page shows {foreign:?}:\n{page_a}"
        );
    }

    let (code, _, page_b) = get(&link_b).await;
    assert_eq!(code, 200, "{page_b}");
    for own in ["ERIN-ASKS", "TO-ERIN: replug the scanner"] {
        assert!(page_b.contains(own), "Erin's page lacks {own:?}:\n{page_b}");
    }
    for foreign in ["DANA-ASKS", "TO-DANA", DANA, token_a.as_str()] {
        assert!(
            !page_b.contains(foreign),
            "Erin's page shows {foreign:?}:\n{page_b}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rating_that_changes_nothing_writes_and_audits_nothing() {
    let (env, app, _web, base) = start(|_| {}).await;
    let number = open_ticket(&app, 1, "c1@customer.example", "Invoice", "wrong VAT").await;
    app.deliverer.drain().await.expect("deliver");
    let (_, link) = status_link(&env, DANA);
    let token = link
        .expect("link")
        .rsplit('/')
        .next()
        .expect("token")
        .to_string();
    let rate = format!("{base}/rate/{token}");
    let ana = actor(&app, "ana", Surface::Cli).await;
    app.desk.claim(&ana, &number).await.expect("claim");
    app.desk
        .set_status(&ana, &number, claimdesk::domain::Status::Resolved)
        .await
        .expect("resolve");
    let pool = env.db.pool().await.expect("pool");
    let state = || async {
        let audits: i64 =
            sqlx::query_scalar("SELECT count(*) FROM audit_events WHERE action = 'ticket.rated'")
                .fetch_one(&pool)
                .await
                .expect("audits");
        let rated_at: Option<chrono::DateTime<chrono::Utc>> =
            sqlx::query_scalar("SELECT rated_at FROM ticket_ratings")
                .fetch_optional(&pool)
                .await
                .expect("rated_at");
        (audits, rated_at)
    };
    let (code, _) = post(&rate, &[("r", "good"), ("comment", "Thanks")]).await;
    assert_eq!(code, 200);
    let first = state().await;
    assert_eq!(first.0, 1);
    // The same rating and comment (the comment as the form may send it again, with a
    // trailing newline cleaned away): nothing new.
    for comment in ["Thanks", "Thanks\r\n"] {
        let (code, page) = post(&rate, &[("r", "good"), ("comment", comment)]).await;
        assert_eq!(code, 200, "{page}");
        assert!(page.contains("is recorded"), "{page}");
        assert_eq!(state().await, first, "{comment:?}");
    }
    // A different comment is a change.
    let (code, _) = post(&rate, &[("r", "good"), ("comment", "")]).await;
    assert_eq!(code, 200);
    let after = state().await;
    assert_eq!(after.0, 2);
    assert_eq!(rating_row(&env).await, Some(("good".into(), None)));
}
