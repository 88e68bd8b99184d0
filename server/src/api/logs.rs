//! `/api/logs/…`: error groups, occurrences, statistics, and running the sources now.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use signalbox::model::{Group, GroupStatus, Level, Occurrence, Page, Stats};
use signalbox::store::{GroupQuery, GroupSort};
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
    /// `unresolved`, `resolved` or `ignored`.
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

fn parse_limit(limit: Option<u32>) -> Result<u32, ApiError> {
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
        (status = 200, description = "The group", body = Group),
        (status = 404, description = "No group has this fingerprint", body = ErrorBody),
    )
)]
pub async fn get_error(
    State(state): State<AppState>,
    ApiPath(fingerprint): ApiPath<String>,
) -> Result<Json<Group>, ApiError> {
    Ok(Json(find_group(&state, &fingerprint).await?))
}

async fn find_group(state: &AppState, fingerprint: &str) -> Result<Group, ApiError> {
    state.store.group(fingerprint).await?.ok_or_else(|| {
        ApiError::NotFound(format!("no error group has fingerprint '{fingerprint}'"))
    })
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
