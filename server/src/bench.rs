//! `signalbox bench …`: reproducible figures for the README (grouping quality and speed).

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

/// Groups the `Content` column of every `DIR/<System>/<System>_2k.log_structured.csv` and
/// writes `OUT/<System>.csv` (`LineId,ClusterId`), the input of `loghub_score.py --all`.
pub fn loghub(dir: &Path, out: &Path) -> Result<Vec<SystemResult>, String> {
    std::fs::create_dir_all(out).map_err(|e| format!("{}: {e}", out.display()))?;
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
    let mut results = Vec::new();
    for (system, file) in systems {
        let (ids, contents) = read_contents(&file)?;
        let start = Instant::now();
        let mut grouper = LineGrouper::default();
        let assignment: Vec<usize> = contents.iter().map(|c| grouper.add(c)).collect();
        let seconds = start.elapsed().as_secs_f64();
        let path = out.join(format!("{system}.csv"));
        let mut writer =
            csv::Writer::from_path(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        writer
            .write_record(["LineId", "ClusterId"])
            .map_err(|e| e.to_string())?;
        for (id, cluster) in ids.iter().zip(&assignment) {
            writer
                .write_record([id.as_str(), &cluster.to_string()])
                .map_err(|e| e.to_string())?;
        }
        writer.flush().map_err(|e| e.to_string())?;
        results.push(SystemResult {
            system,
            lines: contents.len(),
            clusters: grouper.cluster_count(),
            seconds,
        });
    }
    Ok(results)
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
