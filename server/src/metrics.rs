//! `/metrics` in the Prometheus text format, and the HTTP request histogram.

use std::sync::OnceLock;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics::{describe_counter, describe_gauge, describe_histogram, gauge, histogram, Unit};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use signalbox::model::{DeliveryStatus, NotifyChannel};

use crate::startup::AppState;

const HTTP_DURATION: &str = "signalbox_http_request_duration_seconds";

/// The process-wide recorder (the `metrics` facade has one global recorder).
pub fn handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(
                Matcher::Full(HTTP_DURATION.to_string()),
                &[
                    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
                ],
            )
            .unwrap_or_else(|_| PrometheusBuilder::new())
            .build_recorder();
        let handle = recorder.handle();
        // Fails only if another recorder was installed first; then ours just stays empty.
        let _ = metrics::set_global_recorder(recorder);
        describe();
        handle
    })
}

fn describe() {
    describe_histogram!(
        HTTP_DURATION,
        Unit::Seconds,
        "HTTP request duration by route, method and status."
    );
    describe_counter!(
        "signalbox_events_ingested_total",
        "Events stored, by source."
    );
    describe_counter!(
        "signalbox_events_duplicate_total",
        "Events dropped as already seen, by source."
    );
    describe_counter!("signalbox_log_lines_total", "Log lines stored, by level.");
    describe_counter!(
        "signalbox_groups_created_total",
        "Error groups seen for the first time."
    );
    describe_counter!(
        "signalbox_source_polls_total",
        "Source polls, by source and outcome."
    );
    describe_histogram!(
        "signalbox_source_poll_seconds",
        Unit::Seconds,
        "Duration of one source run (a poll and its backlog), by source."
    );
    describe_counter!(
        "signalbox_source_errors_found_total",
        "Error and critical events found by source runs, by source."
    );
    describe_counter!(
        "signalbox_source_api_errors_total",
        "Failed requests to a source's API, by source."
    );
    describe_gauge!(
        "signalbox_source_last_success_timestamp_seconds",
        Unit::Seconds,
        "When a source was last read completely (Unix time), by source."
    );
    describe_gauge!(
        "signalbox_monitor_leader",
        "1 when this replica runs the sources (holds the monitor lease), else 0."
    );
    describe_counter!(
        "signalbox_railway_requests_total",
        "Requests to Railway's API, by outcome (ok, error, rate_limited)."
    );
    describe_counter!(
        "signalbox_railway_stream_disconnects_total",
        "Interruptions of the Railway log stream."
    );
    describe_counter!(
        "signalbox_railway_truncated_windows_total",
        "Railway log windows with more lines in one instant than the largest page."
    );
    describe_counter!(
        "signalbox_ingest_rejected_total",
        "Pushed events refused, by reason."
    );
    describe_counter!(
        "signalbox_notifications_total",
        "Notification delivery attempts, by channel and outcome (sent, retry, failed)."
    );
    describe_gauge!(
        "signalbox_notifications_pending",
        "Notifications waiting in the outbox, by channel (fix: for the fix generator to take)."
    );
    describe_gauge!(
        "signalbox_notifications_failed",
        "Notifications given up on (permanent error or too many attempts), by channel."
    );
    describe_counter!(
        "signalbox_fix_tokens_total",
        "Claude tokens the fix generator used, by kind (input, output)."
    );
    describe_gauge!(
        "signalbox_fixes",
        "Generated fixes, by state (queued, running, proposed, pr_open, merged, closed, refused, failed)."
    );
    describe_gauge!("signalbox_groups", "Error groups in the store, by level.");
    describe_gauge!(
        "signalbox_db_pool_connections",
        "Database pool connections, by state."
    );
    describe_gauge!(
        "signalbox_db_pool_max_connections",
        "Largest size of the database pool."
    );
    describe_gauge!(
        "signalbox_process_resident_memory_bytes",
        Unit::Bytes,
        "Resident memory of the process."
    );
    describe_gauge!(
        "signalbox_process_cpu_seconds",
        Unit::Seconds,
        "CPU time used by the process."
    );
    describe_gauge!(
        "signalbox_uptime_seconds",
        Unit::Seconds,
        "Seconds since the server started."
    );
    describe_gauge!("signalbox_build_info", "Always 1; the version is a label.");
    describe_counter!(
        "signalbox_probe_runs_total",
        "Probe runs, by probe and outcome (ok, dns, connect, tls, timeout, status, body)."
    );
    describe_gauge!(
        "signalbox_probe_up",
        "1 when the probe's latest run answered as expected, else 0."
    );
    describe_gauge!(
        "signalbox_probe_consecutive_failures",
        "Failed runs of the probe since its last success."
    );
    describe_gauge!(
        "signalbox_probe_duration_seconds",
        Unit::Seconds,
        "Latency of the probe's latest run (connect, TLS, request and body; DNS not included)."
    );
    describe_gauge!(
        "signalbox_probe_dns_duration_seconds",
        Unit::Seconds,
        "Name resolution time of the probe's latest run."
    );
    describe_gauge!(
        "signalbox_probe_tls_cert_expiry_timestamp_seconds",
        Unit::Seconds,
        "When the TLS certificate the probe last saw expires (Unix time)."
    );
    describe_gauge!(
        "signalbox_probe_latency_p50_seconds",
        Unit::Seconds,
        "Median latency of the probe's successful runs, by window (1h, 24h)."
    );
    describe_gauge!(
        "signalbox_probe_latency_p95_seconds",
        Unit::Seconds,
        "95th percentile latency of the probe's successful runs, by window (1h, 24h)."
    );
}

/// The probes' gauges, from their stored runs.
fn probe_gauges(statuses: &[signalbox::model::ProbeStatus]) {
    for s in statuses {
        let probe = s.target.name.clone();
        let seconds = |ms: f64| ms / 1000.0;
        gauge!("signalbox_probe_consecutive_failures", "probe" => probe.clone())
            .set(f64::from(s.consecutive_failures));
        if let Some(last) = &s.last {
            gauge!("signalbox_probe_up", "probe" => probe.clone()).set(if last.ok {
                1.0
            } else {
                0.0
            });
            if let Some(ms) = last.latency_ms {
                gauge!("signalbox_probe_duration_seconds", "probe" => probe.clone())
                    .set(seconds(ms));
            }
            if let Some(ms) = last.dns_ms {
                gauge!("signalbox_probe_dns_duration_seconds", "probe" => probe.clone())
                    .set(seconds(ms));
            }
            if let Some(at) = last.cert_not_after {
                gauge!("signalbox_probe_tls_cert_expiry_timestamp_seconds", "probe" => probe.clone())
                    .set(at.timestamp() as f64);
            }
        }
        for w in &s.windows {
            if let Some(ms) = w.p50_ms {
                gauge!("signalbox_probe_latency_p50_seconds", "probe" => probe.clone(), "window" => w.window.clone())
                    .set(seconds(ms));
            }
            if let Some(ms) = w.p95_ms {
                gauge!("signalbox_probe_latency_p95_seconds", "probe" => probe.clone(), "window" => w.window.clone())
                    .set(seconds(ms));
            }
        }
    }
}

/// Records every request's duration under its route template (never the raw path).
pub async fn track(request: Request, next: Next) -> Response {
    let start = Instant::now();
    // Only standard methods become label values: a client inventing methods must not
    // create a new time series per request.
    let method = match request.method().as_str() {
        m @ ("GET" | "POST" | "PUT" | "PATCH" | "DELETE" | "HEAD" | "OPTIONS") => m.to_string(),
        _ => "other".to_string(),
    };
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |p| p.as_str().to_string());
    let response = next.run(request).await;
    signalbox::self_monitor::record_request(
        chrono::Utc::now(),
        response.status().is_server_error(),
    );
    histogram!(
        HTTP_DURATION,
        "method" => method,
        "route" => route,
        "status" => response.status().as_u16().to_string()
    )
    .record(start.elapsed().as_secs_f64());
    response
}

/// `GET /metrics`.
pub async fn render(State(state): State<AppState>) -> impl IntoResponse {
    let store = &state.store;
    match store.group_counts().await {
        Ok(counts) => {
            for level in signalbox::model::Level::ALL.iter().filter(|l| l.is_error()) {
                let n = counts
                    .iter()
                    .find(|(l, _)| l == level)
                    .map_or(0, |(_, n)| *n);
                gauge!("signalbox_groups", "level" => level.as_str()).set(n as f64);
            }
        }
        Err(e) => tracing::warn!(error = %e, "could not count groups for /metrics"),
    }
    match store.notification_counts().await {
        Ok(counts) => {
            for channel in NotifyChannel::ALL {
                let count = |status| {
                    counts
                        .iter()
                        .find(|(c, s, _)| *c == channel && *s == status)
                        .map_or(0, |(_, _, n)| *n)
                };
                gauge!("signalbox_notifications_pending", "channel" => channel.as_str())
                    .set(count(DeliveryStatus::Pending) as f64);
                gauge!("signalbox_notifications_failed", "channel" => channel.as_str())
                    .set(count(DeliveryStatus::Failed) as f64);
            }
        }
        Err(e) => tracing::warn!(error = %e, "could not count notifications for /metrics"),
    }
    match store.fix_counts().await {
        Ok(counts) => {
            for state in signalbox::model::FixState::ALL {
                let n = counts
                    .iter()
                    .find(|(s, _)| *s == state)
                    .map_or(0, |(_, n)| *n);
                gauge!("signalbox_fixes", "state" => state.as_str()).set(n as f64);
            }
        }
        Err(e) => tracing::warn!(error = %e, "could not count fixes for /metrics"),
    }
    match store.probe_statuses(store.now()).await {
        Ok(statuses) => probe_gauges(&statuses),
        Err(e) => tracing::warn!(error = %e, "could not read the probes for /metrics"),
    }
    let pool = store.pool_state();
    gauge!("signalbox_db_pool_connections", "state" => "idle").set(f64::from(pool.idle));
    gauge!("signalbox_db_pool_connections", "state" => "in_use")
        .set(f64::from(pool.size.saturating_sub(pool.idle)));
    gauge!("signalbox_db_pool_max_connections").set(f64::from(pool.max));
    gauge!("signalbox_process_resident_memory_bytes").set(signalbox::sysinfo::rss_bytes() as f64);
    gauge!("signalbox_process_cpu_seconds").set(signalbox::sysinfo::cpu_seconds());
    gauge!("signalbox_uptime_seconds").set(state.started.elapsed().as_secs_f64());
    gauge!("signalbox_build_info", "version" => env!("CARGO_PKG_VERSION")).set(1.0);
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        handle().render(),
    )
}
