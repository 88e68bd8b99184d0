//! The fake over the wire, with ordinary clients (reqwest, tokio-tungstenite).

use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value as Json};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Message;

use super::*;

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

fn at(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(1_800_000_000_000 + ms)
        .single()
        .expect("valid")
}

fn line(ms: i64, message: &str, severity: Option<&str>) -> LogLine {
    LogLine {
        timestamp: at(ms),
        message: message.into(),
        severity: severity.map(str::to_string),
        attributes: Vec::new(),
        instance_id: "replica-1".into(),
    }
}

/// POSTs a query with a token header; status, headers and the body (JSON if it parses, else a
/// string).
async fn post(
    fake: &FakeRailway,
    header: Option<(&str, String)>,
    body: Json,
) -> (u16, reqwest::header::HeaderMap, Json) {
    let mut req = reqwest::Client::new().post(fake.url()).json(&body);
    if let Some((name, value)) = header {
        req = req.header(name, value);
    }
    let resp = req.send().await.expect("answered");
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let text = resp.text().await.expect("body");
    (
        status,
        headers,
        serde_json::from_str(&text).unwrap_or(Json::String(text)),
    )
}

fn bearer(token: &str) -> Option<(&'static str, String)> {
    Some(("Authorization", format!("Bearer {token}")))
}

async fn query(fake: &FakeRailway, q: &str, variables: Json) -> (u16, Json) {
    let (status, _, body) = post(
        fake,
        bearer("test-token"),
        json!({ "query": q, "variables": variables }),
    )
    .await;
    (status, body)
}

const LOGS: &str = "query Logs($id: String!, $n: Int, $from: DateTime, $to: DateTime, $f: String) {
  deploymentLogs(deploymentId: $id, limit: $n, startDate: $from, endDate: $to, filter: $f) {
    timestamp message severity tags { deploymentInstanceId serviceId } attributes { key value } } }";

fn messages(body: &Json) -> Vec<String> {
    body["data"]["deploymentLogs"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|l| l["message"].as_str().unwrap_or_default().to_string())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn auth_errors_are_http_200_with_errors() {
    let fake = FakeRailway::start(Options::default()).await;
    let me = json!({ "query": "query { me { id email } }" });
    let (status, _, ok) = post(&fake, bearer("test-token"), me.clone()).await;
    assert_eq!(status, 200);
    assert_eq!(ok["data"]["me"]["email"], "fake@signalbox.invalid");
    assert!(ok.get("errors").is_none());

    for header in [
        None,
        bearer("wrong"),
        Some(("Authorization", "test-token".to_string())),
    ] {
        let (status, _, body) = post(&fake, header, me.clone()).await;
        assert_eq!(status, 200);
        assert_eq!(body["data"], Json::Null);
        let e = &body["errors"][0];
        assert_eq!(e["message"], "Not Authorized");
        assert_eq!(e["path"], json!(["me"]));
        assert_eq!(e["locations"], json!([{ "line": 1, "column": 9 }]));
        assert_eq!(e["extensions"]["code"], "INTERNAL_SERVER_ERROR");
        assert!(
            e["traceId"]
                .as_str()
                .is_some_and(|t| t.parse::<u64>().is_ok()),
            "{e}"
        );
    }
    let (_, _, body) = post(
        &fake,
        Some(("Project-Access-Token", "test-token".into())),
        me,
    )
    .await;
    assert_eq!(body["errors"][0]["message"], "Project Token not found");
    assert_eq!(fake.http_requests(), 5);
}

#[tokio::test]
async fn project_tokens_see_their_project_only() {
    let fake = FakeRailway::start(Options {
        token: "pt".into(),
        token_kind: TokenKind::Project,
        ..Options::default()
    })
    .await;
    let header = || Some(("Project-Access-Token", "pt".to_string()));
    let (_, _, body) = post(
        &fake,
        header(),
        json!({ "query": "{ projectToken { projectId environmentId } }" }),
    )
    .await;
    assert_eq!(
        body["data"]["projectToken"],
        json!({ "projectId": fake.project_id(), "environmentId": fake.environment_id() })
    );
    let (_, _, body) = post(&fake, header(), json!({ "query": "{ me { id } }" })).await;
    assert_eq!(body["errors"][0]["message"], "Not Authorized");
    let (_, _, body) = post(
        &fake,
        bearer("pt"),
        json!({ "query": "{ projectToken { projectId } }" }),
    )
    .await;
    assert_eq!(
        body["errors"][0]["message"], "Not Authorized",
        "a project token is not a Bearer token"
    );
    let q = "query($p: String!) { project(id: $p) { name } }";
    let (_, _, body) = post(
        &fake,
        header(),
        json!({ "query": q, "variables": { "p": "someone-else" } }),
    )
    .await;
    assert_eq!(body["errors"][0]["message"], "Not Authorized");
    let (_, _, body) = post(
        &fake,
        header(),
        json!({ "query": q, "variables": { "p": fake.project_id() } }),
    )
    .await;
    assert_eq!(body["data"]["project"]["name"], "signalbox-fake");
}

#[tokio::test]
async fn rate_limit_headers_then_429() {
    let fake = FakeRailway::start(Options {
        rate_limit_per_hour: Some(2),
        ..Options::default()
    })
    .await;
    let body = json!({ "query": "{ me { id } }" });
    let now = Utc::now().timestamp();
    for remaining in ["1", "0"] {
        let (status, h, _) = post(&fake, bearer("test-token"), body.clone()).await;
        assert_eq!(status, 200);
        assert_eq!(h["x-ratelimit-limit"], "2");
        assert_eq!(h["x-ratelimit-remaining"], remaining);
        let reset: i64 = h["x-ratelimit-reset"]
            .to_str()
            .expect("ascii")
            .parse()
            .expect("epoch seconds");
        assert!((now + 3590..=now + 3610).contains(&reset), "{reset}");
        assert!(h.get("retry-after").is_none());
    }
    let (status, h, b) = post(&fake, bearer("test-token"), body.clone()).await;
    assert_eq!(status, 429);
    assert_eq!(b, json!({ "data": null }));
    assert_eq!(h["x-ratelimit-remaining"], "0");
    let retry: u64 = h["retry-after"]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("seconds");
    assert!((3590..=3600).contains(&retry), "{retry}");
    fake.reset_rate_limit();
    assert_eq!(post(&fake, bearer("test-token"), body).await.0, 200);
}

#[tokio::test]
async fn bad_requests_are_http_400() {
    let fake = FakeRailway::start(Options {
        max_limit: Some(1000),
        ..Options::default()
    })
    .await;
    let code = |b: &Json| {
        b["errors"][0]["extensions"]["code"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    let (s, b) = query(
        &fake,
        "{ deploymentLogz(deploymentId: \"x\") { message } }",
        json!({}),
    )
    .await;
    assert_eq!((s, code(&b).as_str()), (400, "GRAPHQL_VALIDATION_FAILED"));
    assert!(b.get("data").is_none());
    let (s, b) = query(&fake, "{ me { id }", json!({})).await;
    assert_eq!((s, code(&b).as_str()), (400, "GRAPHQL_PARSE_FAILED"));
    let (s, b) = query(&fake, LOGS, json!({ "id": "d", "n": 1001 })).await;
    assert_eq!((s, code(&b).as_str()), (400, "BAD_USER_INPUT"));
    let (s, b) = query(&fake, LOGS, json!({ "id": "d", "n": "ten" })).await;
    assert_eq!((s, code(&b).as_str()), (400, "BAD_USER_INPUT"));
    let q = "{ deployments(input: {status: {successfulOnly: true}}) { edges { node { id } } } }";
    let (s, b) = query(&fake, q, json!({})).await;
    assert_eq!((s, code(&b).as_str()), (400, "GRAPHQL_VALIDATION_FAILED"));
    let resp = reqwest::Client::new()
        .post(fake.url())
        .body("{not json")
        .send()
        .await
        .expect("answered");
    assert_eq!(resp.status().as_u16(), 400);
    // Validation comes before authentication.
    let (s, _, _) = post(&fake, None, json!({ "query": "{ nope }" })).await;
    assert_eq!(s, 400);
}

#[tokio::test]
async fn deployment_logs_window_limit_plus_one_and_ties() {
    let fake = FakeRailway::start(Options::default()).await;
    let service = fake.add_service("api");
    let d = fake.add_deployment(&service, "SUCCESS");
    // A trace at t=100 (four tied lines), lines around it.
    fake.push_logs(
        &d,
        vec![
            line(0, "boot", Some("info")),
            line(100, "Traceback (most recent call last):", Some("error")),
            line(100, "  File \"app.py\", line 1", Some("error")),
            line(200, "after", None),
            line(100, "    x()", Some("error")),
            line(100, "ZeroDivisionError: division by zero", Some("error")),
        ],
    );
    assert_eq!(
        fake.logs(&d).iter().map(|l| l.message.as_str()).nth(4),
        Some("ZeroDivisionError: division by zero")
    );
    // No dates: the newest limit+1.
    let (_, b) = query(&fake, LOGS, json!({ "id": d, "n": 2 })).await;
    assert_eq!(
        messages(&b),
        ["    x()", "ZeroDivisionError: division by zero", "after"]
    );
    // startDate inclusive keeps every tied line; endDate exclusive.
    let from = at(100).to_rfc3339();
    let (_, b) = query(
        &fake,
        LOGS,
        json!({ "id": d, "n": 10, "from": from, "to": at(200).to_rfc3339() }),
    )
    .await;
    assert_eq!(messages(&b).len(), 4);
    assert_eq!(messages(&b)[0], "Traceback (most recent call last):");
    // More than limit in the window: the newest limit+1 of them.
    let (_, b) = query(&fake, LOGS, json!({ "id": d, "n": 1, "from": from })).await;
    assert_eq!(
        messages(&b),
        ["ZeroDivisionError: division by zero", "after"]
    );
    // Exactly limit: no extra line.
    let (_, b) = query(
        &fake,
        LOGS,
        json!({ "id": d, "n": 5, "from": at(0).to_rfc3339() }),
    )
    .await;
    assert_eq!(messages(&b).len(), 6);
    let (_, b) = query(
        &fake,
        LOGS,
        json!({ "id": d, "n": 6, "from": at(0).to_rfc3339() }),
    )
    .await;
    assert_eq!(messages(&b).len(), 6);
    // Filter, tags, nanosecond timestamps, null severity.
    let (_, b) = query(
        &fake,
        LOGS,
        json!({ "id": d, "f": "@level:error -Traceback" }),
    )
    .await;
    assert_eq!(messages(&b).len(), 3);
    let first = &b["data"]["deploymentLogs"][0];
    assert_eq!(first["timestamp"], "2027-01-15T08:00:00.100000000Z");
    assert_eq!(
        first["tags"],
        json!({ "deploymentInstanceId": "replica-1", "serviceId": service })
    );
    let (_, b) = query(&fake, LOGS, json!({ "id": d, "f": "after" })).await;
    assert_eq!(b["data"]["deploymentLogs"][0]["severity"], Json::Null);
    // Unknown deployment: an error on a 200.
    let (s, b) = query(&fake, LOGS, json!({ "id": "nope" })).await;
    assert_eq!((s, b["data"].clone()), (200, Json::Null));
    assert_eq!(b["errors"][0]["message"], "Deployment not found");
    assert!(b["errors"][0]["extensions"]["traceId"].is_string());
}

#[tokio::test]
async fn each_selection_gets_its_own_shape_when_lines_are_read_again() {
    let fake = FakeRailway::start(Options::default()).await;
    let service = fake.add_service("api");
    let d = fake.add_deployment(&service, "SUCCESS");
    fake.push_logs(&d, vec![line(0, "a", Some("error")), line(1, "b", None)]);
    let (_, full) = query(&fake, LOGS, json!({ "id": d })).await;
    assert_eq!(messages(&full), ["a", "b"]);
    // The same lines again, shaped otherwise: two aliased root fields, the second with a
    // fragment and `__typename`; a repeated key keeps its last value, as a JSON object does.
    let other = "query($id: String!) {
      b: deploymentLogs(deploymentId: $id) { t: timestamp }
      a: deploymentLogs(deploymentId: $id, limit: 0) { ...L }
      b: deploymentLogs(deploymentId: $id) { t: timestamp }
    } fragment L on Log { __typename sev: severity }";
    let (status, body) = query(&fake, other, json!({ "id": d })).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        json!({ "data": {
            "a": [{ "__typename": "Log", "sev": null }],
            "b": [{ "t": "2027-01-15T08:00:00.000000000Z" }, { "t": "2027-01-15T08:00:00.001000000Z" }],
        } })
    );
    // And the first shape again, unchanged.
    let (_, again) = query(&fake, LOGS, json!({ "id": d })).await;
    assert_eq!(again, full);
    assert_eq!(
        full["data"]["deploymentLogs"][0]["tags"],
        json!({ "deploymentInstanceId": "replica-1", "serviceId": service })
    );
}

#[tokio::test]
async fn deployments_service_instance_and_project() {
    let fake = FakeRailway::start(Options::default()).await;
    let api = fake.add_service("api");
    let worker = fake.add_service("worker");
    let old = fake.add_deployment(&api, "SUCCESS");
    let crashed = fake.add_deployment(&api, "CRASHED");
    let newest = fake.add_deployment(&api, "BUILDING");
    fake.add_deployment(&worker, "SUCCESS");
    fake.set_deployment_status(&old, "REMOVED");
    fake.set_deployment_status(&newest, "SUCCESS");

    let (_, b) = query(
        &fake,
        "query($p: String!) { project(id: $p) { services { edges { node { id name } } } environments { edges { node { id name } } } } }",
        json!({ "p": fake.project_id() }),
    )
    .await;
    let services = &b["data"]["project"]["services"]["edges"];
    assert_eq!(services.as_array().map(Vec::len), Some(2));
    assert_eq!(
        b["data"]["project"]["environments"]["edges"][0]["node"]["name"],
        "production"
    );

    let (_, b) = query(
        &fake,
        "query($e: String!, $s: String!) { serviceInstance(environmentId: $e, serviceId: $s) { latestDeployment { id status createdAt } activeDeployments { id status } } }",
        json!({ "e": fake.environment_id(), "s": api }),
    )
    .await;
    let si = &b["data"]["serviceInstance"];
    assert_eq!(si["latestDeployment"]["id"], newest);
    assert_eq!(
        si["activeDeployments"],
        json!([{ "id": newest, "status": "SUCCESS" }])
    );

    let q = "query($input: DeploymentListInput!) { deployments(input: $input, first: 20) { edges { node { id status createdAt } } pageInfo { hasNextPage endCursor } } }";
    let (_, b) = query(
        &fake,
        q,
        json!({ "input": { "projectId": fake.project_id(), "serviceId": api } }),
    )
    .await;
    let mut ids: Vec<String> = b["data"]["deployments"]["edges"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| e["node"]["id"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(b["data"]["deployments"]["pageInfo"]["hasNextPage"], false);
    ids.sort();
    let mut want = vec![old.clone(), crashed.clone(), newest.clone()];
    want.sort();
    assert_eq!(ids, want);
    let (_, b) = query(
        &fake,
        q,
        json!({ "input": { "serviceId": api, "status": { "notIn": ["REMOVED", "CRASHED"] } } }),
    )
    .await;
    assert_eq!(b["data"]["deployments"]["edges"][0]["node"]["id"], newest);
    // Paging with first/after.
    let q1 = "query($i: DeploymentListInput!, $a: String) { deployments(input: $i, first: 1, after: $a) { edges { cursor } pageInfo { hasNextPage endCursor } } }";
    let mut seen = Vec::new();
    let mut after = Json::Null;
    loop {
        let (_, b) = query(&fake, q1, json!({ "i": {}, "a": after })).await;
        let page = &b["data"]["deployments"];
        seen.extend(
            page["edges"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|e| e["cursor"].clone()),
        );
        if page["pageInfo"]["hasNextPage"] != true {
            break;
        }
        after = page["pageInfo"]["endCursor"].clone();
    }
    assert_eq!(seen.len(), 4);
}

#[tokio::test]
async fn scripted_failures() {
    let fake = FakeRailway::start(Options::default()).await;
    let me = json!({ "query": "{ me { id } }" });
    fake.fail_next(1, Failure::Status(503));
    fake.fail_next(
        1,
        Failure::RateLimited {
            retry_after_secs: 7,
        },
    );
    fake.fail_next(1, Failure::Html);
    fake.fail_next(
        1,
        Failure::GraphqlErrors("Two Factor Authentication Required".into()),
    );
    let (s, _, b) = post(&fake, bearer("test-token"), me.clone()).await;
    assert_eq!((s, b), (503, json!("Service Unavailable")));
    let (s, h, b) = post(&fake, bearer("test-token"), me.clone()).await;
    assert_eq!(
        (s, &h["retry-after"], b),
        (429, &"7".parse().expect("header"), json!({ "data": null }))
    );
    let (s, h, b) = post(&fake, bearer("test-token"), me.clone()).await;
    assert_eq!(s, 403);
    assert!(h["content-type"]
        .to_str()
        .is_ok_and(|c| c.starts_with("text/html")));
    assert!(b
        .as_str()
        .is_some_and(|html| html.contains("Access denied")));
    let (s, _, b) = post(&fake, bearer("test-token"), me.clone()).await;
    assert_eq!((s, &b["data"]), (200, &Json::Null));
    assert_eq!(
        b["errors"][0]["message"],
        "Two Factor Authentication Required"
    );

    fake.fail_next(1, Failure::Reset);
    let err = reqwest::Client::new()
        .post(fake.url())
        .bearer_auth("test-token")
        .json(&me)
        .send()
        .await
        .expect_err("connection reset");
    assert!(!err.is_status(), "{err}");

    fake.fail_next(1, Failure::Slow(Duration::from_millis(300)));
    let started = Instant::now();
    let (s, _, _) = post(&fake, bearer("test-token"), me.clone()).await;
    assert_eq!(s, 200);
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(post(&fake, bearer("test-token"), me).await.0, 200);
    assert_eq!(fake.http_requests(), 7);
}

async fn ws_connect(fake: &FakeRailway, token: Option<&str>, protocol: bool) -> Ws {
    let mut req = fake.ws_url().into_client_request().expect("request");
    if protocol {
        req.headers_mut().insert(
            "Sec-WebSocket-Protocol",
            "graphql-transport-ws".parse().expect("header"),
        );
    }
    if let Some(t) = token {
        req.headers_mut().insert(
            "Authorization",
            format!("Bearer {t}").parse().expect("header"),
        );
    }
    let (ws, resp) = tokio_tungstenite::connect_async(req)
        .await
        .expect("connects");
    if protocol {
        assert_eq!(
            resp.headers()["sec-websocket-protocol"],
            "graphql-transport-ws"
        );
    }
    ws
}

async fn send(ws: &mut Ws, frame: Json) {
    ws.send(Message::text(frame.to_string()))
        .await
        .expect("sent");
}

/// The next text frame as JSON (panics on close or timeout).
async fn recv(ws: &mut Ws) -> Json {
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .expect("a frame in time");
        match msg {
            Some(Ok(Message::Text(t))) => {
                return serde_json::from_str(t.as_str()).expect("JSON frame")
            }
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            other => panic!("expected a text frame, got {other:?}"),
        }
    }
}

/// The close code and reason the server closes with.
async fn closed(ws: &mut Ws) -> (u16, String) {
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .expect("closed in time");
        match msg {
            Some(Ok(Message::Close(Some(f)))) => return (u16::from(f.code), f.reason.to_string()),
            Some(Ok(Message::Text(_) | Message::Ping(_) | Message::Pong(_))) => continue,
            other => panic!("expected a close frame, got {other:?}"),
        }
    }
}

async fn ws_ready(fake: &FakeRailway) -> Ws {
    let mut ws = ws_connect(fake, Some("test-token"), true).await;
    send(&mut ws, json!({ "type": "connection_init", "payload": {} })).await;
    assert_eq!(recv(&mut ws).await, json!({ "type": "connection_ack" }));
    ws
}

const SUB: &str = "subscription($d: String!, $n: Int, $f: String) { deploymentLogs(deploymentId: $d, limit: $n, filter: $f) { timestamp message severity attributes { key value } } }";

async fn wait_for(what: impl Fn() -> bool) {
    for _ in 0..200 {
        if what() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("condition not reached");
}

#[tokio::test]
async fn subscription_replays_then_streams() {
    let fake = FakeRailway::start(Options::default()).await;
    let d = fake.add_deployment(&fake.add_service("api"), "SUCCESS");
    fake.push_logs(
        &d,
        (0..5)
            .map(|i| line(i, &format!("old {i}"), Some("info")))
            .collect(),
    );
    let mut ws = ws_ready(&fake).await;

    send(&mut ws, json!({ "type": "ping", "payload": { "n": 1 } })).await;
    assert_eq!(
        recv(&mut ws).await,
        json!({ "type": "pong", "payload": { "n": 1 } })
    );

    send(&mut ws, json!({ "id": "1", "type": "subscribe", "payload": { "query": SUB, "variables": { "d": d, "n": 3 } } }))
        .await;
    let replay = recv(&mut ws).await;
    assert_eq!(
        (replay["id"].as_str(), replay["type"].as_str()),
        (Some("1"), Some("next"))
    );
    assert_eq!(messages(&replay["payload"]), ["old 2", "old 3", "old 4"]);
    assert_eq!(fake.active_subscriptions(), 1);

    let mut live = line(10, "live", Some("error"));
    live.attributes = vec![("level".into(), "error".into())];
    fake.push_logs(&d, vec![live.clone(), line(11, "live 2", None)]);
    let next = recv(&mut ws).await;
    assert_eq!(messages(&next["payload"]), ["live", "live 2"]);
    let attr = &next["payload"]["data"]["deploymentLogs"][0]["attributes"][0]["value"];
    assert!(attr == "error" || attr == "\"error\"", "{attr}");

    // A filtered subscription next to it only gets matching lines.
    send(
        &mut ws,
        json!({ "id": "2", "type": "subscribe", "payload": { "query": SUB, "variables": { "d": d, "f": "@level:error" } } }),
    )
    .await;
    assert_eq!(messages(&recv(&mut ws).await["payload"]), ["live"]);
    fake.push_logs(
        &d,
        vec![
            line(12, "quiet", Some("info")),
            line(13, "loud", Some("error")),
        ],
    );
    let (a, b) = (recv(&mut ws).await, recv(&mut ws).await);
    let (one, two) = if a["id"] == "1" { (a, b) } else { (b, a) };
    assert_eq!(messages(&one["payload"]), ["quiet", "loud"]);
    assert_eq!(messages(&two["payload"]), ["loud"]);

    send(&mut ws, json!({ "id": "1", "type": "complete" })).await;
    wait_for(|| fake.active_subscriptions() == 1).await;
    fake.push_logs(&d, vec![line(14, "only two", Some("error"))]);
    let only = recv(&mut ws).await;
    assert_eq!(only["id"], "2");

    // Subscribing to an unknown deployment: next with errors, then complete.
    send(&mut ws, json!({ "id": "3", "type": "subscribe", "payload": { "query": SUB, "variables": { "d": "nope" } } }))
        .await;
    let e = recv(&mut ws).await;
    assert_eq!(e["payload"]["errors"][0]["message"], "Deployment not found");
    assert_eq!(
        recv(&mut ws).await,
        json!({ "id": "3", "type": "complete" })
    );
    // An invalid document: an error frame.
    send(
        &mut ws,
        json!({ "id": "4", "type": "subscribe", "payload": { "query": "subscription { nope }" } }),
    )
    .await;
    let e = recv(&mut ws).await;
    assert_eq!(e["type"], "error");
    assert_eq!(
        e["payload"][0]["extensions"]["code"],
        "GRAPHQL_VALIDATION_FAILED"
    );
    // A query over the socket: next, complete.
    send(
        &mut ws,
        json!({ "id": "5", "type": "subscribe", "payload": { "query": "{ me { email } }" } }),
    )
    .await;
    assert_eq!(
        recv(&mut ws).await["payload"]["data"]["me"]["email"],
        "fake@signalbox.invalid"
    );
    assert_eq!(recv(&mut ws).await["type"], "complete");

    // A duplicate live id closes 4409.
    send(&mut ws, json!({ "id": "2", "type": "subscribe", "payload": { "query": SUB, "variables": { "d": d } } }))
        .await;
    assert_eq!(
        closed(&mut ws).await,
        (4409, "Subscriber for 2 already exists".into())
    );
    wait_for(|| fake.active_subscriptions() == 0).await;
}

#[tokio::test]
async fn close_codes() {
    let fake = FakeRailway::start(Options::default()).await;
    fake.set_ws_init_timeout(Duration::from_millis(200));

    let mut ws = ws_connect(&fake, Some("test-token"), true).await;
    assert_eq!(closed(&mut ws).await.0, 4408);

    let mut ws = ws_ready(&fake).await;
    send(&mut ws, json!({ "type": "connection_init" })).await;
    assert_eq!(closed(&mut ws).await.0, 4429);

    let mut ws = ws_connect(&fake, Some("wrong"), true).await;
    send(&mut ws, json!({ "type": "connection_init", "payload": {} })).await;
    assert_eq!(closed(&mut ws).await, (4401, "Unauthorized".into()));

    let mut ws = ws_connect(&fake, Some("test-token"), true).await;
    send(
        &mut ws,
        json!({ "id": "1", "type": "subscribe", "payload": { "query": SUB } }),
    )
    .await;
    assert_eq!(closed(&mut ws).await.0, 4401, "subscribe before the ack");

    for bad in [
        json!("not an object").to_string(),
        "{oops".to_string(),
        json!({ "type": "next", "id": "1" }).to_string(),
        json!({ "type": "subscribe", "payload": { "query": SUB } }).to_string(),
    ] {
        let mut ws = ws_ready(&fake).await;
        ws.send(Message::text(bad.clone())).await.expect("sent");
        assert_eq!(closed(&mut ws).await.0, 4400, "{bad}");
    }

    let mut ws = ws_connect(&fake, Some("test-token"), false).await;
    assert_eq!(
        closed(&mut ws).await,
        (4406, "Subprotocol not acceptable".into())
    );
    assert_eq!(u16::from(CloseCode::from(4406)), 4406);
}

#[tokio::test]
async fn drop_subscriptions_cuts_without_a_close_frame() {
    let fake = FakeRailway::start(Options::default()).await;
    let d = fake.add_deployment(&fake.add_service("api"), "SUCCESS");
    let mut ws = ws_ready(&fake).await;
    send(&mut ws, json!({ "id": "a", "type": "subscribe", "payload": { "query": SUB, "variables": { "d": d } } }))
        .await;
    assert_eq!(recv(&mut ws).await["type"], "next");
    assert_eq!(
        (
            fake.active_subscriptions(),
            fake.open_ws_connections(),
            fake.ws_connections()
        ),
        (1, 1, 1)
    );
    fake.drop_subscriptions();
    let end = tokio::time::timeout(Duration::from_secs(5), ws.next())
        .await
        .expect("ends in time");
    assert!(
        !matches!(end, Some(Ok(Message::Close(_)))),
        "no close frame: {end:?}"
    );
    assert_eq!(fake.active_subscriptions(), 0);
    wait_for(|| fake.open_ws_connections() == 0).await;

    // Reconnect: the replay carries what was pushed meanwhile.
    fake.push_logs(&d, vec![line(1, "while away", None)]);
    let mut ws = ws_ready(&fake).await;
    send(&mut ws, json!({ "id": "a", "type": "subscribe", "payload": { "query": SUB, "variables": { "d": d } } }))
        .await;
    assert_eq!(messages(&recv(&mut ws).await["payload"]), ["while away"]);
    assert_eq!(fake.ws_connections(), 2);
}

#[tokio::test]
async fn traffic_through_the_fake() {
    let fake = FakeRailway::start(Options::default()).await;
    let deployments: Vec<String> = (0..traffic::DEFAULT_SERVICES)
        .map(|i| fake.add_deployment(&fake.add_service(&format!("s{i}")), "SUCCESS"))
        .collect();
    for (service, l) in traffic::generate(3, 300) {
        fake.push_logs(&deployments[service], vec![l]);
    }
    let total: usize = deployments.iter().map(|d| fake.logs(d).len()).sum();
    assert_eq!(total, 300);
    let q = "query($e: String!) { environmentLogs(environmentId: $e, beforeLimit: 50) { message tags { deploymentId } } }";
    let (_, b) = query(&fake, q, json!({ "e": fake.environment_id() })).await;
    assert_eq!(
        b["data"]["environmentLogs"].as_array().map(Vec::len),
        Some(50)
    );
}
