//! Projects and their public keys.

use sqlx::any::AnyRow;
use sqlx::Row;

use super::{from_millis, to_millis, Store, StoreError};
use crate::model::Project;

fn project_from_row(row: &AnyRow) -> Result<Project, StoreError> {
    Ok(Project {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        public_key: row.try_get("public_key")?,
        created_at: from_millis(row.try_get("created_at")?),
    })
}

impl Store {
    /// Creates a project; `id` and `public_key` are chosen when not given (tests and imports
    /// give them). The key is 32 random hex digits, like Sentry's.
    pub async fn create_project(
        &self,
        name: &str,
        id: Option<i64>,
        public_key: Option<&str>,
    ) -> Result<Project, StoreError> {
        let key =
            public_key.map_or_else(|| uuid::Uuid::new_v4().simple().to_string(), str::to_string);
        let now = chrono::Utc::now();
        let row = match id {
            Some(id) => {
                sqlx::query(
                    "INSERT INTO projects (id, name, public_key, created_at) VALUES ($1, $2, $3, $4) RETURNING *",
                )
                .bind(id)
                .bind(name)
                .bind(&key)
                .bind(to_millis(now))
                .fetch_one(self.pool())
                .await?
            }
            None => {
                sqlx::query(
                    "INSERT INTO projects (name, public_key, created_at) VALUES ($1, $2, $3) RETURNING *",
                )
                .bind(name)
                .bind(&key)
                .bind(to_millis(now))
                .fetch_one(self.pool())
                .await?
            }
        };
        project_from_row(&row)
    }

    /// One project by id.
    pub async fn project(&self, id: i64) -> Result<Option<Project>, StoreError> {
        self.row("SELECT * FROM projects WHERE id = $1", id, project_from_row)
            .await
    }

    /// The project whose public key is `key`.
    pub async fn project_by_key(&self, key: &str) -> Result<Option<Project>, StoreError> {
        self.row(
            "SELECT * FROM projects WHERE public_key = $1",
            key,
            project_from_row,
        )
        .await
    }

    /// Every project, oldest first.
    pub async fn projects(&self) -> Result<Vec<Project>, StoreError> {
        self.rows("SELECT * FROM projects ORDER BY id", project_from_row)
            .await
    }
}
