//! The monitor: polls every configured source on its interval (or now, on request), absorbs
//! what streaming sources deliver, stores what it read with the source's cursor, and keeps
//! each source's state for health and the UI.
//!
//! One replica runs it: the monitor holds a lease row in the store (renewed every few seconds)
//! and only the holder reads the sources. When the holder dies its lease expires and another
//! replica takes over within the lease's lifetime (`SIGNALBOX_LEASE_SECONDS`, default 20) plus
//! a quarter of it (how often candidates try). Every replica serves the UI
//! and the API.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::model::{Event, Level};
use crate::pipeline::Pipeline;
use crate::sources::{Batch, PollSource, StreamWake, Wake};
use crate::store::{CursorUpdate, RunReport, Store, StoreError, WriteSummary};

/// The lease that says which replica runs the sources.
pub const LEASE: &str = "monitor";
/// How long a lease lasts without renewal, unless configured.
pub const LEASE_TTL: Duration = Duration::from_secs(20);

/// The state of one source as the monitor last saw it.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct SourceState {
    pub last_run: Option<DateTime<Utc>>,
    pub last_success: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    /// Events stored since start.
    pub events: u64,
    /// Consecutive failed polls.
    pub failures: u32,
    /// Seconds since the source was last read completely (`None`: never).
    pub lag_seconds: Option<f64>,
    /// Source-specific state (the Railway stream, rate limits …).
    pub detail: serde_json::Value,
}

/// Processes `events` and stores them, with `cursor` in the same transaction. The one way
/// events enter the store; it also counts them for /metrics.
pub async fn store_events(
    store: &Store,
    pipeline: &Pipeline,
    source: &str,
    events: Vec<Event>,
    cursor: Option<&CursorUpdate>,
) -> Result<WriteSummary, StoreError> {
    let processed: Vec<_> = events.into_iter().map(|e| pipeline.process(e)).collect();
    let summary = store.write_batch(&processed, cursor).await?;
    metrics::counter!("signalbox_events_ingested_total", "source" => source.to_string())
        .increment(summary.accepted as u64);
    metrics::counter!("signalbox_events_duplicate_total", "source" => source.to_string())
        .increment(summary.duplicates as u64);
    for (level, n) in &summary.by_level {
        metrics::counter!("signalbox_log_lines_total", "level" => level.as_str()).increment(*n);
    }
    metrics::counter!("signalbox_groups_created_total").increment(summary.new_groups.len() as u64);
    Ok(summary)
}

/// Asks the monitor to run the sources now.
#[derive(Clone)]
pub struct MonitorHandle {
    trigger: mpsc::Sender<String>,
    states: Arc<RwLock<BTreeMap<String, SourceState>>>,
    names: Arc<Vec<String>>,
    sources: Arc<Vec<Arc<dyn PollSource>>>,
    control: Arc<Control>,
}

/// Run-time switches of the monitor (seed: `monitor/start`, `monitor/stop`).
#[derive(Debug, Default)]
struct Control {
    paused: AtomicBool,
    /// Seconds between scheduled polls of every source; 0 = each source's own interval.
    interval_override: AtomicU64,
    /// Whether this replica holds the lease and runs the sources.
    leader: AtomicBool,
}

impl MonitorHandle {
    /// Queues a run of every source; false when a run is already queued.
    pub fn crawl_now(&self, run_id: String) -> bool {
        self.trigger.try_send(run_id).is_ok()
    }

    /// The configured sources' names.
    pub fn sources(&self) -> &[String] {
        &self.names
    }

    /// Whether this replica runs the sources (holds the lease).
    pub fn is_leader(&self) -> bool {
        self.control.leader.load(Ordering::Relaxed)
    }

    /// Stops scheduled polls (requested runs still happen).
    pub fn stop(&self) {
        self.control.paused.store(true, Ordering::Relaxed);
    }

    /// Resumes scheduled polls, every `interval` when given.
    pub fn start(&self, interval: Option<Duration>) {
        if let Some(interval) = interval {
            self.control
                .interval_override
                .store(interval.as_secs().max(1), Ordering::Relaxed);
        }
        self.control.paused.store(false, Ordering::Relaxed);
    }

    /// Whether scheduled polls run.
    pub fn running(&self) -> bool {
        !self.control.paused.load(Ordering::Relaxed)
    }

    /// The interval set by `start`, if any.
    pub fn interval_override(&self) -> Option<Duration> {
        match self.control.interval_override.load(Ordering::Relaxed) {
            0 => None,
            s => Some(Duration::from_secs(s)),
        }
    }

    /// A snapshot of every source's state.
    pub fn states(&self) -> BTreeMap<String, SourceState> {
        let mut states = self.states.read().map(|s| s.clone()).unwrap_or_default();
        let now = Utc::now();
        for source in self.sources.iter() {
            if let Some(state) = states.get_mut(source.name()) {
                state.detail = source.status();
                state.lag_seconds = state
                    .last_success
                    .map(|t| (now - t).num_milliseconds().max(0) as f64 / 1000.0);
            }
        }
        states
    }
}

/// The monitor loop and its sources.
pub struct Monitor {
    control: Arc<Control>,
    store: Store,
    pipeline: Arc<Pipeline>,
    sources: Vec<Arc<dyn PollSource>>,
    states: Arc<RwLock<BTreeMap<String, SourceState>>>,
    trigger: mpsc::Receiver<String>,
    wakes: mpsc::Receiver<(usize, Wake)>,
    wake_tx: mpsc::Sender<(usize, Wake)>,
    /// This replica's name in the lease.
    holder: String,
    /// How long the lease lasts without renewal; renewed (and tried) every quarter of it.
    lease_ttl: Duration,
}

impl Monitor {
    /// A monitor over `sources`, and the handle to trigger it.
    pub fn new(
        store: Store,
        pipeline: Arc<Pipeline>,
        sources: Vec<Arc<dyn PollSource>>,
    ) -> (Monitor, MonitorHandle) {
        let (tx, rx) = mpsc::channel(1);
        let (wake_tx, wakes) = mpsc::channel(64);
        let states = Arc::new(RwLock::new(
            sources
                .iter()
                .map(|s| (s.name().to_string(), SourceState::default()))
                .collect(),
        ));
        let control = Arc::new(Control::default());
        let handle = MonitorHandle {
            trigger: tx,
            states: states.clone(),
            names: Arc::new(sources.iter().map(|s| s.name().to_string()).collect()),
            sources: Arc::new(sources.clone()),
            control: control.clone(),
        };
        (
            Monitor {
                control,
                store,
                pipeline,
                sources,
                states,
                trigger: rx,
                wakes,
                wake_tx,
                holder: format!(
                    "{}-{}-{}",
                    std::env::var("RAILWAY_REPLICA_ID").unwrap_or_else(|_| "local".into()),
                    std::process::id(),
                    uuid::Uuid::new_v4().simple()
                ),
                lease_ttl: LEASE_TTL,
            },
            handle,
        )
    }

    /// The lease lasts `ttl` without renewal (a dead replica's sources resume elsewhere after it).
    pub fn with_lease_ttl(mut self, ttl: Duration) -> Monitor {
        self.lease_ttl = ttl.max(Duration::from_secs(1));
        self
    }

    fn renew_every(&self) -> Duration {
        self.lease_ttl / 4
    }

    fn lease_ttl(&self) -> chrono::Duration {
        chrono::Duration::from_std(self.lease_ttl).unwrap_or_else(|_| chrono::Duration::seconds(20))
    }

    /// Runs until `shutdown` is cancelled: waits for the lease, then runs the sources for as
    /// long as it holds it. A poll in progress finishes first.
    pub async fn run(mut self, shutdown: CancellationToken) {
        loop {
            match self
                .store
                .acquire_lease(LEASE, &self.holder, Utc::now(), self.lease_ttl())
                .await
            {
                Ok(true) => {
                    tracing::info!(holder = %self.holder, "this replica runs the sources");
                    self.control.leader.store(true, Ordering::Relaxed);
                    metrics::gauge!("signalbox_monitor_leader").set(1.0);
                    self.lead(&shutdown).await;
                    self.control.leader.store(false, Ordering::Relaxed);
                    metrics::gauge!("signalbox_monitor_leader").set(0.0);
                    if shutdown.is_cancelled() {
                        if let Err(e) = self.store.release_lease(LEASE, &self.holder).await {
                            tracing::warn!(error = %e, "could not release the monitor lease");
                        }
                        return;
                    }
                    tracing::warn!("lost the monitor lease; another replica runs the sources");
                }
                Ok(false) => {}
                Err(e) => tracing::warn!(error = %e, "could not take the monitor lease"),
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(self.renew_every()) => {}
            }
        }
    }

    /// Runs the sources until `shutdown` or until the lease is lost.
    async fn lead(&mut self, shutdown: &CancellationToken) {
        let leading = shutdown.child_token();
        for (i, source) in self.sources.iter().enumerate() {
            let wake = StreamWake {
                source: i,
                tx: self.wake_tx.clone(),
            };
            if let Some(task) = source.clone().stream(wake, leading.child_token()) {
                tokio::spawn(task);
            }
        }
        let mut renew = tokio::time::interval(self.renew_every());
        renew.tick().await;
        let mut renewed = tokio::time::Instant::now();
        let mut next_due: Vec<tokio::time::Instant> = self
            .sources
            .iter()
            .map(|_| tokio::time::Instant::now())
            .collect();
        loop {
            let wake = next_due
                .iter()
                .min()
                .copied()
                .unwrap_or_else(|| tokio::time::Instant::now() + Duration::from_secs(3600));
            tokio::select! {
                _ = leading.cancelled() => break,
                _ = renew.tick() => {
                    match self.store.acquire_lease(LEASE, &self.holder, Utc::now(), self.lease_ttl()).await {
                        Ok(true) => renewed = tokio::time::Instant::now(),
                        Ok(false) => break,
                        // The store is unreachable: keep going while the lease may still be ours.
                        Err(e) => {
                            tracing::warn!(error = %e, "could not renew the monitor lease");
                            if renewed.elapsed() >= self.lease_ttl {
                                break;
                            }
                        }
                    }
                }
                _ = tokio::time::sleep_until(wake) => {
                    let now = tokio::time::Instant::now();
                    let paused = self.control.paused.load(Ordering::Relaxed);
                    for (i, due) in next_due.iter_mut().enumerate() {
                        if *due <= now {
                            if !paused {
                                // Failures are recorded in the source state and logged.
                                let _ = self.run_source(i, "schedule", &leading).await;
                            }
                            *due = tokio::time::Instant::now() + self.interval_of(i);
                        }
                    }
                }
                Some((i, kind)) = self.wakes.recv() => {
                    if i >= self.sources.len() {
                        continue;
                    }
                    match kind {
                        Wake::Absorb => self.absorb_source(i).await,
                        Wake::CatchUp => {
                            let _ = self.run_source(i, "stream", &leading).await;
                        }
                    }
                }
                Some(run_id) = self.trigger.recv() => {
                    let started = Utc::now();
                    if let Err(e) = self.store.start_run(&run_id, "api", None, started).await {
                        tracing::warn!(error = %e, "could not record crawl run");
                    }
                    let mut total = RunReport::default();
                    let mut errors = Vec::new();
                    for (i, due) in next_due.iter_mut().enumerate() {
                        let report = self.poll_source(i, &leading).await;
                        total.events += report.events;
                        total.errors_found += report.errors_found;
                        total.api_errors += report.api_errors;
                        if let Some(e) = report.error {
                            errors.push(format!("{}: {e}", self.sources[i].name()));
                        }
                        *due = tokio::time::Instant::now() + self.interval_of(i);
                    }
                    total.error = (!errors.is_empty()).then(|| errors.join("; "));
                    if let Err(e) = self.store.finish_run(&run_id, Utc::now(), &total).await {
                        tracing::warn!(error = %e, "could not record crawl run");
                    }
                }
            }
        }
        leading.cancel();
    }

    /// The interval of source `i`: the override set by `start`, else its own.
    fn interval_of(&self, i: usize) -> Duration {
        match self.control.interval_override.load(Ordering::Relaxed) {
            0 => self.sources[i].interval(),
            s => Duration::from_secs(s),
        }
    }

    /// Polls source `i` and records the run when it stored or failed something (quiet polls
    /// only count in /metrics).
    async fn run_source(
        &self,
        i: usize,
        triggered_by: &str,
        shutdown: &CancellationToken,
    ) -> RunReport {
        let started = Utc::now();
        let report = self.poll_source(i, shutdown).await;
        if report.events > 0 || report.error.is_some() {
            let id = uuid::Uuid::new_v4().to_string();
            let name = self.sources[i].name();
            let recorded = async {
                self.store
                    .start_run(&id, triggered_by, Some(name), started)
                    .await?;
                self.store.finish_run(&id, Utc::now(), &report).await
            };
            if let Err(e) = recorded.await {
                tracing::warn!(error = %e, "could not record crawl run");
            }
        }
        report
    }

    /// Polls one source until it has no backlog.
    async fn poll_source(&self, index: usize, shutdown: &CancellationToken) -> RunReport {
        let source = &self.sources[index];
        let api_errors_before = source.api_errors();
        let started = std::time::Instant::now();
        let mut report = RunReport::default();
        // A backlog is read one batch ahead: the next page is on its way while this one is
        // fingerprinted and stored. The read-ahead starts from a cursor not stored yet; if
        // storing fails it is dropped, and the next run starts again from the stored cursor.
        let spawn_poll = |cursor: Option<String>| {
            let source = source.clone();
            tokio::spawn(async move { source.poll(cursor.as_deref(), Utc::now()).await })
        };
        let mut stored = match self.store.cursor(source.name()).await {
            Ok(cursor) => cursor,
            Err(e) => {
                report.error = Some(e.to_string());
                None
            }
        };
        let mut next = report.error.is_none().then(|| spawn_poll(stored.clone()));
        while let Some(reading) = next.take() {
            let batch = match reading.await {
                Ok(Ok(batch)) => batch,
                Ok(Err(e)) => {
                    report.error = Some(e.to_string());
                    break;
                }
                Err(e) => {
                    report.error = Some(format!("the poll stopped: {e}"));
                    break;
                }
            };
            if batch.more && !shutdown.is_cancelled() {
                next = Some(spawn_poll(Some(batch.cursor.clone())));
            }
            let cursor = batch.cursor.clone();
            match save(
                &self.store,
                &self.pipeline,
                source.name(),
                stored.as_deref(),
                batch,
            )
            .await
            {
                Ok(summary) => {
                    report.events += summary.accepted;
                    report.errors_found += errors_in(&summary);
                    stored = Some(cursor);
                }
                Err(e) => {
                    if let Some(reading) = next.take() {
                        reading.abort();
                    }
                    report.error = Some(e);
                }
            }
        }
        report.api_errors = source.api_errors().saturating_sub(api_errors_before) as usize;
        let name = source.name().to_string();
        metrics::histogram!("signalbox_source_poll_seconds", "source" => name.clone())
            .record(started.elapsed().as_secs_f64());
        metrics::counter!("signalbox_source_errors_found_total", "source" => name.clone())
            .increment(report.errors_found as u64);
        metrics::counter!("signalbox_source_api_errors_total", "source" => name.clone())
            .increment(report.api_errors as u64);
        if report.error.is_none() {
            metrics::gauge!("signalbox_source_last_success_timestamp_seconds", "source" => name.clone())
                .set(Utc::now().timestamp_millis() as f64 / 1000.0);
        }
        self.record(&name, report.events, report.error.as_deref());
        let outcome = if report.error.is_none() {
            "ok"
        } else {
            "error"
        };
        metrics::counter!("signalbox_source_polls_total", "source" => name.clone(), "outcome" => outcome)
            .increment(1);
        if let Some(e) = &report.error {
            tracing::warn!(source = %name, error = %e, "poll failed; retrying at the next interval");
        }
        report
    }

    /// Stores what a source's stream buffered.
    async fn absorb_source(&self, index: usize) {
        let source = &self.sources[index];
        let name = source.name().to_string();
        let read = async {
            let cursor = self.store.cursor(&name).await.map_err(|e| e.to_string())?;
            let batch = source
                .absorb(cursor.as_deref(), Utc::now())
                .map_err(|e| e.to_string())?;
            save(&self.store, &self.pipeline, &name, cursor.as_deref(), batch).await
        };
        match read.await {
            Ok(summary) => {
                if summary.accepted > 0 {
                    if let Ok(mut states) = self.states.write() {
                        states.entry(name).or_default().events += summary.accepted as u64;
                    }
                }
            }
            Err(e) => tracing::warn!(source = %name, error = %e, "storing streamed lines failed"),
        }
    }

    /// Updates a source's state after a poll.
    fn record(&self, name: &str, stored: usize, error: Option<&str>) {
        let now = Utc::now();
        if let Ok(mut states) = self.states.write() {
            let state = states.entry(name.to_string()).or_default();
            state.last_run = Some(now);
            state.events += stored as u64;
            match error {
                None => {
                    state.last_success = Some(now);
                    state.last_error = None;
                    state.failures = 0;
                }
                Some(e) => {
                    state.last_error = Some(e.to_string());
                    state.failures += 1;
                }
            }
        }
    }
}

/// Errors and worse among the events a batch stored.
fn errors_in(summary: &WriteSummary) -> usize {
    summary
        .by_level
        .iter()
        .filter(|(level, _)| **level >= Level::Error)
        .map(|(_, n)| *n as usize)
        .sum()
}

/// Stores a batch's events and its cursor together (nothing when neither changed).
async fn save(
    store: &Store,
    pipeline: &Pipeline,
    source: &str,
    stored: Option<&str>,
    batch: Batch,
) -> Result<WriteSummary, String> {
    if batch.events.is_empty() && stored == Some(batch.cursor.as_str()) {
        return Ok(WriteSummary::default());
    }
    let update = CursorUpdate {
        source: source.to_string(),
        cursor: batch.cursor,
    };
    store_events(store, pipeline, source, batch.events, Some(&update))
        .await
        .map_err(|e| e.to_string())
}
