//! Local stand-ins of the Slack Web API and the Discord REST API (v10) for integration tests.
//!
//! Every request is checked against the platforms' official specs, read in place from
//! `../shared/specs/` (never copied into the repository):
//! - Slack: `slack/web-openapi-v2.json` (Swagger 2.0; `formData`/`query` parameters).
//! - Discord: `discord/openapi.json` (OpenAPI 3.1; request bodies are JSON schemas).
//!
//! A request that breaks the spec is answered the way the platform answers a bad request
//! (Slack: HTTP 200 `{"ok":false,"error":…}`; Discord: HTTP 400 `{"code":50035,…}`), is NOT
//! listed by `requests()`, and leaves a human-readable line in `violations()`.
//! Tests assert `violations().is_empty()`.
//!
//! Beyond the machine-readable specs a few documented platform rules are enforced (see
//! `DISCORD_DOC_RULES` / the Block Kit checks); deliberate leniencies are listed next to the
//! code that applies them (search for "LENIENT").
//!
//! Referencing something this stand-in never returned (editing an unknown Discord message or
//! Slack `ts`, replying in an unknown Slack thread, starting a second thread on one Discord
//! message) is answered with the platform's real error AND recorded as a violation: in an
//! integration test it means the app lost track of what it posted.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use axum::Router;
use serde_json::Value;
use tokio::sync::watch;
use tokio::task::JoinHandle;

mod blocks;
mod discord;
mod gateway;
pub mod schema;
mod slack;

pub use discord::{
    validate_discord_schema, validate_interaction_response, DiscordStandin, DISCORD_DOC_RULES,
};
pub use gateway::GatewayStandin;
pub use slack::{validate_slack_response, SlackStandin};

// ====================================================================================
// Public API
// ====================================================================================

/// One request as the stand-in received it. Header names are lower-case.
/// `body` is the parsed JSON body (Slack form bodies become an object of strings; Discord
/// multipart bodies are represented by their `payload_json` part; empty bodies are `Null`;
/// anything unparseable is kept as a JSON string).
#[derive(Clone, Debug)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Value,
}

impl Recorded {
    /// First value of a header (name compared case-insensitively).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Behaviour {
    /// Validate and answer like the platform.
    Normal,
    /// HTTP 500.
    Fail500,
    /// HTTP 429 with `Retry-After` (Discord also gets the JSON rate-limit body and headers).
    RateLimited { retry_after_secs: u64 },
    /// Never answer (the request is held until the stand-in stops).
    Hang,
    /// A refusal no retry can fix: Slack `{"ok": false, "error": "missing_scope"}` (HTTP
    /// 200, as Slack answers), Discord HTTP 403 `{"code": 50007, "message": "Cannot send
    /// messages to this user"}`.
    Refused,
    /// Validate and carry out the call (the message is stored), then answer HTTP 500 as if
    /// the answer had been lost on the way back: the caller cannot know its call worked.
    AcceptThen500,
    /// Carry out the call, then never answer (held until the stand-in stops): the caller
    /// times out or dies not knowing; with a dropped transaction this is a crash between the
    /// platform accepting and the outbox commit.
    AcceptThenHang,
}

/// A file part of a Discord multipart request (`files[n]`).
#[derive(Clone, Debug)]
pub struct Upload {
    pub path: String,
    pub field: String,
    pub filename: Option<String>,
    pub content_type: Option<String>,
    pub data: Vec<u8>,
}

/// Ids the Slack stand-in uses for "itself".
pub const SLACK_TEAM_ID: &str = "T0STANDIN1";
pub const SLACK_BOT_USER_ID: &str = "U0STANDIN1";
pub const SLACK_BOT_ID: &str = "B0STANDIN1";
pub const SLACK_APP_ID: &str = "A0STANDIN1";
/// Ids the Discord stand-in uses for "itself" and for the guild every channel belongs to.
pub const DISCORD_BOT_USER_ID: &str = "1100000000000000001";
pub const DISCORD_GUILD_ID: &str = "1100000000000000002";

// ====================================================================================
// Shared plumbing
// ====================================================================================

struct CoreInner {
    received: Vec<Recorded>,
    accepted: Vec<Recorded>,
    violations: Vec<String>,
    behaviour: Behaviour,
    queued: VecDeque<Behaviour>,
}

struct Core {
    inner: Mutex<CoreInner>,
    shutdown_tx: watch::Sender<bool>,
    shutdown_rx: watch::Receiver<bool>,
}

impl Core {
    fn new() -> Core {
        let (tx, rx) = watch::channel(false);
        Core {
            inner: Mutex::new(CoreInner {
                received: vec![],
                accepted: vec![],
                violations: vec![],
                behaviour: Behaviour::Normal,
                queued: VecDeque::new(),
            }),
            shutdown_tx: tx,
            shutdown_rx: rx,
        }
    }
    fn lock(&self) -> std::sync::MutexGuard<'_, CoreInner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
    fn next_behaviour(&self) -> Behaviour {
        let mut c = self.lock();
        c.queued.pop_front().unwrap_or(c.behaviour)
    }
    fn violation(&self, rec: &Recorded, msg: impl AsRef<str>) {
        let line = format!("{} {}: {}", rec.method, rec.path, msg.as_ref());
        eprintln!("[standin violation] {line}");
        self.lock().violations.push(line);
    }
    /// Waits until the stand-in stops (used by `Behaviour::Hang`).
    async fn hang(&self) {
        let mut rx = self.shutdown_rx.clone();
        let _ = rx.wait_for(|v| *v).await;
    }
}

struct Server {
    addr: SocketAddr,
    task: Option<JoinHandle<()>>,
    shutdown: watch::Sender<bool>,
}

impl Server {
    async fn start(
        app: Router,
        rx: watch::Receiver<bool>,
        tx: watch::Sender<bool>,
    ) -> anyhow::Result<Server> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let mut rx2 = rx.clone();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = rx2.wait_for(|v| *v).await;
                })
                .await;
        });
        Ok(Server {
            addr,
            task: Some(task),
            shutdown: tx,
        })
    }
    async fn stop(mut self) {
        let _ = self.shutdown.send(true);
        if let Some(task) = self.task.take() {
            let abort = task.abort_handle();
            if tokio::time::timeout(Duration::from_secs(5), task)
                .await
                .is_err()
            {
                abort.abort();
            }
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
    }
}

fn header_pairs(h: &HeaderMap) -> Vec<(String, String)> {
    h.iter()
        .map(|(k, v)| {
            (
                k.as_str().to_ascii_lowercase(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect()
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

fn json_response(status: StatusCode, body: &Value, extra: &[(&str, String)]) -> Response {
    let mut b = Response::builder()
        .status(status)
        .header("content-type", "application/json; charset=utf-8");
    for (k, v) in extra {
        b = b.header(*k, v.as_str());
    }
    b.body(Body::from(body.to_string())).unwrap()
}

fn empty_response(status: StatusCode, extra: &[(&str, String)]) -> Response {
    let mut b = Response::builder().status(status);
    for (k, v) in extra {
        b = b.header(*k, v.as_str());
    }
    b.body(Body::empty()).unwrap()
}

fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, false)
}

fn load_spec(rel: &str) -> Value {
    // This crate sits in `testkit/` of the checkout; the specs sit beside the checkout.
    let path = format!("{}/../../shared/specs/{}", env!("CARGO_MANIFEST_DIR"), rel);
    let text =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read spec {path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("cannot parse spec {path}: {e}"))
}

fn slack_spec() -> &'static Value {
    static S: OnceLock<Value> = OnceLock::new();
    S.get_or_init(|| load_spec("slack/web-openapi-v2.json"))
}

fn discord_spec() -> &'static Value {
    static S: OnceLock<Value> = OnceLock::new();
    S.get_or_init(|| load_spec("discord/openapi.json"))
}

/// Process-wide counters: ids/timestamps never repeat between stand-in instances of one test
/// binary, so an app that restarts against a fresh stand-in cannot accidentally hit an old id.
static SLACK_TS_COUNTER: AtomicU64 = AtomicU64::new(0);
static DISCORD_SNOWFLAKE_LAST: AtomicU64 = AtomicU64::new(0);

/// `"1700000000.000100"`, `"1700000000.000200"`, … unique and increasing.
/// A message `ts` as Slack makes them: the current time in seconds with six decimals
/// (microseconds), strictly increasing within the process (so `oldest` / `latest` ranges of
/// `conversations.history` and `conversations.replies` mean what they mean on Slack).
fn next_slack_ts() -> String {
    static LAST_MICROS: AtomicU64 = AtomicU64::new(0);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0);
    let prev = LAST_MICROS
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |last| {
            Some(now.max(last + 1))
        })
        .unwrap_or(0);
    let micros = now.max(prev + 1);
    format!("{}.{:06}", micros / 1_000_000, micros % 1_000_000)
}

/// A Slack `ts` (`1700000000.000100`, or a bare number of seconds) as microseconds since the
/// epoch, for comparing and ranging; `None` when it is not one.
fn slack_ts_micros(ts: &str) -> Option<u64> {
    let (secs, frac) = ts.split_once('.').unwrap_or((ts, ""));
    let secs: u64 = secs.parse().ok()?;
    let frac: String = frac.chars().chain(std::iter::repeat('0')).take(6).collect();
    Some(secs * 1_000_000 + frac.parse::<u64>().ok()?)
}

/// A real-looking snowflake: (ms since 2015-01-01) << 22, strictly increasing.
fn next_snowflake() -> u64 {
    const DISCORD_EPOCH_MS: u64 = 1_420_070_400_000;
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(DISCORD_EPOCH_MS + 1);
    let candidate = (now_ms - DISCORD_EPOCH_MS) << 22;
    let mut last = DISCORD_SNOWFLAKE_LAST.load(Ordering::SeqCst);
    loop {
        let next = candidate.max(last + 1);
        match DISCORD_SNOWFLAKE_LAST.compare_exchange(
            last,
            next,
            Ordering::SeqCst,
            Ordering::SeqCst,
        ) {
            Ok(_) => return next,
            Err(actual) => last = actual,
        }
    }
}

fn strip_nulls(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), strip_nulls(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(strip_nulls).collect()),
        other => other.clone(),
    }
}

fn parse_query(uri: &Uri) -> Vec<(String, String)> {
    uri.query()
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .into_owned()
                .collect()
        })
        .unwrap_or_default()
}
