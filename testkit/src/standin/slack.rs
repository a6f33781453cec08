//! The Slack Web API stand-in: [`SlackStandin`] checks every call against
//! `slack/web-openapi-v2.json` (form or JSON parameters, Block Kit, response URLs), answers as
//! Slack does, and serves Socket Mode on a loopback WebSocket.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::Response;
use axum::Router;
use serde_json::{json, Map, Value};

mod slack_files;

use super::blocks::{check_blocks, check_view};
use super::schema::{self, is_slack_ts};
use super::{
    empty_response, header, header_pairs, json_response, next_slack_ts, parse_query, slack_spec,
    slack_ts_micros, Behaviour, Core, Recorded, Server, SLACK_APP_ID, SLACK_BOT_ID,
    SLACK_BOT_USER_ID, SLACK_TEAM_ID, SLACK_TS_COUNTER,
};

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
        state.data.lock().unwrap().files.base =
            format!("http://127.0.0.1:{}/upload/", server.addr.port());
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
    /// Messages stored (not deleted, not ephemeral) whose metadata names outbox key `key`
    /// (`event_type` `claimdesk_effect`, `event_payload.effect_id`), in posting order, as
    /// `(channel, message)`.
    pub fn effect_messages(&self, key: &str) -> Vec<(String, Value)> {
        self.stored_messages()
            .into_iter()
            .filter(|(_, m)| {
                m["metadata"]["event_type"] == "claimdesk_effect"
                    && m["metadata"]["event_payload"]["effect_id"] == key
            })
            .collect()
    }
    /// Every stored message (not deleted, not ephemeral) as `(channel, message)`, in order.
    pub fn stored_messages(&self) -> Vec<(String, Value)> {
        self.state
            .data
            .lock()
            .unwrap()
            .messages
            .iter()
            .filter(|m| !m.deleted && !m.ephemeral)
            .map(|m| (m.channel.clone(), m.msg.clone()))
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
    /// The texts posted into `user`'s direct message with the bot (a DM opened by
    /// `conversations.open` with `users=<user>`), in order.
    pub fn direct_messages(&self, user: &str) -> Vec<String> {
        let d = self.state.data.lock().unwrap();
        let Some(channel) = d.channel_ids.get(user) else {
            return Vec::new();
        };
        d.messages
            .iter()
            .filter(|m| &m.channel == channel && !m.ephemeral && !m.deleted)
            .map(|m| m.msg["text"].as_str().unwrap_or_default().to_string())
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

    /// Every view as the stand-in answered it (`views.open`, then each `views.update`), in
    /// order: with its `id` and `hash`, as Slack puts the view in a `block_actions` payload.
    pub fn answered_views(&self) -> Vec<Value> {
        self.state.data.lock().unwrap().view_log.clone()
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
    /// Every view opened (`views.open`) as last answered, by id, for `views.update`.
    open_views: HashMap<String, Value>,
    /// Every view answered, in order (see `SlackStandin::answered_views`).
    view_log: Vec<Value>,
    messages: Vec<SlackMsg>,
    /// Channel names ("#support", "support") and user ids (DMs) mapped to conversation ids.
    channel_ids: HashMap<String, String>,
    /// External file uploads (`files.getUploadURLExternal` …).
    files: slack_files::Files,
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
    "conversations.open",
    "chat.postMessage",
    "chat.update",
    "chat.postEphemeral",
    "chat.delete",
    "chat.getPermalink",
    "conversations.replies",
    "conversations.history",
    "auth.test",
    "views.open",
    "views.update",
    "apps.connections.open",
    "files.getUploadURLExternal",
    "files.completeUploadExternal",
];

/// LENIENT: methods the frozen 2021 spec declares only for GET though Slack's method reference
/// lists POST as the preferred HTTP method (<https://api.slack.com/methods/views.open>);
/// a POST is checked against the GET declaration's parameters.
const SLACK_POST_ALSO: &[&str] = &["views.open", "views.update"];

/// Methods documented after the frozen 2021 spec, declared here from their reference pages.
/// `apps.connections.open` (<https://api.slack.com/methods/apps.connections.open>): POST, no
/// arguments, an app-level token (`xapp-…`) only; answers `{"ok":true,"url":"wss://…"}`.
fn slack_post_2021_methods() -> &'static Value {
    static S: OnceLock<Value> = OnceLock::new();
    S.get_or_init(|| {
        json!({
            "/files.getUploadURLExternal": slack_files::get_upload_url_declaration(),
            "/files.completeUploadExternal": slack_files::complete_declaration(),
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
    // https://api.slack.com/methods/conversations.history: `include_all_metadata` (2022).
    ("conversations.history", "include_all_metadata", "boolean"),
    // https://api.slack.com/methods/conversations.replies#arg_include_all_metadata (2022).
    ("conversations.replies", "include_all_metadata", "boolean"),
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
    // A GET carries its arguments in the query: recorded as the body's fields (strings).
    let body_value = if body.is_empty() {
        uri.query().map_or(Value::Null, |_| {
            Value::Object(
                parse_query(&uri)
                    .into_iter()
                    .map(|(k, v)| (k, Value::String(v)))
                    .collect(),
            )
        })
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
    if uri.path().starts_with("/upload/") {
        return slack_files::upload(&st, &method, &rec, &body);
    }
    let verdict = slack_validate(&method, &uri, &headers, &ct, &body);
    let problems: Vec<SlackProblem> = match &verdict {
        Ok(_) => vec![],
        Err((_, p)) => p.clone(),
    };
    for (_, msg) in &problems {
        st.core.violation(&rec, msg);
    }

    let behaviour = st.core.next_behaviour();
    match behaviour {
        Behaviour::Normal | Behaviour::AcceptThen500 | Behaviour::AcceptThenHang => {}
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
        Behaviour::Refused => {
            return json_response(
                StatusCode::OK,
                &json!({"ok": false, "error": "missing_scope", "needed": "im:write", "provided": "chat:write"}),
                &[],
            )
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
                // LENIENT: history returns metadata with `include_all_metadata` (post-2021),
                // and an empty list for a conversation without messages (the frozen spec
                // says minItems 1; Slack answers `"messages": []`).
                if name == "conversations.history"
                    && ((e.starts_with("response.messages[")
                        && e.contains("].metadata: property is not allowed"))
                        || e.starts_with("response.messages: has 0 items"))
                {
                    continue;
                }
                // LENIENT: the frozen spec lists neither `response_metadata` (Slack's cursor
                // paging, <https://api.slack.com/apis/pagination>) for history and replies,
                // nor `metadata` on replies' messages (`include_all_metadata`, 2022), nor
                // `is_locked` on a thread parent in history (Slack sends it with the other
                // thread fields, `reply_count`, `latest_reply` …, which the spec does list),
                // nor `edited` (`{user, ts}`, on every message changed by chat.update, as the
                // message object page documents; a looked-up card has usually been edited).
                if (name == "conversations.history" || name == "conversations.replies")
                    && (e.starts_with("response.response_metadata: property is not allowed")
                        || (e.starts_with("response.messages[")
                            && (e.contains("metadata: property is not allowed")
                                || e.contains("].is_locked: property is not allowed")
                                || e.contains("].edited: property is not allowed"))))
                {
                    continue;
                }
                st.core.violation(
                    &rec,
                    format!("stand-in self-check (response does not match spec): {e}"),
                );
            }
            st.core.lock().accepted.push(rec);
            match behaviour {
                Behaviour::AcceptThen500 => json_response(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    &json!({"ok": false, "error": "fatal_error"}),
                    &[],
                ),
                Behaviour::AcceptThenHang => {
                    st.core.hang().await;
                    empty_response(StatusCode::SERVICE_UNAVAILABLE, &[])
                }
                _ => json_response(StatusCode::OK, &resp, &[]),
            }
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
    let behaviour = st.core.next_behaviour();
    match behaviour {
        Behaviour::Normal | Behaviour::AcceptThen500 | Behaviour::AcceptThenHang => {}
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
        Behaviour::Refused => return empty_response(StatusCode::FORBIDDEN, &[]),
    }
    if problems.is_empty() {
        st.core.lock().accepted.push(rec.clone());
        match behaviour {
            Behaviour::AcceptThen500 => empty_response(StatusCode::INTERNAL_SERVER_ERROR, &[]),
            Behaviour::AcceptThenHang => {
                st.core.hang().await;
                empty_response(StatusCode::SERVICE_UNAVAILABLE, &[])
            }
            _ => json_response(StatusCode::OK, &json!({"ok": true}), &[]),
        }
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
    if name == "views.update" && !out.contains_key("view_id") && !out.contains_key("external_id") {
        problems.push((
            "invalid_arguments",
            "views.update needs view_id or external_id".into(),
        ));
    }
    if name == "views.update" && !out.contains_key("view") {
        problems.push(("invalid_arguments", "views.update without a view".into()));
    }
    if name == "views.open" || name == "views.update" {
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

/// The `oldest` / `latest` / `inclusive` range of conversations.history and
/// conversations.replies (<https://api.slack.com/methods/conversations.history>): messages
/// after `oldest` and before `latest`, the bounds themselves only with `inclusive`.
struct TsRange {
    oldest: Option<u64>,
    latest: Option<u64>,
    inclusive: bool,
}

impl TsRange {
    fn of(p: &Map<String, Value>) -> TsRange {
        let ts = |k: &str| {
            p.get(k)
                .and_then(|v| {
                    v.as_str()
                        .map(str::to_string)
                        .or_else(|| Some(v.to_string()))
                })
                .and_then(|s| slack_ts_micros(&s))
        };
        TsRange {
            oldest: ts("oldest"),
            latest: ts("latest"),
            inclusive: p.get("inclusive") == Some(&Value::Bool(true)),
        }
    }
    fn holds(&self, ts: &str) -> bool {
        let Some(t) = slack_ts_micros(ts) else {
            return false;
        };
        let after = self
            .oldest
            .is_none_or(|o| t > o || (self.inclusive && t == o));
        let before = self
            .latest
            .is_none_or(|l| t < l || (self.inclusive && t == l));
        after && before
    }
}

/// Puts one page of `all` into `resp` as `messages`, `has_more` and
/// `response_metadata.next_cursor` (cursor paging, <https://api.slack.com/apis/pagination>:
/// `limit` up to 999, default 100 here; the cursor is opaque to the caller), and strips
/// message `metadata` unless `include_all_metadata` was given.
fn page_of(resp: &mut Value, all: Vec<Value>, p: &Map<String, Value>, metadata: bool) {
    let limit = p
        .get("limit")
        .and_then(Value::as_u64)
        .unwrap_or(100)
        .clamp(1, 999) as usize;
    let start: usize = p
        .get("cursor")
        .and_then(Value::as_str)
        .and_then(|c| c.strip_prefix("standin-offset:"))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    let total = all.len();
    let mut page: Vec<Value> = all.into_iter().skip(start).take(limit).collect();
    if !metadata {
        for m in &mut page {
            if let Some(o) = m.as_object_mut() {
                o.remove("metadata");
            }
        }
    }
    let next = start + page.len();
    resp["messages"] = Value::Array(page);
    resp["has_more"] = json!(next < total);
    resp["response_metadata"] = json!({
        "next_cursor": if next < total { format!("standin-offset:{next}") } else { String::new() }
    });
}

fn slack_execute(
    d: &mut SlackData,
    name: &str,
    p: &Map<String, Value>,
) -> Result<Value, SlackProblem> {
    let s = |k: &str| p.get(k).and_then(Value::as_str).map(str::to_string);
    let channel = d.channel_id(&s("channel").unwrap_or_default());
    match name {
        "files.getUploadURLExternal" | "files.completeUploadExternal" => {
            slack_files::execute(d, name, p)
        }
        "auth.test" => Ok(json!({
            "ok": true, "url": "https://claimdesk-standin.slack.com/", "team": "Claimdesk Stand-in",
            "user": "claimdesk", "team_id": SLACK_TEAM_ID, "user_id": SLACK_BOT_USER_ID,
            "bot_id": SLACK_BOT_ID, "is_enterprise_install": false
        })),
        "conversations.open" => slack_conversations_open(d, p),
        "conversations.history" => {
            // A public or private channel id is a channel the bot is in (empty until posted
            // to); a DM exists once opened.
            let known = channel.starts_with(['C', 'G'])
                || d.messages.iter().any(|m| m.channel == channel)
                || d.channel_ids.values().any(|c| *c == channel);
            if !known {
                return Err((
                    "channel_not_found",
                    format!("conversations.history of {channel}: no such conversation"),
                ));
            }
            let metadata = p.get("include_all_metadata") == Some(&Value::Bool(true));
            let range = TsRange::of(p);
            // Newest first, top-level messages only (replies are in conversations.replies).
            let all: Vec<Value> = d
                .messages
                .iter()
                .rev()
                .filter(|m| m.channel == channel && !m.ephemeral && !m.deleted)
                .filter(|m| m.msg["thread_ts"].as_str().is_none_or(|t| t == m.ts))
                .filter(|m| range.holds(&m.ts))
                .map(|m| m.msg.clone())
                .collect();
            let mut resp = json!({
                "ok": true, "has_more": false, "pin_count": 0,
                "channel_actions_ts": null, "channel_actions_count": 0
            });
            page_of(&mut resp, all, p, metadata);
            Ok(resp)
        }
        "chat.postMessage" => {
            if channel.starts_with('D') && !d.channel_ids.values().any(|c| *c == channel) {
                return Err((
                    "channel_not_found",
                    format!("chat.postMessage into {channel}: no DM of that id was opened (conversations.open)"),
                ));
            }
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
            msgs.sort_by_key(|m| slack_ts_micros(&m.ts));
            // Oldest first; the parent always comes first, whatever the range (as Slack does).
            let range = TsRange::of(p);
            let messages: Vec<Value> = msgs
                .iter()
                .filter(|m| m.ts == root_ts || range.holds(&m.ts))
                .map(|m| m.msg.clone())
                .collect();
            let metadata = p.get("include_all_metadata") == Some(&Value::Bool(true));
            let mut resp = json!({"ok": true, "has_more": false});
            page_of(&mut resp, messages, p, metadata);
            Ok(resp)
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
            d.open_views.insert(id, view.clone());
            d.view_log.push(view.clone());
            Ok(json!({"ok": true, "view": view}))
        }
        // <https://api.slack.com/methods/views.update>: replaces an open view; with `hash`,
        // only the view in that state (else `hash_conflict`). The stand-in knows only views it
        // opened, by `view_id`.
        "views.update" => {
            let Some(id) = s("view_id") else {
                return Err((
                    "not_found",
                    "views.update by external_id: the stand-in opens no view with one".into(),
                ));
            };
            let Some(old) = d.open_views.get(&id).cloned() else {
                return Err((
                    "not_found",
                    format!("views.update of view {id:?}, which the stand-in never opened"),
                ));
            };
            if let Some(h) = s("hash") {
                if old["hash"].as_str() != Some(h.as_str()) {
                    return Err((
                        "hash_conflict",
                        format!(
                            "views.update with hash {h:?}; the view is at {}",
                            old["hash"]
                        ),
                    ));
                }
            }
            d.views += 1;
            let mut view = p.get("view").cloned().unwrap_or(json!({}));
            let blocks = slack_normalise_blocks(&view["blocks"], &id);
            for (k, v) in [
                ("id", json!(id)),
                ("team_id", json!(SLACK_TEAM_ID)),
                ("blocks", blocks),
                ("state", json!({"values": {}})),
                ("hash", json!(format!("1700000000.{id}.{}", d.views))),
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
            d.open_views.insert(id, view.clone());
            d.view_log.push(view.clone());
            Ok(json!({"ok": true, "view": view}))
        }
        other => Err((
            "unknown_method",
            format!("stand-in has no handler for {other}"),
        )),
    }
}

/// `conversations.open` (<https://api.slack.com/methods/conversations.open>): `users` is a
/// comma-separated list of user ids; one user opens (or resumes) the 1:1 DM with the bot,
/// whose `D…` id is stable per user; `channel` resumes a DM opened before. The stand-in opens
/// 1:1 DMs only (several users, a multi-person DM, is refused as not served).
fn slack_conversations_open(
    d: &mut SlackData,
    p: &Map<String, Value>,
) -> Result<Value, SlackProblem> {
    let users = p.get("users").and_then(Value::as_str).unwrap_or_default();
    let list: Vec<&str> = users
        .split(',')
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .collect();
    if let Some(c) = p.get("channel").and_then(Value::as_str) {
        if !list.is_empty() {
            return Err((
                "invalid_arguments",
                "conversations.open takes `channel` or `users`, not both".into(),
            ));
        }
        if !d.channel_ids.values().any(|x| x == c) {
            return Err((
                "channel_not_found",
                format!("conversations.open channel={c}: no such DM was opened"),
            ));
        }
        return Ok(json!({"ok": true, "channel": {"id": c}, "no_op": true, "already_open": true}));
    }
    let user_id = |u: &str| {
        let b = u.as_bytes();
        b.len() >= 9
            && matches!(b[0], b'U' | b'W')
            && b[1..]
                .iter()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
    };
    match list.as_slice() {
        [] => Err((
            "users_list_not_supplied",
            "conversations.open without `users` or `channel`".into(),
        )),
        [u] if user_id(u) => {
            let already = d.channel_ids.contains_key(*u);
            let id = d.channel_id(u);
            Ok(
                json!({"ok": true, "channel": {"id": id}, "already_open": already, "no_op": already}),
            )
        }
        [u] => Err((
            "user_not_found",
            format!("conversations.open users={u:?}: not a Slack user id (U… or W…)"),
        )),
        _ => Err((
            "invalid_arguments",
            format!("conversations.open users={users:?}: the stand-in serves 1:1 DMs only"),
        )),
    }
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
