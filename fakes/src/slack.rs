//! Fake Slack incoming webhook and generic webhook receiver; see
//! `../shared/specs/slack.md`.
//!
//! `POST /services/…` behaves like a Slack incoming webhook: 200 with the text `ok`, or a
//! plain-text error code (`invalid_payload` for a body that is not a JSON object, `no_text`
//! without `text` and `blocks`, `invalid_blocks` for a header over 150 characters or a section
//! over 3,000). Any other `POST` path is a generic webhook receiver: 200 `ok` for any body.
//!
//! Tests drive it through a [`FakeSlack`] handle: script the next answers with
//! [`FakeSlack::fail_next`], read every request, the accepted deliveries, and the deliveries
//! deduplicated by `Idempotency-Key` (what a receiver that dedupes would have acted on).

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// A scripted answer to one request, in place of the real one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// 429 `rate_limited` with `Retry-After: <seconds>`.
    RateLimited { retry_after_secs: u64 },
    /// 500 `rollup_error` (transient).
    ServerError,
    /// 400 `invalid_payload` (permanent).
    InvalidPayload,
    /// 404 `no_service`: the webhook was revoked (permanent).
    NoService,
    /// The real answer, after this delay (a client timeout or a shutdown may come first).
    Slow(Duration),
}

/// One request as it arrived.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub path: String,
    /// Header names lowercased.
    pub headers: BTreeMap<String, String>,
    pub body: String,
    /// When it arrived.
    pub at: Instant,
    /// The status the fake answered (0 while a slow answer is pending).
    pub status: u16,
}

impl Delivery {
    /// The body as JSON (`Null` when it is not JSON).
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
    }
}

#[derive(Default)]
struct Fake {
    failures: VecDeque<Failure>,
    /// Every request, failed ones included, in arrival order.
    requests: Vec<Delivery>,
    /// Requests answered 200, in answer order.
    delivered: Vec<Delivery>,
}

/// A running fake; it stops when dropped.
pub struct FakeSlack {
    addr: SocketAddr,
    shared: Arc<Mutex<Fake>>,
    server: JoinHandle<()>,
}

impl FakeSlack {
    /// Starts a fake on a free loopback port.
    pub async fn start() -> std::io::Result<FakeSlack> {
        let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Mutex::new(Fake::default()));
        let app = Router::new().fallback(receive).with_state(shared.clone());
        let server = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::error!(error = %e, "fake Slack stopped");
            }
        });
        Ok(FakeSlack {
            addr,
            shared,
            server,
        })
    }

    /// A Slack-style incoming-webhook URL on this fake.
    pub fn slack_url(&self) -> String {
        format!(
            "http://{}/services/T0000/B0000/XXXXXXXXXXXXXXXXXXXXXXXX",
            self.addr
        )
    }

    /// A generic webhook URL on this fake.
    pub fn webhook_url(&self) -> String {
        format!("http://{}/hooks/signalbox", self.addr)
    }

    /// The next `n` requests get `failure` instead of their answer.
    pub fn fail_next(&self, n: usize, failure: Failure) {
        self.lock().failures.extend(std::iter::repeat_n(failure, n));
    }

    /// Every request received, failed and interrupted ones included.
    pub fn requests(&self) -> Vec<Delivery> {
        self.lock().requests.clone()
    }

    /// Requests answered 200 `ok`.
    pub fn delivered(&self) -> Vec<Delivery> {
        self.lock().delivered.clone()
    }

    /// Accepted deliveries, one per `Idempotency-Key` (the first; requests without the header
    /// count each): what a receiver that dedupes acts on.
    pub fn unique_deliveries(&self) -> Vec<Delivery> {
        let mut seen = HashSet::new();
        self.lock()
            .delivered
            .iter()
            .filter(|d| match d.header("idempotency-key") {
                Some(key) => seen.insert(key.to_string()),
                None => true,
            })
            .cloned()
            .collect()
    }

    fn lock(&self) -> MutexGuard<'_, Fake> {
        lock(&self.shared)
    }
}

impl Drop for FakeSlack {
    fn drop(&mut self) {
        self.server.abort();
    }
}

fn lock(shared: &Mutex<Fake>) -> MutexGuard<'_, Fake> {
    shared.lock().unwrap_or_else(PoisonError::into_inner)
}

fn text(status: StatusCode, body: &'static str) -> Response {
    (status, [("content-type", "text/plain")], body).into_response()
}

/// Slack's checks of a message (the subset the spec names).
fn slack_check(body: &[u8]) -> Result<(), &'static str> {
    let Ok(Value::Object(message)) = serde_json::from_slice::<Value>(body) else {
        return Err("invalid_payload");
    };
    if !message.contains_key("text") && !message.contains_key("blocks") {
        return Err("no_text");
    }
    let chars = |v: &Value| v.as_str().map_or(0, |s| s.chars().count());
    if let Some(blocks) = message.get("blocks") {
        let blocks = blocks.as_array().ok_or("invalid_blocks")?;
        if blocks.len() > 50 {
            return Err("invalid_blocks");
        }
        for block in blocks {
            let too_long = match block["type"].as_str() {
                Some("header") => chars(&block["text"]["text"]) > 150,
                Some("section") => {
                    chars(&block["text"]["text"]) > 3000
                        || block["fields"].as_array().is_some_and(|f| {
                            f.len() > 10 || f.iter().any(|f| chars(&f["text"]) > 2000)
                        })
                }
                Some(_) => false,
                None => true,
            };
            if too_long {
                return Err("invalid_blocks");
            }
        }
    }
    Ok(())
}

async fn receive(
    State(shared): State<Arc<Mutex<Fake>>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let delivery = Delivery {
        path: uri.path().to_string(),
        headers: headers
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_ascii_lowercase(),
                    String::from_utf8_lossy(v.as_bytes()).to_string(),
                )
            })
            .collect(),
        body: String::from_utf8_lossy(&body).to_string(),
        at: Instant::now(),
        status: 0,
    };
    let (index, failure) = {
        let mut fake = lock(&shared);
        fake.requests.push(delivery.clone());
        (fake.requests.len() - 1, fake.failures.pop_front())
    };
    let set_status = |status: StatusCode| {
        if let Some(d) = lock(&shared).requests.get_mut(index) {
            d.status = status.as_u16();
        }
    };
    match failure {
        Some(Failure::RateLimited { retry_after_secs }) => {
            set_status(StatusCode::TOO_MANY_REQUESTS);
            return (
                StatusCode::TOO_MANY_REQUESTS,
                [("retry-after", retry_after_secs.to_string())],
                "rate_limited",
            )
                .into_response();
        }
        Some(Failure::ServerError) => {
            set_status(StatusCode::INTERNAL_SERVER_ERROR);
            return text(StatusCode::INTERNAL_SERVER_ERROR, "rollup_error");
        }
        Some(Failure::InvalidPayload) => {
            set_status(StatusCode::BAD_REQUEST);
            return text(StatusCode::BAD_REQUEST, "invalid_payload");
        }
        Some(Failure::NoService) => {
            set_status(StatusCode::NOT_FOUND);
            return text(StatusCode::NOT_FOUND, "no_service");
        }
        // The handler is dropped if the client goes away meanwhile: nothing is delivered.
        Some(Failure::Slow(delay)) => tokio::time::sleep(delay).await,
        None => {}
    }
    if delivery.path.starts_with("/services/") {
        if let Err(code) = slack_check(&body) {
            set_status(StatusCode::BAD_REQUEST);
            return text(StatusCode::BAD_REQUEST, code);
        }
    }
    set_status(StatusCode::OK);
    let mut fake = lock(&shared);
    let mut delivered = delivery;
    delivered.status = 200;
    fake.delivered.push(delivered);
    text(StatusCode::OK, "ok")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn answers_like_slack_and_scripts_failures() {
        let fake = FakeSlack::start().await.expect("starts");
        let client = reqwest::Client::new();
        let post = |url: String, body: &'static str, key: &'static str| {
            let client = client.clone();
            async move {
                let r = client
                    .post(url)
                    .header("Idempotency-Key", key)
                    .body(body)
                    .send()
                    .await
                    .expect("sent");
                let status = r.status().as_u16();
                let retry = r
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string);
                (status, retry, r.text().await.expect("text"))
            }
        };
        assert_eq!(
            post(fake.slack_url(), r#"{"text":"hi"}"#, "a").await,
            (200, None, "ok".into())
        );
        assert_eq!(
            post(fake.slack_url(), "not json", "b").await.2,
            "invalid_payload"
        );
        assert_eq!(post(fake.slack_url(), "{}", "b").await.2, "no_text");
        fake.fail_next(
            1,
            Failure::RateLimited {
                retry_after_secs: 3,
            },
        );
        fake.fail_next(1, Failure::NoService);
        assert_eq!(
            post(fake.slack_url(), r#"{"text":"hi"}"#, "c").await,
            (429, Some("3".into()), "rate_limited".into())
        );
        assert_eq!(post(fake.slack_url(), r#"{"text":"hi"}"#, "c").await.0, 404);
        // The generic receiver takes any body; the same key twice is one unique delivery.
        assert_eq!(post(fake.webhook_url(), "anything", "a").await.0, 200);
        assert_eq!(fake.requests().len(), 6);
        assert_eq!(fake.delivered().len(), 2);
        assert_eq!(fake.unique_deliveries().len(), 1);
        assert_eq!(fake.requests()[3].status, 429);
    }
}
