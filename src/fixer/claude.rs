//! The Anthropic Messages API client: one call with the structured-output mode configured,
//! retried on 429 (after `retry-after`), 529, 5xx, 409 and transport errors with backoff and
//! jitter; a refusal or a cut answer is an outcome, not a crash; tokens are counted on every
//! answer.

use std::time::Duration;

use reqwest::header::{HeaderMap, CONTENT_TYPE, RETRY_AFTER};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{json, Value};

use super::prompt::{self, TOOL_NAME};
use super::validate::Proposal;

/// How the answer is asked to be structured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputMode {
    /// `output_config.format` with a JSON schema: one text block of JSON.
    JsonSchema,
    /// A strict `report_fix` tool the model is forced to call.
    Tool,
}

impl std::str::FromStr for OutputMode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "json_schema" => Ok(OutputMode::JsonSchema),
            "tool" => Ok(OutputMode::Tool),
            other => Err(format!(
                "'{other}' is not valid: expected json_schema or tool"
            )),
        }
    }
}

/// The client's settings.
#[derive(Clone)]
pub struct ClaudeSettings {
    pub api_key: SecretString,
    /// Without the trailing `/v1/messages`.
    pub base_url: String,
    pub model: String,
    pub mode: OutputMode,
    pub max_tokens: u32,
    pub timeout: Duration,
    pub max_attempts: u32,
    /// First backoff; doubled per attempt, ±20 % jitter.
    pub backoff_base: Duration,
    /// Longest wait honoured (a longer `retry-after` fails the call instead).
    pub max_wait: Duration,
}

/// Tokens one analysis used, all attempts together.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    pub input_tokens: i64,
    pub output_tokens: i64,
}

/// What an analysis came to.
#[derive(Debug, Clone, PartialEq)]
pub enum Analysis {
    Proposal(Proposal),
    /// The model declined (`stop_reason: refusal`): recorded, never retried.
    Declined(String),
    /// It did not give a usable answer (cut, malformed, unknown stop reason, 4xx, retries
    /// exhausted).
    Failed(String),
}

/// What one HTTP answer means.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    Done(Analysis),
    /// Retry after this long (the server's `retry-after`, or `None` for backoff).
    Retry {
        after: Option<Duration>,
        error: String,
    },
}

/// Reads one answer: status, `retry-after` and body.
pub fn classify(status: u16, retry_after: Option<&str>, body: &Value, mode: OutputMode) -> Step {
    let after = retry_after
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(Duration::from_secs_f64);
    let kind = body["error"]["type"].as_str().unwrap_or("unknown_error");
    let message = body["error"]["message"].as_str().unwrap_or("");
    let error = format!("Anthropic API {status} {kind}: {}", first_line(message));
    match status {
        200 => Step::Done(read_message(body, mode)),
        429 if body["error"]["details"]["error_code"] == "enforced_spend_limit_reached" => {
            Step::Done(Analysis::Failed(format!("{error} (spend limit reached)")))
        }
        429 | 529 => Step::Retry { after, error },
        409 | 500 | 502 | 503 | 504 => Step::Retry { after: None, error },
        _ => Step::Done(Analysis::Failed(error)),
    }
}

fn first_line(text: &str) -> String {
    text.lines()
        .next()
        .unwrap_or("")
        .chars()
        .take(300)
        .collect()
}

/// The structured answer of a 200 reply.
fn read_message(body: &Value, mode: OutputMode) -> Analysis {
    let stop = body["stop_reason"].as_str().unwrap_or("");
    match stop {
        "refusal" => {
            let why = body["stop_details"]["explanation"]
                .as_str()
                .map(first_line)
                .unwrap_or_else(|| "no explanation given".into());
            return Analysis::Declined(format!("analysis declined by the model: {why}"));
        }
        "max_tokens" => {
            return Analysis::Failed("the answer was cut at max_tokens".into());
        }
        "end_turn" | "tool_use" | "stop_sequence" => {}
        other => return Analysis::Failed(format!("unexpected stop_reason '{other}'")),
    }
    let blocks = body["content"].as_array().cloned().unwrap_or_default();
    let tool_input = blocks
        .iter()
        .find(|b| b["type"] == "tool_use" && b["name"] == TOOL_NAME)
        .map(|b| b["input"].clone());
    let value = match (mode, tool_input) {
        (_, Some(input)) => input,
        _ => {
            let text: String = blocks
                .iter()
                .filter(|b| b["type"] == "text")
                .filter_map(|b| b["text"].as_str())
                .collect::<Vec<_>>()
                .join("");
            match parse_json_text(&text) {
                Some(v) => v,
                None => return Analysis::Failed("the answer is not the JSON asked for".into()),
            }
        }
    };
    match serde_json::from_value::<Proposal>(value) {
        Ok(p) => Analysis::Proposal(p),
        Err(e) => Analysis::Failed(format!("the answer does not have the fix's shape: {e}")),
    }
}

/// JSON in a text block, with or without a ``` fence.
fn parse_json_text(text: &str) -> Option<Value> {
    let t = text.trim();
    let t = t
        .strip_prefix("```json")
        .or_else(|| t.strip_prefix("```"))
        .map(|s| s.trim_end().trim_end_matches("```"))
        .unwrap_or(t);
    serde_json::from_str(t.trim()).ok()
}

/// The request body.
pub fn request_body(settings: &ClaudeSettings, user: &str) -> Value {
    let mut body = json!({
        "model": settings.model,
        "max_tokens": settings.max_tokens,
        "system": prompt::SYSTEM,
        "messages": [{"role": "user", "content": user}],
    });
    match settings.mode {
        OutputMode::JsonSchema => {
            body["output_config"] =
                json!({"format": {"type": "json_schema", "schema": prompt::schema()}});
        }
        OutputMode::Tool => {
            body["tools"] = json!([{
                "name": TOOL_NAME,
                "description": "Report the root cause and the proposed fix of the error group.",
                "input_schema": prompt::schema(),
                "strict": true
            }]);
            body["tool_choice"] = json!({"type": "tool", "name": TOOL_NAME});
        }
    }
    body
}

/// The delay before retry `attempt` (1 = first retry).
pub fn backoff(base: Duration, attempt: u32, jitter: f64) -> Duration {
    let factor = 2u32.saturating_pow(attempt.saturating_sub(1).min(16));
    base.saturating_mul(factor)
        .mul_f64(0.8 + 0.4 * jitter.clamp(0.0, 1.0))
}

/// The Messages API client.
pub struct Claude {
    settings: ClaudeSettings,
    http: reqwest::Client,
}

impl Claude {
    pub fn new(settings: ClaudeSettings) -> Result<Claude, reqwest::Error> {
        let http = reqwest::Client::builder()
            .timeout(settings.timeout)
            .connect_timeout(Duration::from_secs(10))
            .build()?;
        Ok(Claude { settings, http })
    }

    pub fn model(&self) -> &str {
        &self.settings.model
    }

    /// Whether `GET /v1/models` lists the configured model (`Err`: the API did not answer).
    /// A retired or mistyped id would make every fix fail with 404 `not_found_error`.
    pub async fn model_is_listed(&self) -> Result<bool, String> {
        let url = format!(
            "{}/v1/models?limit=1000",
            self.settings.base_url.trim_end_matches('/')
        );
        let response = self
            .http
            .get(&url)
            .header("x-api-key", self.settings.api_key.expose_secret())
            .header("anthropic-version", "2023-06-01")
            .send()
            .await
            .map_err(|e| e.without_url().to_string())?;
        let status = response.status().as_u16();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        if status != 200 {
            return Err(format!(
                "Anthropic API {status} {}",
                body["error"]["type"].as_str().unwrap_or("unknown_error")
            ));
        }
        Ok(body["data"].as_array().is_some_and(|models| {
            models
                .iter()
                .any(|m| m["id"] == self.settings.model.as_str())
        }))
    }

    /// Asks for the analysis of `user` (the prompt's user turn); tokens of every answer.
    pub async fn analyse(&self, user: &str) -> (Analysis, Usage) {
        let url = format!(
            "{}/v1/messages",
            self.settings.base_url.trim_end_matches('/')
        );
        let body = request_body(&self.settings, user);
        let mut usage = Usage::default();
        let mut last_error = String::new();
        for attempt in 1..=self.settings.max_attempts.max(1) {
            let sent = self
                .http
                .post(&url)
                .header("x-api-key", self.settings.api_key.expose_secret())
                .header("anthropic-version", "2023-06-01")
                .header(CONTENT_TYPE, "application/json")
                .json(&body)
                .send()
                .await;
            let step = match sent {
                Err(e) => Step::Retry {
                    after: None,
                    error: format!("Anthropic API unreachable: {}", e.without_url()),
                },
                Ok(response) => {
                    let status = response.status().as_u16();
                    let retry_after = header(response.headers(), RETRY_AFTER.as_str());
                    let request_id = header(response.headers(), "request-id");
                    let value: Value = response.json().await.unwrap_or(Value::Null);
                    usage.input_tokens += value["usage"]["input_tokens"].as_i64().unwrap_or(0);
                    usage.output_tokens += value["usage"]["output_tokens"].as_i64().unwrap_or(0);
                    tracing::info!(
                        status,
                        request_id = request_id.as_deref().unwrap_or("-"),
                        attempt,
                        "fix generator: Anthropic answered"
                    );
                    classify(status, retry_after.as_deref(), &value, self.settings.mode)
                }
            };
            match step {
                Step::Done(analysis) => return (analysis, usage),
                Step::Retry { after, error } => {
                    last_error = error;
                    if attempt >= self.settings.max_attempts {
                        break;
                    }
                    let wait = after.unwrap_or_else(|| {
                        backoff(
                            self.settings.backoff_base,
                            attempt,
                            rand::Rng::random::<f64>(&mut rand::rng()),
                        )
                    });
                    if wait > self.settings.max_wait {
                        return (
                            Analysis::Failed(format!(
                                "{last_error}; asked to wait {} s, more than the {} s allowed",
                                wait.as_secs(),
                                self.settings.max_wait.as_secs()
                            )),
                            usage,
                        );
                    }
                    tracing::info!(error = %last_error, retry_in = ?wait, "fix generator: Anthropic call will be retried");
                    tokio::time::sleep(wait).await;
                }
            }
        }
        (
            Analysis::Failed(format!(
                "gave up after {} attempts: {last_error}",
                self.settings.max_attempts
            )),
            usage,
        )
    }
}

fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fix_json() -> Value {
        json!({"root_cause": "r", "confidence": "high", "explanation": "e", "edits": [], "suggested_test": "t"})
    }

    #[test]
    fn answers_are_classified_like_the_spec_says() {
        let err = |kind: &str| json!({"type": "error", "error": {"type": kind, "message": "m"}, "request_id": "req_1"});
        let ok_text = json!({"stop_reason": "end_turn", "content": [{"type": "thinking", "thinking": "…"}, {"type": "text", "text": fix_json().to_string()}]});
        let ok_fenced = json!({"stop_reason": "end_turn", "content": [{"type": "text", "text": format!("```json\n{}\n```", fix_json())}]});
        let ok_tool = json!({"stop_reason": "tool_use", "content": [{"type": "text", "text": "x"}, {"type": "tool_use", "name": "report_fix", "input": fix_json()}]});
        let refusal = json!({"stop_reason": "refusal", "content": [], "stop_details": {"type": "refusal", "explanation": "no"}});
        let spend = json!({"type": "error", "error": {"type": "rate_limit_error", "message": "m", "details": {"error_code": "enforced_spend_limit_reached"}}});
        let is_proposal = |s: &Step| matches!(s, Step::Done(Analysis::Proposal(_)));
        assert!(is_proposal(&classify(
            200,
            None,
            &ok_text,
            OutputMode::JsonSchema
        )));
        assert!(is_proposal(&classify(
            200,
            None,
            &ok_fenced,
            OutputMode::JsonSchema
        )));
        assert!(is_proposal(&classify(
            200,
            None,
            &ok_tool,
            OutputMode::Tool
        )));
        assert_eq!(
            classify(200, None, &refusal, OutputMode::Tool),
            Step::Done(Analysis::Declined(
                "analysis declined by the model: no".into()
            ))
        );
        assert!(
            matches!(classify(200, None, &json!({"stop_reason": "max_tokens", "content": []}), OutputMode::Tool), Step::Done(Analysis::Failed(m)) if m.contains("max_tokens"))
        );
        assert!(matches!(
            classify(
                200,
                None,
                &json!({"stop_reason": "pause_turn", "content": []}),
                OutputMode::Tool
            ),
            Step::Done(Analysis::Failed(_))
        ));
        assert!(matches!(
            classify(
                200,
                None,
                &json!({"stop_reason": "end_turn", "content": [{"type": "text", "text": "sure! here"}]}),
                OutputMode::JsonSchema
            ),
            Step::Done(Analysis::Failed(_))
        ));
        assert_eq!(
            classify(429, Some("7"), &err("rate_limit_error"), OutputMode::Tool),
            Step::Retry {
                after: Some(Duration::from_secs(7)),
                error: "Anthropic API 429 rate_limit_error: m".into()
            }
        );
        assert!(matches!(
            classify(429, None, &spend, OutputMode::Tool),
            Step::Done(Analysis::Failed(_))
        ));
        assert!(matches!(
            classify(529, None, &err("overloaded_error"), OutputMode::Tool),
            Step::Retry { after: None, .. }
        ));
        assert!(matches!(
            classify(500, None, &err("api_error"), OutputMode::Tool),
            Step::Retry { .. }
        ));
        for status in [400, 401, 403, 404, 413] {
            assert!(
                matches!(
                    classify(status, None, &err("x"), OutputMode::Tool),
                    Step::Done(Analysis::Failed(_))
                ),
                "{status}"
            );
        }
    }

    #[test]
    fn request_bodies_follow_the_mode_and_never_send_temperature() {
        let settings = ClaudeSettings {
            api_key: "k".into(),
            base_url: "http://x".into(),
            model: "claude-sonnet-5-5".into(),
            mode: OutputMode::Tool,
            max_tokens: 4096,
            timeout: Duration::from_secs(1),
            max_attempts: 1,
            backoff_base: Duration::from_millis(1),
            max_wait: Duration::from_secs(1),
        };
        let tool = request_body(&settings, "u");
        assert_eq!(tool["tool_choice"]["name"], TOOL_NAME);
        assert!(tool.get("temperature").is_none());
        assert!(tool.get("output_config").is_none());
        let schema = request_body(
            &ClaudeSettings {
                mode: OutputMode::JsonSchema,
                ..settings
            },
            "u",
        );
        assert_eq!(schema["output_config"]["format"]["type"], "json_schema");
        assert!(schema.get("tools").is_none());
    }

    #[test]
    fn backoff_doubles_with_jitter() {
        let b = Duration::from_secs(2);
        assert_eq!(backoff(b, 1, 0.5), Duration::from_secs(2));
        assert_eq!(backoff(b, 3, 0.5), Duration::from_secs(8));
        assert_eq!(backoff(b, 1, 0.0), Duration::from_millis(1600));
    }
}
