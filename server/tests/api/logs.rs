//! `/api/logs/…` and the UI pages that show the same data.

use crate::helpers::{event, recent, spawn_app, spawn_app_with};

fn error_code(body: &serde_json::Value) -> &str {
    body["error"]["code"].as_str().unwrap_or("<missing>")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_error_line_becomes_a_group_in_the_api_and_the_ui() {
    let app = spawn_app().await;
    app.ingest(vec![
        recent(
            "error",
            "api",
            "HTTP 500 at /api/foo user_id=123 timestamp=2024-01-01",
        ),
        recent(
            "error",
            "api",
            "HTTP 500 at /api/foo user_id=777 timestamp=2024-02-02",
        ),
        recent("info", "api", "GET /health 200"),
    ])
    .await;

    let (status, body) = app.get_json("/api/logs/errors").await;
    assert_eq!(status, 200);
    let items = body["items"].as_array().expect("items");
    assert_eq!(items.len(), 1);
    assert_eq!(
        items[0]["template"],
        "HTTP 500 at /api/foo user_id=<num> timestamp=<ts>"
    );
    assert_eq!(items[0]["occurrences"], 2);
    let fp = items[0]["fingerprint"]
        .as_str()
        .expect("fingerprint")
        .to_string();

    let (status, group) = app.get_json(&format!("/api/logs/errors/{fp}")).await;
    assert_eq!(status, 200);
    assert_eq!(group["fingerprint"], fp.as_str());

    let (status, page) = app
        .get_json(&format!("/api/logs/errors/{fp}/occurrences"))
        .await;
    assert_eq!(status, 200);
    assert_eq!(page["items"].as_array().map(Vec::len), Some(2));

    // The UI is complete HTML from the server: the group, linked to its page.
    let home = app.get("/").await.text().await.expect("html");
    assert!(
        // Log text is escaped in HTML.
        home.contains("HTTP 500 at /api/foo user_id=&lt;num&gt; timestamp=&lt;ts&gt;"),
        "{home}"
    );
    assert!(home.contains(&format!("href=\"/errors/{fp}\"")));
    let page = app
        .get(&format!("/errors/{fp}"))
        .await
        .text()
        .await
        .expect("html");
    assert!(page.contains("user_id=777"), "the occurrences are listed");
    assert_eq!(page.matches("class=\"occurrence\"").count(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_sort_filter_and_page() {
    let app = spawn_app().await;
    let mut events = Vec::new();
    for i in 0..12 {
        for k in 0..=i {
            let service = if i % 3 == 0 { "billing" } else { "api" };
            events.push(event(
                i * 60 + k,
                "error",
                service,
                &format!("failure{} at step", (b'a' + i as u8) as char),
            ));
        }
    }
    events.push(event(5000, "critical", "db", "database is down"));
    app.ingest(events).await;

    let mut counts = Vec::new();
    let mut next = Some(String::new());
    while let Some(cursor) = next {
        let (status, body) = app
            .get_json(&format!("/api/logs/errors?limit=5&cursor={cursor}"))
            .await;
        assert_eq!(status, 200);
        counts.extend(
            body["items"]
                .as_array()
                .expect("items")
                .iter()
                .map(|g| g["occurrences"].as_i64().unwrap_or(0)),
        );
        next = body["next_cursor"].as_str().map(str::to_string);
    }
    assert_eq!(counts, vec![12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 1]);

    let (_, by_time) = app
        .get_json("/api/logs/errors?sort=last_seen&limit=1")
        .await;
    assert_eq!(by_time["items"][0]["template"], "database is down");
    let (_, critical) = app.get_json("/api/logs/errors?level=critical").await;
    assert_eq!(critical["items"].as_array().map(Vec::len), Some(1));
    let (_, billing) = app.get_json("/api/logs/errors?service=billing").await;
    assert_eq!(billing["items"].as_array().map(Vec::len), Some(4));
    let (_, unresolved) = app
        .get_json("/api/logs/errors?status=unresolved&q=FAILUREC")
        .await;
    assert_eq!(unresolved["items"].as_array().map(Vec::len), Some(1));
    let (_, window) = app
        .get_json("/api/logs/errors?since=2026-11-27T10:10:00Z")
        .await;
    assert_eq!(window["items"].as_array().map(Vec::len), Some(3));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_a_json_400_naming_the_problem() {
    let app = spawn_app().await;
    for (path, needle) in [
        ("/api/logs/errors?limit=abc", "limit"),
        ("/api/logs/errors?limit=0", "limit"),
        ("/api/logs/errors?level=loud", "level"),
        ("/api/logs/errors?status=open", "status"),
        ("/api/logs/errors?sort=size", "sort"),
        ("/api/logs/errors?since=yesterday", "since"),
        ("/api/logs/errors?range=forever", "range"),
        ("/api/logs/errors?cursor=garbage", "cursor"),
        ("/api/logs/stats?range=99d", "range"),
    ] {
        let (status, body) = app.get_json(path).await;
        assert_eq!(status, 400, "{path}");
        assert_eq!(error_code(&body), "bad_request", "{path}");
        let message = body["error"]["message"].as_str().unwrap_or("");
        assert!(message.contains(needle), "{path}: {message}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_things_are_json_404s() {
    let app = spawn_app().await;
    let unknown = "0".repeat(64);
    for path in [
        format!("/api/logs/errors/{unknown}"),
        format!("/api/logs/errors/{unknown}/occurrences"),
        "/api/logs/errors/not-a-fingerprint".to_string(),
        "/api/no/such/endpoint".to_string(),
    ] {
        let (status, body) = app.get_json(&path).await;
        assert_eq!(status, 404, "{path}");
        assert_eq!(error_code(&body), "not_found", "{path}");
    }
    assert_eq!(app.get("/no/such/page").await.status().as_u16(), 404);
    // A known path with the wrong method: a JSON 405.
    let (status, body) = app.get_json("/api/logs/crawl").await;
    assert_eq!((status, error_code(&body)), (405, "method_not_allowed"));
    let page = app
        .get(&format!("/errors/{unknown}"))
        .await
        .text()
        .await
        .expect("html");
    assert!(page.contains("Unknown error group"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stats_count_lines_errors_and_groups() {
    let app = spawn_app().await;
    app.ingest(vec![
        recent("info", "api", "ok"),
        recent("info", "api", "ok"),
        recent("warn", "api", "slow"),
        recent("error", "api", "boom"),
    ])
    .await;
    let (status, stats) = app.get_json("/api/logs/stats").await;
    assert_eq!(status, 200);
    assert_eq!(stats["lines"], 4);
    assert_eq!(stats["errors"], 1);
    assert_eq!(stats["error_rate"], 0.25);
    assert_eq!(stats["groups"], 1);
    assert_eq!(stats["new_today"], 1);
    assert_eq!(stats["resolved"], 0);
    assert_eq!(stats["per_minute"].as_array().map(Vec::len), Some(1));
    let (_, hour) = app.get_json("/api/logs/stats?range=1h").await;
    assert_eq!(hour["lines"], 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crawl_needs_a_source_and_the_admin_token() {
    let app = spawn_app().await;
    let response = app
        .client
        .post(app.url("/api/logs/crawl"))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status().as_u16(), 409, "no source is configured");

    let app = spawn_app_with(&[
        ("SIGNALBOX_DEMO", "true"),
        ("SIGNALBOX_ADMIN_TOKEN", "s3cret"),
    ])
    .await;
    let response = app
        .client
        .post(app.url("/api/logs/crawl"))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status().as_u16(), 401);
    let body: serde_json::Value = response.json().await.expect("json");
    assert_eq!(error_code(&body), "unauthorized");

    let response = app
        .client
        .post(app.url("/api/logs/crawl"))
        .bearer_auth("s3cret")
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status().as_u16(), 202);
    let body: serde_json::Value = response.json().await.expect("json");
    assert_eq!(body["sources"], serde_json::json!(["demo"]));
    assert_eq!(body["run_id"].as_str().map(str::len), Some(36));

    // The demo source fills the store (its first poll backfills a day).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let (_, groups) = app.get_json("/api/logs/errors").await;
        if groups["items"].as_array().is_some_and(|g| !g.is_empty()) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the demo source stored nothing"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}
