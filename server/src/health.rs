//! Health endpoints: liveness (no I/O), readiness (database), and a detailed status.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

use crate::startup::AppState;

/// Reply of `/health` and `/health/readiness`.
#[derive(Serialize, ToSchema)]
pub struct HealthStatus {
    /// `ok`, `ready` or `unavailable`.
    pub status: &'static str,
}

/// Liveness: the process answers. No I/O.
#[utoipa::path(get, path = "/health", tag = "health",
    responses((status = 200, description = "The process is alive", body = HealthStatus)))]
pub async fn liveness() -> Json<HealthStatus> {
    Json(HealthStatus { status: "ok" })
}

/// Readiness: the database answers and is migrated.
#[utoipa::path(get, path = "/health/readiness", tag = "health",
    responses(
        (status = 200, description = "Ready to serve", body = HealthStatus),
        (status = 503, description = "The database is unreachable or not migrated", body = HealthStatus),
    ))]
pub async fn readiness(State(state): State<AppState>) -> (StatusCode, Json<HealthStatus>) {
    if state.store.is_ready().await {
        (StatusCode::OK, Json(HealthStatus { status: "ready" }))
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(HealthStatus {
                status: "unavailable",
            }),
        )
    }
}

/// Reply of `/health/detailed`.
#[derive(Serialize, ToSchema)]
pub struct Detailed {
    /// `ok` when the database is ready, else `degraded`.
    pub status: &'static str,
    pub version: &'static str,
    pub uptime_seconds: u64,
    pub memory_rss_bytes: u64,
    /// The cgroup's memory limit (`None`: no limit); `self_memory` alerts against it.
    pub memory_limit_bytes: Option<u64>,
    pub cpu_seconds: f64,
    #[schema(value_type = Object)]
    pub database: serde_json::Value,
    /// Every optional feature: on, or off and why.
    #[schema(value_type = Vec<Object>)]
    pub features: Vec<signalbox::config::Feature>,
    /// State of each running source.
    #[schema(value_type = Object)]
    pub sources: BTreeMap<String, signalbox::monitor::SourceState>,
}

/// Version, uptime, resources, database and the state of every component.
#[utoipa::path(get, path = "/health/detailed", tag = "health",
    responses((status = 200, description = "Detailed status", body = Detailed)))]
pub async fn detailed(State(state): State<AppState>) -> Json<Detailed> {
    let ready = state.store.is_ready().await;
    let pool = state.store.pool_state();
    Json(Detailed {
        status: if ready { "ok" } else { "degraded" },
        version: env!("CARGO_PKG_VERSION"),
        uptime_seconds: state.started.elapsed().as_secs(),
        memory_rss_bytes: signalbox::sysinfo::rss_bytes(),
        memory_limit_bytes: signalbox::sysinfo::memory_limit_bytes(),
        cpu_seconds: signalbox::sysinfo::cpu_seconds(),
        database: serde_json::json!({
            "backend": state.store.backend().as_str(),
            "ready": ready,
            "pool": pool,
        }),
        features: state.config.features(),
        sources: state
            .monitor
            .as_ref()
            .map(|m| m.states())
            .unwrap_or_default(),
    })
}
