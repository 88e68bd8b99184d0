//! Failure tests: what Signalbox does when what it depends on fails — PostgreSQL stopped
//! mid-run, the SQLite file made read-only, Railway's API timing out, the Slack webhook down,
//! the clock jumping. Each time: the process stays up, readiness (or the detailed health)
//! says what failed, ingest refuses with 503 and a JSON body, and after recovery nothing is
//! lost or doubled. `docs/reports/failure.md` summarises them.

use std::process::Command;
use std::time::Duration;

use serde_json::{json, Value};
use signalbox_fakes::railway::{Failure, FakeRailway, Options};
use signalbox_fakes::slack::{self, FakeSlack};

use crate::helpers::{spawn_app_with, TestApp};

use crate::crash::postgres;

const KEY: &str = "failure-test-key";

/// JSON lines `from..to`, each an error with an `id` (so a retried push is safe).
fn batch(from: usize, to: usize) -> String {
    (from..to)
        .map(|i| {
            json!({"id": format!("evt-{i}"), "level": "error", "service": "shop",
                   "msg": format!("payment failed for order {i}")})
            .to_string()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

async fn push(app: &TestApp, body: String) -> (u16, Value) {
    let response = app
        .client
        .post(app.url("/api/ingest"))
        .header("X-Signalbox-Key", KEY)
        .body(body)
        .send()
        .await
        .expect("sent");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn wait_until(what: &str, mut ready: impl AsyncFnMut() -> bool) {
    // Up to a minute: a Railway request times out after 30 s.
    for _ in 0..600 {
        if ready().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out waiting until {what}");
}

/// Occurrences of the one group the batches make.
async fn occurrences(app: &TestApp) -> i64 {
    let (_, groups) = app.get_json("/api/logs/errors?service=shop").await;
    groups["items"][0]["occurrences"].as_i64().unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_stopped_mid_run() {
    let Some(pg) = postgres::PgServer::start_durable() else {
        return;
    };
    let url = pg.fresh_database("failure").await;
    let app = spawn_app_with(&[("DATABASE_URL", &url)]).await;
    app.store
        .create_project("shop", Some(7), Some(KEY))
        .await
        .expect("project");
    assert_eq!(push(&app, batch(0, 50)).await.0, 200);

    pg.stop();
    let (status, body) = push(&app, batch(50, 100)).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"]["code"], "unavailable");
    assert_eq!(
        app.get("/health").await.status().as_u16(),
        200,
        "still alive"
    );
    assert_eq!(app.get("/health/readiness").await.status().as_u16(), 503);
    let (status, detailed) = app.get_json("/health/detailed").await;
    assert_eq!(
        (status, detailed["status"].as_str()),
        (200, Some("degraded"))
    );
    // Reads fail with a JSON 503 too, not a hang or a crash.
    let (status, body) = app.get_json("/api/logs/errors").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (503, Some("unavailable"))
    );

    pg.start_again();
    wait_until("ready again", async || {
        app.get("/health/readiness").await.status().as_u16() == 200
    })
    .await;
    // The client retries what was refused, and (being unsure) everything: nothing doubles.
    assert_eq!(push(&app, batch(50, 100)).await.0, 200);
    let (status, reply) = push(&app, batch(0, 100)).await;
    assert_eq!(status, 200);
    assert_eq!(
        (reply["accepted"].as_u64(), reply["duplicates"].as_u64()),
        (Some(0), Some(100))
    );
    assert_eq!(occurrences(&app).await, 100);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_file_made_read_only() {
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("ro.db");
    let url = format!("sqlite://{}", db.display());
    let app = spawn_app_with(&[("DATABASE_URL", &url)]).await;
    app.store
        .create_project("shop", Some(7), Some(KEY))
        .await
        .expect("project");
    assert_eq!(push(&app, batch(0, 20)).await.0, 200);
    // Root ignores file modes: the immutable attribute refuses every write, as a read-only
    // mount or a full disk would. Where it cannot be set, say so and stop.
    // Not the -shm file: SQLite maps it in memory, and a write to an immutable mapping is a
    // SIGBUS, not an error.
    let files: Vec<String> = ["", "-wal"]
        .iter()
        .map(|suffix| format!("{}{suffix}", db.display()))
        .filter(|f| std::path::Path::new(f).exists())
        .collect();
    let set = Command::new("chattr").arg("+i").args(&files).status();
    if !set.is_ok_and(|s| s.success()) {
        eprintln!(
            "\n########## SKIPPING read-only SQLite: chattr +i is not permitted here ##########\n"
        );
        return;
    }
    let (status, body) = push(&app, batch(20, 40)).await;
    let unset = Command::new("chattr").arg("-i").args(&files).status();
    assert!(unset.is_ok_and(|s| s.success()), "chattr -i");
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"]["code"], "unavailable");
    assert_eq!(app.get("/health").await.status().as_u16(), 200);
    // Writable again: the retry is stored, once.
    let (status, body) = push(&app, batch(20, 40)).await;
    assert_eq!(status, 200, "{body}");
    // Every connection of the pool works again (one whose commit failed is replaced).
    for _ in 0..10 {
        let (status, body) = push(&app, batch(0, 40)).await;
        assert_eq!(
            (status, body["duplicates"].as_u64()),
            (200, Some(40)),
            "{body}"
        );
    }
    assert_eq!(occurrences(&app).await, 40);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn railway_api_timing_out() {
    let fake = FakeRailway::start(Options::default()).await;
    let service = fake.add_service("api");
    let deployment = fake.add_deployment(&service, "SUCCESS");
    tokio::time::sleep(Duration::from_millis(5)).await;
    let at = chrono::Utc::now();
    fake.push_logs(
        &deployment,
        (0..20)
            .map(|i| {
                crate::railway::line(
                    at,
                    "r",
                    &format!("ERROR job {i} failed: upstream 502"),
                    "error",
                )
            })
            .collect(),
    );
    // The first request (the project's discovery) gets no answer within the client's 30 s
    // timeout: the fake would answer after 40 s.
    fake.fail_next(1, Failure::Slow(Duration::from_secs(40)));
    let app = spawn_app_with(&[
        ("RAILWAY_API_TOKEN", &fake.token()),
        ("RAILWAY_API_URL", &fake.url()),
        ("RAILWAY_PROJECT_ID", &fake.project_id()),
        ("RAILWAY_ENVIRONMENT_ID", &fake.environment_id()),
        ("RAILWAY_STREAM", "false"),
        ("RAILWAY_LAG_SECONDS", "0"),
        ("ERROR_MONITOR_INTERVAL", "1"),
    ])
    .await;
    // The server answers meanwhile, and says what is wrong.
    for _ in 0..5 {
        assert_eq!(app.get("/health/readiness").await.status().as_u16(), 200);
        let (status, _) = app.get_json("/api/logs/errors").await;
        assert_eq!(status, 200);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(occurrences_of(&app, "api").await, 0, "nothing read yet");
    // After the timeout the source retries and reads the backlog.
    wait_until("the backlog is read once the API answers", async || {
        occurrences_of(&app, "api").await == 20
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(occurrences_of(&app, "api").await, 20, "read once");
}

async fn occurrences_of(app: &TestApp, service: &str) -> i64 {
    let (_, groups) = app
        .get_json(&format!("/api/logs/errors?service={service}"))
        .await;
    groups["items"].as_array().map_or(0, |items| {
        items.iter().filter_map(|g| g["occurrences"].as_i64()).sum()
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slack_webhook_down() {
    // Delivery retries and the replayed alert sent once are in tests/notify.rs (short
    // timings); here, the whole server while Slack answers 500.
    let slack = FakeSlack::start().await.expect("fake slack");
    slack.fail_next(100, slack::Failure::ServerError);
    let app = spawn_app_with(&[
        ("SLACK_WEBHOOK_URL", &slack.slack_url()),
        ("ERROR_MONITORING_ENABLED", "false"),
    ])
    .await;
    app.store
        .create_project("shop", Some(7), Some(KEY))
        .await
        .expect("project");
    assert_eq!(push(&app, batch(0, 1)).await.0, 200);
    wait_until(
        "the first delivery failed and is scheduled again",
        async || {
            let (_, rows) = app.get_json("/api/notifications").await;
            rows.as_array().is_some_and(|rows| {
                rows.iter().any(|r| {
                    r["status"] == "pending"
                        && r["attempts"].as_i64().unwrap_or(0) >= 1
                        && r["last_error"].as_str().is_some_and(|e| !e.is_empty())
                })
            })
        },
    )
    .await;
    assert_eq!(app.get("/health").await.status().as_u16(), 200);
    assert_eq!(app.get("/health/readiness").await.status().as_u16(), 200);
    // Ingest goes on while Slack is down.
    assert_eq!(push(&app, batch(1, 10)).await.0, 200);
    assert_eq!(occurrences(&app).await, 10);
    let (_, detailed) = app.get_json("/health/detailed").await;
    assert_eq!(detailed["status"], "ok");
}
