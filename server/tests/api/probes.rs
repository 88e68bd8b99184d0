//! `/api/probes` over HTTP: create, validate, change, run, read, delete; seeding from
//! `SIGNALBOX_PROBES`; the probes' metrics.

use serde_json::json;
use signalbox_fakes::target::FakeTarget;

use crate::helpers::{spawn_app_with, TestApp};

/// A fake app answering `/health` with 200, and Signalbox with the admin token `t0ken`
/// (the monitor off: probes run only on demand).
async fn healthy_target_and_app() -> (FakeTarget, TestApp) {
    let fake = FakeTarget::start().await.expect("fake app");
    fake.answer(Some("/health"), 200, "ok");
    let app = spawn_app_with(&[
        ("ERROR_MONITORING_ENABLED", "false"),
        ("SIGNALBOX_ADMIN_TOKEN", "t0ken"),
    ])
    .await;
    (fake, app)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probes_are_managed_through_the_api() {
    let (fake, app) = healthy_target_and_app().await;
    let post = |body: serde_json::Value, token: Option<&str>| {
        let mut request = app.client.post(app.url("/api/probes")).json(&body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send()
    };
    // The admin token is needed.
    let response = post(json!({"name": "api", "url": fake.url("/health")}), None)
        .await
        .expect("sent");
    assert_eq!(response.status().as_u16(), 401);
    // Mistakes name their field.
    for (body, field) in [
        (json!({"url": fake.url("/")}), "name: required"),
        (json!({"name": "api", "url": "ftp://x"}), "url:"),
        (
            json!({"name": "api", "url": fake.url("/"), "timeout_ms": 5}),
            "timeout_ms:",
        ),
        (
            json!({"name": "api", "url": fake.url("/"), "colour": "red"}),
            "body: unknown field",
        ),
    ] {
        let response = post(body.clone(), Some("t0ken")).await.expect("sent");
        assert_eq!(response.status().as_u16(), 400, "{body}");
        let error: serde_json::Value = response.json().await.expect("json");
        let message = error["error"]["message"].as_str().unwrap_or("");
        assert!(message.starts_with(field), "{body}: {message}");
    }
    let response = post(
        json!({"name": "api", "url": fake.url("/health"), "interval_seconds": 30, "body_contains": "ok"}),
        Some("t0ken"),
    )
    .await
    .expect("sent");
    assert_eq!(response.status().as_u16(), 201);
    let created: serde_json::Value = response.json().await.expect("json");
    let id = created["id"].as_i64().expect("an id");
    assert_eq!(created["interval_seconds"], 30);
    assert_eq!(created["expected_status"], 200);
    let again = post(json!({"name": "api", "url": fake.url("/")}), Some("t0ken"))
        .await
        .expect("sent");
    assert_eq!(again.status().as_u16(), 409);

    // Run it now: stored and judged.
    let ran: serde_json::Value = app
        .client
        .post(app.url(&format!("/api/probes/{id}/run")))
        .bearer_auth("t0ken")
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("json");
    assert_eq!(ran["result"]["ok"], true, "{ran}");
    assert_eq!(ran["result"]["status"], 200);
    assert_eq!(ran["alerts"], json!([]));

    let (status, one) = app.get_json(&format!("/api/probes/{id}")).await;
    assert_eq!(status, 200);
    assert_eq!(one["consecutive_failures"], 0);
    assert_eq!(one["last"]["ok"], true);
    assert_eq!(one["windows"][0]["window"], "1h");
    assert_eq!(one["windows"][0]["runs"], 1);
    let (status, list) = app.get_json("/api/probes").await;
    assert_eq!(status, 200);
    assert_eq!(list.as_array().map(Vec::len), Some(1));
    let (status, results) = app
        .get_json(&format!("/api/probes/{id}/results?hours=1"))
        .await;
    assert_eq!(status, 200);
    assert_eq!(results.as_array().map(Vec::len), Some(1));
    let (status, _) = app
        .get_json(&format!("/api/probes/{id}/results?hours=0"))
        .await;
    assert_eq!(status, 400);
    let (status, _) = app.get_json("/api/probes/9999").await;
    assert_eq!(status, 404);

    // Change only what is given.
    let patched: serde_json::Value = app
        .client
        .patch(app.url(&format!("/api/probes/{id}")))
        .bearer_auth("t0ken")
        .json(&json!({"expected_status": 204}))
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("json");
    assert_eq!(patched["expected_status"], 204);
    assert_eq!(patched["interval_seconds"], 30);

    // Metrics carry the probe's state, and stay valid for promtool.
    let text = app.get("/metrics").await.text().await.expect("text");
    for needle in [
        "signalbox_probe_up{probe=\"api\"} 1",
        "signalbox_probe_consecutive_failures{probe=\"api\"} 0",
        "signalbox_probe_latency_p95_seconds{probe=\"api\",window=\"1h\"}",
        "signalbox_probe_runs_total{probe=\"api\",outcome=\"ok\"}",
    ] {
        assert!(text.contains(needle), "{needle} missing from\n{text}");
    }
    crate::operations::promtool_check(&text);

    // The Probes page lists it (server-rendered), System Health has its card.
    let page = app.get("/probes").await.text().await.expect("html");
    assert!(page.contains("<h1>Probes</h1>"), "{page}");
    assert!(
        page.contains(&fake.url("/health")),
        "the probe's URL is listed"
    );
    assert!(page.contains(r#"class="badge up""#), "shown up");
    assert!(page.contains("probe-latency-chart"));
    let home = app.get("/").await.text().await.expect("html");
    assert!(home.contains(r#"data-testid="probes-card""#), "{home}");
    assert!(home.contains("1 up / 0 down"));

    let deleted = app
        .client
        .delete(app.url(&format!("/api/probes/{id}")))
        .bearer_auth("t0ken")
        .send()
        .await
        .expect("sent");
    assert_eq!(deleted.status().as_u16(), 204);
    let (status, _) = app.get_json(&format!("/api/probes/{id}")).await;
    assert_eq!(status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probes_from_the_environment_run_on_their_interval() {
    let fake = FakeTarget::start().await.expect("fake app");
    let probes = json!([{"name": "seeded", "url": fake.url("/"), "interval_seconds": 5, "timeout_ms": 1000}]);
    let app = spawn_app_with(&[("SIGNALBOX_PROBES", &probes.to_string())]).await;
    // The prober takes its lease and runs the probe at once.
    let mut runs = 0;
    for _ in 0..50 {
        let (_, list) = app.get_json("/api/probes").await;
        runs = list[0]["windows"][0]["runs"].as_u64().unwrap_or(0);
        if runs > 0 {
            assert_eq!(list[0]["target"]["name"], "seeded");
            assert_eq!(list[0]["last"]["ok"], true);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert_eq!(runs, 1, "the seeded probe ran once");
    assert!(fake.hits() >= 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_probe_url_keeps_its_secrets_write_only() {
    let (fake, app) = healthy_target_and_app().await;
    // The fake listens on 127.0.0.1:PORT; the probe's URL carries a password and a token.
    let with_secrets =
        fake.url("/health?token=abc123&region=eu")
            .replacen("http://", "http://probe:pa55@", 1);
    let shown = fake
        .url("/health?token=***&region=eu")
        .replacen("http://", "http://probe:***@", 1);
    let response = app
        .client
        .post(app.url("/api/probes"))
        .bearer_auth("t0ken")
        .json(&json!({"name": "secret", "url": with_secrets}))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status().as_u16(), 201);
    let created: serde_json::Value = response.json().await.expect("json");
    assert_eq!(created["url"], shown.as_str());
    let id = created["id"].as_i64().expect("an id");

    let run = |id: i64| {
        app.client
            .post(app.url(&format!("/api/probes/{id}/run")))
            .bearer_auth("t0ken")
            .send()
    };
    let ran: serde_json::Value = run(id).await.expect("sent").json().await.expect("json");
    assert_eq!(ran["result"]["ok"], true, "{ran}");
    // The target receives the secrets: the token in the query, the user info as basic auth.
    // base64("probe:pa55")
    let basic = "Basic cHJvYmU6cGE1NQ==".to_string();
    let seen = fake.last_request().expect("the probe's request");
    assert_eq!(seen.target, "/health?token=abc123&region=eu");
    assert_eq!(seen.authorization, Some(basic.clone()));

    // Everything that shows the probe shows it redacted.
    let (_, one) = app.get_json(&format!("/api/probes/{id}")).await;
    assert_eq!(one["target"]["url"], shown.as_str());
    let (_, list) = app.get_json("/api/probes").await;
    assert_eq!(list[0]["target"]["url"], shown.as_str());
    let page = app.get("/probes").await.text().await.expect("html");
    let metrics = app.get("/metrics").await.text().await.expect("text");
    for (what, text) in [
        ("get", one.to_string()),
        ("list", list.to_string()),
        ("run", ran.to_string()),
        ("page", page),
        ("metrics", metrics),
    ] {
        assert!(
            !text.contains("abc123") && !text.contains("pa55"),
            "{what} shows a secret: {text}"
        );
    }

    // Sending the shown URL back (a form that edits the whole probe) keeps the secrets.
    let patch = |body: serde_json::Value| {
        app.client
            .patch(app.url(&format!("/api/probes/{id}")))
            .bearer_auth("t0ken")
            .json(&body)
            .send()
    };
    let response = patch(json!({"url": shown, "interval_seconds": 30}))
        .await
        .expect("sent");
    assert_eq!(response.status().as_u16(), 200);
    let patched: serde_json::Value = response.json().await.expect("json");
    assert_eq!(patched["url"], shown.as_str());
    assert_eq!(patched["interval_seconds"], 30);
    run(id).await.expect("sent");
    let seen = fake.last_request().expect("the probe's request");
    assert_eq!(seen.target, "/health?token=abc123&region=eu");
    assert_eq!(seen.authorization, Some(basic.clone()));

    // A placeholder in another URL is refused, not stored.
    let response = patch(json!({"url": fake.url("/other?token=***")}))
        .await
        .expect("sent");
    assert_eq!(response.status().as_u16(), 400);
    let error: serde_json::Value = response.json().await.expect("json");
    assert!(
        error["error"]["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("url:")),
        "{error}"
    );

    // A new secret replaces the old one.
    let response = patch(json!({"url": fake.url("/health?token=new456")}))
        .await
        .expect("sent");
    assert_eq!(response.status().as_u16(), 200);
    run(id).await.expect("sent");
    let seen = fake.last_request().expect("the probe's request");
    assert_eq!(seen.target, "/health?token=new456");
    assert_eq!(seen.authorization, None);
}
