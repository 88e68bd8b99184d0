//! Deploy verification against a local app (the fake target), on both backends: checks per
//! new successful deployment, new groups counted per deploy, alerts once per deploy, and the
//! report with the groups whose rate changed.

mod support;

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use signalbox::deploys::spec::parse_list;
use signalbox::deploys::{report, Seen, Verifier};
use signalbox::model::{AlertRuleType, DeployCheckKind, DeployState, Event, Level};
use signalbox::pipeline::Pipeline;
use signalbox::store::Store;
use signalbox_fakes::target::FakeTarget;

fn seen(id: &str, created_at: DateTime<Utc>, status: &str, url: &str) -> Seen {
    Seen {
        id: id.into(),
        service: "web".into(),
        status: status.into(),
        created_at,
        url: Some(url.into()),
        commit_sha: None,
    }
}

fn error(at: DateTime<Utc>, message: &str) -> Event {
    Event {
        timestamp: at,
        level: Level::Error,
        message: message.into(),
        exception: None,
        stack_trace: None,
        service: Some("web".into()),
        deployment: None,
        environment: None,
        attributes: BTreeMap::new(),
        source: "test".into(),
        source_id: None,
    }
}

async fn ingest(store: &Store, events: Vec<Event>) {
    signalbox::monitor::store_events(store, &Pipeline::default(), "test", events, None)
        .await
        .expect("stored");
}

fn fired(alerts: &[signalbox::model::Alert]) -> Vec<(AlertRuleType, String)> {
    alerts
        .iter()
        .map(|a| (a.rule_type, a.service.clone().unwrap_or_default()))
        .collect()
}

async fn a_new_deploy_is_checked_and_its_new_groups_counted(store: Store) {
    let app = FakeTarget::start().await.expect("fake app");
    app.answer(Some("/health"), 200, "ok");
    app.answer(Some("/api/items"), 200, "[]");
    app.answer(Some("/static/app.js"), 200, "console.log(1)");
    app.answer(Some("/static/missing.css"), 404, "not found");
    app.answer(
        Some("/health/detailed"),
        200,
        r#"{"status": "degraded", "checks": {"database": {"status": "down"}}}"#,
    );
    let checks = parse_list(
        r#"[{"service": "*", "endpoints": ["/api/items"], "assets": ["/static/app.js", "/static/missing.css"],
             "detailed_health_path": "/health/detailed"}]"#,
    )
    .expect("valid checks");
    let now = store.now();
    // An error group that existed before any deploy, steady at first.
    ingest(
        &store,
        // Minutes 2 to 11 ago: before the deploy's minute, which counts as after it.
        (2..=11)
            .map(|i| error(now - Duration::minutes(i), "cache miss storm on key 1"))
            .collect(),
    )
    .await;

    let verifier = Verifier::new(store.clone(), checks, 30);
    let old = seen(
        "old0000aaaa",
        now - Duration::hours(2),
        "SUCCESS",
        &app.url(""),
    );
    let building = seen(
        "d1d1d1d1d1d1",
        now - Duration::seconds(30),
        "BUILDING",
        &app.url(""),
    );
    let alerts = verifier
        .step(&[old.clone(), building.clone()])
        .await
        .expect("step");
    assert!(
        alerts.is_empty(),
        "nothing checked before SUCCESS: {alerts:?}"
    );
    assert_eq!(app.hits(), 0);

    let d1 = Seen {
        status: "SUCCESS".into(),
        ..building
    };
    let alerts = verifier
        .step(&[old.clone(), d1.clone()])
        .await
        .expect("step");
    assert_eq!(
        fired(&alerts),
        vec![(AlertRuleType::DeployCheckFailed, "web@d1d1d1d".to_string())]
    );
    assert_eq!(app.hits(), 5);
    let r = report(&store, &d1.id, None, 30)
        .await
        .expect("report")
        .expect("exists");
    let outcome: Vec<(DeployCheckKind, &str, bool)> = r
        .checks
        .iter()
        .map(|c| (c.kind, c.path.as_str(), c.ok))
        .collect();
    assert_eq!(
        outcome,
        vec![
            (DeployCheckKind::Health, "/health", true),
            (DeployCheckKind::Endpoint, "/api/items", true),
            (DeployCheckKind::Asset, "/static/app.js", true),
            (DeployCheckKind::Asset, "/static/missing.css", false),
            (DeployCheckKind::Database, "/health/detailed", false),
        ]
    );
    assert_eq!(
        r.checks[4].error.as_deref(),
        Some("the app reports its database unreachable")
    );
    assert_eq!(
        r.summary,
        "deploy d1d1d1d of web introduced no new group; 3 of 5 checks passed"
    );
    // Checked once: a later step does not check again.
    verifier
        .step(std::slice::from_ref(&d1))
        .await
        .expect("step");
    assert_eq!(app.hits(), 5);
    // The old deploy happened before Signalbox watched: recorded, not checked, not listed.
    let listed: Vec<String> = store
        .deploys(10)
        .await
        .expect("list")
        .into_iter()
        .map(|d| d.id)
        .collect();
    assert_eq!(listed, vec![d1.id.clone()]);

    // After the deploy: two new groups, and the old one three times as often.
    let after = d1.created_at + Duration::seconds(5);
    let mut events = vec![
        error(
            after,
            "TypeError: cannot read properties of undefined (reading 'price')",
        ),
        error(after, "HTTP 500 from /api/checkout"),
        error(after, "HTTP 500 from /api/checkout"),
    ];
    events.extend((0..30).map(|_| error(after, "cache miss storm on key 2")));
    ingest(&store, events).await;
    let alerts = verifier
        .step(std::slice::from_ref(&d1))
        .await
        .expect("step");
    assert_eq!(
        fired(&alerts),
        vec![(AlertRuleType::DeployNewGroups, "web@d1d1d1d".to_string())]
    );
    assert!(
        alerts[0].summary.contains("introduced 2 new error groups"),
        "{}",
        alerts[0].summary
    );
    // Once per deploy.
    assert!(verifier
        .step(std::slice::from_ref(&d1))
        .await
        .expect("step")
        .is_empty());
    let r = report(&store, &d1.id, None, 30)
        .await
        .expect("report")
        .expect("exists");
    assert_eq!(
        r.summary,
        "deploy d1d1d1d of web introduced 2 new groups; 3 of 5 checks passed"
    );
    let changes: Vec<(bool, i64, i64)> = r
        .changes
        .iter()
        .map(|c| (c.new, c.before, c.after))
        .collect();
    assert_eq!(changes, vec![(true, 0, 2), (true, 0, 1), (false, 10, 30)]);

    // A second deploy: what appears after it is its own, not the first one's.
    let d2 = seen(
        "d2d2d2d2d2d2",
        store.now() + Duration::seconds(1),
        "SUCCESS",
        &app.url(""),
    );
    app.answer(Some("/health/detailed"), 200, r#"{"database": "ok"}"#);
    app.answer(Some("/static/missing.css"), 200, "body{}");
    ingest(
        &store,
        vec![error(
            d2.created_at + Duration::seconds(1),
            "panic: index out of range",
        )],
    )
    .await;
    let alerts = verifier
        .step(&[d1.clone(), d2.clone()])
        .await
        .expect("step");
    assert_eq!(
        fired(&alerts),
        vec![(AlertRuleType::DeployNewGroups, "web@d2d2d2d".to_string())],
        "all of d2's checks pass; d1 keeps its two groups"
    );
    let first = store
        .deploy(&d1.id, None)
        .await
        .expect("read")
        .expect("exists");
    assert_eq!(first.new_groups, 2);
    let second = store
        .deploy(&d2.id, None)
        .await
        .expect("read")
        .expect("exists");
    assert_eq!(
        (
            second.new_groups,
            second.checks_passed,
            second.checks_failed
        ),
        (1, 5, 0)
    );
}

async fn a_deploy_without_checks_still_counts_its_groups(store: Store) {
    let verifier = Verifier::new(store.clone(), Vec::new(), 30);
    let d = Seen {
        url: None,
        ..seen(
            "nochecks0001",
            store.now() - Duration::minutes(1),
            "SUCCESS",
            "",
        )
    };
    ingest(&store, vec![error(store.now(), "boom after deploy")]).await;
    let alerts = verifier.step(std::slice::from_ref(&d)).await.expect("step");
    assert_eq!(
        fired(&alerts),
        vec![(AlertRuleType::DeployNewGroups, "web@nocheck".to_string())]
    );
    let r = report(&store, &d.id, None, 30)
        .await
        .expect("report")
        .expect("exists");
    assert!(r.checks.is_empty());
    assert_eq!(
        r.summary,
        "deploy nocheck of web introduced 1 new group; no checks ran"
    );
    assert!(report(&store, "unknown", None, 30)
        .await
        .expect("report")
        .is_none());
}

async fn a_deploy_seen_in_logs_first_is_verified_once_listed(store: Store) {
    let app = FakeTarget::start().await.expect("fake app");
    app.answer(Some("/health"), 200, "ok");
    let checks = parse_list(r#"[{"service": "web"}]"#).expect("valid checks");
    let verifier = Verifier::new(store.clone(), checks, 30);
    let now = store.now();
    // Its lines arrive before discovery lists it: a deploy seen in logs, not verified.
    let mut line = error(now - Duration::seconds(20), "boom in the new build");
    line.deployment = Some("e1e1e1e1e1e1".into());
    ingest(&store, vec![line]).await;
    let listed = store.deploys(10).await.expect("list");
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].state, DeployState::Logged);
    assert_eq!(
        signalbox::deploys::compare::summary(&listed[0]),
        "deploy e1e1e1e of web seen in logs; not verified"
    );
    assert!(verifier.step(&[]).await.expect("step").is_empty());
    assert_eq!(
        app.hits(),
        0,
        "nothing to check a deploy seen in logs against"
    );

    // Listed: the same deploy, now checked, with the group its lines started counted.
    let e1 = seen(
        "e1e1e1e1e1e1",
        now - Duration::minutes(1),
        "SUCCESS",
        &app.url(""),
    );
    let alerts = verifier
        .step(std::slice::from_ref(&e1))
        .await
        .expect("step");
    assert_eq!(
        fired(&alerts),
        vec![(AlertRuleType::DeployNewGroups, "web@e1e1e1e".to_string())]
    );
    assert_eq!(app.hits(), 1);
    let listed = store.deploys(10).await.expect("list");
    assert_eq!(listed.len(), 1, "{listed:?}");
    let d = &listed[0];
    let ms = |t: DateTime<Utc>| t.timestamp_millis();
    assert_eq!(
        (
            d.state,
            d.checks_passed,
            d.new_groups,
            ms(d.created_at),
            d.first_log_at.map(ms)
        ),
        (
            DeployState::Checked,
            1,
            1,
            ms(e1.created_at),
            Some(ms(now - Duration::seconds(20)))
        )
    );
    let r = report(&store, &e1.id, Some("web"), 30)
        .await
        .expect("report")
        .expect("exists");
    assert_eq!(
        r.summary,
        "deploy e1e1e1e of web introduced 1 new group; 1 of 1 checks passed"
    );
    assert!(report(&store, &e1.id, Some("api"), 30)
        .await
        .expect("report")
        .is_none());
}

support::suite::on_both_backends!(
    deploys_on_sqlite,
    deploys_on_postgres,
    "deploys",
    [
        a_new_deploy_is_checked_and_its_new_groups_counted,
        a_deploy_without_checks_still_counts_its_groups,
        a_deploy_seen_in_logs_first_is_verified_once_listed,
    ]
);
