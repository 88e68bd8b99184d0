//! Fake Anthropic Messages API; see `../shared/specs/anthropic.md`.
//!
//! `POST /v1/messages` checks what the real API checks (the `x-api-key` and
//! `anthropic-version` headers, `model`, `max_tokens`, `messages` starting with `user`,
//! `temperature` rejected like current models do, forced tool use together with thinking) and
//! answers in the real shapes: a `message` with `content` blocks, `stop_reason` and `usage`,
//! the rate-limit headers and a `request-id`; errors as
//! `{"type":"error","error":{"type","message"},"request_id"}` (429 `rate_limit_error` with
//! `retry-after`, 529 `overloaded_error`, 500 `api_error`…). `GET /v1/models` lists models.
//!
//! The answer follows the request's structured-output mode: with `output_config.format`
//! (`json_schema`) one `text` block holding the JSON; with a tool, a `tool_use` block of that
//! tool; otherwise a text block with the JSON.
//!
//! Tests script it through [`FakeAnthropic::push`] (a queue of [`Reply`]s: a given answer,
//! an error, a refusal) and read every request with [`FakeAnthropic::requests`]. With nothing
//! queued it proposes a plausible fix for the first in-app frame of the prompt: it reads the
//! `<frame … in_app="true">` and `<source_file path="…">` blocks Signalbox's prompt carries and
//! guards the line the frame names (the demo works without an account).

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// The key the fake accepts unless told otherwise.
pub const DEFAULT_KEY: &str = "sk-ant-fake-0000000000000000";

/// Largest Messages request accepted (32 MB); larger ones get 413 `request_too_large`.
pub const MAX_BODY: usize = 32 * 1024 * 1024;

/// A scripted answer to the next `POST /v1/messages`.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// 200 with this JSON as the structured answer (tool input or JSON text).
    Answer(Value),
    /// 200 with this text as the answer, verbatim (not necessarily JSON).
    RawText(String),
    /// 200 with `stop_reason: "refusal"` and a `stop_details` explanation.
    Refusal,
    /// 200 cut at `max_tokens`.
    MaxTokens,
    /// 429 `rate_limit_error` with `retry-after`.
    RateLimited { retry_after_secs: u64 },
    /// 529 `overloaded_error`, with `retry-after` when given.
    Overloaded { retry_after_secs: Option<u64> },
    /// 500 `api_error`.
    ServerError,
    /// Any other error: status, `error.type`, message.
    Error {
        status: u16,
        kind: String,
        message: String,
    },
}

/// One request as it arrived.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub path: String,
    /// Header names lowercased.
    pub headers: Vec<(String, String)>,
    /// The body as JSON (`Null` when it was not JSON).
    pub body: Value,
    /// The status answered.
    pub status: u16,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The system prompt as text.
    pub fn system(&self) -> String {
        match &self.body["system"] {
            Value::String(s) => s.clone(),
            Value::Array(blocks) => blocks
                .iter()
                .filter_map(|b| b["text"].as_str())
                .collect::<Vec<_>>()
                .join("\n"),
            _ => String::new(),
        }
    }

    /// Every user message's text, joined.
    pub fn user_text(&self) -> String {
        user_text(&self.body)
    }
}

#[derive(Default)]
struct Fake {
    key: String,
    replies: VecDeque<Reply>,
    requests: Vec<Recorded>,
    next_id: u64,
}

/// A running fake; it stops when dropped.
pub struct FakeAnthropic {
    addr: SocketAddr,
    shared: Arc<Mutex<Fake>>,
    server: JoinHandle<()>,
}

impl FakeAnthropic {
    /// Starts a fake on a free loopback port, accepting [`DEFAULT_KEY`].
    pub async fn start() -> std::io::Result<FakeAnthropic> {
        FakeAnthropic::start_on(0, DEFAULT_KEY).await
    }

    /// Starts a fake on `port` (0: any free one) accepting `key`.
    pub async fn start_on(port: u16, key: &str) -> std::io::Result<FakeAnthropic> {
        let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port))).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Mutex::new(Fake {
            key: key.to_string(),
            ..Fake::default()
        }));
        let app = Router::new()
            .route("/v1/messages", post(messages))
            .route("/v1/models", get(models))
            .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY + 1024 * 1024))
            .with_state(shared.clone());
        let server = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::error!(error = %e, "fake Anthropic stopped");
            }
        });
        Ok(FakeAnthropic {
            addr,
            shared,
            server,
        })
    }

    /// Base URL (`ANTHROPIC_BASE_URL`).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The key it accepts.
    pub fn key(&self) -> String {
        self.lock().key.clone()
    }

    /// Queues the answer to the next request.
    pub fn push(&self, reply: Reply) {
        self.lock().replies.push_back(reply);
    }

    /// Every `/v1/messages` request received.
    pub fn requests(&self) -> Vec<Recorded> {
        self.lock().requests.clone()
    }

    /// Runs until the process is stopped.
    pub async fn wait(self) {
        let _ = (&mut { self }.server).await;
    }

    fn lock(&self) -> MutexGuard<'_, Fake> {
        lock(&self.shared)
    }
}

impl Drop for FakeAnthropic {
    fn drop(&mut self) {
        self.server.abort();
    }
}

fn lock(shared: &Mutex<Fake>) -> MutexGuard<'_, Fake> {
    shared.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The rate-limit headers every answer carries (values like the captured example).
fn rate_headers(request_id: &str) -> Vec<(&'static str, String)> {
    let reset = (chrono::Utc::now() + chrono::Duration::seconds(60))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    vec![
        ("request-id", request_id.to_string()),
        ("anthropic-ratelimit-requests-limit", "1000".into()),
        ("anthropic-ratelimit-requests-remaining", "999".into()),
        ("anthropic-ratelimit-requests-reset", reset.clone()),
        ("anthropic-ratelimit-input-tokens-limit", "80000".into()),
        ("anthropic-ratelimit-input-tokens-remaining", "79000".into()),
        ("anthropic-ratelimit-input-tokens-reset", reset.clone()),
        ("anthropic-ratelimit-output-tokens-limit", "16000".into()),
        (
            "anthropic-ratelimit-output-tokens-remaining",
            "15500".into(),
        ),
        ("anthropic-ratelimit-output-tokens-reset", reset),
    ]
}

fn respond(status: u16, headers: Vec<(&'static str, String)>, body: Value) -> Response {
    let mut response = (
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        Json(body),
    )
        .into_response();
    for (name, value) in headers {
        if let Ok(value) = value.parse() {
            response.headers_mut().insert(name, value);
        }
    }
    response
}

fn error_body(kind: &str, message: &str, request_id: &str) -> Value {
    json!({"type": "error", "error": {"type": kind, "message": message}, "request_id": request_id})
}

/// The checks the real API makes before it answers, as (status, error type, message).
fn check(headers: &HeaderMap, key: &str, body: &Value) -> Result<(), (u16, &'static str, String)> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    match header("x-api-key") {
        None => {
            return Err((
                401,
                "authentication_error",
                "x-api-key header is required".into(),
            ))
        }
        Some(k) if k != key => {
            return Err((401, "authentication_error", "invalid x-api-key".into()))
        }
        _ => {}
    }
    if header("anthropic-version").is_none() {
        return Err((
            400,
            "invalid_request_error",
            "anthropic-version: header is required".into(),
        ));
    }
    let invalid = |m: &str| Err((400, "invalid_request_error", m.to_string()));
    if !body.is_object() {
        return invalid("There was an issue with your request body: expected a JSON object");
    }
    if !body["model"].is_string() {
        return invalid("model: Field required");
    }
    if !body["max_tokens"].is_u64() {
        return invalid("max_tokens: Field required");
    }
    let Some(messages) = body["messages"].as_array().filter(|m| !m.is_empty()) else {
        return invalid("messages: Field required");
    };
    if messages[0]["role"] != "user" {
        return invalid("messages: first message must use the \"user\" role");
    }
    if body.get("temperature").is_some() {
        return invalid("`temperature` is deprecated for this model.");
    }
    let forced = matches!(body["tool_choice"]["type"].as_str(), Some("any" | "tool"));
    if forced && body.get("thinking").is_some() {
        return invalid("Thinking may not be enabled when tool_choice forces tool use.");
    }
    Ok(())
}

async fn models(State(shared): State<Arc<Mutex<Fake>>>, headers: HeaderMap) -> Response {
    let key = lock(&shared).key.clone();
    if headers.get("x-api-key").and_then(|v| v.to_str().ok()) != Some(key.as_str()) {
        return respond(
            401,
            rate_headers("req_fake_models"),
            error_body(
                "authentication_error",
                "invalid x-api-key",
                "req_fake_models",
            ),
        );
    }
    let data: Vec<Value> = ["claude-sonnet-5-5", "claude-opus-5-5", "claude-haiku-5-5"]
        .iter()
        .map(|id| json!({"id": id, "display_name": id, "created_at": "2026-10-01T00:00:00Z", "type": "model"}))
        .collect();
    Json(json!({"data": data, "has_more": false, "first_id": "claude-sonnet-5-5", "last_id": "claude-haiku-5-5"}))
        .into_response()
}

async fn messages(
    State(shared): State<Arc<Mutex<Fake>>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if body.len() > MAX_BODY {
        return respond(
            413,
            Vec::new(),
            error_body(
                "request_too_large",
                "Request exceeds the maximum allowed number of bytes.",
                "req_fake_413",
            ),
        );
    }
    let json: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let (key, reply, request_id, index) = {
        let mut fake = lock(&shared);
        fake.next_id += 1;
        let id = format!("req_fake_{:04}", fake.next_id);
        fake.requests.push(Recorded {
            path: "/v1/messages".into(),
            headers: headers
                .iter()
                .map(|(k, v)| {
                    (
                        k.as_str().to_string(),
                        String::from_utf8_lossy(v.as_bytes()).to_string(),
                    )
                })
                .collect(),
            body: json.clone(),
            status: 0,
        });
        let index = fake.requests.len() - 1;
        (fake.key.clone(), fake.replies.pop_front(), id, index)
    };
    let response = answer(&headers, &key, &json, reply, &request_id);
    if let Some(r) = lock(&shared).requests.get_mut(index) {
        r.status = response.status().as_u16();
    }
    response
}

fn answer(
    headers: &HeaderMap,
    key: &str,
    body: &Value,
    reply: Option<Reply>,
    request_id: &str,
) -> Response {
    let headers_out = || rate_headers(request_id);
    if let Err((status, kind, message)) = check(headers, key, body) {
        return respond(
            status,
            headers_out(),
            error_body(kind, &message, request_id),
        );
    }
    let reply = reply.unwrap_or_else(|| Reply::Answer(default_fix(&user_text(body))));
    let model = body["model"].as_str().unwrap_or_default();
    let input_tokens = (body.to_string().len() / 4) as u64;
    let message = |content: Vec<Value>, stop: &str, extra: Option<Value>| {
        let output_tokens: u64 = content
            .iter()
            .map(|c| (c.to_string().len() / 4) as u64)
            .sum::<u64>()
            .max(1);
        let mut m = json!({
            "id": format!("msg_fake_{request_id}"),
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": content,
            "stop_reason": stop,
            "stop_sequence": null,
            "usage": {"input_tokens": input_tokens, "output_tokens": output_tokens,
                      "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0,
                      "service_tier": "standard"}
        });
        if let (Some(extra), Some(obj)) = (extra, m.as_object_mut()) {
            obj.insert("stop_details".into(), extra);
        }
        respond(200, headers_out(), m)
    };
    let error = |status: u16, kind: &str, text: &str, retry: Option<u64>| {
        let mut h = headers_out();
        if let Some(s) = retry {
            h.push(("retry-after", s.to_string()));
        }
        respond(status, h, error_body(kind, text, request_id))
    };
    match reply {
        Reply::Answer(value) => {
            let tool = body["tools"]
                .as_array()
                .and_then(|t| t.first())
                .and_then(|t| t["name"].as_str());
            match tool {
                Some(name) if body.get("output_config").is_none() => message(
                    vec![
                        json!({"type": "text", "text": "I'll report the fix."}),
                        json!({"type": "tool_use", "id": format!("toolu_fake_{request_id}"), "name": name, "input": value}),
                    ],
                    "tool_use",
                    None,
                ),
                _ => message(
                    vec![json!({"type": "text", "text": value.to_string()})],
                    "end_turn",
                    None,
                ),
            }
        }
        Reply::RawText(text) => message(
            vec![json!({"type": "text", "text": text})],
            "end_turn",
            None,
        ),
        Reply::Refusal => message(
            Vec::new(),
            "refusal",
            Some(
                json!({"type": "refusal", "category": "cyber", "explanation": "The request resembles an attempt to exfiltrate credentials."}),
            ),
        ),
        Reply::MaxTokens => message(
            vec![json!({"type": "text", "text": "{\"root_cause\": \"The conn"})],
            "max_tokens",
            None,
        ),
        Reply::RateLimited { retry_after_secs } => error(
            429,
            "rate_limit_error",
            "Number of request tokens has exceeded your per-minute rate limit",
            Some(retry_after_secs),
        ),
        Reply::Overloaded { retry_after_secs } => {
            error(529, "overloaded_error", "Overloaded", retry_after_secs)
        }
        Reply::ServerError => error(500, "api_error", "Internal server error", None),
        Reply::Error {
            status,
            kind,
            message,
        } => error(status, &kind, &message, None),
    }
}

fn user_text(body: &Value) -> String {
    let mut out = String::new();
    for m in body["messages"].as_array().into_iter().flatten() {
        if m["role"] != "user" {
            continue;
        }
        match &m["content"] {
            Value::String(s) => out.push_str(s),
            Value::Array(blocks) => {
                for b in blocks {
                    if let Some(t) = b["text"].as_str() {
                        out.push_str(t);
                    }
                }
            }
            _ => {}
        }
        out.push('\n');
    }
    out
}

/// The value of `name="…"` in a tag.
fn attribute(tag: &str, name: &str) -> Option<String> {
    let start = tag.find(&format!(" {name}=\""))? + name.len() + 3;
    let end = tag[start..].find('"')? + start;
    Some(tag[start..end].to_string())
}

/// The first in-app frame's (path, line) and the source of that file, from the prompt.
fn frame_and_source(prompt: &str) -> Option<(String, usize, String)> {
    let frame = prompt
        .match_indices("<frame ")
        .filter_map(|(i, _)| prompt[i..].find('>').map(|end| &prompt[i..i + end]))
        .find(|tag| attribute(tag, "in_app").as_deref() == Some("true"))?;
    let path = attribute(frame, "path")?;
    let line: usize = attribute(frame, "line")?.parse().ok()?;
    let open = format!("<source_file path=\"{path}\"");
    let start = prompt.find(&open)?;
    let body_start = prompt[start..].find(">\n")? + start + 2;
    let body_end = prompt[body_start..].find("\n</source_file>")? + body_start;
    Some((path, line, prompt[body_start..body_end].to_string()))
}

/// A guarded version of `line` in the language of `path`, or `None` when nothing fits.
fn guard(path: &str, line: &str) -> Option<String> {
    let indent: String = line.chars().take_while(|c| c.is_whitespace()).collect();
    let code = line.trim();
    let ext = path.rsplit('.').next().unwrap_or("");
    match ext {
        "rs" if code.contains(".unwrap()") => Some(line.replacen(
            ".unwrap()",
            ".ok_or(SessionError::Missing)?",
            1,
        )),
        "py" => Some(format!(
            "{indent}try:\n{indent}    {code}\n{indent}except Exception as exc:  # guarded: fail with context instead of crashing\n{indent}    raise RuntimeError(\"{} failed\") from exc",
            path.rsplit('/').next().unwrap_or(path)
        )),
        "js" | "ts" | "jsx" | "tsx" => {
            // `a[b].c` → `a[b]?.c`, else the first property access.
            let dot = code
                .find("].")
                .map(|i| i + 1)
                .or_else(|| code.find('.').filter(|&i| i > 0))?;
            Some(format!("{indent}{}?.{}", &code[..dot], &code[dot + 1..]))
        }
        "go" => {
            let expr = code
                .strip_prefix("return ")
                .or_else(|| code.strip_prefix("defer "))
                .unwrap_or(code);
            let receiver: String = expr
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == '.')
                .collect();
            let receiver = receiver.rsplit_once('.').map(|(r, _)| r.to_string())?;
            Some(format!(
                "{indent}if {receiver} == nil {{\n{indent}\treturn errors.New(\"{receiver} is not set\")\n{indent}}}\n{line}"
            ))
        }
        _ => None,
    }
}

/// The fix the fake proposes when nothing is scripted: guard the first in-app frame's line.
pub fn default_fix(prompt: &str) -> Value {
    let Some((path, line_no, source)) = frame_and_source(prompt) else {
        return json!({
            "root_cause": "The stack trace names no application file, so no code change can be proposed.",
            "confidence": "low",
            "explanation": "Only library frames were given.",
            "edits": [],
            "suggested_test": ""
        });
    };
    let line = source.lines().nth(line_no.saturating_sub(1)).unwrap_or("");
    let edits = match guard(&path, line).filter(|_| !line.trim().is_empty()) {
        Some(replacement) => {
            json!([{"path": path, "hunks": [{"find": line, "replace": replacement}]}])
        }
        None => json!([]),
    };
    json!({
        "root_cause": format!("{path}:{line_no} assumes a value that is missing when the error happens, and nothing handles that case."),
        "confidence": "medium",
        "explanation": format!("Guard the statement at {path}:{line_no} so the missing value becomes a handled error with context instead of a crash."),
        "edits": edits,
        "suggested_test": format!("Call the function at {path}:{line_no} with the value missing and assert it returns a handled error.")
    })
}

/// Runs a fake on `port` until the process is stopped (the `signalbox-fake anthropic` command).
pub async fn run(port: u16, key: &str) -> std::io::Result<()> {
    let fake = FakeAnthropic::start_on(port, key).await?;
    println!("fake Anthropic API on {}", fake.url());
    println!(
        "  ANTHROPIC_BASE_URL={} ANTHROPIC_API_KEY={key}",
        fake.url()
    );
    fake.wait().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(tools: bool) -> Value {
        let mut body = json!({
            "model": "claude-sonnet-5-5",
            "max_tokens": 1000,
            "messages": [{"role": "user", "content": "<frame index=\"0\" path=\"app/db.py\" line=\"2\" in_app=\"true\">\n<source_file path=\"app/db.py\">\nimport x\n    conn = connect(url)\n</source_file>\n"}],
        });
        if tools {
            body["tools"] = json!([{"name": "report_fix", "input_schema": {"type": "object"}}]);
            body["tool_choice"] = json!({"type": "tool", "name": "report_fix"});
        } else {
            body["output_config"] =
                json!({"format": {"type": "json_schema", "schema": {"type": "object"}}});
        }
        body
    }

    async fn send(fake: &FakeAnthropic, key: &str, body: &Value) -> (u16, HeaderMap, Value) {
        let r = reqwest::Client::new()
            .post(format!("{}/v1/messages", fake.url()))
            .header("x-api-key", key)
            .header("anthropic-version", "2023-06-01")
            .json(body)
            .send()
            .await
            .expect("sent");
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        (status, headers, r.json().await.expect("json"))
    }

    #[test]
    fn the_default_fix_guards_each_demo_frame() {
        let frames = [
            ("src/routes/cart.js", 42, "?.price"),
            ("checkout/db.py", 31, "try:"),
            ("checkout/orders.py", 77, "try:"),
            ("checkout/discounts.py", 58, "try:"),
            ("internal/jobs/email.go", 88, "if m.client == nil"),
            ("src/session.rs", 88, "ok_or(SessionError::Missing)?"),
        ];
        let files = crate::github::demo_files();
        for (path, line, expected) in frames {
            let source = files.get(path).expect("a demo file");
            let prompt = format!(
                "<frame index=\"0\" path=\"{path}\" line=\"{line}\" function=\"f\" in_app=\"true\" trace_path=\"/app/{path}\">\n<source_file path=\"{path}\" lines=\"all\">\n{source}\n</source_file>\n"
            );
            let fix = default_fix(&prompt);
            let hunk = &fix["edits"][0]["hunks"][0];
            let find = hunk["find"].as_str().expect("a hunk");
            assert_eq!(source.matches(find).count(), 1, "{path}: {find}");
            assert!(
                hunk["replace"]
                    .as_str()
                    .is_some_and(|r| r.contains(expected)),
                "{path}: {hunk}"
            );
        }
    }

    #[tokio::test]
    async fn answers_scripts_and_checks_like_the_api() {
        let fake = FakeAnthropic::start().await.expect("starts");
        let (status, headers, body) = send(&fake, DEFAULT_KEY, &request(true)).await;
        assert_eq!(status, 200, "{body}");
        assert!(headers.contains_key("request-id"));
        assert_eq!(body["stop_reason"], "tool_use");
        let tool = &body["content"][1];
        assert_eq!(tool["type"], "tool_use");
        assert_eq!(tool["input"]["edits"][0]["path"], "app/db.py");
        assert!(tool["input"]["edits"][0]["hunks"][0]["replace"]
            .as_str()
            .is_some_and(|r| r.contains("try:")));

        let (_, _, body) = send(&fake, DEFAULT_KEY, &request(false)).await;
        assert_eq!(body["content"][0]["type"], "text");
        let text = body["content"][0]["text"].as_str().expect("text");
        assert!(serde_json::from_str::<Value>(text).is_ok());

        let (status, _, body) = send(&fake, "wrong", &request(true)).await;
        assert_eq!(
            (status, body["error"]["type"].as_str()),
            (401, Some("authentication_error"))
        );
        let mut hot = request(true);
        hot["temperature"] = json!(0.2);
        assert_eq!(send(&fake, DEFAULT_KEY, &hot).await.0, 400);

        fake.push(Reply::RateLimited {
            retry_after_secs: 7,
        });
        fake.push(Reply::Overloaded {
            retry_after_secs: None,
        });
        fake.push(Reply::Refusal);
        let (status, headers, body) = send(&fake, DEFAULT_KEY, &request(true)).await;
        assert_eq!(status, 429);
        assert_eq!(headers["retry-after"], "7");
        assert_eq!(body["type"], "error");
        assert_eq!(body["error"]["type"], "rate_limit_error");
        let (status, _, body) = send(&fake, DEFAULT_KEY, &request(true)).await;
        assert_eq!(
            (status, body["error"]["type"].as_str()),
            (529, Some("overloaded_error"))
        );
        let (status, _, body) = send(&fake, DEFAULT_KEY, &request(true)).await;
        assert_eq!(
            (status, body["stop_reason"].as_str()),
            (200, Some("refusal"))
        );
        assert_eq!(fake.requests().len(), 7);
        assert!(fake.requests()[0].user_text().contains("app/db.py"));
    }
}
