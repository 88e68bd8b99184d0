//! The read side, plus small state updates (cursors, runs, status, retention).

use chrono::{DateTime, Duration, Utc};
use sqlx::any::{AnyArguments, AnyRow};
use sqlx::query::Query;
use sqlx::{Any, Row};

use super::{from_millis, group_from_row, occurrence_from_row, to_millis, Store, StoreError};
use crate::model::{
    Category, Group, GroupStatus, Level, MinuteBucket, Occurrence, Page, Severity, Stats,
};

/// Order of the group list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GroupSort {
    /// Most occurrences first.
    #[default]
    Count,
    /// Most recently seen first.
    LastSeen,
}

impl GroupSort {
    /// The first part of this order's cursors.
    fn cursor_tag(self) -> &'static str {
        match self {
            GroupSort::Count => "c",
            GroupSort::LastSeen => "l",
        }
    }
}

/// What one run of the sources did (crawler bookkeeping).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunReport {
    /// Log lines (events) stored.
    pub events: usize,
    /// Of those, errors and worse.
    pub errors_found: usize,
    pub tasks_created: usize,
    /// Failed requests to the source's API.
    pub api_errors: usize,
    /// Why the run failed, if it did.
    pub error: Option<String>,
}

/// A stored run.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RunRecord {
    pub id: String,
    pub triggered_by: String,
    pub source: Option<String>,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub status: String,
    pub events: i64,
    pub error: Option<String>,
    pub errors_found: i64,
    pub tasks_created: i64,
    pub api_errors: i64,
    pub duration_ms: Option<i64>,
}

/// Filters and paging for the group list.
#[derive(Debug, Clone, Default)]
pub struct GroupQuery {
    pub sort: GroupSort,
    pub level: Option<Level>,
    pub status: Option<GroupStatus>,
    pub service: Option<String>,
    /// Only groups seen at or after this time.
    pub since: Option<DateTime<Utc>>,
    /// Only groups first seen at or before this time.
    pub until: Option<DateTime<Utc>>,
    /// Only groups first seen at or after this time (new ones).
    pub first_seen_since: Option<DateTime<Utc>>,
    /// Only groups last seen before this time (quiet ones).
    pub last_seen_before: Option<DateTime<Utc>>,
    /// Case-insensitive text the template must contain.
    pub text: Option<String>,
    pub category: Option<Category>,
    pub severity: Option<Severity>,
    /// Only fixable (true) or only unfixable (false) groups.
    pub fixable: Option<bool>,
    pub limit: u32,
    pub cursor: Option<String>,
}

/// A bind value of a dynamically built query.
pub(super) enum Bind {
    Int(i64),
    Text(String),
}

/// A query built piece by piece, numbering its `$n` parameters.
pub(super) struct Sql {
    text: String,
    binds: Vec<Bind>,
}

impl Sql {
    pub(super) fn new(text: &str) -> Sql {
        Sql {
            text: text.to_string(),
            binds: Vec::new(),
        }
    }

    /// Appends `clause`, where each `?` becomes the next `$n` bound to the next value.
    pub(super) fn push(&mut self, clause: &str, values: Vec<Bind>) {
        let mut values = values.into_iter();
        for (i, part) in clause.split('?').enumerate() {
            if i > 0 {
                if let Some(v) = values.next() {
                    self.binds.push(v);
                    self.text.push_str(&format!("${}", self.binds.len()));
                }
            }
            self.text.push_str(part);
        }
    }

    pub(super) fn query(&self) -> Query<'_, Any, AnyArguments<'_>> {
        self.binds
            .iter()
            .fold(sqlx::query(&self.text), |q, b| match b {
                Bind::Int(i) => q.bind(*i),
                Bind::Text(s) => q.bind(s.as_str()),
            })
    }
}

/// The largest page any list returns.
pub const MAX_PAGE: u32 = 500;

impl Store {
    /// One page of `sql` (a `SELECT … WHERE …` without its order), newest id first: the
    /// cursor is the last id of the previous page (keyset paging).
    pub(super) async fn id_desc_page<T>(
        &self,
        mut sql: Sql,
        limit: u32,
        cursor: Option<&str>,
        from_row: fn(&AnyRow) -> Result<T, StoreError>,
        id_of: fn(&T) -> i64,
    ) -> Result<Page<T>, StoreError> {
        let limit = limit.clamp(1, MAX_PAGE);
        if let Some(cursor) = cursor {
            let before = cursor
                .parse::<i64>()
                .map_err(|_| StoreError::InvalidCursor)?;
            sql.push(" AND id < ?", vec![Bind::Int(before)]);
        }
        sql.push(
            " ORDER BY id DESC LIMIT ?",
            vec![Bind::Int(i64::from(limit) + 1)],
        );
        let rows = sql.query().fetch_all(self.pool()).await?;
        let mut items = rows.iter().map(from_row).collect::<Result<Vec<_>, _>>()?;
        let next_cursor = if items.len() > limit as usize {
            items.truncate(limit as usize);
            items.last().map(|t| id_of(t).to_string())
        } else {
            None
        };
        Ok(Page { items, next_cursor })
    }

    /// Groups matching `q`, in `q.sort` order, one page at a time.
    pub async fn list_groups(&self, q: &GroupQuery) -> Result<Page<Group>, StoreError> {
        let limit = q.limit.clamp(1, MAX_PAGE);
        let mut sql = Sql::new("SELECT * FROM error_fingerprints WHERE 1 = 1");
        if let Some(level) = q.level {
            sql.push(" AND level = ?", vec![Bind::Text(level.as_str().into())]);
        }
        if let Some(status) = q.status {
            sql.push(" AND status = ?", vec![Bind::Text(status.as_str().into())]);
        }
        if let Some(service) = &q.service {
            sql.push(" AND service = ?", vec![Bind::Text(service.clone())]);
        }
        if let Some(since) = q.since {
            sql.push(" AND last_seen >= ?", vec![Bind::Int(to_millis(since))]);
        }
        if let Some(until) = q.until {
            sql.push(" AND first_seen <= ?", vec![Bind::Int(to_millis(until))]);
        }
        if let Some(t) = q.first_seen_since {
            sql.push(" AND first_seen >= ?", vec![Bind::Int(to_millis(t))]);
        }
        if let Some(t) = q.last_seen_before {
            sql.push(" AND last_seen < ?", vec![Bind::Int(to_millis(t))]);
        }
        if let Some(category) = q.category {
            sql.push(
                " AND category = ?",
                vec![Bind::Text(category.as_str().into())],
            );
        }
        if let Some(severity) = q.severity {
            sql.push(
                " AND severity = ?",
                vec![Bind::Text(severity.as_str().into())],
            );
        }
        if let Some(fixable) = q.fixable {
            sql.push(" AND fixable = ?", vec![Bind::Int(i64::from(fixable))]);
        }
        if let Some(text) = &q.text {
            let escaped = text
                .to_lowercase()
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_");
            sql.push(
                " AND LOWER(template) LIKE ? ESCAPE '\\'",
                vec![Bind::Text(format!("%{escaped}%"))],
            );
        }
        let column = match q.sort {
            GroupSort::Count => "occurrence_count",
            GroupSort::LastSeen => "last_seen",
        };
        if let Some(cursor) = &q.cursor {
            let (value, fingerprint) = decode_group_cursor(cursor, q.sort)?;
            sql.push(
                &format!(" AND ({column} < ? OR ({column} = ? AND fingerprint > ?))"),
                vec![Bind::Int(value), Bind::Int(value), Bind::Text(fingerprint)],
            );
        }
        sql.push(
            &format!(" ORDER BY {column} DESC, fingerprint ASC LIMIT ?"),
            vec![Bind::Int(i64::from(limit) + 1)],
        );
        let rows = sql.query().fetch_all(self.pool()).await?;
        let mut items = rows
            .iter()
            .map(group_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        let next_cursor = if items.len() > limit as usize {
            items.truncate(limit as usize);
            items.last().map(|g| {
                let value = match q.sort {
                    GroupSort::Count => g.occurrences,
                    GroupSort::LastSeen => to_millis(g.last_seen),
                };
                format!("{}.{value}.{}", q.sort.cursor_tag(), g.fingerprint)
            })
        } else {
            None
        };
        Ok(Page { items, next_cursor })
    }

    /// The fingerprints of the current grouping version that stored groups of earlier versions
    /// answer to ([`crate::pipeline::upgrade`]), for `pipeline` (without aliases) to take on.
    /// A fingerprint that is a stored group's own is no alias.
    pub async fn grouping_aliases(
        &self,
        pipeline: &crate::pipeline::Pipeline,
    ) -> Result<std::collections::HashMap<String, String>, StoreError> {
        let version = crate::pipeline::normalize::ALGORITHM_VERSION;
        let earlier = self
            .rows(
                &format!(
                    "SELECT * FROM error_fingerprints WHERE algorithm_version < {version} \
                     ORDER BY first_seen, fingerprint"
                ),
                group_from_row,
            )
            .await?;
        let mut aliases = crate::pipeline::upgrade::aliases(pipeline, &earlier);
        let candidates: Vec<String> = aliases.keys().cloned().collect();
        let mut conn = self.pool().acquire().await?;
        for chunk in candidates.chunks(super::write::GROUPS_PER_STATEMENT) {
            let sql = format!(
                "SELECT fingerprint FROM error_fingerprints WHERE fingerprint IN {}",
                super::write::values_list(&conn, 1, chunk.len())
            );
            let mut query = sqlx::query(&sql);
            for fingerprint in chunk {
                query = query.bind(fingerprint);
            }
            for row in query.fetch_all(&mut *conn).await? {
                aliases.remove(&row.try_get::<String, _>("fingerprint")?);
            }
        }
        Ok(aliases)
    }

    /// One group by fingerprint.
    pub async fn group(&self, fingerprint: &str) -> Result<Option<Group>, StoreError> {
        let mut conn = self.pool().acquire().await?;
        group_on(&mut conn, fingerprint).await
    }

    /// A group's occurrences, newest first. The cursor is the last id of the previous page.
    pub async fn occurrences(
        &self,
        fingerprint: &str,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<Page<Occurrence>, StoreError> {
        self.group_rows_page(
            "error_occurrences",
            fingerprint,
            cursor,
            limit,
            occurrence_from_row,
            |o| o.id,
        )
        .await
    }

    /// One page of a group's rows of `table` (a constant), newest id first; the cursor is the
    /// last id of the previous page (keyset paging: every page costs the same).
    pub(crate) async fn group_rows_page<T>(
        &self,
        table: &'static str,
        fingerprint: &str,
        cursor: Option<&str>,
        limit: u32,
        decode: fn(&AnyRow) -> Result<T, StoreError>,
        id_of: fn(&T) -> i64,
    ) -> Result<Page<T>, StoreError> {
        let limit = limit.clamp(1, MAX_PAGE);
        let before = match cursor {
            None => i64::MAX,
            Some(c) => c.parse::<i64>().map_err(|_| StoreError::InvalidCursor)?,
        };
        let rows = sqlx::query(&format!(
            "SELECT * FROM {table} WHERE fingerprint = $1 AND id < $2 ORDER BY id DESC LIMIT $3"
        ))
        .bind(fingerprint)
        .bind(before)
        .bind(i64::from(limit) + 1)
        .fetch_all(self.pool())
        .await?;
        let mut items = rows.iter().map(decode).collect::<Result<Vec<_>, _>>()?;
        let next_cursor = if items.len() > limit as usize {
            items.truncate(limit as usize);
            items.last().map(|item| id_of(item).to_string())
        } else {
            None
        };
        Ok(Page { items, next_cursor })
    }

    /// Totals over the `window` before `now`, from the per-minute counters.
    pub async fn stats(&self, now: DateTime<Utc>, window: Duration) -> Result<Stats, StoreError> {
        let since = now - window;
        let since_minute = to_millis(since).div_euclid(60_000) * 60_000;
        let rows = sqlx::query(
            "SELECT minute, \
               CAST(SUM(CASE WHEN level IN ('error', 'critical') THEN count ELSE 0 END) AS BIGINT) AS errors, \
               CAST(SUM(count) AS BIGINT) AS lines \
             FROM log_counts_minute WHERE minute >= $1 AND minute <= $2 GROUP BY minute ORDER BY minute",
        )
        .bind(since_minute)
        .bind(to_millis(now))
        .fetch_all(self.pool())
        .await?;
        let per_minute = rows
            .iter()
            .map(|r| {
                Ok(MinuteBucket {
                    minute: from_millis(r.try_get("minute")?),
                    errors: r.try_get("errors")?,
                    lines: r.try_get("lines")?,
                })
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()?;
        let errors: i64 = per_minute.iter().map(|b| b.errors).sum();
        let lines: i64 = per_minute.iter().map(|b| b.lines).sum();
        let (groups, new_today, resolved) = self.group_totals(now).await?;
        Ok(Stats {
            generated_at: now,
            since,
            errors,
            lines,
            error_rate: if lines > 0 {
                errors as f64 / lines as f64
            } else {
                0.0
            },
            groups,
            new_today,
            resolved,
            per_minute,
        })
    }

    /// Groups ever seen, first seen since midnight UTC, and quiet for 24 hours, at `now`.
    pub async fn group_totals(&self, now: DateTime<Utc>) -> Result<(i64, i64, i64), StoreError> {
        let midnight = now
            .date_naive()
            .and_hms_opt(0, 0, 0)
            .map(|t| t.and_utc())
            .unwrap_or(now);
        let row = sqlx::query(
            "SELECT COUNT(*) AS groups, \
               CAST(COALESCE(SUM(CASE WHEN first_seen >= $1 THEN 1 ELSE 0 END), 0) AS BIGINT) AS new_today, \
               CAST(COALESCE(SUM(CASE WHEN last_seen < $2 THEN 1 ELSE 0 END), 0) AS BIGINT) AS resolved \
             FROM error_fingerprints",
        )
        .bind(to_millis(midnight))
        .bind(to_millis(now - Duration::hours(24)))
        .fetch_one(self.pool())
        .await?;
        Ok((
            row.try_get("groups")?,
            row.try_get("new_today")?,
            row.try_get("resolved")?,
        ))
    }

    /// Number of groups per category, most first.
    pub async fn category_counts(&self) -> Result<Vec<(String, i64)>, StoreError> {
        let rows = sqlx::query(
            "SELECT category, COUNT(*) AS n FROM error_fingerprints GROUP BY category ORDER BY n DESC, category",
        )
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("category")?, r.try_get("n")?)))
            .collect()
    }

    /// Number of groups per level, for /metrics.
    pub async fn group_counts(&self) -> Result<Vec<(Level, i64)>, StoreError> {
        let rows =
            sqlx::query("SELECT level, COUNT(*) AS n FROM error_fingerprints GROUP BY level")
                .fetch_all(self.pool())
                .await?;
        rows.iter()
            .map(|r| {
                let level: String = r.try_get("level")?;
                Ok((super::parse_level(&level)?, r.try_get("n")?))
            })
            .collect()
    }

    /// The stored cursor of a source.
    pub async fn cursor(&self, source: &str) -> Result<Option<String>, StoreError> {
        let row = sqlx::query("SELECT cursor FROM log_crawler_state WHERE source = $1")
            .bind(source)
            .fetch_optional(self.pool())
            .await?;
        Ok(row.map(|r| r.try_get("cursor")).transpose()?)
    }

    /// Records the start of a run of the sources (`source`: one source, or `None` for all).
    pub async fn start_run(
        &self,
        id: &str,
        triggered_by: &str,
        source: Option<&str>,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO crawl_runs (id, triggered_by, source, started_at, status) VALUES ($1, $2, $3, $4, 'running')",
        )
        .bind(id)
        .bind(triggered_by)
        .bind(source)
        .bind(to_millis(at))
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Records the end of a run with what it did.
    pub async fn finish_run(
        &self,
        id: &str,
        at: DateTime<Utc>,
        run: &RunReport,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE crawl_runs SET finished_at = $1, status = $2, events = $3, error = $4, \
             errors_found = $5, tasks_created = $6, api_errors = $7, duration_ms = $1 - started_at WHERE id = $8",
        )
        .bind(to_millis(at))
        .bind(if run.error.is_some() { "failed" } else { "succeeded" })
        .bind(run.events as i64)
        .bind(run.error.as_deref())
        .bind(run.errors_found as i64)
        .bind(run.tasks_created as i64)
        .bind(run.api_errors as i64)
        .bind(id)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// The most recent runs, newest first.
    pub async fn recent_runs(&self, limit: i64) -> Result<Vec<RunRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, triggered_by, source, started_at, finished_at, status, events, error, \
             errors_found, tasks_created, api_errors, duration_ms FROM crawl_runs ORDER BY started_at DESC LIMIT $1",
        )
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(RunRecord {
                    id: r.try_get("id")?,
                    triggered_by: r.try_get("triggered_by")?,
                    source: r.try_get("source")?,
                    started_at: from_millis(r.try_get("started_at")?),
                    finished_at: r.try_get::<Option<i64>, _>("finished_at")?.map(from_millis),
                    status: r.try_get("status")?,
                    events: r.try_get("events")?,
                    error: r.try_get("error")?,
                    errors_found: r.try_get("errors_found")?,
                    tasks_created: r.try_get("tasks_created")?,
                    api_errors: r.try_get("api_errors")?,
                    duration_ms: r.try_get("duration_ms")?,
                })
            })
            .collect()
    }

    /// Takes or renews the lease `name` for `holder` until `now + ttl`; true when `holder`
    /// holds it. A lease whose holder stopped renewing passes to the next taker once expired.
    pub async fn acquire_lease(
        &self,
        name: &str,
        holder: &str,
        now: DateTime<Utc>,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        let expires = to_millis(now + ttl);
        let done = sqlx::query(
            "INSERT INTO leases (name, holder, expires_at) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at \
             WHERE leases.holder = excluded.holder OR leases.expires_at < $4",
        )
        .bind(name)
        .bind(holder)
        .bind(expires)
        .bind(to_millis(now))
        .execute(self.pool())
        .await?
        .rows_affected();
        Ok(done == 1)
    }

    /// Gives the lease up (on shutdown), so another replica takes over at once.
    pub async fn release_lease(&self, name: &str, holder: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM leases WHERE name = $1 AND holder = $2")
            .bind(name)
            .bind(holder)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Deletes raw logs, occurrences and seen ids older than `before`, a few thousand rows per
    /// statement so that ingest never waits long, stopping early when `stop()` says so (a
    /// shutdown). Returns the number of rows deleted.
    pub async fn prune(
        &self,
        before: DateTime<Utc>,
        stop: impl Fn() -> bool,
    ) -> Result<u64, StoreError> {
        const CHUNK: i64 = 5_000;
        let cutoff = to_millis(before);
        let statements = [
            "DELETE FROM railway_logs WHERE id IN (SELECT id FROM railway_logs WHERE ts < $1 LIMIT $2)",
            "DELETE FROM error_occurrences WHERE id IN (SELECT id FROM error_occurrences WHERE ts < $1 LIMIT $2)",
            "DELETE FROM seen_events WHERE (source, source_id) IN (SELECT source, source_id FROM seen_events WHERE ts < $1 LIMIT $2)",
            "DELETE FROM crawl_runs WHERE id IN (SELECT id FROM crawl_runs WHERE started_at < $1 LIMIT $2)",
            "DELETE FROM probe_results WHERE id IN (SELECT id FROM probe_results WHERE at < $1 LIMIT $2)",
        ];
        let mut total = 0;
        for statement in statements {
            loop {
                let deleted = sqlx::query(statement)
                    .bind(cutoff)
                    .bind(CHUNK)
                    .execute(self.pool())
                    .await?
                    .rows_affected();
                total += deleted;
                if deleted < CHUNK as u64 || stop() {
                    break;
                }
                tokio::task::yield_now().await;
            }
        }
        Ok(total)
    }
}

/// Splits a group-list cursor `SORT.VALUE.FINGERPRINT`; a cursor of another sort order is
/// invalid (its values would page wrongly).
fn decode_group_cursor(cursor: &str, sort: GroupSort) -> Result<(i64, String), StoreError> {
    let (tag, rest) = cursor.split_once('.').ok_or(StoreError::InvalidCursor)?;
    if tag != sort.cursor_tag() {
        return Err(StoreError::InvalidCursor);
    }
    let (value, fingerprint) = rest.split_once('.').ok_or(StoreError::InvalidCursor)?;
    let value = value
        .parse::<i64>()
        .map_err(|_| StoreError::InvalidCursor)?;
    if !crate::pipeline::fingerprint::is_fingerprint(fingerprint) {
        return Err(StoreError::InvalidCursor);
    }
    Ok((value, fingerprint.to_string()))
}

/// One group by fingerprint, on a connection (inside a transaction, say).
pub(crate) async fn group_on(
    conn: &mut sqlx::AnyConnection,
    fingerprint: &str,
) -> Result<Option<Group>, StoreError> {
    let row = sqlx::query("SELECT * FROM error_fingerprints WHERE fingerprint = $1")
        .bind(fingerprint)
        .fetch_optional(&mut *conn)
        .await?;
    row.as_ref().map(group_from_row).transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sql_numbers_parameters() {
        let mut sql = Sql::new("SELECT 1 WHERE 1 = 1");
        sql.push(" AND a = ?", vec![Bind::Int(1)]);
        sql.push(
            " AND (b < ? OR c = ?)",
            vec![Bind::Int(2), Bind::Text("x".into())],
        );
        assert_eq!(
            sql.text,
            "SELECT 1 WHERE 1 = 1 AND a = $1 AND (b < $2 OR c = $3)"
        );
        assert_eq!(sql.binds.len(), 3);
    }

    #[test]
    fn group_cursors() {
        let fp = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        assert_eq!(
            decode_group_cursor(&format!("c.42.{fp}"), GroupSort::Count).ok(),
            Some((42, fp.to_string()))
        );
        for bad in [
            "",
            "42",
            "c.x.y",
            &format!("c.x.{fp}"),
            "c.42.abc",
            &format!("l.42.{fp}"),
        ] {
            assert!(decode_group_cursor(bad, GroupSort::Count).is_err(), "{bad}");
        }
    }
}
