//! The governance pages as a browser without JavaScript uses them: GET the server-rendered
//! HTML, POST the forms (`application/x-www-form-urlencoded`, `Accept: text/html`) to the
//! server functions' endpoints and follow the `303` back to the page.

use serde_json::{json, Value};

use crate::helpers::{spawn_app, spawn_app_with, TestApp};
use crate::tasks::a_group;

/// What a browser sends with a plain form post.
pub(crate) const HTML: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";

/// A client that does not follow redirects, so the tests see where a form sends the browser.
fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("a client")
}

/// Posts a form like a browser without JavaScript; the status and the `Location`.
pub(crate) async fn post_form(
    app: &TestApp,
    path: &str,
    form: &str,
    headers: &[(&str, &str)],
) -> (u16, String) {
    let mut request = browser()
        .post(app.url(path))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("accept", HTML)
        .body(form.to_string());
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.expect("sent");
    let location = response
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    (response.status().as_u16(), location)
}

/// Posts a form like the hydrated app does (it wants JSON back); the status and the body.
pub(crate) async fn post_app(
    app: &TestApp,
    path: &str,
    form: &str,
    headers: &[(&str, &str)],
) -> (u16, Value) {
    let mut request = browser()
        .post(app.url(path))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("accept", "application/json")
        .body(form.to_string());
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.expect("sent");
    let status = response.status().as_u16();
    let text = response.text().await.expect("a body");
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

pub(crate) async fn html(app: &TestApp, path: &str) -> String {
    let response = app.get(path).await;
    assert_eq!(response.status(), 200, "GET {path}");
    response.text().await.expect("HTML")
}

async fn rule(app: &TestApp, name: &str) -> Value {
    let (_, rules) = app.get_json("/api/rules").await;
    rules
        .as_array()
        .expect("rules")
        .iter()
        .find(|r| r["name"] == name)
        .cloned()
        .expect("the rule")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rules_page_lists_the_default_rules_and_their_forms() {
    let app = spawn_app().await;
    let page = html(&app, "/rules").await;
    for name in [
        "New error",
        "Spike",
        "Sustained",
        "Critical",
        "Regression",
        "Error rate",
    ] {
        assert!(
            page.contains(&format!(r#"<td data-label="Rule">{name}</td>"#)),
            "{name} listed"
        );
    }
    // The six error rules and the nine check rules (probes, self-monitoring, deploys).
    assert_eq!(page.matches(r#"class="rule""#).count(), 15);
    assert!(page.contains("≥ 10 in 1 min"), "the spike condition");
    assert!(page.contains(r#"action="/api/ui/rules/toggle""#));
    assert!(page.contains(r#"action="/api/ui/rules/edit""#));
    // Every input has a label.
    let spike = rule(&app, "Spike").await["id"].as_i64().expect("an id");
    assert!(page.contains(&format!(r#"<label for="rule-{spike}-threshold""#)));
    assert!(page.contains(&format!(r#"id="rule-{spike}-threshold""#)));
    assert!(page.contains("No alert has fired yet."));
    assert!(!page.contains("admin token is configured"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_toggle_form_disables_a_rule() {
    let app = spawn_app().await;
    let id = rule(&app, "Spike").await["id"].as_i64().expect("an id");

    let (status, location) = post_form(
        &app,
        "/api/ui/rules/toggle",
        &format!("id={id}&enabled=false"),
        &[],
    )
    .await;
    assert_eq!(status, 303);
    assert_eq!(location, format!("/rules?rule={id}&saved=1#rule-{id}"));
    assert_eq!(rule(&app, "Spike").await["enabled"], false);

    let page = html(&app, &location).await;
    assert!(page.contains("Saved."));
    assert!(
        page.contains("Enable rule “Spike”"),
        "the switch now enables"
    );

    // The hydrated app gets the rule back, as JSON.
    let (status, body) = post_app(
        &app,
        "/api/ui/rules/toggle",
        &format!("id={id}&enabled=true"),
        &[],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["Saved"]["enabled"], true);
    assert_eq!(rule(&app, "Spike").await["enabled"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rule_form_saves_thresholds_and_names_a_bad_field() {
    let app = spawn_app().await;
    let id = rule(&app, "Spike").await["id"].as_i64().expect("an id");
    let edit = |threshold: &str| {
        format!("id={id}&threshold={threshold}&window_minutes=2&cooldown_minutes=15")
    };

    let (status, location) = post_form(&app, "/api/ui/rules/edit", &edit("25"), &[]).await;
    assert_eq!(
        (status, location.as_str()),
        (303, format!("/rules?rule={id}&saved=1#rule-{id}").as_str())
    );
    let spike = rule(&app, "Spike").await;
    assert_eq!(
        spike["condition"],
        json!({"threshold": 25, "window_minutes": 2})
    );
    assert_eq!(spike["cooldown_minutes"], 15);
    assert!(html(&app, "/rules").await.contains("≥ 25 in 2 min"));

    // Zero: the store's check names the field; nothing changes.
    let (status, location) = post_form(&app, "/api/ui/rules/edit", &edit("0"), &[]).await;
    assert_eq!(status, 303);
    assert!(location.contains("field=condition.threshold"), "{location}");
    let page = html(&app, &location).await;
    assert!(page.contains("condition.threshold"), "the field is named");
    assert!(page.contains("must be at least 1"));
    assert!(page.contains(&format!(r#"aria-describedby="rule-{id}-problem""#)));
    assert!(page.contains(r#"aria-invalid="true""#));
    assert_eq!(rule(&app, "Spike").await["condition"]["threshold"], 25);

    // Not a number: named too; the app gets the problem as JSON.
    let (status, body) = post_app(&app, "/api/ui/rules/edit", &edit("ten"), &[]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["Problem"]["field"], "condition.threshold");
    assert_eq!(body["Problem"]["message"], "must be a whole number");

    // A threshold the rule does not have is refused by the store.
    let (_, body) = post_app(
        &app,
        "/api/ui/rules/edit",
        &format!("id={id}&minutes=3&cooldown_minutes=15"),
        &[],
    )
    .await;
    assert_eq!(body["Problem"]["field"], "condition.minutes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tasks_page_shows_tasks_and_changes_their_status() {
    let app = spawn_app().await;
    let fp = a_group(&app, "<script>alert(1)</script> render failed").await;
    let response = app
        .client
        .post(app.url("/api/tasks"))
        .json(&json!({"fingerprint": fp}))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 201);
    let task: Value = response.json().await.expect("the task");
    let id = task["id"].as_i64().expect("an id");

    let page = html(&app, "/tasks").await;
    assert!(page.contains(&format!(r#"id="task-{id}""#)));
    assert!(page.contains(&format!(r#"href="/errors/{fp}""#)));
    assert!(page.contains("&lt;script&gt;alert("), "log text is escaped");
    assert!(!page.contains("<script>alert("));
    assert!(page.contains(r#"action="/api/ui/tasks/status""#));
    assert!(page.contains(&format!(r#"<label for="task-{id}-status""#)));

    let (status, location) = post_form(
        &app,
        "/api/ui/tasks/status",
        &format!("id={id}&status=in_progress"),
        &[],
    )
    .await;
    assert_eq!(
        (status, location.as_str()),
        (303, format!("/tasks?task={id}&saved=1#task-{id}").as_str())
    );
    let (_, task) = app.get_json(&format!("/api/tasks/{id}")).await;
    assert_eq!(task["status"], "in_progress");
    assert!(html(&app, &location)
        .await
        .contains(&format!("Task #{id} saved.")));

    // Done: out of the main list, into the collapsed one; `?status=done` shows it alone.
    let (status, location) = post_form(
        &app,
        "/api/ui/tasks/status",
        &format!("id={id}&status=done&view=in_progress"),
        &[],
    )
    .await;
    assert_eq!(status, 303);
    assert!(
        location.starts_with("/tasks?status=in_progress&"),
        "{location}"
    );
    let page = html(&app, "/tasks").await;
    let details = page.find("<details").expect("a done section");
    assert!(page.find(&format!(r#"id="task-{id}""#)).expect("listed") > details);
    let done = html(&app, "/tasks?status=done").await;
    assert!(done.contains(&format!(r#"id="task-{id}""#)));
    assert!(!done.contains("<details"));
    assert!(!html(&app, "/tasks?status=open")
        .await
        .contains(&format!(r#"id="task-{id}""#)));

    // A status the form does not offer.
    let (status, location) = post_form(
        &app,
        "/api/ui/tasks/status",
        &format!("id={id}&status=closed"),
        &[],
    )
    .await;
    assert_eq!(status, 303);
    assert!(location.contains("error=bad_request"), "{location}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_task_on_the_group_page_opens_one_task() {
    let app = spawn_app().await;
    let fp = a_group(&app, "inventory sync lost its lease").await;
    let page = html(&app, &format!("/errors/{fp}")).await;
    assert!(page.contains(r#"action="/api/ui/tasks/create""#));
    assert!(page.contains("Create Task"));
    assert!(page.contains("No open task for this group."));
    assert!(page.contains("badge status-unresolved"));

    let form = format!("fingerprint={fp}");
    let (status, location) = post_form(&app, "/api/ui/tasks/create", &form, &[]).await;
    assert_eq!(status, 303);
    let (_, tasks) = app.get_json(&format!("/api/tasks?fingerprint={fp}")).await;
    let id = tasks["items"][0]["id"].as_i64().expect("a task");
    assert_eq!(location, format!("/errors/{fp}?task={id}&created=1#task"));
    let page = html(&app, &location).await;
    assert!(page.contains("Task created: "));
    assert!(page.contains(&format!(r#"href="/tasks#task-{id}""#)));
    assert!(page.contains(r#"data-testid="open-task""#));

    // A second press shows the same task.
    let (status, location) = post_form(&app, "/api/ui/tasks/create", &form, &[]).await;
    assert_eq!(status, 303);
    assert_eq!(location, format!("/errors/{fp}?task={id}&created=0#task"));
    assert!(html(&app, &location)
        .await
        .contains("This group already has an open task: "));
    let (_, tasks) = app.get_json(&format!("/api/tasks?fingerprint={fp}")).await;
    assert_eq!(tasks["items"].as_array().map(Vec::len), Some(1));

    // The app gets the task as JSON.
    let (status, body) = post_app(&app, "/api/ui/tasks/create", &form, &[]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (body["task"]["id"].as_i64(), &body["created"]),
        (Some(id), &json!(false))
    );

    // An unknown group.
    let (status, location) = post_form(&app, "/api/ui/tasks/create", "fingerprint=nope", &[]).await;
    assert_eq!(
        (status, location.as_str()),
        (303, "/errors/nope?error=not_found#task")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_an_admin_token_forms_need_it() {
    let app = spawn_app_with(&[("SIGNALBOX_ADMIN_TOKEN", "s3cret")]).await;
    let id = rule(&app, "Spike").await["id"].as_i64().expect("an id");
    let form = format!("id={id}&enabled=false");

    let page = html(&app, "/rules").await;
    assert!(
        page.contains("admin token is configured"),
        "the page says so"
    );

    // A plain form comes back with the refusal; nothing changed.
    let (status, location) = post_form(&app, "/api/ui/rules/toggle", &form, &[]).await;
    assert_eq!(status, 303);
    assert_eq!(location, format!("/rules?rule={id}&error=admin#rule-{id}"));
    assert_eq!(rule(&app, "Spike").await["enabled"], true);
    assert!(html(&app, &location)
        .await
        .contains("Not saved: log in first"));

    // The app's call is a 401; a wrong token too.
    let (status, _) = post_app(&app, "/api/ui/rules/toggle", &form, &[]).await;
    assert_eq!(status, 401);
    let wrong = [("authorization", "Bearer nope")];
    let (status, _) = post_app(&app, "/api/ui/rules/toggle", &form, &wrong).await;
    assert_eq!(status, 401);
    let (status, _) = post_app(
        &app,
        "/api/ui/rules/edit",
        &format!("id={id}&cooldown_minutes=1"),
        &[],
    )
    .await;
    assert_eq!(status, 401);
    let (status, _) = post_app(&app, "/api/ui/tasks/status", "id=1&status=done", &[]).await;
    assert_eq!(status, 401);
    let (status, _) = post_app(&app, "/api/ui/tasks/create", "fingerprint=x", &[]).await;
    assert_eq!(status, 401);
    assert_eq!(rule(&app, "Spike").await["enabled"], true);

    // With the token (a proxy can add it), the same form works.
    let token = [("authorization", "Bearer s3cret")];
    let (status, location) = post_form(&app, "/api/ui/rules/toggle", &form, &token).await;
    assert_eq!(
        (status, location.as_str()),
        (303, format!("/rules?rule={id}&saved=1#rule-{id}").as_str())
    );
    assert_eq!(rule(&app, "Spike").await["enabled"], false);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forms_posted_from_another_site_are_refused() {
    let app = spawn_app().await;
    let id = rule(&app, "Spike").await["id"].as_i64().expect("an id");
    let form = format!("id={id}&enabled=false");
    for headers in [
        &[("sec-fetch-site", "cross-site")][..],
        &[("origin", "https://evil.example")][..],
    ] {
        let (status, _) = post_app(&app, "/api/ui/rules/toggle", &form, headers).await;
        assert_eq!(status, 403, "{headers:?}");
    }
    assert_eq!(rule(&app, "Spike").await["enabled"], true);
    // The same site is fine.
    let host = app.address.trim_start_matches("http://").to_string();
    let origin = format!("http://{host}");
    let (status, _) = post_app(
        &app,
        "/api/ui/rules/toggle",
        &form,
        &[
            ("origin", origin.as_str()),
            ("sec-fetch-site", "same-origin"),
        ],
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(rule(&app, "Spike").await["enabled"], false);
}
