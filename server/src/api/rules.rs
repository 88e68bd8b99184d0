//! `/api/rules`: the alert rules (list, create, change, delete) and `/api/alerts`: what fired.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use serde::Deserialize;
use signalbox::model::{Alert, AlertAction, AlertCondition, AlertRule, AlertRuleType};
use signalbox::store::RuleProblem;
use utoipa::{IntoParams, ToSchema};

use super::error::{ApiError, ErrorBody};
use crate::startup::AppState;

/// Body of `POST /api/rules`; `PATCH /api/rules/{id}` takes any subset of it.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleInput {
    pub name: Option<String>,
    pub rule_type: Option<AlertRuleType>,
    pub condition: Option<AlertCondition>,
    /// Default `create_task_and_notify`.
    pub action: Option<AlertAction>,
    /// Default true.
    pub enabled: Option<bool>,
    /// Default 30.
    pub cooldown_minutes: Option<u32>,
}

fn parse_input(body: &[u8]) -> Result<RuleInput, ApiError> {
    serde_json::from_slice(body).map_err(|e| ApiError::BadRequest(format!("body: {e}")))
}

fn problem(p: RuleProblem) -> ApiError {
    ApiError::BadRequest(format!("{}: {}", p.field, p.message))
}

/// Every alert rule.
#[utoipa::path(get, path = "/api/rules", tag = "rules",
    responses((status = 200, description = "The alert rules", body = Vec<AlertRule>)))]
pub async fn list_rules(State(state): State<AppState>) -> Result<Json<Vec<AlertRule>>, ApiError> {
    Ok(Json(state.store.alert_rules().await?))
}

/// One alert rule.
#[utoipa::path(get, path = "/api/rules/{id}", tag = "rules",
    params(("id" = i64, Path, description = "Rule id")),
    responses(
        (status = 200, description = "The rule", body = AlertRule),
        (status = 404, description = "No such rule", body = ErrorBody),
    ))]
pub async fn get_rule(
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Json<AlertRule>, ApiError> {
    state
        .store
        .alert_rule(id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::NotFound(format!("no alert rule {id}")))
}

/// Creates an alert rule.
#[utoipa::path(post, path = "/api/rules", tag = "rules", security(("admin_token" = [])),
    request_body = RuleInput,
    responses(
        (status = 201, description = "The rule", body = AlertRule),
        (status = 400, description = "A field is missing or wrong (the message names it)", body = ErrorBody),
        (status = 401, description = "The admin token is missing or wrong", body = ErrorBody),
    ))]
pub async fn create_rule(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<(StatusCode, Json<AlertRule>), ApiError> {
    super::require_admin(&state, &headers)?;
    let input = parse_input(&body)?;
    let rule = AlertRule {
        id: 0,
        name: input.name.ok_or_else(|| ApiError::BadRequest("name: required".into()))?,
        rule_type: input
            .rule_type
            .ok_or_else(|| ApiError::BadRequest("rule_type: required (new_fingerprint, spike, sustained, critical, regression, error_rate)".into()))?,
        condition: input.condition.unwrap_or_default(),
        action: input.action.unwrap_or(AlertAction::CreateTaskAndNotify),
        enabled: input.enabled.unwrap_or(true),
        cooldown_minutes: input.cooldown_minutes.unwrap_or(30),
        last_triggered: None,
        trigger_count: 0,
    };
    let created = state
        .store
        .create_alert_rule(&rule)
        .await?
        .map_err(problem)?;
    state.store.reload_rules();
    Ok((StatusCode::CREATED, Json(created)))
}

/// Changes an alert rule: only the fields given (its counters restart when it changes).
#[utoipa::path(patch, path = "/api/rules/{id}", tag = "rules", security(("admin_token" = [])),
    params(("id" = i64, Path, description = "Rule id")),
    request_body = RuleInput,
    responses(
        (status = 200, description = "The rule", body = AlertRule),
        (status = 400, description = "A field is wrong (the message names it)", body = ErrorBody),
        (status = 401, description = "The admin token is missing or wrong", body = ErrorBody),
        (status = 404, description = "No such rule", body = ErrorBody),
    ))]
pub async fn update_rule(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    body: axum::body::Bytes,
) -> Result<Json<AlertRule>, ApiError> {
    super::require_admin(&state, &headers)?;
    let input = parse_input(&body)?;
    let not_found = || ApiError::NotFound(format!("no alert rule {id}"));
    let current = state.store.alert_rule(id).await?.ok_or_else(not_found)?;
    let rule = AlertRule {
        name: input.name.unwrap_or(current.name.clone()),
        rule_type: input.rule_type.unwrap_or(current.rule_type),
        condition: input.condition.unwrap_or(current.condition.clone()),
        action: input.action.unwrap_or(current.action),
        enabled: input.enabled.unwrap_or(current.enabled),
        cooldown_minutes: input.cooldown_minutes.unwrap_or(current.cooldown_minutes),
        ..current
    };
    let updated = state
        .store
        .update_alert_rule(id, &rule)
        .await?
        .ok_or_else(not_found)?
        .map_err(problem)?;
    state.store.reload_rules();
    Ok(Json(updated))
}

/// Deletes an alert rule.
#[utoipa::path(delete, path = "/api/rules/{id}", tag = "rules", security(("admin_token" = [])),
    params(("id" = i64, Path, description = "Rule id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "The admin token is missing or wrong", body = ErrorBody),
        (status = 404, description = "No such rule", body = ErrorBody),
    ))]
pub async fn delete_rule(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    super::require_admin(&state, &headers)?;
    if !state.store.delete_alert_rule(id).await? {
        return Err(ApiError::NotFound(format!("no alert rule {id}")));
    }
    state.store.reload_rules();
    Ok(StatusCode::NO_CONTENT)
}

/// Query of `GET /api/alerts`.
#[derive(Debug, Deserialize, IntoParams)]
pub struct AlertsQuery {
    /// Only the alerts of this group.
    pub fingerprint: Option<String>,
    /// At most this many (default 50, at most 500).
    pub limit: Option<i64>,
}

/// The alerts that fired, newest first.
#[utoipa::path(get, path = "/api/alerts", tag = "rules", params(AlertsQuery),
    responses((status = 200, description = "Alerts, newest first", body = Vec<Alert>)))]
pub async fn list_alerts(
    State(state): State<AppState>,
    Query(q): Query<AlertsQuery>,
) -> Result<Json<Vec<Alert>>, ApiError> {
    let limit = q.limit.unwrap_or(50).clamp(1, 500);
    Ok(Json(
        state.store.alerts(q.fingerprint.as_deref(), limit).await?,
    ))
}
