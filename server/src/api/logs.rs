//! `/api/logs/…`: error groups, occurrences, statistics, and running the sources now.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use signalbox::model::{Group, GroupStatus, GroupStatusChange, Level, Occurrence, Page, Stats};
use signalbox::store::{GroupQuery, GroupSort, StatusChange};
use utoipa::{IntoParams, ToSchema};

use super::error::{ApiError, ApiPath, ApiQuery, ErrorBody};
use crate::startup::AppState;

/// Default page size of the lists.
const DEFAULT_LIMIT: u32 = 50;

/// Query of `GET /api/logs/errors`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListErrorsParams {
    /// `count` (default: most occurrences first) or `last_seen` (most recent first).
    pub sort: Option<String>,
    /// Only groups of this level: `error` or `critical`.
    pub level: Option<String>,
    /// `unresolved`, `resolved`, `ignored` or `regressed`.
    pub status: Option<String>,
    /// Only groups of this service.
    pub service: Option<String>,
    /// Only groups seen in this window before now: `1h`, `24h`, `7d`, … (see also `since`).
    pub range: Option<String>,
    /// Only groups seen at or after this RFC 3339 time.
    pub since: Option<String>,
    /// Only groups first seen at or before this RFC 3339 time.
    pub until: Option<String>,
    /// Text the group's template contains (case-insensitive).
    pub q: Option<String>,
    /// `provider`, `database`, `rate_limit`, `timeout`, `auth`, `validation`, `cache`,
    /// `external_service` or `internal`.
    pub category: Option<String>,
    /// `CRITICAL`, `HIGH`, `MEDIUM`, `LOW` or `INFO`.
    pub severity: Option<String>,
    /// `true`: only groups a code change can fix; `false`: only the others.
    pub fixable: Option<bool>,
    /// Page size, 1–500 (default 50).
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// Query of `GET /api/logs/errors/{fingerprint}/occurrences`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// Page size, 1–500 (default 50).
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// Query of `GET /api/logs/stats`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StatsParams {
    /// Window before now: `1h`, `24h` (default), `7d`, … up to `30d`.
    pub range: Option<String>,
}

/// A page of groups (schema for the OpenAPI document).
#[derive(Serialize, ToSchema)]
pub struct GroupPage {
    pub items: Vec<Group>,
    pub next_cursor: Option<String>,
}

/// A page of occurrences (schema for the OpenAPI document).
#[derive(Serialize, ToSchema)]
pub struct OccurrencePage {
    pub items: Vec<Occurrence>,
    pub next_cursor: Option<String>,
}

/// A page of status changes (schema for the OpenAPI document).
#[derive(Serialize, ToSchema)]
pub struct StatusChangePage {
    pub items: Vec<GroupStatusChange>,
    pub next_cursor: Option<String>,
}

/// One group with its lifecycle: its open task and its mute.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct GroupDetail {
    #[serde(flatten)]
    pub group: Group,
    /// The group's task that is not done (`GET /api/tasks/{id}`), if any.
    pub task_id: Option<i64>,
    /// Ignored until this time…
    pub muted_until: Option<DateTime<Utc>>,
    /// …or until its occurrence count reaches this.
    pub muted_until_count: Option<i64>,
}

/// Body of `POST /api/logs/errors/{fingerprint}/status` (schema for the OpenAPI document).
#[derive(Debug, Deserialize, ToSchema)]
pub struct StatusRequest {
    /// `resolved`, `ignored` or `unresolved`.
    pub status: String,
    /// With `ignored`: the mute ends at this RFC 3339 time (in the future).
    pub until: Option<String>,
    /// With `ignored`: the mute ends after this many more occurrences.
    pub count: Option<i64>,
    /// Why, for the history (at most 500 characters).
    pub reason: Option<String>,
}

/// Longest reason a status change keeps.
const MAX_REASON_CHARS: usize = 500;
/// Most occurrences a mute can wait for.
const MAX_MUTE_COUNT: i64 = 1_000_000_000;

/// Reads a status request, naming the first bad field.
pub fn status_change(
    body: &serde_json::Value,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<StatusChange, ApiError> {
    let bad = |message: String| ApiError::BadRequest(message);
    let object = body.as_object().ok_or_else(|| {
        bad("body: expected {\"status\": \"resolved\"|\"ignored\"|\"unresolved\"}".into())
    })?;
    if let Some(unknown) = object
        .keys()
        .find(|k| !["status", "until", "count", "reason"].contains(&k.as_str()))
    {
        return Err(bad(format!(
            "{unknown}: unknown field (expected status, until, count, reason)"
        )));
    }
    let status = match object.get("status").and_then(|v| v.as_str()) {
        Some("resolved") => GroupStatus::Resolved,
        Some("ignored") => GroupStatus::Ignored,
        Some("unresolved") => GroupStatus::Unresolved,
        Some("regressed") => {
            return Err(bad(
                "status: 'regressed' is set by Signalbox when a resolved group recurs; expected resolved, ignored or unresolved".into(),
            ))
        }
        _ => return Err(bad("status: expected resolved, ignored or unresolved".into())),
    };
    let until = match object.get("until") {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::String(text)) => {
            let t = parse_time("until", text)?;
            if t <= now {
                return Err(bad(format!("until: {text} is not in the future")));
            }
            Some(t)
        }
        Some(_) => return Err(bad("until: expected an RFC 3339 time string".into())),
    };
    let count = match object.get("count") {
        None | Some(serde_json::Value::Null) => None,
        Some(v) => match v.as_i64() {
            Some(n) if (1..=MAX_MUTE_COUNT).contains(&n) => Some(n),
            _ => {
                return Err(bad(format!(
                    "count: expected a number of occurrences from 1 to {MAX_MUTE_COUNT}"
                )))
            }
        },
    };
    if status != GroupStatus::Ignored {
        if until.is_some() {
            return Err(bad("until: only with status ignored".into()));
        }
        if count.is_some() {
            return Err(bad("count: only with status ignored".into()));
        }
    }
    let reason = match object.get("reason") {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::String(text)) if text.chars().count() <= MAX_REASON_CHARS => {
            Some(text.trim().to_string()).filter(|r| !r.is_empty())
        }
        Some(_) => {
            return Err(bad(format!(
                "reason: expected a text of at most {MAX_REASON_CHARS} characters"
            )))
        }
    };
    Ok(StatusChange {
        status,
        actor: actor.to_string(),
        reason,
        muted_until: until,
        mute_for_occurrences: count,
    })
}

/// Reply of `POST /api/logs/crawl`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CrawlAccepted {
    /// Identifier of the queued run.
    pub run_id: String,
    /// Sources the run polls.
    pub sources: Vec<String>,
}

/// Parses a window such as `90s`, `15m`, `24h` or `7d` (at most 30 days).
pub fn parse_range(field: &str, text: &str) -> Result<Duration, ApiError> {
    let bad = || {
        ApiError::BadRequest(format!(
            "{field}: '{text}' is not a window like 1h, 24h or 7d (at most 30d)"
        ))
    };
    let split = text.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
    let (number, unit) = text.split_at(split);
    let n: i64 = number.parse().map_err(|_| bad())?;
    let unit_seconds = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(bad()),
    };
    // Checked before a Duration exists: chrono panics on out-of-range durations.
    let seconds = n.checked_mul(unit_seconds).ok_or_else(bad)?;
    if seconds <= 0 || seconds > 30 * 86_400 {
        return Err(bad());
    }
    Ok(Duration::seconds(seconds))
}

fn parse_time(field: &str, text: &str) -> Result<DateTime<Utc>, ApiError> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| {
            ApiError::BadRequest(format!(
                "{field}: '{text}' is not an RFC 3339 time like 2026-11-27T10:00:00Z"
            ))
        })
}

pub(crate) fn parse_limit(limit: Option<u32>) -> Result<u32, ApiError> {
    match limit {
        None => Ok(DEFAULT_LIMIT),
        Some(n) if (1..=signalbox::store::MAX_PAGE).contains(&n) => Ok(n),
        Some(n) => Err(ApiError::BadRequest(format!(
            "limit: {n} is out of range 1-{}",
            signalbox::store::MAX_PAGE
        ))),
    }
}

/// Turns the query string into a store query, naming the first bad field.
pub fn group_query(p: ListErrorsParams, now: DateTime<Utc>) -> Result<GroupQuery, ApiError> {
    let sort = match p.sort.as_deref() {
        None | Some("count") => GroupSort::Count,
        Some("last_seen") => GroupSort::LastSeen,
        Some(other) => {
            return Err(ApiError::BadRequest(format!(
                "sort: '{other}' is not count or last_seen"
            )))
        }
    };
    let level = p
        .level
        .as_deref()
        .map(|l| {
            l.parse::<Level>()
                .map_err(|e| ApiError::BadRequest(format!("level: {e}")))
        })
        .transpose()?;
    let status = p
        .status
        .as_deref()
        .map(|s| {
            s.parse::<GroupStatus>()
                .map_err(|e| ApiError::BadRequest(format!("status: {e}")))
        })
        .transpose()?;
    let mut since = p
        .since
        .as_deref()
        .map(|s| parse_time("since", s))
        .transpose()?;
    if let Some(range) = p.range.as_deref() {
        let from_range = now - parse_range("range", range)?;
        since = Some(since.map_or(from_range, |s| s.max(from_range)));
    }
    let until = p
        .until
        .as_deref()
        .map(|s| parse_time("until", s))
        .transpose()?;
    Ok(GroupQuery {
        sort,
        level,
        status,
        service: p.service.filter(|s| !s.is_empty()),
        since,
        until,
        first_seen_since: None,
        last_seen_before: None,
        text: p.q.filter(|s| !s.trim().is_empty()),
        category: p
            .category
            .as_deref()
            .map(|c| {
                c.parse()
                    .map_err(|e| ApiError::BadRequest(format!("category: {e}")))
            })
            .transpose()?,
        severity: p
            .severity
            .as_deref()
            .map(|c| {
                c.parse()
                    .map_err(|e| ApiError::BadRequest(format!("severity: {e}")))
            })
            .transpose()?,
        fixable: p.fixable,
        limit: parse_limit(p.limit)?,
        cursor: p.cursor.filter(|s| !s.is_empty()),
    })
}

/// List error groups.
#[utoipa::path(
    get,
    path = "/api/logs/errors",
    tag = "logs",
    params(ListErrorsParams),
    responses(
        (status = 200, description = "A page of error groups", body = GroupPage),
        (status = 400, description = "A query parameter is invalid", body = ErrorBody),
    )
)]
pub async fn list_errors(
    State(state): State<AppState>,
    ApiQuery(params): ApiQuery<ListErrorsParams>,
) -> Result<Json<Page<Group>>, ApiError> {
    let query = group_query(params, Utc::now())?;
    Ok(Json(state.store.list_groups(&query).await?))
}

/// One error group.
#[utoipa::path(
    get,
    path = "/api/logs/errors/{fingerprint}",
    tag = "logs",
    params(("fingerprint" = String, Path, description = "The group's fingerprint (64 hex digits)")),
    responses(
        (status = 200, description = "The group, its open task and its mute", body = GroupDetail),
        (status = 404, description = "No group has this fingerprint", body = ErrorBody),
    )
)]
pub async fn get_error(
    State(state): State<AppState>,
    ApiPath(fingerprint): ApiPath<String>,
) -> Result<Json<GroupDetail>, ApiError> {
    Ok(Json(group_detail(&state, &fingerprint).await?))
}

async fn group_detail(state: &AppState, fingerprint: &str) -> Result<GroupDetail, ApiError> {
    let group = find_group(state, fingerprint).await?;
    let lifecycle = state.store.group_lifecycle(fingerprint).await?;
    Ok(GroupDetail {
        group,
        task_id: lifecycle.as_ref().and_then(|l| l.open_task),
        muted_until: lifecycle.as_ref().and_then(|l| l.muted_until),
        muted_until_count: lifecycle.as_ref().and_then(|l| l.muted_until_count),
    })
}

/// Resolves, ignores (mutes) or unresolves an error group; the change is recorded.
#[utoipa::path(
    post,
    path = "/api/logs/errors/{fingerprint}/status",
    tag = "logs",
    security(("admin_token" = [])),
    params(("fingerprint" = String, Path, description = "The group's fingerprint")),
    request_body = StatusRequest,
    responses(
        (status = 200, description = "The group after the change", body = GroupDetail),
        (status = 400, description = "A field of the body is invalid", body = ErrorBody),
        (status = 401, description = "The admin token is missing or wrong", body = ErrorBody),
        (status = 404, description = "No group has this fingerprint", body = ErrorBody),
    )
)]
pub async fn set_error_status(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiPath(fingerprint): ApiPath<String>,
    body: axum::body::Bytes,
) -> Result<Json<GroupDetail>, ApiError> {
    super::require_admin(&state, &headers)?;
    let body: serde_json::Value = serde_json::from_slice(&body).map_err(|e| {
        ApiError::BadRequest(format!(
            "body: expected {{\"status\": \"resolved\"|\"ignored\"|\"unresolved\"}}: {e}"
        ))
    })?;
    let now = Utc::now();
    let change = status_change(&body, super::actor(&headers), now)?;
    match state.store.set_status(&fingerprint, &change, now).await? {
        signalbox::store::StatusOutcome::NoGroup => Err(no_group(&fingerprint)),
        _ => Ok(Json(group_detail(&state, &fingerprint).await?)),
    }
}

/// The status changes of an error group, newest first.
#[utoipa::path(
    get,
    path = "/api/logs/errors/{fingerprint}/history",
    tag = "logs",
    params(("fingerprint" = String, Path, description = "The group's fingerprint"), PageParams),
    responses(
        (status = 200, description = "A page of status changes", body = StatusChangePage),
        (status = 400, description = "A query parameter is invalid", body = ErrorBody),
        (status = 404, description = "No group has this fingerprint", body = ErrorBody),
    )
)]
pub async fn error_history(
    State(state): State<AppState>,
    ApiPath(fingerprint): ApiPath<String>,
    ApiQuery(params): ApiQuery<PageParams>,
) -> Result<Json<Page<GroupStatusChange>>, ApiError> {
    let limit = parse_limit(params.limit)?;
    find_group(&state, &fingerprint).await?;
    let page = state
        .store
        .status_history(
            &fingerprint,
            params.cursor.as_deref().filter(|c| !c.is_empty()),
            limit,
        )
        .await?;
    Ok(Json(page))
}

fn no_group(fingerprint: &str) -> ApiError {
    ApiError::NotFound(format!("no error group has fingerprint '{fingerprint}'"))
}

async fn find_group(state: &AppState, fingerprint: &str) -> Result<Group, ApiError> {
    state
        .store
        .group(fingerprint)
        .await?
        .ok_or_else(|| no_group(fingerprint))
}

/// Occurrences of an error group, newest first.
#[utoipa::path(
    get,
    path = "/api/logs/errors/{fingerprint}/occurrences",
    tag = "logs",
    params(("fingerprint" = String, Path, description = "The group's fingerprint"), PageParams),
    responses(
        (status = 200, description = "A page of occurrences", body = OccurrencePage),
        (status = 400, description = "A query parameter is invalid", body = ErrorBody),
        (status = 404, description = "No group has this fingerprint", body = ErrorBody),
    )
)]
pub async fn list_occurrences(
    State(state): State<AppState>,
    ApiPath(fingerprint): ApiPath<String>,
    ApiQuery(params): ApiQuery<PageParams>,
) -> Result<Json<Page<Occurrence>>, ApiError> {
    let limit = parse_limit(params.limit)?;
    find_group(&state, &fingerprint).await?;
    let page = state
        .store
        .occurrences(
            &fingerprint,
            params.cursor.as_deref().filter(|c| !c.is_empty()),
            limit,
        )
        .await?;
    Ok(Json(page))
}

/// Totals, per-minute error counts and error rate over a window (default 24 h).
#[utoipa::path(
    get,
    path = "/api/logs/stats",
    tag = "logs",
    params(StatsParams),
    responses(
        (status = 200, description = "Statistics", body = Stats),
        (status = 400, description = "A query parameter is invalid", body = ErrorBody),
    )
)]
pub async fn stats(
    State(state): State<AppState>,
    ApiQuery(params): ApiQuery<StatsParams>,
) -> Result<Json<Stats>, ApiError> {
    let window = match params.range.as_deref() {
        None => Duration::hours(24),
        Some(r) => parse_range("range", r)?,
    };
    Ok(Json(state.store.stats(Utc::now(), window).await?))
}

/// Run the configured sources now.
#[utoipa::path(
    post,
    path = "/api/logs/crawl",
    tag = "logs",
    security(("admin_token" = [])),
    responses(
        (status = 202, description = "The run is queued", body = CrawlAccepted),
        (status = 401, description = "The admin token is missing or wrong", body = ErrorBody),
        (status = 409, description = "No source is configured, or a run is already queued", body = ErrorBody),
    )
)]
pub async fn crawl(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<(StatusCode, Json<CrawlAccepted>), ApiError> {
    super::require_admin(&state, &headers)?;
    let Some(monitor) = &state.monitor else {
        return Err(ApiError::Conflict(
            "the monitor is off (ERROR_MONITORING_ENABLED=false): no source runs".into(),
        ));
    };
    if monitor.sources().is_empty() {
        return Err(ApiError::Conflict(
            "no poll source is configured (see /health/detailed for what each needs)".into(),
        ));
    }
    let run_id = uuid_v4();
    if !monitor.crawl_now(run_id.clone()) {
        return Err(ApiError::Conflict(
            "a crawl is already queued; try again when it has run".into(),
        ));
    }
    Ok((
        StatusCode::ACCEPTED,
        Json(CrawlAccepted {
            run_id,
            sources: monitor.sources().to_vec(),
        }),
    ))
}

fn uuid_v4() -> String {
    uuid::Uuid::new_v4().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        for (text, ok) in [
            ("1h", true),
            ("24h", true),
            ("7d", true),
            ("90s", true),
            ("30d", true),
            ("31d", false),
            ("0h", false),
            ("h", false),
            ("24", false),
            ("1w", false),
            ("-1h", false),
        ] {
            assert_eq!(parse_range("range", text).is_ok(), ok, "{text}");
        }
    }

    #[test]
    fn bad_list_queries_name_the_field() {
        let now = Utc::now();
        let cases = [
            (
                ListErrorsParams {
                    sort: Some("size".into()),
                    ..Default::default()
                },
                "sort:",
            ),
            (
                ListErrorsParams {
                    level: Some("loud".into()),
                    ..Default::default()
                },
                "level:",
            ),
            (
                ListErrorsParams {
                    status: Some("open".into()),
                    ..Default::default()
                },
                "status:",
            ),
            (
                ListErrorsParams {
                    since: Some("yesterday".into()),
                    ..Default::default()
                },
                "since:",
            ),
            (
                ListErrorsParams {
                    range: Some("forever".into()),
                    ..Default::default()
                },
                "range:",
            ),
            (
                ListErrorsParams {
                    limit: Some(0),
                    ..Default::default()
                },
                "limit:",
            ),
            (
                ListErrorsParams {
                    limit: Some(501),
                    ..Default::default()
                },
                "limit:",
            ),
        ];
        for (params, prefix) in cases {
            let err = group_query(params, now).expect_err("invalid");
            assert!(err.to_string().starts_with(prefix), "{err}");
        }
    }
}
