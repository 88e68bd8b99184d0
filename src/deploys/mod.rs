//! Deploys and their verification. A deploy is one row per service and deployment id,
//! whether the platform listed it (Railway discovery) or only the logs named it (the write
//! path records those); System Health marks the ones that went live. The Railway source
//! reports the deployments of the watched services at each discovery; every new one that
//! reaches `SUCCESS` is checked once — health path, API endpoints, static assets, the
//! database as the app's detailed health reports it (`DEPLOY_CHECKS`) — and, for a window
//! after it, the error groups of its service first seen after it are counted. Failed checks
//! and new groups are readings for the check rules (`deploy_check_failed`,
//! `deploy_new_groups`), keyed `service@deploy`, so each deploy alerts at most once per rule
//! through the usual alerts and outbox.

pub mod compare;
pub mod spec;
pub mod verify;

use chrono::{DateTime, Duration, Utc};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::model::{Alert, AlertRuleType, Deploy, DeployReport};
use crate::rules::{Measure, Reading};
use crate::store::{Store, StoreError};

/// A deployment as the platform lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    pub id: String,
    pub service: String,
    pub status: String,
    pub created_at: DateTime<Utc>,
    pub url: Option<String>,
    /// The deployed commit, when the platform says.
    pub commit_sha: Option<String>,
}

/// Deployments created this long before the verifier first saw them are history: recorded,
/// not checked (Signalbox was not watching when they happened).
pub const HISTORY: Duration = Duration::minutes(15);
/// Default minutes compared on each side of a deploy.
pub const DEFAULT_WINDOW_MINUTES: u32 = 30;

/// The key of a deploy's readings and alerts: `web@abc1234`.
pub fn key(deploy: &Deploy) -> String {
    format!("{}@{}", deploy.service, deploy.short_id())
}

/// Checks new deployments and counts what they introduced.
pub struct Verifier {
    store: Store,
    checks: Vec<spec::DeployChecks>,
    window: Duration,
    started: DateTime<Utc>,
}

impl Verifier {
    pub fn new(store: Store, checks: Vec<spec::DeployChecks>, window_minutes: u32) -> Verifier {
        let started = store.now();
        Verifier {
            store,
            checks,
            window: Duration::minutes(i64::from(window_minutes.max(1))),
            started,
        }
    }

    /// Runs until `shutdown` (or until the source goes away): a step at each discovery and
    /// every minute (new groups keep being counted for the window after a deploy).
    pub async fn run(self, mut seen: watch::Receiver<Vec<Seen>>, shutdown: CancellationToken) {
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                changed = seen.changed() => if changed.is_err() { return },
                _ = tokio::time::sleep(std::time::Duration::from_secs(60)) => {}
            }
            let list = seen.borrow_and_update().clone();
            if let Err(e) = self.step(&list).await {
                tracing::warn!(error = %e, "deploy verification: step failed; retrying later");
            }
        }
    }

    /// Records `seen`, checks the deployments due, recounts recent deploys' new groups and
    /// judges them; returns the alerts fired.
    pub async fn step(&self, seen: &[Seen]) -> Result<Vec<Alert>, StoreError> {
        let now = self.store.now();
        self.store
            .record_deploys(seen, self.started - HISTORY, now)
            .await?;
        let mut facts: Vec<(String, AlertRuleType, f64)> = Vec::new();
        for deploy in self.store.deploys_to_check().await? {
            let entry = spec::for_service(&self.checks, &deploy.service);
            let plan = entry.map(|e| e.plan()).unwrap_or_default();
            let base = entry
                .and_then(|e| e.base_url.clone())
                .or_else(|| deploy.url.clone());
            let checks = match base {
                Some(base) if !plan.is_empty() => verify::run(&base, &plan).await,
                _ => Vec::new(),
            };
            let failed = checks.iter().filter(|c| !c.ok).count();
            self.store.save_deploy_checks(&deploy, &checks, now).await?;
            if !checks.is_empty() {
                facts.push((
                    key(&deploy),
                    AlertRuleType::DeployCheckFailed,
                    failed as f64,
                ));
            }
        }
        for deploy in self.store.deploys_since(now - self.window).await? {
            let n = self.store.count_new_groups(&deploy).await?;
            self.store.set_deploy_new_groups(&deploy, n).await?;
            facts.push((key(&deploy), AlertRuleType::DeployNewGroups, f64::from(n)));
        }
        let readings: Vec<Reading<'_>> = facts
            .iter()
            .map(|(key, rule_type, value)| Reading {
                rule_type: *rule_type,
                key,
                measure: Measure::Value(*value),
                detail: None,
                at: now,
            })
            .collect();
        self.store.judge_readings(&readings, now).await
    }
}

/// A deploy (of `service` when given, see [`Store::deploy`]) with its checks and the group
/// changes around it (windows of `window_minutes`).
pub async fn report(
    store: &Store,
    id: &str,
    service: Option<&str>,
    window_minutes: u32,
) -> Result<Option<DeployReport>, StoreError> {
    let Some(deploy) = store.deploy(id, service).await? else {
        return Ok(None);
    };
    let checks = store.deploy_checks(&deploy).await?;
    let now = store.now();
    let window = Duration::minutes(i64::from(window_minutes.max(1)));
    let end = store
        .next_deploy_at(&deploy)
        .await?
        .unwrap_or(now)
        .min(deploy.created_at + window)
        .max(deploy.created_at);
    let rows = store
        .group_counts_around(
            &deploy.service,
            deploy.created_at - window,
            deploy.created_at,
            end,
        )
        .await?;
    let after_minutes = (end - deploy.created_at).num_seconds() as f64 / 60.0;
    Ok(Some(DeployReport {
        summary: compare::summary(&deploy),
        changes: compare::changes(
            rows,
            deploy.created_at,
            window.num_minutes() as f64,
            after_minutes,
        ),
        window_minutes,
        deploy,
        checks,
    }))
}
