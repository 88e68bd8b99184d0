//! The fix generator's endpoints, against the fake Anthropic and GitHub servers: Generate
//! Fix → a draft pull request, the same path the UI's button posts to; the admin token; the
//! feature off (and saying why) without ANTHROPIC_API_KEY; dry run without AUTO_FIX_ENABLED.

use std::time::{Duration, Instant};

use serde_json::Value;
use signalbox::model::Event;
use signalbox_fakes::anthropic::FakeAnthropic;
use signalbox_fakes::github::{demo_files, FakeGitHub};

use crate::helpers::{spawn_app_with, TestApp};

const TOKEN: &str = "admin-secret";

fn db_error() -> Event {
    Event {
        timestamp: chrono::Utc::now(),
        level: signalbox::model::Level::Error,
        message: "psycopg2.OperationalError: could not connect to server: Connection refused"
            .into(),
        exception: None,
        stack_trace: Some(
            "psycopg2.OperationalError: could not connect\n  at connect (/usr/local/lib/python3.12/site-packages/psycopg2/__init__.py:122) [library]\n  at get_connection (/app/checkout/db.py:31)\n".into(),
        ),
        service: Some("checkout".into()),
        deployment: None,
        environment: None,
        attributes: Default::default(),
        source: "test".into(),
        source_id: None,
    }
}

async fn app_with_fakes(auto_fix: &str) -> (TestApp, FakeAnthropic, FakeGitHub) {
    app_with_fakes_and(auto_fix, &[("SIGNALBOX_ADMIN_TOKEN", TOKEN)]).await
}

async fn app_with_fakes_and(
    auto_fix: &str,
    more: &[(&str, &str)],
) -> (TestApp, FakeAnthropic, FakeGitHub) {
    let claude = FakeAnthropic::start().await.expect("fake anthropic");
    let github = FakeGitHub::start("acme", "shop", demo_files())
        .await
        .expect("fake github");
    let (key, claude_url, token, github_url) =
        (claude.key(), claude.url(), github.token(), github.url());
    let mut vars = vec![
        ("ANTHROPIC_API_KEY", key.as_str()),
        ("ANTHROPIC_BASE_URL", claude_url.as_str()),
        ("GITHUB_TOKEN", token.as_str()),
        ("GITHUB_API_URL", github_url.as_str()),
        ("GITHUB_REPOSITORY", "acme/shop"),
        ("AUTO_FIX_ENABLED", auto_fix),
    ];
    vars.extend_from_slice(more);
    let app = spawn_app_with(&vars).await;
    app.rules_off().await;
    app.ingest(vec![db_error()]).await;
    (app, claude, github)
}

async fn post(app: &TestApp, path: &str, token: Option<&str>) -> (u16, Value) {
    let mut request = app.client.post(app.url(path));
    if let Some(t) = token {
        request = request.bearer_auth(t);
    }
    let response = request.send().await.expect("sent");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn fingerprint(app: &TestApp) -> String {
    let (_, groups) = app.get_json("/api/logs/errors").await;
    groups["items"][0]["fingerprint"]
        .as_str()
        .expect("a group")
        .to_string()
}

/// Polls the fix until it leaves the queue.
async fn finished(app: &TestApp, id: i64) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, fix) = app.get_json(&format!("/error-monitor/fixes/{id}")).await;
        assert_eq!(status, 200);
        let state = fix["state"].as_str().unwrap_or_default().to_string();
        if state != "queued" && state != "running" {
            return fix;
        }
        assert!(Instant::now() < deadline, "fix {id} still {state}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generate_fix_opens_a_draft_pull_request() {
    let (app, claude, github) = app_with_fakes("true").await;
    let fp = fingerprint(&app).await;
    let path = format!("/error-monitor/fixes/generate-for-error?error_id={fp}");
    let (status, body) = post(&app, &path, None).await;
    assert_eq!(status, 401, "{body}");
    let (status, body) = post(&app, "/error-monitor/fixes/generate-for-error", Some(TOKEN)).await;
    assert_eq!(status, 400);
    assert!(body["error"]["message"]
        .as_str()
        .is_some_and(|m| m.starts_with("error_id")));
    let (status, body) = post(
        &app,
        "/error-monitor/fixes/generate-for-error?error_id=nope",
        Some(TOKEN),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("not_found"))
    );

    let (status, body) = post(&app, &path, Some(TOKEN)).await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["queued"], true);
    let id = body["fix"]["id"].as_i64().expect("an id");
    let fix = finished(&app, id).await;
    assert_eq!(fix["state"], "pr_open", "{fix}");
    assert!(fix["pr_url"].as_str().is_some_and(|u| u.contains("/pull/")));
    assert!(fix["input_tokens"].as_i64().is_some_and(|n| n > 0));
    assert_eq!(github.pulls().len(), 1);
    assert!(github.pulls()[0].draft);
    assert_eq!(claude.requests().len(), 1);

    let (status, list) = app.get_json("/error-monitor/fixes/generated").await;
    assert_eq!(status, 200);
    assert_eq!(list["items"][0]["id"], id);
    let (status, _) = app
        .get_json("/error-monitor/fixes/generated?state=nope")
        .await;
    assert_eq!(status, 400);

    // A batch: the known group gets a new fix (reusing the pull request), the unknown one an error.
    let (status, batch) = post(
        &app,
        &format!("/error-monitor/fixes/generate-batch?error_ids={fp},nope"),
        Some(TOKEN),
    )
    .await;
    assert_eq!(status, 202, "{batch}");
    assert_eq!(batch["errors"][0]["error_id"], "nope");
    let again = batch["requested"][0]["fix"]["id"].as_i64().expect("an id");
    let fix = finished(&app, again).await;
    assert_eq!(fix["state"], "pr_open");
    assert_eq!(github.pulls().len(), 1, "the open pull request is reused");

    let (_, health) = app.get_json("/health/detailed").await;
    let features = health["features"].as_array().expect("features");
    assert!(features
        .iter()
        .any(|f| f["name"] == "fix_generator" && f["enabled"] == true));
    let (_, dashboard) = app.get_json("/error-monitor/dashboard").await;
    assert_eq!(dashboard["summary"]["generated_fixes"], 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_auto_fix_it_is_a_dry_run() {
    let (app, _claude, github) = app_with_fakes("false").await;
    let fp = fingerprint(&app).await;
    let (status, body) = post(
        &app,
        &format!("/error-monitor/fixes/generate-for-error?error_id={fp}"),
        Some(TOKEN),
    )
    .await;
    assert_eq!(status, 202, "{body}");
    let fix = finished(&app, body["fix"]["id"].as_i64().expect("id")).await;
    assert_eq!(fix["state"], "proposed", "{fix}");
    assert_eq!(fix["dry_run_reason"], "AUTO_FIX_ENABLED=false");
    assert!(fix["diff"]
        .as_str()
        .is_some_and(|d| d.contains("checkout/db.py")));
    assert!(github.writes().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_an_api_key_the_feature_is_off_and_says_so() {
    let app = spawn_app_with(&[("GITHUB_REPOSITORY", "acme/shop")]).await;
    app.ingest(vec![db_error()]).await;
    let fp = fingerprint(&app).await;
    let (status, body) = post(
        &app,
        &format!("/error-monitor/fixes/generate-for-error?error_id={fp}"),
        None,
    )
    .await;
    assert_eq!(status, 409, "{body}");
    assert!(body["error"]["message"]
        .as_str()
        .is_some_and(|m| m.contains("ANTHROPIC_API_KEY is not set")));
    let (_, health) = app.get_json("/health/detailed").await;
    let fixer = health["features"]
        .as_array()
        .and_then(|f| f.iter().find(|f| f["name"] == "fix_generator").cloned())
        .expect("listed");
    assert_eq!(fixer["enabled"], false);
    assert_eq!(fixer["reason"], "ANTHROPIC_API_KEY is not set");
    // The group page says so too, and its button is disabled.
    let page = app
        .get(&format!("/errors/{fp}"))
        .await
        .text()
        .await
        .expect("html");
    assert!(
        page.contains("The fix generator is off: ANTHROPIC_API_KEY is not set"),
        "{page}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_generate_fix_button_works_as_a_plain_form_post() {
    let (app, _claude, github) = app_with_fakes_and("true", &[]).await;
    let fp = fingerprint(&app).await;
    let page = crate::ui::html(&app, &format!("/errors/{fp}")).await;
    assert!(page.contains(r#"action="/api/ui/fixes/generate""#));
    assert!(page.contains("Generate Fix"));
    assert!(page.contains("No fix generated for this group yet."));
    let (status, location) = crate::ui::post_form(
        &app,
        "/api/ui/fixes/generate",
        &format!("fingerprint={fp}"),
        &[],
    )
    .await;
    assert_eq!(status, 303);
    let (_, list) = app.get_json("/error-monitor/fixes/generated").await;
    let id = list["items"][0]["id"].as_i64().expect("a fix");
    assert_eq!(location, format!("/errors/{fp}?fix={id}#fix"));
    finished(&app, id).await;
    let page = crate::ui::html(&app, &location).await;
    assert!(page.contains(r#"data-testid="fix-pr-link""#), "{page}");
    assert!(page.contains(r#"data-testid="fix-root-cause""#));
    assert!(page.contains("draft PR open"));
    assert_eq!(github.pulls().len(), 1);
    let fixes = crate::ui::html(&app, "/fixes").await;
    assert!(fixes.contains(r#"data-testid="fix-row""#));
    assert!(fixes.contains("PR #1"));
    // An unknown group comes back with the refusal.
    let (status, location) =
        crate::ui::post_form(&app, "/api/ui/fixes/generate", "fingerprint=nope", &[]).await;
    assert_eq!(
        (status, location.as_str()),
        (303, "/errors/nope?error=not_found#fix")
    );
}
