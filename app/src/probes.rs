//! The Probes page (`/probes`): every probe with its state, certificate and DNS, and a chart
//! of their latencies over 24 hours; and the probes card System Health shows.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};
use signalbox::model::{ProbeResult, ProbeStatus};

use crate::pages::when;

/// The Probes page's data: every probe, and the runs of the last 24 hours of each.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProbesPageData {
    pub probes: Vec<ProbeStatus>,
    /// (probe name, its runs oldest first).
    pub runs: Vec<(String, Vec<ProbeResult>)>,
}

/// Every probe and its state.
#[server(prefix = "/api/ui", endpoint = "probes/status")]
pub async fn probe_statuses() -> Result<Vec<ProbeStatus>, ServerFnError> {
    let store = use_context::<signalbox::store::Store>()
        .ok_or_else(|| ServerFnError::new("the store is not available"))?;
    store.probe_statuses(store.now()).await.map_err(|e| {
        leptos::logging::error!("store error in a server function: {e}");
        ServerFnError::new("the database did not answer; try again shortly")
    })
}

/// The Probes page: every probe and its runs of the last 24 hours.
#[server(prefix = "/api/ui", endpoint = "probes")]
pub async fn probes_page() -> Result<ProbesPageData, ServerFnError> {
    let store = use_context::<signalbox::store::Store>()
        .ok_or_else(|| ServerFnError::new("the store is not available"))?;
    let failed = |e: signalbox::store::StoreError| {
        leptos::logging::error!("store error in a server function: {e}");
        ServerFnError::new("the database did not answer; try again shortly")
    };
    let now = store.now();
    let probes = store.probe_statuses(now).await.map_err(failed)?;
    let mut runs = Vec::with_capacity(probes.len());
    for p in &probes {
        let results = store
            .probe_results(p.target.id, now - chrono::Duration::hours(24), 0)
            .await
            .map_err(failed)?;
        runs.push((p.target.name.clone(), results));
    }
    Ok(ProbesPageData { probes, runs })
}

/// What the System Health card says about the probes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProbeCounts {
    pub up: usize,
    pub down: usize,
    /// Enabled probes that have not run yet, and disabled ones.
    pub idle: usize,
    /// The fewest days any probe's certificate has left.
    pub soonest_cert_days: Option<f64>,
}

/// Counts `probes` by their latest run.
pub fn counts(probes: &[ProbeStatus]) -> ProbeCounts {
    let mut c = ProbeCounts::default();
    for p in probes {
        match (&p.last, p.target.enabled) {
            (Some(last), true) if last.ok => c.up += 1,
            (Some(_), true) => c.down += 1,
            _ => c.idle += 1,
        }
        if let Some(days) = p.cert_days_left {
            c.soonest_cert_days = Some(c.soonest_cert_days.map_or(days, |d: f64| d.min(days)));
        }
    }
    c
}

/// One chart series: a probe's latencies as (Unix ms, ms) of its answered runs.
pub fn series(runs: &[ProbeResult]) -> Vec<(i64, f64)> {
    runs.iter()
        .filter(|r| r.status.is_some())
        .filter_map(|r| r.latency_ms.map(|ms| (r.at.timestamp_millis(), ms)))
        .collect()
}

fn ms(v: Option<f64>) -> String {
    v.map_or("–".to_string(), |ms| format!("{ms:.0} ms"))
}

/// The card on System Health: how many probes are up and down, linking to `/probes`.
#[component]
pub fn ProbesCard() -> impl IntoView {
    let statuses = Resource::new(|| (), |_| probe_statuses());
    view! {
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                let probes = statuses.await.unwrap_or_default();
                if probes.is_empty() {
                    return ().into_any();
                }
                let c = counts(&probes);
                let class = if c.down > 0 { "card probes-card bad" } else { "card probes-card" };
                let cert = c
                    .soonest_cert_days
                    .map(|d| format!(", certificate {d:.0} d"))
                    .unwrap_or_default();
                view! {
                    <section class="cards probes">
                        <a class=class href="/probes" data-testid="probes-card">
                            <span class="value">{format!("{} up / {} down", c.up, c.down)}</span>
                            <span class="label">{format!("probes{cert}")}</span>
                        </a>
                    </section>
                }
                    .into_any()
            })}
        </Suspense>
    }
}

/// `/probes`.
#[component]
pub fn ProbesPage() -> impl IntoView {
    let data = Resource::new(|| (), |_| probes_page());
    view! {
        <h1>"Probes"</h1>
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(d) if d.probes.is_empty() => {
                        view! {
                            <p class="empty">
                                "No probes yet. Add one with "
                                <code>"POST /api/probes"</code>
                                " or "
                                <code>"SIGNALBOX_PROBES"</code>
                                "."
                            </p>
                        }
                            .into_any()
                    }
                    Ok(d) => {
                        view! {
                            <ProbeTable probes=d.probes.clone() />
                            <h2>"Latency, last 24 h"</h2>
                            <LatencyChart runs=d.runs />
                        }
                            .into_any()
                    }
                    Err(e) => view! { <p class="error">{e.to_string()}</p> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn ProbeTable(probes: Vec<ProbeStatus>) -> impl IntoView {
    view! {
        <table class="probes">
            <thead>
                <tr>
                    <th>"Probe"</th>
                    <th>"State"</th>
                    <th>"Last run"</th>
                    <th class="num">"Latency"</th>
                    <th class="num">"p50 / p95 (1 h)"</th>
                    <th class="num">"p50 / p95 (24 h)"</th>
                    <th class="num">"Uptime (24 h)"</th>
                    <th class="num">"Certificate"</th>
                    <th>"DNS"</th>
                </tr>
            </thead>
            <tbody>
                {probes
                    .into_iter()
                    .map(|p| {
                        let (state, class) = match (&p.last, p.target.enabled) {
                            (_, false) => ("paused".to_string(), "badge"),
                            (None, true) => ("waiting".to_string(), "badge"),
                            (Some(r), true) if r.ok => ("up".to_string(), "badge up"),
                            (Some(_), true) => {
                                (format!("down ×{}", p.consecutive_failures), "badge down")
                            }
                        };
                        let detail = p
                            .last
                            .as_ref()
                            .map(|r| {
                                let what = r
                                    .error
                                    .clone()
                                    .or(r.status.map(|s| format!("HTTP {s}")))
                                    .unwrap_or_default();
                                format!("{} — {what}", when(r.at))
                            })
                            .unwrap_or_default();
                        let window = |i: usize| {
                            p.windows
                                .get(i)
                                .map(|w| format!("{} / {}", ms(w.p50_ms), ms(w.p95_ms)))
                                .unwrap_or_default()
                        };
                        let uptime = p
                            .windows
                            .get(1)
                            .filter(|w| w.runs > 0)
                            .map(|w| format!("{:.1}%", f64::from(w.ok) * 100.0 / f64::from(w.runs)))
                            .unwrap_or("–".into());
                        let cert = p
                            .cert_days_left
                            .map(|d| format!("{d:.1} days"))
                            .unwrap_or("–".into());
                        let dns = p
                            .last
                            .as_ref()
                            .map(|r| match (&r.dns_addresses, r.dns_ms) {
                                (Some(a), Some(t)) => format!("{a} ({t:.1} ms)"),
                                (None, Some(t)) => format!("failed after {t:.0} ms"),
                                _ => "IP address".to_string(),
                            })
                            .unwrap_or_default();
                        view! {
                            <tr>
                                <td>
                                    <strong>{p.target.name.clone()}</strong>
                                    <br />
                                    <span class="muted">{p.target.url.clone()}</span>
                                </td>
                                <td>
                                    <span class=class>{state}</span>
                                </td>
                                <td>{detail}</td>
                                <td class="num">
                                    {ms(p.last.as_ref().and_then(|r| r.latency_ms))}
                                </td>
                                <td class="num">{window(0)}</td>
                                <td class="num">{window(1)}</td>
                                <td class="num">{uptime}</td>
                                <td class="num">{cert}</td>
                                <td>{dns}</td>
                            </tr>
                        }
                    })
                    .collect_view()}
            </tbody>
        </table>
    }
}

/// Latency of every probe over time, drawn once the page has hydrated.
#[component]
fn LatencyChart(runs: Vec<(String, Vec<ProbeResult>)>) -> impl IntoView {
    let id = "probe-latency-chart";
    #[cfg(feature = "hydrate")]
    {
        let lines: Vec<(String, Vec<(i64, f64)>)> = runs
            .iter()
            .map(|(name, results)| (name.clone(), series(results)))
            .collect();
        Effect::new(move |_| draw(id, &lines));
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = runs;
    view! { <div id=id class="chart" role="img" aria-label="Latency of each probe over the last 24 hours"></div> }
}

#[cfg(feature = "hydrate")]
fn draw(id: &str, lines: &[(String, Vec<(i64, f64)>)]) {
    use charming::component::{Axis, Grid, Legend};
    use charming::element::{AxisType, Tooltip, Trigger};
    use charming::series::Line;
    use charming::{Chart, WasmRenderer};

    let width = document()
        .get_element_by_id(id)
        .map_or(900, |e| e.client_width().max(300) as u32);
    let mut chart = Chart::new()
        .tooltip(Tooltip::new().trigger(Trigger::Axis))
        .legend(Legend::new().data(lines.iter().map(|(n, _)| n.clone()).collect()))
        .grid(Grid::new().left(56).right(24).top(36).bottom(28))
        .x_axis(Axis::new().type_(AxisType::Time))
        .y_axis(Axis::new().type_(AxisType::Value).name("ms"));
    for (name, points) in lines {
        chart = chart.series(
            Line::new().name(name.clone()).show_symbol(false).data(
                points
                    .iter()
                    .map(|(at, ms)| vec![*at as f64, *ms])
                    .collect(),
            ),
        );
    }
    if let Err(e) = WasmRenderer::new(width, 260).render(id, &chart) {
        leptos::logging::warn!("latency chart not drawn: {e:?}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, Utc};
    use signalbox::model::{LatencyWindow, ProbeFailure, ProbeTarget};

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_795_773_600 + secs, 0).expect("valid")
    }

    fn run(secs: i64, ok: bool, latency: Option<f64>) -> ProbeResult {
        ProbeResult {
            probe_id: 1,
            at: at(secs),
            ok,
            failure: (!ok).then_some(ProbeFailure::Status),
            error: None,
            status: latency.map(|_| if ok { 200 } else { 503 }),
            latency_ms: latency,
            dns_ms: None,
            dns_addresses: None,
            cert_not_after: None,
        }
    }

    fn probe(last: Option<ProbeResult>, enabled: bool, cert: Option<f64>) -> ProbeStatus {
        ProbeStatus {
            target: ProbeTarget {
                id: 1,
                name: "api".into(),
                url: "https://api.example.com/".into(),
                interval_seconds: 60,
                timeout_ms: 1000,
                expected_status: 200,
                body_contains: None,
                tls_verify: true,
                enabled,
                created_at: at(0),
            },
            last,
            consecutive_failures: 0,
            cert_days_left: cert,
            windows: vec![LatencyWindow {
                window: "1h".into(),
                p50_ms: None,
                p95_ms: None,
                runs: 0,
                ok: 0,
            }],
        }
    }

    #[test]
    fn the_card_counts_probes_by_their_latest_run() {
        let probes = vec![
            probe(Some(run(0, true, Some(5.0))), true, Some(40.0)),
            probe(Some(run(0, false, Some(5.0))), true, Some(3.5)),
            probe(None, true, None),
            probe(Some(run(0, false, None)), false, None),
        ];
        assert_eq!(
            counts(&probes),
            ProbeCounts {
                up: 1,
                down: 1,
                idle: 2,
                soonest_cert_days: Some(3.5)
            }
        );
        assert_eq!(counts(&[]), ProbeCounts::default());
    }

    #[test]
    fn the_chart_shows_answered_runs() {
        let runs = vec![
            run(0, true, Some(12.0)),
            run(60, false, Some(30.0)),
            run(120, false, None),
        ];
        assert_eq!(
            series(&runs),
            vec![
                (at(0).timestamp_millis(), 12.0),
                (at(60).timestamp_millis(), 30.0)
            ]
        );
    }
}
