//! Load and latency report for the sources (a report, not a timed test): runs the real
//! `signalbox` binary as a child process on loopback, against the fake Railway server, and
//! prints events/s, detection latency and the child's resident memory.
//!
//! ```sh
//! scripts/bench-sources.sh            # builds in release, then runs this with --bin
//! ```
//!
//! Sections: idle memory; a Railway backlog read through the GraphQL API; the JSON push
//! endpoint under load; detection latency through the stream and through polling; `mixed`:
//! sustained ingest through each endpoint (Sentry envelopes, OTLP/JSON, `/api/ingest`) for
//! `--seconds` while API, UI and `/health` readers run, with their p50/p95 and the RSS.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chrono::Utc;
use signalbox_fakes::railway::traffic::Traffic;
use signalbox_fakes::railway::{FakeRailway, LogLine, Options};

struct Args {
    bin: String,
    events: usize,
    samples: usize,
    /// Run one section only: idle, railway, push, latency, mixed.
    only: Option<String>,
    /// How long the mixed section loads the server.
    seconds: u64,
}

fn args() -> Result<Args, String> {
    let mut args = Args {
        bin: "target/release/signalbox".into(),
        events: 200_000,
        samples: 20,
        only: None,
        seconds: 20,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--bin" => args.bin = value()?,
            "--events" => {
                args.events = value()?
                    .parse()
                    .map_err(|_| "--events: expected a number")?
            }
            "--samples" => {
                args.samples = value()?
                    .parse()
                    .map_err(|_| "--samples: expected a number")?
            }
            "--seconds" => {
                args.seconds = value()?
                    .parse()
                    .ok()
                    .filter(|s| (1..=600).contains(s))
                    .ok_or("--seconds: expected 1 to 600")?
            }
            "--only" => {
                let section = value()?;
                if !["idle", "railway", "push", "latency", "mixed"].contains(&section.as_str()) {
                    return Err(format!(
                        "--only: '{section}' is not one of idle, railway, push, latency, mixed"
                    ));
                }
                args.only = Some(section);
            }
            other => {
                return Err(format!(
                    "unknown flag {other} (flags: --bin PATH --events N --samples N --seconds N --only SECTION)"
                ))
            }
        }
    }
    Ok(args)
}

/// A running `signalbox serve` and what it needs to be reached.
struct Server {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Server {
    fn start(bin: &str, env: &[(&str, String)]) -> Result<Server, String> {
        let dir = tempfile::tempdir().map_err(|e| format!("no temporary directory: {e}"))?;
        let port = free_port()?;
        let child = Command::new(bin)
            .arg("serve")
            .env("PORT", port.to_string())
            .env(
                "DATABASE_URL",
                format!("sqlite://{}/signalbox.db", dir.path().display()),
            )
            .env("LOG_LEVEL", "error")
            .env("LEPTOS_SITE_ROOT", "target/site")
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| {
                format!(
                    "cannot start {bin}: {e} (build it: cargo build --release -p signalbox-server)"
                )
            })?;
        Ok(Server {
            child,
            port,
            _dir: dir,
        })
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    async fn ready(&self, client: &reqwest::Client) -> Result<(), String> {
        for _ in 0..600 {
            if let Ok(r) = client.get(self.url("/health/readiness")).send().await {
                if r.status().is_success() {
                    return Ok(());
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Err("signalbox did not become ready within 30 s".into())
    }

    /// Resident memory of the child, in MiB.
    fn rss_mib(&self) -> f64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|kb| kb.parse::<f64>().ok())
            .map_or(0.0, |kb| kb / 1024.0)
    }

    /// CPU time the child has used so far, in seconds.
    fn cpu_seconds(&self) -> f64 {
        cpu_seconds(&format!("/proc/{}/stat", self.child.id()))
    }

    async fn stats(&self, client: &reqwest::Client) -> serde_json::Value {
        match client.get(self.url("/api/logs/stats")).send().await {
            Ok(r) => r.json().await.unwrap_or_default(),
            Err(_) => serde_json::Value::Null,
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// User + system CPU time of a process from its `/proc/PID/stat`, in seconds (0 when unreadable).
fn cpu_seconds(stat_path: &str) -> f64 {
    let stat = std::fs::read_to_string(stat_path).unwrap_or_default();
    // Fields after the command name (which may hold spaces): state is field 3, utime 14, stime 15.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // SAFETY: sysconf only reads a system constant.
    let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    (ticks(11) + ticks(12)) / per_second
}

fn free_port() -> Result<u16, String> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("no free loopback port: {e}"))
}

fn railway_env(fake: &FakeRailway) -> Vec<(&'static str, String)> {
    vec![
        ("RAILWAY_API_TOKEN", fake.token()),
        ("RAILWAY_API_URL", fake.url()),
        ("RAILWAY_PROJECT_ID", fake.project_id()),
        ("RAILWAY_ENVIRONMENT_ID", fake.environment_id()),
    ]
}

/// `n` realistic lines of `services` services from `start`, each service's distinct timestamps
/// `spacing` apart (ties kept: a trace's lines share one).
fn lines(
    seed: u64,
    services: usize,
    n: usize,
    start: chrono::DateTime<Utc>,
    spacing: chrono::Duration,
) -> Vec<(usize, LogLine)> {
    let mut traffic = Traffic::new(seed, services, start);
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        out.extend(traffic.next_event());
    }
    out.truncate(n);
    // Keep the order and the ties, set the pace.
    let mut previous = vec![None; services];
    let mut t = vec![start; services];
    for (service, line) in out.iter_mut() {
        if previous[*service] != Some(line.timestamp) {
            previous[*service] = Some(line.timestamp);
            t[*service] += spacing;
        }
        line.timestamp = t[*service];
    }
    out
}

/// Events the backlog makes: what a reference read would store (traces are one event).
async fn wait_until_stable(
    server: &Server,
    client: &reqwest::Client,
    started: Instant,
    peak: &mut f64,
) -> Stored {
    let mut last = -1;
    let mut last_change = Instant::now();
    let mut done_at = started.elapsed();
    // The first sample with events stored: from there on the rate is the sustained one.
    let mut first: Option<(i64, Duration)> = None;
    loop {
        tokio::time::sleep(Duration::from_millis(100)).await;
        *peak = peak.max(server.rss_mib());
        let lines = server.stats(client).await["lines"].as_i64().unwrap_or(0);
        if lines != last {
            last = lines;
            last_change = Instant::now();
            done_at = started.elapsed();
            if first.is_none() && lines > 0 {
                first = Some((lines, done_at));
            }
        } else if last > 0 && last_change.elapsed() > Duration::from_secs(3) {
            let sustained = first
                .filter(|(_, at)| done_at > *at)
                .map(|(n, at)| (last - n) as f64 / (done_at - at).as_secs_f64());
            return Stored {
                events: last,
                took: done_at,
                sustained,
            };
        }
    }
}

/// What [`wait_until_stable`] saw.
struct Stored {
    events: i64,
    /// From the server's start to the last event stored.
    took: Duration,
    /// Events/s between the first and the last sample that saw new events (start-up excluded).
    sustained: Option<f64>,
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Seconds from a line appearing at the source to its error being counted by the API (the
/// group and the counters are written in the same transaction).
async fn latency(
    server: &Server,
    client: &reqwest::Client,
    fake: &FakeRailway,
    deployment: &str,
    samples: usize,
) -> Vec<Duration> {
    let mut out = Vec::new();
    for i in 0..samples {
        let before = server.stats(client).await["errors"].as_i64().unwrap_or(0);
        let started = Instant::now();
        fake.push_logs(
            deployment,
            vec![LogLine {
                timestamp: Utc::now(),
                message: format!("ERROR payment declined by provider for order {i}"),
                severity: Some("error".into()),
                attributes: Vec::new(),
                instance_id: "replica-1".into(),
            }],
        );
        loop {
            let errors = server.stats(client).await["errors"].as_i64().unwrap_or(0);
            if errors > before || started.elapsed() > Duration::from_secs(60) {
                out.push(started.elapsed());
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    out.sort();
    out
}

fn report_latency(name: &str, sorted: &[Duration]) {
    println!(
        "{name:<44} p50 {:>6.2} s   p95 {:>6.2} s   max {:>6.2} s   ({} samples)",
        percentile(sorted, 0.5).as_secs_f64(),
        percentile(sorted, 0.95).as_secs_f64(),
        sorted.last().copied().unwrap_or_default().as_secs_f64(),
        sorted.len()
    );
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args = match args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("loadtest: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    match run(&args).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("loadtest: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(args: &Args) -> Result<(), String> {
    let client = reqwest::Client::new();
    println!(
        "signalbox load report ({} events; binary {})",
        args.events, args.bin
    );

    let run = |section: &str| args.only.as_deref().is_none_or(|only| only == section);

    // 1. Idle, with the Railway source configured and its stream connected.
    if run("idle") {
        let fake = FakeRailway::start(Options::default()).await;
        let service = fake.add_service("api");
        fake.add_deployment(&service, "SUCCESS");
        let server = Server::start(&args.bin, &railway_env(&fake))?;
        server.ready(&client).await?;
        tokio::time::sleep(Duration::from_secs(5)).await;
        println!(
            "{:<44} {:>8.1} MiB (Railway stream connected: {})",
            "RSS idle",
            server.rss_mib(),
            fake.active_subscriptions() > 0
        );
    }

    // 2. A Railway backlog, read through the GraphQL API in pages.
    if run("railway") {
        let fake = FakeRailway::start(Options::default()).await;
        let services: Vec<String> = (0..3)
            .map(|i| fake.add_service(&format!("service-{i}")))
            .collect();
        // Written as fast as Railway takes logs (500 lines/s per replica, one replica each),
        // before Signalbox starts: the backlog spans n / 1500 seconds.
        let spacing = chrono::Duration::milliseconds(2);
        let span = spacing * (args.events / services.len() + 1) as i32;
        let start = Utc::now() - span - chrono::Duration::seconds(1);
        let deployments: Vec<String> = services
            .iter()
            .map(|s| fake.add_deployment_created(s, "SUCCESS", start))
            .collect();
        let mut by_deployment: Vec<Vec<LogLine>> = vec![Vec::new(); deployments.len()];
        for (service, line) in lines(7, deployments.len(), args.events, start, spacing) {
            by_deployment[service].push(line);
        }
        for (deployment, lines) in deployments.iter().zip(by_deployment) {
            fake.push_logs(deployment, lines);
        }
        // The fake keeps each line's answer text once built: read everything once, with the
        // query Signalbox sends, so that the run measures Signalbox rather than the fake.
        for deployment in &deployments {
            client
                .post(fake.url())
                .bearer_auth(fake.token())
                .json(&serde_json::json!({
                    "query": signalbox::sources::railway::wire::deployment_logs_query(),
                    "variables": {"deploymentId": deployment, "limit": args.events + 1},
                }))
                .send()
                .await
                .and_then(|r| r.error_for_status())
                .map_err(|e| format!("warming the fake Railway: {e}"))?;
        }
        let warm_up_requests = fake.http_requests();
        tokio::time::sleep(Duration::from_secs(1)).await;
        let mut env = railway_env(&fake);
        env.extend([
            ("RAILWAY_PAGE_SIZE", "5000".to_string()),
            ("RAILWAY_LAG_SECONDS", "0".to_string()),
            ("RAILWAY_STREAM", "false".to_string()),
        ]);
        let started = Instant::now();
        let own_cpu = cpu_seconds("/proc/self/stat");
        let server = Server::start(&args.bin, &env)?;
        let mut peak = 0.0;
        let stored = wait_until_stable(&server, &client, started, &mut peak).await;
        let (events, took) = (stored.events, stored.took);
        // The fake runs in this process, on the same cores: its share of the CPU is reported
        // beside the server's (the wait for a stable count adds about 3 s of idle polling).
        let server_cpu = server.cpu_seconds();
        let fake_cpu = cpu_seconds("/proc/self/stat") - own_cpu;
        println!(
            "{:<44} {:>8.0} events/s sustained, {:.0} from start-up ({events} events from {} lines in {:.1} s; peak RSS {peak:.1} MiB; {} API requests; CPU: server {server_cpu:.2} s, fake Railway and load generator {fake_cpu:.2} s)",
            "Railway backlog (GraphQL pages of 5000)",
            stored.sustained.unwrap_or(0.0),
            events as f64 / took.as_secs_f64(),
            args.events,
            took.as_secs_f64(),
            fake.http_requests() - warm_up_requests
        );
    }

    // 3. The JSON push endpoint: JSON lines in batches of 1000, four at a time.
    if run("push") {
        let server = Server::start(&args.bin, &[("INGEST_RATE_LIMIT", "100000000".to_string())])?;
        server.ready(&client).await?;
        let project: serde_json::Value = client
            .post(server.url("/api/projects"))
            .json(&serde_json::json!({"name": "load"}))
            .send()
            .await
            .map_err(|e| format!("creating a project: {e}"))?
            .json()
            .await
            .map_err(|e| format!("creating a project: {e}"))?;
        let key = project["public_key"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let all = lines(
            11,
            3,
            args.events,
            Utc::now(),
            chrono::Duration::microseconds(1),
        );
        let bodies: Vec<String> = all
            .chunks(1000)
            .map(|chunk| {
                chunk
                    .iter()
                    .map(|(service, l)| {
                        serde_json::json!({
                            "timestamp": l.timestamp.to_rfc3339(),
                            "level": l.severity.as_deref().unwrap_or("info"),
                            "message": l.message,
                            "service": format!("service-{service}"),
                        })
                        .to_string()
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            })
            .collect();
        let started = Instant::now();
        let queue = std::sync::Arc::new(std::sync::Mutex::new(bodies));
        let mut workers = Vec::new();
        for _ in 0..4 {
            let queue = queue.clone();
            let client = client.clone();
            let url = server.url("/api/ingest");
            let key = key.clone();
            workers.push(tokio::spawn(async move {
                let mut rejected = 0;
                loop {
                    let Some(body) = queue.lock().ok().and_then(|mut q| q.pop()) else {
                        return rejected;
                    };
                    let ok = client
                        .post(&url)
                        .header("x-signalbox-key", &key)
                        .header("content-type", "application/x-ndjson")
                        .body(body)
                        .send()
                        .await
                        .is_ok_and(|r| r.status().is_success());
                    if !ok {
                        rejected += 1;
                    }
                }
            }));
        }
        let mut peak: f64 = 0.0;
        let mut rejected = 0;
        for w in workers {
            while !w.is_finished() {
                peak = peak.max(server.rss_mib());
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            rejected += w.await.unwrap_or(0);
        }
        let took = started.elapsed();
        let stored = server.stats(&client).await["lines"].as_i64().unwrap_or(0);
        println!(
            "{:<44} {:>8.0} events/s ({stored} stored in {:.1} s; {rejected} batches refused; peak RSS {peak:.1} MiB)",
            "JSON push (POST /api/ingest, 4 clients)",
            stored as f64 / took.as_secs_f64(),
            took.as_secs_f64()
        );
    }

    // 4. Detection latency: a line appears at the source → its group is in the API.
    let latency_runs = if run("latency") { 2 } else { 0 };
    for (name, extra) in [
        (
            "detection latency, Railway stream",
            vec![("ERROR_MONITOR_INTERVAL", "300".to_string())],
        ),
        (
            "detection latency, Railway polling every 2 s",
            vec![
                ("ERROR_MONITOR_INTERVAL", "2".to_string()),
                ("RAILWAY_STREAM", "false".to_string()),
                ("RAILWAY_LAG_SECONDS", "0".to_string()),
            ],
        ),
    ]
    .into_iter()
    .take(latency_runs)
    {
        let fake = FakeRailway::start(Options::default()).await;
        let service = fake.add_service("api");
        let deployment = fake.add_deployment(&service, "SUCCESS");
        let mut env = railway_env(&fake);
        env.extend(extra);
        let server = Server::start(&args.bin, &env)?;
        server.ready(&client).await?;
        tokio::time::sleep(Duration::from_secs(2)).await;
        let samples = latency(&server, &client, &fake, &deployment, args.samples).await;
        report_latency(name, &samples);
    }

    if run("mixed") {
        mixed(&client, args).await?;
    }
    Ok(())
}

/// One endpoint's body builder: (path, headers, body) for batch `i`, and the events in it.
type Request = (String, Vec<(&'static str, String)>, String, usize);

fn sentry_request(project: i64, key: &str, i: usize) -> Request {
    let id = format!("{:032x}", i as u128 + 1);
    let body = format!(
        "{{\"event_id\":\"{id}\"}}\n{{\"type\":\"event\"}}\n{}\n",
        serde_json::json!({"event_id": id, "level": if i.is_multiple_of(20) { "error" } else { "info" },
            "platform": "python", "timestamp": Utc::now().timestamp_millis() as f64 / 1000.0,
            "message": format!("checkout step {} took {} ms", i % 7, i % 500),
            "tags": {"service": "sentry-app"}})
    );
    (
        format!("/api/{project}/envelope/"),
        vec![(
            "x-sentry-auth",
            format!("Sentry sentry_key={key}, sentry_version=7"),
        )],
        body,
        1,
    )
}

fn otlp_request(key: &str, i: usize) -> Request {
    const RECORDS: usize = 200;
    let now = Utc::now().timestamp_nanos_opt().unwrap_or(0);
    let records: Vec<serde_json::Value> = (0..RECORDS)
        .map(|j| {
            let n = i * RECORDS + j;
            serde_json::json!({
                "timeUnixNano": (now + n as i64).to_string(),
                "severityNumber": if n.is_multiple_of(20) { 17 } else { 9 },
                "severityText": if n.is_multiple_of(20) { "ERROR" } else { "INFO" },
                "body": {"stringValue": format!("order {n} handled by worker {}", n % 13)},
            })
        })
        .collect();
    let body = serde_json::json!({"resourceLogs": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "otel-app"}}]},
        "scopeLogs": [{"logRecords": records}]}]});
    (
        "/v1/logs".into(),
        vec![
            ("x-signalbox-key", key.to_string()),
            ("content-type", "application/json".into()),
        ],
        body.to_string(),
        RECORDS,
    )
}

fn push_request(key: &str, i: usize) -> Request {
    const LINES: usize = 500;
    let body = (0..LINES)
        .map(|j| {
            let n = i * LINES + j;
            serde_json::json!({"level": if n.is_multiple_of(20) { "error" } else { "info" },
                "message": format!("payment {n} settled in {} ms", n % 900), "service": "push-app"})
            .to_string()
        })
        .collect::<Vec<_>>()
        .join("\n");
    (
        "/api/ingest".into(),
        vec![
            ("x-signalbox-key", key.to_string()),
            ("content-type", "application/x-ndjson".into()),
        ],
        body,
        LINES,
    )
}

/// Sustained ingest through every endpoint while readers load the API, the UI and /health.
async fn mixed(client: &reqwest::Client, args: &Args) -> Result<(), String> {
    let server = Server::start(&args.bin, &[("INGEST_RATE_LIMIT", "100000000".to_string())])?;
    server.ready(client).await?;
    let project: serde_json::Value = client
        .post(server.url("/api/projects"))
        .json(&serde_json::json!({"name": "mixed"}))
        .send()
        .await
        .map_err(|e| format!("creating a project: {e}"))?
        .json()
        .await
        .map_err(|e| format!("creating a project: {e}"))?;
    let key = project["public_key"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let id = project["id"].as_i64().unwrap_or(1);
    let deadline = Instant::now() + Duration::from_secs(args.seconds);
    let started = Instant::now();

    // Writers: one per endpoint, sequential requests (a client that waits for each answer).
    type Build = Box<dyn Fn(usize) -> Request + Send>;
    let builders: Vec<(&'static str, Build)> = vec![
        ("Sentry envelope", {
            let key = key.clone();
            Box::new(move |i| sentry_request(id, &key, i))
        }),
        ("OTLP/JSON /v1/logs (200 per request)", {
            let key = key.clone();
            Box::new(move |i| otlp_request(&key, i))
        }),
        ("JSON push /api/ingest (500 per request)", {
            let key = key.clone();
            Box::new(move |i| push_request(&key, i))
        }),
    ];
    let mut writers = Vec::new();
    for (name, build) in builders {
        let client = client.clone();
        let base = server.url("");
        writers.push(tokio::spawn(async move {
            let (mut accepted, mut refused, mut i) = (0usize, 0usize, 0usize);
            while Instant::now() < deadline {
                let (path, headers, body, events) = build(i);
                i += 1;
                let mut request = client.post(format!("{base}{path}")).body(body);
                for (k, v) in headers {
                    request = request.header(k, v);
                }
                match request.send().await {
                    Ok(r) if r.status().is_success() => accepted += events,
                    _ => refused += 1,
                }
            }
            (name, accepted, refused)
        }));
    }
    // Readers: API, UI page and /health, each timed.
    let reads: [(&'static str, &'static str); 5] = [
        ("API GET /api/logs/errors", "/api/logs/errors?limit=50"),
        ("API GET /api/logs/stats", "/api/logs/stats"),
        (
            "API GET /api/logs/errors?sort=last_seen",
            "/api/logs/errors?sort=last_seen&limit=20",
        ),
        ("UI GET / (server-rendered)", "/"),
        ("GET /health", "/health"),
    ];
    let mut readers = Vec::new();
    for (name, path) in reads {
        let client = client.clone();
        let url = server.url(path);
        readers.push(tokio::spawn(async move {
            let mut took = Vec::new();
            let mut failed = 0;
            while Instant::now() < deadline {
                let t = Instant::now();
                match client.get(&url).send().await {
                    Ok(r) if r.status().is_success() => {
                        let _ = r.bytes().await;
                        took.push(t.elapsed());
                    }
                    _ => failed += 1,
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            took.sort();
            (name, took, failed)
        }));
    }
    let mut peak: f64 = 0.0;
    while Instant::now() < deadline {
        peak = peak.max(server.rss_mib());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let mut total = 0;
    println!(
        "mixed load for {} s (loopback; the server and this client share the machine):",
        args.seconds
    );
    for w in writers {
        let (name, accepted, refused) = w.await.map_err(|e| format!("writer: {e}"))?;
        total += accepted;
        println!(
            "  {name:<42} {:>8.0} events/s ({accepted} accepted, {refused} requests refused or failed)",
            accepted as f64 / started.elapsed().as_secs_f64()
        );
    }
    for r in readers {
        let (name, took, failed) = r.await.map_err(|e| format!("reader: {e}"))?;
        println!(
            "  {name:<42} p50 {:>7.1} ms   p95 {:>7.1} ms   max {:>7.1} ms   ({} requests, {failed} failed)",
            percentile(&took, 0.5).as_secs_f64() * 1000.0,
            percentile(&took, 0.95).as_secs_f64() * 1000.0,
            took.last().copied().unwrap_or_default().as_secs_f64() * 1000.0,
            took.len()
        );
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let stored = server.stats(client).await["lines"].as_i64().unwrap_or(0);
    println!(
        "  {:<42} {:>8.0} events/s ({total} accepted, {stored} lines in the store; peak RSS {peak:.1} MiB)",
        "all endpoints together",
        total as f64 / started.elapsed().as_secs_f64()
    );
    Ok(())
}
