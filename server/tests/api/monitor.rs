//! The seed's `/error-monitor/*` endpoints.

use crate::helpers::{recent, spawn_app, spawn_app_with};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_and_lists_reflect_the_groups() {
    let app = spawn_app().await;
    app.ingest(vec![
        recent(
            "critical",
            "worker",
            "panic: runtime error: invalid memory address or nil pointer dereference",
        ),
        recent(
            "error",
            "checkout",
            "psycopg2.OperationalError: could not connect to server: Connection refused",
        ),
        recent(
            "error",
            "web",
            "ValidationError: email must be a valid address",
        ),
        recent("info", "web", "GET / 200"),
    ])
    .await;
    let (status, dashboard) = app.get_json("/error-monitor/dashboard").await;
    assert_eq!(status, 200);
    let summary = &dashboard["summary"];
    assert_eq!(summary["total_patterns"], 3, "{dashboard}");
    assert_eq!(summary["critical_errors"], 1, "{dashboard}");
    assert_eq!(
        summary["patterns_by_category"]["database"], 1,
        "{dashboard}"
    );
    assert_eq!(
        summary["patterns_by_category"]["rate_limit"], 0,
        "every category is listed"
    );
    assert_eq!(summary["generated_fixes"], 0);

    let (_, critical) = app.get_json("/error-monitor/errors/critical?hours=1").await;
    assert_eq!(critical.as_array().map(Vec::len), Some(1));
    let (_, fixable) = app.get_json("/error-monitor/errors/fixable").await;
    let fixable: Vec<&str> = fixable
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|g| g["category"].as_str())
        .collect();
    assert!(
        fixable.contains(&"database") && !fixable.contains(&"validation"),
        "{fixable:?}"
    );
    let (_, recent_groups) = app.get_json("/error-monitor/errors/recent?hours=2").await;
    assert_eq!(recent_groups.as_array().map(Vec::len), Some(3));
    let (_, patterns) = app.get_json("/error-monitor/errors/patterns").await;
    assert_eq!(patterns.as_array().map(Vec::len), Some(3));
    let (_, health) = app.get_json("/error-monitor/health").await;
    assert_eq!(
        (
            health["status"].as_str(),
            health["error_patterns_tracked"].as_i64()
        ),
        (Some("healthy"), Some(3))
    );
    for bad in [
        "/error-monitor/errors/recent?hours=0",
        "/error-monitor/errors/critical?hours=9999",
        "/error-monitor/errors/fixable?hours=x",
    ] {
        assert_eq!(app.get(bad).await.status().as_u16(), 400, "{bad}");
    }
    // The category filter is on the main list too.
    let (_, database) = app
        .get_json("/api/logs/errors?category=database&severity=HIGH&fixable=true")
        .await;
    assert_eq!(
        database["items"].as_array().map(Vec::len),
        Some(1),
        "{database}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_monitor_starts_and_stops() {
    let app = spawn_app_with(&[("SIGNALBOX_ADMIN_TOKEN", "tok"), ("SIGNALBOX_DEMO", "true")]).await;
    let (_, status) = app.get_json("/error-monitor/autonomous/status").await;
    assert_eq!(
        (status["enabled"].as_bool(), status["running"].as_bool()),
        (Some(true), Some(true))
    );
    assert_eq!(status["scan_interval"], 300);
    assert!(status["sources"]["demo"].is_object());

    let post = |path: &str, token: Option<&str>| {
        let mut builder = app.client.post(app.url(path));
        if let Some(token) = token {
            builder = builder.bearer_auth(token);
        }
        builder.send()
    };
    assert_eq!(
        post("/error-monitor/monitor/stop", None)
            .await
            .expect("sent")
            .status()
            .as_u16(),
        401
    );
    let stopped: serde_json::Value = post("/error-monitor/monitor/stop", Some("tok"))
        .await
        .expect("sent")
        .json()
        .await
        .expect("json");
    assert_eq!(stopped["running"], false);
    let (_, status) = app.get_json("/error-monitor/autonomous/status").await;
    assert_eq!(status["running"], false);
    assert_eq!(
        post("/error-monitor/monitor/start?interval=5", Some("tok"))
            .await
            .expect("sent")
            .status()
            .as_u16(),
        400
    );
    let started: serde_json::Value = post("/error-monitor/monitor/start?interval=60", Some("tok"))
        .await
        .expect("sent")
        .json()
        .await
        .expect("json");
    assert_eq!(
        (
            started["running"].as_bool(),
            started["scan_interval"].as_u64()
        ),
        (Some(true), Some(60))
    );
    let scan = post("/error-monitor/monitor/scan?hours=1", Some("tok"))
        .await
        .expect("sent");
    assert_eq!(scan.status().as_u16(), 202);
    let scan: serde_json::Value = scan.json().await.expect("json");
    assert_eq!(scan["sources"], serde_json::json!(["demo"]));
}
