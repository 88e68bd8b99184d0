//! Building and running the application: store, monitor, router, listener, shutdown.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::FromRef;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{middleware, Router};
use leptos::config::LeptosOptions;
use leptos::prelude::provide_context;
use leptos_axum::{generate_route_list, LeptosRoutes};
use signalbox::config::Config;
use signalbox::deploys::{Seen, Verifier};
use signalbox::monitor::{Monitor, MonitorHandle};
use signalbox::notify::{self, Notifier};
use signalbox::pipeline::Pipeline;
use signalbox::probes::Prober;
use signalbox::sources::demo::DemoSource;
use signalbox::sources::loki::{LokiSettings, LokiSource};
use signalbox::sources::railway::RailwaySource;
use signalbox::sources::PollSource;
use signalbox::store::{Store, StoreError};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::{api, metrics};

/// Largest request body any route accepts.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
/// Longest a request may take before it is answered with 408.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Longest a graceful shutdown may take.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);
/// How often the demo source is polled: often, so the dashboard is alive.
const DEMO_INTERVAL: Duration = Duration::from_secs(2);
/// How often old raw rows are deleted.
const RETENTION_INTERVAL: Duration = Duration::from_secs(3600);
/// How often new tasks are mirrored to GitHub issues.
const ISSUE_MIRROR_INTERVAL: Duration = Duration::from_secs(60);
/// How often quiet groups resolve and dated mutes end.
const LIFECYCLE_INTERVAL: Duration = Duration::from_secs(300);

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub config: Arc<Config>,
    pub monitor: Option<MonitorHandle>,
    pub started: Instant,
    pub leptos_options: LeptosOptions,
    /// The pipeline every pushed or polled event goes through.
    pub pipeline: Arc<Pipeline>,
    /// Per-project ingest rate limits.
    pub ingest_limits: Arc<api::ingest::RateLimiter>,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}

/// Start-up failed.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("DATABASE_URL: {0}")]
    Store(#[from] StoreError),
    #[error("PORT: cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// A built application: bound listener, router and background work, ready to run.
pub struct Application {
    listener: TcpListener,
    router: Router,
    store: Store,
    monitor: Option<Monitor>,
    /// The notifier's settings, when a channel is configured.
    notifier: Option<notify::Settings>,
    /// The fix generator's settings, when it is on.
    fixer: Option<signalbox::fixer::Settings>,
    /// GitHub issue mirroring of tasks, when it is on.
    issue_mirror: Option<signalbox::fixer::GitHubSettings>,
    /// The monitor's handle, for the sources' lag (self-monitoring).
    monitor_handle: Option<MonitorHandle>,
    /// Runs the probes (with the monitor: `ERROR_MONITORING_ENABLED`).
    prober: Option<Prober>,
    /// Checks new Railway deployments (with the Railway source).
    verifier: Option<(Verifier, Deployments)>,
    retention_days: u32,
    port: u16,
}

impl Application {
    /// Opens the store (running migrations), binds `0.0.0.0:PORT` (0 picks a free port) and
    /// assembles the router.
    pub async fn build(config: Config) -> Result<Application, StartupError> {
        // Install the metrics recorder before anything records.
        metrics::handle();
        let store = Store::open(&config.database_url)
            .await?
            .with_notify_channels(config.notify_channels());
        let addr = SocketAddr::from(([0, 0, 0, 0], config.port));
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| StartupError::Bind { addr, source })?;
        let port = listener.local_addr().map_or(config.port, |a| a.port());

        let pipeline = Arc::new(pipeline(&config, &store).await);
        let (sources, deployments) = sources(&config);
        let verifier = deployments.map(|seen| {
            let verifier = Verifier::new(
                store.clone(),
                config.deploy_checks.clone(),
                config.deploy_compare_minutes,
            );
            (verifier, seen)
        });
        let (monitor, handle) = if config.monitoring_enabled {
            let (monitor, handle) = Monitor::new(store.clone(), pipeline.clone(), sources);
            let monitor = monitor.with_lease_ttl(config.lease);
            (Some(monitor), Some(handle))
        } else {
            (None, None)
        };
        let leptos_options = LeptosOptions::builder()
            .output_name("signalbox")
            .site_root(config.site_root.clone())
            .site_pkg_dir("pkg")
            .site_addr(SocketAddr::from(([0, 0, 0, 0], port)))
            .build();
        let added = store.seed_probe_targets(&config.probes).await?;
        if added > 0 {
            tracing::info!(probes = added, "added the probes of SIGNALBOX_PROBES");
        }
        let prober = config
            .monitoring_enabled
            .then(|| Prober::new(store.clone(), config.lease));
        let retention_days = config.retention_days;
        let notifier = Some(config.notifier()).filter(notify::Settings::any_channel);
        let issue_mirror = config.issue_mirror();
        let fixer = match signalbox::fixer::Settings::from_config(&config) {
            Ok(settings) => {
                if let Some(reason) = &settings.dry_run_reason {
                    tracing::info!(%reason, "fix generator on, dry run: fixes are stored, not pushed");
                }
                Some(settings)
            }
            Err(reason) => {
                tracing::info!(%reason, "fix generator is off");
                None
            }
        };
        let state = AppState {
            store: store.clone(),
            config: Arc::new(config),
            monitor: handle.clone(),
            started: Instant::now(),
            leptos_options,
            pipeline,
            ingest_limits: Arc::default(),
        };
        Ok(Application {
            listener,
            router: router(state),
            store,
            monitor,
            notifier,
            fixer,
            issue_mirror,
            monitor_handle: handle,
            prober,
            verifier,
            retention_days,
            port,
        })
    }

    /// The port the server listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until `shutdown` is cancelled, then stops accepting, lets in-flight requests and
    /// the current poll finish (at most [`SHUTDOWN_GRACE`]) and closes the database.
    pub async fn run_until_stopped(self, shutdown: CancellationToken) -> std::io::Result<()> {
        let mut background = tokio::task::JoinSet::new();
        if let Some(monitor) = self.monitor {
            background.spawn(monitor.run(shutdown.clone()));
        }
        background.spawn(signalbox::self_monitor::run(
            self.store.clone(),
            self.monitor_handle.clone(),
            shutdown.clone(),
        ));
        if let Some((verifier, seen)) = self.verifier {
            background.spawn(verifier.run(seen, shutdown.clone()));
        }
        if let Some(prober) = self.prober {
            background.spawn(prober.run(shutdown.clone()));
        }
        // Every replica runs one: the outbox claim keeps two from sending the same row.
        if let Some(settings) = self.notifier {
            background.spawn(Notifier::run(
                self.store.clone(),
                settings,
                shutdown.clone(),
            ));
        }
        if let Some(settings) = self.fixer {
            match signalbox::fixer::Fixer::new(self.store.clone(), settings) {
                Ok(fixer) => {
                    background.spawn(fixer.run(shutdown.clone()));
                }
                Err(e) => tracing::error!(error = %e, "the fix generator is off"),
            }
        }
        if let Some(settings) = self.issue_mirror {
            match signalbox::issues::IssueMirror::new(
                self.store.clone(),
                settings,
                ISSUE_MIRROR_INTERVAL,
            ) {
                Ok(mirror) => {
                    background.spawn(mirror.run(shutdown.clone()));
                }
                Err(e) => tracing::error!(error = %e, "GitHub issue mirroring is off"),
            }
        }
        background.spawn(retention(
            self.store.clone(),
            self.retention_days,
            shutdown.clone(),
        ));
        background.spawn(lifecycle(self.store.clone(), shutdown.clone()));

        let server = axum::serve(self.listener, self.router)
            .with_graceful_shutdown(shutdown.clone().cancelled_owned());
        tracing::info!(port = self.port, "Signalbox is listening");
        let served = tokio::spawn(std::future::IntoFuture::into_future(server));

        shutdown.cancelled().await;
        tracing::info!("shutting down: finishing in-flight work");
        let drained = tokio::time::timeout(SHUTDOWN_GRACE, async {
            let served = served.await;
            while background.join_next().await.is_some() {}
            served
        })
        .await;
        // Whatever did not finish in time is stopped, and closing the pool is bounded too.
        background.shutdown().await;
        if tokio::time::timeout(Duration::from_secs(2), self.store.close())
            .await
            .is_err()
        {
            tracing::warn!("database connections did not close in time");
        }
        match drained {
            Ok(Ok(result)) => result,
            Ok(Err(join)) => Err(std::io::Error::other(join)),
            Err(_) => {
                tracing::warn!("shutdown took longer than {SHUTDOWN_GRACE:?}; stopping anyway");
                Ok(())
            }
        }
    }
}

/// What the Railway source says about deployments (deploy verification listens).
type Deployments = watch::Receiver<Vec<Seen>>;

/// The poll sources the configuration enables, and the deployments the Railway source sees.
fn sources(config: &Config) -> (Vec<Arc<dyn PollSource>>, Option<Deployments>) {
    let mut sources: Vec<Arc<dyn PollSource>> = Vec::new();
    let mut deployments = None;
    if config.demo {
        sources.push(Arc::new(DemoSource::new(DEMO_INTERVAL)));
    }
    if let Some(settings) = config.railway() {
        let railway = RailwaySource::new(settings);
        deployments = Some(railway.deployments());
        sources.push(Arc::new(railway));
    }
    if let Some(settings) = LokiSettings::from_config(config) {
        match LokiSource::new(settings) {
            Ok(loki) => sources.push(Arc::new(loki)),
            Err(e) => tracing::error!(error = %e, "the Loki source is off"),
        }
    }
    (sources, deployments)
}

/// Deletes expired raw rows every hour.
async fn retention(store: Store, days: u32, shutdown: CancellationToken) {
    loop {
        let cutoff = chrono::Utc::now() - chrono::Duration::days(i64::from(days));
        match store.prune(cutoff, || shutdown.is_cancelled()).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(rows = n, "retention: deleted expired rows"),
            Err(e) => tracing::warn!(error = %e, "retention: delete failed; retrying later"),
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(RETENTION_INTERVAL) => {}
        }
    }
}

/// Every few minutes: groups quiet for a day resolve, mutes whose date passed end. Every
/// replica runs it; each change is conditional on the state it read, so running it twice
/// changes nothing twice.
async fn lifecycle(store: Store, shutdown: CancellationToken) {
    loop {
        match store.run_lifecycle(chrono::Utc::now()).await {
            Ok(report) if report == Default::default() => {}
            Ok(report) => tracing::info!(
                resolved = report.resolved,
                unmuted = report.unmuted,
                "lifecycle: resolved quiet groups, ended expired mutes"
            ),
            Err(e) => tracing::warn!(error = %e, "lifecycle: failed; retrying later"),
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(LIFECYCLE_INTERVAL) => {}
        }
    }
}

/// Every route: JSON API, ingest, health, metrics, the UI and its static files.
pub fn router(state: AppState) -> Router {
    let leptos_options = state.leptos_options.clone();
    let store = state.store.clone();
    let rules = app::api::RulesInForce(state.config.grouping_rule_views());
    // The UI's server functions check the admin token and link tasks to the public URL.
    let config = state.config.clone();
    // The System Health and Sources pages show the monitor's sources.
    let monitor = state.monitor.clone();
    let routes = generate_route_list(app::App);
    let small_bodies = RequestBodyLimitLayer::new(MAX_BODY_BYTES);
    let ui = Router::new()
        .leptos_routes_with_context(
            &state,
            routes,
            move || {
                provide_context(store.clone());
                provide_context(rules.clone());
                provide_context(config.clone());
                provide_context(monitor.clone());
            },
            move || app::shell(leptos_options.clone()),
        )
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(
            app::shell,
        ))
        .layer(small_bodies);
    // Ingest has its own, larger body limit; everything else takes small bodies.
    Router::new()
        .merge(api::router().layer(small_bodies))
        .merge(api::ingest::router())
        .route("/metrics", get(metrics::render))
        .merge(ui)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            crate::access::read_gate,
        ))
        .layer(middleware::from_fn(metrics::track))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            REQUEST_TIMEOUT,
        ))
        .layer(middleware::from_fn(api::error::json_errors))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// The event pipeline of `config`, taking on the groups an earlier grouping version stored
/// (see `signalbox::pipeline::upgrade`). When they cannot be read, events are grouped by the
/// current version alone: earlier groups may then get a twin, nothing is lost.
pub async fn pipeline(config: &Config, store: &Store) -> signalbox::pipeline::Pipeline {
    let pipeline = config.pipeline();
    match store.grouping_aliases(&pipeline).await {
        Ok(aliases) => {
            if !aliases.is_empty() {
                tracing::info!(
                    groups = aliases.len(),
                    "groups of an earlier grouping version keep their errors"
                );
            }
            pipeline.with_aliases(aliases)
        }
        Err(error) => {
            tracing::warn!(%error, "could not read the groups of earlier grouping versions");
            pipeline
        }
    }
}
