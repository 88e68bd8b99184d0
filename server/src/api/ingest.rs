//! Push ingest: Sentry SDKs (`/api/{project}/envelope/`, legacy `/api/{project}/store/`) and
//! plain JSON (`/api/ingest`). Bodies may be gzip, deflate, br or zstd encoded (decoded by the
//! layer in [`router`]).

use std::collections::HashMap;
use std::sync::Mutex;

use axum::body::{to_bytes, Body};
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use chrono::Utc;
use serde::Serialize;
use signalbox::model::{Event, Project};
use signalbox::monitor::store_events;
use signalbox::sources::sentry;
use tower_http::decompression::RequestDecompressionLayer;
use tower_http::limit::RequestBodyLimitLayer;

use super::error::{ApiError, ApiPath};
use crate::startup::AppState;

/// Largest ingest body, compressed or decompressed (a zip bomb stops here).
pub const MAX_INGEST_BYTES: usize = 20 * 1024 * 1024;

/// Events per minute and project: a fixed one-minute window per project.
#[derive(Debug, Default)]
pub struct RateLimiter {
    windows: Mutex<HashMap<i64, (i64, u64)>>,
}

impl RateLimiter {
    /// Counts `events` for `project` at `now_seconds`; `Err(seconds to wait)` when over `limit`.
    pub fn check(
        &self,
        project: i64,
        events: u64,
        limit: u64,
        now_seconds: i64,
    ) -> Result<(), i64> {
        let minute = now_seconds.div_euclid(60);
        let Ok(mut windows) = self.windows.lock() else {
            return Ok(());
        };
        let window = windows.entry(project).or_insert((minute, 0));
        if window.0 != minute {
            *window = (minute, 0);
        }
        if window.1 + events > limit {
            return Err(60 - now_seconds.rem_euclid(60));
        }
        window.1 += events;
        Ok(())
    }
}

/// Reply of the ingest endpoints, as Sentry's.
#[derive(Serialize)]
struct Accepted {
    id: String,
}

/// The ingest routes, with request decompression and their own body limit.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/{project_id}/envelope/", post(envelope))
        .route("/api/{project_id}/store/", post(store))
        .route("/api/ingest", post(push))
        .route("/v1/logs", post(otlp_logs))
        .layer(RequestDecompressionLayer::new())
        .layer(RequestBodyLimitLayer::new(MAX_INGEST_BYTES))
}

async fn envelope(
    State(state): State<AppState>,
    ApiPath(project_id): ApiPath<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let bytes = read_body(body).await?;
    let envelope = sentry::parse_envelope(&bytes)
        .map_err(|e| ApiError::BadRequest(format!("envelope: {e}")))?;
    let key = sentry_key(&headers, query.as_deref()).or_else(|| envelope.dsn_key());
    let project = authenticate(&state, &project_id, key.as_deref()).await?;
    let events = sentry::envelope_events(&envelope, &project.name, Utc::now());
    let id = envelope
        .event_id()
        .map(str::to_string)
        .or_else(|| events.iter().find_map(|e| e.source_id.clone()))
        .unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string());
    accept(&state, &project, events, id).await
}

async fn store(
    State(state): State<AppState>,
    ApiPath(project_id): ApiPath<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let bytes = read_body(body).await?;
    let key = sentry_key(&headers, query.as_deref());
    let project = authenticate(&state, &project_id, key.as_deref()).await?;
    let value: serde_json::Value = serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::BadRequest(format!("event: not JSON: {e}")))?;
    let event = sentry::event_from_json(&value, &project.name, Utc::now())
        .ok_or_else(|| ApiError::BadRequest("event: not a JSON object".into()))?;
    let id = event
        .source_id
        .clone()
        .unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string());
    accept(&state, &project, vec![event], id).await
}

/// `POST /v1/logs`: OTLP/HTTP logs, protobuf or JSON; the project key in `X-Signalbox-Key`.
async fn otlp_logs(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let project = project_of_key(&state, &headers).await?;
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let bytes = read_body(body).await?;
    let request = signalbox::sources::otlp::decode(&bytes, json)
        .map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let events = signalbox::sources::otlp::events(&request, &project.name, Utc::now());
    if let Err(wait) = state.ingest_limits.check(
        project.id,
        (events.len() as u64).max(1),
        state.config.ingest_rate_limit,
        Utc::now().timestamp(),
    ) {
        return Ok(rate_limited(wait));
    }
    store_events(&state.store, &state.pipeline, "otlp", events, None).await?;
    // An empty ExportLogsServiceResponse: full success.
    Ok(if json {
        ([(header::CONTENT_TYPE, "application/json")], "{}").into_response()
    } else {
        (
            [(header::CONTENT_TYPE, "application/x-protobuf")],
            Vec::<u8>::new(),
        )
            .into_response()
    })
}

/// The project whose key is in `X-Signalbox-Key`.
async fn project_of_key(state: &AppState, headers: &HeaderMap) -> Result<Project, ApiError> {
    let key = headers.get("x-signalbox-key").and_then(|v| v.to_str().ok());
    let Some(key) = key else {
        return Err(ApiError::IngestUnauthorized(
            "missing X-Signalbox-Key header (a project's key)".into(),
        ));
    };
    state
        .store
        .project_by_key(key)
        .await?
        .ok_or_else(|| ApiError::IngestUnauthorized("no project has this key".into()))
}

/// Most events one `/api/ingest` request may carry.
pub const MAX_PUSH_EVENTS: usize = 10_000;

/// Reply of `/api/ingest`.
#[derive(Serialize)]
struct Pushed {
    accepted: usize,
    duplicates: usize,
}

/// `POST /api/ingest`: a JSON object, an array of them, or JSON lines; each object is read
/// like a JSON log line (`level`, `message`/`msg`, `time`, `error`, `stack`, `service`, …).
/// The project key goes in `X-Signalbox-Key`.
async fn push(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let key = headers.get("x-signalbox-key").and_then(|v| v.to_str().ok());
    let Some(key) = key else {
        return Err(ApiError::IngestUnauthorized(
            "missing X-Signalbox-Key header (a project's key)".into(),
        ));
    };
    let project = state
        .store
        .project_by_key(key)
        .await?
        .ok_or_else(|| ApiError::IngestUnauthorized("no project has this key".into()))?;
    let bytes = read_body(body).await?;
    let events = push_events(&bytes, &project.name)?;
    let count = events.len() as u64;
    if let Err(wait) = state.ingest_limits.check(
        project.id,
        count.max(1),
        state.config.ingest_rate_limit,
        Utc::now().timestamp(),
    ) {
        return Ok(rate_limited(wait));
    }
    let summary = store_events(&state.store, &state.pipeline, "push", events, None).await?;
    Ok(Json(Pushed {
        accepted: summary.accepted,
        duplicates: summary.duplicates,
    })
    .into_response())
}

/// The events of a push body, or a 400 naming the first bad line.
fn push_events(bytes: &[u8], service: &str) -> Result<Vec<Event>, ApiError> {
    let text = std::str::from_utf8(bytes)
        .map_err(|_| ApiError::BadRequest("body: not UTF-8 text".into()))?;
    let ctx = signalbox::pipeline::parse::LineContext {
        source: "push".into(),
        service: Some(service.to_string()),
        received_at: Utc::now(),
    };
    // One parse per event: a JSON array or object, else JSON lines.
    let values: Vec<Result<serde_json::Value, ()>> =
        match serde_json::from_str::<serde_json::Value>(text.trim()) {
            Ok(serde_json::Value::Array(items)) => items.into_iter().map(Ok).collect(),
            Ok(value @ serde_json::Value::Object(_)) => vec![Ok(value)],
            Ok(_) => {
                return Err(ApiError::BadRequest(
                    "body: expected a JSON object, an array of objects or JSON lines".into(),
                ))
            }
            Err(_) => text
                .lines()
                .filter(|l| !l.trim().is_empty())
                .map(|line| serde_json::from_str(line).map_err(|_| ()))
                .collect(),
        };
    if values.len() > MAX_PUSH_EVENTS {
        return Err(ApiError::BadRequest(format!(
            "body: {} events, at most {MAX_PUSH_EVENTS} per request",
            values.len()
        )));
    }
    values
        .into_iter()
        .enumerate()
        .map(|(i, value)| {
            let Ok(serde_json::Value::Object(map)) = value else {
                return Err(ApiError::BadRequest(format!(
                    "event {}: not a JSON object",
                    i + 1
                )));
            };
            // A client-supplied id makes retries safe.
            let id = map
                .get("id")
                .or_else(|| map.get("event_id"))
                .and_then(|x| x.as_str())
                .map(str::to_string);
            let mut event = signalbox::pipeline::parse::parse_object(map, &ctx);
            event.source_id = id;
            Ok(event)
        })
        .collect()
}

fn rate_limited(wait: i64) -> Response {
    metrics::counter!("signalbox_ingest_rejected_total", "reason" => "rate_limited").increment(1);
    let mut response = ApiError::RateLimited(wait).into_response();
    let headers = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&wait.to_string()) {
        headers.insert(header::RETRY_AFTER, v);
    }
    if let Ok(v) = HeaderValue::from_str(&format!("{wait}::project")) {
        headers.insert("x-sentry-rate-limits", v);
    }
    response
}

async fn read_body(body: Body) -> Result<axum::body::Bytes, ApiError> {
    to_bytes(body, MAX_INGEST_BYTES).await.map_err(|e| {
        let too_large = std::error::Error::source(&e)
            .is_some_and(|s| s.is::<http_body_util::LengthLimitError>())
            || e.to_string().contains("length limit");
        if too_large {
            ApiError::PayloadTooLarge
        } else {
            ApiError::BadRequest(format!("body could not be read or decoded: {e}"))
        }
    })
}

fn sentry_key(headers: &HeaderMap, query: Option<&str>) -> Option<String> {
    let header = headers.get("x-sentry-auth").and_then(|v| v.to_str().ok());
    sentry::auth_key(header, query)
}

/// The project named in the path, if the key is its key.
async fn authenticate(
    state: &AppState,
    project_id: &str,
    key: Option<&str>,
) -> Result<Project, ApiError> {
    let Some(key) = key else {
        return Err(ApiError::IngestUnauthorized(
            "missing sentry_key (X-Sentry-Auth header, sentry_key query or envelope dsn)".into(),
        ));
    };
    let unknown = || ApiError::NotFound(format!("no project has id '{project_id}'"));
    let id: i64 = project_id.parse().map_err(|_| unknown())?;
    let project = state.store.project(id).await?.ok_or_else(unknown)?;
    // Compared in constant time: the key is the project's credential.
    if !signalbox::config::constant_time_eq(project.public_key.as_bytes(), key.as_bytes()) {
        return Err(ApiError::IngestUnauthorized(
            "the key is not this project's key".into(),
        ));
    }
    Ok(project)
}

async fn accept(
    state: &AppState,
    project: &Project,
    events: Vec<Event>,
    id: String,
) -> Result<Response, ApiError> {
    let count = events.len().max(1) as u64;
    if let Err(wait) = state.ingest_limits.check(
        project.id,
        count,
        state.config.ingest_rate_limit,
        Utc::now().timestamp(),
    ) {
        metrics::counter!("signalbox_ingest_rejected_total", "reason" => "rate_limited")
            .increment(1);
        let mut response = ApiError::RateLimited(wait).into_response();
        let headers = response.headers_mut();
        if let Ok(v) = HeaderValue::from_str(&wait.to_string()) {
            headers.insert(header::RETRY_AFTER, v);
        }
        if let Ok(v) = HeaderValue::from_str(&format!("{wait}::project")) {
            headers.insert("x-sentry-rate-limits", v);
        }
        return Ok(response);
    }
    if !events.is_empty() {
        store_events(&state.store, &state.pipeline, "sentry", events, None).await?;
    }
    Ok((StatusCode::OK, Json(Accepted { id })).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_limit_windows() {
        let limiter = RateLimiter::default();
        assert_eq!(limiter.check(1, 2, 3, 120), Ok(()));
        assert_eq!(limiter.check(1, 1, 3, 130), Ok(()));
        assert_eq!(limiter.check(1, 1, 3, 150), Err(30));
        assert_eq!(limiter.check(2, 1, 3, 150), Ok(()), "per project");
        assert_eq!(limiter.check(1, 1, 3, 180), Ok(()), "a new minute");
    }
}
