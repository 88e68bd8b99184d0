//! `signalbox-fake railway`: a standalone fake Railway with services, SUCCESS deployments and
//! realistic log traffic, for trying Signalbox without a Railway account.

use std::time::Duration;

use chrono::Utc;

use super::traffic::Traffic;
use super::{FakeRailway, LogLine, Options, TokenKind};

/// Options of `signalbox-fake railway`.
#[derive(clap::Args, Debug, Clone)]
pub struct Args {
    /// Port on 127.0.0.1.
    #[arg(long, default_value_t = 4000)]
    pub port: u16,
    /// The token the fake accepts.
    #[arg(long, default_value = "test-token")]
    pub token: String,
    /// The token is a project token (`Project-Access-Token` header) rather than an account token
    /// (`Authorization: Bearer`).
    #[arg(long)]
    pub project_token: bool,
    /// Number of services (each with one SUCCESS deployment).
    #[arg(long, default_value_t = 3)]
    pub services: usize,
    /// Log lines per second generated after the preload, over all services (0: none).
    #[arg(long, default_value_t = 5.0)]
    pub rate: f64,
    /// Log lines stored before serving, ending now.
    #[arg(long, default_value_t = 1000)]
    pub preload: usize,
    /// Seed of the traffic (default: from the clock).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Requests per hour before HTTP 429 (default: unlimited).
    #[arg(long)]
    pub rate_limit_per_hour: Option<u32>,
    /// Largest `limit` accepted by log queries (default: any).
    #[arg(long)]
    pub max_limit: Option<usize>,
}

const NAMES: &[&str] = &["api", "worker", "web", "billing", "search", "scheduler"];

/// Runs the fake until Ctrl-C.
pub async fn run(args: Args) -> std::io::Result<()> {
    let options = Options {
        token: args.token.clone(),
        token_kind: if args.project_token {
            TokenKind::Project
        } else {
            TokenKind::Account
        },
        rate_limit_per_hour: args.rate_limit_per_hour,
        max_limit: args.max_limit,
    };
    let fake = FakeRailway::start_on(options, args.port).await?;
    let services = args.services.max(1);
    let deployments: Vec<String> = (0..services)
        .map(|i| {
            let name = NAMES
                .get(i)
                .map_or_else(|| format!("service-{}", i + 1), |n| (*n).to_string());
            let service = fake.add_service(&name);
            fake.add_deployment(&service, "SUCCESS")
        })
        .collect();

    let seed = args
        .seed
        .unwrap_or_else(|| Utc::now().timestamp_micros() as u64);
    let mut traffic = Traffic::new(seed, services, Utc::now());
    if args.preload > 0 {
        let mut lines = Vec::with_capacity(args.preload);
        while lines.len() < args.preload {
            lines.extend(traffic.next_event());
        }
        lines.truncate(args.preload);
        // Shift so the preload ends a second ago.
        let last = lines.last().map_or_else(Utc::now, |(_, l)| l.timestamp);
        let shift = Utc::now() - chrono::Duration::seconds(1) - last;
        push(
            &fake,
            &deployments,
            lines.into_iter().map(|(s, mut l)| {
                l.timestamp += shift;
                (s, l)
            }),
        );
    }

    eprintln!(
        "fake Railway on {} ({} services, {} lines preloaded, {} lines/s, seed {seed})",
        fake.url(),
        services,
        args.preload,
        args.rate
    );
    println!("export RAILWAY_API_URL={}", fake.url());
    println!("export RAILWAY_API_TOKEN={}", args.token);
    println!("export RAILWAY_PROJECT_ID={}", fake.project_id());
    println!("export RAILWAY_ENVIRONMENT_ID={}", fake.environment_id());

    let tick = Duration::from_millis(100);
    let mut interval = tokio::time::interval(tick);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut budget = 0.0f64;
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    loop {
        tokio::select! {
            _ = &mut ctrl_c => break,
            _ = interval.tick() => {
                if args.rate <= 0.0 {
                    continue;
                }
                budget += args.rate * tick.as_secs_f64();
                let mut batch = Vec::new();
                while budget >= 1.0 {
                    traffic.set_clock(Utc::now());
                    let event = traffic.next_event();
                    budget -= event.len() as f64;
                    batch.extend(event);
                }
                push(&fake, &deployments, batch.into_iter());
            }
        }
    }
    eprintln!(
        "fake Railway: {} HTTP requests, {} WebSocket connections",
        fake.http_requests(),
        fake.ws_connections()
    );
    Ok(())
}

/// Pushes lines to their services' deployments, one batch per deployment.
fn push(fake: &FakeRailway, deployments: &[String], lines: impl Iterator<Item = (usize, LogLine)>) {
    let mut per: Vec<Vec<LogLine>> = vec![Vec::new(); deployments.len()];
    for (service, line) in lines {
        if let Some(v) = per.get_mut(service) {
            v.push(line);
        }
    }
    for (deployment, lines) in deployments.iter().zip(per) {
        if !lines.is_empty() {
            fake.push_logs(deployment, lines);
        }
    }
}
