//! The System Health page's data: cards, sources, the error-rate chart, the top groups with
//! their sparklines, new and quiet groups — one server function, one round trip.

use chrono::{DateTime, Utc};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};
use signalbox::model::Group;

use crate::chart::ChartData;
use crate::filters::Filters;

/// How many groups the top list shows.
pub const TOP_GROUPS: u32 = 10;
/// How many groups the new and quiet lists show.
pub const SHORT_LIST: u32 = 10;
/// Deploy markers the chart shows at most.
pub const MAX_DEPLOYS: u32 = 30;
/// The "current" error rate covers this many minutes.
pub const CURRENT_MINUTES: i64 = 5;

/// The summary cards.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Cards {
    /// Error and critical lines in the last 24 h.
    pub errors_24h: i64,
    pub error_rate_24h: f64,
    /// Errors / lines over the last [`CURRENT_MINUTES`] minutes (`None`: no lines).
    pub current_rate: Option<f64>,
    pub new_today: i64,
    /// Groups quiet for 24 h.
    pub resolved: i64,
    pub groups: i64,
    /// Tasks open or in progress.
    pub open_tasks: i64,
}

/// One source as the monitor last saw it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SourceLine {
    pub name: String,
    pub last_run: Option<DateTime<Utc>>,
    pub last_success: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    /// Consecutive failed polls.
    pub failures: u32,
    /// Seconds since the source was last read completely.
    pub lag_seconds: Option<f64>,
    pub events: u64,
}

impl SourceLine {
    /// `ok`, `failing` or `waiting` (never run).
    pub fn state(&self) -> &'static str {
        if self.failures > 0 {
            "failing"
        } else if self.last_success.is_some() {
            "ok"
        } else {
            "waiting"
        }
    }
}

/// The monitor: on, paused, and its sources.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct MonitorLine {
    pub enabled: bool,
    pub running: bool,
    /// This replica runs the sources (holds the lease).
    pub leader: bool,
    pub sources: Vec<SourceLine>,
}

/// A top group and its occurrences per sparkline bucket.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TopGroup {
    pub group: Group,
    pub spark: Vec<i64>,
}

/// The System Health page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HealthData {
    pub generated_at: DateTime<Utc>,
    pub filters: Filters,
    pub cards: Cards,
    pub monitor: MonitorLine,
    pub chart: ChartData,
    pub top: Vec<TopGroup>,
    /// Groups first seen since midnight UTC.
    pub new_today: Vec<Group>,
    /// Groups without an occurrence for 24 h.
    pub quiet: Vec<Group>,
    /// Services with lines in the range (the service filter's choices).
    pub services: Vec<String>,
}

/// The error rate over the last `minutes` of per-minute `(minute ms, errors, lines)`.
pub fn current_rate(per_minute: &[(i64, i64, i64)], now_ms: i64, minutes: i64) -> Option<f64> {
    let since = now_ms - minutes * 60_000;
    let (errors, lines) = per_minute
        .iter()
        .filter(|(m, _, _)| *m >= since)
        .fold((0, 0), |(e, l), (_, me, ml)| (e + me, l + ml));
    (lines > 0).then(|| errors as f64 / lines as f64)
}

/// The chart's rows `(bucket ms, series, errors, lines)` from the store's rows: series by
/// level or by service; with a level filter, only that level's errors (lines stay, so the
/// rate is that level's share of all lines).
#[cfg(feature = "ssr")]
fn chart_rows(
    rows: &[signalbox::store::SeriesRow],
    split: crate::filters::Split,
    level: Option<signalbox::model::Level>,
) -> Vec<(i64, String, i64, i64)> {
    use crate::filters::Split;
    rows.iter()
        .map(|r| {
            let key = match split {
                Split::Level => r.level.clone(),
                Split::Service if r.service.is_empty() => "(no service)".to_string(),
                Split::Service => r.service.clone(),
            };
            let errors = match level {
                Some(l) if l.as_str() != r.level => 0,
                _ => r.errors,
            };
            (r.bucket.timestamp_millis(), key, errors, r.lines)
        })
        .collect()
}

/// The monitor's state as the page shows it.
#[cfg(feature = "ssr")]
pub(crate) fn monitor_line() -> MonitorLine {
    let enabled = super::config().is_ok_and(|c| c.monitoring_enabled);
    let Some(handle) = use_context::<Option<signalbox::monitor::MonitorHandle>>().flatten() else {
        return MonitorLine {
            enabled,
            ..MonitorLine::default()
        };
    };
    MonitorLine {
        enabled,
        running: handle.running(),
        leader: handle.is_leader(),
        sources: handle
            .states()
            .into_iter()
            .map(|(name, s)| SourceLine {
                name,
                last_run: s.last_run,
                last_success: s.last_success,
                last_error: s.last_error,
                failures: s.failures,
                lag_seconds: s.lag_seconds,
                events: s.events,
            })
            .collect(),
    }
}

/// Everything the System Health page shows, for the view in the query parameters.
#[server(prefix = "/api/ui", endpoint = "health")]
pub async fn system_health(
    range: Option<String>,
    service: Option<String>,
    level: Option<String>,
    status: Option<String>,
    q: Option<String>,
    by: Option<String>,
) -> Result<HealthData, ServerFnError> {
    use chrono::Duration;
    use signalbox::store::{GroupQuery, GroupSort};

    use super::{failed, store};
    use crate::chart;

    super::require_read()?;
    let filters = Filters::from_query(|key| match key {
        "range" => range.clone(),
        "service" => service.clone(),
        "level" => level.clone(),
        "status" => status.clone(),
        "q" => q.clone(),
        "by" => by.clone(),
        _ => None,
    });
    let store = store()?;
    let now = Utc::now();
    let since = now - Duration::minutes(filters.range.minutes());

    let width = Duration::minutes(filters.range.chart_bucket_minutes());
    let rows = store
        .error_series(since, now, width, filters.service.as_deref())
        .await
        .map_err(failed)?;
    let starts = chart::buckets(
        since.timestamp_millis(),
        now.timestamp_millis(),
        width.num_milliseconds(),
    );
    let chart_rows = chart_rows(&rows, filters.split, filters.level);
    let mut chart = chart::stack(&chart_rows, &starts);
    let deploys: Vec<(i64, String)> = store
        .deploys_between(since, now, filters.service.as_deref(), MAX_DEPLOYS)
        .await
        .map_err(failed)?
        .iter()
        .map(|d| {
            (
                d.created_at.timestamp_millis(),
                signalbox::deploys::compare::marker(d),
            )
        })
        .collect();
    chart.markers = chart::markers(&deploys, &starts, &chart.labels);
    let mut services: Vec<String> = rows
        .iter()
        .map(|r| r.service.clone())
        .filter(|s| !s.is_empty())
        .collect();
    services.sort();
    services.dedup();

    // The cards cover 24 hours (to the quarter-hour) whatever the range: from the same rows
    // when the view is the default one.
    let day = if filters.range == crate::filters::TimeRange::Day && filters.service.is_none() {
        rows
    } else {
        store
            .error_series(now - Duration::hours(24), now, Duration::minutes(15), None)
            .await
            .map_err(failed)?
    };
    let (errors_24h, lines_24h) = day
        .iter()
        .fold((0, 0), |(e, l), r| (e + r.errors, l + r.lines));
    let recent: Vec<(i64, i64, i64)> = store
        .error_series(
            now - Duration::minutes(CURRENT_MINUTES),
            now,
            Duration::minutes(1),
            None,
        )
        .await
        .map_err(failed)?
        .iter()
        .map(|r| (r.bucket.timestamp_millis(), r.errors, r.lines))
        .collect();
    let (groups, new_today, resolved) = store.group_totals(now).await.map_err(failed)?;
    let cards = Cards {
        errors_24h,
        error_rate_24h: if lines_24h > 0 {
            errors_24h as f64 / lines_24h as f64
        } else {
            0.0
        },
        current_rate: current_rate(&recent, now.timestamp_millis(), CURRENT_MINUTES),
        new_today,
        resolved,
        groups,
        open_tasks: store.open_task_count().await.map_err(failed)?,
    };

    let base = GroupQuery {
        level: filters.level,
        status: filters.status,
        service: filters.service.clone(),
        text: filters.text.clone(),
        limit: TOP_GROUPS,
        ..GroupQuery::default()
    };
    let top = store
        .list_groups(&GroupQuery {
            since: Some(since),
            sort: GroupSort::Count,
            ..base.clone()
        })
        .await
        .map_err(failed)?
        .items;
    let spark_width = Duration::minutes(filters.range.spark_bucket_minutes());
    let spark_starts = chart::buckets(
        since.timestamp_millis(),
        now.timestamp_millis(),
        spark_width.num_milliseconds(),
    );
    let fingerprints: Vec<String> = top.iter().map(|g| g.fingerprint.clone()).collect();
    let buckets = store
        .group_series(&fingerprints, since, spark_width)
        .await
        .map_err(failed)?;
    let top = top
        .into_iter()
        .map(|group| {
            let counts: Vec<(i64, i64)> = buckets
                .iter()
                .filter(|b| b.fingerprint == group.fingerprint)
                .map(|b| (b.bucket.timestamp_millis(), b.count))
                .collect();
            TopGroup {
                spark: chart::fill(&spark_starts, &counts),
                group,
            }
        })
        .collect();
    let midnight = now
        .date_naive()
        .and_hms_opt(0, 0, 0)
        .map(|t| t.and_utc())
        .unwrap_or(now);
    let new_today = store
        .list_groups(&GroupQuery {
            first_seen_since: Some(midnight),
            sort: GroupSort::LastSeen,
            limit: SHORT_LIST,
            ..base.clone()
        })
        .await
        .map_err(failed)?
        .items;
    let quiet = store
        .list_groups(&GroupQuery {
            last_seen_before: Some(now - Duration::hours(24)),
            sort: GroupSort::LastSeen,
            limit: SHORT_LIST,
            ..base
        })
        .await
        .map_err(failed)?
        .items;
    Ok(HealthData {
        generated_at: now,
        filters,
        cards,
        monitor: monitor_line(),
        chart,
        top,
        new_today,
        quiet,
        services,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(feature = "ssr")]
    #[test]
    fn chart_rows_split_by_level_or_service_and_keep_all_lines() {
        use crate::filters::Split;
        use signalbox::model::Level;
        let at = DateTime::from_timestamp_millis(60_000).unwrap_or_default();
        let row = |service: &str, level: &str, errors, lines| signalbox::store::SeriesRow {
            bucket: at,
            service: service.into(),
            level: level.into(),
            errors,
            lines,
        };
        let rows = vec![
            row("api", "error", 2, 2),
            row("", "critical", 1, 1),
            row("api", "info", 0, 5),
        ];
        let keys = |split, level| {
            chart_rows(&rows, split, level)
                .into_iter()
                .map(|(_, k, e, l)| (k, e, l))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            keys(Split::Level, None),
            vec![
                ("error".into(), 2, 2),
                ("critical".into(), 1, 1),
                ("info".into(), 0, 5)
            ]
        );
        assert_eq!(
            keys(Split::Service, Some(Level::Critical)),
            vec![
                ("api".into(), 0, 2),
                ("(no service)".into(), 1, 1),
                ("api".into(), 0, 5)
            ]
        );
    }

    #[test]
    fn the_current_rate_covers_the_last_minutes_only() {
        let now = 10 * 60_000;
        let minutes = [(0, 50, 50), (6 * 60_000, 1, 10), (9 * 60_000, 1, 10)];
        assert_eq!(current_rate(&minutes, now, 5), Some(0.1));
        assert_eq!(current_rate(&minutes, now, 60), Some(52.0 / 70.0));
        assert_eq!(current_rate(&[], now, 5), None);
    }
}
