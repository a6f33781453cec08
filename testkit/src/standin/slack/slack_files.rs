//! Slack's external file upload in the Slack stand-in: `files.getUploadURLExternal` hands out
//! a file id and an upload URL on this server (`/upload/<file id>`), the bytes are POSTed
//! there, and `files.completeUploadExternal` shares the uploaded files in a channel or thread.
//!
//! The frozen 2021 spec (`../shared/specs/slack/web-openapi-v2.json`) predates these methods
//! (it has only the retired `files.upload`), so they are declared here from their reference
//! pages, like `apps.connections.open`:
//! <https://api.slack.com/methods/files.getUploadURLExternal> (GET query or POST form,
//! `filename` and `length` required, `alt_txt`, `snippet_type`; answers `upload_url` and
//! `file_id`) and <https://api.slack.com/methods/files.completeUploadExternal> (POST form or
//! JSON, `files` = `[{"id", "title"?}]` required, `channel_id`, `channels`, `thread_ts`,
//! `initial_comment`, `blocks`; answers `files`). The upload URL takes the raw bytes (or a
//! form) and answers `200 OK - <length>` as text; the bytes must be as many as `length` said.
//! Checked beyond the declarations: every completed id was handed out and uploaded, is not
//! completed twice, and `thread_ts` names a message of the channel posted through this
//! stand-in ("Never use a reply's ts value; use its parent instead").

use super::*;
use axum::body::Body;

/// A file shared by `files.completeUploadExternal`, with the bytes uploaded for it.
#[derive(Clone, Debug)]
pub struct SharedFile {
    pub file_id: String,
    pub filename: String,
    pub title: Option<String>,
    pub channel: String,
    pub thread_ts: Option<String>,
    pub data: Vec<u8>,
}

#[derive(Default)]
pub(super) struct Files {
    /// `http://127.0.0.1:PORT/upload/`, set when the stand-in starts.
    pub(super) base: String,
    handed_out: HashMap<String, HandedOut>,
    shared: Vec<SharedFile>,
}

/// A file id handed out by `files.getUploadURLExternal`.
struct HandedOut {
    filename: String,
    length: usize,
    data: Option<Vec<u8>>,
    completed: bool,
}

impl SlackStandin {
    /// Files shared by `files.completeUploadExternal`, in order, with their bytes.
    pub fn shared_files(&self) -> Vec<SharedFile> {
        self.state.data.lock().unwrap().files.shared.clone()
    }
}

fn token_param() -> Value {
    json!({"name": "token", "in": "header", "required": true, "type": "string"})
}

/// `files.getUploadURLExternal`, declared from its reference page.
pub(super) fn get_upload_url_declaration() -> Value {
    let params = |at: &str| {
        json!([
            token_param(),
            {"name": "filename", "in": at, "required": true, "type": "string"},
            {"name": "length", "in": at, "required": true, "type": "integer"},
            {"name": "alt_txt", "in": at, "required": false, "type": "string"},
            {"name": "snippet_type", "in": at, "required": false, "type": "string"},
        ])
    };
    let responses = json!({
        "200": {"schema": {"type": "object", "required": ["ok", "upload_url", "file_id"],
            "properties": {"ok": {"const": true}, "upload_url": {"type": "string"},
                           "file_id": {"type": "string"}},
            "additionalProperties": false}},
        "default": {"schema": {"type": "object", "required": ["ok", "error"]}}
    });
    json!({
        "get": {"parameters": params("query"), "responses": responses},
        "post": {"consumes": ["application/x-www-form-urlencoded"],
                 "parameters": params("formData"), "responses": responses},
    })
}

/// `files.completeUploadExternal`, declared from its reference page.
pub(super) fn complete_declaration() -> Value {
    json!({"post": {
        "consumes": ["application/x-www-form-urlencoded", "application/json"],
        "parameters": [
            token_param(),
            {"name": "files", "in": "formData", "required": true, "type": "array"},
            {"name": "channel_id", "in": "formData", "required": false, "type": "string"},
            {"name": "channels", "in": "formData", "required": false, "type": "string"},
            {"name": "thread_ts", "in": "formData", "required": false, "type": "string"},
            {"name": "initial_comment", "in": "formData", "required": false, "type": "string"},
            {"name": "blocks", "in": "formData", "required": false, "type": "string"},
        ],
        "responses": {
            "200": {"schema": {"type": "object", "required": ["ok", "files"],
                "properties": {"ok": {"const": true}, "files": {"type": "array",
                    "items": {"type": "object", "required": ["id"]}}}}},
            "default": {"schema": {"type": "object", "required": ["ok", "error"]}}
        }
    }})
}

/// The two methods, after the common checks of `slack_validate`.
pub(super) fn execute(
    d: &mut SlackData,
    name: &str,
    p: &Map<String, Value>,
) -> Result<Value, SlackProblem> {
    let bad = |m: String| ("invalid_arguments", format!("{name}: {m}"));
    if name == "files.getUploadURLExternal" {
        let filename = p
            .get("filename")
            .unwrap_or(&Value::Null)
            .as_str()
            .unwrap_or_default()
            .to_string();
        if filename.trim().is_empty() {
            return Err(bad("filename is empty".into()));
        }
        let length = p
            .get("length")
            .unwrap_or(&Value::Null)
            .as_i64()
            .and_then(|l| usize::try_from(l).ok())
            .filter(|l| *l > 0)
            .ok_or_else(|| {
                bad(format!(
                    "length must be a positive integer, got {}",
                    p.get("length").unwrap_or(&Value::Null)
                ))
            })?;
        let file_id = format!("F0STANDIN{:04}", d.files.handed_out.len() + 1);
        let upload_url = format!("{}{file_id}", d.files.base);
        d.files.handed_out.insert(
            file_id.clone(),
            HandedOut {
                filename,
                length,
                data: None,
                completed: false,
            },
        );
        return Ok(json!({"ok": true, "upload_url": upload_url, "file_id": file_id}));
    }
    let files = match p.get("files").unwrap_or(&Value::Null) {
        Value::String(s) => serde_json::from_str::<Value>(s).unwrap_or(Value::Null),
        v => v.clone(),
    };
    let Some(files) = files.as_array().filter(|f| !f.is_empty()) else {
        return Err(bad(format!(
            "files must be a non-empty array of {{id, title}}: {files}"
        )));
    };
    let channels = p
        .get("channels")
        .unwrap_or(&Value::Null)
        .as_str()
        .unwrap_or_default();
    let channel = match p.get("channel_id").unwrap_or(&Value::Null).as_str() {
        Some(c) => c.to_string(),
        None if !channels.is_empty() && !channels.contains(',') => channels.to_string(),
        None if p.contains_key("thread_ts") => {
            return Err(bad(
                "thread_ts needs exactly one channel (channel_id)".into()
            ))
        }
        None => String::new(),
    };
    let thread_ts = p
        .get("thread_ts")
        .unwrap_or(&Value::Null)
        .as_str()
        .map(str::to_string);
    if let Some(ts) = &thread_ts {
        let parent = d.find(&channel, ts);
        if parent.is_none_or(|m| !m.msg["thread_ts"].is_null() && m.msg["thread_ts"] != *ts) {
            return Err((
                "invalid_thread_ts",
                format!("{name}: thread_ts {ts} is not a top-level message of {channel}"),
            ));
        }
    }
    let mut out = Vec::new();
    let mut shared = Vec::new();
    for f in files {
        let id = f["id"].as_str().unwrap_or_default();
        let title = f["title"].as_str().map(str::to_string);
        let Some(HandedOut {
            filename,
            data,
            completed,
            ..
        }) = d.files.handed_out.get_mut(id)
        else {
            return Err((
                "file_not_found",
                format!("{name}: file {id:?} was never handed out"),
            ));
        };
        let Some(data) = data.clone() else {
            return Err((
                "file_not_found",
                format!("{name}: nothing was uploaded for {id}"),
            ));
        };
        if *completed {
            return Err((
                "file_not_found",
                format!("{name}: {id} was already completed"),
            ));
        }
        *completed = true;
        out.push(json!({"id": id, "name": filename, "title": title.clone().unwrap_or_else(|| filename.clone())}));
        shared.push(SharedFile {
            file_id: id.to_string(),
            filename: filename.clone(),
            title,
            channel: channel.clone(),
            thread_ts: thread_ts.clone(),
            data,
        });
    }
    d.files.shared.extend(shared);
    Ok(json!({"ok": true, "files": out}))
}

/// `POST /upload/<file id>`: the bytes of a file handed out by `files.getUploadURLExternal`.
pub(super) fn upload(st: &SlackState, method: &Method, rec: &Recorded, body: &Bytes) -> Response {
    let id = rec.path.trim_start_matches("/upload/").to_string();
    let problem = {
        let mut d = st.data.lock().unwrap();
        match d.files.handed_out.get_mut(&id) {
            _ if method != Method::POST => {
                Some(format!("upload URL called with {method}, not POST"))
            }
            None => Some(format!(
                "upload to {id:?}, which getUploadURLExternal never handed out"
            )),
            Some(HandedOut { data: Some(_), .. }) => Some(format!("second upload to {id}")),
            Some(HandedOut { length, .. }) if *length != body.len() => Some(format!(
                "upload of {} bytes to {id}, whose length was declared as {length}",
                body.len()
            )),
            Some(HandedOut { data, .. }) => {
                *data = Some(body.to_vec());
                None
            }
        }
    };
    match problem {
        Some(p) => {
            st.core.violation(rec, p);
            empty_response(StatusCode::BAD_REQUEST, &[])
        }
        None => {
            st.core.lock().accepted.push(rec.clone());
            Response::builder()
                .status(StatusCode::OK)
                .header("content-type", "text/plain; charset=utf-8")
                .body(Body::from(format!("OK - {}", body.len())))
                .unwrap_or_else(|_| empty_response(StatusCode::OK, &[]))
        }
    }
}
