//! `/api/notifications`: the notification outbox, so failed deliveries are visible.

use std::str::FromStr;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::Json;
use serde::Deserialize;
use signalbox::model::{DeliveryStatus, Notification};
use signalbox::store::MAX_NOTIFICATIONS;
use utoipa::IntoParams;

use super::error::{ApiError, ApiQuery, ErrorBody};
use crate::startup::AppState;

/// Rows listed when `limit` is not given.
const DEFAULT_LIMIT: u32 = 50;

/// Query of `GET /api/notifications`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct NotificationParams {
    /// `pending`, `sent` or `failed` (default: all).
    pub status: Option<String>,
    /// 1–500, default 50.
    pub limit: Option<u32>,
}

/// The outbox, newest first. Admin token when one is set: bodies quote log lines.
#[utoipa::path(get, path = "/api/notifications", tag = "notifications", params(NotificationParams),
    security(("admin_token" = [])),
    responses(
        (status = 200, description = "Notifications, newest first", body = Vec<Notification>),
        (status = 400, description = "Bad status or limit", body = ErrorBody),
        (status = 401, description = "The admin token is missing or wrong", body = ErrorBody),
    ))]
pub async fn list_notifications(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiQuery(p): ApiQuery<NotificationParams>,
) -> Result<Json<Vec<Notification>>, ApiError> {
    super::require_admin(&state, &headers)?;
    let status = p
        .status
        .as_deref()
        .map(DeliveryStatus::from_str)
        .transpose()
        .map_err(|e| ApiError::BadRequest(format!("status: {e}")))?;
    let limit = match p.limit {
        None => DEFAULT_LIMIT,
        Some(n @ 1..=MAX_NOTIFICATIONS) => n,
        Some(n) => {
            return Err(ApiError::BadRequest(format!(
                "limit: {n} is out of range 1-{MAX_NOTIFICATIONS}"
            )))
        }
    };
    Ok(Json(state.store.notifications(status, limit).await?))
}
