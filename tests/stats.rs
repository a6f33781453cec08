//! Reports (issue 14): `stats` figures checked against figures computed here from the rows
//! the test wrote; its chart is a real PNG (decoded: size, several colours) posted where
//! `stats` was asked — Slack external upload into the channel, Discord attachment, console
//! file; the weekly digest is queued once per week, not before its time, and not again
//! after a restart or by a second process.

mod support;

use chrono::{DateTime, Duration, Utc};
use claimdesk::desk::stats::{Range, StatsQuery};
use support::harness::*;

const PNG_MAGIC: &[u8] = b"\x89PNG\r\n\x1a\n";

fn at(s: &str) -> DateTime<Utc> {
    s.parse().expect("timestamp")
}

/// One ticket as the test writes it.
#[derive(Clone, Debug)]
struct Row {
    department: &'static str,
    assignee: Option<&'static str>,
    opened: DateTime<Utc>,
    first: Option<DateTime<Utc>>,
    resolved: Option<DateTime<Utc>>,
}

async fn insert(pool: &sqlx::PgPool, seq: i32, r: &Row) -> i64 {
    let status = match (r.resolved, r.assignee) {
        (Some(_), _) => "resolved",
        (None, Some(_)) => "claimed",
        (None, None) => "open",
    };
    sqlx::query_scalar(
        "INSERT INTO tickets (number, year, seq, status, assignee_id, requester_email, subject,
                              mailbox, department, opened_at, created_at, first_response_at,
                              resolved_at)
         VALUES ($8, 2026, $1, $2,
                 (SELECT id FROM agents WHERE handle = $3), 'dana@customer.example', 'Help',
                 'support', $4, $5, $5, $6, $7)
         RETURNING id",
    )
    .bind(seq)
    .bind(status)
    .bind(r.assignee)
    .bind(r.department)
    .bind(r.opened)
    .bind(r.first)
    .bind(r.resolved)
    .bind(format!("TICK-2026-{seq:04}"))
    .fetch_one(pool)
    .await
    .expect("insert ticket")
}

/// Nearest-rank percentile, written again here so the check does not reuse the code under test.
fn rank(mut v: Vec<i64>, p: f64) -> Option<i64> {
    if v.is_empty() {
        return None;
    }
    v.sort_unstable();
    let k = ((p * v.len() as f64).ceil() as usize).max(1);
    Some(v[k - 1])
}

/// A deterministic mix of tickets around `now`: 60 tickets over 12 days, in two
/// departments and three holders, some answered, some resolved.
fn rows(now: DateTime<Utc>) -> Vec<Row> {
    (0..60)
        .map(|i: i64| {
            let opened = now - Duration::minutes(17 + i * 283);
            let first = (i % 5 != 0).then(|| opened + Duration::minutes(5 + (i * 37) % 600));
            let resolved = (i % 3 == 0)
                .then(|| opened + Duration::minutes(90 + (i * 131) % 5000))
                .filter(|r| *r < now);
            Row {
                department: if i % 4 == 0 { "billing" } else { "support" },
                assignee: match i % 3 {
                    0 => Some("ben"),
                    1 => Some("cy"),
                    _ if i % 2 == 0 => Some("ana"),
                    _ => None,
                },
                opened,
                first,
                resolved,
            }
        })
        .collect()
}

fn with_billing(env: &mut TestEnv) {
    let mut billing = env.settings.departments[0].clone();
    billing.name = "billing".into();
    env.settings.departments.push(billing);
}

/// The decoded PNG: width, height and the number of distinct colours.
fn decode(png_bytes: &[u8]) -> (u32, u32, usize) {
    let decoder = png::Decoder::new(std::io::Cursor::new(png_bytes));
    let mut reader = decoder.read_info().expect("png header");
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).expect("png frame");
    let px = info.color_type.samples();
    let colours: std::collections::HashSet<&[u8]> = buf[..info.buffer_size()].chunks(px).collect();
    (info.width, info.height, colours.len())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn figures_match_the_rows_and_the_chart_is_a_picture() {
    let mut env = db_only(Platforms {
        slack: false,
        discord: false,
    })
    .await;
    with_billing(&mut env);
    let app = env.app().await;
    let pool = app.desk.pool().clone();
    let now = at("2026-12-02T12:00:00Z");
    let all = rows(now);
    let mut ids = Vec::new();
    for (i, r) in all.iter().enumerate() {
        ids.push(insert(&pool, i as i32 + 1, r).await);
    }
    // SLA clocks: first response met in range without breach (3), met after a breach (1),
    // breached and still running (1), met before the range (1, not counted).
    for (k, (met, breaches, breached)) in [
        (Some(now - Duration::hours(2)), 0, None),
        (Some(now - Duration::hours(30)), 0, None),
        (Some(now - Duration::days(3)), 0, None),
        (
            Some(now - Duration::days(2)),
            1,
            Some(now - Duration::days(2) - Duration::hours(1)),
        ),
        (None, 1, Some(now - Duration::hours(5))),
        (Some(now - Duration::days(9)), 0, None),
    ]
    .into_iter()
    .enumerate()
    {
        sqlx::query(
            "INSERT INTO sla_clocks (ticket_id, metric, goal_secs, business, started_at,
                                     met_at, breaches, breached_at)
             VALUES ($1, 'first_response', 3600, false, $2, $3, $4, $5)",
        )
        .bind(ids[k])
        .bind(now - Duration::days(10))
        .bind(met)
        .bind(breaches)
        .bind(breached)
        .execute(&pool)
        .await
        .expect("clock");
    }

    let query = StatsQuery {
        range: Range::Days(7),
        department: None,
        channel: None,
    };
    let r = app.desk.stats_at(&query, now).await.expect("stats");

    // The same figures, computed here from the rows.
    let from = now - Duration::days(7);
    let inside = |t: DateTime<Utc>| t >= from && t < now;
    let opened: Vec<&Row> = all.iter().filter(|x| inside(x.opened)).collect();
    let resolved: Vec<&Row> = all
        .iter()
        .filter(|x| x.resolved.is_some_and(inside))
        .collect();
    assert!(
        opened.len() > 10 && resolved.len() > 5,
        "a meaningful sample"
    );
    assert_eq!(r.opened, opened.len() as i64);
    assert_eq!(r.resolved, resolved.len() as i64);
    let firsts: Vec<i64> = opened
        .iter()
        .filter_map(|x| x.first.map(|f| (f - x.opened).num_seconds()))
        .collect();
    assert_eq!(r.first_response.count, firsts.len());
    assert_eq!(
        r.first_response.median.map(|d| d.num_seconds()),
        rank(firsts.clone(), 0.5)
    );
    assert_eq!(
        r.first_response.p90.map(|d| d.num_seconds()),
        rank(firsts.clone(), 0.9)
    );
    let resolutions: Vec<i64> = resolved
        .iter()
        .map(|x| (x.resolved.unwrap() - x.opened).num_seconds())
        .collect();
    assert_eq!(
        r.resolution.median.map(|d| d.num_seconds()),
        rank(resolutions.clone(), 0.5)
    );
    assert_eq!(
        r.resolution.p90.map(|d| d.num_seconds()),
        rank(resolutions, 0.9)
    );
    let mut backlog = [0i64; 4];
    for x in all.iter().filter(|x| x.resolved.is_none()) {
        let age = now - x.opened;
        let b = if age < Duration::days(1) {
            0
        } else if age < Duration::days(3) {
            1
        } else if age < Duration::days(7) {
            2
        } else {
            3
        };
        backlog[b] += 1;
    }
    assert_eq!(r.backlog, backlog);
    for who in ["ana", "ben", "cy"] {
        let line = r
            .agents
            .iter()
            .find(|a| a.handle == who)
            .unwrap_or_else(|| panic!("a line for {who}: {:?}", r.agents));
        let mine = |x: &Row| x.assignee == Some(who);
        assert_eq!(
            line.resolved,
            resolved.iter().filter(|x| mine(x)).count() as i64,
            "{who}"
        );
        assert_eq!(
            line.open_now,
            all.iter()
                .filter(|x| mine(x) && x.resolved.is_none())
                .count() as i64,
            "{who}"
        );
        let my_firsts: Vec<i64> = opened
            .iter()
            .filter(|x| mine(x))
            .filter_map(|x| x.first.map(|f| (f - x.opened).num_seconds()))
            .collect();
        assert_eq!(
            line.median_first_response.map(|d| d.num_seconds()),
            rank(my_firsts, 0.5),
            "{who}"
        );
    }
    assert_eq!(r.sla.len(), 1, "{:?}", r.sla);
    assert_eq!(
        (r.sla[0].metric.as_str(), r.sla[0].hit, r.sla[0].ended),
        ("first_response", 3, 5)
    );
    // The chart's points add up to the same counts.
    assert_eq!(r.chart.days.len(), 8, "7 × 24 h from noon touch 8 days");
    assert_eq!(r.chart.days.iter().map(|d| d.1).sum::<i64>(), r.opened);
    assert_eq!(r.chart.days.iter().map(|d| d.2).sum::<i64>(), r.resolved);
    assert_eq!(
        r.chart.first_response.iter().map(|b| b.1).sum::<i64>(),
        firsts.len() as i64
    );

    // One department only.
    let billing = app
        .desk
        .stats_at(
            &StatsQuery {
                department: Some("billing".into()),
                ..query.clone()
            },
            now,
        )
        .await
        .expect("billing stats");
    assert_eq!(
        billing.opened,
        opened.iter().filter(|x| x.department == "billing").count() as i64
    );
    let unknown = app
        .desk
        .stats_at(
            &StatsQuery {
                department: Some("<!channel>".into()),
                ..query.clone()
            },
            now,
        )
        .await
        .expect_err("unknown department");
    let said = claimdesk::desk::messages::error(&unknown);
    assert!(said.contains("No department `channel`"), "{said}");

    // The words: what `stats` answers.
    let text = claimdesk::desk::messages::stats_report(&r, None);
    assert!(
        text.contains(&format!("Opened {} · resolved {}", r.opened, r.resolved)),
        "{text}"
    );
    assert!(text.contains("first response 60% (3/5)"), "{text}");
    assert!(text.contains("@ben"), "{text}");

    // The chart: a 960 × 720 PNG with lines, bars, text and background.
    let png_bytes = claimdesk::desk::chart::render_png(&r.chart).expect("chart");
    assert!(png_bytes.starts_with(PNG_MAGIC));
    let (w, h, colours) = decode(&png_bytes);
    assert_eq!((w, h), (960, 720));
    assert!(colours >= 8, "only {colours} colours: blank?");
}

/// Runs `stats` on the console (no chat platform): the chart is written into
/// `reports.chart_dir` and its path printed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_stats_writes_the_chart_to_a_file() {
    let mut env = db_only(Platforms {
        slack: false,
        discord: false,
    })
    .await;
    let dir = tempfile::tempdir().expect("temp dir");
    env.settings.reports.chart_dir = Some(dir.path().join("charts"));
    let app = env.app().await;
    let now = Utc::now();
    for (i, r) in rows(now).iter().take(12).enumerate() {
        insert(app.desk.pool(), i as i32 + 1, r).await;
    }
    let actor = app.console_actor().await.expect("console actor");
    let cmd = claimdesk::chat::commands::parse("stats", "today").expect("parses");
    let answer = claimdesk::chat::commands::execute(&app.desk, &actor, cmd).await;
    assert!(answer.contains("Opened "), "{answer}");
    assert!(answer.contains("PNG file"), "{answer}");
    app.deliverer.drain().await.expect("deliver");
    let files: Vec<_> = std::fs::read_dir(dir.path().join("charts"))
        .expect("chart dir made")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    let bytes = std::fs::read(&files[0]).expect("read chart");
    assert!(bytes.starts_with(PNG_MAGIC));
    assert_eq!(decode(&bytes).0, 960);
    let undelivered = count(
        app.desk.pool(),
        "SELECT count(*) FROM outbox WHERE delivered_at IS NULL",
    )
    .await;
    assert_eq!(undelivered, 0);
}

const APP_ID: &str = "400000000000000001";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stats_posts_its_chart_where_it_was_asked_on_slack_and_discord() {
    let mut env = db_only(Platforms {
        slack: true,
        discord: true,
    })
    .await;
    if let Some(d) = env.settings.discord.as_mut() {
        d.application_id = Some(APP_ID.into());
    }
    let app = env.app().await;
    let web = app.start_web().await.expect("web");
    let now = Utc::now();
    for (i, r) in rows(now).iter().take(20).enumerate() {
        insert(app.desk.pool(), i as i32 + 1, r).await;
    }
    let slack = env.slack.as_ref().expect("slack stand-in");
    let discord = env.discord.as_ref().expect("discord stand-in");

    // Slack: `/desk stats 7d` answers privately with the figures; the chart is uploaded
    // into the channel it was typed in.
    let (code, answer) = slack_post(
        web.addr,
        "/slack/commands",
        &slash_command("/desk", "stats 7d", BEN_SLACK),
        SLACK_SECRET,
        0,
    )
    .await;
    assert_eq!(code, 200);
    assert!(answer.contains("Opened"), "{answer}");
    let shared = eventually(10, "the chart shared on Slack", || async {
        app.deliverer.drain().await.expect("deliver");
        let files = slack.shared_files();
        (!files.is_empty()).then_some(files)
    })
    .await;
    assert_eq!(shared.len(), 1);
    assert_eq!(shared[0].channel, SLACK_CHANNEL);
    assert_eq!(shared[0].thread_ts, None, "in the channel, not a thread");
    assert!(shared[0].data.starts_with(PNG_MAGIC));
    assert!(decode(&shared[0].data).2 >= 8);

    // Discord: `/stats range:28d` is deferred; the chart arrives as an attachment of a
    // message in the channel of the interaction.
    let mut cmd = discord_command(ANA_DISCORD, "stats", &[("range", "28d")]);
    cmd["application_id"] = APP_ID.into();
    let (code, r) = discord_post(web.addr, &env.discord_signer, &cmd, false).await;
    assert_eq!(code, 200);
    assert_eq!(r["type"], 5, "{r}");
    let uploads = eventually(10, "the chart attached on Discord", || async {
        app.deliverer.drain().await.expect("deliver");
        let u = discord.uploads();
        (!u.is_empty()).then_some(u)
    })
    .await;
    assert_eq!(uploads.len(), 1);
    assert_eq!(
        uploads[0].path,
        format!("/api/v10/channels/{DISCORD_CHANNEL}/messages")
    );
    assert_eq!(uploads[0].filename.as_deref(), Some("claimdesk-stats.png"));
    assert!(uploads[0].data.starts_with(PNG_MAGIC));
    assert!(slack.violations().is_empty(), "{:?}", slack.violations());
    assert!(
        discord.violations().is_empty(),
        "{:?}",
        discord.violations()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_weekly_digest_is_sent_once_at_its_time_across_restarts() {
    let mut env = db_only(Platforms {
        slack: true,
        discord: false,
    })
    .await;
    env.settings.reports.digest_at = Some("mon 09:00".into());
    env.settings.reports.timezone = Some("Europe/Berlin".into());
    env.settings.reports.slack_channel = Some("C0DIGEST01".into());
    let app = env.app().await;
    let slack = env.slack.as_ref().expect("slack stand-in");
    let monday_before = at("2026-12-07T07:59:59Z"); // 08:59:59 in Berlin
    let monday_at = at("2026-12-07T08:00:00Z");
    for (i, r) in rows(monday_at).iter().take(20).enumerate() {
        insert(app.desk.pool(), i as i32 + 1, r).await;
    }

    // Not before its time (the previous Monday's is more than 3 days old).
    assert_eq!(app.desk.run_digest(monday_before).await.expect("run"), None);
    assert_eq!(
        count(app.desk.pool(), "SELECT count(*) FROM scheduled_runs").await,
        0
    );
    // At its time, once; two processes at the same moment queue it once between them.
    let other = env.app().await;
    let (a, b) = tokio::join!(
        app.desk.run_digest(monday_at),
        other.desk.run_digest(monday_at)
    );
    let queued: Vec<String> = [a.expect("a"), b.expect("b")]
        .into_iter()
        .flatten()
        .collect();
    assert_eq!(queued, vec!["2026-W50".to_string()]);
    assert_eq!(
        app.desk
            .run_digest(monday_at + Duration::minutes(30))
            .await
            .expect("again"),
        None
    );
    // A restart later that week: a fresh app on the same database sends nothing more.
    drop(other);
    drop(app);
    let app = env.app().await;
    assert_eq!(
        app.desk
            .run_digest(monday_at + Duration::days(2))
            .await
            .expect("after restart"),
        None
    );
    app.deliverer.drain().await.expect("deliver");
    let shared = slack.shared_files();
    assert_eq!(shared.len(), 1, "one digest");
    assert_eq!(shared[0].channel, "C0DIGEST01");
    assert!(shared[0].data.starts_with(PNG_MAGIC));
    let completes = slack.calls_to("files.completeUploadExternal");
    let comment = completes
        .last()
        .and_then(|c| c.body["initial_comment"].as_str().map(str::to_string))
        .unwrap_or_default();
    assert!(
        comment.contains("Weekly digest: the 7 days to Mon 2026-12-07"),
        "{comment}"
    );
    // The figures are of the 7 days before the digest, in Berlin time.
    assert!(
        comment.contains("Stats 2026-11-30 09:00 – 2026-12-07 08:59 Europe/Berlin"),
        "{comment}"
    );
    assert!(comment.contains("Opened "), "{comment}");
    // The next week's comes the next Monday.
    assert_eq!(
        app.desk
            .run_digest(monday_at + Duration::days(7))
            .await
            .expect("next week"),
        Some("2026-W51".to_string())
    );
    assert!(slack.violations().is_empty(), "{:?}", slack.violations());
}

/// Writes `docs/stats-example.png` from example data through the real code
/// (`desk::stats::compute` and `desk::chart::render_png`):
/// `cargo test --test stats -- --ignored write_docs_example`.
#[test]
#[ignore = "writes docs/stats-example.png"]
fn write_docs_example() {
    let now = at("2026-12-02T12:00:00Z");
    let times: Vec<claimdesk::store::stats::TicketTimes> = rows(now)
        .into_iter()
        .chain(rows(now - Duration::hours(7)))
        .map(|r| claimdesk::store::stats::TicketTimes {
            department: r.department.into(),
            assignee: r.assignee.map(str::to_string),
            opened_at: r.opened,
            first_response_at: r.first,
            resolved_at: r.resolved,
        })
        .collect();
    let wall = |_: &str, a: DateTime<Utc>, b: DateTime<Utc>| b - a;
    let report = claimdesk::desk::stats::compute(
        now - Duration::days(14),
        now,
        chrono_tz::UTC,
        None,
        &times,
        [3, 5, 2, 1],
        &[],
        Vec::new(),
        &wall,
    );
    let png_bytes = claimdesk::desk::chart::render_png(&report.chart).expect("chart");
    std::fs::create_dir_all(repo_path("docs")).expect("docs dir");
    std::fs::write(repo_path("docs/stats-example.png"), png_bytes).expect("write");
}

/// Response and resolution times count the department's working hours (`[sla.hours]`): a
/// ticket opened Friday 16:00 and answered Monday 10:00 in a 09:00–17:00 weekday department
/// took 2 working hours, not 66 wall-clock hours; a department without hours counts 24/7.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn times_are_counted_in_the_departments_working_hours() {
    let mut env = db_only(Platforms {
        slack: false,
        discord: false,
    })
    .await;
    with_billing(&mut env);
    let day = "09:00-17:00";
    env.settings.sla = serde_json::from_value(serde_json::json!({
        "enabled": false,
        "hours": {"billing": {"timezone": "UTC", "mon": day, "tue": day, "wed": day,
                              "thu": day, "fri": day}},
    }))
    .expect("sla settings");
    let app = env.app().await;
    let friday = at("2026-11-27T16:00:00Z");
    for (seq, department) in [(1, "billing"), (2, "support")] {
        insert(
            app.desk.pool(),
            seq,
            &Row {
                department,
                assignee: Some("ben"),
                opened: friday,
                first: Some(at("2026-11-30T10:00:00Z")),
                resolved: Some(at("2026-12-01T12:00:00Z")),
            },
        )
        .await;
    }
    let now = at("2026-12-02T12:00:00Z");
    let of = |department: &str| StatsQuery {
        range: Range::Days(7),
        department: Some(department.into()),
        channel: None,
    };
    let billing = app
        .desk
        .stats_at(&of("billing"), now)
        .await
        .expect("billing");
    assert_eq!(billing.first_response.median, Some(Duration::hours(2)));
    // Friday 1 h + Monday 8 h + Tuesday 3 h.
    assert_eq!(billing.resolution.median, Some(Duration::hours(12)));
    let support = app
        .desk
        .stats_at(&of("support"), now)
        .await
        .expect("support");
    assert_eq!(support.first_response.median, Some(Duration::hours(66)));
    assert_eq!(support.resolution.median, Some(Duration::hours(92)));
}
