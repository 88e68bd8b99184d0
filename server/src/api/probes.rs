//! `/api/probes`: the URLs Signalbox checks (list with their state, create, change, delete),
//! their runs, and a run on demand.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use serde::{Deserialize, Serialize};
use signalbox::model::{Alert, ProbeResult, ProbeStatus, ProbeTarget};
use signalbox::probes::spec::{self, ProbeInput};
use utoipa::{IntoParams, ToSchema};

use super::error::{ApiError, ErrorBody};
use crate::startup::AppState;

fn parse_input(body: &[u8]) -> Result<ProbeInput, ApiError> {
    serde_json::from_slice(body)
        .map_err(|e| ApiError::BadRequest(format!("body: {}", spec::json_problem(&e))))
}

fn not_found(id: i64) -> ApiError {
    ApiError::NotFound(format!("no probe {id}"))
}

async fn target(state: &AppState, id: i64) -> Result<ProbeTarget, ApiError> {
    state
        .store
        .probe_target(id)
        .await?
        .ok_or_else(|| not_found(id))
}

/// Every probe with its latest run, failures in a row, certificate and latency windows.
#[utoipa::path(get, path = "/api/probes", tag = "probes",
    responses((status = 200, description = "The probes and their state", body = Vec<ProbeStatus>)))]
pub async fn list_probes(
    State(state): State<AppState>,
) -> Result<Json<Vec<ProbeStatus>>, ApiError> {
    Ok(Json(state.store.probe_statuses(state.store.now()).await?))
}

/// One probe and its state.
#[utoipa::path(get, path = "/api/probes/{id}", tag = "probes",
    params(("id" = i64, Path, description = "Probe id")),
    responses(
        (status = 200, description = "The probe and its state", body = ProbeStatus),
        (status = 404, description = "No such probe", body = ErrorBody),
    ))]
pub async fn get_probe(
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Json<ProbeStatus>, ApiError> {
    let now = state.store.now();
    let target = target(&state, id).await?;
    let results = state
        .store
        .probe_results(id, now - chrono::Duration::hours(24), 50)
        .await?;
    Ok(Json(signalbox::probes::summary::status(
        &target, &results, now,
    )))
}

/// Creates a probe. Its URL's secrets (password, token-like query values) are write-only:
/// every answer shows them as `***`.
#[utoipa::path(post, path = "/api/probes", tag = "probes", security(("admin_token" = [])),
    request_body = ProbeInput,
    responses(
        (status = 201, description = "The probe", body = ProbeTarget),
        (status = 400, description = "A field is missing or wrong (the message names it)", body = ErrorBody),
        (status = 401, description = "The admin token is missing or wrong", body = ErrorBody),
        (status = 409, description = "A probe of that name exists", body = ErrorBody),
    ))]
pub async fn create_probe(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<(StatusCode, Json<ProbeTarget>), ApiError> {
    super::require_admin(&state, &headers)?;
    let spec = parse_input(&body)?
        .apply(None)
        .map_err(|(field, why)| ApiError::BadRequest(format!("{field}: {why}")))?;
    let created = state.store.create_probe_target(&spec).await?;
    Ok((StatusCode::CREATED, Json(spec::redacted(&created))))
}

/// Changes a probe: only the fields given. A `url` sent back as shown (with `***`) keeps the
/// stored secrets.
#[utoipa::path(patch, path = "/api/probes/{id}", tag = "probes", security(("admin_token" = [])),
    params(("id" = i64, Path, description = "Probe id")),
    request_body = ProbeInput,
    responses(
        (status = 200, description = "The probe", body = ProbeTarget),
        (status = 400, description = "A field is wrong (the message names it)", body = ErrorBody),
        (status = 401, description = "The admin token is missing or wrong", body = ErrorBody),
        (status = 404, description = "No such probe", body = ErrorBody),
        (status = 409, description = "Another probe has that name", body = ErrorBody),
    ))]
pub async fn update_probe(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    body: axum::body::Bytes,
) -> Result<Json<ProbeTarget>, ApiError> {
    super::require_admin(&state, &headers)?;
    let input = parse_input(&body)?;
    let current = target(&state, id).await?;
    let spec = input
        .apply(Some(&current.spec()))
        .map_err(|(field, why)| ApiError::BadRequest(format!("{field}: {why}")))?;
    state
        .store
        .update_probe_target(id, &spec)
        .await?
        .map(|changed| Json(spec::redacted(&changed)))
        .ok_or_else(|| not_found(id))
}

/// Deletes a probe and its runs.
#[utoipa::path(delete, path = "/api/probes/{id}", tag = "probes", security(("admin_token" = [])),
    params(("id" = i64, Path, description = "Probe id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "The admin token is missing or wrong", body = ErrorBody),
        (status = 404, description = "No such probe", body = ErrorBody),
    ))]
pub async fn delete_probe(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    super::require_admin(&state, &headers)?;
    if !state.store.delete_probe_target(id).await? {
        return Err(not_found(id));
    }
    Ok(StatusCode::NO_CONTENT)
}

/// Query of `GET /api/probes/{id}/results`.
#[derive(Debug, Deserialize, IntoParams)]
pub struct ResultsQuery {
    /// Runs of the last this many hours, 1–168 (default 24).
    pub hours: Option<i64>,
}

/// A probe's runs, oldest first (the latency chart).
#[utoipa::path(get, path = "/api/probes/{id}/results", tag = "probes",
    params(("id" = i64, Path, description = "Probe id"), ResultsQuery),
    responses(
        (status = 200, description = "Runs, oldest first", body = Vec<ProbeResult>),
        (status = 400, description = "hours is out of range", body = ErrorBody),
        (status = 404, description = "No such probe", body = ErrorBody),
    ))]
pub async fn list_results(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Query(q): Query<ResultsQuery>,
) -> Result<Json<Vec<ProbeResult>>, ApiError> {
    let hours = q.hours.unwrap_or(24);
    if !(1..=168).contains(&hours) {
        return Err(ApiError::BadRequest(format!(
            "hours: {hours} is out of range 1-168"
        )));
    }
    target(&state, id).await?;
    let since = state.store.now() - chrono::Duration::hours(hours);
    Ok(Json(state.store.probe_results(id, since, 0).await?))
}

/// Reply of `POST /api/probes/{id}/run`.
#[derive(Debug, Serialize, ToSchema)]
pub struct RunReply {
    pub result: ProbeResult,
    /// Alerts the run fired.
    pub alerts: Vec<Alert>,
}

/// Runs a probe now (stored and judged like a scheduled run).
#[utoipa::path(post, path = "/api/probes/{id}/run", tag = "probes", security(("admin_token" = [])),
    params(("id" = i64, Path, description = "Probe id")),
    responses(
        (status = 200, description = "The run and the alerts it fired", body = RunReply),
        (status = 401, description = "The admin token is missing or wrong", body = ErrorBody),
        (status = 404, description = "No such probe", body = ErrorBody),
    ))]
pub async fn run_probe(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> Result<Json<RunReply>, ApiError> {
    super::require_admin(&state, &headers)?;
    let target = target(&state, id).await?;
    let (result, alerts) = signalbox::probes::run_once(&state.store, &target).await?;
    Ok(Json(RunReply { result, alerts }))
}
