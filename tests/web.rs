//! The web view (issue 12) over HTTP against a running `serve` (web server and outbox
//! worker): real Postgres, the SMTP sink, Dovecot and the Slack stand-in.
//!
//! Sign-in by the link the SMTP sink received (once, expiring, cookie flags, no account
//! enumeration), signed-out and non-agent visitors, CSRF, actions that edit the Slack card
//! and email the customer exactly once, keyset paging with equal sort keys against an
//! oracle, attachment download headers, and an HTML body with `<script>` shown inert.

mod support;

use std::collections::HashSet;
use std::net::SocketAddr;
use std::time::Duration;

use claimdesk::store::queues::{self, Cursor, Holder, Queue, QueueFilter, SlaState, Sort};
use support::harness::*;

const SLACK: Platforms = Platforms {
    slack: true,
    discord: false,
};

/// An HTTP client that follows no redirects, with an optional session cookie.
struct Browser {
    addr: SocketAddr,
    http: reqwest::Client,
    cookie: Option<String>,
}

impl Browser {
    fn new(addr: SocketAddr) -> Browser {
        Browser {
            addr,
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
            cookie: None,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    async fn get(&self, path: &str) -> reqwest::Response {
        let mut r = self.http.get(self.url(path));
        if let Some(c) = &self.cookie {
            r = r.header("cookie", c);
        }
        r.send().await.expect("GET")
    }

    async fn post(&self, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        let mut r = self
            .http
            .post(self.url(path))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body);
        if let Some(c) = &self.cookie {
            r = r.header("cookie", c);
        }
        r.send().await.expect("POST")
    }
}

fn location(r: &reqwest::Response) -> String {
    r.headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string()
}

fn set_cookies(r: &reqwest::Response) -> Vec<String> {
    r.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok().map(str::to_string))
        .collect()
}

/// The text body of an email as received (transfer encodings decoded).
fn mail_text(raw: &[u8]) -> String {
    mail_parser::MessageParser::default()
        .parse(raw)
        .and_then(|m| m.body_text(0).map(|b| b.to_string()))
        .unwrap_or_default()
}

/// The sign-in link in an email's text.
fn link_in(raw: &[u8]) -> String {
    let text = mail_text(raw);
    text.split_whitespace()
        .find(|w| w.contains("/signin/"))
        .unwrap_or_else(|| panic!("no sign-in link in {text}"))
        .to_string()
}

/// The path of a link (`/signin/<token>`).
fn path_of(link: &str) -> String {
    let i = link.find("/signin/").expect("signin path");
    link[i..].to_string()
}

/// The hidden `_csrf` value of a page.
fn csrf_of(html: &str) -> String {
    let i = html.find("name=\"_csrf\" value=\"").expect("csrf field") + 20;
    html[i..i + 64].to_string()
}

/// Signs `email` in through the emailed link (the `n`th mail of the sink) and returns the
/// browser with its session cookie.
async fn sign_in(env: &TestEnv, addr: SocketAddr, email: &str, n: usize) -> Browser {
    let mut b = Browser::new(addr);
    let r = b.post("/signin", &[("email", email), ("next", "/")]).await;
    assert_eq!(r.status(), 200);
    let mails = env
        .smtp
        .wait_for(n, Duration::from_secs(20))
        .await
        .expect("sign-in mail");
    let link = link_in(&mails[n - 1]);
    let r = b.post(&path_of(&link), &[]).await;
    assert_eq!(r.status(), 303, "{}", r.text().await.unwrap_or_default());
    let cookie = set_cookies(&r)
        .into_iter()
        .find(|c| c.starts_with("claimdesk_session="))
        .expect("session cookie");
    b.cookie = Some(cookie.split(';').next().unwrap_or("").to_string());
    b
}

#[tokio::test]
async fn signin_link_from_the_smtp_sink_works_once_and_expires() {
    let env = env(SLACK).await;
    let app = env.app().await;
    let running = app.start().await.expect("start");
    let mut b = Browser::new(running.addr);

    // Signed out: every page sends to the sign-in page, remembering where one was going.
    let r = b.get("/tickets/all?sort=age").await;
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), "/signin?next=%2Ftickets%2Fall%3Fsort%3Dage");

    // An agent's address (any case) and an unknown one get the same answer.
    let known = b
        .post(
            "/signin",
            &[("email", "ANA@claimdesk.test"), ("next", "/tickets/all")],
        )
        .await;
    assert_eq!(known.status(), 200);
    let known = known.text().await.expect("body");
    let unknown = b
        .post(
            "/signin",
            &[("email", "mallory@evil.example"), ("next", "/tickets/all")],
        )
        .await;
    assert_eq!(unknown.status(), 200);
    assert_eq!(
        known,
        unknown.text().await.expect("body"),
        "no account enumeration"
    );
    assert!(
        known.contains("If that address belongs to an agent"),
        "{known}"
    );

    let mails = env
        .smtp
        .wait_for(1, Duration::from_secs(20))
        .await
        .expect("mail");
    let received = env.smtp.received();
    assert_eq!(received[0].rcpt_to, vec!["ana@claimdesk.test".to_string()]);
    let link = link_in(&mails[0]);
    assert!(
        link.starts_with(&format!("http://{}/signin/", running.addr)),
        "without web.public_url the link names the address serve listens on: {link}"
    );
    let path = path_of(&link);
    let token = path.trim_start_matches("/signin/").to_string();
    assert_eq!(token.len(), 64);

    // Stored hashed; the outbox row no longer holds the link once sent.
    let plain: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM web_signin_tokens WHERE encode(token_hash, 'hex') = $1",
    )
    .bind(&token)
    .fetch_one(app.desk.pool())
    .await
    .expect("query");
    assert_eq!(plain, 0, "the token itself is not stored");
    eventually(10, "link blanked in the outbox", || async {
        let n: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM outbox WHERE kind = 'signin_link' AND payload::text LIKE '%' || $1 || '%'",
        )
        .bind(&token)
        .fetch_one(app.desk.pool())
        .await
        .expect("query");
        (n == 0).then_some(())
    })
    .await;

    // Opening the link (a mail scanner too) does not use it; the button does.
    for _ in 0..2 {
        let r = b.get(&path).await;
        assert_eq!(r.status(), 200);
        let page = r.text().await.expect("body");
        assert!(page.contains(&format!("action=\"{path}\"")), "{page}");
    }
    let r = b.post(&path, &[]).await;
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), "/tickets/all");
    let cookie = set_cookies(&r)
        .into_iter()
        .find(|c| c.starts_with("claimdesk_session="))
        .expect("cookie");
    for flag in ["HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(cookie.contains(flag), "{cookie}");
    }
    assert!(
        !cookie.contains("Secure"),
        "http public URL: no Secure: {cookie}"
    );
    b.cookie = Some(cookie.split(';').next().unwrap_or("").to_string());
    let r = b.get("/tickets/mine").await;
    assert_eq!(r.status(), 200);
    let page = r.text().await.expect("body");
    assert!(
        page.contains("data-live=\"list\"") && page.contains("@ana"),
        "{page}"
    );

    // Once only.
    let again = Browser::new(running.addr).post(&path, &[]).await;
    assert_eq!(again.status(), 400);
    assert!(set_cookies(&again).is_empty());

    // A link older than 15 minutes is refused.
    b.post("/signin", &[("email", "ben@claimdesk.test")]).await;
    let mails = env
        .smtp
        .wait_for(2, Duration::from_secs(20))
        .await
        .expect("mail");
    let late = path_of(&link_in(&mails[1]));
    let fifteen: bool = sqlx::query_scalar(
        "SELECT bool_and(expires_at - created_at BETWEEN interval '14 minutes 58 seconds'
                                                   AND interval '15 minutes 2 seconds')
         FROM web_signin_tokens",
    )
    .fetch_one(app.desk.pool())
    .await
    .expect("query");
    assert!(fifteen, "links expire 15 minutes after they are made");
    sqlx::query("UPDATE web_signin_tokens SET expires_at = now() - interval '1 second' WHERE used_at IS NULL")
        .execute(app.desk.pool())
        .await
        .expect("expire");
    let r = Browser::new(running.addr).post(&late, &[]).await;
    assert_eq!(r.status(), 400);
    assert!(set_cookies(&r).is_empty());

    // Sign out ends the session server-side.
    let page = b.get("/tickets/mine").await.text().await.expect("body");
    let r = b.post("/signout", &[("_csrf", &csrf_of(&page))]).await;
    assert_eq!(r.status(), 303);
    assert_eq!(b.get("/tickets/mine").await.status(), 303);
}

#[tokio::test]
async fn https_public_url_makes_the_cookie_secure() {
    let mut env = env(SLACK).await;
    env.settings.web.public_url = Some("https://desk.example/".into());
    let app = env.app().await;
    let running = app.start().await.expect("start");
    let b = Browser::new(running.addr);
    b.post("/signin", &[("email", "cy@claimdesk.test")]).await;
    let mails = env
        .smtp
        .wait_for(1, Duration::from_secs(20))
        .await
        .expect("mail");
    let link = link_in(&mails[0]);
    assert!(link.starts_with("https://desk.example/signin/"), "{link}");
    let r = b.post(&path_of(&link), &[]).await;
    assert_eq!(r.status(), 303);
    let cookie = set_cookies(&r).join("\n");
    assert!(
        cookie.contains("Secure") && cookie.contains("HttpOnly"),
        "{cookie}"
    );
    // The flash cookie too: set by an action's redirect, cleared by the next page.
    let mut b = b;
    b.cookie = Some(cookie.split(';').next().unwrap_or("").to_string());
    let number = open_ticket(&app, 1, "c1@customer.example", "Hello", "hi").await;
    let page = b
        .get(&format!("/tickets/{number}"))
        .await
        .text()
        .await
        .expect("body");
    let r = b
        .post(
            &format!("/tickets/{number}/claim"),
            &[("_csrf", &csrf_of(&page))],
        )
        .await;
    assert_eq!(r.status(), 303);
    let flash = set_cookies(&r)
        .into_iter()
        .find(|c| c.starts_with("claimdesk_flash="))
        .expect("flash cookie");
    assert!(flash.contains("; Secure"), "{flash}");
    let shown = format!(
        "{}; {}",
        b.cookie.as_deref().unwrap_or(""),
        flash.split(';').next().unwrap_or("")
    );
    b.cookie = Some(shown);
    let r = b.get(&format!("/tickets/{number}")).await;
    assert_eq!(r.status(), 200);
    let cleared = set_cookies(&r)
        .into_iter()
        .find(|c| c.starts_with("claimdesk_flash="))
        .expect("flash cleared");
    assert!(
        cleared.contains("Max-Age=0") && cleared.contains("; Secure"),
        "{cleared}"
    );
}

#[tokio::test]
async fn signing_in_again_ends_the_browsers_previous_session() {
    let env = env(SLACK).await;
    let app = env.app().await;
    let running = app.start().await.expect("start");
    let mut b = sign_in(&env, running.addr, "ana@claimdesk.test", 1).await;
    let old = b.cookie.clone().expect("cookie");
    let sessions = || async {
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM web_sessions")
            .fetch_one(app.desk.pool())
            .await
            .expect("count");
        n
    };
    assert_eq!(sessions().await, 1);
    // The same browser (its session cookie sent along) signs in by a new link.
    let r = b.post("/signin", &[("email", "ana@claimdesk.test")]).await;
    assert_eq!(r.status(), 200);
    let mails = env
        .smtp
        .wait_for(2, Duration::from_secs(20))
        .await
        .expect("mail");
    let r = b.post(&path_of(&link_in(&mails[1])), &[]).await;
    assert_eq!(r.status(), 303);
    assert_eq!(sessions().await, 1, "the previous session is deleted");
    b.cookie = Some(old);
    assert_eq!(
        b.get("/tickets/mine").await.status(),
        303,
        "old cookie is dead"
    );
}

#[tokio::test]
async fn signed_out_and_non_agents_get_only_the_signin_page() {
    let env = env(SLACK).await;
    let app = env.app().await;
    let running = app.start().await.expect("start");
    let number = open_ticket(&app, 1, "q@customer.example", "Question", "Hi").await;
    let anon = Browser::new(running.addr);
    let pages = [
        "/".to_string(),
        "/tickets/mine".into(),
        "/tickets/unassigned".into(),
        "/tickets/all".into(),
        format!("/tickets/{number}"),
        "/workload".into(),
        "/workload/chart.png".into(),
    ];
    for p in &pages {
        let r = anon.get(p).await;
        assert_eq!(r.status(), 303, "{p}");
        assert!(location(&r).starts_with("/signin?next="), "{p}");
        assert!(!r.text().await.expect("body").contains("Question"), "{p}");
    }
    for action in ["claim", "reply", "note"] {
        let r = anon
            .post(&format!("/tickets/{number}/{action}"), &[("text", "x")])
            .await;
        assert_eq!(r.status(), 401, "{action}");
    }
    // A made-up cookie is no session.
    let mut forged = Browser::new(running.addr);
    forged.cookie = Some(format!("claimdesk_session={}", "a".repeat(64)));
    assert_eq!(forged.get("/tickets/all").await.status(), 303);

    // A non-agent asking for a link gets no mail and no token.
    anon.post("/signin", &[("email", "dana@customer.example")])
        .await;
    let tokens: i64 = sqlx::query_scalar("SELECT count(*) FROM web_signin_tokens")
        .fetch_one(app.desk.pool())
        .await
        .expect("count");
    assert_eq!(tokens, 0);

    // An agent removed from the desk loses the session at once.
    let mut cy = sign_in(&env, running.addr, "cy@claimdesk.test", 1).await;
    assert_eq!(cy.get("/tickets/all").await.status(), 200);
    sqlx::query("UPDATE agents SET active = FALSE WHERE handle = 'cy'")
        .execute(app.desk.pool())
        .await
        .expect("deactivate");
    let r = cy.get("/tickets/all").await;
    assert_eq!(r.status(), 303);
    cy.cookie = None;
    assert_eq!(env.smtp.messages().len(), 1, "only cy's link was mailed");

    // Security headers on every answer of the web view.
    for p in ["/signin", "/assets/app.css"] {
        let r = anon.get(p).await;
        let h = r.headers();
        let csp = h
            .get("content-security-policy")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        assert!(
            csp.contains("default-src 'self'") && csp.contains("frame-ancestors 'none'"),
            "{p}: {csp}"
        );
        assert_eq!(
            h.get("x-content-type-options")
                .and_then(|v| v.to_str().ok()),
            Some("nosniff")
        );
        assert!(h.get("referrer-policy").is_some());
    }
}

#[tokio::test]
async fn csrf_less_post_is_refused_and_nothing_changes() {
    let env = env(SLACK).await;
    let app = env.app().await;
    let running = app.start().await.expect("start");
    let number = open_ticket(&app, 1, "c@customer.example", "CSRF", "Hi").await;
    let ana = sign_in(&env, running.addr, "ana@claimdesk.test", 1).await;
    let count = |sql: &'static str| {
        let pool = app.desk.pool().clone();
        async move {
            sqlx::query_scalar::<_, i64>(sql)
                .fetch_one(&pool)
                .await
                .expect("count")
        }
    };
    let audit = count("SELECT count(*) FROM audit_events").await;
    let outbox = count("SELECT count(*) FROM outbox").await;
    for form in [
        vec![],
        vec![("_csrf", "0".repeat(64))],
        vec![("_csrf", String::new())],
    ] {
        for action in ["claim", "note", "reply", "priority", "signout"] {
            let path = if action == "signout" {
                "/signout".to_string()
            } else {
                format!("/tickets/{number}/{action}")
            };
            let mut fields: Vec<(&str, &str)> =
                form.iter().map(|(k, v)| (*k, v.as_str())).collect();
            fields.push(("text", "sneaky"));
            fields.push(("priority", "urgent"));
            let r = ana.post(&path, &fields).await;
            assert_eq!(r.status(), 403, "{action} {form:?}");
        }
    }
    assert_eq!(count("SELECT count(*) FROM audit_events").await, audit);
    assert_eq!(count("SELECT count(*) FROM outbox").await, outbox);
    assert_eq!(
        count("SELECT count(*) FROM tickets WHERE assignee_id IS NOT NULL OR priority <> 'medium'")
            .await,
        0
    );
    assert_eq!(
        ana.get("/tickets/mine").await.status(),
        200,
        "still signed in"
    );

    // With the token, the same claim works.
    let page = ana
        .get(&format!("/tickets/{number}"))
        .await
        .text()
        .await
        .expect("body");
    let r = ana
        .post(
            &format!("/tickets/{number}/claim"),
            &[("_csrf", &csrf_of(&page))],
        )
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(
        count("SELECT count(*) FROM tickets WHERE assignee_id IS NOT NULL").await,
        1
    );
}

#[tokio::test]
async fn web_claim_edits_the_slack_card_and_a_web_reply_is_emailed_once() {
    let env = env(SLACK).await;
    let slack = env.slack.as_ref().expect("slack");
    let app = env.app().await;
    let running = app.start().await.expect("start");
    let number = open_ticket(&app, 1, "r@customer.example", "Reset link", "It expired.").await;
    eventually(15, "card posted", || async {
        (!slack.calls_to("chat.postMessage").is_empty()).then_some(())
    })
    .await;
    let ben = sign_in(&env, running.addr, "ben@claimdesk.test", 1).await;

    // The ticket page shows the conversation and who a reply goes to, before sending.
    let page = ben
        .get(&format!("/tickets/{number}"))
        .await
        .text()
        .await
        .expect("body");
    assert!(
        page.contains(&format!("data-ticket=\"{number}\"")),
        "{page}"
    );
    assert!(page.contains("It expired."));
    assert!(
        page.contains("The reply is emailed to dana@customer.example"),
        "{page}"
    );
    let csrf = csrf_of(&page);

    let r = ben
        .post(&format!("/tickets/{number}/claim"), &[("_csrf", &csrf)])
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), format!("/tickets/{number}"));
    let flash = set_cookies(&r).join("\n");
    assert!(flash.contains("claimdesk_flash="), "{flash}");
    let card = eventually(15, "card edited", || async {
        slack
            .calls_to("chat.update")
            .into_iter()
            .map(|c| c.body.to_string())
            .find(|b| b.contains(&format!("Claimed by <@{BEN_SLACK}>")))
    })
    .await;
    assert!(card.contains(&number), "{card}");
    let surface: String = sqlx::query_scalar(
        "SELECT surface FROM audit_events WHERE action LIKE '%claim%' ORDER BY id DESC LIMIT 1",
    )
    .fetch_one(app.desk.pool())
    .await
    .expect("audit");
    assert_eq!(surface, "web");

    // The flash shows once on the page the redirect leads to.
    let mut with_flash = Browser::new(running.addr);
    let flash_cookie = flash.split(';').next().unwrap_or("").to_string();
    with_flash.cookie = Some(format!(
        "{}; {flash_cookie}",
        ben.cookie.clone().unwrap_or_default()
    ));
    let r = with_flash.get(&format!("/tickets/{number}")).await;
    assert!(
        set_cookies(&r)
            .iter()
            .any(|c| c.starts_with("claimdesk_flash=;")),
        "flash cleared"
    );
    assert!(r
        .text()
        .await
        .expect("body")
        .contains(&format!("You claimed {number}.")));

    // A reply from the web reaches the customer exactly once.
    let r = ben
        .post(
            &format!("/tickets/{number}/reply"),
            &[("_csrf", &csrf), ("text", "Here is a fresh link.")],
        )
        .await;
    assert_eq!(r.status(), 303);
    env.smtp
        .wait_for(2, Duration::from_secs(20))
        .await
        .expect("reply mail");
    tokio::time::sleep(Duration::from_secs(3)).await;
    let to_dana: Vec<_> = env
        .smtp
        .received()
        .into_iter()
        .filter(|m| m.rcpt_to.iter().any(|r| r == "dana@customer.example"))
        .collect();
    assert_eq!(to_dana.len(), 1, "one email to the customer");
    assert!(mail_text(&to_dana[0].raw).contains("Here is a fresh link."));

    // A note stays internal and shows as one.
    let r = ben
        .post(
            &format!("/tickets/{number}/note"),
            &[("_csrf", &csrf), ("text", "Customer on the old plan.")],
        )
        .await;
    assert_eq!(r.status(), 303);
    let page = ben
        .get(&format!("/tickets/{number}"))
        .await
        .text()
        .await
        .expect("body");
    assert!(page.contains("class=\"msg note\"") && page.contains("Customer on the old plan."));
    assert!(page.contains("class=\"msg outbound\"") && page.contains("class=\"msg inbound\""));

    // A member cannot assign: the desk refuses, as in chat.
    let r = ben
        .post(
            &format!("/tickets/{number}/assign"),
            &[("_csrf", &csrf), ("handle", "cy")],
        )
        .await;
    assert_eq!(r.status(), 303);
    assert!(
        set_cookies(&r).join("").contains("admin"),
        "refusal flashed"
    );
    let holder: String = sqlx::query_scalar(
        "SELECT a.handle FROM tickets t JOIN agents a ON a.id = t.assignee_id WHERE t.number = $1",
    )
    .bind(&number)
    .fetch_one(app.desk.pool())
    .await
    .expect("holder");
    assert_eq!(holder, "ben");
    assert_eq!(slack.violations(), Vec::<String>::new());
}

/// Fills `n` tickets with few distinct opening times, last customer times and SLA due
/// times (many equal sort keys, some absent), statuses, priorities, holders and tags.
async fn fill(pool: &sqlx::PgPool, n: i64) {
    sqlx::query(
        "INSERT INTO tickets (number, year, seq, status, requester_email, subject, mailbox,
                              priority, department, opened_at, assignee_id)
         SELECT 'TICK-2026-' || lpad(g::text, 4, '0'), 2026, g,
                (ARRAY['open','claimed','in_progress','waiting','resolved','closed','pending_assignment'])[1 + g % 7],
                'c' || g || '@customer.example', 'Subject ' || g, 'support',
                (ARRAY['low','medium','high','urgent'])[1 + g % 4],
                (ARRAY['support','billing'])[1 + g % 2],
                timestamptz '2026-11-01' + (g % 3) * interval '1 hour',
                CASE WHEN g % 7 IN (1, 2, 3, 4, 5) THEN (SELECT id FROM agents WHERE handle = (ARRAY['ana','ben','cy'])[1 + g % 3]) END
         FROM generate_series(1, $1) g",
    )
    .bind(n)
    .execute(pool)
    .await
    .expect("tickets");
    sqlx::query(
        "INSERT INTO messages (ticket_id, message_id, direction, from_addr, subject, body_text, raw_size, received_at)
         SELECT t.id, 'm' || t.id || '@customer.example', 'inbound', t.requester_email, t.subject, 'b', 1,
                timestamptz '2026-11-02' + (t.seq % 4) * interval '1 minute'
         FROM tickets t WHERE t.seq % 5 <> 0",
    )
    .execute(pool)
    .await
    .expect("messages");
    sqlx::query(
        "INSERT INTO sla_clocks (ticket_id, metric, goal_secs, business, started_at, due_at, warn_at)
         SELECT t.id, 'resolution', 3600, false, t.opened_at,
                now() + (t.seq % 3 - 1) * interval '1 hour', now() + (t.seq % 3 - 1) * interval '1 hour' - interval '30 minutes'
         FROM tickets t WHERE t.seq % 4 <> 0",
    )
    .execute(pool)
    .await
    .expect("clocks");
    sqlx::query(
        "INSERT INTO ticket_tags (ticket_id, tag, added_by)
         SELECT t.id, 'vip', 'test' FROM tickets t WHERE t.seq % 6 = 0",
    )
    .execute(pool)
    .await
    .expect("tags");
}

/// What a filter should list, in order: computed in Rust from every ticket.
async fn oracle(pool: &sqlx::PgPool, f: &QueueFilter) -> Vec<i64> {
    type Row = (
        i64,
        String,
        String,
        String,
        Option<i64>,
        Option<String>,
        chrono::DateTime<chrono::Utc>,
        Option<chrono::DateTime<chrono::Utc>>,
        Option<chrono::DateTime<chrono::Utc>>,
        Option<chrono::DateTime<chrono::Utc>>,
        bool,
    );
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT t.id, t.status, t.priority, t.department, t.assignee_id, a.handle, t.opened_at,
                (SELECT max(received_at) FROM messages m WHERE m.ticket_id = t.id AND m.direction = 'inbound'),
                (SELECT min(due_at) FROM sla_clocks c WHERE c.ticket_id = t.id AND c.met_at IS NULL),
                (SELECT c.warn_at FROM sla_clocks c WHERE c.ticket_id = t.id AND c.met_at IS NULL AND c.due_at IS NOT NULL ORDER BY c.due_at, c.metric LIMIT 1),
                EXISTS (SELECT 1 FROM ticket_tags g WHERE g.ticket_id = t.id AND g.tag = 'vip')
         FROM tickets t LEFT JOIN agents a ON a.id = t.assignee_id",
    )
    .fetch_all(pool)
    .await
    .expect("all tickets");
    let far = chrono::DateTime::<chrono::Utc>::MAX_UTC;
    let mut keep: Vec<(chrono::DateTime<chrono::Utc>, i64)> = rows
        .into_iter()
        .filter(|r| match f.queue {
            Queue::Mine(a) => {
                r.4 == Some(a)
                    && (f.status.is_some()
                        || !["resolved", "closed", "merged"].contains(&r.1.as_str()))
            }
            Queue::Unassigned => {
                r.4.is_none() && ["open", "pending_assignment"].contains(&r.1.as_str())
            }
            Queue::All => true,
        })
        .filter(|r| f.status.is_none_or(|s| s.as_str() == r.1))
        .filter(|r| f.priority.is_none_or(|p| p.as_str() == r.2))
        .filter(|r| f.department.as_deref().is_none_or(|d| d == r.3))
        .filter(|r| match &f.assignee {
            None => true,
            Some(Holder::Nobody) => r.4.is_none(),
            Some(Holder::Handle(h)) => r.5.as_deref() == Some(h.as_str()),
            Some(Holder::Agent(id)) => r.4 == Some(*id),
        })
        .filter(|r| f.sla.is_none_or(|s| SlaState::of(r.8, r.9, f.now) == s))
        .filter(|r| f.tag.is_none() || r.10)
        .filter(|r| f.opened_from.is_none_or(|t| r.6 >= t))
        .filter(|r| f.opened_to.is_none_or(|t| r.6 < t))
        .map(|r| {
            let key = match f.sort {
                Sort::Age => Some(r.6),
                Sort::Due => r.8,
                Sort::LastCustomer => r.7,
            };
            (key.unwrap_or(far), r.0)
        })
        .collect();
    keep.sort();
    keep.into_iter().map(|(_, id)| id).collect()
}

#[tokio::test]
async fn lists_filter_sort_and_page_without_duplicates_or_skips() {
    let env = db_only(SLACK).await;
    let app = env.app().await;
    let pool = app.desk.pool().clone();
    fill(&pool, 400).await;
    let ana: i64 = sqlx::query_scalar("SELECT id FROM agents WHERE handle = 'ana'")
        .fetch_one(&pool)
        .await
        .expect("ana");
    let now = chrono::Utc::now();
    let mut filters = Vec::new();
    for sort in [Sort::Due, Sort::Age, Sort::LastCustomer] {
        for queue in [Queue::All, Queue::Unassigned, Queue::Mine(ana)] {
            filters.push(QueueFilter::new(queue, sort, now));
        }
        let mut f = QueueFilter::new(Queue::All, sort, now);
        f.status = Some(claimdesk::domain::Status::Open);
        filters.push(f);
        let mut f = QueueFilter::new(Queue::All, sort, now);
        f.priority = Some(claimdesk::domain::Priority::Urgent);
        f.department = Some("billing".into());
        filters.push(f);
        for sla in [
            SlaState::Breached,
            SlaState::AtRisk,
            SlaState::OnTrack,
            SlaState::None,
        ] {
            let mut f = QueueFilter::new(Queue::All, sort, now);
            f.sla = Some(sla);
            filters.push(f);
        }
        let mut f = QueueFilter::new(Queue::All, sort, now);
        f.tag = Some("vip".into());
        f.assignee = Some(Holder::Handle("ben".into()));
        filters.push(f);
        let mut f = QueueFilter::new(Queue::All, sort, now);
        f.assignee = Some(Holder::Nobody);
        f.opened_from = Some(
            chrono::DateTime::parse_from_rfc3339("2026-11-01T01:00:00Z")
                .expect("t")
                .into(),
        );
        f.opened_to = Some(
            chrono::DateTime::parse_from_rfc3339("2026-11-01T02:00:00Z")
                .expect("t")
                .into(),
        );
        filters.push(f);
        let mut f = QueueFilter::new(Queue::Mine(ana), sort, now);
        f.status = Some(claimdesk::domain::Status::Resolved);
        filters.push(f);
        // Filters the sort index does not serve, beside ones it does: each is listed both by
        // walking the index and, when the walk finds them too rarely, by reading them
        // through their own indexes and sorting (forced below with a tiny probe).
        let mut f = QueueFilter::new(Queue::All, sort, now);
        f.department = Some("support".into());
        f.priority = Some(claimdesk::domain::Priority::Low);
        filters.push(f);
        let mut f = QueueFilter::new(Queue::All, sort, now);
        f.status = Some(claimdesk::domain::Status::Open);
        f.department = Some("billing".into());
        f.opened_from = Some(
            chrono::DateTime::parse_from_rfc3339("2026-11-01T00:30:00Z")
                .expect("t")
                .into(),
        );
        filters.push(f);
        let mut f = QueueFilter::new(Queue::All, sort, now);
        f.assignee = Some(Holder::Handle("ana".into()));
        f.status = Some(claimdesk::domain::Status::Claimed);
        f.priority = Some(claimdesk::domain::Priority::High);
        filters.push(f);
        let mut f = QueueFilter::new(Queue::Mine(ana), sort, now);
        f.status = Some(claimdesk::domain::Status::Waiting);
        f.sla = Some(SlaState::Breached);
        filters.push(f);
        let mut f = QueueFilter::new(Queue::Unassigned, sort, now);
        f.sla = Some(SlaState::AtRisk);
        f.tag = Some("vip".into());
        filters.push(f);
        // A department and priority lead the walk under the due sort; a status beside them
        // is checked on each row.
        let mut f = QueueFilter::new(Queue::All, sort, now);
        f.department = Some("support".into());
        f.priority = Some(claimdesk::domain::Priority::Low);
        f.status = Some(claimdesk::domain::Status::Open);
        filters.push(f);
        let mut f = QueueFilter::new(Queue::All, sort, now);
        f.assignee = Some(Holder::Nobody);
        f.department = Some("billing".into());
        filters.push(f);
    }
    let mut conn = pool.acquire().await.expect("conn");
    for f in &filters {
        let want = oracle(&pool, f).await;
        // A probe with `walk_max` 0 makes every list the probe finds short of a page sparse;
        // with a larger one, the hits it counts decide, and the walk stops at `walk_max`.
        let probe = |rows, walk_max| Some(queues::Probe { rows, walk_max });
        for (limit, probe) in [
            (7, None),
            (50, None),
            (7, probe(3, 0)),
            (50, probe(1, 0)),
            (7, probe(3, 1_000)),
            // A walk bounded at 10 entries: short of a page there, the list is read sorted.
            (7, probe(3, 10)),
        ] {
            let mut got = Vec::new();
            let mut after: Option<Cursor> = None;
            loop {
                let page = match probe {
                    None => queues::page(&mut conn, f, after.as_ref(), limit).await,
                    Some(p) => queues::page_probing(&mut conn, f, after.as_ref(), limit, p).await,
                }
                .expect("page");
                assert!(page.rows.len() as i64 <= limit);
                got.extend(page.rows.iter().map(|r| r.id));
                // The cursor survives its text form, as in a link.
                match page.next {
                    Some(c) => after = Some(Cursor::decode(&c.encode()).expect("cursor")),
                    None => break,
                }
                assert!(got.len() <= want.len() + 1, "runaway paging for {f:?}");
            }
            assert_eq!(got, want, "{f:?} limit {limit} probe {probe:?}");
            let distinct: HashSet<i64> = got.iter().copied().collect();
            assert_eq!(distinct.len(), got.len(), "no duplicates");
        }
    }

    // The walks turn sorting off for their statements only: the connection goes back as it was.
    let (sorting,): (String,) = sqlx::query_as("SHOW enable_sort")
        .fetch_one(&mut *conn)
        .await
        .expect("show");
    assert_eq!(sorting, "on", "enable_sort left off on the connection");

    // Over HTTP: a list page links to the next one, and bad values are explained.
    let running = app.start_web().await.expect("web");
    let b = sign_in_without_mail(&app, running.addr, "ana").await;
    let mut path = "/tickets/all?sort=age&tag=vip".to_string();
    let mut seen = Vec::new();
    loop {
        let r = b.get(&path).await;
        assert_eq!(r.status(), 200);
        let page = r.text().await.expect("body");
        seen.extend(
            page.match_indices("<tr data-ticket=\"")
                .map(|(i, _)| page[i + 17..i + 31].to_string()),
        );
        match page.find("rel=\"next\" href=\"") {
            Some(i) => {
                let rest = &page[i + 17..];
                path = rest[..rest.find('"').expect("end")].replace("&amp;", "&");
            }
            None => break,
        }
    }
    assert_eq!(
        seen.len(),
        66,
        "400 / 6 tickets tagged vip, over two pages: {seen:?}"
    );
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), 66);
    let r = b.get("/tickets/all?status=nope").await;
    assert_eq!(r.status(), 400);
    assert!(r.text().await.expect("body").contains("nope"));
    assert_eq!(b.get("/tickets/all?after=garbage").await.status(), 400);
}

/// A session for `handle` made directly in the store (for tests that are not about sign-in).
async fn sign_in_without_mail(
    app: &claimdesk::app::App,
    addr: SocketAddr,
    handle: &str,
) -> Browser {
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
        &claimdesk::web::ui::session::random_token(),
        chrono::Utc::now() + chrono::Duration::hours(1),
    )
    .await
    .expect("session");
    let mut b = Browser::new(addr);
    b.cookie = Some(format!("claimdesk_session={id}"));
    b
}

/// An SVG with a script in it.
const SVG: &[u8] = b"<svg xmlns=\"http://www.w3.org/2000/svg\"><script>alert('svg')</script></svg>";
/// The 8-byte PNG signature and a few bytes: labelled `image/png`, served as such.
const PNG: &[u8] = b"\x89PNG\r\n\x1a\n-not-really";

fn hostile_mail() -> Vec<u8> {
    use base64::Engine;
    let page = b"<html><script>alert('x')</script><p>evil</p></html>";
    format!(
        "From: Eve <eve@customer.example>\r\nTo: {SUPPORT}\r\nSubject: <b>Invoice</b>\r\n\
Message-ID: <hostile@customer.example>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"ZZ\"\r\n\r\n\
--ZZ\r\nContent-Type: text/html; charset=utf-8\r\n\r\n\
<html><body><p>Please pay</p><script>alert('pwned')</script><img src=x onerror=\"steal()\"><iframe src=\"https://evil.example\"></iframe></body></html>\r\n\
--ZZ\r\nContent-Type: text/html; name=\"x.html\"\r\nContent-Disposition: attachment; filename=\"../../evil\\\" onload=x.html\"\r\n\
Content-Transfer-Encoding: base64\r\n\r\n{}\r\n\
--ZZ\r\nContent-Type: image/svg+xml; name=\"logo.svg\"\r\nContent-Disposition: attachment; filename=\"logo.svg\"\r\n\
Content-Transfer-Encoding: base64\r\n\r\n{}\r\n\
--ZZ\r\nContent-Type: image/png; name=\"dot.png\"\r\nContent-Disposition: attachment; filename=\"dot.png\"\r\n\
Content-Transfer-Encoding: base64\r\n\r\n{}\r\n--ZZ--\r\n",
        base64::engine::general_purpose::STANDARD.encode(page),
        base64::engine::general_purpose::STANDARD.encode(SVG),
        base64::engine::general_purpose::STANDARD.encode(PNG),
    )
    .into_bytes()
}

#[tokio::test]
async fn html_bodies_are_inert_and_attachments_download_as_attachments() {
    let env = db_only(SLACK).await;
    let app = env.app().await;
    let running = app.start_web().await.expect("web");
    let number = match app
        .desk
        .ingest(src(1), &hostile_mail())
        .await
        .expect("ingest")
    {
        claimdesk::desk::Ingested::Created(n) => n,
        other => panic!("{other:?}"),
    };
    let b = sign_in_without_mail(&app, running.addr, "ben").await;
    let r = b.get(&format!("/tickets/{number}")).await;
    assert_eq!(r.status(), 200);
    let csp = r
        .headers()
        .get("content-security-policy")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    assert!(csp.contains("default-src 'self'"), "{csp}");
    let page = r.text().await.expect("body");
    assert!(page.contains("Please pay"), "{page}");
    for raw in ["<script>alert", "onerror=", "<iframe", "<b>Invoice"] {
        assert!(!page.contains(raw), "{raw} in {page}");
    }
    assert!(page.contains("&lt;b&gt;Invoice"), "subject escaped");
    // The only scripts are ours.
    for (i, _) in page.match_indices("<script") {
        let tag = &page[i..i + 40];
        assert!(tag.contains("src=\"/assets/"), "{tag}");
    }

    // Every attachment link of the page, in order: the HTML, the SVG, the PNG.
    let links: Vec<String> = page
        .match_indices("/attachments/")
        .map(|(i, _)| {
            let rest = &page[i..];
            format!("/tickets/{number}{}", &rest[..rest.find('"').expect("end")])
        })
        .collect();
    assert_eq!(links.len(), 3, "{page}");
    let expected: [(&[u8], &str); 3] = [
        (
            b"<html><script>alert('x')</script><p>evil</p></html>",
            "application/octet-stream",
        ),
        (SVG, "application/octet-stream"),
        (PNG, "image/png"),
    ];
    for (link, (body, ct)) in links.iter().zip(expected) {
        let r = b.get(link).await;
        assert_eq!(r.status(), 200, "{link}");
        let h = r.headers().clone();
        let get = |k: &str| {
            h.get(k)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string()
        };
        assert_eq!(get("content-type"), ct, "{link}");
        let cd = get("content-disposition");
        assert!(cd.starts_with("attachment; filename=\""), "{cd}");
        assert!(!cd.contains("..") && !cd.contains('/'), "{cd}");
        assert_eq!(get("x-content-type-options"), "nosniff");
        assert_eq!(
            get("content-security-policy"),
            "sandbox; default-src 'none'",
            "{link}"
        );
        assert_eq!(r.bytes().await.expect("body").as_ref(), body, "{link}");
    }
    let link = links[0].clone();
    // Another, real ticket's path does not serve it (404 for that reason, not for a
    // missing ticket); nor does a signed-out visitor get it.
    let other = match app
        .desk
        .ingest(
            src(2),
            &customer_email("other@customer.example", "Other", "hello", None),
        )
        .await
        .expect("ingest")
    {
        claimdesk::desk::Ingested::Created(n) => n,
        other => panic!("{other:?}"),
    };
    assert_eq!(b.get(&format!("/tickets/{other}")).await.status(), 200);
    assert_eq!(
        b.get(&link.replace(&number, &other)).await.status(),
        404,
        "another ticket's attachment"
    );
    assert_eq!(Browser::new(running.addr).get(&link).await.status(), 303);
}

#[tokio::test]
async fn signin_attempts_are_rate_limited_per_address_and_per_client() {
    let env = db_only(SLACK).await;
    let app = env.app().await;
    let running = app.start_web().await.expect("web");
    let b = Browser::new(running.addr);
    // Per address, known or not, the same: 5 links per window; past that the answer is
    // the usual page (a 429 would tell the address is being tried), and no link.
    let mut answers = HashSet::new();
    for address in ["ana@claimdesk.test", "nobody@evil.example"] {
        for i in 0..6 {
            let r = b.post("/signin", &[("email", address)]).await;
            assert_eq!(r.status(), 200, "{address} #{i}");
            answers.insert(r.text().await.expect("body"));
        }
    }
    assert_eq!(answers.len(), 1, "one answer for all: {answers:?}");
    // The counters never hold the address.
    let plain: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM web_signin_attempts WHERE key LIKE '%claimdesk.test%' OR key LIKE '%evil.example%'",
    )
    .fetch_one(app.desk.pool())
    .await
    .expect("count");
    assert_eq!(plain, 0, "attempt keys are hashed");
    let links: i64 = sqlx::query_scalar("SELECT count(*) FROM web_signin_tokens")
        .fetch_one(app.desk.pool())
        .await
        .expect("count");
    assert_eq!(links, 5, "no link beyond the limit");
    // Per client: 20 requests in all (12 made above), whatever the addresses.
    let mut statuses = Vec::new();
    for i in 0..10 {
        let r = b
            .post(
                "/signin",
                &[("email", format!("x{i}@evil.example").as_str())],
            )
            .await;
        statuses.push(r.status().as_u16());
    }
    assert_eq!(statuses, [200, 200, 200, 200, 200, 200, 200, 200, 429, 429]);
    // Unusable links: 10 per client, then 429 for more junk; a good one still works.
    for i in 0..11 {
        let r = b
            .post(
                &format!(
                    "/signin/{}",
                    format!("{i:x}").repeat(64).get(..64).unwrap_or("")
                ),
                &[],
            )
            .await;
        assert_eq!(r.status(), if i < 10 { 400 } else { 429 }, "guess {i}");
    }
    let id = claimdesk::web::ui::session::random_token();
    let agent: i64 = sqlx::query_scalar("SELECT id FROM agents WHERE handle = 'ben'")
        .fetch_one(app.desk.pool())
        .await
        .expect("ben");
    let mut conn = app.desk.pool().acquire().await.expect("conn");
    claimdesk::store::signin_tokens::create(
        &mut conn,
        &claimdesk::web::ui::session::hash(&id),
        agent,
        "/",
        chrono::Utc::now() + chrono::Duration::minutes(15),
    )
    .await
    .expect("token");
    let r = b.post(&format!("/signin/{id}"), &[]).await;
    assert_eq!(r.status(), 303, "a valid link works past the failure limit");
    assert!(set_cookies(&r)
        .iter()
        .any(|c| c.starts_with("claimdesk_session=")));
    let r = b.post(&format!("/signin/{id}"), &[]).await;
    assert_eq!(r.status(), 429, "used up: a failure, still limited");
}

#[tokio::test]
async fn oversized_or_malformed_addresses_get_the_usual_answer_and_store_nothing() {
    let env = db_only(SLACK).await;
    let app = env.app().await;
    let running = app.start_web().await.expect("web");
    let b = Browser::new(running.addr);
    let usual = b.post("/signin", &[("email", "nobody@evil.example")]).await;
    assert_eq!(usual.status(), 200);
    let usual = usual.text().await.expect("body");
    let before: i64 = sqlx::query_scalar("SELECT count(*) FROM web_signin_attempts")
        .fetch_one(app.desk.pool())
        .await
        .expect("count");
    let long = format!("{}@claimdesk.test", "a".repeat(10_000));
    let just_over = format!("{}@claimdesk.test", "a".repeat(255 - 15));
    for address in [long.as_str(), just_over.as_str(), "no-at-sign", "", "   "] {
        let r = b.post("/signin", &[("email", address)]).await;
        assert_eq!(r.status(), 200, "{} bytes", address.len());
        assert_eq!(
            r.text().await.expect("body"),
            usual,
            "{} bytes",
            address.len()
        );
    }
    let after: i64 = sqlx::query_scalar("SELECT count(*) FROM web_signin_attempts")
        .fetch_one(app.desk.pool())
        .await
        .expect("count");
    assert_eq!(after, before, "nothing counted or stored");
    let links: i64 = sqlx::query_scalar("SELECT count(*) FROM web_signin_tokens")
        .fetch_one(app.desk.pool())
        .await
        .expect("count");
    assert_eq!(links, 0);
    // A body over 16 KiB is not read.
    let huge = "a".repeat(20 * 1024);
    let r = b.post("/signin", &[("email", huge.as_str())]).await;
    assert_eq!(r.status(), 413);
}

#[tokio::test]
async fn a_cursor_outside_postgres_time_range_is_a_400_not_a_database_error() {
    let env = db_only(SLACK).await;
    let app = env.app().await;
    let running = app.start_web().await.expect("web");
    let b = sign_in_without_mail(&app, running.addr, "ben").await;
    let micros = |y: i32, m: u32, d: u32| {
        chrono::NaiveDate::from_ymd_opt(y, m, d)
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .expect("date")
            .and_utc()
            .timestamp_micros()
    };
    // Postgres holds 4714-11-24 BC (year -4713) to 294276 AD; chrono to ±262143.
    let earliest = micros(-4713, 11, 24);
    for (key, want) in [
        (micros(-5000, 1, 1).to_string(), 400),
        ((earliest - 1).to_string(), 400),
        (i64::MIN.to_string(), 400),
        (i64::MAX.to_string(), 400),
        ("1000000000000000000000000".to_string(), 400),
        (earliest.to_string(), 200),
        (micros(262_000, 1, 1).to_string(), 200),
        (micros(2026, 1, 1).to_string(), 200),
    ] {
        for sort in ["due", "age", "last_customer"] {
            let r = b
                .get(&format!("/tickets/all?sort={sort}&after={key}.1"))
                .await;
            assert_eq!(r.status(), want, "sort={sort} after={key}.1");
        }
    }
}

/// The ticket page offers each viewer what the domain offers them (`domain::actions::
/// offered_to`, as the chat cards): a member sees neither Claim nor Unclaim on a ticket
/// someone else holds, and no Assign; its holder, an admin, sees Unclaim and Assign; nobody
/// is offered a reply on a closed ticket.
#[tokio::test]
async fn the_ticket_page_offers_each_viewer_what_the_domain_offers_them() {
    let env = env(SLACK).await;
    let app = env.app().await;
    let running = app.start().await.expect("start");
    let number = open_ticket(&app, 1, "r@customer.example", "Offered", "Which buttons?").await;
    let ana = actor(&app, "ana", claimdesk::desk::Surface::Cli).await;
    app.desk.claim(&ana, &number).await.expect("ana claims");

    let path = format!("/tickets/{number}");
    let form = |what: &str| format!("action=\"/tickets/{number}/{what}\"");
    let ben = sign_in_without_mail(&app, running.addr, "ben").await;
    let page = ben.get(&path).await.text().await.expect("body");
    assert!(page.contains(&form("note")), "{page}");
    for absent in ["claim", "unclaim", "assign"] {
        assert!(
            !page.contains(&form(absent)),
            "ben is offered {absent}: {page}"
        );
    }
    let admin = sign_in_without_mail(&app, running.addr, "ana").await;
    let page = admin.get(&path).await.text().await.expect("body");
    for present in ["unclaim", "assign", "reply", "note"] {
        assert!(page.contains(&form(present)), "ana lacks {present}: {page}");
    }
    assert!(!page.contains(&form("claim")), "{page}");

    app.desk
        .set_status(&ana, &number, claimdesk::domain::Status::Closed)
        .await
        .expect("closed");
    let page = admin.get(&path).await.text().await.expect("body");
    assert!(
        !page.contains(&form("reply")),
        "reply offered on a closed ticket: {page}"
    );
    assert!(page.contains(&form("note")), "{page}");
}
