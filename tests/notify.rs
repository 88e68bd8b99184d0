//! The notifier against the fake Slack / webhook receiver: retries, Retry-After, permanent
//! failures, signatures, shutdown mid-delivery, and two workers on one outbox.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use signalbox::model::{
    Alert, AlertAction, AlertRuleType, DeliveryStatus, Event, Group, Level, Notification,
};
use signalbox::notify::{self, Channels, Notifier, Settings};
use signalbox::pipeline::Pipeline;
use signalbox::store::{GroupQuery, Store};
use signalbox_fakes::slack::{Failure, FakeSlack};
use tokio_util::sync::CancellationToken;

struct Setup {
    store: Store,
    fake: FakeSlack,
    group: Group,
    _dir: tempfile::TempDir,
}

async fn setup() -> Setup {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(&format!("sqlite://{}/n.db", dir.path().display()))
        .await
        .expect("open");
    let event = Event {
        timestamp: Utc::now(),
        level: Level::Error,
        message: "payment provider stripe returned 502 <!channel>".into(),
        exception: None,
        stack_trace: Some("  at charge (src/pay.rs:10)".into()),
        service: Some("checkout".into()),
        deployment: None,
        environment: None,
        attributes: Default::default(),
        source: "test".into(),
        source_id: None,
    };
    store
        .write_batch(&[Pipeline::default().process(event)], None)
        .await
        .expect("write");
    let group = store
        .list_groups(&GroupQuery {
            limit: 1,
            ..Default::default()
        })
        .await
        .expect("list")
        .items
        .remove(0);
    Setup {
        store,
        fake: FakeSlack::start().await.expect("fake starts"),
        group,
        _dir: dir,
    }
}

fn alert(group: &Group, fired_at: DateTime<Utc>) -> Alert {
    Alert {
        id: 1,
        rule_id: 4,
        rule_name: "new errors".into(),
        rule_type: AlertRuleType::NewFingerprint,
        action: AlertAction::Notify,
        fingerprint: Some(group.fingerprint.clone()),
        service: group.service.clone(),
        fired_at,
        summary: "first seen".into(),
    }
}

fn slack_only() -> Channels {
    Channels {
        slack: true,
        public_url: "http://localhost:3000".into(),
        ..Channels::default()
    }
}

/// Fast timings: tests must not wait 30 s for a retry.
fn settings(fake: &FakeSlack) -> Settings {
    Settings {
        slack_webhook_url: Some(fake.slack_url().into()),
        webhook_url: Some(fake.webhook_url().into()),
        webhook_secret: None,
        poll_interval: Duration::from_millis(20),
        timeout: Duration::from_secs(5),
        backoff_base: Duration::from_millis(50),
        backoff_max: Duration::from_secs(5),
        claim: Duration::from_secs(30),
        slack_gap: Duration::from_millis(200),
        ..Settings::new()
    }
}

/// Enqueues `n` distinct Slack alerts for the setup's group.
async fn enqueue_alerts(s: &Setup, n: i64) {
    for i in 0..n {
        let mut alert = alert(&s.group, Utc::now() + chrono::Duration::seconds(i));
        alert.id = i + 1;
        notify::enqueue(&s.store, &alert, Some(&s.group), &slack_only())
            .await
            .expect("enqueue");
    }
}

fn start(store: &Store, settings: Settings) -> (CancellationToken, tokio::task::JoinHandle<()>) {
    let token = CancellationToken::new();
    let task = tokio::spawn(Notifier::run(store.clone(), settings, token.clone()));
    (token, task)
}

async fn rows(store: &Store, status: DeliveryStatus) -> Vec<Notification> {
    store.notifications(Some(status), 100).await.expect("list")
}

/// Waits (at most 15 s) until `n` rows have `status`.
async fn wait_for(store: &Store, status: DeliveryStatus, n: usize) -> Vec<Notification> {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let found = rows(store, status).await;
        if found.len() >= n {
            return found;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {n} {status} rows; all: {:?}",
            store.notifications(None, 100).await
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_500_is_retried_and_the_replayed_alert_is_sent_once() {
    let s = setup().await;
    let a = alert(&s.group, Utc::now());
    assert_eq!(
        notify::enqueue(&s.store, &a, Some(&s.group), &slack_only())
            .await
            .expect("enqueue"),
        1
    );
    assert_eq!(
        notify::enqueue(&s.store, &a, Some(&s.group), &slack_only())
            .await
            .expect("enqueue"),
        0
    );
    s.fake.fail_next(2, Failure::ServerError);
    let (token, task) = start(&s.store, settings(&s.fake));
    let sent = wait_for(&s.store, DeliveryStatus::Sent, 1).await;
    token.cancel();
    task.await.expect("worker ends");
    assert_eq!(sent[0].attempts, 3);
    assert_eq!(sent[0].last_error, None);
    let requests = s.fake.requests();
    assert_eq!(
        requests.iter().map(|r| r.status).collect::<Vec<_>>(),
        [500, 500, 200]
    );
    // The same message every time, with the idempotency key; Slack's checks passed.
    assert!(requests.windows(2).all(|w| w[0].body == w[1].body));
    let delivered = s.fake.unique_deliveries();
    assert_eq!(delivered.len(), 1);
    assert_eq!(
        delivered[0].header("idempotency-key"),
        Some(sent[0].idempotency_key.as_str())
    );
    let body = delivered[0].json();
    assert!(body["text"]
        .as_str()
        .is_some_and(|t| t.contains("checkout")));
    // Log text is escaped wherever Slack parses mrkdwn (the header is plain_text: never parsed).
    let mut parsed = body.clone();
    parsed["blocks"][0] = serde_json::Value::Null;
    assert!(!parsed.to_string().contains("<!channel>"), "{parsed}");
    assert!(parsed.to_string().contains("&lt;!channel&gt;"), "{parsed}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slack_429_holds_the_whole_channel_for_retry_after() {
    let s = setup().await;
    enqueue_alerts(&s, 3).await;
    s.fake.fail_next(
        1,
        Failure::RateLimited {
            retry_after_secs: 1,
        },
    );
    let (token, task) = start(&s.store, settings(&s.fake));
    wait_for(&s.store, DeliveryStatus::Sent, 3).await;
    token.cancel();
    task.await.expect("worker ends");
    let requests = s.fake.requests();
    assert_eq!(requests.len(), 4, "three rows, one of them twice");
    // After the 429 nothing at all goes to Slack until Retry-After has passed — not the
    // refused row (its backoff alone would be ~50 ms) and not the rows behind it (the pace
    // alone would be 200 ms).
    let gap = requests[1].at - requests[0].at;
    assert!(
        gap >= Duration::from_millis(950),
        "next request after {gap:?}"
    );
    assert!(gap < Duration::from_secs(4), "next request after {gap:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slack_messages_are_paced() {
    let s = setup().await;
    enqueue_alerts(&s, 4).await;
    let (token, task) = start(&s.store, settings(&s.fake));
    wait_for(&s.store, DeliveryStatus::Sent, 4).await;
    token.cancel();
    task.await.expect("worker ends");
    let requests = s.fake.requests();
    assert_eq!(requests.len(), 4);
    for pair in requests.windows(2) {
        let gap = pair[1].at - pair[0].at;
        // The gap is 200 ms; the fake stamps arrival, a little after the send began.
        assert!(
            gap >= Duration::from_millis(180),
            "two messages {gap:?} apart"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn permanent_errors_fail_at_once_and_give_up_after_max_attempts() {
    let s = setup().await;
    let now = Utc::now();
    notify::enqueue(
        &s.store,
        &alert(&s.group, now),
        Some(&s.group),
        &slack_only(),
    )
    .await
    .expect("enqueue");
    s.fake.fail_next(1, Failure::InvalidPayload);
    let (token, task) = start(
        &s.store,
        Settings {
            max_attempts: 3,
            ..settings(&s.fake)
        },
    );
    let failed = wait_for(&s.store, DeliveryStatus::Failed, 1).await;
    assert_eq!(failed[0].attempts, 1);
    assert_eq!(
        failed[0].last_error.as_deref(),
        Some("HTTP 400: invalid_payload")
    );
    assert_eq!(
        s.fake.requests().len(),
        1,
        "a permanent error is not retried"
    );

    // Retryable errors, every time: given up after max_attempts, never with the URL in the error.
    s.fake.fail_next(10, Failure::ServerError);
    notify::enqueue(
        &s.store,
        &alert(&s.group, now + chrono::Duration::seconds(1)),
        Some(&s.group),
        &slack_only(),
    )
    .await
    .expect("enqueue");
    let failed = wait_for(&s.store, DeliveryStatus::Failed, 2).await;
    token.cancel();
    task.await.expect("worker ends");
    assert_eq!(failed[0].attempts, 3);
    assert_eq!(
        failed[0].last_error.as_deref(),
        Some("gave up after 3 attempts: HTTP 500: rollup_error")
    );
    assert_eq!(s.fake.requests().len(), 4);
    // Connection errors are described without the (secret) URL.
    let store = s.store.clone();
    notify::enqueue(
        &store,
        &alert(&s.group, now + chrono::Duration::seconds(2)),
        Some(&s.group),
        &slack_only(),
    )
    .await
    .expect("enqueue");
    let dead = "http://127.0.0.1:9/services/T0/B0/SECRETPART";
    let (token, task) = start(
        &store,
        Settings {
            slack_webhook_url: Some(dead.into()),
            max_attempts: 1,
            ..settings(&s.fake)
        },
    );
    let failed = wait_for(&store, DeliveryStatus::Failed, 3).await;
    token.cancel();
    task.await.expect("worker ends");
    let error = failed[0].last_error.clone().unwrap_or_default();
    assert!(
        error.starts_with("gave up after 1 attempts: connection failed"),
        "{error}"
    );
    assert!(!error.contains("SECRETPART"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_are_signed() {
    let s = setup().await;
    let channels = Channels {
        webhook: true,
        ..slack_only()
    };
    notify::enqueue(
        &s.store,
        &alert(&s.group, Utc::now()),
        Some(&s.group),
        &channels,
    )
    .await
    .expect("enqueue");
    let (token, task) = start(
        &s.store,
        Settings {
            webhook_secret: Some("whsec_test".into()),
            ..settings(&s.fake)
        },
    );
    wait_for(&s.store, DeliveryStatus::Sent, 2).await;
    token.cancel();
    task.await.expect("worker ends");
    let hook = s
        .fake
        .delivered()
        .into_iter()
        .find(|d| d.path == "/hooks/signalbox")
        .expect("the webhook was called");
    let timestamp = hook.header("x-signalbox-timestamp").expect("timestamp");
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(b"whsec_test").expect("any key length");
    mac.update(format!("{timestamp}.{}", hook.body).as_bytes());
    let expected = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
    assert_eq!(
        hook.header("x-signalbox-signature"),
        Some(expected.as_str())
    );
    assert_eq!(hook.header("x-signalbox-event"), Some("incident.opened"));
    assert_eq!(hook.header("content-type"), Some("application/json"));
    let body = hook.json();
    assert_eq!(body["version"], 1);
    assert_eq!(
        body["incident"]["fingerprint"],
        s.group.fingerprint.as_str()
    );
    assert_eq!(body["incident"]["service"], "checkout");
    assert_eq!(
        hook.header("x-signalbox-delivery"),
        body["delivery_id"].as_str()
    );
    assert!(body["sent_at"].is_string());
    assert!(body["links"]["dashboard"]
        .as_str()
        .is_some_and(|l| l.ends_with(&format!("/errors/{}", s.group.fingerprint))));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shutdown_mid_delivery_leaves_the_row_for_the_next_worker() {
    let s = setup().await;
    notify::enqueue(
        &s.store,
        &alert(&s.group, Utc::now()),
        Some(&s.group),
        &slack_only(),
    )
    .await
    .expect("enqueue");
    s.fake.fail_next(1, Failure::Slow(Duration::from_secs(3)));
    let (token, task) = start(&s.store, settings(&s.fake));
    let deadline = Instant::now() + Duration::from_secs(10);
    while s.fake.requests().is_empty() {
        assert!(Instant::now() < deadline, "the worker never called");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let stopping = Instant::now();
    token.cancel();
    task.await.expect("worker ends");
    assert!(
        stopping.elapsed() < Duration::from_secs(1),
        "shutdown waits for no answer"
    );
    let pending = rows(&s.store, DeliveryStatus::Pending).await;
    assert_eq!(pending.len(), 1);
    assert_eq!(
        pending[0].attempts, 0,
        "the interrupted attempt is not counted"
    );
    assert!(
        pending[0].next_attempt_at <= Utc::now(),
        "due again at once"
    );

    let (token, task) = start(&s.store, settings(&s.fake));
    wait_for(&s.store, DeliveryStatus::Sent, 1).await;
    token.cancel();
    task.await.expect("worker ends");
    assert_eq!(
        s.fake.unique_deliveries().len(),
        1,
        "delivered exactly once"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_never_send_a_row_twice() {
    let s = setup().await;
    let start_at = Utc::now();
    for i in 0..12 {
        notify::enqueue(
            &s.store,
            &alert(&s.group, start_at + chrono::Duration::seconds(i)),
            Some(&s.group),
            &slack_only(),
        )
        .await
        .expect("enqueue");
    }
    let (a, task_a) = start(&s.store, settings(&s.fake));
    let (b, task_b) = start(&s.store, settings(&s.fake));
    wait_for(&s.store, DeliveryStatus::Sent, 12).await;
    a.cancel();
    b.cancel();
    task_a.await.expect("worker ends");
    task_b.await.expect("worker ends");
    assert_eq!(
        s.fake.requests().len(),
        12,
        "each row sent by exactly one worker"
    );
    assert_eq!(s.fake.unique_deliveries().len(), 12);
}
