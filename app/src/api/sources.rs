//! The Sources page's data: the monitor and each source, the latest runs, and the
//! notifications that did not get through (failed, or waiting for a retry).

use chrono::{DateTime, Utc};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use super::health::MonitorLine;

/// Runs the page lists.
pub const RECENT_RUNS: i64 = 20;
/// Deliveries of each kind the page lists.
pub const DELIVERIES: u32 = 50;

/// One run of the sources.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunLine {
    pub id: String,
    pub triggered_by: String,
    /// One source, or all of them.
    pub source: Option<String>,
    pub started_at: DateTime<Utc>,
    pub status: String,
    pub events: i64,
    pub errors_found: i64,
    pub api_errors: i64,
    pub duration_ms: Option<i64>,
    pub error: Option<String>,
}

/// A notification that failed or waits for a retry. No body: it quotes logs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeliveryLine {
    pub id: i64,
    pub channel: String,
    pub status: String,
    pub attempts: i64,
    pub next_attempt_at: DateTime<Utc>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub rule_name: String,
    pub summary: String,
    pub fingerprint: Option<String>,
}

/// The Sources page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SourcesData {
    pub monitor: MonitorLine,
    /// Seconds between two scheduled polls.
    pub interval_secs: u64,
    pub runs: Vec<RunLine>,
    /// `None`: an admin token is set and the visitor has not logged in (bodies and errors
    /// of notifications are not public).
    pub deliveries: Option<Vec<DeliveryLine>>,
    /// Notifications per channel and status: (channel, status, count).
    pub delivery_counts: Vec<(String, String, i64)>,
}

/// Deliveries to show: every failed one, and pending ones that failed at least once
/// (retrying); newest first.
pub fn troubled(mut rows: Vec<DeliveryLine>) -> Vec<DeliveryLine> {
    rows.retain(|d| d.status == "failed" || (d.status == "pending" && d.attempts > 0));
    rows.sort_by_key(|d| std::cmp::Reverse(d.id));
    rows.dedup_by_key(|d| d.id);
    rows
}

/// The monitor, its sources, the latest runs and the troubled notifications.
#[server(prefix = "/api/ui", endpoint = "sources")]
pub async fn sources_overview() -> Result<SourcesData, ServerFnError> {
    use signalbox::model::DeliveryStatus;

    use super::{failed, store};

    super::require_read()?;
    let store = store()?;
    let config = super::config()?;
    let runs = store
        .recent_runs(RECENT_RUNS)
        .await
        .map_err(failed)?
        .into_iter()
        .map(|r| RunLine {
            id: r.id,
            triggered_by: r.triggered_by,
            source: r.source,
            started_at: r.started_at,
            status: r.status,
            events: r.events,
            errors_found: r.errors_found,
            api_errors: r.api_errors,
            duration_ms: r.duration_ms,
            error: r.error,
        })
        .collect();
    let deliveries = if super::authorize().is_ok() {
        let mut rows = Vec::new();
        for status in [DeliveryStatus::Failed, DeliveryStatus::Pending] {
            let list = store
                .notifications(Some(status), DELIVERIES)
                .await
                .map_err(failed)?;
            rows.extend(list.into_iter().map(|n| DeliveryLine {
                id: n.id,
                channel: n.channel.as_str().into(),
                status: n.status.as_str().into(),
                attempts: n.attempts,
                next_attempt_at: n.next_attempt_at,
                last_error: n.last_error,
                created_at: n.created_at,
                rule_name: n.alert.rule_name,
                summary: n.alert.summary,
                fingerprint: n.alert.fingerprint,
            }));
        }
        Some(troubled(rows))
    } else {
        None
    };
    let delivery_counts = store
        .notification_counts()
        .await
        .map_err(failed)?
        .into_iter()
        .map(|(c, s, n)| (c.as_str().to_string(), s.as_str().to_string(), n))
        .collect();
    Ok(SourcesData {
        monitor: super::health::monitor_line(),
        interval_secs: config.monitor_interval.as_secs(),
        runs,
        deliveries,
        delivery_counts,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(id: i64, status: &str, attempts: i64) -> DeliveryLine {
        DeliveryLine {
            id,
            channel: "slack".into(),
            status: status.into(),
            attempts,
            next_attempt_at: DateTime::default(),
            last_error: None,
            created_at: DateTime::default(),
            rule_name: "New error".into(),
            summary: String::new(),
            fingerprint: None,
        }
    }

    #[test]
    fn failed_and_retrying_deliveries_are_shown_newest_first() {
        let got = troubled(vec![
            line(1, "failed", 8),
            line(2, "pending", 0),
            line(3, "pending", 2),
            line(4, "sent", 1),
        ]);
        assert_eq!(got.iter().map(|d| d.id).collect::<Vec<_>>(), vec![3, 1]);
    }
}
