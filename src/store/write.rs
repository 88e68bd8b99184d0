//! The write path: a batch of processed events, and optionally a source cursor, in one
//! transaction. Counters are maintained here so that reads never scan raw rows.

use std::collections::BTreeMap;

use sqlx::{Any, AnyConnection, Row, Transaction};

use super::{alerts, change_status_on, to_millis, StatusChange, Store, StoreError, SYSTEM_ACTOR};
use crate::model::{GroupStatus, Level};
use crate::pipeline::normalize::ALGORITHM_VERSION;
use crate::pipeline::Processed;

/// A source's new cursor, committed together with the events it covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CursorUpdate {
    pub source: String,
    pub cursor: String,
}

/// What a batch changed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WriteSummary {
    /// Events stored (duplicates excluded).
    pub accepted: usize,
    /// Events dropped because their source id was seen before.
    pub duplicates: usize,
    /// Error and critical events stored as occurrences.
    pub occurrences: usize,
    /// Fingerprints seen for the first time.
    pub new_groups: Vec<String>,
    /// Accepted events per level.
    pub by_level: BTreeMap<Level, u64>,
    /// Resolved groups that occurred again.
    pub regressed: Vec<String>,
    /// Alert rules that fired on this batch.
    pub alerts: Vec<crate::model::Alert>,
}

const MINUTE_MS: i64 = 60_000;
/// The rollups' bucket widths (see `dashboard`).
const QUARTER_MS: i64 = 15 * MINUTE_MS;
const HOUR_MS: i64 = 60 * MINUTE_MS;

/// Per-group totals of one batch.
struct GroupDelta<'a> {
    first: &'a Processed,
    last: &'a Processed,
    count: i64,
    critical: bool,
}

impl Store {
    /// Stores a batch atomically: a crash leaves either all of it (and the cursor) or none.
    pub async fn write_batch(
        &self,
        batch: &[Processed],
        cursor: Option<&CursorUpdate>,
    ) -> Result<WriteSummary, StoreError> {
        let _turn = self.write_turn().await;
        let mut tx = self.begin_write().await?;
        let mut summary = WriteSummary::default();
        // Ordered maps: concurrent writers (two replicas, the server and `signalbox ingest`)
        // upsert shared counter rows in the same order, so Postgres never sees a deadlock.
        let mut line_counts: BTreeMap<(i64, &str, Level), i64> = BTreeMap::new();
        let mut group_minutes: BTreeMap<(&str, i64), i64> = BTreeMap::new();
        // (service, deployment) → (first, last) time in this batch: the deploys seen in logs.
        let mut deployments: BTreeMap<(&str, &str), (i64, i64)> = BTreeMap::new();
        let mut groups: Vec<(&str, GroupDelta)> = Vec::new();
        let mut grouped: Vec<&Processed> = Vec::new();
        let mut accepted: Vec<&Processed> = Vec::new();
        let mut raw: Vec<&Processed> = Vec::new();

        let mut fresh = claim_ids(&mut tx, batch).await?;
        for item in batch {
            let event = &item.event;
            if let Some(id) = &event.source_id {
                // Seen before, or twice in this batch: counted once.
                if !fresh.remove(&(event.source.as_str(), id.as_str())) {
                    summary.duplicates += 1;
                    continue;
                }
            }
            summary.accepted += 1;
            accepted.push(item);
            *summary.by_level.entry(event.level).or_default() += 1;
            let minute = to_millis(event.timestamp).div_euclid(MINUTE_MS) * MINUTE_MS;
            let service = event.service.as_deref().unwrap_or("");
            *line_counts
                .entry((minute, service, event.level))
                .or_default() += 1;
            if let Some(deployment) = event.deployment.as_deref() {
                let at = to_millis(event.timestamp);
                let seen = deployments.entry((service, deployment)).or_insert((at, at));
                *seen = (seen.0.min(at), seen.1.max(at));
            }

            if event.level >= Level::Warn {
                raw.push(item);
            }
            let Some(group) = &item.group else { continue };
            summary.occurrences += 1;
            grouped.push(item);
            *group_minutes
                .entry((&group.fingerprint, minute))
                .or_default() += 1;
            match groups.iter_mut().find(|(fp, _)| *fp == group.fingerprint) {
                Some((_, delta)) => {
                    delta.count += 1;
                    delta.critical |= event.level == Level::Critical;
                    if event.timestamp < delta.first.event.timestamp {
                        delta.first = item;
                    }
                    if event.timestamp >= delta.last.event.timestamp {
                        delta.last = item;
                    }
                }
                None => groups.push((
                    &group.fingerprint,
                    GroupDelta {
                        first: item,
                        last: item,
                        count: 1,
                        critical: event.level == Level::Critical,
                    },
                )),
            }
        }

        // Groups first: occurrences reference them. Sorted, for the same reason as the counters.
        groups.sort_by(|a, b| a.0.cmp(b.0));
        let now = self.now();
        let befores = groups_before(&mut tx, &groups).await?;
        upsert_groups(&mut tx, &groups).await?;
        for ((fingerprint, _), before) in groups.iter().zip(befores) {
            match before {
                Before::Absent => summary.new_groups.push(fingerprint.to_string()),
                Before::Resolved => {
                    // A resolved group that occurs again has regressed; the change is recorded.
                    let change = StatusChange::to(
                        GroupStatus::Regressed,
                        SYSTEM_ACTOR,
                        Some("occurred again after it was resolved"),
                    );
                    change_status_on(&mut tx, fingerprint, &change, now).await?;
                    summary.regressed.push(fingerprint.to_string());
                }
                Before::Muted => {
                    let change = StatusChange::to(
                        GroupStatus::Unresolved,
                        SYSTEM_ACTOR,
                        Some("muted for a number of occurrences, which is reached"),
                    );
                    change_status_on(&mut tx, fingerprint, &change, now).await?;
                }
                Before::Present => {}
            }
        }
        insert_raw(&mut tx, &raw).await?;
        insert_occurrences(&mut tx, &grouped).await?;
        // The rollups System Health reads (quarter-hours, hours).
        let mut quarters: BTreeMap<(i64, &str, Level), i64> = BTreeMap::new();
        for ((minute, service, level), count) in &line_counts {
            *quarters
                .entry((minute.div_euclid(QUARTER_MS) * QUARTER_MS, service, *level))
                .or_default() += count;
        }
        let mut group_hours: BTreeMap<(&str, i64), i64> = BTreeMap::new();
        for ((fingerprint, minute), count) in &group_minutes {
            *group_hours
                .entry((fingerprint, minute.div_euclid(HOUR_MS) * HOUR_MS))
                .or_default() += count;
        }
        let line_counts: Vec<_> = line_counts.into_iter().collect();
        add_counts!(
            tx,
            "log_counts_minute",
            "minute, service, level",
            3,
            line_counts,
            |query, ((minute, service, level), count)| query
                .bind(*minute)
                .bind(*service)
                .bind(level.as_str())
                .bind(*count)
        );
        let quarters: Vec<_> = quarters.into_iter().collect();
        add_counts!(
            tx,
            "log_counts_15m",
            "minute, service, level",
            3,
            quarters,
            |query, ((minute, service, level), count)| query
                .bind(*minute)
                .bind(*service)
                .bind(level.as_str())
                .bind(*count)
        );
        let group_minutes: Vec<_> = group_minutes.into_iter().collect();
        add_counts!(
            tx,
            "group_counts_minute",
            "fingerprint, minute",
            2,
            group_minutes,
            |query, ((fingerprint, minute), count)| query
                .bind(*fingerprint)
                .bind(*minute)
                .bind(*count)
        );
        let group_hours: Vec<_> = group_hours.into_iter().collect();
        add_counts!(
            tx,
            "group_counts_hour",
            "fingerprint, minute",
            2,
            group_hours,
            |query, ((fingerprint, hour), count)| query.bind(*fingerprint).bind(*hour).bind(*count)
        );
        // A deploy seen in logs: one row with the platform's, when it lists the same id.
        for ((service, deployment), (first, last)) in deployments {
            sqlx::query(
                "INSERT INTO deploys (service, id, created_at, first_seen_at, state, first_log_at, last_log_at) \
                 VALUES ($1, $2, $3, $3, 'logged', $3, $4) \
                 ON CONFLICT (service, id) DO UPDATE SET \
                   first_log_at = CASE WHEN deploys.first_log_at IS NULL OR excluded.first_log_at < deploys.first_log_at \
                     THEN excluded.first_log_at ELSE deploys.first_log_at END, \
                   last_log_at = CASE WHEN deploys.last_log_at IS NULL OR excluded.last_log_at > deploys.last_log_at \
                     THEN excluded.last_log_at ELSE deploys.last_log_at END, \
                   created_at = CASE WHEN deploys.status IS NULL AND excluded.created_at < deploys.created_at \
                     THEN excluded.created_at ELSE deploys.created_at END",
            )
            .bind(service)
            .bind(deployment)
            .bind(first)
            .bind(last)
            .execute(&mut *tx)
            .await?;
        }
        // The rules count what this batch stored, in the same transaction: a crash loses or
        // doubles no count, no firing and nothing they queue.
        let rules = self.rule_set().await?;
        if !rules.is_empty() {
            let mut first_of = std::collections::HashSet::new();
            let new: std::collections::HashSet<&str> =
                summary.new_groups.iter().map(String::as_str).collect();
            let regressed: std::collections::HashSet<&str> =
                summary.regressed.iter().map(String::as_str).collect();
            let seen: Vec<alerts::Seen<'_>> = accepted
                .iter()
                .map(|item| {
                    let fp = item.group.as_ref().map(|g| g.fingerprint.as_str());
                    // The group's first event in the batch carries "new" / "regressed".
                    let first = fp.is_some_and(|fp| first_of.insert(fp));
                    alerts::Seen {
                        item,
                        new_group: first && fp.is_some_and(|fp| new.contains(fp)),
                        regressed: first && fp.is_some_and(|fp| regressed.contains(fp)),
                    }
                })
                .collect();
            summary.alerts =
                alerts::evaluate_in(&mut tx, &rules, &seen, self.now(), self.channels.as_deref())
                    .await?;
        }
        if let Some(cursor) = cursor {
            sqlx::query(
                "INSERT INTO log_crawler_state (source, cursor, updated_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (source) DO UPDATE SET cursor = excluded.cursor, updated_at = excluded.updated_at",
            )
            .bind(&cursor.source)
            .bind(&cursor.cursor)
            .bind(to_millis(chrono::Utc::now()))
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(summary)
    }
}

/// Adds counts into a counter table (`$keys…, count`): one multi-row upsert per
/// [`ROWS_PER_INSERT`] rows. The keys must be distinct (map keys), as a multi-row upsert needs
/// on Postgres; the rows are in key order, so concurrent writers lock them in the same order.
/// `|query, row| …` binds one row's key columns and its count.
macro_rules! add_counts {
    ($tx:ident, $table:literal, $keys:literal, $columns:literal, $rows:expr,
     |$query:ident, $row:pat_param| $bind:expr) => {
        for chunk in $rows.chunks(ROWS_PER_INSERT) {
            let sql = format!(
                concat!(
                    "INSERT INTO ",
                    $table,
                    " (",
                    $keys,
                    ", count) VALUES {} ",
                    "ON CONFLICT (",
                    $keys,
                    ") DO UPDATE SET count = ",
                    $table,
                    ".count + excluded.count"
                ),
                values_list(&$tx, chunk.len(), $columns + 1)
            );
            let mut $query = multi_row_query(&sql, chunk.len(), ROWS_PER_INSERT);
            for $row in chunk {
                $query = $bind;
            }
            $query.execute(&mut *$tx).await?;
        }
    };
}
use add_counts;

/// A statement of `rows` rows (or values) where a full one has `full`: only full ones are kept
/// prepared for the next batch. The last statement of a list has a size of its own (a distinct
/// SQL text every time); kept, these filled the connection's statement cache (a hundred
/// statements, some of a thousand parameters) for nothing.
pub(super) fn multi_row_query(
    sql: &str,
    rows: usize,
    full: usize,
) -> sqlx::query::Query<'_, Any, sqlx::any::AnyArguments<'_>> {
    sqlx::query(sql).persistent(rows == full)
}

/// Rows per multi-row `INSERT`: few statements per batch (each statement is a round trip to
/// the database, a thread hand-off with SQLite), well under both databases' parameter limits.
const ROWS_PER_INSERT: usize = 100;

/// `($1, …, $n), ($n+1, …)`: the VALUES list of `rows` rows of `columns` parameters. On SQLite
/// the parameters are plain `?`: sqlx finds a `$n` by name, a linear search per bound value,
/// which made a multi-row statement quadratic (a third of push ingest's time went there).
pub(super) fn values_list(conn: &AnyConnection, rows: usize, columns: usize) -> String {
    values_list_after(conn, 0, rows, columns)
}

/// [`values_list`] for a statement whose first `before` parameters come ahead of the list
/// (on PostgreSQL the list's numbers start at `before + 1`; bind those first).
pub(super) fn values_list_after(
    conn: &AnyConnection,
    before: usize,
    rows: usize,
    columns: usize,
) -> String {
    let numbered = conn.backend_name() == "PostgreSQL";
    let mut out = String::with_capacity(rows * columns * 5);
    for r in 0..rows {
        if r > 0 {
            out.push_str(", ");
        }
        out.push('(');
        for c in 0..columns {
            if c > 0 {
                out.push_str(", ");
            }
            if numbered {
                out.push('$');
                out.push_str(&(before + r * columns + c + 1).to_string());
            } else {
                out.push('?');
            }
        }
        out.push(')');
    }
    out
}

/// Records the source ids of `batch`; returns those never seen before (the events to store).
async fn claim_ids<'a>(
    tx: &mut Transaction<'_, Any>,
    batch: &'a [Processed],
) -> Result<std::collections::HashSet<(&'a str, &'a str)>, StoreError> {
    let mut ids: Vec<(&str, &str)> = batch
        .iter()
        .filter_map(|p| {
            p.event
                .source_id
                .as_deref()
                .map(|id| (p.event.source.as_str(), id))
        })
        .collect();
    ids.sort_unstable();
    ids.dedup();
    let mut fresh = std::collections::HashSet::with_capacity(ids.len());
    // Receipt time: retention must not forget the id of an old event just read.
    let now = to_millis(chrono::Utc::now());
    for chunk in ids.chunks(ROWS_PER_INSERT * 3) {
        let sql = format!(
            "INSERT INTO seen_events (source, source_id, ts) VALUES {} \
             ON CONFLICT (source, source_id) DO NOTHING RETURNING source, source_id",
            values_list(tx, chunk.len(), 3)
        );
        let mut query = multi_row_query(&sql, chunk.len(), ROWS_PER_INSERT * 3);
        for (source, id) in chunk {
            query = query.bind(*source).bind(*id).bind(now);
        }
        let inserted = query.fetch_all(&mut **tx).await?;
        let returned: std::collections::HashSet<(String, String)> = inserted
            .iter()
            .map(|row| {
                Ok((
                    row.try_get::<String, _>("source")?,
                    row.try_get::<String, _>("source_id")?,
                ))
            })
            .collect::<Result<_, StoreError>>()?;
        fresh.extend(
            chunk
                .iter()
                .filter(|(source, id)| returned.contains(&(source.to_string(), id.to_string()))),
        );
    }
    Ok(fresh)
}

/// The raw rows of warning and worse events, a hundred per statement.
async fn insert_raw(tx: &mut Transaction<'_, Any>, items: &[&Processed]) -> Result<(), StoreError> {
    for chunk in items.chunks(ROWS_PER_INSERT) {
        let sql = format!(
            "INSERT INTO railway_logs (source, source_id, ts, level, service, deployment, environment, message, attributes, fingerprint) VALUES {}",
            values_list(tx, chunk.len(), 10)
        );
        let mut query = multi_row_query(&sql, chunk.len(), ROWS_PER_INSERT);
        for item in chunk {
            let e = &item.event;
            query = query
                .bind(&e.source)
                .bind(&e.source_id)
                .bind(to_millis(e.timestamp))
                .bind(e.level.as_str())
                .bind(&e.service)
                .bind(&e.deployment)
                .bind(&e.environment)
                .bind(&e.message)
                .bind(attributes_json(item))
                .bind(item.group.as_ref().map(|g| g.fingerprint.as_str()));
        }
        query.execute(&mut **tx).await?;
    }
    Ok(())
}

/// The occurrences of grouped events, a hundred per statement.
async fn insert_occurrences(
    tx: &mut Transaction<'_, Any>,
    items: &[&Processed],
) -> Result<(), StoreError> {
    let grouped: Vec<(&Processed, &str)> = items
        .iter()
        .filter_map(|item| item.group.as_ref().map(|g| (*item, g.fingerprint.as_str())))
        .collect();
    for chunk in grouped.chunks(ROWS_PER_INSERT) {
        let sql = format!(
            "INSERT INTO error_occurrences (fingerprint, ts, level, message, service, deployment, environment, stack_trace, attributes, source) VALUES {}",
            values_list(tx, chunk.len(), 10)
        );
        let mut query = multi_row_query(&sql, chunk.len(), ROWS_PER_INSERT);
        for (item, fingerprint) in chunk {
            let e = &item.event;
            query = query
                .bind(*fingerprint)
                .bind(to_millis(e.timestamp))
                .bind(e.level.as_str())
                .bind(&e.message)
                .bind(&e.service)
                .bind(&e.deployment)
                .bind(&e.environment)
                .bind(stack_trace(item))
                .bind(attributes_json(item))
                .bind(&e.source);
        }
        query.execute(&mut **tx).await?;
    }
    Ok(())
}

/// What a group was before a batch touched it.
enum Before {
    Absent,
    Present,
    Resolved,
    /// Ignored until a number of occurrences that this batch reaches.
    Muted,
}

/// Groups per statement when they are looked up or upserted (14 parameters a row).
pub(super) const GROUPS_PER_STATEMENT: usize = 50;

/// What each of `groups` (distinct fingerprints) was before this batch, in their order: one
/// lookup per fifty groups rather than one per group.
async fn groups_before(
    tx: &mut Transaction<'_, Any>,
    groups: &[(&str, GroupDelta<'_>)],
) -> Result<Vec<Before>, StoreError> {
    let mut found: std::collections::HashMap<String, (String, i64, Option<i64>)> =
        std::collections::HashMap::with_capacity(groups.len());
    for chunk in groups.chunks(GROUPS_PER_STATEMENT) {
        let sql = format!(
            "SELECT fingerprint, status, occurrence_count, muted_until_count FROM error_fingerprints WHERE fingerprint IN {}",
            values_list(tx, 1, chunk.len())
        );
        let mut query = multi_row_query(&sql, chunk.len(), GROUPS_PER_STATEMENT);
        for (fingerprint, _) in chunk {
            query = query.bind(*fingerprint);
        }
        for row in query.fetch_all(&mut **tx).await? {
            found.insert(
                row.try_get("fingerprint")?,
                (
                    row.try_get("status")?,
                    row.try_get("occurrence_count")?,
                    row.try_get("muted_until_count")?,
                ),
            );
        }
    }
    Ok(groups
        .iter()
        .map(|(fingerprint, delta)| match found.get(*fingerprint) {
            None => Before::Absent,
            Some((status, count, mute)) => match status.as_str() {
                "resolved" => Before::Resolved,
                // Ignored for N more occurrences: this batch reaches them.
                "ignored" if mute.is_some_and(|m| count + delta.count >= m) => Before::Muted,
                _ => Before::Present,
            },
        })
        .collect())
}

/// Inserts or updates `groups` (distinct fingerprints, sorted), fifty per statement.
async fn upsert_groups(
    tx: &mut Transaction<'_, Any>,
    groups: &[(&str, GroupDelta<'_>)],
) -> Result<(), StoreError> {
    // Only grouped events make a delta; a delta without a group has nothing to write.
    let rows: Vec<(&str, &GroupDelta<'_>, &crate::pipeline::GroupKey)> = groups
        .iter()
        .filter_map(|(fp, delta)| delta.last.group.as_ref().map(|g| (*fp, delta, g)))
        .collect();
    for chunk in rows.chunks(GROUPS_PER_STATEMENT) {
        let sql = format!(
            "INSERT INTO error_fingerprints (fingerprint, template, error_type, level, service, first_seen, last_seen, occurrence_count, sample_message, stack_trace, category, severity, fixable, algorithm_version, status) \
             VALUES {} \
             ON CONFLICT (fingerprint) DO UPDATE SET \
               first_seen = CASE WHEN excluded.first_seen < error_fingerprints.first_seen THEN excluded.first_seen ELSE error_fingerprints.first_seen END, \
               sample_message = CASE WHEN excluded.last_seen >= error_fingerprints.last_seen THEN excluded.sample_message ELSE error_fingerprints.sample_message END, \
               stack_trace = CASE WHEN excluded.last_seen >= error_fingerprints.last_seen AND excluded.stack_trace IS NOT NULL THEN excluded.stack_trace ELSE error_fingerprints.stack_trace END, \
               last_seen = CASE WHEN excluded.last_seen > error_fingerprints.last_seen THEN excluded.last_seen ELSE error_fingerprints.last_seen END, \
               occurrence_count = error_fingerprints.occurrence_count + excluded.occurrence_count, \
               level = CASE WHEN excluded.level = 'critical' THEN 'critical' ELSE error_fingerprints.level END, \
               category = excluded.category, severity = excluded.severity, fixable = excluded.fixable",
            values_list(tx, chunk.len(), 15)
        );
        let mut query = multi_row_query(&sql, chunk.len(), GROUPS_PER_STATEMENT);
        for (fingerprint, delta, group) in chunk {
            let last = delta.last;
            let level = if delta.critical {
                Level::Critical
            } else {
                Level::Error
            };
            query = query
                .bind(*fingerprint)
                .bind(&group.template)
                .bind(&group.error_type)
                .bind(level.as_str())
                .bind(&last.event.service)
                .bind(to_millis(delta.first.event.timestamp))
                .bind(to_millis(last.event.timestamp))
                .bind(delta.count)
                .bind(&last.event.message)
                .bind(stack_trace(last))
                .bind(group.classification.category.as_str())
                .bind(group.classification.severity.as_str())
                .bind(i64::from(group.classification.fixable))
                .bind(ALGORITHM_VERSION)
                .bind("unresolved");
        }
        query.execute(&mut **tx).await?;
    }
    Ok(())
}

fn attributes_json(item: &Processed) -> String {
    serde_json::to_string(&item.event.attributes).unwrap_or_else(|_| "{}".to_string())
}

/// The event's stack trace as text: the source's own, or one rendered from structured frames.
fn stack_trace(item: &Processed) -> Option<String> {
    let e = &item.event;
    if let Some(trace) = &e.stack_trace {
        return Some(trace.clone());
    }
    // An exception without frames adds nothing to the message.
    let exception = e.exception.as_ref().filter(|x| !x.frames.is_empty())?;
    let mut out = format!("{}: {}\n", exception.kind, exception.value);
    for f in &exception.frames {
        out.push_str(&format!(
            "  at {} ({}:{}){}\n",
            f.function.as_deref().unwrap_or("?"),
            f.file.as_deref().unwrap_or("?"),
            f.line.map_or_else(|| "?".to_string(), |l| l.to_string()),
            if f.in_app { "" } else { " [library]" }
        ));
    }
    Some(out)
}
