//! Schema migrations, embedded in the binary: one folder per backend, same version numbers.

use std::borrow::Cow;

use sqlx::migrate::{Migrate, Migration, MigrationType, Migrator};
use sqlx::AnyPool;

use super::{Backend, StoreError};

/// (version, description, SQLite SQL, Postgres SQL).
const MIGRATIONS: &[(i64, &str, &str, &str)] = &[
    (
        1,
        "initial",
        include_str!("../../migrations/sqlite/0001_initial.sql"),
        include_str!("../../migrations/postgres/0001_initial.sql"),
    ),
    (
        2,
        "classification",
        include_str!("../../migrations/sqlite/0002_classification.sql"),
        include_str!("../../migrations/postgres/0002_classification.sql"),
    ),
    (
        3,
        "projects",
        include_str!("../../migrations/sqlite/0003_projects.sql"),
        include_str!("../../migrations/postgres/0003_projects.sql"),
    ),
    (
        4,
        "leases and runs",
        include_str!("../../migrations/sqlite/0004_leases_and_runs.sql"),
        include_str!("../../migrations/postgres/0004_leases_and_runs.sql"),
    ),
    (
        5,
        "alerting",
        include_str!("../../migrations/sqlite/0005_alerting.sql"),
        include_str!("../../migrations/postgres/0005_alerting.sql"),
    ),
    (
        6,
        "tasks and lifecycle",
        include_str!("../../migrations/sqlite/0006_tasks_and_lifecycle.sql"),
        include_str!("../../migrations/postgres/0006_tasks_and_lifecycle.sql"),
    ),
    (
        7,
        "outbox",
        include_str!("../../migrations/sqlite/0007_outbox.sql"),
        include_str!("../../migrations/postgres/0007_outbox.sql"),
    ),
    (
        8,
        "fixes and task issues",
        include_str!("../../migrations/sqlite/0008_fixes.sql"),
        include_str!("../../migrations/postgres/0008_fixes.sql"),
    ),
    (
        9,
        "probes",
        include_str!("../../migrations/sqlite/0009_probes.sql"),
        include_str!("../../migrations/postgres/0009_probes.sql"),
    ),
    (
        10,
        "ui rollups",
        include_str!("../../migrations/sqlite/0010_ui_rollups.sql"),
        include_str!("../../migrations/postgres/0010_ui_rollups.sql"),
    ),
    (
        11,
        "one deploys table",
        include_str!("../../migrations/sqlite/0011_one_deploys_table.sql"),
        include_str!("../../migrations/postgres/0011_one_deploys_table.sql"),
    ),
];

/// The migrations up to `up_to` (inclusive).
fn migrator(backend: Backend, up_to: i64) -> Migrator {
    let migrations = MIGRATIONS
        .iter()
        .filter(|(version, ..)| *version <= up_to)
        .map(|(version, description, sqlite, postgres)| {
            let sql = match backend {
                Backend::Sqlite => sqlite,
                Backend::Postgres => postgres,
            };
            Migration::new(
                *version,
                Cow::Borrowed(*description),
                MigrationType::Simple,
                Cow::Borrowed(*sql),
                false,
            )
        })
        .collect::<Vec<_>>();
    Migrator {
        migrations: Cow::Owned(migrations),
        ..Migrator::DEFAULT
    }
}

/// Applies pending migrations (under the database's migration lock); returns how many ran.
pub(super) async fn run(pool: &AnyPool, backend: Backend) -> Result<usize, StoreError> {
    run_to(pool, backend, i64::MAX).await
}

/// Applies pending migrations up to version `up_to`; returns how many ran.
pub(super) async fn run_to(
    pool: &AnyPool,
    backend: Backend,
    up_to: i64,
) -> Result<usize, StoreError> {
    // A fresh database has no migrations table yet: everything up to `up_to` is pending.
    let before = match pending_to(pool, backend, up_to).await {
        Ok(pending) => pending,
        Err(_) => MIGRATIONS.iter().filter(|(v, ..)| *v <= up_to).count(),
    };
    migrator(backend, up_to).run(pool).await?;
    Ok(before)
}

/// How many migrations are not applied yet. Fails when the database does not answer.
pub(super) async fn pending(pool: &AnyPool, backend: Backend) -> Result<usize, StoreError> {
    pending_to(pool, backend, i64::MAX).await
}

async fn pending_to(pool: &AnyPool, backend: Backend, up_to: i64) -> Result<usize, StoreError> {
    let mut conn = pool.acquire().await?;
    let applied = conn.list_applied_migrations().await?;
    Ok(migrator(backend, up_to)
        .iter()
        .filter(|m| {
            !applied
                .iter()
                .any(|a| a.version == m.version && a.checksum == m.checksum)
        })
        .count())
}
