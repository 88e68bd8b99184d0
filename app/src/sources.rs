//! `/sources`: the monitor and each source (state, last run, lag, last error), the latest
//! runs, and the notifications that did not get through.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::{self, DeliveryLine, RunLine, SourcesData};
use crate::refresh::{Refresh, RefreshBar};
use crate::time::Time;

/// `/sources`.
#[component]
pub fn SourcesPage() -> impl IntoView {
    let refresh = Refresh::get();
    let data = Resource::new(move || refresh.tick.get(), |_| api::sources_overview());
    view! {
        <Title text="Signalbox — Sources" />
        <div class="page-head">
            <h1>"Sources"</h1>
            <RefreshBar />
        </div>
        <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(d) => {
                        refresh.loaded();
                        view! { <SourcesBody data=d /> }.into_any()
                    }
                    Err(e) => view! { <p class="error">{e.to_string()}</p> }.into_any(),
                }
            })}
        </Transition>
    }
    .into_any()
}

#[component]
fn SourcesBody(data: SourcesData) -> impl IntoView {
    let SourcesData {
        monitor,
        interval_secs,
        runs,
        deliveries,
        delivery_counts,
    } = data;
    let state = if !monitor.enabled {
        "off (ERROR_MONITORING_ENABLED=false)".to_string()
    } else if monitor.running {
        format!(
            "running, polls every {interval_secs} s{}",
            if monitor.leader {
                ", this replica reads"
            } else {
                ", another replica reads"
            }
        )
    } else {
        "paused (POST /error-monitor/monitor/start resumes it)".to_string()
    };
    let sources = if monitor.sources.is_empty() {
        view! { <p class="empty">"No source is configured: push logs to " <code>"POST /api/ingest"</code> ", run " <code>"signalbox ingest FILE"</code> ", or set the Railway or Loki variables."</p> }.into_any()
    } else {
        view! {
            <div class="table-scroll">
                <table class="sources cards-on-phone">
                    <thead><tr><th>"Source"</th><th>"State"</th><th>"Last run"</th><th>"Last success"</th><th>"Lag"</th><th class="num">"Events"</th><th>"Last error"</th></tr></thead>
                    <tbody>
                        {monitor.sources.into_iter().map(|s| {
                            let state = s.state();
                            view! {
                                <tr class="source">
                                    <td data-label="Source"><strong>{s.name.clone()}</strong></td>
                                    <td data-label="State"><span class=format!("dot {state}") aria-hidden="true"></span>{state}{(s.failures > 0).then(|| format!(" ({} in a row)", s.failures))}</td>
                                    <td data-label="Last run">{s.last_run.map(|t| view! { <Time at=t /> })}</td>
                                    <td data-label="Last success">{s.last_success.map(|t| view! { <Time at=t /> })}</td>
                                    <td data-label="Lag">{s.lag_seconds.map(|l| format!("{l:.0} s")).unwrap_or_else(|| "—".into())}</td>
                                    <td data-label="Events" class="num">{s.events}</td>
                                    <td data-label="Last error" class="message">{s.last_error.clone().unwrap_or_default()}</td>
                                </tr>
                            }
                        }).collect_view()}
                    </tbody>
                </table>
            </div>
        }.into_any()
    };
    view! {
        <p data-testid="monitor-state">"Monitor: " <strong>{state}</strong></p>
        {sources}
        <section aria-labelledby="runs-heading">
            <h2 id="runs-heading">"Recent runs"</h2>
            <RunsTable runs />
        </section>
        <section aria-labelledby="notifications-heading">
            <h2 id="notifications-heading">"Notifications"</h2>
            <p class="muted">
                {if delivery_counts.is_empty() {
                    "Nothing was sent yet.".to_string()
                } else {
                    delivery_counts.iter().map(|(c, s, n)| format!("{c} {s}: {n}")).collect::<Vec<_>>().join(" · ")
                }}
            </p>
            {match deliveries {
                None => view! { <p class="note">"Log in to see failed deliveries and their errors."</p> }.into_any(),
                Some(list) if list.is_empty() => view! { <p class="empty" data-testid="no-failed-deliveries">"No failed or retrying deliveries."</p> }.into_any(),
                Some(list) => view! { <DeliveriesTable list /> }.into_any(),
            }}
        </section>
    }
    .into_any()
}

#[component]
fn RunsTable(runs: Vec<RunLine>) -> impl IntoView {
    if runs.is_empty() {
        return view! { <p class="empty">"No run yet."</p> }.into_any();
    }
    view! {
        <div class="table-scroll">
            <table class="runs cards-on-phone">
                <thead><tr><th>"Started"</th><th>"Source"</th><th>"By"</th><th>"Status"</th><th class="num">"Events"</th><th class="num">"Errors"</th><th class="num">"API errors"</th><th class="num">"Took"</th><th>"Error"</th></tr></thead>
                <tbody>
                    {runs.into_iter().map(|r| view! {
                        <tr class=format!("run run-{}", r.status)>
                            <td data-label="Started"><Time at=r.started_at /></td>
                            <td data-label="Source">{r.source.unwrap_or_else(|| "all".into())}</td>
                            <td data-label="By">{r.triggered_by}</td>
                            <td data-label="Status"><span class=format!("badge run-{}", r.status)>{r.status.clone()}</span></td>
                            <td data-label="Events" class="num">{r.events}</td>
                            <td data-label="Errors" class="num">{r.errors_found}</td>
                            <td data-label="API errors" class="num">{r.api_errors}</td>
                            <td data-label="Took" class="num">{r.duration_ms.map(|ms| format!("{ms} ms")).unwrap_or_default()}</td>
                            <td data-label="Error" class="message">{r.error.unwrap_or_default()}</td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    }
    .into_any()
}

#[component]
fn DeliveriesTable(list: Vec<DeliveryLine>) -> impl IntoView {
    view! {
        <div class="table-scroll">
            <table class="deliveries cards-on-phone">
                <thead><tr><th>"Created"</th><th>"Channel"</th><th>"Status"</th><th class="num">"Attempts"</th><th>"Next attempt"</th><th>"Alert"</th><th>"Last error"</th></tr></thead>
                <tbody>
                    {list.into_iter().map(|d| {
                        let next = (d.status == "pending").then(|| view! { <Time at=d.next_attempt_at /> });
                        let alert = match d.fingerprint.clone() {
                            Some(fp) => view! { <a href=format!("/errors/{fp}")>{d.rule_name.clone()}</a> }.into_any(),
                            None => view! { <span>{d.rule_name.clone()}</span> }.into_any(),
                        };
                        view! {
                            <tr class="delivery" id=format!("delivery-{}", d.id)>
                                <td data-label="Created"><Time at=d.created_at /></td>
                                <td data-label="Channel">{d.channel.clone()}</td>
                                <td data-label="Status"><span class=format!("badge delivery-{}", d.status)>{if d.status == "pending" { "retrying".to_string() } else { d.status.clone() }}</span></td>
                                <td data-label="Attempts" class="num">{d.attempts}</td>
                                <td data-label="Next attempt">{next}</td>
                                <td data-label="Alert">{alert}" — "{d.summary.clone()}</td>
                                <td data-label="Last error" class="message">{d.last_error.clone().unwrap_or_default()}</td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    }
    .into_any()
}
