//! Nothing a customer writes can address people or disguise a link in chat, and nothing
//! reaches a terminal raw. A ticket whose sender name, subject and body carry every mention
//! and link form of Slack and Discord (and terminal escape sequences) goes through the real
//! delivery path to the stand-ins (which validate each request against the platforms' specs):
//! Slack receives the text escaped as Slack documents; Discord receives escaped markdown and
//! `allowed_mentions` on every message created or edited, pinging only the agents we mean.

mod support;

use claimdesk::desk::{Ingested, Surface};
use support::harness::*;

/// Every mention and link form, Slack's and Discord's, plus code fences and terminal controls.
const INJECTED: &str = "<!channel> <!here> <!everyone> @everyone @here <@U000000BEN> \
     <!subteam^S0TEAM|@support> <#C0TESTDESK> <https://evil.example|https://bank.example> \
     [https://bank.example](https://evil.example) <@200000000000000002> <@&300000000000000009> \
     <#300000000000000001> </claim:1> ||spoiler|| ```";

/// The application ID the Discord test configures (deferred answers need it).
const APP_ID: &str = "400000000000000001";

/// The raw strings that must never arrive unescaped anywhere.
const RAW_FORMS: &[&str] = &[
    "<!channel>",
    "<!here>",
    "<!everyone>",
    "<@U000000BEN>",
    "<!subteam",
    "<#C0TESTDESK>",
    "<https://evil.example",
    "<@200000000000000002>",
    "<@&",
    "<#3",
    "</claim",
];

/// An email from a sender whose display name, subject and body carry [`INJECTED`]; the
/// subject also holds ESC and a bidi override (RFC 2047 encoded word), the body raw ESC.
fn evil_email(message_id: &str, in_reply_to: Option<&str>) -> Vec<u8> {
    let mut h = format!(
        "From: \"<!channel> @everyone [bank](https://evil.example)\" <dana@customer.example>\r\n\
         To: {SUPPORT}\r\nSubject: {INJECTED} =?utf-8?q?=1B=5B31mRED=E2=80=AE?=\r\n\
         Date: Sun, 22 Nov 2026 09:00:00 +0000\r\nMessage-ID: <{message_id}>\r\nMIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\n"
    );
    if let Some(p) = in_reply_to {
        h.push_str(&format!("In-Reply-To: <{p}>\r\nReferences: <{p}>\r\n"));
    }
    format!(
        "{h}\r\nHello {INJECTED}\r\n[click here](https://evil.example)\r\n```\r\n**we are admins now**\r\n```\r\n\
         \x1b]0;pwned\x07\x1b[2Jcleared\r\n"
    )
    .into_bytes()
}

/// Every string inside `v`, with the JSON path it sits at.
fn strings(v: &serde_json::Value, path: &str, out: &mut Vec<(String, String)>) {
    match v {
        serde_json::Value::String(s) => out.push((path.to_string(), s.clone())),
        serde_json::Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                strings(x, &format!("{path}[{i}]"), out);
            }
        }
        serde_json::Value::Object(o) => {
            for (k, x) in o {
                strings(x, &format!("{path}.{k}"), out);
            }
        }
        _ => {}
    }
}

/// Whether the byte at `i` of `s` follows an odd run of backslashes (is escaped).
fn escaped_at(s: &str, i: usize) -> bool {
    s[..i].chars().rev().take_while(|c| *c == '\\').count() % 2 == 1
}

/// Whether `s` has `pat` at a place not preceded by an escaping backslash.
fn unescaped(s: &str, pat: &str) -> bool {
    s.match_indices(pat).any(|(i, _)| !escaped_at(s, i))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slack_receives_customer_text_escaped_in_cards_threads_notices_and_answers() {
    let mut env = db_only(Platforms {
        slack: true,
        discord: false,
    })
    .await;
    // Two tickets from one sender make a loop notice (a channel post) too.
    env.settings.noise.loop_tickets = 1;
    let slack = env.slack.as_ref().expect("slack");
    let app = env.app().await;
    let web = app.start_web().await.expect("web");
    let r = app
        .desk
        .ingest(src(1), &evil_email("e1@customer.example", None))
        .await
        .expect("ingest");
    let Ingested::Created(number) = r else {
        panic!("{r:?}")
    };
    // A follow-up in the thread, a second ticket (loop notice), an automatic note.
    let r = app
        .desk
        .ingest(
            src(2),
            &evil_email("e2@customer.example", Some("e1@customer.example")),
        )
        .await
        .expect("follow-up");
    assert!(matches!(r, Ingested::Joined(_)), "{r:?}");
    let r = app
        .desk
        .ingest(src(3), &evil_email("e3@customer.example", None))
        .await
        .expect("second ticket");
    assert!(matches!(r, Ingested::Created(_)), "{r:?}");
    let ben = actor(&app, "ben", Surface::Slack).await;
    app.desk
        .note(
            &ben,
            &number,
            &format!("note quoting the customer: {INJECTED}"),
        )
        .await
        .expect("note");
    app.deliverer.drain().await.expect("deliver");

    // An agent's answers quote subjects and requesters too.
    let (code, answer) = slack_post(
        web.addr,
        "/slack/commands",
        &slash_command("/desk", "list", BEN_SLACK),
        SLACK_SECRET,
        0,
    )
    .await;
    assert_eq!(code, 200);
    app.deliverer.drain().await.expect("deliver");

    let mut texts = Vec::new();
    for r in slack.requests() {
        strings(&r.body, &format!("{} {}", r.method, r.path), &mut texts);
    }
    if let Ok(v) = serde_json::from_str::<serde_json::Value>(&answer) {
        strings(&v, "slash command answer", &mut texts);
    }
    let all: String = texts.iter().map(|(_, s)| s.as_str()).collect();
    assert!(
        all.contains("&lt;!channel&gt; &lt;!here&gt; &lt;!everyone&gt;"),
        "the subject arrived, escaped: {texts:?}"
    );
    assert!(
        all.contains("&lt;https://evil.example|https://bank.example&gt;"),
        "{texts:?}"
    );
    assert!(
        all.contains("Suspected mail loop"),
        "loop notice: {texts:?}"
    );
    assert!(
        all.contains("Customer dana@customer.example wrote"),
        "{texts:?}"
    );
    assert!(all.contains("note quoting the customer"), "{texts:?}");
    for (at, s) in &texts {
        for form in RAW_FORMS {
            assert!(!s.contains(form), "{form} unescaped at {at}: {s}");
        }
        // Nobody holds a ticket here, so no mention of ours is in any text either.
        assert!(!s.contains("<@") && !s.contains("<!"), "at {at}: {s}");
    }
    assert_eq!(slack.violations(), Vec::<String>::new());
}

/// The mentions of a message write's `allowed_mentions`: `(parse, users, roles)`.
fn allowed(r: &support::standin::Recorded) -> Option<(Vec<String>, Vec<String>, Vec<String>)> {
    let body = if r.path.contains("/interactions/") {
        &r.body["data"]
    } else {
        &r.body
    };
    let am = body.get("allowed_mentions")?;
    let list = |k: &str| -> Vec<String> {
        am[k]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|x| x.as_str().map(str::to_string).unwrap_or(x.to_string()))
                    .collect()
            })
            .unwrap_or_default()
    };
    Some((list("parse"), list("users"), list("roles")))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discord_gets_escaped_markdown_and_allowed_mentions_on_every_message_it_is_sent() {
    let mut env = db_only(Platforms {
        slack: false,
        discord: true,
    })
    .await;
    env.settings.noise.loop_tickets = 1;
    if let Some(d) = env.settings.discord.as_mut() {
        d.application_id = Some(APP_ID.into());
        d.register_commands = false;
    }
    let discord = env.discord.as_ref().expect("discord");
    let app = env.app().await;
    let web = app.start_web().await.expect("web");
    let signer = &env.discord_signer;
    let r = app
        .desk
        .ingest(src(1), &evil_email("e1@customer.example", None))
        .await
        .expect("ingest");
    let Ingested::Created(number) = r else {
        panic!("{r:?}")
    };
    app.deliverer.drain().await.expect("deliver card");

    // Ana claims by button (a card edit naming her), the customer writes again (a thread is
    // started), Ben notes, a second ticket triggers the channel's loop notice.
    let (_, claimed) = discord_post(
        web.addr,
        signer,
        &discord_button(ANA_DISCORD, &format!("claim:{number}")),
        false,
    )
    .await;
    assert!(claimed.to_string().contains("You claimed"), "{claimed}");
    app.desk
        .ingest(
            src(2),
            &evil_email("e2@customer.example", Some("e1@customer.example")),
        )
        .await
        .expect("follow-up");
    let ben = actor(&app, "ben", Surface::Discord).await;
    app.desk
        .note(&ben, &number, &format!("customer said: {INJECTED}"))
        .await
        .expect("note");
    app.desk
        .ingest(src(3), &evil_email("e3@customer.example", None))
        .await
        .expect("second ticket");
    app.deliverer.drain().await.expect("deliver");

    // A deferred command (its answer is a webhook edit) and an immediate one.
    let mut unassigned = discord_command(BEN_DISCORD, "unassigned", &[]);
    unassigned["application_id"] = APP_ID.into();
    let (_, deferred) = discord_post(web.addr, signer, &unassigned, false).await;
    assert_eq!(deferred["type"], 5, "{deferred}");
    let immediate = discord_command(BEN_DISCORD, "reply", &[("ticket", &number), ("text", "x")]);
    let (_, refused) = discord_post(web.addr, signer, &immediate, false).await;
    assert!(
        refused.to_string().contains("held by @ana"),
        "members act on their own tickets: {refused}"
    );
    eventually(10, "the deferred answer is edited in", || async {
        discord
            .message_writes()
            .iter()
            .any(|r| r.path.ends_with("/messages/@original"))
            .then_some(())
    })
    .await;

    let writes = discord.message_writes();
    assert!(
        writes.len() >= 6,
        "card, card edit, thread messages, note, loop notice, deferred answer: {writes:#?}"
    );
    // Every message we create or edit says whom it may ping: nobody parsed from text, and
    // only agents' IDs by name.
    let agents = [ANA_DISCORD, BEN_DISCORD, CY_DISCORD];
    for r in &writes {
        let Some((parse, users, roles)) = allowed(r) else {
            panic!("no allowed_mentions on {} {}: {}", r.method, r.path, r.body)
        };
        assert!(parse.is_empty() && roles.is_empty(), "{}", r.body);
        assert!(
            users.iter().all(|u| agents.contains(&u.as_str())),
            "{}",
            r.body
        );
    }
    // Interaction responses we answered in the HTTP response itself, likewise.
    for answer in [&claimed, &deferred, &refused] {
        assert_eq!(
            answer["data"]["allowed_mentions"]["parse"],
            serde_json::json!([]),
            "{answer}"
        );
    }

    // No mention, masked link or code fence forms from customer text. Embed footers render
    // neither markdown nor mentions, so the requester stays readable there.
    let mut texts = Vec::new();
    for r in &writes {
        strings(&r.body, &format!("{} {}", r.method, r.path), &mut texts);
    }
    for a in [&claimed, &deferred, &refused] {
        strings(a, "interaction response", &mut texts);
    }
    texts.retain(|(at, _)| !at.contains(".footer.") && !at.ends_with(".custom_id"));
    let all: String = texts.iter().map(|(_, s)| s.as_str()).collect();
    assert!(
        all.contains("\\<!channel\\>") && all.contains("\\[https://bank.example\\]"),
        "the subject arrived, escaped: {texts:?}"
    );
    assert!(all.contains("customer said"), "{texts:?}");
    assert!(all.contains("Suspected mail loop"), "{texts:?}");
    for (at, s) in &texts {
        for form in RAW_FORMS {
            assert!(!unescaped(s, form), "{form} unescaped at {at}: {s}");
        }
        for pat in ["[", "](", "```", "||"] {
            assert!(!unescaped(s, pat), "{pat} unescaped at {at}: {s}");
        }
        let lower = s.to_lowercase();
        assert!(
            !lower.contains("@everyone") && !lower.contains("@here"),
            "at {at}: {s}"
        );
        // The only mentions are of agents we named (the holder on the card).
        for (i, _) in s.match_indices("<@") {
            if !escaped_at(s, i) {
                let id: String = s[i + 2..]
                    .chars()
                    .take_while(char::is_ascii_digit)
                    .collect();
                assert!(
                    agents.contains(&id.as_str()),
                    "mention of {id} at {at}: {s}"
                );
            }
        }
    }
    assert_eq!(discord.violations(), Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn terminal_output_carries_no_control_characters_or_bidi_overrides() {
    let env = env(Platforms {
        slack: false,
        discord: false,
    })
    .await;
    let app = env.app().await;
    let r = app
        .desk
        .ingest(src(1), &evil_email("e1@customer.example", None))
        .await
        .expect("ingest");
    let Ingested::Created(number) = r else {
        panic!("{r:?}")
    };
    let (subject,): (String,) = sqlx::query_as("SELECT subject FROM tickets")
        .fetch_one(app.desk.pool())
        .await
        .expect("subject");
    assert!(
        subject.contains('\u{1b}') && subject.contains('\u{202E}'),
        "the test's subject really holds controls: {subject:?}"
    );
    let bad = |s: &str| {
        s.chars().find(|c| {
            (c.is_control() && *c != '\n' && *c != '\t')
                || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
        })
    };

    // Console and CLI answers (the console prints these).
    let ana = actor(&app, "ana", Surface::Console).await;
    for cmd in ["list", &format!("ticket {number}"), "unassigned"] {
        let (name, args) = cmd.split_once(' ').unwrap_or((cmd, ""));
        let c = claimdesk::chat::commands::parse(name, args).expect("parses");
        let out = claimdesk::chat::commands::execute(&app.desk, &ana, c).await;
        assert!(out.contains("RED"), "{cmd}: {out:?}");
        assert_eq!(bad(&out), None, "{cmd}: {out:?}");
    }

    // The CLI: ticket list, ticket show, ticket history.
    let dir = tempfile::tempdir().expect("tempdir");
    let config = env.write_config(dir.path());
    for args in [
        vec!["ticket", "list"],
        vec!["ticket", "show", number.as_str()],
        vec!["ticket", "history", number.as_str()],
    ] {
        let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_claimdesk"))
            .arg("--config")
            .arg(&config)
            .args(&args)
            .env("TEST_IMAP_PASSWORD", &env.dovecot.password)
            .env("RUST_LOG", "off")
            .output()
            .await
            .expect("run claimdesk");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{args:?}: {stdout}");
        assert_eq!(bad(&stdout), None, "{args:?}: {stdout:?}");
        if args[1] != "history" {
            assert!(stdout.contains("RED"), "{args:?}: {stdout}");
        }
        if args[1] == "show" {
            assert!(stdout.contains("cleared"), "the body is shown: {stdout}");
        }
    }
}

/// The pings we mean still work: a ticket nobody can take pings the department's admins in
/// the channel, and Discord's `allowed_mentions` names exactly them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_ping_for_a_waiting_ticket_is_the_only_mention_allowed() {
    let mut env = db_only(Platforms {
        slack: false,
        discord: true,
    })
    .await;
    env.settings.departments = vec![claimdesk::config::DepartmentSettings {
        name: "support".into(),
        assignment: claimdesk::domain::assignment::Mode::Auto,
        slack_channel: None,
        discord_channel: None,
    }];
    let mut ana = env.settings.agents[0].clone();
    ana.capacity = Some(0); // nobody can take the ticket
    env.settings.agents = vec![ana];
    let discord = env.discord.as_ref().expect("discord");
    let app = env.app().await;
    app.desk
        .ingest(src(1), &evil_email("e1@customer.example", None))
        .await
        .expect("ingest");
    app.deliverer.drain().await.expect("deliver");
    let notices: Vec<_> = discord
        .message_writes()
        .into_iter()
        .filter(|r| {
            r.body["content"]
                .as_str()
                .is_some_and(|c| c.contains("waiting for assignment"))
        })
        .collect();
    assert_eq!(notices.len(), 1, "{:#?}", discord.message_writes());
    let n = &notices[0];
    assert!(
        n.body["content"]
            .as_str()
            .unwrap_or("")
            .contains(&format!("<@{ANA_DISCORD}>")),
        "{}",
        n.body
    );
    assert_eq!(
        allowed(n),
        Some((vec![], vec![ANA_DISCORD.to_string()], vec![])),
        "{}",
        n.body
    );
    assert_eq!(discord.violations(), Vec::<String>::new());
}
