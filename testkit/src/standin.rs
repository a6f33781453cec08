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

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::Response;
use axum::Router;
use serde_json::{json, Map, Value};
use tokio::sync::watch;
use tokio::task::JoinHandle;

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

pub struct SlackStandin {
    pub port: u16,
    /// Port of the Socket Mode WebSocket server (`ws://127.0.0.1:PORT/link/…`, the URL
    /// `apps.connections.open` answers with).
    pub socket_port: u16,
    /// `http://127.0.0.1:PORT/api` — pass to `SlackClientHyperConnector::with_slack_api_url`.
    pub api_url: String,
    state: Arc<SlackState>,
    server: Server,
}

impl SlackStandin {
    pub async fn start() -> anyhow::Result<SlackStandin> {
        slack_spec(); // parse the spec before the first request, fail early if missing
        let ws_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let socket_port = ws_listener.local_addr()?.port();
        let state = Arc::new(SlackState {
            core: Core::new(),
            data: Mutex::new(SlackData {
                socket_url: format!("ws://127.0.0.1:{socket_port}/link/"),
                ..SlackData::default()
            }),
            socket: SocketHub::default(),
        });
        tokio::spawn(socket_accept(state.clone(), ws_listener));
        let app = Router::new()
            .fallback(slack_entry)
            .with_state(state.clone());
        let server = Server::start(
            app,
            state.core.shutdown_rx.clone(),
            state.core.shutdown_tx.clone(),
        )
        .await?;
        Ok(SlackStandin {
            port: server.addr.port(),
            socket_port,
            api_url: format!("http://127.0.0.1:{}/api", server.addr.port()),
            state,
            server,
        })
    }
    /// Every request that validated OK and was answered normally, in arrival order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.state.core.lock().accepted.clone()
    }
    /// Every request received, whatever happened to it (useful to count retries).
    pub fn received(&self) -> Vec<Recorded> {
        self.state.core.lock().received.clone()
    }
    /// Accepted calls of one Web API method, e.g. `"chat.postMessage"`.
    pub fn calls_to(&self, method: &str) -> Vec<Recorded> {
        let path = format!("/api/{method}");
        self.requests()
            .into_iter()
            .filter(|r| r.path == path)
            .collect()
    }
    /// Accepted `chat.postMessage` calls that posted a ticket card: top-level messages (no
    /// `thread_ts`) whose first block is the card's `*TICK-…` headline. Channel notices
    /// (a suspected mail loop, an admin ping) and thread posts are left out.
    pub fn card_posts(&self) -> Vec<Recorded> {
        self.calls_to("chat.postMessage")
            .into_iter()
            .filter(|c| c.body["thread_ts"].is_null())
            .filter(|c| {
                c.body["blocks"][0]["text"]["text"]
                    .as_str()
                    .is_some_and(|t| t.starts_with("*TICK-"))
            })
            .collect()
    }
    pub fn violations(&self) -> Vec<String> {
        self.state.core.lock().violations.clone()
    }
    /// Applies to all following requests until changed.
    pub fn set_behaviour(&self, b: Behaviour) {
        let mut c = self.state.core.lock();
        c.behaviour = b;
        c.queued.clear();
    }
    /// One-shot behaviours, used (in order) for the next requests before the sticky one
    /// (e.g. queue `RateLimited` once to test that the app retries).
    pub fn queue_behaviour(&self, b: Behaviour) {
        self.state.core.lock().queued.push_back(b);
    }
    /// A loopback `response_url` (as Slack puts in slash-command and interaction payloads):
    /// `http://127.0.0.1:PORT/hooks/commands/T0STANDIN1/<n>/<secret>`. POSTs to it are checked
    /// (known fields, Block Kit) and listed by `response_url_posts()`.
    pub fn response_url(&self) -> String {
        let n = SLACK_TS_COUNTER.fetch_add(1, Ordering::SeqCst);
        format!(
            "http://127.0.0.1:{}/hooks/commands/{SLACK_TEAM_ID}/{n}/standinsecret",
            self.port
        )
    }
    /// Accepted POSTs to `response_url()` URLs, in order.
    pub fn response_url_posts(&self) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|r| r.path.starts_with("/hooks/"))
            .collect()
    }
    /// Current stored state of a posted message (`None` if unknown or deleted).
    pub fn message(&self, channel: &str, ts: &str) -> Option<Value> {
        let d = self.state.data.lock().unwrap();
        d.find(channel, ts)
            .filter(|m| !m.deleted)
            .map(|m| m.msg.clone())
    }
    pub async fn stop(self) {
        self.server.stop().await;
    }

    /// A fresh `trigger_id`, as Slack puts in interaction and slash-command payloads. The
    /// stand-in accepts it in `views.open` for 3 s (Slack: "expires in 3 seconds"); an
    /// unknown or expired trigger is answered with Slack's error AND recorded as a violation.
    pub fn trigger_id(&self) -> String {
        let n = SLACK_TS_COUNTER.fetch_add(1, Ordering::SeqCst);
        let id = format!("{n}.{n}.{:032x}", n.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        self.state
            .data
            .lock()
            .unwrap()
            .triggers
            .insert(id.clone(), std::time::Instant::now());
        id
    }

    /// Socket Mode connections currently open.
    pub fn socket_connections(&self) -> usize {
        self.state.socket.live()
    }

    /// Waits up to `secs` for a Socket Mode connection; false if none came.
    pub async fn wait_socket(&self, secs: u64) -> bool {
        let deadline = std::time::Instant::now() + Duration::from_secs(secs);
        while std::time::Instant::now() < deadline {
            if self.socket_connections() > 0 {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        false
    }

    /// Sends a Socket Mode envelope of `kind` (`slash_commands`, `interactive`, `events_api`)
    /// carrying `payload` over the newest connection, as Slack does
    /// (<https://api.slack.com/apis/socket-mode#events>), and waits up to 5 s for the app's
    /// acknowledgement. Returns the ack frame and how long it took; `None` if no connection or
    /// no ack came. Acks are checked (envelope id known and not acked before, only
    /// `envelope_id`/`payload`, a payload only where `accepts_response_payload` was true,
    /// `response_action` values per "Handling modal submissions"); problems are violations.
    pub async fn socket_send(
        &self,
        kind: &str,
        payload: Value,
        accepts_response_payload: bool,
    ) -> Option<(Value, Duration)> {
        let n = SLACK_TS_COUNTER.fetch_add(1, Ordering::SeqCst);
        let envelope_id = format!("{n:08x}-standin-envelope");
        let frame = json!({
            "envelope_id": envelope_id,
            "payload": payload,
            "type": kind,
            "accepts_response_payload": accepts_response_payload,
            "retry_attempt": 0,
            "retry_reason": "",
        });
        self.state.socket.pending.lock().unwrap().insert(
            envelope_id.clone(),
            (kind.to_string(), accepts_response_payload),
        );
        let sender = self.state.socket.conns.lock().unwrap().last().cloned()?;
        let started = std::time::Instant::now();
        sender.send(frame.to_string()).ok()?;
        let deadline = started + Duration::from_secs(5);
        loop {
            if let Some(ack) = self
                .state
                .socket
                .acks
                .lock()
                .unwrap()
                .iter()
                .find(|a| a["envelope_id"] == envelope_id.as_str())
            {
                return Some((ack.clone(), started.elapsed()));
            }
            if std::time::Instant::now() > deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Every frame the app sent over Socket Mode, in order.
    pub fn socket_frames(&self) -> Vec<Value> {
        self.state.socket.acks.lock().unwrap().clone()
    }
}

pub struct DiscordStandin {
    pub port: u16,
    /// `http://127.0.0.1:PORT` — pass to serenity's `HttpBuilder::proxy`.
    pub proxy_url: String,
    state: Arc<DiscordState>,
    server: Server,
}

impl DiscordStandin {
    pub async fn start() -> anyhow::Result<DiscordStandin> {
        discord_spec();
        let state = Arc::new(DiscordState {
            core: Core::new(),
            data: Mutex::new(DiscordData::default()),
        });
        let app = Router::new()
            .fallback(discord_entry)
            .with_state(state.clone())
            .layer(DefaultBodyLimit::max(64 * 1024 * 1024));
        let server = Server::start(
            app,
            state.core.shutdown_rx.clone(),
            state.core.shutdown_tx.clone(),
        )
        .await?;
        Ok(DiscordStandin {
            port: server.addr.port(),
            proxy_url: format!("http://127.0.0.1:{}", server.addr.port()),
            state,
            server,
        })
    }
    pub fn requests(&self) -> Vec<Recorded> {
        self.state.core.lock().accepted.clone()
    }
    pub fn received(&self) -> Vec<Recorded> {
        self.state.core.lock().received.clone()
    }
    /// Accepted requests with this HTTP method and exactly this path. A path not starting
    /// with `/api/` is taken relative to `/api/v10` (`"/channels/1/messages"` works too).
    pub fn calls_to(&self, method: &str, path: &str) -> Vec<Recorded> {
        let path = if path.starts_with("/api/") {
            path.to_string()
        } else {
            format!("/api/v10{path}")
        };
        self.requests()
            .into_iter()
            .filter(|r| r.method.eq_ignore_ascii_case(method) && r.path == path)
            .collect()
    }
    /// Bodies of accepted `POST …/channels/{id}/messages`, in order (any channel or thread).
    pub fn created_messages(&self) -> Vec<Value> {
        self.requests()
            .into_iter()
            .filter(|r| r.method == "POST" && is_create_message_path(&r.path))
            .map(|r| r.body)
            .collect()
    }
    /// Accepted requests that create or edit a message, in order: channel and thread
    /// messages (POST/PATCH `/channels/{id}/messages…`), interaction responses that carry one
    /// (callback types 4, 5, 7), and webhook messages (follow-ups, `@original` edits).
    pub fn message_writes(&self) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|r| {
                let segs: Vec<&str> = r.path.trim_start_matches('/').split('/').collect();
                let rest = segs.get(2..).unwrap_or(&[]);
                match (r.method.as_str(), rest) {
                    ("POST", ["channels", _, "messages"])
                    | ("PATCH", ["channels", _, "messages", _])
                    | ("POST", ["webhooks", _, _])
                    | ("PATCH", ["webhooks", _, _, "messages", _]) => true,
                    ("POST", ["interactions", _, _, "callback"]) => {
                        matches!(r.body["type"].as_u64(), Some(4 | 5 | 7))
                    }
                    _ => false,
                }
            })
            .collect()
    }
    /// File parts of accepted multipart requests.
    pub fn uploads(&self) -> Vec<Upload> {
        self.state.data.lock().unwrap().uploads.clone()
    }
    /// Current stored state of a message this stand-in created (`None` if unknown/deleted).
    pub fn message(&self, message_id: &str) -> Option<Value> {
        let id: u64 = message_id.parse().ok()?;
        self.state.data.lock().unwrap().messages.get(&id).cloned()
    }
    pub fn violations(&self) -> Vec<String> {
        self.state.core.lock().violations.clone()
    }
    pub fn set_behaviour(&self, b: Behaviour) {
        let mut c = self.state.core.lock();
        c.behaviour = b;
        c.queued.clear();
    }
    pub fn queue_behaviour(&self, b: Behaviour) {
        self.state.core.lock().queued.push_back(b);
    }
    pub async fn stop(self) {
        self.server.stop().await;
    }
    /// The command set of the last accepted bulk overwrite (`PUT …/commands`), as answered.
    pub fn registered_commands(&self) -> Option<Value> {
        self.state.data.lock().unwrap().commands.clone()
    }
    /// Makes `GET /gateway/bot` answer with `url` (a local gateway stand-in's `ws://…`).
    pub fn set_gateway_url(&self, url: &str) {
        self.state.data.lock().unwrap().gateway_url = Some(url.to_string());
    }
}

/// Validates an interaction response claimdesk gave over HTTP against the request body
/// schema of `POST /interactions/{id}/{token}/callback` (the same object either way).
pub fn validate_interaction_response(v: &Value) -> Vec<String> {
    let spec = discord_spec();
    let sch = &spec["paths"]["/interactions/{interaction_id}/{interaction_token}/callback"]["post"]
        ["requestBody"]["content"]["application/json"]["schema"];
    schema::validate(spec, sch, v)
        .iter()
        .map(|e| e.display("response"))
        .collect()
}

fn is_create_message_path(path: &str) -> bool {
    let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    segs.len() == 5
        && segs[0] == "api"
        && segs[1] == "v10"
        && segs[2] == "channels"
        && segs[4] == "messages"
}

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
fn next_slack_ts() -> String {
    let n = SLACK_TS_COUNTER.fetch_add(1, Ordering::SeqCst) + 1;
    let micros_total = n * 100;
    format!(
        "{}.{:06}",
        1_700_000_000 + micros_total / 1_000_000,
        micros_total % 1_000_000
    )
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

// ====================================================================================
// Generic JSON-schema walker (enough of JSON Schema 2020-12 / OpenAPI 3.1 / Swagger 2.0 for
// the two specs): $ref, type (incl. arrays with "null"), enum, const, allOf, anyOf, oneOf,
// properties, required, additionalProperties, min/maxProperties, items (schema or tuple),
// min/maxItems, uniqueItems, min/maxLength (in Unicode code points), pattern (see
// `known_pattern`), format (uri, date-time, int32, int64), minimum/maximum (+exclusive).
// ====================================================================================

pub mod schema {
    use serde_json::Value;

    #[derive(Clone, Debug, PartialEq)]
    pub enum Seg {
        Key(String),
        Idx(usize),
    }

    #[derive(Clone, Debug)]
    pub struct SchemaError {
        pub path: Vec<Seg>,
        /// Discord-style error code, e.g. `BASE_TYPE_MAX_LENGTH`.
        pub code: &'static str,
        pub msg: String,
    }

    impl SchemaError {
        pub fn display(&self, root: &str) -> String {
            format!("{}: {}", path_string(root, &self.path), self.msg)
        }
    }

    pub fn path_string(root: &str, p: &[Seg]) -> String {
        let mut s = root.to_string();
        for seg in p {
            match seg {
                Seg::Key(k) => {
                    s.push('.');
                    s.push_str(k);
                }
                Seg::Idx(i) => s.push_str(&format!("[{i}]")),
            }
        }
        s
    }

    /// Validates `inst` against `schema`; `$ref`s are JSON pointers into `root`.
    pub fn validate(root: &Value, schema: &Value, inst: &Value) -> Vec<SchemaError> {
        let mut w = Walker {
            root,
            path: vec![],
            errs: vec![],
            depth: 0,
        };
        w.check(schema, inst);
        w.errs
    }

    pub fn resolve<'a>(root: &'a Value, r: &str) -> Option<&'a Value> {
        let p = r.strip_prefix('#')?;
        root.pointer(p)
    }

    /// Patterns the specs use, implemented by hand (no regex crate). Others are not checked.
    fn known_pattern(p: &str, s: &str) -> Option<bool> {
        let hex = |c: char| c.is_ascii_hexdigit();
        match p {
            // Discord SnowflakeType
            "^(0|[1-9][0-9]*)$" => Some(
                s == "0"
                    || (!s.is_empty()
                        && !s.starts_with('0')
                        && s.chars().all(|c| c.is_ascii_digit())),
            ),
            // Discord colour strings
            "^#(([0-9a-fA-F]{2}){3}|([0-9a-fA-F]){3})$" => Some(
                s.starts_with('#') && (s.len() == 7 || s.len() == 4) && s[1..].chars().all(hex),
            ),
            // Slack defs_ts
            r"^\d{10}\.\d{6}$" => Some(is_slack_ts(s)),
            _ => None,
        }
    }

    pub fn is_slack_ts(s: &str) -> bool {
        let b = s.as_bytes();
        b.len() == 17
            && b[10] == b'.'
            && b.iter()
                .enumerate()
                .all(|(i, c)| i == 10 || c.is_ascii_digit())
    }

    pub fn kind(v: &Value) -> &'static str {
        match v {
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
            Value::Number(_) => "number",
            Value::String(_) => "string",
            Value::Array(_) => "array",
            Value::Object(_) => "object",
        }
    }

    fn is_integer(v: &Value) -> bool {
        match v {
            Value::Number(n) => {
                n.is_i64() || n.is_u64() || n.as_f64().map(|f| f.fract() == 0.0).unwrap_or(false)
            }
            _ => false,
        }
    }

    fn type_ok(t: &str, v: &Value) -> bool {
        match t {
            "null" => v.is_null(),
            "boolean" => v.is_boolean(),
            "integer" => is_integer(v),
            "number" => v.is_number(),
            "string" => v.is_string(),
            "array" => v.is_array(),
            "object" => v.is_object(),
            _ => true,
        }
    }

    /// JSON equality where 2 == 2.0.
    pub fn json_eq(a: &Value, b: &Value) -> bool {
        match (a, b) {
            (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
            (Value::Array(x), Value::Array(y)) => {
                x.len() == y.len() && x.iter().zip(y).all(|(a, b)| json_eq(a, b))
            }
            (Value::Object(x), Value::Object(y)) => {
                x.len() == y.len()
                    && x.iter()
                        .all(|(k, v)| y.get(k).map(|w| json_eq(v, w)).unwrap_or(false))
            }
            _ => a == b,
        }
    }

    struct Walker<'a> {
        root: &'a Value,
        path: Vec<Seg>,
        errs: Vec<SchemaError>,
        depth: usize,
    }

    impl<'a> Walker<'a> {
        fn err(&mut self, code: &'static str, msg: String) {
            self.errs.push(SchemaError {
                path: self.path.clone(),
                code,
                msg,
            });
        }

        fn check(&mut self, schema: &Value, v: &Value) {
            if self.depth > 256 {
                return;
            }
            self.depth += 1;
            self.check_inner(schema, v);
            self.depth -= 1;
        }

        fn check_inner(&mut self, schema: &Value, v: &Value) {
            let s = match schema {
                Value::Bool(true) => return,
                Value::Bool(false) => {
                    return self.err("SCHEMA_FALSE", "no value is allowed here".into())
                }
                Value::Object(s) => s,
                _ => return,
            };
            if let Some(r) = s.get("$ref").and_then(Value::as_str) {
                match resolve(self.root, r) {
                    Some(target) => self.check(target, v),
                    None => self.err("STANDIN_BAD_REF", format!("spec $ref {r} does not resolve")),
                }
            }
            // LENIENT: a Discord snowflake (`format: snowflake`, declared `type: string`) is also
            // accepted as a non-negative JSON integer. Discord's own docs do this for upload
            // placeholders (`"attachments": [{"id": 0, …}]`) and serenity 0.12 serialises
            // `CreateAttachment.id` as an integer.
            if s.get("format").and_then(Value::as_str) == Some("snowflake") && v.is_u64() {
                return;
            }
            if let Some(t) = s.get("type") {
                let ok = match t {
                    Value::String(t) => type_ok(t, v),
                    Value::Array(ts) => ts.iter().filter_map(Value::as_str).any(|t| type_ok(t, v)),
                    _ => true,
                };
                if !ok {
                    let code = if v.is_null() {
                        "BASE_TYPE_REQUIRED"
                    } else {
                        "BASE_TYPE_INVALID"
                    };
                    return self.err(
                        code,
                        format!("expected type {t}, got {} ({})", kind(v), short(v)),
                    );
                }
            }
            if let Some(Value::Array(options)) = s.get("enum") {
                if !options.iter().any(|o| json_eq(o, v)) {
                    self.err(
                        "BASE_TYPE_CHOICES",
                        format!(
                            "value {} is not one of {}",
                            short(v),
                            short(&Value::Array(options.clone()))
                        ),
                    );
                }
            }
            if let Some(c) = s.get("const") {
                if !json_eq(c, v) {
                    self.err(
                        "BASE_TYPE_CHOICES",
                        format!("value {} is not the constant {}", short(v), c),
                    );
                }
            }
            if let Some(Value::Array(all)) = s.get("allOf") {
                for sub in all {
                    self.check(sub, v);
                }
            }
            for kw in ["anyOf", "oneOf"] {
                if let Some(Value::Array(branches)) = s.get(kw) {
                    self.any_branch(kw, branches, v);
                }
            }
            match v {
                Value::Object(m) => self.check_object(s, m),
                Value::Array(a) => self.check_array(s, a),
                Value::String(st) => self.check_string(s, st),
                Value::Number(_) => self.check_number(s, v),
                _ => {}
            }
        }

        /// "accept if any branch validates"; otherwise report the closest branch.
        fn any_branch(&mut self, kw: &str, branches: &[Value], v: &Value) {
            let mut best: Option<(usize, Vec<SchemaError>)> = None;
            for b in branches {
                let mut sub = Walker {
                    root: self.root,
                    path: self.path.clone(),
                    errs: vec![],
                    depth: self.depth,
                };
                sub.check(b, v);
                if sub.errs.is_empty() {
                    return;
                }
                // A mismatch of the branch's own type, or of its `type` discriminator, means
                // "this is not the branch the sender meant": rank such branches last.
                let base = self.path.len();
                let cost = sub.errs.len()
                    + sub
                        .errs
                        .iter()
                        .filter(|e| {
                            (e.path.len() == base && e.code.starts_with("BASE_TYPE"))
                                || (e.path.len() == base + 1
                                    && e.path[base] == Seg::Key("type".into())
                                    && e.code == "BASE_TYPE_CHOICES")
                        })
                        .count()
                        * 1000;
                if best.as_ref().map(|(c, _)| cost < *c).unwrap_or(true) {
                    best = Some((cost, sub.errs));
                }
            }
            match best {
                Some((cost, errs)) if cost < 1000 => self.errs.extend(errs),
                _ => self.err(
                    "UNION_TYPE_CHOICES",
                    format!(
                        "{} matches none of the {} {kw} alternatives",
                        short(v),
                        branches.len()
                    ),
                ),
            }
        }

        fn check_object(
            &mut self,
            s: &serde_json::Map<String, Value>,
            m: &serde_json::Map<String, Value>,
        ) {
            let props = s.get("properties").and_then(Value::as_object);
            if let Some(Value::Array(req)) = s.get("required") {
                for r in req.iter().filter_map(Value::as_str) {
                    if !m.contains_key(r) {
                        self.path.push(Seg::Key(r.to_string()));
                        self.err("BASE_TYPE_REQUIRED", "required property is missing".into());
                        self.path.pop();
                    }
                }
            }
            for (k, val) in m {
                self.path.push(Seg::Key(k.clone()));
                if let Some(ps) = props.and_then(|p| p.get(k)) {
                    self.check(ps, val);
                } else {
                    match s.get("additionalProperties") {
                        Some(Value::Bool(false)) => self.err(
                            "UNKNOWN_FIELD",
                            "property is not allowed by the schema".into(),
                        ),
                        Some(ap @ Value::Object(_)) => self.check(ap, val),
                        _ => {}
                    }
                }
                self.path.pop();
            }
            if let Some(n) = s.get("minProperties").and_then(Value::as_u64) {
                if (m.len() as u64) < n {
                    self.err(
                        "BASE_TYPE_MIN_LENGTH",
                        format!("needs at least {n} properties"),
                    );
                }
            }
            if let Some(n) = s.get("maxProperties").and_then(Value::as_u64) {
                if (m.len() as u64) > n {
                    self.err(
                        "BASE_TYPE_MAX_LENGTH",
                        format!("has {} properties, at most {n} allowed", m.len()),
                    );
                }
            }
        }

        fn check_array(&mut self, s: &serde_json::Map<String, Value>, a: &[Value]) {
            match s.get("items") {
                Some(Value::Array(tuple)) => {
                    for (i, (item, sch)) in a.iter().zip(tuple).enumerate() {
                        self.path.push(Seg::Idx(i));
                        self.check(sch, item);
                        self.path.pop();
                    }
                }
                Some(sch) => {
                    for (i, item) in a.iter().enumerate() {
                        self.path.push(Seg::Idx(i));
                        self.check(sch, item);
                        self.path.pop();
                    }
                }
                None => {}
            }
            if let Some(n) = s.get("minItems").and_then(Value::as_u64) {
                if (a.len() as u64) < n {
                    self.err(
                        "BASE_TYPE_MIN_LENGTH",
                        format!("has {} items, at least {n} required", a.len()),
                    );
                }
            }
            if let Some(n) = s.get("maxItems").and_then(Value::as_u64) {
                if (a.len() as u64) > n {
                    self.err(
                        "BASE_TYPE_MAX_LENGTH",
                        format!("has {} items, at most {n} allowed", a.len()),
                    );
                }
            }
            if s.get("uniqueItems") == Some(&Value::Bool(true)) {
                for i in 0..a.len() {
                    for j in i + 1..a.len() {
                        if json_eq(&a[i], &a[j]) {
                            self.err(
                                "SET_TYPE_ALREADY_CONTAINS_VALUE",
                                format!("items {i} and {j} are equal"),
                            );
                        }
                    }
                }
            }
        }

        fn check_string(&mut self, s: &serde_json::Map<String, Value>, st: &str) {
            let len = st.chars().count() as u64;
            if let Some(n) = s.get("minLength").and_then(Value::as_u64) {
                if len < n {
                    self.err(
                        "BASE_TYPE_MIN_LENGTH",
                        format!("length {len} < minLength {n}"),
                    );
                }
            }
            if let Some(n) = s.get("maxLength").and_then(Value::as_u64) {
                if len > n {
                    self.err(
                        "BASE_TYPE_MAX_LENGTH",
                        format!("length {len} > maxLength {n}"),
                    );
                }
            }
            if let Some(p) = s.get("pattern").and_then(Value::as_str) {
                if known_pattern(p, st) == Some(false) {
                    self.err(
                        "STRING_TYPE_REGEX",
                        format!("{:?} does not match pattern {p}", st),
                    );
                }
            }
            match s.get("format").and_then(Value::as_str) {
                Some("uri") if url::Url::parse(st).is_err() => {
                    self.err(
                        "URL_TYPE_INVALID_URL",
                        format!("{:?} is not a well formed URL", st),
                    );
                }
                Some("date-time") if chrono::DateTime::parse_from_rfc3339(st).is_err() => {
                    self.err(
                        "DATE_TIME_TYPE_PARSE",
                        format!("{:?} is not an RFC 3339 date-time", st),
                    );
                }
                _ => {}
            }
        }

        fn check_number(&mut self, s: &serde_json::Map<String, Value>, v: &Value) {
            let x = v.as_f64().unwrap_or(0.0);
            let num = |k: &str| s.get(k).and_then(Value::as_f64);
            if let Some(m) = num("minimum") {
                if x < m {
                    self.err("NUMBER_TYPE_MIN", format!("{x} < minimum {m}"));
                }
            }
            if let Some(m) = num("maximum") {
                if x > m {
                    self.err("NUMBER_TYPE_MAX", format!("{x} > maximum {m}"));
                }
            }
            if let Some(m) = num("exclusiveMinimum") {
                if x <= m {
                    self.err("NUMBER_TYPE_MIN", format!("{x} <= exclusiveMinimum {m}"));
                }
            }
            if let Some(m) = num("exclusiveMaximum") {
                if x >= m {
                    self.err("NUMBER_TYPE_MAX", format!("{x} >= exclusiveMaximum {m}"));
                }
            }
            match s.get("format").and_then(Value::as_str) {
                Some("int32") if is_integer(v) && (x < i32::MIN as f64 || x > i32::MAX as f64) => {
                    self.err("NUMBER_TYPE_MAX", format!("{x} does not fit int32"));
                }
                Some("int64") if is_integer(v) && v.as_i64().is_none() => {
                    self.err("NUMBER_TYPE_MAX", format!("{x} does not fit int64"));
                }
                _ => {}
            }
        }
    }

    pub fn short(v: &Value) -> String {
        let s = v.to_string();
        if s.chars().count() > 80 {
            format!("{}…", s.chars().take(77).collect::<String>())
        } else {
            s
        }
    }
}

use schema::{is_slack_ts, SchemaError, Seg};

// ====================================================================================
// Slack Web API stand-in
// ====================================================================================

struct SlackState {
    core: Core,
    data: Mutex<SlackData>,
    socket: SocketHub,
}

/// Socket Mode side of the Slack stand-in: open connections, envelopes sent and not yet
/// acknowledged (`envelope_id` → (type, accepts_response_payload)), frames received.
#[derive(Default)]
struct SocketHub {
    conns: Mutex<Vec<tokio::sync::mpsc::UnboundedSender<String>>>,
    pending: Mutex<HashMap<String, (String, bool)>>,
    acks: Mutex<Vec<Value>>,
}

impl SocketHub {
    fn live(&self) -> usize {
        self.conns
            .lock()
            .unwrap()
            .iter()
            .filter(|c| !c.is_closed())
            .count()
    }
}

async fn socket_accept(st: Arc<SlackState>, listener: tokio::net::TcpListener) {
    let mut stop = st.core.shutdown_rx.clone();
    loop {
        tokio::select! {
            r = listener.accept() => match r {
                Ok((tcp, _)) => { tokio::spawn(socket_conn(st.clone(), tcp)); }
                Err(_) => return,
            },
            _ = async { let _ = stop.wait_for(|v| *v).await; } => return,
        }
    }
}

/// One Socket Mode connection: `hello` first, then envelopes out and acks in.
async fn socket_conn(st: Arc<SlackState>, tcp: tokio::net::TcpStream) {
    use futures::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    let rec = Recorded {
        method: "WS".into(),
        path: "/link/".into(),
        headers: vec![],
        body: Value::Null,
    };
    let Ok(ws) = tokio_tungstenite::accept_async(tcp).await else {
        st.core.violation(&rec, "WebSocket handshake failed");
        return;
    };
    let (mut w, mut r) = ws.split();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    let hello = json!({
        "type": "hello", "num_connections": 1,
        "debug_info": {"host": "applink-standin", "build_number": 1, "approximate_connection_time": 18060},
        "connection_info": {"app_id": SLACK_APP_ID},
    });
    if w.send(Message::Text(hello.to_string().into()))
        .await
        .is_err()
    {
        return;
    }
    st.socket.conns.lock().unwrap().push(tx);
    let mut stop = st.core.shutdown_rx.clone();
    loop {
        tokio::select! {
            out = rx.recv() => match out {
                Some(text) => if w.send(Message::Text(text.into())).await.is_err() { break },
                None => break,
            },
            msg = r.next() => match msg {
                Some(Ok(Message::Text(t))) => socket_ack(&st, &rec, t.as_str()),
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                Some(Ok(_)) => {}
            },
            _ = async { let _ = stop.wait_for(|v| *v).await; } => break,
        }
    }
    let _ = w.close().await;
}

/// Checks one frame from the app against Slack's Socket Mode ack rules.
fn socket_ack(st: &SlackState, rec: &Recorded, text: &str) {
    let mut problems = vec![];
    let v: Value = match serde_json::from_str(text) {
        Ok(v @ Value::Object(_)) => v,
        _ => {
            st.core
                .violation(rec, format!("frame is not a JSON object: {text}"));
            return;
        }
    };
    let id = v["envelope_id"].as_str().unwrap_or_default().to_string();
    let pending = st.socket.pending.lock().unwrap().remove(&id);
    match &pending {
        None => problems.push(format!(
            "ack for envelope {id:?}, which was never sent or is already acked"
        )),
        Some((kind, accepts)) => {
            for k in v.as_object().into_iter().flat_map(|o| o.keys()) {
                if k != "envelope_id" && k != "payload" {
                    problems.push(format!("unknown ack field {k:?}"));
                }
            }
            if let Some(p) = v.get("payload") {
                if !accepts {
                    problems.push(format!(
                        "ack of a {kind} envelope with accepts_response_payload=false carries a payload"
                    ));
                }
                match p.as_object() {
                    None => problems.push("ack payload is not an object".into()),
                    Some(o) => {
                        if let Some(b) = o.get("blocks") {
                            check_blocks(b, &mut problems);
                        }
                        match o.get("response_action").and_then(Value::as_str) {
                            None if o.contains_key("response_action") => {
                                problems.push("response_action is not a string".into())
                            }
                            Some("errors") => match o.get("errors").and_then(Value::as_object) {
                                Some(e) if !e.is_empty() && e.values().all(Value::is_string) => {}
                                _ => problems.push(
                                    "response_action errors needs errors: {block_id: message}"
                                        .into(),
                                ),
                            },
                            Some("update") | Some("push") => {
                                if !o.get("view").is_some_and(Value::is_object) {
                                    problems.push("response_action update/push needs a view".into())
                                }
                            }
                            Some("clear") | None => {}
                            Some(other) => {
                                problems.push(format!("unknown response_action {other:?}"))
                            }
                        }
                    }
                }
            }
        }
    }
    for p in problems {
        st.core.violation(rec, p);
    }
    st.socket.acks.lock().unwrap().push(v);
}

#[derive(Clone)]
struct SlackMsg {
    channel: String,
    ts: String,
    ephemeral: bool,
    deleted: bool,
    msg: Value,
}

#[derive(Default)]
struct SlackData {
    /// `ws://…` of the Socket Mode server, answered by `apps.connections.open`.
    socket_url: String,
    /// trigger_ids handed out by `SlackStandin::trigger_id`, with when.
    triggers: HashMap<String, std::time::Instant>,
    /// Views opened so far (for ids).
    views: usize,
    messages: Vec<SlackMsg>,
    /// Channel names ("#support", "support") and user ids (DMs) mapped to conversation ids.
    channel_ids: HashMap<String, String>,
}

impl SlackData {
    /// Slack answers with conversation ids (`^[CGD][A-Z0-9]{8,}$`) even when the request
    /// named the channel ("#support") or a user (DM): map those to stable made-up ids.
    fn channel_id(&mut self, raw: &str) -> String {
        let b = raw.as_bytes();
        let is_id = b.len() >= 9
            && matches!(b[0], b'C' | b'G' | b'D')
            && b[1..]
                .iter()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit());
        if is_id || raw.is_empty() {
            return raw.to_string();
        }
        let key = raw.trim_start_matches('#').to_string();
        let n = self.channel_ids.len() + 1;
        let dm = matches!(b[0], b'U' | b'W');
        self.channel_ids
            .entry(key)
            .or_insert_with(|| format!("{}0STANDIN{n:03}", if dm { 'D' } else { 'C' }))
            .clone()
    }
    fn find(&self, channel: &str, ts: &str) -> Option<&SlackMsg> {
        self.messages
            .iter()
            .find(|m| m.channel == channel && m.ts == ts && !m.ephemeral)
    }
    fn find_mut(&mut self, channel: &str, ts: &str) -> Option<&mut SlackMsg> {
        self.messages
            .iter_mut()
            .find(|m| m.channel == channel && m.ts == ts && !m.ephemeral)
    }
}

/// Slack Web API methods this stand-in serves.
const SLACK_IMPLEMENTED: &[&str] = &[
    "chat.postMessage",
    "chat.update",
    "chat.postEphemeral",
    "chat.delete",
    "chat.getPermalink",
    "conversations.replies",
    "auth.test",
    "views.open",
    "apps.connections.open",
];

/// LENIENT: methods the frozen 2021 spec declares only for GET though Slack's method reference
/// lists POST as the preferred HTTP method (<https://api.slack.com/methods/views.open>);
/// a POST is checked against the GET declaration's parameters.
const SLACK_POST_ALSO: &[&str] = &["views.open"];

/// Methods documented after the frozen 2021 spec, declared here from their reference pages.
/// `apps.connections.open` (<https://api.slack.com/methods/apps.connections.open>): POST, no
/// arguments, an app-level token (`xapp-…`) only; answers `{"ok":true,"url":"wss://…"}`.
fn slack_post_2021_methods() -> &'static Value {
    static S: OnceLock<Value> = OnceLock::new();
    S.get_or_init(|| {
        json!({
            "/apps.connections.open": {"post": {
                "consumes": ["application/x-www-form-urlencoded", "application/json"],
                "parameters": [{"name": "token", "in": "header", "required": true, "type": "string"}],
                "responses": {
                    "200": {"schema": {"type": "object", "required": ["ok", "url"],
                        "properties": {"ok": {"const": true}, "url": {"type": "string"}},
                        "additionalProperties": false}},
                    "default": {"schema": {"type": "object", "required": ["ok", "error"]}}
                }
            }}
        })
    })
}

/// Methods that take only an app-level token (`xapp-…`); every other method refuses one.
const SLACK_APP_TOKEN_METHODS: &[&str] = &["apps.connections.open"];

/// LENIENT: parameters Slack documents today (docs.slack.dev method reference) that post-date
/// the frozen 2021 spec, with the JSON type they must have: `metadata` (message metadata, 2022),
/// `markdown_text` (2025), and chat.update's `reply_broadcast` / `file_ids`. slack-morphism
/// has fields for `metadata`, `markdown_text` and chat.update `reply_broadcast`. Anything else
/// unknown to the spec is a violation.
const SLACK_POST_2021_PARAMS: &[(&str, &str, &str)] = &[
    ("chat.postMessage", "metadata", "object"),
    ("chat.update", "metadata", "object"),
    ("chat.postMessage", "markdown_text", "string"),
    ("chat.update", "markdown_text", "string"),
    ("chat.postEphemeral", "markdown_text", "string"),
    ("chat.update", "reply_broadcast", "boolean"),
    ("chat.update", "file_ids", "array"),
];

/// Parameters declared `type: string` that are nevertheless booleans: any name the spec
/// declares `boolean` in some method (e.g. `link_names` is boolean in chat.postMessage but
/// string in chat.update) or whose description says "Pass true …" (e.g. `as_user`).
/// LENIENT: for these a JSON boolean is accepted (slack-morphism sends `as_user`/`link_names`
/// as `Option<bool>`; Slack's JSON decoder accepts it).
fn slack_boolish_params() -> &'static HashSet<String> {
    static S: OnceLock<HashSet<String>> = OnceLock::new();
    S.get_or_init(|| {
        let mut set = HashSet::new();
        if let Some(paths) = slack_spec()["paths"].as_object() {
            for ops in paths.values() {
                for op in ops.as_object().into_iter().flat_map(|o| o.values()) {
                    for p in op["parameters"].as_array().into_iter().flatten() {
                        let name = p["name"].as_str().unwrap_or_default();
                        let desc = p["description"].as_str().unwrap_or_default();
                        if p["type"] == "boolean" || desc.starts_with("Pass true") {
                            set.insert(name.to_string());
                        }
                    }
                }
            }
        }
        set
    })
}

/// A Slack-side problem: (error code Slack would answer with, human-readable message).
type SlackProblem = (&'static str, String);
/// Ok((method name, params)) or Err((HTTP status, problems)).
type SlackVerdict = Result<(String, Map<String, Value>), (StatusCode, Vec<SlackProblem>)>;

async fn slack_entry(
    State(st): State<Arc<SlackState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let ct = header(&headers, "content-type")
        .unwrap_or("")
        .to_ascii_lowercase();
    let body_value = if body.is_empty() {
        Value::Null
    } else if ct.starts_with("application/x-www-form-urlencoded") {
        Value::Object(
            url::form_urlencoded::parse(&body)
                .into_owned()
                .map(|(k, v)| (k, Value::String(v)))
                .collect(),
        )
    } else {
        serde_json::from_slice(&body)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into_owned()))
    };
    let rec = Recorded {
        method: method.as_str().to_string(),
        path: uri.path().to_string(),
        headers: header_pairs(&headers),
        body: body_value,
    };
    st.core.lock().received.push(rec.clone());

    if uri.path().starts_with("/hooks/") {
        return slack_response_url(&st, &method, &ct, &rec).await;
    }
    let verdict = slack_validate(&method, &uri, &headers, &ct, &body);
    let problems: Vec<SlackProblem> = match &verdict {
        Ok(_) => vec![],
        Err((_, p)) => p.clone(),
    };
    for (_, msg) in &problems {
        st.core.violation(&rec, msg);
    }

    match st.core.next_behaviour() {
        Behaviour::Normal => {}
        Behaviour::Fail500 => {
            return json_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                &json!({"ok": false, "error": "fatal_error"}),
                &[],
            )
        }
        Behaviour::RateLimited { retry_after_secs } => {
            return json_response(
                StatusCode::TOO_MANY_REQUESTS,
                &json!({"ok": false, "error": "ratelimited"}),
                &[("retry-after", retry_after_secs.to_string())],
            )
        }
        Behaviour::Hang => {
            st.core.hang().await;
            return empty_response(StatusCode::SERVICE_UNAVAILABLE, &[]);
        }
    }

    let (name, params) = match verdict {
        Ok(v) => v,
        Err((status, problems)) => {
            let (code, _) = problems[0].clone();
            let messages: Vec<String> = problems
                .iter()
                .map(|(_, m)| format!("[ERROR] {m}"))
                .collect();
            let mut body = json!({"ok": false, "error": code});
            if code == "invalid_arguments" || code == "invalid_blocks" {
                body["response_metadata"] = json!({ "messages": messages });
            }
            return json_response(status, &body, &[]);
        }
    };

    let result = {
        let mut data = st.data.lock().unwrap();
        slack_execute(&mut data, &name, &params)
    };
    match result {
        Ok(resp) => {
            for e in validate_slack_response(&name, &resp) {
                // The spec types chat.update's `message.blocks` as an object; Slack (and
                // slack-morphism's SlackUpdatedMessage) use an array. Spec bug, not checked.
                if name == "chat.update" && e.starts_with("response.message.blocks: expected type")
                {
                    continue;
                }
                // `message.metadata` is echoed for the post-2021 `metadata` parameter.
                if e.starts_with("response.message.metadata: property is not allowed") {
                    continue;
                }
                st.core.violation(
                    &rec,
                    format!("stand-in self-check (response does not match spec): {e}"),
                );
            }
            st.core.lock().accepted.push(rec);
            json_response(StatusCode::OK, &resp, &[])
        }
        Err((code, msg)) => {
            st.core.violation(&rec, &msg);
            json_response(StatusCode::OK, &json!({"ok": false, "error": code}), &[])
        }
    }
}

/// Fields of a message posted to a `response_url` (Slack docs "Handling user interaction":
/// message payload fields plus response_type / replace_original / delete_original). Not part
/// of the Web API spec.
const SLACK_RESPONSE_URL_FIELDS: &[(&str, &str)] = &[
    ("text", "string"),
    ("blocks", "array"),
    ("attachments", "array"),
    ("thread_ts", "string"),
    ("response_type", "string"),
    ("replace_original", "boolean"),
    ("delete_original", "boolean"),
    ("mrkdwn", "boolean"),
    ("unfurl_links", "boolean"),
    ("unfurl_media", "boolean"),
    ("metadata", "object"),
];

async fn slack_response_url(
    st: &SlackState,
    method: &Method,
    ct: &str,
    rec: &Recorded,
) -> Response {
    let mut problems: Vec<String> = vec![];
    if method != Method::POST {
        problems.push("a response_url only takes POST".into());
    }
    if !ct.starts_with("application/json") {
        problems.push(format!("a response_url takes application/json, got {ct:?}"));
    }
    match rec.body.as_object() {
        None => problems.push("body is not a JSON object".into()),
        Some(m) => {
            for (k, v) in m {
                match SLACK_RESPONSE_URL_FIELDS.iter().find(|(n, _)| n == k) {
                    None => problems.push(format!("unknown response_url field {k:?}")),
                    Some((_, t)) if schema::kind(v) != *t => problems.push(format!(
                        "response_url field {k:?} must be {t}, got {}",
                        schema::kind(v)
                    )),
                    _ => {}
                }
            }
            if let Some(rt) = m.get("response_type").and_then(Value::as_str) {
                if rt != "in_channel" && rt != "ephemeral" {
                    problems.push(format!(
                        "response_type must be in_channel or ephemeral, got {rt:?}"
                    ));
                }
            }
            if let Some(b) = m.get("blocks") {
                check_blocks(b, &mut problems);
            }
            let delete = m.get("delete_original") == Some(&Value::Bool(true));
            let has_content = ["text", "blocks", "attachments"]
                .iter()
                .any(|k| m.contains_key(*k));
            if !delete && !has_content {
                problems.push("a response_url message needs text, blocks or attachments".into());
            }
        }
    }
    for p in &problems {
        st.core.violation(rec, p);
    }
    match st.core.next_behaviour() {
        Behaviour::Normal => {}
        Behaviour::Fail500 => return empty_response(StatusCode::INTERNAL_SERVER_ERROR, &[]),
        Behaviour::RateLimited { retry_after_secs } => {
            return empty_response(
                StatusCode::TOO_MANY_REQUESTS,
                &[("retry-after", retry_after_secs.to_string())],
            )
        }
        Behaviour::Hang => {
            st.core.hang().await;
            return empty_response(StatusCode::SERVICE_UNAVAILABLE, &[]);
        }
    }
    if problems.is_empty() {
        st.core.lock().accepted.push(rec.clone());
        json_response(StatusCode::OK, &json!({"ok": true}), &[])
    } else {
        json_response(
            StatusCode::BAD_REQUEST,
            &json!({"ok": false, "error": "invalid_blocks"}),
            &[],
        )
    }
}

/// Checks one Slack request against the spec. Ok((method name, params as JSON object)).
fn slack_validate(
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    ct: &str,
    raw: &Bytes,
) -> SlackVerdict {
    let spec = slack_spec();
    let path = uri.path();
    let name = match path.strip_prefix("/api/") {
        Some(n) if !n.is_empty() && !n.contains('/') => n.to_string(),
        _ => {
            return Err((
                StatusCode::NOT_FOUND,
                vec![(
                    "unknown_method",
                    format!("not a Slack Web API path (expected /api/<method>): {path}"),
                )],
            ))
        }
    };
    let Some(ops) = spec["paths"]
        .get(format!("/{name}"))
        .or_else(|| slack_post_2021_methods().get(format!("/{name}")))
        .and_then(Value::as_object)
    else {
        return Err((
            StatusCode::NOT_FOUND,
            vec![(
                "unknown_method",
                format!("Slack has no Web API method {name:?}"),
            )],
        ));
    };
    let http = method.as_str().to_ascii_lowercase();
    let op = ops.get(&http).or_else(|| {
        (http == "post" && SLACK_POST_ALSO.contains(&name.as_str()))
            .then(|| ops.get("get"))
            .flatten()
    });
    let Some(op) = op else {
        let declared: Vec<&String> = ops.keys().collect();
        return Err((
            StatusCode::OK,
            vec![(
                "invalid_arguments",
                format!(
                    "{name} is declared for {declared:?}, not {}",
                    method.as_str()
                ),
            )],
        ));
    };
    if !SLACK_IMPLEMENTED.contains(&name.as_str()) {
        return Err((
            StatusCode::NOT_FOUND,
            vec![(
                "unknown_method",
                format!("{name} is in the spec but not served by the stand-in (add it)"),
            )],
        ));
    }

    let mut problems: Vec<SlackProblem> = vec![];

    // ---- collect the inputs: JSON body, form body, query ----
    let mut json_fields: Map<String, Value> = Map::new();
    let mut string_fields: Vec<(String, String)> = parse_query(uri);
    let is_json = ct.starts_with("application/json");
    if !raw.is_empty() || method == Method::POST {
        let consumes: Vec<&str> = op["consumes"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        let mime = ct.split(';').next().unwrap_or("").trim();
        if method == Method::POST && !consumes.contains(&mime) {
            problems.push((
                "invalid_post_type",
                format!("Content-Type {ct:?} is not one of {consumes:?}"),
            ));
        }
        if is_json {
            if !ct.contains("charset") {
                // Slack answers with warning `missing_charset`; not an error.
            }
            match serde_json::from_slice::<Value>(raw) {
                Ok(Value::Object(m)) => json_fields = m,
                Ok(_) => problems.push(("json_not_object", "JSON body is not an object".into())),
                Err(e) => problems.push(("invalid_json", format!("body is not JSON: {e}"))),
            }
        } else if mime == "application/x-www-form-urlencoded" {
            string_fields.extend(url::form_urlencoded::parse(raw).into_owned());
        }
    }

    // ---- authentication (the spec's `token` header/query parameter) ----
    let bearer = header(headers, "authorization").map(str::to_string);
    let mut token_seen = false;
    let app_only = SLACK_APP_TOKEN_METHODS.contains(&name.as_str());
    if let Some(b) = &bearer {
        match b.strip_prefix("Bearer ") {
            Some(t) if t.starts_with("xapp-") && !app_only => problems.push((
                "not_allowed_token_type",
                format!("{name} does not take an app-level token (xapp-…)"),
            )),
            Some(t) if t.starts_with("xapp-") => token_seen = true,
            Some(t) if t.starts_with("xox") && app_only => problems.push((
                "not_allowed_token_type",
                format!(
                    "{name} needs an app-level token (xapp-…), got a {}… token",
                    &t[..4]
                ),
            )),
            Some(t) if t.starts_with("xox") => token_seen = true,
            _ => problems.push((
                "invalid_auth",
                format!("Authorization header is not 'Bearer xox…': {b:?}"),
            )),
        }
    }

    let params: Vec<&Value> = op["parameters"].as_array().into_iter().flatten().collect();
    let lookup = |n: &str| {
        params
            .iter()
            .find(|p| p["name"] == n && p["in"] != "header")
            .copied()
    };
    let post_2021 = |n: &str| {
        SLACK_POST_2021_PARAMS
            .iter()
            .find(|(m, p, _)| *m == name && *p == n)
            .map(|x| x.2)
    };
    let mut out: Map<String, Value> = Map::new();

    for (k, v) in &json_fields {
        if k == "token" {
            problems.push((
                "invalid_arguments",
                "`token` in a JSON body is ignored by Slack: send it as 'Authorization: Bearer'"
                    .into(),
            ));
            continue;
        }
        match lookup(k) {
            Some(p) => {
                if let Some(val) = slack_check_json_param(&name, p, v, &mut problems) {
                    out.insert(k.clone(), val);
                }
            }
            None if post_2021(k).is_some() => {
                let t = post_2021(k).unwrap();
                if schema::kind(v) == t || (t == "object" && v.is_object()) {
                    out.insert(k.clone(), v.clone());
                } else {
                    problems.push((
                        "invalid_arguments",
                        format!(
                            "{name}: parameter {k:?} (documented after the 2021 spec) must be {t}, got {}",
                            schema::kind(v)
                        ),
                    ));
                }
            }
            None => problems.push((
                "invalid_arguments",
                format!("unknown parameter {k:?} for {name} (not in the spec)"),
            )),
        }
    }
    for (k, v) in &string_fields {
        if k == "token" {
            if v.starts_with("xox") {
                token_seen = true;
            } else {
                problems.push(("invalid_auth", format!("token {v:?} is not an xox… token")));
            }
            continue;
        }
        if out.contains_key(k) {
            problems.push(("invalid_arguments", format!("parameter {k:?} given twice")));
            continue;
        }
        match lookup(k) {
            Some(p) => {
                if let Some(val) = slack_check_string_param(&name, p, v, &mut problems) {
                    out.insert(k.clone(), val);
                }
            }
            None if post_2021(k).is_some() => {
                let parsed = match post_2021(k).unwrap() {
                    "string" => Value::String(v.clone()),
                    "boolean" => Value::Bool(v == "true" || v == "1"),
                    _ => serde_json::from_str(v).unwrap_or(Value::String(v.clone())),
                };
                out.insert(k.clone(), parsed);
            }
            None => problems.push((
                "invalid_arguments",
                format!("unknown parameter {k:?} for {name} (not in the spec)"),
            )),
        }
    }
    if !token_seen && bearer.is_none() {
        problems.insert(
            0,
            (
                "not_authed",
                "no token: neither 'Authorization: Bearer' nor a token parameter".into(),
            ),
        );
    }
    for p in &params {
        if p["required"] == true && p["in"] != "header" {
            let n = p["name"].as_str().unwrap_or_default();
            if n != "token" && !out.contains_key(n) {
                problems.push((
                    "invalid_arguments",
                    format!("required parameter {n:?} is missing"),
                ));
            }
        }
    }

    // ---- content rules (Block Kit, text) for message-carrying methods ----
    if name == "views.open" {
        if let Some(view) = out.get("view") {
            let mut errs = vec![];
            check_view(view, &mut errs);
            problems.extend(errs.into_iter().map(|e| ("invalid_arguments", e)));
        }
    }
    if matches!(
        name.as_str(),
        "chat.postMessage" | "chat.update" | "chat.postEphemeral"
    ) {
        let text_given =
            json_fields.contains_key("text") || string_fields.iter().any(|(k, _)| k == "text");
        slack_check_content(&name, &out, text_given, &mut problems);
    }
    if problems.is_empty() {
        Ok((name, out))
    } else {
        Err((StatusCode::OK, problems))
    }
}

/// A JSON-body field against its declared Swagger parameter. Returns the normalised value.
fn slack_check_json_param(
    method: &str,
    p: &Value,
    v: &Value,
    problems: &mut Vec<SlackProblem>,
) -> Option<Value> {
    let n = p["name"].as_str().unwrap_or_default();
    let t = p["type"].as_str().unwrap_or("string");
    let bad = |problems: &mut Vec<SlackProblem>, what: &str| {
        problems.push((
            "invalid_arguments",
            format!(
                "{method}: parameter {n:?} is declared {t}{what}, got {} {}",
                schema::kind(v),
                schema::short(v)
            ),
        ));
        None
    };
    match t {
        // LENIENT: `blocks`/`attachments` are declared "JSON-encoded string"; a JSON body may
        // carry them as arrays (that is what slack-morphism sends) or as the encoded string.
        // LENIENT: `view` is declared "A view payload" of type string (JSON-encoded); a JSON
        // body may carry the object itself (slack-morphism does) or the encoded string.
        "string" if n == "view" => match v {
            Value::Object(_) => Some(v.clone()),
            Value::String(s) => match serde_json::from_str::<Value>(s) {
                Ok(parsed @ Value::Object(_)) => Some(parsed),
                _ => bad(problems, " (a JSON-encoded view object)"),
            },
            _ => bad(problems, " (a view object or JSON-encoded view)"),
        },
        "string" if n == "blocks" || n == "attachments" => match v {
            Value::Array(_) => Some(v.clone()),
            Value::String(s) => match serde_json::from_str::<Value>(s) {
                Ok(parsed @ Value::Array(_)) => Some(parsed),
                _ => bad(problems, " (a JSON-encoded array)"),
            },
            _ => bad(problems, " (a JSON array or JSON-encoded array)"),
        },
        "string" => match v {
            Value::String(_) => Some(v.clone()),
            Value::Bool(_) if slack_boolish_params().contains(n) => Some(v.clone()),
            _ => bad(problems, ""),
        },
        "boolean" => match v {
            Value::Bool(_) => Some(v.clone()),
            _ => bad(problems, ""),
        },
        "integer" => match v {
            Value::Number(x) if x.is_i64() || x.is_u64() => Some(v.clone()),
            _ => bad(problems, ""),
        },
        // LENIENT: ts-like values declared `number` (e.g. chat.delete `ts`) are canonically
        // strings ("1401383885.000061"; a float would lose digits): numeric strings are accepted.
        "number" => match v {
            Value::Number(_) => Some(v.clone()),
            Value::String(s) if s.parse::<f64>().is_ok() => Some(v.clone()),
            _ => bad(problems, ""),
        },
        _ => Some(v.clone()),
    }
}

/// A form/query field (always a string on the wire) against its declared parameter.
fn slack_check_string_param(
    method: &str,
    p: &Value,
    v: &str,
    problems: &mut Vec<SlackProblem>,
) -> Option<Value> {
    let n = p["name"].as_str().unwrap_or_default();
    let t = p["type"].as_str().unwrap_or("string");
    let bad = |problems: &mut Vec<SlackProblem>| {
        problems.push((
            "invalid_arguments",
            format!("{method}: parameter {n:?} is declared {t}, got {v:?}"),
        ));
        None
    };
    match t {
        "string" if n == "view" => match serde_json::from_str::<Value>(v) {
            Ok(parsed @ Value::Object(_)) => Some(parsed),
            _ => bad(problems),
        },
        "string" if n == "blocks" || n == "attachments" => match serde_json::from_str::<Value>(v) {
            Ok(parsed @ Value::Array(_)) => Some(parsed),
            _ => bad(problems),
        },
        "boolean" => match v {
            "true" | "1" => Some(Value::Bool(true)),
            "false" | "0" => Some(Value::Bool(false)),
            _ => bad(problems),
        },
        "integer" => v
            .parse::<i64>()
            .map(Value::from)
            .ok()
            .or_else(|| bad(problems)),
        "number" => {
            if v.parse::<f64>().is_ok() {
                Some(Value::String(v.to_string()))
            } else {
                bad(problems)
            }
        }
        _ => Some(Value::String(v.to_string())),
    }
}

/// Minimal Block Kit and text rules (from Slack's Block Kit reference and method docs).
fn slack_check_content(
    method: &str,
    p: &Map<String, Value>,
    text_given: bool,
    problems: &mut Vec<SlackProblem>,
) {
    let text = p.get("text").and_then(Value::as_str).unwrap_or("");
    let has_blocks = p
        .get("blocks")
        .and_then(Value::as_array)
        .map(|b| !b.is_empty())
        .unwrap_or(false);
    let has_atts = p
        .get("attachments")
        .and_then(Value::as_array)
        .map(|a| !a.is_empty())
        .unwrap_or(false);
    let has_md = p
        .get("markdown_text")
        .and_then(Value::as_str)
        .map(|s| !s.is_empty())
        .unwrap_or(false);
    // A `text` that was given but had the wrong type is already reported; don't add no_text.
    let text_invalid = text_given && !p.contains_key("text");
    if method != "chat.update"
        && text.is_empty()
        && !text_invalid
        && !has_blocks
        && !has_atts
        && !has_md
    {
        problems.push((
            "no_text",
            "message has no text, blocks, attachments or markdown_text".into(),
        ));
    }
    if has_md && (p.contains_key("text") || p.contains_key("blocks")) {
        problems.push((
            "markdown_text_conflict",
            "markdown_text cannot be combined with text or blocks".into(),
        ));
    }
    if let Some(md) = p.get("markdown_text").and_then(Value::as_str) {
        if md.chars().count() > 12_000 {
            problems.push((
                "msg_too_long",
                format!(
                    "markdown_text is {} characters (limit 12000)",
                    md.chars().count()
                ),
            ));
        }
    }
    if let Some(m) = p.get("metadata") {
        if m.get("event_type").and_then(Value::as_str).is_none() {
            problems.push((
                "invalid_metadata_format",
                "metadata needs a string event_type".into(),
            ));
        }
    }
    if text.chars().count() > 40_000 {
        problems.push((
            "msg_too_long",
            format!("text is {} characters (limit 40000)", text.chars().count()),
        ));
    }
    for k in ["ts", "thread_ts"] {
        if let Some(s) = p.get(k).and_then(Value::as_str) {
            if !is_slack_ts(s) {
                problems.push((
                    "invalid_arguments",
                    format!("{k} {s:?} is not a Slack timestamp (defs_ts: ^\\d{{10}}\\.\\d{{6}}$)"),
                ));
            }
        }
    }
    if let Some(blocks) = p.get("blocks") {
        let mut errs = vec![];
        check_blocks(blocks, &mut errs);
        problems.extend(errs.into_iter().map(|e| ("invalid_blocks", e)));
    }
    if let Some(atts) = p.get("attachments") {
        match atts.as_array() {
            Some(a) => {
                if a.len() > 100 {
                    problems.push((
                        "too_many_attachments",
                        format!("{} attachments (limit 100)", a.len()),
                    ));
                }
                for (i, att) in a.iter().enumerate() {
                    if !att.is_object() {
                        problems.push((
                            "invalid_attachments",
                            format!("attachments[{i}] is not an object"),
                        ));
                    } else if let Some(b) = att.get("blocks") {
                        let mut errs = vec![];
                        check_blocks(b, &mut errs);
                        problems.extend(
                            errs.into_iter()
                                .map(|e| ("invalid_attachments", format!("attachments[{i}].{e}"))),
                        );
                    }
                }
            }
            None => problems.push(("invalid_attachments", "attachments is not an array".into())),
        }
    }
}

const SLACK_BLOCK_TYPES: &[&str] = &[
    "actions",
    "context",
    "divider",
    "file",
    "header",
    "image",
    "input",
    "markdown",
    "rich_text",
    "section",
    "video",
    "table",
    "context_actions",
];

fn check_text_object(v: &Value, at: &str, max: usize, plain_only: bool, errs: &mut Vec<String>) {
    let Some(o) = v.as_object() else {
        return errs.push(format!("{at} must be a text object {{type, text}}"));
    };
    match o.get("type").and_then(Value::as_str) {
        Some("plain_text") => {}
        Some("mrkdwn") if !plain_only => {}
        other => errs.push(format!(
            "{at}.type must be {}, got {other:?}",
            if plain_only {
                "plain_text"
            } else {
                "plain_text or mrkdwn"
            }
        )),
    }
    match o.get("text").and_then(Value::as_str) {
        Some("") => errs.push(format!("{at}.text must not be empty")),
        Some(t) if t.chars().count() > max => errs.push(format!(
            "{at}.text is {} characters (limit {max})",
            t.chars().count()
        )),
        Some(_) => {}
        None => errs.push(format!("{at}.text is missing or not a string")),
    }
}

fn check_element(e: &Value, at: &str, errs: &mut Vec<String>) {
    let Some(o) = e.as_object() else {
        return errs.push(format!("{at} is not an object"));
    };
    let Some(t) = o.get("type").and_then(Value::as_str) else {
        return errs.push(format!("{at}.type is missing"));
    };
    if let Some(a) = o.get("action_id") {
        match a.as_str() {
            Some(s) if s.chars().count() <= 255 && !s.is_empty() => {}
            _ => errs.push(format!(
                "{at}.action_id must be a string of 1..=255 characters"
            )),
        }
    }
    if t == "button" {
        match o.get("text") {
            Some(txt) => check_text_object(txt, &format!("{at}.text"), 75, true, errs),
            None => errs.push(format!("{at}.text is required for a button")),
        }
        if let Some(v) = o.get("value") {
            if v.as_str().map(|s| s.chars().count() > 2000).unwrap_or(true) {
                errs.push(format!(
                    "{at}.value must be a string of at most 2000 characters"
                ));
            }
        }
        if let Some(u) = o.get("url") {
            if u.as_str().map(|s| s.chars().count() > 3000).unwrap_or(true) {
                errs.push(format!(
                    "{at}.url must be a string of at most 3000 characters"
                ));
            }
        }
        if let Some(s) = o.get("style") {
            if !matches!(s.as_str(), Some("primary") | Some("danger")) {
                errs.push(format!(
                    "{at}.style must be \"primary\" or \"danger\", got {s}"
                ));
            }
        }
    }
}

/// blocks: an array of ≤ 50 objects, each with a known `type`; a few per-type limits.
fn check_blocks(blocks: &Value, errs: &mut Vec<String>) {
    let Some(arr) = blocks.as_array() else {
        return errs.push("blocks is not an array".into());
    };
    if arr.len() > 50 {
        errs.push(format!(
            "blocks has {} blocks (limit 50 per message)",
            arr.len()
        ));
    }
    let mut block_ids = HashSet::new();
    for (i, b) in arr.iter().enumerate() {
        let at = format!("blocks[{i}]");
        let Some(o) = b.as_object() else {
            errs.push(format!("{at} is not an object"));
            continue;
        };
        let Some(t) = o.get("type").and_then(Value::as_str) else {
            errs.push(format!("{at}.type is missing or not a string"));
            continue;
        };
        if !SLACK_BLOCK_TYPES.contains(&t) {
            errs.push(format!("{at}.type {t:?} is not a Block Kit block type"));
        }
        if let Some(id) = o.get("block_id") {
            match id.as_str() {
                Some(s) if s.chars().count() <= 255 => {
                    if !block_ids.insert(s.to_string()) {
                        errs.push(format!("{at}.block_id {s:?} is repeated"));
                    }
                }
                _ => errs.push(format!(
                    "{at}.block_id must be a string of at most 255 characters"
                )),
            }
        }
        match t {
            "section" => {
                let has_text = o.contains_key("text");
                if let Some(txt) = o.get("text") {
                    check_text_object(txt, &format!("{at}.text"), 3000, false, errs);
                }
                match o.get("fields") {
                    Some(Value::Array(f)) => {
                        if f.len() > 10 {
                            errs.push(format!("{at}.fields has {} items (limit 10)", f.len()));
                        }
                        for (j, fv) in f.iter().enumerate() {
                            check_text_object(fv, &format!("{at}.fields[{j}]"), 2000, false, errs);
                        }
                    }
                    Some(_) => errs.push(format!("{at}.fields is not an array")),
                    None if !has_text => errs.push(format!("{at}: a section needs text or fields")),
                    None => {}
                }
                if let Some(acc) = o.get("accessory") {
                    check_element(acc, &format!("{at}.accessory"), errs);
                }
            }
            "header" => match o.get("text") {
                Some(txt) => check_text_object(txt, &format!("{at}.text"), 150, true, errs),
                None => errs.push(format!("{at}.text is required for a header")),
            },
            "actions" => {
                match o.get("elements").and_then(Value::as_array) {
                    Some(els) => {
                        if els.is_empty() || els.len() > 25 {
                            errs.push(format!("{at}.elements has {} items (1..=25)", els.len()));
                        }
                        let mut ids = HashSet::new();
                        for (j, e) in els.iter().enumerate() {
                            check_element(e, &format!("{at}.elements[{j}]"), errs);
                            if let Some(a) = e.get("action_id").and_then(Value::as_str) {
                                if !ids.insert(a.to_string()) {
                                    errs.push(format!("{at}.elements[{j}].action_id {a:?} is repeated in the block"));
                                }
                            }
                        }
                    }
                    None => errs.push(format!("{at}.elements is required for an actions block")),
                }
            }
            "context" => match o.get("elements").and_then(Value::as_array) {
                Some(els) => {
                    if els.is_empty() || els.len() > 10 {
                        errs.push(format!("{at}.elements has {} items (1..=10)", els.len()));
                    }
                    for (j, e) in els.iter().enumerate() {
                        if e.get("type").and_then(Value::as_str) != Some("image") {
                            check_text_object(e, &format!("{at}.elements[{j}]"), 3000, false, errs);
                        }
                    }
                }
                None => errs.push(format!("{at}.elements is required for a context block")),
            },
            "image" => {
                if !o.contains_key("image_url") && !o.contains_key("slack_file") {
                    errs.push(format!(
                        "{at}: an image block needs image_url or slack_file"
                    ));
                }
                if o.get("alt_text").and_then(Value::as_str).is_none() {
                    errs.push(format!("{at}.alt_text is required for an image block"));
                }
            }
            _ => {}
        }
    }
}

/// A modal or Home tab view (<https://api.slack.com/reference/surfaces/views>): `type`,
/// `title` (plain_text ≤ 24), `submit`/`close` (plain_text ≤ 24; `submit` required when an
/// input block is present), ≤ 100 blocks checked like message blocks (inputs: `label`
/// plain_text ≤ 2000 and an `element`), `callback_id` ≤ 255, `private_metadata` ≤ 3000.
fn check_view(v: &Value, errs: &mut Vec<String>) {
    let Some(o) = v.as_object() else {
        return errs.push("view is not an object".into());
    };
    let kind = o.get("type").and_then(Value::as_str);
    if !matches!(kind, Some("modal") | Some("home")) {
        errs.push(format!("view.type must be modal or home, got {kind:?}"));
    }
    let known = [
        "type",
        "title",
        "blocks",
        "close",
        "submit",
        "private_metadata",
        "callback_id",
        "clear_on_close",
        "notify_on_close",
        "external_id",
        "submit_disabled",
    ];
    for k in o.keys() {
        if !known.contains(&k.as_str()) {
            errs.push(format!("view.{k} is not a view field"));
        }
    }
    if kind == Some("modal") {
        match o.get("title") {
            Some(t) => check_text_object(t, "view.title", 24, true, errs),
            None => errs.push("view.title is required for a modal".into()),
        }
    }
    for k in ["submit", "close"] {
        if let Some(t) = o.get(k) {
            check_text_object(t, &format!("view.{k}"), 24, true, errs);
        }
    }
    for (k, max) in [
        ("callback_id", 255),
        ("private_metadata", 3000),
        ("external_id", 255),
    ] {
        if let Some(x) = o.get(k) {
            match x.as_str() {
                Some(s) if s.chars().count() <= max => {}
                _ => errs.push(format!(
                    "view.{k} must be a string of at most {max} characters"
                )),
            }
        }
    }
    let Some(blocks) = o.get("blocks").and_then(Value::as_array) else {
        return errs.push("view.blocks is required and must be an array".into());
    };
    if blocks.len() > 100 {
        errs.push(format!(
            "view.blocks has {} blocks (limit 100)",
            blocks.len()
        ));
    }
    let mut block_errs = vec![];
    // Message limits (50 blocks) do not apply to views; check the first 50 like message blocks.
    check_blocks(
        &Value::Array(blocks.iter().take(50).cloned().collect()),
        &mut block_errs,
    );
    errs.extend(block_errs.into_iter().map(|e| format!("view.{e}")));
    let mut has_input = false;
    for (i, b) in blocks.iter().enumerate() {
        if b.get("type").and_then(Value::as_str) != Some("input") {
            continue;
        }
        has_input = true;
        let at = format!("view.blocks[{i}]");
        match b.get("label") {
            Some(l) => check_text_object(l, &format!("{at}.label"), 2000, true, errs),
            None => errs.push(format!("{at}.label is required for an input block")),
        }
        match b.get("element") {
            Some(e) => {
                let et = e.get("type").and_then(Value::as_str).unwrap_or("");
                let inputs = [
                    "plain_text_input",
                    "static_select",
                    "multi_static_select",
                    "external_select",
                    "multi_external_select",
                    "users_select",
                    "multi_users_select",
                    "conversations_select",
                    "multi_conversations_select",
                    "channels_select",
                    "multi_channels_select",
                    "datepicker",
                    "timepicker",
                    "datetimepicker",
                    "checkboxes",
                    "radio_buttons",
                    "email_text_input",
                    "url_text_input",
                    "number_input",
                    "rich_text_input",
                    "file_input",
                ];
                if !inputs.contains(&et) {
                    errs.push(format!("{at}.element.type {et:?} is not an input element"));
                }
                if et == "plain_text_input" {
                    if let Some(m) = e.get("max_length") {
                        if !m.as_u64().is_some_and(|m| (1..=3000).contains(&m)) {
                            errs.push(format!("{at}.element.max_length must be 1..=3000"));
                        }
                    }
                }
                if let Some(a) = e.get("action_id") {
                    if !a
                        .as_str()
                        .is_some_and(|s| !s.is_empty() && s.chars().count() <= 255)
                    {
                        errs.push(format!("{at}.element.action_id must be 1..=255 characters"));
                    }
                }
            }
            None => errs.push(format!("{at}.element is required for an input block")),
        }
    }
    if kind == Some("modal") && has_input && !o.contains_key("submit") {
        errs.push("view.submit is required when a modal has input blocks".into());
    }
}

/// Gives each block a `block_id` and each action element an `action_id`, as Slack does.
fn slack_normalise_blocks(blocks: &Value, salt: &str) -> Value {
    let mut out = blocks.clone();
    if let Some(arr) = out.as_array_mut() {
        for (i, b) in arr.iter_mut().enumerate() {
            if let Some(o) = b.as_object_mut() {
                o.entry("block_id")
                    .or_insert_with(|| json!(format!("sb{salt}{i}")));
                if let Some(Value::Array(els)) = o.get_mut("elements") {
                    for (j, e) in els.iter_mut().enumerate() {
                        if let Some(eo) = e.as_object_mut() {
                            if eo.get("type").and_then(Value::as_str) == Some("button") {
                                eo.entry("action_id")
                                    .or_insert_with(|| json!(format!("sa{salt}{i}x{j}")));
                            }
                        }
                    }
                }
            }
        }
    }
    out
}

fn slack_bot_profile() -> Value {
    json!({
        "id": SLACK_BOT_ID, "deleted": false, "name": "claimdesk", "updated": 1_700_000_000,
        "app_id": SLACK_APP_ID, "team_id": SLACK_TEAM_ID,
        "icons": {
            "image_36": "https://a.slack-edge.com/80588/img/plugins/app/bot_36.png",
            "image_48": "https://a.slack-edge.com/80588/img/plugins/app/bot_48.png",
            "image_72": "https://a.slack-edge.com/80588/img/plugins/app/service_72.png"
        }
    })
}

fn slack_execute(
    d: &mut SlackData,
    name: &str,
    p: &Map<String, Value>,
) -> Result<Value, SlackProblem> {
    let s = |k: &str| p.get(k).and_then(Value::as_str).map(str::to_string);
    let channel = d.channel_id(&s("channel").unwrap_or_default());
    match name {
        "auth.test" => Ok(json!({
            "ok": true, "url": "https://claimdesk-standin.slack.com/", "team": "Claimdesk Stand-in",
            "user": "claimdesk", "team_id": SLACK_TEAM_ID, "user_id": SLACK_BOT_USER_ID,
            "bot_id": SLACK_BOT_ID, "is_enterprise_install": false
        })),
        "chat.postMessage" => {
            let ts = next_slack_ts();
            let mut msg = json!({
                "user": SLACK_BOT_USER_ID, "type": "message", "ts": ts, "bot_id": SLACK_BOT_ID,
                "text": s("text").unwrap_or_default(), "team": SLACK_TEAM_ID,
                "bot_profile": slack_bot_profile(),
            });
            if let Some(b) = p.get("blocks") {
                msg["blocks"] = slack_normalise_blocks(b, &ts.replace('.', ""));
            }
            if let Some(a) = p.get("attachments") {
                let mut a = a.clone();
                for (i, att) in a.as_array_mut().into_iter().flatten().enumerate() {
                    if let Some(o) = att.as_object_mut() {
                        o.entry("id").or_insert(json!(i + 1));
                    }
                }
                msg["attachments"] = a;
            }
            if let Some(m) = p.get("metadata") {
                msg["metadata"] = m.clone();
            }
            if let Some(thread_ts) = s("thread_ts") {
                let Some(parent) = d.find(&channel, &thread_ts).filter(|m| !m.deleted) else {
                    return Err((
                        "thread_not_found",
                        format!("thread_ts {thread_ts} is not a message this stand-in posted in {channel}"),
                    ));
                };
                // Replying to a reply lands in the reply's thread.
                let root_ts = parent.msg["thread_ts"]
                    .as_str()
                    .unwrap_or(&thread_ts)
                    .to_string();
                let parent_user = d
                    .find(&channel, &root_ts)
                    .and_then(|m| m.msg["user"].as_str().map(str::to_string))
                    .unwrap_or_else(|| SLACK_BOT_USER_ID.to_string());
                msg["thread_ts"] = json!(root_ts);
                msg["parent_user_id"] = json!(parent_user);
                if let Some(root) = d.find_mut(&channel, &root_ts) {
                    let count = root.msg["reply_count"].as_u64().unwrap_or(0) + 1;
                    root.msg["thread_ts"] = json!(root_ts);
                    root.msg["reply_count"] = json!(count);
                    root.msg["reply_users_count"] = json!(1);
                    root.msg["reply_users"] = json!([SLACK_BOT_USER_ID]);
                    root.msg["latest_reply"] = json!(ts);
                    root.msg["is_locked"] = json!(false);
                    root.msg["subscribed"] = json!(false);
                }
            }
            d.messages.push(SlackMsg {
                channel: channel.clone(),
                ts: ts.clone(),
                ephemeral: false,
                deleted: false,
                msg: msg.clone(),
            });
            Ok(json!({"ok": true, "channel": channel, "ts": ts, "message": msg}))
        }
        "chat.update" => {
            let ts = s("ts").unwrap_or_default();
            let Some(m) = d.find_mut(&channel, &ts).filter(|m| !m.deleted) else {
                return Err((
                    "message_not_found",
                    format!("chat.update of ts {ts} in {channel}: no such message was posted"),
                ));
            };
            if let Some(t) = p.get("text") {
                m.msg["text"] = t.clone();
            }
            if let Some(b) = p.get("blocks") {
                m.msg["blocks"] = slack_normalise_blocks(b, &ts.replace('.', ""));
            }
            if let Some(a) = p.get("attachments") {
                m.msg["attachments"] = a.clone();
            }
            if let Some(md) = p.get("metadata") {
                m.msg["metadata"] = md.clone();
            }
            let edited = json!({"user": SLACK_BOT_USER_ID, "ts": next_slack_ts()});
            m.msg["edited"] = edited.clone();
            let text = m.msg["text"].as_str().unwrap_or_default().to_string();
            let mut message = json!({
                "bot_id": SLACK_BOT_ID, "type": "message", "text": text, "user": SLACK_BOT_USER_ID,
                "team": SLACK_TEAM_ID, "bot_profile": slack_bot_profile(), "edited": edited,
            });
            for k in ["blocks", "attachments", "metadata"] {
                if let Some(v) = m.msg.get(k) {
                    message[k] = v.clone();
                }
            }
            let mut resp =
                json!({"ok": true, "channel": channel, "ts": ts, "text": text, "message": message});
            if let Some(tt) = m
                .msg
                .get("thread_ts")
                .filter(|t| t.as_str() != Some(ts.as_str()))
            {
                resp["thread_ts"] = tt.clone();
            }
            Ok(resp)
        }
        "chat.postEphemeral" => {
            if let Some(thread_ts) = s("thread_ts") {
                if d.find(&channel, &thread_ts).is_none() {
                    return Err((
                        "thread_not_found",
                        format!("thread_ts {thread_ts} is not a message this stand-in posted in {channel}"),
                    ));
                }
            }
            let ts = next_slack_ts();
            let mut msg = json!({"type": "message", "user": s("user"), "text": s("text").unwrap_or_default(), "ts": ts});
            if let Some(b) = p.get("blocks") {
                msg["blocks"] = b.clone();
            }
            d.messages.push(SlackMsg {
                channel,
                ts: ts.clone(),
                ephemeral: true,
                deleted: false,
                msg,
            });
            Ok(json!({"ok": true, "message_ts": ts}))
        }
        "chat.delete" => {
            let ts = s("ts").unwrap_or_default();
            match d.find_mut(&channel, &ts).filter(|m| !m.deleted) {
                Some(m) => {
                    m.deleted = true;
                    Ok(json!({"ok": true, "channel": channel, "ts": ts}))
                }
                None => Err((
                    "message_not_found",
                    format!("chat.delete of ts {ts} in {channel}: no such message"),
                )),
            }
        }
        "chat.getPermalink" => {
            let ts = s("message_ts").unwrap_or_default();
            if d.find(&channel, &ts).is_none() {
                return Err((
                    "message_not_found",
                    format!("chat.getPermalink of ts {ts} in {channel}: no such message"),
                ));
            }
            Ok(json!({
                "ok": true, "channel": channel,
                "permalink": format!("https://claimdesk-standin.slack.com/archives/{channel}/p{}", ts.replace('.', ""))
            }))
        }
        "conversations.replies" => {
            let ts = s("ts").unwrap_or_default();
            let Some(root) = d.find(&channel, &ts).filter(|m| !m.deleted) else {
                return Err((
                    "thread_not_found",
                    format!("conversations.replies of ts {ts} in {channel}: no such message"),
                ));
            };
            let root_ts = root.msg["thread_ts"].as_str().unwrap_or(&ts).to_string();
            let mut msgs: Vec<&SlackMsg> = d
                .messages
                .iter()
                .filter(|m| m.channel == channel && !m.ephemeral && !m.deleted)
                .filter(|m| {
                    m.ts == root_ts || m.msg["thread_ts"].as_str() == Some(root_ts.as_str())
                })
                .collect();
            msgs.sort_by(|a, b| a.ts.cmp(&b.ts));
            let messages: Vec<Value> = msgs.iter().map(|m| m.msg.clone()).collect();
            Ok(json!({"ok": true, "messages": messages, "has_more": false}))
        }
        "apps.connections.open" => {
            let n = SLACK_TS_COUNTER.fetch_add(1, Ordering::SeqCst);
            Ok(
                json!({"ok": true, "url": format!("{}?ticket=standin-{n}&app_id={SLACK_APP_ID}", d.socket_url)}),
            )
        }
        "views.open" => {
            let trigger = s("trigger_id").unwrap_or_default();
            match d.triggers.remove(&trigger) {
                None => {
                    return Err((
                        "invalid_trigger_id",
                        format!("views.open with trigger_id {trigger:?}, which the stand-in never handed out (or was used before)"),
                    ))
                }
                Some(at) if at.elapsed() > Duration::from_secs(3) => {
                    return Err((
                        "expired_trigger_id",
                        format!("views.open {:?} after its trigger was issued (Slack allows 3 s)", at.elapsed()),
                    ))
                }
                Some(_) => {}
            }
            d.views += 1;
            let id = format!("V0STANDIN{:03}", d.views);
            let mut view = p.get("view").cloned().unwrap_or(json!({}));
            let blocks = slack_normalise_blocks(&view["blocks"], &id);
            for (k, v) in [
                ("id", json!(id)),
                ("team_id", json!(SLACK_TEAM_ID)),
                ("blocks", blocks),
                ("state", json!({"values": {}})),
                ("hash", json!(format!("1700000000.{id}"))),
                ("previous_view_id", Value::Null),
                ("root_view_id", json!(id)),
                ("app_id", json!(SLACK_APP_ID)),
                ("bot_id", json!(SLACK_BOT_ID)),
            ] {
                view[k] = v;
            }
            for (k, v) in [
                ("private_metadata", json!("")),
                ("callback_id", json!("")),
                ("external_id", json!("")),
                ("clear_on_close", json!(false)),
                ("notify_on_close", json!(false)),
            ] {
                if view.get(k).is_none() {
                    view[k] = v;
                }
            }
            Ok(json!({"ok": true, "view": view}))
        }
        other => Err((
            "unknown_method",
            format!("stand-in has no handler for {other}"),
        )),
    }
}

// ====================================================================================
// Discord REST API stand-in
// ====================================================================================

struct DiscordState {
    core: Core,
    data: Mutex<DiscordData>,
}

#[derive(Default)]
struct DiscordData {
    messages: BTreeMap<u64, Value>,
    threads: HashMap<u64, Value>,
    uploads: Vec<Upload>,
    /// The command set of the last accepted bulk overwrite.
    commands: Option<Value>,
    /// What `GET /gateway/bot` answers as `url` (a local gateway stand-in).
    gateway_url: Option<String>,
}

/// Rules from Discord's developer documentation that the OpenAPI file does not encode.
pub const DISCORD_DOC_RULES: &[&str] = &[
    "content is at most 2000 characters (Create Message docs; the OpenAPI says 4000, the Nitro limit; serenity's MESSAGE_CODE_LIMIT is 2000)",
    "create message needs content, embeds, sticker_ids, components, files or poll (error 50006)",
    "embeds: total characters of titles, descriptions, field names/values, footer texts and author names <= 6000",
    "buttons: style 1-4 need custom_id and no url; style 5 needs url and no custom_id; style 6 needs sku_id; label or emoji needed except for style 6",
    "custom_id values are unique within a message",
    "multipart attachments[].id refers to an uploaded files[id] part",
];

type DiscordProblem = (StatusCode, Value, String);

/// A multipart part: (field name, filename, content type, bytes).
type FilePart = (String, Option<String>, Option<String>, Vec<u8>);

fn discord_error(code: i64, message: &str) -> Value {
    json!({"code": code, "message": message})
}

/// Discord's nested `errors` object: {"embeds": {"0": {"title": {"_errors": [{code, message}]}}}}.
fn discord_form_errors(errs: &[(Vec<Seg>, &'static str, String)]) -> Value {
    let mut root = Value::Object(Map::new());
    for (path, code, msg) in errs {
        let mut cur = &mut root;
        for seg in path {
            let key = match seg {
                Seg::Key(k) => k.clone(),
                Seg::Idx(i) => i.to_string(),
            };
            cur = cur
                .as_object_mut()
                .unwrap()
                .entry(key)
                .or_insert_with(|| Value::Object(Map::new()));
        }
        let list = cur
            .as_object_mut()
            .unwrap()
            .entry("_errors")
            .or_insert_with(|| json!([]));
        list.as_array_mut()
            .unwrap()
            .push(json!({"code": code, "message": msg}));
    }
    root
}

struct DiscordRoute {
    template: String,
    method: String,
    params: HashMap<String, String>,
}

fn discord_match_route(path: &str) -> Option<(String, HashMap<String, String>)> {
    let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let paths = discord_spec()["paths"].as_object()?;
    let mut best: Option<(usize, String, HashMap<String, String>)> = None;
    for tpl in paths.keys() {
        let tsegs: Vec<&str> = tpl.trim_start_matches('/').split('/').collect();
        if tsegs.len() != segs.len() {
            continue;
        }
        let mut literal = 0;
        let mut params = HashMap::new();
        let mut ok = true;
        for (t, s) in tsegs.iter().zip(&segs) {
            if t.starts_with('{') && t.ends_with('}') {
                if s.is_empty() {
                    ok = false;
                    break;
                }
                params.insert(t[1..t.len() - 1].to_string(), s.to_string());
            } else if t == s {
                literal += 1;
            } else {
                ok = false;
                break;
            }
        }
        if ok && best.as_ref().map(|(l, _, _)| literal > *l).unwrap_or(true) {
            best = Some((literal, tpl.clone(), params));
        }
    }
    best.map(|(_, t, p)| (t, p))
}

fn parse_multipart(ct: &str, body: &[u8]) -> Result<Vec<FilePart>, String> {
    let boundary = ct
        .split(';')
        .filter_map(|p| p.trim().strip_prefix("boundary="))
        .next()
        .ok_or("multipart Content-Type without boundary")?
        .trim_matches('"')
        .to_string();
    let delim = format!("--{boundary}").into_bytes();
    let find = |hay: &[u8], needle: &[u8], from: usize| -> Option<usize> {
        if hay.len() < needle.len() {
            return None;
        }
        (from..=hay.len() - needle.len()).find(|&i| &hay[i..i + needle.len()] == needle)
    };
    let mut parts = vec![];
    let mut pos = find(body, &delim, 0).ok_or("no multipart boundary in body")? + delim.len();
    loop {
        if body[pos..].starts_with(b"--") {
            break;
        }
        let start = pos + 2; // CRLF after the delimiter
        let next = find(body, &delim, start).ok_or("unterminated multipart part")?;
        let part = &body[start..next.saturating_sub(2).max(start)];
        let split = find(part, b"\r\n\r\n", 0).ok_or("multipart part without header end")?;
        let head = String::from_utf8_lossy(&part[..split]).to_string();
        let data = part[split + 4..].to_vec();
        let mut name = None;
        let mut filename = None;
        let mut ctype = None;
        for line in head.split("\r\n") {
            let lower = line.to_ascii_lowercase();
            if lower.starts_with("content-disposition:") {
                for attr in line.split(';').skip(1) {
                    let attr = attr.trim();
                    if let Some(v) = attr.strip_prefix("name=") {
                        name = Some(v.trim_matches('"').to_string());
                    } else if let Some(v) = attr.strip_prefix("filename=") {
                        filename = Some(v.trim_matches('"').to_string());
                    }
                }
            } else if lower.starts_with("content-type:") {
                ctype = Some(line[13..].trim().to_string());
            }
        }
        parts.push((
            name.ok_or("multipart part without a name")?,
            filename,
            ctype,
            data,
        ));
        pos = next + delim.len();
        if pos >= body.len() {
            break;
        }
    }
    Ok(parts)
}

async fn discord_entry(
    State(st): State<Arc<DiscordState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let ct = header(&headers, "content-type").unwrap_or("").to_string();
    let mut files: Vec<FilePart> = vec![];
    let mut early: Vec<String> = vec![];
    let body_value = if body.is_empty() {
        Value::Null
    } else if ct.to_ascii_lowercase().starts_with("multipart/form-data") {
        match parse_multipart(&ct, &body) {
            Ok(parts) => {
                let mut payload = Value::Null;
                for (name, filename, ctype, data) in parts {
                    if name == "payload_json" {
                        payload = serde_json::from_slice(&data).unwrap_or_else(|_| {
                            Value::String(String::from_utf8_lossy(&data).into_owned())
                        });
                    } else {
                        files.push((name, filename, ctype, data));
                    }
                }
                payload
            }
            Err(e) => {
                early.push(format!("bad multipart body: {e}"));
                Value::Null
            }
        }
    } else {
        serde_json::from_slice(&body)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into_owned()))
    };
    let rec = Recorded {
        method: method.as_str().to_string(),
        path: uri.path().to_string(),
        headers: header_pairs(&headers),
        body: body_value,
    };
    st.core.lock().received.push(rec.clone());

    let verdict = discord_validate(&method, &uri, &headers, &ct, &rec, &files, early);
    if let Err((_, _, msgs)) = &verdict {
        for m in msgs.lines() {
            st.core.violation(&rec, m);
        }
    }

    let rl_headers = |remaining: u64, reset_after: u64| -> Vec<(&'static str, String)> {
        let reset = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0)
            + reset_after as f64;
        vec![
            ("x-ratelimit-limit", "5".into()),
            ("x-ratelimit-remaining", remaining.to_string()),
            ("x-ratelimit-reset", format!("{reset:.3}")),
            ("x-ratelimit-reset-after", format!("{reset_after}.000")),
            ("x-ratelimit-bucket", "standin0bucket0".into()),
        ]
    };

    match st.core.next_behaviour() {
        Behaviour::Normal => {}
        Behaviour::Fail500 => {
            return json_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                &json!({"message": "500: Internal Server Error", "code": 0}),
                &[],
            )
        }
        Behaviour::RateLimited { retry_after_secs } => {
            let mut h = rl_headers(0, retry_after_secs);
            h.push(("retry-after", retry_after_secs.to_string()));
            h.push(("x-ratelimit-scope", "user".into()));
            // Discord's documented 429 body (the OpenAPI also demands `code`; Discord's docs
            // say `code` is only sent for some limits, so it is left out).
            return json_response(
                StatusCode::TOO_MANY_REQUESTS,
                &json!({"message": "You are being rate limited.", "retry_after": retry_after_secs as f64, "global": false}),
                &h,
            );
        }
        Behaviour::Hang => {
            st.core.hang().await;
            return empty_response(StatusCode::SERVICE_UNAVAILABLE, &[]);
        }
    }

    let route = match verdict {
        Ok(r) => r,
        Err((status, body, _)) => return json_response(status, &body, &[]),
    };

    let result = {
        let mut d = st.data.lock().unwrap();
        discord_execute(&mut d, &route, &rec, &files)
    };
    match result {
        Ok((status, body)) => {
            // Self-check: the answer must match the spec's response schema.
            let errs = discord_check_response(&route, status, &body);
            for e in errs {
                st.core.violation(
                    &rec,
                    format!("stand-in self-check (response does not match spec): {e}"),
                );
            }
            st.core.lock().accepted.push(rec);
            if let Some(b) = body {
                json_response(status, &b, &rl_headers(4, 1))
            } else {
                empty_response(status, &rl_headers(4, 1))
            }
        }
        Err((status, body, msg)) => {
            st.core.violation(&rec, &msg);
            json_response(status, &body, &[])
        }
    }
}

fn discord_validate(
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    ct: &str,
    rec: &Recorded,
    files: &[FilePart],
    mut problems: Vec<String>,
) -> Result<DiscordRoute, DiscordProblem> {
    let spec = discord_spec();
    let not_found = |msg: String| -> DiscordProblem {
        (
            StatusCode::NOT_FOUND,
            json!({"message": "404: Not Found", "code": 0}),
            msg,
        )
    };
    let Some(path) = uri.path().strip_prefix("/api/v10") else {
        return Err(not_found(format!(
            "path does not start with /api/v10: {}",
            uri.path()
        )));
    };
    let Some((template, params)) = discord_match_route(path) else {
        return Err(not_found(format!("no route {path} in the Discord spec")));
    };
    let m = method.as_str().to_ascii_lowercase();
    let path_item = &spec["paths"][&template];
    let Some(op) = path_item.get(&m).filter(|_| m != "parameters") else {
        return Err((
            StatusCode::METHOD_NOT_ALLOWED,
            json!({"message": "405: Method Not Allowed", "code": 0}),
            format!("{} is not declared for {template}", method.as_str()),
        ));
    };
    let route = DiscordRoute {
        template: template.clone(),
        method: method.as_str().to_string(),
        params: params.clone(),
    };
    if !discord_implemented(&route) {
        return Err(not_found(format!(
            "{} {template} is in the spec but not served by the stand-in (add it)",
            method.as_str()
        )));
    }

    // Path parameters against their schemas.
    let declared: Vec<&Value> = path_item["parameters"]
        .as_array()
        .into_iter()
        .flatten()
        .chain(op["parameters"].as_array().into_iter().flatten())
        .collect();
    let mut form_errs: Vec<(Vec<Seg>, &'static str, String)> = vec![];
    for p in declared.iter().filter(|p| p["in"] == "path") {
        let n = p["name"].as_str().unwrap_or_default();
        if let Some(v) = params.get(n) {
            for e in schema::validate(spec, &p["schema"], &Value::String(v.clone())) {
                problems.push(format!("path parameter {n}={v:?}: {}", e.msg));
            }
        }
    }

    // Authentication: "Authorization: Bot <token>" unless the operation allows no auth.
    let auth_optional = op["security"]
        .as_array()
        .map(|s| {
            s.iter()
                .any(|x| x.as_object().map(|o| o.is_empty()).unwrap_or(false))
        })
        .unwrap_or(false);
    match header(headers, "authorization") {
        Some(a) if a.starts_with("Bot ") && a.len() > 4 => {}
        Some(a) => {
            return Err((
                StatusCode::UNAUTHORIZED,
                json!({"message": "401: Unauthorized", "code": 0}),
                format!("Authorization header is not 'Bot <token>': {a:?}"),
            ))
        }
        None if auth_optional => {}
        None => {
            return Err((
                StatusCode::UNAUTHORIZED,
                json!({"message": "401: Unauthorized", "code": 0}),
                "no Authorization header".into(),
            ))
        }
    }
    // Discord requires a "DiscordBot ($url, $versionNumber)" User-Agent.
    match header(headers, "user-agent") {
        Some(ua) if ua.starts_with("DiscordBot") => {}
        other => problems.push(format!(
            "User-Agent must be 'DiscordBot ($url, $version)', got {other:?}"
        )),
    }

    // Request body against the requestBody schema.
    let mime = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match op.get("requestBody") {
        Some(rb) => {
            let content = &rb["content"];
            let required = rb["required"] == true;
            if rec.body.is_null() && files.is_empty() {
                if required {
                    problems.push("request body is required".into());
                }
            } else {
                let schema_mime = if mime == "multipart/form-data" {
                    "multipart/form-data"
                } else {
                    mime.as_str()
                };
                if content.get(schema_mime).is_none() {
                    let allowed: Vec<&String> = content
                        .as_object()
                        .map(|o| o.keys().collect())
                        .unwrap_or_default();
                    problems.push(format!("Content-Type {ct:?} is not one of {allowed:?}"));
                } else {
                    // For multipart the JSON payload is validated against the JSON schema and
                    // the file parts are checked by name.
                    let sch = content
                        .get("application/json")
                        .map(|c| &c["schema"])
                        .unwrap_or(&content[schema_mime]["schema"]);
                    if !rec.body.is_null() {
                        for e in schema::validate(spec, sch, &rec.body) {
                            form_errs.push((e.path.clone(), e.code, e.msg.clone()));
                            problems.push(e.display("body"));
                        }
                    }
                    if schema_mime == "multipart/form-data" {
                        for (name, _, _, _) in files {
                            let ok = name
                                .strip_prefix("files[")
                                .and_then(|r| r.strip_suffix(']'))
                                .and_then(|n| n.parse::<u32>().ok())
                                .map(|n| n <= 9)
                                .unwrap_or(false);
                            if !ok {
                                problems.push(format!(
                                    "multipart part {name:?} is not payload_json or files[0..9]"
                                ));
                            }
                        }
                    }
                }
            }
        }
        None => {
            if !rec.body.is_null() {
                problems.push(format!(
                    "{} {template} takes no request body",
                    method.as_str()
                ));
            }
        }
    }

    // Documented rules the OpenAPI does not encode.
    if form_errs.is_empty() && rec.body.is_object() {
        let create = route.method == "POST" && template == "/channels/{channel_id}/messages";
        let edit =
            route.method == "PATCH" && template == "/channels/{channel_id}/messages/{message_id}";
        if create || edit {
            for (path, code, msg) in discord_doc_rules(&rec.body, create, files) {
                problems.push(format!("{}: {msg}", schema::path_string("body", &path)));
                form_errs.push((path, code, msg));
            }
        }
    }

    if problems.is_empty() {
        return Ok(route);
    }
    let empty_msg = problems
        .iter()
        .any(|p| p.contains("Cannot send an empty message"));
    let body = if empty_msg {
        json!({"message": "Cannot send an empty message", "code": 50006})
    } else {
        let mut b = discord_error(50035, "Invalid Form Body");
        if !form_errs.is_empty() {
            b["errors"] = discord_form_errors(&form_errs);
        }
        b
    };
    Err((StatusCode::BAD_REQUEST, body, problems.join("\n")))
}

fn discord_doc_rules(
    b: &Value,
    create: bool,
    files: &[FilePart],
) -> Vec<(Vec<Seg>, &'static str, String)> {
    let mut out = vec![];
    let key = |k: &str| vec![Seg::Key(k.to_string())];
    if let Some(c) = b["content"].as_str() {
        let n = c.chars().count();
        if n > 2000 {
            out.push((
                key("content"),
                "BASE_TYPE_MAX_LENGTH",
                format!("Must be 2000 or fewer in length (got {n}; doc rule)"),
            ));
        }
    }
    let nonempty = |k: &str| match &b[k] {
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(_) => true,
        _ => false,
    };
    if create
        && !files.iter().any(|f| f.0.starts_with("files["))
        && !["content", "embeds", "sticker_ids", "components", "poll"]
            .iter()
            .any(|k| nonempty(k))
    {
        out.push((
            vec![],
            "MESSAGE_EMPTY",
            "Cannot send an empty message (code 50006; doc rule)".into(),
        ));
    }
    if let Some(embeds) = b["embeds"].as_array() {
        let len = |v: &Value| v.as_str().map(|s| s.chars().count()).unwrap_or(0);
        let total: usize = embeds
            .iter()
            .map(|e| {
                len(&e["title"])
                    + len(&e["description"])
                    + len(&e["footer"]["text"])
                    + len(&e["author"]["name"])
                    + e["fields"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|f| len(&f["name"]) + len(&f["value"]))
                        .sum::<usize>()
            })
            .sum();
        if total > 6000 {
            out.push((
                key("embeds"),
                "MAX_EMBED_SIZE_EXCEEDED",
                format!("Embed size exceeds maximum size of 6000 (got {total}; doc rule)"),
            ));
        }
    }
    let mut ids = HashSet::new();
    fn walk(
        v: &Value,
        path: &mut Vec<Seg>,
        ids: &mut HashSet<String>,
        out: &mut Vec<(Vec<Seg>, &'static str, String)>,
    ) {
        match v {
            Value::Array(a) => {
                for (i, x) in a.iter().enumerate() {
                    path.push(Seg::Idx(i));
                    walk(x, path, ids, out);
                    path.pop();
                }
            }
            Value::Object(o) => {
                if o.get("type").and_then(Value::as_u64) == Some(2) {
                    let style = o.get("style").and_then(Value::as_u64).unwrap_or(0);
                    let has = |k: &str| o.get(k).map(|v| !v.is_null()).unwrap_or(false);
                    let mut bad = |m: String| {
                        out.push((
                            path.clone(),
                            "BUTTON_COMPONENT_INVALID",
                            format!("{m} (doc rule)"),
                        ))
                    };
                    match style {
                        1..=4 => {
                            if !has("custom_id") {
                                bad(format!("button style {style} requires custom_id"));
                            }
                            if has("url") {
                                bad(format!("button style {style} cannot have url"));
                            }
                        }
                        5 => {
                            if !has("url") {
                                bad("link button (style 5) requires url".into());
                            }
                            if has("custom_id") {
                                bad("link button (style 5) cannot have custom_id".into());
                            }
                        }
                        6 if !has("sku_id") => {
                            bad("premium button (style 6) requires sku_id".into())
                        }
                        _ => {}
                    }
                    if style != 6 && !has("label") && !has("emoji") {
                        bad("button needs a label or an emoji".into());
                    }
                }
                if let Some(cid) = o.get("custom_id").and_then(Value::as_str) {
                    if !ids.insert(cid.to_string()) {
                        out.push((
                            path.clone(),
                            "COMPONENT_CUSTOM_ID_DUPLICATED",
                            format!("custom_id {cid:?} is used twice (doc rule)"),
                        ));
                    }
                }
                for (k, x) in o {
                    if k == "components" || k == "accessory" {
                        path.push(Seg::Key(k.clone()));
                        walk(x, path, ids, out);
                        path.pop();
                    }
                }
            }
            _ => {}
        }
    }
    let mut path = key("components");
    walk(&b["components"], &mut path, &mut ids, &mut out);
    if !files.is_empty() {
        let names: HashSet<&str> = files.iter().map(|f| f.0.as_str()).collect();
        for (i, a) in b["attachments"]
            .as_array()
            .into_iter()
            .flatten()
            .enumerate()
        {
            let id = match &a["id"] {
                Value::Number(n) => n.to_string(),
                Value::String(s) => s.clone(),
                _ => continue,
            };
            // Small ids are upload placeholders; large ones are existing attachments (edits).
            if id.len() < 10 && !names.contains(format!("files[{id}]").as_str()) {
                out.push((
                    vec![
                        Seg::Key("attachments".into()),
                        Seg::Idx(i),
                        Seg::Key("id".into()),
                    ],
                    "ATTACHMENT_NOT_FOUND",
                    format!("attachment id {id} has no files[{id}] part (doc rule)"),
                ));
            }
        }
    }
    out
}

fn discord_implemented(r: &DiscordRoute) -> bool {
    matches!(
        (r.method.as_str(), r.template.as_str()),
        ("POST", "/channels/{channel_id}/messages")
            | ("GET", "/channels/{channel_id}/messages/{message_id}")
            | ("PATCH", "/channels/{channel_id}/messages/{message_id}")
            | ("DELETE", "/channels/{channel_id}/messages/{message_id}")
            | (
                "POST",
                "/channels/{channel_id}/messages/{message_id}/threads"
            )
            | (
                "PUT",
                "/channels/{channel_id}/messages/{message_id}/reactions/{emoji_name}/@me"
            )
            | ("GET", "/channels/{channel_id}")
            | ("GET", "/users/@me")
            | (
                "POST",
                "/interactions/{interaction_id}/{interaction_token}/callback"
            )
            | ("PUT", "/applications/{application_id}/commands")
            | (
                "PUT",
                "/applications/{application_id}/guilds/{guild_id}/commands"
            )
            | (
                "PATCH",
                "/webhooks/{webhook_id}/{webhook_token}/messages/@original"
            )
            | ("GET", "/gateway/bot")
            | ("GET", "/gateway")
    )
}

fn discord_bot_user() -> Value {
    json!({
        "id": DISCORD_BOT_USER_ID, "username": "claimdesk-standin", "global_name": null, "avatar": null,
        "discriminator": "4821", "public_flags": 0, "flags": 0, "bot": true,
        "banner": null, "accent_color": null, "avatar_decoration_data": null, "collectibles": null,
        "primary_guild": null
    })
}

/// Request components → response components: nulls dropped, numeric `id`s assigned.
fn discord_response_components(v: &Value, next_id: &mut i64) -> Value {
    match v {
        Value::Array(a) => Value::Array(
            a.iter()
                .map(|x| discord_response_components(x, next_id))
                .collect(),
        ),
        Value::Object(o) => {
            let mut out = Map::new();
            if o.contains_key("type") && !o.contains_key("id") {
                out.insert("id".into(), json!(*next_id));
                *next_id += 1;
            }
            // Select menus come back with their defaults filled in.
            if matches!(
                o.get("type").and_then(Value::as_u64),
                Some(3 | 5 | 6 | 7 | 8)
            ) {
                for k in ["min_values", "max_values"] {
                    if o.get(k).map(Value::is_null).unwrap_or(true) {
                        out.insert(k.into(), json!(1));
                    }
                }
            }
            for (k, x) in o {
                if x.is_null() {
                    continue;
                }
                let x = if k == "components" || k == "accessory" {
                    discord_response_components(x, next_id)
                } else {
                    x.clone()
                };
                out.insert(k.clone(), x);
            }
            Value::Object(out)
        }
        other => other.clone(),
    }
}

fn discord_response_embeds(v: &Value) -> Value {
    let embeds = strip_nulls(v);
    let arr = embeds.as_array().cloned().unwrap_or_default();
    Value::Array(
        arr.into_iter()
            .map(|mut e| {
                if let Some(o) = e.as_object_mut() {
                    o.entry("type").or_insert(json!("rich"));
                    if let Some(Value::Array(fields)) = o.get_mut("fields") {
                        for f in fields.iter_mut() {
                            if let Some(fo) = f.as_object_mut() {
                                fo.entry("inline").or_insert(json!(false));
                            }
                        }
                    }
                    if o.get("fields")
                        .map(|f| f.as_array().map(|a| a.is_empty()).unwrap_or(false))
                        .unwrap_or(false)
                    {
                        o.remove("fields");
                    }
                    if o.get("footer")
                        .map(|f| f.get("text").is_none())
                        .unwrap_or(false)
                    {
                        o.remove("footer");
                    }
                    if o.get("author")
                        .map(|a| a.get("name").is_none())
                        .unwrap_or(false)
                    {
                        o.remove("author");
                    }
                    if let Some(ts) = o.get("timestamp").and_then(Value::as_str) {
                        if let Ok(t) = chrono::DateTime::parse_from_rfc3339(ts) {
                            o.insert(
                                "timestamp".into(),
                                json!(t
                                    .with_timezone(&chrono::Utc)
                                    .to_rfc3339_opts(chrono::SecondsFormat::Millis, false)),
                            );
                        }
                    }
                }
                e
            })
            .collect(),
    )
}

fn discord_response_attachments(channel: &str, files: &[FilePart], body: &Value) -> Value {
    let mut out = vec![];
    for (name, filename, ctype, data) in files {
        let idx = name
            .strip_prefix("files[")
            .and_then(|r| r.strip_suffix(']'))
            .unwrap_or("0");
        let meta = body["attachments"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|a| match &a["id"] {
                Value::Number(n) => n.to_string() == idx,
                Value::String(s) => s == idx,
                _ => false,
            })
            .cloned()
            .unwrap_or(Value::Null);
        let id = next_snowflake();
        let fname = meta["filename"]
            .as_str()
            .map(str::to_string)
            .or_else(|| filename.clone())
            .unwrap_or_else(|| "file".into());
        let mut a = json!({
            "id": id.to_string(), "filename": fname, "size": data.len(),
            "url": format!("https://cdn.discordapp.com/attachments/{channel}/{id}/{fname}"),
            "proxy_url": format!("https://media.discordapp.net/attachments/{channel}/{id}/{fname}"),
        });
        if let Some(c) = ctype {
            a["content_type"] = json!(c);
        }
        if let Some(d) = meta["description"].as_str() {
            a["description"] = json!(d);
        }
        out.push(a);
    }
    Value::Array(out)
}

fn discord_execute(
    d: &mut DiscordData,
    r: &DiscordRoute,
    rec: &Recorded,
    files: &[FilePart],
) -> Result<(StatusCode, Option<Value>), DiscordProblem> {
    let now = now_rfc3339();
    let b = &rec.body;
    let p = |k: &str| r.params.get(k).cloned().unwrap_or_default();
    let channel = p("channel_id");
    let unknown_message = |mid: &str| -> DiscordProblem {
        (
            StatusCode::NOT_FOUND,
            json!({"message": "Unknown Message", "code": 10008}),
            format!("message {mid} in channel {channel} was never created by this stand-in"),
        )
    };
    let lookup = |d: &DiscordData, mid: &str| -> Option<u64> {
        let id: u64 = mid.parse().ok()?;
        d.messages
            .get(&id)
            .filter(|m| m["channel_id"].as_str() == Some(channel.as_str()))
            .map(|_| id)
    };
    match (r.method.as_str(), r.template.as_str()) {
        ("POST", "/channels/{channel_id}/messages") => {
            let id = next_snowflake();
            let mut next_cid = 1;
            let mut msg = json!({
                "type": if b["message_reference"].is_object() { 19 } else { 0 },
                "content": b["content"].as_str().unwrap_or(""),
                "mentions": [], "mention_roles": [],
                "attachments": discord_response_attachments(&channel, files, b),
                "embeds": discord_response_embeds(&b["embeds"]),
                "timestamp": now, "edited_timestamp": null,
                "flags": b["flags"].as_u64().unwrap_or(0),
                "components": discord_response_components(&b.get("components").cloned().unwrap_or(json!([])), &mut next_cid),
                "id": id.to_string(), "channel_id": channel,
                "author": discord_bot_user(), "pinned": false, "mention_everyone": false,
                "tts": b["tts"].as_bool().unwrap_or(false),
            });
            if !b["nonce"].is_null() {
                msg["nonce"] = b["nonce"].clone();
            }
            if let Some(mr) = b["message_reference"].as_object() {
                let ref_id = mr.get("message_id").map(|v| match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                });
                let ref_channel = mr
                    .get("channel_id")
                    .and_then(Value::as_str)
                    .unwrap_or(&channel)
                    .to_string();
                let referenced = ref_id
                    .as_deref()
                    .and_then(|x| x.parse::<u64>().ok())
                    .and_then(|x| d.messages.get(&x))
                    .cloned();
                if referenced.is_none() && mr.get("fail_if_not_exists") != Some(&Value::Bool(false))
                {
                    return Err((
                        StatusCode::BAD_REQUEST,
                        json!({"code": 50035, "message": "Invalid Form Body", "errors": {"message_reference": {"_errors": [{"code": "REPLIES_UNKNOWN_MESSAGE", "message": "Unknown message"}]}}}),
                        format!("message_reference to message {ref_id:?} that this stand-in never created"),
                    ));
                }
                msg["message_reference"] = json!({"type": 0, "channel_id": ref_channel, "message_id": ref_id, "guild_id": DISCORD_GUILD_ID});
                if let Some(mut refd) = referenced {
                    if let Some(o) = refd.as_object_mut() {
                        o.remove("referenced_message");
                        o.remove("message_reference");
                        o.remove("thread");
                    }
                    msg["referenced_message"] = refd;
                } else {
                    msg["referenced_message"] = Value::Null;
                }
            }
            if let Ok(cid) = channel.parse::<u64>() {
                if let Some(t) = d.threads.get_mut(&cid) {
                    let n = t["message_count"].as_u64().unwrap_or(0) + 1;
                    t["message_count"] = json!(n);
                    t["total_message_sent"] = json!(n);
                    t["last_message_id"] = json!(id.to_string());
                    msg["position"] = json!(n - 1);
                }
            }
            for (name, filename, ctype, data) in files {
                d.uploads.push(Upload {
                    path: rec.path.clone(),
                    field: name.clone(),
                    filename: filename.clone(),
                    content_type: ctype.clone(),
                    data: data.clone(),
                });
            }
            d.messages.insert(id, msg.clone());
            Ok((StatusCode::OK, Some(msg)))
        }
        ("GET", "/channels/{channel_id}/messages/{message_id}") => {
            let mid = p("message_id");
            let id = lookup(d, &mid).ok_or_else(|| unknown_message(&mid))?;
            Ok((StatusCode::OK, Some(d.messages[&id].clone())))
        }
        ("PATCH", "/channels/{channel_id}/messages/{message_id}") => {
            let mid = p("message_id");
            let id = lookup(d, &mid).ok_or_else(|| unknown_message(&mid))?;
            let attachments = if files.is_empty() {
                None
            } else {
                Some(discord_response_attachments(&channel, files, b))
            };
            let msg = d.messages.get_mut(&id).unwrap();
            let bo = b.as_object().cloned().unwrap_or_default();
            if let Some(c) = bo.get("content") {
                msg["content"] = json!(c.as_str().unwrap_or(""));
            }
            if let Some(e) = bo.get("embeds") {
                msg["embeds"] = discord_response_embeds(e);
            }
            if let Some(c) = bo.get("components") {
                let mut next_cid = 1;
                msg["components"] = if c.is_null() {
                    json!([])
                } else {
                    discord_response_components(c, &mut next_cid)
                };
            }
            if let Some(f) = bo.get("flags").and_then(Value::as_u64) {
                msg["flags"] = json!(f);
            }
            if let Some(a) = bo.get("attachments") {
                // Keep the existing attachments the edit lists, add the new uploads.
                let keep: HashSet<String> = a
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|x| match &x["id"] {
                        Value::String(s) => Some(s.clone()),
                        Value::Number(n) => Some(n.to_string()),
                        _ => None,
                    })
                    .collect();
                let mut list: Vec<Value> = msg["attachments"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|x| x["id"].as_str().map(|s| keep.contains(s)).unwrap_or(false))
                    .cloned()
                    .collect();
                if let Some(Value::Array(new)) = &attachments {
                    list.extend(new.iter().cloned());
                }
                msg["attachments"] = Value::Array(list);
            }
            msg["edited_timestamp"] = json!(now);
            let out = msg.clone();
            for (name, filename, ctype, data) in files {
                d.uploads.push(Upload {
                    path: rec.path.clone(),
                    field: name.clone(),
                    filename: filename.clone(),
                    content_type: ctype.clone(),
                    data: data.clone(),
                });
            }
            Ok((StatusCode::OK, Some(out)))
        }
        ("DELETE", "/channels/{channel_id}/messages/{message_id}") => {
            let mid = p("message_id");
            let id = lookup(d, &mid).ok_or_else(|| unknown_message(&mid))?;
            d.messages.remove(&id);
            Ok((StatusCode::NO_CONTENT, None))
        }
        ("PUT", "/channels/{channel_id}/messages/{message_id}/reactions/{emoji_name}/@me") => {
            let mid = p("message_id");
            let id = lookup(d, &mid).ok_or_else(|| unknown_message(&mid))?;
            let emoji = url::form_urlencoded::parse(format!("e={}", p("emoji_name")).as_bytes())
                .next()
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default();
            let msg = d.messages.get_mut(&id).unwrap();
            let reactions = msg
                .as_object_mut()
                .unwrap()
                .entry("reactions")
                .or_insert_with(|| json!([]));
            let list = reactions.as_array_mut().unwrap();
            if !list.iter().any(|r| r["emoji"]["name"] == emoji.as_str()) {
                list.push(json!({"count": 1, "me": true, "me_burst": false, "burst_colors": [],
                    "count_details": {"burst": 0, "normal": 1}, "emoji": {"id": null, "name": emoji}}));
            }
            Ok((StatusCode::NO_CONTENT, None))
        }
        ("POST", "/channels/{channel_id}/messages/{message_id}/threads") => {
            let mid = p("message_id");
            let id = lookup(d, &mid).ok_or_else(|| unknown_message(&mid))?;
            if d.threads.contains_key(&id) {
                return Err((
                    StatusCode::BAD_REQUEST,
                    json!({"message": "A thread has already been created for this message", "code": 160004}),
                    format!("a thread was already started from message {mid}"),
                ));
            }
            // A thread started from a message has the message's id.
            let thread = json!({
                "id": mid, "type": 11, "last_message_id": null, "flags": 0, "guild_id": DISCORD_GUILD_ID,
                "name": b["name"].as_str().unwrap_or(""), "parent_id": channel,
                "rate_limit_per_user": b["rate_limit_per_user"].as_u64().unwrap_or(0),
                "bitrate": 64000, "user_limit": 0, "rtc_region": null, "owner_id": DISCORD_BOT_USER_ID,
                "thread_metadata": {
                    "archived": false, "archive_timestamp": now,
                    "auto_archive_duration": b["auto_archive_duration"].as_u64().unwrap_or(4320),
                    "locked": false, "create_timestamp": now
                },
                "message_count": 0, "member_count": 1, "total_message_sent": 0,
            });
            d.threads.insert(id, thread.clone());
            if let Some(m) = d.messages.get_mut(&id) {
                m["flags"] = json!(m["flags"].as_u64().unwrap_or(0) | 32); // HAS_THREAD
                m["thread"] = thread.clone();
            }
            Ok((StatusCode::CREATED, Some(thread)))
        }
        ("GET", "/channels/{channel_id}") => {
            if let Some(t) = channel.parse::<u64>().ok().and_then(|c| d.threads.get(&c)) {
                return Ok((StatusCode::OK, Some(t.clone())));
            }
            Ok((
                StatusCode::OK,
                Some(json!({
                    "id": channel, "type": 0, "last_message_id": null, "flags": 0, "guild_id": DISCORD_GUILD_ID,
                    "name": format!("standin-{channel}"), "parent_id": null, "rate_limit_per_user": 0,
                    "topic": null, "position": 0, "permission_overwrites": [], "nsfw": false
                })),
            ))
        }
        ("GET", "/users/@me") => {
            let mut u = discord_bot_user();
            u["mfa_enabled"] = json!(false);
            u["locale"] = json!("en-US");
            u["premium_type"] = json!(0);
            u["verified"] = json!(true);
            u["email"] = Value::Null;
            Ok((StatusCode::OK, Some(u)))
        }
        ("POST", "/interactions/{interaction_id}/{interaction_token}/callback") => {
            Ok((StatusCode::NO_CONTENT, None))
        }
        ("PUT", "/applications/{application_id}/commands")
        | ("PUT", "/applications/{application_id}/guilds/{guild_id}/commands") => {
            // Bulk overwrite: the answer is the new set, each with ids Discord assigns.
            let app = p("application_id");
            let guild = r.params.get("guild_id").cloned();
            let cmds: Vec<Value> = b
                .as_array()
                .into_iter()
                .flatten()
                .map(|c| {
                    let mut out = json!({
                        "id": next_snowflake().to_string(), "application_id": app,
                        "version": next_snowflake().to_string(), "default_member_permissions": null,
                        "type": c["type"].as_u64().unwrap_or(1), "name": c["name"].clone(),
                        "description": c["description"].clone(), "dm_permission": true, "nsfw": false,
                    });
                    if let Some(o) = c.get("options") {
                        out["options"] = o.clone();
                    }
                    if let Some(g) = &guild {
                        out["guild_id"] = json!(g);
                    }
                    out
                })
                .collect();
            d.commands = Some(Value::Array(cmds.clone()));
            Ok((StatusCode::OK, Some(Value::Array(cmds))))
        }
        ("PATCH", "/webhooks/{webhook_id}/{webhook_token}/messages/@original") => {
            let mut next_cid = 1;
            let msg = json!({
                "type": 20, "content": b["content"].as_str().unwrap_or(""),
                "mentions": [], "mention_roles": [], "attachments": [],
                "embeds": discord_response_embeds(&b["embeds"]),
                "timestamp": now, "edited_timestamp": now,
                "flags": b["flags"].as_u64().unwrap_or(64),
                "components": discord_response_components(&b.get("components").cloned().unwrap_or(json!([])), &mut next_cid),
                "id": next_snowflake().to_string(), "channel_id": "300000000000000001",
                "author": discord_bot_user(), "pinned": false, "mention_everyone": false,
                "tts": false, "webhook_id": p("webhook_id"), "application_id": p("webhook_id"),
            });
            Ok((StatusCode::OK, Some(msg)))
        }
        ("GET", "/gateway") => Ok((
            StatusCode::OK,
            Some(
                json!({"url": d.gateway_url.clone().unwrap_or_else(|| "wss://gateway.discord.gg".into())}),
            ),
        )),
        ("GET", "/gateway/bot") => Ok((
            StatusCode::OK,
            Some(json!({
                "url": d.gateway_url.clone().unwrap_or_else(|| "wss://gateway.discord.gg".into()),
                "shards": 1,
                "session_start_limit": {"total": 1000, "remaining": 999, "reset_after": 14_400_000, "max_concurrency": 1}
            })),
        )),
        _ => Err((
            StatusCode::NOT_FOUND,
            json!({"message": "404: Not Found", "code": 0}),
            "stand-in route missing".into(),
        )),
    }
}

/// Validates the stand-in's own answer against the spec's response schema.
fn discord_check_response(
    r: &DiscordRoute,
    status: StatusCode,
    body: &Option<Value>,
) -> Vec<String> {
    let spec = discord_spec();
    let op = &spec["paths"][&r.template][r.method.to_ascii_lowercase()];
    let code = status.as_u16().to_string();
    let Some(resp) = op["responses"].get(&code) else {
        return vec![format!("status {code} is not a declared response")];
    };
    match (resp["content"]["application/json"].get("schema"), body) {
        (Some(sch), Some(b)) => schema::validate(spec, sch, b)
            .iter()
            .map(|e: &SchemaError| e.display("response"))
            .collect(),
        (None, None) => vec![],
        (Some(_), None) => vec!["response has no body but the spec declares one".into()],
        (None, Some(_)) => vec!["response has a body but the spec declares none".into()],
    }
}

/// Validates any JSON value against a named Discord schema (`#/components/schemas/NAME`).
pub fn validate_discord_schema(name: &str, v: &Value) -> Vec<String> {
    let spec = discord_spec();
    let sch = json!({"$ref": format!("#/components/schemas/{name}")});
    schema::validate(spec, &sch, v)
        .iter()
        .map(|e| e.display("value"))
        .collect()
}

/// Validates a Slack Web API response against the spec's response schema for `method`
/// ("200" success schema if `ok` is true, else the "default" error schema).
pub fn validate_slack_response(method: &str, v: &Value) -> Vec<String> {
    let spec = slack_spec();
    let Some(ops) = spec["paths"]
        .get(format!("/{method}"))
        .or_else(|| slack_post_2021_methods().get(format!("/{method}")))
        .and_then(Value::as_object)
    else {
        return vec![format!("no method {method}")];
    };
    let Some(op) = ops.values().next() else {
        return vec![];
    };
    let which = if v["ok"] == true { "200" } else { "default" };
    schema::validate(spec, &op["responses"][which]["schema"], v)
        .iter()
        .map(|e| e.display("response"))
        .collect()
}

// ====================================================================================
// Discord gateway stand-in
// ====================================================================================

/// A loopback WebSocket server speaking as much of Discord's gateway (v10, JSON, no
/// compression) as a bot needs: HELLO (op 10) on connect, IDENTIFY (op 2) checked (token,
/// intents, properties), READY (op 0) in answer, heartbeats (op 1) acknowledged (op 11),
/// then whatever [`GatewayStandin::dispatch`] is given as op 0 events with increasing `s`.
/// Every payload it sends is first parsed with serenity's own models, so a payload serenity
/// would drop fails the test here with the reason.
/// <https://discord.com/developers/docs/events/gateway#connection-lifecycle>
pub struct GatewayStandin {
    /// `ws://127.0.0.1:PORT` — what `GET /gateway` should answer.
    pub url: String,
    events: tokio::sync::mpsc::UnboundedSender<(String, Value)>,
    identified: Arc<Mutex<Vec<Value>>>,
    task: JoinHandle<()>,
}

impl GatewayStandin {
    pub async fn start() -> anyhow::Result<GatewayStandin> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("ws://{}", listener.local_addr()?);
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<(String, Value)>();
        let identified = Arc::new(Mutex::new(Vec::new()));
        let ids = identified.clone();
        let task = tokio::spawn(async move {
            // One bot connection at a time; events wait for it.
            let rx = Arc::new(tokio::sync::Mutex::new(rx));
            while let Ok((tcp, _)) = listener.accept().await {
                let rx = rx.clone();
                let ids = ids.clone();
                tokio::spawn(async move {
                    if let Err(e) = gateway_session(tcp, rx, ids).await {
                        eprintln!("[gateway stand-in] session ended: {e}");
                    }
                });
            }
        });
        Ok(GatewayStandin {
            url,
            events: tx,
            identified,
            task,
        })
    }

    /// Sends event `name` (`INTERACTION_CREATE`) with payload `d` to the connected bot.
    pub fn dispatch(&self, name: &str, d: Value) {
        let _ = self.events.send((name.to_string(), d));
    }

    /// The IDENTIFY payloads (`d`) received so far.
    pub fn identifies(&self) -> Vec<Value> {
        self.identified.lock().unwrap().clone()
    }
}

impl Drop for GatewayStandin {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// READY as Discord sends it (`d`).
fn gateway_ready() -> Value {
    let mut user = discord_bot_user();
    user["mfa_enabled"] = json!(false);
    user["verified"] = json!(true);
    user["email"] = Value::Null;
    json!({
        "v": 10, "user": user, "guilds": [{"id": DISCORD_GUILD_ID, "unavailable": true}],
        "session_id": "standin-session-1", "resume_gateway_url": "ws://127.0.0.1:1",
        "shard": [0, 1], "application": {"id": "400000000000000001", "flags": 0},
        "private_channels": [], "relationships": [], "presences": [], "geo_ordered_rtc_regions": [],
        "guild_join_requests": [], "user_settings": {}, "_trace": ["standin"]
    })
}

/// Checks that serenity can read a gateway event, as the bot under test will.
fn check_with_serenity(name: &str, d: &Value) {
    use serenity::all::{Interaction, Ready};
    let r = match name {
        "READY" => serde_json::from_value::<Ready>(d.clone()).map(|_| ()),
        "INTERACTION_CREATE" => serde_json::from_value::<Interaction>(d.clone()).map(|_| ()),
        _ => Ok(()),
    };
    if let Err(e) = r {
        panic!("gateway stand-in: serenity cannot read {name}: {e}\n{d}");
    }
}

async fn gateway_session(
    tcp: tokio::net::TcpStream,
    events: Arc<tokio::sync::Mutex<tokio::sync::mpsc::UnboundedReceiver<(String, Value)>>>,
    identified: Arc<Mutex<Vec<Value>>>,
) -> anyhow::Result<()> {
    use futures::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    let mut ws = tokio_tungstenite::accept_async(tcp).await?;
    let send = |v: Value| Message::Text(v.to_string().into());
    ws.send(send(
        json!({"op": 10, "d": {"heartbeat_interval": 41250}, "s": null, "t": null}),
    ))
    .await?;
    let mut seq: u64 = 0;
    let mut ready = false;
    let mut events = events.lock().await;
    loop {
        tokio::select! {
            msg = ws.next() => {
                let Some(msg) = msg else { return Ok(()) };
                let text = match msg? {
                    Message::Text(t) => t,
                    Message::Close(_) => return Ok(()),
                    _ => continue,
                };
                let v: Value = serde_json::from_str(text.as_str())?;
                match v["op"].as_u64() {
                    Some(1) => ws.send(send(json!({"op": 11}))).await?,
                    Some(2) => {
                        let d = &v["d"];
                        anyhow::ensure!(
                            d["token"].as_str().is_some_and(|t| !t.is_empty())
                                && d["intents"].is_u64()
                                && d["properties"]["os"].is_string(),
                            "bad IDENTIFY: {v}"
                        );
                        identified.lock().unwrap().push(d.clone());
                        seq += 1;
                        let r = gateway_ready();
                        check_with_serenity("READY", &r);
                        ws.send(send(json!({"op": 0, "t": "READY", "s": seq, "d": r}))).await?;
                        ready = true;
                    }
                    other => anyhow::bail!("unexpected gateway op {other:?}: {v}"),
                }
            }
            ev = events.recv(), if ready => {
                let Some((name, d)) = ev else { return Ok(()) };
                check_with_serenity(&name, &d);
                seq += 1;
                ws.send(send(json!({"op": 0, "t": name, "s": seq, "d": d}))).await?;
            }
        }
    }
}
