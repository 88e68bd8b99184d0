//! The Railway source: the logs of a project's services, read with Railway's public GraphQL API
//! (`../shared/specs/railway.md`).
//!
//! Two ways in, one cursor:
//! - **poll** (every `ERROR_MONITOR_INTERVAL`, and on request): discovers the services and
//!   their current deployments, then pages through each deployment's logs from the cursor up
//!   to a few seconds ago (late lines), halving the time window whenever a page comes back
//!   full, since `deploymentLogs` has no offset;
//! - **stream**: the `deploymentLogs` subscription over WebSocket delivers lines within a
//!   second; they wait in a buffer until the monitor absorbs them against the same cursor.
//!   After every (re)connection the monitor polls once to catch up on what the stream missed.
//!
//! Both go through [`cursor::absorb`], so a line is stored once whichever way it came, and the
//! cursor is committed with the events it covers (see the monitor).

pub mod client;
pub mod cursor;
pub mod wire;
pub mod ws;

use std::collections::{BTreeSet, HashMap};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use rand::Rng;
use secrecy::SecretString;
use serde_json::json;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use self::client::{Client, RailwayError, TokenKind};
use self::cursor::{absorb, unconsumed, Cursor, DeploymentCursor, LineEvent, RawLine, Reach};
use self::wire::{Deployment, DeploymentsData, LogsData, Named, ProjectData, ProjectTokenData};
use super::{Batch, PollFuture, PollSource, SourceError, StreamWake};
use crate::model::{Event, Level};
use crate::pipeline::multiline::AssemblerConfig;
use crate::pipeline::parse::{parse_assembled, stated_level, LineContext};

/// The source's name: its cursor key and the `source` of its events.
pub const NAME: &str = "railway";
/// Largest page asked for when one instant holds more lines than a normal page.
const MAX_PAGE: usize = 10_000;
/// How often the services and deployments are looked up again.
const DISCOVERY_TTL: Duration = Duration::from_secs(60);
/// Requests one poll may make before it stores what it has (and goes on at once).
const REQUESTS_PER_POLL: usize = 40;
/// Events one poll gathers before it stores them (and goes on at once).
const EVENTS_PER_POLL: usize = 5_000;
/// Lines the stream may hold for one deployment before it gives up on them and polls instead.
const STREAM_BUFFER_CAP: usize = 50_000;
/// Deployment states whose runtime logs are followed.
const FOLLOWED_STATES: [&str; 6] = [
    "SUCCESS",
    "DEPLOYING",
    "CRASHED",
    "SLEEPING",
    "REMOVING",
    "FAILED",
];
/// Deployments followed per service: the current one and the one it replaces (overlap).
const DEPLOYMENTS_PER_SERVICE: usize = 2;

/// What the Railway source needs to know.
#[derive(Clone)]
pub struct Settings {
    /// The GraphQL endpoint (`RAILWAY_API_URL`).
    pub api_url: String,
    /// The WebSocket endpoint (`RAILWAY_WS_URL`, else derived from the API URL).
    pub ws_url: String,
    pub token: SecretString,
    /// `None`: find out (account first, then project token).
    pub token_kind: Option<TokenKind>,
    pub project_id: Option<String>,
    pub environment_id: Option<String>,
    /// Service names or ids to follow; empty = every service.
    pub services: Vec<String>,
    /// Railway log filter (`@level:error`, …) applied by Railway.
    pub filter: Option<String>,
    pub interval: Duration,
    pub stream: bool,
    /// How far back the very first poll reads.
    pub lookback: Duration,
    /// `limit` of one logs query.
    pub page_size: usize,
    /// Lines younger than this may still be on their way into Railway's log store: a poll
    /// reads up to `now - lag`.
    pub lag: Duration,
}

impl Settings {
    /// The WebSocket URL for an API URL: same host and path, `ws` / `wss` scheme.
    pub fn ws_url_for(api_url: &str) -> String {
        if let Some(rest) = api_url.strip_prefix("https://") {
            format!("wss://{rest}")
        } else if let Some(rest) = api_url.strip_prefix("http://") {
            format!("ws://{rest}")
        } else {
            api_url.to_string()
        }
    }
}

/// One deployment being followed.
#[derive(Debug, Clone)]
struct Target {
    deployment: Deployment,
    service: Named,
    environment: Option<String>,
}

/// What the status endpoint shows about the source.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Status {
    pub stream_enabled: bool,
    pub stream_connected: bool,
    pub stream_last_error: Option<String>,
    pub stream_reconnects: u64,
    pub deployments: Vec<String>,
    pub last_discovery_error: Option<String>,
    pub api_requests: u64,
    pub api_errors: u64,
    pub rate_limited: u64,
    pub truncated_windows: u64,
    /// Seconds between now and the oldest position among the followed deployments.
    pub lag_seconds: Option<f64>,
}

/// The Railway source; see the module documentation.
pub struct RailwaySource {
    settings: Settings,
    client: Client,
    assembly: AssemblerConfig,
    /// Deployments the stream follows.
    followed: watch::Sender<BTreeSet<String>>,
    /// Every deployment of the watched services at the last discovery (deploy verification).
    seen: watch::Sender<Vec<crate::deploys::Seen>>,
    targets: Mutex<Option<(Instant, Vec<Target>)>>,
    /// Per deployment: the time span the next logs query should cover (see `fetch_window`).
    spans: Mutex<HashMap<String, chrono::Duration>>,
    buffers: Mutex<HashMap<String, StreamBuffer>>,
    /// Per deployment: from when its current subscription misses nothing.
    stream_since: Mutex<HashMap<String, DateTime<Utc>>>,
    /// How the stream asks the monitor for a catch-up poll, and when it last did.
    wake: Mutex<Option<StreamWake>>,
    last_catch_up: Mutex<Option<Instant>>,
    status: Mutex<Status>,
}

impl RailwaySource {
    pub fn new(settings: Settings) -> RailwaySource {
        let client = Client::new(
            &settings.api_url,
            settings.token.clone(),
            settings.token_kind,
        );
        let status = Status {
            stream_enabled: settings.stream,
            ..Status::default()
        };
        RailwaySource {
            client,
            settings,
            assembly: AssemblerConfig::default(),
            followed: watch::Sender::new(BTreeSet::new()),
            seen: watch::Sender::new(Vec::new()),
            targets: Mutex::new(None),
            spans: Mutex::new(HashMap::new()),
            buffers: Mutex::new(HashMap::new()),
            stream_since: Mutex::new(HashMap::new()),
            wake: Mutex::new(None),
            last_catch_up: Mutex::new(None),
            status: Mutex::new(status),
        }
    }

    /// The deployments of the watched services, as of each discovery (once a minute).
    pub fn deployments(&self) -> watch::Receiver<Vec<crate::deploys::Seen>> {
        self.seen.subscribe()
    }

    /// A snapshot of the source's status.
    pub fn status(&self) -> Status {
        self.status.lock().map(|s| s.clone()).unwrap_or_default()
    }

    fn note(&self, f: impl FnOnce(&mut Status)) {
        if let Ok(mut s) = self.status.lock() {
            f(&mut s);
        }
    }

    async fn query<T: serde::de::DeserializeOwned>(
        &self,
        query: &str,
        variables: serde_json::Value,
    ) -> Result<T, RailwayError> {
        let result = self.client.query(query, variables).await;
        self.note(|s| {
            s.api_requests += 1;
            match &result {
                Err(RailwayError::RateLimited(_)) => {
                    s.api_errors += 1;
                    s.rate_limited += 1;
                }
                Err(_) => s.api_errors += 1,
                Ok(_) => {}
            }
        });
        let outcome = match &result {
            Ok(_) => "ok",
            Err(RailwayError::RateLimited(_)) => "rate_limited",
            Err(_) => "error",
        };
        metrics::counter!("signalbox_railway_requests_total", "outcome" => outcome).increment(1);
        result
    }

    /// The deployments to follow, looked up again when the last lookup is older than a minute.
    async fn targets(&self, fresh: bool) -> Result<Vec<Target>, RailwayError> {
        if !fresh {
            if let Some((at, targets)) = self.targets.lock().ok().and_then(|t| t.clone()) {
                if at.elapsed() < DISCOVERY_TTL {
                    return Ok(targets);
                }
            }
        }
        let result = self.discover().await;
        match &result {
            Ok(targets) => {
                if let Ok(mut t) = self.targets.lock() {
                    *t = Some((Instant::now(), targets.clone()));
                }
                let ids: BTreeSet<String> =
                    targets.iter().map(|t| t.deployment.id.clone()).collect();
                self.note(|s| {
                    s.deployments = ids.iter().cloned().collect();
                    s.last_discovery_error = None;
                });
                self.followed.send_if_modified(|current| {
                    let changed = *current != ids;
                    *current = ids;
                    changed
                });
            }
            Err(e) => {
                let message = e.to_string();
                self.note(|s| s.last_discovery_error = Some(message));
            }
        }
        result
    }

    async fn discover(&self) -> Result<Vec<Target>, RailwayError> {
        let (project_id, environment_id) = match (
            &self.settings.project_id,
            &self.settings.environment_id,
        ) {
            (Some(p), Some(e)) => (p.clone(), e.clone()),
            (project, environment) => {
                let scope: ProjectTokenData = self.query(wire::PROJECT_TOKEN_QUERY, json!({})).await.map_err(|e| match e {
                    RailwayError::Unauthorized(_) => RailwayError::Unauthorized(
                        "RAILWAY_PROJECT_ID and RAILWAY_ENVIRONMENT_ID are needed with an account token".into(),
                    ),
                    other => other,
                })?;
                (
                    project.clone().unwrap_or(scope.project_token.project_id),
                    environment
                        .clone()
                        .unwrap_or(scope.project_token.environment_id),
                )
            }
        };
        let project: ProjectData = self
            .query(wire::PROJECT_QUERY, json!({ "id": project_id }))
            .await?;
        let environment = project
            .project
            .environments
            .edges
            .iter()
            .find(|e| e.node.id == environment_id)
            .map(|e| e.node.name.clone());
        let mut targets = Vec::new();
        let mut seen = Vec::new();
        for service in project.project.services.edges.into_iter().map(|e| e.node) {
            if !wanted(&self.settings.services, &service) {
                continue;
            }
            let input = json!({ "projectId": project_id, "environmentId": environment_id, "serviceId": service.id });
            let data: DeploymentsData = self
                .query(
                    wire::DEPLOYMENTS_QUERY,
                    json!({ "input": input, "first": 20 }),
                )
                .await?;
            let deployments: Vec<Deployment> =
                data.deployments.edges.into_iter().map(|e| e.node).collect();
            seen.extend(deployments.iter().map(|d| {
                crate::deploys::Seen {
                    id: d.id.clone(),
                    service: service.name.clone(),
                    status: d.status.clone(),
                    created_at: d.created_at,
                    url: d
                        .url
                        .clone()
                        .or_else(|| d.static_url.as_ref().map(|host| format!("https://{host}"))),
                    commit_sha: d.commit_sha(),
                }
            }));
            for deployment in followed_deployments(deployments) {
                targets.push(Target {
                    deployment,
                    service: service.clone(),
                    environment: environment.clone(),
                });
            }
        }
        self.seen.send_replace(seen);
        Ok(targets)
    }

    /// One logs query.
    async fn fetch(
        &self,
        deployment: &str,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<RawLine>, RailwayError> {
        let mut variables = json!({
            "deploymentId": deployment,
            "limit": limit,
            "startDate": rfc3339(start),
            "endDate": rfc3339(end),
        });
        if let Some(filter) = &self.settings.filter {
            variables["filter"] = json!(filter);
        }
        let data: LogsData = self
            .query(&wire::deployment_logs_query(), variables)
            .await?;
        let (lines, dropped) = wire::into_lines(data.deployment_logs);
        if dropped > 0 {
            tracing::warn!(
                deployment,
                dropped,
                "Railway returned log lines without a readable timestamp"
            );
        }
        Ok(lines)
    }

    /// The lines of `[start, end)` for the largest `end` up to `horizon` whose lines fit in one
    /// page. Railway has no offset: a full page may be cut off, so the window is halved, and
    /// when one nanosecond holds more lines than a page the page grows (up to [`MAX_PAGE`]).
    /// `None` when the poll's request budget ran out first (the next poll goes on).
    async fn fetch_window(
        &self,
        deployment: &str,
        start: DateTime<Utc>,
        horizon: DateTime<Utc>,
        requests: &mut usize,
    ) -> Result<Option<(Vec<RawLine>, DateTime<Utc>)>, SourceError> {
        // Start from the span that last filled most of a page, not from the whole backlog.
        let hint = self
            .spans
            .lock()
            .ok()
            .and_then(|spans| spans.get(deployment).copied());
        let mut end = hint.map_or(horizon, |span| (start + span).min(horizon));
        let limit = self.settings.page_size;
        loop {
            *requests += 1;
            let lines = self
                .fetch(deployment, start, end, limit)
                .await
                .map_err(upstream)?;
            if lines.len() < limit {
                self.remember_span(deployment, end - start, lines.len(), end >= horizon);
                return Ok(Some((lines, end)));
            }
            if *requests >= REQUESTS_PER_POLL {
                return Ok(None);
            }
            match halve(start, end) {
                Some(mid) => end = mid,
                // One nanosecond holds more than a page: read it in one larger page.
                None => {
                    let lines = match self.fetch_whole(deployment, start, end, requests).await? {
                        Some(whole) => whole,
                        None => {
                            self.note_truncated(deployment, start);
                            lines
                        }
                    };
                    self.remember_span(deployment, end - start, lines.len(), end >= horizon);
                    return Ok(Some((lines, end)));
                }
            }
        }
    }

    /// All the lines of `[start, end)` in one page, growing the page up to [`MAX_PAGE`];
    /// `None` when even that is full, or when Railway refuses a page that large.
    async fn fetch_whole(
        &self,
        deployment: &str,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        requests: &mut usize,
    ) -> Result<Option<Vec<RawLine>>, SourceError> {
        let mut limit = self.settings.page_size;
        while limit < MAX_PAGE {
            limit = (limit * 4).min(MAX_PAGE);
            *requests += 1;
            let lines = match self.fetch(deployment, start, end, limit).await {
                Err(RailwayError::Query(message)) => {
                    tracing::warn!(deployment, %message, "Railway refused a larger page");
                    return Ok(None);
                }
                other => other.map_err(upstream)?,
            };
            if lines.len() < limit {
                return Ok(Some(lines));
            }
        }
        Ok(None)
    }

    /// Counts a window with more lines than the largest page: it is taken as one page has it.
    fn note_truncated(&self, deployment: &str, at: DateTime<Utc>) {
        self.note(|s| s.truncated_windows += 1);
        metrics::counter!("signalbox_railway_truncated_windows_total").increment(1);
        tracing::warn!(deployment, %at, "more log lines in one window than the largest page holds; some may be cut");
    }

    /// Remembers how wide the next window of `deployment` should be: wide enough for about
    /// three quarters of a page at the density just seen.
    fn remember_span(
        &self,
        deployment: &str,
        span: chrono::Duration,
        lines: usize,
        reached_horizon: bool,
    ) {
        let Ok(mut spans) = self.spans.lock() else {
            return;
        };
        if reached_horizon && lines < self.settings.page_size / 2 {
            // Caught up: the next poll starts from the whole window again.
            spans.remove(deployment);
            return;
        }
        let target = self.settings.page_size as f64 * 0.75;
        let factor = (target / lines.max(1) as f64).clamp(0.5, 4.0);
        let nanos = (span.num_nanoseconds().unwrap_or(i64::MAX) as f64 * factor).max(1.0);
        spans.insert(
            deployment.to_string(),
            chrono::Duration::nanoseconds(nanos.min(i64::MAX as f64) as i64),
        );
    }

    async fn poll_inner(
        &self,
        stored: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Batch, SourceError> {
        let mut cursor = stored_cursor(stored)?;
        let first_run = stored.is_none();
        let targets = self.targets(false).await.map_err(upstream)?;
        let horizon = now - chrono::Duration::from_std(self.settings.lag).unwrap_or_default();
        let lookback_start =
            now - chrono::Duration::from_std(self.settings.lookback).unwrap_or_default();
        let mut events = Vec::new();
        let mut requests = 0;
        let mut more = false;
        // A query's lines up to `end`: the floor stops at the lag, where lines may still arrive.
        let read = |end| Reach {
            horizon: end,
            complete_until: end,
            arrived: horizon,
        };
        // Forget deployments no longer followed.
        let followed: BTreeSet<&str> = targets.iter().map(|t| t.deployment.id.as_str()).collect();
        cursor
            .deployments
            .retain(|id, _| followed.contains(id.as_str()));

        let streamed_since = self
            .stream_since
            .lock()
            .map(|s| s.clone())
            .unwrap_or_default();
        'targets: for target in &targets {
            let id = target.deployment.id.clone();
            let dc = cursor.deployments.entry(id.clone()).or_insert_with(|| {
                let created = target.deployment.created_at;
                DeploymentCursor::starting_at(if first_run {
                    created.max(lookback_start)
                } else {
                    created
                })
            });
            // Where the stream of this deployment starts, polls need not wait for the lag: the
            // stream has everything after it. They read a trace's window past it, so that a
            // trace open where the stream starts is read whole here.
            let horizon_of = match streamed_since.get(&id) {
                Some(since) if *since + self.assembly.window > horizon => {
                    (*since + self.assembly.window + chrono::Duration::nanoseconds(1)).min(now)
                }
                _ => horizon,
            };
            // Each poll starts again at the floor: a line that arrived late, before what the
            // last poll reached, is read then (what was consumed is recognised and skipped).
            let mut start = dc.floor;
            while start < horizon_of {
                if requests >= REQUESTS_PER_POLL || events.len() >= EVENTS_PER_POLL {
                    more = true;
                    break 'targets;
                }
                let Some((lines, end)) = self
                    .fetch_window(&id, start, horizon_of, &mut requests)
                    .await?
                else {
                    more = true;
                    break 'targets;
                };
                let mut absorbed = absorb(&id, dc, &lines, read(end), self.assembly);
                if dc.reached() <= start && end < horizon_of {
                    // A burst so dense that a trace open at the page's end did not fit in it:
                    // read the trace's whole window (no later line can join it) in one larger
                    // page, so that the trace is cut where its lines end, not where a page did.
                    let reach = (start + self.assembly.window + chrono::Duration::nanoseconds(1))
                        .min(horizon_of);
                    match self.fetch_whole(&id, start, reach, &mut requests).await? {
                        Some(whole) => {
                            absorbed.extend(absorb(&id, dc, &whole, read(reach), self.assembly));
                        }
                        None => {
                            self.note_truncated(&id, start);
                            let flush = Reach {
                                horizon: DateTime::<Utc>::MAX_UTC,
                                ..read(end)
                            };
                            absorbed.extend(absorb(&id, dc, &lines, flush, self.assembly));
                        }
                    }
                }
                let stalled = dc.reached() <= start;
                start = dc.reached();
                events.extend(absorbed.into_iter().filter_map(|e| to_event(e, target)));
                if stalled {
                    // A trace at the horizon may still grow: read it next time.
                    break;
                }
            }
        }
        self.note_lag(&cursor, now);
        Ok(Batch {
            events,
            cursor: cursor.encode(),
            more,
        })
    }

    fn note_lag(&self, cursor: &Cursor, now: DateTime<Utc>) {
        let oldest = cursor.deployments.values().map(|d| d.floor).min();
        let lag = oldest.map(|o| (now - o).num_milliseconds().max(0) as f64 / 1000.0);
        self.note(|s| s.lag_seconds = lag);
    }

    /// Absorbs what the stream buffered against the cursor.
    fn absorb_buffered(
        &self,
        stored: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Batch, SourceError> {
        let mut cursor = stored_cursor(stored)?;
        let targets: Vec<Target> = self
            .targets
            .lock()
            .ok()
            .and_then(|t| t.clone())
            .map(|(_, t)| t)
            .unwrap_or_default();
        let horizon = now - chrono::Duration::milliseconds(250);
        // Lines older than the lag have arrived (the polls' assumption too).
        let arrived = now - chrono::Duration::from_std(self.settings.lag).unwrap_or_default();
        let mut events = Vec::new();
        let Ok(mut buffers) = self.buffers.lock() else {
            return Ok(Batch {
                events,
                cursor: cursor.encode(),
                more: false,
            });
        };
        let since = self
            .stream_since
            .lock()
            .map(|s| s.clone())
            .unwrap_or_default();
        let mut gap = false;
        for (deployment, buffer) in buffers.iter_mut() {
            let Some(target) = targets.iter().find(|t| &t.deployment.id == deployment) else {
                *buffer = StreamBuffer::default();
                continue;
            };
            // The stream's lines join the cursor only once everything up to where the stream
            // starts is consumed; until then they wait and a poll closes the gap.
            let Some(dc) = cursor.deployments.get_mut(deployment) else {
                gap = true;
                continue;
            };
            if since
                .get(deployment)
                .is_none_or(|since| dc.reached() <= *since)
            {
                gap = true;
                continue;
            }
            let mut taken = std::mem::take(&mut buffer.lines);
            taken.sort_by_key(|l| l.timestamp);
            let absorbed = absorb(
                deployment,
                dc,
                &taken,
                // Every line after `since` comes on the stream: what has arrived by now is
                // in the buffer or consumed.
                Reach {
                    horizon,
                    complete_until: now,
                    arrived,
                },
                self.assembly,
            );
            events.extend(absorbed.into_iter().filter_map(|e| to_event(e, target)));
            (buffer.lines, buffer.waiting) = unconsumed(deployment, dc, taken);
        }
        if gap {
            self.request_catch_up();
        }
        buffers.retain(|_, buffer| !buffer.lines.is_empty());
        drop(buffers);
        self.note_lag(&cursor, now);
        Ok(Batch {
            events,
            cursor: cursor.encode(),
            more: false,
        })
    }

    /// The stream: keeps a subscription per followed deployment, reconnecting with backoff.
    async fn run_stream(self: Arc<Self>, wake: StreamWake, shutdown: CancellationToken) {
        if let Ok(mut w) = self.wake.lock() {
            *w = Some(wake.clone());
        }
        let discovery = {
            let source = self.clone();
            let shutdown = shutdown.clone();
            async move {
                loop {
                    if let Err(e) = source.targets(true).await {
                        tracing::warn!(error = %e, "Railway discovery failed");
                    }
                    tokio::select! {
                        _ = shutdown.cancelled() => return,
                        _ = tokio::time::sleep(DISCOVERY_TTL) => {}
                    }
                }
            }
        };
        let flusher = {
            // Pending traces in the buffer are flushed once their window has passed.
            let source = self.clone();
            let wake = wake.clone();
            let shutdown = shutdown.clone();
            async move {
                loop {
                    tokio::select! {
                        _ = shutdown.cancelled() => return,
                        _ = tokio::time::sleep(Duration::from_millis(250)) => {}
                    }
                    let waiting = source
                        .buffers
                        .lock()
                        .map(|b| b.values().any(|buffer| buffer.waiting))
                        .unwrap_or(false);
                    if waiting {
                        wake.absorb();
                    }
                }
            }
        };
        let connection = async {
            let mut followed = self.followed.subscribe();
            let mut attempt: u32 = 0;
            while !shutdown.is_cancelled() {
                if followed.borrow().is_empty() {
                    // Nothing to follow yet (discovery pending or failed).
                    tokio::select! {
                        _ = shutdown.cancelled() => return,
                        _ = followed.changed() => continue,
                        _ = tokio::time::sleep(DISCOVERY_TTL) => continue,
                    }
                }
                let auth = self.client.auth_headers(self.client.token_kind());
                let source = self.clone();
                let wake_lines = wake.clone();
                let result = ws::run_connection(
                    &self.settings.ws_url,
                    auth,
                    self.settings.filter.as_deref(),
                    &mut followed,
                    |delivery| match delivery {
                        ws::Delivery::Connected => {
                            source.note(|s| {
                                s.stream_connected = true;
                                s.stream_last_error = None;
                            });
                            // Catch up on what happened while the stream was down.
                            wake_lines.catch_up();
                        }
                        ws::Delivery::Lines {
                            deployment,
                            lines,
                            since,
                        } => {
                            if source.buffer(deployment, lines, since) {
                                wake_lines.absorb();
                            } else {
                                wake_lines.catch_up();
                            }
                        }
                    },
                    &shutdown,
                )
                .await;
                let connected = self.status().stream_connected;
                self.note(|s| s.stream_connected = false);
                let Err(error) = result else { return };
                if connected {
                    attempt = 0;
                }
                attempt += 1;
                self.note(|s| {
                    s.stream_last_error = Some(error.to_string());
                    s.stream_reconnects += 1;
                });
                metrics::counter!("signalbox_railway_stream_disconnects_total").increment(1);
                let jitter: f64 = rand::rng().random();
                let delay = reconnect_delay(&error, attempt, jitter);
                tracing::warn!(%error, ?delay, "Railway log stream interrupted; reconnecting");
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = tokio::time::sleep(delay) => {}
                }
            }
        };
        tokio::join!(discovery, flusher, connection);
    }

    /// Asks the monitor for a poll, at most once a second.
    fn request_catch_up(&self) {
        let due = self.last_catch_up.lock().map(|mut last| {
            let due = last.is_none_or(|t| t.elapsed() >= Duration::from_secs(1));
            if due {
                *last = Some(Instant::now());
            }
            due
        });
        if due.unwrap_or(false) {
            if let Some(wake) = self.wake.lock().ok().and_then(|w| w.clone()) {
                wake.catch_up();
            }
        }
    }

    /// Adds streamed lines to a deployment's buffer; false when the buffer overflowed (its
    /// lines were dropped, and a poll must catch up instead).
    fn buffer(
        &self,
        deployment: String,
        lines: Vec<RawLine>,
        since: Option<DateTime<Utc>>,
    ) -> bool {
        if let Some(since) = since {
            if let Ok(mut s) = self.stream_since.lock() {
                s.insert(deployment.clone(), since);
            }
        }
        let Ok(mut buffers) = self.buffers.lock() else {
            return false;
        };
        let buffer = buffers.entry(deployment.clone()).or_default();
        if buffer.lines.len() + lines.len() > STREAM_BUFFER_CAP {
            // Lines are lost to the stream: it starts again now, and polls cover the rest.
            *buffer = StreamBuffer::default();
            if let Ok(mut s) = self.stream_since.lock() {
                s.insert(deployment, Utc::now() + ws::CLOCK_SKEW);
            }
            return false;
        }
        buffer.lines.extend(lines);
        buffer.waiting = true;
        true
    }
}

/// What the stream delivered for one deployment and is not consumed yet, with the consumed
/// lines of each replica's last instant (see [`unconsumed`]).
#[derive(Default)]
struct StreamBuffer {
    lines: Vec<RawLine>,
    /// Whether any line is still to be consumed (else only the instants are kept).
    waiting: bool,
}

/// The stored cursor (none yet: an empty one).
fn stored_cursor(stored: Option<&str>) -> Result<Cursor, SourceError> {
    match stored {
        Some(text) => Cursor::decode(text)
            .map_err(|_| SourceError::BadCursor(text.chars().take(80).collect())),
        None => Ok(Cursor::default()),
    }
}

fn upstream(e: RailwayError) -> SourceError {
    SourceError::Upstream(e.to_string())
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

/// The middle of a window, or `None` when it cannot be split (one nanosecond).
fn halve(start: DateTime<Utc>, end: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let span = (end - start).num_nanoseconds()?;
    (span > 1).then(|| start + chrono::Duration::nanoseconds(span / 2))
}

/// Whether a service is among the configured ones (by name or id; none configured = all).
fn wanted(configured: &[String], service: &Named) -> bool {
    configured.is_empty()
        || configured
            .iter()
            .any(|c| c == &service.name || c == &service.id)
}

/// The deployments of one service worth following: the newest ones that run or ran (the
/// connection's order is undocumented, so sort by creation time).
fn followed_deployments(mut deployments: Vec<Deployment>) -> Vec<Deployment> {
    deployments.sort_by_key(|d| std::cmp::Reverse(d.created_at));
    deployments
        .into_iter()
        .filter(|d| FOLLOWED_STATES.contains(&d.status.as_str()))
        .take(DEPLOYMENTS_PER_SERVICE)
        .collect()
}

/// Backoff before reconnecting: 1 s growing ×1.5 to 30 s, ±25 % jitter; a refused token waits
/// a minute (it will not change by itself soon).
fn reconnect_delay(error: &ws::StreamError, attempt: u32, jitter: f64) -> Duration {
    if matches!(error, ws::StreamError::Unauthorized(_)) {
        return Duration::from_secs(60);
    }
    let base = (1.5f64.powi(attempt.saturating_sub(1).min(20) as i32)).min(30.0);
    Duration::from_secs_f64(base * (0.75 + 0.5 * jitter.clamp(0.0, 1.0)))
}

/// The level of a Railway line: a `level` attribute (JSON logs), else what the text states,
/// else Railway's severity (stderr = error), else info.
fn level_of(line: &RawLine, text: &str) -> Level {
    let attribute = line
        .attributes
        .iter()
        .find(|(k, _)| k == "level" || k == "severity")
        .and_then(|(_, v)| v.parse::<Level>().ok());
    attribute
        .or_else(|| stated_level(text))
        .or_else(|| {
            line.severity
                .as_deref()
                .and_then(|s| s.parse::<Level>().ok())
        })
        .unwrap_or(Level::Info)
}

/// An assembled Railway event as an [`Event`].
fn to_event(e: LineEvent, target: &Target) -> Option<Event> {
    let ctx = LineContext {
        source: NAME.to_string(),
        service: Some(target.service.name.clone()),
        received_at: e.first.timestamp,
    };
    // Assembled text has no blank lines at its ends: only an all-blank line gives `None`.
    let mut event = parse_assembled(&e.text, &ctx)?;
    let head = e.text.split('\n').next().unwrap_or("");
    // Railway's timestamp is when the line was written; a time inside the text is ignored.
    event.timestamp = e.first.timestamp;
    if !head.trim_start().starts_with('{') {
        // The text's own level, else Railway's (stderr = error); a trace is at least an error.
        let level = level_of(&e.first, head);
        event.level = if event.stack_trace.is_some() {
            level.max(Level::Error)
        } else {
            level
        };
    }
    event.deployment = Some(target.deployment.id.clone());
    event.environment = target.environment.clone();
    for (k, v) in &e.first.attributes {
        if k != "level" && k != "severity" {
            event
                .attributes
                .entry(k.clone())
                .or_insert_with(|| v.clone());
        }
    }
    if !e.first.instance.is_empty() {
        event
            .attributes
            .insert("railway.instance".into(), e.first.instance.clone());
    }
    event.source_id = Some(e.id);
    Some(event)
}

impl PollSource for RailwaySource {
    fn name(&self) -> &str {
        NAME
    }

    fn interval(&self) -> Duration {
        self.settings.interval
    }

    fn poll<'a>(&'a self, cursor: Option<&'a str>, now: DateTime<Utc>) -> PollFuture<'a> {
        Box::pin(self.poll_inner(cursor, now))
    }

    fn stream(
        self: Arc<Self>,
        wake: StreamWake,
        shutdown: CancellationToken,
    ) -> Option<Pin<Box<dyn Future<Output = ()> + Send>>> {
        if !self.settings.stream {
            return None;
        }
        Some(Box::pin(self.run_stream(wake, shutdown)))
    }

    fn absorb(&self, cursor: Option<&str>, now: DateTime<Utc>) -> Result<Batch, SourceError> {
        self.absorb_buffered(cursor, now)
    }

    fn api_errors(&self) -> u64 {
        self.status.lock().map_or(0, |s| s.api_errors)
    }

    fn status(&self) -> serde_json::Value {
        serde_json::to_value(self.status()).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deployment(id: &str, status: &str, minute: i64) -> Deployment {
        Deployment {
            id: id.into(),
            status: status.into(),
            created_at: DateTime::UNIX_EPOCH + chrono::Duration::minutes(minute),
            static_url: None,
            url: None,
            meta: None,
        }
    }

    #[test]
    fn follows_the_newest_running_deployments() {
        let ids = |ds: Vec<Deployment>| {
            followed_deployments(ds)
                .into_iter()
                .map(|d| d.id)
                .collect::<Vec<_>>()
        };
        assert_eq!(
            ids(vec![
                deployment("old", "REMOVED", 1),
                deployment("prev", "SUCCESS", 2),
                deployment("building", "BUILDING", 4),
                deployment("current", "SUCCESS", 3),
            ]),
            ["current", "prev"]
        );
        assert_eq!(ids(vec![deployment("crashed", "CRASHED", 1)]), ["crashed"]);
        assert!(ids(vec![deployment("queued", "QUEUED", 1)]).is_empty());
    }

    #[test]
    fn services_filter_by_name_or_id() {
        let s = Named {
            id: "s1".into(),
            name: "api".into(),
        };
        assert!(wanted(&[], &s));
        assert!(wanted(&["api".into()], &s));
        assert!(wanted(&["s1".into()], &s));
        assert!(!wanted(&["worker".into()], &s));
    }

    #[test]
    fn windows_halve_down_to_a_nanosecond() {
        let t = DateTime::UNIX_EPOCH;
        assert_eq!(
            halve(t, t + chrono::Duration::seconds(2)),
            Some(t + chrono::Duration::seconds(1))
        );
        assert_eq!(halve(t, t + chrono::Duration::nanoseconds(1)), None);
        assert_eq!(halve(t, t), None);
    }

    #[test]
    fn ws_url_follows_the_api_url() {
        assert_eq!(
            Settings::ws_url_for("https://backboard.railway.com/graphql/v2"),
            "wss://backboard.railway.com/graphql/v2"
        );
        assert_eq!(
            Settings::ws_url_for("http://127.0.0.1:9/graphql/v2"),
            "ws://127.0.0.1:9/graphql/v2"
        );
    }

    #[test]
    fn reconnects_back_off() {
        let lost = ws::StreamError::Closed {
            code: 1006,
            reason: String::new(),
        };
        assert_eq!(reconnect_delay(&lost, 1, 0.5), Duration::from_secs(1));
        assert_eq!(
            reconnect_delay(&lost, 3, 0.5),
            Duration::from_secs_f64(2.25)
        );
        assert_eq!(reconnect_delay(&lost, 40, 0.5), Duration::from_secs(30));
        assert_eq!(
            reconnect_delay(&ws::StreamError::Unauthorized(4401), 1, 0.5),
            Duration::from_secs(60)
        );
    }

    #[test]
    fn levels_come_from_attributes_text_then_severity() {
        let line = |severity: Option<&str>, attrs: &[(&str, &str)]| RawLine {
            timestamp: DateTime::UNIX_EPOCH,
            message: String::new(),
            severity: severity.map(str::to_string),
            instance: String::new(),
            attributes: attrs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        };
        assert_eq!(
            level_of(&line(Some("error"), &[("level", "warn")]), "x"),
            Level::Warn
        );
        assert_eq!(
            level_of(&line(Some("error"), &[]), "INFO: started"),
            Level::Info,
            "stderr INFO stays info"
        );
        assert_eq!(
            level_of(&line(Some("error"), &[]), "connection refused"),
            Level::Error
        );
        assert_eq!(
            level_of(&line(None, &[]), "connection refused"),
            Level::Info
        );
    }
}
