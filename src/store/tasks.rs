//! Governance tasks: at most one open task per error group (a unique partial index), their
//! comments, and the list the API pages through.

use std::str::FromStr;

use chrono::{DateTime, Utc};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::queries::{Bind, Sql};
use super::{from_millis, group_from_row, to_millis, Store, StoreError};
use crate::model::{Alert, Group, Page, Task, TaskComment, TaskPriority, TaskStatus};
use crate::tasks;

/// Filters and paging of the task list (newest first).
#[derive(Debug, Clone, Default)]
pub struct TaskQuery {
    pub status: Option<TaskStatus>,
    pub fingerprint: Option<String>,
    pub limit: u32,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// How often an opener retries when the open task it collided with vanished (set to done
/// between its insert and its read).
const OPEN_ATTEMPTS: usize = 3;

/// Opens a task for `group`, or, when the group already has one that is not done, updates
/// that one: a rule trigger refreshes its occurrences and adds a comment; a manual request
/// (`alert: None`) returns it unchanged. Returns the task and whether it was created.
///
/// Runs on `conn`, so the caller's transaction (the write path's) covers it. Two openers
/// racing meet at the unique index `tasks_one_open_per_group`: the loser reads the winner's
/// task and treats its own trigger as a later one.
pub async fn open_or_update_task(
    conn: &mut AnyConnection,
    group: &Group,
    alert: Option<&Alert>,
    public_url: &str,
    now: DateTime<Utc>,
) -> Result<(Task, bool), StoreError> {
    for _ in 0..OPEN_ATTEMPTS {
        if let Some(task) = open_task_on(conn, &group.fingerprint).await? {
            let task = match alert {
                Some(alert) => retrigger(conn, task, group, alert, now).await?,
                None => task,
            };
            return Ok((task, false));
        }
        let draft = tasks::draft(group, alert, public_url, now);
        let metadata = serde_json::to_string(&draft.metadata)
            .map_err(|e| StoreError::Corrupt(format!("task metadata: {e}")))?;
        let inserted = sqlx::query(
            "INSERT INTO tasks (fingerprint, title, description, priority, task_type, status, occurrences, rule, metadata, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, 'open', $6, $7, $8, $9, $9) \
             ON CONFLICT DO NOTHING RETURNING *",
        )
        .bind(&group.fingerprint)
        .bind(&draft.title)
        .bind(&draft.description)
        .bind(draft.priority.as_str())
        .bind(draft.task_type)
        .bind(group.occurrences)
        .bind(draft.rule.as_deref())
        .bind(&metadata)
        .bind(to_millis(now))
        .fetch_optional(&mut *conn)
        .await?;
        if let Some(row) = inserted {
            return Ok((task_from_row(&row)?, true));
        }
    }
    Err(StoreError::Conflict(format!(
        "the open task of group {} kept changing; try again",
        group.fingerprint
    )))
}

/// The task of `fingerprint` that is not done, if any.
async fn open_task_on(
    conn: &mut AnyConnection,
    fingerprint: &str,
) -> Result<Option<Task>, StoreError> {
    let row = sqlx::query("SELECT * FROM tasks WHERE fingerprint = $1 AND status <> 'done'")
        .bind(fingerprint)
        .fetch_optional(&mut *conn)
        .await?;
    row.as_ref().map(task_from_row).transpose()
}

/// A rule fired again for a group whose task is open: new counts and a comment saying so.
async fn retrigger(
    conn: &mut AnyConnection,
    mut task: Task,
    group: &Group,
    alert: &Alert,
    now: DateTime<Utc>,
) -> Result<Task, StoreError> {
    sqlx::query("UPDATE tasks SET occurrences = $1, updated_at = $2 WHERE id = $3")
        .bind(group.occurrences)
        .bind(to_millis(now))
        .bind(task.id)
        .execute(&mut *conn)
        .await?;
    sqlx::query("INSERT INTO task_comments (task_id, body, created_at) VALUES ($1, $2, $3)")
        .bind(task.id)
        .bind(tasks::retrigger_comment(group, alert))
        .bind(to_millis(now))
        .execute(&mut *conn)
        .await?;
    task.occurrences = group.occurrences;
    task.updated_at = now;
    Ok(task)
}

impl Store {
    /// Opens (or updates) the task of the group `fingerprint`, like [`open_or_update_task`],
    /// in a transaction of its own. `None` when there is no such group.
    pub async fn create_task_for(
        &self,
        fingerprint: &str,
        alert: Option<&Alert>,
        public_url: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<(Task, bool)>, StoreError> {
        let mut tx = self.begin_write().await?;
        let Some(row) = sqlx::query("SELECT * FROM error_fingerprints WHERE fingerprint = $1")
            .bind(fingerprint)
            .fetch_optional(&mut *tx)
            .await?
        else {
            return Ok(None);
        };
        let group = group_from_row(&row)?;
        let opened = open_or_update_task(&mut tx, &group, alert, public_url, now).await?;
        tx.commit().await?;
        Ok(Some(opened))
    }

    /// Tasks matching `q`, newest first, one page at a time.
    pub async fn tasks(&self, q: &TaskQuery) -> Result<Page<Task>, StoreError> {
        let mut sql = Sql::new("SELECT * FROM tasks WHERE 1 = 1");
        if let Some(status) = q.status {
            sql.push(" AND status = ?", vec![Bind::Text(status.as_str().into())]);
        }
        if let Some(fingerprint) = &q.fingerprint {
            sql.push(
                " AND fingerprint = ?",
                vec![Bind::Text(fingerprint.clone())],
            );
        }
        self.id_desc_page(sql, q.limit, q.cursor.as_deref(), task_from_row, |t| t.id)
            .await
    }

    /// One task with its comments, oldest first.
    pub async fn task(&self, id: i64) -> Result<Option<Task>, StoreError> {
        let Some(row) = sqlx::query("SELECT * FROM tasks WHERE id = $1")
            .bind(id)
            .fetch_optional(self.pool())
            .await?
        else {
            return Ok(None);
        };
        let mut task = task_from_row(&row)?;
        let comments = sqlx::query("SELECT * FROM task_comments WHERE task_id = $1 ORDER BY id")
            .bind(id)
            .fetch_all(self.pool())
            .await?;
        task.comments = Some(
            comments
                .iter()
                .map(comment_from_row)
                .collect::<Result<Vec<_>, _>>()?,
        );
        Ok(Some(task))
    }

    /// Moves a task to `status`; `None` when there is no such task. Reopening a done task
    /// while its group has another open one is a [`StoreError::Conflict`].
    pub async fn set_task_status(
        &self,
        id: i64,
        status: TaskStatus,
        now: DateTime<Utc>,
    ) -> Result<Option<Task>, StoreError> {
        let done = sqlx::query(
            "UPDATE tasks SET status = $1, updated_at = $2 WHERE id = $3 AND status <> $1",
        )
        .bind(status.as_str())
        .bind(to_millis(now))
        .bind(id)
        .execute(self.pool())
        .await;
        if let Err(sqlx::Error::Database(e)) = &done {
            if e.is_unique_violation() {
                return Err(StoreError::Conflict(format!(
                    "task {id} cannot be {status}: its group already has a task that is not done"
                )));
            }
        }
        done?;
        self.task(id).await
    }

    /// The id of the group's task that is not done, if any.
    pub async fn open_task_id(&self, fingerprint: &str) -> Result<Option<i64>, StoreError> {
        let row = sqlx::query("SELECT id FROM tasks WHERE fingerprint = $1 AND status <> 'done'")
            .bind(fingerprint)
            .fetch_optional(self.pool())
            .await?;
        Ok(row.map(|r| r.try_get("id")).transpose()?)
    }
}

fn task_from_row(row: &AnyRow) -> Result<Task, StoreError> {
    let priority: String = row.try_get("priority")?;
    let status: String = row.try_get("status")?;
    let metadata: String = row.try_get("metadata")?;
    Ok(Task {
        id: row.try_get("id")?,
        fingerprint: row.try_get("fingerprint")?,
        title: row.try_get("title")?,
        description: row.try_get("description")?,
        priority: TaskPriority::from_str(&priority).map_err(StoreError::Corrupt)?,
        task_type: row.try_get("task_type")?,
        status: TaskStatus::from_str(&status).map_err(StoreError::Corrupt)?,
        occurrences: row.try_get("occurrences")?,
        rule: row.try_get("rule")?,
        metadata: serde_json::from_str(&metadata)
            .map_err(|e| StoreError::Corrupt(format!("task metadata: {e}")))?,
        created_at: from_millis(row.try_get("created_at")?),
        updated_at: from_millis(row.try_get("updated_at")?),
        comments: None,
    })
}

fn comment_from_row(row: &AnyRow) -> Result<TaskComment, StoreError> {
    Ok(TaskComment {
        id: row.try_get("id")?,
        task_id: row.try_get("task_id")?,
        body: row.try_get("body")?,
        created_at: from_millis(row.try_get("created_at")?),
    })
}
