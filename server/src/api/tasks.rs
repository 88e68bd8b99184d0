//! `/api/tasks`: governance tasks, one open task per error group at most.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use chrono::Utc;
use serde::{Deserialize, Serialize};
use signalbox::model::{Task, TaskStatus};
use signalbox::store::TaskQuery;
use utoipa::{IntoParams, ToSchema};

use super::error::{ApiError, ApiPath, ApiQuery, ErrorBody};
use super::logs::parse_limit;
use crate::startup::AppState;

/// Body of `POST /api/tasks`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTask {
    /// The error group the task is about.
    pub fingerprint: String,
}

/// Body of `PATCH /api/tasks/{id}` (schema for the OpenAPI document).
#[derive(Debug, Deserialize, ToSchema)]
pub struct TaskUpdate {
    /// `open`, `in_progress` or `done`.
    pub status: String,
}

/// Query of `GET /api/tasks`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListTasksParams {
    /// `open`, `in_progress` or `done`.
    pub status: Option<String>,
    /// Only the tasks of this group.
    pub fingerprint: Option<String>,
    /// Page size, 1–500 (default 50).
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// A page of tasks (schema for the OpenAPI document).
#[derive(Serialize, ToSchema)]
pub struct TaskPage {
    pub items: Vec<Task>,
    pub next_cursor: Option<String>,
}

fn parse_status(text: &str) -> Result<TaskStatus, ApiError> {
    text.parse()
        .map_err(|e: String| ApiError::BadRequest(format!("status: {e}")))
}

fn parse_body<T: serde::de::DeserializeOwned>(body: &[u8], shape: &str) -> Result<T, ApiError> {
    serde_json::from_slice(body)
        .map_err(|e| ApiError::BadRequest(format!("body: expected {shape}: {e}")))
}

/// Opens a task for an error group, or returns the group's open one.
#[utoipa::path(post, path = "/api/tasks", tag = "tasks", security(("admin_token" = [])),
    request_body = NewTask,
    responses(
        (status = 201, description = "A new task", body = Task),
        (status = 200, description = "The group already has an open task: that one", body = Task),
        (status = 400, description = "The body is not {\"fingerprint\": …}", body = ErrorBody),
        (status = 401, description = "The admin token is missing or wrong", body = ErrorBody),
        (status = 404, description = "No group has this fingerprint", body = ErrorBody),
    ))]
pub async fn create_task(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<(StatusCode, Json<Task>), ApiError> {
    super::require_admin(&state, &headers)?;
    let new: NewTask = parse_body(&body, "{\"fingerprint\": \"…\"}")?;
    let fingerprint = new.fingerprint.trim();
    if fingerprint.is_empty() {
        return Err(ApiError::BadRequest(
            "fingerprint: the fingerprint of an error group".into(),
        ));
    }
    let Some((task, created)) = state
        .store
        .create_task_for(fingerprint, None, &state.config.public_url, Utc::now())
        .await?
    else {
        return Err(ApiError::NotFound(format!(
            "fingerprint: no error group has fingerprint '{fingerprint}'"
        )));
    };
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(task)))
}

/// Tasks, newest first.
#[utoipa::path(get, path = "/api/tasks", tag = "tasks", params(ListTasksParams),
    responses(
        (status = 200, description = "A page of tasks", body = TaskPage),
        (status = 400, description = "A query parameter is invalid", body = ErrorBody),
    ))]
pub async fn list_tasks(
    State(state): State<AppState>,
    ApiQuery(params): ApiQuery<ListTasksParams>,
) -> Result<Json<signalbox::model::Page<Task>>, ApiError> {
    let query = TaskQuery {
        status: params
            .status
            .as_deref()
            .filter(|s| !s.is_empty())
            .map(parse_status)
            .transpose()?,
        fingerprint: params.fingerprint.filter(|s| !s.is_empty()),
        limit: parse_limit(params.limit)?,
        cursor: params.cursor.filter(|s| !s.is_empty()),
    };
    Ok(Json(state.store.tasks(&query).await?))
}

/// One task with its comments.
#[utoipa::path(get, path = "/api/tasks/{id}", tag = "tasks",
    params(("id" = i64, Path, description = "The task's id")),
    responses(
        (status = 200, description = "The task and its comments", body = Task),
        (status = 400, description = "The id is not a number", body = ErrorBody),
        (status = 404, description = "No task has this id", body = ErrorBody),
    ))]
pub async fn get_task(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<Task>, ApiError> {
    state
        .store
        .task(id)
        .await?
        .map(Json)
        .ok_or_else(|| no_task(id))
}

/// Moves a task to another status.
#[utoipa::path(patch, path = "/api/tasks/{id}", tag = "tasks", security(("admin_token" = [])),
    params(("id" = i64, Path, description = "The task's id")),
    request_body = TaskUpdate,
    responses(
        (status = 200, description = "The task", body = Task),
        (status = 400, description = "The body is not {\"status\": \"open\"|\"in_progress\"|\"done\"}", body = ErrorBody),
        (status = 401, description = "The admin token is missing or wrong", body = ErrorBody),
        (status = 404, description = "No task has this id", body = ErrorBody),
        (status = 409, description = "Reopening it would give its group a second open task", body = ErrorBody),
    ))]
pub async fn update_task(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiPath(id): ApiPath<i64>,
    body: axum::body::Bytes,
) -> Result<Json<Task>, ApiError> {
    super::require_admin(&state, &headers)?;
    let update: serde_json::Value = parse_body(&body, "{\"status\": \"in_progress\"}")?;
    let status = match update.get("status") {
        Some(serde_json::Value::String(s)) => parse_status(s)?,
        _ => {
            return Err(ApiError::BadRequest(
                "status: expected \"open\", \"in_progress\" or \"done\"".into(),
            ))
        }
    };
    state
        .store
        .set_task_status(id, status, Utc::now())
        .await?
        .map(Json)
        .ok_or_else(|| no_task(id))
}

fn no_task(id: i64) -> ApiError {
    ApiError::NotFound(format!("no task has id {id}"))
}
