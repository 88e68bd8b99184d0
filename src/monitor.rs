//! The monitor: polls every configured source on its interval (or now, on request), stores
//! what it read with the source's cursor, and keeps each source's state for health and the UI.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::model::Event;
use crate::pipeline::Pipeline;
use crate::sources::PollSource;
use crate::store::{CursorUpdate, Store, StoreError, WriteSummary};

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
    sources: Arc<Vec<String>>,
    control: Arc<Control>,
}

/// Run-time switches of the monitor (seed: `monitor/start`, `monitor/stop`).
#[derive(Debug, Default)]
struct Control {
    paused: AtomicBool,
    /// Seconds between scheduled polls of every source; 0 = each source's own interval.
    interval_override: AtomicU64,
}

impl MonitorHandle {
    /// Queues a run of every source; false when a run is already queued.
    pub fn crawl_now(&self, run_id: String) -> bool {
        self.trigger.try_send(run_id).is_ok()
    }

    /// The configured sources' names.
    pub fn sources(&self) -> &[String] {
        &self.sources
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
        self.states.read().map(|s| s.clone()).unwrap_or_default()
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
}

impl Monitor {
    /// A monitor over `sources`, and the handle to trigger it.
    pub fn new(
        store: Store,
        pipeline: Arc<Pipeline>,
        sources: Vec<Arc<dyn PollSource>>,
    ) -> (Monitor, MonitorHandle) {
        let (tx, rx) = mpsc::channel(1);
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
            sources: Arc::new(sources.iter().map(|s| s.name().to_string()).collect()),
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
            },
            handle,
        )
    }

    /// Runs until `shutdown` is cancelled; a poll in progress finishes first.
    pub async fn run(mut self, shutdown: CancellationToken) {
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
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep_until(wake) => {
                    let now = tokio::time::Instant::now();
                    let paused = self.control.paused.load(Ordering::Relaxed);
                    for (i, due) in next_due.iter_mut().enumerate() {
                        if *due <= now {
                            if !paused {
                                // Failures are recorded in the source state and logged by poll_source.
                                let _ = self.poll_source(i, &shutdown).await;
                            }
                            *due = tokio::time::Instant::now() + self.interval_of(i);
                        }
                    }
                }
                Some(run_id) = self.trigger.recv() => {
                    let started = Utc::now();
                    if let Err(e) = self.store.start_run(&run_id, "api", started).await {
                        tracing::warn!(error = %e, "could not record crawl run");
                    }
                    let mut events = 0;
                    let mut errors = Vec::new();
                    for (i, due) in next_due.iter_mut().enumerate() {
                        match self.poll_source(i, &shutdown).await {
                            Ok(n) => events += n,
                            Err(e) => errors.push(format!("{}: {e}", self.sources[i].name())),
                        }
                        *due = tokio::time::Instant::now() + self.interval_of(i);
                    }
                    let error = (!errors.is_empty()).then(|| errors.join("; "));
                    if let Err(e) = self.store.finish_run(&run_id, Utc::now(), events, error.as_deref()).await {
                        tracing::warn!(error = %e, "could not record crawl run");
                    }
                }
            }
        }
    }

    /// The interval of source `i`: the override set by `start`, else its own.
    fn interval_of(&self, i: usize) -> Duration {
        match self.control.interval_override.load(Ordering::Relaxed) {
            0 => self.sources[i].interval(),
            s => Duration::from_secs(s),
        }
    }

    /// Polls one source until it has no backlog; returns how many events were stored.
    async fn poll_source(
        &self,
        index: usize,
        shutdown: &CancellationToken,
    ) -> Result<usize, String> {
        let source = &self.sources[index];
        let name = source.name().to_string();
        let mut stored = 0;
        let result = loop {
            match poll_once(&self.store, &self.pipeline, source.as_ref()).await {
                Ok((n, more)) => {
                    stored += n;
                    if !more || shutdown.is_cancelled() {
                        break Ok(stored);
                    }
                }
                Err(e) => break Err(e),
            }
        };
        let now = Utc::now();
        if let Ok(mut states) = self.states.write() {
            let state = states.entry(name.clone()).or_default();
            state.last_run = Some(now);
            state.events += stored as u64;
            match &result {
                Ok(_) => {
                    state.last_success = Some(now);
                    state.last_error = None;
                    state.failures = 0;
                }
                Err(e) => {
                    state.last_error = Some(e.clone());
                    state.failures += 1;
                }
            }
        }
        let outcome = if result.is_ok() { "ok" } else { "error" };
        metrics::counter!("signalbox_source_polls_total", "source" => name.clone(), "outcome" => outcome)
            .increment(1);
        if let Err(e) = &result {
            tracing::warn!(source = %name, error = %e, "poll failed; retrying at the next interval");
        }
        result
    }
}

/// One poll: read after the stored cursor, store events and the new cursor together.
async fn poll_once(
    store: &Store,
    pipeline: &Pipeline,
    source: &dyn PollSource,
) -> Result<(usize, bool), String> {
    let cursor = store
        .cursor(source.name())
        .await
        .map_err(|e| e.to_string())?;
    let batch = source
        .poll(cursor.as_deref(), Utc::now())
        .await
        .map_err(|e| e.to_string())?;
    let update = CursorUpdate {
        source: source.name().to_string(),
        cursor: batch.cursor,
    };
    let summary = store_events(store, pipeline, source.name(), batch.events, Some(&update))
        .await
        .map_err(|e| e.to_string())?;
    Ok((summary.accepted, batch.more))
}
