//! Deciding when a rule fires: pure functions over one observation and the (rule, key) state.
//!
//! Windows count by EVENT time, in whole minutes, so a late or out-of-order event is counted in
//! the minute it happened; cooldowns run on the evaluation clock (`now`), so a rule that just
//! fired stays quiet for `cooldown_minutes` whatever the events' timestamps say. The state is
//! small (a few minute buckets and the last firing) and serializable: the store keeps it with
//! the events it counted, so a restart in the middle of a window loses nothing.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::model::{AlertRule, AlertRuleType, Category, Level, Severity};

/// One stored event, as the rules see it.
#[derive(Debug, Clone, PartialEq)]
pub struct Observation<'a> {
    /// When the event happened.
    pub at: DateTime<Utc>,
    pub level: Level,
    pub service: Option<&'a str>,
    pub environment: Option<&'a str>,
    /// The group, for error and critical events.
    pub group: Option<GroupFacts<'a>>,
}

/// What the rules know about an event's group.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupFacts<'a> {
    pub fingerprint: &'a str,
    pub template: &'a str,
    pub message: &'a str,
    pub category: Category,
    pub severity: Severity,
    /// The group did not exist before this event's batch (true for its first event only).
    pub new: bool,
    /// The group was resolved and occurs again (true for its first event in the batch only).
    pub regressed: bool,
}

/// Counts of one minute.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// Events of the group (group rules), or error events of the service (error rate).
    #[serde(rename = "e", default)]
    pub errors: u32,
    /// All log lines of the service (error rate only).
    #[serde(rename = "l", default, skip_serializing_if = "is_zero")]
    pub lines: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// The state of one rule for one key (a group, or a service for the error rate).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct KeyState {
    /// Per minute (Unix minutes), only those the rule's window can still use.
    #[serde(rename = "m", default)]
    pub minutes: BTreeMap<i64, Counts>,
    /// When the rule last fired for this key.
    #[serde(rename = "f", default)]
    pub last_fired: Option<DateTime<Utc>>,
    /// Check rules: an incident is open (the condition held at the last reading).
    #[serde(rename = "a", default, skip_serializing_if = "std::ops::Not::not")]
    pub active: bool,
}

/// A rule ready to evaluate (its pattern compiled).
#[derive(Debug, Clone)]
pub struct Compiled {
    pub rule: AlertRule,
    pattern: Option<Regex>,
}

/// Default thresholds of the seed.
pub const SPIKE_THRESHOLD: u32 = 10;
pub const SPIKE_WINDOW_MINUTES: u32 = 1;
pub const SUSTAINED_MINUTES: u32 = 5;
pub const ERROR_RATE_PERCENT: f64 = 1.0;
pub const ERROR_RATE_WINDOW_MINUTES: u32 = 5;
/// The error rate of a service with fewer lines than this in the window is not judged (two
/// lines of which one is an error are not a 50 % error rate worth waking someone for).
pub const ERROR_RATE_MIN_LINES: u32 = 100;

impl Compiled {
    /// Compiles a rule; the error names the field that is wrong.
    pub fn new(rule: AlertRule) -> Result<Compiled, (String, String)> {
        let pattern = match &rule.condition.pattern {
            Some(p) => Some(
                regex::RegexBuilder::new(p)
                    .size_limit(1 << 20)
                    .build()
                    .map_err(|e| ("condition.pattern".to_string(), e.to_string()))?,
            ),
            None => None,
        };
        validate(&rule)?;
        Ok(Compiled { rule, pattern })
    }

    /// The key this rule counts an observation under, or `None` when it does not apply.
    pub fn key(&self, obs: &Observation<'_>) -> Option<String> {
        let c = &self.rule.condition;
        if !self.rule.enabled || self.rule.rule_type.is_check() {
            return None;
        }
        if c.service.as_deref().is_some_and(|s| obs.service != Some(s)) {
            return None;
        }
        if c.environment
            .as_deref()
            .is_some_and(|e| obs.environment != Some(e))
        {
            return None;
        }
        if c.level.is_some_and(|l| obs.level < l) {
            return None;
        }
        if self.rule.rule_type == AlertRuleType::ErrorRate {
            // Every line of the service counts; the group scopes do not apply.
            return Some(obs.service.unwrap_or("").to_string());
        }
        let group = obs.group.as_ref()?;
        if c.category.is_some_and(|cat| group.category != cat) {
            return None;
        }
        if c.severity
            .is_some_and(|s| severity_rank(group.severity) < severity_rank(s))
        {
            return None;
        }
        if let Some(p) = &self.pattern {
            if !p.is_match(group.template) && !p.is_match(group.message) {
                return None;
            }
        }
        Some(group.fingerprint.to_string())
    }

    /// Counts `obs` (which [`Compiled::key`] mapped to `state`'s key) and says whether the rule
    /// fires, with a one-line summary. `now` is the evaluation clock (cooldowns).
    pub fn observe(
        &self,
        state: &mut KeyState,
        obs: &Observation<'_>,
        now: DateTime<Utc>,
    ) -> Option<String> {
        let c = &self.rule.condition;
        let minute = obs.at.timestamp().div_euclid(60);
        let window = i64::from(self.window_minutes());
        // Counting: a minute older than the window of the newest minute is history.
        let newest = state
            .minutes
            .keys()
            .next_back()
            .copied()
            .unwrap_or(minute)
            .max(minute);
        let counted = minute > newest - window;
        if counted && self.counts() {
            let counts = state.minutes.entry(minute).or_default();
            match obs.group {
                Some(_) if obs.level >= Level::Error => counts.errors += 1,
                _ if self.rule.rule_type == AlertRuleType::ErrorRate
                    && obs.level >= Level::Error =>
                {
                    counts.errors += 1
                }
                _ => {}
            }
            if self.rule.rule_type == AlertRuleType::ErrorRate {
                counts.lines += 1;
            }
        }
        state.minutes.retain(|m, _| *m > newest - window);

        let summary = match self.rule.rule_type {
            AlertRuleType::NewFingerprint => obs
                .group
                .as_ref()
                .filter(|g| g.new)
                .map(|_| "first occurrence of a new error".to_string()),
            AlertRuleType::Regression => obs
                .group
                .as_ref()
                .filter(|g| g.regressed)
                .map(|_| "a resolved error occurred again".to_string()),
            AlertRuleType::Critical => {
                (obs.level >= Level::Critical).then(|| "a critical event".to_string())
            }
            AlertRuleType::Spike => {
                let threshold = c.threshold.unwrap_or(SPIKE_THRESHOLD);
                // Any window holding this event's minute (a late event completes old windows).
                windows_with(minute, newest, window)
                    .filter(|_| counted)
                    .map(|end| window_sum(state, end, window, |c| c.errors))
                    .find(|count| *count >= threshold)
                    .map(|count| format!("{count} events in {window} min (threshold {threshold})"))
            }
            AlertRuleType::Sustained => windows_with(minute, newest, window)
                .filter(|_| counted)
                .find(|end| {
                    (end - window + 1..=*end)
                        .all(|m| state.minutes.get(&m).is_some_and(|c| c.errors > 0))
                })
                .map(|_| format!("occurring every minute for {window} minutes")),
            AlertRuleType::ErrorRate => {
                let errors = window_sum(state, minute, window, |c| c.errors);
                let lines = window_sum(state, minute, window, |c| c.lines);
                let percent = c.percent.unwrap_or(ERROR_RATE_PERCENT);
                let min_lines = c.threshold.unwrap_or(ERROR_RATE_MIN_LINES);
                let rate = if lines == 0 {
                    0.0
                } else {
                    f64::from(errors) * 100.0 / f64::from(lines)
                };
                (counted && lines >= min_lines && rate > percent).then(|| {
                    format!("{rate:.1}% of {lines} lines are errors over {window} min (threshold {percent}%)")
                })
            }
            // Judged on readings (`rules::checks`), never on events.
            _ => None,
        }?;
        let cooling = state.last_fired.is_some_and(|at| {
            now < at + chrono::Duration::minutes(i64::from(self.rule.cooldown_minutes))
        });
        if cooling {
            return None;
        }
        state.last_fired = Some(now);
        Some(summary)
    }

    /// The window, in minutes (1 for rules without one).
    fn window_minutes(&self) -> u32 {
        let c = &self.rule.condition;
        match self.rule.rule_type {
            AlertRuleType::Spike => c.window_minutes.unwrap_or(SPIKE_WINDOW_MINUTES),
            AlertRuleType::Sustained => c.minutes.unwrap_or(SUSTAINED_MINUTES),
            AlertRuleType::ErrorRate => c.window_minutes.unwrap_or(ERROR_RATE_WINDOW_MINUTES),
            _ => 1,
        }
        .max(1)
    }

    /// Whether the rule keeps minute counts.
    fn counts(&self) -> bool {
        matches!(
            self.rule.rule_type,
            AlertRuleType::Spike | AlertRuleType::Sustained | AlertRuleType::ErrorRate
        )
    }
}

/// The ends of the windows of `window` minutes that hold `minute`, up to the newest minute.
fn windows_with(minute: i64, newest: i64, window: i64) -> impl Iterator<Item = i64> {
    minute..=(minute + window - 1).min(newest)
}

fn window_sum(state: &KeyState, minute: i64, window: i64, f: impl Fn(&Counts) -> u32) -> u32 {
    state
        .minutes
        .range(minute - window + 1..=minute)
        .map(|(_, c)| f(c))
        .sum()
}

fn severity_rank(s: Severity) -> u8 {
    match s {
        Severity::Info => 0,
        Severity::Low => 1,
        Severity::Medium => 2,
        Severity::High => 3,
        Severity::Critical => 4,
    }
}

/// Checks a rule's fields; the error names the field and says what is wrong.
pub fn validate(rule: &AlertRule) -> Result<(), (String, String)> {
    let bad = |field: &str, why: &str| Err((field.to_string(), why.to_string()));
    let c = &rule.condition;
    if rule.name.trim().is_empty() || rule.name.len() > 200 {
        return bad("name", "must be 1 to 200 characters");
    }
    if rule.cooldown_minutes > 7 * 24 * 60 {
        return bad("cooldown_minutes", "must be at most 10080 (a week)");
    }
    let allowed: &[&str] = match rule.rule_type {
        AlertRuleType::Spike => &["threshold", "window_minutes"],
        AlertRuleType::Sustained => &["minutes"],
        AlertRuleType::ErrorRate => &["percent", "window_minutes", "threshold"],
        AlertRuleType::ProbeDown
        | AlertRuleType::DnsFailure
        | AlertRuleType::CertExpiring
        | AlertRuleType::CrawlerLag
        | AlertRuleType::DeployCheckFailed
        | AlertRuleType::DeployNewGroups => &["threshold"],
        AlertRuleType::ProbeSlow => &["threshold", "window_minutes"],
        AlertRuleType::SelfMemory => &["percent"],
        AlertRuleType::SelfErrorRate => &["percent", "window_minutes", "threshold"],
        _ => &[],
    };
    if rule.rule_type.is_check() {
        // Measurements have no group: only the key (`service`) scopes them.
        for (field, set) in [
            ("environment", c.environment.is_some()),
            ("category", c.category.is_some()),
            ("severity", c.severity.is_some()),
            ("level", c.level.is_some()),
            ("pattern", c.pattern.is_some()),
        ] {
            if set {
                return Err((
                    format!("condition.{field}"),
                    format!("does not apply to a {} rule", rule.rule_type.as_str()),
                ));
            }
        }
    }
    for (field, set) in [
        ("threshold", c.threshold.is_some()),
        ("window_minutes", c.window_minutes.is_some()),
        ("minutes", c.minutes.is_some()),
        ("percent", c.percent.is_some()),
    ] {
        if set && !allowed.contains(&field) {
            return Err((
                format!("condition.{field}"),
                format!("does not apply to a {} rule", rule.rule_type.as_str()),
            ));
        }
    }
    if c.threshold == Some(0) {
        return bad("condition.threshold", "must be at least 1");
    }
    if c.window_minutes.is_some_and(|w| w == 0 || w > 1440) {
        return bad("condition.window_minutes", "must be 1 to 1440");
    }
    if rule.rule_type == AlertRuleType::ProbeSlow && c.window_minutes.is_some_and(|w| w > 60) {
        // A run is judged against the last hour of runs.
        return bad(
            "condition.window_minutes",
            "must be 1 to 60 for a probe_slow rule",
        );
    }
    if c.minutes.is_some_and(|m| m == 0 || m > 1440) {
        return bad("condition.minutes", "must be 1 to 1440");
    }
    if c.percent.is_some_and(|p| !(p > 0.0 && p <= 100.0)) {
        return bad("condition.percent", "must be above 0 and at most 100");
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::model::{AlertAction, AlertCondition};

    /// A valid rule of `rule_type` (id 1, cooldown 30 min), compiled.
    pub(crate) fn rule(rule_type: AlertRuleType, condition: AlertCondition) -> Compiled {
        Compiled::new(AlertRule {
            id: 1,
            name: "r".into(),
            rule_type,
            condition,
            action: AlertAction::CreateTask,
            enabled: true,
            cooldown_minutes: 30,
            last_triggered: None,
            trigger_count: 0,
        })
        .expect("a valid rule")
    }

    /// 2026-11-27 10:00:00 + `secs`.
    pub(crate) fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_795_773_600 + secs, 0).expect("valid")
    }

    fn error(secs: i64) -> Observation<'static> {
        Observation {
            at: at(secs),
            level: Level::Error,
            service: Some("api"),
            environment: Some("production"),
            group: Some(GroupFacts {
                fingerprint: "fp",
                template: "db timeout after <duration>",
                message: "db timeout after 30s",
                category: Category::Database,
                severity: Severity::High,
                new: false,
                regressed: false,
            }),
        }
    }

    fn info(secs: i64) -> Observation<'static> {
        Observation {
            at: at(secs),
            level: Level::Info,
            service: Some("api"),
            environment: Some("production"),
            group: None,
        }
    }

    /// Feeds (second, observation) pairs, evaluated at the event time unless `now` is given;
    /// returns the seconds at which the rule fired.
    fn fired(
        r: &Compiled,
        state: &mut KeyState,
        events: &[(i64, Observation<'static>)],
    ) -> Vec<i64> {
        events
            .iter()
            .filter_map(|(now, obs)| r.observe(state, obs, at(*now)).map(|_| *now))
            .collect()
    }

    #[test]
    fn spike_fires_at_the_tenth_event_in_a_minute_and_cools_down() {
        let r = rule(AlertRuleType::Spike, AlertCondition::default());
        let mut s = KeyState::default();
        // Nine events in minute 0: quiet. The tenth: fires (≥, the first event counts).
        let events: Vec<_> = (0..10).map(|i| (i * 5, error(i * 5))).collect();
        assert_eq!(fired(&r, &mut s, &events), vec![45]);
        // Ten more in minute 1: still cooling (30 min).
        let events: Vec<_> = (0..10).map(|i| (60 + i * 5, error(60 + i * 5))).collect();
        assert!(fired(&r, &mut s, &events).is_empty());
        // 31 minutes later: fires again at the tenth.
        let base = 31 * 60 + 45;
        let events: Vec<_> = (0..10).map(|i| (base + i, error(base + i))).collect();
        assert_eq!(fired(&r, &mut s, &events), vec![base + 9]);
    }

    #[test]
    fn spike_counts_whole_minutes_not_a_sliding_sixty_seconds() {
        let r = rule(AlertRuleType::Spike, AlertCondition::default());
        let mut s = KeyState::default();
        // Five at the end of minute 0, five at the start of minute 1: never ten in one minute.
        let events: Vec<_> = (0..5)
            .map(|i| (50 + i, error(50 + i)))
            .chain((0..5).map(|i| (60 + i, error(60 + i))))
            .collect();
        assert!(fired(&r, &mut s, &events).is_empty());
    }

    #[test]
    fn a_wider_spike_window_adds_minutes_up() {
        let r = rule(
            AlertRuleType::Spike,
            AlertCondition {
                threshold: Some(6),
                window_minutes: Some(3),
                ..AlertCondition::default()
            },
        );
        let mut s = KeyState::default();
        let events: Vec<_> = [0, 61, 62, 125, 126, 127, 400]
            .iter()
            .map(|t| (*t, error(*t)))
            .collect();
        assert_eq!(fired(&r, &mut s, &events), vec![127]);
    }

    #[test]
    fn sustained_fires_after_five_minutes_in_a_row() {
        let r = rule(AlertRuleType::Sustained, AlertCondition::default());
        let mut s = KeyState::default();
        // Minutes 0..=3, a gap at 4, then 5..=9: fires at minute 9 (5, 6, 7, 8, 9).
        let events: Vec<_> = [0, 1, 2, 3, 5, 6, 7, 8, 9]
            .iter()
            .map(|m| (m * 60 + 10, error(m * 60 + 10)))
            .collect();
        assert_eq!(fired(&r, &mut s, &events), vec![9 * 60 + 10]);
    }

    #[test]
    fn a_late_event_counts_in_its_own_minute() {
        let r = rule(AlertRuleType::Sustained, AlertCondition::default());
        let mut s = KeyState::default();
        // Minutes 0, 1, 3, 4 arrive; minute 2 arrives late, evaluated at minute 4's clock: the
        // run 0..=4 is complete and the rule fires then.
        let events = vec![
            (10, error(10)),
            (70, error(70)),
            (190, error(190)),
            (250, error(250)),
            (255, error(130)),
        ];
        assert_eq!(fired(&r, &mut s, &events), vec![255]);
        // An event older than the window is history: counted nowhere, fires nothing.
        let mut s = KeyState::default();
        let spike = rule(
            AlertRuleType::Spike,
            AlertCondition {
                threshold: Some(1),
                ..AlertCondition::default()
            },
        );
        assert!(spike.observe(&mut s, &error(3600), at(3600)).is_some());
        let mut cooled = s.clone();
        cooled.last_fired = None;
        assert!(
            spike.observe(&mut cooled, &error(10), at(3601)).is_none(),
            "an hour late"
        );
    }

    #[test]
    fn new_critical_and_regression_fire_on_their_event() {
        let mut new = error(0);
        if let Some(g) = new.group.as_mut() {
            g.new = true;
        }
        let r = rule(AlertRuleType::NewFingerprint, AlertCondition::default());
        assert!(r.observe(&mut KeyState::default(), &new, at(0)).is_some());
        assert!(r
            .observe(&mut KeyState::default(), &error(1), at(1))
            .is_none());

        let mut critical = error(0);
        critical.level = Level::Critical;
        let r = rule(AlertRuleType::Critical, AlertCondition::default());
        let mut s = KeyState::default();
        assert!(r.observe(&mut s, &critical, at(0)).is_some());
        assert!(
            r.observe(&mut s, &critical, at(60)).is_none(),
            "cooldown per (rule, group)"
        );
        assert!(
            r.observe(&mut s, &critical, at(31 * 60)).is_some(),
            "cooldown over"
        );

        let mut back = error(0);
        if let Some(g) = back.group.as_mut() {
            g.regressed = true;
        }
        let r = rule(AlertRuleType::Regression, AlertCondition::default());
        assert!(r.observe(&mut KeyState::default(), &back, at(0)).is_some());
    }

    #[test]
    fn error_rate_needs_volume_and_more_than_the_percentage() {
        let r = rule(AlertRuleType::ErrorRate, AlertCondition::default());
        let mut s = KeyState::default();
        // 198 info lines and 2 errors in minute 0: exactly 1 %, not more.
        let mut events: Vec<_> = (0..198).map(|i| (i / 4, info(i / 4))).collect();
        events.push((50, error(50)));
        events.push((51, error(51)));
        assert!(fired(&r, &mut s, &events).is_empty());
        // One more error: 3 of 201 lines.
        assert_eq!(fired(&r, &mut s, &[(52, error(52))]), vec![52]);
        // Few lines are not judged.
        let mut few = KeyState::default();
        assert!(fired(&r, &mut few, &[(0, error(0)), (1, info(1))]).is_empty());
    }

    #[test]
    fn scopes_choose_what_a_rule_sees() {
        let cases: Vec<(AlertCondition, bool)> = vec![
            (AlertCondition::default(), true),
            (
                AlertCondition {
                    service: Some("api".into()),
                    ..Default::default()
                },
                true,
            ),
            (
                AlertCondition {
                    service: Some("worker".into()),
                    ..Default::default()
                },
                false,
            ),
            (
                AlertCondition {
                    environment: Some("staging".into()),
                    ..Default::default()
                },
                false,
            ),
            (
                AlertCondition {
                    category: Some(Category::Database),
                    ..Default::default()
                },
                true,
            ),
            (
                AlertCondition {
                    category: Some(Category::Auth),
                    ..Default::default()
                },
                false,
            ),
            (
                AlertCondition {
                    severity: Some(Severity::High),
                    ..Default::default()
                },
                true,
            ),
            (
                AlertCondition {
                    severity: Some(Severity::Critical),
                    ..Default::default()
                },
                false,
            ),
            (
                AlertCondition {
                    level: Some(Level::Critical),
                    ..Default::default()
                },
                false,
            ),
            (
                AlertCondition {
                    pattern: Some("timeout".into()),
                    ..Default::default()
                },
                true,
            ),
            (
                AlertCondition {
                    pattern: Some("^disk".into()),
                    ..Default::default()
                },
                false,
            ),
        ];
        for (condition, applies) in cases {
            let r = rule(AlertRuleType::Critical, condition.clone());
            assert_eq!(r.key(&error(0)).is_some(), applies, "{condition:?}");
        }
        let r = rule(AlertRuleType::ErrorRate, AlertCondition::default());
        assert_eq!(
            r.key(&info(0)).as_deref(),
            Some("api"),
            "error rate counts every line by service"
        );
        let r = rule(AlertRuleType::Spike, AlertCondition::default());
        assert_eq!(r.key(&info(0)), None, "group rules see only grouped events");
    }

    #[test]
    fn validation_names_the_field() {
        let base = || AlertRule {
            id: 0,
            name: "x".into(),
            rule_type: AlertRuleType::Spike,
            condition: AlertCondition::default(),
            action: AlertAction::Notify,
            enabled: true,
            cooldown_minutes: 30,
            last_triggered: None,
            trigger_count: 0,
        };
        let cases: Vec<(AlertRule, Option<&str>)> = vec![
            (base(), None),
            (
                AlertRule {
                    name: " ".into(),
                    ..base()
                },
                Some("name"),
            ),
            (
                AlertRule {
                    cooldown_minutes: 20_000,
                    ..base()
                },
                Some("cooldown_minutes"),
            ),
            (
                AlertRule {
                    condition: AlertCondition {
                        threshold: Some(0),
                        ..Default::default()
                    },
                    ..base()
                },
                Some("condition.threshold"),
            ),
            (
                AlertRule {
                    condition: AlertCondition {
                        percent: Some(5.0),
                        ..Default::default()
                    },
                    ..base()
                },
                Some("condition.percent"),
            ),
            (
                AlertRule {
                    rule_type: AlertRuleType::ErrorRate,
                    condition: AlertCondition {
                        percent: Some(0.0),
                        ..Default::default()
                    },
                    ..base()
                },
                Some("condition.percent"),
            ),
            (
                AlertRule {
                    rule_type: AlertRuleType::ProbeDown,
                    condition: AlertCondition {
                        threshold: Some(5),
                        ..Default::default()
                    },
                    ..base()
                },
                None,
            ),
            (
                AlertRule {
                    rule_type: AlertRuleType::ProbeDown,
                    condition: AlertCondition {
                        percent: Some(5.0),
                        ..Default::default()
                    },
                    ..base()
                },
                Some("condition.percent"),
            ),
            (
                AlertRule {
                    rule_type: AlertRuleType::CertExpiring,
                    condition: AlertCondition {
                        category: Some(Category::Auth),
                        ..Default::default()
                    },
                    ..base()
                },
                Some("condition.category"),
            ),
            (
                AlertRule {
                    condition: AlertCondition {
                        pattern: Some("(".into()),
                        ..Default::default()
                    },
                    ..base()
                },
                Some("condition.pattern"),
            ),
        ];
        for (rule, field) in cases {
            let got = Compiled::new(rule.clone()).err().map(|(f, _)| f);
            assert_eq!(got.as_deref(), field, "{rule:?}");
        }
    }

    #[test]
    fn state_round_trips_compactly() {
        let mut s = KeyState::default();
        s.minutes.insert(
            29_929_560,
            Counts {
                errors: 3,
                lines: 0,
            },
        );
        s.last_fired = Some(at(0));
        let text = serde_json::to_string(&s).expect("serializes");
        assert!(text.len() < 80, "{text}");
        assert_eq!(serde_json::from_str::<KeyState>(&text).expect("parses"), s);
    }
}
