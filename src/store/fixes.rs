//! Generated fixes: the queue the fix generator works through (one fix in flight per group,
//! a unique partial index), what each fix came to, and its pull request's state.

use std::str::FromStr;

use chrono::{DateTime, Utc};
use sqlx::any::AnyRow;
use sqlx::Row;

use super::lifecycle::{change_status_on, StatusChange, SYSTEM_ACTOR};
use super::queries::{Bind, Sql};
use super::{from_millis, to_millis, Store, StoreError};
use crate::model::{Fix, FixState, GroupStatus, PrState};

/// Filters and paging of the fix list (newest first).
#[derive(Debug, Clone, Default)]
pub struct FixQuery {
    pub fingerprint: Option<String>,
    pub state: Option<FixState>,
    pub limit: u32,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// A fix to queue.
#[derive(Debug, Clone)]
pub struct NewFix<'a> {
    pub fingerprint: &'a str,
    /// `manual` or `auto`.
    pub trigger: &'a str,
    pub create_pr: bool,
    /// Why it will not be pushed, known when it is queued (no token, auto-fix off…).
    pub dry_run_reason: Option<&'a str>,
    pub now: DateTime<Utc>,
}

impl Store {
    /// Queues a fix for a group, unless the group already has one in flight: returns the new
    /// fix (`true`) or the one in flight (`false`). `None` when there is no such group.
    pub async fn queue_fix(&self, new: &NewFix<'_>) -> Result<Option<(Fix, bool)>, StoreError> {
        for _ in 0..3 {
            if self.group(new.fingerprint).await?.is_none() {
                return Ok(None);
            }
            let task_id = self.open_task_id(new.fingerprint).await?;
            let inserted = sqlx::query(
                "INSERT INTO fixes (fingerprint, task_id, state, trigger_kind, create_pr, dry_run_reason, created_at, updated_at) \
                 VALUES ($1, $2, 'queued', $3, $4, $5, $6, $6) ON CONFLICT DO NOTHING RETURNING *",
            )
            .bind(new.fingerprint)
            .bind(task_id)
            .bind(new.trigger)
            .bind(i64::from(new.create_pr))
            .bind(new.dry_run_reason)
            .bind(to_millis(new.now))
            .fetch_optional(self.pool())
            .await?;
            if let Some(row) = inserted {
                return Ok(Some((fix_from_row(&row)?, true)));
            }
            if let Some(fix) = self.fix_in_flight(new.fingerprint).await? {
                return Ok(Some((fix, false)));
            }
        }
        Err(StoreError::Conflict(format!(
            "the fixes of group {} kept changing; try again",
            new.fingerprint
        )))
    }

    /// The group's queued or running fix.
    pub async fn fix_in_flight(&self, fingerprint: &str) -> Result<Option<Fix>, StoreError> {
        let row = sqlx::query(
            "SELECT * FROM fixes WHERE fingerprint = $1 AND state IN ('queued', 'running')",
        )
        .bind(fingerprint)
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(fix_from_row).transpose()
    }

    /// The oldest queued fix.
    pub async fn next_queued_fix(&self) -> Result<Option<Fix>, StoreError> {
        let row = sqlx::query("SELECT * FROM fixes WHERE state = 'queued' ORDER BY id LIMIT 1")
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(fix_from_row).transpose()
    }

    /// Takes a queued fix for work (`running`); false when another worker took it first.
    pub async fn start_fix(&self, id: i64, now: DateTime<Utc>) -> Result<bool, StoreError> {
        let n = sqlx::query(
            "UPDATE fixes SET state = 'running', started_at = $2, updated_at = $2 WHERE id = $1 AND state = 'queued'",
        )
        .bind(id)
        .bind(to_millis(now))
        .execute(self.pool())
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    /// Fixes the generator took since `since` (the hourly and daily limits).
    pub async fn fixes_started_since(&self, since: DateTime<Utc>) -> Result<i64, StoreError> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM fixes WHERE started_at >= $1")
            .bind(to_millis(since))
            .fetch_one(self.pool())
            .await?;
        Ok(row.try_get("n")?)
    }

    /// Running fixes started before `before` go back to the queue (their worker died).
    pub async fn requeue_stale_fixes(
        &self,
        before: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        Ok(sqlx::query(
            "UPDATE fixes SET state = 'queued', started_at = NULL, updated_at = $2 WHERE state = 'running' AND started_at < $1",
        )
        .bind(to_millis(before))
        .bind(to_millis(now))
        .execute(self.pool())
        .await?
        .rows_affected())
    }

    /// Writes everything the generator learnt about `fix` (its state, analysis, diff, tokens,
    /// pull request).
    pub async fn save_fix(&self, fix: &Fix, now: DateTime<Utc>) -> Result<(), StoreError> {
        let files = serde_json::to_string(&fix.files)
            .map_err(|e| StoreError::Corrupt(format!("fix files: {e}")))?;
        sqlx::query(
            "UPDATE fixes SET state = $2, dry_run_reason = $3, root_cause = $4, confidence = $5, explanation = $6, \
             suggested_test = $7, diff = $8, files = $9, reason = $10, model = $11, input_tokens = $12, \
             output_tokens = $13, branch = $14, pr_number = $15, pr_url = $16, pr_state = $17, updated_at = $18 \
             WHERE id = $1",
        )
        .bind(fix.id)
        .bind(fix.state.as_str())
        .bind(fix.dry_run_reason.as_deref())
        .bind(fix.root_cause.as_deref())
        .bind(fix.confidence.as_deref())
        .bind(fix.explanation.as_deref())
        .bind(fix.suggested_test.as_deref())
        .bind(fix.diff.as_deref())
        .bind(files)
        .bind(fix.reason.as_deref())
        .bind(fix.model.as_deref())
        .bind(fix.input_tokens)
        .bind(fix.output_tokens)
        .bind(fix.branch.as_deref())
        .bind(fix.pr_number)
        .bind(fix.pr_url.as_deref())
        .bind(fix.pr_state.map(PrState::as_str))
        .bind(to_millis(now))
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// One fix.
    pub async fn fix(&self, id: i64) -> Result<Option<Fix>, StoreError> {
        self.row("SELECT * FROM fixes WHERE id = $1", id, fix_from_row)
            .await
    }

    /// Fixes with an open pull request (the tracker polls them).
    pub async fn fixes_with_open_pr(&self) -> Result<Vec<Fix>, StoreError> {
        let rows = sqlx::query("SELECT * FROM fixes WHERE state = 'pr_open' ORDER BY id")
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(fix_from_row).collect()
    }

    /// The latest fix of a group whose pull request is open, for reuse.
    pub async fn open_pr_fix_of(&self, fingerprint: &str) -> Result<Option<Fix>, StoreError> {
        let row = sqlx::query(
            "SELECT * FROM fixes WHERE fingerprint = $1 AND state = 'pr_open' ORDER BY id DESC LIMIT 1",
        )
        .bind(fingerprint)
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(fix_from_row).transpose()
    }

    /// Records a pull request's new state. Merged: the fix is `merged` and its group resolved
    /// ("fix merged", so an occurrence after the deployment makes it regressed and the
    /// regression rule fires), in one transaction. Closed: the fix is `closed`.
    pub async fn set_fix_pr_state(
        &self,
        fix: &Fix,
        pr_state: PrState,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let state = match pr_state {
            PrState::Open => FixState::PrOpen,
            PrState::Merged => FixState::Merged,
            PrState::Closed => FixState::Closed,
        };
        let mut tx = self.begin_write().await?;
        sqlx::query("UPDATE fixes SET state = $2, pr_state = $3, updated_at = $4 WHERE id = $1")
            .bind(fix.id)
            .bind(state.as_str())
            .bind(pr_state.as_str())
            .bind(to_millis(now))
            .execute(&mut *tx)
            .await?;
        if pr_state == PrState::Merged {
            let reason = format!(
                "fix merged: pull request #{}",
                fix.pr_number.unwrap_or_default()
            );
            let change = StatusChange::to(GroupStatus::Resolved, SYSTEM_ACTOR, Some(&reason));
            change_status_on(&mut tx, &fix.fingerprint, &change, now).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Fixes matching `q`, newest first, one page at a time.
    pub async fn fixes(&self, q: &FixQuery) -> Result<crate::model::Page<Fix>, StoreError> {
        let mut sql = Sql::new("SELECT * FROM fixes WHERE 1 = 1");
        if let Some(fp) = &q.fingerprint {
            sql.push(" AND fingerprint = ?", vec![Bind::Text(fp.clone())]);
        }
        if let Some(state) = q.state {
            sql.push(" AND state = ?", vec![Bind::Text(state.as_str().into())]);
        }
        self.id_desc_page(sql, q.limit, q.cursor.as_deref(), fix_from_row, |f| f.id)
            .await
    }

    /// Adds a comment to a task (the fix generator links the task to its pull request).
    pub async fn comment_task(
        &self,
        task_id: i64,
        body: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO task_comments (task_id, body, created_at) VALUES ($1, $2, $3)")
            .bind(task_id)
            .bind(body)
            .bind(to_millis(now))
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// How many fixes are in each state (health, metrics).
    pub async fn fix_counts(&self) -> Result<Vec<(FixState, i64)>, StoreError> {
        let rows = sqlx::query("SELECT state, COUNT(*) AS n FROM fixes GROUP BY state")
            .fetch_all(self.pool())
            .await?;
        rows.iter()
            .map(|r| {
                let state: String = r.try_get("state")?;
                Ok((
                    FixState::from_str(&state).map_err(StoreError::Corrupt)?,
                    r.try_get("n")?,
                ))
            })
            .collect()
    }
}

fn fix_from_row(row: &AnyRow) -> Result<Fix, StoreError> {
    let state: String = row.try_get("state")?;
    let files: String = row.try_get("files")?;
    let pr_state: Option<String> = row.try_get("pr_state")?;
    let create_pr: i64 = row.try_get("create_pr")?;
    Ok(Fix {
        id: row.try_get("id")?,
        fingerprint: row.try_get("fingerprint")?,
        task_id: row.try_get("task_id")?,
        state: FixState::from_str(&state).map_err(StoreError::Corrupt)?,
        trigger: row.try_get("trigger_kind")?,
        create_pr: create_pr != 0,
        dry_run_reason: row.try_get("dry_run_reason")?,
        root_cause: row.try_get("root_cause")?,
        confidence: row.try_get("confidence")?,
        explanation: row.try_get("explanation")?,
        suggested_test: row.try_get("suggested_test")?,
        diff: row.try_get("diff")?,
        files: serde_json::from_str(&files)
            .map_err(|e| StoreError::Corrupt(format!("fix files: {e}")))?,
        reason: row.try_get("reason")?,
        model: row.try_get("model")?,
        input_tokens: row.try_get("input_tokens")?,
        output_tokens: row.try_get("output_tokens")?,
        branch: row.try_get("branch")?,
        pr_number: row.try_get("pr_number")?,
        pr_url: row.try_get("pr_url")?,
        pr_state: pr_state
            .as_deref()
            .map(PrState::from_str)
            .transpose()
            .map_err(StoreError::Corrupt)?,
        created_at: from_millis(row.try_get("created_at")?),
        updated_at: from_millis(row.try_get("updated_at")?),
    })
}
