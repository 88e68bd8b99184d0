//! The Railway source against the fake Railway server (`signalbox-fakes`): paging, ties,
//! traces, restarts, rate limits, bad tokens, the stream and its reconnection.

use std::collections::HashSet;
use std::time::Duration;

use chrono::{DateTime, Utc};
use secrecy::SecretString;
use signalbox::model::{Event, Level};
use signalbox::sources::railway::{RailwaySource, Settings};
use signalbox::sources::PollSource;
use signalbox_fakes::railway::{Failure, FakeRailway, LogLine, Options, TokenKind};

use crate::helpers::spawn_app_with;

/// A fake with one service and one running deployment.
pub async fn fake_with_deployment(options: Options) -> (FakeRailway, String, DateTime<Utc>) {
    let fake = FakeRailway::start(options).await;
    let service = fake.add_service("api");
    let deployment = fake.add_deployment(&service, "SUCCESS");
    // Lines are written after the deployment was created.
    tokio::time::sleep(Duration::from_millis(5)).await;
    (fake, deployment, Utc::now())
}

pub fn settings(fake: &FakeRailway, token: &str) -> Settings {
    Settings {
        api_url: fake.url(),
        ws_url: fake.ws_url(),
        token: SecretString::from(token.to_string()),
        token_kind: None,
        project_id: Some(fake.project_id()),
        environment_id: Some(fake.environment_id()),
        services: Vec::new(),
        filter: None,
        interval: Duration::from_secs(300),
        stream: false,
        lookback: Duration::from_secs(3600),
        page_size: 100,
        lag: Duration::ZERO,
    }
}

pub fn line(at: DateTime<Utc>, instance: &str, message: &str, severity: &str) -> LogLine {
    LogLine {
        timestamp: at,
        message: message.to_string(),
        severity: Some(severity.to_string()),
        attributes: Vec::new(),
        instance_id: instance.to_string(),
    }
}

/// Polls until the source has no backlog; returns every event and the last cursor.
async fn drain(source: &RailwaySource, mut cursor: Option<String>) -> (Vec<Event>, Option<String>) {
    // The lines pushed last are a few milliseconds in the future of the moment they were made.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let mut events = Vec::new();
    for _ in 0..1000 {
        let batch = source
            .poll(cursor.as_deref(), Utc::now())
            .await
            .expect("the poll succeeds");
        events.extend(batch.events);
        cursor = Some(batch.cursor);
        if !batch.more {
            return (events, cursor);
        }
    }
    panic!("the source never caught up");
}

fn messages(events: &[Event]) -> Vec<String> {
    events.iter().map(|e| e.message.clone()).collect()
}

/// 1 500 lines from two replicas, 300 of them in one nanosecond, read with pages of 100.
fn burst(base: DateTime<Utc>) -> Vec<LogLine> {
    let mut lines = Vec::new();
    for i in 0..600 {
        let at = base + chrono::Duration::microseconds(i * 10);
        let instance = if i % 2 == 0 { "replica-a" } else { "replica-b" };
        lines.push(line(
            at,
            instance,
            &format!("INFO request {i} done"),
            "info",
        ));
    }
    let tie = base + chrono::Duration::milliseconds(7);
    for i in 0..300 {
        lines.push(line(tie, "replica-a", &format!("INFO tied {i}"), "info"));
    }
    for i in 0..600 {
        let at = base + chrono::Duration::milliseconds(8) + chrono::Duration::microseconds(i * 10);
        lines.push(line(at, "replica-b", &format!("INFO later {i}"), "info"));
    }
    lines
}

#[tokio::test(flavor = "multi_thread")]
async fn poll_reads_every_line_once_through_ties_and_full_pages() {
    let (fake, deployment, created) = fake_with_deployment(Options::default()).await;
    let lines = burst(created + chrono::Duration::milliseconds(1));
    fake.push_logs(&deployment, lines.clone());
    let source = RailwaySource::new(settings(&fake, "test-token"));
    let (events, _) = drain(&source, None).await;
    let got = messages(&events);
    assert_eq!(got.len(), lines.len(), "every line once");
    let unique: HashSet<&String> = got.iter().collect();
    assert_eq!(unique.len(), lines.len(), "no duplicates");
    let ids: HashSet<_> = events.iter().map(|e| e.source_id.clone()).collect();
    assert_eq!(ids.len(), lines.len(), "distinct source ids");
    let e = &events[0];
    assert_eq!(e.source, "railway");
    assert_eq!(e.service.as_deref(), Some("api"));
    assert_eq!(e.deployment.as_deref(), Some(deployment.as_str()));
    assert!(e.attributes.contains_key("railway.instance"));
    assert_eq!(e.timestamp, lines[0].timestamp, "Railway's own timestamp");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_restart_from_the_stored_cursor_neither_skips_nor_repeats() {
    let (fake, deployment, created) = fake_with_deployment(Options::default()).await;
    let lines = burst(created + chrono::Duration::milliseconds(1));
    fake.push_logs(&deployment, lines.clone());
    tokio::time::sleep(Duration::from_millis(50)).await;
    // Polls that end inside the data: before the tied instant, then one nanosecond after it,
    // each by a fresh source object that only has the stored cursor.
    let tie = lines[600].timestamp;
    let mut events = Vec::new();
    let mut cursor = None;
    for now in [tie, tie + chrono::Duration::nanoseconds(1), Utc::now()] {
        let source = RailwaySource::new(settings(&fake, "test-token"));
        loop {
            let batch = source
                .poll(cursor.as_deref(), now)
                .await
                .expect("the poll succeeds");
            events.extend(batch.events);
            cursor = Some(batch.cursor);
            if !batch.more {
                break;
            }
        }
    }
    let got = messages(&events);
    assert_eq!(got.len(), lines.len());
    assert_eq!(got.iter().collect::<HashSet<_>>().len(), lines.len());
}

#[tokio::test(flavor = "multi_thread")]
async fn traces_written_line_by_line_become_one_event() {
    let (fake, deployment, created) = fake_with_deployment(Options::default()).await;
    let at = |ms: i64| created + chrono::Duration::milliseconds(ms);
    fake.push_logs(
        &deployment,
        vec![
            line(at(1), "r1", "INFO GET /cart 200", "info"),
            line(at(2), "r1", "Traceback (most recent call last):", "error"),
            line(at(2), "r2", "INFO GET /health 200", "info"),
            line(
                at(2),
                "r1",
                "  File \"/app/shop/cart.py\", line 12, in add_item",
                "error",
            ),
            line(at(2), "r1", "    total = prices[item]", "error"),
            line(at(3), "r1", "KeyError: 'sku-1'", "error"),
            line(at(4), "r1", "INFO GET /cart 500", "info"),
        ],
    );
    let source = RailwaySource::new(settings(&fake, "test-token"));
    let (events, _) = drain(&source, None).await;
    assert_eq!(events.len(), 4, "{:#?}", messages(&events));
    let trace = events
        .iter()
        .find(|e| e.stack_trace.is_some())
        .expect("the trace is one event");
    assert_eq!(trace.level, Level::Error);
    assert!(trace
        .stack_trace
        .as_deref()
        .is_some_and(|t| t.ends_with("KeyError: 'sku-1'")));
    // stderr lines that state INFO stay info.
    let health = events
        .iter()
        .find(|e| e.message.contains("/health"))
        .expect("health line");
    assert_eq!(health.level, Level::Info);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_trace_cut_by_the_horizon_is_read_whole_next_time() {
    let (fake, deployment, created) = fake_with_deployment(Options::default()).await;
    let at = |ms: i64| created + chrono::Duration::milliseconds(ms);
    fake.push_logs(
        &deployment,
        vec![
            line(
                at(1),
                "r1",
                "thread 'main' panicked at src/db.rs:42:9:",
                "error",
            ),
            line(at(1), "r1", "connection refused", "error"),
        ],
    );
    let source = RailwaySource::new(settings(&fake, "test-token"));
    let (first, cursor) = drain(&source, None).await;
    assert!(
        first.is_empty(),
        "the panic may still grow: {:?}",
        messages(&first)
    );
    fake.push_logs(
        &deployment,
        vec![line(
            at(2),
            "r1",
            "note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace",
            "error",
        )],
    );
    tokio::time::sleep(Duration::from_millis(2200)).await;
    let (second, _) = drain(&source, cursor).await;
    assert_eq!(second.len(), 1, "{:?}", messages(&second));
    assert!(second[0]
        .stack_trace
        .as_deref()
        .is_some_and(|t| t.contains("RUST_BACKTRACE")));
}

#[tokio::test(flavor = "multi_thread")]
async fn rate_limits_and_outages_skip_a_run_and_recover() {
    let (fake, deployment, created) = fake_with_deployment(Options::default()).await;
    fake.push_logs(
        &deployment,
        vec![line(
            created + chrono::Duration::milliseconds(1),
            "r",
            "INFO one",
            "info",
        )],
    );
    let source = RailwaySource::new(settings(&fake, "test-token"));
    // A short Retry-After is waited out within the run.
    fake.fail_next(
        1,
        Failure::RateLimited {
            retry_after_secs: 1,
        },
    );
    let (events, cursor) = drain(&source, None).await;
    assert_eq!(messages(&events), ["one"]);
    // A long one skips the run, and the client does not call again before it passes.
    fake.push_logs(&deployment, vec![line(Utc::now(), "r", "INFO two", "info")]);
    fake.fail_next(
        1,
        Failure::RateLimited {
            retry_after_secs: 3600,
        },
    );
    let fresh = RailwaySource::new(settings(&fake, "test-token"));
    let error = fresh
        .poll(cursor.as_deref(), Utc::now())
        .await
        .expect_err("rate limited");
    assert!(error.to_string().contains("rate limit"), "{error}");
    let calls = fake.http_requests();
    assert!(fresh.poll(cursor.as_deref(), Utc::now()).await.is_err());
    assert_eq!(
        fake.http_requests(),
        calls,
        "no request while the limit lasts"
    );
    // Outages: 5xx and HTML pages are errors, then the next run catches up.
    // Transient failures are tried three times, an edge's HTML refusal once.
    for (failure, tries) in [
        (Failure::Status(503), 3),
        (Failure::Html, 1),
        (Failure::Reset, 3),
    ] {
        let source = RailwaySource::new(settings(&fake, "test-token"));
        fake.fail_next(tries, failure);
        assert!(source.poll(cursor.as_deref(), Utc::now()).await.is_err());
    }
    let source = RailwaySource::new(settings(&fake, "test-token"));
    let (events, _) = drain(&source, cursor).await;
    assert_eq!(messages(&events), ["two"]);
    assert!(source.status().api_errors == 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refused_token_is_a_clear_error_and_never_printed() {
    let (fake, _, _) = fake_with_deployment(Options::default()).await;
    let source = RailwaySource::new(settings(&fake, "wrong-token-123"));
    let error = source.poll(None, Utc::now()).await.expect_err("refused");
    let text = error.to_string();
    assert!(text.contains("refused the token"), "{text}");
    assert!(!text.contains("wrong-token-123"));
    assert!(source.status().last_discovery_error.is_some());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_project_token_finds_its_own_scope() {
    let (fake, deployment, created) = fake_with_deployment(Options {
        token: "project-token".into(),
        token_kind: TokenKind::Project,
        ..Options::default()
    })
    .await;
    fake.push_logs(
        &deployment,
        vec![line(
            created + chrono::Duration::milliseconds(1),
            "r",
            "INFO hi",
            "info",
        )],
    );
    let mut settings = settings(&fake, "project-token");
    settings.project_id = None;
    settings.environment_id = None;
    let source = RailwaySource::new(settings);
    let (events, _) = drain(&source, None).await;
    assert_eq!(messages(&events), ["hi"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn new_deployments_are_noticed_and_read_from_their_start() {
    let fake = FakeRailway::start(Options::default()).await;
    let service = fake.add_service("worker");
    let first = fake.add_deployment(&service, "SUCCESS");
    tokio::time::sleep(Duration::from_millis(5)).await;
    let source = RailwaySource::new(settings(&fake, "test-token"));
    fake.push_logs(
        &first,
        vec![line(Utc::now(), "r", "INFO old deployment", "info")],
    );
    let (events, cursor) = drain(&source, None).await;
    assert_eq!(messages(&events), ["old deployment"]);
    let second = fake.add_deployment(&service, "SUCCESS");
    tokio::time::sleep(Duration::from_millis(5)).await;
    fake.push_logs(
        &second,
        vec![line(Utc::now(), "r", "INFO new deployment", "info")],
    );
    // A fresh source (discovery is cached for a minute in a running one).
    let source = RailwaySource::new(settings(&fake, "test-token"));
    let (events, _) = drain(&source, cursor).await;
    assert_eq!(messages(&events), ["new deployment"]);
}

/// The whole server: the stream delivers within seconds, survives a disconnect, and the
/// catch-up poll fills the gap without doubling anything.
#[tokio::test(flavor = "multi_thread")]
async fn the_stream_shows_errors_within_seconds_and_survives_disconnects() {
    let (fake, deployment, _) = fake_with_deployment(Options::default()).await;
    let url = fake.url();
    let project = fake.project_id();
    let environment = fake.environment_id();
    let app = spawn_app_with(&[
        ("RAILWAY_API_TOKEN", "test-token"),
        ("RAILWAY_API_URL", &url),
        ("RAILWAY_PROJECT_ID", &project),
        ("RAILWAY_ENVIRONMENT_ID", &environment),
        ("ERROR_MONITOR_INTERVAL", "300"),
    ])
    .await;
    wait_for(|| fake.active_subscriptions() == 1, "the stream subscribes").await;

    let started = std::time::Instant::now();
    fake.push_logs(
        &deployment,
        vec![line(
            Utc::now(),
            "r1",
            "ERROR payment provider timed out after 30s",
            "error",
        )],
    );
    let count = wait_for_groups(&app, 1).await;
    let latency = started.elapsed();
    assert_eq!(count, 1);
    assert!(latency < Duration::from_secs(5), "detected in {latency:?}");

    // Cut the stream; lines written meanwhile arrive by the catch-up poll, once.
    fake.drop_subscriptions();
    fake.push_logs(
        &deployment,
        vec![line(
            Utc::now(),
            "r1",
            "ERROR database connection refused",
            "error",
        )],
    );
    wait_for(|| fake.active_subscriptions() == 1, "the stream reconnects").await;
    fake.push_logs(
        &deployment,
        vec![line(
            Utc::now(),
            "r1",
            "ERROR cache miss storm on key",
            "error",
        )],
    );
    assert_eq!(wait_for_groups(&app, 3).await, 3);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (_, body) = app.get_json("/api/logs/stats").await;
    assert_eq!(body["errors"].as_i64(), Some(3), "{body}");
    let (_, status) = app.get_json("/error-monitor/autonomous/status").await;
    assert_eq!(status["leader"], true);
    assert_eq!(
        status["sources"]["railway"]["detail"]["stream_connected"], true,
        "{status}"
    );
    assert!(status["sources"]["railway"]["detail"]["stream_reconnects"].as_u64() >= Some(1));
}

pub async fn wait_for(mut done: impl FnMut() -> bool, what: &str) {
    for _ in 0..300 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting: {what}");
}

async fn wait_for_groups(app: &crate::helpers::TestApp, n: usize) -> usize {
    for _ in 0..200 {
        let (_, body) = app.get_json("/api/logs/errors").await;
        let count = body["items"].as_array().map_or(0, Vec::len);
        if count >= n {
            return count;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("fewer than {n} groups after 10 s");
}
