//! Probes against local servers (a fake application over HTTP and over HTTPS with a
//! short-lived self-signed certificate, one that is down, one that is slow, a host name that
//! does not resolve), stored and judged on both backends.

mod support;

use std::time::Duration;

use signalbox::model::{AlertRuleType, ProbeFailure, ProbeSpec, ProbeTarget};
use signalbox::notify::Channels;
use signalbox::probes::run_once;
use signalbox::store::{Store, StoreError};
use signalbox_fakes::target::FakeTarget;

fn spec(name: &str, url: &str) -> ProbeSpec {
    ProbeSpec {
        name: name.into(),
        url: url.into(),
        interval_seconds: 60,
        timeout_ms: 2_000,
        expected_status: 200,
        body_contains: None,
        tls_verify: true,
        enabled: true,
    }
}

async fn create(store: &Store, spec: ProbeSpec) -> ProbeTarget {
    store.create_probe_target(&spec).await.expect("created")
}

/// Runs `target` and returns the rule types of the alerts the run fired.
async fn run(
    store: &Store,
    target: &ProbeTarget,
) -> (signalbox::model::ProbeResult, Vec<AlertRuleType>) {
    let (result, alerts) = run_once(store, target).await.expect("run stored");
    (result, alerts.iter().map(|a| a.rule_type).collect())
}

/// Sets a default rule's condition (and reloads the rules).
async fn tune(store: &Store, rule_type: AlertRuleType, condition: serde_json::Value) {
    let rules = store.alert_rules().await.expect("rules");
    let rule = rules
        .into_iter()
        .find(|r| r.rule_type == rule_type)
        .expect("a default rule of that type");
    let changed = signalbox::model::AlertRule {
        condition: serde_json::from_value(condition).expect("a condition"),
        ..rule.clone()
    };
    store
        .update_alert_rule(rule.id, &changed)
        .await
        .expect("store")
        .expect("exists")
        .expect("valid");
    store.reload_rules();
}

// ---- the cases ---------------------------------------------------------------------------

async fn targets_are_created_changed_seeded_and_deleted(store: Store) {
    let api = create(&store, spec("api", "http://127.0.0.1:9/health")).await;
    assert_eq!(api.name, "api");
    assert!(api.tls_verify && api.enabled);
    match store
        .create_probe_target(&spec("api", "http://other/"))
        .await
    {
        Err(StoreError::Conflict(message)) => assert!(message.starts_with("name:"), "{message}"),
        other => panic!("a second 'api' was accepted: {other:?}"),
    }
    // Seeding adds only the names not stored yet: a probe changed through the API keeps its
    // changes across restarts.
    let changed = store
        .update_probe_target(
            api.id,
            &ProbeSpec {
                interval_seconds: 30,
                body_contains: Some("ok".into()),
                ..api.spec()
            },
        )
        .await
        .expect("store")
        .expect("exists");
    assert_eq!(
        (changed.interval_seconds, changed.body_contains.as_deref()),
        (30, Some("ok"))
    );
    let added = store
        .seed_probe_targets(&[
            spec("api", "http://seeded/"),
            spec("web", "https://web.example/"),
        ])
        .await
        .expect("seeded");
    assert_eq!(added, 1);
    let names: Vec<_> = store
        .probe_targets()
        .await
        .expect("list")
        .into_iter()
        .map(|t| (t.name, t.url))
        .collect();
    assert_eq!(
        names,
        vec![
            ("api".to_string(), "http://127.0.0.1:9/health".to_string()),
            ("web".to_string(), "https://web.example/".to_string())
        ]
    );
    assert!(matches!(
        store
            .update_probe_target(api.id, &spec("web", "http://x/"))
            .await,
        Err(StoreError::Conflict(_))
    ));
    assert!(store
        .update_probe_target(9_999, &spec("x", "http://x/"))
        .await
        .expect("store")
        .is_none());
    assert!(store.delete_probe_target(api.id).await.expect("deleted"));
    assert!(!store.delete_probe_target(api.id).await.expect("store"));
    assert_eq!(store.probe_targets().await.expect("list").len(), 1);
}

async fn an_app_that_goes_down_alerts_once_and_recovers(store: Store) {
    let store = store.with_notify_channels(Channels {
        slack: true,
        webhook: false,
        auto_fix: false,
        public_url: "http://signalbox.test".into(),
    });
    let mut app = FakeTarget::start().await.expect("fake app");
    app.answer(Some("/health"), 200, "{\"status\":\"ok\",\"db\":\"up\"}");
    let target = create(
        &store,
        ProbeSpec {
            body_contains: Some("\"status\":\"ok\"".into()),
            ..spec("shop", &app.url("/health"))
        },
    )
    .await;

    let (up, fired) = run(&store, &target).await;
    assert!(up.ok, "{up:?}");
    assert_eq!((up.status, up.failure), (Some(200), None));
    assert!(up.latency_ms.is_some_and(|ms| ms > 0.0));
    assert_eq!(up.dns_ms, None, "an IP address is not resolved");
    assert!(fired.is_empty());

    // The body no longer matches, then the app answers 503, then it is gone: three failures
    // in a row → one "down" alert; the fourth is the same incident.
    app.answer(Some("/health"), 200, "{\"status\":\"degraded\"}");
    let (r, fired) = run(&store, &target).await;
    assert_eq!((r.ok, r.failure), (false, Some(ProbeFailure::Body)));
    assert!(fired.is_empty());
    app.answer(Some("/health"), 503, "unavailable");
    let (r, fired) = run(&store, &target).await;
    assert_eq!(
        (r.failure, r.status),
        (Some(ProbeFailure::Status), Some(503))
    );
    assert_eq!(r.error.as_deref(), Some("HTTP 503 (expected 200)"));
    assert!(fired.is_empty());
    app.stop();
    let (r, fired) = run(&store, &target).await;
    assert_eq!(r.failure, Some(ProbeFailure::Connect), "{r:?}");
    assert_eq!(fired, vec![AlertRuleType::ProbeDown]);
    let (_, fired) = run(&store, &target).await;
    assert!(fired.is_empty(), "one alert per incident");

    let alerts = store.alerts(None, 10).await.expect("alerts");
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].service.as_deref(), Some("shop"));
    assert!(
        alerts[0]
            .summary
            .starts_with("shop: down, 3 failed checks in a row"),
        "{}",
        alerts[0].summary
    );
    // Queued for Slack in the same transaction, once.
    let queued = store.notifications(None, 10).await.expect("outbox");
    assert_eq!(queued.len(), 1, "{queued:?}");
    assert_eq!(queued[0].alert.rule_type, AlertRuleType::ProbeDown);

    app.restart().await.expect("restarted");
    app.answer(Some("/health"), 200, "{\"status\":\"ok\"}");
    let (r, fired) = run(&store, &target).await;
    assert!(r.ok, "{r:?}");
    assert!(fired.is_empty());

    let status = store
        .probe_statuses(store.now())
        .await
        .expect("statuses")
        .into_iter()
        .find(|s| s.target.id == target.id)
        .expect("listed");
    assert_eq!(status.consecutive_failures, 0);
    assert_eq!(status.windows[0].runs, 6);
    assert_eq!(status.windows[0].ok, 2);
    assert!(status.windows[0].p95_ms.is_some());

    // Runs expire with the raw logs.
    let removed = store
        .prune(store.now() + chrono::Duration::seconds(1), || false)
        .await
        .expect("pruned");
    assert!(removed >= 6);
    assert!(store
        .probe_results(target.id, store.now() - chrono::Duration::days(1), 0)
        .await
        .expect("read")
        .is_empty());
}

async fn a_short_lived_certificate_is_read_and_alerts(store: Store) {
    let app = FakeTarget::start_tls(chrono::Duration::days(5))
        .await
        .expect("fake https app");
    let not_after = app.certificate().expect("a certificate").not_after;
    // Self-signed: a probe that checks the chain fails the handshake, and still says when
    // the certificate expires.
    let strict = create(&store, spec("strict", &app.url("/"))).await;
    let (r, fired) = run(&store, &strict).await;
    assert_eq!(r.failure, Some(ProbeFailure::Tls), "{r:?}");
    assert_eq!(r.cert_not_after, Some(not_after));
    assert!(r.dns_ms.is_some(), "localhost is resolved");
    assert!(
        r.dns_addresses
            .as_deref()
            .is_some_and(|a| a.contains("127.0.0.1")),
        "{r:?}"
    );
    assert_eq!(fired, vec![AlertRuleType::CertExpiring]);

    let lenient = create(
        &store,
        ProbeSpec {
            tls_verify: false,
            ..spec("lenient", &app.url("/"))
        },
    )
    .await;
    let (r, fired) = run(&store, &lenient).await;
    assert!(r.ok, "{r:?}");
    assert_eq!(r.cert_not_after, Some(not_after));
    assert_eq!(fired, vec![AlertRuleType::CertExpiring]);
    let alert = store
        .alerts(None, 1)
        .await
        .expect("alerts")
        .pop()
        .expect("an alert");
    assert!(
        alert
            .summary
            .starts_with("lenient: TLS certificate expires in 5.0 days (threshold 14)"),
        "{}",
        alert.summary
    );
    // Still expiring at the next run: the same incident.
    let (_, fired) = run(&store, &lenient).await;
    assert!(fired.is_empty());

    // A certificate with two months left is fine.
    let fine = FakeTarget::start_tls(chrono::Duration::days(60))
        .await
        .expect("fake https app");
    let target = create(
        &store,
        ProbeSpec {
            tls_verify: false,
            ..spec("fine", &fine.url("/"))
        },
    )
    .await;
    let (r, fired) = run(&store, &target).await;
    assert!(r.ok);
    assert!(fired.is_empty());
    let status = store.probe_statuses(store.now()).await.expect("statuses");
    let days = status
        .iter()
        .find(|s| s.target.name == "fine")
        .and_then(|s| s.cert_days_left)
        .expect("days left");
    assert!((59.9..=60.0).contains(&days), "{days}");
}

async fn a_slow_app_times_out_or_alerts_slow(store: Store) {
    let app = FakeTarget::start().await.expect("fake app");
    app.delay(Duration::from_millis(400));
    let timing_out = create(
        &store,
        ProbeSpec {
            timeout_ms: 150,
            ..spec("hangs", &app.url("/"))
        },
    )
    .await;
    let (r, _) = run(&store, &timing_out).await;
    assert_eq!(r.failure, Some(ProbeFailure::Timeout), "{r:?}");
    assert_eq!(r.latency_ms, None);

    // p95 over the window above 200 ms, after enough runs to judge: slow.
    tune(
        &store,
        AlertRuleType::ProbeSlow,
        serde_json::json!({"threshold": 200, "window_minutes": 5}),
    )
    .await;
    let slow = create(&store, spec("slow", &app.url("/"))).await;
    let mut fired_at = Vec::new();
    for i in 0..4 {
        let (r, fired) = run(&store, &slow).await;
        assert!(r.ok, "{r:?}");
        assert!(r.latency_ms.is_some_and(|ms| ms >= 400.0), "{r:?}");
        if fired.contains(&AlertRuleType::ProbeSlow) {
            fired_at.push(i);
        }
    }
    assert_eq!(fired_at, vec![2], "fires at the third run, once");
}

async fn a_name_that_does_not_resolve_is_a_dns_failure(store: Store) {
    let target = create(
        &store,
        spec("ghost", "http://signalbox-probe-test.invalid/health"),
    )
    .await;
    let (r, fired) = run(&store, &target).await;
    assert_eq!(r.failure, Some(ProbeFailure::Dns), "{r:?}");
    assert!(r.dns_ms.is_some());
    assert_eq!(r.status, None);
    assert_eq!(fired, vec![AlertRuleType::DnsFailure]);
}

/// The clock jumps back an hour, then forward two days: an incident is not alerted twice by
/// a clock that went back, a new one is alerted once the cooldown has passed on the new clock,
/// and events retried across the jump are stored once.
async fn a_clock_jump_neither_doubles_nor_loses(store: Store) {
    use std::sync::atomic::{AtomicI64, Ordering};
    use std::sync::Arc;
    let start = chrono::Utc::now();
    let ms = Arc::new(AtomicI64::new(start.timestamp_millis()));
    let read = ms.clone();
    let store = store.with_clock(Arc::new(move || {
        chrono::DateTime::from_timestamp_millis(read.load(Ordering::SeqCst)).unwrap_or_default()
    }));
    let jump =
        |to: chrono::DateTime<chrono::Utc>| ms.store(to.timestamp_millis(), Ordering::SeqCst);

    let mut app = FakeTarget::start().await.expect("fake app");
    let target = create(&store, spec("jumpy", &app.url("/"))).await;
    app.stop();
    let mut down_alerts = 0;
    for _ in 0..3 {
        down_alerts += run(&store, &target).await.1.len();
    }
    assert_eq!(down_alerts, 1);
    app.restart().await.expect("restarted");
    assert!(run(&store, &target).await.0.ok);

    // Back an hour: down again, but the rule fired "later" than now: quiet, no panic.
    jump(start - chrono::Duration::hours(1));
    app.stop();
    for _ in 0..3 {
        assert!(run(&store, &target).await.1.is_empty());
    }
    // Forward two days: the incident is still open and the cooldown long over: one alert.
    jump(start + chrono::Duration::days(2));
    let mut later = Vec::new();
    for _ in 0..3 {
        later.extend(run(&store, &target).await.1);
    }
    assert_eq!(later.len(), 1, "{later:?}");
    assert_eq!(store.alerts(None, 10).await.expect("alerts").len(), 2);

    // Events with ids, written before and again after a jump back: stored once.
    let event = |i: usize| signalbox::model::Event {
        timestamp: start,
        level: signalbox::model::Level::Error,
        message: format!("job {i} failed"),
        exception: None,
        stack_trace: None,
        service: Some("worker".into()),
        deployment: None,
        environment: None,
        attributes: Default::default(),
        source: "push".into(),
        source_id: Some(format!("job-{i}")),
    };
    let pipeline = signalbox::pipeline::Pipeline::default();
    let batch = || {
        (0..5)
            .map(event)
            .map(|e| pipeline.process(e))
            .collect::<Vec<_>>()
    };
    let first = store.write_batch(&batch(), None).await.expect("write");
    jump(start - chrono::Duration::hours(3));
    let again = store.write_batch(&batch(), None).await.expect("write");
    assert_eq!(
        (first.accepted, again.accepted, again.duplicates),
        (5, 0, 5)
    );
}

/// Signalbox's own readings (memory against its limit, its 5xx rate, a source's lag) alert
/// through the same rules and outbox, once per incident.
async fn self_monitoring_alerts_through_the_same_rules(store: Store) {
    use signalbox::rules::Counts;
    use signalbox::self_monitor::SelfFacts;
    let store = store.with_notify_channels(Channels {
        slack: false,
        webhook: true,
        auto_fix: false,
        public_url: "http://signalbox.test".into(),
    });
    let now = store.now();
    let minute = now.timestamp().div_euclid(60);
    let facts = |memory: f64, failed: u32, lag: f64| SelfFacts {
        at: now,
        memory_percent: Some(memory),
        requests: [(
            minute,
            Counts {
                errors: failed,
                lines: 200,
            },
        )]
        .into_iter()
        .collect(),
        lags: vec![("railway".into(), lag)],
    };
    let judge = |f: SelfFacts| {
        let store = store.clone();
        async move {
            let mut fired: Vec<(AlertRuleType, String)> = store
                .judge_readings(&f.readings(), f.at)
                .await
                .expect("judged")
                .into_iter()
                .map(|a| (a.rule_type, a.service.unwrap_or_default()))
                .collect();
            fired.sort();
            fired
        }
    };
    assert!(
        judge(facts(50.0, 1, 30.0)).await.is_empty(),
        "all within limits"
    );
    assert_eq!(
        judge(facts(91.0, 5, 2_000.0)).await,
        vec![
            (AlertRuleType::SelfMemory, "signalbox".to_string()),
            (AlertRuleType::SelfErrorRate, "signalbox".to_string()),
            (AlertRuleType::CrawlerLag, "railway".to_string()),
        ]
    );
    assert!(
        judge(facts(92.0, 6, 2_100.0)).await.is_empty(),
        "the same incidents"
    );
    let queued = store.notifications(None, 10).await.expect("outbox");
    assert_eq!(queued.len(), 3);
    let alert = store.alerts(None, 10).await.expect("alerts");
    assert!(alert
        .iter()
        .any(|a| a.summary == "signalbox: memory at 91.0% of its limit (threshold 80%)"));
}

support::suite::on_both_backends!(
    probes_on_sqlite,
    probes_on_postgres,
    "probes",
    [
        targets_are_created_changed_seeded_and_deleted,
        an_app_that_goes_down_alerts_once_and_recovers,
        a_short_lived_certificate_is_read_and_alerts,
        a_slow_app_times_out_or_alerts_slow,
        a_name_that_does_not_resolve_is_a_dns_failure,
        a_clock_jump_neither_doubles_nor_loses,
        self_monitoring_alerts_through_the_same_rules,
    ]
);
