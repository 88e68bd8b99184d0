//! Fake Railway public API (GraphQL over HTTP and graphql-transport-ws); see
//! `../shared/specs/railway.md`, the wire notes it implements.
//!
//! [`FakeRailway::start`] serves one project with one environment (`production`) on a loopback
//! port; the test adds services, deployments and log lines, scripts failures, and reads back what
//! happened. What it does like Railway:
//!
//! - `POST /graphql/v2` with `{query, variables, operationName}`, validated against the part of
//!   Railway's real schema it serves (`railway/schema.graphql`): unknown fields or arguments,
//!   wrong variable types, `status: {successfulOnly: true}` … fail with HTTP 400 and
//!   `GRAPHQL_PARSE_FAILED` / `GRAPHQL_VALIDATION_FAILED` / `BAD_USER_INPUT`. Arguments are read
//!   from the variables the query declares, whatever their names. Answers hold what the query
//!   selected, under its aliases.
//! - Root fields: `deploymentLogs`, `environmentLogs`, `deployment`, `deployments`, `project`,
//!   `serviceInstance`, `projectToken`, `me`; subscription `deploymentLogs`.
//! - Auth: account tokens as `Authorization: Bearer`, project tokens as `Project-Access-Token`;
//!   a bad token is an HTTP **200** with `data: null` and `errors[]` (`Not Authorized`,
//!   `Project Token not found`), never a 401.
//! - Rate limit: `X-RateLimit-Limit/-Remaining/-Reset` on every answer, then 429 with
//!   `Retry-After` and `{"data":null}`.
//! - `deploymentLogs` paging: oldest first, `startDate` inclusive, `endDate` exclusive, the newest
//!   `limit + 1` lines of a window that holds more than `limit` (the off-by-one the CLI works
//!   around), tied timestamps kept in arrival order.
//! - WebSocket on the same path, subprotocol `graphql-transport-ws`, auth from the upgrade
//!   request's headers, the protocol's close codes (4400, 4401, 4406, 4408, 4409, 4429).
//! - Scripted failures ([`Failure`]): a status, a 429, a Cloudflare HTML page, GraphQL errors on
//!   a 200, a slow answer, a connection reset; [`FakeRailway::drop_subscriptions`] cuts every
//!   WebSocket without a close frame.

mod cli;
mod graphql;
mod http;
mod logs;
mod resolve;
mod schema;
pub mod traffic;
mod ws;

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio_util::sync::CancellationToken;

pub use cli::{run, Args};

use logs::StoredLine;
use traffic::Rng;

/// How the fake expects its token.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TokenKind {
    /// Account / workspace / OAuth token, sent as `Authorization: Bearer <token>`.
    #[default]
    Account,
    /// Project token (one environment of one project), sent as `Project-Access-Token: <token>`.
    Project,
}

/// How to start a [`FakeRailway`].
#[derive(Clone, Debug)]
pub struct Options {
    /// The one token the fake accepts.
    pub token: String,
    /// Which header the token goes in, and what it may see.
    pub token_kind: TokenKind,
    /// Requests per hour before answering 429 (`None`: no limit and no `X-RateLimit-*` headers).
    /// Fixed one-hour windows (from the start, then from the first request after one ends);
    /// `X-RateLimit-Reset` is the window's end in Unix seconds. Only HTTP `POST`s count
    /// (WebSocket upgrades don't).
    pub rate_limit_per_hour: Option<u32>,
    /// Largest `limit` a log query accepts (`None`: any); above it, HTTP 400 `BAD_USER_INPUT`.
    pub max_limit: Option<usize>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            token: "test-token".into(),
            token_kind: TokenKind::Account,
            rate_limit_per_hour: None,
            max_limit: None,
        }
    }
}

/// A log line as Railway stores it.
#[derive(Clone, Debug, PartialEq)]
pub struct LogLine {
    pub timestamp: DateTime<Utc>,
    pub message: String,
    /// `None` is sent as `"severity": null`.
    pub severity: Option<String>,
    /// Values as the application logged them; see `logs::log_json` for their wire shape.
    pub attributes: Vec<(String, String)>,
    /// The replica (`tags.deploymentInstanceId`).
    pub instance_id: String,
}

/// How a scripted HTTP request fails ([`FakeRailway::fail_next`]).
#[derive(Clone, Debug, PartialEq)]
pub enum Failure {
    /// This HTTP status with a plain-text reason as the body.
    Status(u16),
    /// HTTP 429, `Retry-After: <secs>`, body `{"data":null}`.
    RateLimited { retry_after_secs: u64 },
    /// HTTP 403 with Cloudflare's HTML "Access denied" page.
    Html,
    /// HTTP 200, `data: null`, one error with this message (`INTERNAL_SERVER_ERROR`).
    GraphqlErrors(String),
    /// Wait this long, then answer normally.
    Slow(Duration),
    /// Close the TCP connection (with a reset) without answering.
    Reset,
}

/// A handle on a running fake Railway; clones share it. The server stops when the last handle
/// is dropped.
#[derive(Clone)]
pub struct FakeRailway {
    shared: Arc<Shared>,
    _stop: Arc<StopOnDrop>,
}

impl std::fmt::Debug for FakeRailway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeRailway")
            .field("url", &self.url())
            .field("project_id", &self.shared.project.id)
            .field("environment_id", &self.shared.project.environment_id)
            .finish_non_exhaustive()
    }
}

struct StopOnDrop(CancellationToken);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.cancel();
    }
}

/// What the server tasks share with the handle.
pub(crate) struct Shared {
    pub options: Options,
    pub addr: SocketAddr,
    pub project: ProjectInfo,
    pub state: Mutex<State>,
    pub http_requests: AtomicUsize,
    pub ws_connections: AtomicUsize,
    pub shutdown: CancellationToken,
}

/// The one project and environment the fake serves.
pub(crate) struct ProjectInfo {
    pub id: String,
    pub name: String,
    pub environment_id: String,
    pub environment_name: String,
    pub created_at: DateTime<Utc>,
    pub user_id: String,
    pub token_id: String,
}

pub(crate) struct ServiceRec {
    pub id: String,
    pub name: String,
    pub created_at: DateTime<Utc>,
}

pub(crate) struct DeploymentRec {
    pub id: String,
    pub service_id: String,
    pub status: String,
    pub created_at: DateTime<Utc>,
    pub status_updated_at: DateTime<Utc>,
    /// Where the deployment is served, when a test points it at a local app.
    pub url: Option<String>,
    /// The commit deployed (a deploy from a repository), as `meta.commitHash` says.
    pub commit_hash: Option<String>,
}

/// A live `deploymentLogs` subscription.
pub(crate) struct Subscription {
    pub connection: u64,
    pub id: String,
    pub deployment_id: String,
    pub filter: logs::Filter,
    pub field: schema::RootField,
    pub tx: tokio::sync::mpsc::UnboundedSender<String>,
}

/// The hourly request window.
pub(crate) struct RateWindow {
    pub started: DateTime<Utc>,
    pub used: u32,
}

/// Mutable state, behind one mutex (never held across an await).
pub(crate) struct State {
    pub services: Vec<ServiceRec>,
    pub deployments: Vec<DeploymentRec>,
    pub logs: HashMap<String, Vec<StoredLine>>,
    /// Per line (`seq`): its JSON text in a `deploymentLogs` answer, and the selection (a hash
    /// of it) that text was shaped to.
    pub rendered: HashMap<u64, (u64, String)>,
    pub next_seq: u64,
    pub failures: VecDeque<Failure>,
    pub rate: RateWindow,
    pub subscriptions: Vec<Subscription>,
    pub connections: HashMap<u64, CancellationToken>,
    pub next_connection: u64,
    pub rng: Rng,
    pub last_created: DateTime<Utc>,
    pub ws_init_timeout: Duration,
}

impl State {
    /// A fresh UUID-looking id.
    pub fn new_id(&mut self) -> String {
        self.rng.uuid()
    }

    /// `now`, strictly after the previous creation time (so `createdAt` orders creations).
    fn creation_time(&mut self) -> DateTime<Utc> {
        let now = Utc::now().max(self.last_created + chrono::Duration::milliseconds(1));
        self.last_created = now;
        now
    }
}

impl Shared {
    /// The state; a panic elsewhere while holding the lock doesn't make the fake unusable.
    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// graphql-transport-ws: how long a client has to send `connection_init` (graphql-ws default).
pub(crate) const DEFAULT_WS_INIT_TIMEOUT: Duration = Duration::from_secs(3);

impl FakeRailway {
    /// Starts the fake on `127.0.0.1` on a free port.
    ///
    /// # Panics
    /// If no loopback port can be bound (a broken test environment, not a request).
    pub async fn start(options: Options) -> FakeRailway {
        Self::start_on(options, 0)
            .await
            .unwrap_or_else(|e| panic!("fake Railway: cannot bind 127.0.0.1: {e}"))
    }

    /// Starts the fake on `127.0.0.1:port` (0: any free port).
    pub async fn start_on(options: Options, port: u16) -> std::io::Result<FakeRailway> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
        let addr = listener.local_addr()?;
        let mut rng = Rng::from_entropy();
        let now = Utc::now();
        let project = ProjectInfo {
            id: rng.uuid(),
            name: "signalbox-fake".into(),
            environment_id: rng.uuid(),
            environment_name: "production".into(),
            created_at: now,
            user_id: rng.uuid(),
            token_id: rng.uuid(),
        };
        let shutdown = CancellationToken::new();
        let shared = Arc::new(Shared {
            options,
            addr,
            project,
            state: Mutex::new(State {
                services: Vec::new(),
                deployments: Vec::new(),
                logs: HashMap::new(),
                rendered: HashMap::new(),
                next_seq: 0,
                failures: VecDeque::new(),
                rate: RateWindow {
                    started: now,
                    used: 0,
                },
                subscriptions: Vec::new(),
                connections: HashMap::new(),
                next_connection: 0,
                rng,
                last_created: now,
                ws_init_timeout: DEFAULT_WS_INIT_TIMEOUT,
            }),
            http_requests: AtomicUsize::new(0),
            ws_connections: AtomicUsize::new(0),
            shutdown: shutdown.clone(),
        });
        http::serve(listener, shared.clone());
        Ok(FakeRailway {
            shared,
            _stop: Arc::new(StopOnDrop(shutdown)),
        })
    }

    /// `http://127.0.0.1:PORT/graphql/v2`.
    pub fn url(&self) -> String {
        format!("http://{}/graphql/v2", self.shared.addr)
    }

    /// `ws://127.0.0.1:PORT/graphql/v2`.
    pub fn ws_url(&self) -> String {
        format!("ws://{}/graphql/v2", self.shared.addr)
    }

    /// The token the fake accepts.
    pub fn token(&self) -> String {
        self.shared.options.token.clone()
    }

    /// The project's id.
    pub fn project_id(&self) -> String {
        self.shared.project.id.clone()
    }

    /// The environment's (`production`) id.
    pub fn environment_id(&self) -> String {
        self.shared.project.environment_id.clone()
    }

    /// Adds a service to the project; returns its id.
    pub fn add_service(&self, name: &str) -> String {
        let mut st = self.shared.lock();
        let id = st.new_id();
        let created_at = st.creation_time();
        st.services.push(ServiceRec {
            id: id.clone(),
            name: name.to_string(),
            created_at,
        });
        id
    }

    /// Adds a deployment of a service, created now, with a `DeploymentStatus` (`SUCCESS`,
    /// `CRASHED`, …); returns its id.
    pub fn add_deployment(&self, service_id: &str, status: &str) -> String {
        let created_at = self.shared.lock().creation_time();
        self.add_deployment_created(service_id, status, created_at)
    }

    /// Adds a deployment created at `created_at` (in the past, for a backlog of its logs).
    pub fn add_deployment_created(
        &self,
        service_id: &str,
        status: &str,
        created_at: DateTime<Utc>,
    ) -> String {
        let mut st = self.shared.lock();
        let id = st.new_id();
        st.deployments.push(DeploymentRec {
            id: id.clone(),
            service_id: service_id.to_string(),
            status: status.to_string(),
            created_at,
            status_updated_at: created_at,
            url: None,
            commit_hash: None,
        });
        id
    }

    /// Serves a deployment at `url` (`http://127.0.0.1:PORT`, a local app): its `url` and
    /// `staticUrl` (the host and port) say so.
    pub fn set_deployment_url(&self, deployment_id: &str, url: &str) {
        let mut st = self.shared.lock();
        if let Some(d) = st.deployments.iter_mut().find(|d| d.id == deployment_id) {
            d.url = Some(url.to_string());
        }
    }

    /// Makes a deployment one from a repository at `commit_hash` (its `meta` says so, as
    /// Railway's does for GitHub-triggered deploys).
    pub fn set_deployment_commit(&self, deployment_id: &str, commit_hash: &str) {
        let mut st = self.shared.lock();
        if let Some(d) = st.deployments.iter_mut().find(|d| d.id == deployment_id) {
            d.commit_hash = Some(commit_hash.to_string());
        }
    }

    /// Changes a deployment's status.
    pub fn set_deployment_status(&self, deployment_id: &str, status: &str) {
        let mut st = self.shared.lock();
        if let Some(d) = st.deployments.iter_mut().find(|d| d.id == deployment_id) {
            d.status = status.to_string();
            d.status_updated_at = Utc::now();
        }
    }

    /// Stores lines of a deployment (kept sorted by timestamp, arrival order among ties) and
    /// sends the matching ones to its live subscriptions, in the order given, one `next` frame
    /// per subscription per call.
    pub fn push_logs(&self, deployment_id: &str, lines: Vec<LogLine>) {
        let mut st = self.shared.lock();
        let first_seq = st.next_seq;
        st.next_seq += lines.len() as u64;
        let stored: Vec<StoredLine> = lines
            .into_iter()
            .enumerate()
            .map(|(i, line)| StoredLine {
                line,
                seq: first_seq + i as u64,
            })
            .collect();
        let tags = resolve::tags_of(&self.shared, &st, deployment_id);
        for sub in st
            .subscriptions
            .iter()
            .filter(|s| s.deployment_id == deployment_id)
        {
            let matching: Vec<&StoredLine> = stored
                .iter()
                .filter(|l| sub.filter.matches(&l.line, &tags))
                .collect();
            if !matching.is_empty() {
                let _ = sub
                    .tx
                    .send(ws::next_frame(sub, matching.into_iter(), &tags));
            }
        }
        let store = st.logs.entry(deployment_id.to_string()).or_default();
        for line in stored {
            logs::insert_sorted(store, line);
        }
    }

    /// All stored lines of a deployment, oldest first (the truth to compare a client with).
    pub fn logs(&self, deployment_id: &str) -> Vec<LogLine> {
        let st = self.shared.lock();
        st.logs
            .get(deployment_id)
            .map(|v| v.iter().map(|l| l.line.clone()).collect())
            .unwrap_or_default()
    }

    /// Makes the next `n` HTTP requests fail that way (after any failures already queued).
    pub fn fail_next(&self, n: usize, failure: Failure) {
        let mut st = self.shared.lock();
        st.failures.extend(std::iter::repeat_n(failure, n));
    }

    /// Cuts every WebSocket connection without a close frame, like a network failure.
    pub fn drop_subscriptions(&self) {
        let mut st = self.shared.lock();
        for (_, token) in st.connections.drain() {
            token.cancel();
        }
        st.subscriptions.clear();
    }

    /// HTTP `POST`s received (failed, rate-limited and rejected ones included; not WebSocket
    /// upgrades).
    pub fn http_requests(&self) -> usize {
        self.shared.http_requests.load(Ordering::SeqCst)
    }

    /// WebSocket connections accepted since the start (reconnections count again).
    pub fn ws_connections(&self) -> usize {
        self.shared.ws_connections.load(Ordering::SeqCst)
    }

    /// WebSocket connections open now.
    pub fn open_ws_connections(&self) -> usize {
        self.shared.lock().connections.len()
    }

    /// Live subscriptions now.
    pub fn active_subscriptions(&self) -> usize {
        self.shared.lock().subscriptions.len()
    }

    /// How long a WebSocket client has to send `connection_init` before a 4408 close
    /// (default 3 s, as graphql-ws).
    pub fn set_ws_init_timeout(&self, timeout: Duration) {
        self.shared.lock().ws_init_timeout = timeout;
    }

    /// Starts a fresh rate-limit window (all requests of the hour available again).
    pub fn reset_rate_limit(&self) {
        let mut st = self.shared.lock();
        st.rate = RateWindow {
            started: Utc::now(),
            used: 0,
        };
    }
}

#[cfg(test)]
mod tests;
