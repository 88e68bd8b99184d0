//! Probes in the store: their targets (CRUD, seeding) and their runs.

use chrono::{DateTime, Utc};
use sqlx::any::AnyRow;
use sqlx::Row;

use super::{from_millis, to_millis, Store, StoreError};
use crate::model::{ProbeResult, ProbeSpec, ProbeStatus, ProbeTarget};

const TARGET_COLUMNS: &str = "id, name, url, interval_seconds, timeout_ms, expected_status, \
    body_contains, tls_verify, enabled, created_at";
const RESULT_COLUMNS: &str = "probe_id, at, ok, failure, error, status, latency_us, dns_us, \
    dns_addresses, cert_not_after";

fn target_from_row(row: &AnyRow) -> Result<ProbeTarget, StoreError> {
    let number = |name: &str| -> Result<i64, StoreError> { Ok(row.try_get::<i64, _>(name)?) };
    Ok(ProbeTarget {
        id: number("id")?,
        name: row.try_get("name")?,
        url: row.try_get("url")?,
        interval_seconds: number("interval_seconds")?.clamp(1, i64::from(u32::MAX)) as u32,
        timeout_ms: number("timeout_ms")?.clamp(1, i64::from(u32::MAX)) as u32,
        expected_status: number("expected_status")?.clamp(0, 999) as u16,
        body_contains: row.try_get("body_contains")?,
        tls_verify: number("tls_verify")? != 0,
        enabled: number("enabled")? != 0,
        created_at: from_millis(number("created_at")?),
    })
}

/// Milliseconds as stored: whole microseconds.
fn to_micros(ms: f64) -> i64 {
    (ms * 1000.0).round() as i64
}

fn from_micros(us: i64) -> f64 {
    us as f64 / 1000.0
}

fn result_from_row(row: &AnyRow) -> Result<ProbeResult, StoreError> {
    let failure: Option<String> = row.try_get("failure")?;
    Ok(ProbeResult {
        probe_id: row.try_get("probe_id")?,
        at: from_millis(row.try_get("at")?),
        ok: row.try_get::<i64, _>("ok")? != 0,
        failure: failure
            .map(|f| f.parse())
            .transpose()
            .map_err(|e: String| StoreError::Corrupt(format!("probe result: {e}")))?,
        error: row.try_get("error")?,
        status: row
            .try_get::<Option<i64>, _>("status")?
            .map(|s| s.clamp(0, 999) as u16),
        latency_ms: row
            .try_get::<Option<i64>, _>("latency_us")?
            .map(from_micros),
        dns_ms: row.try_get::<Option<i64>, _>("dns_us")?.map(from_micros),
        dns_addresses: row.try_get("dns_addresses")?,
        cert_not_after: row
            .try_get::<Option<i64>, _>("cert_not_after")?
            .map(from_millis),
    })
}

impl Store {
    /// Every probe target, by name.
    pub async fn probe_targets(&self) -> Result<Vec<ProbeTarget>, StoreError> {
        let sql = format!("SELECT {TARGET_COLUMNS} FROM probe_targets ORDER BY name");
        self.rows(&sql, target_from_row).await
    }

    /// One probe target.
    pub async fn probe_target(&self, id: i64) -> Result<Option<ProbeTarget>, StoreError> {
        let sql = format!("SELECT {TARGET_COLUMNS} FROM probe_targets WHERE id = $1");
        self.row(&sql, id, target_from_row).await
    }

    /// Stores a new probe target (`spec` checked by the caller); `Conflict` when the name is
    /// taken.
    pub async fn create_probe_target(&self, spec: &ProbeSpec) -> Result<ProbeTarget, StoreError> {
        let now = to_millis(self.now());
        let row = sqlx::query(
            "INSERT INTO probe_targets (name, url, interval_seconds, timeout_ms, expected_status, \
             body_contains, tls_verify, enabled, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9) ON CONFLICT (name) DO NOTHING RETURNING id",
        )
        .bind(&spec.name)
        .bind(&spec.url)
        .bind(i64::from(spec.interval_seconds))
        .bind(i64::from(spec.timeout_ms))
        .bind(i64::from(spec.expected_status))
        .bind(spec.body_contains.as_deref())
        .bind(i64::from(spec.tls_verify))
        .bind(i64::from(spec.enabled))
        .bind(now)
        .fetch_optional(self.pool())
        .await?;
        let Some(row) = row else {
            return Err(StoreError::Conflict(format!(
                "name: a probe named '{}' exists",
                spec.name
            )));
        };
        let id: i64 = row.try_get("id")?;
        self.probe_target(id)
            .await?
            .ok_or_else(|| StoreError::Corrupt("probe target vanished".into()))
    }

    /// Adds the probes of `specs` whose names are not stored yet (the ones seeded from the
    /// environment: a probe changed through the API keeps its changes across restarts).
    /// Returns how many were added.
    pub async fn seed_probe_targets(&self, specs: &[ProbeSpec]) -> Result<usize, StoreError> {
        let mut added = 0;
        for spec in specs {
            match self.create_probe_target(spec).await {
                Ok(_) => added += 1,
                Err(StoreError::Conflict(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(added)
    }

    /// Replaces a probe's settings; `None` when there is no such probe, `Conflict` when the
    /// new name is another probe's.
    pub async fn update_probe_target(
        &self,
        id: i64,
        spec: &ProbeSpec,
    ) -> Result<Option<ProbeTarget>, StoreError> {
        let clash = sqlx::query("SELECT id FROM probe_targets WHERE name = $1 AND id <> $2")
            .bind(&spec.name)
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        if clash.is_some() {
            return Err(StoreError::Conflict(format!(
                "name: a probe named '{}' exists",
                spec.name
            )));
        }
        let changed = sqlx::query(
            "UPDATE probe_targets SET name = $1, url = $2, interval_seconds = $3, timeout_ms = $4, \
             expected_status = $5, body_contains = $6, tls_verify = $7, enabled = $8, updated_at = $9 \
             WHERE id = $10",
        )
        .bind(&spec.name)
        .bind(&spec.url)
        .bind(i64::from(spec.interval_seconds))
        .bind(i64::from(spec.timeout_ms))
        .bind(i64::from(spec.expected_status))
        .bind(spec.body_contains.as_deref())
        .bind(i64::from(spec.tls_verify))
        .bind(i64::from(spec.enabled))
        .bind(to_millis(self.now()))
        .bind(id)
        .execute(self.pool())
        .await?
        .rows_affected();
        if changed == 0 {
            return Ok(None);
        }
        self.probe_target(id).await
    }

    /// Deletes a probe and its runs; false when there was none.
    pub async fn delete_probe_target(&self, id: i64) -> Result<bool, StoreError> {
        self.delete_with_children(
            "DELETE FROM probe_results WHERE probe_id = $1",
            "DELETE FROM probe_targets WHERE id = $1",
            id,
        )
        .await
    }

    /// Stores one run of a probe.
    pub async fn record_probe_result(&self, r: &ProbeResult) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO probe_results (probe_id, at, ok, failure, error, status, latency_us, dns_us, \
             dns_addresses, cert_not_after) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(r.probe_id)
        .bind(to_millis(r.at))
        .bind(i64::from(r.ok))
        .bind(r.failure.map(|f| f.as_str()))
        .bind(r.error.as_deref())
        .bind(r.status.map(i64::from))
        .bind(r.latency_ms.map(to_micros))
        .bind(r.dns_ms.map(to_micros))
        .bind(r.dns_addresses.as_deref())
        .bind(r.cert_not_after.map(to_millis))
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// A probe's runs since `since`, oldest first, and at least its `newest` latest runs
    /// whenever they happened (so runs in a row are counted across a long interval).
    pub async fn probe_results(
        &self,
        probe_id: i64,
        since: DateTime<Utc>,
        newest: i64,
    ) -> Result<Vec<ProbeResult>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {RESULT_COLUMNS} FROM probe_results WHERE probe_id = $1 AND (at >= $2 OR id IN \
             (SELECT id FROM probe_results WHERE probe_id = $1 ORDER BY at DESC, id DESC LIMIT $3)) \
             ORDER BY at, id"
        ))
        .bind(probe_id)
        .bind(to_millis(since))
        .bind(newest)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(result_from_row).collect()
    }

    /// Every probe with its latest run, runs in a row failed and latency windows.
    pub async fn probe_statuses(&self, now: DateTime<Utc>) -> Result<Vec<ProbeStatus>, StoreError> {
        let since = now - chrono::Duration::hours(24);
        let mut out = Vec::new();
        for target in self.probe_targets().await? {
            let results = self.probe_results(target.id, since, 50).await?;
            out.push(crate::probes::summary::status(&target, &results, now));
        }
        Ok(out)
    }
}
