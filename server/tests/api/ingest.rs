//! Sentry SDK ingest, replaying the real client captures in ../shared/data/ingest-captures.

use std::path::PathBuf;

use crate::helpers::{spawn_app_with, TestApp};

const KEY: &str = "0123456789abcdef0123456789abcdef";

fn captures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/ingest-captures")
}

struct Capture {
    name: String,
    meta: serde_json::Value,
    body: Vec<u8>,
}

fn captures() -> Vec<Capture> {
    let dir = captures_dir();
    let mut all: Vec<Capture> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e} (the shared data folder is needed)", dir.display()))
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json") && !p.ends_with("index.json"))
        .map(|p| {
            let meta: serde_json::Value =
                serde_json::from_slice(&std::fs::read(&p).expect("readable")).expect("json");
            let body = std::fs::read(p.with_extension("body")).expect("a body next to the json");
            let name = p
                .file_stem()
                .map(|s| s.to_string_lossy().to_string())
                .unwrap_or_default();
            Capture { name, meta, body }
        })
        .collect();
    all.sort_by(|a, b| a.name.cmp(&b.name));
    all
}

/// Sends a capture exactly as the client did (same path, query, headers and body bytes).
async fn replay(app: &TestApp, capture: &Capture) -> (u16, String) {
    let request = &capture.meta["request"];
    let path = request["path"].as_str().unwrap_or("/");
    let query = request["query"].as_str().unwrap_or("");
    let url = if query.is_empty() {
        app.url(path)
    } else {
        app.url(&format!("{path}?{query}"))
    };
    let mut builder = app.client.post(url).body(capture.body.clone());
    for pair in request["headers"].as_array().into_iter().flatten() {
        let (Some(name), Some(value)) = (pair[0].as_str(), pair[1].as_str()) else {
            continue;
        };
        // The transport sets these for the body it sends (the chunk framing is gone).
        if ["host", "content-length", "transfer-encoding", "connection"]
            .contains(&name.to_ascii_lowercase().as_str())
        {
            continue;
        }
        builder = builder.header(name, value);
    }
    let response = builder.send().await.expect("sent");
    (
        response.status().as_u16(),
        response.text().await.unwrap_or_default(),
    )
}

async fn app_with_project(vars: &[(&str, &str)]) -> TestApp {
    let app = spawn_app_with(vars).await;
    app.store
        .create_project("fixture-app", Some(42), Some(KEY))
        .await
        .expect("project 42");
    app
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_sentry_capture_is_accepted_and_grouped() {
    let app = app_with_project(&[]).await;
    let sentry: Vec<Capture> = captures()
        .into_iter()
        .filter(|c| {
            c.meta["request"]["path"]
                .as_str()
                .is_some_and(|p| p.starts_with("/api/42/"))
        })
        .collect();
    assert!(
        sentry.len() >= 40,
        "expected the Sentry captures, found {}",
        sentry.len()
    );
    let mut expected_types = Vec::new();
    for capture in &sentry {
        let (status, body) = replay(&app, capture).await;
        assert_eq!(status, 200, "{}: {body}", capture.name);
        let reply: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
        assert!(
            reply["id"].as_str().is_some_and(|id| !id.is_empty()),
            "{}: {body}",
            capture.name
        );
        for expect in capture.meta["expect"].as_array().into_iter().flatten() {
            if let Some(exception) = expect["exceptions"].as_array().and_then(|e| e.last()) {
                if let Some(kind) = exception["type"].as_str() {
                    expected_types.push((capture.name.clone(), kind.to_string()));
                }
            }
        }
    }
    // Every exception the SDKs sent is an error group of its type.
    let (_, groups) = app.get_json("/api/logs/errors?limit=500").await;
    let types: Vec<String> = groups["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|g| g["error_type"].as_str().map(str::to_string))
        .collect();
    for (capture, kind) in &expected_types {
        assert!(
            types.contains(kind),
            "{capture}: no group of type {kind} in {types:?}"
        );
    }
    // Personal data the SDKs sent (user, cookies, authorization headers) is not stored.
    let (_, everything) = app.get_json("/api/logs/errors?limit=500").await;
    let mut stored = everything.to_string();
    for group in everything["items"].as_array().into_iter().flatten() {
        let fp = group["fingerprint"].as_str().unwrap_or("");
        let (_, occurrences) = app
            .get_json(&format!("/api/logs/errors/{fp}/occurrences?limit=500"))
            .await;
        stored.push_str(&occurrences.to_string());
    }
    for secret in ["alice@example.com", "session=", "Bearer ", "s3cr3t"] {
        assert!(!stored.contains(secret), "{secret} reached storage");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sending_the_same_event_twice_counts_once() {
    let app = app_with_project(&[]).await;
    let capture = captures()
        .into_iter()
        .find(|c| c.name == "python-sentry-2.75.0-exception-gzip")
        .expect("the capture");
    for _ in 0..3 {
        assert_eq!(replay(&app, &capture).await.0, 200);
    }
    let (_, groups) = app.get_json("/api/logs/errors").await;
    assert_eq!(
        groups["items"][0]["occurrences"], 1,
        "SDK retries carry the same event_id"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_ingest_requests_are_refused_clearly() {
    let app = app_with_project(&[("INGEST_RATE_LIMIT", "2")]).await;
    let envelope =
        "{\"event_id\":\"e0\"}\n{\"type\":\"event\"}\n{\"level\":\"error\",\"message\":\"boom\"}\n";
    let send = |path: &str, auth: Option<&str>, body: &'static [u8]| {
        let mut builder = app.client.post(app.url(path)).body(body);
        if let Some(auth) = auth {
            builder = builder.header("X-Sentry-Auth", auth);
        }
        builder.send()
    };
    let good_auth = format!("Sentry sentry_key={KEY}, sentry_version=7");
    // (path, X-Sentry-Auth, body, status, error code)
    type Case<'a> = (&'a str, Option<&'a str>, &'static [u8], u16, &'a str);
    let cases: Vec<Case> = vec![
        (
            "/api/42/envelope/",
            None,
            envelope.as_bytes(),
            401,
            "unauthorized",
        ),
        (
            "/api/42/envelope/",
            Some("Sentry sentry_key=ffffffffffffffffffffffffffffffff"),
            envelope.as_bytes(),
            401,
            "unauthorized",
        ),
        (
            "/api/7/envelope/",
            Some(&good_auth),
            envelope.as_bytes(),
            404,
            "not_found",
        ),
        (
            "/api/42/envelope/",
            Some(&good_auth),
            b"garbage",
            400,
            "bad_request",
        ),
        (
            "/api/42/store/",
            Some(&good_auth),
            b"[1,2",
            400,
            "bad_request",
        ),
    ];
    for (path, auth, body, status, code) in cases {
        let response = send(path, auth, body).await.expect("sent");
        assert_eq!(response.status().as_u16(), status, "{path} {auth:?}");
        let json: serde_json::Value = response.json().await.expect("json error");
        assert_eq!(json["error"]["code"], code, "{path}");
    }
    // The limit is 2 events a minute: the third is refused with Sentry's headers.
    for _ in 0..2 {
        assert_eq!(
            send("/api/42/envelope/", Some(&good_auth), envelope.as_bytes())
                .await
                .expect("sent")
                .status()
                .as_u16(),
            200
        );
    }
    let limited = send("/api/42/envelope/", Some(&good_auth), envelope.as_bytes())
        .await
        .expect("sent");
    assert_eq!(limited.status().as_u16(), 429);
    assert!(limited.headers().contains_key("retry-after"));
    assert!(limited.headers()["x-sentry-rate-limits"]
        .to_str()
        .unwrap_or("")
        .ends_with("::project"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn projects_are_created_with_a_dsn() {
    let app = spawn_app_with(&[
        ("SIGNALBOX_ADMIN_TOKEN", "t0k"),
        ("SIGNALBOX_PUBLIC_URL", "https://sb.example.com"),
    ])
    .await;
    let unauthorized = app
        .client
        .post(app.url("/api/projects"))
        .body(r#"{"name":"web"}"#)
        .send()
        .await
        .expect("sent");
    assert_eq!(unauthorized.status().as_u16(), 401);
    let created = app
        .client
        .post(app.url("/api/projects"))
        .bearer_auth("t0k")
        .body(r#"{"name":"web"}"#)
        .send()
        .await
        .expect("sent");
    assert_eq!(created.status().as_u16(), 201);
    let project: serde_json::Value = created.json().await.expect("json");
    let key = project["public_key"].as_str().unwrap_or("");
    assert_eq!(
        project["dsn"],
        format!("https://{key}@sb.example.com/{}", project["id"])
    );
    let again = app
        .client
        .post(app.url("/api/projects"))
        .bearer_auth("t0k")
        .body(r#"{"name":"web"}"#)
        .send()
        .await
        .expect("sent");
    assert_eq!(again.status().as_u16(), 409);
    let bad = app
        .client
        .post(app.url("/api/projects"))
        .bearer_auth("t0k")
        .body("{}")
        .send()
        .await
        .expect("sent");
    assert_eq!(bad.status().as_u16(), 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_push_accepts_objects_arrays_and_lines() {
    let app = app_with_project(&[]).await;
    let push = |body: &'static str, key: Option<&str>| {
        let mut builder = app.client.post(app.url("/api/ingest")).body(body);
        if let Some(key) = key {
            builder = builder.header("X-Signalbox-Key", key);
        }
        builder.send()
    };
    let cases: [(&'static str, u16, usize); 3] = [
        (r#"{"level":"error","msg":"charge failed","error":"card declined","id":"a1"}"#, 200, 1),
        (r#"[{"level":"error","message":"boom 1"},{"level":"info","message":"ok"}]"#, 200, 2),
        ("{\"level\":\"error\",\"message\":\"boom 2\"}\n{\"level\":\"warn\",\"message\":\"slow\"}\n", 200, 2),
    ];
    for (body, status, accepted) in cases {
        let response = push(body, Some(KEY)).await.expect("sent");
        assert_eq!(response.status().as_u16(), status, "{body}");
        let reply: serde_json::Value = response.json().await.expect("json");
        assert_eq!(reply["accepted"], accepted, "{body}");
    }
    // The same id again is a duplicate.
    let again: serde_json::Value = push(cases[0].0, Some(KEY))
        .await
        .expect("sent")
        .json()
        .await
        .expect("json");
    assert_eq!(
        (again["accepted"].as_u64(), again["duplicates"].as_u64()),
        (Some(0), Some(1))
    );
    let (_, groups) = app.get_json("/api/logs/errors").await;
    let templates: Vec<&str> = groups["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|g| g["template"].as_str())
        .collect();
    assert!(
        templates.contains(&"charge failed: card declined"),
        "{templates:?}"
    );
    assert!(templates.contains(&"boom <num>"), "{templates:?}");
    assert_eq!(groups["items"][0]["service"], "fixture-app");

    for (body, key, status) in [
        (r#"{"message":"x"}"#, None, 401),
        (r#"{"message":"x"}"#, Some("wrong"), 401),
        ("42", Some(KEY), 400),
        ("{\"message\":\"x\"}\nnot json\n", Some(KEY), 400),
    ] {
        assert_eq!(
            push(body, key).await.expect("sent").status().as_u16(),
            status,
            "{body} {key:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_otlp_capture_is_accepted() {
    let app = app_with_project(&[]).await;
    let otlp: Vec<Capture> = captures()
        .into_iter()
        .filter(|c| c.meta["request"]["path"] == "/v1/logs")
        .collect();
    assert_eq!(otlp.len(), 4, "protobuf and JSON, gzip and plain");
    for capture in &otlp {
        let (status, body) = replay(&app, capture).await;
        assert_eq!(status, 200, "{}: {body}", capture.name);
    }
    let (_, groups) = app
        .get_json("/api/logs/errors?service=fixture-billing")
        .await;
    let group = &groups["items"][0];
    assert_eq!(group["error_type"], "PaymentError", "{groups}");
    assert_eq!(group["occurrences"], 4, "one error record per capture");
    let (status, _) = app.get_json("/api/logs/errors?limit=1").await;
    assert_eq!(status, 200);
    let garbage = app
        .client
        .post(app.url("/v1/logs"))
        .header("X-Signalbox-Key", KEY)
        .body("\u{1}garbage")
        .send()
        .await
        .expect("sent");
    assert_eq!(garbage.status().as_u16(), 400);
}
