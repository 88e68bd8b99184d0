//! The lifecycle of error groups: unresolved → resolved (by hand, or after a quiet day) →
//! regressed when it recurs; ignored (muted) for good, until a time or for N more
//! occurrences. Every change goes through [`change_status_on`] and is recorded in
//! `group_status_changes`.

use std::str::FromStr;

use chrono::{DateTime, Duration, Utc};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::{from_millis, to_millis, Store, StoreError};
use crate::model::{GroupStatus, GroupStatusChange, Page};

/// The actor of the changes Signalbox makes on its own (the lifecycle job, the write path).
pub const SYSTEM_ACTOR: &str = "signalbox";
/// An active group with no occurrence for this long resolves on its own.
pub const QUIET_HOURS: i64 = 24;
/// Groups one pass of the lifecycle job reads at a time.
const BATCH: i64 = 500;
/// Passes the lifecycle job makes at most per call (so one call is bounded).
const MAX_BATCHES: usize = 100;
/// How often a change is retried when the group changed between its read and its write.
const CHANGE_ATTEMPTS: usize = 5;

/// A requested change of a group's status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusChange {
    pub status: GroupStatus,
    /// Who asks: `admin`, `anonymous`, [`SYSTEM_ACTOR`].
    pub actor: String,
    pub reason: Option<String>,
    /// With `Ignored`: the mute ends at this time…
    pub muted_until: Option<DateTime<Utc>>,
    /// …or after this many more occurrences.
    pub mute_for_occurrences: Option<i64>,
}

impl StatusChange {
    /// A change to `status` by `actor`, without a mute.
    pub fn to(status: GroupStatus, actor: &str, reason: Option<&str>) -> StatusChange {
        StatusChange {
            status,
            actor: actor.to_string(),
            reason: reason.map(str::to_string),
            muted_until: None,
            mute_for_occurrences: None,
        }
    }
}

/// What a status change did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StatusOutcome {
    /// No group has this fingerprint.
    NoGroup,
    /// The group already was in this state (same status, same mute): nothing recorded.
    Unchanged(GroupStatus),
    /// Changed, and recorded as this.
    Changed(GroupStatusChange),
}

/// The lifecycle state of a group beyond its status, for the group's detail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupLifecycle {
    pub muted_until: Option<DateTime<Utc>>,
    /// The occurrence count at which the mute ends.
    pub muted_until_count: Option<i64>,
    /// The group's task that is not done.
    pub open_task: Option<i64>,
}

/// What one run of the lifecycle job changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LifecycleReport {
    /// Active groups resolved after a quiet day.
    pub resolved: u64,
    /// Groups whose mute date passed, back to unresolved.
    pub unmuted: u64,
}

/// Changes the status of `fingerprint` on `conn` (the caller's transaction, if any) and
/// records the change. The update is conditional on the status it read, so a concurrent
/// change is never overwritten unseen: it is read again and the change retried.
pub async fn change_status_on(
    conn: &mut AnyConnection,
    fingerprint: &str,
    change: &StatusChange,
    now: DateTime<Utc>,
) -> Result<StatusOutcome, StoreError> {
    for _ in 0..CHANGE_ATTEMPTS {
        let Some(row) = sqlx::query(
            "SELECT status, occurrence_count, muted_until, muted_until_count FROM error_fingerprints WHERE fingerprint = $1",
        )
        .bind(fingerprint)
        .fetch_optional(&mut *conn)
        .await?
        else {
            return Ok(StatusOutcome::NoGroup);
        };
        let from = parse_status(&row.try_get::<String, _>("status")?)?;
        let occurrences: i64 = row.try_get("occurrence_count")?;
        let old_mute: (Option<i64>, Option<i64>) = (
            row.try_get("muted_until")?,
            row.try_get("muted_until_count")?,
        );
        let new_mute = if change.status == GroupStatus::Ignored {
            (
                change.muted_until.map(to_millis),
                change
                    .mute_for_occurrences
                    .map(|n| occurrences.saturating_add(n)),
            )
        } else {
            (None, None)
        };
        if from == change.status && old_mute == new_mute {
            return Ok(StatusOutcome::Unchanged(from));
        }
        let updated = sqlx::query(
            "UPDATE error_fingerprints SET status = $1, muted_until = $2, muted_until_count = $3 \
             WHERE fingerprint = $4 AND status = $5",
        )
        .bind(change.status.as_str())
        .bind(new_mute.0)
        .bind(new_mute.1)
        .bind(fingerprint)
        .bind(from.as_str())
        .execute(&mut *conn)
        .await?
        .rows_affected();
        if updated == 1 {
            let record = record_change(
                conn,
                fingerprint,
                from,
                change.status,
                &change.actor,
                change.reason.as_deref(),
                now,
            )
            .await?;
            return Ok(StatusOutcome::Changed(record));
        }
    }
    Err(StoreError::Conflict(format!(
        "the status of group {fingerprint} kept changing; try again"
    )))
}

/// Appends a row to the group's status history.
async fn record_change(
    conn: &mut AnyConnection,
    fingerprint: &str,
    from: GroupStatus,
    to: GroupStatus,
    actor: &str,
    reason: Option<&str>,
    at: DateTime<Utc>,
) -> Result<GroupStatusChange, StoreError> {
    let row = sqlx::query(
        "INSERT INTO group_status_changes (fingerprint, from_status, to_status, actor, reason, at) \
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING *",
    )
    .bind(fingerprint)
    .bind(from.as_str())
    .bind(to.as_str())
    .bind(actor)
    .bind(reason)
    .bind(to_millis(at))
    .fetch_one(&mut *conn)
    .await?;
    change_from_row(&row)
}

impl Store {
    /// Changes a group's status and records who did it and why: the one way to change a
    /// status.
    pub async fn set_status(
        &self,
        fingerprint: &str,
        change: &StatusChange,
        now: DateTime<Utc>,
    ) -> Result<StatusOutcome, StoreError> {
        let mut tx = self.begin_write().await?;
        let outcome = change_status_on(&mut tx, fingerprint, change, now).await?;
        tx.commit().await?;
        Ok(outcome)
    }

    /// The group's status changes, newest first. The cursor is the last id of the previous
    /// page.
    pub async fn status_history(
        &self,
        fingerprint: &str,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<Page<GroupStatusChange>, StoreError> {
        self.group_rows_page(
            "group_status_changes",
            fingerprint,
            cursor,
            limit,
            change_from_row,
            |c| c.id,
        )
        .await
    }

    /// The group's mute and open task; `None` when there is no such group.
    pub async fn group_lifecycle(
        &self,
        fingerprint: &str,
    ) -> Result<Option<GroupLifecycle>, StoreError> {
        let row = sqlx::query(
            "SELECT g.muted_until, g.muted_until_count, \
               (SELECT MAX(t.id) FROM tasks t WHERE t.fingerprint = g.fingerprint AND t.status <> 'done') AS open_task \
             FROM error_fingerprints g WHERE g.fingerprint = $1",
        )
        .bind(fingerprint)
        .fetch_optional(self.pool())
        .await?;
        row.map(|r| {
            Ok::<_, StoreError>(GroupLifecycle {
                muted_until: r.try_get::<Option<i64>, _>("muted_until")?.map(from_millis),
                muted_until_count: r.try_get("muted_until_count")?,
                open_task: r.try_get("open_task")?,
            })
        })
        .transpose()
    }

    /// The periodic lifecycle work at `now`: mutes whose date passed end (the group is
    /// unresolved again), then active groups quiet for [`QUIET_HOURS`] resolve. Idempotent,
    /// so every replica may run it.
    pub async fn run_lifecycle(&self, now: DateTime<Utc>) -> Result<LifecycleReport, StoreError> {
        let unmuted = self.expire_mutes(now).await?;
        let resolved = self
            .resolve_quiet_groups(now, Duration::hours(QUIET_HOURS))
            .await?;
        Ok(LifecycleReport { resolved, unmuted })
    }

    /// Resolves unresolved and regressed groups with no occurrence since `now - quiet`.
    pub async fn resolve_quiet_groups(
        &self,
        now: DateTime<Utc>,
        quiet: Duration,
    ) -> Result<u64, StoreError> {
        let reason = format!("no occurrence for {} h", quiet.num_hours());
        self.sweep(
            Sweep {
                select: "SELECT fingerprint, status, last_seen AS read_at FROM error_fingerprints \
                         WHERE status IN ('unresolved', 'regressed') AND last_seen < $1 \
                         ORDER BY last_seen, fingerprint LIMIT $2",
                bound: to_millis(now - quiet),
                // A new occurrence in between moves last_seen and keeps the group active.
                update: "UPDATE error_fingerprints SET status = 'resolved' \
                         WHERE fingerprint = $1 AND status = $2 AND last_seen = $3",
                to: GroupStatus::Resolved,
            },
            |_| reason.clone(),
            now,
        )
        .await
    }

    /// Ends the mutes whose date is at or before `now`: the group is unresolved again.
    pub async fn expire_mutes(&self, now: DateTime<Utc>) -> Result<u64, StoreError> {
        self.sweep(
            Sweep {
                select: "SELECT fingerprint, status, muted_until AS read_at FROM error_fingerprints \
                         WHERE status = 'ignored' AND muted_until IS NOT NULL AND muted_until <= $1 \
                         ORDER BY muted_until, fingerprint LIMIT $2",
                bound: to_millis(now),
                update: "UPDATE error_fingerprints \
                         SET status = 'unresolved', muted_until = NULL, muted_until_count = NULL \
                         WHERE fingerprint = $1 AND status = $2 AND muted_until = $3",
                to: GroupStatus::Unresolved,
            },
            |until| {
                format!(
                    "mute ended (muted until {})",
                    from_millis(until).format("%Y-%m-%d %H:%M:%S UTC")
                )
            },
            now,
        )
        .await
    }

    /// Runs `sweep` in batches: each selected group changes in its own transaction, only if it
    /// is still as it was read (status and `read_at`), and the change is recorded with
    /// `reason(read_at)`. Returns the groups changed.
    async fn sweep(
        &self,
        sweep: Sweep<'_>,
        reason: impl Fn(i64) -> String,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let mut changed = 0;
        for _ in 0..MAX_BATCHES {
            let rows = sqlx::query(sweep.select)
                .bind(sweep.bound)
                .bind(BATCH)
                .fetch_all(self.pool())
                .await?;
            for row in &rows {
                let fingerprint: String = row.try_get("fingerprint")?;
                let from = parse_status(&row.try_get::<String, _>("status")?)?;
                let read_at: i64 = row.try_get("read_at")?;
                let mut tx = self.begin_write().await?;
                let updated = sqlx::query(sweep.update)
                    .bind(&fingerprint)
                    .bind(from.as_str())
                    .bind(read_at)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                if updated == 1 {
                    let reason = reason(read_at);
                    record_change(
                        &mut tx,
                        &fingerprint,
                        from,
                        sweep.to,
                        SYSTEM_ACTOR,
                        Some(&reason),
                        now,
                    )
                    .await?;
                    changed += 1;
                }
                tx.commit().await?;
            }
            if (rows.len() as i64) < BATCH {
                break;
            }
        }
        Ok(changed)
    }
}

/// A batch status change over the groups a query selects (see [`Store::sweep`]).
struct Sweep<'a> {
    /// Selects `fingerprint, status, read_at` of the groups to change; binds `bound`, limit.
    select: &'a str,
    bound: i64,
    /// Binds fingerprint, status and `read_at` as read: a concurrent change wins.
    update: &'a str,
    to: GroupStatus,
}

fn parse_status(s: &str) -> Result<GroupStatus, StoreError> {
    GroupStatus::from_str(s).map_err(StoreError::Corrupt)
}

fn change_from_row(row: &AnyRow) -> Result<GroupStatusChange, StoreError> {
    Ok(GroupStatusChange {
        id: row.try_get("id")?,
        fingerprint: row.try_get("fingerprint")?,
        from: parse_status(&row.try_get::<String, _>("from_status")?)?,
        to: parse_status(&row.try_get::<String, _>("to_status")?)?,
        actor: row.try_get("actor")?,
        reason: row.try_get("reason")?,
        at: from_millis(row.try_get("at")?),
    })
}
