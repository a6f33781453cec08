//! SLA clocks as people see them (issue 14): cards on Slack, Discord and the console show
//! the headline clock — the unmet clock due first — as "First response due in 23 min" or
//! "⚠ Resolution breached 12 min ago"; `mine` and the chat `list` sort by due time (tickets
//! without a clock last) and show it; `workload` counts tickets at risk and breached, per
//! agent and in total. The `sla_clocks` rows are written here with SQL (the SLA use cases
//! that write them are not what is tested).

mod support;

use claimdesk::desk::Surface;
use support::harness::*;

/// Adds an `sla_clocks` row to ticket `number`: `due` and `warn` are SQL intervals from now
/// (`NULL` for none), `met` whether the goal was met.
async fn clock(pool: &sqlx::PgPool, number: &str, metric: &str, due: &str, warn: &str, met: bool) {
    let sql = format!(
        "INSERT INTO sla_clocks (ticket_id, metric, goal_secs, business, started_at, running_since,
             due_at, warn_at, met_at)
         SELECT id, $2, 3600, FALSE, now() - interval '1 hour', now() - interval '1 hour',
             now() + {due}, now() + {warn}, CASE WHEN $3 THEN now() END
         FROM tickets WHERE number = $1"
    );
    let done = sqlx::query(&sql)
        .bind(number)
        .bind(metric)
        .bind(met)
        .execute(pool)
        .await
        .expect("clock row");
    assert_eq!(done.rows_affected(), 1, "{number} exists");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cards_queues_and_workload_show_the_sla_clock() {
    let env = db_only(Platforms {
        slack: true,
        discord: true,
    })
    .await;
    let slack = env.slack.as_ref().expect("slack");
    let discord = env.discord.as_ref().expect("discord");
    let app = env.app().await;
    let pool = app.desk.pool().clone();

    // Given four tickets: ana holds three — one whose first response is due in 23 min (at
    // risk: its warning time passed), one whose resolution was breached 12 min ago (its first
    // response met long ago), one without SLA — and one nobody holds, breached for hours.
    let soon = open_ticket(&app, 1, "soon@customer.example", "Due soon", "Hi").await;
    let late = open_ticket(&app, 2, "late@customer.example", "Breached", "Hi").await;
    let none = open_ticket(&app, 3, "none@customer.example", "No SLA", "Hi").await;
    let queued = open_ticket(&app, 4, "queued@customer.example", "Nobody", "Hi").await;
    clock(
        &pool,
        &soon,
        "first_response",
        "interval '23 min 30 s'",
        "interval '-1 min'",
        false,
    )
    .await;
    clock(
        &pool,
        &soon,
        "resolution",
        "interval '2 days'",
        "interval '1 day'",
        false,
    )
    .await;
    clock(
        &pool,
        &late,
        "first_response",
        "interval '-3 hours'",
        "interval '-4 hours'",
        true,
    )
    .await;
    clock(
        &pool,
        &late,
        "resolution",
        "interval '-12 min -30 s'",
        "interval '-1 hour'",
        false,
    )
    .await;
    clock(
        &pool,
        &queued,
        "first_response",
        "interval '-5 hours'",
        "interval '-6 hours'",
        false,
    )
    .await;
    let ana = actor(&app, "ana", Surface::Slack).await;
    for n in [&soon, &late, &none] {
        app.desk.claim(&ana, n).await.expect("claim");
    }

    // When the cards are delivered
    app.deliverer.drain().await.expect("deliver");

    // Then the Slack card shows the running clock …
    let slack_card = |subject: &str| {
        slack
            .calls_to("chat.update")
            .into_iter()
            .chain(slack.card_posts())
            .map(|c| c.body["blocks"].to_string())
            .rfind(|b| b.contains(subject))
            .unwrap_or_else(|| panic!("a Slack card of {subject}"))
    };
    let card = slack_card("Due soon");
    assert!(card.contains("First response due in 23 min"), "{card}");
    let card = slack_card("Breached");
    assert!(card.contains("⚠ Resolution breached 12 min ago"), "{card}");
    let card = slack_card("No SLA");
    assert!(!card.contains("*SLA*"), "{card}");
    // … and so does the Discord embed
    let embeds: Vec<String> = discord
        .requests()
        .into_iter()
        .filter(|r| {
            r.path
                .contains(&format!("/channels/{DISCORD_CHANNEL}/messages"))
        })
        .map(|r| r.body.to_string())
        .collect();
    assert!(
        embeds
            .iter()
            .any(|e| e.contains("Due soon") && e.contains("First response due in 23 min")),
        "{embeds:?}"
    );
    assert!(
        embeds
            .iter()
            .any(|e| e.contains("Breached") && e.contains("⚠ Resolution breached 12 min ago")),
        "{embeds:?}"
    );
    // … and the console card.
    let id: (i64,) = sqlx::query_as("SELECT id FROM tickets WHERE number = $1")
        .bind(&late)
        .fetch_one(&pool)
        .await
        .expect("id");
    let view = app.desk.card_view(id.0).await.expect("view").expect("card");
    let text = claimdesk::chat::console::render(&view, "Updated");
    assert!(
        text.contains("SLA: ⚠ Resolution breached 12 min ago"),
        "{text}"
    );

    // `mine`: the clock due first first, the ticket without one last, each with its clock.
    let mine = app.desk.mine(&ana).await.expect("mine");
    let order: Vec<&str> = mine.iter().map(|l| l.number.as_str()).collect();
    assert_eq!(order, vec![late.as_str(), soon.as_str(), none.as_str()]);
    let cmd = claimdesk::chat::commands::parse("mine", "").expect("parses");
    let answer = claimdesk::chat::commands::execute(&app.desk, &ana, cmd).await;
    let lines: Vec<&str> = answer.lines().skip(1).collect();
    assert_eq!(lines.len(), 3, "{answer}");
    assert!(
        lines[0].contains("⚠ Resolution breached 12 min ago"),
        "{answer}"
    );
    assert!(
        lines[1].contains("First response due in 23 min"),
        "{answer}"
    );
    assert!(
        !lines[2].contains("due") && !lines[2].contains("breached"),
        "{answer}"
    );

    // The chat `list` sorts by due time too, the unassigned breach first.
    let cmd = claimdesk::chat::commands::parse("list", "").expect("parses");
    let answer = claimdesk::chat::commands::execute(&app.desk, &ana, cmd).await;
    let firsts: Vec<&str> = answer
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(
        firsts,
        vec![queued.as_str(), late.as_str(), soon.as_str(), none.as_str()],
        "{answer}"
    );
    assert!(answer.contains("⚠ First response breached 5 h"), "{answer}");

    // `workload`: ana has one at risk and one breached; in total one at risk, two breached.
    let w = app.desk.workload().await.expect("workload");
    let a = w.agents.iter().find(|a| a.handle == "ana").expect("ana");
    assert_eq!((a.at_risk, a.breached), (1, 1));
    let ben = w.agents.iter().find(|a| a.handle == "ben").expect("ben");
    assert_eq!((ben.at_risk, ben.breached), (0, 0));
    assert_eq!((w.at_risk, w.breached), (1, 2));
    let text = claimdesk::desk::messages::workload(&w);
    assert!(text.contains("SLA: 1 at risk, 2 breached"), "{text}");

    // Once its first response is met, the card of "Due soon" shows the next clock due.
    sqlx::query(
        "UPDATE sla_clocks SET met_at = now() WHERE metric = 'first_response'
             AND ticket_id = (SELECT id FROM tickets WHERE number = $1)",
    )
    .bind(&soon)
    .execute(&pool)
    .await
    .expect("met");
    let id: (i64,) = sqlx::query_as("SELECT id FROM tickets WHERE number = $1")
        .bind(&soon)
        .fetch_one(&pool)
        .await
        .expect("id");
    let view = app.desk.card_view(id.0).await.expect("view").expect("card");
    let text = claimdesk::chat::console::render(&view, "Updated");
    assert!(text.contains("SLA: Resolution due in 1 d 23 h"), "{text}");
    let w = app.desk.workload().await.expect("workload");
    assert_eq!((w.at_risk, w.breached), (0, 2));
}
