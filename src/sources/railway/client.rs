//! GraphQL over HTTP to Railway's public API (`../shared/specs/railway.md`).
//!
//! What Railway does that a plain client would get wrong: authorization failures come back as
//! HTTP 200 with `errors[]`; validation errors as 400 with `errors[]`; a rate limit as 429 with
//! `Retry-After` (and `X-RateLimit-*` headers on every answer); the edge may answer with an HTML
//! page. Account tokens go in `Authorization: Bearer`, project tokens in `Project-Access-Token`.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use rand::Rng;
use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::StatusCode;
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};

/// How a token is presented.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// Account, workspace or OAuth token: `Authorization: Bearer`.
    Account,
    /// Project token (one environment of one project): `Project-Access-Token`.
    Project,
}

/// A request to Railway failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RailwayError {
    #[error("Railway refused the token: {0}")]
    Unauthorized(String),
    #[error("Railway rate limit reached; retry in {}s", .0.as_secs())]
    RateLimited(Duration),
    #[error("Railway rejected the query: {0}")]
    Query(String),
    #[error("Railway answered HTTP {status}: {detail}")]
    Http { status: u16, detail: String },
    #[error("cannot reach Railway: {0}")]
    Network(String),
    #[error("unexpected answer from Railway: {0}")]
    Decode(String),
}

impl RailwayError {
    /// Whether trying again soon may succeed (network, 5xx, rate limit).
    pub fn is_transient(&self) -> bool {
        match self {
            RailwayError::Network(_) | RailwayError::RateLimited(_) => true,
            RailwayError::Http { status, .. } => *status >= 500,
            _ => false,
        }
    }
}

/// Longest `Retry-After` waited out inside one run; a longer one skips the run.
const MAX_INLINE_WAIT: Duration = Duration::from_secs(20);
/// Attempts per request for transient failures.
const ATTEMPTS: u32 = 3;

/// A Railway GraphQL client.
pub struct Client {
    http: reqwest::Client,
    url: String,
    token: SecretString,
    /// `None` until the first answer tells which kind an ambiguous token is.
    kind: Mutex<Option<TokenKind>>,
    /// No request before this instant (rate limit exhausted).
    blocked_until: Mutex<Option<Instant>>,
}

#[derive(Deserialize)]
struct Response<T> {
    data: Option<T>,
    #[serde(default)]
    errors: Vec<GraphqlError>,
}

#[derive(Debug, Deserialize)]
struct GraphqlError {
    #[serde(default)]
    message: String,
    #[serde(default)]
    extensions: Option<Value>,
}

impl Client {
    /// A client for `url` (the GraphQL endpoint). `kind` = `None` tries the token as an account
    /// token first and as a project token when Railway refuses it.
    pub fn new(url: &str, token: SecretString, kind: Option<TokenKind>) -> Client {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .connect_timeout(Duration::from_secs(10))
            .user_agent(concat!("signalbox/", env!("CARGO_PKG_VERSION")))
            .build()
            .unwrap_or_default();
        Client {
            http,
            url: url.to_string(),
            token,
            kind: Mutex::new(kind),
            blocked_until: Mutex::new(None),
        }
    }

    /// The headers carrying the token for `kind`.
    pub fn auth_headers(&self, kind: TokenKind) -> HeaderMap {
        let mut headers = HeaderMap::new();
        let secret = self.token.expose_secret();
        let (name, value) = match kind {
            TokenKind::Account => ("authorization", format!("Bearer {secret}")),
            TokenKind::Project => ("project-access-token", secret.to_string()),
        };
        if let Ok(mut value) = HeaderValue::from_str(&value) {
            value.set_sensitive(true);
            headers.insert(name, value);
        }
        headers
    }

    /// The token kind in use (the account kind until an answer proved otherwise).
    pub fn token_kind(&self) -> TokenKind {
        self.kind
            .lock()
            .map(|k| k.unwrap_or(TokenKind::Account))
            .unwrap_or(TokenKind::Account)
    }

    /// Runs a query and decodes `data`, retrying transient failures with backoff and jitter
    /// and trying the other token kind once when the kind was not configured.
    pub async fn query<T: DeserializeOwned>(
        &self,
        query: &str,
        variables: Value,
    ) -> Result<T, RailwayError> {
        let known = self.kind.lock().map(|k| *k).unwrap_or(None);
        let kinds: &[TokenKind] = match known {
            Some(TokenKind::Account) => &[TokenKind::Account],
            Some(TokenKind::Project) => &[TokenKind::Project],
            None => &[TokenKind::Account, TokenKind::Project],
        };
        let mut last = RailwayError::Unauthorized("no token kind accepted".into());
        for &kind in kinds {
            match self.query_with_retries(kind, query, &variables).await {
                Err(RailwayError::Unauthorized(message)) => {
                    last = RailwayError::Unauthorized(message)
                }
                result => {
                    if result.is_ok() && known.is_none() {
                        if let Ok(mut k) = self.kind.lock() {
                            *k = Some(kind);
                        }
                    }
                    return result;
                }
            }
        }
        Err(last)
    }

    async fn query_with_retries<T: DeserializeOwned>(
        &self,
        kind: TokenKind,
        query: &str,
        variables: &Value,
    ) -> Result<T, RailwayError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let error = match self.send(kind, query, variables).await {
                Ok(value) => return Ok(value),
                Err(e) => e,
            };
            let jitter: f64 = rand::rng().random();
            match retry_delay(&error, attempt, jitter) {
                Some(delay) => {
                    tracing::debug!(error = %error, ?delay, "Railway request failed; retrying");
                    tokio::time::sleep(delay).await;
                }
                None => {
                    if let RailwayError::RateLimited(wait) = &error {
                        self.block_for(*wait);
                    }
                    return Err(error);
                }
            }
        }
    }

    fn block_for(&self, wait: Duration) {
        if let Ok(mut until) = self.blocked_until.lock() {
            *until = Some(Instant::now() + wait);
        }
    }

    async fn send<T: DeserializeOwned>(
        &self,
        kind: TokenKind,
        query: &str,
        variables: &Value,
    ) -> Result<T, RailwayError> {
        if let Some(until) = self.blocked_until.lock().ok().and_then(|u| *u) {
            let now = Instant::now();
            if until > now {
                return Err(RailwayError::RateLimited(until - now));
            }
        }
        let response = self
            .http
            .post(&self.url)
            .headers(self.auth_headers(kind))
            .json(&json!({ "query": query, "variables": variables }))
            .send()
            .await
            .map_err(|e| RailwayError::Network(without_url(&e)))?;
        let status = response.status();
        let headers = response.headers().clone();
        if let Some(wait) = exhausted_for(&headers, Utc::now()) {
            self.block_for(wait);
        }
        let body = response
            .bytes()
            .await
            .map_err(|e| RailwayError::Network(without_url(&e)))?;
        decode(status, &headers, &body)
    }
}

/// reqwest's error without the URL (a URL may carry a token in its query string).
fn without_url(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connection failed"
    } else if e.is_body() || e.is_decode() {
        "broken response body"
    } else {
        "request failed"
    };
    match std::error::Error::source(e) {
        Some(source) => format!("{kind}: {source}"),
        None => kind.to_string(),
    }
}

/// Turns one HTTP answer into data or the error it means.
pub fn decode<T: DeserializeOwned>(
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<T, RailwayError> {
    if status == StatusCode::TOO_MANY_REQUESTS {
        return Err(RailwayError::RateLimited(
            retry_after(headers).unwrap_or(Duration::from_secs(60)),
        ));
    }
    let parsed: Result<Response<T>, _> = serde_json::from_slice(body);
    let response = match parsed {
        Ok(r) => r,
        Err(e) => {
            let detail = if body.trim_ascii_start().starts_with(b"<") {
                "an HTML page instead of JSON (the edge refused the request)".to_string()
            } else if status.is_success() {
                format!("not the expected JSON: {e}")
            } else {
                first_line(body)
            };
            return Err(if status.is_success() {
                RailwayError::Decode(detail)
            } else {
                RailwayError::Http {
                    status: status.as_u16(),
                    detail,
                }
            });
        }
    };
    if let Some(error) = response.errors.first() {
        let message = error.message.clone();
        let code = error
            .extensions
            .as_ref()
            .and_then(|e| e.get("code"))
            .and_then(Value::as_str)
            .unwrap_or("");
        if is_auth_message(&message) {
            return Err(RailwayError::Unauthorized(message));
        }
        if status.is_server_error() {
            return Err(RailwayError::Http {
                status: status.as_u16(),
                detail: message,
            });
        }
        return Err(RailwayError::Query(if code.is_empty() {
            message
        } else {
            format!("{code}: {message}")
        }));
    }
    if !status.is_success() {
        return Err(RailwayError::Http {
            status: status.as_u16(),
            detail: first_line(body),
        });
    }
    response
        .data
        .ok_or_else(|| RailwayError::Decode("neither data nor errors".into()))
}

fn first_line(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let line = text.lines().next().unwrap_or("").trim();
    line.chars().take(200).collect()
}

/// Railway's ways of saying the token is not good.
fn is_auth_message(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    [
        "not authorized",
        "unauthorized",
        "project token not found",
        "two factor authentication required",
        "invalid token",
    ]
    .iter()
    .any(|needle| m.contains(needle))
}

/// `Retry-After` in seconds (or an HTTP date).
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get("retry-after")?.to_str().ok()?.trim();
    if let Ok(secs) = value.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0)
            .then(|| Duration::from_secs_f64(secs.min(86_400.0)));
    }
    let at = DateTime::parse_from_rfc2822(value).ok()?;
    (at.with_timezone(&Utc) - Utc::now()).to_std().ok()
}

/// When `X-RateLimit-Remaining` is 0: how long until `X-RateLimit-Reset` (epoch seconds or
/// milliseconds, seconds from now, or an RFC 3339 time — the format is not documented).
pub fn exhausted_for(headers: &HeaderMap, now: DateTime<Utc>) -> Option<Duration> {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    let remaining: f64 = header("x-ratelimit-remaining")?.parse().ok()?;
    if remaining > 0.0 {
        return None;
    }
    let fallback = Duration::from_secs(60);
    let Some(reset) = header("x-ratelimit-reset") else {
        return Some(fallback);
    };
    let wait = if let Ok(n) = reset.parse::<i64>() {
        let now_s = now.timestamp();
        if n > 100_000_000_000 {
            Duration::from_millis((n - now.timestamp_millis()).max(0) as u64)
        } else if n > 1_000_000_000 {
            Duration::from_secs((n - now_s).max(0) as u64)
        } else {
            Duration::from_secs(n.max(0) as u64)
        }
    } else if let Ok(at) = DateTime::parse_from_rfc3339(reset) {
        (at.with_timezone(&Utc) - now).to_std().unwrap_or_default()
    } else {
        fallback
    };
    Some(wait.min(Duration::from_secs(3600)))
}

/// How long to wait before attempt `attempt + 1` after `error`, or `None` to give up for this
/// run. `jitter` in [0, 1) spreads retries of many clients apart.
pub fn retry_delay(error: &RailwayError, attempt: u32, jitter: f64) -> Option<Duration> {
    if attempt >= ATTEMPTS {
        return None;
    }
    match error {
        RailwayError::RateLimited(wait) if *wait <= MAX_INLINE_WAIT => {
            Some(*wait + Duration::from_millis(100))
        }
        RailwayError::RateLimited(_) => None,
        e if e.is_transient() => {
            // 0.5 s, 1 s, 2 s … each between half and the full step.
            let step = Duration::from_millis(500 * (1u64 << (attempt - 1).min(6)));
            Some(step.mul_f64(0.5 + 0.5 * jitter.clamp(0.0, 1.0)))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).expect("valid header"));
        }
        h
    }

    #[derive(Debug, Deserialize, PartialEq)]
    struct Me {
        me: Value,
    }

    #[test]
    fn answers_map_to_data_or_errors() {
        let none = HeaderMap::new();
        let cases: Vec<(u16, &str, Result<(), RailwayError>)> = vec![
            (200, r#"{"data":{"me":{"id":"1"}}}"#, Ok(())),
            (
                200,
                r#"{"errors":[{"message":"Not Authorized","path":["me"],"extensions":{"code":"INTERNAL_SERVER_ERROR"}}],"data":null}"#,
                Err(RailwayError::Unauthorized("Not Authorized".into())),
            ),
            (
                200,
                r#"{"errors":[{"message":"Project Token not found"}],"data":null}"#,
                Err(RailwayError::Unauthorized("Project Token not found".into())),
            ),
            (
                400,
                r#"{"errors":[{"message":"Cannot query field \"x\"","extensions":{"code":"GRAPHQL_VALIDATION_FAILED"}}]}"#,
                Err(RailwayError::Query(
                    "GRAPHQL_VALIDATION_FAILED: Cannot query field \"x\"".into(),
                )),
            ),
            (
                403,
                "<!DOCTYPE html><html>Access denied</html>",
                Err(RailwayError::Http {
                    status: 403,
                    detail: "an HTML page instead of JSON (the edge refused the request)".into(),
                }),
            ),
            (
                502,
                "Bad Gateway",
                Err(RailwayError::Http {
                    status: 502,
                    detail: "Bad Gateway".into(),
                }),
            ),
            (
                200,
                r#"{"data":null}"#,
                Err(RailwayError::Decode("neither data nor errors".into())),
            ),
        ];
        for (status, body, want) in cases {
            let got = decode::<Me>(
                StatusCode::from_u16(status).expect("status"),
                &none,
                body.as_bytes(),
            )
            .map(|_| ());
            assert_eq!(got, want, "{status} {body}");
        }
    }

    #[test]
    fn rate_limits_are_read_leniently() {
        let now = DateTime::from_timestamp(1_800_000_000, 0).expect("valid");
        let got = decode::<Me>(
            StatusCode::TOO_MANY_REQUESTS,
            &headers(&[("retry-after", "7")]),
            b"{\"data\":null}",
        );
        assert_eq!(got, Err(RailwayError::RateLimited(Duration::from_secs(7))));
        for (pairs, want) in [
            (vec![("x-ratelimit-remaining", "3")], None),
            (
                vec![
                    ("x-ratelimit-remaining", "0"),
                    ("x-ratelimit-reset", "1800000030"),
                ],
                Some(30),
            ),
            (
                vec![
                    ("x-ratelimit-remaining", "0"),
                    ("x-ratelimit-reset", "1800000030000"),
                ],
                Some(30),
            ),
            (
                vec![("x-ratelimit-remaining", "0"), ("x-ratelimit-reset", "45")],
                Some(45),
            ),
            (
                vec![
                    ("x-ratelimit-remaining", "0"),
                    ("x-ratelimit-reset", "2027-01-15T08:00:10Z"),
                ],
                Some(10),
            ),
            (
                vec![
                    ("x-ratelimit-remaining", "0"),
                    ("x-ratelimit-reset", "soon"),
                ],
                Some(60),
            ),
            (vec![("x-ratelimit-remaining", "0")], Some(60)),
            (vec![], None),
        ] {
            let got = exhausted_for(&headers(&pairs), now).map(|d| d.as_secs());
            assert_eq!(got, want, "{pairs:?}");
        }
    }

    #[test]
    fn retries_back_off_with_jitter_and_give_up() {
        let net = RailwayError::Network("reset".into());
        assert_eq!(retry_delay(&net, 1, 0.0), Some(Duration::from_millis(250)));
        assert_eq!(retry_delay(&net, 2, 1.0), Some(Duration::from_millis(1000)));
        assert_eq!(retry_delay(&net, 3, 0.5), None, "three attempts at most");
        let short = RailwayError::RateLimited(Duration::from_secs(2));
        assert_eq!(
            retry_delay(&short, 1, 0.3),
            Some(Duration::from_millis(2100))
        );
        let long = RailwayError::RateLimited(Duration::from_secs(600));
        assert_eq!(
            retry_delay(&long, 1, 0.3),
            None,
            "a long wait skips the run"
        );
        let auth = RailwayError::Unauthorized("Not Authorized".into());
        assert_eq!(retry_delay(&auth, 1, 0.3), None);
        let server = RailwayError::Http {
            status: 503,
            detail: String::new(),
        };
        assert!(retry_delay(&server, 1, 0.3).is_some());
        let client = RailwayError::Http {
            status: 404,
            detail: String::new(),
        };
        assert_eq!(retry_delay(&client, 1, 0.3), None);
    }

    #[test]
    fn the_token_never_reaches_debug_output() {
        let client = Client::new("http://x", SecretString::from("tok-123"), None);
        let headers = client.auth_headers(TokenKind::Project);
        assert!(!format!("{headers:?}").contains("tok-123"));
    }
}
