//! Governance tasks and the group lifecycle over HTTP: `/api/tasks`, the group's status and
//! its history.

use serde_json::{json, Value};

use crate::helpers::{recent, spawn_app, spawn_app_with, TestApp};

/// Sends `method path` with a JSON body (and the admin token when given).
async fn send(
    app: &TestApp,
    method: &str,
    path: &str,
    body: Option<Value>,
    token: Option<&str>,
) -> (u16, Value) {
    let mut request = app
        .client
        .request(method.parse().expect("a method"), app.url(path));
    if let Some(body) = body {
        request = request.json(&body);
    }
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("sent");
    let status = response.status().as_u16();
    (status, response.json().await.expect("a JSON body"))
}

/// A group made of one error just now, with the alert rules off (these tests open tasks by
/// hand); its fingerprint.
pub(crate) async fn a_group(app: &TestApp, message: &str) -> String {
    app.rules_off().await;
    app.ingest(vec![recent("error", "api", message)]).await;
    let (_, groups) = app.get_json("/api/logs/errors?q=").await;
    groups["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|g| g["sample_message"] == message)
        .and_then(|g| g["fingerprint"].as_str())
        .expect("the group")
        .to_string()
}

fn message(body: &Value) -> &str {
    body["error"]["message"].as_str().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_gets_one_open_task_and_shows_it() {
    let app = spawn_app_with(&[("SIGNALBOX_PUBLIC_URL", "https://sb.example.com")]).await;
    let fp = a_group(&app, "payment provider timed out").await;

    let (status, first) = send(
        &app,
        "POST",
        "/api/tasks",
        Some(json!({"fingerprint": fp})),
        None,
    )
    .await;
    assert_eq!(status, 201, "{first}");
    let id = first["id"].as_i64().expect("an id");
    assert_eq!(first["status"], "open");
    assert_eq!(first["priority"], "high", "first seen just now");
    assert_eq!(first["task_type"], "investigate_error");
    assert_eq!(first["fingerprint"], fp.as_str());
    assert_eq!(
        first["metadata"]["links"]["group"],
        format!("https://sb.example.com/errors/{fp}")
    );
    assert!(first["description"]
        .as_str()
        .is_some_and(|d| d.contains("```text\npayment provider timed out\n```")));

    // A second press shows the same task.
    let (status, second) = send(
        &app,
        "POST",
        "/api/tasks",
        Some(json!({"fingerprint": fp})),
        None,
    )
    .await;
    assert_eq!((status, second["id"].as_i64()), (200, Some(id)));

    let (status, list) = app.get_json("/api/tasks").await;
    assert_eq!(status, 200);
    assert_eq!(list["items"].as_array().map(Vec::len), Some(1));
    assert!(list["items"][0].get("comments").is_none());
    let (status, one) = app.get_json(&format!("/api/tasks/{id}")).await;
    assert_eq!(status, 200);
    assert_eq!(one["comments"], json!([]));
    // Task → group and group → task.
    let (_, group) = app.get_json(&format!("/api/logs/errors/{fp}")).await;
    assert_eq!(group["task_id"].as_i64(), Some(id));
    assert_eq!(
        group["fingerprint"],
        fp.as_str(),
        "the group's own fields are kept"
    );
    assert_eq!(group["occurrences"], 1);

    let (status, moved) = send(
        &app,
        "PATCH",
        &format!("/api/tasks/{id}"),
        Some(json!({"status": "in_progress"})),
        None,
    )
    .await;
    assert_eq!(
        (status, moved["status"].as_str()),
        (200, Some("in_progress"))
    );
    let (_, filtered) = app.get_json("/api/tasks?status=in_progress").await;
    assert_eq!(filtered["items"].as_array().map(Vec::len), Some(1));
    let (_, filtered) = app.get_json("/api/tasks?status=open").await;
    assert_eq!(filtered["items"].as_array().map(Vec::len), Some(0));
    let (_, by_group) = app.get_json(&format!("/api/tasks?fingerprint={fp}")).await;
    assert_eq!(by_group["items"].as_array().map(Vec::len), Some(1));

    // Done: the group has no open task; the next press opens a new one.
    send(
        &app,
        "PATCH",
        &format!("/api/tasks/{id}"),
        Some(json!({"status": "done"})),
        None,
    )
    .await;
    let (_, group) = app.get_json(&format!("/api/logs/errors/{fp}")).await;
    assert_eq!(group["task_id"], Value::Null);
    let (status, fresh) = send(
        &app,
        "POST",
        "/api/tasks",
        Some(json!({"fingerprint": fp})),
        None,
    )
    .await;
    assert_eq!(status, 201);
    assert_ne!(fresh["id"].as_i64(), Some(id));
    // The done one cannot be reopened beside it.
    let (status, body) = send(
        &app,
        "PATCH",
        &format!("/api/tasks/{id}"),
        Some(json!({"status": "open"})),
        None,
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("conflict"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_task_requests_are_json_errors_naming_the_problem() {
    let app = spawn_app().await;
    let fp = a_group(&app, "boom").await;
    let (_, task) = send(
        &app,
        "POST",
        "/api/tasks",
        Some(json!({"fingerprint": fp})),
        None,
    )
    .await;
    let id = task["id"].as_i64().expect("an id");
    let unknown = "0".repeat(64);
    let cases: Vec<(&str, String, Option<Value>, u16, &str)> = vec![
        (
            "POST",
            "/api/tasks".into(),
            Some(json!({"fingerprint": unknown})),
            404,
            "fingerprint:",
        ),
        (
            "POST",
            "/api/tasks".into(),
            Some(json!({"fingerprint": ""})),
            400,
            "fingerprint:",
        ),
        (
            "POST",
            "/api/tasks".into(),
            Some(json!({"group": fp})),
            400,
            "body:",
        ),
        ("POST", "/api/tasks".into(), None, 400, "body:"),
        (
            "PATCH",
            format!("/api/tasks/{id}"),
            Some(json!({"status": "closed"})),
            400,
            "status:",
        ),
        (
            "PATCH",
            format!("/api/tasks/{id}"),
            Some(json!({"status": 3})),
            400,
            "status:",
        ),
        (
            "PATCH",
            format!("/api/tasks/{id}"),
            Some(json!({})),
            400,
            "status:",
        ),
        (
            "PATCH",
            "/api/tasks/999999".into(),
            Some(json!({"status": "done"})),
            404,
            "no task has id 999999",
        ),
        (
            "GET",
            "/api/tasks/999999".into(),
            None,
            404,
            "no task has id 999999",
        ),
        ("GET", "/api/tasks/abc".into(), None, 400, ""),
        (
            "GET",
            "/api/tasks?status=closed".into(),
            None,
            400,
            "status:",
        ),
        ("GET", "/api/tasks?limit=0".into(), None, 400, "limit:"),
        ("GET", "/api/tasks?cursor=x".into(), None, 400, "cursor:"),
    ];
    for (method, path, body, expected, prefix) in cases {
        let (status, reply) = send(&app, method, &path, body.clone(), None).await;
        assert_eq!(status, expected, "{method} {path} {body:?}: {reply}");
        assert!(reply["error"]["code"].is_string(), "{reply}");
        assert!(
            message(&reply).starts_with(prefix),
            "{method} {path}: {reply}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tasks_and_status_changes_need_the_admin_token_when_set() {
    let app = spawn_app_with(&[("SIGNALBOX_ADMIN_TOKEN", "s3cret")]).await;
    let fp = a_group(&app, "boom").await;
    let body = json!({"fingerprint": fp});
    for token in [None, Some("wrong")] {
        let (status, reply) = send(&app, "POST", "/api/tasks", Some(body.clone()), token).await;
        assert_eq!(
            (status, reply["error"]["code"].as_str()),
            (401, Some("unauthorized"))
        );
        let (status, _) = send(
            &app,
            "POST",
            &format!("/api/logs/errors/{fp}/status"),
            Some(json!({"status": "resolved"})),
            token,
        )
        .await;
        assert_eq!(status, 401);
    }
    let (status, task) = send(&app, "POST", "/api/tasks", Some(body), Some("s3cret")).await;
    assert_eq!(status, 201);
    let id = task["id"].as_i64().expect("an id");
    let (status, _) = send(
        &app,
        "PATCH",
        &format!("/api/tasks/{id}"),
        Some(json!({"status": "done"})),
        None,
    )
    .await;
    assert_eq!(status, 401);
    let (status, _) = send(
        &app,
        "PATCH",
        &format!("/api/tasks/{id}"),
        Some(json!({"status": "done"})),
        Some("s3cret"),
    )
    .await;
    assert_eq!(status, 200);
    // Reading needs no token.
    assert_eq!(app.get_json("/api/tasks").await.0, 200);
    assert_eq!(app.get_json(&format!("/api/tasks/{id}")).await.0, 200);

    let (status, group) = send(
        &app,
        "POST",
        &format!("/api/logs/errors/{fp}/status"),
        Some(json!({"status": "resolved", "reason": "fixed in 1.2.3"})),
        Some("s3cret"),
    )
    .await;
    assert_eq!((status, group["status"].as_str()), (200, Some("resolved")));
    let (status, history) = app
        .get_json(&format!("/api/logs/errors/{fp}/history"))
        .await;
    assert_eq!(status, 200);
    let change = &history["items"][0];
    assert_eq!(
        (
            &change["from"],
            &change["to"],
            &change["actor"],
            &change["reason"]
        ),
        (
            &json!("unresolved"),
            &json!("resolved"),
            &json!("admin"),
            &json!("fixed in 1.2.3")
        )
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_changes_mute_and_are_listed_in_the_history() {
    let app = spawn_app().await;
    let fp = a_group(&app, "cache miss storm").await;
    let status_path = format!("/api/logs/errors/{fp}/status");

    let (status, group) = send(
        &app,
        "POST",
        &status_path,
        Some(json!({"status": "resolved"})),
        None,
    )
    .await;
    assert_eq!((status, group["status"].as_str()), (200, Some("resolved")));
    let until = (chrono::Utc::now() + chrono::Duration::hours(2)).to_rfc3339();
    let (status, group) = send(
        &app,
        "POST",
        &status_path,
        Some(json!({"status": "ignored", "until": until, "count": 100})),
        None,
    )
    .await;
    assert_eq!(
        (status, group["status"].as_str()),
        (200, Some("ignored")),
        "{group}"
    );
    assert_eq!(group["muted_until_count"], 101);
    assert!(group["muted_until"].is_string());
    let (_, group) = app.get_json(&format!("/api/logs/errors/{fp}")).await;
    assert_eq!(group["muted_until_count"], 101);

    let (status, history) = app
        .get_json(&format!("/api/logs/errors/{fp}/history?limit=1"))
        .await;
    assert_eq!(status, 200);
    assert_eq!(history["items"][0]["to"], "ignored");
    assert_eq!(
        history["items"][0]["actor"], "anonymous",
        "no admin token configured"
    );
    let cursor = history["next_cursor"].as_str().expect("a second page");
    let (_, rest) = app
        .get_json(&format!(
            "/api/logs/errors/{fp}/history?limit=1&cursor={cursor}"
        ))
        .await;
    assert_eq!(rest["items"][0]["to"], "resolved");
    assert_eq!(rest["next_cursor"], Value::Null);

    let past = (chrono::Utc::now() - chrono::Duration::hours(1)).to_rfc3339();
    let unknown = "0".repeat(64);
    let cases: Vec<(String, Value, u16, &str)> = vec![
        (
            status_path.clone(),
            json!({"status": "regressed"}),
            400,
            "status:",
        ),
        (
            status_path.clone(),
            json!({"status": "gone"}),
            400,
            "status:",
        ),
        (status_path.clone(), json!({}), 400, "status:"),
        (
            status_path.clone(),
            json!({"status": "ignored", "until": past}),
            400,
            "until:",
        ),
        (
            status_path.clone(),
            json!({"status": "ignored", "until": "tomorrow"}),
            400,
            "until:",
        ),
        (
            status_path.clone(),
            json!({"status": "resolved", "count": 5}),
            400,
            "count:",
        ),
        (
            status_path.clone(),
            json!({"status": "ignored", "count": 0}),
            400,
            "count:",
        ),
        (
            status_path.clone(),
            json!({"status": "ignored", "reason": "x".repeat(501)}),
            400,
            "reason:",
        ),
        (
            status_path.clone(),
            json!({"status": "ignored", "for": "ever"}),
            400,
            "for:",
        ),
        (status_path.clone(), json!(["resolved"]), 400, "body:"),
        (
            format!("/api/logs/errors/{unknown}/status"),
            json!({"status": "resolved"}),
            404,
            "no error group",
        ),
    ];
    for (path, body, expected, prefix) in cases {
        let (status, reply) = send(&app, "POST", &path, Some(body.clone()), None).await;
        assert_eq!(status, expected, "{body}: {reply}");
        assert!(message(&reply).starts_with(prefix), "{body}: {reply}");
    }
    let (status, reply) = app
        .get_json(&format!("/api/logs/errors/{unknown}/history"))
        .await;
    assert_eq!(
        (status, reply["error"]["code"].as_str()),
        (404, Some("not_found"))
    );
    // Nothing above changed the group.
    let (_, history) = app
        .get_json(&format!("/api/logs/errors/{fp}/history"))
        .await;
    assert_eq!(history["items"].as_array().map(Vec::len), Some(2));
}
