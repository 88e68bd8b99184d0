//! `/api/projects`: projects that push events, and their DSNs.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use serde::{Deserialize, Serialize};
use signalbox::model::Project;
use utoipa::ToSchema;

use super::error::{ApiError, ErrorBody};
use crate::startup::AppState;

/// A project with the DSN its SDKs are configured with.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ProjectWithDsn {
    #[serde(flatten)]
    pub project: Project,
    pub dsn: String,
}

/// Body of `POST /api/projects`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct NewProject {
    pub name: String,
}

fn with_dsn(state: &AppState, project: Project) -> ProjectWithDsn {
    let dsn = project.dsn(&state.config.public_url);
    ProjectWithDsn { project, dsn }
}

/// The projects and their DSNs (admin: DSNs carry the ingest keys).
#[utoipa::path(get, path = "/api/projects", tag = "projects", security(("admin_token" = [])),
    responses(
        (status = 200, description = "The projects", body = Vec<ProjectWithDsn>),
        (status = 401, description = "The admin token is missing or wrong", body = ErrorBody),
    ))]
pub async fn list_projects(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<Vec<ProjectWithDsn>>, ApiError> {
    super::require_admin(&state, &headers)?;
    let projects = state.store.projects().await?;
    Ok(Json(
        projects.into_iter().map(|p| with_dsn(&state, p)).collect(),
    ))
}

/// Creates a project and returns its DSN.
#[utoipa::path(post, path = "/api/projects", tag = "projects", security(("admin_token" = [])),
    request_body = NewProject,
    responses(
        (status = 201, description = "The project", body = ProjectWithDsn),
        (status = 400, description = "The body is not {\"name\": …}", body = ErrorBody),
        (status = 401, description = "The admin token is missing or wrong", body = ErrorBody),
        (status = 409, description = "A project has this name", body = ErrorBody),
    ))]
pub async fn create_project(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<(StatusCode, Json<ProjectWithDsn>), ApiError> {
    super::require_admin(&state, &headers)?;
    let new: NewProject = serde_json::from_slice(&body)
        .map_err(|e| ApiError::BadRequest(format!("body: expected {{\"name\": \"…\"}}: {e}")))?;
    let name = new.name.trim();
    if name.is_empty() || name.len() > 100 {
        return Err(ApiError::BadRequest("name: 1 to 100 characters".into()));
    }
    if state.store.projects().await?.iter().any(|p| p.name == name) {
        return Err(ApiError::Conflict(format!(
            "a project is already named '{name}'"
        )));
    }
    let project = state.store.create_project(name, None, None).await?;
    Ok((StatusCode::CREATED, Json(with_dsn(&state, project))))
}
