//! Alert rules in the store: CRUD, and their evaluation inside the write transaction.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};

use super::{from_millis, to_millis, Store, StoreError};
use crate::model::{Alert, AlertCondition, AlertRule, AlertRuleType};
use crate::pipeline::Processed;
use crate::rules::{Compiled, GroupFacts, KeyState, Observation, Reading, RuleSet};

const RULE_COLUMNS: &str = "id, name, rule_type, condition, action, \
    CAST(CASE WHEN enabled THEN 1 ELSE 0 END AS BIGINT) AS enabled, cooldown_minutes, last_triggered, trigger_count";

const ALERT_COLUMNS: &str =
    "id, rule_id, rule_name, rule_type, action, fingerprint, service, fired_at, summary";

/// The compiled rules, kept for a few seconds between reloads.
#[derive(Default)]
pub(crate) struct RulesCache(Mutex<Option<(Instant, RuleSet)>>);

/// How long compiled rules are used before the table is read again.
const RULES_TTL: Duration = Duration::from_secs(5);

impl RulesCache {
    fn fresh(&self) -> Option<RuleSet> {
        let cached = self.0.lock().ok()?;
        cached
            .as_ref()
            .filter(|(at, _)| at.elapsed() < RULES_TTL)
            .map(|(_, set)| set.clone())
    }

    fn put(&self, set: RuleSet) {
        if let Ok(mut cached) = self.0.lock() {
            *cached = Some((Instant::now(), set));
        }
    }

    fn clear(&self) {
        if let Ok(mut cached) = self.0.lock() {
            *cached = None;
        }
    }
}

/// A rule the API could not store: the field and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleProblem {
    pub field: String,
    pub message: String,
}

fn rule_from_row(row: &AnyRow) -> Result<AlertRule, StoreError> {
    let text = |name: &str| -> Result<String, StoreError> { Ok(row.try_get::<String, _>(name)?) };
    let rule_type = text("rule_type")?;
    let action = text("action")?;
    let condition = text("condition")?;
    Ok(AlertRule {
        id: row.try_get("id")?,
        name: text("name")?,
        rule_type: rule_type
            .parse()
            .map_err(|e: String| StoreError::Corrupt(format!("alert rule: {e}")))?,
        // A condition written by an older version with a field since removed still loads.
        condition: serde_json::from_str(&condition).unwrap_or_default(),
        action: action
            .parse()
            .map_err(|e: String| StoreError::Corrupt(format!("alert rule: {e}")))?,
        enabled: row.try_get::<i64, _>("enabled")? != 0,
        cooldown_minutes: row
            .try_get::<i64, _>("cooldown_minutes")?
            .clamp(0, i64::from(u32::MAX)) as u32,
        last_triggered: row
            .try_get::<Option<i64>, _>("last_triggered")?
            .map(from_millis),
        trigger_count: row.try_get("trigger_count")?,
    })
}

fn alert_from_row(row: &AnyRow) -> Result<Alert, StoreError> {
    let text = |name: &str| -> Result<String, StoreError> { Ok(row.try_get::<String, _>(name)?) };
    Ok(Alert {
        id: row.try_get("id")?,
        rule_id: row.try_get("rule_id")?,
        rule_name: text("rule_name")?,
        rule_type: text("rule_type")?
            .parse()
            .map_err(|e: String| StoreError::Corrupt(format!("alert: {e}")))?,
        action: text("action")?
            .parse()
            .map_err(|e: String| StoreError::Corrupt(format!("alert: {e}")))?,
        fingerprint: row.try_get("fingerprint")?,
        service: row.try_get("service")?,
        fired_at: from_millis(row.try_get("fired_at")?),
        summary: text("summary")?,
    })
}

fn condition_json(condition: &AlertCondition) -> String {
    serde_json::to_string(condition).unwrap_or_else(|_| "{}".to_string())
}

impl Store {
    /// Every alert rule, by id.
    pub async fn alert_rules(&self) -> Result<Vec<AlertRule>, StoreError> {
        let sql = format!("SELECT {RULE_COLUMNS} FROM alert_rules ORDER BY id");
        self.rows(&sql, rule_from_row).await
    }

    /// One rule.
    pub async fn alert_rule(&self, id: i64) -> Result<Option<AlertRule>, StoreError> {
        let sql = format!("SELECT {RULE_COLUMNS} FROM alert_rules WHERE id = $1");
        self.row(&sql, id, rule_from_row).await
    }

    /// Stores a new rule (its id, counters and last firing are ignored); checks it first.
    pub async fn create_alert_rule(
        &self,
        rule: &AlertRule,
    ) -> Result<Result<AlertRule, RuleProblem>, StoreError> {
        if let Err(problem) = check(rule) {
            return Ok(Err(problem));
        }
        let inserted = sqlx::query(
            "INSERT INTO alert_rules (name, rule_type, condition, action, enabled, cooldown_minutes, trigger_count, updated_at) \
             VALUES ($1, $2, $3, $4, $5 = 1, $6, 0, $7) ON CONFLICT (name) DO NOTHING RETURNING id",
        )
        .bind(&rule.name)
        .bind(rule.rule_type.as_str())
        .bind(condition_json(&rule.condition))
        .bind(rule.action.as_str())
        .bind(i64::from(rule.enabled))
        .bind(i64::from(rule.cooldown_minutes))
        .bind(to_millis(Utc::now()))
        .fetch_optional(self.pool())
        .await?;
        let Some(row) = inserted else {
            return Ok(Err(RuleProblem {
                field: "name".into(),
                message: format!("a rule named '{}' exists", rule.name),
            }));
        };
        let id: i64 = row.try_get("id")?;
        self.alert_rule(id)
            .await?
            .ok_or(StoreError::Corrupt("rule vanished".into()))
            .map(Ok)
    }

    /// Replaces a rule's settings (not its counters); `None` when there is no such rule.
    pub async fn update_alert_rule(
        &self,
        id: i64,
        rule: &AlertRule,
    ) -> Result<Option<Result<AlertRule, RuleProblem>>, StoreError> {
        if self.alert_rule(id).await?.is_none() {
            return Ok(None);
        }
        if let Err(problem) = check(rule) {
            return Ok(Some(Err(problem)));
        }
        let clash = sqlx::query("SELECT id FROM alert_rules WHERE name = $1 AND id <> $2")
            .bind(&rule.name)
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        if clash.is_some() {
            return Ok(Some(Err(RuleProblem {
                field: "name".into(),
                message: format!("a rule named '{}' exists", rule.name),
            })));
        }
        let changed = sqlx::query(
            "UPDATE alert_rules SET name = $1, rule_type = $2, condition = $3, action = $4, enabled = ($5 = 1), \
             cooldown_minutes = $6, updated_at = $7 WHERE id = $8",
        )
        .bind(&rule.name)
        .bind(rule.rule_type.as_str())
        .bind(condition_json(&rule.condition))
        .bind(rule.action.as_str())
        .bind(i64::from(rule.enabled))
        .bind(i64::from(rule.cooldown_minutes))
        .bind(to_millis(Utc::now()))
        .bind(id)
        .execute(self.pool())
        .await?
        .rows_affected();
        if changed == 0 {
            return Ok(None);
        }
        // New thresholds start from fresh counters.
        sqlx::query("DELETE FROM rule_state WHERE rule_id = $1")
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(self.alert_rule(id).await?.map(Ok))
    }

    /// Deletes a rule and its state; false when there was none.
    pub async fn delete_alert_rule(&self, id: i64) -> Result<bool, StoreError> {
        self.delete_with_children(
            "DELETE FROM rule_state WHERE rule_id = $1",
            "DELETE FROM alert_rules WHERE id = $1",
            id,
        )
        .await
    }

    /// The most recent alerts, newest first (optionally of one group).
    pub async fn alerts(
        &self,
        fingerprint: Option<&str>,
        limit: i64,
    ) -> Result<Vec<Alert>, StoreError> {
        let rows = match fingerprint {
            Some(fp) => {
                sqlx::query(&format!(
                    "SELECT {ALERT_COLUMNS} FROM alerts WHERE fingerprint = $1 ORDER BY fired_at DESC, id DESC LIMIT $2"
                ))
                .bind(fp)
                .bind(limit)
                .fetch_all(self.pool())
                .await?
            }
            None => {
                sqlx::query(&format!("SELECT {ALERT_COLUMNS} FROM alerts ORDER BY fired_at DESC, id DESC LIMIT $1"))
                    .bind(limit)
                    .fetch_all(self.pool())
                    .await?
            }
        };
        rows.iter().map(alert_from_row).collect()
    }

    /// The enabled rules, compiled; reloaded from the table at most every few seconds, so
    /// an edit made on any replica applies everywhere shortly after.
    pub(crate) async fn rule_set(&self) -> Result<RuleSet, StoreError> {
        if let Some(set) = self.rules_cache.fresh() {
            return Ok(set);
        }
        let set = RuleSet::new(self.alert_rules().await?);
        self.rules_cache.put(set.clone());
        Ok(set)
    }

    /// Forgets the cached rules (after an edit through this replica).
    pub fn reload_rules(&self) {
        self.rules_cache.clear();
    }
}

fn check(rule: &AlertRule) -> Result<(), RuleProblem> {
    Compiled::new(rule.clone())
        .map(|_| ())
        .map_err(|(field, message)| RuleProblem { field, message })
}

/// What the write path tells the rules about one accepted event.
pub(crate) struct Seen<'a> {
    pub item: &'a Processed,
    pub new_group: bool,
    pub regressed: bool,
}

/// Evaluates `rules` over the batch's accepted events inside the write transaction: loads
/// the state of every (rule, key) touched, counts, stores the state and the alerts.
pub(crate) async fn evaluate_in(
    tx: &mut Transaction<'_, Any>,
    rules: &RuleSet,
    seen: &[Seen<'_>],
    now: DateTime<Utc>,
    channels: Option<&crate::notify::Channels>,
) -> Result<Vec<Alert>, StoreError> {
    if rules.is_empty() {
        return Ok(Vec::new());
    }
    let observations: Vec<Observation<'_>> = seen.iter().map(observation).collect();
    // Every (rule, key) the batch touches, loaded at once: a statement per rule, not one per
    // key.
    let mut touched: BTreeMap<i64, BTreeSet<String>> = BTreeMap::new();
    for obs in &observations {
        for rule in rules.rules.iter() {
            if rule.rule.rule_type == AlertRuleType::NewFingerprint {
                continue;
            }
            if let Some(key) = rule.key(obs) {
                touched.entry(rule.rule.id).or_default().insert(key);
            }
        }
    }
    let mut states = load_states(tx, &touched).await?;
    let mut fired = Vec::new();
    for obs in &observations {
        for rule in rules.rules.iter() {
            let Some(key) = rule.key(obs) else { continue };
            let id = rule.rule.id;
            // A new group fires once by nature: no state to keep.
            if rule.rule.rule_type == AlertRuleType::NewFingerprint {
                if let Some(summary) = rule.observe(&mut KeyState::default(), obs, now) {
                    fired.push(alert(rule, obs, key, summary, now));
                }
                continue;
            }
            let (state, dirty) = states.entry((id, key.clone())).or_default();
            *dirty = true;
            if let Some(summary) = rule.observe(state, obs, now) {
                fired.push(alert(rule, obs, key, summary, now));
            }
        }
    }
    // Sorted writes: concurrent writers touch rows in the same order (no deadlocks); a
    // hundred per statement.
    let mut dirty: Vec<_> = states.into_iter().filter(|(_, (_, d))| *d).collect();
    dirty.sort_by(|a, b| a.0.cmp(&b.0));
    let rows: Vec<(i64, &str, &KeyState)> = dirty
        .iter()
        .map(|((rule_id, key), (state, _))| (*rule_id, key.as_str(), state))
        .collect();
    save_states(tx, &rows, now).await?;
    record_alerts(tx, &mut fired, channels, now).await?;
    Ok(fired)
}

/// Stores `fired` (giving each its id), counts them on their rules, opens or updates the
/// groups' tasks and queues the notifications, all in `tx`.
async fn record_alerts(
    tx: &mut Transaction<'_, Any>,
    fired: &mut [Alert],
    channels: Option<&crate::notify::Channels>,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    for a in fired.iter_mut() {
        let row = sqlx::query(
            "INSERT INTO alerts (rule_id, rule_name, rule_type, action, fingerprint, service, fired_at, summary) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
        )
        .bind(a.rule_id)
        .bind(&a.rule_name)
        .bind(a.rule_type.as_str())
        .bind(a.action.as_str())
        .bind(&a.fingerprint)
        .bind(&a.service)
        .bind(to_millis(a.fired_at))
        .bind(&a.summary)
        .fetch_one(&mut **tx)
        .await?;
        a.id = row.try_get("id")?;
        sqlx::query("UPDATE alert_rules SET last_triggered = $1, trigger_count = trigger_count + 1 WHERE id = $2")
            .bind(to_millis(a.fired_at))
            .bind(a.rule_id)
            .execute(&mut **tx)
            .await?;
        let group = match &a.fingerprint {
            Some(fp) => group_in(tx, fp).await?,
            None => None,
        };
        // The group's governance task: opened, or (one open task per group) brought up to date.
        if let (true, Some(group)) = (a.action.creates_task(), &group) {
            let public_url = channels.map_or("", |c| c.public_url.as_str());
            super::tasks::open_or_update_task(tx, group, Some(a), public_url, now).await?;
        }
        // Queued in this transaction: committed with the decision, sent after (the outbox).
        if let Some(channels) = channels {
            crate::notify::enqueue_in(tx, a, group.as_ref(), channels).await?;
        }
    }
    Ok(())
}

impl Store {
    /// Judges `readings` (measurements: probe runs, Signalbox's own state) with the enabled
    /// check rules, in one transaction: their state, the alerts they fire and the
    /// notifications those queue. Returns the alerts.
    pub async fn judge_readings(
        &self,
        readings: &[Reading<'_>],
        now: DateTime<Utc>,
    ) -> Result<Vec<Alert>, StoreError> {
        let rules = self.rule_set().await?;
        if !readings
            .iter()
            .any(|r| rules.rules.iter().any(|rule| rule.applies(r)))
        {
            return Ok(Vec::new());
        }
        let _turn = self.write_turn().await;
        let mut tx = self.begin_write().await?;
        let mut fired = Vec::new();
        for reading in readings {
            for rule in rules.rules.iter().filter(|rule| rule.applies(reading)) {
                let id = rule.rule.id;
                let mut state = load_state(&mut tx, id, reading.key).await?;
                let before = state.clone();
                if let Some(summary) = rule.judge(&mut state, reading, now) {
                    fired.push(Alert {
                        id: 0,
                        rule_id: id,
                        rule_name: rule.rule.name.clone(),
                        rule_type: rule.rule.rule_type,
                        action: rule.rule.action,
                        fingerprint: None,
                        service: Some(reading.key.to_string()),
                        fired_at: now,
                        summary,
                    });
                }
                if state != before {
                    save_states(&mut tx, &[(id, reading.key, &state)], now).await?;
                }
            }
        }
        let channels = self.channels.clone();
        record_alerts(&mut tx, &mut fired, channels.as_deref(), now).await?;
        tx.commit().await?;
        Ok(fired)
    }
}

/// What the rules see of one stored event.
fn observation<'a>(s: &'a Seen<'a>) -> Observation<'a> {
    let e = &s.item.event;
    Observation {
        at: e.timestamp,
        level: e.level,
        service: e.service.as_deref(),
        environment: e.environment.as_deref(),
        group: s.item.group.as_ref().map(|g| GroupFacts {
            fingerprint: &g.fingerprint,
            template: &g.template,
            message: &e.message,
            category: g.classification.category,
            severity: g.classification.severity,
            new: s.new_group,
            regressed: s.regressed,
        }),
    }
}

/// A group as this transaction sees it.
async fn group_in(
    tx: &mut Transaction<'_, Any>,
    fingerprint: &str,
) -> Result<Option<crate::model::Group>, StoreError> {
    super::queries::group_on(tx, fingerprint).await
}

/// The stored state of every `(rule, key)` in `touched`, a statement per rule and hundred
/// keys; a key without a row is absent (its state starts empty).
async fn load_states(
    tx: &mut Transaction<'_, Any>,
    touched: &BTreeMap<i64, BTreeSet<String>>,
) -> Result<HashMap<(i64, String), (KeyState, bool)>, StoreError> {
    let mut states = HashMap::new();
    for (rule_id, keys) in touched {
        let keys: Vec<&String> = keys.iter().collect();
        for chunk in keys.chunks(100) {
            let rule = super::write::values_list(tx, 1, 1);
            let sql = format!(
                "SELECT key, state FROM rule_state WHERE rule_id IN {rule} AND key IN {}",
                super::write::values_list_after(tx, 1, 1, chunk.len())
            );
            let mut query = super::write::multi_row_query(&sql, chunk.len(), 100).bind(*rule_id);
            for key in chunk {
                query = query.bind(key.as_str());
            }
            for row in query.fetch_all(&mut **tx).await? {
                let key: String = row.try_get("key")?;
                let state =
                    serde_json::from_str(&row.try_get::<String, _>("state")?).unwrap_or_default();
                states.insert((*rule_id, key), (state, false));
            }
        }
    }
    Ok(states)
}

/// The stored state of one `(rule, key)` (empty when it has none).
async fn load_state(
    tx: &mut Transaction<'_, Any>,
    rule_id: i64,
    key: &str,
) -> Result<KeyState, StoreError> {
    let row = sqlx::query("SELECT state FROM rule_state WHERE rule_id = $1 AND key = $2")
        .bind(rule_id)
        .bind(key)
        .fetch_optional(&mut **tx)
        .await?;
    Ok(match row {
        Some(row) => serde_json::from_str(&row.try_get::<String, _>("state")?).unwrap_or_default(),
        None => KeyState::default(),
    })
}

/// Stores the state of each `(rule, key)` in `rows`, a statement per hundred (`rows` sorted,
/// so concurrent writers lock them in the same order).
async fn save_states(
    tx: &mut Transaction<'_, Any>,
    rows: &[(i64, &str, &KeyState)],
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let updated_at = to_millis(now);
    for chunk in rows.chunks(100) {
        let sql = format!(
            "INSERT INTO rule_state (rule_id, key, state, updated_at) VALUES {} \
             ON CONFLICT (rule_id, key) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at",
            super::write::values_list(tx, chunk.len(), 4)
        );
        let mut query = super::write::multi_row_query(&sql, chunk.len(), 100);
        for (rule_id, key, state) in chunk {
            query = query
                .bind(*rule_id)
                .bind(*key)
                .bind(serde_json::to_string(state).unwrap_or_else(|_| "{}".into()))
                .bind(updated_at);
        }
        query.execute(&mut **tx).await?;
    }
    Ok(())
}

fn alert(
    rule: &Compiled,
    obs: &Observation<'_>,
    key: String,
    summary: String,
    now: DateTime<Utc>,
) -> Alert {
    let group_rule = rule.rule.rule_type != AlertRuleType::ErrorRate;
    Alert {
        id: 0,
        rule_id: rule.rule.id,
        rule_name: rule.rule.name.clone(),
        rule_type: rule.rule.rule_type,
        action: rule.rule.action,
        fingerprint: group_rule.then_some(key),
        service: obs.service.map(str::to_string),
        fired_at: now,
        summary,
    }
}
