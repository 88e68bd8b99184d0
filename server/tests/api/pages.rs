//! System Health, the group page, Sources and the login as the server renders them (what a
//! browser without JavaScript gets), and their forms posted like plain HTML forms.

use crate::helpers::{recent, spawn_app, spawn_app_with, TestApp};
use crate::tasks::a_group;
use crate::ui::{html, post_app, post_form};

async fn fingerprint_of(app: &TestApp, text: &str) -> String {
    let (_, groups) = app.get_json(&format!("/api/logs/errors?q={text}")).await;
    groups["items"][0]["fingerprint"]
        .as_str()
        .expect("the group")
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn system_health_renders_cards_chart_top_groups_and_lists() {
    let app = spawn_app().await;
    app.ingest(vec![
        recent("info", "api", "request served"),
        recent("error", "api", "payment provider timed out"),
        recent("error", "api", "payment provider timed out"),
        recent("critical", "worker", "queue <b>overflow</b> & lost jobs"),
    ])
    .await;
    let page = html(&app, "/").await;
    for part in [
        r#">3</span><span class="label">errors in 24 h<"#,
        r#"data-testid="open-tasks""#,
        r#"id="error-rate-chart""#,
        r#"class="spark""#,
        "payment provider timed out",
        "New today",
        "Resolved (quiet for 24 h)",
        r#"<form method="get" action="/""#,
        r#"<label for="f-q">"#,
        "Updated just now",
    ] {
        assert!(page.contains(part), "{part} in the page:\n{page}");
    }
    // Log text is escaped.
    assert!(page.contains("queue &lt;b&gt;overflow&lt;/b&gt; &amp; lost jobs"));
    assert!(!page.contains("<b>overflow</b>"));

    // Filters from the URL: only the critical group; the form shows the choice.
    let filtered = html(&app, "/?level=critical&range=1h&by=service").await;
    assert!(filtered.contains("queue &lt;b&gt;overflow"));
    assert!(!filtered.contains("payment provider timed out"));
    assert!(filtered.contains(r#"<option value="critical" selected"#));
    assert!(filtered.contains(r#"<input type="hidden" name="by" value="service""#));
    let text = html(&app, "/?q=payment").await;
    assert!(text.contains("payment provider timed out"));
    assert!(!text.contains("queue &lt;b&gt;"));
    // A bad value falls back to the default instead of failing.
    assert!(html(&app, "/?range=2y&level=loud")
        .await
        .contains("last 24 hours"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_group_page_shows_trace_breakdown_and_resolves_without_javascript() {
    let app = spawn_app().await;
    let mut event = recent("error", "checkout", "KeyError: 'sku'");
    event.stack_trace = Some(
        "Traceback (most recent call last):\n  File \"/app/shop/cart.py\", line 12, in add\n  File \"/usr/lib/python3/site-packages/orm.py\", line 9, in flush\nKeyError: 'sku'"
            .into(),
    );
    event.deployment = Some("d-42".into());
    app.ingest(vec![event]).await;
    let fp = fingerprint_of(&app, "KeyError").await;
    let page = html(&app, &format!("/errors/{fp}")).await;
    for part in [
        r#"<span class="line frame-app">  File "/app/shop/cart.py""#,
        r#"<span class="line frame-lib">  File "/usr/lib/python3/site-packages/orm.py""#,
        r#"class="bars""#,
        "<caption>deployment</caption>",
        "d-42",
        r#"action="/api/ui/groups/status""#,
        r#"class="occurrence""#,
    ] {
        assert!(page.contains(part), "{part} in the page");
    }

    let (status, location) = post_form(
        &app,
        "/api/ui/groups/status",
        &format!("fingerprint={fp}&status=resolved"),
        &[],
    )
    .await;
    assert_eq!(
        (status, location.as_str()),
        (303, format!("/errors/{fp}?status=resolved#status").as_str())
    );
    let (_, group) = app.get_json(&format!("/api/logs/errors/{fp}")).await;
    assert_eq!(group["status"], "resolved");
    let (_, history) = app
        .get_json(&format!("/api/logs/errors/{fp}/history"))
        .await;
    assert_eq!(history["items"][0]["actor"], "anonymous");
    assert!(html(&app, &location).await.contains("Reopen"));

    // The app gets the status; a status the form does not offer is a 400.
    let (status, body) = post_app(
        &app,
        "/api/ui/groups/status",
        &format!("fingerprint={fp}&status=ignored"),
        &[],
    )
    .await;
    assert_eq!((status, body), (200, serde_json::json!("ignored")));
    let (status, _) = post_app(
        &app,
        "/api/ui/groups/status",
        &format!("fingerprint={fp}&status=regressed"),
        &[],
    )
    .await;
    assert_eq!(status, 400);
    let (status, _) = post_app(
        &app,
        "/api/ui/groups/status",
        "fingerprint=nope&status=resolved",
        &[],
    )
    .await;
    assert_eq!(status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sources_lists_the_monitor_runs_and_notifications() {
    let app = spawn_app().await;
    let page = html(&app, "/sources").await;
    assert!(page.contains(r#"data-testid="monitor-state""#));
    assert!(page.contains("Recent runs"));
    assert!(page.contains("No failed or retrying deliveries."));
}

/// The session cookie of a `Set-Cookie` answer.
fn session_cookie(response: &reqwest::Response) -> Option<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("signalbox_session="))
        .map(str::to_string)
}

async fn log_in(app: &TestApp, token: &str) -> reqwest::Response {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("a client")
        .post(app.url("/api/ui/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("accept", crate::ui::HTML)
        .body(format!("token={token}&next=%2Ferrors%2Fabc"))
        .send()
        .await
        .expect("sent")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_sets_a_signed_session_that_changes_need() {
    let app = spawn_app_with(&[
        ("SIGNALBOX_ADMIN_TOKEN", "s3cret-token"),
        ("SIGNALBOX_PUBLIC_URL", "https://sb.example.com"),
    ])
    .await;
    let fp = a_group(&app, "payment provider timed out").await;

    let wrong = log_in(&app, "nope").await;
    assert_eq!(wrong.status(), 303);
    assert_eq!(
        wrong.headers()["location"],
        "/login?next=%2Ferrors%2Fabc&error=bad_token"
    );
    assert!(session_cookie(&wrong).is_none());

    let right = log_in(&app, "s3cret-token").await;
    assert_eq!(right.status(), 303);
    assert_eq!(right.headers()["location"], "/errors/abc");
    let cookie = session_cookie(&right).expect("a session cookie");
    for part in ["HttpOnly", "SameSite=Strict", "Secure", "Path=/"] {
        assert!(cookie.contains(part), "{cookie}");
    }
    assert!(!cookie.contains("s3cret-token"));
    let pair = cookie.split(';').next().expect("name=value").to_string();

    // Reads stay public by default; changes need the session.
    assert_eq!(app.get("/").await.status(), 200);
    let form = format!("fingerprint={fp}&status=resolved");
    let (status, _) = post_app(&app, "/api/ui/groups/status", &form, &[]).await;
    assert_eq!(status, 401);
    let forged = "signalbox_session=9999999999.00";
    let (status, _) = post_app(&app, "/api/ui/groups/status", &form, &[("cookie", forged)]).await;
    assert_eq!(status, 401);
    let (status, _) = post_app(&app, "/api/ui/groups/status", &form, &[("cookie", &pair)]).await;
    assert_eq!(status, 200);
    let (_, history) = app
        .get_json(&format!("/api/logs/errors/{fp}/history"))
        .await;
    assert_eq!(history["items"][0]["actor"], "admin");
    // Posted from another site, even with the cookie: refused.
    let (status, _) = post_app(
        &app,
        "/api/ui/groups/status",
        &form,
        &[("cookie", &pair), ("sec-fetch-site", "cross-site")],
    )
    .await;
    assert_eq!(status, 403);

    let (status, location) = post_form(&app, "/api/ui/logout", "", &[("cookie", &pair)]).await;
    assert_eq!((status, location.as_str()), (303, "/"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closed_reads_need_the_session_but_ingest_and_health_stay_open() {
    let app = spawn_app_with(&[
        ("SIGNALBOX_ADMIN_TOKEN", "s3cret-token"),
        ("SIGNALBOX_PUBLIC_READ", "false"),
    ])
    .await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("a client");
    let page = client
        .get(app.url("/?range=7d"))
        .send()
        .await
        .expect("sent");
    assert_eq!(page.status(), 303);
    assert_eq!(page.headers()["location"], "/login?next=%2F%3Frange%3D7d");
    assert_eq!(app.get("/api/logs/errors").await.status(), 401);
    let (status, _) = post_app(&app, "/api/ui/health", "", &[]).await;
    assert_eq!(status, 401);
    assert_eq!(app.get("/login").await.status(), 200);
    assert_eq!(app.get("/health/readiness").await.status(), 200);
    assert_eq!(app.get("/metrics").await.status(), 200);

    let pair = session_cookie(&log_in(&app, "s3cret-token").await)
        .and_then(|c| c.split(';').next().map(str::to_string))
        .expect("a session");
    let page = client
        .get(app.url("/"))
        .header("cookie", &pair)
        .send()
        .await
        .expect("sent");
    assert_eq!(page.status(), 200);
    let bearer = client
        .get(app.url("/api/logs/errors"))
        .header("authorization", "Bearer s3cret-token")
        .send()
        .await
        .expect("sent");
    assert_eq!(bearer.status(), 200);
}
