//! Fake Grafana Loki (query_range); see `../shared/specs/loki.md`.
//!
//! Serves `GET /loki/api/v1/query_range` and `GET /ready` like Loki 3 does: `start` inclusive,
//! `end` exclusive (ns integers, float seconds or RFC 3339), `direction`, `limit` across all
//! streams (default 100, above `max_entries_limit_per_query` a 400), entries sorted within each
//! stream but streams in no particular order, text/plain errors. It understands the LogQL subset
//! in [`logql`]. Unlike an ingester, it keeps identical entries pushed twice to one stream, so
//! clients are tested against the worst case.
//!
//! Tests drive it through a [`FakeLoki`] handle: push entries, script failures, read the truth.

mod generate;
pub mod logql;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use base64::Engine;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

pub use generate::run;
use logql::LogQuery;

/// Loki's default `max_entries_limit_per_query`.
pub const DEFAULT_MAX_ENTRIES_LIMIT: usize = 5000;

/// How the fake behaves.
#[derive(Debug, Clone)]
pub struct FakeLokiOptions {
    /// `auth_enabled: true`: requests without `X-Scope-OrgID` get 401 `no org id`.
    pub multi_tenant: bool,
    /// What an authenticating proxy in front of Loki would demand.
    pub auth: FakeAuth,
    /// Largest `limit` a query may ask for; larger gets a 400.
    pub max_entries_limit_per_query: usize,
}

impl Default for FakeLokiOptions {
    /// Single-tenant, no auth, Loki's default limit.
    fn default() -> Self {
        FakeLokiOptions {
            multi_tenant: false,
            auth: FakeAuth::None,
            max_entries_limit_per_query: DEFAULT_MAX_ENTRIES_LIMIT,
        }
    }
}

/// Credentials the fake demands (as a proxy or Grafana Cloud would); anything else is a 401.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FakeAuth {
    None,
    Basic { username: String, password: String },
    Bearer(String),
}

/// A scripted answer to one query request, in place of the real one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// 429 `too many outstanding requests`.
    TooManyRequests,
    /// 500 with an internal error text.
    Internal,
    /// 504 with Loki's query timeout text.
    Timeout,
    /// The real answer, after this delay.
    Slow(Duration),
}

/// One stored log entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub labels: BTreeMap<String, String>,
    pub ts_ns: i128,
    pub line: String,
}

/// One query_range request as it arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedQuery {
    /// The query parameters.
    pub params: BTreeMap<String, String>,
    /// The `X-Scope-OrgID` header.
    pub org_id: Option<String>,
}

/// A running fake Loki; it stops when dropped.
pub struct FakeLoki {
    addr: SocketAddr,
    shared: Arc<Mutex<Fake>>,
    server: JoinHandle<()>,
}

impl FakeLoki {
    /// Starts a fake on a free loopback port.
    pub async fn start(options: FakeLokiOptions) -> std::io::Result<FakeLoki> {
        FakeLoki::start_on(SocketAddr::from(([127, 0, 0, 1], 0)), options).await
    }

    /// Starts a fake on `addr`.
    pub async fn start_on(addr: SocketAddr, options: FakeLokiOptions) -> std::io::Result<FakeLoki> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Mutex::new(Fake::new(options)));
        let app = Router::new()
            .route("/ready", get(|| async { "ready\n" }))
            .route("/loki/api/v1/query_range", get(query_range))
            .with_state(shared.clone());
        let server = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::error!(error = %e, "fake Loki stopped");
            }
        });
        Ok(FakeLoki {
            addr,
            shared,
            server,
        })
    }

    /// Base URL, e.g. `http://127.0.0.1:41234`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Adds an entry to the stream with these labels, kept sorted by timestamp (after the
    /// entries already there with the same timestamp).
    pub fn push(&self, labels: &[(&str, &str)], ts_ns: i128, line: &str) {
        let labels = labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        self.lock().push(labels, ts_ns, line);
    }

    /// The next `n` query requests get `failure` instead of their answer.
    pub fn fail_next(&self, n: usize, failure: Failure) {
        self.lock().failures.extend(std::iter::repeat_n(failure, n));
    }

    /// Query requests received, failed ones included.
    pub fn requests(&self) -> usize {
        self.lock().queries.len()
    }

    /// Every query request received, oldest first.
    pub fn queries(&self) -> Vec<RecordedQuery> {
        self.lock().queries.clone()
    }

    /// Every stored entry in forward order: by timestamp, then stream, then push order.
    pub fn entries(&self) -> Vec<Entry> {
        let fake = self.lock();
        let mut all: Vec<(i128, usize, usize, Entry)> = fake
            .streams
            .iter()
            .enumerate()
            .flat_map(|(s, (labels, values))| {
                values.iter().enumerate().map(move |(p, (ts, line))| {
                    let entry = Entry {
                        labels: labels.clone(),
                        ts_ns: *ts,
                        line: line.clone(),
                    };
                    (*ts, s, p, entry)
                })
            })
            .collect();
        all.sort_by_key(|(ts, s, p, _)| (*ts, *s, *p));
        all.into_iter().map(|(_, _, _, e)| e).collect()
    }

    fn lock(&self) -> MutexGuard<'_, Fake> {
        self.shared.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Drop for FakeLoki {
    fn drop(&mut self) {
        self.server.abort();
    }
}

type Labels = BTreeMap<String, String>;

/// The fake's state: streams, scripted failures, the requests it saw.
struct Fake {
    options: FakeLokiOptions,
    /// Each stream's entries, sorted by timestamp, ties in push order.
    streams: BTreeMap<Labels, Vec<(i128, String)>>,
    failures: VecDeque<Failure>,
    queries: Vec<RecordedQuery>,
}

/// A validated query_range request.
#[derive(Debug)]
struct RangeRequest {
    query: LogQuery,
    start: i128,
    end: i128,
    limit: usize,
    forward: bool,
}

impl Fake {
    fn new(options: FakeLokiOptions) -> Fake {
        Fake {
            options,
            streams: BTreeMap::new(),
            failures: VecDeque::new(),
            queries: Vec::new(),
        }
    }

    fn push(&mut self, labels: Labels, ts: i128, line: &str) {
        let values = self.streams.entry(labels).or_default();
        let at = values.partition_point(|(t, _)| *t <= ts);
        values.insert(at, (ts, line.to_string()));
    }

    /// The streams answering `request`: the first `limit` entries across all selected streams
    /// in the request's direction, grouped back by stream.
    fn select(&self, request: &RangeRequest) -> Vec<(&Labels, Vec<&(i128, String)>)> {
        let streams: Vec<(&Labels, &Vec<(i128, String)>)> = self
            .streams
            .iter()
            .filter(|(labels, _)| request.query.selects(labels))
            .collect();
        // (timestamp, stream, position): the order Loki's merge iterator yields them.
        let mut hits: Vec<(i128, usize, usize)> = Vec::new();
        for (s, (_, values)) in streams.iter().enumerate() {
            for (p, (ts, line)) in values.iter().enumerate() {
                if (request.start..request.end).contains(ts) && request.query.keeps(line) {
                    hits.push((*ts, s, p));
                }
            }
        }
        if request.forward {
            hits.sort_unstable();
        } else {
            hits.sort_unstable_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)).then(b.2.cmp(&a.2)));
        }
        hits.truncate(request.limit);
        let mut grouped: BTreeMap<usize, Vec<&(i128, String)>> = BTreeMap::new();
        for (_, s, p) in hits {
            grouped.entry(s).or_default().push(&streams[s].1[p]);
        }
        // Loki gives no order across streams: the last stream first, so clients must merge.
        grouped
            .into_iter()
            .rev()
            .map(|(s, values)| (streams[s].0, values))
            .collect()
    }
}

/// `GET /loki/api/v1/query_range`.
async fn query_range(
    State(shared): State<Arc<Mutex<Fake>>>,
    headers: HeaderMap,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let org_id = header_text(&headers, "x-scope-orgid");
    let (failure, options) = {
        let mut fake = shared.lock().unwrap_or_else(PoisonError::into_inner);
        fake.queries.push(RecordedQuery {
            params: params.clone().into_iter().collect(),
            org_id: org_id.clone(),
        });
        (fake.failures.pop_front(), fake.options.clone())
    };
    if let Some(Failure::Slow(delay)) = failure {
        tokio::time::sleep(delay).await;
    }
    if let Some(response) = failure.and_then(failure_response) {
        return response;
    }
    if !authorized(&options.auth, &headers) {
        return text(StatusCode::UNAUTHORIZED, "Unauthorized");
    }
    if options.multi_tenant && org_id.is_none() {
        return text(StatusCode::UNAUTHORIZED, "no org id");
    }
    let request = match parse_request(&params, Utc::now(), options.max_entries_limit_per_query) {
        Ok(request) => request,
        Err(message) => return text(StatusCode::BAD_REQUEST, &message),
    };
    let fake = shared.lock().unwrap_or_else(PoisonError::into_inner);
    let streams = fake.select(&request);
    Json(streams_body(&streams)).into_response()
}

fn header_text(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .filter(|v| !v.is_empty())
}

fn authorized(auth: &FakeAuth, headers: &HeaderMap) -> bool {
    let expected = match auth {
        FakeAuth::None => return true,
        FakeAuth::Basic { username, password } => {
            let pair = format!("{username}:{password}");
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(pair)
            )
        }
        FakeAuth::Bearer(token) => format!("Bearer {token}"),
    };
    header_text(headers, header::AUTHORIZATION.as_str()).as_deref() == Some(expected.as_str())
}

/// The answer a failure stands in for the real one with (None: the real one, late).
fn failure_response(failure: Failure) -> Option<Response> {
    let (status, message) = match failure {
        Failure::TooManyRequests => (
            StatusCode::TOO_MANY_REQUESTS,
            "too many outstanding requests",
        ),
        Failure::Internal => (
            StatusCode::INTERNAL_SERVER_ERROR,
            "rpc error: code = Internal desc = failed to fetch chunks",
        ),
        Failure::Timeout => (
            StatusCode::GATEWAY_TIMEOUT,
            "request timed out, decrease the duration of the request or add more label matchers \
             (prefer exact match over regex match) to reduce the amount of data processed",
        ),
        Failure::Slow(_) => return None,
    };
    Some(text(status, message))
}

/// An error as Loki writes it: text/plain, one line.
fn text(status: StatusCode, message: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        format!("{message}\n"),
    )
        .into_response()
}

/// Reads and validates the parameters; the error is the 400 body.
fn parse_request(
    params: &HashMap<String, String>,
    now: DateTime<Utc>,
    max_entries: usize,
) -> Result<RangeRequest, String> {
    let now_ns = i128::from(now.timestamp_nanos_opt().unwrap_or(i64::MAX));
    let query = LogQuery::parse(params.get("query").map_or("", String::as_str))?;
    let end = match params.get("end") {
        Some(value) => parse_timestamp(value)?,
        None => now_ns,
    };
    let start = match params.get("start") {
        Some(value) => parse_timestamp(value)?,
        None => end - 3_600_000_000_000,
    };
    if end < start {
        return Err("end timestamp must not be before or equal to start time".to_string());
    }
    let limit = match params.get("limit") {
        None => 100,
        Some(value) => value
            .parse::<usize>()
            .map_err(|_| format!("invalid limit: cannot parse \"{value}\" to a valid integer"))?,
    };
    if limit == 0 {
        return Err("limit must be a positive value".to_string());
    }
    if max_entries > 0 && limit > max_entries {
        return Err(format!(
            "max entries limit per query exceeded, limit > max_entries_limit_per_query ({limit} > {max_entries})"
        ));
    }
    let forward = match params.get("direction").map(String::as_str) {
        None | Some("backward" | "BACKWARD") => false,
        Some("forward" | "FORWARD") => true,
        Some(other) => return Err(format!("invalid direction '{other}'")),
    };
    Ok(RangeRequest {
        query,
        start,
        end,
        limit,
        forward,
    })
}

/// A query timestamp: integer ns, float seconds, or RFC 3339 (nano).
fn parse_timestamp(value: &str) -> Result<i128, String> {
    let invalid = || format!("cannot parse \"{value}\" to a valid timestamp");
    if value.contains('.') {
        if let Ok(seconds) = value.parse::<f64>() {
            // Loki rounds the fraction to milliseconds.
            let whole = seconds.trunc();
            let millis = ((seconds - whole) * 1000.0).round();
            return Ok(whole as i128 * 1_000_000_000 + millis as i128 * 1_000_000);
        }
    }
    if let Ok(ns) = value.parse::<i128>() {
        return Ok(ns);
    }
    DateTime::parse_from_rfc3339(value)
        .ok()
        .and_then(|t| t.timestamp_nanos_opt())
        .map(i128::from)
        .ok_or_else(invalid)
}

/// The JSON body of a log query answer.
fn streams_body(streams: &[(&Labels, Vec<&(i128, String)>)]) -> Value {
    let lines: usize = streams.iter().map(|(_, v)| v.len()).sum();
    let result: Vec<Value> = streams
        .iter()
        .map(|(labels, values)| {
            let values: Vec<Value> = values
                .iter()
                .map(|(ts, line)| json!([ts.to_string(), line]))
                .collect();
            json!({"stream": labels, "values": values})
        })
        .collect();
    json!({
        "status": "success",
        "data": {
            "resultType": "streams",
            "result": result,
            "stats": {"summary": {"execTime": 0.001, "totalLinesProcessed": lines}, "ingester": {}, "store": {}}
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: i128 = 1_000_000_000;

    fn fake() -> Fake {
        let mut fake = Fake::new(FakeLokiOptions::default());
        let api = |level: &str| {
            [("service_name", "api"), ("level", level)]
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<Labels>()
        };
        // Pushed out of order on purpose: the fake sorts each stream.
        fake.push(api("info"), 30 * S, "c");
        fake.push(api("info"), 10 * S, "a");
        fake.push(api("error"), 20 * S, "b");
        fake.push(api("error"), 30 * S, "c2");
        fake.push(api("info"), 30 * S, "c3");
        fake.push(api("info"), 40 * S, "d");
        fake
    }

    fn request(params: &[(&str, &str)]) -> Result<RangeRequest, String> {
        let params = params
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        parse_request(&params, DateTime::UNIX_EPOCH, DEFAULT_MAX_ENTRIES_LIMIT)
    }

    /// The lines answered, stream by stream.
    fn lines(params: &[(&str, &str)]) -> Vec<Vec<String>> {
        let fake = fake();
        let request = request(params).expect("valid request");
        fake.select(&request)
            .into_iter()
            .map(|(_, values)| values.into_iter().map(|(_, l)| l.clone()).collect())
            .collect()
    }

    #[test]
    fn range_direction_and_limit() {
        let q = ("query", r#"{service_name="api"}"#);
        for (name, params, expected) in [
            (
                "start inclusive, end exclusive",
                vec![
                    q,
                    ("start", "10000000000"),
                    ("end", "30000000000"),
                    ("direction", "forward"),
                ],
                vec![vec!["a"], vec!["b"]],
            ),
            (
                "limit across streams, forward keeps the oldest",
                vec![
                    q,
                    ("start", "0"),
                    ("end", "50000000000"),
                    ("direction", "forward"),
                    ("limit", "3"),
                ],
                vec![vec!["a"], vec!["b", "c2"]],
            ),
            (
                "backward keeps the newest, newest first",
                vec![q, ("start", "0"), ("end", "50000000000"), ("limit", "3")],
                vec![vec!["d", "c3"], vec!["c2"]],
            ),
            (
                "RFC 3339 and float seconds",
                vec![
                    q,
                    ("start", "1970-01-01T00:00:20Z"),
                    ("end", "30.0"),
                    ("direction", "forward"),
                ],
                vec![vec!["b"]],
            ),
            (
                "line filter",
                vec![
                    (
                        "query",
                        r#"{service_name="api", level=~"info|error"} |= "c""#,
                    ),
                    ("start", "0"),
                    ("end", "50000000000"),
                    ("direction", "forward"),
                ],
                vec![vec!["c", "c3"], vec!["c2"]],
            ),
        ] {
            assert_eq!(lines(&params), expected, "{name}");
        }
    }

    #[test]
    fn bad_requests_get_lokis_messages() {
        let q = ("query", r#"{job="x"}"#);
        for (params, message) in [
            (
                vec![q, ("limit", "5001")],
                "max entries limit per query exceeded, limit > max_entries_limit_per_query (5001 > 5000)",
            ),
            (vec![q, ("limit", "0")], "limit must be a positive value"),
            (vec![q, ("start", "yesterday")], "cannot parse \"yesterday\" to a valid timestamp"),
            (
                vec![q, ("start", "20"), ("end", "10")],
                "end timestamp must not be before or equal to start time",
            ),
            (vec![("query", "{job=}")], "parse error at line 1, col 6: syntax error: unexpected }"),
        ] {
            assert_eq!(request(&params).expect_err(message), message);
        }
    }

    #[test]
    fn timestamps() {
        for (text, ns) in [
            ("1764238862123456789", 1_764_238_862_123_456_789),
            ("1764238862.5", 1_764_238_862_500_000_000),
            ("2025-11-27T10:21:02.123456789Z", 1_764_238_862_123_456_789),
            ("2025-11-27T11:21:02+01:00", 1_764_238_862_000_000_000),
        ] {
            assert_eq!(parse_timestamp(text), Ok(ns), "{text}");
        }
    }
}
