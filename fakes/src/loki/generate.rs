//! `signalbox-fake loki`: a fake Loki that fills itself with a few realistic log lines per
//! second, stack traces (one entry per line, as Promtail ships them) included.

use std::net::SocketAddr;
use std::time::Duration;

use chrono::Utc;

use super::{FakeLoki, FakeLokiOptions};

/// Time between two generated entries.
const TICK: Duration = Duration::from_millis(400);

/// What the services say, in turn; a multi-line text is one trace pushed line by line.
const SCRIPT: &[(&str, &str, &str)] = &[
    ("api", "info", "GET /api/orders 200 12ms"),
    ("worker", "info", "INFO job email.send finished in 210ms"),
    ("api", "info", "GET /api/users/42 200 8ms"),
    (
        "worker",
        "error",
        "Traceback (most recent call last):\n  File \"/app/jobs/billing.py\", line 88, in charge\n    invoice = invoices[customer_id]\nKeyError: 'cus_4242'",
    ),
    ("web", "warn", "WARN slow render of /checkout: 1840ms"),
    ("api", "error", "{\"level\":\"error\",\"msg\":\"payment provider timeout\",\"provider\":\"stripe\",\"elapsed_ms\":30001}"),
    ("api", "info", "POST /api/cart 201 31ms"),
    (
        "web",
        "error",
        "TypeError: Cannot read properties of undefined (reading 'id')\n    at renderCart (/app/src/cart.js:41:18)\n    at processTicksAndRejections (node:internal/process/task_queues:95:5)",
    ),
    ("worker", "info", "INFO queue depth 3"),
    (
        "api",
        "error",
        "thread 'tokio-runtime-worker' panicked at src/db.rs:42:9:\ncalled `Option::unwrap()` on a `None` value\nnote: run with `RUST_BACKTRACE=1` environment variable to display a backtrace",
    ),
];

/// Serves a fake Loki on `127.0.0.1:port` and generates lines until Ctrl-C.
pub async fn run(port: u16) -> std::io::Result<()> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let loki = FakeLoki::start_on(addr, FakeLokiOptions::default()).await?;
    println!(
        "fake Loki on {} (LOKI_URL={} LOKI_DELAY_SECONDS=5); Ctrl-C stops it",
        loki.url(),
        loki.url()
    );
    let mut ticker = tokio::time::interval(TICK);
    let mut step = 0usize;
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => return Ok(()),
            _ = ticker.tick() => {
                push_step(&loki, step);
                step += 1;
            }
        }
    }
}

/// Pushes the script's `step`-th item, one entry per line, 1 µs apart.
fn push_step(loki: &FakeLoki, step: usize) {
    let (service, level, text) = SCRIPT[step % SCRIPT.len()];
    let now = i128::from(Utc::now().timestamp_nanos_opt().unwrap_or_default());
    let labels = [
        ("job", service),
        ("service_name", service),
        ("env", "dev"),
        ("level", level),
    ];
    for (i, line) in text.lines().enumerate() {
        loki.push(&labels, now + i as i128 * 1000, line);
    }
}
