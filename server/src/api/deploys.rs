//! `/api/deploys`: deploys of the watched services — listed by Railway, seen in logs, or both
//! — their checks and the error groups they introduced.

use axum::extract::{Path, Query, State};
use axum::Json;
use serde::Deserialize;
use signalbox::model::{Deploy, DeployReport};
use utoipa::IntoParams;

use super::error::{ApiError, ErrorBody};
use crate::startup::AppState;

/// Query of `GET /api/deploys`.
#[derive(Debug, Deserialize, IntoParams)]
pub struct DeploysQuery {
    /// At most this many, 1–200 (default 20).
    pub limit: Option<i64>,
}

/// The latest deployments, newest first: checks passed and failed, new groups (deploys only
/// seen in logs are `state: logged`, not verified).
#[utoipa::path(get, path = "/api/deploys", tag = "deploys", params(DeploysQuery),
    responses(
        (status = 200, description = "Deployments, newest first", body = Vec<Deploy>),
        (status = 400, description = "limit is out of range", body = ErrorBody),
    ))]
pub async fn list_deploys(
    State(state): State<AppState>,
    Query(q): Query<DeploysQuery>,
) -> Result<Json<Vec<Deploy>>, ApiError> {
    let limit = q.limit.unwrap_or(20);
    if !(1..=200).contains(&limit) {
        return Err(ApiError::BadRequest(format!(
            "limit: {limit} is out of range 1-200"
        )));
    }
    Ok(Json(state.store.deploys(limit).await?))
}

/// Query of `GET /api/deploys/{id}`.
#[derive(Debug, Deserialize, IntoParams)]
pub struct DeployQuery {
    /// The deploy's service. A deployment name seen in logs (a release) may repeat across
    /// services; without it, the newest deploy with that id.
    pub service: Option<String>,
}

/// One deployment: its checks, a one-line summary (`deploy abc1234 of web introduced 3 new
/// groups; 4 of 5 checks passed`) and the groups whose rate changed across it.
#[utoipa::path(get, path = "/api/deploys/{id}", tag = "deploys",
    params(("id" = String, Path, description = "Deployment id"), DeployQuery),
    responses(
        (status = 200, description = "The deployment's report", body = DeployReport),
        (status = 404, description = "No such deployment", body = ErrorBody),
    ))]
pub async fn get_deploy(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<DeployQuery>,
) -> Result<Json<DeployReport>, ApiError> {
    signalbox::deploys::report(
        &state.store,
        &id,
        q.service.as_deref(),
        state.config.deploy_compare_minutes,
    )
    .await?
    .map(Json)
    .ok_or_else(|| match &q.service {
        Some(service) => ApiError::NotFound(format!("no deployment {id} of {service}")),
        None => ApiError::NotFound(format!("no deployment {id}")),
    })
}
