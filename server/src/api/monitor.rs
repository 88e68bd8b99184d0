//! `/error-monitor/…`: the seed's autonomous-monitor endpoints, over the same store.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use signalbox::model::{Category, Group, Severity};
use signalbox::store::GroupQuery;
use utoipa::{IntoParams, ToSchema};

use super::error::{ApiError, ApiQuery, ErrorBody};
use crate::startup::AppState;

/// Largest list these endpoints return.
const LIST_LIMIT: u32 = 100;

/// `?hours=` of the error lists and the scan (default 24, at most 720).
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HoursParams {
    pub hours: Option<i64>,
}

fn since(hours: Option<i64>) -> Result<DateTime<Utc>, ApiError> {
    match hours.unwrap_or(24) {
        h @ 1..=720 => Ok(Utc::now() - Duration::hours(h)),
        h => Err(ApiError::BadRequest(format!(
            "hours: {h} is out of range 1-720"
        ))),
    }
}

/// Reply of `GET /error-monitor/autonomous/status`.
#[derive(Debug, Serialize, ToSchema)]
pub struct MonitorStatus {
    pub enabled: bool,
    pub running: bool,
    pub auto_fix_enabled: bool,
    /// Seconds between two scheduled polls.
    pub scan_interval: u64,
    pub last_scan: Option<DateTime<Utc>>,
    /// Occurrences since the last generated fix (no fix generator yet: all of them).
    pub errors_since_last_fix: i64,
    pub total_patterns: i64,
    /// Whether this replica runs the sources (one replica does, holding the monitor lease).
    pub leader: bool,
    #[schema(value_type = Object)]
    pub sources: std::collections::BTreeMap<String, signalbox::monitor::SourceState>,
    /// The most recent source runs (crawler bookkeeping), newest first.
    #[schema(value_type = Vec<Object>)]
    pub recent_runs: Vec<signalbox::store::RunRecord>,
}

/// The monitor's state.
#[utoipa::path(get, path = "/error-monitor/autonomous/status", tag = "error-monitor",
    responses((status = 200, description = "Monitor state", body = MonitorStatus)))]
pub async fn status(State(state): State<AppState>) -> Result<Json<MonitorStatus>, ApiError> {
    let stats = state.store.stats(Utc::now(), Duration::hours(24)).await?;
    let sources = state
        .monitor
        .as_ref()
        .map(|m| m.states())
        .unwrap_or_default();
    let last_scan = sources.values().filter_map(|s| s.last_run).max();
    let interval = scan_interval(&state);
    Ok(Json(MonitorStatus {
        enabled: state.config.monitoring_enabled,
        running: state.monitor.as_ref().is_some_and(|m| m.running()),
        auto_fix_enabled: state.config.auto_fix_enabled,
        scan_interval: interval.as_secs(),
        last_scan,
        errors_since_last_fix: stats.errors,
        total_patterns: stats.groups,
        leader: state.monitor.as_ref().is_some_and(|m| m.is_leader()),
        sources,
        recent_runs: state.store.recent_runs(10).await?,
    }))
}

/// Reply of `GET /error-monitor/health`.
#[derive(Debug, Serialize, ToSchema)]
pub struct MonitorHealth {
    /// `healthy` or `degraded` (database not ready).
    pub status: &'static str,
    pub monitoring_enabled: bool,
    pub error_patterns_tracked: i64,
}

/// Whether the monitor can work.
#[utoipa::path(get, path = "/error-monitor/health", tag = "error-monitor",
    responses((status = 200, description = "Monitor health", body = MonitorHealth)))]
pub async fn health(State(state): State<AppState>) -> Json<MonitorHealth> {
    let ready = state.store.is_ready().await;
    let tracked = state
        .store
        .stats(Utc::now(), Duration::hours(1))
        .await
        .map_or(0, |s| s.groups);
    Json(MonitorHealth {
        status: if ready { "healthy" } else { "degraded" },
        monitoring_enabled: state.config.monitoring_enabled,
        error_patterns_tracked: tracked,
    })
}

async fn groups(state: &AppState, query: GroupQuery) -> Result<Vec<Group>, ApiError> {
    Ok(state
        .store
        .list_groups(&GroupQuery {
            limit: LIST_LIMIT,
            ..query
        })
        .await?
        .items)
}

/// The groups matching `filter` seen in the last `hours`.
async fn in_window(
    state: &AppState,
    hours: Option<i64>,
    filter: GroupQuery,
) -> Result<Json<Vec<Group>>, ApiError> {
    let since = since(hours)?;
    Ok(Json(
        groups(
            state,
            GroupQuery {
                since: Some(since),
                ..filter
            },
        )
        .await?,
    ))
}

/// Groups seen in the last `hours`, most occurrences first.
#[utoipa::path(get, path = "/error-monitor/errors/recent", tag = "error-monitor", params(HoursParams),
    responses((status = 200, description = "Groups", body = Vec<Group>), (status = 400, description = "Bad hours", body = ErrorBody)))]
pub async fn recent(
    State(state): State<AppState>,
    ApiQuery(p): ApiQuery<HoursParams>,
) -> Result<Json<Vec<Group>>, ApiError> {
    in_window(&state, p.hours, GroupQuery::default()).await
}

/// Critical groups seen in the last `hours`.
#[utoipa::path(get, path = "/error-monitor/errors/critical", tag = "error-monitor", params(HoursParams),
    responses((status = 200, description = "Groups", body = Vec<Group>), (status = 400, description = "Bad hours", body = ErrorBody)))]
pub async fn critical(
    State(state): State<AppState>,
    ApiQuery(p): ApiQuery<HoursParams>,
) -> Result<Json<Vec<Group>>, ApiError> {
    in_window(
        &state,
        p.hours,
        GroupQuery {
            severity: Some(Severity::Critical),
            ..Default::default()
        },
    )
    .await
}

/// Fixable groups seen in the last `hours`.
#[utoipa::path(get, path = "/error-monitor/errors/fixable", tag = "error-monitor", params(HoursParams),
    responses((status = 200, description = "Groups", body = Vec<Group>), (status = 400, description = "Bad hours", body = ErrorBody)))]
pub async fn fixable(
    State(state): State<AppState>,
    ApiQuery(p): ApiQuery<HoursParams>,
) -> Result<Json<Vec<Group>>, ApiError> {
    in_window(
        &state,
        p.hours,
        GroupQuery {
            fixable: Some(true),
            ..Default::default()
        },
    )
    .await
}

/// Every group (the seed's "patterns"), most occurrences first.
#[utoipa::path(get, path = "/error-monitor/errors/patterns", tag = "error-monitor",
    responses((status = 200, description = "Groups", body = Vec<Group>)))]
pub async fn patterns(State(state): State<AppState>) -> Result<Json<Vec<Group>>, ApiError> {
    Ok(Json(groups(&state, GroupQuery::default()).await?))
}

/// Summary of `GET /error-monitor/dashboard`.
#[derive(Debug, Serialize, ToSchema)]
pub struct DashboardSummary {
    pub total_patterns: i64,
    pub critical_errors: usize,
    pub fixable_errors: usize,
    pub generated_fixes: i64,
    pub patterns_by_category: std::collections::BTreeMap<String, i64>,
}

/// Reply of `GET /error-monitor/dashboard`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Dashboard {
    pub summary: DashboardSummary,
    pub recent_critical: Vec<Group>,
    pub recent_fixable: Vec<Group>,
    /// The 10 latest fixes.
    pub recent_fixes: Vec<signalbox::model::Fix>,
}

/// Everything the seed's dashboard shows, for the last 24 hours.
#[utoipa::path(get, path = "/error-monitor/dashboard", tag = "error-monitor",
    responses((status = 200, description = "Dashboard", body = Dashboard)))]
pub async fn dashboard(State(state): State<AppState>) -> Result<Json<Dashboard>, ApiError> {
    let day = Utc::now() - Duration::hours(24);
    let recent_critical = groups(
        &state,
        GroupQuery {
            since: Some(day),
            severity: Some(Severity::Critical),
            ..Default::default()
        },
    )
    .await?;
    let recent_fixable = groups(
        &state,
        GroupQuery {
            since: Some(day),
            fixable: Some(true),
            ..Default::default()
        },
    )
    .await?;
    let by_category = state.store.category_counts().await?;
    let total = by_category.iter().map(|(_, n)| n).sum();
    // Every category appears, with 0 when it has no group.
    let mut patterns_by_category: std::collections::BTreeMap<String, i64> = Category::ALL
        .iter()
        .map(|c| (c.as_str().to_string(), 0))
        .collect();
    patterns_by_category.extend(by_category);
    let generated_fixes = state.store.fix_counts().await?.iter().map(|(_, n)| n).sum();
    let recent_fixes = state
        .store
        .fixes(&signalbox::store::FixQuery {
            limit: 10,
            ..Default::default()
        })
        .await?
        .items;
    Ok(Json(Dashboard {
        summary: DashboardSummary {
            total_patterns: total,
            critical_errors: recent_critical.len(),
            fixable_errors: recent_fixable.len(),
            generated_fixes,
            patterns_by_category,
        },
        recent_critical,
        recent_fixable,
        recent_fixes,
    }))
}

/// Query of `POST /error-monitor/monitor/scan`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ScanParams {
    pub hours: Option<i64>,
    /// Accepted for the seed's shape; fixes follow alerts when `AUTO_FIX_ENABLED` is set.
    pub auto_fix: Option<bool>,
}

/// Reply of `POST /error-monitor/monitor/scan`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ScanStarted {
    pub run_id: Option<String>,
    pub sources: Vec<String>,
    /// Groups seen in the window before the scan.
    pub patterns_in_window: usize,
}

/// Runs the sources now and reports the groups of the window.
#[utoipa::path(post, path = "/error-monitor/monitor/scan", tag = "error-monitor", params(ScanParams), security(("admin_token" = [])),
    responses((status = 202, description = "Scan queued", body = ScanStarted), (status = 400, description = "Bad hours", body = ErrorBody), (status = 401, description = "Admin token missing", body = ErrorBody)))]
pub async fn scan(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiQuery(p): ApiQuery<ScanParams>,
) -> Result<(StatusCode, Json<ScanStarted>), ApiError> {
    super::require_admin(&state, &headers)?;
    let since = since(p.hours)?;
    let run_id = match &state.monitor {
        Some(monitor) if !monitor.sources().is_empty() => {
            let id = uuid::Uuid::new_v4().to_string();
            monitor.crawl_now(id.clone()).then_some(id)
        }
        _ => None,
    };
    let patterns_in_window = groups(
        &state,
        GroupQuery {
            since: Some(since),
            ..Default::default()
        },
    )
    .await?
    .len();
    Ok((
        StatusCode::ACCEPTED,
        Json(ScanStarted {
            run_id,
            sources: state
                .monitor
                .as_ref()
                .map(|m| m.sources().to_vec())
                .unwrap_or_default(),
            patterns_in_window,
        }),
    ))
}

/// Query of `POST /error-monitor/monitor/start`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StartParams {
    /// Seconds between scheduled polls (10–86400); the configured interval when absent.
    pub interval: Option<u64>,
}

/// Reply of start and stop.
#[derive(Debug, Serialize, ToSchema)]
pub struct Running {
    pub running: bool,
    pub scan_interval: u64,
}

/// Seconds between scheduled polls: the one set by `start`, else the configured one.
fn scan_interval(state: &AppState) -> std::time::Duration {
    state
        .monitor
        .as_ref()
        .and_then(|m| m.interval_override())
        .unwrap_or(state.config.monitor_interval)
}

fn monitor_of(state: &AppState) -> Result<&signalbox::monitor::MonitorHandle, ApiError> {
    state.monitor.as_ref().ok_or_else(|| {
        ApiError::Conflict("the monitor is off (ERROR_MONITORING_ENABLED=false)".into())
    })
}

/// Resumes scheduled polls.
#[utoipa::path(post, path = "/error-monitor/monitor/start", tag = "error-monitor", params(StartParams), security(("admin_token" = [])),
    responses((status = 200, description = "Running", body = Running), (status = 400, description = "Bad interval", body = ErrorBody), (status = 401, description = "Admin token missing", body = ErrorBody), (status = 409, description = "Monitor off", body = ErrorBody)))]
pub async fn start(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiQuery(p): ApiQuery<StartParams>,
) -> Result<Json<Running>, ApiError> {
    super::require_admin(&state, &headers)?;
    let interval = match p.interval {
        None => None,
        Some(s @ 10..=86_400) => Some(std::time::Duration::from_secs(s)),
        Some(s) => {
            return Err(ApiError::BadRequest(format!(
                "interval: {s} is out of range 10-86400 seconds"
            )))
        }
    };
    let monitor = monitor_of(&state)?;
    monitor.start(interval);
    Ok(Json(Running {
        running: true,
        scan_interval: scan_interval(&state).as_secs(),
    }))
}

/// Stops scheduled polls (requested scans still run).
#[utoipa::path(post, path = "/error-monitor/monitor/stop", tag = "error-monitor", security(("admin_token" = [])),
    responses((status = 200, description = "Stopped", body = Running), (status = 401, description = "Admin token missing", body = ErrorBody), (status = 409, description = "Monitor off", body = ErrorBody)))]
pub async fn stop(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<Running>, ApiError> {
    super::require_admin(&state, &headers)?;
    let monitor = monitor_of(&state)?;
    monitor.stop();
    Ok(Json(Running {
        running: false,
        scan_interval: scan_interval(&state).as_secs(),
    }))
}
