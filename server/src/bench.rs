//! `signalbox bench …`: reproducible figures for the README (grouping quality and speed).

pub mod ui;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use signalbox::pipeline::grouping::LineGrouper;

/// Suffix of the Loghub-2k structured files.
const STRUCTURED_SUFFIX: &str = "_2k.log_structured.csv";

/// One system's result.
pub struct SystemResult {
    pub system: String,
    pub lines: usize,
    pub clusters: usize,
    pub seconds: f64,
}

/// Fresh runs per system in `bench loghub`; the median is reported.
const LOGHUB_RUNS: usize = 11;

/// Groups the `Content` column of every `DIR/<System>/<System>_2k.log_structured.csv` and
/// writes `OUT/<System>.csv` (`LineId,ClusterId`), the input of `loghub_score.py --all`; and
/// `OUT/fingerprints/<System>.csv`, the groups the server's fingerprints make of the same lines.
pub fn loghub(dir: &Path, out: &Path) -> Result<Vec<SystemResult>, String> {
    let fingerprints = out.join("fingerprints");
    std::fs::create_dir_all(&fingerprints)
        .map_err(|e| format!("{}: {e}", fingerprints.display()))?;
    let pipeline = signalbox::pipeline::Pipeline::default();
    let mut results = Vec::new();
    for (system, file) in systems(dir)? {
        let (ids, contents) = read_contents(&file)?;
        // 2 000 lines take well under a millisecond: the median of several fresh runs (each
        // from an empty grouper) rather than one run's noise.
        let run = || {
            let start = Instant::now();
            let mut grouper = LineGrouper::default();
            let assignment: Vec<usize> = contents.iter().map(|c| grouper.add(c)).collect();
            (
                start.elapsed().as_secs_f64(),
                assignment,
                grouper.cluster_count(),
            )
        };
        let (_, assignment, clusters) = run();
        let mut times: Vec<f64> = (0..LOGHUB_RUNS).map(|_| run().0).collect();
        times.sort_by(f64::total_cmp);
        let seconds = times[times.len() / 2];
        write_predictions(&out.join(format!("{system}.csv")), &ids, &assignment)?;
        // What the server stores: each line as an error event through the whole pipeline,
        // one cluster per fingerprint (the same grouping key, with the kept codes kept).
        let mut fingerprints: HashMap<String, usize> = HashMap::new();
        let stored: Vec<usize> = contents
            .iter()
            .map(|content| {
                let fingerprint = pipeline
                    .process(loghub_event(
                        &system,
                        content,
                        signalbox::model::Level::Error,
                        chrono::DateTime::UNIX_EPOCH,
                    ))
                    .group
                    .map(|g| g.fingerprint)
                    .unwrap_or_default();
                let next = fingerprints.len();
                *fingerprints.entry(fingerprint).or_insert(next)
            })
            .collect();
        let path = out.join("fingerprints").join(format!("{system}.csv"));
        write_predictions(&path, &ids, &stored)?;
        results.push(SystemResult {
            system,
            lines: contents.len(),
            clusters,
            seconds,
        });
    }
    Ok(results)
}

/// `LineId,ClusterId` rows, the scorer's input.
fn write_predictions(path: &Path, ids: &[String], clusters: &[usize]) -> Result<(), String> {
    let mut writer =
        csv::Writer::from_path(path).map_err(|e| format!("{}: {e}", path.display()))?;
    writer
        .write_record(["LineId", "ClusterId"])
        .map_err(|e| e.to_string())?;
    for (id, cluster) in ids.iter().zip(clusters) {
        writer
            .write_record([id.as_str(), &cluster.to_string()])
            .map_err(|e| e.to_string())?;
    }
    writer.flush().map_err(|e| e.to_string())
}

/// A Loghub line as the event a log source would make of it.
fn loghub_event(
    system: &str,
    content: &str,
    level: signalbox::model::Level,
    timestamp: chrono::DateTime<chrono::Utc>,
) -> signalbox::model::Event {
    signalbox::model::Event {
        timestamp,
        level,
        message: content.to_string(),
        exception: None,
        stack_trace: None,
        service: Some(system.to_string()),
        deployment: None,
        environment: None,
        attributes: Default::default(),
        source: "bench".into(),
        source_id: None,
    }
}

/// Every `(System, DIR/<System>/<System>_2k.log_structured.csv)` under `dir`, by name.
fn systems(dir: &Path) -> Result<Vec<(String, PathBuf)>, String> {
    let mut systems: Vec<(String, PathBuf)> = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let name = entry.file_name().to_string_lossy().to_string();
            let file = entry.path().join(format!("{name}{STRUCTURED_SUFFIX}"));
            file.exists().then_some((name, file))
        })
        .collect();
    systems.sort();
    if systems.is_empty() {
        return Err(format!(
            "{}: no <System>/<System>{STRUCTURED_SUFFIX} files",
            dir.display()
        ));
    }
    Ok(systems)
}

fn read_contents(file: &Path) -> Result<(Vec<String>, Vec<String>), String> {
    let mut reader =
        csv::Reader::from_path(file).map_err(|e| format!("{}: {e}", file.display()))?;
    let headers = reader
        .headers()
        .map_err(|e| format!("{}: {e}", file.display()))?
        .clone();
    let column = |name: &str| {
        headers
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| format!("{}: no {name} column", file.display()))
    };
    let (id_col, content_col) = (column("LineId")?, column("Content")?);
    let mut ids = Vec::new();
    let mut contents = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| format!("{}: {e}", file.display()))?;
        ids.push(record.get(id_col).unwrap_or_default().to_string());
        contents.push(record.get(content_col).unwrap_or_default().to_string());
    }
    Ok((ids, contents))
}

/// Throughput of the pipeline (scrub, exception extraction, normalize, classify, fingerprint).
pub struct Throughput {
    pub name: &'static str,
    pub events: u64,
    pub seconds: f64,
}

/// One pipeline stage under measurement: text in, something to keep the optimizer honest out.
type Stage<'a> = dyn Fn(&str) -> usize + 'a;

/// Realistic multi-line traces for the multi-line figure (one per language).
const TRACES: &[&str] = &[
    "Traceback (most recent call last):\n  File \"/app/shop/cart.py\", line 12, in add_item\n    total = prices[item]\n  File \"/usr/local/lib/python3.12/site-packages/flask/app.py\", line 880, in full_dispatch_request\n    rv = self.dispatch_request()\nKeyError: 'sku-1234'",
    "java.lang.IllegalStateException: order 991 already paid\n\tat com.acme.shop.Orders.pay(Orders.java:88)\n\tat com.acme.shop.Api.handle(Api.java:41)\n\tat java.base/java.lang.Thread.run(Thread.java:833)\nCaused by: java.sql.SQLException: deadlock detected\n\tat org.postgresql.Driver.execute(Driver.java:120)\n\t... 3 more",
    "TypeError: Cannot read properties of undefined (reading 'price')\n    at totalFor (/app/src/routes/cart.js:42:17)\n    at Layer.handle (/app/node_modules/express/lib/router/layer.js:95:5)\n    at process.processTicksAndRejections (node:internal/process/task_queues:95:5)",
    "panic: runtime error: invalid memory address or nil pointer dereference\n[signal SIGSEGV: segmentation violation code=0x1 addr=0x18 pc=0x4a1b2c]\n\ngoroutine 1 [running]:\nmain.(*Mailer).Send(0x0)\n\t/app/internal/jobs/email.go:88 +0x1c\nmain.main()\n\t/app/main.go:12 +0x25",
];

/// Events copied per timed batch (so that reading the clock costs nothing per event).
const BATCH: usize = 4096;

/// Runs the pipeline over `lines` (single-line error events) and over [`TRACES`] (multi-line
/// events) for at least `min_seconds` each.
pub fn fingerprint(lines: &[String], min_seconds: f64) -> Vec<Throughput> {
    use signalbox::model::{Event, Level};
    let pipeline = signalbox::pipeline::Pipeline::default();
    let event = |message: &str, trace: Option<&str>| Event {
        timestamp: chrono::Utc::now(),
        level: Level::Error,
        message: message.to_string(),
        exception: None,
        stack_trace: trace.map(str::to_string),
        service: Some("bench".into()),
        deployment: None,
        environment: None,
        attributes: Default::default(),
        source: "bench".into(),
        source_id: None,
    };
    let single: Vec<Event> = lines.iter().map(|l| event(l, None)).collect();
    let multi: Vec<Event> = TRACES
        .iter()
        .map(|t| event(t.lines().next().unwrap_or(""), Some(t)))
        .collect();
    let mut out = Vec::new();
    let scrubber = signalbox::pipeline::scrub::Scrubber::default();
    let stages: [(&'static str, &Stage); 4] = [
        ("  scrub", &|l| scrubber.scrub(l).len()),
        ("  normalize", &|l| {
            signalbox::pipeline::normalize::template(l).len()
        }),
        ("  extract", &|l| {
            signalbox::pipeline::exception::extract(l).map_or(0, |e| e.frames.len())
        }),
        ("  classify", &|l| {
            let input = signalbox::pipeline::classify::ClassifyInput {
                level: Level::Error,
                error_type: None,
                message: l,
                template: l,
                service: None,
            };
            signalbox::pipeline::classify::classify(&input).fixable as usize
        }),
    ];
    for (name, stage) in stages {
        let start = Instant::now();
        let mut count = 0u64;
        let mut sink = 0usize;
        while start.elapsed().as_secs_f64() < min_seconds / 4.0 || count == 0 {
            for l in lines {
                sink += stage(l);
                count += 1;
            }
        }
        std::hint::black_box(sink);
        out.push(Throughput {
            name,
            events: count,
            seconds: start.elapsed().as_secs_f64(),
        });
    }
    for (name, events) in [
        ("single-line events", &single),
        ("multi-line events", &multi),
    ] {
        // Production moves each event into `process`; the copies it consumes are made outside
        // the timed part, so that the figure is the pipeline's alone.
        let mut timed = std::time::Duration::ZERO;
        let mut count = 0u64;
        let mut sink = 0usize;
        while timed.as_secs_f64() < min_seconds || count == 0 {
            let batch: Vec<Event> = events
                .iter()
                .cycle()
                .take(events.len().max(BATCH))
                .cloned()
                .collect();
            let start = Instant::now();
            for e in batch {
                let processed = pipeline.process(e);
                sink += processed.group.map_or(0, |g| g.fingerprint.len());
                count += 1;
            }
            timed += start.elapsed();
        }
        std::hint::black_box(sink);
        out.push(Throughput {
            name,
            events: count,
            seconds: timed.as_secs_f64(),
        });
    }
    out
}

/// The Content column of every system under `dir` (the corpus of the speed figure).
pub fn loghub_lines(dir: &Path) -> Result<Vec<String>, String> {
    let mut all = Vec::new();
    for entry in std::fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .flatten()
    {
        let name = entry.file_name().to_string_lossy().to_string();
        let file = entry.path().join(format!("{name}{STRUCTURED_SUFFIX}"));
        if file.exists() {
            all.extend(read_contents(&file)?.1);
        }
    }
    if all.is_empty() {
        return Err(format!(
            "{}: no <System>/<System>{STRUCTURED_SUFFIX} files",
            dir.display()
        ));
    }
    Ok(all)
}

/// Events per second stored end to end (pipeline → store → counters) into a fresh SQLite file,
/// in batches of `batch` events, with the demo source's realistic mix (about 5% errors).
pub async fn ingest(events: usize, batch: usize) -> Result<(usize, f64), String> {
    let dir = std::env::temp_dir().join(format!("signalbox-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let url = format!("sqlite://{}/bench.db", dir.display());
    let store = signalbox::store::Store::open(&url)
        .await
        .map_err(|e| e.to_string())?;
    let pipeline = signalbox::pipeline::Pipeline::default();
    // Pre-generate, so that only ingest is timed.
    let mut all = Vec::with_capacity(events);
    let mut second = 1_800_000_000i64;
    while all.len() < events {
        all.extend(signalbox::sources::demo::events_at(second));
        second += 1;
    }
    all.truncate(events);
    let start = Instant::now();
    let mut stored = 0;
    for chunk in all.chunks(batch.max(1)) {
        let summary =
            signalbox::monitor::store_events(&store, &pipeline, "bench", chunk.to_vec(), None)
                .await
                .map_err(|e| e.to_string())?;
        stored += summary.accepted;
    }
    let seconds = start.elapsed().as_secs_f64();
    store.close().await;
    let _ = std::fs::remove_dir_all(&dir);
    Ok((stored, seconds))
}

/// Lines per replayed batch (one write transaction each).
const REPLAY_BATCH: usize = 100;
/// Simulated time between two replayed lines.
const REPLAY_LINE_MS: i64 = 50;
/// Simulated time of the first replayed line (2023-11-14T22:13:20Z).
const REPLAY_START_MS: i64 = 1_700_000_000_000;

/// One system's alerts-and-tasks figures (see [`alerts`]).
#[derive(Debug, Default)]
pub struct AlertsResult {
    pub system: String,
    pub lines: usize,
    /// Lines at level error or above (the only ones that form groups).
    pub error_lines: usize,
    /// Labelled root causes: distinct `EventId`s among the error lines.
    pub root_causes: usize,
    pub groups: usize,
    pub alerts: usize,
    pub tasks: usize,
    /// Tasks whose majority `EventId` already had an earlier task (one root cause, two tasks).
    pub duplicate_tasks: usize,
    /// Root causes that are no task's majority `EventId` (merged into another's group).
    pub merged_root_causes: usize,
    /// Tasks whose group holds no line at error level or above.
    pub non_issue_tasks: usize,
    /// Per batch that opened or updated a task: pipeline plus write transaction, wall clock.
    pub latencies: Vec<std::time::Duration>,
}

impl AlertsResult {
    /// Sums the counts and pools the latencies of `results` under the name `all`.
    pub fn total(results: &[AlertsResult]) -> AlertsResult {
        let mut all = AlertsResult {
            system: "all".into(),
            ..AlertsResult::default()
        };
        for r in results {
            all.lines += r.lines;
            all.error_lines += r.error_lines;
            all.root_causes += r.root_causes;
            all.groups += r.groups;
            all.alerts += r.alerts;
            all.tasks += r.tasks;
            all.duplicate_tasks += r.duplicate_tasks;
            all.merged_root_causes += r.merged_root_causes;
            all.non_issue_tasks += r.non_issue_tasks;
            all.latencies.extend(&r.latencies);
        }
        all
    }

    /// The `q` quantile (0..=1, nearest rank) of the latencies, in milliseconds.
    pub fn latency_ms(&self, q: f64) -> Option<f64> {
        let mut sorted = self.latencies.clone();
        sorted.sort();
        let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len().max(1));
        sorted.get(rank - 1).map(|d| d.as_secs_f64() * 1e3)
    }
}

/// One labelled line: its level, text and ground-truth template.
struct Labelled {
    level: signalbox::model::Level,
    content: String,
    event_id: String,
}

/// The lines of a structured Loghub file in file order. The level comes from the `Level`
/// column; without one (or with a value no log library uses) a line counts as an error, so
/// that every template is a candidate root cause.
fn read_labelled(file: &Path) -> Result<Vec<Labelled>, String> {
    use signalbox::model::Level;
    let err = |e: &dyn std::fmt::Display| format!("{}: {e}", file.display());
    let mut reader = csv::Reader::from_path(file).map_err(|e| err(&e))?;
    let headers = reader.headers().map_err(|e| err(&e))?.clone();
    let column = |name: &str| headers.iter().position(|h| h == name);
    let needed = |name: &str| column(name).ok_or_else(|| err(&format!("no {name} column")));
    let (content_col, id_col) = (needed("Content")?, needed("EventId")?);
    let level_col = column("Level");
    let mut lines = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| err(&e))?;
        let level = level_col
            .and_then(|c| record.get(c))
            .and_then(|l| l.parse().ok())
            .unwrap_or(Level::Error);
        lines.push(Labelled {
            level,
            content: record.get(content_col).unwrap_or_default().to_string(),
            event_id: record.get(id_col).unwrap_or_default().to_string(),
        });
    }
    Ok(lines)
}

/// Replays every system of a Loghub-shaped `dir` through the real pipeline (default
/// configuration) and write path into a fresh SQLite store of its own (default alert rules),
/// then compares the governance tasks the rules opened with the labelled root causes.
///
/// Lines are replayed in file order, [`REPLAY_BATCH`] per transaction, one every
/// [`REPLAY_LINE_MS`] of simulated time (the store's clock follows it, so windowed rules see
/// the replay's pace), with service = the system's name. A task is attributed to the
/// `EventId` most of its group's lines carry.
pub async fn alerts(dir: &Path) -> Result<Vec<AlertsResult>, String> {
    let tmp = std::env::temp_dir().join(format!("signalbox-bench-alerts-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).map_err(|e| format!("{}: {e}", tmp.display()))?;
    let mut results = Vec::new();
    for (system, file) in systems(dir)? {
        let lines = read_labelled(&file)?;
        let url = format!("sqlite://{}/{system}.db", tmp.display());
        let result = replay(&system, &lines, &url).await;
        let _ = std::fs::remove_dir_all(&tmp).and_then(|_| std::fs::create_dir_all(&tmp));
        results.push(result?);
    }
    let _ = std::fs::remove_dir_all(&tmp);
    Ok(results)
}

async fn replay(system: &str, lines: &[Labelled], url: &str) -> Result<AlertsResult, String> {
    use std::collections::{BTreeMap, BTreeSet, HashMap};
    use std::sync::atomic::{AtomicI64, Ordering};
    use std::sync::Arc;

    use signalbox::model::{Event, Level};
    use signalbox::store::{from_millis, GroupQuery, Store, TaskQuery, MAX_PAGE};

    let text = |e: signalbox::store::StoreError| format!("{system}: {e}");
    let simulated = Arc::new(AtomicI64::new(REPLAY_START_MS));
    let clock = simulated.clone();
    let store = Store::open(url)
        .await
        .map_err(text)?
        .with_clock(Arc::new(move || from_millis(clock.load(Ordering::Relaxed))));
    let pipeline = signalbox::config::Config::from_lookup(|_| None)
        .map_err(|e| e.to_string())?
        .pipeline();

    let mut result = AlertsResult {
        system: system.to_string(),
        lines: lines.len(),
        ..AlertsResult::default()
    };
    // Per fingerprint: how many of its lines carry each EventId, and its most severe level.
    let mut members: HashMap<String, (BTreeMap<&str, usize>, Level)> = HashMap::new();
    let mut root_causes = BTreeSet::new();
    for (b, chunk) in lines.chunks(REPLAY_BATCH).enumerate() {
        let first = (b * REPLAY_BATCH) as i64;
        let events: Vec<Event> = chunk
            .iter()
            .enumerate()
            .map(|(i, l)| {
                let at = from_millis(REPLAY_START_MS + (first + i as i64) * REPLAY_LINE_MS);
                loghub_event(system, &l.content, l.level, at)
            })
            .collect();
        let last = events
            .last()
            .map_or(REPLAY_START_MS, |e| e.timestamp.timestamp_millis());
        simulated.store(last, Ordering::Relaxed);
        let start = Instant::now();
        let processed: Vec<_> = events.into_iter().map(|e| pipeline.process(e)).collect();
        let summary = store.write_batch(&processed, None).await.map_err(text)?;
        let elapsed = start.elapsed();
        if summary
            .alerts
            .iter()
            .any(|a| a.action.creates_task() && a.fingerprint.is_some())
        {
            result.latencies.push(elapsed);
        }
        for (line, p) in chunk.iter().zip(&processed) {
            if line.level >= Level::Error {
                result.error_lines += 1;
                root_causes.insert(line.event_id.as_str());
            }
            if let Some(group) = &p.group {
                let (ids, level) = members
                    .entry(group.fingerprint.clone())
                    .or_insert((BTreeMap::new(), Level::Trace));
                *ids.entry(line.event_id.as_str()).or_default() += 1;
                *level = (*level).max(line.level);
            }
        }
    }
    result.root_causes = root_causes.len();

    let mut cursor = None;
    loop {
        let q = GroupQuery {
            limit: MAX_PAGE,
            cursor,
            ..GroupQuery::default()
        };
        let page = store.list_groups(&q).await.map_err(text)?;
        result.groups += page.items.len();
        cursor = page.next_cursor;
        if cursor.is_none() {
            break;
        }
    }
    let mut tasks = Vec::new();
    let mut cursor = None;
    loop {
        let q = TaskQuery {
            limit: MAX_PAGE,
            cursor,
            ..TaskQuery::default()
        };
        let page = store.tasks(&q).await.map_err(text)?;
        tasks.extend(page.items);
        cursor = page.next_cursor;
        if cursor.is_none() {
            break;
        }
    }
    result.alerts = store.alerts(None, i64::MAX).await.map_err(text)?.len();
    store.close().await;

    // Oldest task first: a later task for an already-covered root cause is the duplicate.
    tasks.sort_by_key(|t| (t.created_at, t.id));
    result.tasks = tasks.len();
    let mut covered = BTreeSet::new();
    for task in &tasks {
        let Some((ids, level)) = members.get(&task.fingerprint) else {
            result.non_issue_tasks += 1;
            continue;
        };
        if *level < Level::Error {
            result.non_issue_tasks += 1;
        }
        // Most lines; on a tie the smallest EventId, so that the figures are reproducible.
        let majority = ids
            .iter()
            .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))
            .map(|(id, _)| *id);
        if let Some(id) = majority {
            if !covered.insert(id) {
                result.duplicate_tasks += 1;
            }
        }
    }
    result.merged_root_causes = root_causes.difference(&covered).count();
    Ok(result)
}
