//! The Discord REST API (v10) stand-in: [`DiscordStandin`] checks every request against
//! `discord/openapi.json` plus the documented rules in [`DISCORD_DOC_RULES`], answers as
//! Discord does (400 with code 50035 on a bad body, 429 when told to) and keeps the messages,
//! threads and commands it was given.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::Response;
use axum::Router;
use serde_json::{json, Map, Value};

use super::schema::{self, SchemaError, Seg};
use super::{
    discord_spec, empty_response, header, header_pairs, json_response, next_snowflake, now_rfc3339,
    strip_nulls, Behaviour, Core, Recorded, Server, Upload, DISCORD_BOT_USER_ID, DISCORD_GUILD_ID,
};

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
    /// Messages created in `user`'s DM channel with the bot (opened by
    /// `POST /users/@me/channels` with `recipient_id`), in order.
    pub fn direct_messages(&self, user: &str) -> Vec<Value> {
        let d = self.state.data.lock().unwrap();
        let Some(channel) = d.dm_channels.get(user) else {
            return Vec::new();
        };
        d.messages
            .values()
            .filter(|m| m["channel_id"].as_str() == Some(channel.as_str()))
            .cloned()
            .collect()
    }
    /// Stored messages (any channel) that were created with `nonce`.
    pub fn messages_with_nonce(&self, nonce: &str) -> Vec<Value> {
        self.state
            .data
            .lock()
            .unwrap()
            .messages
            .values()
            .filter(|m| m["nonce"] == nonce)
            .cloned()
            .collect()
    }
    /// Current stored state of a message this stand-in created (`None` if unknown/deleted).
    pub fn message(&self, message_id: &str) -> Option<Value> {
        let id: u64 = message_id.parse().ok()?;
        self.state.data.lock().unwrap().messages.get(&id).cloned()
    }
    pub fn violations(&self) -> Vec<String> {
        self.state.core.lock().violations.clone()
    }
    /// Every message this stand-in created in `channel` and still holds (deleted ones are
    /// gone), oldest first: what the channel shows, whatever retries led to it (a create
    /// repeated with an enforced `nonce` answers the first message and creates none).
    pub fn channel_messages(&self, channel: &str) -> Vec<Value> {
        self.state
            .data
            .lock()
            .unwrap()
            .messages
            .values()
            .filter(|m| m["channel_id"].as_str() == Some(channel))
            .cloned()
            .collect()
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
    /// DM channel per recipient user id (`POST /users/@me/channels`), stable per user.
    dm_channels: HashMap<String, String>,
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

    let behaviour = st.core.next_behaviour();
    match behaviour {
        Behaviour::Normal | Behaviour::AcceptThen500 | Behaviour::AcceptThenHang => {}
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
        Behaviour::Refused => {
            return json_response(
                StatusCode::FORBIDDEN,
                &json!({"message": "Cannot send messages to this user", "code": 50007}),
                &[],
            )
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
            match behaviour {
                Behaviour::AcceptThen500 => {
                    return json_response(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        &json!({"message": "500: Internal Server Error", "code": 0}),
                        &[],
                    )
                }
                Behaviour::AcceptThenHang => {
                    st.core.hang().await;
                    return empty_response(StatusCode::SERVICE_UNAVAILABLE, &[]);
                }
                _ => {}
            }
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
            | ("POST", "/users/@me/channels")
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

pub(super) fn discord_bot_user() -> Value {
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
            // enforce_nonce: a nonce the bot already used returns that message, creates none.
            if b["enforce_nonce"] == true && !b["nonce"].is_null() {
                if let Some(m) = d.messages.values().find(|m| m["nonce"] == b["nonce"]) {
                    return Ok((StatusCode::OK, Some(m.clone())));
                }
            }
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
        ("POST", "/users/@me/channels") => {
            // Create DM (https://discord.com/developers/docs/resources/user#create-dm): a bot
            // opens 1:1 DMs by `recipient_id`; the same user gets the same channel.
            let Some(user) = b["recipient_id"]
                .as_str()
                .filter(|u| u.parse::<u64>().is_ok_and(|n| n != 0))
                .map(str::to_string)
            else {
                return Err((
                    StatusCode::BAD_REQUEST,
                    json!({"code": 50035, "message": "Invalid Form Body", "errors": {"recipient_id": {"_errors": [{"code": "BASE_TYPE_REQUIRED", "message": "This field is required"}]}}}),
                    format!("create DM without a snowflake recipient_id: {b}"),
                ));
            };
            let id = d
                .dm_channels
                .entry(user.clone())
                .or_insert_with(|| next_snowflake().to_string())
                .clone();
            let mut recipient = discord_bot_user();
            recipient["id"] = json!(user);
            recipient["username"] = json!(format!("agent-{user}"));
            recipient["bot"] = json!(false);
            Ok((
                StatusCode::OK,
                Some(json!({
                    "id": id, "type": 1, "last_message_id": null, "flags": 0,
                    "recipients": [recipient]
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
