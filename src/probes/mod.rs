//! Probes: Signalbox requests the URLs it is given on an interval and records whether they
//! answer as expected, how fast, when their TLS certificate expires and how their host name
//! resolves; the check rules (`rules::checks`) turn those runs into alerts — down, slow,
//! certificate expiring, DNS failure — through the same alerts, notifications and outbox as
//! the error rules.
//!
//! `spec` validates settings, `check` does one run (the only I/O besides the store),
//! `summary` and `cert` decide what runs mean; [`Prober`] schedules the runs. With several
//! replicas, one runs the probes (a lease, like the monitor's).

pub mod cert;
pub mod check;
pub mod spec;
pub mod summary;

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::model::{Alert, ProbeResult, ProbeTarget};
use crate::store::{Store, StoreError};

/// The lease that says which replica runs the probes.
pub const LEASE: &str = "probes";
/// How far back runs are read to judge a new one: the longest `probe_slow` window.
pub const JUDGED_MINUTES: i64 = 60;
/// At least this many of the newest runs are read, whenever they ran (runs in a row).
pub const JUDGED_RUNS: i64 = 50;

/// Runs `target` once now: requests it, stores the run and judges it with the check rules.
/// Returns the run and the alerts it fired.
pub async fn run_once(
    store: &Store,
    target: &ProbeTarget,
) -> Result<(ProbeResult, Vec<Alert>), StoreError> {
    let now = store.now();
    let result = check::run(target, now).await;
    let outcome = result.failure.map_or("ok", |f| f.as_str());
    metrics::counter!("signalbox_probe_runs_total", "probe" => target.name.clone(), "outcome" => outcome)
        .increment(1);
    store.record_probe_result(&result).await?;
    let recent = store
        .probe_results(
            target.id,
            now - chrono::Duration::minutes(JUDGED_MINUTES),
            JUDGED_RUNS,
        )
        .await?;
    let facts = summary::Facts::new(&target.name, &recent, now);
    let alerts = store.judge_readings(&facts.readings(), now).await?;
    Ok((result, alerts))
}

/// How long the prober keeps its list of targets before reading it again: targets change
/// rarely (through the API), and the loop ticks every second.
const TARGETS_REFRESH: Duration = Duration::from_secs(5);

/// Runs every enabled probe on its interval.
pub struct Prober {
    store: Store,
    holder: String,
    lease_ttl: Duration,
    tick: Duration,
}

impl Prober {
    pub fn new(store: Store, lease_ttl: Duration) -> Prober {
        Prober {
            store,
            holder: uuid::Uuid::new_v4().to_string(),
            lease_ttl,
            tick: Duration::from_secs(1),
        }
    }

    /// Runs until `shutdown`: every second, starts the probes that are due (one run of a
    /// probe at a time), while this replica holds the probes lease.
    pub async fn run(self, shutdown: CancellationToken) {
        let mut next_due: HashMap<i64, Instant> = HashMap::new();
        let mut in_flight: HashSet<i64> = HashSet::new();
        let mut running: JoinSet<i64> = JoinSet::new();
        let mut lease_checked: Option<Instant> = None;
        let mut leader = false;
        let mut targets: Vec<ProbeTarget> = Vec::new();
        let mut targets_read: Option<Instant> = None;
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = tokio::time::sleep(self.tick) => {}
            }
            while let Some(done) = running.try_join_next() {
                if let Ok(id) = done {
                    in_flight.remove(&id);
                }
            }
            if lease_checked.is_none_or(|at| at.elapsed() >= self.lease_ttl / 4) {
                lease_checked = Some(Instant::now());
                let ttl = chrono::Duration::from_std(self.lease_ttl)
                    .unwrap_or(chrono::Duration::seconds(20));
                leader = match self
                    .store
                    .acquire_lease(LEASE, &self.holder, chrono::Utc::now(), ttl)
                    .await
                {
                    Ok(held) => held,
                    Err(e) => {
                        tracing::warn!(error = %e, "probes: cannot renew the lease; pausing");
                        false
                    }
                };
            }
            if !leader {
                continue;
            }
            if targets_read.is_none_or(|at| at.elapsed() >= TARGETS_REFRESH) {
                match self.store.probe_targets().await {
                    Ok(read) => {
                        targets = read;
                        targets_read = Some(Instant::now());
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "probes: cannot read the targets; retrying");
                        continue;
                    }
                }
            }
            let now = Instant::now();
            next_due.retain(|id, _| targets.iter().any(|t| t.id == *id));
            for target in targets.iter().filter(|t| t.enabled) {
                let due = next_due.get(&target.id).is_none_or(|at| *at <= now);
                if !due || in_flight.contains(&target.id) {
                    continue;
                }
                next_due.insert(
                    target.id,
                    now + Duration::from_secs(u64::from(target.interval_seconds)),
                );
                in_flight.insert(target.id);
                let store = self.store.clone();
                let target = target.clone();
                running.spawn(async move {
                    if let Err(e) = run_once(&store, &target).await {
                        tracing::warn!(probe = %target.name, error = %e, "probe run not stored");
                    }
                    target.id
                });
            }
        }
        running.shutdown().await;
        if leader {
            let _ = self.store.release_lease(LEASE, &self.holder).await;
        }
    }
}
