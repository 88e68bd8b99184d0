//! Which governance tasks are mirrored to which GitHub issue (one issue per task).

use chrono::{DateTime, Utc};
use sqlx::Row;

use super::{to_millis, Store, StoreError};
use crate::model::Task;

impl Store {
    /// Tasks that are not done and have no GitHub issue yet, oldest first.
    pub async fn tasks_without_issue(&self, limit: u32) -> Result<Vec<Task>, StoreError> {
        let rows = sqlx::query(
            "SELECT id FROM tasks WHERE status <> 'done' \
             AND NOT EXISTS (SELECT 1 FROM task_issues i WHERE i.task_id = tasks.id) \
             ORDER BY id LIMIT $1",
        )
        .bind(i64::from(limit))
        .fetch_all(self.pool())
        .await?;
        let mut tasks = Vec::with_capacity(rows.len());
        for row in rows {
            if let Some(task) = self.task(row.try_get("id")?).await? {
                tasks.push(task);
            }
        }
        Ok(tasks)
    }

    /// Records the issue a task is mirrored to (once: a second record is ignored).
    pub async fn record_task_issue(
        &self,
        task_id: i64,
        number: i64,
        url: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO task_issues (task_id, issue_number, issue_url, created_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
        )
        .bind(task_id)
        .bind(number)
        .bind(url)
        .bind(to_millis(now))
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// The issue a task is mirrored to: (number, url).
    pub async fn task_issue(&self, task_id: i64) -> Result<Option<(i64, String)>, StoreError> {
        let row = sqlx::query("SELECT issue_number, issue_url FROM task_issues WHERE task_id = $1")
            .bind(task_id)
            .fetch_optional(self.pool())
            .await?;
        row.map(|r| Ok((r.try_get("issue_number")?, r.try_get("issue_url")?)))
            .transpose()
    }
}
