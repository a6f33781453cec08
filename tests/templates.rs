//! Canned replies (issue 15): templates from the config file and from chat, managed by
//! admins (`template add|edit|remove|list`, audited); an unknown or malformed placeholder
//! refused when the template is saved (config load and chat), never at send time; and a
//! template filled for a ticket, shown with its recipient to edit, then sent through the
//! normal reply — exactly once — from the console, Slack (slash command, and the picker in
//! the reply modal: `block_actions` → `views.update`) and Discord (`/reply … /<template>`,
//! and the picker the Reply button offers). Every Slack and Discord request is checked by
//! the stand-ins against the official specs.

mod support;

use std::time::Duration;

use claimdesk::app::App;
use claimdesk::chat::commands::{self, Command};
use claimdesk::chat::console::Session;
use claimdesk::config::TemplateSettings;
use claimdesk::desk::Surface;
use serde_json::{json, Value};
use support::harness::*;
use support::standin::validate_interaction_response;

/// The config template every flow uses. ASCII and short lines, so the sent email carries it
/// as typed (no quoted-printable).
const REFUND: &str =
    "Hi {customer_name},\n\nyour refund for {ticket} ({subject}) is on its way.\n\n{agent_name}";

/// `REFUND` filled for Dana's ticket `number` by Ana (agent name `ANA` in the harness).
fn refund_for(number: &str, subject: &str) -> String {
    format!("Hi Dana Customer,\n\nyour refund for {number} ({subject}) is on its way.\n\nANA")
}

fn with_refund(env: &mut TestEnv) {
    env.settings.templates = vec![TemplateSettings {
        name: "refund".into(),
        body: REFUND.into(),
    }];
    env.settings.validate().expect("valid settings");
}

async fn run(app: &App, handle: &str, line: &str) -> String {
    let who = actor(app, handle, Surface::Console).await;
    let (name, args) = line.split_once(' ').unwrap_or((line, ""));
    match commands::parse(name, args) {
        Ok(cmd) => commands::execute(&app.desk, &who, cmd).await,
        Err(u) => u.0,
    }
}

async fn audit_rows(app: &App, action: &str) -> Vec<(String, Option<Value>, Option<Value>)> {
    sqlx::query_as(
        "SELECT actor, before, after FROM audit_events WHERE action = $1 AND ticket_id IS NULL ORDER BY id",
    )
    .bind(action)
    .fetch_all(app.desk.pool())
    .await
    .expect("audit rows")
}

/// The bodies of the emails the SMTP sink received so far (raw messages, CRLF made LF).
fn sent_texts(env: &TestEnv) -> Vec<String> {
    env.smtp
        .received()
        .iter()
        .map(|m| String::from_utf8_lossy(&m.raw).replace("\r\n", "\n"))
        .collect()
}

/// Delivers the outbox, then waits until the sink holds `n` emails (and a moment more, so a
/// duplicate would show).
async fn delivered(app: &App, env: &TestEnv, n: usize) -> Vec<String> {
    app.deliverer.drain().await.expect("deliver");
    env.smtp
        .wait_for(n, Duration::from_secs(10))
        .await
        .expect("email sent");
    tokio::time::sleep(Duration::from_millis(300)).await;
    app.deliverer.drain().await.expect("deliver again");
    sent_texts(env)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admins_manage_templates_from_chat_members_list_them_every_change_audited() {
    let mut env = db_only(Platforms {
        slack: false,
        discord: false,
    })
    .await;
    with_refund(&mut env);
    let app = env.app().await;
    let stored = "SELECT count(*) FROM reply_templates";

    // A member may not add one; nothing is stored.
    let a = run(
        &app,
        "ben",
        "template add shipping Hi {customer_name}, it shipped.",
    )
    .await;
    assert!(a.contains("Only an admin"), "{a}");
    assert_eq!(count(&app, stored).await, 0);

    // An admin adds one; the change is audited with the body.
    let a = run(
        &app,
        "ana",
        "template add shipping Hi {customer_name}, {ticket} shipped today.",
    )
    .await;
    assert!(a.contains("Template `shipping` added"), "{a}");
    assert_eq!(count(&app, stored).await, 1);
    let rows = audit_rows(&app, "template.added").await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].0, "ana");
    assert_eq!(
        rows[0].2.as_ref().and_then(|a| a["body"].as_str()),
        Some("Hi {customer_name}, {ticket} shipped today.")
    );

    // Adding it twice, or over a config template, is refused.
    let a = run(&app, "ana", "template add shipping again").await;
    assert!(a.contains("already a template `shipping`"), "{a}");
    let a = run(&app, "ana", "template add refund mine").await;
    assert!(a.contains("comes from the config file"), "{a}");
    let a = run(&app, "ana", "template edit refund mine").await;
    assert!(a.contains("comes from the config file"), "{a}");
    let a = run(&app, "ana", "template remove refund").await;
    assert!(a.contains("comes from the config file"), "{a}");

    // Members list both, with where each comes from; the config one first by name.
    let a = run(&app, "ben", "template list").await;
    assert!(a.contains("/refund (config file)"), "{a}");
    assert!(a.contains("/shipping (by @ana)"), "{a}");

    // A member may not edit or remove.
    for line in ["template edit shipping x", "template remove shipping"] {
        let a = run(&app, "cy", line).await;
        assert!(a.contains("Only an admin"), "{line}: {a}");
    }

    // Edit: audited with before and after.
    let a = run(
        &app,
        "ana",
        "template edit /shipping It shipped, {customer_name}.",
    )
    .await;
    assert!(a.contains("Template `shipping` updated"), "{a}");
    let rows = audit_rows(&app, "template.edited").await;
    assert_eq!(rows.len(), 1);
    assert_eq!(
        rows[0].1.as_ref().and_then(|b| b["body"].as_str()),
        Some("Hi {customer_name}, {ticket} shipped today.")
    );
    assert_eq!(
        rows[0].2.as_ref().and_then(|a| a["body"].as_str()),
        Some("It shipped, {customer_name}.")
    );

    // Names are lower-case words.
    for bad in [
        "template add Shipping x",
        "template add 2fast x",
        "template add a.b x",
    ] {
        let a = run(&app, "ana", bad).await;
        assert!(a.contains("is not a template name"), "{bad}: {a}");
    }
    let a = run(&app, "ana", "template edit nothing x").await;
    assert!(a.contains("no template `nothing`"), "{a}");

    // Remove: audited; the list no longer shows it.
    let a = run(&app, "ana", "template remove shipping").await;
    assert!(a.contains("Template `shipping` removed"), "{a}");
    assert_eq!(count(&app, stored).await, 0);
    let rows = audit_rows(&app, "template.removed").await;
    assert_eq!(rows.len(), 1);
    assert!(rows[0].2.is_none());
    let a = run(&app, "ben", "template list").await;
    assert!(!a.contains("shipping"), "{a}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_or_malformed_placeholder_is_refused_when_saved_from_chat() {
    let env = db_only(Platforms {
        slack: false,
        discord: false,
    })
    .await;
    let app = env.app().await;
    let cases = [
        ("Hi {first_name}, thanks", "`{first_name}`"),
        ("Hi {customer}, thanks", "`{customer}`"),
        ("Hi {Ticket}", "`{Ticket}`"),
        ("Hi {customer_name, thanks", "is never closed"),
        ("Hi customer_name}, thanks", "closes nothing"),
    ];
    for (body, named) in cases {
        for verb in ["add", "edit"] {
            if verb == "edit" {
                let ok = run(&app, "ana", "template add probe Hello {ticket}").await;
                assert!(ok.contains("added"), "{ok}");
            }
            let a = run(&app, "ana", &format!("template {verb} probe {body}")).await;
            assert!(
                a.contains("not saved") && a.contains(named),
                "{verb} {body}: {a}"
            );
            if verb == "edit" {
                // The stored body is unchanged, and still fills.
                let (b,): (String,) =
                    sqlx::query_as("SELECT body FROM reply_templates WHERE name = 'probe'")
                        .fetch_one(app.desk.pool())
                        .await
                        .expect("stored");
                assert_eq!(b, "Hello {ticket}");
                run(&app, "ana", "template remove probe").await;
            } else {
                assert_eq!(count(&app, "SELECT count(*) FROM reply_templates").await, 0);
            }
        }
    }
    // The refusal names every placeholder there is.
    let a = run(&app, "ana", "template add probe {x}").await;
    for p in ["{customer_name}", "{ticket}", "{agent_name}", "{subject}"] {
        assert!(a.contains(p), "{a}");
    }
    assert!(audit_rows(&app, "template.added").await.len() == cases.len());
}

#[test]
fn an_unknown_placeholder_in_the_config_file_stops_the_load_naming_it() {
    let base = std::fs::read_to_string(repo_path("config/default.toml")).expect("default.toml");
    let dir = tempfile::tempdir().expect("tempdir");
    let good = dir.path().join("good.toml");
    std::fs::write(
        &good,
        format!("{base}\n[[templates]]\nname = \"refund\"\nbody = \"Hi {{customer_name}}, {{{{literal}}}}\"\n"),
    )
    .expect("write");
    let s = claimdesk::config::Settings::load(&good).expect("a good template loads");
    assert_eq!(s.templates.len(), 1);

    for (name, body, named) in [
        ("refund", "Hi {first_name}", "{first_name}"),
        ("refund", "Hi {customer_name", "never closed"),
        ("Refund", "Hi", "`Refund` is not a template name"),
    ] {
        let bad = dir.path().join("bad.toml");
        std::fs::write(
            &bad,
            format!("{base}\n[[templates]]\nname = \"{name}\"\nbody = \"{body}\"\n"),
        )
        .expect("write");
        let e = claimdesk::config::Settings::load(&bad).expect_err("refused at load");
        let m = format!("{e:#}");
        assert!(m.contains(named) && m.contains("templates"), "{m}");

        // `claimdesk config check` (what an operator runs) says the same and fails.
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_claimdesk"))
            .arg("config")
            .arg("check")
            .arg("--config")
            .arg(&bad)
            .output()
            .expect("run config check");
        assert!(!out.status.success());
        let said = String::from_utf8_lossy(&out.stderr);
        assert!(said.contains(named), "{said}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_shows_the_filled_draft_and_recipient_then_sends_it_once() {
    let mut env = env(Platforms {
        slack: false,
        discord: false,
    })
    .await;
    with_refund(&mut env);
    let app = env.app().await;
    let subject = "Refund for order 1234";
    let number = open_ticket(
        &app,
        1,
        "r1@customer.example",
        subject,
        "Where is my money?",
    )
    .await;
    let ana = actor(&app, "ana", Surface::Console).await;
    let mut console = Session::new(app.desk.clone(), ana);

    // An unknown template: a clear error listing the templates; nothing sent.
    let a = console.line(&format!("reply {number} /nope")).await;
    assert!(
        a.contains("no template `nope`") && a.contains("/refund") && a.contains("nothing was sent"),
        "{a}"
    );
    assert!(console.draft().is_none());

    // The console's picker: who it goes to and the templates.
    let a = console.line(&format!("reply {number}")).await;
    assert!(a.contains("dana@customer.example"), "{a}");
    assert!(a.contains(&format!("reply {number} /refund")), "{a}");

    // The draft: recipient, subject, filled text — not sent.
    let a = console.line(&format!("reply {number} /refund")).await;
    assert!(a.contains("To: dana@customer.example"), "{a}");
    assert!(
        a.contains(&format!("Subject: Re: {subject} [{number}]")),
        "{a}"
    );
    assert!(a.contains("Hi Dana Customer,"), "{a}");
    assert!(
        a.contains(&format!("your refund for {number} ({subject})")),
        "{a}"
    );
    assert!(a.contains("`send`"), "{a}");
    assert_eq!(
        console.draft().map(|d| d.text.clone()),
        Some(refund_for(&number, subject))
    );
    app.deliverer.drain().await.expect("deliver");
    assert!(env.smtp.received().is_empty(), "a draft is not sent");

    // Other commands run meanwhile; the draft waits.
    let a = console.line("list").await;
    assert!(a.contains(&number), "{a}");
    assert!(console.draft().is_some());

    // Sent once, through the normal reply: auto-claim, in progress.
    let a = console.line("send").await;
    assert!(a.contains("queued for dana@customer.example"), "{a}");
    assert!(a.contains("You now hold the ticket"), "{a}");
    let a = console.line("send").await;
    assert!(a.contains("No reply is waiting"), "{a}");
    let sent = delivered(&app, &env, 1).await;
    assert_eq!(sent.len(), 1, "exactly once");
    assert!(
        sent[0].contains(&refund_for(&number, subject)),
        "{}",
        sent[0]
    );
    let t = app.desk.show(&number).await.expect("show");
    assert_eq!(t.summary.status, "in_progress");
    assert_eq!(t.summary.assignee.as_deref(), Some("ana"));

    // Edit replaces the text before sending; cancel drops it.
    let a = console.line(&format!("reply {number} /refund")).await;
    assert!(a.contains("Hi Dana Customer,"), "{a}");
    let a = console
        .line("edit Hi Dana, the refund left today. Ana")
        .await;
    assert!(a.contains("the refund left today"), "{a}");
    assert!(a.contains("To: dana@customer.example"), "{a}");
    let a = console.line("cancel").await;
    assert!(a.contains("nothing was sent"), "{a}");
    let a = console.line(&format!("reply {number} /refund")).await;
    assert!(a.contains("Hi Dana Customer,"), "{a}");
    console
        .line("edit Hi Dana, the refund left today. Ana")
        .await;
    let a = console.line("send").await;
    assert!(a.contains("queued"), "{a}");
    let sent = delivered(&app, &env, 2).await;
    assert_eq!(sent.len(), 2);
    assert!(
        sent[1].contains("Hi Dana, the refund left today. Ana"),
        "{}",
        sent[1]
    );

    // A member cannot draft on a ticket another agent holds: told who holds it.
    let ben = actor(&app, "ben", Surface::Console).await;
    let mut bens = Session::new(app.desk.clone(), ben);
    let a = bens.line(&format!("reply {number} /refund")).await;
    assert!(a.contains("held by @ana"), "{a}");
    assert!(bens.draft().is_none());
}

/// Where no form can open (the CLI surface, a Slack command without a trigger), a template
/// request answers with the draft and how to send it; it never sends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_template_request_without_a_form_shows_the_draft_and_sends_nothing() {
    let mut env = db_only(Platforms {
        slack: false,
        discord: false,
    })
    .await;
    with_refund(&mut env);
    let app = env.app().await;
    let number = open_ticket(&app, 1, "r2@customer.example", "Refund", "Hello").await;
    let ana = actor(&app, "ana", Surface::Cli).await;
    let cmd = commands::parse("reply", &format!("{number} /refund")).expect("parses");
    assert_eq!(cmd, Command::ReplyTemplate(number.clone(), "refund".into()));
    let a = commands::execute(&app.desk, &ana, cmd).await;
    assert!(
        a.contains("Not sent yet") && a.contains("> Hi Dana Customer,"),
        "{a}"
    );
    assert_eq!(
        count(&app, "SELECT count(*) FROM outbox WHERE kind = 'email'").await,
        0
    );
    // Text that merely starts with a slash is a reply like any other.
    assert_eq!(
        commands::parse("reply", &format!("{number} /refund is on its way")).expect("parses"),
        Command::Reply(number.clone(), "/refund is on its way".into())
    );
}

/// Slack's `block_actions` when `user` picks `template` in the picker of `view` (the view as
/// the stand-in answered it, with its id and hash): Bolt's real body moved into a view.
fn pick_in_view(user: &str, view: &Value, template: &str) -> Value {
    let mut v = bolt_body("test_block_actions__body.json");
    v["user"]["id"] = user.into();
    if let Some(o) = v.as_object_mut() {
        o.remove("channel");
        o.remove("response_url");
    }
    v["container"] = json!({"type": "view", "view_id": view["id"]});
    v["view"] = view.clone();
    v["actions"] = json!([{
        "type": "static_select", "action_id": "template", "block_id": "template",
        "selected_option": {"text": {"type": "plain_text", "text": format!("/{template}"), "emoji": true}, "value": template},
        "placeholder": {"type": "plain_text", "text": "Pick a template", "emoji": true},
        "action_ts": "1700000000.000001"
    }]);
    v
}

/// The reply text input of `view`: its block id and its `initial_value`.
fn text_input(view: &Value) -> (String, Option<String>) {
    let b = view["blocks"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|b| b["type"] == "input" && b["element"]["action_id"] == "text")
        .expect("a text input");
    (
        b["block_id"].as_str().unwrap_or("").to_string(),
        b["element"]["initial_value"].as_str().map(str::to_string),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slack_opens_the_reply_modal_prefilled_and_the_picker_fills_it_then_sends_once() {
    let mut env = env(Platforms {
        slack: true,
        discord: false,
    })
    .await;
    with_refund(&mut env);
    let slack = env.slack.as_ref().expect("slack");
    let app = env.app().await;
    let web = app.start_web().await.expect("web");
    let subject = "Refund for order 1234";
    let t1 = open_ticket(&app, 1, "s1@customer.example", subject, "Where is it?").await;
    let t2 = open_ticket(&app, 2, "s2@customer.example", subject, "And this one?").await;
    app.deliverer.drain().await.expect("cards");

    // `/desk reply T /nope`: a clear error listing the templates; no modal, nothing sent.
    let mut form = slash_command("/desk", &format!("reply {t1} /nope"), ANA_SLACK);
    form = form.replace(
        "trigger_id=1.2.3",
        &format!("trigger_id={}", slack.trigger_id()),
    );
    let (code, body) = slack_post(web.addr, "/slack/commands", &form, SLACK_SECRET, 0).await;
    assert_eq!(code, 200);
    assert!(
        body.contains("no template `nope`") && body.contains("/refund"),
        "{body}"
    );
    assert!(slack.calls_to("views.open").is_empty());

    // `/desk reply T /refund`: the reply modal opens filled, naming the recipient.
    let mut form = slash_command("/desk", &format!("reply {t1} /refund"), ANA_SLACK);
    form = form.replace(
        "trigger_id=1.2.3",
        &format!("trigger_id={}", slack.trigger_id()),
    );
    let (code, body) = slack_post(web.addr, "/slack/commands", &form, SLACK_SECRET, 0).await;
    assert_eq!((code, body.as_str()), (200, ""), "a modal opens");
    eventually(5, "views.open", || async {
        slack.answered_views().first().cloned()
    })
    .await;
    let view = slack.answered_views()[0].clone();
    let shown = view["blocks"].to_string();
    assert!(shown.contains("To:* dana@customer.example"), "{shown}");
    let (block, prefilled) = text_input(&view);
    assert_eq!(prefilled, Some(refund_for(&t1, subject)));
    assert_eq!(block, "body.refund");
    // The picker is there, showing the template chosen, and dispatches on change.
    let picker = view["blocks"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|b| b["block_id"] == "template")
        .expect("picker block");
    assert_eq!(picker["dispatch_action"], true);
    assert_eq!(picker["element"]["type"], "static_select");
    assert_eq!(picker["element"]["initial_option"]["value"], "refund");
    app.deliverer.drain().await.expect("deliver");
    assert!(env.smtp.received().is_empty(), "nothing sent before submit");

    // She submits it as shown: sent once, through the normal reply.
    let (code, body) = slack_post(
        web.addr,
        "/slack/interactions",
        &interaction_form(&view_submission_payload(
            ANA_SLACK,
            &view,
            &block,
            "text",
            &prefilled.clone().unwrap_or_default(),
        )),
        SLACK_SECRET,
        0,
    )
    .await;
    assert_eq!((code, body.as_str()), (200, ""), "{body}");
    let sent = delivered(&app, &env, 1).await;
    assert_eq!(sent.len(), 1);
    assert!(sent[0].contains(&refund_for(&t1, subject)), "{}", sent[0]);
    assert_eq!(
        app.desk
            .show(&t1)
            .await
            .expect("show")
            .summary
            .assignee
            .as_deref(),
        Some("ana")
    );

    // The Reply button on the other ticket: a blank modal with the picker.
    let (code, _) = slack_post(
        web.addr,
        "/slack/interactions",
        &interaction_form(&block_action_payload(
            ANA_SLACK,
            "reply",
            &t2,
            &slack.trigger_id(),
        )),
        SLACK_SECRET,
        0,
    )
    .await;
    assert_eq!(code, 200);
    eventually(5, "second views.open", || async {
        slack.answered_views().get(1).cloned()
    })
    .await;
    let blank = slack.answered_views()[1].clone();
    assert_eq!(text_input(&blank), ("body".into(), None));
    assert!(blank["blocks"].to_string().contains("\"value\":\"refund\""));

    // Picking the template replaces the view (views.update, with its hash) filled for t2.
    let (code, body) = slack_post(
        web.addr,
        "/slack/interactions",
        &interaction_form(&pick_in_view(ANA_SLACK, &blank, "refund")),
        SLACK_SECRET,
        0,
    )
    .await;
    assert_eq!((code, body.as_str()), (200, ""));
    eventually(5, "views.update", || async {
        slack.calls_to("views.update").first().cloned()
    })
    .await;
    let update = slack.calls_to("views.update")[0].body.clone();
    assert_eq!(update["view_id"], blank["id"]);
    assert_eq!(update["hash"], blank["hash"]);
    let filled = slack.answered_views()[2].clone();
    let (block2, prefilled2) = text_input(&filled);
    assert_eq!(prefilled2, Some(refund_for(&t2, subject)));
    assert_eq!(block2, "body.refund");
    assert!(filled["blocks"]
        .to_string()
        .contains("To:* dana@customer.example"));

    // She edits before sending; what she submits is what is sent, once.
    let edited = format!(
        "{}\nP.S. Sorry for the wait.",
        prefilled2.unwrap_or_default()
    );
    let (code, body) = slack_post(
        web.addr,
        "/slack/interactions",
        &interaction_form(&view_submission_payload(
            ANA_SLACK, &filled, &block2, "text", &edited,
        )),
        SLACK_SECRET,
        0,
    )
    .await;
    assert_eq!((code, body.as_str()), (200, ""), "{body}");
    let sent = delivered(&app, &env, 2).await;
    assert_eq!(sent.len(), 2);
    assert!(sent[1].contains("P.S. Sorry for the wait."), "{}", sent[1]);
    assert!(sent[1].contains(&refund_for(&t2, subject)), "{}", sent[1]);

    // A refusal on the modal's field names the filled block: an empty submit.
    let (code, body) = slack_post(
        web.addr,
        "/slack/interactions",
        &interaction_form(&view_submission_payload(
            ANA_SLACK, &filled, &block2, "text", "  ",
        )),
        SLACK_SECRET,
        0,
    )
    .await;
    assert_eq!(code, 200);
    let v: Value = serde_json::from_str(&body).expect("errors");
    assert!(
        v["errors"]["body.refund"]
            .as_str()
            .unwrap_or("")
            .contains("empty"),
        "{v}"
    );

    assert_eq!(slack.violations(), Vec::<String>::new());
    assert_eq!(sent_texts(&env).len(), 2);
}

/// A Discord component interaction: the select of the reply picker with `values`.
fn discord_select(user: &str, custom_id: &str, values: &[&str]) -> Value {
    let mut v = discord_button(user, custom_id);
    v["data"] = json!({"custom_id": custom_id, "component_type": 3, "values": values});
    v
}

/// The text input of a Discord modal response: its label and value.
fn modal_input(r: &Value) -> (String, Option<String>) {
    let input = &r["data"]["components"][0]["components"][0];
    (
        input["label"].as_str().unwrap_or("").to_string(),
        input["value"].as_str().map(str::to_string),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discord_opens_the_reply_modal_prefilled_and_the_picker_leads_to_it_then_sends_once() {
    let mut env = env(Platforms {
        slack: false,
        discord: true,
    })
    .await;
    with_refund(&mut env);
    let app = env.app().await;
    let web = app.start_web().await.expect("web");
    let signer = &env.discord_signer;
    let subject = "Refund for order 1234";
    let t1 = open_ticket(&app, 1, "d1@customer.example", subject, "Where is it?").await;
    let t2 = open_ticket(&app, 2, "d2@customer.example", subject, "And this?").await;
    let checked = |r: &Value| {
        let errs = validate_interaction_response(r);
        assert!(errs.is_empty(), "{r} breaks the spec: {errs:?}");
    };

    // `/reply ticket:T text:/nope`: a clear error listing the templates.
    let (code, r) = discord_post(
        web.addr,
        signer,
        &discord_command(ANA_DISCORD, "reply", &[("ticket", &t1), ("text", "/nope")]),
        false,
    )
    .await;
    assert_eq!(code, 200);
    checked(&r);
    let said = r["data"]["content"].as_str().unwrap_or("");
    assert!(
        said.contains("no template `nope`") && said.contains("/refund"),
        "{r}"
    );

    // `/reply ticket:T text:/refund`: the modal, its input holding the filled text, the
    // recipient in its label.
    let (code, r) = discord_post(
        web.addr,
        signer,
        &discord_command(
            ANA_DISCORD,
            "reply",
            &[("ticket", &t1), ("text", "/refund")],
        ),
        false,
    )
    .await;
    assert_eq!(code, 200);
    checked(&r);
    assert_eq!(r["type"], 9, "{r}");
    let (label, value) = modal_input(&r);
    assert!(label.contains("dana@customer.example"), "{label}");
    assert_eq!(value, Some(refund_for(&t1, subject)));
    let modal_id = r["data"]["custom_id"].as_str().unwrap_or("").to_string();
    app.deliverer.drain().await.expect("deliver");
    assert!(env.smtp.received().is_empty(), "nothing sent before submit");

    // Submitted: sent once through the normal reply.
    let (code, r) = discord_post(
        web.addr,
        signer,
        &discord_modal_submit(ANA_DISCORD, &modal_id, &value.unwrap_or_default()),
        false,
    )
    .await;
    assert_eq!(code, 200);
    checked(&r);
    assert!(
        r["data"]["content"]
            .as_str()
            .unwrap_or("")
            .contains("queued"),
        "{r}"
    );
    let sent = delivered(&app, &env, 1).await;
    assert_eq!(sent.len(), 1);
    assert!(sent[0].contains(&refund_for(&t1, subject)), "{}", sent[0]);

    // The Reply button with templates: a private picker naming the recipient.
    let (code, r) = discord_post(
        web.addr,
        signer,
        &discord_button(BEN_DISCORD, &format!("reply:{t2}")),
        false,
    )
    .await;
    assert_eq!(code, 200);
    checked(&r);
    assert_eq!(r["type"], 4, "{r}");
    assert_eq!(r["data"]["flags"], 64, "ephemeral");
    assert!(r["data"]["content"]
        .as_str()
        .unwrap_or("")
        .contains("dana@customer.example"));
    let select = &r["data"]["components"][0]["components"][0];
    assert_eq!(select["type"], 3);
    assert_eq!(select["options"][0]["value"], "refund");
    let select_id = select["custom_id"].as_str().unwrap_or("").to_string();
    let own_id = r["data"]["components"][1]["components"][0]["custom_id"]
        .as_str()
        .unwrap_or("")
        .to_string();

    // "Write my own": the blank modal.
    let (code, r) = discord_post(
        web.addr,
        signer,
        &discord_button(BEN_DISCORD, &own_id),
        false,
    )
    .await;
    assert_eq!(code, 200);
    checked(&r);
    assert_eq!(r["type"], 9);
    assert_eq!(modal_input(&r).1, None);

    // Picking the template: the modal, filled for Ben.
    let (code, r) = discord_post(
        web.addr,
        signer,
        &discord_select(BEN_DISCORD, &select_id, &["refund"]),
        false,
    )
    .await;
    assert_eq!(code, 200);
    checked(&r);
    assert_eq!(r["type"], 9, "{r}");
    let (label, value) = modal_input(&r);
    assert!(label.contains("dana@customer.example"), "{label}");
    let want = refund_for(&t2, subject).replace("\n\nANA", "\n\nBEN");
    assert_eq!(value.as_deref(), Some(want.as_str()));
    let modal_id = r["data"]["custom_id"].as_str().unwrap_or("").to_string();
    let (code, r) = discord_post(
        web.addr,
        signer,
        &discord_modal_submit(BEN_DISCORD, &modal_id, &want),
        false,
    )
    .await;
    assert_eq!(code, 200);
    assert!(
        r["data"]["content"]
            .as_str()
            .unwrap_or("")
            .contains("queued"),
        "{r}"
    );
    let sent = delivered(&app, &env, 2).await;
    assert_eq!(sent.len(), 2);
    assert!(sent[1].contains(&want), "{}", sent[1]);
    assert_eq!(
        app.desk
            .show(&t2)
            .await
            .expect("show")
            .summary
            .assignee
            .as_deref(),
        Some("ben"),
        "the reply claimed it"
    );

    // A stale pick of a template since removed: a clear answer, nothing sent.
    let (code, r) = discord_post(
        web.addr,
        signer,
        &discord_select(BEN_DISCORD, &select_id, &["gone"]),
        false,
    )
    .await;
    assert_eq!(code, 200);
    checked(&r);
    assert!(r["data"]["content"]
        .as_str()
        .unwrap_or("")
        .contains("no template `gone`"));

    // Templates managed from Discord too, with the typed options of `/template`.
    let mut add = discord_command(ANA_DISCORD, "template", &[]);
    add["data"]["options"] = json!([{"name": "add", "type": 1, "options": [
        {"name": "name", "type": 3, "value": "thanks"},
        {"name": "text", "type": 3, "value": "Thanks, {customer_name}!"}
    ]}]);
    let (code, r) = discord_post(web.addr, signer, &add, false).await;
    assert_eq!(code, 200);
    checked(&r);
    assert!(
        r["data"]["content"]
            .as_str()
            .unwrap_or("")
            .contains("Template `thanks` added"),
        "{r}"
    );
    let mut bad = add.clone();
    bad["data"]["options"][0]["options"][1]["value"] = "Thanks, {name}!".into();
    bad["data"]["options"][0]["options"][0]["value"] = "thanks2".into();
    let (_, r) = discord_post(web.addr, signer, &bad, false).await;
    assert!(
        r["data"]["content"]
            .as_str()
            .unwrap_or("")
            .contains("`{name}`"),
        "{r}"
    );

    assert_eq!(
        env.discord.as_ref().expect("discord").violations(),
        Vec::<String>::new()
    );
    assert_eq!(sent_texts(&env).len(), 2);
}

/// The same over the Discord gateway: the picker and the prefilled modal go out through
/// `POST /interactions/{id}/{token}/callback`, which the stand-in checks against the spec.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discord_gateway_answers_with_the_picker_and_the_prefilled_modal() {
    let mut env = db_only(Platforms {
        slack: false,
        discord: true,
    })
    .await;
    with_refund(&mut env);
    if let Some(d) = env.settings.discord.as_mut() {
        d.mode = claimdesk::config::DiscordMode::Gateway;
        d.application_id = Some(DISCORD_APP_ID.into());
        d.register_commands = false;
    }
    env.secrets.discord_public_key = None;
    let discord = env.discord.as_ref().expect("discord stand-in");
    let gateway = support::standin::GatewayStandin::start()
        .await
        .expect("gateway stand-in");
    discord.set_gateway_url(&gateway.url);
    let app = env.app().await;
    let subject = "Refund for order 1234";
    let number = open_ticket(&app, 1, "g1@customer.example", subject, "Hello").await;
    app.deliverer.drain().await.expect("card posted");
    let (card_id,): (String,) =
        sqlx::query_as("SELECT message_ref FROM chat_posts WHERE platform = 'discord'")
            .fetch_one(app.desk.pool())
            .await
            .expect("card");
    // A component interaction carries the message it is on (serenity requires it).
    let card = discord.message(&card_id).expect("card stored");
    let task = app.start_discord_gateway().expect("gateway mode");
    eventually(20, "IDENTIFY", || async { gateway.identifies().pop() }).await;

    let callback = |id: &'static str| {
        let path = format!("/interactions/{id}/token-{id}/callback");
        async move {
            eventually(20, "the callback", || async {
                discord.calls_to("POST", &path).pop()
            })
            .await
            .body
        }
    };

    // `/reply ticket:T text:/refund`: the prefilled modal.
    let mut cmd = gateway_interaction(
        "applicationCommandRequestBody.json",
        "500000000000000101",
        ANA_DISCORD,
    );
    cmd["data"]["name"] = "reply".into();
    cmd["data"]["type"] = 1.into();
    cmd["data"]["options"] = json!([
        {"name": "ticket", "type": 3, "value": number},
        {"name": "text", "type": 3, "value": "/refund"}
    ]);
    gateway.dispatch("INTERACTION_CREATE", cmd);
    let r = callback("500000000000000101").await;
    assert_eq!(r["type"], 9, "{r}");
    assert_eq!(modal_input(&r).1, Some(refund_for(&number, subject)));

    // The Reply button: the picker; choosing: the prefilled modal.
    let mut click = gateway_interaction(
        "messageComponentRequestBody.json",
        "500000000000000102",
        ANA_DISCORD,
    );
    click["data"]["custom_id"] = format!("reply:{number}").into();
    click["message"] = card.clone();
    gateway.dispatch("INTERACTION_CREATE", click);
    let r = callback("500000000000000102").await;
    assert_eq!(r["type"], 4, "{r}");
    let select_id = r["data"]["components"][0]["components"][0]["custom_id"]
        .as_str()
        .unwrap_or("")
        .to_string();
    let mut pick = gateway_interaction(
        "messageComponentRequestBody.json",
        "500000000000000103",
        ANA_DISCORD,
    );
    pick["data"] = json!({"custom_id": select_id, "component_type": 3, "values": ["refund"]});
    pick["message"] = card;
    gateway.dispatch("INTERACTION_CREATE", pick);
    let r = callback("500000000000000103").await;
    assert_eq!(r["type"], 9, "{r}");
    assert_eq!(modal_input(&r).1, Some(refund_for(&number, subject)));

    assert_eq!(discord.violations(), Vec::<String>::new());
    task.abort();
}

/// The Slack stand-in's checks the template flows rely on can fail: a picker whose initial
/// option is not among its options, too many options, a prefilled text longer than the
/// input takes, and `views.update` of a view never opened or with a stale hash.
#[tokio::test]
async fn the_slack_stand_in_refuses_bad_pickers_and_stale_view_updates() {
    let s = support::standin::SlackStandin::start()
        .await
        .expect("stand-in");
    let http = reqwest::Client::new();
    let call = |method: &str, body: Value| {
        http.post(format!("{}/{method}", s.api_url))
            .header("authorization", "Bearer xoxb-1-2-3")
            .json(&body)
            .send()
    };
    let option = |v: &str| json!({"text": {"type": "plain_text", "text": v}, "value": v});
    let view = |select: Value, initial: &str| {
        json!({"type": "modal", "title": {"type": "plain_text", "text": "Reply"},
        "submit": {"type": "plain_text", "text": "Send"},
        "blocks": [
            {"type": "input", "block_id": "template", "dispatch_action": true, "optional": true,
             "label": {"type": "plain_text", "text": "Template"}, "element": select},
            {"type": "input", "block_id": "body", "label": {"type": "plain_text", "text": "Reply"},
             "element": {"type": "plain_text_input", "action_id": "text", "multiline": true,
                         "max_length": 3000, "initial_value": initial}}
        ]})
    };
    let good_select = json!({"type": "static_select", "action_id": "template",
        "options": [option("refund")], "initial_option": option("refund")});
    let cases = [
        (
            view(
                json!({"type": "static_select", "action_id": "template",
                    "options": [option("refund")], "initial_option": option("other")}),
                "x",
            ),
            "initial_option",
        ),
        (
            view(
                json!({"type": "static_select", "action_id": "template",
                    "options": (0..101).map(|i| option(&format!("t{i}"))).collect::<Vec<_>>()}),
                "x",
            ),
            "101 options",
        ),
        (
            view(good_select.clone(), &"y".repeat(3001)),
            "initial_value",
        ),
    ];
    for (v, needle) in cases {
        let before = s.violations().len();
        let r: Value = call(
            "views.open",
            json!({"trigger_id": s.trigger_id(), "view": v}),
        )
        .await
        .expect("call")
        .json()
        .await
        .expect("json");
        assert_eq!(r["ok"], false, "{needle}: {r}");
        let v = s.violations();
        assert!(
            v[before..].iter().any(|x| x.contains(needle)),
            "{needle}: {v:#?}"
        );
    }

    // A good one opens; updating it needs its id and current hash.
    let r: Value = call(
        "views.open",
        json!({"trigger_id": s.trigger_id(), "view": view(good_select.clone(), "x")}),
    )
    .await
    .expect("call")
    .json()
    .await
    .expect("json");
    assert_eq!(r["ok"], true, "{r}");
    let (id, hash) = (r["view"]["id"].clone(), r["view"]["hash"].clone());
    let update = |view_id: Value, hash: Value| {
        call(
            "views.update",
            json!({"view_id": view_id, "hash": hash, "view": view(good_select.clone(), "z")}),
        )
    };
    let r: Value = update(json!("V0NEVER"), hash.clone())
        .await
        .expect("call")
        .json()
        .await
        .expect("json");
    assert_eq!(r["error"], "not_found", "{r}");
    let r: Value = update(id.clone(), hash.clone())
        .await
        .expect("call")
        .json()
        .await
        .expect("json");
    assert_eq!(r["ok"], true, "{r}");
    let r: Value = update(id, hash)
        .await
        .expect("call")
        .json()
        .await
        .expect("json");
    assert_eq!(r["error"], "hash_conflict", "a stale hash is refused: {r}");
    s.stop().await;
}
