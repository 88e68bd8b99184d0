//! The pages of the UI.

use chrono::{DateTime, Utc};
use leptos::prelude::*;
use leptos_router::hooks::{use_params_map, use_query_map};
use signalbox::model::{Group, Occurrence, Stats};

use crate::api;
use crate::fixes::GroupFixPanel;
use crate::governance::GroupTaskPanel;

/// Times as the UI shows them: UTC, to the second.
pub(crate) fn when(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

fn level_badge(level: signalbox::model::Level) -> impl IntoView {
    view! { <span class=format!("badge level-{level}")>{level.as_str()}</span> }
}

/// `/`: summary cards and the top error groups.
#[component]
pub fn SystemHealth() -> impl IntoView {
    let stats = Resource::new(|| (), |_| api::stats_24h());
    let groups = Resource::new(|| (), |_| api::top_groups(10));
    view! {
        <h1>"System Health"</h1>
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match stats.await {
                    Ok(s) => {
                        view! {
                            <SummaryCards stats=s.clone() />
                            <crate::probes::ProbesCard />
                            <crate::deploys::DeploysCard />
                            <h2>"Errors per minute, last 24 h"</h2>
                            <crate::chart::ErrorRateChart stats=s />
                        }
                            .into_any()
                    }
                    Err(e) => view! { <p class="error">{e.to_string()}</p> }.into_any(),
                }
            })}
        </Suspense>
        <h2>"Top errors"</h2>
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match groups.await {
                    Ok(list) if list.is_empty() => {
                        view! {
                            <p class="empty">
                                "No errors yet. Send logs with "
                                <code>"signalbox ingest FILE"</code>
                                " or start with "
                                <code>"SIGNALBOX_DEMO=true"</code>
                                "."
                            </p>
                        }
                            .into_any()
                    }
                    Ok(list) => view! { <GroupTable groups=list /> }.into_any(),
                    Err(e) => view! { <p class="error">{e.to_string()}</p> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn SummaryCards(stats: Stats) -> impl IntoView {
    let rate = format!("{:.2}%", stats.error_rate * 100.0);
    view! {
        <section class="cards">
            <div class="card">
                <span class="value" data-testid="errors-24h">{stats.errors}</span>
                <span class="label">"errors in 24 h"</span>
            </div>
            <div class="card">
                <span class="value">{rate}</span>
                <span class="label">"error rate (24 h)"</span>
            </div>
            <div class="card">
                <span class="value">{stats.new_today}</span>
                <span class="label">"new today"</span>
            </div>
            <div class="card">
                <span class="value">{stats.groups}</span>
                <span class="label">"error groups"</span>
            </div>
            <div class="card">
                <span class="value">{stats.resolved}</span>
                <span class="label">"resolved (quiet 24 h)"</span>
            </div>
        </section>
    }
}

#[component]
fn GroupTable(groups: Vec<Group>) -> impl IntoView {
    view! {
        <table class="groups">
            <thead>
                <tr>
                    <th>"Error"</th>
                    <th>"Level"</th>
                    <th>"Category"</th>
                    <th>"Service"</th>
                    <th class="num">"Count"</th>
                    <th>"First seen"</th>
                    <th>"Last seen"</th>
                    <th>"Status"</th>
                </tr>
            </thead>
            <tbody>
                {groups
                    .into_iter()
                    .map(|g| {
                        let href = format!("/errors/{}", g.fingerprint);
                        view! {
                            <tr>
                                <td class="template">
                                    <a href=href>{g.template}</a>
                                </td>
                                <td>{level_badge(g.level)}</td>
                                <td>
                                    <span class=format!("badge severity-{}", g.severity.as_str().to_lowercase())>
                                        {g.severity.as_str()}
                                    </span>
                                    " "
                                    {g.category.as_str()}
                                </td>
                                <td>{g.service.unwrap_or_default()}</td>
                                <td class="num">{g.occurrences}</td>
                                <td>{when(g.first_seen)}</td>
                                <td>{when(g.last_seen)}</td>
                                <td>{g.status.as_str()}</td>
                            </tr>
                        }
                    })
                    .collect_view()}
            </tbody>
        </table>
    }
}

/// `/errors/{fingerprint}`: one group and its occurrences.
#[component]
pub fn GroupPage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let fingerprint = move || params.read().get("fingerprint").unwrap_or_default();
    let cursor = move || query.read().get("before");
    let group = Resource::new(fingerprint, api::error_group);
    let occurrences = Resource::new(
        move || (fingerprint(), cursor()),
        |(fp, cursor)| api::occurrences(fp, cursor),
    );
    view! {
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match group.await {
                    Ok(Some(g)) => {
                        let fingerprint = g.fingerprint.clone();
                        let fix_fingerprint = g.fingerprint.clone();
                        view! {
                            <GroupHeader group=g />
                            <GroupTaskPanel fingerprint />
                            <GroupFixPanel fingerprint=fix_fingerprint />
                        }
                            .into_any()
                    }
                    Ok(None) => view! {
                        <h1>"Unknown error group"</h1>
                        <p>"No group has this fingerprint. " <a href="/">"Back to System Health"</a></p>
                    }.into_any(),
                    Err(e) => view! { <p class="error">{e.to_string()}</p> }.into_any(),
                }
            })}
        </Suspense>
        <h2>"Occurrences"</h2>
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match occurrences.await {
                    Ok(page) => {
                        let next = page
                            .next_cursor
                            .map(|c| format!("/errors/{}?before={c}", fingerprint()));
                        view! {
                            <OccurrenceTable items=page.items />
                            {next.map(|href| view! { <a class="more" href=href>"Older occurrences →"</a> })}
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
fn GroupHeader(group: Group) -> impl IntoView {
    view! {
        <p class="crumbs"><a href="/">"System Health"</a>" / error group"</p>
        <h1 class="template">{group.template}</h1>
        <dl class="facts">
            <dt>"Fingerprint"</dt><dd><code>{group.fingerprint}</code></dd>
            <dt>"Type"</dt><dd>{group.error_type.unwrap_or_else(|| "—".into())}</dd>
            <dt>"Level"</dt><dd>{level_badge(group.level)}</dd>
            <dt>"Category"</dt><dd>{group.category.as_str()}</dd>
            <dt>"Severity"</dt><dd>{group.severity.as_str()}</dd>
            <dt>"Fixable"</dt><dd>{if group.fixable { "yes" } else { "no (validation or internal error)" }}</dd>
            <dt>"Service"</dt><dd>{group.service.unwrap_or_default()}</dd>
            <dt>"Occurrences"</dt><dd data-testid="occurrence-count">{group.occurrences}</dd>
            <dt>"First seen"</dt><dd>{when(group.first_seen)}</dd>
            <dt>"Last seen"</dt><dd>{when(group.last_seen)}</dd>
            <dt>"Status"</dt>
            <dd data-testid="group-status">
                <span class=format!("badge status-{}", group.status.as_str())>{group.status.as_str()}</span>
            </dd>
        </dl>
        <h3>"Latest message"</h3>
        <pre class="sample">{group.sample_message}</pre>
        {group.stack_trace.map(|t| view! { <h3>"Stack trace"</h3><pre class="trace">{t}</pre> })}
    }
}

#[component]
fn OccurrenceTable(items: Vec<Occurrence>) -> impl IntoView {
    view! {
        <div class="table-scroll">
        <table class="occurrences">
            <thead>
                <tr>
                    <th>"Time"</th>
                    <th>"Level"</th>
                    <th>"Service"</th>
                    <th>"Deployment"</th>
                    <th>"Message"</th>
                </tr>
            </thead>
            <tbody>
                {items
                    .into_iter()
                    .map(|o| view! {
                        <tr class="occurrence">
                            <td>{when(o.timestamp)}</td>
                            <td>{level_badge(o.level)}</td>
                            <td>{o.service.unwrap_or_default()}</td>
                            <td>{o.deployment.unwrap_or_default()}</td>
                            <td class="message">{o.message}</td>
                        </tr>
                    })
                    .collect_view()}
            </tbody>
        </table>
        </div>
    }
}

/// `/grouping`: the custom grouping rules in force.
#[component]
pub fn Grouping() -> impl IntoView {
    let rules = Resource::new(|| (), |_| api::grouping_rules());
    view! {
        <h1>"Grouping rules"</h1>
        <p class="muted">
            "Errors are grouped by exception type and in-app stack frames, else by their normalized message. "
            "These rules (from " <code>"GROUPING_RULES"</code> ") override that; the first match wins."
        </p>
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match rules.await {
                    Ok(list) if list.is_empty() => view! {
                        <p class="empty">"No custom rules. Example: "
                            <code>{r#"GROUPING_RULES='[{"name":"db down","message":"could not connect","fingerprint":"database-unreachable"}]'"#}</code>
                        </p>
                    }.into_any(),
                    Ok(list) => view! { <RuleTable rules=list /> }.into_any(),
                    Err(e) => view! { <p class="error">{e.to_string()}</p> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn RuleTable(rules: Vec<signalbox::model::RuleView>) -> impl IntoView {
    use signalbox::model::RuleAction;
    view! {
        <table class="rules">
            <thead>
                <tr><th>"Rule"</th><th>"Matches"</th><th>"Action"</th></tr>
            </thead>
            <tbody>
                {rules
                    .into_iter()
                    .map(|r| {
                        let matches = r
                            .matches
                            .iter()
                            .map(|(field, pattern)| format!("{field} ~ /{pattern}/"))
                            .collect::<Vec<_>>()
                            .join(", ");
                        let action = match r.action {
                            RuleAction::Fingerprint(key) => format!("merge into one group “{key}”"),
                            RuleAction::SplitBy(field) => format!("split by {field:?}").to_lowercase(),
                        };
                        view! {
                            <tr class="rule">
                                <td>{r.name}</td>
                                <td class="template">{matches}</td>
                                <td>{action}</td>
                            </tr>
                        }
                    })
                    .collect_view()}
            </tbody>
        </table>
    }
}

/// Any other path.
#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    {
        if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
            response.set_status(http::StatusCode::NOT_FOUND);
        }
    }
    view! {
        <h1>"Not found"</h1>
        <p><a href="/">"Back to System Health"</a></p>
    }
}
