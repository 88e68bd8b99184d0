//! Check rules: alerts decided on measurements (a probe's runs, Signalbox's own memory, error
//! rate and source lag) rather than on log events. Pure functions over one reading and the
//! (rule, key) state, like the event rules.
//!
//! A check rule fires when its condition starts to hold (an *incident*), stays quiet while it
//! keeps holding, and is armed again once it clears: a probe down for a day is one alert, not
//! one per cooldown. The cooldown still applies between incidents, so a flapping target does
//! not page every other minute.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};

use super::engine::{Compiled, Counts, KeyState};
use crate::model::AlertRuleType;

/// Default thresholds (the seed's).
pub const PROBE_DOWN_FAILURES: u32 = 3;
pub const PROBE_SLOW_MS: u32 = 5_000;
pub const PROBE_SLOW_WINDOW_MINUTES: u32 = 5;
/// A p95 over fewer runs than this is not judged (one slow answer is not "slow").
pub const PROBE_SLOW_MIN_RUNS: usize = 3;
pub const CERT_EXPIRING_DAYS: u32 = 14;
pub const DNS_FAILURES: u32 = 1;
pub const SELF_MEMORY_PERCENT: f64 = 80.0;
pub const SELF_ERROR_RATE_PERCENT: f64 = 1.0;
pub const SELF_ERROR_RATE_WINDOW_MINUTES: u32 = 5;
/// Fewer requests than this in the window are not judged.
pub const SELF_ERROR_RATE_MIN_REQUESTS: u32 = 20;
pub const CRAWLER_LAG_SECONDS: u32 = 900;
pub const DEPLOY_FAILED_CHECKS: u32 = 1;
pub const DEPLOY_NEW_GROUPS: u32 = 1;

/// What was measured, in the shape its rule type judges.
#[derive(Debug, Clone, PartialEq)]
pub enum Measure<'a> {
    /// A number judged as is: consecutive failures, days left, percent of memory, seconds.
    Value(f64),
    /// Timed latencies (ms); the rule takes the p95 of those in its window.
    Latencies(&'a [(DateTime<Utc>, f64)]),
    /// Per-minute counts (Unix minutes; `errors` of `lines`); the rule takes the rate over its
    /// window.
    Minutes(&'a BTreeMap<i64, Counts>),
}

/// One measurement for the check rules of `rule_type`.
#[derive(Debug, Clone, PartialEq)]
pub struct Reading<'a> {
    pub rule_type: AlertRuleType,
    /// What it is about: a probe's name, `signalbox`, a source's name. Alerts carry it as
    /// their `service`, and a rule's `condition.service` scopes on it.
    pub key: &'a str,
    pub measure: Measure<'a>,
    /// Said after the summary when the rule fires (the last error, the URL …).
    pub detail: Option<&'a str>,
    /// When it was measured (windows end here).
    pub at: DateTime<Utc>,
}

impl Compiled {
    /// Whether this check rule judges `reading`.
    pub fn applies(&self, reading: &Reading<'_>) -> bool {
        self.rule.enabled
            && self.rule.rule_type == reading.rule_type
            && self
                .rule
                .condition
                .service
                .as_deref()
                .is_none_or(|s| s == reading.key)
    }

    /// Judges `reading` (which [`Compiled::applies`] to) against the rule's threshold and
    /// returns the summary when an incident starts; `now` is the cooldown clock.
    pub fn judge(
        &self,
        state: &mut KeyState,
        reading: &Reading<'_>,
        now: DateTime<Utc>,
    ) -> Option<String> {
        let Some(breach) = self.breach(reading) else {
            state.active = false;
            return None;
        };
        if state.active {
            return None;
        }
        let cooling = state
            .last_fired
            .is_some_and(|at| now < at + Duration::minutes(i64::from(self.rule.cooldown_minutes)));
        if cooling {
            return None;
        }
        state.active = true;
        state.last_fired = Some(now);
        Some(match reading.detail {
            Some(detail) if !detail.is_empty() => format!("{}: {breach} — {detail}", reading.key),
            _ => format!("{}: {breach}", reading.key),
        })
    }

    /// The breach `reading` shows, in words, or `None` when the condition does not hold.
    pub fn breach(&self, reading: &Reading<'_>) -> Option<String> {
        let c = &self.rule.condition;
        let threshold = |default: u32| c.threshold.unwrap_or(default);
        let percent = |default: f64| c.percent.unwrap_or(default);
        let window = |default: u32| c.window_minutes.unwrap_or(default).max(1);
        match (self.rule.rule_type, &reading.measure) {
            (AlertRuleType::ProbeDown, Measure::Value(failures)) => {
                let t = threshold(PROBE_DOWN_FAILURES);
                (*failures >= f64::from(t))
                    .then(|| format!("down, {failures} failed checks in a row (threshold {t})"))
            }
            (AlertRuleType::DnsFailure, Measure::Value(failures)) => {
                let t = threshold(DNS_FAILURES);
                (*failures >= f64::from(t)).then(|| {
                    format!("host name did not resolve, {failures} times in a row (threshold {t})")
                })
            }
            (AlertRuleType::CertExpiring, Measure::Value(days)) => {
                let t = threshold(CERT_EXPIRING_DAYS);
                (*days < f64::from(t)).then(|| {
                    if *days < 0.0 {
                        format!("TLS certificate expired {:.1} days ago", -days)
                    } else {
                        format!("TLS certificate expires in {days:.1} days (threshold {t})")
                    }
                })
            }
            (AlertRuleType::ProbeSlow, Measure::Latencies(samples)) => {
                let t = threshold(PROBE_SLOW_MS);
                let w = window(PROBE_SLOW_WINDOW_MINUTES);
                let since = reading.at - Duration::minutes(i64::from(w));
                let mut recent: Vec<f64> = samples
                    .iter()
                    .filter(|(at, _)| *at > since && *at <= reading.at)
                    .map(|(_, ms)| *ms)
                    .collect();
                if recent.len() < PROBE_SLOW_MIN_RUNS {
                    return None;
                }
                let p95 = percentile(&mut recent, 95.0)?;
                (p95 > f64::from(t))
                    .then(|| format!("slow, p95 {p95:.0} ms over {w} min (threshold {t} ms)"))
            }
            (AlertRuleType::SelfMemory, Measure::Value(used)) => {
                let p = percent(SELF_MEMORY_PERCENT);
                (*used > p).then(|| format!("memory at {used:.1}% of its limit (threshold {p}%)"))
            }
            (AlertRuleType::SelfErrorRate, Measure::Minutes(minutes)) => {
                let p = percent(SELF_ERROR_RATE_PERCENT);
                let w = i64::from(window(SELF_ERROR_RATE_WINDOW_MINUTES));
                let min = threshold(SELF_ERROR_RATE_MIN_REQUESTS);
                let end = reading.at.timestamp().div_euclid(60);
                let (errors, requests) = minutes
                    .range(end - w + 1..=end)
                    .fold((0u64, 0u64), |(e, r), (_, c)| {
                        (e + u64::from(c.errors), r + u64::from(c.lines))
                    });
                let rate = if requests == 0 {
                    0.0
                } else {
                    errors as f64 * 100.0 / requests as f64
                };
                (requests >= u64::from(min) && rate > p).then(|| {
                    format!(
                        "{rate:.1}% of {requests} requests failed over {w} min (threshold {p}%)"
                    )
                })
            }
            (AlertRuleType::DeployCheckFailed, Measure::Value(failed)) => {
                let t = threshold(DEPLOY_FAILED_CHECKS);
                (*failed >= f64::from(t))
                    .then(|| format!("{failed} deploy checks failed (threshold {t})"))
            }
            (AlertRuleType::DeployNewGroups, Measure::Value(groups)) => {
                let t = threshold(DEPLOY_NEW_GROUPS);
                (*groups >= f64::from(t))
                    .then(|| format!("introduced {groups} new error groups (threshold {t})"))
            }
            (AlertRuleType::CrawlerLag, Measure::Value(seconds)) => {
                let t = threshold(CRAWLER_LAG_SECONDS);
                (*seconds > f64::from(t))
                    .then(|| format!("not read completely for {seconds:.0} s (threshold {t} s)"))
            }
            _ => None,
        }
    }
}

/// The `q`-th percentile (0–100) of `values` by the nearest-rank method; sorts `values`.
pub fn percentile(values: &mut [f64], q: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let rank = ((q / 100.0) * values.len() as f64).ceil() as usize;
    values.get(rank.clamp(1, values.len()) - 1).copied()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::AlertCondition;
    use crate::rules::engine::tests::{at, rule};

    fn value(rule_type: AlertRuleType, v: f64) -> Reading<'static> {
        Reading {
            rule_type,
            key: "api",
            measure: Measure::Value(v),
            detail: None,
            at: at(0),
        }
    }

    #[test]
    fn thresholds_by_rule_type() {
        use AlertRuleType::*;
        let none = AlertCondition::default;
        let with = |threshold| AlertCondition {
            threshold: Some(threshold),
            ..AlertCondition::default()
        };
        // (rule type, condition, measured value, breached)
        let cases = [
            (ProbeDown, none(), 2.0, false),
            (ProbeDown, none(), 3.0, true),
            (ProbeDown, with(1), 1.0, true),
            (DnsFailure, none(), 0.0, false),
            (DnsFailure, none(), 1.0, true),
            (CertExpiring, none(), 14.0, false),
            (CertExpiring, none(), 13.9, true),
            (CertExpiring, none(), -1.0, true),
            (CertExpiring, with(30), 20.0, true),
            (SelfMemory, none(), 80.0, false),
            (SelfMemory, none(), 80.5, true),
            (CrawlerLag, none(), 900.0, false),
            (CrawlerLag, none(), 901.0, true),
            (CrawlerLag, with(60), 61.0, true),
            (DeployCheckFailed, none(), 0.0, false),
            (DeployCheckFailed, none(), 1.0, true),
            (DeployNewGroups, none(), 0.0, false),
            (DeployNewGroups, with(3), 2.0, false),
            (DeployNewGroups, with(3), 3.0, true),
        ];
        for (rule_type, condition, v, breached) in cases {
            let r = rule(rule_type, condition.clone());
            assert_eq!(
                r.breach(&value(rule_type, v)).is_some(),
                breached,
                "{rule_type:?} {condition:?} {v}"
            );
        }
    }

    #[test]
    fn a_reading_of_another_shape_or_type_is_not_judged() {
        let r = rule(AlertRuleType::ProbeDown, AlertCondition::default());
        assert!(!r.applies(&value(AlertRuleType::CertExpiring, 1.0)));
        let samples = [(at(0), 9_000.0)];
        let wrong = Reading {
            measure: Measure::Latencies(&samples),
            ..value(AlertRuleType::ProbeDown, 0.0)
        };
        assert_eq!(r.breach(&wrong), None);
        let scoped = rule(
            AlertRuleType::ProbeDown,
            AlertCondition {
                service: Some("checkout".into()),
                ..AlertCondition::default()
            },
        );
        assert!(!scoped.applies(&value(AlertRuleType::ProbeDown, 5.0)));
        assert!(r.applies(&value(AlertRuleType::ProbeDown, 5.0)));
    }

    #[test]
    fn slow_is_the_p95_of_the_window_with_enough_runs() {
        let r = rule(AlertRuleType::ProbeSlow, AlertCondition::default());
        let reading = |samples: &'static [(DateTime<Utc>, f64)]| Reading {
            rule_type: AlertRuleType::ProbeSlow,
            key: "api",
            measure: Measure::Latencies(samples),
            detail: None,
            at: at(600),
        };
        // Two slow runs only: not enough to judge.
        let few: &'static [(DateTime<Utc>, f64)] =
            Box::leak(Box::new([(at(590), 9_000.0), (at(595), 9_000.0)]));
        assert_eq!(r.breach(&reading(few)), None);
        // 20 runs in the window, one slow: p95 is the 19th fastest → fine.
        let one_slow: Vec<_> = (0..20)
            .map(|i| (at(400 + i * 10), if i == 5 { 9_000.0 } else { 100.0 }))
            .collect();
        let one_slow: &'static [_] = Box::leak(one_slow.into_boxed_slice());
        assert_eq!(r.breach(&reading(one_slow)), None);
        // Every run slow, but all older than the 5-minute window: not judged.
        let old: Vec<_> = (0..10).map(|i| (at(i * 10), 9_000.0)).collect();
        let old: &'static [_] = Box::leak(old.into_boxed_slice());
        assert_eq!(r.breach(&reading(old)), None);
        // Two slow of 20: p95 is slow.
        let two_slow: Vec<_> = (0..20)
            .map(|i| (at(400 + i * 10), if i < 2 { 6_000.0 } else { 100.0 }))
            .collect();
        let two_slow: &'static [_] = Box::leak(two_slow.into_boxed_slice());
        let said = r.breach(&reading(two_slow)).expect("slow");
        assert!(said.contains("p95 6000 ms"), "{said}");
    }

    #[test]
    fn self_error_rate_needs_volume_and_more_than_the_percentage() {
        let r = rule(AlertRuleType::SelfErrorRate, AlertCondition::default());
        let minute = at(0).timestamp().div_euclid(60);
        let judge = |counts: &[(i64, u32, u32)]| {
            let minutes: BTreeMap<i64, Counts> = counts
                .iter()
                .map(|(m, errors, lines)| {
                    (
                        minute + m,
                        Counts {
                            errors: *errors,
                            lines: *lines,
                        },
                    )
                })
                .collect();
            r.breach(&Reading {
                rule_type: AlertRuleType::SelfErrorRate,
                key: "signalbox",
                measure: Measure::Minutes(&minutes),
                detail: None,
                at: at(0),
            })
            .is_some()
        };
        assert!(!judge(&[(0, 1, 100)]), "exactly 1 %");
        assert!(judge(&[(0, 2, 100)]), "2 %");
        assert!(!judge(&[(0, 5, 10)]), "too few requests");
        assert!(judge(&[(-4, 3, 50), (0, 0, 50)]), "summed over the window");
        assert!(!judge(&[(-5, 30, 50), (0, 0, 50)]), "older than the window");
    }

    #[test]
    fn one_alert_per_incident_and_the_cooldown_between_incidents() {
        let r = rule(AlertRuleType::ProbeDown, AlertCondition::default());
        let mut s = KeyState::default();
        // (minute, consecutive failures, fires)
        let steps = [
            (0, 1.0, false),
            (1, 2.0, false),
            (2, 3.0, true),
            (3, 4.0, false), // still down: same incident
            (4, 0.0, false), // up again: armed
            (5, 3.0, false), // down again, within the 30 min cooldown
            (6, 4.0, false),
            (40, 5.0, true), // cooldown over, still down: a new alert
            (41, 0.0, false),
            (80, 3.0, true),
        ];
        for (minute, failures, fires) in steps {
            let reading = Reading {
                at: at(minute * 60),
                ..value(AlertRuleType::ProbeDown, failures)
            };
            assert_eq!(
                r.judge(&mut s, &reading, at(minute * 60)).is_some(),
                fires,
                "minute {minute}"
            );
        }
    }

    #[test]
    fn the_summary_names_the_key_and_the_detail() {
        let r = rule(AlertRuleType::ProbeDown, AlertCondition::default());
        let reading = Reading {
            detail: Some("HTTP 503 from https://api.example.com/health"),
            ..value(AlertRuleType::ProbeDown, 3.0)
        };
        assert_eq!(
            r.judge(&mut KeyState::default(), &reading, at(0)).as_deref(),
            Some("api: down, 3 failed checks in a row (threshold 3) — HTTP 503 from https://api.example.com/health")
        );
    }

    #[test]
    fn percentiles_by_nearest_rank() {
        let cases: [(&[f64], f64, Option<f64>); 5] = [
            (&[], 50.0, None),
            (&[7.0], 95.0, Some(7.0)),
            (&[3.0, 1.0, 2.0], 50.0, Some(2.0)),
            (&[1.0, 2.0, 3.0, 4.0], 50.0, Some(2.0)),
            (
                &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 100.0],
                95.0,
                Some(100.0),
            ),
        ];
        for (values, q, expected) in cases {
            assert_eq!(
                percentile(&mut values.to_vec(), q),
                expected,
                "{values:?} {q}"
            );
        }
    }
}
