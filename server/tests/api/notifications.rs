//! `/api/notifications` and the notifier inside the server: a failed delivery is visible in
//! the API and in /metrics, without the webhook URL.

use std::time::{Duration, Instant};

use signalbox::model::{Alert, AlertAction, AlertRuleType};
use signalbox::notify;
use signalbox::store::GroupQuery;
use signalbox_fakes::slack::{Failure, FakeSlack};

use crate::helpers::{recent, spawn_app_with};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_slack_message_fails_at_once_and_is_listed() {
    let fake = FakeSlack::start().await.expect("fake starts");
    let url = fake.slack_url();
    let app = spawn_app_with(&[
        ("SLACK_WEBHOOK_URL", url.as_str()),
        ("SIGNALBOX_ADMIN_TOKEN", "adm1n"),
    ])
    .await;
    app.ingest(vec![recent("error", "api", "boom <!channel>")])
        .await;
    let group = app
        .store
        .list_groups(&GroupQuery {
            limit: 1,
            ..Default::default()
        })
        .await
        .expect("list")
        .items
        .remove(0);
    let alert = Alert {
        id: 1,
        rule_id: 1,
        rule_name: "new errors".into(),
        rule_type: AlertRuleType::NewFingerprint,
        action: AlertAction::Notify,
        fingerprint: Some(group.fingerprint.clone()),
        service: Some("api".into()),
        fired_at: chrono::Utc::now(),
        summary: "first seen".into(),
    };
    let channels = notify::Channels {
        slack: true,
        public_url: "http://localhost".into(),
        ..Default::default()
    };
    fake.fail_next(1, Failure::InvalidPayload);
    notify::enqueue(&app.store, &alert, Some(&group), &channels)
        .await
        .expect("enqueued");

    let authed = |path: &str| {
        app.client
            .get(app.url(path))
            .header("Authorization", "Bearer adm1n")
            .send()
    };
    let deadline = Instant::now() + Duration::from_secs(15);
    let listed = loop {
        let response = authed("/api/notifications?status=failed")
            .await
            .expect("sent");
        assert_eq!(response.status().as_u16(), 200);
        let text = response.text().await.expect("body");
        let listed: serde_json::Value = serde_json::from_str(&text).expect("json");
        if listed.as_array().is_some_and(|a| !a.is_empty()) {
            assert!(
                !text.contains("XXXXXXXX"),
                "the Slack URL is never shown: {text}"
            );
            break listed;
        }
        assert!(Instant::now() < deadline, "never failed: {text}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let row = &listed[0];
    assert_eq!(row["channel"], "slack");
    assert_eq!(row["status"], "failed");
    assert_eq!(row["attempts"], 1);
    assert_eq!(row["last_error"], "HTTP 400: invalid_payload");
    assert_eq!(row["alert"]["fingerprint"], group.fingerprint.as_str());
    assert_eq!(fake.requests().len(), 1, "not retried");

    // The admin token guards it (bodies quote logs); bad queries are 400s.
    assert_eq!(app.get("/api/notifications").await.status().as_u16(), 401);
    for bad in ["status=lost", "limit=0", "limit=501"] {
        let response = authed(&format!("/api/notifications?{bad}"))
            .await
            .expect("sent");
        assert_eq!(response.status().as_u16(), 400, "{bad}");
    }
    let (_, all) = {
        let r = authed("/api/notifications?limit=10").await.expect("sent");
        (
            r.status(),
            r.json::<serde_json::Value>().await.expect("json"),
        )
    };
    assert_eq!(all.as_array().map(Vec::len), Some(1));

    let metrics = app.get("/metrics").await.text().await.expect("text");
    for line in [
        r#"signalbox_notifications_failed{channel="slack"} 1"#,
        r#"signalbox_notifications_pending{channel="slack"} 0"#,
        r#"signalbox_notifications_total{channel="slack",outcome="failed"} 1"#,
    ] {
        assert!(metrics.contains(line), "{line} not in\n{metrics}");
    }
}
