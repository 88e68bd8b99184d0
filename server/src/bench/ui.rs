//! `signalbox bench ui`: fills a store with many groups and occurrences, then times the
//! server-side render of System Health (`/`) and of a big group's page through the real
//! router (in-process, no socket).

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use chrono::Utc;
use leptos::config::LeptosOptions;
use signalbox::model::{Event, Level};
use signalbox::store::{GroupQuery, Store};
use tower::ServiceExt;

use crate::startup::{router, AppState};

/// Services the generated errors come from.
const SERVICES: [&str; 8] = [
    "api-gateway",
    "checkout",
    "worker",
    "auth",
    "search",
    "billing",
    "mailer",
    "web",
];
/// Events per write transaction while filling.
const FILL_BATCH: usize = 5000;

/// What the UI benchmark measured.
#[derive(Debug)]
pub struct UiResult {
    pub groups: usize,
    pub occurrences: usize,
    /// Seconds spent filling (0 when the store was already filled).
    pub fill_seconds: f64,
    /// Render times of `/`, sorted.
    pub health: Vec<Duration>,
    /// Render times of the biggest group's page, sorted.
    pub group: Vec<Duration>,
}

/// The `q` quantile of sorted durations, in milliseconds.
pub fn quantile_ms(sorted: &[Duration], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted[i.min(sorted.len() - 1)].as_secs_f64() * 1000.0
}

/// A word for `n` (`a`, `b`, … `ba`…): group templates must differ in words, not numbers,
/// which the normalizer turns into placeholders.
fn word(mut n: usize) -> String {
    let mut out = Vec::new();
    loop {
        out.push(b'a' + (n % 26) as u8);
        n /= 26;
        if n == 0 {
            break;
        }
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

/// How often each service of the generated traffic is deployed.
const DEPLOY_EVERY_MS: i64 = 3 * 3_600_000;

/// The `i`-th generated error: group `i % groups` skewed so a few groups are big (like real
/// traffic), spread over the last 24 hours.
fn error_event(i: usize, groups: usize, total: usize, now_ms: i64) -> Event {
    // Squaring a uniform value in [0, 1) favours small group numbers.
    let u = (i.wrapping_mul(2_654_435_761) % 1_000_003) as f64 / 1_000_003.0;
    let g = ((u * u) * groups as f64) as usize % groups.max(1);
    let age_ms = (total - i) as i64 * 86_400_000 / total.max(1) as i64;
    Event {
        timestamp: chrono::DateTime::from_timestamp_millis(now_ms - age_ms).unwrap_or_default(),
        level: if g.is_multiple_of(10) {
            Level::Critical
        } else {
            Level::Error
        },
        message: format!(
            "bench failure {} in handler {} for order_id={i}",
            word(g),
            word(g / 7)
        ),
        exception: None,
        stack_trace: None,
        service: Some(SERVICES[g % SERVICES.len()].to_string()),
        // A deploy every three hours: each service's deploys are rows of the deploys table
        // the chart marks (eight per service in the 24 hours).
        deployment: Some(format!(
            "deploy-{}",
            word((age_ms / DEPLOY_EVERY_MS) as usize)
        )),
        environment: Some("production".into()),
        attributes: Default::default(),
        source: "bench".into(),
        source_id: None,
    }
}

/// Stores `occurrences` errors over `groups` groups (and one info line per four errors) in
/// the last 24 hours.
async fn fill(store: &Store, groups: usize, occurrences: usize) -> Result<(), String> {
    let pipeline = signalbox::pipeline::Pipeline::default();
    let now_ms = Utc::now().timestamp_millis();
    let mut i = 0;
    while i < occurrences {
        let end = (i + FILL_BATCH).min(occurrences);
        let mut events: Vec<Event> = (i..end)
            .map(|k| error_event(k, groups, occurrences, now_ms))
            .collect();
        // Every group at least once: the first `groups` events name each in turn.
        for (k, e) in events.iter_mut().enumerate() {
            if i + k < groups {
                e.message = format!(
                    "bench failure {} in handler {} for order_id=1",
                    word(i + k),
                    word((i + k) / 7)
                );
                e.service = Some(SERVICES[(i + k) % SERVICES.len()].to_string());
            }
        }
        let info: Vec<Event> = events
            .iter()
            .step_by(4)
            .map(|e| Event {
                level: Level::Info,
                message: "request served".into(),
                ..e.clone()
            })
            .collect();
        events.extend(info);
        signalbox::monitor::store_events(store, &pipeline, "bench", events, None)
            .await
            .map_err(|e| e.to_string())?;
        i = end;
        if i % 100_000 < FILL_BATCH {
            eprintln!("filled {i} of {occurrences} occurrences");
        }
    }
    Ok(())
}

/// Times `requests` server renders of `/` and of the biggest group's page against `url`
/// (filled first with `groups` groups and `occurrences` occurrences unless it already has
/// that many groups).
pub async fn run(
    url: &str,
    groups: usize,
    occurrences: usize,
    requests: usize,
    site_root: &str,
) -> Result<UiResult, String> {
    let store = Store::open(url).await.map_err(|e| e.to_string())?;
    let have = store
        .stats(Utc::now(), chrono::Duration::hours(24))
        .await
        .map_err(|e| e.to_string())?
        .groups as usize;
    let start = Instant::now();
    let fill_seconds = if have >= groups {
        0.0
    } else {
        fill(&store, groups, occurrences).await?;
        start.elapsed().as_secs_f64()
    };
    let config = signalbox::config::Config::from_lookup(|key| match key {
        "DATABASE_URL" => Some(url.to_string()),
        "ERROR_MONITORING_ENABLED" => Some("false".into()),
        _ => None,
    })
    .map_err(|e| e.to_string())?;
    let leptos_options = LeptosOptions::builder()
        .output_name("signalbox")
        .site_root(site_root)
        .site_pkg_dir("pkg")
        .build();
    let state = AppState {
        store: store.clone(),
        pipeline: Arc::new(config.pipeline()),
        config: Arc::new(config),
        monitor: None,
        started: Instant::now(),
        leptos_options,
        ingest_limits: Arc::default(),
    };
    let app = router(state);
    let biggest = store
        .list_groups(&GroupQuery {
            limit: 1,
            ..GroupQuery::default()
        })
        .await
        .map_err(|e| e.to_string())?
        .items
        .into_iter()
        .next()
        .ok_or("the store has no groups")?;
    let time = |path: String| {
        let app = app.clone();
        async move {
            let mut times = Vec::with_capacity(requests);
            // Two warm-up renders: caches and the connection pool.
            for n in 0..requests + 2 {
                let request = Request::get(&path)
                    .header("accept", "text/html")
                    .body(Body::empty())
                    .map_err(|e| e.to_string())?;
                let started = Instant::now();
                let response = app
                    .clone()
                    .oneshot(request)
                    .await
                    .map_err(|e| e.to_string())?;
                let status = response.status();
                axum::body::to_bytes(response.into_body(), usize::MAX)
                    .await
                    .map_err(|e| e.to_string())?;
                if status != StatusCode::OK {
                    return Err(format!("GET {path}: {status}"));
                }
                if n >= 2 {
                    times.push(started.elapsed());
                }
            }
            times.sort();
            Ok::<_, String>(times)
        }
    };
    let health = time("/".into()).await?;
    let group = time(format!("/errors/{}", biggest.fingerprint)).await?;
    let total = store
        .stats(Utc::now(), chrono::Duration::hours(24))
        .await
        .map_err(|e| e.to_string())?;
    store.close().await;
    Ok(UiResult {
        groups: total.groups as usize,
        occurrences: total.errors as usize,
        fill_seconds,
        health,
        group,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_differ_for_every_number() {
        assert_eq!(word(0), "a");
        assert_eq!(word(25), "z");
        assert_eq!(word(26), "ba");
        let words: std::collections::BTreeSet<String> = (0..10_000).map(word).collect();
        assert_eq!(words.len(), 10_000);
    }

    #[test]
    fn quantiles_pick_from_the_sorted_times() {
        let times: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(quantile_ms(&times, 0.5), 51.0);
        assert_eq!(quantile_ms(&times, 0.95), 95.0);
        assert_eq!(quantile_ms(&[], 0.95), 0.0);
    }
}
