//! Deploys in the store, one row per service and deployment id: as the platform listed them
//! (discovery), as the logs named them (the write path), their checks, and the error groups
//! around them.

use chrono::{DateTime, Utc};
use sqlx::any::AnyRow;
use sqlx::Row;

use super::queries::{Bind, Sql};
use super::{from_millis, to_millis, Store, StoreError};
use crate::deploys::compare::Counted;
use crate::deploys::Seen;
use crate::model::{Deploy, DeployCheck, DeployState};

const DEPLOY_COLUMNS: &str = "id, service, status, created_at, url, verified_at, checks_passed, \
    checks_failed, new_groups, state, commit_sha, first_log_at, last_log_at";

/// Platform statuses of a deployment that went live (it served, or serves, traffic): with
/// those seen in logs, the deploys the System Health chart marks. A build that failed or is
/// still queued changed nothing that runs.
pub const WENT_LIVE: &[&str] = &["SUCCESS", "SLEEPING", "REMOVING", "REMOVED", "CRASHED"];

fn deploy_from_row(row: &AnyRow) -> Result<Deploy, StoreError> {
    let count = |name: &str| -> Result<u32, StoreError> {
        Ok(row.try_get::<i64, _>(name)?.clamp(0, i64::from(u32::MAX)) as u32)
    };
    let time = |name: &str| -> Result<Option<DateTime<Utc>>, StoreError> {
        Ok(row.try_get::<Option<i64>, _>(name)?.map(from_millis))
    };
    Ok(Deploy {
        id: row.try_get("id")?,
        service: row.try_get("service")?,
        status: row
            .try_get::<Option<String>, _>("status")?
            .unwrap_or_default(),
        created_at: from_millis(row.try_get("created_at")?),
        url: row.try_get("url")?,
        verified_at: time("verified_at")?,
        checks_passed: count("checks_passed")?,
        checks_failed: count("checks_failed")?,
        new_groups: count("new_groups")?,
        state: row
            .try_get::<String, _>("state")?
            .parse()
            .map_err(|e: String| StoreError::Corrupt(format!("deploy: {e}")))?,
        commit_sha: row.try_get("commit_sha")?,
        first_log_at: time("first_log_at")?,
        last_log_at: time("last_log_at")?,
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
                DeployState::Skipped
            } else {
                DeployState::Pending
            };
            // A deploy seen in logs first takes the platform's facts and starts verification;
            // one already listed keeps its state and gets its current status and URL.
            sqlx::query(
                "INSERT INTO deploys (service, id, status, created_at, url, commit_sha, \
                 first_seen_at, state) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                 ON CONFLICT (service, id) DO UPDATE SET status = excluded.status, \
                   url = excluded.url, \
                   commit_sha = COALESCE(excluded.commit_sha, deploys.commit_sha), \
                   created_at = excluded.created_at, \
                   state = CASE WHEN deploys.state = 'logged' THEN excluded.state \
                     ELSE deploys.state END",
            )
            .bind(&d.service)
            .bind(&d.id)
            .bind(&d.status)
            .bind(to_millis(d.created_at))
            .bind(d.url.as_deref())
            .bind(d.commit_sha.as_deref())
            .bind(to_millis(now))
            .bind(state.as_str())
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
        deploy: &Deploy,
        checks: &[DeployCheck],
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool().begin().await?;
        sqlx::query("DELETE FROM deploy_checks WHERE service = $1 AND deploy_id = $2")
            .bind(&deploy.service)
            .bind(&deploy.id)
            .execute(&mut *tx)
            .await?;
        for c in checks {
            sqlx::query(
                "INSERT INTO deploy_checks (service, deploy_id, kind, path, ok, status, \
                 latency_us, error) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(&deploy.service)
            .bind(&deploy.id)
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
             checks_failed = $3 WHERE service = $4 AND id = $5",
        )
        .bind((!checks.is_empty()).then(|| to_millis(now)))
        .bind(passed)
        .bind(checks.len() as i64 - passed)
        .bind(&deploy.service)
        .bind(&deploy.id)
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

    /// One deployment: of `service` when given, else the newest with that id (an id seen in
    /// logs, such as a release name, may repeat across services; a platform's ids do not).
    pub async fn deploy(
        &self,
        id: &str,
        service: Option<&str>,
    ) -> Result<Option<Deploy>, StoreError> {
        let mut sql = Sql::new(&format!("SELECT {DEPLOY_COLUMNS} FROM deploys"));
        sql.push(" WHERE id = ?", vec![Bind::Text(id.to_string())]);
        if let Some(service) = service {
            sql.push(" AND service = ?", vec![Bind::Text(service.to_string())]);
        }
        sql.push(" ORDER BY created_at DESC, service LIMIT 1", Vec::new());
        let row = sql.query().fetch_optional(self.pool()).await?;
        row.as_ref().map(deploy_from_row).transpose()
    }

    /// Deploys that went live between `since` and `until` (of `service`, or all), by when
    /// they were created, oldest first, at most `limit`: the System Health chart's markers.
    pub async fn deploys_between(
        &self,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
        service: Option<&str>,
        limit: u32,
    ) -> Result<Vec<Deploy>, StoreError> {
        let live = WENT_LIVE
            .iter()
            .map(|s| format!("'{s}'"))
            .collect::<Vec<_>>()
            .join(", ");
        let mut sql = Sql::new(&format!("SELECT {DEPLOY_COLUMNS} FROM deploys"));
        sql.push(
            " WHERE created_at >= ? AND created_at <= ?",
            vec![Bind::Int(to_millis(since)), Bind::Int(to_millis(until))],
        );
        if let Some(service) = service {
            sql.push(" AND service = ?", vec![Bind::Text(service.to_string())]);
        }
        sql.push(
            &format!(
                " AND (first_log_at IS NOT NULL OR status IN ({live})) \
                 ORDER BY created_at, service, id LIMIT ?"
            ),
            vec![Bind::Int(i64::from(limit))],
        );
        let rows = sql.query().fetch_all(self.pool()).await?;
        rows.iter().map(deploy_from_row).collect()
    }

    /// A deployment's checks, in the order they ran.
    pub async fn deploy_checks(&self, deploy: &Deploy) -> Result<Vec<DeployCheck>, StoreError> {
        let rows = sqlx::query(
            "SELECT kind, path, ok, status, latency_us, error FROM deploy_checks \
             WHERE service = $1 AND deploy_id = $2 ORDER BY id",
        )
        .bind(&deploy.service)
        .bind(&deploy.id)
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

    /// When the next successful deployment of the same service was created (or, seen in logs
    /// only, first logged), if any.
    pub async fn next_deploy_at(
        &self,
        deploy: &Deploy,
    ) -> Result<Option<DateTime<Utc>>, StoreError> {
        let row = sqlx::query(
            "SELECT MIN(created_at) AS next FROM deploys WHERE service = $1 \
             AND (status = 'SUCCESS' OR status IS NULL) AND created_at > $2",
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
    pub async fn set_deploy_new_groups(&self, deploy: &Deploy, n: u32) -> Result<(), StoreError> {
        sqlx::query("UPDATE deploys SET new_groups = $1 WHERE service = $2 AND id = $3")
            .bind(i64::from(n))
            .bind(&deploy.service)
            .bind(&deploy.id)
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
