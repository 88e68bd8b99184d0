//! The `signalbox` binary killed with SIGKILL, again and again, in the middle of reading a
//! (fake) Railway project: after the last restart the store holds every event exactly once.
//! And two replicas on one PostgreSQL: one reads the sources, the other takes over when it dies.

use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use signalbox::monitor::store_events;
use signalbox::pipeline::Pipeline;
use signalbox::sources::railway::RailwaySource;
use signalbox::sources::PollSource;
use signalbox::store::{GroupQuery, Store};
use signalbox_fakes::railway::{FakeRailway, LogLine, Options};

use crate::railway::{line, settings, wait_for};

#[path = "../../../tests/support/postgres.rs"]
pub(crate) mod postgres;

/// A small deterministic generator (no dependency needed for a test's randomness).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, below: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % below.max(1)
    }
}

/// Realistic traffic of two replicas: requests, errors with varying ids, and Python
/// tracebacks written one line at a time. Returns the lines and how many events they make.
fn traffic(rng: &mut Lcg, start: DateTime<Utc>, n: usize) -> (Vec<LogLine>, usize) {
    let mut lines = Vec::new();
    let mut events = 0;
    let mut at = start;
    while lines.len() < n {
        // Often several lines share one timestamp.
        if rng.next(3) == 0 {
            at += chrono::Duration::microseconds(rng.next(200) as i64 + 1);
        }
        let replica = if rng.next(2) == 0 {
            "replica-a"
        } else {
            "replica-b"
        };
        let id = rng.next(1_000_000);
        match rng.next(10) {
            0 => {
                lines.push(line(
                    at,
                    replica,
                    &format!("INFO about to charge order {id}"),
                    "info",
                ));
                for text in [
                    "Traceback (most recent call last):".to_string(),
                    "  File \"/app/billing/charge.py\", line 88, in charge".to_string(),
                    "    response = provider.charge(amount)".to_string(),
                    format!(
                        "billing.errors.ProviderTimeout: provider did not answer for order {id}"
                    ),
                ] {
                    lines.push(line(at, replica, &text, "error"));
                }
                events += 2;
            }
            1 | 2 => {
                let what = [
                    "database connection refused",
                    "cache timeout after 250ms",
                    "upstream returned 503",
                ];
                let text = what[rng.next(3) as usize];
                lines.push(line(
                    at,
                    replica,
                    &format!("ERROR {text} (request {id})"),
                    "error",
                ));
                lines.push(line(
                    at,
                    replica,
                    &format!("INFO retry scheduled for request {id}"),
                    "info",
                ));
                events += 2;
            }
            _ => {
                lines.push(line(
                    at,
                    replica,
                    &format!("INFO GET /api/items/{id} 200 in {}ms", id % 97),
                    "info",
                ));
                events += 1;
            }
        }
    }
    (lines, events)
}

/// A child process killed (SIGKILL) when dropped, so a failing test leaves none behind.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        kill(&mut self.0);
    }
}

fn spawn(env: &[(&str, String)]) -> Killed {
    Killed(spawn_child(env))
}

fn spawn_child(env: &[(&str, String)]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_signalbox"))
        .arg("serve")
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .env("LOG_LEVEL", "error")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the signalbox binary starts")
}

/// Every group of a store (the tests make far fewer than 500).
async fn all_groups(store: &Store) -> Vec<signalbox::model::Group> {
    store
        .list_groups(&GroupQuery {
            limit: 500,
            ..GroupQuery::default()
        })
        .await
        .expect("groups")
        .items
}

/// Every stored event and the per-group counts, read from a store.
async fn counts(store: &Store) -> (i64, BTreeMap<String, i64>) {
    let stats = store
        .stats(
            Utc::now() + chrono::Duration::hours(1),
            chrono::Duration::days(2),
        )
        .await
        .expect("stats");
    let groups = all_groups(store).await;
    (
        stats.lines,
        groups
            .into_iter()
            .map(|g| {
                (
                    format!("{} {}", &g.fingerprint[..12], g.template),
                    g.occurrences,
                )
            })
            .collect(),
    )
}

/// The same lines read without interruption, into a fresh store: the truth to compare with
/// (and the store, kept in `dir`, to show what differs).
async fn reference(
    fake: &FakeRailway,
    dir: &std::path::Path,
) -> ((i64, BTreeMap<String, i64>), Store) {
    let store = Store::open(&format!("sqlite://{}/reference.db", dir.display()))
        .await
        .expect("a store");
    let source = RailwaySource::new(settings(fake, "test-token"));
    let pipeline = Pipeline::default();
    let mut cursor = None;
    loop {
        let batch = source
            .poll(cursor.as_deref(), Utc::now())
            .await
            .expect("a poll");
        store_events(&store, &pipeline, "railway", batch.events, None)
            .await
            .expect("stored");
        cursor = Some(batch.cursor);
        if !batch.more {
            break;
        }
    }
    (counts(&store).await, store)
}

/// The occurrences of a group as `timestamp message` lines, oldest first.
async fn occurrence_lines(store: &Store, fingerprint_prefix: &str) -> Vec<String> {
    let groups = all_groups(store).await;
    let Some(group) = groups
        .iter()
        .find(|g| g.fingerprint.starts_with(fingerprint_prefix))
    else {
        return Vec::new();
    };
    let mut lines = Vec::new();
    let mut cursor = None;
    loop {
        let page = store
            .occurrences(&group.fingerprint, cursor.as_deref(), 500)
            .await
            .expect("occurrences");
        lines.extend(page.items.iter().map(|o| {
            format!(
                "{} {} {}",
                o.timestamp
                    .to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
                o.attributes
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(","),
                o.message
            )
        }));
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    lines.sort();
    lines
}

fn kill(child: &mut Child) {
    let _ = child.kill(); // SIGKILL
    let _ = child.wait();
}

#[tokio::test(flavor = "multi_thread")]
async fn kill_9_mid_crawl_neither_loses_nor_doubles_an_event() {
    let seed = std::env::var("KILL_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| Utc::now().timestamp_micros() as u64);
    eprintln!("kill -9 test seed: {seed} (KILL_TEST_SEED={seed} replays it)");
    let mut rng = Lcg(seed);
    let fake = FakeRailway::start(Options::default()).await;
    let service = fake.add_service("billing");
    let deployment = fake.add_deployment(&service, "SUCCESS");
    // A deployment's lines come after its creation.
    tokio::time::sleep(Duration::from_millis(5)).await;
    let mut expected_events = 0;
    let (lines, n) = traffic(&mut rng, Utc::now(), 4000);
    expected_events += n;
    // Lines are pushed once they are in the past, as a log store receives them.
    let span = lines
        .last()
        .map_or(chrono::Duration::zero(), |l| l.timestamp - Utc::now());
    tokio::time::sleep(span.to_std().unwrap_or_default()).await;
    // Each batch of traffic starts after the previous one ends (a replica's lines never
    // interleave with themselves).
    let mut clock = lines.last().map_or_else(Utc::now, |l| l.timestamp);
    fake.push_logs(&deployment, lines);

    let dir = tempfile::tempdir().expect("a temporary directory");
    let database = format!("sqlite://{}/signalbox.db", dir.path().display());
    let env = vec![
        ("PORT", "0".to_string()),
        ("DATABASE_URL", database.clone()),
        ("RAILWAY_API_TOKEN", "test-token".to_string()),
        ("RAILWAY_API_URL", fake.url()),
        ("RAILWAY_PROJECT_ID", fake.project_id()),
        ("RAILWAY_ENVIRONMENT_ID", fake.environment_id()),
        ("RAILWAY_PAGE_SIZE", "50".to_string()),
        // Live lines reach the fake up to ~0.5 s after their timestamps (pushed in chunks,
        // as a log store receives them late): the lag covers that, as in production.
        ("RAILWAY_LAG_SECONDS", "2".to_string()),
        ("ERROR_MONITOR_INTERVAL", "1".to_string()),
        // A killed process holds the lease until it expires: keep that short here.
        ("SIGNALBOX_LEASE_SECONDS", "2".to_string()),
    ];
    for round in 0..10 {
        // A backlog written while nothing was reading.
        let (past, n) = traffic(
            &mut rng,
            Utc::now().max(clock + chrono::Duration::milliseconds(1)),
            600,
        );
        expected_events += n;
        clock = past.last().map_or(clock, |l| l.timestamp);
        tokio::time::sleep((clock - Utc::now()).to_std().unwrap_or_default()).await;
        fake.push_logs(&deployment, past);
        let mut child = spawn(&env);
        let started = Instant::now();
        // Live traffic while it runs (the stream and the polls both carry it).
        let (live, n) = traffic(
            &mut rng,
            Utc::now().max(clock + chrono::Duration::milliseconds(1)),
            150,
        );
        expected_events += n;
        clock = live.last().map_or(clock, |l| l.timestamp);
        for chunk in live.chunks(30) {
            fake.push_logs(&deployment, chunk.to_vec());
            tokio::time::sleep(Duration::from_millis(rng.next(100))).await;
        }
        // Killed at any moment: before it holds the lease (the killed one's lease expires
        // within 2.5 s), while it reads the backlog, or while it follows the stream.
        let at = Duration::from_millis(200 + rng.next(4000));
        tokio::time::sleep(at.saturating_sub(started.elapsed())).await;
        kill(&mut child.0);
        eprintln!("round {round}: killed after {at:?}");
    }
    // Let the traces at the end complete, then one last run that is allowed to finish.
    let settle = (clock - Utc::now()).to_std().unwrap_or_default() + Duration::from_millis(2500);
    tokio::time::sleep(settle).await;
    let port = free_port();
    let mut last_env = env.clone();
    last_env.retain(|(k, _)| *k != "PORT");
    last_env.push(("PORT", port.to_string()));
    let mut child = spawn(&last_env);
    let store = Store::open(&database).await.expect("the store");
    let reference_dir = tempfile::tempdir().expect("a temporary directory");
    let (want, reference_store) = reference(&fake, reference_dir.path()).await;
    assert_eq!(
        want.0 as usize, expected_events,
        "the reference read sees every event"
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut got = counts(&store).await;
    while got != want && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(500)).await;
        got = counts(&store).await;
    }
    if got != want {
        let status = reqwest::get(format!(
            "http://127.0.0.1:{port}/error-monitor/autonomous/status"
        ))
        .await
        .map(|r| r.status().to_string());
        let body = match reqwest::get(format!(
            "http://127.0.0.1:{port}/error-monitor/autonomous/status"
        ))
        .await
        {
            Ok(r) => r.text().await.unwrap_or_default(),
            Err(e) => e.to_string(),
        };
        eprintln!("status of the last process: {status:?} {body}");
    }
    kill(&mut child.0);
    if got != want {
        for (fingerprint, n) in &want.1 {
            let stored = got.1.get(fingerprint).copied().unwrap_or(0);
            if stored != *n {
                eprintln!("group {fingerprint}: {stored} stored, {n} in the reference");
                let prefix = fingerprint.split(' ').next().unwrap_or("");
                let tally = |lines: Vec<String>| {
                    let mut tally: BTreeMap<String, i64> = BTreeMap::new();
                    for line in lines {
                        *tally.entry(line).or_default() += 1;
                    }
                    tally
                };
                let ours = tally(occurrence_lines(&store, prefix).await);
                let theirs = tally(occurrence_lines(&reference_store, prefix).await);
                for (line, n) in &theirs {
                    let stored = ours.get(line).copied().unwrap_or(0);
                    if stored != *n {
                        eprintln!("  {stored} stored, {n} in the reference: {line}");
                    }
                }
                for (line, n) in ours.iter().filter(|(l, _)| !theirs.contains_key(*l)) {
                    eprintln!("  {n} stored, absent from the reference: {line}");
                }
            }
        }
        for (fingerprint, n) in got.1.iter().filter(|(f, _)| !want.1.contains_key(*f)) {
            eprintln!("group {fingerprint}: {n} stored, absent from the reference");
        }
    }
    assert_eq!(got.0, want.0, "events stored (seed {seed})");
    assert_eq!(got.1, want.1, "per-group counts (seed {seed})");
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

async fn is_leader(client: &reqwest::Client, port: u16) -> Option<bool> {
    let body: serde_json::Value = client
        .get(format!(
            "http://127.0.0.1:{port}/error-monitor/autonomous/status"
        ))
        .send()
        .await
        .ok()?
        .json()
        .await
        .ok()?;
    body["leader"].as_bool()
}

#[tokio::test(flavor = "multi_thread")]
async fn one_replica_reads_the_sources_and_another_takes_over_when_it_dies() {
    let Some(pg) = postgres::PgServer::start() else {
        return;
    };
    let database = pg.fresh_database("replicas").await;
    let fake = FakeRailway::start(Options::default()).await;
    let service = fake.add_service("api");
    let deployment = fake.add_deployment(&service, "SUCCESS");
    let ports = [free_port(), free_port()];
    let env = |port: u16| {
        vec![
            ("PORT", port.to_string()),
            ("DATABASE_URL", database.clone()),
            ("RAILWAY_API_TOKEN", "test-token".to_string()),
            ("RAILWAY_API_URL", fake.url()),
            ("RAILWAY_PROJECT_ID", fake.project_id()),
            ("RAILWAY_ENVIRONMENT_ID", fake.environment_id()),
            // Live lines reach the fake up to ~0.5 s after their timestamps (pushed in chunks,
            // as a log store receives them late): the lag covers that, as in production.
            ("RAILWAY_LAG_SECONDS", "2".to_string()),
            ("ERROR_MONITOR_INTERVAL", "2".to_string()),
        ]
    };
    let mut children = [spawn(&env(ports[0])), spawn(&env(ports[1]))];
    let client = reqwest::Client::new();
    // Exactly one leader.
    let mut leaders = [None, None];
    for _ in 0..200 {
        leaders = [
            is_leader(&client, ports[0]).await,
            is_leader(&client, ports[1]).await,
        ];
        if leaders.iter().all(Option::is_some) && leaders.contains(&Some(true)) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        leaders.iter().filter(|l| **l == Some(true)).count(),
        1,
        "{leaders:?}"
    );
    let leader = leaders.iter().position(|l| *l == Some(true)).unwrap_or(0);
    let other = 1 - leader;
    wait_for(
        || fake.active_subscriptions() == 1,
        "only the leader streams",
    )
    .await;

    fake.push_logs(
        &deployment,
        vec![line(Utc::now(), "r", "ERROR first failure", "error")],
    );
    let store = Store::open(&database).await.expect("the store");
    let deadline = Instant::now() + Duration::from_secs(15);
    while counts(&store).await.0 < 1 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(counts(&store).await.0, 1);

    kill(&mut children[leader].0);
    let killed = Instant::now();
    let mut took_over = false;
    while killed.elapsed() < Duration::from_secs(30) {
        if is_leader(&client, ports[other]).await == Some(true) {
            took_over = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(took_over, "the other replica leads within 30 s");
    eprintln!("takeover after {:?}", killed.elapsed());
    fake.push_logs(
        &deployment,
        vec![line(Utc::now(), "r", "ERROR second failure", "error")],
    );
    let deadline = Instant::now() + Duration::from_secs(15);
    while counts(&store).await.0 < 2 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        counts(&store).await.0,
        2,
        "each event once across the takeover"
    );
    kill(&mut children[other].0);
}

/// An alert decided by one process that dies before sending is sent by the next, once; a
/// process killed after sending sends nothing again.
#[tokio::test(flavor = "multi_thread")]
async fn notifications_survive_kill_9_and_are_sent_once() {
    let receiver = signalbox_fakes::slack::FakeSlack::start()
        .await
        .expect("the fake Slack");
    let dir = tempfile::tempdir().expect("a temporary directory");
    let database = format!("sqlite://{}/signalbox.db", dir.path().display());
    let env = vec![
        ("DATABASE_URL", database.clone()),
        ("SLACK_WEBHOOK_URL", receiver.slack_url()),
        ("ALERT_WEBHOOK_URL", receiver.webhook_url()),
        ("ALERT_WEBHOOK_SECRET", "s3cret".to_string()),
    ];
    // Decided: `signalbox ingest` stores a new error, fires "New error" and queues the
    // notifications in the same transaction — and has no notifier: it exits unsent.
    let log = dir.path().join("app.log");
    std::fs::write(
        &log,
        "ERROR payment provider timed out after 30s for order 1234\n",
    )
    .expect("written");
    let ingest = Command::new(env!("CARGO_BIN_EXE_signalbox"))
        .args([
            "ingest",
            log.to_str().expect("utf-8"),
            "--service",
            "checkout",
        ])
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .expect("ingest runs");
    assert!(
        ingest.status.success(),
        "{}",
        String::from_utf8_lossy(&ingest.stderr)
    );
    assert!(receiver.requests().is_empty(), "nothing sent yet");

    // A server sends them; it is then killed (SIGKILL) and another started: nothing twice.
    let mut server_env = env.clone();
    server_env.push(("PORT", free_port().to_string()));
    let mut first = spawn(&server_env);
    let deadline = Instant::now() + Duration::from_secs(20);
    while receiver.delivered().len() < 2 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    kill(&mut first.0);
    let second = spawn(&server_env);
    tokio::time::sleep(Duration::from_secs(4)).await;
    drop(second);
    let delivered = receiver.delivered();
    assert_eq!(
        delivered.len(),
        2,
        "one Slack message and one webhook: {delivered:#?}"
    );
    assert_eq!(receiver.requests().len(), 2, "no retry, no duplicate");
    let slack = delivered
        .iter()
        .find(|d| d.json()["blocks"].is_array())
        .expect("the Slack message");
    assert!(
        slack.json()["text"]
            .as_str()
            .is_some_and(|t| t.contains("checkout")),
        "{}",
        slack.json()
    );
    let hook = delivered
        .iter()
        .find(|d| d.header("x-signalbox-signature").is_some())
        .expect("the signed webhook");
    assert!(hook.header("idempotency-key").is_some());
}
