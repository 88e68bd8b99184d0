//! The Loki source wired into the server: with `LOKI_ENABLED` the monitor reads a (fake) Loki.

use std::time::Duration;

use chrono::Utc;
use signalbox_fakes::loki::{FakeLoki, FakeLokiOptions};

use crate::helpers::spawn_app_with;

const SECOND: i64 = 1_000_000_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loki_lines_become_groups() {
    let loki = FakeLoki::start(FakeLokiOptions {
        multi_tenant: true,
        ..FakeLokiOptions::default()
    })
    .await
    .expect("the fake Loki starts");
    let two_minutes_ago = Utc::now().timestamp_nanos_opt().expect("now fits") - 120 * SECOND;
    let labels = [("job", "prod/shop"), ("service_name", "shop")];
    for (i, line) in [
        "Traceback (most recent call last):",
        "  File \"/app/shop/cart.py\", line 12, in add_item",
        "    total = prices[item]",
        "KeyError: 'sku-1'",
        "INFO next request",
    ]
    .iter()
    .enumerate()
    {
        loki.push(&labels, i128::from(two_minutes_ago + i as i64 * 1000), line);
    }
    let url = loki.url();
    let app = spawn_app_with(&[
        ("LOKI_ENABLED", "true"),
        ("LOKI_URL", &url),
        ("LOKI_TENANT_ID", "team-a"),
    ])
    .await;
    // The monitor polls every source when it starts.
    let mut items = Vec::new();
    for _ in 0..100 {
        let (_, body) = app.get_json("/api/logs/errors").await;
        items = body["items"].as_array().cloned().unwrap_or_default();
        if !items.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(items.len(), 1, "{items:#?}");
    assert_eq!(items[0]["service"], "shop");
    assert_eq!(items[0]["error_type"], "KeyError");
    let (_, health) = app.get_json("/health/detailed").await;
    assert_eq!(health["sources"]["loki"]["events"], 2, "{health}");
    assert_eq!(
        health["sources"]["loki"]["last_error"],
        serde_json::Value::Null
    );
}
