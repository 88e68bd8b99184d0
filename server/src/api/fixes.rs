//! `/error-monitor/fixes/…`: the fix generator — queue a fix for an error group (one or a
//! batch), list the generated fixes and read one (analysis, diff, tokens, pull request).

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use chrono::Utc;
use serde::{Deserialize, Serialize};
use signalbox::model::{Fix, FixState, Page};
use signalbox::store::FixQuery;
use utoipa::{IntoParams, ToSchema};

use super::error::{ApiError, ApiPath, ApiQuery, ErrorBody};
use super::logs::parse_limit;
use crate::startup::AppState;

/// Most groups one batch may ask fixes for.
pub const MAX_BATCH: usize = 20;

/// Query of `POST /error-monitor/fixes/generate-for-error`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct GenerateParams {
    /// The error group's fingerprint.
    pub error_id: Option<String>,
    /// Open a draft pull request (default true); false keeps the fix here (dry run).
    pub create_pr: Option<bool>,
}

/// Query of `POST /error-monitor/fixes/generate-batch`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct BatchParams {
    /// Comma-separated fingerprints (at most 20).
    pub error_ids: Option<String>,
    /// Open draft pull requests (default true).
    pub create_prs: Option<bool>,
}

/// A fix request's answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct FixRequested {
    /// True when a new fix was queued; false when the group's fix in flight is returned.
    pub queued: bool,
    pub fix: Fix,
}

/// One group of a batch that got no fix.
#[derive(Debug, Serialize, ToSchema)]
pub struct BatchError {
    pub error_id: String,
    pub message: String,
}

/// Reply of `POST /error-monitor/fixes/generate-batch`.
#[derive(Debug, Serialize, ToSchema)]
pub struct BatchRequested {
    pub requested: Vec<FixRequested>,
    pub errors: Vec<BatchError>,
}

/// Query of `GET /error-monitor/fixes/generated`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListFixesParams {
    /// Only the fixes of this group.
    pub fingerprint: Option<String>,
    /// `queued`, `running`, `proposed`, `pr_open`, `merged`, `closed`, `refused` or `failed`.
    pub state: Option<String>,
    /// Page size, 1–500 (default 50).
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// A page of fixes (schema for the OpenAPI document).
#[derive(Serialize, ToSchema)]
pub struct FixPage {
    pub items: Vec<Fix>,
    pub next_cursor: Option<String>,
}

/// 409 when the fix generator is off, saying why.
fn require_fixer(state: &AppState) -> Result<(), ApiError> {
    match signalbox::fixer::off_reason(&state.config) {
        None => Ok(()),
        Some(reason) => Err(ApiError::Conflict(format!(
            "the fix generator is off: {reason}"
        ))),
    }
}

/// Queues a fix for one group; `None` when the group does not exist.
async fn request(
    state: &AppState,
    fingerprint: &str,
    create_pr: bool,
) -> Result<Option<FixRequested>, ApiError> {
    let requested = signalbox::fixer::request_fix(
        &state.store,
        &state.config,
        fingerprint,
        "manual",
        create_pr,
        Utc::now(),
    )
    .await?;
    Ok(requested.map(|(fix, queued)| FixRequested { queued, fix }))
}

/// Asks the fix generator for a fix of one error group.
#[utoipa::path(post, path = "/error-monitor/fixes/generate-for-error", tag = "fixes", params(GenerateParams), security(("admin_token" = [])),
    responses(
        (status = 202, description = "Queued; poll GET /error-monitor/fixes/{id}", body = FixRequested),
        (status = 200, description = "The group already has a fix in flight: that one", body = FixRequested),
        (status = 400, description = "error_id is missing", body = ErrorBody),
        (status = 401, description = "The admin token is missing or wrong", body = ErrorBody),
        (status = 404, description = "No group has this fingerprint", body = ErrorBody),
        (status = 409, description = "The fix generator is off (says why)", body = ErrorBody),
    ))]
pub async fn generate_for_error(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiQuery(p): ApiQuery<GenerateParams>,
) -> Result<(StatusCode, Json<FixRequested>), ApiError> {
    super::require_admin(&state, &headers)?;
    let fingerprint = p
        .error_id
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            ApiError::BadRequest("error_id: the fingerprint of an error group".into())
        })?;
    require_fixer(&state)?;
    let requested = request(&state, fingerprint, p.create_pr.unwrap_or(true))
        .await?
        .ok_or_else(|| {
            ApiError::NotFound(format!(
                "error_id: no error group has fingerprint '{fingerprint}'"
            ))
        })?;
    let status = if requested.queued {
        StatusCode::ACCEPTED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(requested)))
}

/// Asks the fix generator for fixes of several error groups.
#[utoipa::path(post, path = "/error-monitor/fixes/generate-batch", tag = "fixes", params(BatchParams), security(("admin_token" = [])),
    responses(
        (status = 202, description = "Queued (or in flight); unknown groups listed in errors", body = BatchRequested),
        (status = 400, description = "error_ids is missing or too long", body = ErrorBody),
        (status = 401, description = "The admin token is missing or wrong", body = ErrorBody),
        (status = 409, description = "The fix generator is off (says why)", body = ErrorBody),
    ))]
pub async fn generate_batch(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiQuery(p): ApiQuery<BatchParams>,
) -> Result<(StatusCode, Json<BatchRequested>), ApiError> {
    super::require_admin(&state, &headers)?;
    let mut ids: Vec<&str> = p
        .error_ids
        .as_deref()
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    ids.dedup();
    if ids.is_empty() {
        return Err(ApiError::BadRequest(
            "error_ids: comma-separated fingerprints of error groups".into(),
        ));
    }
    if ids.len() > MAX_BATCH {
        return Err(ApiError::BadRequest(format!(
            "error_ids: {} groups; at most {MAX_BATCH} per batch",
            ids.len()
        )));
    }
    require_fixer(&state)?;
    let mut reply = BatchRequested {
        requested: Vec::new(),
        errors: Vec::new(),
    };
    for id in ids {
        match request(&state, id, p.create_prs.unwrap_or(true)).await? {
            Some(r) => reply.requested.push(r),
            None => reply.errors.push(BatchError {
                error_id: id.to_string(),
                message: "no error group has this fingerprint".into(),
            }),
        }
    }
    Ok((StatusCode::ACCEPTED, Json(reply)))
}

/// Generated fixes, newest first.
#[utoipa::path(get, path = "/error-monitor/fixes/generated", tag = "fixes", params(ListFixesParams),
    responses(
        (status = 200, description = "A page of fixes", body = FixPage),
        (status = 400, description = "A query parameter is invalid", body = ErrorBody),
    ))]
pub async fn list_fixes(
    State(state): State<AppState>,
    ApiQuery(p): ApiQuery<ListFixesParams>,
) -> Result<Json<Page<Fix>>, ApiError> {
    let query = FixQuery {
        fingerprint: p.fingerprint.filter(|s| !s.is_empty()),
        state: p
            .state
            .as_deref()
            .filter(|s| !s.is_empty())
            .map(|s| {
                s.parse::<FixState>()
                    .map_err(|e| ApiError::BadRequest(format!("state: {e}")))
            })
            .transpose()?,
        limit: parse_limit(p.limit)?,
        cursor: p.cursor.filter(|s| !s.is_empty()),
    };
    Ok(Json(state.store.fixes(&query).await?))
}

/// One fix: state, root cause, diff, tokens, pull request, or why it was refused.
#[utoipa::path(get, path = "/error-monitor/fixes/{id}", tag = "fixes",
    params(("id" = i64, Path, description = "The fix's id")),
    responses(
        (status = 200, description = "The fix", body = Fix),
        (status = 400, description = "The id is not a number", body = ErrorBody),
        (status = 404, description = "No fix has this id", body = ErrorBody),
    ))]
pub async fn get_fix(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<Fix>, ApiError> {
    state
        .store
        .fix(id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::NotFound(format!("no fix has id {id}")))
}
