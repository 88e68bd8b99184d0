//! Deploys in the store: as the platform listed them, their checks, and the error groups
//! around them.

use chrono::{DateTime, Utc};
use sqlx::any::AnyRow;
use sqlx::Row;

use super::{from_millis, to_millis, Store, StoreError};
use crate::deploys::compare::Counted;
use crate::deploys::Seen;
use crate::model::{Deploy, DeployCheck};

const DEPLOY_COLUMNS: &str = "id, service, status, created_at, url, verified_at, checks_passed, \
    checks_failed, new_groups";

fn deploy_from_row(row: &AnyRow) -> Result<Deploy, StoreError> {
    let count = |name: &str| -> Result<u32, StoreError> {
        Ok(row.try_get::<i64, _>(name)?.clamp(0, i64::from(u32::MAX)) as u32)
    };
    Ok(Deploy {
        id: row.try_get("id")?,
        service: row.try_get("service")?,
        status: row.try_get("status")?,
        created_at: from_millis(row.try_get("created_at")?),
        url: row.try_get("url")?,
        verified_at: row
            .try_get::<Option<i64>, _>("verified_at")?
            .map(from_millis),
        checks_passed: count("checks_passed")?,
        checks_failed: count("checks_failed")?,
        new_groups: count("new_groups")?,
    })
}

impl Store {
    /// Records deployments as listed (new ones `pending`, or `skipped` when created before
    /// `history_before`); a known one gets its current status and URL.
    pub async fn record_deploys(
        &self,
        seen: &[Seen],
        history_before: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        for d in seen {
            let state = if d.created_at < history_before {
                "skipped"
            } else {
                "pending"
            };
            sqlx::query(
                "INSERT INTO deploys (id, service, status, created_at, url, first_seen_at, state) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) \
                 ON CONFLICT (id) DO UPDATE SET status = excluded.status, url = excluded.url",
            )
            .bind(&d.id)
            .bind(&d.service)
            .bind(&d.status)
            .bind(to_millis(d.created_at))
            .bind(d.url.as_deref())
            .bind(to_millis(now))
            .bind(state)
            .execute(self.pool())
            .await?;
        }
        Ok(())
    }

    /// Successful deployments whose checks have not run, oldest first.
    pub async fn deploys_to_check(&self) -> Result<Vec<Deploy>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {DEPLOY_COLUMNS} FROM deploys WHERE state = 'pending' AND status = 'SUCCESS' \
             ORDER BY created_at"
        ))
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(deploy_from_row).collect()
    }

    /// Stores a deployment's checks (replacing any) and marks it checked.
    pub async fn save_deploy_checks(
        &self,
        id: &str,
        checks: &[DeployCheck],
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool().begin().await?;
        sqlx::query("DELETE FROM deploy_checks WHERE deploy_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        for c in checks {
            sqlx::query(
                "INSERT INTO deploy_checks (deploy_id, kind, path, ok, status, latency_us, error) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(id)
            .bind(c.kind.as_str())
            .bind(&c.path)
            .bind(i64::from(c.ok))
            .bind(c.status.map(i64::from))
            .bind(c.latency_ms.map(|ms| (ms * 1000.0).round() as i64))
            .bind(c.error.as_deref())
            .execute(&mut *tx)
            .await?;
        }
        let passed = checks.iter().filter(|c| c.ok).count() as i64;
        sqlx::query(
            "UPDATE deploys SET state = 'checked', verified_at = $1, checks_passed = $2, \
             checks_failed = $3 WHERE id = $4",
        )
        .bind((!checks.is_empty()).then(|| to_millis(now)))
        .bind(passed)
        .bind(checks.len() as i64 - passed)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Checked successful deployments created since `since`, oldest first.
    pub async fn deploys_since(&self, since: DateTime<Utc>) -> Result<Vec<Deploy>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {DEPLOY_COLUMNS} FROM deploys WHERE state = 'checked' AND status = 'SUCCESS' \
             AND created_at >= $1 ORDER BY created_at"
        ))
        .bind(to_millis(since))
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(deploy_from_row).collect()
    }

    /// The latest deployments, newest first.
    pub async fn deploys(&self, limit: i64) -> Result<Vec<Deploy>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {DEPLOY_COLUMNS} FROM deploys WHERE state <> 'skipped' \
             ORDER BY created_at DESC, id LIMIT $1"
        ))
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(deploy_from_row).collect()
    }

    /// One deployment.
    pub async fn deploy(&self, id: &str) -> Result<Option<Deploy>, StoreError> {
        let sql = format!("SELECT {DEPLOY_COLUMNS} FROM deploys WHERE id = $1");
        self.row(&sql, id, deploy_from_row).await
    }

    /// A deployment's checks, in the order they ran.
    pub async fn deploy_checks(&self, id: &str) -> Result<Vec<DeployCheck>, StoreError> {
        let rows = sqlx::query(
            "SELECT kind, path, ok, status, latency_us, error FROM deploy_checks \
             WHERE deploy_id = $1 ORDER BY id",
        )
        .bind(id)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                Ok(DeployCheck {
                    kind: row
                        .try_get::<String, _>("kind")?
                        .parse()
                        .map_err(|e: String| StoreError::Corrupt(format!("deploy check: {e}")))?,
                    path: row.try_get("path")?,
                    ok: row.try_get::<i64, _>("ok")? != 0,
                    status: row
                        .try_get::<Option<i64>, _>("status")?
                        .map(|s| s.clamp(0, 999) as u16),
                    latency_ms: row
                        .try_get::<Option<i64>, _>("latency_us")?
                        .map(|us| us as f64 / 1000.0),
                    error: row.try_get("error")?,
                })
            })
            .collect()
    }

    /// When the next successful deployment of the same service was created, if any.
    pub async fn next_deploy_at(
        &self,
        deploy: &Deploy,
    ) -> Result<Option<DateTime<Utc>>, StoreError> {
        let row = sqlx::query(
            "SELECT MIN(created_at) AS next FROM deploys WHERE service = $1 AND status = 'SUCCESS' \
             AND created_at > $2",
        )
        .bind(&deploy.service)
        .bind(to_millis(deploy.created_at))
        .fetch_one(self.pool())
        .await?;
        Ok(row.try_get::<Option<i64>, _>("next")?.map(from_millis))
    }

    /// Error groups of the deploy's service first seen after it and before the next deploy of
    /// that service (no end when it is the latest: event clocks may run ahead of ours).
    pub async fn count_new_groups(&self, deploy: &Deploy) -> Result<u32, StoreError> {
        let end = self
            .next_deploy_at(deploy)
            .await?
            .unwrap_or(DateTime::<Utc>::MAX_UTC - chrono::Duration::days(1));
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM error_fingerprints WHERE service = $1 AND first_seen >= $2 \
             AND first_seen < $3",
        )
        .bind(&deploy.service)
        .bind(to_millis(deploy.created_at))
        .bind(to_millis(end.max(deploy.created_at)) + 1)
        .fetch_one(self.pool())
        .await?;
        Ok(row.try_get::<i64, _>("n")?.clamp(0, i64::from(u32::MAX)) as u32)
    }

    /// Stores how many new groups a deploy introduced.
    pub async fn set_deploy_new_groups(&self, id: &str, n: u32) -> Result<(), StoreError> {
        sqlx::query("UPDATE deploys SET new_groups = $1 WHERE id = $2")
            .bind(i64::from(n))
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Per group of `service`: occurrences in `[from, at)` and in `[at, to]` (per-minute
    /// counters, never occurrences; the minute of the deploy counts as after it).
    pub async fn group_counts_around(
        &self,
        service: &str,
        from: DateTime<Utc>,
        at: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<Counted>, StoreError> {
        let rows = sqlx::query(
            "SELECT g.fingerprint, g.template, g.first_seen, \
             CAST(SUM(CASE WHEN c.minute < $3 THEN c.count ELSE 0 END) AS BIGINT) AS before, \
             CAST(SUM(CASE WHEN c.minute >= $3 THEN c.count ELSE 0 END) AS BIGINT) AS after \
             FROM group_counts_minute c JOIN error_fingerprints g ON g.fingerprint = c.fingerprint \
             WHERE g.service = $1 AND c.minute >= $2 AND c.minute <= $4 \
             GROUP BY g.fingerprint, g.template, g.first_seen",
        )
        .bind(service)
        .bind(to_millis(from))
        .bind(to_millis(at).div_euclid(60_000) * 60_000)
        .bind(to_millis(to))
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                Ok(Counted {
                    fingerprint: row.try_get("fingerprint")?,
                    template: row.try_get("template")?,
                    first_seen: from_millis(row.try_get("first_seen")?),
                    before: row.try_get("before")?,
                    after: row.try_get("after")?,
                })
            })
            .collect()
    }
}
