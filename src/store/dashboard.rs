//! Reads for the System Health page and the group page: time series from the per-minute
//! counters (never a scan of occurrences), open tasks, and a group's recent attributes.

use chrono::{DateTime, Duration, Utc};
use sqlx::Row;

use super::queries::{Bind, Sql};
use super::{from_millis, to_millis, Store, StoreError};

/// Lines and errors of one bucket, service and level.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeriesRow {
    /// Start of the bucket.
    pub bucket: DateTime<Utc>,
    pub service: String,
    pub level: String,
    /// Error and critical lines.
    pub errors: i64,
    /// All lines.
    pub lines: i64,
}

/// Occurrences of one group in one bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupBucket {
    pub fingerprint: String,
    pub bucket: DateTime<Utc>,
    pub count: i64,
}

/// Where one occurrence ran: service, deployment, environment.
pub type Placement = (Option<String>, Option<String>, Option<String>);

/// Bucket width in milliseconds, at least a minute.
fn bucket_ms(bucket: Duration) -> i64 {
    bucket.num_milliseconds().max(60_000) / 60_000 * 60_000
}

/// The line counters to read for buckets `width` ms wide: the quarter-hour rollup when the
/// buckets are whole quarter-hours, else the per-minute counters.
fn line_table(width: i64) -> &'static str {
    if width % 900_000 == 0 {
        "log_counts_15m"
    } else {
        "log_counts_minute"
    }
}

/// The group counters to read for buckets `width` ms wide: hours, or minutes.
fn group_table(width: i64) -> &'static str {
    if width % 3_600_000 == 0 {
        "group_counts_hour"
    } else {
        "group_counts_minute"
    }
}

impl Store {
    /// Lines and errors per `bucket`, service and level between `since` and `until`, oldest
    /// first; `service` keeps one service. Read from the per-minute counters in one pass, so
    /// a page can stack by level or by service and list the services from the same rows.
    pub async fn error_series(
        &self,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
        bucket: Duration,
        service: Option<&str>,
    ) -> Result<Vec<SeriesRow>, StoreError> {
        let width = bucket_ms(bucket);
        let mut sql = Sql::new("");
        sql.push(
            &format!(
                "SELECT (minute / ?) * ? AS bucket, service, level, \
                   CAST(SUM(CASE WHEN level IN ('error', 'critical') THEN count ELSE 0 END) AS BIGINT) AS errors, \
                   CAST(SUM(count) AS BIGINT) AS lines \
                 FROM {} WHERE minute >= ? AND minute <= ?",
                line_table(width)
            ),
            vec![
                Bind::Int(width),
                Bind::Int(width),
                Bind::Int(to_millis(since).div_euclid(width) * width),
                Bind::Int(to_millis(until)),
            ],
        );
        if let Some(service) = service {
            sql.push(" AND service = ?", vec![Bind::Text(service.to_string())]);
        }
        // Positional: the bucket expression's parameters differ from the SELECT's.
        sql.push(" GROUP BY 1, 2, 3 ORDER BY 1, 2, 3", vec![]);
        let rows = sql.query().fetch_all(self.pool()).await?;
        rows.iter()
            .map(|r| {
                Ok(SeriesRow {
                    bucket: from_millis(r.try_get("bucket")?),
                    service: r.try_get("service")?,
                    level: r.try_get("level")?,
                    errors: r.try_get("errors")?,
                    lines: r.try_get("lines")?,
                })
            })
            .collect()
    }

    /// Occurrences per `bucket` since `since` of each group in `fingerprints`, from the
    /// per-minute group counters; buckets without occurrences are left out.
    pub async fn group_series(
        &self,
        fingerprints: &[String],
        since: DateTime<Utc>,
        bucket: Duration,
    ) -> Result<Vec<GroupBucket>, StoreError> {
        if fingerprints.is_empty() {
            return Ok(Vec::new());
        }
        let width = bucket_ms(bucket);
        let mut sql = Sql::new("");
        sql.push(
            &format!(
                "SELECT fingerprint, (minute / ?) * ? AS bucket, CAST(SUM(count) AS BIGINT) AS n \
                 FROM {} WHERE minute >= ? AND fingerprint IN (",
                group_table(width)
            ),
            vec![
                Bind::Int(width),
                Bind::Int(width),
                Bind::Int(to_millis(since).div_euclid(width) * width),
            ],
        );
        for (i, fp) in fingerprints.iter().enumerate() {
            sql.push(
                if i == 0 { "?" } else { ", ?" },
                vec![Bind::Text(fp.clone())],
            );
        }
        sql.push(") GROUP BY 1, 2 ORDER BY 1, 2", vec![]);
        let rows = sql.query().fetch_all(self.pool()).await?;
        rows.iter()
            .map(|r| {
                Ok(GroupBucket {
                    fingerprint: r.try_get("fingerprint")?,
                    bucket: from_millis(r.try_get("bucket")?),
                    count: r.try_get("n")?,
                })
            })
            .collect()
    }

    /// Tasks that are not done.
    pub async fn open_task_count(&self) -> Result<i64, StoreError> {
        let row = sqlx::query(
            "SELECT CAST(COUNT(*) AS BIGINT) AS n FROM tasks WHERE status IN ('open', 'in_progress')",
        )
        .fetch_one(self.pool())
        .await?;
        Ok(row.try_get("n")?)
    }

    /// Service, deployment and environment of the group's latest `limit` occurrences (the
    /// newest-id index bounds the read, whatever the group's size).
    pub async fn recent_placements(
        &self,
        fingerprint: &str,
        limit: u32,
    ) -> Result<Vec<Placement>, StoreError> {
        let rows = sqlx::query(
            "SELECT service, deployment, environment FROM error_occurrences \
             WHERE fingerprint = $1 ORDER BY id DESC LIMIT $2",
        )
        .bind(fingerprint)
        .bind(i64::from(limit))
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get("service")?,
                    r.try_get("deployment")?,
                    r.try_get("environment")?,
                ))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_quarters_and_hours_read_the_rollups() {
        for (width, lines, groups) in [
            (60_000, "log_counts_minute", "group_counts_minute"),
            (300_000, "log_counts_minute", "group_counts_minute"),
            (900_000, "log_counts_15m", "group_counts_minute"),
            (3_600_000, "log_counts_15m", "group_counts_hour"),
            (21_600_000, "log_counts_15m", "group_counts_hour"),
        ] {
            assert_eq!(
                (line_table(width), group_table(width)),
                (lines, groups),
                "{width}"
            );
        }
    }

    #[test]
    fn buckets_are_whole_minutes() {
        for (given, want) in [
            (Duration::seconds(1), 60_000),
            (Duration::minutes(1), 60_000),
            (Duration::seconds(90), 60_000),
            (Duration::minutes(15), 900_000),
            (Duration::hours(1), 3_600_000),
        ] {
            assert_eq!(bucket_ms(given), want, "{given:?}");
        }
    }
}
