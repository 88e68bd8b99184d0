//! `/`: System Health — summary cards, monitor and sources, the error-rate chart, the top
//! groups with sparklines, new and quiet groups. The view lives in the query string (a GET
//! form sets it), and the page refreshes itself every 30 s.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;
use signalbox::model::{Group, GroupStatus, Level};

use crate::api::{self, Cards, HealthData, MonitorLine, TopGroup};
use crate::chart::ErrorRateChart;
use crate::filters::{Filters, Split, TimeRange};
use crate::pages::{level_badge, severity_badge, status_badge};
use crate::refresh::{Refresh, RefreshBar};
use crate::sparkline::Sparkline;
use crate::time::Time;

/// `/`: the System Health page.
#[component]
pub fn SystemHealth() -> impl IntoView {
    let query = use_query_map();
    let filters = Memo::new(move |_| query.with(|q| Filters::from_query(|k| q.get(k))));
    let refresh = Refresh::get();
    let data = Resource::new(
        move || (filters.get(), refresh.tick.get()),
        |(f, _)| {
            api::system_health(
                Some(f.range.as_str().into()),
                f.service,
                f.level.map(|l| l.as_str().into()),
                f.status.map(|s| s.as_str().into()),
                f.text,
                Some(f.split.as_str().into()),
            )
        },
    );
    view! {
        <Title text="Signalbox — System Health" />
        <div class="page-head">
            <h1>"System Health"</h1>
            <RefreshBar />
        </div>
        {move || view! { <FilterForm filters=filters.get() /> }}
        <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(d) => {
                        refresh.loaded();
                        view! { <HealthBody data=d /> }.into_any()
                    }
                    Err(e) => view! { <p class="error">{e.to_string()}</p> }.into_any(),
                }
            })}
        </Transition>
    }
    .into_any()
}

/// The view's form: a plain GET to `/`, so it works without JavaScript and the URL shares it.
#[component]
fn FilterForm(filters: Filters) -> impl IntoView {
    let option = |value: &'static str, label: &'static str, selected: bool| {
        view! { <option value=value selected=selected>{label}</option> }
    };
    let levels = [Level::Critical, Level::Error]
        .into_iter()
        .map(|l| option(l.as_str(), l.as_str(), filters.level == Some(l)))
        .collect_view();
    let statuses = [
        GroupStatus::Unresolved,
        GroupStatus::Regressed,
        GroupStatus::Resolved,
        GroupStatus::Ignored,
    ]
    .into_iter()
    .map(|s| option(s.as_str(), s.as_str(), filters.status == Some(s)))
    .collect_view();
    let ranges = TimeRange::ALL
        .into_iter()
        .map(|r| option(r.as_str(), r.label(), filters.range == r))
        .collect_view();
    view! {
        <form class="filters-form" method="get" action="/" role="search" aria-label="Filter the page">
            <span class="field">
                <label for="f-range">"Range"</label>
                <select id="f-range" name="range">{ranges}</select>
            </span>
            <span class="field">
                <label for="f-service">"Service"</label>
                <input id="f-service" name="service" list="services" value=filters.service.clone().unwrap_or_default() placeholder="all" />
            </span>
            <span class="field">
                <label for="f-level">"Level"</label>
                <select id="f-level" name="level">
                    <option value="">"all"</option>
                    {levels}
                </select>
            </span>
            <span class="field">
                <label for="f-status">"Status"</label>
                <select id="f-status" name="status">
                    <option value="">"all"</option>
                    {statuses}
                </select>
            </span>
            <span class="field grow">
                <label for="f-q">"Text"</label>
                <input id="f-q" name="q" type="search" value=filters.text.clone().unwrap_or_default() placeholder="words in the error" />
            </span>
            {(filters.split != Split::default())
                .then(|| view! { <input type="hidden" name="by" value=filters.split.as_str() /> })}
            <button type="submit">"Apply"</button>
            <a class="reset" href="/">"Reset"</a>
        </form>
    }
    .into_any()
}

#[component]
fn HealthBody(data: HealthData) -> impl IntoView {
    let HealthData {
        filters,
        cards,
        monitor,
        chart,
        top,
        new_today,
        quiet,
        services,
        ..
    } = data;
    let split_link = |split: Split, label: &'static str| {
        let href = format!(
            "/?{}",
            Filters {
                split,
                ..filters.clone()
            }
            .to_query()
        );
        let current = filters.split == split;
        view! { <a href=href aria-current=current.then_some("true")>{label}</a> }
    };
    let title = format!(
        "Errors per bucket, stacked by {}, and error rate, {}",
        filters.split.as_str(),
        filters.range.label()
    );
    let filtered = filters
        != Filters {
            range: filters.range,
            split: filters.split,
            ..Filters::default()
        };
    view! {
        <datalist id="services">
            {services.into_iter().map(|s| view! { <option value=s></option> }).collect_view()}
        </datalist>
        <SummaryCards cards monitor />
        <crate::probes::ProbesCard />
        <crate::deploys::DeploysCard />
        <section aria-labelledby="chart-heading">
            <div class="section-head">
                <h2 id="chart-heading">{format!("Error rate, {}", filters.range.label())}</h2>
                <nav class="split" aria-label="Stack the chart by">
                    "Stack by " {split_link(Split::Level, "level")} " · " {split_link(Split::Service, "service")}
                </nav>
            </div>
            <ErrorRateChart data=chart title />
        </section>
        <section aria-labelledby="top-heading">
            <h2 id="top-heading">
                {format!("Top errors, {}", filters.range.label())}
                {filtered.then(|| view! { <span class="muted">" (filtered)"</span> })}
            </h2>
            {if top.is_empty() {
                view! {
                    <p class="empty">
                        "No errors here. Send logs with " <code>"signalbox ingest FILE"</code>
                        " or start with " <code>"SIGNALBOX_DEMO=true"</code> "."
                    </p>
                }
                    .into_any()
            } else {
                view! { <TopTable groups=top /> }.into_any()
            }}
        </section>
        <div class="two-col">
            <section aria-labelledby="new-heading">
                <h2 id="new-heading">"New today"</h2>
                <ShortList groups=new_today empty="No new error groups since midnight (UTC)." />
            </section>
            <section aria-labelledby="quiet-heading">
                <h2 id="quiet-heading">"Resolved (quiet for 24 h)"</h2>
                <ShortList groups=quiet empty="No group has gone quiet." />
            </section>
        </div>
    }
    .into_any()
}

fn percent(rate: f64) -> String {
    format!("{:.2}%", rate * 100.0)
}

#[component]
fn SummaryCards(cards: Cards, monitor: MonitorLine) -> impl IntoView {
    let card = |value: String, label: &'static str, id: &'static str| {
        view! {
            <div class="card">
                <span class="value" data-testid=id>{value}</span>
                <span class="label">{label}</span>
            </div>
        }
    };
    let monitor_state = if !monitor.enabled {
        "off"
    } else if monitor.running {
        "running"
    } else {
        "paused"
    };
    let sources = monitor
        .sources
        .into_iter()
        .map(|s| {
            let lag = s
                .lag_seconds
                .map(|l| {
                    format!(
                        "lag {}",
                        crate::time::relative(l.round() as i64).trim_end_matches(" ago")
                    )
                })
                .unwrap_or_else(|| "not read yet".into());
            let state = s.state();
            view! {
                <li>
                    <span class=format!("dot {state}") aria-hidden="true"></span>
                    <strong>{s.name}</strong> " " {state} ", " {lag}
                </li>
            }
        })
        .collect_view();
    view! {
        <section class="cards" aria-label="Summary">
            {card(cards.errors_24h.to_string(), "errors in 24 h", "errors-24h")}
            {card(cards.current_rate.map(percent).unwrap_or_else(|| "—".into()), "error rate now (5 min)", "rate-now")}
            {card(percent(cards.error_rate_24h), "error rate (24 h)", "rate-24h")}
            {card(cards.new_today.to_string(), "new today", "new-today")}
            {card(cards.resolved.to_string(), "resolved (quiet 24 h)", "resolved")}
            {card(cards.open_tasks.to_string(), "open tasks", "open-tasks")}
            <div class="card monitor">
                <span class="value" data-testid="monitor">{monitor_state}</span>
                <span class="label">
                    <a href="/sources">"monitor and sources"</a>
                </span>
                <ul class="sources-mini">{sources}</ul>
            </div>
        </section>
    }
    .into_any()
}

#[component]
fn TopTable(groups: Vec<TopGroup>) -> impl IntoView {
    view! {
        <div class="table-scroll">
            <table class="groups cards-on-phone">
                <thead>
                    <tr>
                        <th>"Error"</th>
                        <th>"Level"</th>
                        <th>"Category"</th>
                        <th>"Service"</th>
                        <th class="num">"Count"</th>
                        <th>"Trend"</th>
                        <th>"First seen"</th>
                        <th>"Last seen"</th>
                        <th>"Status"</th>
                    </tr>
                </thead>
                <tbody>
                    {groups
                        .into_iter()
                        .map(|TopGroup { group: g, spark }| {
                            let href = format!("/errors/{}", g.fingerprint);
                            let label = g.template.chars().take(60).collect::<String>();
                            view! {
                                <tr class="group" data-fingerprint=g.fingerprint.clone()>
                                    <td data-label="Error" class="template"><a href=href>{g.template}</a></td>
                                    <td data-label="Level">{level_badge(g.level)}</td>
                                    <td data-label="Category">{severity_badge(g.severity)} " " {g.category.as_str()}</td>
                                    <td data-label="Service">{g.service.unwrap_or_default()}</td>
                                    <td data-label="Count" class="num">{g.occurrences}</td>
                                    <td data-label="Trend"><Sparkline counts=spark label /></td>
                                    <td data-label="First seen"><Time at=g.first_seen /></td>
                                    <td data-label="Last seen"><Time at=g.last_seen /></td>
                                    <td data-label="Status">{status_badge(g.status)}</td>
                                </tr>
                            }
                        })
                        .collect_view()}
                </tbody>
            </table>
        </div>
    }
    .into_any()
}

#[component]
fn ShortList(groups: Vec<Group>, empty: &'static str) -> impl IntoView {
    if groups.is_empty() {
        return view! { <p class="empty">{empty}</p> }.into_any();
    }
    view! {
        <ul class="short-list">
            {groups
                .into_iter()
                .map(|g| {
                    view! {
                        <li>
                            <a class="template" href=format!("/errors/{}", g.fingerprint)>{g.template}</a>
                            <span class="muted">
                                {format!(
                                    " · {} · {} occurrence{} · last ",
                                    g.service.unwrap_or_else(|| "—".into()),
                                    g.occurrences,
                                    if g.occurrences == 1 { "" } else { "s" },
                                )}
                                <Time at=g.last_seen />
                            </span>
                        </li>
                    }
                })
                .collect_view()}
        </ul>
    }
    .into_any()
}
