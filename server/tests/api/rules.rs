//! `/api/rules` and `/api/alerts` over HTTP.

use serde_json::{json, Value};

use crate::helpers::{recent, spawn_app, spawn_app_with};

async fn send(
    app: &crate::helpers::TestApp,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
    token: Option<&str>,
) -> (u16, Value) {
    let mut request = app.client.request(method, app.url(path));
    if let Some(body) = body {
        request = request.json(&body);
    }
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("request sent");
    let status = response.status().as_u16();
    let body = response.json().await.unwrap_or(Value::Null);
    (status, body)
}

#[tokio::test(flavor = "multi_thread")]
async fn default_rules_are_listed_and_can_be_edited() {
    let app = spawn_app().await;
    let (status, rules) = app.get_json("/api/rules").await;
    assert_eq!(status, 200);
    let names: Vec<&str> = rules
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(|r| r["name"].as_str())
        .collect();
    assert_eq!(
        names,
        [
            "New error",
            "Spike",
            "Sustained",
            "Critical",
            "Regression",
            "Error rate",
            "Probe down",
            "Probe slow",
            "Certificate expiring",
            "DNS failure",
            "Signalbox memory",
            "Signalbox error rate",
            "Source lagging",
            "Deploy checks failed",
            "Deploy introduced errors"
        ]
    );
    assert_eq!(
        rules[1]["condition"],
        json!({"threshold": 10, "window_minutes": 1})
    );
    assert_eq!(rules[1]["cooldown_minutes"], 30);
    let id = rules[1]["id"].as_i64().expect("an id");

    // Raise the spike threshold and switch it off; the rest stays.
    let (status, rule) = send(
        &app,
        reqwest::Method::PATCH,
        &format!("/api/rules/{id}"),
        Some(json!({"condition": {"threshold": 25, "window_minutes": 2}, "enabled": false})),
        None,
    )
    .await;
    assert_eq!(status, 200, "{rule}");
    assert_eq!(rule["condition"]["threshold"], 25);
    assert_eq!(rule["enabled"], false);
    assert_eq!(rule["name"], "Spike");

    // Mistakes say which field.
    for (body, field) in [
        (json!({"condition": {"treshold": 5}}), "treshold"),
        (json!({"condition": {"minutes": 5}}), "condition.minutes"),
        (json!({"cooldown_minutes": -1}), "body"),
        (json!({"condition": {"pattern": "("}}), "condition.pattern"),
    ] {
        let (status, error) = send(
            &app,
            reqwest::Method::PATCH,
            &format!("/api/rules/{id}"),
            Some(body.clone()),
            None,
        )
        .await;
        assert_eq!(status, 400, "{body}");
        assert!(
            error["error"]["message"]
                .as_str()
                .is_some_and(|m| m.contains(field)),
            "{body} → {error}"
        );
    }
    let (status, _) = send(
        &app,
        reqwest::Method::PATCH,
        "/api/rules/9999",
        Some(json!({"enabled": true})),
        None,
    )
    .await;
    assert_eq!(status, 404);

    // Create, read, delete.
    let (status, created) = send(
        &app,
        reqwest::Method::POST,
        "/api/rules",
        Some(json!({"name": "Checkout errors", "rule_type": "spike", "condition": {"threshold": 3, "service": "checkout"}, "action": "notify"})),
        None,
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let new_id = created["id"].as_i64().expect("an id");
    let (status, again) = send(
        &app,
        reqwest::Method::POST,
        "/api/rules",
        Some(json!({"name": "Checkout errors", "rule_type": "spike"})),
        None,
    )
    .await;
    assert_eq!(status, 400);
    assert!(again["error"]["message"]
        .as_str()
        .is_some_and(|m| m.starts_with("name")));
    let (status, missing) = send(
        &app,
        reqwest::Method::POST,
        "/api/rules",
        Some(json!({"name": "x"})),
        None,
    )
    .await;
    assert_eq!(status, 400);
    assert!(missing["error"]["message"]
        .as_str()
        .is_some_and(|m| m.starts_with("rule_type")));
    let (status, _) = send(
        &app,
        reqwest::Method::DELETE,
        &format!("/api/rules/{new_id}"),
        None,
        None,
    )
    .await;
    assert_eq!(status, 204);
    let (status, _) = app.get_json(&format!("/api/rules/{new_id}")).await;
    assert_eq!(status, 404);
}

#[tokio::test(flavor = "multi_thread")]
async fn changing_rules_needs_the_admin_token() {
    let app = spawn_app_with(&[("SIGNALBOX_ADMIN_TOKEN", "t0k")]).await;
    let (status, _) = app.get_json("/api/rules").await;
    assert_eq!(status, 200, "reading is open");
    let body = json!({"enabled": false});
    let (status, _) = send(
        &app,
        reqwest::Method::PATCH,
        "/api/rules/1",
        Some(body.clone()),
        None,
    )
    .await;
    assert_eq!(status, 401);
    let (status, _) = send(
        &app,
        reqwest::Method::PATCH,
        "/api/rules/1",
        Some(body),
        Some("t0k"),
    )
    .await;
    assert_eq!(status, 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_new_error_fires_and_is_listed() {
    let app = spawn_app().await;
    app.ingest(vec![recent(
        "error",
        "checkout",
        "payment provider timed out after 30s",
    )])
    .await;
    let (status, alerts) = app.get_json("/api/alerts").await;
    assert_eq!(status, 200);
    let alerts = alerts.as_array().expect("a list");
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(alerts[0]["rule_name"], "New error");
    assert_eq!(alerts[0]["service"], "checkout");
    let fingerprint = alerts[0]["fingerprint"].as_str().expect("a group");
    let (_, mine) = app
        .get_json(&format!("/api/alerts?fingerprint={fingerprint}"))
        .await;
    assert_eq!(mine.as_array().map(Vec::len), Some(1));
}
