//! Storage: one interface over SQLite (embedded default) and Postgres.
//!
//! Queries are written once in the SQL both databases understand (`$n` parameters, times as
//! epoch milliseconds, `ON CONFLICT` upserts) and run through sqlx's `Any` driver; each backend
//! has its own migrations folder for the few DDL differences.

mod alerts;
mod dashboard;
mod deploys;
mod fixes;
mod issues;
mod lifecycle;
mod migrations;
mod outbox;
mod probes;
mod projects;
mod queries;
mod tasks;
mod write;

use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Row};

use crate::model::{Category, Group, GroupStatus, Level, Occurrence, Severity};

pub use alerts::RuleProblem;
pub use dashboard::{GroupBucket, Placement, SeriesRow};
pub use fixes::{FixQuery, NewFix};
pub use lifecycle::{
    change_status_on, GroupLifecycle, LifecycleReport, StatusChange, StatusOutcome, QUIET_HOURS,
    SYSTEM_ACTOR,
};
pub use outbox::{insert_notification, NewNotification, MAX_NOTIFICATIONS};
pub use queries::{GroupQuery, GroupSort, RunRecord, RunReport, MAX_PAGE};
pub use tasks::{open_or_update_task, TaskQuery};
pub use write::{CursorUpdate, WriteSummary};

/// The time the store stamps alerts and cooldowns with (tests drive their own).
pub type Clock = std::sync::Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

/// A storage failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("invalid cursor")]
    InvalidCursor,
    #[error("corrupt row: {0}")]
    Corrupt(String),
    /// The change contradicts the stored state (a second open task for a group, …).
    #[error("{0}")]
    Conflict(String),
}

/// Which database is behind the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// The backend a `DATABASE_URL` names.
    pub fn of_url(url: &str) -> Option<Backend> {
        if url.starts_with("sqlite:") {
            Some(Backend::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Some(Backend::Postgres)
        } else {
            None
        }
    }

    /// Short name for health output and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// Connection pool state, for /health/detailed and /metrics.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct PoolState {
    pub size: u32,
    pub idle: u32,
    pub max: u32,
}

/// The store: a pool plus the queries Signalbox runs.
#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    max_connections: u32,
    rules_cache: std::sync::Arc<alerts::RulesCache>,
    clock: Clock,
    /// Where fired alerts are queued for delivery (the outbox), if anywhere.
    channels: Option<std::sync::Arc<crate::notify::Channels>>,
    /// SQLite: the one connection batches are written on (`begin_write`). SQLite has one
    /// writer at a time anyway; on one connection the write statements are prepared and cached
    /// once, and the pages they touch are cached once, instead of on every pooled connection
    /// in turn (the pool hands out its idle connections in rotation). `None` on Postgres and
    /// for an in-memory database.
    writer: Option<AnyPool>,
    /// SQLite has one writer at a time: batches queue here, in order, rather than in SQLite's
    /// busy handler, which sleeps between retries.
    write_gate: std::sync::Arc<tokio::sync::Mutex<()>>,
}

impl Store {
    /// Connects to `url` (`sqlite://FILE` creates the file when missing) without migrating.
    pub async fn connect(url: &str) -> Result<Store, StoreError> {
        sqlx::any::install_default_drivers();
        let backend = Backend::of_url(url).ok_or_else(|| {
            StoreError::Database(sqlx::Error::Configuration(
                "DATABASE_URL must start with sqlite: or postgres://".into(),
            ))
        })?;
        let (url, max_connections) = match backend {
            Backend::Sqlite => (sqlite_url(url), 8),
            Backend::Postgres => (url.to_string(), 10),
        };
        let pool = pool_options(backend, max_connections).connect(&url).await?;
        // An in-memory database is one per connection: there, batches share the pool.
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        let writer = if backend == Backend::Sqlite && !in_memory {
            Some(pool_options(backend, 1).connect(&url).await?)
        } else {
            None
        };
        Ok(Store {
            pool,
            writer,
            backend,
            max_connections,
            rules_cache: Default::default(),
            clock: std::sync::Arc::new(Utc::now),
            channels: None,
            write_gate: Default::default(),
        })
    }

    /// Connects and applies every pending migration.
    pub async fn open(url: &str) -> Result<Store, StoreError> {
        let store = Store::connect(url).await?;
        store.migrate().await?;
        Ok(store)
    }

    /// Applies pending migrations; returns how many were applied.
    pub async fn migrate(&self) -> Result<usize, StoreError> {
        migrations::run(&self.pool, self.backend).await
    }

    /// Applies pending migrations up to schema version `version` only; returns how many were
    /// applied. Upgrade tests start from an older schema with it.
    pub async fn migrate_to(&self, version: i64) -> Result<usize, StoreError> {
        migrations::run_to(&self.pool, self.backend, version).await
    }

    /// True when the database answers and every migration is applied (readiness).
    pub async fn is_ready(&self) -> bool {
        migrations::pending(&self.pool, self.backend)
            .await
            .is_ok_and(|pending| pending == 0)
    }

    /// Which database this is.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Pool usage right now.
    pub fn pool_state(&self) -> PoolState {
        PoolState {
            size: self.pool.size(),
            idle: self.pool.num_idle() as u32,
            max: self.max_connections,
        }
    }

    /// Waits for in-flight queries and closes every connection.
    pub async fn close(&self) {
        if let Some(writer) = &self.writer {
            writer.close().await;
        }
        self.pool.close().await;
    }

    pub(crate) fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Every row `sql` selects (it has no parameters), each read by `from_row`.
    pub(crate) async fn rows<T>(
        &self,
        sql: &str,
        from_row: fn(&AnyRow) -> Result<T, StoreError>,
    ) -> Result<Vec<T>, StoreError> {
        let rows = sqlx::query(sql).fetch_all(self.pool()).await?;
        rows.iter().map(from_row).collect()
    }

    /// Deletes a row and the rows that belong to it, in one transaction: `children` and then
    /// `parent` are DELETEs whose one parameter is `id`. False when there was no such row.
    pub(crate) async fn delete_with_children(
        &self,
        children: &str,
        parent: &str,
        id: i64,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool().begin().await?;
        sqlx::query(children).bind(id).execute(&mut *tx).await?;
        let deleted = sqlx::query(parent)
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(deleted > 0)
    }

    /// The row `sql` selects by its one parameter, `key` (an id), read by `from_row`; `None`
    /// when there is none.
    pub(crate) async fn row<'q, T, K>(
        &self,
        sql: &'q str,
        key: K,
        from_row: fn(&AnyRow) -> Result<T, StoreError>,
    ) -> Result<Option<T>, StoreError>
    where
        K: 'q + Send + sqlx::Encode<'q, sqlx::Any> + sqlx::Type<sqlx::Any>,
    {
        let row = sqlx::query(sql)
            .bind(key)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(from_row).transpose()
    }

    /// This store with another clock (tests replay timelines with it).
    pub fn with_clock(mut self, clock: Clock) -> Store {
        self.clock = clock;
        self
    }

    /// This store, queueing a notification for each alert that notifies, on `channels`.
    pub fn with_notify_channels(mut self, channels: crate::notify::Channels) -> Store {
        self.channels = Some(std::sync::Arc::new(channels));
        self
    }

    /// The store's clock.
    pub fn now(&self) -> DateTime<Utc> {
        (self.clock)()
    }

    /// Waits for this process's turn to write a batch (SQLite only; Postgres writers run side
    /// by side).
    pub(crate) async fn write_turn(&self) -> Option<tokio::sync::MutexGuard<'_, ()>> {
        match self.backend {
            Backend::Sqlite => Some(self.write_gate.lock().await),
            Backend::Postgres => None,
        }
    }

    /// A transaction that is going to write. On SQLite it takes the write lock at once
    /// (`BEGIN IMMEDIATE`): a deferred transaction that reads first cannot write after a
    /// concurrent commit, it fails with "database is locked".
    ///
    /// A connection whose COMMIT failed with an I/O error (a read-only file, a full disk) can
    /// come back to the pool with sqlx still counting a transaction open on it; every later
    /// `BEGIN` on it would fail. Such a connection is closed and another one taken, so that
    /// writes succeed again as soon as the disk does.
    pub(crate) async fn begin_write(
        &self,
    ) -> Result<sqlx::Transaction<'static, sqlx::Any>, StoreError> {
        use sqlx::Connection;
        if self.backend == Backend::Postgres {
            return Ok(self.pool.begin().await?);
        }
        let pool = self.writer.as_ref().unwrap_or(&self.pool);
        for _ in 0..=self.max_connections {
            let mut conn = pool.acquire().await?;
            if conn.is_in_transaction() {
                conn.close_on_drop();
                continue;
            }
            return Ok(sqlx::Transaction::begin(conn, Some("BEGIN IMMEDIATE".into())).await?);
        }
        Err(StoreError::Database(sqlx::Error::BeginFailed))
    }
}

/// Every SQLite connection's settings.
const SQLITE_PRAGMAS: [&str; 5] = [
    // WAL lets the UI read while ingest writes; NORMAL is durable in WAL mode.
    "PRAGMA journal_mode = WAL",
    "PRAGMA synchronous = NORMAL",
    "PRAGMA busy_timeout = 5000",
    "PRAGMA foreign_keys = ON",
    // A multi-row INSERT inside a transaction keeps the pages it changes in a statement journal
    // (to undo just that statement); past 64 KiB SQLite writes that journal to a temporary
    // file, which cost a twentieth of the Railway backlog's time in pwrite. In memory, it never
    // touches disk.
    "PRAGMA temp_store = MEMORY",
];

/// The pool options of `backend`, at most `max_connections` connections (SQLite's set up for
/// WAL).
fn pool_options(backend: Backend, max_connections: u32) -> AnyPoolOptions {
    AnyPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(5))
        .after_connect(move |conn, _meta| {
            Box::pin(async move {
                if backend == Backend::Sqlite {
                    for pragma in SQLITE_PRAGMAS {
                        sqlx::query(pragma).execute(&mut *conn).await?;
                    }
                }
                Ok(())
            })
        })
}

/// Adds `mode=rwc` so a missing SQLite file is created rather than refused.
fn sqlite_url(url: &str) -> String {
    if url.contains("mode=") || url.contains(":memory:") {
        url.to_string()
    } else if url.contains('?') {
        format!("{url}&mode=rwc")
    } else {
        format!("{url}?mode=rwc")
    }
}

/// Milliseconds since the epoch, the storage format of every time.
pub fn to_millis(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

/// The time `ms` milliseconds after the epoch (clamped to the epoch when out of range).
pub fn from_millis(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

fn parse_level(s: &str) -> Result<Level, StoreError> {
    Level::from_str(s).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn group_from_row(row: &AnyRow) -> Result<Group, StoreError> {
    let level: String = row.try_get("level")?;
    let status: String = row.try_get("status")?;
    let category: String = row.try_get("category")?;
    let severity: String = row.try_get("severity")?;
    Ok(Group {
        fingerprint: row.try_get("fingerprint")?,
        template: row.try_get("template")?,
        error_type: row.try_get("error_type")?,
        level: parse_level(&level)?,
        service: row.try_get("service")?,
        first_seen: from_millis(row.try_get("first_seen")?),
        last_seen: from_millis(row.try_get("last_seen")?),
        occurrences: row.try_get("occurrence_count")?,
        status: GroupStatus::from_str(&status).map_err(StoreError::Corrupt)?,
        sample_message: row.try_get("sample_message")?,
        stack_trace: row.try_get("stack_trace")?,
        category: Category::from_str(&category).map_err(|e| StoreError::Corrupt(e.to_string()))?,
        severity: Severity::from_str(&severity).map_err(|e| StoreError::Corrupt(e.to_string()))?,
        fixable: row.try_get::<i64, _>("fixable")? != 0,
        algorithm_version: row.try_get("algorithm_version")?,
    })
}

fn occurrence_from_row(row: &AnyRow) -> Result<Occurrence, StoreError> {
    let level: String = row.try_get("level")?;
    let attributes: String = row.try_get("attributes")?;
    Ok(Occurrence {
        id: row.try_get("id")?,
        fingerprint: row.try_get("fingerprint")?,
        timestamp: from_millis(row.try_get("ts")?),
        level: parse_level(&level)?,
        message: row.try_get("message")?,
        service: row.try_get("service")?,
        deployment: row.try_get("deployment")?,
        environment: row.try_get("environment")?,
        stack_trace: row.try_get("stack_trace")?,
        attributes: serde_json::from_str(&attributes)
            .map_err(|e| StoreError::Corrupt(format!("attributes: {e}")))?,
        source: row.try_get("source")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_urls_create_missing_files() {
        for (input, expected) in [
            ("sqlite://signalbox.db", "sqlite://signalbox.db?mode=rwc"),
            (
                "sqlite://x.db?cache=shared",
                "sqlite://x.db?cache=shared&mode=rwc",
            ),
            ("sqlite://x.db?mode=ro", "sqlite://x.db?mode=ro"),
            ("sqlite::memory:", "sqlite::memory:"),
        ] {
            assert_eq!(sqlite_url(input), expected);
        }
    }

    #[test]
    fn backends_from_urls() {
        assert_eq!(Backend::of_url("sqlite://a.db"), Some(Backend::Sqlite));
        assert_eq!(Backend::of_url("postgres://u@h/d"), Some(Backend::Postgres));
        assert_eq!(
            Backend::of_url("postgresql://u@h/d"),
            Some(Backend::Postgres)
        );
        assert_eq!(Backend::of_url("mysql://u@h/d"), None);
    }
}
