//! What a probe's recent runs say: its status for the API and the UI, and the readings its
//! check rules judge. Pure.

use chrono::{DateTime, Duration, Utc};

use super::cert;
use crate::model::AlertRuleType;
use crate::model::{LatencyWindow, ProbeFailure, ProbeResult, ProbeStatus, ProbeTarget};
use crate::rules::checks::percentile;
use crate::rules::{Measure, Reading};

/// The windows latency percentiles are given for: (label, length).
pub const WINDOWS: [(&str, i64); 2] = [("1h", 60), ("24h", 24 * 60)];

/// The status of `target` from its runs (`results`, any order, at least the last 24 hours), as
/// shown: the URL's secrets redacted.
pub fn status(target: &ProbeTarget, results: &[ProbeResult], now: DateTime<Utc>) -> ProbeStatus {
    let newest_first = newest_first(results);
    let last = newest_first.first().map(|r| (*r).clone());
    ProbeStatus {
        target: super::spec::redacted(target),
        consecutive_failures: consecutive(&newest_first, |r| !r.ok),
        cert_days_left: last
            .as_ref()
            .and_then(|r| r.cert_not_after)
            .map(|at| cert::days_left(at, now)),
        last,
        windows: WINDOWS
            .iter()
            .map(|(label, minutes)| window(label, results, now - Duration::minutes(*minutes)))
            .collect(),
    }
}

fn window(label: &str, results: &[ProbeResult], since: DateTime<Utc>) -> LatencyWindow {
    let inside: Vec<&ProbeResult> = results.iter().filter(|r| r.at > since).collect();
    let mut latencies: Vec<f64> = inside
        .iter()
        .filter(|r| r.ok)
        .filter_map(|r| r.latency_ms)
        .collect();
    LatencyWindow {
        window: label.to_string(),
        p50_ms: percentile(&mut latencies, 50.0),
        p95_ms: percentile(&mut latencies, 95.0),
        runs: inside.len() as u32,
        ok: inside.iter().filter(|r| r.ok).count() as u32,
    }
}

/// Newest first; runs of the same instant in reverse of the order given (the store gives
/// them in the order they were stored), so a clock that stood still or went back does not
/// reorder them.
fn newest_first(results: &[ProbeResult]) -> Vec<&ProbeResult> {
    let mut sorted: Vec<(usize, &ProbeResult)> = results.iter().enumerate().collect();
    sorted.sort_by_key(|(i, r)| std::cmp::Reverse((r.at, *i)));
    sorted.into_iter().map(|(_, r)| r).collect()
}

/// How many of the newest runs in a row `failed` says failed.
fn consecutive(newest_first: &[&ProbeResult], failed: impl Fn(&ProbeResult) -> bool) -> u32 {
    newest_first.iter().take_while(|r| failed(r)).count() as u32
}

/// What the check rules judge after a run of a probe: owned, then lent as [`Reading`]s.
#[derive(Debug, Clone, PartialEq)]
pub struct Facts {
    pub name: String,
    pub at: DateTime<Utc>,
    pub failures: u32,
    pub dns_failures: u32,
    /// Latencies of answered runs (any status), for the p95.
    pub latencies: Vec<(DateTime<Utc>, f64)>,
    pub cert_days: Option<f64>,
    /// The newest run's error.
    pub error: Option<String>,
}

impl Facts {
    /// The facts of probe `name` from its recent runs (any order, newest included).
    pub fn new(name: &str, results: &[ProbeResult], now: DateTime<Utc>) -> Facts {
        let newest_first = newest_first(results);
        let newest = newest_first.first();
        Facts {
            name: name.to_string(),
            at: now,
            failures: consecutive(&newest_first, |r| !r.ok),
            dns_failures: consecutive(&newest_first, |r| r.failure == Some(ProbeFailure::Dns)),
            latencies: results
                .iter()
                .filter(|r| r.status.is_some())
                .filter_map(|r| r.latency_ms.map(|ms| (r.at, ms)))
                .collect(),
            cert_days: newest
                .and_then(|r| r.cert_not_after)
                .map(|at| cert::days_left(at, now)),
            error: newest.and_then(|r| r.error.clone()),
        }
    }

    /// One reading per check rule type a probe feeds.
    pub fn readings(&self) -> Vec<Reading<'_>> {
        let reading = |rule_type, measure| Reading {
            rule_type,
            key: &self.name,
            measure,
            detail: self.error.as_deref(),
            at: self.at,
        };
        let mut out = vec![
            reading(
                AlertRuleType::ProbeDown,
                Measure::Value(f64::from(self.failures)),
            ),
            reading(
                AlertRuleType::DnsFailure,
                Measure::Value(f64::from(self.dns_failures)),
            ),
            reading(
                AlertRuleType::ProbeSlow,
                Measure::Latencies(&self.latencies),
            ),
        ];
        if let Some(days) = self.cert_days {
            out.push(Reading {
                detail: None,
                ..reading(AlertRuleType::CertExpiring, Measure::Value(days))
            });
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_795_773_600 + secs, 0).expect("valid")
    }

    fn run(secs: i64, failure: Option<ProbeFailure>, latency: Option<f64>) -> ProbeResult {
        ProbeResult {
            probe_id: 1,
            at: at(secs),
            ok: failure.is_none(),
            failure,
            error: failure.map(|f| format!("{} failed", f.as_str())),
            status: match failure {
                None => Some(200),
                Some(ProbeFailure::Status) => Some(503),
                _ => None,
            },
            latency_ms: latency,
            dns_ms: Some(1.0),
            dns_addresses: Some("127.0.0.1".into()),
            cert_not_after: Some(at(secs) + Duration::days(10)),
        }
    }

    fn target() -> ProbeTarget {
        ProbeTarget {
            id: 1,
            name: "api".into(),
            url: "https://api.example.com/".into(),
            interval_seconds: 60,
            timeout_ms: 1000,
            expected_status: 200,
            body_contains: None,
            tls_verify: true,
            enabled: true,
            created_at: at(-100_000),
        }
    }

    #[test]
    fn status_shows_the_url_without_its_secrets() {
        let secret = ProbeTarget {
            url: "https://u:pw@api.example.com/health?token=abc".into(),
            ..target()
        };
        let s = status(&secret, &[], at(0));
        assert_eq!(
            s.target.url,
            "https://u:***@api.example.com/health?token=***"
        );
        assert_eq!(status(&target(), &[], at(0)).target, target());
    }

    #[test]
    fn status_counts_failures_since_the_last_success_and_windows() {
        let results = vec![
            run(-7200, None, Some(500.0)), // only in the 24 h window
            run(-120, None, Some(10.0)),
            run(-60, Some(ProbeFailure::Status), Some(20.0)),
            run(0, Some(ProbeFailure::Timeout), None),
        ];
        let s = status(&target(), &results, at(0));
        assert_eq!(s.consecutive_failures, 2);
        assert_eq!(s.last.as_ref().map(|r| r.at), Some(at(0)));
        assert_eq!(s.cert_days_left, Some(10.0));
        let w: Vec<_> = s
            .windows
            .iter()
            .map(|w| (w.window.as_str(), w.p50_ms, w.p95_ms, w.runs, w.ok))
            .collect();
        assert_eq!(
            w,
            vec![
                ("1h", Some(10.0), Some(10.0), 3, 1),
                ("24h", Some(10.0), Some(500.0), 4, 2),
            ]
        );
        let empty = status(&target(), &[], at(0));
        assert_eq!(empty.consecutive_failures, 0);
        assert_eq!(empty.windows[0].p95_ms, None);
    }

    #[test]
    fn facts_feed_one_reading_per_rule_type() {
        let results = vec![
            run(-120, None, Some(10.0)),
            run(-60, Some(ProbeFailure::Dns), None),
            run(0, Some(ProbeFailure::Dns), None),
        ];
        let facts = Facts::new("api", &results, at(0));
        assert_eq!((facts.failures, facts.dns_failures), (2, 2));
        assert_eq!(facts.latencies, vec![(at(-120), 10.0)]);
        let readings = facts.readings();
        let types: Vec<_> = readings.iter().map(|r| r.rule_type).collect();
        assert_eq!(
            types,
            vec![
                AlertRuleType::ProbeDown,
                AlertRuleType::DnsFailure,
                AlertRuleType::ProbeSlow,
                AlertRuleType::CertExpiring
            ]
        );
        assert_eq!(readings[0].measure, Measure::Value(2.0));
        assert_eq!(readings[0].detail, Some("dns failed"));
        // Without a certificate (http), no certificate reading.
        let mut plain = run(0, None, Some(5.0));
        plain.cert_not_after = None;
        assert_eq!(Facts::new("api", &[plain], at(0)).readings().len(), 3);
    }
}
