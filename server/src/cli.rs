//! The command line: `signalbox [serve|ingest|migrate|check-config]`.

use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use signalbox::config::{Config, VARIABLES};
use signalbox::monitor::store_events;
use signalbox::pipeline::Pipeline;
use signalbox::sources::file::LineReader;
use signalbox::store::{Store, WriteSummary};
use tokio::io::{AsyncBufRead, BufReader};
use tokio_util::sync::CancellationToken;

use crate::startup::Application;
use crate::telemetry;

/// Signalbox: a self-hosted error monitor for applications on Railway.
///
/// Settings come from environment variables (see `signalbox check-config`); flags override them.
#[derive(Debug, Parser)]
#[command(name = "signalbox", version, propagate_version = true)]
pub struct Cli {
    /// Database URL: sqlite://FILE or postgres://… (overrides DATABASE_URL).
    #[arg(long, global = true, value_name = "URL")]
    pub database_url: Option<String>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// What to do.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the UI and the JSON API and run the sources (the default).
    Serve(ServeArgs),
    /// Read log lines (plain text or JSON lines) from FILE, or from stdin with `-`, into the store.
    Ingest(IngestArgs),
    /// Apply pending database migrations and exit.
    Migrate,
    /// Validate the configuration, print it with secrets hidden, and exit.
    CheckConfig,
    /// Print new error groups and new occurrences as they are stored, until Ctrl-C.
    Watch(WatchArgs),
    /// Projects that send events with a Sentry SDK (or the JSON push API).
    #[command(subcommand)]
    Project(ProjectCommand),
    /// Benchmarks that print the figures the README reports.
    #[command(subcommand)]
    Bench(BenchCommand),
}

/// `signalbox project …`.
#[derive(Debug, Subcommand)]
pub enum ProjectCommand {
    /// Create a project and print its DSN (give it to the app's Sentry SDK).
    Create {
        /// Project name, usually the service's.
        name: String,
    },
    /// List the projects and their DSNs.
    List,
}

/// `signalbox bench …`.
#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Group the Content column of every DIR/<System>/<System>_2k.log_structured.csv (Loghub-2k
    /// layout) and write PREDDIR/<System>.csv (templates) and PREDDIR/fingerprints/<System>.csv
    /// (the server's fingerprints) for loghub_score.py --all DIR PREDDIR.
    Loghub {
        /// Folder of system folders.
        dir: std::path::PathBuf,
        /// Where to write the predictions.
        #[arg(long, value_name = "PREDDIR")]
        out: std::path::PathBuf,
    },
    /// Events per second stored end to end (pipeline, store, counters) into a fresh SQLite file.
    Ingest {
        /// Events to store.
        #[arg(long, default_value_t = 200_000)]
        events: usize,
        /// Events per transaction.
        #[arg(long, default_value_t = 1000)]
        batch: usize,
    },
    /// Replay every DIR/<System>/<System>_2k.log_structured.csv (Loghub-2k layout) through the
    /// pipeline and the store's default alert rules, each system into a fresh SQLite file,
    /// and compare the governance tasks opened with the labelled root causes (distinct
    /// EventIds of the error lines); also the time from a batch to its task.
    Alerts {
        /// Folder of system folders.
        dir: std::path::PathBuf,
    },
    /// Server render time of System Health (`/`) and of a big group's page, with many groups and
    /// occurrences in the store (a fresh SQLite file unless --url names a store; a store that
    /// already has the groups is not filled again).
    Ui {
        /// Store to fill and read (default: a new SQLite file in the temp directory).
        #[arg(long, value_name = "URL")]
        url: Option<String>,
        #[arg(long, default_value_t = 10_000)]
        groups: usize,
        #[arg(long, default_value_t = 1_000_000)]
        occurrences: usize,
        /// Renders timed per page.
        #[arg(long, default_value_t = 100)]
        requests: usize,
    },
    /// Events per second through the pipeline (scrub, extract, normalize, classify,
    /// fingerprint), on one core: single-line events from the Content lines of a Loghub-shaped
    /// DIR, and multi-line stack traces.
    Fingerprint {
        /// Folder of system folders (Loghub-2k layout) whose lines are the corpus.
        dir: std::path::PathBuf,
        /// Seconds to run each measurement.
        #[arg(long, default_value_t = 3.0)]
        seconds: f64,
    },
}

/// Options of `serve`.
#[derive(Debug, Default, Args)]
pub struct ServeArgs {
    /// Port to listen on, on all interfaces (overrides PORT).
    #[arg(long)]
    pub port: Option<u16>,
    /// Run the built-in demo source (same as SIGNALBOX_DEMO=true).
    #[arg(long)]
    pub demo: bool,
}

/// Options of `watch`.
#[derive(Debug, Args)]
pub struct WatchArgs {
    /// Only groups of this service.
    #[arg(long)]
    pub service: Option<String>,
    /// Seconds between two looks at the store.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub interval: u64,
    /// Least severe level shown: error or critical.
    #[arg(long, default_value = "error", value_parser = ["error", "critical"])]
    pub log_level: String,
    /// Queue a fix (Claude analysis → draft pull request) for each new fixable group, for the
    /// fix generator of the running server; prints each fix's outcome.
    #[arg(long)]
    pub auto_fix: bool,
}

/// Options of `ingest`.
#[derive(Debug, Args)]
pub struct IngestArgs {
    /// File to read, or `-` for stdin.
    #[arg(value_name = "FILE|-")]
    pub path: String,
    /// Service name for lines that do not name one.
    #[arg(long)]
    pub service: Option<String>,
    /// Lines per database transaction.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub batch_size: u32,
}

/// Runs the command line; the process's exit code.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(
                e.kind(),
                ErrorKind::DisplayHelp
                    | ErrorKind::DisplayVersion
                    | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
            ) {
                let _ = e.print();
                return ExitCode::SUCCESS;
            }
            // clap explains over several lines; keep the explanation, on one line.
            let rendered = e.render().to_string();
            let explanation = rendered
                .lines()
                .take_while(|l| !l.trim().is_empty())
                .map(str::trim)
                .collect::<Vec<_>>()
                .join(" ");
            let explanation = explanation.strip_prefix("error: ").unwrap_or(&explanation);
            eprintln!("signalbox: {explanation} (see signalbox --help)");
            return ExitCode::from(2);
        }
    };
    let mut config = match Config::from_env() {
        Ok(config) => config,
        Err(e) => {
            eprintln!("signalbox: configuration error: {e}");
            return ExitCode::from(2);
        }
    };
    if let Some(url) = cli.database_url.clone() {
        if signalbox::store::Backend::of_url(&url).is_none() {
            eprintln!("signalbox: --database-url: expected sqlite://FILE or postgres://…");
            return ExitCode::from(2);
        }
        config.database_url = url;
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("signalbox: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(run(
        cli.command.unwrap_or(Command::Serve(ServeArgs::default())),
        config,
    ));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("signalbox: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command, mut config: Config) -> Result<(), String> {
    telemetry::init(config.log_format, &config.log_filter)?;
    match command {
        Command::Serve(args) => {
            if let Some(port) = args.port {
                config.port = port;
            }
            config.demo |= args.demo;
            serve(config).await
        }
        Command::Ingest(args) => ingest(&config, args).await,
        Command::Migrate => {
            let store = Store::connect(&config.database_url)
                .await
                .map_err(|e| e.to_string())?;
            let applied = store.migrate().await.map_err(|e| e.to_string())?;
            println!(
                "migrations applied: {applied} ({} database)",
                store.backend().as_str()
            );
            store.close().await;
            Ok(())
        }
        Command::Watch(args) => crate::watch::run(&config, args).await,
        Command::Project(command) => {
            let store = Store::open(&config.database_url)
                .await
                .map_err(|e| e.to_string())?;
            let result = match command {
                ProjectCommand::Create { name } => store
                    .create_project(name.trim(), None, None)
                    .await
                    .map(|p| vec![p])
                    .map_err(|e| format!("project '{name}': {e}")),
                ProjectCommand::List => store.projects().await.map_err(|e| e.to_string()),
            };
            store.close().await;
            for project in result? {
                println!(
                    "{}\t{}\t{}",
                    project.id,
                    project.name,
                    project.dsn(&config.public_url)
                );
            }
            Ok(())
        }
        Command::Bench(BenchCommand::Loghub { dir, out }) => {
            let results = crate::bench::loghub(&dir, &out)?;
            println!(
                "{:<12} {:>7} {:>9} {:>12}",
                "system", "lines", "clusters", "lines/s"
            );
            let (mut lines, mut seconds) = (0usize, 0f64);
            for r in &results {
                println!(
                    "{:<12} {:>7} {:>9} {:>12.0}",
                    r.system,
                    r.lines,
                    r.clusters,
                    r.lines as f64 / r.seconds.max(1e-9)
                );
                lines += r.lines;
                seconds += r.seconds;
            }
            println!(
                "{:<12} {:>7} {:>9} {:>12.0}",
                "all",
                lines,
                "",
                lines as f64 / seconds.max(1e-9)
            );
            println!(
                "predictions in {}; score with: python3 loghub_score.py --all {} {} (and {}/fingerprints)",
                out.display(),
                dir.display(),
                out.display(),
                out.display()
            );
            Ok(())
        }
        Command::Bench(BenchCommand::Ingest { events, batch }) => {
            let (stored, seconds) = crate::bench::ingest(events, batch).await?;
            println!(
                "stored {stored} events in {seconds:.2} s: {:.0} events/s into SQLite (batches of {batch})",
                stored as f64 / seconds.max(1e-9)
            );
            Ok(())
        }
        Command::Bench(BenchCommand::Ui {
            url,
            groups,
            occurrences,
            requests,
        }) => {
            let url = url.unwrap_or_else(|| {
                let file = std::env::temp_dir()
                    .join(format!("signalbox-bench-ui-{}.db", std::process::id()));
                format!("sqlite://{}", file.display())
            });
            let r = crate::bench::ui::run(
                &url,
                groups,
                occurrences,
                requests.max(1),
                &config.site_root,
            )
            .await?;
            use crate::bench::ui::quantile_ms as q;
            println!(
                "store: {url}: {} groups, {} error lines in 24 h (filled in {:.0} s)",
                r.groups, r.occurrences, r.fill_seconds
            );
            for (page, times) in [("/", &r.health), ("/errors/{biggest}", &r.group)] {
                println!(
                    "GET {page}: p50 {:.1} ms, p95 {:.1} ms, max {:.1} ms over {} renders",
                    q(times, 0.5),
                    q(times, 0.95),
                    q(times, 1.0),
                    times.len()
                );
            }
            Ok(())
        }
        Command::Bench(BenchCommand::Alerts { dir }) => {
            let results = crate::bench::alerts(&dir).await?;
            print_alerts(&results);
            Ok(())
        }
        Command::Bench(BenchCommand::Fingerprint { dir, seconds }) => {
            let lines = crate::bench::loghub_lines(&dir)?;
            for t in crate::bench::fingerprint(&lines, seconds) {
                println!(
                    "{:<20} {:>12.0} events/s ({} events in {:.2} s)",
                    t.name,
                    t.events as f64 / t.seconds,
                    t.events,
                    t.seconds
                );
            }
            Ok(())
        }
        Command::CheckConfig => {
            println!("configuration is valid");
            println!("{config:#?}");
            for feature in config.features() {
                match feature.reason {
                    None => println!("  {:<20} on", feature.name),
                    Some(why) => println!("  {:<20} off ({why})", feature.name),
                }
            }
            let known: Vec<&str> = VARIABLES.iter().map(|v| v.name).collect();
            println!("variables read: {}", known.join(", "));
            Ok(())
        }
    }
}

/// The table of `bench alerts`: one row per system and a total.
fn print_alerts(results: &[crate::bench::AlertsResult]) {
    println!(
        "{:<10} {:>6} {:>6} {:>11} {:>6} {:>6} {:>5} {:>8} {:>9} {:>6} {:>9} {:>8} {:>8} {:>8}",
        "system",
        "lines",
        "errors",
        "root_causes",
        "groups",
        "alerts",
        "tasks",
        "tasks/rc",
        "dup_tasks",
        "merged",
        "non_issue",
        "p50_ms",
        "p95_ms",
        "max_ms"
    );
    let total = crate::bench::AlertsResult::total(results);
    let ms = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.1}"));
    for r in results.iter().chain([&total]) {
        let per_cause = if r.root_causes == 0 {
            "-".to_string()
        } else {
            format!("{:.2}", r.tasks as f64 / r.root_causes as f64)
        };
        println!(
            "{:<10} {:>6} {:>6} {:>11} {:>6} {:>6} {:>5} {:>8} {:>9} {:>6} {:>9} {:>8} {:>8} {:>8}",
            r.system,
            r.lines,
            r.error_lines,
            r.root_causes,
            r.groups,
            r.alerts,
            r.tasks,
            per_cause,
            r.duplicate_tasks,
            r.merged_root_causes,
            r.non_issue_tasks,
            ms(r.latency_ms(0.5)),
            ms(r.latency_ms(0.95)),
            ms(r.latency_ms(1.0)),
        );
    }
    println!(
        "root causes: distinct EventIds of the lines at error level or above; dup_tasks: tasks \
         whose majority EventId has an earlier task; merged: root causes that are no task's \
         majority EventId; latency: per batch that opened or updated a task ({} batches), \
         pipeline + write transaction",
        total.latencies.len()
    );
}

async fn serve(config: Config) -> Result<(), String> {
    let shutdown = CancellationToken::new();
    // Listening from before start-up: a stop while migrating or connecting ends cleanly (exit
    // 0) instead of killing the process mid-way.
    let stop = stop_signal();
    tokio::spawn({
        let shutdown = shutdown.clone();
        async move {
            stop.await;
            shutdown.cancel();
        }
    });
    let app = tokio::select! {
        app = Application::build(config) => app.map_err(|e| e.to_string())?,
        () = shutdown.cancelled() => return Ok(()),
    };
    app.run_until_stopped(shutdown)
        .await
        .map_err(|e| e.to_string())
}

/// Completes on SIGTERM (what Railway sends) or Ctrl-C; the signals are listened to from the
/// call on, before the returned future is first polled.
pub fn stop_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    let signals = {
        use tokio::signal::unix::{signal, SignalKind};
        (
            signal(SignalKind::terminate()).ok(),
            signal(SignalKind::interrupt()).ok(),
        )
    };
    async move {
        #[cfg(unix)]
        {
            async fn received(signal: Option<tokio::signal::unix::Signal>) {
                match signal {
                    Some(mut signal) => {
                        signal.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            }
            let (terminate, interrupt) = signals;
            tokio::select! {
                () = received(terminate) => {},
                () = received(interrupt) => {},
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
        tracing::info!("signal received");
    }
}

async fn ingest(config: &Config, args: IngestArgs) -> Result<(), String> {
    // The alerts an ingest fires are queued like the server's; its notifier sends them.
    let store = Store::open(&config.database_url)
        .await
        .map_err(|e| e.to_string())?
        .with_notify_channels(config.notify_channels());
    let pipeline = crate::startup::pipeline(config, &store).await;
    let result = ingest_into(&store, &pipeline, &args).await;
    store.close().await;
    let (lines, total) = result?;
    println!(
        "read {lines} lines: stored {} ({} duplicates skipped), {} error occurrences, {} new groups",
        total.accepted,
        total.duplicates,
        total.occurrences,
        total.new_groups.len()
    );
    Ok(())
}

async fn ingest_into(
    store: &Store,
    pipeline: &Pipeline,
    args: &IngestArgs,
) -> Result<(u64, WriteSummary), String> {
    let (input, origin): (Box<dyn AsyncBufRead + Unpin + Send>, Option<String>) =
        if args.path == "-" {
            (Box::new(BufReader::new(tokio::io::stdin())), None)
        } else {
            let file = tokio::fs::File::open(&args.path)
                .await
                .map_err(|e| format!("{}: {e}", args.path))?;
            let origin = std::fs::canonicalize(&args.path)
                .map(|p| p.display().to_string())
                .unwrap_or_else(|_| args.path.clone());
            (Box::new(BufReader::new(file)), Some(origin))
        };
    let mut reader = LineReader::new(input, origin, args.service.clone());
    let mut total = WriteSummary::default();
    loop {
        let batch = reader
            .next_batch(args.batch_size as usize)
            .await
            .map_err(|e| format!("{}: {e}", args.path))?;
        if batch.is_empty() {
            break;
        }
        let summary = store_events(store, pipeline, "file", batch, None)
            .await
            .map_err(|e| e.to_string())?;
        total.accepted += summary.accepted;
        total.duplicates += summary.duplicates;
        total.occurrences += summary.occurrences;
        total.new_groups.extend(summary.new_groups);
    }
    Ok((reader.lines_read(), total))
}
