//! The agents' pages: `/` (to My tickets), the lists `/tickets/mine`, `/tickets/unassigned`,
//! `/tickets/all`, one ticket `/tickets/{number}` with its attachments
//! (`/tickets/{number}/attachments/{id}`) and actions (`POST /tickets/{number}/{action}`),
//! and `/workload` with the stats chart (`/workload/chart.png`).
//!
//! Every action runs the desk's use case as the viewer through [`Viewer::actor`] (surface
//! `web`), so permissions, audit rows and the chat card refresh are exactly those of chat;
//! it answers with a redirect to the ticket page and a flash message (POST-redirect-GET).

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use chrono::{DateTime, Utc};
use maud::{html, Markup};

use super::layout::{csrf_field, message_response, page, page_live, Live};
use super::redirect_with_flash;
use super::session::Viewer;
use crate::desk::messages::web as words;
use crate::desk::DeskError;
use crate::domain::actions::CardAction;
use crate::domain::{Priority, Status};
use crate::store::queues::{Cursor, Holder, Queue, QueueFilter, QueueRow, SlaState, Sort};
use crate::web::WebState;

/// Tickets per list page.
pub const PAGE_SIZE: i64 = 50;

/// The pages' routes.
pub fn routes() -> Router<WebState> {
    Router::new()
        .route("/", get(home))
        .route("/tickets/mine", get(mine))
        .route("/tickets/unassigned", get(unassigned))
        .route("/tickets/all", get(all))
        .route("/tickets/{number}", get(ticket))
        .route("/tickets/{number}/attachments/{id}", get(attachment))
        .route("/tickets/{number}/{action}", post(act))
        .route("/workload", get(workload))
        .route("/workload/chart.png", get(chart))
}

async fn home(_v: Viewer) -> Response {
    Redirect::to("/tickets/mine").into_response()
}

/// The query string of the lists; an empty value does not filter.
type Params = HashMap<String, String>;

async fn mine(State(s): State<WebState>, v: Viewer, Query(q): Query<Params>) -> Response {
    let me = v.agent.id;
    list(&s, v, "mine", Queue::Mine(me), &q).await
}

async fn unassigned(State(s): State<WebState>, v: Viewer, Query(q): Query<Params>) -> Response {
    list(&s, v, "unassigned", Queue::Unassigned, &q).await
}

async fn all(State(s): State<WebState>, v: Viewer, Query(q): Query<Params>) -> Response {
    list(&s, v, "all", Queue::All, &q).await
}

/// An instant typed in a filter: a date (midnight UTC) or RFC 3339.
fn instant(text: &str) -> Option<DateTime<Utc>> {
    crate::desk::report::parse_instant(text).ok()
}

/// The filter of the query string `q` for `queue`, or the words of the first bad value.
pub fn filter_of(queue: Queue, q: &Params, now: DateTime<Utc>) -> Result<QueueFilter, String> {
    let get = |k: &str| q.get(k).map(|v| v.trim()).filter(|v| !v.is_empty());
    let sort = match get("sort") {
        None => Sort::default(),
        Some(x) => {
            Sort::parse(x).ok_or_else(|| words::bad_filter("sort", x, "due, age, last_customer"))?
        }
    };
    let mut f = QueueFilter::new(queue, sort, now);
    if let Some(x) = get("status") {
        f.status = Some(x.parse::<Status>().map_err(|_| {
            let known: Vec<&str> = Status::ALL.iter().map(|s| s.as_str()).collect();
            words::bad_filter("status", x, &known.join(", "))
        })?);
    }
    if let Some(x) = get("priority") {
        f.priority = Some(
            x.parse::<Priority>()
                .map_err(|_| words::bad_filter("priority", x, "low, medium, high, urgent"))?,
        );
    }
    f.department = get("department").map(str::to_string);
    f.assignee = get("assignee").map(|x| match x {
        "none" | "nobody" => Holder::Nobody,
        h => Holder::Handle(h.trim_start_matches('@').to_string()),
    });
    if let Some(x) = get("sla") {
        f.sla = Some(SlaState::parse(x).ok_or_else(|| {
            words::bad_filter("SLA state", x, "breached, at_risk, on_track, none")
        })?);
    }
    f.tag = get("tag").map(|t| t.to_lowercase());
    if let Some(x) = get("opened_from") {
        f.opened_from = Some(
            instant(x)
                .ok_or_else(|| words::bad_filter("date", x, "YYYY-MM-DD or an RFC 3339 time"))?,
        );
    }
    if let Some(x) = get("opened_to") {
        f.opened_to = Some(
            instant(x)
                .ok_or_else(|| words::bad_filter("date", x, "YYYY-MM-DD or an RFC 3339 time"))?,
        );
    }
    Ok(f)
}

/// The query string of `q` with `after` replaced (empty values dropped), for the next-page
/// link.
fn query_with_after(q: &Params, after: &str) -> String {
    let mut keys: Vec<&String> = q.keys().filter(|k| k.as_str() != "after").collect();
    keys.sort();
    let mut out = url::form_urlencoded::Serializer::new(String::new());
    for k in keys {
        if let Some(v) = q.get(k).filter(|v| !v.trim().is_empty()) {
            out.append_pair(k, v);
        }
    }
    out.append_pair("after", after);
    out.finish()
}

fn when(t: Option<DateTime<Utc>>) -> String {
    t.map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_default()
}

fn sla_cell(r: &QueueRow, now: DateTime<Utc>) -> Markup {
    let state = SlaState::of(r.sla_due_at, r.sla_warn_at, now);
    html! {
        @if let Some(d) = r.sla_due_at {
            span class={ "sla-" (state.as_str()) } { (state.as_str().replace('_', " ")) }
            " " time datetime=(d.to_rfc3339()) { (when(Some(d))) }
        }
    }
}

fn filters_form(action: &str, q: &Params, agents: &[crate::store::agents::Agent]) -> Markup {
    let v = |k: &str| q.get(k).cloned().unwrap_or_default();
    let select = |name: &str, label: &str, options: &[(&str, &str)]| {
        let current = v(name);
        html! {
            label for={ "f-" (name) } {
                (label)
                select id={ "f-" (name) } name=(name) {
                    @for (value, text) in options {
                        option value=(value) selected[current == *value] { (text) }
                    }
                }
            }
        }
    };
    let statuses: Vec<(&str, &str)> = std::iter::once(("", "any"))
        .chain(Status::ALL.iter().map(|s| (s.as_str(), s.label())))
        .collect();
    let holders: Vec<(String, String)> = [
        ("".into(), "anyone".into()),
        ("none".into(), "nobody".into()),
    ]
    .into_iter()
    .chain(
        agents
            .iter()
            .map(|a| (a.handle.clone(), format!("@{}", a.handle))),
    )
    .collect();
    let holder_refs: Vec<(&str, &str)> = holders
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    html! {
        form class="filters" method="get" action=(action) {
            (select("status", "Status", &statuses))
            (select("priority", "Priority", &[("", "any"), ("low", "low"), ("medium", "medium"), ("high", "high"), ("urgent", "urgent")]))
            label for="f-department" { "Department" input id="f-department" name="department" value=(v("department")) size="10"; }
            (select("assignee", "Assignee", &holder_refs))
            (select("sla", "SLA", &[("", "any"), ("breached", "breached"), ("at_risk", "at risk"), ("on_track", "on track"), ("none", "no clock")]))
            label for="f-tag" { "Tag" input id="f-tag" name="tag" value=(v("tag")) size="10"; }
            label for="f-from" { "Opened from" input id="f-from" type="date" name="opened_from" value=(v("opened_from")); }
            label for="f-to" { "Opened before" input id="f-to" type="date" name="opened_to" value=(v("opened_to")); }
            (select("sort", "Sort by", &[("due", "SLA due time"), ("age", "age (oldest first)"), ("last_customer", "last customer message")]))
            button type="submit" { "Apply" }
        }
    }
}

async fn list(s: &WebState, v: Viewer, which: &str, queue: Queue, q: &Params) -> Response {
    let now = Utc::now();
    let action = format!("/tickets/{which}");
    let agents = s.desk.all_agents().await.unwrap_or_default();
    let title = words::list_title(which);
    let filter = match filter_of(queue, q, now) {
        Ok(f) => f,
        Err(e) => return (
            StatusCode::BAD_REQUEST,
            page_live(
                title,
                Some(&v),
                Live::List,
                html! { p class="error" role="alert" { (e) } (filters_form(&action, q, &agents)) },
            ),
        )
            .into_response(),
    };
    let after = match q.get("after").map(|a| a.trim()).filter(|a| !a.is_empty()) {
        None => None,
        Some(a) => match Cursor::decode(a) {
            Some(c) => Some(c),
            None => {
                return (
                    StatusCode::BAD_REQUEST,
                    page_live(
                        title,
                        Some(&v),
                        Live::List,
                        html! { p class="error" role="alert" { (words::bad_filter("page", a, "a link from the list")) } },
                    ),
                )
                    .into_response()
            }
        },
    };
    let result = s.desk.queue_page(&filter, after.as_ref(), PAGE_SIZE).await;
    let pg = match result {
        Ok(p) => p,
        Err(e) => return desk_error(&e),
    };
    let body = html! {
        (filters_form(&action, q, &agents))
        @if pg.rows.is_empty() {
            p { (words::LIST_EMPTY) }
        } @else {
            table {
                caption class="muted" { (title) }
                thead { tr {
                    th scope="col" { "Ticket" } th scope="col" { "Subject" } th scope="col" { "Requester" }
                    th scope="col" { "Status" } th scope="col" { "Priority" } th scope="col" { "Department" }
                    th scope="col" { "Assignee" } th scope="col" { "Tags" } th scope="col" { "SLA" }
                    th scope="col" { "Opened" } th scope="col" { "Last customer message" }
                } }
                tbody {
                    @for r in &pg.rows {
                        tr data-ticket=(r.number) {
                            td { a href={ "/tickets/" (r.number) } { (r.number) } }
                            td { (r.subject) }
                            td { (r.requester_name.as_deref().unwrap_or(&r.requester_email)) }
                            td { (r.status.replace('_', " ")) }
                            td { (r.priority) }
                            td { (r.department) }
                            td { @if let Some(a) = &r.assignee { "@" (a) } }
                            td { @for t in &r.tags { span class="tag" { (t) } } }
                            td { (sla_cell(r, now)) }
                            td { time datetime=(r.opened_at.to_rfc3339()) { (when(Some(r.opened_at))) } }
                            td { (when(r.last_customer_at)) }
                        }
                    }
                }
            }
        }
        @if let Some(next) = &pg.next {
            p { a rel="next" href={ (action) "?" (query_with_after(q, &next.encode())) } { (words::NEXT_PAGE) } }
        }
    };
    page_live(title, Some(&v), Live::List, body).into_response()
}

/// The page for a refused or failed use case.
fn desk_error(e: &DeskError) -> Response {
    let code = match e {
        DeskError::BadTicketNumber(_) | DeskError::NoSuchTicket(_) => StatusCode::NOT_FOUND,
        DeskError::Store(err) => {
            tracing::error!(error = %err, "web view: database error");
            StatusCode::SERVICE_UNAVAILABLE
        }
        _ => StatusCode::BAD_REQUEST,
    };
    message_response(code, "Not done", &crate::desk::messages::error(e))
}

/// One entry of the conversation: a message or a note, by time.
enum Entry<'a> {
    Message(&'a crate::desk::query::MessageView),
    Note(&'a crate::store::notes::Note),
}

async fn ticket(State(s): State<WebState>, v: Viewer, Path(number): Path<String>) -> Response {
    let d = match s.desk.show(&number).await {
        Ok(d) => d,
        Err(e) => return desk_error(&e),
    };
    let notes = match s.desk.notes_of(&number).await {
        Ok(n) => n,
        Err(e) => return desk_error(&e),
    };
    let agents = s.desk.all_agents().await.unwrap_or_default();
    let t = &d.summary;
    // What this viewer is offered, by the domain's rule (as on the chat cards); a status
    // that does not parse offers nothing.
    let offered = t
        .status
        .parse::<Status>()
        .map(|st| s.desk.offered_to(&v.agent, st, t.assignee.as_deref()))
        .unwrap_or_default();
    let may = |a: CardAction| offered.contains(&a);
    let may_assign = s.desk.may_assign(&v.agent);
    let mut entries: Vec<(String, Entry<'_>)> = d
        .messages
        .iter()
        .map(|m| (m.at.clone(), Entry::Message(m)))
        .collect();
    for n in &notes {
        entries.push((n.created_at.to_rfc3339(), Entry::Note(n)));
    }
    // RFC 3339 strings of one zone (UTC) sort as time; the sort is stable.
    entries.sort_by(|a, b| {
        let pa = DateTime::parse_from_rfc3339(&a.0).ok();
        let pb = DateTime::parse_from_rfc3339(&b.0).ok();
        pa.cmp(&pb)
    });
    let number = t.number.clone();
    let path = format!("/tickets/{number}");
    let merged = t.merged_into.is_some();
    let body = html! {
        // Each part has an id so the live feed (assets/live.js) can swap it when the
        // ticket changes elsewhere.
        p id="t-subject" class="subject" { strong { "Subject: " } (t.subject) }
        dl id="t-facts" class="facts" {
            dt { "Status" } dd { (t.status.replace('_', " ")) }
            dt { "Priority" } dd { (d.priority) }
            dt { "Department" } dd { (d.department) }
            dt { "Assignee" } dd { @if let Some(a) = &t.assignee { "@" (a) } @else { "nobody" } }
            dt { "Requester" } dd { (t.requester) }
            dt { "Opened" } dd { (t.opened_at) }
            @if let Some(sla) = &t.sla {
                dt { "SLA" } dd { (sla.metric.replace('_', " ")) " due " (sla.due_at.to_rfc3339()) }
            }
            @if let Some(m) = &t.merged_into {
                dt { "Merged into" } dd { a href={ "/tickets/" (m) } { (m) } }
            }
            @if let Some(l) = &t.linked_to {
                dt { "Linked to" } dd { a href={ "/tickets/" (l) } { (l) } }
            }
            @if let Some(r) = &d.rating {
                dt { (words::CUSTOMER_RATING_LABEL) }
                dd class={ "rating rating-" (r.rating.as_str()) } {
                    (words::rating_summary(r.rating, r.comment.as_deref()))
                }
            }
        }
        @if !merged {
            section id="t-actions" class="actions" aria-label="Actions" {
                @if may(CardAction::Claim) {
                    form method="post" action={ (path) "/claim" } { (csrf_field(&v)) button type="submit" { "Claim" } }
                }
                @if may(CardAction::Unclaim) {
                    form method="post" action={ (path) "/unclaim" } { (csrf_field(&v)) button type="submit" { "Unclaim" } }
                }
                form method="post" action={ (path) "/status" } {
                    (csrf_field(&v))
                    label for="status" { "Status " }
                    select id="status" name="status" {
                        @for st in ["open", "in_progress", "waiting", "resolved", "closed"] {
                            option value=(st) selected[t.status == st] { (st.replace('_', " ")) }
                        }
                    }
                    " " button type="submit" { "Set status" }
                }
                form method="post" action={ (path) "/priority" } {
                    (csrf_field(&v))
                    label for="priority" { "Priority " }
                    select id="priority" name="priority" {
                        @for p in ["low", "medium", "high", "urgent"] {
                            option value=(p) selected[d.priority == p] { (p) }
                        }
                    }
                    " " button type="submit" { "Set priority" }
                }
                @if may_assign {
                    form method="post" action={ (path) "/assign" } {
                        (csrf_field(&v))
                        label for="handle" { "Assign to " }
                        select id="handle" name="handle" {
                            @for a in &agents {
                                option value=(a.handle) selected[t.assignee.as_deref() == Some(a.handle.as_str())] { "@" (a.handle) }
                            }
                        }
                        " " button type="submit" { "Assign" }
                    }
                }
            }
        }
        section id="t-conversation" aria-labelledby="conv" {
            h2 id="conv" { "Conversation" }
            @for (_, e) in &entries {
                @match e {
                    Entry::Message(m) => {
                        article class={ "msg " (m.direction) } {
                            p {
                                span class="who" {
                                    @if m.direction == "inbound" { (words::CUSTOMER_LABEL) } @else { (words::REPLY_LABEL) }
                                }
                                " · " (m.from) " · " time datetime=(m.at) { (m.at) }
                                @if m.direction == "outbound" && m.sent_at.is_none() { " · not sent yet" }
                            }
                            pre { (m.body) }
                            @if !m.attachments.is_empty() {
                                ul class="attachments" aria-label="Attachments" {
                                    @for a in &m.attachments {
                                        li {
                                            @let name = a.name.clone().unwrap_or_else(|| "unnamed".into());
                                            @if a.store == "skipped" {
                                                (name) " (" (crate::desk::content::human_size(a.size)) ") — " (words::ATTACHMENT_NOT_KEPT)
                                            } @else {
                                                a href={ (path) "/attachments/" (a.id) } download { (name) }
                                                " (" (a.content_type) ", " (crate::desk::content::human_size(a.size)) ")"
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                    Entry::Note(n) => {
                        article class="msg note" {
                            p {
                                span class="who" { (words::NOTE_LABEL) }
                                " · " @if let Some(a) = &n.author { "@" (a) } @else { "claimdesk" }
                                " · " time datetime=(n.created_at.to_rfc3339()) { (n.created_at.to_rfc3339()) }
                            }
                            pre { (n.body) }
                        }
                    }
                }
            }
        }
        @if !merged {
            section id="t-compose" class="compose" aria-label="Reply and note" {
                @if may(CardAction::Reply) {
                    form method="post" action={ (path) "/reply" } {
                        (csrf_field(&v))
                        h2 { label for="reply-text" { "Reply to the customer" } }
                        p class="recipient" { (words::reply_recipient(&t.requester)) }
                        textarea id="reply-text" name="text" required {}
                        button type="submit" { "Send reply to " (t.requester) }
                    }
                }
                @if may(CardAction::Note) {
                    form method="post" action={ (path) "/note" } {
                        (csrf_field(&v))
                        h2 { label for="note-text" { "Internal note" } }
                        p class="muted" { (words::NOTE_LABEL) }
                        textarea id="note-text" name="text" required {}
                        button type="submit" { "Add note" }
                    }
                }
            }
        }
        section id="t-history" aria-labelledby="hist" {
            h2 id="hist" { "History" }
            table {
                thead { tr { th scope="col" { "When" } th scope="col" { "Who" } th scope="col" { "Via" } th scope="col" { "What" } th scope="col" { "Before" } th scope="col" { "After" } } }
                tbody {
                    @for h in &d.history {
                        tr {
                            td { (h.at) } td { (h.actor) } td { (h.surface) } td { (h.action) }
                            td { @if let Some(b) = &h.before { code { (b.to_string()) } } }
                            td { @if let Some(a) = &h.after { code { (a.to_string()) } } }
                        }
                    }
                }
            }
        }
    };
    page_live(&number, Some(&v), Live::Ticket(&number), body).into_response()
}

/// The attachment types served as what they are ([`safe_content_type`]): raster images a
/// browser shows inertly, PDF and plain text. Anything else (HTML, SVG, XML, scripts…) could
/// run script if a browser rendered it, so it goes out as `application/octet-stream`.
pub const INLINE_SAFE_TYPES: &[&str] = &[
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/webp",
    "image/bmp",
    "image/avif",
    "application/pdf",
    "text/plain",
];

/// `Content-Security-Policy` of an attachment download: no script, no subresource, an
/// opaque origin, whatever a browser makes of the bytes.
pub const ATTACHMENT_CSP: &str = "sandbox; default-src 'none'";

/// The `Content-Type` an attachment labelled `ct` is sent with: its `type/subtype`
/// (lower-cased, parameters dropped) when in [`INLINE_SAFE_TYPES`], else
/// `application/octet-stream`.
pub fn safe_content_type(ct: &str) -> String {
    let base = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if INLINE_SAFE_TYPES.contains(&base.as_str()) {
        base
    } else {
        "application/octet-stream".into()
    }
}

/// `Content-Disposition: attachment` for file `name` (RFC 6266): an ASCII `filename` of
/// letters, digits, `.`, `-`, `_` (others become `_`; no path, no leading dot), and the
/// full name as `filename*=UTF-8''…` (RFC 8187 percent-encoding).
pub fn disposition(name: Option<&str>) -> String {
    let name = name
        .map(|n| n.rsplit(['/', '\\']).next().unwrap_or(n).trim())
        .filter(|n| !n.is_empty())
        .unwrap_or("attachment");
    let ascii: String = name
        .chars()
        .take(100)
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let ascii = ascii.trim_start_matches('.');
    let ascii = if ascii.is_empty() {
        "attachment"
    } else {
        ascii
    };
    let encoded: String = name
        .chars()
        .take(200)
        .collect::<String>()
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

async fn attachment(
    State(s): State<WebState>,
    _v: Viewer,
    Path((number, id)): Path<(String, i64)>,
) -> Response {
    match s.desk.ticket_attachment(&number, id).await {
        Ok(Some((f, data))) => {
            let mut r = data.into_response();
            let h = r.headers_mut();
            if let Ok(v) = HeaderValue::from_str(&safe_content_type(&f.content_type)) {
                h.insert(header::CONTENT_TYPE, v);
            }
            if let Ok(v) = HeaderValue::from_str(&disposition(f.name.as_deref())) {
                h.insert(header::CONTENT_DISPOSITION, v);
            }
            h.insert(
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            );
            h.insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("private, no-store"),
            );
            h.insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(ATTACHMENT_CSP),
            );
            r
        }
        Ok(None) => message_response(
            StatusCode::NOT_FOUND,
            "Not found",
            words::ATTACHMENT_NOT_KEPT,
        ),
        Err(e) => desk_error(&e),
    }
}

/// The fields an action form may post.
#[derive(Debug, serde::Deserialize)]
struct ActionForm {
    #[serde(default, rename = "_csrf")]
    csrf: String,
    #[serde(default)]
    text: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    priority: String,
    #[serde(default)]
    handle: String,
}

async fn act(
    State(s): State<WebState>,
    v: Viewer,
    Path((number, action)): Path<(String, String)>,
    Form(f): Form<ActionForm>,
) -> Response {
    if let Err(r) = v.check_csrf(&f.csrf) {
        return r;
    }
    let actor = v.actor();
    let desk = &s.desk;
    let started = std::time::Instant::now();
    let done: Result<(String, String), DeskError> = match action.as_str() {
        "claim" => desk
            .claim(&actor, &number)
            .await
            .map(|o| (o.number, String::new())),
        "unclaim" => desk
            .unclaim(&actor, &number)
            .await
            .map(|o| (o.number, String::new())),
        "reply" => desk
            .reply(&actor, &number, &f.text)
            .await
            .map(|o| (o.number, o.to)),
        "note" => desk
            .note(&actor, &number, &f.text)
            .await
            .map(|n| (n, String::new())),
        "status" => match f.status.trim().parse::<Status>() {
            Ok(st) => desk
                .set_status(&actor, &number, st)
                .await
                .map(|o| (o.number, o.to.label().to_lowercase())),
            Err(_) => Err(DeskError::BadInput(words::bad_filter(
                "status",
                &f.status,
                "open, in_progress, waiting, resolved, closed",
            ))),
        },
        "priority" => match f.priority.trim().parse::<Priority>() {
            Ok(p) => desk
                .set_priority(&actor, &number, p)
                .await
                .map(|o| (o.number, p.as_str().to_string())),
            Err(_) => Err(DeskError::BadInput(words::bad_filter(
                "priority",
                &f.priority,
                "low, medium, high, urgent",
            ))),
        },
        "assign" => desk
            .assign(&actor, &number, f.handle.trim().trim_start_matches('@'))
            .await
            .map(|o| (o.number, o.to)),
        _ => {
            return message_response(StatusCode::NOT_FOUND, "Not found", words::NO_SUCH_PAGE);
        }
    };
    // `action` is one of the names matched above (the catalogue's command names).
    metrics::histogram!(crate::metrics::COMMAND_LATENCY,
        "surface" => "web", "command" => action.clone())
    .record(started.elapsed().as_secs_f64());
    let back = match number.parse::<crate::domain::TicketNumber>().ok() {
        Some(n) => format!("/tickets/{n}"),
        None => "/tickets/mine".into(),
    };
    match done {
        Ok((n, detail)) => redirect_with_flash(
            &back,
            &words::action_done(&action, &n, &detail),
            s.web.is_https(),
        ),
        Err(
            e @ (DeskError::BadTicketNumber(_) | DeskError::NoSuchTicket(_) | DeskError::Store(_)),
        ) => desk_error(&e),
        Err(e) => redirect_with_flash(&back, &crate::desk::messages::error(&e), s.web.is_https()),
    }
}

/// `range`, `department`: the stats query of the workload page.
#[derive(Debug, serde::Deserialize)]
struct StatsParams {
    range: Option<String>,
    department: Option<String>,
}

fn stats_query(p: &StatsParams) -> Result<crate::desk::stats::StatsQuery, String> {
    let range = match p.range.as_deref().map(str::trim).filter(|r| !r.is_empty()) {
        None => crate::domain::report::Range::default(),
        Some(r) => crate::domain::report::Range::parse(r).ok_or_else(|| {
            words::bad_filter("range", r, "today, 7d, 28d or 2026-11-01..2026-11-30")
        })?,
    };
    Ok(crate::desk::stats::StatsQuery {
        range,
        department: p
            .department
            .as_deref()
            .map(str::trim)
            .filter(|d| !d.is_empty())
            .map(str::to_string),
        channel: None,
    })
}

async fn workload(State(s): State<WebState>, v: Viewer, Query(p): Query<StatsParams>) -> Response {
    let w = match s.desk.workload().await {
        Ok(w) => w,
        Err(e) => return desk_error(&e),
    };
    let query = match stats_query(&p) {
        Ok(q) => q,
        Err(e) => return message_response(StatusCode::BAD_REQUEST, words::NAV[4], &e),
    };
    let report = match s.desk.stats(&query).await {
        Ok(r) => r,
        Err(e) => return desk_error(&e),
    };
    let chart_query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("range", p.range.as_deref().unwrap_or(""))
        .append_pair("department", p.department.as_deref().unwrap_or(""))
        .finish();
    let body = html! {
        section aria-labelledby="load" {
            h2 id="load" { "Workload" }
            pre class="figures" { (crate::desk::messages::workload(&w)) }
        }
        section aria-labelledby="stats" {
            h2 id="stats" { "Figures" }
            form class="filters" method="get" action="/workload" {
                label for="w-range" { "Range" input id="w-range" name="range" value=(p.range.clone().unwrap_or_default()) placeholder="7d"; }
                label for="w-dept" { "Department" input id="w-dept" name="department" value=(p.department.clone().unwrap_or_default()); }
                button type="submit" { "Show" }
            }
            pre class="figures" { (crate::desk::messages::stats_report(&report, None)) }
            img class="chart" src={ "/workload/chart.png?" (chart_query) }
                alt="Chart of tickets opened and resolved per day over the range, and the backlog";
        }
    };
    page(words::NAV[4], Some(&v), body).into_response()
}

async fn chart(State(s): State<WebState>, _v: Viewer, Query(p): Query<StatsParams>) -> Response {
    let query = match stats_query(&p) {
        Ok(q) => q,
        Err(e) => return message_response(StatusCode::BAD_REQUEST, words::NAV[4], &e),
    };
    let report = match s.desk.stats(&query).await {
        Ok(r) => r,
        Err(e) => return desk_error(&e),
    };
    let png =
        tokio::task::spawn_blocking(move || crate::desk::chart::render_png(&report.chart)).await;
    match png {
        Ok(Ok(bytes)) => (
            [
                (header::CONTENT_TYPE, "image/png"),
                (header::CACHE_CONTROL, "private, max-age=60"),
            ],
            bytes,
        )
            .into_response(),
        Ok(Err(e)) => {
            tracing::error!(error = %e, "web view: chart");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
        Err(e) => {
            tracing::error!(error = %e, "web view: chart task");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types_are_allowlisted_or_octet_stream() {
        assert_eq!(safe_content_type("Image/PNG"), "image/png");
        assert_eq!(safe_content_type("text/plain; charset=utf-8"), "text/plain");
        assert_eq!(safe_content_type("application/PDF"), "application/pdf");
        for bad in [
            "text/html; charset=utf-8",
            "image/svg+xml",
            "application/xhtml+xml",
            "text/xml",
            "application/javascript",
            "text/javascript",
            "multipart/x-mixed-replace",
            "",
            "text",
            "text/",
            "/x",
            "text/html\r\nX: y",
            "a b/c",
            "téxt/plain",
        ] {
            assert_eq!(safe_content_type(bad), "application/octet-stream", "{bad}");
        }
    }

    #[test]
    fn dispositions_are_safe_attachments() {
        let d = disposition(Some("../../etc/passwd"));
        assert!(d.starts_with("attachment; filename=\"passwd\""), "{d}");
        let d = disposition(Some("a\"b\r\n.pdf"));
        assert!(d.contains("filename=\"a_b__.pdf\""), "{d}");
        assert!(!d.contains('\r') && !d.contains('\n'));
        let d = disposition(Some("résumé.pdf"));
        assert!(d.contains("filename*=UTF-8''r%C3%A9sum%C3%A9.pdf"), "{d}");
        assert!(disposition(None).contains("filename=\"attachment\""));
        assert!(disposition(Some(".htaccess")).contains("filename=\"htaccess\""));
        assert!(HeaderValue::from_str(&disposition(Some("x\u{0}y"))).is_ok());
    }

    #[test]
    fn filters_parse_or_explain() {
        let now = Utc::now();
        let q: Params = [
            ("status", "open"),
            ("sort", "age"),
            ("tag", "VIP"),
            ("assignee", "@ana"),
        ]
        .into_iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
        let f = filter_of(Queue::All, &q, now).unwrap();
        assert_eq!(f.status, Some(Status::Open));
        assert_eq!(f.sort, Sort::Age);
        assert_eq!(f.tag.as_deref(), Some("vip"));
        assert_eq!(f.assignee, Some(Holder::Handle("ana".into())));
        for (k, bad) in [
            ("status", "nope"),
            ("sort", "x"),
            ("sla", "late"),
            ("opened_from", "yesterday"),
            ("priority", "p1"),
        ] {
            let q: Params = [(k.to_string(), bad.to_string())].into_iter().collect();
            let e = filter_of(Queue::All, &q, now).unwrap_err();
            assert!(e.contains(bad), "{e}");
        }
    }
}
