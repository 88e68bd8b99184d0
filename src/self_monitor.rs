//! Signalbox watching itself: its memory against its cgroup's limit, the share of its own
//! HTTP requests that failed, and how far behind each source is. Every 30 seconds these become
//! readings for the check rules (`self_memory`, `self_error_rate`, `crawler_lag`), so they
//! alert through the same rules, alerts and notification outbox as everything else.

use std::collections::BTreeMap;
use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio_util::sync::CancellationToken;

use crate::monitor::MonitorHandle;
use crate::rules::{Counts, Measure, Reading};
use crate::store::Store;

/// The key of Signalbox's own readings (an alert's `service`).
pub const SELF_KEY: &str = "signalbox";
/// How often the readings are taken.
pub const INTERVAL: Duration = Duration::from_secs(30);
/// Minutes of request counts kept (the longest error-rate window a rule may ask for).
const KEPT_MINUTES: i64 = 60;

fn requests() -> &'static Mutex<BTreeMap<i64, Counts>> {
    static REQUESTS: OnceLock<Mutex<BTreeMap<i64, Counts>>> = OnceLock::new();
    REQUESTS.get_or_init(Default::default)
}

/// Counts one HTTP request Signalbox answered (`failed`: a 5xx) in its minute.
pub fn record_request(at: DateTime<Utc>, failed: bool) {
    let minute = at.timestamp().div_euclid(60);
    let mut counts = requests().lock().unwrap_or_else(PoisonError::into_inner);
    let c = counts.entry(minute).or_default();
    c.lines = c.lines.saturating_add(1);
    if failed {
        c.errors = c.errors.saturating_add(1);
    }
    if counts.len() as i64 > KEPT_MINUTES {
        counts.retain(|m, _| *m > minute - KEPT_MINUTES);
    }
}

fn request_minutes() -> BTreeMap<i64, Counts> {
    requests()
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone()
}

/// Percent of `limit` that `used` is, when there is a limit.
pub fn memory_percent(used: u64, limit: Option<u64>) -> Option<f64> {
    limit
        .filter(|l| *l > 0)
        .map(|l| used as f64 * 100.0 / l as f64)
}

/// What Signalbox measured about itself at one moment (owned; lent as readings).
#[derive(Debug, Clone, PartialEq)]
pub struct SelfFacts {
    pub at: DateTime<Utc>,
    /// Resident memory as a percent of the cgroup limit (`None`: no limit, not judged).
    pub memory_percent: Option<f64>,
    pub requests: BTreeMap<i64, Counts>,
    /// Seconds since each source was last read completely.
    pub lags: Vec<(String, f64)>,
}

impl SelfFacts {
    /// The readings the check rules judge.
    pub fn readings(&self) -> Vec<Reading<'_>> {
        let mut out = vec![Reading {
            rule_type: crate::model::AlertRuleType::SelfErrorRate,
            key: SELF_KEY,
            measure: Measure::Minutes(&self.requests),
            detail: None,
            at: self.at,
        }];
        if let Some(percent) = self.memory_percent {
            out.push(Reading {
                rule_type: crate::model::AlertRuleType::SelfMemory,
                key: SELF_KEY,
                measure: Measure::Value(percent),
                detail: None,
                at: self.at,
            });
        }
        for (source, lag) in &self.lags {
            out.push(Reading {
                rule_type: crate::model::AlertRuleType::CrawlerLag,
                key: source,
                measure: Measure::Value(*lag),
                detail: None,
                at: self.at,
            });
        }
        out
    }
}

/// Takes the readings now.
pub fn facts(monitor: Option<&MonitorHandle>, now: DateTime<Utc>) -> SelfFacts {
    SelfFacts {
        at: now,
        memory_percent: memory_percent(
            crate::sysinfo::rss_bytes(),
            crate::sysinfo::memory_limit_bytes(),
        ),
        requests: request_minutes(),
        lags: monitor
            .map(|m| {
                m.states()
                    .into_iter()
                    .filter_map(|(name, state)| state.lag_seconds.map(|lag| (name, lag)))
                    .collect()
            })
            .unwrap_or_default(),
    }
}

/// Every [`INTERVAL`] until `shutdown`: takes the readings and judges them. A database that
/// does not answer skips that round.
pub async fn run(store: Store, monitor: Option<MonitorHandle>, shutdown: CancellationToken) {
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(INTERVAL) => {}
        }
        let now = store.now();
        let facts = facts(monitor.as_ref(), now);
        if let Err(e) = store.judge_readings(&facts.readings(), now).await {
            tracing::warn!(error = %e, "self-monitoring: readings not judged; retrying later");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_percent_needs_a_limit() {
        assert_eq!(memory_percent(50, Some(200)), Some(25.0));
        assert_eq!(memory_percent(50, None), None);
        assert_eq!(memory_percent(50, Some(0)), None);
    }

    #[test]
    fn requests_are_counted_per_minute_with_failures() {
        let at = DateTime::from_timestamp(1_795_773_600, 0).expect("valid");
        let before = request_minutes()
            .get(&at.timestamp().div_euclid(60))
            .copied()
            .unwrap_or_default();
        record_request(at, false);
        record_request(at, true);
        let after = request_minutes()
            .get(&at.timestamp().div_euclid(60))
            .copied()
            .unwrap_or_default();
        assert_eq!(after.lines - before.lines, 2);
        assert_eq!(after.errors - before.errors, 1);
    }

    #[test]
    fn readings_cover_memory_only_with_a_limit_and_every_lagging_source() {
        let facts = SelfFacts {
            at: DateTime::from_timestamp(0, 0).expect("valid"),
            memory_percent: None,
            requests: BTreeMap::new(),
            lags: vec![("railway".into(), 12.0), ("loki".into(), 3.0)],
        };
        let keys: Vec<_> = facts
            .readings()
            .iter()
            .map(|r| (r.rule_type.as_str(), r.key))
            .collect();
        assert_eq!(
            keys,
            vec![
                ("self_error_rate", "signalbox"),
                ("crawler_lag", "railway"),
                ("crawler_lag", "loki")
            ]
        );
        let with_limit = SelfFacts {
            memory_percent: Some(85.0),
            ..facts
        };
        assert!(with_limit
            .readings()
            .iter()
            .any(|r| r.rule_type.as_str() == "self_memory" && r.measure == Measure::Value(85.0)));
    }
}
