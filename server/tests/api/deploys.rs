//! Deploy verification end to end: the Railway source discovers a new successful deployment
//! served by a local app, the verifier checks it, the API reports it.

use std::time::Duration;

use serde_json::json;
use signalbox_fakes::railway::{FakeRailway, Options};
use signalbox_fakes::target::FakeTarget;

use crate::helpers::spawn_app_with;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_railway_deployment_is_checked_and_reported() {
    let web = FakeTarget::start().await.expect("fake app");
    web.answer(Some("/health"), 200, "ok");
    web.answer(Some("/health/detailed"), 200, r#"{"db": "unreachable"}"#);
    let fake = FakeRailway::start(Options::default()).await;
    let service = fake.add_service("web");
    let deployment = fake.add_deployment(&service, "SUCCESS");
    fake.set_deployment_url(&deployment, &web.url(""));
    let sha = "5280bcd8a2595ff5737a8b501cd2f5404fae1180";
    fake.set_deployment_commit(&deployment, sha);
    let checks = json!([{"service": "web", "detailed_health_path": "/health/detailed"}]);
    let app = spawn_app_with(&[
        ("RAILWAY_API_TOKEN", &fake.token()),
        ("RAILWAY_API_URL", &fake.url()),
        ("RAILWAY_PROJECT_ID", &fake.project_id()),
        ("RAILWAY_ENVIRONMENT_ID", &fake.environment_id()),
        ("RAILWAY_STREAM", "false"),
        ("ERROR_MONITOR_INTERVAL", "300"),
        ("DEPLOY_CHECKS", &checks.to_string()),
    ])
    .await;

    let mut listed = json!([]);
    for _ in 0..100 {
        let (status, body) = app.get_json("/api/deploys").await;
        assert_eq!(status, 200);
        listed = body;
        if listed[0]["verified_at"].is_string() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(listed[0]["id"], deployment.as_str(), "{listed}");
    assert_eq!(listed[0]["service"], "web");
    assert_eq!(
        (
            listed[0]["checks_passed"].as_u64(),
            listed[0]["checks_failed"].as_u64()
        ),
        (Some(1), Some(1))
    );

    let (status, report) = app.get_json(&format!("/api/deploys/{deployment}")).await;
    assert_eq!(status, 200);
    let short: String = deployment.chars().take(7).collect();
    assert_eq!(
        report["summary"],
        format!("deploy {short} of web introduced no new group; 1 of 2 checks passed")
    );
    assert_eq!(report["checks"][1]["kind"], "database");
    assert_eq!(report["checks"][1]["ok"], false);
    let (_, alerts) = app.get_json("/api/alerts").await;
    assert_eq!(alerts[0]["rule_type"], "deploy_check_failed", "{alerts}");
    assert_eq!(alerts[0]["service"], format!("web@{short}"));

    // System Health lists it.
    let home = app.get("/").await.text().await.expect("html");
    assert!(home.contains(r#"data-testid="deploys""#), "{home}");
    assert!(home.contains(&format!("deploy {short} of web introduced no new group")));

    // Its logs name it: the same deploy, which the chart marks with its commit and checks.
    let mut line = crate::helpers::recent("info", "web", "listening on :8080");
    line.deployment = Some(deployment.clone());
    app.ingest(vec![line]).await;
    let (_, listed) = app.get_json("/api/deploys").await;
    assert_eq!(listed.as_array().map(Vec::len), Some(1), "{listed}");
    assert_eq!(listed[0]["state"], "checked");
    assert_eq!(listed[0]["commit_sha"], sha);
    assert!(listed[0]["first_log_at"].is_string(), "{listed}");
    let home = app.get("/").await.text().await.expect("html");
    assert!(
        home.contains(&format!("web {short} (5280bcd) 1/2 checks, no new group")),
        "the chart's marker in {home}"
    );
    let (status, report) = app
        .get_json(&format!("/api/deploys/{deployment}?service=web"))
        .await;
    assert_eq!((status, &report["deploy"]["service"]), (200, &json!("web")));
    let (status, body) = app
        .get_json(&format!("/api/deploys/{deployment}?service=api"))
        .await;
    assert_eq!(status, 404);
    assert_eq!(
        body["error"]["message"],
        format!("no deployment {deployment} of api")
    );

    let (status, _) = app.get_json("/api/deploys/nope").await;
    assert_eq!(status, 404);
    let (status, _) = app.get_json("/api/deploys?limit=0").await;
    assert_eq!(status, 400);
}
